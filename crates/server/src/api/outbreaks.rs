//! Outbreak response over HTTP ([`intake::outbreaks`]): contacts, clusters and their chain of
//! transmission, sampling and the laboratory, border declarations.
//!
//! - `POST /api/v1/cases/{id}/contacts` `{contacts: [{full_name, national_id, phone, relation,
//!   last_exposure, quarantine_place, note, quarantine_days?}]}` (or one contact object) → 201
//!   `{items}`; `GET /api/v1/cases/{id}/contacts` → `{case_id, total, items}` (read audited
//!   `contacts.view`); `PATCH /api/v1/contacts/{id}` `{status?, quarantine_until?,
//!   quarantine_place?, note?}`.
//! - `POST /api/v1/clusters` `{name, place, commune_code, hierarchy?, opened_on?, cases?}` → 201;
//!   `GET /api/v1/clusters?unit&hierarchy&include_closed&limit` (clusters whose end date has
//!   passed are closed on the way); `GET /api/v1/clusters/{id}` → the cluster brought up to date
//!   with its members and unusual reasons (audited `cluster.view`); `PATCH /api/v1/clusters/{id}`
//!   `{zoning?, unusual?, unusual_reason?, sequencing_lab? + referred_on?, variant? +
//!   variant_result_on?, closed?, name?, place?}`; `POST /api/v1/clusters/{id}/cases` `{add: [case
//!   ids], remove: [case ids]}`.
//! - `GET /api/v1/clusters/{id}/graph.svg`, `GET /api/v1/cases/{id}/graph.svg`: the chain of
//!   transmission ([`crate::pages::transmission_graph`]).
//! - `POST /api/v1/sample-sessions` `{commune_code, hierarchy?, place, held_on?, lab_code}` →
//!   201; `GET /api/v1/sample-sessions?unit&hierarchy&limit` → sessions with their samples;
//!   `POST /api/v1/sample-sessions/{id}/samples` `{samples: [{code, members: [{full_name,
//!   national_id, phone}]}]}` (or one sample) → 201.
//! - Laboratory (`ProcessSamples`): `POST /api/v1/samples/{id}/receive`; `POST
//!   /api/v1/samples/{id}/result` `{result, test_type?}` (a positive pool is broken down; a
//!   single sample's result becomes a lab test); `GET /api/v1/lab-queue?lab&unit&hierarchy&limit`
//!   → `{items}` the queue (received, waiting for a result, oldest collection first, with the
//!   waiting hours) and `{incoming}` (collected, not yet received);
//!   `GET /api/v1/lab-turnaround?lab&unit&hierarchy&from&to`.
//! - Border: `POST /api/v1/entry-declarations` → 201; `GET
//!   /api/v1/entry-declarations?unit&hierarchy&from&to`; `PUT /api/v1/border-counts`
//!   `{gate_code, province_code, day, entrants, from_variant_areas}`; `GET
//!   /api/v1/entry-declarations/share?unit&from&to` (a 2025 province; declared share vs > 95%).
//!
//! Access: `ManageOutbreaks` within the caller's unit for contacts, clusters, sessions and
//! declarations; `ProcessSamples` for the lab routes. A record (case, contact, cluster, session,
//! sample) outside the caller's unit is 404; a list or a creation for a unit outside it is 403.
//! Labs have no registry (a lab code is free text), so the unit is the boundary for labs too: a
//! lab user bound to a province works the samples collected in sessions of that province,
//! whichever lab code they were sent to, and the queue and turnaround are read for a unit (the
//! caller's own by default). Lists mask citizen IDs, document numbers and phones.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use domain::Error;
use domain::auth::{Permission, Role, UnitRef};
use domain::person::mask_digits;
use domain::surveillance::{TestResult, TestType};
use domain::units::{UnitLevel, UnitVersion};
use intake::outbreaks::{
    self as ob, ClusterInput, ClusterPatch, ContactInput, ContactPatch, ContactRules, ContactState,
    DeclarationInput, DeclaredShare, LabTurnaround, SampleInput, SessionInput, UnusualReason,
};
use serde::{Deserialize, Serialize};
use store::{
    BorderCount, Case, CaseUnits, Cluster, Contact, EntryDeclaration, PersonScope, Sample,
    SampleSession,
};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{self, Caller, ClientIp, Principal};
use crate::authz;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::i18n::Lang;
use crate::pages::transmission_graph;

/// Default and largest page of the lists.
pub const DEFAULT_LIMIT: u32 = 200;
pub const MAX_LIMIT: u32 = 1_000;
/// Longest period a border or turnaround question may cover.
pub const MAX_PERIOD_DAYS: i64 = 366;

fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// Now on the server's (injected) clock.
pub fn now(state: &AppState) -> DateTime<Utc> {
    (state.clock)()
}

/// Today in Vietnam on the server's clock.
pub fn today(state: &AppState) -> NaiveDate {
    ob::local_date(now(state))
}

fn parse_id(what: &str, raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        Error::invalid(
            what,
            format!("Mã «{}» không hợp lệ", raw.trim()),
            format!("Invalid id «{}»", raw.trim()),
        )
    })
}

fn limit(l: Option<u32>) -> u32 {
    l.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// Whether the caller's unit covers a record's units (admins: everything).
pub fn may_see(state: &AppState, p: &Principal, units: &CaseUnits) -> bool {
    match (p.user.role, &p.user.scope.unit) {
        (Role::Admin, _) => true,
        (_, Some(scope)) => ob::units_within(state.units, scope, units),
        (_, None) => false,
    }
}

/// 403 unless the caller may write for a place with these units.
fn require_place(state: &AppState, p: &Principal, units: &CaseUnits) -> Result<(), Error> {
    if may_see(state, p, units) {
        Ok(())
    } else {
        Err(authz::forbidden())
    }
}

fn audit_entry(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    action: &str,
) -> domain::audit::NewAuditEntry {
    auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        action,
        None,
        None,
        serde_json::json!({}),
    )
}

