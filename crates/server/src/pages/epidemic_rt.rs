//! `/epidemic-level/rt?unit=CODE[&hierarchy=2025|pre2025][&days=N][&as_of=dd/mm/yyyy]` (public,
//! aggregates only): the reproduction number Rt of a unit and a 14-day case forecast, over
//! [`intake::rt::unit_rt`] (the same numbers as `GET /api/v1/rt`).
//!
//! - A daily cases bar chart with the forecast's median and 95% band appended after `as_of`.
//! - The Rt chart: posterior mean line, 95% credible band, a dashed line at Rt = 1; only windows
//!   with enough cases are drawn ([`intake::rt::MIN_WINDOW_CASES`]).
//! - A table of the latest windows (dates, cases, mean, 95% CrI), a short explanation of the
//!   method with the serial interval's source ("cần xác nhận" when unverified), the units above
//!   and links to the units below.
//!
//! Without `unit`, the province of the unit picker (`p`) or else [`DEFAULT_PROVINCE`] (the demo's
//! province). Charts are inline SVG drawn here (presentation attributes only: the CSP forbids
//! inline styles); dates dd/mm on the axes, dd/mm/yyyy in the text. No JavaScript.

use axum::extract::{Query, State};
use axum::http::Method;
use axum::routing::get;
use chrono::{Days, NaiveDate};
use domain::auth::Access;
use domain::units::UnitVersion;
use intake::rt::{FORECAST_DAYS, MIN_WINDOW_CASES, RtStatus, UnitRt, UnitWindow};
use maud::{Markup, html};
use serde::Deserialize;
use store::CoverageUnit;

use super::PageError;
use super::coverage::unit_path;
use super::layout::page_for;
use crate::AppState;
use crate::api::rt::{RtQuery, rt_params};
use crate::auth::MaybeCaller;
use crate::authz::SecuredRouter;
use crate::i18n::{Lang, date_vn, int_vn};

/// The menu section the page belongs to.
pub const SECTION: &str = "/epidemic-level";
/// The page's path.
pub const PATH: &str = "/epidemic-level/rt";
/// The unit shown when none is chosen: the demo's province (Lai Châu).
pub const DEFAULT_PROVINCE: &str = "12";
/// Windows listed in the table (newest first).
const TABLE_WINDOWS: usize = 14;

// Chart geometry (px) and colours.
const CHART_W: f64 = 760.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const PLOT_H: f64 = 190.0;
const BOTTOM: f64 = 62.0;
const INK: &str = "#1b1f24";
const MUTED: &str = "#5b6673";
const GRID: &str = "#e3e7ec";
const BAR: &str = "#3d7cc9";
const FORECAST: &str = "#c0561b";
const BAND: &str = "#f0a35e";
const RT_LINE: &str = "#0d5e3f";
const RT_BAND: &str = "#8fd1b3";

/// Adds the page to the page router.
pub fn routes(r: SecuredRouter) -> SecuredRouter {
    r.route(Method::GET, PATH, Access::Public, get(page))
}

/// The page's query: the API's, plus the unit picker's province `p`.
#[derive(Debug, Default, Deserialize)]
pub struct RtPageQuery {
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub days: Option<String>,
    pub as_of: Option<String>,
    pub p: Option<String>,
}

fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// `GET /epidemic-level/rt`.
pub async fn page(
    State(state): State<AppState>,
    MaybeCaller(who): MaybeCaller,
    lang: Lang,
    Query(q): Query<RtPageQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let code = present(q.unit.as_deref())
        .or(present(q.p.as_deref()))
        .unwrap_or(DEFAULT_PROVINCE)
        .to_string();
    let api_q = RtQuery {
        unit: Some(code.clone()),
        hierarchy: q.hierarchy.clone(),
        days: q.days.clone(),
        as_of: q.as_of.clone(),
    };
    let (unit, as_of, days) = rt_params(&state, Some(&code), &api_q).map_err(err)?;
    let r = intake::rt::unit_rt(state.store.as_ref(), &unit, as_of, days)
        .await
        .map_err(err)?;
    let title = lang.t(
        "Hệ số lây nhiễm Rt và dự báo ca bệnh",
        "Rt and case forecast",
    );
    Ok(page_for(
        lang,
        who.as_deref(),
        Some(SECTION),
        title,
        html! {
            p.breadcrumb { a href=(SECTION) { (lang.t("Cấp độ dịch", "Epidemic level")) } }
            h1 { (title) " — " (unit.name) }
            (picker(&state, lang, &unit, as_of, days))
            (unit_path(&state, lang, &unit, |code| link(code, unit.hierarchy, as_of, days)))
            p.muted {
                (lang.t("Từ ngày ", "From ")) (date_vn(r.from))
                (lang.t(" đến ngày ", " to ")) (date_vn(r.to))
                " (" (days) (lang.t(" ngày). Chỉ số liệu tổng hợp, không có thông tin cá nhân.",
                                     " days). Aggregates only, no personal data."))
            }
            (summary(lang, &r))
            section.card #cases {
                h2 { (lang.t("Ca mới theo ngày và dự báo 14 ngày", "Daily new cases and 14-day forecast")) }
                (cases_chart(lang, &r))
            }
            section.card #rt {
                h2 { (lang.t("Hệ số lây nhiễm hiệu quả Rt", "Effective reproduction number Rt")) }
                (rt_chart(lang, &r))
            }
            section.card #windows {
                h2 { (lang.t("Các cửa sổ 7 ngày gần nhất", "Latest 7-day windows")) }
                (windows_table(lang, &r))
            }
            section.card #method {
                h2 { (lang.t("Phương pháp", "Method")) }
                (method(lang, &r))
            }
            (children(&state, lang, &unit, as_of, days))
        },
    ))
}

/// A link to this page for another unit.
fn link(code: &str, hierarchy: UnitVersion, as_of: NaiveDate, days: u32) -> String {
    format!(
        "{PATH}?{}",
        serde_urlencoded::to_string([
            ("unit", code),
            ("hierarchy", hierarchy.as_str()),
            ("days", &days.to_string()),
            ("as_of", &as_of.to_string()),
        ])
        .unwrap_or_default()
    )
}

/// A decimal number with the language's separator (`1,23` / `1.23`).
fn dec(lang: Lang, x: f64, places: usize) -> String {
    let s = format!("{x:.places$}");
    if lang == Lang::Vi {
        s.replace('.', ",")
    } else {
        s
    }
}

fn ddmm(d: NaiveDate) -> String {
    d.format("%d/%m").to_string()
}

fn picker(
    state: &AppState,
    lang: Lang,
    unit: &CoverageUnit,
    as_of: NaiveDate,
    days: u32,
) -> Markup {
    let h = state.units.hierarchy(unit.hierarchy);
    let province = h
        .province_of(&unit.code)
        .map(|p| p.code.clone())
        .unwrap_or_else(|| unit.code.clone());
    html! {
        form.unit-picker #rt-picker method="get" action=(PATH) {
            label {
                (lang.t("Danh mục", "Unit list"))
                select name="hierarchy" {
                    option value="2025" selected[unit.hierarchy == UnitVersion::V2025] { (lang.t("2025 (34 tỉnh)", "2025 (34 provinces)")) }
                    option value="pre2025" selected[unit.hierarchy == UnitVersion::Pre2025] { (lang.t("Trước 2025 (63 tỉnh)", "Pre-2025 (63 provinces)")) }
                }
            }
            label {
                (lang.t("Tỉnh/thành phố", "Province"))
                select name="unit" {
                    @for u in h.provinces() {
                        option value=(u.code) selected[u.code == province] { (u.name) }
                    }
                }
            }
            label {
                (lang.t("Số ngày", "Days"))
                input type="text" name="days" value=(days) inputmode="numeric" pattern="[0-9]{1,4}" size="4";
            }
            label {
                (lang.t("Đến ngày (dd/mm/yyyy)", "Up to (dd/mm/yyyy)"))
                input type="text" name="as_of" value=(date_vn(as_of)) pattern="[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2}";
            }
            button type="submit" { (lang.t("Xem", "Show")) }
        }
    }
}

/// `1,23 (KTC 95%: 1,05–1,43)`.
fn estimate_text(lang: Lang, w: &UnitWindow) -> String {
    let e = &w.estimate;
    format!(
        "{} ({} 95%: {}–{})",
        dec(lang, e.mean, 2),
        lang.t("KTC", "CrI"),
        dec(lang, e.q025, 2),
        dec(lang, e.q975, 2)
    )
}

