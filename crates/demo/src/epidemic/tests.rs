//! Checks of the epidemic against the realism requirements: determinism, attack rate and
//! severity of the wave, vaccination protecting, positivity falling after the peak, the current
//! outbreak's check-ins, alerts, contacts, clusters, samples and border declarations.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use domain::home_care::{HomeCareRules, Vitals, assess};
use domain::surveillance::AlertLevel;

use super::*;
use crate::vaccination::vaccination_history;
use crate::{DemoParams, generate};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn as_of() -> NaiveDate {
    date(2026, 1, 1)
}

fn today() -> NaiveDate {
    date(2026, 11, 22)
}

fn units() -> &'static AdminUnits {
    AdminUnits::embedded()
}

struct Data {
    pop: DemoPopulation,
    history: VaccinationHistory,
    epidemic: EpidemicHistory,
}

fn build(province: &str, persons: usize, seed: u64, today: NaiveDate) -> Data {
    let params = DemoParams {
        province_code: province.to_string(),
        persons,
        seed,
        as_of: as_of(),
    };
    let pop = generate(&params, units()).unwrap();
    let history = vaccination_history(&pop.persons, units(), seed, as_of());
    let epidemic = epidemic_history(&pop, &history, units(), seed, today);
    Data {
        pop,
        history,
        epidemic,
    }
}

/// Lai Châu, 20,000 persons (shared by the tests).
fn lai_chau() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| build("12", 20_000, 5, today()))
}

fn persons_by_id(d: &Data) -> HashMap<Uuid, &Person> {
    d.pop.persons.iter().map(|p| (p.id, p)).collect()
}

#[test]
fn the_same_seed_gives_the_same_epidemic() {
    let a = build("12", 3_000, 9, today());
    let b = build("12", 3_000, 9, today());
    assert_eq!(a.epidemic, b.epidemic);
    assert!(!a.epidemic.tests.is_empty());
    let c = build("12", 3_000, 10, today());
    assert_ne!(a.epidemic.tests, c.epidemic.tests);
    // An empty population has no epidemic.
    let empty = epidemic_history(
        &DemoPopulation::default(),
        &VaccinationHistory::default(),
        units(),
        1,
        today(),
    );
    assert_eq!(empty, EpidemicHistory::default());
}

#[test]
fn the_wave_has_a_plausible_attack_rate_and_test_volume() {
    let d = lai_chau();
    let c = &d.epidemic.counts;
    assert!(
        (0.15..=0.25).contains(&c.wave_attack_rate),
        "attack rate {}",
        c.wave_attack_rate
    );
    let wave: Vec<&DemoCase> = d.epidemic.cases.iter().filter(|c| !c.current).collect();
    assert_eq!(wave.len(), c.wave_cases);
    // Cases in 2022, all closed, recovered after 7–14 days when mild.
    for case in &wave {
        assert_eq!(case.first_positive.year(), 2022);
        let out = case.outcome_date.expect("closed");
        assert!(case.outcome.is_some());
        let days = (out - case.first_positive).num_days();
        if case.severity <= Severity::Mild && case.outcome == Some(Outcome::Recovered) {
            assert!((7..=14).contains(&days), "{days} days");
        }
    }
    // Peak in February–April.
    let peak = wave
        .iter()
        .filter(|c| (2..=4).contains(&c.first_positive.month()))
        .count();
    assert!(
        peak as f64 > 0.8 * wave.len() as f64,
        "{peak} of {}",
        wave.len()
    );
    // Test rows about half the population; plenty of negatives.
    let persons = d.pop.persons.len() as f64;
    assert!(
        (0.4 * persons..=0.6 * persons).contains(&(c.tests as f64)),
        "{} tests",
        c.tests
    );
    assert!(c.negative_tests > c.positive_tests / 2, "{c:?}");
    assert_eq!(c.tests, d.epidemic.tests.len());
}

#[test]
fn positivity_falls_after_the_peak() {
    let d = lai_chau();
    let share = |from: NaiveDate, to: NaiveDate| {
        let t: Vec<_> = d
            .epidemic
            .tests
            .iter()
            .filter(|t| (from..=to).contains(&t.row.sample_date))
            .collect();
        let pos = t
            .iter()
            .filter(|t| t.row.result == TestResult::Positive)
            .count();
        pos as f64 / t.len().max(1) as f64
    };
    let peak = share(date(2022, 3, 1), date(2022, 3, 21));
    let april = share(date(2022, 4, 18), date(2022, 4, 30));
    let june = share(date(2022, 6, 1), date(2022, 6, 30));
    assert!(peak > 0.3 && peak < 0.6, "peak positivity {peak}");
    assert!(april < peak && june < april, "{peak} {april} {june}");
    assert!(june < 0.15, "June positivity {june}");
}

