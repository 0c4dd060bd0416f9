//! Incoming records and their links to persons (issue 4):
//!
//! - `POST /api/v1/records` `{kind, source, records: [{record_id, full_name, dob, sex,
//!   national_id, commune_code, phone, …}]}` stores a batch and links it ([`intake::link_batch`]);
//!   other fields of each record are kept as its payload.
//! - `GET /api/v1/records?status=review|linked|unlinked[&limit&offset]` lists records of the
//!   caller's unit (by the commune typed on the record).
//! - `GET /api/v1/records/{id}` one record with its candidates, full person details and the
//!   per-comparison weights (the view is audited).
//! - `POST /api/v1/records/{id}/decision` `{decision: accept|reject|create, person_id?}`.
//! - `GET /api/v1/persons/{id}/records` records linked to a person; `GET /api/v1/persons/{id}/merges`.
//! - `POST /api/v1/persons/{id}/merge` `{duplicate_id}` merges a duplicate into the person;
//!   `POST /api/v1/persons/{id}/merges/{merge_id}/undo` undoes it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::auth::Role;
use domain::person::Person;
use serde::{Deserialize, Serialize};
use store::{
    LinkCandidate, LinkStatus, NewSourceRecord, Page, PersonMerge, RecordKind, SourceRecord,
    SourceRecordQuery,
};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{self, Caller, ClientIp, Principal};
use crate::authz;
use crate::error::{ApiError, ApiQuery};

/// Largest batch one request may carry.
pub const MAX_BATCH: usize = 20_000;

#[derive(Debug, Deserialize)]
pub struct BatchBody {
    pub kind: String,
    pub source: String,
    pub records: Vec<serde_json::Map<String, serde_json::Value>>,
}

const IDENTIFYING: [&str; 7] = [
    "record_id",
    "full_name",
    "dob",
    "sex",
    "national_id",
    "commune_code",
    "phone",
];

/// Turns a batch body into records to store; errors name the record and field.
pub fn batch_records(
    body: &BatchBody,
    batch_id: Uuid,
) -> Result<Vec<NewSourceRecord>, domain::Error> {
    let kind = RecordKind::parse(&body.kind).ok_or_else(|| {
        domain::Error::invalid(
            "kind",
            format!(
                "Loại bản ghi «{}» không hợp lệ (dose, test, case, beneficiary)",
                body.kind
            ),
            format!(
                "Unknown record kind «{}» (dose, test, case, beneficiary)",
                body.kind
            ),
        )
    })?;
    if body.source.trim().is_empty() {
        return Err(domain::Error::invalid(
            "source",
            "Thiếu mã nguồn (source)",
            "Missing source code",
        ));
    }
    if body.records.len() > MAX_BATCH {
        return Err(domain::Error::invalid(
            "records",
            format!("Tối đa {MAX_BATCH} bản ghi mỗi lần gửi"),
            format!("At most {MAX_BATCH} records per request"),
        ));
    }
    body.records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let text = |k: &str| -> String {
                match r.get(k) {
                    Some(serde_json::Value::String(s)) => s.trim().to_string(),
                    Some(serde_json::Value::Number(n)) => n.to_string(),
                    _ => String::new(),
                }
            };
            let external_id = text("record_id");
            if external_id.is_empty() {
                return Err(domain::Error::invalid(
                    "record_id",
                    format!("Bản ghi thứ {} thiếu record_id", i + 1),
                    format!("Record {} has no record_id", i + 1),
                ));
            }
            let payload: serde_json::Map<String, serde_json::Value> = r
                .iter()
                .filter(|(k, _)| !IDENTIFYING.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Ok(NewSourceRecord {
                id: Uuid::now_v7(),
                kind,
                source: body.source.trim().to_string(),
                external_id,
                full_name: text("full_name"),
                dob: text("dob"),
                sex: text("sex"),
                national_id: text("national_id"),
                commune_code: text("commune_code"),
                phone: text("phone"),
                payload: serde_json::Value::Object(payload),
                batch_id,
            })
        })
        .collect()
}

