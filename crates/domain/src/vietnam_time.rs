//! Vietnam's civil time: UTC+7 all year (no daylight saving). Every date the system decides by
//! — a dose date's upper bound, the day a case or a test counts on, the week an epidemic level
//! is assessed for, the default as-of date of a report — is the date in Vietnam, whatever the
//! time zone of the machine it runs on. Pure: the instant is always a parameter.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

/// Hours Vietnam's civil time is ahead of UTC.
pub const UTC_OFFSET_HOURS: i64 = 7;

/// The calendar date in Vietnam at an instant.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    local_datetime(at).date()
}

/// The wall-clock date and time in Vietnam at an instant.
pub fn local_datetime(at: DateTime<Utc>) -> NaiveDateTime {
    (at + TimeDelta::hours(UTC_OFFSET_HOURS)).naive_utc()
}

/// The instant a Vietnamese calendar day starts.
pub fn start_of_day(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc() - TimeDelta::hours(UTC_OFFSET_HOURS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn vietnam_dates_turn_at_17_utc() {
        let before = Utc.with_ymd_and_hms(2022, 3, 9, 16, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2022, 3, 9, 17, 0, 0).unwrap();
        let d = |m, day| NaiveDate::from_ymd_opt(2022, m, day).unwrap();
        assert_eq!(local_date(before), d(3, 9));
        assert_eq!(local_date(after), d(3, 10));
        assert_eq!(
            local_datetime(after).format("%d/%m/%Y %H:%M").to_string(),
            "10/03/2022 00:00"
        );
        assert_eq!(start_of_day(d(3, 10)), after);
        // The last day of a year in Vietnam starts at 17:00 UTC the day before.
        assert_eq!(
            local_date(Utc.with_ymd_and_hms(2021, 12, 31, 18, 0, 0).unwrap()),
            NaiveDate::from_ymd_opt(2022, 1, 1).unwrap()
        );
    }
}
