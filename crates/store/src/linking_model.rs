//! Types of the record-linkage part of the storage contract: incoming source records
//! (vaccination doses, test results, cases, social-support beneficiaries), their link to a person
//! of the register, the clerical review queue, and merges of duplicate persons.

use chrono::{DateTime, Utc};
use domain::{Error, ErrorCode};
use serde::Serialize;
use uuid::Uuid;

/// What an incoming record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Dose,
    Test,
    Case,
    Beneficiary,
}

impl RecordKind {
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Dose,
        RecordKind::Test,
        RecordKind::Case,
        RecordKind::Beneficiary,
    ];

    /// The stored and serialised form: `dose`, `test`, `case`, `beneficiary`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Dose => "dose",
            RecordKind::Test => "test",
            RecordKind::Case => "case",
            RecordKind::Beneficiary => "beneficiary",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a record stands in linkage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Linked to a person (automatically or by a reviewer).
    Linked,
    /// Waiting for a person to decide (clerical review queue).
    Review,
    /// Not linked (new, or no person matches).
    Unlinked,
}

impl LinkStatus {
    pub const ALL: [LinkStatus; 3] = [LinkStatus::Linked, LinkStatus::Review, LinkStatus::Unlinked];

    /// The stored and serialised form: `linked`, `review`, `unlinked`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Linked => "linked",
            LinkStatus::Review => "review",
            LinkStatus::Unlinked => "unlinked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A record as it arrived (identifying fields as text, exactly as given, empty = missing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewSourceRecord {
    pub id: Uuid,
    pub kind: RecordKind,
    /// Site / lab / programme code; `(kind, source, external_id)` is unique.
    pub source: String,
    /// The record id in the source file.
    pub external_id: String,
    pub full_name: String,
    pub dob: String,
    pub sex: String,
    pub national_id: String,
    pub commune_code: String,
    pub phone: String,
    /// The other columns (dose, lot, result…).
    pub payload: serde_json::Value,
    pub batch_id: Uuid,
}

/// A stored source record and its linkage state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceRecord {
    #[serde(flatten)]
    pub record: NewSourceRecord,
    /// New records start as [`LinkStatus::Unlinked`].
    pub status: LinkStatus,
    pub person_id: Option<Uuid>,
    pub probability: Option<f64>,
    /// `"auto"` or a username.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// For a record typed without a commune: the commune of its person or best candidate, set
    /// by the engine (see [`SourceRecord::unit_commune`]).
    pub scope_commune: Option<String>,
}

impl SourceRecord {
    /// The commune that decides which units see the record: as typed, else the engine's
    /// `scope_commune` (the same rule the store's unit filter applies).
    pub fn unit_commune(&self) -> Option<&str> {
        Some(self.record.commune_code.as_str())
            .filter(|c| !c.is_empty())
            .or(self.scope_commune.as_deref())
    }
}

/// A person a record may belong to, with the linkage model's probability and its explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkCandidate {
    pub record_id: Uuid,
    pub person_id: Uuid,
    pub probability: f64,
    pub explanation: serde_json::Value,
}

/// The outcome of linking one record (by the engine or by a person).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkDecision {
    pub record_id: Uuid,
    pub status: LinkStatus,
    pub person_id: Option<Uuid>,
    pub probability: Option<f64>,
    pub decided_by: String,
    /// Replaces the record's stored candidates when Some (None keeps them).
    pub candidates: Option<Vec<LinkCandidate>>,
}

/// A page of source records, oldest first (the review queue).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceRecordQuery {
    pub status: Option<LinkStatus>,
    pub person_id: Option<Uuid>,
    pub kind: Option<RecordKind>,
    /// Only records whose commune_code (2025 or pre-2025 code as typed) is in this list; None = all.
    pub communes: Option<Vec<String>>,
    /// Page size, clamped to `1..=`[`SourceRecordQuery::MAX_LIMIT`].
    pub limit: u32,
    pub offset: u64,
}

