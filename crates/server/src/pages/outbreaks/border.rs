//! `/cases/border?unit&from&to`: entry declarations of the period (destination in the unit),
//! the province's declared share — declarations from variant areas / entrants from variant
//! areas counted at the gates — against the Lai Châu plan's > 95% target with a red/green
//! badge, per gate, and the forms to add a declaration and a gate's daily count.

use axum::extract::{Query, State};
use axum::response::Redirect;
use intake::outbreaks::{self as ob, BorderCountInput, DeclarationInput, ShareLine};
use maud::{Markup, html};
use serde::Deserialize;

use super::{FormMap, SECTION, UnitQuery, banner, csrf_field, nav, pct_vn, unit_picker};
use crate::AppState;
use crate::api::outbreaks::{
    BorderParams, DeclarationItem, border_count_for, declarations_for, declare_for, share_for,
    today,
};
use crate::auth::{Caller, ClientIp, Principal};
use crate::i18n::{Lang, date_vn, int_vn};
use crate::pages::layout::page_for;
use crate::pages::{CsrfForm, PageError};

/// Declarations listed on the page.
const ROWS: usize = 300;

#[derive(Debug, Default, Deserialize)]
pub struct BorderQuery {
    #[serde(flatten)]
    pub unit: UnitQuery,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The share as a badge: green above the target, red at or below it, grey without entrants.
pub fn share_badge(lang: Lang, line: &ShareLine) -> Markup {
    match (line.share, line.meets_target) {
        (Some(s), Some(true)) => html! { span.badge.ok data-meets="true" { (pct_vn(s)) } },
        (Some(s), _) => html! { span.badge.error data-meets="false" { (pct_vn(s)) } },
        _ => {
            html! { span.muted data-meets="none" { (lang.t("chưa có số người nhập cảnh", "no entrants counted")) } }
        }
    }
}

fn declaration_form(lang: Lang, p: &Principal) -> Markup {
    html! {
        form.grid.card #declare method="post" action="/cases/border/declarations" {
            (csrf_field(p))
            label { (lang.t("Họ tên", "Name")) input type="text" name="full_name" required maxlength="200"; }
            label { (lang.t("Số CCCD/hộ chiếu", "ID / passport number")) input type="text" name="document_number" required maxlength="40"; }
            label { (lang.t("Điện thoại", "Phone")) input type="text" name="phone" inputmode="tel"; }
            label { (lang.t("Mã cửa khẩu", "Gate code")) input type="text" name="gate_code" required maxlength="40"; }
            label { (lang.t("Ngày nhập cảnh", "Entry date")) input type="text" name="entered_on" placeholder="dd/mm/yyyy" size="10" required; }
            label { (lang.t("Đi từ (quốc gia/vùng)", "Coming from")) input type="text" name="from_area" required maxlength="200"; }
            label { input type="checkbox" name="variant_area" value="true"; " " (lang.t("Vùng có biến chủng nguy hiểm", "Area with a dangerous variant")) }
            label { (lang.t("Xã/phường nơi đến", "Destination commune")) input type="text" name="commune_code" required size="6"; }
            label { (lang.t("Danh mục", "Hierarchy"))
                select name="hierarchy" { option value="2025" { "2025" } option value="pre2025" { (lang.t("Trước 2025", "Pre-2025")) } }
            }
            button type="submit" { (lang.t("Khai báo", "Declare")) }
        }
    }
}