#[test]
fn severity_is_mostly_mild_and_severe_cases_are_old_or_unvaccinated() {
    let d = lai_chau();
    let wave: Vec<&DemoCase> = d.epidemic.cases.iter().filter(|c| !c.current).collect();
    let n = wave.len() as f64;
    let mild = wave.iter().filter(|c| c.severity <= Severity::Mild).count() as f64;
    assert!(mild / n > 0.93, "mild share {}", mild / n);
    let asymptomatic = wave
        .iter()
        .filter(|c| c.severity == Severity::Asymptomatic)
        .count() as f64;
    assert!((0.25..0.5).contains(&(asymptomatic / n)));
    let severe: Vec<_> = wave.iter().filter(|c| c.severity.is_severe()).collect();
    assert!(!severe.is_empty() && (severe.len() as f64) < 0.02 * n);
    let old_or_unvaccinated = severe
        .iter()
        .filter(|c| c.age_years >= 65 || c.vaccination == VaccinationStatus::Unvaccinated)
        .count();
    assert!(
        2 * old_or_unvaccinated > severe.len(),
        "{old_or_unvaccinated} of {}",
        severe.len()
    );
    let deaths = d.epidemic.counts.wave_deaths;
    assert!((1..=12).contains(&deaths), "{deaths} deaths");
    // Care follows severity.
    for c in &wave {
        match c.severity {
            Severity::Moderate => assert_eq!(c.care_setting, CareSetting::Tier2),
            Severity::Severe | Severity::Critical => {
                assert_eq!(c.care_setting, CareSetting::Tier3);
                assert!(c.on_oxygen);
            }
            _ => assert!(matches!(
                c.care_setting,
                CareSetting::Home | CareSetting::Tier1
            )),
        }
        assert_eq!(c.onset.is_none(), c.severity == Severity::Asymptomatic);
    }
}

#[test]
fn the_unvaccinated_are_infected_more_than_the_boosted() {
    let d = lai_chau();
    let peak = date(2022, 3, 1);
    // Adults 18–64 only (children are mostly unvaccinated and less tested).
    let mut at_risk: HashMap<VaccinationStatus, (usize, usize)> = HashMap::new();
    let infected: HashSet<Uuid> = d
        .epidemic
        .cases
        .iter()
        .filter(|c| !c.current)
        .map(|c| c.person_id)
        .collect();
    let doses: HashMap<Uuid, Vec<NaiveDate>> =
        d.history.doses.iter().fold(HashMap::new(), |mut m, x| {
            m.entry(x.person_id).or_default().push(x.date);
            m
        });
    for p in &d.pop.persons {
        let age = age_on(p.dob, peak).unwrap_or(0);
        if !(18..65).contains(&age) {
            continue;
        }
        let n = doses
            .get(&p.id)
            .map_or(0, |v| v.iter().filter(|x| **x <= plus(peak, -14)).count());
        let status = match n {
            0 => VaccinationStatus::Unvaccinated,
            1 | 2 => VaccinationStatus::PrimaryComplete,
            _ => VaccinationStatus::Boosted,
        };
        let e = at_risk.entry(status).or_default();
        e.0 += 1;
        e.1 += usize::from(infected.contains(&p.id));
    }
    let rate = |s| {
        let (n, k) = at_risk[&s];
        k as f64 / n as f64
    };
    let unvaccinated = rate(VaccinationStatus::Unvaccinated);
    let boosted = rate(VaccinationStatus::Boosted);
    assert!(
        unvaccinated > 1.4 * boosted,
        "unvaccinated {unvaccinated}, boosted {boosted}"
    );
    // Each case's status is the one of its first positive.
    let by_status = |s| {
        d.epidemic
            .cases
            .iter()
            .filter(|c| !c.current && c.vaccination == s)
            .count()
    };
    assert!(by_status(VaccinationStatus::Boosted) > 0);
    assert!(by_status(VaccinationStatus::Unvaccinated) > 0);
}

