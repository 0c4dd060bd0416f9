//! Home care of COVID-19 cases: warning signs, severity and home-care eligibility, evaluated
//! over versioned rulesets (`data/home-care-rules.json`; DOMAIN.md §8).
//!
//! A [`Ruleset`] bundles a set of warning signs, a severity table and the eligibility criteria
//! of one reading of the Ministry of Health guidance: `home-care-strict-2022` (default; the
//! stricter value wherever the sources differ), `qd-4038-2021` and `qd-261-2022`. Severity
//! tables: `qd-2671-2023` and `qd-4689-2021`. Every rule carries its sources and a `verified`
//! flag (none of DOMAIN.md §8 is marked verified, so none is here), and every [`Assessment`]
//! records the ruleset and severity table it came from.
//!
//! [`assess`] is pure: the self-monitoring values of one check-in ([`Vitals`]; any of them may be
//! missing) in, the warning signs found, the severity, whether the case may stay at home and the
//! alert level out. Validate input first with [`Vitals::from_json`] / [`Vitals::validated`]:
//! an unknown symptom code is an error naming the allowed codes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::surveillance::{AlertLevel, Severity};

const RULES_JSON: &str = include_str!("../data/home-care-rules.json");

/// A source a rule cites: a short citation (shown with each reason) and what it says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub citation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A value with its sources and whether it was checked against them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flagged<T> {
    pub value: T,
    /// Keys of the rules file's `sources`.
    pub sources: Vec<String>,
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A self-monitored measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    RespRate,
    Spo2,
    Pulse,
    Systolic,
    Diastolic,
    TempC,
}

impl Measure {
    fn of(self, v: &Vitals) -> Option<f64> {
        match self {
            Measure::RespRate => v.resp_rate,
            Measure::Spo2 => v.spo2,
            Measure::Pulse => v.pulse,
            Measure::Systolic => v.systolic,
            Measure::Diastolic => v.diastolic,
            Measure::TempC => v.temp_c,
        }
    }

    fn field(self) -> &'static str {
        match self {
            Measure::RespRate => "resp_rate",
            Measure::Spo2 => "spo2",
            Measure::Pulse => "pulse",
            Measure::Systolic => "systolic",
            Measure::Diastolic => "diastolic",
            Measure::TempC => "temp_c",
        }
    }

    fn label_vi(self) -> &'static str {
        match self {
            Measure::RespRate => "nhịp thở",
            Measure::Spo2 => "SpO2",
            Measure::Pulse => "mạch",
            Measure::Systolic => "huyết áp tối đa",
            Measure::Diastolic => "huyết áp tối thiểu",
            Measure::TempC => "nhiệt độ",
        }
    }

    fn label_en_title(self) -> &'static str {
        match self {
            Measure::RespRate => "Respiratory rate",
            Measure::Systolic => "Systolic pressure",
            Measure::Diastolic => "Diastolic pressure",
            Measure::Pulse => "Pulse",
            Measure::TempC => "Temperature",
            Measure::Spo2 => "SpO2",
        }
    }

    fn label_en(self) -> &'static str {
        match self {
            Measure::RespRate => "respiratory rate",
            Measure::Spo2 => "SpO2",
            Measure::Pulse => "pulse",
            Measure::Systolic => "systolic pressure",
            Measure::Diastolic => "diastolic pressure",
            Measure::TempC => "temperature",
        }
    }

    /// Plausible range of a measurement (inclusive); outside it the input is rejected.
    fn range(self) -> (f64, f64) {
        match self {
            Measure::RespRate => (1.0, 150.0),
            Measure::Spo2 => (1.0, 100.0),
            Measure::Pulse => (1.0, 300.0),
            Measure::Systolic => (1.0, 300.0),
            Measure::Diastolic => (1.0, 250.0),
            Measure::TempC => (25.0, 45.0),
        }
    }

    const ALL: [Measure; 6] = [
        Measure::RespRate,
        Measure::Spo2,
        Measure::Pulse,
        Measure::Systolic,
        Measure::Diastolic,
        Measure::TempC,
    ];
}

/// Comparison of a measurement with a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    fn holds(self, x: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => x < threshold,
            Op::Le => x <= threshold,
            Op::Gt => x > threshold,
            Op::Ge => x >= threshold,
        }
    }
}

/// One rule: a symptom, or a measurement compared with a threshold, for an age range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symptom: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<Measure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Op>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Inclusive lower age bound in years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_from: Option<f64>,
    /// Exclusive upper age bound in years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_to: Option<f64>,
    /// For warning signs: `warning` or `emergency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertLevel>,
    /// May hold `{value}`, replaced by the measured value.
    pub message_vi: String,
    pub message_en: String,
    pub sources: Vec<String>,
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Whether a measurement condition holds, cannot be checked (not measured) or does not apply
/// (outside its age range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    NotApplicable,
    Missing,
    Holds(bool),
}

impl Condition {
    fn applies_to_age(&self, age: f64) -> bool {
        self.age_from.is_none_or(|a| age >= a) && self.age_to.is_none_or(|b| age < b)
    }

    fn check(&self, v: &Vitals) -> Check {
        if !self.applies_to_age(v.age_years) {
            return Check::NotApplicable;
        }
        if let Some(s) = &self.symptom {
            return Check::Holds(v.symptoms.iter().any(|x| x == s));
        }
        match (self.measure, self.op, self.value) {
            (Some(m), Some(op), Some(t)) => match m.of(v) {
                Some(x) => Check::Holds(op.holds(x, t)),
                None => Check::Missing,
            },
            _ => Check::NotApplicable,
        }
    }

    fn fires(&self, v: &Vitals) -> bool {
        self.check(v) == Check::Holds(true)
    }

    fn measured(&self, v: &Vitals) -> Option<f64> {
        self.measure.and_then(|m| m.of(v))
    }

    fn reason(&self, v: &Vitals, citations: &BTreeMap<String, String>) -> Reason {
        let value = self.measured(v);
        Reason {
            code: self.code.clone(),
            message_vi: fill(&self.message_vi, value, true),
            message_en: fill(&self.message_en, value, false),
            verified: self.verified,
            source: cite(&self.sources, citations),
        }
    }

