//! Dose allocation: recommends how to split a delivery of `N` doses of one vaccine product from a
//! province (or district) to the units directly below it, by unmet need, priority groups first.
//!
//! The result is a **recommendation** with its reasoning shown step by step (Vietnamese and
//! English); the health authority decides the actual split.
//!
//! # Rule
//!
//! Groups are taken in the priority order given for the product (highest first, e.g. `65+`,
//! `50-64`, `18-49`, `12-17`, `5-11`; only the groups eligible for the product are listed):
//!
//! 1. If the doses still available cover the group's total need across all units, every unit gets
//!    exactly its need for that group and we move on to the next group.
//! 2. Otherwise the remaining doses are split across units in proportion to their need in that
//!    group, by the largest-remainder (Hamilton) method: each unit first gets the whole part of its
//!    quota `remaining × need / total need`, then the few doses still left go one each to the units
//!    with the largest fractional parts (ties: larger need first, then unit code). No unit ever gets
//!    more than its need. Allocation stops there: lower-priority groups get nothing.
//! 3. Doses left once every need is met are reported as `left_over`, not assigned.
//!
//! Everything is integer arithmetic, so the sums are exact: the units' doses add up to
//! `allocated`, and `allocated + left_over == doses`. Needs listed for groups that are not
//! eligible for the product are ignored.

use std::collections::BTreeSet;

use serde::{Serialize, Serializer};

use crate::error::{Error, Result};

/// Priority groups, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PriorityGroup {
    Age65Plus,
    Age50To64,
    Age18To49,
    Age12To17,
    Age5To11,
}

impl PriorityGroup {
    /// All groups, highest priority first.
    pub const ALL: [PriorityGroup; 5] = [
        PriorityGroup::Age65Plus,
        PriorityGroup::Age50To64,
        PriorityGroup::Age18To49,
        PriorityGroup::Age12To17,
        PriorityGroup::Age5To11,
    ];

    /// Stable code, also the serialized form: `65+`, `50-64`, `18-49`, `12-17`, `5-11`.
    pub fn code(self) -> &'static str {
        match self {
            PriorityGroup::Age65Plus => "65+",
            PriorityGroup::Age50To64 => "50-64",
            PriorityGroup::Age18To49 => "18-49",
            PriorityGroup::Age12To17 => "12-17",
            PriorityGroup::Age5To11 => "5-11",
        }
    }

    /// Parses a code produced by [`PriorityGroup::code`].
    pub fn from_code(code: &str) -> Option<Self> {
        PriorityGroup::ALL.into_iter().find(|g| g.code() == code)
    }

    /// Vietnamese label for tables and reports.
    pub fn label_vi(self) -> &'static str {
        match self {
            PriorityGroup::Age65Plus => "Từ 65 tuổi trở lên",
            PriorityGroup::Age50To64 => "Từ 50 đến 64 tuổi",
            PriorityGroup::Age18To49 => "Từ 18 đến 49 tuổi",
            PriorityGroup::Age12To17 => "Từ 12 đến 17 tuổi",
            PriorityGroup::Age5To11 => "Từ 5 đến 11 tuổi",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            PriorityGroup::Age65Plus => "Aged 65 and over",
            PriorityGroup::Age50To64 => "Aged 50 to 64",
            PriorityGroup::Age18To49 => "Aged 18 to 49",
            PriorityGroup::Age12To17 => "Aged 12 to 17",
            PriorityGroup::Age5To11 => "Aged 5 to 11",
        }
    }
}

impl Serialize for PriorityGroup {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// One receiving unit and the doses it still needs per group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitNeed {
    pub unit_code: String,
    pub unit_name: String,
    /// Doses still needed per group; a group not listed needs 0.
    pub needs: Vec<(PriorityGroup, u64)>,
}

/// A delivery to split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllocationRequest {
    /// Doses delivered.
    pub doses: u64,
    /// The units directly below the delivering unit.
    pub units: Vec<UnitNeed>,
    /// Groups eligible for this product, in priority order (highest first).
    pub groups: Vec<PriorityGroup>,
}

/// The recommended doses for one unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitAllocation {
    pub unit_code: String,
    pub unit_name: String,
    /// Doses recommended for the unit (sum of `by_group`).
    pub doses: u64,
    /// Doses per eligible group, in the request's group order (zeros included).
    pub by_group: Vec<(PriorityGroup, u64)>,
    /// The unit's total need over the eligible groups.
    pub need: u64,
}

