//! `store` — the storage contract ([`Store`]) and its two backends.
//!
//! - [`sqlite::SqliteStore`]: the embedded default (`sqlite://PATH`), WAL mode, one file.
//! - [`postgres::PgStore`]: production (`postgres://…`).
//!
//! The backend is chosen once, from the URL scheme, by [`connect`]. Each backend has its own
//! migrations under `migrations/<backend>/`, embedded in the binary. Callers only see the trait and
//! domain types; SQL never leaks out of this crate. The contract test suite in `tests/contract.rs`
//! runs against both backends.

pub mod cases;
pub mod certificates;
pub mod coverage;
pub mod error;
pub mod levels;
pub mod linking_model;
pub mod model;
pub mod outbreaks;
pub mod postgres;
mod postgres_cases;
mod postgres_coverage;
mod postgres_levels;
mod postgres_outbreaks;
mod sql;
pub mod sqlite;
mod sqlite_cases;
mod sqlite_coverage;
mod sqlite_levels;
mod sqlite_outbreaks;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use domain::audit::{AuditEntry, NewAuditEntry};
use domain::auth::User;
use domain::person::{Household, Person, Sex};
use domain::population::Denominator;
use domain::{Error, ErrorCode};
use uuid::Uuid;

pub use cases::{
    AlertCandidate, Case, CaseChange, CaseQuery, CaseStore, CaseUnits, CheckIn, DailyFigures,
    DailyReport, LabTest, TestBatch, TestBatchOutcome,
};
pub use certificates::{
    CertificateStatus, Revocation, SigningKey, SigningRole, TrustedSigner, VaccinationCertificate,
};
pub use coverage::{
    CoverageReport, CoverageUnit, FollowUpCounts, FollowUpNote, FollowUpQuery, FollowUpReason,
    Level, PersonCoverage, RebuildReport, VaccinationSite, VaccineLot,
};
pub use levels::{
    CapacityInput, CommuneCaseCounts, LevelRun, LevelStore, RunStatus, UnitAssessment,
};
pub use linking_model::{
    LinkCandidate, LinkDecision, LinkStatus, NewSourceRecord, PersonMerge, RecordKind,
    SourceRecord, SourceRecordQuery,
};
pub use model::{ApiTokenRecord, AuditFilter, Page, PersonQuery, PersonScope, SessionRecord};
pub use outbreaks::{
    BorderCount, Cluster, Contact, ContactStatus, EntryDeclaration, OutbreakStore, Sample,
    SampleMember, SampleSession, SampleStatus, Sequencing, Zoning,
};

/// Result type of the storage layer.
pub type Result<T> = std::result::Result<T, Error>;

/// Which backend a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The storage contract. Every method is implemented by both backends with the same observable
/// behaviour (checked by the contract suite).
#[async_trait]
pub trait Store: CaseStore + OutbreakStore + LevelStore + Send + Sync + std::fmt::Debug {
    fn backend(&self) -> Backend;

    /// Applies pending migrations of this backend; idempotent.
    async fn migrate(&self) -> Result<()>;

    /// Cheap round trip to the database (readiness probe).
    async fn ping(&self) -> Result<()>;

    /// Inserts households in one transaction. Returns the number inserted.
    async fn insert_households(&self, households: &[Household]) -> Result<u64>;

    /// Inserts persons in one transaction (all or nothing). A duplicate id or citizen ID fails the
    /// whole batch with [`ErrorCode::Conflict`].
    async fn insert_persons(&self, persons: &[Person]) -> Result<u64>;

    /// Number of persons of the register, not counting those merged into another.
    async fn count_persons(&self) -> Result<u64>;

    /// One page of persons in a scope, optionally matching a search, ordered by folded name then
    /// id. Persons merged into another are not listed.
    async fn list_persons(&self, query: &PersonQuery) -> Result<Page<Person>>;

    /// A person by id, also when merged into another (see [`Store::merged_into`]).
    async fn get_person(&self, id: Uuid) -> Result<Option<Person>>;

