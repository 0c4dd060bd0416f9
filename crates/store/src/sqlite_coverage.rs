//! SQLite side of the coverage rows and counters (logic in [`crate::coverage`]).

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::Result;
use crate::coverage::{
    BornOn, CounterKey, CoverageUnit, FollowUpCounts, FollowUpNote, FollowUpQuery, FollowUpReason,
    Level, PersonCoverage, PersonFacts, ReachedAfter, counter_deltas, row_changes, rows_for,
};
use crate::error::from_sqlx;
use crate::sql::push_in;

/// Ids per `IN (…)` list.
const CHUNK: usize = 500;

pub(crate) const ROW_COLUMNS: &str = "person_id, province_code, commune_code, old_commune_code, \
     old_district_code, old_province_code, dob, first_dose, primary_complete, booster1, booster2, \
     doses, next_kind, next_due, last_change";

pub(crate) fn row_from(r: &sqlx::sqlite::SqliteRow) -> Result<PersonCoverage> {
    let id: String = r.try_get("person_id").map_err(from_sqlx)?;
    let get_date = |c: &str| -> Result<Option<NaiveDate>> { r.try_get(c).map_err(from_sqlx) };
    Ok(PersonCoverage {
        person_id: Uuid::parse_str(&id).map_err(|_| domain::Error::internal())?,
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
        doses: r.try_get::<i64, _>("doses").map_err(from_sqlx)? as u32,
        next_kind: r.try_get("next_kind").map_err(from_sqlx)?,
        next_due: get_date("next_due")?,
        last_change: get_date("last_change")?,
    })
}

fn facts_from(r: &sqlx::sqlite::SqliteRow) -> Result<PersonFacts> {
    let id: String = r.try_get(0).map_err(from_sqlx)?;
    Ok(PersonFacts {
        person_id: Uuid::parse_str(&id).map_err(|_| domain::Error::internal())?,
        province_code: r.try_get(1).map_err(from_sqlx)?,
        commune_code: r.try_get(2).map_err(from_sqlx)?,
        old_commune_code: r.try_get(3).map_err(from_sqlx)?,
        dob: r.try_get(4).map_err(from_sqlx)?,
    })
}

/// `(person, payload text)` of dose rows selected as `person_id, payload`.
fn doses_from(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<(Uuid, String)>> {
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0).map_err(from_sqlx)?;
            Ok((
                Uuid::parse_str(&id).map_err(|_| domain::Error::internal())?,
                r.try_get(1).map_err(from_sqlx)?,
            ))
        })
        .collect()
}

/// The recomputed rows of the given persons (merged-away or missing persons have none).
async fn fresh_rows(conn: &mut SqliteConnection, ids: &[String]) -> Result<Vec<PersonCoverage>> {
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT id, province_code, commune_code, old_commune_code, dob FROM persons \
         WHERE merged_into IS NULL",
    );
    push_in(&mut qb, "id", ids);
    let persons = qb.build().fetch_all(&mut *conn).await.map_err(from_sqlx)?;
    // Without the hint SQLite picks the status index and reads every linked record per chunk.
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT person_id, payload FROM source_records INDEXED BY source_records_person \
         WHERE kind = 'dose' AND status = 'linked'",
    );
    push_in(&mut qb, "person_id", ids);
    let doses = qb.build().fetch_all(&mut *conn).await.map_err(from_sqlx)?;
    let facts = persons.iter().map(facts_from).collect::<Result<Vec<_>>>()?;
    Ok(rows_for(&facts, doses_from(&doses)?))
}

async fn insert_rows(conn: &mut SqliteConnection, rows: &[PersonCoverage]) -> Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let mut qb =
            QueryBuilder::<Sqlite>::new(format!("INSERT INTO person_coverage ({ROW_COLUMNS}) "));
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.person_id.to_string())
                .push_bind(&r.province_code)
                .push_bind(&r.commune_code)
                .push_bind(&r.old_commune_code)
                .push_bind(&r.old_district_code)
                .push_bind(&r.old_province_code)
                .push_bind(r.dob)
                .push_bind(r.first_dose)
                .push_bind(r.primary_complete)
                .push_bind(r.booster1)
                .push_bind(r.booster2)
                .push_bind(i64::from(r.doses))
                .push_bind(&r.next_kind)
                .push_bind(r.next_due)
                .push_bind(r.last_change);
        });
        qb.build().execute(&mut *conn).await.map_err(from_sqlx)?;
    }
    Ok(())
}

/// Writes the dose-derived columns of rows whose units and birth date are unchanged.
async fn update_dose_columns(conn: &mut SqliteConnection, rows: &[PersonCoverage]) -> Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "UPDATE person_coverage AS c SET first_dose = t.column2, \
             primary_complete = t.column3, booster1 = t.column4, booster2 = t.column5, \
             doses = t.column6, next_kind = t.column7, next_due = t.column8, \
             last_change = t.column9 FROM (",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.person_id.to_string())
                .push_bind(r.first_dose)
                .push_bind(r.primary_complete)
                .push_bind(r.booster1)
                .push_bind(r.booster2)
                .push_bind(i64::from(r.doses))
                .push_bind(&r.next_kind)
                .push_bind(r.next_due)
                .push_bind(r.last_change);
        });
        qb.push(") AS t WHERE c.person_id = t.column1");
        qb.build().execute(&mut *conn).await.map_err(from_sqlx)?;
    }
    Ok(())
}

