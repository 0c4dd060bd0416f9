//! Blocking: candidate pairs from records sharing a key under at least one rule, instead of all
//! n·m pairs. Each rule hashes records by a key; pairs from all rules are merged and deduplicated.
//! Works for linking two datasets (left × right) and deduplicating one (i < j).

use crate::record::Prepared;
use std::collections::HashMap;

/// A blocking rule: records sharing the rule's key become candidate pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockingRule {
    /// Same normalised national / social-security ID.
    NationalId,
    /// Same folded family name and birth year.
    FamilyNameBirthYear,
    /// Same folded given name and full date of birth.
    GivenNameDob,
    /// Same full date of birth.
    Dob,
    /// Same folded family and given names.
    FamilyGivenName,
    /// Same phone number.
    Phone,
    /// First 3 characters of the folded family name and the same commune (a pre-2025 code also
    /// meets the 2025 communes it went into).
    FamilyPrefixCommune,
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
            BlockingRule::GivenNameDob => one(given.zip(full_dob).map(|(g, d)| format!("{g}|{d}"))),
            BlockingRule::Dob => one(full_dob),
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

fn index(records: &[Prepared], rule: &BlockingRule, slot: usize) -> HashMap<String, Vec<u32>> {
    let mut map: HashMap<String, Vec<u32>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let mut keys = rule.keys(r, slot);
        keys.sort();
        keys.dedup();
        for k in keys {
            map.entry(k).or_default().push(i as u32);
        }
    }
    map
}

/// Candidate pairs `(left index, right index)` for linking, sorted and deduplicated. Keys whose
/// block would produce more than `max_block_pairs` pairs are skipped (too common to be useful).
pub(crate) fn link_pairs(
    left: &[Prepared],
    right: &[Prepared],
    rules: &[(BlockingRule, usize)],
    max_block_pairs: usize,
) -> Vec<(u32, u32)> {
    let mut pairs: Vec<u64> = Vec::new();
    for (rule, slot) in rules {
        let l = index(left, rule, *slot);
        let r = index(right, rule, *slot);
        for (key, li) in &l {
            let Some(ri) = r.get(key) else { continue };
            if li.len().saturating_mul(ri.len()) > max_block_pairs {
                continue;
            }
            for &i in li {
                for &j in ri {
                    pairs.push((u64::from(i) << 32) | u64::from(j));
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
        .into_iter()
        .map(|p| ((p >> 32) as u32, p as u32))
        .collect()
}

/// Candidate pairs `(i, j)` with `i < j` for deduplicating one dataset.
pub(crate) fn dedupe_pairs(
    records: &[Prepared],
    rules: &[(BlockingRule, usize)],
    max_block_pairs: usize,
) -> Vec<(u32, u32)> {
    let mut pairs: Vec<u64> = Vec::new();
    for (rule, slot) in rules {
        for ids in index(records, rule, *slot).values() {
            let n = ids.len();
            if n < 2 || n * (n - 1) / 2 > max_block_pairs {
                continue;
            }
            for (a, &i) in ids.iter().enumerate() {
                for &j in &ids[a + 1..] {
                    let (lo, hi) = if i < j { (i, j) } else { (j, i) };
                    pairs.push((u64::from(lo) << 32) | u64::from(hi));
                }
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
        .into_iter()
        .map(|p| ((p >> 32) as u32, p as u32))
        .collect()
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
