//! `/cases/clusters`: the unit's clusters; `/cases/clusters/{id}`: one cluster with its members,
//! forms (zoning, sequencing, close/reopen, add/remove cases) and its chain of transmission.

use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use chrono::NaiveDate;
use domain::case_rules::CaseRules;
use domain::surveillance::{Classification, Outcome, Severity};
use intake::outbreaks::{self as ob, ClusterInput, ClusterPatch};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use store::{Case, CaseQuery, Cluster, Sequencing, Zoning};

use super::{FormMap, SECTION, UnitQuery, banner, csrf_field, nav, unit_picker, unverified};
use crate::AppState;
use crate::api::outbreaks::{
    ClusterListParams, MembersBody, chain_svg, change_cases_for, cluster_detail_for,
    create_cluster_for, today, update_cluster_for,
};
use crate::auth::{Caller, ClientIp, Principal};
use crate::i18n::{Lang, date_vn};
use crate::pages::layout::page_for;
use crate::pages::transmission_graph;
use crate::pages::{CsrfForm, PageError};

/// Members shown on a cluster page (the page stays small).
const MEMBER_ROWS: usize = 100;
/// Candidate cases offered to add.
const CANDIDATES: u32 = 40;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    pub unit: UnitQuery,
    pub include_closed: Option<String>,
}

pub fn zoning_label(lang: Lang, z: Zoning) -> &'static str {
    match z {
        Zoning::None => lang.t("Không phong tỏa", "Not zoned"),
        Zoning::Zoned => lang.t("Đang phong tỏa", "Zoned"),
        Zoning::Lifted => lang.t("Đã gỡ phong tỏa", "Lifted"),
    }
}

pub fn sequencing_label(lang: Lang, s: Sequencing) -> &'static str {
    match s {
        Sequencing::NotNeeded => lang.t("Không cần giải trình tự", "No sequencing needed"),
        Sequencing::ToSample => lang.t("Cần lấy mẫu giải trình tự", "To sample for sequencing"),
        Sequencing::Referred => lang.t("Đã gửi mẫu giải trình tự", "Referred for sequencing"),
        Sequencing::Resulted => lang.t("Có kết quả giải trình tự", "Sequencing resulted"),
    }
}

fn severity_label(lang: Lang, s: Severity) -> &'static str {
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

/// Badges of a cluster: state, unusual, sequencing (with the variant), zoning.
pub fn badges(lang: Lang, c: &Cluster) -> Markup {
    html! {
        @if c.closed {
            span.badge.muted { (lang.t("Đã kết thúc", "Closed")) }
        } @else {
            span.badge.notice { (lang.t("Đang hoạt động", "Active")) }
        }
        @if c.unusual {
            " " span.badge.error data-badge="unusual" { (lang.t("Bất thường", "Unusual")) }
        }
        @if c.sequencing != Sequencing::NotNeeded {
            " "
            @let class = if c.sequencing == Sequencing::ToSample { "badge error" } else { "badge ok" };
            span class=(class) data-badge="sequencing" data-sequencing=(c.sequencing.as_str()) {
                (sequencing_label(lang, c.sequencing))
                @if c.sequencing == Sequencing::Resulted && !c.variant.is_empty() { ": " strong { (c.variant) } }
            }
        }
        @if c.zoning == Zoning::Zoned {
            " " span.badge.notice { (zoning_label(lang, c.zoning)) }
        }
    }
}

fn create_form(lang: Lang, p: &Principal) -> Markup {
    html! {
        details.card #new-cluster {
            summary { (lang.t("Ghi nhận ổ dịch mới", "Open a new cluster")) }
            form.grid method="post" action="/cases/clusters" {
                (csrf_field(p))
                label { (lang.t("Tên ổ dịch", "Name")) input type="text" name="name" required maxlength="200"; }
                label { (lang.t("Địa điểm (chợ, xưởng, trường, ngõ…)", "Place")) input type="text" name="place" maxlength="500"; }
                label { (lang.t("Mã xã/phường", "Commune code")) input type="text" name="commune_code" required size="6"; }
                label { (lang.t("Danh mục", "Hierarchy"))
                    select name="hierarchy" {
                        option value="2025" { "2025" }
                        option value="pre2025" { (lang.t("Trước 2025", "Pre-2025")) }
                    }
                }
                label { (lang.t("Ngày ghi nhận", "Opened on")) input type="text" name="opened_on" placeholder="dd/mm/yyyy" size="10"; }
                button type="submit" { (lang.t("Ghi nhận", "Open")) }
            }
        }
    }
}

