//! Door-to-door follow-up lists (issue 5, point 5): the residents of a unit old enough to be
//! vaccinated (`rules.follow_up.min_age_years` on the as-of date) who have had no dose, or whose
//! next dose is overdue (`next_due + overdue_grace_days < as_of`), with the reason staff recorded
//! for each (contraindicated, moved away, refused, unreachable, unknown) and the unit's count of
//! residents not vaccinated without a known reason.
//!
//! The store selects and counts the rows from the coverage table ([`Store::follow_up_rows`]);
//! this module adds the register details (name, household address, phone), the recorded
//! reasons, and each person's state as the schedule engine sees it on the as-of date
//! ([`schedule::follow_up`] over the person's doses given by then). Used by the API, the page,
//! the XLSX export and `phongdich followup`.

use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use domain::Error;
use domain::audit::NewAuditEntry;
use domain::person::Person;
use domain::population::age_on;
use domain::schedule::{self, DoseEvent, FollowUp, Rules};
use serde::Serialize;
use store::{CoverageUnit, FollowUpCounts, FollowUpNote, FollowUpQuery, FollowUpReason, Store};
use uuid::Uuid;

type Result<T> = std::result::Result<T, Error>;

/// Largest page [`follow_up_list`] returns.
pub const MAX_LIMIT: u32 = 1_000;
/// Longest note staff may write.
pub const MAX_NOTE_CHARS: usize = 500;

/// Which residents to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowUpFilters {
    /// Only residents who never had a dose (not those overdue for a later one).
    pub only_unvaccinated: bool,
}

/// One resident to visit.
#[derive(Debug, Clone, Serialize)]
pub struct FollowUpEntry {
    /// The register person (full identifiers: callers mask them for lists).
    pub person: Person,
    /// Completed years on the as-of date.
    pub age: u32,
    /// The household's street address, when the register has one.
    pub address: Option<String>,
    /// Valid doses given by the as-of date.
    pub doses: u32,
    /// Where the person stands on the as-of date (`not_vaccinated`, `overdue` with the dose
    /// kind, due date and days overdue, …).
    pub state: FollowUp,
    /// The reason staff recorded, if any.
    pub reason: Option<FollowUpNote>,
}

impl FollowUpEntry {
    /// The recorded reason, `unknown` when none was recorded.
    pub fn reason_or_unknown(&self) -> FollowUpReason {
        self.reason
            .as_ref()
            .map(|n| n.reason)
            .unwrap_or(FollowUpReason::Unknown)
    }
}

/// A page of a unit's follow-up list with the unit's counts.
#[derive(Debug, Clone, Serialize)]
pub struct FollowUpList {
    pub unit: CoverageUnit,
    pub as_of: NaiveDate,
    /// The rule set the states come from, and its follow-up numbers.
    pub ruleset: String,
    pub min_age_years: u32,
    pub overdue_grace_days: i64,
    pub only_unvaccinated: bool,
    /// Counts over the whole unit (not only this page).
    pub counts: FollowUpCounts,
    /// Residents matching the filters (all pages).
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
    pub entries: Vec<FollowUpEntry>,
}

/// The store query for a unit's list on `as_of`: born early enough to be `min_age_years` old,
/// next dose due before `as_of - overdue_grace_days`.
pub fn follow_up_query(
    unit: &CoverageUnit,
    as_of: NaiveDate,
    filters: FollowUpFilters,
    limit: u32,
    offset: u64,
) -> Result<FollowUpQuery> {
    let rule = &Rules::embedded().follow_up;
    let out_of_range = || {
        Error::invalid(
            "as_of",
            "Ngày tính (as_of) nằm ngoài khoảng cho phép",
            "The as-of date is out of range",
        )
    };
    let born_by = as_of
        .checked_sub_months(Months::new(12 * rule.min_age_years))
        .ok_or_else(out_of_range)?;
    let overdue_before = as_of
        .checked_sub_days(Days::new(rule.overdue_grace_days.max(0) as u64))
        .ok_or_else(out_of_range)?;
    if limit == 0 || limit > MAX_LIMIT {
        return Err(Error::invalid(
            "limit",
            format!("limit phải từ 1 đến {MAX_LIMIT}"),
            format!("limit must be 1 to {MAX_LIMIT}"),
        ));
    }
    Ok(FollowUpQuery {
        unit: unit.clone(),
        born_by,
        overdue_before,
        only_unvaccinated: filters.only_unvaccinated,
        limit,
        offset,
    })
}