    fn validate(
        &self,
        what: &str,
        symptoms: &[SymptomDef],
        sources: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let here = format!("{what}: {}", self.code);
        match (&self.symptom, self.measure, self.op, self.value) {
            (Some(s), None, None, None) => {
                if !symptoms.iter().any(|d| &d.code == s) {
                    return Err(format!("{here}: unknown symptom {s}"));
                }
            }
            (None, Some(_), Some(_), Some(t)) if t.is_finite() => {}
            _ => return Err(format!("{here}: needs a symptom, or measure + op + value")),
        }
        if self.sources.is_empty() {
            return Err(format!("{here}: no source"));
        }
        if let Some(k) = self.sources.iter().find(|k| !sources.contains_key(*k)) {
            return Err(format!("{here}: unknown source {k}"));
        }
        Ok(())
    }
}

/// Renders a number the way people write it (`93`, `37.5`; Vietnamese `37,5`).
fn number(x: f64, vi: bool) -> String {
    let s = if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    };
    if vi { s.replace('.', ",") } else { s }
}

fn fill(template: &str, value: Option<f64>, vi: bool) -> String {
    match value {
        Some(x) => template.replace("{value}", &number(x, vi)),
        None => template.replace("{value}", "?"),
    }
}

fn cite(keys: &[String], citations: &BTreeMap<String, String>) -> String {
    keys.iter()
        .map(|k| citations.get(k).cloned().unwrap_or_else(|| k.clone()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A symptom code of the check-in form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymptomDef {
    pub code: String,
    pub label_vi: String,
    pub label_en: String,
}

/// A severity level reached when any of its conditions holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityLevel {
    pub severity: Severity,
    pub any: Vec<Condition>,
}

/// A severity classification (levels checked most severe first; below them: mild with any
/// symptom, else asymptomatic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityTable {
    pub id: String,
    pub title: String,
    pub effective_from: NaiveDate,
    pub dates_verified: bool,
    /// Key of the rules file's `sources`.
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
    pub levels: Vec<SeverityLevel>,
}

/// 4038's extra criterion: fully vaccinated, or all of the low-risk conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LowRiskCriterion {
    pub age_from: f64,
    pub age_to: f64,
    pub no_comorbidity: bool,
    pub not_pregnant: bool,
    pub sources: Vec<String>,
    pub verified: bool,
    #[serde(default)]
    pub note: Option<String>,
}

/// Who may be cared for at home.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Eligibility {
    pub max_severity: Flagged<Severity>,
    /// Each must hold (a missing measurement makes the case not eligible).
    pub vitals: Vec<Condition>,
    pub vaccinated_or_low_risk: Option<LowRiskCriterion>,
    pub stable_comorbidity_only: Flagged<bool>,
    pub able_to_self_care: Flagged<bool>,
}

#[derive(Debug, Clone, Deserialize)]
struct WarningSignSet {
    id: String,
    rules: Vec<Condition>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawRuleset {
    id: String,
    title: String,
    effective_from: NaiveDate,
    dates_verified: bool,
    sources: Vec<String>,
    warning_signs: String,
    severity_table: String,
    #[serde(default)]
    note: Option<String>,
    eligibility: Eligibility,
}

#[derive(Debug, Clone, Deserialize)]
struct RulesFile {
    title: String,
    default_ruleset: String,
    sources: BTreeMap<String, Source>,
    symptoms: Vec<SymptomDef>,
    warning_sign_sets: Vec<WarningSignSet>,
    severity_tables: Vec<SeverityTable>,
    rulesets: Vec<RawRuleset>,
}

/// One reading of the guidance, with its warning signs and severity table resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ruleset {
    pub id: String,
    pub title: String,
    pub effective_from: NaiveDate,
    pub dates_verified: bool,
    /// The citations of the ruleset's sources.
    pub citation: String,
    pub note: Option<String>,
    pub warning_signs_id: String,
    pub warning_signs: Vec<Condition>,
    pub severity: SeverityTable,
    pub eligibility: Eligibility,
    #[serde(skip)]
    citations: BTreeMap<String, String>,
}

/// Every home-care ruleset and severity table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HomeCareRules {
    pub title: String,
    pub default_ruleset: String,
    pub sources: BTreeMap<String, Source>,
    pub symptoms: Vec<SymptomDef>,
    pub severity_tables: Vec<SeverityTable>,
    pub rulesets: Vec<Ruleset>,
}

