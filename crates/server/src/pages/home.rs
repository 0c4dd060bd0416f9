//! `/` — overview: the unit picker (province → district → commune, in either hierarchy) and the
//! register's size, with the population pyramid of a chosen 2025 province.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::units::{Hierarchy, UnitLevel, UnitVersion};
use maud::{Markup, html};
use serde::Deserialize;

use super::PageError;
use super::layout::page_for as layout;
use crate::AppState;
use crate::api::population::{Pyramid, pyramid_of};
use crate::auth::MaybeCaller;
use crate::i18n::{Lang, int_vn};

/// Picker state from the query string: hierarchy `v`, province `p`, district `d`, commune `c`.
#[derive(Debug, Default, Deserialize)]
pub struct PickerQuery {
    pub v: Option<String>,
    pub p: Option<String>,
    pub d: Option<String>,
    pub c: Option<String>,
}

/// The picker's validated selection: each level kept only if it lies within the one above.
struct Selection<'a> {
    version: UnitVersion,
    h: &'a Hierarchy,
    province: Option<&'a str>,
    district: Option<&'a str>,
    commune: Option<&'a str>,
}

impl<'a> Selection<'a> {
    fn from_query(state: &'a AppState, q: &'a PickerQuery) -> Self {
        let version =
            q.v.as_deref()
                .and_then(|v| UnitVersion::parse(v).ok())
                .unwrap_or(UnitVersion::V2025);
        let h = state.units.hierarchy(version);
        let pick = |code: &'a Option<String>, level: UnitLevel, parent: Option<&str>| {
            let code = code.as_deref().filter(|c| !c.is_empty())?;
            let u = h.get(code)?;
            (u.level == level && parent.is_some_and(|p| h.is_within(code, p))).then_some(code)
        };
        let province =
            q.p.as_deref()
                .filter(|c| h.get(c).is_some_and(|u| u.level == UnitLevel::Province));
        let district = match version {
            UnitVersion::Pre2025 => pick(&q.d, UnitLevel::District, province),
            UnitVersion::V2025 => None,
        };
        let commune_parent = match version {
            UnitVersion::Pre2025 => district,
            UnitVersion::V2025 => province,
        };
        let commune = pick(&q.c, UnitLevel::Commune, commune_parent);
        Selection {
            version,
            h,
            province,
            district,
            commune,
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    MaybeCaller(who): MaybeCaller,
    lang: Lang,
    Query(q): Query<PickerQuery>,
) -> Result<Response, PageError> {
    let state = &state;
    let sel = Selection::from_query(state, &q);
    if let Some(c) = sel.commune {
        return Ok(Redirect::to(&format!(
            "/persons?version={}&unit={c}",
            sel.version.as_str()
        ))
        .into_response());
    }
    let err = |error| PageError { error, lang };
    let total = state.store.count_persons().await.map_err(err)?;
    let pyramid = match (sel.version, sel.province) {
        (UnitVersion::V2025, Some(p)) => Some(pyramid_of(state, p).await.map_err(err)?),
        _ => None,
    };
    let title = lang.t("Tổng quan", "Overview");
    Ok(layout(
        lang,
        who.as_deref(),
        Some("/"),
        title,
        html! {
            h1 { (title) }
            section.card {
                h2 { (lang.t("Chọn đơn vị hành chính", "Pick an administrative unit")) }
                (picker(lang, &sel))
            }
            section.grid {
                div.card {
                    div.muted { (lang.t("Người trong sổ dân cư", "Persons in the register")) }
                    div.stat { (int_vn(total)) }
                }
                div.card {
                    div.muted { (lang.t("Danh mục 2025 (từ 01/07/2025)", "2025 list (from 01/07/2025)")) }
                    div { (state.units.v2025.count(UnitLevel::Province)) " " (lang.t("tỉnh/thành", "provinces")) ", "
                          (int_vn(state.units.v2025.count(UnitLevel::Commune) as u64)) " " (lang.t("xã/phường", "communes")) }
                }
                div.card {
                    div.muted { (lang.t("Danh mục trước 2025 (đến 30/06/2025)", "Pre-2025 list (until 30/06/2025)")) }
                    div { (state.units.pre2025.count(UnitLevel::Province)) " " (lang.t("tỉnh/thành", "provinces")) ", "
                          (state.units.pre2025.count(UnitLevel::District)) " " (lang.t("huyện", "districts")) ", "
                          (int_vn(state.units.pre2025.count(UnitLevel::Commune) as u64)) " " (lang.t("xã/phường", "communes")) }
                }
            }
            @if let Some(p) = pyramid {
                section.card {
                    h2 { (lang.t("Tháp dân số", "Population pyramid")) " — " (sel.h.get(&p.unit).map(|u| u.name.as_str()).unwrap_or("")) }
                    @if p.total == 0 {
                        p.muted { (lang.t("Chưa có mẫu số dân số cho đơn vị này.", "No population denominators for this unit yet.")) }
                    } @else {
                        (pyramid_svg(lang, &p))
                        p.muted { (int_vn(p.total)) " " (lang.t("người, theo sổ dân cư", "persons, from the register")) }
                    }
                }
            }
        },
    )
    .into_response())
}

fn picker(lang: Lang, sel: &Selection<'_>) -> Markup {
    let h = sel.h;
    let communes_parent = match sel.version {
        UnitVersion::V2025 => sel.province,
        UnitVersion::Pre2025 => sel.district,
    };
    html! {
        form.unit-picker method="get" action="/" {
            label {
                (lang.t("Danh mục", "Unit list"))
                select name="v" data-order="0" {
                    option value="2025" selected[sel.version == UnitVersion::V2025] { (lang.t("2025 (34 tỉnh)", "2025 (34 provinces)")) }
                    option value="pre2025" selected[sel.version == UnitVersion::Pre2025] { (lang.t("Trước 2025 (63 tỉnh)", "Pre-2025 (63 provinces)")) }
                }
            }
            label {
                (lang.t("Tỉnh/thành phố", "Province"))
                select name="p" data-order="1" {
                    option value="" { (lang.t("— Chọn tỉnh —", "— Choose a province —")) }
                    @for u in h.provinces() {
                        option value=(u.code) selected[sel.province == Some(u.code.as_str())] { (u.name) }
                    }
                }
            }
            @if sel.version == UnitVersion::Pre2025 {
                @if let Some(p) = sel.province {
                    label {
                        (lang.t("Quận/huyện", "District"))
                        select name="d" data-order="2" {
                            option value="" { (lang.t("— Chọn huyện —", "— Choose a district —")) }
                            @for u in h.children(p) {
                                option value=(u.code) selected[sel.district == Some(u.code.as_str())] { (u.name) }
                            }
                        }
                    }
                }
            }
            @if let Some(parent) = communes_parent {
                label {
                    (lang.t("Xã/phường", "Commune"))
                    select name="c" data-order="3" {
                        option value="" { (lang.t("— Chọn xã —", "— Choose a commune —")) }
                        @for u in h.children(parent) {
                            option value=(u.code) { (u.name) }
                        }
                    }
                }
            }
            button type="submit" { (lang.t("Chọn", "Select")) }
        }
        @let chosen = sel.district.or(sel.province);
        @if let Some(code) = chosen {
            p {
                a href={ "/persons?version=" (sel.version.as_str()) "&unit=" (code) } {
                    (lang.t("Xem danh sách người của ", "View the persons of "))
                    (h.get(code).map(|u| u.name.as_str()).unwrap_or(code))
                }
            }
        }
    }
}

/// Horizontal-bar population pyramid as inline SVG (men left, women right).
fn pyramid_svg(lang: Lang, p: &Pyramid) -> Markup {
    let max = p
        .bands
        .iter()
        .map(|b| b.male.max(b.female))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let row_h = 14.0;
    let half = 180.0;
    let mid = 240.0;
    let height = row_h * p.bands.len() as f64 + 24.0;
    html! {
        svg.pyramid viewBox={ "0 0 480 " (height) } width="480" height=(height) role="img"
            aria-label=(lang.t("Tháp dân số theo giới và nhóm tuổi 5 năm", "Population by sex and 5-year age band")) {
            text x="4" y="12" { (lang.t("Nam", "Men")) }
            text x="440" y="12" { (lang.t("Nữ", "Women")) }
            @for (i, b) in p.bands.iter().rev().enumerate() {
                @let y = 18.0 + i as f64 * row_h;
                @let wm = b.male as f64 / max * half;
                @let wf = b.female as f64 / max * half;
                rect.m x=(mid - 20.0 - wm) y=(y) width=(wm) height=(row_h - 2.0) {
                    title { (b.age_band) ": " (int_vn(b.male)) }
                }
                rect.f x=(mid + 20.0) y=(y) width=(wf) height=(row_h - 2.0) {
                    title { (b.age_band) ": " (int_vn(b.female)) }
                }
                text x=(mid) y=(y + 10.0) text-anchor="middle" { (b.age_band) }
            }
        }
    }
}
