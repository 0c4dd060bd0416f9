//! COVID-19 vaccination schedule engine over versioned rules (`data/vaccination-rules.json`: id,
//! effective date, legal sources, a `verified` flag on every number; DOMAIN.md §6).
//!
//! [`evaluate`] classifies a person's doses (primary 1/2/3, additional, booster 1/2), says when the
//! primary series was completed (Janssen 1 dose, Abdala 3, others 2, the first product deciding),
//! what is due next and from when, and attaches warnings to doses that break the rules (interval
//! too short, product mixing not allowed, below the minimum age, too soon after an infection, a
//! dose beyond the second booster, an additional dose declared too early). Each warning says
//! whether the rule behind it is verified, so the UI can mark unverified ones "cần xác nhận".
//! [`check_new_dose`] gives the warnings a new dose would get, for the recording form.
//!
//! An additional dose (immunocompromised persons) is one the site declares
//! ([`DoseEvent::additional`]). Declared after the primary series is complete, it is
//! [`DoseKind::Additional`] and boosters are counted after it (booster 1's interval runs from it);
//! declared before, it is the next primary dose with the warning
//! `additional_before_primary_complete`. Only one additional dose counts, and only before any
//! booster; a later declared one is a booster with the warning `additional_not_counted`.
//!
//! [`follow_up`] sorts a person for door-to-door lists (not eligible, not vaccinated, overdue, due,
//! up to date) and [`levels`] gives the dates each coverage level was reached.

use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::population::age_on;
use crate::vaccines::VaccineCatalogue;

const RULES_JSON: &str = include_str!("../data/vaccination-rules.json");

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProductRule {
    /// DCC `mp` code.
    pub mp: String,
    pub label: String,
    pub primary_doses: u8,
    pub min_interval_days: i64,
    pub recommended_interval_days: [i64; 2],
    pub min_age_years: u32,
    pub mixing_group: String,
    pub source: String,
    pub verified: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MixingRule {
    /// Pairs (earlier group, later group) allowed within a primary series; a group always
    /// mixes with itself only when listed.
    pub allowed: Vec<[String; 2]>,
    pub source: String,
    pub verified: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BoosterRule {
    pub booster1_min_days_after_primary: i64,
    pub booster2_min_days_after_booster1: i64,
    pub adolescent_third_dose_min_days_after_dose2: i64,
    /// `[from, to)` in years.
    pub adolescent_age_years: [u32; 2],
    pub booster1_min_age_years: u32,
    pub booster2_min_age_years: u32,
    pub source: String,
    pub verified: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AdditionalDoseRule {
    /// Minimum days between the end of the primary series and the additional dose.
    pub min_days_after_primary: i64,
    pub source: String,
    pub verified: bool,
}

/// Who the door-to-door follow-up lists cover, and when a due dose becomes overdue.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FollowUpRule {
    /// Younger unvaccinated persons are not eligible (Resolution 38's youngest group is 5–<12).
    pub min_age_years: u32,
    /// A dose is overdue once `due + overdue_grace_days < as_of`.
    pub overdue_grace_days: i64,
    pub source: String,
    pub verified: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DeferralRule {
    pub days: i64,
    pub source: String,
    pub verified: bool,
}

/// A versioned rule set.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Rules {
    pub id: String,
    pub title: String,
    pub effective_from: NaiveDate,
    pub sources: std::collections::BTreeMap<String, String>,
    pub products: Vec<ProductRule>,
    pub mixing: MixingRule,
    pub boosters: BoosterRule,
    pub additional_dose: AdditionalDoseRule,
    pub follow_up: FollowUpRule,
    pub deferral_after_infection_days: DeferralRule,
}

impl Rules {
    /// The embedded rule set (parsed once).
    pub fn embedded() -> &'static Rules {
        static RULES: OnceLock<Rules> = OnceLock::new();
        RULES.get_or_init(|| serde_json::from_str(RULES_JSON).expect("embedded rules are valid"))
    }

    /// The rule of a product given as a DCC code or an alias.
    pub fn product(&self, text: &str) -> Option<&ProductRule> {
        let code = VaccineCatalogue::embedded()
            .resolve(text)
            .map(|p| p.code.as_str())
            .unwrap_or(text);
        self.products.iter().find(|p| p.mp == code)
    }

    /// Whether a primary dose of mixing group `later` may follow one of group `earlier`: the
    /// table's pairs are `[earlier, later]` in that order (AstraZeneca then an mRNA vaccine, not
    /// the reverse).
    fn mixing_allowed(&self, earlier: &str, later: &str) -> bool {
        self.mixing
            .allowed
            .iter()
            .any(|[a, b]| a == earlier && b == later)
    }
}

/// One dose given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoseEvent {
    pub date: NaiveDate,
    /// DCC `mp` code or alias.
    pub product: String,
    /// Declared by the site as an additional dose (immunocompromised person).
    #[serde(default)]
    pub additional: bool,
}

/// What a dose counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DoseKind {
    Primary(u8),
    /// The additional dose of an immunocompromised person, after the primary series.
    Additional,
    Booster(u8),
    /// A second record of a dose already counted (same date, same product): not counted again.
    Duplicate,
}

