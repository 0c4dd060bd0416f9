//! Speed of the weekly epidemic-level assessment and of Rt estimation at national scale
//! (issue 8, point 5); the helper of `bench/levels/run.sh`.
//!
//! ```text
//! cargo build --release -p cli --example level_bench
//! target/release/examples/level_bench assess [--seed 2021] [--repeat 5] [--as-of 2022-03-07]
//! target/release/examples/level_bench rt [--units 10040] [--days 730] [--seed 2021] [--repeat 3] [--threads N]
//! ```
//!
//! `assess` builds deterministic synthetic weekly [`Indicators`] (ChaCha8 from `--seed`) for every
//! commune of the pre-2025 hierarchy (10,040 rows of the embedded list: 10,035 communes and five
//! island districts without communes, each assessed as its own lowest-tier unit): populations
//! log-uniform from 300 to 60,000, weekly case rates spread over the four transmission bands of
//! Decision 218 (10% of the communes without cases, 40% low, 20% medium, 15% high, 15% very
//! high), cases on oxygen, deaths, free and ICU beds, the three coverage fractions and last week's level, each optional input missing for
//! 10–30% of the communes. Then, `--repeat` times, it times (a) [`assess`] of every commune with
//! the ruleset in force on `--as-of` (qd-218-2022 by default, resolved for each province so that a
//! provincial override would apply), and (b) [`assess_aggregate`] of every pre-2025 district and
//! province from its communes. The baseline, timed in the same loop, is the pass any weekly run
//! needs anyway: cases per 100,000 for every commune, and cases and population summed per district
//! and per province in a `HashMap`, with the rate of each. One JSON line: units per tier, level
//! and crisis counts per tier, min and median milliseconds of each part and of the total, the
//! baseline and the ratio total / baseline (medians).
//!
//! `rt` builds `--units` synthetic daily incidence series of `--days` days (one to three epidemic
//! waves of random size, width and timing on a small background, a weekday reporting effect and
//! Poisson noise), and times [`estimate_rt`] with 7-day sliding windows and EpiEstim's default
//! prior for every series: sequentially, and split over `--threads` scoped threads (default: the
//! available parallelism; std only — rayon is not a dependency of any workspace crate). The
//! serial interval is [`discr_si`]`(4.7, 2.9)`, the COVID-19 serial interval of Nishiura, Linton
//! & Akhmetzhanov (2020), "Serial interval of novel coronavirus (COVID-19) infections", Int. J.
//! Infect. Dis. 93:284–286 (mean 4.7 days, SD 2.9). The baseline is a 7-day rolling sum over the
//! same series. A second reference, also timed in each repeat, computes what [`estimate_rt`]
//! computes except its seven Gamma quantiles per window (infectiousness, window sums, posterior
//! shape, scale, mean and sd), to show how much of the time the quantiles take. One JSON line:
//! series, days, windows computed, min and median milliseconds of each, and the ratios to the
//! baseline (medians).

use std::collections::HashMap;
use std::ops::Range;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use domain::epidemic_level::{
    Assessment, Indicators, Level, Ruleset, assess, assess_aggregate, ruleset_for_date,
};
use domain::rt::{DEFAULT_PRIOR_MEAN, DEFAULT_PRIOR_SD, discr_si, estimate_rt};
use domain::units::{AdminUnits, UnitLevel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};
use serde_json::json;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => {
            let raw = args
                .get(i + 1)
                .with_context(|| format!("{name} needs a value"))?;
            raw.parse()
                .map_err(|e| anyhow::anyhow!("{name} {raw}: {e}"))
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("assess") => assess_bench(&args),
        Some("rt") => rt_bench(&args),
        _ => bail!(
            "usage: level_bench assess [--seed S] [--repeat N] [--as-of DATE] | \
             rt [--units U] [--days D] [--seed S] [--repeat N] [--threads T]"
        ),
    }
}

/// Milliseconds since `t`.
fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// `(min, median)` of the samples.
fn min_median(samples: &[f64]) -> (f64, f64) {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    (s[0], median)
}

