//! The sqlite implementation of [`crate::CaseStore`], and the backend-independent pieces both
//! backends share: the daily counter arithmetic, the folding of case changes, scope filters and
//! row mapping.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::surveillance::{
    AlertLevel, CareSetting, CaseStatus, Classification, DetectionSource, Outcome, Severity,
    TestResult, TestType,
};
use sqlx::{
    ColumnIndex, Database, Decode, Encode, QueryBuilder, Row, Sqlite, SqliteConnection, Type,
};
use uuid::Uuid;

use crate::cases::{
    AlertCandidate, Case, CaseChange, CaseQuery, CaseStore, CaseUnits, CheckIn, DailyCaseSeries,
    DailyFigures, DailyReport, LabTest, MAX_SERIES_DAYS, TestBatch, TestBatchOutcome,
};
use crate::error::from_sqlx;
use crate::model::{Page, PersonQuery, PersonScope, micros};
use crate::sqlite::{SqliteStore, append_in_tx, insert_decided_in_tx};

// ---- shared by both backends -------------------------------------------------------------------

/// Columns of a [`Case`] in the order [`case_from_row`] reads them (JSON columns are selected as
/// text; PostgreSQL casts them, see [`case_columns`]).
const CASE_COLUMN_NAMES: [&str; 39] = [
    "id",
    "province_code",
    "commune_code",
    "old_commune_code",
    "old_district_code",
    "old_province_code",
    "person_id",
    "source_record_id",
    "full_name",
    "dob",
    "sex",
    "phone",
    "status",
    "classification",
    "first_positive",
    "last_positive",
    "onset",
    "detection_source",
    "risk",
    "high_risk",
    "severity",
    "care_setting",
    "on_oxygen",
    "outcome",
    "outcome_date",
    "isolation_end",
    "followup_until",
    "disease_group",
    "reported_at",
    "report_deadline",
    "report_met",
    "last_checkin_at",
    "alert",
    "alert_reasons",
    "ruleset",
    "cluster_id",
    "note",
    "created_at",
    "updated_at",
];

/// The select list of a case; `json` wraps a JSON column (PostgreSQL: `c::text AS c`).
pub(crate) fn case_columns(json: fn(&str) -> String) -> String {
    CASE_COLUMN_NAMES
        .iter()
        .map(|c| match *c {
            "risk" | "alert_reasons" => json(c),
            _ => (*c).to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The insert column list of a case.
pub(crate) fn case_insert_columns() -> String {
    CASE_COLUMN_NAMES.join(", ")
}

/// Columns of a [`LabTest`].
pub(crate) const LAB_TEST_COLUMNS: &str = "id, province_code, commune_code, old_commune_code, \
     old_district_code, old_province_code, person_id, lab_code, sample_date, test_type, result, \
     case_id, sample_id, received_at";

/// `SET` list of an update of every field of a case but id, source record and created_at, with
/// `$2`… numbered as [`CASE_COLUMN_NAMES`] minus those three (`$1` is the id).
pub(crate) fn case_update_set(cast: fn(&str, usize) -> String) -> String {
    CASE_COLUMN_NAMES
        .iter()
        .filter(|c| !matches!(**c, "id" | "source_record_id" | "created_at"))
        .enumerate()
        .map(|(i, c)| format!("{c} = {}", cast(c, i + 2)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Logs a corrupt stored value and returns an internal error.
fn corrupt(column: &str, value: &str) -> domain::Error {
    tracing::error!(column, value, "corrupt case surveillance row");
    domain::Error::internal()
}

/// Parses a stored code of a `domain::surveillance` enumeration.
pub(crate) fn parse_code<T>(
    value: &str,
    parse: fn(&str) -> std::result::Result<T, domain::Error>,
    column: &str,
) -> crate::Result<T> {
    parse(value).map_err(|_| corrupt(column, value))
}

pub(crate) fn parse_json_text(value: &str, column: &str) -> crate::Result<serde_json::Value> {
    serde_json::from_str(value).map_err(|_| corrupt(column, value))
}

/// The uuids of a case row, read by the caller (text on SQLite, `uuid` on PostgreSQL).
pub(crate) struct CaseIds {
    pub id: Uuid,
    pub person_id: Option<Uuid>,
    pub source_record_id: Uuid,
    pub cluster_id: Option<Uuid>,
}

/// Builds a [`Case`] from a row selecting [`case_columns`].
pub(crate) fn case_from_row<'r, R>(r: &'r R, ids: CaseIds) -> crate::Result<Case>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    Option<NaiveDate>: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    Option<DateTime<Utc>>: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |c: &str| r.try_get::<String, _>(c).map_err(from_sqlx);
    let opt = |c: &str| r.try_get::<Option<String>, _>(c).map_err(from_sqlx);
    let date = |c: &str| r.try_get::<NaiveDate, _>(c).map_err(from_sqlx);
    let opt_date = |c: &str| r.try_get::<Option<NaiveDate>, _>(c).map_err(from_sqlx);
    let flag = |c: &str| r.try_get::<bool, _>(c).map_err(from_sqlx);
    let time = |c: &str| r.try_get::<DateTime<Utc>, _>(c).map_err(from_sqlx);
    Ok(Case {
        id: ids.id,
        units: CaseUnits {
            province_code: text("province_code")?,
            commune_code: text("commune_code")?,
            old_commune_code: opt("old_commune_code")?,
            old_district_code: opt("old_district_code")?,
            old_province_code: opt("old_province_code")?,
        },
        person_id: ids.person_id,
        source_record_id: ids.source_record_id,
        full_name: text("full_name")?,
        dob: opt_date("dob")?,
        sex: text("sex")?,
        phone: text("phone")?,
        status: parse_code(&text("status")?, CaseStatus::parse, "status")?,
        classification: parse_code(
            &text("classification")?,
            Classification::parse,
            "classification",
        )?,
        first_positive: date("first_positive")?,
        last_positive: date("last_positive")?,
        onset: opt_date("onset")?,
        detection_source: parse_code(
            &text("detection_source")?,
            DetectionSource::parse,
            "detection_source",
        )?,
        risk: parse_json_text(&text("risk")?, "risk")?,
        high_risk: flag("high_risk")?,
        severity: parse_code(&text("severity")?, Severity::parse, "severity")?,
        care_setting: parse_code(&text("care_setting")?, CareSetting::parse, "care_setting")?,
        on_oxygen: flag("on_oxygen")?,
        outcome: opt("outcome")?
            .map(|o| parse_code(&o, Outcome::parse, "outcome"))
            .transpose()?,
        outcome_date: opt_date("outcome_date")?,
        isolation_end: date("isolation_end")?,
        followup_until: date("followup_until")?,
        disease_group: text("disease_group")?,
        reported_at: time("reported_at")?,
        report_deadline: time("report_deadline")?,
        report_met: flag("report_met")?,
        last_checkin_at: r
            .try_get::<Option<DateTime<Utc>>, _>("last_checkin_at")
            .map_err(from_sqlx)?,
        alert: parse_code(&text("alert")?, AlertLevel::parse, "alert")?,
        alert_reasons: parse_json_text(&text("alert_reasons")?, "alert_reasons")?,
        ruleset: text("ruleset")?,
        cluster_id: ids.cluster_id,
        note: text("note")?,
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
    })
}

/// Builds a [`LabTest`] from a row selecting [`LAB_TEST_COLUMNS`]; the uuids are read by the
/// caller: `(id, person_id, case_id, sample_id)`.
pub(crate) fn lab_test_from_row<'r, R>(
    r: &'r R,
    (id, person_id, case_id, sample_id): (Uuid, Option<Uuid>, Option<Uuid>, Option<Uuid>),
) -> crate::Result<LabTest>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |c: &str| r.try_get::<String, _>(c).map_err(from_sqlx);
    let opt = |c: &str| r.try_get::<Option<String>, _>(c).map_err(from_sqlx);
    Ok(LabTest {
        id,
        units: CaseUnits {
            province_code: text("province_code")?,
            commune_code: text("commune_code")?,
            old_commune_code: opt("old_commune_code")?,
            old_district_code: opt("old_district_code")?,
            old_province_code: opt("old_province_code")?,
        },
        person_id,
        lab_code: text("lab_code")?,
        sample_date: r.try_get("sample_date").map_err(from_sqlx)?,
        test_type: parse_code(&text("test_type")?, TestType::parse, "test_type")?,
        result: parse_code(&text("result")?, TestResult::parse, "result")?,
        case_id,
        sample_id,
        received_at: r.try_get("received_at").map_err(from_sqlx)?,
    })
}

/// Builds a [`CheckIn`] from a row selecting `id, case_id, province_code, at, checked_by,
/// vitals, assessment, escalate, severity, alert` (JSON as text); uuids read by the caller.
pub(crate) fn checkin_from_row<'r, R>(r: &'r R, id: Uuid, case_id: Uuid) -> crate::Result<CheckIn>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |c: &str| r.try_get::<String, _>(c).map_err(from_sqlx);
    Ok(CheckIn {
        id,
        case_id,
        province_code: text("province_code")?,
        at: r.try_get("at").map_err(from_sqlx)?,
        by: text("checked_by")?,
        vitals: parse_json_text(&text("vitals")?, "vitals")?,
        assessment: parse_json_text(&text("assessment")?, "assessment")?,
        escalate: r.try_get("escalate").map_err(from_sqlx)?,
        severity: parse_code(&text("severity")?, Severity::parse, "severity")?,
        alert: parse_code(&text("alert")?, AlertLevel::parse, "alert")?,
    })
}

