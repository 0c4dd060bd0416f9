//! Epidemic level (cấp độ dịch) of a unit under Resolution 128/NQ-CP, over versioned rulesets
//! (`data/epidemic-levels.json`; DOMAIN.md §9), and the Lai Châu crisis scenario.
//!
//! Rulesets follow each other by date: `qd-4800-2021` (Decision 4800/QĐ-BYT, 12/10/2021 to
//! 26/01/2022) and `qd-218-2022` (Decision 218/QĐ-BYT, from 27/01/2022). Each carries its legal
//! citation, effective dates, a `verified` flag and note on every number and rule, and optional
//! provincial overrides that replace whole sections for one province code. [`ruleset`] gives a
//! ruleset by id, [`ruleset_for_date`] the one in force on a date with a province's override
//! applied.
//!
//! [`assess`] is pure: a unit's weekly [`Indicators`] in, an [`Assessment`] out:
//! 1. criterion 1, the transmission band from new cases per 100,000 per week (218: raised one
//!    band by the oxygen or death rate, never to very high);
//! 2. criterion 2, coverage: the matrix criteria choose the column of the level matrix, the
//!    raise-one criteria (4800) add a level when not met (not at level 4, not without cases);
//! 3. criterion 3, capacity: with a `previous_level`, the level may not be lowered below it unless
//!    capacity is known to be met.
//!
//! The crisis scenario `laichau-2023` is evaluated for every unit whatever the ruleset; it does
//! not change the level. Missing optional inputs leave their criteria "not assessed" (listed in
//! [`Assessment::not_assessed`]); a criterion not assessed never raises the level, so the level is
//! then a lower bound. [`Assessment::unverified`] lists the unverified numbers and rules the result
//! rests on ("cần xác nhận"). [`aggregate`] / [`assess_aggregate`] assess a district or province
//! from its communes' indicators (a phongdich rule, itself listed as unverified).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, ErrorCode};

const LEVELS_JSON: &str = include_str!("../data/epidemic-levels.json");

/// Epidemic level of Resolution 128/NQ-CP; serialised as its number 1–4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Level 1, low risk / new normal (green).
    Low = 1,
    /// Level 2, medium risk (yellow).
    Medium = 2,
    /// Level 3, high risk (orange).
    High = 3,
    /// Level 4, very high risk (red).
    VeryHigh = 4,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Low, Level::Medium, Level::High, Level::VeryHigh];

    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<Level> {
        match n {
            1 => Some(Level::Low),
            2 => Some(Level::Medium),
            3 => Some(Level::High),
            4 => Some(Level::VeryHigh),
            _ => None,
        }
    }

    pub fn name_vi(self) -> &'static str {
        match self {
            Level::Low => "Cấp 1 – Nguy cơ thấp (bình thường mới)",
            Level::Medium => "Cấp 2 – Nguy cơ trung bình",
            Level::High => "Cấp 3 – Nguy cơ cao",
            Level::VeryHigh => "Cấp 4 – Nguy cơ rất cao",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Level::Low => "Level 1 – low risk (new normal)",
            Level::Medium => "Level 2 – medium risk",
            Level::High => "Level 3 – high risk",
            Level::VeryHigh => "Level 4 – very high risk",
        }
    }

    /// `green`, `yellow`, `orange` or `red`.
    pub fn colour(self) -> &'static str {
        match self {
            Level::Low => "green",
            Level::Medium => "yellow",
            Level::High => "orange",
            Level::VeryHigh => "red",
        }
    }

    pub fn colour_vi(self) -> &'static str {
        match self {
            Level::Low => "xanh",
            Level::Medium => "vàng",
            Level::High => "cam",
            Level::VeryHigh => "đỏ",
        }
    }

    /// One level higher, 4 at most.
    pub fn raised(self) -> Level {
        Level::from_number(self.number() + 1).unwrap_or(Level::VeryHigh)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.number())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        let n = u8::deserialize(d)?;
        Level::from_number(n)
            .ok_or_else(|| serde::de::Error::custom(format!("epidemic level {n} is not 1–4")))
    }
}

/// Transmission band of criterion 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transmission {
    Low,
    Medium,
    High,
    VeryHigh,
}

impl Transmission {
    pub const ALL: [Transmission; 4] = [
        Transmission::Low,
        Transmission::Medium,
        Transmission::High,
        Transmission::VeryHigh,
    ];

    /// 0 (low) to 3 (very high).
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transmission::Low => "low",
            Transmission::Medium => "medium",
            Transmission::High => "high",
            Transmission::VeryHigh => "very_high",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Transmission::Low => "thấp",
            Transmission::Medium => "trung bình",
            Transmission::High => "cao",
            Transmission::VeryHigh => "rất cao",
        }
    }

    fn next(self) -> Option<Transmission> {
        Transmission::ALL.get(self.index() + 1).copied()
    }
}

/// Comparison of a measured value with a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Cmp {
    pub fn holds(self, x: f64, threshold: f64) -> bool {
        match self {
            Cmp::Lt => x < threshold,
            Cmp::Le => x <= threshold,
            Cmp::Gt => x > threshold,
            Cmp::Ge => x >= threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "≤",
            Cmp::Gt => ">",
            Cmp::Ge => "≥",
        }
    }
}

/// A number of a ruleset with its comparison, and whether it was checked against the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub op: Cmp,
    pub value: f64,
    pub verified: bool,
    /// Where the number comes from (required when not verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Threshold {
    pub fn holds(&self, x: f64) -> bool {
        self.op.holds(x, self.value)
    }

    /// `≥ 20`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.op.symbol(), num(self.value))
    }
}

/// A rule (not a number) of a ruleset, and whether it was checked against the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleFlag {
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A measured quantity, computed from [`Indicators`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Indicator {
    /// New community cases in the week per 100,000.
    #[serde(rename = "cases_per_100k_week")]
    CasesPer100kWeek,
    /// Average number of cases on oxygen over the last 7 days per 100,000.
    #[serde(rename = "oxygen_per_100k")]
    OxygenPer100k,
    /// Deaths in the week per 100,000.
    #[serde(rename = "deaths_per_100k")]
    DeathsPer100k,
    /// Free COVID-19 treatment beds per 100,000.
    #[serde(rename = "free_beds_per_100k")]
    FreeBedsPer100k,
    /// Staffed ICU beds per 100,000.
    #[serde(rename = "icu_per_100k")]
    IcuPer100k,
    /// Share of people aged 18 or more with at least one dose.
    #[serde(rename = "coverage_1dose_18plus")]
    Coverage1Dose18Plus,
    /// Share of people aged 50 or more (65 for 4800 before 11/2021) fully vaccinated.
    #[serde(rename = "coverage_full_50plus")]
    CoverageFull50Plus,
    /// Share of the whole population with a completed primary series.
    #[serde(rename = "coverage_full_total")]
    CoverageFullTotal,
}

impl Indicator {
    pub fn name(self) -> &'static str {
        match self {
            Indicator::CasesPer100kWeek => "cases_per_100k_week",
            Indicator::OxygenPer100k => "oxygen_per_100k",
            Indicator::DeathsPer100k => "deaths_per_100k",
            Indicator::FreeBedsPer100k => "free_beds_per_100k",
            Indicator::IcuPer100k => "icu_per_100k",
            Indicator::Coverage1Dose18Plus => "coverage_1dose_18plus",
            Indicator::CoverageFull50Plus => "coverage_full_50plus",
            Indicator::CoverageFullTotal => "coverage_full_total",
        }
    }

    /// The [`Indicators`] field (input column) it is computed from.
    pub fn input_field(self) -> &'static str {
        match self {
            Indicator::CasesPer100kWeek => "new_cases_week",
            Indicator::OxygenPer100k => "oxygen_cases_7d_avg",
            Indicator::DeathsPer100k => "deaths_week",
            Indicator::FreeBedsPer100k => "free_covid_beds",
            Indicator::IcuPer100k => "icu_beds_staffed",
            Indicator::Coverage1Dose18Plus => "coverage_1dose_18plus",
            Indicator::CoverageFull50Plus => "coverage_full_50plus",
            Indicator::CoverageFullTotal => "coverage_full_total",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Indicator::CasesPer100kWeek => "ca mắc mới trong tuần/100.000 dân",
            Indicator::OxygenPer100k => "ca thở oxy (trung bình 7 ngày)/100.000 dân",
            Indicator::DeathsPer100k => "ca tử vong trong tuần/100.000 dân",
            Indicator::FreeBedsPer100k => "giường điều trị COVID-19 còn trống/100.000 dân",
            Indicator::IcuPer100k => "giường hồi sức tích cực có nhân lực/100.000 dân",
            Indicator::Coverage1Dose18Plus => "tỷ lệ người từ 18 tuổi tiêm ít nhất 1 liều",
            Indicator::CoverageFull50Plus => "tỷ lệ người từ 50 tuổi tiêm đủ liều cơ bản",
            Indicator::CoverageFullTotal => "tỷ lệ dân số tiêm đủ liều cơ bản",
        }
    }

    pub fn is_coverage(self) -> bool {
        matches!(
            self,
            Indicator::Coverage1Dose18Plus
                | Indicator::CoverageFull50Plus
                | Indicator::CoverageFullTotal
        )
    }

    /// The value for a unit (`None` when its input is missing).
    pub fn of(self, i: &Indicators) -> Option<f64> {
        let per_100k = |x: f64| x * 100_000.0 / i.population;
        match self {
            Indicator::CasesPer100kWeek => Some(per_100k(i.new_cases_week)),
            Indicator::OxygenPer100k => i.oxygen_cases_7d_avg.map(per_100k),
            Indicator::DeathsPer100k => i.deaths_week.map(per_100k),
            Indicator::FreeBedsPer100k => i.free_covid_beds.map(per_100k),
            Indicator::IcuPer100k => i.icu_beds_staffed.map(per_100k),
            Indicator::Coverage1Dose18Plus => i.coverage_1dose_18plus,
            Indicator::CoverageFull50Plus => i.coverage_full_50plus,
            Indicator::CoverageFullTotal => i.coverage_full_total,
        }
    }

    /// A value for messages: coverage as a percentage, rates as numbers.
    fn show(self, x: f64) -> String {
        if self.is_coverage() {
            format!("{}%", num(x * 100.0))
        } else {
            num(x)
        }
    }
}

