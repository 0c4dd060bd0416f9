//! Where households live: the 2025 commune, the pre-2025 commune it came from, a street address,
//! and the (old) province a resident was probably born in.
//!
//! Urban wards (kind "Phường") are three times as likely as other communes to receive a household,
//! a rough stand-in for their higher density. Addresses follow local usage: house number and
//! residential group (tổ) or quarter (khu phố) in wards, hamlets (thôn, ấp) or villages (bản) in
//! rural communes.

use domain::units::{AdminUnits, UnitLevel};
use rand::Rng;

use crate::sampling::{Weighted, pick};

/// Relative chance of a ward receiving a household, against 1 for other communes.
const WARD_WEIGHT: f64 = 3.0;

/// Provinces (2025 codes) of the northern mountains, where rural settlements are "bản".
pub(crate) const MOUNTAIN_PROVINCES: &[&str] = &["04", "08", "11", "12", "14", "15", "20"];

/// First provinces (2025 codes) of the south, where hamlets are "ấp" and urban quarters
/// "khu phố".
const FIRST_SOUTHERN_PROVINCE: u16 = 75;

/// First syllables of village (bản) names of Thái and H'Mông origin.
const VILLAGE_FIRST: &[&str] = &[
    "Nà", "Huổi", "Pá", "Nậm", "Pắc", "Phiêng", "Co", "Hua", "Tả", "Sin", "Bó", "Mường",
];

/// Second syllables of village names.
const VILLAGE_SECOND: &[&str] = &[
    "Tăm", "Lào", "Mức", "Khoang", "Cang", "Bó", "Hẹ", "Chải", "Phìn", "Hồ", "Sáng", "Luông",
    "Nọc", "Pe",
];

/// Named hamlets of the lowlands (thôn or ấp followed by one of these).
const HAMLET_NAMES: &[&str] = &[
    "Đông",
    "Tây",
    "Nam",
    "Bắc",
    "Trung",
    "Thượng",
    "Hạ",
    "Đoài",
    "An Lạc",
    "Phú Mỹ",
    "Tân Hòa",
    "Bình An",
    "Hòa Bình",
    "Phú Thọ",
    "Thái Hòa",
    "Long Thạnh",
];

/// The pre-2025 commune of an address and the old province of birth it suggests.
#[derive(Debug, Clone)]
pub(crate) struct OldCommune {
    pub code: String,
    /// Pre-2025 province code, as used in digits 1–3 of citizen IDs.
    pub province: u16,
}

/// A 2025 commune with what is needed to place households in it.
#[derive(Debug, Clone)]
pub(crate) struct Commune {
    pub code: String,
    pub is_ward: bool,
    /// Pre-2025 communes (wholly or partly) inside it, in code order.
    pub old: Vec<OldCommune>,
}

/// How addresses are written in a province.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressStyle {
    North,
    Mountain,
    South,
}

/// The communes of one 2025 province, ready for sampling.
#[derive(Debug, Clone)]
pub(crate) struct Geography {
    pub province_code: String,
    /// Province of birth to use when an address has no known old commune.
    pub fallback_birth_province: u16,
    /// All pre-2025 province codes, for people born elsewhere.
    pub birth_provinces: Vec<u16>,
    /// Position of the province among the 2025 provinces in code order, and their number.
    pub slot: (u32, u32),
    communes: Vec<Commune>,
    weights: Weighted<usize>,
    style: AddressStyle,
}

impl Geography {
    /// Collects the communes of a 2025 province. `None` if the province has no communes.
    pub(crate) fn new(units: &AdminUnits, province_code: &str) -> Option<Self> {
        let listed = units
            .v2025
            .list(UnitLevel::Commune, Some(province_code))
            .ok()?;
        let fallback_birth_province = province_code.parse().unwrap_or(0);
        let communes: Vec<Commune> = listed
            .iter()
            .map(|unit| {
                let mut old: Vec<OldCommune> = units
                    .old_communes_for_new(&unit.code)
                    .iter()
                    .map(|code| OldCommune {
                        code: code.clone(),
                        province: units
                            .pre2025
                            .province_of(code)
                            .and_then(|p| p.code.parse().ok())
                            .unwrap_or(fallback_birth_province),
                    })
                    .collect();
                old.sort_by(|a, b| a.code.cmp(&b.code));
                Commune {
                    code: unit.code.clone(),
                    is_ward: unit.kind == "Phường",
                    old,
                }
            })
            .collect();
        let weights = Weighted::new(
            communes
                .iter()
                .enumerate()
                .map(|(i, c)| (i, if c.is_ward { WARD_WEIGHT } else { 1.0 })),
        )?;
        let number: u16 = province_code.parse().unwrap_or(0);
        let style = if MOUNTAIN_PROVINCES.contains(&province_code) {
            AddressStyle::Mountain
        } else if number >= FIRST_SOUTHERN_PROVINCE {
            AddressStyle::South
        } else {
            AddressStyle::North
        };
        let mut birth_provinces: Vec<u16> = units
            .pre2025
            .provinces()
            .filter_map(|p| p.code.parse().ok())
            .collect();
        birth_provinces.sort_unstable();
        let mut provinces_2025: Vec<&str> =
            units.v2025.provinces().map(|p| p.code.as_str()).collect();
        provinces_2025.sort_unstable();
        let position = provinces_2025.iter().position(|&c| c == province_code)?;
        Some(Geography {
            province_code: province_code.to_string(),
            fallback_birth_province,
            birth_provinces,
            slot: (position as u32, provinces_2025.len() as u32),
            communes,
            weights,
            style,
        })
    }

