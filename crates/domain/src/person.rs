//! Persons of the population register: sex, citizen ID (CCCD), phone, and privacy masking.
//!
//! CCCD layout (Decree 137/2015/NĐ-CP art. 13, Circular 07/2016/TT-BCA): digits 1–3 province of
//! birth registration, digit 4 century and sex, digits 5–6 the last two digits of the birth year,
//! digits 7–12 random. There is no check digit.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// Sex as recorded in the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// Storage/API code: `male` / `female`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }

    /// Parses `male|female|m|f|nam|nữ|nu` (case-insensitive).
    pub fn parse(raw: &str) -> Result<Sex, Error> {
        match crate::name::fold(raw).as_str() {
            "male" | "m" | "nam" | "1" => Ok(Sex::Male),
            "female" | "f" | "nu" | "2" => Ok(Sex::Female),
            _ => Err(Error::invalid(
                "sex",
                format!("Giới tính không hợp lệ: «{raw}» (dùng nam/nữ)"),
                format!("Invalid sex: «{raw}» (use male/female)"),
            )),
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Sex::Male => "Nam",
            Sex::Female => "Nữ",
        }
    }
}

/// A 12-digit citizen identity number (căn cước công dân). Only the shape is enforced; agreement of
/// digits 4–6 with sex and birth year is checked separately ([`NationalId::consistent_with`]) because
/// real registers hold inconsistent numbers that must be flagged, not rejected.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(try_from = "String", into = "String")]
pub struct NationalId(String);

impl NationalId {
    pub fn parse(raw: &str) -> Result<NationalId, Error> {
        let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(NationalId(s))
        } else {
            Err(Error::invalid(
                "national_id",
                format!("Số CCCD phải gồm đúng 12 chữ số: «{raw}»"),
                format!("A citizen ID must be exactly 12 digits: «{raw}»"),
            ))
        }
    }

    /// Builds the century/sex digit (digit 4) for a birth year: 1900s male 0 / female 1, 2000s 2/3,
    /// 2100s 4/5, 2200s 6/7, 2300s 8/9. `None` outside 1900–2399.
    pub fn century_sex_digit(birth_year: i32, sex: Sex) -> Option<u8> {
        if !(1900..2400).contains(&birth_year) {
            return None;
        }
        let century = ((birth_year - 1900) / 100) as u8;
        Some(century * 2 + u8::from(sex == Sex::Female))
    }

    /// Composes an ID from its parts (used by the demo generator and tests).
    pub fn compose(province_of_birth: u16, birth_year: i32, sex: Sex, serial: u32) -> Option<Self> {
        let digit = Self::century_sex_digit(birth_year, sex)?;
        if province_of_birth > 999 || serial > 999_999 {
            return None;
        }
        Some(NationalId(format!(
            "{province_of_birth:03}{digit}{:02}{serial:06}",
            birth_year.rem_euclid(100)
        )))
    }

    /// Digits 1–3: province of birth registration (e.g. `012` Lai Châu).
    pub fn province_of_birth(&self) -> &str {
        &self.0[..3]
    }

    /// Whether digits 4–6 agree with the given sex and birth date.
    pub fn consistent_with(&self, sex: Sex, dob: NaiveDate) -> bool {
        let expected = Self::century_sex_digit(dob.year(), sex);
        let digit = self.0.as_bytes()[3] - b'0';
        let yy: i32 = self.0[4..6].parse().unwrap_or(-1);
        expected == Some(digit) && yy == dob.year().rem_euclid(100)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Masked form for lists: first 4 and last 2 digits kept (`0381******45`).
    pub fn masked(&self) -> String {
        mask_digits(&self.0)
    }
}

impl std::fmt::Debug for NationalId {
    /// Never prints the full number (logs, panics).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NationalId({})", self.masked())
    }
}

impl TryFrom<String> for NationalId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        NationalId::parse(&s)
    }
}

impl From<NationalId> for String {
    fn from(n: NationalId) -> String {
        n.0
    }
}

