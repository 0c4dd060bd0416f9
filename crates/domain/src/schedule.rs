//! COVID-19 vaccination schedule engine over versioned rules (`data/vaccination-rules.json`: id,
//! effective date, legal sources, a `verified` flag on every number; DOMAIN.md §6).
//!
//! [`evaluate`] classifies a person's doses (primary 1/2/3, booster 1/2), says when the primary
//! series was completed (Janssen 1 dose, Abdala 3, others 2, the first product deciding), what is
//! due next and from when, and attaches warnings to doses that break the rules (interval too
//! short, product mixing not allowed, below the minimum age, too soon after an infection, a dose
//! beyond the second booster). Each warning says whether the rule behind it is verified, so the UI
//! can mark unverified ones "cần xác nhận". [`check_new_dose`] gives the warnings a new dose
//! would get, for the recording form.

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

    fn mixing_allowed(&self, earlier: &str, later: &str) -> bool {
        self.mixing
            .allowed
            .iter()
            .any(|[a, b]| (a == earlier && b == later) || (a == later && b == earlier))
    }
}

/// One dose given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoseEvent {
    pub date: NaiveDate,
    /// DCC `mp` code or alias.
    pub product: String,
}

/// What a dose counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DoseKind {
    Primary(u8),
    Booster(u8),
}

impl DoseKind {
    /// `primary_1`, `booster_2`, …
    pub fn code(self) -> String {
        match self {
            DoseKind::Primary(n) => format!("primary_{n}"),
            DoseKind::Booster(n) => format!("booster_{n}"),
        }
    }
}

/// A rule a dose breaks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// `interval_too_short`, `mixing_not_allowed`, `below_min_age`, `too_soon_after_infection`,
    /// `extra_dose`, `unknown_product`.
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
    let mut primary_complete: Option<NaiveDate> = None;
    let mut boosters = 0u8;
    for (i, d) in sorted.iter().enumerate() {
        let product = rules.product(&d.product);
        let primaries = out
            .iter()
            .filter(|c| matches!(c.kind, DoseKind::Primary(_)))
            .count() as u8;
        let kind = if primaries < required {
            DoseKind::Primary(primaries + 1)
        } else {
            boosters += 1;
            DoseKind::Booster(boosters)
        };
        let mut warnings = Vec::new();
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
        let previous = i.checked_sub(1).map(|j| sorted[j]);
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
            DoseKind::Booster(n) => {
                let (min_days, since, label_vi, label_en) = if n == 1 {
                    let adolescent =
                        (b.adolescent_age_years[0]..b.adolescent_age_years[1]).contains(&age);
                    if adolescent {
                        (
                            b.adolescent_third_dose_min_days_after_dose2,
                            previous.map(|p| p.date),
                            "mũi 2",
                            "dose 2",
                        )
                    } else {
                        (
                            b.booster1_min_days_after_primary,
                            primary_complete,
                            "khi xong mũi cơ bản",
                            "the primary series",
                        )
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
                        format!("Mũi thứ {} sau mũi nhắc lại 2: không có trong lịch", i + 1),
                        format!(
                            "Dose {} comes after the second booster: not in the schedule",
                            i + 1
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
            DoseKind::Primary(_) => {}
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
        out.push(ClassifiedDose {
            date: d.date,
            product: d.product.clone(),
            kind,
            warnings,
        });
    }
    let last = sorted.last().map(|d| d.date);
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
            kind: DoseKind::Primary(out.len() as u8 + 1),
            due: last + chrono::Duration::days(s.min_interval_days),
            verified: s.verified,
        }),
        (None, Some(last), None) => Some(NextDose {
            kind: DoseKind::Primary(out.len() as u8 + 1),
            due: last,
            verified: false,
        }),
        (Some(done), Some(last), _) if boosters == 0 => {
            let adolescent_due =
                last + chrono::Duration::days(b.adolescent_third_dose_min_days_after_dose2);
            let adult_due = done + chrono::Duration::days(b.booster1_min_days_after_primary);
            let due = adult_due.max(add_years(dob, b.booster1_min_age_years));
            let due = if age_on(dob, adult_due).unwrap_or(0) < b.adolescent_age_years[1] {
                due.max(adolescent_due)
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
        boosters,
        next,
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
    }
}
