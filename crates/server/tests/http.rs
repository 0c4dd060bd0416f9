//! HTTP integration tests: the real router on a random port over real SQLite (and PostgreSQL when
//! `PHONGDICH_TEST_PG` is set), exercised with a real HTTP client.

use reqwest::StatusCode;
use serde_json::Value;
use testkit::{TestApp, TestDb};

/// A demo population of Lai Châu (province 12) loaded into `db`; the app's client is logged in
/// as `admin`.
async fn with_demo(db: TestDb, persons: usize) -> TestApp {
    testkit::load_demo(db.store.as_ref(), "12", persons, 7).await;
    let app = TestApp::spawn(db).await;
    app.add_user("admin", "admin", None, None).await;
    app.login("admin").await;
    app
}

async fn apps() -> Vec<TestApp> {
    let mut v = Vec::new();
    for db in TestDb::all().await {
        v.push(with_demo(db, 2000).await);
    }
    v
}

async fn json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let r = app.get(path).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn assert_error_shape(body: &Value, code: &str) {
    let e = &body["error"];
    assert_eq!(e["code"], code, "{body}");
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(e.get("details").is_some(), "{body}");
}

#[tokio::test]
async fn units_api_lists_both_hierarchies() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let (s, v) = json(&app, "/api/v1/units?version=2025&level=province").await;
    assert_eq!(s, StatusCode::OK);
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 34);
    let lc = arr.iter().find(|u| u["code"] == "12").unwrap();
    assert_eq!(lc["name"], "Tỉnh Lai Châu");
    assert_eq!(lc["level"], "province");
    assert!(lc["parent_code"].is_null());

    let (_, v) = json(&app, "/api/v1/units?version=pre2025&level=province").await;
    assert_eq!(v.as_array().unwrap().len(), 63);
    let (_, v) = json(
        &app,
        "/api/v1/units?version=pre2025&level=district&parent=01",
    )
    .await;
    let districts = v.as_array().unwrap();
    assert_eq!(districts.len(), 30, "Hà Nội had 30 districts");
    assert!(
        districts
            .iter()
            .all(|d| d["parent_code"] == "01" && d["level"] == "district")
    );
    let (_, v) = json(&app, "/api/v1/units?version=pre2025&level=commune").await;
    assert_eq!(v.as_array().unwrap().len(), 10_040);
    let (_, v) = json(&app, "/api/v1/units?version=2025&level=commune").await;
    assert_eq!(v.as_array().unwrap().len(), 3_321);
    let (_, v) = json(&app, "/api/v1/units?version=2025&level=commune&parent=12").await;
    let communes = v.as_array().unwrap();
    assert!(!communes.is_empty());
    assert!(
        communes
            .iter()
            .all(|c| c["parent_code"] == "12" && c["code"].as_str().unwrap().len() == 5)
    );
    // Communes of a pre-2025 province come through its districts.
    let (_, v) = json(
        &app,
        "/api/v1/units?version=pre2025&level=commune&parent=01",
    )
    .await;
    assert!(v.as_array().unwrap().len() > 500);

    let (s, v) = json(&app, "/api/v1/units?version=2025&level=district").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error_shape(&v, "invalid_input");
    let (s, v) = json(&app, "/api/v1/units?version=2024&level=province").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error_shape(&v, "invalid_input");
    assert_eq!(v["error"]["details"]["field"], "version");
    let (s, v) = json(&app, "/api/v1/units?version=2025&level=commune&parent=99").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error_shape(&v, "not_found");
    let (s, v) = json(&app, "/api/v1/no-such-route").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error_shape(&v, "not_found");
    app.stop().await;
}

#[tokio::test]
async fn probes_metrics_and_security_headers() {
    for app in apps().await {
        let r = app.get("/healthz").await;
        assert_eq!(r.status(), StatusCode::OK);
        let (s, v) = json(&app, "/readyz").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["status"], "ready");
        let r = app.get("/api/v1/units?level=province").await;
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("referrer-policy"));
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("http_requests_total"), "{metrics}");
        assert!(metrics.contains("route=\"/api/v1/units\""), "{metrics}");
        app.stop().await;
    }
}

#[tokio::test]
async fn readyz_reports_a_closed_database() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    app.db.store.close().await;
    let (s, v) = json(&app, "/readyz").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["status"], "unavailable");
    app.stop().await;
}

