//! `phongdich rt --input cases.csv --si si.json [--window 7] [--format json|table]`: the
//! time-varying reproduction number of a daily case series, offline, with
//! [`domain::rt::estimate_rt`] (Cori et al. 2013, EpiEstim conventions: first day's cases
//! imported unless an `imported` column says otherwise, windows labelled by their end day,
//! Gamma prior mean 5 sd 5).
//!
//! - `cases.csv`: header `date,cases[,imported]`, one row per day, dates `YYYY-MM-DD` consecutive
//!   and ascending (a gap, a repeat or a step back is refused naming the line). `cases` is the
//!   day's total; `imported`, when present, the part of it that was imported.
//! - `si.json`: the serial interval distribution as a JSON array of probabilities (index = days,
//!   first 0, sum 1), or `{"mean": 2.6, "sd": 1.5}` for the shifted-Gamma parametric SI
//!   ([`domain::rt::discr_si`]).
//! - Output (`--format json`, the default): `[{t_start, t_end, date_start, date_end, mean, sd,
//!   q025, median, q975}]`, `t` 1-based; `--format table` prints the same as aligned text.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use domain::Error;
use domain::rt::{self, RtWindow};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A JSON array, one object per window.
    #[default]
    Json,
    /// Aligned text columns.
    Table,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV of daily cases: header `date,cases[,imported]`, consecutive dates (YYYY-MM-DD).
    #[arg(long)]
    pub input: PathBuf,
    /// Serial interval: a JSON array of probabilities by day (day 0 first, must be 0), or
    /// `{"mean": M, "sd": S}` for a shifted Gamma.
    #[arg(long)]
    pub si: PathBuf,
    /// Length of the sliding window, in days.
    #[arg(long, default_value_t = rt::DEFAULT_WINDOW)]
    pub window: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// The daily series read from `cases.csv`.
#[derive(Debug)]
struct Series {
    first_date: NaiveDate,
    cases: Vec<f64>,
    imported: Option<Vec<f64>>,
}

/// The serial interval file: probabilities by day, or the parameters of a shifted Gamma.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum SiFile {
    Distribution(Vec<f64>),
    Parametric {
        mean: f64,
        #[serde(alias = "std")]
        sd: f64,
    },
}

/// One output row.
#[derive(Debug, serde::Serialize)]
struct Row {
    t_start: usize,
    t_end: usize,
    date_start: NaiveDate,
    date_end: NaiveDate,
    mean: f64,
    sd: f64,
    q025: f64,
    median: f64,
    q975: f64,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let series = read_cases(&a.input)?;
    let si = read_si(&a.si)?;
    let windows = rt::estimate_rt(
        &series.cases,
        series.imported.as_deref(),
        &si,
        a.window,
        rt::DEFAULT_PRIOR_MEAN,
        rt::DEFAULT_PRIOR_SD,
    )?;
    let rows: Vec<Row> = windows.iter().map(|w| row(&series, w)).collect();
    match a.format {
        Format::Json => print_json(&rows),
        Format::Table => print_table(&rows),
    }
}

fn row(series: &Series, w: &RtWindow) -> Row {
    let date = |t: usize| series.first_date + chrono::Days::new(t as u64 - 1);
    Row {
        t_start: w.t_start,
        t_end: w.t_end,
        date_start: date(w.t_start),
        date_end: date(w.t_end),
        mean: w.mean,
        sd: w.sd,
        q025: w.q025,
        median: w.median,
        q975: w.q975,
    }
}

/// An input error naming the file and, when known, the line.
fn bad_input(path: &Path, line: Option<u64>, vi: &str, en: &str) -> anyhow::Error {
    let at_vi = line.map(|l| format!(", dòng {l}")).unwrap_or_default();
    let at_en = line.map(|l| format!(", line {l}")).unwrap_or_default();
    let file = path.display();
    Error::invalid(
        "input",
        format!("{file}{at_vi}: {vi}"),
        format!("{file}{at_en}: {en}"),
    )
    .into()
}

