//! Case surveillance (DOMAIN.md §8): test results in, cases (F0) and their home care, the
//! commune station's alert queue and the daily report.
//!
//! - `POST /api/v1/tests` `{records: [{record_id, national_id, full_name, dob, sex,
//!   commune_code, phone, sample_date, test_type, result, lab_code}]}` [RecordTests]: every row
//!   is validated ([`domain::test_record::parse_row`]); bad rows come back as `errors` (index from
//!   0, row from 1, column, value, Vietnamese message), good rows are stored and linked, and a
//!   positive RT-PCR / rapid antigen test opens or updates a case
//!   ([`intake::lab_tests::record_tests`], idempotent per lab and record id). A caller bound to
//!   a unit may only send rows of that unit (the typed commune, or — without one — the commune
//!   of the register person with the typed citizen ID); otherwise the whole batch is refused
//!   (403, indexes in `details.records`).
//! - `GET /api/v1/cases?unit&hierarchy&status&from&to&limit&offset` [ManageCases]: the cases of a
//!   unit within the caller's scope (403 outside), newest first, phones masked.
//! - `GET /api/v1/cases/{id}`: the full case (identity in full, risk group, tests, latest
//!   check-ins, whether it may be discharged), written to the audit log (`case.view`) before it
//!   is returned; a case outside the caller's scope is 404.
//! - `PATCH /api/v1/cases/{id}` [`intake::care::CaseEdit`]: staff edits (audited `case.update`).
//! - `POST /api/v1/cases/{id}/checkins` [`intake::care::CheckInInput`] (audited `case.checkin`)
//!   and `GET /api/v1/cases/{id}/checkins?limit` (audited `case.checkins_view`).
//! - `POST /api/v1/cases/{id}/discharge` `{attest_negative_test?}` (audited `case.discharge`).
//! - `GET /api/v1/alerts?unit&hierarchy&limit` [ManageCases]: the unit's alert queue, most urgent
//!   first ([`intake::care::alert_queue`]); phones in full (staff must call), so each read is
//!   audited (`alerts.view`).
//! - `GET /api/v1/daily-report?unit&hierarchy&day` [ViewSurveillance]: aggregates of any unit,
//!   with the report submitted that day if any; `POST /api/v1/daily-report` `{unit, hierarchy?,
//!   day?}` [SubmitDailyReport, within scope] submits the computed figures (audited);
//!   `GET /api/v1/daily-report/missing?unit&hierarchy&day` [ViewSurveillance]: the units below
//!   that have not reported.
//! - `POST /api/v1/my/checkins` [SelfReport]: a citizen's check-in on their own open case (404
//!   without one); answers whether to contact the health station now.
//!
//! Units default to the caller's own; days to today (Vietnamese time), as `YYYY-MM-DD` or
//! `DD/MM/YYYY`.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use domain::auth::{Permission, Role, UnitRef};
use domain::case_rules::{CaseRules, RiskGroup};
use domain::home_care::Reason;
use domain::surveillance::{
    AlertLevel, CareSetting, CaseStatus, Classification, Outcome, Severity,
};
use domain::test_record::TestRow;
use domain::units::{AdminUnits, UnitVersion};
use domain::{Error, ErrorCode};
use intake::care::{
    self, AlertItem, CaseEdit, CheckInInput, DischargeRequest, MissingUnit, UnitDailyReport,
};
use intake::lab_tests::TestImportSummary;
use serde::{Deserialize, Serialize};
use store::{Case, CaseQuery, CheckIn, CoverageUnit, DailyReport, LabTest, PersonQuery};
use uuid::Uuid;

use crate::AppState;
use crate::api::records::caller_communes;
use crate::auth::{self, Caller, ClientIp, Principal};
use crate::authz;
use crate::error::{ApiError, ApiJson, ApiQuery};

/// Largest test batch one request may carry.
pub const MAX_BATCH: usize = 20_000;
/// Rows stored and linked per transaction.
pub const CHUNK: usize = 5_000;
/// Default page size of the case list and the alert queue.
pub const DEFAULT_LIMIT: u32 = 100;
/// Check-ins returned with a case.
pub const CHECKINS_WITH_CASE: u32 = 30;

fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// Now, on the server's (injected) clock.
pub fn now(state: &AppState) -> DateTime<Utc> {
    (state.clock)()
}

