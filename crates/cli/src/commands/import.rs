//! `phongdich import population FILE`: loads a population register from CSV or XLSX. Every row
//! is validated ([`domain::register::parse_row`]); valid rows insert or update persons (matched
//! by citizen ID, else external id) in transactions of 5,000 with an audit entry each; rejected
//! rows go to `FILE.errors.csv` with row, column, value and a Vietnamese message. Population
//! denominators are rebuilt afterwards. Prints `{inserted, updated, rejected, errors_file, …}`.
//!
//! `phongdich import records FILE --kind K --source S`: stores records and links them to the
//! register (`intake`); prints `{inserted, duplicates, linked, review, unlinked, rejected,
//! errors_file, …}`.
//!
//! `phongdich import doses FILE`: vaccination doses (`record_id,national_id,full_name,dob,sex,
//! commune_code,phone,vaccine,dose_date,lot,site_code[,additional]`), each row validated
//! ([`domain::dose_record::parse_row`]), good rows stored and linked in batches of 10,000
//! ([`intake::doses::record_doses`], idempotent per site and record id); prints `{inserted,
//! duplicates, rejected, linked, review, unlinked, errors_file}`. `phongdich import doses
//! --template OUT.xlsx|OUT.csv` writes the Vietnamese template. `phongdich import sites FILE`
//! (`code,name,commune_code`) and `phongdich import lots FILE` (`vaccine,lot,expiry`) fill the
//! lists of vaccination sites and vaccine lots.
//!
//! `phongdich import tests FILE`: laboratory results (`record_id,national_id,full_name,dob,sex,
//! commune_code,phone,sample_date,test_type,result,lab_code`), each row validated
//! ([`domain::test_record::parse_row`]), good rows stored, linked and turned into cases in
//! batches of 10,000 ([`intake::lab_tests::record_tests`], idempotent per lab and record id);
//! prints `{inserted, duplicates, rejected, linked, review, unlinked, cases_created,
//! cases_updated, errors_file}`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use calamine::{Data, DataType, Reader};
use serde::Serialize;