/// Builds a [`DailyReport`] from `unit_code, hierarchy, day, figures (text), submitted_by,
/// submitted_at`.
pub(crate) fn report_from_row<'r, R>(r: &'r R) -> crate::Result<DailyReport>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |c: &str| r.try_get::<String, _>(c).map_err(from_sqlx);
    Ok(DailyReport {
        unit_code: text("unit_code")?,
        hierarchy: text("hierarchy")?,
        day: r.try_get("day").map_err(from_sqlx)?,
        figures: parse_json_text(&text("figures")?, "figures")?,
        submitted_by: text("submitted_by")?,
        submitted_at: r.try_get("submitted_at").map_err(from_sqlx)?,
    })
}

/// Appends ` AND …` restricting case rows (or counter rows) to a scope by their unit columns.
pub(crate) fn push_case_scope<'args, DB>(qb: &mut QueryBuilder<'args, DB>, scope: &PersonScope)
where
    DB: Database,
    String: Encode<'args, DB> + Type<DB>,
{
    let (column, codes) = match scope {
        PersonScope::All => return,
        PersonScope::Province(p) => {
            qb.push(" AND province_code = ").push_bind(p.clone());
            return;
        }
        PersonScope::Communes(c) => ("commune_code", c),
        PersonScope::OldCommunes(c) => ("old_commune_code", c),
    };
    crate::sql::push_in(qb, column, codes);
}

/// Appends the filter, order and page of a case list.
pub(crate) fn push_case_where<'args, DB>(qb: &mut QueryBuilder<'args, DB>, q: &CaseQuery)
where
    DB: Database,
    String: Encode<'args, DB> + Type<DB>,
    NaiveDate: Encode<'args, DB> + Type<DB>,
{
    qb.push(" WHERE 1=1");
    push_case_scope(qb, &q.scope);
    if let Some(status) = q.status {
        qb.push(" AND status = ")
            .push_bind(status.as_str().to_string());
    }
    if let Some(from) = q.from {
        qb.push(" AND first_positive >= ").push_bind(from);
    }
    if let Some(to) = q.to {
        qb.push(" AND first_positive <= ").push_bind(to);
    }
}