fn count_form(lang: Lang, p: &Principal, province: &str) -> Markup {
    html! {
        form.grid.card #gate-count method="post" action="/cases/border/counts" {
            (csrf_field(p))
            label { (lang.t("Mã cửa khẩu", "Gate code")) input type="text" name="gate_code" required maxlength="40"; }
            label { (lang.t("Mã tỉnh (2025)", "Province code (2025)")) input type="text" name="province_code" required size="3" value=(province); }
            label { (lang.t("Ngày", "Day")) input type="text" name="day" placeholder="dd/mm/yyyy" size="10" required; }
            label { (lang.t("Số người nhập cảnh", "Entrants")) input type="number" name="entrants" min="0" required; }
            label { (lang.t("Trong đó từ vùng có biến chủng", "Of them from variant areas")) input type="number" name="from_variant_areas" min="0" required; }
            button type="submit" { (lang.t("Lưu số liệu", "Save count")) }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Caller(p): Caller,
    lang: Lang,
    Query(q): Query<BorderQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let params = BorderParams {
        unit: q.unit.unit.clone(),
        hierarchy: q.unit.hierarchy.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
    };
    let (area, from, to, declarations) =
        declarations_for(&state, &p, &params).await.map_err(err)?;
    // The share is the province's: of the unit asked for when it is a province, else the
    // caller's own province.
    let share_unit = q
        .unit
        .unit
        .clone()
        .filter(|u| u.trim().len() == 2 && q.unit.hierarchy.as_deref() != Some("pre2025"));
    let share = share_for(
        &state,
        &p,
        &BorderParams {
            unit: share_unit,
            hierarchy: None,
            from: Some(from.to_string()),
            to: Some(to.to_string()),
        },
    )
    .await;
    let day = today(&state);
    let title = lang.t(
        "Nhập cảnh và khai báo y tế",
        "Border entry and health declarations",
    );
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            (nav(lang, &p, "/cases/border"))
            h1 { (title) ": " (area.name) }
            (banner(lang, q.unit.done.as_deref(), &[
                ("declared", "Đã ghi nhận khai báo", "Declaration recorded"),
                ("counted", "Đã lưu số người nhập cảnh", "Count saved"),
            ]))
            (unit_picker(lang, "/cases/border", &q.unit, html! {
                label { (lang.t("Từ ngày", "From")) " " input type="text" name="from" value=(date_vn(from)) size="10"; }
                " "
                label { (lang.t("đến ngày", "to")) " " input type="text" name="to" value=(date_vn(to)) size="10"; }
            }))
            @match &share {
                Ok(s) => {
                    section #declared-share {
                        h2 { (lang.t("Tỷ lệ người từ vùng có biến chủng đã khai báo", "Share of entrants from variant areas who declared")) }
                        p.headline {
                            (lang.t("Tỉnh", "Province")) " " (s.province_code) ": "
                            (share_badge(lang, &s.total))
                            " (" (int_vn(s.total.declared.max(0) as u64)) "/" (int_vn(s.total.entrants.max(0) as u64)) ") — "
                            (lang.t("mục tiêu trên", "target above")) " " (pct_vn(s.target))
                        }
                        p.muted {
                            (lang.t("Khai báo từ vùng có biến chủng (nơi đến trong tỉnh) chia cho số người từ vùng có biến chủng đếm tại cửa khẩu của tỉnh, từ", "Declarations from variant areas (destination in the province) over entrants from variant areas counted at the province's gates, from"))
                            " " (date_vn(s.from)) " " (lang.t("đến", "to")) " " (date_vn(s.to)) ". "
                            (lang.t("Mục tiêu theo kế hoạch Lai Châu 2023–2025.", "Target of the Lai Châu plan 2023–2025."))
                        }
                        @if !s.by_gate.is_empty() {
                            table #share-by-gate {
                                thead { tr {
                                    th { (lang.t("Cửa khẩu", "Gate")) }
                                    th.num { (lang.t("Đã khai báo", "Declared")) }
                                    th.num { (lang.t("Người từ vùng có biến chủng", "Entrants from variant areas")) }
                                    th { (lang.t("Tỷ lệ", "Share")) }
                                }}
                                tbody {
                                    @for g in &s.by_gate {
                                        tr data-gate=(g.gate_code) {
                                            td { (g.gate_code) }
                                            td.num { (g.declared) }
                                            td.num { (g.entrants) }
                                            td { (share_badge(lang, g)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                Err(e) => p.muted { (e.message(lang == Lang::En)) },
            }
            h2 { (lang.t("Khai báo trong kỳ", "Declarations of the period")) " (" (declarations.len()) ")" }
            @if declarations.is_empty() {
                p.muted #no-declarations { (lang.t("Chưa có khai báo nào.", "No declaration.")) }
            } @else {
                table #declarations {
                    thead { tr {
                        th { (lang.t("Họ tên", "Name")) }
                        th { (lang.t("Giấy tờ", "Document")) }
                        th { (lang.t("Cửa khẩu", "Gate")) }
                        th { (lang.t("Ngày nhập cảnh", "Entered")) }
                        th { (lang.t("Đi từ", "From")) }
                        th { (lang.t("Theo dõi đến", "Followed until")) }
                        th { (lang.t("Tình trạng", "Status")) }
                    }}
                    tbody {
                        @for d in declarations.iter().take(ROWS) {
                            @let item = DeclarationItem::new(d, day);
                            tr data-declaration=(d.id) {
                                td { (d.full_name) }
                                td { (item.document_number.unwrap_or_default()) }
                                td { (d.gate_code) }
                                td { (date_vn(d.entered_on)) }
                                td { (d.from_area) @if d.variant_area { " " span.badge.error { (lang.t("biến chủng", "variant")) } } }
                                td { (date_vn(d.followup_until)) }
                                td { (status_label(lang, ob::declaration_status(d, day))) }
                            }
                        }
                    }
                }
            }
            h2 { (lang.t("Thêm khai báo", "Add a declaration")) }
            (declaration_form(lang, &p))
            h2 { (lang.t("Số người nhập cảnh theo ngày tại cửa khẩu", "Daily count at a gate")) }
            (count_form(lang, &p, share.as_ref().map(|s| s.province_code.as_str()).unwrap_or("")))
        },
    ))
}

fn status_label(lang: Lang, s: &str) -> &'static str {
    match s {
        "following" => lang.t("Đang theo dõi", "Following"),
        "completed" => lang.t("Hết thời gian theo dõi", "Completed"),
        "became_case" => lang.t("Đã thành ca bệnh", "Became a case"),
        _ => lang.t("Không liên lạc được", "Lost"),
    }
}

pub async fn declare(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let input = DeclarationInput {
        full_name: f.get("full_name"),
        document_number: f.get("document_number"),
        phone: f.get("phone"),
        gate_code: f.get("gate_code"),
        entered_on: f.get("entered_on"),
        from_area: f.get("from_area"),
        variant_area: f.ticked("variant_area"),
        commune_code: f.get("commune_code"),
        hierarchy: f.text("hierarchy"),
    };
    declare_for(&state, &p, &ip, &input)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to("/cases/border?done=declared"))
}

pub async fn count(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let err = |error| PageError { error, lang };
    let input = BorderCountInput {
        gate_code: f.get("gate_code"),
        province_code: f.get("province_code"),
        day: f.get("day"),
        entrants: f.int("entrants", "Số người nhập cảnh").map_err(err)?,
        from_variant_areas: f
            .int("from_variant_areas", "Số người từ vùng có biến chủng")
            .map_err(err)?,
    };
    border_count_for(&state, &p, &ip, &input)
        .await
        .map_err(err)?;
    Ok(Redirect::to("/cases/border?done=counted"))
}