/// Unusual clusters sampled (referred or resulted) out of all unusual clusters listed, against
/// the Lai Châu plan's 100% target.
fn sequencing_target(lang: Lang, clusters: &[Cluster]) -> Markup {
    let unusual: Vec<&Cluster> = clusters.iter().filter(|c| c.unusual).collect();
    let sampled = unusual
        .iter()
        .filter(|c| matches!(c.sequencing, Sequencing::Referred | Sequencing::Resulted))
        .count();
    let met = sampled == unusual.len();
    html! {
        p #sequencing-target {
            (lang.t("Ổ dịch bất thường đã lấy mẫu giải trình tự gen", "Unusual clusters sampled for sequencing")) ": "
            span class=(if met { "badge ok" } else { "badge error" }) data-sampled=(sampled) data-unusual=(unusual.len()) {
                (sampled) "/" (unusual.len())
            }
            " " span.muted { (lang.t("(mục tiêu 100%, kế hoạch Lai Châu 2023–2025)", "(target 100%, Lai Châu plan 2023–2025)")) }
        }
    }
}

pub async fn list_page(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Query(q): Query<ListQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let include_closed = q
        .include_closed
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "false");
    let params = ClusterListParams {
        unit: q.unit.unit.clone(),
        hierarchy: q.unit.hierarchy.clone(),
        include_closed: Some(include_closed.to_string()),
        limit: Some(300),
    };
    let (area, clusters) = crate::api::outbreaks::clusters_for(&state, &p, &ip, &params)
        .await
        .map_err(err)?;
    let title = lang.t("Ổ dịch", "Clusters");
    let end_days = CaseRules::embedded()
        .at(today(&state))
        .cluster_end_days_after_last_case
        .value;
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            (nav(lang, &p, "/cases/clusters"))
            h1 { (title) ": " (area.name) }
            (banner(lang, q.unit.done.as_deref(), &[("created", "Đã ghi nhận ổ dịch", "Cluster opened")]))
            (unit_picker(lang, "/cases/clusters", &q.unit, html! {
                label { input type="checkbox" name="include_closed" value="true" checked[include_closed]; " " (lang.t("Cả ổ dịch đã kết thúc", "Include closed")) }
            }))
            (sequencing_target(lang, &clusters))
            p.muted {
                (lang.t("Ổ dịch kết thúc", "A cluster ends")) " " (end_days) " "
                (lang.t("ngày sau ca bệnh cuối cùng (quy định hiện hành).", "days after its last case (rules in force)."))
            }
            @if clusters.is_empty() {
                p.muted #empty { (lang.t("Chưa có ổ dịch nào.", "No cluster.")) }
            } @else {
                table #clusters {
                    thead { tr {
                        th { (lang.t("Ổ dịch", "Cluster")) }
                        th { (lang.t("Địa điểm", "Place")) }
                        th { (lang.t("Xã", "Commune")) }
                        th { (lang.t("Ghi nhận", "Opened")) }
                        th { (lang.t("Ca cuối", "Last case")) }
                        th { (lang.t("Ngày kết thúc", "Ends on")) }
                        th { (lang.t("Tình trạng", "Status")) }
                    }}
                    tbody {
                        @for c in &clusters {
                            tr data-cluster=(c.id) {
                                td { a href={ "/cases/clusters/" (c.id) } { (c.name) } }
                                td { (c.place) }
                                td { (c.units.commune_code) }
                                td { (date_vn(c.opened_on)) }
                                td { @if let Some(d) = c.last_case_on { (date_vn(d)) } @else { "—" } }
                                td.ends-on { @if let Some(d) = c.ends_on { (date_vn(d)) } @else { "—" } }
                                td { (badges(lang, c)) }
                            }
                        }
                    }
                }
            }
            (create_form(lang, &p))
        },
    ))
}

