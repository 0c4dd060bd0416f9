//! Helpers of `bench/surveillance/run.sh` (issue 7, point 8).
//!
//! ```text
//! surveillance_bench test-csv --persons N --rows R [--seed S] [--province P] [--day D] --out FILE
//! surveillance_bench alert-queue --database URL --units CODE[,CODE…] [--hours-later H] [--requests 200]
//! ```
//!
//! `test-csv` writes R positive test rows (the import columns of `phongdich import tests`) for
//! the first R persons of the demo population that `phongdich demo --persons N --seed S
//! --province P` loads (their citizen ID, name, birth date, sex, commune and phone), all sampled
//! on day D (default 2022-03-10, near Vietnam's Omicron peak): 80% rapid antigen, 20% RT-PCR,
//! from ten labs — a national-peak day's load when R = 500,000.
//!
//! `alert-queue` times `intake::care::alert_queue` (what `GET /api/v1/alerts` and the commune's
//! alert page run) for each unit, as seen `--hours-later` hours (default 48) after the newest
//! case was reported — so every case without a check-in is overdue and in the queue, the worst
//! case — `--requests` times each after one warm-up, and prints one JSON line per unit with the
//! open cases of the unit's province, the queue length, p50, p95 and max in milliseconds. The
//! baseline, timed in the same loop right after each queue request, is the first page (500) of
//! the unit's open cases as `GET /api/v1/cases` lists them: the same number of full case rows
//! read without ranking; `ratio_p50` is queue p50 / baseline p50.

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
        Some("test-csv") => test_csv(&args),
        Some("alert-queue") => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(alert_queue(&args)),
        _ => bail!("usage: surveillance_bench test-csv … | alert-queue …"),
    }
}

fn test_csv(args: &[String]) -> anyhow::Result<()> {
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
    let day: NaiveDate = arg(args, "--day")
        .unwrap_or_else(|| "2022-03-10".into())
        .parse()?;
    let out = required(args, "--out")?;
    let units = domain::units::AdminUnits::embedded();
    let population = demo::generate(&params, units)?;
    if population.persons.len() < rows {
        bail!("only {} persons for {rows} rows", population.persons.len());
    }
    let mut w = csv::Writer::from_path(&out)?;
    w.write_record(domain::test_record::COLUMNS)?;
    let day_text = day.to_string();
    for (i, p) in population.persons.iter().take(rows).enumerate() {
        let dob = p.dob.to_string();
        let record_id = format!("XN{:08}", i + 1);
        let lab = format!("LAB{:02}", i % 10 + 1);
        let test_type = if i % 5 == 0 {
            "rt-pcr"
        } else {
            "rapid-antigen"
        };
        let record = [
            record_id.as_str(),
            p.national_id.as_ref().map(|n| n.as_str()).unwrap_or(""),
            p.full_name.as_str(),
            dob.as_str(),
            p.sex.as_str(),
            p.commune_code.as_str(),
            p.phone.as_ref().map(|n| n.as_str()).unwrap_or(""),
            day_text.as_str(),
            test_type,
            "positive",
            lab.as_str(),
        ];
        // Columns in the order of `domain::test_record::COLUMNS`.
        let by_name: std::collections::HashMap<&str, &str> = [
            "record_id",
            "national_id",
            "full_name",
            "dob",
            "sex",
            "commune_code",
            "phone",
            "sample_date",
            "test_type",
            "result",
            "lab_code",
        ]
        .into_iter()
        .zip(record)
        .collect();
        w.write_record(
            domain::test_record::COLUMNS
                .iter()
                .map(|c| by_name.get(c).copied().unwrap_or("")),
        )?;
    }
    w.flush()?;
    eprintln!("wrote {rows} positive test rows to {out}");
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn alert_queue(args: &[String]) -> anyhow::Result<()> {
    let url = required(args, "--database")?;
    let requests: usize = arg(args, "--requests")
        .unwrap_or_else(|| "200".into())
        .parse()?;
    let hours: i64 = arg(args, "--hours-later")
        .unwrap_or_else(|| "48".into())
        .parse()?;
    let store = store::open(&url).await?;
    let units = domain::units::AdminUnits::embedded();
    for code in required(args, "--units")?.split(',') {
        let unit = store::CoverageUnit::resolve(code, None)?;
        let scope = store::PersonScope::for_unit(units, unit.hierarchy, &unit.code)?;
        let province = units
            .hierarchy(unit.hierarchy)
            .province_of(&unit.code)
            .map(|p| p.code.clone())
            .context("unit without a province")?;
        let province_scope = store::PersonScope::for_unit(units, unit.hierarchy, &province)?;
        let query = store::CaseQuery {
            scope: province_scope,
            status: Some(domain::surveillance::CaseStatus::Open),
            from: None,
            to: None,
            limit: 1,
            offset: 0,
        };
        let page = store.list_cases(&query).await?;
        let open = page.total;
        let newest = page.items.first().map(|c| c.reported_at);
        let now = newest.context("no open case in the province")? + chrono::TimeDelta::hours(hours);
        let first = intake::care::alert_queue(store.as_ref(), &scope, now, 500).await?;
        // The baseline, timed in the same loop: the first page of the unit's open cases as the
        // case list reads it (the same number of full case rows, no ranking).
        let listing = store::CaseQuery {
            scope: scope.clone(),
            status: Some(domain::surveillance::CaseStatus::Open),
            from: None,
            to: None,
            limit: 500,
            offset: 0,
        };
        let mut ms = Vec::with_capacity(requests);
        let mut base = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            let q = intake::care::alert_queue(store.as_ref(), &scope, now, 500).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(q);
            let t = Instant::now();
            let l = store.list_cases(&listing).await?;
            base.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(l);
        }
        ms.sort_by(f64::total_cmp);
        base.sort_by(f64::total_cmp);
        println!(
            "{}",
            serde_json::json!({
                "backend": store.backend().as_str(),
                "unit": code,
                "open_cases_in_province": open,
                "queue": first.len(),
                "requests": requests,
                "p50_ms": percentile(&ms, 0.50),
                "p95_ms": percentile(&ms, 0.95),
                "max_ms": ms.last(),
                "baseline_listing_p50_ms": percentile(&base, 0.50),
                "baseline_listing_p95_ms": percentile(&base, 0.95),
                "ratio_p50": percentile(&ms, 0.50) / percentile(&base, 0.50),
            })
        );
    }
    store.close().await;
    Ok(())
}
