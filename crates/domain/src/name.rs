//! Vietnamese name handling: normalisation (NFC, spacing, case) and diacritic folding.
//!
//! "Nguyễn Thị Lan" is stored as typed (NFC) for display; [`fold`] gives `nguyen thi lan` for
//! diacritic-insensitive search. `đ`/`Đ` has no Unicode decomposition, so it is folded explicitly.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Normalises a name for storage and display: NFC, trimmed, inner whitespace collapsed to one
/// space, each word capitalised ("  nguyễn   thị LAN " → "Nguyễn Thị Lan").
pub fn normalize(raw: &str) -> String {
    let nfc: String = raw.nfc().collect();
    nfc.split_whitespace()
        .map(|w| {
            let lower = w.to_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Folds a text for diacritic- and case-insensitive comparison: removes tone and vowel marks,
/// maps đ→d, lowercases, collapses whitespace. "Đặng  Thị Ánh" → "dang thi anh".
pub fn fold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match c {
            'đ' | 'Đ' => out.push('d'),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_tones_vowel_marks_and_d_bar() {
        assert_eq!(fold("Đặng Thị Ánh"), "dang thi anh");
        assert_eq!(fold("  NGUYỄN   văn   Đức "), "nguyen van duc");
        assert_eq!(fold("Hoàng Quốc Việt"), "hoang quoc viet");
        // Decomposed input folds the same as precomposed.
        assert_eq!(fold("Nguye\u{0302}\u{0303}n"), "nguyen");
    }

    #[test]
    fn normalizes_spacing_case_and_nfc() {
        assert_eq!(normalize("  nguyễn   thị LAN "), "Nguyễn Thị Lan");
        let decomposed = "Nguye\u{0302}\u{0303}n";
        assert_eq!(normalize(decomposed), "Nguyễn");
        assert_eq!(normalize("đỗ đức"), "Đỗ Đức");
    }
}
