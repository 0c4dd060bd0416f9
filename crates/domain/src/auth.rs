//! Identity and access rules: roles, what each role may do ([`role_allows`]), and whether a user's
//! administrative scope covers a unit or a person ([`unit_covers`], [`person_in_scope`]).
//!
//! This is the single source of authorization decisions; the server asks these functions for
//! every route. Health data is sensitive personal data (Decree 13/2023/NĐ-CP): access by duty only.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, ErrorCode};
use crate::person::Person;
use crate::units::{AdminUnits, UnitLevel, UnitVersion};

/// A user's role. The string form is stored and used in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    ProvinceOfficer,
    DistrictOfficer,
    CommuneStaff,
    VaccinationSite,
    Lab,
    TreatmentFacility,
    Business,
    Citizen,
    Verifier,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::Admin,
        Role::ProvinceOfficer,
        Role::DistrictOfficer,
        Role::CommuneStaff,
        Role::VaccinationSite,
        Role::Lab,
        Role::TreatmentFacility,
        Role::Business,
        Role::Citizen,
        Role::Verifier,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ProvinceOfficer => "province_officer",
            Role::DistrictOfficer => "district_officer",
            Role::CommuneStaff => "commune_staff",
            Role::VaccinationSite => "vaccination_site",
            Role::Lab => "lab",
            Role::TreatmentFacility => "treatment_facility",
            Role::Business => "business",
            Role::Citizen => "citizen",
            Role::Verifier => "verifier",
        }
    }

    pub fn parse(raw: &str) -> Result<Role, Error> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == raw)
            .ok_or_else(|| {
                Error::invalid(
                    "role",
                    format!("Vai trò không hợp lệ: «{raw}»"),
                    format!("Invalid role: «{raw}»"),
                )
            })
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Role::Admin => "Quản trị hệ thống",
            Role::ProvinceOfficer => "Cán bộ tỉnh (CDC, Sở Y tế)",
            Role::DistrictOfficer => "Cán bộ huyện (TTYT)",
            Role::CommuneStaff => "Trạm y tế xã",
            Role::VaccinationSite => "Điểm tiêm chủng",
            Role::Lab => "Phòng xét nghiệm",
            Role::TreatmentFacility => "Cơ sở điều trị",
            Role::Business => "Doanh nghiệp, tổ chức",
            Role::Citizen => "Người dân",
            Role::Verifier => "Đơn vị kiểm tra chứng nhận",
        }
    }

    /// The unit level this role's scope must have (`None`: any level or no unit).
    fn required_level(self) -> Option<&'static [UnitLevel]> {
        match self {
            Role::ProvinceOfficer => Some(&[UnitLevel::Province]),
            Role::DistrictOfficer => Some(&[UnitLevel::District]),
            Role::CommuneStaff | Role::Business => Some(&[UnitLevel::Commune]),
            Role::VaccinationSite | Role::Lab | Role::TreatmentFacility => {
                Some(&[UnitLevel::Province, UnitLevel::District, UnitLevel::Commune])
            }
            Role::Admin | Role::Citizen | Role::Verifier => None,
        }
    }
}

/// Things a route may require. Every route declares exactly one [`Access`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// List persons of a unit (masked identifiers).
    ListPersons,
    /// Read one person's full record (logged).
    ReadPerson,
    /// Create, disable and list users.
    ManageUsers,
    /// Read the audit log.
    ReadAudit,
    /// Submit batches of records (doses, tests, cases, beneficiaries) to be linked.
    SubmitRecords,
    /// Resolve the linkage review queue, merge and unmerge persons of the unit.
    ReviewLinks,
    /// Record vaccination doses given to persons of the unit (form, API, file import).
    RecordDoses,
    /// Read vaccination coverage figures (aggregates, no personal data) of any unit.
    ViewCoverage,
    /// Read the unit's door-to-door follow-up lists and record why residents are not vaccinated.
    ManageFollowUp,
    /// Compute vaccine allocation splits for the unit.
    PlanAllocation,
    /// Verify a presented vaccination certificate (its QR / `HC1:` text) against the trust list.
    VerifyCertificates,
    /// Request certificates for persons of the unit and approve their records (the site's step).
    ApproveCertificates,
    /// Sign approved certificates with the province's document signer.
    SignCertificates,
    /// Send lab test results (form, API, file) for persons of the unit.
    RecordTests,
    /// Read and manage the unit's cases (F0): classification, severity, care, outcome, staff
    /// check-ins, the alert queue, discharge.
    ManageCases,
    /// Read surveillance aggregates of any unit (daily figures, no personal data).
    ViewSurveillance,
    /// Submit the unit's daily report.
    SubmitDailyReport,
    /// Manage contacts, clusters, sampling sessions and entry declarations of the unit.
    ManageOutbreaks,
    /// Work a laboratory's sample queue (receive samples, enter results).
    ProcessSamples,
    /// A citizen's own home-care check-ins.
    SelfReport,
    /// Compute the weekly epidemic level of the unit's province and type capacity figures.
    AssessLevels,
    /// Approve a computed weekly epidemic level (the province's decision) and see crisis alerts.
    ApproveLevels,
}

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone, logged in or not.
    Public,
    /// Any logged-in user (their own account).
    Authenticated,
    /// A logged-in user whose role has the permission.
    Requires(Permission),
}