/// A Vietnamese phone number normalised to its national form (`0` + 9 digits); `+84`/`84` prefixes
/// are accepted on input.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone, Error> {
        let digits: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
            .collect();
        let national = if let Some(rest) = digits.strip_prefix("+84") {
            format!("0{rest}")
        } else if digits.len() == 11 && digits.starts_with("84") {
            format!("0{}", &digits[2..])
        } else {
            digits
        };
        if national.len() == 10
            && national.starts_with('0')
            && national.bytes().all(|b| b.is_ascii_digit())
        {
            Ok(Phone(national))
        } else {
            Err(Error::invalid(
                "phone",
                format!("Số điện thoại không hợp lệ: «{raw}» (10 chữ số, bắt đầu bằng 0)"),
                format!("Invalid phone number: «{raw}» (10 digits starting with 0)"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Masked form for lists (`0912****78`).
    pub fn masked(&self) -> String {
        mask_digits(&self.0)
    }
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl TryFrom<String> for Phone {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

/// Keeps the first 4 and last 2 characters and stars the rest; short values are fully starred.
pub fn mask_digits(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 4 || i >= n - 2 { *c } else { '*' })
        .collect()
}

/// A household in the register: the people living at one address in one commune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Household {
    pub id: Uuid,
    /// 2025 province code.
    pub province_code: String,
    /// 2025 commune code.
    pub commune_code: String,
    /// Pre-2025 commune code of the same address, when known.
    pub old_commune_code: Option<String>,
    /// Street address within the commune ("Số 12, tổ 3, bản Nà Tăm").
    pub address: String,
}

/// A person in the population register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: Uuid,
    /// 2025 province code (partition key).
    pub province_code: String,
    /// 2025 commune code of residence.
    pub commune_code: String,
    /// Pre-2025 commune code of residence, when known (historical data uses old codes).
    pub old_commune_code: Option<String>,
    pub household_id: Option<Uuid>,
    /// Full name, normalised with [`crate::name::normalize`].
    pub full_name: String,
    pub dob: NaiveDate,
    pub sex: Sex,
    pub national_id: Option<NationalId>,
    pub phone: Option<Phone>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_id_shape() {
        assert!(NationalId::parse("012090001234").is_ok());
        assert!(NationalId::parse("0120 9000 1234").is_ok());
        let e = NationalId::parse("01209000123").unwrap_err();
        assert_eq!(e.details["field"], "national_id");
        assert!(NationalId::parse("01209000123a").is_err());
    }

    #[test]
    fn national_id_century_sex_year() {
        let dob = NaiveDate::from_ymd_opt(1990, 5, 1).unwrap();
        let male = NationalId::compose(12, 1990, Sex::Male, 1234).unwrap();
        assert_eq!(male.as_str(), "012090001234");
        assert!(male.consistent_with(Sex::Male, dob));
        assert!(!male.consistent_with(Sex::Female, dob));
        let girl = NationalId::compose(1, 2007, Sex::Female, 42).unwrap();
        assert_eq!(girl.as_str(), "001307000042");
        assert!(girl.consistent_with(Sex::Female, NaiveDate::from_ymd_opt(2007, 1, 1).unwrap()));
        assert!(!girl.consistent_with(Sex::Female, NaiveDate::from_ymd_opt(1907, 1, 1).unwrap()));
        assert_eq!(NationalId::century_sex_digit(2100, Sex::Male), Some(4));
        assert_eq!(NationalId::century_sex_digit(1899, Sex::Male), None);
    }

    #[test]
    fn masking_keeps_four_and_two() {
        let id = NationalId::parse("038123456745").unwrap();
        assert_eq!(id.masked(), "0381******45");
        assert_eq!(format!("{id:?}"), "NationalId(0381******45)");
        let p = Phone::parse("+84 912 345 678").unwrap();
        assert_eq!(p.as_str(), "0912345678");
        assert_eq!(p.masked(), "0912****78");
        assert!(!format!("{p:?}").contains("345"));
        assert_eq!(mask_digits("123"), "***");
    }

    #[test]
    fn phone_rejects_garbage() {
        assert!(Phone::parse("12345").is_err());
        assert!(Phone::parse("84912345678").is_ok());
        assert!(Phone::parse("1912345678").is_err());
    }

    #[test]
    fn sex_parses_vietnamese() {
        assert_eq!(Sex::parse("Nữ").unwrap(), Sex::Female);
        assert_eq!(Sex::parse("NAM").unwrap(), Sex::Male);
        assert!(Sex::parse("x").is_err());
    }
}
