//! `linkage` — probabilistic record linkage and deduplication (Fellegi–Sunter with EM) for
//! Vietnamese population data.
//!
//! ```text
//! let mut linker = Linker::new(Settings::default());
//! let matches = linker.link(&left, &right);   // one-to-one, probability ≥ review threshold
//! let clusters = linker.dedupe(&records);     // connected components over auto-links
//! ```
//!
//! Pipeline: [`record`] normalises every record once; [`blocking`] proposes candidate pairs;
//! [`compare`] grades each field of a pair into a level; [`model`] estimates `u` from random pairs
//! and `m`, λ by EM on the candidates, then scores pairs (with term-frequency adjusted names).

pub mod blocking;
pub mod compare;
pub mod model;
pub mod record;
pub mod strings;

pub use blocking::BlockingRule;
pub use compare::{Comparison, Level, MISSING};
pub use model::{ComparisonWeight, Model};
pub use record::{NameParts, PartialDate, Record, split_vietnamese_name};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use record::Prepared;
use std::collections::HashMap;

/// Linkage settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub comparisons: Vec<Comparison>,
    pub blocking: Vec<BlockingRule>,
    /// Probability at or above which a pair is linked automatically.
    pub link_threshold: f64,
    /// Probability at or above which a pair goes to clerical review (below: non-link, dropped).
    pub review_threshold: f64,
    /// Linking: each record is linked to at most one record of the other dataset (greedy, best
    /// probability first).
    pub one_to_one: bool,
    /// Random pairs sampled to estimate `u`.
    pub u_sample_pairs: usize,
    pub seed: u64,
    pub em_max_iterations: usize,
    pub em_tolerance: f64,
    /// Term-frequency adjusted weights for exact name agreement.
    pub term_frequency: bool,
    /// Blocking keys producing more pairs than this are skipped.
    pub max_block_pairs: usize,
}

impl Default for Settings {
    /// Vietnamese person registers: names, date of birth, sex, citizen ID, commune, phone.
    fn default() -> Self {
        Settings {
            comparisons: vec![
                Comparison::FamilyName,
                Comparison::MiddleName,
                Comparison::GivenName,
                Comparison::Dob,
                Comparison::Sex,
                Comparison::NationalId,
                Comparison::Commune,
                Comparison::Phone,
            ],
            blocking: vec![
                BlockingRule::NationalId,
                BlockingRule::FamilyNameBirthYear,
                BlockingRule::GivenNameDob,
                BlockingRule::Phone,
                BlockingRule::FamilyPrefixCommune,
            ],
            link_threshold: 0.99,
            review_threshold: 0.5,
            one_to_one: true,
            u_sample_pairs: 300_000,
            seed: 0x5eed,
            em_max_iterations: 200,
            em_tolerance: 1e-6,
            term_frequency: true,
            max_block_pairs: 1_000_000,
        }
    }
}

impl Settings {
    /// Adds a comparison.
    pub fn compare(mut self, c: Comparison) -> Self {
        self.comparisons.push(c);
        self
    }

    /// Adds a blocking rule.
    pub fn block_on(mut self, r: BlockingRule) -> Self {
        self.blocking.push(r);
        self
    }
}

/// Decision for a scored pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchClass {
    /// Probability ≥ link threshold.
    Link,
    /// Between the review and link thresholds: for a person to decide.
    Review,
}

/// A scored pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub left_id: String,
    pub right_id: String,
    pub probability: f64,
    /// log2 Bayes factor including the prior.
    pub score: f64,
    pub class: MatchClass,
    pub weights: Vec<ComparisonWeight>,
}

/// Runs linkage and deduplication; keeps the last fitted model for inspection.
#[derive(Debug, Clone)]
pub struct Linker {
    settings: Settings,
    extra_keys: Vec<String>,
    model: Option<Model>,
}

/// Term frequencies of exact and folded name values.
#[derive(Default)]
struct TfTable {
    exact: HashMap<String, f64>,
    folded: HashMap<String, f64>,
}

fn term_frequencies(recs: &[&mut Prepared]) -> [TfTable; 3] {
    let mut tables: [TfTable; 3] = Default::default();
    let mut totals = [0.0f64; 3];
    for r in recs {
        for (t, forms) in [&r.given, &r.middle, &r.family].into_iter().enumerate() {
            if let Some(f) = forms {
                *tables[t].exact.entry(f.exact.clone()).or_default() += 1.0;
                *tables[t].folded.entry(f.folded.clone()).or_default() += 1.0;
                totals[t] += 1.0;
            }
        }
    }
    for (t, total) in tables.iter_mut().zip(totals) {
        for v in t.exact.values_mut().chain(t.folded.values_mut()) {
            *v /= total;
        }
    }
    tables
}