#[tokio::test]
async fn home_page_is_vietnamese_with_sections_and_english_switch() {
    let app = with_demo(TestDb::sqlite().await, 500).await;
    let r = app.get("/").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"vi\">"));
    for s in [
        "Tổng quan",
        "Tiêm chủng",
        "Ca bệnh",
        "Cấp độ dịch",
        "Năng lực điều trị",
        "Báo cáo",
        "Quản trị",
    ] {
        assert!(html.contains(s), "missing section {s}");
    }
    assert!(!html.contains("<script>"), "no inline script");
    assert!(html.len() < 100_000);
    // English switch sets a cookie and comes back.
    let r = app.get("/lang/en?next=/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("Overview") && html.contains("Treatment capacity"));
    // Open redirects are refused.
    let r = app.get("/lang/vi?next=//evil.example").await;
    assert_eq!(r.headers()["location"], "/");
    // Section pages exist and say plainly they are not built yet.
    let html = app.get("/capacity").await.text().await.unwrap();
    assert!(html.contains("Năng lực điều trị") && html.contains("đang được xây dựng"));
    // The epidemic level page is built: public, with nothing approved yet.
    let html = app.get("/epidemic-level").await.text().await.unwrap();
    assert!(
        html.contains("Cấp độ dịch") && html.contains("Chưa có cấp độ dịch nào được phê duyệt")
    );
    let r = app.get("/no-such-page").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn unit_picker_walks_both_hierarchies() {
    let app = with_demo(TestDb::sqlite().await, 500).await;
    let units = domain::units::AdminUnits::embedded();
    let html = app.get("/?v=2025&p=12").await.text().await.unwrap();
    assert!(
        html.contains("name=\"c\""),
        "commune select shown for a 2025 province"
    );
    assert!(
        html.contains("Tháp dân số"),
        "population pyramid for the province"
    );
    let commune = units.v2025.communes_under("12")[0].clone();
    let r = app.get(&format!("/?v=2025&p=12&c={commune}")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        format!("/persons?version=2025&unit={commune}")
    );
    // A commune outside the chosen province is ignored, not followed.
    let r = app.get("/?v=2025&p=12&c=00004").await;
    assert_eq!(r.status(), StatusCode::OK);

    let html = app.get("/?v=pre2025&p=01").await.text().await.unwrap();
    assert!(html.contains("name=\"d\"") && html.contains("Quận Ba Đình"));
    let html = app
        .get("/?v=pre2025&p=01&d=001")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Phường Phúc Xá"));
    let r = app.get("/?v=pre2025&p=01&d=001&c=00001").await;
    assert_eq!(
        r.headers()["location"],
        "/persons?version=pre2025&unit=00001"
    );
    app.stop().await;
}

#[tokio::test]
async fn persons_page_lists_masked_and_searches_without_diacritics() {
    let app = with_demo(TestDb::sqlite().await, 2000).await;
    let (_, v) = json(&app, "/api/v1/persons?unit=12&limit=500").await;
    let first = v["items"][0].clone();
    let commune = first["commune_code"].as_str().unwrap().to_string();
    let full: domain::person::Person = app
        .client
        .get(app.url(&format!(
            "/api/v1/persons/{}",
            first["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let html = app
        .get(&format!("/persons?version=2025&unit={commune}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"persons\""));
    if let Some(id) = &full.national_id {
        assert!(
            !html.contains(id.as_str()),
            "full citizen ID must not appear in a list"
        );
    }
    assert!(html.contains("******"), "masked IDs shown");

    // Search by the folded surname + given name finds the person.
    let folded = domain::name::fold(&full.full_name);
    let html = app
        .get(&format!(
            "/persons?version=2025&unit={commune}&q={}",
            folded.replace(' ', "+")
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&full.full_name),
        "search «{folded}» should find {}",
        full.full_name
    );
    // Dates are dd/mm/yyyy.
    assert!(html.contains(&full.dob.format("%d/%m/%Y").to_string()));
    // Bad unit renders an error page, not a panic.
    let r = app.get("/persons?version=2025&unit=99999").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn persons_api_lists_any_level_masked() {
    for app in apps().await {
        let (s, v) = json(&app, "/api/v1/persons?unit=12&limit=10").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["total"], 2000);
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 10);
        for p in items {
            if let Some(id) = p["national_id"].as_str() {
                assert!(id.len() == 12 && &id[4..10] == "******", "{id}");
            }
            if let Some(ph) = p["phone"].as_str() {
                assert_eq!(&ph[4..8], "****");
            }
        }
        let (s, v) = json(&app, "/api/v1/persons").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_error_shape(&v, "invalid_input");
        let (s, v) = json(&app, "/api/v1/persons?unit=12&limit=0").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"]["details"]["field"], "limit");
        let (s, v) = json(&app, "/api/v1/persons?unit=12&limit=abc").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_error_shape(&v, "invalid_input");
        let (s, _) = json(&app, "/api/v1/persons/not-a-uuid").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, v) = json(&app, &format!("/api/v1/persons/{}", uuid::Uuid::new_v4())).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_error_shape(&v, "not_found");

        // Population denominators add up to the register.
        let (_, pop) = json(&app, "/api/v1/population?unit=12").await;
        assert_eq!(pop["total"], 2000);
        assert_eq!(pop["bands"].as_array().unwrap().len(), 17);
        app.stop().await;
    }
}
