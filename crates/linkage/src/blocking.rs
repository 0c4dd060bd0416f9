//! Blocking: candidate pairs from records sharing a key under at least one rule, instead of all
//! n·m pairs. Each rule hashes records by a key; pairs from all rules are merged and deduplicated.
//! Works for linking two datasets (left × right) and deduplicating one (i < j).

use crate::record::Prepared;

/// A blocking rule: records sharing the rule's key become candidate pairs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BlockingRule {
    /// Same normalised national / social-security ID.
    NationalId,
    /// Same folded family name and birth year.
    FamilyNameBirthYear,
    /// Same folded full name (surname variants canonicalised, spaces removed) and birth year.
    FullNameBirthYear,
    /// Same folded given name and full date of birth.
    GivenNameDob,
    /// Same full date of birth.
    Dob,
    /// Same folded family name and full date of birth.
    FamilyDob,
    /// Same folded family and middle names and full date of birth.
    FamilyMiddleDob,
    /// Same full date of birth and commune (a pre-2025 code also meets the 2025 communes it
    /// went into).
    DobCommune,
    /// Same folded family and given names.
    FamilyGivenName,
    /// Same phone number.
    Phone,
    /// First 3 characters of the folded family name and the same commune (a pre-2025 code also
    /// meets the 2025 communes it went into).
    FamilyPrefixCommune,
    /// Same folded family and given names and the same commune (a pre-2025 code also meets the
    /// 2025 communes it went into).
    FamilyGivenCommune,
    /// Same value of an extra field (e.g. `postcode`) and the same given-name initial.
    ExtraGivenInitial(String),
    /// Same value of an extra field.
    Extra(String),
}

impl BlockingRule {
    /// The extra field this rule reads, if any.
    pub fn extra_key(&self) -> Option<&str> {
        match self {
            BlockingRule::ExtraGivenInitial(k) | BlockingRule::Extra(k) => Some(k),
            _ => None,
        }
    }

    /// Whether records sharing this rule's key necessarily agree on comparison `c` (so an EM
    /// session trained on pairs from this rule can say nothing about `c`).
    pub fn covers(&self, c: &crate::compare::Comparison) -> bool {
        use crate::compare::Comparison as C;
        match self {
            BlockingRule::NationalId => *c == C::NationalId,
            BlockingRule::FamilyNameBirthYear => matches!(c, C::FamilyName | C::Dob),
            BlockingRule::FullNameBirthYear => {
                matches!(c, C::FamilyName | C::MiddleName | C::GivenName | C::Dob)
            }
            BlockingRule::GivenNameDob => matches!(c, C::GivenName | C::Dob),
            BlockingRule::Dob => *c == C::Dob,
            BlockingRule::FamilyDob => matches!(c, C::FamilyName | C::Dob),
            BlockingRule::DobCommune => matches!(c, C::Dob | C::Commune),
            BlockingRule::FamilyMiddleDob => matches!(c, C::FamilyName | C::MiddleName | C::Dob),
            BlockingRule::FamilyGivenName => matches!(c, C::FamilyName | C::GivenName),
            BlockingRule::Phone => *c == C::Phone,
            BlockingRule::FamilyPrefixCommune => matches!(c, C::FamilyName | C::Commune),
            BlockingRule::FamilyGivenCommune => {
                matches!(c, C::FamilyName | C::GivenName | C::Commune)
            }
            BlockingRule::ExtraGivenInitial(k) => {
                *c == C::GivenName || c.extra_key() == Some(k.as_str())
            }
            BlockingRule::Extra(k) => c.extra_key() == Some(k.as_str()),
        }
    }

