//! Vaccination doses: validated rows ([`domain::dose_record::DoseRow`]) become `dose` source
//! records (source = site code, so a record id is unique per site and re-sending a file stores
//! nothing twice), linked to register persons like any other record. The coverage counters
//! follow in the store's write transaction.
//!
//! The record's payload holds the normalised dose: `vaccine` (EU DCC product code),
//! `vaccine_input` (as typed), `dose_date`, `lot`, `site_code`, `additional`, and `warnings`
//! about the lot and site (unknown lot, lot expired on the dose date, unknown site). Schedule
//! warnings (interval, mixing, age…) depend on the person's other doses and are computed where
//! the dose is shown or recorded for a known person ([`person_history`], [`record_for_person`]).

use std::collections::HashMap;

use chrono::NaiveDate;
use domain::audit::NewAuditEntry;
use domain::dose_record::DoseRow;
use domain::schedule::{self, DoseEvent, DoseKind, Rules, Warning};
use domain::{Error, ErrorCode};
use serde::Serialize;
use store::{
    LinkDecision, LinkStatus, NewSourceRecord, RecordKind, SourceRecord, SourceRecordQuery, Store,
};
use uuid::Uuid;

use crate::{AUTO, BatchSummary, link_batch};

type Result<T> = std::result::Result<T, Error>;

/// Sites and lots known to the registry, loaded once per batch.
#[derive(Debug, Clone, Default)]
pub struct DoseReference {
    sites: HashMap<String, String>,
    lots: HashMap<(String, String), NaiveDate>,
    products_with_lots: std::collections::HashSet<String>,
}

impl DoseReference {
    pub async fn load(store: &dyn Store) -> Result<Self> {
        let sites = store
            .vaccination_sites()
            .await?
            .into_iter()
            .map(|s| (s.code, s.name))
            .collect();
        let mut reference = DoseReference {
            sites,
            ..DoseReference::default()
        };
        for l in store.vaccine_lots().await? {
            reference.products_with_lots.insert(l.product.clone());
            reference.lots.insert((l.product, l.lot), l.expiry);
        }
        Ok(reference)
    }

    /// Warnings about the lot and site of a dose (the dose is recorded all the same).
    pub fn warnings(&self, row: &DoseRow) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        if !self.sites.is_empty() && !self.sites.contains_key(&row.site_code) {
            out.push(serde_json::json!({
                "code": "site_unknown",
                "message_vi": format!("Điểm tiêm «{}» chưa có trong danh mục", row.site_code),
                "message_en": format!("Site «{}» is not in the list of sites", row.site_code),
            }));
        }
        if !row.lot.is_empty() {
            match self.lots.get(&(row.vaccine.clone(), row.lot.clone())) {
                Some(expiry) if *expiry < row.dose_date => out.push(serde_json::json!({
                    "code": "lot_expired",
                    "message_vi": format!(
                        "Lô {} đã hết hạn ngày {} (trước ngày tiêm)",
                        row.lot,
                        expiry.format("%d/%m/%Y")
                    ),
                    "message_en": format!("Lot {} expired on {expiry}, before the dose", row.lot),
                })),
                None if self.products_with_lots.contains(&row.vaccine) => {
                    out.push(serde_json::json!({
                        "code": "lot_unknown",
                        "message_vi": format!("Lô «{}» không có trong danh mục lô của vắc xin này", row.lot),
                        "message_en": format!("Lot «{}» is not a known lot of this vaccine", row.lot),
                    }))
                }
                _ => {}
            }
        }
        out
    }
}

/// The source record of a validated dose row.
pub fn dose_source_record(
    row: &DoseRow,
    reference: &DoseReference,
    batch_id: Uuid,
) -> NewSourceRecord {
    NewSourceRecord {
        id: Uuid::now_v7(),
        kind: RecordKind::Dose,
        source: row.site_code.clone(),
        external_id: row.record_id.clone(),
        full_name: row.full_name.clone(),
        dob: row.dob.clone(),
        sex: row.sex.clone(),
        national_id: row.national_id.clone(),
        commune_code: row.commune_code.clone(),
        phone: row.phone.clone(),
        payload: serde_json::json!({
            "vaccine": row.vaccine,
            "vaccine_input": row.vaccine_input,
            "dose_date": row.dose_date.to_string(),
            "lot": row.lot,
            "site_code": row.site_code,
            "additional": row.additional,
            "warnings": reference.warnings(row),
        }),
        batch_id,
    }
}

/// Stores and links validated dose rows (idempotent per site and record id).
pub async fn record_doses(
    store: &dyn Store,
    rows: &[DoseRow],
    audit: Option<&NewAuditEntry>,
) -> Result<BatchSummary> {
    let reference = DoseReference::load(store).await?;
    let batch_id = Uuid::now_v7();
    let records: Vec<NewSourceRecord> = rows
        .iter()
        .map(|r| dose_source_record(r, &reference, batch_id))
        .collect();
    link_batch(store, &records, audit).await
}

