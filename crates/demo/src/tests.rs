//! End-to-end checks of generated populations against the realism requirements: pyramid,
//! households, geography, names, citizen IDs, phones, determinism and speed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;
use std::time::Instant;

use chrono::NaiveDate;
use domain::ErrorCode;
use domain::name::normalize;
use domain::person::{Person, Phone, Sex};
use domain::population::{AgeBand, age_on};
use domain::units::AdminUnits;

use super::*;

/// Surnames used only by the northern minorities (Lý is also a Kinh surname, so left out).
const MINORITY_ONLY_SURNAMES: &[&str] = &[
    "Giàng", "Sùng", "Vàng", "Thào", "Lò", "Lường", "Quàng", "Tao", "Tẩn", "Chảo", "Hảng", "Mùa",
    "Cầm", "Lầu",
];
const HMONG_SURNAMES: &[&str] = &[
    "Giàng", "Sùng", "Vàng", "Thào", "Mùa", "Lầu", "Hảng", "Tẩn", "Chảo",
];
const THAI_SURNAMES: &[&str] = &["Lò", "Lường", "Quàng", "Cầm", "Tao", "Lù"];

const MOBILE_PREFIXES: &[&str] = &[
    "086", "096", "097", "098", "032", "033", "034", "035", "036", "037", "038", "039", "088",
    "091", "094", "081", "082", "083", "084", "085", "089", "090", "093", "070", "076", "077",
    "078", "079", "056", "058", "059", "099",
];

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).unwrap()
}

fn params(province: &str, persons: usize, seed: u64) -> DemoParams {
    DemoParams {
        province_code: province.to_string(),
        persons,
        seed,
        as_of: as_of(),
    }
}

fn units() -> &'static AdminUnits {
    AdminUnits::embedded()
}

/// Hà Nội, 100,000 persons (shared by the tests).
fn ha_noi() -> &'static DemoPopulation {
    static POPULATION: OnceLock<DemoPopulation> = OnceLock::new();
    POPULATION.get_or_init(|| generate(&params("01", 100_000, 1), units()).unwrap())
}

/// Lai Châu, a northern mountain province, 60,000 persons.
fn lai_chau() -> &'static DemoPopulation {
    static POPULATION: OnceLock<DemoPopulation> = OnceLock::new();
    POPULATION.get_or_init(|| generate(&params("12", 60_000, 2), units()).unwrap())
}

/// Hồ Chí Minh City, 60,000 persons.
fn ho_chi_minh() -> &'static DemoPopulation {
    static POPULATION: OnceLock<DemoPopulation> = OnceLock::new();
    POPULATION.get_or_init(|| generate(&params("79", 60_000, 3), units()).unwrap())
}

fn all_populations() -> [(&'static str, &'static DemoPopulation); 3] {
    [("01", ha_noi()), ("12", lai_chau()), ("79", ho_chi_minh())]
}

/// Family, middle and given name.
fn parts(person: &Person) -> (&str, &str, &str) {
    let words: Vec<&str> = person.full_name.split(' ').collect();
    assert_eq!(words.len(), 3, "{}", person.full_name);
    (words[0], words[1], words[2])
}

fn age(person: &Person) -> u32 {
    age_on(person.dob, as_of()).expect("born before the reference date")
}

/// Persons of each household, in order (the head first).
fn households_of(population: &DemoPopulation) -> Vec<&[Person]> {
    population
        .persons
        .chunk_by(|a, b| a.household_id == b.household_id)
        .collect()
}

fn share(count: usize, total: usize) -> f64 {
    count as f64 / total as f64
}

fn assert_near(what: &str, actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual:.4}, expected {expected:.4} ± {tolerance}"
    );
}

#[test]
fn unknown_province_is_rejected() {
    // 02 (Hà Giang) no longer exists in 2025; 03388 is a commune, not a province.
    for code in ["99", "02", "03388", "", "Lai Châu"] {
        let err = generate(&params(code, 10, 1), units()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput, "{code}");
        assert_eq!(err.details["field"], "province");
        assert!(!err.message_vi.is_empty() && !err.message_en.is_empty());
    }
    let err = generate(&params("12", MAX_PERSONS + 1, 1), units()).unwrap_err();
    assert_eq!(err.details["field"], "persons");
}

#[test]
fn zero_persons_gives_an_empty_population() {
    let population = generate(&params("12", 0, 1), units()).unwrap();
    assert!(population.households.is_empty() && population.persons.is_empty());
}

