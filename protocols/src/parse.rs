//! Parsing helpers shared by the protocol modules: nom result plumbing, offsets, dates, BCD.

use chrono::{DateTime, NaiveDate, Utc};
use nom::IResult;

use crate::error::{DecodeError, ErrorKind};

/// The nom result type used by every parser here; the error keeps the input where it failed.
pub(crate) type Res<'a, T> = IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;

/// Byte offset of `rest` inside `frame` (both slices of the same buffer).
pub(crate) fn offset(frame: &[u8], rest: &[u8]) -> usize {
    frame.len().saturating_sub(rest.len())
}

/// Turns a nom failure into a [`DecodeError`] at the byte where it happened.
pub(crate) fn nom_error(frame: &[u8], err: nom::Err<nom::error::Error<&[u8]>>) -> DecodeError {
    match err {
        nom::Err::Incomplete(_) => DecodeError::new(frame.len(), ErrorKind::Truncated),
        nom::Err::Error(e) | nom::Err::Failure(e) => {
            DecodeError::new(offset(frame, e.input), ErrorKind::Truncated)
        }
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
pub(crate) fn utc(
    offset: usize,
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Result<DateTime<Utc>, DecodeError> {
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
        DecodeError::invalid(offset, "date", format!("{year:04}-{month:02}-{day:02}"))
    })?;
    let time = date.and_hms_opt(hour, minute, second).ok_or_else(|| {
        DecodeError::invalid(offset, "time", format!("{hour:02}:{minute:02}:{second:02}"))
    })?;
    Ok(time.and_utc())
}

/// The value of one packed-BCD byte (`0x59` is 59), `None` when a nibble is above 9.
pub(crate) fn bcd(b: u8) -> Option<u32> {
    let (hi, lo) = (b >> 4, b & 0x0f);
    (hi <= 9 && lo <= 9).then_some((hi * 10 + lo) as u32)
}

/// Six packed-BCD bytes `YY MM DD hh mm ss` as a time, shifted back by `utc_offset_hours`.
pub(crate) fn bcd_time(
    offset: usize,
    b: &[u8; 6],
    utc_offset_hours: i64,
) -> Result<DateTime<Utc>, DecodeError> {
    let mut f = [0_u32; 6];
    for (i, byte) in b.iter().enumerate() {
        f[i] = bcd(*byte)
            .ok_or_else(|| DecodeError::invalid(offset + i, "bcd time", format!("{byte:02X}")))?;
    }
    let t = utc(offset, 2000 + f[0] as i32, f[1], f[2], f[3], f[4], f[5])?;
    Ok(t - chrono::Duration::hours(utc_offset_hours))
}

/// Checks a latitude/longitude pair is on the globe.
pub(crate) fn check_coordinates(
    offset: usize,
    latitude: f64,
    longitude: f64,
) -> Result<(), DecodeError> {
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
    ((v / 10 % 10) << 4 | v % 10) as u8
}
