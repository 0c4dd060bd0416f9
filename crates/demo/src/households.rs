//! Household formation: turns people drawn from the pyramid into families.
//!
//! The people are fixed beforehand (see [`crate::pyramid`]), so the age–sex pyramid stays exact
//! whatever happens here. Households are built in this order:
//!
//! 1. Adult men marry, with a probability rising with age, a still unmarried woman of similar age
//!    (husband from 2 years younger to 8 years older, usually 1–5 years older).
//! 2. Each couple heads a household, except that about a third of couples with a husband of 35 or
//!    under live with the husband's parents (the Vietnamese three-generation household).
//! 3. Most unmarried adults under 30, half of those in their thirties and a few older ones live
//!    with their parents; other unmarried adults head their own household.
//! 4. Every child under 18 joins a household whose mother (the head's wife, a female head, or a
//!    daughter-in-law) is 18–45 years older, preferring households with fewer than three children.
//! 5. About half of the unmarried elderly (65 and over), and 30 % of elderly couples, live with a
//!    grown-up child instead of on their own.
//!
//! "Parents" are found through the mother's age: each household is indexed by the age of the
//! woman who could be the mother of a new member, and the gap is drawn from a realistic
//! distribution of mothers' ages at birth.

use std::cmp::Reverse;

use domain::person::Sex;
use rand::Rng;

use crate::pyramid::{Draft, MAX_AGE};
use crate::sampling::Weighted;

/// Age of majority: younger people are children and never head a household or marry.
pub(crate) const ADULT_AGE: u8 = 18;

/// Age from which an unmarried person may live with a grown-up child.
const ELDER_AGE: u8 = 65;

/// Share of couples with a husband of [`MAX_AGE_COUPLE_WITH_PARENTS`] or under who live with the
/// husband's parents.
const P_COUPLE_WITH_PARENTS: f64 = 0.35;
const MAX_AGE_COUPLE_WITH_PARENTS: u8 = 35;

/// Share of unmarried elderly who live with a grown-up child.
const P_ELDER_WITH_CHILD: f64 = 0.5;

/// Share of elderly couples (husband 65 or over) who live with a grown-up child.
const P_ELDER_COUPLE_WITH_CHILD: f64 = 0.3;

/// A household already holding this many children is avoided when another fits.
const PREFERRED_MAX_CHILDREN: u8 = 3;

/// Random tries at finding a fitting household before settling for any household of the right
/// age, or scanning all ages.
const FIND_ATTEMPTS: usize = 6;

/// Husband's age minus wife's age, with relative weights (mean about 3 years).
const HUSBAND_AGE_GAPS: &[(i16, f64)] = &[
    (-2, 2.0),
    (-1, 3.0),
    (0, 6.0),
    (1, 9.0),
    (2, 11.0),
    (3, 11.0),
    (4, 10.0),
    (5, 8.0),
    (6, 6.0),
    (7, 4.0),
    (8, 3.0),
];

/// Gaps tried, in this order, when no woman is free at the drawn gap.
const HUSBAND_AGE_GAP_FALLBACKS: [i16; 11] = [3, 2, 4, 1, 5, 0, 6, 7, -1, 8, -2];

/// Probability that a man of this age is married.
fn marriage_probability(age: u8) -> f64 {
    match age {
        0..=17 => 0.0,
        18..=19 => 0.03,
        20..=21 => 0.12,
        22..=24 => 0.30,
        25..=27 => 0.55,
        28..=29 => 0.70,
        30..=34 => 0.83,
        35..=64 => 0.92,
        65..=74 => 0.88,
        _ => 0.80,
    }
}

/// Probability that an unmarried adult of this age lives with their parents (under 65) or with a
/// grown-up child (65 and over) instead of heading a household.
fn join_probability(age: u8) -> f64 {
    match age {
        0..=29 => 0.85,
        30..=39 => 0.5,
        40..=64 => 0.1,
        _ => P_ELDER_WITH_CHILD,
    }
}

