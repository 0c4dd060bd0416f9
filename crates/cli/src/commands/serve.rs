//! `phongdich serve`: migrates, optionally loads the demo province into an empty database, and
//! serves the web UI and API until SIGINT/SIGTERM.

use anyhow::Context;

use super::DatabaseArg;
use crate::config::{DEFAULT_BIND, FileConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub db: DatabaseArg,
    /// Listen address, e.g. 127.0.0.1:8080 or 0.0.0.0:8080.
    #[arg(long, env = "PHONGDICH_BIND")]
    pub bind: Option<String>,
    /// Load the demo province when the database is empty.
    #[arg(long)]
    pub demo: bool,
    /// Reverse proxy addresses whose X-Forwarded-For is believed (comma-separated).
    #[arg(long, env = "PHONGDICH_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

pub async fn run(args: Args, file: &FileConfig) -> anyhow::Result<()> {
    let url = file.database_url(args.db.database);
    let store = store::open(&url).await?;
    if args.demo {
        if store.count_persons().await? == 0 {
            let params = demo::DemoParams {
                province_code: file
                    .demo
                    .province
                    .clone()
                    .unwrap_or_else(|| super::demo::DEFAULT_PROVINCE.to_string()),
                persons: file.demo.persons.unwrap_or(super::demo::DEFAULT_PERSONS),
                seed: file.demo.seed.unwrap_or(super::demo::DEFAULT_SEED),
                as_of: super::demo::DEFAULT_AS_OF.parse()?,
            };
            eprintln!(
                "Đang nạp dữ liệu mẫu: tỉnh {}, {} người…",
                params.province_code, params.persons
            );
            let r = super::demo::load(store.as_ref(), &params).await?;
            eprintln!(
                "Đã nạp {} hộ, {} người ({:.0} người/giây).",
                r.households, r.persons, r.persons_per_second
            );
        } else {
            eprintln!("Cơ sở dữ liệu đã có dữ liệu; bỏ qua nạp dữ liệu mẫu.");
        }
    }
    let proxies = if args.trusted_proxies.is_empty() {
        file.trusted_proxies.clone()
    } else {
        args.trusted_proxies
    };
    let state = server::AppState::new(store.clone()).with_trusted_proxies(proxies);
    let demo_logins = if args.demo {
        let province = file
            .demo
            .province
            .clone()
            .unwrap_or_else(|| super::demo::DEFAULT_PROVINCE.to_string());
        super::demo::ensure_demo_users(&state, &province).await?
    } else {
        Vec::new()
    };
    let bind = args
        .bind
        .or_else(|| file.bind.clone())
        .unwrap_or_else(|| DEFAULT_BIND.to_string());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("không mở được cổng {bind}"))?;
    let addr = listener.local_addr()?;
    println!(
        "phongdich đang chạy tại http://{addr}/  (cơ sở dữ liệu: {})",
        store::DatabaseUrl::parse(&url)?.redacted()
    );
    if !demo_logins.is_empty() {
        println!(
            "Tài khoản mẫu (mật khẩu chung: {}):",
            super::demo::DEMO_PASSWORD
        );
        for l in &demo_logins {
            println!(
                "  {:<12} {:<20} {}",
                l.username,
                l.role.as_str(),
                if l.scope.is_empty() { "—" } else { &l.scope }
            );
        }
    }
    println!("Nhấn Ctrl-C để dừng.");
    tracing::info!(%addr, backend = store.backend().as_str(), "listening");
    server::serve(listener, state, server::shutdown_signal()).await?;
    Ok(())
}
