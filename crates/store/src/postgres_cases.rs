//! The postgres implementation of [`crate::CaseStore`] (the backend-independent pieces live in
//! [`crate::sqlite_cases`]).

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::cases::{
    AlertCandidate, Case, CaseQuery, CaseStore, CheckIn, DailyCaseSeries, DailyFigures,
    DailyReport, LabTest, TestBatch, TestBatchOutcome,
};
use crate::error::from_sqlx;
use crate::model::{Page, PersonScope, micros};
use crate::postgres::{PgStore, append_in_tx, insert_decided_in_tx};
use crate::sqlite_cases::{
    ALERT_CANDIDATE_SELECT, ALERT_CONDITION, CaseIds, CounterRow, DAY_COUNTERS_QUERY, Deltas,
    LAB_TEST_COLUMNS, OPEN_STATE_QUERY, RECOMPUTE_COUNTERS_QUERY, alert_candidate_from_row,
    applicable_changes, case_columns, case_from_row, case_insert_columns, case_not_found,
    case_update_set, check_checkin, check_report, check_series_range, checkin_from_row,
    count_differences, counter_row, fold_case_series, fold_open_state, lab_test_from_row,
    push_case_page, push_case_scope, push_case_series_query, push_case_where, report_from_row,
    sum_counters,
};

/// Rows per `UNNEST` statement.
const CHUNK: usize = 5000;

fn pg_case(r: &PgRow) -> crate::Result<Case> {
    case_from_row(
        r,
        CaseIds {
            id: r.try_get("id").map_err(from_sqlx)?,
            person_id: r.try_get("person_id").map_err(from_sqlx)?,
            source_record_id: r.try_get("source_record_id").map_err(from_sqlx)?,
            cluster_id: r.try_get("cluster_id").map_err(from_sqlx)?,
        },
    )
}

fn pg_lab_test(r: &PgRow) -> crate::Result<LabTest> {
    lab_test_from_row(
        r,
        (
            r.try_get("id").map_err(from_sqlx)?,
            r.try_get("person_id").map_err(from_sqlx)?,
            r.try_get("case_id").map_err(from_sqlx)?,
            r.try_get("sample_id").map_err(from_sqlx)?,
        ),
    )
}

fn case_select() -> String {
    format!(
        "SELECT {} FROM cases",
        case_columns(|c| format!("{c}::text AS {c}"))
    )
}