#[test]
fn tiny_populations_work() {
    for n in 1..=12 {
        let population = generate(&params("12", n, n as u64), units()).unwrap();
        assert_eq!(population.persons.len(), n);
        assert!(!population.households.is_empty());
    }
}

#[test]
fn same_seed_gives_the_same_population_and_another_seed_differs() {
    let first = generate(&params("12", 3_000, 42), units()).unwrap();
    let again = generate(&params("12", 3_000, 42), units()).unwrap();
    assert_eq!(first, again);
    let other = generate(&params("12", 3_000, 43), units()).unwrap();
    assert_ne!(first.persons, other.persons);
    assert_ne!(first.households, other.households);
}

#[test]
fn age_pyramid_matches_the_2019_census() {
    let persons = &ha_noi().persons;
    let mut counts: BTreeMap<AgeBand, usize> = BTreeMap::new();
    for person in persons {
        *counts.entry(AgeBand::of_age(age(person))).or_default() += 1;
    }
    let expected = pyramid::band_shares();
    for (band, expected) in AgeBand::all().zip(expected) {
        let actual = share(counts.get(&band).copied().unwrap_or(0), persons.len());
        assert_near(&format!("band {}", band.label()), actual, expected, 0.01);
    }
}

#[test]
fn sex_ratio_by_age_follows_the_census() {
    let persons = &ha_noi().persons;
    for (ages, expected) in [
        (0..20, 0.51),
        (20..60, 0.50),
        (60..75, 0.44),
        (75..200, 0.36),
    ] {
        let group: Vec<&Person> = persons.iter().filter(|p| ages.contains(&age(p))).collect();
        let males = group.iter().filter(|p| p.sex == Sex::Male).count();
        assert_near(
            &format!("male share {ages:?}"),
            share(males, group.len()),
            expected,
            0.02,
        );
    }
}

#[test]
fn nobody_is_born_after_the_reference_date() {
    for (_, population) in all_populations() {
        for person in &population.persons {
            assert!(person.dob <= as_of(), "{}", person.dob);
            assert!(age(person) <= u32::from(pyramid::MAX_AGE));
        }
    }
}

#[test]
fn every_person_belongs_to_a_household_of_the_province() {
    for (province, population) in all_populations() {
        let ids: BTreeSet<uuid::Uuid> = population.households.iter().map(|h| h.id).collect();
        assert_eq!(
            ids.len(),
            population.households.len(),
            "household ids repeat"
        );
        let groups = households_of(population);
        assert_eq!(
            groups.len(),
            population.households.len(),
            "persons grouped by household"
        );
        for (household, members) in population.households.iter().zip(&groups) {
            assert_eq!(household.province_code, province);
            for person in *members {
                assert_eq!(person.province_code, province);
                assert_eq!(person.household_id, Some(household.id));
            }
        }
        let person_ids: HashSet<uuid::Uuid> = population.persons.iter().map(|p| p.id).collect();
        assert_eq!(
            person_ids.len(),
            population.persons.len(),
            "person ids repeat"
        );
    }
}

#[test]
fn mean_household_size_is_realistic() {
    for (province, population) in all_populations() {
        let mean = share(population.persons.len(), population.households.len());
        assert!(
            (2.5..=4.5).contains(&mean),
            "{province}: mean size {mean:.2}"
        );
    }
}

#[test]
fn household_members_share_its_commune() {
    let units = units();
    for (province, population) in all_populations() {
        let groups = households_of(population);
        for (household, members) in population.households.iter().zip(&groups) {
            let commune = units.v2025.get(&household.commune_code).unwrap();
            assert!(units.v2025.is_within(&commune.code, province));
            let olds = units.old_communes_for_new(&commune.code);
            match &household.old_commune_code {
                Some(old) => assert!(olds.contains(old), "{old} not in {}", commune.code),
                None => assert!(olds.is_empty()),
            }
            assert!(!household.address.is_empty());
            for person in *members {
                assert_eq!(person.commune_code, household.commune_code);
                assert_eq!(person.old_commune_code, household.old_commune_code);
            }
        }
    }
}

#[test]
fn wards_receive_about_three_times_as_many_households() {
    let units = units();
    let population = ha_noi();
    let mut per_commune: BTreeMap<&str, usize> = BTreeMap::new();
    for household in &population.households {
        *per_commune.entry(&household.commune_code).or_default() += 1;
    }
    let (mut wards, mut ward_households, mut others, mut other_households) = (0, 0, 0, 0);
    for commune in units
        .v2025
        .list(domain::units::UnitLevel::Commune, Some("01"))
        .unwrap()
    {
        let count = per_commune.get(commune.code.as_str()).copied().unwrap_or(0);
        if commune.kind == "Phường" {
            wards += 1;
            ward_households += count;
        } else {
            others += 1;
            other_households += count;
        }
    }
    let ratio = share(ward_households, wards) / share(other_households, others);
    assert_near("ward/commune density ratio", ratio, 3.0, 0.5);
}

