//! Case management over versioned rules (`data/case-rules.json`; DOMAIN.md §8): which tests
//! open a case, when a positive belongs to an existing episode, reporting deadlines by disease
//! group, isolation, post-COVID follow-up, cluster closure, follow-up of entrants, high risk,
//! overdue check-ins, the order of the commune's alert queue and readiness for discharge.
//!
//! Rulesets follow each other by effective date: `case-group-a-2022` (COVID-19 in group A; its
//! numbers are those of 2022 and also serve earlier dates) and `case-group-b-2023` (group B
//! from 20/10/2023, Decision 3896/QĐ-BYT). [`CaseRules::at`] picks the ruleset of a date; the
//! date-driven helpers on [`CaseRules`] do so themselves. Every number carries its sources and
//! a `verified` flag (none is verified: DOMAIN.md marks none of them so).
//!
//! Pure: dates and instants are parameters (`DateTime<Utc>` for instants).

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, Months, NaiveDate, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::home_care::{Assessment, Flagged, Source};
use crate::surveillance::{AlertLevel, CaseStatus, TestResult, TestType};

const RULES_JSON: &str = include_str!("../data/case-rules.json");

/// Group of the Law on Infectious Disease Prevention and Control (03/2007/QH12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DiseaseGroup {
    A,
    B,
}

/// Who counts as high risk (the inverse of 4038's lower-risk group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HighRiskRule {
    pub min_age_years: u32,
    pub pregnancy: bool,
    pub not_fully_vaccinated: bool,
    /// Any declared comorbidity counts (not only the listed ones).
    pub any_comorbidity: bool,
    pub sources: Vec<String>,
    pub verified: bool,
    #[serde(default)]
    pub note: Option<String>,
}

/// The case-management numbers in force from `effective_from`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRuleset {
    pub id: String,
    pub title: String,
    pub effective_from: NaiveDate,
    pub dates_verified: bool,
    pub sources: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
    pub disease_group: Flagged<DiseaseGroup>,
    /// Test types whose positive result opens a case.
    pub opening_test_types: Flagged<Vec<TestType>>,
    pub episode_window_days: Flagged<i64>,
    pub reinfection_window_days: Flagged<i64>,
    pub report_within_hours: Flagged<i64>,
    pub report_clock_utc_offset_hours: Flagged<i64>,
    pub isolation_days: Flagged<i64>,
    pub post_covid_followup_months: Flagged<u32>,
    pub incubation_days: Flagged<i64>,
    pub cluster_end_days_after_last_case: Flagged<i64>,
    pub non_reporting_hours: Flagged<i64>,
    pub high_risk: HighRiskRule,
    /// The citations of the ruleset's sources (filled on load).
    #[serde(skip_deserializing)]
    pub citation: String,
    #[serde(skip)]
    comorbidity_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComorbidityDef {
    pub code: String,
    pub label_vi: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComorbidityList {
    pub sources: Vec<String>,
    pub verified: bool,
    #[serde(default)]
    pub note: Option<String>,
    pub list: Vec<ComorbidityDef>,
}

/// Every case-management ruleset, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRules {
    pub title: String,
    pub sources: BTreeMap<String, Source>,
    pub rulesets: Vec<CaseRuleset>,
    pub comorbidities: ComorbidityList,
}

