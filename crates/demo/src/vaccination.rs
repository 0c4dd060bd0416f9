//! COVID-19 vaccination histories, 2021–2023, for a generated population: vaccination sites
//! (the commune health station of every commune with residents, plus provincial and district
//! hospitals), vaccine lots, and every dose given.
//!
//! The campaign follows Vietnam's: AstraZeneca from 8 March 2021 (health workers first),
//! Vero Cell (Sinopharm) from mid-2021, Pfizer and Moderna from July 2021, a few Sputnik V,
//! Janssen, Abdala, Hayat-Vax and Covaxin doses; mass vaccination of adults from July to December
//! 2021, of 12–17-year-olds from November 2021 (mostly Pfizer), of 5–11-year-olds from April 2022
//! (Pfizer, some Moderna from age 6), none for younger children; a first booster for adults from
//! December 2021 (earlier for health workers), a third dose for 12–17-year-olds from August 2022,
//! and a second booster from mid-2022, mostly for persons aged 50 or more and health workers.
//!
//! Intervals come from the embedded schedule rules (`domain::schedule::Rules`): recommended
//! primary intervals with realistic spread (some AstraZeneca second doses at 4–8 weeks, some late),
//! boosters no earlier than the rules allow. Mixing stays within what the rules allow
//! (AstraZeneca then Pfizer or Moderna, Pfizer and Moderna interchangeably), except in about
//! 0.5 % of vaccinated persons whose history breaks one rule (an interval too short, a
//! product mix not allowed, or a booster too early), so that the schedule engine's warnings
//! show up. A few percent of persons are never vaccinated, more in remote (mountain and island)
//! communes. No dose is given before the product's minimum age, after `as_of`, or after 2023.
//!
//! Doses are given at the person's commune health station, sometimes at a hospital or another
//! commune's station; each uses a lot of its product delivered in the same quarter, which expires
//! after the quarter ends. Record numbers (`2021-000123`) run per site and year in date order.
//!
//! Determinism: the output depends only on the arguments. Persons are handled in the order given
//! on one ChaCha8 stream; lots come from another stream and do not depend on the persons;
//! per-commune refusal rates come from a hash of the seed and the commune code; hash maps serve
//! lookups only.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Days, NaiveDate};
use domain::person::Person;
use domain::population::age_on;
use domain::schedule::Rules;
use domain::units::AdminUnits;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use crate::geography::MOUNTAIN_PROVINCES;
use crate::sampling::Weighted;

/// A place where doses are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSite {
    /// `TYT-<commune code>` for a commune health station, `BV-<province code>` for the provincial
    /// general hospital, `BV-<pre-2025 district code>` for a district hospital.
    pub code: String,
    /// "Trạm Y tế xã Bản Lang", "Bệnh viện Đa khoa tỉnh Lai Châu", …
    pub name: String,
    /// 2025 commune the site is in.
    pub commune_code: String,
}

/// A vaccine lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLot {
    /// DCC `mp` code of the product.
    pub product: String,
    pub lot: String,
    pub expiry: NaiveDate,
}

/// One dose given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoDose {
    pub person_id: Uuid,
    /// The site's own record number, unique within the site (`<year>-<number>`).
    pub record_id: String,
    pub site_code: String,
    /// DCC `mp` code.
    pub product: String,
    pub date: NaiveDate,
    pub lot: String,
}

/// Sites, lots and doses of a population.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VaccinationHistory {
    /// Commune health stations in commune-code order, then hospitals (each province's general
    /// hospital followed by its district hospitals, in code order).
    pub sites: Vec<DemoSite>,
    /// Lots by product (AstraZeneca, Pfizer, Moderna, Vero Cell, Sputnik V, Janssen, Abdala,
    /// Hayat-Vax, Covaxin) and quarter of delivery, from 2021 Q1 to the quarter of `as_of`.
    pub lots: Vec<DemoLot>,
    /// Doses grouped by person in the order of `persons`, each person's in date order.
    pub doses: Vec<DemoDose>,
}

/// Random stream of the doses (persons) and of the lots, apart from `generate`'s streams.
const DOSE_STREAM: u64 = 0x7661_6363_696e_6573;
const LOT_STREAM: u64 = 0x6c6f_7473;

/// Most district hospitals listed per province (the districts with most residents).
const MAX_DISTRICT_HOSPITALS: usize = 6;

/// Share of vaccinated persons whose history breaks one schedule rule.
const P_RULE_BREAK: f64 = 0.006;

/// Share of adults (aged 22–60 in March 2021) who are health workers: first in line, vaccinated
/// at hospitals, nearly all boosted twice.
const P_HEALTH_WORKER: f64 = 0.015;

/// Never-vaccinated share of adults by kind of commune (times a per-commune factor 0.5–1.5).
const REFUSAL_WARD: f64 = 0.010;
const REFUSAL_RURAL: f64 = 0.018;
const REFUSAL_REMOTE: f64 = 0.025;

/// Products used in Vietnam.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Product {
    AstraZeneca,
    Pfizer,
    Moderna,
    VeroCell,
    SputnikV,
    Janssen,
    Abdala,
    HayatVax,
    Covaxin,
}

const PRODUCTS: [Product; 9] = [
    Product::AstraZeneca,
    Product::Pfizer,
    Product::Moderna,
    Product::VeroCell,
    Product::SputnikV,
    Product::Janssen,
    Product::Abdala,
    Product::HayatVax,
    Product::Covaxin,
];