/// A unit asked for (or the caller's own) and what it covers; `None` for an administrator
/// without a unit (everything). 403 for a unit outside the caller's.
#[derive(Debug, Clone)]
pub struct Area {
    pub unit: Option<UnitRef>,
    pub scope: PersonScope,
    pub name: String,
}

pub fn area(
    state: &AppState,
    p: &Principal,
    perm: Permission,
    unit: Option<&str>,
    hierarchy: Option<&str>,
) -> Result<Area, Error> {
    let (code, version) = match (present(unit), &p.user.scope.unit) {
        (Some(code), _) => {
            let version = match present(hierarchy) {
                Some(h) => UnitVersion::parse(h)?,
                // The 2025 list has no districts.
                None if code.len() == 3 => UnitVersion::Pre2025,
                None => UnitVersion::V2025,
            };
            (code.to_string(), version)
        }
        (None, Some(own)) => (own.code.clone(), own.version),
        (None, None) if p.user.role == Role::Admin => {
            return Ok(Area {
                unit: None,
                scope: PersonScope::All,
                name: "Toàn quốc".into(),
            });
        }
        (None, None) => return Err(authz::forbidden()),
    };
    let u = state.units.hierarchy(version).require(&code)?;
    let unit = UnitRef::new(version, u.code.as_str());
    authz::require_unit(state.units, p, perm, &unit)?;
    Ok(Area {
        scope: PersonScope::for_unit(state.units, version, &u.code)?,
        name: u.name.clone(),
        unit: Some(unit),
    })
}

/// A period `[from, to]` (default: the last 7 days up to today), at most a year.
pub fn period(
    state: &AppState,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(NaiveDate, NaiveDate), Error> {
    let read = |field: &str, raw: Option<&str>| -> Result<Option<NaiveDate>, Error> {
        present(raw)
            .map(|t| {
                domain::dose_record::parse_date(t).ok_or_else(|| {
                    Error::invalid(
                        field,
                        format!("Ngày «{t}» không hợp lệ (dd/mm/yyyy)"),
                        format!("Invalid date «{t}»"),
                    )
                })
            })
            .transpose()
    };
    let to = read("to", to)?.unwrap_or_else(|| today(state));
    let from = read("from", from)?.unwrap_or(to - chrono::TimeDelta::days(6));
    if from > to {
        return Err(Error::invalid(
            "from",
            "Ngày bắt đầu sau ngày kết thúc",
            "from is after to",
        ));
    }
    if (to - from).num_days() > MAX_PERIOD_DAYS {
        return Err(Error::invalid(
            "from",
            "Khoảng thời gian dài quá một năm",
            "The period is longer than a year",
        ));
    }
    Ok((from, to))
}

fn masked(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| mask_digits(s))
}

// ---------------------------------------------------------------------------------------------
// Loading records within the caller's scope (404 otherwise)
// ---------------------------------------------------------------------------------------------

/// A case the caller's unit covers (404 otherwise).
pub async fn scoped_case(state: &AppState, p: &Principal, id: &str) -> Result<Case, Error> {
    crate::api::cases::readable_case(state, p, id).await
}

pub async fn scoped_contact(state: &AppState, p: &Principal, id: &str) -> Result<Contact, Error> {
    let id = parse_id("id", id)?;
    state
        .store
        .contact(id)
        .await?
        .filter(|c| may_see(state, p, &c.units))
        .ok_or_else(|| Error::not_found("người tiếp xúc", "Contact"))
}

pub async fn scoped_cluster(state: &AppState, p: &Principal, id: &str) -> Result<Cluster, Error> {
    let id = parse_id("id", id)?;
    state
        .store
        .cluster(id)
        .await?
        .filter(|c| may_see(state, p, &c.units))
        .ok_or_else(|| Error::not_found("ổ dịch", "Cluster"))
}

pub async fn scoped_session(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<SampleSession, Error> {
    let id = parse_id("id", id)?;
    state
        .store
        .sample_session(id)
        .await?
        .filter(|s| may_see(state, p, &s.units))
        .ok_or_else(|| Error::not_found("điểm lấy mẫu", "Sampling session"))
}

/// A sample and its session, when the session lies in the caller's unit (404 otherwise).
pub async fn scoped_sample(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<(Sample, SampleSession), Error> {
    let not_found = || Error::not_found("mẫu xét nghiệm", "Sample");
    let id = parse_id("id", id)?;
    let sample = state.store.sample(id).await?.ok_or_else(not_found)?;
    let session = state
        .store
        .sample_session(sample.session_id)
        .await?
        .filter(|s| may_see(state, p, &s.units))
        .ok_or_else(not_found)?;
    Ok((sample, session))
}

// ---------------------------------------------------------------------------------------------
// Contacts
// ---------------------------------------------------------------------------------------------

/// A contact as lists show it (citizen ID and phone masked).
#[derive(Debug, Clone, Serialize)]
pub struct ContactItem {
    pub id: Uuid,
    pub case_id: Uuid,
    pub person_id: Option<Uuid>,
    pub full_name: String,
    pub national_id: Option<String>,
    pub phone: Option<String>,
    pub relation: String,
    pub last_exposure: NaiveDate,
    pub quarantine_until: Option<NaiveDate>,
    pub quarantine_place: String,
    pub status: store::ContactStatus,
    #[serde(flatten)]
    pub state: ContactState,
    pub state_label: String,
    pub became_case_id: Option<Uuid>,
    pub note: String,
    pub commune_code: String,
    pub old_commune_code: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl ContactItem {
    pub fn new(c: &Contact, today: NaiveDate, english: bool) -> Self {
        let state = ContactState::of(c, today);
        ContactItem {
            id: c.id,
            case_id: c.case_id,
            person_id: c.person_id,
            full_name: c.full_name.clone(),
            national_id: masked(&c.national_id),
            phone: masked(&c.phone),
            relation: c.relation.clone(),
            last_exposure: c.last_exposure,
            quarantine_until: c.quarantine_until,
            quarantine_place: c.quarantine_place.clone(),
            status: c.status,
            state,
            state_label: state.label(english),
            became_case_id: c.became_case_id,
            note: c.note.clone(),
            commune_code: c.units.commune_code.clone(),
            old_commune_code: c.units.old_commune_code.clone(),
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ContactsBody {
    Many { contacts: Vec<ContactInput> },
    One(ContactInput),
}

/// Adds contacts to a case the caller manages.
pub async fn add_contacts_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    case_id: &str,
    inputs: &[ContactInput],
) -> Result<Vec<Contact>, Error> {
    let case = scoped_case(state, p, case_id).await?;
    let audit = audit_entry(state, p, ip, "contact.add");
    ob::add_contacts(
        state.store.as_ref(),
        &case,
        inputs,
        &ContactRules::default(),
        now(state),
        &audit,
    )
    .await
}

pub async fn add_contacts(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ContactsBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let inputs = match body {
        ContactsBody::Many { contacts } => contacts,
        ContactsBody::One(c) => vec![c],
    };
    let added = add_contacts_for(&state, &p, &ip, &id, &inputs).await?;
    let day = today(&state);
    let items: Vec<ContactItem> = added
        .iter()
        .map(|c| ContactItem::new(c, day, false))
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "items": items })),
    ))
}

