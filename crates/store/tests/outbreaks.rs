//! Contract tests for the outbreak-response storage — contacts and their follow-up, clusters and
//! the cases put into them, sampling sessions with pooled samples and the lab queue, entry
//! declarations and border counts — on SQLite and (with `PHONGDICH_TEST_PG`) PostgreSQL.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::ErrorCode;
use domain::audit::NewAuditEntry;
use domain::person::{Person, Sex};
use domain::surveillance::{
    AlertLevel, CareSetting, CaseStatus, Classification, DetectionSource, Severity, TestResult,
    TestType,
};
use store::{
    BorderCount, Case, CaseChange, CaseUnits, Cluster, Contact, ContactStatus, EntryDeclaration,
    LabTest, NewSourceRecord, PersonScope, RecordKind, Sample, SampleMember, SampleSession,
    SampleStatus, Sequencing, Store, TestBatch, Zoning,
};
use testkit::TestDb;
use uuid::Uuid;

fn at(hours: i64) -> DateTime<Utc> {
    // 2021-07-01T00:00:00Z
    DateTime::from_timestamp(1_625_097_600, 0).unwrap() + Duration::hours(hours)
}

fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, 7, 1).unwrap() + Duration::days(n)
}

fn audit(action: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: at(0),
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

/// Number of audit entries with this action.
async fn audited(s: &dyn Store, action: &str) -> usize {
    let (entries, _) = s.audit_chain().await.unwrap();
    entries.iter().filter(|e| e.entry.action == action).count()
}

fn units(province: &str, commune: &str, old_commune: Option<&str>) -> CaseUnits {
    CaseUnits {
        province_code: province.into(),
        commune_code: commune.into(),
        old_commune_code: old_commune.map(Into::into),
        old_district_code: old_commune.map(|c| format!("d{c}")),
        old_province_code: old_commune.map(|_| province.to_string()),
    }
}

fn ids<T>(items: &[T], id: fn(&T) -> Uuid) -> Vec<Uuid> {
    items.iter().map(id).collect()
}

async fn person(s: &dyn Store, name: &str) -> Uuid {
    let commune = domain::units::AdminUnits::embedded()
        .v2025
        .communes_under("12")[0]
        .clone();
    let p = Person {
        id: Uuid::now_v7(),
        province_code: "12".into(),
        commune_code: commune,
        old_commune_code: None,
        household_id: None,
        full_name: name.into(),
        dob: NaiveDate::from_ymd_opt(1985, 3, 4).unwrap(),
        sex: Sex::Male,
        national_id: None,
        phone: None,
    };
    s.insert_persons(std::slice::from_ref(&p)).await.unwrap();
    p.id
}

fn contact(case_id: Uuid, units: CaseUnits, exposure: i64, created: i64) -> Contact {
    Contact {
        id: Uuid::now_v7(),
        case_id,
        units,
        person_id: None,
        full_name: "Trần Văn Bình".into(),
        phone: "0912345678".into(),
        national_id: String::new(),
        relation: "household".into(),
        last_exposure: day(exposure),
        quarantine_until: Some(day(exposure + 7)),
        quarantine_place: "home".into(),
        status: ContactStatus::Monitoring,
        became_case_id: None,
        note: String::new(),
        created_at: at(created),
        updated_at: at(created),
    }
}

#[tokio::test]
async fn contacts_are_saved_updated_and_listed_by_case_person_and_scope() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let (p1, p2) = (
            person(s, "Trần Văn Bình").await,
            person(s, "Lê Thị Hoa").await,
        );
        let (case_a, case_b) = (Uuid::now_v7(), Uuid::now_v7());

        let mut c1 = contact(case_a, units("12", "C1", Some("O1")), 1, 1);
        c1.person_id = Some(p1);
        c1.national_id = "012085000123".into();
        let c2 = contact(case_a, units("12", "C2", Some("O2")), 3, 2);
        let mut c3 = contact(case_b, units("14", "C3", Some("O1")), 2, 3);
        c3.person_id = Some(p1);
        c3.status = ContactStatus::Released;
        c3.quarantine_until = None;
        c3.quarantine_place = "none".into();
        let mut c4 = contact(case_b, units("12", "C1", None), 5, 4);
        c4.person_id = Some(p2);
        c4.relation = "work".into();
        // Saved out of creation order: lists order by the stored columns, not by insertion.
        for c in [&c4, &c2, &c3, &c1] {
            s.save_contact(c, &audit("contact.save")).await.unwrap();
        }
        assert_eq!(s.contact(c1.id).await.unwrap().as_ref(), Some(&c1));
        assert_eq!(s.contact(c4.id).await.unwrap().as_ref(), Some(&c4));
        assert_eq!(s.contact(Uuid::now_v7()).await.unwrap(), None);

        // An update changes everything but the creation time.
        let mut updated = c1.clone();
        updated.status = ContactStatus::BecameCase;
        updated.became_case_id = Some(Uuid::now_v7());
        updated.quarantine_until = Some(day(20));
        updated.quarantine_place = "facility".into();
        updated.note = "Dương tính ngày 5".into();
        updated.phone = "0987654321".into();
        updated.updated_at = at(50);
        updated.created_at = at(40);
        s.save_contact(&updated, &audit("contact.save"))
            .await
            .unwrap();
        c1 = Contact {
            created_at: c1.created_at,
            ..updated
        };
        assert_eq!(
            s.contact(c1.id).await.unwrap().as_ref(),
            Some(&c1),
            "{backend:?}"
        );

        // By case, oldest first.
        let of_a = s.contacts_of_case(case_a).await.unwrap();
        assert_eq!(of_a, vec![c1.clone(), c2.clone()], "{backend:?}");
        let of_b = s.contacts_of_case(case_b).await.unwrap();
        assert_eq!(ids(&of_b, |c| c.id), [c3.id, c4.id], "{backend:?}");
        assert!(s.contacts_of_case(Uuid::now_v7()).await.unwrap().is_empty());

        // By person (any case).
        let mine = s
            .contacts_of_persons(&[p1, p1, Uuid::now_v7()])
            .await
            .unwrap();
        assert_eq!(ids(&mine, |c| c.id), [c1.id, c3.id], "{backend:?}");
        assert_eq!(
            s.contacts_of_persons(&[p2]).await.unwrap(),
            vec![c4.clone()]
        );
        assert!(s.contacts_of_persons(&[]).await.unwrap().is_empty());

        // By scope, newest exposure first, optionally in one status, at most `limit`.
        let scoped = |scope: PersonScope, status: Option<ContactStatus>, limit: u32| async move {
            ids(
                &s.contacts_in_scope(&scope, status, limit).await.unwrap(),
                |c| c.id,
            )
        };
        assert_eq!(
            scoped(PersonScope::All, None, 10).await,
            [c4.id, c2.id, c3.id, c1.id],
            "{backend:?}"
        );
        assert_eq!(scoped(PersonScope::All, None, 2).await, [c4.id, c2.id]);
        assert_eq!(
            scoped(PersonScope::Province("12".into()), None, 10).await,
            [c4.id, c2.id, c1.id]
        );
        assert_eq!(
            scoped(
                PersonScope::Province("12".into()),
                Some(ContactStatus::Monitoring),
                10
            )
            .await,
            [c4.id, c2.id]
        );
        assert_eq!(
            scoped(PersonScope::Communes(vec!["C1".into()]), None, 10).await,
            [c4.id, c1.id]
        );
        assert_eq!(
            scoped(
                PersonScope::Communes(vec!["C1".into(), "C3".into()]),
                Some(ContactStatus::BecameCase),
                10
            )
            .await,
            [c1.id]
        );
        assert_eq!(
            scoped(PersonScope::OldCommunes(vec!["O1".into()]), None, 10).await,
            [c3.id, c1.id]
        );
        assert_eq!(
            scoped(
                PersonScope::OldCommunes(vec!["O1".into()]),
                Some(ContactStatus::Released),
                10
            )
            .await,
            [c3.id]
        );
        assert!(
            scoped(PersonScope::Communes(vec![]), None, 10)
                .await
                .is_empty()
        );
        assert!(
            scoped(PersonScope::All, Some(ContactStatus::Lost), 10)
                .await
                .is_empty()
        );

        assert_eq!(audited(s, "contact.save").await, 5, "{backend:?}");
        db.cleanup().await;
    }
}

