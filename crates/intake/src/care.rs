//! Care of cases (F0) after they are opened, shared by the API, the pages and the CLI; the
//! clock is a parameter everywhere.
//!
//! - [`record_checkin`]: one home-care check-in (by staff or by the citizen) assessed with the
//!   home-care ruleset ([`domain::home_care::assess`]), stored with the case as updated from it
//!   in one call ([`store::CaseStore::add_checkin`]). The person's age and risk factors come
//!   from the case, the measurements from the caller ([`CheckInInput`]).
//!
//!   **Severity policy**: a check-in may *raise* the case's severity (the assessed severity is
//!   worse than the stored one) but never lowers it — one reassuring reading (a re-measured
//!   SpO2, a fever gone after an antipyretic) is not a clinical improvement; staff lower it
//!   explicitly ([`update_case_fields`]). The alert and its reasons, on the other hand, always
//!   follow the latest check-in: they say what to do *now*. The check-in row keeps the severity
//!   it assessed.
//! - [`alert_queue`]: the commune station's queue — open home-care cases whose latest check-in
//!   raised a warning or an emergency, or with no check-in for the rules' `non_reporting_hours`
//!   ([`AlertLevel::Overdue`]) — sorted by [`case_rules::urgency_key`].
//! - [`discharge`]: end of home isolation by [`case_rules::discharge_ready`] (isolation days
//!   over, a negative test sampled on or after the last isolation day — or staff attesting one
//!   seen elsewhere —, a last check-in without warning signs) → outcome recovered, case closed.
//! - [`update_case_fields`]: staff edits (classification, onset, detection source, severity,
//!   care setting, oxygen, outcome died / transferred out with its date, comorbidities and
//!   pregnancy → risk group and `high_risk` recomputed, note; reopening a case closed by mistake).
//! - [`daily_report`], [`submit_daily_report`], [`units_not_reported`]: a unit's daily figures
//!   (either hierarchy), submitting them, and the units below that have not reported.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use domain::audit::NewAuditEntry;
use domain::case_rules::{self, CaseRules, RiskGroup, UrgencyKey, VaccinationStatus};
use domain::home_care::{Assessment, HomeCareRules, Reason, Vitals, assess};
use domain::population::age_on;
use domain::surveillance::{
    AlertLevel, CareSetting, CaseStatus, Classification, DetectionSource, Outcome, Severity,
    TestResult, TestType,
};
use domain::units::{AdminUnits, UnitLevel};
use domain::{Error, ErrorCode};
use serde::{Deserialize, Serialize};
use store::{Case, CheckIn, CoverageUnit, DailyFigures, DailyReport, PersonScope, Store};
use uuid::Uuid;

type Result<T> = std::result::Result<T, Error>;

/// Candidates ranked for one alert queue (their ranking columns only; the store returns them
/// unsorted). Far above any province's open home-care cases at a peak; beyond it a warning is
/// logged.
pub const MAX_ALERT_CANDIDATES: u32 = 1_000_000;
/// Longest staff note on a case.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// `by` of a citizen's own check-in.
pub const CITIZEN: &str = "citizen";

pub use domain::vietnam_time::local_date;

fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    tracing::error!(what, error = %e, "stored case data unreadable");
    Error::internal()
}

fn closed_case() -> Error {
    Error::new(
        ErrorCode::Conflict,
        "Ca bệnh đã kết thúc theo dõi",
        "The case is closed",
    )
}

/// A case by id, or `not_found`.
pub async fn require_case(store: &dyn Store, id: Uuid) -> Result<Case> {
    store
        .case(id)
        .await?
        .ok_or_else(|| Error::not_found("ca bệnh", "Case"))
}

/// The open case of a person (the most recent one when, unusually, several are open).
pub async fn open_case_of_person(store: &dyn Store, person: Uuid) -> Result<Option<Case>> {
    Ok(store
        .cases_of_person(person)
        .await?
        .into_iter()
        .find(|c| c.status == CaseStatus::Open))
}

/// The risk group stored with a case, or one rebuilt from its birth date when none is stored
/// (vaccination then unknown, counted as not vaccinated).
pub fn risk_of(case: &Case, today: NaiveDate) -> RiskGroup {
    stored_risk_group(&case.risk, case.dob, case.first_positive, today)
}

