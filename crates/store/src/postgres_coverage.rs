//! PostgreSQL side of the coverage rows and counters (logic in [`crate::coverage`]).
//!
//! Concurrent writers touching the same person are serialised by locking the person's coverage
//! row (`FOR UPDATE`) before reading their doses; rows are updated in place (upsert), never
//! deleted and re-inserted, so a waiting transaction sees the newer row. Counter upserts go in
//! key order, the same in every transaction, which avoids lock-order deadlocks between them.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::Result;
use crate::coverage::{
    BornOn, CounterKey, CoverageUnit, FollowUpCounts, FollowUpNote, FollowUpQuery, FollowUpReason,
    Level, PersonCoverage, PersonFacts, ReachedAfter, counter_deltas, row_changes, rows_for,
};
use crate::error::from_sqlx;

/// Ids per `= ANY($1)` array.
const CHUNK: usize = 5_000;

pub(crate) const ROW_COLUMNS: &str = "person_id, province_code, commune_code, old_commune_code, \
     old_district_code, old_province_code, dob, first_dose, primary_complete, booster1, booster2, \
     doses, next_kind, next_due, last_change";

pub(crate) fn row_from(r: &PgRow) -> Result<PersonCoverage> {
    let get_date = |c: &str| -> Result<Option<NaiveDate>> { r.try_get(c).map_err(from_sqlx) };
    Ok(PersonCoverage {
        person_id: r.try_get("person_id").map_err(from_sqlx)?,
        province_code: r.try_get("province_code").map_err(from_sqlx)?,
        commune_code: r.try_get("commune_code").map_err(from_sqlx)?,
        old_commune_code: r.try_get("old_commune_code").map_err(from_sqlx)?,
        old_district_code: r.try_get("old_district_code").map_err(from_sqlx)?,
        old_province_code: r.try_get("old_province_code").map_err(from_sqlx)?,
        dob: r.try_get("dob").map_err(from_sqlx)?,
        first_dose: get_date("first_dose")?,
        primary_complete: get_date("primary_complete")?,
        booster1: get_date("booster1")?,
        booster2: get_date("booster2")?,
        doses: r.try_get::<i32, _>("doses").map_err(from_sqlx)? as u32,
        next_kind: r.try_get("next_kind").map_err(from_sqlx)?,
        next_due: get_date("next_due")?,
        last_change: get_date("last_change")?,
    })
}

fn facts_from(r: &PgRow) -> Result<PersonFacts> {
    Ok(PersonFacts {
        person_id: r.try_get(0).map_err(from_sqlx)?,
        province_code: r.try_get(1).map_err(from_sqlx)?,
        commune_code: r.try_get(2).map_err(from_sqlx)?,
        old_commune_code: r.try_get(3).map_err(from_sqlx)?,
        dob: r.try_get(4).map_err(from_sqlx)?,
    })
}

/// `(person, payload text)` of dose rows selected as `person_id, payload::text`.
fn doses_from(rows: &[PgRow]) -> Result<Vec<(Uuid, String)>> {
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0).map_err(from_sqlx)?,
                r.try_get(1).map_err(from_sqlx)?,
            ))
        })
        .collect()
}

