//! Recording vaccination doses (issue 5, point 3) and the reference lists behind them:
//!
//! - `POST /api/v1/doses` `{records: [{record_id, national_id, full_name, dob, sex,
//!   commune_code, phone, vaccine, dose_date, lot, site_code, additional?}]}`: every row is
//!   validated ([`domain::dose_record::parse_row`]); bad rows come back as `errors` with their
//!   index, column, value and a Vietnamese message, good rows are stored and linked
//!   ([`intake::doses::record_doses`], idempotent per site and record id). A caller bound to a
//!   unit may only send rows of persons of that unit (typed commune) or given at a site of that
//!   unit; otherwise the whole batch is refused (403, indexes in `details`).
//! - `POST /api/v1/persons/{id}/doses` `{vaccine, dose_date, lot, site_code, additional,
//!   check_only?}`: one dose for a register person the caller may read; answers the dose kind,
//!   the schedule warnings (each with its rule's `verified` flag) and the lot/site warnings.
//!   With `check_only` nothing is stored (what the form asks before recording).
//! - `GET /api/v1/persons/{id}/vaccinations`: the person's doses classified by the schedule
//!   engine, primary series completion, the next dose due and the follow-up state.
//! - `GET /api/v1/vaccines`, `GET /api/v1/vaccination-sites`, `GET /api/v1/vaccine-lots`.
//! - `GET /api/v1/doses/template.xlsx`: the Vietnamese import template ([`template_xlsx`]).

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use domain::ErrorCode;
use domain::dose_record::{COLUMNS, DoseRow, OPTIONAL_COLUMNS};
use domain::person::Person;
use domain::register::CellError;
use domain::schedule::{self, DoseEvent, DoseKind, FollowUp, Rules, Warning};
use domain::units::UnitVersion;
use domain::vaccines::{VaccineCatalogue, VaccineProduct};
use serde::{Deserialize, Serialize};
use store::{VaccinationSite, VaccineLot};
use uuid::Uuid;

use crate::AppState;
use crate::api::records::caller_communes;
use crate::auth::{self, Caller, ClientIp, Principal};
use crate::authz;
use crate::error::{ApiError, ApiJson};

/// Largest batch one request may carry.
pub const MAX_BATCH: usize = 20_000;

/// Rows stored and linked per transaction.
pub const CHUNK: usize = 10_000;

/// Today in Vietnam on the server's (injected) clock (bounds dose dates).
pub fn today(state: &AppState) -> NaiveDate {
    domain::vietnam_time::local_date((state.clock)())
}

/// A rejected cell of a batch: the record's index (from 0), the column, the value and why.
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    pub index: usize,
    pub column: String,
    pub value: String,
    pub message: String,
}

/// What a batch did.
#[derive(Debug, Default, Serialize)]
pub struct DoseBatchSummary {
    pub inserted: usize,
    pub duplicates: usize,
    /// Rows refused by validation (see `errors`).
    pub rejected: usize,
    pub linked: usize,
    pub review: usize,
    pub unlinked: usize,
    pub errors: Vec<RowError>,
}

impl DoseBatchSummary {
    pub fn add(&mut self, b: &intake::BatchSummary) {
        self.inserted += b.inserted;
        self.duplicates += b.duplicates;
        self.linked += b.linked;
        self.review += b.review;
        self.unlinked += b.unlinked;
    }
}

#[derive(Debug, Deserialize)]
pub struct DoseBatchBody {
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

/// Validates a batch: the good rows with their index, and every bad cell.
pub fn parse_rows(
    records: &[serde_json::Map<String, serde_json::Value>],
    today: NaiveDate,
) -> (Vec<(usize, DoseRow)>, Vec<RowError>, usize) {
    let catalogue = VaccineCatalogue::embedded();
    let mut good = Vec::new();
    let mut errors = Vec::new();
    let mut rejected = 0;
    for (i, r) in records.iter().enumerate() {
        match domain::dose_record::parse_row(|c| json_text(r.get(c)), catalogue, today) {
            Ok(row) => good.push((i, row)),
            Err(errs) => {
                rejected += 1;
                errors.extend(errs.into_iter().map(|e| RowError {
                    index: i,
                    column: e.column,
                    value: e.value,
                    message: e.message,
                }))
            }
        }
    }
    (good, errors, rejected)
}

/// The communes (both hierarchies) and sites a caller may record doses for; `None`: anywhere.
pub struct DoseScope {
    communes: HashSet<String>,
    sites: HashSet<String>,
}

impl DoseScope {
    pub async fn of(state: &AppState, p: &Principal) -> Result<Option<DoseScope>, domain::Error> {
        let Some(list) = caller_communes(state, p) else {
            return Ok(None);
        };
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
        let sites = state
            .store
            .vaccination_sites()
            .await?
            .into_iter()
            .filter(|s| {
                s.commune_code
                    .as_ref()
                    .is_some_and(|c| communes.contains(c))
            })
            .map(|s| s.code)
            .collect();
        Ok(Some(DoseScope { communes, sites }))
    }