pub async fn submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Json(body): Json<BatchBody>,
) -> Result<(StatusCode, Json<intake::BatchSummary>), ApiError> {
    let batch_id = Uuid::now_v7();
    let records = batch_records(&body, batch_id)?;
    let entry = auth::audit_entry(
        &state,
        Some(&p.user),
        &ip,
        "records.import",
        Some(("source_record_batch", batch_id.to_string())),
        None,
        serde_json::json!({"kind": body.kind, "source": body.source, "records": records.len()}),
    );
    let summary = intake::link_batch(state.store.as_ref(), &records, Some(&entry)).await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

/// Communes whose records the caller may see (`None`: all, for administrators).
pub fn caller_communes(state: &AppState, p: &Principal) -> Option<Vec<String>> {
    if p.user.role == Role::Admin {
        return None;
    }
    let Some(unit) = &p.user.scope.unit else {
        return Some(Vec::new());
    };
    let units = state.units;
    let mut out = Vec::new();
    match unit.version {
        domain::units::UnitVersion::V2025 => {
            let news = units.v2025.communes_under(&unit.code);
            for c in &news {
                out.extend(units.old_communes_for_new(c).iter().cloned());
            }
            out.extend(news);
        }
        domain::units::UnitVersion::Pre2025 => {
            out.extend(units.pre2025.communes_under(&unit.code));
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn record_in_scope(state: &AppState, p: &Principal, r: &SourceRecord) -> bool {
    match caller_communes(state, p) {
        None => true,
        Some(cs) => r
            .unit_commune()
            .is_some_and(|c| cs.binary_search_by(|x| x.as_str().cmp(c)).is_ok()),
    }
}

#[derive(Debug, Deserialize)]
pub struct RecordListQuery {
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

pub fn record_query(
    state: &AppState,
    p: &Principal,
    q: &RecordListQuery,
) -> Result<SourceRecordQuery, domain::Error> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(LinkStatus::parse(s).ok_or_else(|| {
            domain::Error::invalid(
                "status",
                "status phải là review, linked hoặc unlinked",
                "status must be review, linked or unlinked",
            )
        })?),
    };
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 500 {
        return Err(domain::Error::invalid(
            "limit",
            "limit phải từ 1 đến 500",
            "limit must be 1 to 500",
        ));
    }
    Ok(SourceRecordQuery {
        status,
        person_id: None,
        kind: None,
        communes: caller_communes(state, p),
        limit,
        offset: q.offset.unwrap_or(0),
    })
}

pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<RecordListQuery>,
) -> Result<Json<Page<SourceRecord>>, ApiError> {
    let query = record_query(&state, &p, &q)?;
    Ok(Json(state.store.list_source_records(&query).await?))
}

/// A record under review: the record, and each candidate with the person's full details.
#[derive(Debug, Serialize)]
pub struct RecordReview {
    pub record: SourceRecord,
    pub candidates: Vec<CandidateView>,
    /// The person the record is linked to, if any.
    pub person: Option<Person>,
}

#[derive(Debug, Serialize)]
pub struct CandidateView {
    #[serde(flatten)]
    pub candidate: LinkCandidate,
    pub person: Option<Person>,
}

/// A record with its candidates, for a caller whose unit covers it (unknown and out of scope
/// both 404).
async fn scoped_record(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<(SourceRecord, Vec<LinkCandidate>), domain::Error> {
    let id = parse_id(id, "id")?;
    match state.store.get_source_record(id).await? {
        Some((record, candidates)) if record_in_scope(state, p, &record) => {
            Ok((record, candidates))
        }
        _ => Err(domain::Error::not_found("bản ghi", "Record")),
    }
}

/// Loads a record for a caller whose unit covers it (unknown and out of scope both 404), with
/// its candidates; the view is audited.
pub async fn load_review(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
) -> Result<RecordReview, domain::Error> {
    let (record, candidates) = scoped_record(state, p, id).await?;
    let mut ids: Vec<Uuid> = candidates.iter().map(|c| c.person_id).collect();
    ids.extend(record.person_id);
    let persons = state.store.persons_by_ids(&ids).await?;
    let find = |id: Uuid| persons.iter().find(|p| p.id == id).cloned();
    auth::audit(
        state,
        Some(&p.user),
        ip,
        "record.review_view",
        Some(("source_record", record.record.id.to_string())),
        Some(record.record.commune_code.clone()),
        serde_json::json!({"candidates": ids.len()}),
    )
    .await?;
    Ok(RecordReview {
        person: record.person_id.and_then(find),
        candidates: candidates
            .into_iter()
            .map(|c| CandidateView {
                person: find(c.person_id),
                candidate: c,
            })
            .collect(),
        record,
    })
}

pub async fn get_one(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<Json<RecordReview>, ApiError> {
    Ok(Json(load_review(&state, &p, &ip, &id).await?))
}

#[derive(Debug, Deserialize)]
pub struct DecisionBody {
    pub decision: String,
    pub person_id: Option<String>,
}

fn parse_id(raw: &str, field: &str) -> Result<Uuid, domain::Error> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        domain::Error::invalid(
            field,
            format!("Mã «{raw}» không hợp lệ"),
            format!("Invalid id «{raw}»"),
        )
    })
}

/// Applies a clerk's decision on a record of their unit; an accepted person must be one the
/// clerk may read.
pub async fn apply_decision(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
    body: &DecisionBody,
) -> Result<Option<Uuid>, domain::Error> {
    let (record, _) = scoped_record(state, p, id).await?;
    let decision = match body.decision.as_str() {
        "accept" => {
            let person_id = parse_id(body.person_id.as_deref().unwrap_or(""), "person_id")?;
            let person = state
                .store
                .get_person(person_id)
                .await?
                .ok_or_else(|| domain::Error::not_found("người", "Person"))?;
            authz::require_person(state.units, p, &person)?;
            intake::Decision::Accept(person_id)
        }
        "reject" => intake::Decision::Reject,
        "create" => intake::Decision::CreatePerson,
        other => {
            return Err(domain::Error::invalid(
                "decision",
                format!("Quyết định «{other}» không hợp lệ (accept, reject, create)"),
                format!("Unknown decision «{other}» (accept, reject, create)"),
            ));
        }
    };
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "record.decide",
        Some(("source_record", record.record.id.to_string())),
        Some(record.record.commune_code.clone()),
        serde_json::json!({"decision": body.decision, "person_id": body.person_id}),
    );
    intake::decide(
        state.store.as_ref(),
        record.record.id,
        decision,
        &p.user.username,
        &entry,
    )
    .await
}

