//! Population-register import rows: parsing and validation of one row of a register file
//! (`national_id,full_name,dob,sex,commune_code,phone[,household_id,external_id]`) into a
//! [`RegisterEntry`], with every problem reported per column in Vietnamese.
//!
//! Citizen IDs must have 12 digits; when digits 4–6 disagree with sex and birth year the row is
//! kept and flagged ([`RegisterEntry::national_id_inconsistent`]), because real registers hold
//! such numbers. Commune codes may be 2025 codes or pre-2025 codes (mapped to the 2025 commune
//! holding most of the old one).

use chrono::NaiveDate;
use serde::Serialize;

use crate::name;
use crate::person::{NationalId, Phone, Sex};
use crate::units::AdminUnits;

/// Required columns of a register file, in the documented order.
pub const REQUIRED_COLUMNS: [&str; 6] = [
    "national_id",
    "full_name",
    "dob",
    "sex",
    "commune_code",
    "phone",
];
/// Optional columns.
pub const OPTIONAL_COLUMNS: [&str; 2] = ["household_id", "external_id"];

/// A validated register row, ready to be inserted or to update an existing person.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterEntry {
    pub national_id: Option<NationalId>,
    /// True when digits 4–6 of the ID disagree with sex and birth year (kept, flagged).
    pub national_id_inconsistent: bool,
    /// Normalised full name (NFC, single spaces, capitalised words).
    pub full_name: String,
    pub dob: NaiveDate,
    pub sex: Sex,
    /// 2025 province and commune.
    pub province_code: String,
    pub commune_code: String,
    /// Pre-2025 commune, when the file gave an old code.
    pub old_commune_code: Option<String>,
    pub phone: Option<Phone>,
    /// Household identifier used by the source system.
    pub household_ref: Option<String>,
    /// Identifier of the person in the source system.
    pub external_id: Option<String>,
}

/// One problem in one cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellError {
    pub column: String,
    pub value: String,
    /// Vietnamese message for the data clerk.
    pub message: String,
}

pub(crate) fn cell_error(column: &str, value: &str, message: impl Into<String>) -> CellError {
    CellError {
        column: column.to_string(),
        value: value.to_string(),
        message: message.into(),
    }
}

/// Reads the optional birth date cell of a record row: a date not after `today`, or a bare birth
/// year (kept as typed by the caller); anything else is an error pushed to `errors`.
pub(crate) fn birth_date_cell(
    raw_dob: &str,
    today: chrono::NaiveDate,
    errors: &mut Vec<CellError>,
) -> Option<chrono::NaiveDate> {
    if raw_dob.is_empty() {
        return None;
    }
    match crate::dose_record::parse_date(raw_dob) {
        Some(d) if d <= today => Some(d),
        Some(_) => {
            errors.push(cell_error("dob", raw_dob, "Ngày sinh ở tương lai"));
            None
        }
        None if raw_dob.len() == 4 && raw_dob.chars().all(|c| c.is_ascii_digit()) => None,
        None => {
            errors.push(cell_error(
                "dob",
                raw_dob,
                "Ngày sinh không hợp lệ (dạng YYYY-MM-DD hoặc DD/MM/YYYY, ngày có thật; \
                 hoặc chỉ năm sinh)",
            ));
            None
        }
    }
}

/// A record row must identify its person: a valid citizen ID, or a name and a birth date.
pub(crate) fn check_identity(
    national_id: &str,
    full_name: &str,
    raw_dob: &str,
    errors: &mut Vec<CellError>,
) {
    let id_ok = crate::person::NationalId::parse(national_id).is_ok();
    if !id_ok && (full_name.is_empty() || raw_dob.is_empty()) {
        errors.push(cell_error(
            "national_id",
            national_id,
            if national_id.is_empty() {
                "Không đủ thông tin xác định người: cần số CCCD, hoặc họ tên và ngày sinh"
            } else {
                "Số CCCD phải gồm đúng 12 chữ số; không có họ tên và ngày sinh để xác định người"
            },
        ));
    }
}

/// Columns missing from a header row (required ones only).
pub fn missing_columns(header: &[String]) -> Vec<&'static str> {
    REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h.trim().eq_ignore_ascii_case(c)))
        .collect()
}