/// Adds counter increments (already aggregated per row, sorted: a stable lock order).
async fn apply_deltas(conn: &mut PgConnection, deltas: Deltas) -> crate::Result<()> {
    let rows = deltas.into_sorted();
    for chunk in rows.chunks(CHUNK) {
        let text = |f: fn(&crate::sqlite_cases::CounterKey) -> &String| {
            chunk.iter().map(|(k, _)| f(k).clone()).collect::<Vec<_>>()
        };
        let count = |f: fn(&crate::sqlite_cases::Counts) -> i64| {
            chunk.iter().map(|(_, c)| f(c)).collect::<Vec<_>>()
        };
        sqlx::query(
            "INSERT INTO surveillance_daily AS s (province_code, commune_code, old_commune_code, \
             day, tests, positive_tests, new_cases, deaths, recoveries) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::date[], $5::int8[], \
             $6::int8[], $7::int8[], $8::int8[], $9::int8[]) \
             ON CONFLICT (province_code, commune_code, old_commune_code, day) DO UPDATE SET \
             tests = s.tests + excluded.tests, \
             positive_tests = s.positive_tests + excluded.positive_tests, \
             new_cases = s.new_cases + excluded.new_cases, deaths = s.deaths + excluded.deaths, \
             recoveries = s.recoveries + excluded.recoveries",
        )
        .bind(text(|k| &k.province))
        .bind(text(|k| &k.commune))
        .bind(text(|k| &k.old_commune))
        .bind(chunk.iter().map(|(k, _)| k.day).collect::<Vec<_>>())
        .bind(count(|c| c.tests))
        .bind(count(|c| c.positive_tests))
        .bind(count(|c| c.new_cases))
        .bind(count(|c| c.deaths))
        .bind(count(|c| c.recoveries))
        .execute(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    }
    Ok(())
}

/// PostgreSQL types of the case columns, in insert order (JSON is sent as text and cast).
const CASE_TYPES: [&str; 39] = [
    "uuid",
    "text",
    "text",
    "text",
    "text",
    "text",
    "uuid",
    "uuid",
    "text",
    "date",
    "text",
    "text",
    "text",
    "text",
    "date",
    "date",
    "date",
    "text",
    "jsonb",
    "bool",
    "text",
    "text",
    "bool",
    "text",
    "date",
    "date",
    "date",
    "text",
    "timestamptz",
    "timestamptz",
    "bool",
    "timestamptz",
    "text",
    "jsonb",
    "text",
    "uuid",
    "text",
    "timestamptz",
    "timestamptz",
];

/// Inserts new cases (skipping ids or source records already stored); returns the ids inserted.
async fn insert_cases(conn: &mut PgConnection, chunk: &[&Case]) -> crate::Result<Vec<Uuid>> {
    let text = |f: fn(&Case) -> String| chunk.iter().map(|c| f(c)).collect::<Vec<_>>();
    let opt_text = |f: fn(&Case) -> Option<String>| chunk.iter().map(|c| f(c)).collect::<Vec<_>>();
    let date = |f: fn(&Case) -> NaiveDate| chunk.iter().map(|c| f(c)).collect::<Vec<_>>();
    let opt_date =
        |f: fn(&Case) -> Option<NaiveDate>| chunk.iter().map(|c| f(c)).collect::<Vec<_>>();
    let flag = |f: fn(&Case) -> bool| chunk.iter().map(|c| f(c)).collect::<Vec<_>>();
    let time =
        |f: fn(&Case) -> DateTime<Utc>| chunk.iter().map(|c| micros(f(c))).collect::<Vec<_>>();
    let opt_uuid = |f: fn(&Case) -> Option<Uuid>| chunk.iter().map(|c| f(c)).collect::<Vec<_>>();
    sqlx::query_scalar(&format!(
        "INSERT INTO cases ({}) SELECT {} FROM UNNEST({}) AS t({}) \
         ON CONFLICT DO NOTHING RETURNING id",
        case_insert_columns(),
        (1..=CASE_TYPES.len())
            .map(|n| if CASE_TYPES[n - 1] == "jsonb" {
                format!("c{n}::jsonb")
            } else {
                format!("c{n}")
            })
            .collect::<Vec<_>>()
            .join(", "),
        CASE_TYPES
            .iter()
            .enumerate()
            .map(|(i, t)| match *t {
                "jsonb" => format!("${}::text[]", i + 1),
                t => format!("${}::{t}[]", i + 1),
            })
            .collect::<Vec<_>>()
            .join(", "),
        (1..=CASE_TYPES.len())
            .map(|n| format!("c{n}"))
            .collect::<Vec<_>>()
            .join(", "),
    ))
    .bind(chunk.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(text(|c| c.units.province_code.clone()))
    .bind(text(|c| c.units.commune_code.clone()))
    .bind(opt_text(|c| c.units.old_commune_code.clone()))
    .bind(opt_text(|c| c.units.old_district_code.clone()))
    .bind(opt_text(|c| c.units.old_province_code.clone()))
    .bind(opt_uuid(|c| c.person_id))
    .bind(chunk.iter().map(|c| c.source_record_id).collect::<Vec<_>>())
    .bind(text(|c| c.full_name.clone()))
    .bind(opt_date(|c| c.dob))
    .bind(text(|c| c.sex.clone()))
    .bind(text(|c| c.phone.clone()))
    .bind(text(|c| c.status.as_str().to_string()))
    .bind(text(|c| c.classification.as_str().to_string()))
    .bind(date(|c| c.first_positive))
    .bind(date(|c| c.last_positive))
    .bind(opt_date(|c| c.onset))
    .bind(text(|c| c.detection_source.as_str().to_string()))
    .bind(text(|c| c.risk.to_string()))
    .bind(flag(|c| c.high_risk))
    .bind(text(|c| c.severity.as_str().to_string()))
    .bind(text(|c| c.care_setting.as_str().to_string()))
    .bind(flag(|c| c.on_oxygen))
    .bind(opt_text(|c| c.outcome.map(|o| o.as_str().to_string())))
    .bind(opt_date(|c| c.outcome_date))
    .bind(date(|c| c.isolation_end))
    .bind(date(|c| c.followup_until))
    .bind(text(|c| c.disease_group.clone()))
    .bind(time(|c| c.reported_at))
    .bind(time(|c| c.report_deadline))
    .bind(flag(|c| c.report_met))
    .bind(
        chunk
            .iter()
            .map(|c| c.last_checkin_at.map(micros))
            .collect::<Vec<_>>(),
    )
    .bind(text(|c| c.alert.as_str().to_string()))
    .bind(text(|c| c.alert_reasons.to_string()))
    .bind(text(|c| c.ruleset.clone()))
    .bind(opt_uuid(|c| c.cluster_id))
    .bind(text(|c| c.note.clone()))
    .bind(time(|c| c.created_at))
    .bind(time(|c| c.updated_at))
    .fetch_all(&mut *conn)
    .await
    .map_err(from_sqlx)
}

/// Replaces a stored case (every field but id, source record, created_at) and moves its
/// counters, in the caller's transaction.
async fn update_case_in_tx(conn: &mut PgConnection, c: &Case) -> crate::Result<()> {
    let row = sqlx::query(&format!("{} WHERE id = $1 FOR UPDATE", case_select()))
        .bind(c.id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    let Some(row) = row else {
        return Err(case_not_found(c.id));
    };
    let old = pg_case(&row)?;
    let set = case_update_set(|column, n| match column {
        "risk" | "alert_reasons" => format!("${n}::jsonb"),
        _ => format!("${n}"),
    });
    sqlx::query(&format!("UPDATE cases SET {set} WHERE id = $1"))
        .bind(c.id)
        .bind(&c.units.province_code)
        .bind(&c.units.commune_code)
        .bind(&c.units.old_commune_code)
        .bind(&c.units.old_district_code)
        .bind(&c.units.old_province_code)
        .bind(c.person_id)
        .bind(&c.full_name)
        .bind(c.dob)
        .bind(&c.sex)
        .bind(&c.phone)
        .bind(c.status.as_str())
        .bind(c.classification.as_str())
        .bind(c.first_positive)
        .bind(c.last_positive)
        .bind(c.onset)
        .bind(c.detection_source.as_str())
        .bind(c.risk.to_string())
        .bind(c.high_risk)
        .bind(c.severity.as_str())
        .bind(c.care_setting.as_str())
        .bind(c.on_oxygen)
        .bind(c.outcome.map(|o| o.as_str()))
        .bind(c.outcome_date)
        .bind(c.isolation_end)
        .bind(c.followup_until)
        .bind(&c.disease_group)
        .bind(micros(c.reported_at))
        .bind(micros(c.report_deadline))
        .bind(c.report_met)
        .bind(c.last_checkin_at.map(micros))
        .bind(c.alert.as_str())
        .bind(c.alert_reasons.to_string())
        .bind(&c.ruleset)
        .bind(c.cluster_id)
        .bind(&c.note)
        .bind(micros(c.updated_at))
        .execute(&mut *conn)
        .await
        .map_err(from_sqlx)?;
    let mut deltas = Deltas::default();
    deltas.add_case(&old, -1);
    deltas.add_case(c, 1);
    apply_deltas(conn, deltas).await
}

#[async_trait]
impl CaseStore for PgStore {
    async fn insert_test_batch(
        &self,
        batch: &TestBatch,
        audit: Option<&NewAuditEntry>,
    ) -> crate::Result<TestBatchOutcome> {
        let mut tx = match audit {
            Some(_) => self.begin_audited().await?,
            None => self.pool().begin().await.map_err(from_sqlx)?,
        };
        let inserted = insert_decided_in_tx(&mut tx, &batch.records, &batch.decisions).await?;
        let mut outcome = TestBatchOutcome {
            inserted: batch
                .records
                .iter()
                .map(|r| r.id)
                .filter(|id| inserted.contains(id))
                .collect(),
            ..TestBatchOutcome::default()
        };
        let mut deltas = Deltas::default();
        let (opens, positives) = applicable_changes(&batch.changes, &inserted);
        for chunk in opens.chunks(CHUNK) {
            let created: HashSet<Uuid> = insert_cases(&mut tx, chunk).await?.into_iter().collect();
            for c in chunk {
                if created.contains(&c.id) {
                    deltas.add_case(c, 1);
                    outcome.cases_created += 1;
                }
            }
        }
        let now = micros(Utc::now());
        for chunk in positives.chunks(CHUNK) {
            let updated: HashSet<Uuid> = sqlx::query_scalar(
                "UPDATE cases AS c SET last_positive = GREATEST(c.last_positive, t.d), \
                 classification = CASE WHEN t.pcr AND c.classification = 'probable' \
                 THEN 'confirmed' ELSE c.classification END, updated_at = $4 \
                 FROM UNNEST($1::uuid[], $2::date[], $3::bool[]) AS t(i, d, pcr) \
                 WHERE c.id = t.i RETURNING c.id",
            )
            .bind(chunk.iter().map(|p| p.case_id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.sample_date).collect::<Vec<_>>())
            .bind(chunk.iter().map(|p| p.rt_pcr).collect::<Vec<_>>())
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?
            .into_iter()
            .collect();
            outcome.cases_updated += chunk
                .iter()
                .filter(|p| updated.contains(&p.case_id))
                .map(|p| p.changes)
                .sum::<u64>();
        }
        let tests: Vec<&LabTest> = batch
            .tests
            .iter()
            .filter(|t| inserted.contains(&t.id))
            .collect();
        for chunk in tests.chunks(CHUNK) {
            let text = |f: fn(&LabTest) -> String| chunk.iter().map(|t| f(t)).collect::<Vec<_>>();
            let opt_text =
                |f: fn(&LabTest) -> Option<String>| chunk.iter().map(|t| f(t)).collect::<Vec<_>>();
            let opt_uuid =
                |f: fn(&LabTest) -> Option<Uuid>| chunk.iter().map(|t| f(t)).collect::<Vec<_>>();
            sqlx::query(&format!(
                "INSERT INTO lab_tests ({LAB_TEST_COLUMNS}) SELECT * FROM UNNEST($1::uuid[], \
                 $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], \
                 $8::text[], $9::date[], $10::text[], $11::text[], $12::uuid[], $13::uuid[], \
                 $14::timestamptz[])"
            ))
            .bind(chunk.iter().map(|t| t.id).collect::<Vec<_>>())
            .bind(text(|t| t.units.province_code.clone()))
            .bind(text(|t| t.units.commune_code.clone()))
            .bind(opt_text(|t| t.units.old_commune_code.clone()))
            .bind(opt_text(|t| t.units.old_district_code.clone()))
            .bind(opt_text(|t| t.units.old_province_code.clone()))
            .bind(opt_uuid(|t| t.person_id))
            .bind(text(|t| t.lab_code.clone()))
            .bind(chunk.iter().map(|t| t.sample_date).collect::<Vec<_>>())
            .bind(text(|t| t.test_type.as_str().to_string()))
            .bind(text(|t| t.result.as_str().to_string()))
            .bind(opt_uuid(|t| t.case_id))
            .bind(opt_uuid(|t| t.sample_id))
            .bind(
                chunk
                    .iter()
                    .map(|t| micros(t.received_at))
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            for t in chunk {
                deltas.add_test(t);
            }
        }
        apply_deltas(&mut tx, deltas).await?;
        if let Some(audit) = audit {
            append_in_tx(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(outcome)
    }

    async fn lab_test(&self, id: Uuid) -> crate::Result<Option<LabTest>> {
        let row = sqlx::query(&format!(
            "SELECT {LAB_TEST_COLUMNS} FROM lab_tests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(from_sqlx)?;
        row.as_ref().map(pg_lab_test).transpose()
    }

    async fn lab_tests_of_person(&self, person: Uuid) -> crate::Result<Vec<LabTest>> {
        sqlx::query(&format!(
            "SELECT {LAB_TEST_COLUMNS} FROM lab_tests WHERE person_id = $1 \
             ORDER BY sample_date DESC, received_at DESC, id DESC"
        ))
        .bind(person)
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(pg_lab_test)
        .collect()
    }

    async fn lab_tests_of_case(&self, case_id: Uuid) -> crate::Result<Vec<LabTest>> {
        sqlx::query(&format!(
            "SELECT {LAB_TEST_COLUMNS} FROM lab_tests WHERE case_id = $1 \
             ORDER BY sample_date, received_at, id"
        ))
        .bind(case_id)
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(pg_lab_test)
        .collect()
    }

    async fn case(&self, id: Uuid) -> crate::Result<Option<Case>> {
        let row = sqlx::query(&format!("{} WHERE id = $1", case_select()))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(from_sqlx)?;
        row.as_ref().map(pg_case).transpose()
    }

    async fn latest_cases_of_persons(&self, persons: &[Uuid]) -> crate::Result<Vec<Case>> {
        let mut out = Vec::new();
        for chunk in crate::sql::distinct(persons).chunks(CHUNK) {
            let rows = sqlx::query(&format!(
                "SELECT DISTINCT ON (person_id) {} FROM cases WHERE person_id = ANY($1) \
                 ORDER BY person_id, first_positive DESC, id DESC",
                case_columns(|c| format!("{c}::text AS {c}"))
            ))
            .bind(chunk)
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?;
            for r in &rows {
                out.push(pg_case(r)?);
            }
        }
        Ok(out)
    }

    async fn cases_of_person(&self, person: Uuid) -> crate::Result<Vec<Case>> {
        sqlx::query(&format!(
            "{} WHERE person_id = $1 ORDER BY first_positive DESC, id DESC",
            case_select()
        ))
        .bind(person)
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(pg_case)
        .collect()
    }

    async fn list_cases(&self, q: &CaseQuery) -> crate::Result<Page<Case>> {
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM cases");
        push_case_where(&mut count, q);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(self.pool())
            .await
            .map_err(from_sqlx)?;
        let mut list = QueryBuilder::<Postgres>::new(case_select());
        push_case_where(&mut list, q);
        push_case_page(&mut list, q);
        let items = list
            .build()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?
            .iter()
            .map(pg_case)
            .collect::<crate::Result<_>>()?;
        Ok(Page {
            items,
            total: total.max(0) as u64,
        })
    }

    async fn update_case(&self, case: &Case, audit: &NewAuditEntry) -> crate::Result<()> {
        let mut tx = self.begin_audited().await?;
        update_case_in_tx(&mut tx, case).await?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn add_checkin(
        &self,
        checkin: &CheckIn,
        case: &Case,
        audit: &NewAuditEntry,
    ) -> crate::Result<()> {
        check_checkin(checkin, case)?;
        let mut tx = self.begin_audited().await?;
        update_case_in_tx(&mut tx, case).await?;
        sqlx::query(
            "INSERT INTO case_checkins (id, case_id, province_code, at, checked_by, vitals, \
             assessment, escalate, severity, alert) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10)",
        )
        .bind(checkin.id)
        .bind(checkin.case_id)
        .bind(&checkin.province_code)
        .bind(micros(checkin.at))
        .bind(&checkin.by)
        .bind(checkin.vitals.to_string())
        .bind(checkin.assessment.to_string())
        .bind(checkin.escalate)
        .bind(checkin.severity.as_str())
        .bind(checkin.alert.as_str())
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn checkins(&self, case_id: Uuid, limit: u32) -> crate::Result<Vec<CheckIn>> {
        sqlx::query(
            "SELECT id, case_id, province_code, at, checked_by, vitals::text AS vitals, \
             assessment::text AS assessment, escalate, severity, alert FROM case_checkins \
             WHERE case_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(case_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(|r| {
            checkin_from_row(
                r,
                r.try_get("id").map_err(from_sqlx)?,
                r.try_get("case_id").map_err(from_sqlx)?,
            )
        })
        .collect()
    }

    async fn alert_candidates(
        &self,
        scope: &PersonScope,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> crate::Result<Vec<AlertCandidate>> {
        let mut qb = QueryBuilder::<Postgres>::new(ALERT_CANDIDATE_SELECT);
        push_case_scope(&mut qb, scope);
        qb.push(ALERT_CONDITION)
            .push_bind(micros(stale_before))
            .push(") LIMIT ")
            .push_bind(i64::from(limit));
        qb.build()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?
            .iter()
            .map(|r| alert_candidate_from_row(r, r.try_get("id").map_err(from_sqlx)?))
            .collect()
    }

    async fn cases_of_cluster(&self, cluster_id: Uuid) -> crate::Result<Vec<Case>> {
        sqlx::query(&format!(
            "{} WHERE cluster_id = $1 ORDER BY first_positive, id",
            case_select()
        ))
        .bind(cluster_id)
        .fetch_all(self.pool())
        .await
        .map_err(from_sqlx)?
        .iter()
        .map(pg_case)
        .collect()
    }

    async fn cases_by_ids(&self, ids: &[Uuid]) -> crate::Result<Vec<Case>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in crate::sql::distinct(ids).chunks(CHUNK) {
            let rows = sqlx::query(&format!("{} WHERE id = ANY($1)", case_select()))
                .bind(chunk)
                .fetch_all(self.pool())
                .await
                .map_err(from_sqlx)?;
            for r in &rows {
                out.push(pg_case(r)?);
            }
        }
        Ok(out)
    }

    async fn daily_figures(
        &self,
        scope: &PersonScope,
        day: NaiveDate,
    ) -> crate::Result<DailyFigures> {
        let mut qb = QueryBuilder::<Postgres>::new(DAY_COUNTERS_QUERY);
        qb.push_bind(day);
        push_case_scope(&mut qb, scope);
        let (tests, positive_tests, new_cases, deaths, recoveries): (i64, i64, i64, i64, i64) = qb
            .build_query_as()
            .fetch_one(self.pool())
            .await
            .map_err(from_sqlx)?;
        let mut figures = DailyFigures {
            day,
            tests,
            positive_tests,
            new_cases,
            deaths,
            recoveries,
            ..DailyFigures::default()
        };
        let mut qb = QueryBuilder::<Postgres>::new(OPEN_STATE_QUERY);
        push_case_scope(&mut qb, scope);
        qb.push(" GROUP BY severity, care_setting, on_oxygen, alert");
        let rows: Vec<(String, String, bool, String, i64)> = qb
            .build_query_as()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?;
        fold_open_state(&mut figures, rows)?;
        Ok(figures)
    }

    async fn daily_case_series(
        &self,
        scope: &PersonScope,
        from: NaiveDate,
        to: NaiveDate,
    ) -> crate::Result<DailyCaseSeries> {
        check_series_range(from, to)?;
        let mut qb = QueryBuilder::<Postgres>::new("");
        push_case_series_query(&mut qb, scope, from, to);
        let rows: Vec<(NaiveDate, i64, i64)> = qb
            .build_query_as()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?;
        Ok(fold_case_series(from, to, rows))
    }

    async fn submit_daily_report(
        &self,
        report: &DailyReport,
        audit: &NewAuditEntry,
    ) -> crate::Result<()> {
        check_report(report)?;
        let mut tx = self.begin_audited().await?;
        sqlx::query(
            "INSERT INTO daily_reports (unit_code, hierarchy, day, figures, submitted_by, \
             submitted_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6) \
             ON CONFLICT (unit_code, hierarchy, day) DO UPDATE SET figures = excluded.figures, \
             submitted_by = excluded.submitted_by, submitted_at = excluded.submitted_at",
        )
        .bind(&report.unit_code)
        .bind(&report.hierarchy)
        .bind(report.day)
        .bind(report.figures.to_string())
        .bind(&report.submitted_by)
        .bind(micros(report.submitted_at))
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }

    async fn daily_reports(
        &self,
        day: NaiveDate,
        units: Option<&[String]>,
    ) -> crate::Result<Vec<DailyReport>> {
        let rows = match units {
            Some([]) => return Ok(Vec::new()),
            Some(units) => {
                sqlx::query(
                    "SELECT unit_code, hierarchy, day, figures::text AS figures, submitted_by, \
                     submitted_at FROM daily_reports WHERE day = $1 AND unit_code = ANY($2) \
                     ORDER BY unit_code, hierarchy",
                )
                .bind(day)
                .bind(units)
                .fetch_all(self.pool())
                .await
            }
            None => {
                sqlx::query(
                    "SELECT unit_code, hierarchy, day, figures::text AS figures, submitted_by, \
                     submitted_at FROM daily_reports WHERE day = $1 ORDER BY unit_code, hierarchy",
                )
                .bind(day)
                .fetch_all(self.pool())
                .await
            }
        }
        .map_err(from_sqlx)?;
        rows.iter().map(report_from_row).collect()
    }

    async fn rebuild_daily_counters(&self, write: bool) -> crate::Result<u64> {
        let mut tx = self.pool().begin().await.map_err(from_sqlx)?;
        // Writers keep their counter increments (ROW EXCLUSIVE) until they commit: with this lock
        // held, every committed write is visible and none lands between the read and the rewrite.
        sqlx::query(if write {
            "LOCK TABLE surveillance_daily IN SHARE ROW EXCLUSIVE MODE"
        } else {
            "LOCK TABLE surveillance_daily IN SHARE MODE"
        })
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let stored: Vec<CounterRow> = sqlx::query_as(
            "SELECT province_code, commune_code, old_commune_code, day, tests, positive_tests, \
             new_cases, deaths, recoveries FROM surveillance_daily",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let fresh: Vec<CounterRow> = sqlx::query_as(RECOMPUTE_COUNTERS_QUERY)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let stored = sum_counters(stored.into_iter().map(counter_row).collect());
        let fresh = sum_counters(fresh.into_iter().map(counter_row).collect());
        let differing = count_differences(&stored, &fresh);
        if write && differing > 0 {
            sqlx::query("DELETE FROM surveillance_daily")
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            apply_deltas(&mut tx, Deltas::from(fresh)).await?;
        }
        tx.commit().await.map_err(from_sqlx)?;
        Ok(differing)
    }
}
