//! Population denominators: persons per commune × sex × 5-year age band, derived from the
//! population register at a reference date. Coverage and incidence rates divide by these.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::person::Sex;

/// Number of 5-year age bands: 0–4, 5–9, …, 75–79, and 80+ (the census reporting bands).
pub const AGE_BAND_COUNT: u8 = 17;

/// A 5-year age band, identified by its lower bound in years (0, 5, …, 80; 80 means 80+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AgeBand(u8);

impl AgeBand {
    /// The band an age in whole years falls in.
    pub fn of_age(age: u32) -> Self {
        AgeBand((age.min(80) / 5 * 5) as u8)
    }

    /// From the band's lower bound; `None` unless a multiple of 5 in 0..=80.
    pub fn from_lower(lower: u8) -> Option<Self> {
        (lower.is_multiple_of(5) && lower <= 80).then_some(AgeBand(lower))
    }

    pub fn lower(self) -> u8 {
        self.0
    }

    /// Upper bound inclusive, `None` for the open 80+ band.
    pub fn upper(self) -> Option<u8> {
        (self.0 < 80).then_some(self.0 + 4)
    }

    /// Label such as `15-19` or `80+`.
    pub fn label(self) -> String {
        match self.upper() {
            Some(u) => format!("{}-{}", self.0, u),
            None => format!("{}+", self.0),
        }
    }

    pub fn all() -> impl Iterator<Item = AgeBand> {
        (0..AGE_BAND_COUNT).map(|i| AgeBand(i * 5))
    }
}

/// Age in completed years on `as_of`; `None` if born after it.
pub fn age_on(dob: NaiveDate, as_of: NaiveDate) -> Option<u32> {
    as_of.years_since(dob)
}

/// Persons of one commune, sex and age band at a reference date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denominator {
    pub commune_code: String,
    pub sex: Sex,
    pub age_band: AgeBand,
    pub count: u64,
}

/// Counts register entries by commune × sex × age band at `as_of`; persons born after `as_of` are
/// left out. Output is sorted by commune, sex, band.
pub fn compute_denominators<'a>(
    persons: impl IntoIterator<Item = (&'a str, Sex, NaiveDate)>,
    as_of: NaiveDate,
) -> Vec<Denominator> {
    let mut counts: BTreeMap<(&'a str, Sex, AgeBand), u64> = BTreeMap::new();
    for (commune, sex, dob) in persons {
        if let Some(age) = age_on(dob, as_of) {
            *counts
                .entry((commune, sex, AgeBand::of_age(age)))
                .or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((commune, sex, age_band), count)| Denominator {
            commune_code: commune.to_string(),
            sex,
            age_band,
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn bands() {
        assert_eq!(AgeBand::of_age(0).label(), "0-4");
        assert_eq!(AgeBand::of_age(4).lower(), 0);
        assert_eq!(AgeBand::of_age(5).lower(), 5);
        assert_eq!(AgeBand::of_age(79).label(), "75-79");
        assert_eq!(AgeBand::of_age(80).label(), "80+");
        assert_eq!(AgeBand::of_age(103).label(), "80+");
        assert_eq!(AgeBand::all().count(), 17);
        assert_eq!(AgeBand::from_lower(7), None);
    }

    #[test]
    fn ages_use_birthdays() {
        assert_eq!(age_on(d(2000, 3, 1), d(2025, 2, 28)), Some(24));
        assert_eq!(age_on(d(2000, 3, 1), d(2025, 3, 1)), Some(25));
        assert_eq!(age_on(d(2004, 2, 29), d(2025, 2, 28)), Some(20));
        assert_eq!(age_on(d(2030, 1, 1), d(2025, 1, 1)), None);
    }

    #[test]
    fn denominators_group_and_skip_unborn() {
        let as_of = d(2025, 7, 1);
        let rows = vec![
            ("00097", Sex::Female, d(2002, 1, 1)),
            ("00097", Sex::Female, d(2001, 1, 1)),
            ("00097", Sex::Male, d(2001, 1, 1)),
            ("00004", Sex::Male, d(1940, 1, 1)),
            ("00004", Sex::Male, d(2026, 1, 1)),
        ];
        let out = compute_denominators(rows, as_of);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].commune_code, "00004");
        assert_eq!(out[0].age_band.label(), "80+");
        let f = out
            .iter()
            .find(|x| x.commune_code == "00097" && x.sex == Sex::Female)
            .unwrap();
        assert_eq!((f.age_band.label(), f.count), ("20-24".to_string(), 2));
        assert_eq!(out.iter().map(|x| x.count).sum::<u64>(), 4);
    }
}
