//! The Digital COVID Certificate (DCC) payload: serde types following the eHN DCC JSON schema
//! 1.3.0 and a light validator for the schema rules that matter.
//!
//! The types cover all three certificate kinds (vaccination `v`, test `t`, recovery `r`); the
//! vaccination entry is the one phongdich issues. Field names follow the schema's short keys,
//! with Rust-friendly names where the key is a keyword (`fn` → `fn_`, `is` → `is_`).
//!
//! [`validate`] checks a JSON value (usually a decoded payload) against the schema rules:
//! exactly one of `v`/`t`/`r` with exactly one entry, required fields, types, the `ver` and
//! `dob` patterns, at least one of `fnt`/`gnt`, `fnt`/`gnt` (`^[A-Z<]*$`, ≤ 80),
//! `fn`/`gn`/`is`/`ci`/`nm`/`tc` ≤ 80, dose numbers `dn`/`sd` positive integers, full dates (`dt`,
//! `fr`, `df`, `du`) and RFC 3339 date-times (`sc`, `format` is enforced), and the country
//! pattern `[A-Z]{1,10}`. Value-set membership (vaccine codes etc.) is not part of the schema
//! and is not checked.
//!
//! The rules are those of schema 1.3.0 as relaxed by 1.3.3 (the reference copy the project
//! ships): 1.3.3 also accepts a name with only `gnt`. Neither version limits `dn`/`sd` to 9
//! (versions 1.0.0–1.2.1 did); issuing code should still keep them in 1..=9.

use chrono::{DateTime, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Schema version written into new certificates.
pub const SCHEMA_VERSION: &str = "1.3.0";

/// SNOMED CT code of COVID-19, the only disease targeted (`tg`) in the value sets.
pub const DISEASE_COVID19: &str = "840539006";

/// The person's name (`nam`). At least one of `fnt`/`gnt` is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PersonName {
    /// Family name as written (`fn`).
    #[serde(rename = "fn", skip_serializing_if = "Option::is_none", default)]
    pub fn_: Option<String>,
    /// Family name, ICAO 9303 transliteration (`fnt`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fnt: Option<String>,
    /// Given name(s) as written (`gn`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gn: Option<String>,
    /// Given name(s), ICAO 9303 transliteration (`gnt`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gnt: Option<String>,
}

/// One vaccination entry (`v[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vaccination {
    /// Disease or agent targeted (value set `disease-agent-targeted`, `840539006`).
    pub tg: String,
    /// Vaccine or prophylaxis (value set `vaccine-prophylaxis`).
    pub vp: String,
    /// Vaccine medicinal product (value set `vaccine-medicinal-product`).
    pub mp: String,
    /// Marketing authorisation holder or manufacturer (value set `vaccine-mah-manf`).
    pub ma: String,
    /// Dose number (≥ 1).
    pub dn: u32,
    /// Total doses in the series (≥ 1).
    pub sd: u32,
    /// Date of vaccination, `YYYY-MM-DD`.
    pub dt: String,
    /// Country of vaccination (ISO 3166 alpha-2).
    pub co: String,
    /// Certificate issuer (≤ 80 characters).
    #[serde(rename = "is")]
    pub is_: String,
    /// Unique certificate identifier, UVCI (≤ 80 characters); see [`crate::uvci`].
    pub ci: String,
}

/// One test entry (`t[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestEntry {
    /// Disease or agent targeted.
    pub tg: String,
    /// Type of test (value set `test-type`).
    pub tt: String,
    /// NAA test name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nm: Option<String>,
    /// Rapid antigen test device identifier (value set `test-manf`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ma: Option<String>,
    /// Date and time of sample collection (RFC 3339).
    pub sc: String,
    /// Test result (value set `test-result`).
    pub tr: String,
    /// Testing centre.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tc: Option<String>,
    /// Country of test.
    pub co: String,
    /// Certificate issuer.
    #[serde(rename = "is")]
    pub is_: String,
    /// Unique certificate identifier.
    pub ci: String,
}

/// One recovery entry (`r[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// Disease or agent targeted.
    pub tg: String,
    /// Date of the first positive NAA test result.
    pub fr: String,
    /// Country of test.
    pub co: String,
    /// Certificate issuer.
    #[serde(rename = "is")]
    pub is_: String,
    /// Certificate valid from.
    pub df: String,
    /// Certificate valid until.
    pub du: String,
    /// Unique certificate identifier.
    pub ci: String,
}

