//! Types and contract of epidemic-level storage (migration `0010_levels`): weekly assessment
//! runs (one province, one hierarchy, one week; proposed by a computation, approved by the
//! province, in force from `effective_at`), the level of every unit in a run with the indicators
//! it rests on, capacity figures typed by staff, and the weekly case counts per commune the
//! assessment reads.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::units::UnitVersion;
use domain::{Error, ErrorCode};
use serde::Serialize;
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use crate::Result;
use crate::error::from_sqlx;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Computed, waiting for the province's approval; not public.
    Proposed,
    /// Approved: public, in force from `effective_at` until a later approved run of the province.
    Approved,
    /// Replaced by a later approval of the same week.
    Superseded,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Proposed => "proposed",
            RunStatus::Approved => "approved",
            RunStatus::Superseded => "superseded",
        }
    }

    pub fn parse(raw: &str) -> Result<Self> {
        match raw {
            "proposed" => Ok(RunStatus::Proposed),
            "approved" => Ok(RunStatus::Approved),
            "superseded" => Ok(RunStatus::Superseded),
            other => Err(corrupt("level_runs.status", other)),
        }
    }
}

/// One weekly assessment of a province's units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelRun {
    pub id: Uuid,
    pub province_code: String,
    pub hierarchy: UnitVersion,
    /// First and last day of the assessed week (Monday to Sunday).
    pub week_start: NaiveDate,
    pub week_end: NaiveDate,
    /// The ruleset id (`domain::epidemic_level`).
    pub ruleset: String,
    pub computed_at: DateTime<Utc>,
    pub computed_by: String,
    /// When the levels take effect once approved (announced 48 h ahead).
    pub effective_at: DateTime<Utc>,
    pub status: RunStatus,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    /// Units assessed and, of them, units meeting the crisis scenario.
    pub units: i64,
    pub crisis_units: i64,
}

/// The level of one unit in a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitAssessment {
    pub run_id: Uuid,
    pub unit_code: String,
    /// `commune`, `district` or `province`.
    pub unit_kind: String,
    /// The unit above ('' for the province).
    pub parent_code: String,
    pub unit_name: String,
    pub level: u8,
    pub crisis: bool,
    /// Whether the level rests on a number or rule not verified against the legal text.
    pub unverified: bool,
    /// The inputs used (`domain::epidemic_level::Indicators` with their sources).
    pub indicators: serde_json::Value,
    /// The full result (`domain::epidemic_level::Assessment`).
    pub assessment: serde_json::Value,
}

/// Capacity figures of a unit for a week, typed by staff (no facility reports yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityInput {
    pub unit_code: String,
    pub week_start: NaiveDate,
    pub free_covid_beds: Option<f64>,
    pub icu_beds_staffed: Option<f64>,
    /// Average number of cases on oxygen over the last 7 days, when counted outside the system.
    pub oxygen_cases_7d_avg: Option<f64>,
    pub entered_by: String,
    pub entered_at: DateTime<Utc>,
}

/// Case counts of one commune over a period, from the case records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommuneCaseCounts {
    /// The commune of residence in the hierarchy asked for.
    pub commune_code: String,
    /// Cases first positive in the period, not discarded.
    pub new_cases: i64,
    /// Of them, detected in the community (not imported, not already in quarantine).
    pub community_cases: i64,
    /// Deaths dated in the period.
    pub deaths: i64,
    /// Open cases on oxygen now (current state, not a 7-day average).
    pub on_oxygen_now: i64,
}

