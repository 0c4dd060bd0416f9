//! Door-to-door follow-up pages (issue 5, point 5):
//!
//! - `/vaccination/followup?unit=&hierarchy=&as_of=&only_unvaccinated=&offset=`: the printable
//!   list of a unit's residents not vaccinated or overdue for their next dose, with the count of
//!   "not vaccinated without a known reason" at the top and, on each row, a small form to record
//!   the reason (hidden when printed, with the site header). Without `unit`, the caller's own.
//! - `POST /vaccination/followup/{id}`: that form (CSRF-checked), back to the list.
//! - `/vaccination/followup.xlsx?unit=&hierarchy=&as_of=&only_unvaccinated=`: the whole list as a
//!   spreadsheet with Vietnamese headers ([`workbook`], also used by `phongdich followup`).
//!
//! Reads are audited like the API's (`followup.view`): phones are shown in full to staff who may
//! read the persons.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use domain::person::Person;
use intake::followup::{self, FollowUpFilters, FollowUpList};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use store::FollowUpReason;

use super::PageError;
use super::auth_pages::{CsrfForm, HasCsrf};
use super::layout::page_for;
use crate::AppState;
use crate::api::followup::{audit_view, flag, record_reason, scoped_params};
use crate::auth::{Caller, ClientIp, Principal};
use crate::authz;
use crate::i18n::{Lang, date_vn, int_vn};

/// Rows per printed page.
pub const PAGE_ROWS: u32 = 200;

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_unvaccinated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl ListParams {
    /// The caller's own unit when none was asked for.
    fn or_own_unit(mut self, p: &Principal) -> Self {
        if self.unit.as_deref().is_none_or(|u| u.trim().is_empty())
            && let Some(u) = &p.user.scope.unit
        {
            self.unit = Some(u.code.clone());
            self.hierarchy = Some(u.version.as_str().to_string());
        }
        self
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{path}?{}",
            serde_urlencoded::to_string(self).unwrap_or_default()
        )
    }
}

fn reason_label(lang: Lang, r: FollowUpReason) -> &'static str {
    match lang {
        Lang::Vi => r.label_vi(),
        Lang::En => match r {
            FollowUpReason::Contraindicated => "Contraindicated",
            FollowUpReason::MovedAway => "Moved away",
            FollowUpReason::Refused => "Refused",
            FollowUpReason::Unreachable => "Unreachable",
            FollowUpReason::Unknown => "Unknown",
        },
    }
}

/// The phone as this caller may see it.
fn phone_for(state: &AppState, p: &Principal, person: &Person) -> Option<String> {
    let full = authz::may_read_person(state.units, p, person);
    person.phone.as_ref().map(|n| {
        if full {
            n.as_str().to_string()
        } else {
            n.masked()
        }
    })
}

fn picker(lang: Lang, q: &ListParams) -> Markup {
    html! {
        form.no-print.filters method="get" action="/vaccination/followup" {
            label { (lang.t("Mã đơn vị", "Unit code")) " "
                input name="unit" value=[q.unit.as_deref()] required size="8"; }
            " "
            label { (lang.t("Danh mục", "Hierarchy")) " "
                select name="hierarchy" {
                    option value="2025" selected[q.hierarchy.as_deref() != Some("pre2025")] { (lang.t("Sau sáp nhập 2025", "2025")) }
                    option value="pre2025" selected[q.hierarchy.as_deref() == Some("pre2025")] { (lang.t("Trước 2025", "Pre-2025")) }
                }
            }
            " "
            label { (lang.t("Tính đến ngày", "As of")) " "
                input name="as_of" value=[q.as_of.as_deref()] placeholder="dd/mm/yyyy" size="10"; }
            " "
            label { input type="checkbox" name="only_unvaccinated" value="true"
                    checked[flag(q.only_unvaccinated.as_deref()).unwrap_or(false)];
                " " (lang.t("Chỉ người chưa tiêm", "Only not vaccinated")) }
            " "
            button type="submit" { (lang.t("Xem", "Show")) }
        }
    }
}