    /// A row is in scope when the person's typed commune or the site lies in the unit.
    pub fn covers(&self, row: &DoseRow) -> bool {
        self.communes.contains(&row.commune_code) || self.sites.contains(&row.site_code)
    }
}

/// 403 listing the rows outside the caller's unit.
fn out_of_scope(indexes: &[usize]) -> domain::Error {
    domain::Error::new(
        ErrorCode::Forbidden,
        "Có bản ghi ngoài phạm vi đơn vị của bạn (xã của người được tiêm hoặc điểm tiêm)",
        "Some records are outside your unit (the person's commune or the vaccination site)",
    )
    .with_details(serde_json::json!({ "records": indexes }))
}

/// Validates, checks scope, stores and links a batch of dose rows sent by `p`.
pub async fn submit_batch(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    body: &DoseBatchBody,
) -> Result<DoseBatchSummary, domain::Error> {
    if body.records.len() > MAX_BATCH {
        return Err(domain::Error::invalid(
            "records",
            format!("Tối đa {MAX_BATCH} bản ghi mỗi lần gửi"),
            format!("At most {MAX_BATCH} records per request"),
        ));
    }
    let (good, errors, rejected) = parse_rows(&body.records, today(state));
    if let Some(scope) = DoseScope::of(state, p).await? {
        let outside: Vec<usize> = good
            .iter()
            .filter(|(_, r)| !scope.covers(r))
            .map(|(i, _)| *i)
            .collect();
        if !outside.is_empty() {
            return Err(out_of_scope(&outside));
        }
    }
    let mut summary = DoseBatchSummary {
        rejected,
        errors,
        ..DoseBatchSummary::default()
    };
    let rows: Vec<DoseRow> = good.into_iter().map(|(_, r)| r).collect();
    for chunk in rows.chunks(CHUNK) {
        let entry = auth::audit_entry(
            state,
            Some(&p.user),
            ip,
            "doses.record_batch",
            None,
            p.user.scope.unit.as_ref().map(|u| u.code.clone()),
            serde_json::json!({ "rows": chunk.len(), "rejected": rejected }),
        );
        let b = intake::doses::record_doses(state.store.as_ref(), chunk, Some(&entry)).await?;
        summary.add(&b);
    }
    Ok(summary)
}

pub async fn submit(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(body): ApiJson<DoseBatchBody>,
) -> Result<(StatusCode, Json<DoseBatchSummary>), ApiError> {
    let summary = submit_batch(&state, &p, &ip, &body).await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

/// A register person the caller may read (unknown and out of scope both 404).
pub async fn readable_person(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<Person, domain::Error> {
    let id = Uuid::parse_str(id.trim()).map_err(|_| {
        domain::Error::invalid(
            "id",
            format!("Mã «{id}» không hợp lệ"),
            format!("Invalid id «{id}»"),
        )
    })?;
    let person = state
        .store
        .get_person(id)
        .await?
        .ok_or_else(|| domain::Error::not_found("người", "Person"))?;
    authz::require_person(state.units, p, &person)?;
    Ok(person)
}

/// One dose for a known person, as the form or the API sends it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PersonDoseBody {
    #[serde(default)]
    pub vaccine: String,
    #[serde(default)]
    pub dose_date: String,
    #[serde(default)]
    pub lot: String,
    #[serde(default)]
    pub site_code: String,
    #[serde(default)]
    pub additional: bool,
    /// The site's own id for the dose; generated when absent.
    pub record_id: Option<String>,
    /// Only check: answer the kind and warnings without storing anything.
    #[serde(default)]
    pub check_only: bool,
}

/// Validates a dose for `person` (their identity fills the identifying columns).
pub fn person_dose_row(
    person: &Person,
    body: &PersonDoseBody,
    today: NaiveDate,
) -> Result<DoseRow, Vec<CellError>> {
    let record_id = body
        .record_id
        .clone()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    let national_id = person
        .national_id
        .as_ref()
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    let get = |c: &str| -> Option<String> {
        Some(match c {
            "record_id" => record_id.clone(),
            "national_id" => national_id.clone(),
            "full_name" => person.full_name.clone(),
            "dob" => person.dob.to_string(),
            "sex" => person.sex.as_str().to_string(),
            "commune_code" => person.commune_code.clone(),
            "phone" => person
                .phone
                .as_ref()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            "vaccine" => body.vaccine.clone(),
            "dose_date" => body.dose_date.clone(),
            "lot" => body.lot.clone(),
            "site_code" => body.site_code.clone(),
            "additional" => if body.additional { "1" } else { "" }.to_string(),
            _ => return None,
        })
    };
    domain::dose_record::parse_row(get, VaccineCatalogue::embedded(), today)
}

/// The error of a dose that did not validate, each cell in `details.errors`.
pub fn invalid_dose(errors: &[CellError]) -> domain::Error {
    let first = errors
        .first()
        .map(|e| e.message.clone())
        .unwrap_or_default();
    domain::Error::new(
        ErrorCode::InvalidInput,
        format!("Mũi tiêm không hợp lệ: {first}"),
        "The dose is not valid (see details)",
    )
    .with_details(serde_json::json!({
        "errors": errors.iter().map(|e| serde_json::json!({
            "column": e.column, "value": e.value, "message": e.message
        })).collect::<Vec<_>>()
    }))
}

/// What a dose for a person is or would be.
#[derive(Debug, Clone, Serialize)]
pub struct DoseCheck {
    /// `primary_1`, `primary_2`, `primary_3`, `additional`, `booster_1`, `booster_2`, …
    pub kind: String,
    pub kind_label: String,
    pub schedule_warnings: Vec<Warning>,
    pub record_warnings: Vec<serde_json::Value>,
}

impl DoseCheck {
    pub fn has_warnings(&self) -> bool {
        !self.schedule_warnings.is_empty() || !self.record_warnings.is_empty()
    }
}

/// The kind and warnings `row` would get for `person` (nothing stored).
pub async fn check_person_dose(
    state: &AppState,
    person: &Person,
    row: &DoseRow,
) -> Result<DoseCheck, domain::Error> {
    let store = state.store.as_ref();
    let history: Vec<DoseEvent> = intake::doses::person_history(store, person.id)
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let new = DoseEvent {
        date: row.dose_date,
        product: row.vaccine.clone(),
        additional: row.additional,
    };
    let infections = intake::doses::infections(store, person.id).await?;
    let (kind, schedule_warnings) =
        intake::doses::check_dose(person.dob, &history, &infections, &new);
    let reference = intake::doses::DoseReference::load(store).await?;
    Ok(DoseCheck {
        kind: kind.code(),
        kind_label: kind_label(kind, false),
        schedule_warnings,
        record_warnings: reference.warnings(row),
    })
}

/// What recording a dose answered.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedDoseView {
    pub record_id: Option<Uuid>,
    /// False when the site had already sent this record id, or for `check_only`.
    pub inserted: bool,
    #[serde(flatten)]
    pub check: DoseCheck,
}

/// Records `row` for `person` on behalf of `p` (audited in the same transaction).
pub async fn record_person_dose(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    person: &Person,
    row: &DoseRow,
) -> Result<RecordedDoseView, domain::Error> {
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "dose.record",
        Some(("person", person.id.to_string())),
        Some(person.commune_code.clone()),
        serde_json::json!({
            "vaccine": row.vaccine, "dose_date": row.dose_date, "site_code": row.site_code,
            "record_id": row.record_id,
        }),
    );
    let r = intake::doses::record_for_person(
        state.store.as_ref(),
        person.id,
        row,
        &p.user.username,
        &entry,
    )
    .await?;
    Ok(RecordedDoseView {
        record_id: Some(r.record_id),
        inserted: r.inserted,
        check: DoseCheck {
            kind: r.kind.code(),
            kind_label: kind_label(r.kind, false),
            schedule_warnings: r.schedule_warnings,
            record_warnings: r.record_warnings,
        },
    })
}

