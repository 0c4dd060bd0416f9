//! Case surveillance over HTTP, on SQLite and PostgreSQL: test results open and update cases
//! (re-sending stores nothing, bad rows come back with their row, column and a Vietnamese
//! message, a caller of another commune is refused), the case list (masked) and record
//! (audited), a staff check-in with SpO2 93 putting the case at the top of the alert queue as an
//! emergency, a case without a check-in for more than 24 hours shown as overdue (the server's
//! clock moved forward), staff edits, discharge refused then granted, the citizen's own
//! check-in (404 without an open case), the daily report matching what was posted, submitting
//! it (the unit then no longer missing), out-of-scope 404/403, and the pages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::person::Person;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{TestApp, TestDb};

/// Hours the test server's clock runs ahead of the real one.
static SHIFT_HOURS: AtomicI64 = AtomicI64::new(0);

fn shifted_now() -> DateTime<Utc> {
    Utc::now() + Duration::hours(SHIFT_HOURS.load(Ordering::SeqCst))
}

/// Today in Vietnam.
fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

fn day(offset: i64) -> String {
    (today() + Duration::days(offset)).to_string()
}

async fn send(
    client: &reqwest::Client,
    app: &TestApp,
    method: reqwest::Method,
    csrf: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client
        .request(method, app.url(path))
        .header("x-csrf-token", csrf);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(
    client: &reqwest::Client,
    app: &TestApp,
    csrf: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    send(client, app, reqwest::Method::POST, csrf, path, Some(body)).await
}

async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, Value) {
    let r = client.get(app.url(path)).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = client.get(app.url(path)).send().await.unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

async fn form(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, Option<String>) {
    let r = client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, r.text().await.unwrap(), location)
}

fn test_row(p: &Person, id: &str, sample: &str, test_type: &str, result: &str) -> Value {
    json!({
        "record_id": id,
        "national_id": p.national_id.as_ref().map(|n| n.as_str().to_string()).unwrap_or_default(),
        "full_name": p.full_name,
        "dob": p.dob.to_string(),
        "sex": p.sex.as_str(),
        "commune_code": p.commune_code,
        "phone": p.phone.as_ref().map(|n| n.as_str().to_string()).unwrap_or_default(),
        "sample_date": sample,
        "test_type": test_type,
        "result": result,
        "lab_code": "LAB-LC",
    })
}

/// Five adults with a citizen ID and a phone in the commune that has most of them, and the
/// other communes' first such adult.
fn pick(persons: &[Person]) -> (String, Vec<Person>, Person) {
    let adults: Vec<&Person> = persons
        .iter()
        .filter(|p| {
            p.national_id.is_some()
                && p.phone.is_some()
                && p.old_commune_code.is_some()
                && p.dob < NaiveDate::from_ymd_opt(1995, 1, 1).unwrap()
                && p.dob > NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()
        })
        .collect();
    let mut by_commune: HashMap<&str, Vec<&Person>> = HashMap::new();
    for p in &adults {
        by_commune
            .entry(p.commune_code.as_str())
            .or_default()
            .push(p);
    }
    let (commune, people) = by_commune
        .iter()
        .max_by_key(|(c, v)| (v.len(), std::cmp::Reverse(**c)))
        .expect("a commune");
    assert!(people.len() >= 5, "demo too small: {}", people.len());
    let other = adults
        .iter()
        .find(|p| p.commune_code != *commune)
        .expect("another commune");
    (
        commune.to_string(),
        people.iter().take(5).map(|p| (*p).clone()).collect(),
        (*other).clone(),
    )
}

async fn audit_count(app: &TestApp, action: &str) -> u64 {
    app.db
        .store
        .list_audit(&store::AuditFilter {
            action: Some(action.into()),
            limit: 100,
            ..store::AuditFilter::default()
        })
        .await
        .unwrap()
        .total
}

