//! [`LevelStore`] on SQLite (migration `0010_levels`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::units::UnitVersion;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use crate::Result;
use crate::error::from_sqlx;
use crate::levels::{
    APPROVE_RUN, CAPACITY_SELECT, CapacityInput, CommuneCaseCounts, DELETE_PROPOSED_RUNS,
    DELETE_PROPOSED_UNITS, LevelRun, LevelStore, RUN_COLUMNS, RunStatus, SUPERSEDE_APPROVED,
    UNIT_COLUMNS, UPSERT_CAPACITY, UnitAssessment, capacity_from_row, commune_counts_sql, corrupt,
    run_from_row, run_not_found, run_not_proposed, unit_from_row,
};
use crate::model::micros;
use crate::sql::push_in;
use crate::sqlite::{SqliteStore, append_in_tx};

fn uuid_of(s: &str, column: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| corrupt(column, s))
}

fn run_from(r: &SqliteRow) -> Result<LevelRun> {
    run_from_row(
        r,
        uuid_of(
            &r.try_get::<String, _>("id").map_err(from_sqlx)?,
            "level_runs.id",
        )?,
    )
}

fn unit_from(r: &SqliteRow) -> Result<UnitAssessment> {
    unit_from_row(
        r,
        uuid_of(
            &r.try_get::<String, _>("run_id").map_err(from_sqlx)?,
            "level_assessments.run_id",
        )?,
        r.try_get::<i64, _>("level").map_err(from_sqlx)?,
    )
}

async fn run_in(conn: &mut sqlx::SqliteConnection, id: Uuid) -> Result<Option<LevelRun>> {
    sqlx::query(&format!(
        "SELECT {RUN_COLUMNS} FROM level_runs WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(from_sqlx)?
    .as_ref()
    .map(run_from)
    .transpose()
}

#[async_trait]
impl LevelStore for SqliteStore {
    async fn commune_case_counts(
        &self,
        province_code: &str,
        hierarchy: UnitVersion,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CommuneCaseCounts>> {
        let sql = commune_counts_sql(hierarchy, "on_oxygen = 1");
        let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(&sql)
            .bind(province_code)
            .bind(from)
            .bind(to)
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?;
        Ok(rows
            .into_iter()
            .filter(|r| !r.0.is_empty())
            .map(
                |(commune_code, new_cases, community_cases, deaths, on_oxygen_now)| {
                    CommuneCaseCounts {
                        commune_code,
                        new_cases,
                        community_cases,
                        deaths,
                        on_oxygen_now,
                    }
                },
            )
            .collect())
    }

    async fn save_level_run(
        &self,
        run: &LevelRun,
        units: &[UnitAssessment],
        audit: &NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(DELETE_PROPOSED_UNITS)
            .bind(&run.province_code)
            .bind(run.hierarchy.as_str())
            .bind(run.week_start)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query(DELETE_PROPOSED_RUNS)
            .bind(&run.province_code)
            .bind(run.hierarchy.as_str())
            .bind(run.week_start)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query(&format!(
            "INSERT INTO level_runs ({RUN_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(run.id.to_string())
        .bind(&run.province_code)
        .bind(run.hierarchy.as_str())
        .bind(run.week_start)
        .bind(run.week_end)
        .bind(&run.ruleset)
        .bind(micros(run.computed_at))
        .bind(&run.computed_by)
        .bind(micros(run.effective_at))
        .bind(run.status.as_str())
        .bind(&run.approved_by)
        .bind(run.approved_at.map(micros))
        .bind(run.units)
        .bind(run.crisis_units)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        for chunk in units.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "INSERT INTO level_assessments ({UNIT_COLUMNS}) "
            ));
            qb.push_values(chunk, |mut b, u| {
                b.push_bind(run.id.to_string())
                    .push_bind(&u.unit_code)
                    .push_bind(&u.unit_kind)
                    .push_bind(&u.parent_code)
                    .push_bind(&u.unit_name)
                    .push_bind(i64::from(u.level))
                    .push_bind(u.crisis)
                    .push_bind(u.unverified)
                    .push_bind(u.indicators.to_string())
                    .push_bind(u.assessment.to_string());
            });
            qb.build().execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)
    }

    async fn level_runs(&self, province_code: Option<&str>, limit: i64) -> Result<Vec<LevelRun>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {RUN_COLUMNS} FROM level_runs"));
        if let Some(p) = province_code {
            qb.push(" WHERE province_code = ").push_bind(p.to_string());
        }
        qb.push(" ORDER BY computed_at DESC LIMIT ")
            .push_bind(limit);
        qb.build()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?
            .iter()
            .map(run_from)
            .collect()
    }

    async fn level_run(&self, id: Uuid) -> Result<Option<LevelRun>> {
        let mut conn = self.pool().acquire().await.map_err(from_sqlx)?;
        run_in(&mut conn, id).await
    }

    async fn level_units(&self, run_id: Uuid) -> Result<Vec<UnitAssessment>> {
        sqlx::query(&format!(
            "SELECT {UNIT_COLUMNS} FROM level_assessments WHERE run_id = $1 ORDER BY unit_code"
        ))
        .bind(run_id.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(unit_from)
        .collect()
    }

    async fn approve_level_run(
        &self,
        id: Uuid,
        by: &str,
        at: DateTime<Utc>,
        effective_at: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> Result<LevelRun> {
        let mut tx = self.begin_audited().await?;
        let Some(run) = run_in(&mut tx, id).await? else {
            return Err(run_not_found(id));
        };
        if run.status != RunStatus::Proposed {
            return Err(run_not_proposed(&run));
        }
        sqlx::query(SUPERSEDE_APPROVED)
            .bind(&run.province_code)
            .bind(run.hierarchy.as_str())
            .bind(run.week_start)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        sqlx::query(APPROVE_RUN)
            .bind(id.to_string())
            .bind(by)
            .bind(micros(at))
            .bind(micros(effective_at))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let run = run_in(&mut tx, id)
            .await?
            .ok_or_else(|| run_not_found(id))?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(run)
    }

    async fn set_capacity_input(&self, input: &CapacityInput, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(UPSERT_CAPACITY)
            .bind(&input.unit_code)
            .bind(input.week_start)
            .bind(input.free_covid_beds)
            .bind(input.icu_beds_staffed)
            .bind(input.oxygen_cases_7d_avg)
            .bind(&input.entered_by)
            .bind(micros(input.entered_at))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)
    }

    async fn capacity_inputs(
        &self,
        week_start: NaiveDate,
        units: &[String],
    ) -> Result<Vec<CapacityInput>> {
        let mut out = Vec::new();
        for chunk in units.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(CAPACITY_SELECT);
            qb.push_bind(week_start);
            push_in(&mut qb, "unit_code", chunk);
            for r in &qb.build().fetch_all(self.pool()).await.map_err(from_sqlx)? {
                out.push(capacity_from_row(r)?);
            }
        }
        Ok(out)
    }
}