impl DoseKind {
    /// `primary_1`, `additional`, `booster_2`, …
    pub fn code(self) -> String {
        match self {
            DoseKind::Primary(n) => format!("primary_{n}"),
            DoseKind::Additional => "additional".to_string(),
            DoseKind::Booster(n) => format!("booster_{n}"),
            DoseKind::Duplicate => "duplicate".to_string(),
        }
    }
}

/// A rule a dose breaks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// `interval_too_short`, `mixing_not_allowed`, `below_min_age`, `too_soon_after_infection`,
    /// `extra_dose`, `unknown_product`, `additional_before_primary_complete`,
    /// `additional_not_counted`, `duplicate_dose`.
    pub code: &'static str,
    pub message_vi: String,
    pub message_en: String,
    /// Whether the rule's number is verified against its source (else "cần xác nhận").
    pub verified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassifiedDose {
    pub date: NaiveDate,
    pub product: String,
    pub kind: DoseKind,
    pub warnings: Vec<Warning>,
}

/// The next dose and the earliest date for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextDose {
    pub kind: DoseKind,
    pub due: NaiveDate,
    pub verified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleStatus {
    pub ruleset: String,
    pub doses: Vec<ClassifiedDose>,
    pub primary_complete: Option<NaiveDate>,
    /// Date of the additional dose, if one counts.
    pub additional: Option<NaiveDate>,
    /// Boosters given (the additional dose is not one).
    pub boosters: u8,
    /// `None` after the second booster.
    pub next: Option<NextDose>,
}

fn warn(code: &'static str, vi: String, en: String, verified: bool) -> Warning {
    Warning {
        code,
        message_vi: vi,
        message_en: en,
        verified,
    }
}