/// A number for messages: at most 4 decimals, no trailing zeros.
fn num(x: f64) -> String {
    let r = (x * 10_000.0).round() / 10_000.0;
    if r == 0.0 { "0".into() } else { format!("{r}") }
}

/// Legal citation of a ruleset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    /// Document number (`4800/QĐ-BYT`); `None` when not known.
    pub number: Option<String>,
    /// Date of the document; `None` when not known.
    pub date: Option<NaiveDate>,
    pub issuer: String,
    pub title: String,
}

impl Citation {
    /// `Quyết định 4800/QĐ-BYT ngày 12/10/2021 — Bộ Y tế (Ministry of Health)`, or the title when
    /// the number is not known.
    pub fn text(&self) -> String {
        let mut s = match &self.number {
            Some(n) => n.clone(),
            None => self.title.clone(),
        };
        if let Some(d) = self.date {
            s.push_str(&format!(" ({})", d.format("%d/%m/%Y")));
        }
        s.push_str(&format!(" — {}", self.issuer));
        s
    }
}

/// Lower edges of the transmission bands of one indicator (low below `medium`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bands {
    pub medium: Threshold,
    pub high: Threshold,
    /// Required for the first indicator (new cases); absent for the others, which never make
    /// transmission very high.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub very_high: Option<Threshold>,
}

impl Bands {
    /// The lower edge of a band (`None` for low, or a band the indicator does not have).
    pub fn edge(&self, band: Transmission) -> Option<&Threshold> {
        match band {
            Transmission::Low => None,
            Transmission::Medium => Some(&self.medium),
            Transmission::High => Some(&self.high),
            Transmission::VeryHigh => self.very_high.as_ref(),
        }
    }

    /// The band of a value, and the edges that decided it (its own lower edge and the next one).
    pub fn band(&self, x: f64) -> (Transmission, Vec<(Transmission, &Threshold)>) {
        let mut band = Transmission::Low;
        for b in &Transmission::ALL[1..] {
            match self.edge(*b) {
                Some(t) if t.holds(x) => band = *b,
                _ => break,
            }
        }
        let decided = [Some(band), band.next()]
            .into_iter()
            .flatten()
            .filter_map(|b| self.edge(b).map(|t| (b, t)))
            .collect();
        (band, decided)
    }

    fn distrust(&mut self) {
        for t in [&mut self.medium, &mut self.high]
            .into_iter()
            .chain(self.very_high.as_mut())
        {
            t.verified = false;
        }
    }
}

/// One indicator of criterion 1 with its bands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransmissionIndicator {
    pub indicator: Indicator,
    pub bands: Bands,
}

/// Criterion 1: new cases first; any further indicator (oxygen, deaths) raises the band of new
/// cases by one when it reaches a higher band, never to very high.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransmissionCriterion {
    pub indicators: Vec<TransmissionIndicator>,
    /// How the further indicators combine with new cases (present when there are any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combination: Option<RuleFlag>,
}

impl TransmissionCriterion {
    fn distrust(&mut self) {
        for t in &mut self.indicators {
            t.bands.distrust();
        }
        if let Some(c) = &mut self.combination {
            c.verified = false;
        }
    }
}

/// What a coverage criterion does when not met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageRole {
    /// Chooses the column of the level matrix (all matrix criteria met, or not).
    Matrix,
    /// Raises the level by one ([`RaiseOneRule`]).
    RaiseOne,
}

/// An age group used before a date (4800: people aged 65 or more until 11/2021).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlierAgeGroup {
    pub age_from: u32,
    /// First day of the current age group.
    pub until: NaiveDate,
    /// Latest day the change may have happened on (dates from `until` to this rest on the
    /// assumed day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_latest: Option<NaiveDate>,
    /// Whether the day of the change is verified.
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn default_true() -> bool {
    true
}

/// Criterion 2: one coverage condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageCriterion {
    pub code: String,
    pub indicator: Indicator,
    /// Youngest age of the group whose coverage is measured (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_from: Option<u32>,
    pub role: CoverageRole,
    pub threshold: Threshold,
    /// Whether the input indicator is the one the text names (218's high-risk groups are
    /// measured by people aged 50 or more).
    #[serde(default = "default_true")]
    pub indicator_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator_note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier_age_group: Option<EarlierAgeGroup>,
}

/// Level by transmission band (low, medium, high, very high), with coverage met or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelMatrix {
    pub coverage_met: [Level; 4],
    pub coverage_not_met: [Level; 4],
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Raise one level when a raise-one coverage criterion is not met (never above 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaiseOneRule {
    /// No raise when there is no new case in the week.
    pub except_no_cases: bool,
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One capacity condition (e.g. free beds per 100,000 ≥ 20).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub indicator: Indicator,
    #[serde(flatten)]
    pub threshold: Threshold,
}

/// Criterion 3: capacity is met when every condition holds; while not met the level may not be
/// lowered below the previous one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityCriterion {
    pub conditions: Vec<Condition>,
    pub no_lowering: RuleFlag,
}

impl CapacityCriterion {
    fn distrust(&mut self) {
        for c in &mut self.conditions {
            c.threshold.verified = false;
        }
        self.no_lowering.verified = false;
    }
}

/// A province's replacement of sections of a ruleset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvincialOverride {
    /// Province code (2 digits).
    pub province: String,
    pub citation: Citation,
    /// Whether the override was checked against the provincial text; when not, every number it
    /// replaces counts as unverified.
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_to: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmission: Option<TransmissionCriterion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Vec<CoverageCriterion>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<LevelMatrix>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raise_one: Option<RaiseOneRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityCriterion>,
}

impl ProvincialOverride {
    fn in_force(&self, date: NaiveDate) -> bool {
        self.effective_from.is_none_or(|f| f <= date) && self.effective_to.is_none_or(|t| date <= t)
    }
}

/// An epidemic-level ruleset. As returned by [`ruleset`] / [`ruleset_for_date`] it is resolved:
/// `province` names the override applied, `as_of` the date the age groups were chosen for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ruleset {
    pub id: String,
    pub title: String,
    pub citation: Citation,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
    pub dates_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub transmission: TransmissionCriterion,
    pub coverage: Vec<CoverageCriterion>,
    pub matrix: LevelMatrix,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raise_one: Option<RaiseOneRule>,
    pub capacity: CapacityCriterion,
    #[serde(default)]
    pub overrides: Vec<ProvincialOverride>,
    /// The province whose override was applied.
    #[serde(default, skip_deserializing)]
    pub province: Option<String>,
    /// The override's citation.
    #[serde(default, skip_deserializing)]
    pub override_citation: Option<Citation>,
    /// The date the ruleset was resolved for (`None`: its latest age groups).
    #[serde(default, skip_deserializing)]
    pub as_of: Option<NaiveDate>,
    /// Unverified choices made while resolving (override, day of an age-group change).
    #[serde(default, skip_deserializing)]
    pub resolution_unverified: Vec<String>,
}

impl Ruleset {
    /// Whether the ruleset is in force on `date`.
    pub fn in_force(&self, date: NaiveDate) -> bool {
        self.effective_from <= date && self.effective_to.is_none_or(|t| date <= t)
    }

    /// The id, with `@province` when an override is applied (prefix of `unverified` entries).
    pub fn label(&self) -> String {
        match &self.province {
            Some(p) => format!("{}@{p}", self.id),
            None => self.id.clone(),
        }
    }

    fn apply(&mut self, o: &ProvincialOverride) {
        let trusted = o.verified;
        if let Some(t) = &o.transmission {
            self.transmission = t.clone();
            if !trusted {
                self.transmission.distrust();
            }
        }
        if let Some(c) = &o.coverage {
            self.coverage = c.clone();
            if !trusted {
                for c in &mut self.coverage {
                    c.threshold.verified = false;
                }
            }
        }
        if let Some(m) = &o.matrix {
            self.matrix = m.clone();
            self.matrix.verified &= trusted;
        }
        if let Some(r) = &o.raise_one {
            self.raise_one = Some(r.clone());
            if let Some(r) = &mut self.raise_one {
                r.verified &= trusted;
            }
        }
        if let Some(c) = &o.capacity {
            self.capacity = c.clone();
            if !trusted {
                self.capacity.distrust();
            }
        }
        self.province = Some(o.province.clone());
        self.override_citation = Some(o.citation.clone());
        if !trusted {
            self.resolution_unverified.push(format!(
                "{}.override ({})",
                self.label(),
                o.citation.text()
            ));
        }
    }

    /// Chooses each coverage criterion's age group for `date`.
    fn resolve_age_groups(&mut self, date: NaiveDate) {
        let label = self.label();
        for c in &mut self.coverage {
            let Some(e) = &c.earlier_age_group else {
                continue;
            };
            if date < e.until {
                c.age_from = Some(e.age_from);
            } else if !e.verified && e.until_latest.is_some_and(|l| date <= l) {
                self.resolution_unverified.push(format!(
                    "{label}.coverage.{}.age_change_date ({})",
                    c.code,
                    e.until.format("%d/%m/%Y")
                ));
            }
        }
    }