impl Product {
    fn index(self) -> usize {
        self as usize
    }

    /// DCC `mp` code.
    fn mp(self) -> &'static str {
        match self {
            Product::AstraZeneca => "EU/1/21/1529",
            Product::Pfizer => "EU/1/20/1528",
            Product::Moderna => "EU/1/20/1507",
            Product::VeroCell => "BBIBP-CorV",
            Product::SputnikV => "Sputnik-V",
            Product::Janssen => "EU/1/20/1525",
            Product::Abdala => "Abdala",
            Product::HayatVax => "Hayat-Vax",
            Product::Covaxin => "Covaxin",
        }
    }

    /// First and last day lots of the product were used.
    fn supply(self) -> (Ymd, Ymd) {
        match self {
            Product::AstraZeneca => ((2021, 3, 8), (2023, 6, 30)),
            Product::Pfizer | Product::Moderna => ((2021, 7, 1), (2023, 12, 31)),
            Product::VeroCell => ((2021, 6, 20), (2022, 12, 31)),
            Product::SputnikV => ((2021, 7, 20), (2022, 3, 31)),
            Product::Janssen | Product::HayatVax => ((2021, 9, 1), (2022, 3, 31)),
            Product::Abdala => ((2021, 9, 25), (2022, 6, 30)),
            Product::Covaxin => ((2021, 11, 15), (2022, 6, 30)),
        }
    }

    /// Whether the schedule rules let it follow `self` within a primary series.
    fn mixes_with(self, later: Product) -> bool {
        use Product::*;
        self == later
            || matches!(
                (self, later),
                (AstraZeneca | Pfizer | Moderna, Pfizer | Moderna)
                    | (Pfizer | Moderna, AstraZeneca)
                    | (VeroCell, HayatVax)
                    | (HayatVax, VeroCell)
            )
    }
}

/// A calendar day as written in the tables: (year, month, day).
type Ymd = (i32, u32, u32);

