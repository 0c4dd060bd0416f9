//! Vaccination certificates over HTTP (issue 6), on SQLite and (with `PHONGDICH_TEST_PG`)
//! PostgreSQL: request → approve → sign through the API by a site and a province officer (the
//! signing passphrase injected into the server state), each step audited with the caller's name;
//! commune staff refused signing; persons and certificates of another unit answering 404; the QR
//! PNG read back to the same `HC1:` text; a verifier's verdicts on a valid and a tampered
//! certificate; the public trust list; and the passphrase missing or wrong (400, nothing signed).

use chrono::{Duration, NaiveDate, Utc};
use domain::person::Person;
use passport::{Passphrase, hierarchy};
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::Store;
use testkit::{TestApp, TestDb};

const PASSPHRASE: &str = "mật khẩu khoá ký thử nghiệm";

fn test_passphrase() -> Result<Passphrase, domain::Error> {
    Passphrase::new(PASSPHRASE)
}

fn wrong_passphrase() -> Result<Passphrase, domain::Error> {
    Passphrase::new("không phải mật khẩu này")
}

async fn vaccinate(s: &dyn Store, p: &Person) {
    testkit::give_dose(s, p, "EU/1/20/1528", "2021-08-02").await;
    testkit::give_dose(s, p, "EU/1/20/1528", "2021-08-30").await;
}

fn adults(persons: &[Person]) -> Vec<Person> {
    persons
        .iter()
        .filter(|p| p.national_id.is_some() && p.dob < NaiveDate::from_ymd_opt(1990, 1, 1).unwrap())
        .cloned()
        .collect()
}