/// Mother's age at birth, 18–45, peaking in the mid-twenties.
fn mother_age_at_birth() -> Weighted<u8> {
    let pairs: Vec<(u8, f64)> = (18..=45u8)
        .map(|age| {
            let weight = match age {
                18..=19 => 2.0,
                20..=22 => 5.0,
                23..=30 => 9.0,
                31..=34 => 6.0,
                35..=39 => 3.0,
                _ => 1.0,
            };
            (age, weight)
        })
        .collect();
    Weighted::from_table(&pairs)
}

/// Place of a person in their household.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Household head (chủ hộ): the husband of a couple, or a single adult.
    Head,
    /// The head's wife.
    Spouse,
    /// An elderly parent of the head or of the spouse.
    Elder,
    /// A child or grandchild of the head, or the son of the head in a three-generation household;
    /// takes the head's surname.
    Child,
    /// The wife of the head's son.
    ChildInLaw,
}

impl Role {
    /// Listing order within a household: head, spouse, elders, then the younger generations.
    fn rank(self) -> u8 {
        match self {
            Role::Head => 0,
            Role::Spouse => 1,
            Role::Elder => 2,
            Role::Child | Role::ChildInLaw => 3,
        }
    }
}

/// One person's place in the plan (`person` indexes the drafts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    pub person: u32,
    pub role: Role,
}

/// All households, as consecutive runs of members: head first, then spouse, elders, and the
/// younger generations from oldest to youngest.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    members: Vec<Member>,
    /// Start of each household in `members`, plus a final end marker.
    starts: Vec<usize>,
}