/// The contacts of a case the caller manages, audited `contacts.view`.
pub async fn contacts_of_case_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    case_id: &str,
) -> Result<(Case, Vec<Contact>), Error> {
    let case = scoped_case(state, p, case_id).await?;
    let contacts = state.store.contacts_of_case(case.id).await?;
    auth::audit(
        state,
        Some(&p.user),
        ip,
        "contacts.view",
        Some(("case", case.id.to_string())),
        Some(case.units.commune_code.clone()).filter(|c| !c.is_empty()),
        serde_json::json!({"contacts": contacts.len()}),
    )
    .await?;
    Ok((case, contacts))
}

pub async fn list_contacts(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (case, contacts) = contacts_of_case_for(&state, &p, &ip, &id).await?;
    let day = today(&state);
    let items: Vec<ContactItem> = contacts
        .iter()
        .map(|c| ContactItem::new(c, day, false))
        .collect();
    Ok(Json(serde_json::json!({
        "case_id": case.id,
        "total": items.len(),
        "items": items,
    })))
}

pub async fn update_contact_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
    patch: &ContactPatch,
) -> Result<Contact, Error> {
    let contact = scoped_contact(state, p, id).await?;
    let audit = audit_entry(state, p, ip, "contact.update");
    ob::update_contact(state.store.as_ref(), &contact, patch, now(state), &audit).await
}

pub async fn patch_contact(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ContactPatch>,
) -> Result<Json<ContactItem>, ApiError> {
    let c = update_contact_for(&state, &p, &ip, &id, &patch).await?;
    Ok(Json(ContactItem::new(&c, today(&state), false)))
}

// ---------------------------------------------------------------------------------------------
// Clusters
// ---------------------------------------------------------------------------------------------

/// A member of a cluster as the cluster shows it (no identifiers).
#[derive(Debug, Clone, Serialize)]
pub struct MemberItem {
    pub case_id: Uuid,
    pub full_name: String,
    pub first_positive: NaiveDate,
    pub classification: domain::surveillance::Classification,
    pub severity: domain::surveillance::Severity,
    pub outcome: Option<domain::surveillance::Outcome>,
    pub status: domain::surveillance::CaseStatus,
    pub detection_source: domain::surveillance::DetectionSource,
    pub commune_code: String,
}

impl From<&Case> for MemberItem {
    fn from(c: &Case) -> Self {
        MemberItem {
            case_id: c.id,
            full_name: c.full_name.clone(),
            first_positive: c.first_positive,
            classification: c.classification,
            severity: c.severity,
            outcome: c.outcome,
            status: c.status,
            detection_source: c.detection_source,
            commune_code: c.units.commune_code.clone(),
        }
    }
}

/// A cluster with its members and why it is unusual.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterDetail {
    #[serde(flatten)]
    pub cluster: Cluster,
    pub members: Vec<MemberItem>,
    pub unusual_reasons: Vec<UnusualReason>,
    /// The unusual thresholds are unverified defaults ("cần xác nhận").
    pub unusual_rules_verified: bool,
}