#[tokio::test]
async fn tests_cases_alerts_reports_and_pages() {
    for db in TestDb::all().await {
        SHIFT_HOURS.store(0, Ordering::SeqCst);
        let backend = db.store.backend().as_str();
        let persons = testkit::load_demo(db.store.as_ref(), "12", 2000, 41)
            .await
            .persons;
        let (commune, ps, outsider) = pick(&persons);
        let (p1, p2, p3, p4, p5) = (&ps[0], &ps[1], &ps[2], &ps[3], &ps[4]);
        let app = TestApp::spawn_with(db, |mut s| {
            s.clock = shifted_now;
            s
        })
        .await;
        app.add_user("lab", "lab", Some("12"), None).await;
        app.add_user("tyt", "commune_staff", Some(&commune), None)
            .await;
        app.add_user(
            "tyt_other",
            "commune_staff",
            Some(&outsider.commune_code),
            None,
        )
        .await;
        app.add_user("dan2", "citizen", None, Some(p2.id)).await;
        app.add_user("dan4", "citizen", None, Some(p4.id)).await;
        let (lab, lab_csrf) = app.login_as("lab").await;
        let (tyt, mut tyt_csrf) = app.login_as("tyt").await;
        let (other, other_csrf) = app.login_as("tyt_other").await;
        let (dan2, dan2_csrf) = app.login_as("dan2").await;
        let (dan4, dan4_csrf) = app.login_as("dan4").await;

        // --- Test results: three positives open three cases; bad rows come back per cell.
        let mut bad_result = test_row(p5, "BAD-1", &day(-1), "rt-pcr", "maybe");
        bad_result["result"] = json!("có lẽ");
        let future = test_row(p5, "BAD-2", &day(3), "rt-pcr", "positive");
        let mut no_lab = test_row(p5, "BAD-3", &day(-1), "rt-pcr", "positive");
        no_lab["lab_code"] = json!("");
        let batch1 = json!({"records": [
            test_row(p1, "T1", &day(-3), "test nhanh", "dương tính"),
            test_row(p2, "T2", &day(-1), "RT-PCR", "positive"),
            test_row(p3, "T3", &day(-9), "rapid-antigen", "+"),
            test_row(p4, "T4", &day(-1), "rt-pcr", "negative"),
            bad_result, future, no_lab,
        ]});
        let (status, s) = post(&lab, &app, &lab_csrf, "/api/v1/tests", batch1.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {s}");
        assert_eq!(s["inserted"], 4, "{backend}: {s}");
        assert_eq!(s["rejected"], 3, "{s}");
        assert_eq!(s["cases_created"], 3, "{s}");
        assert_eq!(s["linked"], 4, "{s}");
        let errors = s["errors"].as_array().unwrap();
        let cells: Vec<(u64, u64, &str)> = errors
            .iter()
            .map(|e| {
                (
                    e["index"].as_u64().unwrap(),
                    e["row"].as_u64().unwrap(),
                    e["column"].as_str().unwrap(),
                )
            })
            .collect();
        assert!(cells.contains(&(4, 5, "result")), "{s}");
        assert!(cells.contains(&(5, 6, "sample_date")), "{s}");
        assert!(cells.contains(&(6, 7, "lab_code")), "{s}");
        assert!(
            errors
                .iter()
                .all(|e| !e["message"].as_str().unwrap().is_empty())
        );

        // A further positive of p1 updates the case; p3's negative test comes in.
        let batch2 = json!({"records": [
            test_row(p1, "T5", &day(-2), "rt-pcr", "positive"),
            test_row(p3, "T6", &day(-1), "rapid-antigen", "negative"),
        ]});
        let (status, s) = post(&lab, &app, &lab_csrf, "/api/v1/tests", batch2).await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        assert_eq!(s["inserted"], 2, "{s}");
        assert_eq!(s["cases_created"], 0, "{s}");
        assert_eq!(s["cases_updated"], 1, "{s}");
        // Sent again: nothing new.
        let (status, s) = post(&lab, &app, &lab_csrf, "/api/v1/tests", batch1).await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        assert_eq!(s["inserted"], 0, "{s}");
        assert_eq!(s["duplicates"], 4, "{s}");
        assert_eq!(s["cases_created"], 0, "{s}");
        // Staff of another commune may not send this commune's results.
        let (status, s) = post(
            &other,
            &app,
            &other_csrf,
            "/api/v1/tests",
            json!({"records": [test_row(p5, "T9", &day(-1), "rt-pcr", "positive")]}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{s}");
        assert_eq!(s["error"]["details"]["records"], json!([0]), "{s}");

        // --- The commune's cases: masked list, audited record.
        let (status, list) = get(&tyt, &app, &format!("/api/v1/cases?unit={commune}")).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["total"], 3, "{list}");
        let items = list["items"].as_array().unwrap();
        assert!(
            items
                .iter()
                .all(|c| c["phone"].as_str().unwrap().contains('*')),
            "{list}"
        );
        assert!(
            items.iter().all(|c| c.get("national_id").is_none()),
            "{list}"
        );
        let case_of = |p: &Person| {
            items
                .iter()
                .find(|c| c["person_id"] == p.id.to_string())
                .unwrap_or_else(|| panic!("a case of {}: {list}", p.full_name))["id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let (c1, c2, c3) = (case_of(p1), case_of(p2), case_of(p3));
        let views = audit_count(&app, "case.view").await;
        let (status, full) = get(&tyt, &app, &format!("/api/v1/cases/{c1}")).await;
        assert_eq!(status, StatusCode::OK, "{full}");
        assert_eq!(
            full["national_id"].as_str(),
            p1.national_id.as_ref().map(|n| n.as_str()),
            "{full}"
        );
        assert_eq!(
            full["case"]["phone"].as_str(),
            p1.phone.as_ref().map(|n| n.as_str())
        );
        assert_eq!(full["case"]["last_positive"], json!(day(-2)), "{full}");
        assert_eq!(full["tests"].as_array().unwrap().len(), 2, "{full}");
        assert_eq!(audit_count(&app, "case.view").await, views + 1);

        // Out of scope: the record does not exist, the list is refused.
        for path in [
            format!("/api/v1/cases/{c1}"),
            format!("/api/v1/cases/{c1}/checkins"),
        ] {
            let (status, _) = get(&other, &app, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let (status, _) = post(
            &other,
            &app,
            &other_csrf,
            &format!("/api/v1/cases/{c1}/checkins"),
            json!({"spo2": 97}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for path in [
            format!("/api/v1/cases?unit={commune}"),
            format!("/api/v1/alerts?unit={commune}"),
        ] {
            let (status, body) = get(&other, &app, &path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        }

        // --- A staff check-in with SpO2 93: an emergency at the top of the queue.
        let (status, ci) = post(
            &tyt,
            &app,
            &tyt_csrf,
            &format!("/api/v1/cases/{c1}/checkins"),
            json!({"spo2": 93, "resp_rate": 24, "pulse": 100, "temp_c": 38.2, "symptoms": ["cough"]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{ci}");
        assert_eq!(ci["escalate"], true, "{ci}");
        assert_eq!(ci["alert"], "emergency", "{ci}");
        assert_eq!(ci["advice"], "Hãy liên hệ trạm y tế ngay");
        let (status, bad) = post(
            &tyt,
            &app,
            &tyt_csrf,
            &format!("/api/v1/cases/{c1}/checkins"),
            json!({"spo2": 150}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        let (status, q) = get(&tyt, &app, &format!("/api/v1/alerts?unit={commune}")).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        assert_eq!(q["items"][0]["case_id"], json!(c1), "{q}");
        assert_eq!(q["items"][0]["alert"], "emergency", "{q}");
        assert_eq!(
            q["items"][0]["phone"].as_str(),
            p1.phone.as_ref().map(|n| n.as_str())
        );
        assert_eq!(
            q["items"].as_array().unwrap().len(),
            1,
            "nobody else is due yet: {q}"
        );
        assert!(audit_count(&app, "alerts.view").await >= 1);

        // --- Staff edits.
        let (status, e) = send(
            &tyt,
            &app,
            reqwest::Method::PATCH,
            &tyt_csrf,
            &format!("/api/v1/cases/{c1}"),
            Some(json!({"comorbidities": ["diabetes"], "care_setting": "tier2", "note": "Chuyển tầng 2"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{e}");
        let changed = e["changed"].as_array().unwrap();
        assert!(
            changed.contains(&json!("risk")) && changed.contains(&json!("care_setting")),
            "{e}"
        );
        assert_eq!(e["case"]["high_risk"], true, "{e}");
        let (status, e) = send(
            &tyt,
            &app,
            reqwest::Method::PATCH,
            &tyt_csrf,
            &format!("/api/v1/cases/{c1}"),
            Some(json!({"care_setting": "home", "outcome": "recovered"})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        let (_, e) = send(
            &tyt,
            &app,
            reqwest::Method::PATCH,
            &tyt_csrf,
            &format!("/api/v1/cases/{c1}"),
            Some(json!({"care_setting": "home"})),
        )
        .await;
        assert_eq!(e["case"]["care_setting"], "home", "{e}");

        // --- Discharge: too early for p1; p3 (day 9, negative test from day 8) may go.
        let (status, d) = post(
            &tyt,
            &app,
            &tyt_csrf,
            &format!("/api/v1/cases/{c1}/discharge"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{d}");
        assert!(
            !d["error"]["details"]["reasons"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{d}"
        );
        let (status, ci) = post(
            &tyt,
            &app,
            &tyt_csrf,
            &format!("/api/v1/cases/{c3}/checkins"),
            json!({"spo2": 98, "resp_rate": 16, "pulse": 80, "temp_c": 36.8, "systolic": 120, "diastolic": 80}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{ci}");
        assert_eq!(ci["escalate"], false, "{ci}");
        let (status, d) = post(
            &tyt,
            &app,
            &tyt_csrf,
            &format!("/api/v1/cases/{c3}/discharge"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{backend}: {d}");
        assert_eq!(d["status"], "closed", "{d}");
        assert_eq!(d["outcome"], "recovered", "{d}");
        let (status, _) = post(
            &tyt,
            &app,
            &tyt_csrf,
            &format!("/api/v1/cases/{c3}/checkins"),
            json!({"spo2": 98}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);

        // --- 25 hours later nobody has checked in: p2's case is overdue, behind p1's emergency.
        SHIFT_HOURS.store(25, Ordering::SeqCst);
        let (tyt_later, _) = app.login_as("tyt").await;
        let (status, q) = get(&tyt_later, &app, &format!("/api/v1/alerts?unit={commune}")).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        let queue: Vec<(&str, &str)> = q["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["case_id"].as_str().unwrap(), i["alert"].as_str().unwrap()))
            .collect();
        assert_eq!(
            queue,
            vec![(c1.as_str(), "emergency"), (c2.as_str(), "overdue")],
            "{q}"
        );
        assert!(
            q["items"][1]["hours_since_checkin"].as_i64().unwrap() >= 25,
            "{q}"
        );
        // A shorter page keeps the most urgent (ranked before the page is read).
        let (status, top) = get(
            &tyt_later,
            &app,
            &format!("/api/v1/alerts?unit={commune}&limit=1"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{top}");
        assert_eq!(top["items"].as_array().unwrap().len(), 1, "{top}");
        assert_eq!(top["items"][0]["case_id"], json!(c1), "{top}");
        assert_eq!(q["items"][0]["overdue"], true, "{q}");
        SHIFT_HOURS.store(0, Ordering::SeqCst);
        let (tyt2, csrf2) = app.login_as("tyt").await;
        let tyt = tyt2;
        tyt_csrf = csrf2;

        // --- The citizen's own check-in.
        let (status, r) = post(
            &dan2,
            &app,
            &dan2_csrf,
            "/api/v1/my/checkins",
            json!({"spo2": 98, "resp_rate": 16}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(r["escalate"], false, "{r}");
        assert_eq!(r["advice"], "Tiếp tục theo dõi");
        let (status, r) = post(
            &dan2,
            &app,
            &dan2_csrf,
            "/api/v1/my/checkins",
            json!({"spo2": 93}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(r["escalate"], true, "{r}");
        assert_eq!(r["advice"], "Hãy liên hệ trạm y tế ngay");
        let (status, r) = post(
            &dan4,
            &app,
            &dan4_csrf,
            "/api/v1/my/checkins",
            json!({"spo2": 98}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{r}");
        let (status, _) = post(
            &tyt,
            &app,
            &tyt_csrf,
            "/api/v1/my/checkins",
            json!({"spo2": 98}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (_, hist) = get(&tyt, &app, &format!("/api/v1/cases/{c2}/checkins")).await;
        let hist = hist["items"].as_array().unwrap();
        assert_eq!(hist.len(), 2);
        assert!(hist.iter().all(|c| c["by"] == "citizen"));

        // --- The daily report matches what was posted.
        let (status, r) = get(
            &lab,
            &app,
            &format!("/api/v1/daily-report?unit={commune}&day={}", day(-1)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(r["tests"], 3, "{backend}: {r}");
        assert_eq!(r["positive_tests"], 1, "{r}");
        assert_eq!(r["new_cases"], 1, "{r}");
        assert!(
            (r["positivity"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9,
            "{r}"
        );
        assert_eq!(r["open_home_care"], 2, "{r}");
        assert!(r["submitted"].is_null(), "{r}");
        let (_, r) = get(
            &lab,
            &app,
            &format!("/api/v1/daily-report?unit={commune}&day={}", day(-3)),
        )
        .await;
        assert_eq!(
            (
                r["tests"].as_i64(),
                r["positive_tests"].as_i64(),
                r["new_cases"].as_i64()
            ),
            (Some(1), Some(1), Some(1)),
            "{r}"
        );
        let (_, r) = get(
            &lab,
            &app,
            &format!("/api/v1/daily-report?unit={commune}&day={}", day(0)),
        )
        .await;
        assert_eq!(r["recoveries"], 1, "{r}");
        let missing_path = format!("/api/v1/daily-report/missing?unit=12&day={}", day(-1));
        let (status, m) = get(&lab, &app, &missing_path).await;
        assert_eq!(status, StatusCode::OK, "{m}");
        let listed = |m: &Value| {
            m["missing"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["code"] == json!(commune))
        };
        assert!(listed(&m), "{m}");
        let expected = m["expected"].as_u64().unwrap();
        // Submitting: only for one's own unit.
        let (status, _) = post(
            &other,
            &app,
            &other_csrf,
            "/api/v1/daily-report",
            json!({"unit": commune, "day": day(-1)}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, rep) = post(
            &tyt,
            &app,
            &tyt_csrf,
            "/api/v1/daily-report",
            json!({"unit": commune, "day": day(-1)}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{rep}");
        assert_eq!(rep["figures"]["tests"], 3, "{rep}");
        let (_, m) = get(&lab, &app, &missing_path).await;
        assert!(!listed(&m), "{m}");
        assert_eq!(
            m["missing"].as_array().unwrap().len() as u64,
            expected - 1,
            "{m}"
        );
        let (_, r) = get(
            &lab,
            &app,
            &format!("/api/v1/daily-report?unit={commune}&day={}", day(-1)),
        )
        .await;
        assert_eq!(r["submitted"]["submitted_by"], "tyt", "{r}");

        // --- Pages.
        let (status, html) = page(&tyt, &app, "/cases").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("Cần liên hệ trước") && html.contains(&p1.full_name),
            "{html}"
        );
        let (status, html) = page(&tyt, &app, "/cases/alerts").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("Cấp cứu") && html.contains(&p1.full_name),
            "{html}"
        );
        let (status, html) = page(&tyt, &app, "/cases/list").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&p2.full_name), "{html}");
        assert!(
            !html.contains(p2.phone.as_ref().unwrap().as_str()),
            "list shows a full phone"
        );
        let (status, html) = page(&tyt, &app, &format!("/cases/{c1}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(p1.national_id.as_ref().unwrap().as_str()));
        assert!(
            html.contains("cần xác nhận"),
            "unverified rules are flagged"
        );
        assert!(html.contains("spo2-trend") || html.contains("checkins"));
        assert!(html.len() < 100_000, "{} bytes", html.len());
        let (status, _, to) = form(
            &tyt,
            &app,
            &format!("/cases/{c1}/checkin"),
            &[
                ("csrf", &tyt_csrf),
                ("spo2", "92"),
                ("resp_rate", "26"),
                ("symptom_dyspnoea", "on"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(to.unwrap().starts_with(&format!("/cases/{c1}")));
        let (status, html) = page(&tyt, &app, &format!("/cases/{c1}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("id=\"spo2-trend\""),
            "two SpO2 readings draw the trend"
        );
        let (status, html, _) = form(
            &tyt,
            &app,
            &format!("/cases/{c1}/discharge"),
            &[("csrf", &tyt_csrf)],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains("Chưa đủ điều kiện"), "{html}");
        let (status, html) = page(
            &tyt,
            &app,
            &format!("/reports/daily?unit={commune}&day={}", day(-1)),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("Gửi báo cáo") && html.contains("Đã gửi lúc"),
            "{html}"
        );
        let (status, html) = page(&dan2, &app, "/my/checkin").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("self-checkin"), "{html}");
        let (status, html, _) = form(
            &dan2,
            &app,
            "/my/checkin",
            &[("csrf", &dan2_csrf), ("spo2", "93")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Hãy liên hệ trạm y tế ngay"), "{html}");
        let (status, html, _) = form(
            &dan2,
            &app,
            "/my/checkin",
            &[
                ("csrf", &dan2_csrf),
                ("spo2", "98"),
                ("resp_rate", "16"),
                ("temp_c", "36,8"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Tiếp tục theo dõi"), "{html}");
        let (status, html) = page(&dan4, &app, "/my/checkin").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("no-open-case"), "{html}");
        let sample = chrono::NaiveDate::parse_from_str(&day(-1), "%Y-%m-%d")
            .unwrap()
            .format("%d/%m/%Y")
            .to_string();
        let nid = p5.national_id.as_ref().unwrap().as_str().to_string();
        let dob = p5.dob.to_string();
        let (status, html, _) = form(
            &lab,
            &app,
            "/cases/tests/new",
            &[
                ("csrf", &lab_csrf),
                ("full_name", &p5.full_name),
                ("national_id", &nid),
                ("dob", &dob),
                ("sex", p5.sex.as_str()),
                ("commune_code", &p5.commune_code),
                ("sample_date", &sample),
                ("test_type", "rapid-antigen"),
                ("result", "positive"),
                ("lab_code", "LAB-LC"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("case-opened"), "{html}");
        let (status, html, _) = form(
            &lab,
            &app,
            "/cases/tests/new",
            &[
                ("csrf", &lab_csrf),
                ("full_name", &p5.full_name),
                ("sample_date", "31/02/2026"),
                ("test_type", "rt-pcr"),
                ("result", "positive"),
                ("lab_code", "LAB-LC"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        assert!(html.contains("test-errors"), "{html}");
        let (status, _) = page(&other, &app, &format!("/cases/{c1}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = page(&other, &app, &format!("/cases/list?unit={commune}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        app.stop().await;
    }
}
