//! Weekly epidemic level over HTTP, on SQLite and PostgreSQL: a province officer computes the
//! current week from stored cases (a commune with an outbreak is level 4 and in crisis, a quiet
//! one is not), nothing is public until approved, capacity typed for the province enters the
//! province's crisis reasons and recomputing replaces the proposed run, crisis alerts, approval
//! (effective 48 h later, a second approval refused), the public levels and page (map, table,
//! "cần xác nhận"), the levels in force once the 48 h have passed; and who may do what.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::person::{NationalId, Person, Sex};
use domain::surveillance::{TestResult, TestType};
use domain::test_record::TestRow;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{ApiUser, TestApp, TestDb};
use uuid::Uuid;

fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

fn person(commune: &str, n: u32) -> Person {
    let sex = if n.is_multiple_of(2) {
        Sex::Male
    } else {
        Sex::Female
    };
    let year = 1950 + (n % 50) as i32;
    let dob = NaiveDate::from_ymd_opt(year, 1 + n % 12, 1 + n % 27).unwrap();
    Person {
        id: Uuid::now_v7(),
        province_code: "12".into(),
        commune_code: commune.into(),
        old_commune_code: None,
        household_id: None,
        full_name: format!("Lò Văn Người {n}"),
        dob,
        sex,
        national_id: NationalId::compose(12, dob.year(), sex, 7000 + n),
        phone: None,
    }
}

fn positive(p: &Person, id: &str, sample: NaiveDate) -> TestRow {
    TestRow {
        record_id: id.into(),
        lab_code: "CDC-12".into(),
        national_id: p.national_id.as_ref().unwrap().as_str().into(),
        full_name: p.full_name.clone(),
        dob: p.dob.to_string(),
        sex: p.sex.as_str().into(),
        commune_code: p.commune_code.clone(),
        phone: String::new(),
        sample_date: sample,
        test_type: TestType::RtPcr,
        result: TestResult::Positive,
    }
}

fn audit() -> NewAuditEntry {
    NewAuditEntry {
        at: Utc::now(),
        actor_id: None,
        actor: Some("test".into()),
        action: "test.record".into(),
        entity_type: None,
        entity_id: None,
        unit_code: None,
        ip: None,
        details: json!({}),
    }
}

