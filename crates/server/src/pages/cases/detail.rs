//! `/cases/{id}`: one case as staff see it — identity (the read is audited, `case.view`), risk
//! group with vaccination status, severity and care, tests, the check-in history with a small
//! SpO2 trend, the alert's reasons ("cần xác nhận" beside unverified rules) — and its forms:
//! `POST /cases/{id}/checkin` (a staff check-in), `POST /cases/{id}/edit` (staff edits),
//! `POST /cases/{id}/discharge`. Each form is CSRF-checked and comes back to the page (with a
//! banner); a refused form shows the page again with the reason.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::case_rules::CaseRules;
use domain::home_care::HomeCareRules;
use domain::surveillance::{
    CareSetting, CaseStatus, Classification, DetectionSource, Outcome, Severity,
};
use intake::care::{self, CaseEdit, CheckInInput, DischargeRequest};
use maud::{Markup, html};
use serde::Deserialize;
use store::CheckIn;

use super::{
    FormMap, SECTION, alert_badge, care_label, classification_label, outcome_label, reason_list,
    severity_label, sex_label, source_label, status_label, time_vn,
};
use crate::AppState;
use crate::api::cases::{CaseDetail, discharge_case, edit_case, read_case_full, staff_checkin};
use crate::auth::{Caller, ClientIp, Principal};
use crate::i18n::{Lang, date_vn};
use crate::pages::layout::page_for;
use crate::pages::{CsrfForm, PageError};

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    pub done: Option<String>,
}

/// A banner above the case.
enum Banner {
    Done(&'static str, &'static str),
    Refused(domain::Error),
}

fn number(x: Option<f64>) -> String {
    match x {
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}").replace('.', ","),
        None => "—".into(),
    }
}

/// The SpO2 of each check-in, oldest first, as a small line chart (85–100%, with the 96% line).
pub fn spo2_trend(lang: Lang, checkins: &[CheckIn]) -> Markup {
    let points: Vec<(chrono::DateTime<chrono::Utc>, f64)> = checkins
        .iter()
        .rev()
        .filter_map(|c| care::vitals_of(c).and_then(|v| v.spo2).map(|s| (c.at, s)))
        .collect();
    if points.len() < 2 {
        return html! {};
    }
    let (w, h, left, top, bottom) = (360.0, 130.0, 34.0, 8.0, 20.0);
    let plot_h = h - top - bottom;
    let (lo, hi) = (85.0, 100.0);
    let y = |v: f64| top + plot_h * (1.0 - ((v.clamp(lo, hi) - lo) / (hi - lo)));
    let step = (w - left - 10.0) / (points.len() - 1) as f64;
    let x = |i: usize| left + step * i as f64;
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| format!("{:.1},{:.1}", x(i), y(*v)))
        .collect();
    html! {
        svg #spo2-trend viewBox={ "0 0 " (w) " " (h) } width=(w) height=(h) role="img"
            aria-label=(lang.t("Diễn biến SpO2", "SpO2 trend")) {
            @for t in [85.0, 90.0, 95.0, 100.0] {
                line x1=(left) x2=(w - 10.0) y1=(y(t)) y2=(y(t)) stroke="#e3e7ec" {}
                text x=(left - 4.0) y=(y(t) + 3.0) text-anchor="end" font-size="10" fill="#5b6673" { (t) "%" }
            }
            line x1=(left) x2=(w - 10.0) y1=(y(96.0)) y2=(y(96.0)) stroke="#d08a00" stroke-dasharray="4 3" {}
            polyline points=(line.join(" ")) fill="none" stroke="#0b5cad" stroke-width="2" {}
            @for (i, (at, v)) in points.iter().enumerate() {
                circle cx=(x(i)) cy=(y(*v)) r="3" fill=(if *v <= 96.0 { "#c62828" } else { "#0b5cad" }) {
                    title { (time_vn(*at)) ": " (number(Some(*v))) "%" }
                }
            }
            text x=(left) y=(h - 4.0) font-size="10" fill="#5b6673" { (time_vn(points[0].0)) }
            text x=(w - 10.0) y=(h - 4.0) text-anchor="end" font-size="10" fill="#5b6673" { (time_vn(points[points.len() - 1].0)) }
        }
    }
}

