//! Checks of the vaccination histories against the realism requirements: coverage by campaign
//! group, dates, intervals (through the schedule engine), sites, lots, determinism and speed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Instant;

use domain::schedule::{DoseEvent, evaluate};
use domain::vaccines::VaccineCatalogue;

use super::*;
use crate::{DemoParams, DemoPopulation, generate};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn as_of() -> NaiveDate {
    date(2026, 11, 1)
}

fn units() -> &'static AdminUnits {
    AdminUnits::embedded()
}

fn population(province: &str, persons: usize, seed: u64) -> DemoPopulation {
    let params = DemoParams {
        province_code: province.to_string(),
        persons,
        seed,
        as_of: as_of(),
    };
    generate(&params, units()).unwrap()
}

/// Lai Châu, 20,000 persons, and their histories (shared by the tests).
fn lai_chau() -> &'static (DemoPopulation, VaccinationHistory) {
    static DATA: OnceLock<(DemoPopulation, VaccinationHistory)> = OnceLock::new();
    DATA.get_or_init(|| {
        let pop = population("12", 20_000, 5);
        let history = vaccination_history(&pop.persons, units(), 5, as_of());
        (pop, history)
    })
}

/// Doses by person, in date order.
fn by_person(history: &VaccinationHistory) -> HashMap<Uuid, Vec<&DemoDose>> {
    let mut out: HashMap<Uuid, Vec<&DemoDose>> = HashMap::new();
    for d in &history.doses {
        out.entry(d.person_id).or_default().push(d);
    }
    out
}

/// Campaign groups as the module defines them (restated, by age at each campaign's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Adult50,
    Adult18to49,
    Teen,
    Child,
    Under5,
}

fn group(dob: NaiveDate) -> Group {
    let age = |on| age_on(dob, on).unwrap_or(0);
    if age(date(2021, 11, 1)) >= 18 {
        if age(date(2022, 1, 1)) >= 50 {
            Group::Adult50
        } else {
            Group::Adult18to49
        }
    } else if age(date(2022, 3, 31)) >= 12 {
        Group::Teen
    } else if age(date(2022, 12, 31)) >= 5 {
        Group::Child
    } else {
        Group::Under5
    }
}

/// Per group: persons, first dose, first dose by end of 2021, primary complete, booster 1,
/// booster 2 (classified by the schedule engine).
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    persons: usize,
    first: usize,
    first_2021: usize,
    primary: usize,
    booster1: usize,
    booster2: usize,
}

impl Counts {
    fn share(&self, n: usize) -> f64 {
        n as f64 / self.persons.max(1) as f64
    }
    fn add(&mut self, o: &Counts) {
        self.persons += o.persons;
        self.first += o.first;
        self.first_2021 += o.first_2021;
        self.primary += o.primary;
        self.booster1 += o.booster1;
        self.booster2 += o.booster2;
    }
}

fn events(doses: &[&DemoDose]) -> Vec<DoseEvent> {
    doses
        .iter()
        .map(|d| {
            serde_json::from_value(serde_json::json!({
                "date": d.date.to_string(),
                "product": d.product,
            }))
            .unwrap()
        })
        .collect()
}

fn counts(pop: &DemoPopulation, history: &VaccinationHistory) -> BTreeMap<Group, Counts> {
    let doses = by_person(history);
    let rules = Rules::embedded();
    let mut out: BTreeMap<Group, Counts> = BTreeMap::new();
    for p in &pop.persons {
        let c = out.entry(group(p.dob)).or_default();
        c.persons += 1;
        let Some(mine) = doses.get(&p.id) else {
            continue;
        };
        c.first += 1;
        c.first_2021 += usize::from(mine[0].date <= date(2021, 12, 31));
        let status = evaluate(rules, p.dob, &events(mine), &[]);
        c.primary += usize::from(status.primary_complete.is_some());
        c.booster1 += usize::from(status.boosters >= 1);
        c.booster2 += usize::from(status.boosters >= 2);
    }
    out
}

fn assert_in(what: &str, value: f64, lo: f64, hi: f64) {
    assert!(
        (lo..=hi).contains(&value),
        "{what} = {value:.4}, expected {lo}–{hi}"
    );
}

