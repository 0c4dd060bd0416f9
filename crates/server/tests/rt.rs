//! Rt of a unit over HTTP, on SQLite and PostgreSQL: a commune's growing then falling wave of
//! cases (some imported), ingested as lab results of register persons, gives through
//! `GET /api/v1/rt` exactly the windows of `domain::rt::estimate_rt` on the same series and a
//! 14-day forecast with its band; the page draws both charts; a unit without cases has no
//! estimate; bad units and days are refused in the project's error shapes.

use chrono::{Datelike, Days, NaiveDate, Utc};
use domain::audit::NewAuditEntry;
use domain::person::{NationalId, Person, Sex};
use domain::surveillance::{DetectionSource, TestResult, TestType};
use domain::test_record::TestRow;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{TestApp, TestDb};
use uuid::Uuid;

/// New cases per day of the wave: growing, a peak, then falling (12 cases in the last week, so
/// the last window has enough data).
const WAVE: [i64; 40] = [
    1, 0, 1, 2, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 11, 10, 9, 8, 7, 6, 5, 5, 4, 4, 3, 3,
    3, 3, 2, 2, 2, 2, 2, 2, 1, 1,
];
/// Days (0-based) on which one of the day's cases was imported.
const IMPORTED_ON: [usize; 3] = [0, 2, 10];

fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2022, 3, 20).unwrap()
}

