//! `phongdich` — the one binary: `serve`, `migrate`, `demo`, `population`, `import`, `link`,
//! `dedupe`, `linkage-data`, `link-score`, `user`, `token`, `audit`, `coverage`,
//! `allocate`, `followup`, `cert`, `rules`, `rt`, `level`.
//!
//! Configuration comes from flags, then `PHONGDICH_*` environment variables, then a TOML file
//! (`--config`, `PHONGDICH_CONFIG`, or `./phongdich.toml` when present), then defaults.

mod commands;
mod config;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// phongdich — hệ thống thông tin phòng chống dịch (epidemic prevention information system).
#[derive(Debug, Parser)]
#[command(name = "phongdich", version, about)]
struct Cli {
    /// TOML configuration file (default: ./phongdich.toml if it exists).
    #[arg(long, global = true, env = "PHONGDICH_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Log format: `text` or `json`.
    #[arg(long, global = true, env = "PHONGDICH_LOG_FORMAT")]
    log_format: Option<config::LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server (applies migrations first).
    Serve(commands::serve::Args),
    /// Apply database migrations and exit.
    Migrate(commands::DatabaseArg),
    /// Fill the database with a synthetic population of one province.
    Demo(commands::demo::Args),
    /// Population denominators derived from the register.
    #[command(subcommand)]
    Population(commands::population::Command),
    /// Import data files (population register, records, doses, vaccination sites and lots).
    #[command(subcommand)]
    Import(commands::import::Command),
    /// Link records to a population register (CSV in, CSV out).
    Link(commands::link::LinkArgs),
    /// Cluster duplicate records within one CSV file.
    Dedupe(commands::link::DedupeArgs),
    /// Write a register, noisy records and their truth for linkage tests and benchmarks.
    LinkageData(commands::link::LinkageDataArgs),
    /// Precision, recall and F1 of a links file against the truth.
    LinkScore(commands::link::LinkScoreArgs),
    /// User accounts.
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// API tokens for machine clients.
    #[command(subcommand)]
    Token(commands::user::TokenCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(commands::audit::Command),
    /// Vaccination coverage of a unit; `coverage rebuild [--check]` recomputes the counters.
    Coverage(commands::coverage::Args),
    /// Recommended split of a vaccine delivery to the units below, by unmet need.
    Allocate(commands::coverage::AllocateArgs),
    /// Door-to-door follow-up list of a unit (JSON, or XLSX with --out).
    Followup(commands::followup::Args),
    /// Vaccination certificates (EU DCC): keys, issuing, verifying, trust list, revocation.
    #[command(subcommand)]
    Cert(commands::cert::Command),
    /// Rulesets (home care, severity, case management): list them, or check an input file.
    #[command(subcommand)]
    Rules(commands::rules::Command),
    /// Reproduction number Rt over sliding windows of a daily case series (EpiEstim method).
    Rt(commands::rt::Args),
    /// Epidemic level (cấp độ dịch) of units from their weekly indicators (CSV), or list the rulesets.
    #[command(subcommand)]
    Level(commands::level::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let file = match config::FileConfig::load(cli.config.as_deref()) {
        Ok(f) => f,
        Err(e) => return report(&e),
    };
    logging::init(cli.log_format.or(file.log_format).unwrap_or_default());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return report(&anyhow::Error::from(e)),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(a) => commands::serve::run(a, &file).await,
            Command::Migrate(a) => commands::migrate(a, &file).await,
            Command::Demo(a) => commands::demo::run(a, &file).await,
            Command::Population(c) => commands::population::run(c, &file).await,
            Command::Import(c) => commands::import::run(c, &file).await,
            Command::Link(a) => commands::link::run_link(a),
            Command::Dedupe(a) => commands::link::run_dedupe(a),
            Command::LinkageData(a) => commands::link::run_linkage_data(a),
            Command::LinkScore(a) => commands::link::run_link_score(a),
            Command::User(c) => commands::user::run_user(c, &file).await,
            Command::Token(c) => commands::user::run_token(c, &file).await,
            Command::Audit(c) => commands::audit::run(c, &file).await,
            Command::Coverage(a) => commands::coverage::run(a, &file).await,
            Command::Allocate(a) => commands::coverage::allocate(a, &file).await,
            Command::Followup(a) => commands::followup::run(a, &file).await,
            Command::Cert(c) => commands::cert::run(c, &file).await,
            Command::Rules(c) => commands::rules::run(c),
            Command::Rt(a) => commands::rt::run(a),
            Command::Level(c) => commands::level::run(c, &file).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

/// Prints an error on one line (Vietnamese message, stable code) and returns a failure code.
fn report(e: &anyhow::Error) -> ExitCode {
    match e.downcast_ref::<domain::Error>() {
        Some(d) => eprintln!("lỗi [{}]: {}", d.code.as_str(), d.message_vi),
        None => eprintln!("lỗi: {e:#}"),
    }
    ExitCode::FAILURE
}
