//! A COVID-19 epidemic for a generated population, consistent with its vaccination history: the
//! Omicron wave of early 2022 (all cases closed) and a small outbreak in the 14 days before the
//! load date (open home-care cases with their check-ins, contacts, clusters, a pooled sampling
//! session, and declarations of entrants at the province's border gates).
//!
//! **Omicron wave.** Vietnam's recorded cases peaked in March 2022; a northern mountain province
//! such as Lai Châu recorded roughly 15–25 % of its population. Community infections are drawn
//! on a weekly curve (January to June 2022, peak in the first three weeks of March) with a
//! susceptibility that falls with the person's vaccination status on the day (doses at least 14
//! days old: unvaccinated 1, partial 0.85, primary series 0.65, boosted 0.45), is lower for small
//! children (fewer tested) and the elderly (less mobile), and varies by commune (wards higher);
//! each case's household members are then infected with a secondary attack rate of 45 % times
//! their own susceptibility. Drawing stops at an attack rate of 17–22 % of the persons alive.
//! Severity grows with age, comorbidity and pregnancy and falls with vaccination: most cases are
//! asymptomatic or mild and cared for at home (a few in community isolation, tier 1); moderate
//! cases go to tier 2, severe and critical ones to tier 3; a handful die. Every case recovers
//! (7–14 days when mild) or dies, so all are closed. Tests: the opening positive (mostly rapid
//! antigen after mid-February 2022, RT-PCR before), confirming RT-PCR for hospitalised cases
//! and some others, discharge rapid tests (some still positive on day 7), negative tests of
//! household members, and screening negatives so that weekly positivity rises to about 45 % at
//! the peak and falls to 5 % by June. Test rows stay near half the population in number.
//!
//! **Current outbreak** (`today` − 13 … `today`): three chains in two or three of the most
//! populous communes — a market, a lower-secondary school and a construction site whose index
//! case entered through the province's main border gate when it has one — spreading through
//! households and the place itself, 40–80 cases in all (fewer in small populations). Cases are
//! followed at home with twice-daily check-ins up to the morning of `today`: most normal, a few
//! with warning signs (SpO2 94–95 %, respiratory rate 22), one or two emergencies, several with
//! no check-in for the last 26–44 hours (overdue); some early cases have already recovered.
//! Contacts (F1) are the cases' household members and people of the same place; those infected
//! by a case are contacts that became cases. The construction-site cluster (else the market) is
//! unusual: samples of its cases were referred for sequencing and a variant came back. A
//! sampling session at the school pools samples by five; one pool is positive and broken down.
//! Border gates count entrants daily; each entrant declares with probability 95 % (90 % from
//! other areas), so the declared share hovers around the 95 % target.
//!
//! Record ids are `<lab>-<year>-<number>`, numbered per lab and year in date order, and unique;
//! the results of single samples of the sampling session carry the sample's code instead.
//! Instants are UTC; the province keeps UTC+7. Nothing happens after `today` 08:00 local time
//! (check-ins, results), so a load later that day sees no future event.
//!
//! Determinism: the output depends only on the arguments; one ChaCha8 stream; hash maps serve
//! lookups only.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, Utc};
use domain::case_rules::{CaseRules, VaccinationStatus};
use domain::person::{Person, Sex};
use domain::population::age_on;
use domain::schedule::Rules;
use domain::surveillance::{CareSetting, DetectionSource, Outcome, Severity, TestResult, TestType};
use domain::test_record::TestRow;
use domain::units::AdminUnits;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use uuid::Uuid;

use crate::DemoPopulation;
use crate::sampling::Weighted;
use crate::vaccination::VaccinationHistory;

/// Kind of laboratory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabKind {
    /// Laboratory of the provincial CDC (RT-PCR, sequencing referrals).
    Cdc,
    /// The provincial general hospital.
    ProvincialHospital,
    /// A district health centre (pre-2025 district).
    DistrictCentre,
}

/// A laboratory or sampling site reporting tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLab {
    /// `CDC-<province>`, `BV-<province>`, `TTYT-<pre-2025 district>`.
    pub code: String,
    pub name: String,
    /// 2025 commune it is in.
    pub commune_code: String,
    pub kind: LabKind,
}

/// One test result as the lab sends it, with the person it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoTest {
    pub person_id: Uuid,
    pub row: TestRow,
    /// When the result reached the system.
    pub received_at: DateTime<Utc>,
}

/// What the test rows do not say about a case, keyed by the record id of its opening test.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoCase {
    /// Record id of the positive test that opens the case.
    pub record_id: String,
    pub person_id: Uuid,
    pub first_positive: NaiveDate,
    pub onset: Option<NaiveDate>,
    pub detection_source: DetectionSource,
    pub severity: Severity,
    pub care_setting: CareSetting,
    pub on_oxygen: bool,
    /// Codes of `domain::case_rules` comorbidities.
    pub comorbidities: Vec<String>,
    pub pregnant: bool,
    /// Status on the first positive (doses at least 14 days old).
    pub vaccination: VaccinationStatus,
    pub age_years: u32,
    /// `None`: still open.
    pub outcome: Option<Outcome>,
    pub outcome_date: Option<NaiveDate>,
    /// Part of the current outbreak (else of the 2022 wave).
    pub current: bool,
    /// Index into [`EpidemicHistory::clusters`].
    pub cluster: Option<usize>,
    /// Free-text note of the staff.
    pub note: String,
}

impl DemoCase {
    pub fn is_open(&self) -> bool {
        self.outcome.is_none()
    }
}

/// One check-in of a case cared for at home.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoCheckIn {
    /// Record id of the case's opening test.
    pub record_id: String,
    pub at: DateTime<Utc>,
    /// Entered by the citizen (else by the commune health station).
    pub by_citizen: bool,
    /// `{age_years, resp_rate, spo2, pulse, systolic, diastolic, temp_c, symptoms}` (absent
    /// measurements are `null`), as `domain::home_care::Vitals` reads it.
    pub vitals: serde_json::Value,
}

/// A contact (F1) of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoContact {
    /// Record id of the opening test of the case they were exposed to.
    pub index_record_id: String,
    pub person_id: Uuid,
    /// `household`, `work` or `school`.
    pub relation: String,
    pub last_exposure: NaiveDate,
    /// End of monitoring (last exposure plus the incubation period of the rules in force).
    pub monitor_until: NaiveDate,
    /// `home` (household contacts) or `none` (self-monitoring).
    pub quarantine_place: String,
    /// Record id of the opening test of the case the contact became.
    pub became_case_record_id: Option<String>,
}

/// Genome sequencing of an unusual cluster's samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSequencing {
    pub referred_on: NaiveDate,
    /// The sequencing laboratory.
    pub lab: String,
    /// Record ids of the RT-PCR positive tests whose samples were sent.
    pub record_ids: Vec<String>,
    pub variant: String,
    pub result_on: NaiveDate,
}

/// A cluster (ổ dịch) of the current outbreak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCluster {
    pub name: String,
    pub place: String,
    pub commune_code: String,
    pub opened_on: NaiveDate,
    pub last_case_on: NaiveDate,
    /// Record ids of the opening tests of its cases, in date order.
    pub members: Vec<String>,
    pub unusual: bool,
    pub unusual_reason: String,
    pub sequencing: Option<DemoSequencing>,
}

/// A collected sample; pooled when it has several members.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSample {
    /// Label on the tube.
    pub code: String,
    pub members: Vec<Uuid>,
    /// For a single sample taken from a positive pool: the pool's index in the session.
    pub pool: Option<usize>,
    pub collected_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub resulted_at: DateTime<Utc>,
    pub result: TestResult,
    /// Record id of the test row a single sample's result gave (its own code, as the lab
    /// workflow does); a pool's result is the sample's only.
    pub record_ids: Vec<String>,
}

/// A sample collection session.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSampleSession {
    pub place: String,
    pub commune_code: String,
    pub held_on: NaiveDate,
    pub lab_code: String,
    /// Pools first, then the break-down single samples.
    pub samples: Vec<DemoSample>,
}

/// A border gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoGate {
    pub code: String,
    pub name: String,
    pub commune_code: String,
    /// The gate on the other side.
    pub facing: String,
}

/// A health declaration of an entrant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoDeclaration {
    /// A register person returning home; `None` for foreigners.
    pub person_id: Option<Uuid>,
    pub full_name: String,
    /// Citizen ID or passport number.
    pub document_number: String,
    pub phone: String,
    pub gate_code: String,
    pub entered_on: NaiveDate,
    pub from_area: String,
    pub variant_area: bool,
    /// Destination 2025 commune.
    pub commune_code: String,
    pub followup_until: NaiveDate,
    /// `following`, `completed`, `became_case` or `lost`.
    pub status: String,
    /// Record id of the opening test of the case the entrant became.
    pub case_record_id: Option<String>,
}

/// Entrants counted at a gate on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoBorderCount {
    pub gate_code: String,
    pub day: NaiveDate,
    pub entrants: i64,
    pub from_variant_areas: i64,
}

/// Summary numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpidemicCounts {
    pub wave_cases: usize,
    /// Wave cases over the persons alive at the wave's peak.
    pub wave_attack_rate: f64,
    /// Moderate cases or worse.
    pub wave_hospitalised: usize,
    /// Severe or critical.
    pub wave_severe: usize,
    pub wave_deaths: usize,
    pub tests: usize,
    pub positive_tests: usize,
    pub negative_tests: usize,
    pub current_cases: usize,
    pub current_open: usize,
    pub checkins: usize,
    pub warning_cases: usize,
    pub emergency_cases: usize,
    pub overdue_cases: usize,
    pub contacts: usize,
    pub contacts_became_cases: usize,
    pub clusters: usize,
    pub samples: usize,
    pub declarations: usize,
    pub entrants: i64,
    pub variant_entrants: i64,
    /// Declarations of entrants from variant areas.
    pub variant_declared: i64,
}

/// Everything generated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpidemicHistory {
    pub labs: Vec<DemoLab>,
    /// In sample-date order, then record id.
    pub tests: Vec<DemoTest>,
    /// In first-positive order, then record id.
    pub cases: Vec<DemoCase>,
    /// By case (in the order of `cases`), each case's in time order.
    pub checkins: Vec<DemoCheckIn>,
    pub contacts: Vec<DemoContact>,
    pub clusters: Vec<DemoCluster>,
    pub sample_sessions: Vec<DemoSampleSession>,
    pub gates: Vec<DemoGate>,
    pub declarations: Vec<DemoDeclaration>,
    pub border_counts: Vec<DemoBorderCount>,
    pub counts: EpidemicCounts,
}