pub async fn record_one(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PersonDoseBody>,
) -> Result<Response, ApiError> {
    let person = readable_person(&state, &p, &id).await?;
    let row = person_dose_row(&person, &body, today(&state)).map_err(|e| invalid_dose(&e))?;
    if body.check_only {
        let check = check_person_dose(&state, &person, &row).await?;
        let view = RecordedDoseView {
            record_id: None,
            inserted: false,
            check,
        };
        return Ok((StatusCode::OK, Json(view)).into_response());
    }
    let view = record_person_dose(&state, &p, &ip, &person, &row).await?;
    let status = if view.inserted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}

/// Vietnamese (or English) name of a dose kind.
pub fn kind_label(kind: DoseKind, en: bool) -> String {
    match (kind, en) {
        (DoseKind::Primary(n), false) => format!("Mũi {n} (cơ bản)"),
        (DoseKind::Primary(n), true) => format!("Primary dose {n}"),
        (DoseKind::Additional, false) => "Mũi bổ sung".into(),
        (DoseKind::Additional, true) => "Additional dose".into(),
        (DoseKind::Booster(n), false) => format!("Mũi nhắc lại {n}"),
        (DoseKind::Booster(n), true) => format!("Booster {n}"),
        (DoseKind::Duplicate, false) => "Trùng mũi đã ghi (không tính)".into(),
        (DoseKind::Duplicate, true) => "Duplicate record (not counted)".into(),
    }
}

