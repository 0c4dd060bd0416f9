//! Outbreak response (DOMAIN.md §1 "contact tracing, sample collection management and test-result
//! reporting", §9 the Lai Châu crisis targets, §12 privacy): contacts (F1) of cases and their
//! quarantine, clusters (ổ dịch) with their end date, zoning and the sequencing of unusual
//! clusters, the chain of transmission, sampling sessions with single and pooled samples, the
//! laboratory queue and its turnaround, and health declarations of people entering through
//! border gates with the share of entrants from variant areas who declared.
//!
//! The store keeps what is decided here ([`store::OutbreakStore`]); every write takes the
//! caller's audit entry (its `at`, actor and address are kept; entity and details are filled
//! per record). Time is a parameter: `now` (an instant) and dates derived from it in Vietnam's
//! local time ([`local_date`]).
//!
//! Numbers that DOMAIN.md does not give are named constants documented as **unverified
//! defaults** (the unusual-cluster thresholds, the contact quarantine length when no
//! ruleset gives one, the window within which a contact's case counts as coming from the
//! exposure). The cluster end (8 days after the last case under group B) and the entrants'
//! follow-up (incubation, 4 days under group B) come from [`CaseRules`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use domain::audit::NewAuditEntry;
use domain::auth::UnitRef;
use domain::case_rules::{CaseRules, RiskGroup};
use domain::person::{NationalId, Person, Phone};
use domain::surveillance::{Classification, DetectionSource, Outcome, TestResult, TestType};
use domain::units::{AdminUnits, UnitLevel, UnitVersion};
use domain::{Error, ErrorCode};
use serde::{Deserialize, Serialize};
use store::{
    BorderCount, Case, CaseUnits, Cluster, Contact, ContactStatus, EntryDeclaration, PersonScope,
    Sample, SampleMember, SampleSession, SampleStatus, Sequencing, Store, Zoning,
};
use uuid::Uuid;

type Result<T> = std::result::Result<T, Error>;

/// No SARS-CoV-2 exposure, sample or entry the system records is older than this.
const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2020, 1, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};

/// Longest free text kept (names of places, notes).
pub const MAX_TEXT_CHARS: usize = 500;
/// Longest short code kept (sample, lab, gate codes).
pub const MAX_CODE_CHARS: usize = 40;

pub use domain::vietnam_time::local_date;

fn add_days(d: NaiveDate, days: i64) -> NaiveDate {
    d.checked_add_signed(TimeDelta::days(days))
        .unwrap_or(NaiveDate::MAX)
}

// ---------------------------------------------------------------------------------------------
// Input checks shared by every part
// ---------------------------------------------------------------------------------------------

/// A trimmed text field of at most `max` characters; `required` refuses an empty one.
fn text(field: &str, label_vi: &str, raw: &str, max: usize, required: bool) -> Result<String> {
    let t = raw.trim();
    if required && t.is_empty() {
        return Err(Error::invalid(
            field,
            format!("Thiếu {label_vi}"),
            format!("{field} is required"),
        ));
    }
    if t.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("{label_vi} dài quá {max} ký tự"),
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(t.to_string())
}

/// A date typed as YYYY-MM-DD or DD/MM/YYYY, not in the future nor before 2020.
fn day(field: &str, label_vi: &str, raw: &str, today: NaiveDate) -> Result<NaiveDate> {
    let d = domain::dose_record::parse_date(raw).ok_or_else(|| {
        Error::invalid(
            field,
            format!("{label_vi} «{}» không đọc được (dd/mm/yyyy)", raw.trim()),
            format!("{field} «{}» is not a date (dd/mm/yyyy)", raw.trim()),
        )
    })?;
    if d > today {
        return Err(Error::invalid(
            field,
            format!("{label_vi} ở tương lai"),
            format!("{field} is in the future"),
        ));
    }
    if d < FIRST_DAY {
        return Err(Error::invalid(
            field,
            format!("{label_vi} trước 01/01/2020"),
            format!("{field} is before 1 January 2020"),
        ));
    }
    Ok(d)
}

/// A citizen ID when one is typed (12 digits), empty otherwise.
fn national_id(field: &str, raw: &str) -> Result<String> {
    let t: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if t.is_empty() {
        return Ok(t);
    }
    NationalId::parse(&t)
        .map(|n| n.as_str().to_string())
        .map_err(|_| {
            Error::invalid(
                field,
                "Số CCCD phải gồm 12 chữ số",
                "A citizen ID has 12 digits",
            )
        })
}

/// A phone number when one is typed, normalised; empty otherwise.
fn phone(field: &str, raw: &str) -> Result<String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(String::new());
    }
    Phone::parse(t)
        .map(|p| p.as_str().to_string())
        .map_err(|_| {
            Error::invalid(
                field,
                format!("Số điện thoại «{t}» không hợp lệ"),
                format!("Invalid phone number «{t}»"),
            )
        })
}

fn one_of(field: &str, label_vi: &str, raw: &str, allowed: &[&str]) -> Result<String> {
    let t = raw.trim().to_lowercase();
    if allowed.contains(&t.as_str()) {
        Ok(t)
    } else {
        Err(Error::invalid(
            field,
            format!(
                "{label_vi} «{}» không hợp lệ (chọn một trong: {})",
                raw.trim(),
                allowed.join(", ")
            ),
            format!(
                "invalid {field} «{}» (one of: {})",
                raw.trim(),
                allowed.join(", ")
            ),
        ))
    }
}

/// The caller's audit entry for one record: action, entity, unit and details filled in.
fn entry_for(
    base: &NewAuditEntry,
    action: &str,
    entity: &str,
    id: impl ToString,
    unit: &str,
    details: serde_json::Value,
) -> NewAuditEntry {
    NewAuditEntry {
        action: action.to_string(),
        entity_type: Some(entity.to_string()),
        entity_id: Some(id.to_string()),
        unit_code: (!unit.is_empty()).then(|| unit.to_string()),
        details,
        ..base.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Units and scope
// ---------------------------------------------------------------------------------------------

/// The units of a commune typed in either hierarchy (`version`), in both: a 2025 commune keeps
/// the pre-2025 units its old communes share; a pre-2025 commune goes to the 2025 commune
/// holding most of it. Provinces and districts are refused: a place lies in a commune.
pub fn units_of_commune(units: &AdminUnits, version: UnitVersion, code: &str) -> Result<CaseUnits> {
    let code = code.trim();
    let not_commune = || {
        Error::invalid(
            "commune_code",
            format!("«{code}» không phải mã xã/phường"),
            format!("«{code}» is not a commune code"),
        )
    };
    let unit = units
        .hierarchy(version)
        .require(code)
        .map_err(|_| not_commune())?;
    if unit.level != UnitLevel::Commune {
        return Err(not_commune());
    }
    match version {
        UnitVersion::V2025 => {
            let olds = units.old_communes_for_new(code);
            let common = |f: &dyn Fn(&str) -> Option<String>| -> Option<String> {
                let mut values = olds.iter().map(|o| f(o));
                let first = values.next()??;
                values
                    .all(|v| v.as_deref() == Some(&first))
                    .then_some(first)
            };
            Ok(CaseUnits {
                province_code: units
                    .v2025
                    .province_of(code)
                    .map(|u| u.code.clone())
                    .unwrap_or_default(),
                commune_code: code.to_string(),
                old_commune_code: (olds.len() == 1).then(|| olds[0].clone()),
                old_district_code: common(&|o| {
                    units.pre2025.get(o).and_then(|u| u.parent_code.clone())
                }),
                old_province_code: common(&|o| {
                    units.pre2025.province_of(o).map(|u| u.code.clone())
                }),
            })
        }
        UnitVersion::Pre2025 => {
            let new = units.default_new_commune(code).ok_or_else(|| {
                Error::invalid(
                    "commune_code",
                    format!("Xã «{code}» không có trong bảng chuyển đổi sang danh mục 2025"),
                    format!("Commune «{code}» has no 2025 commune in the mapping"),
                )
            })?;
            Ok(CaseUnits {
                province_code: units
                    .v2025
                    .province_of(new)
                    .map(|u| u.code.clone())
                    .unwrap_or_default(),
                commune_code: new.to_string(),
                old_commune_code: Some(code.to_string()),
                old_district_code: unit.parent_code.clone(),
                old_province_code: units.pre2025.province_of(code).map(|u| u.code.clone()),
            })
        }
    }
}

/// Whether a record's units lie within a scope unit: by the 2025 commune (or province when no
/// commune is known) for a 2025 scope; by the most precise pre-2025 code known for a pre-2025
/// scope. A record without the codes the scope needs is outside it.
pub fn units_within(units: &AdminUnits, scope: &UnitRef, u: &CaseUnits) -> bool {
    match scope.version {
        UnitVersion::V2025 => {
            if !u.commune_code.is_empty() {
                units.v2025.is_within(&u.commune_code, &scope.code)
            } else {
                !u.province_code.is_empty() && u.province_code == scope.code
            }
        }
        UnitVersion::Pre2025 => [
            &u.old_commune_code,
            &u.old_district_code,
            &u.old_province_code,
        ]
        .into_iter()
        .flatten()
        .next()
        .is_some_and(|c| units.pre2025.is_within(c, &scope.code)),
    }
}

// ---------------------------------------------------------------------------------------------
// Contacts (F1)
// ---------------------------------------------------------------------------------------------

/// Relations of a contact to the case.
pub const CONTACT_RELATIONS: [&str; 7] = [
    "household",
    "work",
    "school",
    "health_care",
    "social",
    "travel",
    "other",
];

/// Where a contact is quarantined (`none`: self-monitoring).
pub const QUARANTINE_PLACES: [&str; 3] = ["home", "facility", "none"];

/// A contact's case counts as coming from the exposure when its first positive falls within
/// this many days after the last exposure (the longest incubation period in use, 14 days under
/// group A practice). **Unverified default**: DOMAIN.md gives no such window.
pub const BECAME_CASE_WINDOW_DAYS: i64 = 14;

/// How long contacts are followed. DOMAIN.md gives no contact quarantine length, so this is a
/// **configurable default, unverified** (`VERIFIED = false`): by default a contact is followed
/// for one incubation period after the last exposure, from the case ruleset in force on that
/// day (14 days under group A practice, 4 under group B); a province may set a fixed number of
/// days, and a single contact may be given its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContactRules {
    pub quarantine_days: Option<i64>,
}

impl ContactRules {
    /// No official text confirms the default.
    pub const VERIFIED: bool = false;
    /// Longest quarantine one may set.
    pub const MAX_DAYS: i64 = 60;

    /// The days a contact exposed on `last_exposure` is followed (`own` overrides).
    pub fn days(&self, last_exposure: NaiveDate, own: Option<i64>) -> i64 {
        own.or(self.quarantine_days).unwrap_or_else(|| {
            CaseRules::embedded()
                .at(last_exposure)
                .incubation_days
                .value
        })
    }

    /// Last day of quarantine / self-monitoring.
    pub fn quarantine_until(&self, last_exposure: NaiveDate, own: Option<i64>) -> NaiveDate {
        add_days(last_exposure, self.days(last_exposure, own))
    }
}

/// A contact as typed (form or API).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContactInput {
    pub full_name: String,
    /// CCCD: links the contact to the register person holding it.
    pub national_id: String,
    pub phone: String,
    /// One of [`CONTACT_RELATIONS`] (default `other`).
    pub relation: String,
    /// YYYY-MM-DD or DD/MM/YYYY.
    pub last_exposure: String,
    /// One of [`QUARANTINE_PLACES`] (default `home`).
    pub quarantine_place: String,
    pub note: String,
    /// Days of quarantine for this contact (else [`ContactRules`]).
    pub quarantine_days: Option<i64>,
}

/// A checked contact, before it is matched with the register.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidContact {
    pub full_name: String,
    pub national_id: String,
    pub phone: String,
    pub relation: String,
    pub last_exposure: NaiveDate,
    pub quarantine_place: String,
    pub note: String,
    pub quarantine_days: Option<i64>,
}

/// Checks a typed contact.
pub fn validate_contact(input: &ContactInput, today: NaiveDate) -> Result<ValidContact> {
    let national_id = national_id("national_id", &input.national_id)?;
    let full_name = text(
        "full_name",
        "họ tên",
        &input.full_name,
        200,
        national_id.is_empty(),
    )?;
    let relation = if input.relation.trim().is_empty() {
        "other".to_string()
    } else {
        one_of("relation", "Quan hệ", &input.relation, &CONTACT_RELATIONS)?
    };
    let quarantine_place = if input.quarantine_place.trim().is_empty() {
        "home".to_string()
    } else {
        one_of(
            "quarantine_place",
            "Nơi cách ly",
            &input.quarantine_place,
            &QUARANTINE_PLACES,
        )?
    };
    if let Some(d) = input.quarantine_days
        && !(0..=ContactRules::MAX_DAYS).contains(&d)
    {
        return Err(Error::invalid(
            "quarantine_days",
            format!("Số ngày cách ly phải từ 0 đến {}", ContactRules::MAX_DAYS),
            format!(
                "quarantine_days must be between 0 and {}",
                ContactRules::MAX_DAYS
            ),
        ));
    }
    Ok(ValidContact {
        full_name,
        national_id,
        phone: phone("phone", &input.phone)?,
        relation,
        last_exposure: day(
            "last_exposure",
            "Ngày tiếp xúc cuối",
            &input.last_exposure,
            today,
        )?,
        quarantine_place,
        note: text("note", "ghi chú", &input.note, MAX_TEXT_CHARS, false)?,
        quarantine_days: input.quarantine_days,
    })
}