    /// The persons with these ids, in any order; unknown ids are ignored. Merged persons are
    /// returned too.
    async fn persons_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Person>>;

    /// Persons (not merged into another) holding these citizen IDs; unknown IDs are left out.
    async fn persons_by_national_ids(&self, ids: &[String]) -> Result<Vec<Person>>;

    /// Street addresses of these households `(household id, address)`; unknown ids are left out.
    async fn household_addresses(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>>;

    /// `(2025 commune, sex, date of birth)` of every person not merged into another, for
    /// denominators.
    async fn person_demographics(&self) -> Result<Vec<(String, Sex, NaiveDate)>>;

    /// Replaces all stored denominators by `rows` (computed at `as_of`) in one transaction.
    async fn replace_denominators(&self, as_of: NaiveDate, rows: &[Denominator]) -> Result<()>;

    /// Stored denominators, optionally only for the given 2025 communes.
    async fn denominators(&self, communes: Option<&[String]>) -> Result<Vec<Denominator>>;

    /// Imports register rows in one transaction with its audit entry: a row whose citizen ID,
    /// or else external id, matches a stored person updates that person; any other row inserts
    /// a new person. Returns `(inserted, updated)`.
    async fn upsert_register(
        &self,
        entries: &[domain::register::RegisterEntry],
        audit: &NewAuditEntry,
    ) -> Result<(u64, u64)>;

    // ---- record linkage ---------------------------------------------------------------------

    /// Inserts incoming records in one transaction, as [`LinkStatus::Unlinked`]. A record whose
    /// `(kind, source, external_id)` is already stored (or earlier in the batch) is skipped, so
    /// re-importing a file is harmless. Returns the ids actually inserted. A taken `id` with a new
    /// `(kind, source, external_id)` fails the batch with [`ErrorCode::Conflict`].
    async fn insert_source_records(&self, records: &[NewSourceRecord]) -> Result<Vec<Uuid>> {
        self.insert_decided_records(records, &[], None).await
    }

    /// Inserts incoming records already decided, in one transaction with the audit entry when
    /// given: as [`Store::insert_source_records`], but a record with a decision is stored with
    /// it (status, person, probability, decider, decision time, candidates; the scope commune of
    /// a record typed without one) and the coverage of the persons it links is refreshed, so a
    /// batch is written once. Decisions of records skipped as already stored are dropped.
    /// Fails, writing nothing, as [`Store::apply_link_decisions`] does for a bad decision, and
    /// with [`ErrorCode::NotFound`] for a decision about a record not in the batch.
    async fn insert_decided_records(
        &self,
        records: &[NewSourceRecord],
        decisions: &[LinkDecision],
        audit: Option<&NewAuditEntry>,
    ) -> Result<Vec<Uuid>>;

    /// Applies linkage decisions in one transaction, with the audit entry when given: sets status,
    /// person, probability, decider and decision time (now) of each record and, when a decision
    /// carries candidates, replaces the record's candidates. If a batch decides a record twice,
    /// the later decision wins. Fails, writing nothing, with [`ErrorCode::NotFound`] for an
    /// unknown record, and [`ErrorCode::InvalidInput`] when a person is given for a status other
    /// than linked or missing for linked, when the person does not exist or has been merged into
    /// another, or when a probability is not finite.
    async fn apply_link_decisions(
        &self,
        decisions: &[LinkDecision],
        audit: Option<&NewAuditEntry>,
    ) -> Result<()>;

    /// A source record and its candidates, most probable first.
    async fn get_source_record(
        &self,
        id: Uuid,
    ) -> Result<Option<(SourceRecord, Vec<LinkCandidate>)>>;

    /// One page of source records, oldest first (created_at then id).
    async fn list_source_records(&self, query: &SourceRecordQuery) -> Result<Page<SourceRecord>>;

    /// Number of source records in each status (every status, zeros included, in the order of
    /// [`LinkStatus::ALL`]), optionally only those whose commune code as typed is in `communes`.
    async fn count_source_records_by_status(
        &self,
        communes: Option<&[String]>,
    ) -> Result<Vec<(LinkStatus, u64)>>;

    /// Replaces the blocking keys of each person given (deleting the old ones) and marks those
    /// persons indexed, in one transaction.
    async fn replace_blocking_keys(&self, keys: &[(Uuid, Vec<i64>)]) -> Result<()>;

    /// `(key, person)` for every stored blocking key in `keys`, sorted; persons merged into
    /// another are skipped.
    async fn persons_with_keys(&self, keys: &[i64]) -> Result<Vec<(i64, Uuid)>>;

    /// Up to `limit` persons (by id) whose blocking keys are missing or stale: never indexed, or
    /// changed since (register update, undone merge). Merged persons are never returned.
    async fn unindexed_persons(&self, limit: u32) -> Result<Vec<Person>>;

    /// Stores a fitted linkage model (it becomes the latest).
    async fn save_linkage_model(&self, model: &serde_json::Value) -> Result<()>;

    /// The most recently saved linkage model and when it was saved.
    async fn latest_linkage_model(&self) -> Result<Option<(DateTime<Utc>, serde_json::Value)>>;

    /// Merges the duplicate person `merged` into `kept` in one transaction with its audit entry:
    /// moves every source record of `merged` to `kept` (recorded in the merge), hides `merged`
    /// (`merged_into`), drops its blocking keys. Both must exist, differ and not be merged
    /// already ([`ErrorCode::InvalidInput`] otherwise).
    async fn merge_persons(
        &self,
        kept: Uuid,
        merged: Uuid,
        by: &str,
        audit: &NewAuditEntry,
    ) -> Result<PersonMerge>;

    /// Undoes a merge in one transaction with its audit entry: moves the recorded source records
    /// that still point at the kept person back, restores the merged person (to be re-indexed).
    /// [`ErrorCode::NotFound`] for an unknown merge, [`ErrorCode::InvalidInput`] if already undone.
    async fn undo_merge(
        &self,
        merge_id: Uuid,
        by: &str,
        audit: &NewAuditEntry,
    ) -> Result<PersonMerge>;

    /// Merges where the person was kept or merged, newest first.
    async fn person_merges(&self, person: Uuid) -> Result<Vec<PersonMerge>>;

    /// The person this one has been merged into, if any (None also for an unknown person).
    async fn merged_into(&self, person: Uuid) -> Result<Option<Uuid>>;

    /// Brings the planner's statistics of the big tables up to date after a bulk load.
    /// PostgreSQL: `ANALYZE` of the register, record and candidate tables, and `VACUUM
    /// (ANALYZE)` of the coverage tables, which also lets their covering indexes answer alone.
    /// Without it, a server with autovacuum off (or a load faster than autovacuum) plans the
    /// coverage refresh for empty tables: a 2-million-person load went from seconds to minutes
    /// per batch. SQLite: nothing (its queries are planned without statistics, with index hints
    /// where its default choice is wrong).
    async fn refresh_statistics(&self) -> Result<()>;

    // ---- immunization registry -----------------------------------------------------------

    /// Adds or updates vaccination sites (by code); returns how many were written.
    async fn upsert_vaccination_sites(&self, sites: &[VaccinationSite]) -> Result<u64>;

    /// Every vaccination site, by code.
    async fn vaccination_sites(&self) -> Result<Vec<VaccinationSite>>;

    /// Adds or updates vaccine lots (by product and lot); returns how many were written.
    async fn upsert_vaccine_lots(&self, lots: &[VaccineLot]) -> Result<u64>;

    /// Every vaccine lot, by product and lot.
    async fn vaccine_lots(&self) -> Result<Vec<VaccineLot>>;

    /// The unit's non-zero coverage counters `(level, birth month, count)`.
    async fn coverage_counters(&self, unit: &CoverageUnit) -> Result<Vec<(Level, String, i64)>>;

    /// Tallies of the unit's residents born in the ranges, per birth date: how many, and how many
    /// had reached each level by `as_of`.
    async fn coverage_born_on(
        &self,
        unit: &CoverageUnit,
        born: &[(NaiveDate, NaiveDate)],
        as_of: NaiveDate,
    ) -> Result<Vec<coverage::BornOn>>;

    /// Tallies of the unit's residents who reached a level after `as_of`, per birth month
    /// (empty, from an index, when nobody in the store changed after `as_of`).
    async fn coverage_reached_after(
        &self,
        unit: &CoverageUnit,
        as_of: NaiveDate,
    ) -> Result<Vec<coverage::ReachedAfter>>;

    /// One person's coverage row (None for an unknown or merged person).
    async fn person_coverage(&self, person: Uuid) -> Result<Option<PersonCoverage>>;

    /// The coverage rows of these persons (unknown and merged ones left out), in any order.
    async fn person_coverages(&self, persons: &[Uuid]) -> Result<Vec<PersonCoverage>> {
        let mut out = Vec::with_capacity(persons.len());
        for p in persons {
            if let Some(c) = self.person_coverage(*p).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Recomputes every coverage row and counter from persons and dose records and compares
    /// them with the stored ones; with `write`, replaces the stored ones when they differ.
    async fn rebuild_coverage(&self, write: bool) -> Result<RebuildReport>;

    /// A page of the unit's follow-up list (rows), oldest first, and its counts.
    async fn follow_up_rows(
        &self,
        q: &FollowUpQuery,
    ) -> Result<(Page<PersonCoverage>, FollowUpCounts)>;

    /// Recorded reasons of these persons.
    async fn follow_up_notes(&self, persons: &[Uuid]) -> Result<Vec<FollowUpNote>>;

    /// Records why a person has not been vaccinated (replacing an earlier reason), audited.
    async fn set_follow_up_note(&self, note: &FollowUpNote, audit: &NewAuditEntry) -> Result<()>;

    // ---- vaccination certificates ---------------------------------------------------------

    /// Adds a key to the signing hierarchy with its audit entry, in one transaction: the current
    /// key of the same role is retired (rotation: certificates it signed stay valid) and a
    /// document signer's certificate joins the trust list as `own`. Fails with
    /// [`ErrorCode::Conflict`] for a kid already stored.
    async fn add_signing_key(&self, key: &SigningKey, audit: &NewAuditEntry) -> Result<()>;

    /// Every key of the hierarchy, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKey>>;

    /// Every trusted signer certificate, by kid.
    async fn trust_list(&self) -> Result<Vec<TrustedSigner>>;

    /// Adds signer certificates to the trust list (ones already there are skipped); returns how
    /// many were added.
    async fn add_trusted_signers(&self, signers: &[TrustedSigner]) -> Result<u64>;

    /// Inserts or updates a certificate (by id) with its audit entry. Saving one as `issued`
    /// supersedes the person's other issued certificates in the same transaction.
    async fn save_certificate(
        &self,
        certificate: &VaccinationCertificate,
        audit: &NewAuditEntry,
    ) -> Result<()>;

    /// A certificate by id.
    async fn certificate(&self, id: Uuid) -> Result<Option<VaccinationCertificate>>;

    /// A person's certificates, newest first.
    async fn certificates_of_person(&self, person: Uuid) -> Result<Vec<VaccinationCertificate>>;

    /// Certificates in a status (the approval queues), oldest first, at most `limit`.
    async fn certificates_in_status(
        &self,
        status: CertificateStatus,
        limit: u32,
    ) -> Result<Vec<VaccinationCertificate>>;

    /// Revokes a certificate id with its audit entry; false if it was revoked already.
    async fn revoke_certificate(
        &self,
        revocation: &Revocation,
        audit: &NewAuditEntry,
    ) -> Result<bool>;

    /// Every revocation.
    async fn revocations(&self) -> Result<Vec<Revocation>>;

    // ---- identity -------------------------------------------------------------------------

    /// Creates a user, with its audit entry in the same transaction; a taken username gives
    /// [`ErrorCode::Conflict`].
    async fn create_user(
        &self,
        user: &User,
        password_hash: &str,
        audit: &NewAuditEntry,
    ) -> Result<()>;

    /// A user and their password hash, by (lower-case) username.
    async fn find_user_by_username(&self, username: &str) -> Result<Option<(User, String)>>;

    async fn get_user(&self, id: Uuid) -> Result<Option<User>>;

    /// All users, by username.
    async fn list_users(&self) -> Result<Vec<User>>;

    /// Disables (ending its sessions) or re-enables an account, with its audit entry in the same
    /// transaction; returns false (nothing written) if there is no such user.
    async fn set_user_disabled(
        &self,
        id: Uuid,
        disabled: bool,
        audit: &NewAuditEntry,
    ) -> Result<bool>;

    /// Sets a new password hash, ends every session and revokes every API token of the user,
    /// with its audit entry, in one transaction.
    async fn set_password_hash(
        &self,
        id: Uuid,
        password_hash: &str,
        audit: &NewAuditEntry,
    ) -> Result<()>;

    async fn create_session(&self, session: &SessionRecord) -> Result<()>;

    /// A live session and its (enabled) user.
    async fn find_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(SessionRecord, User)>>;

    async fn delete_session(&self, token_hash: &str) -> Result<()>;

    /// Ends every session of a user (password change, account disabled).
    async fn delete_user_sessions(&self, user_id: Uuid) -> Result<()>;

    /// Stores a token's hash, with its audit entry in the same transaction.
    async fn create_api_token(&self, token: &ApiTokenRecord, audit: &NewAuditEntry) -> Result<()>;

    /// The (enabled) user owning a live API token.
    async fn find_api_token(&self, token_hash: &str) -> Result<Option<User>>;

    /// Reserves a login attempt on a throttle key (a user or an address) atomically: refuses
    /// while the key is locked, otherwise counts the attempt as a failure in advance (see
    /// [`domain::auth::throttle::reserve`]). `free` is the number of failures allowed before
    /// locking.
    async fn throttle_reserve(
        &self,
        key: &str,
        now: DateTime<Utc>,
        free: u32,
    ) -> Result<domain::auth::throttle::Reservation>;

    /// Releases a reservation after a successful attempt: `forget` deletes the key's counters
    /// (the user proved who they are); otherwise one attempt is taken back and the lock lifted.
    async fn throttle_release(&self, key: &str, forget: bool) -> Result<()>;

    // ---- audit ----------------------------------------------------------------------------

    /// Appends an entry to the hash chain (serialised against concurrent appends).
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry>;

    /// A page of entries, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Page<AuditEntry>>;

    /// Every entry in sequence order and the recorded head `(seq, hash)`, for verification.
    async fn audit_chain(&self) -> Result<(Vec<AuditEntry>, Option<(i64, String)>)>;

    /// Closes the pool, waiting for connections to finish (graceful shutdown).
    async fn close(&self);
}

/// Recomputes the population denominators from the register at `as_of` and stores them.
/// Returns the number of rows written.
pub async fn rebuild_denominators(store: &dyn Store, as_of: NaiveDate) -> Result<usize> {
    let people = store.person_demographics().await?;
    let rows = domain::population::compute_denominators(
        people.iter().map(|(c, s, d)| (c.as_str(), *s, *d)),
        as_of,
    );
    store.replace_denominators(as_of, &rows).await?;
    Ok(rows.len())
}

/// Coverage of a unit at a date from the counters (see [`coverage`]).
pub async fn coverage_report(
    store: &dyn Store,
    unit: &CoverageUnit,
    as_of: NaiveDate,
) -> Result<CoverageReport> {
    let counters = store.coverage_counters(unit).await?;
    let boundary = coverage::boundary_months(&counters, as_of);
    let born_on = store.coverage_born_on(unit, &boundary, as_of).await?;
    // Boundary months among these are skipped: they are counted from `born_on` already.
    let reached_after = store.coverage_reached_after(unit, as_of).await?;
    Ok(coverage::assemble_report(
        unit,
        as_of,
        &counters,
        &born_on,
        &reached_after,
    ))
}

/// The household id for a source system's household reference (stable: the same reference
/// always gives the same id).
pub fn household_id_for(reference: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("phongdich:household:{reference}").as_bytes(),
    )
}

/// Checks an audit chain end to end (`phongdich audit verify`).
pub async fn verify_audit(
    store: &dyn Store,
) -> Result<std::result::Result<usize, domain::audit::ChainBreak>> {
    let (entries, head) = store.audit_chain().await?;
    Ok(
        domain::audit::verify_chain(&entries, head.as_ref().map(|(s, h)| (*s, h.as_str())))
            .map(|()| entries.len()),
    )
}

/// A parsed `--database` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH`, `postgres://…` and `postgresql://…`.
    pub fn parse(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        if let Some(path) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(bad_url(raw, "thiếu đường dẫn tệp", "missing file path"));
            }
            Ok(DatabaseUrl::Sqlite(raw.to_string()))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(raw.to_string()))
        } else {
            Err(bad_url(
                raw,
                "chỉ hỗ trợ sqlite://ĐƯỜNG_DẪN hoặc postgres://…",
                "only sqlite://PATH or postgres://… are supported",
            ))
        }
    }

    /// The URL with any password replaced by `***`, safe for logs and messages.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(s) => s.clone(),
            DatabaseUrl::Postgres(s) => redact_password(s),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