/// One step of the reasoning: what happened to one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllocationStep {
    pub group: PriorityGroup,
    /// Total need of the group across units.
    pub need: u64,
    /// Doses given to the group.
    pub given: u64,
    /// Whether `given == need`.
    pub fully_covered: bool,
    pub explanation_vi: String,
    pub explanation_en: String,
}

/// The recommended split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allocation {
    /// Doses delivered.
    pub doses: u64,
    /// Doses assigned to units (sum of the units' doses).
    pub allocated: u64,
    /// Doses left once every need is met (`doses - allocated`).
    pub left_over: u64,
    /// One entry per unit, in request order.
    pub units: Vec<UnitAllocation>,
    /// One step per eligible group, in priority order.
    pub steps: Vec<AllocationStep>,
}

/// Recommends a split of `req.doses` across `req.units`; see the module docs for the rule.
///
/// Errors (`invalid_input`): no units, no groups, a group listed twice, an empty or duplicate unit
/// code, a group listed twice in one unit's needs, or needs too large to add up.
pub fn allocate(req: &AllocationRequest) -> Result<Allocation> {
    validate(req)?;
    let groups = &req.groups;

    // need[u][g]: unit u's need for eligible group g (index into `groups`).
    let need: Vec<Vec<u64>> = req
        .units
        .iter()
        .map(|u| {
            groups
                .iter()
                .map(|g| {
                    u.needs
                        .iter()
                        .find(|(ng, _)| ng == g)
                        .map_or(0, |&(_, n)| n)
                })
                .collect()
        })
        .collect();
    let unit_need: Vec<u64> = need
        .iter()
        .map(|row| checked_sum(row.iter().copied()))
        .collect::<Option<_>>()
        .ok_or_else(too_large)?;
    let group_need: Vec<u64> = (0..groups.len())
        .map(|g| checked_sum(need.iter().map(|row| row[g])))
        .collect::<Option<_>>()
        .ok_or_else(too_large)?;

    let mut given = vec![vec![0u64; groups.len()]; req.units.len()];
    let mut remaining = req.doses;
    let mut steps = Vec::with_capacity(groups.len());
    for (g, &group) in groups.iter().enumerate() {
        let total = group_need[g];
        let (group_given, vi, en) = if remaining >= total {
            for (row, out) in need.iter().zip(given.iter_mut()) {
                out[g] = row[g];
            }
            remaining -= total;
            (
                total,
                format!(
                    "Nhóm {}: cần {} liều, đủ cho toàn bộ",
                    group.code(),
                    int_vi(total)
                ),
                format!(
                    "Group {}: needs {} doses, fully covered",
                    group.code(),
                    int_en(total)
                ),
            )
        } else if remaining == 0 {
            // Nothing delivered, or a higher group took the last doses: allocation has stopped.
            (
                0,
                format!(
                    "Nhóm {}: cần {} liều, không còn liều để phân bổ",
                    group.code(),
                    int_vi(total)
                ),
                format!(
                    "Group {}: needs {} doses, no doses left to allocate",
                    group.code(),
                    int_en(total)
                ),
            )
        } else {
            // Not enough for the whole group: split what is left, then stop (remaining = 0).
            let r = remaining;
            let shares = hamilton(r, &req.units, &need, g, total);
            for (out, share) in given.iter_mut().zip(shares) {
                out[g] = share;
            }
            remaining = 0;
            let (whole, tenth) = percent_floor(r, total);
            (
                r,
                format!(
                    "Nhóm {}: cần {} liều, còn {} liều, chia theo tỉ lệ nhu cầu ({whole},{tenth}%)",
                    group.code(),
                    int_vi(total),
                    int_vi(r)
                ),
                format!(
                    "Group {}: needs {} doses, {} doses left, split in proportion to need ({whole}.{tenth}%)",
                    group.code(),
                    int_en(total),
                    int_en(r)
                ),
            )
        };
        steps.push(AllocationStep {
            group,
            need: total,
            given: group_given,
            fully_covered: group_given == total,
            explanation_vi: vi,
            explanation_en: en,
        });
    }

    let units: Vec<UnitAllocation> = req
        .units
        .iter()
        .zip(&given)
        .zip(&unit_need)
        .map(|((u, row), &need)| UnitAllocation {
            unit_code: u.unit_code.clone(),
            unit_name: u.unit_name.clone(),
            // Cannot overflow: bounded by the unit's need, which was checked.
            doses: row.iter().sum(),
            by_group: groups.iter().copied().zip(row.iter().copied()).collect(),
            need,
        })
        .collect();
    let allocated: u64 = units.iter().map(|u| u.doses).sum();
    debug_assert_eq!(allocated + remaining, req.doses);

    Ok(Allocation {
        doses: req.doses,
        allocated,
        left_over: remaining,
        units,
        steps,
    })
}

