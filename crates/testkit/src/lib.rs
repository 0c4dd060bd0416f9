//! `testkit` — shared test helpers: isolated databases for the storage contract suite and a real
//! server spawned on a random port.
//!
//! [`TestDb::sqlite`] gives a fresh SQLite file in a temporary directory. [`TestDb::postgres`] gives
//! a fresh PostgreSQL database created on the server named by `PHONGDICH_TEST_PG` (and dropped on
//! [`TestDb::cleanup`]); it returns `None` with a printed notice when the variable is unset.

use std::sync::Arc;

use sqlx::Connection;
use store::Store;

/// Prints a skip notice straight to stderr, so that it shows even though the test harness
/// captures `eprintln!` output of passing tests.
pub fn notice(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "notice: {message}");
}

/// Environment variable naming a PostgreSQL URL for the PostgreSQL half of the suites.
pub const PG_ENV: &str = "PHONGDICH_TEST_PG";

/// An isolated, migrated database for one test.
pub struct TestDb {
    pub url: String,
    pub store: Arc<dyn Store>,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A new SQLite database in its own temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = store::open(&url).await.expect("open sqlite test db");
        TestDb {
            url,
            store,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A new PostgreSQL database, or `None` (with a notice) when `PHONGDICH_TEST_PG` is unset.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(PG_ENV) else {
            notice(&format!(
                "{PG_ENV} is not set; skipping the PostgreSQL half of this test"
            ));
            return None;
        };
        let name = format!("phongdich_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let _ = admin.close().await;
        let url = replace_db_name(&admin_url, &name);
        let store = store::open(&url).await.expect("open postgres test db");
        Some(TestDb {
            url,
            store,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// Both backends: SQLite always, PostgreSQL when configured.
    pub async fn all() -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite().await];
        v.extend(TestDb::postgres().await);
        v
    }

    /// Runs raw SQL on this database through a separate connection — for tests that play an
    /// attacker editing tables behind the application's back.
    pub async fn execute_raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        if self.url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await?;
            sqlx::raw_sql(sql).execute(&mut c).await?;
            c.close().await
        } else {
            let mut c = sqlx::PgConnection::connect(&self.url).await?;
            sqlx::raw_sql(sql).execute(&mut c).await?;
            c.close().await
        }
    }

    /// Closes the pool and drops the PostgreSQL database (SQLite files go with their temp dir).
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Cleanup::Postgres { admin_url, name } = self.cleanup
            && let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await;
        }
    }
}

/// Replaces the database name (path) of a PostgreSQL URL, keeping the query string.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// Password of users made by [`TestApp::add_user`].
pub const TEST_PASSWORD: &str = "mat-khau-thu-nghiem";

/// Loads a deterministic demo population of a province into a database.
pub async fn load_demo(
    store: &dyn Store,
    province: &str,
    persons: usize,
    seed: u64,
) -> demo::DemoPopulation {
    let params = demo::DemoParams {
        province_code: province.into(),
        persons,
        seed,
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
    };
    let pop = demo::generate(&params, domain::units::AdminUnits::embedded()).expect("demo");
    store
        .insert_households(&pop.households)
        .await
        .expect("households");
    store.insert_persons(&pop.persons).await.expect("persons");
    store::rebuild_denominators(store, params.as_of)
        .await
        .expect("denominators");
    pop
}

