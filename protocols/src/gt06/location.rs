//! GT06 frames that carry a fix: the GPS block every family shares, the cell after it, and the
//! variants field devices send.
//!
//! ```text
//! standard block   YY MM DD hh mm ss | info (hi: length, lo: satellites) | lat u32 | lon u32 | speed u8 | flags u16
//! flags            bits 0-9 course, 10 north, 11 west, 12 positioned
//! 0x22 0x25 (NT)   source u8 | IMEI (8, BCD) | device time (6) | block ...
//! 0x12 (QH302R)    IMEI (8, BCD) | block ...
//! 0x61 iButton     IMEI (8, BCD) | block | cell | driver id (6)
//! 0x32 0x33 (79)   YY MM DD hh mm ss | GPS length (0: no fix) | info | lat | lon | speed | flags ...
//! 0x34 X1          data and alarm u32 | block | terminal u16 | odometer u32 | cell ...
//! 0x70 modular     { module u16 | length u16 | data } ...; module 0x33 is the fix with a Unix time
//! 0x95 JC100       FF FF version | time | satellites | lat | lon | flags u16 | speed u16 | power | event ...
//!                  or time | lat | lon | flags | event (older firmware; time and event only: no fix)
//! 0x21 0x15 text   "Current position!Lat:N54.739332,Lon:E25.273270,Course:126.53,Speed:0.0,DateTime:2017-05-26 10:27:47"
//! ```
//! Once the fix is read, what follows is read as far as it goes: a device-specific tail never
//! costs the position (it is kept raw as `extra`).

use super::*;

/// The standard 18-byte GPS block.
#[inline(always)]
pub(super) fn gps<'a>(frame: &[u8], input: &'a [u8]) -> Result<(&'a [u8], Position), DecodeError> {
    let start = offset(frame, input);
    let (rest, (date, info, lat, lon, speed, flags)) =
        (take(6_usize), be_u8, be_u32, be_u32, be_u8, be_u16).parse(input).at(frame)?;
    let position = fix(start, date, Some(info & 0x0F), lat, lon, speed.into(), flags)?;
    Ok((rest, position))
}

/// A position from the raw fields of a block; `date` is `YY MM DD hh mm ss`.
#[inline(always)]
fn fix(
    start: usize,
    date: &[u8],
    satellites: Option<u8>,
    lat: u32,
    lon: u32,
    speed_kmh: f64,
    flags: u16,
) -> Result<Position, DecodeError> {
    let [y, mo, d, h, mi, s] = *date else {
        return Err(DecodeError::new(start, ErrorKind::Truncated));
    };
    let fix_time = utc(start, 2000 + i32::from(y), mo.into(), d.into(), h.into(), mi.into(), s.into())?;
    position_at(start + 7, fix_time, satellites, lat, lon, speed_kmh, flags)
}

/// A position at `fix_time` from GT06 coordinates (minutes × 30000) and the course/status word.
#[inline(always)]
fn position_at(
    at: usize,
    fix_time: DateTime<Utc>,
    satellites: Option<u8>,
    lat: u32,
    lon: u32,
    speed_kmh: f64,
    flags: u16,
) -> Result<Position, DecodeError> {
    let mut latitude = f64::from(lat) / 1_800_000.0;
    let mut longitude = f64::from(lon) / 1_800_000.0;
    if flags & 0x0400 == 0 {
        latitude = -latitude;
    }
    if flags & 0x0800 != 0 {
        longitude = -longitude;
    }
    check_coordinates(at, latitude, longitude)?;
    Ok(Position {
        fix_time,
        latitude,
        longitude,
        speed_kmh,
        course: f64::from(flags & 0x03FF),
        altitude: None,
        satellites,
        valid: flags & 0x1000 != 0,
        cell: None,
    })
}

/// The GPS block wherever the device put it: at the start, after an IMEI, or after a source byte,
/// an IMEI and the device's own time.
#[inline(always)]
fn gps_anywhere<'a>(frame: &[u8], content: &'a [u8]) -> Result<(&'a [u8], Position), DecodeError> {
    let first = match gps(frame, content) {
        Ok(found) => return Ok(found),
        Err(e) => e,
    };
    let is_imei = |bytes: Option<&[u8]>| bytes.is_some_and(|b| DeviceId::from_bcd(b).is_some());
    if is_imei(content.get(..8))
        && let Ok(found) = gps(frame, &content[8..])
    {
        return Ok(found);
    }
    if is_imei(content.get(1..9))
        && let Some(after) = content.get(15..)
        && let Ok(found) = gps(frame, after)
    {
        return Ok(found);
    }
    Err(first)
}