impl HomeCareRules {
    /// The embedded rules (parsed and checked once).
    pub fn embedded() -> &'static HomeCareRules {
        static RULES: OnceLock<HomeCareRules> = OnceLock::new();
        RULES.get_or_init(|| {
            HomeCareRules::from_json(RULES_JSON).expect("embedded home-care rules are valid")
        })
    }

    /// Parses and checks a rules file (e.g. a provincial override): every source cited, every
    /// symptom known, every reference resolved, warning signs with a warning or emergency alert.
    pub fn from_json(text: &str) -> Result<HomeCareRules, Error> {
        let bad = |detail: String| {
            Error::new(
                crate::ErrorCode::InvalidConfig,
                format!("Tệp quy tắc chăm sóc tại nhà không hợp lệ: {detail}"),
                format!("Invalid home-care rules file: {detail}"),
            )
        };
        let file: RulesFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let citations: BTreeMap<String, String> = file
            .sources
            .iter()
            .map(|(k, s)| (k.clone(), s.citation.clone()))
            .collect();
        let check = |c: &Condition, what: &str| c.validate(what, &file.symptoms, &citations);
        for set in &file.warning_sign_sets {
            for c in &set.rules {
                check(c, &set.id).map_err(bad)?;
                if !matches!(c.alert, Some(AlertLevel::Warning | AlertLevel::Emergency)) {
                    return Err(bad(format!(
                        "{}: {}: alert must be warning or emergency",
                        set.id, c.code
                    )));
                }
            }
        }
        for t in &file.severity_tables {
            if !file.sources.contains_key(&t.source) {
                return Err(bad(format!("{}: unknown source {}", t.id, t.source)));
            }
            for level in &t.levels {
                for c in &level.any {
                    check(c, &t.id).map_err(bad)?;
                }
            }
        }
        let mut rulesets = Vec::new();
        for r in &file.rulesets {
            let warning = file
                .warning_sign_sets
                .iter()
                .find(|s| s.id == r.warning_signs)
                .ok_or_else(|| {
                    bad(format!(
                        "{}: unknown warning signs {}",
                        r.id, r.warning_signs
                    ))
                })?;
            let severity = file
                .severity_tables
                .iter()
                .find(|t| t.id == r.severity_table)
                .ok_or_else(|| {
                    bad(format!(
                        "{}: unknown severity table {}",
                        r.id, r.severity_table
                    ))
                })?;
            for c in &r.eligibility.vitals {
                check(c, &r.id).map_err(bad)?;
            }
            let e = &r.eligibility;
            let flagged_sources = [
                &e.max_severity.sources,
                &e.stable_comorbidity_only.sources,
                &e.able_to_self_care.sources,
                &r.sources,
            ];
            let low_risk = e.vaccinated_or_low_risk.as_ref().map(|l| &l.sources);
            for keys in flagged_sources.into_iter().chain(low_risk) {
                if keys.is_empty() {
                    return Err(bad(format!("{}: a criterion without a source", r.id)));
                }
                if let Some(k) = keys.iter().find(|k| !file.sources.contains_key(*k)) {
                    return Err(bad(format!("{}: unknown source {k}", r.id)));
                }
            }
            rulesets.push(Ruleset {
                id: r.id.clone(),
                title: r.title.clone(),
                effective_from: r.effective_from,
                dates_verified: r.dates_verified,
                citation: cite(&r.sources, &citations),
                note: r.note.clone(),
                warning_signs_id: warning.id.clone(),
                warning_signs: warning.rules.clone(),
                severity: severity.clone(),
                eligibility: r.eligibility.clone(),
                citations: citations.clone(),
            });
        }
        if !rulesets.iter().any(|r| r.id == file.default_ruleset) {
            return Err(bad(format!(
                "unknown default ruleset {}",
                file.default_ruleset
            )));
        }
        Ok(HomeCareRules {
            title: file.title,
            default_ruleset: file.default_ruleset,
            sources: file.sources,
            symptoms: file.symptoms,
            severity_tables: file.severity_tables,
            rulesets,
        })
    }

    /// The ruleset with this id, or the default one for `None`.
    pub fn ruleset(&self, id: Option<&str>) -> Result<&Ruleset, Error> {
        let want = id.map(str::trim).unwrap_or(&self.default_ruleset);
        self.rulesets.iter().find(|r| r.id == want).ok_or_else(|| {
            let ids = self.ids().join(", ");
            Error::invalid(
                "ruleset",
                format!("Bộ quy tắc «{want}» không có (chọn một trong: {ids})"),
                format!("unknown ruleset «{want}» (one of: {ids})"),
            )
        })
    }

    /// The ruleset ids, default first.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.rulesets.iter().map(|r| r.id.as_str()).collect();
        ids.sort_by_key(|id| *id != self.default_ruleset);
        ids
    }

    /// The severity table with this id.
    pub fn severity_table(&self, id: &str) -> Option<&SeverityTable> {
        self.severity_tables.iter().find(|t| t.id == id)
    }

    /// The allowed symptom codes.
    pub fn symptom_codes(&self) -> Vec<&str> {
        self.symptoms.iter().map(|s| s.code.as_str()).collect()
    }
}

fn default_true() -> bool {
    true
}

/// One check-in: the self-monitoring values (any may be missing) and, for eligibility, the
/// person's risk factors. Deserialises from `{age_years, resp_rate, spo2, pulse, systolic,
/// diastolic, temp_c, symptoms[], comorbidities[], pregnant, fully_vaccinated,
/// unstable_comorbidity, able_to_self_care}`; unknown fields are refused (a misspelt `spo2`
/// must not pass as "not measured").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vitals {
    pub age_years: f64,
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
    pub comorbidities: Vec<String>,
    #[serde(default)]
    pub pregnant: bool,
    /// `None`: unknown (treated as not fully vaccinated).
    #[serde(default)]
    pub fully_vaccinated: Option<bool>,
    #[serde(default)]
    pub unstable_comorbidity: bool,
    #[serde(default = "default_true")]
    pub able_to_self_care: bool,
}

impl Vitals {
    /// Vitals of a person of this age with nothing measured, no symptom, no risk factor.
    pub fn new(age_years: f64) -> Vitals {
        Vitals {
            age_years,
            resp_rate: None,
            spo2: None,
            pulse: None,
            systolic: None,
            diastolic: None,
            temp_c: None,
            symptoms: Vec::new(),
            comorbidities: Vec::new(),
            pregnant: false,
            fully_vaccinated: None,
            unstable_comorbidity: false,
            able_to_self_care: true,
        }
    }

    /// Parses a JSON check-in and validates it ([`Vitals::validated`]).
    pub fn from_json(text: &str) -> Result<Vitals, Error> {
        let v: Vitals = serde_json::from_str(text).map_err(|e| {
            Error::new(
                crate::ErrorCode::InvalidInput,
                format!("Dữ liệu theo dõi sức khỏe không đúng dạng: {e}"),
                format!("Malformed check-in data: {e}"),
            )
        })?;
        v.validated()
    }

