//! Fellegi–Sunter model. For each comparison and level: `m` = P(level | match) and
//! `u` = P(level | non-match). `u` is estimated from random record pairs (almost all
//! non-matches); `m` and the match proportion λ by expectation–maximisation on the blocked
//! candidate pairs, with `u` held fixed. A pair's score is the prior `log2(λ/(1−λ))` plus the sum
//! of `log2(m/u)` weights; exact name agreement uses the value's term frequency instead of the
//! average `u`, so agreeing on "Nguyễn" counts less than agreeing on a rare surname.

use crate::compare::{Comparison, Level, MISSING};
use crate::record::Prepared;
use std::collections::HashMap;

/// One comparison's contribution to a pair's score.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonWeight {
    pub comparison: String,
    pub level: Level,
    /// Level name ("exact", "jw>=0.92", … or "missing").
    pub level_name: &'static str,
    /// `log2(m/u)` (term-frequency adjusted where applicable); 0 when missing.
    pub weight: f64,
}

/// A fitted (or prior) Fellegi–Sunter model.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Model {
    pub comparisons: Vec<Comparison>,
    /// `m[k][level]`.
    pub m: Vec<Vec<f64>>,
    /// `u[k][level]`.
    pub u: Vec<Vec<f64>>,
    /// Proportion of matches among the candidate pairs.
    pub lambda: f64,
    /// Upper bound on λ during EM (set from the one-to-one limit on matches).
    pub lambda_cap: f64,
    /// Use term-frequency adjusted `u` for exact name agreement.
    pub term_frequency: bool,
}

