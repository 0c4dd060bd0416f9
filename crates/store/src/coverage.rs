//! Vaccination coverage kept up to date in the write transaction.
//!
//! Every register person (not merged into another) has one [`PersonCoverage`] row: where they
//! live in both hierarchies, their birth date, the date they reached each coverage level
//! (computed by the schedule engine from their linked dose records) and their next dose. From
//! these rows the backends keep **counters** per unit (2025 province and commune; pre-2025
//! province, district and commune) × birth month × level ([`CounterKey`]). Any write that changes
//! a person's doses, residence or existence recomputes that person's row and applies the
//! difference to the counters ([`counter_deltas`]) in the same transaction.
//!
//! A coverage request ([`assemble_report`]) reads the unit's counters (at most ~1,300 birth
//! months × 5 levels) instead of dose records. Ages at the as-of date are exact: a birth month
//! where some age-group boundary falls, or that contains the as-of date, is counted from the
//! person rows of that month instead of the counter (tallied per birth date by the store, at most
//! 31 rows a month); persons who reached a level after the as-of date (only for past dates) are
//! taken back out, tallied per birth month by the store.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use domain::population::age_on;
use domain::schedule::{self, DoseEvent, Rules};
use domain::units::{AdminUnits, UnitLevel, UnitVersion};
use serde::Serialize;
use uuid::Uuid;

use crate::Result;

/// A coverage level counted per unit; `Population` is the denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Population,
    AtLeastOne,
    PrimaryComplete,
    Booster1,
    Booster2,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Population,
        Level::AtLeastOne,
        Level::PrimaryComplete,
        Level::Booster1,
        Level::Booster2,
    ];

    /// Stored form: `population`, `at_least_one`, `primary_complete`, `booster1`, `booster2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Population => "population",
            Level::AtLeastOne => "at_least_one",
            Level::PrimaryComplete => "primary_complete",
            Level::Booster1 => "booster1",
            Level::Booster2 => "booster2",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// The age groups of the coverage table: `(label, youngest, oldest)` in completed years.
pub const AGE_GROUPS: [(&str, u32, Option<u32>); 7] = [
    ("3-4", 3, Some(4)),
    ("5-11", 5, Some(11)),
    ("12-17", 12, Some(17)),
    ("18+", 18, None),
    ("50+", 50, None),
    ("65+", 65, None),
    ("all", 0, None),
];

/// One person's contribution to coverage (table `person_coverage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonCoverage {
    pub person_id: Uuid,
    pub province_code: String,
    pub commune_code: String,
    pub old_commune_code: Option<String>,
    pub old_district_code: Option<String>,
    pub old_province_code: Option<String>,
    pub dob: NaiveDate,
    /// Date of the first dose (level `at_least_one`).
    pub first_dose: Option<NaiveDate>,
    pub primary_complete: Option<NaiveDate>,
    pub booster1: Option<NaiveDate>,
    pub booster2: Option<NaiveDate>,
    /// Doses counted: valid dose records, a dose recorded twice (same day and product) once.
    pub doses: u32,
    /// Next dose due (`primary_2`, `booster_1`…) and its earliest date.
    pub next_kind: Option<String>,
    pub next_due: Option<NaiveDate>,
    /// The latest of the level dates (past as-of dates take back persons changed after them).
    pub last_change: Option<NaiveDate>,
}

impl PersonCoverage {
    /// The date the person reached `level` (`Population`: always, `Some(dob)`).
    pub fn level_date(&self, level: Level) -> Option<NaiveDate> {
        match level {
            Level::Population => Some(self.dob),
            Level::AtLeastOne => self.first_dose,
            Level::PrimaryComplete => self.primary_complete,
            Level::Booster1 => self.booster1,
            Level::Booster2 => self.booster2,
        }
    }