    /// The keys of one record (none when a needed field is missing).
    pub(crate) fn keys(&self, p: &Prepared, slot: usize) -> Vec<String> {
        let family = p.family.as_ref().map(|n| n.folded.as_str());
        let given = p.given.as_ref().map(|n| n.folded.as_str());
        let full_dob = p
            .dob
            .filter(|d| d.is_complete())
            .map(|d| format!("{:?}-{:?}-{:?}", d.year, d.month, d.day));
        let one = |k: Option<String>| k.into_iter().collect::<Vec<_>>();
        match self {
            BlockingRule::NationalId => one(p.national_id.clone()),
            BlockingRule::FamilyNameBirthYear => one(family
                .zip(p.dob.and_then(|d| d.year))
                .map(|(f, y)| format!("{f}|{y}"))),
            BlockingRule::FullNameBirthYear => one(p
                .compact_name
                .as_ref()
                .zip(p.dob.and_then(|d| d.year))
                .map(|(n, y)| format!("{n}|{y}"))),
            BlockingRule::GivenNameDob => one(given.zip(full_dob).map(|(g, d)| format!("{g}|{d}"))),
            BlockingRule::Dob => one(full_dob),
            BlockingRule::FamilyDob => one(family.zip(full_dob).map(|(f, d)| format!("{f}|{d}"))),
            BlockingRule::FamilyMiddleDob => one(family
                .zip(p.middle.as_ref().map(|n| n.folded.as_str()))
                .zip(full_dob.clone())
                .map(|((f, m), d)| format!("{f}|{m}|{d}"))),
            BlockingRule::DobCommune => match full_dob {
                Some(d) => p.commune_new.iter().map(|c| format!("{d}|{c}")).collect(),
                None => Vec::new(),
            },
            BlockingRule::FamilyGivenName => {
                one(family.zip(given).map(|(f, g)| format!("{f}|{g}")))
            }
            BlockingRule::Phone => one(p.phone.clone()),
            BlockingRule::FamilyPrefixCommune => match family {
                Some(f) => {
                    let prefix: String = f.chars().take(3).collect();
                    p.commune_new
                        .iter()
                        .map(|c| format!("{prefix}|{c}"))
                        .collect()
                }
                None => Vec::new(),
            },
            BlockingRule::FamilyGivenCommune => match family.zip(given) {
                Some((f, g)) => p
                    .commune_new
                    .iter()
                    .map(|c| format!("{f}|{g}|{c}"))
                    .collect(),
                None => Vec::new(),
            },
            BlockingRule::ExtraGivenInitial(_) => {
                let initial = given.and_then(|g| g.chars().next());
                one(p.extras[slot]
                    .as_deref()
                    .zip(initial)
                    .map(|(v, i)| format!("{v}|{i}")))
            }
            BlockingRule::Extra(_) => one(p.extras[slot].clone()),
        }
    }
}

/// `(hash of key, record index)` for every key of every record, sorted by key. Keys are hashed
/// to 64 bits (a collision only adds a candidate pair, which comparison then rejects).
fn keyed(records: &[Prepared], rule: &BlockingRule, slot: usize) -> Vec<(u64, u32)> {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let mut keys: Vec<u64> = rule
            .keys(r, slot)
            .iter()
            .map(|k| hasher.hash_one(k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        out.extend(keys.into_iter().map(|k| (k, i as u32)));
    }
    out.sort_unstable();
    out
}

/// Runs `f` on every rule, on up to `available_parallelism` threads, results in rule order.
fn per_rule<T: Send>(
    rules: &[(BlockingRule, usize)],
    f: impl Fn(&BlockingRule, usize) -> T + Sync,
) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<T>> = (0..rules.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(rules.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((rule, slot)) = rules.get(n) else {
                            break;
                        };
                        done.push((n, f(rule, *slot)));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            for (n, r) in h.join().expect("blocking thread panicked") {
                results[n] = Some(r);
            }
        }
    });
    results.into_iter().flatten().collect()
}

/// Runs of equal keys in a sorted keyed list: `(key, start, end)`.
fn runs(keyed: &[(u64, u32)]) -> impl Iterator<Item = (u64, usize, usize)> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= keyed.len() {
            return None;
        }
        let key = keyed[start].0;
        let mut end = start + 1;
        while end < keyed.len() && keyed[end].0 == key {
            end += 1;
        }
        let run = (key, start, end);
        start = end;
        Some(run)
    })
}

fn sorted_unique(parts: Vec<Vec<u64>>) -> Vec<(u32, u32)> {
    let mut pairs: Vec<u64> = parts.concat();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
        .into_iter()
        .map(|p| ((p >> 32) as u32, p as u32))
        .collect()
}