/// Printable fitted parameters ([`Model::summary`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelSummary {
    pub lambda: f64,
    pub prior_weight: f64,
    pub comparisons: Vec<ComparisonSummary>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ComparisonSummary {
    pub comparison: String,
    pub levels: Vec<LevelSummary>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LevelSummary {
    pub level: &'static str,
    pub m: f64,
    pub u: f64,
    pub weight: f64,
}

/// Smallest probability kept, so weights stay finite.
const FLOOR: f64 = 1e-9;

fn normalise(v: &mut [f64]) {
    for x in v.iter_mut() {
        *x = x.max(FLOOR);
    }
    let s: f64 = v.iter().sum();
    for x in v.iter_mut() {
        *x /= s;
    }
}

impl Model {
    /// A model with prior `m` (strong agreement likely among matches) and flat `u`.
    pub fn with_priors(comparisons: Vec<Comparison>) -> Self {
        let m = comparisons
            .iter()
            .map(|c| {
                let n = c.n_levels();
                let mut v: Vec<f64> = (0..n).map(|l| 0.5f64.powi(l as i32)).collect();
                v[n - 1] = 0.05;
                normalise(&mut v);
                v
            })
            .collect();
        let u = comparisons
            .iter()
            .map(|c| {
                let n = c.n_levels();
                let mut v = vec![0.01; n];
                v[n - 1] = 1.0;
                normalise(&mut v);
                v
            })
            .collect();
        Model {
            comparisons,
            m,
            u,
            lambda: 0.01,
            lambda_cap: 1.0,
            term_frequency: true,
        }
    }

    /// Number of comparisons.
    pub fn len(&self) -> usize {
        self.comparisons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.comparisons.is_empty()
    }

    /// Sets `u` from the level patterns of random pairs (flat, `len()` levels per pair), with one
    /// pseudo-count per level.
    pub fn estimate_u(&mut self, patterns: &[Level]) {
        let k = self.len();
        for (c, u) in self.u.iter_mut().enumerate() {
            let mut counts = vec![1.0; u.len()];
            for p in patterns.chunks_exact(k) {
                let l = p[c];
                if l != MISSING {
                    counts[l as usize] += 1.0;
                }
            }
            normalise(&mut counts);
            *u = counts;
        }
    }

    /// Estimates `m` and λ by EM on candidate pair patterns (flat, `len()` levels per pair),
    /// keeping `u` fixed. Returns the number of iterations run.
    pub fn estimate_m(
        &mut self,
        patterns: &[Level],
        max_iterations: usize,
        tolerance: f64,
    ) -> usize {
        let k = self.len();
        if k == 0 || patterns.is_empty() {
            return 0;
        }
        let groups = group_patterns(patterns, k);
        let total: f64 = groups.iter().map(|(_, n)| n).sum();
        let mut iterations = 0;
        for _ in 0..max_iterations {
            iterations += 1;
            let prior = (self.lambda / (1.0 - self.lambda)).log2();
            let mut m_acc: Vec<Vec<f64>> = self.m.iter().map(|v| vec![0.0; v.len()]).collect();
            let mut matches = 0.0;
            for (p, n) in &groups {
                let score = prior + self.pattern_weight(p);
                let post = posterior(score);
                matches += post * n;
                for (c, &l) in p.iter().enumerate() {
                    if l != MISSING {
                        m_acc[c][l as usize] += post * n;
                    }
                }
            }
            let mut change: f64 = 0.0;
            for (m, acc) in self.m.iter_mut().zip(m_acc.iter_mut()) {
                for x in acc.iter_mut() {
                    *x += 0.01; // light smoothing so no level gets m = 0
                }
                normalise(acc);
                for (old, new) in m.iter().zip(acc.iter()) {
                    change = change.max((old - new).abs());
                }
                m.clone_from(acc);
            }
            // One-to-one bound: there cannot be more matches than the initial estimate allows.
            let lambda = (matches / total).clamp(1e-9, self.lambda_cap.min(1.0 - 1e-9));
            change = change.max((lambda - self.lambda).abs());
            self.lambda = lambda;
            if change < tolerance {
                break;
            }
        }
        iterations
    }

    /// Estimates λ alone by EM on candidate pair patterns, `m` and `u` fixed; λ stays within
    /// `lambda_cap`.
    pub fn estimate_lambda(&mut self, patterns: &[Level], max_iterations: usize, tolerance: f64) {
        let k = self.len();
        if k == 0 || patterns.is_empty() {
            return;
        }
        let weights: Vec<(f64, f64)> = group_patterns(patterns, k)
            .into_iter()
            .map(|(p, n)| (self.pattern_weight(p), n))
            .collect();
        let total: f64 = weights.iter().map(|(_, n)| n).sum();
        for _ in 0..max_iterations {
            let prior = self.prior_weight();
            let matches: f64 = weights.iter().map(|(w, n)| posterior(prior + w) * n).sum();
            let lambda = (matches / total).clamp(1e-9, self.lambda_cap.min(1.0 - 1e-9));
            let change = (lambda - self.lambda).abs();
            self.lambda = lambda;
            if change < tolerance * 1e-3 {
                break;
            }
        }
    }

    /// The average (non-term-frequency) weight of comparison `c` at `level`; 0 when missing.
    pub fn weight(&self, c: usize, level: Level) -> f64 {
        if level == MISSING {
            return 0.0;
        }
        (self.m[c][level as usize] / self.u[c][level as usize]).log2()
    }

    fn pattern_weight(&self, p: &[Level]) -> f64 {
        p.iter().enumerate().map(|(c, &l)| self.weight(c, l)).sum()
    }

    /// The prior weight `log2(λ/(1−λ))`.
    pub fn prior_weight(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// Weight of comparison `c` at `level` for a pair whose left record is `a`, with
    /// term-frequency adjustment.
    pub(crate) fn pair_weight(&self, c: usize, level: Level, a: &Prepared) -> f64 {
        if level == MISSING {
            return 0.0;
        }
        let tf = self
            .term_frequency
            .then(|| self.comparisons[c].term_frequency(a, level))
            .flatten()
            .filter(|&tf| tf > 0.0);
        if let Some(tf) = tf {
            return (self.m[c][level as usize] / tf.max(FLOOR)).log2();
        }
        self.weight(c, level)
    }

    /// Total score (log2 Bayes factor plus prior) of a pair with levels `p`.
    pub(crate) fn score(&self, p: &[Level], a: &Prepared) -> f64 {
        self.prior_weight()
            + p.iter()
                .enumerate()
                .map(|(c, &l)| self.pair_weight(c, l, a))
                .sum::<f64>()
    }

    /// The fitted parameters in a printable form: per comparison and level, `m`, `u` and the
    /// average weight `log2(m/u)`.
    pub fn summary(&self) -> ModelSummary {
        ModelSummary {
            lambda: self.lambda,
            prior_weight: self.prior_weight(),
            comparisons: self
                .comparisons
                .iter()
                .enumerate()
                .map(|(c, comparison)| ComparisonSummary {
                    comparison: comparison.name(),
                    levels: comparison
                        .level_names()
                        .iter()
                        .enumerate()
                        .map(|(l, name)| LevelSummary {
                            level: name,
                            m: self.m[c][l],
                            u: self.u[c][l],
                            weight: self.weight(c, l as Level),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Per-comparison weights of a pair with levels `p`.
    pub(crate) fn explain(&self, p: &[Level], a: &Prepared) -> Vec<ComparisonWeight> {
        p.iter()
            .enumerate()
            .map(|(c, &l)| ComparisonWeight {
                comparison: self.comparisons[c].name(),
                level: l,
                level_name: if l == MISSING {
                    "missing"
                } else {
                    self.comparisons[c].level_names()[l as usize]
                },
                weight: self.pair_weight(c, l, a),
            })
            .collect()
    }
}

/// Distinct level patterns (flat, `k` levels per pair) with how often each occurs: identical
/// patterns share one posterior, so EM iterates over these instead of every pair.
fn group_patterns(patterns: &[Level], k: usize) -> Vec<(&[Level], f64)> {
    let mut grouped: HashMap<&[Level], f64> = HashMap::new();
    for p in patterns.chunks_exact(k) {
        *grouped.entry(p).or_default() += 1.0;
    }
    grouped.into_iter().collect()
}

/// Match probability from a log2 score.
pub fn posterior(score: f64) -> f64 {
    let s = score.clamp(-1000.0, 1000.0);
    1.0 / (1.0 + (-s).exp2())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn em_separates_matches_from_non_matches() {
        let comparisons = vec![
            Comparison::GivenName,
            Comparison::NationalId,
            Comparison::Dob,
        ];
        let mut model = Model::with_priors(comparisons);
        // u: random pairs almost always differ.
        let mut random = Vec::new();
        for i in 0..10_000 {
            random.push(if i % 10 == 0 { 0 } else { 4 });
            random.push(if i % 1000 == 0 { 0 } else { 3 });
            random.push(if i % 100 == 0 { 0 } else { 7 });
        }
        model.estimate_u(&random);
        // Candidates: 100 matches agreeing on everything, 900 non-matches mostly disagreeing.
        let mut cand = Vec::new();
        for i in 0..1000 {
            if i < 100 {
                cand.extend([if i % 10 == 0 { 1 } else { 0 }, 0, 0]);
            } else {
                cand.extend([
                    if i % 10 == 0 { 0 } else { 4 },
                    3,
                    if i % 100 == 0 { 0 } else { 7 },
                ]);
            }
        }
        model.estimate_m(&cand, 200, 1e-9);
        assert!((model.lambda - 0.1).abs() < 0.02, "lambda {}", model.lambda);
        assert!(model.weight(1, 0) > 8.0);
        assert!(model.weight(1, 3) < -2.0);
        assert_eq!(model.weight(1, MISSING), 0.0);
        assert!(posterior(10.0) > 0.999 && posterior(-10.0) < 0.001);
        assert!((posterior(0.0) - 0.5).abs() < 1e-12);
    }
}