fn checkin_table(lang: Lang, checkins: &[CheckIn]) -> Markup {
    let rules = HomeCareRules::embedded();
    html! {
        table #checkins {
            thead { tr {
                th { (lang.t("Thời điểm", "When")) }
                th { (lang.t("Người nhập", "By")) }
                th.num { "SpO2 (%)" }
                th.num { (lang.t("Nhịp thở", "Resp. rate")) }
                th.num { (lang.t("Mạch", "Pulse")) }
                th.num { (lang.t("Nhiệt độ", "Temp.")) }
                th.num { (lang.t("Huyết áp", "BP")) }
                th { (lang.t("Triệu chứng", "Symptoms")) }
                th { (lang.t("Mức độ", "Severity")) }
                th { (lang.t("Cảnh báo", "Alert")) }
            }}
            tbody {
                @for c in checkins {
                    @let v = care::vitals_of(c);
                    @let a = care::assessment_of(c);
                    tr data-checkin=(c.id) {
                        td { (time_vn(c.at)) }
                        td { @if c.by == care::CITIZEN { (lang.t("Người bệnh tự khai", "Self-reported")) } @else { (c.by) } }
                        td.num data-spo2=[v.as_ref().and_then(|v| v.spo2)] { (number(v.as_ref().and_then(|v| v.spo2))) }
                        td.num { (number(v.as_ref().and_then(|v| v.resp_rate))) }
                        td.num { (number(v.as_ref().and_then(|v| v.pulse))) }
                        td.num { (number(v.as_ref().and_then(|v| v.temp_c))) }
                        td.num { (number(v.as_ref().and_then(|v| v.systolic))) "/" (number(v.as_ref().and_then(|v| v.diastolic))) }
                        td {
                            @if let Some(v) = &v {
                                @for (i, s) in v.symptoms.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (rules.symptoms.iter().find(|d| &d.code == s).map(|d| if lang == Lang::En { d.label_en.as_str() } else { d.label_vi.as_str() }).unwrap_or(s.as_str()))
                                }
                            }
                        }
                        td { (severity_label(lang, c.severity)) }
                        td {
                            (alert_badge(lang, c.alert))
                            @if let Some(a) = a.filter(|a| !a.reasons.is_empty()) { (reason_list(lang, &a.reasons)) }
                        }
                    }
                }
            }
        }
    }
}

/// The check-in form fields (shared with the citizen's page).
pub fn vitals_fields(lang: Lang) -> Markup {
    let rules = HomeCareRules::embedded();
    html! {
        label { "SpO2 (%)" input type="text" inputmode="decimal" name="spo2" size="5"; }
        label { (lang.t("Nhịp thở (lần/phút)", "Breaths per minute")) input type="text" inputmode="numeric" name="resp_rate" size="5"; }
        label { (lang.t("Mạch (lần/phút)", "Pulse (per minute)")) input type="text" inputmode="numeric" name="pulse" size="5"; }
        label { (lang.t("Nhiệt độ (°C)", "Temperature (°C)")) input type="text" inputmode="decimal" name="temp_c" size="5"; }
        label { (lang.t("Huyết áp tâm thu (mmHg)", "Systolic BP (mmHg)")) input type="text" inputmode="numeric" name="systolic" size="5"; }
        label { (lang.t("Huyết áp tâm trương (mmHg)", "Diastolic BP (mmHg)")) input type="text" inputmode="numeric" name="diastolic" size="5"; }
        fieldset.symptoms {
            legend { (lang.t("Triệu chứng", "Symptoms")) }
            @for s in &rules.symptoms {
                label.check { input type="checkbox" name={ "symptom_" (s.code) } value="on"; " " (if lang == Lang::En { &s.label_en } else { &s.label_vi }) }
            }
        }
    }
}