async fn apply_deltas(conn: &mut SqliteConnection, deltas: &[(CounterKey, i64)]) -> Result<()> {
    for chunk in deltas.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO coverage_counts (hierarchy, unit_code, level, birth_month, count) ",
        );
        qb.push_values(chunk, |mut b, (k, n)| {
            b.push_bind(k.hierarchy.as_str())
                .push_bind(&k.unit_code)
                .push_bind(k.level.as_str())
                .push_bind(&k.birth_month)
                .push_bind(*n);
        });
        qb.push(
            " ON CONFLICT (hierarchy, unit_code, level, birth_month) \
             DO UPDATE SET count = count + excluded.count",
        );
        qb.build().execute(&mut *conn).await.map_err(from_sqlx)?;
    }
    Ok(())
}

/// Recomputes the coverage rows of `persons` and applies the counter changes, inside the
/// caller's transaction.
pub(crate) async fn refresh(conn: &mut SqliteConnection, persons: &[Uuid]) -> Result<()> {
    let ids: Vec<String> = crate::sql::distinct(persons)
        .iter()
        .map(Uuid::to_string)
        .collect();
    let mut all_deltas: HashMap<CounterKey, i64> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {ROW_COLUMNS} FROM person_coverage WHERE 1=1"
        ));
        push_in(&mut qb, "person_id", chunk);
        let old = qb
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(from_sqlx)?
            .iter()
            .map(row_from)
            .collect::<Result<Vec<_>>>()?;
        let new = fresh_rows(conn, chunk).await?;
        for (k, n) in counter_deltas(&old, &new) {
            *all_deltas.entry(k).or_insert(0) += n;
        }
        let changes = row_changes(&old, new);
        if !changes.delete.is_empty() {
            let gone: Vec<String> = changes.delete.iter().map(Uuid::to_string).collect();
            let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM person_coverage WHERE 1=1");
            push_in(&mut qb, "person_id", &gone);
            qb.build().execute(&mut *conn).await.map_err(from_sqlx)?;
        }
        insert_rows(conn, &changes.insert).await?;
        update_dose_columns(conn, &changes.update_doses).await?;
    }
    let mut deltas: Vec<(CounterKey, i64)> =
        all_deltas.into_iter().filter(|(_, n)| *n != 0).collect();
    deltas.sort();
    apply_deltas(conn, &deltas).await
}

pub(crate) async fn counters(
    conn: &mut SqliteConnection,
    unit: &CoverageUnit,
) -> Result<Vec<(Level, String, i64)>> {
    // One row per level with its months packed as `YYYY-MM=count,…`: the driver hands rows over
    // one at a time, so ~5,000 counter rows cost more in transfer than in SQLite.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT level, group_concat(birth_month || '=' || count, ',') FROM coverage_counts \
         WHERE hierarchy = $1 AND unit_code = $2 AND count <> 0 GROUP BY level",
    )
    .bind(unit.hierarchy.as_str())
    .bind(&unit.code)
    .fetch_all(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    let mut out = Vec::new();
    for (level, packed) in rows {
        let level = Level::parse(&level).ok_or_else(domain::Error::internal)?;
        for item in packed.split(',') {
            let (month, count) = item.split_once('=').ok_or_else(domain::Error::internal)?;
            let count: i64 = count.parse().map_err(|_| domain::Error::internal())?;
            out.push((level, month.to_string(), count));
        }
    }
    Ok(out)
}

