//! `phongdich level …`: epidemic level (cấp độ dịch) assessment offline (DOMAIN.md §9).
//!
//! - `assess --input FILE.csv [--ruleset ID] [--as-of DATE] [--province CODE]
//!   [--format json|table]`: one unit per row, assessed with [`domain::epidemic_level::assess`];
//!   prints a JSON array of `{unit_code, level, ruleset, criteria: {cases_per_100k_week,
//!   transmission, …}, crisis, crisis_reasons[], unverified[], …}` (or a table). Default
//!   ruleset: the one in force on `--as-of` (default today). Unit codes are labels, not looked
//!   up: a what-if scenario name is fine. A bad row stops the command with one error line naming
//!   its line and column.
//! - `list`: the rulesets with their citations and dates, and the crisis scenario.
//!
//! Columns: `unit_code,population,new_cases_week` (required), then optionally
//! `oxygen_cases_7d_avg,deaths_week,free_covid_beds,icu_beds_staffed,coverage_1dose_18plus,
//! coverage_full_50plus` and `coverage_full_total` (218's 75% criterion), `previous_level` (1–4,
//! for the capacity rule). Optional cells may be empty; coverage is a fraction (0.72) or a
//! percentage with its sign (72%).

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use domain::epidemic_level::{
    Assessment, EpidemicLevels, Indicators, Level, Ruleset, assess, crisis_scenario,
};
use domain::{Error, ErrorCode};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Assess the epidemic level of the units of a CSV file.
    Assess(AssessArgs),
    /// List the epidemic-level rulesets and the crisis scenario.
    List,
    /// Compute the weekly level of provinces from the database (every commune, district and the
    /// province), stored as proposed runs for the province officers to approve — for a weekly
    /// schedule (cron).
    Weekly(WeeklyArgs),
}

#[derive(Debug, clap::Args)]
pub struct WeeklyArgs {
    /// Province code (repeat for several); `--all` for every province of the hierarchy.
    #[arg(long)]
    pub province: Vec<String>,
    #[arg(long, conflicts_with = "province")]
    pub all: bool,
    /// Monday of the week (default: this week, in Vietnam).
    #[arg(long)]
    pub week_start: Option<NaiveDate>,
    /// `2025` or `pre2025` (default: the list in force on the week's start).
    #[arg(long)]
    pub hierarchy: Option<String>,
    /// Ruleset id (default: the one in force at the week's end).
    #[arg(long)]
    pub ruleset: Option<String>,
    #[command(flatten)]
    pub db: super::DatabaseArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Table,
}

