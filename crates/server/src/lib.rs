//! `server` — phongdich's HTTP face: the JSON API under `/api/v1`, server-rendered Vietnamese web
//! pages, health/readiness probes and Prometheus metrics.
//!
//! [`router`] assembles every route; [`serve`] runs it on a listener until a shutdown signal.
//! Handlers are thin: they parse input into domain types, call the [`store::Store`], and render.

pub mod api;
pub mod assets;
pub mod auth;
pub mod authz;
pub mod error;
pub mod i18n;
pub mod observability;
pub mod pages;
pub mod security;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use domain::units::AdminUnits;
use store::Store;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub units: &'static AdminUnits,
    /// The clock (injected so tests can move time).
    pub clock: fn() -> chrono::DateTime<chrono::Utc>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (empty: use the TCP peer).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// Where the certificate signing keys' passphrase comes from, read on each signing request
    /// (default: `PHONGDICH_CERT_PASSPHRASE`; injected so tests need not touch the environment).
    pub cert_passphrase: fn() -> Result<passport::Passphrase, domain::Error>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            units: AdminUnits::embedded(),
            clock: chrono::Utc::now,
            trusted_proxies: Arc::new(Vec::new()),
            cert_passphrase: passport::Passphrase::from_env,
        }
    }

    /// Takes the certificate signing passphrase from `source` instead of the environment.
    pub fn with_cert_passphrase(
        mut self,
        source: fn() -> Result<passport::Passphrase, domain::Error>,
    ) -> Self {
        self.cert_passphrase = source;
        self
    }

    /// Believes `X-Forwarded-For` from these proxy addresses.
    pub fn with_trusted_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> Self {
        self.trusted_proxies = Arc::new(proxies);
        self
    }
}

/// Every route with an access rule (API and pages), for the authorization test and docs.
pub fn route_specs() -> Vec<authz::RouteSpec> {
    all_routes().1
}

/// Every route group, each built through [`authz::SecuredRouter`].
fn all_routes() -> (Router<AppState>, Vec<authz::RouteSpec>) {
    let (api, mut specs) = api::routes();
    let mut router = Router::new().nest("/api/v1", api);
    for (r, s) in [pages::routes(), observability::routes(), assets::routes()] {
        router = router.merge(r);
        specs.extend(s);
    }
    (router, specs)
}

/// The complete application: pages, API, probes, static assets, with logging, metrics, timeouts
/// and security headers applied to every response.
pub fn router(state: AppState) -> Router {
    let (routes, _) = all_routes();
    routes
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn(observability::track_metrics))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        // Spans carry the path, never the query string (searches may hold ID or phone numbers).
        .layer(TraceLayer::new_for_http().make_span_with(
            |req: &axum::http::Request<axum::body::Body>| {
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
            },
        ))
        .layer(axum::middleware::from_fn(security::headers))
}

/// Serves `router(state)` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish and closes the database pool.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = state.store.clone();
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    store.close().await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM (systemd stop).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
