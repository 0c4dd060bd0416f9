//! Unmet need for a vaccine delivery, per unit below the delivering one and per priority group,
//! from the coverage counters — the input of [`domain::allocation::allocate`]. Shared by
//! `phongdich allocate` and `GET /api/v1/allocation` (and its page).
//!
//! # Need of one priority group in one unit
//!
//! For a product whose primary series has `k` doses (Janssen 1, Abdala 3, others 2):
//!
//! ```text
//! need = (population − at_least_one) × k          not vaccinated: a whole primary series
//!      + (at_least_one − primary_complete) × 1    started: one more dose (counted once)
//!      + (primary_complete − booster1) × 1        only for groups eligible for booster 1
//! ```
//!
//! Booster 1 counts for groups whose youngest age is at least the rules' booster-1 minimum age
//! (12). A group is eligible for the product when its youngest age is at least the product's
//! minimum age (`min_age_years`; e.g. Moderna, from 6, excludes the whole 5–11 group). Priority
//! groups are taken from the coverage age groups: `65+` = `65+`; `50-64` = `50+` − `65+`;
//! `18-49` = `18+` − `50+`; `12-17`; `5-11` (every subtraction per level, floored at 0).
//!
//! The units below: the communes of a 2025 province, the districts of a pre-2025 province, the
//! communes of a pre-2025 district. A commune has none, so it cannot receive a split.

use chrono::NaiveDate;
use domain::Error;
use domain::allocation::{self, Allocation, AllocationRequest, PriorityGroup, UnitNeed};
use domain::schedule::{ProductRule, Rules};
use domain::units::{AdminUnits, UnitLevel, UnitVersion};
use serde::Serialize;
use store::coverage::{CoverageGroup, CoverageReport, CoverageUnit};
use store::{Result, Store};

/// The formula, as shown with every result.
pub const NEED_FORMULA_VI: &str = "Nhu cầu = (dân số − đã tiêm ≥1 mũi) × số mũi cơ bản của vắc xin \
     + (đã tiêm ≥1 mũi − đủ mũi cơ bản) + (đủ mũi cơ bản − đã tiêm nhắc 1, chỉ nhóm từ 12 tuổi)";
pub const NEED_FORMULA_EN: &str = "Need = (population − at least one dose) × primary doses of the product \
     + (at least one − primary complete) + (primary complete − booster 1, only groups aged 12+)";

/// Youngest and oldest age (completed years) of a priority group.
pub fn age_range(g: PriorityGroup) -> (u32, Option<u32>) {
    match g {
        PriorityGroup::Age65Plus => (65, None),
        PriorityGroup::Age50To64 => (50, Some(64)),
        PriorityGroup::Age18To49 => (18, Some(49)),
        PriorityGroup::Age12To17 => (12, Some(17)),
        PriorityGroup::Age5To11 => (5, Some(11)),
    }
}

/// Coverage counts of one priority group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct GroupCounts {
    pub population: u64,
    pub at_least_one: u64,
    pub primary_complete: u64,
    pub booster1: u64,
}

impl GroupCounts {
    fn of(g: &CoverageGroup) -> Self {
        GroupCounts {
            population: g.population,
            at_least_one: g.at_least_one,
            primary_complete: g.primary_complete,
            booster1: g.booster1,
        }
    }

    fn minus(self, o: GroupCounts) -> Self {
        GroupCounts {
            population: self.population.saturating_sub(o.population),
            at_least_one: self.at_least_one.saturating_sub(o.at_least_one),
            primary_complete: self.primary_complete.saturating_sub(o.primary_complete),
            booster1: self.booster1.saturating_sub(o.booster1),
        }
    }
}

/// The counts of a priority group from a coverage report (see the module docs).
pub fn priority_counts(report: &CoverageReport, g: PriorityGroup) -> GroupCounts {
    let age = |label: &str| {
        report
            .groups
            .iter()
            .find(|x| x.age_group == label)
            .map(GroupCounts::of)
            .unwrap_or_default()
    };
    match g {
        PriorityGroup::Age65Plus => age("65+"),
        PriorityGroup::Age50To64 => age("50+").minus(age("65+")),
        PriorityGroup::Age18To49 => age("18+").minus(age("50+")),
        PriorityGroup::Age12To17 => age("12-17"),
        PriorityGroup::Age5To11 => age("5-11"),
    }
}

/// Doses still needed by a group: see the module docs.
pub fn group_need(c: GroupCounts, primary_doses: u8, booster_eligible: bool) -> u64 {
    let unvaccinated = c.population.saturating_sub(c.at_least_one);
    let started = c.at_least_one.saturating_sub(c.primary_complete);
    let booster = if booster_eligible {
        c.primary_complete.saturating_sub(c.booster1)
    } else {
        0
    };
    unvaccinated
        .saturating_mul(u64::from(primary_doses))
        .saturating_add(started)
        .saturating_add(booster)
}