fn reason_form(lang: Lang, p: &Principal, q: &ListParams, e: &followup::FollowUpEntry) -> Markup {
    let current = e.reason.as_ref().map(|r| r.reason);
    html! {
        form.no-print.reason method="post" action={ "/vaccination/followup/" (e.person.id) } {
            input type="hidden" name="csrf" value=[p.csrf()];
            @for (k, v) in [("unit", &q.unit), ("hierarchy", &q.hierarchy), ("as_of", &q.as_of), ("only_unvaccinated", &q.only_unvaccinated)] {
                @if let Some(v) = v { input type="hidden" name=(k) value=(v); }
            }
            @if let Some(o) = q.offset { input type="hidden" name="offset" value=(o); }
            select name="reason" aria-label=(lang.t("Lý do", "Reason")) {
                @for r in FollowUpReason::ALL {
                    option value=(r.as_str()) selected[current == Some(r)] { (reason_label(lang, r)) }
                }
            }
            " "
            input name="note" size="14" maxlength="500" placeholder=(lang.t("Ghi chú", "Note"))
                aria-label=(lang.t("Ghi chú", "Note"))
                value=[e.reason.as_ref().map(|r| r.note.as_str())];
            " "
            button type="submit" { (lang.t("Lưu", "Save")) }
        }
    }
}