/// Today in Vietnam on the server's clock.
pub fn today(state: &AppState) -> NaiveDate {
    care::local_date(now(state))
}

/// A day parameter (`YYYY-MM-DD` or `DD/MM/YYYY`), today when absent.
pub fn parse_day(state: &AppState, raw: Option<&str>) -> Result<NaiveDate, Error> {
    let Some(t) = present(raw) else {
        return Ok(today(state));
    };
    domain::dose_record::parse_date(t).ok_or_else(|| {
        Error::invalid(
            "day",
            format!("Ngày «{t}» không hợp lệ (dd/mm/yyyy hoặc yyyy-mm-dd)"),
            format!("Invalid date «{t}» (dd/mm/yyyy or yyyy-mm-dd)"),
        )
    })
}

/// The unit asked for, or the caller's own; `invalid_input` when neither.
pub fn unit_param(
    p: &Principal,
    unit: Option<&str>,
    hierarchy: Option<&str>,
) -> Result<CoverageUnit, Error> {
    match (present(unit), &p.user.scope.unit) {
        (Some(code), _) => {
            let h = present(hierarchy).map(UnitVersion::parse).transpose()?;
            CoverageUnit::resolve(code, h)
        }
        (None, Some(own)) => CoverageUnit::resolve(&own.code, Some(own.version)),
        (None, None) => Err(Error::invalid(
            "unit",
            "Thiếu mã đơn vị (unit)",
            "Missing unit code (unit)",
        )),
    }
}

/// The unit asked for (or the caller's own), 403 unless it lies within the caller's scope.
pub fn scoped_unit(
    state: &AppState,
    p: &Principal,
    perm: Permission,
    unit: Option<&str>,
    hierarchy: Option<&str>,
) -> Result<CoverageUnit, Error> {
    let u = unit_param(p, unit, hierarchy)?;
    authz::require_unit(
        state.units,
        p,
        perm,
        &UnitRef::new(u.hierarchy, u.code.as_str()),
    )?;
    Ok(u)
}

fn parse_id(raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        Error::invalid(
            "id",
            format!("Mã «{raw}» không hợp lệ"),
            format!("Invalid id «{raw}»"),
        )
    })
}

/// Whether a case lies within the caller's unit: admins see every case; staff the cases whose
/// most precise known unit (commune, else district, else province) lies in their unit, in the
/// hierarchy of their scope.
pub fn case_in_scope(units: &AdminUnits, p: &Principal, case: &Case) -> bool {
    if p.user.role == Role::Admin {
        return true;
    }
    let Some(scope) = &p.user.scope.unit else {
        return false;
    };
    let u = &case.units;
    match scope.version {
        UnitVersion::V2025 => [u.commune_code.as_str(), u.province_code.as_str()]
            .into_iter()
            .find(|c| !c.is_empty())
            .is_some_and(|c| units.v2025.is_within(c, &scope.code)),
        UnitVersion::Pre2025 => u
            .old_commune_code
            .as_deref()
            .or(u.old_district_code.as_deref())
            .or(u.old_province_code.as_deref())
            .filter(|c| !c.is_empty())
            .is_some_and(|c| units.pre2025.is_within(c, &scope.code)),
    }
}

/// A case the caller may manage (unknown and out of scope are both 404).
pub async fn readable_case(state: &AppState, p: &Principal, id: &str) -> Result<Case, Error> {
    let id = parse_id(id)?;
    let case = state
        .store
        .case(id)
        .await?
        .filter(|c| case_in_scope(state.units, p, c))
        .ok_or_else(|| Error::not_found("ca bệnh", "Case"))?;
    Ok(case)
}

fn case_unit(case: &Case) -> Option<String> {
    Some(case.units.commune_code.clone())
        .filter(|c| !c.is_empty())
        .or_else(|| case.units.old_commune_code.clone())
}

// ---------------------------------------------------------------------------------------------
// Test results.

/// A rejected cell of a batch: the record's index (from 0) and row (from 1), the column, the
/// value and why.
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    pub index: usize,
    pub row: usize,
    pub column: String,
    pub value: String,
    pub message: String,
}

