//! `/cases/{id}/contacts`: the contacts (F1) of a case with their quarantine, the add-contact
//! form, a status form per contact and the chain of transmission around the case. The case
//! record itself is `/cases/{id}` (another page).

use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use intake::outbreaks::{
    CONTACT_RELATIONS, ContactInput, ContactPatch, ContactRules, ContactState, QUARANTINE_PLACES,
};
use maud::{Markup, PreEscaped, html};
use store::{Contact, ContactStatus};

use super::clusters::DoneQuery;
use super::{FormMap, SECTION, banner, csrf_field, nav, unverified};
use crate::AppState;
use crate::api::outbreaks::{
    ContactItem, add_contacts_for, case_chain_for, chain_svg, contacts_of_case_for, today,
    update_contact_for,
};
use crate::auth::{Caller, ClientIp, Principal};
use crate::i18n::{Lang, date_vn};
use crate::pages::layout::page_for;
use crate::pages::transmission_graph;
use crate::pages::{CsrfForm, PageError};

pub fn relation_label(lang: Lang, r: &str) -> &'static str {
    match r {
        "household" => lang.t("Cùng hộ gia đình", "Household"),
        "work" => lang.t("Nơi làm việc", "Work"),
        "school" => lang.t("Trường học", "School"),
        "health_care" => lang.t("Cơ sở y tế", "Health care"),
        "social" => lang.t("Sinh hoạt cộng đồng", "Social"),
        "travel" => lang.t("Đi lại", "Travel"),
        _ => lang.t("Khác", "Other"),
    }
}

pub fn place_label(lang: Lang, p: &str) -> &'static str {
    match p {
        "home" => lang.t("Tại nhà", "Home"),
        "facility" => lang.t("Cơ sở cách ly", "Facility"),
        _ => lang.t("Tự theo dõi", "Self-monitoring"),
    }
}

fn state_class(s: ContactState) -> &'static str {
    match s {
        ContactState::InQuarantine { .. } => "badge notice",
        ContactState::QuarantineOver | ContactState::Released => "badge ok",
        ContactState::BecameCase | ContactState::Lost => "badge error",
    }
}

fn add_form(lang: Lang, p: &Principal, case_id: uuid::Uuid) -> Markup {
    html! {
        form.grid.card #add-contact method="post" action={ "/cases/" (case_id) "/contacts" } {
            (csrf_field(p))
            label { (lang.t("Họ tên", "Name")) input type="text" name="full_name" maxlength="200"; }
            label { (lang.t("Số CCCD (nếu có)", "Citizen ID (if known)")) input type="text" name="national_id" inputmode="numeric" maxlength="12" size="12"; }
            label { (lang.t("Điện thoại", "Phone")) input type="text" name="phone" inputmode="tel" size="12"; }
            label { (lang.t("Quan hệ", "Relation"))
                select name="relation" { @for r in CONTACT_RELATIONS { option value=(r) { (relation_label(lang, r)) } } }
            }
            label { (lang.t("Ngày tiếp xúc cuối", "Last exposure")) input type="text" name="last_exposure" placeholder="dd/mm/yyyy" size="10" required; }
            label { (lang.t("Nơi cách ly", "Quarantine place"))
                select name="quarantine_place" { @for q in QUARANTINE_PLACES { option value=(q) { (place_label(lang, q)) } } }
            }
            label { (lang.t("Ghi chú", "Note")) input type="text" name="note" maxlength="500"; }
            button type="submit" { (lang.t("Thêm người tiếp xúc", "Add contact")) }
        }
    }
}