fn list_markup(
    state: &AppState,
    p: &Principal,
    lang: Lang,
    q: &ListParams,
    list: &FollowUpList,
) -> Markup {
    let en = lang == Lang::En;
    let offset = list.offset;
    let shown_to = offset + list.entries.len() as u64;
    html! {
        h1 { (lang.t("Danh sách tiêm vét", "Door-to-door follow-up list")) ": " (list.unit.name) " (" (list.unit.code) ")" }
        p.muted {
            (lang.t("Tính đến ngày", "As of")) " " (date_vn(list.as_of)) ". "
            (lang.t("Người từ", "Residents aged")) " " (list.min_age_years) " "
            (lang.t("tuổi trở lên chưa tiêm hoặc quá hạn mũi tiếp theo hơn", "or older not vaccinated or overdue for their next dose by more than"))
            " " (list.overdue_grace_days) " " (lang.t("ngày", "days")) " ("
            (lang.t("bộ quy tắc", "rule set")) " " (list.ruleset) ")."
        }
        p.headline #unexplained {
            (lang.t("Chưa tiêm, chưa rõ lý do", "Not vaccinated, no known reason")) ": "
            strong data-count="not_vaccinated_without_known_reason" { (int_vn(list.counts.not_vaccinated_without_known_reason)) }
        }
        p #counts {
            (lang.t("Chưa tiêm", "Not vaccinated")) ": " strong data-count="not_vaccinated" { (int_vn(list.counts.not_vaccinated)) }
            " · " (lang.t("Quá hạn mũi tiếp theo", "Overdue for the next dose")) ": " strong data-count="overdue" { (int_vn(list.counts.overdue)) }
        }
        p.no-print {
            a href=(q.url("/vaccination/followup.xlsx")) download { (lang.t("Tải về Excel (XLSX)", "Download Excel (XLSX)")) }
        }
        @if list.entries.is_empty() {
            p.muted #empty { (lang.t("Không có ai trong danh sách.", "Nobody on the list.")) }
        } @else {
            table #followup.followup {
                thead { tr {
                    th { (lang.t("STT", "#")) }
                    th { (lang.t("Họ tên", "Name")) }
                    th { (lang.t("Ngày sinh", "Born")) }
                    th { (lang.t("Tuổi", "Age")) }
                    th { (lang.t("Địa chỉ / xã", "Address / commune")) }
                    th { (lang.t("Điện thoại", "Phone")) }
                    th { (lang.t("Tình trạng", "State")) }
                    th { (lang.t("Ngày đến hạn", "Due date")) }
                    th { (lang.t("Lý do", "Reason")) }
                }}
                tbody {
                    @for (i, e) in list.entries.iter().enumerate() {
                        @let (due, days) = followup::due_of(&e.state);
                        tr data-person=(e.person.id) {
                            td { (offset + i as u64 + 1) }
                            td { (e.person.full_name) }
                            td { (date_vn(e.person.dob)) }
                            td { (e.age) }
                            td {
                                @if let Some(a) = &e.address { (a) br; }
                                span.muted { (e.person.commune_code)
                                    @if let Some(old) = &e.person.old_commune_code { " (" (old) ")" } }
                            }
                            td { (phone_for(state, p, &e.person).unwrap_or_default()) }
                            td.state { (followup::state_label(&e.state, en)) }
                            td {
                                @if let Some(d) = due { (date_vn(d)) }
                                @if let Some(n) = days { br; span.muted { (n) " " (lang.t("ngày quá hạn", "days overdue")) } }
                            }
                            td.reason-cell {
                                span.reason-now { (reason_label(lang, e.reason_or_unknown())) }
                                @if let Some(n) = e.reason.as_ref().filter(|r| !r.note.is_empty()) {
                                    br; span.muted { (n.note) }
                                }
                                (reason_form(lang, p, q, e))
                            }
                        }
                    }
                }
            }
            p.muted {
                (offset + 1) "–" (shown_to) " / " (int_vn(list.total))
            }
            nav.pager.no-print {
                @if offset > 0 {
                    a rel="prev" href=(ListParams { offset: Some(offset.saturating_sub(u64::from(PAGE_ROWS))), ..q.clone() }.url("/vaccination/followup")) { "‹ " (lang.t("Trang trước", "Previous")) }
                    " "
                }
                @if shown_to < list.total {
                    a rel="next" href=(ListParams { offset: Some(shown_to), ..q.clone() }.url("/vaccination/followup")) { (lang.t("Trang sau", "Next")) " ›" }
                }
            }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Query(q): Query<ListParams>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let q = q.or_own_unit(&p);
    let title = lang.t("Danh sách tiêm vét", "Follow-up list");
    if q.unit.as_deref().is_none_or(|u| u.trim().is_empty()) {
        return Ok(page_for(
            lang,
            Some(&p),
            Some("/vaccination"),
            title,
            html! {
                h1 { (title) }
                p { (lang.t("Chọn đơn vị (xã, huyện hoặc tỉnh).", "Pick a unit (commune, district or province).")) }
                (picker(lang, &q))
            },
        ));
    }
    let (unit, as_of) = scoped_params(
        &state,
        &p,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
        q.as_of.as_deref(),
    )
    .map_err(err)?;
    let filters = FollowUpFilters {
        only_unvaccinated: flag(q.only_unvaccinated.as_deref()).map_err(err)?,
    };
    let list = followup::follow_up_list(
        state.store.as_ref(),
        &unit,
        as_of,
        filters,
        PAGE_ROWS,
        q.offset.unwrap_or(0),
    )
    .await
    .map_err(err)?;
    audit_view(&state, &p, &ip, &list, "page")
        .await
        .map_err(err)?;
    Ok(page_for(
        lang,
        Some(&p),
        Some("/vaccination"),
        title,
        html! {
            (picker(lang, &q))
            (list_markup(&state, &p, lang, &q, &list))
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct ReasonForm {
    pub csrf: String,
    pub reason: String,
    #[serde(default)]
    pub note: String,
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub as_of: Option<String>,
    pub only_unvaccinated: Option<String>,
    pub offset: Option<u64>,
}

impl HasCsrf for ReasonForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn set_reason(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<ReasonForm>,
) -> Result<Redirect, PageError> {
    record_reason(&state, &p, &ip, &id, &f.reason, &f.note)
        .await
        .map_err(|error| PageError { error, lang })?;
    let back = ListParams {
        unit: f.unit,
        hierarchy: f.hierarchy,
        as_of: f.as_of,
        only_unvaccinated: f.only_unvaccinated,
        offset: f.offset,
    };
    Ok(Redirect::to(&format!(
        "{}#{}",
        back.url("/vaccination/followup"),
        "followup"
    )))
}

/// Column headers of the spreadsheet.
pub const XLSX_HEADERS: [&str; 15] = [
    "STT",
    "Họ và tên",
    "Ngày sinh",
    "Tuổi",
    "Giới tính",
    "Địa chỉ",
    "Mã xã (2025)",
    "Mã xã (trước 2025)",
    "Điện thoại",
    "Số mũi đã tiêm",
    "Tình trạng",
    "Ngày đến hạn",
    "Số ngày quá hạn",
    "Lý do",
    "Ghi chú",
];

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> domain::Error {
    tracing::warn!(error = %e, "follow-up spreadsheet failed");
    domain::Error::internal()
}

/// The whole list as an XLSX workbook: sheet «Danh sách» (one row per resident, Vietnamese
/// headers, dates dd/mm/yyyy) and sheet «Tổng hợp» (unit, date, counts). `phone` decides how
/// each phone is shown.
pub fn workbook(
    list: &FollowUpList,
    phone: &dyn Fn(&Person) -> Option<String>,
) -> Result<Vec<u8>, domain::Error> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = wb.add_worksheet();
    sheet.set_name("Danh sách").map_err(xlsx_err)?;
    for (c, h) in XLSX_HEADERS.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *h, &bold)
            .map_err(xlsx_err)?;
    }
    for (i, e) in list.entries.iter().enumerate() {
        let r = i as u32 + 1;
        let (due, days) = followup::due_of(&e.state);
        let text = [
            (1, e.person.full_name.clone()),
            (2, date_vn(e.person.dob)),
            (4, e.person.sex.label_vi().to_string()),
            (5, e.address.clone().unwrap_or_default()),
            (6, e.person.commune_code.clone()),
            (7, e.person.old_commune_code.clone().unwrap_or_default()),
            (8, phone(&e.person).unwrap_or_default()),
            (10, followup::state_label(&e.state, false)),
            (11, due.map(date_vn).unwrap_or_default()),
            (13, e.reason_or_unknown().label_vi().to_string()),
            (
                14,
                e.reason
                    .as_ref()
                    .map(|n| n.note.clone())
                    .unwrap_or_default(),
            ),
        ];
        sheet
            .write_number(r, 0, f64::from(r + list.offset as u32))
            .map_err(xlsx_err)?;
        sheet
            .write_number(r, 3, f64::from(e.age))
            .map_err(xlsx_err)?;
        sheet
            .write_number(r, 9, f64::from(e.doses))
            .map_err(xlsx_err)?;
        if let Some(n) = days {
            sheet.write_number(r, 12, n as f64).map_err(xlsx_err)?;
        }
        for (c, v) in text {
            if !v.is_empty() {
                sheet.write_string(r, c, v).map_err(xlsx_err)?;
            }
        }
    }
    for (c, w) in [
        (0u16, 6.0),
        (1, 26.0),
        (2, 12.0),
        (5, 32.0),
        (8, 14.0),
        (10, 22.0),
        (13, 20.0),
        (14, 30.0),
    ] {
        sheet.set_column_width(c, w).map_err(xlsx_err)?;
    }
    let summary = wb.add_worksheet();
    summary.set_name("Tổng hợp").map_err(xlsx_err)?;
    let rows: [(&str, String); 8] = [
        ("Đơn vị", format!("{} ({})", list.unit.name, list.unit.code)),
        ("Danh mục", list.unit.hierarchy.as_str().to_string()),
        ("Tính đến ngày", date_vn(list.as_of)),
        ("Bộ quy tắc", list.ruleset.clone()),
        ("Chưa tiêm", list.counts.not_vaccinated.to_string()),
        ("Quá hạn mũi tiếp theo", list.counts.overdue.to_string()),
        (
            "Chưa tiêm, chưa rõ lý do",
            list.counts.not_vaccinated_without_known_reason.to_string(),
        ),
        ("Số người trong danh sách", list.entries.len().to_string()),
    ];
    for (i, (k, v)) in rows.iter().enumerate() {
        summary
            .write_string_with_format(i as u32, 0, *k, &bold)
            .map_err(xlsx_err)?;
        summary
            .write_string(i as u32, 1, v.as_str())
            .map_err(xlsx_err)?;
    }
    summary.set_column_width(0, 28.0).map_err(xlsx_err)?;
    summary.set_column_width(1, 36.0).map_err(xlsx_err)?;
    wb.save_to_buffer().map_err(xlsx_err)
}

