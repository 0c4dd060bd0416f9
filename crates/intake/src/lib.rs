//! `intake` — records arriving from vaccination sites, laboratories, case reports and support
//! programmes: stored as they came ([`store::NewSourceRecord`]), linked to a person of the
//! population register, or queued for a clerk to decide.
//!
//! Linking is incremental: every register person has blocking keys in a persisted index
//! ([`Store::replace_blocking_keys`]), kept current by [`index_register`] (persons added or
//! changed since the last run are the only ones keyed); a batch looks up the persons sharing a
//! key with each record and scores only those with the stored model ([`linkage::TrainedModel`]).
//! The model is fitted once — on the first batch, or again with [`retrain`] — and stored.
//!
//! Outcomes per record: `linked` (probability ≥ 0.99, look-alikes sharing the odds),
//! `review` (best candidate ≥ 0.05), `unlinked` (nobody close). A clerk resolves reviews with [`decide`]:
//! accept a candidate, reject them all, or create a new person from the record.

pub mod allocation_need;
pub mod care;
pub mod doses;
pub mod followup;
pub mod lab_tests;
pub mod levels;
pub mod outbreaks;
pub mod rt;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use domain::Error;
use domain::audit::NewAuditEntry;
use domain::person::{NationalId, Person, Phone, Sex};
use domain::units::AdminUnits;
use linkage::{Linker, MatchClass, Record, Settings};
use serde::Serialize;
use store::{
    LinkCandidate, LinkDecision, LinkStatus, NewSourceRecord, PersonQuery, PersonScope, Store,
};
use uuid::Uuid;

type Result<T> = std::result::Result<T, Error>;

/// Persons keyed per round trip when bringing the index up to date.
const INDEX_CHUNK: u32 = 5_000;
/// A key shared by more persons than this is too common to propose candidates.
const MAX_PERSONS_PER_KEY: usize = 200;
/// Candidates kept with a record for the review page.
const KEPT_CANDIDATES: usize = 5;
/// Register persons sampled to fit a model.
const TRAINING_PERSONS: u32 = 200_000;
/// Fewer unindexed persons than this: sample the whole register instead.
const MIN_TRAINING_PERSONS: usize = 1_000;
/// A best candidate at least this probable (and below the link threshold) sends the record to
/// review; below it the record stays unlinked. Lower than the file linker's review threshold:
/// in the system a clerk is there to look.
const MIN_REVIEW_PROBABILITY: f64 = 0.05;
/// `decided_by` of the engine's own decisions.
pub const AUTO: &str = "auto";

/// What a batch did, printed by `phongdich import records` and returned by the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchSummary {
    pub inserted: usize,
    /// Records already stored (same kind, source and record id): skipped.
    pub duplicates: usize,
    pub linked: usize,
    pub review: usize,
    pub unlinked: usize,
    /// Register persons (re)keyed in the index before linking.
    pub indexed: usize,
    /// Whether a model was fitted for this batch (none was stored).
    pub trained: bool,
}

/// An internal error, logged with its cause (the caller sees the generic message).
fn internal_error(cause: String) -> Error {
    tracing::error!(%cause, "intake");
    Error::internal()
}

impl BatchSummary {
    /// Adds another batch's counts (for files sent in several batches).
    pub fn add(&mut self, other: &BatchSummary) {
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
        self.linked += other.linked;
        self.review += other.review;
        self.unlinked += other.unlinked;
        self.indexed += other.indexed;
        self.trained |= other.trained;
    }
}

/// A linkage record of a register person.
pub fn person_record(p: &Person) -> Record {
    let mut r = Record::new(p.id.to_string())
        .with_full_name(&p.full_name)
        .with_dob(&p.dob.to_string())
        .with_sex(p.sex.as_str())
        .with_commune(&p.commune_code);
    if let Some(n) = &p.national_id {
        r = r.with_national_id(n.as_str());
    }
    if let Some(ph) = &p.phone {
        r = r.with_phone(ph.as_str());
    }
    r
}

