//! Noisy Vietnamese records for record-linkage tests and benchmarks.
//!
//! [`noisy_linkage_data`] builds a population register (from [`crate::generate`], with twins
//! added) and a file of records "typed at vaccination sites": each record belongs to one person,
//! 90% of them (by default) people of the register and the rest people who are absent from it.
//! Records carry the errors seen in real Vietnamese data, each drawn independently:
//!
//! - names: diacritics lost, upper case, extra or missing spaces, a letter mistyped, regional
//!   surname variants (Hoàng/Huỳnh, Vũ/Võ);
//! - citizen ID: missing, two adjacent digits swapped, one digit wrong;
//! - date of birth: day and month swapped, year only, day mistyped;
//! - commune: the pre-2025 code instead of the 2025 code, missing, or another commune (moved);
//! - phone: missing, or another number; sex missing.
//!
//! Twins share surname, middle name, birth date, commune, household and often the parent's phone;
//! they differ in given name and citizen ID. The truth (which person each record belongs to) is
//! returned beside the records so that precision, recall and F1 can be measured.

use chrono::{Datelike, NaiveDate};
use domain::Error;
use domain::person::{NationalId, Person, Sex};
use domain::units::AdminUnits;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

use crate::{DemoParams, generate};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct NoisyParams {
    /// 2025 province code.
    pub province_code: String,
    /// Persons in the register (twins included).
    pub register: usize,
    /// Records to link.
    pub records: usize,
    /// Share of records belonging to people absent from the register.
    pub absent_share: f64,
    /// Share of register persons who have a twin in the register.
    pub twin_share: f64,
    pub seed: u64,
    pub as_of: NaiveDate,
}

impl NoisyParams {
    /// Defaults used by the tests and the benchmark: 10% absent, 1% twins.
    pub fn new(province_code: &str, register: usize, records: usize, seed: u64) -> Self {
        NoisyParams {
            province_code: province_code.to_string(),
            register,
            records,
            absent_share: 0.10,
            twin_share: 0.01,
            seed,
            as_of: NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date"),
        }
    }
}

/// One row of a register or record file; every field as text, empty when missing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkageRow {
    pub id: String,
    pub full_name: String,
    pub dob: String,
    pub sex: String,
    pub national_id: String,
    pub commune_code: String,
    pub phone: String,
}

/// Kinds of error put into records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoiseKind {
    NoDiacritics,
    UpperCase,
    Spacing,
    NameTypo,
    SurnameVariant,
    IdMissing,
    IdTransposed,
    IdDigitWrong,
    DobSwapped,
    DobYearOnly,
    DobDayTypo,
    OldCommuneCode,
    CommuneMissing,
    /// Moved: the record gives another commune of the province.
    CommuneMoved,
    PhoneMissing,
    PhoneOther,
    SexMissing,
}

/// A record with its truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoisyRecord {
    pub row: LinkageRow,
    /// The register person it belongs to; `None` for people absent from the register.
    pub person_id: Option<String>,
    pub noise: Vec<NoiseKind>,
}

/// A register and records to link to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoisyDataset {
    pub register: Vec<LinkageRow>,
    pub records: Vec<NoisyRecord>,
}

/// Probability of each error kind (independent draws).
const NOISE: [(NoiseKind, f64); 17] = [
    (NoiseKind::NoDiacritics, 0.30),
    (NoiseKind::UpperCase, 0.10),
    (NoiseKind::Spacing, 0.05),
    (NoiseKind::NameTypo, 0.05),
    (NoiseKind::SurnameVariant, 0.50), // of records whose surname has a regional variant
    (NoiseKind::IdMissing, 0.20),
    (NoiseKind::IdTransposed, 0.04),
    (NoiseKind::IdDigitWrong, 0.04),
    (NoiseKind::DobSwapped, 0.05),
    (NoiseKind::DobYearOnly, 0.08),
    (NoiseKind::DobDayTypo, 0.02),
    (NoiseKind::OldCommuneCode, 0.25),
    (NoiseKind::CommuneMissing, 0.05),
    (NoiseKind::CommuneMoved, 0.02),
    (NoiseKind::PhoneMissing, 0.30),
    (NoiseKind::PhoneOther, 0.05),
    (NoiseKind::SexMissing, 0.02),
];

/// Regional surname variants (North/South pronunciations written differently).
const SURNAME_VARIANTS: [(&str, &str); 2] = [("Hoàng", "Huỳnh"), ("Vũ", "Võ")];