/// The doses a person had by `as_of`, as the schedule engine sees them.
async fn doses_by(store: &dyn Store, person: Uuid, as_of: NaiveDate) -> Result<Vec<DoseEvent>> {
    Ok(crate::doses::person_history(store, person)
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| d.date <= as_of)
        .collect())
}

/// One page of the unit's follow-up list on `as_of`, oldest residents first.
pub async fn follow_up_list(
    store: &dyn Store,
    unit: &CoverageUnit,
    as_of: NaiveDate,
    filters: FollowUpFilters,
    limit: u32,
    offset: u64,
) -> Result<FollowUpList> {
    let rules = Rules::embedded();
    let query = follow_up_query(unit, as_of, filters, limit, offset)?;
    let (page, counts) = store.follow_up_rows(&query).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|r| r.person_id).collect();
    let persons = store.persons_by_ids(&ids).await?;
    let households: Vec<Uuid> = persons.iter().filter_map(|p| p.household_id).collect();
    let addresses: std::collections::HashMap<Uuid, String> = store
        .household_addresses(&households)
        .await?
        .into_iter()
        .collect();
    let mut notes: std::collections::HashMap<Uuid, FollowUpNote> = store
        .follow_up_notes(&ids)
        .await?
        .into_iter()
        .map(|n| (n.person_id, n))
        .collect();
    let mut persons: std::collections::HashMap<Uuid, Person> =
        persons.into_iter().map(|p| (p.id, p)).collect();
    let mut entries = Vec::with_capacity(page.items.len());
    for row in &page.items {
        // A row whose person vanished between the two reads is left out of this page.
        let Some(person) = persons.remove(&row.person_id) else {
            continue;
        };
        let doses = if row.first_dose.is_some() {
            doses_by(store, person.id, as_of).await?
        } else {
            Vec::new()
        };
        let status = schedule::evaluate(rules, person.dob, &doses, &[]);
        let state = schedule::follow_up(rules, person.dob, &status, as_of);
        entries.push(FollowUpEntry {
            age: age_on(person.dob, as_of).unwrap_or(0),
            address: person.household_id.and_then(|h| addresses.get(&h).cloned()),
            doses: status
                .doses
                .iter()
                .filter(|d| d.kind != schedule::DoseKind::Duplicate)
                .count() as u32,
            state,
            reason: notes.remove(&person.id),
            person,
        });
    }
    Ok(FollowUpList {
        unit: unit.clone(),
        as_of,
        ruleset: rules.id.clone(),
        min_age_years: rules.follow_up.min_age_years,
        overdue_grace_days: rules.follow_up.overdue_grace_days,
        only_unvaccinated: filters.only_unvaccinated,
        counts,
        total: page.total,
        limit,
        offset,
        entries,
    })
}

/// The whole list (every page), for printing and export.
pub async fn follow_up_all(
    store: &dyn Store,
    unit: &CoverageUnit,
    as_of: NaiveDate,
    filters: FollowUpFilters,
) -> Result<FollowUpList> {
    let mut list = follow_up_list(store, unit, as_of, filters, MAX_LIMIT, 0).await?;
    let mut offset = u64::from(MAX_LIMIT);
    while offset < list.total {
        let next = follow_up_list(store, unit, as_of, filters, MAX_LIMIT, offset).await?;
        if next.entries.is_empty() {
            break;
        }
        list.entries.extend(next.entries);
        offset += u64::from(MAX_LIMIT);
    }
    list.limit = list.entries.len().max(1).min(u32::MAX as usize) as u32;
    Ok(list)
}

