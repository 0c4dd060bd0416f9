//! SQLite backend: the embedded default database (one file, WAL journal).

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

use crate::error::{from_sqlx, one_line};
use crate::model::{
    ApiTokenRecord, AuditFilter, Page, PersonQuery, SessionRecord, micros, person_from_columns,
    user_from_columns,
};
use crate::sql::{
    AUDIT_COLUMNS, PERSON_COLUMNS, USER_COLUMNS, USER_COLUMNS_U, push_audit_page, push_audit_where,
    push_person_page, push_person_where,
};
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
    async fn begin_audited(&self) -> Result<sqlx::Transaction<'_, Sqlite>> {
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
        })
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
        tx.commit().await.map_err(from_sqlx)?;
        Ok(n)
    }

    async fn count_persons(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM persons")
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
            sqlx::query_as("SELECT commune_code, sex, dob FROM persons")
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
                 THEN national_id_inconsistent ELSE $13 END WHERE id = $1"
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
                .bind(id)
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
        }
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok((inserted, updated))
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

/// Appends an audit entry inside a transaction begun by `begin_audited` (which serialises
/// appenders), so that a change and its audit entry commit together or not at all.
async fn append_in_tx(
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