/// Random stream of the epidemic, apart from the population's and the doses'.
const STREAM: u64 = 0x6570_6964_656d_6963;

/// Monday of the first week of the wave's curve.
const WAVE_START: (i32, u32, u32) = (2022, 1, 3);

/// Relative community infections per week from [`WAVE_START`].
#[rustfmt::skip]
const WAVE_WEEKS: [f64; 26] = [
    0.3, 0.5, 0.8, 1.2,                 // January
    2.0, 3.5, 6.0, 9.0,                 // February
    12.0, 14.0, 15.0, 13.0, 10.0,       // March
    7.0, 5.0, 3.5, 2.5,                 // April
    1.6, 1.1, 0.8, 0.6, 0.45,           // May
    0.35, 0.3, 0.25, 0.2,               // June
];

/// Target share of positive tests per week (drives the screening negatives).
#[rustfmt::skip]
const POSITIVITY: [f64; 26] = [
    0.12, 0.15, 0.20, 0.25,
    0.30, 0.35, 0.40, 0.42,
    0.45, 0.45, 0.42, 0.38, 0.33,
    0.28, 0.22, 0.18, 0.14,
    0.11, 0.09, 0.08, 0.07, 0.06,
    0.05, 0.05, 0.05, 0.05,
];

/// Recorded attack rate of the wave: uniform in this range.
const ATTACK_RATE: (f64, f64) = (0.17, 0.22);
/// Household secondary attack rate (times the contact's susceptibility).
const HOUSEHOLD_SAR: f64 = 0.45;
/// Test rows of the wave: at most this many per person.
const TESTS_PER_PERSON: f64 = 0.55;
/// Susceptibility bound used for rejection sampling (vaccination 1 × age 1 × commune 1.3 ×
/// ward 1.25).
const W_MAX: f64 = 1.625;

/// Relative risk of a recorded infection by vaccination status.
fn vaccine_susceptibility(status: VaccinationStatus) -> f64 {
    match status {
        VaccinationStatus::Unvaccinated => 1.0,
        VaccinationStatus::Partial => 0.85,
        VaccinationStatus::PrimaryComplete => 0.65,
        VaccinationStatus::Boosted => 0.45,
    }
}

/// Relative risk of a recorded infection by age.
fn age_susceptibility(age: u32) -> f64 {
    match age {
        0..5 => 0.6,
        5..60 => 1.0,
        _ => 0.75,
    }
}

/// Comorbidity codes with weights (hypertension and diabetes dominate).
const COMORBIDITIES: [(&str, f64); 8] = [
    ("hypertension", 40.0),
    ("diabetes", 20.0),
    ("cardiovascular", 12.0),
    ("chronic_lung", 10.0),
    ("asthma", 5.0),
    ("chronic_kidney", 5.0),
    ("obesity", 5.0),
    ("cancer", 3.0),
];

/// Border gates by 2025 province: (code, name, 2025 commune, gate opposite, daily entrants).
type GateRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (i64, i64),
);
const GATES: &[(&str, &[GateRow])] = &[(
    "12",
    &[
        (
            "CK-MLT",
            "Cửa khẩu quốc tế Ma Lù Thàng",
            "03549",
            "Kim Thủy Hà (Vân Nam, Trung Quốc)",
            (25, 45),
        ),
        (
            "CK-UMTK",
            "Cửa khẩu U Ma Tu Khoòng",
            "03439",
            "Bình Hà (Vân Nam, Trung Quốc)",
            (4, 10),
        ),
    ],
)];

/// Areas entrants come from: (name, has a dangerous variant, weight).
const AREAS: [(&str, bool, f64); 3] = [
    ("Hồng Hà, Vân Nam, Trung Quốc", true, 70.0),
    ("Côn Minh, Vân Nam, Trung Quốc", false, 22.0),
    ("Quảng Tây, Trung Quốc", false, 8.0),
];

const CHINESE_SURNAMES: [&str; 10] = [
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou",
];
const CHINESE_GIVEN: [&str; 12] = [
    "Wei", "Fang", "Min", "Jing", "Lei", "Yong", "Jun", "Hua", "Ping", "Qiang", "Xiu", "Tao",
];

/// The sequencing laboratory and the variant that came back.
const SEQUENCING_LAB: &str = "Viện Vệ sinh Dịch tễ Trung ương (NIHE)";
const VARIANT: &str = "Omicron XFG";

fn ymd((y, m, d): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

fn plus(date: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        date.checked_add_days(Days::new(days as u64))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    }
    .unwrap_or(date)
}

/// The instant of `minutes` after local midnight (UTC+7) of `date`.
fn local(date: NaiveDate, minutes: i64) -> DateTime<Utc> {
    domain::vietnam_time::start_of_day(date) + TimeDelta::minutes(minutes)
}

use domain::vietnam_time::local_date;

/// Uniform in [0, 1) from the seed and a text (FNV-1a, then a SplitMix64 finaliser).
fn hash_unit(seed: u64, text: &str) -> f64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed ^ STREAM;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// "Huyện Phong Thổ" → "huyện Phong Thổ".
fn lower_kind(name: &str, kind: &str) -> String {
    match name.strip_prefix(kind) {
        Some(rest) if !kind.is_empty() => format!("{}{rest}", kind.to_lowercase()),
        _ => name.to_string(),
    }
}

/// "Xã Bản Lang" → "Bản Lang".
fn short_name(units: &AdminUnits, code: &str) -> String {
    match units.v2025.get(code) {
        Some(u) => u
            .name
            .strip_prefix(u.kind.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(&u.name)
            .to_string(),
        None => code.to_string(),
    }
}

/// "Xã Bản Lang" → "xã Bản Lang".
fn commune_label(units: &AdminUnits, code: &str) -> String {
    units
        .v2025
        .get(code)
        .map_or_else(|| code.to_string(), |u| lower_kind(&u.name, &u.kind))
}

/// A test to be numbered.
#[derive(Debug, Clone)]
struct TestDraft {
    person: usize,
    lab: usize,
    date: NaiveDate,
    test_type: TestType,
    result: TestResult,
    received_at: DateTime<Utc>,
    /// A record id given by the workflow (a single sample's code), else numbered.
    record_id: Option<String>,
}

/// A case before record ids are known.
#[derive(Debug, Clone)]
struct CaseDraft {
    person: usize,
    opening: usize,
    first_positive: NaiveDate,
    onset: Option<NaiveDate>,
    detection: DetectionSource,
    severity: Severity,
    care: CareSetting,
    on_oxygen: bool,
    comorbidities: Vec<&'static str>,
    pregnant: bool,
    vaccination: VaccinationStatus,
    age: u32,
    outcome: Option<Outcome>,
    outcome_date: Option<NaiveDate>,
    current: bool,
    cluster: Option<usize>,
    note: String,
}

/// How a current case's check-ins end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Course {
    Normal,
    Warning,
    Emergency,
    /// No check-in since the given instant.
    Overdue(DateTime<Utc>),
}

#[derive(Debug, Clone)]
struct ContactDraft {
    index: usize,
    person: usize,
    relation: &'static str,
    last_exposure: NaiveDate,
    became: Option<usize>,
}

#[derive(Debug, Clone)]
struct ClusterDraft {
    name: String,
    place: String,
    commune: String,
    relation: &'static str,
    members: Vec<usize>,
    unusual: bool,
    unusual_reason: String,
    sequencing: Option<(NaiveDate, Vec<usize>, NaiveDate)>,
}

#[derive(Debug, Clone)]
struct SampleDraft {
    code: String,
    members: Vec<usize>,
    pool: Option<usize>,
    collected_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    resulted_at: DateTime<Utc>,
    result: TestResult,
    tests: Vec<usize>,
}

#[derive(Debug, Clone)]
struct SessionDraft {
    place: String,
    commune: String,
    held_on: NaiveDate,
    lab: usize,
    samples: Vec<SampleDraft>,
}

#[derive(Debug, Clone)]
struct DeclarationDraft {
    person: Option<usize>,
    full_name: String,
    document_number: String,
    phone: String,
    gate: usize,
    entered_on: NaiveDate,
    area: usize,
    commune: String,
    status: &'static str,
    case: Option<usize>,
}

/// Labs of the province and how tests choose one.
struct Labs {
    labs: Vec<DemoLab>,
    cdc: usize,
    hospital: usize,
    /// Pre-2025 district code → district health centre.
    districts: HashMap<String, usize>,
}

impl Labs {
    /// The CDC lab and the provincial hospital where the vaccination history put the general
    /// hospital (else in the most populous commune), and a health centre for every district with
    /// a district hospital.
    fn build(
        province: &str,
        main_commune: &str,
        vaccination: &VaccinationHistory,
        units: &AdminUnits,
    ) -> Self {
        let province_label = units
            .v2025
            .get(province)
            .map_or_else(|| province.to_string(), |u| lower_kind(&u.name, &u.kind));
        let hospital_site = vaccination
            .sites
            .iter()
            .find(|s| s.code == format!("BV-{province}"));
        let hospital_commune =
            hospital_site.map_or_else(|| main_commune.to_string(), |s| s.commune_code.clone());
        let mut labs = vec![
            DemoLab {
                code: format!("CDC-{province}"),
                name: format!("Khoa Xét nghiệm, Trung tâm Kiểm soát bệnh tật {province_label}"),
                commune_code: hospital_commune.clone(),
                kind: LabKind::Cdc,
            },
            DemoLab {
                code: format!("BV-{province}"),
                name: hospital_site.map_or_else(
                    || format!("Bệnh viện Đa khoa {province_label}"),
                    |s| s.name.clone(),
                ),
                commune_code: hospital_commune,
                kind: LabKind::ProvincialHospital,
            },
        ];
        let mut districts = HashMap::new();
        for site in &vaccination.sites {
            let Some(district) = site.code.strip_prefix("BV-") else {
                continue;
            };
            let Some(unit) = units.pre2025.get(district) else {
                continue;
            };
            if unit.level != domain::units::UnitLevel::District
                || units.v2025.get(&site.commune_code).is_none()
            {
                continue;
            }
            districts.insert(district.to_string(), labs.len());
            labs.push(DemoLab {
                code: format!("TTYT-{district}"),
                name: format!("Trung tâm Y tế {}", lower_kind(&unit.name, &unit.kind)),
                commune_code: site.commune_code.clone(),
                kind: LabKind::DistrictCentre,
            });
        }
        Labs {
            labs,
            cdc: 0,
            hospital: 1,
            districts,
        }
    }