/// The measurements of a check-in form.
pub fn checkin_input(f: &FormMap) -> Result<CheckInInput, domain::Error> {
    let rules = HomeCareRules::embedded();
    Ok(CheckInInput {
        spo2: f.number("spo2", "SpO2")?,
        resp_rate: f.number("resp_rate", "Nhịp thở")?,
        pulse: f.number("pulse", "Mạch")?,
        temp_c: f.number("temp_c", "Nhiệt độ")?,
        systolic: f.number("systolic", "Huyết áp tâm thu")?,
        diastolic: f.number("diastolic", "Huyết áp tâm trương")?,
        symptoms: rules
            .symptoms
            .iter()
            .filter(|s| f.ticked(&format!("symptom_{}", s.code)))
            .map(|s| s.code.clone())
            .collect(),
        able_to_self_care: None,
        age_years: None,
    })
}

fn select<T: Copy + PartialEq>(
    name: &str,
    all: &[T],
    current: T,
    code: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Markup {
    html! {
        select name=(name) {
            @for v in all {
                option value=(code(*v)) selected[*v == current] { (label(*v)) }
            }
        }
    }
}

fn edit_form(lang: Lang, p: &Principal, d: &CaseDetail) -> Markup {
    let c = &d.case;
    let list = &CaseRules::embedded().comorbidities.list;
    let others: Vec<&str> = d
        .risk
        .comorbidities
        .iter()
        .filter(|x| !list.iter().any(|l| &l.code == *x))
        .map(String::as_str)
        .collect();
    html! {
        form.grid #edit-form method="post" action={ "/cases/" (c.id) "/edit" } {
            input type="hidden" name="csrf" value=[p.csrf()];
            label { (lang.t("Phân loại", "Classification"))
                (select("classification", Classification::ALL, c.classification, |v| v.as_str(), |v| classification_label(lang, v))) }
            label { (lang.t("Nguồn phát hiện", "Detection source"))
                (select("detection_source", DetectionSource::ALL, c.detection_source, |v| v.as_str(), |v| source_label(lang, v))) }
            label { (lang.t("Mức độ", "Severity"))
                (select("severity", Severity::ALL, c.severity, |v| v.as_str(), |v| severity_label(lang, v))) }
            label { (lang.t("Nơi điều trị", "Care setting"))
                (select("care_setting", CareSetting::ALL, c.care_setting, |v| v.as_str(), |v| care_label(lang, v))) }
            label { (lang.t("Ngày khởi phát", "Onset"))
                input type="text" name="onset" placeholder="dd/mm/yyyy" size="10" value=[c.onset.map(date_vn)]; }
            label.check { span { input type="checkbox" name="on_oxygen" value="on" checked[c.on_oxygen]; " " (lang.t("Đang thở oxy", "On oxygen")) } }
            label.check { span { input type="checkbox" name="pregnant" value="on" checked[d.risk.pregnant]; " " (lang.t("Đang mang thai", "Pregnant")) } }
            fieldset.comorbidities {
                legend { (lang.t("Bệnh nền", "Comorbidities")) }
                @for m in list {
                    label.check { input type="checkbox" name={ "comorbidity_" (m.code) } value="on" checked[d.risk.comorbidities.contains(&m.code)]; " " (m.label_vi) }
                }
                label { (lang.t("Bệnh nền khác (cách nhau bởi dấu phẩy)", "Other comorbidities (comma separated)"))
                    input type="text" name="comorbidities_other" value=(others.join(", ")); }
            }
            @if c.status == CaseStatus::Open {
                label { (lang.t("Kết cục", "Outcome"))
                    select name="outcome" {
                        option value="" { "—" }
                        option value=(Outcome::Died.as_str()) { (outcome_label(lang, Outcome::Died)) }
                        option value=(Outcome::TransferredOut.as_str()) { (outcome_label(lang, Outcome::TransferredOut)) }
                    }
                }
                label { (lang.t("Ngày kết cục", "Outcome date"))
                    input type="text" name="outcome_date" placeholder="dd/mm/yyyy" size="10"; }
            } @else {
                label.check { span { input type="checkbox" name="reopen" value="on"; " " (lang.t("Mở lại ca bệnh (đã đóng nhầm)", "Reopen the case (closed by mistake)")) } }
            }
            label { (lang.t("Ghi chú", "Note"))
                textarea name="note" rows="2" maxlength="2000" { (c.note) } }
            button type="submit" { (lang.t("Lưu thay đổi", "Save changes")) }
        }
    }
}