fn unit<'a>(run: &'a Value, code: &str) -> &'a Value {
    run["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit_code"] == code)
        .unwrap_or_else(|| panic!("unit {code} in {run}"))
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn weekly_levels_computed_approved_and_published_on_both_backends() {
    for db in TestDb::all().await {
        let backend = db.store.backend().as_str();
        let units = domain::units::AdminUnits::embedded();
        let communes = units.v2025.communes_under("12");
        let (hot, quiet) = (communes[0].clone(), communes[1].clone());
        let mut people: Vec<Person> = (0..40).map(|n| person(&hot, n)).collect();
        people.extend((40..80).map(|n| person(&quiet, n)));
        db.store.insert_persons(&people).await.unwrap();
        // Five community cases in the hot commune this week (5 per 40 people: very high).
        let rows: Vec<TestRow> = people[..5]
            .iter()
            .enumerate()
            .map(|(i, p)| positive(p, &format!("L{i}"), today()))
            .collect();
        let s =
            intake::lab_tests::record_tests(db.store.as_ref(), &rows, Utc::now(), Some(&audit()))
                .await
                .unwrap();
        assert_eq!(s.cases_created, 5, "{backend}");

        let app = TestApp::spawn(db).await;
        let tinh = ApiUser::login(&app, "tinh", "province_officer", "12").await;
        let hanoi = ApiUser::login(&app, "hanoi", "province_officer", "01").await;
        let tram = ApiUser::login(&app, "tram", "commune_staff", &hot).await;
        let anyone = reqwest::Client::new();

        // --- Compute the current week.
        let (s, run) = tinh
            .send(
                &app,
                Method::POST,
                "/api/v1/levels/runs",
                Some(json!({"province_code": "12"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{backend}: {run}");
        assert_eq!(run["run"]["status"], "proposed");
        assert_eq!(run["run"]["ruleset"], "qd-218-2022", "{run}");
        assert_eq!(run["run"]["hierarchy"], "2025");
        let week_start: NaiveDate = run["run"]["week_start"].as_str().unwrap().parse().unwrap();
        assert_eq!(week_start.weekday(), chrono::Weekday::Mon);
        assert_eq!(
            time(&run["run"]["effective_at"]) - time(&run["run"]["computed_at"]),
            Duration::hours(48)
        );
        let h = unit(&run, &hot);
        assert_eq!(h["level"], 4, "{h}");
        assert_eq!(h["crisis"], true, "{h}");
        assert_eq!(h["unit_kind"], "commune");
        assert_eq!(h["indicators"]["new_cases_week"], 5.0, "{h}");
        assert_eq!(h["indicators"]["population"], 40.0, "{h}");
        assert!(
            (h["assessment"]["criteria"]["cases_per_100k_week"]
                .as_f64()
                .unwrap()
                - 12_500.0)
                .abs()
                < 1e-6
        );
        let q = unit(&run, &quiet);
        assert!(q["level"].as_u64().unwrap() < 4, "{q}");
        assert_eq!(q["crisis"], false, "{q}");
        assert_eq!(q["indicators"]["new_cases_week"], 0.0);
        let p = unit(&run, "12");
        assert_eq!(p["unit_kind"], "province");
        assert_eq!(p["indicators"]["population"], 80.0, "{p}");
        assert!(
            p["assessment"]["unverified"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u.as_str().unwrap().starts_with("aggregation")),
            "{p}"
        );
        // Communes without register population are not assessed.
        assert_eq!(run["units"].as_array().unwrap().len(), 3, "{run}");

        // Not public while proposed.
        let public: Value = anyone
            .get(app.url("/api/v1/levels"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(public["provinces"], json!([]), "{public}");

        // --- Who may do what.
        let (s, _) = tram
            .send(
                &app,
                Method::POST,
                "/api/v1/levels/runs",
                Some(json!({"province_code": "12"})),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = hanoi
            .send(
                &app,
                Method::POST,
                "/api/v1/levels/runs",
                Some(json!({"province_code": "12"})),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let run_id = run["run"]["id"].as_str().unwrap().to_string();
        let (s, _) = hanoi
            .send(
                &app,
                Method::GET,
                &format!("/api/v1/levels/runs/{run_id}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "another province's proposed run");
        let (s, _) = hanoi
            .send(
                &app,
                Method::POST,
                &format!("/api/v1/levels/runs/{run_id}/approve"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, e) = tinh
            .send(
                &app,
                Method::POST,
                "/api/v1/levels/runs",
                Some(json!({"province_code": "12", "week_start": (week_start + Duration::days(1)).to_string()})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        assert_eq!(e["error"]["details"]["field"], "week_start", "{e}");

        // --- Capacity typed for the province; recomputing replaces the proposed run.
        let (s, c) = tinh
            .send(
                &app,
                Method::PUT,
                "/api/v1/levels/capacity",
                Some(
                    json!({"unit_code": "12", "week_start": week_start.to_string(),
                            "free_covid_beds": 0, "icu_beds_staffed": 0}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{c}");
        let (s, bad) = tinh
            .send(
                &app,
                Method::PUT,
                "/api/v1/levels/capacity",
                Some(json!({"unit_code": "12", "week_start": week_start.to_string(), "free_covid_beds": -1})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        let (s, run) = tinh
            .send(
                &app,
                Method::POST,
                "/api/v1/levels/runs",
                Some(json!({"province_code": "12"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let p = unit(&run, "12");
        let reasons = p["assessment"]["crisis_reasons"].as_array().unwrap();
        assert!(
            reasons
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("free_beds")),
            "{p}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("icu")),
            "{p}"
        );
        let (_, list) = tinh
            .send(&app, Method::GET, "/api/v1/levels/runs?province=12", None)
            .await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
        let run_id = run["run"]["id"].as_str().unwrap().to_string();

        // --- Crisis alerts for the province officer.
        let (s, alerts) = tinh
            .send(&app, Method::GET, "/api/v1/levels/alerts?province=12", None)
            .await;
        assert_eq!(s, StatusCode::OK);
        let items = alerts["items"].as_array().unwrap();
        assert!(
            items.iter().any(|a| a["unit_code"] == hot.as_str()),
            "{alerts}"
        );
        assert!(items.iter().any(|a| a["unit_code"] == "12"), "{alerts}");
        let (s, _) = tram
            .send(&app, Method::GET, "/api/v1/levels/alerts?province=12", None)
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, page) = tinh.text(&app, "/epidemic-level/manage?province=12").await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("Cảnh báo khủng hoảng"), "{backend}");

        // --- Approval.
        let (s, approved) = tinh
            .send(
                &app,
                Method::POST,
                &format!("/api/v1/levels/runs/{run_id}/approve"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{approved}");
        assert_eq!(approved["status"], "approved");
        assert_eq!(approved["approved_by"], "tinh");
        assert!(
            time(&approved["effective_at"]) >= time(&approved["approved_at"]) + Duration::hours(48)
        );
        let (s, again) = tinh
            .send(
                &app,
                Method::POST,
                &format!("/api/v1/levels/runs/{run_id}/approve"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{again}");

        // Public: announced, not yet in force.
        let public: Value = anyone
            .get(app.url("/api/v1/levels?province=12"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let prov = &public["provinces"][0];
        assert_eq!(prov["province_code"], "12", "{public}");
        assert!(prov["in_force"].is_null(), "{public}");
        assert_eq!(prov["announced"]["run"]["id"], run_id.as_str());
        assert!(
            unit(&prov["announced"], &hot)["indicators"].is_null(),
            "inputs stay internal"
        );
        let r = anyone.get(app.url("/epidemic-level")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(html.contains("<svg"), "{backend}: the map");
        assert!(
            html.contains("cần xác nhận"),
            "{backend}: unverified marker"
        );
        assert!(html.contains("Cấp 4"), "{backend}");
        // After the 48 h the levels are in force.
        let later = intake::levels::levels_at(
            app.db.store.as_ref(),
            Some("12"),
            Utc::now() + Duration::hours(49),
        )
        .await
        .unwrap();
        assert_eq!(later[0].in_force.as_ref().unwrap().id.to_string(), run_id);
        assert!(later[0].announced.is_none());

        // The run page for the officer, with the reasoning.
        let (s, _, page) = tinh
            .text(&app, &format!("/epidemic-level/runs/{run_id}"))
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("qd-218-2022"));
        app.stop().await;
    }
}
