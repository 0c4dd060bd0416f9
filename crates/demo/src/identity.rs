//! Citizen ID numbers (CCCD) and mobile phone numbers.
//!
//! A CCCD starts with the province where the birth was registered; most people were born in the
//! (pre-2025) province they live in, about one in twenty elsewhere. Digits 4–6 encode century,
//! sex and birth year (the layout of [`NationalId::compose`]); the six-digit serial is random,
//! re-drawn until the whole number is unique in the generated population. Since 2024 IDs are
//! issued from birth, so everyone gets one except for a small share of records with the number
//! missing.
//!
//! Populations of several provinces are often loaded into one register, whose citizen IDs must be
//! unique. Every pre-2025 province lies wholly inside one 2025 province, so people born locally
//! cannot collide with another province's locals; people born elsewhere draw their serial from a
//! small range reserved for the generating province ([`IdIssuer::new`]), so they cannot collide
//! with anybody generated for another province either.
//!
//! Phone numbers use the real mobile prefixes of Viettel, Vinaphone, MobiFone and the smaller
//! networks, weighted roughly by market share; people aged 15 and over usually have one.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use domain::person::{NationalId, Phone, Sex};
use rand::Rng;

use crate::sampling::{Weighted, pick};

/// Share of people registered in another province than the one they live in.
const P_BORN_ELSEWHERE: f64 = 0.05;

/// Share of records without a citizen ID.
const P_ID_MISSING: f64 = 0.03;

/// Serials `0..LOCAL_SERIALS` go to people born in their home province; the rest are split
/// between the generating provinces for people born elsewhere.
const LOCAL_SERIALS: u32 = 900_000;
const ALL_SERIALS: u32 = 1_000_000;

/// Youngest age at which people usually have their own phone.
pub(crate) const PHONE_MIN_AGE: u8 = 15;

/// Share of people aged [`PHONE_MIN_AGE`] and over with a phone number on record.
const P_HAS_PHONE: f64 = 0.9;

/// Mobile prefixes by network with each network's approximate market share (percent).
const NETWORKS: &[(&[&str], f64)] = &[
    // Viettel
    (
        &[
            "086", "096", "097", "098", "032", "033", "034", "035", "036", "037", "038", "039",
        ],
        52.0,
    ),
    // Vinaphone
    (
        &["088", "091", "094", "081", "082", "083", "084", "085"],
        22.0,
    ),
    // MobiFone
    (
        &["089", "090", "093", "070", "076", "077", "078", "079"],
        21.0,
    ),
    // Vietnamobile, Gmobile (Reddi and others are negligible)
    (&["056", "058", "059", "099"], 5.0),
];

/// Every mobile prefix used.
#[cfg(test)]
pub(crate) fn mobile_prefixes() -> impl Iterator<Item = &'static str> {
    NETWORKS
        .iter()
        .flat_map(|(prefixes, _)| prefixes.iter().copied())
}

/// Issues citizen IDs without repeats.
#[derive(Debug)]
pub(crate) struct IdIssuer {
    /// Numbers already issued, as integers (membership only, never iterated).
    issued: HashSet<u64, BuildHasherDefault<SpreadHasher>>,
    /// First serial and number of serials for people born outside their home province.
    elsewhere_serials: (u32, u32),
}

impl IdIssuer {
    /// An issuer for about `n` people, generating for the province in position `slot` of
    /// `slot_count` 2025 provinces.
    pub(crate) fn new(n: usize, slot: u32, slot_count: u32) -> Self {
        let per_slot = (ALL_SERIALS - LOCAL_SERIALS) / slot_count.max(1);
        let slot = slot.min(slot_count.saturating_sub(1));
        IdIssuer {
            issued: HashSet::with_capacity_and_hasher(n, BuildHasherDefault::default()),
            elsewhere_serials: (LOCAL_SERIALS + slot * per_slot, per_slot.max(1)),
        }
    }

    /// A citizen ID for someone living in `home_province` (pre-2025 code), or `None` for a record
    /// without one (or a birth year the scheme cannot encode, before 1900).
    pub(crate) fn issue<R: Rng + ?Sized>(
        &mut self,
        home_province: u16,
        other_provinces: &[u16],
        birth_year: i32,
        sex: Sex,
        rng: &mut R,
    ) -> Option<NationalId> {
        if rng.random_bool(P_ID_MISSING) {
            return None;
        }
        let mut province = home_province;
        let mut serials = (0, LOCAL_SERIALS);
        if !other_provinces.is_empty() && rng.random_bool(P_BORN_ELSEWHERE) {
            for _ in 0..4 {
                province = pick(rng, other_provinces);
                if province != home_province {
                    serials = self.elsewhere_serials;
                    break;
                }
            }
        }
        let digit = NationalId::century_sex_digit(birth_year, sex)?;
        if province > 999 {
            return None;
        }
        let prefix =
            (u64::from(province) * 10 + u64::from(digit)) * 100 + birth_year.rem_euclid(100) as u64;
        // A province never has as many births in one year as there are serials, so this ends
        // quickly; the bound only guards against a full range.
        for _ in 0..1_000 {
            let serial = serials.0 + rng.random_range(0..serials.1);
            let number = prefix * u64::from(ALL_SERIALS) + u64::from(serial);
            if self.issued.insert(number) {
                let mut digits = [0u8; 12];
                write_digits(&mut digits, number);
                return std::str::from_utf8(&digits)
                    .ok()
                    .and_then(|s| NationalId::parse(s).ok());
            }
        }
        None
    }
}