/// Whether `case` is the infection a contact got from the exposure: another case than the one
/// they were exposed to, not discarded, first positive within [`BECAME_CASE_WINDOW_DAYS`] from
/// the last exposure.
pub fn became_case_of(contact: &Contact, case: &Case) -> bool {
    case.id != contact.case_id
        && case.classification != Classification::Discarded
        && case.first_positive >= contact.last_exposure
        && case.first_positive <= add_days(contact.last_exposure, BECAME_CASE_WINDOW_DAYS)
}

/// Marks a contact as having become `case`.
fn set_became_case(contact: &mut Contact, case: &Case, now: DateTime<Utc>) {
    contact.status = ContactStatus::BecameCase;
    contact.became_case_id = Some(case.id);
    contact.updated_at = now;
}

/// Adds contacts to a case: each is checked, linked to the register person holding its CCCD
/// (their residence gives the contact's units; otherwise the case's), followed until the last
/// exposure plus the configured days, and stored with its own audit entry (`contact.add`). A
/// contact already listed for the case (same person or CCCD) is updated instead: the later
/// exposure is kept and the quarantine recomputed. A contact who already is a case from this
/// exposure is stored as `became_case`.
pub async fn add_contacts(
    store: &dyn Store,
    case: &Case,
    inputs: &[ContactInput],
    rules: &ContactRules,
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<Vec<Contact>> {
    if inputs.is_empty() {
        return Err(Error::invalid(
            "contacts",
            "Chưa có người tiếp xúc nào",
            "No contact given",
        ));
    }
    if inputs.len() > 200 {
        return Err(Error::invalid(
            "contacts",
            "Tối đa 200 người tiếp xúc mỗi lần",
            "At most 200 contacts at a time",
        ));
    }
    let today = local_date(now);
    let mut valid = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        valid.push(validate_contact(input, today).map_err(|e| {
            let mut details = e.details.clone();
            if let Some(o) = details.as_object_mut() {
                o.insert("index".into(), serde_json::json!(i));
            }
            e.with_details(details)
        })?);
    }
    let ids: Vec<String> = valid
        .iter()
        .filter(|v| !v.national_id.is_empty())
        .map(|v| v.national_id.clone())
        .collect();
    let persons: HashMap<String, Person> = if ids.is_empty() {
        HashMap::new()
    } else {
        store
            .persons_by_national_ids(&ids)
            .await?
            .into_iter()
            .filter_map(|p| {
                let n = p.national_id.as_ref()?.as_str().to_string();
                Some((n, p))
            })
            .collect()
    };
    let linked: Vec<Uuid> = persons.values().map(|p| p.id).collect();
    if case.person_id.is_some_and(|own| linked.contains(&own)) {
        return Err(Error::invalid(
            "national_id",
            "Ca bệnh không thể là người tiếp xúc của chính mình",
            "A case cannot be its own contact",
        ));
    }
    let cases: HashMap<Uuid, Case> = if linked.is_empty() {
        HashMap::new()
    } else {
        store
            .latest_cases_of_persons(&linked)
            .await?
            .into_iter()
            .filter_map(|c| Some((c.person_id?, c)))
            .collect()
    };
    let existing = store.contacts_of_case(case.id).await?;
    let mut out: Vec<Contact> = Vec::with_capacity(valid.len());
    for v in valid {
        let person = persons.get(&v.national_id);
        let same = |c: &Contact| {
            (person.is_some() && c.person_id == person.map(|p| p.id))
                || (!v.national_id.is_empty() && c.national_id == v.national_id)
        };
        let previous = out
            .iter()
            .rev()
            .find(|c| same(c))
            .or_else(|| existing.iter().find(|c| same(c)))
            .cloned();
        let mut contact = match previous {
            Some(mut c) => {
                if v.last_exposure > c.last_exposure {
                    c.last_exposure = v.last_exposure;
                }
                c.relation = v.relation.clone();
                c.quarantine_place = v.quarantine_place.clone();
                if !v.phone.is_empty() {
                    c.phone = v.phone.clone();
                }
                if !v.note.is_empty() {
                    c.note = v.note.clone();
                }
                c.updated_at = now;
                c
            }
            None => Contact {
                id: Uuid::now_v7(),
                case_id: case.id,
                units: person
                    .map(CaseUnits::of_person)
                    .unwrap_or_else(|| case.units.clone()),
                person_id: person.map(|p| p.id),
                full_name: if v.full_name.is_empty() {
                    person.map(|p| p.full_name.clone()).unwrap_or_default()
                } else {
                    v.full_name.clone()
                },
                phone: if v.phone.is_empty() {
                    person
                        .and_then(|p| p.phone.as_ref())
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default()
                } else {
                    v.phone.clone()
                },
                national_id: v.national_id.clone(),
                relation: v.relation.clone(),
                last_exposure: v.last_exposure,
                quarantine_until: None,
                quarantine_place: v.quarantine_place.clone(),
                status: ContactStatus::Monitoring,
                became_case_id: None,
                note: v.note.clone(),
                created_at: now,
                updated_at: now,
            },
        };
        contact.quarantine_until =
            Some(rules.quarantine_until(contact.last_exposure, v.quarantine_days));
        if contact.status == ContactStatus::Monitoring
            && let Some(c) = contact.person_id.and_then(|p| cases.get(&p))
            && became_case_of(&contact, c)
        {
            set_became_case(&mut contact, c, now);
        }
        out.retain(|c| c.id != contact.id);
        out.push(contact);
    }
    for c in &out {
        let entry = entry_for(
            audit,
            "contact.add",
            "contact",
            c.id,
            &c.units.commune_code,
            serde_json::json!({
                "case_id": c.case_id,
                "linked": c.person_id.is_some(),
                "relation": c.relation,
                "status": c.status,
            }),
        );
        store.save_contact(c, &entry).await?;
    }
    Ok(out)
}

/// A change to a contact's follow-up (form or API `PATCH`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContactPatch {
    /// `monitoring`, `released` or `lost` (`became_case` is set by the system).
    pub status: Option<String>,
    /// YYYY-MM-DD or DD/MM/YYYY.
    pub quarantine_until: Option<String>,
    pub quarantine_place: Option<String>,
    pub note: Option<String>,
}

/// Applies a change to a contact (pure). A contact who became a case keeps that status.
pub fn apply_contact_patch(
    contact: &Contact,
    patch: &ContactPatch,
    now: DateTime<Utc>,
) -> Result<Contact> {
    let mut c = contact.clone();
    if let Some(s) = &patch.status {
        let s = one_of(
            "status",
            "Trạng thái",
            s,
            &["monitoring", "released", "lost"],
        )?;
        if c.status == ContactStatus::BecameCase {
            return Err(Error::invalid(
                "status",
                "Người tiếp xúc đã trở thành ca bệnh; không đổi trạng thái được",
                "The contact became a case; the status cannot change",
            ));
        }
        c.status = match s.as_str() {
            "monitoring" => ContactStatus::Monitoring,
            "released" => ContactStatus::Released,
            _ => ContactStatus::Lost,
        };
    }
    if let Some(raw) = &patch.quarantine_until {
        if raw.trim().is_empty() {
            c.quarantine_until = None;
        } else {
            let d = domain::dose_record::parse_date(raw).ok_or_else(|| {
                Error::invalid(
                    "quarantine_until",
                    format!("Ngày hết cách ly «{}» không đọc được", raw.trim()),
                    format!("quarantine_until «{}» is not a date", raw.trim()),
                )
            })?;
            if d < c.last_exposure || d > add_days(c.last_exposure, ContactRules::MAX_DAYS) {
                return Err(Error::invalid(
                    "quarantine_until",
                    "Ngày hết cách ly phải sau ngày tiếp xúc cuối và không quá 60 ngày",
                    "quarantine_until must follow the last exposure by at most 60 days",
                ));
            }
            c.quarantine_until = Some(d);
        }
    }
    if let Some(p) = &patch.quarantine_place {
        c.quarantine_place = one_of("quarantine_place", "Nơi cách ly", p, &QUARANTINE_PLACES)?;
    }
    if let Some(n) = &patch.note {
        c.note = text("note", "ghi chú", n, MAX_TEXT_CHARS, false)?;
    }
    if c != *contact {
        c.updated_at = now;
    }
    Ok(c)
}

/// Stores a contact change (audited `contact.update`); unchanged contacts are not written.
pub async fn update_contact(
    store: &dyn Store,
    contact: &Contact,
    patch: &ContactPatch,
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<Contact> {
    let updated = apply_contact_patch(contact, patch, now)?;
    if updated != *contact {
        let entry = entry_for(
            audit,
            "contact.update",
            "contact",
            updated.id,
            &updated.units.commune_code,
            serde_json::json!({"status": updated.status, "quarantine_until": updated.quarantine_until}),
        );
        store.save_contact(&updated, &entry).await?;
    }
    Ok(updated)
}

/// Where a contact stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ContactState {
    /// Followed, `days_left` days of quarantine left (0 on the last day).
    InQuarantine {
        days_left: i64,
    },
    /// Still `monitoring` but the quarantine is over: to be released.
    QuarantineOver,
    Released,
    BecameCase,
    Lost,
}

impl ContactState {
    pub fn of(c: &Contact, today: NaiveDate) -> ContactState {
        match c.status {
            ContactStatus::Released => ContactState::Released,
            ContactStatus::BecameCase => ContactState::BecameCase,
            ContactStatus::Lost => ContactState::Lost,
            ContactStatus::Monitoring => match c.quarantine_until {
                Some(until) if until < today => ContactState::QuarantineOver,
                Some(until) => ContactState::InQuarantine {
                    days_left: (until - today).num_days(),
                },
                None => ContactState::InQuarantine { days_left: 0 },
            },
        }
    }

    pub fn label(self, english: bool) -> String {
        match (self, english) {
            (ContactState::InQuarantine { days_left }, false) => {
                format!("Đang cách ly/theo dõi (còn {days_left} ngày)")
            }
            (ContactState::InQuarantine { days_left }, true) => {
                format!("In quarantine ({days_left} days left)")
            }
            (ContactState::QuarantineOver, false) => "Hết thời gian theo dõi".into(),
            (ContactState::QuarantineOver, true) => "Quarantine over".into(),
            (ContactState::Released, false) => "Đã kết thúc theo dõi".into(),
            (ContactState::Released, true) => "Released".into(),
            (ContactState::BecameCase, false) => "Đã thành ca bệnh".into(),
            (ContactState::BecameCase, true) => "Became a case".into(),
            (ContactState::Lost, false) => "Không liên lạc được".into(),
            (ContactState::Lost, true) => "Lost to follow-up".into(),
        }
    }
}

/// When register persons get new cases (called by [`crate::lab_tests::record_tests`], so every
/// way results arrive — API, form, file import, sample results — does it): marks every contact of theirs
/// still followed (`monitoring` or `lost`) whose latest case came from the exposure
/// ([`became_case_of`]) as `became_case`, one audited write each (`contact.became_case`).
/// Returns the contacts marked. Cheap when nothing matches: nothing is read for an empty list,
/// and one indexed read (contacts of the persons) when none of them is a contact.
pub async fn mark_contacts_became_cases(
    store: &dyn Store,
    persons_with_new_cases: &[Uuid],
    audit: &NewAuditEntry,
) -> Result<Vec<Contact>> {
    if persons_with_new_cases.is_empty() {
        return Ok(Vec::new());
    }
    let open: Vec<Contact> = store
        .contacts_of_persons(persons_with_new_cases)
        .await?
        .into_iter()
        .filter(|c| {
            matches!(c.status, ContactStatus::Monitoring | ContactStatus::Lost)
                && c.became_case_id.is_none()
                && c.person_id.is_some()
        })
        .collect();
    if open.is_empty() {
        return Ok(Vec::new());
    }
    let persons: Vec<Uuid> = open
        .iter()
        .filter_map(|c| c.person_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let cases: HashMap<Uuid, Case> = store
        .latest_cases_of_persons(&persons)
        .await?
        .into_iter()
        .filter_map(|c| Some((c.person_id?, c)))
        .collect();
    let mut marked = Vec::new();
    for mut contact in open {
        let Some(case) = contact.person_id.and_then(|p| cases.get(&p)) else {
            continue;
        };
        if !became_case_of(&contact, case) {
            continue;
        }
        set_became_case(&mut contact, case, audit.at);
        let entry = entry_for(
            audit,
            "contact.became_case",
            "contact",
            contact.id,
            &contact.units.commune_code,
            serde_json::json!({"case_id": contact.case_id, "became_case_id": case.id}),
        );
        store.save_contact(&contact, &entry).await?;
        marked.push(contact);
    }
    Ok(marked)
}

// ---------------------------------------------------------------------------------------------
// Clusters
// ---------------------------------------------------------------------------------------------

/// A cluster shows *severe or critical* illness when at least this many members are severe or
/// critical. **Unverified default.**
pub const UNUSUAL_MIN_SEVERE: usize = 1;
/// … *deaths* when at least this many members died. **Unverified default.**
pub const UNUSUAL_MIN_DEATHS: usize = 1;
/// … *infections among the fully vaccinated* when at least this many members had completed
/// their primary series (vaccine escape). **Unverified default.**
pub const UNUSUAL_MIN_FULLY_VACCINATED: usize = 3;
/// … *fast growth* when at least this many members' first positives fall within
/// [`UNUSUAL_GROWTH_WINDOW_DAYS`] days. **Unverified default.**
pub const UNUSUAL_GROWTH_CASES: usize = 10;
/// The window of [`UNUSUAL_GROWTH_CASES`], in days. **Unverified default.**
pub const UNUSUAL_GROWTH_WINDOW_DAYS: i64 = 7;
/// … an *imported link* when at least this many members were detected on entry. **Unverified
/// default.**
pub const UNUSUAL_MIN_IMPORTED: usize = 1;
/// The thresholds above are not from an official text.
pub const UNUSUAL_RULES_VERIFIED: bool = false;

/// A case may join a cluster when its first positive is at most this many days before the
/// cluster opened (the index case is often found before the cluster is declared); the cluster
/// page offers the province's cases from that date on.
pub const MEMBER_LOOKBACK_DAYS: i64 = 30;

/// Why a cluster is unusual (needs its samples sequenced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum UnusualReason {
    Severe { cases: usize },
    Deaths { deaths: usize },
    FullyVaccinated { cases: usize },
    FastGrowth { cases: usize, days: i64 },
    Imported { cases: usize },
}