    /// The units whose counters include this person: `(hierarchy, unit_code)`.
    pub fn units(&self) -> Vec<(UnitVersion, &str)> {
        let mut out = vec![
            (UnitVersion::V2025, self.province_code.as_str()),
            (UnitVersion::V2025, self.commune_code.as_str()),
        ];
        for c in [
            &self.old_province_code,
            &self.old_district_code,
            &self.old_commune_code,
        ]
        .into_iter()
        .flatten()
        {
            out.push((UnitVersion::Pre2025, c.as_str()));
        }
        out
    }
}

impl PersonCoverage {
    /// Whether `other` is the same person in the same units with the same birth date (only the
    /// dose-derived columns may differ).
    fn same_place_and_birth(&self, other: &PersonCoverage) -> bool {
        self.person_id == other.person_id
            && self.province_code == other.province_code
            && self.commune_code == other.commune_code
            && self.old_commune_code == other.old_commune_code
            && self.old_district_code == other.old_district_code
            && self.old_province_code == other.old_province_code
            && self.dob == other.dob
    }
}

/// How a refresh writes recomputed rows over the stored ones. Unchanged rows are left alone, and
/// a row whose units and birth date stay is updated in its dose columns only, which leaves the
/// five (unit, birth date) indexes untouched.
#[derive(Debug, Default, PartialEq)]
pub struct RowChanges {
    /// Stored rows to delete: persons gone (merged away), and rows rewritten whole.
    pub delete: Vec<Uuid>,
    /// Rows to insert whole: new persons, or a changed unit or birth date.
    pub insert: Vec<PersonCoverage>,
    /// Rows whose dose columns alone changed.
    pub update_doses: Vec<PersonCoverage>,
}

/// Sorts recomputed rows (`new`) against the stored ones (`old`) of the same persons.
pub fn row_changes(old: &[PersonCoverage], new: Vec<PersonCoverage>) -> RowChanges {
    let stored: HashMap<Uuid, &PersonCoverage> = old.iter().map(|r| (r.person_id, r)).collect();
    let kept: std::collections::HashSet<Uuid> = new.iter().map(|r| r.person_id).collect();
    let mut changes = RowChanges {
        delete: old
            .iter()
            .map(|r| r.person_id)
            .filter(|id| !kept.contains(id))
            .collect(),
        ..RowChanges::default()
    };
    for row in new {
        match stored.get(&row.person_id) {
            Some(before) if **before == row => {}
            Some(before) if before.same_place_and_birth(&row) => changes.update_doses.push(row),
            Some(_) => {
                changes.delete.push(row.person_id);
                changes.insert.push(row);
            }
            None => changes.insert.push(row),
        }
    }
    changes
}

/// What the engine needs to know of a person.
#[derive(Debug, Clone)]
pub struct PersonFacts {
    pub person_id: Uuid,
    pub province_code: String,
    pub commune_code: String,
    pub old_commune_code: Option<String>,
    pub dob: NaiveDate,
}

/// A dose read from a linked `dose` record's payload, if it is a valid dose: `vaccine` (DCC
/// code or alias), `dose_date` (ISO date) and optional `additional`.
pub fn dose_from_payload(payload: &serde_json::Value) -> Option<DoseEvent> {
    let product = domain::vaccines::VaccineCatalogue::embedded()
        .resolve(payload.get("vaccine")?.as_str()?)?
        .code
        .clone();
    let date = NaiveDate::parse_from_str(payload.get("dose_date")?.as_str()?, "%Y-%m-%d").ok()?;
    let additional = payload
        .get("additional")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Some(DoseEvent {
        date,
        product,
        additional,
    })
}