fn summary(lang: Lang, r: &UnitRt) -> Markup {
    let last_cases = r.windows.last().map(|w| w.cases).unwrap_or(0);
    html! {
        @match (r.status, r.current()) {
            (RtStatus::Ok, Some(w)) => {
                p.headline #rt-current data-status="ok" {
                    "Rt " (lang.t("ngày ", "on ")) (date_vn(w.date_end)) ": "
                    strong { (estimate_text(lang, w)) }
                    @if w.estimate.q025 > 1.0 {
                        " — " (lang.t("dịch đang tăng (cả khoảng tin cậy trên 1).", "growing (the whole interval is above 1)."))
                    } @else if w.estimate.q975 < 1.0 {
                        " — " (lang.t("dịch đang giảm (cả khoảng tin cậy dưới 1).", "declining (the whole interval is below 1)."))
                    } @else {
                        " — " (lang.t("chưa kết luận được tăng hay giảm (khoảng tin cậy chứa 1).", "no clear trend (the interval contains 1)."))
                    }
                }
            }
            _ => {
                p.notice #rt-current data-status="not_enough_data" {
                    (match lang {
                        Lang::Vi => format!(
                            "Chưa đủ dữ liệu: cửa sổ 7 ngày gần nhất có {last_cases} ca (cần ít nhất {MIN_WINDOW_CASES}). Không ước tính Rt hiện tại và không dự báo."
                        ),
                        Lang::En => format!(
                            "Not enough data: the latest 7-day window has {last_cases} cases (at least {MIN_WINDOW_CASES} needed). No current Rt and no forecast."
                        ),
                    })
                }
            }
        }
    }
}

