//! SQL fragments shared by both backends (both accept `$n` placeholders via `QueryBuilder`).

use sqlx::{Database, Encode, QueryBuilder, Type};

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
    qb.push(" WHERE 1=1");
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