/// A complete DCC payload (the value of CWT claim -260 → 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dcc {
    /// Schema version, e.g. `1.3.0`.
    pub ver: String,
    /// The person's name.
    pub nam: PersonName,
    /// Date of birth: `YYYY-MM-DD`, `YYYY-MM`, `YYYY` or empty.
    pub dob: String,
    /// Vaccination group.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub v: Option<Vec<Vaccination>>,
    /// Test group.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub t: Option<Vec<TestEntry>>,
    /// Recovery group.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub r: Option<Vec<Recovery>>,
}

impl Dcc {
    /// A vaccination certificate with the current schema version.
    pub fn vaccination(nam: PersonName, dob: impl Into<String>, entry: Vaccination) -> Self {
        Dcc {
            ver: SCHEMA_VERSION.to_string(),
            nam,
            dob: dob.into(),
            v: Some(vec![entry]),
            t: None,
            r: None,
        }
    }

    /// The payload as a JSON value.
    pub fn to_json(&self) -> Value {
        // Serialising these plain structs cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Parse a typed DCC from a JSON value (for example [`crate::hcert::Decoded::dcc`]).
    pub fn from_json(value: &Value) -> Result<Self, serde_json::Error> {
        Dcc::deserialize(value)
    }
}

/// The kind of statement a DCC makes; decides which extended key usage a signer needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateType {
    /// Vaccination (`v`).
    Vaccination,
    /// Test (`t`).
    Test,
    /// Recovery (`r`).
    Recovery,
}

impl CertificateType {
    /// The group key in the payload (`v`, `t`, `r`).
    pub fn group_key(self) -> &'static str {
        match self {
            CertificateType::Vaccination => "v",
            CertificateType::Test => "t",
            CertificateType::Recovery => "r",
        }
    }
}

/// The certificate types present in a payload (normally exactly one).
pub fn certificate_types(dcc: &Value) -> Vec<CertificateType> {
    [
        CertificateType::Vaccination,
        CertificateType::Test,
        CertificateType::Recovery,
    ]
    .into_iter()
    .filter(|t| dcc.get(t.group_key()).is_some())
    .collect()
}

/// One schema rule a payload breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaViolation {
    /// JSON pointer of the offending value, e.g. `/v/0/dn`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

struct Checker {
    errors: Vec<SchemaViolation>,
}

