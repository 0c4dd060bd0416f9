//! SQLite backend: the embedded default database (one file, WAL journal).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use domain::person::{Household, Person, Sex};
use domain::population::{AgeBand, Denominator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use uuid::Uuid;

use chrono::{DateTime, Utc};
use domain::audit::{AuditEntry, NewAuditEntry};
use domain::auth::User;

use crate::certificates::{
    CertificateStatus, Revocation, SigningKey, SigningRole, TrustedSigner, VaccinationCertificate,
};
use crate::coverage::{
    CoverageUnit, FollowUpCounts, FollowUpNote, FollowUpQuery, Level, PersonCoverage,
    RebuildReport, VaccinationSite, VaccineLot,
};
use crate::error::{from_sqlx, one_line};
use crate::linking_model::{
    DecidedInsertPlan, LinkCandidate, LinkDecision, LinkStatus, NewSourceRecord, PersonMerge,
    RecordKind, SourceRecord, SourceRecordQuery, check_decisions, check_linkable,
    last_decision_per_record, merge_already_undone, merge_not_found, merge_person_already_merged,
    merge_person_missing, merge_same_person, parse_json, record_not_found,
};
use crate::model::{
    ApiTokenRecord, AuditFilter, Page, PersonQuery, SessionRecord, micros, person_from_columns,
    user_from_columns,
};
use crate::sql::{
    AUDIT_COLUMNS, PERSON_COLUMNS, USER_COLUMNS, USER_COLUMNS_U, distinct, push_audit_page,
    push_audit_where, push_in, push_person_page, push_person_where, push_source_record_page,
    push_source_record_where, source_record_from_row, status_counts,
};
use crate::sqlite_coverage;
use crate::{Backend, Result, Store};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Rows per multi-row `INSERT` (a few parameters each, well under SQLite's 32,766 limit).
const INSERT_CHUNK: usize = 1000;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the file named by a `sqlite://PATH` URL.
    pub async fn connect(url: &str) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| open_error(url, &e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // 64 MiB page cache per connection: bulk loads touch several large indexes.
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|e| open_error(url, &e))?;
        Ok(SqliteStore { pool })
    }

    /// The underlying pool (tests and tools that need raw SQL, e.g. tamper tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Runs a `COUNT(*)` query and a page query built from the same filter.
    async fn fetch_page<T>(
        &self,
        mut count: QueryBuilder<'_, Sqlite>,
        mut list: QueryBuilder<'_, Sqlite>,
        map: fn(&sqlx::sqlite::SqliteRow) -> Result<T>,
    ) -> Result<Page<T>> {
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(from_sqlx)?;
        let rows = list
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(from_sqlx)?;
        Ok(Page {
            items: rows.iter().map(map).collect::<Result<_>>()?,
            total: total as u64,
        })
    }

    /// Begins a transaction that may append to the audit log (one appender at a time).
    pub(crate) async fn begin_audited(&self) -> Result<sqlx::Transaction<'_, Sqlite>> {
        let tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(from_sqlx)?;
        Ok(tx)
    }
}

fn open_error(url: &str, e: &dyn std::fmt::Display) -> domain::Error {
    domain::Error::new(
        domain::ErrorCode::StorageUnavailable,
        format!(
            "Không mở được cơ sở dữ liệu SQLite «{url}»: {}",
            one_line(e)
        ),
        format!("Cannot open SQLite database «{url}»: {}", one_line(e)),
    )
}

fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| {
        tracing::error!(value = s, error = %e, "corrupt uuid in sqlite");
        domain::Error::internal()
    })
}

fn person_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Person> {
    let household: Option<String> = r.try_get("household_id").map_err(from_sqlx)?;
    person_from_columns(
        parse_uuid(&r.try_get::<String, _>("id").map_err(from_sqlx)?)?,
        r.try_get("province_code").map_err(from_sqlx)?,
        r.try_get("commune_code").map_err(from_sqlx)?,
        r.try_get("old_commune_code").map_err(from_sqlx)?,
        household.as_deref().map(parse_uuid).transpose()?,
        r.try_get("full_name").map_err(from_sqlx)?,
        r.try_get("dob").map_err(from_sqlx)?,
        r.try_get::<&str, _>("sex").map_err(from_sqlx)?,
        r.try_get("national_id").map_err(from_sqlx)?,
        r.try_get("phone").map_err(from_sqlx)?,
    )
}

/// Source record columns, in the form [`source_record_row`] reads.
const SOURCE_RECORD_COLUMNS: &str = "id, kind, source, external_id, full_name, dob, sex, \
     national_id, commune_code, phone, payload, batch_id, status, person_id, probability, \
     decided_by, decided_at, created_at, scope_commune";

/// Person merge columns, in the form [`merge_from_row`] reads.
const MERGE_COLUMNS: &str =
    "id, kept, merged, merged_by, merged_at, undone_by, undone_at, moved_records";

/// Blocking key pairs per multi-row `INSERT` (two parameters each).
const KEY_CHUNK: usize = 10_000;

fn source_record_row(r: &sqlx::sqlite::SqliteRow) -> Result<SourceRecord> {
    let uuid =
        |c: &str| -> Result<Uuid> { parse_uuid(&r.try_get::<String, _>(c).map_err(from_sqlx)?) };
    let person: Option<String> = r.try_get("person_id").map_err(from_sqlx)?;
    source_record_from_row(
        r,
        uuid("id")?,
        uuid("batch_id")?,
        person.as_deref().map(parse_uuid).transpose()?,
    )
}