/// Whether `content` starts with a block that is a fix rather than the time stamp of a cell or
/// Wi-Fi report (types that devices use for both).
pub(super) fn starts_with_fix(frame: &[u8], content: &[u8]) -> bool {
    content.get(6).is_some_and(|info| *info >= 0x10)
        && gps(frame, content).is_ok_and(|(_, p)| p.latitude != 0.0 || p.longitude != 0.0)
}

/// How a cell is written after the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CellWidth {
    /// LAC u16, cell id u24.
    Narrow,
    /// LAC u16, cell id u32 (and, for 0x11, a two-byte MNC).
    Medium,
    /// LAC u32, cell id u64 (4G).
    Wide,
}

/// MCC, MNC, LAC and cell id; a set top bit of the MCC means a 2-byte MNC.
#[inline]
pub(super) fn cell(input: &[u8], width: CellWidth, wide_mnc: bool) -> Res<'_, CellInfo> {
    let (input, mcc) = be_u16(input)?;
    let (input, mnc) =
        if mcc & 0x8000 != 0 || wide_mnc { be_u16(input)? } else { be_u8(input).map(|(i, v)| (i, v.into()))? };
    let (input, lac, cell_id) = match width {
        CellWidth::Wide => {
            let (input, (lac, cell)) = (be_u32, be_u64).parse(input)?;
            (input, lac, cell)
        }
        CellWidth::Medium => {
            let (input, (lac, cell)) = (be_u16, be_u32).parse(input)?;
            (input, lac.into(), cell.into())
        }
        CellWidth::Narrow => {
            let (input, (lac, cell)) = (be_u16, be_u24).parse(input)?;
            (input, lac.into(), cell.into())
        }
    };
    Ok((input, CellInfo { mcc: mcc & 0x7FFF, mnc, lac, cell_id }))
}

/// Location frames of the 0x10-0x38 and 0xA0/0xA2 families: fix, cell, then what each adds.
#[inline]
pub(super) fn location(frame: &[u8], content: &[u8], kind: u8, msg: &mut Message) -> Result<(), DecodeError> {
    let (rest, mut position) = gps_anywhere(frame, content)?;
    msg.kind = MessageKind::Position;
    let rest = location_tail(frame, kind, rest, &mut position, msg).unwrap_or(rest);
    keep_rest(msg, rest);
    msg.position = Some(position);
    Ok(())
}

/// The cell and the extended fields after a location fix; `None` where the tail is not laid
/// out as expected.
#[inline]
fn location_tail<'a>(
    frame: &[u8],
    kind: u8,
    rest: &'a [u8],
    position: &mut Position,
    msg: &mut Message,
) -> Option<&'a [u8]> {
    let (width, wide_mnc, rest) = match kind {
        proto::GPS_LBS_4G | proto::GPS_LBS_STATUS_4G => (CellWidth::Wide, false, rest),
        proto::GPS_LBS_6 => (CellWidth::Medium, true, rest),
        proto::GPS_LBS_DRIVER | proto::IBUTTON | proto::LOCATION_RFID => (CellWidth::Medium, false, rest),
        proto::GPS_LBS_8 => {
            // Upload mode and re-upload flag, then the cell type: 3 and above is 4G.
            let [_mode, _reupload, cell_type, r @ ..] = rest else { return None };
            let width = if *cell_type >= 3 { CellWidth::Wide } else { CellWidth::Narrow };
            (width, false, r)
        }
        _ => (CellWidth::Narrow, false, rest),
    };
    if rest.len() < 8 {
        return Some(rest);
    }
    let (mut rest, found) = cell(rest, width, wide_mnc).ok()?;
    position.cell = Some(found);
    match kind {
        proto::GPS_LBS_2 | proto::GPS_LBS_4G | proto::GPS_LBS_3 | proto::GPS_LBS_4 | proto::GPS_LBS_5 => {
            if let [acc, mode, realtime, r @ ..] = rest {
                msg.status.ignition = Some(*acc != 0);
                msg.attributes.set("upload_mode", AttrValue::Int((*mode).into()));
                msg.attributes.set("realtime", AttrValue::Bool(*realtime == 0));
                rest = r;
            }
            if let [a, b, c, d, r @ ..] = rest {
                msg.status.odometer_m = Some(u32::from_be_bytes([*a, *b, *c, *d]).into());
                rest = r;
            }
        }
        proto::GPS_LBS_STATUS_4G => {
            // Network indicator, then the status block.
            let (_, r) = rest.split_first()?;
            rest = status_block(frame, r, msg).ok()?;
        }
        _ => {}
    }
    Some(rest)
}