impl CaseRules {
    /// The embedded rules (parsed and checked once).
    pub fn embedded() -> &'static CaseRules {
        static RULES: OnceLock<CaseRules> = OnceLock::new();
        RULES.get_or_init(|| {
            CaseRules::from_json(RULES_JSON).expect("embedded case rules are valid")
        })
    }

    /// Parses and checks a rules file (e.g. a provincial override).
    pub fn from_json(text: &str) -> Result<CaseRules, Error> {
        let bad = |detail: String| {
            Error::new(
                crate::ErrorCode::InvalidConfig,
                format!("Tệp quy tắc quản lý ca bệnh không hợp lệ: {detail}"),
                format!("Invalid case rules file: {detail}"),
            )
        };
        let mut rules: CaseRules = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if rules.rulesets.is_empty() {
            return Err(bad("no ruleset".into()));
        }
        rules.rulesets.sort_by_key(|r| r.effective_from);
        let labels: BTreeMap<String, String> = rules
            .comorbidities
            .list
            .iter()
            .map(|c| (c.code.clone(), c.label_vi.clone()))
            .collect();
        let known = |keys: &[String]| -> Result<(), String> {
            if keys.is_empty() {
                return Err("a rule without a source".into());
            }
            match keys.iter().find(|k| !rules.sources.contains_key(*k)) {
                Some(k) => Err(format!("unknown source {k}")),
                None => Ok(()),
            }
        };
        known(&rules.comorbidities.sources).map_err(bad)?;
        let mut citations = Vec::new();
        for r in &rules.rulesets {
            let here = |e: String| bad(format!("{}: {e}", r.id));
            for keys in [
                &r.sources,
                &r.disease_group.sources,
                &r.opening_test_types.sources,
                &r.episode_window_days.sources,
                &r.reinfection_window_days.sources,
                &r.report_within_hours.sources,
                &r.report_clock_utc_offset_hours.sources,
                &r.isolation_days.sources,
                &r.post_covid_followup_months.sources,
                &r.incubation_days.sources,
                &r.cluster_end_days_after_last_case.sources,
                &r.non_reporting_hours.sources,
                &r.high_risk.sources,
            ] {
                known(keys).map_err(here)?;
            }
            let days = [
                &r.episode_window_days,
                &r.reinfection_window_days,
                &r.report_within_hours,
                &r.isolation_days,
                &r.incubation_days,
                &r.cluster_end_days_after_last_case,
                &r.non_reporting_hours,
            ];
            if days.iter().any(|f| !(1..=10_000).contains(&f.value)) {
                return Err(here("a day or hour count out of range".into()));
            }
            if !(-12..=14).contains(&r.report_clock_utc_offset_hours.value) {
                return Err(here("UTC offset out of range".into()));
            }
            if r.opening_test_types.value.is_empty() {
                return Err(here("no test type opens a case".into()));
            }
            citations.push(
                r.sources
                    .iter()
                    .map(|k| rules.sources[k].citation.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
        for (r, c) in rules.rulesets.iter_mut().zip(citations) {
            r.citation = c;
            r.comorbidity_labels = labels.clone();
        }
        Ok(rules)
    }

    /// The ruleset in force on `date` (the first one for earlier dates).
    pub fn at(&self, date: NaiveDate) -> &CaseRuleset {
        self.rulesets
            .iter()
            .rev()
            .find(|r| r.effective_from <= date)
            .unwrap_or(&self.rulesets[0])
    }

    /// The ruleset with this id.
    pub fn get(&self, id: &str) -> Option<&CaseRuleset> {
        self.rulesets.iter().find(|r| r.id == id)
    }

    /// The ruleset ids, oldest first.
    pub fn ids(&self) -> Vec<&str> {
        self.rulesets.iter().map(|r| r.id.as_str()).collect()
    }

    /// The disease group of COVID-19 on `date`.
    pub fn disease_group(&self, date: NaiveDate) -> DiseaseGroup {
        self.at(date).disease_group.value
    }

    /// When a positive sampled on `sample_date` must have been reported (the group of the
    /// sample date decides).
    pub fn report_deadline(&self, sample_date: NaiveDate) -> DateTime<Utc> {
        self.at(sample_date).report_deadline(sample_date)
    }

    /// Whether a result received at `received_at` met the reporting deadline.
    pub fn report_met(&self, sample_date: NaiveDate, received_at: DateTime<Utc>) -> bool {
        self.at(sample_date).report_met(sample_date, received_at)
    }

    /// First day out of isolation (with a negative rapid test).
    pub fn isolation_end(&self, first_positive: NaiveDate) -> NaiveDate {
        self.at(first_positive).isolation_end(first_positive)
    }

    /// Last day of post-COVID follow-up.
    pub fn followup_until(&self, first_positive: NaiveDate) -> NaiveDate {
        self.at(first_positive).followup_until(first_positive)
    }

    /// Day a cluster ends when no case follows `last_case_date`.
    pub fn cluster_end(&self, last_case_date: NaiveDate) -> NaiveDate {
        self.at(last_case_date).cluster_end(last_case_date)
    }

    /// Last day of health monitoring of a person entering on `entry_date`.
    pub fn entrant_followup_until(&self, entry_date: NaiveDate) -> NaiveDate {
        self.at(entry_date).entrant_followup_until(entry_date)
    }
}

fn add_days(d: NaiveDate, days: i64) -> NaiveDate {
    d.checked_add_signed(TimeDelta::days(days))
        .unwrap_or(NaiveDate::MAX)
}

impl CaseRuleset {
    /// Whether this result of this test opens (or updates) a case: a positive RT-PCR or rapid
    /// antigen test; never an antibody test, never a negative or inconclusive result.
    pub fn opens_case(&self, test_type: TestType, result: TestResult) -> bool {
        result == TestResult::Positive && self.opening_test_types.value.contains(&test_type)
    }

    /// The end of `sample_date` in local time (UTC+7) plus the group's reporting hours.
    pub fn report_deadline(&self, sample_date: NaiveDate) -> DateTime<Utc> {
        let local_end = add_days(sample_date, 1).and_time(NaiveTime::MIN);
        let utc_end = local_end - TimeDelta::hours(self.report_clock_utc_offset_hours.value);
        utc_end.and_utc() + TimeDelta::hours(self.report_within_hours.value)
    }

    /// Whether `received_at` is on or before the deadline.
    pub fn report_met(&self, sample_date: NaiveDate, received_at: DateTime<Utc>) -> bool {
        received_at <= self.report_deadline(sample_date)
    }

    pub fn isolation_end(&self, first_positive: NaiveDate) -> NaiveDate {
        add_days(first_positive, self.isolation_days.value)
    }

    /// `first_positive` plus the follow-up months (end of month when the day does not exist).
    pub fn followup_until(&self, first_positive: NaiveDate) -> NaiveDate {
        first_positive
            .checked_add_months(Months::new(self.post_covid_followup_months.value))
            .unwrap_or(NaiveDate::MAX)
    }

    pub fn cluster_end(&self, last_case_date: NaiveDate) -> NaiveDate {
        add_days(last_case_date, self.cluster_end_days_after_last_case.value)
    }

    pub fn entrant_followup_until(&self, entry_date: NaiveDate) -> NaiveDate {
        add_days(entry_date, self.incubation_days.value)
    }

    /// No check-in for `non_reporting_hours` (or more) since the last one, or since the case
    /// opened when there was none.
    pub fn checkin_overdue(
        &self,
        last_checkin_or_opened: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        now - last_checkin_or_opened >= TimeDelta::hours(self.non_reporting_hours.value)
    }

    /// Vietnamese label of a comorbidity code (the code itself when not listed).
    pub fn comorbidity_label(&self, code: &str) -> String {
        self.comorbidity_labels
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_string())
    }

    /// Whether a person is at high risk, and why (Vietnamese).
    pub fn risk_group(
        &self,
        age_years: u32,
        comorbidities: &[String],
        pregnant: bool,
        vaccination: VaccinationStatus,
    ) -> RiskGroup {
        let h = &self.high_risk;
        let mut unique: Vec<String> = Vec::new();
        for c in comorbidities
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
        {
            if !unique.iter().any(|u| u == c) {
                unique.push(c.to_string());
            }
        }
        let comorbidities = unique;
        let mut reasons = Vec::new();
        if age_years >= h.min_age_years {
            reasons.push(format!(
                "Từ {} tuổi trở lên ({age_years} tuổi)",
                h.min_age_years
            ));
        }
        if h.any_comorbidity && !comorbidities.is_empty() {
            let labels: Vec<String> = comorbidities
                .iter()
                .map(|c| self.comorbidity_label(c))
                .collect();
            reasons.push(format!("Có bệnh nền: {}", labels.join(", ")));
        }
        if h.pregnancy && pregnant {
            reasons.push("Đang mang thai".to_string());
        }
        if h.not_fully_vaccinated && !vaccination.is_fully_vaccinated() {
            reasons.push(match vaccination {
                VaccinationStatus::Unvaccinated => "Chưa tiêm vắc xin COVID-19".to_string(),
                _ => "Chưa tiêm đủ liều cơ bản vắc xin COVID-19".to_string(),
            });
        }
        RiskGroup {
            age_years,
            comorbidities,
            pregnant,
            vaccination,
            high_risk: !reasons.is_empty(),
            reasons,
            ruleset: self.id.clone(),
        }
    }
}

/// COVID-19 vaccination status, as stored with a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaccinationStatus {
    Unvaccinated,
    /// Some doses, primary series not complete.
    Partial,
    PrimaryComplete,
    Boosted,
}