impl Checker {
    fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(SchemaViolation {
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// Returns the string at `key` if present and a string; records type errors.
    fn string<'a>(&mut self, obj: &'a Value, path: &str, key: &str) -> Option<&'a str> {
        match obj.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.fail(&format!("{path}/{key}"), "must be a string");
                None
            }
        }
    }

    fn required(&mut self, obj: &Value, path: &str, keys: &[&str]) {
        for k in keys {
            if obj.get(*k).is_none() {
                self.fail(&format!("{path}/{k}"), "required property is missing");
            }
        }
    }

    fn max_len(&mut self, obj: &Value, path: &str, key: &str, max: usize) {
        if let Some(s) = self.string(obj, path, key)
            && s.chars().count() > max
        {
            self.fail(
                &format!("{path}/{key}"),
                format!("longer than {max} characters"),
            );
        }
    }

    fn plain_string(&mut self, obj: &Value, path: &str, key: &str) {
        let _ = self.string(obj, path, key);
    }

    fn full_date(&mut self, obj: &Value, path: &str, key: &str) {
        if let Some(s) = self.string(obj, path, key)
            && !is_full_date(s)
        {
            self.fail(&format!("{path}/{key}"), "must be a full date YYYY-MM-DD");
        }
    }

    fn date_time(&mut self, obj: &Value, path: &str, key: &str) {
        if let Some(s) = self.string(obj, path, key)
            && DateTime::parse_from_rfc3339(s).is_err()
        {
            self.fail(&format!("{path}/{key}"), "must be an RFC 3339 date-time");
        }
    }

    fn country(&mut self, obj: &Value, path: &str, key: &str) {
        // Schema pattern "[A-Z]{1,10}" (unanchored, as JSON Schema patterns are).
        if let Some(s) = self.string(obj, path, key)
            && !s.chars().any(|c| c.is_ascii_uppercase())
        {
            self.fail(
                &format!("{path}/{key}"),
                "must contain an upper-case country code",
            );
        }
    }

    fn dose(&mut self, obj: &Value, path: &str, key: &str) {
        let Some(v) = obj.get(key) else { return };
        let n = match v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            _ => None,
        };
        match n {
            Some(n) if n >= 1 => {}
            Some(_) => self.fail(&format!("{path}/{key}"), "must be a positive integer"),
            None => self.fail(&format!("{path}/{key}"), "must be an integer"),
        }
    }

    fn name(&mut self, nam: &Value) {
        if !nam.is_object() {
            self.fail("/nam", "must be an object");
            return;
        }
        if nam.get("fnt").is_none() && nam.get("gnt").is_none() {
            self.fail("/nam", "one of fnt or gnt is required");
        }
        self.max_len(nam, "/nam", "fn", 80);
        self.max_len(nam, "/nam", "gn", 80);
        for key in ["fnt", "gnt"] {
            if let Some(s) = self.string(nam, "/nam", key)
                && !is_standardised_name(s)
            {
                self.fail(
                    &format!("/nam/{key}"),
                    "must match ^[A-Z<]*$ and be at most 80 characters",
                );
            }
        }
    }

    fn vaccination(&mut self, e: &Value, path: &str) {
        self.required(
            e,
            path,
            &["tg", "vp", "mp", "ma", "dn", "sd", "dt", "co", "is", "ci"],
        );
        for k in ["tg", "vp", "mp", "ma"] {
            self.plain_string(e, path, k);
        }
        self.dose(e, path, "dn");
        self.dose(e, path, "sd");
        self.full_date(e, path, "dt");
        self.country(e, path, "co");
        self.max_len(e, path, "is", 80);
        self.max_len(e, path, "ci", 80);
    }

    fn test(&mut self, e: &Value, path: &str) {
        self.required(e, path, &["tg", "tt", "sc", "tr", "co", "is", "ci"]);
        for k in ["tg", "tt", "tr", "ma"] {
            self.plain_string(e, path, k);
        }
        self.max_len(e, path, "nm", 80);
        self.date_time(e, path, "sc");
        self.max_len(e, path, "tc", 80);
        self.country(e, path, "co");
        self.max_len(e, path, "is", 80);
        self.max_len(e, path, "ci", 80);
    }

    fn recovery(&mut self, e: &Value, path: &str) {
        self.required(e, path, &["tg", "fr", "co", "is", "df", "du", "ci"]);
        self.plain_string(e, path, "tg");
        self.full_date(e, path, "fr");
        self.country(e, path, "co");
        self.max_len(e, path, "is", 80);
        self.full_date(e, path, "df");
        self.full_date(e, path, "du");
        self.max_len(e, path, "ci", 80);
    }
}

/// `^[A-Z<]*$`, at most 80 characters.
pub fn is_standardised_name(s: &str) -> bool {
    s.len() <= 80 && s.chars().all(|c| c.is_ascii_uppercase() || c == '<')
}

/// A complete calendar date `YYYY-MM-DD` (JSON Schema `format: date`).
pub fn is_full_date(s: &str) -> bool {
    s.len() == 10 && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// The schema's `dob` pattern `^((19|20)\d\d(-\d\d){0,2}){0,1}$`.
pub fn is_valid_dob(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() < 4 || !(s.starts_with("19") || s.starts_with("20")) || !digits(2..4) {
        return false;
    }
    let mut rest = &b[4..];
    let mut groups = 0;
    while !rest.is_empty() {
        if groups == 2
            || rest.len() < 3
            || rest[0] != b'-'
            || !rest[1..3].iter().all(u8::is_ascii_digit)
        {
            return false;
        }
        rest = &rest[3..];
        groups += 1;
    }
    true
}

/// `^\d+.\d+.\d+$` (the schema's `.` matches any character).
fn is_valid_ver(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    // Split into digit runs separated by exactly one arbitrary character, three runs in total.
    let mut runs = 0;
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
        runs += 1;
        if i == chars.len() {
            break;
        }
        if runs == 3 {
            return false;
        }
        i += 1; // the separator
        if i == chars.len() {
            return false;
        }
    }
    runs == 3
}