fn cluster(units: CaseUnits, name: &str, opened: i64) -> Cluster {
    Cluster {
        id: Uuid::now_v7(),
        units,
        name: name.into(),
        place: "Chợ đầu mối".into(),
        opened_on: day(opened),
        last_case_on: None,
        ends_on: None,
        closed: false,
        zoning: Zoning::None,
        unusual: false,
        unusual_reason: String::new(),
        sequencing: Sequencing::NotNeeded,
        sample_referred_on: None,
        sequencing_lab: String::new(),
        variant: String::new(),
        variant_result_on: None,
        created_at: at(opened * 24),
        updated_at: at(opened * 24),
    }
}

#[tokio::test]
async fn clusters_are_saved_updated_and_listed_by_scope_closed_ones_when_asked() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let mut k1 = cluster(units("12", "C1", Some("O1")), "Chợ Bình Điền", 1);
        let k2 = cluster(units("12", "C2", Some("O2")), "Công ty PouYuen", 5);
        let mut k3 = cluster(units("12", "C1", Some("O3")), "Trường tiểu học", 3);
        k3.closed = true;
        k3.zoning = Zoning::Lifted;
        k3.last_case_on = Some(day(4));
        k3.ends_on = Some(day(12));
        k3.unusual = true;
        k3.unusual_reason = "Nhiều ca nặng ở người đã tiêm đủ".into();
        k3.sequencing = Sequencing::Resulted;
        k3.sample_referred_on = Some(day(5));
        k3.sequencing_lab = "NIHE".into();
        k3.variant = "B.1.617.2".into();
        k3.variant_result_on = Some(day(9));
        let k4 = cluster(units("14", "C9", None), "Khu công nghiệp", 2);
        for k in [&k1, &k2, &k3, &k4] {
            s.save_cluster(k, &audit("cluster.save")).await.unwrap();
        }
        assert_eq!(
            s.cluster(k3.id).await.unwrap().as_ref(),
            Some(&k3),
            "{backend:?}"
        );
        assert_eq!(s.cluster(k1.id).await.unwrap().as_ref(), Some(&k1));
        assert_eq!(s.cluster(Uuid::now_v7()).await.unwrap(), None);

        // An update changes everything but the creation time.
        let mut updated = k1.clone();
        updated.zoning = Zoning::Zoned;
        updated.unusual = true;
        updated.sequencing = Sequencing::ToSample;
        updated.name = "Chợ đầu mối Bình Điền".into();
        updated.updated_at = at(100);
        updated.created_at = at(99);
        s.save_cluster(&updated, &audit("cluster.save"))
            .await
            .unwrap();
        k1 = Cluster {
            created_at: k1.created_at,
            ..updated
        };
        assert_eq!(s.cluster(k1.id).await.unwrap().as_ref(), Some(&k1));

        let scoped = |scope: PersonScope, closed: bool, limit: u32| async move {
            ids(
                &s.clusters_in_scope(&scope, closed, limit).await.unwrap(),
                |k| k.id,
            )
        };
        assert_eq!(
            scoped(PersonScope::All, false, 10).await,
            [k2.id, k4.id, k1.id],
            "{backend:?}"
        );
        assert_eq!(
            scoped(PersonScope::All, true, 10).await,
            [k2.id, k3.id, k4.id, k1.id]
        );
        assert_eq!(scoped(PersonScope::All, true, 2).await, [k2.id, k3.id]);
        assert_eq!(
            scoped(PersonScope::Province("12".into()), false, 10).await,
            [k2.id, k1.id]
        );
        assert_eq!(
            scoped(PersonScope::Communes(vec!["C1".into()]), false, 10).await,
            [k1.id]
        );
        assert_eq!(
            scoped(PersonScope::Communes(vec!["C1".into()]), true, 10).await,
            [k3.id, k1.id]
        );
        assert_eq!(
            scoped(
                PersonScope::OldCommunes(vec!["O3".into(), "O2".into()]),
                true,
                10
            )
            .await,
            [k2.id, k3.id]
        );
        assert!(
            scoped(PersonScope::OldCommunes(vec![]), true, 10)
                .await
                .is_empty()
        );
        let listed = s
            .clusters_in_scope(&PersonScope::Communes(vec!["C1".into()]), true, 10)
            .await
            .unwrap();
        assert_eq!(listed, vec![k3.clone(), k1.clone()]);

        assert_eq!(audited(s, "cluster.save").await, 5, "{backend:?}");
        db.cleanup().await;
    }
}