fn bad_url(raw: &str, vi: &str, en: &str) -> Error {
    let shown = redact_password(raw);
    Error::new(
        ErrorCode::InvalidConfig,
        format!("Địa chỉ cơ sở dữ liệu không hợp lệ «{shown}»: {vi}"),
        format!("Invalid database URL «{shown}»: {en}"),
    )
}

/// Opens the database named by `url`, choosing the backend from its scheme. Does not migrate.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(u) => Ok(Arc::new(sqlite::SqliteStore::connect(&u).await?)),
        DatabaseUrl::Postgres(u) => Ok(Arc::new(postgres::PgStore::connect(&u).await?)),
    }
}

/// [`connect`] then [`Store::migrate`].
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    let store = connect(url).await?;
    store.migrate().await?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://./phongdich.db").unwrap(),
            DatabaseUrl::Sqlite("sqlite://./phongdich.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        let e = DatabaseUrl::parse("mysql://root:secret@h/db").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert!(!e.message_vi.contains("secret"), "{}", e.message_vi);
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn redacts_passwords() {
        let u = DatabaseUrl::parse("postgres://app:hunter2@db:5432/x").unwrap();
        assert_eq!(u.redacted(), "postgres://app:***@db:5432/x");
    }
}

/// When a bulk load refreshes the planner's statistics ([`Store::refresh_statistics`]): after
/// its first rows, then each time the rows loaded have doubled, so a load of `n` rows refreshes
/// about log2(n / first) times.
#[derive(Debug, Clone)]
pub struct StatisticsSchedule {
    next_at: u64,
}

impl StatisticsSchedule {
    /// Refresh first once `first` rows are in.
    pub fn new(first: u64) -> Self {
        StatisticsSchedule {
            next_at: first.max(1),
        }
    }

    /// Whether the load, now at `loaded` rows, is due a refresh (and moves the next one on).
    pub fn due(&mut self, loaded: u64) -> bool {
        if loaded < self.next_at {
            return false;
        }
        self.next_at = loaded.saturating_mul(2);
        true
    }

    /// Refreshes the statistics when [`StatisticsSchedule::due`].
    pub async fn after(&mut self, store: &dyn Store, loaded: u64) -> Result<()> {
        if self.due(loaded) {
            store.refresh_statistics().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod statistics_schedule_tests {
    use super::StatisticsSchedule;

    #[test]
    fn refreshes_come_at_the_first_rows_then_at_each_doubling() {
        let mut s = StatisticsSchedule::new(10_000);
        let due: Vec<u64> = (1..=100u64)
            .map(|batch| batch * 5_000)
            .filter(|&loaded| s.due(loaded))
            .collect();
        assert_eq!(due, [10_000, 20_000, 40_000, 80_000, 160_000, 320_000]);
    }
}