impl VaccinationStatus {
    /// Primary series complete (with or without boosters).
    pub fn is_fully_vaccinated(self) -> bool {
        matches!(
            self,
            VaccinationStatus::PrimaryComplete | VaccinationStatus::Boosted
        )
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            VaccinationStatus::Unvaccinated => "Chưa tiêm",
            VaccinationStatus::Partial => "Chưa đủ liều cơ bản",
            VaccinationStatus::PrimaryComplete => "Đủ liều cơ bản",
            VaccinationStatus::Boosted => "Đã tiêm nhắc lại",
        }
    }
}

/// A person's risk factors and the verdict, stored with a case (as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskGroup {
    pub age_years: u32,
    pub comorbidities: Vec<String>,
    pub pregnant: bool,
    pub vaccination: VaccinationStatus,
    pub high_risk: bool,
    /// Why high risk (Vietnamese); empty when not.
    pub reasons: Vec<String>,
    /// The case ruleset that decided.
    #[serde(default)]
    pub ruleset: String,
}

/// What a case looks like to [`decide_episode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeView {
    pub status: CaseStatus,
    pub first_positive: NaiveDate,
    pub last_positive: NaiveDate,
}

/// What to do with a positive test that opens cases ([`CaseRuleset::opens_case`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum EpisodeDecision {
    /// A new case; `reinfection` when it follows an earlier case of the person.
    Open { reinfection: bool },
    /// The same episode as the open case: update its last positive.
    Update,
    /// Within the reinfection window of a closed case: keep the test with it, no new case.
    Attach,
}