/// Computes a person's row from their facts and dose payloads.
pub fn person_coverage(facts: &PersonFacts, payloads: &[serde_json::Value]) -> PersonCoverage {
    let units = AdminUnits::embedded();
    let (old_district_code, old_province_code) = match &facts.old_commune_code {
        Some(c) => {
            let district = units.pre2025.get(c).and_then(|u| u.parent_code.clone());
            let province = units.pre2025.province_of(c).map(|u| u.code.clone());
            (district, province)
        }
        None => (None, None),
    };
    let doses: Vec<DoseEvent> = payloads.iter().filter_map(dose_from_payload).collect();
    let mut row = PersonCoverage {
        person_id: facts.person_id,
        province_code: facts.province_code.clone(),
        commune_code: facts.commune_code.clone(),
        old_commune_code: facts.old_commune_code.clone(),
        old_district_code,
        old_province_code,
        dob: facts.dob,
        first_dose: None,
        primary_complete: None,
        booster1: None,
        booster2: None,
        doses: doses.len() as u32,
        next_kind: None,
        next_due: None,
        last_change: None,
    };
    if doses.is_empty() {
        return row;
    }
    let status = schedule::evaluate(Rules::embedded(), facts.dob, &doses, &[]);
    let levels = schedule::levels(&status);
    // A dose recorded twice (same day, same product) counts once.
    row.doses = status
        .doses
        .iter()
        .filter(|d| d.kind != schedule::DoseKind::Duplicate)
        .count() as u32;
    row.first_dose = levels.first_dose;
    row.primary_complete = levels.primary_complete;
    row.booster1 = levels.booster1;
    row.booster2 = levels.booster2;
    if let Some(next) = &status.next {
        row.next_kind = Some(next.kind.code());
        row.next_due = Some(next.due);
    }
    row.last_change = [
        row.first_dose,
        row.primary_complete,
        row.booster1,
        row.booster2,
    ]
    .into_iter()
    .flatten()
    .max();
    row
}

/// The rows of persons from their facts and the dose payloads read for them (`(person, payload
/// JSON text)`; unreadable payloads are not doses).
pub fn rows_for(facts: &[PersonFacts], doses: Vec<(Uuid, String)>) -> Vec<PersonCoverage> {
    let mut payloads: HashMap<Uuid, Vec<serde_json::Value>> = HashMap::new();
    for (person, text) in doses {
        if let Ok(v) = serde_json::from_str(&text) {
            payloads.entry(person).or_default().push(v);
        }
    }
    facts
        .iter()
        .map(|f| {
            let p = payloads.get(&f.person_id).map(Vec::as_slice).unwrap_or(&[]);
            person_coverage(f, p)
        })
        .collect()
}

/// A counter: persons of a unit born in a month who reached a level.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CounterKey {
    pub hierarchy: UnitVersion,
    pub unit_code: String,
    /// `YYYY-MM`.
    pub birth_month: String,
    pub level: Level,
}

/// `YYYY-MM` of a date.
pub fn birth_month(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

fn add_row(deltas: &mut BTreeMap<CounterKey, i64>, row: &PersonCoverage, sign: i64) {
    let month = birth_month(row.dob);
    for (hierarchy, unit) in row.units() {
        for level in Level::ALL {
            if row.level_date(level).is_some() {
                *deltas
                    .entry(CounterKey {
                        hierarchy,
                        unit_code: unit.to_string(),
                        birth_month: month.clone(),
                        level,
                    })
                    .or_insert(0) += sign;
            }
        }
    }
}

/// The counter changes that replace the `old` rows by the `new` ones (zero changes left out).
pub fn counter_deltas(old: &[PersonCoverage], new: &[PersonCoverage]) -> Vec<(CounterKey, i64)> {
    let mut deltas = BTreeMap::new();
    for r in old {
        add_row(&mut deltas, r, -1);
    }
    for r in new {
        add_row(&mut deltas, r, 1);
    }
    deltas.into_iter().filter(|(_, d)| *d != 0).collect()
}

/// The unit a coverage question is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageUnit {
    pub hierarchy: UnitVersion,
    pub code: String,
    pub name: String,
    pub level: UnitLevel,
}