impl Plan {
    pub(crate) fn household_count(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// The members of each household in turn.
    pub(crate) fn households(&self) -> impl Iterator<Item = &[Member]> {
        self.starts.windows(2).map(|w| &self.members[w[0]..w[1]])
    }
}

/// Builds the households for a shuffled list of people.
pub(crate) fn plan<R: Rng + ?Sized>(drafts: &[Draft], rng: &mut R) -> Plan {
    let mut builder = Builder::new(drafts);
    let (couples, married) = pair_couples(drafts, rng);

    let mut couples_with_parents = Vec::new();
    let mut elder_couples_with_children = Vec::new();
    for &(husband, wife) in &couples {
        let age = drafts[husband as usize].age;
        if age <= MAX_AGE_COUPLE_WITH_PARENTS && rng.random_bool(P_COUPLE_WITH_PARENTS) {
            couples_with_parents.push((husband, wife));
        } else if age >= ELDER_AGE && rng.random_bool(P_ELDER_COUPLE_WITH_CHILD) {
            elder_couples_with_children.push((husband, wife));
        } else {
            builder.add_household(husband, Some(wife));
        }
    }

    let mut adults_with_parents = Vec::new();
    let mut elders_with_children = Vec::new();
    let mut children = Vec::new();
    for (i, draft) in drafts.iter().enumerate() {
        let person = i as u32;
        if married[i] {
            continue;
        }
        if draft.age < ADULT_AGE {
            children.push(person);
        } else if rng.random_bool(join_probability(draft.age)) {
            if draft.age >= ELDER_AGE {
                elders_with_children.push(person);
            } else {
                adults_with_parents.push(person);
            }
        } else {
            builder.add_household(person, None);
        }
    }

    for (husband, wife) in couples_with_parents {
        let age = drafts[husband as usize].age;
        match builder.find_parents(Mothers::Heads, age, |h| !h.has_young_couple, rng) {
            Some(household) => builder.join_as_young_couple(household, husband, wife),
            None => {
                builder.add_household(husband, Some(wife));
            }
        }
    }
    for person in adults_with_parents {
        let age = drafts[person as usize].age;
        match builder.find_parents(Mothers::Heads, age, |_| true, rng) {
            Some(household) => builder.join(household, person, Role::Child),
            None => {
                builder.add_household(person, None);
            }
        }
    }
    for person in children {
        let age = drafts[person as usize].age;
        let fits = |h: &HouseholdState| h.children < PREFERRED_MAX_CHILDREN;
        match builder.find_parents(Mothers::All, age, fits, rng) {
            Some(household) => builder.join(household, person, Role::Child),
            None if !builder.households.is_empty() => {
                // Tiny populations only: nobody of a plausible parent age exists.
                let household = rng.random_range(0..builder.households.len()) as u32;
                builder.join(household, person, Role::Child);
            }
            None => {
                builder.add_household(person, None);
            }
        }
    }
    for (husband, wife) in elder_couples_with_children {
        let age = drafts[wife as usize].age;
        match builder.find_grown_child(age, |h| h.elders == 0, rng) {
            Some(household) => {
                builder.join(household, husband, Role::Elder);
                builder.join(household, wife, Role::Elder);
            }
            None => {
                builder.add_household(husband, Some(wife));
            }
        }
    }
    for person in elders_with_children {
        let age = drafts[person as usize].age;
        match builder.find_grown_child(age, |h| h.elders == 0, rng) {
            Some(household) => builder.join(household, person, Role::Elder),
            None => {
                builder.add_household(person, None);
            }
        }
    }
    builder.finish()
}

/// Pairs adult men with unmarried women of similar age. Returns `(husband, wife)` pairs and
/// whether each person is married.
fn pair_couples<R: Rng + ?Sized>(drafts: &[Draft], rng: &mut R) -> (Vec<(u32, u32)>, Vec<bool>) {
    let mut women_by_age: Vec<Vec<u32>> = vec![Vec::new(); usize::from(MAX_AGE) + 1];
    for (i, draft) in drafts.iter().enumerate() {
        if draft.sex == Sex::Female && draft.age >= ADULT_AGE {
            women_by_age[usize::from(draft.age)].push(i as u32);
        }
    }
    let gaps = Weighted::from_table(HUSBAND_AGE_GAPS);
    let mut married = vec![false; drafts.len()];
    let mut couples = Vec::new();
    for (i, draft) in drafts.iter().enumerate() {
        if draft.sex != Sex::Male || !rng.random_bool(marriage_probability(draft.age)) {
            continue;
        }
        let drawn = gaps.sample(rng);
        let wife = std::iter::once(drawn)
            .chain(HUSBAND_AGE_GAP_FALLBACKS)
            .find_map(|gap| {
                let age = i16::from(draft.age) - gap;
                if age < i16::from(ADULT_AGE) || age > i16::from(MAX_AGE) {
                    return None;
                }
                women_by_age[age as usize].pop()
            });
        if let Some(wife) = wife {
            married[i] = true;
            married[wife as usize] = true;
            couples.push((i as u32, wife));
        }
    }
    (couples, married)
}

/// What a household already holds, to spread children and elders sensibly.
#[derive(Debug, Clone, Copy, Default)]
struct HouseholdState {
    children: u8,
    elders: u8,
    has_young_couple: bool,
}

/// Which households to look through for parents.
#[derive(Debug, Clone, Copy)]
enum Mothers {
    /// Households indexed by the head's wife or the female head: the head generation.
    Heads,
    /// Also indexed by daughters-in-law, so that grandchildren find their parents.
    All,
}

/// Mutable state while households are formed.
struct Builder<'a> {
    drafts: &'a [Draft],
    /// Household and role of each person; `None` until placed.
    placement: Vec<Option<(u32, Role)>>,
    households: Vec<HouseholdState>,
    /// Households by the age of the head-generation mother.
    head_mothers: Vec<Vec<u32>>,
    /// Households by the age of any potential mother (head generation and daughters-in-law).
    all_mothers: Vec<Vec<u32>>,
    birth_gaps: Weighted<u8>,
}

impl<'a> Builder<'a> {
    fn new(drafts: &'a [Draft]) -> Self {
        let ages = usize::from(MAX_AGE) + 1;
        Builder {
            drafts,
            placement: vec![None; drafts.len()],
            households: Vec::with_capacity(drafts.len() / 3 + 1),
            head_mothers: vec![Vec::new(); ages],
            all_mothers: vec![Vec::new(); ages],
            birth_gaps: mother_age_at_birth(),
        }
    }

    fn draft(&self, person: u32) -> Draft {
        self.drafts[person as usize]
    }

