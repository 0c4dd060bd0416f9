//! `/persons/{id}` — one person's full record (full citizen ID and phone) for a user whose duty
//! covers them; every view is written to the audit log.

use axum::extract::{Path, State};
use maud::{Markup, html};

use super::PageError;
use super::layout::page_for;
use crate::AppState;
use crate::api::persons::read_person_full;
use crate::auth::{Caller, ClientIp};
use crate::i18n::{Lang, date_vn};

pub async fn page(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    let person = read_person_full(&state, &p, &ip, &id)
        .await
        .map_err(|error| PageError { error, lang })?;
    let err = |error| PageError { error, lang };
    let linked = crate::api::records::person_records(&state, &p, &id)
        .await
        .map_err(err)?;
    let merges = state.store.person_merges(person.id).await.map_err(err)?;
    let merged_into = state.store.merged_into(person.id).await.map_err(err)?;
    let vaccination = super::vaccination_record::person_section(&state, &p, lang, &person)
        .await
        .map_err(err)?;
    let may_merge = domain::auth::role_allows(p.user.role, domain::auth::Permission::ReviewLinks);
    let units = state.units;
    let commune = units.v2025.get(&person.commune_code);
    let old = person
        .old_commune_code
        .as_deref()
        .and_then(|c| units.pre2025.get(c));
    let title = person.full_name.clone();
    Ok(page_for(
        lang,
        Some(&p),
        None,
        &title,
        html! {
            nav.breadcrumb {
                a href={ "/persons?version=2025&unit=" (person.commune_code) } { "‹ " (commune.map(|c| c.name.as_str()).unwrap_or(&person.commune_code)) }
            }
            h1 { (person.full_name) }
            @if let Some(into) = merged_into {
                p.notice #merged-into { (lang.t("Hồ sơ này đã được gộp vào", "This record was merged into")) " "
                    a href={ "/persons/" (into) } { (into) } }
            }
            dl.record.card {
                dt { (lang.t("Ngày sinh", "Date of birth")) } dd { (date_vn(person.dob)) }
                dt { (lang.t("Giới tính", "Sex")) } dd { (match person.sex { domain::person::Sex::Male => lang.t("Nam", "Male"), domain::person::Sex::Female => lang.t("Nữ", "Female") }) }
                dt { (lang.t("Số CCCD", "Citizen ID")) } dd id="national-id" { (person.national_id.as_ref().map(|n| n.as_str()).unwrap_or("—")) }
                dt { (lang.t("Điện thoại", "Phone")) } dd id="phone" { (person.phone.as_ref().map(|n| n.as_str()).unwrap_or("—")) }
                dt { (lang.t("Xã/phường (2025)", "Commune (2025)")) } dd { (commune.map(|c| c.name.as_str()).unwrap_or("")) " (" (person.commune_code) ")" }
                dt { (lang.t("Xã/phường trước 2025", "Commune before 2025")) } dd { @if let Some(o) = old { (o.name) " (" (o.code) ")" } @else { "—" } }
                dt { (lang.t("Mã hộ", "Household")) } dd { (person.household_id.map(|h| h.to_string()).unwrap_or_default()) }
            }
            (vaccination)
            (super::linkage::person_links(lang, &p, person.id, &linked, &merges, may_merge && merged_into.is_none()))
            p.muted { (lang.t(
                "Lượt xem hồ sơ đầy đủ này đã được ghi vào nhật ký truy cập (Nghị định 13/2023/NĐ-CP).",
                "This view of a full record has been written to the access log (Decree 13/2023/NĐ-CP).")) }
        },
    ))
}