fn session(units: CaseUnits, held: i64, lab: &str) -> SampleSession {
    SampleSession {
        id: Uuid::now_v7(),
        units,
        place: "Nhà văn hoá tổ 5".into(),
        held_on: day(held),
        lab_code: lab.into(),
        created_by: "yte_xa".into(),
        created_at: at(held * 24),
    }
}

fn member(name: &str, person_id: Option<Uuid>) -> SampleMember {
    SampleMember {
        person_id,
        full_name: name.into(),
        national_id: String::new(),
        phone: String::new(),
    }
}

fn sample(
    session: &SampleSession,
    code: &str,
    members: Vec<SampleMember>,
    at: DateTime<Utc>,
) -> Sample {
    Sample {
        id: Uuid::now_v7(),
        session_id: session.id,
        province_code: session.units.province_code.clone(),
        code: code.into(),
        members,
        pool_id: None,
        lab_code: session.lab_code.clone(),
        collected_at: at,
        received_at: None,
        resulted_at: None,
        result: None,
        status: SampleStatus::Collected,
    }
}

fn received(s: &Sample, at: DateTime<Utc>) -> Sample {
    Sample {
        received_at: Some(at),
        status: SampleStatus::Received,
        ..s.clone()
    }
}

fn resulted(s: &Sample, result: TestResult, at: DateTime<Utc>) -> Sample {
    Sample {
        resulted_at: Some(at),
        result: Some(result),
        status: SampleStatus::Resulted,
        received_at: s.received_at.or(Some(at)),
        ..s.clone()
    }
}