/// What a test batch did.
#[derive(Debug, Default, Serialize)]
pub struct TestBatchResponse {
    #[serde(flatten)]
    pub summary: TestImportSummary,
    /// Rows refused by validation (see `errors`).
    pub rejected: usize,
    pub errors: Vec<RowError>,
}

#[derive(Debug, Deserialize)]
pub struct TestBatchBody {
    pub records: Vec<serde_json::Map<String, serde_json::Value>>,
}

fn json_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Validates a batch: the good rows with their index, every bad cell, and the count of bad rows.
pub fn parse_test_rows(
    records: &[serde_json::Map<String, serde_json::Value>],
    today: NaiveDate,
) -> (Vec<(usize, TestRow)>, Vec<RowError>, usize) {
    let mut good = Vec::new();
    let mut errors = Vec::new();
    let mut rejected = 0;
    for (i, r) in records.iter().enumerate() {
        match domain::test_record::parse_row(|c| json_text(r.get(c)), today) {
            Ok(row) => good.push((i, row)),
            Err(errs) => {
                rejected += 1;
                errors.extend(errs.into_iter().map(|e| RowError {
                    index: i,
                    row: i + 1,
                    column: e.column,
                    value: e.value,
                    message: e.message,
                }));
            }
        }
    }
    (good, errors, rejected)
}

/// The communes (both hierarchies) a caller may send results for; `None`: anywhere.
pub fn test_communes(state: &AppState, p: &Principal) -> Option<HashSet<String>> {
    let list = caller_communes(state, p)?;
    let mut communes: HashSet<String> = list.iter().cloned().collect();
    if p.user.scope.unit.as_ref().map(|u| u.version) == Some(UnitVersion::Pre2025) {
        for old in &list {
            communes.extend(
                state
                    .units
                    .new_communes_for_old(old)
                    .iter()
                    .map(|(c, _)| c.clone()),
            );
        }
    }
    Some(communes)
}

/// The indexes of rows outside the caller's unit: neither the typed commune nor (without one)
/// the commune of the register person holding the typed citizen ID lies in it.
pub async fn rows_out_of_scope(
    state: &AppState,
    p: &Principal,
    rows: &[(usize, TestRow)],
) -> Result<Vec<usize>, Error> {
    let Some(communes) = test_communes(state, p) else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = rows
        .iter()
        .filter(|(_, r)| r.commune_code.trim().is_empty() && !r.national_id.trim().is_empty())
        .map(|(_, r)| r.national_id.trim().to_string())
        .collect();
    let persons = if ids.is_empty() {
        Vec::new()
    } else {
        state.store.persons_by_national_ids(&ids).await?
    };
    let person_in = |nid: &str| {
        persons.iter().any(|person| {
            person
                .national_id
                .as_ref()
                .is_some_and(|n| n.as_str() == nid)
                && (communes.contains(&person.commune_code)
                    || person
                        .old_commune_code
                        .as_ref()
                        .is_some_and(|c| communes.contains(c)))
        })
    };
    Ok(rows
        .iter()
        .filter(|(_, r)| {
            let commune = r.commune_code.trim();
            if commune.is_empty() {
                !person_in(r.national_id.trim())
            } else {
                !communes.contains(commune)
            }
        })
        .map(|(i, _)| *i)
        .collect())
}

fn out_of_scope(indexes: &[usize]) -> Error {
    Error::new(
        ErrorCode::Forbidden,
        "Có kết quả xét nghiệm của người ngoài phạm vi đơn vị của bạn",
        "Some results are of persons outside your unit",
    )
    .with_details(serde_json::json!({ "records": indexes }))
}