#[test]
fn addresses_look_vietnamese() {
    for (_, population) in all_populations() {
        for household in &population.households {
            let a = &household.address;
            assert!(
                ["Số ", "Thôn ", "Bản ", "Ấp "]
                    .iter()
                    .any(|p| a.starts_with(p)),
                "{a}"
            );
        }
    }
    assert!(
        lai_chau()
            .households
            .iter()
            .any(|h| h.address.starts_with("Bản "))
    );
    assert!(
        ho_chi_minh()
            .households
            .iter()
            .any(|h| h.address.starts_with("Ấp "))
    );
}

#[test]
fn names_are_normalised_three_part_names() {
    for (_, population) in all_populations() {
        for person in &population.persons {
            assert_eq!(normalize(&person.full_name), person.full_name);
            let (family, middle, given) = parts(person);
            assert!(!family.is_empty() && !middle.is_empty() && !given.is_empty());
            assert_ne!(middle, given, "{}", person.full_name);
        }
    }
}

#[test]
fn surnames_follow_national_frequencies() {
    let persons = &ha_noi().persons;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for person in persons {
        *counts.entry(parts(person).0).or_default() += 1;
    }
    let surname_share = |name: &str| share(counts.get(name).copied().unwrap_or(0), persons.len());
    for (name, expected, tolerance) in [
        ("Nguyễn", 0.38, 0.02),
        ("Trần", 0.11, 0.012),
        ("Lê", 0.095, 0.012),
        ("Phạm", 0.07, 0.01),
        ("Phan", 0.045, 0.008),
        ("Đặng", 0.021, 0.005),
        ("Bùi", 0.02, 0.005),
        ("Dương", 0.01, 0.004),
    ] {
        assert_near(name, surname_share(name), expected, tolerance);
    }
    assert_near(
        "Hoàng + Huỳnh",
        surname_share("Hoàng") + surname_share("Huỳnh"),
        0.05,
        0.008,
    );
    assert!(surname_share("Hoàng") > 3.0 * surname_share("Huỳnh"));
    assert!(surname_share("Vũ") > 3.0 * surname_share("Võ"));
    assert!(counts.len() >= 30, "{} surnames", counts.len());
    for minority in MINORITY_ONLY_SURNAMES {
        assert!(!counts.contains_key(minority), "{minority} in Hà Nội");
    }

    let south = &ho_chi_minh().persons;
    let south_count = |name: &str| south.iter().filter(|p| parts(p).0 == name).count();
    assert!(south_count("Huỳnh") > 3 * south_count("Hoàng"));
    assert!(south_count("Võ") > 3 * south_count("Vũ"));
}

#[test]
fn middle_names_match_sex() {
    for (_, population) in all_populations() {
        for person in &population.persons {
            let middle = parts(person).1;
            match person.sex {
                Sex::Female => assert_ne!(middle, "Văn", "{}", person.full_name),
                Sex::Male => assert_ne!(middle, "Thị", "{}", person.full_name),
            }
        }
    }
    let persons = &ha_noi().persons;
    let middle_share = |sex: Sex, middle: &str| {
        let group: Vec<&Person> = persons.iter().filter(|p| p.sex == sex).collect();
        share(
            group.iter().filter(|p| parts(p).1 == middle).count(),
            group.len(),
        )
    };
    assert_near(
        "Thị among women",
        middle_share(Sex::Female, "Thị"),
        0.60,
        0.05,
    );
    assert_near("Văn among men", middle_share(Sex::Male, "Văn"), 0.45, 0.05);
}

#[test]
fn given_names_come_from_large_lists_by_sex() {
    let persons = &ha_noi().persons;
    let given = |sex: Sex| -> BTreeSet<&str> {
        persons
            .iter()
            .filter(|p| p.sex == sex)
            .map(|p| parts(p).2)
            .collect()
    };
    let (male, female) = (given(Sex::Male), given(Sex::Female));
    assert!(male.len() >= 40 && female.len() >= 40);
    for name in ["Hùng", "Dũng", "Cường", "Thắng"] {
        assert!(male.contains(name) && !female.contains(name), "{name}");
    }
    for name in ["Lan", "Hương", "Nhung", "Yến"] {
        assert!(female.contains(name) && !male.contains(name), "{name}");
    }
}

