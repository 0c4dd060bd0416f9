//! Case pages (DOMAIN.md §8), over the same functions as the API ([`crate::api::cases`]):
//!
//! - `/cases`: the section's landing — its tools, and for staff managing cases the counts of
//!   their unit today and the top of its alert queue.
//! - `/cases/list?unit&hierarchy&status&from&to&offset`: the unit's cases with filters (phones
//!   masked, no citizen IDs).
//! - `/cases/{id}` ([`detail`]): the case record, its forms (staff edit, check-in, discharge).
//! - `/cases/alerts` ([`alerts`]): the commune station's alert queue.
//! - `/cases/tests/new` ([`tests_form`]): enter one test result.
//! - `/reports`, `/reports/daily` ([`reports`]): the daily report of a unit.
//! - `/my/checkin` ([`citizen`]): a citizen's own check-in, mobile first.
//!
//! Every page works without JavaScript; dates dd/mm/yyyy, times in Vietnamese time.

pub mod alerts;
pub mod citizen;
pub mod detail;
pub mod reports;
pub mod tests_form;

use std::collections::HashMap;

use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use domain::auth::{Permission, role_allows};
use domain::home_care::Reason;
use domain::surveillance::{
    AlertLevel, CareSetting, CaseStatus, Classification, DetectionSource, Outcome, Severity,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::PageError;
use super::auth_pages::HasCsrf;
use super::layout::page_for;
use crate::AppState;
use crate::api::cases::{
    AlertParams, CaseListItem, CaseListParams, alert_queue_for, list_cases_for, scoped_unit,
};
use crate::auth::{Caller, ClientIp, Principal};
use crate::i18n::{Lang, date_vn, int_vn};

/// The section path.
pub const SECTION: &str = "/cases";
/// Rows of a case list page.
pub const PAGE_ROWS: u32 = 100;

/// A form read as name → value (checkbox lists use one name per box), CSRF-checked by
/// [`super::CsrfForm`].
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct FormMap(pub HashMap<String, String>);

impl HasCsrf for FormMap {
    fn csrf(&self) -> &str {
        self.0.get("csrf").map(String::as_str).unwrap_or("")
    }
}

impl FormMap {
    /// The trimmed value (empty when absent).
    pub fn get(&self, k: &str) -> String {
        self.text(k).unwrap_or_default()
    }

    /// A non-empty trimmed value.
    pub fn text(&self, k: &str) -> Option<String> {
        self.0
            .get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Whether a checkbox is ticked.
    pub fn ticked(&self, k: &str) -> bool {
        self.0
            .get(k)
            .is_some_and(|v| matches!(v.trim(), "on" | "true" | "1" | "yes"))
    }

    /// A whole number typed in a field (`.` and spaces as thousands separators; 0 when empty).
    pub fn int(&self, k: &str, label_vi: &str) -> Result<i64, domain::Error> {
        let t = self.get(k).replace(['.', ' '], "");
        if t.is_empty() {
            return Ok(0);
        }
        t.parse().map_err(|_| {
            domain::Error::invalid(
                k,
                format!("{label_vi} «{t}» không phải số nguyên"),
                format!("{k} «{t}» is not a whole number"),
            )
        })
    }

    /// A decimal number typed with `.` or `,`; absent when empty.
    pub fn number(&self, k: &str, label_vi: &str) -> Result<Option<f64>, domain::Error> {
        let Some(t) = self.text(k) else {
            return Ok(None);
        };
        t.replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| {
                domain::Error::invalid(
                    k,
                    format!("{label_vi} «{t}» không phải là số"),
                    format!("«{t}» is not a number"),
                )
            })
    }
}

/// A time in Vietnamese local time, `dd/mm/yyyy HH:MM`.
pub fn time_vn(t: DateTime<Utc>) -> String {
    domain::vietnam_time::local_datetime(t)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

pub fn severity_label(lang: Lang, s: Severity) -> &'static str {
    match lang {
        Lang::Vi => s.label_vi(),
        Lang::En => match s {
            Severity::Asymptomatic => "Asymptomatic",
            Severity::Mild => "Mild",
            Severity::Moderate => "Moderate",
            Severity::Severe => "Severe",
            Severity::Critical => "Critical",
        },
    }
}

pub fn care_label(lang: Lang, c: CareSetting) -> &'static str {
    match lang {
        Lang::Vi => c.label_vi(),
        Lang::En => match c {
            CareSetting::Home => "Home",
            CareSetting::Tier1 => "Tier 1",
            CareSetting::Tier2 => "Tier 2",
            CareSetting::Tier3 => "Tier 3",
        },
    }
}

pub fn status_label(lang: Lang, s: CaseStatus) -> &'static str {
    match lang {
        Lang::Vi => s.label_vi(),
        Lang::En => match s {
            CaseStatus::Open => "Open",
            CaseStatus::Closed => "Closed",
        },
    }
}

