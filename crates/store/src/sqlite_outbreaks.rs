//! The sqlite implementation of [`crate::OutbreakStore`], and what both backends share: column
//! lists, upsert statements, row mappers (over [`OutbreakRow`]) and the scope filter.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::surveillance::TestResult;
use domain::{Error, ErrorCode};
use sqlx::sqlite::SqliteRow;
use sqlx::{Database, Encode, QueryBuilder, Row, Sqlite, Type};
use uuid::Uuid;

use crate::cases::CaseUnits;
use crate::error::from_sqlx;
use crate::outbreaks::{
    BorderCount, Cluster, Contact, ContactStatus, EntryDeclaration, OutbreakStore, Sample,
    SampleMember, SampleSession, SampleStatus, Sequencing, Zoning,
};
use crate::sql::{distinct, push_in};
use crate::sqlite::{SqliteStore, append_in_tx};
use crate::{PersonScope, Result};

/// Ids per `IN (…)` list.
const CHUNK: usize = 500;

pub(crate) const CONTACT_COLUMNS: &str = "id, case_id, province_code, commune_code, \
     old_commune_code, old_district_code, old_province_code, person_id, full_name, phone, \
     national_id, relation, last_exposure, quarantine_until, quarantine_place, status, \
     became_case_id, note, created_at, updated_at";

pub(crate) const CLUSTER_COLUMNS: &str = "id, province_code, commune_code, old_commune_code, \
     old_district_code, old_province_code, name, place, opened_on, last_case_on, ends_on, closed, \
     zoning, unusual, unusual_reason, sequencing, sample_referred_on, sequencing_lab, variant, \
     variant_result_on, created_at, updated_at";

pub(crate) const SESSION_COLUMNS: &str = "id, province_code, commune_code, old_commune_code, \
     old_district_code, old_province_code, place, held_on, lab_code, created_by, created_at";

/// Sample columns as written (read back with `members` as JSON text).
pub(crate) const SAMPLE_COLUMNS: &str = "id, session_id, province_code, code, members, pool_id, \
     lab_code, collected_at, received_at, resulted_at, result, status";

pub(crate) const DECLARATION_COLUMNS: &str = "id, province_code, commune_code, old_commune_code, \
     old_district_code, old_province_code, full_name, document_number, phone, gate_code, \
     entered_on, from_area, variant_area, followup_until, status, case_id, created_at";

pub(crate) const BORDER_COLUMNS: &str =
    "gate_code, day, province_code, entrants, from_variant_areas";

/// `INSERT … ON CONFLICT (key) DO UPDATE` of every column but the key and `keep`; `$n`
/// placeholders in column order, `members` cast with `json_cast` (`::jsonb` on PostgreSQL).
pub(crate) fn upsert_sql(
    table: &str,
    columns: &str,
    key: &str,
    keep: &[&str],
    json_cast: &str,
) -> String {
    let columns: Vec<&str> = columns.split(", ").collect();
    let values: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let cast = if *c == "members" { json_cast } else { "" };
            format!("${}{cast}", i + 1)
        })
        .collect();
    let keys: Vec<&str> = key.split(", ").collect();
    let set: Vec<String> = columns
        .iter()
        .filter(|c| !keys.contains(c) && !keep.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({key}) DO UPDATE SET {}",
        columns.join(", "),
        values.join(", "),
        set.join(", ")
    )
}

// Statements of both backends (binds in the column order of each list).

/// Contacts by id; `created_at` stays as first saved.
pub(crate) fn contact_upsert() -> String {
    upsert_sql("case_contacts", CONTACT_COLUMNS, "id", &["created_at"], "")
}

/// Clusters by id; `created_at` stays as first saved.
pub(crate) fn cluster_upsert() -> String {
    upsert_sql("clusters", CLUSTER_COLUMNS, "id", &["created_at"], "")
}

/// Sessions are only inserted (a taken id is a conflict).
pub(crate) fn session_insert() -> String {
    let n = SESSION_COLUMNS.split(", ").count();
    let values: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO sample_sessions ({SESSION_COLUMNS}) VALUES ({})",
        values.join(", ")
    )
}

/// Samples by id, every column but the id.
pub(crate) fn sample_upsert(json_cast: &str) -> String {
    upsert_sql("samples", SAMPLE_COLUMNS, "id", &[], json_cast)
}

/// Declarations by id; `created_at` stays as first saved.
pub(crate) fn declaration_upsert() -> String {
    upsert_sql(
        "entry_declarations",
        DECLARATION_COLUMNS,
        "id",
        &["created_at"],
        "",
    )
}

