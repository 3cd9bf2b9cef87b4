//! The company's calendar: which day it is where the company works (`utc_offset_hours` east of
//! UTC), and when such a day begins. Times are stored in UTC; days are the company's.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

/// Today's date in the company's zone.
pub fn company_today(utc_offset_hours: i32) -> NaiveDate {
    (Utc::now() + Duration::hours(i64::from(utc_offset_hours))).date_naive()
}

/// When `day` of the company's calendar begins.
pub fn day_starts(day: NaiveDate, utc_offset_hours: i32) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc() - Duration::hours(i64::from(utc_offset_hours))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_company_day_begins_at_its_local_midnight() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert_eq!(day_starts(day, 8).to_rfc3339(), "2026-12-03T16:00:00+00:00");
    }
}
