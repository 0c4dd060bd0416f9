//! Outbreak response pages, over the same functions as the API ([`crate::api::outbreaks`]):
//!
//! - `/cases/clusters` ([`clusters`]): the unit's clusters with badges (unusual, sequencing,
//!   zoning), end dates, the share of unusual clusters sampled for sequencing against the 100%
//!   target, and a form to open a cluster; `/cases/clusters/{id}`: members, place, the zoning
//!   and sequencing forms, adding and removing cases, the chain of transmission inline (SVG).
//! - `/cases/{id}/contacts` ([`contacts`]): a case's contacts with their quarantine, the
//!   add-contact form, a status form per contact and the chain around the case.
//! - `/cases/sampling` ([`sampling`]): sampling sessions and their single and pooled samples,
//!   forms to add a session and a sample; `/cases/lab`: a lab's queue with waiting hours,
//!   receive and result buttons, and the turnaround per lab.
//! - `/cases/border` ([`border`]): declarations of the period, the declared share against the
//!   > 95% target (red/green badge), per gate, and forms to add a declaration and a gate count.
//!
//! Every form is CSRF-checked and comes back to its page with a banner; a refused form shows
//! the reason on an error page. Pages work without JavaScript; dates are dd/mm/yyyy and times
//! Vietnamese time. Lists mask citizen IDs and phones.

pub mod border;
pub mod clusters;
pub mod contacts;
pub mod sampling;

use axum::http::Method;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use domain::auth::{Access, Permission, role_allows};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::authz::SecuredRouter;
use crate::i18n::Lang;

/// The section the pages belong to.
pub const SECTION: &str = "/cases";

/// Adds the outbreak pages to the page router.
pub fn routes(r: SecuredRouter) -> SecuredRouter {
    use Method as M;
    let manage = Access::Requires(Permission::ManageOutbreaks);
    let lab = Access::Requires(Permission::ProcessSamples);
    r.route(M::GET, "/cases/clusters", manage, get(clusters::list_page))
        .route(M::POST, "/cases/clusters", manage, post(clusters::create))
        .route(
            M::GET,
            "/cases/clusters/{id}",
            manage,
            get(clusters::detail_page),
        )
        .route(
            M::POST,
            "/cases/clusters/{id}",
            manage,
            post(clusters::update),
        )
        .route(
            M::POST,
            "/cases/clusters/{id}/cases",
            manage,
            post(clusters::members),
        )
        .route(M::GET, "/cases/{id}/contacts", manage, get(contacts::page))
        .route(M::POST, "/cases/{id}/contacts", manage, post(contacts::add))
        .route(
            M::POST,
            "/cases/{id}/contacts/{contact_id}",
            manage,
            post(contacts::update),
        )
        .route(M::GET, "/cases/sampling", manage, get(sampling::page))
        .route(
            M::POST,
            "/cases/sampling",
            manage,
            post(sampling::create_session),
        )
        .route(
            M::POST,
            "/cases/sampling/{id}/samples",
            manage,
            post(sampling::add_sample),
        )
        .route(M::GET, "/cases/lab", lab, get(sampling::lab_page))
        .route(
            M::POST,
            "/cases/lab/samples/{id}/receive",
            lab,
            post(sampling::receive),
        )
        .route(
            M::POST,
            "/cases/lab/samples/{id}/result",
            lab,
            post(sampling::result),
        )
        .route(M::GET, "/cases/border", manage, get(border::page))
        .route(
            M::POST,
            "/cases/border/declarations",
            manage,
            post(border::declare),
        )
        .route(M::POST, "/cases/border/counts", manage, post(border::count))
}

pub use super::cases::FormMap;

/// `?unit&hierarchy` of a list page (the caller's own unit when empty), with a banner code.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct UnitQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<String>,
}

/// A time in Vietnam, `dd/mm/yyyy HH:MM`.
pub fn time_vn(t: DateTime<Utc>) -> String {
    domain::vietnam_time::local_datetime(t)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// Hours with one decimal, Vietnamese style (`12,5`).
pub fn hours_vn(h: f64) -> String {
    format!("{h:.1}").replace('.', ",")
}

/// A percentage with one decimal, Vietnamese style (`96,4%`).
pub fn pct_vn(share: f64) -> String {
    format!("{:.1}%", share * 100.0).replace('.', ",")
}

/// The tools of the outbreak pages the caller may use.
pub fn nav(lang: Lang, p: &Principal, current: &str) -> Markup {
    let manage = role_allows(p.user.role, Permission::ManageOutbreaks);
    let lab = role_allows(p.user.role, Permission::ProcessSamples);
    let links: [(&str, &str, &str, bool); 4] = [
        ("/cases/clusters", "Ổ dịch", "Clusters", manage),
        ("/cases/sampling", "Lấy mẫu", "Sampling", manage),
        ("/cases/lab", "Phòng xét nghiệm", "Laboratory", lab),
        ("/cases/border", "Nhập cảnh", "Border entry", manage),
    ];
    html! {
        nav.breadcrumb aria-label=(lang.t("Phòng chống dịch", "Outbreak response")) {
            a href=(SECTION) { (lang.t("Ca bệnh", "Cases")) }
            @for (path, vi, en, ok) in links {
                @if ok {
                    " · "
                    @if path == current {
                        strong aria-current="page" { (lang.t(vi, en)) }
                    } @else {
                        a href=(path) { (lang.t(vi, en)) }
                    }
                }
            }
        }
    }
}

/// The unit picker of a list page.
pub fn unit_picker(lang: Lang, action: &str, q: &UnitQuery, extra: Markup) -> Markup {
    html! {
        form.unit-picker method="get" action=(action) {
            label { (lang.t("Mã đơn vị", "Unit code")) " "
                input type="text" name="unit" value=[q.unit.as_deref()] size="8"; }
            " "
            label { (lang.t("Danh mục", "Hierarchy")) " "
                select name="hierarchy" {
                    option value="" { (lang.t("Tự nhận", "Auto")) }
                    option value="2025" selected[q.hierarchy.as_deref() == Some("2025")] { "2025" }
                    option value="pre2025" selected[q.hierarchy.as_deref() == Some("pre2025")] { (lang.t("Trước 2025", "Pre-2025")) }
                }
            }
            " " (extra) " "
            button type="submit" { (lang.t("Xem", "Show")) }
        }
    }
}

/// A banner after a form: `done` codes → messages.
pub fn banner(
    lang: Lang,
    done: Option<&str>,
    messages: &[(&str, &'static str, &'static str)],
) -> Markup {
    let Some(code) = done else {
        return html! {};
    };
    match messages.iter().find(|(c, _, _)| *c == code) {
        Some((_, vi, en)) => html! { p.ok role="status" { (lang.t(vi, en)) } },
        None => html! {},
    }
}

/// The hidden CSRF field of a form.
pub fn csrf_field(p: &Principal) -> Markup {
    html! { input type="hidden" name="csrf" value=[p.csrf()]; }
}

/// "cần xác nhận" beside a number no official text confirms.
pub fn unverified(lang: Lang) -> Markup {
    html! { span.muted title=(lang.t("Ngưỡng mặc định chưa được văn bản chính thức xác nhận", "Default threshold not confirmed by an official text")) { " (" (lang.t("cần xác nhận", "needs confirmation")) ")" } }
}
