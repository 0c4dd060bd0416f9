//! Query and result types of the storage contract, independent of the backend.

use domain::Error;
use domain::person::{NationalId, Person, Phone, Sex};
use domain::units::{AdminUnits, UnitLevel, UnitVersion};
use serde::Serialize;
use uuid::Uuid;

/// Which persons a query may see, resolved from an administrative unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonScope {
    /// Every person (only for administrators and internal jobs).
    All,
    /// Everyone registered in a 2025 province.
    Province(String),
    /// Everyone living in one of these 2025 communes.
    Communes(Vec<String>),
    /// Everyone whose pre-2025 commune is one of these.
    OldCommunes(Vec<String>),
}

impl PersonScope {
    /// The scope of a unit in either hierarchy; the unit must exist.
    pub fn for_unit(units: &AdminUnits, version: UnitVersion, code: &str) -> Result<Self, Error> {
        let unit = units.hierarchy(version).require(code)?;
        Ok(match (version, unit.level) {
            (UnitVersion::V2025, UnitLevel::Province) => PersonScope::Province(unit.code.clone()),
            (UnitVersion::V2025, _) => PersonScope::Communes(vec![unit.code.clone()]),
            (UnitVersion::Pre2025, _) => {
                PersonScope::OldCommunes(units.pre2025.communes_under(&unit.code))
            }
        })
    }
}

/// A search within a scope. `text` matches folded names (diacritics ignored), or, when it is all
/// digits, the start of a citizen ID or phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonQuery {
    pub scope: PersonScope,
    /// The caller's own scope, applied as well (a pre-2025 district officer listing a 2025
    /// commune sees only its persons whose old commune lies in their district).
    pub within: Option<PersonScope>,
    pub text: Option<String>,
    pub limit: u32,
    pub offset: u64,
}

impl PersonQuery {
    /// Largest page a caller may ask for.
    pub const MAX_LIMIT: u32 = 500;

    pub fn new(scope: PersonScope) -> Self {
        PersonQuery {
            scope,
            within: None,
            text: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// One page of a list with the total matching count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// The search condition a query text turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TextFilter {
    /// `LIKE` pattern on `name_folded`.
    Name(String),
    /// Prefix of citizen ID or phone.
    Digits(String),
}

impl TextFilter {
    pub(crate) fn from_query(text: Option<&str>) -> Option<Self> {
        let t = text?.trim();
        if t.is_empty() {
            return None;
        }
        let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.len() >= 3 && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Some(TextFilter::Digits(format!("{}%", escape_like(&compact))));
        }
        Some(TextFilter::Name(format!(
            "%{}%",
            escape_like(&domain::name::fold(t))
        )))
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Builds a [`Person`] from stored column values, rejecting corrupt rows with an internal error.
#[allow(clippy::too_many_arguments)]
pub(crate) fn person_from_columns(
    id: Uuid,
    province_code: String,
    commune_code: String,
    old_commune_code: Option<String>,
    household_id: Option<Uuid>,
    full_name: String,
    dob: chrono::NaiveDate,
    sex: &str,
    national_id: Option<String>,
    phone: Option<String>,
) -> Result<Person, Error> {
    let corrupt = |what: &str, e: Error| {
        tracing::error!(person = %id, column = what, error = %e, "corrupt person row");
        Error::internal()
    };
    Ok(Person {
        id,
        province_code,
        commune_code,
        old_commune_code,
        household_id,
        full_name,
        dob,
        sex: Sex::parse(sex).map_err(|e| corrupt("sex", e))?,
        national_id: national_id
            .map(|n| NationalId::parse(&n))
            .transpose()
            .map_err(|e| corrupt("national_id", e))?,
        phone: phone
            .map(|p| Phone::parse(&p))
            .transpose()
            .map_err(|e| corrupt("phone", e))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_filters() {
        assert_eq!(
            TextFilter::from_query(Some("Nguyễn  Văn")),
            Some(TextFilter::Name("%nguyen van%".into()))
        );
        assert_eq!(
            TextFilter::from_query(Some("0912")),
            Some(TextFilter::Digits("0912%".into()))
        );
        assert_eq!(
            TextFilter::from_query(Some("50%_")),
            Some(TextFilter::Name("%50\\%\\_%".into()))
        );
        assert_eq!(TextFilter::from_query(Some("  ")), None);
    }

    #[test]
    fn scope_for_units() {
        let u = AdminUnits::embedded();
        assert_eq!(
            PersonScope::for_unit(u, UnitVersion::V2025, "12").unwrap(),
            PersonScope::Province("12".into())
        );
        let PersonScope::OldCommunes(c) =
            PersonScope::for_unit(u, UnitVersion::Pre2025, "001").unwrap()
        else {
            panic!("district scope")
        };
        assert!(c.contains(&"00001".to_string()));
        assert!(PersonScope::for_unit(u, UnitVersion::V2025, "001").is_err());
    }
}

/// A login session as stored: only the hash of the cookie token is kept.
#[derive(Clone, PartialEq)]
pub struct SessionRecord {
    pub token_hash: String,
    pub user_id: Uuid,
    /// Per-session CSRF token (sent back in forms and the `X-CSRF-Token` header).
    pub csrf_token: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub ip: Option<String>,
}

impl std::fmt::Debug for SessionRecord {
    /// Never prints the token hash or the CSRF token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An API token as stored: only its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiTokenRecord {
    pub id: Uuid,
    pub token_hash: String,
    pub user_id: Uuid,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Filters of the audit page and API; all optional, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub entity_id: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub limit: u32,
    pub offset: u64,
}

/// Builds a [`domain::auth::User`] from stored columns.
#[allow(clippy::too_many_arguments)]
pub(crate) fn user_from_columns(
    id: Uuid,
    username: String,
    display_name: String,
    role: &str,
    unit_version: Option<String>,
    unit_code: Option<String>,
    organisation: Option<String>,
    person_id: Option<Uuid>,
    disabled: bool,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<domain::auth::User, Error> {
    use domain::auth::{Role, UnitRef, User, UserScope};
    let corrupt = |e: Error| {
        tracing::error!(user = %id, error = %e, "corrupt user row");
        Error::internal()
    };
    let unit = match (unit_version, unit_code) {
        (Some(v), Some(c)) => Some(UnitRef::new(UnitVersion::parse(&v).map_err(corrupt)?, c)),
        _ => None,
    };
    Ok(User {
        id,
        username,
        display_name,
        role: Role::parse(role).map_err(corrupt)?,
        scope: UserScope {
            unit,
            organisation,
            person_id,
        },
        disabled,
        created_at,
    })
}

/// Truncates a timestamp to microseconds, the precision both backends store, so hashes computed
/// before storing match the values read back.
pub(crate) fn micros(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}
