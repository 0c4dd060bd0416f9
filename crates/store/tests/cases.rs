//! Contract tests for case surveillance storage — test batches with their linkage, cases and
//! daily counters, case updates and check-ins, the alert queue, daily figures and reports, and
//! the counter rebuild — on SQLite and (with `PHONGDICH_TEST_PG`) PostgreSQL.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::ErrorCode;
use domain::audit::NewAuditEntry;
use domain::person::{Person, Sex};
use domain::surveillance::{
    AlertLevel, CareSetting, CaseStatus, Classification, DetectionSource, Outcome, Severity,
    TestResult, TestType,
};
use store::{
    AuditFilter, Case, CaseChange, CaseQuery, CaseUnits, CheckIn, DailyReport, LabTest,
    LinkDecision, LinkStatus, NewSourceRecord, PersonScope, RecordKind, Store, TestBatch,
};
use testkit::TestDb;
use uuid::Uuid;

fn d(m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, m, dd).unwrap()
}

/// A time on a day of 2021 (whole seconds: stored exactly by both backends).
fn at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    day.and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

fn audit(action: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: at(d(7, 1), 8),
        actor_id: None,
        actor: Some("test".into()),
        action: action.into(),
        entity_type: None,
        entity_id: None,
        unit_code: None,
        ip: None,
        details: serde_json::json!({}),
    }
}

async fn audit_count(s: &dyn Store, action: &str) -> u64 {
    s.list_audit(&AuditFilter {
        action: Some(action.into()),
        limit: 500,
        ..AuditFilter::default()
    })
    .await
    .unwrap()
    .total
}

/// Two communes of Lai Châu (12) with a pre-2025 commune each, and persons living there.
struct Fx {
    c1: String,
    c2: String,
    old1: String,
    old2: String,
    persons: Vec<Person>,
}

async fn seeded(s: &dyn Store) -> Fx {
    let units = domain::units::AdminUnits::embedded();
    let communes = units.v2025.communes_under("12");
    let (c1, c2) = (communes[0].clone(), communes[1].clone());
    let old1 = units.old_communes_for_new(&c1)[0].clone();
    let old2 = units.old_communes_for_new(&c2)[0].clone();
    assert_ne!(old1, old2);
    let person = |i: usize, commune: &str, old: &str| Person {
        id: Uuid::now_v7(),
        province_code: "12".into(),
        commune_code: commune.into(),
        old_commune_code: Some(old.into()),
        household_id: None,
        full_name: format!("Lò Văn {i}"),
        dob: NaiveDate::from_ymd_opt(1960 + i as i32, 3, 4).unwrap(),
        sex: Sex::Male,
        national_id: None,
        phone: None,
    };
    let persons: Vec<Person> = (0..6)
        .map(|i| {
            if i < 4 {
                person(i, &c1, &old1)
            } else {
                person(i, &c2, &old2)
            }
        })
        .collect();
    s.insert_persons(&persons).await.unwrap();
    Fx {
        c1,
        c2,
        old1,
        old2,
        persons,
    }
}

/// One test result of a person, with its record, linkage decision and lab-test row.
struct Result1 {
    record: NewSourceRecord,
    decision: LinkDecision,
    test: LabTest,
}

fn result(
    p: &Person,
    external_id: &str,
    day: NaiveDate,
    test_type: TestType,
    result: TestResult,
    case_id: Option<Uuid>,
) -> Result1 {
    let record = NewSourceRecord {
        id: Uuid::now_v7(),
        kind: RecordKind::Test,
        source: "LAB-12".into(),
        external_id: external_id.into(),
        full_name: p.full_name.clone(),
        dob: p.dob.to_string(),
        sex: p.sex.as_str().into(),
        national_id: String::new(),
        commune_code: p.commune_code.clone(),
        phone: String::new(),
        payload: serde_json::json!({"sample_date": day.to_string(), "result": result.as_str()}),
        batch_id: Uuid::nil(),
    };
    let decision = LinkDecision {
        record_id: record.id,
        status: LinkStatus::Linked,
        person_id: Some(p.id),
        probability: Some(0.99),
        decided_by: "engine".into(),
        candidates: None,
    };
    let test = LabTest {
        id: record.id,
        units: CaseUnits::of_person(p),
        person_id: Some(p.id),
        lab_code: "LAB-12".into(),
        sample_date: day,
        test_type,
        result,
        case_id,
        sample_id: None,
        received_at: at(day, 18),
    };
    Result1 {
        record,
        decision,
        test,
    }
}

/// A case opened by `record` on `day`, cared for at home.
fn new_case(p: &Person, record: Uuid, day: NaiveDate, classification: Classification) -> Case {
    Case {
        id: Uuid::now_v7(),
        units: CaseUnits::of_person(p),
        person_id: Some(p.id),
        source_record_id: record,
        full_name: p.full_name.clone(),
        dob: Some(p.dob),
        sex: p.sex.as_str().into(),
        phone: "0912000000".into(),
        status: CaseStatus::Open,
        classification,
        first_positive: day,
        last_positive: day,
        onset: None,
        detection_source: DetectionSource::Community,
        risk: serde_json::json!({"age": 61, "high_risk": false, "reasons": []}),
        high_risk: false,
        severity: Severity::Mild,
        care_setting: CareSetting::Home,
        on_oxygen: false,
        outcome: None,
        outcome_date: None,
        isolation_end: day + Duration::days(7),
        followup_until: day + Duration::days(365),
        disease_group: "B".into(),
        reported_at: at(day, 18),
        report_deadline: at(day, 18) + Duration::hours(24),
        report_met: true,
        last_checkin_at: None,
        alert: AlertLevel::None,
        alert_reasons: serde_json::json!([]),
        ruleset: "qd-4689-2021".into(),
        cluster_id: None,
        note: String::new(),
        created_at: at(day, 18),
        updated_at: at(day, 18),
    }
}

