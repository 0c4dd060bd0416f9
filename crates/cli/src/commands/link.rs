//! `phongdich link` and `phongdich dedupe`: record linkage on files with the `linkage` crate.
//!
//! - `link --population P.csv --records R.csv --out M.csv`: P has
//!   `person_id,full_name,dob,sex,national_id,commune_code,phone`, R has `record_id` and the same
//!   other columns (dob `YYYY` or `YYYY-MM-DD`, any field may be empty). M lists every record:
//!   `record_id,person_id,score` with `person_id` empty where nobody matches at the link threshold
//!   (score then is the best candidate's probability, or empty).
//! - `dedupe --input X.csv --out C.csv`: `record_id,cluster_id` for every row of X (first column is
//!   the record id), duplicates sharing a cluster.
//!
//! A spinner shows the stage on a terminal (hidden when output is redirected).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use linkage::{Linker, MatchClass, Record, Settings};

#[derive(Debug, clap::Args)]
pub struct LinkArgs {
    /// Register file: person_id,full_name,dob,sex,national_id,commune_code,phone.
    #[arg(long)]
    pub population: PathBuf,
    /// Records to link: record_id and the same columns.
    #[arg(long)]
    pub records: PathBuf,
    /// Output: record_id,person_id,score.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct DedupeArgs {
    /// File to deduplicate (first column: record id; columns as for `link`).
    #[arg(long)]
    pub input: PathBuf,
    /// Output: record_id,cluster_id.
    #[arg(long)]
    pub out: PathBuf,
}

const FIELDS: [&str; 6] = [
    "full_name",
    "dob",
    "sex",
    "national_id",
    "commune_code",
    "phone",
];

/// Reads a CSV into linkage records, the id taken from `id_column`.
fn read_records(path: &Path, id_column: &str) -> anyhow::Result<Vec<Record>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("không đọc được tệp {}", path.display()))?;
    let header: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let Some(id_at) = col(id_column) else {
        bail!("tệp {} thiếu cột {id_column}", path.display());
    };
    let missing: Vec<&str> = FIELDS
        .iter()
        .copied()
        .filter(|f| col(f).is_none())
        .collect();
    if !missing.is_empty() {
        bail!("tệp {} thiếu cột: {}", path.display(), missing.join(", "));
    }
    let at: HashMap<&str, usize> = FIELDS.iter().map(|f| (*f, col(f).unwrap_or(0))).collect();
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row =
            row.with_context(|| format!("dòng {} của {} không đọc được", i + 2, path.display()))?;
        let get = |f: &str| row.get(at[f]).unwrap_or("");
        out.push(
            Record::new(row.get(id_at).unwrap_or(""))
                .with_full_name(get("full_name"))
                .with_dob(get("dob"))
                .with_sex(get("sex"))
                .with_national_id(get("national_id"))
                .with_commune(get("commune_code"))
                .with_phone(get("phone")),
        );
    }
    Ok(out)
}

fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.enable_steady_tick(Duration::from_millis(120));
    pb.set_message(msg.to_string());
    pb
}

pub fn run_link(args: LinkArgs) -> anyhow::Result<()> {
    let pb = spinner("Đọc tệp…");
    let population = read_records(&args.population, "person_id")?;
    let records = read_records(&args.records, "record_id")?;
    pb.set_message(format!(
        "Ghép {} bản ghi với {} người…",
        records.len(),
        population.len()
    ));
    let mut linker = Linker::new(Settings::default());
    let matches = linker.link(&population, &records);
    pb.set_message("Ghi kết quả…");
    let mut best: HashMap<&str, (&str, f64, MatchClass)> = HashMap::new();
    for m in &matches {
        let e =
            best.entry(m.right_id.as_str())
                .or_insert((m.left_id.as_str(), m.probability, m.class));
        if m.probability > e.1 {
            *e = (m.left_id.as_str(), m.probability, m.class);
        }
    }
    let mut w = csv::Writer::from_path(&args.out)
        .with_context(|| format!("không ghi được {}", args.out.display()))?;
    w.write_record(["record_id", "person_id", "score"])?;
    let mut linked = 0;
    for r in &records {
        match best.get(r.id.as_str()) {
            Some((person, p, MatchClass::Link)) => {
                linked += 1;
                w.write_record([r.id.as_str(), person, &format!("{p:.6}")])?
            }
            Some((_, p, _)) => w.write_record([r.id.as_str(), "", &format!("{p:.6}")])?,
            None => w.write_record([r.id.as_str(), "", ""])?,
        }
    }
    w.flush()?;
    pb.finish_and_clear();
    println!(
        "{}",
        serde_json::json!({
            "records": records.len(),
            "population": population.len(),
            "linked": linked,
            "unlinked": records.len() - linked,
            "out": args.out.display().to_string(),
        })
    );
    Ok(())
}

pub fn run_dedupe(args: DedupeArgs) -> anyhow::Result<()> {
    let pb = spinner("Đọc tệp…");
    let mut reader = csv::Reader::from_path(&args.input)
        .with_context(|| format!("không đọc được tệp {}", args.input.display()))?;
    let id_column = reader
        .headers()?
        .get(0)
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .context("tệp không có dòng tiêu đề")?;
    let records = read_records(&args.input, &id_column)?;
    pb.set_message(format!(
        "Tìm bản ghi trùng trong {} bản ghi…",
        records.len()
    ));
    let mut linker = Linker::new(Settings::default());
    let clusters = linker.dedupe(&records);
    let mut w = csv::Writer::from_path(&args.out)
        .with_context(|| format!("không ghi được {}", args.out.display()))?;
    w.write_record(["record_id", "cluster_id"])?;
    let mut with_duplicates = 0;
    for c in &clusters {
        if c.len() > 1 {
            with_duplicates += 1;
        }
        for id in c {
            w.write_record([id.as_str(), c[0].as_str()])?;
        }
    }
    w.flush()?;
    pb.finish_and_clear();
    println!(
        "{}",
        serde_json::json!({
            "records": records.len(),
            "clusters": clusters.len(),
            "clusters_with_duplicates": with_duplicates,
            "out": args.out.display().to_string(),
        })
    );
    Ok(())
}
