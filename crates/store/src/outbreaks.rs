//! Types and contract of outbreak-response storage (migration `0009_outbreaks`): contacts (F1)
//! of cases with their follow-up and quarantine, clusters (ổ dịch) with zoning, end date and
//! sequencing of unusual clusters, sample collection sessions with pooled samples and their
//! break-down, the laboratory queue, and health declarations of people entering through border
//! gates with the daily count of entrants (the denominator of the declared share).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::surveillance::TestResult;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cases::CaseUnits;
use crate::{PersonScope, Result};

/// Follow-up state of a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactStatus {
    /// Being followed (quarantine or self-monitoring).
    Monitoring,
    /// Follow-up ended without infection.
    Released,
    /// Tested positive: `became_case_id` is their case.
    BecameCase,
    /// Could not be reached.
    Lost,
}

/// A contact (F1) of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    pub id: Uuid,
    /// The case they were exposed to.
    pub case_id: Uuid,
    #[serde(flatten)]
    pub units: CaseUnits,
    /// The register person, when identified.
    pub person_id: Option<Uuid>,
    pub full_name: String,
    pub phone: String,
    pub national_id: String,
    /// household, work, school, health_care, social, travel, other.
    pub relation: String,
    pub last_exposure: NaiveDate,
    /// End of quarantine / self-monitoring.
    pub quarantine_until: Option<NaiveDate>,
    /// `home`, `facility` or `none` (self-monitoring).
    pub quarantine_place: String,
    pub status: ContactStatus,
    pub became_case_id: Option<Uuid>,
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether an area is zoned off around a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Zoning {
    None,
    Zoned,
    Lifted,
}

/// Where a cluster's genome sequencing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sequencing {
    NotNeeded,
    /// Unusual: samples must be sent.
    ToSample,
    /// Samples referred to a sequencing lab.
    Referred,
    /// A variant result came back.
    Resulted,
}

/// A cluster (ổ dịch). Its cases carry `cluster_id` (see [`crate::cases::Case`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    pub id: Uuid,
    #[serde(flatten)]
    pub units: CaseUnits,
    pub name: String,
    /// The place (market, factory, school, alley…).
    pub place: String,
    pub opened_on: NaiveDate,
    /// Sample date of the cluster's latest case.
    pub last_case_on: Option<NaiveDate>,
    /// When the cluster ends (8 days after the last case under group B), recomputed from
    /// `last_case_on` by the caller.
    pub ends_on: Option<NaiveDate>,
    pub closed: bool,
    pub zoning: Zoning,
    pub unusual: bool,
    pub unusual_reason: String,
    pub sequencing: Sequencing,
    pub sample_referred_on: Option<NaiveDate>,
    pub sequencing_lab: String,
    pub variant: String,
    pub variant_result_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A sample collection session (điểm lấy mẫu).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleSession {
    pub id: Uuid,
    #[serde(flatten)]
    pub units: CaseUnits,
    pub place: String,
    pub held_on: NaiveDate,
    /// The lab the samples go to.
    pub lab_code: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A sample's place in the lab workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleStatus {
    Collected,
    /// Received by the lab, waiting for a result (the lab queue).
    Received,
    Resulted,
}

/// One person of a sample (a pooled sample has several).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleMember {
    pub person_id: Option<Uuid>,
    pub full_name: String,
    pub national_id: String,
    pub phone: String,
}

/// A collected sample: single, or pooled (gộp mẫu) from several persons. A positive pool is
/// broken down: one new single sample per member, with `pool_id` pointing back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub id: Uuid,
    pub session_id: Uuid,
    pub province_code: String,
    /// Label on the tube.
    pub code: String,
    pub members: Vec<SampleMember>,
    /// The pool this single sample was taken again for.
    pub pool_id: Option<Uuid>,
    pub lab_code: String,
    pub collected_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub resulted_at: Option<DateTime<Utc>>,
    pub result: Option<TestResult>,
    pub status: SampleStatus,
}

impl Sample {
    pub fn pooled(&self) -> bool {
        self.members.len() > 1
    }
}

/// A health declaration of a person entering through a border gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryDeclaration {
    pub id: Uuid,
    /// Destination (where they will be followed).
    #[serde(flatten)]
    pub units: CaseUnits,
    pub full_name: String,
    /// CCCD or passport number.
    pub document_number: String,
    pub phone: String,
    pub gate_code: String,
    pub entered_on: NaiveDate,
    /// Country or area they come from.
    pub from_area: String,
    /// The area has a dangerous variant.
    pub variant_area: bool,
    /// Followed until (entry + incubation period).
    pub followup_until: NaiveDate,
    /// `following`, `completed`, `became_case`, `lost`.
    pub status: String,
    pub case_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Entrants counted at a gate on a day (declared or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BorderCount {
    pub gate_code: String,
    pub province_code: String,
    pub day: NaiveDate,
    pub entrants: i64,
    /// Of them, from areas with a dangerous variant.
    pub from_variant_areas: i64,
}

/// The stored (and serialised, snake_case) code of each variant: `as_str`, `parse`.
macro_rules! stored_codes {
    ($name:ident { $($variant:ident => $code:literal,)+ }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised code.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The variant of a stored code.
            pub fn parse(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == code)
            }
        }
    };
}

