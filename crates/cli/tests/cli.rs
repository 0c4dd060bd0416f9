//! Tests of the `phongdich` binary itself: exit codes, one-line errors, the demo command, and
//! `serve` answering HTTP then stopping gracefully on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn phongdich() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_phongdich"));
    c.env_remove("PHONGDICH_DATABASE_URL")
        .env_remove("PHONGDICH_CONFIG")
        .env_remove("PHONGDICH_BIND");
    c
}

#[test]
fn bad_database_urls_give_one_line_errors() {
    for (url, code) in [
        ("mysql://root@localhost/x", "invalid_config"),
        ("postgres://postgres@127.0.0.1:1/x", "storage_unavailable"),
        ("sqlite:///nonexistent-dir/a/b.db", "storage_unavailable"),
    ] {
        let out = phongdich()
            .args(["migrate", "--database", url])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{url}: {err}");
        assert!(err.starts_with(&format!("lỗi [{code}]")), "{url}: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn demo_is_deterministic_and_reports_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut dumps = Vec::new();
    let mut epidemics = Vec::new();
    for name in ["a", "b"] {
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("{name}.db")).display()
        );
        let out = phongdich()
            .args([
                "demo",
                "--database",
                &url,
                "--province",
                "12",
                "--persons",
                "3000",
                "--seed",
                "5",
                "--today",
                "2026-11-22",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["persons"], 3000);
        assert!(report["households"].as_u64().unwrap() > 500);
        assert!(report["denominator_rows"].as_u64().unwrap() > 0);
        // The epidemic: the 2022 wave, and an outbreak of the last 14 days followed at home.
        let e = &report["epidemic"];
        assert_eq!(e["today"], "2026-11-22");
        let wave = e["wave_cases"].as_u64().unwrap();
        assert!((450..=750).contains(&wave), "{e}");
        assert!(e["current_cases"].as_u64().unwrap() > 0, "{e}");
        assert!(e["checkins"].as_u64().unwrap() > 0, "{e}");
        assert_eq!(e["unmatched_cases"], 0, "{e}");
        assert_eq!(e["current_tests"]["unlinked"], 0, "{e}");
        epidemics.push(serde_json::json!({
            "wave_cases": wave,
            "current_cases": e["current_cases"],
            "contacts": e["contacts"],
            "declarations": e["declarations"],
        }));
        // Read the rows back through SQLite itself.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dump = rt.block_on(async {
            let s = store::open(&url).await.unwrap();
            let mut q = store::PersonQuery::new(store::PersonScope::Province("12".into()));
            q.limit = 500;
            let page = s.list_persons(&q).await.unwrap();
            s.close().await;
            serde_json::to_string(&page).unwrap()
        });
        dumps.push(dump);
    }
    assert_eq!(dumps[0], dumps[1], "same seed, same population");
    assert_eq!(
        epidemics[0], epidemics[1],
        "same seed and day, same epidemic"
    );

    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let out = phongdich()
        .args(["demo", "--database", &url, "--province", "99"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("«99»"));
}

#[test]
fn serve_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let config = dir.path().join("phongdich.toml");
    std::fs::write(
        &config,
        "log_format = \"json\"\n[demo]\npersons = 1500\nseed = 3\n",
    )
    .unwrap();
    let mut child = phongdich()
        .args([
            "serve",
            "--demo",
            "--bind",
            "127.0.0.1:0",
            "--database",
            &url,
            "--config",
        ])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // The demo logins follow the address: one per role.
    let mut logins = String::new();
    for _ in 0..11 {
        stdout.read_line(&mut logins).unwrap();
    }
    for role in [
        "admin",
        "province_officer",
        "district_officer",
        "commune_staff",
        "citizen",
        "verifier",
    ] {
        assert!(logins.contains(role), "{role} missing from:\n{logins}");
    }
    assert!(logins.contains("phongdich-demo"));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let body = reqwest_get(&format!("http://{addr}/api/v1/persons?unit=12&limit=1")).await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["error"]["code"], "unauthenticated",
            "persons need a login"
        );
        let health = reqwest_get(&format!("http://{addr}/readyz")).await;
        assert!(health.contains("ready"));
    });
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut waited = Duration::ZERO;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful exit: {status}");
            break;
        }
        assert!(waited < Duration::from_secs(10), "server did not stop");
        std::thread::sleep(Duration::from_millis(100));
        waited += Duration::from_millis(100);
    }
}

async fn reqwest_get(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

#[test]
fn user_add_token_create_and_audit_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let url = format!("sqlite://{}", path.display());
    let run = |args: &[&str]| phongdich().args(args).output().unwrap();
    let out = run(&[
        "user",
        "add",
        "--database",
        &url,
        "--username",
        "Tinh12",
        "--password",
        "mat-khau-tinh-12",
        "--role",
        "province_officer",
        "--unit",
        "12",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let user: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(user["username"], "tinh12");
    assert_eq!(user["role"], "province_officer");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("mat-khau"),
        "no password in output"
    );
    // Bad role and wrong unit level are refused with one-line Vietnamese errors.
    let out = run(&[
        "user",
        "add",
        "--database",
        &url,
        "--username",
        "x1x",
        "--password",
        "mat-khau-dai-du",
        "--role",
        "root",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Vai trò không hợp lệ"));
    let out = run(&[
        "user",
        "add",
        "--database",
        &url,
        "--username",
        "x2x",
        "--password",
        "mat-khau-dai-du",
        "--role",
        "commune_staff",
        "--unit",
        "12",
    ]);
    assert!(!out.status.success());

    let out = run(&[
        "token",
        "create",
        "--database",
        &url,
        "--username",
        "tinh12",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().unwrap().to_string();
    assert!(token.starts_with("pd_") && token.len() > 40);

    // The token works against a real server on the same database.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = store::open(&url).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(
            listener,
            server::AppState::new(store),
            async move {
                let _ = rx.await;
            },
        ));
        let r = reqwest::Client::new()
            .get(format!("http://{addr}/api/v1/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let me: serde_json::Value = r.json().await.unwrap();
        assert_eq!(me["user"]["username"], "tinh12");
        let _ = tx.send(());
        let _ = server.await;
    });

    // An intact chain verifies; an edit (after dropping the guard trigger) is named.
    let out = run(&["audit", "verify", "--database", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ok: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ok["intact"], true);
    assert!(ok["entries"].as_u64().unwrap() >= 2);
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; \
             UPDATE audit_log SET actor = 'mallory' WHERE seq = 1;",
        )
        .execute(&mut c)
        .await
        .unwrap();
    });
    let out = run(&["audit", "verify", "--database", &url]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("#1"), "{err}");
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "UPDATE audit_log SET actor = NULL WHERE seq = 1; DELETE FROM audit_log WHERE seq = 2;",
        )
        .execute(&mut c)
        .await
        .unwrap();
    });
    let out = run(&["audit", "verify", "--database", &url]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("#2"));
}