/// Newest first (first positive, then id), paged.
pub(crate) fn push_case_page<'args, DB>(qb: &mut QueryBuilder<'args, DB>, q: &CaseQuery)
where
    DB: Database,
    i64: Encode<'args, DB> + Type<DB>,
{
    qb.push(" ORDER BY first_positive DESC, id DESC LIMIT ")
        .push_bind(i64::from(q.limit.min(PersonQuery::MAX_LIMIT)))
        .push(" OFFSET ")
        .push_bind(i64::try_from(q.offset).unwrap_or(i64::MAX));
}

/// The ranking columns of the alert queue's candidates ([`AlertCandidate`]); append a scope
/// filter, then [`ALERT_CONDITION`]. The stored risk group is read only where the age may come
/// from it: no birth date, or one after the first positive test (a birth date in the future).
pub(crate) const ALERT_CANDIDATE_SELECT: &str = "SELECT id, alert, high_risk, dob, \
     CASE WHEN dob IS NULL OR dob > first_positive THEN CAST(risk AS TEXT) END AS risk, \
     first_positive, last_checkin_at, reported_at FROM cases WHERE 1=1";

/// Builds an [`AlertCandidate`] from a row of [`ALERT_CANDIDATE_SELECT`].
pub(crate) fn alert_candidate_from_row<'r, R>(r: &'r R, id: Uuid) -> crate::Result<AlertCandidate>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    Option<NaiveDate>: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    Option<DateTime<Utc>>: Decode<'r, R::Database> + Type<R::Database>,
{
    let risk = r
        .try_get::<Option<String>, _>("risk")
        .map_err(from_sqlx)?
        .map(|t| parse_json_text(&t, "risk"))
        .transpose()?
        .unwrap_or(serde_json::Value::Null);
    Ok(AlertCandidate {
        id,
        alert: parse_code(
            &r.try_get::<String, _>("alert").map_err(from_sqlx)?,
            AlertLevel::parse,
            "alert",
        )?,
        high_risk: r.try_get("high_risk").map_err(from_sqlx)?,
        dob: r.try_get("dob").map_err(from_sqlx)?,
        risk,
        first_positive: r.try_get("first_positive").map_err(from_sqlx)?,
        last_checkin_at: r.try_get("last_checkin_at").map_err(from_sqlx)?,
        reported_at: r.try_get("reported_at").map_err(from_sqlx)?,
    })
}

/// The alert-queue condition (append to a scope filter): open home-care cases with a stored
/// alert or a stale last contact (push the stale-before time after this text, then `)`).
pub(crate) const ALERT_CONDITION: &str = " AND status = 'open' AND care_setting = 'home' \
     AND (alert <> 'none' OR COALESCE(last_checkin_at, reported_at) < ";

/// Current-state counts of open cases, grouped (`severity, care_setting, on_oxygen, alert,
/// count`); append a scope filter. Discarded cases are not counted.
pub(crate) const OPEN_STATE_QUERY: &str = "SELECT severity, care_setting, on_oxygen, alert, \
     COUNT(*) AS n FROM cases WHERE status = 'open' AND classification <> 'discarded'";

/// Sums of the day's counters; push the day, then a scope filter. (`CAST`: PostgreSQL sums
/// bigints as numeric.)
pub(crate) const DAY_COUNTERS_QUERY: &str = "SELECT \
     CAST(COALESCE(SUM(tests), 0) AS BIGINT), CAST(COALESCE(SUM(positive_tests), 0) AS BIGINT), \
     CAST(COALESCE(SUM(new_cases), 0) AS BIGINT), CAST(COALESCE(SUM(deaths), 0) AS BIGINT), \
     CAST(COALESCE(SUM(recoveries), 0) AS BIGINT) FROM surveillance_daily WHERE day = ";

/// The query of [`CaseStore::daily_case_series`]: rows `(day, new_cases, imported)` for the days
/// of `[from, to]` with any — new cases summed from the counters (index on the scope's column
/// and `day`), imported cases counted from the case rows (index on the scope's column and
/// `first_positive`). A day may come in two rows; [`fold_case_series`] adds them up.
pub(crate) fn push_case_series_query<'args, DB>(
    qb: &mut QueryBuilder<'args, DB>,
    scope: &PersonScope,
    from: NaiveDate,
    to: NaiveDate,
) where
    DB: Database,
    String: Encode<'args, DB> + Type<DB>,
    NaiveDate: Encode<'args, DB> + Type<DB>,
{
    qb.push(
        "SELECT day, CAST(SUM(new_cases) AS BIGINT) AS new_cases, CAST(0 AS BIGINT) AS imported \
         FROM surveillance_daily WHERE new_cases <> 0 AND day >= ",
    )
    .push_bind(from)
    .push(" AND day <= ")
    .push_bind(to);
    push_case_scope(qb, scope);
    qb.push(
        " GROUP BY day UNION ALL \
         SELECT first_positive, CAST(0 AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM cases \
         WHERE detection_source = 'imported' AND classification <> 'discarded' \
         AND first_positive >= ",
    )
    .push_bind(from)
    .push(" AND first_positive <= ")
    .push_bind(to);
    push_case_scope(qb, scope);
    qb.push(" GROUP BY first_positive");
}

/// Refuses a series range that is reversed or longer than [`MAX_SERIES_DAYS`].
pub(crate) fn check_series_range(from: NaiveDate, to: NaiveDate) -> crate::Result<()> {
    let days = (to - from).num_days() + 1;
    if !(1..=MAX_SERIES_DAYS).contains(&days) {
        return Err(domain::Error::invalid(
            "to",
            format!("Khoảng ngày {from} – {to} không hợp lệ (1 đến {MAX_SERIES_DAYS} ngày)"),
            format!("date range {from} – {to} is invalid (1 to {MAX_SERIES_DAYS} days)"),
        ));
    }
    Ok(())
}

/// The series of `[from, to]` from the rows of [`push_case_series_query`] (zeros elsewhere).
pub(crate) fn fold_case_series(
    from: NaiveDate,
    to: NaiveDate,
    rows: Vec<(NaiveDate, i64, i64)>,
) -> DailyCaseSeries {
    let n = usize::try_from((to - from).num_days() + 1).unwrap_or(0);
    let mut s = DailyCaseSeries {
        from,
        to,
        new_cases: vec![0; n],
        imported: vec![0; n],
    };
    for (day, new_cases, imported) in rows {
        if let Ok(i) = usize::try_from((day - from).num_days())
            && i < n
        {
            s.new_cases[i] += new_cases;
            s.imported[i] += imported;
        }
    }
    s
}

