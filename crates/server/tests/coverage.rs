//! Coverage and allocation over HTTP, on SQLite and (with `PHONGDICH_TEST_PG`) PostgreSQL:
//! `GET /api/v1/coverage` gives the store's report and clean errors; `GET /api/v1/allocation`
//! splits a delivery exactly within the caller's scope; the vaccination pages render the table,
//! the SVG charts, the links down the hierarchy and the allocation reasoning.

use domain::audit::NewAuditEntry;
use serde_json::Value;
use store::{CoverageUnit, LinkDecision, LinkStatus, NewSourceRecord, RecordKind};
use testkit::{TestApp, TestDb};
use uuid::Uuid;

fn d(y: i32, m: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// A demo population of Lai Châu with its 2021–2023 doses linked.
async fn seeded(db: TestDb) -> TestApp {
    let s = db.store.as_ref();
    let pop = testkit::load_demo(s, "12", 600, 21).await;
    let history = demo::vaccination::vaccination_history(
        &pop.persons,
        domain::units::AdminUnits::embedded(),
        21,
        d(2023, 12, 31),
    );
    let records: Vec<NewSourceRecord> = history
        .doses
        .iter()
        .map(|dose| NewSourceRecord {
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
        })
        .collect();
    s.insert_source_records(&records).await.unwrap();
    let decisions: Vec<LinkDecision> = records
        .iter()
        .zip(&history.doses)
        .map(|(r, dose)| LinkDecision {
            record_id: r.id,
            status: LinkStatus::Linked,
            person_id: Some(dose.person_id),
            probability: Some(1.0),
            decided_by: "test".into(),
            candidates: None,
        })
        .collect();
    s.apply_link_decisions(&decisions, None).await.unwrap();
    let app = TestApp::spawn(db).await;
    app.add_user("canbo_tinh", "province_officer", Some("12"), None)
        .await;
    let commune = domain::units::AdminUnits::embedded()
        .v2025
        .communes_under("12")[0]
        .clone();
    app.add_user("canbo_xa", "commune_staff", Some(&commune), None)
        .await;
    app
}

async fn json(c: &reqwest::Client, app: &TestApp, path: &str) -> (u16, Value) {
    let r = c.get(app.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn text(c: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn coverage_and_allocation_api() {
    for db in TestDb::all().await {
        let app = seeded(db).await;
        let (tinh, _) = app.login_as("canbo_tinh").await;
        let (xa, _) = app.login_as("canbo_xa").await;

        // The report is the store's, in the documented shape.
        let (status, body) = json(&xa, &app, "/api/v1/coverage?unit=12&as_of=2026-01-01").await;
        assert_eq!(status, 200, "{body}");
        let unit = CoverageUnit::resolve("12", None).unwrap();
        let want = store::coverage_report(app.db.store.as_ref(), &unit, d(2026, 1, 1))
            .await
            .unwrap();
        assert_eq!(body, serde_json::to_value(&want).unwrap());
        assert_eq!(body["unit"], "12");
        assert_eq!(body["as_of"], "2026-01-01");
        let groups = body["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 7);
        let all = groups.iter().find(|g| g["age_group"] == "all").unwrap();
        assert_eq!(all["population"], 600);
        assert!(all["at_least_one"].as_u64().unwrap() > 100, "{all}");
        for key in [
            "population",
            "at_least_one",
            "primary_complete",
            "booster1",
            "booster2",
        ] {
            assert!(all[key].is_u64(), "{key}");
        }
        // The same figures as of an earlier date are smaller, and the pre-2025 province of the
        // same residents gives the same totals.
        let (_, early) = json(&xa, &app, "/api/v1/coverage?unit=12&as_of=2021-09-30").await;
        let early_all = &early["groups"][6];
        assert!(early_all["at_least_one"].as_u64() < all["at_least_one"].as_u64());
        let (status, old) = json(
            &xa,
            &app,
            "/api/v1/coverage?unit=12&hierarchy=pre2025&as_of=2026-01-01",
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(old["hierarchy"], "pre2025");
        assert_eq!(old["groups"][6]["at_least_one"], all["at_least_one"]);

        // Errors.
        let (status, e) = json(&xa, &app, "/api/v1/coverage?unit=99999&as_of=2026-01-01").await;
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (404, Some("not_found"))
        );
        let (status, e) = json(&xa, &app, "/api/v1/coverage?unit=12&as_of=2026-02-30").await;
        assert_eq!(status, 400);
        assert_eq!(e["error"]["code"], "invalid_input");
        assert_eq!(e["error"]["details"]["field"], "as_of");
        let (status, e) = json(&xa, &app, "/api/v1/coverage").await;
        assert_eq!(
            (status, &e["error"]["details"]["field"]),
            (400, &Value::from("unit"))
        );
        let (status, _) = json(&xa, &app, "/api/v1/coverage?unit=12&hierarchy=1990").await;
        assert_eq!(status, 400);
        let anonymous = reqwest::Client::new();
        let (status, _) = json(&anonymous, &app, "/api/v1/coverage?unit=12").await;
        assert_eq!(status, 401);

        // Allocation: exact sums, steps per eligible group, needs behind each unit.
        let path = "/api/v1/allocation?unit=12&product=Pfizer&doses=1000&as_of=2026-01-01";
        let (status, plan) = json(&tinh, &app, path).await;
        assert_eq!(status, 200, "{plan}");
        assert_eq!(plan["product"], "EU/1/20/1528");
        assert_eq!(plan["primary_doses"], 2);
        assert!(
            plan["need_formula_en"]
                .as_str()
                .unwrap()
                .contains("primary")
        );
        let units = plan["units"].as_array().unwrap();
        let children = domain::units::AdminUnits::embedded()
            .v2025
            .communes_under("12");
        assert_eq!(units.len(), children.len());
        let sum: u64 = units.iter().map(|u| u["doses"].as_u64().unwrap()).sum();
        assert_eq!(sum, plan["allocated"].as_u64().unwrap());
        assert_eq!(
            plan["allocated"].as_u64().unwrap() + plan["left_over"].as_u64().unwrap(),
            1000
        );
        let steps = plan["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 5);
        assert_eq!(steps[0]["group"], "65+");
        assert!(
            steps[0]["explanation_vi"]
                .as_str()
                .unwrap()
                .starts_with("Nhóm 65+")
        );
        for (u, n) in units.iter().zip(plan["needs"].as_array().unwrap()) {
            assert_eq!(u["unit_code"], n["unit_code"]);
            let need: u64 = n["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["need"].as_u64().unwrap())
                .sum();
            assert_eq!(u["need"].as_u64().unwrap(), need);
            assert!(u["doses"].as_u64().unwrap() <= need);
        }
        // AstraZeneca: adults only.
        let (_, az) = json(
            &tinh,
            &app,
            "/api/v1/allocation?unit=12&product=AstraZeneca&doses=50&as_of=2026-01-01",
        )
        .await;
        assert_eq!(az["groups"], serde_json::json!(["65+", "50-64", "18-49"]));

        // Scope and validation.
        let (status, _) = json(
            &tinh,
            &app,
            "/api/v1/allocation?unit=01&product=Pfizer&doses=5",
        )
        .await;
        assert_eq!(status, 403);
        let (status, _) = json(&xa, &app, path).await;
        assert_eq!(status, 403);
        let (status, e) = json(
            &tinh,
            &app,
            "/api/v1/allocation?unit=12&product=Sữa&doses=5",
        )
        .await;
        assert_eq!(
            (status, &e["error"]["details"]["field"]),
            (400, &Value::from("product"))
        );
        let (status, e) = json(
            &tinh,
            &app,
            "/api/v1/allocation?unit=12&product=Pfizer&doses=-3",
        )
        .await;
        assert_eq!(
            (status, &e["error"]["details"]["field"]),
            (400, &Value::from("doses"))
        );
        let commune = &children[0];
        let (status, e) = json(
            &tinh,
            &app,
            &format!("/api/v1/allocation?unit={commune}&product=Pfizer&doses=5"),
        )
        .await;
        assert_eq!(
            (status, &e["error"]["details"]["field"]),
            (400, &Value::from("unit"))
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn vaccination_pages() {
    let app = seeded(TestDb::sqlite().await).await;
    let (tinh, _) = app.login_as("canbo_tinh").await;
    let (xa, _) = app.login_as("canbo_xa").await;

    let (status, landing) = text(&xa, &app, "/vaccination").await;
    assert_eq!(status, 200);
    for link in [
        "/vaccination/coverage",
        "/vaccination/record",
        "/vaccination/followup",
        "/vaccination/allocation",
    ] {
        assert!(landing.contains(&format!("href=\"{link}\"")), "{link}");
    }
    assert!(!landing.contains("đang được xây dựng"));

    // No unit yet: the picker only.
    let (status, page) = text(&xa, &app, "/vaccination/coverage").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"coverage-picker\"") && !page.contains("coverage-table"));

    let (status, page) = text(
        &xa,
        &app,
        "/vaccination/coverage?unit=12&hierarchy=2025&as_of=01/01/2026&level=primary_complete&group=18%2B",
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"coverage-table\""));
    assert!(page.contains("<svg id=\"coverage-chart\""));
    assert!(page.contains("<svg id=\"children-chart\""));
    assert!(page.contains("01/01/2026"));
    let commune = domain::units::AdminUnits::embedded()
        .v2025
        .communes_under("12")[0]
        .clone();
    assert!(page.contains(&format!(
        "/vaccination/coverage?unit={commune}&amp;hierarchy=2025&amp;as_of=2026-01-01"
    )));
    // The "all" row shows the register's 600 residents.
    assert!(page.contains("data-group=\"all\""));
    let row = page.split("data-group=\"all\"").nth(1).unwrap();
    assert!(row.contains(">600<"), "{}", &row[..300.min(row.len())]);
    // A commune: its table, no units below; the path links back to the province.
    let (status, page) = text(
        &xa,
        &app,
        &format!("/vaccination/coverage?unit={commune}&hierarchy=2025&as_of=2026-01-01"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"unit-path\"") && !page.contains("children-chart"));
    let (status, _) = text(&xa, &app, "/vaccination/coverage?unit=99999").await;
    assert_eq!(status, 404);
    let (status, _) = text(&xa, &app, "/vaccination/coverage?unit=12&as_of=32/13/2020").await;
    assert_eq!(status, 400);

    // Allocation: the form, then the result with its steps.
    let (status, page) = text(&tinh, &app, "/vaccination/allocation").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"allocation-form\"") && page.contains("value=\"12\""));
    let (status, page) = text(
        &tinh,
        &app,
        "/vaccination/allocation?hierarchy=2025&unit=12&product=EU%2F1%2F20%2F1528&doses=1000&as_of=01%2F01%2F2026",
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"allocation-steps\"") && page.contains("Nhóm 65+"));
    assert!(page.contains("id=\"allocation-table\"") && page.contains("id=\"needs-table\""));
    let (status, page) = text(
        &tinh,
        &app,
        "/vaccination/allocation?hierarchy=2025&unit=01&product=Pfizer&doses=10",
    )
    .await;
    assert_eq!(status, 403);
    assert!(page.contains("allocation-error"));
    let (status, _) = text(&xa, &app, "/vaccination/allocation").await;
    assert_eq!(status, 403);
    app.stop().await;
}

/// The dose form chooses nothing for the clerk but their own commune's site; a form sent twice
/// (double click, back button) stores the dose once; its record id cannot be reused for another
/// dose; and a person merged into another is refused with where to go instead.
#[tokio::test]
async fn the_dose_form_stores_a_resent_form_once() {
    let db = TestDb::sqlite().await;
    let store = db.store.clone();
    let pop = testkit::load_demo(store.as_ref(), "12", 300, 8).await;
    let adults: Vec<&domain::person::Person> = pop
        .persons
        .iter()
        .filter(|p| p.dob < d(1990, 1, 1) && p.national_id.is_some())
        .take(2)
        .collect();
    let (person, other) = (adults[0].clone(), adults[1].clone());
    store
        .upsert_vaccination_sites(&[
            store::VaccinationSite {
                code: "BV-X".into(),
                name: "Bệnh viện X".into(),
                commune_code: None,
            },
            store::VaccinationSite {
                code: "TYT-X".into(),
                name: "Trạm Y tế X".into(),
                commune_code: Some(person.commune_code.clone()),
            },
        ])
        .await
        .unwrap();
    let app = TestApp::spawn(db).await;
    let user =
        testkit::ApiUser::login(&app, "tram", "vaccination_site", &person.commune_code).await;
    let path = format!("/vaccination/record/{}", person.id);
    let (status, _, page) = user.text(&app, &path).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<option value=\"\" selected>— chọn vắc xin —</option>"),
        "no vaccine is chosen for the clerk"
    );
    assert!(
        page.contains("<option value=\"TYT-X\" selected>"),
        "own site chosen"
    );
    let record_id = page
        .split("name=\"record_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form carries a record id")
        .to_string();
    assert!(record_id.starts_with("F-"), "{record_id}");
    let fields = |date: &'static str, vaccine: &'static str| {
        vec![
            ("record_id", record_id.clone()),
            ("vaccine", vaccine.to_string()),
            ("dose_date", date.to_string()),
            ("lot", String::new()),
            ("site_code", "TYT-X".to_string()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let (user, app, path) = (&user, &app, path.clone());
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            user.form(app, &path, &fields).await
        }
    };
    // Sent twice: the same dose, stored once, still the first dose.
    for _ in 0..2 {
        let (status, to, _) = send(fields("01/08/2021", "EU/1/20/1528")).await;
        assert_eq!(status, 303);
        assert_eq!(to.unwrap(), format!("{path}?recorded=primary_1"));
    }
    let history = intake::doses::person_history(store.as_ref(), person.id)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    // The same record id for another dose: refused, nothing stored.
    let (status, _, body) = send(fields("01/09/2021", "EU/1/20/1528")).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("đã được dùng cho một mũi tiêm khác"),
        "{body}"
    );
    // No vaccine chosen: the form comes back saying so.
    let (status, _, body) = send(fields("01/09/2021", "")).await;
    assert_eq!(status, 422);
    assert!(body.contains("Thiếu tên vắc xin"), "{body}");
    assert_eq!(
        intake::doses::person_history(store.as_ref(), person.id)
            .await
            .unwrap()
            .len(),
        1
    );
    // COVID-19 on 01/09/2021 (a lab's positive test): a dose ten days later is too soon, and
    // the next dose moves past the deferral (90 days, vaccination rules).
    app.add_user("lab", "lab", Some("12"), None).await;
    let (lab, lab_csrf) = app.login_as("lab").await;
    let positive = serde_json::json!({"records": [{
        "record_id": "T-DEFER",
        "national_id": person.national_id.as_ref().unwrap().as_str(),
        "full_name": person.full_name,
        "dob": person.dob.to_string(),
        "sex": person.sex.as_str(),
        "commune_code": person.commune_code,
        "sample_date": "2021-09-01",
        "test_type": "rt-pcr",
        "result": "positive",
        "lab_code": "LAB-X",
    }]});
    let r = lab
        .post(app.url("/api/v1/tests"))
        .header("x-csrf-token", &lab_csrf)
        .json(&positive)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (status, check) = user
        .post(
            &app,
            &format!("/api/v1/persons/{}/doses", person.id),
            serde_json::json!({"vaccine": "Pfizer", "dose_date": "11/09/2021",
                "site_code": "TYT-X", "check_only": true}),
        )
        .await;
    assert_eq!(status, 200, "{check}");
    let codes: Vec<&str> = check["schedule_warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["too_soon_after_infection"], "{check}");
    let (_, history) = user
        .get(&app, &format!("/api/v1/persons/{}/vaccinations", person.id))
        .await;
    assert_eq!(history["next"]["due"], "2021-11-30", "{history}");
    // A person merged into another: refused, with the kept person named; nothing stored.
    store
        .merge_persons(
            other.id,
            person.id,
            "tram",
            &NewAuditEntry {
                at: chrono::Utc::now(),
                actor_id: None,
                actor: Some("tram".into()),
                action: "persons.merge".into(),
                entity_type: Some("person".into()),
                entity_id: Some(person.id.to_string()),
                unit_code: None,
                ip: None,
                details: serde_json::json!({}),
            },
        )
        .await
        .unwrap();
    let mut resent = fields("01/10/2021", "EU/1/20/1528");
    resent[0].1 = "F-after-merge".into();
    let (status, _, body) = send(resent).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("đã được gộp vào hồ sơ khác"), "{body}");
    assert!(body.contains(&other.id.to_string()), "{body}");
    app.stop().await;
}