impl ClusterDetail {
    pub fn new(cluster: Cluster, members: &[Case]) -> Self {
        ClusterDetail {
            cluster,
            members: members.iter().map(MemberItem::from).collect(),
            unusual_reasons: ob::unusual_reasons(members),
            unusual_rules_verified: ob::UNUSUAL_RULES_VERIFIED,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NewClusterBody {
    #[serde(flatten)]
    pub cluster: ClusterInput,
    #[serde(default)]
    pub cases: Vec<String>,
}

/// Reads cases the caller manages (404 for any outside the unit).
async fn scoped_cases(state: &AppState, p: &Principal, ids: &[String]) -> Result<Vec<Case>, Error> {
    if ids.len() > 500 {
        return Err(Error::invalid(
            "cases",
            "Tối đa 500 ca bệnh mỗi lần",
            "At most 500 cases at a time",
        ));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(scoped_case(state, p, id).await?);
    }
    Ok(out)
}

/// Creates a cluster in a commune of the caller's unit (403 otherwise), with its first cases.
pub async fn create_cluster_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    input: &ClusterInput,
    cases: &[String],
) -> Result<ClusterDetail, Error> {
    let cluster = ob::new_cluster(state.units, input, now(state))?;
    require_place(state, p, &cluster.units)?;
    let add = scoped_cases(state, p, cases).await?;
    let audit = audit_entry(state, p, ip, "cluster.create");
    ob::create_cluster(state.store.as_ref(), &cluster, &audit).await?;
    if add.is_empty() {
        return Ok(ClusterDetail::new(cluster, &[]));
    }
    let (cluster, members) = ob::change_cluster_cases(
        state.store.as_ref(),
        &cluster,
        &add,
        &[],
        now(state),
        &audit,
    )
    .await?;
    Ok(ClusterDetail::new(cluster, &members))
}

pub async fn create_cluster(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(body): ApiJson<NewClusterBody>,
) -> Result<(StatusCode, Json<ClusterDetail>), ApiError> {
    let d = create_cluster_for(&state, &p, &ip, &body.cluster, &body.cases).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[derive(Debug, Default, Deserialize)]
pub struct ClusterListParams {
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub include_closed: Option<String>,
    pub limit: Option<u32>,
}

/// The clusters of a unit (403 outside the caller's), newest first; those whose end date has
/// passed are closed on the way.
pub async fn clusters_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    q: &ClusterListParams,
) -> Result<(Area, Vec<Cluster>), Error> {
    let a = area(
        state,
        p,
        Permission::ManageOutbreaks,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
    )?;
    let include_closed = crate::api::followup::flag(q.include_closed.as_deref()).map_err(|_| {
        Error::invalid(
            "include_closed",
            "include_closed phải là true hoặc false",
            "include_closed must be true or false",
        )
    })?;
    let clusters = state
        .store
        .clusters_in_scope(&a.scope, include_closed, limit(q.limit))
        .await?;
    let audit = audit_entry(state, p, ip, "cluster.auto_update");
    let mut clusters =
        ob::close_ended_clusters(state.store.as_ref(), clusters, now(state), &audit).await?;
    if !include_closed {
        clusters.retain(|c| !c.closed);
    }
    Ok((a, clusters))
}

pub async fn list_clusters(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiQuery(q): ApiQuery<ClusterListParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (a, clusters) = clusters_for(&state, &p, &ip, &q).await?;
    Ok(Json(serde_json::json!({
        "unit": a.unit.as_ref().map(|u| &u.code),
        "unit_name": a.name,
        "total": clusters.len(),
        "items": clusters,
    })))
}

/// A cluster brought up to date with its members; the read is audited (`cluster.view`).
pub async fn cluster_detail_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
) -> Result<(Cluster, Vec<Case>), Error> {
    let cluster = scoped_cluster(state, p, id).await?;
    let audit = audit_entry(state, p, ip, "cluster.auto_update");
    let (cluster, members) =
        ob::refresh_stored_cluster(state.store.as_ref(), &cluster, now(state), &audit).await?;
    auth::audit(
        state,
        Some(&p.user),
        ip,
        "cluster.view",
        Some(("cluster", cluster.id.to_string())),
        Some(cluster.units.commune_code.clone()),
        serde_json::json!({"members": members.len()}),
    )
    .await?;
    Ok((cluster, members))
}

pub async fn get_cluster(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<Json<ClusterDetail>, ApiError> {
    let (cluster, members) = cluster_detail_for(&state, &p, &ip, &id).await?;
    Ok(Json(ClusterDetail::new(cluster, &members)))
}

pub async fn update_cluster_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
    patch: &ClusterPatch,
) -> Result<Cluster, Error> {
    let cluster = scoped_cluster(state, p, id).await?;
    let audit = audit_entry(state, p, ip, "cluster.update");
    ob::update_cluster(state.store.as_ref(), &cluster, patch, now(state), &audit).await
}

pub async fn patch_cluster(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ClusterPatch>,
) -> Result<Json<Cluster>, ApiError> {
    Ok(Json(
        update_cluster_for(&state, &p, &ip, &id, &patch).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MembersBody {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

pub async fn change_cases_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
    body: &MembersBody,
) -> Result<(Cluster, Vec<Case>), Error> {
    let cluster = scoped_cluster(state, p, id).await?;
    if body.add.is_empty() && body.remove.is_empty() {
        return Err(Error::invalid(
            "add",
            "Chưa chọn ca bệnh nào để thêm hoặc gỡ",
            "No case to add or remove",
        ));
    }
    let add = scoped_cases(state, p, &body.add).await?;
    let remove = scoped_cases(state, p, &body.remove).await?;
    let audit = audit_entry(state, p, ip, "cluster.cases");
    ob::change_cluster_cases(
        state.store.as_ref(),
        &cluster,
        &add,
        &remove,
        now(state),
        &audit,
    )
    .await
}

pub async fn change_cases(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MembersBody>,
) -> Result<Json<ClusterDetail>, ApiError> {
    let (cluster, members) = change_cases_for(&state, &p, &ip, &id, &body).await?;
    Ok(Json(ClusterDetail::new(cluster, &members)))
}

// ---------------------------------------------------------------------------------------------
// Chain of transmission
// ---------------------------------------------------------------------------------------------

/// The SVG of a chain, cases outside the caller's unit drawn without initials.
pub fn chain_svg(
    state: &AppState,
    p: &Principal,
    lang: Lang,
    title: &str,
    chain: &ob::Chain,
    focus: Option<Uuid>,
) -> String {
    let nodes: Vec<transmission_graph::GraphNode> = chain
        .cases
        .iter()
        .map(|c| {
            transmission_graph::node_of_case(
                c,
                crate::api::cases::case_in_scope(state.units, p, c),
                focus == Some(c.id),
            )
        })
        .collect();
    let links: Vec<(Uuid, Uuid)> = chain.links.iter().map(|l| (l.from, l.to)).collect();
    transmission_graph::render(lang, title, &nodes, &links)
}

pub async fn cluster_chain_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
) -> Result<(Cluster, ob::Chain), Error> {
    let cluster = scoped_cluster(state, p, id).await?;
    let members = ob::cluster_members(state.store.as_ref(), &cluster).await?;
    let chain = ob::chain_of_cluster(state.store.as_ref(), &members).await?;
    auth::audit(
        state,
        Some(&p.user),
        ip,
        "cluster.graph",
        Some(("cluster", cluster.id.to_string())),
        Some(cluster.units.commune_code.clone()),
        serde_json::json!({"cases": chain.cases.len(), "links": chain.links.len()}),
    )
    .await?;
    Ok((cluster, chain))
}

fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response()
}

pub async fn cluster_graph(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (cluster, chain) = cluster_chain_for(&state, &p, &ip, &id).await?;
    let title = format!(
        "{}: {}",
        lang.t("Chuỗi lây nhiễm", "Chain of transmission"),
        cluster.name
    );
    Ok(svg_response(chain_svg(
        &state, &p, lang, &title, &chain, None,
    )))
}

pub async fn case_chain_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
) -> Result<(Case, ob::Chain), Error> {
    let case = scoped_case(state, p, id).await?;
    let chain = ob::chain_around_case(state.store.as_ref(), &case).await?;
    auth::audit(
        state,
        Some(&p.user),
        ip,
        "case.graph",
        Some(("case", case.id.to_string())),
        Some(case.units.commune_code.clone()).filter(|c| !c.is_empty()),
        serde_json::json!({"cases": chain.cases.len(), "links": chain.links.len()}),
    )
    .await?;
    Ok((case, chain))
}

pub async fn case_graph(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    lang: Lang,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (case, chain) = case_chain_for(&state, &p, &ip, &id).await?;
    let title = format!(
        "{} {}",
        lang.t(
            "Chuỗi lây nhiễm quanh ca",
            "Chain of transmission around case"
        ),
        transmission_graph::short_id(case.id)
    );
    Ok(svg_response(chain_svg(
        &state,
        &p,
        lang,
        &title,
        &chain,
        Some(case.id),
    )))
}

// ---------------------------------------------------------------------------------------------
// Sampling and the laboratory
// ---------------------------------------------------------------------------------------------

/// A sample member as lists show them.
#[derive(Debug, Clone, Serialize)]
pub struct MemberOut {
    pub person_id: Option<Uuid>,
    pub full_name: String,
    pub national_id: Option<String>,
    pub phone: Option<String>,
}

/// A sample as lists show it (identifiers masked).
#[derive(Debug, Clone, Serialize)]
pub struct SampleItem {
    pub id: Uuid,
    pub session_id: Uuid,
    pub code: String,
    pub pooled: bool,
    pub members: Vec<MemberOut>,
    pub pool_id: Option<Uuid>,
    pub lab_code: String,
    pub collected_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub resulted_at: Option<DateTime<Utc>>,
    pub result: Option<TestResult>,
    pub status: store::SampleStatus,
}

impl From<&Sample> for SampleItem {
    fn from(s: &Sample) -> Self {
        SampleItem {
            id: s.id,
            session_id: s.session_id,
            code: s.code.clone(),
            pooled: s.pooled(),
            members: s
                .members
                .iter()
                .map(|m| MemberOut {
                    person_id: m.person_id,
                    full_name: m.full_name.clone(),
                    national_id: masked(&m.national_id),
                    phone: masked(&m.phone),
                })
                .collect(),
            pool_id: s.pool_id,
            lab_code: s.lab_code.clone(),
            collected_at: s.collected_at,
            received_at: s.received_at,
            resulted_at: s.resulted_at,
            result: s.result,
            status: s.status,
        }
    }
}

/// A session with its samples.
#[derive(Debug, Clone, Serialize)]
pub struct SessionItem {
    #[serde(flatten)]
    pub session: SampleSession,
    pub samples: Vec<SampleItem>,
}

pub async fn create_session_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    input: &SessionInput,
) -> Result<SampleSession, Error> {
    let session = ob::new_session(state.units, input, &p.user.username, now(state))?;
    require_place(state, p, &session.units)?;
    let audit = audit_entry(state, p, ip, "sample_session.create");
    ob::create_session(state.store.as_ref(), &session, &audit).await?;
    Ok(session)
}