/// Decides whether a positive sampled on `sample_date` opens a case, given the person's latest
/// case (if any).
///
/// - No earlier case: open.
/// - An open case, the sample within `episode_window_days` of its span (from its first positive
///   minus the window to its last positive plus the window): update it. Later than that: a new
///   case marked as reinfection (the old one is not closed here; that is the caller's
///   decision). Much earlier: a new, separate case.
/// - A closed case, the sample within `reinfection_window_days` of its first positive (or
///   before it, within the episode window): attach. Later: a new case marked as reinfection.
///   Much earlier: a new, separate case.
pub fn decide_episode(
    ruleset: &CaseRuleset,
    previous: Option<&EpisodeView>,
    sample_date: NaiveDate,
) -> EpisodeDecision {
    let Some(p) = previous else {
        return EpisodeDecision::Open { reinfection: false };
    };
    let episode = ruleset.episode_window_days.value;
    let earliest = add_days(p.first_positive, -episode);
    if sample_date < earliest {
        return EpisodeDecision::Open { reinfection: false };
    }
    let latest = match p.status {
        CaseStatus::Open => add_days(p.last_positive.max(p.first_positive), episode),
        CaseStatus::Closed => add_days(p.first_positive, ruleset.reinfection_window_days.value),
    };
    if sample_date > latest {
        return EpisodeDecision::Open { reinfection: true };
    }
    match p.status {
        CaseStatus::Open => EpisodeDecision::Update,
        CaseStatus::Closed => EpisodeDecision::Attach,
    }
}