/// A gate's count for a day replaces the earlier one.
pub(crate) fn border_upsert() -> String {
    upsert_sql("border_counts", BORDER_COLUMNS, "gate_code, day", &[], "")
}

/// Moves a cluster's dates as given ($1 last case, $2 end, $3 updated_at, $4 id).
pub(crate) const CLUSTER_DATES: &str =
    "UPDATE clusters SET last_case_on = $1, ends_on = $2, updated_at = $3 WHERE id = $4";

/// Appends ` AND …` restricting rows carrying [`CaseUnits`] columns to a scope.
pub(crate) fn push_unit_scope<'args, DB>(qb: &mut QueryBuilder<'args, DB>, scope: &PersonScope)
where
    DB: Database,
    String: Encode<'args, DB> + Type<DB>,
{
    match scope {
        PersonScope::All => {}
        PersonScope::Province(p) => {
            qb.push(" AND province_code = ").push_bind(p.clone());
        }
        PersonScope::Communes(c) => push_in(qb, "commune_code", c),
        PersonScope::OldCommunes(c) => push_in(qb, "old_commune_code", c),
    }
}

/// `[start, end)` instants of the Vietnamese calendar days `from..=to` (the dates of
/// [`OutbreakStore::resulted_samples`] are local dates of `collected_at`).
pub(crate) fn local_days(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    use domain::vietnam_time::start_of_day;
    let start = start_of_day(from);
    let end = to
        .succ_opt()
        .map(start_of_day)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (start, end)
}

/// `NotFound` when fewer cases were updated than (distinct) ids given: some are not stored.
pub(crate) fn cases_not_found(wanted: usize, updated: u64) -> Result<()> {
    if updated as usize == wanted {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::NotFound,
        "Không tìm thấy ca bệnh cần gán vào ổ dịch",
        "Some cases to assign to the cluster were not found",
    )
    .with_details(serde_json::json!({ "missing": wanted - updated as usize })))
}

pub(crate) fn cluster_not_found(id: Uuid) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("Không tìm thấy ổ dịch {id}"),
        format!("Cluster {id} not found"),
    )
    .with_details(serde_json::json!({ "cluster_id": id }))
}

/// Typed column access of a row, so the mappers below serve both backends (ids are text on
/// SQLite, `uuid` on PostgreSQL; flags integer or boolean).
pub(crate) trait OutbreakRow {
    fn uuid(&self, c: &str) -> Result<Uuid>;
    fn opt_uuid(&self, c: &str) -> Result<Option<Uuid>>;
    fn text(&self, c: &str) -> Result<String>;
    fn opt_text(&self, c: &str) -> Result<Option<String>>;
    fn date(&self, c: &str) -> Result<NaiveDate>;
    fn opt_date(&self, c: &str) -> Result<Option<NaiveDate>>;
    fn time(&self, c: &str) -> Result<DateTime<Utc>>;
    fn opt_time(&self, c: &str) -> Result<Option<DateTime<Utc>>>;
    fn flag(&self, c: &str) -> Result<bool>;
    fn int(&self, c: &str) -> Result<i64>;
}

/// A stored code that does not parse: a corrupt row.
fn code<T>(value: &str, parse: fn(&str) -> Option<T>, column: &str) -> Result<T> {
    parse(value).ok_or_else(|| {
        tracing::error!(value, column, "corrupt outbreak row");
        Error::internal()
    })
}

fn units_of(r: &impl OutbreakRow) -> Result<CaseUnits> {
    Ok(CaseUnits {
        province_code: r.text("province_code")?,
        commune_code: r.text("commune_code")?,
        old_commune_code: r.opt_text("old_commune_code")?,
        old_district_code: r.opt_text("old_district_code")?,
        old_province_code: r.opt_text("old_province_code")?,
    })
}