impl SourceRecordQuery {
    /// Largest page a caller may ask for.
    pub const MAX_LIMIT: u32 = 10_000;
}

/// A merge of a duplicate person (`merged`) into the one kept, undoable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonMerge {
    pub id: Uuid,
    pub kept: Uuid,
    pub merged: Uuid,
    pub merged_by: String,
    pub merged_at: DateTime<Utc>,
    pub undone_by: Option<String>,
    pub undone_at: Option<DateTime<Utc>>,
    /// Source records moved from `merged` to `kept` (moved back on undo).
    pub moved_records: Vec<Uuid>,
}

// ---- helpers shared by both backends ----------------------------------------------------------

/// Checks a batch of decisions before anything is written: a person exactly for `Linked`,
/// finite probabilities.
pub(crate) fn check_decisions(decisions: &[LinkDecision]) -> Result<(), Error> {
    for d in decisions {
        match (d.status, d.person_id) {
            (LinkStatus::Linked, None) => {
                return Err(invalid(
                    format!(
                        "Bản ghi {} được đánh dấu đã ghép nhưng không có người",
                        d.record_id
                    ),
                    format!("Record {} is marked linked without a person", d.record_id),
                    serde_json::json!({ "record_id": d.record_id, "field": "person_id" }),
                ));
            }
            (status, Some(_)) if status != LinkStatus::Linked => {
                return Err(invalid(
                    format!(
                        "Bản ghi {} chỉ được gắn với một người khi đã ghép",
                        d.record_id
                    ),
                    format!(
                        "Record {} may name a person only when linked (status {})",
                        d.record_id,
                        status.as_str()
                    ),
                    serde_json::json!({ "record_id": d.record_id, "field": "person_id" }),
                ));
            }
            _ => {}
        }
        let bad_probability = d.probability.is_some_and(|p| !p.is_finite())
            || d.candidates
                .iter()
                .flatten()
                .any(|c| !c.probability.is_finite());
        if bad_probability {
            return Err(invalid(
                format!("Xác suất của bản ghi {} không hợp lệ", d.record_id),
                format!("Record {} has a non-finite probability", d.record_id),
                serde_json::json!({ "record_id": d.record_id, "field": "probability" }),
            ));
        }
        if let Some(c) = d
            .candidates
            .iter()
            .flatten()
            .find(|c| c.record_id != d.record_id)
        {
            return Err(invalid(
                format!(
                    "Ứng viên của bản ghi {} lại thuộc bản ghi {}",
                    d.record_id, c.record_id
                ),
                format!(
                    "A candidate of record {} belongs to record {}",
                    d.record_id, c.record_id
                ),
                serde_json::json!({ "record_id": d.record_id, "field": "candidates" }),
            ));
        }
    }
    Ok(())
}

/// Keeps the last decision for each record (a batch may decide a record twice; the later wins).
pub(crate) fn last_decision_per_record(decisions: &[LinkDecision]) -> Vec<&LinkDecision> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<&LinkDecision> = decisions
        .iter()
        .rev()
        .filter(|d| seen.insert(d.record_id))
        .collect();
    out.reverse();
    out
}

pub(crate) fn record_not_found(id: Uuid) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("Không tìm thấy bản ghi nguồn {id}"),
        format!("Source record {id} not found"),
    )
    .with_details(serde_json::json!({ "record_id": id }))
}

/// Checks that every person a decision names was `found` (id → merged into) and not merged.
pub(crate) fn check_linkable(
    persons: &[Uuid],
    found: &std::collections::HashMap<Uuid, Option<Uuid>>,
) -> Result<(), Error> {
    for p in persons {
        match found.get(p) {
            None => return Err(person_not_linkable(*p, None)),
            Some(Some(into)) => return Err(person_not_linkable(*p, Some(*into))),
            Some(None) => {}
        }
    }
    Ok(())
}

