//! SQL fragments shared by both backends (both accept `$n` placeholders via `QueryBuilder`).

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Database, Decode, Encode, QueryBuilder, Row, Type};
use uuid::Uuid;

use crate::error::from_sqlx;
use crate::linking_model::{
    LinkStatus, NewSourceRecord, RecordKind, SourceRecord, SourceRecordQuery, parse_json,
    parse_stored,
};
use crate::model::{PersonQuery, PersonScope, TextFilter};

/// Columns selected for a [`domain::person::Person`], in the order the row mappers expect.
pub(crate) const PERSON_COLUMNS: &str = "id, province_code, commune_code, old_commune_code, \
     household_id, full_name, dob, sex, national_id, phone";

/// Appends ` WHERE …` for a person query (scope and text search).
pub(crate) fn push_person_where<'args, DB>(qb: &mut QueryBuilder<'args, DB>, q: &PersonQuery)
where
    DB: Database,
    String: Encode<'args, DB> + Type<DB>,
{
    // Persons merged into another are duplicates kept only for history.
    qb.push(" WHERE merged_into IS NULL");
    push_scope(qb, &q.scope);
    if let Some(within) = &q.within {
        push_scope(qb, within);
    }
    match TextFilter::from_query(q.text.as_deref()) {
        None => {}
        Some(TextFilter::Name(pattern)) => {
            qb.push(" AND name_folded LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
        Some(TextFilter::Digits(prefix)) => {
            qb.push(" AND (national_id LIKE ")
                .push_bind(prefix.clone())
                .push(" ESCAPE '\\' OR phone LIKE ")
                .push_bind(prefix)
                .push(" ESCAPE '\\')");
        }
    }
}

/// Appends ` AND …` restricting persons to a scope.
fn push_scope<'args, DB>(qb: &mut QueryBuilder<'args, DB>, scope: &PersonScope)
where
    DB: Database,
    String: Encode<'args, DB> + Type<DB>,
{
    let codes = match scope {
        PersonScope::All => None,
        PersonScope::Province(p) => {
            qb.push(" AND province_code = ").push_bind(p.clone());
            None
        }
        PersonScope::Communes(c) => Some(("commune_code", c)),
        PersonScope::OldCommunes(c) => Some(("old_commune_code", c)),
    };
    if let Some((column, codes)) = codes {
        if codes.is_empty() {
            qb.push(" AND 1=0");
        } else {
            qb.push(format_args!(" AND {column} IN ("));
            let mut sep = qb.separated(", ");
            for c in codes {
                sep.push_bind(c.clone());
            }
            qb.push(")");
        }
    }
}

/// Appends ordering and paging.
pub(crate) fn push_person_page<'args, DB>(qb: &mut QueryBuilder<'args, DB>, q: &PersonQuery)
where
    DB: Database,
    i64: Encode<'args, DB> + Type<DB>,
{
    let limit = q.limit.min(PersonQuery::MAX_LIMIT);
    qb.push(" ORDER BY name_folded, id LIMIT ")
        .push_bind(i64::from(limit))
        .push(" OFFSET ")
        .push_bind(i64::try_from(q.offset).unwrap_or(i64::MAX));
}

/// Columns selected for a [`domain::auth::User`].
pub(crate) const USER_COLUMNS: &str = "id, username, display_name, role, unit_version, unit_code, \
     organisation, person_id, disabled, created_at";

/// [`USER_COLUMNS`] qualified with the `u` alias, for joins.
pub(crate) const USER_COLUMNS_U: &str = "u.id, u.username, u.display_name, u.role, \
     u.unit_version, u.unit_code, u.organisation, u.person_id, u.disabled, u.created_at";

/// Columns selected for a [`domain::audit::AuditEntry`].
pub(crate) const AUDIT_COLUMNS: &str = "seq, at, actor_id, actor, action, entity_type, entity_id, \
     unit_code, ip, details, prev_hash, hash";