fn read_cases(path: &Path) -> anyhow::Result<Series> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("không đọc được tệp {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("không đọc được dòng tiêu đề của {}", path.display()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let (Some(date_col), Some(cases_col)) = (column("date"), column("cases")) else {
        return Err(bad_input(
            path,
            Some(1),
            "tiêu đề phải là date,cases[,imported]",
            "the header must be date,cases[,imported]",
        ));
    };
    let imported_col = column("imported");

    let mut first_date = None;
    let mut previous: Option<NaiveDate> = None;
    let mut cases = Vec::new();
    let mut imported = Vec::new();
    for record in reader.records() {
        let record =
            record.with_context(|| format!("không đọc được tệp CSV {}", path.display()))?;
        let line = record.position().map(|p| p.line());
        let cell = |i: usize| record.get(i).unwrap_or("");
        let raw_date = cell(date_col);
        let date = NaiveDate::parse_from_str(raw_date, "%Y-%m-%d").map_err(|_| {
            bad_input(
                path,
                line,
                &format!("ngày «{raw_date}» không hợp lệ (cần YYYY-MM-DD)"),
                &format!("invalid date «{raw_date}» (expected YYYY-MM-DD)"),
            )
        })?;
        if let Some(prev) = previous {
            let expected = prev.succ_opt().unwrap_or(prev);
            if date <= prev {
                return Err(bad_input(
                    path,
                    line,
                    &format!(
                        "ngày {date} không sau ngày {prev} của dòng trước (ngày phải tăng dần, không lặp)"
                    ),
                    &format!(
                        "date {date} is not after {prev} on the previous line (dates must ascend without repeats)"
                    ),
                ));
            }
            if date != expected {
                let missing = (date - prev).num_days() - 1;
                return Err(bad_input(
                    path,
                    line,
                    &format!(
                        "thiếu {missing} ngày từ {expected} trước ngày {date} (ngày phải liên tiếp)"
                    ),
                    &format!(
                        "{missing} day(s) missing from {expected} before {date} (dates must be consecutive)"
                    ),
                ));
            }
        }
        previous = Some(date);
        first_date.get_or_insert(date);
        cases.push(count(path, line, "cases", cell(cases_col))?);
        if let Some(i) = imported_col {
            imported.push(count(path, line, "imported", cell(i))?);
        }
    }
    let Some(first_date) = first_date else {
        return Err(bad_input(
            path,
            None,
            "tệp không có dòng dữ liệu nào",
            "the file has no data rows",
        ));
    };
    Ok(Series {
        first_date,
        cases,
        imported: imported_col.map(|_| imported),
    })
}

/// A non-negative number of cases (decimals allowed, e.g. for smoothed series).
fn count(path: &Path, line: Option<u64>, column: &str, raw: &str) -> anyhow::Result<f64> {
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(bad_input(
            path,
            line,
            &format!("cột {column}: «{raw}» không phải số ca không âm"),
            &format!("column {column}: «{raw}» is not a non-negative number of cases"),
        )),
    }
}

fn read_si(path: &Path) -> anyhow::Result<Vec<f64>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("không đọc được tệp {}", path.display()))?;
    let parsed: SiFile = serde_json::from_str(&text).map_err(|e| {
        Error::invalid(
            "si",
            format!(
                "{}: cần một mảng xác suất theo ngày hoặc {{\"mean\": …, \"sd\": …}} ({e})",
                path.display()
            ),
            format!(
                "{}: expected an array of probabilities by day or {{\"mean\": …, \"sd\": …}} ({e})",
                path.display()
            ),
        )
    })?;
    Ok(match parsed {
        SiFile::Distribution(w) => w,
        SiFile::Parametric { mean, sd } => rt::discr_si(mean, sd)?,
    })
}

/// Writes pretty JSON to stdout; a closed pipe is an error, not a panic.
fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

fn print_table(rows: &[Row]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:>7} {:>5} {:<10} {:<10} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "t_start", "t_end", "date_start", "date_end", "mean", "sd", "q025", "median", "q975"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:>7} {:>5} {:<10} {:<10} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4}",
            r.t_start, r.t_end, r.date_start, r.date_end, r.mean, r.sd, r.q025, r.median, r.q975
        )?;
    }
    out.flush()?;
    Ok(())
}