fn batch(results: &[&Result1], changes: Vec<CaseChange>) -> TestBatch {
    TestBatch {
        records: results.iter().map(|r| r.record.clone()).collect(),
        decisions: results.iter().map(|r| r.decision.clone()).collect(),
        tests: results.iter().map(|r| r.test.clone()).collect(),
        changes,
    }
}

/// Opens a case for a person with one positive RT-PCR test; returns the case as stored.
async fn open_case(s: &dyn Store, p: &Person, external_id: &str, day: NaiveDate) -> Case {
    let mut r = result(
        p,
        external_id,
        day,
        TestType::RtPcr,
        TestResult::Positive,
        None,
    );
    let case = new_case(p, r.record.id, day, Classification::Confirmed);
    r.test.case_id = Some(case.id);
    let out = s
        .insert_test_batch(&batch(&[&r], vec![CaseChange::Open(case.clone())]), None)
        .await
        .unwrap();
    assert_eq!(out.cases_created, 1);
    case
}

fn query(scope: PersonScope) -> CaseQuery {
    CaseQuery {
        scope,
        status: None,
        from: None,
        to: None,
        limit: 50,
        offset: 0,
    }
}

fn ids(cases: &[Case]) -> Vec<Uuid> {
    cases.iter().map(|c| c.id).collect()
}

fn sorted(mut v: Vec<Uuid>) -> Vec<Uuid> {
    v.sort();
    v
}

