//! Field comparisons. Each returns a comparison *level*: a small integer, `0` for the strongest
//! agreement, increasing towards "different", or [`MISSING`] when either side has no value
//! (missing values contribute weight 0). The level names of each kind are in [`Comparison::level_names`].

use crate::record::{PartialDate, Prepared, canonical_surname};
use crate::strings::{jaro_winkler, osa_distance};

/// A comparison level: `0` = strongest agreement; [`MISSING`] = no value on one side.
pub type Level = u8;

/// Either side has no value: no evidence either way.
pub const MISSING: Level = u8::MAX;

/// Levels of name comparisons.
pub mod name_level {
    use super::Level;
    /// Same name including diacritics (tone marks).
    pub const EXACT: Level = 0;
    /// Same after folding diacritics (and Hoàng/Huỳnh, Vũ/Võ for surnames).
    pub const FOLDED: Level = 1;
    /// Jaro-Winkler ≥ 0.92 on folded forms.
    pub const JW_HIGH: Level = 2;
    /// Jaro-Winkler ≥ 0.85 on folded forms.
    pub const JW_LOW: Level = 3;
    pub const DIFFERENT: Level = 4;
    pub const NAMES: &[&str] = &["exact", "folded", "jw>=0.92", "jw>=0.85", "different"];
}

/// Levels of identifier comparisons (citizen ID, any generic ID).
pub mod id_level {
    use super::Level;
    pub const EXACT: Level = 0;
    /// One typo or one adjacent transposition.
    pub const DL1: Level = 1;
    pub const DL2: Level = 2;
    pub const DIFFERENT: Level = 3;
    pub const NAMES: &[&str] = &["exact", "dl<=1", "dl<=2", "different"];
}

/// Levels of date-of-birth comparisons.
pub mod dob_level {
    use super::Level;
    pub const EXACT: Level = 0;
    /// Day and month swapped (07/03 vs 03/07).
    pub const SWAPPED: Level = 1;
    /// Full dates differing by one digit typo or one adjacent transposition.
    pub const TYPO: Level = 2;
    pub const YEAR_MONTH: Level = 3;
    /// Same year, one side only has the year (or year and month).
    pub const PARTIAL: Level = 4;
    /// Same year, month differs.
    pub const YEAR: Level = 5;
    /// Years differ by one.
    pub const YEAR_PM1: Level = 6;
    pub const DIFFERENT: Level = 7;
    pub const NAMES: &[&str] = &[
        "exact",
        "day-month swapped",
        "one-digit typo",
        "year+month",
        "partial",
        "year",
        "year±1",
        "different",
    ];
}

/// Levels of commune comparisons.
pub mod commune_level {
    use super::Level;
    pub const SAME: Level = 0;
    /// Same commune once old (pre-2025) codes are mapped to the 2025 list.
    pub const SAME_AFTER_MAPPING: Level = 1;
    pub const DIFFERENT: Level = 2;
    pub const NAMES: &[&str] = &["same", "same after 2025 mapping", "different"];
}

/// Levels of short code comparisons (phone, postcode, street number …).
pub mod code_level {
    use super::Level;
    pub const EXACT: Level = 0;
    pub const DL1: Level = 1;
    pub const DIFFERENT: Level = 2;
    pub const NAMES: &[&str] = &["exact", "dl<=1", "different"];
}

/// Levels of free-text comparisons (suburb, street …), on folded text.
pub mod text_level {
    use super::Level;
    pub const EXACT: Level = 0;
    pub const JW_HIGH: Level = 1;
    pub const JW_LOW: Level = 2;
    pub const DIFFERENT: Level = 3;
    pub const NAMES: &[&str] = &["exact", "jw>=0.92", "jw>=0.85", "different"];
}

/// Levels of sex comparisons.
pub mod sex_level {
    use super::Level;
    pub const SAME: Level = 0;
    pub const DIFFERENT: Level = 1;
    pub const NAMES: &[&str] = &["same", "different"];
}

/// Compares names given as (diacritics-preserving lower-case, folded) forms.
pub fn compare_name_forms(a_exact: &str, a_folded: &str, b_exact: &str, b_folded: &str) -> Level {
    if a_folded.is_empty() || b_folded.is_empty() {
        return MISSING;
    }
    if a_exact == b_exact {
        return name_level::EXACT;
    }
    if a_folded == b_folded {
        return name_level::FOLDED;
    }
    let jw = jaro_winkler(a_folded, b_folded);
    if jw >= 0.92 {
        name_level::JW_HIGH
    } else if jw >= 0.85 {
        name_level::JW_LOW
    } else {
        name_level::DIFFERENT
    }
}