/// Alarm frames with a fix (0x16, 0x26, 0x27, 0xA3, 0xA4): fix, cell with its own length byte,
/// status block.
pub(super) fn alarm(frame: &[u8], content: &[u8], msg: &mut Message) -> Result<(), DecodeError> {
    let (rest, mut position) = gps_anywhere(frame, content)?;
    msg.kind = MessageKind::Position;
    let rest = alarm_tail(frame, rest, &mut position, msg).unwrap_or(rest);
    keep_rest(msg, rest);
    msg.position = Some(position);
    Ok(())
}

fn alarm_tail<'a>(frame: &[u8], rest: &'a [u8], position: &mut Position, msg: &mut Message) -> Option<&'a [u8]> {
    // The cell is preceded by its own length (counting that byte); 4G cells are 15 bytes and more.
    let (lbs_len, rest) = rest.split_first()?;
    let lbs_len = usize::from(lbs_len.saturating_sub(1));
    let lbs = rest.get(..lbs_len)?;
    if lbs_len >= 8 {
        let width = if lbs_len >= 15 { CellWidth::Wide } else { CellWidth::Narrow };
        position.cell = cell(lbs, width, false).ok().map(|(_, c)| c);
    }
    status_block(frame, &rest[lbs_len..], msg).ok()
}

/// 0x32/0x33 of the long form (AZ735): a GPS length byte after the time; 0 means no fix.
pub(super) fn with_gps_length(frame: &[u8], content: &[u8], msg: &mut Message) -> Result<(), DecodeError> {
    let (Some(date), Some(&gps_len)) = (content.get(..6), content.get(6)) else {
        return Err(DecodeError::new(frame.len(), ErrorKind::Truncated));
    };
    if gps_len == 0 {
        msg.kind = MessageKind::Heartbeat;
        keep_rest(msg, &content[7..]);
        return Ok(());
    }
    let start = offset(frame, content);
    let (rest, (info, lat, lon, speed, flags)) =
        (be_u8, be_u32, be_u32, be_u8, be_u16).parse(&content[7..]).at(frame)?;
    let mut position = fix(start, date, Some(info & 0x0F), lat, lon, speed.into(), flags)?;
    msg.kind = MessageKind::Position;
    let rest = match cell(rest, CellWidth::Narrow, false) {
        Ok((r, found)) if rest.first().is_some_and(|b| *b != 0) => {
            position.cell = Some(found);
            r
        }
        _ => rest,
    };
    keep_rest(msg, rest);
    msg.position = Some(position);
    Ok(())
}

/// 0x34 (X1): four bytes of data and alarm flags, the fix, terminal info, odometer, cell.
pub(super) fn x1(frame: &[u8], content: &[u8], msg: &mut Message) -> Result<(), DecodeError> {
    let after = content.get(4..).ok_or_else(|| DecodeError::new(frame.len(), ErrorKind::Truncated))?;
    let (rest, mut position) = gps(frame, after)?;
    msg.kind = MessageKind::Position;
    let mut rest = rest;
    if let [_, _, a, b, c, d, r @ ..] = rest {
        msg.status.odometer_m = Some(u32::from_be_bytes([*a, *b, *c, *d]).into());
        rest = r;
        if let Ok((r, found)) = cell(rest, CellWidth::Medium, false) {
            position.cell = Some(found);
            rest = r;
        }
    }
    keep_rest(msg, rest);
    msg.position = Some(position);
    Ok(())
}

