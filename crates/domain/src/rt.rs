//! Time-varying reproduction number (Rt) and a short renewal-equation forecast.
//!
//! The estimator is the one of Cori et al. (2013), "A new framework and software to estimate
//! time-varying reproduction numbers during epidemics" (Am. J. Epidemiol. 178:1505–1512), with the
//! conventions of the EpiEstim R package's `estimate_R(method = "non_parametric_si")` and its
//! default `config`:
//!
//! - Days are numbered from 1 (`t = 1..=T`), as in EpiEstim's output.
//! - Sliding windows of `window` days labelled by their end: `t_start = 2..=T-window+1`,
//!   `t_end = t_start + window - 1`.
//! - Cases are split into local and imported. When no imported series is given, the first day's
//!   cases are imported and every later case is local (EpiEstim's convention for a single
//!   incidence vector). When one is given, the incidence is the *total* per day and `imported` the
//!   part of it that was imported; day 1 never enters a numerator (windows start at day 2), so its
//!   split does not matter, as in EpiEstim, which moves day-1 local cases to imported.
//! - Total infectiousness `Λ_t = Σ_{s≥1} w_s (local_{t-s} + imported_{t-s})`.
//! - Gamma prior on R with mean 5 and sd 5 ([`DEFAULT_PRIOR_MEAN`], [`DEFAULT_PRIOR_SD`]), i.e.
//!   shape `(mean/sd)²`, scale `sd²/mean`. The posterior for a window is Gamma with shape
//!   `a_prior + Σ local_t` and scale `1 / (1/scale_prior + Σ Λ_t)`, both sums over the window.
//! - Windows whose end day is not after the mean serial interval (`t_end <= Σ k w_k`) have no
//!   estimate in EpiEstim (it computes NA and drops those rows); [`estimate_rt`] skips them too, so
//!   the result may start later than `t_start = 2` for a long serial interval. A window whose
//!   infectiousness sums to 0 is *not* skipped: its posterior is the prior updated by the window's
//!   local cases, exactly as EpiEstim reports it.
//!
//! [`discr_si`] builds the discretised serial interval EpiEstim uses for a parametric SI (a gamma
//! distribution shifted by one day). [`forecast`] projects incidence a few days ahead by
//! simulating the renewal equation with R drawn from a window's posterior.
//!
//! Pure code: no I/O, no clock (each thread memoises standard Gamma quantiles by shape, which
//! changes no result, see [`standard_quantiles`]). Gamma quantiles and CDFs come from `statrs`; random draws from
//! `rand_distr` on a seeded ChaCha generator, so a forecast is reproducible from its seed.

use std::cell::RefCell;
use std::collections::HashMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma as GammaSampler, Poisson};
use serde::Serialize;
use statrs::distribution::{Continuous, ContinuousCDF, Gamma};
use statrs::function::gamma::checked_gamma_lr;

use crate::Error;
use crate::error::Result;

/// EpiEstim's default prior mean of R.
pub const DEFAULT_PRIOR_MEAN: f64 = 5.0;
/// EpiEstim's default prior standard deviation of R.
pub const DEFAULT_PRIOR_SD: f64 = 5.0;
/// EpiEstim's default window length (days).
pub const DEFAULT_WINDOW: usize = 7;
/// Largest deviation from 1 allowed for the sum of a serial interval distribution (EpiEstim's
/// `check_si_distr` uses the same 0.01).
pub const SI_SUM_TOLERANCE: f64 = 0.01;
/// [`discr_si`] stops once the probability mass left beyond the last day is below this.
pub const SI_TAIL_MASS: f64 = 1e-10;
/// [`discr_si`] refuses distributions that need more days than this to reach [`SI_TAIL_MASS`].
pub const SI_MAX_DAYS: usize = 10_000;

/// A Gamma distribution by shape and scale (mean `shape * scale`), e.g. the posterior of R.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GammaPosterior {
    pub shape: f64,
    pub scale: f64,
}

/// The posterior of R over one window of days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RtWindow {
    /// First day of the window, 1-based.
    pub t_start: usize,
    /// Last day of the window, 1-based; the estimate is labelled by this day.
    pub t_end: usize,
    pub mean: f64,
    pub sd: f64,
    pub q025: f64,
    pub q05: f64,
    pub q25: f64,
    pub median: f64,
    pub q75: f64,
    pub q95: f64,
    pub q975: f64,
    /// Posterior Gamma shape.
    pub shape: f64,
    /// Posterior Gamma scale.
    pub scale: f64,
}

