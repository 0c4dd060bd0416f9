//! Types and contract of case surveillance storage (migration `0008_cases`): lab tests (one row
//! per `test` source record), cases (episodes of infection, F0) with their home-care state,
//! daily check-ins, per-commune daily counters kept in the write transaction, and the daily
//! reports units submit. The rules deciding episodes, severity and alerts live in `domain`
//! (`case_rules`, `home_care`) and `intake`; this module only stores what they decide.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::surveillance::{
    AlertLevel, CareSetting, CaseStatus, Classification, DetectionSource, Outcome, Severity,
    TestResult, TestType,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{LinkDecision, NewSourceRecord, Page, PersonScope, Result};

/// The units a row is counted in, in both hierarchies (from the person's residence, or the
/// commune typed on the record when the person is not known yet). Codes are empty when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CaseUnits {
    /// 2025 province (partition key).
    pub province_code: String,
    /// 2025 commune.
    pub commune_code: String,
    pub old_commune_code: Option<String>,
    pub old_district_code: Option<String>,
    pub old_province_code: Option<String>,
}

impl CaseUnits {
    /// Whether a row counted in these units belongs to `scope` (the rule the scope filters of
    /// the queries apply in SQL).
    pub fn within(&self, scope: &PersonScope) -> bool {
        match scope {
            PersonScope::All => true,
            PersonScope::Province(p) => self.province_code == *p,
            PersonScope::Communes(cs) => cs.contains(&self.commune_code),
            PersonScope::OldCommunes(cs) => self
                .old_commune_code
                .as_ref()
                .is_some_and(|c| cs.contains(c)),
        }
    }
}

/// One laboratory test (the `test` source record with the same id holds the identity as sent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabTest {
    /// Id of the `test` source record.
    pub id: Uuid,
    #[serde(flatten)]
    pub units: CaseUnits,
    pub person_id: Option<Uuid>,
    pub lab_code: String,
    pub sample_date: NaiveDate,
    pub test_type: TestType,
    pub result: TestResult,
    /// The case this test opened or was attached to.
    pub case_id: Option<Uuid>,
    /// The collected sample this result belongs to, when it came through a sampling session.
    pub sample_id: Option<Uuid>,
    /// When the system received the result.
    pub received_at: DateTime<Utc>,
}

/// A case: one episode of infection of one person (F0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub id: Uuid,
    #[serde(flatten)]
    pub units: CaseUnits,
    /// The register person (None while the opening test is not linked yet).
    pub person_id: Option<Uuid>,
    /// The test record that opened the case.
    pub source_record_id: Uuid,
    /// Identity as known (from the person, else as typed on the test).
    pub full_name: String,
    pub dob: Option<NaiveDate>,
    pub sex: String,
    pub phone: String,
    pub status: CaseStatus,
    pub classification: Classification,
    /// Sample date of the first positive test of the episode.
    pub first_positive: NaiveDate,
    /// Sample date of the latest positive test of the episode.
    pub last_positive: NaiveDate,
    pub onset: Option<NaiveDate>,
    pub detection_source: DetectionSource,
    /// A `domain::case_rules::RiskGroup` (age, comorbidities, pregnancy, vaccination status
    /// read from the registry, high risk and why).
    pub risk: serde_json::Value,
    pub high_risk: bool,
    pub severity: Severity,
    pub care_setting: CareSetting,
    pub on_oxygen: bool,
    pub outcome: Option<Outcome>,
    pub outcome_date: Option<NaiveDate>,
    pub isolation_end: NaiveDate,
    /// Post-COVID follow-up until (12 months).
    pub followup_until: NaiveDate,
    /// `A` or `B`: the disease group when the case was detected.
    pub disease_group: String,
    /// When the system received the opening result.
    pub reported_at: DateTime<Utc>,
    pub report_deadline: DateTime<Utc>,
    pub report_met: bool,
    pub last_checkin_at: Option<DateTime<Utc>>,
    /// Urgency from the latest check-in (`Overdue` is computed when listing, not stored).
    pub alert: AlertLevel,
    /// Reasons of the alert (`domain::home_care::Reason` list as JSON).
    pub alert_reasons: serde_json::Value,
    /// Ruleset id of the latest assessment.
    pub ruleset: String,
    pub cluster_id: Option<Uuid>,
    /// Free-text note of the staff (comorbidities detail, transfer…).
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a test batch does to cases, decided by `intake` from the episode rules. Applied only
/// when the triggering test record is actually inserted (a re-sent record changes nothing).
// Changes live for one batch; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum CaseChange {
    /// A new case, opened by `case.source_record_id`.
    Open(Case),
    /// A further positive test of an existing case: `last_positive` moves to the sample date if
    /// later; a RT-PCR positive upgrades a probable case to confirmed.
    Positive {
        case_id: Uuid,
        record_id: Uuid,
        sample_date: NaiveDate,
        test_type: TestType,
    },
}

