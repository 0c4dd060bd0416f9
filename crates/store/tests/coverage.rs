//! Contract tests for vaccination coverage on SQLite and (with `PHONGDICH_TEST_PG`) PostgreSQL:
//! the counters kept in the write transaction give, for every kind of unit and several as-of
//! dates, exactly what a brute-force count over the persons and their linked doses gives —
//! after linking doses, moving a person, merging and undoing the merge, and rejecting a link.
//! `rebuild_coverage(false)` agrees with the stored figures, and finds a counter edited behind
//! the application's back; `rebuild_coverage(true)` repairs it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate};
use domain::audit::NewAuditEntry;
use domain::person::Person;
use domain::register::RegisterEntry;
use domain::schedule::{self, DoseEvent, Rules};
use domain::units::{AdminUnits, UnitVersion};
use store::{CoverageUnit, LinkDecision, LinkStatus, NewSourceRecord, RecordKind, Store};
use testkit::TestDb;
use uuid::Uuid;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn audit(action: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
        actor_id: None,
        actor: Some("canbo".into()),
        action: action.into(),
        entity_type: Some("person".into()),
        entity_id: None,
        unit_code: Some("12".into()),
        ip: None,
        details: serde_json::json!({}),
    }
}

/// What the test believes: the register persons (not merged) and each linked dose record.
struct Truth {
    persons: HashMap<Uuid, Person>,
    /// record id → (person, dose).
    doses: HashMap<Uuid, (Uuid, DoseEvent)>,
}

/// The age groups of the coverage table, restated here: `(label, youngest, oldest)`.
const GROUPS: [(&str, u32, u32); 7] = [
    ("3-4", 3, 4),
    ("5-11", 5, 11),
    ("12-17", 12, 17),
    ("18+", 18, u32::MAX),
    ("50+", 50, u32::MAX),
    ("65+", 65, u32::MAX),
    ("all", 0, u32::MAX),
];

fn in_unit(p: &Person, unit: &CoverageUnit) -> bool {
    let units = AdminUnits::embedded();
    match unit.hierarchy {
        UnitVersion::V2025 => p.province_code == unit.code || p.commune_code == unit.code,
        UnitVersion::Pre2025 => p
            .old_commune_code
            .as_deref()
            .is_some_and(|c| c == unit.code || units.pre2025.is_within(c, &unit.code)),
    }
}

/// `[population, at_least_one, primary_complete, booster1, booster2]` per age group, counted
/// person by person.
fn brute_force(t: &Truth, unit: &CoverageUnit, as_of: NaiveDate) -> Vec<(String, [u64; 5])> {
    let mut out: Vec<(String, [u64; 5])> =
        GROUPS.iter().map(|g| (g.0.to_string(), [0; 5])).collect();
    for p in t.persons.values().filter(|p| in_unit(p, unit)) {
        let Some(age) = domain::population::age_on(p.dob, as_of) else {
            continue;
        };
        let doses: Vec<DoseEvent> = t
            .doses
            .values()
            .filter(|(who, _)| *who == p.id)
            .map(|(_, dose)| dose.clone())
            .collect();
        let reached: [bool; 5] = if doses.is_empty() {
            [true, false, false, false, false]
        } else {
            let l = schedule::levels(&schedule::evaluate(Rules::embedded(), p.dob, &doses, &[]));
            let by = |x: Option<NaiveDate>| x.is_some_and(|x| x <= as_of);
            [
                true,
                by(l.first_dose),
                by(l.primary_complete),
                by(l.booster1),
                by(l.booster2),
            ]
        };
        for (i, (_, lo, hi)) in GROUPS.iter().enumerate() {
            if age >= *lo && age <= *hi {
                for (k, r) in reached.iter().enumerate() {
                    out[i].1[k] += u64::from(*r);
                }
            }
        }
    }
    out
}

