//! Unique Vaccination Certificate/assertion Identifiers (UVCI) following the eHealth Network
//! guidelines (version 01 format): `URN:UVCI:01:VN:<opaque>#<check character>`.
//!
//! The check character is computed with the Luhn mod N algorithm over the whole identifier
//! before the `#` (including the `URN:UVCI:` prefix), using the code-point alphabet
//! `ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:` (N = 38). This matches the identifiers issued by
//! e.g. Austria, Denmark and France in the EU test data.
//!
//! The opaque part comes from the caller (e.g. a database UUID). It is upper-cased and hyphens
//! are removed; apart from that it may use only `A`–`Z`, `0`–`9` and `/` (as a separator of
//! sub-parts). The whole identifier must fit the DCC's 80-character limit for `ci`.

use crate::error::{Error, Result};

/// The Luhn mod N code-point alphabet of the eHN UVCI guidelines.
pub const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:";

/// UVCI prefix including the version (`01`).
pub const PREFIX_V01: &str = "URN:UVCI:01:";

/// Maximum length of the `ci` field in the DCC schema.
pub const MAX_LEN: usize = 80;

fn code_point(c: char) -> Option<usize> {
    ALPHABET.find(c)
}

fn luhn_sum(text: &str, first_factor: usize) -> Result<usize> {
    let n = ALPHABET.len();
    let mut factor = first_factor;
    let mut sum = 0;
    for c in text.chars().rev() {
        let cp = code_point(c).ok_or_else(|| {
            Error::InvalidInput(format!("character {c:?} is not allowed in a UVCI"))
        })?;
        let addend = factor * cp;
        sum += addend / n + addend % n;
        factor = if factor == 2 { 1 } else { 2 };
    }
    Ok(sum % n)
}

/// The Luhn mod N check character for `text` (upper case; characters from [`ALPHABET`] only).
pub fn check_character(text: &str) -> Result<char> {
    let n = ALPHABET.len();
    let remainder = luhn_sum(text, 2)?;
    let cp = (n - remainder) % n;
    Ok(ALPHABET.as_bytes()[cp] as char)
}

/// Whether `uvci` ends in `#<c>` where `c` is the correct check character for the part before.
/// Comparison is case-insensitive (some issuers write the prefix in lower case).
pub fn has_valid_checksum(uvci: &str) -> bool {
    let upper = uvci.to_ascii_uppercase();
    let Some((body, check)) = upper.rsplit_once('#') else {
        return false;
    };
    let mut chars = check.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => matches!(luhn_sum(&format!("{body}{c}"), 1), Ok(0)),
        _ => false,
    }
}

/// Build `URN:UVCI:01:<country>:<opaque>#<check>`.
///
/// `country` must be two upper-case letters; `opaque` is normalised as described in the module
/// documentation.
pub fn generate(country: &str, opaque: &str) -> Result<String> {
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::InvalidInput(format!(
            "UVCI country must be two upper-case letters, got {country:?}"
        )));
    }
    let opaque: String = opaque
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if opaque.is_empty()
        || opaque.starts_with('/')
        || opaque.ends_with('/')
        || !opaque
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '/')
    {
        return Err(Error::InvalidInput(format!(
            "UVCI opaque part may only use A-Z, 0-9 and inner '/', got {opaque:?}"
        )));
    }
    let body = format!("{PREFIX_V01}{country}:{opaque}");
    let check = check_character(&body)?;
    let uvci = format!("{body}#{check}");
    if uvci.len() > MAX_LEN {
        return Err(Error::InvalidInput(format!(
            "UVCI is {} characters long, the DCC allows {MAX_LEN}",
            uvci.len()
        )));
    }
    Ok(uvci)
}

/// Build a Vietnamese UVCI, `URN:UVCI:01:VN:<opaque>#<check>`.
pub fn vietnam(opaque: &str) -> Result<String> {
    generate("VN", opaque)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Identifiers from the EU DCC test data whose issuers use the guideline's checksum.
    const ISSUED: &[&str] = &[
        "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B",
        "URN:UVCI:01:AT:858CC18CFCF5965EF82F60E493349AA5#K",
        "URN:UVCI:01:AT:B5921A35D6A0D696421B3E2462178297#I",
        "URN:UVCI:01:DK:0EF88044F7935DF2B4A938A38C14C97C#C",
        "URN:UVCI:01:DK:B19D10B4E18551559EBDEE46248DA883#S",
    ];

    #[test]
    fn matches_issued_identifiers() {
        for uvci in ISSUED {
            let (body, check) = uvci.split_once('#').unwrap();
            assert_eq!(check_character(body).unwrap().to_string(), check, "{uvci}");
            assert!(has_valid_checksum(uvci), "{uvci}");
            assert!(has_valid_checksum(&uvci.to_ascii_lowercase()), "{uvci}");
        }
    }

    #[test]
    fn hand_computed_example() {
        // "A/" : code points 0 and 36; from the right: 36*2 = 72 -> 72/38 + 72%38 = 1 + 34 = 35;
        // 0*1 = 0. Sum 35, check = (38 - 35) % 38 = 3 -> 'D'.
        assert_eq!(check_character("A/").unwrap(), 'D');
        assert!(has_valid_checksum("A/#D"));
        assert!(!has_valid_checksum("A/#E"));
    }

    #[test]
    fn detects_single_substitutions_and_transpositions() {
        let uvci = vietnam("2F9C1B6E/00042").unwrap();
        assert!(uvci.starts_with("URN:UVCI:01:VN:2F9C1B6E/00042#"));
        assert!(has_valid_checksum(&uvci));
        let (body, check) = uvci.split_once('#').unwrap();
        for (i, c) in body.char_indices() {
            for r in ALPHABET.chars().filter(|r| *r != c) {
                let mut changed = body.to_string();
                changed.replace_range(i..i + 1, &r.to_string());
                assert!(
                    !has_valid_checksum(&format!("{changed}#{check}")),
                    "{changed}"
                );
            }
        }
        let chars: Vec<char> = body.chars().collect();
        for i in 0..chars.len() - 1 {
            if chars[i] != chars[i + 1] {
                let mut s = chars.clone();
                s.swap(i, i + 1);
                let s: String = s.into_iter().collect();
                assert!(!has_valid_checksum(&format!("{s}#{check}")), "{s}");
            }
        }
    }

    #[test]
    fn normalises_and_rejects() {
        let a = vietnam("550e8400-e29b-41d4-a716-446655440000").unwrap();
        assert!(a.starts_with("URN:UVCI:01:VN:550E8400E29B41D4A716446655440000#"));
        assert!(vietnam("").is_err());
        assert!(vietnam("abc def").is_err());
        assert!(vietnam("/abc").is_err());
        assert!(generate("vn", "ABC").is_err());
        assert!(vietnam(&"A".repeat(70)).is_err());
        assert!(!has_valid_checksum("URN:UVCI:01:VN:ABC"));
    }
}
