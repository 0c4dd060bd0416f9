//! The postgres implementation of [`crate::OutbreakStore`] (statements, row mappers and the scope
//! filter are shared with SQLite in [`crate::sqlite_outbreaks`]).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::surveillance::TestResult;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::error::from_sqlx;
use crate::outbreaks::{
    BorderCount, Cluster, Contact, ContactStatus, EntryDeclaration, OutbreakStore, Sample,
    SampleSession, SampleStatus,
};
use crate::postgres::{PgStore, append_in_tx};
use crate::sql::distinct;
use crate::sqlite_outbreaks::{
    BORDER_COLUMNS, CLUSTER_COLUMNS, CLUSTER_DATES, CONTACT_COLUMNS, DECLARATION_COLUMNS,
    OutbreakRow, SESSION_COLUMNS, border_from, border_upsert, cases_not_found, cluster_from,
    cluster_not_found, cluster_upsert, contact_from, contact_upsert, declaration_from,
    declaration_upsert, local_days, members_json, push_unit_scope, sample_from, sample_upsert,
    session_from, session_insert,
};
use crate::{PersonScope, Result};

/// Ids per `= ANY($1)` array.
const CHUNK: usize = 10_000;

const SAMPLE_SELECT: &str = "SELECT id, session_id, province_code, code, \
     members::text AS members, pool_id, lab_code, collected_at, received_at, resulted_at, \
     result, status FROM samples";

impl OutbreakRow for PgRow {
    fn uuid(&self, c: &str) -> Result<Uuid> {
        self.try_get(c).map_err(from_sqlx)
    }
    fn opt_uuid(&self, c: &str) -> Result<Option<Uuid>> {
        self.try_get(c).map_err(from_sqlx)
    }
    fn text(&self, c: &str) -> Result<String> {
        self.try_get(c).map_err(from_sqlx)
    }
    fn opt_text(&self, c: &str) -> Result<Option<String>> {
        self.try_get(c).map_err(from_sqlx)
    }
    fn date(&self, c: &str) -> Result<NaiveDate> {
        self.try_get(c).map_err(from_sqlx)
    }
    fn opt_date(&self, c: &str) -> Result<Option<NaiveDate>> {
        self.try_get(c).map_err(from_sqlx)
    }
    fn time(&self, c: &str) -> Result<DateTime<Utc>> {
        self.try_get(c).map_err(from_sqlx)
    }
    fn opt_time(&self, c: &str) -> Result<Option<DateTime<Utc>>> {
        self.try_get(c).map_err(from_sqlx)
    }
    fn flag(&self, c: &str) -> Result<bool> {
        self.try_get(c).map_err(from_sqlx)
    }
    fn int(&self, c: &str) -> Result<i64> {
        self.try_get(c).map_err(from_sqlx)
    }
}

impl PgStore {
    async fn fetch_all<T>(
        &self,
        mut qb: QueryBuilder<'_, Postgres>,
        map: fn(&PgRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        qb.build()
            .fetch_all(self.pool())
            .await
            .map_err(from_sqlx)?
            .iter()
            .map(map)
            .collect()
    }

    async fn fetch_by_id<T>(
        &self,
        sql: String,
        id: Uuid,
        map: fn(&PgRow) -> Result<T>,
    ) -> Result<Option<T>> {
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(from_sqlx)?
            .as_ref()
            .map(map)
            .transpose()
    }
}

#[async_trait]
impl OutbreakStore for PgStore {
    async fn save_contact(&self, c: &Contact, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(&contact_upsert())
            .bind(c.id)
            .bind(c.case_id)
            .bind(&c.units.province_code)
            .bind(&c.units.commune_code)
            .bind(&c.units.old_commune_code)
            .bind(&c.units.old_district_code)
            .bind(&c.units.old_province_code)
            .bind(c.person_id)
            .bind(&c.full_name)
            .bind(&c.phone)
            .bind(&c.national_id)
            .bind(&c.relation)
            .bind(c.last_exposure)
            .bind(c.quarantine_until)
            .bind(&c.quarantine_place)
            .bind(c.status.as_str())
            .bind(c.became_case_id)
            .bind(&c.note)
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)
    }