fn merge_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<PersonMerge> {
    let uuid =
        |c: &str| -> Result<Uuid> { parse_uuid(&r.try_get::<String, _>(c).map_err(from_sqlx)?) };
    let moved: String = r.try_get("moved_records").map_err(from_sqlx)?;
    Ok(PersonMerge {
        id: uuid("id")?,
        kept: uuid("kept")?,
        merged: uuid("merged")?,
        merged_by: r.try_get("merged_by").map_err(from_sqlx)?,
        merged_at: r.try_get("merged_at").map_err(from_sqlx)?,
        undone_by: r.try_get("undone_by").map_err(from_sqlx)?,
        undone_at: r.try_get("undone_at").map_err(from_sqlx)?,
        moved_records: serde_json::from_str(&moved).map_err(|e| {
            tracing::error!(error = %e, "corrupt moved_records in sqlite");
            domain::Error::internal()
        })?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| {
            domain::Error::new(
                domain::ErrorCode::StorageUnavailable,
                format!("Lỗi cập nhật cấu trúc cơ sở dữ liệu: {}", one_line(&e)),
                format!("Migration failed: {}", one_line(&e)),
            )
        })?;
        // A database from before migration 0006 has persons without coverage rows.
        let missing: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM persons WHERE merged_into IS NULL) \
             AND NOT EXISTS (SELECT 1 FROM person_coverage)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(from_sqlx)?;
        if missing {
            self.rebuild_coverage(true).await?;
        }
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    async fn insert_households(&self, households: &[Household]) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        let mut n = 0;
        for chunk in households.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO households (province_code, id, commune_code, old_commune_code, address) ",
            );
            qb.push_values(chunk, |mut b, h| {
                b.push_bind(&h.province_code)
                    .push_bind(h.id.to_string())
                    .push_bind(&h.commune_code)
                    .push_bind(&h.old_commune_code)
                    .push_bind(&h.address);
            });
            n += qb
                .build()
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?
                .rows_affected();
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(n)
    }

    async fn insert_persons(&self, persons: &[Person]) -> Result<u64> {
        // Rows are first staged in an unindexed temporary table with multi-row VALUES, then
        // moved with one INSERT … SELECT: SQLite maintains the persons indexes far faster in a
        // single statement than across many VALUES statements.
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS persons_staging AS SELECT * FROM persons WHERE 0",
        )
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        sqlx::query("DELETE FROM persons_staging")
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        for chunk in persons.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO persons_staging (id, province_code, commune_code, old_commune_code, \
                 household_id, full_name, name_folded, dob, sex, national_id, phone, created_at) ",
            );
            qb.push_values(chunk, |mut b, p| {
                b.push_bind(p.id.to_string())
                    .push_bind(&p.province_code)
                    .push_bind(&p.commune_code)
                    .push_bind(&p.old_commune_code)
                    .push_bind(p.household_id.map(|h| h.to_string()))
                    .push_bind(&p.full_name)
                    .push_bind(domain::name::fold(&p.full_name))
                    .push_bind(p.dob)
                    .push_bind(p.sex.as_str())
                    .push_bind(p.national_id.as_ref().map(|n| n.as_str().to_string()))
                    .push_bind(p.phone.as_ref().map(|n| n.as_str().to_string()))
                    .push("strftime('%Y-%m-%dT%H:%M:%SZ', 'now')");
            });
            qb.build().execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        let n = sqlx::query(
            "INSERT INTO persons (id, province_code, commune_code, old_commune_code, \
             household_id, full_name, name_folded, dob, sex, national_id, phone, created_at) \
             SELECT id, province_code, commune_code, old_commune_code, household_id, full_name, \
             name_folded, dob, sex, national_id, phone, created_at FROM persons_staging",
        )
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?
        .rows_affected();
        sqlx::query("DELETE FROM persons_staging")
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let ids: Vec<Uuid> = persons.iter().map(|p| p.id).collect();
        sqlite_coverage::refresh(&mut tx, &ids).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(n)
    }

    async fn count_persons(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM persons WHERE merged_into IS NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(from_sqlx)?;
        Ok(n as u64)
    }

    async fn list_persons(&self, q: &PersonQuery) -> Result<Page<Person>> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM persons");
        push_person_where(&mut count, q);
        let mut list = QueryBuilder::<Sqlite>::new(format!("SELECT {PERSON_COLUMNS} FROM persons"));
        push_person_where(&mut list, q);
        push_person_page(&mut list, q);
        self.fetch_page(count, list, person_from_row).await
    }

    async fn get_person(&self, id: Uuid) -> Result<Option<Person>> {
        let row = sqlx::query(&format!(
            "SELECT {PERSON_COLUMNS} FROM persons WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(from_sqlx)?;
        row.as_ref().map(person_from_row).transpose()
    }

    async fn person_demographics(&self) -> Result<Vec<(String, Sex, NaiveDate)>> {
        let rows: Vec<(String, String, NaiveDate)> =
            sqlx::query_as("SELECT commune_code, sex, dob FROM persons WHERE merged_into IS NULL")
                .fetch_all(&self.pool)
                .await
                .map_err(from_sqlx)?;
        rows.into_iter()
            .map(|(c, s, d)| Ok((c, Sex::parse(&s)?, d)))
            .collect()
    }

    async fn replace_denominators(&self, as_of: NaiveDate, rows: &[Denominator]) -> Result<()> {
        let units = domain::units::AdminUnits::embedded();
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        sqlx::query("DELETE FROM population_denominators")
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO population_denominators \
                 (province_code, commune_code, sex, age_band, population, as_of) ",
            );
            qb.push_values(chunk, |mut b, d| {
                let province = units
                    .v2025
                    .province_of(&d.commune_code)
                    .map(|u| u.code.clone())
                    .unwrap_or_default();
                b.push_bind(province)
                    .push_bind(&d.commune_code)
                    .push_bind(d.sex.as_str())
                    .push_bind(i64::from(d.age_band.lower()))
                    .push_bind(d.count as i64)
                    .push_bind(as_of);
            });
            qb.build().execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn denominators(&self, communes: Option<&[String]>) -> Result<Vec<Denominator>> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT commune_code, sex, age_band, population FROM population_denominators",
        );
        if let Some(c) = communes {
            if c.is_empty() {
                return Ok(Vec::new());
            }
            qb.push(" WHERE commune_code IN (");
            let mut sep = qb.separated(", ");
            for code in c {
                sep.push_bind(code.clone());
            }
            qb.push(")");
        }
        qb.push(" ORDER BY commune_code, sex, age_band");
        let rows: Vec<(String, String, i64, i64)> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(from_sqlx)?;
        rows.into_iter().map(denominator_from_columns).collect()
    }

    async fn upsert_register(
        &self,
        entries: &[domain::register::RegisterEntry],
        audit: &NewAuditEntry,
    ) -> Result<(u64, u64)> {
        let mut tx = self.begin_audited().await?;
        let (mut inserted, mut updated) = (0, 0);
        let mut touched = Vec::with_capacity(entries.len());
        for e in entries {
            let household = e.household_ref.as_deref().map(crate::household_id_for);
            if let Some(h) = household {
                sqlx::query(
                    "INSERT INTO households (id, province_code, commune_code, old_commune_code, \
                     address) VALUES ($1, $2, $3, $4, '') ON CONFLICT DO NOTHING",
                )
                .bind(h.to_string())
                .bind(&e.province_code)
                .bind(&e.commune_code)
                .bind(&e.old_commune_code)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            }
            let existing: Option<String> = match (&e.national_id, &e.external_id) {
                (Some(n), _) => sqlx::query_scalar("SELECT id FROM persons WHERE national_id = $1")
                    .bind(n.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(from_sqlx)?,
                (None, Some(x)) => {
                    sqlx::query_scalar("SELECT id FROM persons WHERE external_id = $1")
                        .bind(x)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(from_sqlx)?
                }
                (None, None) => None,
            };
            let sql = if existing.is_some() {
                "UPDATE persons SET province_code = $2, commune_code = $3, old_commune_code = $4, \
                 household_id = COALESCE($5, household_id), full_name = $6, name_folded = $7, \
                 dob = $8, sex = $9, national_id = COALESCE($10, national_id), \
                 phone = COALESCE($11, phone), external_id = COALESCE($12, external_id), \
                 national_id_inconsistent = CASE WHEN $10 IS NULL \
                 THEN national_id_inconsistent ELSE $13 END, link_indexed = 0 WHERE id = $1"
            } else {
                "INSERT INTO persons (id, province_code, commune_code, old_commune_code, \
                 household_id, full_name, name_folded, dob, sex, national_id, phone, \
                 external_id, national_id_inconsistent) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            };
            let id = existing
                .clone()
                .unwrap_or_else(|| Uuid::now_v7().to_string());
            sqlx::query(sql)
                .bind(&id)
                .bind(&e.province_code)
                .bind(&e.commune_code)
                .bind(&e.old_commune_code)
                .bind(household.map(|h| h.to_string()))
                .bind(&e.full_name)
                .bind(domain::name::fold(&e.full_name))
                .bind(e.dob)
                .bind(e.sex.as_str())
                .bind(e.national_id.as_ref().map(|n| n.as_str().to_string()))
                .bind(e.phone.as_ref().map(|p| p.as_str().to_string()))
                .bind(&e.external_id)
                .bind(e.national_id_inconsistent)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            if existing.is_some() {
                updated += 1;
            } else {
                inserted += 1;
            }
            touched.push(parse_uuid(&id)?);
        }
        sqlite_coverage::refresh(&mut tx, &touched).await?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok((inserted, updated))
    }

    async fn persons_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Person>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in distinct(ids).chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {PERSON_COLUMNS} FROM persons WHERE 1=1"
            ));
            let chunk: Vec<String> = chunk.iter().map(Uuid::to_string).collect();
            push_in(&mut qb, "id", &chunk);
            let rows = qb.build().fetch_all(&self.pool).await.map_err(from_sqlx)?;
            for r in &rows {
                out.push(person_from_row(r)?);
            }
        }
        Ok(out)
    }

    async fn persons_by_national_ids(&self, ids: &[String]) -> Result<Vec<Person>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {PERSON_COLUMNS} FROM persons WHERE merged_into IS NULL"
            ));
            push_in(&mut qb, "national_id", chunk);
            for r in &qb.build().fetch_all(&self.pool).await.map_err(from_sqlx)? {
                out.push(person_from_row(r)?);
            }
        }
        Ok(out)
    }

    async fn household_addresses(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in distinct(ids).chunks(INSERT_CHUNK) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("SELECT id, address FROM households WHERE 1=1");
            let chunk: Vec<String> = chunk.iter().map(Uuid::to_string).collect();
            push_in(&mut qb, "id", &chunk);
            for r in qb.build().fetch_all(&self.pool).await.map_err(from_sqlx)? {
                let id: String = r.try_get(0).map_err(from_sqlx)?;
                out.push((parse_uuid(&id)?, r.try_get(1).map_err(from_sqlx)?));
            }
        }
        Ok(out)
    }

    async fn insert_decided_records(
        &self,
        records: &[NewSourceRecord],
        decisions: &[LinkDecision],
        audit: Option<&NewAuditEntry>,
    ) -> Result<Vec<Uuid>> {
        if records.is_empty() {
            DecidedInsertPlan::new(records, decisions)?;
            return Ok(Vec::new());
        }
        let mut tx = self.begin_audited().await?;
        let inserted = insert_decided_in_tx(&mut tx, records, decisions).await?;
        if let Some(audit) = audit {
            append_in_tx(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(records
            .iter()
            .map(|r| r.id)
            .filter(|id| inserted.contains(id))
            .collect())
    }

    async fn apply_link_decisions(
        &self,
        decisions: &[LinkDecision],
        audit: Option<&NewAuditEntry>,
    ) -> Result<()> {
        check_decisions(decisions)?;
        let decisions = last_decision_per_record(decisions);
        let now = micros(Utc::now());
        let mut tx = self.begin_audited().await?;
        // Persons first, records second: the same error as on PostgreSQL for a bad batch.
        let persons = distinct(
            &decisions
                .iter()
                .filter_map(|d| d.person_id)
                .collect::<Vec<_>>(),
        );
        let mut found = HashMap::with_capacity(persons.len());
        for chunk in persons.chunks(INSERT_CHUNK) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("SELECT id, merged_into FROM persons WHERE 1=1");
            let chunk: Vec<String> = chunk.iter().map(Uuid::to_string).collect();
            push_in(&mut qb, "id", &chunk);
            let rows: Vec<(String, Option<String>)> = qb
                .build_query_as()
                .fetch_all(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            for (id, into) in rows {
                found.insert(
                    parse_uuid(&id)?,
                    into.as_deref().map(parse_uuid).transpose()?,
                );
            }
        }
        check_linkable(&persons, &found)?;
        // Persons whose doses change: the records' current persons and their new ones.
        let mut coverage_persons: Vec<Uuid> =
            decisions.iter().filter_map(|d| d.person_id).collect();
        let record_ids: Vec<String> = decisions.iter().map(|d| d.record_id.to_string()).collect();
        for chunk in record_ids.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                // `+kind`: with a long id list SQLite would otherwise walk every dose record.
                "SELECT person_id FROM source_records WHERE +kind = 'dose' AND person_id IS NOT NULL",
            );
            push_in(&mut qb, "id", chunk);
            let before: Vec<String> = qb
                .build_query_scalar()
                .fetch_all(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            for p in before {
                coverage_persons.push(parse_uuid(&p)?);
            }
        }
        // One UPDATE … FROM (VALUES …) per chunk (as PostgreSQL's UPDATE … FROM UNNEST).
        for chunk in decisions.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE source_records AS s SET status = t.column2, person_id = t.column3, \
                 probability = t.column4, decided_by = t.column5, decided_at = ",
            );
            qb.push_bind(now).push(" FROM (");
            qb.push_values(chunk, |mut b, d| {
                b.push_bind(d.record_id.to_string())
                    .push_bind(d.status.as_str())
                    .push_bind(d.person_id.map(|p| p.to_string()))
                    .push_bind(d.probability)
                    .push_bind(d.decided_by.as_str());
            });
            qb.push(") AS t WHERE s.id = t.column1 RETURNING id");
            let updated: Vec<String> = qb
                .build_query_scalar()
                .fetch_all(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            if updated.len() < chunk.len() {
                let updated: std::collections::HashSet<String> = updated.into_iter().collect();
                if let Some(missing) = chunk
                    .iter()
                    .find(|d| !updated.contains(&d.record_id.to_string()))
                {
                    return Err(record_not_found(missing.record_id));
                }
            }
        }
        let replaced: Vec<String> = decisions
            .iter()
            .filter(|d| d.candidates.is_some())
            .map(|d| d.record_id.to_string())
            .collect();
        for chunk in replaced.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM link_candidates WHERE 1=1");
            push_in(&mut qb, "record_id", chunk);
            qb.build().execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        let candidates: Vec<&LinkCandidate> = decisions
            .iter()
            .flat_map(|d| d.candidates.iter().flatten())
            .collect();
        for chunk in candidates.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO link_candidates (record_id, person_id, probability, explanation) ",
            );
            qb.push_values(chunk, |mut b, c| {
                b.push_bind(c.record_id.to_string())
                    .push_bind(c.person_id.to_string())
                    .push_bind(c.probability)
                    .push_bind(c.explanation.to_string());
            });
            qb.build().execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        // Records typed without a commune take the commune of their person or best candidate.
        let ids: Vec<String> = decisions.iter().map(|d| d.record_id.to_string()).collect();
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::new(crate::sql::SCOPE_COMMUNE_UPDATE);
            push_in(&mut qb, "id", chunk);
            qb.build().execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        sqlite_coverage::refresh(&mut tx, &coverage_persons).await?;
        if let Some(audit) = audit {
            append_in_tx(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn get_source_record(
        &self,
        id: Uuid,
    ) -> Result<Option<(SourceRecord, Vec<LinkCandidate>)>> {
        let row = sqlx::query(&format!(
            "SELECT {SOURCE_RECORD_COLUMNS} FROM source_records WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(from_sqlx)?;
        let Some(row) = row else { return Ok(None) };
        let record = source_record_row(&row)?;
        let rows: Vec<(String, String, f64, String)> = sqlx::query_as(
            "SELECT record_id, person_id, probability, explanation FROM link_candidates \
             WHERE record_id = $1 ORDER BY probability DESC, person_id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        let candidates = rows
            .into_iter()
            .map(|(r, p, probability, e)| {
                Ok(LinkCandidate {
                    record_id: parse_uuid(&r)?,
                    person_id: parse_uuid(&p)?,
                    probability,
                    explanation: parse_json(&e, "explanation")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Some((record, candidates)))
    }

    async fn list_source_records(&self, q: &SourceRecordQuery) -> Result<Page<SourceRecord>> {
        let uuid = |u: Uuid| u.to_string();
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM source_records");
        push_source_record_where(&mut count, q, uuid);
        let mut list = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {SOURCE_RECORD_COLUMNS} FROM source_records"
        ));
        push_source_record_where(&mut list, q, uuid);
        push_source_record_page(&mut list, q);
        self.fetch_page(count, list, source_record_row).await
    }

    async fn count_source_records_by_status(
        &self,
        communes: Option<&[String]>,
    ) -> Result<Vec<(LinkStatus, u64)>> {
        let mut qb =
            QueryBuilder::<Sqlite>::new("SELECT status, COUNT(*) FROM source_records WHERE 1=1");
        if let Some(c) = communes {
            push_in(&mut qb, crate::sql::RECORD_SCOPE, c);
        }
        qb.push(" GROUP BY status");
        let rows: Vec<(String, i64)> = qb
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(from_sqlx)?;
        status_counts(rows)
    }

    async fn replace_blocking_keys(&self, keys: &[(Uuid, Vec<i64>)]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_audited().await?;
        let persons: Vec<Uuid> = distinct(&keys.iter().map(|(p, _)| *p).collect::<Vec<_>>());
        for chunk in persons.chunks(INSERT_CHUNK) {
            let ids: Vec<String> = chunk.iter().map(Uuid::to_string).collect();
            let mut del = QueryBuilder::<Sqlite>::new("DELETE FROM person_blocking_keys WHERE 1=1");
            push_in(&mut del, "person_id", &ids);
            del.build().execute(&mut *tx).await.map_err(from_sqlx)?;
            let mut mark =
                QueryBuilder::<Sqlite>::new("UPDATE persons SET link_indexed = 1 WHERE 1=1");
            push_in(&mut mark, "id", &ids);
            mark.build().execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        let pairs: Vec<(i64, String)> = keys
            .iter()
            .flat_map(|(p, ks)| {
                let p = p.to_string();
                ks.iter().map(move |k| (*k, p.clone()))
            })
            .collect();
        for chunk in pairs.chunks(KEY_CHUNK) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("INSERT INTO person_blocking_keys (key, person_id) ");
            qb.push_values(chunk, |mut b, (k, p)| {
                b.push_bind(*k).push_bind(p.as_str());
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn persons_with_keys(&self, keys: &[i64]) -> Result<Vec<(i64, Uuid)>> {
        let mut out = Vec::new();
        for chunk in distinct(keys).chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "SELECT k.key, k.person_id FROM person_blocking_keys k \
                 JOIN persons p ON p.id = k.person_id \
                 WHERE p.merged_into IS NULL AND k.key IN (",
            );
            let mut sep = qb.separated(", ");
            for k in chunk {
                sep.push_bind(*k);
            }
            qb.push(")");
            let rows: Vec<(i64, String)> = qb
                .build_query_as()
                .fetch_all(&self.pool)
                .await
                .map_err(from_sqlx)?;
            for (k, p) in rows {
                out.push((k, parse_uuid(&p)?));
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    async fn unindexed_persons(&self, limit: u32) -> Result<Vec<Person>> {
        let rows = sqlx::query(&format!(
            "SELECT {PERSON_COLUMNS} FROM persons \
             WHERE link_indexed = 0 AND merged_into IS NULL ORDER BY id LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        rows.iter().map(person_from_row).collect()
    }

    async fn save_linkage_model(&self, model: &serde_json::Value) -> Result<()> {
        sqlx::query("INSERT INTO linkage_models (created_at, model) VALUES ($1, $2)")
            .bind(micros(Utc::now()))
            .bind(model.to_string())
            .execute(&self.pool)
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    async fn latest_linkage_model(&self) -> Result<Option<(DateTime<Utc>, serde_json::Value)>> {
        let row: Option<(DateTime<Utc>, String)> =
            sqlx::query_as("SELECT created_at, model FROM linkage_models ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(from_sqlx)?;
        row.map(|(at, m)| Ok((at, parse_json(&m, "model")?)))
            .transpose()
    }

    async fn merge_persons(
        &self,
        kept: Uuid,
        merged: Uuid,
        by: &str,
        audit: &NewAuditEntry,
    ) -> Result<PersonMerge> {
        if kept == merged {
            return Err(merge_same_person(kept));
        }
        let mut tx = self.begin_audited().await?;
        for id in [kept, merged] {
            let row: Option<(Option<String>,)> =
                sqlx::query_as("SELECT merged_into FROM persons WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
            match row {
                None => return Err(merge_person_missing(id)),
                Some((Some(into),)) => {
                    return Err(merge_person_already_merged(id, parse_uuid(&into)?));
                }
                Some((None,)) => {}
            }
        }
        let moved: Vec<String> = sqlx::query_scalar(
            "UPDATE source_records SET person_id = $1 WHERE person_id = $2 RETURNING id",
        )
        .bind(kept.to_string())
        .bind(merged.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let mut moved_records = moved
            .iter()
            .map(|s| parse_uuid(s))
            .collect::<Result<Vec<_>>>()?;
        moved_records.sort_unstable();
        sqlx::query("UPDATE persons SET merged_into = $1 WHERE id = $2")
            .bind(kept.to_string())
            .bind(merged.to_string())
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query("DELETE FROM person_blocking_keys WHERE person_id = $1")
            .bind(merged.to_string())
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let merge = PersonMerge {
            id: Uuid::now_v7(),
            kept,
            merged,
            merged_by: by.to_string(),
            merged_at: micros(Utc::now()),
            undone_by: None,
            undone_at: None,
            moved_records,
        };
        sqlx::query(
            "INSERT INTO person_merges (id, kept, merged, merged_by, merged_at, moved_records) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(merge.id.to_string())
        .bind(kept.to_string())
        .bind(merged.to_string())
        .bind(by)
        .bind(merge.merged_at)
        .bind(serde_json::to_string(&merge.moved_records).map_err(|_| domain::Error::internal())?)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        sqlite_coverage::refresh(&mut tx, &[kept, merged]).await?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(merge)
    }

    async fn undo_merge(
        &self,
        merge_id: Uuid,
        by: &str,
        audit: &NewAuditEntry,
    ) -> Result<PersonMerge> {
        let mut tx = self.begin_audited().await?;
        let row = sqlx::query(&format!(
            "SELECT {MERGE_COLUMNS} FROM person_merges WHERE id = $1"
        ))
        .bind(merge_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let mut merge = match row {
            None => return Err(merge_not_found(merge_id)),
            Some(r) => merge_from_row(&r)?,
        };
        if merge.undone_at.is_some() {
            return Err(merge_already_undone(merge_id));
        }
        sqlx::query(
            "UPDATE source_records SET person_id = $1 WHERE person_id = $2 \
             AND id IN (SELECT value FROM json_each($3))",
        )
        .bind(merge.merged.to_string())
        .bind(merge.kept.to_string())
        .bind(serde_json::to_string(&merge.moved_records).map_err(|_| domain::Error::internal())?)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        sqlx::query("UPDATE persons SET merged_into = NULL, link_indexed = 0 WHERE id = $1")
            .bind(merge.merged.to_string())
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        merge.undone_by = Some(by.to_string());
        merge.undone_at = Some(micros(Utc::now()));
        sqlx::query("UPDATE person_merges SET undone_by = $2, undone_at = $3 WHERE id = $1")
            .bind(merge_id.to_string())
            .bind(by)
            .bind(merge.undone_at)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlite_coverage::refresh(&mut tx, &[merge.kept, merge.merged]).await?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(merge)
    }

    async fn person_merges(&self, person: Uuid) -> Result<Vec<PersonMerge>> {
        let rows = sqlx::query(&format!(
            "SELECT {MERGE_COLUMNS} FROM person_merges WHERE kept = $1 OR merged = $1 \
             ORDER BY merged_at DESC, id DESC"
        ))
        .bind(person.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        rows.iter().map(merge_from_row).collect()
    }

    async fn refresh_statistics(&self) -> Result<()> {
        Ok(())
    }

    async fn merged_into(&self, person: Uuid) -> Result<Option<Uuid>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT merged_into FROM persons WHERE id = $1")
                .bind(person.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(from_sqlx)?;
        row.and_then(|(m,)| m)
            .as_deref()
            .map(parse_uuid)
            .transpose()
    }

    async fn create_user(
        &self,
        u: &User,
        password_hash: &str,
        audit: &NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, role, unit_version, \
             unit_code, organisation, person_id, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(u.id.to_string())
        .bind(&u.username)
        .bind(&u.display_name)
        .bind(password_hash)
        .bind(u.role.as_str())
        .bind(u.scope.unit.as_ref().map(|x| x.version.as_str()))
        .bind(u.scope.unit.as_ref().map(|x| x.code.as_str()))
        .bind(&u.scope.organisation)
        .bind(u.scope.person_id.map(|p| p.to_string()))
        .bind(u.disabled)
        .bind(micros(u.created_at))
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn find_user_by_username(&self, username: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(from_sqlx)?;
        row.map(|r| {
            Ok((
                user_from_row(&r)?,
                r.try_get("password_hash").map_err(from_sqlx)?,
            ))
        })
        .transpose()
    }

    async fn get_user(&self, id: Uuid) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(from_sqlx)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_user_disabled(
        &self,
        id: Uuid,
        disabled: bool,
        audit: &NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let n = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?
            .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
        }
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(n == 1)
    }

    async fn set_password_hash(
        &self,
        id: Uuid,
        password_hash: &str,
        audit: &NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query("UPDATE api_tokens SET revoked = TRUE WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn create_session(&self, s: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, ip) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.token_hash)
        .bind(s.user_id.to_string())
        .bind(&s.csrf_token)
        .bind(micros(s.created_at))
        .bind(micros(s.expires_at))
        .bind(&s.ip)
        .execute(&self.pool)
        .await
        .map_err(from_sqlx)?;
        Ok(())
    }

    async fn find_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(SessionRecord, User)>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS_U}, s.token_hash, s.csrf_token, s.created_at AS s_created, \
             s.expires_at, s.ip FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0"
        ))
        .bind(token_hash)
        .bind(micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(from_sqlx)?;
        let Some(r) = row else { return Ok(None) };
        let user = user_from_row(&r)?;
        Ok(Some((
            SessionRecord {
                token_hash: r.try_get("token_hash").map_err(from_sqlx)?,
                user_id: user.id,
                csrf_token: r.try_get("csrf_token").map_err(from_sqlx)?,
                created_at: r.try_get("s_created").map_err(from_sqlx)?,
                expires_at: r.try_get("expires_at").map_err(from_sqlx)?,
                ip: r.try_get("ip").map_err(from_sqlx)?,
            },
            user,
        )))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    async fn create_api_token(&self, t: &ApiTokenRecord, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, id, user_id, name, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&t.token_hash)
        .bind(t.id.to_string())
        .bind(t.user_id.to_string())
        .bind(&t.name)
        .bind(micros(t.created_at))
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn find_api_token(&self, token_hash: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS_U} FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked = 0 AND u.disabled = 0"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(from_sqlx)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn throttle_reserve(
        &self,
        key: &str,
        now: DateTime<Utc>,
        free: u32,
    ) -> Result<domain::auth::throttle::Reservation> {
        use domain::auth::throttle::{Reservation, reserve};
        let now = micros(now);
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(from_sqlx)?;

        let row: Option<(i64, Option<DateTime<Utc>>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT failures, locked_until, last_at FROM login_throttle WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let state = row.map(|(f, l, t)| (f.clamp(0, i64::from(u32::MAX)) as u32, l, t));
        let decision = reserve(state, now, free);
        if let Reservation::Proceed {
            failures,
            locked_until,
        } = decision
        {
            sqlx::query(
                "INSERT INTO login_throttle (key, failures, locked_until, last_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET \
                 failures = excluded.failures, locked_until = excluded.locked_until, \
                 last_at = excluded.last_at",
            )
            .bind(key)
            .bind(i64::from(failures))
            .bind(locked_until.map(micros))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(decision)
    }

    async fn throttle_release(&self, key: &str, forget: bool) -> Result<()> {
        let sql = if forget {
            "DELETE FROM login_throttle WHERE key = $1"
        } else {
            "UPDATE login_throttle SET failures = CASE WHEN failures > 0 THEN failures - 1 \
             ELSE 0 END, locked_until = NULL WHERE key = $1"
        };
        sqlx::query(sql)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry> {
        let mut tx = self.begin_audited().await?;
        let stored = append_in_tx(&mut tx, entry).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(stored)
    }

    async fn list_audit(&self, f: &AuditFilter) -> Result<Page<AuditEntry>> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM audit_log");
        push_audit_where(&mut count, f);
        let mut list =
            QueryBuilder::<Sqlite>::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log"));
        push_audit_where(&mut list, f);
        push_audit_page(&mut list, f);
        self.fetch_page(count, list, audit_from_row).await
    }

    async fn audit_chain(&self) -> Result<(Vec<AuditEntry>, Option<(i64, String)>)> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(from_sqlx)?;
        Ok((
            rows.iter().map(audit_from_row).collect::<Result<_>>()?,
            head,
        ))
    }

    async fn upsert_vaccination_sites(&self, sites: &[VaccinationSite]) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        let mut n = 0;
        for chunk in sites.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO vaccination_sites (code, name, commune_code) ",
            );
            qb.push_values(chunk, |mut b, s| {
                b.push_bind(&s.code)
                    .push_bind(&s.name)
                    .push_bind(&s.commune_code);
            });
            qb.push(
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                 commune_code = excluded.commune_code",
            );
            n += qb
                .build()
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?
                .rows_affected();
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(n)
    }

    async fn vaccination_sites(&self) -> Result<Vec<VaccinationSite>> {
        let rows: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT code, name, commune_code FROM vaccination_sites ORDER BY code")
                .fetch_all(&self.pool)
                .await
                .map_err(from_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|(code, name, commune_code)| VaccinationSite {
                code,
                name,
                commune_code,
            })
            .collect())
    }

    async fn upsert_vaccine_lots(&self, lots: &[VaccineLot]) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        let mut n = 0;
        for chunk in lots.chunks(INSERT_CHUNK) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("INSERT INTO vaccine_lots (product, lot, expiry) ");
            qb.push_values(chunk, |mut b, l| {
                b.push_bind(&l.product)
                    .push_bind(&l.lot)
                    .push_bind(l.expiry);
            });
            qb.push(" ON CONFLICT (product, lot) DO UPDATE SET expiry = excluded.expiry");
            n += qb
                .build()
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?
                .rows_affected();
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(n)
    }

    async fn vaccine_lots(&self) -> Result<Vec<VaccineLot>> {
        let rows: Vec<(String, String, NaiveDate)> =
            sqlx::query_as("SELECT product, lot, expiry FROM vaccine_lots ORDER BY product, lot")
                .fetch_all(&self.pool)
                .await
                .map_err(from_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|(product, lot, expiry)| VaccineLot {
                product,
                lot,
                expiry,
            })
            .collect())
    }

    async fn add_signing_key(&self, key: &SigningKey, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "UPDATE cert_signing_keys SET retired_at = $1 WHERE role = $2 AND retired_at IS NULL",
        )
        .bind(key.created_at)
        .bind(key.role.as_str())
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        sqlx::query(
            "INSERT INTO cert_signing_keys (kid, role, certificate, private_key, issuer_kid, \
             not_before, not_after, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&key.kid)
        .bind(key.role.as_str())
        .bind(&key.certificate)
        .bind(&key.sealed_private_key)
        .bind(&key.issuer_kid)
        .bind(key.not_before)
        .bind(key.not_after)
        .bind(key.created_at)
        .bind(key.retired_at)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        if key.role == SigningRole::Dsc {
            sqlx::query(
                "INSERT INTO cert_trust_list (kid, country, certificate, source, added_at) \
                 VALUES ($1, 'VN', $2, 'own', $3) ON CONFLICT DO NOTHING",
            )
            .bind(&key.kid)
            .bind(&key.certificate)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        }
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        let rows = sqlx::query(
            "SELECT kid, role, certificate, private_key, issuer_kid, not_before, not_after, \
             created_at, retired_at FROM cert_signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role").map_err(from_sqlx)?;
                Ok(SigningKey {
                    kid: r.try_get("kid").map_err(from_sqlx)?,
                    role: SigningRole::parse(&role)?,
                    certificate: r.try_get("certificate").map_err(from_sqlx)?,
                    sealed_private_key: r.try_get("private_key").map_err(from_sqlx)?,
                    issuer_kid: r.try_get("issuer_kid").map_err(from_sqlx)?,
                    not_before: r.try_get("not_before").map_err(from_sqlx)?,
                    not_after: r.try_get("not_after").map_err(from_sqlx)?,
                    created_at: r.try_get("created_at").map_err(from_sqlx)?,
                    retired_at: r.try_get("retired_at").map_err(from_sqlx)?,
                })
            })
            .collect()
    }

    async fn trust_list(&self) -> Result<Vec<TrustedSigner>> {
        let rows: Vec<(String, String, Vec<u8>, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT kid, country, certificate, source, added_at FROM cert_trust_list \
             ORDER BY kid, added_at",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        Ok(rows
            .into_iter()
            .map(
                |(kid, country, certificate, source, added_at)| TrustedSigner {
                    kid,
                    country,
                    certificate,
                    source,
                    added_at,
                },
            )
            .collect())
    }

    async fn add_trusted_signers(&self, signers: &[TrustedSigner]) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        let mut added = 0;
        for s in signers {
            added += sqlx::query(
                "INSERT INTO cert_trust_list (kid, country, certificate, source, added_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(&s.kid)
            .bind(&s.country)
            .bind(&s.certificate)
            .bind(&s.source)
            .bind(s.added_at)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?
            .rows_affected();
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(added)
    }

    async fn save_certificate(
        &self,
        c: &VaccinationCertificate,
        audit: &NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        if c.status == CertificateStatus::Issued {
            sqlx::query(
                "UPDATE vaccination_certificates SET status = 'superseded' \
                 WHERE person_id = $1 AND status = 'issued' AND id <> $2",
            )
            .bind(c.person_id.to_string())
            .bind(c.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        }
        sqlx::query(
            "INSERT INTO vaccination_certificates (province_code, id, uvci, person_id, status, \
             payload, hc1, kid, issued_at, expires_at, requested_by, approved_by, approved_at, \
             signed_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, payload = excluded.payload, \
             hc1 = excluded.hc1, kid = excluded.kid, issued_at = excluded.issued_at, \
             expires_at = excluded.expires_at, approved_by = excluded.approved_by, \
             approved_at = excluded.approved_at, signed_by = excluded.signed_by",
        )
        .bind(&c.province_code)
        .bind(c.id.to_string())
        .bind(&c.uvci)
        .bind(c.person_id.to_string())
        .bind(c.status.as_str())
        .bind(c.payload.to_string())
        .bind(&c.hc1)
        .bind(&c.kid)
        .bind(c.issued_at)
        .bind(c.expires_at)
        .bind(&c.requested_by)
        .bind(&c.approved_by)
        .bind(c.approved_at)
        .bind(&c.signed_by)
        .bind(c.created_at)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn certificate(&self, id: Uuid) -> Result<Option<VaccinationCertificate>> {
        let row = sqlx::query(&format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM vaccination_certificates WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(from_sqlx)?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    async fn certificates_of_person(&self, person: Uuid) -> Result<Vec<VaccinationCertificate>> {
        sqlx::query(&format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM vaccination_certificates WHERE person_id = $1 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(person.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(certificate_from_row)
        .collect()
    }

    async fn certificates_in_status(
        &self,
        status: CertificateStatus,
        limit: u32,
    ) -> Result<Vec<VaccinationCertificate>> {
        sqlx::query(&format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM vaccination_certificates WHERE status = $1 \
             ORDER BY created_at, id LIMIT $2"
        ))
        .bind(status.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(certificate_from_row)
        .collect()
    }

    async fn revoke_certificate(&self, r: &Revocation, audit: &NewAuditEntry) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let added = sqlx::query(
            "INSERT INTO cert_revocations (uvci, reason, revoked_by, revoked_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (uvci) DO NOTHING",
        )
        .bind(&r.uvci)
        .bind(&r.reason)
        .bind(&r.revoked_by)
        .bind(r.revoked_at)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?
        .rows_affected();
        if added > 0 {
            append_in_tx(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(added > 0)
    }

    async fn revocations(&self) -> Result<Vec<Revocation>> {
        let rows: Vec<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT uvci, reason, revoked_by, revoked_at FROM cert_revocations ORDER BY uvci",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|(uvci, reason, revoked_by, revoked_at)| Revocation {
                uvci,
                reason,
                revoked_by,
                revoked_at,
            })
            .collect())
    }

    async fn coverage_counters(&self, unit: &CoverageUnit) -> Result<Vec<(Level, String, i64)>> {
        let mut conn = self.pool.acquire().await.map_err(from_sqlx)?;
        sqlite_coverage::counters(&mut conn, unit).await
    }

    async fn coverage_born_on(
        &self,
        unit: &CoverageUnit,
        born: &[(NaiveDate, NaiveDate)],
        as_of: NaiveDate,
    ) -> Result<Vec<crate::coverage::BornOn>> {
        let mut conn = self.pool.acquire().await.map_err(from_sqlx)?;
        sqlite_coverage::born_on(&mut conn, unit, born, as_of).await
    }

    async fn coverage_reached_after(
        &self,
        unit: &CoverageUnit,
        as_of: NaiveDate,
    ) -> Result<Vec<crate::coverage::ReachedAfter>> {
        let mut conn = self.pool.acquire().await.map_err(from_sqlx)?;
        sqlite_coverage::reached_after(&mut conn, unit, as_of).await
    }

    async fn person_coverage(&self, person: Uuid) -> Result<Option<PersonCoverage>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM person_coverage WHERE person_id = $1",
            sqlite_coverage::ROW_COLUMNS
        ))
        .bind(person.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(from_sqlx)?;
        row.as_ref().map(sqlite_coverage::row_from).transpose()
    }

    async fn person_coverages(&self, persons: &[Uuid]) -> Result<Vec<PersonCoverage>> {
        let mut out = Vec::with_capacity(persons.len());
        for chunk in distinct(persons).chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {} FROM person_coverage WHERE 1=1",
                sqlite_coverage::ROW_COLUMNS
            ));
            let chunk: Vec<String> = chunk.iter().map(Uuid::to_string).collect();
            push_in(&mut qb, "person_id", &chunk);
            for r in &qb.build().fetch_all(&self.pool).await.map_err(from_sqlx)? {
                out.push(sqlite_coverage::row_from(r)?);
            }
        }
        Ok(out)
    }

    async fn rebuild_coverage(&self, write: bool) -> Result<RebuildReport> {
        let mut tx = self.begin_audited().await?;
        let (stored, counters, fresh) = sqlite_coverage::rebuild_inputs(&mut tx).await?;
        let mut report = crate::coverage::compare(&stored, &fresh, &counters);
        if write && !report.consistent() {
            sqlite_coverage::rewrite(&mut tx, &fresh).await?;
            report.rewritten = true;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(report)
    }

    async fn follow_up_rows(
        &self,
        q: &FollowUpQuery,
    ) -> Result<(Page<PersonCoverage>, FollowUpCounts)> {
        let mut conn = self.pool.acquire().await.map_err(from_sqlx)?;
        sqlite_coverage::follow_up_rows(&mut conn, q).await
    }

    async fn follow_up_notes(&self, persons: &[Uuid]) -> Result<Vec<FollowUpNote>> {
        let mut conn = self.pool.acquire().await.map_err(from_sqlx)?;
        sqlite_coverage::follow_up_notes(&mut conn, persons).await
    }

    async fn set_follow_up_note(&self, note: &FollowUpNote, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlite_coverage::set_follow_up_note(&mut tx, note).await?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

fn user_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<User> {
    let person: Option<String> = r.try_get("person_id").map_err(from_sqlx)?;
    user_from_columns(
        parse_uuid(&r.try_get::<String, _>("id").map_err(from_sqlx)?)?,
        r.try_get("username").map_err(from_sqlx)?,
        r.try_get("display_name").map_err(from_sqlx)?,
        r.try_get::<&str, _>("role").map_err(from_sqlx)?,
        r.try_get("unit_version").map_err(from_sqlx)?,
        r.try_get("unit_code").map_err(from_sqlx)?,
        r.try_get("organisation").map_err(from_sqlx)?,
        person.as_deref().map(parse_uuid).transpose()?,
        r.try_get("disabled").map_err(from_sqlx)?,
        r.try_get("created_at").map_err(from_sqlx)?,
    )
}

fn audit_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<AuditEntry> {
    let actor_id: Option<String> = r.try_get("actor_id").map_err(from_sqlx)?;
    audit_from_columns(
        r.try_get("seq").map_err(from_sqlx)?,
        r.try_get("at").map_err(from_sqlx)?,
        actor_id.as_deref().map(parse_uuid).transpose()?,
        r,
    )
}

/// Reads the columns both backends store with the same types.
pub(crate) fn audit_from_columns<'r, R>(
    seq: i64,
    at: DateTime<Utc>,
    actor_id: Option<Uuid>,
    r: &'r R,
) -> Result<AuditEntry>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let details: String = r.try_get("details").map_err(from_sqlx)?;
    Ok(AuditEntry {
        seq,
        entry: NewAuditEntry {
            at,
            actor_id,
            actor: r.try_get("actor").map_err(from_sqlx)?,
            action: r.try_get("action").map_err(from_sqlx)?,
            entity_type: r.try_get("entity_type").map_err(from_sqlx)?,
            entity_id: r.try_get("entity_id").map_err(from_sqlx)?,
            unit_code: r.try_get("unit_code").map_err(from_sqlx)?,
            ip: r.try_get("ip").map_err(from_sqlx)?,
            details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
        },
        prev_hash: r.try_get("prev_hash").map_err(from_sqlx)?,
        hash: r.try_get("hash").map_err(from_sqlx)?,
    })
}

/// The next entry of the chain after `head`, with its hash computed.
pub(crate) fn chained_entry(head: Option<(i64, String)>, entry: &NewAuditEntry) -> AuditEntry {
    let (last_seq, prev_hash) = head.unwrap_or((0, domain::audit::GENESIS_HASH.to_string()));
    let seq = last_seq + 1;
    let mut entry = entry.clone();
    entry.at = micros(entry.at);
    // Round-trip details through text so the hash covers exactly what is stored.
    entry.details = serde_json::from_str(&entry.details.to_string()).unwrap_or_default();
    let hash = domain::audit::entry_hash(seq, &prev_hash, &entry);
    AuditEntry {
        seq,
        entry,
        prev_hash,
        hash,
    }
}

/// Maps `(commune, sex, band lower bound, population)` back to a [`Denominator`].
pub(crate) fn denominator_from_columns(
    (commune_code, sex, band, population): (String, String, i64, i64),
) -> Result<Denominator> {
    Ok(Denominator {
        commune_code,
        sex: Sex::parse(&sex)?,
        age_band: u8::try_from(band)
            .ok()
            .and_then(AgeBand::from_lower)
            .ok_or_else(domain::Error::internal)?,
        count: population.max(0) as u64,
    })
}

const CERTIFICATE_COLUMNS: &str = "province_code, id, uvci, person_id, status, payload, hc1, kid, \
     issued_at, expires_at, requested_by, approved_by, approved_at, signed_by, created_at";

fn certificate_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<VaccinationCertificate> {
    let id: String = r.try_get("id").map_err(from_sqlx)?;
    let person: String = r.try_get("person_id").map_err(from_sqlx)?;
    let status: String = r.try_get("status").map_err(from_sqlx)?;
    let payload: String = r.try_get("payload").map_err(from_sqlx)?;
    Ok(VaccinationCertificate {
        id: parse_uuid(&id)?,
        uvci: r.try_get("uvci").map_err(from_sqlx)?,
        person_id: parse_uuid(&person)?,
        province_code: r.try_get("province_code").map_err(from_sqlx)?,
        status: CertificateStatus::parse(&status)?,
        payload: serde_json::from_str(&payload).map_err(|_| domain::Error::internal())?,
        hc1: r.try_get("hc1").map_err(from_sqlx)?,
        kid: r.try_get("kid").map_err(from_sqlx)?,
        issued_at: r.try_get("issued_at").map_err(from_sqlx)?,
        expires_at: r.try_get("expires_at").map_err(from_sqlx)?,
        requested_by: r.try_get("requested_by").map_err(from_sqlx)?,
        approved_by: r.try_get("approved_by").map_err(from_sqlx)?,
        approved_at: r.try_get("approved_at").map_err(from_sqlx)?,
        signed_by: r.try_get("signed_by").map_err(from_sqlx)?,
        created_at: r.try_get("created_at").map_err(from_sqlx)?,
    })
}

/// The body of [`Store::insert_decided_records`] inside the caller's transaction (begun with
/// `begin_audited`): checks the decisions, inserts the records not stored yet with their
/// decisions, candidates and scope commune, and refreshes the coverage of the persons they link.
/// Returns the ids actually inserted.
pub(crate) async fn insert_decided_in_tx(
    conn: &mut sqlx::SqliteConnection,
    records: &[NewSourceRecord],
    decisions: &[LinkDecision],
) -> Result<HashSet<Uuid>> {
    let plan = DecidedInsertPlan::new(records, decisions)?;
    if records.is_empty() {
        return Ok(HashSet::new());
    }
    let now = micros(Utc::now());
    let mut merged_into = HashMap::new();
    let mut communes = HashMap::new();
    for chunk in plan.persons().chunks(INSERT_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT id, merged_into, commune_code FROM persons WHERE 1=1",
        );
        let chunk: Vec<String> = chunk.iter().map(Uuid::to_string).collect();
        push_in(&mut qb, "id", &chunk);
        let rows: Vec<(String, Option<String>, String)> = qb
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(from_sqlx)?;
        for (id, into, commune) in rows {
            let id = parse_uuid(&id)?;
            merged_into.insert(id, into.as_deref().map(parse_uuid).transpose()?);
            communes.insert(id, commune);
        }
    }
    plan.check_persons(&merged_into)?;
    let mut inserted = HashSet::new();
    // 19 values a row: 1,000 rows stay under SQLite's 32,766 variables.
    for chunk in records.chunks(INSERT_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO source_records (id, kind, source, external_id, full_name, dob, sex, \
             national_id, commune_code, phone, payload, batch_id, created_at, status, \
             person_id, probability, decided_by, decided_at, scope_commune) ",
        );
        qb.push_values(chunk, |mut b, r| {
            let d = plan.decisions.get(&r.id);
            let scope = plan
                .scope_person
                .get(&r.id)
                .and_then(|p| communes.get(p))
                .cloned();
            b.push_bind(r.id.to_string())
                .push_bind(r.kind.as_str())
                .push_bind(&r.source)
                .push_bind(&r.external_id)
                .push_bind(&r.full_name)
                .push_bind(&r.dob)
                .push_bind(&r.sex)
                .push_bind(&r.national_id)
                .push_bind(&r.commune_code)
                .push_bind(&r.phone)
                .push_bind(r.payload.to_string())
                .push_bind(r.batch_id.to_string())
                .push_bind(now)
                .push_bind(d.map_or(LinkStatus::Unlinked, |d| d.status).as_str())
                .push_bind(d.and_then(|d| d.person_id).map(|p| p.to_string()))
                .push_bind(d.and_then(|d| d.probability))
                .push_bind(d.map(|d| d.decided_by.clone()))
                .push_bind(d.map(|_| now))
                .push_bind(scope);
        });
        qb.push(" ON CONFLICT (kind, source, external_id) DO NOTHING RETURNING id");
        let ids: Vec<String> = qb
            .build_query_scalar()
            .fetch_all(&mut *conn)
            .await
            .map_err(from_sqlx)?;
        for id in ids {
            inserted.insert(parse_uuid(&id)?);
        }
    }
    let kept: Vec<&LinkDecision> = plan
        .decisions
        .values()
        .copied()
        .filter(|d| inserted.contains(&d.record_id))
        .collect();
    let candidates: Vec<&LinkCandidate> = kept
        .iter()
        .flat_map(|d| d.candidates.iter().flatten())
        .collect();
    for chunk in candidates.chunks(INSERT_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO link_candidates (record_id, person_id, probability, explanation) ",
        );
        qb.push_values(chunk, |mut b, c| {
            b.push_bind(c.record_id.to_string())
                .push_bind(c.person_id.to_string())
                .push_bind(c.probability)
                .push_bind(c.explanation.to_string());
        });
        qb.build().execute(&mut *conn).await.map_err(from_sqlx)?;
    }
    // Coverage is made of dose records only: test and other records link without touching it.
    let dose_records: HashSet<Uuid> = records
        .iter()
        .filter(|r| r.kind == RecordKind::Dose)
        .map(|r| r.id)
        .collect();
    let coverage_persons: Vec<Uuid> = kept
        .iter()
        .filter(|d| dose_records.contains(&d.record_id))
        .filter_map(|d| d.person_id)
        .collect();
    if !coverage_persons.is_empty() {
        sqlite_coverage::refresh(conn, &coverage_persons).await?;
    }
    Ok(inserted)
}

/// Appends an audit entry inside a transaction begun by `begin_audited` (which serialises
/// appenders), so that a change and its audit entry commit together or not at all.
pub(crate) async fn append_in_tx(
    conn: &mut sqlx::SqliteConnection,
    entry: &NewAuditEntry,
) -> Result<AuditEntry> {
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(from_sqlx)?;
    let stored = chained_entry(head, entry);
    let e = &stored.entry;
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_id, actor, action, entity_type, entity_id, \
             unit_code, ip, details, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(stored.seq)
    .bind(e.at)
    .bind(e.actor_id.map(|u| u.to_string()))
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.entity_type)
    .bind(&e.entity_id)
    .bind(&e.unit_code)
    .bind(&e.ip)
    .bind(e.details.to_string())
    .bind(&stored.prev_hash)
    .bind(&stored.hash)
    .execute(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    sqlx::query(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )
    .bind(stored.seq)
    .bind(&stored.hash)
    .execute(&mut *conn)
    .await
    .map_err(from_sqlx)?;
    Ok(stored)
}
