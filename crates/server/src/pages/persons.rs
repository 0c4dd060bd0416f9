//! `/persons?version=…&unit=…[&q=…][&page=N]` — the persons of a unit (any level, either
//! hierarchy) with diacritic-insensitive search; citizen IDs and phones masked.

use axum::extract::{Query, State};
use domain::units::{Unit, UnitVersion};
use maud::{Markup, html};
use serde::Deserialize;

use super::PageError;
use super::layout::page_for as layout;
use crate::AppState;
use crate::api::persons::{ListQuery, person_query};
use crate::auth::Caller;
use crate::i18n::{Lang, date_vn, int_vn};

const PAGE_SIZE: u32 = 50;

#[derive(Debug, Deserialize)]
pub struct PersonsPageQuery {
    pub version: Option<String>,
    pub unit: Option<String>,
    pub q: Option<String>,
    pub page: Option<u64>,
}

pub async fn page(
    State(state): State<AppState>,
    Caller(caller): Caller,
    lang: Lang,
    Query(pq): Query<PersonsPageQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let page_no = pq.page.unwrap_or(1).max(1);
    let version = UnitVersion::parse(pq.version.as_deref().unwrap_or("2025")).map_err(err)?;
    let query = person_query(
        &state,
        &caller,
        ListQuery {
            unit: pq.unit.clone(),
            version: Some(version.as_str().to_string()),
            q: pq.q.clone(),
            limit: Some(PAGE_SIZE),
            offset: Some((page_no - 1) * u64::from(PAGE_SIZE)),
        },
    )
    .map_err(err)?;
    let result = state.store.list_persons(&query).await.map_err(err)?;
    let h = state.units.hierarchy(version);
    let unit_code = pq.unit.clone().unwrap_or_default();
    let unit = h.require(&unit_code).map_err(err)?;
    let mut trail: Vec<&Unit> = vec![unit];
    while let Some(parent) = trail.last().and_then(|u| u.parent_code.as_deref()) {
        match h.get(parent) {
            Some(p) => trail.push(p),
            None => break,
        }
    }
    trail.reverse();
    let link = |page_no: u64| {
        let mut s = format!("/persons?version={}&unit={}", version.as_str(), unit.code);
        if let Some(q) = pq.q.as_deref().filter(|q| !q.is_empty()) {
            s.push('&');
            s.push_str(&serde_urlencoded::to_string([("q", q)]).unwrap_or_default());
        }
        s.push_str(&format!("&page={page_no}"));
        s
    };
    let last_page = result.total.div_ceil(u64::from(PAGE_SIZE)).max(1);
    let title = format!(
        "{} — {}",
        lang.t("Sổ dân cư", "Population register"),
        unit.name
    );
    Ok(layout(
        lang,
        Some(&caller),
        None,
        &title,
        html! {
            nav.breadcrumb aria-label=(lang.t("Vị trí", "Location")) {
                a href={ "/?v=" (version.as_str()) } { (lang.t("Danh mục ", "List ")) (version.as_str()) }
                @for u in &trail {
                    " › "
                    a href={ "/persons?version=" (version.as_str()) "&unit=" (u.code) } { (u.name) }
                }
            }
            h1 { (unit.name) " " span.muted { "(" (lang.t("mã", "code")) " " (unit.code) ")" } }
            form.search method="get" action="/persons" {
                input type="hidden" name="version" value=(version.as_str());
                input type="hidden" name="unit" value=(unit.code);
                label {
                    (lang.t("Tìm theo tên (có hoặc không dấu), số CCCD hoặc điện thoại", "Search by name (with or without diacritics), citizen ID or phone"))
                    input type="search" name="q" value=[pq.q.as_deref()] placeholder=(lang.t("vd. nguyen van", "e.g. nguyen van"));
                }
                " "
                button type="submit" { (lang.t("Tìm", "Search")) }
            }
            p.muted id="persons-total" { (int_vn(result.total)) " " (lang.t("người", "persons")) }
            (table(lang, &state, &result.items))
            @if last_page > 1 {
                nav.pager {
                    @if page_no > 1 { a href=(link(page_no - 1)) rel="prev" { "‹ " (lang.t("Trước", "Previous")) } }
                    span { (lang.t("Trang", "Page")) " " (page_no) "/" (last_page) }
                    @if page_no < last_page { a href=(link(page_no + 1)) rel="next" { (lang.t("Sau", "Next")) " ›" } }
                }
            }
        },
    ))
}

fn table(lang: Lang, state: &AppState, items: &[domain::person::Person]) -> Markup {
    html! {
        table id="persons" {
            thead { tr {
                th { (lang.t("Họ và tên", "Full name")) }
                th { (lang.t("Ngày sinh", "Date of birth")) }
                th { (lang.t("Giới tính", "Sex")) }
                th { (lang.t("Số CCCD", "Citizen ID")) }
                th { (lang.t("Điện thoại", "Phone")) }
                th { (lang.t("Xã/phường (2025)", "Commune (2025)")) }
            } }
            tbody {
                @for p in items {
                    tr {
                        td { a href={ "/persons/" (p.id) } { (p.full_name) } }
                        td { (date_vn(p.dob)) }
                        td { (match p.sex { domain::person::Sex::Male => lang.t("Nam", "Male"), domain::person::Sex::Female => lang.t("Nữ", "Female") }) }
                        td { (p.national_id.as_ref().map(|n| n.masked()).unwrap_or_default()) }
                        td { (p.phone.as_ref().map(|n| n.masked()).unwrap_or_default()) }
                        td { (state.units.v2025.get(&p.commune_code).map(|u| u.name.as_str()).unwrap_or(&p.commune_code)) }
                    }
                }
                @if items.is_empty() {
                    tr { td colspan="6" { (lang.t("Không có người nào.", "No persons.")) } }
                }
            }
        }
    }
}