/// The role × permission matrix.
pub fn role_allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        ListPersons => matches!(
            role,
            Admin
                | ProvinceOfficer
                | DistrictOfficer
                | CommuneStaff
                | VaccinationSite
                | Lab
                | TreatmentFacility
        ),
        ReadPerson => matches!(
            role,
            Admin
                | ProvinceOfficer
                | DistrictOfficer
                | CommuneStaff
                | VaccinationSite
                | Lab
                | TreatmentFacility
                | Citizen
        ),
        ManageUsers | ReadAudit => role == Admin,
        SubmitRecords => matches!(
            role,
            Admin
                | ProvinceOfficer
                | DistrictOfficer
                | CommuneStaff
                | VaccinationSite
                | Lab
                | TreatmentFacility
        ),
        ReviewLinks | ManageFollowUp => matches!(
            role,
            Admin | ProvinceOfficer | DistrictOfficer | CommuneStaff
        ),
        RecordDoses => matches!(
            role,
            Admin | ProvinceOfficer | DistrictOfficer | CommuneStaff | VaccinationSite
        ),
        ViewCoverage => matches!(
            role,
            Admin
                | ProvinceOfficer
                | DistrictOfficer
                | CommuneStaff
                | VaccinationSite
                | Lab
                | TreatmentFacility
        ),
        PlanAllocation => matches!(role, Admin | ProvinceOfficer | DistrictOfficer),
        VerifyCertificates => matches!(
            role,
            Admin | Verifier | ProvinceOfficer | DistrictOfficer | CommuneStaff | VaccinationSite
        ),
        ApproveCertificates => matches!(
            role,
            Admin | ProvinceOfficer | DistrictOfficer | CommuneStaff | VaccinationSite
        ),
        SignCertificates => matches!(role, Admin | ProvinceOfficer),
        RecordTests => matches!(
            role,
            Admin | ProvinceOfficer | DistrictOfficer | CommuneStaff | Lab | TreatmentFacility
        ),
        ManageCases => matches!(
            role,
            Admin | ProvinceOfficer | DistrictOfficer | CommuneStaff | TreatmentFacility
        ),
        ViewSurveillance => matches!(
            role,
            Admin | ProvinceOfficer | DistrictOfficer | CommuneStaff | Lab | TreatmentFacility
        ),
        SubmitDailyReport => matches!(
            role,
            Admin | ProvinceOfficer | DistrictOfficer | CommuneStaff
        ),
        ManageOutbreaks => matches!(
            role,
            Admin | ProvinceOfficer | DistrictOfficer | CommuneStaff
        ),
        ProcessSamples => matches!(
            role,
            Admin | ProvinceOfficer | DistrictOfficer | CommuneStaff | Lab
        ),
        SelfReport => role == Citizen,
        AssessLevels => matches!(role, Admin | ProvinceOfficer | DistrictOfficer),
        ApproveLevels => matches!(role, Admin | ProvinceOfficer),
    }
}

/// An administrative unit in one of the two hierarchies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UnitRef {
    pub version: UnitVersion,
    pub code: String,
}

impl UnitRef {
    pub fn new(version: UnitVersion, code: impl Into<String>) -> Self {
        UnitRef {
            version,
            code: code.into(),
        }
    }
}