/// Validates, checks scope, stores and links a batch of test rows sent by `p`.
pub async fn submit_test_batch(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    records: &[serde_json::Map<String, serde_json::Value>],
) -> Result<TestBatchResponse, Error> {
    if records.len() > MAX_BATCH {
        return Err(Error::invalid(
            "records",
            format!("Tối đa {MAX_BATCH} bản ghi mỗi lần gửi"),
            format!("At most {MAX_BATCH} records per request"),
        ));
    }
    let (good, errors, rejected) = parse_test_rows(records, today(state));
    let outside = rows_out_of_scope(state, p, &good).await?;
    if !outside.is_empty() {
        return Err(out_of_scope(&outside));
    }
    let mut out = TestBatchResponse {
        rejected,
        errors,
        ..TestBatchResponse::default()
    };
    let rows: Vec<TestRow> = good.into_iter().map(|(_, r)| r).collect();
    for chunk in rows.chunks(CHUNK) {
        let entry = auth::audit_entry(
            state,
            Some(&p.user),
            ip,
            "tests.record_batch",
            None,
            p.user.scope.unit.as_ref().map(|u| u.code.clone()),
            serde_json::json!({ "rows": chunk.len(), "rejected": rejected }),
        );
        let s =
            intake::lab_tests::record_tests(state.store.as_ref(), chunk, now(state), Some(&entry))
                .await?;
        out.summary.add(&s);
    }
    Ok(out)
}

pub async fn submit_tests(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(body): ApiJson<TestBatchBody>,
) -> Result<(StatusCode, Json<TestBatchResponse>), ApiError> {
    let out = submit_test_batch(&state, &p, &ip, &body.records).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

// ---------------------------------------------------------------------------------------------
// Case lists and records.

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct CaseListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

fn date_param(field: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, Error> {
    present(raw)
        .map(|t| {
            domain::dose_record::parse_date(t).ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("Ngày «{t}» không hợp lệ (dd/mm/yyyy hoặc yyyy-mm-dd)"),
                    format!("Invalid date «{t}» (dd/mm/yyyy or yyyy-mm-dd)"),
                )
            })
        })
        .transpose()
}

/// One page of a unit's cases within the caller's scope (403 outside).
pub async fn list_cases_for(
    state: &AppState,
    p: &Principal,
    q: &CaseListParams,
) -> Result<(CoverageUnit, store::Page<Case>), Error> {
    let unit = scoped_unit(
        state,
        p,
        Permission::ManageCases,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
    )?;
    let status = present(q.status.as_deref())
        .filter(|s| *s != "all")
        .map(CaseStatus::parse)
        .transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > PersonQuery::MAX_LIMIT {
        return Err(Error::invalid(
            "limit",
            format!("limit phải từ 1 đến {}", PersonQuery::MAX_LIMIT),
            format!("limit must be 1 to {}", PersonQuery::MAX_LIMIT),
        ));
    }
    let query = CaseQuery {
        scope: care::unit_scope(&unit)?,
        status,
        from: date_param("from", q.from.as_deref())?,
        to: date_param("to", q.to.as_deref())?,
        limit,
        offset: q.offset.unwrap_or(0),
    };
    let page = state.store.list_cases(&query).await?;
    Ok((unit, page))
}

/// A case as lists show it: the phone masked, no citizen ID.
#[derive(Debug, Serialize)]
pub struct CaseListItem {
    pub id: Uuid,
    pub person_id: Option<Uuid>,
    pub full_name: String,
    pub dob: Option<NaiveDate>,
    pub sex: String,
    /// Masked (`0912****78`).
    pub phone: String,
    pub commune_code: String,
    pub old_commune_code: Option<String>,
    pub status: CaseStatus,
    pub classification: Classification,
    pub first_positive: NaiveDate,
    pub severity: Severity,
    pub care_setting: CareSetting,
    pub on_oxygen: bool,
    pub high_risk: bool,
    pub alert: AlertLevel,
    pub last_checkin_at: Option<DateTime<Utc>>,
    pub isolation_end: NaiveDate,
    pub outcome: Option<Outcome>,
    pub outcome_date: Option<NaiveDate>,
}

/// `0912345678` → `0912****78`; short or empty values masked entirely.
pub fn mask_phone(raw: &str) -> String {
    let t = raw.trim();
    if t.is_empty() {
        return String::new();
    }
    match domain::person::Phone::parse(t) {
        Ok(p) => p.masked(),
        Err(_) => "*".repeat(t.chars().count().min(10)),
    }
}