/// Epidemic-level storage, implemented by both backends.
#[async_trait]
pub trait LevelStore: Send + Sync {
    /// Case counts per commune of residence of a province (in `hierarchy`: the 2025 commune or
    /// the pre-2025 one) for cases first positive, and deaths dated, in `from..=to`. Communes
    /// without cases are left out.
    async fn commune_case_counts(
        &self,
        province_code: &str,
        hierarchy: UnitVersion,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CommuneCaseCounts>>;

    /// Stores a run and its units with the audit entry, in one transaction. A proposed run of
    /// the same province, hierarchy and week is replaced (approved ones are kept).
    async fn save_level_run(
        &self,
        run: &LevelRun,
        units: &[UnitAssessment],
        audit: &NewAuditEntry,
    ) -> Result<()>;

    /// Runs, newest computation first, of one province or all.
    async fn level_runs(&self, province_code: Option<&str>, limit: i64) -> Result<Vec<LevelRun>>;

    async fn level_run(&self, id: Uuid) -> Result<Option<LevelRun>>;

    /// The units of a run, in unit code order.
    async fn level_units(&self, run_id: Uuid) -> Result<Vec<UnitAssessment>>;

    /// Approves a proposed run, to take effect at `effective_at`; an approved run of the same
    /// province, hierarchy and week becomes superseded. Refused (`conflict`) when the run is not
    /// proposed.
    async fn approve_level_run(
        &self,
        id: Uuid,
        by: &str,
        at: DateTime<Utc>,
        effective_at: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> Result<LevelRun>;

    /// Stores (or replaces) a unit's capacity figures for a week.
    async fn set_capacity_input(&self, input: &CapacityInput, audit: &NewAuditEntry) -> Result<()>;

    /// Capacity figures of a week for these units.
    async fn capacity_inputs(
        &self,
        week_start: NaiveDate,
        units: &[String],
    ) -> Result<Vec<CapacityInput>>;
}

// SQL shared by both backends (`sqlite_levels.rs`, `postgres_levels.rs`).

pub(crate) const RUN_COLUMNS: &str = "id, province_code, hierarchy, week_start, week_end, ruleset, \
     computed_at, computed_by, effective_at, status, approved_by, approved_at, units, crisis_units";

pub(crate) const UNIT_COLUMNS: &str = "run_id, unit_code, unit_kind, parent_code, unit_name, level, crisis, \
     unverified, indicators, assessment";

/// Deletes the units of the proposed run of a province, hierarchy and week ($1–$3).
pub(crate) const DELETE_PROPOSED_UNITS: &str = "DELETE FROM level_assessments WHERE run_id IN (SELECT id FROM level_runs \
             WHERE province_code = $1 AND hierarchy = $2 AND week_start = $3 AND status = 'proposed')";

/// Deletes the proposed run of a province, hierarchy and week ($1–$3).
pub(crate) const DELETE_PROPOSED_RUNS: &str = "DELETE FROM level_runs WHERE province_code = $1 AND hierarchy = $2 \
             AND week_start = $3 AND status = 'proposed'";

/// Supersedes the approved run of a province, hierarchy and week ($1–$3).
pub(crate) const SUPERSEDE_APPROVED: &str = "UPDATE level_runs SET status = 'superseded' WHERE province_code = $1 \
             AND hierarchy = $2 AND week_start = $3 AND status = 'approved'";

/// Approves run $1 by $2 at $3, in force from $4.
pub(crate) const APPROVE_RUN: &str = "UPDATE level_runs SET status = 'approved', approved_by = $2, approved_at = $3, \
             effective_at = $4 WHERE id = $1";

/// Stores or replaces a unit's capacity figures for a week.
pub(crate) const UPSERT_CAPACITY: &str = "INSERT INTO capacity_inputs (unit_code, week_start, free_covid_beds, \
             icu_beds_staffed, oxygen_cases_7d_avg, entered_by, entered_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (unit_code, week_start) DO UPDATE SET \
             free_covid_beds = excluded.free_covid_beds, icu_beds_staffed = excluded.icu_beds_staffed, \
             oxygen_cases_7d_avg = excluded.oxygen_cases_7d_avg, entered_by = excluded.entered_by, \
             entered_at = excluded.entered_at";

/// Case counts per commune of a province ($1) for cases first positive, and deaths dated, in
/// $2..=$3 (new cases by first positive; deaths by outcome date; oxygen from the current state).
/// `on_oxygen` is the backend's test of the boolean column.
pub(crate) fn commune_counts_sql(hierarchy: UnitVersion, on_oxygen: &str) -> String {
    let (commune, province) = match hierarchy {
        UnitVersion::V2025 => ("commune_code", "province_code"),
        UnitVersion::Pre2025 => ("old_commune_code", "old_province_code"),
    };
    format!(
        "SELECT {commune} AS commune, \
           SUM(CASE WHEN first_positive BETWEEN $2 AND $3 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN first_positive BETWEEN $2 AND $3 \
                    AND detection_source = 'community' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN outcome = 'died' AND outcome_date BETWEEN $2 AND $3 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN status = 'open' AND {on_oxygen} THEN 1 ELSE 0 END) \
         FROM cases \
         WHERE {province} = $1 AND classification <> 'discarded' AND {commune} IS NOT NULL \
           AND (first_positive BETWEEN $2 AND $3 \
                OR (outcome = 'died' AND outcome_date BETWEEN $2 AND $3) \
                OR (status = 'open' AND {on_oxygen})) \
         GROUP BY {commune}"
    )
}

/// Logs a corrupt stored value and returns an internal error.
pub(crate) fn corrupt(column: &str, value: &str) -> Error {
    tracing::error!(column, value, "corrupt epidemic level row");
    Error::internal()
}

pub(crate) fn run_not_found(id: Uuid) -> Error {
    Error::not_found(
        &format!("lượt đánh giá cấp độ dịch {id}"),
        &format!("epidemic level run {id}"),
    )
}

pub(crate) fn run_not_proposed(run: &LevelRun) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!(
            "Lượt đánh giá này đã ở trạng thái «{}», không thể phê duyệt lại.",
            run.status.as_str()
        ),
        format!(
            "This run is already «{}» and cannot be approved.",
            run.status.as_str()
        ),
    )
}