impl RtWindow {
    /// The posterior distribution of R in this window (input to [`forecast`]).
    pub fn posterior(&self) -> GammaPosterior {
        GammaPosterior {
            shape: self.shape,
            scale: self.scale,
        }
    }
}

/// One projected day of [`forecast`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastDay {
    /// 1-based day in the extended series: the first forecast day is `incidence.len() + 1`.
    pub day_index: usize,
    /// Median of the simulated incidence.
    pub median: f64,
    /// 2.5% quantile of the simulated incidence.
    pub lower: f64,
    /// 97.5% quantile of the simulated incidence.
    pub upper: f64,
}

fn invalid(field: &str, vi: impl Into<String>, en: impl Into<String>) -> Error {
    Error::invalid(field, vi, en)
}

/// CDF at `x` of a Gamma with the given shape and scale (0 for `x <= 0`).
fn gamma_cdf(x: f64, shape: f64, scale: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    checked_gamma_lr(shape, x / scale).unwrap_or(f64::NAN)
}

/// The probability `w_k` that the serial interval is `k` days, for a serial interval that is 1 day
/// plus a Gamma with mean `mu - 1` and standard deviation `sigma`, the delay starting uniformly
/// within a day (Cori et al. 2013, Web Appendix 11; EpiEstim's `discr_si`):
///
/// `w_k = k F(k) + (k-2) F(k-2) - 2(k-1) F(k-1) + (mu-1) [2 G(k-1) - G(k-2) - G(k)]`
///
/// where `F` is the CDF of Gamma(shape `a = ((mu-1)/sigma)²`, scale `b = sigma²/(mu-1)`) and `G`
/// the CDF of Gamma(shape `a + 1`, scale `b`), both 0 below 0. Small negative values from rounding
/// are clamped to 0, as EpiEstim does. `w_0 = 0`. Not normalised; needs `mu > 1`, `sigma > 0`.
pub fn discr_si_at(k: usize, mu: f64, sigma: f64) -> f64 {
    let m = mu - 1.0;
    let a = (m / sigma).powi(2);
    let b = sigma * sigma / m;
    let kf = k as f64;
    let f = |x: f64| gamma_cdf(x, a, b);
    let g = |x: f64| gamma_cdf(x, a + 1.0, b);
    let w = kf * f(kf) + (kf - 2.0) * f(kf - 2.0) - 2.0 * (kf - 1.0) * f(kf - 1.0)
        + m * (2.0 * g(kf - 1.0) - g(kf - 2.0) - g(kf));
    w.max(0.0)
}

/// The discretised serial interval for days `0..=k_max` ([`discr_si_at`] for each day), for a
/// serial interval of mean `mu` and standard deviation `sigma` (days).
///
/// `k_max` is the first day at which the probability mass beyond it is below [`SI_TAIL_MASS`]
/// (and at least the mean), so nothing that matters is cut off; the truncated vector is then
/// divided by its sum so that it sums to exactly 1, as EpiEstim normalises discretised serial
/// intervals (`coarse2estim`). (EpiEstim's `estimate_R` with `parametric_si` instead truncates at
/// `T - 1` days without rescaling; the two differ by less than [`SI_TAIL_MASS`], and days beyond
/// `T - 1` never enter the infectiousness.) Errors unless `mu > 1` and `sigma > 0` are finite, or
/// if more than [`SI_MAX_DAYS`] days would be needed.
pub fn discr_si(mu: f64, sigma: f64) -> Result<Vec<f64>> {
    if !(mu.is_finite() && mu > 1.0) {
        return Err(invalid(
            "si",
            format!("Khoảng nối tiếp trung bình phải lớn hơn 1 ngày (nhận {mu})"),
            format!("mean serial interval must be greater than 1 day (got {mu})"),
        ));
    }
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(invalid(
            "si",
            format!("Độ lệch chuẩn của khoảng nối tiếp phải dương (nhận {sigma})"),
            format!("serial interval standard deviation must be positive (got {sigma})"),
        ));
    }
    let mut w = Vec::new();
    let mut total = 0.0;
    for k in 0..=SI_MAX_DAYS {
        let p = discr_si_at(k, mu, sigma);
        if !p.is_finite() {
            break;
        }
        w.push(p);
        total += p;
        if k as f64 >= mu && 1.0 - total < SI_TAIL_MASS {
            for x in &mut w {
                *x /= total;
            }
            return Ok(w);
        }
    }
    Err(invalid(
        "si",
        format!(
            "Khoảng nối tiếp (trung bình {mu}, độ lệch chuẩn {sigma}) quá dài: cần hơn {SI_MAX_DAYS} ngày"
        ),
        format!(
            "serial interval (mean {mu}, sd {sigma}) is too long: needs more than {SI_MAX_DAYS} days"
        ),
    ))
}