pub fn classification_label(lang: Lang, c: Classification) -> &'static str {
    match lang {
        Lang::Vi => c.label_vi(),
        Lang::En => match c {
            Classification::Confirmed => "Confirmed",
            Classification::Probable => "Probable",
            Classification::Discarded => "Discarded",
        },
    }
}

pub fn source_label(lang: Lang, d: DetectionSource) -> &'static str {
    match lang {
        Lang::Vi => d.label_vi(),
        Lang::En => match d {
            DetectionSource::Community => "Community",
            DetectionSource::Imported => "Imported",
            DetectionSource::Quarantine => "In quarantine",
        },
    }
}

pub fn outcome_label(lang: Lang, o: Outcome) -> &'static str {
    match lang {
        Lang::Vi => o.label_vi(),
        Lang::En => match o {
            Outcome::Recovered => "Recovered",
            Outcome::Died => "Died",
            Outcome::TransferredOut => "Transferred out",
        },
    }
}

pub fn sex_label(lang: Lang, s: &str) -> &'static str {
    match (s, lang) {
        ("male", Lang::Vi) => "Nam",
        ("male", Lang::En) => "Male",
        ("female", Lang::Vi) => "Nữ",
        ("female", Lang::En) => "Female",
        _ => "—",
    }
}

/// The alert as a badge: emergency red, warning and overdue amber.
pub fn alert_badge(lang: Lang, a: AlertLevel) -> Markup {
    let (class, vi, en) = match a {
        AlertLevel::Emergency => ("badge error", "Cấp cứu", "Emergency"),
        AlertLevel::Warning => ("badge notice", "Cảnh báo", "Warning"),
        AlertLevel::Overdue => ("badge notice", "Quá hạn theo dõi", "Overdue"),
        AlertLevel::None => ("badge muted", "—", "—"),
    };
    html! { span class=(class) data-alert=(a.as_str()) { (lang.t(vi, en)) } }
}

/// Reasons with "cần xác nhận" beside those whose rule is not verified.
pub fn reason_list(lang: Lang, reasons: &[Reason]) -> Markup {
    html! {
        ul.reasons {
            @for r in reasons {
                li data-reason=(r.code) {
                    (if lang == Lang::En { &r.message_en } else { &r.message_vi })
                    @if !r.verified {
                        " " span.muted.unverified title=(r.source) { "(" (lang.t("cần xác nhận", "to be confirmed")) ")" }
                    }
                }
            }
        }
    }
}

/// The unit picker of the section's pages (GET form).
pub fn unit_picker(
    lang: Lang,
    action: &str,
    unit: Option<&str>,
    hierarchy: Option<&str>,
    extra: Markup,
) -> Markup {
    html! {
        form.unit-picker.no-print method="get" action=(action) {
            label { (lang.t("Mã đơn vị", "Unit code"))
                input type="text" name="unit" value=[unit] size="8"; }
            label { (lang.t("Danh mục", "Hierarchy"))
                select name="hierarchy" {
                    option value="2025" selected[hierarchy != Some("pre2025")] { (lang.t("Sau sáp nhập 2025", "2025")) }
                    option value="pre2025" selected[hierarchy == Some("pre2025")] { (lang.t("Trước 2025", "Pre-2025")) }
                }
            }
            (extra)
            button type="submit" { (lang.t("Xem", "Show")) }
        }
    }
}