/// Largest-remainder split of `doses` (< `total`) across units by their need in group `g`.
fn hamilton(doses: u64, units: &[UnitNeed], need: &[Vec<u64>], g: usize, total: u64) -> Vec<u64> {
    debug_assert!(doses < total);
    let (d, t) = (u128::from(doses), u128::from(total));
    let mut shares = Vec::with_capacity(units.len());
    let mut rems = Vec::with_capacity(units.len());
    let mut handed = 0u64;
    for (i, row) in need.iter().enumerate() {
        let q = d * u128::from(row[g]);
        // Floor of the quota is < need because doses < total, so it fits in u64.
        let whole = (q / t) as u64;
        shares.push(whole);
        handed += whole;
        rems.push((q % t, row[g], i));
    }
    // Largest fractional part first; ties: larger need, then unit code.
    rems.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then_with(|| units[a.2].unit_code.cmp(&units[b.2].unit_code))
    });
    // The extra doses are fewer than the units with a non-zero fractional part.
    let extra = doses - handed;
    for &(_, n, i) in rems.iter().take(extra as usize) {
        debug_assert!(shares[i] < n);
        shares[i] = (shares[i] + 1).min(n);
    }
    shares
}

fn validate(req: &AllocationRequest) -> Result<()> {
    if req.groups.is_empty() {
        return Err(Error::invalid(
            "groups",
            "Chưa chọn nhóm ưu tiên nào cho vắc xin này",
            "No priority groups given for this product",
        ));
    }
    let mut seen_groups = BTreeSet::new();
    for g in &req.groups {
        if !seen_groups.insert(*g) {
            return Err(Error::invalid(
                "groups",
                format!("Nhóm ưu tiên {} bị lặp", g.code()),
                format!("Priority group {} is listed twice", g.code()),
            ));
        }
    }
    if req.units.is_empty() {
        return Err(Error::invalid(
            "units",
            "Chưa có đơn vị nhận nào",
            "No receiving units given",
        ));
    }
    let mut seen_units = BTreeSet::new();
    for u in &req.units {
        let code = u.unit_code.trim();
        if code.is_empty() {
            return Err(Error::invalid(
                "unit_code",
                "Mã đơn vị không được để trống",
                "Unit code must not be empty",
            ));
        }
        if !seen_units.insert(code) {
            return Err(Error::invalid(
                "unit_code",
                format!("Mã đơn vị {code} bị lặp"),
                format!("Unit code {code} is listed twice"),
            ));
        }
        let mut seen = BTreeSet::new();
        for (g, _) in &u.needs {
            if !seen.insert(*g) {
                return Err(Error::invalid(
                    "needs",
                    format!("Đơn vị {code}: nhóm {} bị lặp", g.code()),
                    format!("Unit {code}: group {} is listed twice", g.code()),
                ));
            }
        }
    }
    Ok(())
}

fn too_large() -> Error {
    Error::invalid("needs", "Tổng nhu cầu quá lớn", "Total need is too large")
}

fn checked_sum(mut it: impl Iterator<Item = u64>) -> Option<u64> {
    it.try_fold(0u64, u64::checked_add)
}

/// `part / whole` as a percentage, rounded down to one decimal: (whole part, tenths digit).
fn percent_floor(part: u64, whole: u64) -> (u128, u128) {
    let per_mille = u128::from(part) * 1000 / u128::from(whole);
    (per_mille / 10, per_mille % 10)
}

fn group_digits(n: u64, sep: char) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// Vietnamese style: 12.345.
fn int_vi(n: u64) -> String {
    group_digits(n, '.')
}

