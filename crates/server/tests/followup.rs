//! Door-to-door follow-up lists over HTTP (issue 5, point 5), on SQLite and PostgreSQL: who is
//! listed (unvaccinated adults and children old enough, an overdue second dose; not a child too
//! young nor someone up to date or still within the grace period), the states computed by the
//! schedule engine, reasons set through the API and the page form (with the count of "not
//! vaccinated without a known reason" following), scope refusals for another commune's staff,
//! masking, the audit trail and the XLSX export read back.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{Datelike, NaiveDate};
use domain::audit::NewAuditEntry;
use domain::dose_record::DoseRow;
use domain::person::{Household, NationalId, Person, Phone, Sex};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{TestApp, TestDb};
use uuid::Uuid;

const AS_OF: &str = "2022-06-01";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

struct Town {
    commune: String,
    other_commune: String,
    /// Adults never vaccinated.
    a1: Person,
    a2: Person,
    /// One Pfizer dose on 01/08/2021: the second was due 22/08/2021.
    overdue: Person,
    /// Two recent doses: nothing due yet.
    up_to_date: Person,
    /// First dose 10 days before the as-of date: second dose due, within the grace period.
    due: Person,
    /// Six years old, never vaccinated: listed.
    child6: Person,
    /// Three years old: too young for the list.
    child3: Person,
    /// Never vaccinated, in the other commune.
    neighbour: Person,
}

fn person(
    commune: &str,
    old: Option<&str>,
    household: Uuid,
    name: &str,
    dob: NaiveDate,
    n: u32,
) -> Person {
    let sex = if n.is_multiple_of(2) {
        Sex::Male
    } else {
        Sex::Female
    };
    Person {
        id: Uuid::now_v7(),
        province_code: "12".into(),
        commune_code: commune.into(),
        old_commune_code: old.map(str::to_string),
        household_id: Some(household),
        full_name: name.into(),
        dob,
        sex,
        national_id: NationalId::compose(12, dob.year(), sex, n),
        phone: Phone::parse(&format!("09123456{n:02}")).ok(),
    }
}

