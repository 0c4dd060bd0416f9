//! Door-to-door follow-up lists (issue 5, point 5):
//!
//! - `GET /api/v1/followup?unit=CODE[&hierarchy=2025|pre2025][&as_of=YYYY-MM-DD]
//!   [&only_unvaccinated=true][&limit=N][&offset=N]` → `{unit, as_of, ruleset, min_age_years,
//!   overdue_grace_days, counts: {not_vaccinated, overdue, not_vaccinated_without_known_reason},
//!   total, limit, offset, items: [...]}`: residents of a unit within the caller's scope who are old
//!   enough and not vaccinated or overdue for their next dose ([`intake::followup`]), each with
//!   their state, due date, days overdue and recorded reason. Citizen IDs are masked as in every
//!   list; the phone is shown in full to a caller who may read the person's full record (staff
//!   must be able to call), so every list read is written to the audit log (`followup.view`).
//! - `PUT /api/v1/followup/{person_id}` `{reason, note}`: records why a resident has not been
//!   vaccinated (`contraindicated`, `moved_away`, `refused`, `unreachable`, `unknown`), audited
//!   (`followup.reason`) in the same transaction; a person outside the caller's scope is 404, an
//!   unknown reason 400 with a Vietnamese message.

use axum::Json;
use axum::extract::{Path, State};
use chrono::NaiveDate;
use domain::auth::{Permission, UnitRef};
use intake::followup::{self, FollowUpEntry, FollowUpFilters, FollowUpList};
use serde::{Deserialize, Serialize};
use store::{CoverageUnit, FollowUpCounts};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{self, Caller, ClientIp, Principal};
use crate::authz;
use crate::error::{ApiError, ApiJson, ApiQuery};

/// Default page size of the API.
pub const DEFAULT_LIMIT: u32 = 100;

