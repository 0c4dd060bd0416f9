//! Rt of a unit for the epidemic dashboard (issue 8): the unit's daily cases read from the
//! store, the time-varying reproduction number over sliding weekly windows, and a 14-day case
//! forecast, shared by `GET /api/v1/rt` and the `/epidemic-level/rt` page.
//!
//! - **Series** ([`store::CaseStore::daily_case_series`]): new cases per day (first positive
//!   date) from the unit's counters, and the imported ones among them, over the `days` days
//!   ending on `as_of`. Days without a row are zeros.
//! - **Rt** ([`domain::rt::estimate_rt`], Cori et al. 2013 with EpiEstim's defaults): 7-day
//!   windows labelled by their end day, Gamma prior mean 5 sd 5, imported cases from the series
//!   (they count in the infectiousness, never as locally infected).
//! - **Serial interval**: COVID-19 (Omicron), a shifted Gamma ([`domain::rt::discr_si`]) with the
//!   mean and sd of `crates/domain/data/serial-interval.json` ([`SerialInterval::embedded`]),
//!   which names its source and says whether the numbers were checked (`verified`).
//! - **Enough data** (the rule shown to users): a window's estimate is shown only when the window
//!   holds at least [`MIN_WINDOW_CASES`] cases (local + imported). When the *last* window holds
//!   fewer, the status is [`RtStatus::NotEnoughData`]: there is no current estimate and no
//!   forecast. (With few cases the posterior is dominated by the prior — mean 5 — and says
//!   nothing about transmission.) Every window is still returned, flagged.
//! - **Forecast** ([`domain::rt::forecast`]): the renewal equation run [`FORECAST_DAYS`] days past
//!   `as_of` with R drawn from the last window's posterior, [`FORECAST_DRAWS`] simulations from
//!   the fixed seed [`FORECAST_SEED`] (the same inputs always give the same band): median and
//!   95% interval per day.
//!
//! Aggregates only: no personal data is read or returned. The clock is a parameter (`as_of`).

use std::sync::OnceLock;

use chrono::{Days, NaiveDate};
use domain::rt::{self, ForecastDay, RtWindow};
use domain::{Error, ErrorCode};
use serde::{Deserialize, Serialize};
use store::cases::DailyCaseSeries;
use store::{CoverageUnit, Store};

use crate::care::unit_scope;

type Result<T> = std::result::Result<T, Error>;

/// The embedded serial interval file.
const SERIAL_INTERVAL_JSON: &str = include_str!("../../domain/data/serial-interval.json");

/// Days of history shown when the caller does not say.
pub const DEFAULT_DAYS: u32 = 120;
/// Fewest days of history accepted (three windows' worth).
pub const MIN_DAYS: u32 = 21;
/// Most days of history accepted (two years).
pub const MAX_DAYS: u32 = 730;
/// Cases (local + imported) a window needs for its estimate to be shown.
pub const MIN_WINDOW_CASES: i64 = 10;
/// Days projected by the forecast.
pub const FORECAST_DAYS: usize = 14;
/// Simulations of the forecast.
pub const FORECAST_DRAWS: usize = 1000;
/// Seed of the forecast's random draws (fixed: the same series gives the same band).
pub const FORECAST_SEED: u64 = 20_130_915;

/// A parametric serial interval with its source (`crates/domain/data/serial-interval.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SerialInterval {
    pub id: String,
    pub disease: String,
    pub variant: String,
    /// Mean (days).
    pub mean: f64,
    /// Standard deviation (days).
    pub sd: f64,
    /// The publication the numbers come from.
    pub source: String,
    /// Whether the numbers were checked against the source's text ("cần xác nhận" otherwise).
    pub verified: bool,
    #[serde(default)]
    pub note: String,
}