/// The staff edit of an edit form.
fn case_edit(f: &FormMap) -> CaseEdit {
    let list = &CaseRules::embedded().comorbidities.list;
    let mut comorbidities: Vec<String> = list
        .iter()
        .filter(|m| f.ticked(&format!("comorbidity_{}", m.code)))
        .map(|m| m.code.clone())
        .collect();
    if let Some(other) = f.text("comorbidities_other") {
        comorbidities.extend(
            other
                .split([',', ';'])
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        );
    }
    CaseEdit {
        classification: f.text("classification"),
        onset: Some(f.text("onset").unwrap_or_default()),
        detection_source: f.text("detection_source"),
        severity: f.text("severity"),
        care_setting: f.text("care_setting"),
        on_oxygen: Some(f.ticked("on_oxygen")),
        outcome: f.text("outcome"),
        outcome_date: f.text("outcome_date"),
        reopen: f.ticked("reopen"),
        comorbidities: Some(comorbidities),
        pregnant: Some(f.ticked("pregnant")),
        note: Some(f.0.get("note").cloned().unwrap_or_default()),
    }
}

fn case_markup(lang: Lang, p: &Principal, d: &CaseDetail, banner: Option<&Banner>) -> Markup {
    let c = &d.case;
    let rules = CaseRules::embedded().at(c.first_positive);
    let open = c.status == CaseStatus::Open;
    html! {
        p.breadcrumb { a href="/cases" { (lang.t("Ca bệnh", "Cases")) } " › " a href="/cases/list" { (lang.t("Danh sách", "List")) } }
        h1 { (c.full_name) " " (alert_badge(lang, c.alert)) }
        @match banner {
            Some(Banner::Done(vi, en)) => p.ok #done { (lang.t(vi, en)) },
            Some(Banner::Refused(e)) => div.error #refused {
                p { (e.message(lang == Lang::En)) }
                @if let Some(rs) = e.details.get("reasons").and_then(|r| r.as_array()) {
                    ul { @for r in rs { li { (r.as_str().unwrap_or_default()) } } }
                }
            },
            None => {},
        }
        @if !d.reasons.is_empty() {
            div.card #alert-reasons {
                h2 { (lang.t("Lý do cảnh báo", "Why the alert")) }
                (reason_list(lang, &d.reasons))
            }
        }
        div.grid {
            div.card #identity {
                h2 { (lang.t("Nhận dạng", "Identity")) }
                dl.record {
                    dt { (lang.t("Ngày sinh", "Born")) } dd { @if let Some(b) = c.dob { (date_vn(b)) " (" (d.age_years) " " (lang.t("tuổi", "years")) ")" } @else { "—" } }
                    dt { (lang.t("Giới tính", "Sex")) } dd { (sex_label(lang, &c.sex)) }
                    dt { (lang.t("Số CCCD", "Citizen ID")) } dd #national-id { (d.national_id.clone().unwrap_or_else(|| "—".into())) }
                    dt { (lang.t("Điện thoại", "Phone")) } dd #phone { @if c.phone.is_empty() { "—" } @else { a href={ "tel:" (c.phone) } { (c.phone) } } }
                    dt { (lang.t("Xã / phường", "Commune")) } dd { (c.units.commune_code) @if let Some(o) = &c.units.old_commune_code { " (" (o) ")" } }
                    dt { (lang.t("Hồ sơ dân cư", "Register record")) } dd { @if let Some(pid) = c.person_id { a href={ "/persons/" (pid) } { (lang.t("Xem", "View")) } } @else { (lang.t("Chưa ghép nối", "Not linked yet")) } }
                }
            }
            div.card #risk {
                h2 { (lang.t("Nhóm nguy cơ", "Risk group")) }
                p { @if d.risk.high_risk { strong { (lang.t("Nguy cơ cao", "High risk")) } } @else { (lang.t("Không thuộc nhóm nguy cơ cao", "Not high risk")) } }
                @if !d.risk.reasons.is_empty() { ul { @for r in &d.risk.reasons { li { (r) } } } }
                dl.record {
                    dt { (lang.t("Tiêm chủng", "Vaccination")) } dd #vaccination { (d.risk.vaccination.label_vi()) }
                    dt { (lang.t("Bệnh nền", "Comorbidities")) } dd { @if d.risk.comorbidities.is_empty() { "—" } @else { (d.risk.comorbidities.iter().map(|x| rules.comorbidity_label(x)).collect::<Vec<_>>().join(", ")) } }
                    dt { (lang.t("Mang thai", "Pregnant")) } dd { (if d.risk.pregnant { lang.t("Có", "Yes") } else { lang.t("Không", "No") }) }
                }
                @if !rules.high_risk.verified { p.muted.unverified { (lang.t("Tiêu chí nhóm nguy cơ: cần xác nhận", "High-risk criteria: to be confirmed")) } }
            }
            div.card #clinical {
                h2 { (lang.t("Tình trạng", "State")) }
                dl.record {
                    dt { (lang.t("Trạng thái", "Status")) } dd #status { (status_label(lang, c.status)) @if let Some(o) = c.outcome { " — " (outcome_label(lang, o)) @if let Some(od) = c.outcome_date { " " (date_vn(od)) } } }
                    dt { (lang.t("Phân loại", "Classification")) } dd { (classification_label(lang, c.classification)) }
                    dt { (lang.t("Mức độ", "Severity")) } dd #severity { (severity_label(lang, c.severity)) }
                    dt { (lang.t("Nơi điều trị", "Care setting")) } dd { (care_label(lang, c.care_setting)) @if c.on_oxygen { " · " (lang.t("thở oxy", "on oxygen")) } }
                    dt { (lang.t("Dương tính lần đầu", "First positive")) } dd { (date_vn(c.first_positive)) }
                    dt { (lang.t("Dương tính gần nhất", "Latest positive")) } dd { (date_vn(c.last_positive)) }
                    dt { (lang.t("Khởi phát", "Onset")) } dd { @if let Some(o) = c.onset { (date_vn(o)) } @else { "—" } }
                    dt { (lang.t("Nguồn phát hiện", "Detection")) } dd { (source_label(lang, c.detection_source)) }
                    dt { (lang.t("Hết cách ly sớm nhất", "Isolation ends")) } dd { (date_vn(c.isolation_end)) }
                    dt { (lang.t("Theo dõi hậu COVID đến", "Post-COVID follow-up until")) } dd { (date_vn(c.followup_until)) }
                    dt { (lang.t("Báo cáo", "Reporting")) } dd { (time_vn(c.reported_at)) " · "
                        @if c.report_met { (lang.t("đúng hạn", "on time")) } @else { strong { (lang.t("quá hạn", "late")) } }
                        " (" (lang.t("nhóm", "group")) " " (c.disease_group) ")" }
                    dt { (lang.t("Báo cáo sức khỏe gần nhất", "Last check-in")) } dd { @if let Some(t) = c.last_checkin_at { (time_vn(t)) } @else { "—" } }
                }
                @if !c.note.is_empty() { p.muted { (c.note) } }
            }
        }
        div.card #tests {
            h2 { (lang.t("Xét nghiệm", "Tests")) }
            @if d.tests.is_empty() { p.muted { "—" } } @else {
                table {
                    thead { tr { th { (lang.t("Ngày lấy mẫu", "Sampled")) } th { (lang.t("Loại", "Type")) } th { (lang.t("Kết quả", "Result")) } th { (lang.t("Nơi xét nghiệm", "Lab")) } th { (lang.t("Nhận lúc", "Received")) } } }
                    tbody { @for t in &d.tests {
                        tr { td { (date_vn(t.sample_date)) } td { (t.test_type.label_vi()) } td data-result=(t.result.as_str()) { (t.result.label_vi()) } td { (t.lab_code) } td { (time_vn(t.received_at)) } }
                    } }
                }
            }
        }
        div.card #history {
            h2 { (lang.t("Theo dõi sức khỏe", "Check-ins")) }
            (spo2_trend(lang, &d.checkins))
            @if d.checkins.is_empty() { p.muted #no-checkins { (lang.t("Chưa có lần theo dõi nào.", "No check-in yet.")) } } @else { (checkin_table(lang, &d.checkins)) }
        }
        @if open {
            div.card #checkin {
                h2 { (lang.t("Nhập lần theo dõi", "Enter a check-in")) }
                form.grid #checkin-form method="post" action={ "/cases/" (c.id) "/checkin" } {
                    input type="hidden" name="csrf" value=[p.csrf()];
                    (vitals_fields(lang))
                    button type="submit" { (lang.t("Ghi nhận", "Record")) }
                }
            }
            div.card #discharge {
                h2 { (lang.t("Kết thúc cách ly", "Discharge")) }
                @if d.discharge.ready {
                    p.ok { (lang.t("Đủ điều kiện kết thúc cách ly.", "The case may be discharged.")) }
                } @else {
                    ul #discharge-missing { @for m in &d.discharge.missing { li { (m) } } }
                }
                form.stack method="post" action={ "/cases/" (c.id) "/discharge" } {
                    input type="hidden" name="csrf" value=[p.csrf()];
                    label.check { span { input type="checkbox" name="attest_negative_test" value="on"; " "
                        (lang.t("Tôi xác nhận đã có kết quả test nhanh âm tính lấy mẫu từ ngày", "I attest a negative rapid test sampled on or after"))
                        " " (date_vn(c.isolation_end)) } }
                    button type="submit" { (lang.t("Kết thúc cách ly (khỏi bệnh)", "Discharge (recovered)")) }
                }
            }
        }
        div.card #edit {
            h2 { (lang.t("Cập nhật ca bệnh", "Edit the case")) }
            (edit_form(lang, p, d))
        }
    }
}