/// Recomputed counters from lab tests and cases (`province, commune, old commune, day, tests,
/// positive tests, new cases, deaths, recoveries`), counted as [`Deltas::add_test`] and
/// [`Deltas::add_case`] count.
pub(crate) const RECOMPUTE_COUNTERS_QUERY: &str = "\
     SELECT province_code, commune_code, COALESCE(old_commune_code, '') AS old_commune_code, \
     sample_date AS day, CAST(COUNT(*) AS BIGINT) AS tests, \
     CAST(SUM(CASE WHEN result = 'positive' THEN 1 ELSE 0 END) AS BIGINT) AS positive_tests, \
     CAST(0 AS BIGINT) AS new_cases, CAST(0 AS BIGINT) AS deaths, \
     CAST(0 AS BIGINT) AS recoveries \
     FROM lab_tests GROUP BY 1, 2, 3, 4 \
     UNION ALL \
     SELECT province_code, commune_code, COALESCE(old_commune_code, ''), first_positive, \
     CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(COUNT(*) AS BIGINT), CAST(0 AS BIGINT), \
     CAST(0 AS BIGINT) \
     FROM cases WHERE classification <> 'discarded' GROUP BY 1, 2, 3, 4 \
     UNION ALL \
     SELECT province_code, commune_code, COALESCE(old_commune_code, ''), outcome_date, \
     CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), \
     CAST(SUM(CASE WHEN outcome = 'died' THEN 1 ELSE 0 END) AS BIGINT), \
     CAST(SUM(CASE WHEN outcome = 'recovered' THEN 1 ELSE 0 END) AS BIGINT) \
     FROM cases WHERE classification <> 'discarded' AND outcome IN ('died', 'recovered') \
     AND outcome_date IS NOT NULL GROUP BY 1, 2, 3, 4";

/// The row a counter is kept in: units and day (`old_commune` is `''` when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct CounterKey {
    pub province: String,
    pub commune: String,
    pub old_commune: String,
    pub day: NaiveDate,
}

impl CounterKey {
    fn of(units: &CaseUnits, day: NaiveDate) -> Self {
        CounterKey {
            province: units.province_code.clone(),
            commune: units.commune_code.clone(),
            old_commune: units.old_commune_code.clone().unwrap_or_default(),
            day,
        }
    }
}

/// The counters of one row (or increments to them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub tests: i64,
    pub positive_tests: i64,
    pub new_cases: i64,
    pub deaths: i64,
    pub recoveries: i64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.tests += o.tests;
        self.positive_tests += o.positive_tests;
        self.new_cases += o.new_cases;
        self.deaths += o.deaths;
        self.recoveries += o.recoveries;
    }

    fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// Counter increments aggregated per row before they are written.
#[derive(Debug, Default)]
pub(crate) struct Deltas(HashMap<CounterKey, Counts>);

impl Deltas {
    fn entry(&mut self, units: &CaseUnits, day: NaiveDate) -> &mut Counts {
        self.0.entry(CounterKey::of(units, day)).or_default()
    }

    /// A stored lab test: one test (and positive) on its sample date in its units.
    pub fn add_test(&mut self, t: &LabTest) {
        let c = self.entry(&t.units, t.sample_date);
        c.tests += 1;
        if t.result == TestResult::Positive {
            c.positive_tests += 1;
        }
    }

    /// What a case row counts (`sign` 1 to add it, -1 to take it back): a new case on its first
    /// positive, a death or recovery on its outcome date, all in its units; discarded cases are
    /// not counted.
    pub fn add_case(&mut self, case: &Case, sign: i64) {
        if case.classification == Classification::Discarded {
            return;
        }
        self.entry(&case.units, case.first_positive).new_cases += sign;
        if let (Some(outcome), Some(day)) = (case.outcome, case.outcome_date) {
            match outcome {
                Outcome::Died => self.entry(&case.units, day).deaths += sign,
                Outcome::Recovered => self.entry(&case.units, day).recoveries += sign,
                Outcome::TransferredOut => {}
            }
        }
    }

    /// The non-zero increments, sorted by row (a stable lock order for concurrent writers).
    pub fn into_sorted(self) -> Vec<(CounterKey, Counts)> {
        let mut v: Vec<(CounterKey, Counts)> =
            self.0.into_iter().filter(|(_, c)| !c.is_zero()).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Sums counter rows per key, leaving out all-zero rows.
pub(crate) fn sum_counters(rows: Vec<(CounterKey, Counts)>) -> HashMap<CounterKey, Counts> {
    let mut out: HashMap<CounterKey, Counts> = HashMap::with_capacity(rows.len());
    for (k, c) in rows {
        out.entry(k).or_default().add(&c);
    }
    out.retain(|_, c| !c.is_zero());
    out
}

/// Number of rows whose counters differ between two sets (a missing row counts as zeros).
pub(crate) fn count_differences(
    stored: &HashMap<CounterKey, Counts>,
    fresh: &HashMap<CounterKey, Counts>,
) -> u64 {
    let zero = Counts::default();
    let keys: HashSet<&CounterKey> = stored.keys().chain(fresh.keys()).collect();
    keys.into_iter()
        .filter(|k| stored.get(*k).unwrap_or(&zero) != fresh.get(*k).unwrap_or(&zero))
        .count() as u64
}

/// A case's further positives of one batch, folded: the latest sample date, whether any was
/// RT-PCR, and how many changes they were.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PositiveUpdate {
    pub case_id: Uuid,
    pub sample_date: NaiveDate,
    pub rt_pcr: bool,
    pub changes: u64,
}

/// The changes of a batch that apply (their record was inserted): the cases to open, and the
/// positives folded per case (sorted by case id).
pub(crate) fn applicable_changes<'a>(
    changes: &'a [CaseChange],
    inserted: &HashSet<Uuid>,
) -> (Vec<&'a Case>, Vec<PositiveUpdate>) {
    let mut opens = Vec::new();
    let mut positives: HashMap<Uuid, PositiveUpdate> = HashMap::new();
    for change in changes {
        match change {
            CaseChange::Open(case) if inserted.contains(&case.source_record_id) => {
                opens.push(case);
            }
            CaseChange::Positive {
                case_id,
                record_id,
                sample_date,
                test_type,
            } if inserted.contains(record_id) => {
                let p = positives.entry(*case_id).or_insert(PositiveUpdate {
                    case_id: *case_id,
                    sample_date: *sample_date,
                    rt_pcr: false,
                    changes: 0,
                });
                p.sample_date = p.sample_date.max(*sample_date);
                p.rt_pcr |= *test_type == TestType::RtPcr;
                p.changes += 1;
            }
            _ => {}
        }
    }
    let mut positives: Vec<PositiveUpdate> = positives.into_values().collect();
    positives.sort_by_key(|p| p.case_id);
    (opens, positives)
}