impl SerialInterval {
    /// The embedded serial interval.
    pub fn embedded() -> &'static SerialInterval {
        static SI: OnceLock<SerialInterval> = OnceLock::new();
        SI.get_or_init(|| {
            SerialInterval::from_json(SERIAL_INTERVAL_JSON)
                .expect("the embedded serial interval is valid")
        })
    }

    /// Parses a serial interval file; its mean and sd must give a valid distribution.
    pub fn from_json(text: &str) -> Result<SerialInterval> {
        let si: SerialInterval = serde_json::from_str(text).map_err(|e| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!("Tệp khoảng nối tiếp không hợp lệ: {e}"),
                format!("invalid serial interval file: {e}"),
            )
        })?;
        si.distribution()?;
        Ok(si)
    }

    /// The discretised distribution (index = days, day 0 is 0), as EpiEstim builds it.
    pub fn distribution(&self) -> Result<Vec<f64>> {
        rt::discr_si(self.mean, self.sd)
    }
}

/// One day of the series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesDay {
    pub date: NaiveDate,
    /// New cases (imported included).
    pub cases: i64,
    pub imported: i64,
}

/// One window's estimate with its dates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitWindow {
    pub date_start: NaiveDate,
    /// The day the estimate is labelled by.
    pub date_end: NaiveDate,
    /// Cases (local + imported) in the window.
    pub cases: i64,
    /// At least [`MIN_WINDOW_CASES`] cases: the estimate is shown.
    pub enough_data: bool,
    /// `t_start`, `t_end` (1-based days of the series), mean, sd, quantiles, posterior shape and
    /// scale.
    #[serde(flatten)]
    pub estimate: RtWindow,
}

/// One forecast day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastPoint {
    pub date: NaiveDate,
    /// `day_index` (1-based, continuing the series), `median`, `lower` (2.5%), `upper` (97.5%).
    #[serde(flatten)]
    pub day: ForecastDay,
}

/// Whether the last window supports an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RtStatus {
    /// The last window holds at least [`MIN_WINDOW_CASES`] cases: current Rt and forecast given.
    Ok,
    /// Too few cases in the last window: no current estimate, no forecast.
    NotEnoughData,
}

/// Rt of a unit: the series, every window, and the forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitRt {
    pub unit: CoverageUnit,
    /// First day of the series.
    pub from: NaiveDate,
    /// Last day of the series (`as_of`).
    pub to: NaiveDate,
    pub days: u32,
    /// Window length (days).
    pub window: usize,
    pub prior_mean: f64,
    pub prior_sd: f64,
    pub serial_interval: SerialInterval,
    pub min_window_cases: i64,
    pub status: RtStatus,
    pub series: Vec<SeriesDay>,
    /// Every window EpiEstim estimates, oldest first (windows ending before the mean serial
    /// interval have none).
    pub windows: Vec<UnitWindow>,
    /// [`FORECAST_DAYS`] days after `to`; empty when there is not enough data.
    pub forecast: Vec<ForecastPoint>,
    pub forecast_draws: usize,
    pub forecast_seed: u64,
}

impl UnitRt {
    /// The last window, when it holds enough cases.
    pub fn current(&self) -> Option<&UnitWindow> {
        self.windows.last().filter(|w| w.enough_data)
    }
}

/// Checks the number of days asked for.
pub fn check_days(days: u32) -> Result<u32> {
    if (MIN_DAYS..=MAX_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(Error::invalid(
            "days",
            format!("Số ngày (days) phải từ {MIN_DAYS} đến {MAX_DAYS} (nhận {days})"),
            format!("days must be between {MIN_DAYS} and {MAX_DAYS} (got {days})"),
        ))
    }
}

/// The case counts of a stored series as the estimator takes them: totals and imported per day
/// (negative counters, which a rebuild would repair, count as 0; imported never above the total).
pub fn incidence_of(series: &DailyCaseSeries) -> (Vec<f64>, Vec<f64>) {
    series
        .new_cases
        .iter()
        .zip(&series.imported)
        .map(|(&n, &i)| {
            let n = n.max(0);
            (n as f64, i.clamp(0, n) as f64)
        })
        .unzip()
}

