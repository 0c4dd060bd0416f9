//! Weekly epidemic level over HTTP ([`intake::levels`]).
//!
//! - `GET /api/v1/levels?province=CODE` (public): each province's levels in force now and any
//!   approved levels announced to take effect later, with every unit's level, crisis flag and
//!   whether it rests on an unverified number (`{provinces: [{province_code, in_force: {run,
//!   units}, announced: {run, units}}]}`).
//! - `POST /api/v1/levels/runs` `{province_code, hierarchy?, week_start?, ruleset?}` (default:
//!   the hierarchy in force, the current week, the ruleset in force) → 201 `{run, units}`: a
//!   proposed run (`AssessLevels`, within the caller's unit).
//! - `GET /api/v1/levels/runs?province=CODE` → `{items}`; `GET /api/v1/levels/runs/{id}` →
//!   `{run, units}` with every unit's inputs and reasoning (`ViewSurveillance`; proposed runs
//!   only within the caller's unit).
//! - `POST /api/v1/levels/runs/{id}/approve` → the approved run (`ApproveLevels`, within the
//!   province); the levels take effect 48 h after computation or approval, whichever is later.
//! - `PUT /api/v1/levels/capacity` `{unit_code, week_start, free_covid_beds?, icu_beds_staffed?,
//!   oxygen_cases_7d_avg?}` (`AssessLevels`, within the caller's unit).
//! - `GET /api/v1/levels/alerts?province=CODE&hierarchy=` → `{items}` crisis alerts of the province's latest
//!   run (`ApproveLevels`, within the province).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use domain::Error;
use domain::auth::{Permission, UnitRef};
use domain::units::{AdminUnits, UnitVersion};
use intake::levels::{self as lv, CrisisAlert, WeekRequest};
use serde::{Deserialize, Serialize};
use store::{CapacityInput, LevelRun, RunStatus, UnitAssessment};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{self, Caller, ClientIp, Principal};
use crate::authz;
use crate::error::{ApiError, ApiJson, ApiQuery};

/// A run with its units.
#[derive(Debug, Serialize)]
pub struct RunWithUnits {
    pub run: LevelRun,
    pub units: Vec<UnitAssessment>,
}

/// A province's public levels.
#[derive(Debug, Serialize)]
pub struct PublicProvince {
    pub province_code: String,
    pub province_name: String,
    pub in_force: Option<RunWithUnits>,
    pub announced: Option<RunWithUnits>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ProvinceParam {
    pub province: Option<String>,
    /// `2025` or `pre2025` (for the caller's scope check; default: the code's own list).
    pub hierarchy: Option<String>,
}

/// The list a code is read in when none is given: the 2025 list if it holds the code, else the
/// pre-2025 one.
pub fn hierarchy_of_code(code: &str) -> UnitVersion {
    if AdminUnits::embedded().v2025.get(code).is_some() {
        UnitVersion::V2025
    } else {
        UnitVersion::Pre2025
    }
}

fn province_name(code: &str, h: UnitVersion) -> String {
    AdminUnits::embedded()
        .hierarchy(h)
        .get(code)
        .map(|u| u.name.clone())
        .unwrap_or_else(|| code.to_string())
}

/// Public levels of every province with approved runs (or one), in force at `at`.
pub async fn public_levels(
    state: &AppState,
    province: Option<&str>,
) -> Result<Vec<PublicProvince>, Error> {
    let store = state.store.as_ref();
    let mut out = Vec::new();
    for p in lv::levels_at(store, province, (state.clock)()).await? {
        let with_units = |run: Option<LevelRun>| async move {
            match run {
                Some(run) => {
                    let mut units = store.level_units(run.id).await?;
                    // The public sees levels and flags, not the working inputs.
                    for u in &mut units {
                        u.indicators = serde_json::Value::Null;
                    }
                    Ok::<_, Error>(Some(RunWithUnits { run, units }))
                }
                None => Ok(None),
            }
        };
        let h = p
            .in_force
            .as_ref()
            .or(p.announced.as_ref())
            .map(|r| r.hierarchy)
            .unwrap_or(UnitVersion::V2025);
        out.push(PublicProvince {
            province_name: province_name(&p.province_code, h),
            province_code: p.province_code,
            in_force: with_units(p.in_force).await?,
            announced: with_units(p.announced).await?,
        });
    }
    Ok(out)
}

pub async fn public(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ProvinceParam>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let provinces = public_levels(&state, q.province.as_deref()).await?;
    Ok(Json(serde_json::json!({ "provinces": provinces })))
}

#[derive(Debug, Deserialize)]
pub struct RunBody {
    pub province_code: String,
    pub hierarchy: Option<String>,
    pub week_start: Option<NaiveDate>,
    pub ruleset: Option<String>,
}

/// The request of a run, defaults filled in.
pub fn week_request(state: &AppState, body: &RunBody) -> Result<WeekRequest, Error> {
    let today = intake::care::local_date((state.clock)());
    let hierarchy = match body.hierarchy.as_deref().map(str::trim) {
        Some(h) if !h.is_empty() => UnitVersion::parse(h)?,
        _ => UnitVersion::in_force_on(today),
    };
    Ok(WeekRequest {
        province_code: body.province_code.trim().to_string(),
        hierarchy,
        week_start: body.week_start.unwrap_or_else(|| lv::week_of(today)),
        ruleset: body
            .ruleset
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    })
}

/// Computes a run for the caller (checks the unit).
pub async fn compute(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    req: &WeekRequest,
) -> Result<RunWithUnits, Error> {
    authz::require_unit(
        AdminUnits::embedded(),
        p,
        Permission::AssessLevels,
        &UnitRef::new(req.hierarchy, req.province_code.clone()),
    )?;
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "level.assess",
        None,
        Some(req.province_code.clone()),
        serde_json::json!({}),
    );
    let (run, units) = lv::assess_week(
        state.store.as_ref(),
        req,
        &p.user.username,
        (state.clock)(),
        &entry,
    )
    .await?;
    Ok(RunWithUnits { run, units })
}