fn ymd((y, m, d): Ymd) -> NaiveDate {
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

/// The first day on which `age_on(dob, day) >= years` (1 March for 29 February births in common
/// years, as `age_on` counts).
fn birthday(dob: NaiveDate, years: u32) -> NaiveDate {
    let year = dob.year() + years as i32;
    NaiveDate::from_ymd_opt(year, dob.month(), dob.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .unwrap_or(NaiveDate::MAX)
}

/// Quarter number counted from 2021 Q1.
fn quarter(date: NaiveDate) -> usize {
    ((date.year() - 2021).max(0) as usize) * 4 + date.month0() as usize / 3
}

fn quarter_start(q: usize) -> NaiveDate {
    ymd((2021 + (q / 4) as i32, (q % 4) as u32 * 3 + 1, 1))
}

/// Number of quarters covered (2021 Q1 – 2023 Q4).
const QUARTERS: usize = 12;

/// What the schedule rules say about a product.
#[derive(Debug, Clone, Copy)]
struct Spec {
    product: Product,
    primary_doses: u8,
    min_interval: i64,
    recommended: [i64; 2],
    min_age: u32,
    from: NaiveDate,
    to: NaiveDate,
}

/// Dates, rules and tables shared by all persons.
struct Calendar {
    specs: [Spec; 9],
    booster1_min_days: i64,
    booster2_min_days: i64,
    adolescent_booster_min_days: i64,
    /// Last day a dose may be given: `as_of` or the end of 2023.
    last: NaiveDate,
    adult_ref: NaiveDate,
    teen_ref: NaiveDate,
    child_ref: NaiveDate,
    child_full_rate_until: NaiveDate,
    child_late_until: NaiveDate,
    hcw_ref: NaiveDate,
    fifty_ref: NaiveDate,
    mixing_from: NaiveDate,
    early_booster_from: NaiveDate,
    adult_dose1: Weighted<(NaiveDate, i64)>,
    hcw_dose1: Weighted<(NaiveDate, i64)>,
    teen_dose1: Weighted<(NaiveDate, i64)>,
    child_dose1: Weighted<(NaiveDate, i64)>,
    adult_booster1: Weighted<(NaiveDate, i64)>,
    hcw_booster1: Weighted<(NaiveDate, i64)>,
    teen_booster1: Weighted<(NaiveDate, i64)>,
    booster2: Weighted<(NaiveDate, i64)>,
    /// Adult first-dose product weights by period: (period start, weights).
    adult_products: Vec<(NaiveDate, [(Product, f64); 9])>,
}

/// Periods `(first day, last day, weight)`.
type Periods = &'static [(Ymd, Ymd, f64)];

const ADULT_DOSE1: Periods = &[
    ((2021, 3, 8), (2021, 3, 31), 0.2),
    ((2021, 4, 1), (2021, 4, 30), 0.3),
    ((2021, 5, 1), (2021, 5, 31), 0.5),
    ((2021, 6, 1), (2021, 6, 30), 1.0),
    ((2021, 7, 1), (2021, 7, 31), 5.0),
    ((2021, 8, 1), (2021, 8, 31), 15.0),
    ((2021, 9, 1), (2021, 9, 30), 23.0),
    ((2021, 10, 1), (2021, 10, 31), 21.0),
    ((2021, 11, 1), (2021, 11, 30), 16.0),
    ((2021, 12, 1), (2021, 12, 31), 12.0),
    ((2022, 1, 1), (2022, 1, 31), 0.6),
    ((2022, 2, 1), (2022, 2, 28), 0.3),
    ((2022, 3, 1), (2022, 3, 31), 0.2),
    ((2022, 4, 1), (2022, 12, 31), 0.35),
    ((2023, 1, 1), (2023, 6, 30), 0.1),
];
const HCW_DOSE1: Periods = &[
    ((2021, 3, 8), (2021, 3, 31), 25.0),
    ((2021, 4, 1), (2021, 4, 30), 30.0),
    ((2021, 5, 1), (2021, 5, 31), 30.0),
    ((2021, 6, 1), (2021, 6, 30), 15.0),
];
const TEEN_DOSE1: Periods = &[
    ((2021, 11, 1), (2021, 11, 30), 30.0),
    ((2021, 12, 1), (2021, 12, 31), 35.0),
    ((2022, 1, 1), (2022, 1, 31), 15.0),
    ((2022, 2, 1), (2022, 2, 28), 8.0),
    ((2022, 3, 1), (2022, 3, 31), 5.0),
    ((2022, 4, 1), (2022, 6, 30), 4.0),
    ((2022, 7, 1), (2022, 12, 31), 2.0),
    ((2023, 1, 1), (2023, 6, 30), 1.0),
];
const CHILD_DOSE1: Periods = &[
    ((2022, 4, 14), (2022, 4, 30), 15.0),
    ((2022, 5, 1), (2022, 5, 31), 30.0),
    ((2022, 6, 1), (2022, 6, 30), 18.0),
    ((2022, 7, 1), (2022, 7, 31), 10.0),
    ((2022, 8, 1), (2022, 8, 31), 8.0),
    ((2022, 9, 1), (2022, 9, 30), 7.0),
    ((2022, 10, 1), (2022, 10, 31), 4.0),
    ((2022, 11, 1), (2022, 11, 30), 3.0),
    ((2022, 12, 1), (2022, 12, 31), 2.0),
    ((2023, 1, 1), (2023, 6, 30), 3.0),
];
const ADULT_BOOSTER1: Periods = &[
    ((2021, 12, 1), (2021, 12, 31), 10.0),
    ((2022, 1, 1), (2022, 1, 31), 22.0),
    ((2022, 2, 1), (2022, 2, 28), 18.0),
    ((2022, 3, 1), (2022, 3, 31), 15.0),
    ((2022, 4, 1), (2022, 4, 30), 10.0),
    ((2022, 5, 1), (2022, 5, 31), 7.0),
    ((2022, 6, 1), (2022, 6, 30), 5.0),
    ((2022, 7, 1), (2022, 9, 30), 6.0),
    ((2022, 10, 1), (2022, 12, 31), 4.0),
    ((2023, 1, 1), (2023, 12, 31), 2.0),
];
const HCW_BOOSTER1: Periods = &[
    ((2021, 11, 15), (2021, 12, 15), 70.0),
    ((2021, 12, 16), (2022, 1, 31), 20.0),
    ((2022, 2, 1), (2022, 6, 30), 10.0),
];
const TEEN_BOOSTER1: Periods = &[
    ((2022, 8, 1), (2022, 8, 31), 25.0),
    ((2022, 9, 1), (2022, 9, 30), 25.0),
    ((2022, 10, 1), (2022, 10, 31), 20.0),
    ((2022, 11, 1), (2022, 11, 30), 12.0),
    ((2022, 12, 1), (2022, 12, 31), 8.0),
    ((2023, 1, 1), (2023, 6, 30), 10.0),
];
const BOOSTER2: Periods = &[
    ((2022, 5, 20), (2022, 6, 30), 15.0),
    ((2022, 7, 1), (2022, 7, 31), 25.0),
    ((2022, 8, 1), (2022, 8, 31), 20.0),
    ((2022, 9, 1), (2022, 9, 30), 15.0),
    ((2022, 10, 1), (2022, 10, 31), 10.0),
    ((2022, 11, 1), (2022, 12, 31), 8.0),
    ((2023, 1, 1), (2023, 12, 31), 7.0),
];

/// Adult first-dose products by period (weights are filtered by supply on the day).
#[rustfmt::skip]
const ADULT_PRODUCTS: &[(Ymd, [f64; 9])] = &[
    //               AZ    Pfizer Moderna Vero  Sputnik Janssen Abdala Hayat Covaxin
    ((2021, 1, 1),  [ 1.0,  0.0,  0.0,  0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    ((2021, 6, 20), [60.0,  7.0,  8.0, 25.0, 1.0, 0.0, 0.0, 0.0, 0.0]),
    ((2021, 8, 1),  [42.0, 12.0,  8.0, 33.0, 2.0, 0.3, 1.0, 1.5, 0.0]),
    ((2021, 10, 1), [36.0, 22.0,  6.0, 24.0, 1.0, 0.3, 7.0, 1.5, 0.5]),
    ((2022, 1, 1),  [30.0, 38.0, 15.0, 15.0, 0.0, 0.0, 1.0, 0.0, 0.5]),
    ((2023, 1, 1),  [ 0.0, 60.0, 40.0,  0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
];
const BOOSTER1_PRODUCTS: [(Product, f64); 3] = [
    (Product::AstraZeneca, 22.0),
    (Product::Pfizer, 45.0),
    (Product::Moderna, 33.0),
];
const TEEN_PRODUCTS: [(Product, f64); 2] = [(Product::Pfizer, 88.0), (Product::Moderna, 12.0)];
const BOOSTER2_PRODUCTS: [(Product, f64); 3] = [
    (Product::AstraZeneca, 5.0),
    (Product::Pfizer, 55.0),
    (Product::Moderna, 40.0),
];

fn periods(table: Periods) -> Weighted<(NaiveDate, i64)> {
    Weighted::from_table(
        &table
            .iter()
            .map(|&(from, to, w)| {
                let from = ymd(from);
                ((from, (ymd(to) - from).num_days() + 1), w)
            })
            .collect::<Vec<_>>(),
    )
}

impl Calendar {
    fn new(as_of: NaiveDate) -> Self {
        let rules = Rules::embedded();
        let specs = PRODUCTS.map(|product| {
            let rule = rules.product(product.mp());
            let (from, to) = product.supply();
            Spec {
                product,
                primary_doses: rule.map_or(2, |r| r.primary_doses.max(1)),
                min_interval: rule.map_or(28, |r| r.min_interval_days),
                recommended: rule.map_or([28, 28], |r| r.recommended_interval_days),
                min_age: rule.map_or(18, |r| r.min_age_years),
                from: ymd(from),
                to: ymd(to),
            }
        });
        let b = &rules.boosters;
        Calendar {
            specs,
            booster1_min_days: b.booster1_min_days_after_primary,
            booster2_min_days: b.booster2_min_days_after_booster1,
            adolescent_booster_min_days: b.adolescent_third_dose_min_days_after_dose2,
            last: as_of.min(ymd((2023, 12, 31))),
            adult_ref: ymd((2021, 11, 1)),
            teen_ref: ymd((2022, 3, 31)),
            child_ref: ymd((2022, 12, 31)),
            child_full_rate_until: ymd((2022, 6, 30)),
            child_late_until: ymd((2023, 6, 30)),
            hcw_ref: ymd((2021, 3, 1)),
            fifty_ref: ymd((2022, 1, 1)),
            mixing_from: ymd((2021, 9, 15)),
            early_booster_from: ymd((2021, 11, 15)),
            adult_dose1: periods(ADULT_DOSE1),
            hcw_dose1: periods(HCW_DOSE1),
            teen_dose1: periods(TEEN_DOSE1),
            child_dose1: periods(CHILD_DOSE1),
            adult_booster1: periods(ADULT_BOOSTER1),
            hcw_booster1: periods(HCW_BOOSTER1),
            teen_booster1: periods(TEEN_BOOSTER1),
            booster2: periods(BOOSTER2),
            adult_products: ADULT_PRODUCTS
                .iter()
                .map(|&(from, w)| (ymd(from), std::array::from_fn(|i| (PRODUCTS[i], w[i]))))
                .collect(),
        }
    }

    fn spec(&self, product: Product) -> &Spec {
        &self.specs[product.index()]
    }

    fn supplied(&self, product: Product, date: NaiveDate) -> bool {
        let s = self.spec(product);
        (s.from..=s.to).contains(&date)
    }

    fn usable(&self, product: Product, dob: NaiveDate, date: NaiveDate) -> bool {
        self.supplied(product, date) && date >= birthday(dob, self.spec(product).min_age)
    }

    /// A product among `weights` usable on `date` by a person born on `dob`.
    fn choose<R: Rng>(
        &self,
        weights: &[(Product, f64)],
        dob: NaiveDate,
        date: NaiveDate,
        rng: &mut R,
    ) -> Option<Product> {
        let usable = |&&(p, w): &&(Product, f64)| w > 0.0 && self.usable(p, dob, date);
        let total: f64 = weights.iter().filter(usable).map(|&(_, w)| w).sum();
        if total <= 0.0 {
            return None;
        }
        let mut target = rng.random::<f64>() * total;
        let mut chosen = None;
        for &(p, w) in weights.iter().filter(usable) {
            chosen = Some(p);
            if target < w {
                break;
            }
            target -= w;
        }
        chosen
    }

    fn adult_first_product<R: Rng>(
        &self,
        dob: NaiveDate,
        date: NaiveDate,
        rng: &mut R,
    ) -> Option<Product> {
        let i = self
            .adult_products
            .partition_point(|(from, _)| *from <= date);
        let weights = &self.adult_products[i.saturating_sub(1)].1;
        self.choose(weights, dob, date, rng)
    }

    /// A recommended primary interval with realistic spread.
    fn interval<R: Rng>(&self, spec: &Spec, rng: &mut R) -> i64 {
        let [lo, hi] = spec.recommended;
        let (lo, hi) = (lo.max(spec.min_interval), hi.max(lo));
        let u = rng.random::<f64>();
        if spec.product == Product::AstraZeneca && u < 0.18 && lo > spec.min_interval {
            // Shortened to 4–8 weeks during the 2021 outbreaks, as Decision 3588 allows.
            rng.random_range(spec.min_interval..lo)
        } else if u < 0.85 {
            rng.random_range(lo..=hi + if lo == hi { 3 } else { 0 })
        } else {
            rng.random_range(hi + 1..=hi + 45)
        }
    }
}

/// A date in a period drawn from a table.
fn draw<R: Rng>(table: &Weighted<(NaiveDate, i64)>, rng: &mut R) -> NaiveDate {
    let (from, days) = table.sample(rng);
    plus(from, rng.random_range(0..days.max(1)))
}

/// The rule a history breaks on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    None,
    ShortInterval,
    Mixing,
    EarlyBooster,
}

/// Campaign group of a person, by age at the start of the group's campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cohort {
    Adult,
    Teen,
    Child,
    /// Turned 5 in the first half of 2023: very rarely vaccinated.
    LateChild,
    Ineligible,
}

/// What the dose generator knows of a person's home.
#[derive(Debug, Clone, Copy)]
struct Home {
    station: usize,
    hospital: Option<usize>,
    provincial: Option<usize>,
    province: usize,
    refusal: f64,
    remote: bool,
}

/// Vaccination sites and each commune's place in them.
struct Sites {
    sites: Vec<DemoSite>,
    /// 2025 commune code → (station site, refusal rate, remote).
    communes: HashMap<String, (usize, f64, bool)>,
    /// Province code → (general hospital site, index into `stations_by_province`).
    provinces: HashMap<String, (usize, usize)>,
    /// Pre-2025 district code → hospital site.
    districts: HashMap<String, usize>,
    stations_by_province: Vec<Vec<usize>>,
}

/// "Xã Bản Lang" → "xã Bản Lang" (the unit kind in lower case, as written after a noun).
fn lower_kind(name: &str, kind: &str) -> String {
    match name.strip_prefix(kind) {
        Some(rest) if !kind.is_empty() => format!("{}{rest}", kind.to_lowercase()),
        _ => name.to_string(),
    }
}

/// Uniform in [0, 1) from the seed and a text (FNV-1a, then a SplitMix64 finaliser).
fn hash_unit(seed: u64, text: &str) -> f64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
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

/// Whether two persons live in the same commune, old commune and province.
fn same_home(a: &Person, b: &Person) -> bool {
    a.commune_code == b.commune_code
        && a.old_commune_code == b.old_commune_code
        && a.province_code == b.province_code
}

/// Runs of consecutive persons with the same home: (first person, length).
fn same_home_runs(persons: &[Person]) -> impl Iterator<Item = (&Person, usize)> {
    persons.chunk_by(same_home).map(|run| (&run[0], run.len()))
}

/// Pre-2025 district of a person's old commune.
fn district_of<'u>(p: &Person, units: &'u AdminUnits) -> Option<&'u str> {
    p.old_commune_code
        .as_deref()
        .and_then(|old| units.pre2025.get(old))
        .and_then(|u| u.parent_code.as_deref())
}

impl Sites {
    fn build(persons: &[Person], units: &AdminUnits, seed: u64) -> Self {
        // Counted by runs of persons sharing a home (households are contiguous), through hash
        // maps, then ordered by code.
        let mut communes: HashMap<&str, (&str, usize)> = HashMap::new();
        let mut districts: HashMap<(&str, &str, &str), usize> = HashMap::new();
        for (p, n) in same_home_runs(persons) {
            communes
                .entry(p.commune_code.as_str())
                .or_insert((p.province_code.as_str(), 0))
                .1 += n;
            if let Some(d) = district_of(p, units) {
                *districts
                    .entry((p.province_code.as_str(), d, p.commune_code.as_str()))
                    .or_default() += n;
            }
        }
        let per_commune: BTreeMap<&str, (&str, usize)> = communes.into_iter().collect();
        let mut per_district: BTreeMap<(&str, &str), BTreeMap<&str, usize>> = BTreeMap::new();
        for ((province, district, commune), n) in districts {
            per_district
                .entry((province, district))
                .or_default()
                .insert(commune, n);
        }
        let mut out = Sites {
            sites: Vec::new(),
            communes: HashMap::new(),
            provinces: HashMap::new(),
            districts: HashMap::new(),
            stations_by_province: Vec::new(),
        };
        // Commune health stations, and the most populous ward (else commune) of each province
        // for its general hospital.
        let mut host: BTreeMap<&str, (usize, bool, &str)> = BTreeMap::new();
        for (&code, &(province, count)) in &per_commune {
            let unit = units.v2025.get(code);
            let kind = unit.map_or("", |u| u.kind.as_str());
            let name = unit.map_or_else(|| code.to_string(), |u| lower_kind(&u.name, kind));
            let ward = kind == "Phường";
            let remote = kind == "Đặc khu" || (!ward && MOUNTAIN_PROVINCES.contains(&province));
            let base = if ward {
                REFUSAL_WARD
            } else if remote {
                REFUSAL_REMOTE
            } else {
                REFUSAL_RURAL
            };
            let refusal = base * (0.5 + hash_unit(seed, code));
            let site = out.sites.len();
            out.sites.push(DemoSite {
                code: format!("TYT-{code}"),
                name: format!("Trạm Y tế {name}"),
                commune_code: code.to_string(),
            });
            out.communes
                .insert(code.to_string(), (site, refusal, remote));
            let best = host.entry(province).or_insert((count, ward, code));
            if (ward, count) > (best.1, best.0) {
                *best = (count, ward, code);
            }
        }
        for (&province, &(_, _, commune)) in &host {
            let unit = units.v2025.get(province);
            let name = unit.map_or_else(|| province.to_string(), |u| lower_kind(&u.name, &u.kind));
            let site = out.sites.len();
            out.sites.push(DemoSite {
                code: format!("BV-{province}"),
                name: format!("Bệnh viện Đa khoa {name}"),
                commune_code: commune.to_string(),
            });
            let stations: Vec<usize> = per_commune
                .iter()
                .filter(|(_, (p, _))| *p == province)
                .map(|(c, _)| out.communes[*c].0)
                .collect();
            out.provinces
                .insert(province.to_string(), (site, out.stations_by_province.len()));
            out.stations_by_province.push(stations);
            // District hospitals of the most populous pre-2025 districts.
            let mut districts: Vec<(&str, usize, &str)> = per_district
                .range((province, "")..)
                .take_while(|((p, _), _)| *p == province)
                .map(|((_, d), communes)| {
                    let total = communes.values().sum();
                    let mut top = ("", 0);
                    for (&c, &n) in communes {
                        if n > top.1 {
                            top = (c, n);
                        }
                    }
                    (*d, total, top.0)
                })
                .collect();
            districts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            districts.truncate(MAX_DISTRICT_HOSPITALS);
            districts.sort_by(|a, b| a.0.cmp(b.0));
            for (district, _, commune) in districts {
                let name = units
                    .pre2025
                    .get(district)
                    .map_or_else(|| district.to_string(), |u| lower_kind(&u.name, &u.kind));
                out.districts.insert(district.to_string(), out.sites.len());
                out.sites.push(DemoSite {
                    code: format!("BV-{district}"),
                    name: format!("Bệnh viện Đa khoa {name}"),
                    commune_code: commune.to_string(),
                });
            }
        }
        out
    }

    fn home(&self, p: &Person, units: &AdminUnits) -> Home {
        let (station, refusal, remote) = self.communes[p.commune_code.as_str()];
        let (provincial, province) = self
            .provinces
            .get(p.province_code.as_str())
            .map_or((None, 0), |&(s, i)| (Some(s), i));
        let hospital = district_of(p, units).and_then(|d| self.districts.get(d).copied());
        Home {
            station,
            hospital,
            provincial,
            province,
            refusal,
            remote,
        }
    }

    /// Where one dose is given.
    fn pick<R: Rng>(&self, home: &Home, health_worker: bool, rng: &mut R) -> usize {
        let hospital = |rng: &mut R| match (home.hospital, home.provincial) {
            (Some(h), Some(p)) => {
                if rng.random_bool(0.65) {
                    h
                } else {
                    p
                }
            }
            (Some(h), None) | (None, Some(h)) => h,
            (None, None) => home.station,
        };
        let u = rng.random::<f64>();
        if health_worker {
            if u < 0.85 {
                hospital(rng)
            } else {
                home.station
            }
        } else if u < 0.07 {
            hospital(rng)
        } else if u < 0.10 {
            let stations = &self.stations_by_province[home.province];
            if stations.is_empty() {
                home.station
            } else {
                stations[rng.random_range(0..stations.len())]
            }
        } else {
            home.station
        }
    }
}

/// Lots by product and quarter.
struct Lots {
    lots: Vec<DemoLot>,
    by_quarter: Vec<[Vec<usize>; QUARTERS]>,
}

impl Lots {
    fn build(cal: &Calendar, seed: u64, as_of: NaiveDate) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(LOT_STREAM);
        let mut lots = Vec::new();
        let mut seen = BTreeSet::new();
        let mut by_quarter = Vec::new();
        for product in PRODUCTS {
            let spec = cal.spec(product);
            let mut quarters: [Vec<usize>; QUARTERS] = Default::default();
            for (q, slot) in quarters.iter_mut().enumerate() {
                let start = quarter_start(q);
                let end = plus(quarter_start(q + 1), -1);
                if start > as_of || end < spec.from || start > spec.to {
                    continue;
                }
                for _ in 0..rng.random_range(3..=6) {
                    let code = loop {
                        let code = lot_code(product, start, &mut rng);
                        if seen.insert(code.clone()) {
                            break code;
                        }
                    };
                    slot.push(lots.len());
                    lots.push(DemoLot {
                        product: product.mp().to_string(),
                        lot: code,
                        expiry: plus(end, rng.random_range(45..=240)),
                    });
                }
            }
            by_quarter.push(quarters);
        }
        Lots { lots, by_quarter }
    }

    /// Index of a lot of `product` delivered in the quarter of `date`.
    fn pick<R: Rng>(&self, product: Product, date: NaiveDate, rng: &mut R) -> usize {
        let lots = &self.by_quarter[product.index()][quarter(date).min(QUARTERS - 1)];
        assert!(!lots.is_empty(), "a lot of every product in supply");
        lots[rng.random_range(0..lots.len())]
    }
}

/// A lot number in the style of the manufacturer's.
fn lot_code<R: Rng>(product: Product, quarter_start: NaiveDate, rng: &mut R) -> String {
    let letter = |rng: &mut R| char::from(b'A' + rng.random_range(0..26u8));
    let made = plus(quarter_start, -rng.random_range(30..120));
    match product {
        Product::AstraZeneca => {
            let l = ['V', 'W', 'X', 'Y'][rng.random_range(0..4)];
            format!("AB{l}{:04}", rng.random_range(0..10_000))
        }
        Product::Pfizer => format!(
            "F{}{:04}",
            char::from(b'A' + (quarter(quarter_start) as u8 + rng.random_range(0..3)) % 26),
            rng.random_range(1000..10_000)
        ),
        Product::Moderna => format!("300{:04}", rng.random_range(0..10_000)),
        Product::VeroCell => format!(
            "{}{:02}{}{:04}",
            made.year(),
            made.month(),
            letter(rng),
            rng.random_range(0..10_000)
        ),
        Product::SputnikV => format!("I-{}", made.format("%d%m%y")),
        Product::Janssen => format!("XD{:03}", rng.random_range(100..1000)),
        Product::Abdala => format!("J0{:03}", rng.random_range(0..1000)),
        Product::HayatVax => format!("H{}{:03}", made.format("%y%m"), rng.random_range(0..1000)),
        Product::Covaxin => format!("EC{:05}", rng.random_range(0..100_000)),
    }
}

/// Draws persons' doses.
struct Planner<'a> {
    cal: &'a Calendar,
}

