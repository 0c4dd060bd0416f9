//! `phongdich demo`: generates a synthetic province ([`demo::generate`]) and loads it, then
//! rebuilds population denominators, and loads the population's vaccination histories
//! ([`demo::vaccination`]) and a COVID-19 epidemic consistent with them ([`demo::epidemic`]): the
//! 2022 Omicron wave (closed cases) and a small outbreak in the 14 days before today (open
//! home-care cases with check-ins, contacts, clusters, a sampling session, border
//! declarations). Also used by `serve --demo` on an empty database.

use std::time::Instant;

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use demo::epidemic::{DemoCase, DemoTest, EpidemicHistory};
use domain::audit::NewAuditEntry;
use domain::case_rules::{CaseRules, RiskGroup};
use domain::person::Person;
use domain::surveillance::{AlertLevel, CaseStatus, Classification, TestResult};
use serde::Serialize;
use store::{Case, CaseChange, CaseUnits, LabTest, Store};
use uuid::Uuid;

use super::DatabaseArg;
use crate::config::FileConfig;

/// Reference date of the demo population (fixed so a seed always gives the same data).
pub const DEFAULT_AS_OF: &str = "2026-01-01";
pub const DEFAULT_PROVINCE: &str = "12";
pub const DEFAULT_PERSONS: usize = 50_000;
pub const DEFAULT_SEED: u64 = 2021;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// 2025 province code (e.g. 12 = Lai Châu, 01 = Hà Nội).
    #[arg(long, default_value = DEFAULT_PROVINCE)]
    pub province: String,
    /// Number of persons to generate.
    #[arg(long, default_value_t = DEFAULT_PERSONS)]
    pub persons: usize,
    /// Random seed; the same seed gives the same population.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Reference date (YYYY-MM-DD): ages are computed at this date.
    #[arg(long, default_value = DEFAULT_AS_OF)]
    pub as_of: NaiveDate,
    /// Leave out the vaccination histories and the epidemic (register only; used by the dose
    /// import benchmark).
    #[arg(long, hide = true)]
    pub no_vaccination: bool,
    /// Leave out the epidemic (cases, tests, outbreaks).
    #[arg(long)]
    pub no_epidemic: bool,
    /// The day the demo is loaded on (YYYY-MM-DD; default today in Vietnam): the current
    /// outbreak covers the 14 days up to it, check-ins stop at 08:00 that morning.
    #[arg(long)]
    pub today: Option<NaiveDate>,
}

/// What a demo load did, printed as JSON.
#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub province: String,
    pub households: usize,
    pub persons: usize,
    pub denominator_rows: usize,
    /// Vaccination histories stored as dose records already linked to their person.
    pub vaccination: VaccinationReport,
    /// Demo dose records sent through linkage (linked / review / unlinked).
    pub records: intake::BatchSummary,
    /// The COVID-19 epidemic: tests, cases, check-ins, contacts, clusters, samples, entrants.
    pub epidemic: EpidemicReport,
    pub generate_seconds: f64,
    pub insert_seconds: f64,
    /// Persons per second over generation plus insertion.
    pub persons_per_second: f64,
}

/// Generates and inserts a demo population with its vaccination histories and epidemic (the
/// current outbreak up to now); the database must not already hold these ids.
pub async fn load(store: &dyn Store, params: &demo::DemoParams) -> anyhow::Result<DemoReport> {
    load_with(store, params, true, true, Utc::now()).await
}