pub async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let input = ClusterInput {
        name: f.get("name"),
        place: f.get("place"),
        commune_code: f.get("commune_code"),
        hierarchy: f.text("hierarchy"),
        opened_on: f.get("opened_on"),
    };
    let d = create_cluster_for(&state, &p, &ip, &input, &[])
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to(&format!(
        "/cases/clusters/{}?done=created",
        d.cluster.id
    )))
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    pub done: Option<String>,
}

fn member_row(lang: Lang, c: &Case, csrf: Markup, cluster_id: uuid::Uuid) -> Markup {
    html! {
        tr data-case=(c.id) {
            td { a href={ "/cases/" (c.id) } { (c.full_name) } br; span.muted { (transmission_graph::short_id(c.id)) } }
            td { (date_vn(c.first_positive)) }
            td {
                (severity_label(lang, c.severity))
                @if c.outcome == Some(Outcome::Died) { " · " strong { (lang.t("Tử vong", "Died")) } }
                @if c.classification == Classification::Discarded { " · " span.muted { (lang.t("Loại trừ", "Discarded")) } }
            }
            td { (c.units.commune_code) }
            td {
                a href={ "/cases/" (c.id) "/contacts" } { (lang.t("Người tiếp xúc", "Contacts")) }
                form.inline method="post" action={ "/cases/clusters/" (cluster_id) "/cases" } {
                    (csrf)
                    input type="hidden" name={ "remove_" (c.id) } value="on";
                    " " button.link type="submit" { (lang.t("Gỡ khỏi ổ dịch", "Remove")) }
                }
            }
        }
    }
}

fn date_input(name: &str, value: Option<NaiveDate>) -> Markup {
    html! { input type="text" name=(name) placeholder="dd/mm/yyyy" size="10" value=[value.map(date_vn)]; }
}

fn forms(lang: Lang, p: &Principal, c: &Cluster, candidates: &[Case]) -> Markup {
    let action = format!("/cases/clusters/{}", c.id);
    html! {
        section.grid {
            form.stack.card #zoning-form method="post" action=(action) {
                h3 { (lang.t("Phong tỏa", "Zoning")) }
                (csrf_field(p))
                input type="hidden" name="form" value="zoning";
                label { (lang.t("Tình trạng", "Status"))
                    select name="zoning" {
                        @for z in [Zoning::None, Zoning::Zoned, Zoning::Lifted] {
                            option value=(z.as_str()) selected[c.zoning == z] { (zoning_label(lang, z)) }
                        }
                    }
                }
                button type="submit" { (lang.t("Lưu", "Save")) }
            }
            form.stack.card #sequencing-form method="post" action=(action) {
                h3 { (lang.t("Giải trình tự gen", "Genome sequencing")) }
                (csrf_field(p))
                input type="hidden" name="form" value="sequencing";
                @if !c.unusual {
                    label { input type="checkbox" name="unusual" value="true"; " " (lang.t("Đánh dấu ổ dịch bất thường", "Flag as unusual")) }
                    label { (lang.t("Lý do", "Reason")) input type="text" name="unusual_reason" maxlength="500"; }
                }
                fieldset {
                    legend { (lang.t("Gửi mẫu", "Referral")) }
                    label { (lang.t("Phòng xét nghiệm giải trình tự", "Sequencing lab")) input type="text" name="sequencing_lab" value=(c.sequencing_lab) maxlength="200"; }
                    label { (lang.t("Ngày gửi mẫu", "Referred on")) (date_input("referred_on", c.sample_referred_on)) }
                }
                fieldset {
                    legend { (lang.t("Kết quả", "Result")) }
                    label { (lang.t("Biến chủng", "Variant")) input type="text" name="variant" value=(c.variant) maxlength="100"; }
                    label { (lang.t("Ngày có kết quả", "Result date")) (date_input("variant_result_on", c.variant_result_on)) }
                }
                button type="submit" { (lang.t("Lưu", "Save")) }
            }
            form.stack.card #members-form method="post" action={ (action) "/cases" } {
                h3 { (lang.t("Thêm ca bệnh vào ổ dịch", "Add cases")) }
                (csrf_field(p))
                @if candidates.is_empty() {
                    p.muted { (lang.t("Không có ca bệnh gần đây chưa thuộc ổ dịch nào trong xã.", "No recent case of the commune outside a cluster.")) }
                }
                @for k in candidates {
                    label.inline { input type="checkbox" name={ "add_" (k.id) } value="on"; " " (k.full_name) " " span.muted { (transmission_graph::short_id(k.id)) " · " (date_vn(k.first_positive)) } }
                }
                label { (lang.t("Hoặc mã ca bệnh", "Or case id")) input type="text" name="add_id" size="36"; }
                button type="submit" { (lang.t("Thêm", "Add")) }
            }
            form.stack.card #close-form method="post" action=(action) {
                h3 { (lang.t("Kết thúc ổ dịch", "Close")) }
                (csrf_field(p))
                input type="hidden" name="form" value="close";
                @if c.closed {
                    input type="hidden" name="closed" value="false";
                    button type="submit" { (lang.t("Mở lại", "Reopen")) }
                } @else {
                    input type="hidden" name="closed" value="true";
                    button type="submit" { (lang.t("Kết thúc", "Close")) }
                }
            }
        }
    }
}

