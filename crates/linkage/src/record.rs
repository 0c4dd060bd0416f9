//! Records to link: a generic [`Record`] with optional identifying fields, partial dates of birth
//! ([`PartialDate`]), a splitter for Vietnamese "Family Middle Given" names, and the prepared
//! (normalised once) form used internally by comparisons, blocking and scoring.

use domain::person::{NationalId, Phone, Sex};
use domain::units::AdminUnits;

/// A date of birth that may be only partly known ("1985", "1985-03", "1985-03-07").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PartialDate {
    pub year: Option<i32>,
    pub month: Option<u32>,
    pub day: Option<u32>,
}

impl PartialDate {
    /// A date with all three parts.
    pub fn ymd(year: i32, month: u32, day: u32) -> Self {
        PartialDate {
            year: Some(year),
            month: Some(month),
            day: Some(day),
        }
    }

    /// Parses `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (also with `/` or `.`), `YYYYMMDD` and the
    /// Vietnamese `DD/MM/YYYY`. Out-of-range months (not 1–12) or days (not 1–31) are dropped,
    /// keeping the rest: registers contain impossible dates whose year is still evidence.
    /// Returns `None` when no year can be read.
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        if s.is_empty() {
            return None;
        }
        let parts: Vec<&str> = s.split(['-', '/', '.']).map(str::trim).collect();
        let num = |p: &str| -> Option<u32> {
            if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().ok()
            } else {
                None
            }
        };
        let (y, m, d) = match parts.as_slice() {
            [one] if one.len() == 8 => (num(&one[..4]), num(&one[4..6]), num(&one[6..])),
            [one] if one.len() == 4 => (num(one), None, None),
            [y, m] if y.len() == 4 => (num(y), num(m), None),
            [y, m, d] if y.len() == 4 => (num(y), num(m), num(d)),
            [d, m, y] if y.len() == 4 => (num(y), num(m), num(d)),
            _ => return None,
        };
        let year = y.filter(|y| (1..=9999).contains(y))? as i32;
        let month = m.filter(|m| (1..=12).contains(m));
        let day = d.filter(|d| (1..=31).contains(d));
        Some(PartialDate {
            year: Some(year),
            month,
            day: month.and(day),
        })
    }

    /// Whether year, month and day are all known.
    pub fn is_complete(&self) -> bool {
        self.year.is_some() && self.month.is_some() && self.day.is_some()
    }
}

/// A Vietnamese full name split into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameParts {
    pub family: String,
    pub middle: String,
    pub given: String,
}

/// Splits a Vietnamese name written "Family Middle… Given": the first word is the family name,
/// the last the given name, anything between the middle name(s). A single word is taken as the
/// given name.
///
/// Words run together in mixed case ("TôLan Diệp", as typed into a cramped form field) are split
/// where a lower-case letter is followed by an upper-case one.
pub fn split_vietnamese_name(full: &str) -> NameParts {
    let words: Vec<&str> = full.split_whitespace().flat_map(split_camel_case).collect();
    match words.as_slice() {
        [] => NameParts::default(),
        [given] => NameParts {
            given: (*given).to_string(),
            ..NameParts::default()
        },
        [family, middle @ .., given] => NameParts {
            family: (*family).to_string(),
            middle: middle.join(" "),
            given: (*given).to_string(),
        },
    }
}

/// "TôLan" → ["Tô", "Lan"]; words without an inner lower→upper change are returned whole.
fn split_camel_case(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_lower = false;
    for (i, c) in word.char_indices() {
        if c.is_uppercase() && prev_lower {
            out.push(&word[start..i]);
            start = i;
        }
        prev_lower = c.is_lowercase();
    }
    out.push(&word[start..]);
    out
}