/// English style: 12,345.
fn int_en(n: u64) -> String {
    group_digits(n, ',')
}

#[cfg(test)]
mod tests {
    use super::PriorityGroup as G;
    use super::*;
    use crate::ErrorCode;

    fn unit(code: &str, needs: &[(G, u64)]) -> UnitNeed {
        UnitNeed {
            unit_code: code.to_string(),
            unit_name: format!("Huyện {code}"),
            needs: needs.to_vec(),
        }
    }

    fn req(doses: u64, units: Vec<UnitNeed>, groups: &[G]) -> AllocationRequest {
        AllocationRequest {
            doses,
            units,
            groups: groups.to_vec(),
        }
    }

    fn doses_of(a: &Allocation) -> Vec<u64> {
        a.units.iter().map(|u| u.doses).collect()
    }

    /// Checks every invariant the module promises.
    fn check_invariants(r: &AllocationRequest, a: &Allocation) {
        assert_eq!(a.doses, r.doses);
        assert_eq!(a.allocated + a.left_over, a.doses);
        assert_eq!(a.units.iter().map(|u| u.doses).sum::<u64>(), a.allocated);
        assert_eq!(a.steps.iter().map(|s| s.given).sum::<u64>(), a.allocated);
        assert_eq!(a.units.len(), r.units.len());
        assert_eq!(a.steps.len(), r.groups.len());
        for (gi, step) in a.steps.iter().enumerate() {
            assert_eq!(step.group, r.groups[gi]);
            let given: u64 = a.units.iter().map(|u| u.by_group[gi].1).sum();
            assert_eq!(given, step.given);
            assert!(step.given <= step.need);
            assert_eq!(step.fully_covered, step.given == step.need);
        }
        for (ua, un) in a.units.iter().zip(&r.units) {
            assert_eq!(ua.unit_code, un.unit_code);
            assert_eq!(ua.by_group.iter().map(|x| x.1).sum::<u64>(), ua.doses);
            assert!(ua.doses <= ua.need);
            for (g, got) in &ua.by_group {
                let n = un.needs.iter().find(|x| x.0 == *g).map_or(0, |x| x.1);
                assert!(*got <= n, "cap at need");
            }
        }
        // Priority: at most one partially covered group; before it all full, after it nothing.
        let first_short = a.steps.iter().position(|s| !s.fully_covered);
        match first_short {
            None => assert_eq!(a.left_over, a.doses - a.allocated),
            Some(k) => {
                assert_eq!(a.left_over, 0);
                assert!(a.steps[k + 1..].iter().all(|s| s.given == 0));
                // Hamilton: each unit's share is the floor or ceiling of its exact quota.
                let step = &a.steps[k];
                let (d, t) = (u128::from(step.given), u128::from(step.need));
                for (ua, un) in a.units.iter().zip(&r.units) {
                    let n = un
                        .needs
                        .iter()
                        .find(|x| x.0 == step.group)
                        .map_or(0, |x| x.1);
                    let q = d * u128::from(n);
                    let got = u128::from(ua.by_group[k].1);
                    assert!(got * t >= q - q % t && got * t <= q - q % t + t);
                    if q % t == 0 {
                        assert_eq!(got * t, q);
                    }
                }
            }
        }
        if a.left_over > 0 {
            assert!(a.steps.iter().all(|s| s.fully_covered));
        }
    }

