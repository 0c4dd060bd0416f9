//! Vietnam's age–sex pyramid and dates of birth.
//!
//! Everyone's sex and age are drawn first, from the pyramid, so that the generated population
//! reproduces it closely whatever the household structure built on top of it; dates of birth are
//! then drawn uniformly within the year of age relative to the reference date.

use chrono::{Days, Months, NaiveDate};
use domain::person::Sex;
use rand::Rng;
use rand::seq::SliceRandom;

use crate::sampling::Weighted;

/// Number of five-year bands: 0–4, 5–9, …, 75–79 and 80+.
pub(crate) const BAND_COUNT: usize = 17;

/// Oldest age generated (the 80+ band runs from 80 to this age).
pub(crate) const MAX_AGE: u8 = 100;

/// Share of the total population in each five-year band (0–4, 5–9, …, 75–79, 80+).
///
/// Source: the 2019 Population and Housing Census of Vietnam (reference date 1/4/2019), published
/// by the General Statistics Office (Tổng cục Thống kê). The figures are rounded to one decimal and
/// do not sum to exactly 100 %; [`band_shares`] renormalises them.
pub(crate) const CENSUS_2019_BAND_PERCENT: [f64; BAND_COUNT] = [
    7.9, 8.6, 7.6, 6.9, 6.7, 8.0, 8.4, 8.0, 7.3, 6.8, 6.0, 5.3, 4.3, 3.1, 1.9, 1.3, 1.9,
];

/// Band shares renormalised to sum to 1.
pub(crate) fn band_shares() -> [f64; BAND_COUNT] {
    let total: f64 = CENSUS_2019_BAND_PERCENT.iter().sum();
    CENSUS_2019_BAND_PERCENT.map(|p| p / total)
}

/// Share of males in a band identified by its lower bound (rounded, same census): about 51 %
/// under 20 (sex ratio at birth ≈ 111), 50 % at 20–59, 44 % at 60–74 and 36 % at 75 and over
/// (women live longer).
pub(crate) fn male_share(band_lower: u8) -> f64 {
    match band_lower {
        0..=19 => 0.51,
        20..=59 => 0.50,
        60..=74 => 0.44,
        _ => 0.36,
    }
}

/// Sex and age in completed years of one person, before anything else is known about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Draft {
    pub sex: Sex,
    pub age: u8,
}

/// Draws `n` people so that the band and sex counts follow the pyramid as closely as integers
/// allow: each band gets the whole part of its expected count and the remaining people are spread
/// at random in proportion to the shares (so small populations still vary with the seed). Ages
/// are uniform within a band, except 80+ which thins out geometrically up to [`MAX_AGE`]. The
/// result is shuffled.
pub(crate) fn sample_people<R: Rng + ?Sized>(n: usize, rng: &mut R) -> Vec<Draft> {
    let shares = band_shares();
    let mut counts = shares.map(|s| (s * n as f64).floor() as usize);
    let assigned: usize = counts.iter().sum();
    if let Some(bands) = Weighted::new(shares.iter().copied().enumerate()) {
        for _ in assigned..n {
            counts[bands.sample(rng)] += 1;
        }
    }

    let oldest = oldest_ages();
    let mut people = Vec::with_capacity(n);
    for (band, &count) in counts.iter().enumerate() {
        let lower = (band * 5) as u8;
        let expected_males = count as f64 * male_share(lower);
        let mut males = expected_males.floor() as usize;
        if rng.random_bool(expected_males.fract()) {
            males += 1;
        }
        for i in 0..count {
            let sex = if i < males { Sex::Male } else { Sex::Female };
            let age = if band + 1 < BAND_COUNT {
                lower + rng.random_range(0..5)
            } else {
                oldest.sample(rng)
            };
            people.push(Draft { sex, age });
        }
    }
    people.shuffle(rng);
    people
}