pub(crate) fn contact_from(r: &impl OutbreakRow) -> Result<Contact> {
    Ok(Contact {
        id: r.uuid("id")?,
        case_id: r.uuid("case_id")?,
        units: units_of(r)?,
        person_id: r.opt_uuid("person_id")?,
        full_name: r.text("full_name")?,
        phone: r.text("phone")?,
        national_id: r.text("national_id")?,
        relation: r.text("relation")?,
        last_exposure: r.date("last_exposure")?,
        quarantine_until: r.opt_date("quarantine_until")?,
        quarantine_place: r.text("quarantine_place")?,
        status: code(&r.text("status")?, ContactStatus::parse, "status")?,
        became_case_id: r.opt_uuid("became_case_id")?,
        note: r.text("note")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

pub(crate) fn cluster_from(r: &impl OutbreakRow) -> Result<Cluster> {
    Ok(Cluster {
        id: r.uuid("id")?,
        units: units_of(r)?,
        name: r.text("name")?,
        place: r.text("place")?,
        opened_on: r.date("opened_on")?,
        last_case_on: r.opt_date("last_case_on")?,
        ends_on: r.opt_date("ends_on")?,
        closed: r.flag("closed")?,
        zoning: code(&r.text("zoning")?, Zoning::parse, "zoning")?,
        unusual: r.flag("unusual")?,
        unusual_reason: r.text("unusual_reason")?,
        sequencing: code(&r.text("sequencing")?, Sequencing::parse, "sequencing")?,
        sample_referred_on: r.opt_date("sample_referred_on")?,
        sequencing_lab: r.text("sequencing_lab")?,
        variant: r.text("variant")?,
        variant_result_on: r.opt_date("variant_result_on")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

pub(crate) fn session_from(r: &impl OutbreakRow) -> Result<SampleSession> {
    Ok(SampleSession {
        id: r.uuid("id")?,
        units: units_of(r)?,
        place: r.text("place")?,
        held_on: r.date("held_on")?,
        lab_code: r.text("lab_code")?,
        created_by: r.text("created_by")?,
        created_at: r.time("created_at")?,
    })
}

/// `members` must be selected as JSON text.
pub(crate) fn sample_from(r: &impl OutbreakRow) -> Result<Sample> {
    let members: Vec<SampleMember> = serde_json::from_str(&r.text("members")?).map_err(|e| {
        tracing::error!(error = %e, "corrupt sample members");
        Error::internal()
    })?;
    Ok(Sample {
        id: r.uuid("id")?,
        session_id: r.uuid("session_id")?,
        province_code: r.text("province_code")?,
        code: r.text("code")?,
        members,
        pool_id: r.opt_uuid("pool_id")?,
        lab_code: r.text("lab_code")?,
        collected_at: r.time("collected_at")?,
        received_at: r.opt_time("received_at")?,
        resulted_at: r.opt_time("resulted_at")?,
        result: r
            .opt_text("result")?
            .map(|t| code(&t, |s| TestResult::parse(s).ok(), "result"))
            .transpose()?,
        status: code(&r.text("status")?, SampleStatus::parse, "status")?,
    })
}

pub(crate) fn members_json(s: &Sample) -> Result<String> {
    serde_json::to_string(&s.members).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise sample members");
        Error::internal()
    })
}

pub(crate) fn declaration_from(r: &impl OutbreakRow) -> Result<EntryDeclaration> {
    Ok(EntryDeclaration {
        id: r.uuid("id")?,
        units: units_of(r)?,
        full_name: r.text("full_name")?,
        document_number: r.text("document_number")?,
        phone: r.text("phone")?,
        gate_code: r.text("gate_code")?,
        entered_on: r.date("entered_on")?,
        from_area: r.text("from_area")?,
        variant_area: r.flag("variant_area")?,
        followup_until: r.date("followup_until")?,
        status: r.text("status")?,
        case_id: r.opt_uuid("case_id")?,
        created_at: r.time("created_at")?,
    })
}

pub(crate) fn border_from(r: &impl OutbreakRow) -> Result<BorderCount> {
    Ok(BorderCount {
        gate_code: r.text("gate_code")?,
        province_code: r.text("province_code")?,
        day: r.date("day")?,
        entrants: r.int("entrants")?,
        from_variant_areas: r.int("from_variant_areas")?,
    })
}

fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| {
        tracing::error!(value = s, error = %e, "corrupt uuid in sqlite");
        Error::internal()
    })
}

impl OutbreakRow for SqliteRow {
    fn uuid(&self, c: &str) -> Result<Uuid> {
        parse_uuid(&self.text(c)?)
    }
    fn opt_uuid(&self, c: &str) -> Result<Option<Uuid>> {
        self.opt_text(c)?.as_deref().map(parse_uuid).transpose()
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

fn opt_id(id: Option<Uuid>) -> Option<String> {
    id.map(|u| u.to_string())
}

impl SqliteStore {
    async fn fetch_all<T>(
        &self,
        mut qb: QueryBuilder<'_, Sqlite>,
        map: fn(&SqliteRow) -> Result<T>,
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
        map: fn(&SqliteRow) -> Result<T>,
    ) -> Result<Option<T>> {
        sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(from_sqlx)?
            .as_ref()
            .map(map)
            .transpose()
    }
}

const SAMPLE_SELECT: &str = "SELECT id, session_id, province_code, code, members, pool_id, \
     lab_code, collected_at, received_at, resulted_at, result, status FROM samples";

#[async_trait]
impl OutbreakStore for SqliteStore {
    async fn save_contact(&self, c: &Contact, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(&contact_upsert())
            .bind(c.id.to_string())
            .bind(c.case_id.to_string())
            .bind(&c.units.province_code)
            .bind(&c.units.commune_code)
            .bind(&c.units.old_commune_code)
            .bind(&c.units.old_district_code)
            .bind(&c.units.old_province_code)
            .bind(opt_id(c.person_id))
            .bind(&c.full_name)
            .bind(&c.phone)
            .bind(&c.national_id)
            .bind(&c.relation)
            .bind(c.last_exposure)
            .bind(c.quarantine_until)
            .bind(&c.quarantine_place)
            .bind(c.status.as_str())
            .bind(opt_id(c.became_case_id))
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
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {CONTACT_COLUMNS} FROM case_contacts WHERE case_id = "
        ));
        qb.push_bind(case_id.to_string())
            .push(" ORDER BY created_at, id");
        self.fetch_all(qb, contact_from).await
    }

    async fn contacts_in_scope(
        &self,
        scope: &PersonScope,
        status: Option<ContactStatus>,
        limit: u32,
    ) -> Result<Vec<Contact>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
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
        let ids: Vec<String> = distinct(persons).iter().map(Uuid::to_string).collect();
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {CONTACT_COLUMNS} FROM case_contacts WHERE 1=1"
            ));
            push_in(&mut qb, "person_id", chunk);
            out.extend(self.fetch_all(qb, contact_from).await?);
        }
        out.sort_by_key(|c| (c.created_at, c.id));
        Ok(out)
    }

    async fn save_cluster(&self, c: &Cluster, audit: &NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        sqlx::query(&cluster_upsert())
            .bind(c.id.to_string())
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
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
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
        let ids: Vec<String> = distinct(cases).iter().map(Uuid::to_string).collect();
        let at = crate::model::micros(audit.at);
        let mut tx = self.begin_audited().await?;
        let mut updated = 0;
        for chunk in ids.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("UPDATE cases SET cluster_id = ");
            qb.push_bind(cluster.map(|c| c.id.to_string()))
                .push(", updated_at = ")
                .push_bind(at)
                .push(" WHERE 1=1");
            push_in(&mut qb, "id", chunk);
            updated += qb
                .build()
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
                .bind(c.id.to_string())
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
            .bind(s.id.to_string())
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
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {SESSION_COLUMNS} FROM sample_sessions WHERE 1=1"
        ));
        push_unit_scope(&mut qb, scope);
        qb.push(" ORDER BY held_on DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        self.fetch_all(qb, session_from).await
    }

    async fn save_samples(&self, samples: &[Sample], audit: &NewAuditEntry) -> Result<()> {
        let sql = sample_upsert("");
        let mut tx = self.begin_audited().await?;
        for s in samples {
            sqlx::query(&sql)
                .bind(s.id.to_string())
                .bind(s.session_id.to_string())
                .bind(&s.province_code)
                .bind(&s.code)
                .bind(members_json(s)?)
                .bind(opt_id(s.pool_id))
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
        let mut qb = QueryBuilder::<Sqlite>::new(format!("{SAMPLE_SELECT} WHERE session_id = "));
        qb.push_bind(session.to_string())
            .push(" ORDER BY collected_at, code, id");
        self.fetch_all(qb, sample_from).await
    }

    async fn lab_queue(&self, lab_code: &str, limit: u32) -> Result<Vec<Sample>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("{SAMPLE_SELECT} WHERE lab_code = "));
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
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
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
            .bind(d.id.to_string())
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
            .bind(opt_id(d.case_id))
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
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
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
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_update_all_but_key_and_kept_columns() {
        assert_eq!(
            upsert_sql(
                "t",
                "id, a, members, created_at",
                "id",
                &["created_at"],
                "::jsonb"
            ),
            "INSERT INTO t (id, a, members, created_at) VALUES ($1, $2, $3::jsonb, $4) \
             ON CONFLICT (id) DO UPDATE SET a = excluded.a, members = excluded.members"
        );
        assert!(border_upsert().ends_with(
            "ON CONFLICT (gate_code, day) DO UPDATE SET province_code = excluded.province_code, \
             entrants = excluded.entrants, from_variant_areas = excluded.from_variant_areas"
        ));
    }

    #[test]
    fn local_days_are_vietnam_days() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let (start, end) = local_days(d("2021-07-01"), d("2021-07-02"));
        assert_eq!(start.to_rfc3339(), "2021-06-30T17:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2021-07-02T17:00:00+00:00");
    }
}