#[test]
fn same_seed_gives_the_same_history_and_another_seed_differs() {
    let pop = population("12", 3_000, 11);
    let a = vaccination_history(&pop.persons, units(), 3, as_of());
    let b = vaccination_history(&pop.persons, units(), 3, as_of());
    assert_eq!(a, b);
    assert!(!a.doses.is_empty());
    let c = vaccination_history(&pop.persons, units(), 4, as_of());
    assert_ne!(a.doses, c.doses);
    assert_eq!(a.sites, c.sites);
}

#[test]
fn empty_population_gives_no_doses() {
    let h = vaccination_history(&[], units(), 1, as_of());
    assert!(h.sites.is_empty() && h.doses.is_empty());
    assert!(!h.lots.is_empty());
}

#[test]
fn coverage_by_campaign_group_is_realistic_in_lai_chau() {
    let (pop, history) = lai_chau();
    check_coverage(pop, history);
}

#[test]
fn coverage_by_campaign_group_is_realistic_in_ha_noi() {
    let pop = population("01", 20_000, 6);
    let history = vaccination_history(&pop.persons, units(), 6, as_of());
    check_coverage(&pop, &history);
}

fn check_coverage(pop: &DemoPopulation, history: &VaccinationHistory) {
    let by_group = counts(pop, history);
    let mut adults = Counts::default();
    adults.add(&by_group[&Group::Adult50]);
    adults.add(&by_group[&Group::Adult18to49]);
    for (name, c) in by_group
        .iter()
        .map(|(g, c)| (format!("{g:?}"), *c))
        .chain([("Adults".to_string(), adults)])
    {
        println!(
            "{name:12} n={:6} first={:.3} (by 2021: {:.3}) primary={:.3} booster1={:.3} booster2={:.3}",
            c.persons,
            c.share(c.first),
            c.share(c.first_2021),
            c.share(c.primary),
            c.share(c.booster1),
            c.share(c.booster2)
        );
    }
    assert_in(
        "adults, first dose by end 2021",
        adults.share(adults.first_2021),
        0.95,
        0.98,
    );
    assert_in("adults, first dose", adults.share(adults.first), 0.95, 0.99);
    assert_in(
        "adults, primary complete",
        adults.share(adults.primary),
        0.90,
        0.95,
    );
    assert_in(
        "adults, booster 1",
        adults.share(adults.booster1),
        0.65,
        0.80,
    );
    assert_in(
        "adults, booster 2",
        adults.share(adults.booster2),
        0.20,
        0.40,
    );
    let (old, young) = (&by_group[&Group::Adult50], &by_group[&Group::Adult18to49]);
    assert!(old.share(old.booster1) > young.share(young.booster1) + 0.05);
    assert!(old.share(old.booster2) > 1.5 * young.share(young.booster2));
    let teen = &by_group[&Group::Teen];
    assert_in("12–17, first dose", teen.share(teen.first), 0.86, 0.94);
    assert_in("12–17, primary", teen.share(teen.primary), 0.80, 0.92);
    assert_eq!(teen.booster2, 0);
    let child = &by_group[&Group::Child];
    assert_in("5–11, first dose", child.share(child.first), 0.60, 0.80);
    assert_eq!(child.booster1, 0);
    let under5 = &by_group[&Group::Under5];
    assert_in(
        "under 5 in 2022, first dose",
        under5.share(under5.first),
        0.0,
        0.01,
    );
}

#[test]
fn doses_respect_min_age_campaign_dates_and_as_of() {
    let rules = Rules::embedded();
    let catalogue = VaccineCatalogue::embedded();
    for as_of in [as_of(), date(2021, 10, 15), date(2022, 6, 1)] {
        let pop = population("12", 5_000, 21);
        let dob: HashMap<Uuid, NaiveDate> = pop.persons.iter().map(|p| (p.id, p.dob)).collect();
        let history = vaccination_history(&pop.persons, units(), 8, as_of);
        assert!(!history.doses.is_empty());
        for d in &history.doses {
            let rule = rules.product(&d.product).expect("product with a rule");
            assert_eq!(catalogue.resolve(&d.product).unwrap().code, d.product);
            let born = dob[&d.person_id];
            assert!(
                age_on(born, d.date).unwrap() >= rule.min_age_years,
                "{d:?} born {born}"
            );
            assert!(d.date <= as_of && d.date <= date(2023, 12, 31), "{d:?}");
            assert!(d.date >= date(2021, 3, 8), "{d:?}");
        }
        for (_, doses) in by_person(&history) {
            assert!(doses.windows(2).all(|w| w[0].date <= w[1].date));
            assert!(doses.len() <= 5);
        }
    }
}

