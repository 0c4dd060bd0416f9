//! PostgreSQL backend: production deployments (several stateless app servers, one database).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use domain::person::{Household, Person, Sex};
use domain::population::Denominator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Postgres, QueryBuilder, Row};
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
    merge_person_missing, merge_same_person, parse_json, record_not_found, record_province,
};
use crate::model::{
    ApiTokenRecord, AuditFilter, Page, PersonQuery, SessionRecord, micros, person_from_columns,
    user_from_columns,
};
use crate::postgres_coverage;
use crate::sql::{
    AUDIT_COLUMNS, PERSON_COLUMNS, USER_COLUMNS, USER_COLUMNS_U, distinct, push_audit_page,
    push_audit_where, push_in, push_person_page, push_person_where, push_source_record_page,
    push_source_record_where, source_record_from_row, status_counts,
};
use crate::sqlite::{audit_from_columns, chained_entry, denominator_from_columns};
use crate::{Backend, DatabaseUrl, Result, Store};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to a `postgres://` URL, failing within 5 seconds when the server is unreachable.
    pub async fn connect(url: &str) -> Result<Self> {
        let shown = DatabaseUrl::Postgres(url.to_string()).redacted();
        let fail = |e: &dyn std::fmt::Display| {
            domain::Error::new(
                domain::ErrorCode::StorageUnavailable,
                format!("Không kết nối được PostgreSQL «{shown}»: {}", one_line(e)),
                format!("Cannot connect to PostgreSQL «{shown}»: {}", one_line(e)),
            )
        };
        let opts = PgConnectOptions::from_str(url).map_err(|e| fail(&e))?;
        // One direct attempt first: its error ("connection refused", "password authentication
        // failed", …) is clearer than the pool's generic timeout.
        match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(&opts)).await
        {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(e)) => return Err(fail(&e)),
            Err(_) => return Err(fail(&"no answer within 5 s")),
        }
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(|e| fail(&e))?;
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs a `COUNT(*)` query and a page query built from the same filter.
    async fn fetch_page<T>(
        &self,
        mut count: QueryBuilder<'_, Postgres>,
        mut list: QueryBuilder<'_, Postgres>,
        map: fn(&PgRow) -> Result<T>,
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
    pub(crate) async fn begin_audited(&self) -> Result<sqlx::Transaction<'_, Postgres>> {
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        // One appender at a time across all app servers.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK_KEY)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        Ok(tx)
    }
}

/// Inserts link candidates (at most [`INSERT_CHUNK`]) in the caller's transaction.
async fn insert_candidates(conn: &mut sqlx::PgConnection, chunk: &[&LinkCandidate]) -> Result<()> {
    sqlx::query(
        "INSERT INTO link_candidates (record_id, person_id, probability, explanation) \
         SELECT r, p, pr, e::jsonb FROM UNNEST($1::uuid[], $2::uuid[], $3::float8[], \
         $4::text[]) AS t(r, p, pr, e)",
    )
    .bind(chunk.iter().map(|c| c.record_id).collect::<Vec<_>>())
    .bind(chunk.iter().map(|c| c.person_id).collect::<Vec<_>>())
    .bind(chunk.iter().map(|c| c.probability).collect::<Vec<_>>())
    .bind(
        chunk
            .iter()
            .map(|c| c.explanation.to_string())
            .collect::<Vec<_>>(),
    )
    .execute(conn)
    .await
    .map_err(from_sqlx)?;
    Ok(())
}

const CERTIFICATE_COLUMNS: &str = "province_code, id, uvci, person_id, status, payload::text AS payload, \
     hc1, kid, issued_at, expires_at, requested_by, approved_by, approved_at, signed_by, created_at";

