//! Laboratory test results (file, API, form, sample results): validated rows
//! ([`domain::test_record::TestRow`]) become `test` source records (source = lab code, so a
//! record id is unique per lab and re-sending a file stores nothing twice), linked to register
//! persons like any other record, and stored in one transaction with their lab-test rows, the
//! cases they open or update, and the daily counters ([`store::CaseStore::insert_test_batch`]).
//!
//! Episodes follow the case rules in force on the sample date ([`domain::case_rules`]): a
//! positive RT-PCR or rapid antigen test of a person without a case in the episode window opens
//! one; a further positive inside the window updates it; one inside the reinfection window of a
//! closed case is kept with that case. Negative and inconclusive results are attached to the
//! person's open case (discharge needs a negative test on or after day 7). Positive tests of
//! records not linked to a person (review or unlinked) still open a case, with the identity as
//! typed, so nobody is lost while a clerk decides; within a batch such records are grouped by
//! citizen ID, else by folded name and birth date.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use domain::Error;
use domain::audit::NewAuditEntry;
use domain::case_rules::{CaseRules, EpisodeDecision, EpisodeView, VaccinationStatus};
use domain::person::Person;
use domain::surveillance::{
    AlertLevel, CareSetting, CaseStatus, Classification, DetectionSource, Severity,
};
use domain::test_record::TestRow;
use serde::Serialize;
use store::{
    Case, CaseChange, CaseUnits, LabTest, LinkStatus, NewSourceRecord, PersonCoverage, RecordKind,
    Store, TestBatch,
};
use uuid::Uuid;

use crate::decide_links;

type Result<T> = std::result::Result<T, Error>;

/// What a batch of test results did (printed by `phongdich import tests`, returned by the API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TestImportSummary {
    pub inserted: usize,
    /// Records already stored (same lab and record id): skipped.
    pub duplicates: usize,
    pub linked: usize,
    pub review: usize,
    pub unlinked: usize,
    pub cases_created: u64,
    pub cases_updated: u64,
    /// Contacts under follow-up who turned out to be among the new cases, now marked
    /// `became_case` ([`crate::outbreaks::mark_contacts_became_cases`]).
    pub contacts_became_cases: usize,
    /// Persons who became cases in this batch (for contact tracing).
    #[serde(skip)]
    pub new_case_persons: Vec<Uuid>,
}

impl TestImportSummary {
    /// Adds another batch's counts (files sent in several batches).
    pub fn add(&mut self, other: &TestImportSummary) {
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
        self.linked += other.linked;
        self.review += other.review;
        self.unlinked += other.unlinked;
        self.cases_created += other.cases_created;
        self.cases_updated += other.cases_updated;
        self.contacts_became_cases += other.contacts_became_cases;
        self.new_case_persons
            .extend_from_slice(&other.new_case_persons);
    }
}

/// The source record of a validated test row.
pub fn test_source_record(row: &TestRow, batch_id: Uuid) -> NewSourceRecord {
    NewSourceRecord {
        id: Uuid::now_v7(),
        kind: RecordKind::Test,
        source: row.lab_code.clone(),
        external_id: row.record_id.clone(),
        full_name: row.full_name.clone(),
        dob: row.dob.clone(),
        sex: row.sex.clone(),
        national_id: row.national_id.clone(),
        commune_code: row.commune_code.clone(),
        phone: row.phone.clone(),
        payload: serde_json::json!({
            "sample_date": row.sample_date.to_string(),
            "test_type": row.test_type.as_str(),
            "result": row.result.as_str(),
            "lab_code": row.lab_code,
        }),
        batch_id,
    }
}

/// Whom an episode belongs to while deciding a batch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Person(Uuid),
    /// An unlinked record's citizen ID, or folded name + birth date.
    Typed(String),
}

fn typed_subject(r: &NewSourceRecord) -> Option<Subject> {
    let id: String = r.national_id.chars().filter(char::is_ascii_digit).collect();
    if id.len() == 12 {
        return Some(Subject::Typed(format!("id:{id}")));
    }
    let name = domain::name::fold(&r.full_name);
    if name.trim().is_empty() || r.dob.trim().is_empty() {
        return None;
    }
    Some(Subject::Typed(format!(
        "name:{}|{}",
        name.trim(),
        r.dob.trim()
    )))
}