async fn upsert_rows(conn: &mut PgConnection, rows: &[PersonCoverage]) -> Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let text =
            |f: fn(&PersonCoverage) -> Option<String>| chunk.iter().map(f).collect::<Vec<_>>();
        let date =
            |f: fn(&PersonCoverage) -> Option<NaiveDate>| chunk.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO person_coverage (person_id, province_code, commune_code, \
             old_commune_code, old_district_code, old_province_code, dob, first_dose, \
             primary_complete, booster1, booster2, doses, next_kind, next_due, last_change) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::date[], $8::date[], $9::date[], $10::date[], $11::date[], \
             $12::int4[], $13::text[], $14::date[], $15::date[]) \
             ON CONFLICT (person_id) DO UPDATE SET province_code = excluded.province_code, \
             commune_code = excluded.commune_code, old_commune_code = excluded.old_commune_code, \
             old_district_code = excluded.old_district_code, \
             old_province_code = excluded.old_province_code, dob = excluded.dob, \
             first_dose = excluded.first_dose, primary_complete = excluded.primary_complete, \
             booster1 = excluded.booster1, booster2 = excluded.booster2, doses = excluded.doses, \
             next_kind = excluded.next_kind, next_due = excluded.next_due, \
             last_change = excluded.last_change",
        )
        .bind(chunk.iter().map(|r| r.person_id).collect::<Vec<_>>())
        .bind(text(|r| Some(r.province_code.clone())))
        .bind(text(|r| Some(r.commune_code.clone())))
        .bind(text(|r| r.old_commune_code.clone()))
        .bind(text(|r| r.old_district_code.clone()))
        .bind(text(|r| r.old_province_code.clone()))
        .bind(date(|r| Some(r.dob)))
        .bind(date(|r| r.first_dose))
        .bind(date(|r| r.primary_complete))
        .bind(date(|r| r.booster1))
        .bind(date(|r| r.booster2))
        .bind(chunk.iter().map(|r| r.doses as i32).collect::<Vec<_>>())
        .bind(text(|r| r.next_kind.clone()))
        .bind(date(|r| r.next_due))
        .bind(date(|r| r.last_change))
        .execute(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    }
    Ok(())
}