/// Recent cases of the cluster's commune not in any cluster (to add with a tick).
async fn candidates(state: &AppState, c: &Cluster) -> Vec<Case> {
    let q = CaseQuery {
        scope: store::PersonScope::Communes(vec![c.units.commune_code.clone()]),
        status: None,
        from: Some(c.opened_on - chrono::TimeDelta::days(ob::MEMBER_LOOKBACK_DAYS)),
        to: None,
        limit: CANDIDATES,
        offset: 0,
    };
    match state.store.list_cases(&q).await {
        Ok(page) => page
            .items
            .into_iter()
            .filter(|k| k.cluster_id.is_none())
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e.message_en, "cluster candidates");
            Vec::new()
        }
    }
}

pub async fn detail_page(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let (c, members) = cluster_detail_for(&state, &p, &ip, &id)
        .await
        .map_err(err)?;
    let chain = ob::chain_of_cluster(state.store.as_ref(), &members)
        .await
        .map_err(err)?;
    let svg = chain_svg(
        &state,
        &p,
        lang,
        &format!(
            "{}: {}",
            lang.t("Chuỗi lây nhiễm", "Chain of transmission"),
            c.name
        ),
        &chain,
        None,
    );
    let reasons = ob::unusual_reasons(&members);
    let cands = candidates(&state, &c).await;
    let end_days = CaseRules::embedded()
        .at(c.last_case_on.unwrap_or(c.opened_on))
        .cluster_end_days_after_last_case
        .value;
    let csrf = csrf_field(&p);
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        &c.name,
        html! {
            (nav(lang, &p, ""))
            p.breadcrumb { a href="/cases/clusters" { (lang.t("Ổ dịch", "Clusters")) } " › " (c.name) }
            h1 { (lang.t("Ổ dịch", "Cluster")) ": " (c.name) }
            (banner(lang, q.done.as_deref(), &[
                ("created", "Đã ghi nhận ổ dịch", "Cluster opened"),
                ("saved", "Đã lưu", "Saved"),
                ("cases", "Đã cập nhật ca bệnh của ổ dịch", "Cases updated"),
            ]))
            p #badges { (badges(lang, &c)) }
            dl.record {
                dt { (lang.t("Địa điểm", "Place")) } dd { (c.place) }
                dt { (lang.t("Xã/phường", "Commune")) } dd { (c.units.commune_code) @if let Some(o) = &c.units.old_commune_code { " (" (o) ")" } }
                dt { (lang.t("Ngày ghi nhận", "Opened on")) } dd { (date_vn(c.opened_on)) }
                dt { (lang.t("Ca bệnh cuối", "Last case")) } dd #last-case { @if let Some(d) = c.last_case_on { (date_vn(d)) } @else { "—" } }
                dt { (lang.t("Ngày kết thúc", "Ends on")) }
                dd #ends-on {
                    @if let Some(d) = c.ends_on { (date_vn(d)) } @else { "—" }
                    " " span.muted { "(" (lang.t("ca cuối +", "last case +")) " " (end_days) " " (lang.t("ngày", "days")) ")" }
                }
                dt { (lang.t("Số ca bệnh", "Cases")) } dd #member-count { (members.len()) }
                dt { (lang.t("Phong tỏa", "Zoning")) } dd { (zoning_label(lang, c.zoning)) }
                dt { (lang.t("Bất thường", "Unusual")) }
                dd #unusual {
                    @if c.unusual { (c.unusual_reason) } @else { (lang.t("Không", "No")) }
                    @if !reasons.is_empty() || c.unusual { (unverified(lang)) }
                }
                dt { (lang.t("Giải trình tự gen", "Sequencing")) }
                dd #sequencing {
                    (sequencing_label(lang, c.sequencing))
                    @if !c.sequencing_lab.is_empty() { " · " (c.sequencing_lab) }
                    @if let Some(d) = c.sample_referred_on { " · " (lang.t("gửi", "referred")) " " (date_vn(d)) }
                    @if !c.variant.is_empty() { " · " (lang.t("biến chủng", "variant")) " " strong #variant { (c.variant) } }
                    @if let Some(d) = c.variant_result_on { " (" (date_vn(d)) ")" }
                }
            }
            h2 { (lang.t("Chuỗi lây nhiễm", "Chain of transmission")) }
            p.muted {
                (lang.t("Mũi tên: người tiếp xúc của ca bệnh đã trở thành ca bệnh. Chỉ hiện chữ cái đầu và mã rút gọn.", "Arrow: a contact of the case became a case. Initials and short ids only."))
                " " a href={ "/api/v1/clusters/" (c.id) "/graph.svg" } { "SVG" }
            }
            div.graph { (PreEscaped(svg)) }
            h2 { (lang.t("Ca bệnh của ổ dịch", "Cases of the cluster")) }
            @if members.is_empty() {
                p.muted #no-members { (lang.t("Chưa có ca bệnh nào.", "No case yet.")) }
            } @else {
                table #members {
                    thead { tr {
                        th { (lang.t("Ca bệnh", "Case")) }
                        th { (lang.t("Dương tính", "Positive")) }
                        th { (lang.t("Mức độ", "Severity")) }
                        th { (lang.t("Xã", "Commune")) }
                        th {}
                    }}
                    tbody { @for m in members.iter().take(MEMBER_ROWS) { (member_row(lang, m, csrf.clone(), c.id)) } }
                }
                @if members.len() > MEMBER_ROWS {
                    p.muted { (lang.t("Chỉ hiện", "Showing")) " " (MEMBER_ROWS) "/" (members.len()) }
                }
            }
            (forms(lang, &p, &c, &cands))
        },
    ))
}

