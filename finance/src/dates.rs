//! Due dates: monthly on the start day, clamped to the month's end (a contract started on 31
//! January falls due on 28 or 29 February, then on 31 March).

use chrono::{Datelike, Months, NaiveDate};

/// The date `months` after `start`, on the start's day or the month's last day.
pub fn add_months(start: NaiveDate, months: u32) -> NaiveDate {
    start.checked_add_months(Months::new(months)).unwrap_or(NaiveDate::MAX)
}

/// Days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

/// The number of days in the month of `date`.
pub fn days_in_month(date: NaiveDate) -> u32 {
    let first = date.with_day(1).unwrap_or(date);
    let next = add_months(first, 1);
    u32::try_from(days_between(first, next)).unwrap_or(30)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn month_ends_clamp_without_drifting() {
        assert_eq!(add_months(d(2024, 1, 31), 1), d(2024, 2, 29));
        assert_eq!(add_months(d(2023, 1, 31), 1), d(2023, 2, 28));
        assert_eq!(add_months(d(2024, 1, 31), 2), d(2024, 3, 31));
        assert_eq!(add_months(d(2022, 11, 1), 18), d(2024, 5, 1));
    }

    #[test]
    fn days() {
        assert_eq!(days_between(d(2024, 2, 1), d(2024, 3, 1)), 29);
        assert_eq!(days_in_month(d(2023, 2, 10)), 28);
        assert_eq!(days_in_month(d(2024, 12, 31)), 31);
    }
}
