//! Vaccination pages (issue 5): the section's landing page (`/vaccination`) linking to its
//! tools; coverage of a unit (`/vaccination/coverage?unit=&hierarchy=&as_of=`) as a table of age
//! groups × dose levels with counts and percentages, a server-drawn SVG bar chart of the same,
//! and a chart and table of the units below for one level and age group, each linking down; and
//! the allocation planner (`/vaccination/allocation`), a GET form whose result shows the split,
//! the needs it came from, the formula and each reasoning step. No JavaScript needed.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::allocation::PriorityGroup;
use domain::schedule::Rules;
use domain::units::{UnitLevel, UnitVersion};
use maud::{Markup, html};
use serde::Deserialize;
use store::{CoverageReport, CoverageUnit, Level};

use super::PageError;
use super::layout::page_for;
use crate::AppState;
use crate::api::coverage::{AllocationQuery, allocation_for, coverage_params};
use crate::auth::{Caller, MaybeCaller, Principal};
use crate::i18n::{Lang, date_vn, int_vn};

const SECTION: &str = "/vaccination";

/// The dose levels shown, with their labels and bar colours.
const LEVELS: [(Level, &str, &str, &str); 4] = [
    (
        Level::AtLeastOne,
        "Đã tiêm ≥1 mũi",
        "At least one dose",
        "#8fb8e6",
    ),
    (
        Level::PrimaryComplete,
        "Đủ mũi cơ bản",
        "Primary series complete",
        "#3d7cc9",
    ),
    (Level::Booster1, "Nhắc lại 1", "Booster 1", "#1f9d6b"),
    (Level::Booster2, "Nhắc lại 2", "Booster 2", "#0d5e3f"),
];

fn level_label(lang: Lang, level: Level) -> &'static str {
    LEVELS
        .iter()
        .find(|l| l.0 == level)
        .map(|l| lang.t(l.1, l.2))
        .unwrap_or(lang.t("Dân số", "Population"))
}

fn group_label(lang: Lang, g: &str) -> String {
    match g {
        "all" => lang.t("Mọi lứa tuổi", "All ages").to_string(),
        "18+" | "50+" | "65+" => format!("{} {}", lang.t("Từ", "Aged"), g),
        _ => format!("{g} {}", lang.t("tuổi", "years")),
    }
}

