//! `phongdich demo`: generates a synthetic province ([`demo::generate`]) and loads it, then
//! rebuilds population denominators. Also used by `serve --demo` on an empty database.

use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use serde::Serialize;
use store::Store;

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
    /// Leave out the vaccination histories (register only; used by the dose import benchmark).
    #[arg(long, hide = true)]
    pub no_vaccination: bool,
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
    pub generate_seconds: f64,
    pub insert_seconds: f64,
    /// Persons per second over generation plus insertion.
    pub persons_per_second: f64,
}

/// Generates and inserts a demo population with its vaccination histories; the database must
/// not already hold these ids.
pub async fn load(store: &dyn Store, params: &demo::DemoParams) -> anyhow::Result<DemoReport> {
    load_with(store, params, true).await
}

/// [`load`], with or without the vaccination histories.
pub async fn load_with(
    store: &dyn Store,
    params: &demo::DemoParams,
    vaccination: bool,
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
    let vaccination = if vaccination {
        load_vaccination(store, &population.persons, params).await?
    } else {
        VaccinationReport::default()
    };
    let records = demo_records(store, &population.persons, params.seed).await?;
    let total = (generated + inserted).as_secs_f64();
    Ok(DemoReport {
        vaccination,
        records,
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
) -> anyhow::Result<VaccinationReport> {
    let started = Instant::now();
    let history = demo::vaccination::vaccination_history(
        persons,
        domain::units::AdminUnits::embedded(),
        params.seed,
        params.as_of,
    );
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

pub async fn run(args: Args, file: &FileConfig) -> anyhow::Result<()> {
    let url = file.database_url(args.db.database);
    let store = store::open(&url).await?;
    let params = demo::DemoParams {
        province_code: args.province,
        persons: args.persons,
        seed: args.seed,
        as_of: args.as_of,
    };
    let report = load_with(store.as_ref(), &params, !args.no_vaccination)
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