async fn apply_deltas(conn: &mut PgConnection, deltas: &[(CounterKey, i64)]) -> Result<()> {
    for chunk in deltas.chunks(CHUNK) {
        sqlx::query(
            "INSERT INTO coverage_counts (hierarchy, unit_code, level, birth_month, count) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[]) \
             ON CONFLICT (hierarchy, unit_code, level, birth_month) \
             DO UPDATE SET count = coverage_counts.count + excluded.count",
        )
        .bind(
            chunk
                .iter()
                .map(|(k, _)| k.hierarchy.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|(k, _)| k.unit_code.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|(k, _)| k.level.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|(k, _)| k.birth_month.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(chunk.iter().map(|(_, n)| *n).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    }
    Ok(())
}

/// Recomputes the coverage rows of `persons` and applies the counter changes, inside the
/// caller's transaction.
pub(crate) async fn refresh(conn: &mut PgConnection, persons: &[Uuid]) -> Result<()> {
    let mut ids = crate::sql::distinct(persons);
    ids.sort_unstable();
    let mut all_deltas: HashMap<CounterKey, i64> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let old = sqlx::query(&format!(
            "SELECT {ROW_COLUMNS} FROM person_coverage WHERE person_id = ANY($1) \
             ORDER BY person_id FOR UPDATE"
        ))
        .bind(chunk)
        .fetch_all(&mut *conn)
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(row_from)
        .collect::<Result<Vec<_>>>()?;
        let persons = sqlx::query(
            "SELECT id, province_code, commune_code, old_commune_code, dob FROM persons \
             WHERE merged_into IS NULL AND id = ANY($1)",
        )
        .bind(chunk)
        .fetch_all(&mut *conn)
        .await
        .map_err(from_sqlx)?;
        let doses = sqlx::query(
            "SELECT person_id, payload::text FROM source_records \
             WHERE kind = 'dose' AND status = 'linked' AND person_id = ANY($1)",
        )
        .bind(chunk)
        .fetch_all(&mut *conn)
        .await
        .map_err(from_sqlx)?;
        let facts = persons.iter().map(facts_from).collect::<Result<Vec<_>>>()?;
        let new = rows_for(&facts, doses_from(&doses)?);
        for (k, n) in counter_deltas(&old, &new) {
            *all_deltas.entry(k).or_insert(0) += n;
        }
        // Rows rewritten whole are upserted over themselves: only persons gone are deleted.
        let mut changes = row_changes(&old, new);
        let rewritten: std::collections::HashSet<Uuid> =
            changes.insert.iter().map(|r| r.person_id).collect();
        changes.delete.retain(|id| !rewritten.contains(id));
        if !changes.delete.is_empty() {
            sqlx::query("DELETE FROM person_coverage WHERE person_id = ANY($1)")
                .bind(&changes.delete)
                .execute(&mut *conn)
                .await
                .map_err(from_sqlx)?;
        }
        changes.insert.append(&mut changes.update_doses);
        upsert_rows(conn, &changes.insert).await?;
    }
    let mut deltas: Vec<(CounterKey, i64)> =
        all_deltas.into_iter().filter(|(_, n)| *n != 0).collect();
    deltas.sort();
    apply_deltas(conn, &deltas).await
}

pub(crate) async fn counters(
    conn: &mut PgConnection,
    unit: &CoverageUnit,
) -> Result<Vec<(Level, String, i64)>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT level, birth_month, count FROM coverage_counts \
         WHERE hierarchy = $1 AND unit_code = $2 AND count <> 0",
    )
    .bind(unit.hierarchy.as_str())
    .bind(&unit.code)
    .fetch_all(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    rows.into_iter()
        .map(|(level, month, n)| {
            Ok((
                Level::parse(&level).ok_or_else(domain::Error::internal)?,
                month,
                n,
            ))
        })
        .collect()
}

pub(crate) async fn born_on(
    conn: &mut PgConnection,
    unit: &CoverageUnit,
    born: &[(NaiveDate, NaiveDate)],
    as_of: NaiveDate,
) -> Result<Vec<BornOn>> {
    let sql = crate::sql::COVERAGE_BORN_ON.replace("{column}", unit.person_column());
    let mut out = Vec::new();
    for (from, to) in born {
        let rows: Vec<(NaiveDate, i64, i64, i64, i64, i64)> = sqlx::query_as(&sql)
            .bind(&unit.code)
            .bind(from)
            .bind(to)
            .bind(as_of)
            .fetch_all(&mut *conn)
            .await
            .map_err(from_sqlx)?;
        out.extend(rows.into_iter().map(|(dob, a, b, c, d, e)| BornOn {
            dob,
            reached: [a, b, c, d, e],
        }));
    }
    Ok(out)
}

pub(crate) async fn reached_after(
    conn: &mut PgConnection,
    unit: &CoverageUnit,
    as_of: NaiveDate,
) -> Result<Vec<ReachedAfter>> {
    let sql = crate::sql::COVERAGE_REACHED_AFTER
        .replace("{column}", unit.person_column())
        .replace("{month}", "to_char(dob, 'YYYY-MM')");
    let rows: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(&sql)
        .bind(&unit.code)
        .bind(as_of)
        .fetch_all(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    Ok(rows
        .into_iter()
        .map(|(birth_month, a, b, c, d, e)| ReachedAfter {
            birth_month,
            reached: [a, b, c, d, e],
        })
        .collect())
}

#[allow(clippy::type_complexity)]
pub(crate) async fn rebuild_inputs(
    conn: &mut PgConnection,
) -> Result<(
    Vec<PersonCoverage>,
    Vec<(CounterKey, i64)>,
    Vec<PersonCoverage>,
)> {
    // Writers wait while the snapshot is compared (and rewritten).
    sqlx::query("LOCK TABLE person_coverage, coverage_counts IN EXCLUSIVE MODE")
        .execute(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    let stored = sqlx::query(&format!("SELECT {ROW_COLUMNS} FROM person_coverage"))
        .fetch_all(&mut *conn)
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(row_from)
        .collect::<Result<Vec<_>>>()?;
    let counters: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT hierarchy, unit_code, level, birth_month, count FROM coverage_counts",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    let counters = counters
        .into_iter()
        .map(|(h, unit_code, level, birth_month, n)| {
            Ok((
                CounterKey {
                    hierarchy: domain::units::UnitVersion::parse(&h)?,
                    unit_code,
                    birth_month,
                    level: Level::parse(&level).ok_or_else(domain::Error::internal)?,
                },
                n,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let persons = sqlx::query(
        "SELECT id, province_code, commune_code, old_commune_code, dob FROM persons \
         WHERE merged_into IS NULL",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    let doses = sqlx::query(
        "SELECT person_id, payload::text FROM source_records \
         WHERE kind = 'dose' AND status = 'linked'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    let facts = persons.iter().map(facts_from).collect::<Result<Vec<_>>>()?;
    let fresh = rows_for(&facts, doses_from(&doses)?);
    Ok((stored, counters, fresh))
}

pub(crate) async fn rewrite(conn: &mut PgConnection, fresh: &[PersonCoverage]) -> Result<()> {
    sqlx::query("DELETE FROM person_coverage")
        .execute(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    sqlx::query("DELETE FROM coverage_counts")
        .execute(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    upsert_rows(conn, fresh).await?;
    apply_deltas(conn, &counter_deltas(&[], fresh)).await
}

pub(crate) async fn follow_up_rows(
    conn: &mut PgConnection,
    q: &FollowUpQuery,
) -> Result<(crate::Page<PersonCoverage>, FollowUpCounts)> {
    let column = q.unit.person_column();
    let base = format!(
        "FROM person_coverage c LEFT JOIN follow_up_reasons r ON r.person_id = c.person_id \
         WHERE c.{column} = $1 AND c.dob <= $2"
    );
    let (nv, od, unexplained): (i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FILTER (WHERE c.first_dose IS NULL), \
         COUNT(*) FILTER (WHERE c.first_dose IS NOT NULL AND c.next_due < $3), \
         COUNT(*) FILTER (WHERE c.first_dose IS NULL \
         AND (r.reason IS NULL OR r.reason = 'unknown')) {base}"
    ))
    .bind(&q.unit.code)
    .bind(q.born_by)
    .bind(q.overdue_before)
    .fetch_one(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    let counts = FollowUpCounts {
        not_vaccinated: nv as u64,
        overdue: od as u64,
        not_vaccinated_without_known_reason: unexplained as u64,
    };
    let columns = ROW_COLUMNS
        .split(", ")
        .map(|c| format!("c.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let filter = if q.only_unvaccinated {
        "c.first_dose IS NULL AND $3::date IS NOT NULL"
    } else {
        "(c.first_dose IS NULL OR c.next_due < $3)"
    };
    let items = sqlx::query(&format!(
        "SELECT {columns} {base} AND {filter} ORDER BY c.dob, c.person_id LIMIT $4 OFFSET $5"
    ))
    .bind(&q.unit.code)
    .bind(q.born_by)
    .bind(q.overdue_before)
    .bind(i64::from(q.limit.clamp(1, 10_000)))
    .bind(q.offset as i64)
    .fetch_all(&mut *conn)
    .await
    .map_err(from_sqlx)?
    .iter()
    .map(row_from)
    .collect::<Result<Vec<_>>>()?;
    let total = if q.only_unvaccinated {
        counts.not_vaccinated
    } else {
        counts.not_vaccinated + counts.overdue
    };
    Ok((crate::Page { items, total }, counts))
}

pub(crate) async fn follow_up_notes(
    conn: &mut PgConnection,
    persons: &[Uuid],
) -> Result<Vec<FollowUpNote>> {
    let mut out = Vec::new();
    for chunk in persons.chunks(CHUNK) {
        let rows: Vec<(Uuid, String, String, String, chrono::DateTime<chrono::Utc>)> =
            sqlx::query_as(
                "SELECT person_id, reason, note, updated_by, updated_at FROM follow_up_reasons \
                 WHERE person_id = ANY($1)",
            )
            .bind(chunk)
            .fetch_all(&mut *conn)
            .await
            .map_err(from_sqlx)?;
        for (person_id, reason, note, updated_by, updated_at) in rows {
            out.push(FollowUpNote {
                person_id,
                reason: FollowUpReason::parse(&reason).map_err(|_| domain::Error::internal())?,
                note,
                updated_by,
                updated_at,
            });
        }
    }
    Ok(out)
}

pub(crate) async fn set_follow_up_note(conn: &mut PgConnection, note: &FollowUpNote) -> Result<()> {
    sqlx::query(
        "INSERT INTO follow_up_reasons (person_id, reason, note, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (person_id) DO UPDATE SET \
         reason = excluded.reason, note = excluded.note, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at",
    )
    .bind(note.person_id)
    .bind(note.reason.as_str())
    .bind(&note.note)
    .bind(&note.updated_by)
    .bind(note.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    Ok(())
}