/// Classifies `doses` (any order) of a person born on `dob` who had COVID-19 on `infections`.
pub fn evaluate(
    rules: &Rules,
    dob: NaiveDate,
    doses: &[DoseEvent],
    infections: &[NaiveDate],
) -> ScheduleStatus {
    let mut sorted: Vec<&DoseEvent> = doses.iter().collect();
    sorted.sort_by_key(|d| d.date);
    let series = sorted.first().and_then(|d| rules.product(&d.product));
    let required = series.map(|p| p.primary_doses).unwrap_or(2);
    let b = &rules.boosters;
    let deferral = &rules.deferral_after_infection_days;
    let mut out: Vec<ClassifiedDose> = Vec::new();
    let extra = &rules.additional_dose;
    let mut primary_complete: Option<NaiveDate> = None;
    let mut additional: Option<NaiveDate> = None;
    let mut boosters = 0u8;
    // The last dose counted (duplicates are not), for intervals.
    let mut previous: Option<&DoseEvent> = None;
    for (i, d) in sorted.iter().enumerate() {
        if sorted[..i]
            .iter()
            .any(|e| e.date == d.date && same_product(e, d))
        {
            out.push(ClassifiedDose {
                date: d.date,
                product: d.product.clone(),
                kind: DoseKind::Duplicate,
                warnings: vec![warn(
                    "duplicate_dose",
                    format!(
                        "Trùng với mũi {} đã ghi ngày {}: cùng vắc xin, cùng ngày, không tính thêm",
                        d.product,
                        d.date.format("%d/%m/%Y")
                    ),
                    format!(
                        "Same vaccine on the same day as a dose already recorded ({}): not counted again",
                        d.date
                    ),
                    true,
                )],
            });
            continue;
        }
        let product = rules.product(&d.product);
        let primaries = out
            .iter()
            .filter(|c| matches!(c.kind, DoseKind::Primary(_)))
            .count() as u8;
        let mut warnings = Vec::new();
        let kind = if primaries < required {
            if d.additional {
                warnings.push(warn(
                    "additional_before_primary_complete",
                    format!(
                        "Khai báo mũi bổ sung nhưng chưa xong mũi cơ bản: tính là mũi {}",
                        primaries + 1
                    ),
                    format!(
                        "Declared additional before the primary series is complete: counted as dose {}",
                        primaries + 1
                    ),
                    true,
                ));
            }
            DoseKind::Primary(primaries + 1)
        } else if d.additional && additional.is_none() && boosters == 0 {
            DoseKind::Additional
        } else {
            boosters += 1;
            if d.additional {
                warnings.push(warn(
                    "additional_not_counted",
                    format!(
                        "Chỉ tính một mũi bổ sung, trước mũi nhắc lại: tính là mũi nhắc {boosters}"
                    ),
                    format!(
                        "Only one additional dose, before any booster, counts: counted as booster {boosters}"
                    ),
                    true,
                ));
            }
            DoseKind::Booster(boosters)
        };
        let age = age_on(dob, d.date).unwrap_or(0);
        match product {
            None => warnings.push(warn(
                "unknown_product",
                format!("Vắc xin «{}» chưa có quy tắc lịch tiêm", d.product),
                format!("No schedule rule for vaccine «{}»", d.product),
                true,
            )),
            Some(p) => {
                if age < p.min_age_years {
                    warnings.push(warn(
                        "below_min_age",
                        format!(
                            "{} chỉ dùng từ {} tuổi (người tiêm {} tuổi)",
                            p.label, p.min_age_years, age
                        ),
                        format!(
                            "{} is for ages {}+ (person is {})",
                            p.label, p.min_age_years, age
                        ),
                        p.verified,
                    ));
                }
            }
        }
        let counted_before = out.iter().filter(|c| c.kind != DoseKind::Duplicate).count();
        match kind {
            DoseKind::Primary(n) if n > 1 => {
                if let (Some(prev), Some(s)) = (previous, series) {
                    let days = (d.date - prev.date).num_days();
                    if days < s.min_interval_days {
                        warnings.push(warn(
                            "interval_too_short",
                            format!("Mũi {n} cách mũi trước {days} ngày; {} cần ít nhất {} ngày", s.label, s.min_interval_days),
                            format!("Dose {n} is {days} days after the previous one; {} needs at least {}", s.label, s.min_interval_days),
                            s.verified,
                        ));
                    }
                    let earlier = rules
                        .product(&prev.product)
                        .map(|p| p.mixing_group.as_str());
                    let later = product.map(|p| p.mixing_group.as_str());
                    if let (Some(e), Some(l)) = (earlier, later)
                        && e != l
                        && !rules.mixing_allowed(e, l)
                    {
                        warnings.push(warn(
                            "mixing_not_allowed",
                            format!(
                                "Không được tiêm trộn {} sau {}",
                                product.map(|p| p.label.as_str()).unwrap_or(""),
                                s.label
                            ),
                            format!(
                                "{} may not follow {} in a primary series",
                                product.map(|p| p.label.as_str()).unwrap_or(""),
                                s.label
                            ),
                            rules.mixing.verified,
                        ));
                    }
                }
            }
            DoseKind::Additional => {
                if let Some(done) = primary_complete {
                    let days = (d.date - done).num_days();
                    if days < extra.min_days_after_primary {
                        warnings.push(warn(
                            "interval_too_short",
                            format!(
                                "Mũi bổ sung cách khi xong mũi cơ bản {days} ngày; cần ít nhất {} ngày",
                                extra.min_days_after_primary
                            ),
                            format!(
                                "The additional dose is {days} days after the primary series; at least {} needed",
                                extra.min_days_after_primary
                            ),
                            extra.verified,
                        ));
                    }
                }
            }
            DoseKind::Booster(n) => {
                let (min_days, since, label_vi, label_en) = if n == 1 {
                    let adolescent =
                        (b.adolescent_age_years[0]..b.adolescent_age_years[1]).contains(&age);
                    match (adolescent, additional) {
                        (true, None) => (
                            b.adolescent_third_dose_min_days_after_dose2,
                            previous.map(|p| p.date),
                            "mũi 2",
                            "dose 2",
                        ),
                        (true, Some(_)) => (
                            b.adolescent_third_dose_min_days_after_dose2,
                            previous.map(|p| p.date),
                            "mũi bổ sung",
                            "the additional dose",
                        ),
                        (false, None) => (
                            b.booster1_min_days_after_primary,
                            primary_complete,
                            "khi xong mũi cơ bản",
                            "the primary series",
                        ),
                        (false, Some(extra_date)) => (
                            b.booster1_min_days_after_primary,
                            Some(extra_date),
                            "mũi bổ sung",
                            "the additional dose",
                        ),
                    }
                } else {
                    (
                        b.booster2_min_days_after_booster1,
                        previous.map(|p| p.date),
                        "mũi nhắc 1",
                        "booster 1",
                    )
                };
                if n > 2 {
                    warnings.push(warn(
                        "extra_dose",
                        format!(
                            "Mũi thứ {} sau mũi nhắc lại 2: không có trong lịch",
                            counted_before + 1
                        ),
                        format!(
                            "Dose {} comes after the second booster: not in the schedule",
                            counted_before + 1
                        ),
                        b.verified,
                    ));
                } else if let Some(since) = since {
                    let days = (d.date - since).num_days();
                    if days < min_days {
                        warnings.push(warn(
                            "interval_too_short",
                            format!("Mũi nhắc {n} cách {label_vi} {days} ngày; cần ít nhất {min_days} ngày"),
                            format!("Booster {n} is {days} days after {label_en}; at least {min_days} needed"),
                            b.verified,
                        ));
                    }
                }
                let min_age = if n == 1 {
                    b.booster1_min_age_years
                } else {
                    b.booster2_min_age_years
                };
                if age < min_age {
                    warnings.push(warn(
                        "below_min_age",
                        format!("Mũi nhắc {n} từ {min_age} tuổi (người tiêm {age} tuổi)"),
                        format!("Booster {n} is for ages {min_age}+ (person is {age})"),
                        b.verified,
                    ));
                }
            }
            DoseKind::Primary(_) | DoseKind::Duplicate => {}
        }
        if let Some(inf) = infections.iter().filter(|&&x| x <= d.date).max() {
            let days = (d.date - *inf).num_days();
            if days < deferral.days {
                warnings.push(warn(
                    "too_soon_after_infection",
                    format!(
                        "Tiêm {days} ngày sau khi mắc COVID-19; nên hoãn {} ngày",
                        deferral.days
                    ),
                    format!(
                        "Given {days} days after COVID-19; defer {} days",
                        deferral.days
                    ),
                    deferral.verified,
                ));
            }
        }
        if kind == DoseKind::Primary(required) {
            primary_complete = Some(d.date);
        }
        if kind == DoseKind::Additional {
            additional = Some(d.date);
        }
        out.push(ClassifiedDose {
            date: d.date,
            product: d.product.clone(),
            kind,
            warnings,
        });
        previous = Some(*d);
    }
    let last = sorted.last().map(|d| d.date);
    let counted = out.iter().filter(|c| c.kind != DoseKind::Duplicate).count() as u8;
    let mut next = match (primary_complete, last, series) {
        (None, None, _) => Some(NextDose {
            kind: DoseKind::Primary(1),
            due: add_years(
                dob,
                rules
                    .products
                    .iter()
                    .map(|p| p.min_age_years)
                    .min()
                    .unwrap_or(0),
            ),
            verified: true,
        }),
        (None, Some(last), Some(s)) => Some(NextDose {
            kind: DoseKind::Primary(counted + 1),
            due: last + chrono::Duration::days(s.min_interval_days),
            verified: s.verified,
        }),
        (None, Some(last), None) => Some(NextDose {
            kind: DoseKind::Primary(counted + 1),
            due: last,
            verified: false,
        }),
        (Some(done), Some(last), _) if boosters == 0 => {
            // Not before the minimum age; the booster interval runs from the additional dose
            // when there is one. Someone still an adolescent then waits for the adolescent
            // interval after their last dose, or until they turn adult, whichever comes first
            // (the rule `evaluate` applies to a dose given on that date).
            let adult_due = additional.unwrap_or(done)
                + chrono::Duration::days(b.booster1_min_days_after_primary);
            let due = adult_due.max(add_years(dob, b.booster1_min_age_years));
            let due = if age_on(dob, due).unwrap_or(0) < b.adolescent_age_years[1] {
                let adolescent_due =
                    last + chrono::Duration::days(b.adolescent_third_dose_min_days_after_dose2);
                due.max(adolescent_due.min(add_years(dob, b.adolescent_age_years[1])))
            } else {
                due
            };
            Some(NextDose {
                kind: DoseKind::Booster(1),
                due,
                verified: b.verified,
            })
        }
        (Some(_), Some(last), _) if boosters == 1 => Some(NextDose {
            kind: DoseKind::Booster(2),
            due: (last + chrono::Duration::days(b.booster2_min_days_after_booster1))
                .max(add_years(dob, b.booster2_min_age_years)),
            verified: b.verified,
        }),
        _ => None,
    };
    if let (Some(n), Some(inf)) = (next.as_mut(), infections.iter().max()) {
        let after = *inf + chrono::Duration::days(deferral.days);
        if after > n.due {
            n.due = after;
            n.verified &= deferral.verified;
        }
    }
    ScheduleStatus {
        ruleset: rules.id.clone(),
        doses: out,
        primary_complete,
        additional,
        boosters,
        next,
    }
}

