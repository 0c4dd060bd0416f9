//! Epidemic level pages (section `/epidemic-level`), over the same functions as the API
//! ([`crate::api::levels`]):
//!
//! - `/epidemic-level` (public, no login): each province's levels in force and any levels
//!   announced to take effect later — an SVG map of the communes drawn from their centre points
//!   (no boundary data with a suitable licence is in the repository), coloured by level, and a
//!   table of the province, its districts and communes with "cần xác nhận" where the level rests
//!   on an unverified number or rule.
//! - `/epidemic-level/manage?province=` (`AssessLevels`): crisis alerts of the latest run, the
//!   runs of the province, the form to compute a week and the capacity form.
//! - `/epidemic-level/runs/{id}` (`ViewSurveillance`): every unit's inputs, criteria and reasoning,
//!   and the approval button for the province (`ApproveLevels`).

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Redirect;
use axum::routing::{get, post};
use domain::auth::{Access, Permission, role_allows};
use domain::units::{AdminUnits, UnitVersion};
use maud::{Markup, html};
use serde::Deserialize;
use store::{LevelRun, RunStatus, UnitAssessment};
use uuid::Uuid;

use super::layout::page_for;
use super::outbreaks::{FormMap, banner, csrf_field, time_vn, unverified};
use super::{CsrfForm, PageError};
use crate::AppState;
use crate::api::levels::{self as api, CapacityBody, RunBody};
use crate::auth::{Caller, ClientIp, MaybeCaller};
use crate::authz::SecuredRouter;
use crate::i18n::Lang;

/// The section the pages belong to.
pub const SECTION: &str = "/epidemic-level";

/// Adds the epidemic level pages to the page router.
pub fn routes(r: SecuredRouter) -> SecuredRouter {
    use Method as M;
    r.route(M::GET, SECTION, Access::Public, get(public_page))
        .route(
            M::GET,
            "/epidemic-level/manage",
            Access::Requires(Permission::AssessLevels),
            get(manage_page),
        )
        .route(
            M::POST,
            "/epidemic-level/runs",
            Access::Requires(Permission::AssessLevels),
            post(compute),
        )
        .route(
            M::GET,
            "/epidemic-level/runs/{id}",
            Access::Requires(Permission::ViewSurveillance),
            get(run_page),
        )
        .route(
            M::POST,
            "/epidemic-level/runs/{id}/approve",
            Access::Requires(Permission::ApproveLevels),
            post(approve),
        )
        .route(
            M::POST,
            "/epidemic-level/capacity",
            Access::Requires(Permission::AssessLevels),
            post(capacity),
        )
}

/// Fill colour of a level.
fn colour(level: u8) -> &'static str {
    match level {
        1 => "#2e7d32",
        2 => "#f9a825",
        3 => "#ef6c00",
        _ => "#c62828",
    }
}

fn level_name(lang: Lang, level: u8) -> &'static str {
    match level {
        1 => lang.t("Cấp 1 – nguy cơ thấp (xanh)", "Level 1 – low (green)"),
        2 => lang.t(
            "Cấp 2 – nguy cơ trung bình (vàng)",
            "Level 2 – medium (yellow)",
        ),
        3 => lang.t("Cấp 3 – nguy cơ cao (cam)", "Level 3 – high (orange)"),
        _ => lang.t("Cấp 4 – nguy cơ rất cao (đỏ)", "Level 4 – very high (red)"),
    }
}

fn level_badge(lang: Lang, u: &UnitAssessment) -> Markup {
    html! {
        span style=(format!("display:inline-block;width:.9em;height:.9em;border-radius:2px;background:{};vertical-align:middle", colour(u.level))) {}
        " " (level_name(lang, u.level))
        @if u.unverified { (unverified(lang)) }
    }
}