/// A batch of test results with everything decided: stored in one transaction.
#[derive(Debug, Clone, Default)]
pub struct TestBatch {
    /// `test` source records (identity as sent).
    pub records: Vec<NewSourceRecord>,
    /// Linkage decisions of those records (as [`crate::Store::insert_decided_records`]).
    pub decisions: Vec<LinkDecision>,
    /// One lab test per record (same id), with `case_id` already set where a change applies.
    pub tests: Vec<LabTest>,
    pub changes: Vec<CaseChange>,
}

/// What storing a [`TestBatch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TestBatchOutcome {
    /// Record ids inserted (the others were already stored).
    pub inserted: Vec<Uuid>,
    pub cases_created: u64,
    pub cases_updated: u64,
}

/// One daily check-in of a case cared for at home (by staff or by the citizen).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckIn {
    pub id: Uuid,
    pub case_id: Uuid,
    pub province_code: String,
    pub at: DateTime<Utc>,
    /// Username of the staff member, or `citizen`.
    pub by: String,
    /// The `domain::home_care::Vitals` entered, as JSON.
    pub vitals: serde_json::Value,
    /// The `domain::home_care::Assessment` of them, as JSON.
    pub assessment: serde_json::Value,
    pub escalate: bool,
    pub severity: Severity,
    pub alert: AlertLevel,
}

/// Which cases to list.
#[derive(Debug, Clone)]
pub struct CaseQuery {
    pub scope: PersonScope,
    pub status: Option<CaseStatus>,
    /// Only cases whose first positive falls in `[from, to]`.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub limit: u32,
    pub offset: u64,
}

/// Counters of one unit for one day (sums over the unit's communes) plus current-state counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DailyFigures {
    pub day: NaiveDate,
    /// Tests with this sample date.
    pub tests: i64,
    pub positive_tests: i64,
    /// Cases whose first positive is this day.
    pub new_cases: i64,
    /// Outcomes dated this day.
    pub deaths: i64,
    pub recoveries: i64,
    /// Open cases now (not as of `day`: current state) by severity code and by care setting code.
    pub open_by_severity: Vec<(String, i64)>,
    pub open_by_care_setting: Vec<(String, i64)>,
    pub on_oxygen: i64,
    pub open_home_care: i64,
    /// Open cases whose stored alert is warning or emergency.
    pub alerts: i64,
}

/// A unit's daily case series over a date range (input of Rt estimation): one entry per day from
/// `from` to `to`, zeros on days without a row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DailyCaseSeries {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// New cases per day (first positive), from the `surveillance_daily` counters summed over
    /// the scope's communes; discarded cases are not counted.
    pub new_cases: Vec<i64>,
    /// Of those, the cases whose `detection_source` is `imported`, by first positive (read from
    /// the case rows; discarded cases are not counted).
    pub imported: Vec<i64>,
}

/// Longest range [`CaseStore::daily_case_series`] answers (days).
pub const MAX_SERIES_DAYS: i64 = 3_660;

/// A unit's submitted daily report (the figures as submitted are kept).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailyReport {
    /// The unit code (either hierarchy) and its hierarchy (`2025` or `pre2025`).
    pub unit_code: String,
    pub hierarchy: String,
    pub day: NaiveDate,
    pub figures: serde_json::Value,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
}

/// What the alert queue ranks a case by, read without the rest of the case (the stored alert,
/// high risk, age, hours since the last check-in; see `domain::case_rules::urgency_key`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertCandidate {
    pub id: Uuid,
    pub alert: AlertLevel,
    pub high_risk: bool,
    pub dob: Option<NaiveDate>,
    /// The stored risk group (JSON), read only where the age may have to come from it: a case
    /// without a birth date, or with one after its first positive test; `Null` otherwise.
    pub risk: serde_json::Value,
    pub first_positive: NaiveDate,
    pub last_checkin_at: Option<DateTime<Utc>>,
    pub reported_at: DateTime<Utc>,
}

