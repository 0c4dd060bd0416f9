//! Persons API: `GET /api/v1/persons?unit=CODE[&version=2025|pre2025][&q=TEXT][&limit=N][&offset=N]`
//! lists persons of a unit with citizen IDs and phones masked; `GET /api/v1/persons/{id}` returns
//! one person.

use axum::Json;
use axum::extract::{Path, State};
use domain::person::Person;
use domain::units::UnitVersion;
use serde::{Deserialize, Serialize};
use store::{Page, PersonQuery, PersonScope};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{self, Caller, ClientIp};
use crate::authz;
use crate::error::{ApiError, ApiQuery};
use domain::auth::{Permission, UnitRef};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub unit: Option<String>,
    pub version: Option<String>,
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

/// A person as shown in lists: identifiers masked.
#[derive(Debug, Serialize)]
pub struct PersonListItem {
    pub id: Uuid,
    pub full_name: String,
    pub dob: chrono::NaiveDate,
    pub sex: domain::person::Sex,
    pub province_code: String,
    pub commune_code: String,
    pub old_commune_code: Option<String>,
    pub household_id: Option<Uuid>,
    /// Masked, e.g. `0381******45`.
    pub national_id: Option<String>,
    /// Masked, e.g. `0912****78`.
    pub phone: Option<String>,
}

impl From<Person> for PersonListItem {
    fn from(p: Person) -> Self {
        PersonListItem {
            id: p.id,
            national_id: p.national_id.as_ref().map(|n| n.masked()),
            phone: p.phone.as_ref().map(|n| n.masked()),
            full_name: p.full_name,
            dob: p.dob,
            sex: p.sex,
            province_code: p.province_code,
            commune_code: p.commune_code,
            old_commune_code: p.old_commune_code,
            household_id: p.household_id,
        }
    }
}

/// Turns list parameters into a validated store query, refusing (403) a unit outside the
/// caller's scope.
pub fn person_query(
    state: &AppState,
    caller: &auth::Principal,
    q: ListQuery,
) -> Result<PersonQuery, domain::Error> {
    let unit = q.unit.filter(|u| !u.is_empty()).ok_or_else(|| {
        domain::Error::invalid("unit", "Thiếu mã đơn vị (unit)", "Missing unit code (unit)")
    })?;
    let version = UnitVersion::parse(q.version.as_deref().unwrap_or("2025"))?;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > PersonQuery::MAX_LIMIT {
        return Err(domain::Error::invalid(
            "limit",
            format!("limit phải từ 1 đến {}", PersonQuery::MAX_LIMIT),
            format!("limit must be 1 to {}", PersonQuery::MAX_LIMIT),
        ));
    }
    let scope = PersonScope::for_unit(state.units, version, &unit)?;
    authz::require_unit(
        state.units,
        caller,
        Permission::ListPersons,
        &UnitRef::new(version, unit.as_str()),
    )?;
    let within = match (&caller.user.role, &caller.user.scope.unit) {
        (domain::auth::Role::Admin, _) | (_, None) => None,
        (_, Some(u)) => Some(PersonScope::for_unit(state.units, u.version, &u.code)?),
    };
    Ok(PersonQuery {
        scope,
        within,
        text: q.q,
        limit,
        offset: q.offset.unwrap_or(0),
    })
}

pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<PersonListItem>>, ApiError> {
    let query = person_query(&state, &p, q)?;
    let page = state.store.list_persons(&query).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(PersonListItem::from).collect(),
        total: page.total,
    }))
}

/// Loads one person's full record for a caller whose duty covers it, and writes the view to
/// the audit log. Out of scope and unknown look the same (404).
pub async fn read_person_full(
    state: &AppState,
    caller: &auth::Principal,
    ip: &ClientIp,
    id: &str,
) -> Result<Person, domain::Error> {
    let id = Uuid::parse_str(id)
        .map_err(|_| domain::Error::invalid("id", "Mã người không hợp lệ", "Invalid person id"))?;
    let person = state
        .store
        .get_person(id)
        .await?
        .ok_or_else(|| domain::Error::not_found("người", "Person"))?;
    authz::require_person(state.units, caller, &person)?;
    auth::audit(
        state,
        Some(&caller.user),
        ip,
        "person.view",
        Some(("person", person.id.to_string())),
        Some(person.commune_code.clone()),
        serde_json::json!({}),
    )
    .await?;
    Ok(person)
}

pub async fn get_one(
    State(state): State<AppState>,
    Caller(p): Caller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<Json<Person>, ApiError> {
    Ok(Json(read_person_full(&state, &p, &ip, &id).await?))
}
