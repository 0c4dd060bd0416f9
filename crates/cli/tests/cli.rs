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
        assert_eq!(v["total"], 1500, "demo loaded on the empty database");
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