    async fn contact(&self, id: Uuid) -> Result<Option<Contact>> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM case_contacts WHERE id = $1");
        self.fetch_by_id(sql, id, contact_from).await
    }

    async fn contacts_of_case(&self, case_id: Uuid) -> Result<Vec<Contact>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {CONTACT_COLUMNS} FROM case_contacts WHERE case_id = "
        ));
        qb.push_bind(case_id).push(" ORDER BY created_at, id");
        self.fetch_all(qb, contact_from).await
    }

    async fn contacts_in_scope(
        &self,
        scope: &PersonScope,
        status: Option<ContactStatus>,
        limit: u32,
    ) -> Result<Vec<Contact>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {CONTACT_COLUMNS} FROM case_contacts WHERE 1=1"
        ));
        push_unit_scope(&mut qb, scope);
        if let Some(status) = status {
            qb.push(" AND status = ").push_bind(status.as_str());
        }
        qb.push(" ORDER BY last_exposure DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        self.fetch_all(qb, contact_from).await
    }

    async fn contacts_of_persons(&self, persons: &[Uuid]) -> Result<Vec<Contact>> {
        let ids = distinct(persons);
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Postgres>::new(format!(
                "SELECT {CONTACT_COLUMNS} FROM case_contacts WHERE person_id = ANY("
            ));
            qb.push_bind(chunk.to_vec()).push(")");
            out.extend(self.fetch_all(qb, contact_from).await?);
        }
        out.sort_by_key(|c| (c.created_at, c.id));
        Ok(out)
    }

    async fn save_cluster(&self, c: &Cluster, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(&cluster_upsert())
            .bind(c.id)
            .bind(&c.units.province_code)
            .bind(&c.units.commune_code)
            .bind(&c.units.old_commune_code)
            .bind(&c.units.old_district_code)
            .bind(&c.units.old_province_code)
            .bind(&c.name)
            .bind(&c.place)
            .bind(c.opened_on)
            .bind(c.last_case_on)
            .bind(c.ends_on)
            .bind(c.closed)
            .bind(c.zoning.as_str())
            .bind(c.unusual)
            .bind(&c.unusual_reason)
            .bind(c.sequencing.as_str())
            .bind(c.sample_referred_on)
            .bind(&c.sequencing_lab)
            .bind(&c.variant)
            .bind(c.variant_result_on)
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)
    }

    async fn cluster(&self, id: Uuid) -> Result<Option<Cluster>> {
        let sql = format!("SELECT {CLUSTER_COLUMNS} FROM clusters WHERE id = $1");
        self.fetch_by_id(sql, id, cluster_from).await
    }

    async fn clusters_in_scope(
        &self,
        scope: &PersonScope,
        include_closed: bool,
        limit: u32,
    ) -> Result<Vec<Cluster>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {CLUSTER_COLUMNS} FROM clusters WHERE 1=1"
        ));
        push_unit_scope(&mut qb, scope);
        if !include_closed {
            qb.push(" AND closed = ").push_bind(false);
        }
        qb.push(" ORDER BY opened_on DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        self.fetch_all(qb, cluster_from).await
    }

    async fn assign_cases_to_cluster(
        &self,
        cases: &[Uuid],
        cluster: Option<&Cluster>,
        audit: &NewAuditEntry,
    ) -> Result<()> {
        let mut ids = distinct(cases);
        // The same row order in every transaction: no lock-order deadlock between two of them.
        ids.sort_unstable();
        let at = crate::model::micros(audit.at);
        let mut tx = self.begin_audited().await?;
        let mut updated = 0;
        for chunk in ids.chunks(CHUNK) {
            updated +=
                sqlx::query("UPDATE cases SET cluster_id = $1, updated_at = $2 WHERE id = ANY($3)")
                    .bind(cluster.map(|c| c.id))
                    .bind(at)
                    .bind(chunk)
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?
                    .rows_affected();
        }
        cases_not_found(ids.len(), updated)?;
        if let Some(c) = cluster {
            let n = sqlx::query(CLUSTER_DATES)
                .bind(c.last_case_on)
                .bind(c.ends_on)
                .bind(c.updated_at)
                .bind(c.id)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?
                .rows_affected();
            if n == 0 {
                return Err(cluster_not_found(c.id));
            }
        }
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)
    }

    async fn save_sample_session(&self, s: &SampleSession, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(&session_insert())
            .bind(s.id)
            .bind(&s.units.province_code)
            .bind(&s.units.commune_code)
            .bind(&s.units.old_commune_code)
            .bind(&s.units.old_district_code)
            .bind(&s.units.old_province_code)
            .bind(&s.place)
            .bind(s.held_on)
            .bind(&s.lab_code)
            .bind(&s.created_by)
            .bind(s.created_at)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)
    }

    async fn sample_session(&self, id: Uuid) -> Result<Option<SampleSession>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sample_sessions WHERE id = $1");
        self.fetch_by_id(sql, id, session_from).await
    }

    async fn sample_sessions(&self, scope: &PersonScope, limit: u32) -> Result<Vec<SampleSession>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {SESSION_COLUMNS} FROM sample_sessions WHERE 1=1"
        ));
        push_unit_scope(&mut qb, scope);
        qb.push(" ORDER BY held_on DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        self.fetch_all(qb, session_from).await
    }

    async fn save_samples(&self, samples: &[Sample], audit: &NewAuditEntry) -> Result<()> {
        let sql = sample_upsert("::jsonb");
        let mut tx = self.begin_audited().await?;
        for s in samples {
            sqlx::query(&sql)
                .bind(s.id)
                .bind(s.session_id)
                .bind(&s.province_code)
                .bind(&s.code)
                .bind(members_json(s)?)
                .bind(s.pool_id)
                .bind(&s.lab_code)
                .bind(s.collected_at)
                .bind(s.received_at)
                .bind(s.resulted_at)
                .bind(s.result.map(TestResult::as_str))
                .bind(s.status.as_str())
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
        }
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)
    }

    async fn sample(&self, id: Uuid) -> Result<Option<Sample>> {
        self.fetch_by_id(format!("{SAMPLE_SELECT} WHERE id = $1"), id, sample_from)
            .await
    }

    async fn samples_of_session(&self, session: Uuid) -> Result<Vec<Sample>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!("{SAMPLE_SELECT} WHERE session_id = "));
        qb.push_bind(session)
            .push(" ORDER BY collected_at, code, id");
        self.fetch_all(qb, sample_from).await
    }

    async fn lab_queue(&self, lab_code: &str, limit: u32) -> Result<Vec<Sample>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!("{SAMPLE_SELECT} WHERE lab_code = "));
        qb.push_bind(lab_code.to_string())
            .push(" AND status = ")
            .push_bind(SampleStatus::Received.as_str())
            .push(" ORDER BY collected_at, id LIMIT ")
            .push_bind(i64::from(limit));
        self.fetch_all(qb, sample_from).await
    }

    async fn resulted_samples(
        &self,
        lab_code: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Sample>> {
        let (start, end) = local_days(from, to);
        // The status as a literal: the partial index `samples_resulted` serves only that.
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "{SAMPLE_SELECT} WHERE status = '{}'",
            SampleStatus::Resulted.as_str()
        ));
        if let Some(lab) = lab_code {
            qb.push(" AND lab_code = ").push_bind(lab.to_string());
        }
        qb.push(" AND collected_at >= ")
            .push_bind(start)
            .push(" AND collected_at < ")
            .push_bind(end)
            .push(" ORDER BY collected_at, id");
        self.fetch_all(qb, sample_from).await
    }

    async fn save_entry_declaration(
        &self,
        d: &EntryDeclaration,
        audit: &NewAuditEntry,
    ) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(&declaration_upsert())
            .bind(d.id)
            .bind(&d.units.province_code)
            .bind(&d.units.commune_code)
            .bind(&d.units.old_commune_code)
            .bind(&d.units.old_district_code)
            .bind(&d.units.old_province_code)
            .bind(&d.full_name)
            .bind(&d.document_number)
            .bind(&d.phone)
            .bind(&d.gate_code)
            .bind(d.entered_on)
            .bind(&d.from_area)
            .bind(d.variant_area)
            .bind(d.followup_until)
            .bind(&d.status)
            .bind(d.case_id)
            .bind(d.created_at)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)
    }

    async fn entry_declarations(
        &self,
        scope: &PersonScope,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EntryDeclaration>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {DECLARATION_COLUMNS} FROM entry_declarations WHERE entered_on BETWEEN "
        ));
        qb.push_bind(from).push(" AND ").push_bind(to);
        push_unit_scope(&mut qb, scope);
        qb.push(" ORDER BY entered_on, id");
        self.fetch_all(qb, declaration_from).await
    }

    async fn save_border_count(&self, c: &BorderCount, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(&border_upsert())
            .bind(&c.gate_code)
            .bind(c.day)
            .bind(&c.province_code)
            .bind(c.entrants)
            .bind(c.from_variant_areas)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        append_in_tx(&mut tx, audit).await?;
        tx.commit().await.map_err(from_sqlx)
    }

    async fn border_counts(
        &self,
        province_code: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<BorderCount>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {BORDER_COLUMNS} FROM border_counts WHERE day BETWEEN "
        ));
        qb.push_bind(from).push(" AND ").push_bind(to);
        if let Some(p) = province_code {
            qb.push(" AND province_code = ").push_bind(p.to_string());
        }
        qb.push(" ORDER BY day, gate_code");
        self.fetch_all(qb, border_from).await
    }
}