#[tokio::test]
async fn test_batches_store_records_tests_cases_and_counters_once() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let fx = seeded(s).await;
        let (a, b) = (&fx.persons[0], &fx.persons[4]);

        // Batch 1: A positive RT-PCR (opens a confirmed case), B positive antigen (opens a
        // probable case), A negative the next day (kept with A's case).
        let mut ra = result(
            a,
            "T1",
            d(7, 1),
            TestType::RtPcr,
            TestResult::Positive,
            None,
        );
        let mut rb = result(
            b,
            "T2",
            d(7, 1),
            TestType::RapidAntigen,
            TestResult::Positive,
            None,
        );
        let case_a = new_case(a, ra.record.id, d(7, 1), Classification::Confirmed);
        let case_b = new_case(b, rb.record.id, d(7, 1), Classification::Probable);
        ra.test.case_id = Some(case_a.id);
        rb.test.case_id = Some(case_b.id);
        let ra2 = result(
            a,
            "T3",
            d(7, 2),
            TestType::RtPcr,
            TestResult::Negative,
            Some(case_a.id),
        );
        let first = batch(
            &[&ra, &rb, &ra2],
            vec![
                CaseChange::Open(case_a.clone()),
                CaseChange::Open(case_b.clone()),
            ],
        );
        let out = s
            .insert_test_batch(&first, Some(&audit("test.import")))
            .await
            .unwrap();
        assert_eq!(
            out.inserted,
            vec![ra.record.id, rb.record.id, ra2.record.id],
            "{backend:?}"
        );
        assert_eq!(
            (out.cases_created, out.cases_updated),
            (2, 0),
            "{backend:?}"
        );

        // Records with their decisions, lab tests and cases are stored as given.
        let (record, _) = s.get_source_record(ra.record.id).await.unwrap().unwrap();
        assert_eq!(record.status, LinkStatus::Linked);
        assert_eq!(record.person_id, Some(a.id));
        assert_eq!(record.record.kind, RecordKind::Test);
        for r in [&ra, &rb, &ra2] {
            assert_eq!(
                s.lab_test(r.test.id).await.unwrap().as_ref(),
                Some(&r.test),
                "{backend:?}"
            );
        }
        assert_eq!(s.lab_test(Uuid::now_v7()).await.unwrap(), None);
        assert_eq!(s.case(case_a.id).await.unwrap().as_ref(), Some(&case_a));
        assert_eq!(s.case(case_b.id).await.unwrap().as_ref(), Some(&case_b));
        assert_eq!(s.case(Uuid::now_v7()).await.unwrap(), None);
        assert_eq!(
            s.lab_tests_of_case(case_a.id).await.unwrap(),
            vec![ra.test.clone(), ra2.test.clone()],
            "oldest first"
        );
        assert_eq!(
            s.lab_tests_of_person(a.id).await.unwrap(),
            vec![ra2.test.clone(), ra.test.clone()],
            "newest first"
        );

        // Counters: tests and positives by sample date, new cases by first positive.
        let province = PersonScope::Province("12".into());
        let f1 = s.daily_figures(&province, d(7, 1)).await.unwrap();
        assert_eq!(
            (f1.tests, f1.positive_tests, f1.new_cases, f1.deaths),
            (2, 2, 2, 0),
            "{backend:?}"
        );
        let f2 = s.daily_figures(&province, d(7, 2)).await.unwrap();
        assert_eq!((f2.tests, f2.positive_tests, f2.new_cases), (1, 0, 0));

        // Re-sending the batch inserts nothing and changes nothing.
        let again = s.insert_test_batch(&first, None).await.unwrap();
        assert_eq!(again, store::TestBatchOutcome::default(), "{backend:?}");
        assert_eq!(s.daily_figures(&province, d(7, 1)).await.unwrap(), f1);
        assert_eq!(s.daily_figures(&province, d(7, 2)).await.unwrap(), f2);
        assert_eq!(s.case(case_a.id).await.unwrap().as_ref(), Some(&case_a));

        // Batch 2: further positives of both cases, plus a change whose record is already
        // stored (dropped with its record).
        let rb2 = result(
            b,
            "T4",
            d(7, 2),
            TestType::RapidAntigen,
            TestResult::Positive,
            Some(case_b.id),
        );
        let rb3 = result(
            b,
            "T5",
            d(7, 4),
            TestType::RtPcr,
            TestResult::Positive,
            Some(case_b.id),
        );
        let ra3 = result(
            a,
            "T6",
            d(7, 3),
            TestType::RapidAntigen,
            TestResult::Positive,
            Some(case_a.id),
        );
        let dropped = new_case(a, ra.record.id, d(7, 1), Classification::Confirmed);
        let second = batch(
            &[&rb2, &rb3, &ra3, &ra],
            vec![
                CaseChange::Positive {
                    case_id: case_b.id,
                    record_id: rb2.record.id,
                    sample_date: d(7, 2),
                    test_type: TestType::RapidAntigen,
                },
                CaseChange::Positive {
                    case_id: case_b.id,
                    record_id: rb3.record.id,
                    sample_date: d(7, 4),
                    test_type: TestType::RtPcr,
                },
                CaseChange::Positive {
                    case_id: case_a.id,
                    record_id: ra3.record.id,
                    sample_date: d(7, 3),
                    test_type: TestType::RapidAntigen,
                },
                CaseChange::Positive {
                    case_id: case_a.id,
                    record_id: ra.record.id,
                    sample_date: d(7, 9),
                    test_type: TestType::RtPcr,
                },
                CaseChange::Open(dropped.clone()),
            ],
        );
        let out = s.insert_test_batch(&second, None).await.unwrap();
        assert_eq!(
            out.inserted,
            vec![rb2.record.id, rb3.record.id, ra3.record.id],
            "{backend:?}"
        );
        assert_eq!(
            (out.cases_created, out.cases_updated),
            (0, 3),
            "{backend:?}"
        );
        assert_eq!(s.case(dropped.id).await.unwrap(), None, "{backend:?}");
        let b_now = s.case(case_b.id).await.unwrap().unwrap();
        assert_eq!(b_now.last_positive, d(7, 4));
        assert_eq!(
            b_now.classification,
            Classification::Confirmed,
            "RT-PCR confirms"
        );
        assert_eq!(b_now.first_positive, d(7, 1));
        let a_now = s.case(case_a.id).await.unwrap().unwrap();
        assert_eq!(a_now.last_positive, d(7, 3), "dropped change ignored");
        let f2 = s.daily_figures(&province, d(7, 2)).await.unwrap();
        assert_eq!((f2.tests, f2.positive_tests, f2.new_cases), (2, 1, 0));

        // An antigen positive does not confirm a probable case; an earlier date keeps the latest.
        let c = &fx.persons[5];
        let mut rc = result(
            c,
            "T7",
            d(7, 5),
            TestType::RapidAntigen,
            TestResult::Positive,
            None,
        );
        let case_c = new_case(c, rc.record.id, d(7, 5), Classification::Probable);
        rc.test.case_id = Some(case_c.id);
        s.insert_test_batch(&batch(&[&rc], vec![CaseChange::Open(case_c.clone())]), None)
            .await
            .unwrap();
        let rc2 = result(
            c,
            "T8",
            d(7, 4),
            TestType::RapidAntigen,
            TestResult::Positive,
            Some(case_c.id),
        );
        let out = s
            .insert_test_batch(
                &batch(
                    &[&rc2],
                    vec![CaseChange::Positive {
                        case_id: case_c.id,
                        record_id: rc2.record.id,
                        sample_date: d(7, 4),
                        test_type: TestType::RapidAntigen,
                    }],
                ),
                None,
            )
            .await
            .unwrap();
        assert_eq!(out.cases_updated, 1);
        let c_now = s.case(case_c.id).await.unwrap().unwrap();
        assert_eq!(c_now.classification, Classification::Probable);
        assert_eq!(c_now.last_positive, d(7, 5));

        // Latest case per person: A is reinfected later.
        let case_a2 = open_case(s, a, "T9", d(10, 1)).await;
        let latest = s
            .latest_cases_of_persons(&[a.id, b.id, fx.persons[1].id, a.id])
            .await
            .unwrap();
        assert_eq!(
            sorted(ids(&latest)),
            sorted(vec![case_a2.id, case_b.id]),
            "{backend:?}"
        );
        assert_eq!(
            ids(&s.cases_of_person(a.id).await.unwrap()),
            vec![case_a2.id, case_a.id]
        );
        assert!(s.latest_cases_of_persons(&[]).await.unwrap().is_empty());

        // A batch without a test record (an empty one) does nothing.
        let out = s
            .insert_test_batch(&TestBatch::default(), None)
            .await
            .unwrap();
        assert_eq!(out, store::TestBatchOutcome::default());

        assert_eq!(audit_count(s, "test.import").await, 1, "{backend:?}");
        assert_eq!(
            s.rebuild_daily_counters(false).await.unwrap(),
            0,
            "{backend:?}"
        );
        assert!(store::verify_audit(s).await.unwrap().is_ok());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_bad_decision_fails_the_whole_batch() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let fx = seeded(s).await;
        let a = &fx.persons[0];
        let mut r = result(
            a,
            "T1",
            d(7, 1),
            TestType::RtPcr,
            TestResult::Positive,
            None,
        );
        let case = new_case(a, r.record.id, d(7, 1), Classification::Confirmed);
        r.test.case_id = Some(case.id);
        r.decision.person_id = Some(Uuid::now_v7());
        let err = s
            .insert_test_batch(&batch(&[&r], vec![CaseChange::Open(case.clone())]), None)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput, "{:?}", s.backend());
        assert!(s.get_source_record(r.record.id).await.unwrap().is_none());
        assert!(s.case(case.id).await.unwrap().is_none());
        assert_eq!(s.rebuild_daily_counters(false).await.unwrap(), 0);
        let f = s.daily_figures(&PersonScope::All, d(7, 1)).await.unwrap();
        assert_eq!(f.tests, 0);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn cases_are_listed_by_scope_status_and_dates() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let fx = seeded(s).await;
        let p = &fx.persons;
        // c1: persons 0..4 on 1, 2, 3, 4 July; c2: persons 4, 5 on 2, 5 July.
        let mut c1_cases = Vec::new();
        for (i, person) in p[..4].iter().enumerate() {
            c1_cases.push(open_case(s, person, &format!("L{i}"), d(7, 1 + i as u32)).await);
        }
        let c2a = open_case(s, &p[4], "L4", d(7, 2)).await;
        let c2b = open_case(s, &p[5], "L5", d(7, 5)).await;
        // Close one case of c1.
        let mut closed = c1_cases[1].clone();
        closed.status = CaseStatus::Closed;
        closed.outcome = Some(Outcome::Recovered);
        closed.outcome_date = Some(d(7, 12));
        s.update_case(&closed, &audit("case.update")).await.unwrap();

        let all = s
            .list_cases(&query(PersonScope::Province("12".into())))
            .await
            .unwrap();
        assert_eq!(all.total, 6, "{backend:?}");
        let days: Vec<NaiveDate> = all.items.iter().map(|c| c.first_positive).collect();
        assert_eq!(
            days,
            [d(7, 5), d(7, 4), d(7, 3), d(7, 2), d(7, 2), d(7, 1)],
            "newest first"
        );
        // Same day: by id, descending.
        assert!(all.items[3].id > all.items[4].id);
        assert_eq!(
            s.list_cases(&query(PersonScope::Province("01".into())))
                .await
                .unwrap()
                .total,
            0
        );

        let c1 = s
            .list_cases(&query(PersonScope::Communes(vec![fx.c1.clone()])))
            .await
            .unwrap();
        assert_eq!(
            sorted(ids(&c1.items)),
            sorted(ids(&c1_cases)),
            "{backend:?}"
        );
        let old2 = s
            .list_cases(&query(PersonScope::OldCommunes(vec![fx.old2.clone()])))
            .await
            .unwrap();
        assert_eq!(ids(&old2.items), vec![c2b.id, c2a.id]);
        let both = s
            .list_cases(&query(PersonScope::OldCommunes(vec![
                fx.old1.clone(),
                fx.old2.clone(),
            ])))
            .await
            .unwrap();
        assert_eq!(both.total, 6);
        assert_eq!(
            s.list_cases(&query(PersonScope::Communes(vec![])))
                .await
                .unwrap()
                .total,
            0
        );

        let mut q = query(PersonScope::Communes(vec![fx.c1.clone(), fx.c2.clone()]));
        q.status = Some(CaseStatus::Closed);
        let page = s.list_cases(&q).await.unwrap();
        assert_eq!(ids(&page.items), vec![closed.id], "{backend:?}");
        assert_eq!(page.items[0].outcome, Some(Outcome::Recovered));
        q.status = Some(CaseStatus::Open);
        assert_eq!(s.list_cases(&q).await.unwrap().total, 5);

        // Date range (inclusive) with paging.
        let mut q = query(PersonScope::Province("12".into()));
        q.from = Some(d(7, 2));
        q.to = Some(d(7, 4));
        q.limit = 2;
        let page1 = s.list_cases(&q).await.unwrap();
        assert_eq!(page1.total, 4, "{backend:?}");
        assert_eq!(page1.items.len(), 2);
        assert_eq!(page1.items[0].first_positive, d(7, 4));
        q.offset = 2;
        let page2 = s.list_cases(&q).await.unwrap();
        assert_eq!(page2.total, 4);
        assert_eq!(page2.items.len(), 2);
        assert!(page2.items.iter().all(|c| c.first_positive == d(7, 2)));
        q.offset = 4;
        assert!(s.list_cases(&q).await.unwrap().items.is_empty());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn case_updates_move_the_daily_counters() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let fx = seeded(s).await;
        let case = open_case(s, &fx.persons[0], "U1", d(7, 1)).await;
        let c1 = PersonScope::Communes(vec![fx.c1.clone()]);
        let c2 = PersonScope::Communes(vec![fx.c2.clone()]);

        // Died on 9 July.
        let mut died = case.clone();
        died.status = CaseStatus::Closed;
        died.outcome = Some(Outcome::Died);
        died.outcome_date = Some(d(7, 9));
        died.severity = Severity::Critical;
        died.note = "Tử vong tại bệnh viện tỉnh".into();
        died.updated_at = at(d(7, 9), 10);
        s.update_case(&died, &audit("case.update")).await.unwrap();
        assert_eq!(s.case(case.id).await.unwrap().as_ref(), Some(&died));
        assert_eq!(s.daily_figures(&c1, d(7, 9)).await.unwrap().deaths, 1);
        assert_eq!(s.rebuild_daily_counters(false).await.unwrap(), 0);

        // Corrected: recovered on 10 July — the death goes away.
        let mut recovered = died.clone();
        recovered.outcome = Some(Outcome::Recovered);
        recovered.outcome_date = Some(d(7, 10));
        s.update_case(&recovered, &audit("case.update"))
            .await
            .unwrap();
        let f9 = s.daily_figures(&c1, d(7, 9)).await.unwrap();
        let f10 = s.daily_figures(&c1, d(7, 10)).await.unwrap();
        assert_eq!(
            (f9.deaths, f10.deaths, f10.recoveries),
            (0, 0, 1),
            "{backend:?}"
        );

        // The case moves to the other commune: its counters follow.
        let mut moved = recovered.clone();
        moved.units = CaseUnits::of_person(&fx.persons[4]);
        s.update_case(&moved, &audit("case.update")).await.unwrap();
        assert_eq!(s.daily_figures(&c1, d(7, 1)).await.unwrap().new_cases, 0);
        assert_eq!(s.daily_figures(&c1, d(7, 1)).await.unwrap().tests, 1);
        assert_eq!(s.daily_figures(&c2, d(7, 1)).await.unwrap().new_cases, 1);
        assert_eq!(s.daily_figures(&c1, d(7, 10)).await.unwrap().recoveries, 0);
        assert_eq!(s.daily_figures(&c2, d(7, 10)).await.unwrap().recoveries, 1);

        // Discarded cases are not counted.
        let mut discarded = moved.clone();
        discarded.classification = Classification::Discarded;
        s.update_case(&discarded, &audit("case.update"))
            .await
            .unwrap();
        assert_eq!(s.daily_figures(&c2, d(7, 1)).await.unwrap().new_cases, 0);
        assert_eq!(s.daily_figures(&c2, d(7, 10)).await.unwrap().recoveries, 0);
        assert_eq!(
            s.rebuild_daily_counters(false).await.unwrap(),
            0,
            "{backend:?}"
        );

        // Unknown case: not found, nothing written.
        let mut unknown = case.clone();
        unknown.id = Uuid::now_v7();
        let err = s
            .update_case(&unknown, &audit("case.update"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound, "{backend:?}");
        assert_eq!(audit_count(s, "case.update").await, 4, "{backend:?}");
        db.cleanup().await;
    }
}