#[test]
fn products_follow_the_vietnamese_timeline() {
    let (pop, history) = lai_chau();
    let groups: HashMap<Uuid, Group> = pop.persons.iter().map(|p| (p.id, group(p.dob))).collect();
    let mut first_use: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    let mut first_doses: BTreeMap<(Group, &str), usize> = BTreeMap::new();
    for (id, doses) in by_person(history) {
        *first_doses
            .entry((groups[&id], doses[0].product.as_str()))
            .or_default() += 1;
    }
    for d in &history.doses {
        let e = first_use.entry(d.product.as_str()).or_insert(d.date);
        *e = (*e).min(d.date);
    }
    assert!(first_use["EU/1/21/1529"] < date(2021, 4, 1));
    assert!(first_use["BBIBP-CorV"] >= date(2021, 6, 1));
    assert!(first_use["EU/1/20/1528"] >= date(2021, 7, 1));
    assert!(first_use["EU/1/20/1507"] >= date(2021, 7, 1));
    let total = |g: Group| -> usize {
        first_doses
            .iter()
            .filter(|((gg, _), _)| *gg == g)
            .map(|(_, n)| n)
            .sum()
    };
    let share =
        |g: Group, p: &str| first_doses.get(&(g, p)).copied().unwrap_or(0) as f64 / total(g) as f64;
    let adults = Group::Adult18to49;
    println!("first doses by group and product: {first_doses:?}");
    assert_in(
        "AZ share of adult first doses",
        share(adults, "EU/1/21/1529"),
        0.3,
        0.5,
    );
    assert_in("Vero Cell share", share(adults, "BBIBP-CorV"), 0.2, 0.35);
    let rare: f64 = [
        "Sputnik-V",
        "EU/1/20/1525",
        "Abdala",
        "Hayat-Vax",
        "Covaxin",
    ]
    .iter()
    .map(|p| share(adults, p))
    .sum();
    assert_in("rare products", rare, 0.02, 0.10);
    assert!(share(Group::Teen, "EU/1/20/1528") > 0.8);
    assert_in(
        "Pfizer or Moderna for children",
        share(Group::Child, "EU/1/20/1528") + share(Group::Child, "EU/1/20/1507"),
        1.0,
        1.0,
    );
}

#[test]
fn about_half_a_percent_of_histories_break_an_interval_or_mixing_rule() {
    let (pop, history) = lai_chau();
    let doses = by_person(history);
    let rules = Rules::embedded();
    let mut vaccinated = 0;
    let mut broken = 0;
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &pop.persons {
        let Some(mine) = doses.get(&p.id) else {
            continue;
        };
        vaccinated += 1;
        let status = evaluate(rules, p.dob, &events(mine), &[]);
        let warnings: Vec<&str> = status
            .doses
            .iter()
            .flat_map(|d| d.warnings.iter().map(|w| w.code))
            .collect();
        broken += usize::from(!warnings.is_empty());
        for w in warnings {
            *codes.entry(w).or_default() += 1;
        }
    }
    println!("{broken} of {vaccinated} histories with warnings: {codes:?}");
    assert_in(
        "histories with warnings",
        broken as f64 / vaccinated as f64,
        0.002,
        0.01,
    );
    assert!(
        codes
            .keys()
            .all(|c| ["interval_too_short", "mixing_not_allowed"].contains(c)),
        "{codes:?}"
    );
}