/// A person's dose records (linked to them) as the schedule engine sees them, with the records.
pub async fn person_history(
    store: &dyn Store,
    person: Uuid,
) -> Result<Vec<(SourceRecord, DoseEvent)>> {
    let mut out = Vec::new();
    let mut query = SourceRecordQuery {
        person_id: Some(person),
        kind: Some(RecordKind::Dose),
        status: Some(LinkStatus::Linked),
        limit: SourceRecordQuery::MAX_LIMIT,
        ..SourceRecordQuery::default()
    };
    loop {
        let page = store.list_source_records(&query).await?;
        let n = page.items.len();
        for r in page.items {
            if let Some(d) = store::coverage::dose_from_payload(&r.record.payload) {
                out.push((r, d));
            }
        }
        if n < SourceRecordQuery::MAX_LIMIT as usize {
            break;
        }
        query.offset += n as u64;
    }
    out.sort_by_key(|(_, d)| d.date);
    Ok(out)
}

/// What recording a dose for a known person did.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedDose {
    pub record_id: Uuid,
    /// False when the same site had already sent this record id (nothing was stored).
    pub inserted: bool,
    pub kind: DoseKind,
    pub schedule_warnings: Vec<Warning>,
    pub record_warnings: Vec<serde_json::Value>,
}

/// The schedule warnings a new dose would get for a person born on `dob` with `history`, who
/// had COVID-19 on `infections` (the deferral after infection).
pub fn check_dose(
    dob: NaiveDate,
    history: &[DoseEvent],
    infections: &[NaiveDate],
    new: &DoseEvent,
) -> (DoseKind, Vec<Warning>) {
    schedule::check_new_dose(Rules::embedded(), dob, history, infections, new)
}

/// When a person had COVID-19: the first positive sample date of each of their cases, for the
/// schedule's deferral after infection.
pub async fn infections(store: &dyn Store, person: Uuid) -> Result<Vec<NaiveDate>> {
    Ok(store
        .cases_of_person(person)
        .await?
        .into_iter()
        .map(|c| c.first_positive)
        .collect())
}

/// Refuses a person merged into another: their doses are recorded on the person kept (named).
pub async fn refuse_merged(store: &dyn Store, person: Uuid) -> Result<()> {
    match store.merged_into(person).await? {
        Some(kept) => Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "Hồ sơ này đã được gộp vào hồ sơ khác (mã {kept}): hãy ghi nhận mũi tiêm ở hồ sơ được giữ lại"
            ),
            format!("This person was merged into another ({kept}): record the dose there"),
        )),
        None => Ok(()),
    }
}

/// Records a dose given to a register person (form or API): stored as a `dose` record linked
/// to the person by `by`, in the same transaction as its audit entry.
pub async fn record_for_person(
    store: &dyn Store,
    person: Uuid,
    row: &DoseRow,
    by: &str,
    audit: &NewAuditEntry,
) -> Result<RecordedDose> {
    let p = store
        .get_person(person)
        .await?
        .ok_or_else(|| Error::not_found("người", "person"))?;
    refuse_merged(store, person).await?;
    let reference = DoseReference::load(store).await?;
    let records = person_history(store, person).await?;
    let history: Vec<DoseEvent> = records.iter().map(|(_, d)| d.clone()).collect();
    let new = DoseEvent {
        date: row.dose_date,
        product: row.vaccine.clone(),
        additional: row.additional,
    };
    let infections = infections(store, person).await?;
    let (kind, schedule_warnings) = check_dose(p.dob, &history, &infections, &new);
    let mut record = dose_source_record(row, &reference, Uuid::now_v7());
    if record.full_name.is_empty() {
        record.full_name = p.full_name.clone();
    }
    if record.dob.is_empty() {
        record.dob = p.dob.to_string();
    }
    if record.national_id.is_empty() {
        record.national_id = p
            .national_id
            .as_ref()
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
    }
    if record.commune_code.is_empty() {
        record.commune_code = p.commune_code.clone();
    }
    let record_warnings = record.payload["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Stored and linked in one transaction, with the audit entry.
    let decision = LinkDecision {
        record_id: record.id,
        status: LinkStatus::Linked,
        person_id: Some(person),
        probability: None,
        decided_by: if by.is_empty() {
            AUTO.into()
        } else {
            by.into()
        },
        candidates: Some(Vec::new()),
    };
    let inserted = store
        .insert_decided_records(std::slice::from_ref(&record), &[decision], Some(audit))
        .await?;
    if inserted.is_empty() {
        // The site already sent this record id: the same dose (date, vaccine, additional) sent
        // again is fine (nothing is stored twice); the id of another dose is refused.
        let same = records.iter().position(|(r, d)| {
            r.record.source == record.source
                && r.record.external_id == record.external_id
                && (d.date, &d.product, d.additional) == (new.date, &new.product, new.additional)
        });
        return match same {
            Some(i) => {
                // What the stored dose counts as (`person_history` and `evaluate` both order by
                // date, stably, so the i-th classified dose is the i-th record).
                let status = schedule::evaluate(Rules::embedded(), p.dob, &history, &infections);
                let stored = &status.doses[i];
                Ok(RecordedDose {
                    record_id: records[i].0.record.id,
                    inserted: false,
                    kind: stored.kind,
                    schedule_warnings: stored.warnings.clone(),
                    record_warnings: records[i].0.record.payload["warnings"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                })
            }
            None => Err(Error::new(
                ErrorCode::Conflict,
                format!(
                    "Mã bản ghi «{}» của điểm tiêm «{}» đã được dùng cho một mũi tiêm khác",
                    record.external_id, record.source
                ),
                format!(
                    "Record id «{}» of site «{}» is already used for another dose",
                    record.external_id, record.source
                ),
            )),
        };
    }
    Ok(RecordedDose {
        record_id: record.id,
        inserted: true,
        kind,
        schedule_warnings,
        record_warnings,
    })
}
