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

use crate::error::{from_sqlx, one_line};
use crate::model::{Page, PersonQuery, person_from_columns};
use crate::sql::{PERSON_COLUMNS, push_person_page, push_person_where};
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
        let n = sqlx::query("INSERT INTO persons SELECT * FROM persons_staging")
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
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(from_sqlx)?;
        let mut list = QueryBuilder::<Sqlite>::new(format!("SELECT {PERSON_COLUMNS} FROM persons"));
        push_person_where(&mut list, q);
        push_person_page(&mut list, q);
        let rows = list
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(from_sqlx)?;
        Ok(Page {
            items: rows.iter().map(person_from_row).collect::<Result<_>>()?,
            total: total as u64,
        })
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

    async fn close(&self) {
        self.pool.close().await;
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