impl Planner<'_> {
    fn cohort(&self, dob: NaiveDate) -> Cohort {
        let c = self.cal;
        let age = |on| age_on(dob, on).unwrap_or(0);
        if age(c.adult_ref) >= 18 {
            Cohort::Adult
        } else if age(c.teen_ref) >= 12 {
            Cohort::Teen
        } else if age(c.child_ref) >= 5 {
            Cohort::Child
        } else if birthday(dob, 5) <= c.child_late_until {
            Cohort::LateChild
        } else {
            Cohort::Ineligible
        }
    }

    /// Draws one person's doses (date, product) into `out`, in date order; returns whether the
    /// person is a health worker.
    fn plan<R: Rng>(
        &self,
        dob: NaiveDate,
        home: &Home,
        rng: &mut R,
        out: &mut Vec<(NaiveDate, Product)>,
    ) -> bool {
        let c = self.cal;
        let cohort = self.cohort(dob);
        let health_worker = cohort == Cohort::Adult
            && (22..=60).contains(&age_on(dob, c.hcw_ref).unwrap_or(0))
            && rng.random_bool(P_HEALTH_WORKER);
        let uptake = match cohort {
            Cohort::Adult if health_worker => 0.997,
            Cohort::Adult => 1.0 - home.refusal,
            Cohort::Teen => 1.0 - home.refusal - 0.07,
            Cohort::Child if birthday(dob, 5) <= c.child_full_rate_until => {
                0.77 - 2.0 * home.refusal
            }
            Cohort::Child => 0.35,
            Cohort::LateChild => 0.02,
            Cohort::Ineligible => 0.0,
        };
        if uptake <= 0.0 || !rng.random_bool(uptake.min(1.0)) {
            return health_worker;
        }
        let mut rule_break = if rng.random_bool(P_RULE_BREAK) {
            match rng.random_range(0..10) {
                0..5 => Break::ShortInterval,
                5..8 => Break::Mixing,
                _ => Break::EarlyBooster,
            }
        } else {
            Break::None
        };
        // First dose.
        let (table, min_age) = match cohort {
            Cohort::Adult if health_worker => (&c.hcw_dose1, 18),
            Cohort::Adult => (&c.adult_dose1, 18),
            Cohort::Teen => (&c.teen_dose1, 12),
            _ => (&c.child_dose1, 5),
        };
        let mut date = draw(table, rng);
        let eligible = birthday(dob, min_age);
        if date < eligible {
            date = plus(eligible, rng.random_range(7..=90));
        }
        let first = match cohort {
            Cohort::Adult if health_worker => Some(Product::AstraZeneca),
            Cohort::Adult => c.adult_first_product(dob, date, rng),
            Cohort::Teen => c.choose(&TEEN_PRODUCTS, dob, date, rng),
            _ => {
                const PFIZER: [(Product, f64); 1] = [(Product::Pfizer, 1.0)];
                const MODERNA: [(Product, f64); 1] = [(Product::Moderna, 1.0)];
                let weights = if rng.random_bool(0.18) {
                    &MODERNA
                } else {
                    &PFIZER
                };
                c.choose(weights, dob, date, rng)
                    .or_else(|| c.choose(&PFIZER, dob, date, rng))
            }
        };
        let Some(first) = first else {
            return health_worker;
        };
        if date > c.last {
            return health_worker;
        }
        out.push((date, first));
        // Rest of the primary series.
        let spec = *c.spec(first);
        let p_next = match cohort {
            Cohort::Adult => 0.955,
            Cohort::Teen => 0.96,
            _ => 0.85,
        };
        for dose in 2..=spec.primary_doses {
            let p = if dose == 3 { 0.9 } else { p_next };
            if !rng.random_bool(p) {
                return health_worker;
            }
            let mut interval = c.interval(&spec, rng);
            if rule_break == Break::ShortInterval && dose == 2 {
                interval = (spec.min_interval - rng.random_range(3..=8)).max(10);
                rule_break = Break::None;
            }
            let next = plus(date, interval);
            let mut product = self.next_primary(first, dob, next, rng);
            if rule_break == Break::Mixing && dose == 2 {
                let wrong = if first.mixes_with(Product::VeroCell) {
                    Product::Pfizer
                } else {
                    Product::VeroCell
                };
                if c.usable(wrong, dob, next) {
                    product = wrong;
                    rule_break = Break::None;
                }
            }
            if next > c.last || !c.usable(product, dob, next) {
                return health_worker;
            }
            date = next;
            out.push((date, product));
        }
        if rule_break != Break::None {
            rule_break = Break::EarlyBooster;
        }
        // Boosters.
        let fifty = age_on(dob, c.fifty_ref).unwrap_or(0) >= 50;
        let remote = if home.remote { 0.95 } else { 1.0 };
        let adult = (&c.adult_booster1, &BOOSTER1_PRODUCTS[..]);
        let (p_b1, p_b2, (b1_table, b1_products)) = match cohort {
            Cohort::Adult if health_worker => (0.97, 0.85, (&c.hcw_booster1, adult.1)),
            Cohort::Adult if fifty => (0.86 * remote, 0.52, adult),
            Cohort::Adult => (0.76 * remote, 0.24, adult),
            Cohort::Teen => (0.40, 0.0, (&c.teen_booster1, &TEEN_PRODUCTS[..])),
            _ => return health_worker,
        };
        let early = rule_break == Break::EarlyBooster;
        let forced = early && p_b1 > 0.0;
        if !forced && !rng.random_bool(p_b1) {
            return health_worker;
        }
        let min_days = if cohort == Cohort::Teen {
            c.adolescent_booster_min_days.max(c.booster1_min_days)
        } else {
            c.booster1_min_days
        };
        let mut b1 = draw(b1_table, rng);
        let earliest = plus(date, min_days);
        if b1 < earliest {
            b1 = plus(earliest, rng.random_range(0..=30));
        }
        if early {
            let too_early = plus(date, rng.random_range(45..=80).min(min_days - 10));
            if too_early >= c.early_booster_from {
                b1 = too_early;
            }
        }
        let Some(product) = c.choose(b1_products, dob, b1, rng) else {
            return health_worker;
        };
        if b1 > c.last {
            return health_worker;
        }
        out.push((b1, product));
        if !rng.random_bool(p_b2) {
            return health_worker;
        }
        let mut b2 = draw(&c.booster2, rng);
        let earliest = plus(b1, c.booster2_min_days);
        if b2 < earliest {
            b2 = plus(earliest, rng.random_range(0..=30));
        }
        if b2 <= c.last
            && b2 >= birthday(dob, 18)
            && let Some(product) = c.choose(&BOOSTER2_PRODUCTS, dob, b2, rng)
        {
            out.push((b2, product));
        }
        health_worker
    }

    /// The product of a later primary dose: usually the first one; after AstraZeneca sometimes
    /// Pfizer or Moderna (autumn 2021 shortages), Pfizer and Moderna sometimes swapped.
    fn next_primary<R: Rng>(
        &self,
        first: Product,
        dob: NaiveDate,
        date: NaiveDate,
        rng: &mut R,
    ) -> Product {
        let c = self.cal;
        let other = match first {
            Product::AstraZeneca if date >= c.mixing_from && rng.random_bool(0.15) => {
                if rng.random_bool(0.7) {
                    Product::Pfizer
                } else {
                    Product::Moderna
                }
            }
            Product::Pfizer if rng.random_bool(0.04) => Product::Moderna,
            Product::Moderna if rng.random_bool(0.12) => Product::Pfizer,
            _ => first,
        };
        if other != first && c.usable(other, dob, date) {
            other
        } else {
            first
        }
    }
}