    /// Checks the ruleset's own sections (not its overrides).
    fn validate_sections(&self) -> Result<(), String> {
        let here = |e: String| format!("{}: {e}", self.label());
        let ids = &self.transmission.indicators;
        let Some(first) = ids.first() else {
            return Err(here("criterion 1 has no indicator".into()));
        };
        if first.indicator != Indicator::CasesPer100kWeek {
            return Err(here(
                "criterion 1 must start with cases_per_100k_week".into(),
            ));
        }
        if first.bands.very_high.is_none() {
            return Err(here("the new-cases bands need a very_high edge".into()));
        }
        let mut seen = BTreeSet::new();
        for (i, t) in ids.iter().enumerate() {
            let path = format!("transmission.{}", t.indicator.name());
            if t.indicator.is_coverage() || !seen.insert(t.indicator) {
                return Err(here(format!("{path}: not a rate, or listed twice")));
            }
            if i > 0 && t.bands.very_high.is_some() {
                return Err(here(format!(
                    "{path}: only new cases make transmission very high"
                )));
            }
            let mut last: Option<f64> = None;
            for b in &Transmission::ALL[1..] {
                if let Some(e) = t.bands.edge(*b) {
                    check_threshold(&format!("{path}.{}", b.as_str()), e, false).map_err(here)?;
                    if !matches!(e.op, Cmp::Ge | Cmp::Gt) {
                        return Err(here(format!(
                            "{path}: band edges are lower bounds (> or >=)"
                        )));
                    }
                    if last.is_some_and(|l| e.value <= l) {
                        return Err(here(format!("{path}: band edges must ascend")));
                    }
                    last = Some(e.value);
                }
            }
        }
        match (&self.transmission.combination, ids.len() > 1) {
            (Some(c), true) => check_flag("transmission.combination", c).map_err(here)?,
            (None, false) => {}
            _ => {
                return Err(here(
                    "a combination rule is needed exactly when criterion 1 has several indicators"
                        .into(),
                ));
            }
        }
        let mut codes = BTreeSet::new();
        for c in &self.coverage {
            let path = format!("coverage.{}", c.code);
            if c.code.trim().is_empty() || !codes.insert(c.code.as_str()) {
                return Err(here(format!("{path}: empty or repeated code")));
            }
            if !c.indicator.is_coverage() {
                return Err(here(format!("{path}: not a coverage indicator")));
            }
            check_threshold(&path, &c.threshold, true).map_err(here)?;
            if !c.indicator_verified && c.indicator_note.as_deref().is_none_or(str::is_empty) {
                return Err(here(format!(
                    "{path}: an unverified indicator needs a note"
                )));
            }
            if let Some(e) = &c.earlier_age_group {
                if e.until_latest.is_some_and(|l| l < e.until) {
                    return Err(here(format!("{path}: until_latest before until")));
                }
                if !e.verified && e.note.as_deref().is_none_or(str::is_empty) {
                    return Err(here(format!("{path}: an unverified change needs a note")));
                }
            }
        }
        let m = &self.matrix;
        check_flag(
            "matrix",
            &RuleFlag {
                verified: m.verified,
                note: m.note.clone(),
            },
        )
        .map_err(here)?;
        for col in [&m.coverage_met, &m.coverage_not_met] {
            if col.windows(2).any(|w| w[1] < w[0]) {
                return Err(here(
                    "matrix: levels must not fall as transmission rises".into(),
                ));
            }
        }
        if m.coverage_met
            .iter()
            .zip(&m.coverage_not_met)
            .any(|(a, b)| b < a)
        {
            return Err(here(
                "matrix: coverage not met must not give a lower level".into(),
            ));
        }
        let raises = self
            .coverage
            .iter()
            .any(|c| c.role == CoverageRole::RaiseOne);
        match &self.raise_one {
            Some(r) => check_flag(
                "raise_one",
                &RuleFlag {
                    verified: r.verified,
                    note: r.note.clone(),
                },
            )
            .map_err(here)?,
            None if raises => {
                return Err(here(
                    "a raise_one criterion without a raise_one rule".into(),
                ));
            }
            None => {}
        }
        if self.capacity.conditions.is_empty() {
            return Err(here("capacity has no condition".into()));
        }
        for c in &self.capacity.conditions {
            let path = format!("capacity.{}", c.indicator.name());
            if c.indicator.is_coverage() {
                return Err(here(format!("{path}: not a capacity indicator")));
            }
            check_threshold(&path, &c.threshold, false).map_err(here)?;
        }
        check_flag("capacity.no_lowering", &self.capacity.no_lowering).map_err(here)?;
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() || self.title.trim().is_empty() {
            return Err("a ruleset without id or title".into());
        }
        if self.effective_to.is_some_and(|t| t < self.effective_from) {
            return Err(format!("{}: effective_to before effective_from", self.id));
        }
        check_citation(&self.citation).map_err(|e| format!("{}: {e}", self.id))?;
        self.validate_sections()?;
        let mut provinces = Vec::new();
        for o in &self.overrides {
            let here = |e: &str| format!("{}@{}: {e}", self.id, o.province);
            if o.province.len() != 2 || !o.province.bytes().all(|b| b.is_ascii_digit()) {
                return Err(here("province code must be 2 digits"));
            }
            check_citation(&o.citation).map_err(|e| here(&e))?;
            if !o.verified && o.note.as_deref().is_none_or(str::is_empty) {
                return Err(here("an unverified override needs a note"));
            }
            let from = o.effective_from.unwrap_or(self.effective_from);
            if from < self.effective_from
                || o.effective_to.is_some_and(|t| t < from)
                || matches!((o.effective_to, self.effective_to), (Some(a), Some(b)) if a > b)
            {
                return Err(here("override dates outside the ruleset's"));
            }
            if provinces.contains(&(&o.province, from)) {
                return Err(here("two overrides from the same date"));
            }
            provinces.push((&o.province, from));
            // The sections as the override states them (an unverified override makes its numbers
            // unverified on use; its own note covers that).
            let mut resolved = self.clone();
            resolved.apply(&ProvincialOverride {
                verified: true,
                ..o.clone()
            });
            resolved.validate_sections()?;
        }
        Ok(())
    }
}

fn check_flag(path: &str, f: &RuleFlag) -> Result<(), String> {
    if !f.verified && f.note.as_deref().is_none_or(str::is_empty) {
        return Err(format!("{path}: an unverified rule needs a note"));
    }
    Ok(())
}

fn check_threshold(path: &str, t: &Threshold, fraction: bool) -> Result<(), String> {
    if !t.value.is_finite() || t.value < 0.0 || (fraction && t.value > 1.0) {
        return Err(format!(
            "{path}: threshold {} out of range{}",
            t.value,
            if fraction { " (0–1)" } else { "" }
        ));
    }
    check_flag(
        path,
        &RuleFlag {
            verified: t.verified,
            note: t.note.clone(),
        },
    )
    .map_err(|_| format!("{path}: an unverified number needs a note"))
}

fn check_citation(c: &Citation) -> Result<(), String> {
    if c.issuer.trim().is_empty() || c.title.trim().is_empty() {
        return Err("a citation needs an issuer and a title".into());
    }
    Ok(())
}

/// How the crisis conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Any one condition raises the crisis.
    Any,
    /// All conditions must hold.
    All,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrisisCombination {
    pub rule: Combine,
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A crisis scenario: the health system is overwhelmed when its conditions hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrisisScenario {
    pub id: String,
    pub title: String,
    pub citation: Citation,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
    pub dates_verified: bool,
    /// Administrative level the thresholds are stated for (`province`).
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub conditions: Vec<Condition>,
    pub combination: CrisisCombination,
}

impl CrisisScenario {
    fn validate(&self) -> Result<(), String> {
        let here = |e: String| format!("{}: {e}", self.id);
        if self.id.trim().is_empty() || self.conditions.is_empty() {
            return Err("a crisis scenario needs an id and conditions".into());
        }
        check_citation(&self.citation).map_err(here)?;
        if self.effective_to.is_some_and(|t| t < self.effective_from) {
            return Err(here("effective_to before effective_from".into()));
        }
        let mut seen = BTreeSet::new();
        for c in &self.conditions {
            let path = format!("conditions.{}", c.indicator.name());
            if !seen.insert(c.indicator) {
                return Err(here(format!("{path}: listed twice")));
            }
            check_threshold(&path, &c.threshold, c.indicator.is_coverage()).map_err(here)?;
        }
        check_flag(
            "combination",
            &RuleFlag {
                verified: self.combination.verified,
                note: self.combination.note.clone(),
            },
        )
        .map_err(here)
    }
}

/// Every epidemic-level ruleset (oldest first) and the crisis scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpidemicLevels {
    pub title: String,
    #[serde(default)]
    pub note: Option<String>,
    pub rulesets: Vec<Ruleset>,
    pub crisis_scenario: CrisisScenario,
}

