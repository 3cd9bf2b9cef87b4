//! Parsing helpers shared by the protocol modules: nom result plumbing, offsets, dates, BCD.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use nom::IResult;

use crate::error::{DecodeError, ErrorKind};

/// The nom result type used by every parser here; the error keeps the input where it failed.
pub(crate) type Res<'a, T> = IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;

/// Byte offset of `rest` inside `frame` (a sub-slice of it; parsers often work on a part of the
/// frame that stops before the checksum, so the lengths alone would not tell).
pub(crate) fn offset(frame: &[u8], rest: &[u8]) -> usize {
    let (start, at) = (frame.as_ptr() as usize, rest.as_ptr() as usize);
    if (start..=start + frame.len()).contains(&at) { at - start } else { frame.len().saturating_sub(rest.len()) }
}

/// Turns a nom failure into a [`DecodeError`] at the byte where it happened.
pub(crate) fn nom_error(frame: &[u8], err: nom::Err<nom::error::Error<&[u8]>>) -> DecodeError {
    match err {
        nom::Err::Incomplete(_) => DecodeError::new(frame.len(), ErrorKind::Truncated),
        nom::Err::Error(e) | nom::Err::Failure(e) => DecodeError::new(offset(frame, e.input), ErrorKind::Truncated),
    }
}

/// Extension to run a nom parser and map its failure to a frame offset.
pub(crate) trait Run<'a, T> {
    /// The value and the remaining input, or a [`DecodeError`] at the failing byte of `frame`.
    fn at(self, frame: &[u8]) -> Result<(&'a [u8], T), DecodeError>;
}

impl<'a, T> Run<'a, T> for Res<'a, T> {
    fn at(self, frame: &[u8]) -> Result<(&'a [u8], T), DecodeError> {
        self.map_err(|e| nom_error(frame, e))
    }
}

/// A UTC time from calendar fields, or an `InvalidField` error naming the first bad one.
///
/// Built from the day of the year, the cheapest way into chrono's types: this runs once per
/// position, millions of times a second.
pub(crate) fn utc(
    offset: usize,
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Result<DateTime<Utc>, DecodeError> {
    /// Days before the first of each month in a common year.
    const BEFORE: [u32; 13] = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    let bad_date = || DecodeError::invalid(offset, "date", format!("{year:04}-{month:02}-{day:02}"));
    if day == 0 || day > month_days {
        return Err(bad_date());
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(DecodeError::invalid(offset, "time", format!("{hour:02}:{minute:02}:{second:02}")));
    }
    let ordinal = BEFORE[month as usize] + day + u32::from(leap && month > 2);
    let date = NaiveDate::from_yo_opt(year, ordinal).ok_or_else(bad_date)?;
    let time = NaiveTime::from_num_seconds_from_midnight_opt(hour * 3600 + minute * 60 + second, 0)
        .ok_or_else(|| DecodeError::invalid(offset, "time", hour))?;
    Ok(NaiveDateTime::new(date, time).and_utc())
}

/// The value of one packed-BCD byte (`0x59` is 59), `None` when a nibble is above 9.
pub(crate) fn bcd(b: u8) -> Option<u32> {
    let (hi, lo) = (b >> 4, b & 0x0f);
    (hi <= 9 && lo <= 9).then_some((hi * 10 + lo) as u32)
}

/// Six packed-BCD bytes `YY MM DD hh mm ss` as a time, shifted back by `utc_offset_hours`.
pub(crate) fn bcd_time(offset: usize, b: &[u8; 6], utc_offset_hours: i64) -> Result<DateTime<Utc>, DecodeError> {
    let mut f = [0_u32; 6];
    for (i, byte) in b.iter().enumerate() {
        f[i] = bcd(*byte).ok_or_else(|| DecodeError::invalid(offset + i, "bcd time", format!("{byte:02X}")))?;
    }
    let t = utc(offset, 2000 + f[0] as i32, f[1], f[2], f[3], f[4], f[5])?;
    Ok(t - chrono::Duration::hours(utc_offset_hours))
}

/// Checks a latitude/longitude pair is on the globe.
pub(crate) fn check_coordinates(offset: usize, latitude: f64, longitude: f64) -> Result<(), DecodeError> {
    if !(-90.0..=90.0).contains(&latitude) {
        return Err(DecodeError::invalid(offset, "latitude", latitude));
    }
    if !(-180.0..=180.0).contains(&longitude) {
        return Err(DecodeError::invalid(offset, "longitude", longitude));
    }
    Ok(())
}

/// Writes `n` as packed BCD into `out`, most significant digit first, using `digits` digits.
pub(crate) fn push_bcd_digits(out: &mut Vec<u8>, text: &[u8], bytes: usize) {
    let mut digits = vec![b'0'; (bytes * 2).saturating_sub(text.len())];
    digits.extend(text.iter().rev().take(bytes * 2).rev());
    for pair in digits.chunks(2) {
        let hi = pair[0].wrapping_sub(b'0') & 0x0f;
        let lo = pair.get(1).map_or(0, |d| d.wrapping_sub(b'0') & 0x0f);
        out.push(hi << 4 | lo);
    }
}

/// Writes a value below 100 as one packed-BCD byte.
pub(crate) fn to_bcd(v: u32) -> u8 {
    (((v / 10 % 10) << 4) | (v % 10)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_the_calendar_every_day_for_two_centuries() {
        let mut date = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let end = NaiveDate::from_ymd_opt(2170, 1, 1).unwrap_or_default();
        while date < end {
            use chrono::Datelike;
            let ours = utc(0, date.year(), date.month(), date.day(), 13, 14, 15);
            assert_eq!(ours.ok(), date.and_hms_opt(13, 14, 15).map(|t| t.and_utc()), "{date}");
            date = date.succ_opt().unwrap_or(end);
        }
    }

    #[test]
    fn impossible_dates_and_times_are_refused() {
        assert!(utc(0, 2023, 2, 29, 0, 0, 0).is_err());
        assert!(utc(0, 2024, 2, 29, 0, 0, 0).is_ok());
        assert!(utc(0, 2024, 13, 1, 0, 0, 0).is_err());
        assert!(utc(0, 2024, 0, 1, 0, 0, 0).is_err());
        assert!(utc(0, 2024, 4, 31, 0, 0, 0).is_err());
        assert!(utc(0, 2024, 4, 30, 24, 0, 0).is_err());
        assert!(utc(0, 2024, 4, 30, 23, 60, 0).is_err());
    }
}