/// Where a person stands for the door-to-door follow-up lists on `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FollowUp {
    /// No dose and younger than `follow_up.min_age_years` on `as_of`.
    NotEligible,
    /// No dose and old enough.
    NotVaccinated,
    /// The next dose was due on `due` and `due + overdue_grace_days < as_of`;
    /// `days_overdue` counts from `due`.
    Overdue {
        kind: DoseKind,
        due: NaiveDate,
        days_overdue: i64,
    },
    /// The next dose is due (`due <= as_of`), still within the grace period.
    Due { kind: DoseKind, due: NaiveDate },
    /// Nothing due yet, or nothing next (after the second booster).
    UpToDate,
}

/// The follow-up state of a person born on `dob` whose doses [`evaluate`] gave `status`.
pub fn follow_up(
    rules: &Rules,
    dob: NaiveDate,
    status: &ScheduleStatus,
    as_of: NaiveDate,
) -> FollowUp {
    let f = &rules.follow_up;
    if status.doses.is_empty() {
        return if age_on(dob, as_of).unwrap_or(0) < f.min_age_years {
            FollowUp::NotEligible
        } else {
            FollowUp::NotVaccinated
        };
    }
    match &status.next {
        Some(n) if n.due + chrono::Duration::days(f.overdue_grace_days) < as_of => {
            FollowUp::Overdue {
                kind: n.kind,
                due: n.due,
                days_overdue: (as_of - n.due).num_days(),
            }
        }
        Some(n) if n.due <= as_of => FollowUp::Due {
            kind: n.kind,
            due: n.due,
        },
        _ => FollowUp::UpToDate,
    }
}

/// The dates a person reached each coverage level (the additional dose is not a booster).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CoverageLevels {
    pub first_dose: Option<NaiveDate>,
    pub primary_complete: Option<NaiveDate>,
    pub booster1: Option<NaiveDate>,
    pub booster2: Option<NaiveDate>,
}