/// `/cases`: the tools of the section and, for staff managing cases of a unit, its counts and
/// the top of its alert queue (a read of phones: audited like the queue).
pub async fn landing(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let title = lang.t("Ca bệnh", "Cases");
    let role = p.user.role;
    let mut tools: Vec<(&str, &str, &str)> = Vec::new();
    if role_allows(role, Permission::ManageCases) {
        tools.push((
            "/cases/alerts",
            lang.t("Danh sách cần liên hệ", "Alert queue"),
            lang.t(
                "Ca điều trị tại nhà có dấu hiệu cảnh báo hoặc quá hạn báo cáo sức khỏe, khẩn cấp nhất trước.",
                "Home-care cases with warning signs or overdue check-ins, most urgent first.",
            ),
        ));
        tools.push((
            "/cases/list",
            lang.t("Danh sách ca bệnh", "Case list"),
            lang.t(
                "Ca bệnh của đơn vị, lọc theo trạng thái và ngày.",
                "The unit's cases, by status and date.",
            ),
        ));
    }
    if role_allows(role, Permission::RecordTests) {
        tools.push((
            "/cases/tests/new",
            lang.t("Nhập kết quả xét nghiệm", "Enter a test result"),
            lang.t(
                "Kết quả dương tính RT-PCR hoặc test nhanh kháng nguyên mở ca bệnh.",
                "A positive RT-PCR or rapid antigen result opens a case.",
            ),
        ));
    }
    if role_allows(role, Permission::ViewSurveillance) {
        tools.push((
            "/reports/daily",
            lang.t("Báo cáo ngày", "Daily report"),
            lang.t(
                "Ca mới, xét nghiệm, tỷ lệ dương tính, mức độ, nơi điều trị; gửi báo cáo.",
                "New cases, tests, positivity, severity, care setting; submit the report.",
            ),
        ));
    }
    if role_allows(role, Permission::SelfReport) {
        tools.push((
            "/my/checkin",
            lang.t("Khai báo sức khỏe hằng ngày", "My daily check-in"),
            lang.t(
                "Dành cho người đang điều trị tại nhà: SpO2, nhịp thở, mạch, nhiệt độ, huyết áp.",
                "For people cared for at home: SpO2, breathing rate, pulse, temperature, blood pressure.",
            ),
        ));
    }
    let mut summary = None;
    if role_allows(role, Permission::ManageCases)
        && let Some(own) = &p.user.scope.unit
    {
        let open = CaseListParams {
            unit: Some(own.code.clone()),
            hierarchy: Some(own.version.as_str().to_string()),
            status: Some("open".into()),
            limit: Some(1),
            ..CaseListParams::default()
        };
        let (unit, page) = list_cases_for(&state, &p, &open).await.map_err(err)?;
        let today = crate::api::cases::today(&state);
        let figures = intake::care::daily_report(state.store.as_ref(), &unit, today)
            .await
            .map_err(err)?;
        let (_, queue) = alert_queue_for(
            &state,
            &p,
            &ip,
            &AlertParams {
                unit: Some(own.code.clone()),
                hierarchy: Some(own.version.as_str().to_string()),
                limit: Some(5),
            },
            "landing",
        )
        .await
        .map_err(err)?;
        summary = Some((unit, page.total, figures, queue));
    }
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            h1 { (title) }
            @if let Some((unit, open, r, queue)) = &summary {
                div.grid #case-counts {
                    div.card { div.muted { (lang.t("Đang theo dõi", "Open cases")) } div.stat data-count="open" { (int_vn(*open)) } }
                    div.card { div.muted { (lang.t("Ca mới hôm nay", "New cases today")) } div.stat data-count="new_cases" { (int_vn(r.figures.new_cases.max(0) as u64)) } }
                    div.card { div.muted { (lang.t("Điều trị tại nhà", "Home care")) } div.stat data-count="open_home_care" { (int_vn(r.figures.open_home_care.max(0) as u64)) } }
                    div.card { div.muted { (lang.t("Có cảnh báo", "With alerts")) } div.stat data-count="alerts" { (int_vn(r.figures.alerts.max(0) as u64)) } }
                }
                p.muted { (unit.name) " (" (unit.code) ") · " (date_vn(r.figures.day)) }
                h2 { (lang.t("Cần liên hệ trước", "Call first")) }
                @if queue.is_empty() {
                    p.muted #queue-empty { (lang.t("Không có ca nào cần liên hệ.", "No case to call.")) }
                } @else {
                    ol #queue-top {
                        @for i in queue {
                            li {
                                (alert_badge(lang, i.alert)) " "
                                a href={ "/cases/" (i.case.id) } { (i.case.full_name) }
                                " · " (i.age_years) " " (lang.t("tuổi", "years"))
                                " · " (i.hours_since_checkin) " " (lang.t("giờ chưa báo cáo", "h since check-in"))
                            }
                        }
                    }
                    p { a href="/cases/alerts" { (lang.t("Xem toàn bộ danh sách", "The whole queue")) } }
                }
            }
            h2 { (lang.t("Chức năng", "Tools")) }
            @if tools.is_empty() {
                p.muted { (lang.t("Tài khoản của bạn không có chức năng nào trong mục này.", "Your account has no tool in this section.")) }
            }
            ul.tools #case-tools {
                @for (href, name, what) in &tools {
                    li { a href=(href) { (name) } " — " span.muted { (what) } }
                }
            }
        },
    ))
}

fn list_url(q: &CaseListParams) -> String {
    format!(
        "/cases/list?{}",
        serde_urlencoded::to_string(q).unwrap_or_default()
    )
}

