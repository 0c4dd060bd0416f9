//! Browser test: real headless Chromium (Debian's `chromium` + `chromedriver`) against the real
//! server. Skips with a notice when chromedriver is absent, unless `PHONGDICH_TEST_BROWSER=1`
//! (set by `.ci/run`), which turns the skip into a failure. Flows: unit picker → login → persons
//! list; linkage review queue → record beside its candidates → accept → the person's page; a
//! vaccination site records doses with schedule warnings; a verifier pastes a certificate's
//! `HC1:` text and sees «HỢP LỆ» with the holder's name; a commune station enters a positive
//! test (a case opens), records a check-in with SpO2 93 and finds the case first in its alert
//! queue as an emergency; a province officer computes the week's epidemic levels, approves them,
//! and the public page announces them with the map, the table and the link to Rt.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use testkit::{TestApp, TestDb};

const REQUIRE_ENV: &str = "PHONGDICH_TEST_BROWSER";

fn find_chromedriver() -> Option<String> {
    if let Ok(p) = std::env::var("PHONGDICH_CHROMEDRIVER") {
        return Some(p);
    }
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_string)
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_driver(path: &str) -> (Driver, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Driver(
        Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, port);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

/// The chromedriver to use, or `None` after a notice (a failure when `PHONGDICH_TEST_BROWSER=1`).
fn chromedriver_or_skip() -> Option<String> {
    let found = find_chromedriver();
    if found.is_none() {
        if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
            panic!("{REQUIRE_ENV}=1 but chromedriver was not found");
        }
        testkit::notice("chromedriver not found; skipping the browser test");
    }
    found
}

/// A chromedriver and a headless Chromium session on it (Debian's binaries, or
/// `PHONGDICH_CHROMIUM`).
async fn session(driver_path: &str) -> (Driver, fantoccini::Client) {
    let (driver, port) = start_driver(driver_path).await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("PHONGDICH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-quic"]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("webdriver session");
    (driver, client)
}

