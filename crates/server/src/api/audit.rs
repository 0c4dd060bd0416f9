//! `GET /api/v1/audit?actor=&action=&entity=&from=&to=&limit=&offset=` — the audit log, newest
//! first, for administrators.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use domain::audit::AuditEntry;
use serde::Deserialize;
use store::{AuditFilter, Page};

use crate::AppState;
use crate::error::{ApiError, ApiQuery};

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub entity: Option<String>,
    /// First day included (YYYY-MM-DD).
    pub from: Option<String>,
    /// Last day included (YYYY-MM-DD).
    pub to: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

fn day(field: &str, raw: Option<&str>, end: bool) -> Result<Option<DateTime<Utc>>, domain::Error> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        domain::Error::invalid(
            field,
            format!("Ngày không hợp lệ «{raw}» (YYYY-MM-DD)"),
            format!("Invalid date «{raw}» (YYYY-MM-DD)"),
        )
    })?;
    let d = if end { d.succ_opt().unwrap_or(d) } else { d };
    Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
}

impl AuditQuery {
    pub fn to_filter(&self) -> Result<AuditFilter, domain::Error> {
        Ok(AuditFilter {
            actor: self.actor.clone().filter(|s| !s.is_empty()),
            action: self.action.clone().filter(|s| !s.is_empty()),
            entity_id: self.entity.clone().filter(|s| !s.is_empty()),
            from: day("from", self.from.as_deref(), false)?,
            to: day("to", self.to.as_deref(), true)?,
            limit: self.limit.unwrap_or(50).clamp(1, 500),
            offset: self.offset.unwrap_or(0),
        })
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    Ok(Json(state.store.list_audit(&q.to_filter()?).await?))
}