/// Compares two raw names. `surname` treats Hoàng/Huỳnh and Vũ/Võ as folded-equal.
pub fn compare_names(a: &str, b: &str, surname: bool) -> Level {
    let forms = |s: &str| {
        let exact = domain::name::normalize(s).to_lowercase();
        let folded = domain::name::fold(s);
        let folded = if surname {
            canonical_surname(&folded).to_string()
        } else {
            folded
        };
        (exact, folded)
    };
    let (ae, af) = forms(a);
    let (be, bf) = forms(b);
    compare_name_forms(&ae, &af, &be, &bf)
}

/// Compares identifiers (already normalised): exact, one edit, two edits, different.
pub fn compare_ids(a: &str, b: &str) -> Level {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    if a == b {
        return id_level::EXACT;
    }
    if a.len().abs_diff(b.len()) > 2 {
        return id_level::DIFFERENT;
    }
    match osa_distance(a, b) {
        0 | 1 => id_level::DL1,
        2 => id_level::DL2,
        _ => id_level::DIFFERENT,
    }
}

/// Compares short codes (phone, postcode): exact, one edit, different.
pub fn compare_codes(a: &str, b: &str) -> Level {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    if a == b {
        return code_level::EXACT;
    }
    if a.len().abs_diff(b.len()) <= 1 && osa_distance(a, b) <= 1 {
        code_level::DL1
    } else {
        code_level::DIFFERENT
    }
}

/// Compares free text (already folded): exact, Jaro-Winkler ≥ 0.92, ≥ 0.85, different.
pub fn compare_texts(a: &str, b: &str) -> Level {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    if a == b {
        return text_level::EXACT;
    }
    let jw = jaro_winkler(a, b);
    if jw >= 0.92 {
        text_level::JW_HIGH
    } else if jw >= 0.85 {
        text_level::JW_LOW
    } else {
        text_level::DIFFERENT
    }
}

fn dob_digits(d: &PartialDate) -> Option<String> {
    Some(format!("{:04}{:02}{:02}", d.year?, d.month?, d.day?))
}

/// Compares dates of birth (see [`dob_level`]).
pub fn compare_dobs(a: &PartialDate, b: &PartialDate) -> Level {
    let (Some(ya), Some(yb)) = (a.year, b.year) else {
        return MISSING;
    };
    if a.is_complete() && b.is_complete() {
        if a == b {
            return dob_level::EXACT;
        }
        if ya == yb && a.month == b.day && a.day == b.month {
            return dob_level::SWAPPED;
        }
        let typo = dob_digits(a)
            .zip(dob_digits(b))
            .is_some_and(|(da, db)| osa_distance(&da, &db) <= 1);
        if typo {
            return dob_level::TYPO;
        }
    }
    if ya == yb {
        return match (a.month, b.month) {
            (Some(ma), Some(mb)) if ma == mb => {
                if a.day.is_some() && b.day.is_some() {
                    dob_level::YEAR_MONTH
                } else {
                    dob_level::PARTIAL
                }
            }
            (Some(_), Some(_)) => dob_level::YEAR,
            _ => dob_level::PARTIAL,
        };
    }
    if (ya - yb).abs() <= 1 {
        dob_level::YEAR_PM1
    } else {
        dob_level::DIFFERENT
    }
}

/// Compares commune codes; `*_new` hold each code plus the 2025 communes it maps to.
pub fn compare_communes(a: &str, a_new: &[String], b: &str, b_new: &[String]) -> Level {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    if a == b {
        return commune_level::SAME;
    }
    if a_new.iter().any(|x| b_new.contains(x)) {
        commune_level::SAME_AFTER_MAPPING
    } else {
        commune_level::DIFFERENT
    }
}

/// Compares raw commune codes, mapping old codes with `AdminUnits::embedded()`.
pub fn compare_commune_codes(a: &str, b: &str) -> Level {
    let map = |c: &str| {
        let mut v = vec![c.to_string()];
        v.extend(
            domain::units::AdminUnits::embedded()
                .new_communes_for_old(c)
                .iter()
                .map(|(n, _)| n.clone()),
        );
        v
    };
    compare_communes(a, &map(a), b, &map(b))
}

/// One comparison of a linkage model: which field, compared how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Comparison {
    GivenName,
    MiddleName,
    FamilyName,
    Dob,
    Sex,
    NationalId,
    Commune,
    Phone,
    /// An extra field compared as a short code (exact / one edit / different).
    ExtraCode(String),
    /// An extra field compared as folded free text (exact / Jaro-Winkler bands / different).
    ExtraText(String),
}