#[test]
fn tests_are_valid_rows_of_the_province_labs() {
    let d = lai_chau();
    let labs: HashSet<&str> = d.epidemic.labs.iter().map(|l| l.code.as_str()).collect();
    assert!(labs.contains("CDC-12") && labs.contains("BV-12"));
    assert!(labs.iter().any(|l| l.starts_with("TTYT-")));
    let persons = persons_by_id(d);
    let mut ids = HashSet::new();
    let mut used = HashSet::new();
    for t in &d.epidemic.tests {
        let r = &t.row;
        assert!(
            ids.insert(r.record_id.as_str()),
            "duplicate {}",
            r.record_id
        );
        assert!(r.record_id.starts_with(&r.lab_code) || r.record_id.starts_with("THCS-"));
        assert!(labs.contains(r.lab_code.as_str()));
        used.insert(r.lab_code.as_str());
        assert!(r.sample_date <= today());
        assert!(local_date(t.received_at) >= r.sample_date);
        assert!(t.received_at <= local(today(), 8 * 60));
        let p = persons[&t.person_id];
        assert!(p.dob <= r.sample_date);
        assert_eq!(r.full_name, p.full_name);
        // The row parses back as the labs' file format would be read.
        let cells: HashMap<&str, String> = HashMap::from([
            ("record_id", r.record_id.clone()),
            ("national_id", r.national_id.clone()),
            ("full_name", r.full_name.clone()),
            ("dob", r.dob.clone()),
            ("sex", r.sex.clone()),
            ("commune_code", r.commune_code.clone()),
            ("phone", r.phone.clone()),
            ("sample_date", r.sample_date.to_string()),
            ("test_type", r.test_type.as_str().to_string()),
            ("result", r.result.as_str().to_string()),
            ("lab_code", r.lab_code.clone()),
        ]);
        let parsed = domain::test_record::parse_row(|c| cells.get(c).cloned(), today()).unwrap();
        assert_eq!(&parsed, r);
    }
    assert_eq!(used.len(), labs.len(), "every lab reports");
    // Sorted by sample date.
    assert!(
        d.epidemic
            .tests
            .windows(2)
            .all(|w| w[0].row.sample_date <= w[1].row.sample_date)
    );
    // Every case's opening test is a positive of the case's person on its first positive.
    let by_id: HashMap<&str, &DemoTest> = d
        .epidemic
        .tests
        .iter()
        .map(|t| (t.row.record_id.as_str(), t))
        .collect();
    for c in &d.epidemic.cases {
        let t = by_id[c.record_id.as_str()];
        assert_eq!(t.person_id, c.person_id);
        assert_eq!(t.row.result, TestResult::Positive);
        assert_eq!(t.row.sample_date, c.first_positive);
    }
}

#[test]
fn the_current_outbreak_is_small_recent_and_followed_at_home() {
    let d = lai_chau();
    let current: Vec<&DemoCase> = d.epidemic.cases.iter().filter(|c| c.current).collect();
    assert!(
        (40..=80).contains(&current.len()),
        "{} cases",
        current.len()
    );
    let communes: HashSet<&str> = d
        .epidemic
        .clusters
        .iter()
        .map(|c| c.commune_code.as_str())
        .collect();
    assert!((2..=3).contains(&communes.len()), "{communes:?}");
    let open = current.iter().filter(|c| c.is_open()).count();
    assert!(open * 2 > current.len());
    for c in &current {
        assert!(c.first_positive >= plus(today(), -13) && c.first_positive <= today());
        assert_eq!(c.care_setting, CareSetting::Home);
        if let Some(out) = c.outcome_date {
            assert!(out <= today() && (out - c.first_positive).num_days() >= 7);
        }
        assert!(c.cluster.is_some());
    }
    // Cases found today exist or the last days have cases.
    assert!(
        current
            .iter()
            .any(|c| c.first_positive >= plus(today(), -2))
    );
}

