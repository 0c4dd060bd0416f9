//! Dose records as vaccination sites send them (form, API, or a row of a
//! `record_id,national_id,full_name,dob,sex,commune_code,phone,vaccine,dose_date,lot,site_code`
//! file): parsing and validation into a [`DoseRow`], with every problem reported per column in
//! Vietnamese ([`crate::register::CellError`]).
//!
//! A row is rejected when it cannot be a real dose: no record id or site, a vaccine the
//! catalogue does not know, an impossible or future dose date, a dose before COVID-19 vaccines
//! existed or before the person's birth, or nothing to identify the person (neither a
//! well-formed citizen ID nor a name with a birth date). Identifying fields are otherwise kept as
//! typed: a mistyped citizen ID is still evidence for record linkage.

use chrono::NaiveDate;
use serde::Serialize;

use crate::register::{CellError, birth_date_cell, cell_error, check_identity};
use crate::vaccines::VaccineCatalogue;

/// Columns of a dose file, in the documented order (`record_id`, `vaccine`, `dose_date` and
/// `site_code` are required in every row; the identifying columns as described above).
pub const COLUMNS: [&str; 11] = [
    "record_id",
    "national_id",
    "full_name",
    "dob",
    "sex",
    "commune_code",
    "phone",
    "vaccine",
    "dose_date",
    "lot",
    "site_code",
];

/// Optional extra column: `additional` (`1`/`true`/`có`) marks an additional dose for an
/// immunocompromised person.
pub const OPTIONAL_COLUMNS: [&str; 1] = ["additional"];

/// No COVID-19 vaccine was given anywhere before this date (first authorisations, Dec 2020).
pub const FIRST_POSSIBLE_DOSE: NaiveDate = match NaiveDate::from_ymd_opt(2020, 12, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};

/// A validated dose row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoseRow {
    pub record_id: String,
    pub site_code: String,
    /// As typed (digits only kept when it is a well-formed ID).
    pub national_id: String,
    pub full_name: String,
    /// ISO date when the birth date could be read, else as typed.
    pub dob: String,
    pub sex: String,
    pub commune_code: String,
    pub phone: String,
    /// EU DCC medicinal product code.
    pub vaccine: String,
    /// The vaccine as typed (alias or code).
    pub vaccine_input: String,
    pub dose_date: NaiveDate,
    pub lot: String,
    pub additional: bool,
}

/// Reads `YYYY-MM-DD` or `DD/MM/YYYY` (also `D/M/YYYY`, `DD-MM-YYYY`).
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let t = raw.trim();
    ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(t, f).ok())
}

fn truthy(raw: &str) -> bool {
    matches!(
        raw.trim().to_lowercase().as_str(),
        "1" | "true" | "yes" | "x" | "có" | "co"
    )
}

/// A cell as typed, with the leading zeros a spreadsheet drops from numbers put back: a citizen
/// ID of 10 or 11 digits not starting with 0 (every CCCD starts with 0, Hà Nội's with 001), a
/// commune code of 1–4 digits (codes have 5), a mobile number of 9 digits starting with 3, 5, 7,
/// 8 or 9. Anything else is left as it is (and validated as typed).
pub fn leading_zeros_restored(column: &str, value: &str) -> String {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let width = match column {
        "national_id" if digits && matches!(value.len(), 10 | 11) && !value.starts_with('0') => 12,
        "commune_code" if digits && value.len() < 5 => 5,
        "phone"
            if digits
                && value.len() == 9
                && matches!(value.as_bytes()[0], b'3' | b'5' | b'7' | b'8' | b'9') =>
        {
            10
        }
        _ => return value.to_string(),
    };
    format!("{value:0>width$}")
}