/// The display name of a product code (schedule label, else the value set's name).
pub fn product_label(code: &str) -> String {
    Rules::embedded()
        .product(code)
        .map(|p| p.label.clone())
        .or_else(|| {
            VaccineCatalogue::embedded()
                .resolve(code)
                .map(|p| p.name.clone())
        })
        .unwrap_or_else(|| code.to_string())
}

/// One dose of a person's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryDose {
    pub record_id: Uuid,
    pub date: NaiveDate,
    /// EU DCC product code.
    pub vaccine: String,
    pub product: String,
    pub kind: String,
    pub kind_label: String,
    pub site_code: String,
    pub site_name: Option<String>,
    pub lot: String,
    /// Schedule rules this dose breaks (each with `verified`).
    pub warnings: Vec<Warning>,
    /// Lot and site warnings recorded with the dose.
    pub record_warnings: Vec<serde_json::Value>,
    /// Who recorded or linked it (`auto` for linkage).
    pub decided_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NextDoseView {
    pub kind: String,
    pub kind_label: String,
    pub due: NaiveDate,
    pub verified: bool,
}

/// A person's vaccination history as the schedule engine sees it.
#[derive(Debug, Clone, Serialize)]
pub struct VaccinationHistory {
    pub person_id: Uuid,
    pub ruleset: String,
    pub doses: Vec<HistoryDose>,
    pub primary_complete: bool,
    pub primary_complete_on: Option<NaiveDate>,
    pub boosters: u8,
    pub next: Option<NextDoseView>,
    pub follow_up: FollowUp,
}

/// Classifies a person's linked dose records.
pub async fn vaccination_history(
    state: &AppState,
    person: &Person,
) -> Result<VaccinationHistory, domain::Error> {
    let store = state.store.as_ref();
    let records = intake::doses::person_history(store, person.id).await?;
    let events: Vec<DoseEvent> = records.iter().map(|(_, d)| d.clone()).collect();
    let rules = Rules::embedded();
    let infections = intake::doses::infections(store, person.id).await?;
    let status = schedule::evaluate(rules, person.dob, &events, &infections);
    let sites: HashMap<String, String> = store
        .vaccination_sites()
        .await?
        .into_iter()
        .map(|s| (s.code, s.name))
        .collect();
    // `person_history` and `evaluate` both order by date (stably), so the i-th classified dose
    // is the i-th record.
    let doses = records
        .iter()
        .zip(&status.doses)
        .map(|((r, _), c)| {
            let payload = &r.record.payload;
            let text = |k: &str| payload[k].as_str().unwrap_or_default().to_string();
            let site_code = text("site_code");
            HistoryDose {
                record_id: r.record.id,
                date: c.date,
                vaccine: c.product.clone(),
                product: product_label(&c.product),
                kind: c.kind.code(),
                kind_label: kind_label(c.kind, false),
                site_name: sites.get(&site_code).cloned(),
                site_code,
                lot: text("lot"),
                warnings: c.warnings.clone(),
                record_warnings: payload["warnings"].as_array().cloned().unwrap_or_default(),
                decided_by: r.decided_by.clone(),
            }
        })
        .collect();
    let follow_up = schedule::follow_up(rules, person.dob, &status, today(state));
    Ok(VaccinationHistory {
        person_id: person.id,
        ruleset: status.ruleset.clone(),
        doses,
        primary_complete: status.primary_complete.is_some(),
        primary_complete_on: status.primary_complete,
        boosters: status.boosters,
        next: status.next.as_ref().map(|n| NextDoseView {
            kind: n.kind.code(),
            kind_label: kind_label(n.kind, false),
            due: n.due,
            verified: n.verified,
        }),
        follow_up,
    })
}