/// Builds a register and noisy records (see the module documentation).
///
/// Errors like [`crate::generate`] for an unknown province, and with `invalid_input` when
/// `records` is larger than the register can supply.
pub fn noisy_linkage_data(params: &NoisyParams, units: &AdminUnits) -> Result<NoisyDataset, Error> {
    let absent = (params.records as f64 * params.absent_share).round() as usize;
    let present = params.records - absent;
    let twins = (params.register as f64 * params.twin_share / 2.0).round() as usize;
    let base = params.register.saturating_sub(twins);
    if present > params.register {
        return Err(Error::invalid(
            "records",
            format!(
                "Số bản ghi của người có trong sổ ({present}) lớn hơn số người trong sổ ({})",
                params.register
            ),
            format!(
                "More records of registered people ({present}) than people in the register ({})",
                params.register
            ),
        ));
    }
    let population = generate(
        &DemoParams {
            province_code: params.province_code.clone(),
            persons: base + absent,
            seed: params.seed,
            as_of: params.as_of,
        },
        units,
    )?
    .persons;
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x006e_6f69_7379);
    // Who is absent from the register: a random subset.
    let mut order: Vec<usize> = (0..population.len()).collect();
    shuffle(&mut order, &mut rng);
    let absent_idx: HashSet<usize> = order[..absent].iter().copied().collect();
    let mut register: Vec<Person> = population
        .iter()
        .enumerate()
        .filter(|(i, _)| !absent_idx.contains(i))
        .map(|(_, p)| p.clone())
        .collect();
    let absentees: Vec<&Person> = order[..absent].iter().map(|&i| &population[i]).collect();
    add_twins(&mut register, twins, &population, &mut rng);

    let as_row = |p: &Person| LinkageRow {
        id: p.id.to_string(),
        full_name: p.full_name.clone(),
        dob: p.dob.to_string(),
        sex: p.sex.as_str().to_string(),
        national_id: p
            .national_id
            .as_ref()
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        commune_code: p.commune_code.clone(),
        phone: p
            .phone
            .as_ref()
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
    };
    // Records: `present` distinct register persons and every absentee, shuffled.
    let mut sources: Vec<(&Person, bool)> = distinct_sample(register.len(), present, &mut rng)
        .iter()
        .map(|&i| (&register[i], true))
        .chain(absentees.iter().map(|p| (*p, false)))
        .collect();
    shuffle(&mut sources, &mut rng);
    let communes = communes_of(&register);
    let mut records = Vec::with_capacity(sources.len());
    for (n, (p, in_register)) in sources.into_iter().enumerate() {
        let (mut row, noise) = corrupt(p, &communes, &mut rng);
        row.id = format!("R{:07}", n + 1);
        records.push(NoisyRecord {
            row,
            person_id: in_register.then(|| p.id.to_string()),
            noise,
        });
    }
    Ok(NoisyDataset {
        register: register.iter().map(as_row).collect(),
        records,
    })
}

/// `n` noisy records of distinct persons drawn from `persons` (for demo data: records as sites
/// would send them about people who are in the register).
pub fn noisy_records_of(persons: &[Person], n: usize, seed: u64) -> Vec<NoisyRecord> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0072_6563_6f72_6473);
    let communes = communes_of(persons);
    distinct_sample(persons.len(), n.min(persons.len()), &mut rng)
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let (mut row, noise) = corrupt(&persons[i], &communes, &mut rng);
            row.id = format!("R{:07}", k + 1);
            NoisyRecord {
                row,
                person_id: Some(persons[i].id.to_string()),
                noise,
            }
        })
        .collect()
}