/// A linkage record of an incoming record.
pub fn source_record(r: &NewSourceRecord) -> Record {
    Record::new(r.id.to_string())
        .with_full_name(&r.full_name)
        .with_dob(&r.dob)
        .with_sex(&r.sex)
        .with_national_id(&r.national_id)
        .with_commune(&r.commune_code)
        .with_phone(&r.phone)
}

/// The stored model as a linker, if one has been fitted.
pub async fn stored_linker(store: &dyn Store) -> Result<Option<Linker>> {
    let Some((_, json)) = store.latest_linkage_model().await? else {
        return Ok(None);
    };
    let trained: linkage::TrainedModel = serde_json::from_value(json)
        .map_err(|e| internal_error(format!("stored linkage model unreadable: {e}")))?;
    Ok(Some(Linker::from_trained(Settings::default(), trained)))
}

/// Fits a model on (a sample of) the register and `records`, stores it and returns it.
pub async fn retrain(store: &dyn Store, records: &[Record]) -> Result<Linker> {
    // Before the first batch nobody is indexed yet: one query gives the sample.
    let mut register: Vec<Record> = store
        .unindexed_persons(TRAINING_PERSONS)
        .await?
        .iter()
        .map(person_record)
        .collect();
    if register.len() < MIN_TRAINING_PERSONS {
        register.clear();
        let mut query = PersonQuery::new(PersonScope::All);
        query.limit = PersonQuery::MAX_LIMIT;
        while register.len() < TRAINING_PERSONS as usize {
            let page = store.list_persons(&query).await?;
            if page.items.is_empty() {
                break;
            }
            register.extend(page.items.iter().map(person_record));
            query.offset += page.items.len() as u64;
        }
    }
    let mut linker = Linker::new(Settings::default());
    linker.link(&register, records);
    let trained = linker
        .trained()
        .ok_or_else(|| internal_error("linkage model was not fitted".into()))?;
    let json = serde_json::to_value(&trained)
        .map_err(|e| internal_error(format!("linkage model not serialisable: {e}")))?;
    store.save_linkage_model(&json).await?;
    Ok(Linker::from_trained(Settings::default(), trained))
}

/// Keys every register person added or changed since the last run; returns how many.
pub async fn index_register(store: &dyn Store, linker: &Linker) -> Result<usize> {
    let mut done = 0;
    loop {
        let persons = store.unindexed_persons(INDEX_CHUNK).await?;
        if persons.is_empty() {
            return Ok(done);
        }
        let keys: Vec<(Uuid, Vec<i64>)> = persons
            .iter()
            .map(|p| (p.id, linker.index_keys(&person_record(p))))
            .collect();
        store.replace_blocking_keys(&keys).await?;
        done += persons.len();
    }
}

/// Decides how each record of a batch links, storing nothing: records carrying a register
/// person's exact citizen ID (with agreeing birth year and given name) are linked without scoring,
/// the others through the model (the index is brought up to date first, the model is fitted on
/// the first batch). The summary carries `indexed` and `trained`; the counts per status
/// are left for the caller, which knows which records were actually inserted.
pub async fn decide_links(
    store: &dyn Store,
    records: &[NewSourceRecord],
) -> Result<(Vec<LinkDecision>, BatchSummary)> {
    let mut summary = BatchSummary::default();
    let all: Vec<&NewSourceRecord> = records.iter().collect();
    let (mut decisions, rest) = exact_id_links(store, &all).await?;
    if !rest.is_empty() {
        let linkage_records: Vec<Record> = rest.iter().map(|r| source_record(r)).collect();
        let started = std::time::Instant::now();
        let linker = match stored_linker(store).await? {
            Some(l) => l,
            None => {
                summary.trained = true;
                retrain(store, &linkage_records).await?
            }
        };
        let trained_at = started.elapsed();
        summary.indexed = index_register(store, &linker).await?;
        let indexed_at = started.elapsed();
        decisions.extend(decide_batch(store, &linker, &linkage_records).await?);
        tracing::info!(
            records = rest.len(),
            model_s = trained_at.as_secs_f64(),
            index_s = (indexed_at - trained_at).as_secs_f64(),
            link_s = (started.elapsed() - indexed_at).as_secs_f64(),
            "scored a batch"
        );
    }
    Ok((decisions, summary))
}