/// The risk group stored as JSON with a case, or (unreadable) the one its birth date gives.
fn stored_risk_group(
    risk: &serde_json::Value,
    dob: Option<NaiveDate>,
    first_positive: NaiveDate,
    today: NaiveDate,
) -> RiskGroup {
    if let Ok(r) = serde_json::from_value::<RiskGroup>(risk.clone()) {
        return r;
    }
    let age = dob.and_then(|d| age_on(d, today)).unwrap_or(0);
    CaseRules::embedded().at(first_positive).risk_group(
        age,
        &[],
        false,
        VaccinationStatus::Unvaccinated,
    )
}

/// Age in completed years on `today` (from the birth date, else the stored risk group).
pub fn age_of(case: &Case, today: NaiveDate) -> u32 {
    age_from(case.dob, &case.risk, case.first_positive, today)
}

fn age_from(
    dob: Option<NaiveDate>,
    risk: &serde_json::Value,
    first_positive: NaiveDate,
    today: NaiveDate,
) -> u32 {
    dob.and_then(|d| age_on(d, today))
        .unwrap_or_else(|| stored_risk_group(risk, dob, first_positive, today).age_years)
}

/// The reasons stored with a case's alert.
pub fn reasons_of(case: &Case) -> Vec<Reason> {
    serde_json::from_value(case.alert_reasons.clone()).unwrap_or_default()
}

/// The measurements of one check-in as typed (any may be missing). The person's age and risk
/// factors are the case's; `age_years` is only used when the case has no birth date.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInInput {
    #[serde(default)]
    pub resp_rate: Option<f64>,
    #[serde(default)]
    pub spo2: Option<f64>,
    #[serde(default)]
    pub pulse: Option<f64>,
    #[serde(default)]
    pub systolic: Option<f64>,
    #[serde(default)]
    pub diastolic: Option<f64>,
    #[serde(default)]
    pub temp_c: Option<f64>,
    #[serde(default)]
    pub symptoms: Vec<String>,
    #[serde(default)]
    pub able_to_self_care: Option<bool>,
    #[serde(default)]
    pub age_years: Option<f64>,
}

impl CheckInInput {
    fn is_empty(&self) -> bool {
        [
            self.resp_rate,
            self.spo2,
            self.pulse,
            self.systolic,
            self.diastolic,
            self.temp_c,
        ]
        .iter()
        .all(Option::is_none)
            && self.symptoms.is_empty()
    }
}

/// The [`Vitals`] of a check-in on a case: the measurements typed, the age and risk factors of
/// the case; validated (plausible ranges, known symptom codes).
pub fn vitals_for(case: &Case, input: &CheckInInput, today: NaiveDate) -> Result<Vitals> {
    if input.is_empty() {
        return Err(Error::invalid(
            "vitals",
            "Chưa nhập chỉ số nào (SpO2, nhịp thở, mạch, nhiệt độ, huyết áp) hoặc triệu chứng",
            "No measurement (SpO2, respiratory rate, pulse, temperature, blood pressure) or symptom entered",
        ));
    }
    let risk = risk_of(case, today);
    let age = match (case.dob.and_then(|d| age_on(d, today)), input.age_years) {
        (Some(a), _) => f64::from(a),
        (None, Some(a)) => a,
        (None, None) => f64::from(risk.age_years),
    };
    let mut v = Vitals::new(age);
    v.resp_rate = input.resp_rate;
    v.spo2 = input.spo2;
    v.pulse = input.pulse;
    v.systolic = input.systolic;
    v.diastolic = input.diastolic;
    v.temp_c = input.temp_c;
    v.symptoms = input.symptoms.clone();
    v.comorbidities = risk.comorbidities.clone();
    v.pregnant = risk.pregnant;
    v.fully_vaccinated = Some(risk.vaccination.is_fully_vaccinated());
    v.able_to_self_care = input.able_to_self_care.unwrap_or(true);
    v.validated()
}