pub async fn create_session(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(input): ApiJson<SessionInput>,
) -> Result<(StatusCode, Json<SessionItem>), ApiError> {
    let session = create_session_for(&state, &p, &ip, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionItem {
            session,
            samples: Vec::new(),
        }),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct SessionListParams {
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub limit: Option<u32>,
}

/// The sessions of a unit (403 outside the caller's), newest first, with their samples.
pub async fn sessions_for(
    state: &AppState,
    p: &Principal,
    q: &SessionListParams,
) -> Result<(Area, Vec<(SampleSession, Vec<Sample>)>), Error> {
    let a = area(
        state,
        p,
        Permission::ManageOutbreaks,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
    )?;
    let sessions = state
        .store
        .sample_sessions(&a.scope, q.limit.unwrap_or(50).clamp(1, 200))
        .await?;
    let mut out = Vec::with_capacity(sessions.len());
    for s in sessions {
        let samples = state.store.samples_of_session(s.id).await?;
        out.push((s, samples));
    }
    Ok((a, out))
}

pub async fn list_sessions(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<SessionListParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (a, sessions) = sessions_for(&state, &p, &q).await?;
    let items: Vec<SessionItem> = sessions
        .into_iter()
        .map(|(session, samples)| SessionItem {
            session,
            samples: samples.iter().map(SampleItem::from).collect(),
        })
        .collect();
    Ok(Json(serde_json::json!({
        "unit": a.unit.as_ref().map(|u| &u.code),
        "total": items.len(),
        "items": items,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SamplesBody {
    Many { samples: Vec<SampleInput> },
    One(SampleInput),
}

pub async fn add_samples_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    session_id: &str,
    inputs: &[SampleInput],
) -> Result<Vec<Sample>, Error> {
    let session = scoped_session(state, p, session_id).await?;
    let audit = audit_entry(state, p, ip, "sample.collect");
    ob::add_samples(state.store.as_ref(), &session, inputs, now(state), &audit).await
}

pub async fn add_samples(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SamplesBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let inputs = match body {
        SamplesBody::Many { samples } => samples,
        SamplesBody::One(s) => vec![s],
    };
    let samples = add_samples_for(&state, &p, &ip, &id, &inputs).await?;
    let items: Vec<SampleItem> = samples.iter().map(SampleItem::from).collect();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "items": items })),
    ))
}