/// Links a batch and stores it with its decisions in one transaction (see [`decide_links`]).
/// Idempotent: records already stored are counted as duplicates and left as they are.
pub async fn link_batch(
    store: &dyn Store,
    records: &[NewSourceRecord],
    audit: Option<&NewAuditEntry>,
) -> Result<BatchSummary> {
    let (decisions, mut summary) = decide_links(store, records).await?;
    let inserted: HashSet<Uuid> = store
        .insert_decided_records(records, &decisions, audit)
        .await?
        .into_iter()
        .collect();
    summary.inserted = inserted.len();
    summary.duplicates = records.len() - inserted.len();
    for d in decisions.iter().filter(|d| inserted.contains(&d.record_id)) {
        match d.status {
            LinkStatus::Linked => summary.linked += 1,
            LinkStatus::Review => summary.review += 1,
            LinkStatus::Unlinked => summary.unlinked += 1,
        }
    }
    Ok(summary)
}

/// Given name (last word) of a name, folded (diacritics and case ignored).
fn folded_given(name: &str) -> Option<String> {
    domain::name::fold(name)
        .split_whitespace()
        .last()
        .map(str::to_string)
}

/// Whether an incoming record agrees with the register person holding its citizen ID: birth
/// year equal (when the record has one) and given name equal ignoring diacritics (when it has
/// one). A record that disagrees goes through the model, which can still link it.
fn agrees_with(r: &NewSourceRecord, p: &Person) -> bool {
    use chrono::Datelike;
    let dob = r.dob.trim();
    let year_ok = dob.is_empty()
        || dob
            .get(..4)
            .and_then(|y| y.parse::<i32>().ok())
            .is_some_and(|y| y == p.dob.year());
    let name_ok =
        r.full_name.trim().is_empty() || folded_given(&r.full_name) == folded_given(&p.full_name);
    year_ok && name_ok
}

/// Splits records into those linked on their exact citizen ID ([`agrees_with`]) and the rest.
async fn exact_id_links<'a>(
    store: &dyn Store,
    records: &[&'a NewSourceRecord],
) -> Result<(Vec<LinkDecision>, Vec<&'a NewSourceRecord>)> {
    let ids: Vec<String> = records
        .iter()
        .filter_map(|r| NationalId::parse(r.national_id.trim()).ok())
        .map(|n| n.as_str().to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok((Vec::new(), records.to_vec()));
    }
    let holders: HashMap<String, Person> = store
        .persons_by_national_ids(&ids)
        .await?
        .into_iter()
        .filter_map(|p| Some((p.national_id.as_ref()?.as_str().to_string(), p)))
        .collect();
    let mut linked = Vec::new();
    let mut rest = Vec::new();
    for r in records {
        let holder = NationalId::parse(r.national_id.trim())
            .ok()
            .and_then(|n| holders.get(n.as_str()));
        match holder {
            Some(p) if agrees_with(r, p) => linked.push(LinkDecision {
                record_id: r.id,
                status: LinkStatus::Linked,
                person_id: Some(p.id),
                probability: Some(1.0),
                decided_by: AUTO.to_string(),
                candidates: Some(vec![LinkCandidate {
                    record_id: r.id,
                    person_id: p.id,
                    probability: 1.0,
                    explanation: serde_json::json!({
                        "rule": "exact_national_id",
                        "checks": ["birth_year", "given_name"],
                    }),
                }]),
            }),
            _ => rest.push(*r),
        }
    }
    Ok((linked, rest))
}