impl From<&Case> for CaseListItem {
    fn from(c: &Case) -> Self {
        CaseListItem {
            id: c.id,
            person_id: c.person_id,
            full_name: c.full_name.clone(),
            dob: c.dob,
            sex: c.sex.clone(),
            phone: mask_phone(&c.phone),
            commune_code: c.units.commune_code.clone(),
            old_commune_code: c.units.old_commune_code.clone(),
            status: c.status,
            classification: c.classification,
            first_positive: c.first_positive,
            severity: c.severity,
            care_setting: c.care_setting,
            on_oxygen: c.on_oxygen,
            high_risk: c.high_risk,
            alert: c.alert,
            last_checkin_at: c.last_checkin_at,
            isolation_end: c.isolation_end,
            outcome: c.outcome,
            outcome_date: c.outcome_date,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CaseListResponse {
    pub unit: CoverageUnit,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
    pub items: Vec<CaseListItem>,
}

pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<CaseListParams>,
) -> Result<Json<CaseListResponse>, ApiError> {
    let (unit, page) = list_cases_for(&state, &p, &q).await?;
    Ok(Json(CaseListResponse {
        unit,
        total: page.total,
        limit: q.limit.unwrap_or(DEFAULT_LIMIT),
        offset: q.offset.unwrap_or(0),
        items: page.items.iter().map(CaseListItem::from).collect(),
    }))
}

/// Whether a case may be discharged today, and what is missing.
#[derive(Debug, Serialize)]
pub struct DischargeState {
    pub ready: bool,
    /// With a staff attestation of a negative test, the remaining conditions are met.
    pub ready_with_attestation: bool,
    pub missing: Vec<String>,
}

/// The full case as staff see it.
#[derive(Debug, Serialize)]
pub struct CaseDetail {
    pub case: Case,
    /// The citizen ID in full (from the register person, else as typed on the opening test).
    pub national_id: Option<String>,
    pub risk: RiskGroup,
    pub age_years: u32,
    pub tests: Vec<LabTest>,
    /// Newest first.
    pub checkins: Vec<CheckIn>,
    pub reasons: Vec<Reason>,
    pub discharge: DischargeState,
}

/// What is still missing to discharge a case on `today`.
pub async fn discharge_state(
    state: &AppState,
    case: &Case,
    last: Option<&CheckIn>,
    today: NaiveDate,
) -> Result<DischargeState, Error> {
    if case.status != CaseStatus::Open {
        return Ok(DischargeState {
            ready: false,
            ready_with_attestation: false,
            missing: Vec::new(),
        });
    }
    let rules = CaseRules::embedded().at(case.first_positive);
    let end = rules.isolation_end(case.first_positive);
    let negative = care::has_negative_test_from(state.store.as_ref(), case, end).await?;
    let assessment = last.and_then(care::assessment_of);
    let check = |neg: bool| {
        domain::case_rules::discharge_ready(
            rules,
            case.first_positive,
            today,
            assessment.as_ref(),
            neg,
        )
    };
    let now = check(negative);
    Ok(DischargeState {
        ready: now.is_ok(),
        ready_with_attestation: check(true).is_ok(),
        missing: now.err().unwrap_or_default(),
    })
}

/// Loads a case the caller may manage with everything the case page shows, after writing
/// `case.view` to the audit log.
pub async fn read_case_full(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
    what: &str,
) -> Result<CaseDetail, Error> {
    let case = readable_case(state, p, id).await?;
    let national_id = match case.person_id {
        Some(pid) => state
            .store
            .get_person(pid)
            .await?
            .and_then(|person| person.national_id.map(|n| n.as_str().to_string())),
        None => state
            .store
            .get_source_record(case.source_record_id)
            .await?
            .map(|(r, _)| r.record.national_id)
            .filter(|n| !n.trim().is_empty()),
    };
    auth::audit(
        state,
        Some(&p.user),
        ip,
        "case.view",
        Some(("case", case.id.to_string())),
        case_unit(&case),
        serde_json::json!({ "format": what }),
    )
    .await?;
    let tests = state.store.lab_tests_of_case(case.id).await?;
    let checkins = state.store.checkins(case.id, CHECKINS_WITH_CASE).await?;
    let today = today(state);
    let discharge = discharge_state(state, &case, checkins.first(), today).await?;
    Ok(CaseDetail {
        risk: care::risk_of(&case, today),
        age_years: care::age_of(&case, today),
        reasons: care::reasons_of(&case),
        national_id,
        tests,
        checkins,
        discharge,
        case,
    })
}

pub async fn get_one(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<Json<CaseDetail>, ApiError> {
    Ok(Json(read_case_full(&state, &p, &ip, &id, "json").await?))
}

/// Applies staff edits to a case the caller may manage, audited (`case.update`, with the names
/// of the fields sent).
pub async fn edit_case(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
    edit: &CaseEdit,
) -> Result<(Case, Vec<&'static str>), Error> {
    let case = readable_case(state, p, id).await?;
    let sent: Vec<String> = serde_json::to_value(edit)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .map(|m| {
            m.into_iter()
                .filter(|(_, v)| !v.is_null() && *v != serde_json::Value::Bool(false))
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "case.update",
        Some(("case", case.id.to_string())),
        case_unit(&case),
        serde_json::json!({ "fields": sent }),
    );
    care::update_case_fields(state.store.as_ref(), case.id, edit, today(state), &entry).await
}

pub async fn patch(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(edit): ApiJson<CaseEdit>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (case, changed) = edit_case(&state, &p, &ip, &id, &edit).await?;
    Ok(Json(serde_json::json!({
        "changed": changed,
        "case": CaseListItem::from(&case),
    })))
}

/// What a check-in answers.
#[derive(Debug, Serialize)]
pub struct CheckInResponse {
    pub checkin: CheckIn,
    pub case: CaseListItem,
    pub escalate: bool,
    pub alert: AlertLevel,
    pub reasons: Vec<Reason>,
    /// «Hãy liên hệ trạm y tế ngay» or «Tiếp tục theo dõi».
    pub advice: &'static str,
}

/// The advice shown after a check-in.
pub fn advice(escalate: bool) -> &'static str {
    if escalate {
        "Hãy liên hệ trạm y tế ngay"
    } else {
        "Tiếp tục theo dõi"
    }
}

fn checkin_response(checkin: CheckIn, case: &Case) -> CheckInResponse {
    let reasons = care::assessment_of(&checkin)
        .map(|a| a.reasons)
        .unwrap_or_default();
    CheckInResponse {
        escalate: checkin.escalate,
        alert: checkin.alert,
        advice: advice(checkin.escalate),
        reasons,
        case: CaseListItem::from(case),
        checkin,
    }
}

/// A staff check-in on a case the caller may manage (audited `case.checkin`).
pub async fn staff_checkin(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
    input: &CheckInInput,
) -> Result<(CheckIn, Case), Error> {
    let case = readable_case(state, p, id).await?;
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "case.checkin",
        Some(("case", case.id.to_string())),
        case_unit(&case),
        serde_json::json!({ "by": "staff" }),
    );
    care::record_checkin(
        state.store.as_ref(),
        case.id,
        input,
        &p.user.username,
        now(state),
        &entry,
    )
    .await
}

pub async fn add_checkin(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CheckInInput>,
) -> Result<(StatusCode, Json<CheckInResponse>), ApiError> {
    let (checkin, case) = staff_checkin(&state, &p, &ip, &id, &input).await?;
    Ok((StatusCode::CREATED, Json(checkin_response(checkin, &case))))
}

#[derive(Debug, Default, Deserialize)]
pub struct LimitParams {
    pub limit: Option<u32>,
}

pub async fn list_checkins(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LimitParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let case = readable_case(&state, &p, &id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1_000);
    auth::audit(
        &state,
        Some(&p.user),
        &ip,
        "case.checkins_view",
        Some(("case", case.id.to_string())),
        case_unit(&case),
        serde_json::json!({ "limit": limit }),
    )
    .await?;
    let items = state.store.checkins(case.id, limit).await?;
    Ok(Json(
        serde_json::json!({ "case_id": case.id, "items": items }),
    ))
}

/// Discharges a case the caller may manage (audited `case.discharge`).
pub async fn discharge_case(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: &str,
    request: &DischargeRequest,
) -> Result<Case, Error> {
    let case = readable_case(state, p, id).await?;
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "case.discharge",
        Some(("case", case.id.to_string())),
        case_unit(&case),
        serde_json::json!({ "attest_negative_test": request.attest_negative_test }),
    );
    care::discharge(state.store.as_ref(), case.id, today(state), request, &entry).await
}

pub async fn discharge(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<CaseListItem>, ApiError> {
    // An empty body is an empty request.
    let request: DischargeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        DischargeRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                ErrorCode::MalformedBody,
                "Nội dung yêu cầu không phải JSON hợp lệ",
                "Request body is not valid JSON",
            )
            .with_details(serde_json::json!({ "reason": e.to_string() }))
        })?
    };
    let case = discharge_case(&state, &p, &ip, &id, &request).await?;
    Ok(Json(CaseListItem::from(&case)))
}

