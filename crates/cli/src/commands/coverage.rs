//! `phongdich coverage --unit CODE [--as-of DATE] [--hierarchy 2025|pre2025]`: coverage of a
//! unit by age group and dose level, from the counters kept in the write transaction, as JSON
//! `{unit, unit_name, hierarchy, as_of, groups: [{age_group, population, at_least_one,
//! primary_complete, booster1, booster2}]}`.
//!
//! `phongdich coverage rebuild [--check]`: recomputes every coverage row and counter from the
//! register and the linked dose records. With `--check` nothing is written: the comparison is
//! printed and the exit status is non-zero when the stored figures differ. Without it the stored
//! figures are replaced by the recomputed ones.
//!
//! `phongdich allocate --unit CODE --product VACCINE --doses N [--as-of DATE]`: the recommended
//! split of a delivery to the units below, by unmet need, priority groups first
//! ([`intake::allocation_need`], which documents the need formula), with the reasoning steps.

use chrono::NaiveDate;
use domain::units::UnitVersion;
use store::CoverageUnit;

use super::DatabaseArg;
use crate::config::FileConfig;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Unit code (province, district or commune).
    #[arg(long, required = true)]
    pub unit: Option<String>,
    /// Date of the figures (YYYY-MM-DD); default today.
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// Hierarchy of the code: `2025` or `pre2025` (default: 2025 first, then pre-2025).
    #[arg(long)]
    pub hierarchy: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Recompute coverage rows and counters from scratch.
    Rebuild {
        #[command(flatten)]
        db: DatabaseArg,
        /// Only compare with the stored figures; fail when they differ.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct AllocateArgs {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Province or district receiving the delivery.
    #[arg(long)]
    pub unit: String,
    /// Vaccine: EU DCC product code or alias (Pfizer, AstraZeneca, Vero Cell…).
    #[arg(long)]
    pub product: String,
    /// Doses delivered.
    #[arg(long)]
    pub doses: u64,
    /// Date of the coverage figures used (YYYY-MM-DD); default today.
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// Hierarchy of the code: `2025` or `pre2025`.
    #[arg(long)]
    pub hierarchy: Option<String>,
}

fn resolve(code: &str, hierarchy: Option<&str>) -> anyhow::Result<CoverageUnit> {
    let hierarchy = hierarchy.map(UnitVersion::parse).transpose()?;
    Ok(CoverageUnit::resolve(code, hierarchy)?)
}

/// Today in Vietnam (the default as-of date), whatever the machine's time zone.
fn today() -> NaiveDate {
    domain::vietnam_time::local_date(chrono::Utc::now())
}

pub async fn run(args: Args, file: &FileConfig) -> anyhow::Result<()> {
    match args.command {
        Some(Command::Rebuild { db, check }) => rebuild(db, check, file).await,
        None => {
            let code = args.unit.unwrap_or_default();
            let unit = resolve(&code, args.hierarchy.as_deref())?;
            let store = store::open(&file.database_url(args.db.database)).await?;
            let report =
                store::coverage_report(store.as_ref(), &unit, args.as_of.unwrap_or_else(today))
                    .await;
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&report?)?);
            Ok(())
        }
    }
}

async fn rebuild(db: DatabaseArg, check: bool, file: &FileConfig) -> anyhow::Result<()> {
    let store = store::open(&file.database_url(db.database)).await?;
    let report = store.rebuild_coverage(!check).await;
    store.close().await;
    let report = report?;
    let mut json = serde_json::to_value(&report)?;
    json["consistent"] = serde_json::Value::Bool(report.consistent());
    println!("{}", serde_json::to_string_pretty(&json)?);
    if check && !report.consistent() {
        anyhow::bail!(
            "số liệu bao phủ đã lưu khác số liệu tính lại: {} dòng người, {} bộ đếm khác nhau; chạy `phongdich coverage rebuild` để ghi lại",
            report.person_rows_differing,
            report.counters_differing
        );
    }
    Ok(())
}

pub async fn allocate(args: AllocateArgs, file: &FileConfig) -> anyhow::Result<()> {
    let unit = resolve(&args.unit, args.hierarchy.as_deref())?;
    // Checked before opening the database, so a typo fails fast.
    intake::allocation_need::child_units(&unit)?;
    intake::allocation_need::product_rule(&args.product)?;
    let store = store::open(&file.database_url(args.db.database)).await?;
    let plan = intake::allocation_need::plan_allocation(
        store.as_ref(),
        &unit,
        &args.product,
        args.doses,
        args.as_of.unwrap_or_else(today),
    )
    .await;
    store.close().await;
    println!("{}", serde_json::to_string_pretty(&plan?)?);
    Ok(())
}
