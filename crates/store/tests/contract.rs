//! The storage contract suite: every test runs on SQLite, and on PostgreSQL when
//! `PHONGDICH_TEST_PG` is set (CI sets it). Both backends must behave identically.

use chrono::NaiveDate;
use domain::ErrorCode;
use domain::person::{Household, NationalId, Person, Phone, Sex};
use store::{PersonQuery, PersonScope};
use testkit::TestDb;
use uuid::Uuid;

fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).unwrap()
}

/// Lai Châu fixtures: two 2025 communes of province 12, one in Hà Nội.
fn fixtures() -> (Vec<Household>, Vec<Person>) {
    let units = domain::units::AdminUnits::embedded();
    let lc = units.v2025.communes_under("12");
    let (c1, c2) = (lc[0].clone(), lc[1].clone());
    let old1 = units.old_communes_for_new(&c1).first().cloned();
    let hh = Household {
        id: Uuid::new_v4(),
        province_code: "12".into(),
        commune_code: c1.clone(),
        old_commune_code: old1.clone(),
        address: "Bản Nà Tăm".into(),
    };
    let person =
        |name: &str, dob: NaiveDate, sex: Sex, commune: &str, prov: &str, serial: u32| Person {
            id: Uuid::new_v4(),
            province_code: prov.into(),
            commune_code: commune.into(),
            old_commune_code: if commune == c1 { old1.clone() } else { None },
            household_id: (commune == c1).then_some(hh.id),
            full_name: domain::name::normalize(name),
            dob,
            sex,
            national_id: NationalId::compose(
                12,
                dob.format("%Y").to_string().parse().unwrap(),
                sex,
                serial,
            ),
            phone: Some(Phone::parse(&format!("0912{serial:06}")).unwrap()),
        };
    let persons = vec![
        person("Nguyễn Văn An", d(1980, 5, 1), Sex::Male, &c1, "12", 1),
        person("Nguyễn Thị Ánh", d(1985, 6, 2), Sex::Female, &c1, "12", 2),
        person("Giàng A Páo", d(2015, 1, 3), Sex::Male, &c1, "12", 3),
        person("Lò Thị Dung", d(1950, 2, 4), Sex::Female, &c2, "12", 4),
        person("Trần Đức Bình", d(2030, 1, 1), Sex::Male, &c2, "12", 5),
        person("Phạm Thu Hà", d(1999, 9, 9), Sex::Female, "00004", "01", 6),
    ];
    (vec![hh], persons)
}

async fn seeded(db: &TestDb) -> Vec<Person> {
    let (hh, persons) = fixtures();
    assert_eq!(db.store.insert_households(&hh).await.unwrap(), 1);
    assert_eq!(db.store.insert_persons(&persons).await.unwrap(), 6);
    persons
}