/// Groups eligible for a product, highest priority first.
pub fn eligible_groups(product: &ProductRule) -> Vec<PriorityGroup> {
    PriorityGroup::ALL
        .into_iter()
        .filter(|g| age_range(*g).0 >= product.min_age_years)
        .collect()
}

/// One group of one unit: counts and need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupNeed {
    pub group: PriorityGroup,
    #[serde(flatten)]
    pub counts: GroupCounts,
    pub booster_eligible: bool,
    pub need: u64,
}

/// The needs of one unit (every eligible group).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChildNeed {
    pub unit_code: String,
    pub unit_name: String,
    pub groups: Vec<GroupNeed>,
}

/// Needs of each unit from their coverage reports (pure).
pub fn needs_from_reports(
    product: &ProductRule,
    reports: &[CoverageReport],
) -> (Vec<PriorityGroup>, Vec<ChildNeed>) {
    let groups = eligible_groups(product);
    let booster_age = Rules::embedded().boosters.booster1_min_age_years;
    let children = reports
        .iter()
        .map(|r| ChildNeed {
            unit_code: r.unit.clone(),
            unit_name: r.unit_name.clone(),
            groups: groups
                .iter()
                .map(|&g| {
                    let counts = priority_counts(r, g);
                    let booster_eligible = age_range(g).0 >= booster_age;
                    GroupNeed {
                        group: g,
                        counts,
                        booster_eligible,
                        need: group_need(counts, product.primary_doses, booster_eligible),
                    }
                })
                .collect(),
        })
        .collect();
    (groups, children)
}

/// A recommended split with everything it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllocationPlan {
    pub unit: String,
    pub unit_name: String,
    pub hierarchy: UnitVersion,
    pub as_of: NaiveDate,
    /// DCC code and label of the product.
    pub product: String,
    pub product_label: String,
    pub primary_doses: u8,
    pub need_formula_vi: &'static str,
    pub need_formula_en: &'static str,
    /// Eligible groups in priority order.
    pub groups: Vec<PriorityGroup>,
    /// Counts and needs per unit below.
    pub needs: Vec<ChildNeed>,
    /// `doses`, `allocated`, `left_over`, `units`, `steps`.
    #[serde(flatten)]
    pub allocation: Allocation,
}

/// The product rule of a DCC code or alias (`invalid_input` on `product` when unknown).
pub fn product_rule(text: &str) -> std::result::Result<&'static ProductRule, Error> {
    Rules::embedded().product(text.trim()).ok_or_else(|| {
        Error::invalid(
            "product",
            format!("Không có quy tắc lịch tiêm cho vắc xin «{text}»"),
            format!("No schedule rule for vaccine «{text}»"),
        )
    })
}

/// The units directly below `unit` (`invalid_input` for a commune).
pub fn child_units(unit: &CoverageUnit) -> std::result::Result<Vec<CoverageUnit>, Error> {
    if unit.level == UnitLevel::Commune {
        return Err(Error::invalid(
            "unit",
            "Chỉ phân bổ được từ tỉnh hoặc huyện xuống các đơn vị trực thuộc",
            "Allocation splits a province's or district's doses among the units below it",
        ));
    }
    Ok(AdminUnits::embedded()
        .hierarchy(unit.hierarchy)
        .children(&unit.code)
        .map(|u| CoverageUnit {
            hierarchy: unit.hierarchy,
            code: u.code.clone(),
            name: u.name.clone(),
            level: u.level,
        })
        .collect())
}

/// Coverage reports of the units below `unit` at `as_of`.
pub async fn child_reports(
    store: &dyn Store,
    unit: &CoverageUnit,
    as_of: NaiveDate,
) -> Result<Vec<CoverageReport>> {
    let mut out = Vec::new();
    for child in child_units(unit)? {
        out.push(store::coverage_report(store, &child, as_of).await?);
    }
    Ok(out)
}

/// Recommends how to split `doses` of `product` from `unit` to the units below it.
pub async fn plan_allocation(
    store: &dyn Store,
    unit: &CoverageUnit,
    product: &str,
    doses: u64,
    as_of: NaiveDate,
) -> Result<AllocationPlan> {
    let rule = product_rule(product)?;
    let reports = child_reports(store, unit, as_of).await?;
    let (groups, needs) = needs_from_reports(rule, &reports);
    let request = AllocationRequest {
        doses,
        units: needs
            .iter()
            .map(|c| UnitNeed {
                unit_code: c.unit_code.clone(),
                unit_name: c.unit_name.clone(),
                needs: c.groups.iter().map(|g| (g.group, g.need)).collect(),
            })
            .collect(),
        groups: groups.clone(),
    };
    let allocation = allocation::allocate(&request)?;
    Ok(AllocationPlan {
        unit: unit.code.clone(),
        unit_name: unit.name.clone(),
        hierarchy: unit.hierarchy,
        as_of,
        product: rule.mp.clone(),
        product_label: rule.label.clone(),
        primary_doses: rule.primary_doses,
        need_formula_vi: NEED_FORMULA_VI,
        need_formula_en: NEED_FORMULA_EN,
        groups,
        needs,
        allocation,
    })
}