pub async fn decide(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let person = apply_decision(&state, &p, &ip, &id, &body).await?;
    Ok(Json(
        serde_json::json!({"record_id": id, "person_id": person}),
    ))
}

/// A person the caller may read (404 otherwise).
async fn readable_person(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<Person, domain::Error> {
    let id = parse_id(id, "id")?;
    let person = state
        .store
        .get_person(id)
        .await?
        .ok_or_else(|| domain::Error::not_found("người", "Person"))?;
    authz::require_person(state.units, p, &person)?;
    Ok(person)
}

/// Records linked to a person the caller may read.
pub async fn person_records(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<Vec<SourceRecord>, domain::Error> {
    let person = readable_person(state, p, id).await?;
    let page = state
        .store
        .list_source_records(&SourceRecordQuery {
            person_id: Some(person.id),
            limit: 500,
            ..SourceRecordQuery::default()
        })
        .await?;
    Ok(page.items)
}

pub async fn records_of_person(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<SourceRecord>>, ApiError> {
    Ok(Json(person_records(&state, &p, &id).await?))
}

pub async fn merges_of_person(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<PersonMerge>>, ApiError> {
    let person = readable_person(&state, &p, &id).await?;
    Ok(Json(state.store.person_merges(person.id).await?))
}

#[derive(Debug, Deserialize)]
pub struct MergeBody {
    pub duplicate_id: String,
}

/// Merges `duplicate` into `kept`; the caller must be able to read both.
pub async fn merge_persons(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    kept: &str,
    duplicate: &str,
) -> Result<PersonMerge, domain::Error> {
    let kept = readable_person(state, p, kept).await?;
    let duplicate = readable_person(state, p, duplicate).await?;
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "person.merge",
        Some(("person", kept.id.to_string())),
        Some(kept.commune_code.clone()),
        serde_json::json!({"merged": duplicate.id}),
    );
    state
        .store
        .merge_persons(kept.id, duplicate.id, &p.user.username, &entry)
        .await
}

pub async fn merge(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    Json(body): Json<MergeBody>,
) -> Result<(StatusCode, Json<PersonMerge>), ApiError> {
    let merge = merge_persons(&state, &p, &ip, &id, &body.duplicate_id).await?;
    Ok((StatusCode::CREATED, Json(merge)))
}

/// Undoes a merge of persons the caller may read.
pub async fn undo_merge(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    merge_id: &str,
    kept: &str,
) -> Result<PersonMerge, domain::Error> {
    let merge_id = parse_id(merge_id, "id")?;
    let kept = readable_person(state, p, kept).await?;
    let merges = state.store.person_merges(kept.id).await?;
    let Some(m) = merges.iter().find(|m| m.id == merge_id) else {
        return Err(domain::Error::not_found("lần gộp", "Merge"));
    };
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "person.unmerge",
        Some(("person", m.kept.to_string())),
        Some(kept.commune_code.clone()),
        serde_json::json!({"merge": merge_id, "merged": m.merged}),
    );
    state
        .store
        .undo_merge(merge_id, &p.user.username, &entry)
        .await
}

pub async fn undo(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path((person, merge_id)): Path<(String, String)>,
) -> Result<Json<PersonMerge>, ApiError> {
    Ok(Json(undo_merge(&state, &p, &ip, &merge_id, &person).await?))
}
