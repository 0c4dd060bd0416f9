//! Allocation-free string metrics for short ASCII strings (folded names, codes), falling back to
//! `strsim` for longer or non-ASCII text. Estimating `u` compares hundreds of thousands of random
//! pairs, so these are on the hot path.

/// Jaro-Winkler similarity (prefix boost of up to 4 characters, scale 0.1, applied when
/// Jaro > 0.7 — the same definition as `strsim::jaro_winkler`).
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !a.is_ascii() || !b.is_ascii() || x.len() > 64 || y.len() > 64 {
        return strsim::jaro_winkler(a, b);
    }
    let sim = jaro_bytes(x, y);
    if sim > 0.7 {
        let prefix = x.iter().zip(y).take(4).take_while(|(p, q)| p == q).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// Jaro similarity of byte strings of at most 64 bytes (flags kept in bit masks).
fn jaro_bytes(a: &[u8], b: &[u8]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if la == 0 && lb == 0 {
        return 1.0;
    }
    if la == 0 || lb == 0 {
        return 0.0;
    }
    let range = (la.max(lb) / 2).saturating_sub(1);
    let (mut a_flags, mut b_flags) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = lb.min(i + range + 1);
        for (j, &cb) in b.iter().enumerate().take(hi).skip(lo) {
            if cb == ca && b_flags & (1 << j) == 0 {
                a_flags |= 1 << i;
                b_flags |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut j = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        if a_flags & (1 << i) != 0 {
            while b_flags & (1 << j) == 0 {
                j += 1;
            }
            if ca != b[j] {
                transpositions += 1;
            }
            j += 1;
        }
    }
    let t = transpositions / 2;
    let m = matches as f64;
    (m / la as f64 + m / lb as f64 + (matches - t) as f64 / m) / 3.0
}

/// Optimal-string-alignment distance (Damerau-Levenshtein with adjacent transpositions, no
/// substring edited twice), the same as `strsim::osa_distance`.
pub fn osa_distance(a: &str, b: &str) -> usize {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if !a.is_ascii() || !b.is_ascii() || y.len() > 63 {
        return strsim::osa_distance(a, b);
    }
    let lb = y.len();
    // Three rolling rows: i-2, i-1, i.
    let mut prev2 = [0usize; 64];
    let mut prev: [usize; 64] = std::array::from_fn(|j| j);
    let mut cur = [0usize; 64];
    for i in 1..=x.len() {
        cur[0] = i;
        for j in 1..=lb {
            let cost = usize::from(x[i - 1] != y[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        prev2[..=lb].copy_from_slice(&prev[..=lb]);
        prev[..=lb].copy_from_slice(&cur[..=lb]);
    }
    prev[lb]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_strsim() {
        let words = [
            "",
            "a",
            "ab",
            "ba",
            "martha",
            "marhta",
            "dwayne",
            "duane",
            "dixon",
            "dicksonx",
            "nguyen",
            "ngyuen",
            "thanh",
            "than",
            "4223",
            "4232",
            "0912345678",
            "0912345687",
            "winston hills",
            "winston hils",
            "abcdefghij",
            "jihgfedcba",
            "aaaa",
            "aaab",
            "ca",
            "abc",
            "nguyễn",
            "nguyen van an",
        ];
        for a in words {
            for b in words {
                let (fast, slow) = (jaro_winkler(a, b), strsim::jaro_winkler(a, b));
                assert!(
                    (fast - slow).abs() < 1e-12,
                    "jw {a:?} {b:?}: {fast} vs {slow}"
                );
                assert_eq!(
                    osa_distance(a, b),
                    strsim::osa_distance(a, b),
                    "osa {a:?} {b:?}"
                );
            }
        }
    }
}