/// A reason and note as staff typed them, checked: a known reason, a note of at most
/// [`MAX_NOTE_CHARS`] characters (trimmed).
pub fn parse_reason(reason: &str, note: &str) -> Result<(FollowUpReason, String)> {
    let reason = FollowUpReason::parse(reason.trim())?;
    let note = note.trim();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(Error::invalid(
            "note",
            format!("Ghi chú dài tối đa {MAX_NOTE_CHARS} ký tự"),
            format!("The note is at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok((reason, note.to_string()))
}

/// Records why a person has not been vaccinated (replacing an earlier reason), with its audit
/// entry in the same transaction. The caller has checked the person is theirs to follow up.
pub async fn set_reason(
    store: &dyn Store,
    person: Uuid,
    reason: FollowUpReason,
    note: &str,
    by: &str,
    at: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<FollowUpNote> {
    let note = FollowUpNote {
        person_id: person,
        reason,
        note: note.to_string(),
        updated_by: by.to_string(),
        updated_at: at,
    };
    store.set_follow_up_note(&note, audit).await?;
    Ok(note)
}

/// Vietnamese (or English) label of a follow-up state, for pages and spreadsheets.
pub fn state_label(state: &FollowUp, english: bool) -> String {
    match (state, english) {
        (FollowUp::NotVaccinated, false) => "Chưa tiêm".into(),
        (FollowUp::NotVaccinated, true) => "Not vaccinated".into(),
        (FollowUp::Overdue { kind, .. }, false) => format!("Quá hạn {}", kind_label(kind, false)),
        (FollowUp::Overdue { kind, .. }, true) => format!("Overdue: {}", kind_label(kind, true)),
        (FollowUp::Due { kind, .. }, false) => format!("Đến hạn {}", kind_label(kind, false)),
        (FollowUp::Due { kind, .. }, true) => format!("Due: {}", kind_label(kind, true)),
        (FollowUp::NotEligible, false) => "Chưa đủ tuổi".into(),
        (FollowUp::NotEligible, true) => "Not eligible".into(),
        (FollowUp::UpToDate, false) => "Đã tiêm đủ theo lịch".into(),
        (FollowUp::UpToDate, true) => "Up to date".into(),
    }
}

/// Label of a dose kind: `mũi 2`, `mũi nhắc 1`, `mũi bổ sung`.
pub fn kind_label(kind: &schedule::DoseKind, english: bool) -> String {
    match (kind, english) {
        (schedule::DoseKind::Primary(n), false) => format!("mũi {n}"),
        (schedule::DoseKind::Primary(n), true) => format!("dose {n}"),
        (schedule::DoseKind::Additional, false) => "mũi bổ sung".into(),
        (schedule::DoseKind::Additional, true) => "additional dose".into(),
        (schedule::DoseKind::Booster(n), false) => format!("mũi nhắc {n}"),
        (schedule::DoseKind::Booster(n), true) => format!("booster {n}"),
        (schedule::DoseKind::Duplicate, false) => "mũi trùng (không tính)".into(),
        (schedule::DoseKind::Duplicate, true) => "duplicate (not counted)".into(),
    }
}

/// The due date and days overdue of a state, when it has them.
pub fn due_of(state: &FollowUp) -> (Option<NaiveDate>, Option<i64>) {
    match state {
        FollowUp::Overdue {
            due, days_overdue, ..
        } => (Some(*due), Some(*days_overdue)),
        FollowUp::Due { due, .. } => (Some(*due), None),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn query_bounds_follow_the_rules() {
        let unit = CoverageUnit::resolve("12", None).unwrap();
        let rule = &Rules::embedded().follow_up;
        let q = follow_up_query(&unit, d(2022, 3, 1), FollowUpFilters::default(), 50, 0).unwrap();
        // Someone born on born_by is exactly min_age_years old on the as-of date.
        assert_eq!(age_on(q.born_by, d(2022, 3, 1)), Some(rule.min_age_years));
        assert_eq!(
            age_on(q.born_by.succ_opt().unwrap(), d(2022, 3, 1)),
            Some(rule.min_age_years - 1)
        );
        assert_eq!(
            (d(2022, 3, 1) - q.overdue_before).num_days(),
            rule.overdue_grace_days
        );
        assert!(follow_up_query(&unit, d(2022, 3, 1), FollowUpFilters::default(), 0, 0).is_err());
        assert!(
            follow_up_query(&unit, d(2022, 3, 1), FollowUpFilters::default(), 1001, 0).is_err()
        );
    }

    #[test]
    fn reasons_are_checked_with_vietnamese_messages() {
        assert_eq!(
            parse_reason(" refused ", "  không muốn ").unwrap(),
            (FollowUpReason::Refused, "không muốn".to_string())
        );
        let e = parse_reason("busy", "").unwrap_err();
        assert!(e.message_vi.contains("không hợp lệ"), "{}", e.message_vi);
        assert!(parse_reason("unknown", &"x".repeat(501)).is_err());
    }

    #[test]
    fn labels() {
        let overdue = FollowUp::Overdue {
            kind: schedule::DoseKind::Primary(2),
            due: d(2021, 9, 1),
            days_overdue: 40,
        };
        assert_eq!(state_label(&overdue, false), "Quá hạn mũi 2");
        assert_eq!(due_of(&overdue), (Some(d(2021, 9, 1)), Some(40)));
        assert_eq!(state_label(&FollowUp::NotVaccinated, false), "Chưa tiêm");
    }
}