fn status_form(lang: Lang, p: &Principal, c: &Contact) -> Markup {
    if c.status == ContactStatus::BecameCase {
        return html! {};
    }
    html! {
        form.inline method="post" action={ "/cases/" (c.case_id) "/contacts/" (c.id) } {
            (csrf_field(p))
            select name="status" aria-label=(lang.t("Trạng thái", "Status")) {
                option value="monitoring" selected[c.status == ContactStatus::Monitoring] { (lang.t("Đang theo dõi", "Monitoring")) }
                option value="released" selected[c.status == ContactStatus::Released] { (lang.t("Kết thúc theo dõi", "Released")) }
                option value="lost" selected[c.status == ContactStatus::Lost] { (lang.t("Không liên lạc được", "Lost")) }
            }
            " " button type="submit" { (lang.t("Lưu", "Save")) }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Markup, PageError> {
    let err = |error| PageError { error, lang };
    let (case, contacts) = contacts_of_case_for(&state, &p, &ip, &id)
        .await
        .map_err(err)?;
    let (_, chain) = case_chain_for(&state, &p, &ip, &id).await.map_err(err)?;
    let svg = chain_svg(
        &state,
        &p,
        lang,
        lang.t(
            "Chuỗi lây nhiễm quanh ca bệnh",
            "Chain of transmission around the case",
        ),
        &chain,
        Some(case.id),
    );
    let day = today(&state);
    let en = lang == Lang::En;
    let days = ContactRules::default().days(day, None);
    let title = lang.t("Người tiếp xúc", "Contacts");
    let monitoring = contacts
        .iter()
        .filter(|c| matches!(ContactState::of(c, day), ContactState::InQuarantine { .. }))
        .count();
    let became = contacts
        .iter()
        .filter(|c| c.status == ContactStatus::BecameCase)
        .count();
    Ok(page_for(
        lang,
        Some(&p),
        Some(SECTION),
        title,
        html! {
            (nav(lang, &p, ""))
            p.breadcrumb {
                a href=(SECTION) { (lang.t("Ca bệnh", "Cases")) } " › "
                a href={ "/cases/" (case.id) } { (case.full_name) " " (transmission_graph::short_id(case.id)) } " › " (title)
            }
            h1 { (title) ": " (case.full_name) }
            (banner(lang, q.done.as_deref(), &[
                ("added", "Đã thêm người tiếp xúc", "Contact added"),
                ("saved", "Đã lưu", "Saved"),
            ]))
            p {
                (lang.t("Dương tính ngày", "Positive on")) " " (date_vn(case.first_positive)) ". "
                (lang.t("Đang cách ly/theo dõi", "In quarantine")) ": " strong #monitoring { (monitoring) } " · "
                (lang.t("Đã thành ca bệnh", "Became cases")) ": " strong #became { (became) }
            }
            p.muted {
                (lang.t("Thời gian theo dõi mặc định: một thời kỳ ủ bệnh sau lần tiếp xúc cuối (hiện", "Default follow-up: one incubation period after the last exposure (now"))
                " " (days) " " (lang.t("ngày)", "days)")) (unverified(lang))
            }
            @if contacts.is_empty() {
                p.muted #no-contacts { (lang.t("Chưa có người tiếp xúc nào.", "No contact yet.")) }
            } @else {
                table #contacts {
                    thead { tr {
                        th { (lang.t("Họ tên", "Name")) }
                        th { (lang.t("CCCD", "Citizen ID")) }
                        th { (lang.t("Điện thoại", "Phone")) }
                        th { (lang.t("Quan hệ", "Relation")) }
                        th { (lang.t("Tiếp xúc cuối", "Last exposure")) }
                        th { (lang.t("Cách ly đến", "Quarantine until")) }
                        th { (lang.t("Tình trạng", "State")) }
                        th {}
                    }}
                    tbody {
                        @for c in &contacts {
                            @let item = ContactItem::new(c, day, en);
                            tr data-contact=(c.id) data-status=(c.status.as_str()) {
                                td {
                                    @if let Some(pid) = c.person_id { a href={ "/persons/" (pid) } { (c.full_name) } } @else { (c.full_name) }
                                }
                                td { (item.national_id.unwrap_or_default()) }
                                td { (item.phone.unwrap_or_default()) }
                                td { (relation_label(lang, &c.relation)) }
                                td { (date_vn(c.last_exposure)) }
                                td { @if let Some(d) = c.quarantine_until { (date_vn(d)) } " " span.muted { (place_label(lang, &c.quarantine_place)) } }
                                td {
                                    span class=(state_class(item.state)) { (item.state_label) }
                                    @if let Some(b) = c.became_case_id {
                                        br; a href={ "/cases/" (b) "/contacts" } { (lang.t("Ca bệnh", "Case")) " " (transmission_graph::short_id(b)) }
                                    }
                                    @if !c.note.is_empty() { br; span.muted { (c.note) } }
                                }
                                td { (status_form(lang, &p, c)) }
                            }
                        }
                    }
                }
            }
            h2 { (lang.t("Thêm người tiếp xúc", "Add a contact")) }
            (add_form(lang, &p, case.id))
            h2 { (lang.t("Chuỗi lây nhiễm", "Chain of transmission")) }
            div.graph { (PreEscaped(svg)) }
        },
    ))
}

pub async fn add(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let input = ContactInput {
        full_name: f.get("full_name"),
        national_id: f.get("national_id"),
        phone: f.get("phone"),
        relation: f.get("relation"),
        last_exposure: f.get("last_exposure"),
        quarantine_place: f.get("quarantine_place"),
        note: f.get("note"),
        quarantine_days: None,
    };
    let added = add_contacts_for(&state, &p, &ip, &id, &[input])
        .await
        .map_err(|error| PageError { error, lang })?;
    let case_id = added.first().map(|c| c.case_id.to_string()).unwrap_or(id);
    Ok(Redirect::to(&format!(
        "/cases/{case_id}/contacts?done=added"
    )))
}

pub async fn update(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path((_case, contact_id)): Path<(String, String)>,
    CsrfForm(f): CsrfForm<FormMap>,
) -> Result<Redirect, PageError> {
    let patch = ContactPatch {
        status: f.text("status"),
        note: f.text("note"),
        ..ContactPatch::default()
    };
    let c = update_contact_for(&state, &p, &ip, &contact_id, &patch)
        .await
        .map_err(|error| PageError { error, lang })?;
    Ok(Redirect::to(&format!(
        "/cases/{}/contacts?done=saved",
        c.case_id
    )))
}