/// Candidate pairs `(left index, right index)` for linking, sorted and deduplicated. Keys whose
/// block would produce more than `max_block_pairs` pairs are skipped (too common to be useful).
pub(crate) fn link_pairs(
    left: &[Prepared],
    right: &[Prepared],
    rules: &[(BlockingRule, usize)],
    max_block_pairs: usize,
) -> Vec<(u32, u32)> {
    sorted_unique(per_rule(rules, |rule, slot| {
        let l = keyed(left, rule, slot);
        let r = keyed(right, rule, slot);
        let mut pairs = Vec::new();
        let mut right_runs = runs(&r).peekable();
        for (key, ls, le) in runs(&l) {
            while right_runs.next_if(|&(k, _, _)| k < key).is_some() {}
            let Some(&(k, rs, re)) = right_runs.peek() else {
                break;
            };
            if k != key || (le - ls).saturating_mul(re - rs) > max_block_pairs {
                continue;
            }
            for &(_, i) in &l[ls..le] {
                for &(_, j) in &r[rs..re] {
                    pairs.push((u64::from(i) << 32) | u64::from(j));
                }
            }
        }
        pairs
    }))
}

/// Candidate pairs `(i, j)` with `i < j` for deduplicating one dataset.
pub(crate) fn dedupe_pairs(
    records: &[Prepared],
    rules: &[(BlockingRule, usize)],
    max_block_pairs: usize,
) -> Vec<(u32, u32)> {
    sorted_unique(per_rule(rules, |rule, slot| {
        let keyed = keyed(records, rule, slot);
        let mut pairs = Vec::new();
        for (_, start, end) in runs(&keyed) {
            let ids = &keyed[start..end];
            let n = ids.len();
            if n < 2 || n * (n - 1) / 2 > max_block_pairs {
                continue;
            }
            for (a, &(_, i)) in ids.iter().enumerate() {
                for &(_, j) in &ids[a + 1..] {
                    let (lo, hi) = if i < j { (i, j) } else { (j, i) };
                    pairs.push((u64::from(lo) << 32) | u64::from(hi));
                }
            }
        }
        pairs
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn prep(r: Record) -> Prepared {
        Prepared::new(&r, &["postcode".to_string()])
    }

    #[test]
    fn links_by_several_rules_and_dedupes_pairs() {
        let left = vec![
            prep(
                Record::new("a")
                    .with_full_name("Nguyễn Văn An")
                    .with_dob("1980-01-02"),
            ),
            prep(
                Record::new("b")
                    .with_full_name("Trần Thị Bình")
                    .with_national_id("001190000001"),
            ),
        ];
        let right = vec![
            prep(
                Record::new("x")
                    .with_full_name("Nguyen Van An")
                    .with_dob("1980-01-02"),
            ),
            prep(
                Record::new("y")
                    .with_full_name("Tran Thi Binh")
                    .with_national_id("001190000001"),
            ),
            prep(
                Record::new("z")
                    .with_full_name("Lê Văn Cường")
                    .with_dob("1999"),
            ),
        ];
        let rules = vec![
            (BlockingRule::NationalId, 0),
            (BlockingRule::FamilyNameBirthYear, 0),
            (BlockingRule::GivenNameDob, 0),
            (BlockingRule::FamilyGivenName, 0),
        ];
        let pairs = link_pairs(&left, &right, &rules, 1_000);
        assert_eq!(pairs, vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn dedupe_pairs_are_ordered_and_capped() {
        let recs: Vec<Prepared> = (0..4)
            .map(|i| {
                prep(
                    Record::new(i.to_string())
                        .with_extra("postcode", "4223")
                        .with_given_name("Lan"),
                )
            })
            .collect();
        let rules = vec![(BlockingRule::ExtraGivenInitial("postcode".into()), 0)];
        assert_eq!(dedupe_pairs(&recs, &rules, 100).len(), 6);
        assert!(dedupe_pairs(&recs, &rules, 5).is_empty());
        assert!(dedupe_pairs(&recs, &rules, 100).iter().all(|(i, j)| i < j));
    }
}