#[tokio::test]
async fn migrations_are_idempotent_and_db_starts_empty() {
    for db in TestDb::all().await {
        db.store.migrate().await.unwrap();
        db.store.ping().await.unwrap();
        assert_eq!(db.store.count_persons().await.unwrap(), 0);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn persons_round_trip() {
    for db in TestDb::all().await {
        let persons = seeded(&db).await;
        assert_eq!(db.store.count_persons().await.unwrap(), 6);
        for p in &persons {
            let got = db.store.get_person(p.id).await.unwrap().unwrap();
            assert_eq!(&got, p, "{:?}", db.store.backend());
        }
        assert!(db.store.get_person(Uuid::new_v4()).await.unwrap().is_none());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn duplicate_citizen_id_fails_whole_batch() {
    for db in TestDb::all().await {
        let persons = seeded(&db).await;
        let mut again = persons[0].clone();
        again.id = Uuid::new_v4();
        let fresh = Person {
            id: Uuid::new_v4(),
            national_id: None,
            ..persons[1].clone()
        };
        let err = db.store.insert_persons(&[fresh, again]).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::Conflict, "{:?}", db.store.backend());
        assert_eq!(
            db.store.count_persons().await.unwrap(),
            6,
            "nothing partially written"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn list_by_scope_search_and_paging() {
    let units = domain::units::AdminUnits::embedded();
    for db in TestDb::all().await {
        let persons = seeded(&db).await;
        let s = &db.store;
        let list = |scope: PersonScope, text: Option<&str>| {
            let mut q = PersonQuery::new(scope);
            q.text = text.map(str::to_string);
            q
        };
        let province = s
            .list_persons(&list(PersonScope::Province("12".into()), None))
            .await
            .unwrap();
        assert_eq!(province.total, 5);
        let names: Vec<_> = province
            .items
            .iter()
            .map(|p| p.full_name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "Giàng A Páo",
                "Lò Thị Dung",
                "Nguyễn Thị Ánh",
                "Nguyễn Văn An",
                "Trần Đức Bình"
            ]
        );

        let c1 = persons[0].commune_code.clone();
        let commune = s
            .list_persons(&list(PersonScope::Communes(vec![c1.clone()]), None))
            .await
            .unwrap();
        assert_eq!(commune.total, 3);

        // Diacritic-insensitive and case-insensitive search, with or without marks.
        for text in ["nguyen", "NGUYỄN", "nguyen thi anh", "Ánh"] {
            let r = s
                .list_persons(&list(PersonScope::Province("12".into()), Some(text)))
                .await
                .unwrap();
            assert!(r.total >= 1, "{text}");
            assert!(
                r.items
                    .iter()
                    .all(|p| domain::name::fold(&p.full_name).contains(&domain::name::fold(text)))
            );
        }
        let dung = s
            .list_persons(&list(
                PersonScope::Province("12".into()),
                Some("lo thi dung"),
            ))
            .await
            .unwrap();
        assert_eq!(dung.total, 1);
        // Đ folds to d.
        let binh = s
            .list_persons(&list(PersonScope::Province("12".into()), Some("tran duc")))
            .await
            .unwrap();
        assert_eq!(binh.items[0].full_name, "Trần Đức Bình");
        // LIKE wildcards in the query are literal.
        let none = s
            .list_persons(&list(PersonScope::Province("12".into()), Some("%")))
            .await
            .unwrap();
        assert_eq!(none.total, 0);

        // Digits search citizen ID or phone prefixes.
        let cccd = persons[3]
            .national_id
            .as_ref()
            .unwrap()
            .as_str()
            .to_string();
        let by_id = s
            .list_persons(&list(PersonScope::Province("12".into()), Some(&cccd)))
            .await
            .unwrap();
        assert_eq!(by_id.total, 1);
        assert_eq!(by_id.items[0].id, persons[3].id);
        let by_phone = s
            .list_persons(&list(
                PersonScope::Province("12".into()),
                Some("0912000002"),
            ))
            .await
            .unwrap();
        assert_eq!(by_phone.items[0].id, persons[1].id);

        // Scope excludes other provinces even when the search matches.
        let pham = s
            .list_persons(&list(PersonScope::Province("12".into()), Some("pham thu")))
            .await
            .unwrap();
        assert_eq!(pham.total, 0);
        let pham = s
            .list_persons(&list(PersonScope::Province("01".into()), Some("pham thu")))
            .await
            .unwrap();
        assert_eq!(pham.total, 1);

        // Pre-2025 scope through the old commune code.
        if let Some(old) = &persons[0].old_commune_code {
            let district = units.pre2025.get(old).unwrap().parent_code.clone().unwrap();
            let scope =
                PersonScope::for_unit(units, domain::units::UnitVersion::Pre2025, &district)
                    .unwrap();
            let r = s.list_persons(&list(scope, None)).await.unwrap();
            assert_eq!(r.total, 3);
        }
        let r = s
            .list_persons(&list(PersonScope::OldCommunes(vec![]), None))
            .await
            .unwrap();
        assert_eq!(r.total, 0);

        // Paging keeps the total and walks the order.
        let mut q = list(PersonScope::Province("12".into()), None);
        q.limit = 2;
        q.offset = 2;
        let page = s.list_persons(&q).await.unwrap();
        assert_eq!(page.total, 5);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[0].full_name, "Nguyễn Thị Ánh");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn denominators_are_derived_from_the_register() {
    for db in TestDb::all().await {
        let persons = seeded(&db).await;
        let as_of = d(2026, 1, 1);
        let rows = store::rebuild_denominators(db.store.as_ref(), as_of)
            .await
            .unwrap();
        // Trần Đức Bình is born after as_of and is not counted.
        let all = db.store.denominators(None).await.unwrap();
        assert_eq!(all.len(), rows);
        assert_eq!(all.iter().map(|r| r.count).sum::<u64>(), 5);
        let c1 = persons[0].commune_code.clone();
        let c1_rows = db
            .store
            .denominators(Some(std::slice::from_ref(&c1)))
            .await
            .unwrap();
        assert_eq!(c1_rows.iter().map(|r| r.count).sum::<u64>(), 3);
        let boy = c1_rows
            .iter()
            .find(|r| r.sex == Sex::Male && r.age_band.label() == "10-14")
            .unwrap();
        assert_eq!(boy.count, 1);
        // Rebuilding replaces, never accumulates.
        store::rebuild_denominators(db.store.as_ref(), as_of)
            .await
            .unwrap();
        let again = db.store.denominators(None).await.unwrap();
        assert_eq!(again, all);
        assert!(db.store.denominators(Some(&[])).await.unwrap().is_empty());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unreachable_postgres_is_a_clear_error() {
    let err = store::connect("postgres://postgres@127.0.0.1:1/nowhere")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::StorageUnavailable);
    assert!(err.message_vi.contains("PostgreSQL"), "{}", err.message_vi);
    assert!(!err.message_vi.contains('\n'));
    let err = store::connect("sqlite:///nonexistent-dir/x/y.db")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::StorageUnavailable);
}

#[tokio::test]
async fn register_import_inserts_then_updates_by_citizen_id_or_external_id() {
    use domain::register::parse_row;
    let units = domain::units::AdminUnits::embedded();
    let entry = |id: &str, name: &str, ext: &str, commune: &str| {
        let pairs = [
            ("national_id", id.to_string()),
            ("full_name", name.to_string()),
            ("dob", "1990-05-01".to_string()),
            ("sex", "nam".to_string()),
            ("commune_code", commune.to_string()),
            ("phone", "0912345678".to_string()),
            ("external_id", ext.to_string()),
            ("household_id", "HH-7".to_string()),
        ];
        parse_row(
            |c| pairs.iter().find(|(k, _)| *k == c).map(|(_, v)| v.clone()),
            units,
        )
        .unwrap()
    };
    let audit = domain::audit::NewAuditEntry {
        at: chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
        actor_id: None,
        actor: Some("test".into()),
        action: "population.import".into(),
        entity_type: None,
        entity_id: None,
        unit_code: None,
        ip: None,
        details: serde_json::json!({}),
    };
    for db in TestDb::all().await {
        let s = &db.store;
        let first = vec![
            entry("012090001234", "nguyen van an", "", "00097"),
            entry("", "Trần Văn Bình", "EXT-2", "00001"),
        ];
        assert_eq!(s.upsert_register(&first, &audit).await.unwrap(), (2, 0));
        // Same citizen ID and same external id: updates, not duplicates.
        let second = vec![
            entry("012090001234", "Nguyễn Văn An", "", "00004"),
            entry("", "Trần Văn Bình", "EXT-2", "00097"),
            entry("012090009999", "Lê Văn Cường", "", "00097"),
        ];
        assert_eq!(s.upsert_register(&second, &audit).await.unwrap(), (1, 2));
        assert_eq!(s.count_persons().await.unwrap(), 3);
        let mut q = PersonQuery::new(PersonScope::Province("01".into()));
        q.text = Some("nguyen van an".into());
        let an = s.list_persons(&q).await.unwrap();
        assert_eq!(an.total, 1);
        assert_eq!(an.items[0].full_name, "Nguyễn Văn An");
        assert_eq!(an.items[0].commune_code, "00004");
        assert_eq!(
            an.items[0].household_id,
            Some(store::household_id_for("HH-7"))
        );
        // Old code 00001 was mapped to 2025 commune 00097 and kept as the old commune.
        q.text = Some("tran van binh".into());
        let binh = s.list_persons(&q).await.unwrap();
        assert_eq!(binh.items[0].commune_code, "00097");
        assert_eq!(store::verify_audit(s.as_ref()).await.unwrap(), Ok(2));
        db.cleanup().await;
    }
}
