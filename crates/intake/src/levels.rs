//! Weekly epidemic level (cấp độ dịch) of every commune, district and province of a province,
//! from stored data: new cases by commune of residence (community cases for the level, as the
//! decisions count them), deaths, cases on oxygen, vaccination coverage from the immunization
//! rollups, the register's population, and capacity figures typed by staff. The result is a
//! *proposed* run with every unit's inputs and reasoning; the province approves it and the levels
//! take effect 48 h after the computation (Resolution 128/NQ-CP: announced 48 h ahead).
//!
//! Inputs, and where each comes from (recorded with every unit as `sources`):
//! - population: register persons alive (the coverage report's "all" group) — the register, not
//!   the census, so a partly loaded register gives high rates;
//! - new community cases and deaths of the week: case records (`Store::commune_case_counts`);
//! - cases on oxygen: a 7-day average typed by staff for the unit when there is one; else, for the
//!   current week only, the open cases on oxygen now (the system keeps no daily history of it);
//!   for past weeks without a typed figure the criterion is not assessed;
//! - coverage: share of people ≥ 18 with a first dose, of people ≥ 50 and of everyone with a
//!   completed primary series, at the week's end (`store::coverage_report`);
//! - free COVID beds, staffed ICU beds: typed by staff for the district or province (none at
//!   commune level); missing → capacity not assessed;
//! - last week's level: the last approved run of the province before this week.
//!
//! Districts and provinces are assessed from the sums of their communes (coverage from the summed
//! counts), which is phongdich's rule and marked unverified in every such result.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use domain::audit::NewAuditEntry;
use domain::epidemic_level::{self, AGGREGATION_UNVERIFIED, Assessment, Indicators, Level};
use domain::units::{AdminUnits, Unit, UnitLevel, UnitVersion};
use domain::{Error, ErrorCode};
use serde::Serialize;
use store::{
    CapacityInput, CommuneCaseCounts, CoverageUnit, LevelRun, RunStatus, Store, UnitAssessment,
};
use uuid::Uuid;

type Result<T> = std::result::Result<T, Error>;

/// Hours between a computation and the levels taking effect (Resolution 128/NQ-CP).
pub const ANNOUNCE_HOURS: i64 = 48;

/// What to assess.
#[derive(Debug, Clone)]
pub struct WeekRequest {
    pub province_code: String,
    pub hierarchy: UnitVersion,
    /// A Monday.
    pub week_start: NaiveDate,
    /// A ruleset id; default: the one in force at the week's end (with the province's override).
    pub ruleset: Option<String>,
}

/// The Monday of the week holding `day`.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))
}

/// Coverage counts of a unit (summed for higher units).
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct CoverageCounts {
    population: u64,
    adults: u64,
    adults_one_dose: u64,
    over50: u64,
    over50_full: u64,
    full: u64,
}

impl CoverageCounts {
    fn add(&mut self, o: &CoverageCounts) {
        self.population += o.population;
        self.adults += o.adults;
        self.adults_one_dose += o.adults_one_dose;
        self.over50 += o.over50;
        self.over50_full += o.over50_full;
        self.full += o.full;
    }

    fn share(n: u64, d: u64) -> Option<f64> {
        (d > 0).then(|| n as f64 / d as f64)
    }
}

async fn coverage_of(
    store: &dyn Store,
    hierarchy: UnitVersion,
    unit: &Unit,
    as_of: NaiveDate,
) -> Result<CoverageCounts> {
    let report = store::coverage_report(
        store,
        &CoverageUnit {
            hierarchy,
            code: unit.code.clone(),
            name: unit.name.clone(),
            level: unit.level,
        },
        as_of,
    )
    .await?;
    let group = |name: &str| report.groups.iter().find(|g| g.age_group == name);
    let mut c = CoverageCounts::default();
    if let Some(g) = group("all") {
        c.population = g.population;
        c.full = g.primary_complete;
    }
    if let Some(g) = group("18+") {
        c.adults = g.population;
        c.adults_one_dose = g.at_least_one;
    }
    if let Some(g) = group("50+") {
        c.over50 = g.population;
        c.over50_full = g.primary_complete;
    }
    Ok(c)
}

