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
pub mod evaluation;
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
    /// EM training sessions: for each rule, `m` is estimated on the pairs that rule blocks
    /// together, for the comparisons the rule does not cover (as Splink does); a comparison's
    /// `m` is the mean over the sessions that estimate it. Training on all candidate pairs at
    /// once lets EM latch onto whatever structure is most common among them (in a register:
    /// members of one household, who share surname, commune and phone), not onto "same person".
    /// Empty: EM on all candidate pairs.
    pub training: Vec<BlockingRule>,
    /// Linking: a record's candidates share its odds (at most one of them can be the record's
    /// person), so two look-alikes for one record both fall to review instead of one being
    /// linked at random.
    pub candidates_compete: bool,
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
                BlockingRule::FullNameBirthYear,
                BlockingRule::GivenNameDob,
                BlockingRule::FamilyMiddleDob,
                BlockingRule::DobCommune,
                BlockingRule::Phone,
            ],
            training: vec![BlockingRule::NationalId, BlockingRule::GivenNameDob],
            candidates_compete: true,
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

/// Threads for the parallel stages: the machine's parallelism, at most 8.
fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
}

/// log2 share of a pair's odds left when the record's candidates compete: with at most one true
/// person per record, P(i) = odds_i / (1 + Σ_j odds_j). `total_odds` includes the pair's own
/// odds `2^score`; 0 when candidates do not compete.
fn competition(total_odds: f64, score: f64) -> f64 {
    let others = (total_odds - score.exp2()).max(0.0);
    -(1.0 + others).log2()
}

/// Candidate pairs below this probability neither link nor compete.
const COMPETITOR_MIN: f64 = 1e-3;

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
    /// log2 Bayes factor including the prior and `competition`.
    pub score: f64,
    /// log2 share of the odds left after the record's other candidates took theirs (0 when the
    /// pair has no rival; see [`Settings::candidates_compete`]).
    pub competition: f64,
    pub class: MatchClass,
    pub weights: Vec<ComparisonWeight>,
}

/// Stages of a linkage run, reported to a [`Linker::on_progress`] callback as they start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Normalising the records (count: records).
    Prepare,
    /// Finding candidate pairs (count: records).
    Blocking,
    /// Estimating `u` from random pairs (count: pairs).
    EstimateU,
    /// EM training sessions (count: sessions).
    Training,
    /// Comparing candidate pairs (count: pairs).
    Comparing,
    /// Scoring and choosing links (count: pairs).
    Scoring,
}

impl Stage {
    /// Position of the stage (1-based) among [`Stage::COUNT`].
    pub fn number(self) -> u64 {
        self as u64 + 1
    }

    pub const COUNT: u64 = 6;
}

/// Progress callback: the stage starting and how many items it works on.
pub type ProgressFn = std::sync::Arc<dyn Fn(Stage, u64) + Send + Sync>;