/// `85,3%` (vi) or `85.3%` (en); `—` without a denominator.
fn pct(lang: Lang, n: u64, d: u64) -> String {
    if d == 0 {
        return "—".into();
    }
    let tenths = (u128::from(n) * 1000 + u128::from(d) / 2) / u128::from(d);
    let sep = if lang == Lang::Vi { ',' } else { '.' };
    format!("{}{sep}{}%", tenths / 10, tenths % 10)
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// `/vaccination`: the section's tools.
pub async fn landing(lang: Lang, MaybeCaller(who): MaybeCaller) -> Markup {
    let title = lang.t("Tiêm chủng", "Vaccination");
    let tools = [
        (
            "/vaccination/coverage",
            lang.t("Độ bao phủ tiêm chủng", "Vaccination coverage"),
            lang.t(
                "Theo đơn vị, nhóm tuổi và mũi tiêm; mẫu số là dân cư trong sổ.",
                "By unit, age group and dose; denominators are the register's residents.",
            ),
        ),
        (
            "/vaccination/record",
            lang.t("Ghi nhận mũi tiêm", "Record doses"),
            lang.t(
                "Tìm người, ghi mũi tiêm với cảnh báo lịch tiêm; nhập tệp.",
                "Find a person, record a dose with schedule warnings; import files.",
            ),
        ),
        (
            "/vaccination/followup",
            lang.t("Danh sách rà soát tận nhà", "Door-to-door lists"),
            lang.t(
                "Người chưa tiêm hoặc quá hạn mũi tiếp theo, theo xã.",
                "Residents not vaccinated or overdue for their next dose, per commune.",
            ),
        ),
        (
            "/vaccination/allocation",
            lang.t("Phân bổ vắc xin", "Vaccine allocation"),
            lang.t(
                "Đề xuất chia lô vắc xin cho đơn vị cấp dưới theo nhu cầu và nhóm ưu tiên.",
                "A recommended split of a delivery to the units below, by need and priority group.",
            ),
        ),
    ];
    page_for(
        lang,
        who.as_deref(),
        Some(SECTION),
        title,
        html! {
            h1 { (title) }
            ul.tools #vaccination-tools {
                @for (href, name, what) in tools {
                    li { a href=(href) { (name) } " — " span.muted { (what) } }
                }
            }
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct CoveragePageQuery {
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub as_of: Option<String>,
    /// Level of the chart of units below (default `at_least_one`).
    pub level: Option<String>,
    /// Age group of the chart of units below (default `18+`).
    pub group: Option<String>,
}

fn query_link(unit: &str, hierarchy: UnitVersion, as_of: chrono::NaiveDate) -> String {
    format!(
        "/vaccination/coverage?{}",
        serde_urlencoded::to_string([
            ("unit", unit),
            ("hierarchy", hierarchy.as_str()),
            ("as_of", &as_of.to_string()),
        ])
        .unwrap_or_default()
    )
}

/// `/vaccination/coverage`.
pub async fn coverage_page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(q): Query<CoveragePageQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let title = lang.t("Độ bao phủ tiêm chủng", "Vaccination coverage");
    let hierarchy = q
        .hierarchy
        .as_deref()
        .and_then(|h| UnitVersion::parse(h).ok());
    let chosen = q.unit.as_deref().is_some_and(|u| !u.trim().is_empty());
    let (unit, as_of) = if chosen {
        let (u, d) = coverage_params(
            &state,
            q.unit.as_deref(),
            q.hierarchy.as_deref(),
            q.as_of.as_deref(),
        )
        .map_err(err)?;
        (Some(u), d)
    } else {
        let d = coverage_params(&state, Some("01"), Some("2025"), q.as_of.as_deref())
            .map_err(err)?
            .1;
        (None, d)
    };
    let version = unit
        .as_ref()
        .map(|u| u.hierarchy)
        .or(hierarchy)
        .unwrap_or(UnitVersion::V2025);
    let level = q
        .level
        .as_deref()
        .and_then(Level::parse)
        .filter(|l| *l != Level::Population)
        .unwrap_or(Level::AtLeastOne);
    let group = q
        .group
        .clone()
        .filter(|g| store::coverage::AGE_GROUPS.iter().any(|a| a.0 == g))
        .unwrap_or_else(|| "18+".into());
    let mut report = None;
    let mut children = Vec::new();
    if let Some(u) = &unit {
        report = Some(
            store::coverage_report(state.store.as_ref(), u, as_of)
                .await
                .map_err(err)?,
        );
        if u.level != UnitLevel::Commune {
            children = intake::allocation_need::child_reports(state.store.as_ref(), u, as_of)
                .await
                .map_err(err)?;
        }
    }
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            p.breadcrumb { a href=(SECTION) { (lang.t("Tiêm chủng", "Vaccination")) } }
            h1 { (title) @if let Some(u) = &unit { " — " (u.name) } }
            (coverage_picker(&state, lang, version, unit.as_ref(), as_of, level, &group))
            @if let (Some(u), Some(r)) = (&unit, &report) {
                (unit_path(&state, lang, u, |code| query_link(code, u.hierarchy, as_of)))
                p.muted {
                    (lang.t("Tính đến ngày ", "As of ")) (date_vn(as_of)) ". "
                    (lang.t("Mẫu số: người cư trú trong sổ dân cư; tuổi tính đúng đến ngày.",
                            "Denominators: residents in the register; ages exact on the date."))
                }
                (coverage_table(lang, r))
                section.card {
                    h2 { (lang.t("Tỷ lệ bao phủ theo nhóm tuổi", "Coverage by age group")) }
                    (groups_chart(lang, r))
                }
                @if !children.is_empty() {
                    section.card #children {
                        h2 {
                            (level_label(lang, level)) ", " (group_label(lang, &group)) " — "
                            (lang.t("theo đơn vị trực thuộc", "by unit below"))
                        }
                        (children_chart(lang, &children, level, &group))
                        (children_table(lang, &children, u.hierarchy, as_of, level, &group))
                    }
                }
            } @else {
                p.muted { (lang.t("Chọn một tỉnh để xem độ bao phủ, rồi đi xuống huyện, xã.",
                                  "Pick a province to see its coverage, then go down to districts and communes.")) }
            }
        },
    ))
}