    fn district_of(&self, p: &Person, units: &AdminUnits) -> Option<usize> {
        let old = p.old_commune_code.as_deref()?;
        let district = units.pre2025.get(old)?.parent_code.as_deref()?;
        self.districts.get(district).copied()
    }

    /// Where a RT-PCR sample is tested.
    fn pcr<R: Rng>(&self, district: Option<usize>, rng: &mut R) -> usize {
        let u = rng.random::<f64>();
        if u < 0.6 {
            self.cdc
        } else if u < 0.9 {
            self.hospital
        } else {
            district.unwrap_or(self.hospital)
        }
    }

    /// Where a rapid antigen test is done.
    fn rapid<R: Rng>(&self, district: Option<usize>, rng: &mut R) -> usize {
        let u = rng.random::<f64>();
        if u < 0.7 {
            district.unwrap_or(self.hospital)
        } else if u < 0.85 {
            self.hospital
        } else {
            self.cdc
        }
    }
}

/// The generator's state.
struct Gen<'a> {
    persons: &'a [Person],
    units: &'a AdminUnits,
    seed: u64,
    today: NaiveDate,
    /// Nothing happens after this instant (`today` 08:00 local).
    limit: DateTime<Utc>,
    rng: ChaCha8Rng,
    labs: Labs,
    /// District health centre of each person.
    district_lab: Vec<Option<usize>>,
    /// Dose dates of each person: range into `dose_dates`.
    dose_range: Vec<(u32, u32)>,
    dose_dates: Vec<NaiveDate>,
    /// Doses in the primary series of each person's first product.
    primary: Vec<u8>,
    /// Household (range into `persons`) of each person.
    household: Vec<(u32, u32)>,
    tests: Vec<TestDraft>,
    cases: Vec<CaseDraft>,
    checkins: Vec<(usize, DateTime<Utc>, bool, serde_json::Value)>,
    contacts: Vec<ContactDraft>,
    clusters: Vec<ClusterDraft>,
    sessions: Vec<SessionDraft>,
    gates: Vec<DemoGate>,
    declarations: Vec<DeclarationDraft>,
    border_counts: Vec<DemoBorderCount>,
    courses: Vec<(usize, Course)>,
    wave_alive: usize,
}

/// The epidemic of `population`, consistent with its `vaccination` history, as known on `today`
/// (see the module documentation).
pub fn epidemic_history(
    population: &DemoPopulation,
    vaccination: &VaccinationHistory,
    units: &AdminUnits,
    seed: u64,
    today: NaiveDate,
) -> EpidemicHistory {
    let persons = population.persons.as_slice();
    if persons.is_empty() {
        return EpidemicHistory::default();
    }
    let mut g = Gen::new(persons, vaccination, units, seed, today);
    g.wave();
    g.current_outbreak();
    g.finish()
}