/// The check-in and the case as updated from an assessment (severity only raised; alert,
/// reasons and ruleset from the assessment).
pub fn apply_assessment(
    case: &Case,
    vitals: &Vitals,
    assessment: &Assessment,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(CheckIn, Case)> {
    let checkin = CheckIn {
        id: Uuid::now_v7(),
        case_id: case.id,
        province_code: case.units.province_code.clone(),
        at: now,
        by: by.to_string(),
        vitals: serde_json::to_value(vitals).map_err(|e| corrupt("vitals", e))?,
        assessment: serde_json::to_value(assessment).map_err(|e| corrupt("assessment", e))?,
        escalate: assessment.escalate,
        severity: assessment.severity,
        alert: assessment.alert,
    };
    let mut updated = case.clone();
    updated.last_checkin_at = Some(now);
    updated.severity = case.severity.max(assessment.severity);
    updated.alert = assessment.alert;
    updated.alert_reasons =
        serde_json::to_value(&assessment.reasons).map_err(|e| corrupt("reasons", e))?;
    updated.ruleset = assessment.ruleset.clone();
    updated.updated_at = now;
    Ok((checkin, updated))
}

/// Records a check-in of an open case by `by` (a username, or [`CITIZEN`]) at `now`, with its
/// audit entry; returns the check-in and the updated case. A closed case is a `conflict`.
pub async fn record_checkin(
    store: &dyn Store,
    case_id: Uuid,
    input: &CheckInInput,
    by: &str,
    now: DateTime<Utc>,
    audit: &NewAuditEntry,
) -> Result<(CheckIn, Case)> {
    let case = require_case(store, case_id).await?;
    if case.status != CaseStatus::Open {
        return Err(closed_case());
    }
    let vitals = vitals_for(&case, input, local_date(now))?;
    let ruleset = HomeCareRules::embedded().ruleset(None)?;
    let assessment = assess(ruleset, &vitals);
    let (checkin, updated) = apply_assessment(&case, &vitals, &assessment, by, now)?;
    store.add_checkin(&checkin, &updated, audit).await?;
    Ok((checkin, updated))
}

/// The assessment stored with a check-in.
pub fn assessment_of(c: &CheckIn) -> Option<Assessment> {
    serde_json::from_value(c.assessment.clone()).ok()
}

/// The vitals stored with a check-in.
pub fn vitals_of(c: &CheckIn) -> Option<Vitals> {
    serde_json::from_value(c.vitals.clone()).ok()
}

/// One case of the alert queue.
#[derive(Debug, Clone, Serialize)]
pub struct AlertItem {
    pub case: Case,
    /// The stored alert, or `overdue` when there is none and no check-in came for the rules'
    /// hours.
    pub alert: AlertLevel,
    /// No check-in for the rules' hours (also set beside a warning or emergency).
    pub overdue: bool,
    /// Hours since the last check-in (or since the case was reported, without one).
    pub hours_since_checkin: i64,
    pub age_years: u32,
    /// The alert's reasons (the latest check-in's; for an overdue case, the missed check-ins).
    pub reasons: Vec<Reason>,
    #[serde(skip)]
    pub key: UrgencyKey,
}

/// The alert queue of a scope at `now`, most urgent first, at most `limit` cases.
///
/// Two reads: every candidate's ranking columns ([`store::AlertCandidate`]), ranked here by
/// [`case_rules::urgency_key`] (ties by case id), then the full rows of the `limit` shown. A
/// commune with thousands of overdue cases thus decodes thousands of small rows and only the
/// page's full cases. A case changed between the two reads is shown as it is now, or left
/// out if there is nothing to act on any more or it has moved out of the scope (the page is
/// then that much shorter).
pub async fn alert_queue(
    store: &dyn Store,
    scope: &PersonScope,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<AlertItem>> {
    let today = local_date(now);
    let rules = CaseRules::embedded().at(today);
    let hours = rules.non_reporting_hours.value;
    let stale_before = now - TimeDelta::hours(hours);
    let candidates = store
        .alert_candidates(scope, stale_before, MAX_ALERT_CANDIDATES)
        .await?;
    if candidates.len() >= MAX_ALERT_CANDIDATES as usize {
        tracing::warn!(
            candidates = candidates.len(),
            "alert queue: the scope has more candidates than are ranked; the queue may miss some"
        );
    }
    let mut ranked: Vec<(UrgencyKey, Uuid)> = candidates
        .iter()
        .filter_map(|c| {
            let age = age_from(c.dob, &c.risk, c.first_positive, today);
            let last = c.last_checkin_at.unwrap_or(c.reported_at);
            urgency(c.alert, last, c.high_risk, age, now, today).map(|u| (u.key, c.id))
        })
        .collect();
    ranked.sort();
    ranked.truncate(limit as usize);
    let ids: Vec<Uuid> = ranked.iter().map(|(_, id)| *id).collect();
    let mut items: Vec<AlertItem> = store
        .cases_by_ids(&ids)
        .await?
        .into_iter()
        .filter(|c| {
            c.status == CaseStatus::Open
                && c.care_setting == CareSetting::Home
                && c.units.within(scope)
        })
        .filter_map(|case| alert_item(case, now, today))
        .collect();
    items.sort_by(|a, b| a.key.cmp(&b.key).then(a.case.id.cmp(&b.case.id)));
    Ok(items)
}

/// Where a case stands in the alert queue at `now`.
struct Urgency {
    /// The alert shown: the stored one, or overdue for a case without a check-in in time.
    alert: AlertLevel,
    overdue: bool,
    hours_since_checkin: i64,
    key: UrgencyKey,
}

/// The [`Urgency`] of a case at `now` from its stored alert, last check-in (or report time),
/// high risk and age; `None` when there is nothing to act on.
fn urgency(
    stored: AlertLevel,
    last: DateTime<Utc>,
    high_risk: bool,
    age_years: u32,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Option<Urgency> {
    let rules = CaseRules::embedded().at(today);
    let overdue = rules.checkin_overdue(last, now);
    let hours_since_checkin = (now - last).num_hours().max(0);
    let alert = match (stored, overdue) {
        (AlertLevel::None | AlertLevel::Overdue, true) => AlertLevel::Overdue,
        (AlertLevel::Overdue, false) => AlertLevel::None,
        (a, _) => a,
    };
    (alert != AlertLevel::None).then(|| Urgency {
        alert,
        overdue,
        hours_since_checkin,
        key: case_rules::urgency_key(alert, high_risk, age_years, hours_since_checkin),
    })
}

/// A case as the alert queue shows it at `now`, or `None` when there is nothing to act on.
pub fn alert_item(case: Case, now: DateTime<Utc>, today: NaiveDate) -> Option<AlertItem> {
    let rules = CaseRules::embedded().at(today);
    let last = case.last_checkin_at.unwrap_or(case.reported_at);
    let age_years = age_of(&case, today);
    let Urgency {
        alert,
        overdue,
        hours_since_checkin,
        key,
    } = urgency(case.alert, last, case.high_risk, age_years, now, today)?;
    let mut reasons = reasons_of(&case);
    if overdue {
        let h = rules.non_reporting_hours.value;
        reasons.push(Reason {
            code: "checkin_overdue".into(),
            message_vi: match case.last_checkin_at {
                Some(_) => format!(
                    "Không báo cáo theo dõi sức khỏe đã {hours_since_checkin} giờ (quá {h} giờ)"
                ),
                None => format!(
                    "Chưa có lần theo dõi sức khỏe nào sau {hours_since_checkin} giờ (quá {h} giờ)"
                ),
            },
            message_en: format!("No check-in for {hours_since_checkin} hours (limit {h} hours)"),
            verified: rules.non_reporting_hours.verified,
            source: rules.citation.clone(),
        });
    }
    Some(AlertItem {
        case,
        alert,
        overdue,
        hours_since_checkin,
        age_years,
        reasons,
        key,
    })
}

/// What staff send to discharge a case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DischargeRequest {
    /// Staff attest a negative test sampled on or after the last isolation day that the
    /// system does not hold (e.g. a rapid test read at home by the station's team).
    #[serde(default)]
    pub attest_negative_test: bool,
}

/// Whether a negative RT-PCR or rapid antigen test of the case (attached to it, or of its
/// person) was sampled on or after `from`. A negative RT-PCR counts like a rapid test: it is
/// at least as sensitive.
pub async fn has_negative_test_from(
    store: &dyn Store,
    case: &Case,
    from: NaiveDate,
) -> Result<bool> {
    let mut tests = store.lab_tests_of_case(case.id).await?;
    if let Some(p) = case.person_id {
        tests.extend(store.lab_tests_of_person(p).await?);
    }
    Ok(tests.iter().any(|t| {
        t.result == TestResult::Negative
            && matches!(t.test_type, TestType::RapidAntigen | TestType::RtPcr)
            && t.sample_date >= from
            && t.sample_date >= case.first_positive
    }))
}

/// Discharges an open case on `today` when [`case_rules::discharge_ready`] agrees: outcome
/// recovered dated `today`, case closed, alert cleared, with the audit entry (its `at` is the
/// update time). Otherwise `invalid_input` listing every missing condition (`details.reasons`).
pub async fn discharge(
    store: &dyn Store,
    case_id: Uuid,
    today: NaiveDate,
    request: &DischargeRequest,
    audit: &NewAuditEntry,
) -> Result<Case> {
    let case = require_case(store, case_id).await?;
    if case.status != CaseStatus::Open {
        return Err(closed_case());
    }
    let rules = CaseRules::embedded().at(case.first_positive);
    let end = rules.isolation_end(case.first_positive);
    let negative =
        request.attest_negative_test || has_negative_test_from(store, &case, end).await?;
    let last = store
        .checkins(case.id, 1)
        .await?
        .first()
        .and_then(assessment_of);
    if let Err(reasons) =
        case_rules::discharge_ready(rules, case.first_positive, today, last.as_ref(), negative)
    {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("Chưa đủ điều kiện kết thúc cách ly: {}", reasons.join("; ")),
            "The case may not be discharged yet (see details.reasons)",
        )
        .with_details(serde_json::json!({ "field": "discharge", "reasons": reasons })));
    }
    let mut updated = case.clone();
    updated.outcome = Some(Outcome::Recovered);
    updated.outcome_date = Some(today);
    updated.status = CaseStatus::Closed;
    updated.alert = AlertLevel::None;
    updated.alert_reasons = serde_json::json!([]);
    updated.updated_at = audit.at;
    store.update_case(&updated, audit).await?;
    Ok(updated)
}