/// The engine's decision for each record, from the persons sharing index keys with it.
async fn decide_batch(
    store: &dyn Store,
    linker: &Linker,
    records: &[Record],
) -> Result<Vec<LinkDecision>> {
    let keys: Vec<Vec<i64>> = records.iter().map(|r| linker.index_keys(r)).collect();
    let mut all_keys: Vec<i64> = keys.iter().flatten().copied().collect();
    all_keys.sort_unstable();
    all_keys.dedup();
    let mut by_key: HashMap<i64, Vec<Uuid>> = HashMap::new();
    for (k, p) in store.persons_with_keys(&all_keys).await? {
        by_key.entry(k).or_default().push(p);
    }
    let wanted: Vec<Uuid> = {
        let mut v: Vec<Uuid> = by_key
            .values()
            .filter(|ps| ps.len() <= MAX_PERSONS_PER_KEY)
            .flatten()
            .copied()
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let persons: HashMap<Uuid, Record> = store
        .persons_by_ids(&wanted)
        .await?
        .iter()
        .map(|p| (p.id, person_record(p)))
        .collect();
    let mut decisions = Vec::with_capacity(records.len());
    for (r, ks) in records.iter().zip(&keys) {
        let mut ids: Vec<Uuid> = ks
            .iter()
            .filter_map(|k| by_key.get(k))
            .filter(|ps| ps.len() <= MAX_PERSONS_PER_KEY)
            .flatten()
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let candidates: Vec<Record> = ids
            .iter()
            .filter_map(|id| persons.get(id).cloned())
            .collect();
        decisions.push(decision_for(linker, r, &candidates));
    }
    Ok(decisions)
}

fn decision_for(linker: &Linker, record: &Record, candidates: &[Record]) -> LinkDecision {
    let record_id = Uuid::parse_str(&record.id).expect("source record ids are UUIDs");
    let scored = linker.score_candidates(record, candidates);
    let kept: Vec<LinkCandidate> = scored
        .iter()
        .take(KEPT_CANDIDATES)
        .map(|m| LinkCandidate {
            record_id,
            person_id: Uuid::parse_str(&m.left_id).expect("person ids are UUIDs"),
            probability: m.probability,
            explanation: serde_json::json!({
                "score": m.score,
                "competition": m.competition,
                "weights": m.weights.iter().map(|w| serde_json::json!({
                    "comparison": w.comparison,
                    "level": w.level_name,
                    "weight": w.weight,
                })).collect::<Vec<_>>(),
            }),
        })
        .collect();
    let best = scored.first();
    let (status, person_id, probability) = match best {
        Some(m) if m.class == MatchClass::Link => (
            LinkStatus::Linked,
            Uuid::parse_str(&m.left_id).ok(),
            Some(m.probability),
        ),
        Some(m) if m.probability >= MIN_REVIEW_PROBABILITY => {
            (LinkStatus::Review, None, Some(m.probability))
        }
        other => (LinkStatus::Unlinked, None, other.map(|m| m.probability)),
    };
    LinkDecision {
        record_id,
        status,
        person_id,
        probability,
        decided_by: AUTO.to_string(),
        candidates: Some(kept),
    }
}

/// A clerk's decision on a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The record is this person's.
    Accept(Uuid),
    /// None of the candidates is the record's person.
    Reject,
    /// The record's person is not in the register: add them (needs a full birth date, sex and
    /// a known commune).
    CreatePerson,
}

/// Applies a clerk's decision; returns the person linked, if any.
pub async fn decide(
    store: &dyn Store,
    record_id: Uuid,
    decision: Decision,
    decided_by: &str,
    audit: &NewAuditEntry,
) -> Result<Option<Uuid>> {
    let Some((record, _)) = store.get_source_record(record_id).await? else {
        return Err(Error::not_found("bản ghi", "Record"));
    };
    let (status, person_id) = match decision {
        Decision::Accept(p) => (LinkStatus::Linked, Some(p)),
        Decision::Reject => (LinkStatus::Unlinked, None),
        Decision::CreatePerson => {
            let person = new_person_from(&record.record)?;
            let id = person.id;
            store.insert_persons(&[person]).await?;
            (LinkStatus::Linked, Some(id))
        }
    };
    store
        .apply_link_decisions(
            &[LinkDecision {
                record_id,
                status,
                person_id,
                probability: None,
                decided_by: decided_by.to_string(),
                candidates: None,
            }],
            Some(audit),
        )
        .await?;
    Ok(person_id)
}