/// A decision names a person who does not exist or was merged into another.
pub(crate) fn person_not_linkable(id: Uuid, merged_into: Option<Uuid>) -> Error {
    match merged_into {
        Some(into) => invalid(
            format!("Người {id} đã được gộp vào người {into}; hãy ghép với người {into}"),
            format!("Person {id} has been merged into {into}; link to {into} instead"),
            serde_json::json!({ "person_id": id, "merged_into": into }),
        ),
        None => invalid(
            format!("Không tìm thấy người {id}"),
            format!("Person {id} does not exist"),
            serde_json::json!({ "person_id": id }),
        ),
    }
}

pub(crate) fn merge_same_person(id: Uuid) -> Error {
    invalid(
        "Không thể gộp một người vào chính người đó",
        "A person cannot be merged into itself",
        serde_json::json!({ "person_id": id }),
    )
}

pub(crate) fn merge_person_missing(id: Uuid) -> Error {
    invalid(
        format!("Không tìm thấy người {id} để gộp"),
        format!("Person {id} to merge does not exist"),
        serde_json::json!({ "person_id": id }),
    )
}

pub(crate) fn merge_person_already_merged(id: Uuid, into: Uuid) -> Error {
    invalid(
        format!("Người {id} đã được gộp vào người {into}"),
        format!("Person {id} has already been merged into {into}"),
        serde_json::json!({ "person_id": id, "merged_into": into }),
    )
}

pub(crate) fn merge_not_found(id: Uuid) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("Không tìm thấy lần gộp {id}"),
        format!("Merge {id} not found"),
    )
    .with_details(serde_json::json!({ "merge_id": id }))
}

pub(crate) fn merge_already_undone(id: Uuid) -> Error {
    invalid(
        format!("Lần gộp {id} đã được hoàn tác"),
        format!("Merge {id} has already been undone"),
        serde_json::json!({ "merge_id": id }),
    )
}

fn invalid(vi: impl Into<String>, en: impl Into<String>, details: serde_json::Value) -> Error {
    Error::new(ErrorCode::InvalidInput, vi, en).with_details(details)
}

/// The 2025 province of a commune code as typed (2025 code, or a pre-2025 code through the
/// old→new mapping); empty when it resolves to nothing. PostgreSQL keys source records on it.
pub(crate) fn record_province(commune_code: &str) -> String {
    let units = domain::units::AdminUnits::embedded();
    let code = commune_code.trim();
    if code.is_empty() {
        return String::new();
    }
    units
        .v2025
        .province_of(code)
        .or_else(|| {
            units
                .default_new_commune(code)
                .and_then(|c| units.v2025.province_of(c))
        })
        .map(|u| u.code.clone())
        .unwrap_or_default()
}

/// Parses a stored kind or status, treating an unknown value as a corrupt row.
pub(crate) fn parse_stored<T>(
    value: &str,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, Error> {
    parse(value).ok_or_else(|| {
        tracing::error!(value, column = what, "corrupt source record row");
        Error::internal()
    })
}

/// Parses stored JSON text (payload, explanation, model), treating bad text as a corrupt row.
pub(crate) fn parse_json(text: &str, what: &str) -> Result<serde_json::Value, Error> {
    serde_json::from_str(text).map_err(|e| {
        tracing::error!(column = what, error = %e, "corrupt JSON column");
        Error::internal()
    })
}

/// The plan of an insert with decisions ([`crate::Store::insert_decided_records`]), worked out
/// before the transaction: each record's decision, and the persons whose state the transaction
/// must read (linked persons to check; persons giving a record without a commune its scope).
pub(crate) struct DecidedInsertPlan<'a> {
    pub decisions: std::collections::HashMap<Uuid, &'a LinkDecision>,
    /// Persons named by a linked decision: must exist and not be merged.
    pub linked_persons: Vec<Uuid>,
    /// Persons whose 2025 commune is the scope of a record typed without a commune: the linked
    /// person, else the best candidate (as [`crate::sql::SCOPE_COMMUNE_UPDATE`] does).
    pub scope_person: std::collections::HashMap<Uuid, Uuid>,
}

