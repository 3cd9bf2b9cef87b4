//! The company's calendar: which day it is where the company works (`utc_offset_hours` east of
//! UTC), and when such a day begins; and a customer's, in the time zone PostgreSQL knows by name.
//! Times are stored in UTC; days are the company's unless a customer's are asked for.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use sqlx::PgConnection;

use crate::error::Error;

/// Today's date in the company's zone.
pub fn company_today(utc_offset_hours: i32) -> NaiveDate {
    (Utc::now() + Duration::hours(i64::from(utc_offset_hours))).date_naive()
}

/// When `day` of the company's calendar begins.
pub fn day_starts(day: NaiveDate, utc_offset_hours: i32) -> DateTime<Utc> {
    local_day_starts(day, i64::from(utc_offset_hours) * 3600)
}

/// When `day` begins where clocks are `offset_seconds` east of UTC.
pub fn local_day_starts(day: NaiveDate, offset_seconds: i64) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc() - Duration::seconds(offset_seconds)
}

/// Whether PostgreSQL knows the time zone `name` (IANA, e.g. `Asia/Urumqi`).
pub async fn zone_known(db: &mut PgConnection, name: &str) -> Result<bool, Error> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)")
        .bind(name)
        .fetch_one(db)
        .await?)
}

/// The time zones a customer may be given: the region/city names, not their aliases.
pub async fn zones(db: &mut PgConnection) -> Result<Vec<String>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM pg_timezone_names WHERE name ~ '^[A-Z][a-z]+/' AND name !~ '^(posix|Etc|SystemV|US|Brazil|Canada|Chile|Mexico)/'
         ORDER BY name",
    )
    .fetch_all(db)
    .await?)
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