#[test]
fn checkins_follow_the_first_positive_and_stop_before_today_ends() {
    let d = lai_chau();
    let cases: HashMap<&str, &DemoCase> = d
        .epidemic
        .cases
        .iter()
        .map(|c| (c.record_id.as_str(), c))
        .collect();
    let rules = HomeCareRules::embedded().ruleset(None).unwrap();
    let mut last: HashMap<&str, (DateTime<Utc>, AlertLevel)> = HashMap::new();
    for k in &d.epidemic.checkins {
        let c = cases[k.record_id.as_str()];
        assert!(c.current);
        assert!(local_date(k.at) >= c.first_positive);
        assert!(local_date(k.at) <= today());
        assert!(k.at <= local(today(), 8 * 60));
        if let Some(out) = c.outcome_date {
            assert!(local_date(k.at) <= out);
        }
        let v = Vitals::from_json(&k.vitals.to_string()).expect("valid vitals");
        let a = assess(rules, &v);
        if let Some((at, _)) = last.get(k.record_id.as_str()) {
            assert!(*at < k.at, "check-ins in time order");
        }
        last.insert(&k.record_id, (k.at, a.alert));
    }
    // Latest alerts: a few warnings, one or two emergencies.
    let latest = |level| last.values().filter(|(_, a)| *a == level).count();
    let counts = &d.epidemic.counts;
    assert!((1..=2).contains(&latest(AlertLevel::Emergency)));
    assert_eq!(latest(AlertLevel::Emergency), counts.emergency_cases);
    assert!((3..=5).contains(&latest(AlertLevel::Warning)));
    assert_eq!(latest(AlertLevel::Warning), counts.warning_cases);
    // Overdue: open cases without a check-in in the last 24 hours (measured at 08:00 today).
    let now = local(today(), 8 * 60);
    let overdue = d
        .epidemic
        .cases
        .iter()
        .filter(|c| c.current && c.is_open() && c.first_positive < plus(today(), -1))
        .filter(|c| {
            last.get(c.record_id.as_str())
                .is_none_or(|(at, _)| now - *at >= TimeDelta::hours(24))
        })
        .count();
    assert!((4..=8).contains(&overdue), "{overdue} overdue");
    // Normal check-ins raise nothing: every alert comes from a chosen case.
    let alerted: HashSet<&str> = d
        .epidemic
        .checkins
        .iter()
        .filter(|k| {
            let v = Vitals::from_json(&k.vitals.to_string()).unwrap();
            assess(rules, &v).alert != AlertLevel::None
        })
        .map(|k| k.record_id.as_str())
        .collect();
    assert_eq!(alerted.len(), counts.warning_cases + counts.emergency_cases);
}

#[test]
fn contacts_reference_persons_and_form_chains() {
    let d = lai_chau();
    let persons = persons_by_id(d);
    let cases: HashMap<&str, &DemoCase> = d
        .epidemic
        .cases
        .iter()
        .map(|c| (c.record_id.as_str(), c))
        .collect();
    assert!(!d.epidemic.contacts.is_empty());
    let mut pairs = HashSet::new();
    for k in &d.epidemic.contacts {
        assert!(persons.contains_key(&k.person_id));
        let index = cases[k.index_record_id.as_str()];
        assert!(index.current);
        assert_ne!(index.person_id, k.person_id);
        assert!(pairs.insert((k.index_record_id.as_str(), k.person_id)));
        assert!(["household", "work", "school"].contains(&k.relation.as_str()));
        assert!(k.last_exposure <= today() && k.monitor_until > k.last_exposure);
        if k.relation == "household" {
            let p = persons[&k.person_id];
            let q = persons[&index.person_id];
            assert_eq!(p.household_id, q.household_id);
        }
        if let Some(b) = &k.became_case_record_id {
            let became = cases[b.as_str()];
            assert_eq!(became.person_id, k.person_id);
            assert!(became.first_positive >= k.last_exposure);
        }
    }
    let became = d.epidemic.counts.contacts_became_cases;
    assert!(became >= d.epidemic.counts.current_cases / 2, "{became}");
    assert!(d.epidemic.contacts.len() > 3 * became);
    // Every current case but the clusters' first ones was a contact of an earlier case.
    let firsts: HashSet<&str> = d
        .epidemic
        .clusters
        .iter()
        .map(|c| c.members[0].as_str())
        .collect();
    let reached: HashSet<&str> = d
        .epidemic
        .contacts
        .iter()
        .filter_map(|k| k.became_case_record_id.as_deref())
        .collect();
    for c in d.epidemic.cases.iter().filter(|c| c.current) {
        assert!(
            firsts.contains(c.record_id.as_str()) || reached.contains(c.record_id.as_str()),
            "{} came from nowhere",
            c.record_id
        );
    }
}