/// The coverage levels of `status`, for the coverage counters.
pub fn levels(status: &ScheduleStatus) -> CoverageLevels {
    let booster = |n: u8| {
        status
            .doses
            .iter()
            .find(|d| d.kind == DoseKind::Booster(n))
            .map(|d| d.date)
    };
    CoverageLevels {
        first_dose: status.doses.iter().map(|d| d.date).min(),
        primary_complete: status.primary_complete,
        booster1: booster(1),
        booster2: booster(2),
    }
}

/// The warnings `new` would get after `history` (for the dose-recording form).
pub fn check_new_dose(
    rules: &Rules,
    dob: NaiveDate,
    history: &[DoseEvent],
    infections: &[NaiveDate],
    new: &DoseEvent,
) -> (DoseKind, Vec<Warning>) {
    let mut all: Vec<DoseEvent> = history.to_vec();
    all.push(new.clone());
    let status = evaluate(rules, dob, &all, infections);
    let d = status
        .doses
        .iter()
        .rev()
        .find(|d| d.date == new.date && d.product == new.product)
        .expect("the new dose is classified");
    (d.kind, d.warnings.clone())
}

/// Whether two doses are of the same product (DCC code or alias, resolved).
fn same_product(a: &DoseEvent, b: &DoseEvent) -> bool {
    let code = |text: &str| {
        VaccineCatalogue::embedded()
            .resolve(text)
            .map(|p| p.code.clone())
            .unwrap_or_else(|| text.trim().to_string())
    };
    code(&a.product) == code(&b.product)
}