#[tokio::test]
async fn sessions_and_samples_pools_break_down_and_the_lab_queue() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let p1 = person(s, "Nguyễn Văn An").await;

        // Sessions.
        let s1 = session(units("12", "C1", Some("O1")), 1, "LAB1");
        let s2 = session(units("12", "C2", Some("O2")), 2, "LAB2");
        let s3 = session(units("14", "C9", None), 0, "LAB1");
        for x in [&s1, &s2, &s3] {
            s.save_sample_session(x, &audit("session.create"))
                .await
                .unwrap();
        }
        let err = s
            .save_sample_session(&s1, &audit("session.create"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Conflict, "{backend:?}");
        assert_eq!(s.sample_session(s2.id).await.unwrap().as_ref(), Some(&s2));
        assert_eq!(s.sample_session(Uuid::now_v7()).await.unwrap(), None);
        let sessions = |scope: PersonScope, limit: u32| async move {
            ids(&s.sample_sessions(&scope, limit).await.unwrap(), |x| x.id)
        };
        assert_eq!(
            sessions(PersonScope::All, 10).await,
            [s2.id, s1.id, s3.id],
            "{backend:?}"
        );
        assert_eq!(sessions(PersonScope::All, 1).await, [s2.id]);
        assert_eq!(
            sessions(PersonScope::Province("12".into()), 10).await,
            [s2.id, s1.id]
        );
        assert_eq!(
            sessions(PersonScope::Communes(vec!["C1".into(), "C9".into()]), 10).await,
            [s1.id, s3.id]
        );
        assert_eq!(
            sessions(PersonScope::OldCommunes(vec!["O2".into()]), 10).await,
            [s2.id]
        );
        assert_eq!(
            s.sample_sessions(&PersonScope::OldCommunes(vec!["O1".into()]), 10)
                .await
                .unwrap(),
            vec![s1.clone()]
        );

        // Samples: a pool of three and singles, collected on local 2021-07-02 (UTC+7).
        let pool = sample(
            &s1,
            "P-001",
            vec![
                member("Nguyễn Văn An", Some(p1)),
                member("Nguyễn Thị Bé", None),
                member("Nguyễn Văn Cường", None),
            ],
            at(18),
        );
        let single = sample(&s1, "S-002", vec![member("Phạm Văn Dũng", None)], at(19));
        let other_lab = sample(&s2, "S-003", vec![member("Hồ Thị Em", None)], at(20));
        let early = sample(&s3, "S-004", vec![member("Lò Văn Phong", None)], at(16));
        s.save_samples(
            &[
                pool.clone(),
                single.clone(),
                other_lab.clone(),
                early.clone(),
            ],
            &audit("sample.collect"),
        )
        .await
        .unwrap();
        assert_eq!(
            s.sample(pool.id).await.unwrap().as_ref(),
            Some(&pool),
            "{backend:?}"
        );
        assert!(s.sample(pool.id).await.unwrap().unwrap().pooled());
        assert_eq!(s.sample(Uuid::now_v7()).await.unwrap(), None);
        assert_eq!(
            s.samples_of_session(s1.id).await.unwrap(),
            vec![pool.clone(), single.clone()]
        );
        assert!(
            s.samples_of_session(Uuid::now_v7())
                .await
                .unwrap()
                .is_empty()
        );
        // Collected but not received: nothing in the queue yet.
        assert!(s.lab_queue("LAB1", 10).await.unwrap().is_empty());

        // Received: the lab's queue, oldest collection first.
        let (pool, single, early) = (
            received(&pool, at(21)),
            received(&single, at(21)),
            received(&early, at(21)),
        );
        s.save_samples(
            &[single.clone(), pool.clone(), early.clone()],
            &audit("sample.receive"),
        )
        .await
        .unwrap();
        assert_eq!(
            s.lab_queue("LAB1", 10).await.unwrap(),
            vec![early.clone(), pool.clone(), single.clone()],
            "{backend:?}"
        );
        assert_eq!(
            ids(&s.lab_queue("LAB1", 1).await.unwrap(), |x| x.id),
            [early.id]
        );
        assert!(s.lab_queue("LAB2", 10).await.unwrap().is_empty());

        // The positive pool and its break-down (one single per member) go together.
        let pool = resulted(&pool, TestResult::Positive, at(26));
        let breakdown: Vec<Sample> = pool
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| Sample {
                pool_id: Some(pool.id),
                ..sample(&s1, &format!("P-001-{}", i + 1), vec![m.clone()], at(27))
            })
            .collect();
        let mut batch = vec![pool.clone()];
        batch.extend(breakdown.iter().cloned());
        s.save_samples(&batch, &audit("sample.result"))
            .await
            .unwrap();
        assert_eq!(s.sample(pool.id).await.unwrap().as_ref(), Some(&pool));
        let of_s1 = s.samples_of_session(s1.id).await.unwrap();
        assert_eq!(of_s1.len(), 5, "{backend:?}");
        assert_eq!(of_s1[0], pool);
        assert_eq!(of_s1[1], single);
        assert_eq!(&of_s1[2..], &breakdown[..]);
        assert!(
            of_s1[2..]
                .iter()
                .all(|x| x.pool_id == Some(pool.id) && !x.pooled())
        );
        // The resulted pool leaves the queue; the break-down singles are not received yet.
        assert_eq!(
            ids(&s.lab_queue("LAB1", 10).await.unwrap(), |x| x.id),
            [early.id, single.id]
        );

        // A batch is all or nothing: a sample of an unknown session fails the whole batch.
        let single_done = resulted(&single, TestResult::Negative, at(30));
        let orphan = Sample {
            session_id: Uuid::now_v7(),
            ..sample(&s1, "S-999", vec![member("Không Tên", None)], at(28))
        };
        assert!(
            s.save_samples(
                &[single_done.clone(), orphan.clone()],
                &audit("sample.result")
            )
            .await
            .is_err()
        );
        assert_eq!(s.sample(single.id).await.unwrap().as_ref(), Some(&single));
        assert_eq!(s.sample(orphan.id).await.unwrap(), None);

        // Resulted samples by local collection date (2021-07-02 local = 07-01 17:00Z …).
        let other_done = resulted(&received(&other_lab, at(21)), TestResult::Negative, at(40));
        let early_done = resulted(&early, TestResult::Inconclusive, at(30));
        s.save_samples(
            &[single_done.clone(), other_done.clone(), early_done.clone()],
            &audit("sample.result"),
        )
        .await
        .unwrap();
        let resulted_in = |lab: Option<&'static str>, from: i64, to: i64| async move {
            ids(
                &s.resulted_samples(lab, day(from), day(to)).await.unwrap(),
                |x| x.id,
            )
        };
        // at(16) is 2021-07-01 23:00 local; at(18) is 2021-07-02 01:00 local.
        assert_eq!(
            resulted_in(Some("LAB1"), 0, 0).await,
            [early.id],
            "{backend:?}"
        );
        assert_eq!(
            resulted_in(Some("LAB1"), 1, 1).await,
            [pool.id, single.id],
            "{backend:?}"
        );
        assert_eq!(
            resulted_in(Some("LAB1"), 0, 5).await,
            [early.id, pool.id, single.id]
        );
        assert_eq!(
            resulted_in(None, 1, 1).await,
            [pool.id, single.id, other_lab.id]
        );
        assert_eq!(resulted_in(Some("LAB2"), 1, 1).await, [other_lab.id]);
        assert!(resulted_in(Some("LAB1"), 2, 9).await.is_empty());
        assert_eq!(
            s.resulted_samples(Some("LAB2"), day(1), day(1))
                .await
                .unwrap(),
            vec![other_done]
        );
        assert!(s.lab_queue("LAB1", 10).await.unwrap().is_empty());

        assert_eq!(audited(s, "session.create").await, 3, "{backend:?}");
        assert_eq!(audited(s, "sample.collect").await, 1);
        assert_eq!(audited(s, "sample.receive").await, 1);
        assert_eq!(
            audited(s, "sample.result").await,
            2,
            "failed batch not audited"
        );
        db.cleanup().await;
    }
}