    #[test]
    fn group_codes_and_serialization() {
        for g in G::ALL {
            assert_eq!(G::from_code(g.code()), Some(g));
            assert_eq!(serde_json::to_value(g).unwrap(), g.code());
            assert!(!g.label_vi().is_empty() && !g.label_en().is_empty());
        }
        assert_eq!(G::Age65Plus.code(), "65+");
        assert_eq!(G::Age5To11.code(), "5-11");
        assert_eq!(G::from_code("80+"), None);
        let a = allocate(&req(
            5,
            vec![unit("A", &[(G::Age65Plus, 3)])],
            &[G::Age65Plus],
        ))
        .unwrap();
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["units"][0]["by_group"][0][0], "65+");
        assert_eq!(v["steps"][0]["group"], "65+");
        assert_eq!(v["left_over"], 2);
    }

    #[test]
    fn priority_groups_first_and_stop_at_partial() {
        let r = req(
            2000,
            vec![
                unit(
                    "A",
                    &[(G::Age65Plus, 700), (G::Age50To64, 3000), (G::Age18To49, 9)],
                ),
                unit(
                    "B",
                    &[(G::Age65Plus, 500), (G::Age50To64, 2000), (G::Age18To49, 9)],
                ),
            ],
            &[G::Age65Plus, G::Age50To64, G::Age18To49],
        );
        let a = allocate(&r).unwrap();
        check_invariants(&r, &a);
        assert_eq!(a.steps[0].given, 1200);
        assert!(a.steps[0].fully_covered);
        assert_eq!(
            a.steps[0].explanation_vi,
            "Nhóm 65+: cần 1.200 liều, đủ cho toàn bộ"
        );
        assert_eq!(
            a.steps[0].explanation_en,
            "Group 65+: needs 1,200 doses, fully covered"
        );
        // 800 left for 5.000: 3000→480, 2000→320.
        assert_eq!(a.steps[1].given, 800);
        assert!(!a.steps[1].fully_covered);
        assert_eq!(
            a.steps[1].explanation_vi,
            "Nhóm 50-64: cần 5.000 liều, còn 800 liều, chia theo tỉ lệ nhu cầu (16,0%)"
        );
        assert_eq!(
            a.steps[1].explanation_en,
            "Group 50-64: needs 5,000 doses, 800 doses left, split in proportion to need (16.0%)"
        );
        assert_eq!(
            a.units[0].by_group,
            vec![(G::Age65Plus, 700), (G::Age50To64, 480), (G::Age18To49, 0)]
        );
        assert_eq!(
            a.units[1].by_group,
            vec![(G::Age65Plus, 500), (G::Age50To64, 320), (G::Age18To49, 0)]
        );
        assert_eq!(a.steps[2].given, 0);
        assert!(a.steps[2].explanation_vi.contains("không còn liều"));
        assert_eq!(doses_of(&a), vec![1180, 820]);
        assert_eq!((a.units[0].need, a.units[1].need), (3709, 2509));
        assert_eq!((a.allocated, a.left_over), (2000, 0));
    }

    #[test]
    fn group_order_follows_request_not_enum() {
        // A product only for children: 12-17 before 5-11; 65+ needs are ignored (not eligible).
        let r = req(
            10,
            vec![
                unit(
                    "A",
                    &[(G::Age65Plus, 100), (G::Age5To11, 10), (G::Age12To17, 6)],
                ),
                unit("B", &[(G::Age12To17, 2)]),
            ],
            &[G::Age12To17, G::Age5To11],
        );
        let a = allocate(&r).unwrap();
        check_invariants(&r, &a);
        assert_eq!(
            a.units[0].by_group,
            vec![(G::Age12To17, 6), (G::Age5To11, 2)]
        );
        assert_eq!(
            a.units[1].by_group,
            vec![(G::Age12To17, 2), (G::Age5To11, 0)]
        );
        assert_eq!(a.units[0].need, 16);
    }

    #[test]
    fn proportional_split_largest_remainder() {
        // 5 doses for needs 5, 3, 2 (total 10): quotas 2.5, 1.5, 1.0 → floors 2, 1, 1,
        // one extra: tie between A and B on remainder 0.5 → larger need (A).
        let r = req(
            5,
            vec![
                unit("A", &[(G::Age65Plus, 5)]),
                unit("B", &[(G::Age65Plus, 3)]),
                unit("C", &[(G::Age65Plus, 2)]),
            ],
            &[G::Age65Plus],
        );
        let a = allocate(&r).unwrap();
        check_invariants(&r, &a);
        assert_eq!(doses_of(&a), vec![3, 1, 1]);
        assert_eq!(
            a.steps[0].explanation_vi,
            "Nhóm 65+: cần 10 liều, còn 5 liều, chia theo tỉ lệ nhu cầu (50,0%)"
        );

        // Equal needs, tie on remainder and need → unit code order, whatever the input order.
        let r = req(
            2,
            vec![
                unit("C", &[(G::Age65Plus, 1)]),
                unit("A", &[(G::Age65Plus, 1)]),
                unit("B", &[(G::Age65Plus, 1)]),
            ],
            &[G::Age65Plus],
        );
        let a = allocate(&r).unwrap();
        check_invariants(&r, &a);
        assert_eq!(doses_of(&a), vec![0, 1, 1]);

        // Largest remainder beats larger need: 7 doses for 6, 4, 1 (total 11):
        // quotas 3.818, 2.545, 0.636 → floors 3, 2, 0; 2 extra → A (.818), C (.636).
        let r = req(
            7,
            vec![
                unit("A", &[(G::Age50To64, 6)]),
                unit("B", &[(G::Age50To64, 4)]),
                unit("C", &[(G::Age50To64, 1)]),
            ],
            &[G::Age50To64],
        );
        let a = allocate(&r).unwrap();
        check_invariants(&r, &a);
        assert_eq!(doses_of(&a), vec![4, 2, 1]);
        // 7/11 = 63.63…% rounds down.
        assert!(a.steps[0].explanation_vi.ends_with("(63,6%)"));
    }

    #[test]
    fn never_more_than_need() {
        // A unit with a tiny need among big ones; and a unit with zero need gets nothing.
        let r = req(
            999_999,
            vec![
                unit("A", &[(G::Age18To49, 1)]),
                unit("B", &[(G::Age18To49, 1_000_000)]),
                unit("Z", &[]),
            ],
            &[G::Age18To49],
        );
        let a = allocate(&r).unwrap();
        check_invariants(&r, &a);
        assert!(a.units[0].doses <= 1);
        assert_eq!(a.units[2].doses, 0);
        assert_eq!(a.allocated, 999_999);
        assert!(a.steps[0].explanation_vi.contains("1.000.001"));
        assert!(a.steps[0].explanation_vi.ends_with("(99,9%)"));
    }

    #[test]
    fn left_over_when_all_needs_met() {
        let r = req(
            12_345,
            vec![
                unit("A", &[(G::Age65Plus, 100), (G::Age18To49, 1000)]),
                unit("B", &[(G::Age50To64, 245)]),
            ],
            &[G::Age65Plus, G::Age50To64, G::Age18To49],
        );
        let a = allocate(&r).unwrap();
        check_invariants(&r, &a);
        assert_eq!(doses_of(&a), vec![1100, 245]);
        assert_eq!((a.allocated, a.left_over), (1345, 11_000));
        assert!(a.steps.iter().all(|s| s.fully_covered));

        // Exactly enough: nothing left over, all covered.
        let r = req(1345, r.units.clone(), &r.groups);
        let a = allocate(&r).unwrap();
        assert_eq!((a.allocated, a.left_over), (1345, 0));
        assert!(a.steps.iter().all(|s| s.fully_covered));
    }

    #[test]
    fn zero_doses_is_all_zero() {
        let r = req(
            0,
            vec![unit("A", &[(G::Age65Plus, 10)]), unit("B", &[])],
            &[G::Age65Plus, G::Age50To64],
        );
        let a = allocate(&r).unwrap();
        check_invariants(&r, &a);
        assert_eq!(doses_of(&a), vec![0, 0]);
        assert_eq!((a.allocated, a.left_over), (0, 0));
        assert!(!a.steps[0].fully_covered);
        assert!(a.steps[0].explanation_vi.contains("không còn liều"));
        // Group 50-64 needs nothing: a zero need is always covered.
        assert!(a.steps[1].fully_covered);
        assert_eq!(
            a.steps[1].explanation_vi,
            "Nhóm 50-64: cần 0 liều, đủ cho toàn bộ"
        );

        // Zero doses and zero need: valid, nothing to do.
        let r = req(0, vec![unit("A", &[])], &[G::Age65Plus]);
        let a = allocate(&r).unwrap();
        assert!(a.steps[0].fully_covered);
        assert_eq!(
            a.steps[0].explanation_vi,
            "Nhóm 65+: cần 0 liều, đủ cho toàn bộ"
        );
    }

    #[test]
    fn bad_input_is_rejected() {
        let field = |r: &AllocationRequest| {
            let e = allocate(r).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput);
            assert!(!e.message_vi.is_empty() && !e.message_en.is_empty());
            e.details["field"].as_str().unwrap().to_string()
        };
        let ok_unit = || unit("A", &[(G::Age65Plus, 1)]);
        assert_eq!(field(&req(1, vec![], &[G::Age65Plus])), "units");
        assert_eq!(field(&req(1, vec![ok_unit()], &[])), "groups");
        assert_eq!(
            field(&req(1, vec![ok_unit()], &[G::Age65Plus, G::Age65Plus])),
            "groups"
        );
        assert_eq!(
            field(&req(1, vec![ok_unit(), ok_unit()], &[G::Age65Plus])),
            "unit_code"
        );
        assert_eq!(
            field(&req(1, vec![ok_unit(), unit(" A ", &[])], &[G::Age65Plus])),
            "unit_code"
        );
        assert_eq!(
            field(&req(1, vec![unit("  ", &[])], &[G::Age65Plus])),
            "unit_code"
        );
        assert_eq!(
            field(&req(
                1,
                vec![unit("A", &[(G::Age65Plus, 1), (G::Age65Plus, 2)])],
                &[G::Age65Plus]
            )),
            "needs"
        );
        assert_eq!(
            field(&req(
                1,
                vec![
                    unit("A", &[(G::Age65Plus, u64::MAX)]),
                    unit("B", &[(G::Age65Plus, 1)])
                ],
                &[G::Age65Plus]
            )),
            "needs"
        );
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        let r = req(
            u64::MAX - 1,
            vec![
                unit("A", &[(G::Age65Plus, u64::MAX / 2)]),
                unit("B", &[(G::Age65Plus, u64::MAX / 2 + 1)]),
            ],
            &[G::Age65Plus],
        );
        let a = allocate(&r).unwrap();
        check_invariants(&r, &a);
        assert_eq!(a.allocated, u64::MAX - 1);
    }

    #[test]
    fn number_formatting() {
        assert_eq!(int_vi(0), "0");
        assert_eq!(int_vi(999), "999");
        assert_eq!(int_vi(1200), "1.200");
        assert_eq!(int_vi(1_234_567), "1.234.567");
        assert_eq!(int_en(1_234_567), "1,234,567");
        assert_eq!(percent_floor(800, 5000), (16, 0));
        assert_eq!(percent_floor(9999, 10000), (99, 9));
    }

    /// Tiny deterministic LCG (Knuth's MMIX constants), so the test needs no dependency.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn invariants_hold_on_random_cases() {
        let mut rng = Lcg(20_211_220);
        for case in 0..500 {
            // Eligible groups: a random non-empty subset, in a random order.
            let mut groups: Vec<G> = G::ALL.into_iter().filter(|_| rng.below(3) > 0).collect();
            if groups.is_empty() {
                groups.push(G::ALL[rng.below(5) as usize]);
            }
            for i in (1..groups.len()).rev() {
                groups.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let scale = [3, 50, 10_000, 2_000_000][rng.below(4) as usize];
            let n_units = 1 + rng.below(12) as usize;
            let units: Vec<UnitNeed> = (0..n_units)
                .map(|i| {
                    let mut needs = Vec::new();
                    for g in G::ALL {
                        if rng.below(4) > 0 {
                            let n = if rng.below(5) == 0 {
                                0
                            } else {
                                rng.below(scale)
                            };
                            needs.push((g, n));
                        }
                    }
                    unit(&format!("{:02}", (i * 7 + case) % 100), &needs)
                })
                .collect();
            let total: u64 = units
                .iter()
                .flat_map(|u| u.needs.iter())
                .filter(|(g, _)| groups.contains(g))
                .map(|x| x.1)
                .sum();
            let doses = match rng.below(4) {
                0 => 0,
                1 => total,
                2 => rng.below(total + 1),
                _ => rng.below(2 * total + 10),
            };
            let r = req(doses, units, &groups);
            let a = allocate(&r).unwrap();
            check_invariants(&r, &a);
            assert_eq!(a.allocated, doses.min(total), "case {case}");
            // Deterministic and independent of input order.
            assert_eq!(allocate(&r).unwrap(), a);
            let mut rev = r.clone();
            rev.units.reverse();
            let b = allocate(&rev).unwrap();
            for ub in &b.units {
                let ua = a
                    .units
                    .iter()
                    .find(|u| u.unit_code == ub.unit_code)
                    .unwrap();
                assert_eq!(ua, ub, "case {case}");
            }
        }
    }
}