    /// Creates a household headed by `head` (with `spouse`) and indexes it by its mother's age.
    fn add_household(&mut self, head: u32, spouse: Option<u32>) -> u32 {
        let household = self.households.len() as u32;
        self.households.push(HouseholdState::default());
        self.placement[head as usize] = Some((household, Role::Head));
        let head_draft = self.draft(head);
        let mother = match spouse {
            Some(wife) => {
                self.placement[wife as usize] = Some((household, Role::Spouse));
                Some(self.draft(wife).age)
            }
            None if head_draft.sex == Sex::Female && head_draft.age >= 20 => Some(head_draft.age),
            None => None,
        };
        if let Some(age) = mother {
            self.head_mothers[usize::from(age)].push(household);
            self.all_mothers[usize::from(age)].push(household);
        }
        household
    }

    fn join(&mut self, household: u32, person: u32, role: Role) {
        self.placement[person as usize] = Some((household, role));
        let state = &mut self.households[household as usize];
        match role {
            Role::Elder => state.elders = state.elders.saturating_add(1),
            _ if self.drafts[person as usize].age < ADULT_AGE => {
                state.children = state.children.saturating_add(1)
            }
            _ => {}
        }
    }

    /// A son and his wife join his parents' household; the wife can then be found as a mother.
    fn join_as_young_couple(&mut self, household: u32, husband: u32, wife: u32) {
        self.join(household, husband, Role::Child);
        self.join(household, wife, Role::ChildInLaw);
        self.households[household as usize].has_young_couple = true;
        let wife_age = self.draft(wife).age;
        self.all_mothers[usize::from(wife_age)].push(household);
    }

    /// A household whose mother is 18–45 years older than someone aged `age`, preferring one for
    /// which `prefer` holds.
    fn find_parents<R: Rng + ?Sized>(
        &self,
        mothers: Mothers,
        age: u8,
        prefer: impl Fn(&HouseholdState) -> bool,
        rng: &mut R,
    ) -> Option<u32> {
        let buckets = match mothers {
            Mothers::Heads => &self.head_mothers,
            Mothers::All => &self.all_mothers,
        };
        self.find(buckets, |gap| age.checked_add(gap), prefer, rng)
    }

    /// A head-generation household whose mother is 18–45 years younger than an elder aged `age`.
    fn find_grown_child<R: Rng + ?Sized>(
        &self,
        age: u8,
        prefer: impl Fn(&HouseholdState) -> bool,
        rng: &mut R,
    ) -> Option<u32> {
        self.find(&self.head_mothers, |gap| age.checked_sub(gap), prefer, rng)
    }

    /// Draws mother ages `key(gap)` for random birth gaps and a random household indexed at that
    /// age, until one satisfies `prefer`; then settles for any household found, then for the
    /// first non-empty age in gap order.
    fn find<R: Rng + ?Sized>(
        &self,
        buckets: &[Vec<u32>],
        key: impl Fn(u8) -> Option<u8>,
        prefer: impl Fn(&HouseholdState) -> bool,
        rng: &mut R,
    ) -> Option<u32> {
        let bucket_at = |gap: u8| {
            key(gap)
                .and_then(|age| buckets.get(usize::from(age)))
                .filter(|bucket| !bucket.is_empty())
        };
        let mut fallback = None;
        for _ in 0..FIND_ATTEMPTS {
            let Some(bucket) = bucket_at(self.birth_gaps.sample(rng)) else {
                continue;
            };
            let household = bucket[rng.random_range(0..bucket.len())];
            if prefer(&self.households[household as usize]) {
                return Some(household);
            }
            fallback.get_or_insert(household);
        }
        fallback.or_else(|| {
            let bucket = self.birth_gaps.items().iter().find_map(|&g| bucket_at(g))?;
            Some(bucket[rng.random_range(0..bucket.len())])
        })
    }

