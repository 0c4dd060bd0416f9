//! Vaccination coverage and dose allocation (issue 5):
//!
//! - `GET /api/v1/coverage?unit=CODE[&as_of=YYYY-MM-DD][&hierarchy=2025|pre2025]` →
//!   `{unit, unit_name, hierarchy, as_of, groups: [{age_group, population, at_least_one,
//!   primary_complete, booster1, booster2}]}` from the coverage counters
//!   ([`store::coverage_report`]); aggregates only, so any unit may be asked by a caller with
//!   `ViewCoverage`. A code without `hierarchy` is looked up in the 2025 list first.
//! - `GET /api/v1/allocation?unit=CODE&product=VACCINE&doses=N[&as_of][&hierarchy]` → the
//!   recommended split to the units below, with needs, formula and reasoning steps
//!   ([`intake::allocation_need::plan_allocation`]); the unit must lie within the caller's scope.
//!
//! `as_of` defaults to today.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use domain::auth::{Permission, UnitRef};
use domain::units::UnitVersion;
use intake::allocation_need::{AllocationPlan, parse_as_of, plan_allocation};
use serde::Deserialize;
use store::{CoverageReport, CoverageUnit};

use crate::AppState;
use crate::auth::{Caller, Principal};
use crate::authz;
use crate::error::{ApiError, ApiQuery};

#[derive(Debug, Default, Deserialize)]
pub struct CoverageQuery {
    pub unit: Option<String>,
    pub as_of: Option<String>,
    pub hierarchy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AllocationQuery {
    pub unit: Option<String>,
    pub as_of: Option<String>,
    pub hierarchy: Option<String>,
    pub product: Option<String>,
    pub doses: Option<String>,
}

/// Today in Vietnam on the server's (injected) clock.
pub fn today(state: &AppState) -> NaiveDate {
    domain::vietnam_time::local_date((state.clock)())
}

fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// The unit and date of a coverage question; `unit` missing → `invalid_input`, unknown →
/// `not_found`.
pub fn coverage_params(
    state: &AppState,
    unit: Option<&str>,
    hierarchy: Option<&str>,
    as_of: Option<&str>,
) -> Result<(CoverageUnit, NaiveDate), domain::Error> {
    let code = present(unit).ok_or_else(|| {
        domain::Error::invalid("unit", "Thiếu mã đơn vị (unit)", "Missing unit code (unit)")
    })?;
    let hierarchy = present(hierarchy).map(UnitVersion::parse).transpose()?;
    let unit = CoverageUnit::resolve(code, hierarchy)?;
    let as_of = match present(as_of) {
        Some(t) => parse_as_of(t)?,
        None => today(state),
    };
    Ok((unit, as_of))
}

pub async fn coverage(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CoverageQuery>,
) -> Result<Json<CoverageReport>, ApiError> {
    let (unit, as_of) = coverage_params(
        &state,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
        q.as_of.as_deref(),
    )?;
    Ok(Json(
        store::coverage_report(state.store.as_ref(), &unit, as_of).await?,
    ))
}

/// Validates an allocation question and checks the unit is in the caller's scope (403
/// otherwise), then computes the plan.
pub async fn allocation_for(
    state: &AppState,
    p: &Principal,
    q: &AllocationQuery,
) -> Result<AllocationPlan, domain::Error> {
    let (unit, as_of) = coverage_params(
        state,
        q.unit.as_deref(),
        q.hierarchy.as_deref(),
        q.as_of.as_deref(),
    )?;
    authz::require_unit(
        state.units,
        p,
        Permission::PlanAllocation,
        &UnitRef::new(unit.hierarchy, unit.code.clone()),
    )?;
    let product = present(q.product.as_deref()).ok_or_else(|| {
        domain::Error::invalid(
            "product",
            "Thiếu vắc xin (product)",
            "Missing vaccine (product)",
        )
    })?;
    let doses = present(q.doses.as_deref())
        .and_then(|d| d.replace(['.', ',', ' '], "").parse::<u64>().ok())
        .ok_or_else(|| {
            domain::Error::invalid(
                "doses",
                "Số liều (doses) phải là số nguyên không âm",
                "The number of doses (doses) must be a non-negative integer",
            )
        })?;
    plan_allocation(state.store.as_ref(), &unit, product, doses, as_of).await
}

pub async fn allocation(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<AllocationQuery>,
) -> Result<Json<AllocationPlan>, ApiError> {
    Ok(Json(allocation_for(&state, &p, &q).await?))
}