/// Checks a serial interval distribution as EpiEstim does: at least two entries, all finite and
/// non-negative, `w_0 = 0`, and a sum within [`SI_SUM_TOLERANCE`] of 1.
pub fn validate_si(si: &[f64]) -> Result<()> {
    if si.len() < 2 {
        return Err(invalid(
            "si",
            "Phân bố khoảng nối tiếp cần ít nhất 2 giá trị (ngày 0 và ngày 1)",
            "serial interval distribution needs at least 2 values (days 0 and 1)",
        ));
    }
    if let Some((k, v)) = si
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        return Err(invalid(
            "si",
            format!("Xác suất khoảng nối tiếp ngày {k} không hợp lệ: {v}"),
            format!("serial interval probability for day {k} is invalid: {v}"),
        ));
    }
    if si[0] != 0.0 {
        return Err(invalid(
            "si",
            format!(
                "Xác suất khoảng nối tiếp ngày 0 phải bằng 0 (nhận {})",
                si[0]
            ),
            format!(
                "serial interval probability for day 0 must be 0 (got {})",
                si[0]
            ),
        ));
    }
    let sum: f64 = si.iter().sum();
    if (sum - 1.0).abs() > SI_SUM_TOLERANCE {
        return Err(invalid(
            "si",
            format!("Tổng phân bố khoảng nối tiếp phải bằng 1 (nhận {sum})"),
            format!("serial interval distribution must sum to 1 (got {sum})"),
        ));
    }
    Ok(())
}

fn validate_counts(field: &str, what_vi: &str, xs: &[f64]) -> Result<()> {
    if let Some((i, v)) = xs
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        let day = i + 1;
        return Err(invalid(
            field,
            format!("{what_vi} ngày thứ {day} không hợp lệ: {v} (phải là số không âm)"),
            format!("{field} on day {day} is invalid: {v} (must be a non-negative number)"),
        ));
    }
    Ok(())
}

/// `Λ_t` for every day (0-based index `i` is day `t = i + 1`): `Σ_{s=1}^{i} w_s total_{i-s}`.
fn infectiousness(total: &[f64], si: &[f64]) -> Vec<f64> {
    (0..total.len())
        .map(|i| {
            (1..=i.min(si.len() - 1))
                .map(|s| si[s] * total[i - s])
                .sum()
        })
        .collect()
}

/// The `p` quantile of a Gamma distribution (`0 < p < 1`).
///
/// statrs' Gamma `inverse_cdf` (bracket, 8 bisections, at most 4 Newton steps) is not accurate
/// enough on its own: probing it, `|F(x) - p|` reached 2e-4 (shape 200, scale 1e-4, the posterior
/// of a busy window), and for shapes below 1 it can return NaN. Its answer is therefore only the
/// starting point of a safeguarded Newton iteration on statrs' CDF and density: a bracket
/// `[lo, hi]` with `F(lo) <= p <= F(hi)` is kept, and a Newton step that would leave it is
/// replaced by bisection, until the step is below 1e-14 relative. On the Flu2009 golden windows
/// statrs alone was already within 5e-8 of EpiEstim's `qgamma`; the refinement is for the rest.
fn gamma_quantile(d: &Gamma, p: f64) -> f64 {
    let f = |x: f64| d.cdf(x) - p;
    let (mut lo, mut hi) = (0.0, (d.shape() / d.rate()).max(f64::MIN_POSITIVE));
    for _ in 0..2000 {
        if f(hi) >= 0.0 {
            break;
        }
        lo = hi;
        hi *= 2.0;
    }
    let guess = d.inverse_cdf(p);
    let mut x = if guess.is_finite() && guess > lo && guess < hi {
        guess
    } else {
        (lo + hi) / 2.0
    };
    for _ in 0..200 {
        let fx = f(x);
        if fx == 0.0 {
            break;
        }
        if fx < 0.0 {
            lo = x;
        } else {
            hi = x;
        }
        let newton = x - fx / d.pdf(x);
        let next = if newton.is_finite() && newton > lo && newton < hi {
            newton
        } else {
            (lo + hi) / 2.0
        };
        let done = (next - x).abs() <= 1e-14 * x || next == lo || next == hi;
        x = next;
        if done {
            break;
        }
    }
    x
}

