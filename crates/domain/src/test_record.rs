//! Laboratory test rows as labs and sampling sites send them (form, API, or a row of a
//! `record_id,national_id,full_name,dob,sex,commune_code,phone,sample_date,test_type,result,lab_code`
//! file): parsing and validation into a [`TestRow`], with every problem reported per column in
//! Vietnamese ([`crate::register::CellError`]). The calling pattern is the one of
//! [`crate::dose_record::parse_row`]: a `(column) -> value` lookup and `today`.
//!
//! A row is rejected when it cannot be a real test: no record id or lab, a test type or result
//! that cannot be read (common spellings such as `RT-PCR`, `test nhanh`, `kháng nguyên`,
//! `dương tính`, `+` are accepted), an impossible or future sample date, a sample before the
//! first SARS-CoV-2 tests (1/1/2020) or before the person's birth, or nothing to identify the
//! person (neither a well-formed citizen ID nor a name with a birth date). Identifying fields
//! are otherwise kept as typed: a mistyped citizen ID is still evidence for record linkage.

use chrono::NaiveDate;
use serde::Serialize;

use crate::dose_record::parse_date;
use crate::register::{CellError, birth_date_cell, cell_error, check_identity};
use crate::surveillance::{TestResult, TestType};

/// Columns of a test file, in the documented order (`record_id`, `sample_date`, `test_type`,
/// `result` and `lab_code` are required in every row; the identifying columns as described
/// above).
pub const COLUMNS: [&str; 11] = [
    "record_id",
    "national_id",
    "full_name",
    "dob",
    "sex",
    "commune_code",
    "phone",
    "sample_date",
    "test_type",
    "result",
    "lab_code",
];

/// Columns every file must have (the others may be absent when empty).
pub const REQUIRED_COLUMNS: [&str; 5] = [
    "record_id",
    "sample_date",
    "test_type",
    "result",
    "lab_code",
];

/// No SARS-CoV-2 test was taken anywhere before this date (the virus was identified and the
/// first PCR protocols published in January 2020).
pub const FIRST_POSSIBLE_SAMPLE: NaiveDate = match NaiveDate::from_ymd_opt(2020, 1, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};

/// A validated test row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestRow {
    pub record_id: String,
    pub lab_code: String,
    /// As typed.
    pub national_id: String,
    pub full_name: String,
    /// ISO date when the birth date could be read, else as typed (e.g. a birth year).
    pub dob: String,
    pub sex: String,
    pub commune_code: String,
    pub phone: String,
    pub sample_date: NaiveDate,
    pub test_type: TestType,
    pub result: TestResult,
}