/// Parses an as-of date given as `YYYY-MM-DD` or `dd/mm/yyyy` (`invalid_input` on `as_of`).
pub fn parse_as_of(text: &str) -> std::result::Result<NaiveDate, Error> {
    let t = text.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
        .map_err(|_| {
            Error::invalid(
                "as_of",
                format!("Ngày «{t}» không hợp lệ (dd/mm/yyyy hoặc yyyy-mm-dd)"),
                format!("Invalid date «{t}» (dd/mm/yyyy or yyyy-mm-dd)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(label: &str, n: [u64; 5]) -> CoverageGroup {
        CoverageGroup {
            age_group: label.into(),
            population: n[0],
            at_least_one: n[1],
            primary_complete: n[2],
            booster1: n[3],
            booster2: n[4],
        }
    }

    fn report(code: &str) -> CoverageReport {
        CoverageReport {
            unit: code.into(),
            unit_name: format!("Xã {code}"),
            hierarchy: UnitVersion::V2025,
            as_of: NaiveDate::from_ymd_opt(2022, 6, 1).unwrap(),
            groups: vec![
                group("3-4", [10, 0, 0, 0, 0]),
                group("5-11", [40, 10, 5, 0, 0]),
                group("12-17", [30, 20, 15, 5, 0]),
                group("18+", [200, 180, 170, 100, 10]),
                group("50+", [60, 55, 50, 40, 5]),
                group("65+", [20, 19, 18, 15, 3]),
                group("all", [280, 210, 190, 105, 10]),
            ],
        }
    }

    #[test]
    fn priority_groups_subtract_wider_age_groups() {
        let r = report("A");
        assert_eq!(
            priority_counts(&r, PriorityGroup::Age50To64),
            GroupCounts {
                population: 40,
                at_least_one: 36,
                primary_complete: 32,
                booster1: 25
            }
        );
        assert_eq!(
            priority_counts(&r, PriorityGroup::Age18To49).population,
            140
        );
        assert_eq!(priority_counts(&r, PriorityGroup::Age65Plus).booster1, 15);
    }

    #[test]
    fn need_formula() {
        let c = GroupCounts {
            population: 100,
            at_least_one: 60,
            primary_complete: 50,
            booster1: 20,
        };
        // 40 × 2 + 10 + 30.
        assert_eq!(group_need(c, 2, true), 120);
        // Children: no booster 1.
        assert_eq!(group_need(c, 2, false), 90);
        // Janssen and Abdala.
        assert_eq!(group_need(c, 1, true), 80);
        assert_eq!(group_need(c, 3, true), 160);
    }

    #[test]
    fn eligibility_follows_the_product() {
        let pfizer = product_rule("Pfizer").unwrap();
        assert_eq!(eligible_groups(pfizer).len(), 5);
        let moderna = product_rule("Moderna").unwrap();
        assert!(!eligible_groups(moderna).contains(&PriorityGroup::Age5To11));
        let az = product_rule("AstraZeneca").unwrap();
        assert_eq!(
            eligible_groups(az),
            vec![
                PriorityGroup::Age65Plus,
                PriorityGroup::Age50To64,
                PriorityGroup::Age18To49
            ]
        );
        assert!(product_rule("Sữa").is_err());
    }

    #[test]
    fn needs_per_unit_and_group() {
        let pfizer = product_rule("Pfizer").unwrap();
        let (groups, needs) = needs_from_reports(pfizer, &[report("A")]);
        assert_eq!(groups[0], PriorityGroup::Age65Plus);
        let g65 = &needs[0].groups[0];
        // (20−19)×2 + (19−18) + (18−15) = 6.
        assert_eq!(g65.need, 6);
        let g5 = needs[0]
            .groups
            .iter()
            .find(|g| g.group == PriorityGroup::Age5To11);
        // (40−10)×2 + (10−5), no booster.
        assert_eq!(g5.unwrap().need, 65);
        assert!(!g5.unwrap().booster_eligible);
    }

    #[test]
    fn child_units_of_each_level() {
        let p = CoverageUnit::resolve("12", Some(UnitVersion::V2025)).unwrap();
        let c = child_units(&p).unwrap();
        assert!(c.len() > 10 && c.iter().all(|u| u.level == UnitLevel::Commune));
        let old = CoverageUnit::resolve("12", Some(UnitVersion::Pre2025)).unwrap();
        assert!(
            child_units(&old)
                .unwrap()
                .iter()
                .all(|u| u.level == UnitLevel::District)
        );
        assert!(child_units(&c[0]).is_err());
    }

    #[test]
    fn dates_in_both_formats() {
        let d = NaiveDate::from_ymd_opt(2022, 3, 31).unwrap();
        assert_eq!(parse_as_of("2022-03-31").unwrap(), d);
        assert_eq!(parse_as_of("31/03/2022").unwrap(), d);
        assert!(parse_as_of("2022-02-30").is_err());
        assert!(parse_as_of("hôm qua").is_err());
    }
}