async fn render(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    lang: Lang,
    id: &str,
    banner: Option<Banner>,
) -> Result<Response, PageError> {
    let d = read_case_full(state, p, ip, id, "page")
        .await
        .map_err(|error| PageError { error, lang })?;
    let status = match &banner {
        Some(Banner::Refused(e)) => crate::error::status_of(e.code),
        _ => StatusCode::OK,
    };
    let title = d.case.full_name.clone();
    let body = page_for(
        lang,
        Some(p),
        Some(SECTION),
        &title,
        case_markup(lang, p, &d, banner.as_ref()),
    );
    Ok((status, body).into_response())
}

/// `GET /cases/{id}`.
pub async fn page(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let banner = match q.done.as_deref() {
        Some("checkin") => Some(Banner::Done(
            "Đã ghi nhận lần theo dõi.",
            "The check-in was recorded.",
        )),
        Some("edit") => Some(Banner::Done("Đã lưu thay đổi.", "Changes saved.")),
        Some("discharge") => Some(Banner::Done(
            "Đã kết thúc cách ly: khỏi bệnh.",
            "Discharged: recovered.",
        )),
        _ => None,
    };
    render(&state, &p, &ip, lang, &id, banner).await
}

/// What a refused form does: 404 and other access errors as an error page, the rest shown on
/// the case page.
async fn refused(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    lang: Lang,
    id: &str,
    e: domain::Error,
) -> Result<Response, PageError> {
    match e.code {
        domain::ErrorCode::InvalidInput | domain::ErrorCode::Conflict => {
            render(state, p, ip, lang, id, Some(Banner::Refused(e))).await
        }
        _ => Err(PageError { error: e, lang }),
    }
}

/// `POST /cases/{id}/checkin`.
pub async fn checkin_submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Response, PageError> {
    let result = match checkin_input(&f) {
        Ok(input) => staff_checkin(&state, &p, &ip, &id, &input)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("/cases/{}?done=checkin#history", id.trim())).into_response())
        }
        Err(e) => refused(&state, &p, &ip, lang, &id, e).await,
    }
}

/// `POST /cases/{id}/edit`.
pub async fn edit_submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Response, PageError> {
    match edit_case(&state, &p, &ip, &id, &case_edit(&f)).await {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{}?done=edit", id.trim())).into_response()),
        Err(e) => refused(&state, &p, &ip, lang, &id, e).await,
    }
}

/// `POST /cases/{id}/discharge`.
pub async fn discharge_submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Response, PageError> {
    let request = DischargeRequest {
        attest_negative_test: f.ticked("attest_negative_test"),
    };
    match discharge_case(&state, &p, &ip, &id, &request).await {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{}?done=discharge", id.trim())).into_response()),
        Err(e) => refused(&state, &p, &ip, lang, &id, e).await,
    }
}