/// Parses one row given as `(column, value)` lookups. Returns every cell error at once.
pub fn parse_row(
    get: impl Fn(&str) -> Option<String>,
    units: &AdminUnits,
) -> Result<RegisterEntry, Vec<CellError>> {
    let mut errors = Vec::new();
    let cell = |c: &str| get(c).map(|v| v.trim().to_string()).unwrap_or_default();

    let raw_name = cell("full_name");
    let full_name = name::normalize(&raw_name);
    if full_name.is_empty() {
        errors.push(cell_error("full_name", &raw_name, "Thiếu họ và tên"));
    } else if full_name.chars().any(|c| c.is_ascii_digit()) {
        errors.push(cell_error(
            "full_name",
            &raw_name,
            "Họ tên không được chứa chữ số",
        ));
    }

    let raw_dob = cell("dob");
    let dob = NaiveDate::parse_from_str(&raw_dob, "%Y-%m-%d").ok();
    if dob.is_none() {
        errors.push(cell_error(
            "dob",
            &raw_dob,
            "Ngày sinh phải có dạng YYYY-MM-DD (vd. 1990-05-31) và là ngày có thật",
        ));
    }

    let raw_sex = cell("sex");
    let sex = Sex::parse(&raw_sex).ok();
    if sex.is_none() {
        errors.push(cell_error("sex", &raw_sex, "Giới tính phải là nam hoặc nữ"));
    }

    let raw_id = cell("national_id");
    let national_id = if raw_id.is_empty() {
        None
    } else {
        match NationalId::parse(&raw_id) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(cell_error(
                    "national_id",
                    &raw_id,
                    "Số CCCD phải gồm đúng 12 chữ số",
                ));
                None
            }
        }
    };

    let raw_phone = cell("phone");
    let phone = if raw_phone.is_empty() {
        None
    } else {
        match Phone::parse(&raw_phone) {
            Ok(p) => Some(p),
            Err(_) => {
                errors.push(cell_error(
                    "phone",
                    &raw_phone,
                    "Số điện thoại phải có 10 chữ số, bắt đầu bằng 0 (hoặc +84)",
                ));
                None
            }
        }
    };

    let raw_commune = cell("commune_code");
    let commune = resolve_commune(&raw_commune, units);
    if commune.is_none() {
        errors.push(cell_error(
            "commune_code",
            &raw_commune,
            "Mã xã/phường không có trong danh mục 2025 hoặc danh mục trước 2025",
        ));
    }

    let optional = |c: &str| Some(cell(c)).filter(|v| !v.is_empty());
    match (dob, sex, commune) {
        (Some(dob), Some(sex), Some((province_code, commune_code, old))) if errors.is_empty() => {
            let national_id_inconsistent = national_id
                .as_ref()
                .is_some_and(|id| !id.consistent_with(sex, dob));
            Ok(RegisterEntry {
                national_id,
                national_id_inconsistent,
                full_name,
                dob,
                sex,
                province_code,
                commune_code,
                old_commune_code: old,
                phone,
                household_ref: optional("household_id"),
                external_id: optional("external_id"),
            })
        }
        _ => Err(errors),
    }
}

/// `(2025 province, 2025 commune, pre-2025 commune if the code was old)`.
fn resolve_commune(code: &str, units: &AdminUnits) -> Option<(String, String, Option<String>)> {
    let code = format!("{code:0>5}");
    let province = |c: &str| units.v2025.province_of(c).map(|p| p.code.clone());
    if units.v2025.get(&code).is_some() {
        return Some((province(&code)?, code, None));
    }
    if units.pre2025.get(&code).is_some() {
        let new = units.default_new_commune(&code)?.to_string();
        return Some((province(&new)?, new, Some(code)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |c: &str| owned.iter().find(|(k, _)| k == c).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_good_row_is_normalised() {
        let u = AdminUnits::embedded();
        let e = parse_row(
            row(&[
                ("national_id", "012090001234"),
                ("full_name", "  nguyễn   văn AN "),
                ("dob", "1990-05-01"),
                ("sex", "Nam"),
                ("commune_code", "00097"),
                ("phone", "+84912345678"),
                ("external_id", "HN-1"),
            ]),
            u,
        )
        .unwrap();
        assert_eq!(e.full_name, "Nguyễn Văn An");
        assert_eq!(e.phone.unwrap().as_str(), "0912345678");
        assert_eq!(
            (e.province_code.as_str(), e.commune_code.as_str()),
            ("01", "00097")
        );
        assert!(!e.national_id_inconsistent);
        assert_eq!(e.external_id.as_deref(), Some("HN-1"));
        assert_eq!(e.household_ref, None);
    }

    #[test]
    fn inconsistent_ids_are_flagged_not_rejected() {
        let u = AdminUnits::embedded();
        let e = parse_row(
            row(&[
                ("national_id", "012190001234"), // digit 4 says female
                ("full_name", "Trần Văn Bình"),
                ("dob", "1990-05-01"),
                ("sex", "male"),
                ("commune_code", "00097"),
                ("phone", ""),
            ]),
            u,
        )
        .unwrap();
        assert!(e.national_id_inconsistent);
        assert!(e.phone.is_none());
    }

    #[test]
    fn old_commune_codes_map_to_2025() {
        let u = AdminUnits::embedded();
        let e = parse_row(
            row(&[
                ("national_id", ""),
                ("full_name", "Lê Thị Hoa"),
                ("dob", "1970-01-31"),
                ("sex", "nữ"),
                ("commune_code", "1"),
                ("phone", ""),
            ]),
            u,
        )
        .unwrap();
        assert_eq!(e.commune_code, "00097");
        assert_eq!(e.old_commune_code.as_deref(), Some("00001"));
    }

    #[test]
    fn every_bad_cell_is_reported_in_vietnamese() {
        let u = AdminUnits::embedded();
        let errs = parse_row(
            row(&[
                ("national_id", "12345"),
                ("full_name", ""),
                ("dob", "31/05/1990"),
                ("sex", "x"),
                ("commune_code", "99999"),
                ("phone", "123"),
            ]),
            u,
        )
        .unwrap_err();
        let cols: Vec<&str> = errs.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(
            cols,
            [
                "full_name",
                "dob",
                "sex",
                "national_id",
                "phone",
                "commune_code"
            ]
        );
        assert!(errs.iter().all(|e| !e.message.is_empty()));
        assert_eq!(errs[1].value, "31/05/1990");
    }

    #[test]
    fn header_check() {
        let h: Vec<String> = ["full_name", "DOB", "sex", "commune_code", "phone"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(missing_columns(&h), ["national_id"]);
    }
}