stored_codes!(ContactStatus {
    Monitoring => "monitoring",
    Released => "released",
    BecameCase => "became_case",
    Lost => "lost",
});

stored_codes!(Zoning {
    None => "none",
    Zoned => "zoned",
    Lifted => "lifted",
});

stored_codes!(Sequencing {
    NotNeeded => "not_needed",
    ToSample => "to_sample",
    Referred => "referred",
    Resulted => "resulted",
});

stored_codes!(SampleStatus {
    Collected => "collected",
    Received => "received",
    Resulted => "resulted",
});

/// Storage of contacts, clusters, samples and entry declarations. A supertrait of
/// [`crate::Store`]. Every write takes its audit entry and commits with it.
#[async_trait]
pub trait OutbreakStore: Send + Sync {
    /// Inserts or updates a contact (by id).
    async fn save_contact(&self, contact: &Contact, audit: &NewAuditEntry) -> Result<()>;
    async fn contact(&self, id: Uuid) -> Result<Option<Contact>>;
    /// Contacts of a case, oldest first.
    async fn contacts_of_case(&self, case_id: Uuid) -> Result<Vec<Contact>>;
    /// Contacts in a scope (by their units), optionally in one status, newest exposure first.
    async fn contacts_in_scope(
        &self,
        scope: &PersonScope,
        status: Option<ContactStatus>,
        limit: u32,
    ) -> Result<Vec<Contact>>;
    /// Contacts (any case) of these register persons — to mark them when they become cases.
    async fn contacts_of_persons(&self, persons: &[Uuid]) -> Result<Vec<Contact>>;

    /// Inserts or updates a cluster (by id).
    async fn save_cluster(&self, cluster: &Cluster, audit: &NewAuditEntry) -> Result<()>;
    async fn cluster(&self, id: Uuid) -> Result<Option<Cluster>>;
    /// Clusters in a scope, newest first; closed ones only when asked.
    async fn clusters_in_scope(
        &self,
        scope: &PersonScope,
        include_closed: bool,
        limit: u32,
    ) -> Result<Vec<Cluster>>;
    /// Puts cases into a cluster (or out of any, with `None`), and moves the cluster's
    /// `last_case_on` / `ends_on` as given, in one transaction with the audit entry.
    async fn assign_cases_to_cluster(
        &self,
        cases: &[Uuid],
        cluster: Option<&Cluster>,
        audit: &NewAuditEntry,
    ) -> Result<()>;

    /// Inserts a sampling session.
    async fn save_sample_session(
        &self,
        session: &SampleSession,
        audit: &NewAuditEntry,
    ) -> Result<()>;
    async fn sample_session(&self, id: Uuid) -> Result<Option<SampleSession>>;
    /// Sessions in a scope, newest first.
    async fn sample_sessions(&self, scope: &PersonScope, limit: u32) -> Result<Vec<SampleSession>>;
    /// Inserts or updates samples (by id) in one transaction with the audit entry (a pool's
    /// result and its break-down samples go together).
    async fn save_samples(&self, samples: &[Sample], audit: &NewAuditEntry) -> Result<()>;
    async fn sample(&self, id: Uuid) -> Result<Option<Sample>>;
    async fn samples_of_session(&self, session: Uuid) -> Result<Vec<Sample>>;
    /// The lab's queue: samples sent to it not yet resulted, oldest collection first.
    async fn lab_queue(&self, lab_code: &str, limit: u32) -> Result<Vec<Sample>>;
    /// Resulted samples of a lab collected in `[from, to]` (turnaround statistics).
    async fn resulted_samples(
        &self,
        lab_code: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Sample>>;

    /// Inserts or updates an entry declaration (by id).
    async fn save_entry_declaration(
        &self,
        declaration: &EntryDeclaration,
        audit: &NewAuditEntry,
    ) -> Result<()>;
    /// Declarations with an entry date in `[from, to]` whose destination is in the scope.
    async fn entry_declarations(
        &self,
        scope: &PersonScope,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EntryDeclaration>>;
    /// Records (replaces) a gate's count of entrants for a day.
    async fn save_border_count(&self, count: &BorderCount, audit: &NewAuditEntry) -> Result<()>;
    /// Gate counts of a 2025 province (all provinces with `None`) in `[from, to]`.
    async fn border_counts(
        &self,
        province_code: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<BorderCount>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T>(all: &[T], as_str: fn(T) -> &'static str, parse: fn(&str) -> Option<T>)
    where
        T: Serialize + Copy + PartialEq + std::fmt::Debug,
    {
        for v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), as_str(*v));
            assert_eq!(parse(as_str(*v)), Some(*v));
        }
        assert_eq!(parse("unknown"), None);
    }

    #[test]
    fn stored_codes_are_the_serialised_names() {
        check(
            ContactStatus::ALL,
            ContactStatus::as_str,
            ContactStatus::parse,
        );
        check(Zoning::ALL, Zoning::as_str, Zoning::parse);
        check(Sequencing::ALL, Sequencing::as_str, Sequencing::parse);
        check(SampleStatus::ALL, SampleStatus::as_str, SampleStatus::parse);
    }
}