impl Comparison {
    /// Display name used in explanations.
    pub fn name(&self) -> String {
        match self {
            Comparison::GivenName => "given_name".into(),
            Comparison::MiddleName => "middle_name".into(),
            Comparison::FamilyName => "family_name".into(),
            Comparison::Dob => "dob".into(),
            Comparison::Sex => "sex".into(),
            Comparison::NationalId => "national_id".into(),
            Comparison::Commune => "commune".into(),
            Comparison::Phone => "phone".into(),
            Comparison::ExtraCode(k) | Comparison::ExtraText(k) => k.clone(),
        }
    }

    /// Names of the levels, indexed by [`Level`].
    pub fn level_names(&self) -> &'static [&'static str] {
        match self {
            Comparison::GivenName | Comparison::MiddleName | Comparison::FamilyName => {
                name_level::NAMES
            }
            Comparison::Dob => dob_level::NAMES,
            Comparison::Sex => sex_level::NAMES,
            Comparison::NationalId => id_level::NAMES,
            Comparison::Commune => commune_level::NAMES,
            Comparison::Phone | Comparison::ExtraCode(_) => code_level::NAMES,
            Comparison::ExtraText(_) => text_level::NAMES,
        }
    }

    /// Number of levels (excluding [`MISSING`]).
    pub fn n_levels(&self) -> usize {
        self.level_names().len()
    }

    /// The extra field this comparison reads, if any.
    pub fn extra_key(&self) -> Option<&str> {
        match self {
            Comparison::ExtraCode(k) | Comparison::ExtraText(k) => Some(k),
            _ => None,
        }
    }

    /// Compares two prepared records; `slot` is the extra-field slot for extra comparisons.
    pub(crate) fn compare(&self, a: &Prepared, b: &Prepared, slot: usize) -> Level {
        fn opt<T: ?Sized>(a: Option<&T>, b: Option<&T>, f: impl FnOnce(&T, &T) -> Level) -> Level {
            match (a, b) {
                (Some(a), Some(b)) => f(a, b),
                _ => MISSING,
            }
        }
        let names = |a: &Option<crate::record::NameForms>, b: &Option<crate::record::NameForms>| {
            opt(a.as_ref(), b.as_ref(), |a, b| {
                compare_name_forms(&a.exact, &a.folded, &b.exact, &b.folded)
            })
        };
        match self {
            Comparison::GivenName => names(&a.given, &b.given),
            Comparison::MiddleName => names(&a.middle, &b.middle),
            Comparison::FamilyName => names(&a.family, &b.family),
            Comparison::Dob => opt(a.dob.as_ref(), b.dob.as_ref(), compare_dobs),
            Comparison::Sex => opt(a.sex.as_ref(), b.sex.as_ref(), |a, b| {
                if a == b {
                    sex_level::SAME
                } else {
                    sex_level::DIFFERENT
                }
            }),
            Comparison::NationalId => opt(
                a.national_id.as_deref(),
                b.national_id.as_deref(),
                compare_ids,
            ),
            Comparison::Commune => opt(a.commune.as_deref(), b.commune.as_deref(), |x, y| {
                compare_communes(x, &a.commune_new, y, &b.commune_new)
            }),
            Comparison::Phone => opt(a.phone.as_deref(), b.phone.as_deref(), compare_codes),
            Comparison::ExtraCode(_) => opt(
                a.extras[slot].as_deref(),
                b.extras[slot].as_deref(),
                compare_codes,
            ),
            Comparison::ExtraText(_) => opt(
                a.extras[slot].as_deref(),
                b.extras[slot].as_deref(),
                compare_texts,
            ),
        }
    }

    /// Term frequency of the agreed value, for term-frequency-adjusted weights of exact name
    /// agreement (`None` when the level or comparison has no adjustment).
    pub(crate) fn term_frequency(&self, a: &Prepared, level: Level) -> Option<f64> {
        let forms = match self {
            Comparison::GivenName => a.given.as_ref(),
            Comparison::MiddleName => a.middle.as_ref(),
            Comparison::FamilyName => a.family.as_ref(),
            _ => None,
        }?;
        match level {
            name_level::EXACT => Some(forms.tf_exact),
            name_level::FOLDED => Some(forms.tf_folded),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_levels() {
        assert_eq!(compare_names("Nguyễn", "nguyễn", true), name_level::EXACT);
        assert_eq!(compare_names("Nguyễn", "Nguyen", true), name_level::FOLDED);
        // Tone marks differ: different names, but folded-equal.
        assert_eq!(compare_names("Lân", "Lan", false), name_level::FOLDED);
        assert_eq!(compare_names("Đức", "Duc", false), name_level::FOLDED);
        assert_eq!(
            compare_names("michaela", "michael", false),
            name_level::JW_HIGH
        );
        assert_eq!(
            compare_names("martha", "marhta", false),
            name_level::JW_HIGH
        );
        assert_eq!(
            compare_names("stephen", "steven", false),
            name_level::JW_LOW
        );
        assert_eq!(compare_names("Lan", "Hùng", false), name_level::DIFFERENT);
        assert_eq!(compare_names("", "Hùng", false), MISSING);
    }

    #[test]
    fn surname_variants_are_folded_equal() {
        assert_eq!(compare_names("Hoàng", "Huỳnh", true), name_level::FOLDED);
        assert_eq!(compare_names("Vũ", "Võ", true), name_level::FOLDED);
        assert_eq!(compare_names("Vu", "VÕ", true), name_level::FOLDED);
        // Only for surnames.
        assert_ne!(compare_names("Vũ", "Võ", false), name_level::FOLDED);
    }

    #[test]
    fn id_levels() {
        assert_eq!(compare_ids("038095001234", "038095001234"), id_level::EXACT);
        assert_eq!(compare_ids("038095001234", "038095001235"), id_level::DL1);
        assert_eq!(compare_ids("038095001234", "038095002134"), id_level::DL1);
        assert_eq!(compare_ids("038095001234", "038095001299"), id_level::DL2);
        assert_eq!(
            compare_ids("038095001234", "001199887766"),
            id_level::DIFFERENT
        );
        assert_eq!(compare_ids("", "1"), MISSING);
    }

    #[test]
    fn dob_levels() {
        let d = PartialDate::ymd;
        let y = |y| PartialDate {
            year: Some(y),
            month: None,
            day: None,
        };
        assert_eq!(
            compare_dobs(&d(1985, 3, 7), &d(1985, 3, 7)),
            dob_level::EXACT
        );
        assert_eq!(
            compare_dobs(&d(1985, 3, 7), &d(1985, 7, 3)),
            dob_level::SWAPPED
        );
        assert_eq!(
            compare_dobs(&d(1985, 3, 7), &d(1985, 3, 8)),
            dob_level::TYPO
        );
        assert_eq!(
            compare_dobs(&d(1985, 3, 7), &d(1965, 3, 7)),
            dob_level::TYPO
        );
        assert_eq!(
            compare_dobs(&d(1985, 3, 7), &d(1985, 3, 28)),
            dob_level::YEAR_MONTH
        );
        assert_eq!(compare_dobs(&d(1985, 3, 7), &y(1985)), dob_level::PARTIAL);
        assert_eq!(
            compare_dobs(&d(1985, 3, 7), &d(1985, 11, 20)),
            dob_level::YEAR
        );
        assert_eq!(
            compare_dobs(&d(1985, 3, 7), &d(1986, 11, 20)),
            dob_level::YEAR_PM1
        );
        assert_eq!(compare_dobs(&y(1985), &y(1984)), dob_level::YEAR_PM1);
        assert_eq!(
            compare_dobs(&d(1985, 3, 7), &d(1990, 11, 20)),
            dob_level::DIFFERENT
        );
        assert_eq!(compare_dobs(&PartialDate::default(), &y(1984)), MISSING);
    }

    #[test]
    fn commune_levels() {
        assert_eq!(compare_commune_codes("00004", "00004"), commune_level::SAME);
        assert_eq!(compare_commune_codes("", "00004"), MISSING);
        // Find an old commune that was renumbered into a different new code.
        let units = domain::units::AdminUnits::embedded();
        let (old, new) = units
            .pre2025
            .list(domain::units::UnitLevel::Commune, None)
            .unwrap()
            .into_iter()
            .find_map(|u| {
                let n = units.default_new_commune(&u.code)?;
                (n != u.code).then(|| (u.code.clone(), n.to_string()))
            })
            .expect("some old commune maps to a different new code");
        assert_eq!(
            compare_commune_codes(&old, &new),
            commune_level::SAME_AFTER_MAPPING
        );
        assert!(units.old_communes_for_new(&new).contains(&old));
        assert_eq!(
            compare_commune_codes(&old, "99999"),
            commune_level::DIFFERENT
        );
    }

    #[test]
    fn code_and_text_levels() {
        assert_eq!(compare_codes("0912345678", "0912345678"), code_level::EXACT);
        assert_eq!(compare_codes("0912345678", "0912345679"), code_level::DL1);
        assert_eq!(
            compare_codes("0912345678", "0912345699"),
            code_level::DIFFERENT
        );
        assert_eq!(compare_codes("4223", "4232"), code_level::DL1);
        assert_eq!(
            compare_texts("winston hills", "winston hills"),
            text_level::EXACT
        );
        assert_eq!(
            compare_texts("winston hills", "winston hils"),
            text_level::JW_HIGH
        );
        assert_eq!(
            compare_texts("winston hills", "richlands"),
            text_level::DIFFERENT
        );
        assert_eq!(compare_texts("", "x"), MISSING);
    }
}