fn declaration(units: CaseUnits, gate: &str, entered: i64) -> EntryDeclaration {
    EntryDeclaration {
        id: Uuid::now_v7(),
        units,
        full_name: "Vàng A Sử".into(),
        document_number: "C1234567".into(),
        phone: "0911000111".into(),
        gate_code: gate.into(),
        entered_on: day(entered),
        from_area: "LA".into(),
        variant_area: false,
        followup_until: day(entered + 4),
        status: "following".into(),
        case_id: None,
        created_at: at(entered * 24 + 8),
    }
}

fn count(gate: &str, province: &str, d: i64, entrants: i64, variant: i64) -> BorderCount {
    BorderCount {
        gate_code: gate.into(),
        province_code: province.into(),
        day: day(d),
        entrants,
        from_variant_areas: variant,
    }
}

#[tokio::test]
async fn entry_declarations_by_date_and_destination_and_border_counts_replaced() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let mut d1 = declaration(units("12", "C1", Some("O1")), "MALU", 1);
        let mut d2 = declaration(units("14", "C9", Some("O9")), "TAYTRANG", 3);
        d2.variant_area = true;
        d2.from_area = "IN".into();
        let d3 = declaration(units("12", "C2", None), "MALU", 5);
        for d in [&d3, &d1, &d2] {
            s.save_entry_declaration(d, &audit("entry.declare"))
                .await
                .unwrap();
        }
        let listed = |scope: PersonScope, from: i64, to: i64| async move {
            ids(
                &s.entry_declarations(&scope, day(from), day(to))
                    .await
                    .unwrap(),
                |d| d.id,
            )
        };
        assert_eq!(
            listed(PersonScope::All, 1, 3).await,
            [d1.id, d2.id],
            "{backend:?}"
        );
        assert_eq!(listed(PersonScope::All, 0, 9).await, [d1.id, d2.id, d3.id]);
        assert_eq!(listed(PersonScope::All, 2, 2).await, Vec::<Uuid>::new());
        assert_eq!(
            listed(PersonScope::Province("12".into()), 0, 9).await,
            [d1.id, d3.id]
        );
        assert_eq!(
            listed(PersonScope::Communes(vec!["C2".into(), "C9".into()]), 0, 4).await,
            [d2.id]
        );
        assert_eq!(
            listed(PersonScope::OldCommunes(vec!["O1".into()]), 0, 9).await,
            [d1.id]
        );
        assert!(listed(PersonScope::Communes(vec![]), 0, 9).await.is_empty());

        // An update (the entrant became a case) keeps the creation time.
        let mut updated = d1.clone();
        updated.status = "became_case".into();
        updated.case_id = Some(Uuid::now_v7());
        updated.created_at = at(500);
        s.save_entry_declaration(&updated, &audit("entry.declare"))
            .await
            .unwrap();
        d1 = EntryDeclaration {
            created_at: d1.created_at,
            ..updated
        };
        assert_eq!(
            s.entry_declarations(&PersonScope::All, day(0), day(9))
                .await
                .unwrap(),
            vec![d1.clone(), d2.clone(), d3.clone()],
            "{backend:?}"
        );

        // Border counts: the same gate and day is replaced.
        for c in [
            count("MALU", "12", 1, 100, 10),
            count("TAYTRANG", "14", 1, 50, 0),
            count("MALU", "12", 2, 80, 5),
            count("MALU", "12", 1, 120, 12),
            count("MALU", "12", 7, 1, 0),
        ] {
            s.save_border_count(&c, &audit("border.count"))
                .await
                .unwrap();
        }
        assert_eq!(
            s.border_counts(Some("12"), day(1), day(2)).await.unwrap(),
            vec![
                count("MALU", "12", 1, 120, 12),
                count("MALU", "12", 2, 80, 5)
            ],
            "{backend:?}"
        );
        assert_eq!(
            s.border_counts(None, day(0), day(6)).await.unwrap(),
            vec![
                count("MALU", "12", 1, 120, 12),
                count("TAYTRANG", "14", 1, 50, 0),
                count("MALU", "12", 2, 80, 5),
            ]
        );
        assert!(
            s.border_counts(Some("14"), day(2), day(9))
                .await
                .unwrap()
                .is_empty()
        );

        assert_eq!(audited(s, "entry.declare").await, 4, "{backend:?}");
        assert_eq!(audited(s, "border.count").await, 5);
        db.cleanup().await;
    }
}