/// 0x70: modules of type, length and data; 0x33 is the fix (Unix time).
pub(super) fn modular(frame: &[u8], content: &[u8], msg: &mut Message) -> Result<(), DecodeError> {
    msg.kind = MessageKind::Heartbeat;
    let mut rest = content;
    while !rest.is_empty() {
        let start = offset(frame, rest);
        let (r, (module, len)) = (be_u16, be_u16).parse(rest).at(frame)?;
        let (r, data) = take::<_, _, nom::error::Error<&[u8]>>(usize::from(len))(r).at(frame)?;
        rest = r;
        match (module, data) {
            (0x0033, [t0, t1, t2, t3, sats, _, _, la0, la1, la2, la3, lo0, lo1, lo2, lo3, speed, f0, f1, ..]) => {
                let seconds = u32::from_be_bytes([*t0, *t1, *t2, *t3]);
                let fix_time = DateTime::from_timestamp(seconds.into(), 0)
                    .ok_or_else(|| DecodeError::invalid(start + 4, "time", seconds))?;
                let altitude = i16::from_be_bytes([data[5], data[6]]);
                let mut position = position_at(
                    start + 11,
                    fix_time,
                    Some(*sats),
                    u32::from_be_bytes([*la0, *la1, *la2, *la3]),
                    u32::from_be_bytes([*lo0, *lo1, *lo2, *lo3]),
                    (*speed).into(),
                    u16::from_be_bytes([*f0, *f1]),
                )?;
                position.altitude = Some(altitude.into());
                msg.kind = MessageKind::Position;
                msg.position = Some(position);
            }
            (0x0018, [hi, lo, ..]) => {
                msg.status.power_voltage = Some(f64::from(u16::from_be_bytes([*hi, *lo])) / 100.0);
            }
            (0x002E, [a, b, c, d, ..]) => msg.status.odometer_m = Some(u32::from_le_bytes([*a, *b, *c, *d]).into()),
            (0x0011, _) => {
                if let Ok((_, found)) = cell(data, CellWidth::Narrow, true)
                    && found.cell_id > 0
                    && let Some(p) = msg.position.as_mut()
                {
                    p.cell = Some(found);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// 0x95 (JC100 and JC400 cameras): an event, with a fix when the frame is long enough.
pub(super) fn event(frame: &[u8], content: &[u8], msg: &mut Message) -> Result<(), DecodeError> {
    let start = offset(frame, content);
    let (rest, position) = match content {
        [0xFF, 0xFF, _version, body @ ..] => {
            let (rest, (date, sats, lat, lon, flags, speed, _power)) =
                (take(6_usize), be_u8, be_u32, be_u32, be_u16, be_u16, be_u16).parse(body).at(frame)?;
            (rest, Some(fix(start + 3, date, Some(sats & 0x0F), lat, lon, speed.into(), flags)?))
        }
        _ if content.len() > 7 => {
            let (rest, (date, lat, lon, flags)) = (take(6_usize), be_u32, be_u32, be_u16).parse(content).at(frame)?;
            (rest, Some(fix(start, date, None, lat, lon, 0.0, flags)?))
        }
        _ => (content.get(6..).unwrap_or_default(), None),
    };
    msg.kind = if position.is_some() { MessageKind::Position } else { MessageKind::Alarm };
    msg.position = position;
    if let Some((code, tail)) = rest.split_first() {
        msg.attributes.set("event", AttrValue::Int((*code).into()));
        let alarm = match code {
            0x01 => Some(Alarm::Sos),
            0x0E => Some(Alarm::LowPower),
            0x80 => Some(Alarm::Vibration),
            0x87 => Some(Alarm::Overspeed),
            0x88 => Some(Alarm::PowerCut),
            0x90 => Some(Alarm::HarshAcceleration),
            0x91 => Some(Alarm::HarshBraking),
            0x92 => Some(Alarm::HarshCornering),
            0x93 => Some(Alarm::Collision),
            _ => None,
        };
        if let Some(a) = alarm {
            msg.alarms.insert(a);
        }
        let files = tail.get(2..).unwrap_or_default();
        if !files.is_empty() {
            msg.attributes.set("event_files", AttrValue::Text(String::from_utf8_lossy(files).into_owned()));
        }
    }
    Ok(())
}

/// The fix in a text reply to a position query (`WHERE#`), if the text is one.
pub(super) fn text_position(text: &str) -> Option<Position> {
    let body = &text[text.find("Lat:")?..];
    let field = |name: &str| -> Option<&str> {
        let at = body.find(name)? + name.len();
        let value = &body[at..];
        Some(value.split(',').next().unwrap_or(value).trim())
    };
    let signed = |value: &str, negative: char| -> Option<f64> {
        let (hemisphere, number) = value.split_at_checked(1)?;
        let v: f64 = number.parse().ok()?;
        Some(if hemisphere.starts_with(negative) { -v } else { v })
    };
    let latitude = signed(field("Lat:")?, 'S')?;
    let longitude = signed(field("Lon:")?, 'W')?;
    let course = field("Course:").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let speed_kmh = field("Speed:").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let when = field("DateTime:")?.split_whitespace().collect::<Vec<_>>().join(" ");
    let fix_time = chrono::NaiveDateTime::parse_from_str(&when, "%Y-%m-%d %H:%M:%S").ok()?.and_utc();
    check_coordinates(0, latitude, longitude).ok()?;
    Some(Position {
        fix_time,
        latitude,
        longitude,
        speed_kmh,
        course,
        altitude: None,
        satellites: None,
        valid: true,
        cell: None,
    })
}