#[test]
fn children_take_the_head_surname_and_wives_keep_theirs() {
    for (_, population) in all_populations() {
        for members in households_of(population) {
            let head_surname = parts(&members[0]).0;
            for person in &members[1..] {
                if age(person) < 18 {
                    assert_eq!(parts(person).0, head_surname, "{}", person.full_name);
                }
            }
        }
    }
    // Wives of male heads: sharing the husband's surname only by chance (about 17 % in the Kinh
    // distribution), not by rule.
    let (mut wives, mut same) = (0, 0);
    for members in households_of(ha_noi()) {
        if let [head, second, ..] = members {
            let gap = age(head) as i64 - age(second) as i64;
            if head.sex == Sex::Male && second.sex == Sex::Female && (-2..=8).contains(&gap) {
                wives += 1;
                same += usize::from(parts(head).0 == parts(second).0);
            }
        }
    }
    assert!(wives > 10_000, "{wives}");
    assert_near("wives sharing the surname", share(same, wives), 0.18, 0.06);
}

#[test]
fn mountain_provinces_mix_minority_households() {
    let population = lai_chau();
    let groups = households_of(population);
    let minority = groups
        .iter()
        .filter(|m| MINORITY_ONLY_SURNAMES.contains(&parts(&m[0]).0))
        .count();
    assert_near(
        "minority households",
        share(minority, groups.len()),
        0.5,
        0.06,
    );
    for person in &population.persons {
        let (family, middle, _) = parts(person);
        if HMONG_SURNAMES.contains(&family) {
            let expected: &[&str] = match person.sex {
                Sex::Male => &["A", "Seo"],
                Sex::Female => &["Thị"],
            };
            assert!(expected.contains(&middle), "{}", person.full_name);
        } else if THAI_SURNAMES.contains(&family) {
            let expected = match person.sex {
                Sex::Male => "Văn",
                Sex::Female => "Thị",
            };
            assert_eq!(middle, expected, "{}", person.full_name);
        }
    }
}

#[test]
fn citizen_ids_are_consistent_unique_and_mostly_local() {
    let units = units();
    for (province, population) in all_populations() {
        let mut seen = HashSet::new();
        let (mut with_id, mut local) = (0, 0);
        for person in &population.persons {
            let Some(id) = &person.national_id else {
                continue;
            };
            with_id += 1;
            assert!(
                id.consistent_with(person.sex, person.dob),
                "{id:?} {}",
                person.dob
            );
            assert!(seen.insert(id.as_str().to_string()), "{id:?} repeats");
            let home = person
                .old_commune_code
                .as_deref()
                .and_then(|old| units.pre2025.province_of(old))
                .map_or_else(|| format!("0{province}"), |p| format!("0{}", p.code));
            let birth = id.province_of_birth();
            assert!(units.pre2025.get(&birth[1..]).is_some(), "{birth}");
            local += usize::from(birth == home);
        }
        let total = population.persons.len();
        assert_near(
            "records without ID",
            share(total - with_id, total),
            0.03,
            0.01,
        );
        assert_near(
            "born in the home province",
            share(local, with_id),
            0.95,
            0.015,
        );
    }
}

#[test]
fn phones_are_mobile_numbers_of_people_over_fifteen() {
    for (_, population) in all_populations() {
        let (mut adults, mut with_phone) = (0, 0);
        for person in &population.persons {
            if age(person) < 15 {
                assert!(person.phone.is_none());
                continue;
            }
            adults += 1;
            if let Some(phone) = &person.phone {
                with_phone += 1;
                let number = phone.as_str();
                assert_eq!(number.len(), 10);
                assert!(MOBILE_PREFIXES.contains(&&number[..3]), "{number}");
                assert_eq!(Phone::parse(number).as_ref(), Ok(phone));
            }
        }
        assert_near("adults with a phone", share(with_phone, adults), 0.9, 0.01);
    }
}

#[test]
fn generation_rate_for_200_000_persons() {
    let units = units(); // parse the embedded unit lists outside the timed part
    let params = params("01", 200_000, 7);
    let start = Instant::now();
    let population = generate(&params, units).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(population.persons.len(), 200_000);
    let rate = population.persons.len() as f64 / elapsed.as_secs_f64();
    println!(
        "generated {} persons in {} households in {:.3} s: {:.0} persons/s",
        population.persons.len(),
        population.households.len(),
        elapsed.as_secs_f64(),
        rate
    );
}