/// Whether a scope unit covers a target unit. Within one hierarchy: the target is the scope or
/// lies below it. Across hierarchies: every commune of the target maps (through the official
/// old→new commune mapping) into the scope.
pub fn unit_covers(units: &AdminUnits, scope: &UnitRef, target: &UnitRef) -> bool {
    if scope.version == target.version {
        return units
            .hierarchy(scope.version)
            .is_within(&target.code, &scope.code);
    }
    let target_communes = units.hierarchy(target.version).communes_under(&target.code);
    if target_communes.is_empty() {
        return false;
    }
    match (scope.version, target.version) {
        (UnitVersion::V2025, UnitVersion::Pre2025) => target_communes.iter().all(|old| {
            let parts = units.new_communes_for_old(old);
            !parts.is_empty()
                && parts
                    .iter()
                    .all(|(new, _)| units.v2025.is_within(new, &scope.code))
        }),
        _ => target_communes.iter().all(|new| {
            let olds = units.old_communes_for_new(new);
            !olds.is_empty()
                && olds
                    .iter()
                    .all(|old| units.pre2025.is_within(old, &scope.code))
        }),
    }
}

/// Whether a person lives inside a scope unit (by their 2025 commune, or their pre-2025 commune
/// for a pre-2025 scope).
pub fn person_in_scope(units: &AdminUnits, scope: &UnitRef, person: &Person) -> bool {
    match scope.version {
        UnitVersion::V2025 => units.v2025.is_within(&person.commune_code, &scope.code),
        UnitVersion::Pre2025 => person
            .old_commune_code
            .as_deref()
            .is_some_and(|c| units.pre2025.is_within(c, &scope.code)),
    }
}

/// Where a user works and whose data they may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserScope {
    /// Administrative unit (none for admins, verifiers and citizens).
    pub unit: Option<UnitRef>,
    /// Facility or organisation name (vaccination site, lab, hospital, business).
    pub organisation: Option<String>,
    /// The citizen's own person record.
    pub person_id: Option<Uuid>,
}

/// Checks that a role and scope fit together: officers need a unit of the right level, citizens a
/// person record. Returns the validated scope.
pub fn validate_scope(units: &AdminUnits, role: Role, scope: &UserScope) -> Result<(), Error> {
    if let Some(levels) = role.required_level() {
        let Some(unit) = &scope.unit else {
            return Err(Error::invalid(
                "unit",
                format!("Vai trò «{}» cần đơn vị hành chính", role.as_str()),
                format!("Role «{}» needs an administrative unit", role.as_str()),
            ));
        };
        let u = units.hierarchy(unit.version).require(&unit.code)?;
        if !levels.contains(&u.level) {
            return Err(Error::invalid(
                "unit",
                format!(
                    "Đơn vị «{}» không đúng cấp cho vai trò «{}»",
                    unit.code,
                    role.as_str()
                ),
                format!(
                    "Unit «{}» is not the right level for role «{}»",
                    unit.code,
                    role.as_str()
                ),
            ));
        }
    }
    if role == Role::Citizen && scope.person_id.is_none() {
        return Err(Error::invalid(
            "person_id",
            "Tài khoản người dân cần gắn với một người trong sổ dân cư",
            "A citizen account must be linked to a person in the register",
        ));
    }
    Ok(())
}

/// A user name: 3–64 characters of ASCII letters, digits, `.`, `_`, `-`; stored lower-case.
pub fn parse_username(raw: &str) -> Result<String, Error> {
    let u = raw.trim().to_ascii_lowercase();
    if (3..=64).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Ok(u)
    } else {
        Err(Error::invalid(
            "username",
            "Tên đăng nhập 3–64 ký tự: chữ không dấu, số, dấu chấm, gạch dưới, gạch ngang",
            "Username: 3–64 characters of letters, digits, '.', '_', '-'",
        ))
    }
}

