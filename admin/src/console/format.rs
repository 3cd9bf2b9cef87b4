//! How values read on a page: money as ¥1,234.56, counts as 12,345, times in the company's time zone.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
// The company's calendar is the back office's; pages read it from here with the other formats.
pub use backoffice::kit::day::{company_today, day_starts};
use leasewatch_finance::Decimal;

/// `amount` as yuan with thousands separators and two decimals: `¥1,234.56`, `-¥0.50`.
pub fn money(amount: &Decimal) -> String {
    let mut amount = *amount;
    amount.rescale(2);
    let text = amount.abs().to_string();
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let sign = if amount.is_sign_negative() && !amount.is_zero() { "-" } else { "" };
    format!("{sign}¥{}.{cents}", thousands(whole))
}

/// A whole number with thousands separators: `12,345`.
pub fn count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", thousands(&n.unsigned_abs().to_string()))
}

/// Digits grouped by three from the right.
fn thousands(digits: &str) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// `time` in the company's zone (`utc_offset_hours` east of UTC), to the minute.
pub fn local_time(time: &DateTime<Utc>, utc_offset_hours: i32) -> String {
    match FixedOffset::east_opt(utc_offset_hours * 3600) {
        Some(zone) => time.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string(),
        None => time.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// A date, or a dash when there is none.
pub fn date(day: &Option<NaiveDate>) -> String {
    day.map_or_else(|| "—".to_owned(), |d| d.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn money_reads_as_yuan() {
        assert_eq!(money(&dec!(1234.5)), "¥1,234.50");
        assert_eq!(money(&dec!(0)), "¥0.00");
        assert_eq!(money(&dec!(-0.5)), "-¥0.50");
        assert_eq!(money(&dec!(1000000)), "¥1,000,000.00");
        assert_eq!(money(&dec!(999.999)), "¥1,000.00");
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(12_345), "12,345");
        assert_eq!(count(-1_000_000), "-1,000,000");
    }

    #[test]
    fn times_are_the_companys() {
        let t = DateTime::parse_from_rfc3339("2026-12-03T16:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(local_time(&t, 8), "2026-12-04 00:30");
    }

    proptest! {
        #[test]
        fn money_keeps_every_digit(cents in -10_000_000_000i64..10_000_000_000i64) {
            let amount = Decimal::new(cents, 2);
            let shown = money(&amount);
            let back: Decimal = shown.replace(['¥', ','], "").parse().unwrap();
            prop_assert_eq!(back, amount);
        }
    }
}