/// Parses one row given as `(column, value)` lookups; `today` bounds the dose date. Returns
/// every cell error at once.
pub fn parse_row(
    get: impl Fn(&str) -> Option<String>,
    catalogue: &VaccineCatalogue,
    today: NaiveDate,
) -> Result<DoseRow, Vec<CellError>> {
    let cell = |c: &str| {
        let v = get(c).map(|v| v.trim().to_string()).unwrap_or_default();
        leading_zeros_restored(c, &v)
    };
    let mut errors = Vec::new();

    let record_id = cell("record_id");
    if record_id.is_empty() {
        errors.push(cell_error("record_id", "", "Thiếu mã bản ghi (record_id)"));
    }
    let site_code = cell("site_code");
    if site_code.is_empty() {
        errors.push(cell_error(
            "site_code",
            "",
            "Thiếu mã điểm tiêm (site_code)",
        ));
    }

    let vaccine_input = cell("vaccine");
    let vaccine = match catalogue.resolve(&vaccine_input) {
        Some(p) => p.code.clone(),
        None => {
            errors.push(cell_error(
                "vaccine",
                &vaccine_input,
                if vaccine_input.is_empty() {
                    "Thiếu tên vắc xin".to_string()
                } else {
                    "Không có vắc xin này trong danh mục (dùng mã EU DCC hoặc tên như \
                     AstraZeneca, Pfizer, Moderna, Vero Cell…)"
                        .to_string()
                },
            ));
            String::new()
        }
    };

    let raw_dob = cell("dob");
    let dob = birth_date_cell(&raw_dob, today, &mut errors);

    let raw_date = cell("dose_date");
    let dose_date = match parse_date(&raw_date) {
        None => {
            errors.push(cell_error(
                "dose_date",
                &raw_date,
                if raw_date.is_empty() {
                    "Thiếu ngày tiêm"
                } else {
                    "Ngày tiêm không hợp lệ (dạng YYYY-MM-DD hoặc DD/MM/YYYY, ngày có thật)"
                },
            ));
            None
        }
        Some(d) if d > today => {
            errors.push(cell_error("dose_date", &raw_date, "Ngày tiêm ở tương lai"));
            None
        }
        Some(d) if d < FIRST_POSSIBLE_DOSE => {
            errors.push(cell_error(
                "dose_date",
                &raw_date,
                "Ngày tiêm trước khi có vắc xin COVID-19 (12/2020)",
            ));
            None
        }
        Some(d) if dob.is_some_and(|b| d < b) => {
            errors.push(cell_error(
                "dose_date",
                &raw_date,
                "Ngày tiêm trước ngày sinh",
            ));
            None
        }
        Some(d) => Some(d),
    };

    let national_id = cell("national_id");
    let full_name = crate::name::normalize(&cell("full_name"));
    check_identity(&national_id, &full_name, &raw_dob, &mut errors);

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(DoseRow {
        record_id,
        site_code,
        national_id,
        full_name,
        dob: dob.map(|d| d.to_string()).unwrap_or(raw_dob),
        sex: cell("sex"),
        commune_code: cell("commune_code"),
        phone: cell("phone"),
        vaccine,
        vaccine_input,
        dose_date: dose_date.expect("checked above"),
        lot: cell("lot"),
        additional: truthy(&cell("additional")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<DoseRow, Vec<CellError>> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_row(
            |c| map.get(c).cloned(),
            VaccineCatalogue::embedded(),
            today(),
        )
    }

    const GOOD: [(&str, &str); 7] = [
        ("record_id", "R1"),
        ("national_id", "001090012345"),
        ("vaccine", "Pfizer"),
        ("dose_date", "15/08/2021"),
        ("site_code", "TYT-00004"),
        ("full_name", "nguyễn  văn an"),
        ("dob", "1990-05-31"),
    ];

    #[test]
    fn a_good_row_is_normalised() {
        let r = parse(&GOOD).unwrap();
        assert_eq!(r.vaccine, "EU/1/20/1528");
        assert_eq!(r.vaccine_input, "Pfizer");
        assert_eq!(r.dose_date, NaiveDate::from_ymd_opt(2021, 8, 15).unwrap());
        assert_eq!(r.full_name, "Nguyễn Văn An");
        assert!(!r.additional);
    }

    #[test]
    fn zeros_a_spreadsheet_dropped_from_numbers_are_put_back() {
        let mut pairs = GOOD.to_vec();
        pairs.retain(|(k, _)| *k != "national_id");
        // 001090012345, 00004 and 0912345678 typed into number cells.
        pairs.extend([
            ("national_id", "1090012345"),
            ("commune_code", "4"),
            ("phone", "912345678"),
            ("vaccine", "Vero Cell (Sinopharm)"),
        ]);
        pairs.retain(|(k, v)| *k != "vaccine" || *v != "Pfizer");
        let r = parse(&pairs).unwrap();
        assert_eq!(r.national_id, "001090012345");
        assert_eq!(r.commune_code, "00004");
        assert_eq!(r.phone, "0912345678");
        assert_eq!(r.vaccine, "BBIBP-CorV");
        assert_eq!(
            leading_zeros_restored("national_id", "79090012345"),
            "079090012345"
        );
        // Text that was typed wrong stays wrong (and is refused as typed).
        assert_eq!(
            leading_zeros_restored("national_id", "01090012345"),
            "01090012345"
        );
        assert_eq!(leading_zeros_restored("national_id", "1090012"), "1090012");
        assert_eq!(leading_zeros_restored("phone", "212345678"), "212345678");
        assert_eq!(leading_zeros_restored("commune_code", "0a"), "0a");
        assert_eq!(leading_zeros_restored("record_id", "7"), "7");
        assert_eq!(
            errors_of(&[
                ("national_id", "01090012345"),
                ("full_name", ""),
                ("dob", "")
            ]),
            ["national_id"]
        );
    }

    fn errors_of(changes: &[(&str, &str)]) -> Vec<String> {
        let mut pairs: Vec<(&str, &str)> = GOOD
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .copied()
            .collect();
        pairs.extend(changes.iter().filter(|(_, v)| !v.is_empty()).copied());
        parse(&pairs)
            .unwrap_err()
            .into_iter()
            .map(|e| e.column)
            .collect()
    }

    #[test]
    fn impossible_future_and_early_dates_are_rejected() {
        assert_eq!(errors_of(&[("dose_date", "2021-02-30")]), ["dose_date"]);
        assert_eq!(errors_of(&[("dose_date", "2027-01-01")]), ["dose_date"]);
        assert_eq!(errors_of(&[("dose_date", "2019-06-01")]), ["dose_date"]);
        assert_eq!(errors_of(&[("dose_date", "")]), ["dose_date"]);
        assert_eq!(
            errors_of(&[("dob", "2022-01-01"), ("dose_date", "2021-08-01")]),
            ["dose_date"]
        );
        assert_eq!(errors_of(&[("dob", "31/02/1990")]), ["dob"]);
    }

    #[test]
    fn unknown_vaccines_and_missing_keys_are_rejected() {
        assert_eq!(errors_of(&[("vaccine", "Sputnik Light X")]), ["vaccine"]);
        assert_eq!(errors_of(&[("record_id", "")]), ["record_id"]);
        assert_eq!(errors_of(&[("site_code", "")]), ["site_code"]);
    }

    #[test]
    fn someone_must_be_identifiable() {
        // A citizen ID alone is enough; so is a name with a birth date (or birth year).
        assert!(parse(&[GOOD[0], GOOD[1], GOOD[2], GOOD[3], GOOD[4]]).is_ok());
        assert!(parse(&[GOOD[0], GOOD[2], GOOD[3], GOOD[4], GOOD[5], ("dob", "1990")]).is_ok());
        assert_eq!(
            errors_of(&[("national_id", ""), ("dob", "")]),
            ["national_id"]
        );
        assert_eq!(
            errors_of(&[("national_id", "12345"), ("full_name", "")]),
            ["national_id"]
        );
        // A mistyped ID with name and birth date is kept for linkage.
        assert_eq!(
            parse(&[
                GOOD[0],
                ("national_id", "00109001234"),
                GOOD[2],
                GOOD[3],
                GOOD[4],
                GOOD[5],
                GOOD[6]
            ])
            .unwrap()
            .national_id,
            "00109001234"
        );
    }

    #[test]
    fn additional_doses_are_marked() {
        let mut pairs = GOOD.to_vec();
        pairs.push(("additional", "có"));
        assert!(parse(&pairs).unwrap().additional);
    }
}