/// Ages 80..=[`MAX_AGE`], each about 16 % rarer than the one before.
fn oldest_ages() -> Weighted<u8> {
    Weighted::from_table(
        &(80..=MAX_AGE)
            .map(|age| (age, 0.84f64.powi(i32::from(age - 80))))
            .collect::<Vec<_>>(),
    )
}

/// For each age 0..=[`MAX_AGE`], the range of birth dates giving exactly that age on the
/// reference date.
#[derive(Debug, Clone)]
pub(crate) struct BirthDates {
    /// `(earliest date of birth, number of possible days)` per age.
    ranges: Vec<(NaiveDate, u64)>,
}

impl BirthDates {
    /// Precomputes the ranges for a reference date. Someone is `a` years old on `as_of` when born
    /// after the same calendar day `a + 1` years earlier and no later than that day `a` years
    /// earlier (29 February counts as 28 February in common years).
    pub(crate) fn new(as_of: NaiveDate) -> Self {
        let ranges = (0..=u32::from(MAX_AGE))
            .map(|age| {
                let latest = years_before(as_of, age);
                let earliest = years_before(as_of, age + 1)
                    .checked_add_days(Days::new(1))
                    .unwrap_or(latest);
                let days = (latest - earliest).num_days().max(0) as u64 + 1;
                (earliest, days)
            })
            .collect();
        BirthDates { ranges }
    }

    /// A uniformly random date of birth giving `age` on the reference date.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, age: u8, rng: &mut R) -> NaiveDate {
        let (earliest, days) = self.ranges[usize::from(age.min(MAX_AGE))];
        earliest
            .checked_add_days(Days::new(rng.random_range(0..days)))
            .unwrap_or(earliest)
    }
}

/// The same calendar day `years` years before `date` (clamped to the month's end), or the
/// earliest representable date if that is out of range.
fn years_before(date: NaiveDate, years: u32) -> NaiveDate {
    date.checked_sub_months(Months::new(years * 12))
        .unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::population::age_on;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn shares_sum_to_one_and_bands_cover_all_ages() {
        let total: f64 = band_shares().iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(BAND_COUNT, usize::from(domain::population::AGE_BAND_COUNT));
    }

    #[test]
    fn quotas_are_exact_for_large_populations() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 10_000;
        let people = sample_people(n, &mut rng);
        assert_eq!(people.len(), n);
        let shares = band_shares();
        for (band, share) in shares.iter().enumerate() {
            let count = people
                .iter()
                .filter(|p| usize::from(p.age.min(80) / 5) == band)
                .count();
            let expected = share * n as f64;
            assert!(
                (count as f64 - expected).abs() <= 3.0,
                "band {band}: {count} vs {expected}"
            );
        }
        assert!(people.iter().all(|p| p.age <= MAX_AGE));
    }

    #[test]
    fn birth_dates_give_the_requested_age() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for as_of in [
            NaiveDate::from_ymd_opt(2025, 7, 1).unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            NaiveDate::from_ymd_opt(2023, 12, 31).unwrap(),
        ] {
            let dates = BirthDates::new(as_of);
            for age in 0..=MAX_AGE {
                let (earliest, days) = dates.ranges[usize::from(age)];
                let latest = earliest + Days::new(days - 1);
                assert_eq!(
                    age_on(earliest, as_of),
                    Some(u32::from(age)),
                    "{as_of} {age}"
                );
                assert_eq!(age_on(latest, as_of), Some(u32::from(age)), "{as_of} {age}");
                assert_ne!(age_on(earliest - Days::new(1), as_of), Some(u32::from(age)));
                assert_ne!(age_on(latest + Days::new(1), as_of), Some(u32::from(age)));
                for _ in 0..20 {
                    let dob = dates.sample(age, &mut rng);
                    assert!(dob <= as_of);
                    assert_eq!(age_on(dob, as_of), Some(u32::from(age)));
                }
            }
        }
    }
}