/// Validate a DCC payload against the schema rules listed in the module documentation.
/// Returns all violations found (empty = valid).
pub fn validate(dcc: &Value) -> Vec<SchemaViolation> {
    let mut c = Checker { errors: Vec::new() };
    if !dcc.is_object() {
        c.fail("", "payload must be a JSON object");
        return c.errors;
    }
    c.required(dcc, "", &["ver", "nam", "dob"]);
    if let Some(ver) = c.string(dcc, "", "ver")
        && !is_valid_ver(ver)
    {
        c.fail("/ver", "must look like 1.3.0");
    }
    if let Some(nam) = dcc.get("nam") {
        c.name(nam);
    }
    if let Some(dob) = c.string(dcc, "", "dob")
        && !is_valid_dob(dob)
    {
        c.fail(
            "/dob",
            "must be YYYY-MM-DD, YYYY-MM, YYYY (1900-2099) or empty",
        );
    }
    let groups = certificate_types(dcc);
    if groups.len() != 1 {
        c.fail("", "exactly one of v, t, r is required");
    }
    for t in groups {
        let key = t.group_key();
        let path = format!("/{key}");
        let Some(arr) = dcc.get(key).and_then(Value::as_array) else {
            c.fail(&path, "must be an array");
            continue;
        };
        if arr.len() != 1 {
            c.fail(&path, "must contain exactly one entry");
        }
        for (i, e) in arr.iter().enumerate() {
            let p = format!("{path}/{i}");
            if !e.is_object() {
                c.fail(&p, "must be an object");
                continue;
            }
            match t {
                CertificateType::Vaccination => c.vaccination(e, &p),
                CertificateType::Test => c.test(e, &p),
                CertificateType::Recovery => c.recovery(e, &p),
            }
        }
    }
    c.errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "ver": "1.3.0",
            "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Thị Ánh Tuyết", "gnt": "THI<ANH<TUYET"},
            "dob": "1990-04-12",
            "v": [{
                "tg": "840539006", "vp": "J07BX03", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
                "dn": 2, "sd": 2, "dt": "2021-09-01", "co": "VN", "is": "Bộ Y tế",
                "ci": "URN:UVCI:01:VN:ABC123#X"
            }]
        })
    }

    #[test]
    fn valid_sample_and_roundtrip() {
        let v = sample();
        assert_eq!(validate(&v), vec![]);
        let typed = Dcc::from_json(&v).unwrap();
        assert_eq!(typed.v.as_ref().unwrap()[0].dn, 2);
        assert_eq!(typed.to_json(), v);
        assert_eq!(certificate_types(&v), vec![CertificateType::Vaccination]);
    }

    fn paths(v: &Value) -> Vec<String> {
        validate(v).into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn detects_violations() {
        let mut v = sample();
        v["nam"]["fnt"] = json!("Nguyen");
        v["v"][0]["dn"] = json!(0);
        v["v"][0]["sd"] = json!(-1);
        v["v"][0]["dt"] = json!("2021-02-30");
        v["v"][0]["ci"] = json!("x".repeat(81));
        v["dob"] = json!("1815-08-24");
        v["v"][0].as_object_mut().unwrap().remove("co");
        let p = paths(&v);
        for expected in [
            "/nam/fnt", "/v/0/dn", "/v/0/sd", "/v/0/dt", "/v/0/ci", "/dob", "/v/0/co",
        ] {
            assert!(p.contains(&expected.to_string()), "{expected} not in {p:?}");
        }
    }

    #[test]
    fn group_rules() {
        let mut v = sample();
        v["r"] = json!([]);
        assert!(paths(&v).contains(&String::new()));
        let mut v = sample();
        v["v"] = json!([v["v"][0].clone(), v["v"][0].clone()]);
        assert_eq!(paths(&v), vec!["/v"]);
        let mut v = sample();
        v["nam"] = json!({"fn": "Lê"});
        assert_eq!(paths(&v), vec!["/nam"]);
    }

    #[test]
    fn dob_and_ver_patterns() {
        for ok in ["", "1950", "1901-08", "2021-01-01", "1963-00"] {
            assert!(is_valid_dob(ok), "{ok}");
        }
        for bad in [
            "1815-08-24",
            "21-01-01",
            "2021-1-01",
            "2021-01-01-01",
            "2021-01-01T00",
        ] {
            assert!(!is_valid_dob(bad), "{bad}");
        }
        for ok in ["1.3.0", "10.22.333", "1-3-0"] {
            assert!(is_valid_ver(ok), "{ok}");
        }
        for bad in ["1.3", "1.3.0.1", "a.b.c", "1..3", ""] {
            assert!(!is_valid_ver(bad), "{bad}");
        }
    }
}