pub async fn history(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<VaccinationHistory>, ApiError> {
    let person = readable_person(&state, &p, &id).await?;
    Ok(Json(vaccination_history(&state, &person).await?))
}

/// A catalogue product with its schedule rule, if the engine has one.
#[derive(Debug, Serialize)]
pub struct VaccineView {
    #[serde(flatten)]
    pub product: VaccineProduct,
    pub schedule: Option<serde_json::Value>,
}

/// Products, those Vietnamese sites use (with aliases) first.
pub fn vaccine_views() -> Vec<VaccineView> {
    let rules = Rules::embedded();
    let mut out: Vec<VaccineView> = VaccineCatalogue::embedded()
        .products()
        .iter()
        .map(|p| VaccineView {
            schedule: rules.product(&p.code).map(|r| {
                serde_json::json!({
                    "label": r.label, "primary_doses": r.primary_doses,
                    "min_interval_days": r.min_interval_days,
                    "recommended_interval_days": r.recommended_interval_days,
                    "min_age_years": r.min_age_years, "source": r.source, "verified": r.verified,
                })
            }),
            product: p.clone(),
        })
        .collect();
    out.sort_by_key(|v| v.product.aliases.is_empty());
    out
}

pub async fn vaccines() -> Json<serde_json::Value> {
    let items = vaccine_views();
    Json(serde_json::json!({ "total": items.len(), "items": items }))
}

pub async fn sites(State(state): State<AppState>) -> Result<Json<Vec<VaccinationSite>>, ApiError> {
    Ok(Json(state.store.vaccination_sites().await?))
}

pub async fn lots(State(state): State<AppState>) -> Result<Json<Vec<VaccineLot>>, ApiError> {
    Ok(Json(state.store.vaccine_lots().await?))
}

/// Every column of the template with whether it is required and a Vietnamese explanation.
pub fn template_columns() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "record_id",
            "bắt buộc",
            "Mã bản ghi của điểm tiêm, không trùng trong cùng điểm tiêm. Gửi lại cùng mã thì không ghi thêm.",
        ),
        (
            "national_id",
            "*",
            "Số CCCD 12 chữ số. Cần số CCCD, hoặc họ tên cùng ngày sinh, để xác định người.",
        ),
        (
            "full_name",
            "*",
            "Họ và tên, có hoặc không dấu (vd. Nguyễn Văn An).",
        ),
        (
            "dob",
            "*",
            "Ngày sinh: DD/MM/YYYY hoặc YYYY-MM-DD; nếu chỉ biết năm sinh, ghi năm (vd. 1958).",
        ),
        ("sex", "không", "Giới tính: nam hoặc nữ."),
        (
            "commune_code",
            "không",
            "Mã xã/phường nơi người được tiêm cư trú (mã 2025 hoặc mã trước 2025).",
        ),
        ("phone", "không", "Số điện thoại (vd. 0912345678)."),
        (
            "vaccine",
            "bắt buộc",
            "Tên vắc xin hoặc mã EU DCC: xem danh sách bên dưới (không phân biệt hoa thường, dấu).",
        ),
        (
            "dose_date",
            "bắt buộc",
            "Ngày tiêm: DD/MM/YYYY hoặc YYYY-MM-DD; ngày có thật, không ở tương lai, từ 12/2020.",
        ),
        (
            "lot",
            "không",
            "Số lô vắc xin (đối chiếu với danh mục lô và hạn dùng).",
        ),
        ("site_code", "bắt buộc", "Mã điểm tiêm (vd. TYT-00004)."),
        (
            "additional",
            "không",
            "Ghi 1 hoặc «có» nếu là mũi bổ sung cho người suy giảm miễn dịch; để trống nếu không.",
        ),
    ]
}