/// One record to link or deduplicate. All identifying fields are optional; a field missing on
/// either side of a pair contributes no evidence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub id: String,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub family_name: Option<String>,
    /// Full name as written ("Nguyễn Thị Lan"); used to fill missing name parts.
    pub full_name: Option<String>,
    pub dob: Option<PartialDate>,
    pub sex: Option<Sex>,
    /// Citizen ID (CCCD), old ID card number or any other personal identifier.
    pub national_id: Option<String>,
    /// Commune code, pre-2025 or 2025 list.
    pub commune_code: Option<String>,
    pub phone: Option<String>,
    /// Free extra fields (`postcode`, `suburb`, `address` …), compared when the settings name them.
    pub extra: Vec<(String, String)>,
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl Record {
    pub fn new(id: impl Into<String>) -> Self {
        Record {
            id: id.into(),
            ..Record::default()
        }
    }

    pub fn with_given_name(mut self, v: &str) -> Self {
        self.given_name = non_empty(v);
        self
    }

    pub fn with_middle_name(mut self, v: &str) -> Self {
        self.middle_name = non_empty(v);
        self
    }

    pub fn with_family_name(mut self, v: &str) -> Self {
        self.family_name = non_empty(v);
        self
    }

    /// Sets the full name and fills family/middle/given names that are not set yet.
    pub fn with_full_name(mut self, v: &str) -> Self {
        self.full_name = non_empty(v);
        let parts = split_vietnamese_name(v);
        if self.family_name.is_none() {
            self.family_name = non_empty(&parts.family);
        }
        if self.middle_name.is_none() {
            self.middle_name = non_empty(&parts.middle);
        }
        if self.given_name.is_none() {
            self.given_name = non_empty(&parts.given);
        }
        self
    }

    /// Sets the date of birth from text (see [`PartialDate::parse`]); unreadable → missing.
    pub fn with_dob(mut self, v: &str) -> Self {
        self.dob = PartialDate::parse(v);
        self
    }

    pub fn with_sex(mut self, v: &str) -> Self {
        self.sex = Sex::parse(v).ok();
        self
    }

    pub fn with_national_id(mut self, v: &str) -> Self {
        self.national_id = non_empty(v);
        self
    }

    pub fn with_commune(mut self, v: &str) -> Self {
        self.commune_code = non_empty(v);
        self
    }

    pub fn with_phone(mut self, v: &str) -> Self {
        self.phone = non_empty(v);
        self
    }

    pub fn with_extra(mut self, key: &str, v: &str) -> Self {
        if let Some(v) = non_empty(v) {
            self.extra.push((key.to_string(), v));
        }
        self
    }

    /// The value of an extra field.
    pub fn extra(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Normalised forms of one name part.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameForms {
    /// Lower-case NFC with diacritics, single spaces.
    pub exact: String,
    /// Diacritics folded (`domain::name::fold`), surname variants canonicalised.
    pub folded: String,
    /// Term frequency of `exact` / `folded` among all records of the run (filled by the linker).
    pub tf_exact: f64,
    pub tf_folded: f64,
}

/// Canonical form of regional surname variants (after folding): Huỳnh → Hoàng, Võ → Vũ.
pub(crate) fn canonical_surname(folded: &str) -> &str {
    match folded {
        "huynh" => "hoang",
        "vo" => "vu",
        other => other,
    }
}

impl NameForms {
    fn new(raw: &str, surname: bool) -> Self {
        let exact = domain::name::normalize(raw).to_lowercase();
        let mut folded = domain::name::fold(raw);
        if surname {
            folded = canonical_surname(&folded).to_string();
        }
        NameForms {
            exact,
            folded,
            tf_exact: 0.0,
            tf_folded: 0.0,
        }
    }
}

/// A record with everything comparisons need computed once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prepared {
    pub given: Option<NameForms>,
    pub middle: Option<NameForms>,
    pub family: Option<NameForms>,
    /// Folded family, middle and given names run together without spaces (for blocking).
    pub compact_name: Option<String>,
    pub dob: Option<PartialDate>,
    pub sex: Option<Sex>,
    pub national_id: Option<String>,
    pub commune: Option<String>,
    /// The commune code and the 2025 communes it maps to.
    pub commune_new: Vec<String>,
    pub phone: Option<String>,
    /// Folded values of the extra fields named by the settings, in settings order.
    pub extras: Vec<Option<String>>,
}

/// Keeps digits and letters, upper-cased: "038 095-001234" → "038095001234".
pub(crate) fn normalise_id(raw: &str) -> Option<String> {
    if let Ok(id) = NationalId::parse(raw) {
        return Some(id.as_str().to_string());
    }
    let s: String = raw
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect();
    (!s.is_empty()).then_some(s)
}

fn normalise_phone(raw: &str) -> Option<String> {
    if let Ok(p) = Phone::parse(raw) {
        return Some(p.as_str().to_string());
    }
    let s: String = raw.chars().filter(char::is_ascii_digit).collect();
    (!s.is_empty()).then_some(s)
}

impl Prepared {
    pub fn new(r: &Record, extra_keys: &[String]) -> Self {
        let name = |v: &Option<String>, surname: bool| {
            v.as_deref()
                .map(|s| NameForms::new(s, surname))
                .filter(|n| !n.folded.is_empty())
        };
        let commune = r.commune_code.as_deref().and_then(non_empty);
        let commune_new = match &commune {
            Some(c) => {
                let mut v = vec![c.clone()];
                v.extend(
                    AdminUnits::embedded()
                        .new_communes_for_old(c)
                        .iter()
                        .map(|(n, _)| n.clone()),
                );
                v.sort();
                v.dedup();
                v
            }
            None => Vec::new(),
        };
        let given = name(&r.given_name, false);
        let middle = name(&r.middle_name, false);
        let family = name(&r.family_name, true);
        let compact_name = {
            let parts: String = [&family, &middle, &given]
                .iter()
                .filter_map(|n| n.as_ref())
                .flat_map(|n| n.folded.chars().filter(|c| !c.is_whitespace()))
                .collect();
            (!parts.is_empty()).then_some(parts)
        };
        Prepared {
            given,
            middle,
            family,
            compact_name,
            dob: r.dob,
            sex: r.sex,
            national_id: r.national_id.as_deref().and_then(normalise_id),
            commune,
            commune_new,
            phone: r.phone.as_deref().and_then(normalise_phone),
            extras: extra_keys
                .iter()
                .map(|k| r.extra(k).map(domain::name::fold).filter(|s| !s.is_empty()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partial_dates() {
        assert_eq!(
            PartialDate::parse("1985-03-07"),
            Some(PartialDate::ymd(1985, 3, 7))
        );
        assert_eq!(
            PartialDate::parse("19850307"),
            Some(PartialDate::ymd(1985, 3, 7))
        );
        assert_eq!(
            PartialDate::parse("07/03/1985"),
            Some(PartialDate::ymd(1985, 3, 7))
        );
        let y = PartialDate::parse("1985").unwrap();
        assert_eq!((y.year, y.month, y.day), (Some(1985), None, None));
        let bad_month = PartialDate::parse("19851407").unwrap();
        assert_eq!((bad_month.year, bad_month.month), (Some(1985), None));
        assert_eq!(PartialDate::parse(""), None);
        assert_eq!(PartialDate::parse("abc"), None);
    }

    #[test]
    fn splits_vietnamese_names() {
        let p = split_vietnamese_name("Nguyễn Thị Minh Khai");
        assert_eq!(p.family, "Nguyễn");
        assert_eq!(p.middle, "Thị Minh");
        assert_eq!(p.given, "Khai");
        assert_eq!(split_vietnamese_name("Lan").given, "Lan");
        let fused = split_vietnamese_name("TôLan Diệp");
        assert_eq!(
            (fused.family.as_str(), fused.middle.as_str()),
            ("Tô", "Lan")
        );
        assert_eq!(split_vietnamese_name("NGUYỄN VĂN AN").family, "NGUYỄN");
        let r = Record::new("1").with_full_name("Huỳnh Văn Bảy");
        assert_eq!(r.family_name.as_deref(), Some("Huỳnh"));
        assert_eq!(r.given_name.as_deref(), Some("Bảy"));
    }

    #[test]
    fn prepares_normalised_forms() {
        let r = Record::new("1")
            .with_full_name("Huỳnh Văn Bảy")
            .with_national_id("038 095 001234")
            .with_phone("+84 912 345 678");
        let p = Prepared::new(&r, &[]);
        assert_eq!(p.family.as_ref().unwrap().folded, "hoang");
        assert_eq!(p.family.as_ref().unwrap().exact, "huỳnh");
        assert_eq!(p.compact_name.as_deref(), Some("hoangvanbay"));
        assert_eq!(p.national_id.as_deref(), Some("038095001234"));
        assert_eq!(p.phone.as_deref(), Some("0912345678"));
    }
}