impl<'a> DecidedInsertPlan<'a> {
    /// Checks the decisions ([`check_decisions`]; each must be about a record of the batch, the
    /// later of two wins) and plans the insert.
    pub fn new(records: &[NewSourceRecord], decisions: &'a [LinkDecision]) -> Result<Self, Error> {
        check_decisions(decisions)?;
        let in_batch: std::collections::HashSet<Uuid> = records.iter().map(|r| r.id).collect();
        let decisions: std::collections::HashMap<Uuid, &LinkDecision> =
            last_decision_per_record(decisions)
                .into_iter()
                .map(|d| (d.record_id, d))
                .collect();
        if let Some(d) = decisions
            .values()
            .find(|d| !in_batch.contains(&d.record_id))
        {
            return Err(record_not_found(d.record_id));
        }
        let linked_persons = crate::sql::distinct(
            &decisions
                .values()
                .filter_map(|d| d.person_id)
                .collect::<Vec<_>>(),
        );
        let scope_person = records
            .iter()
            .filter(|r| r.commune_code.is_empty())
            .filter_map(|r| {
                let d = decisions.get(&r.id)?;
                let best = || {
                    d.candidates
                        .iter()
                        .flatten()
                        .max_by(|a, b| a.probability.total_cmp(&b.probability))
                        .map(|c| c.person_id)
                };
                Some((r.id, d.person_id.or_else(best)?))
            })
            .collect();
        Ok(DecidedInsertPlan {
            decisions,
            linked_persons,
            scope_person,
        })
    }

    /// Every person the transaction reads.
    pub fn persons(&self) -> Vec<Uuid> {
        let mut all = self.linked_persons.clone();
        all.extend(self.scope_person.values().copied());
        crate::sql::distinct(&all)
    }

    /// Checks the linked persons against `(id, merged_into)` as read in the transaction.
    pub fn check_persons(
        &self,
        found: &std::collections::HashMap<Uuid, Option<Uuid>>,
    ) -> Result<(), Error> {
        check_linkable(&self.linked_persons, found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in RecordKind::ALL {
            assert_eq!(RecordKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for s in LinkStatus::ALL {
            assert_eq!(LinkStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(RecordKind::parse("Dose"), None);
        assert_eq!(LinkStatus::parse(""), None);
    }

    #[test]
    fn provinces_of_typed_communes() {
        let units = domain::units::AdminUnits::embedded();
        let lc = units.v2025.communes_under("12");
        assert_eq!(record_province(&lc[0]), "12");
        // A pre-2025 commune of Hà Nội (00001) maps to a 2025 commune of Hà Nội.
        assert_eq!(record_province("00001"), "01");
        assert_eq!(record_province(""), "");
        assert_eq!(record_province("zz"), "");
    }

    #[test]
    fn decisions_are_checked() {
        let d = |status, person: Option<Uuid>| LinkDecision {
            record_id: Uuid::nil(),
            status,
            person_id: person,
            probability: Some(0.5),
            decided_by: "auto".into(),
            candidates: None,
        };
        assert!(check_decisions(&[d(LinkStatus::Linked, Some(Uuid::nil()))]).is_ok());
        assert!(check_decisions(&[d(LinkStatus::Review, None)]).is_ok());
        for bad in [
            d(LinkStatus::Linked, None),
            d(LinkStatus::Review, Some(Uuid::nil())),
            d(LinkStatus::Unlinked, Some(Uuid::nil())),
            LinkDecision {
                probability: Some(f64::NAN),
                ..d(LinkStatus::Unlinked, None)
            },
        ] {
            assert_eq!(
                check_decisions(&[bad]).unwrap_err().code,
                ErrorCode::InvalidInput
            );
        }
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let mut first = d(LinkStatus::Review, None);
        first.record_id = a;
        let mut second = d(LinkStatus::Unlinked, None);
        second.record_id = b;
        let mut again = d(LinkStatus::Linked, Some(b));
        again.record_id = a;
        let batch = [first, second.clone(), again.clone()];
        let kept = last_decision_per_record(&batch);
        assert_eq!(kept, vec![&second, &again]);
    }
}