impl EpidemicLevels {
    /// The embedded rulesets (parsed and checked once).
    pub fn embedded() -> &'static EpidemicLevels {
        static LEVELS: OnceLock<EpidemicLevels> = OnceLock::new();
        LEVELS.get_or_init(|| {
            EpidemicLevels::from_json(LEVELS_JSON).expect("embedded epidemic-level rules are valid")
        })
    }

    /// Parses and checks a rules file: bands ascending, matrices monotone, every unverified
    /// number or rule with a note, rulesets in date order without overlap, overrides valid.
    pub fn from_json(text: &str) -> Result<EpidemicLevels, Error> {
        let bad = |detail: String| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!("Tệp quy tắc cấp độ dịch không hợp lệ: {detail}"),
                format!("Invalid epidemic-level rules file: {detail}"),
            )
        };
        let mut levels: EpidemicLevels =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if levels.rulesets.is_empty() {
            return Err(bad("no ruleset".into()));
        }
        levels.rulesets.sort_by_key(|r| r.effective_from);
        let mut ids = BTreeSet::new();
        for r in &levels.rulesets {
            r.validate().map_err(bad)?;
            if !ids.insert(r.id.as_str()) || r.id == levels.crisis_scenario.id {
                return Err(bad(format!("{}: id used twice", r.id)));
            }
        }
        for w in levels.rulesets.windows(2) {
            if w[0].effective_to.is_none_or(|t| t >= w[1].effective_from) {
                return Err(bad(format!("{} and {} overlap", w[0].id, w[1].id)));
            }
        }
        levels.crisis_scenario.validate().map_err(bad)?;
        Ok(levels)
    }

    /// The ruleset ids, oldest first.
    pub fn ids(&self) -> Vec<&str> {
        self.rulesets.iter().map(|r| r.id.as_str()).collect()
    }

    /// The ruleset with this id, resolved for a date (age groups; `None`: the latest) and a
    /// province (its override in force on that date, or its latest one). An unknown id is an
    /// error listing the known ones.
    pub fn resolve(
        &self,
        id: &str,
        as_of: Option<NaiveDate>,
        province: Option<&str>,
    ) -> Result<Ruleset, Error> {
        let want = id.trim();
        let Some(base) = self.rulesets.iter().find(|r| r.id == want) else {
            let ids = self.ids().join(", ");
            let (crisis_vi, crisis_en) = if want == self.crisis_scenario.id {
                (
                    "; đây là kịch bản khủng hoảng, luôn được đánh giá",
                    "; it is the crisis scenario, always evaluated",
                )
            } else {
                ("", "")
            };
            return Err(Error::invalid(
                "ruleset",
                format!(
                    "Bộ quy tắc cấp độ dịch «{want}» không có (chọn một trong: {ids}){crisis_vi}"
                ),
                format!("unknown epidemic-level ruleset «{want}» (one of: {ids}){crisis_en}"),
            ));
        };
        let mut r = base.clone();
        if let Some(p) = province.map(str::trim).filter(|p| !p.is_empty()) {
            let o = base
                .overrides
                .iter()
                .filter(|o| o.province == p && as_of.is_none_or(|d| o.in_force(d)))
                .max_by_key(|o| o.effective_from.unwrap_or(base.effective_from));
            if let Some(o) = o {
                r.apply(o);
            }
        }
        if let Some(d) = as_of {
            r.as_of = Some(d);
            r.resolve_age_groups(d);
        }
        Ok(r)
    }

    /// The ruleset with this id (latest age groups, no override).
    pub fn ruleset(&self, id: &str) -> Result<Ruleset, Error> {
        self.resolve(id, None, None)
    }

    /// The ruleset in force on `date`, with `province`'s override applied when it has one.
    pub fn ruleset_for_date(
        &self,
        date: NaiveDate,
        province: Option<&str>,
    ) -> Result<Ruleset, Error> {
        let Some(r) = self.rulesets.iter().rev().find(|r| r.in_force(date)) else {
            let first = &self.rulesets[0];
            let d = date.format("%d/%m/%Y");
            let f = first.effective_from.format("%d/%m/%Y");
            return Err(Error::invalid(
                "date",
                format!(
                    "Không có bộ quy tắc cấp độ dịch nào có hiệu lực ngày {d} (sớm nhất: {} từ {f})",
                    first.id
                ),
                format!(
                    "no epidemic-level ruleset in force on {d} (first: {} from {f})",
                    first.id
                ),
            ));
        };
        self.resolve(&r.id, Some(date), province)
    }
}

/// The embedded rulesets, oldest first.
pub fn rulesets() -> &'static [Ruleset] {
    &EpidemicLevels::embedded().rulesets
}

/// An embedded ruleset by id (latest age groups, no override).
pub fn ruleset(id: &str) -> Result<Ruleset, Error> {
    EpidemicLevels::embedded().ruleset(id)
}

/// The embedded ruleset in force on `date`, with `province`'s override applied.
pub fn ruleset_for_date(date: NaiveDate, province: Option<&str>) -> Result<Ruleset, Error> {
    EpidemicLevels::embedded().ruleset_for_date(date, province)
}

/// The embedded crisis scenario (`laichau-2023`).
pub fn crisis_scenario() -> &'static CrisisScenario {
    &EpidemicLevels::embedded().crisis_scenario
}

/// A unit's indicators for one week. Counts may be fractional (what-if scenarios); coverage is a
/// fraction 0–1. Deserialises from JSON with these field names; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicators {
    /// Any label: a unit code or a scenario name.
    pub unit_code: String,
    pub population: f64,
    /// New community cases in the week.
    pub new_cases_week: f64,
    /// Average number of cases on oxygen over the last 7 days.
    #[serde(default)]
    pub oxygen_cases_7d_avg: Option<f64>,
    #[serde(default)]
    pub deaths_week: Option<f64>,
    #[serde(default)]
    pub free_covid_beds: Option<f64>,
    #[serde(default)]
    pub icu_beds_staffed: Option<f64>,
    /// People aged 18 or more with at least one dose, as a share of that group.
    #[serde(default)]
    pub coverage_1dose_18plus: Option<f64>,
    /// People aged 50 or more with a completed primary series (for 4800 before 11/2021: 65 or
    /// more), as a share of that group.
    #[serde(default)]
    pub coverage_full_50plus: Option<f64>,
    /// The whole population with a completed primary series (218's 75% criterion).
    #[serde(default)]
    pub coverage_full_total: Option<f64>,
    /// Last week's level, for the capacity rule (may not be lowered while capacity is not met).
    #[serde(default)]
    pub previous_level: Option<Level>,
}

impl Indicators {
    /// A unit with only the required inputs.
    pub fn new(unit_code: impl Into<String>, population: f64, new_cases_week: f64) -> Indicators {
        Indicators {
            unit_code: unit_code.into(),
            population,
            new_cases_week,
            oxygen_cases_7d_avg: None,
            deaths_week: None,
            free_covid_beds: None,
            icu_beds_staffed: None,
            coverage_1dose_18plus: None,
            coverage_full_50plus: None,
            coverage_full_total: None,
            previous_level: None,
        }
    }

    /// Checks every value: a non-empty label, a positive population, counts finite, not negative
    /// and (cases, oxygen, deaths) not above the population, coverage within 0–1. The error's
    /// `details.field` names the field.
    pub fn validate(&self) -> Result<(), Error> {
        let unit = self.unit_code.trim();
        let invalid = |field: &str, vi: String, en: String| {
            Error::invalid(field, vi, en).with_details(serde_json::json!({
                "field": field,
                "unit_code": unit,
            }))
        };
        if unit.is_empty() {
            return Err(invalid(
                "unit_code",
                "Thiếu mã (nhãn) đơn vị".into(),
                "missing unit code (label)".into(),
            ));
        }
        if !(self.population.is_finite() && self.population > 0.0) {
            return Err(invalid(
                "population",
                format!("Dân số phải là số dương, nhận được {}", self.population),
                format!(
                    "population must be a positive number, got {}",
                    self.population
                ),
            ));
        }
        let counts = [
            ("new_cases_week", Some(self.new_cases_week), true),
            ("oxygen_cases_7d_avg", self.oxygen_cases_7d_avg, true),
            ("deaths_week", self.deaths_week, true),
            ("free_covid_beds", self.free_covid_beds, false),
            ("icu_beds_staffed", self.icu_beds_staffed, false),
        ];
        for (field, value, within_population) in counts {
            let Some(x) = value else { continue };
            if !(x.is_finite() && x >= 0.0) {
                return Err(invalid(
                    field,
                    format!("{field} phải là số không âm, nhận được {x}"),
                    format!("{field} must be a number ≥ 0, got {x}"),
                ));
            }
            if within_population && x > self.population {
                return Err(invalid(
                    field,
                    format!("{field} = {x} lớn hơn dân số {}", self.population),
                    format!("{field} = {x} exceeds the population {}", self.population),
                ));
            }
        }
        let coverage = [
            ("coverage_1dose_18plus", self.coverage_1dose_18plus),
            ("coverage_full_50plus", self.coverage_full_50plus),
            ("coverage_full_total", self.coverage_full_total),
        ];
        for (field, value) in coverage {
            let Some(x) = value else { continue };
            if !(x.is_finite() && (0.0..=1.0).contains(&x)) {
                return Err(invalid(
                    field,
                    format!("{field} là tỷ lệ từ 0 đến 1 (ví dụ 0.72), nhận được {x}"),
                    format!("{field} is a fraction from 0 to 1 (e.g. 0.72), got {x}"),
                ));
            }
        }
        Ok(())
    }
}

/// One coverage criterion as assessed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageResult {
    pub code: String,
    pub indicator: Indicator,
    pub age_from: Option<u32>,
    pub role: CoverageRole,
    /// `None`: not assessed (input missing).
    pub value: Option<f64>,
    pub op: Cmp,
    pub threshold: f64,
    pub met: Option<bool>,
}

/// The criteria behind a level (rates per 100,000; `None`: input missing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criteria {
    pub cases_per_100k_week: f64,
    /// Criterion 1 as used for the level.
    pub transmission: Transmission,
    /// The band of new cases alone.
    pub transmission_cases: Transmission,
    pub oxygen_per_100k: Option<f64>,
    pub deaths_per_100k: Option<f64>,
    pub free_beds_per_100k: Option<f64>,
    pub icu_per_100k: Option<f64>,
    pub coverage: Vec<CoverageResult>,
    /// All matrix coverage criteria met (`None`: some not assessed and none failed).
    pub coverage_met: Option<bool>,
    /// All raise-one coverage criteria met (`None` when the ruleset has none or not assessed).
    pub coverage_raise_met: Option<bool>,
    /// Every capacity condition met (`None`: some not assessed and none failed).
    pub capacity_ok: Option<bool>,
    pub previous_level: Option<Level>,
}

/// The level of one unit, how it was reached, the crisis check, and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub unit_code: String,
    pub level: Level,
    pub level_name_vi: String,
    pub level_name_en: String,
    /// `green`, `yellow`, `orange`, `red`.
    pub colour: String,
    /// The ruleset id.
    pub ruleset: String,
    /// The province whose override was applied.
    pub province_override: Option<String>,
    pub criteria: Criteria,
    /// How the level was reached (Vietnamese).
    pub steps: Vec<String>,
    /// Criteria not assessed for want of input, as `criterion: input_field`.
    pub not_assessed: Vec<String>,
    /// Whether the crisis scenario's conditions hold (the level is not changed by it).
    pub crisis: bool,
    pub crisis_scenario: String,
    /// Each crisis condition met, as `indicator: value op threshold (label)`.
    pub crisis_reasons: Vec<String>,
    /// Unverified numbers and rules the result rests on, as `ruleset.path (op value)`.
    pub unverified: Vec<String>,
}

