//! ICAO Doc 9303 Part 3 transliteration of names for the DCC `fnt`/`gnt` fields, with the
//! Vietnamese cases covered explicitly.
//!
//! The standardised name fields of a DCC must match `^[A-Z<]*$` and be at most 80 characters
//! long. [`icao_transliterate`] produces such a string from a name written in Latin script:
//!
//! * Vietnamese letters lose their diacritics (tone marks, circumflex, breve, horn): `Nguyễn` →
//!   `NGUYEN`, `Ưng` → `UNG`, `Ơn` → `ON`; `Đ`/`đ` becomes `D`.
//! * Letters with a dedicated ICAO multi-letter rendering are transliterated by the ICAO table:
//!   `Ä`→`AE`, `Ö`→`OE`, `Ü`→`UE`, `ß`→`SS`, `Æ`→`AE`, `Ø`→`OE`, `Å`→`AA`, `Þ`→`TH`, `Œ`→`OE`,
//!   `Ĳ`→`IJ`; other Latin letters with diacritics keep their base letter (`Č`→`C`, `Ł`→`L`).
//! * Spaces, hyphens and commas become the filler `<`; apostrophes and other punctuation are
//!   dropped (`d'Artagnan` → `DARTAGNAN`). Runs of fillers are collapsed and fillers at either
//!   end are removed.
//! * Anything else that is not `A`–`Z` (digits, other scripts) is dropped, and the result is cut
//!   to 80 characters.
//!
//! Vietnamese names are written family name first. [`split_vietnamese_name`] splits a full name
//! into (family name, given names) by taking the first word as the family name, and
//! [`vietnamese_person_name`] builds the whole DCC `nam` object from a full name.

use unicode_normalization::UnicodeNormalization;

use crate::dcc::PersonName;

/// Maximum length of `fnt`/`gnt` in the DCC schema.
pub const MAX_STANDARDISED_NAME_LEN: usize = 80;

/// ICAO multi-letter renderings that must be applied before diacritics are stripped.
fn icao_multi_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'Ä' | 'ä' => "AE",
        'Ö' | 'ö' => "OE",
        'Ü' | 'ü' => "UE",
        'ß' | 'ẞ' => "SS",
        'Æ' | 'æ' => "AE",
        'Ø' | 'ø' => "OE",
        'Å' | 'å' => "AA",
        'Þ' | 'þ' => "TH",
        'Œ' | 'œ' => "OE",
        'Ĳ' | 'ĳ' => "IJ",
        _ => return None,
    })
}

/// Latin letters that do not decompose under Unicode NFD but have an obvious base letter.
fn non_decomposing_letter(c: char) -> Option<char> {
    Some(match c {
        'Đ' | 'đ' | 'Ð' | 'ð' => 'D',
        'Ł' | 'ł' | 'Ŀ' | 'ŀ' => 'L',
        'Ħ' | 'ħ' => 'H',
        'Ŧ' | 'ŧ' => 'T',
        'Ŋ' | 'ŋ' => 'N',
        'ı' => 'I',
        'ĸ' => 'K',
        _ => return None,
    })
}

/// Transliterate a name (or name part) to the ICAO 9303 machine-readable form used by DCC
/// `fnt`/`gnt`: only `A`–`Z` and `<`, at most 80 characters.
///
/// ```
/// use certs::translit::icao_transliterate;
/// assert_eq!(icao_transliterate("Thị Ánh Tuyết"), "THI<ANH<TUYET");
/// assert_eq!(icao_transliterate("Đặng"), "DANG");
/// assert_eq!(icao_transliterate("Musterfrau-Gößinger"), "MUSTERFRAU<GOESSINGER");
/// ```
pub fn icao_transliterate(name: &str) -> String {
    // 1. Map characters that need a dedicated rendering, keep the rest for decomposition.
    let mut pre = String::with_capacity(name.len());
    for c in name.nfc() {
        if let Some(s) = icao_multi_letter(c) {
            pre.push_str(s);
        } else if let Some(b) = non_decomposing_letter(c) {
            pre.push(b);
        } else {
            pre.push(c);
        }
    }
    // 2. Decompose, drop combining marks, map separators, keep only A-Z and '<'.
    let mut out = String::with_capacity(pre.len());
    for c in pre.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        match c {
            ' ' | '\t' | '\u{a0}' | '-' | '\u{2010}' | '\u{2011}' | '\u{2013}' | ',' | '<'
                if !out.is_empty() && !out.ends_with('<') =>
            {
                out.push('<');
            }
            c if c.is_ascii_alphabetic() => out.push(c.to_ascii_uppercase()),
            _ => {} // apostrophes, dots, digits, other scripts: omitted
        }
    }
    while out.ends_with('<') {
        out.pop();
    }
    if out.len() > MAX_STANDARDISED_NAME_LEN {
        out.truncate(MAX_STANDARDISED_NAME_LEN);
        while out.ends_with('<') {
            out.pop();
        }
    }
    out
}