fn coverage_picker(
    state: &AppState,
    lang: Lang,
    version: UnitVersion,
    unit: Option<&CoverageUnit>,
    as_of: chrono::NaiveDate,
    level: Level,
    group: &str,
) -> Markup {
    let h = state.units.hierarchy(version);
    let selected_province = unit.and_then(|u| {
        h.province_of(&u.code)
            .map(|p| p.code.clone())
            .or_else(|| Some(u.code.clone()))
    });
    html! {
        form.unit-picker #coverage-picker method="get" action="/vaccination/coverage" {
            label {
                (lang.t("Danh mục", "Unit list"))
                select name="hierarchy" {
                    option value="2025" selected[version == UnitVersion::V2025] { (lang.t("2025 (34 tỉnh)", "2025 (34 provinces)")) }
                    option value="pre2025" selected[version == UnitVersion::Pre2025] { (lang.t("Trước 2025 (63 tỉnh)", "Pre-2025 (63 provinces)")) }
                }
            }
            label {
                (lang.t("Tỉnh/thành phố", "Province"))
                select name="unit" {
                    option value="" { (lang.t("— Chọn tỉnh —", "— Choose a province —")) }
                    @for u in h.provinces() {
                        option value=(u.code) selected[selected_province.as_deref() == Some(u.code.as_str())] { (u.name) }
                    }
                }
            }
            label {
                (lang.t("Tính đến ngày (dd/mm/yyyy)", "As of (dd/mm/yyyy)"))
                input type="text" name="as_of" value=(date_vn(as_of)) pattern="[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2}";
            }
            label {
                (lang.t("Mũi (biểu đồ đơn vị dưới)", "Level (chart of units below)"))
                select name="level" {
                    @for (l, vi, en, _) in LEVELS {
                        option value=(l.as_str()) selected[l == level] { (lang.t(vi, en)) }
                    }
                }
            }
            label {
                (lang.t("Nhóm tuổi", "Age group"))
                select name="group" {
                    @for (g, _, _) in store::coverage::AGE_GROUPS {
                        option value=(g) selected[g == group] { (group_label(lang, g)) }
                    }
                }
            }
            button type="submit" { (lang.t("Xem", "Show")) }
        }
    }
}

/// Links up the hierarchy (province → district → unit), each to `link(code)` (shared by the
/// coverage and Rt pages).
pub fn unit_path(
    state: &AppState,
    lang: Lang,
    u: &CoverageUnit,
    link: impl Fn(&str) -> String,
) -> Markup {
    let chain = state.units.hierarchy(u.hierarchy).ancestors(&u.code);
    html! {
        @if !chain.is_empty() {
            p.breadcrumb #unit-path {
                (lang.t("Thuộc: ", "Within: "))
                @for x in chain {
                    a href=(link(&x.code)) { (x.name) } " › "
                }
                (u.name)
            }
        }
    }
}

fn coverage_table(lang: Lang, r: &CoverageReport) -> Markup {
    html! {
        table #coverage-table {
            thead { tr {
                th { (lang.t("Nhóm tuổi", "Age group")) }
                th.num { (lang.t("Dân số", "Population")) }
                @for (_, vi, en, _) in LEVELS { th.num { (lang.t(vi, en)) } th.num { "%" } }
            } }
            tbody {
                @for g in &r.groups {
                    tr data-group=(g.age_group) {
                        td { (group_label(lang, &g.age_group)) }
                        td.num { (int_vn(g.population)) }
                        @for (l, _, _, _) in LEVELS {
                            td.num data-level=(l.as_str()) { (int_vn(g.count(l))) }
                            td.num { (pct(lang, g.count(l), g.population)) }
                        }
                    }
                }
            }
        }
    }
}