async fn check(s: &dyn Store, t: &Truth, units: &[CoverageUnit], what: &str) {
    for unit in units {
        for as_of in [
            d(2021, 9, 30),
            d(2022, 6, 15),
            d(2023, 12, 31),
            d(2026, 1, 1),
        ] {
            let got = store::coverage_report(s, unit, as_of).await.unwrap();
            let got: Vec<(String, [u64; 5])> = got
                .groups
                .iter()
                .map(|g| {
                    (
                        g.age_group.clone(),
                        [
                            g.population,
                            g.at_least_one,
                            g.primary_complete,
                            g.booster1,
                            g.booster2,
                        ],
                    )
                })
                .collect();
            let want = brute_force(t, unit, as_of);
            assert_eq!(
                got,
                want,
                "{what}: {} {} as of {as_of} ({:?})",
                unit.hierarchy.as_str(),
                unit.code,
                s.backend()
            );
        }
    }
}

fn dose_record(dose: &demo::vaccination::DemoDose) -> NewSourceRecord {
    NewSourceRecord {
        id: Uuid::now_v7(),
        kind: RecordKind::Dose,
        source: dose.site_code.clone(),
        external_id: dose.record_id.clone(),
        full_name: "x".into(),
        dob: String::new(),
        sex: String::new(),
        national_id: String::new(),
        commune_code: String::new(),
        phone: String::new(),
        payload: serde_json::json!({"vaccine": dose.product, "dose_date": dose.date.to_string()}),
        batch_id: Uuid::nil(),
    }
}

fn linked(record: Uuid, person: Uuid) -> LinkDecision {
    LinkDecision {
        record_id: record,
        status: LinkStatus::Linked,
        person_id: Some(person),
        probability: Some(1.0),
        decided_by: "test".into(),
        candidates: None,
    }
}

#[tokio::test]
async fn counters_follow_every_change_and_rebuild_checks_them() {
    for db in TestDb::all().await {
        run(&db).await;
        db.cleanup().await;
    }
}