/// The sums a unit is assessed from.
#[derive(Debug, Clone, Default)]
struct UnitInputs {
    coverage: CoverageCounts,
    community_cases: i64,
    all_cases: i64,
    deaths: i64,
    oxygen_now: i64,
}

impl UnitInputs {
    fn add(&mut self, o: &UnitInputs) {
        self.coverage.add(&o.coverage);
        self.community_cases += o.community_cases;
        self.all_cases += o.all_cases;
        self.deaths += o.deaths;
        self.oxygen_now += o.oxygen_now;
    }
}

struct Context<'a> {
    current_week: bool,
    capacity: &'a HashMap<String, CapacityInput>,
    previous: &'a HashMap<String, u8>,
    ruleset: &'a epidemic_level::Ruleset,
}

/// Indicators of a unit and the sources of each.
fn indicators_of(
    code: &str,
    inputs: &UnitInputs,
    ctx: &Context<'_>,
) -> (Indicators, serde_json::Value) {
    let cap = ctx.capacity.get(code);
    let c = &inputs.coverage;
    let (oxygen, oxygen_source) = match cap.and_then(|c| c.oxygen_cases_7d_avg) {
        Some(v) => (Some(v), "typed by staff (7-day average)"),
        None if ctx.current_week => (
            Some(inputs.oxygen_now as f64),
            "open cases on oxygen now (no daily history kept)",
        ),
        None => (None, "not known for a past week"),
    };
    let ind = Indicators {
        oxygen_cases_7d_avg: oxygen,
        deaths_week: Some(inputs.deaths as f64),
        free_covid_beds: cap.and_then(|c| c.free_covid_beds),
        icu_beds_staffed: cap.and_then(|c| c.icu_beds_staffed),
        coverage_1dose_18plus: CoverageCounts::share(c.adults_one_dose, c.adults),
        coverage_full_50plus: CoverageCounts::share(c.over50_full, c.over50),
        coverage_full_total: CoverageCounts::share(c.full, c.population),
        previous_level: ctx.previous.get(code).and_then(|l| Level::from_number(*l)),
        ..Indicators::new(code, c.population as f64, inputs.community_cases as f64)
    };
    let sources = serde_json::json!({
        "population": "register persons alive (coverage report, all ages)",
        "new_cases_week": "community cases first positive in the week (case records)",
        "all_new_cases_week": inputs.all_cases,
        "deaths_week": "deaths dated in the week (case records)",
        "oxygen_cases_7d_avg": oxygen_source,
        "capacity": if cap.is_some() { "typed by staff" } else { "not entered" },
        "coverage": c,
    });
    (ind, sources)
}

fn unit_row(
    run_id: Uuid,
    unit: &Unit,
    ind: &Indicators,
    sources: serde_json::Value,
    a: &Assessment,
) -> Result<UnitAssessment> {
    let mut indicators = serde_json::to_value(ind).map_err(|_| Error::internal())?;
    indicators["sources"] = sources;
    Ok(UnitAssessment {
        run_id,
        unit_code: unit.code.clone(),
        unit_kind: match unit.level {
            UnitLevel::Province => "province",
            UnitLevel::District => "district",
            UnitLevel::Commune => "commune",
        }
        .into(),
        parent_code: unit.parent_code.clone().unwrap_or_default(),
        unit_name: unit.name.clone(),
        level: a.level.number(),
        crisis: a.crisis,
        unverified: !a.unverified.is_empty(),
        indicators,
        assessment: serde_json::to_value(a).map_err(|_| Error::internal())?,
    })
}