#[derive(Debug, Default, Deserialize)]
pub struct FollowUpParams {
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub as_of: Option<String>,
    pub only_unvaccinated: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

/// `true`/`1`/`on`/`yes` (a checkbox sends `on`).
pub fn flag(v: Option<&str>) -> Result<bool, domain::Error> {
    match v.map(str::trim).unwrap_or("") {
        "" | "false" | "0" | "off" | "no" => Ok(false),
        "true" | "1" | "on" | "yes" => Ok(true),
        other => Err(domain::Error::invalid(
            "only_unvaccinated",
            format!("only_unvaccinated phải là true hoặc false, không phải «{other}»"),
            format!("only_unvaccinated must be true or false, not «{other}»"),
        )),
    }
}

/// The unit (within the caller's scope, else 403) and date of a follow-up question.
pub fn scoped_params(
    state: &AppState,
    caller: &Principal,
    unit: Option<&str>,
    hierarchy: Option<&str>,
    as_of: Option<&str>,
) -> Result<(CoverageUnit, NaiveDate), domain::Error> {
    let (unit, as_of) = crate::api::coverage::coverage_params(state, unit, hierarchy, as_of)?;
    authz::require_unit(
        state.units,
        caller,
        Permission::ManageFollowUp,
        &UnitRef::new(unit.hierarchy, unit.code.as_str()),
    )?;
    Ok((unit, as_of))
}

/// Writes a read of a follow-up list (phones in full) to the audit log.
pub async fn audit_view(
    state: &AppState,
    caller: &Principal,
    ip: &ClientIp,
    list: &FollowUpList,
    what: &str,
) -> Result<(), domain::Error> {
    auth::audit(
        state,
        Some(&caller.user),
        ip,
        "followup.view",
        Some(("unit", list.unit.code.clone())),
        Some(list.unit.code.clone()),
        serde_json::json!({
            "hierarchy": list.unit.hierarchy.as_str(),
            "as_of": list.as_of,
            "format": what,
            "entries": list.entries.len(),
            "offset": list.offset,
        }),
    )
    .await
}

/// One resident as the API shows them.
#[derive(Debug, Serialize)]
pub struct FollowUpItem {
    pub person_id: Uuid,
    pub full_name: String,
    pub dob: NaiveDate,
    pub age: u32,
    pub sex: domain::person::Sex,
    pub commune_code: String,
    pub old_commune_code: Option<String>,
    pub address: Option<String>,
    /// Always masked (`0381******45`).
    pub national_id: Option<String>,
    /// In full for a caller who may read the person, masked otherwise.
    pub phone: Option<String>,
    pub doses: u32,
    /// `{state: not_vaccinated}` or `{state: overdue, kind, due, days_overdue}` (…).
    pub state: domain::schedule::FollowUp,
    pub state_label: String,
    pub due: Option<NaiveDate>,
    pub days_overdue: Option<i64>,
    pub reason: Option<store::FollowUpReason>,
    pub reason_label: Option<&'static str>,
    pub note: Option<String>,
    pub reason_updated_by: Option<String>,
    pub reason_updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl FollowUpItem {
    pub fn new(state: &AppState, caller: &Principal, e: &FollowUpEntry, english: bool) -> Self {
        let p = &e.person;
        let full = authz::may_read_person(state.units, caller, p);
        let (due, days_overdue) = followup::due_of(&e.state);
        FollowUpItem {
            person_id: p.id,
            full_name: p.full_name.clone(),
            dob: p.dob,
            age: e.age,
            sex: p.sex,
            commune_code: p.commune_code.clone(),
            old_commune_code: p.old_commune_code.clone(),
            address: e.address.clone(),
            national_id: p.national_id.as_ref().map(|n| n.masked()),
            phone: p.phone.as_ref().map(|n| {
                if full {
                    n.as_str().to_string()
                } else {
                    n.masked()
                }
            }),
            doses: e.doses,
            state: e.state,
            state_label: followup::state_label(&e.state, english),
            due,
            days_overdue,
            reason: e.reason.as_ref().map(|r| r.reason),
            reason_label: e.reason.as_ref().map(|r| r.reason.label_vi()),
            note: e.reason.as_ref().map(|r| r.note.clone()),
            reason_updated_by: e.reason.as_ref().map(|r| r.updated_by.clone()),
            reason_updated_at: e.reason.as_ref().map(|r| r.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct FollowUpResponse {
    pub unit: CoverageUnit,
    pub as_of: NaiveDate,
    pub ruleset: String,
    pub min_age_years: u32,
    pub overdue_grace_days: i64,
    pub only_unvaccinated: bool,
    pub counts: FollowUpCounts,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
    pub items: Vec<FollowUpItem>,
}

pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiQuery(q): ApiQuery<FollowUpParams>,
) -> Result<Json<FollowUpResponse>, ApiError> {
    let (unit, as_of) = scoped_params(
        &state,
        &p,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
        q.as_of.as_deref(),
    )?;
    let filters = FollowUpFilters {
        only_unvaccinated: flag(q.only_unvaccinated.as_deref())?,
    };
    let list = followup::follow_up_list(
        state.store.as_ref(),
        &unit,
        as_of,
        filters,
        q.limit.unwrap_or(DEFAULT_LIMIT),
        q.offset.unwrap_or(0),
    )
    .await?;
    audit_view(&state, &p, &ip, &list, "json").await?;
    let items = list
        .entries
        .iter()
        .map(|e| FollowUpItem::new(&state, &p, e, false))
        .collect();
    Ok(Json(FollowUpResponse {
        unit: list.unit,
        as_of: list.as_of,
        ruleset: list.ruleset,
        min_age_years: list.min_age_years,
        overdue_grace_days: list.overdue_grace_days,
        only_unvaccinated: list.only_unvaccinated,
        counts: list.counts,
        total: list.total,
        limit: list.limit,
        offset: list.offset,
        items,
    }))
}

#[derive(Debug, Deserialize)]
pub struct ReasonBody {
    pub reason: String,
    #[serde(default)]
    pub note: String,
}

/// Records a reason for a resident the caller may follow up (404 for anyone else), audited.
pub async fn record_reason(
    state: &AppState,
    caller: &Principal,
    ip: &ClientIp,
    person_id: &str,
    reason: &str,
    note: &str,
) -> Result<store::FollowUpNote, domain::Error> {
    let id = Uuid::parse_str(person_id.trim()).map_err(|_| {
        domain::Error::invalid(
            "person_id",
            format!("Mã người «{person_id}» không hợp lệ"),
            format!("Invalid person id «{person_id}»"),
        )
    })?;
    let person = state
        .store
        .get_person(id)
        .await?
        .ok_or_else(|| domain::Error::not_found("người", "Person"))?;
    authz::require_person(state.units, caller, &person)?;
    if state.store.person_coverage(id).await?.is_none() {
        // Merged into another person: follow up the one kept instead.
        return Err(domain::Error::not_found("người", "Person"));
    }
    let (reason, note) = followup::parse_reason(reason, note)?;
    let entry = auth::audit_entry(
        state,
        Some(&caller.user),
        ip,
        "followup.reason",
        Some(("person", id.to_string())),
        Some(person.commune_code.clone()),
        serde_json::json!({"reason": reason.as_str(), "note_chars": note.chars().count()}),
    );
    followup::set_reason(
        state.store.as_ref(),
        id,
        reason,
        &note,
        &caller.user.username,
        (state.clock)(),
        &entry,
    )
    .await
}

pub async fn set_reason(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(person_id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let note = record_reason(&state, &p, &ip, &person_id, &body.reason, &body.note).await?;
    Ok(Json(serde_json::json!({
        "person_id": note.person_id,
        "reason": note.reason,
        "reason_label": note.reason.label_vi(),
        "note": note.note,
        "updated_by": note.updated_by,
        "updated_at": note.updated_at,
    })))
}