/// [`load`], with or without the vaccination histories and the epidemic (which needs them), as
/// if loaded at `now`.
pub async fn load_with(
    store: &dyn Store,
    params: &demo::DemoParams,
    vaccination: bool,
    epidemic: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<DemoReport> {
    let t0 = Instant::now();
    let population = demo::generate(params, domain::units::AdminUnits::embedded())?;
    let generated = t0.elapsed();
    let t1 = Instant::now();
    for chunk in population.households.chunks(20_000) {
        store.insert_households(chunk).await?;
    }
    for chunk in population.persons.chunks(100_000) {
        store.insert_persons(chunk).await?;
    }
    store.refresh_statistics().await?;
    let inserted = t1.elapsed();
    let denominator_rows = store::rebuild_denominators(store, params.as_of).await?;
    // Bulk writes are audited as one entry.
    store
        .append_audit(&domain::audit::NewAuditEntry {
            at: chrono::Utc::now(),
            actor_id: None,
            actor: Some("phongdich demo".into()),
            action: "population.demo_load".into(),
            entity_type: Some("province".into()),
            entity_id: Some(params.province_code.clone()),
            unit_code: Some(params.province_code.clone()),
            ip: None,
            details: serde_json::json!({
                "persons": population.persons.len(),
                "households": population.households.len(),
                "seed": params.seed,
                "as_of": params.as_of,
            }),
        })
        .await?;
    let history_started = Instant::now();
    let history = vaccination.then(|| {
        demo::vaccination::vaccination_history(
            &population.persons,
            domain::units::AdminUnits::embedded(),
            params.seed,
            params.as_of,
        )
    });
    let history_seconds = history_started.elapsed().as_secs_f64();
    // The 2022 wave goes in before the doses: storing linked test records refreshes their
    // persons' coverage, which is cheap while they have no doses yet (the doses' own refresh
    // gives the same end state).
    let started_epidemic = match &history {
        Some(history) if epidemic => Some(
            start_epidemic(store, &population, history, params, now)
                .await
                .context("nạp dịch bệnh mẫu thất bại")?,
        ),
        _ => None,
    };
    let vaccination = match &history {
        Some(history) => {
            let mut report = load_vaccination(store, &population.persons, params, history).await?;
            report.seconds += history_seconds;
            report
        }
        None => VaccinationReport::default(),
    };
    // Linkage of the dose records also brings the blocking index up to date for the tests.
    let records = demo_records(store, &population.persons, params.seed).await?;
    let epidemic = match started_epidemic {
        Some((e, report)) => finish_epidemic(store, &population, &e, report, params, now)
            .await
            .context("nạp dịch bệnh mẫu thất bại")?,
        None => EpidemicReport::default(),
    };
    // The load is over: statistics and visibility as autovacuum would leave them.
    store.refresh_statistics().await?;
    let total = (generated + inserted).as_secs_f64();
    Ok(DemoReport {
        vaccination,
        records,
        epidemic,
        province: params.province_code.clone(),
        households: population.households.len(),
        persons: population.persons.len(),
        denominator_rows,
        generate_seconds: generated.as_secs_f64(),
        insert_seconds: inserted.as_secs_f64(),
        persons_per_second: if total > 0.0 {
            population.persons.len() as f64 / total
        } else {
            0.0
        },
    })
}

/// What storing the demo vaccination histories did.
#[derive(Debug, Default, Serialize)]
pub struct VaccinationReport {
    pub sites: usize,
    pub lots: usize,
    /// Dose records stored, each linked to its person.
    pub doses: usize,
    /// Persons with at least one dose.
    pub vaccinated_persons: usize,
    pub seconds: f64,
}

/// Dose records stored (and linked, coverage refreshed) per transaction: whole persons only.
const VACCINATION_CHUNK: usize = 20_000;

/// Stores the population's 2021–2023 vaccination history ([`demo::vaccination`]): its sites and
/// lots, and every dose as a `dose` source record of its site (record id = the site's record
/// number) already linked to its person — the sites knew whom they vaccinated, so these skip the
/// linkage engine. Coverage rows and counters follow in each chunk's write transaction.
async fn load_vaccination(
    store: &dyn Store,
    persons: &[domain::person::Person],
    params: &demo::DemoParams,
    history: &demo::vaccination::VaccinationHistory,
) -> anyhow::Result<VaccinationReport> {
    let started = Instant::now();
    let sites: Vec<store::VaccinationSite> = history
        .sites
        .iter()
        .map(|s| store::VaccinationSite {
            code: s.code.clone(),
            name: s.name.clone(),
            commune_code: Some(s.commune_code.clone()),
        })
        .collect();
    store.upsert_vaccination_sites(&sites).await?;
    let lots: Vec<store::VaccineLot> = history
        .lots
        .iter()
        .map(|l| store::VaccineLot {
            product: l.product.clone(),
            lot: l.lot.clone(),
            expiry: l.expiry,
        })
        .collect();
    store.upsert_vaccine_lots(&lots).await?;
    let reference = intake::doses::DoseReference::load(store).await?;
    let by_id: std::collections::HashMap<uuid::Uuid, &domain::person::Person> =
        persons.iter().map(|p| (p.id, p)).collect();
    let batch_id = uuid::Uuid::now_v7();
    let mut report = VaccinationReport {
        sites: sites.len(),
        lots: lots.len(),
        ..VaccinationReport::default()
    };
    // Doses come grouped by person: cut chunks between persons.
    let mut rest = history.doses.as_slice();
    let mut statistics = store::StatisticsSchedule::new(VACCINATION_CHUNK as u64);
    while !rest.is_empty() {
        let mut end = rest.len().min(VACCINATION_CHUNK);
        while end < rest.len() && rest[end].person_id == rest[end - 1].person_id {
            end += 1;
        }
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        let mut records = Vec::with_capacity(chunk.len());
        let mut owners = Vec::with_capacity(chunk.len());
        for d in chunk {
            let p = by_id
                .get(&d.person_id)
                .context("dose of a person not in the demo population")?;
            let row = domain::dose_record::DoseRow {
                record_id: d.record_id.clone(),
                site_code: d.site_code.clone(),
                national_id: p
                    .national_id
                    .as_ref()
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default(),
                full_name: p.full_name.clone(),
                dob: p.dob.to_string(),
                sex: p.sex.as_str().into(),
                commune_code: p.commune_code.clone(),
                phone: p
                    .phone
                    .as_ref()
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default(),
                vaccine: d.product.clone(),
                vaccine_input: d.product.clone(),
                dose_date: d.date,
                lot: d.lot.clone(),
                additional: false,
            };
            records.push(intake::doses::dose_source_record(
                &row, &reference, batch_id,
            ));
            owners.push(d.person_id);
        }
        let decisions: Vec<store::LinkDecision> = records
            .iter()
            .zip(&owners)
            .map(|(r, p)| store::LinkDecision {
                record_id: r.id,
                status: store::LinkStatus::Linked,
                person_id: Some(*p),
                probability: None,
                decided_by: "demo".into(),
                candidates: None,
            })
            .collect();
        // Stored with their links in one write (a record already stored keeps its own).
        let inserted = store
            .insert_decided_records(&records, &decisions, None)
            .await?;
        report.doses += inserted.len();
        statistics.after(store, report.doses as u64).await?;
    }
    let mut vaccinated: Vec<uuid::Uuid> = history.doses.iter().map(|d| d.person_id).collect();
    vaccinated.dedup();
    report.vaccinated_persons = vaccinated.len();
    store
        .append_audit(&domain::audit::NewAuditEntry {
            at: chrono::Utc::now(),
            actor_id: None,
            actor: Some("phongdich demo".into()),
            action: "dose.demo_load".into(),
            entity_type: Some("province".into()),
            entity_id: Some(params.province_code.clone()),
            unit_code: Some(params.province_code.clone()),
            ip: None,
            details: serde_json::json!({
                "sites": report.sites,
                "lots": report.lots,
                "doses": report.doses,
                "seed": params.seed,
            }),
        })
        .await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// EU DCC product codes of the demo doses (Comirnaty, Vaxzevria, Vero Cell).
const DEMO_VACCINES: [&str; 3] = ["EU/1/20/1528", "EU/1/21/1529", "BBIBP-CorV"];

/// Dose records as vaccination sites would type them (2% of the persons, at most 3,000),
/// linked to the register so the review queue and person pages have content.
async fn demo_records(
    store: &dyn Store,
    persons: &[domain::person::Person],
    seed: u64,
) -> anyhow::Result<intake::BatchSummary> {
    let n = (persons.len() / 50).min(3_000);
    if n == 0 {
        return Ok(intake::BatchSummary::default());
    }
    let batch_id = uuid::Uuid::now_v7();
    let mut records: Vec<store::NewSourceRecord> = demo::noisy::noisy_records_of(persons, n, seed)
        .into_iter()
        .enumerate()
        .map(|(i, r)| store::NewSourceRecord {
            id: uuid::Uuid::now_v7(),
            kind: store::RecordKind::Dose,
            source: "DEMO-TRAM".into(),
            external_id: r.row.id.clone(),
            full_name: r.row.full_name,
            dob: r.row.dob,
            sex: r.row.sex,
            national_id: r.row.national_id,
            commune_code: r.row.commune_code,
            phone: r.row.phone,
            payload: serde_json::json!({
                "vaccine": DEMO_VACCINES[i % DEMO_VACCINES.len()],
                "dose_number": 1 + i % 2,
            }),
            batch_id,
        })
        .collect();
    // Sparse records (name and birth year only), as from a hand-written list: several register
    // persons fit, so they wait for review.
    for (k, p) in persons.iter().step_by(97).take(30).enumerate() {
        records.push(store::NewSourceRecord {
            id: uuid::Uuid::now_v7(),
            kind: store::RecordKind::Dose,
            source: "DEMO-TRAM".into(),
            external_id: format!("S{:04}", k + 1),
            full_name: domain::name::fold(&p.full_name),
            dob: chrono::Datelike::year(&p.dob).to_string(),
            sex: p.sex.as_str().into(),
            national_id: String::new(),
            commune_code: String::new(),
            phone: String::new(),
            payload: serde_json::json!({"vaccine": DEMO_VACCINES[0], "dose_number": 1}),
            batch_id,
        });
    }
    Ok(intake::link_batch(store, &records, None).await?)
}

/// What loading the demo epidemic did ([`demo::epidemic`]).
#[derive(Debug, Default, Serialize)]
pub struct EpidemicReport {
    /// The load day in Vietnam: the current outbreak covers the 14 days up to it.
    pub today: Option<NaiveDate>,
    /// Cases of the 2022 Omicron wave (all closed), their attack rate, severe or critical
    /// cases and deaths.
    pub wave_cases: usize,
    pub wave_attack_rate: f64,
    pub wave_severe: usize,
    pub wave_deaths: usize,
    /// Test rows of the wave, stored with their cases in bulk.
    pub wave_tests: usize,
    /// Test rows of the current outbreak, sent through `intake::lab_tests::record_tests`.
    pub current_tests: intake::lab_tests::TestImportSummary,
    pub positive_tests: usize,
    pub negative_tests: usize,
    /// Cases of the current outbreak, those still open, and how their check-ins end.
    pub current_cases: usize,
    pub current_open: usize,
    pub checkins: usize,
    pub warning_cases: usize,
    pub emergency_cases: usize,
    pub overdue_cases: usize,
    pub contacts: usize,
    pub contacts_became_cases: usize,
    pub clusters: usize,
    pub sample_sessions: usize,
    pub samples: usize,
    pub declarations: usize,
    pub border_counts: usize,
    /// Entrants at the border gates over the 14 days, those from variant areas, and how many
    /// of the latter declared.
    pub entrants: i64,
    pub variant_entrants: i64,
    pub variant_declared: i64,
    /// Current-outbreak cases the linkage did not give back (none expected).
    pub unmatched_cases: usize,
    /// Weekly epidemic level runs: two weeks of the 2022 peak and last week approved, this
    /// week proposed; units of last week's run in crisis.
    pub level_runs: usize,
    pub level_crisis_units: i64,
    pub generate_seconds: f64,
    /// Storing the wave; the current tests, cases and check-ins; the outbreak response
    /// (clusters, contacts, samples, border).
    pub wave_seconds: f64,
    pub current_seconds: f64,
    pub response_seconds: f64,
    pub seconds: f64,
}

/// Wave tests stored per transaction (whole sample dates only).
const WAVE_CHUNK: usize = 5_000;
/// Name of the actor of the demo's writes.
const DEMO_ACTOR: &str = "phongdich demo";
/// User name recorded on check-ins entered by the commune health station.
const STATION_USER: &str = "tramyte";

/// The instant `minutes` after local midnight of `day` in Vietnam (UTC+7).
fn vn_instant(day: NaiveDate, minutes: i64) -> DateTime<Utc> {
    domain::vietnam_time::start_of_day(day) + TimeDelta::minutes(minutes)
}

fn audit_entry(
    at: DateTime<Utc>,
    action: &str,
    entity_type: &str,
    entity_id: impl ToString,
    unit: &str,
    details: serde_json::Value,
) -> NewAuditEntry {
    NewAuditEntry {
        at,
        actor_id: None,
        actor: Some(DEMO_ACTOR.into()),
        action: action.into(),
        entity_type: Some(entity_type.into()),
        entity_id: Some(entity_id.to_string()),
        unit_code: (!unit.is_empty()).then(|| unit.to_string()),
        ip: None,
        details,
    }
}

/// Generates the epidemic of the population ([`demo::epidemic`]) as of `now` and stores it:
/// the wave here (before the doses), the rest in [`finish_epidemic`].
///
/// The 2022 wave is history: its tests go in as `test` source records already linked to their
/// persons and its cases as decided by the generator (closed, with severity, care and outcome),
/// in a few transactions through [`store::CaseStore::insert_test_batch`] — the labs knew whom
/// they tested, as the vaccination sites knew whom they vaccinated. The current outbreak goes
/// through the application's own paths: its tests through linkage and the episode rules
/// ([`intake::lab_tests::record_tests`], one batch per sample date), its cases completed
/// ([`store::CaseStore::update_case`]), check-ins through the home-care rules
/// ([`intake::care::record_checkin`]), recoveries through [`intake::care::discharge`]; then
/// clusters, contacts, the sampling session and the border declarations through
/// [`store::OutbreakStore`], each write with its audit entry.
async fn start_epidemic(
    store: &dyn Store,
    population: &demo::DemoPopulation,
    history: &demo::vaccination::VaccinationHistory,
    params: &demo::DemoParams,
    now: DateTime<Utc>,
) -> anyhow::Result<(EpidemicHistory, EpidemicReport)> {
    let started = Instant::now();
    let today = intake::care::local_date(now);
    let units = domain::units::AdminUnits::embedded();
    let e = demo::epidemic::epidemic_history(population, history, units, params.seed, today);
    let generate_seconds = started.elapsed().as_secs_f64();
    let persons: HashMap<Uuid, &Person> = population.persons.iter().map(|p| (p.id, p)).collect();
    let first_current = today - TimeDelta::days(13);
    let wave_tests: Vec<&DemoTest> = e
        .tests
        .iter()
        .filter(|t| t.row.sample_date < first_current)
        .collect();
    let wave_cases: Vec<&DemoCase> = e.cases.iter().filter(|c| !c.current).collect();
    let phase = Instant::now();
    load_wave(store, &wave_tests, &wave_cases, &persons).await?;
    let wave_seconds = phase.elapsed().as_secs_f64();
    let report = EpidemicReport {
        today: Some(today),
        wave_cases: e.counts.wave_cases,
        wave_attack_rate: e.counts.wave_attack_rate,
        wave_severe: e.counts.wave_severe,
        wave_deaths: e.counts.wave_deaths,
        wave_tests: wave_tests.len(),
        positive_tests: e.counts.positive_tests,
        negative_tests: e.counts.negative_tests,
        current_cases: e.counts.current_cases,
        current_open: e.counts.current_open,
        warning_cases: e.counts.warning_cases,
        emergency_cases: e.counts.emergency_cases,
        overdue_cases: e.counts.overdue_cases,
        contacts_became_cases: e.counts.contacts_became_cases,
        entrants: e.counts.entrants,
        variant_entrants: e.counts.variant_entrants,
        variant_declared: e.counts.variant_declared,
        generate_seconds,
        wave_seconds,
        seconds: started.elapsed().as_secs_f64(),
        ..EpidemicReport::default()
    };
    Ok((e, report))
}

/// Stores the current outbreak of `e` (see [`start_epidemic`]).
async fn finish_epidemic(
    store: &dyn Store,
    population: &demo::DemoPopulation,
    e: &EpidemicHistory,
    mut report: EpidemicReport,
    params: &demo::DemoParams,
    now: DateTime<Utc>,
) -> anyhow::Result<EpidemicReport> {
    let started = Instant::now();
    let phase = started;
    let today = intake::care::local_date(now);
    let persons: HashMap<Uuid, &Person> = population.persons.iter().map(|p| (p.id, p)).collect();
    let first_current = today - TimeDelta::days(13);
    let current_tests: Vec<&DemoTest> = e
        .tests
        .iter()
        .filter(|t| t.row.sample_date >= first_current)
        .collect();

    // Current tests, one batch per sample date, received when the last result of the day came.
    for day in current_tests.chunk_by(|a, b| a.row.sample_date == b.row.sample_date) {
        let rows: Vec<domain::test_record::TestRow> = day.iter().map(|t| t.row.clone()).collect();
        let received_at = day
            .iter()
            .map(|t| t.received_at)
            .max()
            .unwrap_or(now)
            .min(now);
        let entry = audit_entry(
            received_at,
            "test.import",
            "lab_test_batch",
            day[0].row.sample_date,
            &params.province_code,
            serde_json::json!({"rows": rows.len(), "source": "demo"}),
        );
        let summary =
            intake::lab_tests::record_tests(store, &rows, received_at, Some(&entry)).await?;
        report.current_tests.add(&summary);
    }
    report.current_tests.new_case_persons.clear();

    // The cases those tests opened, by the record id of their opening test.
    let current: Vec<&DemoCase> = e.cases.iter().filter(|c| c.current).collect();
    let person_ids: Vec<Uuid> = current.iter().map(|c| c.person_id).collect();
    let latest: HashMap<Uuid, Case> = store
        .latest_cases_of_persons(&person_ids)
        .await?
        .into_iter()
        .filter_map(|c| Some((c.person_id?, c)))
        .collect();
    let mut case_of: HashMap<&str, Case> = HashMap::new();
    for c in &current {
        let found = match latest.get(&c.person_id) {
            Some(k) if k.first_positive == c.first_positive => Some(k.clone()),
            _ => store
                .cases_of_person(c.person_id)
                .await?
                .into_iter()
                .find(|k| k.first_positive == c.first_positive),
        };
        match found {
            Some(k) => {
                case_of.insert(c.record_id.as_str(), k);
            }
            None => report.unmatched_cases += 1,
        }
    }

    // What the tests do not say: onset, source, risk factors, severity, care, note.
    for c in &current {
        let Some(stored) = case_of.get_mut(c.record_id.as_str()) else {
            continue;
        };
        let mut k = stored.clone();
        let ruleset = CaseRules::embedded().at(c.first_positive);
        let vaccination = serde_json::from_value::<RiskGroup>(k.risk.clone())
            .map(|r| r.vaccination)
            .unwrap_or(c.vaccination);
        let risk = ruleset.risk_group(c.age_years, &c.comorbidities, c.pregnant, vaccination);
        k.onset = c.onset;
        k.detection_source = c.detection_source;
        k.high_risk = risk.high_risk;
        k.risk = serde_json::to_value(&risk)?;
        k.severity = c.severity;
        k.care_setting = c.care_setting;
        k.on_oxygen = c.on_oxygen;
        k.note = c.note.clone();
        let at = k.reported_at + TimeDelta::minutes(30);
        k.updated_at = at;
        let entry = audit_entry(
            at,
            "case.update",
            "case",
            k.id,
            &k.units.commune_code,
            serde_json::json!({"source": "demo", "severity": k.severity, "detection_source": k.detection_source}),
        );
        store.update_case(&k, &entry).await?;
        *stored = k;
    }

    // Check-ins through the home-care rules, in time order per case.
    for k in &e.checkins {
        let Some(case) = case_of.get(k.record_id.as_str()) else {
            continue;
        };
        if k.at > now {
            continue;
        }
        let input: intake::care::CheckInInput = serde_json::from_value(k.vitals.clone())?;
        let by = if k.by_citizen {
            intake::care::CITIZEN
        } else {
            STATION_USER
        };
        let entry = audit_entry(
            k.at,
            "case.checkin",
            "case",
            case.id,
            &case.units.commune_code,
            serde_json::json!({"by": by, "source": "demo"}),
        );
        intake::care::record_checkin(store, case.id, &input, by, k.at, &entry).await?;
        report.checkins += 1;
    }

    // Recoveries: discharged on the day of their negative rapid test.
    for c in &current {
        let (Some(case), Some(day)) = (case_of.get(c.record_id.as_str()), c.outcome_date) else {
            continue;
        };
        let at = vn_instant(day, 20 * 60 + 30).min(now);
        let entry = audit_entry(
            at,
            "case.discharge",
            "case",
            case.id,
            &case.units.commune_code,
            serde_json::json!({"source": "demo"}),
        );
        let request = intake::care::DischargeRequest::default();
        intake::care::discharge(store, case.id, day, &request, &entry).await?;
    }
    let case_ids: HashMap<&str, Uuid> = case_of.iter().map(|(r, c)| (*r, c.id)).collect();
    report.current_seconds = phase.elapsed().as_secs_f64();
    let phase = Instant::now();
    report.clusters = load_clusters(store, e, &case_ids, now).await?;
    report.contacts = load_contacts(store, e, &case_ids, &persons, today, now).await?;
    (report.sample_sessions, report.samples) = load_samples(store, e, &persons, now).await?;
    (report.declarations, report.border_counts) =
        load_border(store, e, &case_ids, &persons, today, now).await?;
    (report.level_runs, report.level_crisis_units) =
        load_levels(store, &params.province_code, today, now).await?;
    report.response_seconds = phase.elapsed().as_secs_f64();
    store
        .append_audit(&audit_entry(
            now,
            "epidemic.demo_load",
            "province",
            &params.province_code,
            &params.province_code,
            serde_json::json!({
                "seed": params.seed,
                "today": today,
                "wave_cases": report.wave_cases,
                "wave_tests": report.wave_tests,
                "current_cases": report.current_cases,
            }),
        ))
        .await?;
    report.seconds += started.elapsed().as_secs_f64();
    Ok(report)
}

/// Weekly epidemic levels of the province as its officers would have made them: the first two
/// weeks of March 2022 (pre-2025 units), computed the Monday after and approved an hour later;
/// last week (2025 units), computed three days ago and approved, so it is in force now; and
/// this week, proposed and waiting for approval. Returns the runs made and the units of last
/// week's run in crisis.
async fn load_levels(
    store: &dyn Store,
    province: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, i64)> {
    use domain::units::UnitVersion;
    use intake::levels::{WeekRequest, week_of};
    let base = audit_entry(
        now,
        "level.assess",
        "province",
        province,
        province,
        serde_json::json!({}),
    );
    let mut weeks: Vec<(UnitVersion, NaiveDate, DateTime<Utc>, bool)> = Vec::new();
    for monday in ["2022-02-28", "2022-03-07"] {
        let start: NaiveDate = monday.parse()?;
        let computed = (start + TimeDelta::days(7))
            .and_hms_opt(2, 0, 0)
            .expect("a valid time")
            .and_utc();
        weeks.push((UnitVersion::Pre2025, start, computed, true));
    }
    let this_week = week_of(today);
    weeks.push((
        UnitVersion::V2025,
        this_week - TimeDelta::days(7),
        now - TimeDelta::days(3),
        true,
    ));
    weeks.push((UnitVersion::V2025, this_week, now, false));
    let mut crisis = 0;
    for (hierarchy, week_start, computed, approve) in &weeks {
        let req = WeekRequest {
            province_code: province.to_string(),
            hierarchy: *hierarchy,
            week_start: *week_start,
            ruleset: None,
        };
        let (run, _) =
            intake::levels::assess_week(store, &req, DEMO_ACTOR, *computed, &base).await?;
        if *approve {
            intake::levels::approve(
                store,
                run.id,
                DEMO_ACTOR,
                *computed + TimeDelta::hours(1),
                &base,
            )
            .await?;
        }
        if *week_start == this_week - TimeDelta::days(7) {
            crisis = run.crisis_units;
        }
    }
    Ok((weeks.len(), crisis))
}

/// Stores the wave's tests with their closed cases, in transactions of whole sample dates.
async fn load_wave(
    store: &dyn Store,
    tests: &[&DemoTest],
    cases: &[&DemoCase],
    persons: &HashMap<Uuid, &Person>,
) -> anyhow::Result<()> {
    // Each case's episode: from its first positive to its outcome.
    let mut episodes: HashMap<Uuid, Vec<(NaiveDate, NaiveDate, usize)>> = HashMap::new();
    let opening: HashMap<&str, usize> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| (c.record_id.as_str(), i))
        .collect();
    for (i, c) in cases.iter().enumerate() {
        let end = c.outcome_date.unwrap_or(c.first_positive);
        episodes
            .entry(c.person_id)
            .or_default()
            .push((c.first_positive, end, i));
    }
    let episode_of = |t: &DemoTest| {
        episodes.get(&t.person_id).and_then(|v| {
            v.iter()
                .find(|(from, to, _)| (*from..=*to).contains(&t.row.sample_date))
                .map(|e| e.2)
        })
    };
    let ids: Vec<Uuid> = cases.iter().map(|_| Uuid::now_v7()).collect();
    let mut last_positive: Vec<NaiveDate> = cases.iter().map(|c| c.first_positive).collect();
    for t in tests {
        if t.row.result == TestResult::Positive
            && let Some(i) = episode_of(t)
        {
            last_positive[i] = last_positive[i].max(t.row.sample_date);
        }
    }
    let batch_id = Uuid::now_v7();
    let mut rest = tests;
    while !rest.is_empty() {
        let mut end = rest.len().min(WAVE_CHUNK);
        while end < rest.len() && rest[end].row.sample_date == rest[end - 1].row.sample_date {
            end += 1;
        }
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        let mut batch = store::TestBatch::default();
        for t in chunk {
            let p = persons
                .get(&t.person_id)
                .context("test of a person not in the demo population")?;
            let record = intake::lab_tests::test_source_record(&t.row, batch_id);
            let episode = episode_of(t);
            if let Some(&i) = opening.get(t.row.record_id.as_str()) {
                batch.changes.push(CaseChange::Open(wave_case(
                    cases[i],
                    ids[i],
                    record.id,
                    p,
                    t.received_at,
                    last_positive[i],
                )));
            }
            batch.tests.push(LabTest {
                id: record.id,
                units: CaseUnits::of_person(p),
                person_id: Some(p.id),
                lab_code: t.row.lab_code.clone(),
                sample_date: t.row.sample_date,
                test_type: t.row.test_type,
                result: t.row.result,
                case_id: episode.map(|i| ids[i]),
                sample_id: None,
                received_at: t.received_at,
            });
            batch.decisions.push(store::LinkDecision {
                record_id: record.id,
                status: store::LinkStatus::Linked,
                person_id: Some(p.id),
                probability: None,
                decided_by: "demo".into(),
                candidates: None,
            });
            batch.records.push(record);
        }
        store.insert_test_batch(&batch, None).await?;
    }
    Ok(())
}

/// A closed case of the wave as the generator decided it (fields as `intake::lab_tests` opens
/// cases, then completed by staff).
fn wave_case(
    c: &DemoCase,
    id: Uuid,
    record_id: Uuid,
    p: &Person,
    reported_at: DateTime<Utc>,
    last_positive: NaiveDate,
) -> Case {
    let rules = CaseRules::embedded();
    let ruleset = rules.at(c.first_positive);
    let risk = ruleset.risk_group(c.age_years, &c.comorbidities, c.pregnant, c.vaccination);
    let closed_at = c
        .outcome_date
        .map_or(reported_at, |d| vn_instant(d, 17 * 60));
    Case {
        id,
        units: CaseUnits::of_person(p),
        person_id: Some(p.id),
        source_record_id: record_id,
        full_name: p.full_name.clone(),
        dob: Some(p.dob),
        sex: p.sex.as_str().into(),
        phone: p
            .phone
            .as_ref()
            .map(|x| x.as_str().to_string())
            .unwrap_or_default(),
        status: if c.outcome.is_some() {
            CaseStatus::Closed
        } else {
            CaseStatus::Open
        },
        classification: Classification::Confirmed,
        first_positive: c.first_positive,
        last_positive,
        onset: c.onset,
        detection_source: c.detection_source,
        high_risk: risk.high_risk,
        risk: serde_json::to_value(&risk).unwrap_or_default(),
        severity: c.severity,
        care_setting: c.care_setting,
        on_oxygen: c.on_oxygen,
        outcome: c.outcome,
        outcome_date: c.outcome_date,
        isolation_end: ruleset.isolation_end(c.first_positive),
        followup_until: ruleset.followup_until(c.first_positive),
        disease_group: format!("{:?}", rules.disease_group(c.first_positive)),
        reported_at,
        report_deadline: ruleset.report_deadline(c.first_positive),
        report_met: ruleset.report_met(c.first_positive, reported_at),
        last_checkin_at: None,
        alert: AlertLevel::None,
        alert_reasons: serde_json::json!([]),
        ruleset: ruleset.id.clone(),
        cluster_id: None,
        note: c.note.clone(),
        created_at: reported_at,
        updated_at: closed_at.max(reported_at),
    }
}

/// Stores the clusters of the current outbreak and puts their cases in them.
async fn load_clusters(
    store: &dyn Store,
    e: &EpidemicHistory,
    case_ids: &HashMap<&str, Uuid>,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let units = domain::units::AdminUnits::embedded();
    let rules = CaseRules::embedded();
    for k in &e.clusters {
        let seq = k.sequencing.as_ref();
        let created_at = vn_instant(k.opened_on, 17 * 60).min(now);
        let cluster = store::Cluster {
            id: Uuid::now_v7(),
            units: intake::outbreaks::units_of_commune(
                units,
                domain::units::UnitVersion::V2025,
                &k.commune_code,
            )?,
            name: k.name.clone(),
            place: k.place.clone(),
            opened_on: k.opened_on,
            last_case_on: Some(k.last_case_on),
            ends_on: Some(rules.cluster_end(k.last_case_on)),
            closed: false,
            zoning: if k.unusual {
                store::Zoning::Zoned
            } else {
                store::Zoning::None
            },
            unusual: k.unusual,
            unusual_reason: k.unusual_reason.clone(),
            sequencing: match (k.unusual, seq) {
                (_, Some(_)) => store::Sequencing::Resulted,
                (true, None) => store::Sequencing::ToSample,
                (false, None) => store::Sequencing::NotNeeded,
            },
            sample_referred_on: seq.map(|s| s.referred_on),
            sequencing_lab: seq.map(|s| s.lab.clone()).unwrap_or_default(),
            variant: seq.map(|s| s.variant.clone()).unwrap_or_default(),
            variant_result_on: seq.map(|s| s.result_on),
            created_at,
            updated_at: seq.map_or(created_at, |s| vn_instant(s.result_on, 16 * 60).min(now)),
        };
        let commune = cluster.units.commune_code.clone();
        store
            .save_cluster(
                &cluster,
                &audit_entry(
                    created_at,
                    "cluster.create",
                    "cluster",
                    cluster.id,
                    &commune,
                    serde_json::json!({"name": cluster.name, "source": "demo"}),
                ),
            )
            .await?;
        let members: Vec<Uuid> = k
            .members
            .iter()
            .filter_map(|r| case_ids.get(r.as_str()).copied())
            .collect();
        if !members.is_empty() {
            store
                .assign_cases_to_cluster(
                    &members,
                    Some(&cluster),
                    &audit_entry(
                        now,
                        "cluster.cases_add",
                        "cluster",
                        cluster.id,
                        &commune,
                        serde_json::json!({"cases": members, "source": "demo"}),
                    ),
                )
                .await?;
        }
    }
    Ok(e.clusters.len())
}

/// Stores the contacts (F1) of the current cases.
async fn load_contacts(
    store: &dyn Store,
    e: &EpidemicHistory,
    case_ids: &HashMap<&str, Uuid>,
    persons: &HashMap<Uuid, &Person>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut stored = 0;
    for k in &e.contacts {
        let (Some(&case_id), Some(p)) = (
            case_ids.get(k.index_record_id.as_str()),
            persons.get(&k.person_id),
        ) else {
            continue;
        };
        let became = k
            .became_case_record_id
            .as_deref()
            .and_then(|r| case_ids.get(r).copied());
        let status = if became.is_some() {
            store::ContactStatus::BecameCase
        } else if k.monitor_until < today {
            store::ContactStatus::Released
        } else {
            store::ContactStatus::Monitoring
        };
        let created_at = vn_instant(k.last_exposure + TimeDelta::days(1), 10 * 60).min(now);
        let contact = store::Contact {
            id: Uuid::now_v7(),
            case_id,
            units: CaseUnits::of_person(p),
            person_id: Some(p.id),
            full_name: p.full_name.clone(),
            phone: p
                .phone
                .as_ref()
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
            national_id: p
                .national_id
                .as_ref()
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
            relation: k.relation.clone(),
            last_exposure: k.last_exposure,
            quarantine_until: Some(k.monitor_until),
            quarantine_place: k.quarantine_place.clone(),
            status,
            became_case_id: became,
            note: String::new(),
            created_at,
            updated_at: created_at,
        };
        store
            .save_contact(
                &contact,
                &audit_entry(
                    created_at,
                    "contact.add",
                    "contact",
                    contact.id,
                    &contact.units.commune_code,
                    serde_json::json!({"case_id": case_id, "relation": contact.relation, "source": "demo"}),
                ),
            )
            .await?;
        stored += 1;
    }
    Ok(stored)
}

/// Stores the sampling sessions with their samples (pools, then the break-down of the positive
/// pool); the single samples' results are among the current tests (record id = sample code).
async fn load_samples(
    store: &dyn Store,
    e: &EpidemicHistory,
    persons: &HashMap<Uuid, &Person>,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, usize)> {
    let units = domain::units::AdminUnits::embedded();
    let mut samples_stored = 0;
    for s in &e.sample_sessions {
        let created_at = s
            .samples
            .iter()
            .map(|x| x.collected_at)
            .min()
            .unwrap_or(now)
            .min(now);
        let session = store::SampleSession {
            id: Uuid::now_v7(),
            units: intake::outbreaks::units_of_commune(
                units,
                domain::units::UnitVersion::V2025,
                &s.commune_code,
            )?,
            place: s.place.clone(),
            held_on: s.held_on,
            lab_code: s.lab_code.clone(),
            created_by: STATION_USER.into(),
            created_at,
        };
        let commune = session.units.commune_code.clone();
        store
            .save_sample_session(
                &session,
                &audit_entry(
                    created_at,
                    "sample_session.create",
                    "sample_session",
                    session.id,
                    &commune,
                    serde_json::json!({"lab_code": session.lab_code, "source": "demo"}),
                ),
            )
            .await?;
        let ids: Vec<Uuid> = s.samples.iter().map(|_| Uuid::now_v7()).collect();
        let samples: Vec<store::Sample> = s
            .samples
            .iter()
            .zip(&ids)
            .map(|(x, &id)| store::Sample {
                id,
                session_id: session.id,
                province_code: session.units.province_code.clone(),
                code: x.code.clone(),
                members: x
                    .members
                    .iter()
                    .map(|m| {
                        let p = persons.get(m);
                        store::SampleMember {
                            person_id: p.map(|p| p.id),
                            full_name: p.map(|p| p.full_name.clone()).unwrap_or_default(),
                            national_id: p
                                .and_then(|p| p.national_id.as_ref())
                                .map(|n| n.as_str().to_string())
                                .unwrap_or_default(),
                            phone: p
                                .and_then(|p| p.phone.as_ref())
                                .map(|n| n.as_str().to_string())
                                .unwrap_or_default(),
                        }
                    })
                    .collect(),
                pool_id: x.pool.map(|i| ids[i]),
                lab_code: s.lab_code.clone(),
                collected_at: x.collected_at,
                received_at: Some(x.received_at),
                resulted_at: Some(x.resulted_at),
                result: Some(x.result),
                status: store::SampleStatus::Resulted,
            })
            .collect();
        store
            .save_samples(
                &samples,
                &audit_entry(
                    created_at,
                    "sample.collect",
                    "sample_session",
                    session.id,
                    &commune,
                    serde_json::json!({"samples": samples.len(), "source": "demo"}),
                ),
            )
            .await?;
        samples_stored += samples.len();
    }
    Ok((e.sample_sessions.len(), samples_stored))
}

/// Stores the border gates' daily counts and the entrants' declarations.
async fn load_border(
    store: &dyn Store,
    e: &EpidemicHistory,
    case_ids: &HashMap<&str, Uuid>,
    persons: &HashMap<Uuid, &Person>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, usize)> {
    let units = domain::units::AdminUnits::embedded();
    let province = e
        .gates
        .first()
        .and_then(|g| units.v2025.province_of(&g.commune_code))
        .map(|p| p.code.clone())
        .unwrap_or_default();
    for b in &e.border_counts {
        let at = vn_instant(b.day, 21 * 60).min(now);
        let count = store::BorderCount {
            gate_code: b.gate_code.clone(),
            province_code: province.clone(),
            day: b.day,
            entrants: b.entrants,
            from_variant_areas: b.from_variant_areas,
        };
        store
            .save_border_count(
                &count,
                &audit_entry(
                    at,
                    "border.count",
                    "border_count",
                    format!("{}/{}", b.gate_code, b.day),
                    &province,
                    serde_json::json!({"entrants": b.entrants, "source": "demo"}),
                ),
            )
            .await?;
    }
    for d in &e.declarations {
        let at = vn_instant(d.entered_on, 9 * 60).min(now);
        let destination = match d.person_id.and_then(|p| persons.get(&p)) {
            Some(p) => CaseUnits::of_person(p),
            None => intake::outbreaks::units_of_commune(
                units,
                domain::units::UnitVersion::V2025,
                &d.commune_code,
            )?,
        };
        let status = match d.status.as_str() {
            "following" if d.followup_until < today => "completed",
            s => s,
        };
        let declaration = store::EntryDeclaration {
            id: Uuid::now_v7(),
            units: destination,
            full_name: d.full_name.clone(),
            document_number: d.document_number.clone(),
            phone: d.phone.clone(),
            gate_code: d.gate_code.clone(),
            entered_on: d.entered_on,
            from_area: d.from_area.clone(),
            variant_area: d.variant_area,
            followup_until: d.followup_until,
            status: status.into(),
            case_id: d
                .case_record_id
                .as_deref()
                .and_then(|r| case_ids.get(r).copied()),
            created_at: at,
        };
        store
            .save_entry_declaration(
                &declaration,
                &audit_entry(
                    at,
                    "entry.declare",
                    "entry_declaration",
                    declaration.id,
                    &declaration.units.commune_code,
                    serde_json::json!({"gate_code": d.gate_code, "source": "demo"}),
                ),
            )
            .await?;
    }
    Ok((e.declarations.len(), e.border_counts.len()))
}

pub async fn run(args: Args, file: &FileConfig) -> anyhow::Result<()> {
    let url = file.database_url(args.db.database);
    let store = store::open(&url).await?;
    let params = demo::DemoParams {
        province_code: args.province,
        persons: args.persons,
        seed: args.seed,
        as_of: args.as_of,
    };
    // A given day is loaded as at noon of that day in Vietnam (after the last check-ins).
    let now = match args.today {
        Some(day) => vn_instant(day, 12 * 60),
        None => Utc::now(),
    };
    let report = load_with(
        store.as_ref(),
        &params,
        !args.no_vaccination,
        !args.no_epidemic,
        now,
    )
    .await
    .context("nạp dữ liệu mẫu thất bại")?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    store.close().await;
    Ok(())
}

/// Password of every demo account (printed at start; demo databases only).
pub const DEMO_PASSWORD: &str = "phongdich-demo";

/// One demo login.
pub struct DemoLogin {
    pub username: String,
    pub role: domain::auth::Role,
    pub scope: String,
}

/// Creates one user per role scoped inside the demo province (skipping ones that exist) and
/// returns the logins.
pub async fn ensure_demo_users(
    state: &server::AppState,
    province: &str,
) -> anyhow::Result<Vec<DemoLogin>> {
    use domain::auth::Role;
    let units = state.units;
    let commune = units
        .v2025
        .communes_under(province)
        .into_iter()
        .next()
        .context("tỉnh không có xã")?;
    // An old district whose communes now lie in this province.
    let district = units
        .pre2025
        .list(domain::units::UnitLevel::District, None)?
        .into_iter()
        .find(|d| {
            domain::auth::unit_covers(
                units,
                &domain::auth::UnitRef::new(domain::units::UnitVersion::V2025, province),
                &domain::auth::UnitRef::new(domain::units::UnitVersion::Pre2025, d.code.clone()),
            )
        })
        .map(|d| d.code.clone());
    let mut first = store::PersonQuery::new(store::PersonScope::Province(province.to_string()));
    first.limit = 1;
    let citizen = state
        .store
        .list_persons(&first)
        .await?
        .items
        .into_iter()
        .next();
    let province_unit = Some(province.to_string());
    let commune_unit = Some(commune);
    let account = |username, role, unit: &Option<String>, organisation| DemoAccount {
        username,
        role,
        unit: unit.clone(),
        organisation,
        person_id: None,
    };
    let plan = [
        account("admin", Role::Admin, &None, None),
        account(
            "tinh",
            Role::ProvinceOfficer,
            &province_unit,
            Some("CDC tỉnh"),
        ),
        account(
            "huyen",
            Role::DistrictOfficer,
            &district,
            Some("Trung tâm Y tế huyện"),
        ),
        account(
            "tramyte",
            Role::CommuneStaff,
            &commune_unit,
            Some("Trạm y tế xã"),
        ),
        account(
            "diemtiem",
            Role::VaccinationSite,
            &commune_unit,
            Some("Điểm tiêm trạm y tế"),
        ),
        account(
            "xetnghiem",
            Role::Lab,
            &province_unit,
            Some("Khoa xét nghiệm CDC"),
        ),
        account(
            "dieutri",
            Role::TreatmentFacility,
            &province_unit,
            Some("Bệnh viện đa khoa tỉnh"),
        ),
        account(
            "doanhnghiep",
            Role::Business,
            &commune_unit,
            Some("Công ty TNHH Mẫu"),
        ),
        DemoAccount {
            person_id: citizen.as_ref().map(|p| p.id),
            ..account("congdan", Role::Citizen, &None, None)
        },
        account("kiemtra", Role::Verifier, &None, Some("Cửa khẩu")),
    ];
    let mut logins = Vec::new();
    for a in plan {
        let needs_unit = !matches!(a.role, Role::Admin | Role::Citizen | Role::Verifier);
        if (needs_unit && a.unit.is_none()) || (a.role == Role::Citizen && a.person_id.is_none()) {
            continue;
        }
        create_if_missing(state, &a).await?;
        logins.push(DemoLogin {
            username: a.username.into(),
            role: a.role,
            scope: a.unit.unwrap_or_default(),
        });
    }
    Ok(logins)
}

/// One demo account to create.
struct DemoAccount {
    username: &'static str,
    role: domain::auth::Role,
    unit: Option<String>,
    organisation: Option<&'static str>,
    person_id: Option<uuid::Uuid>,
}

async fn create_if_missing(state: &server::AppState, a: &DemoAccount) -> anyhow::Result<()> {
    if state
        .store
        .find_user_by_username(a.username)
        .await?
        .is_some()
    {
        return Ok(());
    }
    server::auth::create_user(
        state,
        None,
        &server::auth::ClientIp(Some("demo".into())),
        server::auth::NewUser {
            username: a.username.into(),
            display_name: Some(format!("{} (mẫu)", a.role.label_vi())),
            password: DEMO_PASSWORD.into(),
            role: a.role.as_str().into(),
            unit: a.unit.clone(),
            unit_version: None,
            organisation: a.organisation.map(str::to_string),
            person_id: a.person_id,
        },
    )
    .await?;
    Ok(())
}