pub(crate) async fn born_on(
    conn: &mut SqliteConnection,
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
    conn: &mut SqliteConnection,
    unit: &CoverageUnit,
    as_of: NaiveDate,
) -> Result<Vec<ReachedAfter>> {
    // Nobody changed after the date (today, usually): say so from the `last_change` index
    // instead of letting SQLite walk the whole unit by its (code, dob) index.
    let anyone: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM person_coverage \
         INDEXED BY person_coverage_changed WHERE last_change > $1 LIMIT 1)",
    )
    .bind(as_of)
    .fetch_one(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    if anyone == 0 {
        return Ok(Vec::new());
    }
    let sql = crate::sql::COVERAGE_REACHED_AFTER
        .replace("{column}", unit.person_column())
        .replace("{month}", "substr(dob, 1, 7)");
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

/// Every stored row and counter, and the rows recomputed from persons and dose records.
pub(crate) async fn rebuild_inputs(
    conn: &mut SqliteConnection,
) -> Result<(
    Vec<PersonCoverage>,
    Vec<(CounterKey, i64)>,
    Vec<PersonCoverage>,
)> {
    let stored = sqlx::query(&format!("SELECT {ROW_COLUMNS} FROM person_coverage"))
        .fetch_all(&mut *conn)
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(row_from)
        .collect::<Result<Vec<_>>>()?;
    let counters =
        sqlx::query("SELECT hierarchy, unit_code, level, birth_month, count FROM coverage_counts")
            .fetch_all(&mut *conn)
            .await
            .map_err(from_sqlx)?
            .iter()
            .map(|r| {
                let h: String = r.try_get(0).map_err(from_sqlx)?;
                let level: String = r.try_get(2).map_err(from_sqlx)?;
                Ok((
                    CounterKey {
                        hierarchy: domain::units::UnitVersion::parse(&h)?,
                        unit_code: r.try_get(1).map_err(from_sqlx)?,
                        birth_month: r.try_get(3).map_err(from_sqlx)?,
                        level: Level::parse(&level).ok_or_else(domain::Error::internal)?,
                    },
                    r.try_get::<i64, _>(4).map_err(from_sqlx)?,
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
        "SELECT person_id, payload FROM source_records WHERE kind = 'dose' AND status = 'linked'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    let facts = persons.iter().map(facts_from).collect::<Result<Vec<_>>>()?;
    let fresh = rows_for(&facts, doses_from(&doses)?);
    Ok((stored, counters, fresh))
}

/// Replaces every row and counter by the recomputed rows.
pub(crate) async fn rewrite(conn: &mut SqliteConnection, fresh: &[PersonCoverage]) -> Result<()> {
    sqlx::query("DELETE FROM person_coverage")
        .execute(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    sqlx::query("DELETE FROM coverage_counts")
        .execute(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    insert_rows(conn, fresh).await?;
    apply_deltas(conn, &counter_deltas(&[], fresh)).await
}

/// The follow-up filter on `person_coverage` (alias `c`) and `follow_up_reasons` (alias `r`).
fn push_follow_up_where(qb: &mut QueryBuilder<'_, Sqlite>, q: &FollowUpQuery) {
    qb.push(format_args!(" WHERE c.{} = ", q.unit.person_column()))
        .push_bind(q.unit.code.clone())
        .push(" AND c.dob <= ")
        .push_bind(q.born_by);
    if q.only_unvaccinated {
        qb.push(" AND c.first_dose IS NULL");
    } else {
        qb.push(" AND (c.first_dose IS NULL OR c.next_due < ")
            .push_bind(q.overdue_before)
            .push(")");
    }
}

pub(crate) async fn follow_up_rows(
    conn: &mut SqliteConnection,
    q: &FollowUpQuery,
) -> Result<(crate::Page<PersonCoverage>, FollowUpCounts)> {
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT COALESCE(SUM(c.first_dose IS NULL), 0), \
         COALESCE(SUM(c.first_dose IS NOT NULL), 0), \
         COALESCE(SUM(c.first_dose IS NULL AND (r.reason IS NULL OR r.reason = 'unknown')), 0) \
         FROM person_coverage c LEFT JOIN follow_up_reasons r ON r.person_id = c.person_id",
    );
    let all = FollowUpQuery {
        only_unvaccinated: false,
        ..q.clone()
    };
    push_follow_up_where(&mut qb, &all);
    let (nv, od, unexplained): (i64, i64, i64) = qb
        .build_query_as()
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
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {columns} FROM person_coverage c \
         LEFT JOIN follow_up_reasons r ON r.person_id = c.person_id"
    ));
    push_follow_up_where(&mut qb, q);
    qb.push(" ORDER BY c.dob, c.person_id LIMIT ")
        .push_bind(i64::from(q.limit.clamp(1, 10_000)))
        .push(" OFFSET ")
        .push_bind(q.offset as i64);
    let items = qb
        .build()
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
    conn: &mut SqliteConnection,
    persons: &[Uuid],
) -> Result<Vec<FollowUpNote>> {
    let ids: Vec<String> = persons.iter().map(Uuid::to_string).collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT person_id, reason, note, updated_by, updated_at FROM follow_up_reasons \
             WHERE 1=1",
        );
        push_in(&mut qb, "person_id", chunk);
        for r in qb.build().fetch_all(&mut *conn).await.map_err(from_sqlx)? {
            let id: String = r.try_get(0).map_err(from_sqlx)?;
            let reason: String = r.try_get(1).map_err(from_sqlx)?;
            out.push(FollowUpNote {
                person_id: Uuid::parse_str(&id).map_err(|_| domain::Error::internal())?,
                reason: FollowUpReason::parse(&reason).map_err(|_| domain::Error::internal())?,
                note: r.try_get(2).map_err(from_sqlx)?,
                updated_by: r.try_get(3).map_err(from_sqlx)?,
                updated_at: r.try_get(4).map_err(from_sqlx)?,
            });
        }
    }
    Ok(out)
}

pub(crate) async fn set_follow_up_note(
    conn: &mut SqliteConnection,
    note: &FollowUpNote,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO follow_up_reasons (person_id, reason, note, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (person_id) DO UPDATE SET \
         reason = excluded.reason, note = excluded.note, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at",
    )
    .bind(note.person_id.to_string())
    .bind(note.reason.as_str())
    .bind(&note.note)
    .bind(&note.updated_by)
    .bind(note.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    Ok(())
}