/// Vaccination status on `date` from the person's coverage row.
pub fn vaccination_status(coverage: Option<&PersonCoverage>, date: NaiveDate) -> VaccinationStatus {
    let Some(c) = coverage else {
        return VaccinationStatus::Unvaccinated;
    };
    let by = |d: Option<NaiveDate>| d.is_some_and(|d| d <= date);
    if by(c.booster1) {
        VaccinationStatus::Boosted
    } else if by(c.primary_complete) {
        VaccinationStatus::PrimaryComplete
    } else if by(c.first_dose) {
        VaccinationStatus::Partial
    } else {
        VaccinationStatus::Unvaccinated
    }
}

fn age_on(dob: NaiveDate, date: NaiveDate) -> u32 {
    let mut age = date.year() - dob.year();
    if (date.month(), date.day()) < (dob.month(), dob.day()) {
        age -= 1;
    }
    age.max(0) as u32
}

/// Reads a birth date typed as `YYYY-MM-DD` (what validated rows carry when readable).
fn typed_dob(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

/// Builds a new case opened by `record` (its person when linked).
fn open_case(
    record: &NewSourceRecord,
    row: &TestRow,
    person: Option<&Person>,
    coverage: Option<&PersonCoverage>,
    received_at: DateTime<Utc>,
) -> Case {
    let rules = CaseRules::embedded();
    let ruleset = rules.at(row.sample_date);
    let (units, full_name, dob, sex, phone) = match person {
        Some(p) => (
            CaseUnits::of_person(p),
            p.full_name.clone(),
            Some(p.dob),
            p.sex.as_str().to_string(),
            p.phone
                .as_ref()
                .map(|ph| ph.as_str().to_string())
                .unwrap_or_else(|| record.phone.clone()),
        ),
        None => (
            CaseUnits::of_typed_commune(&record.commune_code),
            domain::name::normalize(&record.full_name),
            typed_dob(&record.dob),
            record.sex.clone(),
            record.phone.clone(),
        ),
    };
    let vaccination = vaccination_status(coverage, row.sample_date);
    let age = dob.map(|d| age_on(d, row.sample_date)).unwrap_or(0);
    let risk = ruleset.risk_group(age, &[], false, vaccination);
    Case {
        id: Uuid::now_v7(),
        units,
        person_id: person.map(|p| p.id),
        source_record_id: record.id,
        full_name,
        dob,
        sex,
        phone,
        status: CaseStatus::Open,
        classification: Classification::Confirmed,
        first_positive: row.sample_date,
        last_positive: row.sample_date,
        onset: None,
        detection_source: DetectionSource::Community,
        high_risk: risk.high_risk,
        risk: serde_json::to_value(&risk).unwrap_or_default(),
        severity: Severity::Asymptomatic,
        care_setting: CareSetting::Home,
        on_oxygen: false,
        outcome: None,
        outcome_date: None,
        isolation_end: ruleset.isolation_end(row.sample_date),
        followup_until: ruleset.followup_until(row.sample_date),
        disease_group: format!("{:?}", rules.disease_group(row.sample_date)),
        reported_at: received_at,
        report_deadline: ruleset.report_deadline(row.sample_date),
        report_met: ruleset.report_met(row.sample_date, received_at),
        last_checkin_at: None,
        alert: AlertLevel::None,
        alert_reasons: serde_json::json!([]),
        ruleset: ruleset.id.clone(),
        cluster_id: None,
        note: String::new(),
        created_at: received_at,
        updated_at: received_at,
    }
}

/// Stores and links validated test rows, opening and updating cases (idempotent per lab and
/// record id). `received_at` is when the results reached the system (reporting deadline).
pub async fn record_tests(
    store: &dyn Store,
    rows: &[TestRow],
    received_at: DateTime<Utc>,
    audit: Option<&NewAuditEntry>,
) -> Result<TestImportSummary> {
    record_tests_of_samples(store, rows, &[], received_at, audit).await
}

/// [`record_tests`] for results of collected samples: `samples[i]` is the sample `rows[i]`
/// came from (kept as the lab test's `sample_id`); rows beyond `samples` have none.
pub async fn record_tests_of_samples(
    store: &dyn Store,
    rows: &[TestRow],
    samples: &[Uuid],
    received_at: DateTime<Utc>,
    audit: Option<&NewAuditEntry>,
) -> Result<TestImportSummary> {
    let batch_id = Uuid::now_v7();
    let records: Vec<NewSourceRecord> = rows
        .iter()
        .map(|r| test_source_record(r, batch_id))
        .collect();
    let (decisions, _) = decide_links(store, &records).await?;
    let person_of: HashMap<Uuid, Uuid> = decisions
        .iter()
        .filter(|d| d.status == LinkStatus::Linked)
        .filter_map(|d| d.person_id.map(|p| (d.record_id, p)))
        .collect();
    let person_ids: Vec<Uuid> = person_of
        .values()
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let persons: HashMap<Uuid, Person> = store
        .persons_by_ids(&person_ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let any_positive = rows
        .iter()
        .any(|r| r.result == domain::surveillance::TestResult::Positive);
    let coverage: HashMap<Uuid, PersonCoverage> = if any_positive {
        store
            .person_coverages(&person_ids)
            .await?
            .into_iter()
            .map(|c| (c.person_id, c))
            .collect()
    } else {
        HashMap::new()
    };
    // The latest case of each subject, updated as the batch is decided.
    let mut latest: HashMap<Subject, (Uuid, EpisodeView)> = HashMap::new();
    for c in store.latest_cases_of_persons(&person_ids).await? {
        if let Some(p) = c.person_id {
            latest.insert(
                Subject::Person(p),
                (
                    c.id,
                    EpisodeView {
                        status: c.status,
                        first_positive: c.first_positive,
                        last_positive: c.last_positive,
                    },
                ),
            );
        }
    }
    // Decide in sample-date order so an episode's first positive opens it.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| (rows[i].sample_date, i));
    let rules = CaseRules::embedded();
    let mut tests = Vec::with_capacity(rows.len());
    let mut changes = Vec::new();
    let mut opened_by: HashMap<Uuid, Uuid> = HashMap::new();
    for i in order {
        let (row, record) = (&rows[i], &records[i]);
        let person = person_of.get(&record.id).and_then(|p| persons.get(p));
        let subject = match person {
            Some(p) => Some(Subject::Person(p.id)),
            None => typed_subject(record),
        };
        let ruleset = rules.at(row.sample_date);
        let previous = subject.as_ref().and_then(|s| latest.get(s)).copied();
        let mut case_id = None;
        if ruleset.opens_case(row.test_type, row.result) {
            let decision = domain::case_rules::decide_episode(
                ruleset,
                previous.as_ref().map(|p| &p.1),
                row.sample_date,
            );
            match (decision, previous) {
                (EpisodeDecision::Update, Some((id, mut view))) => {
                    changes.push(CaseChange::Positive {
                        case_id: id,
                        record_id: record.id,
                        sample_date: row.sample_date,
                        test_type: row.test_type,
                    });
                    view.last_positive = view.last_positive.max(row.sample_date);
                    if let Some(s) = &subject {
                        latest.insert(s.clone(), (id, view));
                    }
                    case_id = Some(id);
                }
                (EpisodeDecision::Attach, Some((id, _))) => case_id = Some(id),
                _ => {
                    let case = open_case(
                        record,
                        row,
                        person,
                        person.and_then(|p| coverage.get(&p.id)),
                        received_at,
                    );
                    case_id = Some(case.id);
                    if let Some(s) = &subject {
                        latest.insert(
                            s.clone(),
                            (
                                case.id,
                                EpisodeView {
                                    status: CaseStatus::Open,
                                    first_positive: row.sample_date,
                                    last_positive: row.sample_date,
                                },
                            ),
                        );
                    }
                    if let Some(p) = person {
                        opened_by.insert(record.id, p.id);
                    }
                    changes.push(CaseChange::Open(case));
                }
            }
        } else if let Some((id, view)) = previous
            && view.status == CaseStatus::Open
            && row.sample_date >= view.first_positive
        {
            // A negative or inconclusive result during the episode: kept with the case.
            case_id = Some(id);
        }
        let units = match person {
            Some(p) => CaseUnits::of_person(p),
            None => CaseUnits::of_typed_commune(&record.commune_code),
        };
        tests.push(LabTest {
            id: record.id,
            units,
            person_id: person.map(|p| p.id),
            lab_code: row.lab_code.clone(),
            sample_date: row.sample_date,
            test_type: row.test_type,
            result: row.result,
            case_id,
            sample_id: samples.get(i).copied(),
            received_at,
        });
    }
    let batch = TestBatch {
        records,
        decisions,
        tests,
        changes,
    };
    let outcome = store.insert_test_batch(&batch, audit).await?;
    let inserted: HashSet<Uuid> = outcome.inserted.iter().copied().collect();
    let mut summary = TestImportSummary {
        inserted: inserted.len(),
        duplicates: batch.records.len() - inserted.len(),
        cases_created: outcome.cases_created,
        cases_updated: outcome.cases_updated,
        ..TestImportSummary::default()
    };
    for d in batch
        .decisions
        .iter()
        .filter(|d| inserted.contains(&d.record_id))
    {
        match d.status {
            LinkStatus::Linked => summary.linked += 1,
            LinkStatus::Review => summary.review += 1,
            LinkStatus::Unlinked => summary.unlinked += 1,
        }
    }
    summary.new_case_persons = opened_by
        .iter()
        .filter(|(record, _)| inserted.contains(record))
        .map(|(_, person)| *person)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    // Contacts being followed who now have a case of their own leave follow-up as cases. Their
    // writes are audited as the batch's actor (the system when the batch has none).
    if !summary.new_case_persons.is_empty() {
        let system = NewAuditEntry {
            at: received_at,
            actor_id: None,
            actor: None,
            action: "tests.record_batch".into(),
            entity_type: None,
            entity_id: None,
            unit_code: None,
            ip: None,
            details: serde_json::json!({}),
        };
        let base = audit.unwrap_or(&system);
        summary.contacts_became_cases =
            crate::outbreaks::mark_contacts_became_cases(store, &summary.new_case_persons, base)
                .await?
                .len();
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(
        first: Option<&str>,
        primary: Option<&str>,
        booster: Option<&str>,
    ) -> PersonCoverage {
        let d = |s: Option<&str>| s.map(|s| s.parse().unwrap());
        PersonCoverage {
            person_id: Uuid::nil(),
            province_code: "12".into(),
            commune_code: "03562".into(),
            old_commune_code: None,
            old_district_code: None,
            old_province_code: None,
            dob: "1980-01-01".parse().unwrap(),
            first_dose: d(first),
            primary_complete: d(primary),
            booster1: d(booster),
            booster2: None,
            doses: 0,
            next_kind: None,
            next_due: None,
            last_change: None,
        }
    }

    #[test]
    fn vaccination_status_is_read_at_the_sample_date() {
        let c = coverage(Some("2021-08-01"), Some("2021-09-01"), Some("2022-01-15"));
        let on = |s: &str| vaccination_status(Some(&c), s.parse().unwrap());
        assert_eq!(on("2021-07-31"), VaccinationStatus::Unvaccinated);
        assert_eq!(on("2021-08-01"), VaccinationStatus::Partial);
        assert_eq!(on("2021-12-31"), VaccinationStatus::PrimaryComplete);
        assert_eq!(on("2022-03-01"), VaccinationStatus::Boosted);
        assert_eq!(
            vaccination_status(None, "2022-03-01".parse().unwrap()),
            VaccinationStatus::Unvaccinated
        );
    }

    #[test]
    fn ages_count_whole_years() {
        let dob: NaiveDate = "2000-03-15".parse().unwrap();
        assert_eq!(age_on(dob, "2022-03-14".parse().unwrap()), 21);
        assert_eq!(age_on(dob, "2022-03-15".parse().unwrap()), 22);
    }

    #[test]
    fn unlinked_records_are_grouped_by_id_else_name_and_birth_date() {
        let mut r = test_source_record(
            &TestRow {
                record_id: "1".into(),
                lab_code: "LAB".into(),
                national_id: "0120 9000 1234".into(),
                full_name: "Nguyễn Văn A".into(),
                dob: "1990-01-01".into(),
                sex: "M".into(),
                commune_code: String::new(),
                phone: String::new(),
                sample_date: "2022-03-01".parse().unwrap(),
                test_type: domain::surveillance::TestType::RtPcr,
                result: domain::surveillance::TestResult::Positive,
            },
            Uuid::nil(),
        );
        assert_eq!(
            typed_subject(&r),
            Some(Subject::Typed("id:012090001234".into()))
        );
        r.national_id.clear();
        assert_eq!(
            typed_subject(&r),
            Some(Subject::Typed("name:nguyen van a|1990-01-01".into()))
        );
        r.dob.clear();
        assert_eq!(typed_subject(&r), None);
    }
}
