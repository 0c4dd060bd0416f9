//! Helpers of `bench/immunization/run.sh` (issue 5, point 8).
//!
//! ```text
//! immunization_bench dose-csv --persons N --rows R [--seed S] [--province P] --out FILE
//! immunization_bench coverage --database URL --units CODE[,CODE…] [--requests 200]
//! ```
//!
//! `dose-csv` writes R dose rows (the import columns of `phongdich import doses`) from the
//! vaccination histories of the demo population that `phongdich demo --persons N --seed S
//! --province P` loads: the same persons (citizen ID, name, birth date, sex, commune, phone) and
//! realistic doses (site record numbers, products, dates, lots), the first R doses in person
//! order.
//!
//! `coverage` times `store::coverage_report` for each unit as of today and as of 2022-03-01,
//! `--requests` times each (after one warm-up request), and prints one JSON line per case with
//! p50, p95 and max in milliseconds.

use std::time::Instant;

use anyhow::{Context, bail};
use chrono::NaiveDate;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn required(args: &[String], name: &str) -> anyhow::Result<String> {
    arg(args, name).with_context(|| format!("missing {name}"))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dose-csv") => dose_csv(&args),
        Some("coverage") => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(coverage(&args)),
        _ => bail!("usage: immunization_bench dose-csv … | coverage …"),
    }
}

fn dose_csv(args: &[String]) -> anyhow::Result<()> {
    let params = demo::DemoParams {
        province_code: arg(args, "--province").unwrap_or_else(|| "12".into()),
        persons: required(args, "--persons")?.parse()?,
        seed: arg(args, "--seed")
            .unwrap_or_else(|| "2021".into())
            .parse()?,
        as_of: arg(args, "--as-of")
            .unwrap_or_else(|| "2026-01-01".into())
            .parse()?,
    };
    let rows: usize = required(args, "--rows")?.parse()?;
    let out = required(args, "--out")?;
    let units = domain::units::AdminUnits::embedded();
    let population = demo::generate(&params, units)?;
    let history = demo::vaccination::vaccination_history(
        &population.persons,
        units,
        params.seed,
        params.as_of,
    );
    let by_id: std::collections::HashMap<uuid::Uuid, &domain::person::Person> =
        population.persons.iter().map(|p| (p.id, p)).collect();
    let mut w = csv::Writer::from_path(&out)?;
    w.write_record(domain::dose_record::COLUMNS)?;
    let mut written = 0;
    for d in history.doses.iter().take(rows) {
        let p = by_id[&d.person_id];
        let dob = p.dob.to_string();
        w.write_record([
            d.record_id.as_str(),
            p.national_id.as_ref().map(|n| n.as_str()).unwrap_or(""),
            p.full_name.as_str(),
            dob.as_str(),
            p.sex.as_str(),
            p.commune_code.as_str(),
            p.phone.as_ref().map(|n| n.as_str()).unwrap_or(""),
            d.product.as_str(),
            d.date.to_string().as_str(),
            d.lot.as_str(),
            d.site_code.as_str(),
        ])?;
        written += 1;
    }
    w.flush()?;
    if written < rows {
        bail!(
            "only {written} doses in the history of {} persons",
            params.persons
        );
    }
    eprintln!(
        "wrote {written} dose rows ({} persons, {} doses in all) to {out}",
        params.persons,
        history.doses.len()
    );
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn coverage(args: &[String]) -> anyhow::Result<()> {
    let url = required(args, "--database")?;
    let requests: usize = arg(args, "--requests")
        .unwrap_or_else(|| "200".into())
        .parse()?;
    let units = required(args, "--units")?;
    let store = store::open(&url).await?;
    let today = domain::vietnam_time::local_date(chrono::Utc::now());
    let past = NaiveDate::from_ymd_opt(2022, 3, 1).expect("date");
    for code in units.split(',') {
        let unit = store::CoverageUnit::resolve(code, None)?;
        for as_of in [today, past] {
            let first = store::coverage_report(store.as_ref(), &unit, as_of).await?;
            let mut ms = Vec::with_capacity(requests);
            for _ in 0..requests {
                let t = Instant::now();
                let r = store::coverage_report(store.as_ref(), &unit, as_of).await?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
                std::hint::black_box(r);
            }
            ms.sort_by(f64::total_cmp);
            let all = first.groups.iter().find(|g| g.age_group == "all");
            let adults = first.groups.iter().find(|g| g.age_group == "18+");
            println!(
                "{}",
                serde_json::json!({
                    "backend": store.backend().as_str(),
                    "unit": code,
                    "hierarchy": unit.hierarchy.as_str(),
                    "as_of": as_of,
                    "requests": requests,
                    "population": all.map(|g| g.population),
                    "adults_at_least_one": adults.map(|g| g.at_least_one),
                    "adults": adults.map(|g| g.population),
                    "p50_ms": percentile(&ms, 0.50),
                    "p95_ms": percentile(&ms, 0.95),
                    "max_ms": ms.last(),
                })
            );
        }
    }
    store.close().await;
    Ok(())
}