/// A step of 1, 2 or 5 × 10ⁿ giving about `ticks` intervals up to `max`.
fn nice_step(max: f64, ticks: f64) -> f64 {
    let raw = (max / ticks).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// The horizontal frame shared by both charts: one slot per day from the series' first day to
/// the last forecast day (or `to` without a forecast).
struct Frame {
    from: NaiveDate,
    slots: usize,
}

impl Frame {
    fn of(r: &UnitRt) -> Frame {
        Frame {
            from: r.from,
            slots: (r.series.len() + r.forecast.len()).max(1),
        }
    }

    fn slot_w(&self) -> f64 {
        (CHART_W - LEFT - RIGHT) / self.slots as f64
    }

    /// Left edge of day `i` (0-based from `from`).
    fn x(&self, i: usize) -> f64 {
        LEFT + self.slot_w() * i as f64
    }

    /// Centre of a date's slot.
    fn cx(&self, d: NaiveDate) -> f64 {
        let i = (d - self.from).num_days().max(0) as usize;
        self.x(i) + self.slot_w() / 2.0
    }

    /// Days between date labels: at most 8 labels.
    fn label_step(&self) -> usize {
        [1, 2, 7, 14, 28, 56, 91, 182, 365]
            .into_iter()
            .find(|s| self.slots.div_ceil(*s) <= 8)
            .unwrap_or(365)
    }
}

fn y_of(v: f64, max: f64) -> f64 {
    TOP + PLOT_H * (1.0 - (v / max).clamp(0.0, 1.0))
}

/// Gridlines with their values, the date axis (dd/mm) and the axis titles.
fn axes(lang: Lang, f: &Frame, max: f64, step: f64, places: usize, y_title: &str) -> Markup {
    let base = TOP + PLOT_H;
    let ticks: Vec<f64> = (0..)
        .map(|k| f64::from(k) * step)
        .take_while(|v| *v <= max + step * 1e-9)
        .collect();
    let label_step = f.label_step();
    html! {
        g.grid {
            @for v in &ticks {
                @let y = y_of(*v, max);
                line x1=(LEFT) x2=(CHART_W - RIGHT) y1=(y) y2=(y) stroke=(GRID) {}
                text x=(LEFT - 4.0) y=(y + 3.0) text-anchor="end" font-size="10" fill=(MUTED) { (dec(lang, *v, places)) }
            }
        }
        line x1=(LEFT) x2=(CHART_W - RIGHT) y1=(base) y2=(base) stroke=(MUTED) {}
        line x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(base) stroke=(MUTED) {}
        g.x-axis {
            @for i in (0..f.slots).step_by(label_step) {
                @let d = f.from + Days::new(i as u64);
                @let x = f.x(i) + f.slot_w() / 2.0;
                line x1=(x) x2=(x) y1=(base) y2=(base + 4.0) stroke=(MUTED) {}
                text x=(x) y=(base + 15.0) text-anchor="middle" font-size="10" fill=(INK) { (ddmm(d)) }
            }
        }
        text x=(LEFT + (CHART_W - LEFT - RIGHT) / 2.0) y=(base + 30.0) text-anchor="middle" font-size="11" fill=(MUTED) {
            (lang.t("Ngày (dd/mm)", "Date (dd/mm)"))
        }
        text x="12" y=(TOP + PLOT_H / 2.0) text-anchor="middle" font-size="11" fill=(MUTED)
            transform={ "rotate(-90 12 " (TOP + PLOT_H / 2.0) ")" } { (y_title) }
    }
}

/// A legend entry: a swatch (`rect`, `line` or dashed line) and its text.
fn legend(entries: &[(&str, &str, &str)]) -> Markup {
    let y = TOP + PLOT_H + 44.0;
    html! {
        g.legend {
            @for (i, (kind, colour, text)) in entries.iter().enumerate() {
                @let x = LEFT + 180.0 * i as f64;
                @match *kind {
                    "rect" => { rect x=(x) y=(y) width="12" height="10" fill=(colour) {} }
                    "band" => { rect x=(x) y=(y) width="12" height="10" fill=(colour) fill-opacity="0.45" {} }
                    "dash" => { line x1=(x) x2=(x + 14.0) y1=(y + 5.0) y2=(y + 5.0) stroke=(colour) stroke-width="1.5" stroke-dasharray="5 3" {} }
                    _ => { line x1=(x) x2=(x + 14.0) y1=(y + 5.0) y2=(y + 5.0) stroke=(colour) stroke-width="2" {} }
                }
                text x=(x + 18.0) y=(y + 9.0) font-size="11" fill=(INK) { (text) }
            }
        }
    }
}

/// `x,y x,y …` of a polygon going along `upper` and back along `lower`.
fn band_points(points: &[(f64, f64, f64)], max: f64) -> String {
    let mut s = String::new();
    for (x, _, hi) in points {
        s.push_str(&format!("{x:.1},{:.1} ", y_of(*hi, max)));
    }
    for (x, lo, _) in points.iter().rev() {
        s.push_str(&format!("{x:.1},{:.1} ", y_of(*lo, max)));
    }
    s.trim_end().to_string()
}

fn line_points(points: &[(f64, f64)], max: f64) -> String {
    points
        .iter()
        .map(|(x, v)| format!("{x:.1},{:.1}", y_of(*v, max)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// (a) Daily cases as bars, the forecast's 95% band and median after `as_of`.
fn cases_chart(lang: Lang, r: &UnitRt) -> Markup {
    let f = Frame::of(r);
    let top_value = r
        .series
        .iter()
        .map(|d| d.cases as f64)
        .chain(r.forecast.iter().map(|d| d.day.upper))
        .fold(1.0, f64::max);
    let step = nice_step(top_value, 4.0).max(1.0);
    let max = (top_value / step).ceil() * step;
    let base = TOP + PLOT_H;
    let bar_w = (f.slot_w() - if f.slot_w() > 3.0 { 1.0 } else { 0.0 }).max(0.5);
    let mut bars = String::new();
    for (i, d) in r.series.iter().enumerate().filter(|(_, d)| d.cases > 0) {
        bars.push_str(&format!(
            "M{:.1} {base:.1}V{:.1}h{bar_w:.2}V{base:.1}Z",
            f.x(i),
            y_of(d.cases as f64, max)
        ));
    }
    let band: Vec<(f64, f64, f64)> = r
        .forecast
        .iter()
        .map(|p| (f.cx(p.date), p.day.lower, p.day.upper))
        .collect();
    let median: Vec<(f64, f64)> = r
        .forecast
        .iter()
        .map(|p| (f.cx(p.date), p.day.median))
        .collect();
    let split = f.x(r.series.len());
    let height = TOP + PLOT_H + BOTTOM;
    let mut entries = vec![("rect", BAR, lang.t("Ca mới", "New cases"))];
    if !r.forecast.is_empty() {
        entries.push((
            "band",
            BAND,
            lang.t("Dự báo: khoảng 95%", "Forecast: 95% band"),
        ));
        entries.push((
            "line",
            FORECAST,
            lang.t("Dự báo: trung vị", "Forecast: median"),
        ));
    }
    html! {
        svg #cases-chart xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (CHART_W) " " (height) }
            width=(CHART_W) height=(height) role="img"
            aria-label=(lang.t("Số ca mới theo ngày và dự báo 14 ngày", "Daily new cases and 14-day forecast")) {
            title { (lang.t("Số ca mới theo ngày và dự báo 14 ngày", "Daily new cases and 14-day forecast")) }
            (axes(lang, &f, max, step, 0, lang.t("Ca mới/ngày", "New cases/day")))
            path.bars d=(bars) fill=(BAR) {}
            @if !r.forecast.is_empty() {
                line x1=(split) x2=(split) y1=(TOP) y2=(base) stroke=(MUTED) stroke-dasharray="3 3" {}
                text x=(split + 3.0) y=(TOP + 10.0) font-size="10" fill=(MUTED) { (lang.t("Dự báo", "Forecast")) }
                polygon.forecast-band points=(band_points(&band, max)) fill=(BAND) fill-opacity="0.45" {}
                polyline.forecast-median points=(line_points(&median, max)) fill="none" stroke=(FORECAST) stroke-width="2" {}
            }
            (legend(&entries))
        }
    }
}

/// Runs of consecutive windows with enough data (each drawn as one band and line).
fn runs(windows: &[UnitWindow]) -> Vec<Vec<&UnitWindow>> {
    let mut out: Vec<Vec<&UnitWindow>> = Vec::new();
    let mut prev_end: Option<usize> = None;
    for w in windows.iter().filter(|w| w.enough_data) {
        match out.last_mut() {
            Some(run) if prev_end == Some(w.estimate.t_end - 1) => run.push(w),
            _ => out.push(vec![w]),
        }
        prev_end = Some(w.estimate.t_end);
    }
    out
}

/// Highest value on the Rt axis.
const RT_AXIS_CAP: f64 = 8.0;

/// (b) Rt: posterior mean, 95% credible band, dashed Rt = 1.
fn rt_chart(lang: Lang, r: &UnitRt) -> Markup {
    let f = Frame::of(r);
    let runs = runs(&r.windows);
    let top_value = runs
        .iter()
        .flatten()
        .map(|w| w.estimate.q975)
        .fold(2.0, f64::max)
        .min(RT_AXIS_CAP);
    let step = nice_step(top_value, 4.0);
    let max = (top_value / step).ceil() * step;
    let places = if step < 1.0 { 1 } else { 0 };
    let height = TOP + PLOT_H + BOTTOM;
    let one = y_of(1.0, max);
    html! {
        svg #rt-chart xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (CHART_W) " " (height) }
            width=(CHART_W) height=(height) role="img"
            aria-label=(lang.t("Rt theo cửa sổ 7 ngày, ghi theo ngày cuối", "Rt over 7-day windows, labelled by their last day")) {
            title { (lang.t("Rt theo cửa sổ 7 ngày, ghi theo ngày cuối", "Rt over 7-day windows, labelled by their last day")) }
            (axes(lang, &f, max, step, places, "Rt"))
            @for run in &runs {
                @let band: Vec<(f64, f64, f64)> = run.iter().map(|w| (f.cx(w.date_end), w.estimate.q025, w.estimate.q975)).collect();
                @let mean: Vec<(f64, f64)> = run.iter().map(|w| (f.cx(w.date_end), w.estimate.mean)).collect();
                @if run.len() == 1 {
                    @let (x, lo, hi) = band[0];
                    line.rt-band x1=(x) x2=(x) y1=(y_of(hi, max)) y2=(y_of(lo, max)) stroke=(RT_BAND) stroke-width="4" {}
                    circle.rt-mean cx=(x) cy=(y_of(mean[0].1, max)) r="2.5" fill=(RT_LINE) {}
                } @else {
                    polygon.rt-band points=(band_points(&band, max)) fill=(RT_BAND) fill-opacity="0.45" {}
                    polyline.rt-mean points=(line_points(&mean, max)) fill="none" stroke=(RT_LINE) stroke-width="2" {}
                }
            }
            line.rt-one x1=(LEFT) x2=(CHART_W - RIGHT) y1=(one) y2=(one) stroke=(FORECAST) stroke-width="1.5" stroke-dasharray="6 4" {}
            text x=(CHART_W - RIGHT - 2.0) y=(one - 4.0) text-anchor="end" font-size="10" fill=(FORECAST) { "Rt = 1" }
            @if runs.is_empty() {
                text x=(LEFT + (CHART_W - LEFT - RIGHT) / 2.0) y=(TOP + PLOT_H / 3.0) text-anchor="middle" font-size="13" fill=(MUTED) {
                    (lang.t("Chưa đủ dữ liệu để ước tính Rt", "Not enough data to estimate Rt"))
                }
            }
            (legend(&[
                ("line", RT_LINE, lang.t("Rt trung bình hậu nghiệm", "Posterior mean Rt")),
                ("band", RT_BAND, lang.t("Khoảng tin cậy 95%", "95% credible interval")),
                ("dash", FORECAST, "Rt = 1"),
            ]))
        }
    }
}

/// (c) The latest windows, newest first.
fn windows_table(lang: Lang, r: &UnitRt) -> Markup {
    html! {
        @if r.windows.is_empty() {
            p.muted { (lang.t("Chưa có cửa sổ nào.", "No windows yet.")) }
        } @else {
            table #rt-windows {
                thead { tr {
                    th { (lang.t("Từ ngày", "From")) }
                    th { (lang.t("Đến ngày", "To")) }
                    th.num { (lang.t("Số ca", "Cases")) }
                    th.num { (lang.t("Rt trung bình", "Mean Rt")) }
                    th.num { (lang.t("KTC 95%", "95% CrI")) }
                } }
                tbody {
                    @for w in r.windows.iter().rev().take(TABLE_WINDOWS) {
                        tr data-end=(w.date_end) data-enough=(w.enough_data) {
                            td { (date_vn(w.date_start)) }
                            td { (date_vn(w.date_end)) }
                            td.num { (int_vn(w.cases.max(0) as u64)) }
                            @if w.enough_data {
                                td.num { (dec(lang, w.estimate.mean, 2)) }
                                td.num { (dec(lang, w.estimate.q025, 2)) "–" (dec(lang, w.estimate.q975, 2)) }
                            } @else {
                                td.num.muted colspan="2" { (lang.t("chưa đủ dữ liệu", "not enough data")) }
                            }
                        }
                    }
                }
            }
            @if let Some(first) = r.forecast.first() {
                @let last = r.forecast.last().unwrap_or(first);
                p.muted #forecast-summary {
                    (lang.t("Dự báo ngày ", "Forecast for ")) (date_vn(last.date)) ": "
                    (lang.t("trung vị ", "median ")) (dec(lang, last.day.median, 0))
                    (lang.t(" ca (khoảng 95%: ", " cases (95% band: "))
                    (dec(lang, last.day.lower, 0)) "–" (dec(lang, last.day.upper, 0)) ")."
                }
            }
        }
    }
}

/// (d) How the numbers are made.
fn method(lang: Lang, r: &UnitRt) -> Markup {
    let si = &r.serial_interval;
    let unverified = html! {
        @if !si.verified {
            span.muted title=(lang.t("Số liệu chưa được đối chiếu với văn bản gốc của nguồn", "Numbers not yet checked against the source's text")) {
                " (" (lang.t("cần xác nhận", "needs confirmation")) ")"
            }
        }
    };
    html! {
        @match lang {
            Lang::Vi => {
                p {
                    "Rt là số ca mới trung bình do một ca bệnh lây ra vào thời điểm đó; Rt > 1 thì dịch tăng, Rt < 1 thì dịch giảm. "
                    "Rt được ước tính theo phương pháp của Cori và cộng sự (2013, Am. J. Epidemiol. 178:1505–1512), như gói EpiEstim: "
                    "cửa sổ trượt " (r.window) " ngày, mỗi ước tính ghi theo ngày cuối của cửa sổ; phân bố tiên nghiệm Gamma trung bình "
                    (dec(lang, r.prior_mean, 0)) ", độ lệch chuẩn " (dec(lang, r.prior_sd, 0)) ". "
                    "Ca nhập cảnh (nguồn phát hiện «Nhập cảnh») được tính là nguồn lây nhưng không tính là ca lây nhiễm tại chỗ."
                }
                p {
                    "Khoảng nối tiếp (serial interval) COVID-19, biến thể " (si.variant) ": phân bố Gamma dịch 1 ngày, trung bình "
                    (dec(lang, si.mean, 1)) " ngày, độ lệch chuẩn " (dec(lang, si.sd, 1)) " ngày" (unverified) ". "
                    "Nguồn: " (si.source) "."
                }
                p {
                    "Chỉ hiển thị ước tính của cửa sổ có ít nhất " (r.min_window_cases) " ca; khi cửa sổ gần nhất có ít hơn, không ước tính Rt hiện tại và không dự báo. "
                    "Dự báo " (FORECAST_DAYS) " ngày: phương trình đổi mới (renewal equation) mô phỏng " (r.forecast_draws)
                    " lần, mỗi lần lấy một giá trị R từ phân bố hậu nghiệm của cửa sổ gần nhất và giữ nguyên trong " (FORECAST_DAYS)
                    " ngày, số ca mỗi ngày theo phân bố Poisson; trung vị và khoảng 95% (phân vị 2,5%–97,5%) của các mô phỏng. Không tính ca nhập cảnh mới."
                }
                p.muted {
                    "Số ca của những ngày gần nhất có thể còn thiếu do báo cáo chậm, làm Rt cuối cùng thấp hơn thực tế. "
                    "Ca mới tính theo ngày lấy mẫu dương tính đầu tiên, từ bộ đếm hằng ngày của các xã thuộc đơn vị."
                }
            }
            Lang::En => {
                p {
                    "Rt is the average number of new cases one case infects at a given time; above 1 the epidemic grows, below 1 it declines. "
                    "It is estimated with the method of Cori et al. (2013, Am. J. Epidemiol. 178:1505–1512), as in the EpiEstim package: "
                    "sliding " (r.window) "-day windows, each estimate labelled by the window's last day; Gamma prior with mean "
                    (dec(lang, r.prior_mean, 0)) " and standard deviation " (dec(lang, r.prior_sd, 0)) ". "
                    "Imported cases (detection source «imported») count as sources of infection, not as locally infected."
                }
                p {
                    "Serial interval of COVID-19, " (si.variant) ": Gamma shifted by one day, mean "
                    (dec(lang, si.mean, 1)) " days, standard deviation " (dec(lang, si.sd, 1)) " days" (unverified) ". "
                    "Source: " (si.source) "."
                }
                p {
                    "Estimates are shown only for windows with at least " (r.min_window_cases) " cases; when the latest window has fewer, there is no current Rt and no forecast. "
                    (FORECAST_DAYS) "-day forecast: the renewal equation simulated " (r.forecast_draws)
                    " times, each drawing one R from the latest window's posterior and keeping it for the " (FORECAST_DAYS)
                    " days, daily cases Poisson; median and 95% band (2.5%–97.5% quantiles) of the simulations. No new importations."
                }
                p.muted {
                    "The latest days may be incomplete because of reporting delays, which biases the last Rt downwards. "
                    "New cases are counted on the first positive sample date, from the daily counters of the unit's communes."
                }
            }
        }
    }
}

/// (e) Links to the units below.
fn children(
    state: &AppState,
    lang: Lang,
    unit: &CoverageUnit,
    as_of: NaiveDate,
    days: u32,
) -> Markup {
    let h = state.units.hierarchy(unit.hierarchy);
    let below: Vec<_> = h.children(&unit.code).collect();
    html! {
        @if !below.is_empty() {
            section.card #units-below {
                h2 { (lang.t("Đơn vị trực thuộc", "Units below")) }
                ul.units-below {
                    @for u in below {
                        li { a href=(link(&u.code, unit.hierarchy, as_of, days)) { (u.name) } }
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
    fn steps_are_round_numbers() {
        assert_eq!(nice_step(10.0, 4.0), 5.0);
        assert_eq!(nice_step(2.0, 4.0), 0.5);
        assert_eq!(nice_step(37.0, 4.0), 10.0);
        assert_eq!(nice_step(1.0, 4.0), 0.5);
    }

    #[test]
    fn decimals_follow_the_language() {
        assert_eq!(dec(Lang::Vi, 1.234, 2), "1,23");
        assert_eq!(dec(Lang::En, 1.234, 2), "1.23");
    }

    #[test]
    fn at_most_eight_date_labels() {
        for slots in [20, 134, 744] {
            let f = Frame {
                from: NaiveDate::from_ymd_opt(2022, 1, 1).unwrap(),
                slots,
            };
            assert!(slots.div_ceil(f.label_step()) <= 8, "{slots}");
        }
    }
}