/// A register person built from an incoming record, for "create new person".
pub fn new_person_from(r: &NewSourceRecord) -> Result<Person> {
    let units = AdminUnits::embedded();
    let name = domain::name::normalize(&r.full_name);
    if name.is_empty() {
        return Err(Error::invalid(
            "full_name",
            "Bản ghi không có họ tên: không tạo được người mới",
            "The record has no name: cannot create a person",
        ));
    }
    let dob = NaiveDate::parse_from_str(r.dob.trim(), "%Y-%m-%d").map_err(|_| {
        Error::invalid(
            "dob",
            format!(
                "Ngày sinh «{}» chưa đủ ngày/tháng/năm: sửa bản ghi hoặc chọn người có sẵn",
                r.dob
            ),
            format!("Birth date «{}» is not a full date", r.dob),
        )
    })?;
    let sex = Sex::parse(&r.sex)?;
    let code = r.commune_code.trim();
    let (commune_code, old_commune_code) = if units.v2025.get(code).is_some() {
        (code.to_string(), None)
    } else if let Some(new) = units.default_new_commune(code) {
        (new.to_string(), Some(code.to_string()))
    } else {
        return Err(Error::invalid(
            "commune_code",
            format!("Mã xã «{code}» không có trong danh mục: không tạo được người mới"),
            format!("Commune code «{code}» is unknown: cannot create a person"),
        ));
    };
    let province_code = units
        .v2025
        .province_of(&commune_code)
        .map(|p| p.code.clone())
        .ok_or_else(|| internal_error(format!("commune {commune_code} has no province")))?;
    let national_id = match r.national_id.trim() {
        "" => None,
        raw => Some(NationalId::parse(raw)?),
    };
    let phone = match r.phone.trim() {
        "" => None,
        raw => Some(Phone::parse(raw)?),
    };
    Ok(Person {
        id: Uuid::now_v7(),
        province_code,
        commune_code,
        old_commune_code,
        household_id: None,
        full_name: name,
        dob,
        sex,
        national_id,
        phone,
    })
}

#[cfg(test)]
mod exact_id_tests {
    use super::*;

    fn person() -> Person {
        Person {
            id: Uuid::nil(),
            province_code: "12".into(),
            commune_code: "03388".into(),
            old_commune_code: None,
            household_id: None,
            full_name: "Nguyễn Thị Lan".into(),
            dob: NaiveDate::from_ymd_opt(1990, 5, 31).unwrap(),
            sex: Sex::Female,
            national_id: NationalId::parse("001190012345").ok(),
            phone: None,
        }
    }

    fn record(name: &str, dob: &str) -> NewSourceRecord {
        NewSourceRecord {
            id: Uuid::nil(),
            kind: store::RecordKind::Dose,
            source: "S".into(),
            external_id: "1".into(),
            full_name: name.into(),
            dob: dob.into(),
            sex: String::new(),
            national_id: "001190012345".into(),
            commune_code: String::new(),
            phone: String::new(),
            payload: serde_json::json!({}),
            batch_id: Uuid::nil(),
        }
    }

    #[test]
    fn an_exact_citizen_id_links_only_when_birth_year_and_given_name_agree() {
        let p = person();
        assert!(agrees_with(&record("NGUYEN THI LAN", "1990-05-31"), &p));
        assert!(agrees_with(&record("Trần Thị Lan", "1990"), &p));
        assert!(agrees_with(&record("", ""), &p));
        assert!(!agrees_with(&record("Nguyễn Thị Lan", "1991-05-31"), &p));
        assert!(!agrees_with(&record("Nguyễn Văn Nam", "1990-05-31"), &p));
    }
}