impl CoverageUnit {
    /// Resolves a code: in the given hierarchy, else the 2025 list first, then pre-2025.
    pub fn resolve(code: &str, hierarchy: Option<UnitVersion>) -> Result<Self> {
        let units = AdminUnits::embedded();
        let versions = match hierarchy {
            Some(v) => vec![v],
            None => vec![UnitVersion::V2025, UnitVersion::Pre2025],
        };
        for v in &versions {
            if let Some(u) = units.hierarchy(*v).get(code) {
                return Ok(CoverageUnit {
                    hierarchy: *v,
                    code: u.code.clone(),
                    name: u.name.clone(),
                    level: u.level,
                });
            }
        }
        // The error of the first hierarchy tried.
        units.hierarchy(versions[0]).require(code)?;
        unreachable!("require fails for a code get did not find")
    }

    /// The `person_coverage` column that holds this unit's code.
    pub fn person_column(&self) -> &'static str {
        match (self.hierarchy, self.level) {
            (UnitVersion::V2025, UnitLevel::Province) => "province_code",
            (UnitVersion::V2025, _) => "commune_code",
            (UnitVersion::Pre2025, UnitLevel::Province) => "old_province_code",
            (UnitVersion::Pre2025, UnitLevel::District) => "old_district_code",
            (UnitVersion::Pre2025, _) => "old_commune_code",
        }
    }
}

/// One row of the coverage table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageGroup {
    pub age_group: String,
    pub population: u64,
    pub at_least_one: u64,
    pub primary_complete: u64,
    pub booster1: u64,
    pub booster2: u64,
}

impl CoverageGroup {
    pub fn count(&self, level: Level) -> u64 {
        match level {
            Level::Population => self.population,
            Level::AtLeastOne => self.at_least_one,
            Level::PrimaryComplete => self.primary_complete,
            Level::Booster1 => self.booster1,
            Level::Booster2 => self.booster2,
        }
    }

    fn count_mut(&mut self, level: Level) -> &mut u64 {
        match level {
            Level::Population => &mut self.population,
            Level::AtLeastOne => &mut self.at_least_one,
            Level::PrimaryComplete => &mut self.primary_complete,
            Level::Booster1 => &mut self.booster1,
            Level::Booster2 => &mut self.booster2,
        }
    }
}

/// Coverage of a unit at a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageReport {
    pub unit: String,
    pub unit_name: String,
    pub hierarchy: UnitVersion,
    pub as_of: NaiveDate,
    pub groups: Vec<CoverageGroup>,
}

/// Which age groups someone of `age` belongs to (indexes into [`AGE_GROUPS`]).
fn groups_of(age: Option<u32>) -> Vec<usize> {
    let Some(age) = age else {
        return Vec::new();
    };
    AGE_GROUPS
        .iter()
        .enumerate()
        .filter(|(_, (_, lo, hi))| age >= *lo && hi.is_none_or(|h| age <= h))
        .map(|(i, _)| i)
        .collect()
}

fn month_bounds(month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let last = first
        .checked_add_months(chrono::Months::new(1))?
        .pred_opt()?;
    Some((first, last))
}

/// Whether everyone born in the month is in the same age groups on `as_of` (and born by then).
fn month_is_uniform(first: NaiveDate, last: NaiveDate, as_of: NaiveDate) -> bool {
    if last > as_of {
        return false;
    }
    groups_of(age_on(first, as_of)) == groups_of(age_on(last, as_of))
}

/// Birth months `[first, last]` whose persons must be counted one by one (age-group boundary
/// inside the month, or the as-of date inside it), among the months present in `counters`.
pub fn boundary_months(
    counters: &[(Level, String, i64)],
    as_of: NaiveDate,
) -> Vec<(NaiveDate, NaiveDate)> {
    let mut months: Vec<&str> = counters.iter().map(|(_, m, _)| m.as_str()).collect();
    months.sort_unstable();
    months.dedup();
    months
        .into_iter()
        .filter_map(month_bounds)
        .filter(|(first, last)| *first <= as_of && !month_is_uniform(*first, *last, as_of))
        .collect()
}