#[test]
fn never_vaccinated_adults_are_more_common_in_remote_communes() {
    let (pop, history) = lai_chau();
    let doses = by_person(history);
    let mut by_kind: BTreeMap<bool, (usize, usize)> = BTreeMap::new();
    for p in &pop.persons {
        if !matches!(group(p.dob), Group::Adult50 | Group::Adult18to49) {
            continue;
        }
        let ward = units().v2025.get(&p.commune_code).unwrap().kind == "Phường";
        let e = by_kind.entry(ward).or_default();
        e.0 += 1;
        e.1 += usize::from(!doses.contains_key(&p.id));
    }
    let rate = |ward| {
        let (n, never) = by_kind[&ward];
        never as f64 / n as f64
    };
    println!(
        "never vaccinated adults: wards {:.4}, rural {:.4}",
        rate(true),
        rate(false)
    );
    assert!(rate(false) > rate(true));
    assert_in("never vaccinated, remote", rate(false), 0.01, 0.05);
}

#[test]
fn sites_cover_every_commune_and_record_ids_are_unique_per_site() {
    let (pop, history) = lai_chau();
    let communes: BTreeSet<&str> = pop
        .persons
        .iter()
        .map(|p| p.commune_code.as_str())
        .collect();
    let stations: Vec<&DemoSite> = history
        .sites
        .iter()
        .filter(|s| s.code.starts_with("TYT-"))
        .collect();
    assert_eq!(stations.len(), communes.len());
    for s in &stations {
        assert_eq!(s.code, format!("TYT-{}", s.commune_code));
        assert!(
            s.name.starts_with("Trạm Y tế xã ") || s.name.starts_with("Trạm Y tế phường "),
            "{}",
            s.name
        );
    }
    let hospitals: Vec<&DemoSite> = history
        .sites
        .iter()
        .filter(|s| s.code.starts_with("BV-"))
        .collect();
    assert!((2..=1 + MAX_DISTRICT_HOSPITALS).contains(&hospitals.len()));
    assert_eq!(hospitals[0].name, "Bệnh viện Đa khoa tỉnh Lai Châu");
    assert!(
        hospitals
            .iter()
            .all(|h| communes.contains(h.commune_code.as_str()))
    );
    println!("{hospitals:?}");
    let codes: HashSet<&str> = history.sites.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(codes.len(), history.sites.len());
    let mut seen = HashSet::new();
    let home: HashMap<Uuid, &str> = pop
        .persons
        .iter()
        .map(|p| (p.id, p.commune_code.as_str()))
        .collect();
    let mut at_home = 0;
    for d in &history.doses {
        assert!(codes.contains(d.site_code.as_str()));
        assert!(
            seen.insert((d.site_code.as_str(), d.record_id.as_str())),
            "{d:?}"
        );
        assert!(d.record_id.starts_with(&d.date.year().to_string()));
        at_home += usize::from(d.site_code == format!("TYT-{}", home[&d.person_id]));
    }
    assert_in(
        "doses at the home station",
        at_home as f64 / history.doses.len() as f64,
        0.85,
        0.93,
    );
}

#[test]
fn every_dose_uses_an_unexpired_lot_of_its_product() {
    let (_, history) = lai_chau();
    let lots: HashMap<&str, &DemoLot> = history.lots.iter().map(|l| (l.lot.as_str(), l)).collect();
    assert_eq!(lots.len(), history.lots.len(), "lot numbers are unique");
    let mut used: BTreeMap<(&str, usize), BTreeSet<&str>> = BTreeMap::new();
    for d in &history.doses {
        let lot = lots.get(d.lot.as_str()).unwrap_or_else(|| panic!("{d:?}"));
        assert_eq!(lot.product, d.product);
        assert!(lot.expiry >= d.date, "{d:?} {lot:?}");
        used.entry((d.product.as_str(), quarter(d.date)))
            .or_default()
            .insert(d.lot.as_str());
    }
    // A handful of lots per product and quarter.
    for (key, lots) in &used {
        assert!((1..=6).contains(&lots.len()), "{key:?}");
    }
}

/// Run with `cargo test --release -p demo -- --ignored --nocapture one_million`.
#[test]
#[ignore]
fn one_million_persons() {
    let pop = population("01", 1_000_000, 1);
    let _ = vaccination_history(&pop.persons, units(), 1, as_of());
    let start = Instant::now();
    let history = vaccination_history(&pop.persons, units(), 1, as_of());
    let elapsed = start.elapsed();
    println!(
        "{} persons: {} doses, {} sites, {} lots in {:.3} s",
        pop.persons.len(),
        history.doses.len(),
        history.sites.len(),
        history.lots.len(),
        elapsed.as_secs_f64()
    );
}