// ---------------------------------------------------------------------------------------------
// Alert queue.

#[derive(Debug, Default, Clone, Deserialize)]
pub struct AlertParams {
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub limit: Option<u32>,
}

/// One case of the queue as the API shows it (the phone in full: staff must call).
#[derive(Debug, Serialize)]
pub struct AlertView {
    pub case_id: Uuid,
    pub full_name: String,
    pub age_years: u32,
    pub sex: String,
    pub phone: String,
    pub commune_code: String,
    pub alert: AlertLevel,
    pub overdue: bool,
    pub hours_since_checkin: i64,
    pub last_checkin_at: Option<DateTime<Utc>>,
    pub high_risk: bool,
    pub severity: Severity,
    pub first_positive: NaiveDate,
    pub reasons: Vec<Reason>,
}

impl From<&AlertItem> for AlertView {
    fn from(i: &AlertItem) -> Self {
        AlertView {
            case_id: i.case.id,
            full_name: i.case.full_name.clone(),
            age_years: i.age_years,
            sex: i.case.sex.clone(),
            phone: i.case.phone.clone(),
            commune_code: i.case.units.commune_code.clone(),
            alert: i.alert,
            overdue: i.overdue,
            hours_since_checkin: i.hours_since_checkin,
            last_checkin_at: i.case.last_checkin_at,
            high_risk: i.case.high_risk,
            severity: i.case.severity,
            first_positive: i.case.first_positive,
            reasons: i.reasons.clone(),
        }
    }
}

