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
    let codes = match &q.scope {
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