fn assign_term_frequencies(mut recs: Vec<&mut Prepared>) {
    let tables = term_frequencies(&recs);
    for r in recs.iter_mut() {
        for (t, forms) in [&mut r.given, &mut r.middle, &mut r.family]
            .into_iter()
            .enumerate()
        {
            if let Some(f) = forms {
                f.tf_exact = tables[t].exact[&f.exact];
                f.tf_folded = tables[t].folded[&f.folded];
            }
        }
    }
}

impl Linker {
    pub fn new(settings: Settings) -> Self {
        let mut extra_keys: Vec<String> = Vec::new();
        let keys = settings
            .comparisons
            .iter()
            .filter_map(Comparison::extra_key)
            .chain(settings.blocking.iter().filter_map(BlockingRule::extra_key));
        for k in keys {
            if !extra_keys.iter().any(|e| e == k) {
                extra_keys.push(k.to_string());
            }
        }
        Linker {
            settings,
            extra_keys,
            model: None,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The model fitted by the last [`Linker::link`] / [`Linker::dedupe_pairs`] call.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    fn slot(&self, key: Option<&str>) -> usize {
        key.and_then(|k| self.extra_keys.iter().position(|e| e == k))
            .unwrap_or(0)
    }

    fn prepare(&self, records: &[Record]) -> Vec<Prepared> {
        records
            .iter()
            .map(|r| Prepared::new(r, &self.extra_keys))
            .collect()
    }

    fn comparison_slots(&self) -> Vec<usize> {
        self.settings
            .comparisons
            .iter()
            .map(|c| self.slot(c.extra_key()))
            .collect()
    }

    fn blocking_rules(&self) -> Vec<(BlockingRule, usize)> {
        self.settings
            .blocking
            .iter()
            .map(|r| (r.clone(), self.slot(r.extra_key())))
            .collect()
    }

    /// Comparison levels of `pairs` (flat, one level per comparison), on up to
    /// `available_parallelism` threads.
    fn patterns(&self, a: &[Prepared], b: &[Prepared], pairs: &[(u32, u32)]) -> Vec<Level> {
        let slots = self.comparison_slots();
        let comparisons = &self.settings.comparisons;
        let run = |chunk: &[(u32, u32)]| {
            let mut out = Vec::with_capacity(chunk.len() * slots.len());
            for &(i, j) in chunk {
                let (x, y) = (&a[i as usize], &b[j as usize]);
                for (c, &slot) in comparisons.iter().zip(&slots) {
                    out.push(c.compare(x, y, slot));
                }
            }
            out
        };
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        if threads < 2 || pairs.len() < 20_000 {
            return run(pairs);
        }
        let chunk = pairs.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = pairs
                .chunks(chunk)
                .map(|c| s.spawn(move || run(c)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("comparison thread panicked"))
                .collect()
        })
    }

    /// Random pairs for `u` (distinct indices when deduplicating).
    fn random_pairs(&self, n_left: usize, n_right: usize, same: bool) -> Vec<(u32, u32)> {
        if n_left == 0 || n_right == 0 || (same && n_left < 2) {
            return Vec::new();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.settings.seed);
        let total = (n_left as u64) * (n_right as u64);
        let n = (self.settings.u_sample_pairs as u64).min(total) as usize;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let i = rng.random_range(0..n_left) as u32;
            let j = rng.random_range(0..n_right) as u32;
            if !(same && i == j) {
                out.push((i, j));
            }
        }
        out
    }

