//! Outbreak response over HTTP, on SQLite and PostgreSQL: contacts added to a case and listed
//! (masked); a contact who tests positive becomes a case and an arrow of the chain-of-
//! transmission SVG; a cluster's end date is its last case + 8 days (group B); an unusual
//! cluster is flagged and goes to sample → referred → resulted with the variant on its page; a
//! positive pool breaks down into single samples; a single positive result becomes a lab test
//! and a case; the lab queue's order and the turnaround; the declared share of entrants from
//! variant areas against the > 95% target; out-of-scope records 404 and lists 403; the pages.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::person::{NationalId, Person, Phone, Sex};
use domain::surveillance::{Severity, TestResult, TestType};
use domain::test_record::TestRow;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{ApiUser, TestApp, TestDb};
use uuid::Uuid;

/// Today in Vietnam.
fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

fn day(offset: i64) -> NaiveDate {
    today() + Duration::days(offset)
}

fn vn(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn audit(action: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: Utc::now(),
        actor_id: None,
        actor: Some("test".into()),
        action: action.into(),
        entity_type: None,
        entity_id: None,
        unit_code: None,
        ip: None,
        details: json!({}),
    }
}

struct Town {
    commune: String,
    other_commune: String,
    people: Vec<Person>,
    /// In the other commune.
    neighbour: Person,
}

fn person(commune: &str, old: Option<&str>, name: &str, year: i32, n: u32) -> Person {
    let sex = if n.is_multiple_of(2) {
        Sex::Male
    } else {
        Sex::Female
    };
    let dob = NaiveDate::from_ymd_opt(year, 1 + n % 12, 1 + n % 27).unwrap();
    Person {
        id: Uuid::now_v7(),
        province_code: "12".into(),
        commune_code: commune.into(),
        old_commune_code: old.map(str::to_string),
        household_id: None,
        full_name: name.into(),
        dob,
        sex,
        national_id: NationalId::compose(12, dob.year(), sex, 4000 + n),
        phone: Phone::parse(&format!("09123457{n:02}")).ok(),
    }
}

async fn town(db: &TestDb) -> Town {
    let units = domain::units::AdminUnits::embedded();
    let communes = units.v2025.communes_under("12");
    let (commune, other_commune) = (communes[0].clone(), communes[1].clone());
    let old = units.old_communes_for_new(&commune).first().cloned();
    let names = [
        "Lò Văn An",
        "Tòng Thị Bình",
        "Lường Văn Cường",
        "Quàng Thị Dung",
        "Lò Văn Em",
        "Điêu Thị Gấm",
        "Hoàng Văn Hải",
        "Vàng Thị Kim",
    ];
    let people: Vec<Person> = names
        .iter()
        .enumerate()
        .map(|(i, n)| person(&commune, old.as_deref(), n, 1970 + i as i32, i as u32 + 1))
        .collect();
    let neighbour = person(&other_commune, None, "Lò Văn Bên", 1980, 20);
    let mut all = people.clone();
    all.push(neighbour.clone());
    db.store.insert_persons(&all).await.unwrap();
    Town {
        commune,
        other_commune,
        people,
        neighbour,
    }
}

fn row(p: &Person, id: &str, sample: NaiveDate, result: TestResult) -> TestRow {
    TestRow {
        record_id: id.into(),
        lab_code: "LAB-TEST".into(),
        national_id: p.national_id.as_ref().unwrap().as_str().into(),
        full_name: p.full_name.clone(),
        dob: p.dob.to_string(),
        sex: p.sex.as_str().into(),
        commune_code: p.commune_code.clone(),
        phone: String::new(),
        sample_date: sample,
        test_type: TestType::RtPcr,
        result,
    }
}