/// Grouped vertical bars: for each age group, the share of each level.
fn groups_chart(lang: Lang, r: &CoverageReport) -> Markup {
    let (left, top, plot_h, bar_w, gap) = (36.0, 10.0, 160.0, 14.0, 18.0);
    let group_w = bar_w * LEVELS.len() as f64 + gap;
    let width = left + group_w * r.groups.len() as f64 + 10.0;
    let height = top + plot_h + 60.0;
    html! {
        svg #coverage-chart viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height) role="img"
            aria-label=(lang.t("Tỷ lệ bao phủ theo nhóm tuổi và mũi tiêm", "Coverage by age group and dose")) {
            @for t in [0u32, 25, 50, 75, 100] {
                @let y = top + plot_h * (1.0 - f64::from(t) / 100.0);
                line x1=(left) x2=(width - 10.0) y1=(y) y2=(y) stroke="#e3e7ec" {}
                text x=(left - 4.0) y=(y + 3.0) text-anchor="end" font-size="10" fill="#5b6673" { (t) "%" }
            }
            @for (i, g) in r.groups.iter().enumerate() {
                @let x0 = left + gap / 2.0 + group_w * i as f64;
                @for (j, (l, vi, en, colour)) in LEVELS.iter().enumerate() {
                    @let h = plot_h * ratio(g.count(*l), g.population);
                    rect x=(x0 + bar_w * j as f64) y=(top + plot_h - h) width=(bar_w - 2.0) height=(h) fill=(colour) {
                        title { (group_label(lang, &g.age_group)) ", " (lang.t(vi, en)) ": " (pct(lang, g.count(*l), g.population)) }
                    }
                }
                text x=(x0 + bar_w * 2.0) y=(top + plot_h + 14.0) text-anchor="middle" font-size="11" fill="#1b1f24" { (g.age_group) }
            }
            @for (j, (_, vi, en, colour)) in LEVELS.iter().enumerate() {
                @let x = left + 130.0 * j as f64;
                rect x=(x) y=(top + plot_h + 30.0) width="10" height="10" fill=(colour) {}
                text x=(x + 14.0) y=(top + plot_h + 39.0) font-size="11" fill="#1b1f24" { (lang.t(vi, en)) }
            }
        }
    }
}

fn group_of<'a>(r: &'a CoverageReport, group: &str) -> Option<&'a store::coverage::CoverageGroup> {
    r.groups.iter().find(|g| g.age_group == group)
}

/// Horizontal bars: one per unit below, the share of `level` in `group`.
fn children_chart(lang: Lang, children: &[CoverageReport], level: Level, group: &str) -> Markup {
    let (label_w, bar_max, row_h) = (190.0, 300.0, 16.0);
    let height = row_h * children.len() as f64 + 8.0;
    let width = label_w + bar_max + 60.0;
    let colour = LEVELS
        .iter()
        .find(|l| l.0 == level)
        .map(|l| l.3)
        .unwrap_or("#3d7cc9");
    html! {
        svg #children-chart viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height) role="img"
            aria-label=(lang.t("Tỷ lệ bao phủ của các đơn vị trực thuộc", "Coverage of the units below")) {
            @for (i, c) in children.iter().enumerate() {
                @let y = 4.0 + row_h * i as f64;
                @let (n, d) = group_of(c, group).map(|g| (g.count(level), g.population)).unwrap_or((0, 0));
                @let w = bar_max * ratio(n, d);
                text x=(label_w - 6.0) y=(y + 11.0) text-anchor="end" font-size="11" fill="#1b1f24" { (c.unit_name) }
                rect x=(label_w) y=(y) width=(bar_max) height=(row_h - 3.0) fill="#eef2f6" {}
                rect x=(label_w) y=(y) width=(w) height=(row_h - 3.0) fill=(colour) {
                    title { (c.unit_name) ": " (pct(lang, n, d)) }
                }
                text x=(label_w + bar_max + 4.0) y=(y + 11.0) font-size="11" fill="#1b1f24" { (pct(lang, n, d)) }
            }
        }
    }
}