/// `2021-000123`.
fn record_number(year: i32, number: u32) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(12);
    let _ = write!(out, "{year}-{number:06}");
    out
}

/// Vaccination histories of `persons` (see the module documentation), as known on `as_of`.
pub fn vaccination_history(
    persons: &[Person],
    units: &AdminUnits,
    seed: u64,
    as_of: NaiveDate,
) -> VaccinationHistory {
    let cal = Calendar::new(as_of);
    let sites = Sites::build(persons, units, seed);
    let lots = Lots::build(&cal, seed, as_of);
    let planner = Planner { cal: &cal };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(DOSE_STREAM);
    // Compact doses first (person, site, lot, date), then record numbers, then the strings.
    let mut drafts: Vec<(u32, u32, u32, NaiveDate)> = Vec::with_capacity(persons.len() * 5 / 2);
    let mut plan = Vec::with_capacity(6);
    let mut index = 0u32;
    for run in persons.chunk_by(same_home) {
        let home = sites.home(&run[0], units);
        for person in run {
            plan.clear();
            let health_worker = planner.plan(person.dob, &home, &mut rng, &mut plan);
            for &(date, product) in &plan {
                let site = sites.pick(&home, health_worker, &mut rng);
                let lot = lots.pick(product, date, &mut rng);
                drafts.push((index, site as u32, lot as u32, date));
            }
            index += 1;
        }
    }
    // Record numbers per site and year, in date order.
    let epoch = ymd((2021, 1, 1));
    let mut keys: Vec<u128> = drafts
        .iter()
        .enumerate()
        .map(|(i, &(_, site, _, date))| {
            let day = (date - epoch).num_days().max(0) as u128;
            u128::from(site) << 96 | day << 64 | i as u128
        })
        .collect();
    keys.sort_unstable();
    let mut numbers = vec![0u32; drafts.len()];
    let mut previous = None;
    let mut number = 0u32;
    for key in keys {
        let i = key as u64 as usize;
        let site_year = ((key >> 96) as u32, drafts[i].3.year());
        if previous != Some(site_year) {
            previous = Some(site_year);
            number = 0;
        }
        number += 1;
        numbers[i] = number;
    }
    let doses = drafts
        .iter()
        .zip(numbers)
        .map(|(&(person, site, lot, date), number)| {
            let lot = &lots.lots[lot as usize];
            DemoDose {
                person_id: persons[person as usize].id,
                record_id: record_number(date.year(), number),
                site_code: sites.sites[site as usize].code.clone(),
                product: lot.product.clone(),
                date,
                lot: lot.lot.clone(),
            }
        })
        .collect();
    VaccinationHistory {
        sites: sites.sites,
        lots: lots.lots,
        doses,
    }
}

#[cfg(test)]
mod tests;