/// The probabilities of the quantiles a window reports, in [`RtWindow`] field order.
const SUMMARY_PROBABILITIES: [f64; 7] = [0.025, 0.05, 0.25, 0.5, 0.75, 0.95, 0.975];

/// How many shapes each thread's memo of standard quantiles keeps before it starts afresh
/// (64 bytes of quantiles per shape: a few MB at most).
const MAX_MEMO_SHAPES: usize = 1 << 16;

thread_local! {
    /// The standard (scale 1) Gamma quantiles at [`SUMMARY_PROBABILITIES`], per shape (its bits).
    static STANDARD_QUANTILES: RefCell<HashMap<u64, [f64; 7]>> = RefCell::new(HashMap::new());
}

/// The quantiles of Gamma(`shape`, 1) at [`SUMMARY_PROBABILITIES`].
///
/// A Gamma(shape, scale) quantile is `scale` times the Gamma(shape, 1) quantile, and a posterior's
/// shape is the prior's shape plus a whole number of cases, so across windows and units the same
/// few thousand shapes come back again and again while the scales all differ. Inverting the CDF
/// (seven safeguarded Newton solves, [`gamma_quantile`]) is by far the costliest step of
/// [`estimate_rt`], so the standard quantiles are memoised per thread by shape: the results are
/// the same numbers, computed once per shape instead of once per window.
fn standard_quantiles(shape: f64) -> Result<[f64; 7]> {
    if let Some(q) = STANDARD_QUANTILES.with(|m| m.borrow().get(&shape.to_bits()).copied()) {
        return Ok(q);
    }
    let d = Gamma::new(shape, 1.0).map_err(|e| {
        invalid(
            "incidence",
            format!("Không tính được phân bố hậu nghiệm của R ({e})"),
            format!("cannot form the posterior of R ({e})"),
        )
    })?;
    let q = SUMMARY_PROBABILITIES.map(|p| gamma_quantile(&d, p));
    STANDARD_QUANTILES.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_MEMO_SHAPES {
            m.clear();
        }
        m.insert(shape.to_bits(), q);
    });
    Ok(q)
}

/// The posterior summary of R for a Gamma(shape, scale).
fn summarise(t_start: usize, t_end: usize, shape: f64, scale: f64) -> Result<RtWindow> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(invalid(
            "incidence",
            format!("Không tính được phân bố hậu nghiệm của R (tham số tỉ lệ {scale})"),
            format!("cannot form the posterior of R (scale {scale})"),
        ));
    }
    let [q025, q05, q25, median, q75, q95, q975] = standard_quantiles(shape)?.map(|q| q * scale);
    Ok(RtWindow {
        t_start,
        t_end,
        mean: shape * scale,
        sd: shape.sqrt() * scale,
        q025,
        q05,
        q25,
        median,
        q75,
        q95,
        q975,
        shape,
        scale,
    })
}

