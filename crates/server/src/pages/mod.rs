//! Server-rendered web pages (maud). Vietnamese by default, English via `/lang/en`; dates
//! dd/mm/yyyy; no inline script; every page works without JavaScript.

pub mod admin;
pub mod auth_pages;
pub mod cases;
pub mod certificates;
pub mod coverage;
pub mod epidemic_rt;
pub mod followup;
pub mod home;
pub mod layout;
pub mod levels;
pub mod linkage;
pub mod outbreaks;
pub mod person;
pub mod persons;
pub mod sections;
pub mod transmission_graph;
pub mod vaccination_record;

pub use auth_pages::CsrfForm;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::auth::{Access, Permission};
use maud::html;
use serde::Deserialize;

use crate::AppState;
use crate::authz::{RouteSpec, SecuredRouter, Surface};
use crate::error::status_of;
use crate::i18n::Lang;

/// The page routes and their rules.
pub fn routes() -> (Router<AppState>, Vec<RouteSpec>) {
    use Access::*;
    use Method as M;
    let mut r = SecuredRouter::new("", Surface::Page)
        .route(M::GET, "/", Public, get(home::page))
        .route(M::GET, "/lang/{code}", Public, get(switch_lang))
        .route(M::GET, "/login", Public, get(auth_pages::login_page))
        .route(M::POST, "/login", Public, post(auth_pages::login_submit))
        .route(M::POST, "/logout", Authenticated, post(auth_pages::logout))
        .route(
            M::GET,
            "/account/password",
            Authenticated,
            get(auth_pages::password_form),
        )
        .route(
            M::POST,
            "/account/password",
            Authenticated,
            post(auth_pages::password_submit),
        )
        .route(
            M::GET,
            "/persons",
            Requires(Permission::ListPersons),
            get(persons::page),
        )
        .route(
            M::GET,
            "/persons/{id}",
            Requires(Permission::ReadPerson),
            get(person::page),
        )
        .route(
            M::GET,
            "/linkage/review",
            Requires(Permission::ReviewLinks),
            get(linkage::queue),
        )
        .route(
            M::GET,
            "/linkage/records/{id}",
            Requires(Permission::ReviewLinks),
            get(linkage::record),
        )
        .route(
            M::POST,
            "/linkage/records/{id}/decision",
            Requires(Permission::ReviewLinks),
            post(linkage::decide),
        )
        .route(
            M::POST,
            "/persons/{id}/merge",
            Requires(Permission::ReviewLinks),
            post(linkage::merge),
        )
        .route(
            M::POST,
            "/persons/{id}/merges/{merge_id}/undo",
            Requires(Permission::ReviewLinks),
            post(linkage::undo),
        )
        .route(
            M::GET,
            "/admin",
            Requires(Permission::ManageUsers),
            get(admin::index),
        )
        .route(
            M::GET,
            "/admin/users",
            Requires(Permission::ManageUsers),
            get(admin::users),
        )
        .route(
            M::POST,
            "/admin/users",
            Requires(Permission::ManageUsers),
            post(admin::create_user),
        )
        .route(
            M::POST,
            "/admin/users/{id}/disable",
            Requires(Permission::ManageUsers),
            post(admin::disable_user),
        )
        .route(
            M::POST,
            "/admin/users/{id}/enable",
            Requires(Permission::ManageUsers),
            post(admin::enable_user),
        )
        .route(
            M::GET,
            "/admin/audit",
            Requires(Permission::ReadAudit),
            get(admin::audit),
        );
    r = r
        .route(M::GET, "/vaccination", Public, get(coverage::landing))
        .route(
            M::GET,
            "/vaccination/coverage",
            Requires(Permission::ViewCoverage),
            get(coverage::coverage_page),
        )
        .route(
            M::GET,
            "/vaccination/allocation",
            Requires(Permission::PlanAllocation),
            get(coverage::allocation_page),
        );
    r = r
        .route(
            M::GET,
            "/vaccination/record",
            Requires(Permission::RecordDoses),
            get(vaccination_record::find),
        )
        .route(
            M::GET,
            "/vaccination/record/{id}",
            Requires(Permission::RecordDoses),
            get(vaccination_record::record_page),
        )
        .route(
            M::POST,
            "/vaccination/record/{id}",
            Requires(Permission::RecordDoses),
            post(vaccination_record::record_submit),
        );
    r = r
        .route(
            M::GET,
            "/vaccination/followup",
            Requires(Permission::ManageFollowUp),
            get(followup::page),
        )
        .route(
            M::POST,
            "/vaccination/followup/{id}",
            Requires(Permission::ManageFollowUp),
            post(followup::set_reason),
        )
        .route(
            M::GET,
            "/vaccination/followup.xlsx",
            Requires(Permission::ManageFollowUp),
            get(followup::xlsx),
        );
    r = r
        .route(
            M::GET,
            "/certificates/verify",
            Requires(Permission::VerifyCertificates),
            get(certificates::verify_page),
        )
        .route(
            M::POST,
            "/certificates/verify",
            Requires(Permission::VerifyCertificates),
            // Photos of QR codes are larger than the default body limit.
            post(certificates::verify_submit).layer(axum::extract::DefaultBodyLimit::max(
                certificates::MAX_UPLOAD_BYTES + 64 * 1024,
            )),
        )
        .route(
            M::GET,
            "/certificates",
            Requires(Permission::ApproveCertificates),
            get(certificates::page),
        )
        .route(
            M::GET,
            "/my/certificates",
            Authenticated,
            get(certificates::my_page),
        )
        .route(
            M::POST,
            "/certificates/request",
            Requires(Permission::ApproveCertificates),
            post(certificates::request_submit),
        )
        .route(
            M::POST,
            "/certificates/{id}/approve",
            Requires(Permission::ApproveCertificates),
            post(certificates::approve_submit),
        )
        .route(
            M::POST,
            "/certificates/{id}/sign",
            Requires(Permission::SignCertificates),
            post(certificates::sign_submit),
        );
    r = r
        .route(M::GET, "/cases", Authenticated, get(cases::landing))
        .route(
            M::GET,
            "/cases/list",
            Requires(Permission::ManageCases),
            get(cases::list_page),
        )
        .route(
            M::GET,
            "/cases/alerts",
            Requires(Permission::ManageCases),
            get(cases::alerts::page),
        )
        .route(
            M::GET,
            "/cases/tests/new",
            Requires(Permission::RecordTests),
            get(cases::tests_form::new_page),
        )
        .route(
            M::POST,
            "/cases/tests/new",
            Requires(Permission::RecordTests),
            post(cases::tests_form::submit),
        )
        .route(
            M::GET,
            "/cases/{id}",
            Requires(Permission::ManageCases),
            get(cases::detail::page),
        )
        .route(
            M::POST,
            "/cases/{id}/checkin",
            Requires(Permission::ManageCases),
            post(cases::detail::checkin_submit),
        )
        .route(
            M::POST,
            "/cases/{id}/edit",
            Requires(Permission::ManageCases),
            post(cases::detail::edit_submit),
        )
        .route(
            M::POST,
            "/cases/{id}/discharge",
            Requires(Permission::ManageCases),
            post(cases::detail::discharge_submit),
        )
        .route(
            M::GET,
            "/reports",
            Authenticated,
            get(cases::reports::landing),
        )
        .route(
            M::GET,
            "/reports/daily",
            Requires(Permission::ViewSurveillance),
            get(cases::reports::daily_page),
        )
        .route(
            M::POST,
            "/reports/daily",
            Requires(Permission::SubmitDailyReport),
            post(cases::reports::submit),
        )
        .route(
            M::GET,
            "/my/checkin",
            Requires(Permission::SelfReport),
            get(cases::citizen::page),
        )
        .route(
            M::POST,
            "/my/checkin",
            Requires(Permission::SelfReport),
            post(cases::citizen::submit),
        );
    r = outbreaks::routes(r);
    r = epidemic_rt::routes(r);
    r = levels::routes(r);
    for path in sections::planned_paths() {
        r = r.route(M::GET, path, Public, sections::handler(path));
    }
    r.into_parts()
}