/// Persons counted per level, indexed as [`Level::ALL`] (`[0]`: everyone, the population).
pub type LevelCounts = [i64; 5];

/// The residents of a unit born on one day (in a boundary month, [`boundary_months`]) and how
/// many of them had reached each level by the as-of date: aggregated by the store, so a boundary
/// month costs at most 31 rows whatever the size of the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BornOn {
    pub dob: NaiveDate,
    pub reached: LevelCounts,
}

/// The residents of a unit born in one month who reached each level only after the as-of date:
/// taken back out of the month's counters (a past as-of date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachedAfter {
    /// `YYYY-MM`.
    pub birth_month: String,
    pub reached: LevelCounts,
}

/// [`BornOn`] tallies of person rows (what the stores compute in SQL).
pub fn born_on_counts(rows: &[PersonCoverage], as_of: NaiveDate) -> Vec<BornOn> {
    let mut by_day: BTreeMap<NaiveDate, LevelCounts> = BTreeMap::new();
    for row in rows {
        let counts = by_day.entry(row.dob).or_default();
        for (i, level) in Level::ALL.into_iter().enumerate() {
            if row.level_date(level).is_some_and(|d| d <= as_of) {
                counts[i] += 1;
            }
        }
    }
    by_day
        .into_iter()
        .map(|(dob, reached)| BornOn { dob, reached })
        .collect()
}

/// [`ReachedAfter`] tallies of person rows (what the stores compute in SQL).
pub fn reached_after_counts(rows: &[PersonCoverage], as_of: NaiveDate) -> Vec<ReachedAfter> {
    let mut by_month: BTreeMap<String, LevelCounts> = BTreeMap::new();
    for row in rows {
        let mut reached = LevelCounts::default();
        for (i, level) in Level::ALL.into_iter().enumerate() {
            if row.level_date(level).is_some_and(|d| d > as_of) {
                reached[i] += 1;
            }
        }
        if reached != LevelCounts::default() {
            let counts = by_month.entry(birth_month(row.dob)).or_default();
            for (c, r) in counts.iter_mut().zip(reached) {
                *c += r;
            }
        }
    }
    by_month
        .into_iter()
        .map(|(birth_month, reached)| ReachedAfter {
            birth_month,
            reached,
        })
        .collect()
}

/// Builds the coverage table from the unit's counters, the per-day tallies of the boundary
/// months ([`boundary_months`]) and, for a past date, the tallies of levels reached after it.
pub fn assemble_report(
    unit: &CoverageUnit,
    as_of: NaiveDate,
    counters: &[(Level, String, i64)],
    boundary: &[BornOn],
    reached_after: &[ReachedAfter],
) -> CoverageReport {
    let mut groups: Vec<CoverageGroup> = AGE_GROUPS
        .iter()
        .map(|(label, _, _)| CoverageGroup {
            age_group: label.to_string(),
            population: 0,
            at_least_one: 0,
            primary_complete: 0,
            booster1: 0,
            booster2: 0,
        })
        .collect();
    let mut signed: Vec<LevelCounts> = vec![LevelCounts::default(); groups.len()];
    let mut month_groups: HashMap<&str, Option<Vec<usize>>> = HashMap::new();
    for (level, month, count) in counters {
        let gs = month_groups.entry(month.as_str()).or_insert_with(|| {
            let (first, last) = month_bounds(month)?;
            if first > as_of || !month_is_uniform(first, last, as_of) {
                return None;
            }
            Some(groups_of(age_on(first, as_of)))
        });
        for g in gs.iter().flatten() {
            signed[*g][*level as usize] += count;
        }
    }
    // Boundary months: each birth date by its exact age, levels reached by as_of.
    for day in boundary {
        for g in groups_of(age_on(day.dob, as_of)) {
            for (total, n) in signed[g].iter_mut().zip(day.reached) {
                *total += n;
            }
        }
    }
    // Counted in a uniform month's counter but reached the level after as_of: take back.
    for month in reached_after {
        let Some(Some(gs)) = month_groups.get(month.birth_month.as_str()) else {
            continue;
        };
        for g in gs {
            for (total, n) in signed[*g].iter_mut().zip(month.reached) {
                *total -= n;
            }
        }
    }
    for (group, counts) in groups.iter_mut().zip(signed) {
        for (level, n) in Level::ALL.into_iter().zip(counts) {
            *group.count_mut(level) = n.max(0) as u64;
        }
    }
    CoverageReport {
        unit: unit.code.clone(),
        unit_name: unit.name.clone(),
        hierarchy: unit.hierarchy,
        as_of,
        groups,
    }
}