/// The file name of a unit's export: `tiem-vet-<unit>-<yyyy-mm-dd>.xlsx`.
pub fn file_name(list: &FollowUpList) -> String {
    format!("tiem-vet-{}-{}.xlsx", list.unit.code, list.as_of)
}

pub async fn xlsx(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Query(q): Query<ListParams>,
) -> Result<Response, PageError> {
    let err = |error| PageError { error, lang };
    let q = q.or_own_unit(&p);
    if q.unit.as_deref().is_none_or(|u| u.trim().is_empty()) {
        // No unit asked for and none of one's own: pick one on the list page first.
        return Ok(Redirect::to("/vaccination/followup").into_response());
    }
    let (unit, as_of) = scoped_params(
        &state,
        &p,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
        q.as_of.as_deref(),
    )
    .map_err(err)?;
    let filters = FollowUpFilters {
        only_unvaccinated: flag(q.only_unvaccinated.as_deref()).map_err(err)?,
    };
    let list = followup::follow_up_all(state.store.as_ref(), &unit, as_of, filters)
        .await
        .map_err(err)?;
    audit_view(&state, &p, &ip, &list, "xlsx")
        .await
        .map_err(err)?;
    let bytes = workbook(&list, &|person| phone_for(&state, &p, person)).map_err(err)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file_name(&list)),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}