/// Writes `value` as zero-padded decimal digits filling `out` (higher digits are dropped).
fn write_digits(out: &mut [u8], mut value: u64) {
    for byte in out.iter_mut().rev() {
        *byte = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// A cheap hasher for the issued-number set: the numbers end in random serials, so one
/// multiplicative mix is enough and much faster than the default SipHash.
#[derive(Debug, Default)]
pub(crate) struct SpreadHasher(u64);

impl Hasher for SpreadHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let mixed = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = mixed ^ (mixed >> 32);
    }
}

/// Draws mobile numbers.
#[derive(Debug, Clone)]
pub(crate) struct PhoneBook {
    networks: Weighted<&'static [&'static str]>,
}

impl PhoneBook {
    pub(crate) fn new() -> Self {
        PhoneBook {
            networks: Weighted::from_table(NETWORKS),
        }
    }

    /// A phone number for someone of this age, or `None` (children, and people without one on
    /// record).
    pub(crate) fn phone_for<R: Rng + ?Sized>(&self, age: u8, rng: &mut R) -> Option<Phone> {
        if age < PHONE_MIN_AGE || !rng.random_bool(P_HAS_PHONE) {
            return None;
        }
        let network = self.networks.sample(rng);
        let prefix = pick(rng, network).as_bytes();
        let mut digits = [0u8; 10];
        digits[..3].copy_from_slice(prefix.get(..3)?);
        write_digits(&mut digits[3..], rng.random_range(0..10_000_000u64));
        Phone::parse(std::str::from_utf8(&digits).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn ids_agree_with_sex_and_year_and_do_not_repeat() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut issuer = IdIssuer::new(100, 0, 34);
        let others = [1, 2, 12];
        let dob = NaiveDate::from_ymd_opt(1990, 6, 1).unwrap();
        let mut seen = HashSet::new();
        let mut missing = 0;
        // 20,000 people sharing one prefix: collisions would be certain without the check.
        for _ in 0..20_000 {
            match issuer.issue(12, &others, 1990, Sex::Female, &mut rng) {
                Some(id) => {
                    assert!(id.consistent_with(Sex::Female, dob));
                    let province: u16 = id.province_of_birth().parse().unwrap();
                    let serial: u32 = id.as_str()[6..].parse().unwrap();
                    let composed = NationalId::compose(province, 1990, Sex::Female, serial);
                    assert_eq!(composed.as_ref(), Some(&id));
                    assert!(seen.insert(id.as_str().to_string()), "repeated {id:?}");
                }
                None => missing += 1,
            }
        }
        assert!((400..800).contains(&missing), "{missing} missing");
        let too_old = issuer.issue(12, &others, 1899, Sex::Male, &mut rng);
        assert!(too_old.is_none());
    }

    #[test]
    fn serial_ranges_keep_generating_provinces_apart() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let others = [1, 2];
        for slot in [0, 7, 33] {
            let mut issuer = IdIssuer::new(100, slot, 34);
            let per_slot = (ALL_SERIALS - LOCAL_SERIALS) / 34;
            let reserved = LOCAL_SERIALS + slot * per_slot..LOCAL_SERIALS + (slot + 1) * per_slot;
            for _ in 0..5_000 {
                let Some(id) = issuer.issue(12, &others, 2001, Sex::Male, &mut rng) else {
                    continue;
                };
                let serial: u32 = id.as_str()[6..].parse().unwrap();
                if id.province_of_birth() == "012" {
                    assert!(serial < LOCAL_SERIALS, "{serial}");
                } else {
                    assert!(reserved.contains(&serial), "slot {slot}: {serial}");
                }
            }
        }
    }

    #[test]
    fn digits_are_zero_padded() {
        let mut out = [0u8; 6];
        write_digits(&mut out, 42);
        assert_eq!(&out, b"000042");
    }

    #[test]
    fn phones_are_ten_digits_with_real_prefixes() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let book = PhoneBook::new();
        let prefixes: Vec<&str> = mobile_prefixes().collect();
        assert_eq!(prefixes.len(), 32);
        let mut with_phone = 0;
        for _ in 0..5_000 {
            assert!(book.phone_for(14, &mut rng).is_none());
            if let Some(phone) = book.phone_for(30, &mut rng) {
                with_phone += 1;
                assert_eq!(phone.as_str().len(), 10);
                assert!(prefixes.contains(&&phone.as_str()[..3]), "{phone:?}");
            }
        }
        assert!((4_350..4_650).contains(&with_phone), "{with_phone}");
    }
}