#[derive(Debug, clap::Args)]
pub struct AssessArgs {
    /// CSV with a header: unit_code,population,new_cases_week[,oxygen_cases_7d_avg,deaths_week,
    /// free_covid_beds,icu_beds_staffed,coverage_1dose_18plus,coverage_full_50plus,
    /// coverage_full_total,previous_level].
    #[arg(long)]
    pub input: PathBuf,
    /// Ruleset id (default: the one in force on --as-of).
    #[arg(long)]
    pub ruleset: Option<String>,
    /// Date of the assessment, YYYY-MM-DD (default: today); chooses the ruleset and its age
    /// groups.
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// Province code whose override of the ruleset applies, if it has one.
    #[arg(long)]
    pub province: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

pub async fn run(c: Command, file: &crate::config::FileConfig) -> anyhow::Result<()> {
    match c {
        Command::Assess(a) => run_assess(&a),
        Command::List => list(),
        Command::Weekly(a) => weekly(a, file).await,
    }
}

/// `phongdich level weekly`: one proposed run per province; prints a summary per run (units,
/// level counts, crisis units) and the runs' ids.
async fn weekly(a: WeeklyArgs, file: &crate::config::FileConfig) -> anyhow::Result<()> {
    use domain::units::{AdminUnits, UnitVersion};
    let now = chrono::Utc::now();
    let today = intake::care::local_date(now);
    let week_start = a
        .week_start
        .unwrap_or_else(|| intake::levels::week_of(today));
    let hierarchy = match a.hierarchy.as_deref() {
        Some(h) => UnitVersion::parse(h)?,
        None => UnitVersion::in_force_on(week_start),
    };
    let provinces: Vec<String> = if a.all {
        AdminUnits::embedded()
            .hierarchy(hierarchy)
            .provinces()
            .map(|p| p.code.clone())
            .collect()
    } else if a.province.is_empty() {
        anyhow::bail!("cần --province MÃ (có thể lặp lại) hoặc --all");
    } else {
        a.province.clone()
    };
    let store = store::open(&file.database_url(a.db.database)).await?;
    let audit = domain::audit::NewAuditEntry {
        at: now,
        actor_id: None,
        actor: Some("phongdich level weekly".into()),
        action: "level.assess".into(),
        entity_type: None,
        entity_id: None,
        unit_code: None,
        ip: None,
        details: serde_json::json!({}),
    };
    let mut out = Vec::new();
    for province in provinces {
        let req = intake::levels::WeekRequest {
            province_code: province.clone(),
            hierarchy,
            week_start,
            ruleset: a.ruleset.clone(),
        };
        let (run, units) = intake::levels::assess_week(
            store.as_ref(),
            &req,
            "phongdich level weekly",
            now,
            &audit,
        )
        .await?;
        let mut levels = [0usize; 4];
        for u in &units {
            levels[usize::from(u.level.clamp(1, 4)) - 1] += 1;
        }
        out.push(serde_json::json!({
            "run_id": run.id, "province_code": province, "hierarchy": hierarchy,
            "week_start": week_start, "ruleset": run.ruleset, "units": run.units,
            "levels": {"1": levels[0], "2": levels[1], "3": levels[2], "4": levels[3]},
            "crisis_units": run.crisis_units, "effective_at": run.effective_at,
        }));
    }
    store.close().await;
    print_json(&out)
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

fn run_assess(a: &AssessArgs) -> anyhow::Result<()> {
    let levels = EpidemicLevels::embedded();
    let province = a.province.as_deref();
    let ruleset = match (&a.ruleset, a.as_of) {
        (Some(id), as_of) => levels.resolve(id, as_of, province)?,
        (None, as_of) => {
            let today =
                as_of.unwrap_or_else(|| domain::vietnam_time::local_date(chrono::Utc::now()));
            levels.ruleset_for_date(today, province)?
        }
    };
    let units = read_units(&a.input)?;
    let mut out = Vec::with_capacity(units.len());
    for (line, unit) in &units {
        let assessment = assess(&ruleset, unit).map_err(|e| at_line(*line, e))?;
        out.push(assessment);
    }
    match a.format {
        Format::Json => print_json(&out),
        Format::Table => print_table(&ruleset, &out),
    }
}

/// The columns, required ones first.
const REQUIRED: [&str; 3] = ["unit_code", "population", "new_cases_week"];
const OPTIONAL: [&str; 8] = [
    "oxygen_cases_7d_avg",
    "deaths_week",
    "free_covid_beds",
    "icu_beds_staffed",
    "coverage_1dose_18plus",
    "coverage_full_50plus",
    "coverage_full_total",
    "previous_level",
];

fn bad_file(vi: String, en: String) -> anyhow::Error {
    Error::new(ErrorCode::InvalidInput, vi, en).into()
}

/// An input error moved to a line of the file (the column is the error's `details.field`).
fn at_line(line: u64, e: Error) -> anyhow::Error {
    let field = e.details["field"].as_str().unwrap_or("?").to_string();
    Error::new(
        e.code,
        format!("dòng {line}, cột {field}: {}", e.message_vi),
        format!("line {line}, column {field}: {}", e.message_en),
    )
    .with_details(serde_json::json!({ "line": line, "field": field }))
    .into()
}

/// Reads the units, each with its line number (1 is the header).
fn read_units(path: &Path) -> anyhow::Result<Vec<(u64, Indicators)>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("không đọc được tệp {}", path.display()))?;
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("tệp {} không có dòng tiêu đề", path.display()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
        .collect();
    let allowed: Vec<&str> = REQUIRED.iter().chain(&OPTIONAL).copied().collect();
    for (i, h) in header.iter().enumerate() {
        if !allowed.contains(&h.as_str()) {
            let list = allowed.join(", ");
            return Err(bad_file(
                format!("dòng 1: cột «{h}» không hợp lệ (các cột: {list})"),
                format!("line 1: unknown column «{h}» (columns: {list})"),
            ));
        }
        if header[..i].contains(h) {
            return Err(bad_file(
                format!("dòng 1: cột «{h}» lặp lại"),
                format!("line 1: column «{h}» repeated"),
            ));
        }
    }
    if let Some(m) = REQUIRED.iter().find(|r| !header.iter().any(|h| h == *r)) {
        return Err(bad_file(
            format!("dòng 1: thiếu cột bắt buộc «{m}»"),
            format!("line 1: missing required column «{m}»"),
        ));
    }
    let mut units = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            bad_file(
                format!("dòng {line}: không đọc được ({e})"),
                format!("line {line}: unreadable ({e})"),
            )
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let unit = parse_row(&header, &rec).map_err(|e| at_line(line, e))?;
        units.push((line, unit));
    }
    if units.is_empty() {
        return Err(bad_file(
            format!("tệp {} không có đơn vị nào", path.display()),
            format!("{} has no unit", path.display()),
        ));
    }
    Ok(units)
}

/// The cell of a column (empty when the column is absent).
fn cell<'r>(header: &[String], rec: &'r csv::StringRecord, name: &str) -> &'r str {
    header
        .iter()
        .position(|h| h == name)
        .and_then(|i| rec.get(i))
        .unwrap_or("")
}