fn children_table(
    lang: Lang,
    children: &[CoverageReport],
    hierarchy: UnitVersion,
    as_of: chrono::NaiveDate,
    level: Level,
    group: &str,
) -> Markup {
    html! {
        table #children-table {
            thead { tr {
                th { (lang.t("Đơn vị", "Unit")) }
                th.num { (lang.t("Dân số", "Population")) }
                th.num { (level_label(lang, level)) }
                th.num { "%" }
            } }
            tbody {
                @for c in children {
                    @let (n, d) = group_of(c, group).map(|g| (g.count(level), g.population)).unwrap_or((0, 0));
                    tr data-unit=(c.unit) {
                        td { a href=(query_link(&c.unit, hierarchy, as_of)) { (c.unit_name) } }
                        td.num { (int_vn(d)) }
                        td.num { (int_vn(n)) }
                        td.num { (pct(lang, n, d)) }
                    }
                }
            }
        }
    }
}

/// `/vaccination/allocation`: the form, and with `unit`, `product` and `doses` the plan.
pub async fn allocation_page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(q): Query<AllocationQuery>,
) -> Response {
    let title = lang.t("Phân bổ vắc xin", "Vaccine allocation");
    let submitted = q.unit.as_deref().is_some_and(|u| !u.trim().is_empty());
    let (status, result) = if submitted {
        match allocation_for(&state, &p, &q).await {
            Ok(plan) => (StatusCode::OK, plan_view(lang, &plan)),
            Err(e) => (
                crate::error::status_of(e.code),
                html! { p.error #allocation-error { (e.message(lang == Lang::En)) } },
            ),
        }
    } else {
        (StatusCode::OK, html! {})
    };
    let body = page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            p.breadcrumb { a href=(SECTION) { (lang.t("Tiêm chủng", "Vaccination")) } }
            h1 { (title) }
            p.muted {
                (lang.t("Đề xuất chia một lô vắc xin của tỉnh (hoặc huyện) cho các đơn vị trực thuộc theo nhu cầu chưa đáp ứng, nhóm ưu tiên trước. Quyết định cuối cùng thuộc cơ quan y tế.",
                        "A recommended split of a province's (or district's) delivery to the units below by unmet need, priority groups first. The health authority decides."))
            }
            (allocation_form(&state, lang, &p, &q))
            (result)
        },
    );
    (status, body).into_response()
}

fn allocation_form(state: &AppState, lang: Lang, p: &Principal, q: &AllocationQuery) -> Markup {
    let scope = p.user.scope.unit.as_ref();
    let unit = q
        .unit
        .clone()
        .or_else(|| scope.map(|s| s.code.clone()))
        .unwrap_or_default();
    let hierarchy = q
        .hierarchy
        .clone()
        .or_else(|| scope.map(|s| s.version.as_str().to_string()))
        .unwrap_or_else(|| "2025".into());
    let as_of = q
        .as_of
        .clone()
        .unwrap_or_else(|| date_vn(crate::api::coverage::today(state)));
    let product = q.product.clone().unwrap_or_default();
    html! {
        form.grid #allocation-form method="get" action="/vaccination/allocation" {
            label {
                (lang.t("Danh mục", "Unit list"))
                select name="hierarchy" {
                    option value="2025" selected[hierarchy == "2025"] { "2025" }
                    option value="pre2025" selected[hierarchy == "pre2025"] { (lang.t("Trước 2025", "Pre-2025")) }
                }
            }
            label {
                (lang.t("Mã tỉnh hoặc huyện", "Province or district code"))
                input type="text" name="unit" value=(unit) required;
            }
            label {
                (lang.t("Vắc xin", "Vaccine"))
                select name="product" {
                    @for r in &Rules::embedded().products {
                        option value=(r.mp) selected[product == r.mp || product.eq_ignore_ascii_case(&r.label)] { (r.label) }
                    }
                }
            }
            label {
                (lang.t("Số liều", "Doses"))
                input type="number" name="doses" min="0" value=[q.doses.as_deref()] required;
            }
            label {
                (lang.t("Tính đến ngày (dd/mm/yyyy)", "As of (dd/mm/yyyy)"))
                input type="text" name="as_of" value=(as_of);
            }
            button type="submit" { (lang.t("Tính phân bổ", "Compute the split")) }
        }
    }
}

