//! Precision, recall and F1 of record-to-person links against a known truth.

use std::collections::{HashMap, HashSet};

/// Scores of a set of links.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LinkScore {
    /// Links to the right person.
    pub true_positives: usize,
    /// Links to a wrong person, or links of records whose person is not in the register.
    pub false_positives: usize,
    /// Records of registered persons left unlinked or linked to someone else.
    pub false_negatives: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Scores `predicted` `(record_id, person_id)` links against `truth` `(record_id, person_id)`,
/// where an empty person id means "not in the register" (truth) or "no link" (predicted).
/// A record predicted more than once counts every link (each wrong one is a false positive).
pub fn score_links(truth: &[(String, String)], predicted: &[(String, String)]) -> LinkScore {
    let truth: HashMap<&str, &str> = truth
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(r, p)| (r.as_str(), p.as_str()))
        .collect();
    let mut found: HashSet<&str> = HashSet::new();
    let (mut tp, mut fp) = (0, 0);
    for (r, p) in predicted.iter().filter(|(_, p)| !p.is_empty()) {
        if truth.get(r.as_str()) == Some(&p.as_str()) {
            if found.insert(r.as_str()) {
                tp += 1;
            }
        } else {
            fp += 1;
        }
    }
    let fn_ = truth.len() - found.len();
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if truth.is_empty() {
        1.0
    } else {
        tp as f64 / truth.len() as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    LinkScore {
        true_positives: tp,
        false_positives: fp,
        false_negatives: fn_,
        precision,
        recall,
        f1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn counts_each_kind_of_outcome() {
        let truth = pairs(&[("r1", "p1"), ("r2", "p2"), ("r3", ""), ("r4", "p4")]);
        let predicted = pairs(&[("r1", "p1"), ("r2", "p9"), ("r3", "p3"), ("r4", "")]);
        let s = score_links(&truth, &predicted);
        assert_eq!(
            (s.true_positives, s.false_positives, s.false_negatives),
            (1, 2, 2)
        );
        assert!((s.precision - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.recall - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.f1 - 1.0 / 3.0).abs() < 1e-12);
    }
}