fn parse_row(header: &[String], rec: &csv::StringRecord) -> Result<Indicators, Error> {
    let cell = |name: &str| cell(header, rec, name);
    let required = |name: &str| -> Result<f64, Error> {
        number(name, cell(name))?.ok_or_else(|| {
            Error::invalid(
                name,
                "thiếu giá trị bắt buộc".to_string(),
                "missing required value".to_string(),
            )
        })
    };
    let optional = |name: &str| number(name, cell(name));
    let coverage = |name: &str| -> Result<Option<f64>, Error> {
        let text = cell(name);
        match text.strip_suffix('%') {
            Some(p) => Ok(number(name, p.trim())?.map(|x| x / 100.0)),
            None => number(name, text),
        }
    };
    let previous_level = match cell("previous_level") {
        "" => None,
        s => Some(
            s.parse::<u8>()
                .ok()
                .and_then(Level::from_number)
                .ok_or_else(|| {
                    Error::invalid(
                        "previous_level",
                        format!("cấp độ «{s}» không hợp lệ (1–4)"),
                        format!("invalid level «{s}» (1–4)"),
                    )
                })?,
        ),
    };
    let unit = Indicators {
        unit_code: cell("unit_code").to_string(),
        population: required("population")?,
        new_cases_week: required("new_cases_week")?,
        oxygen_cases_7d_avg: optional("oxygen_cases_7d_avg")?,
        deaths_week: optional("deaths_week")?,
        free_covid_beds: optional("free_covid_beds")?,
        icu_beds_staffed: optional("icu_beds_staffed")?,
        coverage_1dose_18plus: coverage("coverage_1dose_18plus")?,
        coverage_full_50plus: coverage("coverage_full_50plus")?,
        coverage_full_total: coverage("coverage_full_total")?,
        previous_level,
    };
    unit.validate()?;
    Ok(unit)
}

/// A number cell (`None` when empty). Decimals use a point; a comma is refused rather than
/// guessed (it may be a thousands separator).
fn number(name: &str, text: &str) -> Result<Option<f64>, Error> {
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Some(x)),
        _ => Err(Error::invalid(
            name,
            format!("«{text}» không phải là số (dấu thập phân là dấu chấm, ví dụ 12.5)"),
            format!("«{text}» is not a number (decimal point, e.g. 12.5)"),
        )),
    }
}

fn opt_bool(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "đạt",
        Some(false) => "không đạt",
        None => "chưa rõ",
    }
}

fn print_table(ruleset: &Ruleset, rows: &[Assessment]) -> anyhow::Result<()> {
    use std::io::Write;
    let header = [
        "đơn vị",
        "cấp",
        "màu",
        "lây nhiễm",
        "ca/100.000/tuần",
        "tiêm chủng",
        "năng lực",
        "khủng hoảng",
    ];
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for a in rows {
        table.push(vec![
            a.unit_code.clone(),
            a.level.to_string(),
            a.level.colour_vi().to_string(),
            a.criteria.transmission.label_vi().to_string(),
            format!("{:.2}", a.criteria.cases_per_100k_week),
            opt_bool(a.criteria.coverage_met).to_string(),
            opt_bool(a.criteria.capacity_ok).to_string(),
            if a.crisis {
                format!("CÓ ({})", a.crisis_reasons.len())
            } else {
                "không".to_string()
            },
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s}{}", " ".repeat(w - s.chars().count())))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    let unverified = rows.iter().filter(|a| !a.unverified.is_empty()).count();
    writeln!(
        out,
        "\nBộ quy tắc: {} — {}{}; kịch bản khủng hoảng: {}. {unverified}/{} đơn vị dựa trên số liệu cần xác nhận (xem --format json).",
        ruleset.label(),
        ruleset.citation.text(),
        ruleset
            .override_citation
            .as_ref()
            .map(|c| format!(", điều chỉnh của tỉnh: {}", c.text()))
            .unwrap_or_default(),
        crisis_scenario().id,
        rows.len()
    )?;
    out.flush()?;
    Ok(())
}

fn list() -> anyhow::Result<()> {
    let levels = EpidemicLevels::embedded();
    let rulesets: Vec<serde_json::Value> = levels
        .rulesets
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "title": r.title,
                "citation": r.citation,
                "effective_from": r.effective_from,
                "effective_to": r.effective_to,
                "dates_verified": r.dates_verified,
                "overrides": r.overrides.iter().map(|o| &o.province).collect::<Vec<_>>(),
            })
        })
        .collect();
    let c = &levels.crisis_scenario;
    print_json(&serde_json::json!({
        "rulesets": rulesets,
        "crisis_scenario": {
            "id": c.id,
            "title": c.title,
            "citation": c.citation,
            "effective_from": c.effective_from,
            "effective_to": c.effective_to,
            "scope": c.scope,
        },
    }))
}