/// Staff edits of a case; absent fields stay as they are. Codes as in
/// [`domain::surveillance`]; dates `YYYY-MM-DD` or `DD/MM/YYYY`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseEdit {
    #[serde(default)]
    pub classification: Option<String>,
    /// Symptom onset; an empty string clears it.
    #[serde(default)]
    pub onset: Option<String>,
    #[serde(default)]
    pub detection_source: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub care_setting: Option<String>,
    #[serde(default)]
    pub on_oxygen: Option<bool>,
    /// `died` or `transferred_out` (recovery goes through [`discharge`]); closes the case.
    #[serde(default)]
    pub outcome: Option<String>,
    /// Date of the outcome (default: today).
    #[serde(default)]
    pub outcome_date: Option<String>,
    /// Reopens a case closed by mistake (clears the outcome).
    #[serde(default)]
    pub reopen: bool,
    /// Comorbidity codes (`domain::case_rules` list; other text is kept as typed).
    #[serde(default)]
    pub comorbidities: Option<Vec<String>>,
    #[serde(default)]
    pub pregnant: Option<bool>,
    #[serde(default)]
    pub note: Option<String>,
}

fn date_field(field: &str, raw: &str) -> Result<NaiveDate> {
    domain::dose_record::parse_date(raw).ok_or_else(|| {
        Error::invalid(
            field,
            format!(
                "Ngày «{}» không hợp lệ (dd/mm/yyyy hoặc yyyy-mm-dd)",
                raw.trim()
            ),
            format!("Invalid date «{}» (dd/mm/yyyy or yyyy-mm-dd)", raw.trim()),
        )
    })
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Applies an edit to a case (pure): the updated case and the names of the fields changed.
pub fn apply_edit(
    case: &Case,
    edit: &CaseEdit,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(Case, Vec<&'static str>)> {
    let mut c = case.clone();
    let mut changed = Vec::new();
    if let Some(v) = present(&edit.classification) {
        c.classification = Classification::parse(v)?;
    }
    if let Some(raw) = &edit.onset {
        c.onset = if raw.trim().is_empty() {
            None
        } else {
            let d = date_field("onset", raw)?;
            if d > today || d < domain::test_record::FIRST_POSSIBLE_SAMPLE {
                return Err(Error::invalid(
                    "onset",
                    "Ngày khởi phát không hợp lệ (sau 01/01/2020, không ở tương lai)",
                    "Invalid onset date (after 1/1/2020, not in the future)",
                ));
            }
            Some(d)
        };
    }
    if let Some(v) = present(&edit.detection_source) {
        c.detection_source = DetectionSource::parse(v)?;
    }
    if let Some(v) = present(&edit.severity) {
        c.severity = Severity::parse(v)?;
    }
    if let Some(v) = present(&edit.care_setting) {
        c.care_setting = CareSetting::parse(v)?;
    }
    if let Some(v) = edit.on_oxygen {
        c.on_oxygen = v;
    }
    if edit.reopen && present(&edit.outcome).is_some() {
        return Err(Error::invalid(
            "reopen",
            "Không thể vừa mở lại ca bệnh vừa ghi kết cục",
            "Cannot reopen a case and set an outcome at once",
        ));
    }
    if edit.reopen {
        if c.status == CaseStatus::Open {
            return Err(Error::invalid(
                "reopen",
                "Ca bệnh đang được theo dõi",
                "The case is open",
            ));
        }
        c.status = CaseStatus::Open;
        c.outcome = None;
        c.outcome_date = None;
    }
    if let Some(v) = present(&edit.outcome) {
        let outcome = Outcome::parse(v)?;
        if outcome == Outcome::Recovered {
            return Err(Error::invalid(
                "outcome",
                "Khỏi bệnh được ghi bằng thao tác kết thúc cách ly (kiểm tra đủ điều kiện)",
                "Recovery is recorded by discharging the case (its conditions are checked)",
            ));
        }
        if case.status == CaseStatus::Closed {
            return Err(closed_case());
        }
        let date = match present(&edit.outcome_date) {
            Some(raw) => date_field("outcome_date", raw)?,
            None => today,
        };
        if date > today || date < case.first_positive {
            return Err(Error::invalid(
                "outcome_date",
                "Ngày kết cục phải từ ngày lấy mẫu dương tính đầu tiên đến hôm nay",
                "The outcome date must lie between the first positive sample and today",
            ));
        }
        c.outcome = Some(outcome);
        c.outcome_date = Some(date);
        c.status = CaseStatus::Closed;
        c.alert = AlertLevel::None;
        c.alert_reasons = serde_json::json!([]);
    } else if present(&edit.outcome_date).is_some() {
        return Err(Error::invalid(
            "outcome_date",
            "Ngày kết cục chỉ ghi kèm kết cục",
            "An outcome date needs an outcome",
        ));
    }
    if edit.comorbidities.is_some() || edit.pregnant.is_some() {
        let old = risk_of(case, today);
        let comorbidities = edit
            .comorbidities
            .clone()
            .unwrap_or_else(|| old.comorbidities.clone());
        if comorbidities.len() > 30 || comorbidities.iter().any(|c| c.chars().count() > 100) {
            return Err(Error::invalid(
                "comorbidities",
                "Danh sách bệnh nền quá dài",
                "Too many or too long comorbidities",
            ));
        }
        let pregnant = edit.pregnant.unwrap_or(old.pregnant);
        let risk = CaseRules::embedded().at(case.first_positive).risk_group(
            age_of(case, today),
            &comorbidities,
            pregnant,
            old.vaccination,
        );
        c.high_risk = risk.high_risk;
        c.risk = serde_json::to_value(&risk).map_err(|e| corrupt("risk", e))?;
    }
    if let Some(note) = &edit.note {
        let note = note.trim();
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(Error::invalid(
                "note",
                format!("Ghi chú dài tối đa {MAX_NOTE_CHARS} ký tự"),
                format!("The note is at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        c.note = note.to_string();
    }
    for (name, differs) in [
        ("classification", c.classification != case.classification),
        ("onset", c.onset != case.onset),
        (
            "detection_source",
            c.detection_source != case.detection_source,
        ),
        ("severity", c.severity != case.severity),
        ("care_setting", c.care_setting != case.care_setting),
        ("on_oxygen", c.on_oxygen != case.on_oxygen),
        (
            "outcome",
            c.outcome != case.outcome || c.outcome_date != case.outcome_date,
        ),
        ("status", c.status != case.status),
        ("risk", c.risk != case.risk),
        ("note", c.note != case.note),
    ] {
        if differs {
            changed.push(name);
        }
    }
    if !changed.is_empty() {
        c.updated_at = now;
    }
    Ok((c, changed))
}

/// Applies staff edits to a stored case with the audit entry (its `at` is the update time);
/// returns the case and the fields changed (nothing is written when none changed).
pub async fn update_case_fields(
    store: &dyn Store,
    case_id: Uuid,
    edit: &CaseEdit,
    today: NaiveDate,
    audit: &NewAuditEntry,
) -> Result<(Case, Vec<&'static str>)> {
    let case = require_case(store, case_id).await?;
    let (updated, changed) = apply_edit(&case, edit, today, audit.at)?;
    if !changed.is_empty() {
        store.update_case(&updated, audit).await?;
    }
    Ok((updated, changed))
}

/// A unit's figures for one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitDailyReport {
    pub unit: CoverageUnit,
    #[serde(flatten)]
    pub figures: DailyFigures,
    /// Positive tests / tests of the day (`None` without tests).
    pub positivity: Option<f64>,
}

/// The scope of a unit's cases (either hierarchy).
pub fn unit_scope(unit: &CoverageUnit) -> Result<PersonScope> {
    PersonScope::for_unit(AdminUnits::embedded(), unit.hierarchy, &unit.code)
}

/// Positive tests / tests, `None` without tests.
pub fn positivity(f: &DailyFigures) -> Option<f64> {
    (f.tests > 0).then(|| f.positive_tests as f64 / f.tests as f64)
}

/// The figures of a unit for `day`.
pub async fn daily_report(
    store: &dyn Store,
    unit: &CoverageUnit,
    day: NaiveDate,
) -> Result<UnitDailyReport> {
    let figures = store.daily_figures(&unit_scope(unit)?, day).await?;
    Ok(UnitDailyReport {
        unit: unit.clone(),
        positivity: positivity(&figures),
        figures,
    })
}

/// Computes a unit's figures for `day` and stores them as its report (replacing an earlier
/// submission of that day), submitted by `by` at `audit.at`.
pub async fn submit_daily_report(
    store: &dyn Store,
    unit: &CoverageUnit,
    day: NaiveDate,
    by: &str,
    audit: &NewAuditEntry,
) -> Result<DailyReport> {
    let report = daily_report(store, unit, day).await?;
    let stored = DailyReport {
        unit_code: unit.code.clone(),
        hierarchy: unit.hierarchy.as_str().to_string(),
        day,
        figures: serde_json::to_value(&report).map_err(|e| corrupt("figures", e))?,
        submitted_by: by.to_string(),
        submitted_at: audit.at,
    };
    store.submit_daily_report(&stored, audit).await?;
    Ok(stored)
}

/// A unit below that has not reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingUnit {
    pub code: String,
    pub name: String,
    pub level: UnitLevel,
}

/// The units that report to `parent`: a 2025 province's communes; a pre-2025 province's
/// districts; a pre-2025 district's communes; none for a commune.
pub fn reporting_children(parent: &CoverageUnit) -> Vec<MissingUnit> {
    if parent.level == UnitLevel::Commune {
        return Vec::new();
    }
    AdminUnits::embedded()
        .hierarchy(parent.hierarchy)
        .children(&parent.code)
        .map(|u| MissingUnit {
            code: u.code.clone(),
            name: u.name.clone(),
            level: u.level,
        })
        .collect()
}

/// The units reporting to `parent` ([`reporting_children`]) without a submitted report for
/// `day` (in the same hierarchy).
pub async fn units_not_reported(
    store: &dyn Store,
    parent: &CoverageUnit,
    day: NaiveDate,
) -> Result<Vec<MissingUnit>> {
    let children = reporting_children(parent);
    if children.is_empty() {
        return Ok(children);
    }
    let codes: Vec<String> = children.iter().map(|c| c.code.clone()).collect();
    let reported: HashSet<String> = store
        .daily_reports(day, Some(&codes))
        .await?
        .into_iter()
        .filter(|r| r.hierarchy == parent.hierarchy.as_str())
        .map(|r| r.unit_code)
        .collect();
    Ok(children
        .into_iter()
        .filter(|c| !reported.contains(&c.code))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use domain::units::UnitVersion;
    use store::CaseUnits;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn case(first_positive: NaiveDate, reported_at: DateTime<Utc>) -> Case {
        let rules = CaseRules::embedded().at(first_positive);
        let risk = rules.risk_group(40, &[], false, VaccinationStatus::Boosted);
        Case {
            id: Uuid::now_v7(),
            units: CaseUnits {
                province_code: "12".into(),
                commune_code: "03388".into(),
                ..CaseUnits::default()
            },
            person_id: None,
            source_record_id: Uuid::now_v7(),
            full_name: "Lò Văn A".into(),
            dob: Some(d(1982, 1, 1)),
            sex: "male".into(),
            phone: "0912345678".into(),
            status: CaseStatus::Open,
            classification: Classification::Confirmed,
            first_positive,
            last_positive: first_positive,
            onset: None,
            detection_source: DetectionSource::Community,
            high_risk: risk.high_risk,
            risk: serde_json::to_value(&risk).unwrap(),
            severity: Severity::Mild,
            care_setting: CareSetting::Home,
            on_oxygen: false,
            outcome: None,
            outcome_date: None,
            isolation_end: rules.isolation_end(first_positive),
            followup_until: rules.followup_until(first_positive),
            disease_group: "A".into(),
            reported_at,
            report_deadline: reported_at,
            report_met: true,
            last_checkin_at: None,
            alert: AlertLevel::None,
            alert_reasons: serde_json::json!([]),
            ruleset: String::new(),
            cluster_id: None,
            note: String::new(),
            created_at: reported_at,
            updated_at: reported_at,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 3, 10, 3, 0, 0).unwrap()
    }

    #[test]
    fn low_spo2_escalates_and_raises_severity_but_a_good_reading_does_not_lower_it() {
        let c = case(d(2022, 3, 8), now());
        let input = CheckInInput {
            spo2: Some(93.0),
            resp_rate: Some(24.0),
            ..CheckInInput::default()
        };
        let v = vitals_for(&c, &input, local_date(now())).unwrap();
        assert_eq!(v.age_years, 40.0);
        assert_eq!(v.fully_vaccinated, Some(true));
        let rules = HomeCareRules::embedded().ruleset(None).unwrap();
        let a = assess(rules, &v);
        let (ci, up) = apply_assessment(&c, &v, &a, "staff", now()).unwrap();
        assert!(ci.escalate);
        assert_eq!(up.alert, AlertLevel::Emergency);
        assert!(up.severity >= Severity::Severe);
        assert!(!reasons_of(&up).is_empty());

        let fine = CheckInInput {
            spo2: Some(98.0),
            resp_rate: Some(16.0),
            ..CheckInInput::default()
        };
        let v2 = vitals_for(&up, &fine, local_date(now())).unwrap();
        let a2 = assess(rules, &v2);
        let (_, up2) = apply_assessment(&up, &v2, &a2, "staff", now()).unwrap();
        assert_eq!(
            up2.severity, up.severity,
            "a check-in never lowers severity"
        );
        assert_eq!(
            up2.alert,
            AlertLevel::None,
            "the alert follows the latest check-in"
        );
        assert!(vitals_for(&c, &CheckInInput::default(), local_date(now())).is_err());
        let bad = CheckInInput {
            spo2: Some(150.0),
            ..CheckInInput::default()
        };
        assert!(vitals_for(&c, &bad, local_date(now())).is_err());
    }

    #[test]
    fn overdue_and_urgency_order() {
        let n = now();
        let rules = CaseRules::embedded().at(local_date(n));
        let h = rules.non_reporting_hours.value;
        let fresh = case(d(2022, 3, 9), n - TimeDelta::hours(1));
        assert!(alert_item(fresh, n, local_date(n)).is_none());
        let stale = case(d(2022, 3, 8), n - TimeDelta::hours(h + 2));
        let item = alert_item(stale, n, local_date(n)).unwrap();
        assert_eq!(item.alert, AlertLevel::Overdue);
        assert!(item.overdue);
        assert_eq!(item.hours_since_checkin, h + 2);
        assert_eq!(item.reasons[0].code, "checkin_overdue");
        let mut emergency = case(d(2022, 3, 8), n - TimeDelta::hours(1));
        emergency.alert = AlertLevel::Emergency;
        let e = alert_item(emergency, n, local_date(n)).unwrap();
        assert!(e.key < item.key);
    }

    #[test]
    fn edits_recompute_risk_and_close_with_outcomes() {
        let c = case(d(2022, 3, 1), now());
        assert!(!c.high_risk);
        let edit = CaseEdit {
            comorbidities: Some(vec!["diabetes".into()]),
            severity: Some("moderate".into()),
            outcome: Some("died".into()),
            outcome_date: Some("09/03/2022".into()),
            ..CaseEdit::default()
        };
        let (up, changed) = apply_edit(&c, &edit, d(2022, 3, 10), now()).unwrap();
        assert!(up.high_risk);
        assert_eq!(up.status, CaseStatus::Closed);
        assert_eq!(up.outcome_date, Some(d(2022, 3, 9)));
        assert!(changed.contains(&"risk") && changed.contains(&"severity"));
        let recovered = CaseEdit {
            outcome: Some("recovered".into()),
            ..CaseEdit::default()
        };
        assert!(apply_edit(&c, &recovered, d(2022, 3, 10), now()).is_err());
        let future = CaseEdit {
            onset: Some("2030-01-01".into()),
            ..CaseEdit::default()
        };
        assert!(apply_edit(&c, &future, d(2022, 3, 10), now()).is_err());
        let reopen = CaseEdit {
            reopen: true,
            ..CaseEdit::default()
        };
        let (back, _) = apply_edit(&up, &reopen, d(2022, 3, 10), now()).unwrap();
        assert_eq!(back.status, CaseStatus::Open);
        assert_eq!(back.outcome, None);
    }

    #[test]
    fn children_per_hierarchy() {
        let p2025 = CoverageUnit::resolve("12", Some(UnitVersion::V2025)).unwrap();
        let kids = reporting_children(&p2025);
        assert!(!kids.is_empty());
        assert!(kids.iter().all(|k| k.level == UnitLevel::Commune));
        let old = CoverageUnit::resolve("12", Some(UnitVersion::Pre2025)).unwrap();
        assert!(
            reporting_children(&old)
                .iter()
                .all(|k| k.level == UnitLevel::District)
        );
        let f = DailyFigures {
            tests: 4,
            positive_tests: 1,
            ..DailyFigures::default()
        };
        assert_eq!(positivity(&f), Some(0.25));
        assert_eq!(positivity(&DailyFigures::default()), None);
    }
}