fn audit(action: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: chrono::Utc::now(),
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

async fn dose(db: &TestDb, p: &Person, date: NaiveDate, id: &str) {
    let row = DoseRow {
        record_id: id.into(),
        site_code: "TRAM-FU".into(),
        national_id: String::new(),
        full_name: p.full_name.clone(),
        dob: p.dob.to_string(),
        sex: p.sex.as_str().into(),
        commune_code: p.commune_code.clone(),
        phone: String::new(),
        vaccine: "EU/1/20/1528".into(),
        vaccine_input: "Pfizer".into(),
        dose_date: date,
        lot: String::new(),
        additional: false,
    };
    intake::doses::record_for_person(db.store.as_ref(), p.id, &row, "test", &audit("dose.record"))
        .await
        .unwrap();
}

async fn town(db: &TestDb) -> Town {
    let units = domain::units::AdminUnits::embedded();
    let communes = units.v2025.communes_under("12");
    let (commune, other_commune) = (communes[0].clone(), communes[1].clone());
    let old = units.old_communes_for_new(&commune).first().cloned();
    let home = Household {
        id: Uuid::now_v7(),
        province_code: "12".into(),
        commune_code: commune.clone(),
        old_commune_code: old.clone(),
        address: "Số 7, tổ 2, bản Nà Tăm".into(),
    };
    let away = Household {
        id: Uuid::now_v7(),
        province_code: "12".into(),
        commune_code: other_commune.clone(),
        old_commune_code: None,
        address: "Bản Hua Bum".into(),
    };
    db.store
        .insert_households(&[home.clone(), away.clone()])
        .await
        .unwrap();
    let o = old.as_deref();
    let h = home.id;
    let t = Town {
        a1: person(&commune, o, h, "Lò Văn Một", d(1980, 3, 4), 1),
        a2: person(&commune, o, h, "Lò Thị Hai", d(1990, 7, 8), 2),
        overdue: person(&commune, o, h, "Tòng Văn Quá", d(1975, 1, 2), 3),
        up_to_date: person(&commune, o, h, "Tòng Thị Đủ", d(1985, 5, 6), 4),
        due: person(&commune, o, h, "Lường Văn Hẹn", d(1988, 9, 10), 5),
        child6: person(&commune, o, h, "Lò Minh Sáu", d(2016, 2, 2), 6),
        child3: person(&commune, o, h, "Lò Minh Ba", d(2019, 1, 1), 7),
        neighbour: person(
            &other_commune,
            None,
            away.id,
            "Quàng Văn Bên",
            d(1970, 1, 1),
            8,
        ),
        commune,
        other_commune,
    };
    db.store
        .insert_persons(&[
            t.a1.clone(),
            t.a2.clone(),
            t.overdue.clone(),
            t.up_to_date.clone(),
            t.due.clone(),
            t.child6.clone(),
            t.child3.clone(),
            t.neighbour.clone(),
        ])
        .await
        .unwrap();
    dose(db, &t.overdue, d(2021, 8, 1), "FU-1").await;
    dose(db, &t.up_to_date, d(2022, 4, 1), "FU-2").await;
    dose(db, &t.up_to_date, d(2022, 4, 22), "FU-3").await;
    dose(db, &t.due, d(2022, 5, 22), "FU-4").await;
    t
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["full_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn follow_up_lists_reasons_scope_and_export() {
    for db in TestDb::all().await {
        let t = town(&db).await;
        let app = TestApp::spawn(db).await;
        app.add_user("xa_a", "commune_staff", Some(&t.commune), None)
            .await;
        app.add_user("xa_b", "commune_staff", Some(&t.other_commune), None)
            .await;
        app.add_user("tram", "vaccination_site", Some(&t.commune), None)
            .await;
        app.add_user("admin", "admin", None, None).await;
        let (staff, csrf) = app.login_as("xa_a").await;
        let (other, other_csrf) = app.login_as("xa_b").await;
        let list_url = format!("/api/v1/followup?unit={}&as_of={AS_OF}", t.commune);

        // Who is listed, oldest first, with the states of the schedule engine.
        let (status, list) = send(staff.get(app.url(&list_url))).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(
            names(&list),
            ["Tòng Văn Quá", "Lò Văn Một", "Lò Thị Hai", "Lò Minh Sáu"],
            "{list}"
        );
        assert_eq!(list["counts"]["not_vaccinated"], 3, "{list}");
        assert_eq!(list["counts"]["overdue"], 1);
        assert_eq!(list["counts"]["not_vaccinated_without_known_reason"], 3);
        assert_eq!(list["total"], 4);
        let first = &list["items"][0];
        assert_eq!(first["state"]["state"], "overdue", "{first}");
        assert_eq!(first["state"]["kind"]["primary"], 2, "{first}");
        assert_eq!(first["due"], "2021-08-22");
        assert_eq!(
            first["days_overdue"],
            (d(2022, 6, 1) - d(2021, 8, 22)).num_days()
        );
        assert_eq!(first["state_label"], "Quá hạn mũi 2");
        assert_eq!(first["doses"], 1);
        let a1 = &list["items"][1];
        assert_eq!(a1["state"]["state"], "not_vaccinated");
        assert_eq!(a1["age"], 42);
        assert_eq!(a1["address"], "Số 7, tổ 2, bản Nà Tăm");
        assert!(a1["national_id"].as_str().unwrap().contains('*'), "{a1}");
        assert_eq!(
            a1["phone"], "0912345601",
            "staff who may read the person can call"
        );
        assert_eq!(a1["reason"], Value::Null);
        assert_eq!(list["items"][3]["age"], 6);

        // Only the never vaccinated; paging.
        let (_, only) = send(staff.get(app.url(&format!(
            "{list_url}&only_unvaccinated=true&limit=2&offset=1"
        ))))
        .await;
        assert_eq!(only["total"], 3, "{only}");
        assert_eq!(names(&only), ["Lò Thị Hai", "Lò Minh Sáu"]);
        let (status, bad) = send(staff.get(app.url(&format!("{list_url}&limit=0")))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

        // Reasons: a known one lowers the count, `unknown` does not, a bad one is refused.
        let put = |c: &reqwest::Client, csrf: &str, id: Uuid, body: Value| {
            c.put(app.url(&format!("/api/v1/followup/{id}")))
                .header("x-csrf-token", csrf.to_string())
                .json(&body)
        };
        let (status, body) = send(put(
            &staff,
            &csrf,
            t.a1.id,
            json!({"reason": "refused", "note": "Hẹn tuần sau"}),
        ))
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["reason_label"], "Từ chối tiêm");
        let (status, _) = send(put(&staff, &csrf, t.a2.id, json!({"reason": "unknown"}))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, err) = send(put(
            &staff,
            &csrf,
            t.a2.id,
            json!({"reason": "busy", "note": ""}),
        ))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("không hợp lệ"),
            "{err}"
        );
        let (_, list) = send(staff.get(app.url(&list_url))).await;
        assert_eq!(
            list["counts"]["not_vaccinated_without_known_reason"], 2,
            "{list}"
        );
        assert_eq!(list["items"][1]["reason"], "refused");
        assert_eq!(list["items"][1]["note"], "Hẹn tuần sau");
        assert_eq!(list["items"][1]["reason_updated_by"], "xa_a");
        assert_eq!(list["items"][2]["reason"], "unknown");

        // The page: headline count, rows, and the per-row form.
        let page_url = format!("/vaccination/followup?unit={}&as_of=01/06/2022", t.commune);
        let r = staff.get(app.url(&page_url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(
            html.contains(r#"data-count="not_vaccinated_without_known_reason">2<"#),
            "{html}"
        );
        assert!(html.contains("Tòng Văn Quá") && html.contains("Quá hạn mũi 2"));
        assert!(html.contains("22/08/2021"), "due date dd/mm/yyyy");
        assert!(!html.contains("Lò Minh Ba"), "too young");
        let r = staff
            .post(app.url(&format!("/vaccination/followup/{}", t.child6.id)))
            .form(&[
                ("csrf", csrf.as_str()),
                ("reason", "contraindicated"),
                ("note", "Đang điều trị"),
                ("unit", t.commune.as_str()),
                ("as_of", "01/06/2022"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let back = r.headers()["location"].to_str().unwrap().to_string();
        assert!(back.starts_with("/vaccination/followup?unit="), "{back}");
        let html = staff
            .get(app.url(&back))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(r#"data-count="not_vaccinated_without_known_reason">1<"#),
            "{html}"
        );
        assert!(html.contains("Chống chỉ định") && html.contains("Đang điều trị"));
        // Without a unit, the staff member's own commune.
        let html = staff
            .get(app.url("/vaccination/followup?as_of=2022-06-01"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("Lò Văn Một"));

        // Scope: the other commune's staff may not list this commune nor set reasons here,
        // and this commune's staff not the other's.
        let (status, _) = send(other.get(app.url(&list_url))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = send(put(
            &other,
            &other_csrf,
            t.a2.id,
            json!({"reason": "moved_away"}),
        ))
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = send(put(
            &staff,
            &csrf,
            t.neighbour.id,
            json!({"reason": "moved_away"}),
        ))
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let r = other
            .get(app.url(&format!("/vaccination/followup.xlsx?unit={}", t.commune)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let (_, theirs) = send(other.get(app.url(&format!(
            "/api/v1/followup?unit={}&as_of={AS_OF}",
            t.other_commune
        ))))
        .await;
        assert_eq!(names(&theirs), ["Quàng Văn Bên"], "{theirs}");
        // A vaccination site may record doses but not keep follow-up lists.
        let (site, _) = app.login_as("tram").await;
        let (status, _) = send(site.get(app.url(&list_url))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // The XLSX export, read back.
        let r = staff
            .get(app.url(&format!(
                "/vaccination/followup.xlsx?unit={}&as_of={AS_OF}",
                t.commune
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains(".xlsx")
        );
        let bytes = r.bytes().await.unwrap();
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).unwrap();
        let sheet = book.worksheet_range("Danh sách").unwrap();
        let rows: Vec<Vec<String>> = sheet
            .rows()
            .map(|r| {
                r.iter()
                    .map(|c| match c {
                        Data::String(s) => s.clone(),
                        Data::Float(f) => format!("{f}"),
                        Data::Int(i) => i.to_string(),
                        Data::Empty => String::new(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect();
        assert_eq!(rows[0][1], "Họ và tên");
        assert_eq!(rows[0][13], "Lý do");
        assert_eq!(rows.len(), 5, "{rows:?}");
        assert_eq!(rows[1][1], "Tòng Văn Quá");
        assert_eq!(rows[1][10], "Quá hạn mũi 2");
        assert_eq!(rows[1][11], "22/08/2021");
        assert_eq!(rows[2][2], "04/03/1980");
        assert_eq!(rows[2][5], "Số 7, tổ 2, bản Nà Tăm");
        assert_eq!(rows[2][13], "Từ chối tiêm");
        assert_eq!(rows[4][13], "Chống chỉ định");
        assert_eq!(rows[3][13], "Chưa rõ lý do");
        let summary = book.worksheet_range("Tổng hợp").unwrap();
        let unexplained = summary
            .rows()
            .find(|r| r[0] == Data::String("Chưa tiêm, chưa rõ lý do".into()))
            .unwrap();
        assert_eq!(unexplained[1], Data::String("1".into()));

        // Every read and change is in the audit log.
        app.login("admin").await;
        let (_, views) = send(
            app.client
                .get(app.url("/api/v1/audit?action=followup.view")),
        )
        .await;
        assert!(views["total"].as_u64().unwrap() >= 6, "{views}");
        let (_, changes) = send(
            app.client
                .get(app.url("/api/v1/audit?action=followup.reason")),
        )
        .await;
        assert_eq!(changes["total"], 3, "{changes}");
        app.stop().await;
    }
}