/// Rt of `unit` over the `days` days ending on `as_of`, with the forecast (see the module docs).
pub async fn unit_rt(
    store: &dyn Store,
    unit: &CoverageUnit,
    as_of: NaiveDate,
    days: u32,
) -> Result<UnitRt> {
    let days = check_days(days)?;
    let from = as_of
        .checked_sub_days(Days::new(u64::from(days) - 1))
        .ok_or_else(|| Error::invalid("as_of", "Ngày không hợp lệ", "invalid date"))?;
    let stored = store
        .daily_case_series(&unit_scope(unit)?, from, as_of)
        .await?;
    let si = SerialInterval::embedded();
    let (incidence, imported) = incidence_of(&stored);
    let estimates = rt::estimate_rt(
        &incidence,
        Some(&imported),
        &si.distribution()?,
        rt::DEFAULT_WINDOW,
        rt::DEFAULT_PRIOR_MEAN,
        rt::DEFAULT_PRIOR_SD,
    )?;
    let date = |t: usize| from + Days::new(t as u64 - 1);
    let windows: Vec<UnitWindow> = estimates
        .into_iter()
        .map(|w| {
            let cases = incidence[w.t_start - 1..w.t_end].iter().sum::<f64>() as i64;
            UnitWindow {
                date_start: date(w.t_start),
                date_end: date(w.t_end),
                cases,
                enough_data: cases >= MIN_WINDOW_CASES,
                estimate: w,
            }
        })
        .collect();
    let last = windows.last().filter(|w| w.enough_data);
    let forecast = match last {
        Some(w) => rt::forecast(
            &incidence,
            &si.distribution()?,
            w.estimate.posterior(),
            FORECAST_DAYS,
            FORECAST_DRAWS,
            FORECAST_SEED,
        )?
        .into_iter()
        .map(|day| ForecastPoint {
            date: date(day.day_index),
            day,
        })
        .collect(),
        None => Vec::new(),
    };
    let series = incidence
        .iter()
        .zip(&imported)
        .enumerate()
        .map(|(i, (&c, &m))| SeriesDay {
            date: date(i + 1),
            cases: c as i64,
            imported: m as i64,
        })
        .collect();
    Ok(UnitRt {
        unit: unit.clone(),
        from,
        to: as_of,
        days,
        window: rt::DEFAULT_WINDOW,
        prior_mean: rt::DEFAULT_PRIOR_MEAN,
        prior_sd: rt::DEFAULT_PRIOR_SD,
        serial_interval: si.clone(),
        min_window_cases: MIN_WINDOW_CASES,
        status: if last.is_some() {
            RtStatus::Ok
        } else {
            RtStatus::NotEnoughData
        },
        series,
        windows,
        forecast,
        forecast_draws: FORECAST_DRAWS,
        forecast_seed: FORECAST_SEED,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_serial_interval_is_a_distribution_with_its_mean() {
        let si = SerialInterval::embedded();
        assert!(!si.source.is_empty() && !si.id.is_empty());
        let w = si.distribution().unwrap();
        assert_eq!(w[0], 0.0);
        let mean: f64 = w.iter().enumerate().map(|(k, p)| k as f64 * p).sum();
        assert!((mean - si.mean).abs() < 1e-6, "{mean}");
        assert!(SerialInterval::from_json("{}").is_err());
        let bad = SERIAL_INTERVAL_JSON.replace("\"mean\": 3.5", "\"mean\": 0.5");
        assert_ne!(bad, SERIAL_INTERVAL_JSON);
        assert_eq!(
            SerialInterval::from_json(&bad).unwrap_err().code,
            ErrorCode::InvalidInput
        );
    }

    #[test]
    fn days_out_of_range_are_refused_with_the_field() {
        assert_eq!(check_days(DEFAULT_DAYS).unwrap(), DEFAULT_DAYS);
        assert!(check_days(MIN_DAYS).is_ok() && check_days(MAX_DAYS).is_ok());
        for bad in [0, MIN_DAYS - 1, MAX_DAYS + 1] {
            let e = check_days(bad).unwrap_err();
            assert_eq!(e.details["field"], "days");
        }
    }

    #[test]
    fn incidence_clamps_drifted_counters() {
        let d = NaiveDate::from_ymd_opt(2022, 3, 1).unwrap();
        let s = DailyCaseSeries {
            from: d,
            to: d + Days::new(2),
            new_cases: vec![3, -1, 2],
            imported: vec![1, 1, 5],
        };
        assert_eq!(incidence_of(&s), (vec![3.0, 0.0, 2.0], vec![1.0, 0.0, 2.0]));
    }
}
