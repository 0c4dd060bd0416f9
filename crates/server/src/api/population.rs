//! `GET /api/v1/population?unit=CODE` — population denominators of a 2025 unit by sex and 5-year
//! age band, as derived from the register (`phongdich population rebuild`, run after imports and
//! by the demo).

use axum::Json;
use axum::extract::State;
use domain::person::Sex;
use domain::population::AgeBand;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, ApiQuery};

#[derive(Debug, Deserialize)]
pub struct PopulationQuery {
    pub unit: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct BandRow {
    pub age_band: String,
    pub male: u64,
    pub female: u64,
}

#[derive(Debug, Serialize)]
pub struct Pyramid {
    pub unit: String,
    pub total: u64,
    pub bands: Vec<BandRow>,
}

/// Sums the stored denominators of every 2025 commune under `unit`.
pub async fn pyramid_of(state: &AppState, unit: &str) -> Result<Pyramid, domain::Error> {
    state.units.v2025.require(unit)?;
    let communes = state.units.v2025.communes_under(unit);
    let rows = state.store.denominators(Some(&communes)).await?;
    let mut bands: Vec<BandRow> = AgeBand::all()
        .map(|b| BandRow {
            age_band: b.label(),
            male: 0,
            female: 0,
        })
        .collect();
    for r in &rows {
        let row = &mut bands[usize::from(r.age_band.lower() / 5)];
        match r.sex {
            Sex::Male => row.male += r.count,
            Sex::Female => row.female += r.count,
        }
    }
    Ok(Pyramid {
        unit: unit.to_string(),
        total: rows.iter().map(|r| r.count).sum(),
        bands,
    })
}

pub async fn pyramid(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PopulationQuery>,
) -> Result<Json<Pyramid>, ApiError> {
    Ok(Json(pyramid_of(&state, &q.unit).await?))
}