#[test]
fn import_population_from_csv_and_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let csv_path = dir.path().join("dan-cu.csv");
    std::fs::write(
        &csv_path,
        "national_id,full_name,dob,sex,commune_code,phone,household_id,external_id\n\
         012090001234,  nguyễn   văn AN ,1990-05-01,Nam,00097,0912345678,HH1,X1\n\
         012190001235,Trần Văn Bình,1990-06-01,nam,00097,,HH1,X2\n\
         12345,,31/12/1990,x,99999,123,,\n\
         ,Lê Thị Hoa,1970-01-31,nữ,00001,+84987654321,,X3\n",
    )
    .unwrap();
    let run = |file: &std::path::Path| {
        let out = phongdich()
            .args(["import", "population"])
            .arg(file)
            .args(["--database", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let s = run(&csv_path);
    assert_eq!(s["inserted"], 3);
    assert_eq!(s["updated"], 0);
    assert_eq!(s["rejected"], 1);
    assert_eq!(s["flagged_national_ids"], 1, "Bình's ID says female");
    let errors = std::fs::read_to_string(s["errors_file"].as_str().unwrap()).unwrap();
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines[0], "row,column,value,message");
    assert_eq!(lines.len(), 1 + 6, "six bad cells in row 4: {errors}");
    assert!(lines.iter().skip(1).all(|l| l.starts_with("4,")));
    assert!(errors.contains("dob,31/12/1990,Ngày sinh phải có dạng YYYY-MM-DD"));
    assert!(errors.contains("Số CCCD phải gồm đúng 12 chữ số"));

    // The same people again from a spreadsheet: updates, matched by ID or external id; numbers
    // and dates typed as Excel cells are understood.
    let xlsx_path = dir.path().join("dan-cu.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in [
        "national_id",
        "full_name",
        "dob",
        "sex",
        "commune_code",
        "phone",
        "external_id",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(1990, 5, 1).unwrap();
    let fmt = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    sheet.write_string(1, 0, "012090001234").unwrap();
    sheet.write_string(1, 1, "Nguyễn Văn An").unwrap();
    sheet.write_datetime_with_format(1, 2, &date, &fmt).unwrap();
    sheet.write_string(1, 3, "nam").unwrap();
    sheet.write_number(1, 4, 4.0).unwrap(); // 00004 typed as a number
    sheet.write_string(1, 5, "0912345678").unwrap();
    sheet.write_string(2, 1, "Lê Thị Hoa").unwrap();
    sheet.write_string(2, 2, "1970-01-31").unwrap();
    sheet.write_string(2, 3, "nữ").unwrap();
    sheet.write_string(2, 4, "00097").unwrap();
    sheet.write_string(2, 6, "X3").unwrap();
    book.save(&xlsx_path).unwrap();
    let s = run(&xlsx_path);
    assert_eq!(
        (s["inserted"].as_u64(), s["updated"].as_u64()),
        (Some(0), Some(2)),
        "{s}"
    );
    assert_eq!(s["rejected"], 0);
    assert!(s["errors_file"].is_null());

    // Read back: 3 persons, An moved to commune 00004, search works without diacritics.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let st = store::open(&url).await.unwrap();
        assert_eq!(st.count_persons().await.unwrap(), 3);
        let mut q = store::PersonQuery::new(store::PersonScope::Province("01".into()));
        q.text = Some("nguyen van an".into());
        let page = st.list_persons(&q).await.unwrap();
        assert_eq!(page.items[0].commune_code, "00004");
        q.text = Some("0987654321".into());
        assert_eq!(
            st.list_persons(&q).await.unwrap().total,
            1,
            "search by phone"
        );
        assert!(!st.denominators(None).await.unwrap().is_empty());
        st.close().await;
    });

    // A file without a required column is refused with one line.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "full_name,dob\nA,1990-01-01\n").unwrap();
    let out = phongdich()
        .args(["import", "population"])
        .arg(&bad)
        .args(["--database", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("thiếu cột bắt buộc: national_id, sex, commune_code, phone"),
        "{err}"
    );
}

#[test]
fn link_noisy_records_to_the_register_and_dedupe() {
    let dir = tempfile::tempdir().unwrap();
    let units = domain::units::AdminUnits::embedded();
    let population_of = |province: &str, n: usize, seed: u64| {
        demo::generate(
            &demo::DemoParams {
                province_code: province.into(),
                persons: n,
                seed,
                as_of: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            },
            units,
        )
        .unwrap()
        .persons
    };
    let register = population_of("12", 1500, 21);
    let strangers = population_of("01", 60, 22);
    let p_path = dir.path().join("P.csv");
    let mut w = csv::Writer::from_path(&p_path).unwrap();
    w.write_record([
        "person_id",
        "full_name",
        "dob",
        "sex",
        "national_id",
        "commune_code",
        "phone",
    ])
    .unwrap();
    for p in &register {
        w.write_record([
            p.id.to_string(),
            p.full_name.clone(),
            p.dob.to_string(),
            p.sex.as_str().to_string(),
            p.national_id
                .as_ref()
                .map(|n| n.as_str().to_string())
                .unwrap_or_default(),
            p.commune_code.clone(),
            p.phone
                .as_ref()
                .map(|n| n.as_str().to_string())
                .unwrap_or_default(),
        ])
        .unwrap();
    }
    w.flush().unwrap();
    // Records typed at vaccination sites: each register person 0..400 once with one kind of
    // error, plus 60 people who are not in the register.
    let r_path = dir.path().join("R.csv");
    let mut w = csv::Writer::from_path(&r_path).unwrap();
    w.write_record([
        "record_id",
        "full_name",
        "dob",
        "sex",
        "national_id",
        "commune_code",
        "phone",
    ])
    .unwrap();
    let mut truth = std::collections::HashMap::new();
    for (i, p) in register
        .iter()
        .take(400)
        .chain(strangers.iter())
        .enumerate()
    {
        let in_register = i < 400;
        let mut name = p.full_name.clone();
        let mut dob = p.dob.to_string();
        let mut id = p
            .national_id
            .as_ref()
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        let mut commune = p.commune_code.clone();
        let mut phone = p
            .phone
            .as_ref()
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        match i % 6 {
            0 => name = domain::name::fold(&name), // lost diacritics
            1 => {
                // swapped day and month where possible
                let d = p.dob;
                use chrono::Datelike;
                if d.day() <= 12 {
                    dob = format!("{}-{:02}-{:02}", d.year(), d.day(), d.month());
                }
            }
            2 => dob = dob[..4].to_string(), // year only
            3 => {
                // two adjacent digits of the CCCD swapped
                if id.len() == 12 {
                    let mut b = id.into_bytes();
                    b.swap(8, 9);
                    id = String::from_utf8(b).unwrap();
                }
            }
            4 => {
                // old commune code, no phone
                if let Some(old) = &p.old_commune_code {
                    commune = old.clone();
                }
                phone.clear();
            }
            _ => name = name.to_uppercase(),
        }
        let rid = format!("R{i}");
        if in_register {
            truth.insert(rid.clone(), p.id.to_string());
        }
        w.write_record([
            rid,
            name,
            dob,
            p.sex.as_str().to_string(),
            id,
            commune,
            phone,
        ])
        .unwrap();
    }
    w.flush().unwrap();

    let m_path = dir.path().join("M.csv");
    let out = phongdich()
        .args(["link", "--population"])
        .arg(&p_path)
        .arg("--records")
        .arg(&r_path)
        .arg("--out")
        .arg(&m_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut reader = csv::Reader::from_path(&m_path).unwrap();
    assert_eq!(
        reader.headers().unwrap(),
        vec!["record_id", "person_id", "score"]
    );
    let (mut tp, mut fp, mut rows) = (0, 0, 0);
    for rec in reader.records() {
        let rec = rec.unwrap();
        rows += 1;
        let (rid, pid) = (&rec[0], &rec[1]);
        if pid.is_empty() {
            continue;
        }
        if truth.get(rid).map(String::as_str) == Some(pid) {
            tp += 1;
        } else {
            fp += 1;
        }
    }
    assert_eq!(rows, 460, "every record is listed");
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / truth.len() as f64;
    eprintln!("link on noisy Vietnamese records: precision {precision:.4} recall {recall:.4}");
    assert!(precision >= 0.99, "precision {precision}");
    assert!(recall >= 0.95, "recall {recall}");

    // Dedupe: the register plus 100 noisy copies; each copy must share its original's cluster.
    let x_path = dir.path().join("X.csv");
    let mut w = csv::Writer::from_path(&x_path).unwrap();
    w.write_record([
        "id",
        "full_name",
        "dob",
        "sex",
        "national_id",
        "commune_code",
        "phone",
    ])
    .unwrap();
    for p in register.iter().take(500) {
        let id = p
            .national_id
            .as_ref()
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        let phone = p
            .phone
            .as_ref()
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        w.write_record([
            p.id.to_string(),
            p.full_name.clone(),
            p.dob.to_string(),
            p.sex.as_str().into(),
            id.clone(),
            p.commune_code.clone(),
            phone.clone(),
        ])
        .unwrap();
    }
    for p in register.iter().take(100) {
        let id = p
            .national_id
            .as_ref()
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        w.write_record([
            format!("dup-{}", p.id),
            domain::name::fold(&p.full_name),
            p.dob.to_string(),
            p.sex.as_str().into(),
            id,
            p.commune_code.clone(),
            String::new(),
        ])
        .unwrap();
    }
    w.flush().unwrap();
    let c_path = dir.path().join("C.csv");
    let out = phongdich()
        .args(["dedupe", "--input"])
        .arg(&x_path)
        .arg("--out")
        .arg(&c_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cluster_of: std::collections::HashMap<String, String> = csv::Reader::from_path(&c_path)
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect();
    assert_eq!(cluster_of.len(), 600);
    let together = register
        .iter()
        .take(100)
        .filter(|p| cluster_of[&p.id.to_string()] == cluster_of[&format!("dup-{}", p.id)])
        .count();
    assert!(together >= 98, "{together} of 100 duplicates found");
    let clusters: std::collections::HashSet<&String> = cluster_of.values().collect();
    assert!(
        clusters.len() <= 502,
        "no over-merging: {} clusters",
        clusters.len()
    );
}

#[test]
fn import_records_links_them_idempotently_and_rejects_unidentifiable_rows() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let out = phongdich()
        .args([
            "demo",
            "--database",
            &url,
            "--persons",
            "3000",
            "--seed",
            "8",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let persons = rt.block_on(async {
        let s = store::open(&url).await.unwrap();
        let mut q = store::PersonQuery::new(store::PersonScope::Province("12".into()));
        q.limit = 40;
        let page = s.list_persons(&q).await.unwrap();
        s.close().await;
        page.items
    });
    let file = dir.path().join("doses.csv");
    let mut w = csv::Writer::from_path(&file).unwrap();
    w.write_record([
        "record_id",
        "full_name",
        "dob",
        "sex",
        "national_id",
        "commune_code",
        "phone",
        "vaccine",
        "lot",
    ])
    .unwrap();
    for (i, p) in persons.iter().enumerate() {
        w.write_record([
            format!("V{i}"),
            domain::name::fold(&p.full_name),
            p.dob.to_string(),
            p.sex.as_str().to_string(),
            p.national_id
                .as_ref()
                .map(|n| n.as_str().to_string())
                .unwrap_or_default(),
            p.commune_code.clone(),
            String::new(),
            "EU/1/20/1528".into(),
            "LOT-7".into(),
        ])
        .unwrap();
    }
    // Nothing to identify the person: rejected with row and column.
    w.write_record([
        "V-bad",
        "",
        "1990-01-01",
        "male",
        "",
        "",
        "",
        "EU/1/20/1528",
        "",
    ])
    .unwrap();
    w.flush().unwrap();
    let import = || {
        let out = phongdich()
            .args(["import", "records"])
            .arg(&file)
            .args(["--kind", "dose", "--source", "TRAM-9", "--database", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = import();
    assert_eq!(first["inserted"], 40, "{first}");
    assert_eq!(first["rejected"], 1, "{first}");
    assert!(first["linked"].as_u64().unwrap() >= 38, "{first}");
    let errors = std::fs::read_to_string(first["errors_file"].as_str().unwrap()).unwrap();
    assert!(errors.contains("42,full_name"), "{errors}");
    assert!(errors.contains("CCCD"), "{errors}");
    let again = import();
    assert_eq!(
        (again["inserted"].clone(), again["duplicates"].clone()),
        (0.into(), 40.into())
    );
    let out = phongdich()
        .args(["import", "records"])
        .arg(&file)
        .args(["--kind", "vaccine", "--source", "X", "--database", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Loại bản ghi"));
}

#[test]
fn import_doses_rejects_bad_rows_is_idempotent_and_writes_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let out = phongdich()
        .args([
            "demo",
            "--database",
            &url,
            "--persons",
            "2000",
            "--seed",
            "9",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let persons: Vec<domain::person::Person> = rt.block_on(async {
        let s = store::open(&url).await.unwrap();
        let mut q = store::PersonQuery::new(store::PersonScope::Province("12".into()));
        q.limit = 200;
        let page = s.list_persons(&q).await.unwrap();
        s.close().await;
        page.items
    });
    let adults: Vec<_> = persons
        .iter()
        .filter(|p| {
            p.national_id.is_some() && p.dob < chrono::NaiveDate::from_ymd_opt(1995, 1, 1).unwrap()
        })
        .take(30)
        .collect();
    assert_eq!(adults.len(), 30);
    let file = dir.path().join("mui-tiem.csv");
    let mut w = csv::Writer::from_path(&file).unwrap();
    w.write_record([
        "record_id",
        "national_id",
        "full_name",
        "dob",
        "sex",
        "commune_code",
        "phone",
        "vaccine",
        "dose_date",
        "lot",
        "site_code",
    ])
    .unwrap();
    let vaccines = ["AstraZeneca", "vero cell", "EU/1/20/1528"];
    for (i, p) in adults.iter().enumerate() {
        w.write_record([
            format!("CLI-{i}"),
            p.national_id.as_ref().unwrap().as_str().to_string(),
            p.full_name.clone(),
            p.dob.format("%d/%m/%Y").to_string(),
            p.sex.as_str().to_string(),
            p.commune_code.clone(),
            String::new(),
            vaccines[i % 3].to_string(),
            "12/09/2021".into(),
            "L-1".into(),
            "TYT-CLI".into(),
        ])
        .unwrap();
    }
    let p = adults[0];
    let id = p.national_id.as_ref().unwrap().as_str().to_string();
    // Row 32: impossible date; 33: unknown vaccine; 34: nothing identifies the person.
    w.write_record([
        "CLI-bad-1",
        &id,
        "",
        "",
        "",
        "",
        "",
        "Pfizer",
        "31/02/2022",
        "",
        "TYT-CLI",
    ])
    .unwrap();
    w.write_record([
        "CLI-bad-2",
        &id,
        "",
        "",
        "",
        "",
        "",
        "Sputnik Light X",
        "01/03/2022",
        "",
        "TYT-CLI",
    ])
    .unwrap();
    w.write_record([
        "CLI-bad-3",
        "",
        "",
        "",
        "",
        "",
        "",
        "Moderna",
        "01/03/2022",
        "",
        "TYT-CLI",
    ])
    .unwrap();
    // Row 35: CLI-0 again with another vaccine (refused); 36: row 3 (CLI-1) again, unchanged
    // (stored once).
    let again_row = |i: usize, vaccine: &str| {
        let p = adults[i];
        vec![
            format!("CLI-{i}"),
            p.national_id.as_ref().unwrap().as_str().to_string(),
            p.full_name.clone(),
            p.dob.format("%d/%m/%Y").to_string(),
            p.sex.as_str().to_string(),
            p.commune_code.clone(),
            String::new(),
            vaccine.to_string(),
            "12/09/2021".into(),
            "L-1".into(),
            "TYT-CLI".into(),
        ]
    };
    w.write_record(again_row(0, "Moderna")).unwrap();
    w.write_record(again_row(1, vaccines[1])).unwrap();
    w.flush().unwrap();
    let import = |path: &std::path::Path| {
        let out = phongdich()
            .args(["import", "doses"])
            .arg(path)
            .args(["--database", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = import(&file);
    assert_eq!(first["inserted"], 30, "{first}");
    assert_eq!(first["duplicates"], 1, "{first}");
    assert_eq!(first["rejected"], 4, "{first}");
    assert!(first["linked"].as_u64().unwrap() >= 29, "{first}");
    for key in ["review", "unlinked"] {
        assert!(first[key].is_u64(), "{first}");
    }
    let errors = std::fs::read_to_string(first["errors_file"].as_str().unwrap()).unwrap();
    assert!(errors.starts_with("row,column,value,message"), "{errors}");
    let cells: Vec<Vec<String>> = csv::Reader::from_reader(errors.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let has = |row: &str, col: &str, value: &str, message: &str| {
        cells
            .iter()
            .any(|c| c[0] == row && c[1] == col && c[2] == value && c[3].starts_with(message))
    };
    assert!(
        has("32", "dose_date", "31/02/2022", "Ngày tiêm không hợp lệ"),
        "{errors}"
    );
    assert!(
        has("33", "vaccine", "Sputnik Light X", "Không có vắc xin này"),
        "{errors}"
    );
    assert!(
        has("34", "national_id", "", "Không đủ thông tin xác định người"),
        "{errors}"
    );
    assert!(
        has(
            "35",
            "record_id",
            "CLI-0",
            "Mã bản ghi trùng với dòng 2 của cùng điểm tiêm nhưng khác nội dung"
        ),
        "{errors}"
    );
    assert_eq!(errors.lines().count(), 5, "{errors}");
    let again = import(&file);
    assert_eq!(
        (again["inserted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(31)),
        "{again}"
    );

    // Excel's plain CSV on Vietnamese Windows (Windows-1258): read, names intact, so the
    // record links on its citizen ID (the given name must agree).
    let ansi_person = adults[2];
    let ansi = dir.path().join("ansi.csv");
    let text = format!(
        "record_id,national_id,full_name,dob,vaccine,dose_date,site_code\r\n\
         CLI-ANSI,{},{},{},Pfizer,20/03/2022,TYT-CLI\r\n",
        ansi_person.national_id.as_ref().unwrap().as_str(),
        ansi_person.full_name,
        ansi_person.dob.format("%d/%m/%Y")
    );
    // Windows-1258 has the vowels with circumflex, breve and horn, and the tone marks as
    // combining characters: the way Windows writes Vietnamese into it.
    let windows_form: String = {
        use unicode_normalization::UnicodeNormalization;
        let tone =
            |c: &char| matches!(c, '\u{300}' | '\u{301}' | '\u{303}' | '\u{309}' | '\u{323}');
        text.chars()
            .flat_map(|c| {
                let parts: Vec<char> = c.to_string().nfd().collect();
                let base: String = parts
                    .iter()
                    .filter(|c| !tone(c))
                    .collect::<String>()
                    .nfc()
                    .collect();
                let marks: String = parts.iter().filter(|c| tone(c)).collect();
                (base + &marks).chars().collect::<Vec<_>>()
            })
            .collect()
    };
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1258.encode(&windows_form);
    assert!(!unmappable, "{text}");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the file must not be UTF-8"
    );
    std::fs::write(&ansi, &bytes).unwrap();
    let ansi_import = import(&ansi);
    assert_eq!(
        (
            ansi_import["inserted"].as_u64(),
            ansi_import["linked"].as_u64()
        ),
        (Some(1), Some(1)),
        "{ansi_import}"
    );

    // Citizen ID, commune and phone typed into number cells lose their leading zeros; the
    // import puts them back, and the record links on the citizen ID.
    let number_person = adults[3];
    let cccd = number_person
        .national_id
        .as_ref()
        .unwrap()
        .as_str()
        .to_string();
    assert!(cccd.starts_with('0'));
    let numbers = dir.path().join("so.xlsx");
    {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in [
            "record_id",
            "national_id",
            "full_name",
            "commune_code",
            "vaccine",
            "dose_date",
            "site_code",
        ]
        .iter()
        .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        sheet.write_string(1, 0, "CLI-NUM").unwrap();
        sheet
            .write_number(1, 1, cccd.parse::<f64>().unwrap())
            .unwrap();
        sheet.write_string(1, 2, &number_person.full_name).unwrap();
        sheet
            .write_number(1, 3, number_person.commune_code.parse::<f64>().unwrap())
            .unwrap();
        sheet.write_string(1, 4, "Moderna").unwrap();
        sheet.write_string(1, 5, "21/03/2022").unwrap();
        sheet.write_string(1, 6, "TYT-CLI").unwrap();
        book.save(&numbers).unwrap();
    }
    let number_import = import(&numbers);
    assert_eq!(
        (
            number_import["inserted"].as_u64(),
            number_import["linked"].as_u64(),
            number_import["rejected"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{number_import}"
    );

    // The template: an xlsx with the columns, an example row and the notes sheet.
    let template = dir.path().join("mau.xlsx");
    let out = phongdich()
        .args(["import", "doses", "--template"])
        .arg(&template)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto(&template).unwrap();
    assert_eq!(book.sheet_names(), ["mui_tiem", "huong_dan"]);
    let sheet = book.worksheet_range("mui_tiem").unwrap();
    let header: Vec<String> = sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut want: Vec<&str> = domain::dose_record::COLUMNS.to_vec();
    want.push("additional");
    assert_eq!(header, want);
    let notes = book.worksheet_range("huong_dan").unwrap();
    let text: String = notes
        .rows()
        .flatten()
        .map(|c| c.to_string() + "\n")
        .collect();
    for needle in [
        "Vero Cell",
        "AstraZeneca",
        "EU/1/20/1528",
        "DD/MM/YYYY",
        "Số CCCD 12 chữ số",
    ] {
        assert!(text.contains(needle), "{needle} missing from the notes");
    }
    // Its example row is not a dose: a template sent back unfilled stores nothing, and says why.
    let example = import(&template);
    assert_eq!(
        (example["inserted"].as_u64(), example["rejected"].as_u64()),
        (Some(0), Some(1)),
        "{example}"
    );
    let errors = std::fs::read_to_string(example["errors_file"].as_str().unwrap()).unwrap();
    assert!(errors.contains("Dòng ví dụ của mẫu nhập"), "{errors}");
    let csv_template = dir.path().join("mau.csv");
    let out = phongdich()
        .args(["import", "doses", "--template"])
        .arg(&csv_template)
        .output()
        .unwrap();
    assert!(out.status.success());
    let head = std::fs::read_to_string(&csv_template).unwrap();
    assert!(head.starts_with("record_id,national_id,full_name,dob,sex,commune_code,phone,vaccine,dose_date,lot,site_code,additional"), "{head}");
    let notes = std::fs::read_to_string(dir.path().join("mau.huong-dan.csv")).unwrap();
    assert!(notes.contains("Hayat-Vax"), "{notes}");

    // Sites and lots.
    let sites = dir.path().join("diem-tiem.csv");
    std::fs::write(
        &sites,
        format!(
            "code,name,commune_code\nTYT-CLI,trạm y tế  thử,{}\nTYT-X,Trạm X,99999\n",
            p.commune_code
        ),
    )
    .unwrap();
    let out = phongdich()
        .args(["import", "sites"])
        .arg(&sites)
        .args(["--database", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (s["written"].as_u64(), s["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    let lots = dir.path().join("lo.csv");
    std::fs::write(
        &lots,
        "vaccine,lot,expiry\nPfizer,L-1,31/12/2021\nNope,L-2,2022-01-01\nModerna,L-3,2022-02-30\n",
    )
    .unwrap();
    let out = phongdich()
        .args(["import", "lots"])
        .arg(&lots)
        .args(["--database", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (l["written"].as_u64(), l["rejected"].as_u64()),
        (Some(1), Some(2)),
        "{l}"
    );
    let (site_list, lot_list) = rt.block_on(async {
        let s = store::open(&url).await.unwrap();
        let out = (
            s.vaccination_sites().await.unwrap(),
            s.vaccine_lots().await.unwrap(),
        );
        s.close().await;
        out
    });
    let site = site_list.iter().find(|s| s.code == "TYT-CLI").unwrap();
    assert_eq!(site.name, "trạm y tế thử");
    assert_eq!(site.commune_code.as_deref(), Some(p.commune_code.as_str()));
    assert!(
        lot_list
            .iter()
            .any(|l| l.lot == "L-1" && l.product == "EU/1/20/1528")
    );
}

/// Runs `phongdich ARGS`; returns success, stdout as JSON (Null when not JSON) and stderr.
fn run_json(args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = phongdich().args(args).output().unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn coverage_report_rebuild_check_and_allocate() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cov.db").display());
    let (ok, _, err) = run_json(&[
        "demo",
        "--database",
        &url,
        "--province",
        "12",
        "--persons",
        "1500",
        "--seed",
        "3",
    ]);
    assert!(ok, "{err}");

    // The report, in the documented shape, equal to the store's.
    let (ok, report, err) = run_json(&[
        "coverage",
        "--database",
        &url,
        "--unit",
        "12",
        "--as-of",
        "2026-01-01",
    ]);
    assert!(ok, "{err}");
    assert_eq!(report["unit"], "12");
    assert_eq!(report["as_of"], "2026-01-01");
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 7);
    let all = groups.iter().find(|g| g["age_group"] == "all").unwrap();
    assert_eq!(all["population"], 1500);
    assert!(all["at_least_one"].as_u64().unwrap() > 0, "{all}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let want = rt.block_on(async {
        let s = store::open(&url).await.unwrap();
        let unit = store::CoverageUnit::resolve("12", None).unwrap();
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let r = store::coverage_report(s.as_ref(), &unit, as_of)
            .await
            .unwrap();
        s.close().await;
        r
    });
    assert_eq!(report, serde_json::to_value(&want).unwrap());
    let (ok, old, _) = run_json(&[
        "coverage",
        "--database",
        &url,
        "--unit",
        "12",
        "--hierarchy",
        "pre2025",
        "--as-of",
        "2026-01-01",
    ]);
    assert!(ok);
    assert_eq!(old["hierarchy"], "pre2025");
    assert_eq!(old["groups"][6]["at_least_one"], all["at_least_one"]);
    let (ok, _, err) = run_json(&["coverage", "--database", &url, "--unit", "99999"]);
    assert!(!ok);
    assert!(
        err.starts_with("lỗi [not_found]") && err.trim_end().lines().count() == 1,
        "{err}"
    );

    // The check agrees, then finds a counter edited behind the application's back.
    let (ok, check, err) = run_json(&["coverage", "rebuild", "--database", &url, "--check"]);
    assert!(ok, "{err}");
    assert_eq!(check["consistent"], true);
    assert_eq!(check["persons"], 1500);
    assert_eq!(check["rewritten"], false);
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "UPDATE coverage_counts SET count = count + 1 \
             WHERE unit_code = '12' AND level = 'at_least_one'",
        )
        .execute(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
    });
    let (ok, check, err) = run_json(&["coverage", "rebuild", "--database", &url, "--check"]);
    assert!(!ok, "a tampered counter must fail the check");
    assert_eq!(check["consistent"], false);
    assert!(check["counters_differing"].as_u64().unwrap() > 0);
    assert!(
        err.starts_with("lỗi:") && err.contains("coverage rebuild"),
        "{err}"
    );
    // Still failing: the check writes nothing. A rebuild repairs.
    assert!(!run_json(&["coverage", "rebuild", "--database", &url, "--check"]).0);
    let (ok, rebuilt, err) = run_json(&["coverage", "rebuild", "--database", &url]);
    assert!(ok, "{err}");
    assert_eq!(rebuilt["rewritten"], true);
    let (ok, check, _) = run_json(&["coverage", "rebuild", "--database", &url, "--check"]);
    assert!(ok);
    assert_eq!(check["consistent"], true);

    // Allocation of a delivery to the communes of the province.
    let (ok, plan, err) = run_json(&[
        "allocate",
        "--database",
        &url,
        "--unit",
        "12",
        "--product",
        "Pfizer",
        "--doses",
        "2000",
        "--as-of",
        "2026-01-01",
    ]);
    assert!(ok, "{err}");
    let allocated = plan["allocated"].as_u64().unwrap();
    assert_eq!(allocated + plan["left_over"].as_u64().unwrap(), 2000);
    let sum: u64 = plan["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["doses"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, allocated);
    assert_eq!(plan["steps"].as_array().unwrap().len(), 5);
    assert!(
        plan["need_formula_vi"]
            .as_str()
            .unwrap()
            .starts_with("Nhu cầu")
    );
    let commune = domain::units::AdminUnits::embedded()
        .v2025
        .communes_under("12")[0]
        .clone();
    let (ok, _, err) = run_json(&[
        "allocate",
        "--database",
        &url,
        "--unit",
        &commune,
        "--product",
        "Pfizer",
        "--doses",
        "5",
    ]);
    assert!(!ok && err.starts_with("lỗi [invalid_input]"), "{err}");
}

#[test]
fn followup_lists_counts_reasons_and_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fu.db").display());
    let (ok, _, err) = run_json(&[
        "demo",
        "--database",
        &url,
        "--province",
        "12",
        "--persons",
        "1200",
        "--seed",
        "5",
    ]);
    assert!(ok, "{err}");
    let as_of = chrono::NaiveDate::from_ymd_opt(2023, 6, 1).unwrap();
    let (ok, province, err) = run_json(&[
        "followup",
        "--database",
        &url,
        "--unit",
        "12",
        "--as-of",
        "2023-06-01",
    ]);
    assert!(ok, "{err}");
    let entries = province["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, province["total"].as_u64().unwrap());
    assert!(!entries.is_empty());
    // Every entry is old enough and either never vaccinated or overdue beyond the grace period.
    let min_age = province["min_age_years"].as_u64().unwrap();
    let grace = province["overdue_grace_days"].as_i64().unwrap();
    for e in entries {
        assert!(e["age"].as_u64().unwrap() >= min_age, "{e}");
        match e["state"]["state"].as_str().unwrap() {
            "not_vaccinated" => assert_eq!(e["doses"], 0, "{e}"),
            "overdue" => {
                let due = chrono::NaiveDate::parse_from_str(e["due"].as_str().unwrap(), "%Y-%m-%d")
                    .unwrap();
                assert!(due + chrono::Duration::days(grace) < as_of, "{e}");
            }
            other => panic!("unexpected state {other}: {e}"),
        }
    }
    let not_vaccinated = entries
        .iter()
        .filter(|e| e["state"]["state"] == "not_vaccinated")
        .count() as u64;
    assert_eq!(province["counts"]["not_vaccinated"], not_vaccinated);
    assert_eq!(
        province["counts"]["not_vaccinated_without_known_reason"],
        not_vaccinated
    );

    // One commune: a recorded reason lowers its count of "not vaccinated, no known reason".
    let first = entries
        .iter()
        .find(|e| e["state"]["state"] == "not_vaccinated")
        .expect("someone not vaccinated");
    let commune = first["commune_code"].as_str().unwrap().to_string();
    let person: uuid::Uuid = first["person_id"].as_str().unwrap().parse().unwrap();
    let args = [
        "followup",
        "--database",
        &url,
        "--unit",
        &commune,
        "--as-of",
        "2023-06-01",
    ];
    let (ok, before, err) = run_json(&args);
    assert!(ok, "{err}");
    assert_eq!(before["unit"]["code"], commune.as_str());
    let unexplained = before["counts"]["not_vaccinated_without_known_reason"]
        .as_u64()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = store::open(&url).await.unwrap();
        let note = store::FollowUpNote {
            person_id: person,
            reason: store::FollowUpReason::MovedAway,
            note: "Chuyển vào Bình Dương".into(),
            updated_by: "test".into(),
            updated_at: chrono::Utc::now(),
        };
        let audit = domain::audit::NewAuditEntry {
            at: chrono::Utc::now(),
            actor_id: None,
            actor: Some("test".into()),
            action: "followup.reason".into(),
            entity_type: Some("person".into()),
            entity_id: Some(person.to_string()),
            unit_code: None,
            ip: None,
            details: serde_json::json!({}),
        };
        s.set_follow_up_note(&note, &audit).await.unwrap();
        s.close().await;
    });
    let (ok, after, _) = run_json(&args);
    assert!(ok);
    assert_eq!(
        after["counts"]["not_vaccinated_without_known_reason"],
        unexplained - 1
    );
    let moved = after["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["person_id"] == person.to_string())
        .unwrap();
    assert_eq!(moved["reason"], "moved_away");
    assert_eq!(moved["note"], "Chuyển vào Bình Dương");

    // The XLSX: Vietnamese headers, one row per resident, the summary sheet.
    let out = dir.path().join("tiem-vet.xlsx");
    let (ok, written, err) = run_json(&[
        "followup",
        "--database",
        &url,
        "--unit",
        &commune,
        "--as-of",
        "2023-06-01",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(written["counts"], after["counts"]);
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto(&out).unwrap();
    let sheet = book.worksheet_range("Danh sách").unwrap();
    let rows: Vec<_> = sheet.rows().collect();
    assert_eq!(rows[0][1].to_string(), "Họ và tên");
    assert_eq!(rows[0][10].to_string(), "Tình trạng");
    assert_eq!(rows.len() as u64, after["total"].as_u64().unwrap() + 1);
    assert!(
        rows.iter()
            .any(|r| r[13] == "Đã chuyển đi" && r[14] == "Chuyển vào Bình Dương")
    );
    let summary = book.worksheet_range("Tổng hợp").unwrap();
    assert!(
        summary.rows().any(|r| r[0] == "Chưa tiêm, chưa rõ lý do"
            && r[1].to_string() == (unexplained - 1).to_string())
    );

    let (ok, _, err) = run_json(&["followup", "--database", &url, "--unit", "99999"]);
    assert!(!ok);
    assert!(err.starts_with("lỗi [not_found]"), "{err}");
}

#[test]
fn cert_keygen_issue_verify_trust_list_and_revoke() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let pass = "mật khẩu bảo vệ khoá ký 2026";
    let cert = |args: &[&str], with_pass: bool| {
        let mut c = phongdich();
        c.arg("cert").args(args);
        if with_pass {
            c.env("PHONGDICH_CERT_PASSPHRASE", pass);
        } else {
            c.env_remove("PHONGDICH_CERT_PASSPHRASE");
        }
        let out = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stdout, stderr)
    };
    let out = phongdich()
        .args([
            "demo",
            "--database",
            &url,
            "--persons",
            "2000",
            "--seed",
            "4",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One resident with a complete primary series, one without any dose.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (done, none) = rt.block_on(async {
        let s = store::open(&url).await.unwrap();
        let mut q = store::PersonQuery::new(store::PersonScope::Province("12".into()));
        q.limit = 500;
        let mut done = None;
        let mut none = None;
        for p in s.list_persons(&q).await.unwrap().items {
            let Some(id) = p.national_id.clone() else {
                continue;
            };
            let c = s.person_coverage(p.id).await.unwrap().unwrap();
            if c.primary_complete.is_some() && done.is_none() {
                done = Some((id.as_str().to_string(), p.full_name.clone()));
            } else if c.doses == 0 && none.is_none() {
                none = Some(id.as_str().to_string());
            }
        }
        s.close().await;
        (done.unwrap(), none.unwrap())
    });
    let json_out = dir.path().join("cert.json");
    let png = dir.path().join("qr.png");
    let issue_args = |id: &str| {
        vec![
            "issue".to_string(),
            "--database".into(),
            url.clone(),
            "--national-id".into(),
            id.to_string(),
            "--out".into(),
            json_out.display().to_string(),
            "--png".into(),
            png.display().to_string(),
        ]
    };
    fn as_strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    // Without a passphrase or a key: one-line errors, nothing issued.
    let (ok, _, err) = cert(&["keygen", "--database", &url], false);
    assert!(!ok && err.contains("PHONGDICH_CERT_PASSPHRASE"), "{err}");
    let (ok, _, err) = cert(&as_strs(&issue_args(&done.0)), true);
    assert!(!ok && err.contains("cert keygen"), "{err}");
    let (ok, out, err) = cert(&["keygen", "--database", &url], true);
    assert!(ok, "{err}");
    let keys: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(keys["csca_created"], true);

    // Issue: {hc1, dsc, kid}, and a PNG of the QR code.
    let (ok, _, err) = cert(&as_strs(&issue_args(&done.0)), true);
    assert!(ok, "{err}");
    let issued: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    let hc1 = issued["hc1"].as_str().unwrap().to_string();
    assert!(hc1.starts_with("HC1:"));
    assert_eq!(issued["kid"], keys["dsc_kid"]);
    let dsc_der = base64::engine::general_purpose::STANDARD
        .decode(issued["dsc"].as_str().unwrap())
        .unwrap();
    let der_file = dir.path().join("dsc.der");
    std::fs::write(&der_file, &dsc_der).unwrap();
    let b64_file = dir.path().join("dsc.b64");
    std::fs::write(&b64_file, issued["dsc"].as_str().unwrap()).unwrap();
    let (ok, _, err) = cert(&as_strs(&issue_args(&none)), true);
    assert!(!ok && err.contains("liều cơ bản"), "{err}");

    // Verify with the certificate (DER or base64), from the text or the QR image.
    for (file, qr) in [
        (&der_file, hc1.clone()),
        (&b64_file, png.display().to_string()),
    ] {
        let (ok, out, err) = cert(
            &["verify", "--cert", &file.display().to_string(), &qr],
            false,
        );
        assert!(ok, "{out} {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (
                v["decoded"].clone(),
                v["signature_valid"].clone(),
                v["key_usage_ok"].clone()
            ),
            (true.into(), true.into(), true.into())
        );
        assert_eq!(v["kid"], keys["dsc_kid"]);
        let fnt = v["payload"]["nam"]["fnt"].as_str().unwrap();
        let family = domain::name::fold(done.1.split_whitespace().next().unwrap()).to_uppercase();
        assert_eq!(fnt, family);
    }
    // 13 months later it has expired: exit code 1.
    let later = (chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339();
    let (ok, out, _) = cert(
        &[
            "verify",
            "--cert",
            &der_file.display().to_string(),
            "--at",
            &later,
            &hc1,
        ],
        false,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(!ok && v["expired"] == true && v["valid"] == false, "{out}");
    // A damaged text: not valid, with reasons.
    let damaged = hc1.replacen("HC1:", "HC2:", 1);
    let (ok, out, _) = cert(
        &[
            "verify",
            "--cert",
            &der_file.display().to_string(),
            &damaged,
        ],
        false,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        !ok && v["decoded"] == false && v["reasons"][0] == "bad_prefix",
        "{out}"
    );

    // Trust list out and back; rotation keeps the old signer trusted.
    let trust = dir.path().join("trust.json");
    let (ok, _, err) = cert(
        &[
            "trust-export",
            "--database",
            &url,
            "--out",
            &trust.display().to_string(),
        ],
        false,
    );
    assert!(ok, "{err}");
    let (ok, out, err) = cert(
        &["verify", "--trust", &trust.display().to_string(), &hc1],
        false,
    );
    assert!(ok, "{out} {err}");
    let (ok, _, err) = cert(&["keygen", "--database", &url], true);
    assert!(ok, "{err}");
    let (ok, out, err) = cert(&["verify", "--database", &url, &hc1], false);
    assert!(ok, "{out} {err}");
    let other_db = format!("sqlite://{}", dir.path().join("other.db").display());
    let (ok, out, _) = cert(&["verify", "--database", &other_db, &hc1], false);
    assert!(!ok && out.contains("unknown_kid"), "{out}");
    let (ok, out, err) = cert(
        &[
            "trust-import",
            "--database",
            &other_db,
            &trust.display().to_string(),
        ],
        false,
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"added\":1"), "{out}");
    let (ok, _, _) = cert(&["verify", "--database", &other_db, &hc1], false);
    assert!(ok);

    // Revocation is honoured by the database verifier.
    let uvci = issued["uvci"].as_str().unwrap();
    let (ok, _, err) = cert(
        &[
            "revoke",
            "--database",
            &url,
            "--uvci",
            uvci,
            "--reason",
            "cấp nhầm người",
        ],
        false,
    );
    assert!(ok, "{err}");
    let (ok, out, _) = cert(&["verify", "--database", &url, &hc1], false);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        !ok && v["revoked"] == true && v["signature_valid"] == true,
        "{out}"
    );
}

/// `phongdich cert verify --cert FILE --at TIME QR` on the EU conformance test data: the
/// signature verdict agrees with `EXPECTEDVERIFY` (every file that states it; the library's own
/// conformance test covers every flag). Skips with a notice when the test data is absent.
#[test]
fn cert_verify_agrees_with_the_eu_test_data() {
    let root = std::env::var("PHONGDICH_TESTDATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
        })
        .join("dgc-testdata");
    if !root.is_dir() {
        assert!(
            std::env::var("PHONGDICH_TESTDATA").is_err(),
            "PHONGDICH_TESTDATA is set but {} is missing",
            root.display()
        );
        eprintln!("notice: no dgc-testdata at {}; skipping", root.display());
        return;
    }
    // ES256 headers over P-384 keys: HCERT defines ES256 on P-256 only (see the certs crate's
    // KNOWN_TEST_DATA_DEFECTS).
    let known_defects = [
        "ES/2DCode/raw/401.json",
        "ES/2DCode/raw/402.json",
        "ES/2DCode/raw/403.json",
    ];
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    let dir = tempfile::tempdir().unwrap();
    let (mut checked, mut agreed) = (0, 0);
    let mut disagreements = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let Ok(v) =
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(path).unwrap())
        else {
            continue;
        };
        let (Some(prefix), Some(cert), Some(clock), Some(expected)) = (
            v["PREFIX"].as_str(),
            v["TESTCTX"]["CERTIFICATE"].as_str(),
            v["TESTCTX"]["VALIDATIONCLOCK"].as_str(),
            v["EXPECTEDRESULTS"]["EXPECTEDVERIFY"].as_bool(),
        ) else {
            continue;
        };
        if known_defects.iter().any(|d| rel.ends_with(d)) {
            continue;
        }
        let cert_file = dir.path().join("dsc.b64");
        std::fs::write(&cert_file, cert).unwrap();
        let out = phongdich()
            .args(["cert", "verify", "--cert"])
            .arg(&cert_file)
            .args(["--at", clock, prefix])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        checked += 1;
        let got = serde_json::from_str::<serde_json::Value>(&stdout)
            .ok()
            .and_then(|r| r["signature_valid"].as_bool());
        if got == Some(expected) {
            agreed += 1;
        } else {
            disagreements.push(format!(
                "{rel}: expected {expected}, got {got:?} {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    eprintln!("cert verify on dgc-testdata: signature verdict agrees on {agreed}/{checked} files");
    assert!(checked > 300, "only {checked} files checked");
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// `phongdich rules check home-care` gives the same assessment as `domain::home_care::assess`:
/// a well adult stays home; SpO2 93 with breathlessness is a severe emergency; an unknown
/// symptom is refused by name. `rules list` names every ruleset with its citation.
#[test]
fn rules_check_home_care_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, input: &str, extra: &[&str]| {
        let path = dir.path().join(name);
        std::fs::write(&path, input).unwrap();
        let mut args = vec![
            "rules",
            "check",
            "home-care",
            "--input",
            path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run_json(&args)
    };

    let (ok, out, err) = check(
        "well.json",
        r#"{"age_years": 35, "resp_rate": 16, "spo2": 98, "pulse": 78, "systolic": 118,
            "diastolic": 76, "temp_c": 37.2, "symptoms": ["cough"], "fully_vaccinated": true}"#,
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(out["escalate"], false, "{out}");
    assert_eq!(out["eligible_home_care"], true, "{out}");
    assert!(
        ["asymptomatic", "mild"].contains(&out["severity"].as_str().unwrap()),
        "{out}"
    );
    assert_eq!(out["alert"], "none");
    assert_eq!(out["ruleset"], "home-care-strict-2022");
    assert_eq!(out["reasons"].as_array().unwrap().len(), 0);

    let (ok, out, err) = check(
        "severe.json",
        r#"{"age_years": 62, "resp_rate": null, "spo2": 93, "pulse": 104, "systolic": null,
            "diastolic": null, "temp_c": 38.5, "symptoms": ["dyspnoea", "fever"]}"#,
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(out["escalate"], true, "{out}");
    assert_eq!(out["severity"], "severe");
    assert_eq!(out["alert"], "emergency");
    assert_eq!(out["eligible_home_care"], false);
    let codes: Vec<&str> = out["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"spo2_below_94"), "{codes:?}");
    assert!(codes.contains(&"dyspnoea"), "{codes:?}");
    let spo2 = out["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "spo2_below_94")
        .unwrap();
    assert_eq!(spo2["verified"], false);
    assert!(spo2["message_vi"].as_str().unwrap().contains("93%"));

    // Another ruleset by id; an unknown one is refused.
    let (ok, out, err) = check(
        "severe.json",
        r#"{"age_years": 62, "spo2": 93, "symptoms": ["dyspnoea"]}"#,
        &["--ruleset", "qd-261-2022"],
    );
    assert!(ok, "{err}");
    assert_eq!(out["ruleset"], "qd-261-2022");
    assert_eq!(out["severity_table"], "qd-4689-2021");
    let (ok, _, err) = check("well.json", r#"{"age_years": 30}"#, &["--ruleset", "nope"]);
    assert!(!ok);
    assert!(err.contains("nope"), "{err}");

    let (ok, out, err) = check(
        "bad.json",
        r#"{"age_years": 30, "spo2": 97, "symptoms": ["sneezing"]}"#,
        &[],
    );
    assert!(!ok, "{out}");
    assert!(err.contains("sneezing"), "{err}");
    assert!(err.starts_with("lỗi [invalid_input]"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let (ok, _, err) = check("broken.json", "{not json", &[]);
    assert!(!ok);
    assert!(err.starts_with("lỗi"), "{err}");
    let (ok, _, err) = run_json(&[
        "rules",
        "check",
        "home-care",
        "--input",
        dir.path().join("missing.json").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("missing.json"), "{err}");

    let (ok, out, err) = run_json(&["rules", "list"]);
    assert!(ok, "{err}");
    let ids = |k: &str| -> Vec<String> {
        out[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids("home_care"),
        ["home-care-strict-2022", "qd-4038-2021", "qd-261-2022"]
    );
    assert_eq!(ids("severity_tables"), ["qd-2671-2023", "qd-4689-2021"]);
    assert_eq!(ids("case"), ["case-group-a-2022", "case-group-b-2023"]);
    assert_eq!(out["case"][1]["effective_from"], "2023-10-20");
    assert!(
        out["case"][1]["citation"]
            .as_str()
            .unwrap()
            .contains("3896/QĐ-BYT")
    );
    assert!(
        out["home_care"][0]["citation"]
            .as_str()
            .unwrap()
            .contains("261/QĐ-BYT")
    );
}

#[test]
fn import_tests_opens_cases_rejects_bad_rows_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let (ok, _, err) = run_json(&[
        "demo",
        "--database",
        &url,
        "--persons",
        "2000",
        "--seed",
        "5",
        "--no-epidemic",
    ]);
    assert!(ok, "{err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let persons: Vec<domain::person::Person> = rt.block_on(async {
        let s = store::open(&url).await.unwrap();
        let mut q = store::PersonQuery::new(store::PersonScope::Province("12".into()));
        q.limit = 200;
        let page = s.list_persons(&q).await.unwrap();
        s.close().await;
        page.items
            .into_iter()
            .filter(|p| p.national_id.is_some())
            .take(5)
            .collect()
    });
    assert_eq!(persons.len(), 5);
    // The import bounds sample dates by today in Vietnam.
    let today = intake::care::local_date(chrono::Utc::now());
    let day = |d: i64| (today - chrono::TimeDelta::days(d)).to_string();
    let file = dir.path().join("xet-nghiem.csv");
    let mut w = csv::Writer::from_path(&file).unwrap();
    w.write_record(domain::test_record::COLUMNS).unwrap();
    let row = |p: &domain::person::Person, id: &str, sample: &str, kind: &str, result: &str| {
        // The file's own order of columns: domain::test_record::COLUMNS.
        domain::test_record::COLUMNS
            .iter()
            .map(|c| match *c {
                "record_id" => id.to_string(),
                "national_id" => p.national_id.as_ref().unwrap().as_str().to_string(),
                "full_name" => p.full_name.clone(),
                "dob" => p.dob.to_string(),
                "sex" => p.sex.as_str().to_string(),
                "commune_code" => p.commune_code.clone(),
                "phone" => String::new(),
                "sample_date" => sample.to_string(),
                "test_type" => kind.to_string(),
                "result" => result.to_string(),
                "lab_code" => "CDC-12".to_string(),
                other => panic!("column {other} not filled"),
            })
            .collect::<Vec<String>>()
    };
    let (a, b, c, d, e) = (
        &persons[0],
        &persons[1],
        &persons[2],
        &persons[3],
        &persons[4],
    );
    // Two tests of one person in one episode, one Vietnamese spelling ("test nhanh", "dương tính").
    w.write_record(row(a, "X1", &day(3), "rt-pcr", "positive"))
        .unwrap();
    w.write_record(row(a, "X2", &day(1), "rapid-antigen", "positive"))
        .unwrap();
    w.write_record(row(b, "X3", &day(2), "test nhanh", "dương tính"))
        .unwrap();
    w.write_record(row(c, "X4", &day(2), "rt-pcr", "negative"))
        .unwrap();
    // An antibody test never opens a case.
    w.write_record(row(d, "X5", &day(2), "antibody", "positive"))
        .unwrap();
    // Bad rows: an unknown result, a sample taken tomorrow, no lab.
    w.write_record(row(e, "X6", &day(1), "rt-pcr", "maybe"))
        .unwrap();
    w.write_record(row(e, "X7", &day(-1), "rt-pcr", "positive"))
        .unwrap();
    let mut no_lab = row(e, "X8", &day(1), "rt-pcr", "positive");
    *no_lab.last_mut().unwrap() = String::new();
    w.write_record(no_lab).unwrap();
    w.flush().unwrap();

    let import = || {
        let (ok, out, err) = run_json(&[
            "import",
            "tests",
            file.to_str().unwrap(),
            "--database",
            &url,
        ]);
        assert!(ok, "{err}");
        out
    };
    let first = import();
    assert_eq!(first["inserted"], 5, "{first}");
    assert_eq!(first["rejected"], 3, "{first}");
    assert_eq!(first["linked"], 5, "{first}");
    assert_eq!(first["cases_created"], 2, "{first}");
    let errors = std::fs::read_to_string(first["errors_file"].as_str().unwrap()).unwrap();
    // Data rows start on line 2: X6 is line 7, X7 line 8, X8 line 9.
    assert!(errors.contains("7,result"), "{errors}");
    assert!(errors.contains("8,sample_date"), "{errors}");
    assert!(errors.contains("9,lab_code"), "{errors}");

    // The same file again: nothing new, no second case.
    let again = import();
    assert_eq!(again["inserted"], 0, "{again}");
    assert_eq!(again["duplicates"], 5, "{again}");
    assert_eq!(again["cases_created"], 0, "{again}");
    assert_eq!(again["cases_updated"], 0, "{again}");

    let cases = rt.block_on(async {
        let s = store::open(&url).await.unwrap();
        let mut n = Vec::new();
        for p in [a, b, c, d] {
            n.push(s.cases_of_person(p.id).await.unwrap());
        }
        s.close().await;
        n
    });
    assert_eq!(cases[0].len(), 1, "one episode for two positives");
    assert_eq!(
        cases[0][0].first_positive,
        today - chrono::TimeDelta::days(3)
    );
    assert_eq!(
        cases[0][0].last_positive,
        today - chrono::TimeDelta::days(1)
    );
    assert_eq!(cases[1].len(), 1);
    assert!(cases[2].is_empty() && cases[3].is_empty());

    // The weekly epidemic level of the province from these cases, proposed for approval.
    let (ok, weekly, err) = run_json(&["level", "weekly", "--province", "12", "--database", &url]);
    assert!(ok, "{err}");
    assert_eq!(weekly[0]["province_code"], "12", "{weekly}");
    assert_eq!(weekly[0]["hierarchy"], "2025", "{weekly}");
    assert!(weekly[0]["units"].as_i64().unwrap() > 1, "{weekly}");
    let (ok, _, err) = run_json(&["level", "weekly", "--database", &url]);
    assert!(!ok);
    assert!(err.contains("--province"), "{err}");

    // A file without the result column is refused as a whole, naming the column.
    let bad = dir.path().join("thieu-cot.csv");
    std::fs::write(
        &bad,
        "record_id,sample_date,test_type,lab_code\nZ1,2022-01-01,rt-pcr,L\n",
    )
    .unwrap();
    let (ok, _, err) = run_json(&["import", "tests", bad.to_str().unwrap(), "--database", &url]);
    assert!(!ok);
    assert!(err.contains("result"), "{err}");
}

#[test]
fn level_assess_band_edges_crisis_what_if_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let header = "unit_code,population,new_cases_week,oxygen_cases_7d_avg,deaths_week,free_covid_beds,icu_beds_staffed,coverage_1dose_18plus,coverage_full_50plus\n";
    // Units of 100,000 people on both sides of 4800's verified edges (rate = cases), one with a
    // single crisis condition (3 ICU beds per 100,000), and a what-if scenario in full crisis.
    let units = write(
        "units.csv",
        &format!(
            "{header}\
             X-19.99,100000,19.99,,,,,0.8,0.9\n\
             X-20,100000,20,,,,,0.8,0.9\n\
             X-49.99,100000,49.99,,,,,0.8,0.9\n\
             X-50,100000,50,,,,,0.8,0.9\n\
             X-149.99,100000,149.99,,,,,0.8,0.9\n\
             X-150,100000,150,,,,,0.8,0.9\n\
             ICU-thieu,100000,10,0,0,50,3,0.8,0.9\n\
             KichBan-A,10000,50,4,1,0.5,0.2,75%,0.85\n"
        ),
    );
    let (ok, out, err) = run_json(&[
        "level",
        "assess",
        "--input",
        &units,
        "--ruleset",
        "qd-4800-2021",
    ]);
    assert!(ok, "{err}");
    let rows = out.as_array().unwrap();
    assert_eq!(rows.len(), 8, "{out}");
    let expect = [
        ("X-19.99", 1, "low"),
        ("X-20", 2, "medium"),
        ("X-49.99", 2, "medium"),
        ("X-50", 3, "high"),
        ("X-149.99", 3, "high"),
        ("X-150", 4, "very_high"),
        ("ICU-thieu", 1, "low"),
        ("KichBan-A", 4, "very_high"),
    ];
    for (row, (unit, level, transmission)) in rows.iter().zip(expect) {
        assert_eq!(row["unit_code"], unit, "{row}");
        assert_eq!(row["level"], level, "{row}");
        assert_eq!(row["criteria"]["transmission"], transmission, "{row}");
        assert_eq!(row["ruleset"], "qd-4800-2021", "{row}");
        assert_eq!(row["crisis_scenario"], "laichau-2023", "{row}");
        assert!(row["unverified"].is_array(), "{row}");
    }
    assert_eq!(rows[1]["criteria"]["cases_per_100k_week"], 20.0);
    assert_eq!(rows[0]["crisis"], false);
    assert_eq!(rows[0]["colour"], "green");
    assert_eq!(rows[5]["colour"], "red");
    // One condition met: a crisis (any one), with one reason and the unverified "any" rule.
    let icu = &rows[6];
    assert_eq!(icu["crisis"], true, "{icu}");
    let reasons = icu["crisis_reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{icu}");
    assert!(
        reasons[0]
            .as_str()
            .unwrap()
            .starts_with("icu_per_100k: 3 < 4"),
        "{icu}"
    );
    assert!(
        icu["unverified"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == "laichau-2023.combination (any)"),
        "{icu}"
    );
    // The what-if scenario: 500 cases, 40 on oxygen, 5 free beds, 2 ICU beds per 100,000.
    let what_if = &rows[7];
    assert_eq!(what_if["crisis"], true);
    let reasons: Vec<&str> = what_if["crisis_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    for code in [
        "cases_per_100k_week",
        "oxygen_per_100k",
        "free_beds_per_100k",
        "icu_per_100k",
    ] {
        assert!(reasons.iter().any(|r| r.starts_with(code)), "{reasons:?}");
    }
    assert_eq!(what_if["criteria"]["coverage"][0]["value"], 0.75);

    // Default ruleset: the one in force today (218); very high needs more than 600.
    let today = write(
        "today.csv",
        "unit_code,population,new_cases_week,coverage_full_total,coverage_full_50plus\n\
         T-600,100000,600,0.8,0.95\n\
         T-600.01,100000,600.01,0.8,0.95\n",
    );
    let (ok, out, err) = run_json(&["level", "assess", "--input", &today]);
    assert!(ok, "{err}");
    assert_eq!(out[0]["ruleset"], "qd-218-2022", "{out}");
    assert_eq!(out[0]["criteria"]["transmission"], "high");
    assert_eq!(out[0]["level"], 3);
    assert_eq!(out[1]["criteria"]["transmission"], "very_high");
    assert_eq!(out[1]["level"], 4);
    // A date picks the ruleset then in force.
    let (ok, out, err) = run_json(&[
        "level",
        "assess",
        "--input",
        &today,
        "--as-of",
        "2021-12-01",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out[0]["ruleset"], "qd-4800-2021", "{out}");

    // The table format.
    let table = phongdich()
        .args(["level", "assess", "--input", &units, "--format", "table"])
        .output()
        .unwrap();
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("KichBan-A") && text.contains("qd-218-2022"),
        "{text}"
    );

    // A bad row: one error line naming its line and column, nothing printed.
    for (name, row, column) in [
        ("bad-pop.csv", "B,abc,1,,,,,,", "population"),
        ("bad-cov.csv", "B,1000,1,,,,,72,", "coverage_1dose_18plus"),
        ("bad-neg.csv", "B,1000,-3,,,,,,", "new_cases_week"),
    ] {
        let path = write(
            name,
            &format!("{header}A,1000,1,,,,,,\nA2,1000,1,,,,,,\n{row}\n"),
        );
        let (ok, out, err) = run_json(&["level", "assess", "--input", &path]);
        assert!(!ok, "{name}: {out}");
        assert_eq!(out, serde_json::Value::Null, "{name}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(err.starts_with("lỗi [invalid_input]"), "{name}: {err}");
        assert!(
            err.contains(&format!("dòng 4, cột {column}")),
            "{name}: {err}"
        );
    }
    let path = write("bad-col.csv", "unit_code,population,new_cases\nA,1,0\n");
    let (ok, _, err) = run_json(&["level", "assess", "--input", &path]);
    assert!(!ok);
    assert!(err.contains("new_cases"), "{err}");

    // An unknown ruleset: the error lists the known ids.
    let (ok, _, err) = run_json(&["level", "assess", "--input", &units, "--ruleset", "qd-9999"]);
    assert!(!ok);
    assert!(
        err.contains("qd-9999") && err.contains("qd-4800-2021") && err.contains("qd-218-2022"),
        "{err}"
    );

    let (ok, out, err) = run_json(&["level", "list"]);
    assert!(ok, "{err}");
    assert_eq!(out["rulesets"][0]["id"], "qd-4800-2021");
    assert_eq!(out["rulesets"][1]["citation"]["number"], "218/QĐ-BYT");
    assert_eq!(out["crisis_scenario"]["id"], "laichau-2023");
}

#[test]
fn rt_flu2009_matches_epiestim_and_rejects_date_gaps() {
    let testdata = std::env::var_os("PHONGDICH_TESTDATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
        });
    let golden_path = testdata.join("rt/flu2009.json");
    let Ok(text) = std::fs::read_to_string(&golden_path) else {
        eprintln!(
            "NOTICE: skipping rt_flu2009_matches_epiestim_and_rejects_date_gaps: {} not found",
            golden_path.display()
        );
        return;
    };
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    let incidence: Vec<f64> = golden["incidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let first = chrono::NaiveDate::from_ymd_opt(2009, 4, 27).unwrap();
    let day = |i: usize| first + chrono::Days::new(i as u64);

    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("date,cases\n");
    for (i, c) in incidence.iter().enumerate() {
        csv.push_str(&format!("{},{c}\n", day(i)));
    }
    let cases = dir.path().join("cases.csv");
    std::fs::write(&cases, &csv).unwrap();
    let si = dir.path().join("si.json");
    std::fs::write(&si, golden["si_distr"].to_string()).unwrap();

    let (ok, out, err) = run_json(&[
        "rt",
        "--input",
        cases.to_str().unwrap(),
        "--si",
        si.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let got = out.as_array().unwrap();
    let expected = golden["expected"].as_array().unwrap();
    assert_eq!(got.len(), expected.len(), "{out}");
    let mut worst = [0.0f64; 3];
    for (g, e) in got.iter().zip(expected) {
        assert_eq!(g["t_start"], e["t_start"]);
        assert_eq!(g["t_end"], e["t_end"]);
        let t_start = g["t_start"].as_u64().unwrap() as usize;
        let t_end = g["t_end"].as_u64().unwrap() as usize;
        assert_eq!(g["date_start"], day(t_start - 1).to_string());
        assert_eq!(g["date_end"], day(t_end - 1).to_string());
        for (name, tol, slot) in [
            ("mean", 1e-6, 0),
            ("sd", 1e-6, 1),
            ("q025", 1e-4, 2),
            ("median", 1e-4, 2),
            ("q975", 1e-4, 2),
        ] {
            let (v, want) = (g[name].as_f64().unwrap(), e[name].as_f64().unwrap());
            let dev = (v - want).abs();
            worst[slot] = worst[slot].max(dev);
            assert!(dev <= tol, "window {t_start}-{t_end}: {name} {v} vs {want}");
        }
    }
    eprintln!(
        "rt CLI: {} windows; largest deviations mean {:e}, sd {:e}, quantiles {:e}",
        got.len(),
        worst[0],
        worst[1],
        worst[2]
    );
    // The first window runs from day 2 to day 8, i.e. 28 April to 4 May 2009.
    assert_eq!(got[0]["date_start"], "2009-04-28");
    assert_eq!(got[0]["date_end"], "2009-05-04");

    // The parametric SI of Flu2009 (mean 2.6, sd 1.5) gives the same windows, with other values.
    let si_param = dir.path().join("si-param.json");
    std::fs::write(&si_param, r#"{"mean": 2.6, "sd": 1.5}"#).unwrap();
    let (ok, param, err) = run_json(&[
        "rt",
        "--input",
        cases.to_str().unwrap(),
        "--si",
        si_param.to_str().unwrap(),
        "--window",
        "7",
    ]);
    assert!(ok, "{err}");
    assert_eq!(param.as_array().unwrap().len(), expected.len());
    let r0 = param[0]["mean"].as_f64().unwrap();
    assert!(r0 > 1.0 && r0 < 2.5, "{param}");

    // A missing day (line 6 jumps from 1 May to 3 May) is refused, naming the line.
    let mut lines: Vec<&str> = csv.lines().collect();
    lines.remove(5);
    let gap = dir.path().join("gap.csv");
    std::fs::write(&gap, lines.join("\n") + "\n").unwrap();
    let (ok, _, err) = run_json(&[
        "rt",
        "--input",
        gap.to_str().unwrap(),
        "--si",
        si.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("dòng 6"), "{err}");
    assert!(err.contains("2009-05-02"), "{err}");
}