/// Computes a report straight from person rows (for `coverage rebuild --check` and tests).
pub fn report_from_rows(
    unit: &CoverageUnit,
    as_of: NaiveDate,
    rows: &[PersonCoverage],
) -> CoverageReport {
    assemble_report(unit, as_of, &[], &born_on_counts(rows, as_of), &[])
}

/// What `coverage rebuild` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RebuildReport {
    pub persons: u64,
    pub counters: u64,
    /// Person rows that differed from the recomputed ones.
    pub person_rows_differing: u64,
    /// Counters that differed (missing, extra or other count).
    pub counters_differing: u64,
    /// A few of the differences, for the operator.
    pub examples: Vec<String>,
    /// Whether the stored rows and counters were replaced by the recomputed ones.
    pub rewritten: bool,
}

impl RebuildReport {
    pub fn consistent(&self) -> bool {
        self.person_rows_differing == 0 && self.counters_differing == 0
    }
}

/// Compares stored rows and counters with recomputed ones.
pub fn compare(
    stored_rows: &[PersonCoverage],
    fresh_rows: &[PersonCoverage],
    stored_counters: &[(CounterKey, i64)],
) -> RebuildReport {
    let mut report = RebuildReport {
        persons: fresh_rows.len() as u64,
        ..RebuildReport::default()
    };
    let stored: HashMap<Uuid, &PersonCoverage> =
        stored_rows.iter().map(|r| (r.person_id, r)).collect();
    let fresh_ids: std::collections::HashSet<Uuid> =
        fresh_rows.iter().map(|r| r.person_id).collect();
    for r in fresh_rows {
        if stored.get(&r.person_id) != Some(&r) {
            report.person_rows_differing += 1;
            if report.examples.len() < 10 {
                report
                    .examples
                    .push(format!("person {}: row differs or is missing", r.person_id));
            }
        }
    }
    for r in stored_rows {
        if !fresh_ids.contains(&r.person_id) {
            report.person_rows_differing += 1;
            if report.examples.len() < 10 {
                report
                    .examples
                    .push(format!("person {}: row should not exist", r.person_id));
            }
        }
    }
    let fresh: BTreeMap<CounterKey, i64> = counter_deltas(&[], fresh_rows).into_iter().collect();
    report.counters = fresh.len() as u64;
    let stored: BTreeMap<&CounterKey, i64> = stored_counters
        .iter()
        .filter(|(_, n)| *n != 0)
        .map(|(k, n)| (k, *n))
        .collect();
    for (k, n) in &fresh {
        if stored.get(k) != Some(n) {
            report.counters_differing += 1;
            if report.examples.len() < 10 {
                report.examples.push(format!(
                    "counter {} {} {} {}: stored {:?}, recomputed {n}",
                    k.hierarchy.as_str(),
                    k.unit_code,
                    k.birth_month,
                    k.level.as_str(),
                    stored.get(k)
                ));
            }
        }
    }
    for (k, n) in &stored {
        if !fresh.contains_key(*k) {
            report.counters_differing += 1;
            if report.examples.len() < 10 {
                report.examples.push(format!(
                    "counter {} {} {} {}: stored {n}, recomputed 0",
                    k.hierarchy.as_str(),
                    k.unit_code,
                    k.birth_month,
                    k.level.as_str()
                ));
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn row(dob: NaiveDate, first: Option<NaiveDate>) -> PersonCoverage {
        PersonCoverage {
            person_id: Uuid::now_v7(),
            province_code: "12".into(),
            commune_code: "03388".into(),
            old_commune_code: None,
            old_district_code: None,
            old_province_code: None,
            dob,
            first_dose: first,
            primary_complete: None,
            booster1: None,
            booster2: None,
            doses: u32::from(first.is_some()),
            next_kind: None,
            next_due: None,
            last_change: first,
        }
    }

    #[test]
    fn row_changes_touch_only_what_changed() {
        let same = row(d(1990, 1, 1), Some(d(2021, 8, 1)));
        let dosed = row(d(1980, 1, 1), None);
        let moved = row(d(1970, 1, 1), Some(d(2021, 9, 1)));
        let gone = row(d(1960, 1, 1), None);
        let new_person = row(d(2000, 1, 1), None);
        let mut dosed_after = dosed.clone();
        dosed_after.first_dose = Some(d(2021, 10, 1));
        dosed_after.last_change = Some(d(2021, 10, 1));
        let mut moved_after = moved.clone();
        moved_after.commune_code = "03391".into();
        let changes = row_changes(
            &[same.clone(), dosed.clone(), moved.clone(), gone.clone()],
            vec![
                same.clone(),
                dosed_after.clone(),
                moved_after.clone(),
                new_person.clone(),
            ],
        );
        assert_eq!(
            changes,
            RowChanges {
                delete: vec![gone.person_id, moved.person_id],
                insert: vec![moved_after, new_person],
                update_doses: vec![dosed_after],
            }
        );
    }

    fn counters_of(rows: &[PersonCoverage]) -> Vec<(Level, String, i64)> {
        counter_deltas(&[], rows)
            .into_iter()
            .filter(|(k, _)| k.unit_code == "12")
            .map(|(k, n)| (k.level, k.birth_month, n))
            .collect()
    }

    /// The counter path (uniform months from counters, boundary months and later changes from
    /// rows) gives exactly what counting every person one by one gives.
    #[test]
    fn counters_and_rows_agree_at_every_as_of_date() {
        let unit = CoverageUnit::resolve("12", Some(UnitVersion::V2025)).unwrap();
        let mut rows = Vec::new();
        let mut day = d(1950, 1, 1);
        let mut i = 0u32;
        while day < d(2024, 1, 1) {
            let first = match i % 3 {
                0 => None,
                1 => Some(d(2021, 6, 1 + i % 28)),
                _ => Some(d(2022, 3, 1 + i % 28)),
            };
            rows.push(row(day, first));
            day = day
                .checked_add_days(chrono::Days::new(1 + u64::from(i % 17)))
                .unwrap();
            i += 1;
        }
        let counters = counters_of(&rows);
        for as_of in [
            d(2021, 12, 31),
            d(2022, 3, 15),
            d(2023, 2, 28),
            d(2026, 11, 22),
        ] {
            let bounds = boundary_months(&counters, as_of);
            let boundary: Vec<PersonCoverage> = rows
                .iter()
                .filter(|r| bounds.iter().any(|(f, l)| r.dob >= *f && r.dob <= *l))
                .cloned()
                .collect();
            let changed: Vec<PersonCoverage> = rows
                .iter()
                .filter(|r| r.last_change.is_some_and(|c| c > as_of))
                .cloned()
                .collect();
            let fast = assemble_report(
                &unit,
                as_of,
                &counters,
                &born_on_counts(&boundary, as_of),
                &reached_after_counts(&changed, as_of),
            );
            let slow = report_from_rows(&unit, as_of, &rows);
            assert_eq!(fast, slow, "as of {as_of}");
            assert!(bounds.len() <= 8, "{} boundary months", bounds.len());
        }
    }

    #[test]
    fn deltas_cancel_and_follow_moves() {
        let a = row(d(1980, 5, 5), Some(d(2021, 7, 1)));
        assert!(counter_deltas(std::slice::from_ref(&a), std::slice::from_ref(&a)).is_empty());
        let mut moved = a.clone();
        moved.commune_code = "03391".into();
        let deltas = counter_deltas(&[a], &[moved]);
        // Two levels leave one commune and enter the other; the province is unchanged.
        assert_eq!(deltas.len(), 4);
        assert!(deltas.iter().all(|(k, _)| k.unit_code != "12"));
    }

    #[test]
    fn payloads_with_unknown_products_or_bad_dates_are_not_doses() {
        let ok = serde_json::json!({"vaccine": "Pfizer", "dose_date": "2021-08-01"});
        assert_eq!(dose_from_payload(&ok).unwrap().product, "EU/1/20/1528");
        assert!(
            dose_from_payload(&serde_json::json!({"vaccine": "X", "dose_date": "2021-08-01"}))
                .is_none()
        );
        assert!(
            dose_from_payload(&serde_json::json!({"vaccine": "Pfizer", "dose_date": "2021-02-30"}))
                .is_none()
        );
    }
}

/// A place where doses are given (commune health station, hospital, mobile team).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct VaccinationSite {
    pub code: String,
    pub name: String,
    /// 2025 commune code, if the site belongs to one.
    pub commune_code: Option<String>,
}

/// A lot of a vaccine product with its expiry date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct VaccineLot {
    /// EU DCC medicinal product code.
    pub product: String,
    pub lot: String,
    pub expiry: NaiveDate,
}

/// Why a resident on the door-to-door list has not had their dose, as staff record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpReason {
    Contraindicated,
    MovedAway,
    Refused,
    Unreachable,
    Unknown,
}