    /// Normalises symptom codes (trimmed, lower case, duplicates dropped) and checks them against
    /// the embedded list, and checks every value lies in a plausible range.
    pub fn validated(mut self) -> Result<Vitals, Error> {
        let rules = HomeCareRules::embedded();
        if !(self.age_years.is_finite() && (0.0..=130.0).contains(&self.age_years)) {
            return Err(Error::invalid(
                "age_years",
                format!("Tuổi {} không hợp lệ (0–130)", self.age_years),
                format!("invalid age {} (0–130)", self.age_years),
            ));
        }
        for m in Measure::ALL {
            if let Some(x) = m.of(&self) {
                let (lo, hi) = m.range();
                if !(x.is_finite() && (lo..=hi).contains(&x)) {
                    return Err(Error::invalid(
                        m.field(),
                        format!(
                            "Giá trị {} {} không hợp lệ (từ {} đến {})",
                            m.label_vi(),
                            number(x, true),
                            number(lo, true),
                            number(hi, true)
                        ),
                        format!(
                            "invalid {} {} ({} to {})",
                            m.label_en(),
                            number(x, false),
                            number(lo, false),
                            number(hi, false)
                        ),
                    ));
                }
            }
        }
        let mut symptoms: Vec<String> = Vec::new();
        for raw in &self.symptoms {
            let code = raw.trim().to_lowercase();
            if !rules.symptoms.iter().any(|s| s.code == code) {
                let allowed = rules.symptom_codes().join(", ");
                return Err(Error::invalid(
                    "symptoms",
                    format!(
                        "Triệu chứng «{}» không hợp lệ (chọn một trong: {allowed})",
                        raw.trim()
                    ),
                    format!("unknown symptom «{}» (one of: {allowed})", raw.trim()),
                ));
            }
            if !symptoms.contains(&code) {
                symptoms.push(code);
            }
        }
        self.symptoms = symptoms;
        self.comorbidities = self
            .comorbidities
            .iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        Ok(self)
    }
}

/// Why an assessment escalates, or why a case may not stay at home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub message_vi: String,
    pub message_en: String,
    /// Whether the rule's number is verified against its source (else "cần xác nhận").
    pub verified: bool,
    /// The citations of the rule's sources.
    pub source: String,
}

/// The result of one check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// Any warning sign, or a moderate or worse severity: contact the case, consider transfer.
    pub escalate: bool,
    /// The warning signs found (one per measurement: the most urgent rule), then the severity
    /// when moderate or worse.
    pub reasons: Vec<Reason>,
    pub severity: Severity,
    pub eligible_home_care: bool,
    /// Why the case may not stay at home (empty when eligible).
    #[serde(default)]
    pub ineligible_reasons: Vec<Reason>,
    /// `none`, `warning` or `emergency` (`overdue` is the alert queue's, not a check-in's).
    pub alert: AlertLevel,
    /// The ruleset the assessment came from.
    pub ruleset: String,
    /// The severity table the ruleset uses.
    #[serde(default)]
    pub severity_table: String,
}

fn reason(code: &str, vi: String, en: String, verified: bool, source: String) -> Reason {
    Reason {
        code: code.to_string(),
        message_vi: vi,
        message_en: en,
        verified,
        source,
    }
}

/// Severity by the table, and the conditions that decided it.
fn classify<'a>(table: &'a SeverityTable, v: &Vitals) -> (Severity, Vec<&'a Condition>) {
    for level in &table.levels {
        let fired: Vec<&Condition> = level.any.iter().filter(|c| c.fires(v)).collect();
        if !fired.is_empty() {
            return (level.severity, fired);
        }
    }
    let s = if v.symptoms.is_empty() {
        Severity::Asymptomatic
    } else {
        Severity::Mild
    };
    (s, Vec::new())
}