/// The alert queue of a unit within the caller's scope (403 outside), the read audited
/// (`alerts.view`: phones are shown in full).
pub async fn alert_queue_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    q: &AlertParams,
    what: &str,
) -> Result<(CoverageUnit, Vec<AlertItem>), Error> {
    let unit = scoped_unit(
        state,
        p,
        Permission::ManageCases,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
    )?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, 1_000);
    let items = care::alert_queue(
        state.store.as_ref(),
        &care::unit_scope(&unit)?,
        now(state),
        limit,
    )
    .await?;
    auth::audit(
        state,
        Some(&p.user),
        ip,
        "alerts.view",
        Some(("unit", unit.code.clone())),
        Some(unit.code.clone()),
        serde_json::json!({
            "hierarchy": unit.hierarchy.as_str(),
            "format": what,
            "entries": items.len(),
        }),
    )
    .await?;
    Ok((unit, items))
}

pub async fn alerts(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiQuery(q): ApiQuery<AlertParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (unit, items) = alert_queue_for(&state, &p, &ip, &q, "json").await?;
    let items: Vec<AlertView> = items.iter().map(AlertView::from).collect();
    Ok(Json(serde_json::json!({
        "unit": unit,
        "as_of": now(&state),
        "total": items.len(),
        "items": items,
    })))
}

// ---------------------------------------------------------------------------------------------
// Daily report.

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ReportParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
}

/// A unit's figures for a day, with the report it submitted that day, if any.
#[derive(Debug, Serialize)]
pub struct DailyReportResponse {
    #[serde(flatten)]
    pub report: UnitDailyReport,
    pub submitted: Option<DailyReport>,
}

/// The report of the unit asked for (any unit: aggregates only) on a day.
pub async fn daily_report_for(
    state: &AppState,
    p: &Principal,
    q: &ReportParams,
) -> Result<DailyReportResponse, Error> {
    let unit = unit_param(p, q.unit.as_deref(), q.hierarchy.as_deref())?;
    let day = parse_day(state, q.day.as_deref())?;
    let report = care::daily_report(state.store.as_ref(), &unit, day).await?;
    let submitted = state
        .store
        .daily_reports(day, Some(std::slice::from_ref(&unit.code)))
        .await?
        .into_iter()
        .find(|r| r.hierarchy == unit.hierarchy.as_str() && r.unit_code == unit.code);
    Ok(DailyReportResponse { report, submitted })
}