/// A real server on `127.0.0.1:0` over an isolated database, for integration tests.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    pub db: TestDb,
    /// A client that keeps cookies and does not follow redirects.
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// Spawns the full router (same as `phongdich serve`) over `db`.
    pub async fn spawn(db: TestDb) -> TestApp {
        Self::spawn_with(db, |s| s).await
    }

    /// Like [`TestApp::spawn`], with the application state adjusted first (e.g. trusted proxies).
    pub async fn spawn_with(
        db: TestDb,
        adjust: impl FnOnce(server::AppState) -> server::AppState,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind random port");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = adjust(server::AppState::new(db.store.clone()));
        let task = tokio::spawn(server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        TestApp {
            base_url: format!("http://{addr}"),
            db,
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Absolute URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Application state over this app's database (to create users directly, as the CLI does).
    pub fn state(&self) -> server::AppState {
        server::AppState::new(self.db.store.clone())
    }

    /// Creates a user with password [`TEST_PASSWORD`]; `unit` is a 2025 code, or a 3-digit
    /// pre-2025 district.
    pub async fn add_user(
        &self,
        username: &str,
        role: &str,
        unit: Option<&str>,
        person_id: Option<uuid::Uuid>,
    ) -> domain::auth::User {
        server::auth::create_user(
            &self.state(),
            None,
            &server::auth::ClientIp(None),
            server::auth::NewUser {
                username: username.into(),
                display_name: None,
                password: TEST_PASSWORD.into(),
                role: role.into(),
                unit: unit.map(str::to_string),
                unit_version: None,
                organisation: None,
                person_id,
            },
        )
        .await
        .expect("create test user")
    }

    /// Logs this app's own client in as `username`; returns the session's CSRF token.
    pub async fn login(&self, username: &str) -> String {
        let r = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({ "username": username, "password": TEST_PASSWORD }))
            .send()
            .await
            .expect("login request");
        assert_eq!(r.status(), 200, "login as {username}");
        let body: serde_json::Value = r.json().await.expect("login body");
        body["csrf_token"].as_str().unwrap_or_default().to_string()
    }

    /// A new HTTP client (own cookie jar) logged in as `username`; returns it with the session's
    /// CSRF token.
    pub async fn login_as(&self, username: &str) -> (reqwest::Client, String) {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        let r = client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({ "username": username, "password": TEST_PASSWORD }))
            .send()
            .await
            .expect("login request");
        assert_eq!(r.status(), 200, "login as {username}");
        let body: serde_json::Value = r.json().await.expect("login body");
        let csrf = body["csrf_token"].as_str().unwrap_or_default().to_string();
        (client, csrf)
    }

    /// Graceful shutdown, then database cleanup.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.db.cleanup().await;
    }
}

/// Stores a dose record (site `TYT-TEST`) linked to `person` — what a vaccination site's record
/// becomes once linked — for tests that need a vaccination history.
pub async fn give_dose(
    store: &dyn store::Store,
    person: &domain::person::Person,
    product: &str,
    date: &str,
) {
    let record = store::NewSourceRecord {
        id: uuid::Uuid::now_v7(),
        kind: store::RecordKind::Dose,
        source: "TYT-TEST".into(),
        external_id: format!("{}-{date}", person.id),
        full_name: person.full_name.clone(),
        dob: person.dob.to_string(),
        sex: person.sex.as_str().into(),
        national_id: String::new(),
        commune_code: person.commune_code.clone(),
        phone: String::new(),
        payload: serde_json::json!({"vaccine": product, "dose_date": date}),
        batch_id: uuid::Uuid::nil(),
    };
    let decision = store::LinkDecision {
        record_id: record.id,
        status: store::LinkStatus::Linked,
        person_id: Some(person.id),
        probability: Some(1.0),
        decided_by: "test".into(),
        candidates: None,
    };
    store
        .insert_decided_records(&[record], &[decision], None)
        .await
        .expect("store a linked dose");
}

/// A logged-in API user of a [`TestApp`]: its cookie session and CSRF token.
pub struct ApiUser {
    pub client: reqwest::Client,
    pub csrf: String,
}

impl ApiUser {
    /// Adds a user with this role and unit, logged in.
    pub async fn login(app: &TestApp, name: &str, role: &str, unit: &str) -> ApiUser {
        app.add_user(name, role, Some(unit), None).await;
        let (client, csrf) = app.login_as(name).await;
        ApiUser { client, csrf }
    }

    /// A JSON request with the session's CSRF token; the status and the JSON body (`Null` if none).
    pub async fn send(
        &self,
        app: &TestApp,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut req = self
            .client
            .request(method, app.url(path))
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// `GET` a JSON path.
    pub async fn get(&self, app: &TestApp, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        self.send(app, reqwest::Method::GET, path, None).await
    }

    /// `POST` JSON.
    pub async fn post(
        &self,
        app: &TestApp,
        path: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.send(app, reqwest::Method::POST, path, Some(body))
            .await
    }

    /// `PATCH` JSON.
    pub async fn patch(
        &self,
        app: &TestApp,
        path: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.send(app, reqwest::Method::PATCH, path, Some(body))
            .await
    }

    /// `GET` a page or file: the status, content type and body.
    pub async fn text(&self, app: &TestApp, path: &str) -> (reqwest::StatusCode, String, String) {
        let r = self.client.get(app.url(path)).send().await.unwrap();
        let status = r.status();
        let ctype = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ctype, r.text().await.unwrap())
    }

    /// Posts a page form with the session's CSRF token; returns the status and redirect.
    pub async fn form(
        &self,
        app: &TestApp,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (reqwest::StatusCode, Option<String>, String) {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let r = self
            .client
            .post(app.url(path))
            .form(&all)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (status, location, r.text().await.unwrap())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_database_name() {
        assert_eq!(
            super::replace_db_name("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::replace_db_name("postgres://h?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