    /// Orders members household by household (a counting sort on the household), then within
    /// each household by role and from oldest to youngest.
    fn finish(self) -> Plan {
        let mut starts = vec![0usize; self.households.len() + 1];
        for &(household, _) in self.placement.iter().flatten() {
            starts[household as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let placeholder = Member {
            person: 0,
            role: Role::Head,
        };
        let mut members = vec![placeholder; starts[starts.len() - 1]];
        let mut next = starts.clone();
        for (person, placement) in self.placement.iter().enumerate() {
            if let Some((household, role)) = *placement {
                let slot = &mut next[household as usize];
                members[*slot] = Member {
                    person: person as u32,
                    role,
                };
                *slot += 1;
            }
        }
        debug_assert_eq!(members.len(), self.drafts.len(), "everyone is placed");
        for window in starts.windows(2) {
            members[window[0]..window[1]].sort_unstable_by_key(|m| {
                (
                    m.role.rank(),
                    Reverse(self.drafts[m.person as usize].age),
                    m.person,
                )
            });
        }
        Plan { members, starts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyramid::sample_people;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sample(n: usize, seed: u64) -> (Vec<Draft>, Plan) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let drafts = sample_people(n, &mut rng);
        let plan = plan(&drafts, &mut rng);
        (drafts, plan)
    }

    #[test]
    fn everyone_is_placed_exactly_once() {
        for n in [1, 2, 7, 50, 5_000] {
            let (drafts, plan) = sample(n, 11);
            let mut seen = vec![false; drafts.len()];
            for household in plan.households() {
                assert!(!household.is_empty());
                assert_eq!(household[0].role, Role::Head);
                for m in household {
                    assert!(!seen[m.person as usize], "placed twice");
                    seen[m.person as usize] = true;
                }
            }
            assert!(seen.iter().all(|&s| s), "n = {n}: somebody was left out");
        }
    }

    #[test]
    fn couples_are_a_man_and_a_woman_of_similar_age() {
        let (drafts, plan) = sample(20_000, 12);
        let mut couples = 0;
        for household in plan.households() {
            let head = drafts[household[0].person as usize];
            for m in &household[1..] {
                if m.role == Role::Spouse {
                    couples += 1;
                    let wife = drafts[m.person as usize];
                    assert_eq!((head.sex, wife.sex), (Sex::Male, Sex::Female));
                    let gap = i16::from(head.age) - i16::from(wife.age);
                    assert!((-2..=8).contains(&gap), "gap {gap}");
                    assert!(wife.age >= ADULT_AGE);
                }
            }
        }
        assert!(couples > plan.household_count() / 2, "{couples} couples");
    }

    #[test]
    fn children_live_with_a_woman_of_mothers_age() {
        let (drafts, plan) = sample(20_000, 13);
        let (mut children, mut with_mother) = (0, 0);
        for household in plan.households() {
            for m in household {
                let child = drafts[m.person as usize];
                if child.age >= ADULT_AGE {
                    continue;
                }
                children += 1;
                assert_eq!(m.role, Role::Child);
                let has_mother = household.iter().any(|other| {
                    let d = drafts[other.person as usize];
                    d.sex == Sex::Female
                        && (18..=45).contains(&(i16::from(d.age) - i16::from(child.age)))
                });
                with_mother += usize::from(has_mother);
            }
        }
        assert!(children > 4_000);
        assert!(
            with_mother as f64 >= 0.99 * children as f64,
            "{with_mother} of {children}"
        );
    }

    #[test]
    fn household_sizes_are_realistic() {
        let (drafts, plan) = sample(50_000, 14);
        let mean = drafts.len() as f64 / plan.household_count() as f64;
        assert!((2.5..=4.5).contains(&mean), "mean size {mean}");
        let crowded = plan
            .households()
            .filter(|h| {
                h.iter()
                    .filter(|m| drafts[m.person as usize].age < ADULT_AGE)
                    .count()
                    > 4
            })
            .count();
        assert!(
            (crowded as f64) < 0.02 * plan.household_count() as f64,
            "{crowded}"
        );
        let with_elder = plan
            .households()
            .filter(|h| h.iter().any(|m| m.role == Role::Elder))
            .count();
        assert!(with_elder > 0);
    }
}
