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

use crate::error::{from_sqlx, one_line};
use crate::model::{Page, PersonQuery, person_from_columns};
use crate::sql::{PERSON_COLUMNS, push_person_page, push_person_where};
use crate::sqlite::denominator_from_columns;
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
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM persons");
        push_person_where(&mut count, q);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(from_sqlx)?;
        let mut list =
            QueryBuilder::<Postgres>::new(format!("SELECT {PERSON_COLUMNS} FROM persons"));
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
        .bind(id)
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

    async fn close(&self) {
        self.pool.close().await;
    }
}
