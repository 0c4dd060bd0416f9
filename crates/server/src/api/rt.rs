//! Rt of a unit (issue 8), public — aggregates only, no personal data:
//!
//! `GET /api/v1/rt?unit=CODE[&hierarchy=2025|pre2025][&days=N][&as_of=YYYY-MM-DD]` →
//! [`intake::rt::UnitRt`]: `{unit: {hierarchy, code, name, level}, from, to, days, window,
//! prior_mean, prior_sd, serial_interval: {id, disease, variant, mean, sd, source, verified,
//! note}, min_window_cases, status: "ok" | "not_enough_data", series: [{date, cases, imported}],
//! windows: [{date_start, date_end, cases, enough_data, t_start, t_end, mean, sd, q025, q05, q25,
//! median, q75, q95, q975, shape, scale}], forecast: [{date, day_index, median, lower, upper}],
//! forecast_draws, forecast_seed}`.
//!
//! `days` (default [`intake::rt::DEFAULT_DAYS`], [`intake::rt::MIN_DAYS`]–
//! [`intake::rt::MAX_DAYS`]) of history end on `as_of` (default today). A code without
//! `hierarchy` is looked up in the 2025 list first. Missing unit or bad `days`/`as_of` → 400
//! `invalid_input`; unknown unit → 404 `not_found`.

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use axum::routing::get;
use chrono::NaiveDate;
use domain::auth::Access;
use intake::rt::{DEFAULT_DAYS, UnitRt, check_days};
use serde::Deserialize;
use store::CoverageUnit;

use crate::AppState;
use crate::api::coverage::coverage_params;
use crate::authz::{RouteSpec, SecuredRouter, Surface};
use crate::error::{ApiError, ApiQuery};

/// The query of the API and the page.
#[derive(Debug, Default, Deserialize)]
pub struct RtQuery {
    pub unit: Option<String>,
    pub hierarchy: Option<String>,
    pub days: Option<String>,
    pub as_of: Option<String>,
}

/// The API route and its rule.
pub fn routes() -> (axum::Router<AppState>, Vec<RouteSpec>) {
    SecuredRouter::new("/api/v1", Surface::Api)
        .route(Method::GET, "/rt", Access::Public, get(unit_rt))
        .into_parts()
}

/// The number of days asked for (default [`DEFAULT_DAYS`]), checked.
pub fn parse_days(days: Option<&str>) -> Result<u32, domain::Error> {
    let Some(t) = days.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_DAYS);
    };
    let n = t.parse::<u32>().map_err(|_| {
        domain::Error::invalid(
            "days",
            format!("Số ngày (days) «{t}» không phải số nguyên dương"),
            format!("days «{t}» is not a positive whole number"),
        )
    })?;
    check_days(n)
}

/// The unit, as-of date and days of a question (shared with the page).
pub fn rt_params(
    state: &AppState,
    unit: Option<&str>,
    q: &RtQuery,
) -> Result<(CoverageUnit, NaiveDate, u32), domain::Error> {
    let (unit, as_of) = coverage_params(state, unit, q.hierarchy.as_deref(), q.as_of.as_deref())?;
    Ok((unit, as_of, parse_days(q.days.as_deref())?))
}

/// `GET /api/v1/rt`.
pub async fn unit_rt(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RtQuery>,
) -> Result<Json<UnitRt>, ApiError> {
    let (unit, as_of, days) = rt_params(&state, q.unit.as_deref(), &q)?;
    Ok(Json(
        intake::rt::unit_rt(state.store.as_ref(), &unit, as_of, days).await?,
    ))
}