#[test]
fn clusters_samples_and_sequencing() {
    let d = lai_chau();
    let e = &d.epidemic;
    assert_eq!(e.clusters.len(), 3);
    let names: Vec<&str> = e.clusters.iter().map(|c| c.name.as_str()).collect();
    assert!(names.iter().any(|n| n.contains("chợ")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("trường THCS")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("công trường")), "{names:?}");
    let unusual: Vec<&DemoCluster> = e.clusters.iter().filter(|c| c.unusual).collect();
    assert_eq!(unusual.len(), 1);
    // The construction site, whose index case entered through the border gate.
    assert!(
        unusual[0].place.starts_with("Công trường"),
        "{}",
        unusual[0].place
    );
    let s = unusual[0].sequencing.as_ref().expect("sequencing");
    assert!(s.referred_on >= unusual[0].opened_on && s.result_on > s.referred_on);
    assert!(s.result_on <= today() && !s.variant.is_empty());
    let by_id: HashMap<&str, &DemoTest> = e
        .tests
        .iter()
        .map(|t| (t.row.record_id.as_str(), t))
        .collect();
    for r in &s.record_ids {
        let t = by_id[r.as_str()];
        assert_eq!(t.row.test_type, TestType::RtPcr);
        assert_eq!(t.row.result, TestResult::Positive);
    }
    let total: usize = e.clusters.iter().map(|c| c.members.len()).sum();
    assert_eq!(total, e.counts.current_cases);
    // One sampling session with pools of at most five, one positive pool broken down.
    assert_eq!(e.sample_sessions.len(), 1);
    let session = &e.sample_sessions[0];
    let pools: Vec<&DemoSample> = session
        .samples
        .iter()
        .filter(|s| s.pool.is_none())
        .collect();
    assert!(pools.len() >= 2 && pools.iter().all(|p| p.members.len() <= 5));
    let positive: Vec<usize> = session
        .samples
        .iter()
        .enumerate()
        .filter(|(_, s)| s.pool.is_none() && s.result == TestResult::Positive)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(positive.len(), 1);
    let singles: Vec<&DemoSample> = session
        .samples
        .iter()
        .filter(|s| s.pool == Some(positive[0]))
        .collect();
    assert_eq!(singles.len(), session.samples[positive[0]].members.len());
    assert!(singles.iter().any(|s| s.result == TestResult::Positive));
    for s in &session.samples {
        assert!(s.collected_at < s.received_at && s.received_at < s.resulted_at);
        assert!(s.resulted_at <= local(today(), 8 * 60));
        assert_eq!(s.record_ids.len(), usize::from(s.members.len() == 1));
        assert!(s.record_ids.iter().all(|r| *r == s.code));
        for r in &s.record_ids {
            let t = by_id[r.as_str()];
            assert_eq!(t.row.result, s.result);
            assert_eq!(t.row.sample_date, session.held_on);
            assert!(s.members.contains(&t.person_id));
        }
    }
}

#[test]
fn border_declarations_hover_around_the_target() {
    let d = lai_chau();
    let e = &d.epidemic;
    assert!(e.gates.iter().any(|g| g.name.contains("Ma Lù Thàng")));
    assert_eq!(e.border_counts.len(), 14 * e.gates.len());
    let c = &e.counts;
    let share = c.variant_declared as f64 / c.variant_entrants as f64;
    assert!((0.92..=0.98).contains(&share), "declared share {share}");
    for day in e.border_counts.iter() {
        let declared = e
            .declarations
            .iter()
            .filter(|x| x.gate_code == day.gate_code && x.entered_on == day.day)
            .count() as i64;
        assert!(declared <= day.entrants);
        assert!(day.from_variant_areas <= day.entrants);
    }
    // The imported index case declared on entry.
    let became: Vec<&DemoDeclaration> = e
        .declarations
        .iter()
        .filter(|x| x.case_record_id.is_some())
        .collect();
    assert_eq!(became.len(), 1);
    assert_eq!(became[0].status, "became_case");
    let case = e
        .cases
        .iter()
        .find(|c| Some(&c.record_id) == became[0].case_record_id.as_ref())
        .unwrap();
    assert_eq!(case.detection_source, DetectionSource::Imported);
    assert_eq!(Some(case.person_id), became[0].person_id);
}

#[test]
fn small_populations_and_early_dates_do_not_break() {
    for (persons, today) in [
        (300, today()),
        (1_500, today()),
        (3_000, date(2022, 3, 10)),
        (3_000, date(2021, 6, 1)),
    ] {
        let d = build("12", persons, 4, today);
        for t in &d.epidemic.tests {
            assert!(t.row.sample_date <= today);
        }
        for k in &d.epidemic.checkins {
            assert!(local_date(k.at) <= today);
        }
    }
    // A province without a listed border gate.
    let d = build("01", 2_000, 4, today());
    assert!(d.epidemic.gates.is_empty() && d.epidemic.declarations.is_empty());
    assert!(d.epidemic.counts.wave_cases > 0);
}

/// Prints the numbers of the default demo (50,000 persons); run with `--ignored --nocapture`.
#[test]
#[ignore]
fn print_default_demo_counts() {
    let d = build("12", 50_000, 2021, today());
    let start = std::time::Instant::now();
    let again = epidemic_history(&d.pop, &d.history, units(), 2021, today());
    println!("epidemic generated in {:?}", start.elapsed());
    assert_eq!(again, d.epidemic);
    println!("{:#?}", d.epidemic.counts);
}