fn date_vn(d: chrono::NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The communes of a run as points on an SVG map (equirectangular on their centres).
fn map_svg(lang: Lang, run: &LevelRun, units: &[UnitAssessment]) -> Markup {
    let hierarchy = AdminUnits::embedded().hierarchy(run.hierarchy);
    let points: Vec<(f64, f64, &UnitAssessment)> = units
        .iter()
        .filter(|u| u.unit_kind == "commune")
        .filter_map(|u| {
            let unit = hierarchy.get(&u.unit_code)?;
            Some((unit.lon?, unit.lat?, u))
        })
        .collect();
    if points.is_empty() {
        return html! { p.muted { (lang.t("Không có toạ độ xã để vẽ bản đồ.", "No commune coordinates to draw a map.")) } };
    }
    let (w, h, pad) = (640.0_f64, 480.0_f64, 16.0_f64);
    let min_x = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let max_x = points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let min_y = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let max_y = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    // Longitude degrees shrink with the cosine of the latitude.
    let k = ((min_y + max_y) / 2.0).to_radians().cos();
    let span_x = ((max_x - min_x) * k).max(1e-6);
    let span_y = (max_y - min_y).max(1e-6);
    let scale = ((w - 2.0 * pad) / span_x).min((h - 2.0 * pad) / span_y);
    let r = (scale * 0.012).clamp(3.0, 9.0);
    html! {
        svg.level-map xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {w} {h}")) width="100%" style="max-width:640px" role="img"
            aria-label=(lang.t("Bản đồ cấp độ dịch theo xã", "Map of epidemic levels by commune")) {
            rect x="0" y="0" width=(w) height=(h) fill="#f5f7fa" {}
            @for (x, y, u) in &points {
                circle cx=(format!("{:.1}", pad + (x - min_x) * k * scale))
                       cy=(format!("{:.1}", pad + (max_y - y) * scale))
                       r=(format!("{r:.1}")) fill=(colour(u.level)) stroke="#333" stroke-width="0.5" {
                    title { (u.unit_name) " — " (level_name(lang, u.level)) }
                }
            }
        }
        p.muted { (lang.t(
            "Mỗi chấm là trung tâm một xã/phường (toạ độ gần đúng); chưa có dữ liệu ranh giới với giấy phép phù hợp.",
            "Each dot is a commune's centre (approximate); no boundary data with a suitable licence is available.")) }
    }
}

fn legend(lang: Lang) -> Markup {
    html! {
        p {
            @for l in 1..=4u8 {
                span style=(format!("display:inline-block;width:.9em;height:.9em;background:{};margin:0 .3em 0 .8em", colour(l))) {}
                (level_name(lang, l))
            }
        }
    }
}

fn units_table(
    lang: Lang,
    hierarchy: UnitVersion,
    units: &[UnitAssessment],
    public: bool,
) -> Markup {
    let order = |k: &str| match k {
        "province" => 0,
        "district" => 1,
        _ => 2,
    };
    let mut sorted: Vec<&UnitAssessment> = units.iter().collect();
    sorted.sort_by(|a, b| {
        (order(&a.unit_kind), &a.parent_code, &a.unit_code).cmp(&(
            order(&b.unit_kind),
            &b.parent_code,
            &b.unit_code,
        ))
    });
    html! {
        table {
            thead { tr {
                th { (lang.t("Đơn vị", "Unit")) }
                th { (lang.t("Cấp độ", "Level")) }
                th { (lang.t("Ca mới/100.000/tuần", "New cases/100,000/week")) }
                th { (lang.t("Khủng hoảng", "Crisis")) }
                @if !public { th { (lang.t("Lý do", "Reasoning")) } }
            } }
            tbody {
                @for u in sorted {
                    tr {
                        td {
                            (u.unit_name) " (" (u.unit_code) ") "
                            a href=(format!("/epidemic-level/rt?unit={}&hierarchy={}", u.unit_code, hierarchy.as_str())) { "Rt" }
                        }
                        td { (level_badge(lang, u)) }
                        td { (u.assessment["criteria"]["cases_per_100k_week"].as_f64().map(|v| format!("{v:.1}").replace('.', ",")).unwrap_or_default()) }
                        td { @if u.crisis { strong style="color:#c62828" { (lang.t("CÓ", "YES")) } } @else { "—" } }
                        @if !public {
                            td {
                                @if let Some(steps) = u.assessment["steps"].as_array() {
                                    ul { @for s in steps { li { (s.as_str().unwrap_or_default()) } } }
                                }
                                @if let Some(r) = u.assessment["crisis_reasons"].as_array() {
                                    @for s in r { p style="color:#c62828" { (s.as_str().unwrap_or_default()) } }
                                }
                                @if let Some(r) = u.assessment["unverified"].as_array() {
                                    @if !r.is_empty() {
                                        details { summary { (lang.t("Dựa trên số chưa xác nhận", "Rests on unverified numbers")) }
                                            ul { @for s in r { li { (s.as_str().unwrap_or_default()) } } } }
                                    }
                                }
                                details { summary { (lang.t("Số liệu đầu vào", "Inputs")) }
                                    pre { (serde_json::to_string_pretty(&u.indicators).unwrap_or_default()) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn run_facts(lang: Lang, run: &LevelRun) -> Markup {
    html! {
        p {
            (lang.t("Tuần", "Week")) " " (date_vn(run.week_start)) "–" (date_vn(run.week_end))
            " · " (lang.t("bộ tiêu chí", "ruleset")) " " code { (run.ruleset) }
            " · " (lang.t("danh mục", "hierarchy")) " " (run.hierarchy.as_str())
            " · " (lang.t("hiệu lực từ", "in force from")) " " (time_vn(run.effective_at))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ProvinceQuery {
    pub province: Option<String>,
    pub done: Option<String>,
}

pub async fn public_page(
    State(state): State<AppState>,
    lang: Lang,
    MaybeCaller(who): MaybeCaller,
    axum::extract::Query(q): axum::extract::Query<ProvinceQuery>,
) -> Result<Markup, PageError> {
    let provinces = api::public_levels(&state, q.province.as_deref())
        .await
        .map_err(|error| PageError { error, lang })?;
    let title = lang.t("Cấp độ dịch", "Epidemic level");
    Ok(page_for(
        lang,
        who.as_deref(),
        Some(SECTION),
        title,
        html! {
            h1 { (title) }
            p { (lang.t(
                "Cấp độ dịch theo Nghị quyết 128/NQ-CP, đánh giá hằng tuần từ cấp xã, công bố trước 48 giờ khi có hiệu lực.",
                "Epidemic levels under Resolution 128/NQ-CP, assessed weekly from the commune up, announced 48 hours before they take effect.")) }
            (legend(lang))
            @if who.as_ref().is_some_and(|p| role_allows(p.user.role, Permission::AssessLevels)) {
                p { a href="/epidemic-level/manage" { (lang.t("Đánh giá và phê duyệt", "Assess and approve")) } }
            }
            @if provinces.is_empty() {
                p.notice { (lang.t("Chưa có cấp độ dịch nào được phê duyệt.", "No epidemic level has been approved yet.")) }
            }
            @for p in &provinces {
                section {
                    h2 { (p.province_name) }
                    p { a href=(format!("/epidemic-level/rt?unit={}", p.province_code)) {
                        (lang.t("Hệ số lây nhiễm Rt và dự báo 14 ngày", "Reproduction number Rt and 14-day forecast")) } }
                    @if let Some(a) = &p.announced {
                        p.notice {
                            (lang.t("Thông báo: cấp độ mới có hiệu lực từ ", "Announced: new levels take effect from "))
                            (time_vn(a.run.effective_at))
                            " (" (lang.t("tuần", "week")) " " (date_vn(a.run.week_start)) ")."
                        }
                    }
                    @match &p.in_force {
                        Some(r) => {
                            (run_facts(lang, &r.run))
                            (map_svg(lang, &r.run, &r.units))
                            (units_table(lang, r.run.hierarchy, &r.units, true))
                        }
                        None => {
                            p { (lang.t("Chưa có cấp độ đang có hiệu lực.", "No level in force yet.")) }
                            @if let Some(a) = &p.announced {
                                (run_facts(lang, &a.run))
                                (map_svg(lang, &a.run, &a.units))
                                (units_table(lang, a.run.hierarchy, &a.units, true))
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn status_name(lang: Lang, s: RunStatus) -> &'static str {
    match s {
        RunStatus::Proposed => lang.t("chờ phê duyệt", "awaiting approval"),
        RunStatus::Approved => lang.t("đã phê duyệt", "approved"),
        RunStatus::Superseded => lang.t("đã thay thế", "superseded"),
    }
}

pub async fn manage_page(
    State(state): State<AppState>,
    lang: Lang,
    Caller(p): Caller,
    axum::extract::Query(q): axum::extract::Query<ProvinceQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    // The caller's province by default.
    let units = AdminUnits::embedded();
    let own_province = p.user.scope.unit.as_ref().and_then(|u| {
        units
            .hierarchy(u.version)
            .province_of(&u.code)
            .map(|x| x.code.clone())
    });
    let province = q
        .province
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or(own_province)
        .unwrap_or_default();
    let runs = if province.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .level_runs(Some(&province), 50)
            .await
            .map_err(err)?
    };
    let alerts = if !province.is_empty() && role_allows(p.user.role, Permission::ApproveLevels) {
        api::alerts_for(&state, &p, &province, None)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let today = intake::care::local_date((state.clock)());
    let week = intake::levels::week_of(today);
    let title = lang.t("Đánh giá cấp độ dịch", "Epidemic level assessment");
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            h1 { (title) }
            (banner(lang, q.done.as_deref(), &[("capacity", "Đã lưu số liệu năng lực điều trị.", "Capacity figures saved.")]))
            form method="get" action="/epidemic-level/manage" {
                label { (lang.t("Mã tỉnh", "Province code")) " " input type="text" name="province" value=(province) size="4"; }
                " " button type="submit" { (lang.t("Xem", "Show")) }
            }
            @if !alerts.is_empty() {
                section.alert role="alert" style="border:2px solid #c62828;padding:.5em" {
                    h2 style="color:#c62828" { (lang.t("Cảnh báo khủng hoảng", "Crisis alerts")) }
                    p { (lang.t("Kịch bản biến chủng mới vượt quá khả năng của hệ thống y tế (kế hoạch Lai Châu 2023–2025):", "Scenario of a new variant overwhelming the health system (Lai Châu plan 2023–2025):")) }
                    ul { @for a in &alerts {
                        li { strong { (a.unit_name) } " (" (a.unit_code) "), " (lang.t("tuần", "week")) " " (date_vn(a.week_start)) ": " (a.reasons.join("; ")) }
                    } }
                }
            }
            h2 { (lang.t("Tính cấp độ cho một tuần", "Compute a week")) }
            form method="post" action="/epidemic-level/runs" {
                (csrf_field(&p))
                label { (lang.t("Mã tỉnh", "Province code")) " " input type="text" name="province_code" value=(province) size="4" required; }
                " " label { (lang.t("Tuần bắt đầu (thứ Hai)", "Week starting (Monday)")) " " input type="date" name="week_start" value=(week.to_string()); }
                " " label { (lang.t("Danh mục", "Hierarchy")) " " select name="hierarchy" {
                    option value="2025" { "2025" }
                    option value="pre2025" { (lang.t("Trước 2025", "Pre-2025")) }
                } }
                " " label { (lang.t("Bộ tiêu chí", "Ruleset")) " " select name="ruleset" {
                    option value="" { (lang.t("Đang có hiệu lực", "In force")) }
                    @for r in domain::epidemic_level::rulesets() { option value=(r.id) { (r.id) } }
                } }
                " " button type="submit" { (lang.t("Tính", "Compute")) }
            }
            h2 { (lang.t("Các lượt đánh giá", "Runs")) }
            @if runs.is_empty() { p { (lang.t("Chưa có lượt nào.", "No run yet.")) } } @else {
                table {
                    thead { tr { th { (lang.t("Tuần", "Week")) } th { (lang.t("Trạng thái", "Status")) } th { (lang.t("Đơn vị", "Units")) } th { (lang.t("Khủng hoảng", "Crisis")) } th { (lang.t("Hiệu lực", "In force from")) } th {} } }
                    tbody { @for r in &runs { tr {
                        td { (date_vn(r.week_start)) } td { (status_name(lang, r.status)) } td { (r.units) } td { (r.crisis_units) }
                        td { (time_vn(r.effective_at)) }
                        td { a href=(format!("/epidemic-level/runs/{}", r.id)) { (lang.t("Xem", "Open")) } }
                    } } }
                }
            }
            h2 { (lang.t("Năng lực điều trị (nhập tay)", "Treatment capacity (typed)")) }
            form method="post" action="/epidemic-level/capacity" {
                (csrf_field(&p))
                label { (lang.t("Mã đơn vị", "Unit code")) " " input type="text" name="unit_code" value=(province) size="6" required; }
                " " label { (lang.t("Tuần bắt đầu", "Week starting")) " " input type="date" name="week_start" value=(week.to_string()) required; }
                " " label { (lang.t("Giường COVID còn trống", "Free COVID beds")) " " input type="number" step="any" min="0" name="free_covid_beds"; }
                " " label { (lang.t("Giường ICU có nhân lực", "Staffed ICU beds")) " " input type="number" step="any" min="0" name="icu_beds_staffed"; }
                " " label { (lang.t("Ca thở oxy (TB 7 ngày)", "Cases on oxygen (7-day avg)")) " " input type="number" step="any" min="0" name="oxygen_cases_7d_avg"; }
                " " button type="submit" { (lang.t("Lưu", "Save")) }
            }
            p { a href=(SECTION) { (lang.t("Trang công khai", "Public page")) } }
        },
    ))
}

pub async fn compute(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let err = |error| PageError { error, lang };
    let week_start = match f.text("week_start") {
        Some(w) => Some(w.parse().map_err(|_| {
            err(domain::Error::invalid(
                "week_start",
                format!("Ngày «{w}» không hợp lệ"),
                format!("Invalid date «{w}»"),
            ))
        })?),
        None => None,
    };
    let body = RunBody {
        province_code: f.get("province_code"),
        hierarchy: f.text("hierarchy"),
        week_start,
        ruleset: f.text("ruleset"),
    };
    let req = api::week_request(&state, &body).map_err(err)?;
    let out = api::compute(&state, &p, &ip, &req).await.map_err(err)?;
    Ok(Redirect::to(&format!(
        "/epidemic-level/runs/{}",
        out.run.id
    )))
}

pub async fn run_page(
    State(state): State<AppState>,
    lang: Lang,
    Caller(p): Caller,
    Path(id): Path<Uuid>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let run = api::visible_run(&state, &p, id).await.map_err(err)?;
    let units = state.store.level_units(run.id).await.map_err(err)?;
    let title = lang.t("Lượt đánh giá cấp độ dịch", "Epidemic level run");
    let may_approve = run.status == RunStatus::Proposed
        && role_allows(p.user.role, Permission::ApproveLevels)
        && crate::authz::covers_unit(
            AdminUnits::embedded(),
            &p,
            &domain::auth::UnitRef::new(run.hierarchy, run.province_code.clone()),
        );
    let name = AdminUnits::embedded()
        .hierarchy(run.hierarchy)
        .get(&run.province_code)
        .map(|u| u.name.clone())
        .unwrap_or_default();
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            h1 { (title) ": " (name) }
            (run_facts(lang, &run))
            p { (lang.t("Trạng thái", "Status")) ": " strong { (status_name(lang, run.status)) }
                " · " (lang.t("tính lúc", "computed")) " " (time_vn(run.computed_at)) " " (lang.t("bởi", "by")) " " (run.computed_by)
                @if let (Some(by), Some(at)) = (&run.approved_by, run.approved_at) {
                    " · " (lang.t("phê duyệt", "approved")) " " (time_vn(at)) " " (lang.t("bởi", "by")) " " (by)
                }
            }
            @if may_approve {
                form method="post" action=(format!("/epidemic-level/runs/{}/approve", run.id)) {
                    (csrf_field(&p))
                    button type="submit" { (lang.t("Phê duyệt và công bố (hiệu lực sau 48 giờ)", "Approve and announce (in force after 48 hours)")) }
                }
            }
            (legend(lang))
            (map_svg(lang, &run, &units))
            (units_table(lang, run.hierarchy, &units, false))
            p { a href=(format!("/epidemic-level/manage?province={}", run.province_code)) { (lang.t("Quay lại", "Back")) } }
        },
    ))
}

pub async fn approve(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<Uuid>,
    CsrfForm(_f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    api::approve_run(&state, &p, &ip, id)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to(&format!("/epidemic-level/runs/{id}")))
}

pub async fn capacity(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let err = |error| PageError { error, lang };
    let week = f.get("week_start");
    let week_start = week.parse().map_err(|_| {
        err(domain::Error::invalid(
            "week_start",
            format!("Ngày «{week}» không hợp lệ"),
            format!("Invalid date «{week}»"),
        ))
    })?;
    let body = CapacityBody {
        unit_code: f.get("unit_code"),
        hierarchy: None,
        week_start,
        free_covid_beds: f
            .number("free_covid_beds", "Giường COVID còn trống")
            .map_err(err)?,
        icu_beds_staffed: f
            .number("icu_beds_staffed", "Giường hồi sức có nhân lực")
            .map_err(err)?,
        oxygen_cases_7d_avg: f
            .number("oxygen_cases_7d_avg", "Ca thở oxy (trung bình 7 ngày)")
            .map_err(err)?,
    };
    let input = api::save_capacity(&state, &p, &ip, &body)
        .await
        .map_err(err)?;
    let province = AdminUnits::embedded()
        .hierarchy(api::hierarchy_of_code(&input.unit_code))
        .province_of(&input.unit_code)
        .map(|u| u.code.clone())
        .unwrap_or_default();
    Ok(Redirect::to(&format!(
        "/epidemic-level/manage?province={province}&done=capacity"
    )))
}