pub async fn receive_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
) -> Result<Sample, Error> {
    let (sample, _) = scoped_sample(state, p, id).await?;
    let audit = audit_entry(state, p, ip, "sample.receive");
    ob::receive_sample(state.store.as_ref(), &sample, now(state), &audit).await
}

pub async fn receive(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<Json<SampleItem>, ApiError> {
    let s = receive_for(&state, &p, &ip, &id).await?;
    Ok(Json(SampleItem::from(&s)))
}

#[derive(Debug, Default, Deserialize)]
pub struct ResultBody {
    pub result: String,
    pub test_type: Option<String>,
}

/// A result as typed (`positive`, `âm tính`, `+`…) and the test type (RT-PCR by default: pooled
/// sampling is RT-PCR).
pub fn parse_result(
    result: &str,
    test_type: Option<&str>,
) -> Result<(TestResult, TestType), Error> {
    let r = domain::test_record::parse_result(result).ok_or_else(|| {
        Error::invalid(
            "result",
            format!(
                "Kết quả «{}» không đọc được (dương tính/âm tính/không xác định)",
                result.trim()
            ),
            format!("Unreadable result «{}»", result.trim()),
        )
    })?;
    let t = match present(test_type) {
        None => TestType::RtPcr,
        Some(t) => domain::test_record::parse_test_type(t).ok_or_else(|| {
            Error::invalid(
                "test_type",
                format!("Loại xét nghiệm «{t}» không đọc được"),
                format!("Unreadable test type «{t}»"),
            )
        })?,
    };
    Ok((r, t))
}

pub async fn result_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
    body: &ResultBody,
) -> Result<ob::ResultOutcome, Error> {
    let (result, test_type) = parse_result(&body.result, body.test_type.as_deref())?;
    let (sample, session) = scoped_sample(state, p, id).await?;
    let audit = audit_entry(state, p, ip, "sample.result");
    ob::enter_result(
        state.store.as_ref(),
        &sample,
        &session,
        result,
        test_type,
        now(state),
        &audit,
    )
    .await
}

pub async fn enter_result(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResultBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let out = result_for(&state, &p, &ip, &id, &body).await?;
    Ok(Json(serde_json::json!({
        "sample": SampleItem::from(&out.sample),
        "breakdown": out.breakdown.iter().map(SampleItem::from).collect::<Vec<_>>(),
        "test_recorded": out.test_recorded,
        "cases_created": out.cases_created,
        "contacts_became_cases": out.contacts_became_cases,
    })))
}

#[derive(Debug, Default, Deserialize)]
pub struct LabParams {
    pub lab: Option<String>,
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<u32>,
}

/// Keeps the samples whose session lies in `area` (sessions read once each).
async fn samples_in_area(
    state: &AppState,
    a: &Area,
    samples: Vec<Sample>,
) -> Result<Vec<(Sample, SampleSession)>, Error> {
    let mut sessions: HashMap<Uuid, Option<SampleSession>> = HashMap::new();
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        if let std::collections::hash_map::Entry::Vacant(e) = sessions.entry(s.session_id) {
            e.insert(state.store.sample_session(s.session_id).await?);
        }
        let Some(Some(session)) = sessions.get(&s.session_id) else {
            continue;
        };
        let inside = match &a.unit {
            None => true,
            Some(u) => ob::units_within(state.units, u, &session.units),
        };
        if inside {
            out.push((s, session.clone()));
        }
    }
    Ok(out)
}

/// The lab code asked for, else the caller's organisation when it names one.
fn lab_param(p: &Principal, lab: Option<&str>) -> Option<String> {
    present(lab).map(str::to_string).or_else(|| {
        p.user
            .scope
            .organisation
            .clone()
            .filter(|o| !o.trim().is_empty())
    })
}

/// Sessions read to find the samples on their way to a lab (not yet received).
const INCOMING_SESSIONS: u32 = 100;

/// A lab's work for the sessions of a unit (403 outside the caller's).
#[derive(Debug, Clone)]
pub struct LabWork {
    pub area: Area,
    pub lab_code: String,
    /// Received, waiting for a result (the queue), oldest collection first.
    pub queue: Vec<(ob::QueueItem, SampleSession)>,
    /// Collected and sent, not received yet, oldest collection first.
    pub incoming: Vec<(ob::QueueItem, SampleSession)>,
}