/// A plaintext password in transit. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Minimum length of a new password.
    pub const MIN_LEN: usize = 10;

    /// Wraps a password given at login (no policy: the hash decides).
    pub fn given(raw: impl Into<String>) -> Self {
        Password(raw.into())
    }

    /// Validates a new password: at least 10 characters, not only digits.
    pub fn new_checked(raw: impl Into<String>) -> Result<Self, Error> {
        let raw = raw.into();
        if raw.chars().count() < Self::MIN_LEN || raw.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::invalid(
                "password",
                format!(
                    "Mật khẩu cần ít nhất {} ký tự và không chỉ gồm chữ số",
                    Self::MIN_LEN
                ),
                format!(
                    "Password needs at least {} characters and not only digits",
                    Self::MIN_LEN
                ),
            ));
        }
        Ok(Password(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Login throttling policy: after [`FREE_FAILURES`] failures a key (user or address) is locked for
/// 2^(n − FREE_FAILURES) seconds, capped at 15 minutes; a success clears the user's count.
pub mod throttle {
    use chrono::{DateTime, Duration, Utc};

    /// Failures allowed before locking.
    pub const FREE_FAILURES: u32 = 5;
    /// Longest lock.
    pub const MAX_LOCK_SECONDS: i64 = 15 * 60;

    /// A key's counters are forgotten after this long without a failure.
    pub const RESET_AFTER_HOURS: i64 = 24;

    /// Stored state of a key: failures, lock end, time of the last counted attempt.
    pub type State = (u32, Option<DateTime<Utc>>, DateTime<Utc>);

    /// Outcome of reserving an attempt.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Reservation {
        /// The key is locked until then; the attempt must be refused (HTTP 429).
        Locked(DateTime<Utc>),
        /// The attempt may proceed. It is counted as a failure in advance, with the lock that
        /// failure would bring, so concurrent attempts cannot slip past the limit; a success
        /// releases it.
        Proceed {
            failures: u32,
            locked_until: Option<DateTime<Utc>>,
        },
    }

    /// Decides an attempt on a key allowed `free` failures before locking.
    pub fn reserve(state: Option<State>, now: DateTime<Utc>, free: u32) -> Reservation {
        let (failures, locked, last) = state.unwrap_or((0, None, now));
        if let Some(until) = locked.filter(|u| *u > now) {
            return Reservation::Locked(until);
        }
        let failures = if now - last > Duration::hours(RESET_AFTER_HOURS) {
            1
        } else {
            failures + 1
        };
        let effective = (failures + FREE_FAILURES).saturating_sub(free);
        Reservation::Proceed {
            failures,
            locked_until: locked_until(effective, now),
        }
    }

    /// When a key with `failures` failures (counting the latest) is locked until.
    pub fn locked_until(failures: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if failures < FREE_FAILURES {
            return None;
        }
        let exp = (failures - FREE_FAILURES).min(20);
        let secs = (1_i64 << exp).min(MAX_LOCK_SECONDS);
        Some(now + Duration::seconds(secs))
    }
}

/// The error for a login that failed, whatever the reason (no user enumeration).
pub fn bad_credentials() -> Error {
    Error::new(
        ErrorCode::Unauthenticated,
        "Tên đăng nhập hoặc mật khẩu không đúng",
        "Wrong username or password",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::person::Sex;

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn matrix() {
        assert!(role_allows(Role::CommuneStaff, Permission::ListPersons));
        assert!(!role_allows(Role::Business, Permission::ListPersons));
        assert!(!role_allows(Role::Citizen, Permission::ListPersons));
        assert!(role_allows(Role::Citizen, Permission::ReadPerson));
        assert!(!role_allows(Role::Verifier, Permission::ReadPerson));
        assert!(!role_allows(Role::ProvinceOfficer, Permission::ManageUsers));
        assert!(role_allows(Role::Admin, Permission::ReadAudit));
    }

    #[test]
    fn certificate_permissions() {
        use Permission::*;
        // Verify / approve / sign, per role.
        let table = [
            (Role::Admin, [true, true, true]),
            (Role::ProvinceOfficer, [true, true, true]),
            (Role::DistrictOfficer, [true, true, false]),
            (Role::CommuneStaff, [true, true, false]),
            (Role::VaccinationSite, [true, true, false]),
            (Role::Verifier, [true, false, false]),
            (Role::Lab, [false, false, false]),
            (Role::TreatmentFacility, [false, false, false]),
            (Role::Business, [false, false, false]),
            (Role::Citizen, [false, false, false]),
        ];
        assert_eq!(table.len(), Role::ALL.len());
        for (role, want) in table {
            let got = [
                role_allows(role, VerifyCertificates),
                role_allows(role, ApproveCertificates),
                role_allows(role, SignCertificates),
            ];
            assert_eq!(got, want, "{role:?}");
        }
        // Signing is never allowed without approving (the signer sees the queue it signs).
        for role in Role::ALL {
            assert!(!role_allows(role, SignCertificates) || role_allows(role, ApproveCertificates));
        }
    }

    #[test]
    fn scopes_within_and_across_hierarchies() {
        let u = AdminUnits::embedded();
        let lc = UnitRef::new(UnitVersion::V2025, "12");
        let commune = u.v2025.communes_under("12")[0].clone();
        assert!(unit_covers(
            u,
            &lc,
            &UnitRef::new(UnitVersion::V2025, &commune)
        ));
        assert!(!unit_covers(
            u,
            &lc,
            &UnitRef::new(UnitVersion::V2025, "01")
        ));
        assert!(!unit_covers(
            u,
            &UnitRef::new(UnitVersion::V2025, &commune),
            &lc
        ));
        // Old Ba Đình district (001) lies wholly in 2025 Hà Nội (01), not in Lai Châu.
        let ba_dinh = UnitRef::new(UnitVersion::Pre2025, "001");
        assert!(unit_covers(
            u,
            &UnitRef::new(UnitVersion::V2025, "01"),
            &ba_dinh
        ));
        assert!(!unit_covers(u, &lc, &ba_dinh));
        assert!(unit_covers(
            u,
            &UnitRef::new(UnitVersion::Pre2025, "01"),
            &ba_dinh
        ));
    }

    #[test]
    fn persons_in_scope() {
        let u = AdminUnits::embedded();
        let p = Person {
            id: Uuid::nil(),
            province_code: "01".into(),
            commune_code: "00097".into(),
            old_commune_code: Some("00001".into()),
            household_id: None,
            full_name: "Nguyễn An".into(),
            dob: chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
            sex: Sex::Male,
            national_id: None,
            phone: None,
        };
        assert!(person_in_scope(
            u,
            &UnitRef::new(UnitVersion::V2025, "01"),
            &p
        ));
        assert!(person_in_scope(
            u,
            &UnitRef::new(UnitVersion::Pre2025, "001"),
            &p
        ));
        assert!(!person_in_scope(
            u,
            &UnitRef::new(UnitVersion::V2025, "12"),
            &p
        ));
        assert!(!person_in_scope(
            u,
            &UnitRef::new(UnitVersion::Pre2025, "002"),
            &p
        ));
    }

    #[test]
    fn scope_validation() {
        let u = AdminUnits::embedded();
        let none = UserScope {
            unit: None,
            organisation: None,
            person_id: None,
        };
        assert!(validate_scope(u, Role::Admin, &none).is_ok());
        assert!(validate_scope(u, Role::CommuneStaff, &none).is_err());
        assert!(validate_scope(u, Role::Citizen, &none).is_err());
        let prov = UserScope {
            unit: Some(UnitRef::new(UnitVersion::V2025, "12")),
            ..none.clone()
        };
        assert!(validate_scope(u, Role::ProvinceOfficer, &prov).is_ok());
        assert!(validate_scope(u, Role::CommuneStaff, &prov).is_err());
        assert!(validate_scope(u, Role::DistrictOfficer, &prov).is_err());
    }

    #[test]
    fn usernames_and_passwords() {
        assert_eq!(parse_username(" Xa.BanLang ").unwrap(), "xa.banlang");
        assert!(parse_username("a b").is_err());
        assert!(parse_username("ab").is_err());
        assert!(Password::new_checked("short").is_err());
        assert!(Password::new_checked("1234567890").is_err());
        let p = Password::new_checked("mat-khau-dai-2026").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }

    #[test]
    fn throttle_grows_and_caps() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(throttle::locked_until(4, now), None);
        let l5 = throttle::locked_until(5, now).unwrap();
        let l7 = throttle::locked_until(7, now).unwrap();
        assert_eq!((l5 - now).num_seconds(), 1);
        assert_eq!((l7 - now).num_seconds(), 4);
        let l30 = throttle::locked_until(30, now).unwrap();
        assert_eq!((l30 - now).num_seconds(), throttle::MAX_LOCK_SECONDS);
    }

    #[test]
    fn reservations_count_in_advance_and_reset() {
        use throttle::{Reservation, reserve};
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(
            reserve(None, now, 5),
            Reservation::Proceed {
                failures: 1,
                locked_until: None
            }
        );
        let Reservation::Proceed {
            failures,
            locked_until,
        } = reserve(Some((4, None, now)), now, 5)
        else {
            panic!()
        };
        assert_eq!(
            (failures, locked_until.map(|u| (u - now).num_seconds())),
            (5, Some(1))
        );
        let until = now + chrono::Duration::seconds(1);
        assert_eq!(
            reserve(Some((5, Some(until), now)), now, 5),
            Reservation::Locked(until)
        );
        // A higher allowance (addresses) shifts the policy.
        assert!(matches!(
            reserve(Some((10, None, now)), now, 20),
            Reservation::Proceed {
                locked_until: None,
                ..
            }
        ));
        // Old counters are forgotten.
        let later = now + chrono::Duration::hours(25);
        assert_eq!(
            reserve(Some((30, None, now)), later, 5),
            Reservation::Proceed {
                failures: 1,
                locked_until: None
            }
        );
    }
}

/// A user account (never holds the password hash; the store keeps that apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub scope: UserScope,
    pub disabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