async fn send(
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

/// `HC1:` text with one character near the end changed (the signature no longer matches).
fn tampered(hc1: &str) -> String {
    let mut chars: Vec<char> = hc1.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn request_approve_sign_verify_within_scope() {
    for db in TestDb::all().await {
        let backend = db.store.backend().as_str();
        let s = db.store.as_ref();
        let lai_chau = adults(&testkit::load_demo(s, "12", 1500, 61).await.persons);
        let ha_noi = adults(&testkit::load_demo(s, "01", 300, 62).await.persons);
        let holder = lai_chau[0].clone();
        let outsider = ha_noi[0].clone();
        vaccinate(s, &holder).await;
        vaccinate(s, &outsider).await;
        let pass = test_passphrase().unwrap();
        let keys = hierarchy::keygen(s, &pass, Utc::now() - Duration::days(1), "admin")
            .await
            .unwrap();
        // A pending certificate of a Hà Nội person, outside every Lai Châu user's unit.
        let outside_cert = passport::issuing::request(s, &outsider, Utc::now(), "hanoi")
            .await
            .unwrap();
        let store = db.store.clone();
        let app = TestApp::spawn_with(db, |st| st.with_cert_passphrase(test_passphrase)).await;
        let commune = holder.commune_code.clone();
        app.add_user("tram", "vaccination_site", Some(&commune), None)
            .await;
        app.add_user("tramxa", "commune_staff", Some(&commune), None)
            .await;
        app.add_user("tinh", "province_officer", Some("12"), None)
            .await;
        app.add_user("kiemtra", "verifier", None, None).await;
        app.add_user("quantri", "admin", None, None).await;
        let (tram, tram_csrf) = app.login_as("tram").await;
        let (xa, xa_csrf) = app.login_as("tramxa").await;
        let (tinh, tinh_csrf) = app.login_as("tinh").await;
        let (kiemtra, kiemtra_csrf) = app.login_as("kiemtra").await;
        let (quantri, _) = app.login_as("quantri").await;
        let nid = holder.national_id.as_ref().unwrap().as_str().to_string();

        // The site requests by citizen ID: pending, built from the registry's doses.
        let (status, pending) = send(
            &tram,
            &app,
            &tram_csrf,
            "/api/v1/certificates",
            json!({"national_id": nid}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {pending}");
        assert_eq!(pending["status"], "pending");
        assert_eq!(pending["person_id"], holder.id.to_string());
        assert_eq!(pending["payload"]["v"][0]["dn"], 2);
        let id = pending["id"].as_str().unwrap().to_string();
        // The province cannot sign before the site approves; commune staff never sign; a
        // verifier cannot request.
        let (status, body) = send(
            &tinh,
            &app,
            &tinh_csrf,
            &format!("/api/v1/certificates/{id}/sign"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");
        let (status, _) = send(
            &kiemtra,
            &app,
            &kiemtra_csrf,
            "/api/v1/certificates",
            json!({"person_id": holder.id}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // The queue of the site's unit holds it; the API lists it as pending.
        let (status, queue) = get(&tram, &app, "/api/v1/certificates?status=pending").await;
        assert_eq!(status, StatusCode::OK, "{queue}");
        assert!(
            queue["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == id.as_str())
        );
        assert!(
            queue["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["id"] != outside_cert.id.to_string()),
            "{backend}: a Hà Nội certificate in a Lai Châu queue"
        );
        let (status, approved) = send(
            &tram,
            &app,
            &tram_csrf,
            &format!("/api/v1/certificates/{id}/approve"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{backend}: {approved}");
        assert_eq!(approved["status"], "approved");
        assert_eq!(approved["approved_by"], "tram");
        let (status, body) = send(
            &xa,
            &app,
            &xa_csrf,
            &format!("/api/v1/certificates/{id}/sign"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend}: {body}");
        let (status, issued) = send(
            &tinh,
            &app,
            &tinh_csrf,
            &format!("/api/v1/certificates/{id}/sign"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{backend}: {issued}");
        assert_eq!(issued["status"], "issued");
        assert_eq!(issued["signed_by"], "tinh");
        assert_eq!(issued["kid"], keys.dsc_kid.as_str());
        let hc1 = issued["hc1"].as_str().unwrap().to_string();
        assert!(hc1.starts_with("HC1:"));

        // Each step is in the audit log under the caller's name.
        for (action, actor) in [
            ("cert.request", "tram"),
            ("cert.approve", "tram"),
            ("cert.sign", "tinh"),
        ] {
            let (status, log) = get(
                &quantri,
                &app,
                &format!("/api/v1/audit?action={action}&limit=5"),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                log["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["actor"] == actor && e["entity_id"] == issued["uvci"]),
                "{backend}: {action} by {actor}: {log}"
            );
        }

        // The person's certificates, and the QR code read back to the same text.
        let (status, mine) = get(
            &tram,
            &app,
            &format!("/api/v1/persons/{}/certificates", holder.id),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(mine["total"], 1, "{mine}");
        assert_eq!(mine["items"][0]["status"], "issued");
        let png = tram
            .get(app.url(&format!("/api/v1/certificates/{id}/qr.png")))
            .send()
            .await
            .unwrap();
        assert_eq!(png.status(), StatusCode::OK);
        assert_eq!(png.headers()["content-type"], "image/png");
        let png = png.bytes().await.unwrap();
        assert_eq!(certs::qr::read_qr_image(&png).unwrap(), hc1, "{backend}");
        let svg = tram
            .get(app.url(&format!("/api/v1/certificates/{id}/qr.svg")))
            .send()
            .await
            .unwrap();
        assert_eq!(svg.headers()["content-type"], "image/svg+xml");
        assert!(svg.text().await.unwrap().contains("<svg"));

        // Outside the unit: the person and the certificate do not exist for the site.
        let other_nid = outsider.national_id.as_ref().unwrap().as_str().to_string();
        for body in [
            json!({"national_id": other_nid}),
            json!({"person_id": outsider.id}),
        ] {
            let (status, _) = send(&tram, &app, &tram_csrf, "/api/v1/certificates", body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{backend}");
        }
        let other = outside_cert.id;
        let (status, _) = send(
            &tram,
            &app,
            &tram_csrf,
            &format!("/api/v1/certificates/{other}/approve"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = send(
            &tinh,
            &app,
            &tinh_csrf,
            &format!("/api/v1/certificates/{other}/sign"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        for path in [
            format!("/api/v1/certificates/{other}/qr.png"),
            format!("/api/v1/persons/{}/certificates", outsider.id),
        ] {
            let (status, _) = get(&tram, &app, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        // Still pending: nothing happened to it.
        assert_eq!(
            store.certificate(other).await.unwrap().unwrap().status,
            store::CertificateStatus::Pending
        );

        // A verifier: valid; tampered → not valid with reasons; later than a year → expired.
        let (status, ok) = send(
            &kiemtra,
            &app,
            &kiemtra_csrf,
            "/api/v1/certificates/verify",
            json!({"qr": hc1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{ok}");
        assert_eq!(ok["valid"], true, "{backend}: {ok}");
        assert_eq!(ok["signature_valid"], true);
        assert_eq!(ok["kid"], keys.dsc_kid.as_str());
        assert_eq!(ok["payload"]["dob"], holder.dob.to_string());
        assert!(ok["reasons"].as_array().unwrap().is_empty());
        let (status, bad) = send(
            &kiemtra,
            &app,
            &kiemtra_csrf,
            "/api/v1/certificates/verify",
            json!({"qr": tampered(&hc1)}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(bad["valid"], false, "{bad}");
        assert!(!bad["reasons"].as_array().unwrap().is_empty(), "{bad}");
        let late = (Utc::now() + Duration::days(400)).to_rfc3339();
        let (_, expired) = send(
            &kiemtra,
            &app,
            &kiemtra_csrf,
            "/api/v1/certificates/verify",
            json!({"qr": hc1, "at": late}),
        )
        .await;
        assert_eq!(expired["valid"], false);
        assert_eq!(expired["expired"], true);
        assert!(
            expired["reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("expired"))
        );
        let (_, garbage) = send(
            &kiemtra,
            &app,
            &kiemtra_csrf,
            "/api/v1/certificates/verify",
            json!({"qr": "HC1:NOT-A-CERTIFICATE"}),
        )
        .await;
        assert_eq!(garbage["decoded"], false, "{garbage}");
        for body in [
            json!({}),
            json!({"qr": "   "}),
            json!({"qr": hc1, "at": "yesterday"}),
        ] {
            let (status, e) = send(
                &kiemtra,
                &app,
                &kiemtra_csrf,
                "/api/v1/certificates/verify",
                body,
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
            assert_eq!(e["error"]["code"], "invalid_input");
        }
        // The site's users may verify too.
        let (status, _) = send(
            &tram,
            &app,
            &tram_csrf,
            "/api/v1/certificates/verify",
            json!({"qr": hc1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);

        // The trust list is public and names the signer.
        let (status, list) = get(
            &reqwest::Client::new(),
            &app,
            "/api/v1/certificates/trust-list",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(list.get(&keys.dsc_kid).is_some(), "{list}");

        // The same database served without the right passphrase: 400, and nothing is signed.
        let second = passport::issuing::request(store.as_ref(), &holder, Utc::now(), "tram")
            .await
            .unwrap();
        passport::issuing::approve(store.as_ref(), second.id, Utc::now(), "tram")
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = server::AppState::new(store.clone()).with_cert_passphrase(wrong_passphrase);
        let task = tokio::spawn(server::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let r = client
            .post(format!("http://{addr}/api/v1/auth/login"))
            .json(&json!({"username": "tinh", "password": testkit::TEST_PASSWORD}))
            .send()
            .await
            .unwrap();
        let csrf = r.json::<Value>().await.unwrap()["csrf_token"]
            .as_str()
            .unwrap()
            .to_string();
        let r = client
            .post(format!(
                "http://{addr}/api/v1/certificates/{}/sign",
                second.id
            ))
            .header("x-csrf-token", csrf)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_input", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("PHONGDICH_CERT_PASSPHRASE"),
            "{body}"
        );
        assert_eq!(
            store.certificate(second.id).await.unwrap().unwrap().status,
            store::CertificateStatus::Approved
        );
        let _ = stop.send(());
        task.await.unwrap().unwrap();
        app.stop().await;
    }
}

/// The pages: the site requests and approves, the province signs, the person's QR is shown; the
/// verification page answers «HỢP LỆ» for the certificate and «KHÔNG HỢP LỆ» for a tampered one,
/// from pasted text and from an uploaded photo of the QR code.
#[tokio::test]
async fn certificate_pages() {
    let db = TestDb::sqlite().await;
    let s = db.store.as_ref();
    let persons = adults(&testkit::load_demo(s, "12", 1500, 63).await.persons);
    let holder = persons[0].clone();
    vaccinate(s, &holder).await;
    hierarchy::keygen(s, &test_passphrase().unwrap(), Utc::now(), "admin")
        .await
        .unwrap();
    let app = TestApp::spawn_with(db, |st| st.with_cert_passphrase(test_passphrase)).await;
    app.add_user("tram", "vaccination_site", Some(&holder.commune_code), None)
        .await;
    app.add_user("tinh", "province_officer", Some("12"), None)
        .await;
    app.add_user("kiemtra", "verifier", None, None).await;
    let nid = holder.national_id.as_ref().unwrap().as_str().to_string();
    let page_csrf = |html: &str| {
        let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
        html[at..at + html[at..].find('"').unwrap()].to_string()
    };

    let (tram, _) = app.login_as("tram").await;
    let html = tram
        .get(app.url(&format!("/certificates?cccd={nid}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&holder.full_name), "{html}");
    assert!(html.contains("id=\"request-form\""));
    let csrf = page_csrf(&html);
    let r = tram
        .post(app.url("/certificates/request"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("person_id", holder.id.to_string().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pending = app
        .db
        .store
        .certificates_of_person(holder.id)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    let id = pending[0].id;
    let html = tram
        .get(app.url("/certificates"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("action=\"/certificates/{id}/approve\"")),
        "{html}"
    );
    // The site has no sign button.
    assert!(!html.contains("data-action=\"sign\""));
    let r = tram
        .post(app.url(&format!("/certificates/{id}/approve")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let (tinh, _) = app.login_as("tinh").await;
    let html = tinh
        .get(app.url("/certificates"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("action=\"/certificates/{id}/sign\"")),
        "{html}"
    );
    let tinh_csrf = page_csrf(&html);
    let r = tinh
        .post(app.url(&format!("/certificates/{id}/sign")))
        .form(&[("csrf", tinh_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let html = tinh
        .get(app.url(&to))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"done\""), "{html}");
    assert!(html.contains("<svg"), "the QR code is inline");
    assert!(html.len() < 100_000, "page of {} bytes", html.len());
    let hc1 = app
        .db
        .store
        .certificate(id)
        .await
        .unwrap()
        .unwrap()
        .hc1
        .unwrap();

    // The holder's self-service page: the certificate, its QR, the printable PDF; others'
    // certificates stay out of reach.
    app.add_user("congdan", "citizen", None, Some(holder.id))
        .await;
    let (congdan, _) = app.login_as("congdan").await;
    let html = congdan
        .get(app.url("/my/certificates"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"my-certificate\""), "{html}");
    assert!(
        html.contains(&holder.full_name) && html.contains("<svg"),
        "{html}"
    );
    let pdf_path = format!("/api/v1/certificates/{id}/certificate.pdf");
    assert!(html.contains(&pdf_path), "{html}");
    let r = congdan.get(app.url(&pdf_path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap();
    assert!(
        pdf.starts_with(b"%PDF") && pdf.len() > 10_000,
        "{} bytes",
        pdf.len()
    );
    app.add_user("congdan2", "citizen", None, Some(persons[1].id))
        .await;
    let (stranger, _) = app.login_as("congdan2").await;
    let r = stranger.get(app.url(&pdf_path)).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "another citizen's certificate"
    );
    let html = stranger
        .get(app.url("/my/certificates"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"no-certificate\""), "{html}");
    let html = tinh
        .get(app.url("/my/certificates"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("id=\"not-a-citizen\""),
        "officers have no own record"
    );

    // Verification page, pasted text (multipart, as the browser sends it).
    let (kiemtra, _) = app.login_as("kiemtra").await;
    let html = kiemtra
        .get(app.url("/certificates/verify"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page_csrf(&html);
    let verify = |form: reqwest::multipart::Form| {
        let kiemtra = kiemtra.clone();
        let url = app.url("/certificates/verify");
        async move {
            let r = kiemtra.post(url).multipart(form).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("qr", hc1.clone());
    let (status, html) = verify(form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-valid=\"true\""), "{html}");
    assert!(html.contains("HỢP LỆ") && !html.contains("KHÔNG HỢP LỆ"));
    assert!(html.contains(&holder.full_name), "{html}");
    assert!(html.contains(&holder.dob.format("%d/%m/%Y").to_string()));
    assert!(html.contains("giấy tờ tùy thân"));
    // Tampered.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("qr", tampered(&hc1));
    let (_, html) = verify(form).await;
    assert!(
        html.contains("KHÔNG HỢP LỆ") && html.contains("data-valid=\"false\""),
        "{html}"
    );
    // Garbage: not readable, with the code.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("qr", "HC2:XYZ");
    let (_, html) = verify(form).await;
    assert!(html.contains("Không đọc được mã QR (bad_prefix)"), "{html}");
    // A photo of the QR code.
    let png = certs::qr::to_png(&hc1, 4).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("qr", "")
        .part(
            "image",
            reqwest::multipart::Part::bytes(png)
                .file_name("qr.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let (status, html) = verify(form).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("data-valid=\"true\""), "{html}");
    // Something that is not an image.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
            "image",
            reqwest::multipart::Part::bytes(b"not an image".to_vec()).file_name("x.png"),
        );
    let (status, html) = verify(form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"verify-problem\""), "{html}");
    // A forged form (wrong CSRF token) is refused.
    let form = reqwest::multipart::Form::new()
        .text("csrf", "wrong")
        .text("qr", hc1.clone());
    let (status, _) = verify(form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}
