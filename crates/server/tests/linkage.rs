//! In-system linkage over HTTP (issue 4, point 4), on SQLite and PostgreSQL: a batch of dose
//! records is linked to the register (auto-links, a review case, an unknown person), a clerk
//! resolves the review, duplicates are merged and unmerged with history, re-sending a batch is
//! idempotent, and a person added later is found through the incrementally updated index.

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{TestApp, TestDb};

async fn post(app: &TestApp, csrf: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(path))
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let r = app.get(path).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn record_of(p: &domain::person::Person, id: &str, fold: bool) -> Value {
    json!({
        "record_id": id,
        "full_name": if fold { domain::name::fold(&p.full_name) } else { p.full_name.clone() },
        "dob": p.dob.to_string(),
        "sex": p.sex.as_str(),
        "national_id": if fold { "".to_string() } else { p.national_id.as_ref().map(|n| n.as_str().to_string()).unwrap_or_default() },
        "commune_code": p.old_commune_code.clone().unwrap_or_default(),
        "phone": "",
        "vaccine": "EU/1/20/1528",
        "dose_number": 1,
    })
}

#[tokio::test]
async fn records_link_review_merge_and_unmerge() {
    for db in TestDb::all().await {
        let persons = testkit::load_demo(db.store.as_ref(), "12", 3000, 11)
            .await
            .persons;
        // A duplicate registration of person 5 (same identity, no citizen ID).
        let mut duplicate = persons[5].clone();
        duplicate.id = uuid::Uuid::now_v7();
        duplicate.national_id = None;
        db.store.insert_persons(&[duplicate.clone()]).await.unwrap();
        let app = TestApp::spawn(db).await;
        app.add_user("admin", "admin", None, None).await;
        let csrf = app.login("admin").await;

        // 300 records of register persons (half without diacritics or ID), one that fits the
        // person and the duplicate equally, and one of a person not in the register.
        let mut records: Vec<Value> = persons[100..400]
            .iter()
            .enumerate()
            .map(|(i, p)| record_of(p, &format!("D{i}"), i % 2 == 0))
            .collect();
        let mut ambiguous = record_of(&persons[5], "AMBIG", false);
        ambiguous["national_id"] = json!("");
        records.push(ambiguous);
        let mut no_commune = record_of(&persons[450], "NOCOMMUNE", false);
        no_commune["commune_code"] = json!("");
        records.push(no_commune);
        records.push(json!({"record_id": "STRANGER", "full_name": "Zơ Râm Kliết",
            "dob": "1931-02-03", "sex": "male", "commune_code": persons[0].commune_code}));
        let batch = json!({"kind": "dose", "source": "TRAM-01", "records": records});
        let (status, summary) = post(&app, &csrf, "/api/v1/records", batch.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{summary}");
        assert_eq!(summary["inserted"], 303, "{summary}");
        assert_eq!(summary["trained"], true);
        assert!(summary["indexed"].as_u64().unwrap() >= 3001, "{summary}");
        assert!(summary["linked"].as_u64().unwrap() >= 295, "{summary}");
        assert!(summary["review"].as_u64().unwrap() >= 1, "{summary}");
        assert!(summary["unlinked"].as_u64().unwrap() >= 1, "{summary}");

        // A record typed without a commune is seen by the staff of its person's commune only.
        let home = persons[450].commune_code.clone();
        let elsewhere = persons
            .iter()
            .map(|p| p.commune_code.clone())
            .find(|c| *c != home)
            .unwrap();
        app.add_user("xa_home", "commune_staff", Some(&home), None)
            .await;
        app.add_user("xa_other", "commune_staff", Some(&elsewhere), None)
            .await;
        for (user, sees) in [("xa_home", true), ("xa_other", false)] {
            let (client, _) = app.login_as(user).await;
            let body: Value = client
                .get(app.url("/api/v1/records?status=linked&limit=500"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let found = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["external_id"] == "NOCOMMUNE");
            assert_eq!(found, sees, "{user}: {body}");
            // Opening the record follows the same rule as the list.
            let (_, all) = get(&app, "/api/v1/records?status=linked&limit=500").await;
            let id = all["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["external_id"] == "NOCOMMUNE")
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            let status = client
                .get(app.url(&format!("/api/v1/records/{id}")))
                .send()
                .await
                .unwrap()
                .status();
            let want = if sees {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(status, want, "{user} opening the record");
        }

        // Sending the same batch again stores nothing.
        let (_, again) = post(&app, &csrf, "/api/v1/records", batch).await;
        assert_eq!(
            (again["inserted"].clone(), again["duplicates"].clone()),
            (json!(0), json!(303))
        );

        // The ambiguous record waits for review with both candidates, each explained.
        let (_, queue) = get(&app, "/api/v1/records?status=review&limit=500").await;
        let item = queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["external_id"] == "AMBIG")
            .unwrap_or_else(|| panic!("AMBIG not in review: {queue}"))
            .clone();
        let id = item["id"].as_str().unwrap().to_string();
        let (status, review) = get(&app, &format!("/api/v1/records/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        let candidates: Vec<String> = review["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["person_id"].as_str().unwrap().to_string())
            .collect();
        assert!(candidates.contains(&persons[5].id.to_string()), "{review}");
        assert!(candidates.contains(&duplicate.id.to_string()), "{review}");
        assert!(
            review["candidates"][0]["explanation"]["weights"]
                .as_array()
                .unwrap()
                .len()
                >= 8
        );
        assert_eq!(
            review["candidates"][0]["person"]["full_name"],
            persons[5].full_name
        );

        // The clerk accepts person 5.
        let (status, body) = post(
            &app,
            &csrf,
            &format!("/api/v1/records/{id}/decision"),
            json!({"decision": "accept", "person_id": persons[5].id}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, r) = get(&app, &format!("/api/v1/records/{id}")).await;
        assert_eq!(r["record"]["status"], "linked");
        assert_eq!(r["record"]["decided_by"], "admin");

        // A bad decision is refused with the field named.
        let (status, body) = post(
            &app,
            &csrf,
            &format!("/api/v1/records/{id}/decision"),
            json!({"decision": "maybe"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["details"]["field"], "decision");

        // The stranger: create a new person from the record.
        let (_, unlinked) = get(&app, "/api/v1/records?status=unlinked&limit=500").await;
        let stranger = unlinked["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["external_id"] == "STRANGER")
            .expect("stranger unlinked")
            .clone();
        let sid = stranger["id"].as_str().unwrap();
        let (status, created) = post(
            &app,
            &csrf,
            &format!("/api/v1/records/{sid}/decision"),
            json!({"decision": "create"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let new_person = created["person_id"].as_str().unwrap().to_string();
        let (_, np) = get(&app, &format!("/api/v1/persons/{new_person}")).await;
        assert_eq!(np["full_name"], "Zơ Râm Kliết");

        // Give the duplicate a record of its own, then merge it into person 5.
        let (_, dup_recs) = get(&app, &format!("/api/v1/persons/{}/records", duplicate.id)).await;
        let dup_count = dup_recs.as_array().unwrap().len();
        let (_, before) = get(&app, &format!("/api/v1/persons/{}/records", persons[5].id)).await;
        let before = before.as_array().unwrap().len();
        assert!(before >= 1);
        let (status, merge) = post(
            &app,
            &csrf,
            &format!("/api/v1/persons/{}/merge", persons[5].id),
            json!({"duplicate_id": duplicate.id}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{merge}");
        let (_, after) = get(&app, &format!("/api/v1/persons/{}/records", persons[5].id)).await;
        assert_eq!(after.as_array().unwrap().len(), before + dup_count);
        // The merged person no longer appears in lists, but its page says where it went.
        let (_, list) = get(
            &app,
            &format!(
                "/api/v1/persons?unit={}&limit=500&q={}",
                persons[5].commune_code,
                urlencode(&persons[5].full_name)
            ),
        )
        .await;
        assert!(
            !list["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == duplicate.id.to_string()),
            "{list}"
        );
        let page = app
            .get(&format!("/persons/{}", duplicate.id))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("merged-into"), "merged person page");
        // History, then unmerge.
        let (_, merges) = get(&app, &format!("/api/v1/persons/{}/merges", persons[5].id)).await;
        assert_eq!(merges.as_array().unwrap().len(), 1);
        let mid = merges[0]["id"].as_str().unwrap();
        let (status, undone) = post(
            &app,
            &csrf,
            &format!("/api/v1/persons/{}/merges/{mid}/undo", persons[5].id),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{undone}");
        assert_eq!(undone["undone_by"], "admin");
        let (_, restored) = get(&app, &format!("/api/v1/persons/{}/records", persons[5].id)).await;
        assert_eq!(restored.as_array().unwrap().len(), before);
        let (status, _) = post(
            &app,
            &csrf,
            &format!("/api/v1/persons/{}/merges/{mid}/undo", persons[5].id),
            json!({}),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "an undone merge cannot be undone again"
        );

        // A person registered later is keyed incrementally and found by the next batch.
        let mut late = persons[2000].clone();
        late.id = uuid::Uuid::now_v7();
        late.full_name = "Vàng Thị Mỷ".into();
        late.national_id = None;
        late.phone = None;
        app.db.store.insert_persons(&[late.clone()]).await.unwrap();
        let (_, s) = post(
            &app,
            &csrf,
            "/api/v1/records",
            json!({"kind": "test", "source": "LAB-1",
            "records": [record_of(&late, "T1", true)]}),
        )
        .await;
        // Keyed now: the late person, the person created from the stranger's record and the
        // unmerged duplicate (its keys were dropped at the merge) — nobody else.
        assert_eq!(
            s["indexed"], 3,
            "only new or changed persons are keyed: {s}"
        );
        assert_eq!(s["trained"], false, "{s}");
        let (_, linked) = get(&app, &format!("/api/v1/persons/{}/records", late.id)).await;
        assert_eq!(linked.as_array().unwrap().len(), 1, "{s}");

        // Pages: queue, side-by-side review, person page with linked records.
        let html = app
            .get("/linkage/review?status=linked")
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("id=\"records\""));
        let html = app
            .get(&format!("/linkage/records/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("id=\"compare\"") && html.contains(&persons[5].full_name));
        let html = app
            .get(&format!("/persons/{}", persons[5].id))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("linked-records") && html.contains("TRAM-01"));
        // Invalid kinds and missing record ids are refused, naming the field.
        let (status, body) = post(
            &app,
            &csrf,
            "/api/v1/records",
            json!({"kind": "vaccine", "source": "X", "records": []}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["details"]["field"].clone()),
            (StatusCode::BAD_REQUEST, json!("kind"))
        );
        let (status, body) = post(
            &app,
            &csrf,
            "/api/v1/records",
            json!({"kind": "dose", "source": "X", "records": [{"full_name": "A"}]}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["details"]["field"].clone()),
            (StatusCode::BAD_REQUEST, json!("record_id"))
        );
        app.stop().await;
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