/// Estimates R over sliding windows (EpiEstim `estimate_R`, `method = "non_parametric_si"`, see
/// the module docs for the conventions).
///
/// - `incidence`: cases per day, day 1 first (total of local and imported).
/// - `imported`: imported cases per day, each at most that day's incidence; `None` means the
///   first day's cases are imported and all later ones local.
/// - `si`: serial interval distribution, index = days (`si[0] = 0`, sums to 1 ± 0.01).
/// - `window`: window length in days (EpiEstim's default is 7); needs `window + 1 <= T`.
/// - `prior_mean`, `prior_sd`: Gamma prior on R (EpiEstim's default 5 and 5).
///
/// Windows ending on or before the mean serial interval are left out (EpiEstim drops them too).
pub fn estimate_rt(
    incidence: &[f64],
    imported: Option<&[f64]>,
    si: &[f64],
    window: usize,
    prior_mean: f64,
    prior_sd: f64,
) -> Result<Vec<RtWindow>> {
    let t_len = incidence.len();
    validate_counts("incidence", "Số ca", incidence)?;
    validate_si(si)?;
    if window < 1 {
        return Err(invalid(
            "window",
            "Cửa sổ ước tính phải dài ít nhất 1 ngày",
            "the estimation window must be at least 1 day long",
        ));
    }
    if window + 1 > t_len {
        return Err(invalid(
            "window",
            format!(
                "Cửa sổ {window} ngày quá dài cho chuỗi {t_len} ngày (cần ít nhất {} ngày)",
                window + 1
            ),
            format!(
                "a {window}-day window is too long for a {t_len}-day series (needs at least {} days)",
                window + 1
            ),
        ));
    }
    if !(prior_mean.is_finite() && prior_mean > 0.0 && prior_sd.is_finite() && prior_sd > 0.0) {
        return Err(invalid(
            "prior",
            format!(
                "Tiên nghiệm của R phải có trung bình và độ lệch chuẩn dương (nhận {prior_mean}, {prior_sd})"
            ),
            format!("the prior on R needs a positive mean and sd (got {prior_mean}, {prior_sd})"),
        ));
    }
    let local: Vec<f64> = match imported {
        None => {
            let mut l = incidence.to_vec();
            l[0] = 0.0;
            l
        }
        Some(imp) => {
            if imp.len() != t_len {
                return Err(invalid(
                    "imported",
                    format!(
                        "Chuỗi ca nhập khẩu có {} ngày, chuỗi ca bệnh có {t_len} ngày",
                        imp.len()
                    ),
                    format!(
                        "the imported series has {} days, the incidence {t_len}",
                        imp.len()
                    ),
                ));
            }
            validate_counts("imported", "Số ca nhập khẩu", imp)?;
            if let Some(i) = (0..t_len).find(|&i| imp[i] > incidence[i]) {
                let day = i + 1;
                return Err(invalid(
                    "imported",
                    format!(
                        "Ngày thứ {day}: số ca nhập khẩu ({}) lớn hơn tổng số ca ({})",
                        imp[i], incidence[i]
                    ),
                    format!(
                        "day {day}: imported cases ({}) exceed total cases ({})",
                        imp[i], incidence[i]
                    ),
                ));
            }
            let mut l: Vec<f64> = incidence.iter().zip(imp).map(|(c, m)| c - m).collect();
            l[0] = 0.0;
            l
        }
    };
    let lambda = infectiousness(incidence, si);
    let mean_si: f64 = si.iter().enumerate().map(|(k, w)| k as f64 * w).sum();
    let a_prior = (prior_mean / prior_sd).powi(2);
    let scale_prior = prior_sd * prior_sd / prior_mean;

    let mut out = Vec::new();
    for t_start in 2..=(t_len - window + 1) {
        let t_end = t_start + window - 1;
        if (t_end as f64) <= mean_si {
            continue;
        }
        let days = (t_start - 1)..t_end;
        let shape = a_prior + local[days.clone()].iter().sum::<f64>();
        let scale = 1.0 / (1.0 / scale_prior + lambda[days].iter().sum::<f64>());
        out.push(summarise(t_start, t_end, shape, scale)?);
    }
    Ok(out)
}