/// An ordered list without repeats.
#[derive(Default)]
struct Unique(Vec<String>);

impl Unique {
    fn push(&mut self, s: String) {
        if !self.0.contains(&s) {
            self.0.push(s);
        }
    }

    fn threshold(&mut self, path: String, t: &Threshold) {
        if !t.verified {
            self.push(format!("{path} ({})", t.describe()));
        }
    }
}

/// Three-valued AND: false if any is false, else unknown if any is unknown.
fn all_met(values: impl IntoIterator<Item = Option<bool>>) -> Option<bool> {
    let mut result = Some(true);
    for v in values {
        match v {
            Some(false) => return Some(false),
            None => result = None,
            Some(true) => {}
        }
    }
    result
}

/// Assesses one unit with a ruleset and the embedded crisis scenario. Pure; the input is
/// validated first ([`Indicators::validate`]).
pub fn assess(ruleset: &Ruleset, indicators: &Indicators) -> Result<Assessment, Error> {
    assess_with(ruleset, crisis_scenario(), indicators)
}

/// [`assess`] with another crisis scenario.
pub fn assess_with(
    rs: &Ruleset,
    crisis: &CrisisScenario,
    ind: &Indicators,
) -> Result<Assessment, Error> {
    ind.validate()?;
    let label = rs.label();
    let mut unverified = Unique::default();
    for u in &rs.resolution_unverified {
        unverified.push(u.clone());
    }
    let mut not_assessed = Unique::default();
    let mut steps = Vec::new();
    let missing = |what: String, i: Indicator| format!("{what}: {}", i.input_field());

    // Criterion 1: the band of new cases, raised by one by a further indicator's higher band.
    let cases = Indicator::CasesPer100kWeek.of(ind).unwrap_or(0.0);
    let primary = &rs.transmission.indicators[0];
    let (cases_band, edges) = primary.bands.band(cases);
    for (b, t) in edges {
        unverified.threshold(
            format!("{label}.transmission.cases_per_100k_week.{}", b.as_str()),
            t,
        );
    }
    steps.push(format!(
        "Tiêu chí 1: {} ca mới/100.000 dân/tuần → mức lây nhiễm {}",
        num(cases),
        cases_band.label_vi()
    ));
    let mut transmission = cases_band;
    let higher = cases_band.next().filter(|b| *b != Transmission::VeryHigh);
    for t in &rs.transmission.indicators[1..] {
        let what = format!("transmission.{}", t.indicator.name());
        let Some(x) = t.indicator.of(ind) else {
            not_assessed.push(missing(what, t.indicator));
            continue;
        };
        let Some(b) = higher else { continue };
        let Some(edge) = t.bands.edge(b) else {
            continue;
        };
        unverified.threshold(format!("{label}.{what}.{}", b.as_str()), edge);
        if rs
            .transmission
            .combination
            .as_ref()
            .is_some_and(|c| !c.verified)
        {
            unverified.push(format!("{label}.transmission.combination"));
        }
        if edge.holds(x) && transmission < b {
            transmission = b;
            steps.push(format!(
                "{} {} ({}) → nâng mức lây nhiễm lên {}",
                t.indicator.label_vi(),
                num(x),
                edge.describe(),
                b.label_vi()
            ));
        }
    }

    // Criterion 2: coverage.
    let mut coverage = Vec::new();
    for c in &rs.coverage {
        let value = c.indicator.of(ind);
        let path = format!("{label}.coverage.{}", c.code);
        match value {
            None => not_assessed.push(missing(format!("coverage.{}", c.code), c.indicator)),
            Some(_) => {
                unverified.threshold(path.clone(), &c.threshold);
                if !c.indicator_verified {
                    unverified.push(format!("{path}.indicator"));
                }
            }
        }
        coverage.push(CoverageResult {
            code: c.code.clone(),
            indicator: c.indicator,
            age_from: c.age_from,
            role: c.role,
            value,
            op: c.threshold.op,
            threshold: c.threshold.value,
            met: value.map(|v| c.threshold.holds(v)),
        });
    }
    let of_role = |role: CoverageRole| {
        let results: Vec<Option<bool>> = coverage
            .iter()
            .filter(|c| c.role == role)
            .map(|c| c.met)
            .collect();
        (!results.is_empty()).then(|| all_met(results)).flatten()
    };
    let has_matrix_criteria = coverage.iter().any(|c| c.role == CoverageRole::Matrix);
    let coverage_met = of_role(CoverageRole::Matrix);
    let has_raise_criteria = coverage.iter().any(|c| c.role == CoverageRole::RaiseOne);
    let coverage_raise_met = of_role(CoverageRole::RaiseOne);

    let column_met = coverage_met.unwrap_or(true);
    let t = transmission.index();
    let mut level = if column_met {
        rs.matrix.coverage_met[t]
    } else {
        rs.matrix.coverage_not_met[t]
    };
    if !rs.matrix.verified {
        unverified.push(format!("{label}.matrix"));
    }
    steps.push(match coverage_met {
        Some(true) => format!(
            "Tiêu chí 2 đạt: mức lây nhiễm {} → cấp {level}",
            transmission.label_vi()
        ),
        Some(false) => format!(
            "Tiêu chí 2 không đạt: mức lây nhiễm {} → cấp {level}",
            transmission.label_vi()
        ),
        None if has_matrix_criteria => format!(
            "Tiêu chí 2 chưa đánh giá được (thiếu số liệu): cấp {level} theo mức lây nhiễm {}, có thể cao hơn khi có số liệu",
            transmission.label_vi()
        ),
        None => format!(
            "Mức lây nhiễm {} → cấp {level}",
            transmission.label_vi()
        ),
    });
    if let (Some(rule), Some(false)) = (&rs.raise_one, coverage_raise_met) {
        if level == Level::VeryHigh {
            steps.push("Tỷ lệ tiêm chủng nhóm tuổi cao chưa đạt; đã ở cấp 4".into());
        } else {
            if !rule.verified {
                unverified.push(format!("{label}.raise_one"));
            }
            if rule.except_no_cases && ind.new_cases_week == 0.0 {
                steps.push(
                    "Tỷ lệ tiêm chủng nhóm tuổi cao chưa đạt nhưng không có ca mắc mới: không nâng cấp"
                        .into(),
                );
            } else {
                level = level.raised();
                steps.push(format!(
                    "Tỷ lệ tiêm chủng nhóm tuổi cao chưa đạt → nâng một cấp: cấp {level}"
                ));
            }
        }
    } else if has_raise_criteria && coverage_raise_met.is_none() {
        steps.push(
            "Tỷ lệ tiêm chủng nhóm tuổi cao chưa đánh giá được: không nâng cấp (có thể cao hơn khi có số liệu)"
                .into(),
        );
    }

    // Criterion 3: capacity; no lowering below the previous level unless capacity is met.
    let mut capacity_checks = Vec::new();
    for c in &rs.capacity.conditions {
        match c.indicator.of(ind) {
            None => {
                not_assessed.push(missing(
                    format!("capacity.{}", c.indicator.name()),
                    c.indicator,
                ));
                capacity_checks.push(None);
            }
            Some(x) => capacity_checks.push(Some(c.threshold.holds(x))),
        }
    }
    let capacity_ok = all_met(capacity_checks);
    if let Some(previous) = ind.previous_level.filter(|p| level < *p) {
        for c in &rs.capacity.conditions {
            if c.indicator.of(ind).is_some() {
                unverified.threshold(
                    format!("{label}.capacity.{}", c.indicator.name()),
                    &c.threshold,
                );
            }
        }
        if !rs.capacity.no_lowering.verified {
            unverified.push(format!("{label}.capacity.no_lowering"));
        }
        if capacity_ok == Some(true) {
            steps.push(format!(
                "Tiêu chí 3 đạt: được hạ từ cấp {previous} xuống cấp {level}"
            ));
        } else {
            let why = if capacity_ok.is_none() {
                "chưa đánh giá được"
            } else {
                "không đạt"
            };
            steps.push(format!(
                "Tiêu chí 3 {why}: không hạ cấp, giữ cấp {previous} (tính theo tiêu chí 1–2: cấp {level})"
            ));
            level = previous;
        }
    }

    // The crisis scenario, always.
    let mut crisis_reasons = Vec::new();
    let mut assessed = 0;
    for c in &crisis.conditions {
        let Some(x) = c.indicator.of(ind) else {
            not_assessed.push(missing(
                format!("crisis.{}", c.indicator.name()),
                c.indicator,
            ));
            continue;
        };
        assessed += 1;
        unverified.threshold(
            format!("{}.{}", crisis.id, c.indicator.name()),
            &c.threshold,
        );
        if c.threshold.holds(x) {
            crisis_reasons.push(format!(
                "{}: {} {} ({})",
                c.indicator.name(),
                c.indicator.show(x),
                c.threshold.describe(),
                c.indicator.label_vi()
            ));
        }
    }
    let met = crisis_reasons.len();
    let n = crisis.conditions.len();
    let is_crisis = match crisis.combination.rule {
        Combine::Any => met > 0,
        Combine::All => met == n,
    };
    // The verdict depends on the combination rule when some, not all, conditions hold (or, for
    // `all`, could still hold).
    let depends = match crisis.combination.rule {
        Combine::Any => met > 0 && met < n,
        Combine::All => met > 0 && assessed == n && met < n,
    };
    if depends && !crisis.combination.verified {
        unverified.push(format!(
            "{}.combination ({})",
            crisis.id,
            match crisis.combination.rule {
                Combine::Any => "any",
                Combine::All => "all",
            }
        ));
    }

    Ok(Assessment {
        unit_code: ind.unit_code.trim().to_string(),
        level,
        level_name_vi: level.name_vi().into(),
        level_name_en: level.name_en().into(),
        colour: level.colour().into(),
        ruleset: rs.id.clone(),
        province_override: rs.province.clone(),
        criteria: Criteria {
            cases_per_100k_week: cases,
            transmission,
            transmission_cases: cases_band,
            oxygen_per_100k: Indicator::OxygenPer100k.of(ind),
            deaths_per_100k: Indicator::DeathsPer100k.of(ind),
            free_beds_per_100k: Indicator::FreeBedsPer100k.of(ind),
            icu_per_100k: Indicator::IcuPer100k.of(ind),
            coverage,
            coverage_met,
            coverage_raise_met,
            capacity_ok,
            previous_level: ind.previous_level,
        },
        steps,
        not_assessed: not_assessed.0,
        crisis: is_crisis,
        crisis_scenario: crisis.id.clone(),
        crisis_reasons,
        unverified: unverified.0,
    })
}