    /// Fits the model and scores the candidate pairs; returns `(i, j, score)` for pairs at or
    /// above the review threshold.
    fn fit_and_score(
        &mut self,
        a: &[Prepared],
        b: &[Prepared],
        candidates: &[(u32, u32)],
        same: bool,
    ) -> (Vec<Level>, Vec<(usize, f64)>) {
        let mut model = Model::with_priors(self.settings.comparisons.clone());
        model.term_frequency = self.settings.term_frequency;
        let random = self.random_pairs(a.len(), b.len(), same);
        model.estimate_u(&self.patterns(a, b, &random));
        let patterns = self.patterns(a, b, candidates);
        let pairs_per_match = if same {
            candidates.len() as f64 / a.len().max(1) as f64
        } else {
            candidates.len() as f64 / a.len().min(b.len()).max(1) as f64
        };
        model.lambda = (1.0 / pairs_per_match.max(1.0)).clamp(1e-6, 0.5);
        model.lambda_cap = model.lambda;
        model.estimate_m(
            &patterns,
            self.settings.em_max_iterations,
            self.settings.em_tolerance,
        );
        let k = model.len();
        let min_score = (self.settings.review_threshold / (1.0 - self.settings.review_threshold))
            .max(1e-300)
            .log2();
        let mut kept = Vec::new();
        if k > 0 {
            for (n, (p, &(i, _))) in patterns.chunks_exact(k).zip(candidates).enumerate() {
                let s = model.score(p, &a[i as usize]);
                if s >= min_score {
                    kept.push((n, s));
                }
            }
        }
        self.model = Some(model);
        (patterns, kept)
    }

    fn to_match(
        &self,
        a: &Prepared,
        a_id: &str,
        b_id: &str,
        pattern: &[Level],
        score: f64,
    ) -> Match {
        let model = self.model.as_ref().expect("fitted");
        let probability = model::posterior(score);
        Match {
            left_id: a_id.to_string(),
            right_id: b_id.to_string(),
            probability,
            score,
            class: if probability >= self.settings.link_threshold {
                MatchClass::Link
            } else {
                MatchClass::Review
            },
            weights: model.explain(pattern, a),
        }
    }

    /// Links two datasets: pairs with probability ≥ the review threshold, best first, one-to-one
    /// when the settings say so.
    pub fn link(&mut self, left: &[Record], right: &[Record]) -> Vec<Match> {
        let mut a = self.prepare(left);
        let mut b = self.prepare(right);
        assign_term_frequencies(a.iter_mut().chain(b.iter_mut()).collect());
        let candidates = blocking::link_pairs(
            &a,
            &b,
            &self.blocking_rules(),
            self.settings.max_block_pairs,
        );
        let (patterns, mut kept) = self.fit_and_score(&a, &b, &candidates, false);
        kept.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        let k = self.settings.comparisons.len();
        let mut used_left = vec![false; a.len()];
        let mut used_right = vec![false; b.len()];
        let mut out = Vec::new();
        for (n, score) in kept {
            let (i, j) = candidates[n];
            let (i, j) = (i as usize, j as usize);
            if self.settings.one_to_one {
                if used_left[i] || used_right[j] {
                    continue;
                }
                used_left[i] = true;
                used_right[j] = true;
            }
            let p = &patterns[n * k..(n + 1) * k];
            out.push(self.to_match(&a[i], &left[i].id, &right[j].id, p, score));
        }
        out
    }

    /// Scores pairs within one dataset: all pairs with probability ≥ the review threshold.
    pub fn dedupe_pairs(&mut self, records: &[Record]) -> Vec<Match> {
        let mut a = self.prepare(records);
        assign_term_frequencies(a.iter_mut().collect());
        let candidates =
            blocking::dedupe_pairs(&a, &self.blocking_rules(), self.settings.max_block_pairs);
        let (patterns, mut kept) = self.fit_and_score(&a, &a, &candidates, true);
        kept.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        let k = self.settings.comparisons.len();
        kept.into_iter()
            .map(|(n, score)| {
                let (i, j) = candidates[n];
                let p = &patterns[n * k..(n + 1) * k];
                self.to_match(
                    &a[i as usize],
                    &records[i as usize].id,
                    &records[j as usize].id,
                    p,
                    score,
                )
            })
            .collect()
    }