fn first_day() -> NaiveDate {
    last_day() - Days::new(WAVE.len() as u64 - 1)
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

/// A name per person (8 × 2 × 15 = 240 combinations).
fn name(n: u32) -> String {
    const SURNAMES: [&str; 8] = [
        "Lò", "Tòng", "Lường", "Quàng", "Điêu", "Hoàng", "Vàng", "Cầm",
    ];
    const GIVEN: [&str; 15] = [
        "An", "Bình", "Cường", "Dung", "Em", "Gấm", "Hải", "Kim", "Lan", "Minh", "Nam", "Oanh",
        "Phúc", "Quý", "Sơn",
    ];
    let n = n as usize;
    let middle = if n.is_multiple_of(2) { "Văn" } else { "Thị" };
    format!(
        "{} {middle} {}",
        SURNAMES[n / 30 % SURNAMES.len()],
        GIVEN[n / 2 % GIVEN.len()]
    )
}

fn person(commune: &str, old: Option<&str>, n: u32) -> Person {
    let sex = if n.is_multiple_of(2) {
        Sex::Male
    } else {
        Sex::Female
    };
    let dob = NaiveDate::from_ymd_opt(1950 + (n % 50) as i32, 1 + n % 12, 1 + n % 27).unwrap();
    Person {
        id: Uuid::now_v7(),
        province_code: "12".into(),
        commune_code: commune.into(),
        old_commune_code: old.map(str::to_string),
        household_id: None,
        full_name: name(n),
        dob,
        sex,
        national_id: NationalId::compose(12, dob.year(), sex, 50_000 + n),
        phone: None,
    }
}

/// Seeds the wave in the first Lai Châu commune: one register person per case, each with one
/// positive RT-PCR on their day, through test ingest; then the cases of [`IMPORTED_ON`] are
/// marked imported. Returns the commune.
async fn seed_wave(db: &TestDb) -> String {
    let units = domain::units::AdminUnits::embedded();
    let commune = units.v2025.communes_under("12")[0].clone();
    let old = units.old_communes_for_new(&commune).first().cloned();
    let mut persons = Vec::new();
    let mut rows = Vec::new();
    for (i, n) in WAVE.iter().enumerate() {
        for _ in 0..*n {
            let p = person(&commune, old.as_deref(), persons.len() as u32);
            rows.push(TestRow {
                record_id: format!("wave-{}", persons.len()),
                lab_code: "LAB-RT".into(),
                national_id: p.national_id.as_ref().unwrap().as_str().into(),
                full_name: p.full_name.clone(),
                dob: p.dob.to_string(),
                sex: p.sex.as_str().into(),
                commune_code: commune.clone(),
                phone: String::new(),
                sample_date: first_day() + Days::new(i as u64),
                test_type: TestType::RtPcr,
                result: TestResult::Positive,
            });
            persons.push(p);
        }
    }
    let store = db.store.as_ref();
    store.insert_persons(&persons).await.unwrap();
    let summary = intake::lab_tests::record_tests(store, &rows, Utc::now(), Some(&audit("t")))
        .await
        .unwrap();
    assert_eq!(summary.cases_created, WAVE.iter().sum::<i64>() as u64);
    for day in IMPORTED_ON {
        let sample = first_day() + Days::new(day as u64);
        let row = rows.iter().find(|r| r.sample_date == sample).unwrap();
        let p = persons
            .iter()
            .find(|p| p.national_id.as_ref().unwrap().as_str() == row.national_id)
            .unwrap();
        let mut case = store.cases_of_person(p.id).await.unwrap().remove(0);
        assert_eq!(case.first_positive, sample);
        case.detection_source = DetectionSource::Imported;
        store
            .update_case(&case, &audit("case.update"))
            .await
            .unwrap();
    }
    commune
}

async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let r = app.get(path).await;
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn get_text(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app.get(path).await;
    let s = r.status();
    (s, r.text().await.unwrap())
}

fn floats(v: &Value, key: &str) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d[key].as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[tokio::test]
async fn rt_of_a_commune_matches_the_estimator_and_the_page_draws_it() {
    for db in TestDb::all().await {
        let commune = seed_wave(&db).await;
        let app = TestApp::spawn(db).await;
        let path = format!("/api/v1/rt?unit={commune}&days=40&as_of={}", last_day());
        let (s, body) = get_json(&app, &path).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["unit"]["code"], commune.as_str());
        assert_eq!(body["status"], "ok", "{body}");
        assert_eq!(body["from"], first_day().to_string());
        assert_eq!(body["to"], last_day().to_string());

        // The series is the wave, imported cases included.
        let series = &body["series"];
        assert_eq!(series.as_array().unwrap().len(), WAVE.len());
        let incidence = floats(series, "cases");
        let imported = floats(series, "imported");
        assert_eq!(
            incidence,
            WAVE.iter().map(|n| *n as f64).collect::<Vec<_>>()
        );
        let mut want_imported = vec![0.0; WAVE.len()];
        for d in IMPORTED_ON {
            want_imported[d] = 1.0;
        }
        assert_eq!(imported, want_imported);
        assert_eq!(series[0]["date"], first_day().to_string());

        // The windows are the estimator's on the same series and serial interval.
        let si = intake::rt::SerialInterval::embedded()
            .distribution()
            .unwrap();
        let want = domain::rt::estimate_rt(
            &incidence,
            Some(&imported),
            &si,
            domain::rt::DEFAULT_WINDOW,
            domain::rt::DEFAULT_PRIOR_MEAN,
            domain::rt::DEFAULT_PRIOR_SD,
        )
        .unwrap();
        let windows = body["windows"].as_array().unwrap();
        assert_eq!(windows.len(), want.len());
        assert!(!want.is_empty());
        for (got, w) in windows.iter().zip(&want) {
            assert_eq!(got["t_start"].as_u64().unwrap() as usize, w.t_start);
            assert_eq!(got["t_end"].as_u64().unwrap() as usize, w.t_end);
            for (key, value) in [
                ("mean", w.mean),
                ("sd", w.sd),
                ("q025", w.q025),
                ("median", w.median),
                ("q975", w.q975),
                ("shape", w.shape),
                ("scale", w.scale),
            ] {
                let g = got[key].as_f64().unwrap();
                assert!(
                    close(g, value),
                    "window {}-{} {key}: {g} vs {value}",
                    w.t_start,
                    w.t_end
                );
            }
            let cases: f64 = incidence[w.t_start - 1..w.t_end].iter().sum();
            assert_eq!(got["cases"].as_f64().unwrap(), cases);
            assert_eq!(got["enough_data"], cases >= 10.0);
            let end = first_day() + Days::new(w.t_end as u64 - 1);
            assert_eq!(got["date_end"], end.to_string());
        }
        // Growing then falling: Rt above 1 at the rise, below 1 at the end.
        let rise = windows
            .iter()
            .find(|w| w["date_end"] == (first_day() + Days::new(12)).to_string())
            .unwrap();
        assert!(rise["mean"].as_f64().unwrap() > 1.0, "{rise}");
        let last = windows.last().unwrap();
        assert!(last["mean"].as_f64().unwrap() < 1.0, "{last}");
        assert_eq!(last["date_end"], last_day().to_string());

        // 14 forecast days after the last, ordered bands, the estimator's own forecast.
        let forecast = body["forecast"].as_array().unwrap();
        assert_eq!(forecast.len(), 14);
        assert_eq!(forecast[0]["date"], (last_day() + Days::new(1)).to_string());
        assert_eq!(
            forecast[13]["date"],
            (last_day() + Days::new(14)).to_string()
        );
        for d in forecast {
            let (lo, mid, hi) = (
                d["lower"].as_f64().unwrap(),
                d["median"].as_f64().unwrap(),
                d["upper"].as_f64().unwrap(),
            );
            assert!(0.0 <= lo && lo <= mid && mid <= hi, "{d}");
        }
        let own = domain::rt::forecast(
            &incidence,
            &si,
            want.last().unwrap().posterior(),
            14,
            body["forecast_draws"].as_u64().unwrap() as usize,
            body["forecast_seed"].as_u64().unwrap(),
        )
        .unwrap();
        for (got, f) in forecast.iter().zip(&own) {
            assert!(close(got["median"].as_f64().unwrap(), f.median));
            assert!(close(got["upper"].as_f64().unwrap(), f.upper));
        }
        assert_eq!(body["serial_interval"]["mean"], 3.5);

        // The province sees the same cases (none elsewhere); the same code as pre-2025 does too.
        let (s, province) = get_json(
            &app,
            &format!("/api/v1/rt?unit=12&days=40&as_of={}", last_day()),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{province}");
        assert_eq!(floats(&province["series"], "cases"), incidence);
        assert_eq!(province["windows"], body["windows"]);

        // The page: both charts, the table, the method with its unverified mark, links down.
        let (s, html) = get_text(
            &app,
            &format!(
                "/epidemic-level/rt?unit=12&days=40&as_of={}",
                last_day().format("%d/%m/%Y")
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(html.contains(r#"<svg id="cases-chart""#), "{html}");
        assert!(html.contains(r#"<svg id="rt-chart""#));
        assert!(html.contains(r#"class="forecast-band""#));
        assert!(html.contains(r#"class="forecast-median""#));
        assert!(html.contains(r#"class="rt-band""#));
        assert!(html.contains(r#"class="rt-mean""#));
        assert!(html.contains(r#"class="rt-one""#) && html.contains("stroke-dasharray"));
        assert!(html.contains(r#"id="rt-windows""#));
        assert!(html.contains(r#"data-status="ok""#));
        assert!(html.contains(&last_day().format("%d/%m/%Y").to_string()));
        assert!(html.contains(&first_day().format("%d/%m").to_string()));
        assert!(html.contains("Cori"));
        assert!(html.contains("cần xác nhận"));
        assert!(html.contains(&format!("unit={commune}&amp;hierarchy=2025")));
        assert!(!html.contains(&name(0)) && !html.contains(&name(1)));
        assert!(html.len() < 100_000, "{}", html.len());

        // The commune page; and English.
        let (s, html) = get_text(
            &app,
            &format!(
                "/epidemic-level/rt?unit={commune}&days=40&as_of={}",
                last_day()
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains(r#"<svg id="cases-chart""#) && html.contains(r#"<svg id="rt-chart""#)
        );
        let r = app
            .client
            .get(app.url(&format!(
                "/epidemic-level/rt?unit={commune}&days=40&as_of={}",
                last_day()
            )))
            .header("cookie", "lang=en")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Effective reproduction number") && html.contains("needs confirmation")
        );

        // Nothing in the last weeks: no estimate, no forecast, and the page says so.
        let (s, quiet) = get_json(&app, "/api/v1/rt?unit=01&days=60&as_of=2022-03-20").await;
        assert_eq!(s, StatusCode::OK, "{quiet}");
        assert_eq!(quiet["status"], "not_enough_data");
        assert_eq!(quiet["forecast"], json!([]));
        assert!(
            quiet["windows"]
                .as_array()
                .unwrap()
                .iter()
                .all(|w| w["enough_data"] == false)
        );
        let (s, html) = get_text(&app, "/epidemic-level/rt").await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(
            html.contains(r#"<svg id="cases-chart""#) && html.contains(r#"<svg id="rt-chart""#)
        );
        assert!(html.contains(r#"data-status="not_enough_data""#));
        assert!(!html.contains(r#"class="forecast-band""#));

        // Bad units and days: the API's JSON error, the page's HTML error.
        for (q, status, code) in [
            ("unit=99999", StatusCode::NOT_FOUND, "not_found"),
            ("", StatusCode::BAD_REQUEST, "invalid_input"),
            ("unit=12&days=5", StatusCode::BAD_REQUEST, "invalid_input"),
            (
                "unit=12&days=100000",
                StatusCode::BAD_REQUEST,
                "invalid_input",
            ),
            ("unit=12&days=abc", StatusCode::BAD_REQUEST, "invalid_input"),
            (
                "unit=12&as_of=31/02/2022",
                StatusCode::BAD_REQUEST,
                "invalid_input",
            ),
            (
                "unit=12&hierarchy=1990",
                StatusCode::BAD_REQUEST,
                "invalid_input",
            ),
        ] {
            let (s, e) = get_json(&app, &format!("/api/v1/rt?{q}")).await;
            assert_eq!(s, status, "{q}: {e}");
            assert_eq!(e["error"]["code"], code, "{q}: {e}");
            assert!(
                e["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
        let (s, e) = get_json(&app, "/api/v1/rt?unit=12&days=5").await;
        assert_eq!(
            (s, &e["error"]["details"]["field"]),
            (StatusCode::BAD_REQUEST, &json!("days"))
        );
        let (s, html) = get_text(&app, "/epidemic-level/rt?unit=99999").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(html.contains("<html") && html.contains("99999"), "{html}");
        let (s, _) = get_text(&app, "/epidemic-level/rt?unit=12&days=1").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        app.stop().await;
    }
}