/// A case opened by one positive test (record not linked yet), as stored.
async fn open_case(s: &dyn Store, n: usize) -> Case {
    let record = NewSourceRecord {
        id: Uuid::now_v7(),
        kind: RecordKind::Test,
        source: "LAB1".into(),
        external_id: format!("T-{n}"),
        full_name: format!("Lò Văn {n}"),
        dob: "1980-01-01".into(),
        sex: "male".into(),
        national_id: String::new(),
        commune_code: "C1".into(),
        phone: String::new(),
        payload: serde_json::json!({}),
        batch_id: Uuid::nil(),
    };
    let case = Case {
        id: Uuid::now_v7(),
        units: units("12", "C1", Some("O1")),
        person_id: None,
        source_record_id: record.id,
        full_name: record.full_name.clone(),
        dob: None,
        sex: "male".into(),
        phone: String::new(),
        status: CaseStatus::Open,
        classification: Classification::Confirmed,
        first_positive: day(n as i64),
        last_positive: day(n as i64),
        onset: None,
        detection_source: DetectionSource::Community,
        risk: serde_json::json!({}),
        high_risk: false,
        severity: Severity::Mild,
        care_setting: CareSetting::Home,
        on_oxygen: false,
        outcome: None,
        outcome_date: None,
        isolation_end: day(n as i64 + 7),
        followup_until: day(n as i64 + 365),
        disease_group: "B".into(),
        reported_at: at(n as i64 * 24),
        report_deadline: at(n as i64 * 24 + 24),
        report_met: true,
        last_checkin_at: None,
        alert: AlertLevel::None,
        alert_reasons: serde_json::json!([]),
        ruleset: "test".into(),
        cluster_id: None,
        note: String::new(),
        created_at: at(n as i64 * 24),
        updated_at: at(n as i64 * 24),
    };
    let test = LabTest {
        id: record.id,
        units: case.units.clone(),
        person_id: None,
        lab_code: "LAB1".into(),
        sample_date: case.first_positive,
        test_type: TestType::RtPcr,
        result: TestResult::Positive,
        case_id: Some(case.id),
        sample_id: None,
        received_at: case.reported_at,
    };
    let batch = TestBatch {
        records: vec![record],
        decisions: Vec::new(),
        tests: vec![test],
        changes: vec![CaseChange::Open(case.clone())],
    };
    assert_eq!(
        s.insert_test_batch(&batch, None)
            .await
            .unwrap()
            .cases_created,
        1
    );
    case
}