impl UnusualReason {
    pub fn label(self, english: bool) -> String {
        match (self, english) {
            (UnusualReason::Severe { cases }, false) => format!("{cases} ca nặng/nguy kịch"),
            (UnusualReason::Severe { cases }, true) => format!("{cases} severe/critical"),
            (UnusualReason::Deaths { deaths }, false) => format!("{deaths} ca tử vong"),
            (UnusualReason::Deaths { deaths }, true) => format!("{deaths} deaths"),
            (UnusualReason::FullyVaccinated { cases }, false) => {
                format!("{cases} ca đã tiêm đủ liều cơ bản")
            }
            (UnusualReason::FullyVaccinated { cases }, true) => {
                format!("{cases} cases fully vaccinated")
            }
            (UnusualReason::FastGrowth { cases, days }, false) => {
                format!("{cases} ca trong {days} ngày")
            }
            (UnusualReason::FastGrowth { cases, days }, true) => {
                format!("{cases} cases within {days} days")
            }
            (UnusualReason::Imported { cases }, false) => format!("{cases} ca liên quan nhập cảnh"),
            (UnusualReason::Imported { cases }, true) => format!("{cases} imported cases"),
        }
    }
}

fn fully_vaccinated(c: &Case) -> bool {
    serde_json::from_value::<RiskGroup>(c.risk.clone())
        .map(|r| r.vaccination.is_fully_vaccinated())
        .unwrap_or(false)
}

/// The most first positives within any `window_days`-day window.
fn max_in_window(mut days: Vec<NaiveDate>, window_days: i64) -> usize {
    days.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..days.len() {
        while (days[end] - days[start]).num_days() >= window_days {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// Why a cluster with these members is unusual (empty: it is not). Discarded cases are left
/// out.
pub fn unusual_reasons(members: &[Case]) -> Vec<UnusualReason> {
    let counted: Vec<&Case> = members
        .iter()
        .filter(|c| c.classification != Classification::Discarded)
        .collect();
    let mut out = Vec::new();
    let severe = counted.iter().filter(|c| c.severity.is_severe()).count();
    if severe >= UNUSUAL_MIN_SEVERE {
        out.push(UnusualReason::Severe { cases: severe });
    }
    let deaths = counted
        .iter()
        .filter(|c| c.outcome == Some(Outcome::Died))
        .count();
    if deaths >= UNUSUAL_MIN_DEATHS {
        out.push(UnusualReason::Deaths { deaths });
    }
    let vaccinated = counted.iter().filter(|c| fully_vaccinated(c)).count();
    if vaccinated >= UNUSUAL_MIN_FULLY_VACCINATED {
        out.push(UnusualReason::FullyVaccinated { cases: vaccinated });
    }
    let growth = max_in_window(
        counted.iter().map(|c| c.first_positive).collect(),
        UNUSUAL_GROWTH_WINDOW_DAYS,
    );
    if growth >= UNUSUAL_GROWTH_CASES {
        out.push(UnusualReason::FastGrowth {
            cases: growth,
            days: UNUSUAL_GROWTH_WINDOW_DAYS,
        });
    }
    let imported = counted
        .iter()
        .filter(|c| c.detection_source == DetectionSource::Imported)
        .count();
    if imported >= UNUSUAL_MIN_IMPORTED {
        out.push(UnusualReason::Imported { cases: imported });
    }
    out
}

/// A new cluster as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClusterInput {
    pub name: String,
    pub place: String,
    /// The commune of the place.
    pub commune_code: String,
    /// `2025` (default) or `pre2025`: the list `commune_code` comes from.
    pub hierarchy: Option<String>,
    /// YYYY-MM-DD or DD/MM/YYYY; today when empty.
    pub opened_on: String,
}

/// The hierarchy named in a form (`2025` when empty).
pub fn hierarchy_of(raw: Option<&str>) -> Result<UnitVersion> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(UnitVersion::V2025),
        Some(s) => UnitVersion::parse(s),
    }
}

/// Builds a new cluster from its form (pure).
pub fn new_cluster(
    units: &AdminUnits,
    input: &ClusterInput,
    now: DateTime<Utc>,
) -> Result<Cluster> {
    let today = local_date(now);
    let version = hierarchy_of(input.hierarchy.as_deref())?;
    Ok(Cluster {
        id: Uuid::now_v7(),
        units: units_of_commune(units, version, &input.commune_code)?,
        name: text("name", "tên ổ dịch", &input.name, 200, true)?,
        place: text("place", "địa điểm", &input.place, MAX_TEXT_CHARS, false)?,
        opened_on: if input.opened_on.trim().is_empty() {
            today
        } else {
            day("opened_on", "Ngày ghi nhận", &input.opened_on, today)?
        },
        last_case_on: None,
        ends_on: None,
        closed: false,
        zoning: Zoning::None,
        unusual: false,
        unusual_reason: String::new(),
        sequencing: Sequencing::NotNeeded,
        sample_referred_on: None,
        sequencing_lab: String::new(),
        variant: String::new(),
        variant_result_on: None,
        created_at: now,
        updated_at: now,
    })
}

/// Stores a new cluster (audited `cluster.create`).
pub async fn create_cluster(
    store: &dyn Store,
    cluster: &Cluster,
    audit: &NewAuditEntry,
) -> Result<()> {
    let entry = entry_for(
        audit,
        "cluster.create",
        "cluster",
        cluster.id,
        &cluster.units.commune_code,
        serde_json::json!({"name": cluster.name}),
    );
    store.save_cluster(cluster, &entry).await
}

/// The cases of a cluster (those carrying its id), oldest first (index `cases_cluster`).
pub async fn cluster_members(store: &dyn Store, cluster: &Cluster) -> Result<Vec<Case>> {
    let mut out = store.cases_of_cluster(cluster.id).await?;
    out.sort_by_key(|a| (a.first_positive, a.id));
    Ok(out)
}