/// Letters and digits of the folded text ("Test nhanh kháng-nguyên" → "testnhanhkhangnguyen").
fn compact(raw: &str) -> String {
    crate::name::fold(raw)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Reads a test type: the stored codes and the spellings labs commonly use.
pub fn parse_test_type(raw: &str) -> Option<TestType> {
    if let Ok(t) = TestType::parse(raw) {
        return Some(t);
    }
    match compact(raw).as_str() {
        "rtpcr" | "pcr" | "realtimertpcr" | "realtimepcr" | "xetnghiempcr" | "xetnghiemrtpcr" => {
            Some(TestType::RtPcr)
        }
        "rapidantigen"
        | "rapid"
        | "antigen"
        | "rapidantigentest"
        | "ag"
        | "testnhanh"
        | "khangnguyen"
        | "testnhanhkhangnguyen"
        | "xetnghiemnhanh"
        | "xetnghiemnhanhkhangnguyen" => Some(TestType::RapidAntigen),
        "antibody" | "khangthe" | "testnhanhkhangthe" | "xetnghiemkhangthe" | "serology" => {
            Some(TestType::Antibody)
        }
        _ => None,
    }
}

/// Reads a result: the stored codes, `+`/`-`, `pos`/`neg` and the Vietnamese words.
pub fn parse_result(raw: &str) -> Option<TestResult> {
    match raw.trim() {
        "+" => return Some(TestResult::Positive),
        "-" => return Some(TestResult::Negative),
        _ => {}
    }
    match compact(raw).as_str() {
        "positive" | "pos" | "duongtinh" => Some(TestResult::Positive),
        "negative" | "neg" | "amtinh" => Some(TestResult::Negative),
        "inconclusive" | "khongxacdinh" | "indeterminate" => Some(TestResult::Inconclusive),
        _ => None,
    }
}

/// Parses one row given as `(column, value)` lookups; `today` bounds the sample date. Returns
/// every cell error at once.
pub fn parse_row(
    get: impl Fn(&str) -> Option<String>,
    today: NaiveDate,
) -> Result<TestRow, Vec<CellError>> {
    let cell = |c: &str| get(c).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut errors = Vec::new();

    let record_id = cell("record_id");
    if record_id.is_empty() {
        errors.push(cell_error("record_id", "", "Thiếu mã bản ghi (record_id)"));
    }
    let lab_code = cell("lab_code");
    if lab_code.is_empty() {
        errors.push(cell_error(
            "lab_code",
            "",
            "Thiếu mã phòng xét nghiệm / điểm lấy mẫu (lab_code)",
        ));
    }

    let raw_type = cell("test_type");
    let test_type = parse_test_type(&raw_type);
    if test_type.is_none() {
        errors.push(cell_error(
            "test_type",
            &raw_type,
            if raw_type.is_empty() {
                "Thiếu loại xét nghiệm"
            } else {
                "Loại xét nghiệm không hợp lệ (RT-PCR, test nhanh kháng nguyên hoặc kháng thể; \
                 mã: rt-pcr, rapid-antigen, antibody)"
            },
        ));
    }

    let raw_result = cell("result");
    let result = parse_result(&raw_result);
    if result.is_none() {
        errors.push(cell_error(
            "result",
            &raw_result,
            if raw_result.is_empty() {
                "Thiếu kết quả xét nghiệm"
            } else {
                "Kết quả không hợp lệ (dương tính, âm tính hoặc không xác định; \
                 mã: positive, negative, inconclusive; hoặc +, -)"
            },
        ));
    }

    let raw_dob = cell("dob");
    let dob = birth_date_cell(&raw_dob, today, &mut errors);

    let raw_date = cell("sample_date");
    let sample_date = match parse_date(&raw_date) {
        None => {
            errors.push(cell_error(
                "sample_date",
                &raw_date,
                if raw_date.is_empty() {
                    "Thiếu ngày lấy mẫu"
                } else {
                    "Ngày lấy mẫu không hợp lệ (dạng YYYY-MM-DD hoặc DD/MM/YYYY, ngày có thật)"
                },
            ));
            None
        }
        Some(d) if d > today => {
            errors.push(cell_error(
                "sample_date",
                &raw_date,
                "Ngày lấy mẫu ở tương lai",
            ));
            None
        }
        Some(d) if d < FIRST_POSSIBLE_SAMPLE => {
            errors.push(cell_error(
                "sample_date",
                &raw_date,
                "Ngày lấy mẫu trước khi có xét nghiệm SARS-CoV-2 (01/2020)",
            ));
            None
        }
        Some(d) if dob.is_some_and(|b| d < b) => {
            errors.push(cell_error(
                "sample_date",
                &raw_date,
                "Ngày lấy mẫu trước ngày sinh",
            ));
            None
        }
        Some(d) => Some(d),
    };

    let national_id = cell("national_id");
    let full_name = crate::name::normalize(&cell("full_name"));
    check_identity(&national_id, &full_name, &raw_dob, &mut errors);

    match (sample_date, test_type, result) {
        (Some(sample_date), Some(test_type), Some(result)) if errors.is_empty() => Ok(TestRow {
            record_id,
            lab_code,
            national_id,
            full_name,
            dob: dob.map(|d| d.to_string()).unwrap_or(raw_dob),
            sex: cell("sex"),
            commune_code: cell("commune_code"),
            phone: cell("phone"),
            sample_date,
            test_type,
            result,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2022, 3, 15).unwrap()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<TestRow, Vec<CellError>> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_row(|c| map.get(c).cloned(), today())
    }

    const GOOD: [(&str, &str); 8] = [
        ("record_id", "XN-1"),
        ("national_id", "001090012345"),
        ("test_type", "RT-PCR"),
        ("result", "dương tính"),
        ("sample_date", "14/03/2022"),
        ("lab_code", "CDC-35"),
        ("full_name", "trần  thị bình"),
        ("dob", "1990-05-31"),
    ];

    fn with(changes: &[(&str, &str)]) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&str, String)> = GOOD
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .map(|(k, v)| (*k, v.to_string()))
            .collect();
        for (k, v) in changes {
            if !v.is_empty() {
                let key = COLUMNS.iter().find(|c| *c == k).expect("known column");
                pairs.push((key, v.to_string()));
            }
        }
        pairs
    }

    fn parse_with(changes: &[(&str, &str)]) -> Result<TestRow, Vec<CellError>> {
        let pairs = with(changes);
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        parse(&refs)
    }

    fn errors_of(changes: &[(&str, &str)]) -> Vec<String> {
        parse_with(changes)
            .unwrap_err()
            .into_iter()
            .map(|e| e.column)
            .collect()
    }

    #[test]
    fn a_good_row_is_normalised() {
        let r = parse(&GOOD).unwrap();
        assert_eq!(r.test_type, TestType::RtPcr);
        assert_eq!(r.result, TestResult::Positive);
        assert_eq!(r.sample_date, NaiveDate::from_ymd_opt(2022, 3, 14).unwrap());
        assert_eq!(r.full_name, "Trần Thị Bình");
        assert_eq!(r.dob, "1990-05-31");
        assert_eq!(r.lab_code, "CDC-35");
    }

    #[test]
    fn the_columns_are_the_documented_ones() {
        assert_eq!(COLUMNS.len(), 11);
        for c in REQUIRED_COLUMNS {
            assert!(COLUMNS.contains(&c));
        }
        // Every good-row key is a documented column.
        assert!(GOOD.iter().all(|(k, _)| COLUMNS.contains(k)));
    }

    #[test]
    fn common_test_type_spellings_are_read() {
        for (raw, want) in [
            ("rt-pcr", TestType::RtPcr),
            ("RT-PCR", TestType::RtPcr),
            ("PCR", TestType::RtPcr),
            ("rtpcr", TestType::RtPcr),
            ("Realtime RT-PCR", TestType::RtPcr),
            ("rapid-antigen", TestType::RapidAntigen),
            ("test nhanh", TestType::RapidAntigen),
            ("Test nhanh kháng nguyên", TestType::RapidAntigen),
            ("kháng nguyên", TestType::RapidAntigen),
            ("KHANG NGUYEN", TestType::RapidAntigen),
            ("rapid", TestType::RapidAntigen),
            ("Antigen", TestType::RapidAntigen),
            ("antibody", TestType::Antibody),
            ("kháng thể", TestType::Antibody),
            ("test nhanh kháng thể", TestType::Antibody),
        ] {
            assert_eq!(parse_test_type(raw), Some(want), "{raw}");
        }
        for raw in ["", "elisa?", "x-quang", "pc"] {
            assert_eq!(parse_test_type(raw), None, "{raw}");
        }
        let errs = parse_with(&[("test_type", "x-quang")]).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].column, "test_type");
        assert_eq!(errs[0].value, "x-quang");
        assert!(errs[0].message.contains("RT-PCR"), "{}", errs[0].message);
        assert_eq!(errors_of(&[("test_type", "")]), ["test_type"]);
    }

    #[test]
    fn common_result_spellings_are_read() {
        for (raw, want) in [
            ("positive", TestResult::Positive),
            ("Dương tính", TestResult::Positive),
            ("duong tinh", TestResult::Positive),
            ("+", TestResult::Positive),
            ("POS", TestResult::Positive),
            ("negative", TestResult::Negative),
            ("âm tính", TestResult::Negative),
            ("-", TestResult::Negative),
            ("neg", TestResult::Negative),
            ("inconclusive", TestResult::Inconclusive),
            ("Không xác định", TestResult::Inconclusive),
        ] {
            assert_eq!(parse_result(raw), Some(want), "{raw}");
        }
        for raw in ["", "++", "có", "dương"] {
            assert_eq!(parse_result(raw), None, "{raw}");
        }
        assert_eq!(errors_of(&[("result", "có")]), ["result"]);
        assert_eq!(errors_of(&[("result", "")]), ["result"]);
    }

    #[test]
    fn impossible_future_and_early_dates_are_rejected() {
        assert_eq!(errors_of(&[("sample_date", "2021-02-30")]), ["sample_date"]);
        assert_eq!(errors_of(&[("sample_date", "")]), ["sample_date"]);
        // Today is fine, tomorrow is not.
        assert!(parse_with(&[("sample_date", "2022-03-15")]).is_ok());
        assert_eq!(errors_of(&[("sample_date", "2022-03-16")]), ["sample_date"]);
        // The first SARS-CoV-2 tests: 1/1/2020 is the earliest accepted date.
        assert!(parse_with(&[("sample_date", "01/01/2020")]).is_ok());
        let e = parse_with(&[("sample_date", "31/12/2019")]).unwrap_err();
        assert_eq!(e[0].column, "sample_date");
        assert!(e[0].message.contains("01/2020"));
        // Not before birth (the birth day itself is fine).
        assert_eq!(
            errors_of(&[("dob", "2021-06-02"), ("sample_date", "2021-06-01")]),
            ["sample_date"]
        );
        assert!(parse_with(&[("dob", "2021-06-01"), ("sample_date", "2021-06-01")]).is_ok());
        assert_eq!(errors_of(&[("dob", "31/02/1990")]), ["dob"]);
        assert_eq!(errors_of(&[("dob", "2023-01-01")]), ["dob"]);
    }

    #[test]
    fn missing_keys_are_rejected_with_vietnamese_messages() {
        let e = parse_with(&[("record_id", "")]).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].column, "record_id");
        assert!(e[0].message.starts_with("Thiếu"));
        assert_eq!(errors_of(&[("lab_code", "")]), ["lab_code"]);
        // Every problem at once.
        assert_eq!(
            errors_of(&[
                ("record_id", ""),
                ("lab_code", ""),
                ("test_type", "?"),
                ("result", "?"),
                ("sample_date", "?"),
            ]),
            [
                "record_id",
                "lab_code",
                "test_type",
                "result",
                "sample_date"
            ]
        );
    }

    #[test]
    fn someone_must_be_identifiable() {
        // A citizen ID alone is enough; so is a name with a birth date (or birth year).
        assert!(parse_with(&[("full_name", ""), ("dob", "")]).is_ok());
        let r = parse_with(&[("national_id", ""), ("dob", "1990")]).unwrap();
        assert_eq!(r.dob, "1990");
        assert_eq!(
            errors_of(&[("national_id", ""), ("dob", "")]),
            ["national_id"]
        );
        assert_eq!(
            errors_of(&[("national_id", "12345"), ("full_name", "")]),
            ["national_id"]
        );
        // A mistyped ID with name and birth date is kept as typed for linkage.
        assert_eq!(
            parse_with(&[("national_id", "00109001234")])
                .unwrap()
                .national_id,
            "00109001234"
        );
    }
}
