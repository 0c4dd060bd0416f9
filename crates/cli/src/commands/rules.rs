//! `phongdich rules …`: the versioned rulesets (DOMAIN.md §8), evaluated offline.
//!
//! - `check home-care --input FILE.json [--ruleset ID]`: assesses one check-in
//!   (`{age_years, resp_rate, spo2, pulse, systolic, diastolic, temp_c, symptoms[], …}`) with
//!   the same [`domain::home_care::assess`] the server uses, and prints `{escalate, reasons[],
//!   severity, eligible_home_care, ineligible_reasons[], alert, ruleset, severity_table}`.
//! - `list`: the ids, effective dates and citations of the home-care rulesets, severity tables
//!   and case-management rulesets.

use std::path::PathBuf;

use anyhow::Context;
use domain::case_rules::CaseRules;
use domain::home_care::{HomeCareRules, Vitals, assess};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Evaluate a ruleset on an input file.
    #[command(subcommand)]
    Check(CheckCommand),
    /// List the rulesets with their effective dates and legal citations.
    List,
}

#[derive(Debug, clap::Subcommand)]
pub enum CheckCommand {
    /// Warning signs, severity and home-care eligibility of one check-in (JSON file).
    HomeCare(HomeCareArgs),
}

#[derive(Debug, clap::Args)]
pub struct HomeCareArgs {
    /// JSON check-in: `{age_years, resp_rate, spo2, pulse, systolic, diastolic, temp_c,
    /// symptoms[]}` (values may be null or absent), optionally `comorbidities[]`, `pregnant`,
    /// `fully_vaccinated`, `unstable_comorbidity`, `able_to_self_care`.
    #[arg(long)]
    pub input: PathBuf,
    /// Ruleset id (default: the rules file's default, `home-care-strict-2022`).
    #[arg(long)]
    pub ruleset: Option<String>,
}

pub fn run(c: Command) -> anyhow::Result<()> {
    match c {
        Command::Check(CheckCommand::HomeCare(a)) => check_home_care(&a),
        Command::List => list(),
    }
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

fn check_home_care(a: &HomeCareArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.input)
        .with_context(|| format!("không đọc được tệp {}", a.input.display()))?;
    let rules = HomeCareRules::embedded();
    let ruleset = rules.ruleset(a.ruleset.as_deref())?;
    let vitals = Vitals::from_json(&text)?;
    let assessment = assess(ruleset, &vitals);
    print_json(&assessment)
}

fn list() -> anyhow::Result<()> {
    let home = HomeCareRules::embedded();
    let cases = CaseRules::embedded();
    let home_care: Vec<serde_json::Value> = home
        .ids()
        .into_iter()
        .map(|id| {
            let r = home.ruleset(Some(id)).expect("listed id");
            serde_json::json!({
                "id": r.id,
                "title": r.title,
                "default": r.id == home.default_ruleset,
                "effective_from": r.effective_from,
                "dates_verified": r.dates_verified,
                "severity_table": r.severity.id,
                "warning_signs": r.warning_signs_id,
                "citation": r.citation,
            })
        })
        .collect();
    let severity: Vec<serde_json::Value> = home
        .severity_tables
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id,
                "title": t.title,
                "effective_from": t.effective_from,
                "dates_verified": t.dates_verified,
                "citation": home.sources.get(&t.source).map(|s| s.citation.clone()),
            })
        })
        .collect();
    let case: Vec<serde_json::Value> = cases
        .rulesets
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "title": r.title,
                "effective_from": r.effective_from,
                "dates_verified": r.dates_verified,
                "disease_group": r.disease_group.value,
                "citation": r.citation,
            })
        })
        .collect();
    let out = serde_json::json!({
        "home_care": home_care,
        "severity_tables": severity,
        "case": case,
    });
    print_json(&out)
}