/// The `unverified` entry of [`assess_aggregate`].
pub const AGGREGATION_UNVERIFIED: &str = "aggregation (phongdich rule: counts and populations summed, coverage weighted by total population)";

/// Indicators of a higher unit (district, province) from its parts (communes): counts and
/// populations summed, coverage weighted by population (total population: the age groups'
/// sizes are not in the input, so this is exact only when the parts' age structures are
/// alike). An optional value missing in any part is missing in the sum. The previous level is
/// not carried. Each part is validated; no part is an error.
pub fn aggregate(unit_code: &str, parts: &[Indicators]) -> Result<Indicators, Error> {
    if parts.is_empty() {
        return Err(Error::invalid(
            "parts",
            format!("Không có đơn vị con nào để tổng hợp cho {unit_code}"),
            format!("no unit to aggregate into {unit_code}"),
        ));
    }
    for p in parts {
        p.validate()?;
    }
    let population: f64 = parts.iter().map(|p| p.population).sum();
    let sum = |f: fn(&Indicators) -> Option<f64>| -> Option<f64> {
        parts.iter().map(f).sum::<Option<f64>>()
    };
    let weighted = |f: fn(&Indicators) -> Option<f64>| -> Option<f64> {
        parts
            .iter()
            .map(|p| f(p).map(|c| c * p.population))
            .sum::<Option<f64>>()
            .map(|s| (s / population).clamp(0.0, 1.0))
    };
    let total = Indicators {
        unit_code: unit_code.to_string(),
        population,
        new_cases_week: parts.iter().map(|p| p.new_cases_week).sum(),
        oxygen_cases_7d_avg: sum(|p| p.oxygen_cases_7d_avg),
        deaths_week: sum(|p| p.deaths_week),
        free_covid_beds: sum(|p| p.free_covid_beds),
        icu_beds_staffed: sum(|p| p.icu_beds_staffed),
        coverage_1dose_18plus: weighted(|p| p.coverage_1dose_18plus),
        coverage_full_50plus: weighted(|p| p.coverage_full_50plus),
        coverage_full_total: weighted(|p| p.coverage_full_total),
        previous_level: None,
    };
    total.validate()?;
    Ok(total)
}