impl<'a> Gen<'a> {
    fn new(
        persons: &'a [Person],
        vaccination: &VaccinationHistory,
        units: &'a AdminUnits,
        seed: u64,
        today: NaiveDate,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(STREAM);
        let province = persons[0].province_code.clone();
        let by_commune = residents_by_commune(persons);
        let main_commune = by_commune
            .iter()
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
            .map(|(c, _)| c.to_string())
            .unwrap_or_default();
        let labs = Labs::build(&province, &main_commune, vaccination, units);
        let district_lab = persons.iter().map(|p| labs.district_of(p, units)).collect();
        // Doses come grouped by person in the order of `persons`.
        let index: HashMap<Uuid, usize> =
            persons.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
        let rules = Rules::embedded();
        let mut primary_of: HashMap<&str, u8> = HashMap::new();
        let mut dose_range = vec![(0u32, 0u32); persons.len()];
        let mut dose_dates = Vec::with_capacity(vaccination.doses.len());
        let mut primary = vec![2u8; persons.len()];
        for run in vaccination
            .doses
            .chunk_by(|a, b| a.person_id == b.person_id)
        {
            let Some(&i) = index.get(&run[0].person_id) else {
                continue;
            };
            let start = dose_dates.len() as u32;
            let mut dates: Vec<NaiveDate> = run.iter().map(|d| d.date).collect();
            dates.sort_unstable();
            dose_dates.extend(dates);
            dose_range[i] = (start, dose_dates.len() as u32);
            let first = run.iter().min_by_key(|d| d.date).expect("non-empty run");
            primary[i] = *primary_of.entry(first.product.as_str()).or_insert_with(|| {
                rules
                    .product(&first.product)
                    .map_or(2, |r| r.primary_doses.max(1))
            });
        }
        let mut household = vec![(0u32, 0u32); persons.len()];
        let mut start = 0usize;
        for run in persons.chunk_by(|a, b| a.household_id == b.household_id) {
            let range = (start as u32, (start + run.len()) as u32);
            household[start..start + run.len()].fill(range);
            start += run.len();
        }
        let gates = GATES
            .iter()
            .find(|(p, _)| *p == province)
            .map(|(_, rows)| {
                rows.iter()
                    .filter(|g| units.v2025.get(g.2).is_some())
                    .map(|&(code, name, commune, facing, _)| DemoGate {
                        code: code.to_string(),
                        name: name.to_string(),
                        commune_code: commune.to_string(),
                        facing: facing.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Gen {
            persons,
            units,
            seed,
            today,
            limit: local(today, 8 * 60),
            rng,
            labs,
            district_lab,
            dose_range,
            dose_dates,
            primary,
            household,
            tests: Vec::new(),
            cases: Vec::new(),
            checkins: Vec::new(),
            contacts: Vec::new(),
            clusters: Vec::new(),
            sessions: Vec::new(),
            gates,
            declarations: Vec::new(),
            border_counts: Vec::new(),
            courses: Vec::new(),
            wave_alive: 0,
        }
    }

    fn age(&self, i: usize, on: NaiveDate) -> u32 {
        age_on(self.persons[i].dob, on).unwrap_or(0)
    }

    /// Born before `on`.
    fn alive(&self, i: usize, on: NaiveDate) -> bool {
        self.persons[i].dob < on
    }

    /// Vaccination status on a day (doses at least 14 days old).
    fn status(&self, i: usize, on: NaiveDate) -> VaccinationStatus {
        let (s, e) = self.dose_range[i];
        let cutoff = plus(on, -14);
        let n = self.dose_dates[s as usize..e as usize]
            .iter()
            .take_while(|d| **d <= cutoff)
            .count();
        let k = usize::from(self.primary[i]);
        if n == 0 {
            VaccinationStatus::Unvaccinated
        } else if n < k {
            VaccinationStatus::Partial
        } else if n == k {
            VaccinationStatus::PrimaryComplete
        } else {
            VaccinationStatus::Boosted
        }
    }

    fn household_of(&self, i: usize) -> std::ops::Range<usize> {
        let (s, e) = self.household[i];
        s as usize..e as usize
    }

    /// A person of `pool` satisfying `ok`, in at most `tries` draws.
    fn pick_from(
        &mut self,
        pool: &[usize],
        tries: usize,
        ok: impl Fn(&Self, usize) -> bool,
    ) -> Option<usize> {
        for _ in 0..tries {
            let j = pool[self.rng.random_range(0..pool.len())];
            if ok(self, j) {
                return Some(j);
            }
        }
        None
    }

    /// Adds a test; returns its index.
    fn test(
        &mut self,
        person: usize,
        date: NaiveDate,
        test_type: TestType,
        result: TestResult,
    ) -> usize {
        let district = self.district_lab[person];
        let lab = match test_type {
            TestType::RtPcr => self.labs.pcr(district, &mut self.rng),
            _ => self.labs.rapid(district, &mut self.rng),
        };
        self.test_at(person, lab, date, test_type, result)
    }

    fn test_at(
        &mut self,
        person: usize,
        lab: usize,
        date: NaiveDate,
        test_type: TestType,
        result: TestResult,
    ) -> usize {
        let sampled = self.rng.random_range(7 * 60..16 * 60);
        let turnaround = match test_type {
            TestType::RtPcr => self.rng.random_range(8 * 60..30 * 60),
            _ => self.rng.random_range(20..120),
        };
        let mut received_at = local(date, sampled + turnaround);
        if received_at > self.limit {
            received_at = self.limit - TimeDelta::minutes(self.rng.random_range(0..90));
        }
        self.tests.push(TestDraft {
            person,
            lab,
            date,
            test_type,
            result,
            received_at,
            record_id: None,
        });
        self.tests.len() - 1
    }

    fn comorbidities(&mut self, age: u32) -> Vec<&'static str> {
        let p = match age {
            0..18 => 0.01,
            18..50 => 0.06,
            50..65 => 0.25,
            _ => 0.45,
        };
        let mut out = Vec::new();
        if !self.rng.random_bool(p) {
            return out;
        }
        let table = Weighted::from_table(&COMORBIDITIES);
        let n = if age >= 50 && self.rng.random_bool(0.3) {
            2
        } else {
            1
        };
        for _ in 0..n {
            let c = table.sample(&mut self.rng);
            if !out.contains(&c) {
                out.push(c);
            }
        }
        if age < 18 {
            out = vec!["asthma"];
        }
        out
    }

    fn pregnant(&mut self, i: usize, age: u32) -> bool {
        self.persons[i].sex == Sex::Female && (18..=42).contains(&age) && self.rng.random_bool(0.04)
    }

    // ---------------------------------------------------------------------------------------
    // The 2022 Omicron wave.

    fn wave(&mut self) {
        let start = ymd(WAVE_START);
        let last = plus(start, 7 * WAVE_WEEKS.len() as i64 - 1).min(plus(self.today, -15));
        if last < start {
            return;
        }
        let n = self.persons.len();
        let peak = ymd((2022, 3, 1));
        self.wave_alive = (0..n).filter(|&i| self.alive(i, peak)).count();
        let all: f64 = WAVE_WEEKS.iter().sum();
        let days: Vec<(NaiveDate, f64)> = (0..)
            .map(|d| plus(start, d))
            .take_while(|d| *d <= last)
            .map(|d| (d, WAVE_WEEKS[((d - start).num_days() / 7) as usize] / 7.0))
            .collect();
        let share: f64 = days.iter().map(|d| d.1).sum::<f64>() / all;
        let Some(curve) = Weighted::new(days) else {
            return;
        };
        let attack = self.rng.random_range(ATTACK_RATE.0..ATTACK_RATE.1);
        let target = (self.wave_alive as f64 * attack * share).round() as usize;
        // Commune factor (wards higher).
        let mut commune_factor: HashMap<&str, f64> = HashMap::new();
        for p in self.persons {
            commune_factor
                .entry(p.commune_code.as_str())
                .or_insert_with(|| {
                    let ward = self
                        .units
                        .v2025
                        .get(&p.commune_code)
                        .is_some_and(|u| u.kind == "Phường");
                    (0.7 + 0.6 * hash_unit(self.seed, &p.commune_code))
                        * if ward { 1.25 } else { 1.0 }
                });
        }
        let mut infected: Vec<Option<NaiveDate>> = vec![None; n];
        let mut cases: Vec<(usize, NaiveDate, bool)> = Vec::with_capacity(target + 16);
        let mut attempts = 0usize;
        let max_attempts = 100 * target + 1000;
        while cases.len() < target && attempts < max_attempts {
            attempts += 1;
            let i = self.rng.random_range(0..n);
            let date = curve.sample(&mut self.rng);
            if infected[i].is_some() || !self.alive(i, date) {
                continue;
            }
            let w = vaccine_susceptibility(self.status(i, date))
                * age_susceptibility(self.age(i, date))
                * commune_factor[self.persons[i].commune_code.as_str()];
            if !self.rng.random_bool((w / W_MAX).min(1.0)) {
                continue;
            }
            infected[i] = Some(date);
            cases.push((i, date, false));
            for j in self.household_of(i) {
                if infected[j].is_some() {
                    continue;
                }
                let d = plus(date, self.rng.random_range(2..=5));
                if d > last || !self.alive(j, d) {
                    continue;
                }
                let p = HOUSEHOLD_SAR
                    * vaccine_susceptibility(self.status(j, d))
                    * age_susceptibility(self.age(j, d));
                if self.rng.random_bool(p.min(1.0)) {
                    infected[j] = Some(d);
                    cases.push((j, d, true));
                }
            }
        }
        // Cases, their tests.
        let mut other_negatives = vec![0usize; WAVE_WEEKS.len()];
        for &(i, date, secondary) in &cases {
            self.wave_case(i, date, secondary, last, &mut other_negatives);
        }
        // Household members tested negative (once per household, after its first case).
        let mut first_in_household: BTreeMap<u32, NaiveDate> = BTreeMap::new();
        for &(i, date, _) in &cases {
            let h = self.household[i].0;
            let e = first_in_household.entry(h).or_insert(date);
            *e = (*e).min(date);
        }
        for (&h, &date) in &first_in_household {
            let members = self.household[h as usize];
            #[allow(clippy::needless_range_loop)] // `j` indexes several per-person arrays
            for j in members.0 as usize..members.1 as usize {
                if infected[j].is_some() || !self.rng.random_bool(0.5) {
                    continue;
                }
                let d = plus(date, self.rng.random_range(1..=3));
                if d > last || !self.alive(j, d) {
                    continue;
                }
                let t = if self.rng.random_bool(0.8) {
                    TestType::RapidAntigen
                } else {
                    TestType::RtPcr
                };
                self.test(j, d, t, TestResult::Negative);
                other_negatives[week_of(start, d)] += 1;
            }
        }
        // Screening negatives for the weekly positivity.
        let mut positives = vec![0usize; WAVE_WEEKS.len()];
        for t in &self.tests {
            if t.result == TestResult::Positive {
                positives[week_of(start, t.date)] += 1;
            }
        }
        let needed: Vec<f64> = (0..WAVE_WEEKS.len())
            .map(|w| {
                let p = POSITIVITY[w];
                (positives[w] as f64 * (1.0 - p) / p - other_negatives[w] as f64).max(0.0)
            })
            .collect();
        let wanted: f64 = needed.iter().sum();
        let budget = (TESTS_PER_PERSON * n as f64 - self.tests.len() as f64).max(0.0);
        let scale = if wanted > budget {
            budget / wanted
        } else {
            1.0
        };
        for (w, need) in needed.iter().enumerate() {
            let k = (need * scale).round() as usize;
            for _ in 0..k {
                let d = plus(start, 7 * w as i64 + self.rng.random_range(0..7));
                if d > last {
                    continue;
                }
                // Someone not infected around then.
                for _ in 0..20 {
                    let j = self.rng.random_range(0..n);
                    let free = infected[j].is_none_or(|inf| plus(d, 3) < inf);
                    if free && self.alive(j, d) {
                        let t = if self.rng.random_bool(0.5) {
                            TestType::RapidAntigen
                        } else {
                            TestType::RtPcr
                        };
                        self.test(j, d, t, TestResult::Negative);
                        break;
                    }
                }
            }
        }
    }

    /// One wave case: clinical course, outcome, tests.
    fn wave_case(
        &mut self,
        i: usize,
        date: NaiveDate,
        secondary: bool,
        last: NaiveDate,
        other_negatives: &mut [usize],
    ) {
        let start = ymd(WAVE_START);
        let age = self.age(i, date);
        let vaccination = self.status(i, date);
        let comorbidities = self.comorbidities(age);
        let pregnant = self.pregnant(i, age);
        let severity = self.severity(age, vaccination, !comorbidities.is_empty(), pregnant);
        let care = match severity {
            Severity::Asymptomatic | Severity::Mild => {
                if self.rng.random_bool(0.07) {
                    CareSetting::Tier1
                } else {
                    CareSetting::Home
                }
            }
            Severity::Moderate => CareSetting::Tier2,
            _ => CareSetting::Tier3,
        };
        let on_oxygen =
            severity.is_severe() || (severity == Severity::Moderate && self.rng.random_bool(0.4));
        let death = match severity {
            Severity::Critical => {
                if age >= 65 {
                    0.5
                } else {
                    0.3
                }
            }
            Severity::Severe => {
                if age >= 65 {
                    0.1
                } else {
                    0.03
                }
            }
            _ => 0.0,
        };
        let (outcome, days) = if death > 0.0 && self.rng.random_bool(death) {
            (Outcome::Died, self.rng.random_range(4..=21))
        } else {
            let days = match severity {
                Severity::Asymptomatic => self.rng.random_range(7..=10),
                Severity::Mild => self.rng.random_range(7..=14),
                Severity::Moderate => self.rng.random_range(10..=18),
                Severity::Severe => self.rng.random_range(14..=28),
                Severity::Critical => self.rng.random_range(18..=35),
            };
            (Outcome::Recovered, days)
        };
        let outcome_date = plus(date, days);
        let onset =
            (severity != Severity::Asymptomatic).then(|| plus(date, -self.rng.random_range(0..=2)));
        let detection = if !secondary && self.rng.random_bool(0.005) {
            DetectionSource::Imported
        } else if secondary && self.rng.random_bool(0.15) {
            DetectionSource::Quarantine
        } else {
            DetectionSource::Community
        };
        // Opening test: RT-PCR before rapid tests were accepted as confirmation (mid-February
        // 2022), mostly rapid antigen after, but RT-PCR for most hospitalised cases.
        let hospitalised = matches!(care, CareSetting::Tier2 | CareSetting::Tier3);
        let p_pcr = if date < ymd((2022, 2, 15)) {
            0.55
        } else if hospitalised {
            0.5
        } else {
            0.15
        };
        let opening_type = if self.rng.random_bool(p_pcr) {
            TestType::RtPcr
        } else {
            TestType::RapidAntigen
        };
        let opening = self.test(i, date, opening_type, TestResult::Positive);
        // Confirmation by RT-PCR.
        if opening_type == TestType::RapidAntigen && (hospitalised || self.rng.random_bool(0.08)) {
            let d = plus(date, self.rng.random_range(0..=1));
            if d <= last {
                let lab = if hospitalised {
                    self.labs.hospital
                } else {
                    self.labs.cdc
                };
                self.test_at(i, lab, d, TestType::RtPcr, TestResult::Positive);
            }
        }
        // Discharge tests.
        if outcome == Outcome::Recovered
            && self.rng.random_bool(if hospitalised { 0.8 } else { 0.3 })
        {
            let day7 = plus(date, 7);
            if day7 < outcome_date && day7 <= last && self.rng.random_bool(0.25) {
                self.test(i, day7, TestType::RapidAntigen, TestResult::Positive);
            }
            if outcome_date <= last {
                let t = if hospitalised && self.rng.random_bool(0.5) {
                    TestType::RtPcr
                } else {
                    TestType::RapidAntigen
                };
                self.test(i, outcome_date, t, TestResult::Negative);
                other_negatives[week_of(start, outcome_date)] += 1;
            }
        }
        let note = match (care, outcome) {
            (_, Outcome::Died) => "Tử vong trong đợt dịch Omicron 2022".to_string(),
            (CareSetting::Tier3, _) => "Điều trị tại tầng 3, Bệnh viện Đa khoa tỉnh".to_string(),
            (CareSetting::Tier2, _) => "Điều trị tại tầng 2".to_string(),
            (CareSetting::Tier1, _) => "Cách ly tại cơ sở thu dung tầng 1".to_string(),
            _ => String::new(),
        };
        self.cases.push(CaseDraft {
            person: i,
            opening,
            first_positive: date,
            onset,
            detection,
            severity,
            care,
            on_oxygen,
            comorbidities,
            pregnant,
            vaccination,
            age,
            outcome: Some(outcome),
            outcome_date: Some(outcome_date),
            current: false,
            cluster: None,
            note,
        });
    }

    /// Clinical severity from age, vaccination, comorbidity and pregnancy.
    fn severity(
        &mut self,
        age: u32,
        vaccination: VaccinationStatus,
        comorbid: bool,
        pregnant: bool,
    ) -> Severity {
        let base = match age {
            0..5 => 0.015,
            5..18 => 0.006,
            18..50 => 0.008,
            50..65 => 0.035,
            65..80 => 0.09,
            _ => 0.18,
        };
        let vf = match vaccination {
            VaccinationStatus::Unvaccinated => 3.0,
            VaccinationStatus::Partial => 2.0,
            VaccinationStatus::PrimaryComplete => 1.0,
            VaccinationStatus::Boosted => 0.55,
        };
        let p: f64 =
            base * vf * if comorbid { 1.8 } else { 1.0 } * if pregnant { 1.5 } else { 1.0 };
        if self.rng.random_bool(p.min(0.8)) {
            let severe = match age {
                0..50 => 0.12,
                50..65 => 0.25,
                _ => 0.45,
            } * if vaccination == VaccinationStatus::Unvaccinated {
                1.5
            } else {
                1.0
            };
            if self.rng.random_bool(severe) {
                if self.rng.random_bool(0.25) {
                    Severity::Critical
                } else {
                    Severity::Severe
                }
            } else {
                Severity::Moderate
            }
        } else {
            let asymptomatic = match age {
                0..12 => 0.5,
                _ if vaccination == VaccinationStatus::Boosted => 0.4,
                _ => 0.32,
            };
            if self.rng.random_bool(asymptomatic) {
                Severity::Asymptomatic
            } else {
                Severity::Mild
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // The current outbreak.

    fn current_outbreak(&mut self) {
        let n = self.persons.len();
        let first_day = plus(self.today, -13);
        let target = self.rng.random_range(40..=80usize).min(n / 40);
        if target < 6 {
            return;
        }
        let by_commune = residents_by_commune(self.persons);
        let mut ranked: Vec<(&str, usize)> =
            by_commune.iter().map(|(c, v)| (*c, v.len())).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let market = ranked[0].0.to_string();
        let others: Vec<&str> = ranked.iter().skip(1).take(5).map(|r| r.0).collect();
        let school = if others.is_empty() {
            market.clone()
        } else {
            others[self.rng.random_range(0..others.len())].to_string()
        };
        let gate_commune = self
            .gates
            .first()
            .map(|g| g.commune_code.clone())
            .filter(|c| by_commune.get(c.as_str()).is_some_and(|v| v.len() >= 30));
        let construction = match &gate_commune {
            Some(c) => c.clone(),
            None if self.rng.random_bool(0.5) || others.len() < 2 => market.clone(),
            None => others
                .iter()
                .find(|c| **c != school)
                .map_or_else(|| market.clone(), |c| c.to_string()),
        };
        let today = self.today;
        let adults = |g: &Gen, c: &str, lo: u32, hi: u32, male: bool| -> Vec<usize> {
            by_commune
                .get(c)
                .map(|v| {
                    v.iter()
                        .copied()
                        .filter(|&i| {
                            let a = g.age(i, today);
                            (lo..=hi).contains(&a)
                                && g.alive(i, first_day)
                                && (!male || g.persons[i].sex == Sex::Male)
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let market_pool = adults(self, &market, 20, 70, false);
        let mut school_pool = adults(self, &school, 11, 15, false);
        let teachers = adults(self, &school, 25, 55, false);
        school_pool.extend(teachers.iter().take(6));
        let mut construction_pool = adults(self, &construction, 18, 55, true);
        for _ in 0..40 {
            let j = self.rng.random_range(0..n);
            if self.persons[j].sex == Sex::Male
                && (18..=55).contains(&self.age(j, today))
                && !construction_pool.contains(&j)
            {
                construction_pool.push(j);
            }
        }
        let sizes = [
            (target * 45).div_ceil(100),
            (target * 30).div_ceil(100),
            target.saturating_sub((target * 45).div_ceil(100) + (target * 30).div_ceil(100)),
        ];
        let mut infected: HashMap<usize, usize> = HashMap::new();
        let market_label = commune_label(self.units, &market);
        let school_short = short_name(self.units, &school);
        let construction_short = short_name(self.units, &construction);
        let specs = [
            (
                format!("Chợ trung tâm {market_label}"),
                format!("Chợ trung tâm, {market_label}"),
                market.clone(),
                "work",
                market_pool,
                first_day,
            ),
            (
                format!("Trường THCS {school_short}"),
                format!(
                    "Trường THCS {school_short}, {}",
                    commune_label(self.units, &school)
                ),
                school.clone(),
                "school",
                school_pool,
                plus(first_day, 3 + self.rng.random_range(0..=1)),
            ),
            (
                format!("Công trường khu tái định cư {construction_short}"),
                format!(
                    "Công trường xây dựng khu tái định cư, {}",
                    commune_label(self.units, &construction)
                ),
                construction.clone(),
                "work",
                construction_pool,
                plus(first_day, 1 + self.rng.random_range(0..=1)),
            ),
        ];
        for (k, (name, place, commune, relation, pool, index_day)) in specs.into_iter().enumerate()
        {
            if pool.is_empty() || sizes[k] == 0 {
                continue;
            }
            let cluster = self.clusters.len();
            self.clusters.push(ClusterDraft {
                name: format!("Ổ dịch {}", lower_first(&name)),
                place,
                commune,
                relation,
                members: Vec::new(),
                unusual: false,
                unusual_reason: String::new(),
                sequencing: None,
            });
            let imported = k == 2 && !self.gates.is_empty();
            self.chain(cluster, &pool, index_day, sizes[k], imported, &mut infected);
        }
        if self.clusters.is_empty() {
            return;
        }
        self.school_session();
        self.courses_and_checkins();
        self.unusual_cluster();
        self.border();
    }

    /// One chain of transmission seeded at a place: an index case on `index_day`, then `size`
    /// cases in all with daily numbers growing by a fifth a day up to today, each infected by a
    /// case of the cluster detected in the five days before — a household member (35 %) or
    /// someone of the place. Fills cases, contacts and the cluster's members.
    fn chain(
        &mut self,
        cluster: usize,
        pool: &[usize],
        index_day: NaiveDate,
        size: usize,
        imported: bool,
        infected: &mut HashMap<usize, usize>,
    ) {
        let relation = self.clusters[cluster].relation;
        let Some(index) = self.pick_from(pool, 50, |g, i| {
            !infected.contains_key(&i) && g.alive(i, index_day)
        }) else {
            return;
        };
        let detection = if imported {
            DetectionSource::Imported
        } else {
            DetectionSource::Community
        };
        let first = self.current_case(index, index_day, detection, cluster, infected);
        let mut queue = vec![first];
        // New cases per day grow by about a fifth a day up to today.
        let days: Vec<NaiveDate> = (1..)
            .map(|k| plus(index_day, k))
            .take_while(|d| *d <= self.today)
            .collect();
        let weights: Vec<f64> = (0..days.len()).map(|k| 1.2f64.powi(k as i32)).collect();
        let total: f64 = weights.iter().sum();
        let wanted = size.saturating_sub(1);
        let mut per_day: Vec<usize> = weights
            .iter()
            .map(|w| (wanted as f64 * w / total).floor() as usize)
            .collect();
        let mut short = wanted.saturating_sub(per_day.iter().sum());
        for slot in per_day.iter_mut().rev() {
            if short == 0 {
                break;
            }
            *slot += 1;
            short -= 1;
        }
        for (&d, &k) in days.iter().zip(&per_day) {
            for _ in 0..k {
                // Infected by a case of the last five days (else any earlier one).
                let recent: Vec<usize> = queue
                    .iter()
                    .copied()
                    .filter(|&c| {
                        let f = self.cases[c].first_positive;
                        f < d && plus(f, 5) >= d
                    })
                    .collect();
                let earlier: Vec<usize> = if recent.is_empty() {
                    queue
                        .iter()
                        .copied()
                        .filter(|&c| self.cases[c].first_positive < d)
                        .collect()
                } else {
                    recent
                };
                if earlier.is_empty() {
                    continue;
                }
                let by = earlier[self.rng.random_range(0..earlier.len())];
                let (person, date) = (self.cases[by].person, self.cases[by].first_positive);
                let household: Vec<usize> = self
                    .household_of(person)
                    .filter(|&j| j != person && !infected.contains_key(&j) && self.alive(j, d))
                    .collect();
                let at_home = !household.is_empty() && self.rng.random_bool(0.35);
                let found = if at_home {
                    Some((
                        household[self.rng.random_range(0..household.len())],
                        "household",
                    ))
                } else {
                    self.pick_from(pool, 20, |g, j| !infected.contains_key(&j) && g.alive(j, d))
                        .map(|j| (j, relation))
                        .or_else(|| household.first().map(|&j| (j, "household")))
                };
                let Some((j, rel)) = found else {
                    continue;
                };
                let new = self.current_case(j, d, DetectionSource::Community, cluster, infected);
                let last_exposure = if rel == "household" {
                    date
                } else {
                    plus(date, -self.rng.random_range(0..=2))
                };
                self.contacts.push(ContactDraft {
                    index: by,
                    person: j,
                    relation: rel,
                    last_exposure,
                    became: Some(new),
                });
                queue.push(new);
            }
        }
        // Contacts who did not become cases: the rest of each case's household and a few
        // people of the place; half of them tested negative.
        for &c in &queue {
            let (person, date) = (self.cases[c].person, self.cases[c].first_positive);
            let mut mine: Vec<usize> = self
                .contacts
                .iter()
                .filter(|k| k.index == c)
                .map(|k| k.person)
                .collect();
            let mut add = |g: &mut Gen, j: usize, relation: &'static str, exposure: NaiveDate| {
                if j == person || mine.contains(&j) {
                    return;
                }
                mine.push(j);
                let became = infected
                    .get(&j)
                    .copied()
                    .filter(|&k| g.cases[k].first_positive >= exposure && k != c);
                g.contacts.push(ContactDraft {
                    index: c,
                    person: j,
                    relation,
                    last_exposure: exposure,
                    became,
                });
                if became.is_none() && g.rng.random_bool(0.5) {
                    let d = plus(exposure, g.rng.random_range(2..=4));
                    if d <= g.today && g.alive(j, d) {
                        g.test(j, d, TestType::RapidAntigen, TestResult::Negative);
                    }
                }
            };
            for j in self.household_of(person) {
                if self.alive(j, date) {
                    add(self, j, "household", date);
                }
            }
            let k = self.rng.random_range(2..=5);
            for _ in 0..k {
                let j = pool[self.rng.random_range(0..pool.len())];
                let exposure = plus(date, -self.rng.random_range(0..=2));
                if self.alive(j, exposure) {
                    add(self, j, relation, exposure);
                }
            }
        }
    }

    /// Opens a current case of person `i` on `date` (course and tests decided later).
    fn current_case(
        &mut self,
        i: usize,
        date: NaiveDate,
        detection: DetectionSource,
        cluster: usize,
        infected: &mut HashMap<usize, usize>,
    ) -> usize {
        let age = self.age(i, date);
        let vaccination = self.status(i, date);
        let comorbidities = self.comorbidities(age);
        let pregnant = self.pregnant(i, age);
        let asymptomatic = self.rng.random_bool(if age < 12 { 0.5 } else { 0.3 });
        let severity = if asymptomatic {
            Severity::Asymptomatic
        } else {
            Severity::Mild
        };
        let onset = (!asymptomatic).then(|| plus(date, -self.rng.random_range(0..=2)));
        let opening_type = if self.rng.random_bool(0.3) {
            TestType::RtPcr
        } else {
            TestType::RapidAntigen
        };
        let opening = self.test(i, date, opening_type, TestResult::Positive);
        let c = self.cases.len();
        self.cases.push(CaseDraft {
            person: i,
            opening,
            first_positive: date,
            onset,
            detection,
            severity,
            care: CareSetting::Home,
            on_oxygen: false,
            comorbidities,
            pregnant,
            vaccination,
            age,
            outcome: None,
            outcome_date: None,
            current: true,
            cluster: Some(cluster),
            note: String::new(),
        });
        self.clusters[cluster].members.push(c);
        infected.insert(i, c);
        c
    }

    /// The school's sampling session: pools of five, one positive pool broken down.
    fn school_session(&mut self) {
        let Some(k) = self.clusters.iter().position(|c| c.relation == "school") else {
            return;
        };
        let members = self.clusters[k].members.clone();
        // The case found by the session: a later school case detected before today (its
        // results are back), else the index.
        let later: Vec<usize> = members
            .iter()
            .copied()
            .skip(1)
            .filter(|&c| self.cases[c].first_positive < self.today)
            .collect();
        let found = if later.is_empty() {
            members[0]
        } else {
            later[self.rng.random_range(0..later.len())]
        };
        let held_on = self.cases[found].first_positive;
        let commune = self.clusters[k].commune.clone();
        let lab = self.labs.cdc;
        let case_persons: HashMap<usize, NaiveDate> = self
            .cases
            .iter()
            .filter(|c| c.current)
            .map(|c| (c.person, c.first_positive))
            .collect();
        // Students of the commune not already known as cases by that day.
        let students: Vec<usize> = residents_by_commune(self.persons)
            .get(commune.as_str())
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|&i| {
                        (11..=15).contains(&self.age(i, held_on))
                            && i != self.cases[found].person
                            && case_persons.get(&i).is_none_or(|d| *d > held_on)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let pools = self.rng.random_range(8..=12usize);
        let mut chosen: Vec<usize> = Vec::new();
        let mut tries = 0;
        while chosen.len() < pools * 5 - 1 && tries < 2000 && !students.is_empty() {
            tries += 1;
            let j = students[self.rng.random_range(0..students.len())];
            if !chosen.contains(&j) {
                chosen.push(j);
            }
        }
        let positive_pool = chosen.len().min(4);
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut first_group = vec![self.cases[found].person];
        first_group.extend(chosen.iter().take(positive_pool));
        groups.push(first_group);
        for g in chosen[positive_pool..].chunks(5) {
            groups.push(g.to_vec());
        }
        let start = 7 * 60 + 30 + self.rng.random_range(0..30);
        let mut samples = Vec::new();
        let code = |n: usize| format!("THCS-{}-{n:03}", held_on.format("%d%m"));
        let first_found_test = self.cases[found].opening;
        for (g, group) in groups.iter().enumerate() {
            let collected_at = local(held_on, start + 5 * g as i64);
            let received_at = collected_at + TimeDelta::minutes(120);
            let resulted_at = collected_at + TimeDelta::minutes(6 * 60 + 30);
            let positive = g == 0;
            // A pool's result is the sample's only: no per-person test (as the lab workflow).
            let tests = Vec::new();
            samples.push(SampleDraft {
                code: code(g + 1),
                members: group.clone(),
                pool: None,
                collected_at,
                received_at,
                resulted_at,
                result: if positive {
                    TestResult::Positive
                } else {
                    TestResult::Negative
                },
                tests,
            });
        }
        // The positive pool broken down when its result came: one single sample per member,
        // labelled `<pool code>-<n>`, whose result is a test with the sample code as record id.
        let pool_resulted = samples[0].resulted_at;
        for (m, &j) in groups[0].iter().enumerate() {
            let collected_at = pool_resulted + TimeDelta::minutes(15 + 3 * m as i64);
            let received_at = collected_at + TimeDelta::minutes(40);
            let resulted_at = collected_at + TimeDelta::minutes(5 * 60 + 5 * m as i64);
            let single = format!("{}-{}", code(1), m + 1);
            let (result, test) = if j == self.cases[found].person {
                // The found case's opening test is the single sample's RT-PCR.
                let t = &mut self.tests[first_found_test];
                t.test_type = TestType::RtPcr;
                t.lab = lab;
                t.received_at = resulted_at;
                t.record_id = Some(single.clone());
                (TestResult::Positive, first_found_test)
            } else {
                let t = self.session_test(j, lab, held_on, resulted_at, TestResult::Negative);
                self.tests[t].record_id = Some(single.clone());
                (TestResult::Negative, t)
            };
            samples.push(SampleDraft {
                code: single,
                members: vec![j],
                pool: Some(0),
                collected_at,
                received_at,
                resulted_at,
                result,
                tests: vec![test],
            });
        }
        let place = self.clusters[k].place.clone();
        self.sessions.push(SessionDraft {
            place,
            commune,
            held_on,
            lab,
            samples,
        });
    }

    fn session_test(
        &mut self,
        person: usize,
        lab: usize,
        date: NaiveDate,
        resulted_at: DateTime<Utc>,
        result: TestResult,
    ) -> usize {
        self.tests.push(TestDraft {
            person,
            lab,
            date,
            test_type: TestType::RtPcr,
            result,
            received_at: resulted_at.min(self.limit),
            record_id: None,
        });
        self.tests.len() - 1
    }

    /// Decides how each current case is going (recovered, warning, emergency, overdue, normal)
    /// and writes its check-ins.
    fn courses_and_checkins(&mut self) {
        let today = self.today;
        let current: Vec<usize> = (0..self.cases.len())
            .filter(|&c| self.cases[c].current)
            .collect();
        // Early cases recover (negative rapid test on the day).
        for &c in &current {
            let d = self.cases[c].first_positive;
            if plus(d, 9) <= today && self.rng.random_bool(0.6) {
                let out = plus(d, self.rng.random_range(7..=9)).min(today);
                self.cases[c].outcome = Some(Outcome::Recovered);
                self.cases[c].outcome_date = Some(out);
                let p = self.cases[c].person;
                self.test(p, out, TestType::RapidAntigen, TestResult::Negative);
            }
        }
        // Risk order of open cases detected before today: age, unvaccinated, comorbidity.
        let mut open: Vec<usize> = current
            .iter()
            .copied()
            .filter(|&c| self.cases[c].outcome.is_none() && self.cases[c].first_positive < today)
            .collect();
        let risk = |c: &CaseDraft| {
            c.age
                + if c.vaccination.is_fully_vaccinated() {
                    0
                } else {
                    30
                }
                + 15 * c.comorbidities.len() as u32
        };
        open.sort_by(|&a, &b| {
            risk(&self.cases[b])
                .cmp(&risk(&self.cases[a]))
                .then(a.cmp(&b))
        });
        let mut courses: BTreeMap<usize, Course> = BTreeMap::new();
        let emergencies = if open.len() >= 20 { 2 } else { 1 };
        let mut it = open.iter().copied();
        for c in it.by_ref().take(emergencies) {
            courses.insert(c, Course::Emergency);
        }
        let warnings = self.rng.random_range(3..=5usize);
        let mut w = 0;
        let rest: Vec<usize> = it.collect();
        let mut remaining = Vec::new();
        for c in rest {
            if w < warnings && self.cases[c].age >= 18 {
                courses.insert(c, Course::Warning);
                w += 1;
            } else {
                remaining.push(c);
            }
        }
        // Overdue: a few others opened at least three days ago, chosen at random.
        let overdue = self.rng.random_range(4..=7usize);
        let mut candidates: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&c| plus(self.cases[c].first_positive, 3) <= today)
            .collect();
        for _ in 0..overdue {
            if candidates.is_empty() {
                break;
            }
            let k = self.rng.random_range(0..candidates.len());
            let c = candidates.swap_remove(k);
            let since = self.limit - TimeDelta::minutes(self.rng.random_range(26 * 60..44 * 60));
            courses.insert(c, Course::Overdue(since));
        }
        for &c in &current {
            let course = courses.get(&c).copied().unwrap_or(Course::Normal);
            match course {
                Course::Warning => {
                    self.cases[c].severity = Severity::Moderate;
                    let first = self.cases[c].first_positive;
                    self.cases[c].onset.get_or_insert(first);
                    self.cases[c].note = "Theo dõi sát: SpO2 giảm, thở nhanh".to_string();
                }
                Course::Emergency => {
                    self.cases[c].severity = Severity::Severe;
                    let first = self.cases[c].first_positive;
                    self.cases[c].onset.get_or_insert(first);
                    self.cases[c].note = "Đã báo trạm y tế, chờ chuyển tầng 3".to_string();
                }
                _ => {}
            }
            self.courses.push((c, course));
            self.write_checkins(c, course);
        }
    }

    fn write_checkins(&mut self, c: usize, course: Course) {
        let case = &self.cases[c];
        let (person, first) = (case.person, case.first_positive);
        let symptomatic = case.onset.is_some();
        let onset = case.onset.unwrap_or(first);
        let mut end = self.limit;
        if let Some(out) = case.outcome_date {
            end = end.min(local(out, 20 * 60));
        }
        if let Course::Overdue(since) = course {
            end = end.min(since);
        }
        // Slots: evening of the first day, then mornings and evenings.
        let mut times = Vec::new();
        let mut day = first;
        while day <= self.today {
            for (slot, (lo, hi)) in [(7 * 60, 9 * 60), (18 * 60, 20 * 60 + 30)]
                .into_iter()
                .enumerate()
            {
                if (day == first && slot == 0) || (day == self.today && slot == 1) {
                    continue;
                }
                // Today's morning check-in comes before 08:00.
                let hi = if day == self.today {
                    hi.min(8 * 60)
                } else {
                    hi
                };
                let lo = if day == self.today {
                    lo.min(hi - 60)
                } else {
                    lo
                };
                let at = local(day, self.rng.random_range(lo - 30..hi));
                if at <= end {
                    times.push(at);
                }
            }
            day = plus(day, 1);
        }
        // Missed slots (never the last two of a case heading for an alert).
        let keep_last = if matches!(course, Course::Warning | Course::Emergency) {
            2
        } else {
            1
        };
        let n = times.len();
        let mut kept = Vec::with_capacity(n);
        for (k, at) in times.into_iter().enumerate() {
            if k + keep_last >= n || !self.rng.random_bool(0.1) {
                kept.push(at);
            }
        }
        let n = kept.len();
        for (k, at) in kept.into_iter().enumerate() {
            let from_end = n - 1 - k;
            let stage = match course {
                Course::Emergency if from_end == 0 => Stage::Emergency,
                Course::Emergency if from_end == 1 => Stage::Warning,
                Course::Warning if from_end <= 1 => Stage::Warning,
                _ => Stage::Normal,
            };
            let days_ill = (local_date(at) - onset).num_days();
            let age_years = (local_date(at) - self.persons[person].dob).num_days() as f64 / 365.25;
            let vitals = vitals(&mut self.rng, age_years, symptomatic, days_ill, stage);
            let by_citizen = self.rng.random_bool(0.65);
            self.checkins.push((c, at, by_citizen, vitals));
        }
    }

    /// The construction site's cluster (else the market's) is unusual: RT-PCR confirmations of
    /// its first cases referred for sequencing, a variant back.
    fn unusual_cluster(&mut self) {
        let k = self
            .clusters
            .iter()
            .position(|c| c.place.starts_with("Công trường") && c.members.len() >= 3)
            .or_else(|| self.clusters.iter().position(|c| c.members.len() >= 3));
        let Some(k) = k else {
            return;
        };
        let members = self.clusters[k].members.clone();
        let opened = self.cases[members[0]].first_positive;
        let referred_on = plus(opened, 2);
        let result_on = plus(referred_on, self.rng.random_range(5..=7)).min(self.today);
        let mut sequenced = Vec::new();
        for &c in &members {
            if self.cases[c].first_positive > referred_on {
                continue;
            }
            if sequenced.len() >= 5 {
                break;
            }
            let opening = self.cases[c].opening;
            let t = if self.tests[opening].test_type == TestType::RtPcr {
                opening
            } else {
                let p = self.cases[c].person;
                let d = plus(self.cases[c].first_positive, 1).min(referred_on);
                let cdc = self.labs.cdc;
                self.test_at(p, cdc, d, TestType::RtPcr, TestResult::Positive)
            };
            sequenced.push(t);
        }
        let imported = self.cases[members[0]].detection == DetectionSource::Imported;
        let cluster = &mut self.clusters[k];
        cluster.unusual = true;
        cluster.unusual_reason = if imported {
            "Ca đầu tiên nhập cảnh từ vùng có biến chủng mới; số ca tăng nhanh trong 7 ngày, \
             có ca ở người trẻ đã tiêm nhắc lại"
                .to_string()
        } else {
            "Số ca tăng nhanh trong 7 ngày, có ca ở người trẻ đã tiêm nhắc lại".to_string()
        };
        if !sequenced.is_empty() {
            cluster.sequencing = Some((referred_on, sequenced, result_on));
        }
    }

    /// Border gates: daily counts and declarations for the last 14 days; the construction
    /// site's imported index case declared on entry.
    fn border(&mut self) {
        if self.gates.is_empty() {
            return;
        }
        let province = self.persons[0].province_code.clone();
        let rows = GATES
            .iter()
            .find(|(p, _)| *p == province)
            .map(|(_, r)| *r)
            .unwrap_or(&[]);
        let areas = Weighted::from_table(&[(0usize, AREAS[0].2), (1, AREAS[1].2), (2, AREAS[2].2)]);
        let n = self.persons.len();
        let imported: Option<usize> = self
            .cases
            .iter()
            .position(|c| c.current && c.detection == DetectionSource::Imported);
        for (g, gate) in self.gates.clone().iter().enumerate() {
            let (lo, hi) = rows
                .iter()
                .find(|r| r.0 == gate.code)
                .map_or((5, 10), |r| r.4);
            for back in (0..14).rev() {
                let day = plus(self.today, -back);
                let entrants = self.rng.random_range(lo..=hi);
                let mut variant = 0;
                for _ in 0..entrants {
                    let area = areas.sample(&mut self.rng);
                    let in_variant = AREAS[area].1;
                    variant += i64::from(in_variant);
                    let p_declare = if in_variant { 0.95 } else { 0.9 };
                    if !self.rng.random_bool(p_declare) {
                        continue;
                    }
                    let d = self.entrant(g, day, area, &gate.commune_code, n);
                    self.declarations.push(d);
                }
                self.border_counts.push(DemoBorderCount {
                    gate_code: gate.code.clone(),
                    day,
                    entrants,
                    from_variant_areas: variant,
                });
            }
        }
        // The imported case entered through the first gate the day before it was found.
        if let Some(c) = imported {
            let p = self.cases[c].person;
            let day = plus(self.cases[c].first_positive, -1).max(plus(self.today, -13));
            let person = &self.persons[p];
            self.declarations.push(DeclarationDraft {
                person: Some(p),
                full_name: person.full_name.clone(),
                document_number: person
                    .national_id
                    .as_ref()
                    .map(|x| x.as_str().to_string())
                    .unwrap_or_default(),
                phone: person
                    .phone
                    .as_ref()
                    .map(|x| x.as_str().to_string())
                    .unwrap_or_default(),
                gate: 0,
                entered_on: day,
                area: 0,
                commune: person.commune_code.clone(),
                status: "became_case",
                case: Some(c),
            });
            if let Some(bc) = self
                .border_counts
                .iter_mut()
                .find(|b| b.gate_code == self.gates[0].code && b.day == day)
            {
                bc.entrants += 1;
                bc.from_variant_areas += 1;
            }
            self.cases[c].note = format!(
                "Nhập cảnh qua {} ngày {}",
                self.gates[0].name,
                day.format("%d/%m/%Y")
            );
        }
    }

    /// One declared entrant: a resident coming home (60 %) or a foreign visitor.
    fn entrant(
        &mut self,
        gate: usize,
        day: NaiveDate,
        area: usize,
        gate_commune: &str,
        n: usize,
    ) -> DeclarationDraft {
        let status = {
            let until = CaseRules::embedded().entrant_followup_until(day);
            if until >= self.today {
                "following"
            } else if self.rng.random_bool(0.03) {
                "lost"
            } else {
                "completed"
            }
        };
        if self.rng.random_bool(0.6) {
            for _ in 0..20 {
                let j = self.rng.random_range(0..n);
                let age = self.age(j, day);
                if (18..=60).contains(&age) {
                    let p = &self.persons[j];
                    return DeclarationDraft {
                        person: Some(j),
                        full_name: p.full_name.clone(),
                        document_number: p
                            .national_id
                            .as_ref()
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_default(),
                        phone: p
                            .phone
                            .as_ref()
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_default(),
                        gate,
                        entered_on: day,
                        area,
                        commune: p.commune_code.clone(),
                        status,
                        case: None,
                    };
                }
            }
        }
        let surname = CHINESE_SURNAMES[self.rng.random_range(0..CHINESE_SURNAMES.len())];
        let given = CHINESE_GIVEN[self.rng.random_range(0..CHINESE_GIVEN.len())];
        DeclarationDraft {
            person: None,
            full_name: format!("{} {}", surname.to_uppercase(), given.to_uppercase()),
            document_number: format!("E{:08}", self.rng.random_range(0..100_000_000u32)),
            phone: format!(
                "+86 13{} {:04} {:04}",
                self.rng.random_range(0..10),
                self.rng.random_range(0..10_000),
                self.rng.random_range(0..10_000)
            ),
            gate,
            entered_on: day,
            area,
            commune: if self.rng.random_bool(0.7) {
                gate_commune.to_string()
            } else {
                self.labs.labs[self.labs.hospital].commune_code.clone()
            },
            status,
            case: None,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Output.

    fn finish(self) -> EpidemicHistory {
        let Gen {
            persons,
            today,
            labs,
            tests,
            cases,
            checkins,
            contacts,
            clusters,
            sessions,
            gates,
            declarations,
            border_counts,
            courses,
            wave_alive,
            ..
        } = self;
        // Record numbers per lab and year, in date order.
        let mut order: Vec<usize> = (0..tests.len()).collect();
        order.sort_by_key(|&i| (tests[i].lab, tests[i].date, i));
        let mut ids = vec![String::new(); tests.len()];
        let mut previous = None;
        let mut number = 0u32;
        for &i in &order {
            let t = &tests[i];
            if let Some(id) = &t.record_id {
                ids[i] = id.clone();
                continue;
            }
            let key = (t.lab, t.date.year());
            if previous != Some(key) {
                previous = Some(key);
                number = 0;
            }
            number += 1;
            ids[i] = format!("{}-{}-{number:06}", labs.labs[t.lab].code, t.date.year());
        }
        // Output order: sample date, then record id.
        let mut by_date: Vec<usize> = (0..tests.len()).collect();
        by_date.sort_by(|&a, &b| (tests[a].date, &ids[a]).cmp(&(tests[b].date, &ids[b])));
        let out_tests: Vec<DemoTest> = by_date
            .iter()
            .map(|&i| {
                let (t, id) = (&tests[i], &ids[i]);
                let p = &persons[t.person];
                DemoTest {
                    person_id: p.id,
                    received_at: t.received_at,
                    row: TestRow {
                        record_id: id.clone(),
                        lab_code: labs.labs[t.lab].code.clone(),
                        national_id: p
                            .national_id
                            .as_ref()
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_default(),
                        full_name: p.full_name.clone(),
                        dob: p.dob.to_string(),
                        sex: p.sex.as_str().to_string(),
                        commune_code: p.commune_code.clone(),
                        phone: p
                            .phone
                            .as_ref()
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_default(),
                        sample_date: t.date,
                        test_type: t.test_type,
                        result: t.result,
                    },
                }
            })
            .collect();
        let case_id = |c: usize| ids[cases[c].opening].clone();
        // Cases in first-positive order; clusters refer to them by record id.
        let mut case_order: Vec<usize> = (0..cases.len()).collect();
        case_order.sort_by(|&a, &b| {
            (cases[a].first_positive, &ids[cases[a].opening])
                .cmp(&(cases[b].first_positive, &ids[cases[b].opening]))
        });
        let out_cases: Vec<DemoCase> = case_order
            .iter()
            .map(|&c| {
                let d = &cases[c];
                DemoCase {
                    record_id: case_id(c),
                    person_id: persons[d.person].id,
                    first_positive: d.first_positive,
                    onset: d.onset,
                    detection_source: d.detection,
                    severity: d.severity,
                    care_setting: d.care,
                    on_oxygen: d.on_oxygen,
                    comorbidities: d.comorbidities.iter().map(|s| s.to_string()).collect(),
                    pregnant: d.pregnant,
                    vaccination: d.vaccination,
                    age_years: d.age,
                    outcome: d.outcome,
                    outcome_date: d.outcome_date,
                    current: d.current,
                    cluster: d.cluster,
                    note: d.note.clone(),
                }
            })
            .collect();
        let position: HashMap<usize, usize> = case_order
            .iter()
            .enumerate()
            .map(|(k, &c)| (c, k))
            .collect();
        let mut out_checkins: Vec<(usize, DemoCheckIn)> = checkins
            .into_iter()
            .map(|(c, at, by_citizen, vitals)| {
                (
                    position[&c],
                    DemoCheckIn {
                        record_id: case_id(c),
                        at,
                        by_citizen,
                        vitals,
                    },
                )
            })
            .collect();
        out_checkins.sort_by_key(|a| (a.0, a.1.at));
        let out_checkins: Vec<DemoCheckIn> = out_checkins.into_iter().map(|x| x.1).collect();
        let rules = CaseRules::embedded();
        let out_contacts: Vec<DemoContact> = contacts
            .iter()
            .map(|k| DemoContact {
                index_record_id: case_id(k.index),
                person_id: persons[k.person].id,
                relation: k.relation.to_string(),
                last_exposure: k.last_exposure,
                monitor_until: rules.entrant_followup_until(k.last_exposure),
                quarantine_place: if k.relation == "household" {
                    "home"
                } else {
                    "none"
                }
                .to_string(),
                became_case_record_id: k.became.map(case_id),
            })
            .collect();
        let out_clusters: Vec<DemoCluster> = clusters
            .iter()
            .map(|k| {
                let mut members = k.members.clone();
                members.sort_by_key(|&c| position[&c]);
                DemoCluster {
                    name: k.name.clone(),
                    place: k.place.clone(),
                    commune_code: k.commune.clone(),
                    opened_on: members.first().map_or(today, |&c| cases[c].first_positive),
                    last_case_on: members
                        .iter()
                        .map(|&c| cases[c].first_positive)
                        .max()
                        .unwrap_or(today),
                    members: members.iter().map(|&c| case_id(c)).collect(),
                    unusual: k.unusual,
                    unusual_reason: k.unusual_reason.clone(),
                    sequencing: k.sequencing.as_ref().map(|(referred_on, t, result_on)| {
                        DemoSequencing {
                            referred_on: *referred_on,
                            lab: SEQUENCING_LAB.to_string(),
                            record_ids: t.iter().map(|&i| ids[i].clone()).collect(),
                            variant: VARIANT.to_string(),
                            result_on: *result_on,
                        }
                    }),
                }
            })
            .collect();
        let out_sessions: Vec<DemoSampleSession> = sessions
            .iter()
            .map(|s| DemoSampleSession {
                place: s.place.clone(),
                commune_code: s.commune.clone(),
                held_on: s.held_on,
                lab_code: labs.labs[s.lab].code.clone(),
                samples: s
                    .samples
                    .iter()
                    .map(|x| DemoSample {
                        code: x.code.clone(),
                        members: x.members.iter().map(|&i| persons[i].id).collect(),
                        pool: x.pool,
                        collected_at: x.collected_at,
                        received_at: x.received_at,
                        resulted_at: x.resulted_at,
                        result: x.result,
                        record_ids: x.tests.iter().map(|&i| ids[i].clone()).collect(),
                    })
                    .collect(),
            })
            .collect();
        let out_declarations: Vec<DemoDeclaration> = declarations
            .iter()
            .map(|d| DemoDeclaration {
                person_id: d.person.map(|i| persons[i].id),
                full_name: d.full_name.clone(),
                document_number: d.document_number.clone(),
                phone: d.phone.clone(),
                gate_code: gates[d.gate].code.clone(),
                entered_on: d.entered_on,
                from_area: AREAS[d.area].0.to_string(),
                variant_area: AREAS[d.area].1,
                commune_code: d.commune.clone(),
                followup_until: rules.entrant_followup_until(d.entered_on),
                status: d.status.to_string(),
                case_record_id: d.case.map(case_id),
            })
            .collect();
        let wave: Vec<&DemoCase> = out_cases.iter().filter(|c| !c.current).collect();
        let counts = EpidemicCounts {
            wave_cases: wave.len(),
            wave_attack_rate: if wave_alive > 0 {
                wave.len() as f64 / wave_alive as f64
            } else {
                0.0
            },
            wave_hospitalised: wave
                .iter()
                .filter(|c| c.severity >= Severity::Moderate)
                .count(),
            wave_severe: wave.iter().filter(|c| c.severity.is_severe()).count(),
            wave_deaths: wave
                .iter()
                .filter(|c| c.outcome == Some(Outcome::Died))
                .count(),
            tests: out_tests.len(),
            positive_tests: out_tests
                .iter()
                .filter(|t| t.row.result == TestResult::Positive)
                .count(),
            negative_tests: out_tests
                .iter()
                .filter(|t| t.row.result == TestResult::Negative)
                .count(),
            current_cases: out_cases.iter().filter(|c| c.current).count(),
            current_open: out_cases
                .iter()
                .filter(|c| c.current && c.is_open())
                .count(),
            checkins: out_checkins.len(),
            warning_cases: courses.iter().filter(|c| c.1 == Course::Warning).count(),
            emergency_cases: courses.iter().filter(|c| c.1 == Course::Emergency).count(),
            overdue_cases: courses
                .iter()
                .filter(|c| matches!(c.1, Course::Overdue(_)))
                .count(),
            contacts: out_contacts.len(),
            contacts_became_cases: out_contacts
                .iter()
                .filter(|c| c.became_case_record_id.is_some())
                .count(),
            clusters: out_clusters.len(),
            samples: out_sessions.iter().map(|s| s.samples.len()).sum(),
            declarations: out_declarations.len(),
            entrants: border_counts.iter().map(|b| b.entrants).sum(),
            variant_entrants: border_counts.iter().map(|b| b.from_variant_areas).sum(),
            variant_declared: out_declarations.iter().filter(|d| d.variant_area).count() as i64,
        };
        EpidemicHistory {
            labs: labs.labs,
            tests: out_tests,
            cases: out_cases,
            checkins: out_checkins,
            contacts: out_contacts,
            clusters: out_clusters,
            sample_sessions: out_sessions,
            gates,
            declarations: out_declarations,
            border_counts,
            counts,
        }
    }
}

/// "Chợ trung tâm…" → "chợ trung tâm…" (after "Ổ dịch").
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn week_of(start: NaiveDate, date: NaiveDate) -> usize {
    (((date - start).num_days().max(0) / 7) as usize).min(WAVE_WEEKS.len() - 1)
}

/// Persons by 2025 commune, in code order.
fn residents_by_commune(persons: &[Person]) -> BTreeMap<&str, Vec<usize>> {
    let mut out: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in persons.iter().enumerate() {
        out.entry(p.commune_code.as_str()).or_default().push(i);
    }
    out
}

/// What a check-in shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Normal,
    /// SpO2 94–95 %, respiratory rate 22 (adults).
    Warning,
    /// SpO2 below 94 % with breathlessness and chest pain (or cyanosis, confusion).
    Emergency,
}

/// Self-monitoring values of one check-in.
fn vitals<R: Rng>(
    rng: &mut R,
    age_years: f64,
    symptomatic: bool,
    days_ill: i64,
    stage: Stage,
) -> serde_json::Value {
    let age = age_years.max(0.0);
    let mut symptoms: Vec<&str> = Vec::new();
    let mut fever = false;
    if symptomatic {
        let early = days_ill <= 4;
        if days_ill <= 2 && rng.random_bool(0.6) {
            fever = true;
            symptoms.push("fever");
        }
        if rng.random_bool(if early { 0.6 } else { 0.3 }) {
            symptoms.push("cough");
        }
        if days_ill <= 3 && rng.random_bool(0.5) {
            symptoms.push("sore_throat");
        }
        if rng.random_bool(if early { 0.5 } else { 0.25 }) {
            symptoms.push("fatigue");
        }
        if age >= 12.0 && rng.random_bool(0.12) {
            symptoms.push("loss_of_smell");
        }
    }
    let (mut rr, mut pulse) = if age < 1.0 {
        (rng.random_range(30..=40), rng.random_range(110..=140))
    } else if age < 5.0 {
        (rng.random_range(24..=34), rng.random_range(90..=118))
    } else if age < 12.0 {
        (rng.random_range(18..=26), rng.random_range(80..=108))
    } else {
        (rng.random_range(15..=19), rng.random_range(65..=95))
    };
    let mut spo2 = rng.random_range(97..=99);
    let mut temp: f64 = if fever {
        f64::from(rng.random_range(378..=389)) / 10.0
    } else {
        f64::from(rng.random_range(364..=373)) / 10.0
    };
    if fever && age >= 12.0 {
        pulse += 8;
    }
    match stage {
        Stage::Normal => {}
        Stage::Warning => {
            spo2 = rng.random_range(94..=95);
            rr = 22;
            for s in ["cough", "fatigue"] {
                if !symptoms.contains(&s) {
                    symptoms.push(s);
                }
            }
            if rng.random_bool(0.4) {
                symptoms.push("dyspnoea");
            }
        }
        Stage::Emergency => {
            spo2 = rng.random_range(90..=92);
            rr = rng.random_range(26..=30);
            pulse = rng.random_range(104..=118);
            temp = f64::from(rng.random_range(380..=392)) / 10.0;
            symptoms.retain(|s| *s != "fever");
            symptoms.push("fever");
            symptoms.push("dyspnoea");
            if age >= 75.0 {
                symptoms.push("confusion");
            } else if rng.random_bool(0.5) {
                symptoms.push("chest_pain");
            } else {
                symptoms.push("cyanosis");
            }
        }
    }
    let (systolic, diastolic) = if age >= 12.0 {
        (
            Some(rng.random_range(105..=138)),
            Some(rng.random_range(65..=88)),
        )
    } else {
        (None, None)
    };
    json!({
        "age_years": (age * 10.0).round() / 10.0,
        "resp_rate": rr,
        "spo2": spo2,
        "pulse": pulse,
        "systolic": systolic,
        "diastolic": diastolic,
        "temp_c": temp,
        "symptoms": symptoms,
    })
}

#[cfg(test)]
mod tests;