/// Appends ` WHERE …` for an audit filter.
pub(crate) fn push_audit_where<'args, DB>(
    qb: &mut QueryBuilder<'args, DB>,
    f: &crate::model::AuditFilter,
) where
    DB: Database,
    String: Encode<'args, DB> + Type<DB>,
    chrono::DateTime<chrono::Utc>: Encode<'args, DB> + Type<DB>,
{
    qb.push(" WHERE 1=1");
    for (column, value) in [
        ("actor", &f.actor),
        ("action", &f.action),
        ("entity_id", &f.entity_id),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            qb.push(format_args!(" AND {column} = "))
                .push_bind(v.clone());
        }
    }
    if let Some(from) = f.from {
        qb.push(" AND at >= ").push_bind(crate::model::micros(from));
    }
    if let Some(to) = f.to {
        qb.push(" AND at < ").push_bind(crate::model::micros(to));
    }
}

/// Newest first, paged.
pub(crate) fn push_audit_page<'args, DB>(
    qb: &mut QueryBuilder<'args, DB>,
    f: &crate::model::AuditFilter,
) where
    DB: Database,
    i64: Encode<'args, DB> + Type<DB>,
{
    qb.push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(f.limit.clamp(1, 500)))
        .push(" OFFSET ")
        .push_bind(i64::try_from(f.offset).unwrap_or(i64::MAX));
}

/// Appends ` WHERE …` for a source record query; `uuid` turns an id into the backend's bind type
/// (text on SQLite, `uuid` on PostgreSQL).
pub(crate) fn push_source_record_where<'args, DB, U>(
    qb: &mut QueryBuilder<'args, DB>,
    q: &SourceRecordQuery,
    uuid: fn(Uuid) -> U,
) where
    DB: Database,
    String: Encode<'args, DB> + Type<DB>,
    U: Encode<'args, DB> + Type<DB> + 'args,
{
    qb.push(" WHERE 1=1");
    if let Some(status) = q.status {
        qb.push(" AND status = ")
            .push_bind(status.as_str().to_string());
    }
    if let Some(kind) = q.kind {
        qb.push(" AND kind = ").push_bind(kind.as_str().to_string());
    }
    if let Some(person) = q.person_id {
        qb.push(" AND person_id = ").push_bind(uuid(person));
    }
    if let Some(communes) = &q.communes {
        push_in(qb, RECORD_SCOPE, communes);
    }
}

/// The commune that decides who sees a record: as typed, else the one the engine set.
pub(crate) const RECORD_SCOPE: &str = "COALESCE(NULLIF(commune_code, ''), scope_commune)";

/// Sets `scope_commune` of records typed without a commune (append ` AND id IN (…)`): the 2025
/// commune of the linked person, else of the most probable candidate.
pub(crate) const SCOPE_COMMUNE_UPDATE: &str = "UPDATE source_records SET scope_commune = \
     (SELECT p.commune_code FROM persons p WHERE p.id = COALESCE(source_records.person_id, \
     (SELECT c.person_id FROM link_candidates c WHERE c.record_id = source_records.id \
     ORDER BY c.probability DESC LIMIT 1))) WHERE commune_code = ''";

/// Appends ` AND column IN (…)`, or a condition matching nothing for an empty list.
pub(crate) fn push_in<'args, DB>(qb: &mut QueryBuilder<'args, DB>, column: &str, values: &[String])
where
    DB: Database,
    String: Encode<'args, DB> + Type<DB>,
{
    if values.is_empty() {
        qb.push(" AND 1=0");
        return;
    }
    qb.push(format_args!(" AND {column} IN ("));
    let mut sep = qb.separated(", ");
    for v in values {
        sep.push_bind(v.clone());
    }
    qb.push(")");
}

/// Oldest first (the review queue), paged.
pub(crate) fn push_source_record_page<'args, DB>(
    qb: &mut QueryBuilder<'args, DB>,
    q: &SourceRecordQuery,
) where
    DB: Database,
    i64: Encode<'args, DB> + Type<DB>,
{
    qb.push(" ORDER BY created_at, id LIMIT ")
        .push_bind(i64::from(q.limit.clamp(1, SourceRecordQuery::MAX_LIMIT)))
        .push(" OFFSET ")
        .push_bind(i64::try_from(q.offset).unwrap_or(i64::MAX));
}