async fn run(db: &TestDb) {
    let s = db.store.as_ref();
    let all = AdminUnits::embedded();
    let pop = testkit::load_demo(s, "12", 700, 11).await;
    let history = demo::vaccination::vaccination_history(&pop.persons, all, 11, d(2023, 12, 31));
    assert!(history.doses.len() > 500, "{} doses", history.doses.len());
    let records: Vec<NewSourceRecord> = history.doses.iter().map(dose_record).collect();
    let decisions: Vec<LinkDecision> = records
        .iter()
        .zip(&history.doses)
        .map(|(r, dose)| linked(r.id, dose.person_id))
        .collect();
    // Half stored then decided, half stored with their decisions: both keep the counters.
    let half = records.len() / 2;
    let inserted = s.insert_source_records(&records[..half]).await.unwrap();
    assert_eq!(inserted.len(), half);
    s.apply_link_decisions(&decisions[..half], None)
        .await
        .unwrap();
    let inserted = s
        .insert_decided_records(&records[half..], &decisions[half..], None)
        .await
        .unwrap();
    assert_eq!(inserted.len(), records.len() - half);
    let mut t = Truth {
        persons: pop.persons.iter().map(|p| (p.id, p.clone())).collect(),
        doses: records
            .iter()
            .zip(&history.doses)
            .map(|(r, dose)| {
                (
                    r.id,
                    (
                        dose.person_id,
                        DoseEvent {
                            date: dose.date,
                            product: dose.product.clone(),
                            additional: false,
                        },
                    ),
                )
            })
            .collect(),
    };

    // Units of every kind: the provinces of both lists, a district, and communes.
    let first = &pop.persons[0];
    let old_commune = first.old_commune_code.clone().expect("demo has old codes");
    let district = all
        .pre2025
        .get(&old_commune)
        .unwrap()
        .parent_code
        .clone()
        .unwrap();
    let mut units = vec![
        CoverageUnit::resolve("12", Some(UnitVersion::V2025)).unwrap(),
        CoverageUnit::resolve("12", Some(UnitVersion::Pre2025)).unwrap(),
        CoverageUnit::resolve(&district, Some(UnitVersion::Pre2025)).unwrap(),
        CoverageUnit::resolve(&old_commune, Some(UnitVersion::Pre2025)).unwrap(),
        CoverageUnit::resolve(&first.commune_code, Some(UnitVersion::V2025)).unwrap(),
    ];
    check(s, &t, &units, "after linking").await;
    let report = store::coverage_report(s, &units[0], d(2026, 1, 1))
        .await
        .unwrap();
    let everyone = report.groups.iter().find(|g| g.age_group == "all").unwrap();
    assert_eq!(everyone.population, 700);
    assert!(
        everyone.at_least_one > 100 && everyone.booster1 > 0,
        "{everyone:?}"
    );

    // Move a vaccinated person to another commune (register update by CCCD).
    let mover = pop
        .persons
        .iter()
        .find(|p| {
            p.national_id.is_some()
                && p.commune_code == first.commune_code
                && t.doses.values().any(|(who, _)| *who == p.id)
        })
        .expect("a vaccinated person with a CCCD in the first commune")
        .clone();
    let target = all
        .v2025
        .communes_under("12")
        .into_iter()
        .find(|c| *c != mover.commune_code)
        .unwrap();
    let entry = RegisterEntry {
        national_id: mover.national_id.clone(),
        national_id_inconsistent: false,
        full_name: mover.full_name.clone(),
        dob: mover.dob,
        sex: mover.sex,
        province_code: "12".into(),
        commune_code: target.clone(),
        old_commune_code: all.old_communes_for_new(&target).first().cloned(),
        phone: mover.phone.clone(),
        household_ref: None,
        external_id: None,
    };
    assert_eq!(
        s.upsert_register(&[entry], &audit("register.import"))
            .await
            .unwrap(),
        (0, 1)
    );
    let moved = s.get_person(mover.id).await.unwrap().unwrap();
    assert_eq!(moved.commune_code, target);
    t.persons.insert(mover.id, moved);
    units.push(CoverageUnit::resolve(&target, Some(UnitVersion::V2025)).unwrap());
    check(s, &t, &units, "after a move").await;

    // Merge two persons of the first commune (one vaccinated), then undo it.
    let duplicate = pop
        .persons
        .iter()
        .find(|p| {
            p.id != mover.id
                && p.commune_code == first.commune_code
                && t.doses.values().any(|(who, _)| *who == p.id)
        })
        .unwrap()
        .clone();
    let kept = pop
        .persons
        .iter()
        .find(|p| {
            p.id != mover.id
                && p.id != duplicate.id
                && p.commune_code == first.commune_code
                && p.dob < d(1990, 1, 1)
                && !t.doses.values().any(|(who, _)| *who == p.id)
        })
        .unwrap()
        .clone();
    let before = t.doses.clone();
    let merge = s
        .merge_persons(kept.id, duplicate.id, "test", &audit("person.merge"))
        .await
        .unwrap();
    t.persons.remove(&duplicate.id);
    for (who, _) in t.doses.values_mut() {
        if *who == duplicate.id {
            *who = kept.id;
        }
    }
    check(s, &t, &units, "after a merge").await;
    s.undo_merge(merge.id, "test", &audit("person.unmerge"))
        .await
        .unwrap();
    t.persons.insert(duplicate.id, duplicate.clone());
    t.doses = before;
    check(s, &t, &units, "after undoing the merge").await;

    // Reject the link of one of the first commune's doses.
    let (&rejected, _) = t
        .doses
        .iter()
        .find(|(_, (who, _))| t.persons[who].commune_code == first.commune_code)
        .unwrap();
    s.apply_link_decisions(
        &[LinkDecision {
            record_id: rejected,
            status: LinkStatus::Unlinked,
            person_id: None,
            probability: None,
            decided_by: "test".into(),
            candidates: None,
        }],
        None,
    )
    .await
    .unwrap();
    t.doses.remove(&rejected);
    check(s, &t, &units, "after rejecting a link").await;

    // The stored figures agree with a recomputation from scratch.
    let r = s.rebuild_coverage(false).await.unwrap();
    assert!(r.consistent(), "{r:?}");
    assert_eq!(r.persons, 700);
    assert!(!r.rewritten);

    // A counter edited behind the application's back: reports read it, the check finds it.
    db.execute_raw(
        "UPDATE coverage_counts SET count = count + 5 \
         WHERE unit_code = '12' AND level = 'population'",
    )
    .await
    .unwrap();
    let tampered = store::coverage_report(s, &units[0], d(2026, 1, 1))
        .await
        .unwrap();
    assert_ne!(tampered, report_at(s, &t, &units[0]).await);
    let r = s.rebuild_coverage(false).await.unwrap();
    assert!(!r.consistent());
    assert!(
        r.counters_differing > 0 && r.person_rows_differing == 0,
        "{r:?}"
    );
    assert!(!r.examples.is_empty());
    // Checking did not repair anything.
    assert!(!s.rebuild_coverage(false).await.unwrap().consistent());
    let r = s.rebuild_coverage(true).await.unwrap();
    assert!(r.rewritten && r.counters_differing > 0);
    assert!(s.rebuild_coverage(false).await.unwrap().consistent());
    check(s, &t, &units, "after the rebuild").await;

    // A person row edited behind the application's back is found too.
    db.execute_raw(&format!(
        "UPDATE person_coverage SET booster2 = NULL, doses = 99 WHERE person_id = '{}'",
        mover.id
    ))
    .await
    .unwrap();
    let r = s.rebuild_coverage(false).await.unwrap();
    assert_eq!(r.person_rows_differing, 1, "{r:?}");
    s.rebuild_coverage(true).await.unwrap();
    assert!(s.rebuild_coverage(false).await.unwrap().consistent());
}

