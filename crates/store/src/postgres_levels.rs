//! [`LevelStore`] on PostgreSQL (migration `0010_levels`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::units::UnitVersion;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::Result;
use crate::error::from_sqlx;
use crate::levels::{
    APPROVE_RUN, CapacityInput, CommuneCaseCounts, DELETE_PROPOSED_RUNS, DELETE_PROPOSED_UNITS,
    LevelRun, LevelStore, RUN_COLUMNS, RunStatus, SUPERSEDE_APPROVED, UNIT_COLUMNS,
    UPSERT_CAPACITY, UnitAssessment, commune_counts_sql, corrupt, run_not_found, run_not_proposed,
};
use crate::model::micros;
use crate::postgres::{PgStore, append_in_tx};
use crate::sql::push_in;

const UNIT_SELECT: &str = "run_id, unit_code, unit_kind, parent_code, unit_name, level, crisis, \
     unverified, indicators::text AS indicators, assessment::text AS assessment";

fn run_from(r: &PgRow) -> Result<LevelRun> {
    let hierarchy: String = r.try_get("hierarchy").map_err(from_sqlx)?;
    let status: String = r.try_get("status").map_err(from_sqlx)?;
    Ok(LevelRun {
        id: r.try_get("id").map_err(from_sqlx)?,
        province_code: r.try_get("province_code").map_err(from_sqlx)?,
        hierarchy: UnitVersion::parse(&hierarchy)
            .map_err(|_| corrupt("level_runs.hierarchy", &hierarchy))?,
        week_start: r.try_get("week_start").map_err(from_sqlx)?,
        week_end: r.try_get("week_end").map_err(from_sqlx)?,
        ruleset: r.try_get("ruleset").map_err(from_sqlx)?,
        computed_at: r.try_get("computed_at").map_err(from_sqlx)?,
        computed_by: r.try_get("computed_by").map_err(from_sqlx)?,
        effective_at: r.try_get("effective_at").map_err(from_sqlx)?,
        status: RunStatus::parse(&status)?,
        approved_by: r.try_get("approved_by").map_err(from_sqlx)?,
        approved_at: r.try_get("approved_at").map_err(from_sqlx)?,
        units: r.try_get("units").map_err(from_sqlx)?,
        crisis_units: r.try_get("crisis_units").map_err(from_sqlx)?,
    })
}

fn unit_from(r: &PgRow) -> Result<UnitAssessment> {
    let level: i32 = r.try_get("level").map_err(from_sqlx)?;
    let json = |c: &str| -> Result<serde_json::Value> {
        let raw: String = r.try_get(c).map_err(from_sqlx)?;
        serde_json::from_str(&raw).map_err(|_| corrupt(c, &raw))
    };
    Ok(UnitAssessment {
        run_id: r.try_get("run_id").map_err(from_sqlx)?,
        unit_code: r.try_get("unit_code").map_err(from_sqlx)?,
        unit_kind: r.try_get("unit_kind").map_err(from_sqlx)?,
        parent_code: r.try_get("parent_code").map_err(from_sqlx)?,
        unit_name: r.try_get("unit_name").map_err(from_sqlx)?,
        level: u8::try_from(level).map_err(|_| corrupt("level", &level.to_string()))?,
        crisis: r.try_get("crisis").map_err(from_sqlx)?,
        unverified: r.try_get("unverified").map_err(from_sqlx)?,
        indicators: json("indicators")?,
        assessment: json("assessment")?,
    })
}

fn capacity_from(r: &PgRow) -> Result<CapacityInput> {
    Ok(CapacityInput {
        unit_code: r.try_get("unit_code").map_err(from_sqlx)?,
        week_start: r.try_get("week_start").map_err(from_sqlx)?,
        free_covid_beds: r.try_get("free_covid_beds").map_err(from_sqlx)?,
        icu_beds_staffed: r.try_get("icu_beds_staffed").map_err(from_sqlx)?,
        oxygen_cases_7d_avg: r.try_get("oxygen_cases_7d_avg").map_err(from_sqlx)?,
        entered_by: r.try_get("entered_by").map_err(from_sqlx)?,
        entered_at: r.try_get("entered_at").map_err(from_sqlx)?,
    })
}

async fn run_in(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<Option<LevelRun>> {
    sqlx::query(&format!(
        "SELECT {RUN_COLUMNS} FROM level_runs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(from_sqlx)?
    .as_ref()
    .map(run_from)
    .transpose()
}

#[async_trait]
impl LevelStore for PgStore {
    async fn commune_case_counts(
        &self,
        province_code: &str,
        hierarchy: UnitVersion,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CommuneCaseCounts>> {
        let sql = commune_counts_sql(hierarchy, "on_oxygen");
        let rows: Vec<(String, Option<i64>, Option<i64>, Option<i64>, Option<i64>)> =
            sqlx::query_as(&sql)
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
                        new_cases: new_cases.unwrap_or(0),
                        community_cases: community_cases.unwrap_or(0),
                        deaths: deaths.unwrap_or(0),
                        on_oxygen_now: on_oxygen_now.unwrap_or(0),
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
        .bind(run.id)
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
        for chunk in units.chunks(1000) {
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "INSERT INTO level_assessments ({UNIT_COLUMNS}) "
            ));
            qb.push_values(chunk, |mut b, u| {
                b.push_bind(run.id)
                    .push_bind(&u.unit_code)
                    .push_bind(&u.unit_kind)
                    .push_bind(&u.parent_code)
                    .push_bind(&u.unit_name)
                    .push_bind(i64::from(u.level))
                    .push_bind(u.crisis)
                    .push_bind(u.unverified)
                    .push_bind(u.indicators.to_string())
                    .push_unseparated("::jsonb")
                    .push_bind(u.assessment.to_string())
                    .push_unseparated("::jsonb");
            });
            qb.build().execute(&mut *tx).await.map_err(from_sqlx)?;
        }
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)
    }

    async fn level_runs(&self, province_code: Option<&str>, limit: i64) -> Result<Vec<LevelRun>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {RUN_COLUMNS} FROM level_runs"));
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
            "SELECT {UNIT_SELECT} FROM level_assessments WHERE run_id = $1 ORDER BY unit_code"
        ))
        .bind(run_id)
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
            .bind(id)
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
            let mut qb = QueryBuilder::<Postgres>::new(
                "SELECT unit_code, week_start, free_covid_beds, icu_beds_staffed, \
                 oxygen_cases_7d_avg, entered_by, entered_at FROM capacity_inputs WHERE week_start = ",
            );
            qb.push_bind(week_start);
            push_in(&mut qb, "unit_code", chunk);
            for r in &qb.build().fetch_all(self.pool()).await.map_err(from_sqlx)? {
                out.push(capacity_from(r)?);
            }
        }
        Ok(out)
    }
}