/// Assesses a higher unit from its parts ([`aggregate`]); its `unverified` list names the
/// aggregation rule (DOMAIN.md §9: 218's aggregation rule is not verified).
pub fn assess_aggregate(
    ruleset: &Ruleset,
    unit_code: &str,
    parts: &[Indicators],
    previous_level: Option<Level>,
) -> Result<Assessment, Error> {
    let mut total = aggregate(unit_code, parts)?;
    total.previous_level = previous_level;
    let mut a = assess(ruleset, &total)?;
    a.unverified.push(AGGREGATION_UNVERIFIED.to_string());
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r4800() -> Ruleset {
        ruleset("qd-4800-2021").unwrap()
    }

    fn r218() -> Ruleset {
        ruleset("qd-218-2022").unwrap()
    }

    /// A unit of 100,000 people with `cases` new cases (rate = cases), coverage met under both
    /// rulesets, capacity fine, no crisis.
    fn unit(cases: f64) -> Indicators {
        Indicators {
            oxygen_cases_7d_avg: Some(0.0),
            deaths_week: Some(0.0),
            free_covid_beds: Some(100.0),
            icu_beds_staffed: Some(10.0),
            coverage_1dose_18plus: Some(0.95),
            coverage_full_50plus: Some(0.95),
            coverage_full_total: Some(0.85),
            ..Indicators::new("X", 100_000.0, cases)
        }
    }

    fn with(cases: f64, f: impl FnOnce(&mut Indicators)) -> Indicators {
        let mut i = unit(cases);
        f(&mut i);
        i
    }

    fn level(rs: &Ruleset, i: &Indicators) -> u8 {
        assess(rs, i).unwrap().level.number()
    }

    #[test]
    fn all_rulesets_load_and_are_consistent() {
        let l = EpidemicLevels::embedded();
        assert_eq!(l.ids(), ["qd-4800-2021", "qd-218-2022"]);
        for w in l.rulesets.windows(2) {
            assert!(w[0].effective_to.unwrap() < w[1].effective_from);
        }
        let r = r4800();
        assert_eq!(r.citation.number.as_deref(), Some("4800/QĐ-BYT"));
        assert_eq!(
            r.effective_from,
            NaiveDate::from_ymd_opt(2021, 10, 12).unwrap()
        );
        assert_eq!(r.effective_to, NaiveDate::from_ymd_opt(2022, 1, 26));
        let r = r218();
        assert_eq!(r.citation.date, NaiveDate::from_ymd_opt(2022, 1, 27));
        assert_eq!(r.effective_to, None);
        for r in rulesets() {
            for t in &r.transmission.indicators {
                let edges: Vec<f64> = Transmission::ALL[1..]
                    .iter()
                    .filter_map(|b| t.bands.edge(*b).map(|e| e.value))
                    .collect();
                assert!(edges.windows(2).all(|w| w[0] < w[1]), "{}", r.id);
            }
        }
        let c = crisis_scenario();
        assert_eq!(c.id, "laichau-2023");
        assert_eq!(c.combination.rule, Combine::Any);
        assert!(!c.combination.verified);
        assert!(c.conditions.iter().all(|c| c.threshold.verified));
        // The verified numbers are flagged so, and the unverified ones are not.
        let cases = &r4800().transmission.indicators[0].bands;
        assert!(cases.medium.verified && cases.high.verified);
        assert!(cases.very_high.as_ref().unwrap().verified);
        assert!(!r4800().matrix.verified && !r4800().raise_one.unwrap().verified);
        assert!(r4800().capacity.no_lowering.verified);
        let cases = &r218().transmission.indicators[0].bands;
        assert!(!cases.medium.verified && !cases.high.verified);
        let vh = cases.very_high.as_ref().unwrap();
        assert!(vh.verified && vh.op == Cmp::Gt && vh.value == 600.0);
        assert!(r218().coverage.iter().all(|c| c.threshold.verified));
        assert!(!r218().matrix.verified && !r218().capacity.no_lowering.verified);
    }

    #[test]
    fn inconsistent_files_are_refused() {
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value = serde_json::from_str(LEVELS_JSON).unwrap();
            f(&mut v);
            EpidemicLevels::from_json(&v.to_string())
        };
        assert!(edit(&|_| {}).is_ok());
        let e = edit(&|v| {
            v["rulesets"][0]["transmission"]["indicators"][0]["bands"]["high"]["value"] = 10.into()
        })
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert!(e.message_en.contains("ascend"), "{e}");
        let e = edit(&|v| v["rulesets"][0]["effective_to"] = "2022-02-01".into()).unwrap_err();
        assert!(e.message_en.contains("overlap"), "{e}");
        let e = edit(&|v| v["rulesets"][1]["effective_to"] = "2022-01-01".into()).unwrap_err();
        assert!(e.message_en.contains("before"), "{e}");
        let e = edit(&|v| {
            v["rulesets"][1]["matrix"]["note"] = serde_json::Value::Null;
        })
        .unwrap_err();
        assert!(e.message_en.contains("needs a note"), "{e}");
        let e = edit(&|v| v["rulesets"][0]["matrix"]["coverage_met"][3] = 2.into()).unwrap_err();
        assert!(e.message_en.contains("matrix"), "{e}");
        let e = edit(&|v| v["rulesets"][0]["matrix"]["coverage_met"][3] = 5.into()).unwrap_err();
        assert!(e.message_en.contains("1–4"), "{e}");
    }

    #[test]
    fn decision_4800_verified_band_edges() {
        let r = r4800();
        for (cases, band, lvl) in [
            (0.0, Transmission::Low, 1),
            (19.99, Transmission::Low, 1),
            (20.0, Transmission::Medium, 2),
            (49.99, Transmission::Medium, 2),
            (50.0, Transmission::High, 3),
            (149.99, Transmission::High, 3),
            (150.0, Transmission::VeryHigh, 4),
        ] {
            let a = assess(&r, &unit(cases)).unwrap();
            assert_eq!(a.criteria.transmission, band, "{cases}");
            assert_eq!(a.level.number(), lvl, "{cases}");
            assert_eq!(a.ruleset, "qd-4800-2021");
            // Verified bands: only the matrix is unverified here.
            assert_eq!(a.unverified, ["qd-4800-2021.matrix"], "{cases}");
        }
        // Per 100,000: 7 cases in 35,000 people is exactly 20.
        let a = assess(&r, &Indicators::new("c", 35_000.0, 7.0)).unwrap();
        assert_eq!(a.criteria.cases_per_100k_week, 20.0);
        assert_eq!(a.criteria.transmission, Transmission::Medium);
    }

    #[test]
    fn decision_4800_coverage_matrix_and_raise_rule() {
        let r = r4800();
        // One-dose coverage below 70% takes the other column: one level higher, 4 at most.
        let low_adults = |cases| with(cases, |i| i.coverage_1dose_18plus = Some(0.6999));
        assert_eq!(level(&r, &low_adults(10.0)), 2);
        assert_eq!(level(&r, &low_adults(60.0)), 4);
        assert_eq!(level(&r, &low_adults(200.0)), 4);
        let a = assess(&r, &with(10.0, |i| i.coverage_1dose_18plus = Some(0.70))).unwrap();
        assert_eq!(
            a.criteria.coverage_met,
            Some(true),
            "exactly 70% is reached"
        );
        assert_eq!(a.level, Level::Low);

        // The ≥ 50 full coverage not met raises one level (unverified rule)…
        let old = |cases| with(cases, |i| i.coverage_full_50plus = Some(0.79));
        let a = assess(&r, &old(30.0)).unwrap();
        assert_eq!(a.criteria.coverage_raise_met, Some(false));
        assert_eq!(a.level, Level::High);
        assert!(a.unverified.contains(&"qd-4800-2021.raise_one".to_string()));
        assert_eq!(
            level(&r, &with(30.0, |i| i.coverage_full_50plus = Some(0.80))),
            2
        );
        // … not with no case, not beyond 4.
        let a = assess(&r, &old(0.0)).unwrap();
        assert_eq!(a.level, Level::Low);
        assert!(
            a.steps.iter().any(|s| s.contains("không có ca")),
            "{:?}",
            a.steps
        );
        assert_eq!(level(&r, &old(150.0)), 4);
        // Both criteria fail: the matrix column and the raise.
        let both = with(30.0, |i| {
            i.coverage_1dose_18plus = Some(0.5);
            i.coverage_full_50plus = Some(0.5)
        });
        assert_eq!(level(&r, &both), 4);
    }

    #[test]
    fn decision_218_very_high_needs_more_than_600() {
        let r = r218();
        let a = assess(&r, &unit(600.0)).unwrap();
        assert_eq!(a.criteria.transmission, Transmission::High);
        assert_eq!(a.level, Level::High);
        let a = assess(&r, &unit(600.01)).unwrap();
        assert_eq!(a.criteria.transmission, Transmission::VeryHigh);
        assert_eq!(a.level, Level::VeryHigh);
        // Both rest on the verified edge; 600 also on the unverified high edge.
        assert!(
            a.unverified
                .iter()
                .all(|u| !u.contains("cases_per_100k_week")),
            "{:?}",
            a.unverified
        );
        let a = assess(&r, &unit(600.0)).unwrap();
        assert!(
            a.unverified
                .contains(&"qd-218-2022.transmission.cases_per_100k_week.high (> 200)".to_string())
        );
        // Interpolated lower bands.
        assert_eq!(
            assess(&r, &unit(80.0)).unwrap().criteria.transmission,
            Transmission::Low
        );
        assert_eq!(
            assess(&r, &unit(80.01)).unwrap().criteria.transmission,
            Transmission::Medium
        );
        assert_eq!(
            assess(&r, &unit(200.01)).unwrap().criteria.transmission,
            Transmission::High
        );
    }

    #[test]
    fn decision_218_oxygen_and_deaths_raise_one_band_never_to_very_high() {
        let r = r218();
        // Low cases, oxygen in the high band: raised one band only.
        let a = assess(&r, &with(10.0, |i| i.oxygen_cases_7d_avg = Some(20.0))).unwrap();
        assert_eq!(a.criteria.transmission_cases, Transmission::Low);
        assert_eq!(a.criteria.transmission, Transmission::Medium);
        assert!(
            a.unverified
                .contains(&"qd-218-2022.transmission.combination".to_string())
        );
        let a = assess(&r, &with(100.0, |i| i.deaths_week = Some(1.5))).unwrap();
        assert_eq!(a.criteria.transmission, Transmission::High);
        // High cases: never very high without more than 600 cases.
        let a = assess(
            &r,
            &with(300.0, |i| {
                i.oxygen_cases_7d_avg = Some(40.0);
                i.deaths_week = Some(5.0)
            }),
        )
        .unwrap();
        assert_eq!(a.criteria.transmission, Transmission::High);
        // Missing oxygen and deaths: criterion 1 from cases alone, reported.
        let mut i = Indicators::new("y", 100_000.0, 10.0);
        i.coverage_full_total = Some(0.8);
        i.coverage_full_50plus = Some(0.95);
        let a = assess(&r, &i).unwrap();
        assert_eq!(a.level, Level::Low);
        assert!(
            a.not_assessed
                .contains(&"transmission.oxygen_per_100k: oxygen_cases_7d_avg".to_string())
        );
        assert!(
            a.not_assessed
                .contains(&"transmission.deaths_per_100k: deaths_week".to_string())
        );
    }

    #[test]
    fn decision_218_coverage() {
        let r = r218();
        assert_eq!(level(&r, &unit(100.0)), 2);
        let a = assess(&r, &with(100.0, |i| i.coverage_full_total = Some(0.7499))).unwrap();
        assert_eq!(a.criteria.coverage_met, Some(false));
        assert_eq!(a.level, Level::High);
        assert_eq!(
            level(&r, &with(100.0, |i| i.coverage_full_total = Some(0.75))),
            2
        );
        let a = assess(&r, &with(100.0, |i| i.coverage_full_50plus = Some(0.89))).unwrap();
        assert_eq!(a.level, Level::High);
        assert!(
            a.unverified
                .contains(&"qd-218-2022.coverage.full_high_risk.indicator".to_string())
        );
        // Coverage unknown: the level rests on transmission (a lower bound), reported.
        let a = assess(&r, &with(100.0, |i| i.coverage_full_total = None)).unwrap();
        assert_eq!(a.criteria.coverage_met, None);
        assert_eq!(a.level, Level::Medium);
        assert_eq!(a.not_assessed, ["coverage.full_total: coverage_full_total"]);
        // A known failure decides even when the other criterion is unknown.
        let a = assess(
            &r,
            &with(100.0, |i| {
                i.coverage_full_total = None;
                i.coverage_full_50plus = Some(0.5)
            }),
        )
        .unwrap();
        assert_eq!(a.criteria.coverage_met, Some(false));
        assert_eq!(a.level, Level::High);
    }

    #[test]
    fn capacity_not_met_does_not_lower_the_level() {
        for r in [r4800(), r218()] {
            let prev = |cases, beds: Option<f64>| {
                with(cases, |i| {
                    i.previous_level = Some(Level::High);
                    i.free_covid_beds = beds
                })
            };
            // Capacity met: lowered to what criteria 1–2 give.
            let a = assess(&r, &prev(10.0, Some(100.0))).unwrap();
            assert_eq!(a.criteria.capacity_ok, Some(true));
            assert_eq!(a.level, Level::Low, "{}", r.id);
            // Not met (free beds 15 per 100,000 < 20): kept at 3.
            let a = assess(&r, &prev(10.0, Some(15.0))).unwrap();
            assert_eq!(a.criteria.capacity_ok, Some(false));
            assert_eq!(a.level, Level::High, "{}", r.id);
            assert!(
                a.unverified
                    .iter()
                    .any(|u| u.ends_with("capacity.free_beds_per_100k (≥ 20)"))
            );
            // Not assessed: not lowered either.
            let a = assess(&r, &prev(10.0, None)).unwrap();
            assert_eq!(a.criteria.capacity_ok, None);
            assert_eq!(a.level, Level::High, "{}", r.id);
            // Raising is never held back.
            assert_eq!(level(&r, &prev(1000.0, Some(15.0))), 4);
            // Without a previous level the capacity rule has nothing to hold.
            assert_eq!(
                level(&r, &with(10.0, |i| i.free_covid_beds = Some(15.0))),
                1
            );
        }
        let a = assess(
            &r218(),
            &with(10.0, |i| {
                i.previous_level = Some(Level::High);
                i.free_covid_beds = Some(15.0)
            }),
        )
        .unwrap();
        assert!(
            a.unverified
                .contains(&"qd-218-2022.capacity.no_lowering".to_string())
        );
    }

    #[test]
    fn each_crisis_condition_is_a_reason_and_any_one_is_a_crisis() {
        let r = r218();
        let calm = assess(&r, &unit(100.0)).unwrap();
        assert!(!calm.crisis && calm.crisis_reasons.is_empty());
        assert_eq!(calm.crisis_scenario, "laichau-2023");
        type Edit = fn(&mut Indicators);
        let cases: [(&str, Edit, Edit); 4] = [
            (
                "cases_per_100k_week",
                |i| i.new_cases_week = 450.0,
                |i| i.new_cases_week = 449.99,
            ),
            (
                "oxygen_per_100k",
                |i| i.oxygen_cases_7d_avg = Some(32.0),
                |i| i.oxygen_cases_7d_avg = Some(31.99),
            ),
            (
                "free_beds_per_100k",
                |i| i.free_covid_beds = Some(10.0),
                |i| i.free_covid_beds = Some(10.01),
            ),
            (
                "icu_per_100k",
                |i| i.icu_beds_staffed = Some(3.99),
                |i| i.icu_beds_staffed = Some(4.0),
            ),
        ];
        for (code, hit, miss) in cases {
            let a = assess(&r, &with(100.0, hit)).unwrap();
            assert!(a.crisis, "{code}");
            assert_eq!(a.crisis_reasons.len(), 1, "{code}: {:?}", a.crisis_reasons);
            assert!(
                a.crisis_reasons[0].starts_with(&format!("{code}: ")),
                "{:?}",
                a.crisis_reasons
            );
            assert!(
                a.unverified
                    .contains(&"laichau-2023.combination (any)".to_string())
            );
            let a = assess(&r, &with(100.0, miss)).unwrap();
            assert!(!a.crisis, "{code}");
        }
        // Whatever the ruleset; all four at once do not rest on the combination rule.
        let all = with(500.0, |i| {
            i.oxygen_cases_7d_avg = Some(40.0);
            i.free_covid_beds = Some(5.0);
            i.icu_beds_staffed = Some(1.0)
        });
        let a = assess(&r4800(), &all).unwrap();
        assert!(a.crisis);
        assert_eq!(a.crisis_reasons.len(), 4);
        assert!(a.unverified.iter().all(|u| !u.starts_with("laichau-2023")));
        assert!(
            a.crisis_reasons[0].contains("500 ≥ 450"),
            "{:?}",
            a.crisis_reasons
        );
        // Missing inputs: those conditions are not assessed.
        let a = assess(&r, &Indicators::new("z", 1000.0, 1.0)).unwrap();
        assert!(!a.crisis);
        assert!(
            a.not_assessed
                .contains(&"crisis.icu_per_100k: icu_beds_staffed".to_string())
        );
    }

    #[test]
    fn ruleset_for_date_and_age_groups() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(
            ruleset_for_date(d(2021, 12, 1), None).unwrap().id,
            "qd-4800-2021"
        );
        assert_eq!(
            ruleset_for_date(d(2022, 1, 26), None).unwrap().id,
            "qd-4800-2021"
        );
        assert_eq!(
            ruleset_for_date(d(2022, 1, 27), None).unwrap().id,
            "qd-218-2022"
        );
        assert_eq!(
            ruleset_for_date(d(2026, 5, 1), None).unwrap().id,
            "qd-218-2022"
        );
        let e = ruleset_for_date(d(2021, 9, 1), None).unwrap_err();
        assert_eq!(e.details["field"], "date");
        // 4800: people aged 65 or more before 11/2021, 50 or more after.
        let age = |date| {
            ruleset_for_date(date, None).unwrap().coverage[1]
                .age_from
                .unwrap()
        };
        assert_eq!(age(d(2021, 10, 20)), 65);
        assert_eq!(age(d(2021, 11, 1)), 50);
        assert_eq!(r4800().coverage[1].age_from, Some(50));
        let r = ruleset_for_date(d(2021, 11, 15), None).unwrap();
        let a = assess(&r, &unit(10.0)).unwrap();
        assert!(
            a.unverified.iter().any(|u| u.contains("age_change_date")),
            "{:?}",
            a.unverified
        );
        let r = ruleset_for_date(d(2021, 12, 15), None).unwrap();
        assert!(r.resolution_unverified.is_empty());
    }

    #[test]
    fn unknown_ruleset_lists_the_known_ids() {
        let e = ruleset("qd-9999").unwrap_err();
        assert_eq!(e.details["field"], "ruleset");
        assert!(e.message_en.contains("qd-4800-2021, qd-218-2022"), "{e}");
        let e = ruleset("laichau-2023").unwrap_err();
        assert!(e.message_en.contains("crisis scenario"), "{e}");
    }

    #[test]
    fn a_provincial_override_replaces_thresholds_for_that_province() {
        let mut v: serde_json::Value = serde_json::from_str(LEVELS_JSON).unwrap();
        v["rulesets"][1]["overrides"] = serde_json::json!([{
            "province": "01",
            "citation": {"number": "1/QĐ-TEST", "date": "2022-02-10", "issuer": "UBND thử", "title": "Thử"},
            "verified": false,
            "note": "test override",
            "effective_from": "2022-02-10",
            "transmission": {"indicators": [{"indicator": "cases_per_100k_week", "bands": {
                "medium": {"op": ">=", "value": 50, "verified": true},
                "high": {"op": ">=", "value": 300, "verified": true},
                "very_high": {"op": ">=", "value": 1000, "verified": true}
            }}]}
        }]);
        let levels = EpidemicLevels::from_json(&v.to_string()).unwrap();
        let d = NaiveDate::from_ymd_opt(2022, 3, 1).unwrap();
        let hanoi = levels.ruleset_for_date(d, Some("01")).unwrap();
        let other = levels.ruleset_for_date(d, Some("79")).unwrap();
        assert_eq!(hanoi.province.as_deref(), Some("01"));
        assert_eq!(hanoi.label(), "qd-218-2022@01");
        assert_eq!(other.province, None);
        let i = unit(700.0);
        let a = assess(&hanoi, &i).unwrap();
        assert_eq!(a.criteria.transmission, Transmission::High);
        assert_eq!(a.province_override.as_deref(), Some("01"));
        // The override is unverified, so are the numbers it replaced.
        assert!(
            a.unverified
                .iter()
                .any(|u| u.starts_with("qd-218-2022@01.override")),
            "{:?}",
            a.unverified
        );
        assert!(a.unverified.iter().any(|u| u.starts_with("qd-218-2022@01.transmission.cases_per_100k_week.very_high")));
        assert_eq!(
            assess(&other, &i).unwrap().criteria.transmission,
            Transmission::VeryHigh
        );
        // Not yet in force before its date.
        let early = levels
            .ruleset_for_date(NaiveDate::from_ymd_opt(2022, 2, 1).unwrap(), Some("01"))
            .unwrap();
        assert_eq!(early.province, None);
        // A malformed override is refused.
        v["rulesets"][1]["overrides"][0]["province"] = "1".into();
        assert!(EpidemicLevels::from_json(&v.to_string()).is_err());
    }

    #[test]
    fn bad_inputs_are_rejected_naming_the_field() {
        let r = r218();
        let field = |i: Indicators| assess(&r, &i).unwrap_err().details["field"].clone();
        assert_eq!(field(Indicators::new("a", 0.0, 1.0)), "population");
        assert_eq!(field(Indicators::new("a", -5.0, 1.0)), "population");
        assert_eq!(field(Indicators::new("a", f64::NAN, 1.0)), "population");
        assert_eq!(field(Indicators::new("a", 1000.0, -1.0)), "new_cases_week");
        assert_eq!(
            field(Indicators::new("a", 1000.0, f64::INFINITY)),
            "new_cases_week"
        );
        assert_eq!(
            field(Indicators::new("a", 1000.0, 2000.0)),
            "new_cases_week"
        );
        assert_eq!(field(Indicators::new(" ", 1000.0, 1.0)), "unit_code");
        assert_eq!(
            field(with(1.0, |i| i.deaths_week = Some(-1.0))),
            "deaths_week"
        );
        assert_eq!(
            field(with(1.0, |i| i.icu_beds_staffed = Some(f64::NAN))),
            "icu_beds_staffed"
        );
        assert_eq!(
            field(with(1.0, |i| i.coverage_1dose_18plus = Some(1.01))),
            "coverage_1dose_18plus"
        );
        assert_eq!(
            field(with(1.0, |i| i.coverage_full_50plus = Some(-0.1))),
            "coverage_full_50plus"
        );
        assert_eq!(
            field(with(1.0, |i| i.coverage_full_total = Some(72.0))),
            "coverage_full_total"
        );
        let e = assess(&r, &Indicators::new("a", 0.0, 1.0)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message_en.contains("population"), "{e}");
        // JSON: unknown fields refused, levels are numbers 1–4.
        assert!(
            serde_json::from_str::<Indicators>(
                r#"{"unit_code":"a","population":1,"new_cases_week":0,"cases":1}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<Indicators>(
                r#"{"unit_code":"a","population":1,"new_cases_week":0,"previous_level":5}"#
            )
            .is_err()
        );
        let i: Indicators = serde_json::from_str(
            r#"{"unit_code":"a","population":1,"new_cases_week":0,"previous_level":3}"#,
        )
        .unwrap();
        assert_eq!(i.previous_level, Some(Level::High));
    }

    #[test]
    fn aggregation_sums_counts_and_weights_coverage() {
        let a = with(10.0, |i| {
            i.unit_code = "a".into();
            i.population = 10_000.0;
            i.coverage_1dose_18plus = Some(0.9)
        });
        let b = with(50.0, |i| {
            i.unit_code = "b".into();
            i.population = 30_000.0;
            i.coverage_1dose_18plus = Some(0.5)
        });
        let t = aggregate("D1", &[a.clone(), b.clone()]).unwrap();
        assert_eq!(t.population, 40_000.0);
        assert_eq!(t.new_cases_week, 60.0);
        assert!((t.coverage_1dose_18plus.unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(t.free_covid_beds, Some(200.0));
        let no_beds = with(0.0, |i| i.free_covid_beds = None);
        assert_eq!(
            aggregate("D1", &[a.clone(), no_beds])
                .unwrap()
                .free_covid_beds,
            None
        );
        let r = r4800();
        let x = assess_aggregate(&r, "D1", &[a, b], None).unwrap();
        assert_eq!(x.unit_code, "D1");
        assert_eq!(x.criteria.cases_per_100k_week, 150.0);
        assert_eq!(x.level, Level::VeryHigh);
        assert!(x.unverified.iter().any(|u| u.starts_with("aggregation")));
        assert!(aggregate("D1", &[]).is_err());
        let bad = Indicators::new("c", 0.0, 0.0);
        assert_eq!(
            aggregate("D1", &[bad]).unwrap_err().details["unit_code"],
            "c"
        );
    }

    #[test]
    fn assessment_json_shape() {
        let a = assess(&r218(), &with(460.0, |i| i.unit_code = "KichBan-A".into())).unwrap();
        let j = serde_json::to_value(&a).unwrap();
        assert_eq!(j["unit_code"], "KichBan-A");
        assert_eq!(j["level"], 3);
        assert_eq!(j["colour"], "orange");
        assert_eq!(j["ruleset"], "qd-218-2022");
        assert_eq!(j["criteria"]["transmission"], "high");
        assert_eq!(j["criteria"]["cases_per_100k_week"], 460.0);
        assert_eq!(j["crisis"], true);
        assert!(
            j["crisis_reasons"][0]
                .as_str()
                .unwrap()
                .starts_with("cases_per_100k_week")
        );
        assert!(j["unverified"].is_array());
        let back: Assessment = serde_json::from_value(j).unwrap();
        assert_eq!(back, a);
        assert_eq!(Level::VeryHigh.colour(), "red");
        assert_eq!(Level::Low.raised(), Level::Medium);
        assert_eq!(Level::VeryHigh.raised(), Level::VeryHigh);
    }
}
