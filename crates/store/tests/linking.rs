//! Contract tests for record linkage storage — source records, decisions and the review queue,
//! the blocking index, linkage models, and person merges — on SQLite and (with
//! `PHONGDICH_TEST_PG`) PostgreSQL. Both backends must behave identically.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use domain::ErrorCode;
use domain::audit::NewAuditEntry;
use domain::person::{NationalId, Person, Sex};
use domain::register::RegisterEntry;
use store::{
    LinkCandidate, LinkDecision, LinkStatus, NewSourceRecord, PersonQuery, PersonScope, RecordKind,
    SourceRecordQuery, Store,
};
use testkit::TestDb;
use uuid::Uuid;

fn communes() -> (String, String) {
    let lc = domain::units::AdminUnits::embedded()
        .v2025
        .communes_under("12");
    (lc[0].clone(), lc[1].clone())
}

fn person(name: &str, year: i32, sex: Sex, serial: u32) -> Person {
    let (c1, _) = communes();
    Person {
        id: Uuid::now_v7(),
        province_code: "12".into(),
        commune_code: c1,
        old_commune_code: None,
        household_id: None,
        full_name: domain::name::normalize(name),
        dob: NaiveDate::from_ymd_opt(year, 3, 4).unwrap(),
        sex,
        national_id: NationalId::compose(12, year, sex, serial),
        phone: None,
    }
}

async fn seed_persons(s: &dyn Store) -> Vec<Person> {
    let persons = vec![
        person("Nguyễn Văn An", 1980, Sex::Male, 1),
        person("Nguyễn Văn Ân", 1980, Sex::Male, 2),
        person("Lò Thị Dung", 1950, Sex::Female, 3),
    ];
    assert_eq!(s.insert_persons(&persons).await.unwrap(), 3);
    persons
}