/// Assesses one week of a province: every commune, every district (pre-2025 hierarchy) and the
/// province, stored as a proposed run (replacing a proposed run of the same week). `now` is
/// the computation time; the levels would take effect [`ANNOUNCE_HOURS`] later.
pub async fn assess_week(
    store: &dyn Store,
    req: &WeekRequest,
    by: &str,
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<(LevelRun, Vec<UnitAssessment>)> {
    if req.week_start.weekday() != Weekday::Mon {
        return Err(Error::invalid(
            "week_start",
            format!(
                "Tuần phải bắt đầu từ thứ Hai ({} không phải thứ Hai)",
                req.week_start
            ),
            format!("A week starts on a Monday ({} is not)", req.week_start),
        ));
    }
    let today = crate::care::local_date(now);
    if req.week_start > today {
        return Err(Error::invalid(
            "week_start",
            "Không thể đánh giá một tuần chưa bắt đầu",
            "A week that has not begun cannot be assessed",
        ));
    }
    let week_end = req.week_start + TimeDelta::days(6);
    let units = AdminUnits::embedded().hierarchy(req.hierarchy);
    let province = units.require(&req.province_code)?;
    if province.level != UnitLevel::Province {
        return Err(Error::invalid(
            "province",
            format!("«{}» không phải mã tỉnh", req.province_code),
            format!("«{}» is not a province code", req.province_code),
        ));
    }
    let ruleset = match &req.ruleset {
        Some(id) => {
            let base = epidemic_level::ruleset(id)?;
            epidemic_level::EpidemicLevels::embedded().resolve(
                &base.id,
                Some(week_end),
                Some(&req.province_code),
            )?
        }
        None => epidemic_level::ruleset_for_date(week_end, Some(&req.province_code))?,
    };
    // Five pre-2025 island districts have no communes; the list carries them as communes with
    // an empty code. They are left out (their residents have no commune to count them by).
    let communes: Vec<&Unit> = units
        .list(UnitLevel::Commune, Some(&province.code))?
        .into_iter()
        .filter(|u| !u.code.is_empty())
        .collect();
    let districts = match req.hierarchy {
        UnitVersion::Pre2025 => units.list(UnitLevel::District, Some(&province.code))?,
        UnitVersion::V2025 => Vec::new(),
    };

    let counts: HashMap<String, CommuneCaseCounts> = store
        .commune_case_counts(&province.code, req.hierarchy, req.week_start, week_end)
        .await?
        .into_iter()
        .map(|c| (c.commune_code.clone(), c))
        .collect();
    let mut all_codes: Vec<String> = communes.iter().map(|u| u.code.clone()).collect();
    all_codes.extend(districts.iter().map(|u| u.code.clone()));
    all_codes.push(province.code.clone());
    let capacity: HashMap<String, CapacityInput> = store
        .capacity_inputs(req.week_start, &all_codes)
        .await?
        .into_iter()
        .map(|c| (c.unit_code.clone(), c))
        .collect();
    let mut previous: HashMap<String, u8> = HashMap::new();
    if let Some(prev) = store
        .level_runs(Some(&province.code), 200)
        .await?
        .into_iter()
        .filter(|r| {
            r.hierarchy == req.hierarchy
                && r.week_start < req.week_start
                && matches!(r.status, RunStatus::Approved)
        })
        .max_by_key(|r| r.week_start)
    {
        for u in store.level_units(prev.id).await? {
            previous.insert(u.unit_code, u.level);
        }
    }
    let ctx = Context {
        current_week: week_end >= today,
        capacity: &capacity,
        previous: &previous,
        ruleset: &ruleset,
    };

    let run_id = Uuid::now_v7();
    let mut rows = Vec::new();
    let mut not_assessed: Vec<String> = Vec::new();
    let mut by_district: HashMap<String, UnitInputs> = HashMap::new();
    let mut whole = UnitInputs::default();
    for commune in &communes {
        let c = counts.get(&commune.code);
        let inputs = UnitInputs {
            coverage: coverage_of(store, req.hierarchy, commune, week_end).await?,
            community_cases: c.map_or(0, |c| c.community_cases),
            all_cases: c.map_or(0, |c| c.new_cases),
            deaths: c.map_or(0, |c| c.deaths),
            oxygen_now: c.map_or(0, |c| c.on_oxygen_now),
        };
        if let Some(d) = &commune.parent_code {
            by_district.entry(d.clone()).or_default().add(&inputs);
        }
        whole.add(&inputs);
        if inputs.coverage.population == 0 {
            not_assessed.push(commune.code.clone());
            continue;
        }
        let (ind, sources) = indicators_of(&commune.code, &inputs, &ctx);
        let a = epidemic_level::assess(ctx.ruleset, &ind)?;
        rows.push(unit_row(run_id, commune, &ind, sources, &a)?);
    }
    let mut higher: Vec<(&Unit, UnitInputs)> = districts
        .iter()
        .map(|d| (*d, by_district.remove(&d.code).unwrap_or_default()))
        .collect();
    higher.push((province, whole));
    for (unit, inputs) in higher {
        if inputs.coverage.population == 0 {
            not_assessed.push(unit.code.clone());
            continue;
        }
        let (ind, sources) = indicators_of(&unit.code, &inputs, &ctx);
        let mut a = epidemic_level::assess(ctx.ruleset, &ind)?;
        a.unverified.push(AGGREGATION_UNVERIFIED.to_string());
        rows.push(unit_row(run_id, unit, &ind, sources, &a)?);
    }
    let crisis_units = rows.iter().filter(|r| r.crisis).count() as i64;
    let run = LevelRun {
        id: run_id,
        province_code: province.code.clone(),
        hierarchy: req.hierarchy,
        week_start: req.week_start,
        week_end,
        ruleset: ruleset.id.clone(),
        computed_at: now,
        computed_by: by.to_string(),
        effective_at: now + TimeDelta::hours(ANNOUNCE_HOURS),
        status: RunStatus::Proposed,
        approved_by: None,
        approved_at: None,
        units: rows.len() as i64,
        crisis_units,
    };
    let entry = NewAuditEntry {
        action: "level.assess".into(),
        entity_type: Some("level_run".into()),
        entity_id: Some(run_id.to_string()),
        unit_code: Some(province.code.clone()),
        details: serde_json::json!({
            "week_start": req.week_start,
            "hierarchy": req.hierarchy,
            "ruleset": ruleset.id,
            "units": rows.len(),
            "crisis_units": crisis_units,
            "not_assessed_no_population": not_assessed.len(),
        }),
        ..audit.clone()
    };
    store.save_level_run(&run, &rows, &entry).await?;
    Ok((run, rows))
}

/// Approves a proposed run (the province's decision). The levels take effect at the time set
/// when they were computed, or [`ANNOUNCE_HOURS`] after the approval when that is later, so they
/// are always announced 48 h ahead.
pub async fn approve(
    store: &dyn Store,
    id: Uuid,
    by: &str,
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<LevelRun> {
    let run = store
        .level_run(id)
        .await?
        .ok_or_else(|| Error::not_found(&format!("lượt đánh giá {id}"), &format!("run {id}")))?;
    let effective_at = run.effective_at.max(now + TimeDelta::hours(ANNOUNCE_HOURS));
    let entry = NewAuditEntry {
        action: "level.approve".into(),
        entity_type: Some("level_run".into()),
        entity_id: Some(id.to_string()),
        unit_code: Some(run.province_code.clone()),
        details: serde_json::json!({ "week_start": run.week_start, "effective_at": effective_at }),
        ..audit.clone()
    };
    store
        .approve_level_run(id, by, now, effective_at, &entry)
        .await
}

/// The run in force for a province at `at` (the approved run with the latest effective time not
/// after `at`), and an approved run announced to take effect later, if any.
#[derive(Debug, Clone, Serialize)]
pub struct ProvinceLevels {
    pub province_code: String,
    pub in_force: Option<LevelRun>,
    pub announced: Option<LevelRun>,
}

/// [`ProvinceLevels`] of every province with approved runs (or of one).
pub async fn levels_at(
    store: &dyn Store,
    province: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Vec<ProvinceLevels>> {
    let runs = store.level_runs(province, 5_000).await?;
    let mut by_province: HashMap<String, ProvinceLevels> = HashMap::new();
    for r in runs.into_iter().filter(|r| r.status == RunStatus::Approved) {
        let e = by_province
            .entry(r.province_code.clone())
            .or_insert_with(|| ProvinceLevels {
                province_code: r.province_code.clone(),
                in_force: None,
                announced: None,
            });
        let slot = if r.effective_at <= at {
            &mut e.in_force
        } else {
            &mut e.announced
        };
        let later = |cur: &Option<LevelRun>| {
            cur.as_ref()
                .is_none_or(|c| (r.effective_at, r.week_start) > (c.effective_at, c.week_start))
        };
        if later(slot) {
            *slot = Some(r);
        }
    }
    let mut out: Vec<ProvinceLevels> = by_province.into_values().collect();
    out.sort_by(|a, b| a.province_code.cmp(&b.province_code));
    Ok(out)
}

/// A unit meeting the crisis scenario in the latest run of its province.
#[derive(Debug, Clone, Serialize)]
pub struct CrisisAlert {
    pub run_id: Uuid,
    pub run_status: RunStatus,
    pub week_start: NaiveDate,
    pub unit_code: String,
    pub unit_name: String,
    pub unit_kind: String,
    pub reasons: Vec<String>,
}

/// Crisis alerts of the latest run (any status) of a province.
pub async fn crisis_alerts(store: &dyn Store, province: &str) -> Result<Vec<CrisisAlert>> {
    let Some(run) = store
        .level_runs(Some(province), 1)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(Vec::new());
    };
    Ok(store
        .level_units(run.id)
        .await?
        .into_iter()
        .filter(|u| u.crisis)
        .map(|u| CrisisAlert {
            run_id: run.id,
            run_status: run.status,
            week_start: run.week_start,
            reasons: u.assessment["crisis_reasons"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            unit_code: u.unit_code,
            unit_name: u.unit_name,
            unit_kind: u.unit_kind,
        })
        .collect())
}

/// Checks and stores capacity figures typed by staff for a unit and week.
pub async fn set_capacity(
    store: &dyn Store,
    input: &CapacityInput,
    audit: &NewAuditEntry,
) -> Result<()> {
    if input.week_start.weekday() != Weekday::Mon {
        return Err(Error::invalid(
            "week_start",
            "Tuần phải bắt đầu từ thứ Hai",
            "A week starts on a Monday",
        ));
    }
    let units = AdminUnits::embedded();
    if units.v2025.get(&input.unit_code).is_none() && units.pre2025.get(&input.unit_code).is_none()
    {
        return Err(Error::new(
            ErrorCode::NotFound,
            format!("Không có đơn vị mã «{}»", input.unit_code),
            format!("No unit «{}»", input.unit_code),
        ));
    }
    for (field, v) in [
        ("free_covid_beds", input.free_covid_beds),
        ("icu_beds_staffed", input.icu_beds_staffed),
        ("oxygen_cases_7d_avg", input.oxygen_cases_7d_avg),
    ] {
        if let Some(v) = v
            && (!v.is_finite() || v < 0.0)
        {
            return Err(Error::invalid(
                field,
                format!("{field}: phải là số không âm"),
                format!("{field}: must be a non-negative number"),
            ));
        }
    }
    let entry = NewAuditEntry {
        action: "level.capacity".into(),
        entity_type: Some("unit".into()),
        entity_id: Some(input.unit_code.clone()),
        unit_code: Some(input.unit_code.clone()),
        details: serde_json::json!({
            "week_start": input.week_start,
            "free_covid_beds": input.free_covid_beds,
            "icu_beds_staffed": input.icu_beds_staffed,
            "oxygen_cases_7d_avg": input.oxygen_cases_7d_avg,
        }),
        ..audit.clone()
    };
    store.set_capacity_input(input, &entry).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(week_of(d("2022-03-10")), d("2022-03-07"));
        assert_eq!(week_of(d("2022-03-07")), d("2022-03-07"));
        assert_eq!(week_of(d("2022-03-13")), d("2022-03-07"));
    }

    #[test]
    fn shares_need_a_denominator() {
        assert_eq!(CoverageCounts::share(1, 0), None);
        assert_eq!(CoverageCounts::share(1, 4), Some(0.25));
    }
}