/// Builds a [`LevelRun`] from a row of [`RUN_COLUMNS`]; `id` is decoded by the backend (text on
/// SQLite, `uuid` on PostgreSQL).
pub(crate) fn run_from_row<'r, R>(r: &'r R, id: Uuid) -> Result<LevelRun>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    Option<DateTime<Utc>>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let hierarchy: String = r.try_get("hierarchy").map_err(from_sqlx)?;
    let status: String = r.try_get("status").map_err(from_sqlx)?;
    Ok(LevelRun {
        id,
        province_code: r.try_get("province_code").map_err(from_sqlx)?,
        hierarchy: UnitVersion::parse(&hierarchy)
            .map_err(|_| corrupt("level_runs.hierarchy", &hierarchy))?,
        week_start: r.try_get("week_start").map_err(from_sqlx)?,
        week_end: r.try_get("week_end").map_err(from_sqlx)?,
        ruleset: r.try_get("ruleset").map_err(from_sqlx)?,
        computed_at: r.try_get("computed_at").map_err(from_sqlx)?,
        computed_by: r.try_get("computed_by").map_err(from_sqlx)?,
        effective_at: r.try_get("effective_at").map_err(from_sqlx)?,
        status: RunStatus::parse(&status)?,
        approved_by: r.try_get("approved_by").map_err(from_sqlx)?,
        approved_at: r.try_get("approved_at").map_err(from_sqlx)?,
        units: r.try_get("units").map_err(from_sqlx)?,
        crisis_units: r.try_get("crisis_units").map_err(from_sqlx)?,
    })
}

/// Builds a [`UnitAssessment`] from a row of the unit columns (JSON as text); the run id and the
/// level are decoded by the backend (their column types differ).
pub(crate) fn unit_from_row<'r, R>(r: &'r R, run_id: Uuid, level: i64) -> Result<UnitAssessment>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let json = |c: &str| -> Result<serde_json::Value> {
        let raw: String = r.try_get(c).map_err(from_sqlx)?;
        serde_json::from_str(&raw).map_err(|_| corrupt(c, &raw))
    };
    Ok(UnitAssessment {
        run_id,
        unit_code: r.try_get("unit_code").map_err(from_sqlx)?,
        unit_kind: r.try_get("unit_kind").map_err(from_sqlx)?,
        parent_code: r.try_get("parent_code").map_err(from_sqlx)?,
        unit_name: r.try_get("unit_name").map_err(from_sqlx)?,
        level: u8::try_from(level).map_err(|_| corrupt("level", &level.to_string()))?,
        crisis: r.try_get("crisis").map_err(from_sqlx)?,
        unverified: r.try_get("unverified").map_err(from_sqlx)?,
        indicators: json("indicators")?,
        assessment: json("assessment")?,
    })
}

/// The capacity inputs of a week; push the week, then a unit filter.
pub(crate) const CAPACITY_SELECT: &str = "SELECT unit_code, week_start, free_covid_beds, \
     icu_beds_staffed, oxygen_cases_7d_avg, entered_by, entered_at FROM capacity_inputs \
     WHERE week_start = ";

/// Builds a [`CapacityInput`] from a row of [`CAPACITY_SELECT`].
pub(crate) fn capacity_from_row<'r, R>(r: &'r R) -> Result<CapacityInput>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    Option<f64>: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(CapacityInput {
        unit_code: r.try_get("unit_code").map_err(from_sqlx)?,
        week_start: r.try_get("week_start").map_err(from_sqlx)?,
        free_covid_beds: r.try_get("free_covid_beds").map_err(from_sqlx)?,
        icu_beds_staffed: r.try_get("icu_beds_staffed").map_err(from_sqlx)?,
        oxygen_cases_7d_avg: r.try_get("oxygen_cases_7d_avg").map_err(from_sqlx)?,
        entered_by: r.try_get("entered_by").map_err(from_sqlx)?,
        entered_at: r.try_get("entered_at").map_err(from_sqlx)?,
    })
}