impl FollowUpReason {
    pub const ALL: [FollowUpReason; 5] = [
        FollowUpReason::Contraindicated,
        FollowUpReason::MovedAway,
        FollowUpReason::Refused,
        FollowUpReason::Unreachable,
        FollowUpReason::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpReason::Contraindicated => "contraindicated",
            FollowUpReason::MovedAway => "moved_away",
            FollowUpReason::Refused => "refused",
            FollowUpReason::Unreachable => "unreachable",
            FollowUpReason::Unknown => "unknown",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            FollowUpReason::Contraindicated => "Chống chỉ định",
            FollowUpReason::MovedAway => "Đã chuyển đi",
            FollowUpReason::Refused => "Từ chối tiêm",
            FollowUpReason::Unreachable => "Không liên lạc được",
            FollowUpReason::Unknown => "Chưa rõ lý do",
        }
    }

    pub fn parse(s: &str) -> std::result::Result<Self, domain::Error> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                domain::Error::invalid(
                    "reason",
                    format!(
                        "Lý do «{s}» không hợp lệ (contraindicated, moved_away, refused, \
                         unreachable, unknown)"
                    ),
                    format!(
                        "Unknown reason «{s}» (contraindicated, moved_away, refused, \
                         unreachable, unknown)"
                    ),
                )
            })
    }
}

/// A reason as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUpNote {
    pub person_id: Uuid,
    pub reason: FollowUpReason,
    pub note: String,
    pub updated_by: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Residents of a unit due for follow-up: born on or before `born_by` (old enough) and either
/// without any dose or with their next dose due before `overdue_before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpQuery {
    pub unit: CoverageUnit,
    pub born_by: NaiveDate,
    pub overdue_before: NaiveDate,
    /// Only residents never vaccinated.
    pub only_unvaccinated: bool,
    pub limit: u32,
    pub offset: u64,
}

/// Counts of a unit's follow-up list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FollowUpCounts {
    pub not_vaccinated: u64,
    pub overdue: u64,
    /// Not vaccinated with no reason recorded, or reason `unknown` (what commune chairs answer for).
    pub not_vaccinated_without_known_reason: u64,
}