    /// A commune for a new household, wards weighted up.
    pub(crate) fn sample_commune<R: Rng + ?Sized>(&self, rng: &mut R) -> &Commune {
        &self.communes[self.weights.sample(rng)]
    }

    /// A street address in the commune.
    pub(crate) fn address<R: Rng + ?Sized>(&self, commune: &Commune, rng: &mut R) -> String {
        let house = rng.random_range(1..=250u16);
        match (commune.is_ward, self.style) {
            (true, AddressStyle::South) => {
                format!("Số {house}, khu phố {}", rng.random_range(1..=12u8))
            }
            (true, _) if rng.random_bool(0.3) => format!(
                "Số {house}, ngõ {}, tổ {}",
                rng.random_range(1..=120u8),
                rng.random_range(1..=30u8)
            ),
            (true, _) => format!("Số {house}, tổ {}", rng.random_range(1..=30u8)),
            (false, AddressStyle::Mountain) if rng.random_bool(0.75) => format!(
                "Bản {} {}",
                pick(rng, VILLAGE_FIRST),
                pick(rng, VILLAGE_SECOND)
            ),
            (false, AddressStyle::South) => self.hamlet("Ấp", rng),
            (false, _) => self.hamlet("Thôn", rng),
        }
    }

    /// "Thôn 3" or "Thôn Đông" (likewise "Ấp …").
    fn hamlet<R: Rng + ?Sized>(&self, kind: &str, rng: &mut R) -> String {
        if rng.random_bool(0.6) {
            format!("{kind} {}", rng.random_range(1..=15u8))
        } else {
            format!("{kind} {}", pick(rng, HAMLET_NAMES))
        }
    }
}

impl Commune {
    /// One of the old communes the address may have belonged to, if any.
    pub(crate) fn sample_old<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<&OldCommune> {
        (!self.old.is_empty()).then(|| &self.old[rng.random_range(0..self.old.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn communes_and_old_provinces_of_lai_chau() {
        let units = AdminUnits::embedded();
        let geo = Geography::new(units, "12").unwrap();
        assert!(!geo.communes.is_empty());
        assert!(geo.communes.iter().any(|c| c.is_ward));
        assert_eq!(geo.birth_provinces.len(), 63);
        assert_eq!(geo.slot, (4, 34));
        for commune in &geo.communes {
            for old in &commune.old {
                assert_eq!(old.province, 12, "{} in {}", old.code, commune.code);
            }
        }
        assert!(Geography::new(units, "99").is_none());
    }

    #[test]
    fn merged_provinces_keep_their_old_codes() {
        // 2025 Tuyên Quang absorbed Hà Giang (old code 02).
        let geo = Geography::new(AdminUnits::embedded(), "08").unwrap();
        let olds: std::collections::BTreeSet<u16> = geo
            .communes
            .iter()
            .flat_map(|c| c.old.iter().map(|o| o.province))
            .collect();
        assert!(olds.contains(&2) && olds.contains(&8), "{olds:?}");
    }

    #[test]
    fn addresses_follow_local_usage() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let units = AdminUnits::embedded();
        for (province, ward_prefix, rural_prefixes) in [
            ("12", "Số ", &["Bản ", "Thôn "][..]),
            ("01", "Số ", &["Thôn "][..]),
            ("79", "Số ", &["Ấp "][..]),
        ] {
            let geo = Geography::new(units, province).unwrap();
            for commune in &geo.communes {
                let address = geo.address(commune, &mut rng);
                if commune.is_ward {
                    assert!(address.starts_with(ward_prefix), "{address}");
                } else {
                    assert!(
                        rural_prefixes.iter().any(|p| address.starts_with(p)),
                        "{province}: {address}"
                    );
                }
            }
        }
    }
}