/// The lab's queue ([`store::OutbreakStore::lab_queue`]: received samples) and the samples on
/// their way to it (collected, not received: from the unit's recent sessions sending to it).
pub async fn queue_for(state: &AppState, p: &Principal, q: &LabParams) -> Result<LabWork, Error> {
    let a = area(
        state,
        p,
        Permission::ProcessSamples,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
    )?;
    let lab = lab_param(p, q.lab.as_deref()).ok_or_else(|| {
        Error::invalid(
            "lab",
            "Thiếu mã phòng xét nghiệm (lab)",
            "Missing lab code (lab)",
        )
    })?;
    let received = state.store.lab_queue(&lab, limit(q.limit)).await?;
    let queue = samples_in_area(state, &a, received).await?;
    let mut incoming = Vec::new();
    for session in state
        .store
        .sample_sessions(&a.scope, INCOMING_SESSIONS)
        .await?
    {
        for s in state.store.samples_of_session(session.id).await? {
            if s.lab_code == lab && s.status == store::SampleStatus::Collected {
                incoming.push((s, session.clone()));
            }
        }
    }
    let at = now(state);
    let with_items = |pairs: Vec<(Sample, SampleSession)>| {
        let sessions: HashMap<Uuid, SampleSession> =
            pairs.iter().map(|(s, sess)| (s.id, sess.clone())).collect();
        ob::queue_items(pairs.into_iter().map(|(s, _)| s).collect(), at)
            .into_iter()
            .filter_map(|i| {
                let sess = sessions.get(&i.sample.id)?.clone();
                Some((i, sess))
            })
            .collect::<Vec<_>>()
    };
    Ok(LabWork {
        area: a,
        lab_code: lab,
        queue: with_items(queue),
        incoming: with_items(incoming),
    })
}

fn queue_json(items: &[(ob::QueueItem, SampleSession)]) -> Vec<serde_json::Value> {
    items
        .iter()
        .map(|(i, sess)| {
            serde_json::json!({
                "sample": SampleItem::from(&i.sample),
                "waiting_hours": i.waiting_hours,
                "session_place": sess.place,
                "commune_code": sess.units.commune_code,
            })
        })
        .collect()
}

pub async fn lab_queue(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<LabParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let w = queue_for(&state, &p, &q).await?;
    Ok(Json(serde_json::json!({
        "lab_code": w.lab_code,
        "unit": w.area.unit.as_ref().map(|u| &u.code),
        "total": w.queue.len(),
        "items": queue_json(&w.queue),
        "incoming": queue_json(&w.incoming),
    })))
}

/// Turnaround per lab (collected → resulted) of the samples of a unit's sessions collected in
/// a period.
pub async fn turnaround_for(
    state: &AppState,
    p: &Principal,
    q: &LabParams,
) -> Result<(Area, NaiveDate, NaiveDate, Vec<LabTurnaround>), Error> {
    let a = area(
        state,
        p,
        Permission::ProcessSamples,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
    )?;
    let (from, to) = period(state, q.from.as_deref(), q.to.as_deref())?;
    let lab = present(q.lab.as_deref());
    let samples = state.store.resulted_samples(lab, from, to).await?;
    let inside: Vec<Sample> = samples_in_area(state, &a, samples)
        .await?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    Ok((a, from, to, ob::turnaround(&inside)))
}

pub async fn lab_turnaround(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<LabParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (a, from, to, labs) = turnaround_for(&state, &p, &q).await?;
    Ok(Json(serde_json::json!({
        "unit": a.unit.as_ref().map(|u| &u.code),
        "from": from,
        "to": to,
        "items": labs,
    })))
}

// ---------------------------------------------------------------------------------------------
// Border
// ---------------------------------------------------------------------------------------------

/// A declaration as lists show it (document number and phone masked).
#[derive(Debug, Clone, Serialize)]
pub struct DeclarationItem {
    pub id: Uuid,
    pub full_name: String,
    pub document_number: Option<String>,
    pub phone: Option<String>,
    pub gate_code: String,
    pub entered_on: NaiveDate,
    pub from_area: String,
    pub variant_area: bool,
    pub followup_until: NaiveDate,
    pub status: &'static str,
    pub commune_code: String,
    pub province_code: String,
}

impl DeclarationItem {
    pub fn new(d: &EntryDeclaration, today: NaiveDate) -> Self {
        DeclarationItem {
            id: d.id,
            full_name: d.full_name.clone(),
            document_number: masked(&d.document_number),
            phone: masked(&d.phone),
            gate_code: d.gate_code.clone(),
            entered_on: d.entered_on,
            from_area: d.from_area.clone(),
            variant_area: d.variant_area,
            followup_until: d.followup_until,
            status: ob::declaration_status(d, today),
            commune_code: d.units.commune_code.clone(),
            province_code: d.units.province_code.clone(),
        }
    }
}

pub async fn declare_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    input: &DeclarationInput,
) -> Result<EntryDeclaration, Error> {
    let d = ob::new_declaration(state.units, input, now(state))?;
    require_place(state, p, &d.units)?;
    let audit = audit_entry(state, p, ip, "entry.declare");
    ob::declare_entry(state.store.as_ref(), &d, &audit).await?;
    Ok(d)
}

