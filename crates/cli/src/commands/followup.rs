//! `phongdich followup --unit CODE [--hierarchy 2025|pre2025] [--as-of DATE]
//! [--only-unvaccinated] [--out FILE.xlsx]`: the door-to-door follow-up list of a unit
//! ([`intake::followup`]): residents old enough who are not vaccinated or overdue for their next
//! dose, with their state and recorded reason.
//!
//! Without `--out` it prints JSON `{unit, as_of, ruleset, counts: {not_vaccinated, overdue,
//! not_vaccinated_without_known_reason}, total, entries: [{person_id, full_name, dob, age, …,
//! state, due, days_overdue, reason, note}]}` (citizen IDs left out). With `--out` it writes the
//! same XLSX as the web export (Vietnamese headers, phones in full), prints the counts and the
//! file, and records the export in the audit log (`followup.export`).

use std::path::PathBuf;

use chrono::NaiveDate;
use domain::units::UnitVersion;
use intake::followup::{self, FollowUpFilters};
use store::CoverageUnit;

use super::DatabaseArg;
use crate::config::FileConfig;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Unit code: commune, district or province (2025 list first, then pre-2025).
    #[arg(long)]
    pub unit: String,
    /// Hierarchy of the code: `2025` or `pre2025`.
    #[arg(long)]
    pub hierarchy: Option<String>,
    /// Date of the list (YYYY-MM-DD); default today.
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// Only residents who never had a dose.
    #[arg(long)]
    pub only_unvaccinated: bool,
    /// Write the list to this XLSX file instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub async fn run(args: Args, file: &FileConfig) -> anyhow::Result<()> {
    let hierarchy = args
        .hierarchy
        .as_deref()
        .map(UnitVersion::parse)
        .transpose()?;
    let unit = CoverageUnit::resolve(&args.unit, hierarchy)?;
    let as_of = args
        .as_of
        .unwrap_or_else(|| domain::vietnam_time::local_date(chrono::Utc::now()));
    let filters = FollowUpFilters {
        only_unvaccinated: args.only_unvaccinated,
    };
    let store = store::open(&file.database_url(args.db.database)).await?;
    let result = async {
        let list = followup::follow_up_all(store.as_ref(), &unit, as_of, filters).await?;
        if let Some(out) = &args.out {
            let bytes = server::pages::followup::workbook(&list, &|p| {
                p.phone.as_ref().map(|n| n.as_str().to_string())
            })?;
            std::fs::write(out, bytes)?;
            store
                .append_audit(&domain::audit::NewAuditEntry {
                    at: chrono::Utc::now(),
                    actor_id: None,
                    actor: Some("phongdich followup".into()),
                    action: "followup.export".into(),
                    entity_type: Some("unit".into()),
                    entity_id: Some(unit.code.clone()),
                    unit_code: Some(unit.code.clone()),
                    ip: None,
                    details: serde_json::json!({
                        "hierarchy": unit.hierarchy.as_str(),
                        "as_of": as_of,
                        "entries": list.entries.len(),
                        "file": out.display().to_string(),
                    }),
                })
                .await?;
            return anyhow::Ok(serde_json::json!({
                "unit": list.unit,
                "as_of": list.as_of,
                "ruleset": list.ruleset,
                "counts": list.counts,
                "total": list.total,
                "file": out.display().to_string(),
            }));
        }
        let entries: Vec<serde_json::Value> = list
            .entries
            .iter()
            .map(|e| {
                let (due, days_overdue) = followup::due_of(&e.state);
                serde_json::json!({
                    "person_id": e.person.id,
                    "full_name": e.person.full_name,
                    "dob": e.person.dob,
                    "age": e.age,
                    "sex": e.person.sex,
                    "commune_code": e.person.commune_code,
                    "old_commune_code": e.person.old_commune_code,
                    "address": e.address,
                    "phone": e.person.phone.as_ref().map(|n| n.as_str()),
                    "doses": e.doses,
                    "state": e.state,
                    "state_label": followup::state_label(&e.state, false),
                    "due": due,
                    "days_overdue": days_overdue,
                    "reason": e.reason.as_ref().map(|r| r.reason),
                    "note": e.reason.as_ref().map(|r| r.note.as_str()),
                })
            })
            .collect();
        Ok(serde_json::json!({
            "unit": list.unit,
            "as_of": list.as_of,
            "ruleset": list.ruleset,
            "min_age_years": list.min_age_years,
            "overdue_grace_days": list.overdue_grace_days,
            "only_unvaccinated": list.only_unvaccinated,
            "counts": list.counts,
            "total": list.total,
            "entries": entries,
        }))
    }
    .await;
    store.close().await;
    println!("{}", serde_json::to_string_pretty(&result?)?);
    Ok(())
}