/// Sort key of the commune's alert queue: sorting ascending puts emergencies first, then
/// warnings, then overdue check-ins, then the rest; within each, high risk first, then older
/// people, then the longest without a check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UrgencyKey(
    Reverse<AlertLevel>,
    Reverse<bool>,
    Reverse<u32>,
    Reverse<i64>,
);

/// The [`UrgencyKey`] of a case.
pub fn urgency_key(
    alert: AlertLevel,
    high_risk: bool,
    age_years: u32,
    hours_since_checkin: i64,
) -> UrgencyKey {
    UrgencyKey(
        Reverse(alert),
        Reverse(high_risk),
        Reverse(age_years),
        Reverse(hours_since_checkin),
    )
}

fn dmy(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// Whether a case may be discharged on `today`: the isolation days are over, a rapid antigen
/// test taken on or after the last isolation day is negative, and the last check-in shows no
/// warning sign. Otherwise every missing condition, in Vietnamese.
pub fn discharge_ready(
    ruleset: &CaseRuleset,
    first_positive: NaiveDate,
    today: NaiveDate,
    last_assessment: Option<&Assessment>,
    negative_rapid_test_on_or_after_day7: bool,
) -> Result<(), Vec<String>> {
    let mut not_ready = Vec::new();
    let end = ruleset.isolation_end(first_positive);
    if today < end {
        not_ready.push(format!(
            "Chưa đủ {} ngày cách ly kể từ ngày lấy mẫu dương tính đầu tiên ({}): sớm nhất ngày {}",
            ruleset.isolation_days.value,
            dmy(first_positive),
            dmy(end)
        ));
    }
    if !negative_rapid_test_on_or_after_day7 {
        not_ready.push(format!(
            "Chưa có kết quả test nhanh kháng nguyên âm tính lấy mẫu từ ngày {}",
            dmy(end)
        ));
    }
    match last_assessment {
        None => not_ready.push("Chưa có lần theo dõi sức khỏe nào".to_string()),
        Some(a) if a.escalate => {
            let signs: Vec<&str> = a.reasons.iter().map(|r| r.message_vi.as_str()).collect();
            not_ready.push(format!(
                "Lần theo dõi gần nhất có dấu hiệu cảnh báo: {}",
                signs.join("; ")
            ));
        }
        Some(_) => {}
    }
    if not_ready.is_empty() {
        Ok(())
    } else {
        Err(not_ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home_care::{HomeCareRules, Vitals, assess};
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn utc(y: i32, m: u32, day: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, h, min, s).unwrap()
    }

    fn rules() -> &'static CaseRules {
        CaseRules::embedded()
    }

    fn a2022() -> &'static CaseRuleset {
        rules().get("case-group-a-2022").unwrap()
    }

    fn b2023() -> &'static CaseRuleset {
        rules().get("case-group-b-2023").unwrap()
    }

    #[test]
    fn rulesets_follow_each_other_by_effective_date() {
        assert_eq!(rules().ids(), ["case-group-a-2022", "case-group-b-2023"]);
        assert_eq!(rules().at(d(2019, 12, 1)).id, "case-group-a-2022");
        assert_eq!(rules().at(d(2022, 3, 1)).id, "case-group-a-2022");
        assert_eq!(rules().at(d(2023, 10, 19)).id, "case-group-a-2022");
        assert_eq!(rules().at(d(2023, 10, 20)).id, "case-group-b-2023");
        assert_eq!(rules().disease_group(d(2023, 10, 19)), DiseaseGroup::A);
        assert_eq!(rules().disease_group(d(2023, 10, 20)), DiseaseGroup::B);
        assert!(a2022().citation.contains("219/QĐ-BYT"));
        assert!(b2023().citation.contains("3896/QĐ-BYT"));
    }

    #[test]
    fn nothing_is_marked_verified() {
        for r in &rules().rulesets {
            let flags = [
                r.disease_group.verified,
                r.opening_test_types.verified,
                r.episode_window_days.verified,
                r.reinfection_window_days.verified,
                r.report_within_hours.verified,
                r.report_clock_utc_offset_hours.verified,
                r.isolation_days.verified,
                r.post_covid_followup_months.verified,
                r.incubation_days.verified,
                r.cluster_end_days_after_last_case.verified,
                r.non_reporting_hours.verified,
                r.high_risk.verified,
                r.dates_verified,
            ];
            assert!(flags.iter().all(|v| !v), "{}", r.id);
            assert_eq!(r.reinfection_window_days.value, 90);
            assert!(
                r.opening_test_types
                    .note
                    .as_deref()
                    .unwrap()
                    .contains("not diagnostic of current infection")
            );
        }
    }

    #[test]
    fn broken_rules_files_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(RULES_JSON).unwrap();
        v["rulesets"][0]["isolation_days"]["sources"] = serde_json::json!(["nowhere"]);
        let e = CaseRules::from_json(&v.to_string()).unwrap_err();
        assert!(e.message_en.contains("unknown source nowhere"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(RULES_JSON).unwrap();
        v["rulesets"][1]["incubation_days"]["value"] = 0.into();
        assert!(CaseRules::from_json(&v.to_string()).is_err());
        let mut v: serde_json::Value = serde_json::from_str(RULES_JSON).unwrap();
        v["rulesets"][0]["opening_test_types"]["value"] = serde_json::json!([]);
        assert!(CaseRules::from_json(&v.to_string()).is_err());
        assert!(CaseRules::from_json(r#"{"title": "x"}"#).is_err());
    }

    #[test]
    fn only_positive_pcr_and_rapid_antigen_tests_open_cases() {
        for r in [a2022(), b2023()] {
            assert!(r.opens_case(TestType::RtPcr, TestResult::Positive));
            assert!(r.opens_case(TestType::RapidAntigen, TestResult::Positive));
            assert!(!r.opens_case(TestType::Antibody, TestResult::Positive));
            assert!(!r.opens_case(TestType::RtPcr, TestResult::Negative));
            assert!(!r.opens_case(TestType::RapidAntigen, TestResult::Inconclusive));
        }
    }

    #[test]
    fn episodes_of_an_open_case() {
        let r = a2022();
        let open = EpisodeView {
            status: CaseStatus::Open,
            first_positive: d(2022, 3, 1),
            last_positive: d(2022, 3, 10),
        };
        assert_eq!(
            decide_episode(r, None, d(2022, 3, 1)),
            EpisodeDecision::Open { reinfection: false }
        );
        // 90 days after the last positive is still the episode; 91 is not.
        assert_eq!(
            decide_episode(r, Some(&open), d(2022, 3, 12)),
            EpisodeDecision::Update
        );
        assert_eq!(
            decide_episode(r, Some(&open), d(2022, 6, 8)),
            EpisodeDecision::Update
        );
        assert_eq!(
            decide_episode(r, Some(&open), d(2022, 6, 9)),
            EpisodeDecision::Open { reinfection: true }
        );
        // A late-arriving earlier sample belongs to the episode.
        assert_eq!(
            decide_episode(r, Some(&open), d(2022, 2, 27)),
            EpisodeDecision::Update
        );
        assert_eq!(
            decide_episode(r, Some(&open), d(2021, 12, 1)),
            EpisodeDecision::Update
        );
        assert_eq!(
            decide_episode(r, Some(&open), d(2021, 11, 30)),
            EpisodeDecision::Open { reinfection: false }
        );
    }

    #[test]
    fn episodes_of_a_closed_case() {
        let r = b2023();
        let closed = EpisodeView {
            status: CaseStatus::Closed,
            first_positive: d(2024, 1, 1),
            last_positive: d(2024, 1, 5),
        };
        // Within 90 days of the first positive: attached, no new case.
        assert_eq!(
            decide_episode(r, Some(&closed), d(2024, 1, 20)),
            EpisodeDecision::Attach
        );
        assert_eq!(
            decide_episode(r, Some(&closed), d(2024, 3, 31)),
            EpisodeDecision::Attach
        );
        assert_eq!(
            decide_episode(r, Some(&closed), d(2024, 4, 1)),
            EpisodeDecision::Open { reinfection: true }
        );
        assert_eq!(
            serde_json::to_value(EpisodeDecision::Open { reinfection: true }).unwrap(),
            serde_json::json!({"decision": "open", "reinfection": true})
        );
    }

    #[test]
    fn reporting_deadlines_24_h_in_group_a_and_48_h_in_group_b() {
        // End of 1/3/2022 in Vietnam = 1/3/2022 17:00 UTC; group A: 24 h later.
        let sample = d(2022, 3, 1);
        let deadline = rules().report_deadline(sample);
        assert_eq!(deadline, utc(2022, 3, 2, 17, 0, 0));
        assert!(rules().report_met(sample, utc(2022, 3, 2, 17, 0, 0)));
        assert!(!rules().report_met(sample, utc(2022, 3, 2, 17, 0, 1)));
        // Group B: 48 h.
        let sample = d(2023, 10, 20);
        assert_eq!(rules().report_deadline(sample), utc(2023, 10, 22, 17, 0, 0));
        assert!(rules().report_met(sample, utc(2023, 10, 22, 16, 59, 59)));
        assert!(!rules().report_met(sample, utc(2023, 10, 22, 17, 0, 1)));
        // The day before the move is still group A.
        assert_eq!(
            rules().report_deadline(d(2023, 10, 19)),
            utc(2023, 10, 20, 17, 0, 0)
        );
    }

    #[test]
    fn isolation_followup_cluster_and_entrant_dates() {
        assert_eq!(rules().isolation_end(d(2022, 3, 1)), d(2022, 3, 8));
        assert_eq!(rules().followup_until(d(2022, 3, 1)), d(2023, 3, 1));
        assert_eq!(rules().followup_until(d(2024, 2, 29)), d(2025, 2, 28));
        // Group B: 8 days after the last case, 4 days of incubation.
        assert_eq!(rules().cluster_end(d(2024, 5, 10)), d(2024, 5, 18));
        assert_eq!(
            rules().entrant_followup_until(d(2024, 5, 10)),
            d(2024, 5, 14)
        );
        // Group A (unverified practice): 28 and 14 days.
        assert_eq!(rules().cluster_end(d(2022, 5, 10)), d(2022, 6, 7));
        assert_eq!(
            rules().entrant_followup_until(d(2022, 5, 10)),
            d(2022, 5, 24)
        );
    }

    #[test]
    fn checkins_are_overdue_after_24_hours() {
        let r = a2022();
        let last = utc(2022, 3, 1, 8, 0, 0);
        assert!(!r.checkin_overdue(last, utc(2022, 3, 2, 7, 59, 59)));
        assert!(r.checkin_overdue(last, utc(2022, 3, 2, 8, 0, 0)));
        assert!(!r.checkin_overdue(last, last));
    }

    #[test]
    fn high_risk_by_age_comorbidity_pregnancy_and_vaccination() {
        let r = a2022();
        let low = r.risk_group(49, &[], false, VaccinationStatus::PrimaryComplete);
        assert!(!low.high_risk);
        assert!(low.reasons.is_empty());
        assert_eq!(low.ruleset, "case-group-a-2022");
        let old = r.risk_group(50, &[], false, VaccinationStatus::Boosted);
        assert!(old.high_risk);
        assert_eq!(old.reasons, ["Từ 50 tuổi trở lên (50 tuổi)"]);
        let ill = r.risk_group(
            30,
            &["diabetes".into(), " ".into(), "gout".into()],
            false,
            VaccinationStatus::Boosted,
        );
        assert_eq!(ill.comorbidities, ["diabetes", "gout"]);
        assert_eq!(ill.reasons, ["Có bệnh nền: Đái tháo đường, gout"]);
        assert!(
            r.risk_group(30, &[], true, VaccinationStatus::Boosted)
                .high_risk
        );
        let partial = r.risk_group(30, &[], false, VaccinationStatus::Partial);
        assert_eq!(
            partial.reasons,
            ["Chưa tiêm đủ liều cơ bản vắc xin COVID-19"]
        );
        let none = r.risk_group(30, &[], false, VaccinationStatus::Unvaccinated);
        assert_eq!(none.reasons, ["Chưa tiêm vắc xin COVID-19"]);
        // Stored as JSON with snake_case vaccination.
        let json = serde_json::to_value(&partial).unwrap();
        assert_eq!(json["vaccination"], "partial");
        assert_eq!(
            serde_json::to_value(VaccinationStatus::PrimaryComplete).unwrap(),
            "primary_complete"
        );
        let back: RiskGroup = serde_json::from_value(json).unwrap();
        assert_eq!(back, partial);
    }

    #[test]
    fn the_alert_queue_order() {
        let mut queue = [
            ("none-old", urgency_key(AlertLevel::None, true, 90, 5)),
            ("overdue", urgency_key(AlertLevel::Overdue, false, 20, 30)),
            (
                "warning-young",
                urgency_key(AlertLevel::Warning, false, 20, 2),
            ),
            (
                "warning-old",
                urgency_key(AlertLevel::Warning, false, 70, 1),
            ),
            (
                "warning-high-risk",
                urgency_key(AlertLevel::Warning, true, 30, 1),
            ),
            (
                "emergency",
                urgency_key(AlertLevel::Emergency, false, 25, 0),
            ),
            (
                "warning-young-long",
                urgency_key(AlertLevel::Warning, false, 20, 9),
            ),
        ];
        queue.sort_by_key(|(_, k)| *k);
        let order: Vec<&str> = queue.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            order,
            [
                "emergency",
                "warning-high-risk",
                "warning-old",
                "warning-young-long",
                "warning-young",
                "overdue",
                "none-old"
            ]
        );
    }

    fn checkin(f: impl FnOnce(&mut Vitals)) -> Assessment {
        let mut v = Vitals {
            resp_rate: Some(16.0),
            spo2: Some(98.0),
            fully_vaccinated: Some(true),
            ..Vitals::new(30.0)
        };
        f(&mut v);
        assess(HomeCareRules::embedded().ruleset(None).unwrap(), &v)
    }

    #[test]
    fn discharge_after_7_days_a_negative_test_and_no_warning_sign() {
        let r = a2022();
        let first = d(2022, 3, 1);
        let well = checkin(|_| {});
        assert_eq!(
            discharge_ready(r, first, d(2022, 3, 8), Some(&well), true),
            Ok(())
        );
        let e = discharge_ready(r, first, d(2022, 3, 7), Some(&well), true).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("08/03/2022"), "{e:?}");
        let e = discharge_ready(r, first, d(2022, 3, 8), Some(&well), false).unwrap_err();
        assert!(e[0].contains("test nhanh"), "{e:?}");
        let e = discharge_ready(r, first, d(2022, 3, 8), None, true).unwrap_err();
        assert_eq!(e, ["Chưa có lần theo dõi sức khỏe nào"]);
        let ill = checkin(|v| v.spo2 = Some(95.0));
        let e = discharge_ready(r, first, d(2022, 3, 8), Some(&ill), true).unwrap_err();
        assert!(e[0].contains("SpO2 95%"), "{e:?}");
        let e = discharge_ready(r, first, d(2022, 3, 2), Some(&ill), false).unwrap_err();
        assert_eq!(e.len(), 3);
    }
}