fn timing(samples: &[f64]) -> serde_json::Value {
    let (min, median) = min_median(samples);
    json!({ "min_ms": round3(min), "median_ms": round3(median) })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------------------------
// assess

/// The communes in (province, district, commune) order, so that every district's and every
/// province's communes form one contiguous slice.
struct Nation {
    /// Communes, and the island districts without communes (assessed as their own commune).
    communes: Vec<Indicators>,
    /// How many of `communes` are such districts.
    island_districts: usize,
    /// Province code of each commune.
    province_of: Vec<String>,
    /// Pre-2025 district code of each commune.
    district_of: Vec<String>,
    /// District code, its province, its communes, last week's level.
    districts: Vec<(String, String, Range<usize>, Option<Level>)>,
    /// Province code, its communes, last week's level.
    provinces: Vec<(String, Range<usize>, Option<Level>)>,
}

fn some_level(rng: &mut ChaCha8Rng, p: f64) -> Option<Level> {
    rng.random_bool(p)
        .then(|| Level::from_number(rng.random_range(1..=4)))
        .flatten()
}

/// Synthetic indicators of one commune (see the module docs).
fn synthetic_commune(code: &str, rng: &mut ChaCha8Rng) -> Indicators {
    let population = (300.0f64 * (200.0f64).powf(rng.random::<f64>())).round();
    // Weekly cases per 100,000, across Decision 218's bands (> 80, > 200, > 600) and beyond.
    // 10% without cases, 40% low, 20% medium, 15% high, 15% very high.
    let rate = match rng.random_range(0..20) {
        0..=1 => 0.0,
        2..=9 => rng.random_range(0.0..80.0),
        10..=13 => rng.random_range(80.0..200.0),
        14..=16 => rng.random_range(200.0..600.0),
        _ => rng.random_range(600.0..2500.0),
    };
    let cases = (rate * population / 100_000.0).round().min(population);
    let mut i = Indicators::new(code, population, cases);
    let per_100k = |x: f64| x * population / 100_000.0;
    if rng.random_bool(0.8) {
        i.oxygen_cases_7d_avg = Some((cases * rng.random_range(0.0..0.12) / 7.0).min(population));
    }
    if rng.random_bool(0.85) {
        i.deaths_week = Some((cases * rng.random_range(0.0..0.01)).round());
    }
    // Beds as rates (fractional counts: a commune's share of its district's beds).
    if rng.random_bool(0.7) {
        i.free_covid_beds = Some(per_100k(rng.random_range(5.0..120.0)));
    }
    if rng.random_bool(0.7) {
        i.icu_beds_staffed = Some(per_100k(rng.random_range(1.0..15.0)));
    }
    if rng.random_bool(0.9) {
        i.coverage_1dose_18plus = Some(rng.random_range(0.6..1.0));
    }
    if rng.random_bool(0.85) {
        i.coverage_full_50plus = Some(rng.random_range(0.7..1.0));
    }
    if rng.random_bool(0.85) {
        i.coverage_full_total = Some(rng.random_range(0.5..0.95));
    }
    i.previous_level = some_level(rng, 0.6);
    i
}

fn build_nation(seed: u64) -> anyhow::Result<Nation> {
    let h = &AdminUnits::embedded().pre2025;
    let mut communes: Vec<(String, String, String)> = h
        .list(UnitLevel::Commune, None)?
        .into_iter()
        .map(|u| {
            let district = u
                .parent_code
                .clone()
                .context("commune without a district")?;
            let province = h
                .province_of(&u.code)
                .map(|p| p.code.clone())
                .context("commune without a province")?;
            // Five island districts have no communes: their row in the source list has an
            // empty commune code. The district is then its own lowest-tier unit.
            let code = if u.code.is_empty() {
                district.clone()
            } else {
                u.code.clone()
            };
            Ok((province, district, code))
        })
        .collect::<anyhow::Result<_>>()?;
    communes.sort();
    let island_districts = communes.iter().filter(|(_, d, c)| d == c).count();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut nation = Nation {
        island_districts,
        communes: Vec::with_capacity(communes.len()),
        province_of: Vec::with_capacity(communes.len()),
        district_of: Vec::with_capacity(communes.len()),
        districts: Vec::new(),
        provinces: Vec::new(),
    };
    for (i, (province, district, code)) in communes.into_iter().enumerate() {
        nation.communes.push(synthetic_commune(&code, &mut rng));
        match nation.districts.last_mut() {
            Some(d) if d.0 == district => d.2.end = i + 1,
            _ => {
                let prev = some_level(&mut rng, 0.6);
                nation
                    .districts
                    .push((district.clone(), province.clone(), i..i + 1, prev));
            }
        }
        match nation.provinces.last_mut() {
            Some(p) if p.0 == province => p.1.end = i + 1,
            _ => {
                let prev = some_level(&mut rng, 0.6);
                nation.provinces.push((province.clone(), i..i + 1, prev));
            }
        }
        nation.province_of.push(province);
        nation.district_of.push(district);
    }
    Ok(nation)
}

/// The baseline: cases per 100,000 of every commune, and cases and population per district and
/// per province in a `HashMap` with their rates.
fn baseline_pass(n: &Nation) -> (f64, usize) {
    let mut sums: HashMap<&str, (f64, f64)> = HashMap::new();
    let mut checksum = 0.0;
    for ((c, d), p) in n.communes.iter().zip(&n.district_of).zip(&n.province_of) {
        checksum += c.new_cases_week * 100_000.0 / c.population;
        for key in [d.as_str(), p.as_str()] {
            let e = sums.entry(key).or_default();
            e.0 += c.new_cases_week;
            e.1 += c.population;
        }
    }
    for (cases, population) in sums.values() {
        checksum += cases * 100_000.0 / population;
    }
    (checksum, sums.len())
}

/// The ruleset of each province on `date` (overrides applied).
fn rulesets(n: &Nation, date: NaiveDate) -> anyhow::Result<HashMap<&str, Ruleset>> {
    n.provinces
        .iter()
        .map(|(code, _, _)| Ok((code.as_str(), ruleset_for_date(date, Some(code))?)))
        .collect()
}

fn assess_communes(n: &Nation, date: NaiveDate) -> anyhow::Result<Vec<Assessment>> {
    let rs = rulesets(n, date)?;
    n.communes
        .iter()
        .zip(&n.province_of)
        .map(|(c, p)| Ok(assess(&rs[p.as_str()], c)?))
        .collect()
}

fn assess_aggregates(
    n: &Nation,
    date: NaiveDate,
) -> anyhow::Result<(Vec<Assessment>, Vec<Assessment>)> {
    let rs = rulesets(n, date)?;
    let districts = n
        .districts
        .iter()
        .map(|(code, province, range, prev)| {
            Ok(assess_aggregate(
                &rs[province.as_str()],
                code,
                &n.communes[range.clone()],
                *prev,
            )?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let provinces = n
        .provinces
        .iter()
        .map(|(code, range, prev)| {
            Ok(assess_aggregate(
                &rs[code.as_str()],
                code,
                &n.communes[range.clone()],
                *prev,
            )?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((districts, provinces))
}

fn tally(assessments: &[Assessment]) -> serde_json::Value {
    let mut levels = [0usize; 4];
    for a in assessments {
        levels[a.level.number() as usize - 1] += 1;
    }
    json!({
        "units": assessments.len(),
        "levels": { "1": levels[0], "2": levels[1], "3": levels[2], "4": levels[3] },
        "crisis": assessments.iter().filter(|a| a.crisis).count(),
        "not_fully_assessed": assessments.iter().filter(|a| !a.not_assessed.is_empty()).count(),
    })
}

fn assess_bench(args: &[String]) -> anyhow::Result<()> {
    let seed: u64 = arg(args, "--seed", 2021)?;
    let repeat: usize = arg(args, "--repeat", 5)?;
    let date: NaiveDate = arg(
        args,
        "--as-of",
        NaiveDate::from_ymd_opt(2022, 3, 7).unwrap(),
    )?;
    if repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let nation = build_nation(seed)?;
    let ruleset = ruleset_for_date(date, None)?.id;
    let (mut base, mut communes, mut aggregates, mut total) = (vec![], vec![], vec![], vec![]);
    let mut result = None;
    for _ in 0..repeat {
        let t = Instant::now();
        std::hint::black_box(baseline_pass(&nation));
        base.push(ms(t));
        let t = Instant::now();
        let c = std::hint::black_box(assess_communes(&nation, date)?);
        let c_ms = ms(t);
        let t = Instant::now();
        let (d, p) = std::hint::black_box(assess_aggregates(&nation, date)?);
        let a_ms = ms(t);
        communes.push(c_ms);
        aggregates.push(a_ms);
        total.push(c_ms + a_ms);
        result = Some((c, d, p));
    }
    let (c, d, p) = result.context("no repeat")?;
    let (_, base_median) = min_median(&base);
    let (_, total_median) = min_median(&total);
    println!(
        "{}",
        json!({
            "mode": "assess",
            "seed": seed,
            "as_of": date,
            "ruleset": ruleset,
            "repeat": repeat,
            "communes": tally(&c),
            "of_which_districts_without_communes": nation.island_districts,
            "districts": tally(&d),
            "provinces": tally(&p),
            "assess_communes": timing(&communes),
            "aggregate_districts_provinces": timing(&aggregates),
            "total": timing(&total),
            "baseline": timing(&base),
            "ratio_total_to_baseline": round3(total_median / base_median),
        })
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// rt

/// One synthetic daily incidence series: a background plus one to three waves (Gaussian bumps),
/// a weekday reporting effect, Poisson noise.
fn synthetic_series(days: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let background = rng.random_range(0.0..0.5);
    let waves: Vec<(f64, f64, f64)> = (0..rng.random_range(1..=3))
        .map(|_| {
            let peak = 10f64.powf(rng.random_range(0.0..2.7)); // 1 to 500 cases a day
            let centre = rng.random_range(0.0..days as f64);
            let width = rng.random_range(7.0..45.0);
            (peak, centre, width)
        })
        .collect();
    let weekday: [f64; 7] = std::array::from_fn(|d| if d >= 5 { 0.7 } else { 1.08 });
    (0..days)
        .map(|t| {
            let x = t as f64;
            let mean = background
                + waves
                    .iter()
                    .map(|(peak, c, w)| peak * (-0.5 * ((x - c) / w).powi(2)).exp())
                    .sum::<f64>();
            let mean = mean * weekday[t % 7];
            if mean > 0.0 {
                Poisson::new(mean).map_or(mean.round(), |p| p.sample(rng))
            } else {
                0.0
            }
        })
        .collect()
}

/// Estimates Rt for a slice of series; returns the number of windows.
fn rt_all(series: &[Vec<f64>], si: &[f64], window: usize) -> anyhow::Result<usize> {
    let mut windows = 0;
    for s in series {
        let w = estimate_rt(s, None, si, window, DEFAULT_PRIOR_MEAN, DEFAULT_PRIOR_SD)?;
        windows += w.len();
        std::hint::black_box(w);
    }
    Ok(windows)
}

fn rt_parallel(
    series: &[Vec<f64>],
    si: &[f64],
    window: usize,
    threads: usize,
) -> anyhow::Result<usize> {
    let chunk = series.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = series
            .chunks(chunk)
            .map(|part| s.spawn(move || rt_all(part, si, window)))
            .collect();
        let mut windows = 0;
        for h in handles {
            windows += h
                .join()
                .map_err(|_| anyhow::anyhow!("a thread panicked"))??;
        }
        Ok(windows)
    })
}

/// The baseline: a 7-day rolling sum over every series.
fn rolling_sums(series: &[Vec<f64>], window: usize) -> f64 {
    let mut checksum = 0.0;
    for s in series {
        let mut sums = Vec::with_capacity(s.len());
        let mut acc = 0.0;
        for (t, x) in s.iter().enumerate() {
            acc += x;
            if t >= window {
                acc -= s[t - window];
            }
            if t + 1 >= window {
                sums.push(acc);
            }
        }
        checksum += sums.iter().sum::<f64>();
        std::hint::black_box(sums);
    }
    checksum
}

/// The reference: [`estimate_rt`]'s posterior parameters for every window, without quantiles
/// (default imported convention: day 1 is imported; every window here ends after the mean serial
/// interval).
fn posterior_only(series: &[Vec<f64>], si: &[f64], window: usize) -> f64 {
    let a_prior = (DEFAULT_PRIOR_MEAN / DEFAULT_PRIOR_SD).powi(2);
    let scale_prior = DEFAULT_PRIOR_SD * DEFAULT_PRIOR_SD / DEFAULT_PRIOR_MEAN;
    let mut checksum = 0.0;
    let mut lambda = Vec::new();
    for s in series {
        lambda.clear();
        lambda.extend((0..s.len()).map(|i| {
            (1..=i.min(si.len() - 1))
                .map(|k| si[k] * s[i - k])
                .sum::<f64>()
        }));
        // Windows of days (1-based) t_start..=t_start + window - 1, t_start from 2.
        let (mut local, mut infectious) = (0.0, 0.0);
        for i in 1..s.len() {
            local += s[i];
            infectious += lambda[i];
            if i > window {
                local -= s[i - window];
                infectious -= lambda[i - window];
            }
            if i >= window {
                let shape = a_prior + local;
                let scale = 1.0 / (1.0 / scale_prior + infectious);
                checksum += shape * scale + shape.sqrt() * scale;
            }
        }
    }
    checksum
}

fn rt_bench(args: &[String]) -> anyhow::Result<()> {
    let units: usize = arg(args, "--units", 10_040)?;
    let days: usize = arg(args, "--days", 730)?;
    let seed: u64 = arg(args, "--seed", 2021)?;
    let repeat: usize = arg(args, "--repeat", 3)?;
    let default_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: usize = arg(args, "--threads", default_threads)?;
    if repeat == 0 || threads == 0 || units == 0 {
        bail!("--repeat, --threads and --units must be at least 1");
    }
    const WINDOW: usize = 7;
    // COVID-19 serial interval, mean 4.7 days, SD 2.9 (Nishiura, Linton & Akhmetzhanov 2020).
    let si = discr_si(4.7, 2.9)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let series: Vec<Vec<f64>> = (0..units)
        .map(|_| synthetic_series(days, &mut rng))
        .collect();
    let cases: f64 = series.iter().flatten().sum();
    // The reference computes the same posteriors as `estimate_rt` (checked on the first series).
    let check: f64 = estimate_rt(
        &series[0],
        None,
        &si,
        WINDOW,
        DEFAULT_PRIOR_MEAN,
        DEFAULT_PRIOR_SD,
    )?
    .iter()
    .map(|w| w.mean + w.sd)
    .sum();
    let reference_check = posterior_only(&series[..1], &si, WINDOW);
    if (check - reference_check).abs() > 1e-9 * check.abs().max(1.0) {
        bail!("reference posteriors differ from estimate_rt: {reference_check} vs {check}");
    }
    let (mut base, mut reference, mut seq, mut par) = (vec![], vec![], vec![], vec![]);
    let mut windows = 0;
    for _ in 0..repeat {
        let t = Instant::now();
        std::hint::black_box(rolling_sums(&series, WINDOW));
        base.push(ms(t));
        let t = Instant::now();
        std::hint::black_box(posterior_only(&series, &si, WINDOW));
        reference.push(ms(t));
        let t = Instant::now();
        windows = rt_all(&series, &si, WINDOW)?;
        seq.push(ms(t));
        let t = Instant::now();
        let w = rt_parallel(&series, &si, WINDOW, threads)?;
        par.push(ms(t));
        if w != windows {
            bail!("parallel run computed {w} windows, sequential {windows}");
        }
    }
    let (_, base_median) = min_median(&base);
    let (_, seq_median) = min_median(&seq);
    let (_, par_median) = min_median(&par);
    println!(
        "{}",
        json!({
            "mode": "rt",
            "seed": seed,
            "units": units,
            "days": days,
            "window": WINDOW,
            "si_days": si.len(),
            "cases": cases,
            "windows": windows,
            "repeat": repeat,
            "threads": threads,
            "sequential": timing(&seq),
            "parallel": timing(&par),
            "baseline": timing(&base),
            "posterior_only_reference": timing(&reference),
            "ratio_sequential_to_baseline": round3(seq_median / base_median),
            "ratio_parallel_to_baseline": round3(par_median / base_median),
        })
    );
    Ok(())
}
