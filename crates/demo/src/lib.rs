//! `demo` — a deterministic, synthetic but realistic population of one Vietnamese province, for
//! demonstrations, tests and benchmarks.
//!
//! [`generate`] draws everyone's sex and age from Vietnam's 2019 census pyramid (module
//! `pyramid`), groups them into families (`households`), places each household in a 2025 commune
//! of the province with its pre-2025 commune and a street address (`geography`), and gives
//! everyone a Vietnamese name (`names`), a citizen ID and usually a mobile number (`identity`).
//!
//! The output depends only on [`DemoParams`] and the unit lists: all randomness comes from one
//! ChaCha8 generator seeded with [`DemoParams::seed`], on a stream numbered by the province so
//! that provinces generated with the same seed differ (UUIDs included), and nothing iterates a
//! hash map. Module [`noisy`] derives registers and error-laden records from it for record-linkage
//! tests and benchmarks; module [`vaccination`] gives its persons 2021–2023 COVID-19 vaccination
//! histories (sites, vaccine lots, doses), and module [`epidemic`] a COVID-19 epidemic consistent
//! with them (the 2022 Omicron wave and a small current outbreak). Citizen IDs are unique within a population and, by
//! construction, across the populations of different provinces (see `identity`). Generation runs
//! at well over half a million persons per second in release builds.

pub mod epidemic;
mod geography;
mod households;
mod identity;
mod names;
pub mod noisy;
mod pyramid;
mod sampling;
#[cfg(test)]
mod tests;
pub mod vaccination;

use chrono::{Datelike, NaiveDate};
use domain::Error;
use domain::person::{Household, Person, Sex};
use domain::units::{AdminUnits, UnitLevel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::geography::Geography;
use crate::households::Role;
use crate::identity::{IdIssuer, PhoneBook};
use crate::names::{NameBook, NameStyle};
use crate::pyramid::BirthDates;

/// Most persons one call may generate (Hồ Chí Minh City, the largest 2025 province, has about
/// 14 million inhabitants).
pub const MAX_PERSONS: usize = 50_000_000;

/// Share of elderly men living with a grown-up child who are the head's father and so share his
/// surname (the others are the wife's father).
const P_ELDER_IS_HEADS_FATHER: f64 = 0.6;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoParams {
    /// 2025 province code, e.g. `"12"` (Lai Châu).
    pub province_code: String,
    /// Number of persons.
    pub persons: usize,
    /// Seed of the random stream; the same parameters always give the same population.
    pub seed: u64,
    /// Reference date: ages are computed on it and nobody is born after it.
    pub as_of: NaiveDate,
}

/// A generated population.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DemoPopulation {
    pub households: Vec<Household>,
    /// Persons grouped by household in the order of `households`; within a household the head
    /// comes first, then the spouse, elderly parents, and the younger generations from oldest to
    /// youngest.
    pub persons: Vec<Person>,
}

/// Generates `params.persons` persons living in the province `params.province_code`.
///
/// Errors with `invalid_input` (field `province`) when the code is not a 2025 province, and
/// (field `persons`) when more than [`MAX_PERSONS`] are asked for. Zero persons gives an empty
/// population.
pub fn generate(params: &DemoParams, units: &AdminUnits) -> Result<DemoPopulation, Error> {
    let code = params.province_code.as_str();
    let is_province = units
        .v2025
        .get(code)
        .is_some_and(|unit| unit.level == UnitLevel::Province);
    if !is_province {
        return Err(unknown_province(code));
    }
    if params.persons > MAX_PERSONS {
        return Err(Error::invalid(
            "persons",
            format!(
                "Số người cần tạo quá lớn: {} (tối đa {MAX_PERSONS})",
                params.persons
            ),
            format!(
                "Too many persons requested: {} (at most {MAX_PERSONS})",
                params.persons
            ),
        ));
    }
    if params.persons == 0 {
        return Ok(DemoPopulation::default());
    }
    let geography = Geography::new(units, code).ok_or_else(|| unknown_province(code))?;
    Ok(Generator::new(params, geography).run())
}

fn unknown_province(code: &str) -> Error {
    Error::invalid(
        "province",
        format!("Không có tỉnh/thành phố mã «{code}» trong danh mục 2025"),
        format!("No province with code «{code}» in the 2025 list"),
    )
}