/// Folds current-state rows `(severity, care setting, on oxygen, alert, count)` into figures.
pub(crate) fn fold_open_state(
    figures: &mut DailyFigures,
    rows: Vec<(String, String, bool, String, i64)>,
) -> crate::Result<()> {
    let mut by_severity: Vec<(String, i64)> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    let mut by_setting: Vec<(String, i64)> = CareSetting::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for (severity, setting, oxygen, alert, n) in rows {
        let severity = parse_code(&severity, Severity::parse, "severity")?;
        let setting = parse_code(&setting, CareSetting::parse, "care_setting")?;
        let alert = parse_code(&alert, AlertLevel::parse, "alert")?;
        if let Some(slot) = by_severity.iter_mut().find(|s| s.0 == severity.as_str()) {
            slot.1 += n;
        }
        if let Some(slot) = by_setting.iter_mut().find(|s| s.0 == setting.as_str()) {
            slot.1 += n;
        }
        if oxygen {
            figures.on_oxygen += n;
        }
        if setting == CareSetting::Home {
            figures.open_home_care += n;
        }
        if matches!(alert, AlertLevel::Warning | AlertLevel::Emergency) {
            figures.alerts += n;
        }
    }
    figures.open_by_severity = by_severity;
    figures.open_by_care_setting = by_setting;
    Ok(())
}

/// The error of an update of a case that is not stored.
pub(crate) fn case_not_found(id: Uuid) -> domain::Error {
    domain::Error::not_found("ca bệnh", "Case")
        .with_details(serde_json::json!({ "case_id": id.to_string() }))
}

/// Checks what a check-in and a daily report must satisfy before anything is written.
pub(crate) fn check_checkin(checkin: &CheckIn, case: &Case) -> crate::Result<()> {
    if checkin.case_id != case.id {
        return Err(domain::Error::invalid(
            "case_id",
            "Lượt theo dõi không thuộc ca bệnh này",
            "The check-in belongs to another case",
        ));
    }
    Ok(())
}

pub(crate) fn check_report(report: &DailyReport) -> crate::Result<()> {
    domain::units::UnitVersion::parse(&report.hierarchy)?;
    Ok(())
}

// ---- sqlite ------------------------------------------------------------------------------------

/// Rows per multi-row statement, by columns a row (SQLite allows 32,766 variables).
const CASE_CHUNK: usize = 800;
const TEST_CHUNK: usize = 2000;
const COUNTER_CHUNK: usize = 3000;
const ID_CHUNK: usize = 1000;

fn parse_uuid(s: &str) -> crate::Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| corrupt("uuid", s))
}

fn opt_uuid(r: &sqlx::sqlite::SqliteRow, column: &str) -> crate::Result<Option<Uuid>> {
    r.try_get::<Option<String>, _>(column)
        .map_err(from_sqlx)?
        .as_deref()
        .map(parse_uuid)
        .transpose()
}

fn uuid(r: &sqlx::sqlite::SqliteRow, column: &str) -> crate::Result<Uuid> {
    parse_uuid(&r.try_get::<String, _>(column).map_err(from_sqlx)?)
}

fn sqlite_case(r: &sqlx::sqlite::SqliteRow) -> crate::Result<Case> {
    case_from_row(
        r,
        CaseIds {
            id: uuid(r, "id")?,
            person_id: opt_uuid(r, "person_id")?,
            source_record_id: uuid(r, "source_record_id")?,
            cluster_id: opt_uuid(r, "cluster_id")?,
        },
    )
}

fn sqlite_lab_test(r: &sqlx::sqlite::SqliteRow) -> crate::Result<LabTest> {
    lab_test_from_row(
        r,
        (
            uuid(r, "id")?,
            opt_uuid(r, "person_id")?,
            opt_uuid(r, "case_id")?,
            opt_uuid(r, "sample_id")?,
        ),
    )
}

fn case_select() -> String {
    format!("SELECT {} FROM cases", case_columns(|c| c.to_string()))
}