/// Assesses one check-in by `ruleset`. `v` should come through [`Vitals::validated`]; symptom
/// codes no rule knows are ignored here.
pub fn assess(ruleset: &Ruleset, v: &Vitals) -> Assessment {
    let citations = &ruleset.citations;

    // Warning signs; for a measurement only the most urgent rule that fired is reported.
    let fired: Vec<&Condition> = ruleset
        .warning_signs
        .iter()
        .filter(|c| c.fires(v))
        .collect();
    let kept: Vec<&Condition> = fired
        .iter()
        .copied()
        .filter(|c| match c.measure {
            None => true,
            Some(m) => !fired
                .iter()
                .any(|o| o.measure == Some(m) && o.alert > c.alert),
        })
        .collect();
    let mut reasons: Vec<Reason> = kept.iter().map(|c| c.reason(v, citations)).collect();
    let mut alert = kept
        .iter()
        .filter_map(|c| c.alert)
        .max()
        .unwrap_or(AlertLevel::None);

    // Severity.
    let (severity, because) = classify(&ruleset.severity, v);
    if severity >= Severity::Moderate {
        let mut keys: Vec<String> = vec![ruleset.severity.source.clone()];
        for c in &because {
            for k in &c.sources {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        let vi: Vec<String> = because
            .iter()
            .map(|c| fill(&c.message_vi, c.measured(v), true))
            .collect();
        let en: Vec<String> = because
            .iter()
            .map(|c| fill(&c.message_en, c.measured(v), false))
            .collect();
        reasons.push(reason(
            &format!("severity_{}", severity.as_str()),
            format!(
                "Mức độ {} ({}): {}",
                severity.label_vi().to_lowercase(),
                ruleset.severity.id,
                vi.join("; ")
            ),
            format!(
                "Severity {} ({}): {}",
                severity.as_str(),
                ruleset.severity.id,
                en.join("; ")
            ),
            because.iter().all(|c| c.verified),
            cite(&keys, citations),
        ));
        let by_severity = if severity.is_severe() {
            AlertLevel::Emergency
        } else {
            AlertLevel::Warning
        };
        alert = alert.max(by_severity);
    }
    let escalate = !reasons.is_empty();

    let ineligible_reasons = eligibility(ruleset, v, severity, escalate);
    Assessment {
        escalate,
        reasons,
        severity,
        eligible_home_care: ineligible_reasons.is_empty(),
        ineligible_reasons,
        alert,
        ruleset: ruleset.id.clone(),
        severity_table: ruleset.severity.id.clone(),
    }
}

fn eligibility(ruleset: &Ruleset, v: &Vitals, severity: Severity, escalate: bool) -> Vec<Reason> {
    let e = &ruleset.eligibility;
    let citations = &ruleset.citations;
    let mut out = Vec::new();
    if escalate {
        out.push(reason(
            "warning_sign",
            "Có dấu hiệu cảnh báo hoặc mức độ từ trung bình trở lên".into(),
            "A warning sign, or moderate or worse severity".into(),
            e.max_severity.verified,
            cite(&e.max_severity.sources, citations),
        ));
    }
    if severity > e.max_severity.value {
        out.push(reason(
            "severity",
            format!(
                "Mức độ {}: chăm sóc tại nhà chỉ khi không triệu chứng hoặc {}",
                severity.label_vi().to_lowercase(),
                e.max_severity.value.label_vi().to_lowercase()
            ),
            format!(
                "Severity {}: home care only up to {}",
                severity.as_str(),
                e.max_severity.value.as_str()
            ),
            e.max_severity.verified,
            cite(&e.max_severity.sources, citations),
        ));
    }
    for c in &e.vitals {
        match c.check(v) {
            Check::Holds(true) | Check::NotApplicable => {}
            Check::Holds(false) => out.push(c.reason(v, citations)),
            Check::Missing => {
                let m = c.measure.expect("a measurement condition");
                out.push(reason(
                    &format!("missing_{}", m.field()),
                    format!("Chưa đo {}: cần có để xét chăm sóc tại nhà", m.label_vi()),
                    format!(
                        "{} not measured: needed to decide on home care",
                        m.label_en_title()
                    ),
                    c.verified,
                    cite(&c.sources, citations),
                ));
            }
        }
    }
    let low_risk = e
        .vaccinated_or_low_risk
        .as_ref()
        .filter(|_| v.fully_vaccinated != Some(true));
    if let Some(l) = low_risk {
        let mut why_vi = Vec::new();
        let mut why_en = Vec::new();
        if !(v.age_years >= l.age_from && v.age_years < l.age_to) {
            why_vi.push(format!(
                "tuổi {} ngoài khoảng {} đến dưới {}",
                number(v.age_years, true),
                number(l.age_from, true),
                number(l.age_to, true)
            ));
            why_en.push(format!(
                "age {} outside {} to under {}",
                number(v.age_years, false),
                number(l.age_from, false),
                number(l.age_to, false)
            ));
        }
        if l.no_comorbidity && !v.comorbidities.is_empty() {
            why_vi.push(format!("có bệnh nền ({})", v.comorbidities.join(", ")));
            why_en.push(format!("comorbidity ({})", v.comorbidities.join(", ")));
        }
        if l.not_pregnant && v.pregnant {
            why_vi.push("đang mang thai".into());
            why_en.push("pregnant".into());
        }
        if !why_vi.is_empty() {
            let status_vi = if v.fully_vaccinated.is_none() {
                "Chưa rõ đã tiêm đủ liều vắc xin"
            } else {
                "Chưa tiêm đủ liều vắc xin"
            };
            out.push(reason(
                "not_vaccinated_high_risk",
                format!("{status_vi} và {}", why_vi.join(", ")),
                format!("Not known to be fully vaccinated and {}", why_en.join(", ")),
                l.verified,
                cite(&l.sources, citations),
            ));
        }
    }
    if e.stable_comorbidity_only.value && v.unstable_comorbidity {
        out.push(reason(
            "unstable_comorbidity",
            "Bệnh nền chưa được điều trị ổn định".into(),
            "Comorbidity not under stable treatment".into(),
            e.stable_comorbidity_only.verified,
            cite(&e.stable_comorbidity_only.sources, citations),
        ));
    }
    if e.able_to_self_care.value && !v.able_to_self_care {
        out.push(reason(
            "unable_to_self_care",
            "Không tự chăm sóc được và không có người chăm sóc".into(),
            "Unable to self-care, with no carer".into(),
            e.able_to_self_care.verified,
            cite(&e.able_to_self_care.sources, citations),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> &'static HomeCareRules {
        HomeCareRules::embedded()
    }

    fn strict() -> &'static Ruleset {
        rules().ruleset(None).unwrap()
    }

    /// A well, vaccinated adult.
    fn adult() -> Vitals {
        Vitals {
            resp_rate: Some(16.0),
            spo2: Some(98.0),
            pulse: Some(80.0),
            systolic: Some(120.0),
            diastolic: Some(80.0),
            temp_c: Some(37.0),
            fully_vaccinated: Some(true),
            ..Vitals::new(35.0)
        }
    }

    fn codes(a: &Assessment) -> Vec<&str> {
        a.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    fn ineligible(a: &Assessment) -> Vec<&str> {
        a.ineligible_reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect()
    }

    fn with(f: impl FnOnce(&mut Vitals)) -> Vitals {
        let mut v = adult();
        f(&mut v);
        v
    }

    #[test]
    fn the_embedded_rules_load_and_name_their_rulesets() {
        let r = rules();
        assert_eq!(r.default_ruleset, "home-care-strict-2022");
        assert_eq!(
            r.ids(),
            ["home-care-strict-2022", "qd-4038-2021", "qd-261-2022"]
        );
        assert_eq!(strict().severity.id, "qd-2671-2023");
        assert_eq!(
            r.ruleset(Some("qd-261-2022")).unwrap().severity.id,
            "qd-4689-2021"
        );
        assert!(r.severity_table("qd-2671-2023").is_some());
        let e = r.ruleset(Some("qd-9999")).unwrap_err();
        assert_eq!(e.details["field"], "ruleset");
        assert!(e.message_vi.contains("home-care-strict-2022"));
        for code in [
            "dyspnoea",
            "chest_pain",
            "confusion",
            "cyanosis",
            "unable_to_drink",
            "cough",
            "fever",
            "sore_throat",
            "fatigue",
            "loss_of_smell",
            "diarrhoea",
            "seizure",
            "shock",
        ] {
            assert!(r.symptom_codes().contains(&code), "{code}");
        }
    }

    #[test]
    fn every_rule_is_honestly_unverified_and_cites_a_source() {
        // DOMAIN.md §8 marks none of these numbers verified.
        let r = rules();
        for rs in &r.rulesets {
            assert!(!rs.dates_verified);
            assert!(!rs.citation.is_empty());
            for c in rs.warning_signs.iter().chain(&rs.eligibility.vitals) {
                assert!(!c.verified, "{}: {}", rs.id, c.code);
                assert!(!c.sources.is_empty());
            }
            assert!(!rs.eligibility.max_severity.verified);
        }
        for t in &r.severity_tables {
            for l in &t.levels {
                assert!(l.any.iter().all(|c| !c.verified), "{}", t.id);
            }
        }
        let a = assess(strict(), &with(|v| v.resp_rate = Some(20.0)));
        assert!(a.reasons.iter().all(|r| !r.verified));
        assert!(a.reasons[0].source.contains("261/QĐ-BYT"));
        assert!(
            a.reasons[0].source.contains("DOMAIN.md §8"),
            "both readings cited"
        );
    }

    #[test]
    fn broken_rules_files_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(RULES_JSON).unwrap();
        v["warning_sign_sets"][0]["rules"][0]["symptom"] = "sneezing".into();
        let e = HomeCareRules::from_json(&v.to_string()).unwrap_err();
        assert!(e.message_en.contains("unknown symptom sneezing"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(RULES_JSON).unwrap();
        v["rulesets"][0]["severity_table"] = "qd-0".into();
        assert!(HomeCareRules::from_json(&v.to_string()).is_err());
        let mut v: serde_json::Value = serde_json::from_str(RULES_JSON).unwrap();
        v["warning_sign_sets"][0]["rules"][1]["alert"] = "overdue".into();
        assert!(HomeCareRules::from_json(&v.to_string()).is_err());
        let mut v: serde_json::Value = serde_json::from_str(RULES_JSON).unwrap();
        v["warning_sign_sets"][0]["rules"][1]["sources"] = serde_json::json!(["nowhere"]);
        assert!(HomeCareRules::from_json(&v.to_string()).is_err());
    }

    #[test]
    fn a_well_adult_stays_home() {
        let a = assess(strict(), &adult());
        assert!(!a.escalate);
        assert!(a.reasons.is_empty());
        assert_eq!(a.severity, Severity::Asymptomatic);
        assert!(a.eligible_home_care, "{:?}", a.ineligible_reasons);
        assert_eq!(a.alert, AlertLevel::None);
        assert_eq!(a.ruleset, "home-care-strict-2022");
        assert_eq!(a.severity_table, "qd-2671-2023");
        let a = assess(
            strict(),
            &with(|v| v.symptoms = vec!["cough".into(), "fever".into()]),
        );
        assert_eq!(a.severity, Severity::Mild);
        assert!(!a.escalate && a.eligible_home_care);
    }

    #[test]
    fn adult_respiratory_rate_warns_from_20() {
        let a = assess(strict(), &with(|v| v.resp_rate = Some(19.0)));
        assert!(!a.escalate);
        let a = assess(strict(), &with(|v| v.resp_rate = Some(20.0)));
        assert!(a.escalate);
        assert_eq!(codes(&a), ["resp_rate_adult"]);
        assert_eq!(a.alert, AlertLevel::Warning);
        assert!(a.reasons[0].message_vi.contains("Nhịp thở 20 lần/phút"));
        assert!(!a.eligible_home_care);
        // 12 is adult for the thresholds; 11 is a child (20 is normal there).
        assert!(
            assess(
                strict(),
                &with(|v| {
                    v.resp_rate = Some(20.0);
                    v.age_years = 12.0
                })
            )
            .escalate
        );
        assert!(
            !assess(
                strict(),
                &with(|v| {
                    v.resp_rate = Some(20.0);
                    v.age_years = 11.9
                })
            )
            .escalate
        );
    }

    #[test]
    fn childrens_respiratory_rate_thresholds_depend_on_age() {
        let child = |age: f64, rr: f64| {
            assess(
                strict(),
                &with(|v| {
                    v.age_years = age;
                    v.resp_rate = Some(rr)
                }),
            )
        };
        // 1 to under 5: from 40.
        assert!(!child(3.0, 39.0).escalate);
        assert_eq!(codes(&child(3.0, 40.0))[0], "resp_rate_child_1_5");
        assert!(child(1.0, 40.0).escalate);
        // 5 to under 12: from 30.
        assert!(!child(4.99, 39.0).escalate);
        assert!(!child(5.0, 29.0).escalate);
        assert_eq!(codes(&child(5.0, 30.0))[0], "resp_rate_child_5_12");
        assert!(child(11.0, 30.0).escalate);
        // Under 1: no threshold in the sources.
        assert!(!child(0.5, 55.0).escalate);
        // A child's fast breathing is moderate severity too.
        assert_eq!(child(3.0, 40.0).severity, Severity::Moderate);
        assert_eq!(child(3.0, 39.0).severity, Severity::Asymptomatic);
    }

    #[test]
    fn spo2_warns_at_96_and_is_an_emergency_below_94() {
        let a = assess(strict(), &with(|v| v.spo2 = Some(97.0)));
        assert!(!a.escalate && a.eligible_home_care);
        let a = assess(strict(), &with(|v| v.spo2 = Some(96.0)));
        assert!(a.escalate);
        assert_eq!(codes(&a), ["spo2_low", "severity_moderate"]);
        assert_eq!(a.severity, Severity::Moderate);
        assert_eq!(a.alert, AlertLevel::Warning);
        assert!(a.reasons[0].message_vi.contains("đo lại"));
        let a = assess(strict(), &with(|v| v.spo2 = Some(94.0)));
        assert_eq!(a.alert, AlertLevel::Warning);
        assert_eq!(a.severity, Severity::Moderate);
        // Below 94 only the emergency rule is reported for SpO2.
        let a = assess(strict(), &with(|v| v.spo2 = Some(93.5)));
        assert_eq!(codes(&a), ["spo2_below_94", "severity_severe"]);
        assert_eq!(a.severity, Severity::Severe);
        assert_eq!(a.alert, AlertLevel::Emergency);
        assert!(a.reasons[0].message_vi.contains("93,5%"));
        assert!(a.reasons[0].message_en.contains("93.5%"));
    }

    #[test]
    fn pulse_and_blood_pressure_thresholds() {
        let esc = |f: fn(&mut Vitals)| assess(strict(), &with(f)).escalate;
        assert!(!esc(|v| v.pulse = Some(120.0)));
        assert!(esc(|v| v.pulse = Some(121.0)));
        assert!(!esc(|v| v.pulse = Some(50.0)));
        assert!(esc(|v| v.pulse = Some(49.0)));
        assert!(!esc(|v| v.systolic = Some(90.0)));
        assert!(esc(|v| v.systolic = Some(89.0)));
        assert!(!esc(|v| v.diastolic = Some(60.0)));
        assert!(esc(|v| v.diastolic = Some(59.0)));
        // A toddler's pulse of 130 is normal; at 5 the adult value applies.
        assert!(!esc(|v| {
            v.age_years = 2.0;
            v.pulse = Some(130.0)
        }));
        assert!(esc(|v| {
            v.age_years = 5.0;
            v.pulse = Some(130.0)
        }));
        // Children's blood pressure is lower: adult thresholds from 12.
        assert!(!esc(|v| {
            v.age_years = 8.0;
            v.systolic = Some(85.0);
            v.diastolic = Some(50.0)
        }));
        assert!(esc(|v| {
            v.age_years = 12.0;
            v.systolic = Some(85.0)
        }));
        let a = assess(strict(), &with(|v| v.pulse = Some(130.0)));
        assert_eq!(codes(&a), ["pulse_high"]);
        assert_eq!(a.alert, AlertLevel::Warning);
        assert_eq!(a.severity, Severity::Asymptomatic);
    }

    #[test]
    fn symptom_warning_signs_and_their_alerts() {
        for (s, alert) in [
            ("dyspnoea", AlertLevel::Warning),
            ("chest_pain", AlertLevel::Warning),
            ("unable_to_drink", AlertLevel::Warning),
            ("confusion", AlertLevel::Emergency),
            ("cyanosis", AlertLevel::Emergency),
            ("seizure", AlertLevel::Emergency),
            ("shock", AlertLevel::Emergency),
        ] {
            let a = assess(strict(), &with(|v| v.symptoms = vec![s.into()]));
            assert!(a.escalate, "{s}");
            assert_eq!(codes(&a)[0], s);
            assert_eq!(a.alert, alert, "{s}");
            assert!(!a.eligible_home_care, "{s}");
        }
        for s in [
            "cough",
            "fever",
            "sore_throat",
            "fatigue",
            "loss_of_smell",
            "diarrhoea",
        ] {
            let a = assess(strict(), &with(|v| v.symptoms = vec![s.into()]));
            assert!(!a.escalate, "{s}");
            assert_eq!(a.alert, AlertLevel::None);
        }
    }

    #[test]
    fn severity_by_the_2671_table() {
        let sev = |rr: f64, spo2: f64| {
            assess(
                strict(),
                &with(|v| {
                    v.resp_rate = Some(rr);
                    v.spo2 = Some(spo2)
                }),
            )
            .severity
        };
        assert_eq!(sev(21.0, 97.0), Severity::Asymptomatic);
        assert_eq!(sev(22.0, 97.0), Severity::Moderate);
        assert_eq!(sev(30.0, 97.0), Severity::Moderate);
        assert_eq!(sev(31.0, 97.0), Severity::Severe);
        assert_eq!(sev(16.0, 96.0), Severity::Moderate);
        assert_eq!(sev(16.0, 94.0), Severity::Moderate);
        assert_eq!(sev(16.0, 93.0), Severity::Severe);
        let a = assess(strict(), &with(|v| v.symptoms = vec!["shock".into()]));
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(codes(&a), ["shock", "severity_critical"]);
        let a = assess(strict(), &with(|v| v.resp_rate = Some(31.0)));
        assert_eq!(a.alert, AlertLevel::Emergency, "severe is an emergency");
        assert!(a.reasons[1].message_vi.contains("qd-2671-2023"));
    }

    #[test]
    fn severity_by_the_4689_table() {
        let rs = rules().ruleset(Some("qd-261-2022")).unwrap();
        let sev = |rr: f64, spo2: f64| {
            assess(
                rs,
                &with(|v| {
                    v.resp_rate = Some(rr);
                    v.spo2 = Some(spo2)
                }),
            )
            .severity
        };
        assert_eq!(sev(19.0, 97.0), Severity::Asymptomatic);
        assert_eq!(sev(20.0, 97.0), Severity::Moderate);
        assert_eq!(sev(25.0, 97.0), Severity::Moderate);
        assert_eq!(sev(26.0, 97.0), Severity::Severe);
        assert_eq!(sev(16.0, 96.0), Severity::Moderate);
        assert_eq!(sev(16.0, 94.0), Severity::Moderate);
        assert_eq!(sev(16.0, 93.0), Severity::Severe);
        assert_eq!(assess(rs, &adult()).severity_table, "qd-4689-2021");
    }

    #[test]
    fn missing_vitals_raise_nothing_but_block_home_care() {
        let a = assess(
            strict(),
            &Vitals {
                fully_vaccinated: Some(true),
                ..Vitals::new(30.0)
            },
        );
        assert!(!a.escalate);
        assert_eq!(a.severity, Severity::Asymptomatic);
        assert!(!a.eligible_home_care);
        assert_eq!(ineligible(&a), ["missing_resp_rate", "missing_spo2"]);
        // A child's respiratory rate is judged by the warning thresholds, not the adult one.
        let a = assess(
            strict(),
            &Vitals {
                spo2: Some(98.0),
                fully_vaccinated: Some(true),
                ..Vitals::new(6.0)
            },
        );
        assert!(a.eligible_home_care, "{:?}", a.ineligible_reasons);
    }

    #[test]
    fn eligibility_numbers_differ_between_4038_and_261() {
        let r4038 = rules().ruleset(Some("qd-4038-2021")).unwrap();
        let r261 = rules().ruleset(Some("qd-261-2022")).unwrap();
        // SpO2 96: 4038 (≥ 96) would allow it; 261 (> 96) does not; both warn (stricter signs).
        let v = with(|v| v.spo2 = Some(96.0));
        assert!(!ineligible(&assess(r4038, &v)).contains(&"spo2"));
        assert!(ineligible(&assess(r261, &v)).contains(&"spo2"));
        // RR 20: 4038 allows ≤ 20, 261 needs < 20.
        let v = with(|v| v.resp_rate = Some(20.0));
        assert!(!ineligible(&assess(r4038, &v)).contains(&"resp_rate"));
        assert!(ineligible(&assess(r261, &v)).contains(&"resp_rate"));
        assert!(ineligible(&assess(strict(), &v)).contains(&"resp_rate"));
        let v = with(|v| v.resp_rate = Some(19.0));
        assert!(assess(r261, &v).eligible_home_care);
    }

    #[test]
    fn the_4038_criterion_vaccinated_or_low_risk() {
        let r4038 = rules().ruleset(Some("qd-4038-2021")).unwrap();
        let r261 = rules().ruleset(Some("qd-261-2022")).unwrap();
        let unvaccinated = |f: fn(&mut Vitals)| {
            with(|v| {
                v.fully_vaccinated = Some(false);
                f(v)
            })
        };
        // Age 1 to under 50 without vaccination is fine; 50 is not, nor under 1.
        assert!(assess(r4038, &unvaccinated(|v| v.age_years = 49.9)).eligible_home_care);
        let a = assess(r4038, &unvaccinated(|v| v.age_years = 50.0));
        assert_eq!(ineligible(&a), ["not_vaccinated_high_risk"]);
        assert!(a.ineligible_reasons[0].message_vi.contains("tuổi 50"));
        assert!(
            assess(
                r4038,
                &unvaccinated(|v| {
                    v.age_years = 1.0;
                    v.resp_rate = None
                })
            )
            .eligible_home_care
        );
        assert!(
            !assess(
                r4038,
                &unvaccinated(|v| {
                    v.age_years = 0.9;
                    v.resp_rate = None
                })
            )
            .eligible_home_care
        );
        // Comorbidity or pregnancy without vaccination.
        assert!(
            !assess(
                r4038,
                &unvaccinated(|v| v.comorbidities = vec!["diabetes".into()])
            )
            .eligible_home_care
        );
        assert!(!assess(r4038, &unvaccinated(|v| v.pregnant = true)).eligible_home_care);
        // Vaccination lifts the criterion; an unknown status does not.
        assert!(
            assess(
                r4038,
                &with(|v| {
                    v.age_years = 70.0;
                    v.pregnant = false
                })
            )
            .eligible_home_care
        );
        assert!(
            !assess(
                r4038,
                &with(|v| {
                    v.age_years = 70.0;
                    v.fully_vaccinated = None
                })
            )
            .eligible_home_care
        );
        // The strict default keeps it; 261 has no such criterion.
        assert!(!assess(strict(), &unvaccinated(|v| v.age_years = 60.0)).eligible_home_care);
        assert!(assess(r261, &unvaccinated(|v| v.age_years = 60.0)).eligible_home_care);
        assert!(assess(r261, &unvaccinated(|v| v.pregnant = true)).eligible_home_care);
    }

    #[test]
    fn unstable_comorbidity_and_self_care() {
        for id in ["home-care-strict-2022", "qd-4038-2021", "qd-261-2022"] {
            let rs = rules().ruleset(Some(id)).unwrap();
            assert!(assess(rs, &adult()).eligible_home_care, "{id}");
            let a = assess(rs, &with(|v| v.unstable_comorbidity = true));
            assert_eq!(ineligible(&a), ["unstable_comorbidity"], "{id}");
            assert!(!a.escalate);
            let a = assess(rs, &with(|v| v.able_to_self_care = false));
            assert_eq!(ineligible(&a), ["unable_to_self_care"], "{id}");
        }
        // Moderate severity is beyond home care under every ruleset.
        let a = assess(strict(), &with(|v| v.resp_rate = Some(24.0)));
        assert!(ineligible(&a).contains(&"severity"));
    }

    #[test]
    fn the_example_of_the_cli_spo2_93_with_dyspnoea() {
        let v = Vitals::from_json(
            r#"{"age_years": 45, "resp_rate": 24, "spo2": 93, "pulse": 100, "systolic": 120,
                "diastolic": 80, "temp_c": 38.2, "symptoms": ["dyspnoea", "Fever"]}"#,
        )
        .unwrap();
        assert_eq!(v.symptoms, ["dyspnoea", "fever"]);
        let a = assess(strict(), &v);
        assert!(a.escalate);
        assert_eq!(a.severity, Severity::Severe);
        assert_eq!(a.alert, AlertLevel::Emergency);
        assert!(!a.eligible_home_care);
        assert_eq!(
            codes(&a),
            [
                "dyspnoea",
                "resp_rate_adult",
                "spo2_below_94",
                "severity_severe"
            ]
        );
        let json = serde_json::to_value(&a).unwrap();
        for k in [
            "escalate",
            "reasons",
            "severity",
            "eligible_home_care",
            "alert",
            "ruleset",
        ] {
            assert!(json.get(k).is_some(), "{k}");
        }
        assert_eq!(json["alert"], "emergency");
        assert_eq!(json["severity"], "severe");
        let back: Assessment = serde_json::from_value(json).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn input_is_validated() {
        let e = Vitals::from_json(r#"{"age_years": 30, "symptoms": ["sneezing"]}"#).unwrap_err();
        assert_eq!(e.details["field"], "symptoms");
        assert!(e.message_vi.contains("sneezing"));
        assert!(e.message_vi.contains("dyspnoea"), "names the allowed codes");
        let e = Vitals::from_json(r#"{"age_years": 30, "spo2": 101}"#).unwrap_err();
        assert_eq!(e.details["field"], "spo2");
        assert!(Vitals::from_json(r#"{"age_years": 30, "spo2": 100}"#).is_ok());
        let e = Vitals::from_json(r#"{"age_years": -1}"#).unwrap_err();
        assert_eq!(e.details["field"], "age_years");
        // A misspelt field is refused rather than read as "not measured".
        let e = Vitals::from_json(r#"{"age_years": 30, "sp02": 90}"#).unwrap_err();
        assert!(e.message_en.contains("sp02"), "{e}");
        assert!(Vitals::from_json(r#"{"spo2": 90}"#).is_err());
        // Nulls and absent values are "not measured"; self-care defaults to yes.
        let v =
            Vitals::from_json(r#"{"age_years": 30, "resp_rate": null, "symptoms": []}"#).unwrap();
        assert_eq!(v.resp_rate, None);
        assert!(v.able_to_self_care);
        assert_eq!(v.fully_vaccinated, None);
    }
}