fn add_years(d: NaiveDate, years: u32) -> NaiveDate {
    d.checked_add_months(chrono::Months::new(years * 12))
        .unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn dose(date: NaiveDate, product: &str) -> DoseEvent {
        DoseEvent {
            date,
            product: product.into(),
            additional: false,
        }
    }

    fn extra(date: NaiveDate, product: &str) -> DoseEvent {
        DoseEvent {
            additional: true,
            ..dose(date, product)
        }
    }

    #[test]
    fn primary_series_length_depends_on_the_first_product() {
        let r = Rules::embedded();
        let adult = d(1980, 1, 1);
        let j = evaluate(r, adult, &[dose(d(2021, 9, 1), "Janssen")], &[]);
        assert_eq!(j.primary_complete, Some(d(2021, 9, 1)));
        assert_eq!(j.next.as_ref().unwrap().kind, DoseKind::Booster(1));
        assert_eq!(j.next.unwrap().due, d(2021, 11, 30));
        let a = evaluate(
            r,
            adult,
            &[
                dose(d(2021, 9, 1), "Abdala"),
                dose(d(2021, 9, 15), "Abdala"),
            ],
            &[],
        );
        assert_eq!(a.primary_complete, None, "Abdala needs 3 doses");
        assert_eq!(a.next.as_ref().unwrap().kind, DoseKind::Primary(3));
        assert!(!a.next.unwrap().verified, "Abdala's interval is unverified");
        let p = evaluate(
            r,
            adult,
            &[
                dose(d(2021, 9, 1), "Pfizer"),
                dose(d(2021, 9, 22), "EU/1/20/1528"),
            ],
            &[],
        );
        assert_eq!(p.primary_complete, Some(d(2021, 9, 22)));
        assert!(p.doses.iter().all(|x| x.warnings.is_empty()));
    }

    #[test]
    fn boosters_and_their_intervals() {
        let r = Rules::embedded();
        let s = evaluate(
            r,
            d(1970, 5, 5),
            &[
                dose(d(2021, 8, 1), "AstraZeneca"),
                dose(d(2021, 10, 1), "Pfizer"),
                dose(d(2021, 11, 1), "Moderna"),
                dose(d(2022, 6, 1), "Pfizer"),
                dose(d(2022, 12, 1), "Pfizer"),
            ],
            &[],
        );
        let kinds: Vec<String> = s.doses.iter().map(|x| x.kind.code()).collect();
        assert_eq!(
            kinds,
            [
                "primary_1",
                "primary_2",
                "booster_1",
                "booster_2",
                "booster_3"
            ]
        );
        assert!(s.doses[1].warnings.is_empty(), "AZ then Pfizer is allowed");
        let b1 = &s.doses[2].warnings;
        assert_eq!(b1[0].code, "interval_too_short");
        assert!(!b1[0].verified, "booster intervals are unverified");
        assert!(s.doses[3].warnings.is_empty());
        assert_eq!(s.doses[4].warnings[0].code, "extra_dose");
        assert_eq!(s.next, None);
    }

    #[test]
    fn warnings_for_mixing_age_interval_and_infection() {
        let r = Rules::embedded();
        let child = d(2014, 3, 1);
        let (kind, w) = check_new_dose(r, child, &[], &[], &dose(d(2022, 4, 1), "AstraZeneca"));
        assert_eq!(kind, DoseKind::Primary(1));
        assert_eq!(w[0].code, "below_min_age");
        let history = [dose(d(2021, 9, 1), "Vero Cell")];
        let (_, w) = check_new_dose(
            r,
            d(1990, 1, 1),
            &history,
            &[],
            &dose(d(2021, 9, 10), "Pfizer"),
        );
        let codes: Vec<&str> = w.iter().map(|x| x.code).collect();
        assert_eq!(codes, ["interval_too_short", "mixing_not_allowed"]);
        let (_, w) = check_new_dose(
            r,
            d(1990, 1, 1),
            &[],
            &[d(2022, 1, 1)],
            &dose(d(2022, 2, 1), "Moderna"),
        );
        assert_eq!(w[0].code, "too_soon_after_infection");
        // Next due respects the deferral after infection.
        let s = evaluate(
            r,
            d(1990, 1, 1),
            &[dose(d(2021, 9, 1), "Moderna")],
            &[d(2021, 9, 10)],
        );
        assert_eq!(s.next.unwrap().due, d(2021, 12, 9));
        // Unknown products are named.
        let s = evaluate(r, d(1990, 1, 1), &[dose(d(2021, 9, 1), "Thuốc lạ")], &[]);
        assert_eq!(s.doses[0].warnings[0].code, "unknown_product");
    }

    #[test]
    fn mixing_goes_one_way_astrazeneca_then_mrna() {
        let r = Rules::embedded();
        let adult = d(1990, 1, 1);
        let codes = |first: &str, second: &str| -> Vec<&'static str> {
            let history = [dose(d(2021, 8, 1), first)];
            let (kind, w) = check_new_dose(r, adult, &history, &[], &dose(d(2021, 10, 1), second));
            assert_eq!(kind, DoseKind::Primary(2));
            w.iter().map(|x| x.code).collect()
        };
        assert!(codes("AstraZeneca", "Pfizer").is_empty());
        assert!(codes("AstraZeneca", "Moderna").is_empty());
        assert!(codes("Pfizer", "Moderna").is_empty());
        assert!(codes("Moderna", "Pfizer").is_empty());
        assert_eq!(codes("Pfizer", "AstraZeneca"), ["mixing_not_allowed"]);
        assert_eq!(codes("Moderna", "AstraZeneca"), ["mixing_not_allowed"]);
        assert_eq!(codes("AstraZeneca", "Vero Cell"), ["mixing_not_allowed"]);
    }

    #[test]
    fn a_dose_recorded_twice_counts_once() {
        let r = Rules::embedded();
        let adult = d(1990, 1, 1);
        // The same injection entered twice (alias and code), then a real second dose.
        let doses = [
            dose(d(2021, 8, 1), "Pfizer"),
            dose(d(2021, 8, 1), "EU/1/20/1528"),
            dose(d(2021, 8, 25), "Pfizer"),
        ];
        let s = evaluate(r, adult, &doses, &[]);
        let kinds: Vec<DoseKind> = s.doses.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                DoseKind::Primary(1),
                DoseKind::Duplicate,
                DoseKind::Primary(2)
            ]
        );
        assert_eq!(s.doses[1].warnings[0].code, "duplicate_dose");
        assert_eq!(s.primary_complete, Some(d(2021, 8, 25)));
        // The interval of dose 2 runs from dose 1 (24 days, no warning).
        assert!(s.doses[2].warnings.is_empty(), "{:?}", s.doses[2].warnings);
        // One dose entered twice is not a complete series, and not a booster either.
        let s = evaluate(r, adult, &doses[..2], &[]);
        assert_eq!(s.primary_complete, None);
        assert_eq!(levels(&s).primary_complete, None);
        let (kind, w) = check_new_dose(r, adult, &doses, &[], &dose(d(2021, 8, 25), "Pfizer"));
        assert_eq!(kind, DoseKind::Duplicate);
        assert_eq!(w[0].code, "duplicate_dose");
        assert_eq!(s.next.unwrap().kind, DoseKind::Primary(2));
        // Two products on one day are two doses (with the interval warning), not a duplicate.
        let s = evaluate(
            r,
            adult,
            &[
                dose(d(2021, 8, 1), "Pfizer"),
                dose(d(2021, 8, 1), "Moderna"),
            ],
            &[],
        );
        assert_eq!(s.doses[1].kind, DoseKind::Primary(2));
        assert_eq!(s.doses[1].warnings[0].code, "interval_too_short");
    }

    #[test]
    fn adolescents_wait_longer_for_the_third_dose() {
        let r = Rules::embedded();
        let teen = d(2008, 6, 1);
        let s = evaluate(
            r,
            teen,
            &[
                dose(d(2021, 11, 1), "Pfizer"),
                dose(d(2021, 11, 22), "Pfizer"),
            ],
            &[],
        );
        // 150 days after dose 2 rather than 90 after the series.
        assert_eq!(s.next.unwrap().due, d(2022, 4, 21));
    }

    #[test]
    fn every_product_rule_names_a_catalogue_product_and_a_source() {
        let r = Rules::embedded();
        for p in &r.products {
            assert!(
                VaccineCatalogue::embedded().resolve(&p.mp).is_some(),
                "{}",
                p.mp
            );
            assert!(r.sources.contains_key(&p.source), "{}", p.source);
        }
        assert!(r.sources.contains_key(&r.boosters.source));
        assert!(r.sources.contains_key(&r.additional_dose.source));
        assert!(r.sources.contains_key(&r.follow_up.source));
        assert!(!r.additional_dose.verified && !r.follow_up.verified);
        assert_eq!(
            r.follow_up.min_age_years, 5,
            "Resolution 38's youngest group"
        );
    }

    fn kinds(s: &ScheduleStatus) -> Vec<String> {
        s.doses.iter().map(|x| x.kind.code()).collect()
    }

    #[test]
    fn additional_dose_after_the_primary_series_comes_before_boosters() {
        let r = Rules::embedded();
        let adult = d(1960, 1, 1);
        let primary = [
            dose(d(2021, 9, 1), "Pfizer"),
            dose(d(2021, 9, 22), "Pfizer"),
        ];
        // 28 days after the series: no warning; booster 1 is due 90 days after the additional.
        let mut doses = primary.to_vec();
        doses.push(extra(d(2021, 10, 20), "Moderna"));
        let s = evaluate(r, adult, &doses, &[]);
        assert_eq!(kinds(&s), ["primary_1", "primary_2", "additional"]);
        assert!(s.doses[2].warnings.is_empty());
        assert_eq!(s.additional, Some(d(2021, 10, 20)));
        assert_eq!(s.boosters, 0);
        let next = s.next.unwrap();
        assert_eq!(
            (next.kind, next.due),
            (DoseKind::Booster(1), d(2022, 1, 18))
        );
        // The booster after it is booster 1; booster 2 follows it.
        doses.push(dose(d(2022, 1, 18), "Pfizer"));
        let s = evaluate(r, adult, &doses, &[]);
        assert_eq!(
            kinds(&s),
            ["primary_1", "primary_2", "additional", "booster_1"]
        );
        assert!(s.doses[3].warnings.is_empty());
        assert_eq!(s.boosters, 1);
        let next = s.next.unwrap();
        assert_eq!(
            (next.kind, next.due),
            (DoseKind::Booster(2), d(2022, 5, 18))
        );
        // Booster 1's interval runs from the additional dose (91 days after the series, 62
        // after the additional).
        let mut early = primary.to_vec();
        early.push(extra(d(2021, 10, 20), "Pfizer"));
        early.push(dose(d(2021, 12, 22), "Pfizer"));
        let s = evaluate(r, adult, &early, &[]);
        assert_eq!(s.doses[3].warnings[0].code, "interval_too_short");
        // 27 days after the series is too soon, by an unverified rule.
        let mut soon = primary.to_vec();
        soon.push(extra(d(2021, 10, 19), "Pfizer"));
        let (kind, w) = check_new_dose(r, adult, &primary, &[], &extra(d(2021, 10, 19), "Pfizer"));
        assert_eq!(kind, DoseKind::Additional);
        assert_eq!(w[0].code, "interval_too_short");
        assert!(!w[0].verified);
        assert_eq!(
            evaluate(r, adult, &soon, &[]).additional,
            Some(d(2021, 10, 19))
        );
        // The flag defaults to false in JSON.
        let e: DoseEvent =
            serde_json::from_str(r#"{"date":"2021-09-01","product":"Pfizer"}"#).unwrap();
        assert!(!e.additional);
        assert_eq!(DoseKind::Additional.code(), "additional");
    }

    #[test]
    fn additional_declared_too_early_or_too_late() {
        let r = Rules::embedded();
        let adult = d(1960, 1, 1);
        let s = evaluate(
            r,
            adult,
            &[
                dose(d(2021, 9, 1), "Pfizer"),
                extra(d(2021, 9, 22), "Pfizer"),
            ],
            &[],
        );
        assert_eq!(kinds(&s), ["primary_1", "primary_2"]);
        assert_eq!(
            s.doses[1].warnings[0].code,
            "additional_before_primary_complete"
        );
        assert_eq!(s.primary_complete, Some(d(2021, 9, 22)));
        assert_eq!(s.additional, None);
        // After a booster (or a second one), a declared additional dose is a booster.
        let s = evaluate(
            r,
            adult,
            &[
                dose(d(2021, 9, 1), "Janssen"),
                dose(d(2021, 12, 1), "Pfizer"),
                extra(d(2022, 4, 1), "Pfizer"),
            ],
            &[],
        );
        assert_eq!(kinds(&s), ["primary_1", "booster_1", "booster_2"]);
        assert_eq!(s.doses[2].warnings[0].code, "additional_not_counted");
        assert_eq!(s.additional, None);
    }

    #[test]
    fn follow_up_states_at_their_boundaries() {
        let r = Rules::embedded();
        let none = |dob| evaluate(r, dob, &[], &[]);
        let child = d(2018, 1, 1);
        assert_eq!(
            follow_up(r, child, &none(child), d(2022, 12, 31)),
            FollowUp::NotEligible
        );
        assert_eq!(
            follow_up(r, child, &none(child), d(2023, 1, 1)),
            FollowUp::NotVaccinated
        );
        // A younger child with a dose is followed up.
        let s = evaluate(r, child, &[dose(d(2021, 9, 1), "Vero Cell")], &[]);
        assert_eq!(
            follow_up(r, child, &s, d(2021, 9, 22)),
            FollowUp::Due {
                kind: DoseKind::Primary(2),
                due: d(2021, 9, 22)
            }
        );
        let adult = d(1980, 1, 1);
        let s = evaluate(r, adult, &[dose(d(2021, 9, 1), "Pfizer")], &[]);
        let due = d(2021, 9, 22);
        let at = |as_of| follow_up(r, adult, &s, as_of);
        assert_eq!(at(d(2021, 9, 21)), FollowUp::UpToDate);
        let is_due = FollowUp::Due {
            kind: DoseKind::Primary(2),
            due,
        };
        assert_eq!(at(due), is_due);
        assert_eq!(at(d(2021, 10, 22)), is_due, "30 days of grace");
        let overdue = FollowUp::Overdue {
            kind: DoseKind::Primary(2),
            due,
            days_overdue: 31,
        };
        assert_eq!(at(d(2021, 10, 23)), overdue);
        assert_eq!(
            serde_json::to_value(overdue).unwrap(),
            serde_json::json!({"state": "overdue", "kind": {"primary": 2}, "due": "2021-09-22", "days_overdue": 31})
        );
        assert_eq!(
            serde_json::to_value(FollowUp::NotEligible).unwrap(),
            serde_json::json!({"state": "not_eligible"})
        );
        // Nothing next after the second booster.
        let s = evaluate(
            r,
            adult,
            &[
                dose(d(2021, 9, 1), "Janssen"),
                dose(d(2021, 12, 1), "Pfizer"),
                dose(d(2022, 4, 1), "Pfizer"),
            ],
            &[],
        );
        assert_eq!(follow_up(r, adult, &s, d(2030, 1, 1)), FollowUp::UpToDate);
    }

    #[test]
    fn young_people_wait_for_the_booster_minimum_ages() {
        let r = Rules::embedded();
        // Primary series at 9: booster 1 is due on the 12th birthday.
        let child = d(2012, 3, 1);
        let s = evaluate(
            r,
            child,
            &[
                dose(d(2021, 12, 1), "Pfizer"),
                dose(d(2021, 12, 22), "Pfizer"),
            ],
            &[],
        );
        assert_eq!(s.next.unwrap().due, d(2024, 3, 1));
        // Booster 1 at 13: booster 2 is due on the 18th birthday.
        let teen = d(2008, 6, 1);
        let s = evaluate(
            r,
            teen,
            &[
                dose(d(2021, 11, 1), "Pfizer"),
                dose(d(2021, 11, 22), "Pfizer"),
                dose(d(2022, 4, 21), "Pfizer"),
            ],
            &[],
        );
        let next = s.next.unwrap();
        assert_eq!((next.kind, next.due), (DoseKind::Booster(2), d(2026, 6, 1)));
        // Turning 18 before the adolescent interval ends: the adult interval applies from the
        // birthday, consistently with the warnings a dose that day would get.
        let nearly = d(2004, 4, 1);
        let primary = [
            dose(d(2021, 12, 1), "Pfizer"),
            dose(d(2021, 12, 22), "Pfizer"),
        ];
        let s = evaluate(r, nearly, &primary, &[]);
        assert_eq!(s.next.unwrap().due, d(2022, 4, 1));
        let (_, w) = check_new_dose(r, nearly, &primary, &[], &dose(d(2022, 4, 1), "Pfizer"));
        assert!(w.is_empty(), "{w:?}");
        let (_, w) = check_new_dose(r, nearly, &primary, &[], &dose(d(2022, 3, 31), "Pfizer"));
        assert_eq!(w[0].code, "interval_too_short");
    }

    #[test]
    fn coverage_levels_do_not_count_the_additional_dose() {
        let r = Rules::embedded();
        let adult = d(1960, 1, 1);
        assert_eq!(
            levels(&evaluate(r, adult, &[], &[])),
            CoverageLevels::default()
        );
        let mut doses = vec![
            dose(d(2021, 9, 22), "Pfizer"),
            dose(d(2021, 9, 1), "Pfizer"),
            extra(d(2021, 10, 20), "Pfizer"),
        ];
        let l = levels(&evaluate(r, adult, &doses, &[]));
        assert_eq!(
            l,
            CoverageLevels {
                first_dose: Some(d(2021, 9, 1)),
                primary_complete: Some(d(2021, 9, 22)),
                booster1: None,
                booster2: None,
            }
        );
        doses.push(dose(d(2022, 1, 18), "Pfizer"));
        doses.push(dose(d(2022, 5, 18), "Moderna"));
        let l = levels(&evaluate(r, adult, &doses, &[]));
        assert_eq!(l.booster1, Some(d(2022, 1, 18)));
        assert_eq!(l.booster2, Some(d(2022, 5, 18)));
    }
}