/// Pushes the bind values of a case in [`CASE_COLUMN_NAMES`] order, skipping `skip` columns.
fn bind_case_values<'q>(
    mut b: sqlx::query_builder::Separated<'_, 'q, Sqlite, &'static str>,
    c: &'q Case,
    full: bool,
) {
    if full {
        b.push_bind(c.id.to_string());
    }
    b.push_bind(&c.units.province_code)
        .push_bind(&c.units.commune_code)
        .push_bind(&c.units.old_commune_code)
        .push_bind(&c.units.old_district_code)
        .push_bind(&c.units.old_province_code)
        .push_bind(c.person_id.map(|p| p.to_string()));
    if full {
        b.push_bind(c.source_record_id.to_string());
    }
    b.push_bind(&c.full_name)
        .push_bind(c.dob)
        .push_bind(&c.sex)
        .push_bind(&c.phone)
        .push_bind(c.status.as_str())
        .push_bind(c.classification.as_str())
        .push_bind(c.first_positive)
        .push_bind(c.last_positive)
        .push_bind(c.onset)
        .push_bind(c.detection_source.as_str())
        .push_bind(c.risk.to_string())
        .push_bind(c.high_risk)
        .push_bind(c.severity.as_str())
        .push_bind(c.care_setting.as_str())
        .push_bind(c.on_oxygen)
        .push_bind(c.outcome.map(|o| o.as_str()))
        .push_bind(c.outcome_date)
        .push_bind(c.isolation_end)
        .push_bind(c.followup_until)
        .push_bind(&c.disease_group)
        .push_bind(micros(c.reported_at))
        .push_bind(micros(c.report_deadline))
        .push_bind(c.report_met)
        .push_bind(c.last_checkin_at.map(micros))
        .push_bind(c.alert.as_str())
        .push_bind(c.alert_reasons.to_string())
        .push_bind(&c.ruleset)
        .push_bind(c.cluster_id.map(|p| p.to_string()));
    b.push_bind(&c.note);
    if full {
        b.push_bind(micros(c.created_at));
    }
    b.push_bind(micros(c.updated_at));
}

/// Adds counter increments (already aggregated per row).
async fn apply_deltas(conn: &mut SqliteConnection, deltas: Deltas) -> crate::Result<()> {
    let rows = deltas.into_sorted();
    for chunk in rows.chunks(COUNTER_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO surveillance_daily (province_code, commune_code, old_commune_code, day, \
             tests, positive_tests, new_cases, deaths, recoveries) ",
        );
        qb.push_values(chunk, |mut b, (k, c)| {
            b.push_bind(&k.province)
                .push_bind(&k.commune)
                .push_bind(&k.old_commune)
                .push_bind(k.day)
                .push_bind(c.tests)
                .push_bind(c.positive_tests)
                .push_bind(c.new_cases)
                .push_bind(c.deaths)
                .push_bind(c.recoveries);
        });
        qb.push(
            " ON CONFLICT (province_code, commune_code, old_commune_code, day) DO UPDATE SET \
             tests = tests + excluded.tests, \
             positive_tests = positive_tests + excluded.positive_tests, \
             new_cases = new_cases + excluded.new_cases, deaths = deaths + excluded.deaths, \
             recoveries = recoveries + excluded.recoveries",
        );
        qb.build().execute(&mut *conn).await.map_err(from_sqlx)?;
    }
    Ok(())
}

/// Replaces a stored case (every field but id, source record, created_at) and moves its
/// counters, in the caller's transaction.
async fn update_case_in_tx(conn: &mut SqliteConnection, case: &Case) -> crate::Result<()> {
    let row = sqlx::query(&format!("{} WHERE id = $1", case_select()))
        .bind(case.id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    let Some(row) = row else {
        return Err(case_not_found(case.id));
    };
    let old = sqlite_case(&row)?;
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "UPDATE cases SET ({}) = (",
        CASE_COLUMN_NAMES
            .iter()
            .filter(|c| !matches!(**c, "id" | "source_record_id" | "created_at"))
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    ));
    bind_case_values(qb.separated(", "), case, false);
    qb.push(") WHERE id = ").push_bind(case.id.to_string());
    qb.build().execute(&mut *conn).await.map_err(from_sqlx)?;
    let mut deltas = Deltas::default();
    deltas.add_case(&old, -1);
    deltas.add_case(case, 1);
    apply_deltas(conn, deltas).await
}