pub async fn daily_report(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> Result<Json<DailyReportResponse>, ApiError> {
    Ok(Json(daily_report_for(&state, &p, &q).await?))
}

/// Submits the computed figures of a unit within the caller's scope (403 outside), audited.
pub async fn submit_report_for(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    q: &ReportParams,
) -> Result<DailyReport, Error> {
    let unit = scoped_unit(
        state,
        p,
        Permission::SubmitDailyReport,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
    )?;
    let day = parse_day(state, q.day.as_deref())?;
    if day > today(state) {
        return Err(Error::invalid(
            "day",
            "Không thể gửi báo cáo cho ngày chưa đến",
            "Cannot report for a future day",
        ));
    }
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "daily_report.submit",
        Some(("unit", unit.code.clone())),
        Some(unit.code.clone()),
        serde_json::json!({ "hierarchy": unit.hierarchy.as_str(), "day": day }),
    );
    care::submit_daily_report(state.store.as_ref(), &unit, day, &p.user.username, &entry).await
}

pub async fn submit_report(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(q): ApiJson<ReportParams>,
) -> Result<(StatusCode, Json<DailyReport>), ApiError> {
    let r = submit_report_for(&state, &p, &ip, &q).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[derive(Debug, Serialize)]
pub struct MissingResponse {
    pub unit: CoverageUnit,
    pub day: NaiveDate,
    /// Units reporting to this one.
    pub expected: usize,
    pub missing: Vec<MissingUnit>,
}

/// The units below the one asked for without a report that day.
pub async fn missing_for(
    state: &AppState,
    p: &Principal,
    q: &ReportParams,
) -> Result<MissingResponse, Error> {
    let unit = unit_param(p, q.unit.as_deref(), q.hierarchy.as_deref())?;
    let day = parse_day(state, q.day.as_deref())?;
    let missing = care::units_not_reported(state.store.as_ref(), &unit, day).await?;
    Ok(MissingResponse {
        expected: care::reporting_children(&unit).len(),
        unit,
        day,
        missing,
    })
}

pub async fn missing(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> Result<Json<MissingResponse>, ApiError> {
    Ok(Json(missing_for(&state, &p, &q).await?))
}

// ---------------------------------------------------------------------------------------------
// A citizen's own check-in.

fn no_open_case() -> Error {
    Error::not_found("ca bệnh đang theo dõi", "open case")
}

/// The calling citizen's open case, or 404.
pub async fn own_open_case(state: &AppState, p: &Principal) -> Result<Case, Error> {
    let person = p.user.scope.person_id.ok_or_else(no_open_case)?;
    care::open_case_of_person(state.store.as_ref(), person)
        .await?
        .ok_or_else(no_open_case)
}

/// A citizen's check-in on their own open case (audited `case.self_checkin`).
pub async fn self_checkin(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    input: &CheckInInput,
) -> Result<(CheckIn, Case), Error> {
    let case = own_open_case(state, p).await?;
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "case.self_checkin",
        Some(("case", case.id.to_string())),
        case_unit(&case),
        serde_json::json!({ "by": care::CITIZEN }),
    );
    care::record_checkin(
        state.store.as_ref(),
        case.id,
        input,
        care::CITIZEN,
        now(state),
        &entry,
    )
    .await
}

/// What a citizen sees after a check-in (no staff details).
#[derive(Debug, Serialize)]
pub struct SelfCheckInResponse {
    pub at: DateTime<Utc>,
    pub escalate: bool,
    pub alert: AlertLevel,
    pub advice: &'static str,
    pub reasons: Vec<Reason>,
}

pub async fn my_checkin(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(input): ApiJson<CheckInInput>,
) -> Result<(StatusCode, Json<SelfCheckInResponse>), ApiError> {
    let (checkin, _) = self_checkin(&state, &p, &ip, &input).await?;
    Ok((StatusCode::CREATED, Json(self_response(&checkin))))
}

/// The citizen's view of a check-in.
pub fn self_response(checkin: &CheckIn) -> SelfCheckInResponse {
    SelfCheckInResponse {
        at: checkin.at,
        escalate: checkin.escalate,
        alert: checkin.alert,
        advice: advice(checkin.escalate),
        reasons: care::assessment_of(checkin)
            .map(|a| a.reasons)
            .unwrap_or_default(),
    }
}