fn list_table(lang: Lang, items: &[CaseListItem]) -> Markup {
    html! {
        table #cases {
            thead { tr {
                th { (lang.t("Họ tên", "Name")) }
                th { (lang.t("Ngày sinh", "Born")) }
                th { (lang.t("Giới", "Sex")) }
                th { (lang.t("Điện thoại", "Phone")) }
                th { (lang.t("Xã", "Commune")) }
                th { (lang.t("Dương tính từ", "Positive since")) }
                th { (lang.t("Mức độ", "Severity")) }
                th { (lang.t("Nơi điều trị", "Care")) }
                th { (lang.t("Cảnh báo", "Alert")) }
                th { (lang.t("Trạng thái", "Status")) }
            }}
            tbody {
                @for c in items {
                    tr data-case=(c.id) {
                        td { a href={ "/cases/" (c.id) } { (c.full_name) }
                            @if c.high_risk { " " span.muted title=(lang.t("Nguy cơ cao", "High risk")) { "⚠" } } }
                        td { @if let Some(d) = c.dob { (date_vn(d)) } @else { "—" } }
                        td { (sex_label(lang, &c.sex)) }
                        td { (c.phone) }
                        td { (c.commune_code) }
                        td { (date_vn(c.first_positive)) }
                        td { (severity_label(lang, c.severity)) @if c.on_oxygen { " · O₂" } }
                        td { (care_label(lang, c.care_setting)) }
                        td { (alert_badge(lang, c.alert)) }
                        td { (status_label(lang, c.status))
                            @if let Some(o) = c.outcome { br; span.muted { (outcome_label(lang, o)) } } }
                    }
                }
            }
        }
    }
}

/// `/cases/list`.
pub async fn list_page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(mut q): Query<CaseListParams>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let title = lang.t("Danh sách ca bệnh", "Case list");
    if q.unit.as_deref().is_none_or(|u| u.trim().is_empty())
        && let Some(own) = &p.user.scope.unit
    {
        q.unit = Some(own.code.clone());
        q.hierarchy = Some(own.version.as_str().to_string());
    }
    let filters = html! {
        label { (lang.t("Trạng thái", "Status"))
            select name="status" {
                option value="open" selected[q.status.as_deref().is_none_or(|s| s == "open")] { (lang.t("Đang theo dõi", "Open")) }
                option value="closed" selected[q.status.as_deref() == Some("closed")] { (lang.t("Đã kết thúc", "Closed")) }
                option value="all" selected[q.status.as_deref() == Some("all")] { (lang.t("Tất cả", "All")) }
            }
        }
        label { (lang.t("Dương tính từ ngày", "Positive from"))
            input type="text" name="from" value=[q.from.as_deref()] placeholder="dd/mm/yyyy" size="10"; }
        label { (lang.t("đến ngày", "to"))
            input type="text" name="to" value=[q.to.as_deref()] placeholder="dd/mm/yyyy" size="10"; }
    };
    let picker = unit_picker(
        lang,
        "/cases/list",
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
        filters,
    );
    if q.unit.as_deref().is_none_or(|u| u.trim().is_empty()) {
        return Ok(page_for(
            lang,
            Some(&p),
            Some(SECTION),
            title,
            html! { h1 { (title) } p { (lang.t("Chọn đơn vị.", "Pick a unit.")) } (picker) },
        ));
    }
    if q.status.is_none() {
        q.status = Some("open".into());
    }
    q.limit = Some(PAGE_ROWS);
    let (unit, page) = list_cases_for(&state, &p, &q).await.map_err(err)?;
    let items: Vec<CaseListItem> = page.items.iter().map(CaseListItem::from).collect();
    let offset = q.offset.unwrap_or(0);
    let shown_to = offset + items.len() as u64;
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            h1 { (title) ": " (unit.name) " (" (unit.code) ")" }
            (picker)
            p.muted #total { (lang.t("Số ca", "Cases")) ": " strong data-count="total" { (int_vn(page.total)) } }
            @if items.is_empty() {
                p.muted #empty { (lang.t("Không có ca bệnh nào.", "No case.")) }
            } @else {
                (list_table(lang, &items))
                p.muted { (offset + 1) "–" (shown_to) " / " (int_vn(page.total)) }
                nav.pager {
                    @if offset > 0 {
                        a rel="prev" href=(list_url(&CaseListParams { offset: Some(offset.saturating_sub(u64::from(PAGE_ROWS))), limit: None, ..q.clone() })) { "‹ " (lang.t("Trang trước", "Previous")) }
                    }
                    @if shown_to < page.total {
                        a rel="next" href=(list_url(&CaseListParams { offset: Some(shown_to), limit: None, ..q.clone() })) { (lang.t("Trang sau", "Next")) " ›" }
                    }
                }
            }
        },
    ))
}

/// Whether the caller may submit the daily report of a unit (for showing the button).
pub fn may_submit(state: &AppState, p: &Principal, unit: &store::CoverageUnit) -> bool {
    scoped_unit(
        state,
        p,
        Permission::SubmitDailyReport,
        Some(&unit.code),
        Some(unit.hierarchy.as_str()),
    )
    .is_ok()
}