fn plan_view(lang: Lang, plan: &intake::allocation_need::AllocationPlan) -> Markup {
    let a = &plan.allocation;
    let group_name = |g: PriorityGroup| lang.t(g.label_vi(), g.label_en());
    html! {
        section.card #allocation-result {
            h2 {
                (plan.unit_name) ": " (int_vn(a.doses)) " " (lang.t("liều", "doses")) " " (plan.product_label)
            }
            p {
                (lang.t("Đã phân bổ: ", "Allocated: ")) strong #allocated { (int_vn(a.allocated)) }
                "; " (lang.t("còn lại: ", "left over: ")) strong #left-over { (int_vn(a.left_over)) }
                " (" (lang.t("tính đến ", "as of ")) (date_vn(plan.as_of)) ")"
            }
            h3 { (lang.t("Các bước", "Steps")) }
            ol #allocation-steps {
                @for s in &a.steps {
                    li data-group=(s.group.code()) data-given=(s.given) {
                        (if lang == Lang::En { &s.explanation_en } else { &s.explanation_vi })
                    }
                }
            }
            table #allocation-table {
                thead { tr {
                    th { (lang.t("Đơn vị", "Unit")) }
                    @for g in &plan.groups { th.num title=(group_name(*g)) { (g.code()) } }
                    th.num { (lang.t("Tổng phân bổ", "Total")) }
                    th.num { (lang.t("Nhu cầu", "Need")) }
                } }
                tbody {
                    @for u in &a.units {
                        tr data-unit=(u.unit_code) {
                            td { (u.unit_name) }
                            @for (_, n) in &u.by_group { td.num { (int_vn(*n)) } }
                            td.num { strong { (int_vn(u.doses)) } }
                            td.num { (int_vn(u.need)) }
                        }
                    }
                }
            }
            details {
                summary { (lang.t("Nhu cầu tính thế nào", "How the need is computed")) }
                p { (if lang == Lang::En { plan.need_formula_en } else { plan.need_formula_vi }) }
                p.muted {
                    (plan.product_label) ": " (plan.primary_doses) " "
                    (lang.t("mũi cơ bản; các nhóm đủ tuổi: ", "primary doses; eligible groups: "))
                    @for (i, g) in plan.groups.iter().enumerate() { @if i > 0 { ", " } (g.code()) }
                }
                table #needs-table {
                    thead { tr {
                        th { (lang.t("Đơn vị", "Unit")) } th { (lang.t("Nhóm", "Group")) }
                        th.num { (lang.t("Dân số", "Population")) } th.num { (level_label(lang, Level::AtLeastOne)) }
                        th.num { (level_label(lang, Level::PrimaryComplete)) } th.num { (level_label(lang, Level::Booster1)) }
                        th.num { (lang.t("Nhu cầu", "Need")) }
                    } }
                    tbody {
                        @for c in &plan.needs {
                            @for g in &c.groups {
                                tr {
                                    td { (c.unit_name) } td { (g.group.code()) }
                                    td.num { (int_vn(g.counts.population)) } td.num { (int_vn(g.counts.at_least_one)) }
                                    td.num { (int_vn(g.counts.primary_complete)) } td.num { (int_vn(g.counts.booster1)) }
                                    td.num { (int_vn(g.need)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(pct(Lang::Vi, 853, 1000), "85,3%");
        assert_eq!(pct(Lang::En, 1, 3), "33.3%");
        assert_eq!(pct(Lang::Vi, 2, 3), "66,7%");
        assert_eq!(pct(Lang::Vi, 5, 0), "—");
        assert_eq!(pct(Lang::Vi, 7, 7), "100,0%");
    }
}