/// A cluster brought up to date with its members (pure): the last case and the end date
/// ([`CaseRules::cluster_end`]), closed once the end date has passed (reopened when a new case
/// moves it), flagged unusual — and to be sampled for sequencing — when a rule of
/// [`unusual_reasons`] holds. The unusual flag is never taken back.
pub fn refresh_cluster(
    cluster: &Cluster,
    members: &[Case],
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Cluster {
    let mut c = cluster.clone();
    c.last_case_on = members
        .iter()
        .filter(|m| m.classification != Classification::Discarded)
        .map(|m| m.first_positive)
        .max();
    c.ends_on = c.last_case_on.map(|d| CaseRules::embedded().cluster_end(d));
    if let Some(end) = c.ends_on {
        c.closed = end < today;
    }
    let reasons = unusual_reasons(members);
    if !reasons.is_empty() {
        c.unusual = true;
        c.unusual_reason = reasons
            .iter()
            .map(|r| r.label(false))
            .collect::<Vec<_>>()
            .join("; ");
        if c.sequencing == Sequencing::NotNeeded {
            c.sequencing = Sequencing::ToSample;
        }
    }
    if c != *cluster {
        c.updated_at = now;
    }
    c
}

/// Reads a cluster's members and stores the cluster if they changed it ([`refresh_cluster`];
/// audited `cluster.auto_update`). Returns the cluster and its members.
pub async fn refresh_stored_cluster(
    store: &dyn Store,
    cluster: &Cluster,
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<(Cluster, Vec<Case>)> {
    let members = cluster_members(store, cluster).await?;
    let updated = refresh_cluster(cluster, &members, local_date(now), now);
    if updated != *cluster {
        save_cluster_change(store, cluster, &updated, "cluster.auto_update", audit).await?;
    }
    Ok((updated, members))
}

async fn save_cluster_change(
    store: &dyn Store,
    before: &Cluster,
    after: &Cluster,
    action: &str,
    audit: &NewAuditEntry,
) -> Result<()> {
    let entry = entry_for(
        audit,
        action,
        "cluster",
        after.id,
        &after.units.commune_code,
        serde_json::json!({
            "closed": after.closed,
            "zoning": after.zoning,
            "unusual": after.unusual,
            "sequencing": after.sequencing,
            "ends_on": after.ends_on,
            "was": {"closed": before.closed, "zoning": before.zoning, "sequencing": before.sequencing},
        }),
    );
    store.save_cluster(after, &entry).await
}

/// Closes the clusters of a list whose end date has passed (audited `cluster.auto_update`),
/// without reading their members. Returns the list as it now stands.
pub async fn close_ended_clusters(
    store: &dyn Store,
    clusters: Vec<Cluster>,
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<Vec<Cluster>> {
    let today = local_date(now);
    let mut out = Vec::with_capacity(clusters.len());
    for c in clusters {
        if !c.closed && c.ends_on.is_some_and(|e| e < today) {
            let mut closed = c.clone();
            closed.closed = true;
            closed.updated_at = now;
            save_cluster_change(store, &c, &closed, "cluster.auto_update", audit).await?;
            out.push(closed);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Puts cases into a cluster and takes others out; the cases are already read and checked
/// against the caller's scope. A case must be of the cluster's province, not in another cluster,
/// and positive at most [`MEMBER_LOOKBACK_DAYS`] before the cluster opened. The cluster's last
/// case and end date are recomputed from its members' first positives (and the unusual rules
/// applied) and stored with the assignment in one transaction each for the cases added and the
/// cases removed (audited `cluster.cases`). Returns the cluster and its members.
pub async fn change_cluster_cases(
    store: &dyn Store,
    cluster: &Cluster,
    add: &[Case],
    remove: &[Case],
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<(Cluster, Vec<Case>)> {
    for c in add {
        if c.units.province_code != cluster.units.province_code {
            return Err(Error::invalid(
                "add",
                "Ca bệnh ở tỉnh khác, không thuộc ổ dịch này được",
                "The case is in another province",
            )
            .with_details(serde_json::json!({"field": "add", "case_id": c.id})));
        }
        if let Some(other) = c.cluster_id.filter(|o| *o != cluster.id) {
            return Err(Error::new(
                ErrorCode::Conflict,
                "Ca bệnh đã thuộc một ổ dịch khác; gỡ khỏi ổ dịch đó trước",
                "The case is in another cluster; remove it from there first",
            )
            .with_details(serde_json::json!({"case_id": c.id, "cluster_id": other})));
        }
        if c.first_positive < add_days(cluster.opened_on, -MEMBER_LOOKBACK_DAYS) {
            return Err(Error::invalid(
                "add",
                format!(
                    "Ca bệnh dương tính trước ngày ghi nhận ổ dịch quá {MEMBER_LOOKBACK_DAYS} ngày"
                ),
                format!(
                    "The case was positive more than {MEMBER_LOOKBACK_DAYS} days before the cluster opened"
                ),
            )
            .with_details(serde_json::json!({"field": "add", "case_id": c.id})));
        }
    }
    let adding: Vec<&Case> = add
        .iter()
        .filter(|c| c.cluster_id != Some(cluster.id))
        .collect();
    let removing: Vec<&Case> = remove
        .iter()
        .filter(|c| c.cluster_id == Some(cluster.id))
        .collect();
    let mut members: Vec<Case> = cluster_members(store, cluster)
        .await?
        .into_iter()
        .filter(|m| !removing.iter().any(|r| r.id == m.id))
        .collect();
    for c in &adding {
        if !members.iter().any(|m| m.id == c.id) {
            let mut m = (*c).clone();
            m.cluster_id = Some(cluster.id);
            members.push(m);
        }
    }
    members.sort_by_key(|a| (a.first_positive, a.id));
    let updated = refresh_cluster(cluster, &members, local_date(now), now);
    let details = |ids: &[&Case]| {
        serde_json::json!({
            "cases": ids.iter().map(|c| c.id).collect::<Vec<_>>(),
            "last_case_on": updated.last_case_on,
            "ends_on": updated.ends_on,
        })
    };
    let mut saved_dates = false;
    if !removing.is_empty() {
        let ids: Vec<Uuid> = removing.iter().map(|c| c.id).collect();
        let entry = entry_for(
            audit,
            "cluster.cases_remove",
            "cluster",
            cluster.id,
            &cluster.units.commune_code,
            details(&removing),
        );
        store.assign_cases_to_cluster(&ids, None, &entry).await?;
    }
    if !adding.is_empty() {
        let ids: Vec<Uuid> = adding.iter().map(|c| c.id).collect();
        let entry = entry_for(
            audit,
            "cluster.cases_add",
            "cluster",
            cluster.id,
            &cluster.units.commune_code,
            details(&adding),
        );
        store
            .assign_cases_to_cluster(&ids, Some(&updated), &entry)
            .await?;
        saved_dates = true;
    }
    let dates_only = Cluster {
        last_case_on: updated.last_case_on,
        ends_on: updated.ends_on,
        updated_at: updated.updated_at,
        ..cluster.clone()
    };
    let needs_save = if saved_dates {
        updated != dates_only
    } else {
        updated != *cluster
    };
    if needs_save {
        save_cluster_change(store, cluster, &updated, "cluster.update", audit).await?;
    }
    Ok((updated, members))
}

/// A change to a cluster (form or API `PATCH`): zoning, a manual unusual flag, the sequencing
/// referral and result, closing, names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClusterPatch {
    pub name: Option<String>,
    pub place: Option<String>,
    /// `none`, `zoned` or `lifted` (only a zoned area is lifted).
    pub zoning: Option<String>,
    /// `true` flags the cluster unusual by hand (with `unusual_reason`); it cannot be unflagged.
    pub unusual: Option<bool>,
    pub unusual_reason: Option<String>,
    /// The referral: lab and date (both).
    pub sequencing_lab: Option<String>,
    pub referred_on: Option<String>,
    /// The result: variant and date (both), after a referral.
    pub variant: Option<String>,
    pub variant_result_on: Option<String>,
    /// `true` closes a cluster whose end date has passed (or one without cases); `false`
    /// reopens it.
    pub closed: Option<bool>,
}

fn parse_zoning(raw: &str) -> Result<Zoning> {
    Ok(
        match one_of("zoning", "Phong tỏa", raw, &["none", "zoned", "lifted"])?.as_str() {
            "none" => Zoning::None,
            "zoned" => Zoning::Zoned,
            _ => Zoning::Lifted,
        },
    )
}

/// Applies a change to a cluster (pure). Sequencing moves forward only: to sample (flagged) →
/// referred (lab, date) → resulted (variant, date); a result may be corrected.
pub fn apply_cluster_patch(
    cluster: &Cluster,
    patch: &ClusterPatch,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Cluster> {
    let mut c = cluster.clone();
    if let Some(n) = &patch.name {
        c.name = text("name", "tên ổ dịch", n, 200, true)?;
    }
    if let Some(p) = &patch.place {
        c.place = text("place", "địa điểm", p, MAX_TEXT_CHARS, false)?;
    }
    if let Some(z) = &patch.zoning {
        let z = parse_zoning(z)?;
        if z == Zoning::Lifted && !matches!(c.zoning, Zoning::Zoned | Zoning::Lifted) {
            return Err(Error::invalid(
                "zoning",
                "Chỉ gỡ phong tỏa được khi khu vực đang phong tỏa",
                "Only a zoned area can be lifted",
            ));
        }
        c.zoning = z;
    }
    match patch.unusual {
        Some(true) => {
            let reason = text(
                "unusual_reason",
                "lý do bất thường",
                patch.unusual_reason.as_deref().unwrap_or(""),
                MAX_TEXT_CHARS,
                !c.unusual,
            )?;
            c.unusual = true;
            if !reason.is_empty() {
                c.unusual_reason = reason;
            }
            if c.sequencing == Sequencing::NotNeeded {
                c.sequencing = Sequencing::ToSample;
            }
        }
        Some(false) if c.unusual => {
            return Err(Error::invalid(
                "unusual",
                "Không bỏ đánh dấu ổ dịch bất thường được (100% ổ dịch bất thường phải được lấy mẫu giải trình tự gen)",
                "An unusual cluster cannot be unflagged (every unusual cluster must be sequenced)",
            ));
        }
        _ => {}
    }
    let lab = patch
        .sequencing_lab
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let referred = patch
        .referred_on
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match (lab, referred) {
        (None, None) => {}
        (Some(lab), Some(on)) => {
            let lab = text(
                "sequencing_lab",
                "phòng xét nghiệm giải trình tự",
                lab,
                200,
                true,
            )?;
            let on = day("referred_on", "Ngày gửi mẫu", on, today)?;
            let same = lab == c.sequencing_lab && Some(on) == c.sample_referred_on;
            if c.sequencing == Sequencing::Resulted && !same {
                return Err(Error::invalid(
                    "referred_on",
                    "Ổ dịch đã có kết quả giải trình tự",
                    "The cluster already has a sequencing result",
                ));
            }
            if !same || c.sequencing != Sequencing::Resulted {
                c.sequencing_lab = lab;
                c.sample_referred_on = Some(on);
                c.sequencing = Sequencing::Referred;
            }
        }
        _ => {
            return Err(Error::invalid(
                "referred_on",
                "Cần cả phòng xét nghiệm và ngày gửi mẫu",
                "Both the lab and the referral date are needed",
            ));
        }
    }
    let variant = patch
        .variant
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let result_on = patch
        .variant_result_on
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match (variant, result_on) {
        (None, None) => {}
        (Some(v), Some(on)) => {
            if !matches!(c.sequencing, Sequencing::Referred | Sequencing::Resulted) {
                return Err(Error::invalid(
                    "variant",
                    "Chưa gửi mẫu giải trình tự: nhập nơi và ngày gửi mẫu trước",
                    "No samples were referred for sequencing yet",
                ));
            }
            let on = day("variant_result_on", "Ngày có kết quả", on, today)?;
            if c.sample_referred_on.is_some_and(|r| on < r) {
                return Err(Error::invalid(
                    "variant_result_on",
                    "Ngày có kết quả trước ngày gửi mẫu",
                    "The result date is before the referral",
                ));
            }
            c.variant = text("variant", "biến chủng", v, 100, true)?;
            c.variant_result_on = Some(on);
            c.sequencing = Sequencing::Resulted;
        }
        _ => {
            return Err(Error::invalid(
                "variant",
                "Cần cả biến chủng và ngày có kết quả",
                "Both the variant and the result date are needed",
            ));
        }
    }
    match patch.closed {
        Some(true) if !c.closed => {
            if c.ends_on.is_some_and(|e| e >= today) {
                return Err(Error::invalid(
                    "closed",
                    "Chưa đến ngày kết thúc ổ dịch",
                    "The cluster's end date has not passed",
                ));
            }
            c.closed = true;
        }
        Some(false) if c.closed => {
            if c.ends_on.is_some_and(|e| e < today) {
                return Err(Error::invalid(
                    "closed",
                    "Ổ dịch đã qua ngày kết thúc; thêm ca bệnh mới để mở lại",
                    "The cluster's end date has passed; add a new case to reopen it",
                ));
            }
            c.closed = false;
        }
        _ => {}
    }
    if c != *cluster {
        c.updated_at = now;
    }
    Ok(c)
}

/// Stores a cluster change (audited `cluster.update`); an unchanged cluster is not written.
pub async fn update_cluster(
    store: &dyn Store,
    cluster: &Cluster,
    patch: &ClusterPatch,
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<Cluster> {
    let updated = apply_cluster_patch(cluster, patch, local_date(now), now)?;
    if updated != *cluster {
        save_cluster_change(store, cluster, &updated, "cluster.update", audit).await?;
    }
    Ok(updated)
}

// ---------------------------------------------------------------------------------------------
// Chain of transmission
// ---------------------------------------------------------------------------------------------

/// Most cases a chain holds (the rest is cut and `truncated` set).
pub const MAX_CHAIN_CASES: usize = 200;
/// Generations followed each way around a case.
pub const CHAIN_DEPTH: usize = 4;

/// One link: the case a contact was exposed to → the case the contact became.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ChainLink {
    pub from: Uuid,
    pub to: Uuid,
    pub contact_id: Uuid,
}

/// Cases and the contact links between them.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    pub cases: Vec<Case>,
    pub links: Vec<ChainLink>,
    pub truncated: bool,
}

fn link_of(c: &Contact) -> Option<ChainLink> {
    Some(ChainLink {
        from: c.case_id,
        to: c.became_case_id?,
        contact_id: c.id,
    })
}

/// Links into and out of `cases`: the contacts of each case who became cases, and the contacts
/// (of any case) who are these cases' persons and became them.
async fn links_around(store: &dyn Store, cases: &[&Case]) -> Result<Vec<ChainLink>> {
    let mut links = BTreeSet::new();
    for c in cases {
        for contact in store.contacts_of_case(c.id).await? {
            links.extend(link_of(&contact));
        }
    }
    let ids: HashSet<Uuid> = cases.iter().map(|c| c.id).collect();
    let persons: Vec<Uuid> = cases
        .iter()
        .filter_map(|c| c.person_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !persons.is_empty() {
        for contact in store.contacts_of_persons(&persons).await? {
            if let Some(l) = link_of(&contact).filter(|l| ids.contains(&l.to)) {
                links.insert(l);
            }
        }
    }
    Ok(links.into_iter().collect())
}

/// Adds the cases at the other end of `links` that are not in `chain` yet (read one by one).
async fn add_linked_cases(
    store: &dyn Store,
    chain: &mut Chain,
    links: &[ChainLink],
) -> Result<Vec<Uuid>> {
    let mut known: HashSet<Uuid> = chain.cases.iter().map(|c| c.id).collect();
    let mut added = Vec::new();
    for l in links {
        for id in [l.from, l.to] {
            if known.contains(&id) {
                continue;
            }
            if chain.cases.len() >= MAX_CHAIN_CASES {
                chain.truncated = true;
                continue;
            }
            if let Some(c) = store.case(id).await? {
                known.insert(id);
                added.push(id);
                chain.cases.push(c);
            }
        }
    }
    Ok(added)
}

fn keep_links_between_cases(chain: &mut Chain, links: BTreeSet<ChainLink>) {
    let ids: HashSet<Uuid> = chain.cases.iter().map(|c| c.id).collect();
    chain.links = links
        .into_iter()
        .filter(|l| ids.contains(&l.from) && ids.contains(&l.to))
        .collect();
}

/// The chain of a cluster: its members, the cases they infected and the cases that infected
/// them (one generation beyond the cluster), and the links between them.
pub async fn chain_of_cluster(store: &dyn Store, members: &[Case]) -> Result<Chain> {
    let mut chain = Chain {
        cases: members.iter().take(MAX_CHAIN_CASES).cloned().collect(),
        links: Vec::new(),
        truncated: members.len() > MAX_CHAIN_CASES,
    };
    let refs: Vec<&Case> = chain.cases.iter().collect();
    let links = links_around(store, &refs).await?;
    add_linked_cases(store, &mut chain, &links).await?;
    keep_links_between_cases(&mut chain, links.into_iter().collect());
    Ok(chain)
}

/// The chain around a case: the cases it infected and those that infected it, up to
/// [`CHAIN_DEPTH`] generations each way (each case visited once, so cycles end).
pub async fn chain_around_case(store: &dyn Store, case: &Case) -> Result<Chain> {
    let mut chain = Chain {
        cases: vec![case.clone()],
        ..Chain::default()
    };
    let mut all_links = BTreeSet::new();
    let mut frontier: VecDeque<(Uuid, usize)> = VecDeque::from([(case.id, 0)]);
    let mut expanded: HashSet<Uuid> = HashSet::new();
    while let Some((id, depth)) = frontier.pop_front() {
        if depth >= CHAIN_DEPTH || !expanded.insert(id) {
            continue;
        }
        let Some(c) = chain.cases.iter().find(|c| c.id == id).cloned() else {
            continue;
        };
        let links = links_around(store, &[&c]).await?;
        let added = add_linked_cases(store, &mut chain, &links).await?;
        all_links.extend(links);
        frontier.extend(added.into_iter().map(|a| (a, depth + 1)));
    }
    keep_links_between_cases(&mut chain, all_links);
    Ok(chain)
}

// ---------------------------------------------------------------------------------------------
// Sampling and the laboratory
// ---------------------------------------------------------------------------------------------

/// Most persons pooled in one sample (RT-PCR pools of up to 10, as the Ministry's pooling
/// guidance allowed; **unverified default** — DOMAIN.md does not give it).
pub const MAX_POOL_SIZE: usize = 10;
/// Most samples added at a time.
pub const MAX_SAMPLES_PER_BATCH: usize = 500;

/// A sampling session as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SessionInput {
    pub commune_code: String,
    pub hierarchy: Option<String>,
    pub place: String,
    /// YYYY-MM-DD or DD/MM/YYYY; today when empty.
    pub held_on: String,
    /// The lab the samples go to.
    pub lab_code: String,
}

/// A sampling session from its form (pure).
pub fn new_session(
    units: &AdminUnits,
    input: &SessionInput,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<SampleSession> {
    let today = local_date(now);
    let version = hierarchy_of(input.hierarchy.as_deref())?;
    Ok(SampleSession {
        id: Uuid::now_v7(),
        units: units_of_commune(units, version, &input.commune_code)?,
        place: text("place", "điểm lấy mẫu", &input.place, MAX_TEXT_CHARS, true)?,
        held_on: if input.held_on.trim().is_empty() {
            today
        } else {
            day("held_on", "Ngày lấy mẫu", &input.held_on, today)?
        },
        lab_code: code("lab_code", "mã phòng xét nghiệm", &input.lab_code)?,
        created_by: created_by.to_string(),
        created_at: now,
    })
}

/// A code: letters, digits, `-`, `_`, `.`, `/`, at most [`MAX_CODE_CHARS`].
fn code(field: &str, label_vi: &str, raw: &str) -> Result<String> {
    let t = text(field, label_vi, raw, MAX_CODE_CHARS, true)?;
    if t.chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    {
        Ok(t)
    } else {
        Err(Error::invalid(
            field,
            format!("{label_vi} chỉ gồm chữ, số và - _ . /"),
            format!("{field} may hold letters, digits and - _ . / only"),
        ))
    }
}

/// Stores a session (audited `sample_session.create`).
pub async fn create_session(
    store: &dyn Store,
    session: &SampleSession,
    audit: &NewAuditEntry,
) -> Result<()> {
    let entry = entry_for(
        audit,
        "sample_session.create",
        "sample_session",
        session.id,
        &session.units.commune_code,
        serde_json::json!({"lab_code": session.lab_code, "held_on": session.held_on}),
    );
    store.save_sample_session(session, &entry).await
}

/// One person of a sample as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MemberInput {
    pub full_name: String,
    pub national_id: String,
    pub phone: String,
}

/// A sample as typed: one member (single) or up to [`MAX_POOL_SIZE`] (pooled).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SampleInput {
    /// Label on the tube, unique within the session.
    pub code: String,
    pub members: Vec<MemberInput>,
}

fn validate_members(members: &[MemberInput]) -> Result<Vec<SampleMember>> {
    if members.is_empty() || members.len() > MAX_POOL_SIZE {
        return Err(Error::invalid(
            "members",
            format!("Mỗi mẫu có từ 1 đến {MAX_POOL_SIZE} người"),
            format!("A sample holds 1 to {MAX_POOL_SIZE} persons"),
        ));
    }
    members
        .iter()
        .map(|m| {
            let national_id = national_id("national_id", &m.national_id)?;
            Ok(SampleMember {
                person_id: None,
                full_name: text(
                    "full_name",
                    "họ tên",
                    &m.full_name,
                    200,
                    national_id.is_empty(),
                )?,
                national_id,
                phone: phone("phone", &m.phone)?,
            })
        })
        .collect()
}

/// Adds samples to a session: checked (codes unique within the session), members linked to
/// the register persons holding their CCCDs, collected now, sent to the session's lab; stored
/// in one transaction (audited `sample.collect`).
pub async fn add_samples(
    store: &dyn Store,
    session: &SampleSession,
    inputs: &[SampleInput],
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<Vec<Sample>> {
    if inputs.is_empty() || inputs.len() > MAX_SAMPLES_PER_BATCH {
        return Err(Error::invalid(
            "samples",
            format!("Gửi từ 1 đến {MAX_SAMPLES_PER_BATCH} mẫu mỗi lần"),
            format!("Send 1 to {MAX_SAMPLES_PER_BATCH} samples at a time"),
        ));
    }
    let mut codes: HashSet<String> = store
        .samples_of_session(session.id)
        .await?
        .into_iter()
        .map(|s| s.code.to_lowercase())
        .collect();
    let mut samples = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let with_index = |e: Error| {
            let mut details = e.details.clone();
            if let Some(o) = details.as_object_mut() {
                o.insert("index".into(), serde_json::json!(i));
            }
            e.with_details(details)
        };
        let code = code("code", "mã mẫu", &input.code).map_err(with_index)?;
        if !codes.insert(code.to_lowercase()) {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("Mã mẫu «{code}» đã có trong điểm lấy mẫu này"),
                format!("Sample code «{code}» is already used in this session"),
            )
            .with_details(serde_json::json!({"field": "code", "index": i})));
        }
        let members = validate_members(&input.members).map_err(with_index)?;
        samples.push(Sample {
            id: Uuid::now_v7(),
            session_id: session.id,
            province_code: session.units.province_code.clone(),
            code,
            members,
            pool_id: None,
            lab_code: session.lab_code.clone(),
            collected_at: now,
            received_at: None,
            resulted_at: None,
            result: None,
            status: SampleStatus::Collected,
        });
    }
    link_members(store, &mut samples).await?;
    let entry = entry_for(
        audit,
        "sample.collect",
        "sample_session",
        session.id,
        &session.units.commune_code,
        serde_json::json!({
            "samples": samples.len(),
            "pooled": samples.iter().filter(|s| s.pooled()).count(),
            "persons": samples.iter().map(|s| s.members.len()).sum::<usize>(),
        }),
    );
    store.save_samples(&samples, &entry).await?;
    Ok(samples)
}

/// Links sample members to the register persons holding their CCCDs (names filled in when
/// missing).
async fn link_members(store: &dyn Store, samples: &mut [Sample]) -> Result<()> {
    let ids: Vec<String> = samples
        .iter()
        .flat_map(|s| s.members.iter())
        .filter(|m| !m.national_id.is_empty())
        .map(|m| m.national_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let persons: HashMap<String, Person> = store
        .persons_by_national_ids(&ids)
        .await?
        .into_iter()
        .filter_map(|p| Some((p.national_id.as_ref()?.as_str().to_string(), p)))
        .collect();
    for m in samples.iter_mut().flat_map(|s| s.members.iter_mut()) {
        if let Some(p) = persons.get(&m.national_id) {
            m.person_id = Some(p.id);
            if m.full_name.is_empty() {
                m.full_name = p.full_name.clone();
            }
        }
    }
    Ok(())
}

fn conflict(vi: &str, en: &str) -> Error {
    Error::new(ErrorCode::Conflict, vi, en)
}

/// Receives a sample at the lab (audited `sample.receive`). Receiving it again changes
/// nothing; a resulted sample cannot be received.
pub async fn receive_sample(
    store: &dyn Store,
    sample: &Sample,
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<Sample> {
    match sample.status {
        SampleStatus::Received => Ok(sample.clone()),
        SampleStatus::Resulted => Err(conflict(
            "Mẫu đã có kết quả",
            "The sample already has a result",
        )),
        SampleStatus::Collected => {
            let mut s = sample.clone();
            s.status = SampleStatus::Received;
            s.received_at = Some(now.max(s.collected_at));
            let entry = entry_for(
                audit,
                "sample.receive",
                "sample",
                s.id,
                &s.province_code,
                serde_json::json!({"lab_code": s.lab_code, "code": s.code}),
            );
            store.save_samples(std::slice::from_ref(&s), &entry).await?;
            Ok(s)
        }
    }
}

/// The single samples a positive pool is broken down into: one per member, labelled
/// `<pool code>-<n>`, to be collected again and sent to the same lab (pure).
pub fn break_down(pool: &Sample, now: DateTime<Utc>) -> Vec<Sample> {
    pool.members
        .iter()
        .enumerate()
        .map(|(i, m)| Sample {
            id: Uuid::now_v7(),
            session_id: pool.session_id,
            province_code: pool.province_code.clone(),
            code: format!("{}-{}", pool.code, i + 1),
            members: vec![m.clone()],
            pool_id: Some(pool.id),
            lab_code: pool.lab_code.clone(),
            collected_at: now,
            received_at: None,
            resulted_at: None,
            result: None,
            status: SampleStatus::Collected,
        })
        .collect()
}

/// What entering a result did.
#[derive(Debug, Clone, Serialize)]
pub struct ResultOutcome {
    pub sample: Sample,
    /// The single samples a positive pool was broken down into.
    pub breakdown: Vec<Sample>,
    /// Whether a single sample's result was stored as a lab test (record id = sample code).
    pub test_recorded: bool,
    /// Cases opened by that test.
    pub cases_created: u64,
    /// Contacts marked as having become cases.
    pub contacts_became_cases: usize,
}

/// The lab-test row of a single sample's result: record id = sample code, the lab, the member's
/// identity (birth date and sex from the register person when linked), the session's commune,
/// sample date = the collection date in Vietnam.
pub fn test_row_of(
    sample: &Sample,
    session: &SampleSession,
    person: Option<&Person>,
    test_type: TestType,
    result: TestResult,
) -> Option<domain::test_record::TestRow> {
    let m = sample.members.first()?;
    Some(domain::test_record::TestRow {
        record_id: sample.code.clone(),
        lab_code: sample.lab_code.clone(),
        national_id: m.national_id.clone(),
        full_name: if m.full_name.is_empty() {
            person.map(|p| p.full_name.clone()).unwrap_or_default()
        } else {
            m.full_name.clone()
        },
        dob: person.map(|p| p.dob.to_string()).unwrap_or_default(),
        sex: person
            .map(|p| p.sex.as_str().to_string())
            .unwrap_or_default(),
        commune_code: person
            .map(|p| p.commune_code.clone())
            .unwrap_or_else(|| session.units.commune_code.clone()),
        phone: m.phone.clone(),
        sample_date: local_date(sample.collected_at),
        test_type,
        result,
    })
}

/// Enters a sample's result (received now if it was not). A positive pool is broken down into
/// one single sample per member, saved with the pool's result in one transaction; a single
/// sample's result becomes a lab test of that sample through
/// [`crate::lab_tests::record_tests_of_samples`] (first, so
/// that a failure leaves the sample waiting and a retry records nothing twice — the record id
/// is the sample code, unique per lab), and the contacts of a person it makes a case are marked
/// ([`mark_contacts_became_cases`]). Entering the same result again changes nothing; another
/// result for a resulted sample is a conflict. Audited `sample.result`.
pub async fn enter_result(
    store: &dyn Store,
    sample: &Sample,
    session: &SampleSession,
    result: TestResult,
    test_type: TestType,
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<ResultOutcome> {
    if sample.status == SampleStatus::Resulted {
        return if sample.result == Some(result) {
            Ok(ResultOutcome {
                sample: sample.clone(),
                breakdown: Vec::new(),
                test_recorded: false,
                cases_created: 0,
                contacts_became_cases: 0,
            })
        } else {
            Err(conflict(
                "Mẫu đã có kết quả khác",
                "The sample already has another result",
            ))
        };
    }
    let mut s = sample.clone();
    s.status = SampleStatus::Resulted;
    s.received_at = Some(s.received_at.unwrap_or(now).max(s.collected_at));
    s.resulted_at = Some(now.max(s.collected_at));
    s.result = Some(result);
    let breakdown = if s.pooled() && result == TestResult::Positive {
        break_down(&s, now)
    } else {
        Vec::new()
    };
    let (mut test_recorded, mut cases_created, mut contacts_became_cases) = (false, 0, 0);
    if !s.pooled() {
        let person = match s.members.first().and_then(|m| m.person_id) {
            Some(id) => store.get_person(id).await?,
            None => None,
        };
        if let Some(row) = test_row_of(&s, session, person.as_ref(), test_type, result) {
            let entry = entry_for(
                audit,
                "test.record",
                "sample",
                s.id,
                &s.province_code,
                serde_json::json!({"code": s.code, "lab_code": s.lab_code, "result": result}),
            );
            let summary = crate::lab_tests::record_tests_of_samples(
                store,
                &[row],
                &[s.id],
                now,
                Some(&entry),
            )
            .await?;
            test_recorded = true;
            cases_created = summary.cases_created;
            contacts_became_cases = summary.contacts_became_cases;
        }
    }
    let mut all = vec![s.clone()];
    all.extend(breakdown.iter().cloned());
    let entry = entry_for(
        audit,
        "sample.result",
        "sample",
        s.id,
        &s.province_code,
        serde_json::json!({
            "code": s.code,
            "lab_code": s.lab_code,
            "result": result,
            "pooled": s.pooled(),
            "breakdown": breakdown.len(),
        }),
    );
    store.save_samples(&all, &entry).await?;
    Ok(ResultOutcome {
        sample: s,
        breakdown,
        test_recorded,
        cases_created,
        contacts_became_cases,
    })
}

/// A sample waiting at a lab.
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    pub sample: Sample,
    /// Hours since collection.
    pub waiting_hours: f64,
}

fn hours(d: TimeDelta) -> f64 {
    (d.num_seconds() as f64 / 360.0).round() / 10.0
}

/// The queue in the lab's order (oldest collection first), with waiting hours.
pub fn queue_items(samples: Vec<Sample>, now: DateTime<Utc>) -> Vec<QueueItem> {
    let mut items: Vec<QueueItem> = samples
        .into_iter()
        .map(|s| QueueItem {
            waiting_hours: hours(now - s.collected_at).max(0.0),
            sample: s,
        })
        .collect();
    items.sort_by(|a, b| {
        (a.sample.collected_at, &a.sample.code, a.sample.id).cmp(&(
            b.sample.collected_at,
            &b.sample.code,
            b.sample.id,
        ))
    });
    items
}

/// Turnaround of a lab: hours from collection to result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabTurnaround {
    pub lab_code: String,
    pub samples: usize,
    pub median_hours: f64,
    pub p90_hours: f64,
    pub max_hours: f64,
}

/// The `p`-th percentile (0–100) of sorted values, by nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median, 90th percentile (nearest rank) and maximum of the hours from collection to result
/// of resulted samples, per lab (sorted by lab code).
pub fn turnaround(samples: &[Sample]) -> Vec<LabTurnaround> {
    let mut by_lab: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for s in samples {
        if let Some(r) = s.resulted_at {
            by_lab
                .entry(s.lab_code.as_str())
                .or_default()
                .push(hours(r - s.collected_at).max(0.0));
        }
    }
    by_lab
        .into_iter()
        .map(|(lab, mut h)| {
            h.sort_by(f64::total_cmp);
            LabTurnaround {
                lab_code: lab.to_string(),
                samples: h.len(),
                median_hours: percentile(&h, 50.0),
                p90_hours: percentile(&h, 90.0),
                max_hours: h.last().copied().unwrap_or(0.0),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Border: entry declarations and gate counts
// ---------------------------------------------------------------------------------------------

/// The Lai Châu plan's target (DOMAIN.md §9, verified from the plan's text): more than 95% of
/// entrants from variant areas declared.
pub const DECLARED_SHARE_TARGET: f64 = 0.95;

/// An entry declaration as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DeclarationInput {
    pub full_name: String,
    /// CCCD or passport number.
    pub document_number: String,
    pub phone: String,
    pub gate_code: String,
    /// YYYY-MM-DD or DD/MM/YYYY.
    pub entered_on: String,
    pub from_area: String,
    pub variant_area: bool,
    /// Destination commune.
    pub commune_code: String,
    pub hierarchy: Option<String>,
}

/// An entry declaration from its form (pure): followed until entry + the incubation period of
/// the ruleset in force on the entry date.
pub fn new_declaration(
    units: &AdminUnits,
    input: &DeclarationInput,
    now: DateTime<Utc>,
) -> Result<EntryDeclaration> {
    let today = local_date(now);
    let version = hierarchy_of(input.hierarchy.as_deref())?;
    let entered_on = day("entered_on", "Ngày nhập cảnh", &input.entered_on, today)?;
    let document_number: String = input
        .document_number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Ok(EntryDeclaration {
        id: Uuid::now_v7(),
        units: units_of_commune(units, version, &input.commune_code)?,
        full_name: text("full_name", "họ tên", &input.full_name, 200, true)?,
        document_number: code(
            "document_number",
            "số giấy tờ (CCCD/hộ chiếu)",
            &document_number,
        )?,
        phone: phone("phone", &input.phone)?,
        gate_code: code("gate_code", "mã cửa khẩu", &input.gate_code)?,
        entered_on,
        from_area: text("from_area", "nơi đi", &input.from_area, 200, true)?,
        variant_area: input.variant_area,
        followup_until: CaseRules::embedded().entrant_followup_until(entered_on),
        status: "following".into(),
        case_id: None,
        created_at: now,
    })
}

/// Stores a declaration (audited `entry.declare`).
pub async fn declare_entry(
    store: &dyn Store,
    d: &EntryDeclaration,
    audit: &NewAuditEntry,
) -> Result<()> {
    let entry = entry_for(
        audit,
        "entry.declare",
        "entry_declaration",
        d.id,
        &d.units.commune_code,
        serde_json::json!({"gate_code": d.gate_code, "entered_on": d.entered_on, "variant_area": d.variant_area}),
    );
    store.save_entry_declaration(d, &entry).await
}

/// A gate's daily count as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BorderCountInput {
    pub gate_code: String,
    /// 2025 province of the gate.
    pub province_code: String,
    /// YYYY-MM-DD or DD/MM/YYYY.
    pub day: String,
    pub entrants: i64,
    pub from_variant_areas: i64,
}

/// A gate count from its form (pure).
pub fn new_border_count(
    units: &AdminUnits,
    input: &BorderCountInput,
    now: DateTime<Utc>,
) -> Result<BorderCount> {
    let province = input.province_code.trim();
    let is_province = units
        .v2025
        .get(province)
        .is_some_and(|u| u.level == UnitLevel::Province);
    if !is_province {
        return Err(Error::invalid(
            "province_code",
            format!("«{province}» không phải mã tỉnh (danh mục 2025)"),
            format!("«{province}» is not a 2025 province code"),
        ));
    }
    if input.entrants < 0 || input.from_variant_areas < 0 {
        return Err(Error::invalid(
            "entrants",
            "Số người nhập cảnh không được âm",
            "Counts cannot be negative",
        ));
    }
    if input.from_variant_areas > input.entrants {
        return Err(Error::invalid(
            "from_variant_areas",
            "Số người từ vùng có biến chủng lớn hơn tổng số người nhập cảnh",
            "from_variant_areas exceeds entrants",
        ));
    }
    Ok(BorderCount {
        gate_code: code("gate_code", "mã cửa khẩu", &input.gate_code)?,
        province_code: province.to_string(),
        day: day("day", "Ngày", &input.day, local_date(now))?,
        entrants: input.entrants,
        from_variant_areas: input.from_variant_areas,
    })
}

/// Stores (replaces) a gate count (audited `border.count`).
pub async fn record_border_count(
    store: &dyn Store,
    count: &BorderCount,
    audit: &NewAuditEntry,
) -> Result<()> {
    let entry = entry_for(
        audit,
        "border.count",
        "border_count",
        format!("{}/{}", count.gate_code, count.day),
        &count.province_code,
        serde_json::json!({"entrants": count.entrants, "from_variant_areas": count.from_variant_areas}),
    );
    store.save_border_count(count, &entry).await
}

/// The declared share at one gate or overall.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareLine {
    /// Empty for the total.
    pub gate_code: String,
    /// Declarations of entrants from variant areas.
    pub declared: i64,
    /// Entrants from variant areas counted at the gates.
    pub entrants: i64,
    /// `declared / entrants` (None without entrants).
    pub share: Option<f64>,
    /// Whether the share is above the target (None without entrants).
    pub meets_target: Option<bool>,
}

impl ShareLine {
    fn new(gate_code: String, declared: i64, entrants: i64) -> Self {
        let share = (entrants > 0).then(|| declared as f64 / entrants as f64);
        ShareLine {
            gate_code,
            declared,
            entrants,
            share,
            meets_target: share.map(|s| s > DECLARED_SHARE_TARGET),
        }
    }
}

/// The declared share of a province over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeclaredShare {
    pub province_code: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub target: f64,
    pub total: ShareLine,
    /// Per gate, by gate code.
    pub by_gate: Vec<ShareLine>,
    /// Gate-days counted in the period.
    pub counted_days: usize,
}

/// Declarations from variant areas / entrants from variant areas (gate counts) for a province
/// and a period, overall and per gate, against [`DECLARED_SHARE_TARGET`]. The declarations are
/// those whose destination lies in the province (people entering through the province's gates
/// are followed where they go; in the provinces the plans serve, that is the province itself),
/// entered within the period; the counts are the province's gate counts of the period.
pub fn declared_share(
    province_code: &str,
    from: NaiveDate,
    to: NaiveDate,
    declarations: &[EntryDeclaration],
    counts: &[BorderCount],
) -> DeclaredShare {
    let mut declared: BTreeMap<&str, i64> = BTreeMap::new();
    for d in declarations.iter().filter(|d| {
        d.variant_area
            && d.entered_on >= from
            && d.entered_on <= to
            && d.units.province_code == province_code
    }) {
        *declared.entry(d.gate_code.as_str()).or_default() += 1;
    }
    let mut entrants: BTreeMap<&str, i64> = BTreeMap::new();
    let mut counted_days = 0;
    for c in counts
        .iter()
        .filter(|c| c.province_code == province_code && c.day >= from && c.day <= to)
    {
        *entrants.entry(c.gate_code.as_str()).or_default() += c.from_variant_areas;
        counted_days += 1;
    }
    let gates: BTreeSet<&str> = declared.keys().chain(entrants.keys()).copied().collect();
    let by_gate = gates
        .into_iter()
        .map(|g| {
            ShareLine::new(
                g.to_string(),
                declared.get(g).copied().unwrap_or(0),
                entrants.get(g).copied().unwrap_or(0),
            )
        })
        .collect();
    DeclaredShare {
        province_code: province_code.to_string(),
        from,
        to,
        target: DECLARED_SHARE_TARGET,
        total: ShareLine::new(
            String::new(),
            declared.values().sum(),
            entrants.values().sum(),
        ),
        by_gate,
        counted_days,
    }
}

/// Reads what [`declared_share`] needs from the store.
pub async fn declared_share_of(
    store: &dyn Store,
    province_code: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<DeclaredShare> {
    let declarations = store
        .entry_declarations(&PersonScope::Province(province_code.to_string()), from, to)
        .await?;
    let counts = store.border_counts(Some(province_code), from, to).await?;
    Ok(declared_share(
        province_code,
        from,
        to,
        &declarations,
        &counts,
    ))
}

/// Where an entrant's follow-up stands on a day (`following` turns `completed` after
/// `followup_until`).
pub fn declaration_status(d: &EntryDeclaration, today: NaiveDate) -> &'static str {
    match d.status.as_str() {
        "following" if d.followup_until < today => "completed",
        "following" => "following",
        "completed" => "completed",
        "became_case" => "became_case",
        _ => "lost",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::surveillance::{
        AlertLevel, CareSetting, CaseStatus, Classification, DetectionSource, Severity,
    };

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn at(y: i32, m: u32, day: u32, h: u32) -> DateTime<Utc> {
        d(y, m, day).and_hms_opt(h, 0, 0).unwrap().and_utc()
    }

    fn units() -> CaseUnits {
        CaseUnits {
            province_code: "12".into(),
            commune_code: "03388".into(),
            ..CaseUnits::default()
        }
    }

    fn case(n: u128, first: NaiveDate) -> Case {
        let now = at(2024, 3, 1, 0);
        Case {
            id: Uuid::from_u128(n),
            units: units(),
            person_id: Some(Uuid::from_u128(1000 + n)),
            source_record_id: Uuid::from_u128(2000 + n),
            full_name: format!("Ca {n}"),
            dob: None,
            sex: String::new(),
            phone: String::new(),
            status: CaseStatus::Open,
            classification: Classification::Confirmed,
            first_positive: first,
            last_positive: first,
            onset: None,
            detection_source: DetectionSource::Community,
            risk: serde_json::json!({}),
            high_risk: false,
            severity: Severity::Mild,
            care_setting: CareSetting::Home,
            on_oxygen: false,
            outcome: None,
            outcome_date: None,
            isolation_end: first,
            followup_until: first,
            disease_group: "B".into(),
            reported_at: now,
            report_deadline: now,
            report_met: true,
            last_checkin_at: None,
            alert: AlertLevel::None,
            alert_reasons: serde_json::json!([]),
            ruleset: String::new(),
            cluster_id: None,
            note: String::new(),
            created_at: now,
            updated_at: now,
        }
    }

    fn contact(case_id: u128, last_exposure: NaiveDate) -> Contact {
        let now = at(2024, 3, 1, 0);
        Contact {
            id: Uuid::from_u128(500),
            case_id: Uuid::from_u128(case_id),
            units: units(),
            person_id: Some(Uuid::from_u128(1002)),
            full_name: "Lò Văn Tiếp".into(),
            phone: String::new(),
            national_id: String::new(),
            relation: "household".into(),
            last_exposure,
            quarantine_until: Some(last_exposure + TimeDelta::days(4)),
            quarantine_place: "home".into(),
            status: ContactStatus::Monitoring,
            became_case_id: None,
            note: String::new(),
            created_at: now,
            updated_at: now,
        }
    }

    fn cluster(opened: NaiveDate) -> Cluster {
        let now = at(2024, 3, 1, 0);
        Cluster {
            id: Uuid::from_u128(900),
            units: units(),
            name: "Chợ Tam Đường".into(),
            place: "Chợ".into(),
            opened_on: opened,
            last_case_on: None,
            ends_on: None,
            closed: false,
            zoning: Zoning::None,
            unusual: false,
            unusual_reason: String::new(),
            sequencing: Sequencing::NotNeeded,
            sample_referred_on: None,
            sequencing_lab: String::new(),
            variant: String::new(),
            variant_result_on: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn sample(code: &str, members: usize, lab: &str, collected: DateTime<Utc>) -> Sample {
        Sample {
            id: Uuid::now_v7(),
            session_id: Uuid::from_u128(77),
            province_code: "12".into(),
            code: code.into(),
            members: (0..members)
                .map(|i| SampleMember {
                    person_id: None,
                    full_name: format!("Người {i}"),
                    national_id: String::new(),
                    phone: String::new(),
                })
                .collect(),
            pool_id: None,
            lab_code: lab.into(),
            collected_at: collected,
            received_at: None,
            resulted_at: None,
            result: None,
            status: SampleStatus::Collected,
        }
    }

    #[test]
    fn local_dates_are_vietnamese() {
        assert_eq!(local_date(at(2024, 3, 1, 16)), d(2024, 3, 1));
        assert_eq!(local_date(at(2024, 3, 1, 17)), d(2024, 3, 2));
    }

    #[test]
    fn quarantine_follows_the_incubation_of_the_exposure_date_unless_configured() {
        let rules = ContactRules::default();
        const { assert!(!ContactRules::VERIFIED) };
        // Group B (from 20/10/2023): incubation 4 days.
        assert_eq!(rules.quarantine_until(d(2024, 3, 1), None), d(2024, 3, 5));
        // Group A practice: 14 days.
        assert_eq!(rules.quarantine_until(d(2022, 3, 1), None), d(2022, 3, 15));
        let province = ContactRules {
            quarantine_days: Some(7),
        };
        assert_eq!(
            province.quarantine_until(d(2024, 3, 1), None),
            d(2024, 3, 8)
        );
        assert_eq!(
            province.quarantine_until(d(2024, 3, 1), Some(10)),
            d(2024, 3, 11)
        );
    }

    #[test]
    fn contacts_are_checked() {
        let today = d(2024, 3, 10);
        let ok = ContactInput {
            full_name: " Lò Văn Tiếp ".into(),
            national_id: "012 090 123456".into(),
            phone: "0912345678".into(),
            relation: "Household".into(),
            last_exposure: "05/03/2024".into(),
            ..ContactInput::default()
        };
        let v = validate_contact(&ok, today).unwrap();
        assert_eq!(v.full_name, "Lò Văn Tiếp");
        assert_eq!(v.national_id, "012090123456");
        assert_eq!(v.relation, "household");
        assert_eq!(v.quarantine_place, "home");
        assert_eq!(v.last_exposure, d(2024, 3, 5));
        let bad = |f: &dyn Fn(&mut ContactInput), field: &str| {
            let mut i = ok.clone();
            f(&mut i);
            let e = validate_contact(&i, today).unwrap_err();
            assert_eq!(e.details["field"], field, "{e:?}");
        };
        bad(&|i| i.national_id = "12345".into(), "national_id");
        bad(&|i| i.last_exposure = "11/03/2024".into(), "last_exposure");
        bad(&|i| i.last_exposure = "hôm qua".into(), "last_exposure");
        bad(&|i| i.relation = "neighbour".into(), "relation");
        bad(&|i| i.quarantine_place = "hotel".into(), "quarantine_place");
        bad(&|i| i.phone = "12".into(), "phone");
        bad(&|i| i.quarantine_days = Some(400), "quarantine_days");
        bad(
            &|i| {
                i.national_id.clear();
                i.full_name = "  ".into();
            },
            "full_name",
        );
        // A name alone is enough; a CCCD alone too.
        let mut named = ok.clone();
        named.national_id.clear();
        assert!(validate_contact(&named, today).is_ok());
        let mut id_only = ok.clone();
        id_only.full_name.clear();
        assert!(validate_contact(&id_only, today).is_ok());
    }

    #[test]
    fn a_contact_became_a_case_within_the_window_only() {
        let c = contact(1, d(2024, 3, 1));
        assert!(became_case_of(&c, &case(2, d(2024, 3, 1))));
        assert!(became_case_of(&c, &case(2, d(2024, 3, 15))));
        assert!(!became_case_of(&c, &case(2, d(2024, 3, 16))));
        assert!(!became_case_of(&c, &case(2, d(2024, 2, 29))));
        // Not the case they were exposed to.
        assert!(!became_case_of(&c, &case(1, d(2024, 3, 3))));
        let mut discarded = case(2, d(2024, 3, 3));
        discarded.classification = Classification::Discarded;
        assert!(!became_case_of(&c, &discarded));
    }

    #[test]
    fn contact_changes() {
        let now = at(2024, 3, 3, 0);
        let c = contact(1, d(2024, 3, 1));
        let released = apply_contact_patch(
            &c,
            &ContactPatch {
                status: Some("released".into()),
                note: Some("Âm tính ngày 5".into()),
                ..ContactPatch::default()
            },
            now,
        )
        .unwrap();
        assert_eq!(released.status, ContactStatus::Released);
        assert_eq!(released.updated_at, now);
        let unchanged = apply_contact_patch(&c, &ContactPatch::default(), now).unwrap();
        assert_eq!(unchanged, c);
        let e = apply_contact_patch(
            &c,
            &ContactPatch {
                status: Some("became_case".into()),
                ..ContactPatch::default()
            },
            now,
        )
        .unwrap_err();
        assert_eq!(e.details["field"], "status");
        let mut became = c.clone();
        became.status = ContactStatus::BecameCase;
        assert!(
            apply_contact_patch(
                &became,
                &ContactPatch {
                    status: Some("released".into()),
                    ..ContactPatch::default()
                },
                now
            )
            .is_err()
        );
        let e = apply_contact_patch(
            &c,
            &ContactPatch {
                quarantine_until: Some("28/02/2024".into()),
                ..ContactPatch::default()
            },
            now,
        )
        .unwrap_err();
        assert_eq!(e.details["field"], "quarantine_until");
        let moved = apply_contact_patch(
            &c,
            &ContactPatch {
                quarantine_until: Some("2024-03-10".into()),
                quarantine_place: Some("facility".into()),
                ..ContactPatch::default()
            },
            now,
        )
        .unwrap();
        assert_eq!(moved.quarantine_until, Some(d(2024, 3, 10)));
        assert_eq!(moved.quarantine_place, "facility");
    }

    #[test]
    fn contact_states() {
        let c = contact(1, d(2024, 3, 1)); // until 05/03
        assert_eq!(
            ContactState::of(&c, d(2024, 3, 3)),
            ContactState::InQuarantine { days_left: 2 }
        );
        assert_eq!(
            ContactState::of(&c, d(2024, 3, 5)),
            ContactState::InQuarantine { days_left: 0 }
        );
        assert_eq!(
            ContactState::of(&c, d(2024, 3, 6)),
            ContactState::QuarantineOver
        );
        assert_eq!(
            ContactState::InQuarantine { days_left: 2 }.label(false),
            "Đang cách ly/theo dõi (còn 2 ngày)"
        );
    }

    #[test]
    fn growth_window() {
        let days: Vec<NaiveDate> = (1..=10).map(|i| d(2024, 3, i)).collect();
        assert_eq!(max_in_window(days.clone(), 7), 7);
        assert_eq!(max_in_window(days, 10), 10);
        assert_eq!(max_in_window(vec![d(2024, 3, 1); 3], 7), 3);
        assert_eq!(max_in_window(Vec::new(), 7), 0);
    }

    #[test]
    fn unusual_rules() {
        const { assert!(!UNUSUAL_RULES_VERIFIED) };
        let mild: Vec<Case> = (1..=3).map(|i| case(i, d(2024, 3, i as u32))).collect();
        assert!(unusual_reasons(&mild).is_empty());

        let mut severe = mild.clone();
        severe[1].severity = Severity::Critical;
        assert_eq!(
            unusual_reasons(&severe),
            vec![UnusualReason::Severe { cases: 1 }]
        );

        let mut died = mild.clone();
        died[0].outcome = Some(Outcome::Died);
        assert_eq!(
            unusual_reasons(&died),
            vec![UnusualReason::Deaths { deaths: 1 }]
        );

        let mut vaccinated = mild.clone();
        for c in &mut vaccinated {
            c.risk = serde_json::json!({"age_years": 40, "comorbidities": [], "pregnant": false,
                "vaccination": "boosted", "high_risk": false, "reasons": []});
        }
        assert_eq!(
            unusual_reasons(&vaccinated),
            vec![UnusualReason::FullyVaccinated { cases: 3 }]
        );

        let fast: Vec<Case> = (1..=10)
            .map(|i| case(i, d(2024, 3, 1 + (i % 7) as u32)))
            .collect();
        assert_eq!(
            unusual_reasons(&fast),
            vec![UnusualReason::FastGrowth { cases: 10, days: 7 }]
        );
        let slow: Vec<Case> = (1..=10)
            .map(|i| case(i, d(2024, 3, i as u32 * 2)))
            .collect();
        assert!(unusual_reasons(&slow).is_empty());

        let mut imported = mild.clone();
        imported[2].detection_source = DetectionSource::Imported;
        assert_eq!(
            unusual_reasons(&imported),
            vec![UnusualReason::Imported { cases: 1 }]
        );
        // Discarded cases do not count.
        imported[2].classification = Classification::Discarded;
        assert!(unusual_reasons(&imported).is_empty());
        assert_eq!(
            UnusualReason::FastGrowth { cases: 12, days: 7 }.label(false),
            "12 ca trong 7 ngày"
        );
    }

    #[test]
    fn clusters_end_eight_days_after_their_last_case_and_close_when_passed() {
        let c = cluster(d(2024, 3, 1));
        let members = vec![case(1, d(2024, 3, 2)), case(2, d(2024, 3, 6))];
        let now = at(2024, 3, 8, 0);
        let r = refresh_cluster(&c, &members, d(2024, 3, 8), now);
        assert_eq!(r.last_case_on, Some(d(2024, 3, 6)));
        assert_eq!(r.ends_on, Some(d(2024, 3, 14)));
        assert!(!r.closed);
        assert_eq!(r.updated_at, now);
        // The end day itself is still open; the day after, closed.
        assert!(!refresh_cluster(&c, &members, d(2024, 3, 14), now).closed);
        let closed = refresh_cluster(&c, &members, d(2024, 3, 15), now);
        assert!(closed.closed);
        // A later case reopens it.
        let mut more = members.clone();
        more.push(case(3, d(2024, 3, 14)));
        let reopened = refresh_cluster(&closed, &more, d(2024, 3, 15), now);
        assert!(!reopened.closed);
        assert_eq!(reopened.ends_on, Some(d(2024, 3, 22)));
        // Under group A practice, 28 days.
        let old = refresh_cluster(
            &cluster(d(2022, 3, 1)),
            &[case(1, d(2022, 3, 1))],
            d(2022, 3, 2),
            now,
        );
        assert_eq!(old.ends_on, Some(d(2022, 3, 29)));
        // Nothing changes: not updated.
        let same = refresh_cluster(&r, &members, d(2024, 3, 8), at(2024, 3, 9, 0));
        assert_eq!(same, r);
    }

    #[test]
    fn unusual_clusters_go_to_sample_and_stay_flagged() {
        let c = cluster(d(2024, 3, 1));
        let mut members = vec![case(1, d(2024, 3, 2))];
        members[0].severity = Severity::Severe;
        let now = at(2024, 3, 8, 0);
        let r = refresh_cluster(&c, &members, d(2024, 3, 8), now);
        assert!(r.unusual);
        assert_eq!(r.sequencing, Sequencing::ToSample);
        assert_eq!(r.unusual_reason, "1 ca nặng/nguy kịch");
        // Recovered: still unusual, still to sample.
        members[0].severity = Severity::Mild;
        let later = refresh_cluster(&r, &members, d(2024, 3, 9), now);
        assert!(later.unusual);
        assert_eq!(later.sequencing, Sequencing::ToSample);
    }

    #[test]
    fn cluster_changes() {
        let today = d(2024, 3, 20);
        let now = at(2024, 3, 20, 3);
        let patch = |p: ClusterPatch, c: &Cluster| apply_cluster_patch(c, &p, today, now);
        let c = cluster(d(2024, 3, 1));
        // Zoning.
        assert_eq!(
            patch(
                ClusterPatch {
                    zoning: Some("lifted".into()),
                    ..ClusterPatch::default()
                },
                &c
            )
            .unwrap_err()
            .details["field"],
            "zoning"
        );
        let zoned = patch(
            ClusterPatch {
                zoning: Some("zoned".into()),
                ..ClusterPatch::default()
            },
            &c,
        )
        .unwrap();
        assert_eq!(zoned.zoning, Zoning::Zoned);
        assert_eq!(
            patch(
                ClusterPatch {
                    zoning: Some("lifted".into()),
                    ..ClusterPatch::default()
                },
                &zoned
            )
            .unwrap()
            .zoning,
            Zoning::Lifted
        );
        // A result before any referral is refused.
        let result = ClusterPatch {
            variant: Some("Omicron BA.2.86".into()),
            variant_result_on: Some("18/03/2024".into()),
            ..ClusterPatch::default()
        };
        assert_eq!(
            patch(result.clone(), &c).unwrap_err().details["field"],
            "variant"
        );
        // Manual flag: reason required.
        assert_eq!(
            patch(
                ClusterPatch {
                    unusual: Some(true),
                    ..ClusterPatch::default()
                },
                &c
            )
            .unwrap_err()
            .details["field"],
            "unusual_reason"
        );
        let flagged = patch(
            ClusterPatch {
                unusual: Some(true),
                unusual_reason: Some("Nhiều ca trẻ em".into()),
                ..ClusterPatch::default()
            },
            &c,
        )
        .unwrap();
        assert_eq!(flagged.sequencing, Sequencing::ToSample);
        assert!(
            patch(
                ClusterPatch {
                    unusual: Some(false),
                    ..ClusterPatch::default()
                },
                &flagged
            )
            .is_err()
        );
        // Referral needs both halves.
        assert!(
            patch(
                ClusterPatch {
                    sequencing_lab: Some("Viện VSDTTƯ".into()),
                    ..ClusterPatch::default()
                },
                &flagged
            )
            .is_err()
        );
        let referral = ClusterPatch {
            sequencing_lab: Some("Viện VSDTTƯ".into()),
            referred_on: Some("15/03/2024".into()),
            ..ClusterPatch::default()
        };
        let referred = patch(referral.clone(), &flagged).unwrap();
        assert_eq!(referred.sequencing, Sequencing::Referred);
        assert_eq!(referred.sample_referred_on, Some(d(2024, 3, 15)));
        // A result dated before the referral is refused.
        let early = ClusterPatch {
            variant_result_on: Some("14/03/2024".into()),
            ..result.clone()
        };
        assert_eq!(
            patch(early, &referred).unwrap_err().details["field"],
            "variant_result_on"
        );
        let resulted = patch(result.clone(), &referred).unwrap();
        assert_eq!(resulted.sequencing, Sequencing::Resulted);
        assert_eq!(resulted.variant, "Omicron BA.2.86");
        // The page resends the referral with a corrected result: accepted.
        let corrected = patch(
            ClusterPatch {
                variant: Some("JN.1".into()),
                ..ClusterPatch {
                    sequencing_lab: referral.sequencing_lab.clone(),
                    referred_on: referral.referred_on.clone(),
                    ..result.clone()
                }
            },
            &resulted,
        )
        .unwrap();
        assert_eq!(corrected.variant, "JN.1");
        assert_eq!(corrected.sequencing, Sequencing::Resulted);
        // A different referral after the result is refused.
        assert!(
            patch(
                ClusterPatch {
                    referred_on: Some("16/03/2024".into()),
                    ..referral.clone()
                },
                &resulted
            )
            .is_err()
        );
        // Closing before the end date is refused; after it, accepted.
        let mut running = c.clone();
        running.last_case_on = Some(d(2024, 3, 15));
        running.ends_on = Some(d(2024, 3, 23));
        let close = ClusterPatch {
            closed: Some(true),
            ..ClusterPatch::default()
        };
        assert_eq!(
            patch(close.clone(), &running).unwrap_err().details["field"],
            "closed"
        );
        running.ends_on = Some(d(2024, 3, 19));
        assert!(patch(close, &running).unwrap().closed);
        // An empty cluster may be closed.
        assert!(
            patch(
                ClusterPatch {
                    closed: Some(true),
                    ..ClusterPatch::default()
                },
                &c
            )
            .unwrap()
            .closed
        );
    }

    #[test]
    fn communes_in_both_hierarchies_and_scope() {
        let units = AdminUnits::embedded();
        let commune = units.v2025.communes_under("12")[0].clone();
        let u = units_of_commune(units, UnitVersion::V2025, &commune).unwrap();
        assert_eq!(u.province_code, "12");
        assert_eq!(u.commune_code, commune);
        let old = units.old_communes_for_new(&commune)[0].clone();
        let o = units_of_commune(units, UnitVersion::Pre2025, &old).unwrap();
        assert_eq!(o.old_commune_code.as_deref(), Some(old.as_str()));
        assert!(o.old_district_code.is_some());
        assert_eq!(o.province_code, "12");
        assert!(units_of_commune(units, UnitVersion::V2025, "12").is_err());
        assert!(units_of_commune(units, UnitVersion::V2025, "99999").is_err());

        let scope = |v, c: &str| UnitRef::new(v, c);
        assert!(units_within(units, &scope(UnitVersion::V2025, "12"), &u));
        assert!(units_within(
            units,
            &scope(UnitVersion::V2025, &commune),
            &u
        ));
        assert!(!units_within(units, &scope(UnitVersion::V2025, "01"), &u));
        let district = o.old_district_code.clone().unwrap();
        assert!(units_within(
            units,
            &scope(UnitVersion::Pre2025, &district),
            &o
        ));
        assert!(!units_within(
            units,
            &scope(UnitVersion::Pre2025, "001"),
            &o
        ));
        // A province-only record is outside a commune scope.
        let province_only = CaseUnits {
            province_code: "12".into(),
            ..CaseUnits::default()
        };
        assert!(units_within(
            units,
            &scope(UnitVersion::V2025, "12"),
            &province_only
        ));
        assert!(!units_within(
            units,
            &scope(UnitVersion::V2025, &commune),
            &province_only
        ));
        assert!(!units_within(
            units,
            &scope(UnitVersion::Pre2025, &district),
            &province_only
        ));
    }

    #[test]
    fn positive_pools_break_down_into_singles() {
        let pool = sample("LC-001", 4, "CDC-LC", at(2024, 3, 1, 2));
        let now = at(2024, 3, 1, 9);
        let singles = break_down(&pool, now);
        assert_eq!(singles.len(), 4);
        for (i, s) in singles.iter().enumerate() {
            assert_eq!(s.code, format!("LC-001-{}", i + 1));
            assert_eq!(s.pool_id, Some(pool.id));
            assert_eq!(s.members, vec![pool.members[i].clone()]);
            assert_eq!(s.lab_code, "CDC-LC");
            assert_eq!(s.status, SampleStatus::Collected);
            assert!(!s.pooled());
        }
        let members: Vec<MemberInput> = (0..=MAX_POOL_SIZE)
            .map(|i| MemberInput {
                full_name: format!("N {i}"),
                ..MemberInput::default()
            })
            .collect();
        assert!(validate_members(&members).is_err());
        assert_eq!(
            validate_members(&members[..MAX_POOL_SIZE]).unwrap().len(),
            10
        );
        assert!(validate_members(&[]).is_err());
        assert!(
            validate_members(&[MemberInput {
                national_id: "123".into(),
                ..MemberInput::default()
            }])
            .is_err()
        );
    }

    #[test]
    fn a_single_result_becomes_a_test_row() {
        let mut s = sample("LC-002", 1, "CDC-LC", at(2024, 3, 1, 20));
        s.members[0].national_id = "012090123456".into();
        let session = SampleSession {
            id: s.session_id,
            units: units(),
            place: "Nhà văn hoá".into(),
            held_on: d(2024, 3, 2),
            lab_code: "CDC-LC".into(),
            created_by: "t".into(),
            created_at: at(2024, 3, 1, 20),
        };
        let row = test_row_of(&s, &session, None, TestType::RtPcr, TestResult::Positive).unwrap();
        assert_eq!(row.record_id, "LC-002");
        assert_eq!(row.lab_code, "CDC-LC");
        assert_eq!(row.national_id, "012090123456");
        assert_eq!(row.commune_code, "03388");
        // 20:00 UTC is the next morning in Vietnam.
        assert_eq!(row.sample_date, d(2024, 3, 2));
    }

    #[test]
    fn queue_order_and_turnaround() {
        let now = at(2024, 3, 2, 12);
        let a = sample("B", 1, "L1", at(2024, 3, 2, 0));
        let b = sample("A", 5, "L1", at(2024, 3, 1, 12));
        let q = queue_items(vec![a.clone(), b.clone()], now);
        assert_eq!(q[0].sample.code, "A");
        assert_eq!(q[0].waiting_hours, 24.0);
        assert_eq!(q[1].waiting_hours, 12.0);

        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 90.0), 4.0);
        assert_eq!(percentile(&[5.0], 90.0), 5.0);
        assert_eq!(percentile(&[], 50.0), 0.0);

        let mut done = Vec::new();
        for (i, h) in [10i64, 20, 30, 40, 50, 60, 70, 80, 90, 100]
            .iter()
            .enumerate()
        {
            let mut s = sample(&format!("S{i}"), 1, "L1", at(2024, 3, 1, 0));
            s.resulted_at = Some(s.collected_at + TimeDelta::hours(*h));
            s.status = SampleStatus::Resulted;
            done.push(s);
        }
        let mut other = sample("X", 1, "L0", at(2024, 3, 1, 0));
        other.resulted_at = Some(other.collected_at + TimeDelta::minutes(90));
        done.push(other);
        done.push(sample("pending", 1, "L1", at(2024, 3, 1, 0)));
        let t = turnaround(&done);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].lab_code, "L0");
        assert_eq!(t[0].median_hours, 1.5);
        assert_eq!(
            t[1],
            LabTurnaround {
                lab_code: "L1".into(),
                samples: 10,
                median_hours: 50.0,
                p90_hours: 90.0,
                max_hours: 100.0,
            }
        );
    }

    fn declaration(gate: &str, day: NaiveDate, variant: bool, province: &str) -> EntryDeclaration {
        EntryDeclaration {
            id: Uuid::now_v7(),
            units: CaseUnits {
                province_code: province.into(),
                ..CaseUnits::default()
            },
            full_name: "Nguyễn Văn Về".into(),
            document_number: "C1234567".into(),
            phone: String::new(),
            gate_code: gate.into(),
            entered_on: day,
            from_area: "Vân Nam".into(),
            variant_area: variant,
            followup_until: day,
            status: "following".into(),
            case_id: None,
            created_at: at(2024, 3, 1, 0),
        }
    }

    fn count(gate: &str, day: NaiveDate, from_variant: i64) -> BorderCount {
        BorderCount {
            gate_code: gate.into(),
            province_code: "12".into(),
            day,
            entrants: from_variant + 10,
            from_variant_areas: from_variant,
        }
    }

    #[test]
    fn declared_share_against_the_target() {
        let (from, to) = (d(2024, 3, 1), d(2024, 3, 7));
        let mut ds: Vec<EntryDeclaration> = (0..19)
            .map(|_| declaration("MaLuThang", d(2024, 3, 2), true, "12"))
            .collect();
        ds.extend((0..10).map(|_| declaration("MaLuThang", d(2024, 3, 3), true, "12")));
        // Not counted: not from a variant area, outside the period, another province.
        ds.push(declaration("MaLuThang", d(2024, 3, 2), false, "12"));
        ds.push(declaration("MaLuThang", d(2024, 3, 8), true, "12"));
        ds.push(declaration("MaLuThang", d(2024, 3, 2), true, "01"));
        ds.push(declaration("UMaTu", d(2024, 3, 2), true, "12"));
        let counts = vec![
            count("MaLuThang", d(2024, 3, 2), 20),
            count("MaLuThang", d(2024, 3, 3), 10),
            count("UMaTu", d(2024, 3, 2), 4),
            count("MaLuThang", d(2024, 3, 9), 100),
        ];
        let s = declared_share("12", from, to, &ds, &counts);
        assert_eq!(s.total.declared, 30);
        assert_eq!(s.total.entrants, 34);
        assert_eq!(s.counted_days, 3);
        assert_eq!(s.total.meets_target, Some(false));
        assert_eq!(s.by_gate.len(), 2);
        assert_eq!(s.by_gate[0].gate_code, "MaLuThang");
        assert_eq!(s.by_gate[0].declared, 29);
        assert_eq!(s.by_gate[0].entrants, 30);
        // 29/30 = 96.7% > 95%.
        assert_eq!(s.by_gate[0].meets_target, Some(true));
        assert_eq!(s.by_gate[1].meets_target, Some(false));
        // Exactly 95% does not meet "more than 95%".
        let ds: Vec<EntryDeclaration> = (0..19)
            .map(|_| declaration("G", d(2024, 3, 2), true, "12"))
            .collect();
        let exact = declared_share("12", from, to, &ds, &[count("G", d(2024, 3, 2), 20)]);
        assert_eq!(exact.total.share, Some(0.95));
        assert_eq!(exact.total.meets_target, Some(false));
        // No entrants counted: no share.
        let none = declared_share("12", from, to, &ds, &[]);
        assert_eq!(none.total.share, None);
        assert_eq!(none.total.meets_target, None);
    }

    #[test]
    fn declarations_and_counts_are_checked() {
        let units = AdminUnits::embedded();
        let commune = units.v2025.communes_under("12")[0].clone();
        let now = at(2024, 3, 10, 3);
        let input = DeclarationInput {
            full_name: "Nguyễn Văn Về".into(),
            document_number: "C 123 4567".into(),
            gate_code: "MaLuThang".into(),
            entered_on: "08/03/2024".into(),
            from_area: "Vân Nam".into(),
            variant_area: true,
            commune_code: commune.clone(),
            ..DeclarationInput::default()
        };
        let dcl = new_declaration(units, &input, now).unwrap();
        assert_eq!(dcl.document_number, "C1234567");
        // Group B: incubation 4 days.
        assert_eq!(dcl.followup_until, d(2024, 3, 12));
        assert_eq!(declaration_status(&dcl, d(2024, 3, 12)), "following");
        assert_eq!(declaration_status(&dcl, d(2024, 3, 13)), "completed");
        let mut bad = input.clone();
        bad.gate_code = "<gate>".into();
        assert_eq!(
            new_declaration(units, &bad, now).unwrap_err().details["field"],
            "gate_code"
        );

        let c = BorderCountInput {
            gate_code: "MaLuThang".into(),
            province_code: "12".into(),
            day: "2024-03-09".into(),
            entrants: 100,
            from_variant_areas: 40,
        };
        assert_eq!(
            new_border_count(units, &c, now).unwrap().from_variant_areas,
            40
        );
        let too_many = BorderCountInput {
            from_variant_areas: 101,
            ..c.clone()
        };
        assert!(new_border_count(units, &too_many, now).is_err());
        let commune_code = BorderCountInput {
            province_code: commune,
            ..c.clone()
        };
        assert_eq!(
            new_border_count(units, &commune_code, now)
                .unwrap_err()
                .details["field"],
            "province_code"
        );
    }

    #[test]
    fn new_clusters_and_sessions() {
        let units = AdminUnits::embedded();
        let commune = units.v2025.communes_under("12")[0].clone();
        let now = at(2024, 3, 10, 3);
        let c = new_cluster(
            units,
            &ClusterInput {
                name: "Xưởng may".into(),
                commune_code: commune.clone(),
                ..ClusterInput::default()
            },
            now,
        )
        .unwrap();
        assert_eq!(c.opened_on, d(2024, 3, 10));
        assert_eq!(c.sequencing, Sequencing::NotNeeded);
        assert!(
            new_cluster(
                units,
                &ClusterInput {
                    name: "x".into(),
                    commune_code: commune.clone(),
                    hierarchy: Some("1999".into()),
                    ..ClusterInput::default()
                },
                now
            )
            .is_err()
        );
        let s = new_session(
            units,
            &SessionInput {
                commune_code: commune,
                place: "Nhà văn hoá bản".into(),
                lab_code: "CDC-LC".into(),
                ..SessionInput::default()
            },
            "tram",
            now,
        )
        .unwrap();
        assert_eq!(s.held_on, d(2024, 3, 10));
        assert_eq!(s.created_by, "tram");
    }
}