    /// Deduplicates one dataset: clusters of record ids (connected components over pairs at or
    /// above the link threshold). Every record is in exactly one cluster; clusters keep input
    /// order.
    pub fn dedupe(&mut self, records: &[Record]) -> Vec<Vec<String>> {
        let pairs = self.dedupe_pairs(records);
        let index: HashMap<&str, usize> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let mut parent: Vec<usize> = (0..records.len()).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for m in pairs.iter().filter(|m| m.class == MatchClass::Link) {
            let (i, j) = (index[m.left_id.as_str()], index[m.right_id.as_str()]);
            let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
            if ri != rj {
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
        let mut clusters: Vec<Vec<String>> = Vec::new();
        let mut cluster_of: HashMap<usize, usize> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            let root = find(&mut parent, i);
            let c = *cluster_of.entry(root).or_insert_with(|| {
                clusters.push(Vec::new());
                clusters.len() - 1
            });
            clusters[c].push(r.id.clone());
        }
        clusters
    }

    /// Explains a pair under the last fitted model (term frequencies of names not seen in the
    /// fitted data count as unknown: average weights are used).
    pub fn explain(&self, left: &Record, right: &Record) -> Option<Vec<ComparisonWeight>> {
        let model = self.model.as_ref()?;
        let a = Prepared::new(left, &self.extra_keys);
        let b = Prepared::new(right, &self.extra_keys);
        let p = self.patterns(
            std::slice::from_ref(&a),
            std::slice::from_ref(&b),
            &[(0, 0)],
        );
        Some(model.explain(&p, &a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people() -> Vec<Record> {
        let families = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
        let middles = ["Văn", "Thị", "Minh", "Đức", "Thu"];
        let givens = [
            "An", "Bình", "Cường", "Dũng", "Hà", "Lan", "Mai", "Nam", "Sơn", "Tú",
        ];
        let mut out = Vec::new();
        for i in 0..400u32 {
            let name = format!(
                "{} {} {}",
                families[(i as usize * 7) % families.len()],
                middles[(i as usize / 3) % middles.len()],
                givens[(i as usize * 13 / 5) % givens.len()]
            );
            out.push(
                Record::new(format!("L{i}"))
                    .with_full_name(&name)
                    .with_dob(&format!(
                        "{}-{:02}-{:02}",
                        1950 + i % 50,
                        1 + i % 12,
                        1 + (i * 7) % 28
                    ))
                    .with_sex(if i % 2 == 0 { "nam" } else { "nữ" })
                    .with_national_id(&format!("001{}{:02}{:06}", i % 2, 50 + i % 50, i * 37)),
            );
        }
        out
    }

    #[test]
    fn links_a_corrupted_copy_one_to_one() {
        let left = people();
        let right: Vec<Record> = left
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut r = r.clone();
                r.id = r.id.replace('L', "R");
                if i % 3 == 0 {
                    // Lost diacritics.
                    let folded = domain::name::fold(r.family_name.as_deref().unwrap());
                    r.family_name = Some(folded);
                }
                if i % 4 == 0 {
                    r.national_id = None;
                }
                if i % 5 == 0 {
                    let d = r.dob.unwrap();
                    r.dob = Some(PartialDate {
                        day: None,
                        month: None,
                        ..d
                    });
                }
                r
            })
            .collect();
        let mut linker = Linker::new(Settings::default());
        let matches = linker.link(&left, &right);
        let links: Vec<&Match> = matches
            .iter()
            .filter(|m| m.class == MatchClass::Link)
            .collect();
        let correct = links
            .iter()
            .filter(|m| m.left_id[1..] == m.right_id[1..])
            .count();
        assert!(correct >= 390, "correct links {correct} of {}", links.len());
        assert_eq!(correct, links.len());
        let mut rights: Vec<&str> = matches.iter().map(|m| m.right_id.as_str()).collect();
        rights.sort();
        let n = rights.len();
        rights.dedup();
        assert_eq!(n, rights.len(), "one-to-one");
        let w = linker.explain(&left[0], &right[0]).unwrap();
        assert_eq!(w.len(), Settings::default().comparisons.len());
        assert!(
            w.iter()
                .any(|c| c.comparison == "national_id" && c.level_name == "missing")
        );
    }

    #[test]
    fn dedupe_clusters_duplicates() {
        let mut records = people();
        records.truncate(100);
        let dup = records[10].clone().with_phone("0912345678");
        let mut dup = Record {
            id: "dup".into(),
            ..dup
        };
        dup.given_name = dup.given_name.map(|g| domain::name::fold(&g));
        records.push(dup);
        let mut linker = Linker::new(Settings::default());
        let clusters = linker.dedupe(&records);
        let with_dup: Vec<&Vec<String>> = clusters.iter().filter(|c| c.len() > 1).collect();
        assert_eq!(with_dup.len(), 1, "{with_dup:?}");
        assert!(
            with_dup[0].contains(&"L10".to_string()) && with_dup[0].contains(&"dup".to_string())
        );
        assert_eq!(clusters.iter().map(Vec::len).sum::<usize>(), records.len());
    }
}
