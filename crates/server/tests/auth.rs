//! Authentication, sessions, CSRF, throttling, password change, account disable, API tokens,
//! the access log for full records, and privacy of lists and public pages — against the real
//! server over SQLite (and PostgreSQL when `PHONGDICH_TEST_PG` is set).

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{TEST_PASSWORD, TestApp, TestDb};

async fn app_with(db: TestDb) -> (TestApp, Vec<domain::person::Person>) {
    let persons = testkit::load_demo(db.store.as_ref(), "12", 800, 9)
        .await
        .persons;
    let app = TestApp::spawn(db).await;
    app.add_user("admin", "admin", None, None).await;
    (app, persons)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login(
    app: &TestApp,
    c: &reqwest::Client,
    user: &str,
    password: &str,
) -> reqwest::Response {
    c.post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn session_cookie_flags_logout_and_csrf() {
    for db in TestDb::all().await {
        let (app, _) = app_with(db).await;
        let c = client();
        let r = login(&app, &c, "admin", TEST_PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            cookie.starts_with("pd_session=")
                && cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
        );
        assert!(!cookie.contains("Secure"), "plain HTTP in tests");
        let csrf = r.json::<Value>().await.unwrap()["csrf_token"]
            .as_str()
            .unwrap()
            .to_string();
        // Behind a TLS proxy the cookie is Secure.
        let r = client()
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-proto", "https")
            .json(&json!({ "username": "admin", "password": TEST_PASSWORD }))
            .send()
            .await
            .unwrap();
        assert!(
            r.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("; Secure")
        );

        // A cookie-authenticated change needs the CSRF header.
        let r = c
            .post(app.url("/api/v1/auth/tokens"))
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = c
            .post(app.url("/api/v1/auth/tokens"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"name": "etl"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let token = r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        // Bearer tokens need no CSRF header and are scoped like the user.
        let bearer = reqwest::Client::new();
        let r = bearer
            .get(app.url("/api/v1/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = bearer
            .get(app.url("/api/v1/auth/me"))
            .bearer_auth("pd_not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

        // Logout ends the session server-side.
        let r = c
            .post(app.url("/api/v1/auth/logout"))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = c.get(app.url("/api/v1/auth/me")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated");
        app.stop().await;
    }
}

#[tokio::test]
async fn failed_logins_are_throttled_with_growing_delay() {
    let (app, _) = app_with(TestDb::sqlite().await).await;
    let c = client();
    for _ in 0..5 {
        let r = login(&app, &c, "admin", "wrong-password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["error"]["message"],
            "Tên đăng nhập hoặc mật khẩu không đúng"
        );
    }
    // Locked: even the right password is refused until the delay passes.
    let r = login(&app, &c, "admin", TEST_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["error"]["details"]["retry_after_seconds"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        login(&app, &c, "admin", "wrong-again").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = login(&app, &c, "admin", TEST_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let second: Value = r.json().await.unwrap();
    assert_eq!(
        second["error"]["details"]["retry_after_seconds"], 2,
        "the delay grows"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        login(&app, &c, "admin", TEST_PASSWORD).await.status(),
        StatusCode::OK
    );
    // Failures were logged.
    let (c2, _) = app.login_as("admin").await;
    let log: Value = c2
        .get(app.url("/api/v1/audit?action=auth.login_failed&limit=50"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["total"], 6);
    app.stop().await;
}

#[tokio::test]
async fn one_address_guessing_many_names_is_throttled() {
    let (app, _) = app_with(TestDb::sqlite().await).await;
    let c = client();
    for i in 0..server::auth::ADDRESS_FREE_FAILURES {
        let r = login(&app, &c, &format!("guess{i}"), "x").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = login(&app, &c, "admin", TEST_PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "address locked after 20 failures"
    );
    app.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_clients_are_throttled_separately() {
    let db = TestDb::sqlite().await;
    let app = TestApp::spawn_with(db, |s| {
        s.with_trusted_proxies(vec!["127.0.0.1".parse().unwrap()])
    })
    .await;
    app.add_user("admin", "admin", None, None).await;
    let attempt = |from: &'static str, user: String, password: &'static str| {
        let c = client();
        let url = app.url("/api/v1/auth/login");
        async move {
            c.post(url)
                .header("x-forwarded-for", from)
                .json(&json!({ "username": user, "password": password }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for i in 0..server::auth::ADDRESS_FREE_FAILURES {
        assert_eq!(
            attempt("198.51.100.1", format!("guess{i}"), "x").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt("198.51.100.1", "admin".into(), TEST_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not locked out.
    assert_eq!(
        attempt("198.51.100.2", "admin".into(), TEST_PASSWORD).await,
        StatusCode::OK
    );
    // A client cannot pick its address: the forged left-most entry is ignored.
    assert_eq!(
        attempt("203.0.113.50, 198.51.100.1", "admin".into(), TEST_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}

#[tokio::test]
async fn password_change_and_account_disable_end_sessions() {
    let (app, _) = app_with(TestDb::sqlite().await).await;
    app.add_user("tinh12", "province_officer", Some("12"), None)
        .await;
    let (officer, csrf) = app.login_as("tinh12").await;
    let change = |current: &str, new: &str| {
        officer
            .post(app.url("/api/v1/auth/password"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    assert_eq!(
        change("wrong", "mat-khau-moi-2026").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        change(TEST_PASSWORD, "short").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        change(TEST_PASSWORD, "mat-khau-moi-2026")
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = officer
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "sessions end with a password change"
    );
    assert_eq!(
        login(&app, &client(), "tinh12", TEST_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let fresh = client();
    assert_eq!(
        login(&app, &fresh, "tinh12", "mat-khau-moi-2026")
            .await
            .status(),
        StatusCode::OK
    );

    // The administrator disables the account: its live session stops working at once.
    let (admin, admin_csrf) = app.login_as("admin").await;
    let users: Value = admin
        .get(app.url("/api/v1/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "tinh12")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin
        .post(app.url(&format!("/api/v1/users/{id}/disable")))
        .header("x-csrf-token", &admin_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        fresh
            .get(app.url("/api/v1/auth/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, &client(), "tinh12", "mat-khau-moi-2026")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

#[tokio::test]
async fn full_records_are_logged_and_lists_masked() {
    for db in TestDb::all().await {
        let (app, persons) = app_with(db).await;
        let p = &persons[0];
        app.add_user("tramyte", "commune_staff", Some(&p.commune_code), None)
            .await;
        let (staff, _) = app.login_as("tramyte").await;
        // List: masked only.
        let list = staff
            .get(app.url(&format!(
                "/api/v1/persons?unit={}&limit=500",
                p.commune_code
            )))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if let Some(id) = &p.national_id {
            assert!(!list.contains(id.as_str()));
            assert!(list.contains(&id.masked()));
        }
        // Record page: full values, and the view is in the access log.
        let html = staff
            .get(app.url(&format!("/persons/{}", p.id)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if let Some(id) = &p.national_id {
            assert!(html.contains(id.as_str()), "full ID on the record page");
        }
        let r: Value = staff
            .get(app.url(&format!("/api/v1/persons/{}", p.id)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["id"], p.id.to_string());
        let (admin, _) = app.login_as("admin").await;
        let log: Value = admin
            .get(app.url(&format!("/api/v1/audit?action=person.view&entity={}", p.id)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(log["total"], 2, "page view and API view both logged");
        assert_eq!(log["items"][0]["actor"], "tramyte");
        // The admin audit page shows the entries and filters them.
        let page = admin
            .get(app.url("/admin/audit?action=person.view"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("person.view") && page.contains("tramyte"));
        assert_eq!(
            store::verify_audit(app.db.store.as_ref())
                .await
                .unwrap()
                .map(|n| n > 0),
            Ok(true)
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn citizens_see_only_their_own_record() {
    let (app, persons) = app_with(TestDb::sqlite().await).await;
    app.add_user("congdan", "citizen", None, Some(persons[0].id))
        .await;
    let (citizen, _) = app.login_as("congdan").await;
    let own = citizen
        .get(app.url(&format!("/api/v1/persons/{}", persons[0].id)))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let other = citizen
        .get(app.url(&format!("/api/v1/persons/{}", persons[1].id)))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let list = citizen
        .get(app.url("/api/v1/persons?unit=12"))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn login_page_flow_with_csrf_and_public_pages_show_no_identities() {
    let (app, persons) = app_with(TestDb::sqlite().await).await;
    let c = client();
    // Anonymous: public pages carry no person's name.
    for path in ["/", "/?v=2025&p=12", "/login", "/vaccination", "/cases"] {
        let html = c
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for p in persons.iter().take(200) {
            assert!(!html.contains(&p.full_name), "{path} shows {}", p.full_name);
        }
    }
    // Protected pages send anonymous visitors to the login page.
    let r = c.get(app.url("/persons?unit=12")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        "/login?next=%2Fpersons%3Funit%3D12"
    );
    // The login form carries a CSRF token matched by a cookie.
    let html = c
        .get(app.url("/login?next=/persons?unit=12"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let form = |token: &str, password: &str| {
        vec![
            ("csrf", token.to_string()),
            ("username", "admin".to_string()),
            ("password", password.to_string()),
            ("next", "/persons?unit=12".to_string()),
        ]
    };
    let r = c
        .post(app.url("/login"))
        .form(&form("forged", TEST_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = c
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf2 = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(csrf, csrf2);
    let r = c
        .post(app.url("/login"))
        .form(&form(&csrf2, "wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let html = r.text().await.unwrap();
    assert!(html.contains("Tên đăng nhập hoặc mật khẩu không đúng"));
    let csrf3 = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = c
        .post(app.url("/login"))
        .form(&form(&csrf3, TEST_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/persons?unit=12");
    let r = c.get(app.url("/persons?unit=12")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    // Logout form without the session's CSRF token is refused; with it, it works.
    let page = r.text().await.unwrap();
    let session_csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = c
        .post(app.url("/logout"))
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(app.url("/logout"))
        .form(&[("csrf", session_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        c.get(app.url("/persons?unit=12"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    app.stop().await;
}

#[tokio::test]
async fn admin_pages_create_and_disable_users() {
    let (app, _) = app_with(TestDb::sqlite().await).await;
    let c = client();
    login(&app, &c, "admin", TEST_PASSWORD).await;
    let page = c
        .get(app.url("/admin/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = c
        .post(app.url("/admin/users"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "xa.banlang"),
            ("display_name", "Trạm y tế xã Bản Lang"),
            ("password", "mat-khau-tram-xa"),
            ("role", "commune_staff"),
            ("unit", "12"),
            ("unit_version", ""),
            ("organisation", ""),
            ("person_id", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "commune staff need a commune, not a province"
    );
    assert!(r.text().await.unwrap().contains("không đúng cấp"));
    let commune = domain::units::AdminUnits::embedded()
        .v2025
        .communes_under("12")[0]
        .clone();
    let r = c
        .post(app.url("/admin/users"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "xa.banlang"),
            ("display_name", "Trạm y tế xã Bản Lang"),
            ("password", "mat-khau-tram-xa"),
            ("role", "commune_staff"),
            ("unit", commune.as_str()),
            ("unit_version", "2025"),
            ("organisation", "Trạm y tế"),
            ("person_id", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("xa.banlang"));
    assert_eq!(
        login(&app, &client(), "xa.banlang", "mat-khau-tram-xa")
            .await
            .status(),
        StatusCode::OK
    );
    let user = app
        .db
        .store
        .find_user_by_username("xa.banlang")
        .await
        .unwrap()
        .unwrap()
        .0;
    let r = c
        .post(app.url(&format!("/admin/users/{}/disable", user.id)))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        login(&app, &client(), "xa.banlang", "mat-khau-tram-xa")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let log: Value = c
        .get(app.url("/api/v1/audit?action=user.disable"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["total"], 1);
    app.stop().await;
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let p = domain::auth::Password::given("hunter2-secret");
    assert!(!format!("{p:?}").contains("hunter2"));
    let new = server::auth::NewUser {
        username: "u".into(),
        display_name: None,
        password: "hunter2-secret".into(),
        role: "admin".into(),
        unit: None,
        unit_version: None,
        organisation: None,
        person_id: None,
    };
    assert!(!format!("{new:?}").contains("hunter2"));
    let id = domain::person::NationalId::parse("012090001234").unwrap();
    assert!(!format!("{id:?}").contains("012090001234"));
}
