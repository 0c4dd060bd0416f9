//! FEBRL benchmarks: FEBRL4 linkage (5,000 × 5,000, 5,000 true links) and FEBRL3 deduplication.

use linkage::{BlockingRule, Comparison, Linker, MatchClass, Record, Settings};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

/// `$PHONGDICH_TESTDATA/febrl`, or the first `shared/testdata/febrl` found above the crate
/// (the workplace keeps `shared/` beside the repository).
fn dir() -> PathBuf {
    if let Ok(d) = std::env::var("PHONGDICH_TESTDATA") {
        return PathBuf::from(d).join("febrl");
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/testdata/febrl"))
        .find(|d| d.exists())
        .unwrap_or_else(|| here.join("../../../shared/testdata/febrl"))
}

fn read(name: &str) -> Option<Vec<Record>> {
    let path = dir().join(name);
    if !path.exists() {
        assert!(
            std::env::var("PHONGDICH_TESTDATA").is_err(),
            "PHONGDICH_TESTDATA is set but {} is missing",
            path.display()
        );
        // Written straight to stderr so that the test harness does not swallow it.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "notice: FEBRL file {} absent (set PHONGDICH_TESTDATA): skipping",
            path.display()
        );
        return None;
    }
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&path)
        .unwrap();
    let mut out = Vec::new();
    for row in rdr.records() {
        let row = row.unwrap();
        let f = |i: usize| row.get(i).unwrap_or("");
        out.push(
            Record::new(f(0))
                .with_given_name(f(1))
                .with_family_name(f(2))
                .with_extra("street_number", f(3))
                .with_extra("address_1", f(4))
                .with_extra("address_2", f(5))
                .with_extra("suburb", f(6))
                .with_extra("postcode", f(7))
                .with_extra("state", f(8))
                .with_dob(f(9))
                .with_national_id(f(10)),
        );
    }
    Some(out)
}

fn febrl_settings() -> Settings {
    Settings {
        comparisons: vec![
            Comparison::GivenName,
            Comparison::FamilyName,
            Comparison::Dob,
            Comparison::NationalId,
            Comparison::ExtraCode("street_number".into()),
            Comparison::ExtraText("address_1".into()),
            Comparison::ExtraText("address_2".into()),
            Comparison::ExtraText("suburb".into()),
            Comparison::ExtraCode("postcode".into()),
            Comparison::ExtraCode("state".into()),
        ],
        blocking: vec![
            BlockingRule::NationalId,
            BlockingRule::FamilyNameBirthYear,
            BlockingRule::GivenNameDob,
            BlockingRule::Dob,
            BlockingRule::FamilyGivenName,
            BlockingRule::ExtraGivenInitial("postcode".into()),
            BlockingRule::ExtraGivenInitial("suburb".into()),
        ],
        ..Settings::default()
    }
}

/// "rec-12-dup-0" → "12".
fn entity(id: &str) -> &str {
    id.split('-').nth(1).unwrap_or(id)
}

fn prf(tp: usize, predicted: usize, truth: usize) -> (f64, f64, f64) {
    let p = tp as f64 / predicted.max(1) as f64;
    let r = tp as f64 / truth.max(1) as f64;
    let f1 = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f1)
}

#[test]
fn febrl4_link_f1() {
    let (Some(a), Some(b)) = (read("dataset4a.csv"), read("dataset4b.csv")) else {
        return;
    };
    let mut linker = Linker::new(febrl_settings());
    let start = Instant::now();
    let matches = linker.link(&a, &b);
    let elapsed = start.elapsed();
    let truth = a.len().min(b.len());
    let eval = |class_ok: &dyn Fn(MatchClass) -> bool| {
        let predicted: Vec<_> = matches.iter().filter(|m| class_ok(m.class)).collect();
        let tp = predicted
            .iter()
            .filter(|m| entity(&m.left_id) == entity(&m.right_id))
            .count();
        (prf(tp, predicted.len(), truth), predicted.len(), tp)
    };
    let ((p, r, f1), n, tp) = eval(&|c| c == MatchClass::Link);
    eprintln!(
        "FEBRL4 auto-links (p ≥ 0.99): {n} predicted, {tp} true; precision {p:.4} recall {r:.4} F1 {f1:.4}; link time {elapsed:?}"
    );
    let ((p5, r5, f15), n5, tp5) = eval(&|_| true);
    eprintln!(
        "FEBRL4 links+review (p ≥ 0.5): {n5} predicted, {tp5} true; precision {p5:.4} recall {r5:.4} F1 {f15:.4}"
    );
    if let Some(m) = linker.model() {
        eprintln!("lambda {:.5}", m.lambda);
        for (c, (mm, uu)) in m.comparisons.iter().zip(m.m.iter().zip(&m.u)) {
            eprintln!("  {:<14} m {:.3?} u {:.5?}", c.name(), mm, uu);
        }
    }
    assert!(f1 >= 0.99, "FEBRL4 F1 {f1:.4} < 0.99");
}

#[test]
fn febrl3_dedupe_pairwise_f1() {
    let Some(recs) = read("dataset3.csv") else {
        return;
    };
    let mut linker = Linker::new(febrl_settings());
    let start = Instant::now();
    let clusters = linker.dedupe(&recs);
    let elapsed = start.elapsed();
    let mut predicted: HashSet<(String, String)> = HashSet::new();
    for c in &clusters {
        for (i, x) in c.iter().enumerate() {
            for y in &c[i + 1..] {
                let (lo, hi) = if x < y { (x, y) } else { (y, x) };
                predicted.insert((lo.clone(), hi.clone()));
            }
        }
    }
    let tp = predicted
        .iter()
        .filter(|(x, y)| entity(x) == entity(y))
        .count();
    let mut per_entity: std::collections::HashMap<&str, usize> = Default::default();
    for r in &recs {
        *per_entity.entry(entity(&r.id)).or_default() += 1;
    }
    let truth: usize = per_entity.values().map(|n| n * (n - 1) / 2).sum();
    let (p, r, f1) = prf(tp, predicted.len(), truth);
    eprintln!(
        "FEBRL3 dedupe: {} clusters, {} predicted pairs, {tp} true of {truth}; precision {p:.4} recall {r:.4} F1 {f1:.4}; time {elapsed:?}",
        clusters.len(),
        predicted.len()
    );
    assert_eq!(truth, 6_538);
    assert!(f1 > 0.5, "FEBRL3 pairwise F1 {f1:.4}");
}
