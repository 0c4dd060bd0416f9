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
//! A progress bar shows the stage and its size on a terminal (hidden when stderr is not one);
//! `--timings` prints each stage's duration.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use linkage::{Linker, MatchClass, Record, Settings, Stage};

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
    /// Also write the fitted model (m, u and weight per comparison level) as JSON.
    #[arg(long)]
    pub model_out: Option<PathBuf>,
    /// Print each stage's duration to stderr.
    #[arg(long)]
    pub timings: bool,
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

/// A progress bar over the stages of a linkage run, with the stage's item count; with
/// `timings`, each stage's duration is printed to stderr as it ends.
fn staged_linker(pb: &indicatif::ProgressBar, timings: bool) -> Linker {
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .expect("valid template"),
    );
    pb.set_length(Stage::COUNT);
    let bar = pb.clone();
    let started = std::sync::Mutex::new(None::<(Stage, std::time::Instant)>);
    Linker::new(Settings::default()).on_progress(move |stage, count| {
        let label = match stage {
            Stage::Prepare => format!("Chuẩn hoá {count} bản ghi"),
            Stage::Blocking => "Tìm cặp ứng viên".to_string(),
            Stage::EstimateU => format!("Ước lượng u trên {count} cặp ngẫu nhiên"),
            Stage::Training => format!("Huấn luyện EM ({count} phiên)"),
            Stage::Comparing => format!("So sánh {count} cặp ứng viên"),
            Stage::Scoring => "Tính điểm và chọn liên kết".to_string(),
        };
        bar.set_position(stage.number() - 1);
        bar.set_message(label);
        if timings {
            let mut s = started.lock().expect("not poisoned");
            if let Some((prev, t)) = s.take() {
                eprintln!("{prev:?}: {:.2} s", t.elapsed().as_secs_f64());
            }
            eprintln!("{stage:?}: {count} items");
            *s = Some((stage, std::time::Instant::now()));
        }
    })
}

fn spinner(msg: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.enable_steady_tick(Duration::from_millis(120));
    pb.set_message(msg.to_string());
    pb
}

pub fn run_link(args: LinkArgs) -> anyhow::Result<()> {
    let pb = spinner("Đọc tệp…");
    let t_read = std::time::Instant::now();
    let population = read_records(&args.population, "person_id")?;
    let records = read_records(&args.records, "record_id")?;
    if args.timings {
        eprintln!("read: {:.2} s", t_read.elapsed().as_secs_f64());
    }
    pb.set_message(format!(
        "Ghép {} bản ghi với {} người…",
        records.len(),
        population.len()
    ));
    let t0 = std::time::Instant::now();
    let mut linker = staged_linker(&pb, args.timings);
    let matches = linker.link(&population, &records);
    if args.timings {
        eprintln!("link total: {:.2} s", t0.elapsed().as_secs_f64());
    }
    pb.set_message("Ghi kết quả…");
    if let (Some(path), Some(model)) = (&args.model_out, linker.model()) {
        std::fs::write(path, serde_json::to_string_pretty(&model.summary())?)
            .with_context(|| format!("không ghi được {}", path.display()))?;
    }
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

#[derive(Debug, clap::Args)]
pub struct LinkageDataArgs {
    /// 2025 province code.
    #[arg(long, default_value = "01")]
    pub province: String,
    /// Persons in the register.
    #[arg(long)]
    pub register: usize,
    /// Records to link (10% of them of people absent from the register).
    #[arg(long)]
    pub records: usize,
    #[arg(long, default_value_t = 2021)]
    pub seed: u64,
    /// Directory for population.csv, records.csv and truth.csv.
    #[arg(long)]
    pub out_dir: PathBuf,
}

/// `phongdich linkage-data`: writes a register, noisy records and the truth
/// (`record_id,person_id`, person empty for people absent from the register).
pub fn run_linkage_data(args: LinkageDataArgs) -> anyhow::Result<()> {
    let pb = spinner("Tạo dữ liệu…");
    let params =
        demo::noisy::NoisyParams::new(&args.province, args.register, args.records, args.seed);
    let data = demo::noisy::noisy_linkage_data(&params, domain::units::AdminUnits::embedded())?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("không tạo được thư mục {}", args.out_dir.display()))?;
    let write = |file: &str,
                 id: &str,
                 rows: &mut dyn Iterator<Item = &demo::noisy::LinkageRow>|
     -> anyhow::Result<()> {
        let path = args.out_dir.join(file);
        let mut w = csv::Writer::from_path(&path)
            .with_context(|| format!("không ghi được {}", path.display()))?;
        w.write_record([
            id,
            "full_name",
            "dob",
            "sex",
            "national_id",
            "commune_code",
            "phone",
        ])?;
        for r in rows {
            w.write_record([
                &r.id,
                &r.full_name,
                &r.dob,
                &r.sex,
                &r.national_id,
                &r.commune_code,
                &r.phone,
            ])?;
        }
        w.flush()?;
        Ok(())
    };
    pb.set_message("Ghi tệp…");
    write("population.csv", "person_id", &mut data.register.iter())?;
    write(
        "records.csv",
        "record_id",
        &mut data.records.iter().map(|r| &r.row),
    )?;
    let path = args.out_dir.join("truth.csv");
    let mut w = csv::Writer::from_path(&path)
        .with_context(|| format!("không ghi được {}", path.display()))?;
    w.write_record(["record_id", "person_id"])?;
    for r in &data.records {
        w.write_record([r.row.id.as_str(), r.person_id.as_deref().unwrap_or("")])?;
    }
    w.flush()?;
    pb.finish_and_clear();
    println!(
        "{}",
        serde_json::json!({
            "population": data.register.len(),
            "records": data.records.len(),
            "absent": data.records.iter().filter(|r| r.person_id.is_none()).count(),
            "out_dir": args.out_dir.display().to_string(),
        })
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct LinkScoreArgs {
    /// Truth: record_id,person_id (person empty when the record's person is not in the register).
    #[arg(long)]
    pub truth: PathBuf,
    /// Links to score: record_id,person_id[,…] (rows with an empty person are non-links).
    #[arg(long)]
    pub matches: PathBuf,
}

/// `phongdich link-score`: precision, recall and F1 of links against the truth, as JSON.
pub fn run_link_score(args: LinkScoreArgs) -> anyhow::Result<()> {
    let read = |path: &Path| -> anyhow::Result<Vec<(String, String)>> {
        let mut r = csv::Reader::from_path(path)
            .with_context(|| format!("không đọc được tệp {}", path.display()))?;
        let mut out = Vec::new();
        for row in r.records() {
            let row = row?;
            out.push((
                row.get(0).unwrap_or("").to_string(),
                row.get(1).unwrap_or("").to_string(),
            ));
        }
        Ok(out)
    };
    let truth = read(&args.truth)?;
    let predicted = read(&args.matches)?;
    let score = linkage::evaluation::score_links(&truth, &predicted);
    println!("{}", serde_json::to_string(&score)?);
    Ok(())
}
