//! `domain` — phongdich's types, validation and rules, with no I/O.
//!
//! Everything here is pure: no database, no HTTP, no clock. Time is passed in as a parameter
//! (`as_of` dates). The crate must never depend on `sqlx`, `axum` or `tokio`; CI checks this.

pub mod allocation;
pub mod audit;
pub mod auth;
pub mod case_rules;
pub mod dose_record;
pub mod epidemic_level;
pub mod error;
pub mod home_care;
pub mod name;
pub mod person;
pub mod population;
pub mod register;
pub mod rt;
pub mod schedule;
pub mod surveillance;
pub mod test_record;
pub mod units;
pub mod vaccines;
pub mod vietnam_time;

pub use error::{Error, ErrorCode};