/// An example row, in the order of the template's columns.
pub const TEMPLATE_EXAMPLE: [&str; 12] = [
    "TYT-00004-000001",
    "001090012345",
    "Nguyễn Văn An",
    "31/05/1990",
    "nam",
    "00004",
    "0912345678",
    "Pfizer",
    "15/08/2021",
    "FF2587",
    "TYT-00004",
    "",
];

/// The template's header: the required columns and the optional `additional`.
pub fn template_header() -> Vec<&'static str> {
    COLUMNS
        .iter()
        .chain(OPTIONAL_COLUMNS.iter())
        .copied()
        .collect()
}

/// Accepted vaccines: name, DCC code, accepted names.
pub fn template_vaccines() -> Vec<(String, String, String)> {
    vaccine_views()
        .into_iter()
        .filter(|v| !v.product.aliases.is_empty())
        .map(|v| {
            (
                product_label(&v.product.code),
                v.product.code.clone(),
                v.product.aliases.join(", "),
            )
        })
        .collect()
}

/// The notes of the template as rows of text (the CSV template's companion file).
pub fn template_notes() -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "cột".to_string(),
        "bắt buộc".to_string(),
        "giải thích".to_string(),
    ]];
    for (c, req, text) in template_columns() {
        rows.push(vec![c.into(), req.into(), text.into()]);
    }
    rows.push(vec![
        String::new(),
        "*".into(),
        "Cần số CCCD, hoặc họ tên và ngày sinh".into(),
    ]);
    rows.push(vec![
        "định dạng ngày".into(),
        String::new(),
        "DD/MM/YYYY (vd. 15/08/2021) hoặc YYYY-MM-DD (vd. 2021-08-15)".into(),
    ]);
    rows.push(vec![
        "vắc xin".into(),
        "mã EU DCC".into(),
        "tên được chấp nhận".into(),
    ]);
    for (label, code, aliases) in template_vaccines() {
        rows.push(vec![label, code, aliases]);
    }
    rows
}

/// The import template as an XLSX workbook: sheet «mui_tiem» with the header and an example
/// row, sheet «huong_dan» explaining each column, date formats and accepted vaccines.
pub fn template_xlsx() -> Result<Vec<u8>, domain::Error> {
    use rust_xlsxwriter::{Format, Workbook};
    let fail = |e: rust_xlsxwriter::XlsxError| {
        tracing::error!(error = %e, "xlsx template");
        domain::Error::internal()
    };
    let bold = Format::new().set_bold();
    // Every column is text, so Excel keeps the leading zeros of citizen IDs, commune codes and
    // phone numbers and does not turn dates into its own format.
    let text = Format::new().set_num_format("@");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("mui_tiem").map_err(fail)?;
    for (c, name) in template_header().iter().enumerate() {
        let c = c as u16;
        sheet
            .write_string_with_format(0, c, *name, &bold)
            .map_err(fail)?;
        sheet
            .write_string(1, c, TEMPLATE_EXAMPLE[c as usize])
            .map_err(fail)?;
        sheet.set_column_width(c, 16).map_err(fail)?;
        sheet.set_column_format(c, &text).map_err(fail)?;
    }
    let notes = book.add_worksheet();
    notes.set_name("huong_dan").map_err(fail)?;
    notes
        .write_string_with_format(
            0,
            0,
            "Mẫu nhập mũi tiêm vắc xin COVID-19 (phongdich import doses)",
            &bold,
        )
        .map_err(fail)?;
    for (r, row) in template_notes().iter().enumerate() {
        let r = r as u32 + 2;
        for (c, text) in row.iter().enumerate() {
            notes.write_string(r, c as u16, text).map_err(fail)?;
        }
    }
    notes.set_column_width(0, 24).map_err(fail)?;
    notes.set_column_width(1, 16).map_err(fail)?;
    notes.set_column_width(2, 90).map_err(fail)?;
    book.save_to_buffer().map_err(fail)
}

pub async fn template() -> Result<Response, ApiError> {
    let bytes = template_xlsx()?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mau-nhap-mui-tiem.xlsx\"",
            ),
        ],
        bytes,
    )
        .into_response())
}