/// Builds a [`SourceRecord`] from a row selecting the source record columns; the ids are read by
/// the caller (their stored types differ between backends) and `payload` must be JSON text.
pub(crate) fn source_record_from_row<'r, R>(
    r: &'r R,
    id: Uuid,
    batch_id: Uuid,
    person_id: Option<Uuid>,
) -> crate::Result<SourceRecord>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    Option<f64>: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    Option<DateTime<Utc>>: Decode<'r, R::Database> + Type<R::Database>,
{
    let text = |c: &str| r.try_get::<String, _>(c).map_err(from_sqlx);
    Ok(SourceRecord {
        record: NewSourceRecord {
            id,
            kind: parse_stored(&text("kind")?, RecordKind::parse, "kind")?,
            source: text("source")?,
            external_id: text("external_id")?,
            full_name: text("full_name")?,
            dob: text("dob")?,
            sex: text("sex")?,
            national_id: text("national_id")?,
            commune_code: text("commune_code")?,
            phone: text("phone")?,
            payload: parse_json(&text("payload")?, "payload")?,
            batch_id,
        },
        status: parse_stored(&text("status")?, LinkStatus::parse, "status")?,
        person_id,
        probability: r.try_get("probability").map_err(from_sqlx)?,
        decided_by: r.try_get("decided_by").map_err(from_sqlx)?,
        decided_at: r.try_get("decided_at").map_err(from_sqlx)?,
        created_at: r.try_get("created_at").map_err(from_sqlx)?,
        scope_commune: r.try_get("scope_commune").map_err(from_sqlx)?,
    })
}

/// Every status with its count (zeros included), in the order of [`LinkStatus::ALL`].
pub(crate) fn status_counts(rows: Vec<(String, i64)>) -> crate::Result<Vec<(LinkStatus, u64)>> {
    let mut counts: Vec<(LinkStatus, u64)> = LinkStatus::ALL.iter().map(|s| (*s, 0)).collect();
    for (status, n) in rows {
        let status = parse_stored(&status, LinkStatus::parse, "status")?;
        if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
            slot.1 = n.max(0) as u64;
        }
    }
    Ok(counts)
}

/// The distinct values of a list, first occurrence first.
pub(crate) fn distinct<T: Copy + Eq + std::hash::Hash>(values: &[T]) -> Vec<T> {
    let mut seen = std::collections::HashSet::with_capacity(values.len());
    values.iter().copied().filter(|v| seen.insert(*v)).collect()
}

/// Per-birth-date tallies of a unit's residents born in a range (`{column}` = $1, dob between $2
/// and $3): everyone, then those who reached each level by $4 ([`crate::coverage::BornOn`]).
pub(crate) const COVERAGE_BORN_ON: &str = "SELECT dob, count(*), \
     count(CASE WHEN first_dose <= $4 THEN 1 END), \
     count(CASE WHEN primary_complete <= $4 THEN 1 END), \
     count(CASE WHEN booster1 <= $4 THEN 1 END), count(CASE WHEN booster2 <= $4 THEN 1 END) \
     FROM person_coverage WHERE {column} = $1 AND dob BETWEEN $2 AND $3 GROUP BY dob";

/// Per-birth-month tallies of a unit's residents (`{column}` = $1) who reached a level after $2
/// ([`crate::coverage::ReachedAfter`]); `{month}` is the backend's `YYYY-MM` of `dob`.
pub(crate) const COVERAGE_REACHED_AFTER: &str = "SELECT {month}, \
     count(CASE WHEN dob > $2 THEN 1 END), count(CASE WHEN first_dose > $2 THEN 1 END), \
     count(CASE WHEN primary_complete > $2 THEN 1 END), \
     count(CASE WHEN booster1 > $2 THEN 1 END), count(CASE WHEN booster2 > $2 THEN 1 END) \
     FROM person_coverage WHERE last_change > $2 AND {column} = $1 GROUP BY 1";