fn checkin(case: &Case, when: DateTime<Utc>, alert: AlertLevel) -> CheckIn {
    CheckIn {
        id: Uuid::now_v7(),
        case_id: case.id,
        province_code: case.units.province_code.clone(),
        at: when,
        by: "citizen".into(),
        vitals: serde_json::json!({"spo2": 97, "temperature": 37.2}),
        assessment: serde_json::json!({"escalate": false, "reasons": []}),
        escalate: false,
        severity: Severity::Mild,
        alert,
    }
}

#[tokio::test]
async fn checkins_and_the_alert_queue() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let fx = seeded(s).await;
        let p = &fx.persons;
        let now = at(d(7, 10), 12);
        let stale_before = now - Duration::hours(24);
        // Cases reported on 9 July (fresh) unless said otherwise.
        let fresh = open_case(s, &p[0], "A0", d(7, 9)).await;
        let warning = open_case(s, &p[1], "A1", d(7, 9)).await;
        let never_checked = open_case(s, &p[2], "A2", d(7, 1)).await;
        let stale_checkin = open_case(s, &p[3], "A3", d(7, 1)).await;
        let closed = open_case(s, &p[4], "A4", d(7, 9)).await;
        let tier2 = open_case(s, &p[5], "A5", d(7, 1)).await;

        // Fresh: checked in twice, recently.
        for (hour, alert) in [(8, AlertLevel::None), (9, AlertLevel::None)] {
            let mut case = s.case(fresh.id).await.unwrap().unwrap();
            let c = checkin(&case, at(d(7, 10), hour), alert);
            case.last_checkin_at = Some(c.at);
            case.updated_at = c.at;
            s.add_checkin(&c, &case, &audit("case.checkin"))
                .await
                .unwrap();
        }
        let list = s.checkins(fresh.id, 10).await.unwrap();
        assert_eq!(list.len(), 2, "{backend:?}");
        assert_eq!(list[0].at, at(d(7, 10), 9), "newest first");
        assert_eq!(list[1].at, at(d(7, 10), 8));
        assert_eq!(list[0].vitals["spo2"], 97);
        assert_eq!(list[0].by, "citizen");
        assert_eq!(s.checkins(fresh.id, 1).await.unwrap().len(), 1);
        assert_eq!(
            s.case(fresh.id).await.unwrap().unwrap().last_checkin_at,
            Some(at(d(7, 10), 9))
        );

        // Warning: a recent check-in with a warning sign.
        let mut case = warning.clone();
        let mut c = checkin(&case, at(d(7, 10), 10), AlertLevel::Warning);
        c.severity = Severity::Moderate;
        c.escalate = true;
        case.last_checkin_at = Some(c.at);
        case.alert = AlertLevel::Warning;
        case.severity = Severity::Moderate;
        case.on_oxygen = true;
        case.alert_reasons = serde_json::json!([{"code": "spo2_low", "value": 94}]);
        s.add_checkin(&c, &case, &audit("case.checkin"))
            .await
            .unwrap();
        assert_eq!(s.case(warning.id).await.unwrap().as_ref(), Some(&case));
        assert_eq!(s.checkins(warning.id, 5).await.unwrap(), vec![c.clone()]);

        // Stale: last check-in two days ago.
        let mut case = stale_checkin.clone();
        let c = checkin(&case, at(d(7, 8), 9), AlertLevel::None);
        case.last_checkin_at = Some(c.at);
        s.add_checkin(&c, &case, &audit("case.checkin"))
            .await
            .unwrap();

        // Closed with a warning left over, and a tier-2 case in an emergency: not in the queue.
        let mut case = closed.clone();
        case.status = CaseStatus::Closed;
        case.alert = AlertLevel::Warning;
        s.update_case(&case, &audit("case.update")).await.unwrap();
        let mut case = tier2.clone();
        case.care_setting = CareSetting::Tier2;
        case.alert = AlertLevel::Emergency;
        case.severity = Severity::Severe;
        s.update_case(&case, &audit("case.update")).await.unwrap();

        // A check-in of another case, or of an unknown case, is refused.
        let err = s
            .add_checkin(
                &checkin(&fresh, now, AlertLevel::None),
                &warning,
                &audit("case.checkin"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        let mut ghost = fresh.clone();
        ghost.id = Uuid::now_v7();
        let err = s
            .add_checkin(
                &checkin(&ghost, now, AlertLevel::None),
                &ghost,
                &audit("case.checkin"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound, "{backend:?}");
        assert!(s.checkins(ghost.id, 5).await.unwrap().is_empty());

        let expected = sorted(vec![warning.id, never_checked.id, stale_checkin.id]);
        for scope in [
            PersonScope::Communes(vec![fx.c1.clone()]),
            PersonScope::Communes(vec![fx.c1.clone(), fx.c2.clone()]),
            PersonScope::OldCommunes(vec![fx.old1.clone()]),
            PersonScope::Province("12".into()),
            PersonScope::All,
        ] {
            let got = s.alert_candidates(&scope, stale_before, 100).await.unwrap();
            let full = s
                .cases_by_ids(&got.iter().map(|c| c.id).collect::<Vec<_>>())
                .await
                .unwrap();
            assert!(
                full.iter().all(|c| c.units.within(&scope)),
                "{backend:?} {scope:?}"
            );
            assert!(
                !full
                    .iter()
                    .any(|c| c.units.within(&PersonScope::Communes(vec![fx.c2.clone()]))),
                "{backend:?}"
            );
            assert_eq!(
                sorted(got.iter().map(|c| c.id).collect()),
                expected,
                "{backend:?} {scope:?}"
            );
        }
        // A candidate carries the case's ranking columns, as stored.
        let got = s
            .alert_candidates(&PersonScope::All, stale_before, 100)
            .await
            .unwrap();
        for c in &got {
            let case = s.case(c.id).await.unwrap().unwrap();
            assert_eq!(
                (
                    c.alert,
                    c.high_risk,
                    c.dob,
                    c.first_positive,
                    c.last_checkin_at,
                    c.reported_at
                ),
                (
                    case.alert,
                    case.high_risk,
                    case.dob,
                    case.first_positive,
                    case.last_checkin_at,
                    case.reported_at
                ),
                "{backend:?}"
            );
            let expected_risk = if case.dob.is_none_or(|d| d > case.first_positive) {
                case.risk.clone()
            } else {
                serde_json::Value::Null
            };
            assert_eq!(c.risk, expected_risk, "{backend:?}");
        }
        let warning_candidate = got.iter().find(|c| c.id == warning.id).unwrap();
        assert_eq!(warning_candidate.alert, AlertLevel::Warning);
        assert_eq!(
            warning_candidate.last_checkin_at,
            Some(at(d(7, 10), 10)),
            "{backend:?}"
        );
        // The full rows of the shown page, by id (unknown ids left out, duplicates once).
        let wanted = [warning.id, stale_checkin.id, Uuid::now_v7(), warning.id];
        let full = s.cases_by_ids(&wanted).await.unwrap();
        assert_eq!(
            sorted(ids(&full)),
            sorted(vec![warning.id, stale_checkin.id]),
            "{backend:?}"
        );
        assert_eq!(
            full.iter().find(|c| c.id == warning.id),
            s.case(warning.id).await.unwrap().as_ref()
        );
        assert!(s.cases_by_ids(&[]).await.unwrap().is_empty());
        let c2 = PersonScope::Communes(vec![fx.c2.clone()]);
        assert!(
            s.alert_candidates(&c2, stale_before, 100)
                .await
                .unwrap()
                .is_empty()
        );
        let one = PersonScope::Communes(vec![fx.c1.clone()]);
        assert_eq!(
            s.alert_candidates(&one, stale_before, 1)
                .await
                .unwrap()
                .len(),
            1
        );

        // Current-state counts of the day's figures.
        let f = s
            .daily_figures(&PersonScope::Province("12".into()), d(7, 9))
            .await
            .unwrap();
        assert_eq!(
            (f.tests, f.positive_tests, f.new_cases),
            (3, 3, 3),
            "{backend:?}"
        );
        let count = |v: &[(String, i64)], code: &str| {
            v.iter()
                .find(|(c, _)| c == code)
                .map(|(_, n)| *n)
                .unwrap_or(-1)
        };
        assert_eq!(count(&f.open_by_severity, "mild"), 3, "{backend:?}");
        assert_eq!(count(&f.open_by_severity, "moderate"), 1);
        assert_eq!(count(&f.open_by_severity, "severe"), 1);
        assert_eq!(count(&f.open_by_severity, "critical"), 0);
        assert_eq!(count(&f.open_by_care_setting, "home"), 4);
        assert_eq!(count(&f.open_by_care_setting, "tier2"), 1);
        assert_eq!(f.open_by_severity.len(), Severity::ALL.len());
        assert_eq!(f.open_home_care, 4);
        assert_eq!(f.on_oxygen, 1);
        assert_eq!(f.alerts, 2, "warning and emergency");
        let f = s.daily_figures(&one, d(7, 9)).await.unwrap();
        assert_eq!((f.new_cases, f.open_home_care, f.alerts), (2, 4, 1));

        assert_eq!(audit_count(s, "case.checkin").await, 4, "{backend:?}");
        assert_eq!(s.rebuild_daily_counters(false).await.unwrap(), 0);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn daily_figures_sum_the_communes_of_the_scope() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let fx = seeded(s).await;
        let p = &fx.persons;
        let day = d(8, 1);
        // c1: 2 positives and 1 negative; c2: 1 positive, 2 inconclusive.
        open_case(s, &p[0], "F0", day).await;
        open_case(s, &p[1], "F1", day).await;
        open_case(s, &p[4], "F4", day).await;
        let others = [
            result(
                &p[2],
                "F2",
                day,
                TestType::RtPcr,
                TestResult::Negative,
                None,
            ),
            result(
                &p[5],
                "F5",
                day,
                TestType::RtPcr,
                TestResult::Inconclusive,
                None,
            ),
            result(
                &p[5],
                "F6",
                day,
                TestType::RapidAntigen,
                TestResult::Inconclusive,
                None,
            ),
            result(
                &p[3],
                "F7",
                d(8, 2),
                TestType::RtPcr,
                TestResult::Negative,
                None,
            ),
        ];
        s.insert_test_batch(&batch(&others.iter().collect::<Vec<_>>(), vec![]), None)
            .await
            .unwrap();
        let figures = |f: store::DailyFigures| (f.tests, f.positive_tests, f.new_cases);
        let c1 = PersonScope::Communes(vec![fx.c1.clone()]);
        let c2 = PersonScope::Communes(vec![fx.c2.clone()]);
        assert_eq!(
            figures(s.daily_figures(&c1, day).await.unwrap()),
            (3, 2, 2),
            "{backend:?}"
        );
        assert_eq!(figures(s.daily_figures(&c2, day).await.unwrap()), (3, 1, 1));
        for scope in [
            PersonScope::Communes(vec![fx.c1.clone(), fx.c2.clone()]),
            PersonScope::OldCommunes(vec![fx.old1.clone(), fx.old2.clone()]),
            PersonScope::Province("12".into()),
            PersonScope::All,
        ] {
            assert_eq!(
                figures(s.daily_figures(&scope, day).await.unwrap()),
                (6, 3, 3),
                "{backend:?} {scope:?}"
            );
        }
        let old1 = PersonScope::OldCommunes(vec![fx.old1.clone()]);
        assert_eq!(
            figures(s.daily_figures(&old1, day).await.unwrap()),
            (3, 2, 2)
        );
        assert_eq!(
            figures(s.daily_figures(&old1, d(8, 2)).await.unwrap()),
            (1, 0, 0)
        );
        let none = s
            .daily_figures(&PersonScope::Province("01".into()), day)
            .await
            .unwrap();
        assert_eq!(figures(none.clone()), (0, 0, 0));
        assert_eq!(none.day, day);
        assert_eq!(none.open_home_care, 0);
        assert!(none.open_by_severity.iter().all(|(_, n)| *n == 0));
        db.cleanup().await;
    }
}

fn report(unit: &str, hierarchy: &str, day: NaiveDate, cases: i64) -> DailyReport {
    DailyReport {
        unit_code: unit.into(),
        hierarchy: hierarchy.into(),
        day,
        figures: serde_json::json!({"new_cases": cases, "deaths": 0}),
        submitted_by: "tyt".into(),
        submitted_at: at(day, 17),
    }
}

#[tokio::test]
async fn daily_reports_are_replaced_and_filtered_by_unit() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let fx = seeded(s).await;
        let day = d(8, 1);
        s.submit_daily_report(&report(&fx.c1, "2025", day, 3), &audit("report.submit"))
            .await
            .unwrap();
        let mut corrected = report(&fx.c1, "2025", day, 4);
        corrected.submitted_by = "tyt2".into();
        corrected.submitted_at = at(day, 19);
        s.submit_daily_report(&corrected, &audit("report.submit"))
            .await
            .unwrap();
        let c2 = report(&fx.c2, "2025", day, 1);
        s.submit_daily_report(&c2, &audit("report.submit"))
            .await
            .unwrap();
        let district = report("105", "pre2025", day, 7);
        s.submit_daily_report(&district, &audit("report.submit"))
            .await
            .unwrap();
        s.submit_daily_report(&report(&fx.c1, "2025", d(8, 2), 9), &audit("report.submit"))
            .await
            .unwrap();

        let mut all = s.daily_reports(day, None).await.unwrap();
        all.sort_by(|a, b| a.unit_code.cmp(&b.unit_code));
        let mut expected = vec![corrected.clone(), c2.clone(), district.clone()];
        expected.sort_by(|a, b| a.unit_code.cmp(&b.unit_code));
        assert_eq!(all, expected, "{backend:?}");
        assert_eq!(
            s.daily_reports(day, Some(std::slice::from_ref(&fx.c1)))
                .await
                .unwrap(),
            vec![corrected.clone()]
        );
        assert_eq!(
            s.daily_reports(day, Some(&["105".to_string(), "999".to_string()]))
                .await
                .unwrap(),
            vec![district.clone()]
        );
        assert!(s.daily_reports(day, Some(&[])).await.unwrap().is_empty());
        assert!(s.daily_reports(d(8, 3), None).await.unwrap().is_empty());

        let err = s
            .submit_daily_report(&report(&fx.c1, "v2025", day, 1), &audit("report.submit"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert_eq!(audit_count(s, "report.submit").await, 5, "{backend:?}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn counter_rebuild_finds_and_repairs_drift() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let fx = seeded(s).await;
        let p = &fx.persons;
        for (i, person) in p.iter().enumerate() {
            open_case(s, person, &format!("R{i}"), d(9, 1 + (i % 3) as u32)).await;
        }
        let neg = result(
            &p[0],
            "R-neg",
            d(9, 2),
            TestType::RtPcr,
            TestResult::Negative,
            None,
        );
        s.insert_test_batch(&batch(&[&neg], vec![]), None)
            .await
            .unwrap();
        let province = PersonScope::Province("12".into());
        let before = s.daily_figures(&province, d(9, 2)).await.unwrap();
        assert_eq!(
            s.rebuild_daily_counters(false).await.unwrap(),
            0,
            "{backend:?}"
        );
        assert_eq!(s.rebuild_daily_counters(true).await.unwrap(), 0);

        // Tamper: one row inflated, one row deleted, one spurious row added.
        db.execute_raw(&format!(
            "UPDATE surveillance_daily SET tests = tests + 5 \
             WHERE commune_code = '{}' AND day = '2021-09-02'",
            fx.c1
        ))
        .await
        .unwrap();
        db.execute_raw(&format!(
            "DELETE FROM surveillance_daily WHERE commune_code = '{}' AND day = '2021-09-02'",
            fx.c2
        ))
        .await
        .unwrap();
        db.execute_raw(
            "INSERT INTO surveillance_daily (province_code, commune_code, old_commune_code, day, \
             tests, positive_tests, new_cases, deaths, recoveries) \
             VALUES ('12', 'x', '', '2021-09-05', 0, 0, 0, 1, 0)",
        )
        .await
        .unwrap();
        assert_ne!(s.daily_figures(&province, d(9, 2)).await.unwrap(), before);
        assert_eq!(
            s.rebuild_daily_counters(false).await.unwrap(),
            3,
            "{backend:?}"
        );
        assert_eq!(
            s.rebuild_daily_counters(false).await.unwrap(),
            3,
            "read-only"
        );
        assert_eq!(s.rebuild_daily_counters(true).await.unwrap(), 3);
        assert_eq!(s.rebuild_daily_counters(false).await.unwrap(), 0);
        assert_eq!(s.daily_figures(&province, d(9, 2)).await.unwrap(), before);
        assert_eq!(s.daily_figures(&province, d(9, 5)).await.unwrap().deaths, 0);
        // Counting goes on from the repaired rows.
        open_case(s, &p[0], "R-late", d(9, 2)).await;
        assert_eq!(
            s.daily_figures(&province, d(9, 2)).await.unwrap().new_cases,
            before.new_cases + 1
        );
        assert_eq!(s.rebuild_daily_counters(false).await.unwrap(), 0);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn daily_case_series_has_new_and_imported_cases_per_day_of_the_scope() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let fx = seeded(s).await;
        let p = &fx.persons;
        // c1: two cases on 1/8 (one imported), one on 3/8 imported then discarded, one before
        // the range; c2: one imported case on 3/8.
        open_case(s, &p[0], "S0", d(8, 1)).await;
        let imported = open_case(s, &p[1], "S1", d(8, 1)).await;
        let discarded = open_case(s, &p[2], "S2", d(8, 3)).await;
        open_case(s, &p[3], "S3", d(7, 20)).await;
        let neighbour = open_case(s, &p[4], "S4", d(8, 3)).await;
        for (case, classification) in [
            (imported, Classification::Confirmed),
            (discarded, Classification::Discarded),
            (neighbour, Classification::Confirmed),
        ] {
            let mut c = case.clone();
            c.detection_source = DetectionSource::Imported;
            c.classification = classification;
            s.update_case(&c, &audit("case.update")).await.unwrap();
        }
        let (from, to) = (d(7, 31), d(8, 4));
        let series = |scope: PersonScope| async move {
            let r = s.daily_case_series(&scope, from, to).await.unwrap();
            assert_eq!((r.from, r.to), (from, to));
            assert_eq!(r.new_cases.len(), 5);
            assert_eq!(r.imported.len(), 5);
            (r.new_cases, r.imported)
        };
        assert_eq!(
            series(PersonScope::Communes(vec![fx.c1.clone()])).await,
            (vec![0, 2, 0, 0, 0], vec![0, 1, 0, 0, 0]),
            "{backend:?}"
        );
        for scope in [
            PersonScope::Province("12".into()),
            PersonScope::Communes(vec![fx.c1.clone(), fx.c2.clone()]),
            PersonScope::OldCommunes(vec![fx.old1.clone(), fx.old2.clone()]),
            PersonScope::All,
        ] {
            assert_eq!(
                series(scope.clone()).await,
                (vec![0, 2, 0, 1, 0], vec![0, 1, 0, 1, 0]),
                "{backend:?} {scope:?}"
            );
        }
        assert_eq!(
            series(PersonScope::OldCommunes(vec![fx.old2.clone()])).await,
            (vec![0, 0, 0, 1, 0], vec![0, 0, 0, 1, 0])
        );
        assert_eq!(
            series(PersonScope::Province("01".into())).await,
            (vec![0; 5], vec![0; 5])
        );
        // The case before the range is there when the range starts earlier; one day works.
        let one = s
            .daily_case_series(&PersonScope::Province("12".into()), d(7, 20), d(7, 20))
            .await
            .unwrap();
        assert_eq!((one.new_cases, one.imported), (vec![1], vec![0]));
        let err = s
            .daily_case_series(&PersonScope::Province("12".into()), to, from)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        db.cleanup().await;
    }
}