fn certificate_from_row(r: &PgRow) -> Result<VaccinationCertificate> {
    let status: String = r.try_get("status").map_err(from_sqlx)?;
    let payload: String = r.try_get("payload").map_err(from_sqlx)?;
    Ok(VaccinationCertificate {
        id: r.try_get("id").map_err(from_sqlx)?,
        uvci: r.try_get("uvci").map_err(from_sqlx)?,
        person_id: r.try_get("person_id").map_err(from_sqlx)?,
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

fn person_from_row(r: &PgRow) -> Result<Person> {
    person_from_columns(
        r.try_get("id").map_err(from_sqlx)?,
        r.try_get("province_code").map_err(from_sqlx)?,
        r.try_get("commune_code").map_err(from_sqlx)?,
        r.try_get("old_commune_code").map_err(from_sqlx)?,
        r.try_get("household_id").map_err(from_sqlx)?,
        r.try_get("full_name").map_err(from_sqlx)?,
        r.try_get("dob").map_err(from_sqlx)?,
        r.try_get::<&str, _>("sex").map_err(from_sqlx)?,
        r.try_get("national_id").map_err(from_sqlx)?,
        r.try_get("phone").map_err(from_sqlx)?,
    )
}

/// Rows per `INSERT … SELECT FROM UNNEST(…)` statement.
const INSERT_CHUNK: usize = 5000;

/// Source record columns, in the form [`source_record_row`] reads.
const SOURCE_RECORD_COLUMNS: &str = "id, kind, source, external_id, full_name, dob, sex, \
     national_id, commune_code, phone, payload::text AS payload, batch_id, status, person_id, \
     probability, decided_by, decided_at, created_at, scope_commune";

/// Person merge columns, in the form [`merge_from_row`] reads.
const MERGE_COLUMNS: &str =
    "id, kept, merged, merged_by, merged_at, undone_by, undone_at, moved_records";

/// Ids per `= ANY($1)` array.
const ANY_CHUNK: usize = 10_000;

/// Blocking key pairs per `UNNEST` insert.
const KEY_CHUNK: usize = 50_000;

fn source_record_row(r: &PgRow) -> Result<SourceRecord> {
    source_record_from_row(
        r,
        r.try_get("id").map_err(from_sqlx)?,
        r.try_get("batch_id").map_err(from_sqlx)?,
        r.try_get("person_id").map_err(from_sqlx)?,
    )
}

fn merge_from_row(r: &PgRow) -> Result<PersonMerge> {
    Ok(PersonMerge {
        id: r.try_get("id").map_err(from_sqlx)?,
        kept: r.try_get("kept").map_err(from_sqlx)?,
        merged: r.try_get("merged").map_err(from_sqlx)?,
        merged_by: r.try_get("merged_by").map_err(from_sqlx)?,
        merged_at: r.try_get("merged_at").map_err(from_sqlx)?,
        undone_by: r.try_get("undone_by").map_err(from_sqlx)?,
        undone_at: r.try_get("undone_at").map_err(from_sqlx)?,
        moved_records: r.try_get("moved_records").map_err(from_sqlx)?,
    })
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
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
            n += sqlx::query(
                "INSERT INTO households (province_code, id, commune_code, old_commune_code, address) \
                 SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[])",
            )
            .bind(chunk.iter().map(|h| h.province_code.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|h| h.id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|h| h.commune_code.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|h| h.old_commune_code.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|h| h.address.clone()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?
            .rows_affected();
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(n)
    }

    async fn insert_persons(&self, persons: &[Person]) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        let mut n = 0;
        for chunk in persons.chunks(INSERT_CHUNK) {
            let col = |f: fn(&Person) -> Option<String>| chunk.iter().map(f).collect::<Vec<_>>();
            n += sqlx::query(
                "INSERT INTO persons (province_code, id, commune_code, old_commune_code, \
                 household_id, full_name, name_folded, dob, sex, national_id, phone) \
                 SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], \
                 $6::text[], $7::text[], $8::date[], $9::text[], $10::text[], $11::text[])",
            )
            .bind(col(|p| Some(p.province_code.clone())))
            .bind(chunk.iter().map(|p| p.id).collect::<Vec<_>>())
            .bind(col(|p| Some(p.commune_code.clone())))
            .bind(col(|p| p.old_commune_code.clone()))
            .bind(chunk.iter().map(|p| p.household_id).collect::<Vec<_>>())
            .bind(col(|p| Some(p.full_name.clone())))
            .bind(col(|p| Some(domain::name::fold(&p.full_name))))
            .bind(chunk.iter().map(|p| p.dob).collect::<Vec<_>>())
            .bind(col(|p| Some(p.sex.as_str().to_string())))
            .bind(col(|p| {
                p.national_id.as_ref().map(|n| n.as_str().to_string())
            }))
            .bind(col(|p| p.phone.as_ref().map(|n| n.as_str().to_string())))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?
            .rows_affected();
        }
        let ids: Vec<Uuid> = persons.iter().map(|p| p.id).collect();
        postgres_coverage::refresh(&mut tx, &ids).await?;
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
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM persons");
        push_person_where(&mut count, q);
        let mut list =
            QueryBuilder::<Postgres>::new(format!("SELECT {PERSON_COLUMNS} FROM persons"));
        push_person_where(&mut list, q);
        push_person_page(&mut list, q);
        self.fetch_page(count, list, person_from_row).await
    }

    async fn get_person(&self, id: Uuid) -> Result<Option<Person>> {
        let row = sqlx::query(&format!(
            "SELECT {PERSON_COLUMNS} FROM persons WHERE id = $1"
        ))
        .bind(id)
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
            let provinces: Vec<String> = chunk
                .iter()
                .map(|d| {
                    units
                        .v2025
                        .province_of(&d.commune_code)
                        .map(|u| u.code.clone())
                        .unwrap_or_default()
                })
                .collect();
            sqlx::query(
                "INSERT INTO population_denominators \
                 (province_code, commune_code, sex, age_band, population, as_of) \
                 SELECT p, c, s, b, n, $6 FROM UNNEST($1::text[], $2::text[], $3::text[], \
                 $4::smallint[], $5::bigint[]) AS t(p, c, s, b, n)",
            )
            .bind(provinces)
            .bind(
                chunk
                    .iter()
                    .map(|d| d.commune_code.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(chunk.iter().map(|d| d.sex.as_str()).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|d| i16::from(d.age_band.lower()))
                    .collect::<Vec<_>>(),
            )
            .bind(chunk.iter().map(|d| d.count as i64).collect::<Vec<_>>())
            .bind(as_of)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn denominators(&self, communes: Option<&[String]>) -> Result<Vec<Denominator>> {
        let rows: Vec<(String, String, i16, i64)> =
            match communes {
                Some([]) => return Ok(Vec::new()),
                Some(c) => sqlx::query_as(
                    "SELECT commune_code, sex, age_band, population FROM population_denominators \
                 WHERE commune_code = ANY($1) ORDER BY commune_code, sex, age_band",
                )
                .bind(c)
                .fetch_all(&self.pool)
                .await,
                None => sqlx::query_as(
                    "SELECT commune_code, sex, age_band, population FROM population_denominators \
                 ORDER BY commune_code, sex, age_band",
                )
                .fetch_all(&self.pool)
                .await,
            }
            .map_err(from_sqlx)?;
        rows.into_iter()
            .map(|(c, s, b, n)| denominator_from_columns((c, s, i64::from(b), n)))
            .collect()
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
                .bind(h)
                .bind(&e.province_code)
                .bind(&e.commune_code)
                .bind(&e.old_commune_code)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            }
            let existing: Option<Uuid> = match (&e.national_id, &e.external_id) {
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
                 THEN national_id_inconsistent ELSE $13 END, link_indexed = false WHERE id = $1"
            } else {
                "INSERT INTO persons (id, province_code, commune_code, old_commune_code, \
                 household_id, full_name, name_folded, dob, sex, national_id, phone, \
                 external_id, national_id_inconsistent) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            };
            let id = existing.unwrap_or_else(Uuid::now_v7);
            sqlx::query(sql)
                .bind(id)
                .bind(&e.province_code)
                .bind(&e.commune_code)
                .bind(&e.old_commune_code)
                .bind(household)
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
            touched.push(id);
        }
        postgres_coverage::refresh(&mut tx, &touched).await?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok((inserted, updated))
    }

    async fn persons_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Person>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in distinct(ids).chunks(ANY_CHUNK) {
            let rows = sqlx::query(&format!(
                "SELECT {PERSON_COLUMNS} FROM persons WHERE id = ANY($1)"
            ))
            .bind(chunk)
            .fetch_all(&self.pool)
            .await
            .map_err(from_sqlx)?;
            for r in &rows {
                out.push(person_from_row(r)?);
            }
        }
        Ok(out)
    }

    async fn persons_by_national_ids(&self, ids: &[String]) -> Result<Vec<Person>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ANY_CHUNK) {
            let rows = sqlx::query(&format!(
                "SELECT {PERSON_COLUMNS} FROM persons \
                 WHERE merged_into IS NULL AND national_id = ANY($1)"
            ))
            .bind(chunk)
            .fetch_all(&self.pool)
            .await
            .map_err(from_sqlx)?;
            for r in &rows {
                out.push(person_from_row(r)?);
            }
        }
        Ok(out)
    }

    async fn household_addresses(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in distinct(ids).chunks(ANY_CHUNK) {
            let rows: Vec<(Uuid, String)> =
                sqlx::query_as("SELECT id, address FROM households WHERE id = ANY($1)")
                    .bind(chunk)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(from_sqlx)?;
            out.extend(rows);
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
        let mut tx = match audit {
            Some(_) => self.begin_audited().await?,
            None => self.pool.begin().await.map_err(from_sqlx)?,
        };
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
        let mut tx = match audit {
            Some(_) => self.begin_audited().await?,
            None => self.pool.begin().await.map_err(from_sqlx)?,
        };
        // The persons named must exist and not be merged; KEY SHARE locks keep a concurrent merge
        // (which locks them FOR UPDATE) from slipping in before this commits.
        let persons = distinct(
            &decisions
                .iter()
                .filter_map(|d| d.person_id)
                .collect::<Vec<_>>(),
        );
        let mut found = std::collections::HashMap::with_capacity(persons.len());
        for chunk in persons.chunks(ANY_CHUNK) {
            let rows: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
                "SELECT id, merged_into FROM persons WHERE id = ANY($1) FOR KEY SHARE",
            )
            .bind(chunk)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            found.extend(rows);
        }
        check_linkable(&persons, &found)?;
        // Persons whose doses change: the records' current persons and their new ones.
        let mut coverage_persons: Vec<Uuid> = persons.clone();
        let record_ids: Vec<Uuid> = decisions.iter().map(|d| d.record_id).collect();
        for chunk in record_ids.chunks(ANY_CHUNK) {
            let before: Vec<Uuid> = sqlx::query_scalar(
                "SELECT person_id FROM source_records WHERE kind = 'dose' \
                 AND person_id IS NOT NULL AND id = ANY($1)",
            )
            .bind(chunk)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            coverage_persons.extend(before);
        }
        for chunk in decisions.chunks(INSERT_CHUNK) {
            let updated: Vec<Uuid> = sqlx::query_scalar(
                "UPDATE source_records s SET status = t.status, person_id = t.person_id, \
                 probability = t.probability, decided_by = t.decided_by, decided_at = $6 \
                 FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::float8[], $5::text[]) \
                 AS t(id, status, person_id, probability, decided_by) \
                 WHERE s.id = t.id RETURNING s.id",
            )
            .bind(chunk.iter().map(|d| d.record_id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|d| d.status.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|d| d.person_id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|d| d.probability).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|d| d.decided_by.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            if updated.len() < chunk.len() {
                let updated: std::collections::HashSet<Uuid> = updated.into_iter().collect();
                if let Some(missing) = chunk.iter().find(|d| !updated.contains(&d.record_id)) {
                    return Err(record_not_found(missing.record_id));
                }
            }
        }
        let replaced: Vec<&LinkDecision> = decisions
            .iter()
            .copied()
            .filter(|d| d.candidates.is_some())
            .collect();
        for chunk in replaced.chunks(ANY_CHUNK) {
            sqlx::query("DELETE FROM link_candidates WHERE record_id = ANY($1)")
                .bind(chunk.iter().map(|d| d.record_id).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
        }
        let candidates: Vec<&LinkCandidate> = replaced
            .iter()
            .flat_map(|d| d.candidates.iter().flatten())
            .collect();
        for chunk in candidates.chunks(INSERT_CHUNK) {
            insert_candidates(&mut tx, chunk).await?;
        }
        // Records typed without a commune take the commune of their person or best candidate.
        let ids: Vec<Uuid> = decisions.iter().map(|d| d.record_id).collect();
        for chunk in ids.chunks(ANY_CHUNK) {
            let mut qb = QueryBuilder::new(crate::sql::SCOPE_COMMUNE_UPDATE);
            qb.push(" AND id = ANY(")
                .push_bind(chunk.to_vec())
                .push(")");
            qb.build().execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        postgres_coverage::refresh(&mut tx, &coverage_persons).await?;
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
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(from_sqlx)?;
        let Some(row) = row else { return Ok(None) };
        let record = source_record_row(&row)?;
        let rows: Vec<(Uuid, Uuid, f64, String)> = sqlx::query_as(
            "SELECT record_id, person_id, probability, explanation::text FROM link_candidates \
             WHERE record_id = $1 ORDER BY probability DESC, person_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        let candidates = rows
            .into_iter()
            .map(|(record_id, person_id, probability, e)| {
                Ok(LinkCandidate {
                    record_id,
                    person_id,
                    probability,
                    explanation: parse_json(&e, "explanation")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Some((record, candidates)))
    }

    async fn list_source_records(&self, q: &SourceRecordQuery) -> Result<Page<SourceRecord>> {
        let uuid = |u: Uuid| u;
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM source_records");
        push_source_record_where(&mut count, q, uuid);
        let mut list = QueryBuilder::<Postgres>::new(format!(
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
            QueryBuilder::<Postgres>::new("SELECT status, COUNT(*) FROM source_records WHERE 1=1");
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
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        let persons: Vec<Uuid> = distinct(&keys.iter().map(|(p, _)| *p).collect::<Vec<_>>());
        for chunk in persons.chunks(ANY_CHUNK) {
            sqlx::query("DELETE FROM person_blocking_keys WHERE person_id = ANY($1)")
                .bind(chunk)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            sqlx::query("UPDATE persons SET link_indexed = true WHERE id = ANY($1)")
                .bind(chunk)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
        }
        let (ks, ps): (Vec<i64>, Vec<Uuid>) = keys
            .iter()
            .flat_map(|(p, ks)| ks.iter().map(move |k| (*k, *p)))
            .unzip();
        for (k, p) in ks.chunks(KEY_CHUNK).zip(ps.chunks(KEY_CHUNK)) {
            sqlx::query(
                "INSERT INTO person_blocking_keys (key, person_id) \
                 SELECT * FROM UNNEST($1::bigint[], $2::uuid[]) ON CONFLICT DO NOTHING",
            )
            .bind(k)
            .bind(p)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn persons_with_keys(&self, keys: &[i64]) -> Result<Vec<(i64, Uuid)>> {
        let mut out = Vec::new();
        for chunk in distinct(keys).chunks(ANY_CHUNK) {
            let rows: Vec<(i64, Uuid)> = sqlx::query_as(
                "SELECT k.key, k.person_id FROM person_blocking_keys k \
                 JOIN persons p ON p.id = k.person_id \
                 WHERE p.merged_into IS NULL AND k.key = ANY($1)",
            )
            .bind(chunk)
            .fetch_all(&self.pool)
            .await
            .map_err(from_sqlx)?;
            out.extend(rows);
        }
        out.sort_unstable();
        Ok(out)
    }

    async fn unindexed_persons(&self, limit: u32) -> Result<Vec<Person>> {
        let rows = sqlx::query(&format!(
            "SELECT {PERSON_COLUMNS} FROM persons \
             WHERE NOT link_indexed AND merged_into IS NULL ORDER BY id LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        rows.iter().map(person_from_row).collect()
    }

    async fn save_linkage_model(&self, model: &serde_json::Value) -> Result<()> {
        sqlx::query("INSERT INTO linkage_models (created_at, model) VALUES ($1, $2::jsonb)")
            .bind(micros(Utc::now()))
            .bind(model.to_string())
            .execute(&self.pool)
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    async fn latest_linkage_model(&self) -> Result<Option<(DateTime<Utc>, serde_json::Value)>> {
        let row: Option<(DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT created_at, model::text FROM linkage_models ORDER BY id DESC LIMIT 1",
        )
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
        let rows: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
            "SELECT id, merged_into FROM persons WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .bind([kept, merged])
        .fetch_all(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        for id in [kept, merged] {
            match rows.iter().find(|(p, _)| *p == id) {
                None => return Err(merge_person_missing(id)),
                Some((_, Some(into))) => return Err(merge_person_already_merged(id, *into)),
                Some((_, None)) => {}
            }
        }
        let mut moved_records: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE source_records SET person_id = $1 WHERE person_id = $2 RETURNING id",
        )
        .bind(kept)
        .bind(merged)
        .fetch_all(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        moved_records.sort_unstable();
        sqlx::query("UPDATE persons SET merged_into = $1 WHERE id = $2")
            .bind(kept)
            .bind(merged)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query("DELETE FROM person_blocking_keys WHERE person_id = $1")
            .bind(merged)
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
        .bind(merge.id)
        .bind(kept)
        .bind(merged)
        .bind(by)
        .bind(merge.merged_at)
        .bind(&merge.moved_records)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        postgres_coverage::refresh(&mut tx, &[kept, merged]).await?;
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
            "SELECT {MERGE_COLUMNS} FROM person_merges WHERE id = $1 FOR UPDATE"
        ))
        .bind(merge_id)
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
        sqlx::query("SELECT id FROM persons WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind([merge.kept, merge.merged])
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query(
            "UPDATE source_records SET person_id = $1 WHERE person_id = $2 AND id = ANY($3)",
        )
        .bind(merge.merged)
        .bind(merge.kept)
        .bind(&merge.moved_records)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        sqlx::query("UPDATE persons SET merged_into = NULL, link_indexed = false WHERE id = $1")
            .bind(merge.merged)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        merge.undone_by = Some(by.to_string());
        merge.undone_at = Some(micros(Utc::now()));
        sqlx::query("UPDATE person_merges SET undone_by = $2, undone_at = $3 WHERE id = $1")
            .bind(merge_id)
            .bind(by)
            .bind(merge.undone_at)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        postgres_coverage::refresh(&mut tx, &[merge.kept, merge.merged]).await?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(merge)
    }

    async fn person_merges(&self, person: Uuid) -> Result<Vec<PersonMerge>> {
        let rows = sqlx::query(&format!(
            "SELECT {MERGE_COLUMNS} FROM person_merges WHERE kept = $1 OR merged = $1 \
             ORDER BY merged_at DESC, id DESC"
        ))
        .bind(person)
        .fetch_all(&self.pool)
        .await
        .map_err(from_sqlx)?;
        rows.iter().map(merge_from_row).collect()
    }

    async fn refresh_statistics(&self) -> Result<()> {
        // VACUUM of the coverage tables also marks their pages all-visible, so the coverage
        // report's tallies are answered from the covering indexes (migration 0011).
        for statement in [
            "ANALYZE persons, households, source_records, link_candidates",
            "VACUUM (ANALYZE) person_coverage, coverage_counts",
        ] {
            sqlx::query(statement)
                .execute(&self.pool)
                .await
                .map_err(from_sqlx)?;
        }
        Ok(())
    }

    async fn merged_into(&self, person: Uuid) -> Result<Option<Uuid>> {
        let row: Option<(Option<Uuid>,)> =
            sqlx::query_as("SELECT merged_into FROM persons WHERE id = $1")
                .bind(person)
                .fetch_optional(&self.pool)
                .await
                .map_err(from_sqlx)?;
        Ok(row.and_then(|(m,)| m))
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
        .bind(u.id)
        .bind(&u.username)
        .bind(&u.display_name)
        .bind(password_hash)
        .bind(u.role.as_str())
        .bind(u.scope.unit.as_ref().map(|x| x.version.as_str()))
        .bind(u.scope.unit.as_ref().map(|x| x.code.as_str()))
        .bind(&u.scope.organisation)
        .bind(u.scope.person_id)
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
            .bind(id)
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
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?
            .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
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
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query("UPDATE api_tokens SET revoked = TRUE WHERE user_id = $1")
            .bind(id)
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
        .bind(s.user_id)
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
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled"
        ))
        .bind(token_hash)
        .bind(now)
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
            .bind(user_id)
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
        .bind(t.id)
        .bind(t.user_id)
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
             WHERE t.token_hash = $1 AND NOT t.revoked AND NOT u.disabled"
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
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        // Lock the key's row (creating it if needed) so concurrent attempts queue up.
        sqlx::query(
            "INSERT INTO login_throttle (key, failures, locked_until, last_at) \
             VALUES ($1, 0, NULL, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        sqlx::query("SELECT 1 FROM login_throttle WHERE key = $1 FOR UPDATE")
            .bind(key)
            .execute(&mut *tx)
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
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM audit_log");
        push_audit_where(&mut count, f);
        let mut list =
            QueryBuilder::<Postgres>::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log"));
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
            n += sqlx::query(
                "INSERT INTO vaccination_sites (code, name, commune_code) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                 commune_code = excluded.commune_code",
            )
            .bind(chunk.iter().map(|s| s.code.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|s| s.name.clone()).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|s| s.commune_code.clone())
                    .collect::<Vec<_>>(),
            )
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
            n += sqlx::query(
                "INSERT INTO vaccine_lots (product, lot, expiry) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::date[]) \
                 ON CONFLICT (product, lot) DO UPDATE SET expiry = excluded.expiry",
            )
            .bind(chunk.iter().map(|l| l.product.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|l| l.lot.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|l| l.expiry).collect::<Vec<_>>())
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
            .bind(c.person_id)
            .bind(c.id)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        }
        sqlx::query(
            "INSERT INTO vaccination_certificates (province_code, id, uvci, person_id, status, \
             payload, hc1, kid, issued_at, expires_at, requested_by, approved_by, approved_at, \
             signed_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, payload = excluded.payload, \
             hc1 = excluded.hc1, kid = excluded.kid, issued_at = excluded.issued_at, \
             expires_at = excluded.expires_at, approved_by = excluded.approved_by, \
             approved_at = excluded.approved_at, signed_by = excluded.signed_by",
        )
        .bind(&c.province_code)
        .bind(c.id)
        .bind(&c.uvci)
        .bind(c.person_id)
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
        .bind(id)
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
        .bind(person)
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
        postgres_coverage::counters(&mut conn, unit).await
    }

    async fn coverage_born_on(
        &self,
        unit: &CoverageUnit,
        born: &[(NaiveDate, NaiveDate)],
        as_of: NaiveDate,
    ) -> Result<Vec<crate::coverage::BornOn>> {
        let mut conn = self.pool.acquire().await.map_err(from_sqlx)?;
        postgres_coverage::born_on(&mut conn, unit, born, as_of).await
    }

    async fn coverage_reached_after(
        &self,
        unit: &CoverageUnit,
        as_of: NaiveDate,
    ) -> Result<Vec<crate::coverage::ReachedAfter>> {
        let mut conn = self.pool.acquire().await.map_err(from_sqlx)?;
        postgres_coverage::reached_after(&mut conn, unit, as_of).await
    }

    async fn person_coverage(&self, person: Uuid) -> Result<Option<PersonCoverage>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM person_coverage WHERE person_id = $1",
            postgres_coverage::ROW_COLUMNS
        ))
        .bind(person)
        .fetch_optional(&self.pool)
        .await
        .map_err(from_sqlx)?;
        row.as_ref().map(postgres_coverage::row_from).transpose()
    }

    async fn person_coverages(&self, persons: &[Uuid]) -> Result<Vec<PersonCoverage>> {
        let mut out = Vec::with_capacity(persons.len());
        for chunk in distinct(persons).chunks(ANY_CHUNK) {
            let rows = sqlx::query(&format!(
                "SELECT {} FROM person_coverage WHERE person_id = ANY($1)",
                postgres_coverage::ROW_COLUMNS
            ))
            .bind(chunk)
            .fetch_all(&self.pool)
            .await
            .map_err(from_sqlx)?;
            for r in &rows {
                out.push(postgres_coverage::row_from(r)?);
            }
        }
        Ok(out)
    }

    async fn rebuild_coverage(&self, write: bool) -> Result<RebuildReport> {
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        let (stored, counters, fresh) = postgres_coverage::rebuild_inputs(&mut tx).await?;
        let mut report = crate::coverage::compare(&stored, &fresh, &counters);
        if write && !report.consistent() {
            postgres_coverage::rewrite(&mut tx, &fresh).await?;
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
        postgres_coverage::follow_up_rows(&mut conn, q).await
    }

    async fn follow_up_notes(&self, persons: &[Uuid]) -> Result<Vec<FollowUpNote>> {
        let mut conn = self.pool.acquire().await.map_err(from_sqlx)?;
        postgres_coverage::follow_up_notes(&mut conn, persons).await
    }

    async fn set_follow_up_note(&self, note: &FollowUpNote, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        postgres_coverage::set_follow_up_note(&mut tx, note).await?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Advisory-lock key serialising audit appends ("pd-audit").
const AUDIT_LOCK_KEY: i64 = 0x7064_2d61_7564_6974;

fn user_from_row(r: &PgRow) -> Result<User> {
    user_from_columns(
        r.try_get("id").map_err(from_sqlx)?,
        r.try_get("username").map_err(from_sqlx)?,
        r.try_get("display_name").map_err(from_sqlx)?,
        r.try_get::<&str, _>("role").map_err(from_sqlx)?,
        r.try_get("unit_version").map_err(from_sqlx)?,
        r.try_get("unit_code").map_err(from_sqlx)?,
        r.try_get("organisation").map_err(from_sqlx)?,
        r.try_get("person_id").map_err(from_sqlx)?,
        r.try_get("disabled").map_err(from_sqlx)?,
        r.try_get("created_at").map_err(from_sqlx)?,
    )
}

fn audit_from_row(r: &PgRow) -> Result<AuditEntry> {
    audit_from_columns(
        r.try_get("seq").map_err(from_sqlx)?,
        r.try_get("at").map_err(from_sqlx)?,
        r.try_get("actor_id").map_err(from_sqlx)?,
        r,
    )
}

/// The body of [`Store::insert_decided_records`] inside the caller's transaction: checks the
/// decisions, inserts the records not stored yet with their decisions, candidates and scope
/// commune, and refreshes the coverage of the persons they link. Returns the ids inserted.
pub(crate) async fn insert_decided_in_tx(
    conn: &mut sqlx::PgConnection,
    records: &[NewSourceRecord],
    decisions: &[LinkDecision],
) -> Result<std::collections::HashSet<Uuid>> {
    let plan = DecidedInsertPlan::new(records, decisions)?;
    if records.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let now = micros(Utc::now());
    // KEY SHARE locks keep a concurrent merge of a linked person out until this commits.
    let mut merged_into = std::collections::HashMap::new();
    let mut communes = std::collections::HashMap::new();
    for chunk in plan.persons().chunks(ANY_CHUNK) {
        let rows: Vec<(Uuid, Option<Uuid>, String)> = sqlx::query_as(
            "SELECT id, merged_into, commune_code FROM persons WHERE id = ANY($1) \
             FOR KEY SHARE",
        )
        .bind(chunk)
        .fetch_all(&mut *conn)
        .await
        .map_err(from_sqlx)?;
        for (id, into, commune) in rows {
            merged_into.insert(id, into);
            communes.insert(id, commune);
        }
    }
    plan.check_persons(&merged_into)?;
    let mut inserted = std::collections::HashSet::new();
    for chunk in records.chunks(INSERT_CHUNK) {
        let text = |f: fn(&NewSourceRecord) -> String| chunk.iter().map(f).collect::<Vec<_>>();
        let decision = |r: &NewSourceRecord| plan.decisions.get(&r.id).copied();
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "INSERT INTO source_records (province_code, id, kind, source, external_id, \
             full_name, dob, sex, national_id, commune_code, phone, payload, batch_id, \
             created_at, status, person_id, probability, decided_by, decided_at, \
             scope_commune) \
             SELECT pr, i, k, s, e, f, d, x, n, c, ph, pl::jsonb, b, $14, st, p, pb, db, \
             CASE WHEN db IS NULL THEN NULL ELSE $14 END, sc FROM UNNEST(\
             $1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
             $13::uuid[], $15::text[], $16::uuid[], $17::float8[], $18::text[], \
             $19::text[]) AS t(pr, i, k, s, e, f, d, x, n, c, ph, pl, b, st, p, pb, db, sc) \
             ON CONFLICT (kind, source, external_id) DO NOTHING RETURNING id",
        )
        .bind(text(|r| record_province(&r.commune_code)))
        .bind(chunk.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(text(|r| r.kind.as_str().to_string()))
        .bind(text(|r| r.source.clone()))
        .bind(text(|r| r.external_id.clone()))
        .bind(text(|r| r.full_name.clone()))
        .bind(text(|r| r.dob.clone()))
        .bind(text(|r| r.sex.clone()))
        .bind(text(|r| r.national_id.clone()))
        .bind(text(|r| r.commune_code.clone()))
        .bind(text(|r| r.phone.clone()))
        .bind(text(|r| r.payload.to_string()))
        .bind(chunk.iter().map(|r| r.batch_id).collect::<Vec<_>>())
        .bind(now)
        .bind(
            chunk
                .iter()
                .map(|r| {
                    decision(r)
                        .map_or(LinkStatus::Unlinked, |d| d.status)
                        .as_str()
                })
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|r| decision(r).and_then(|d| d.person_id))
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|r| decision(r).and_then(|d| d.probability))
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|r| decision(r).map(|d| d.decided_by.clone()))
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter()
                .map(|r| {
                    plan.scope_person
                        .get(&r.id)
                        .and_then(|p| communes.get(p))
                        .cloned()
                })
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(from_sqlx)?;
        inserted.extend(ids);
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
        insert_candidates(conn, chunk).await?;
    }
    // Coverage is made of dose records only: test and other records link without touching it.
    let dose_records: std::collections::HashSet<Uuid> = records
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
        postgres_coverage::refresh(conn, &coverage_persons).await?;
    }
    Ok(inserted)
}

/// Appends an audit entry inside a transaction begun by `begin_audited` (which serialises
/// appenders), so that a change and its audit entry commit together or not at all.
pub(crate) async fn append_in_tx(
    conn: &mut sqlx::PgConnection,
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
    .bind(e.actor_id)
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