/// The report the truth gives (in the store's shape).
async fn report_at(s: &dyn Store, t: &Truth, unit: &CoverageUnit) -> store::CoverageReport {
    let as_of = d(2026, 1, 1);
    let mut r = store::coverage_report(s, unit, as_of).await.unwrap();
    for (g, (_, n)) in r.groups.iter_mut().zip(brute_force(t, unit, as_of)) {
        g.population = n[0];
        g.at_least_one = n[1];
        g.primary_complete = n[2];
        g.booster1 = n[3];
        g.booster2 = n[4];
    }
    r
}

/// After a bulk load, `refresh_statistics` gives PostgreSQL's planner the tables' real sizes
/// (without it, a server with autovacuum off plans the coverage refresh for empty tables); on
/// SQLite it does nothing and succeeds.
#[tokio::test]
async fn statistics_are_refreshed_after_a_bulk_load() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let pop = testkit::load_demo(s, "12", 300, 5).await;
        s.refresh_statistics().await.unwrap();
        if db.url.starts_with("postgres") {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let (persons,): (f32,) =
                sqlx::query_as("SELECT reltuples FROM pg_class WHERE relname = 'persons'")
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
            assert_eq!(persons as usize, pop.persons.len());
            let analyzed: Vec<(String,)> = sqlx::query_as(
                "SELECT relname::text FROM pg_stat_user_tables \
                 WHERE last_analyze IS NOT NULL ORDER BY 1",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            let analyzed: Vec<&str> = analyzed.iter().map(|(t,)| t.as_str()).collect();
            for table in ["person_coverage", "persons", "source_records"] {
                assert!(
                    analyzed.contains(&table),
                    "{table} not analysed: {analyzed:?}"
                );
            }
            // The coverage tables are vacuumed too (their covering indexes answer alone).
            let (vacuumed,): (bool,) = sqlx::query_as(
                "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables \
                 WHERE relname = 'person_coverage'",
            )
            .fetch_one(&mut c)
            .await
            .unwrap();
            assert!(vacuumed);
            c.close().await.unwrap();
        }
        db.cleanup().await;
    }
}
