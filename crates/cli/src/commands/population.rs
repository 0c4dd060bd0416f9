//! `phongdich population rebuild`: recomputes denominators (commune × sex × 5-year band) from the
//! population register at a reference date.

use chrono::NaiveDate;

use super::DatabaseArg;
use crate::config::FileConfig;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Recompute denominators from the register.
    Rebuild {
        #[command(flatten)]
        db: DatabaseArg,
        /// Reference date (YYYY-MM-DD); default today.
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
}

pub async fn run(cmd: Command, file: &FileConfig) -> anyhow::Result<()> {
    match cmd {
        Command::Rebuild { db, as_of } => {
            let store = store::open(&file.database_url(db.database)).await?;
            let as_of =
                as_of.unwrap_or_else(|| domain::vietnam_time::local_date(chrono::Utc::now()));
            let rows = store::rebuild_denominators(store.as_ref(), as_of).await?;
            println!(
                "{}",
                serde_json::json!({ "as_of": as_of, "denominator_rows": rows })
            );
            store.close().await;
            Ok(())
        }
    }
}