/// Storage of tests, cases, check-ins and daily reports. A supertrait of [`crate::Store`].
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Stores a test batch in one transaction with the audit entry when given: the source
    /// records with their decisions (exactly as `insert_decided_records`, idempotent on kind +
    /// source + record id), a `lab_tests` row for each record actually inserted, the case
    /// changes whose record was inserted, and the daily counters (tests, positives per sample
    /// date; new cases per first-positive date). Records already stored change nothing.
    async fn insert_test_batch(
        &self,
        batch: &TestBatch,
        audit: Option<&NewAuditEntry>,
    ) -> Result<TestBatchOutcome>;

    /// A lab test by id (= its source record id).
    async fn lab_test(&self, id: Uuid) -> Result<Option<LabTest>>;

    /// A person's lab tests, newest sample first.
    async fn lab_tests_of_person(&self, person: Uuid) -> Result<Vec<LabTest>>;

    /// The tests attached to a case, oldest first.
    async fn lab_tests_of_case(&self, case_id: Uuid) -> Result<Vec<LabTest>>;

    /// A case by id.
    async fn case(&self, id: Uuid) -> Result<Option<Case>>;

    /// The latest case (by first positive) of each of these persons, open or closed.
    async fn latest_cases_of_persons(&self, persons: &[Uuid]) -> Result<Vec<Case>>;

    /// A person's cases, newest first.
    async fn cases_of_person(&self, person: Uuid) -> Result<Vec<Case>>;

    /// Cases in a scope, newest first (first positive, then id).
    async fn list_cases(&self, query: &CaseQuery) -> Result<Page<Case>>;

    /// Updates a stored case (every field but id, source record and created_at) with its audit
    /// entry, in one transaction; the daily counters follow outcome changes (deaths and
    /// recoveries on the outcome date). [`domain::ErrorCode::NotFound`] for an unknown case.
    async fn update_case(&self, case: &Case, audit: &NewAuditEntry) -> Result<()>;

    /// Stores a check-in and the case as updated from it (last check-in, severity, alert…) in
    /// one transaction with the audit entry.
    async fn add_checkin(
        &self,
        checkin: &CheckIn,
        case: &Case,
        audit: &NewAuditEntry,
    ) -> Result<()>;

    /// A case's check-ins, newest first, at most `limit`.
    async fn checkins(&self, case_id: Uuid, limit: u32) -> Result<Vec<CheckIn>>;

    /// The candidates of a scope's alert queue: open cases cared for at home whose stored alert
    /// is not `none`, or whose last check-in (or, with none, `reported_at`) is older than
    /// `stale_before` — only what ranking them needs ([`AlertCandidate`]). Unsorted (the caller
    /// ranks them by urgency and reads the cases it shows with [`CaseStore::cases_by_ids`]), at
    /// most `limit`.
    async fn alert_candidates(
        &self,
        scope: &PersonScope,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertCandidate>>;

    /// The cases of a cluster (carrying its id), oldest first positive first (ties by id).
    async fn cases_of_cluster(&self, cluster_id: Uuid) -> Result<Vec<Case>>;

    /// The cases with these ids (unknown ids are left out), in no particular order.
    async fn cases_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Case>>;

    /// The scope's figures for a day: counters of that day and current-state counts of open
    /// cases.
    async fn daily_figures(&self, scope: &PersonScope, day: NaiveDate) -> Result<DailyFigures>;

    /// The scope's new cases and imported cases per day of `[from, to]` (both included), in one
    /// query over the counters (`surveillance_daily`) and the imported case rows.
    /// [`domain::ErrorCode::InvalidInput`] when `to` is before `from` or the range is longer
    /// than [`MAX_SERIES_DAYS`].
    async fn daily_case_series(
        &self,
        scope: &PersonScope,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<DailyCaseSeries>;

    /// Stores (or replaces) a unit's report for a day with its audit entry.
    async fn submit_daily_report(&self, report: &DailyReport, audit: &NewAuditEntry) -> Result<()>;

    /// Reports submitted for a day, optionally only for these unit codes.
    async fn daily_reports(
        &self,
        day: NaiveDate,
        units: Option<&[String]>,
    ) -> Result<Vec<DailyReport>>;

    /// Recomputes the daily counters from lab tests and cases and compares them with the stored
    /// ones; with `write`, replaces them. Returns the number of differing counter rows.
    async fn rebuild_daily_counters(&self, write: bool) -> Result<u64>;
}

impl CaseUnits {
    /// The units of a register person's residence.
    pub fn of_person(person: &domain::person::Person) -> Self {
        Self::with_old(
            person.province_code.clone(),
            person.commune_code.clone(),
            person.old_commune_code.clone(),
        )
    }

    /// The units of a commune code as typed on a record: a 2025 commune (its pre-2025 commune
    /// when it came from exactly one), or a pre-2025 commune (the 2025 commune holding most of
    /// it). Unknown codes give empty units.
    pub fn of_typed_commune(code: &str) -> Self {
        let units = domain::units::AdminUnits::embedded();
        let code = code.trim();
        if let Some(province) = units
            .v2025
            .get(code)
            .and_then(|_| units.v2025.province_of(code))
        {
            let old = match units.old_communes_for_new(code) {
                [only] => Some(only.clone()),
                _ => None,
            };
            return Self::with_old(province.code.clone(), code.to_string(), old);
        }
        if units.pre2025.get(code).is_some() {
            let new = units
                .default_new_commune(code)
                .unwrap_or_default()
                .to_string();
            let province = units
                .v2025
                .province_of(&new)
                .map(|p| p.code.clone())
                .unwrap_or_default();
            return Self::with_old(province, new, Some(code.to_string()));
        }
        CaseUnits::default()
    }

    fn with_old(province_code: String, commune_code: String, old: Option<String>) -> Self {
        let units = domain::units::AdminUnits::embedded();
        let (old_district_code, old_province_code) = match &old {
            Some(c) => (
                units.pre2025.get(c).and_then(|u| u.parent_code.clone()),
                units.pre2025.province_of(c).map(|u| u.code.clone()),
            ),
            None => (None, None),
        };
        CaseUnits {
            province_code,
            commune_code,
            old_commune_code: old,
            old_district_code,
            old_province_code,
        }
    }
}