/// The zoning, sequencing and close forms.
pub async fn update(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let patch = match f.get("form").as_str() {
        "zoning" => ClusterPatch {
            zoning: f.text("zoning"),
            ..ClusterPatch::default()
        },
        "close" => ClusterPatch {
            closed: Some(f.get("closed") == "true"),
            ..ClusterPatch::default()
        },
        _ => ClusterPatch {
            unusual: f.ticked("unusual").then_some(true),
            unusual_reason: f.text("unusual_reason"),
            sequencing_lab: f.text("sequencing_lab"),
            referred_on: f.text("referred_on"),
            variant: f.text("variant"),
            variant_result_on: f.text("variant_result_on"),
            ..ClusterPatch::default()
        },
    };
    let c = update_cluster_for(&state, &p, &ip, &id, &patch)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to(&format!(
        "/cases/clusters/{}?done=saved",
        c.id
    )))
}

/// Adds the ticked cases (and a typed id) or removes one.
pub async fn members(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let mut body = MembersBody::default();
    for (k, v) in &f.0 {
        if v.trim() != "on" {
            continue;
        }
        if let Some(case) = k.strip_prefix("add_") {
            body.add.push(case.to_string());
        } else if let Some(case) = k.strip_prefix("remove_") {
            body.remove.push(case.to_string());
        }
    }
    if let Some(typed) = f.text("add_id") {
        body.add.push(typed);
    }
    body.add.sort();
    body.remove.sort();
    let (c, _) = change_cases_for(&state, &p, &ip, &id, &body)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to(&format!(
        "/cases/clusters/{}?done=cases",
        c.id
    )))
}