/// Runs linkage and deduplication; keeps the last fitted model for inspection.
#[derive(Clone)]
pub struct Linker {
    settings: Settings,
    extra_keys: Vec<String>,
    model: Option<Model>,
    term_frequencies: Option<[TfTable; 3]>,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker")
            .field("settings", &self.settings)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// Term frequencies of exact and folded name values.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TfTable {
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

fn assign_term_frequencies(recs: Vec<&mut Prepared>) -> [TfTable; 3] {
    let tables = term_frequencies(&recs);
    apply_term_frequencies(&tables, recs);
    tables
}

/// Sets each name part's term frequencies from `tables` (0 = unknown value: average weights).
fn apply_term_frequencies(tables: &[TfTable; 3], mut recs: Vec<&mut Prepared>) {
    for r in recs.iter_mut() {
        for (t, forms) in [&mut r.given, &mut r.middle, &mut r.family]
            .into_iter()
            .enumerate()
        {
            if let Some(f) = forms {
                f.tf_exact = tables[t].exact.get(&f.exact).copied().unwrap_or(0.0);
                f.tf_folded = tables[t].folded.get(&f.folded).copied().unwrap_or(0.0);
            }
        }
    }
}

/// A fitted model with the term frequencies it was fitted with: stored, it links later batches
/// against the register without refitting ([`Linker::from_trained`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrainedModel {
    pub model: Model,
    /// Blocking rules of the run (keys of the persisted index depend on them).
    pub blocking: Vec<BlockingRule>,
    /// Term frequencies of given, middle and family names.
    pub term_frequencies: [TfTable; 3],
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
            term_frequencies: None,
            progress: None,
        }
    }

    /// A linker that scores with a stored model (for [`Linker::score_candidates`]).
    pub fn from_trained(mut settings: Settings, trained: TrainedModel) -> Self {
        settings.comparisons = trained.model.comparisons.clone();
        settings.blocking = trained.blocking.clone();
        let mut linker = Linker::new(settings);
        linker.model = Some(trained.model);
        linker.term_frequencies = Some(trained.term_frequencies);
        linker
    }

    /// The model and term frequencies of the last [`Linker::link`] run, to store.
    pub fn trained(&self) -> Option<TrainedModel> {
        Some(TrainedModel {
            model: self.model.clone()?,
            blocking: self.settings.blocking.clone(),
            term_frequencies: self.term_frequencies.clone()?,
        })
    }

    /// Keys of `record` for a persisted blocking index: one per blocking rule and key, stable
    /// across runs and Rust versions (the first 8 bytes of SHA-256 of rule and key). Two
    /// records are candidates when they share a key.
    pub fn index_keys(&self, record: &Record) -> Vec<i64> {
        use sha2::{Digest, Sha256};
        let p = Prepared::new(record, &self.extra_keys);
        let mut out = Vec::new();
        for (rule, slot) in self.blocking_rules() {
            for key in rule.keys(&p, slot) {
                let mut h = Sha256::new();
                h.update(format!("{rule:?}").as_bytes());
                h.update([0]);
                h.update(key.as_bytes());
                let digest = h.finalize();
                let mut first = [0u8; 8];
                first.copy_from_slice(&digest[..8]);
                out.push(i64::from_be_bytes(first));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Scores one record against candidate persons with the stored model (see
    /// [`Linker::from_trained`]); candidates compete as in [`Linker::link`]. Returns the pairs
    /// with probability ≥ 0.001, best first (`left_id` = candidate, `right_id` = record); empty
    /// without a model.
    pub fn score_candidates(&self, record: &Record, candidates: &[Record]) -> Vec<Match> {
        let Some(model) = &self.model else {
            return Vec::new();
        };
        let k = model.len();
        if k == 0 || candidates.is_empty() {
            return Vec::new();
        }
        let mut a = self.prepare(candidates);
        let b = [Prepared::new(record, &self.extra_keys)];
        if let Some(t) = &self.term_frequencies {
            apply_term_frequencies(t, a.iter_mut().collect());
        }
        let pairs: Vec<(u32, u32)> = (0..a.len() as u32).map(|i| (i, 0)).collect();
        let patterns = self.patterns(&a, &b, &pairs);
        let min_score = (COMPETITOR_MIN / (1.0 - COMPETITOR_MIN)).log2();
        let scored: Vec<(usize, f64)> = patterns
            .chunks_exact(k)
            .enumerate()
            .map(|(i, p)| (i, model.score(p, &a[i])))
            .filter(|&(_, s)| s >= min_score)
            .collect();
        let total_odds: f64 = if self.settings.candidates_compete {
            scored.iter().map(|(_, s)| s.exp2()).sum()
        } else {
            0.0
        };
        let mut out: Vec<Match> = scored
            .into_iter()
            .map(|(i, s)| {
                let competition = competition(total_odds, s);
                let p = &patterns[i * k..(i + 1) * k];
                let mut m = self.to_match(&a[i], &candidates[i].id, &record.id, p, s + competition);
                m.competition = competition;
                m
            })
            .collect();
        out.sort_by(|x, y| y.score.total_cmp(&x.score));
        out
    }

    /// Calls `f` as each [`Stage`] of a run starts.
    pub fn on_progress(mut self, f: impl Fn(Stage, u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(std::sync::Arc::new(f));
        self
    }

    fn report(&self, stage: Stage, count: usize) {
        if let Some(f) = &self.progress {
            f(stage, count as u64);
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

    /// Normalises records, on up to `available_parallelism` threads.
    fn prepare(&self, records: &[Record]) -> Vec<Prepared> {
        let run = |chunk: &[Record]| -> Vec<Prepared> {
            chunk
                .iter()
                .map(|r| Prepared::new(r, &self.extra_keys))
                .collect()
        };
        let threads = worker_threads();
        if threads < 2 || records.len() < 20_000 {
            return run(records);
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = records
                .chunks(records.len().div_ceil(threads))
                .map(|c| s.spawn(move || run(c)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("preparing thread panicked"))
                .collect()
        })
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
        let threads = worker_threads();
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
        min_probability: f64,
    ) -> (Vec<Level>, Vec<(usize, f64)>) {
        let mut model = Model::with_priors(self.settings.comparisons.clone());
        model.term_frequency = self.settings.term_frequency;
        let random = self.random_pairs(a.len(), b.len(), same);
        self.report(Stage::EstimateU, random.len());
        model.estimate_u(&self.patterns(a, b, &random));
        self.report(Stage::Training, self.settings.training.len());
        let trained = self.train_by_sessions(&mut model, a, b, same);
        self.report(Stage::Comparing, candidates.len());
        let patterns = self.patterns(a, b, candidates);
        let pairs_per_match = if same {
            candidates.len() as f64 / a.len().max(1) as f64
        } else {
            candidates.len() as f64 / a.len().min(b.len()).max(1) as f64
        };
        let lambda_cap = (1.0 / pairs_per_match.max(1.0)).clamp(1e-6, 0.5);
        if !trained {
            model.lambda = lambda_cap;
            model.lambda_cap = lambda_cap;
            model.estimate_m(
                &patterns,
                self.settings.em_max_iterations,
                self.settings.em_tolerance,
            );
        }
        model.lambda = lambda_cap;
        model.lambda_cap = lambda_cap;
        model.estimate_lambda(
            &patterns,
            self.settings.em_max_iterations,
            self.settings.em_tolerance,
        );
        self.report(Stage::Scoring, candidates.len());
        let k = model.len();
        let min_score = (min_probability / (1.0 - min_probability))
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

    /// Estimates `m` by the EM sessions of [`Settings::training`]; false when no session had
    /// pairs to learn from (the caller then trains on all candidates).
    fn train_by_sessions(
        &self,
        model: &mut Model,
        a: &[Prepared],
        b: &[Prepared],
        same: bool,
    ) -> bool {
        /// Pairs used per session at most (evenly spaced when there are more).
        const MAX_SESSION_PAIRS: usize = 500_000;
        /// Fewer pairs than this teach nothing reliable.
        const MIN_SESSION_PAIRS: usize = 50;
        let comparisons = &self.settings.comparisons;
        let mut sums: Vec<Vec<f64>> = model.m.iter().map(|v| vec![0.0; v.len()]).collect();
        let mut sessions = vec![0usize; comparisons.len()];
        for rule in &self.settings.training {
            let rules = [(rule.clone(), self.slot(rule.extra_key()))];
            let mut pairs = if same {
                blocking::dedupe_pairs(a, &rules, self.settings.max_block_pairs)
            } else {
                blocking::link_pairs(a, b, &rules, self.settings.max_block_pairs)
            };
            if pairs.len() < MIN_SESSION_PAIRS {
                continue;
            }
            if pairs.len() > MAX_SESSION_PAIRS {
                let step = pairs.len() as f64 / MAX_SESSION_PAIRS as f64;
                pairs = (0..MAX_SESSION_PAIRS)
                    .map(|i| pairs[(i as f64 * step) as usize])
                    .collect();
            }
            let covered: Vec<bool> = comparisons.iter().map(|c| rule.covers(c)).collect();
            let mut levels = self.patterns(a, b, &pairs);
            for p in levels.chunks_exact_mut(comparisons.len()) {
                for (l, &cov) in p.iter_mut().zip(&covered) {
                    if cov {
                        *l = MISSING;
                    }
                }
            }
            let mut session = model.clone();
            session.lambda = 0.5;
            session.lambda_cap = 1.0;
            session.estimate_m(
                &levels,
                self.settings.em_max_iterations,
                self.settings.em_tolerance,
            );
            for (c, &cov) in covered.iter().enumerate() {
                if !cov {
                    for (s, m) in sums[c].iter_mut().zip(&session.m[c]) {
                        *s += m;
                    }
                    sessions[c] += 1;
                }
            }
        }
        if sessions.iter().all(|&n| n == 0) {
            return false;
        }
        for (c, n) in sessions.into_iter().enumerate() {
            if n > 0 {
                model.m[c] = sums[c].iter().map(|s| s / n as f64).collect();
            }
        }
        true
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
            competition: 0.0,
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
        self.report(Stage::Prepare, left.len() + right.len());
        let mut a = self.prepare(left);
        let mut b = self.prepare(right);
        self.term_frequencies = Some(assign_term_frequencies(
            a.iter_mut().chain(b.iter_mut()).collect(),
        ));
        self.report(Stage::Blocking, left.len() + right.len());
        let candidates = blocking::link_pairs(
            &a,
            &b,
            &self.blocking_rules(),
            self.settings.max_block_pairs,
        );
        let (patterns, scored) = self.fit_and_score(&a, &b, &candidates, false, COMPETITOR_MIN);
        // Candidates of one record compete: with at most one true person per record, a pair's
        // odds are shared with the record's other candidates, P(i) = odds_i / (1 + Σ_j odds_j).
        let mut rival_odds = vec![0.0f64; b.len()];
        if self.settings.candidates_compete {
            for &(n, s) in &scored {
                rival_odds[candidates[n].1 as usize] += s.exp2();
            }
        }
        let min_score = (self.settings.review_threshold / (1.0 - self.settings.review_threshold))
            .max(1e-300)
            .log2();
        let mut kept: Vec<(usize, f64, f64)> = scored
            .into_iter()
            .filter_map(|(n, s)| {
                let competition = competition(rival_odds[candidates[n].1 as usize], s);
                (s + competition >= min_score).then_some((n, s + competition, competition))
            })
            .collect();
        kept.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        let k = self.settings.comparisons.len();
        let mut used_left = vec![false; a.len()];
        let mut used_right = vec![false; b.len()];
        let mut out = Vec::new();
        for (n, score, competition) in kept {
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
            let mut m = self.to_match(&a[i], &left[i].id, &right[j].id, p, score);
            m.competition = competition;
            out.push(m);
        }
        out
    }

    /// Scores pairs within one dataset: all pairs with probability ≥ the review threshold.
    pub fn dedupe_pairs(&mut self, records: &[Record]) -> Vec<Match> {
        self.report(Stage::Prepare, records.len());
        let mut a = self.prepare(records);
        self.term_frequencies = Some(assign_term_frequencies(a.iter_mut().collect()));
        self.report(Stage::Blocking, records.len());
        let candidates =
            blocking::dedupe_pairs(&a, &self.blocking_rules(), self.settings.max_block_pairs);
        let review = self.settings.review_threshold;
        let (patterns, mut kept) = self.fit_and_score(&a, &a, &candidates, true, review);
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
        // The generated names and birth dates repeat with short periods, so some records have a
        // look-alike (same names and birth date, another surname) and go to review instead.
        let reviewed = matches
            .iter()
            .filter(|m| m.class == MatchClass::Review)
            .count();
        assert!(correct >= 350, "correct links {correct} of {}", links.len());
        assert!(
            correct + reviewed >= 395,
            "links {correct}, reviews {reviewed}"
        );
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

    fn row_record(r: &demo::noisy::LinkageRow) -> Record {
        Record::new(&r.id)
            .with_full_name(&r.full_name)
            .with_dob(&r.dob)
            .with_sex(&r.sex)
            .with_national_id(&r.national_id)
            .with_commune(&r.commune_code)
            .with_phone(&r.phone)
    }

    #[test]
    fn a_stored_model_scores_new_records_against_indexed_candidates() {
        let params = demo::noisy::NoisyParams::new("12", 6_000, 3_000, 9);
        let data = demo::noisy::noisy_linkage_data(&params, domain::units::AdminUnits::embedded())
            .unwrap();
        let left: Vec<Record> = data.register.iter().map(row_record).collect();
        let right: Vec<Record> = data.records.iter().map(|r| row_record(&r.row)).collect();
        let mut linker = Linker::new(Settings::default());
        linker.link(&left, &right[..2_000]);
        let json = serde_json::to_string(&linker.trained().unwrap()).unwrap();
        let stored =
            Linker::from_trained(Settings::default(), serde_json::from_str(&json).unwrap());
        // Records of a later batch find their person through the persisted keys alone.
        let keyed: Vec<Vec<i64>> = left.iter().map(|p| stored.index_keys(p)).collect();
        let (mut right_links, mut wrong_links) = (0, 0);
        for (r, truth) in right[2_000..].iter().zip(&data.records[2_000..]) {
            let keys = stored.index_keys(r);
            assert_eq!(keys, stored.index_keys(r), "keys are stable");
            let candidates: Vec<Record> = left
                .iter()
                .zip(&keyed)
                .filter(|(_, k)| k.iter().any(|k| keys.contains(k)))
                .map(|(p, _)| p.clone())
                .collect();
            let scored = stored.score_candidates(r, &candidates);
            match scored.first() {
                Some(m) if m.class == MatchClass::Link => {
                    if Some(&m.left_id) == truth.person_id.as_ref() {
                        right_links += 1;
                    } else {
                        wrong_links += 1;
                    }
                }
                _ => {}
            }
        }
        let present = data.records[2_000..]
            .iter()
            .filter(|r| r.person_id.is_some())
            .count();
        assert!(
            right_links as f64 >= 0.98 * present as f64,
            "{right_links} of {present}"
        );
        assert!(wrong_links <= 3, "{wrong_links} wrong links");
        // Two equally good candidates share the odds and fall to review.
        let person = &left[7];
        let twin = Record {
            id: "twin".into(),
            national_id: None,
            ..person.clone()
        };
        let record = Record {
            id: "new".into(),
            national_id: None,
            ..person.clone()
        };
        let both = stored.score_candidates(&record, &[person.clone(), twin]);
        assert!(both.len() == 2 && both.iter().all(|m| m.class == MatchClass::Review));
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