pub async fn create_run(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(body): ApiJson<RunBody>,
) -> Result<(StatusCode, Json<RunWithUnits>), ApiError> {
    let req = week_request(&state, &body)?;
    let out = compute(&state, &p, &ip, &req).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// A run the caller may see: approved runs are public; others only within the caller's unit.
pub async fn visible_run(state: &AppState, p: &Principal, id: Uuid) -> Result<LevelRun, Error> {
    let not_found = || Error::not_found(&format!("lượt đánh giá {id}"), &format!("run {id}"));
    let run = state.store.level_run(id).await?.ok_or_else(not_found)?;
    if run.status != RunStatus::Approved
        && !authz::covers_unit(
            AdminUnits::embedded(),
            p,
            &UnitRef::new(run.hierarchy, run.province_code.clone()),
        )
    {
        return Err(not_found());
    }
    Ok(run)
}

pub async fn list_runs(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<ProvinceParam>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let runs = state
        .store
        .level_runs(q.province.as_deref(), 200)
        .await?
        .into_iter()
        .filter(|r| {
            r.status == RunStatus::Approved
                || authz::covers_unit(
                    AdminUnits::embedded(),
                    &p,
                    &UnitRef::new(r.hierarchy, r.province_code.clone()),
                )
        })
        .collect::<Vec<_>>();
    Ok(Json(serde_json::json!({ "items": runs })))
}

pub async fn get_run(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<RunWithUnits>, ApiError> {
    let run = visible_run(&state, &p, id).await?;
    let units = state.store.level_units(run.id).await?;
    Ok(Json(RunWithUnits { run, units }))
}

/// Approves a run for the caller (checks the province).
pub async fn approve_run(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    id: Uuid,
) -> Result<LevelRun, Error> {
    let run = visible_run(state, p, id).await?;
    authz::require_unit(
        AdminUnits::embedded(),
        p,
        Permission::ApproveLevels,
        &UnitRef::new(run.hierarchy, run.province_code.clone()),
    )?;
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "level.approve",
        None,
        Some(run.province_code.clone()),
        serde_json::json!({}),
    );
    lv::approve(
        state.store.as_ref(),
        id,
        &p.user.username,
        (state.clock)(),
        &entry,
    )
    .await
}

pub async fn approve(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<Uuid>,
) -> Result<Json<LevelRun>, ApiError> {
    Ok(Json(approve_run(&state, &p, &ip, id).await?))
}

#[derive(Debug, Deserialize)]
pub struct CapacityBody {
    pub unit_code: String,
    pub hierarchy: Option<String>,
    pub week_start: NaiveDate,
    pub free_covid_beds: Option<f64>,
    pub icu_beds_staffed: Option<f64>,
    pub oxygen_cases_7d_avg: Option<f64>,
}

/// Stores capacity figures for the caller (checks the unit).
pub async fn save_capacity(
    state: &AppState,
    p: &Principal,
    ip: &ClientIp,
    body: &CapacityBody,
) -> Result<CapacityInput, Error> {
    let code = body.unit_code.trim().to_string();
    let hierarchy = match body.hierarchy.as_deref().map(str::trim) {
        Some(h) if !h.is_empty() => UnitVersion::parse(h)?,
        _ => hierarchy_of_code(&code),
    };
    authz::require_unit(
        AdminUnits::embedded(),
        p,
        Permission::AssessLevels,
        &UnitRef::new(hierarchy, code.clone()),
    )?;
    let input = CapacityInput {
        unit_code: code.clone(),
        week_start: body.week_start,
        free_covid_beds: body.free_covid_beds,
        icu_beds_staffed: body.icu_beds_staffed,
        oxygen_cases_7d_avg: body.oxygen_cases_7d_avg,
        entered_by: p.user.username.clone(),
        entered_at: (state.clock)(),
    };
    let entry = auth::audit_entry(
        state,
        Some(&p.user),
        ip,
        "level.capacity",
        None,
        Some(code),
        serde_json::json!({}),
    );
    lv::set_capacity(state.store.as_ref(), &input, &entry).await?;
    Ok(input)
}

pub async fn put_capacity(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    ApiJson(body): ApiJson<CapacityBody>,
) -> Result<Json<CapacityInput>, ApiError> {
    Ok(Json(save_capacity(&state, &p, &ip, &body).await?))
}

/// Crisis alerts of a province for the caller (checks the province).
pub async fn alerts_for(
    state: &AppState,
    p: &Principal,
    province: &str,
    hierarchy: Option<UnitVersion>,
) -> Result<Vec<CrisisAlert>, Error> {
    let units = AdminUnits::embedded();
    let hierarchy = hierarchy.unwrap_or_else(|| hierarchy_of_code(province));
    authz::require_unit(
        units,
        p,
        Permission::ApproveLevels,
        &UnitRef::new(hierarchy, province.to_string()),
    )?;
    lv::crisis_alerts(state.store.as_ref(), province).await
}

pub async fn alerts(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<ProvinceParam>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let province = q.province.as_deref().map(str::trim).unwrap_or_default();
    if province.is_empty() {
        return Err(Error::invalid("province", "Thiếu mã tỉnh", "province is required").into());
    }
    let hierarchy = match q.hierarchy.as_deref().map(str::trim) {
        Some(h) if !h.is_empty() => Some(UnitVersion::parse(h)?),
        _ => None,
    };
    let items = alerts_for(&state, &p, province, hierarchy).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

pub fn routes() -> (axum::Router<AppState>, Vec<authz::RouteSpec>) {
    use axum::http::Method as M;
    use axum::routing::{get, post, put};
    use domain::auth::Access::{Public, Requires};
    authz::SecuredRouter::new("/api/v1", authz::Surface::Api)
        .route(M::GET, "/levels", Public, get(public))
        .route(
            M::POST,
            "/levels/runs",
            Requires(Permission::AssessLevels),
            post(create_run),
        )
        .route(
            M::GET,
            "/levels/runs",
            Requires(Permission::ViewSurveillance),
            get(list_runs),
        )
        .route(
            M::GET,
            "/levels/runs/{id}",
            Requires(Permission::ViewSurveillance),
            get(get_run),
        )
        .route(
            M::POST,
            "/levels/runs/{id}/approve",
            Requires(Permission::ApproveLevels),
            post(approve),
        )
        .route(
            M::PUT,
            "/levels/capacity",
            Requires(Permission::AssessLevels),
            put(put_capacity),
        )
        .route(
            M::GET,
            "/levels/alerts",
            Requires(Permission::ApproveLevels),
            get(alerts),
        )
        .into_parts()
}