fn record(id: Uuid, kind: RecordKind, external_id: &str, commune: &str) -> NewSourceRecord {
    NewSourceRecord {
        id,
        kind,
        source: "TTYT-LC".into(),
        external_id: external_id.into(),
        full_name: "nguyen van an".into(),
        dob: "04/03/1980".into(),
        sex: "Nam".into(),
        national_id: String::new(),
        commune_code: commune.into(),
        phone: "0912 345 678".into(),
        payload: serde_json::json!({"dose": 2, "lot": "AB-12", "vaccine": "Sởi"}),
        batch_id: Uuid::from_u128(0xba7c),
    }
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

fn linked(record: Uuid, person: Uuid, by: &str) -> LinkDecision {
    LinkDecision {
        record_id: record,
        status: LinkStatus::Linked,
        person_id: Some(person),
        probability: Some(0.98),
        decided_by: by.into(),
        candidates: None,
    }
}

fn candidate(record: Uuid, person: Uuid, probability: f64) -> LinkCandidate {
    LinkCandidate {
        record_id: record,
        person_id: person,
        probability,
        explanation: serde_json::json!({"name": 4.5, "dob": -1.25, "terms": ["exact", "swapped"]}),
    }
}

fn query(f: impl FnOnce(&mut SourceRecordQuery)) -> SourceRecordQuery {
    let mut q = SourceRecordQuery {
        limit: 100,
        ..Default::default()
    };
    f(&mut q);
    q
}

fn ids(page: &store::Page<store::SourceRecord>) -> Vec<Uuid> {
    page.items.iter().map(|r| r.record.id).collect()
}

#[tokio::test]
async fn source_records_insert_idempotently() {
    let (c1, _) = communes();
    for db in TestDb::all().await {
        let s = &db.store;
        let backend = s.backend();
        assert!(s.insert_source_records(&[]).await.unwrap().is_empty());
        let dose = record(Uuid::now_v7(), RecordKind::Dose, "R-1", &c1);
        // Same external id under another kind or source is another record.
        let test = record(Uuid::now_v7(), RecordKind::Test, "R-1", &c1);
        let other_site = NewSourceRecord {
            source: "TTYT-SH".into(),
            ..record(Uuid::now_v7(), RecordKind::Dose, "R-1", &c1)
        };
        let batch = vec![dose.clone(), test.clone(), other_site.clone()];
        assert_eq!(
            s.insert_source_records(&batch).await.unwrap(),
            vec![dose.id, test.id, other_site.id],
            "{backend:?}"
        );

        // Re-importing the same file (new ids, same keys) inserts nothing.
        let again: Vec<_> = batch
            .iter()
            .map(|r| NewSourceRecord {
                id: Uuid::now_v7(),
                ..r.clone()
            })
            .collect();
        assert!(s.insert_source_records(&again).await.unwrap().is_empty());
        // A mixed batch returns only the new ones; a key repeated within the batch counts once.
        let fresh = record(Uuid::now_v7(), RecordKind::Case, "C-9", "");
        let dup_in_batch = NewSourceRecord {
            id: Uuid::now_v7(),
            ..fresh.clone()
        };
        assert_eq!(
            s.insert_source_records(&[again[0].clone(), fresh.clone(), dup_in_batch.clone()])
                .await
                .unwrap(),
            vec![fresh.id]
        );
        assert!(s.get_source_record(again[0].id).await.unwrap().is_none());
        assert!(
            s.get_source_record(dup_in_batch.id)
                .await
                .unwrap()
                .is_none()
        );

        // Stored exactly as given, unlinked, without candidates.
        let (got, candidates) = s.get_source_record(dose.id).await.unwrap().unwrap();
        assert_eq!(got.record, dose);
        assert_eq!(got.status, LinkStatus::Unlinked);
        assert_eq!(got.person_id, None);
        assert_eq!(got.probability, None);
        assert_eq!(got.decided_by, None);
        assert_eq!(got.decided_at, None);
        assert!((Utc::now() - got.created_at).num_seconds().abs() < 60);
        assert!(candidates.is_empty());
        assert!(s.get_source_record(Uuid::now_v7()).await.unwrap().is_none());

        // A taken id under a new key is a conflict and the whole batch is rolled back.
        let clash = record(dose.id, RecordKind::Beneficiary, "B-1", &c1);
        let innocent = record(Uuid::now_v7(), RecordKind::Beneficiary, "B-2", &c1);
        let err = s
            .insert_source_records(&[innocent.clone(), clash])
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Conflict, "{backend:?}");
        assert!(s.get_source_record(innocent.id).await.unwrap().is_none());

        // Large batches (several statements per backend) in one call.
        let many: Vec<_> = (0..12_345)
            .map(|i| {
                record(
                    Uuid::now_v7(),
                    RecordKind::Beneficiary,
                    &format!("BTXH-{i}"),
                    &c1,
                )
            })
            .collect();
        let inserted = s.insert_source_records(&many).await.unwrap();
        assert_eq!(inserted, many.iter().map(|r| r.id).collect::<Vec<_>>());
        assert!(s.insert_source_records(&many).await.unwrap().is_empty());
        let counts = s.count_source_records_by_status(None).await.unwrap();
        assert_eq!(
            counts,
            vec![
                (LinkStatus::Linked, 0),
                (LinkStatus::Review, 0),
                (LinkStatus::Unlinked, 4 + 12_345)
            ]
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn records_are_stored_with_their_decisions_in_one_go() {
    let (c1, _) = communes();
    for db in TestDb::all().await {
        let s = &db.store;
        let backend = s.backend();
        let p = seed_persons(s.as_ref()).await;
        let r_linked = record(Uuid::now_v7(), RecordKind::Dose, "G-1", &c1);
        // Typed without a commune: listed under its best candidate's commune.
        let r_review = record(Uuid::now_v7(), RecordKind::Dose, "G-2", "");
        let r_pending = record(Uuid::now_v7(), RecordKind::Test, "G-3", &c1);
        let decisions = vec![
            LinkDecision {
                candidates: Some(vec![candidate(r_linked.id, p[0].id, 0.995)]),
                ..linked(r_linked.id, p[0].id, "auto")
            },
            LinkDecision {
                record_id: r_review.id,
                status: LinkStatus::Review,
                person_id: None,
                probability: Some(0.4),
                decided_by: "auto".into(),
                candidates: Some(vec![
                    candidate(r_review.id, p[1].id, 0.4),
                    candidate(r_review.id, p[2].id, 0.1),
                ]),
            },
        ];
        let batch = [r_linked.clone(), r_review.clone(), r_pending.clone()];
        let before = Utc::now() - chrono::Duration::seconds(1);
        let inserted = s
            .insert_decided_records(&batch, &decisions, Some(&audit("records.import")))
            .await
            .unwrap();
        assert_eq!(
            inserted,
            [r_linked.id, r_review.id, r_pending.id],
            "{backend:?}"
        );
        let (got, cands) = s.get_source_record(r_linked.id).await.unwrap().unwrap();
        assert_eq!(
            (
                got.status,
                got.person_id,
                got.probability,
                got.decided_by.as_deref()
            ),
            (LinkStatus::Linked, Some(p[0].id), Some(0.98), Some("auto"))
        );
        assert!(got.decided_at.unwrap() >= before);
        assert_eq!(got.record, r_linked);
        assert_eq!(cands, vec![candidate(r_linked.id, p[0].id, 0.995)]);
        let (got, cands) = s.get_source_record(r_review.id).await.unwrap().unwrap();
        assert_eq!((got.status, got.person_id), (LinkStatus::Review, None));
        assert_eq!(
            got.scope_commune.as_deref(),
            Some(p[1].commune_code.as_str())
        );
        assert_eq!(cands.len(), 2);
        let (got, cands) = s.get_source_record(r_pending.id).await.unwrap().unwrap();
        assert_eq!(
            (got.status, got.decided_at, cands.len()),
            (LinkStatus::Unlinked, None, 0)
        );
        let (entries, _) = s.audit_chain().await.unwrap();
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.entry.action == "records.import")
                .count(),
            1
        );

        // Again, with other decisions: nothing inserted, the stored decisions stay.
        let other = vec![LinkDecision {
            record_id: r_linked.id,
            ..linked(r_linked.id, p[2].id, "clerk")
        }];
        let again = s
            .insert_decided_records(&batch, &other, None)
            .await
            .unwrap();
        assert!(again.is_empty());
        let (got, _) = s.get_source_record(r_linked.id).await.unwrap().unwrap();
        assert_eq!(got.person_id, Some(p[0].id));

        // A bad batch writes nothing: a merged or unknown person, a decision about a record
        // not in the batch.
        let fresh = record(Uuid::now_v7(), RecordKind::Dose, "G-4", &c1);
        let err = s
            .insert_decided_records(
                std::slice::from_ref(&fresh),
                &[linked(fresh.id, Uuid::now_v7(), "auto")],
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput, "{backend:?}");
        let err = s
            .insert_decided_records(
                std::slice::from_ref(&fresh),
                &[linked(Uuid::now_v7(), p[0].id, "auto")],
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound, "{backend:?}");
        assert!(s.get_source_record(fresh.id).await.unwrap().is_none());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn decisions_candidates_and_the_review_queue() {
    let (c1, c2) = communes();
    for db in TestDb::all().await {
        let s = &db.store;
        let backend = s.backend();
        let p = seed_persons(s.as_ref()).await;
        // Within a batch the queue is ordered by id, batches by arrival.
        let r3 = record(Uuid::from_u128(3), RecordKind::Dose, "D-3", &c1);
        let r1 = record(Uuid::from_u128(1), RecordKind::Dose, "D-1", &c2);
        let r2 = record(Uuid::from_u128(2), RecordKind::Test, "T-2", "00001");
        s.insert_source_records(&[r3.clone(), r1.clone()])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        s.insert_source_records(std::slice::from_ref(&r2))
            .await
            .unwrap();
        let all = s.list_source_records(&query(|_| {})).await.unwrap();
        assert_eq!(all.total, 3);
        assert_eq!(ids(&all), [r1.id, r3.id, r2.id], "{backend:?}");

        let before = Utc::now() - chrono::Duration::seconds(1);
        s.apply_link_decisions(
            &[
                LinkDecision {
                    candidates: Some(vec![
                        candidate(r1.id, p[1].id, 0.31),
                        candidate(r1.id, p[0].id, 0.98),
                    ]),
                    ..linked(r1.id, p[0].id, "auto")
                },
                LinkDecision {
                    record_id: r3.id,
                    status: LinkStatus::Review,
                    person_id: None,
                    probability: Some(0.7),
                    decided_by: "auto".into(),
                    candidates: Some(vec![
                        candidate(r3.id, p[0].id, 0.6),
                        candidate(r3.id, p[1].id, 0.7),
                    ]),
                },
                LinkDecision {
                    record_id: r2.id,
                    status: LinkStatus::Unlinked,
                    person_id: None,
                    probability: None,
                    decided_by: "auto".into(),
                    candidates: Some(vec![]),
                },
            ],
            None,
        )
        .await
        .unwrap();
        let (got, cands) = s.get_source_record(r1.id).await.unwrap().unwrap();
        assert_eq!(got.status, LinkStatus::Linked);
        assert_eq!(got.person_id, Some(p[0].id));
        assert_eq!(got.probability, Some(0.98));
        assert_eq!(got.decided_by.as_deref(), Some("auto"));
        assert!(got.decided_at.unwrap() >= before);
        assert_eq!(got.record, r1, "decisions leave the record as it arrived");
        // Most probable first, explanations intact.
        assert_eq!(
            cands,
            vec![
                candidate(r1.id, p[0].id, 0.98),
                candidate(r1.id, p[1].id, 0.31)
            ]
        );
        let (_, cands) = s.get_source_record(r3.id).await.unwrap().unwrap();
        assert_eq!(
            cands.iter().map(|c| c.person_id).collect::<Vec<_>>(),
            [p[1].id, p[0].id]
        );

        // The review queue, by status, person, kind and commune.
        let review = s
            .list_source_records(&query(|q| q.status = Some(LinkStatus::Review)))
            .await
            .unwrap();
        assert_eq!((review.total, ids(&review)), (1, vec![r3.id]));
        let of_an = s
            .list_source_records(&query(|q| q.person_id = Some(p[0].id)))
            .await
            .unwrap();
        assert_eq!(ids(&of_an), [r1.id]);
        let tests = s
            .list_source_records(&query(|q| q.kind = Some(RecordKind::Test)))
            .await
            .unwrap();
        assert_eq!(ids(&tests), [r2.id]);
        // Commune codes match as typed, 2025 or pre-2025.
        let in_c1_or_old = s
            .list_source_records(&query(|q| {
                q.communes = Some(vec![c1.clone(), "00001".into()])
            }))
            .await
            .unwrap();
        assert_eq!(ids(&in_c1_or_old), [r3.id, r2.id]);
        let none = s
            .list_source_records(&query(|q| q.communes = Some(vec![])))
            .await
            .unwrap();
        assert_eq!((none.total, none.items.len()), (0, 0));
        let combined = s
            .list_source_records(&query(|q| {
                q.status = Some(LinkStatus::Review);
                q.communes = Some(vec![c2.clone()]);
            }))
            .await
            .unwrap();
        assert_eq!(combined.total, 0);
        // Paging keeps the total.
        let page = s
            .list_source_records(&query(|q| {
                q.limit = 1;
                q.offset = 1;
            }))
            .await
            .unwrap();
        assert_eq!((page.total, ids(&page)), (3, vec![r3.id]));

        assert_eq!(
            s.count_source_records_by_status(None).await.unwrap(),
            vec![
                (LinkStatus::Linked, 1),
                (LinkStatus::Review, 1),
                (LinkStatus::Unlinked, 1)
            ]
        );
        assert_eq!(
            s.count_source_records_by_status(Some(std::slice::from_ref(&c1)))
                .await
                .unwrap(),
            vec![
                (LinkStatus::Linked, 0),
                (LinkStatus::Review, 1),
                (LinkStatus::Unlinked, 0)
            ]
        );
        assert!(
            s.count_source_records_by_status(Some(&[]))
                .await
                .unwrap()
                .iter()
                .all(|(_, n)| *n == 0)
        );

        // A reviewer decides; candidates are kept when the decision carries none; the audit
        // entry commits with it.
        s.apply_link_decisions(
            &[LinkDecision {
                probability: None,
                ..linked(r3.id, p[1].id, "canbo")
            }],
            Some(&audit("link.decide")),
        )
        .await
        .unwrap();
        let (got, cands) = s.get_source_record(r3.id).await.unwrap().unwrap();
        assert_eq!(
            (got.status, got.person_id, got.probability),
            (LinkStatus::Linked, Some(p[1].id), None)
        );
        assert_eq!(got.decided_by.as_deref(), Some("canbo"));
        assert_eq!(cands.len(), 2);
        assert!(
            s.list_source_records(&query(|q| q.status = Some(LinkStatus::Review)))
                .await
                .unwrap()
                .items
                .is_empty()
        );
        // A batch deciding a record twice keeps the later decision.
        s.apply_link_decisions(
            &[
                linked(r2.id, p[2].id, "auto"),
                LinkDecision {
                    record_id: r2.id,
                    status: LinkStatus::Review,
                    person_id: None,
                    probability: Some(0.5),
                    decided_by: "auto".into(),
                    candidates: Some(vec![candidate(r2.id, p[2].id, 0.5)]),
                },
            ],
            None,
        )
        .await
        .unwrap();
        let (got, cands) = s.get_source_record(r2.id).await.unwrap().unwrap();
        assert_eq!((got.status, got.person_id), (LinkStatus::Review, None));
        assert_eq!(cands, vec![candidate(r2.id, p[2].id, 0.5)]);
        assert_eq!(store::verify_audit(s.as_ref()).await.unwrap(), Ok(1));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn invalid_decisions_write_nothing() {
    let (c1, _) = communes();
    for db in TestDb::all().await {
        let s = &db.store;
        let backend = s.backend();
        let p = seed_persons(s.as_ref()).await;
        let r = record(Uuid::now_v7(), RecordKind::Case, "K-1", &c1);
        let other = record(Uuid::now_v7(), RecordKind::Case, "K-2", &c1);
        s.insert_source_records(&[r.clone(), other.clone()])
            .await
            .unwrap();
        let good = LinkDecision {
            candidates: Some(vec![candidate(r.id, p[0].id, 0.9)]),
            ..linked(r.id, p[0].id, "auto")
        };
        let cases = [
            (
                LinkDecision {
                    person_id: None,
                    ..linked(other.id, p[0].id, "auto")
                },
                ErrorCode::InvalidInput,
            ),
            (
                LinkDecision {
                    status: LinkStatus::Review,
                    ..linked(other.id, p[0].id, "auto")
                },
                ErrorCode::InvalidInput,
            ),
            (
                LinkDecision {
                    status: LinkStatus::Unlinked,
                    ..linked(other.id, p[0].id, "auto")
                },
                ErrorCode::InvalidInput,
            ),
            (
                LinkDecision {
                    probability: Some(f64::NAN),
                    ..linked(other.id, p[0].id, "auto")
                },
                ErrorCode::InvalidInput,
            ),
            (
                linked(other.id, Uuid::now_v7(), "auto"),
                ErrorCode::InvalidInput,
            ),
            (linked(Uuid::now_v7(), p[0].id, "auto"), ErrorCode::NotFound),
        ];
        for (bad, code) in cases {
            // The good decision comes first in the batch and must not be applied either.
            let err = s
                .apply_link_decisions(&[good.clone(), bad.clone()], Some(&audit("link.decide")))
                .await
                .unwrap_err();
            assert_eq!(err.code, code, "{backend:?} {bad:?}");
            assert!(!err.message_vi.is_empty() && !err.message_en.is_empty());
            for id in [r.id, other.id] {
                let (got, cands) = s.get_source_record(id).await.unwrap().unwrap();
                assert_eq!(got.status, LinkStatus::Unlinked, "{backend:?} {bad:?}");
                assert_eq!(got.decided_at, None);
                assert!(cands.is_empty());
            }
        }
        let unknown = Uuid::now_v7();
        let err = s
            .apply_link_decisions(&[linked(unknown, p[0].id, "auto")], None)
            .await
            .unwrap_err();
        assert_eq!(err.details["record_id"], unknown.to_string());
        // No audit entry from the failed batches.
        assert_eq!(store::verify_audit(s.as_ref()).await.unwrap(), Ok(0));
        s.apply_link_decisions(&[good], None).await.unwrap();
        assert_eq!(
            s.get_source_record(r.id).await.unwrap().unwrap().0.status,
            LinkStatus::Linked
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn persons_by_ids_ignores_unknown_ids() {
    for db in TestDb::all().await {
        let s = &db.store;
        let p = seed_persons(s.as_ref()).await;
        let mut want = vec![p[2].id, Uuid::now_v7(), p[0].id, p[0].id];
        // Enough ids for several statements.
        want.extend((0..2500).map(|_| Uuid::now_v7()));
        let mut got = s.persons_by_ids(&want).await.unwrap();
        got.sort_by_key(|x| x.id);
        let mut expected = vec![p[0].clone(), p[2].clone()];
        expected.sort_by_key(|x| x.id);
        assert_eq!(got, expected);
        assert!(s.persons_by_ids(&[]).await.unwrap().is_empty());
        db.cleanup().await;
    }
}

fn entry(national_id: &str, name: &str, commune: &str) -> RegisterEntry {
    RegisterEntry {
        national_id: Some(NationalId::parse(national_id).unwrap()),
        national_id_inconsistent: false,
        full_name: name.into(),
        dob: NaiveDate::from_ymd_opt(1990, 5, 1).unwrap(),
        sex: Sex::Male,
        province_code: "12".into(),
        commune_code: commune.into(),
        old_commune_code: None,
        phone: None,
        household_ref: None,
        external_id: None,
    }
}

#[tokio::test]
async fn blocking_index_is_replaced_looked_up_and_invalidated() {
    let (c1, c2) = communes();
    for db in TestDb::all().await {
        let s = &db.store;
        let backend = s.backend();
        let p = seed_persons(s.as_ref()).await;
        let mut by_id = p.clone();
        by_id.sort_by_key(|x| x.id);
        // New persons start unindexed, listed by id, up to the limit.
        assert_eq!(s.unindexed_persons(100).await.unwrap(), by_id);
        assert_eq!(s.unindexed_persons(2).await.unwrap(), by_id[..2]);
        assert!(s.unindexed_persons(0).await.unwrap().is_empty());

        s.replace_blocking_keys(&[
            (p[0].id, vec![10, -20, 30, 30]),
            (p[1].id, vec![-20, 40]),
            (p[2].id, vec![]),
        ])
        .await
        .unwrap();
        assert!(s.unindexed_persons(100).await.unwrap().is_empty());
        let mut expected = vec![(-20, p[0].id), (-20, p[1].id), (30, p[0].id)];
        expected.sort();
        assert_eq!(
            s.persons_with_keys(&[30, -20, 99, 30]).await.unwrap(),
            expected,
            "{backend:?}"
        );
        // Replacing drops the old keys of that person only.
        s.replace_blocking_keys(&[(p[0].id, vec![50])])
            .await
            .unwrap();
        assert_eq!(
            s.persons_with_keys(&[10, -20, 30, 50]).await.unwrap(),
            vec![(-20, p[1].id), (50, p[0].id)]
        );
        assert!(s.persons_with_keys(&[]).await.unwrap().is_empty());
        // Many keys and many lookups at once (several statements each).
        let keys: Vec<i64> = (0..60_000).map(|k| k * 7919 - 200_000).collect();
        s.replace_blocking_keys(&[(p[2].id, keys.clone())])
            .await
            .unwrap();
        let found = s.persons_with_keys(&keys).await.unwrap();
        assert_eq!(found.len(), keys.len());
        assert!(found.iter().all(|(_, id)| *id == p[2].id));

        // Register imports: inserted persons start unindexed; an update makes a person stale.
        let a = entry("012090001234", "Trần Văn Bình", &c1);
        let b = entry("012090005678", "Lê Văn Cường", &c1);
        assert_eq!(
            s.upsert_register(&[a.clone(), b.clone()], &audit("population.import"))
                .await
                .unwrap(),
            (2, 0)
        );
        let fresh = s.unindexed_persons(100).await.unwrap();
        assert_eq!(fresh.len(), 2);
        s.replace_blocking_keys(&fresh.iter().map(|x| (x.id, vec![7])).collect::<Vec<_>>())
            .await
            .unwrap();
        assert!(s.unindexed_persons(100).await.unwrap().is_empty());
        let moved = RegisterEntry {
            commune_code: c2.clone(),
            ..a.clone()
        };
        assert_eq!(
            s.upsert_register(&[moved], &audit("population.import"))
                .await
                .unwrap(),
            (0, 1)
        );
        let stale = s.unindexed_persons(100).await.unwrap();
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].national_id, a.national_id);
        assert_eq!(stale[0].commune_code, c2);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn linkage_models_latest_wins() {
    for db in TestDb::all().await {
        let s = &db.store;
        assert!(s.latest_linkage_model().await.unwrap().is_none());
        let first = serde_json::json!({"lambda": 0.001, "m": [0.9, 0.05], "u": [0.01, 0.2]});
        let second = serde_json::json!({
            "lambda": 0.0123456789012345,
            "comparisons": [{"name": "ho_ten", "m": [0.95, 0.04, 0.01], "u": [1e-7, 0.3, 0.69]}],
            "tf": {"nguyen": 0.38, "tran": 0.11}
        });
        s.save_linkage_model(&first).await.unwrap();
        s.save_linkage_model(&second).await.unwrap();
        let (at, model) = s.latest_linkage_model().await.unwrap().unwrap();
        assert_eq!(model, second);
        assert!((Utc::now() - at).num_seconds().abs() < 60);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn merges_move_records_hide_the_duplicate_and_undo() {
    let (c1, _) = communes();
    for db in TestDb::all().await {
        let s = &db.store;
        let backend = s.backend();
        let p = seed_persons(s.as_ref()).await;
        let (kept, dup, other) = (p[0].id, p[1].id, p[2].id);
        let recs: Vec<_> = (0..4)
            .map(|i| record(Uuid::now_v7(), RecordKind::Dose, &format!("M-{i}"), &c1))
            .collect();
        s.insert_source_records(&recs).await.unwrap();
        s.apply_link_decisions(
            &[
                linked(recs[0].id, dup, "auto"),
                linked(recs[1].id, dup, "auto"),
                linked(recs[2].id, kept, "auto"),
            ],
            None,
        )
        .await
        .unwrap();
        s.replace_blocking_keys(&[(kept, vec![1, 2]), (dup, vec![1, 3]), (other, vec![4])])
            .await
            .unwrap();

        // Refused merges write nothing.
        for (a, b) in [(kept, kept), (kept, Uuid::now_v7()), (Uuid::now_v7(), dup)] {
            let err = s
                .merge_persons(a, b, "canbo", &audit("person.merge"))
                .await
                .unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidInput, "{backend:?} {a} {b}");
            assert!(!err.message_vi.is_empty() && !err.message_en.is_empty());
        }

        let merge = s
            .merge_persons(kept, dup, "canbo", &audit("person.merge"))
            .await
            .unwrap();
        assert_eq!((merge.kept, merge.merged), (kept, dup));
        assert_eq!(merge.merged_by, "canbo");
        assert_eq!((merge.undone_by.as_ref(), merge.undone_at), (None, None));
        let mut moved = vec![recs[0].id, recs[1].id];
        moved.sort();
        assert_eq!(merge.moved_records, moved);
        for r in &recs[..3] {
            let (got, _) = s.get_source_record(r.id).await.unwrap().unwrap();
            assert_eq!(got.person_id, Some(kept), "{backend:?}");
        }
        assert_eq!(s.merged_into(dup).await.unwrap(), Some(kept));
        assert_eq!(s.merged_into(kept).await.unwrap(), None);
        assert_eq!(s.merged_into(Uuid::now_v7()).await.unwrap(), None);

        // The duplicate is hidden from lists, counts and the blocking index, but still readable.
        let listed = s
            .list_persons(&PersonQuery::new(PersonScope::All))
            .await
            .unwrap();
        assert_eq!(listed.total, 2);
        assert!(listed.items.iter().all(|x| x.id != dup));
        assert_eq!(s.count_persons().await.unwrap(), 2);
        assert_eq!(s.get_person(dup).await.unwrap().unwrap(), p[1]);
        assert_eq!(s.persons_with_keys(&[1, 3]).await.unwrap(), vec![(1, kept)]);
        assert!(s.unindexed_persons(10).await.unwrap().is_empty());
        // Even keys written for it afterwards (a stale indexer) are not returned.
        s.replace_blocking_keys(&[(dup, vec![3])]).await.unwrap();
        assert!(s.persons_with_keys(&[3]).await.unwrap().is_empty());

        // Nothing can be linked to it, and it cannot be merged again either way.
        let err = s
            .apply_link_decisions(&[linked(recs[3].id, dup, "canbo")], None)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert_eq!(err.details["merged_into"], kept.to_string());
        for (a, b) in [(other, dup), (dup, other)] {
            let err = s
                .merge_persons(a, b, "canbo", &audit("person.merge"))
                .await
                .unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidInput);
        }

        // After the merge one moved record is re-linked elsewhere: undo leaves it there.
        s.apply_link_decisions(&[linked(recs[1].id, other, "canbo")], None)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let undone = s
            .undo_merge(merge.id, "truongtram", &audit("person.unmerge"))
            .await
            .unwrap();
        assert_eq!(undone.id, merge.id);
        assert_eq!(undone.undone_by.as_deref(), Some("truongtram"));
        assert!(undone.undone_at.unwrap() >= merge.merged_at);
        assert_eq!(undone.moved_records, moved);
        let person_of = |i: usize| {
            let id = recs[i].id;
            async move {
                s.get_source_record(id)
                    .await
                    .unwrap()
                    .unwrap()
                    .0
                    .person_id
                    .unwrap()
            }
        };
        assert_eq!(person_of(0).await, dup);
        assert_eq!(person_of(1).await, other);
        assert_eq!(person_of(2).await, kept);
        assert_eq!(s.merged_into(dup).await.unwrap(), None);
        assert_eq!(
            s.list_persons(&PersonQuery::new(PersonScope::All))
                .await
                .unwrap()
                .total,
            3
        );
        // Restored, it is indexed again from scratch.
        assert_eq!(s.unindexed_persons(10).await.unwrap(), vec![p[1].clone()]);
        s.apply_link_decisions(&[linked(recs[3].id, dup, "canbo")], None)
            .await
            .unwrap();

        // History, newest first, from either side.
        let history = s.person_merges(dup).await.unwrap();
        assert_eq!(history, vec![undone.clone()]);
        assert_eq!(s.person_merges(kept).await.unwrap(), vec![undone.clone()]);
        assert!(s.person_merges(other).await.unwrap().is_empty());
        let again = s
            .merge_persons(dup, kept, "canbo", &audit("person.merge"))
            .await
            .unwrap();
        assert_eq!(again.moved_records, vec![recs[2].id]);
        let history = s.person_merges(kept).await.unwrap();
        assert_eq!(
            history.iter().map(|m| m.id).collect::<Vec<_>>(),
            [again.id, merge.id]
        );
        assert_eq!(s.merged_into(kept).await.unwrap(), Some(dup));

        // An undone merge cannot be undone again; an unknown one is not found.
        let err = s
            .undo_merge(merge.id, "truongtram", &audit("person.unmerge"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput, "{backend:?}");
        let err = s
            .undo_merge(Uuid::now_v7(), "truongtram", &audit("person.unmerge"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);

        // One entry per successful merge or undo, none for the refused ones.
        assert_eq!(store::verify_audit(s.as_ref()).await.unwrap(), Ok(3));
        let actions: Vec<String> = s
            .audit_chain()
            .await
            .unwrap()
            .0
            .into_iter()
            .map(|e| e.entry.action)
            .collect();
        assert_eq!(actions, ["person.merge", "person.unmerge", "person.merge"]);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn denominators_skip_merged_persons() {
    for db in TestDb::all().await {
        let s = &db.store;
        let p = seed_persons(s.as_ref()).await;
        let as_of = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        store::rebuild_denominators(s.as_ref(), as_of)
            .await
            .unwrap();
        let total = |rows: Vec<domain::population::Denominator>| -> u64 {
            rows.iter().map(|r| r.count).sum()
        };
        assert_eq!(total(s.denominators(None).await.unwrap()), 3);
        s.merge_persons(p[0].id, p[1].id, "canbo", &audit("person.merge"))
            .await
            .unwrap();
        store::rebuild_denominators(s.as_ref(), as_of)
            .await
            .unwrap();
        assert_eq!(total(s.denominators(None).await.unwrap()), 2);
        db.cleanup().await;
    }
}
