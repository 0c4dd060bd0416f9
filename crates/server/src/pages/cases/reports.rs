//! Reports section: `/reports` (its landing) and `/reports/daily?unit&hierarchy&day` — a unit's
//! daily report (new cases, tests, positivity, open cases by severity and care setting, on
//! oxygen, deaths, recoveries, open home-care cases, alerts; aggregates only, any unit), the
//! "Gửi báo cáo" button for staff of the unit (`POST /reports/daily`), and the units below that
//! have not reported that day.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::auth::{Permission, role_allows};
use domain::surveillance::{CareSetting, Severity};
use maud::{Markup, html};
use serde::Deserialize;

use super::{FormMap, care_label, may_submit, severity_label, time_vn, unit_picker};
use crate::AppState;
use crate::api::cases::{ReportParams, daily_report_for, missing_for, submit_report_for};
use crate::auth::{Caller, ClientIp};
use crate::i18n::{Lang, date_vn, int_vn};
use crate::pages::layout::page_for;
use crate::pages::{CsrfForm, PageError};

/// The section path.
pub const SECTION: &str = "/reports";

/// `/reports`: the section's reports.
pub async fn landing(Caller(p): Caller, lang: Lang) -> Markup {
    let title = lang.t("Báo cáo", "Reports");
    page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            h1 { (title) }
            ul.tools #report-tools {
                @if role_allows(p.user.role, Permission::ViewSurveillance) {
                    li { a href="/reports/daily" { (lang.t("Báo cáo ngày", "Daily report")) } " — "
                        span.muted { (lang.t("Ca mới, xét nghiệm, tỷ lệ dương tính, mức độ, nơi điều trị, tử vong, khỏi bệnh; gửi báo cáo và xem đơn vị chưa báo cáo.",
                            "New cases, tests, positivity, severity, care setting, deaths, recoveries; submit, and see which units have not reported.")) } }
                }
                @if role_allows(p.user.role, Permission::ViewCoverage) {
                    li { a href="/vaccination/coverage" { (lang.t("Độ bao phủ tiêm chủng", "Vaccination coverage")) } }
                }
            }
            @if !role_allows(p.user.role, Permission::ViewSurveillance) && !role_allows(p.user.role, Permission::ViewCoverage) {
                p.muted { (lang.t("Tài khoản của bạn không xem được báo cáo.", "Your account cannot see reports.")) }
            }
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct DailyQuery {
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub day: Option<String>,
    pub submitted: Option<String>,
}

/// `85,3%` (vi) or `85.3%` (en).
fn pct(lang: Lang, x: Option<f64>) -> String {
    match x {
        None => "—".into(),
        Some(v) => {
            let s = format!("{:.1}%", v * 100.0);
            if lang == Lang::Vi {
                s.replace('.', ",")
            } else {
                s
            }
        }
    }
}

fn n(v: i64) -> String {
    int_vn(v.max(0) as u64)
}

/// Open cases by severity as horizontal bars.
fn severity_chart(lang: Lang, rows: &[(String, i64)]) -> Markup {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let (label_w, bar_max, row_h) = (130.0, 220.0, 18.0);
    let colours = ["#9ccc9c", "#7fb3e0", "#f0c36d", "#e57a4a", "#b71c1c"];
    let height = row_h * Severity::ALL.len() as f64 + 4.0;
    html! {
        svg #severity-chart viewBox={ "0 0 " (label_w + bar_max + 50.0) " " (height) } width=(label_w + bar_max + 50.0) height=(height) role="img"
            aria-label=(lang.t("Ca đang điều trị theo mức độ", "Open cases by severity")) {
            @for (i, s) in Severity::ALL.iter().enumerate() {
                @let count = rows.iter().find(|r| r.0 == s.as_str()).map(|r| r.1).unwrap_or(0);
                @let y = row_h * i as f64 + 2.0;
                @let w = bar_max * count as f64 / max;
                text x=(label_w - 6.0) y=(y + 12.0) text-anchor="end" font-size="11" fill="#1b1f24" { (severity_label(lang, *s)) }
                rect x=(label_w) y=(y) width=(w) height=(row_h - 4.0) fill=(colours[i % colours.len()]) {}
                text x=(label_w + w + 4.0) y=(y + 12.0) font-size="11" fill="#1b1f24" { (n(count)) }
            }
        }
    }
}