/// State of one generation run.
struct Generator<'a> {
    params: &'a DemoParams,
    rng: ChaCha8Rng,
    geography: Geography,
    names: NameBook,
    births: BirthDates,
    ids: IdIssuer,
    phones: PhoneBook,
    /// Number of UUIDs issued so far.
    issued: u64,
}

impl<'a> Generator<'a> {
    fn new(params: &'a DemoParams, geography: Geography) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        // One ChaCha stream per province, so that provinces generated with the same seed are
        // independent rather than copies of each other.
        rng.set_stream(params.province_code.parse().unwrap_or(0));
        Generator {
            params,
            rng,
            names: NameBook::for_province(&geography.province_code),
            ids: IdIssuer::new(params.persons, geography.slot.0, geography.slot.1),
            geography,
            births: BirthDates::new(params.as_of),
            phones: PhoneBook::new(),
            issued: 0,
        }
    }

    /// A time-ordered (version 7) UUID, as the application issues for new records: the
    /// timestamp is the reference date plus one millisecond per id issued, so ids are unique,
    /// deterministic, and sorted in creation order (cheap appends to primary-key indexes).
    fn uuid(&mut self) -> uuid::Uuid {
        let base = self
            .params
            .as_of
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis().max(0) as u64)
            .unwrap_or(0);
        self.issued += 1;
        uuid::Builder::from_unix_timestamp_millis(base + self.issued, &self.rng.random())
            .into_uuid()
    }

    fn run(mut self) -> DemoPopulation {
        let drafts = pyramid::sample_people(self.params.persons, &mut self.rng);
        let plan = households::plan(&drafts, &mut self.rng);
        let mut population = DemoPopulation {
            households: Vec::with_capacity(plan.household_count()),
            persons: Vec::with_capacity(drafts.len()),
        };
        for members in plan.households() {
            let (household, birth_province) = self.household();
            let style = self.names.household_style(&mut self.rng);
            let family = self.names.surname(style, &mut self.rng);
            for member in members {
                let draft = drafts[member.person as usize];
                let surname = self.surname(member.role, draft.sex, style, family);
                let person = self.person(&household, draft, surname, style, birth_province);
                population.persons.push(person);
            }
            population.households.push(household);
        }
        population
    }

    /// A new household (id, commune, old commune, address) and the pre-2025 province its
    /// members were most likely born in.
    fn household(&mut self) -> (Household, u16) {
        let id = self.uuid();
        let commune = self.geography.sample_commune(&mut self.rng);
        let old = commune.sample_old(&mut self.rng);
        let birth_province = old.map_or(self.geography.fallback_birth_province, |o| o.province);
        let household = Household {
            id,
            province_code: self.geography.province_code.clone(),
            commune_code: commune.code.clone(),
            old_commune_code: old.map(|o| o.code.clone()),
            address: self.geography.address(commune, &mut self.rng),
        };
        (household, birth_province)
    }

    /// Surname by role: the head's line for the head and the children, the woman's own for wives
    /// and daughters-in-law, either for an elderly parent.
    fn surname(
        &mut self,
        role: Role,
        sex: Sex,
        style: NameStyle,
        family: &'static str,
    ) -> &'static str {
        match role {
            Role::Head | Role::Child => family,
            Role::Elder if sex == Sex::Male && self.rng.random_bool(P_ELDER_IS_HEADS_FATHER) => {
                family
            }
            Role::Spouse | Role::ChildInLaw | Role::Elder => {
                self.names.surname(style, &mut self.rng)
            }
        }
    }

    fn person(
        &mut self,
        household: &Household,
        draft: pyramid::Draft,
        surname: &'static str,
        style: NameStyle,
        birth_province: u16,
    ) -> Person {
        let id = self.uuid();
        let dob = self.births.sample(draft.age, &mut self.rng);
        let middle = self
            .names
            .middle(style, draft.sex, draft.age, &mut self.rng);
        let given = self.names.given(style, draft.sex, middle, &mut self.rng);
        let national_id = self.ids.issue(
            birth_province,
            &self.geography.birth_provinces,
            dob.year(),
            draft.sex,
            &mut self.rng,
        );
        let phone = self.phones.phone_for(draft.age, &mut self.rng);
        Person {
            id,
            province_code: household.province_code.clone(),
            commune_code: household.commune_code.clone(),
            old_commune_code: household.old_commune_code.clone(),
            household_id: Some(household.id),
            full_name: names::full_name(surname, middle, given),
            dob,
            sex: draft.sex,
            national_id,
            phone,
        }
    }
}