/// A positive test of a register person, through test ingest: opens a case (and marks their
/// contacts). Returns the case id.
async fn positive(app: &TestApp, p: &Person, id: &str, sample: NaiveDate) -> Uuid {
    let store = app.db.store.as_ref();
    intake::lab_tests::record_tests(
        store,
        &[row(p, id, sample, TestResult::Positive)],
        Utc::now(),
        Some(&audit("test.record")),
    )
    .await
    .unwrap();
    store.cases_of_person(p.id).await.unwrap()[0].id
}

fn cccd(p: &Person) -> String {
    p.national_id.as_ref().unwrap().as_str().to_string()
}

async fn contacts_and_chain(
    app: &TestApp,
    t: &Town,
    tram: &ApiUser,
    other: &ApiUser,
    lab: &ApiUser,
) {
    let (a, b) = (&t.people[0], &t.people[1]);
    let case_a = positive(app, a, "chain-a", day(-5)).await;
    let (s, body) = tram
        .post(
            app,
            &format!("/api/v1/cases/{case_a}/contacts"),
            json!({"contacts": [
                {"full_name": b.full_name, "national_id": cccd(b), "relation": "household",
                 "last_exposure": vn(day(-4))},
                {"full_name": "Người Lạ Mặt", "phone": "0987654321", "relation": "social",
                 "last_exposure": day(-3).to_string(), "quarantine_place": "none"},
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, list) = tram
        .get(app, &format!("/api/v1/cases/{case_a}/contacts"))
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 2);
    let items = list["items"].as_array().unwrap();
    let linked = items
        .iter()
        .find(|c| c["person_id"] == b.id.to_string())
        .expect("the contact linked by CCCD");
    assert_eq!(linked["status"], "monitoring");
    // Group B: one incubation period (4 days) after the last exposure.
    assert_eq!(linked["quarantine_until"], day(0).to_string());
    assert!(linked["national_id"].as_str().unwrap().contains('*'));
    let stranger = items
        .iter()
        .find(|c| c["person_id"].is_null())
        .expect("the stranger");
    assert!(stranger["phone"].as_str().unwrap().contains('*'));
    assert!(stranger["national_id"].is_null());

    // The contact tests positive, the result sent by a lab through the API: becomes a case, an
    // arrow of the chain.
    let (s, summary) = lab
        .post(
            app,
            "/api/v1/tests",
            json!({"records": [{
                "record_id": "chain-b", "lab_code": "LAB-TEST", "national_id": cccd(b),
                "full_name": b.full_name, "dob": b.dob.to_string(), "sex": b.sex.as_str(),
                "commune_code": b.commune_code, "sample_date": day(-1).to_string(),
                "test_type": "rt-pcr", "result": "positive",
            }]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{summary}");
    assert_eq!(summary["cases_created"], 1, "{summary}");
    assert_eq!(summary["contacts_became_cases"], 1, "{summary}");
    let case_b = app.db.store.cases_of_person(b.id).await.unwrap()[0].id;
    let (_, list) = tram
        .get(app, &format!("/api/v1/cases/{case_a}/contacts"))
        .await;
    let linked = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["person_id"] == b.id.to_string())
        .unwrap()
        .clone();
    assert_eq!(linked["status"], "became_case", "{list}");
    assert_eq!(linked["became_case_id"], case_b.to_string());

    let (s, ctype, svg) = tram
        .text(app, &format!("/api/v1/cases/{case_a}/graph.svg"))
        .await;
    assert_eq!(s, StatusCode::OK, "{svg}");
    assert!(ctype.starts_with("image/svg+xml"));
    assert_eq!(svg.matches(r#"<g class="node""#).count(), 2, "{svg}");
    assert_eq!(svg.matches(r#"<path class="edge""#).count(), 1);
    assert!(svg.contains(&format!(r#"data-from="{case_a}" data-to="{case_b}""#)));
    assert!(!svg.contains(&a.full_name) && !svg.contains(&b.full_name));
    let (s, _, svg_b) = tram
        .text(app, &format!("/api/v1/cases/{case_b}/graph.svg"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(svg_b.contains(&format!(r#"data-from="{case_a}" data-to="{case_b}""#)));

    // A contact's status changes through PATCH.
    let (s, patched) = tram
        .patch(
            app,
            &format!("/api/v1/contacts/{}", stranger["id"].as_str().unwrap()),
            json!({"status": "released", "note": "Âm tính"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    assert_eq!(patched["status"], "released");
    let (s, refused) = tram
        .patch(
            app,
            &format!("/api/v1/contacts/{}", linked["id"].as_str().unwrap()),
            json!({"status": "released"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{refused}");

    // The page.
    let (s, _, html) = tram.text(app, &format!("/cases/{case_a}/contacts")).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("Đã thành ca bệnh"));
    assert!(html.contains(r#"id="transmission-graph""#));
    assert!(!html.contains(&cccd(b)));
    assert!(html.len() < 100_000);
    let (s, location, _) = tram
        .form(
            app,
            &format!("/cases/{case_a}/contacts"),
            &[
                ("full_name", "Khách Ở Chợ"),
                ("relation", "social"),
                ("last_exposure", &vn(day(-2))),
                ("quarantine_place", "home"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some(format!("/cases/{case_a}/contacts?done=added").as_str())
    );

    // Another commune's staff: the case and the contacts do not exist for them.
    let (s, _) = other
        .get(app, &format!("/api/v1/cases/{case_a}/contacts"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = other
        .patch(
            app,
            &format!("/api/v1/contacts/{}", stranger["id"].as_str().unwrap()),
            json!({"note": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = other
        .text(app, &format!("/api/v1/cases/{case_a}/graph.svg"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = other
        .post(
            app,
            &format!("/api/v1/cases/{case_a}/contacts"),
            json!({"full_name": "X", "last_exposure": day(-1).to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn clusters(app: &TestApp, t: &Town, tram: &ApiUser, other: &ApiUser) {
    let (c, d) = (&t.people[2], &t.people[3]);
    let case_c = positive(app, c, "cluster-c", day(-6)).await;
    let case_d = positive(app, d, "cluster-d", day(-3)).await;
    let (s, created) = tram
        .post(
            app,
            "/api/v1/clusters",
            json!({"name": "Chợ trung tâm", "place": "Chợ xã", "commune_code": t.commune,
                   "opened_on": vn(day(-5)), "cases": [case_c.to_string()]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["last_case_on"], day(-6).to_string());
    assert_eq!(created["ends_on"], day(2).to_string());
    assert_eq!(created["members"].as_array().unwrap().len(), 1);

    let (s, body) = tram
        .post(
            app,
            &format!("/api/v1/clusters/{id}/cases"),
            json!({"add": [case_d.to_string()]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // The cluster ends 8 days after its last case.
    assert_eq!(body["last_case_on"], day(-3).to_string());
    assert_eq!(body["ends_on"], day(5).to_string());
    assert_eq!(body["unusual"], false);
    assert_eq!(body["sequencing"], "not_needed");
    let (_, stored) = tram.get(app, &format!("/api/v1/clusters/{id}")).await;
    assert_eq!(stored["ends_on"], day(5).to_string());
    assert_eq!(stored["members"].as_array().unwrap().len(), 2);
    let case = app.db.store.case(case_d).await.unwrap().unwrap();
    assert_eq!(case.cluster_id.map(|u| u.to_string()), Some(id.clone()));

    let (s, list) = tram
        .get(app, &format!("/api/v1/clusters?unit={}", t.commune))
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str())
    );

    // A member becomes critical: the cluster is unusual and must be sampled.
    let mut critical = case.clone();
    critical.severity = Severity::Critical;
    app.db
        .store
        .update_case(&critical, &audit("case.update"))
        .await
        .unwrap();
    let (_, detail) = tram.get(app, &format!("/api/v1/clusters/{id}")).await;
    assert_eq!(detail["unusual"], true, "{detail}");
    assert_eq!(detail["sequencing"], "to_sample");
    assert_eq!(detail["unusual_reasons"][0]["rule"], "severe");
    assert_eq!(detail["unusual_rules_verified"], false);
    let (_, _, list_page) = tram.text(app, "/cases/clusters").await;
    assert!(
        list_page.contains(r#"data-sampled="0" data-unusual="1""#),
        "{list_page}"
    );

    let (s, referred) = tram
        .patch(
            app,
            &format!("/api/v1/clusters/{id}"),
            json!({"sequencing_lab": "Viện Vệ sinh dịch tễ Trung ương", "referred_on": vn(day(-1)),
                   "zoning": "zoned"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{referred}");
    assert_eq!(referred["sequencing"], "referred");
    assert_eq!(referred["zoning"], "zoned");
    let (s, resulted) = tram
        .patch(
            app,
            &format!("/api/v1/clusters/{id}"),
            json!({"variant": "JN.1", "variant_result_on": day(0).to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{resulted}");
    assert_eq!(resulted["sequencing"], "resulted");
    assert_eq!(resulted["variant"], "JN.1");
    let (s, refused) = tram
        .patch(
            app,
            &format!("/api/v1/clusters/{id}"),
            json!({"unusual": false}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{refused}");

    // The pages.
    let (s, _, html) = tram.text(app, &format!("/cases/clusters/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains(r#"data-sequencing="resulted""#));
    assert!(html.contains(r#"<strong id="variant">JN.1</strong>"#));
    assert!(html.contains(&format!(r#"<dd id="ends-on">{}"#, vn(day(5)))));
    assert!(html.contains(r#"id="transmission-graph""#));
    assert_eq!(html.matches(r#"<g class="node""#).count(), 2);
    assert!(html.len() < 100_000);
    let (_, _, list_page) = tram.text(app, "/cases/clusters").await;
    assert!(list_page.contains(r#"data-sampled="1" data-unusual="1""#));
    assert!(list_page.contains("JN.1"));
    let (s, location, _) = tram
        .form(
            app,
            &format!("/cases/clusters/{id}"),
            &[("form", "zoning"), ("zoning", "lifted")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some(format!("/cases/clusters/{id}?done=saved").as_str())
    );
    let (_, after) = tram.get(app, &format!("/api/v1/clusters/{id}")).await;
    assert_eq!(after["zoning"], "lifted");
    let (s, location, _) = tram
        .form(
            app,
            "/cases/clusters",
            &[
                ("name", "Trường tiểu học"),
                ("commune_code", t.commune.as_str()),
                ("hierarchy", "2025"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(location.unwrap().starts_with("/cases/clusters/"));

    // Removing the last case moves the end date back.
    let (s, body) = tram
        .post(
            app,
            &format!("/api/v1/clusters/{id}/cases"),
            json!({"remove": [case_d.to_string()]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["ends_on"], day(2).to_string());
    assert!(
        app.db
            .store
            .case(case_d)
            .await
            .unwrap()
            .unwrap()
            .cluster_id
            .is_none()
    );

    // Out of scope: the record is 404, the unit's list 403, creating there 403.
    let (s, _) = other.get(app, &format!("/api/v1/clusters/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = other
        .patch(
            app,
            &format!("/api/v1/clusters/{id}"),
            json!({"zoning": "zoned"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = other
        .text(app, &format!("/api/v1/clusters/{id}/graph.svg"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = other
        .get(app, &format!("/api/v1/clusters?unit={}", t.commune))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = other
        .post(
            app,
            "/api/v1/clusters",
            json!({"name": "X", "commune_code": t.commune}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = other.text(app, &format!("/cases/clusters/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn sampling(app: &TestApp, t: &Town, tram: &ApiUser, lab: &ApiUser, lab_hn: &ApiUser) {
    let (s, session) = tram
        .post(
            app,
            "/api/v1/sample-sessions",
            json!({"commune_code": t.commune, "place": "Nhà văn hoá bản Nà Tăm",
                   "lab_code": "CDC-LC"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    let sid = session["id"].as_str().unwrap().to_string();
    let pool_members: Vec<Value> = t.people[4..7]
        .iter()
        .map(|p| json!({"full_name": p.full_name, "national_id": cccd(p)}))
        .collect();
    let (s, pooled) = tram
        .post(
            app,
            &format!("/api/v1/sample-sessions/{sid}/samples"),
            json!({"samples": [{"code": "NT-01", "members": pool_members}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pooled}");
    let pool = pooled["items"][0].clone();
    assert_eq!(pool["pooled"], true);
    assert!(
        pool["members"][0]["national_id"]
            .as_str()
            .unwrap()
            .contains('*')
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let single_person = &t.people[7];
    let (s, single) = tram
        .post(
            app,
            &format!("/api/v1/sample-sessions/{sid}/samples"),
            json!({"code": "NT-02", "members": [{"full_name": single_person.full_name,
                   "national_id": cccd(single_person)}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{single}");
    let single = single["items"][0].clone();
    let (s, dup) = tram
        .post(
            app,
            &format!("/api/v1/sample-sessions/{sid}/samples"),
            json!({"code": "nt-02", "members": [{"full_name": "Ai Đó"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{dup}");
    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"full_name": format!("N {i}")}))
        .collect();
    let (s, _) = tram
        .post(
            app,
            &format!("/api/v1/sample-sessions/{sid}/samples"),
            json!({"code": "NT-03", "members": eleven}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Collected samples are on their way to the lab; received ones queue by collection time.
    let codes = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["sample"]["code"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, queue) = lab.get(app, "/api/v1/lab-queue?lab=CDC-LC").await;
    assert_eq!(s, StatusCode::OK, "{queue}");
    assert_eq!(queue["total"], 0);
    assert_eq!(codes(&queue, "incoming"), vec!["NT-01", "NT-02"]);
    let pool_id = pool["id"].as_str().unwrap();
    let single_id = single["id"].as_str().unwrap();
    for id in [single_id, pool_id] {
        let (s, received) = lab
            .post(app, &format!("/api/v1/samples/{id}/receive"), json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{received}");
        assert_eq!(received["status"], "received");
    }
    let (_, queue) = lab.get(app, "/api/v1/lab-queue?lab=CDC-LC").await;
    assert_eq!(codes(&queue, "items"), vec!["NT-01", "NT-02"]);
    assert!(codes(&queue, "incoming").is_empty());
    assert!(queue["items"][0]["waiting_hours"].as_f64().unwrap() >= 0.0);

    // A positive pool breaks down into one single sample per member.
    let (s, out) = lab
        .post(
            app,
            &format!("/api/v1/samples/{pool_id}/result"),
            json!({"result": "dương tính"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["sample"]["result"], "positive");
    let breakdown = out["breakdown"].as_array().unwrap();
    assert_eq!(breakdown.len(), 3);
    assert_eq!(breakdown[0]["code"], "NT-01-1");
    assert_eq!(breakdown[0]["pool_id"], pool_id);
    assert_eq!(out["test_recorded"], false);
    // The same result again changes nothing; another one is a conflict.
    let (s, _) = lab
        .post(
            app,
            &format!("/api/v1/samples/{pool_id}/result"),
            json!({"result": "positive"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = lab
        .post(
            app,
            &format!("/api/v1/samples/{pool_id}/result"),
            json!({"result": "negative"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A single positive becomes a lab test and a case.
    let (s, out) = lab
        .post(
            app,
            &format!("/api/v1/samples/{single_id}/result"),
            json!({"result": "positive"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["test_recorded"], true);
    assert_eq!(out["cases_created"], 1);
    let tests = app
        .db
        .store
        .lab_tests_of_person(single_person.id)
        .await
        .unwrap();
    assert_eq!(tests.len(), 1);
    assert_eq!(tests[0].lab_code, "CDC-LC");
    assert_eq!(tests[0].result, TestResult::Positive);
    assert_eq!(
        tests[0].sample_id.map(|id| id.to_string()),
        Some(single_id.to_string()),
        "the lab test keeps the sample it came from"
    );
    let cases = app
        .db
        .store
        .cases_of_person(single_person.id)
        .await
        .unwrap();
    assert_eq!(cases.len(), 1);

    // The three singles are now on their way; the turnaround counts the two results.
    let (_, queue) = lab.get(app, "/api/v1/lab-queue?lab=CDC-LC").await;
    assert_eq!(queue["total"], 0);
    assert_eq!(
        codes(&queue, "incoming"),
        vec!["NT-01-1", "NT-01-2", "NT-01-3"]
    );
    let (s, ta) = lab.get(app, "/api/v1/lab-turnaround?lab=CDC-LC").await;
    assert_eq!(s, StatusCode::OK, "{ta}");
    assert_eq!(ta["items"][0]["lab_code"], "CDC-LC");
    assert_eq!(ta["items"][0]["samples"], 2);
    let median = ta["items"][0]["median_hours"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&median), "{ta}");

    let (s, sessions) = tram
        .get(app, &format!("/api/v1/sample-sessions?unit={}", t.commune))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sessions["items"][0]["samples"].as_array().unwrap().len(), 5);

    // Pages.
    let (s, _, html) = lab.text(app, "/cases/lab?lab=CDC-LC").await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains(r#"data-code="NT-01-1""#));
    assert!(html.contains(r#"id="turnaround""#));
    let first_single = breakdown[0]["id"].as_str().unwrap();
    let (s, location, _) = lab
        .form(
            app,
            &format!("/cases/lab/samples/{first_single}/result"),
            &[("result", "negative"), ("lab", "CDC-LC")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("/cases/lab?lab=CDC-LC&done=resulted")
    );
    let (s, _, html) = tram.text(app, "/cases/sampling").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(r#"data-code="NT-01-2""#));
    assert!(!html.contains(&cccd(single_person)));
    let (s, location, _) = tram
        .form(
            app,
            &format!("/cases/sampling/{sid}/samples"),
            &[("code", "NT-09"), ("members", "Lò Văn X;;\nLò Thị Y")],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{location:?}");

    // Another province's lab: neither the samples nor the unit's queue.
    let (s, _) = lab_hn
        .post(
            app,
            &format!("/api/v1/samples/{single_id}/receive"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = lab_hn
        .get(app, "/api/v1/lab-queue?lab=CDC-LC&unit=12")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, own) = lab_hn.get(app, "/api/v1/lab-queue?lab=CDC-LC").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(own["total"], 0);
    // Commune staff may receive their commune's samples too; a resulted one is a conflict.
    let second_single = breakdown[1]["id"].as_str().unwrap();
    let (s, _) = tram
        .post(
            app,
            &format!("/api/v1/samples/{second_single}/receive"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = tram
        .post(
            app,
            &format!("/api/v1/samples/{single_id}/receive"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

async fn border(app: &TestApp, t: &Town, tram: &ApiUser, lab_hn: &ApiUser) {
    for i in 0..19 {
        let (s, body) = tram
            .post(
                app,
                "/api/v1/entry-declarations",
                json!({"full_name": format!("Người Về {i}"), "document_number": format!("C{i:07}"),
                       "gate_code": "MaLuThang", "entered_on": vn(day(-1)), "from_area": "Vân Nam",
                       "variant_area": true, "commune_code": t.commune}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        if i == 0 {
            // Followed for one incubation period (4 days under group B).
            assert_eq!(body["followup_until"], day(3).to_string());
            assert!(body["document_number"].as_str().unwrap().contains('*'));
        }
    }
    let (s, _) = tram
        .post(
            app,
            "/api/v1/entry-declarations",
            json!({"full_name": "Du Khách", "document_number": "P9999999", "gate_code": "MaLuThang",
                   "entered_on": day(-1).to_string(), "from_area": "Lào", "variant_area": false,
                   "commune_code": t.commune}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, count) = tram
        .send(
            app,
            Method::PUT,
            "/api/v1/border-counts",
            Some(
                json!({"gate_code": "MaLuThang", "province_code": "12", "day": day(-1).to_string(),
                        "entrants": 30, "from_variant_areas": 20}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{count}");
    let period = format!("from={}&to={}", day(-2), day(0));
    let (s, share) = tram
        .get(
            app,
            &format!("/api/v1/entry-declarations/share?unit=12&{period}"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{share}");
    assert_eq!(share["total"]["declared"], 19);
    assert_eq!(share["total"]["entrants"], 20);
    assert_eq!(share["total"]["share"], 0.95);
    // "More than 95%": exactly 95% misses the target.
    assert_eq!(share["total"]["meets_target"], false);
    assert_eq!(share["target"], 0.95);
    let (_, _, html) = tram.text(app, "/cases/border").await;
    assert!(html.contains(r#"data-meets="false">95,0%"#), "{html}");

    let (s, _) = tram
        .post(
            app,
            "/api/v1/entry-declarations",
            json!({"full_name": "Người Về Cuối", "document_number": "C7654321", "gate_code": "MaLuThang",
                   "entered_on": day(-1).to_string(), "from_area": "Vân Nam", "variant_area": true,
                   "commune_code": t.commune}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, share) = tram
        .get(
            app,
            &format!("/api/v1/entry-declarations/share?unit=12&{period}"),
        )
        .await;
    assert_eq!(share["total"]["declared"], 20);
    assert_eq!(share["total"]["meets_target"], true);
    let (s, _, html) = tram.text(app, "/cases/border").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(r#"data-meets="true">100,0%"#), "{html}");
    assert!(!html.contains("C7654321"));
    assert!(html.len() < 100_000);

    let (s, list) = tram
        .get(
            app,
            &format!("/api/v1/entry-declarations?unit={}&{period}", t.commune),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 21);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["document_number"].as_str().unwrap().contains('*'))
    );

    // Forms.
    let (s, location, _) = tram
        .form(
            app,
            "/cases/border/counts",
            &[
                ("gate_code", "UMaTu"),
                ("province_code", "12"),
                ("day", &vn(day(-1))),
                ("entrants", "5"),
                ("from_variant_areas", "1"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/cases/border?done=counted"));

    // Out of scope.
    let (s, _) = tram
        .get(
            app,
            &format!("/api/v1/entry-declarations/share?unit=01&{period}"),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = tram
        .get(
            app,
            &format!("/api/v1/entry-declarations?unit={}", t.other_commune),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = tram
        .post(
            app,
            "/api/v1/entry-declarations",
            json!({"full_name": "X", "document_number": "C1", "gate_code": "G", "entered_on": day(-1).to_string(),
                   "from_area": "Y", "commune_code": t.other_commune}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A lab has no border permission.
    let (s, _) = lab_hn
        .get(app, "/api/v1/entry-declarations/share?unit=01")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn outbreak_response_on_both_backends() {
    for db in TestDb::all().await {
        let t = town(&db).await;
        let app = TestApp::spawn(db).await;
        let tram = ApiUser::login(&app, "tram", "commune_staff", &t.commune).await;
        let other = ApiUser::login(&app, "tram_ben", "commune_staff", &t.other_commune).await;
        let lab = ApiUser::login(&app, "xet_nghiem", "lab", "12").await;
        let lab_hn = ApiUser::login(&app, "xet_nghiem_hn", "lab", "01").await;
        contacts_and_chain(&app, &t, &tram, &other, &lab).await;
        clusters(&app, &t, &tram, &other).await;
        sampling(&app, &t, &tram, &lab, &lab_hn).await;
        border(&app, &t, &tram, &lab_hn).await;
        // The neighbour's records stay with their commune.
        assert!(
            app.db
                .store
                .cases_of_person(t.neighbour.id)
                .await
                .unwrap()
                .is_empty()
        );
        app.stop().await;
    }
}