async fn cluster_of(s: &dyn Store, case: &Case) -> Option<Uuid> {
    s.case(case.id).await.unwrap().unwrap().cluster_id
}

#[tokio::test]
async fn cases_are_put_into_and_out_of_clusters_with_the_cluster_dates() {
    for db in TestDb::all().await {
        let s = db.store.as_ref();
        let backend = s.backend();
        let (a, b, c) = (
            open_case(s, 1).await,
            open_case(s, 2).await,
            open_case(s, 3).await,
        );
        let k = cluster(units("12", "C1", Some("O1")), "Chợ Bình Điền", 1);
        let other = cluster(units("12", "C1", Some("O1")), "Xưởng may", 2);
        s.save_cluster(&k, &audit("cluster.save")).await.unwrap();
        s.save_cluster(&other, &audit("cluster.save"))
            .await
            .unwrap();

        // In: the cases carry the cluster; only the cluster's dates move (the rest as stored).
        let moved = Cluster {
            last_case_on: Some(day(2)),
            ends_on: Some(day(10)),
            updated_at: at(60),
            name: "not saved by assign".into(),
            closed: true,
            ..k.clone()
        };
        s.assign_cases_to_cluster(
            &[a.id, b.id, a.id],
            Some(&moved),
            &audit("cluster.cases_add"),
        )
        .await
        .unwrap();
        assert_eq!(cluster_of(s, &a).await, Some(k.id), "{backend:?}");
        assert_eq!(cluster_of(s, &b).await, Some(k.id));
        assert_eq!(cluster_of(s, &c).await, None);
        // The cluster's cases, oldest first positive first; none for the other cluster.
        let members = s.cases_of_cluster(k.id).await.unwrap();
        let mut expected = vec![
            s.case(a.id).await.unwrap().unwrap(),
            s.case(b.id).await.unwrap().unwrap(),
        ];
        expected.sort_by_key(|c| (c.first_positive, c.id));
        assert_eq!(members, expected, "{backend:?}");
        assert!(s.cases_of_cluster(other.id).await.unwrap().is_empty());
        let stored = s.cluster(k.id).await.unwrap().unwrap();
        assert_eq!(
            stored,
            Cluster {
                last_case_on: Some(day(2)),
                ends_on: Some(day(10)),
                updated_at: at(60),
                ..k.clone()
            },
            "{backend:?}"
        );
        assert_eq!(s.cluster(other.id).await.unwrap().unwrap(), other);

        // Moved to another cluster, then out of any.
        let other_moved = Cluster {
            last_case_on: Some(day(2)),
            ends_on: Some(day(10)),
            ..other.clone()
        };
        s.assign_cases_to_cluster(&[b.id], Some(&other_moved), &audit("cluster.cases_add"))
            .await
            .unwrap();
        assert_eq!(cluster_of(s, &b).await, Some(other.id));
        s.assign_cases_to_cluster(&[a.id], None, &audit("cluster.cases_remove"))
            .await
            .unwrap();
        assert_eq!(cluster_of(s, &a).await, None, "{backend:?}");
        assert_eq!(cluster_of(s, &b).await, Some(other.id));
        assert_eq!(s.cluster(k.id).await.unwrap().unwrap(), stored);

        // An unknown case or cluster changes nothing and is not audited.
        let err = s
            .assign_cases_to_cluster(
                &[c.id, Uuid::now_v7()],
                Some(&moved),
                &audit("cluster.cases_add"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound, "{backend:?}");
        assert_eq!(cluster_of(s, &c).await, None);
        let unknown = cluster(units("12", "C1", None), "Không có", 3);
        let err = s
            .assign_cases_to_cluster(&[c.id], Some(&unknown), &audit("cluster.cases_add"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound, "{backend:?}");
        assert_eq!(cluster_of(s, &c).await, None);
        // No cases: only the dates move.
        let later = Cluster {
            last_case_on: Some(day(4)),
            ends_on: Some(day(12)),
            ..stored.clone()
        };
        s.assign_cases_to_cluster(&[], Some(&later), &audit("cluster.cases_add"))
            .await
            .unwrap();
        assert_eq!(s.cluster(k.id).await.unwrap().unwrap(), later);

        assert_eq!(audited(s, "cluster.cases_add").await, 3, "{backend:?}");
        assert_eq!(audited(s, "cluster.cases_remove").await, 1);
        db.cleanup().await;
    }
}
