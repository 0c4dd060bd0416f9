//! `/cases/alerts?unit&hierarchy`: the commune station's alert queue, most urgent first
//! (emergency, warning, overdue check-in; within each, high risk, then older, then longest
//! without a check-in), with the phone to call in full — so each read is audited
//! (`alerts.view`), as the follow-up list does.

use axum::extract::{Query, State};
use maud::{Markup, html};

use super::{SECTION, alert_badge, reason_list, severity_label, sex_label, time_vn, unit_picker};
use crate::AppState;
use crate::api::cases::{AlertParams, alert_queue_for};
use crate::auth::{Caller, ClientIp};
use crate::i18n::Lang;
use crate::pages::PageError;
use crate::pages::layout::page_for;

pub async fn page(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Query(mut q): Query<AlertParams>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let title = lang.t("Danh sách cần liên hệ", "Alert queue");
    if q.unit.as_deref().is_none_or(|u| u.trim().is_empty())
        && let Some(own) = &p.user.scope.unit
    {
        q.unit = Some(own.code.clone());
        q.hierarchy = Some(own.version.as_str().to_string());
    }
    let picker = unit_picker(
        lang,
        "/cases/alerts",
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
        html! {},
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
    q.limit = Some(500);
    let (unit, items) = alert_queue_for(&state, &p, &ip, &q, "page")
        .await
        .map_err(err)?;
    let rules = domain::case_rules::CaseRules::embedded().at(crate::api::cases::today(&state));
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            h1 { (title) ": " (unit.name) " (" (unit.code) ")" }
            (picker)
            p.muted {
                (lang.t("Ca điều trị tại nhà có dấu hiệu cảnh báo ở lần theo dõi gần nhất, hoặc không báo cáo sức khỏe quá",
                    "Home-care cases whose latest check-in showed a warning sign, or without a check-in for more than"))
                " " (rules.non_reporting_hours.value) " " (lang.t("giờ", "hours"))
                @if !rules.non_reporting_hours.verified { " " span.muted.unverified { "(" (lang.t("cần xác nhận", "to be confirmed")) ")" } }
                ". " (lang.t("Khẩn cấp nhất ở trên cùng.", "Most urgent first."))
            }
            @if items.is_empty() {
                p.ok #queue-empty { (lang.t("Không có ca nào cần liên hệ.", "No case to call.")) }
            } @else {
                table #alerts {
                    thead { tr {
                        th { "#" }
                        th { (lang.t("Mức", "Level")) }
                        th { (lang.t("Họ tên", "Name")) }
                        th { (lang.t("Tuổi", "Age")) }
                        th { (lang.t("Điện thoại", "Phone")) }
                        th.num { (lang.t("Giờ chưa báo cáo", "Hours since check-in")) }
                        th { (lang.t("Mức độ", "Severity")) }
                        th { (lang.t("Lý do", "Reasons")) }
                    }}
                    tbody {
                        @for (i, a) in items.iter().enumerate() {
                            tr data-case=(a.case.id) data-alert=(a.alert.as_str()) {
                                td { (i + 1) }
                                td { (alert_badge(lang, a.alert)) }
                                td { a href={ "/cases/" (a.case.id) } { (a.case.full_name) }
                                    br; span.muted { (sex_label(lang, &a.case.sex)) " · " (a.case.units.commune_code) }
                                    @if a.case.high_risk { br; strong { (lang.t("Nguy cơ cao", "High risk")) } } }
                                td { (a.age_years) }
                                td { @if a.case.phone.is_empty() { "—" } @else { a href={ "tel:" (a.case.phone) } { (a.case.phone) } } }
                                td.num data-hours=(a.hours_since_checkin) { (a.hours_since_checkin)
                                    @if let Some(t) = a.case.last_checkin_at { br; span.muted { (time_vn(t)) } } }
                                td { (severity_label(lang, a.case.severity)) }
                                td { (reason_list(lang, &a.reasons)) }
                            }
                        }
                    }
                }
            }
        },
    ))
}