/// Ends a browser flow: on failure prints where the browser was and what the page said, then
/// closes the session, stops the server and fails the test.
async fn finish(
    client: fantoccini::Client,
    app: TestApp,
    result: Result<(), fantoccini::error::CmdError>,
) {
    if let Err(e) = &result {
        let url = client.current_url().await.map(|u| u.to_string());
        let text = match client.find(Locator::Css("body")).await {
            Ok(m) => m.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        eprintln!("browser flow failed ({e}) at {url:?}; the page says:\n{text}");
    }
    let _ = client.close().await;
    app.stop().await;
    result.expect("browser flow");
}

/// A demo resident with a citizen ID born before `year`.
fn resident_born_before(persons: &[domain::person::Person], year: i32) -> domain::person::Person {
    persons
        .iter()
        .find(|p| {
            p.national_id.is_some() && p.dob < chrono::NaiveDate::from_ymd_opt(year, 1, 1).unwrap()
        })
        .expect("a demo resident with a citizen ID")
        .clone()
}

#[tokio::test]
async fn pick_a_commune_and_see_its_persons() {
    let Some(driver_path) = chromedriver_or_skip() else {
        return;
    };
    let db = TestDb::sqlite().await;
    let params = demo::DemoParams {
        province_code: "12".into(),
        persons: 3000,
        seed: 11,
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    };
    let pop = demo::generate(&params, domain::units::AdminUnits::embedded()).unwrap();
    db.store.insert_households(&pop.households).await.unwrap();
    db.store.insert_persons(&pop.persons).await.unwrap();
    // The commune with the most persons, so its list is certainly not empty.
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for p in &pop.persons {
        *counts.entry(p.commune_code.as_str()).or_default() += 1;
    }
    let (commune, n) = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(c, n)| (c.to_string(), *n))
        .unwrap();
    // A duplicate registration of person 5 and a dose record that fits both: it waits for review.
    let p5 = pop.persons[5].clone();
    let mut duplicate = p5.clone();
    duplicate.id = uuid::Uuid::now_v7();
    duplicate.national_id = None;
    db.store.insert_persons(&[duplicate]).await.unwrap();
    let record = store::NewSourceRecord {
        id: uuid::Uuid::now_v7(),
        kind: store::RecordKind::Dose,
        source: "TRAM-01".into(),
        external_id: "B1".into(),
        full_name: p5.full_name.clone(),
        dob: p5.dob.to_string(),
        sex: p5.sex.as_str().into(),
        national_id: String::new(),
        commune_code: p5.old_commune_code.clone().unwrap_or_default(),
        phone: String::new(),
        payload: serde_json::json!({"vaccine": "EU/1/20/1528"}),
        batch_id: uuid::Uuid::now_v7(),
    };
    let summary = intake::link_batch(db.store.as_ref(), &[record], None)
        .await
        .unwrap();
    assert_eq!(summary.review, 1, "{summary:?}");
    let app = TestApp::spawn(db).await;
    app.add_user("tinh12", "province_officer", Some("12"), None)
        .await;

    let (_driver, client) = session(&driver_path).await;

    let result = async {
        client.goto(&app.url("/")).await?;
        let html = client.find(Locator::Css("html")).await?;
        assert_eq!(html.attr("lang").await?.as_deref(), Some("vi"));
        // Province → (script submits) → commune select appears → pick commune → persons list.
        let province = client.find(Locator::Css("select[name=p]")).await?;
        province.select_by_value("12").await?;
        let commune_select = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("select[name=c]"))
            .await?;
        commune_select.select_by_value(&commune).await?;
        // Persons are personal data: the picker leads to the login page, then back.
        let username = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("input[name=username]"))
            .await?;
        username.send_keys("tinh12").await?;
        client
            .find(Locator::Css("input[name=password]"))
            .await?
            .send_keys(testkit::TEST_PASSWORD)
            .await?;
        client
            .find(Locator::Css("form[action='/login'] button[type=submit]"))
            .await?
            .click()
            .await?;
        let table = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("table#persons tbody"))
            .await?;
        let rows = table.find_all(Locator::Css("tr")).await?;
        assert_eq!(
            rows.len(),
            n.min(50),
            "first page of the commune's {n} persons"
        );
        let url = client.current_url().await?;
        assert!(url.as_str().contains(&format!("unit={commune}")), "{url}");
        let total = client
            .find(Locator::Id("persons-total"))
            .await?
            .text()
            .await?;
        assert!(
            total.starts_with(&n.to_string()) || total.replace('.', "").starts_with(&n.to_string()),
            "{total}"
        );
        // The review queue: open the record, see it beside its candidates, accept person 5.
        client.goto(&app.url("/linkage/review")).await?;
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("table#records a[href^='/linkage/records/']"))
            .await?
            .click()
            .await?;
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("table#compare"))
            .await?;
        client
            .find(Locator::Css(&format!("button[data-accept='{}']", p5.id)))
            .await?
            .click()
            .await?;
        // The form posts and redirects back to the record; poll until the new page shows.
        let mut status = String::new();
        for _ in 0..100 {
            if let Ok(e) = client.find(Locator::Css("p#status strong")).await {
                status = e.text().await.unwrap_or_default();
                if status == "Đã ghép" {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, "Đã ghép");
        // The person's page now lists the dose record.
        client
            .goto(&app.url(&format!("/persons/{}", p5.id)))
            .await?;
        let linked = client
            .find(Locator::Css("section#linked-records"))
            .await?
            .text()
            .await?;
        assert!(linked.contains("TRAM-01 / B1"), "{linked}");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    finish(client, app, result).await;
}

/// Waits for an element to appear after a form post (the page is replaced).
async fn wait_for(
    client: &fantoccini::Client,
    css: &str,
) -> Result<fantoccini::elements::Element, fantoccini::error::CmdError> {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
}

/// Fills the login form the server shows for a protected page and submits it (the server then
/// sends the browser back to that page).
async fn log_in(
    client: &fantoccini::Client,
    username: &str,
) -> Result<(), fantoccini::error::CmdError> {
    wait_for(client, "input[name=username]")
        .await?
        .send_keys(username)
        .await?;
    client
        .find(Locator::Css("input[name=password]"))
        .await?
        .send_keys(testkit::TEST_PASSWORD)
        .await?;
    client
        .find(Locator::Css("form[action='/login'] button[type=submit]"))
        .await?
        .click()
        .await
}

/// Types `value` into the input matching `css` (cleared first).
async fn type_into(
    client: &fantoccini::Client,
    css: &str,
    value: &str,
) -> Result<(), fantoccini::error::CmdError> {
    let input = wait_for(client, css).await?;
    input.clear().await?;
    input.send_keys(value).await
}

#[tokio::test]
async fn a_vaccination_site_records_doses_with_schedule_warnings() {
    let Some(driver_path) = chromedriver_or_skip() else {
        return;
    };
    let db = TestDb::sqlite().await;
    let persons = testkit::load_demo(db.store.as_ref(), "12", 1500, 13)
        .await
        .persons;
    let person = resident_born_before(&persons, 1985);
    db.store
        .upsert_vaccination_sites(&[store::VaccinationSite {
            code: "TYT-B1".into(),
            name: "Trạm Y tế B1".into(),
            commune_code: Some(person.commune_code.clone()),
        }])
        .await
        .unwrap();
    let app = TestApp::spawn(db).await;
    app.add_user("tram", "vaccination_site", Some(&person.commune_code), None)
        .await;

    let (_driver, client) = session(&driver_path).await;

    let result = async {
        client.goto(&app.url("/vaccination/record")).await?;
        log_in(&client, "tram").await?;
        // Find the person by name typed without diacritics.
        wait_for(&client, "input[name=q]")
            .await?
            .send_keys(&domain::name::fold(&person.full_name))
            .await?;
        client
            .find(Locator::Css("form.search button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_for(
            &client,
            &format!("table#found a[href='/vaccination/record/{}']", person.id),
        )
        .await?
        .click()
        .await?;
        // First dose: Pfizer on 01/08/2021, no warning, recorded at once.
        let record = |date: &'static str| {
            let client = client.clone();
            async move {
                wait_for(&client, "form#dose-form select[name=vaccine]")
                    .await?
                    .select_by_value("EU/1/20/1528")
                    .await?;
                let d = client.find(Locator::Css("input[name=dose_date]")).await?;
                d.clear().await?;
                d.send_keys(date).await?;
                client
                    .find(Locator::Css("form#dose-form button[type=submit]"))
                    .await?
                    .click()
                    .await
            }
        };
        record("01/08/2021").await?;
        wait_for(&client, "p#recorded").await?;
        wait_for(&client, "table#doses tr[data-kind=primary_1]").await?;
        // Second dose nine days later: the page comes back with the interval warning.
        record("10/08/2021").await?;
        let warnings = wait_for(&client, "div#dose-warnings").await?.text().await?;
        assert!(warnings.contains("cần ít nhất 21 ngày"), "{warnings}");
        assert!(warnings.contains("Mũi 2"), "{warnings}");
        assert!(
            client
                .find(Locator::Css("table#doses tr[data-kind=primary_2]"))
                .await
                .is_err()
        );
        // Confirmed: recorded, and the history shows it with its warning.
        client
            .find(Locator::Css("input[name=confirm]"))
            .await?
            .click()
            .await?;
        client
            .find(Locator::Css("form#dose-form button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_for(&client, "p#recorded").await?;
        let row = wait_for(&client, "table#doses tr[data-kind=primary_2]")
            .await?
            .text()
            .await?;
        assert!(
            row.contains("10/08/2021") && row.contains("21 ngày"),
            "{row}"
        );
        let primary = client.find(Locator::Id("primary")).await?.text().await?;
        assert!(primary.contains("10/08/2021"), "{primary}");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    finish(client, app, result).await;
}

#[tokio::test]
async fn a_verifier_checks_a_pasted_certificate() {
    let Some(driver_path) = chromedriver_or_skip() else {
        return;
    };
    let db = TestDb::sqlite().await;
    let persons = testkit::load_demo(db.store.as_ref(), "12", 600, 17)
        .await
        .persons;
    let holder = persons
        .iter()
        .find(|p| p.dob < chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap())
        .unwrap()
        .clone();
    // Two linked Pfizer doses, a signing key, and a certificate issued at once.
    for (i, date) in ["2021-08-02", "2021-08-30"].into_iter().enumerate() {
        let record = store::NewSourceRecord {
            id: uuid::Uuid::now_v7(),
            kind: store::RecordKind::Dose,
            source: "TRAM-CERT".into(),
            external_id: format!("D{i}"),
            full_name: holder.full_name.clone(),
            dob: holder.dob.to_string(),
            sex: holder.sex.as_str().into(),
            national_id: String::new(),
            commune_code: holder.commune_code.clone(),
            phone: String::new(),
            payload: serde_json::json!({"vaccine": "EU/1/20/1528", "dose_date": date}),
            batch_id: uuid::Uuid::nil(),
        };
        let decision = store::LinkDecision {
            record_id: record.id,
            status: store::LinkStatus::Linked,
            person_id: Some(holder.id),
            probability: Some(1.0),
            decided_by: "test".into(),
            candidates: None,
        };
        db.store
            .insert_decided_records(&[record], &[decision], None)
            .await
            .unwrap();
    }
    let pass = passport::Passphrase::new("browser test signing passphrase").unwrap();
    let now = chrono::Utc::now();
    passport::hierarchy::keygen(db.store.as_ref(), &pass, now, "test")
        .await
        .unwrap();
    let hc1 = passport::issuing::issue_now(db.store.as_ref(), &pass, &holder, now, "test")
        .await
        .unwrap()
        .hc1
        .unwrap();
    let app = TestApp::spawn(db).await;
    app.add_user("kiemtra", "verifier", None, None).await;

    let (_driver, client) = session(&driver_path).await;

    let result = async {
        client.goto(&app.url("/certificates/verify")).await?;
        log_in(&client, "kiemtra").await?;
        // Back on the verification page: paste the certificate text and submit.
        wait_for(&client, "form#verify-form textarea[name=qr]")
            .await?
            .send_keys(&hc1)
            .await?;
        client
            .find(Locator::Css("form#verify-form button[type=submit]"))
            .await?
            .click()
            .await?;
        let verdict = wait_for(&client, "div#verify-result strong.verdict")
            .await?
            .text()
            .await?;
        assert_eq!(verdict, "HỢP LỆ");
        let valid = client
            .find(Locator::Id("verify-result"))
            .await?
            .attr("data-valid")
            .await?;
        assert_eq!(valid.as_deref(), Some("true"));
        let name = client
            .find(Locator::Id("holder-name"))
            .await?
            .text()
            .await?;
        assert!(name.contains(&holder.full_name), "{name}");
        let dob = client.find(Locator::Id("holder-dob")).await?.text().await?;
        assert_eq!(dob, holder.dob.format("%d/%m/%Y").to_string());
        let dose = client
            .find(Locator::Id("holder-dose"))
            .await?
            .text()
            .await?;
        assert_eq!(dose, "2/2");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    finish(client, app, result).await;
}

#[tokio::test]
async fn a_commune_station_enters_a_positive_test_and_a_low_spo2_checkin_tops_the_alert_queue() {
    let Some(driver_path) = chromedriver_or_skip() else {
        return;
    };
    let db = TestDb::sqlite().await;
    let persons = testkit::load_demo(db.store.as_ref(), "12", 1500, 23)
        .await
        .persons;
    let person = resident_born_before(&persons, 1975);
    let national_id = person.national_id.as_ref().unwrap().as_str().to_string();
    let app = TestApp::spawn(db).await;
    app.add_user("tyt", "commune_staff", Some(&person.commune_code), None)
        .await;
    let (_driver, client) = session(&driver_path).await;

    let result = async {
        // The station enters the positive rapid test of a resident: a case is opened.
        client.goto(&app.url("/cases/tests/new")).await?;
        log_in(&client, "tyt").await?;
        type_into(
            &client,
            "form#test-form input[name=full_name]",
            &person.full_name,
        )
        .await?;
        type_into(
            &client,
            "form#test-form input[name=national_id]",
            &national_id,
        )
        .await?;
        type_into(
            &client,
            "form#test-form input[name=dob]",
            &person.dob.format("%d/%m/%Y").to_string(),
        )
        .await?;
        client
            .find(Locator::Css("form#test-form select[name=sex]"))
            .await?
            .select_by_value(person.sex.as_str())
            .await?;
        client
            .find(Locator::Css("form#test-form select[name=test_type]"))
            .await?
            .select_by_value("rapid-antigen")
            .await?;
        client
            .find(Locator::Css("form#test-form select[name=result]"))
            .await?
            .select_by_value("positive")
            .await?;
        client
            .find(Locator::Css("form#test-form button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_for(&client, "div#test-recorded p#case-opened").await?;
        let case_link = client
            .find(Locator::Css("div#test-recorded a[href^='/cases/']"))
            .await?
            .attr("href")
            .await?
            .expect("a link to the case");
        // Nobody to call yet: the case was reported a moment ago.
        client.goto(&app.url("/cases/alerts")).await?;
        wait_for(&client, "p#queue-empty").await?;
        client.goto(&app.url(&case_link)).await?;
        // The case page: no check-in yet; staff enter one with SpO2 93 and fast breathing.
        wait_for(&client, "p#no-checkins").await?;
        let case_url = client.current_url().await?;
        let case_id = case_url.path().trim_start_matches("/cases/").to_string();
        type_into(&client, "form#checkin-form input[name=spo2]", "93").await?;
        type_into(&client, "form#checkin-form input[name=resp_rate]", "24").await?;
        client
            .find(Locator::Css("form#checkin-form button[type=submit]"))
            .await?
            .click()
            .await?;
        wait_for(&client, "p#done").await?;
        let reasons = wait_for(&client, "div#alert-reasons").await?.text().await?;
        assert!(reasons.contains("SpO2"), "{reasons}");
        wait_for(&client, "table#checkins tr[data-checkin]").await?;
        // The alert queue: the case first, as an emergency, with the person's phone to call.
        client.goto(&app.url("/cases/alerts")).await?;
        let first = wait_for(&client, "table#alerts tbody tr").await?;
        assert_eq!(
            first.attr("data-case").await?.as_deref(),
            Some(case_id.as_str())
        );
        assert_eq!(
            first.attr("data-alert").await?.as_deref(),
            Some("emergency")
        );
        let row = first.text().await?;
        assert!(row.contains(&person.full_name), "{row}");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    finish(client, app, result).await;
}

/// Waits until the page's text contains `needle` (after a form post that lands on a page whose
/// elements were already there before it).
async fn wait_for_text(
    client: &fantoccini::Client,
    needle: &str,
) -> Result<String, fantoccini::error::CmdError> {
    let mut text = String::new();
    for _ in 0..50 {
        if let Ok(body) = client.find(Locator::Css("body")).await {
            text = body.text().await.unwrap_or_default();
            if text.contains(needle) {
                return Ok(text);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("«{needle}» did not appear; the page says:\n{text}");
}

#[tokio::test]
async fn a_province_officer_computes_and_approves_the_week_and_the_public_page_announces_it() {
    let Some(driver_path) = chromedriver_or_skip() else {
        return;
    };
    let db = TestDb::sqlite().await;
    testkit::load_demo(db.store.as_ref(), "12", 1500, 29).await;
    let app = TestApp::spawn(db).await;
    app.add_user("tinh", "province_officer", Some("12"), None)
        .await;
    let (_driver, client) = session(&driver_path).await;

    let result = async {
        // Nothing is public before a run is approved.
        client.goto(&app.url("/epidemic-level")).await?;
        wait_for_text(&client, "Chưa có cấp độ dịch nào được phê duyệt").await?;
        // The officer computes the current week for province 12 (the form's defaults).
        client.goto(&app.url("/epidemic-level/manage")).await?;
        log_in(&client, "tinh").await?;
        wait_for(
            &client,
            "form[action='/epidemic-level/runs'] button[type=submit]",
        )
        .await?
        .click()
        .await?;
        // The proposed run: its map of commune points and the approval button.
        wait_for(&client, "svg.level-map circle").await?;
        let points = client
            .find_all(Locator::Css("svg.level-map circle"))
            .await?
            .len();
        assert!(points > 1, "{points} points on the map");
        wait_for_text(&client, "chờ phê duyệt").await?;
        // Still nothing public while proposed.
        let run_url = client.current_url().await?;
        client.goto(&app.url("/epidemic-level")).await?;
        wait_for_text(&client, "Chưa có cấp độ dịch nào được phê duyệt").await?;
        client.goto(run_url.as_str()).await?;
        wait_for(&client, "form[action$='/approve'] button[type=submit]")
            .await?
            .click()
            .await?;
        wait_for_text(&client, "đã phê duyệt").await?;
        assert!(
            client
                .find(Locator::Css("form[action$='/approve']"))
                .await
                .is_err(),
            "no second approval button"
        );
        // The public page announces the levels (in force 48 hours later), with map and table.
        client.goto(&app.url("/epidemic-level")).await?;
        let notice = wait_for(&client, "section p.notice").await?.text().await?;
        assert!(
            notice.contains("Thông báo: cấp độ mới có hiệu lực từ"),
            "{notice}"
        );
        let rows = client
            .find_all(Locator::Css("section table tbody tr"))
            .await?
            .len();
        assert!(rows > 1, "{rows} rows");
        assert_eq!(
            client
                .find_all(Locator::Css("section svg.level-map circle"))
                .await?
                .len(),
            points
        );
        // From the province to its Rt page (no case yet: not enough data, said so).
        client
            .find(Locator::Css("section a[href='/epidemic-level/rt?unit=12']"))
            .await?
            .click()
            .await?;
        let current = wait_for(&client, "section#rt").await?.text().await?;
        assert!(!current.is_empty());
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    finish(client, app, result).await;
}
