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
}

/// What a demo load did, printed as JSON.
#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub province: String,
    pub households: usize,
    pub persons: usize,
    pub denominator_rows: usize,
    pub generate_seconds: f64,
    pub insert_seconds: f64,
    /// Persons per second over generation plus insertion.
    pub persons_per_second: f64,
}

/// Generates and inserts a demo population; the database must not already hold these ids.
pub async fn load(store: &dyn Store, params: &demo::DemoParams) -> anyhow::Result<DemoReport> {
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
    let total = (generated + inserted).as_secs_f64();
    Ok(DemoReport {
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

pub async fn run(args: Args, file: &FileConfig) -> anyhow::Result<()> {
    let url = file.database_url(args.db.database);
    let store = store::open(&url).await?;
    let params = demo::DemoParams {
        province_code: args.province,
        persons: args.persons,
        seed: args.seed,
        as_of: args.as_of,
    };
    let report = load(store.as_ref(), &params)
        .await
        .context("nạp dữ liệu mẫu thất bại")?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    store.close().await;
    Ok(())
}