/// Fisher–Yates shuffle (written out so the generated data stay the same across `rand`
/// versions: the benchmark's figures were measured on them).
fn shuffle<T>(v: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// `n` distinct indices below `len`, in random order (a partial Fisher–Yates shuffle).
fn distinct_sample(len: usize, n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut picks: Vec<usize> = (0..len).collect();
    for i in 0..n {
        let j = rng.random_range(i..len);
        picks.swap(i, j);
    }
    picks.truncate(n);
    picks
}

/// The distinct 2025 communes the persons live in, sorted.
fn communes_of(persons: &[Person]) -> Vec<String> {
    let mut communes: Vec<String> = persons.iter().map(|p| p.commune_code.clone()).collect();
    communes.sort();
    communes.dedup();
    communes
}

/// Adds `n` twins of register children and young adults (born in the last 30 years).
fn add_twins(register: &mut Vec<Person>, n: usize, population: &[Person], rng: &mut ChaCha8Rng) {
    let mut used: HashSet<String> = population
        .iter()
        .filter_map(|p| p.national_id.as_ref().map(|i| i.as_str().to_string()))
        .collect();
    let young: Vec<usize> = register
        .iter()
        .enumerate()
        .filter(|(_, p)| p.national_id.is_some() && p.dob.year() >= 1996)
        .map(|(i, _)| i)
        .collect();
    if young.is_empty() {
        return;
    }
    let mut next_uuid = 0u128;
    for _ in 0..n {
        let sibling = register[*young.choose(rng).expect("non-empty")].clone();
        let sex = if rng.random_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        // A given name of someone of the same sex, different from the sibling's.
        let own_given = last_word(&sibling.full_name).to_string();
        let given = loop {
            let other = &population[rng.random_range(0..population.len())];
            let g = last_word(&other.full_name);
            if other.sex == sex && g != own_given {
                break g.to_string();
            }
        };
        let words: Vec<&str> = sibling.full_name.split(' ').collect();
        let mut name: Vec<&str> = words[..words.len() - 1].to_vec();
        name.push(&given);
        let province: u16 = sibling
            .national_id
            .as_ref()
            .map(|i| i.province_of_birth().parse().unwrap_or(1))
            .unwrap_or(1);
        let national_id = loop {
            let serial = rng.random_range(0..1_000_000);
            if let Some(id) = NationalId::compose(province, sibling.dob.year(), sex, serial)
                && used.insert(id.as_str().to_string())
            {
                break id;
            }
        };
        next_uuid += 1;
        register.push(Person {
            id: uuid::Uuid::from_u128(0x7477_696e_0000_7000_8000_0000_0000_0000 | next_uuid),
            full_name: name.join(" "),
            sex,
            national_id: Some(national_id),
            ..sibling
        });
    }
}

fn last_word(s: &str) -> &str {
    s.rsplit(' ').next().unwrap_or(s)
}

/// Removes diacritics but keeps letter case and spacing ("Nguyễn Đức" → "Nguyen Duc").
pub fn strip_diacritics(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let folded = domain::name::fold(w);
            let upper_first = w.chars().next().is_some_and(char::is_uppercase);
            let all_upper = w
                .chars()
                .filter(|c| c.is_alphabetic())
                .all(char::is_uppercase);
            if all_upper && w.chars().count() > 1 {
                folded.to_uppercase()
            } else if upper_first {
                let mut c = folded.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            } else {
                folded
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn corrupt(p: &Person, communes: &[String], rng: &mut ChaCha8Rng) -> (LinkageRow, Vec<NoiseKind>) {
    let mut noise = Vec::new();
    let mut hit = |kind: NoiseKind, rng: &mut ChaCha8Rng| {
        let p = NOISE
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, p)| *p)
            .unwrap_or(0.0);
        let yes = rng.random_bool(p);
        if yes {
            noise.push(kind);
        }
        yes
    };
    // Name.
    let mut words: Vec<String> = p.full_name.split(' ').map(str::to_string).collect();
    if let Some(variant) = SURNAME_VARIANTS.iter().find_map(|(a, b)| {
        (words[0] == *a)
            .then_some(*b)
            .or_else(|| (words[0] == *b).then_some(*a))
    }) && hit(NoiseKind::SurnameVariant, rng)
    {
        words[0] = variant.to_string();
    }
    if hit(NoiseKind::NameTypo, rng) {
        let w = rng.random_range(0..words.len());
        words[w] = typo(&words[w], rng);
    }
    let mut name = words.join(" ");
    if hit(NoiseKind::NoDiacritics, rng) {
        name = strip_diacritics(&name);
    }
    if hit(NoiseKind::UpperCase, rng) {
        name = name.to_uppercase();
    }
    if hit(NoiseKind::Spacing, rng) {
        name = if rng.random_bool(0.5) {
            format!("  {}  ", name.replace(' ', "  "))
        } else {
            // Family and middle name run together, as in a cramped form field.
            name.replacen(' ', "", 1)
        };
    }
    // Citizen ID.
    let mut national_id = p
        .national_id
        .as_ref()
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    if !national_id.is_empty() {
        if hit(NoiseKind::IdMissing, rng) {
            national_id.clear();
        } else if hit(NoiseKind::IdTransposed, rng) {
            let mut b = national_id.clone().into_bytes();
            let i = rng.random_range(0..b.len() - 1);
            b.swap(i, i + 1);
            national_id = String::from_utf8(b).expect("digits");
        } else if hit(NoiseKind::IdDigitWrong, rng) {
            let mut b = national_id.clone().into_bytes();
            let i = rng.random_range(0..b.len());
            b[i] = b'0' + ((b[i] - b'0' + rng.random_range(1..10)) % 10);
            national_id = String::from_utf8(b).expect("digits");
        }
    }
    // Date of birth.
    let d = p.dob;
    let mut dob = d.to_string();
    if d.day() <= 12 && d.day() != d.month() && hit(NoiseKind::DobSwapped, rng) {
        dob = format!("{}-{:02}-{:02}", d.year(), d.day(), d.month());
    } else if hit(NoiseKind::DobYearOnly, rng) {
        dob = d.year().to_string();
    } else if hit(NoiseKind::DobDayTypo, rng) {
        let day = if d.day() == 1 { 2 } else { d.day() - 1 };
        dob = format!("{}-{:02}-{:02}", d.year(), d.month(), day);
    }
    // Commune.
    let mut commune = p.commune_code.clone();
    if hit(NoiseKind::CommuneMissing, rng) {
        commune.clear();
    } else if hit(NoiseKind::CommuneMoved, rng) {
        commune = communes.choose(rng).cloned().unwrap_or(commune);
    } else if let Some(old) = &p.old_commune_code
        && hit(NoiseKind::OldCommuneCode, rng)
    {
        commune = old.clone();
    }
    // Phone.
    let mut phone = p
        .phone
        .as_ref()
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    if !phone.is_empty() {
        if hit(NoiseKind::PhoneMissing, rng) {
            phone.clear();
        } else if hit(NoiseKind::PhoneOther, rng) {
            let tail: u32 = rng.random_range(0..10_000_000);
            phone = format!("{}{tail:07}", &phone[..3]);
        }
    }
    let sex = if hit(NoiseKind::SexMissing, rng) {
        String::new()
    } else {
        p.sex.as_str().to_string()
    };
    (
        LinkageRow {
            id: String::new(),
            full_name: name,
            dob,
            sex,
            national_id,
            commune_code: commune,
            phone,
        },
        noise,
    )
}

/// One letter of `w` replaced by a neighbour on a Telex keyboard, dropped, or doubled.
fn typo(w: &str, rng: &mut ChaCha8Rng) -> String {
    let chars: Vec<char> = w.chars().collect();
    if chars.len() < 2 {
        return w.to_string();
    }
    let i = rng.random_range(1..chars.len());
    let mut out = chars.clone();
    match rng.random_range(0..3) {
        0 => {
            out.remove(i);
        }
        1 => out.insert(i, chars[i]),
        _ => {
            const NEIGHBOURS: &str = "qwertyuiopasdfghjklzxcvbnm";
            let c = chars[i].to_ascii_lowercase();
            let pos = NEIGHBOURS.find(c).unwrap_or(0);
            let next = NEIGHBOURS
                .chars()
                .nth((pos + 1) % NEIGHBOURS.len())
                .unwrap_or('a');
            out[i] = next;
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_truth_and_noise() {
        let units = AdminUnits::embedded();
        let params = NoisyParams::new("12", 5_000, 2_000, 7);
        let data = noisy_linkage_data(&params, units).unwrap();
        assert_eq!(data.register.len(), 5_000);
        assert_eq!(data.records.len(), 2_000);
        let absent = data
            .records
            .iter()
            .filter(|r| r.person_id.is_none())
            .count();
        assert_eq!(absent, 200);
        let ids: HashSet<&str> = data.register.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), 5_000, "register ids are unique");
        for r in &data.records {
            if let Some(p) = &r.person_id {
                assert!(ids.contains(p.as_str()));
            }
        }
        let cccd: HashSet<&str> = data
            .register
            .iter()
            .filter(|r| !r.national_id.is_empty())
            .map(|r| r.national_id.as_str())
            .collect();
        let with_id = data
            .register
            .iter()
            .filter(|r| !r.national_id.is_empty())
            .count();
        assert_eq!(cccd.len(), with_id, "citizen IDs stay unique with twins");
        // Twins: pairs sharing surname, dob and commune with different given names.
        let twins = data
            .register
            .iter()
            .filter(|r| r.id.starts_with("7477696e"))
            .count();
        assert_eq!(twins, 25);
        for kind in [
            NoiseKind::NoDiacritics,
            NoiseKind::IdMissing,
            NoiseKind::DobSwapped,
            NoiseKind::DobYearOnly,
            NoiseKind::OldCommuneCode,
            NoiseKind::IdTransposed,
        ] {
            let n = data
                .records
                .iter()
                .filter(|r| r.noise.contains(&kind))
                .count();
            assert!(n > 20, "{kind:?} only {n}");
        }
        // Same parameters, same data.
        assert_eq!(data, noisy_linkage_data(&params, units).unwrap());
    }

    #[test]
    fn strips_diacritics_keeping_case() {
        assert_eq!(strip_diacritics("Nguyễn Đức Anh"), "Nguyen Duc Anh");
        assert_eq!(strip_diacritics("TRẦN THỊ"), "TRAN THI");
    }
}