/// Split a Vietnamese full name (family name first) into `(family name, given names)`.
///
/// The first word is the family name, the remaining words (middle and given names) are the
/// given names. Whitespace is normalised to single spaces. A one-word name yields an empty
/// given name.
///
/// ```
/// use certs::translit::split_vietnamese_name;
/// assert_eq!(
///     split_vietnamese_name("  Nguyễn   Thị Ánh Tuyết "),
///     ("Nguyễn".to_string(), "Thị Ánh Tuyết".to_string())
/// );
/// ```
pub fn split_vietnamese_name(full: &str) -> (String, String) {
    let mut words = full.split_whitespace();
    let family = words.next().unwrap_or_default().to_string();
    let given = words.collect::<Vec<_>>().join(" ");
    (family, given)
}

/// Build the DCC `nam` object from a Vietnamese full name written family name first.
///
/// `fn`/`gn` keep the original spelling (with diacritics, whitespace normalised); `fnt`/`gnt`
/// are the ICAO transliterations. Empty parts are left out (`None`).
pub fn vietnamese_person_name(full: &str) -> PersonName {
    let (family, given) = split_vietnamese_name(full);
    let opt = |s: String| if s.is_empty() { None } else { Some(s) };
    PersonName {
        fnt: opt(icao_transliterate(&family)),
        gnt: opt(icao_transliterate(&given)),
        fn_: opt(family),
        gn: opt(given),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_names() {
        let (f, g) = split_vietnamese_name("Nguyễn Thị Ánh Tuyết");
        assert_eq!(icao_transliterate(&f), "NGUYEN");
        assert_eq!(icao_transliterate(&g), "THI<ANH<TUYET");
        assert_eq!(icao_transliterate("Trần Đức Lương"), "TRAN<DUC<LUONG");
        assert_eq!(icao_transliterate("Đỗ Mười"), "DO<MUOI");
        assert_eq!(icao_transliterate("Phạm Ngọc Thạch"), "PHAM<NGOC<THACH");
        assert_eq!(icao_transliterate("Lê Văn Hưu"), "LE<VAN<HUU");
        assert_eq!(icao_transliterate("Ơn Ưng Ấn Ẩn Ẫn Ậ"), "ON<UNG<AN<AN<AN<A");
        assert_eq!(icao_transliterate("đặng"), "DANG");
    }

    #[test]
    fn decomposed_input_is_handled() {
        // "Nguyễn" written with combining marks (NFD) must give the same result.
        let nfd: String = "Nguyễn Thị".nfd().collect();
        assert_ne!(nfd, "Nguyễn Thị");
        assert_eq!(icao_transliterate(&nfd), "NGUYEN<THI");
    }

    #[test]
    fn icao_table_and_punctuation() {
        assert_eq!(
            icao_transliterate("Musterfrau-Gößinger"),
            "MUSTERFRAU<GOESSINGER"
        );
        assert_eq!(
            icao_transliterate("d'Červenková Panklová"),
            "DCERVENKOVA<PANKLOVA"
        );
        assert_eq!(
            icao_transliterate("Jiřina-Maria Alena"),
            "JIRINA<MARIA<ALENA"
        );
        assert_eq!(icao_transliterate("Øster Ålund"), "OESTER<AALUND");
        assert_eq!(icao_transliterate("  -Anh  - Tú- "), "ANH<TU");
        assert_eq!(icao_transliterate("Lý 2nd."), "LY<ND");
        assert_eq!(icao_transliterate(""), "");
        assert_eq!(icao_transliterate("李"), "");
    }

    #[test]
    fn output_alphabet_and_length() {
        let long = "Tôn Nữ Thị ".repeat(20);
        let t = icao_transliterate(&long);
        assert!(t.len() <= MAX_STANDARDISED_NAME_LEN, "{}", t.len());
        assert!(t.chars().all(|c| c.is_ascii_uppercase() || c == '<'));
        assert!(!t.ends_with('<'));
        assert!(t.starts_with("TON<NU<THI<TON"));
    }

    #[test]
    fn split_edge_cases() {
        assert_eq!(split_vietnamese_name("Lê"), ("Lê".into(), String::new()));
        assert_eq!(split_vietnamese_name("   "), (String::new(), String::new()));
        let n = vietnamese_person_name("Nguyễn Thị Ánh Tuyết");
        assert_eq!(n.fn_.as_deref(), Some("Nguyễn"));
        assert_eq!(n.gn.as_deref(), Some("Thị Ánh Tuyết"));
        assert_eq!(n.fnt.as_deref(), Some("NGUYEN"));
        assert_eq!(n.gnt.as_deref(), Some("THI<ANH<TUYET"));
        let single = vietnamese_person_name("Lê");
        assert_eq!(single.gn, None);
        assert_eq!(single.gnt, None);
    }
}