/// Quantile `p` of sorted values, R's default (type 7): linear interpolation between order
/// statistics at position `(n - 1) p`.
fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Projects incidence `days` days past the end of `incidence` with the renewal equation.
///
/// Each of `draws` simulations draws one R from `posterior` (typically the last window of
/// [`estimate_rt`], see [`RtWindow::posterior`]) and keeps it for the whole horizon; each new day
/// `t` then has `I_t ~ Poisson(R Λ_t)`, where `Λ_t = Σ_{s≥1} w_s I_{t-s}` runs over the observed
/// series followed by the simulated days (all projected cases are local; no new importations).
/// Day by day, the result gives the median and the 2.5% and 97.5% quantiles over simulations
/// (interpolated as R's default `quantile`, type 7). The same inputs and `seed` always give the
/// same result (ChaCha8 generator; gamma and Poisson samplers from `rand_distr`).
///
/// Errors on invalid counts or serial interval, an empty series, `days` or `draws` of 0, or a
/// posterior without a positive finite shape and scale.
pub fn forecast(
    incidence: &[f64],
    si: &[f64],
    posterior: GammaPosterior,
    days: usize,
    draws: usize,
    seed: u64,
) -> Result<Vec<ForecastDay>> {
    validate_counts("incidence", "Số ca", incidence)?;
    validate_si(si)?;
    if incidence.is_empty() {
        return Err(invalid(
            "incidence",
            "Chuỗi ca bệnh rỗng",
            "the incidence series is empty",
        ));
    }
    if days == 0 || draws == 0 {
        return Err(invalid(
            if days == 0 { "days" } else { "draws" },
            "Số ngày dự báo và số lần mô phỏng phải lớn hơn 0",
            "forecast days and number of draws must be greater than 0",
        ));
    }
    let GammaPosterior { shape, scale } = posterior;
    let r_dist = GammaSampler::new(shape, scale)
        .ok()
        .filter(|_| shape.is_finite() && scale.is_finite())
        .ok_or_else(|| {
            invalid(
                "posterior",
                format!(
                    "Phân bố của R phải có tham số dương hữu hạn (shape {shape}, scale {scale})"
                ),
                format!("the distribution of R needs finite positive parameters (shape {shape}, scale {scale})"),
            )
        })?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = incidence.len();
    // per_day[h][d]: simulated incidence of draw d on forecast day h.
    let mut per_day: Vec<Vec<f64>> = vec![Vec::with_capacity(draws); days];
    let mut series = incidence.to_vec();
    for _ in 0..draws {
        series.truncate(n);
        let r = r_dist.sample(&mut rng);
        for day in per_day.iter_mut() {
            let i = series.len();
            let lambda: f64 = (1..=i.min(si.len() - 1))
                .map(|s| si[s] * series[i - s])
                .sum();
            let mean = r * lambda;
            let cases = if mean > 0.0 && mean < Poisson::<f64>::MAX_LAMBDA {
                // Cannot fail: 0 < mean < MAX_LAMBDA.
                Poisson::new(mean).map_or(mean, |p| p.sample(&mut rng))
            } else {
                // 0 stays 0; beyond the sampler's range the Poisson is its mean to 1e-9.
                mean.max(0.0)
            };
            series.push(cases);
            day.push(cases);
        }
    }
    Ok(per_day
        .into_iter()
        .enumerate()
        .map(|(h, mut v)| {
            v.sort_by(f64::total_cmp);
            ForecastDay {
                day_index: n + h + 1,
                median: quantile_sorted(&v, 0.5),
                lower: quantile_sorted(&v, 0.025),
                upper: quantile_sorted(&v, 0.975),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    /// The Flu2009 golden file, or `None` (with a notice) when the shared test data is absent.
    fn golden() -> Option<serde_json::Value> {
        let dir = std::env::var_os("PHONGDICH_TESTDATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
            });
        let path = dir.join("rt/flu2009.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(serde_json::from_str(&text).unwrap()),
            Err(e) => {
                eprintln!(
                    "NOTICE: skipping the Flu2009 golden test: {} ({e})",
                    path.display()
                );
                None
            }
        }
    }

    fn floats(v: &serde_json::Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    #[test]
    fn rt_flu2009_matches_epiestim_in_every_window() {
        let Some(g) = golden() else { return };
        let incidence = floats(&g["incidence"]);
        let si = floats(&g["si_distr"]);
        let expected = g["expected"].as_array().unwrap();
        let got = estimate_rt(
            &incidence,
            None,
            &si,
            DEFAULT_WINDOW,
            DEFAULT_PRIOR_MEAN,
            DEFAULT_PRIOR_SD,
        )
        .unwrap();
        assert_eq!(got.len(), expected.len());
        assert_eq!(got.len(), incidence.len() - DEFAULT_WINDOW);
        let mut worst = [0.0f64; 3];
        for (w, e) in got.iter().zip(expected) {
            assert_eq!(w.t_start as u64, e["t_start"].as_u64().unwrap());
            assert_eq!(w.t_end as u64, e["t_end"].as_u64().unwrap());
            let checks: [(&str, f64, f64, usize); 9] = [
                ("mean", w.mean, 1e-6, 0),
                ("sd", w.sd, 1e-6, 1),
                ("q025", w.q025, 1e-4, 2),
                ("q05", w.q05, 1e-4, 2),
                ("q25", w.q25, 1e-4, 2),
                ("median", w.median, 1e-4, 2),
                ("q75", w.q75, 1e-4, 2),
                ("q95", w.q95, 1e-4, 2),
                ("q975", w.q975, 1e-4, 2),
            ];
            for (name, value, tol, slot) in checks {
                let want = e[name].as_f64().unwrap();
                let dev = (value - want).abs();
                worst[slot] = worst[slot].max(dev);
                assert!(
                    dev <= tol,
                    "window {}-{}: {name} = {value}, expected {want} (off by {dev:e})",
                    w.t_start,
                    w.t_end
                );
            }
        }
        eprintln!(
            "Flu2009: {} windows; largest deviations mean {:e}, sd {:e}, quantiles {:e}",
            got.len(),
            worst[0],
            worst[1],
            worst[2]
        );
    }

    #[test]
    fn rt_explicit_imported_series_matches_the_default_convention() {
        let Some(g) = golden() else { return };
        let incidence = floats(&g["incidence"]);
        let si = floats(&g["si_distr"]);
        let mut imported = vec![0.0; incidence.len()];
        imported[0] = incidence[0];
        let a = estimate_rt(&incidence, None, &si, 7, 5.0, 5.0).unwrap();
        let b = estimate_rt(&incidence, Some(&imported), &si, 7, 5.0, 5.0).unwrap();
        assert_eq!(a, b);
        // Importations on later days lower R (fewer local cases, same infectiousness).
        imported[10] = 4.0;
        let c = estimate_rt(&incidence, Some(&imported), &si, 7, 5.0, 5.0).unwrap();
        let w = c.iter().position(|w| w.t_end == 11).unwrap();
        assert!(c[w].mean < a[w].mean);
    }

    #[test]
    fn rt_discr_si_is_a_distribution_with_the_requested_mean() {
        for (mu, sigma) in [(2.6, 1.5), (4.8, 2.3), (6.5, 4.0), (1.5, 0.3)] {
            let w = discr_si(mu, sigma).unwrap();
            assert_eq!(w[0], 0.0);
            assert!(w.iter().all(|p| *p >= 0.0));
            let sum: f64 = w.iter().sum();
            assert!((sum - 1.0).abs() < 1e-12, "sum {sum}");
            let mean: f64 = w.iter().enumerate().map(|(k, p)| k as f64 * p).sum();
            assert!((mean - mu).abs() < 1e-6, "mu {mu}: mean {mean}");
            validate_si(&w).unwrap();
        }
        // The parametric SI is close to the empirical one published for Flu2009.
        let w = discr_si(2.6, 1.5).unwrap();
        assert!(
            (w[1] - 0.233).abs() < 0.05 && (w[2] - 0.359).abs() < 0.05,
            "{w:?}"
        );
        assert!(discr_si(1.0, 1.0).is_err());
        assert!(discr_si(3.0, 0.0).is_err());
        assert!(discr_si(f64::NAN, 1.0).is_err());
    }

    #[test]
    fn rt_bad_input_is_refused_with_the_field() {
        let si = [0.0, 0.5, 0.5];
        let inc = [1.0, 2.0, 3.0, 4.0, 5.0];
        let field = |r: Result<Vec<RtWindow>>| {
            let e = r.unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput);
            e.details["field"].as_str().unwrap().to_owned()
        };
        assert_eq!(
            field(estimate_rt(&[1.0, -2.0, 3.0], None, &si, 1, 5.0, 5.0)),
            "incidence"
        );
        assert_eq!(
            field(estimate_rt(&[1.0, f64::NAN, 3.0], None, &si, 1, 5.0, 5.0)),
            "incidence"
        );
        assert_eq!(
            field(estimate_rt(&inc, None, &[0.1, 0.5, 0.4], 2, 5.0, 5.0)),
            "si"
        );
        assert_eq!(
            field(estimate_rt(&inc, None, &[0.0, 0.5, 0.4], 2, 5.0, 5.0)),
            "si"
        );
        assert_eq!(field(estimate_rt(&inc, None, &si, 0, 5.0, 5.0)), "window");
        assert_eq!(field(estimate_rt(&inc, None, &si, 5, 5.0, 5.0)), "window");
        assert_eq!(field(estimate_rt(&inc, None, &si, 2, 0.0, 5.0)), "prior");
        assert_eq!(
            field(estimate_rt(
                &inc,
                Some(&[0.0, 3.0, 0.0, 0.0, 0.0]),
                &si,
                2,
                5.0,
                5.0
            )),
            "imported"
        );
        assert_eq!(
            field(estimate_rt(&inc, Some(&[0.0]), &si, 2, 5.0, 5.0)),
            "imported"
        );
        // The longest allowed window gives exactly one estimate.
        let one = estimate_rt(&inc, None, &si, 4, 5.0, 5.0).unwrap();
        assert_eq!((one.len(), one[0].t_start, one[0].t_end), (1, 2, 5));
    }

    #[test]
    fn rt_windows_before_the_mean_serial_interval_are_skipped() {
        // Mean SI 4.5: a 2-day window ending on day 3 or 4 has no estimate, from day 5 it has.
        let mut si = vec![0.0; 10];
        si[4] = 0.5;
        si[5] = 0.5;
        let inc = [3.0, 1.0, 2.0, 4.0, 3.0, 5.0, 6.0];
        let w = estimate_rt(&inc, None, &si, 2, 5.0, 5.0).unwrap();
        let ends: Vec<usize> = w.iter().map(|w| w.t_end).collect();
        assert_eq!(ends, vec![5, 6, 7]);
        // Window 4-5 has no infectiousness yet (SI starts at 4 days, only day 1 is 4 days back
        // from day 5): its posterior is the prior updated by the local cases.
        assert_eq!(w[0].t_start, 4);
        assert!(w[0].mean.is_finite() && w[0].mean > 0.0);
    }

    fn sample_forecast(seed: u64) -> Vec<ForecastDay> {
        let inc = [1.0, 2.0, 4.0, 6.0, 9.0, 12.0, 15.0, 20.0];
        let si = discr_si(2.6, 1.5).unwrap();
        let post = estimate_rt(&inc, None, &si, 7, 5.0, 5.0).unwrap()[0].posterior();
        forecast(&inc, &si, post, 14, 500, seed).unwrap()
    }

    #[test]
    fn rt_forecast_is_deterministic_for_a_seed_and_ordered() {
        let a = sample_forecast(42);
        assert_eq!(a, sample_forecast(42));
        assert_ne!(a, sample_forecast(43));
        assert_eq!(a.len(), 14);
        assert_eq!(a[0].day_index, 9);
        assert_eq!(a[13].day_index, 22);
        for d in &a {
            assert!(d.lower <= d.median && d.median <= d.upper, "{d:?}");
            assert!(d.lower >= 0.0);
        }
    }

    #[test]
    fn rt_forecast_grows_when_r_is_well_above_one() {
        let inc = vec![10.0; 20];
        let si = discr_si(2.6, 1.5).unwrap();
        // R = 2 with almost no uncertainty.
        let r2 = GammaPosterior {
            shape: 1e6,
            scale: 2e-6,
        };
        let f = forecast(&inc, &si, r2, 14, 200, 7).unwrap();
        assert!(f[0].median > 12.0, "{:?}", f[0]);
        assert!(f[13].median > 10.0 * f[0].median, "{f:?}");
        assert!(f.windows(2).all(|p| p[1].median >= p[0].median), "{f:?}");
        // R = 0.5: it shrinks.
        let half = GammaPosterior {
            shape: 1e6,
            scale: 5e-7,
        };
        let f = forecast(&inc, &si, half, 14, 200, 7).unwrap();
        assert!(f[13].median < 2.0, "{f:?}");
        // Bad parameters are errors, not panics.
        let bad = GammaPosterior {
            shape: 0.0,
            scale: 1.0,
        };
        assert!(forecast(&inc, &si, bad, 14, 200, 7).is_err());
        assert!(forecast(&inc, &si, r2, 0, 200, 7).is_err());
        assert!(forecast(&inc, &si, r2, 14, 0, 7).is_err());
        assert!(forecast(&[], &si, r2, 14, 10, 7).is_err());
    }

    #[test]
    fn rt_memoised_quantiles_equal_the_direct_inversion_at_every_scale() {
        // The same shape with different scales (as in windows of different units), asked twice
        // (the second answer comes from the memo): each quantile must equal the direct inversion
        // of Gamma(shape, scale).
        for shape in [1.0, 2.0, 13.0, 0.5, 1.5, 4001.0] {
            for scale in [1e-3, 0.07, 0.9, 4.0] {
                for _ in 0..2 {
                    let w = summarise(2, 8, shape, scale).unwrap();
                    let d = Gamma::new(shape, 1.0 / scale).unwrap();
                    let got = [w.q025, w.q05, w.q25, w.median, w.q75, w.q95, w.q975];
                    for (x, p) in got.iter().zip(SUMMARY_PROBABILITIES) {
                        let direct = gamma_quantile(&d, p);
                        assert!(
                            ((x - direct) / direct).abs() < 1e-12,
                            "shape {shape} scale {scale} p {p}: {x} vs {direct}"
                        );
                    }
                }
            }
        }
        assert!(summarise(2, 8, 0.0, 1.0).is_err());
        assert!(summarise(2, 8, 3.0, f64::INFINITY).is_err());
    }

    #[test]
    fn rt_gamma_quantiles_invert_the_cdf_where_statrs_alone_falls_short() {
        // Shapes and scales as found in posteriors of R, from tiny to very busy windows.
        for shape in [0.3, 1.0, 3.0, 10.0, 200.0, 1000.0, 1e4, 1e5] {
            for scale in [1e-4, 0.01, 0.3, 5.0] {
                let d = Gamma::new(shape, 1.0 / scale).unwrap();
                for p in [0.025, 0.05, 0.25, 0.5, 0.75, 0.95, 0.975] {
                    let x = gamma_quantile(&d, p);
                    let resid = (d.cdf(x) - p).abs();
                    assert!(resid < 1e-8, "shape {shape} scale {scale} p {p}: {resid:e}");
                }
            }
        }
    }
}