/// A page-level error rendered as HTML inside the layout.
pub struct PageError {
    pub error: domain::Error,
    pub lang: Lang,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = status_of(self.error.code);
        let mut error = self.error;
        if status.is_server_error() {
            tracing::warn!(code = error.code.as_str(), message = %error.message_en, "page failed");
            if error.code == domain::ErrorCode::StorageUnavailable {
                error = domain::Error::new(
                    domain::ErrorCode::StorageUnavailable,
                    "Cơ sở dữ liệu tạm thời không truy cập được, vui lòng thử lại sau",
                    "The database is temporarily unavailable, please retry later",
                );
            }
        }
        let l = self.lang;
        let body = layout::page(
            l,
            None,
            l.t("Lỗi", "Error"),
            html! {
                h1 { (l.t("Không thực hiện được yêu cầu", "The request could not be completed")) }
                p.error { (error.message(l == Lang::En)) }
                p { a href="/" { (l.t("Về trang chủ", "Back to the home page")) } }
            },
        );
        (status, body).into_response()
    }
}

pub async fn not_found(headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    if headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
    {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"error": {"code": "not_found", "message": "Không tìm thấy trang", "details": null}})),
        )
            .into_response();
    }
    PageError {
        error: domain::Error::not_found("trang", "Page"),
        lang,
    }
    .into_response()
}

/// A path on this site to redirect to, or `/`. Only visible ASCII is allowed (no whitespace or
/// control characters that browsers strip, no backslash), it must start with one `/`.
pub fn safe_local_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'\\') =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// `/lang/{vi|en}?next=/path`: remembers the language in a cookie and goes back.
async fn switch_lang(Path(code): Path<String>, Query(q): Query<NextQuery>) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    let next = safe_local_path(q.next.as_deref());
    (
        [(
            header::SET_COOKIE,
            format!(
                "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
                lang.code()
            ),
        )],
        Redirect::to(&next),
    )
        .into_response()
}