#[async_trait]
impl CaseStore for SqliteStore {
    async fn insert_test_batch(
        &self,
        batch: &TestBatch,
        audit: Option<&NewAuditEntry>,
    ) -> crate::Result<TestBatchOutcome> {
        let mut tx = self.begin_audited().await?;
        let inserted = insert_decided_in_tx(&mut tx, &batch.records, &batch.decisions).await?;
        let mut outcome = TestBatchOutcome {
            inserted: batch
                .records
                .iter()
                .map(|r| r.id)
                .filter(|id| inserted.contains(id))
                .collect(),
            ..TestBatchOutcome::default()
        };
        let mut deltas = Deltas::default();
        let (opens, positives) = applicable_changes(&batch.changes, &inserted);
        for chunk in opens.chunks(CASE_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "INSERT INTO cases ({}) ",
                case_insert_columns()
            ));
            qb.push_values(chunk, |b, c| bind_case_values(b, c, true));
            qb.push(" ON CONFLICT DO NOTHING RETURNING id");
            let created: HashSet<String> = qb
                .build_query_scalar()
                .fetch_all(&mut *tx)
                .await
                .map_err(from_sqlx)?
                .into_iter()
                .collect();
            for c in chunk {
                if created.contains(&c.id.to_string()) {
                    deltas.add_case(c, 1);
                    outcome.cases_created += 1;
                }
            }
        }
        let now = micros(Utc::now());
        for chunk in positives.chunks(ID_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE cases SET last_positive = MAX(last_positive, t.column2), \
                 classification = CASE WHEN t.column3 = 1 AND classification = 'probable' \
                 THEN 'confirmed' ELSE classification END, updated_at = ",
            );
            qb.push_bind(now).push(" FROM (");
            qb.push_values(chunk, |mut b, p| {
                b.push_bind(p.case_id.to_string())
                    .push_bind(p.sample_date)
                    .push_bind(p.rt_pcr);
            });
            qb.push(") AS t WHERE cases.id = t.column1 RETURNING cases.id");
            let updated: HashSet<String> = qb
                .build_query_scalar()
                .fetch_all(&mut *tx)
                .await
                .map_err(from_sqlx)?
                .into_iter()
                .collect();
            outcome.cases_updated += chunk
                .iter()
                .filter(|p| updated.contains(&p.case_id.to_string()))
                .map(|p| p.changes)
                .sum::<u64>();
        }
        let tests: Vec<&LabTest> = batch
            .tests
            .iter()
            .filter(|t| inserted.contains(&t.id))
            .collect();
        for chunk in tests.chunks(TEST_CHUNK) {
            let mut qb =
                QueryBuilder::<Sqlite>::new(format!("INSERT INTO lab_tests ({LAB_TEST_COLUMNS}) "));
            qb.push_values(chunk, |mut b, t| {
                b.push_bind(t.id.to_string())
                    .push_bind(&t.units.province_code)
                    .push_bind(&t.units.commune_code)
                    .push_bind(&t.units.old_commune_code)
                    .push_bind(&t.units.old_district_code)
                    .push_bind(&t.units.old_province_code)
                    .push_bind(t.person_id.map(|p| p.to_string()))
                    .push_bind(&t.lab_code)
                    .push_bind(t.sample_date)
                    .push_bind(t.test_type.as_str())
                    .push_bind(t.result.as_str())
                    .push_bind(t.case_id.map(|p| p.to_string()))
                    .push_bind(t.sample_id.map(|p| p.to_string()))
                    .push_bind(micros(t.received_at));
            });
            qb.build().execute(&mut *tx).await.map_err(from_sqlx)?;
            for t in chunk {
                deltas.add_test(t);
            }
        }
        apply_deltas(&mut tx, deltas).await?;
        if let Some(audit) = audit {
            append_in_tx(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(outcome)
    }

    async fn lab_test(&self, id: Uuid) -> crate::Result<Option<LabTest>> {
        let row = sqlx::query(&format!(
            "SELECT {LAB_TEST_COLUMNS} FROM lab_tests WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(from_sqlx)?;
        row.as_ref().map(sqlite_lab_test).transpose()
    }

    async fn lab_tests_of_person(&self, person: Uuid) -> crate::Result<Vec<LabTest>> {
        sqlx::query(&format!(
            "SELECT {LAB_TEST_COLUMNS} FROM lab_tests WHERE person_id = $1 \
             ORDER BY sample_date DESC, received_at DESC, id DESC"
        ))
        .bind(person.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(sqlite_lab_test)
        .collect()
    }

    async fn lab_tests_of_case(&self, case_id: Uuid) -> crate::Result<Vec<LabTest>> {
        sqlx::query(&format!(
            "SELECT {LAB_TEST_COLUMNS} FROM lab_tests WHERE case_id = $1 \
             ORDER BY sample_date, received_at, id"
        ))
        .bind(case_id.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(sqlite_lab_test)
        .collect()
    }

    async fn case(&self, id: Uuid) -> crate::Result<Option<Case>> {
        let row = sqlx::query(&format!("{} WHERE id = $1", case_select()))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(from_sqlx)?;
        row.as_ref().map(sqlite_case).transpose()
    }

    async fn latest_cases_of_persons(&self, persons: &[Uuid]) -> crate::Result<Vec<Case>> {
        let mut out = Vec::new();
        for chunk in crate::sql::distinct(persons).chunks(ID_CHUNK) {
            let ids: Vec<String> = chunk.iter().map(Uuid::to_string).collect();
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY person_id \
                 ORDER BY first_positive DESC, id DESC) AS latest FROM cases WHERE 1=1",
                case_columns(|c| c.to_string())
            ));
            crate::sql::push_in(&mut qb, "person_id", &ids);
            qb.push(") WHERE latest = 1");
            for r in qb.build().fetch_all(self.pool()).await.map_err(from_sqlx)? {
                out.push(sqlite_case(&r)?);
            }
        }
        Ok(out)
    }

    async fn cases_of_person(&self, person: Uuid) -> crate::Result<Vec<Case>> {
        sqlx::query(&format!(
            "{} WHERE person_id = $1 ORDER BY first_positive DESC, id DESC",
            case_select()
        ))
        .bind(person.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(sqlite_case)
        .collect()
    }

    async fn list_cases(&self, q: &CaseQuery) -> crate::Result<Page<Case>> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM cases");
        push_case_where(&mut count, q);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(self.pool())
            .await
            .map_err(from_sqlx)?;
        let mut list = QueryBuilder::<Sqlite>::new(case_select());
        push_case_where(&mut list, q);
        push_case_page(&mut list, q);
        let items = list
            .build()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?
            .iter()
            .map(sqlite_case)
            .collect::<crate::Result<_>>()?;
        Ok(Page {
            items,
            total: total.max(0) as u64,
        })
    }

    async fn update_case(&self, case: &Case, audit: &NewAuditEntry) -> crate::Result<()> {
        let mut tx = self.begin_audited().await?;
        update_case_in_tx(&mut tx, case).await?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn add_checkin(
        &self,
        checkin: &CheckIn,
        case: &Case,
        audit: &NewAuditEntry,
    ) -> crate::Result<()> {
        check_checkin(checkin, case)?;
        let mut tx = self.begin_audited().await?;
        update_case_in_tx(&mut tx, case).await?;
        sqlx::query(
            "INSERT INTO case_checkins (id, case_id, province_code, at, checked_by, vitals, \
             assessment, escalate, severity, alert) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(checkin.id.to_string())
        .bind(checkin.case_id.to_string())
        .bind(&checkin.province_code)
        .bind(micros(checkin.at))
        .bind(&checkin.by)
        .bind(checkin.vitals.to_string())
        .bind(checkin.assessment.to_string())
        .bind(checkin.escalate)
        .bind(checkin.severity.as_str())
        .bind(checkin.alert.as_str())
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn checkins(&self, case_id: Uuid, limit: u32) -> crate::Result<Vec<CheckIn>> {
        sqlx::query(
            "SELECT id, case_id, province_code, at, checked_by, vitals, assessment, escalate, \
             severity, alert FROM case_checkins WHERE case_id = $1 \
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(case_id.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(|r| checkin_from_row(r, uuid(r, "id")?, uuid(r, "case_id")?))
        .collect()
    }

    async fn alert_candidates(
        &self,
        scope: &PersonScope,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> crate::Result<Vec<AlertCandidate>> {
        let mut qb = QueryBuilder::<Sqlite>::new(ALERT_CANDIDATE_SELECT);
        push_case_scope(&mut qb, scope);
        qb.push(ALERT_CONDITION)
            .push_bind(micros(stale_before))
            .push(") LIMIT ")
            .push_bind(i64::from(limit));
        qb.build()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?
            .iter()
            .map(|r| alert_candidate_from_row(r, uuid(r, "id")?))
            .collect()
    }

    async fn cases_of_cluster(&self, cluster_id: Uuid) -> crate::Result<Vec<Case>> {
        sqlx::query(&format!(
            "{} WHERE cluster_id = $1 ORDER BY first_positive, id",
            case_select()
        ))
        .bind(cluster_id.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(sqlite_case)
        .collect()
    }

    async fn cases_by_ids(&self, ids: &[Uuid]) -> crate::Result<Vec<Case>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in crate::sql::distinct(ids).chunks(ID_CHUNK) {
            let ids: Vec<String> = chunk.iter().map(Uuid::to_string).collect();
            let mut qb = QueryBuilder::<Sqlite>::new(format!("{} WHERE 1=1", case_select()));
            crate::sql::push_in(&mut qb, "id", &ids);
            for r in qb.build().fetch_all(self.pool()).await.map_err(from_sqlx)? {
                out.push(sqlite_case(&r)?);
            }
        }
        Ok(out)
    }

    async fn daily_figures(
        &self,
        scope: &PersonScope,
        day: NaiveDate,
    ) -> crate::Result<DailyFigures> {
        let mut qb = QueryBuilder::<Sqlite>::new(DAY_COUNTERS_QUERY);
        qb.push_bind(day);
        push_case_scope(&mut qb, scope);
        let (tests, positive_tests, new_cases, deaths, recoveries): (i64, i64, i64, i64, i64) = qb
            .build_query_as()
            .fetch_one(self.pool())
            .await
            .map_err(from_sqlx)?;
        let mut figures = DailyFigures {
            day,
            tests,
            positive_tests,
            new_cases,
            deaths,
            recoveries,
            ..DailyFigures::default()
        };
        let mut qb = QueryBuilder::<Sqlite>::new(OPEN_STATE_QUERY);
        push_case_scope(&mut qb, scope);
        qb.push(" GROUP BY severity, care_setting, on_oxygen, alert");
        let rows: Vec<(String, String, bool, String, i64)> = qb
            .build_query_as()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?;
        fold_open_state(&mut figures, rows)?;
        Ok(figures)
    }

    async fn daily_case_series(
        &self,
        scope: &PersonScope,
        from: NaiveDate,
        to: NaiveDate,
    ) -> crate::Result<DailyCaseSeries> {
        check_series_range(from, to)?;
        let mut qb = QueryBuilder::<Sqlite>::new("");
        push_case_series_query(&mut qb, scope, from, to);
        let rows: Vec<(NaiveDate, i64, i64)> = qb
            .build_query_as()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?;
        Ok(fold_case_series(from, to, rows))
    }

    async fn submit_daily_report(
        &self,
        report: &DailyReport,
        audit: &NewAuditEntry,
    ) -> crate::Result<()> {
        check_report(report)?;
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO daily_reports (unit_code, hierarchy, day, figures, submitted_by, \
             submitted_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (unit_code, hierarchy, day) DO UPDATE SET figures = excluded.figures, \
             submitted_by = excluded.submitted_by, submitted_at = excluded.submitted_at",
        )
        .bind(&report.unit_code)
        .bind(&report.hierarchy)
        .bind(report.day)
        .bind(report.figures.to_string())
        .bind(&report.submitted_by)
        .bind(micros(report.submitted_at))
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn daily_reports(
        &self,
        day: NaiveDate,
        units: Option<&[String]>,
    ) -> crate::Result<Vec<DailyReport>> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT unit_code, hierarchy, day, figures, submitted_by, submitted_at \
             FROM daily_reports WHERE day = ",
        );
        qb.push_bind(day);
        if let Some(units) = units {
            crate::sql::push_in(&mut qb, "unit_code", units);
        }
        qb.push(" ORDER BY unit_code, hierarchy");
        qb.build()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?
            .iter()
            .map(report_from_row)
            .collect()
    }

    async fn rebuild_daily_counters(&self, write: bool) -> crate::Result<u64> {
        // Writers wait (BEGIN IMMEDIATE): the comparison sees one consistent state.
        let mut tx = self.begin_audited().await?;
        let read = |sql: &'static str| sqlx::query_as::<_, CounterRow>(sql);
        let stored = read(
            "SELECT province_code, commune_code, old_commune_code, day, tests, positive_tests, \
             new_cases, deaths, recoveries FROM surveillance_daily",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let fresh = read(RECOMPUTE_COUNTERS_QUERY)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let stored = sum_counters(stored.into_iter().map(counter_row).collect());
        let fresh = sum_counters(fresh.into_iter().map(counter_row).collect());
        let differing = count_differences(&stored, &fresh);
        if write && differing > 0 {
            sqlx::query("DELETE FROM surveillance_daily")
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            apply_deltas(&mut tx, Deltas::from(fresh)).await?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(differing)
    }
}

/// A counter row as read: `(province, commune, old commune, day, tests, positives, new cases,
/// deaths, recoveries)`.
pub(crate) type CounterRow = (String, String, String, NaiveDate, i64, i64, i64, i64, i64);

pub(crate) fn counter_row(
    (province, commune, old_commune, day, tests, positive_tests, new_cases, deaths, recoveries): CounterRow,
) -> (CounterKey, Counts) {
    (
        CounterKey {
            province,
            commune,
            old_commune,
            day,
        },
        Counts {
            tests,
            positive_tests,
            new_cases,
            deaths,
            recoveries,
        },
    )
}

/// Replacement counters for [`Deltas`] built from a full recomputation.
impl From<HashMap<CounterKey, Counts>> for Deltas {
    fn from(map: HashMap<CounterKey, Counts>) -> Self {
        Deltas(map)
    }
}