use super::DatabaseArg;
use crate::config::FileConfig;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import the population register (CSV or XLSX; columns
    /// national_id,full_name,dob,sex,commune_code,phone[,household_id,external_id]).
    Population {
        /// The file to import (.csv or .xlsx).
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Import records to link to the register (CSV or XLSX; columns record_id and any of
    /// full_name,dob,sex,national_id,commune_code,phone; other columns are kept with the record).
    Records {
        /// The file to import (.csv or .xlsx).
        file: PathBuf,
        /// dose, test, case or beneficiary.
        #[arg(long)]
        kind: String,
        /// Code of the site, lab or programme the records come from.
        #[arg(long)]
        source: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Import vaccination doses (CSV or XLSX; columns record_id,national_id,full_name,dob,sex,
    /// commune_code,phone,vaccine,dose_date,lot,site_code[,additional]), or write the template.
    Doses {
        /// The file to import (.csv or .xlsx).
        #[arg(required_unless_present = "template")]
        file: Option<PathBuf>,
        /// Write the Vietnamese import template to this .xlsx or .csv file instead.
        #[arg(long, value_name = "OUT", conflicts_with = "file")]
        template: Option<PathBuf>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Import laboratory test results (CSV or XLSX; columns record_id,national_id,full_name,dob,
    /// sex,commune_code,phone,sample_date,test_type,result,lab_code): positive RT-PCR and rapid
    /// antigen results open or update cases.
    Tests {
        /// The file to import (.csv or .xlsx).
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Import vaccination sites (CSV or XLSX; columns code,name,commune_code).
    Sites {
        /// The file to import (.csv or .xlsx).
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Import vaccine lots (CSV or XLSX; columns vaccine,lot,expiry).
    Lots {
        /// The file to import (.csv or .xlsx).
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

/// Rows per transaction.
const CHUNK: usize = 5_000;

/// What an import did, printed as JSON.
#[derive(Debug, Serialize)]
pub struct ImportSummary {
    pub inserted: u64,
    pub updated: u64,
    pub rejected: usize,
    /// Rejected rows with reasons (`null` when every row was accepted).
    pub errors_file: Option<String>,
    /// Accepted rows whose citizen ID disagrees with sex or birth year (flagged for review).
    pub flagged_national_ids: usize,
}

/// A file as a header and rows of text cells.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// The text of a CSV file: UTF-8 (with or without a byte-order mark) or UTF-16 with one; any
/// other file is read as Windows-1258, the code page of Excel's plain "CSV" on Vietnamese Windows
/// (tone marks combining, so the text is composed to NFC), with a warning on standard error.
fn csv_text(bytes: &[u8], path: &Path) -> anyhow::Result<String> {
    use unicode_normalization::UnicodeNormalization;
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _, bad) = encoding.decode(bytes);
        if bad {
            bail!(
                "tệp {} có ký tự không đọc được theo bảng mã {}",
                path.display(),
                encoding.name()
            );
        }
        return Ok(text.into_owned());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_string());
    }
    let (text, bad) = encoding_rs::WINDOWS_1258.decode_without_bom_handling(bytes);
    if bad {
        bail!(
            "tệp {} không phải UTF-8 và cũng không phải Windows-1258: hãy lưu lại bằng Excel dạng «CSV UTF-8»",
            path.display()
        );
    }
    eprintln!(
        "Lưu ý: tệp {} không phải UTF-8, đã đọc theo bảng mã Windows-1258 (CSV của Excel tiếng Việt). \
         Nếu tên người bị lỗi dấu, hãy lưu lại dạng «CSV UTF-8».",
        path.display()
    );
    Ok(text.nfc().collect())
}

fn read_csv(path: &Path) -> anyhow::Result<Table> {
    let bytes =
        std::fs::read(path).with_context(|| format!("không đọc được tệp {}", path.display()))?;
    let text = csv_text(&bytes, path)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .context("tệp CSV không có dòng tiêu đề")?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.with_context(|| format!("dòng {} của tệp CSV không đọc được", i + 2))?;
        rows.push(rec.iter().map(str::to_string).collect());
    }
    Ok(Table { header, rows })
}

/// Text of a spreadsheet cell; dates become YYYY-MM-DD, whole numbers lose their ".0".
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::DateTime(_) | Data::DateTimeIso(_) => cell
            .as_date()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| cell.to_string()),
        other => other.to_string(),
    }
}

fn read_xlsx(path: &Path) -> anyhow::Result<Table> {
    let mut book = calamine::open_workbook_auto(path)
        .with_context(|| format!("không mở được bảng tính {}", path.display()))?;
    let range = book
        .worksheet_range_at(0)
        .context("bảng tính không có trang nào")?
        .context("không đọc được trang đầu của bảng tính")?;
    let mut rows = range.rows();
    let header = rows
        .next()
        .context("bảng tính không có dòng tiêu đề")?
        .iter()
        .map(|c| cell_text(c).trim().to_ascii_lowercase())
        .collect();
    Ok(Table {
        header,
        rows: rows.map(|r| r.iter().map(cell_text).collect()).collect(),
    })
}

/// Imports a register file into a store; `errors_path` receives rejected rows.
pub async fn import_population(
    store: &dyn store::Store,
    file: &Path,
    errors_path: &Path,
    as_of: chrono::NaiveDate,
) -> anyhow::Result<ImportSummary> {
    let table = read_table(file)?;
    let missing = domain::register::missing_columns(&table.header);
    if !missing.is_empty() {
        bail!("tệp thiếu cột bắt buộc: {}", missing.join(", "));
    }
    let index: HashMap<&str, usize> = table
        .header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let units = domain::units::AdminUnits::embedded();
    let mut accepted = Vec::new();
    let mut rejected: Vec<(usize, domain::register::CellError)> = Vec::new();
    let mut rejected_rows = 0;
    for (i, row) in table.rows.iter().enumerate() {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |c: &str| index.get(c).and_then(|&k| row.get(k)).cloned();
        match domain::register::parse_row(get, units) {
            Ok(e) => accepted.push(e),
            Err(errs) => {
                rejected_rows += 1;
                // Row numbers as the clerk sees them: the header is row 1.
                rejected.extend(errs.into_iter().map(|e| (i + 2, e)));
            }
        }
    }
    let flagged = accepted
        .iter()
        .filter(|e| e.national_id_inconsistent)
        .count();
    let (mut inserted, mut updated) = (0, 0);
    for (n, chunk) in accepted.chunks(CHUNK).enumerate() {
        let audit = domain::audit::NewAuditEntry {
            at: chrono::Utc::now(),
            actor_id: None,
            actor: Some("phongdich import".into()),
            action: "population.import".into(),
            entity_type: Some("file".into()),
            entity_id: file.file_name().map(|f| f.to_string_lossy().into_owned()),
            unit_code: None,
            ip: None,
            details: serde_json::json!({ "chunk": n + 1, "rows": chunk.len() }),
        };
        let (i, u) = store.upsert_register(chunk, &audit).await?;
        inserted += i;
        updated += u;
    }
    let errors_file = if rejected.is_empty() {
        let _ = std::fs::remove_file(errors_path);
        None
    } else {
        let mut w = csv::Writer::from_path(errors_path)
            .with_context(|| format!("không ghi được {}", errors_path.display()))?;
        w.write_record(["row", "column", "value", "message"])?;
        for (row, e) in &rejected {
            w.write_record([
                row.to_string(),
                e.column.clone(),
                e.value.clone(),
                e.message.clone(),
            ])?;
        }
        w.flush()?;
        Some(errors_path.display().to_string())
    };
    if inserted + updated > 0 {
        store::rebuild_denominators(store, as_of).await?;
    }
    Ok(ImportSummary {
        inserted,
        updated,
        rejected: rejected_rows,
        errors_file,
        flagged_national_ids: flagged,
    })
}

/// What a records import did, printed as JSON.
#[derive(Debug, Serialize)]
pub struct RecordsSummary {
    #[serde(flatten)]
    pub batch: intake::BatchSummary,
    pub rejected: usize,
    pub errors_file: Option<String>,
}

/// Imports records of one kind and source and links them ([`intake::link_batch`]) in batches
/// of 10,000. Rows without a record_id, or with nothing to identify the person (no name and no
/// citizen ID), are rejected into `errors_path`.
pub async fn import_records(
    store: &dyn store::Store,
    file: &Path,
    kind: &str,
    source: &str,
    errors_path: &Path,
) -> anyhow::Result<RecordsSummary> {
    let table = read_table(file)?;
    if !table.header.iter().any(|h| h == "record_id") {
        bail!("tệp thiếu cột bắt buộc: record_id");
    }
    let batch_id = uuid::Uuid::now_v7();
    let mut rejected = Vec::new();
    let mut objects = Vec::new();
    for (i, row) in table.rows.iter().enumerate() {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> = table
            .header
            .iter()
            .zip(row)
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(h, v)| (h.clone(), serde_json::Value::String(v.trim().to_string())))
            .collect();
        let has = |k: &str| obj.contains_key(k);
        if !has("record_id") {
            rejected.push((i + 2, "record_id", "", "Thiếu mã bản ghi (record_id)"));
        } else if !has("full_name") && !has("national_id") {
            rejected.push((
                i + 2,
                "full_name",
                "",
                "Không có họ tên hay số CCCD để xác định người",
            ));
        } else {
            objects.push(obj);
        }
    }
    let mut summary = intake::BatchSummary::default();
    for chunk in objects.chunks(10_000) {
        let body = server::api::records::BatchBody {
            kind: kind.to_string(),
            source: source.to_string(),
            records: chunk.to_vec(),
        };
        let records = server::api::records::batch_records(&body, batch_id)?;
        let audit = domain::audit::NewAuditEntry {
            at: chrono::Utc::now(),
            actor_id: None,
            actor: Some("phongdich import".into()),
            action: "records.import".into(),
            entity_type: Some("file".into()),
            entity_id: file.file_name().map(|f| f.to_string_lossy().into_owned()),
            unit_code: None,
            ip: None,
            details: serde_json::json!({ "kind": kind, "source": source, "rows": chunk.len() }),
        };
        summary.add(&intake::link_batch(store, &records, Some(&audit)).await?);
    }
    let errors_file = if rejected.is_empty() {
        let _ = std::fs::remove_file(errors_path);
        None
    } else {
        let mut w = csv::Writer::from_path(errors_path)
            .with_context(|| format!("không ghi được {}", errors_path.display()))?;
        w.write_record(["row", "column", "value", "message"])?;
        for (row, col, value, msg) in &rejected {
            w.write_record([row.to_string().as_str(), col, value, msg])?;
        }
        w.flush()?;
        Some(errors_path.display().to_string())
    };
    Ok(RecordsSummary {
        batch: summary,
        rejected: rejected.len(),
        errors_file,
    })
}

/// A rejected cell: file row (header = 1), column, value, Vietnamese message.
type RejectedCell = (usize, String, String, String);

/// Writes rejected cells to `errors_path` (or removes a stale one when there are none).
fn write_rejected(errors_path: &Path, rejected: &[RejectedCell]) -> anyhow::Result<Option<String>> {
    if rejected.is_empty() {
        let _ = std::fs::remove_file(errors_path);
        return Ok(None);
    }
    let mut w = csv::Writer::from_path(errors_path)
        .with_context(|| format!("không ghi được {}", errors_path.display()))?;
    w.write_record(["row", "column", "value", "message"])?;
    for (row, col, value, msg) in rejected {
        w.write_record([row.to_string().as_str(), col, value, msg])?;
    }
    w.flush()?;
    Ok(Some(errors_path.display().to_string()))
}

/// Column name → index of a table's header.
fn header_index(table: &Table) -> HashMap<&str, usize> {
    table
        .header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect()
}

/// What a doses import did, printed as JSON.
#[derive(Debug, Default, Serialize)]
pub struct DosesSummary {
    pub inserted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub linked: usize,
    pub review: usize,
    pub unlinked: usize,
    /// Rejected rows with reasons (`null` when every row was accepted).
    pub errors_file: Option<String>,
}

/// Dose rows stored and linked per batch (one transaction and audit entry each).
const DOSE_BATCH: usize = 10_000;

/// Whether a row is the import template's example row, cell for cell.
fn is_template_example(get: &impl Fn(&str) -> Option<String>) -> bool {
    server::api::doses::template_header()
        .iter()
        .zip(server::api::doses::TEMPLATE_EXAMPLE)
        .all(|(column, example)| get(column).unwrap_or_default().trim() == example)
}

/// Imports a file of doses; rejected rows go to `errors_path`. `today` bounds dose dates.
pub async fn import_doses(
    store: &dyn store::Store,
    file: &Path,
    errors_path: &Path,
    today: chrono::NaiveDate,
) -> anyhow::Result<DosesSummary> {
    let table = read_table(file)?;
    let missing: Vec<&str> = ["record_id", "vaccine", "dose_date", "site_code"]
        .into_iter()
        .filter(|c| !table.header.iter().any(|h| h.trim() == *c))
        .collect();
    if !missing.is_empty() {
        bail!("tệp thiếu cột bắt buộc: {}", missing.join(", "));
    }
    let index = header_index(&table);
    let catalogue = domain::vaccines::VaccineCatalogue::embedded();
    let mut rows = Vec::new();
    let mut rejected: Vec<RejectedCell> = Vec::new();
    let mut summary = DosesSummary::default();
    // The file line of each (site, record id) taken, and its row.
    let mut taken: HashMap<(String, String), (usize, usize)> = HashMap::new();
    for (i, row) in table.rows.iter().enumerate() {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |c: &str| index.get(c).and_then(|&k| row.get(k)).cloned();
        if is_template_example(&get) {
            summary.rejected += 1;
            rejected.push((
                i + 2,
                "record_id".into(),
                server::api::doses::TEMPLATE_EXAMPLE[0].into(),
                "Dòng ví dụ của mẫu nhập, không phải mũi tiêm thật: hãy xóa dòng này".into(),
            ));
            continue;
        }
        match domain::dose_record::parse_row(get, catalogue, today) {
            Ok(r) => {
                let key = (r.site_code.clone(), r.record_id.clone());
                match taken.get(&key) {
                    // The same dose twice in the file: stored once (counted as a duplicate).
                    Some(&(_, first)) if rows[first] == r => rows.push(r),
                    Some(&(line, _)) => {
                        summary.rejected += 1;
                        rejected.push((
                            i + 2,
                            "record_id".into(),
                            r.record_id.clone(),
                            format!(
                                "Mã bản ghi trùng với dòng {line} của cùng điểm tiêm nhưng khác nội dung: dòng này không được nhận"
                            ),
                        ));
                    }
                    None => {
                        taken.insert(key, (i + 2, rows.len()));
                        rows.push(r);
                    }
                }
            }
            Err(errs) => {
                summary.rejected += 1;
                rejected.extend(
                    errs.into_iter()
                        .map(|e| (i + 2, e.column, e.value, e.message)),
                );
            }
        }
    }
    let mut statistics = store::StatisticsSchedule::new(DOSE_BATCH as u64);
    for (n, chunk) in rows.chunks(DOSE_BATCH).enumerate() {
        let audit = domain::audit::NewAuditEntry {
            at: chrono::Utc::now(),
            actor_id: None,
            actor: Some("phongdich import".into()),
            action: "doses.import".into(),
            entity_type: Some("file".into()),
            entity_id: file.file_name().map(|f| f.to_string_lossy().into_owned()),
            unit_code: None,
            ip: None,
            details: serde_json::json!({ "batch": n + 1, "rows": chunk.len() }),
        };
        let b = intake::doses::record_doses(store, chunk, Some(&audit)).await?;
        statistics
            .after(store, ((n + 1) * DOSE_BATCH) as u64)
            .await?;
        summary.inserted += b.inserted;
        summary.duplicates += b.duplicates;
        summary.linked += b.linked;
        summary.review += b.review;
        summary.unlinked += b.unlinked;
    }
    summary.errors_file = write_rejected(errors_path, &rejected)?;
    Ok(summary)
}

/// What a tests import did, printed as JSON.
#[derive(Debug, Default, Serialize)]
pub struct TestsSummary {
    pub inserted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub linked: usize,
    pub review: usize,
    pub unlinked: usize,
    pub cases_created: u64,
    pub cases_updated: u64,
    /// Contacts under follow-up who became cases with these results.
    pub contacts_became_cases: usize,
    /// Rejected rows with reasons (`null` when every row was accepted).
    pub errors_file: Option<String>,
}

/// Test rows stored and linked per batch (one transaction and audit entry each).
const TEST_BATCH: usize = 10_000;

/// Imports a file of test results; rejected rows go to `errors_path`. `today` bounds sample
/// dates; `received_at` is when the results reached the system (reporting deadlines).
pub async fn import_tests(
    store: &dyn store::Store,
    file: &Path,
    errors_path: &Path,
    today: chrono::NaiveDate,
    received_at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<TestsSummary> {
    let table = read_table(file)?;
    let missing: Vec<&str> = domain::test_record::REQUIRED_COLUMNS
        .into_iter()
        .filter(|c| !table.header.iter().any(|h| h.trim() == *c))
        .collect();
    if !missing.is_empty() {
        bail!("tệp thiếu cột bắt buộc: {}", missing.join(", "));
    }
    let index = header_index(&table);
    let mut rows = Vec::new();
    let mut rejected: Vec<RejectedCell> = Vec::new();
    let mut summary = TestsSummary::default();
    for (i, row) in table.rows.iter().enumerate() {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |c: &str| index.get(c).and_then(|&k| row.get(k)).cloned();
        match domain::test_record::parse_row(get, today) {
            Ok(r) => rows.push(r),
            Err(errs) => {
                summary.rejected += 1;
                rejected.extend(
                    errs.into_iter()
                        .map(|e| (i + 2, e.column, e.value, e.message)),
                );
            }
        }
    }
    let mut statistics = store::StatisticsSchedule::new(TEST_BATCH as u64);
    for (n, chunk) in rows.chunks(TEST_BATCH).enumerate() {
        let audit = domain::audit::NewAuditEntry {
            at: chrono::Utc::now(),
            actor_id: None,
            actor: Some("phongdich import".into()),
            action: "tests.import".into(),
            entity_type: Some("file".into()),
            entity_id: file.file_name().map(|f| f.to_string_lossy().into_owned()),
            unit_code: None,
            ip: None,
            details: serde_json::json!({ "batch": n + 1, "rows": chunk.len() }),
        };
        let b = intake::lab_tests::record_tests(store, chunk, received_at, Some(&audit)).await?;
        statistics
            .after(store, ((n + 1) * TEST_BATCH) as u64)
            .await?;
        summary.inserted += b.inserted;
        summary.duplicates += b.duplicates;
        summary.linked += b.linked;
        summary.review += b.review;
        summary.unlinked += b.unlinked;
        summary.cases_created += b.cases_created;
        summary.cases_updated += b.cases_updated;
        summary.contacts_became_cases += b.contacts_became_cases;
    }
    summary.errors_file = write_rejected(errors_path, &rejected)?;
    Ok(summary)
}

/// Writes the Vietnamese dose import template: an .xlsx with a notes sheet, or a .csv (header
/// and example row) with its notes in `NAME.huong-dan.csv`. Returns the files written.
pub fn write_dose_template(out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "xlsx" => {
            let bytes = server::api::doses::template_xlsx()?;
            std::fs::write(out, bytes)
                .with_context(|| format!("không ghi được {}", out.display()))?;
            Ok(vec![out.to_path_buf()])
        }
        "csv" => {
            let mut w = csv::Writer::from_path(out)
                .with_context(|| format!("không ghi được {}", out.display()))?;
            w.write_record(server::api::doses::template_header())?;
            w.write_record(server::api::doses::TEMPLATE_EXAMPLE)?;
            w.flush()?;
            let notes = out.with_extension("huong-dan.csv");
            let mut n = csv::Writer::from_path(&notes)
                .with_context(|| format!("không ghi được {}", notes.display()))?;
            for row in server::api::doses::template_notes() {
                n.write_record(&row)?;
            }
            n.flush()?;
            Ok(vec![out.to_path_buf(), notes])
        }
        _ => bail!("mẫu chỉ ghi ra tệp .xlsx hoặc .csv: {}", out.display()),
    }
}

/// What a sites or lots import did.
#[derive(Debug, Serialize)]
pub struct ListSummary {
    pub written: u64,
    pub rejected: usize,
    pub errors_file: Option<String>,
}

/// Imports vaccination sites (`code,name,commune_code`; the commune as a 2025 code, or a
/// pre-2025 code mapped to its 2025 commune).
pub async fn import_sites(
    store: &dyn store::Store,
    file: &Path,
    errors_path: &Path,
) -> anyhow::Result<ListSummary> {
    let table = read_table(file)?;
    for c in ["code", "name"] {
        if !table.header.iter().any(|h| h.trim() == c) {
            bail!("tệp thiếu cột bắt buộc: {c}");
        }
    }
    let index = header_index(&table);
    let units = domain::units::AdminUnits::embedded();
    let mut sites = Vec::new();
    let mut rejected: Vec<RejectedCell> = Vec::new();
    let mut bad_rows = 0;
    for (i, row) in table.rows.iter().enumerate() {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |c: &str| {
            index
                .get(c)
                .and_then(|&k| row.get(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let (code, name, commune) = (cell("code"), cell("name"), cell("commune_code"));
        let mut errs: Vec<(&str, String, &str)> = Vec::new();
        if code.is_empty() {
            errs.push(("code", code.clone(), "Thiếu mã điểm tiêm"));
        }
        if name.is_empty() {
            errs.push(("name", name.clone(), "Thiếu tên điểm tiêm"));
        }
        let commune_code = if commune.is_empty() {
            None
        } else if units
            .v2025
            .get(&commune)
            .is_some_and(|u| u.level == domain::units::UnitLevel::Commune)
        {
            Some(commune.clone())
        } else if let Some(new) = units.default_new_commune(&commune) {
            Some(new.to_string())
        } else {
            errs.push((
                "commune_code",
                commune.clone(),
                "Mã xã/phường không có trong danh mục (2025 hoặc trước 2025)",
            ));
            None
        };
        if errs.is_empty() {
            sites.push(store::VaccinationSite {
                code,
                name: name.split_whitespace().collect::<Vec<_>>().join(" "),
                commune_code,
            });
        } else {
            bad_rows += 1;
            rejected.extend(
                errs.into_iter()
                    .map(|(c, v, m)| (i + 2, c.to_string(), v, m.to_string())),
            );
        }
    }
    let written = store.upsert_vaccination_sites(&sites).await?;
    Ok(ListSummary {
        written,
        rejected: bad_rows,
        errors_file: write_rejected(errors_path, &rejected)?,
    })
}

/// Imports vaccine lots (`vaccine,lot,expiry`; the vaccine as a DCC code or an alias).
pub async fn import_lots(
    store: &dyn store::Store,
    file: &Path,
    errors_path: &Path,
) -> anyhow::Result<ListSummary> {
    let table = read_table(file)?;
    for c in ["vaccine", "lot", "expiry"] {
        if !table.header.iter().any(|h| h.trim() == c) {
            bail!("tệp thiếu cột bắt buộc: {c}");
        }
    }
    let index = header_index(&table);
    let catalogue = domain::vaccines::VaccineCatalogue::embedded();
    let mut lots = Vec::new();
    let mut rejected: Vec<RejectedCell> = Vec::new();
    let mut bad_rows = 0;
    for (i, row) in table.rows.iter().enumerate() {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |c: &str| {
            index
                .get(c)
                .and_then(|&k| row.get(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let (vaccine, lot, expiry) = (cell("vaccine"), cell("lot"), cell("expiry"));
        let mut errs: Vec<(&str, String, &str)> = Vec::new();
        let product = catalogue.resolve(&vaccine);
        if product.is_none() {
            errs.push((
                "vaccine",
                vaccine.clone(),
                "Không có vắc xin này trong danh mục",
            ));
        }
        if lot.is_empty() {
            errs.push(("lot", lot.clone(), "Thiếu số lô"));
        }
        let date = domain::dose_record::parse_date(&expiry);
        if date.is_none() {
            errs.push((
                "expiry",
                expiry.clone(),
                "Hạn dùng không hợp lệ (dạng YYYY-MM-DD hoặc DD/MM/YYYY)",
            ));
        }
        match (product, date) {
            (Some(p), Some(expiry)) if errs.is_empty() => lots.push(store::VaccineLot {
                product: p.code.clone(),
                lot,
                expiry,
            }),
            _ => {
                bad_rows += 1;
                rejected.extend(
                    errs.into_iter()
                        .map(|(c, v, m)| (i + 2, c.to_string(), v, m.to_string())),
                );
            }
        }
    }
    let written = store.upsert_vaccine_lots(&lots).await?;
    Ok(ListSummary {
        written,
        rejected: bad_rows,
        errors_file: write_rejected(errors_path, &rejected)?,
    })
}

/// `FILE.errors.csv`.
fn errors_path_of(file: &Path) -> PathBuf {
    let mut errors = file.to_path_buf().into_os_string();
    errors.push(".errors.csv");
    PathBuf::from(errors)
}

/// Reads a .csv or .xlsx file.
fn read_table(file: &Path) -> anyhow::Result<Table> {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "csv" => read_csv(file),
        "xlsx" | "xls" | "ods" => read_xlsx(file),
        _ => bail!("chỉ nhận tệp .csv hoặc .xlsx: {}", file.display()),
    }
}

pub async fn run(cmd: Command, file_config: &FileConfig) -> anyhow::Result<()> {
    match cmd {
        Command::Doses {
            template: Some(out),
            ..
        } => {
            let written = write_dose_template(&out)?;
            println!("{}", serde_json::json!({ "template": written }));
            Ok(())
        }
        Command::Doses { file, db, .. } => {
            let file = file.context("thiếu tệp cần nhập")?;
            let store = store::open(&file_config.database_url(db.database)).await?;
            let summary = import_doses(
                store.as_ref(),
                &file,
                &errors_path_of(&file),
                domain::vietnam_time::local_date(chrono::Utc::now()),
            )
            .await?;
            println!("{}", serde_json::to_string(&summary)?);
            store.close().await;
            Ok(())
        }
        Command::Tests { file, db } => {
            let store = store::open(&file_config.database_url(db.database)).await?;
            let summary = import_tests(
                store.as_ref(),
                &file,
                &errors_path_of(&file),
                intake::care::local_date(chrono::Utc::now()),
                chrono::Utc::now(),
            )
            .await?;
            println!("{}", serde_json::to_string(&summary)?);
            store.close().await;
            Ok(())
        }
        Command::Sites { file, db } => {
            let store = store::open(&file_config.database_url(db.database)).await?;
            let summary = import_sites(store.as_ref(), &file, &errors_path_of(&file)).await?;
            println!("{}", serde_json::to_string(&summary)?);
            store.close().await;
            Ok(())
        }
        Command::Lots { file, db } => {
            let store = store::open(&file_config.database_url(db.database)).await?;
            let summary = import_lots(store.as_ref(), &file, &errors_path_of(&file)).await?;
            println!("{}", serde_json::to_string(&summary)?);
            store.close().await;
            Ok(())
        }
        Command::Records {
            file,
            kind,
            source,
            db,
        } => {
            let store = store::open(&file_config.database_url(db.database)).await?;
            let mut errors = file.clone().into_os_string();
            errors.push(".errors.csv");
            let summary =
                import_records(store.as_ref(), &file, &kind, &source, Path::new(&errors)).await?;
            println!("{}", serde_json::to_string(&summary)?);
            store.close().await;
            Ok(())
        }
        Command::Population { file, db } => {
            let store = store::open(&file_config.database_url(db.database)).await?;
            let mut errors = file.clone().into_os_string();
            errors.push(".errors.csv");
            let summary = import_population(
                store.as_ref(),
                &file,
                Path::new(&errors),
                domain::vietnam_time::local_date(chrono::Utc::now()),
            )
            .await?;
            println!("{}", serde_json::to_string(&summary)?);
            store.close().await;
            Ok(())
        }
    }
}
