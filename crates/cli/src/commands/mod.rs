//! One module per subcommand.

pub mod audit;
pub mod cert;
pub mod coverage;
pub mod demo;
pub mod followup;
pub mod import;
pub mod level;
pub mod link;
pub mod population;
pub mod rt;
pub mod rules;
pub mod serve;
pub mod user;

use crate::config::FileConfig;

/// `--database URL` (or `PHONGDICH_DATABASE_URL`), shared by the subcommands.
#[derive(Debug, clap::Args)]
pub struct DatabaseArg {
    /// Database URL: `sqlite://PATH` (default `sqlite://./phongdich.db`) or `postgres://…`.
    #[arg(long, env = "PHONGDICH_DATABASE_URL")]
    pub database: Option<String>,
}

/// `phongdich migrate`: applies pending migrations and reports the backend.
pub async fn migrate(args: DatabaseArg, file: &FileConfig) -> anyhow::Result<()> {
    let url = file.database_url(args.database);
    let store = store::open(&url).await?;
    println!(
        "{}",
        serde_json::json!({ "migrated": true, "backend": store.backend().as_str() })
    );
    store.close().await;
    Ok(())
}