pub async fn declare(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(input): ApiJson<DeclarationInput>,
) -> Result<(StatusCode, Json<DeclarationItem>), ApiError> {
    let d = declare_for(&state, &p, &ip, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(DeclarationItem::new(&d, today(&state))),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct BorderParams {
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Declarations of a period whose destination lies in a unit (403 outside the caller's).
pub async fn declarations_for(
    state: &AppState,
    p: &Principal,
    q: &BorderParams,
) -> Result<(Area, NaiveDate, NaiveDate, Vec<EntryDeclaration>), Error> {
    let a = area(
        state,
        p,
        Permission::ManageOutbreaks,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
    )?;
    let (from, to) = period(state, q.from.as_deref(), q.to.as_deref())?;
    let mut ds = state.store.entry_declarations(&a.scope, from, to).await?;
    ds.sort_by_key(|x| std::cmp::Reverse((x.entered_on, x.created_at)));
    Ok((a, from, to, ds))
}

pub async fn list_declarations(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<BorderParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (a, from, to, ds) = declarations_for(&state, &p, &q).await?;
    let day = today(&state);
    let items: Vec<DeclarationItem> = ds.iter().map(|d| DeclarationItem::new(d, day)).collect();
    Ok(Json(serde_json::json!({
        "unit": a.unit.as_ref().map(|u| &u.code),
        "from": from,
        "to": to,
        "total": items.len(),
        "items": items,
    })))
}

/// Records a gate count of a province the caller's unit covers or lies in (403 otherwise).
pub async fn border_count_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    input: &ob::BorderCountInput,
) -> Result<BorderCount, Error> {
    let count = ob::new_border_count(state.units, input, now(state))?;
    require_province(state, p, &count.province_code)?;
    let audit = audit_entry(state, p, ip, "border.count");
    ob::record_border_count(state.store.as_ref(), &count, &audit).await?;
    Ok(count)
}

pub async fn put_border_count(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(input): ApiJson<ob::BorderCountInput>,
) -> Result<Json<BorderCount>, ApiError> {
    Ok(Json(border_count_for(&state, &p, &ip, &input).await?))
}

/// 403 unless the caller works in the 2025 province (their unit covers it or lies in it):
/// border figures are the province's.
fn require_province(state: &AppState, p: &Principal, province: &str) -> Result<(), Error> {
    if p.user.role == Role::Admin {
        return Ok(());
    }
    let target = UnitRef::new(UnitVersion::V2025, province);
    let ok = p.user.scope.unit.as_ref().is_some_and(|scope| {
        domain::auth::unit_covers(state.units, scope, &target)
            || domain::auth::unit_covers(state.units, &target, scope)
    });
    if ok && domain::auth::role_allows(p.user.role, Permission::ManageOutbreaks) {
        Ok(())
    } else {
        Err(authz::forbidden())
    }
}

/// The province a share question is about: the one asked for (a 2025 province), else the
/// caller's.
fn share_province(state: &AppState, p: &Principal, unit: Option<&str>) -> Result<String, Error> {
    let code = match (present(unit), &p.user.scope.unit) {
        (Some(u), _) => u.to_string(),
        (None, Some(own)) => {
            let communes = state.units.hierarchy(own.version).communes_under(&own.code);
            let first = communes.first().ok_or_else(authz::forbidden)?;
            let new = match own.version {
                UnitVersion::V2025 => Some(first.as_str()),
                UnitVersion::Pre2025 => state.units.default_new_commune(first),
            };
            new.and_then(|c| state.units.v2025.province_of(c))
                .map(|u| u.code.clone())
                .ok_or_else(authz::forbidden)?
        }
        (None, None) => {
            return Err(Error::invalid(
                "unit",
                "Thiếu mã tỉnh (unit)",
                "Missing province code (unit)",
            ));
        }
    };
    let is_province = state
        .units
        .v2025
        .get(&code)
        .is_some_and(|u| u.level == UnitLevel::Province);
    if !is_province {
        return Err(Error::invalid(
            "unit",
            format!("«{code}» không phải mã tỉnh (danh mục 2025)"),
            format!("«{code}» is not a 2025 province code"),
        ));
    }
    Ok(code)
}

/// The declared share of a province (the caller's by default; 403 for another) over a period.
pub async fn share_for(
    state: &AppState,
    p: &Principal,
    q: &BorderParams,
) -> Result<DeclaredShare, Error> {
    let province = share_province(state, p, q.unit.as_deref())?;
    require_province(state, p, &province)?;
    let (from, to) = period(state, q.from.as_deref(), q.to.as_deref())?;
    ob::declared_share_of(state.store.as_ref(), &province, from, to).await
}

pub async fn share(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<BorderParams>,
) -> Result<Json<DeclaredShare>, ApiError> {
    Ok(Json(share_for(&state, &p, &q).await?))
}

/// The outbreak-response API routes and their rules (under `/api/v1`).
pub fn routes() -> (axum::Router<AppState>, Vec<authz::RouteSpec>) {
    use axum::http::Method as M;
    use axum::routing::{get, patch, post, put};
    use domain::auth::Access::Requires;
    let manage = Requires(Permission::ManageOutbreaks);
    let lab = Requires(Permission::ProcessSamples);
    authz::SecuredRouter::new("/api/v1", authz::Surface::Api)
        .route(M::POST, "/cases/{id}/contacts", manage, post(add_contacts))
        .route(M::GET, "/cases/{id}/contacts", manage, get(list_contacts))
        .route(M::PATCH, "/contacts/{id}", manage, patch(patch_contact))
        .route(M::POST, "/clusters", manage, post(create_cluster))
        .route(M::GET, "/clusters", manage, get(list_clusters))
        .route(M::GET, "/clusters/{id}", manage, get(get_cluster))
        .route(M::PATCH, "/clusters/{id}", manage, patch(patch_cluster))
        .route(M::POST, "/clusters/{id}/cases", manage, post(change_cases))
        .route(
            M::GET,
            "/clusters/{id}/graph.svg",
            manage,
            get(cluster_graph),
        )
        .route(M::GET, "/cases/{id}/graph.svg", manage, get(case_graph))
        .route(M::POST, "/sample-sessions", manage, post(create_session))
        .route(M::GET, "/sample-sessions", manage, get(list_sessions))
        .route(
            M::POST,
            "/sample-sessions/{id}/samples",
            manage,
            post(add_samples),
        )
        .route(M::POST, "/samples/{id}/receive", lab, post(receive))
        .route(M::POST, "/samples/{id}/result", lab, post(enter_result))
        .route(M::GET, "/lab-queue", lab, get(lab_queue))
        .route(M::GET, "/lab-turnaround", lab, get(lab_turnaround))
        .route(M::POST, "/entry-declarations", manage, post(declare))
        .route(
            M::GET,
            "/entry-declarations",
            manage,
            get(list_declarations),
        )
        .route(M::PUT, "/border-counts", manage, put(put_border_count))
        .route(M::GET, "/entry-declarations/share", manage, get(share))
        .into_parts()
}