/// `GET /reports/daily`.
pub async fn daily_page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(q): Query<DailyQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let title = lang.t("Báo cáo ngày", "Daily report");
    let mut params = ReportParams {
        unit: q.unit.clone().filter(|u| !u.trim().is_empty()),
        hierarchy: q.hierarchy.clone(),
        day: q.day.clone().filter(|d| !d.trim().is_empty()),
    };
    if params.unit.is_none()
        && let Some(own) = &p.user.scope.unit
    {
        params.unit = Some(own.code.clone());
        params.hierarchy = Some(own.version.as_str().to_string());
    }
    let picker = unit_picker(
        lang,
        "/reports/daily",
        params.unit.as_deref(),
        params.hierarchy.as_deref(),
        html! {
            label { (lang.t("Ngày", "Day"))
                input type="text" name="day" value=[params.day.as_deref()] placeholder="dd/mm/yyyy" size="10"; }
        },
    );
    if params.unit.is_none() {
        return Ok(page_for(
            lang,
            Some(&p),
            Some(SECTION),
            title,
            html! { h1 { (title) } p { (lang.t("Chọn đơn vị.", "Pick a unit.")) } (picker) },
        ));
    }
    let r = daily_report_for(&state, &p, &params).await.map_err(err)?;
    let missing = missing_for(&state, &p, &params).await.map_err(err)?;
    let f = &r.report.figures;
    let unit = &r.report.unit;
    let can_submit =
        role_allows(p.user.role, Permission::SubmitDailyReport) && may_submit(&state, &p, unit);
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            h1 { (title) ": " (unit.name) " (" (unit.code) ") — " (date_vn(f.day)) }
            (picker)
            @if q.submitted.is_some() { p.ok #submitted-now { (lang.t("Đã gửi báo cáo.", "The report was submitted.")) } }
            @if let Some(s) = &r.submitted {
                p.muted #submitted { (lang.t("Đã gửi lúc", "Submitted at")) " " (time_vn(s.submitted_at)) " " (lang.t("bởi", "by")) " " (s.submitted_by) }
            } @else {
                p.notice #not-submitted { (lang.t("Chưa gửi báo cáo ngày này.", "Not submitted for this day yet.")) }
            }
            div.grid #figures {
                div.card { div.muted { (lang.t("Ca mắc mới", "New cases")) } div.stat data-figure="new_cases" { (n(f.new_cases)) } }
                div.card { div.muted { (lang.t("Số xét nghiệm", "Tests")) } div.stat data-figure="tests" { (n(f.tests)) } }
                div.card { div.muted { (lang.t("Xét nghiệm dương tính", "Positive tests")) } div.stat data-figure="positive_tests" { (n(f.positive_tests)) } }
                div.card { div.muted { (lang.t("Tỷ lệ dương tính", "Positivity")) } div.stat data-figure="positivity" { (pct(lang, r.report.positivity)) } }
                div.card { div.muted { (lang.t("Tử vong", "Deaths")) } div.stat data-figure="deaths" { (n(f.deaths)) } }
                div.card { div.muted { (lang.t("Khỏi bệnh", "Recoveries")) } div.stat data-figure="recoveries" { (n(f.recoveries)) } }
                div.card { div.muted { (lang.t("Đang điều trị tại nhà", "Open, home care")) } div.stat data-figure="open_home_care" { (n(f.open_home_care)) } }
                div.card { div.muted { (lang.t("Đang thở oxy", "On oxygen")) } div.stat data-figure="on_oxygen" { (n(f.on_oxygen)) } }
                div.card { div.muted { (lang.t("Ca có cảnh báo", "Cases with alerts")) } div.stat data-figure="alerts" { (n(f.alerts)) } }
            }
            p.muted { (lang.t("Ca mới, xét nghiệm, tử vong và khỏi bệnh tính theo ngày đã chọn; các số đang điều trị là hiện tại.",
                "New cases, tests, deaths and recoveries are of the chosen day; open-case counts are current.")) }
            div.grid {
                div.card {
                    h2 { (lang.t("Đang điều trị theo mức độ", "Open cases by severity")) }
                    (severity_chart(lang, &f.open_by_severity))
                    table #by-severity { tbody {
                        @for s in Severity::ALL {
                            tr { td { (severity_label(lang, *s)) } td.num { (n(f.open_by_severity.iter().find(|r| r.0 == s.as_str()).map(|r| r.1).unwrap_or(0))) } }
                        }
                    } }
                }
                div.card {
                    h2 { (lang.t("Đang điều trị theo nơi điều trị", "Open cases by care setting")) }
                    table #by-care { tbody {
                        @for c in CareSetting::ALL {
                            tr { td { (care_label(lang, *c)) } td.num { (n(f.open_by_care_setting.iter().find(|r| r.0 == c.as_str()).map(|r| r.1).unwrap_or(0))) } }
                        }
                    } }
                }
            }
            @if can_submit {
                form.stack #submit-report method="post" action="/reports/daily" {
                    input type="hidden" name="csrf" value=[p.csrf()];
                    input type="hidden" name="unit" value=(unit.code);
                    input type="hidden" name="hierarchy" value=(unit.hierarchy.as_str());
                    input type="hidden" name="day" value=(f.day.to_string());
                    button type="submit" { (lang.t("Gửi báo cáo", "Submit the report")) }
                }
            }
            @if missing.expected > 0 {
                div.card #missing {
                    h2 { (lang.t("Đơn vị chưa báo cáo", "Units that have not reported")) " (" (missing.missing.len()) "/" (missing.expected) ")" }
                    @if missing.missing.is_empty() {
                        p.ok { (lang.t("Tất cả đơn vị đã báo cáo.", "Every unit has reported.")) }
                    } @else {
                        ul { @for m in &missing.missing { li data-unit=(m.code) { (m.name) " (" (m.code) ")" } } }
                    }
                }
            }
        },
    ))
}

/// `POST /reports/daily`: submits the figures, back to the report.
pub async fn submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Response, PageError> {
    let params = ReportParams {
        unit: f.text("unit"),
        hierarchy: f.text("hierarchy"),
        day: f.text("day"),
    };
    let report = submit_report_for(&state, &p, &ip, &params)
        .await
        .map_err(|error| PageError { error, lang })?;
    let back = serde_urlencoded::to_string([
        ("unit", report.unit_code.as_str()),
        ("hierarchy", report.hierarchy.as_str()),
        ("day", &report.day.to_string()),
        ("submitted", "1"),
    ])
    .unwrap_or_default();
    Ok(Redirect::to(&format!("/reports/daily?{back}")).into_response())
}
