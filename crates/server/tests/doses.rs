//! Recording doses over HTTP (issue 5, point 3), on SQLite and PostgreSQL: a batch with good and
//! bad rows (per-row errors, good rows linked, re-sending stores nothing), one dose for a known
//! person with the schedule warning of a second dose given too soon, the classified history,
//! lot warnings, the reference lists and the template, a vaccination-site user refused outside
//! its unit, and the coverage counters moved by the recorded doses.

use chrono::NaiveDate;
use domain::person::Person;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{TestApp, TestDb};

async fn post(
    client: &reqwest::Client,
    app: &TestApp,
    csrf: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = client
        .post(app.url(path))
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, Value) {
    let r = client.get(app.url(path)).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn dose_row(p: &Person, id: &str, date: &str, site: &str) -> Value {
    json!({
        "record_id": id,
        "national_id": p.national_id.as_ref().map(|n| n.as_str().to_string()).unwrap_or_default(),
        "full_name": p.full_name,
        "dob": p.dob.to_string(),
        "sex": p.sex.as_str(),
        "commune_code": p.commune_code,
        "phone": "",
        "vaccine": "Pfizer",
        "dose_date": date,
        "lot": "",
        "site_code": site,
    })
}

/// `at_least_one` and `primary_complete` of everyone in the province.
async fn province_coverage(app: &TestApp) -> (u64, u64) {
    let unit = store::CoverageUnit::resolve("12", None).unwrap();
    let as_of = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let report = store::coverage_report(app.db.store.as_ref(), &unit, as_of)
        .await
        .unwrap();
    let all = report
        .groups
        .iter()
        .find(|g| g.age_group == "all")
        .expect("group all");
    (all.at_least_one, all.primary_complete)
}

#[tokio::test]
async fn batches_single_doses_warnings_scope_and_coverage() {
    for db in TestDb::all().await {
        let backend = db.store.backend().as_str();
        let persons = testkit::load_demo(db.store.as_ref(), "12", 1500, 21)
            .await
            .persons;
        let adults: Vec<&Person> = persons
            .iter()
            .filter(|p| {
                p.national_id.is_some() && p.dob < NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()
            })
            .collect();
        let home = adults[0].commune_code.clone();
        let site = "TYT-DOSES-1";
        db.store
            .upsert_vaccination_sites(&[store::VaccinationSite {
                code: site.into(),
                name: "Trạm Y tế thử".into(),
                commune_code: Some(home.clone()),
            }])
            .await
            .unwrap();
        db.store
            .upsert_vaccine_lots(&[store::VaccineLot {
                product: "EU/1/20/1528".into(),
                lot: "OLD-1".into(),
                expiry: NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(),
            }])
            .await
            .unwrap();
        let app = TestApp::spawn(db).await;
        app.add_user("admin", "admin", None, None).await;
        let csrf = app.login("admin").await;
        let c = &app.client;
        let (before_one, before_complete) = province_coverage(&app).await;

        // 60 good rows (first doses of adults) and three bad ones.
        let mut records: Vec<Value> = adults[1..61]
            .iter()
            .enumerate()
            .map(|(i, p)| dose_row(p, &format!("B{i}"), "2021-08-02", site))
            .collect();
        let mut impossible = dose_row(adults[61], "BAD-DATE", "2021-02-30", site);
        impossible["dose_date"] = json!("30/02/2021");
        let mut unknown = dose_row(adults[62], "BAD-VACCINE", "2021-08-02", site);
        unknown["vaccine"] = json!("Sputnik Light X");
        let nobody = json!({"record_id": "NOBODY", "vaccine": "Moderna",
            "dose_date": "2021-08-02", "site_code": site});
        records.extend([impossible, unknown, nobody]);
        let batch = json!({ "records": records });
        let (status, summary) = post(c, &app, &csrf, "/api/v1/doses", batch.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {summary}");
        assert_eq!(summary["inserted"], 60, "{summary}");
        assert_eq!(summary["rejected"], 3, "{summary}");
        assert!(summary["linked"].as_u64().unwrap() >= 57, "{summary}");
        let errors = summary["errors"].as_array().unwrap();
        let cols: Vec<(u64, &str)> = errors
            .iter()
            .map(|e| (e["index"].as_u64().unwrap(), e["column"].as_str().unwrap()))
            .collect();
        assert!(cols.contains(&(60, "dose_date")), "{summary}");
        assert!(cols.contains(&(61, "vaccine")), "{summary}");
        assert!(cols.contains(&(62, "national_id")), "{summary}");
        assert!(
            errors
                .iter()
                .all(|e| !e["message"].as_str().unwrap().is_empty())
        );
        // Sent again: nothing new.
        let (status, again) = post(c, &app, &csrf, "/api/v1/doses", batch).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(again["inserted"], 0, "{again}");
        assert_eq!(again["duplicates"], 60, "{again}");

        // The counters moved by the linked first doses, in the write transaction.
        let linked = summary["linked"].as_u64().unwrap();
        let (one, complete) = province_coverage(&app).await;
        assert_eq!(one, before_one + linked, "{backend}");
        assert_eq!(complete, before_complete);

        // One person, dose by dose.
        let p = adults[0];
        let path = format!("/api/v1/persons/{}/doses", p.id);
        let (status, first) = post(
            c,
            &app,
            &csrf,
            &path,
            json!({"vaccine": "Pfizer", "dose_date": "01/08/2021", "site_code": site}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(first["kind"], "primary_1");
        assert_eq!(first["schedule_warnings"], json!([]), "{first}");
        // A second dose 9 days later: Pfizer needs 21 days. Checking stores nothing.
        let too_soon = json!({"vaccine": "Comirnaty", "dose_date": "2021-08-10",
            "site_code": site, "lot": "OLD-1", "check_only": true});
        let (status, check) = post(c, &app, &csrf, &path, too_soon.clone()).await;
        assert_eq!(status, StatusCode::OK, "{check}");
        assert_eq!(check["kind"], "primary_2");
        assert_eq!(check["inserted"], false);
        let w = &check["schedule_warnings"][0];
        assert_eq!(w["code"], "interval_too_short", "{check}");
        assert!(w["verified"].is_boolean(), "{check}");
        assert!(w["message_vi"].as_str().unwrap().contains("21"), "{check}");
        assert_eq!(
            check["record_warnings"][0]["code"], "lot_expired",
            "{check}"
        );
        let (_, h) = get(c, &app, &format!("/api/v1/persons/{}/vaccinations", p.id)).await;
        assert_eq!(h["doses"].as_array().unwrap().len(), 1, "{h}");
        let mut record = too_soon;
        record["check_only"] = json!(false);
        let (status, second) = post(c, &app, &csrf, &path, record).await;
        assert_eq!(status, StatusCode::CREATED, "{second}");
        assert_eq!(second["schedule_warnings"][0]["code"], "interval_too_short");
        let (status, h) = get(c, &app, &format!("/api/v1/persons/{}/vaccinations", p.id)).await;
        assert_eq!(status, StatusCode::OK, "{h}");
        let kinds: Vec<&str> = h["doses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["primary_1", "primary_2"], "{h}");
        assert_eq!(
            h["doses"][1]["warnings"][0]["code"], "interval_too_short",
            "{h}"
        );
        assert_eq!(h["doses"][1]["site_name"], "Trạm Y tế thử");
        assert_eq!(h["primary_complete"], true, "{h}");
        assert_eq!(h["next"]["kind"], "booster_1", "{h}");
        let (_, complete_after) = province_coverage(&app).await;
        assert_eq!(complete_after, complete + 1, "{backend}");
        // Bad input on the single-dose route: 400 with the cells.
        let (status, bad) = post(
            c,
            &app,
            &csrf,
            &path,
            json!({"vaccine": "Nope", "dose_date": "2021-13-01", "site_code": site}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            bad["error"]["details"]["errors"].as_array().unwrap().len(),
            2,
            "{bad}"
        );

        // A vaccination-site user works in its commune only.
        app.add_user("tram", "vaccination_site", Some(&home), None)
            .await;
        let (tc, tcsrf) = app.login_as("tram").await;
        let stranger = persons
            .iter()
            .find(|q| {
                q.commune_code != home
                    && q.national_id.is_some()
                    && q.dob < NaiveDate::from_ymd_opt(1990, 1, 1).unwrap()
            })
            .unwrap();
        let own = adults.iter().skip(61).find(|q| q.commune_code == home);
        let mut other_site = dose_row(stranger, "OUT-1", "2021-09-01", "TYT-ELSEWHERE");
        other_site["commune_code"] = json!(stranger.commune_code);
        let (status, refused) = post(
            &tc,
            &app,
            &tcsrf,
            "/api/v1/doses",
            json!({"records": [other_site]}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        assert_eq!(
            refused["error"]["details"]["records"],
            json!([0]),
            "{refused}"
        );
        // Given at the user's own site: accepted even for someone living elsewhere.
        let at_home_site = dose_row(stranger, "IN-1", "2021-09-01", site);
        let (status, ok) = post(
            &tc,
            &app,
            &tcsrf,
            "/api/v1/doses",
            json!({"records": [at_home_site]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{ok}");
        assert_eq!(ok["inserted"], 1);
        if let Some(own) = own {
            let row = dose_row(own, "IN-2", "2021-09-01", "TYT-ELSEWHERE");
            let (status, ok) = post(
                &tc,
                &app,
                &tcsrf,
                "/api/v1/doses",
                json!({"records": [row]}),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{ok}");
        }
        let (status, _) = post(
            &tc,
            &app,
            &tcsrf,
            &format!("/api/v1/persons/{}/doses", stranger.id),
            json!({"vaccine": "Pfizer", "dose_date": "2021-09-01", "site_code": site}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = get(
            &tc,
            &app,
            &format!("/api/v1/persons/{}/vaccinations", stranger.id),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Reference lists and the template.
        let (_, vaccines) = get(c, &app, "/api/v1/vaccines").await;
        let pfizer = vaccines["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["code"] == "EU/1/20/1528")
            .unwrap();
        assert!(
            pfizer["aliases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "Pfizer")
        );
        assert_eq!(pfizer["schedule"]["primary_doses"], 2);
        let (_, sites) = get(c, &app, "/api/v1/vaccination-sites").await;
        assert_eq!(sites[0]["code"], site);
        let (_, lots) = get(c, &app, "/api/v1/vaccine-lots").await;
        assert_eq!(lots[0]["lot"], "OLD-1");
        let t = app.get("/api/v1/doses/template.xlsx").await;
        assert_eq!(t.status(), StatusCode::OK);
        let bytes = t.bytes().await.unwrap();
        assert_eq!(&bytes[..2], b"PK", "an xlsx is a zip");

        // Every recording was audited.
        let (_, audit) = get(c, &app, "/api/v1/audit?limit=100").await;
        let actions: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert!(actions.contains(&"dose.record"), "{actions:?}");
        assert!(actions.contains(&"doses.record_batch"), "{actions:?}");
        app.stop().await;
    }
}
