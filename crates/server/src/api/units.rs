//! `GET /api/v1/units?version=2025|pre2025&level=province|district|commune[&parent=CODE]` — public
//! list of administrative units `[{code, name, level, parent_code}]`.

use axum::Json;
use axum::extract::State;
use domain::units::{Unit, UnitLevel, UnitVersion};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, ApiQuery};

#[derive(Debug, Deserialize)]
pub struct UnitsQuery {
    pub version: Option<String>,
    pub level: Option<String>,
    pub parent: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<UnitsQuery>,
) -> Result<Json<Vec<Unit>>, ApiError> {
    let version = UnitVersion::parse(q.version.as_deref().unwrap_or("2025"))?;
    let level = UnitLevel::parse(q.level.as_deref().unwrap_or("province"))?;
    let parent = q.parent.as_deref().filter(|p| !p.is_empty());
    let units = state.units.hierarchy(version).list(level, parent)?;
    Ok(Json(units.into_iter().cloned().collect()))
}
