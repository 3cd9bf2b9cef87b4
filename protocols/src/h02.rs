//! H02: comma-separated text frames and a fixed-layout binary variant. No checksum, no replies.
//!
//! ```text
//! *HQ,<id>,V1,hhmmss,A|V,ddmm.mmmm,N|S,dddmm.mmmm,E|W,knots,course,ddmmyy,status[,mcc,mnc,lac,cell...]#
//! *HQ,<id>,LINK,hhmmss,rssi,satellites,battery%,steps,turnovers,ddmmyy,status#      heartbeat
//! *HQ,<id>,V4,<command>,...,hhmmss,A,...                                             command reply
//!
//! $ | id BCD[5] | hhmmss BCD | ddmmyy BCD | lat BCD[4] ddmmmmmm | battery u8
//!   | lon BCD[5] dddmmmmmm + flags nibble (bit 3 east, bit 2 north, bit 1 valid)
//!   | speed 3 BCD digits knots, course 3 BCD digits | status u32 | extra...
//! ```
//! Binary frames carry no length: the frame runs to the next frame start or the end of the read,
//! among the lengths devices are seen to send (32 to 48 bytes).
//!
//! The status word is negative logic for alarms (a cleared bit raises it); bit 10 set means ignition on.

use chrono::{DateTime, Utc};

use crate::error::{DecodeError, ErrorKind};
use crate::message::{Alarm, AttrValue, CellInfo, DeviceId, Message, MessageKind, Position, ProtocolKind};
use crate::parse::{bcd, check_coordinates, utc};
use crate::protocol::{Command, CommandError, Outgoing, Protocol, Scan, Session};

/// The H02 protocol.
#[derive(Debug, Clone, Copy, Default)]
pub struct H02;

/// Lengths of binary frames seen from devices, shortest first.
const BINARY_LENGTHS: [usize; 7] = [32, 37, 42, 45, 46, 47, 48];
/// How long a text frame may be before the scanner gives up on its `#`.
const MAX_TEXT: usize = 1024;
/// Knots to km/h.
const KNOT: f64 = 1.852;

impl Protocol for H02 {
    const KIND: ProtocolKind = ProtocolKind::H02;
    type Ack = ();

    fn scan(buf: &[u8], max_frame_len: usize) -> Scan {
        match buf.first() {
            None => Scan::Incomplete,
            Some(b'*') => {
                let limit = buf.len().min(max_frame_len.min(MAX_TEXT));
                match buf[1..limit].iter().position(|b| *b == b'#' || *b == b'*' || *b == b'$') {
                    Some(end) if buf[end + 1] == b'#' => Scan::Frame(end + 2),
                    Some(end) => Scan::Skip { skip: end + 1, error: ErrorKind::MissingTerminator },
                    None if limit == max_frame_len.min(MAX_TEXT) => {
                        Scan::Skip { skip: limit, error: ErrorKind::MissingTerminator }
                    }
                    None => Scan::Incomplete,
                }
            }
            Some(b'$') => scan_binary(buf),
            // Many devices end each frame with a line break, some with a space before it.
            Some(b'\r' | b'\n' | b' ') => {
                Scan::Padding(buf.iter().take_while(|b| matches!(b, b'\r' | b'\n' | b' ')).count())
            }
            Some(_) => {
                let skip = buf.iter().position(|b| *b == b'*' || *b == b'$').unwrap_or(buf.len()).max(1);
                Scan::Skip { skip, error: ErrorKind::Garbage(skip) }
            }
        }
    }

    fn decode(frame: &[u8], session: &mut Session, out: &mut Vec<Message>) -> Result<(), DecodeError> {
        let mut msg = if frame.first() == Some(&b'$') { binary(frame)? } else { text(frame, session)? };
        match msg.device_id {
            Some(id) => session.device_id = Some(id),
            None => msg.device_id = session.device_id,
        }
        out.push(msg);
        Ok(())
    }

    fn write_reply(_ack: &(), _session: &mut Session, _now: DateTime<Utc>, _out: &mut Vec<u8>) {}

    fn encode_command(command: &Command, ctx: Outgoing<'_>, out: &mut Vec<u8>) -> Result<(), CommandError> {
        let id = ctx.device_id.ok_or(CommandError::NoDeviceId)?;
        let time = ctx.now.format("%H%M%S");
        let body = match command {
            Command::EngineCut => format!("S20,{time},1,1"),
            Command::EngineRestore => format!("S20,{time},1,0"),
            Command::LocateNow => format!("R1,{time}"),
            Command::SetInterval { seconds } => format!("D1,{time},{seconds},1"),
            Command::Text(text) => text.clone(),
        };
        if body.len() > 512 {
            return Err(CommandError::TooLong(body.len()));
        }
        out.extend_from_slice(format!("*HQ,{id},{body}#").as_bytes());
        Ok(())
    }
}

/// A binary frame ends where the next frame begins, or where the read ends.
fn scan_binary(buf: &[u8]) -> Scan {
    for len in BINARY_LENGTHS {
        if buf.len() == len {
            return Scan::Frame(len);
        }
        if buf.len() > len && starts_frame(&buf[len..]) {
            return Scan::Frame(len);
        }
    }
    if buf.len() > BINARY_LENGTHS[BINARY_LENGTHS.len() - 1] + 12 {
        // No plausible end: treat it as the short layout and let the parser judge the fields.
        return Scan::Frame(BINARY_LENGTHS[0]);
    }
    Scan::Incomplete
}

/// Whether `buf` plausibly starts a frame: `*XX,` or `$` followed by BCD id, time and date.
fn starts_frame(buf: &[u8]) -> bool {
    match buf {
        [b'*', a, b, rest @ ..] => {
            a.is_ascii_alphabetic() && b.is_ascii_alphabetic() && rest.first().is_none_or(|c| *c == b',')
        }
        [b'$', rest @ ..] => rest.iter().take(11).all(|b| bcd(*b).is_some()),
        _ => false,
    }
}

/// The fields of a text frame between `*` and `#`.
fn fields(frame: &[u8]) -> Result<Vec<&str>, DecodeError> {
    let inner = frame.get(1..frame.len().saturating_sub(1)).unwrap_or_default();
    let text =
        std::str::from_utf8(inner).map_err(|e| DecodeError::invalid(1 + e.valid_up_to(), "text", "not UTF-8"))?;
    Ok(text.split(',').map(str::trim).collect())
}

/// Byte offset of field `i` in the frame (for error messages).
fn field_offset(fields: &[&str], i: usize) -> usize {
    1 + fields.iter().take(i).map(|f| f.len() + 1).sum::<usize>()
}

fn text(frame: &[u8], session: &Session) -> Result<Message, DecodeError> {
    let f = fields(frame)?;
    if f.len() < 3 {
        return Err(DecodeError::new(frame.len(), ErrorKind::Truncated));
    }
    let mut msg = Message::new(ProtocolKind::H02, MessageKind::Unknown);
    // Some firmware leaves the id out after the first frame: the session knows the device then.
    msg.device_id = DeviceId::new(f[1].as_bytes());
    if msg.device_id.is_none() && (!f[1].is_empty() || session.device_id.is_none()) {
        return Err(DecodeError::invalid(field_offset(&f, 1), "device id", f[1]));
    }
    let command = f[2].to_ascii_uppercase();
    match command.as_str() {
        // V1, V0, V2, V5, V6, V8, V19, VI1, VP1...: a fix wherever the fields read as one.
        c if c.starts_with('V') && c != "V3" => {
            match find_fix(&f) {
                Some(at) => text_position(&f, at, &command, session.received_at, &mut msg)?,
                None if command == "V4" => {}
                None => {
                    return Err(DecodeError::invalid(field_offset(&f, 3), "position fields", f[3..].join(",")));
                }
            }
            if command == "V4" {
                msg.kind = MessageKind::CommandReply;
                msg.attributes
                    .set("reply", AttrValue::Text(f[3..].iter().take(2).copied().collect::<Vec<_>>().join(",")));
            }
        }
        "LINK" => {
            msg.kind = MessageKind::Heartbeat;
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u8>().ok());
            msg.status.gsm_signal = num(4);
            msg.status.battery_percent = num(6).filter(|b| *b <= 100);
            if let Some(s) = num(5) {
                msg.attributes.set("satellites", AttrValue::Int(s.into()));
            }
        }
        "HTBT" | "XT" => {
            msg.kind = MessageKind::Heartbeat;
            if let Some(b) = f.get(3).and_then(|v| v.parse::<u8>().ok()).filter(|b| *b <= 100) {
                msg.status.battery_percent = Some(b);
            }
        }
        "NBR" => {
            msg.kind = MessageKind::Heartbeat;
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
            if let (Some(mcc), Some(mnc), Some(lac), Some(cell)) = (num(4), num(5), num(8), num(9)) {
                msg.attributes.set("mcc", AttrValue::Int(mcc as i64));
                msg.attributes.set("mnc", AttrValue::Int(mnc as i64));
                msg.attributes.set("lac", AttrValue::Int(lac as i64));
                msg.attributes.set("cell_id", AttrValue::Int(cell as i64));
            }
            msg.attributes.set("raw", AttrValue::Text(f[3..].join(",")));
        }
        _ => msg.attributes.set("raw", AttrValue::Text(f[2..].join(","))),
    }
    if msg.position.is_none() {
        // Frames without a fix carry the status word after their date, as the last 8-hex-digit field.
        let status = f[3..].iter().rev().find(|v| v.len() == 8 && v.bytes().all(|b| b.is_ascii_hexdigit()));
        if let Some(status) = status.and_then(|s| u32::from_str_radix(s, 16).ok()) {
            apply_status(status, &mut msg);
        }
    }
    if msg.kind == MessageKind::Unknown {
        msg.attributes.set("command", AttrValue::Text(f[2].to_owned()));
    }
    Ok(msg)
}

/// Index of the validity field (`A`, `V`, `B`, empty, or a number: the coding scheme some
/// firmware sends there) followed by latitude, N/S, longitude, E/W.
fn find_fix(f: &[&str]) -> Option<usize> {
    (3..f.len().saturating_sub(4)).find(|&i| {
        (matches!(f[i], "A" | "V" | "B" | "L" | "") || f[i].bytes().all(|b| b.is_ascii_digit()))
            && matches!(f[i + 2], "N" | "S" | "n" | "s")
            && matches!(f[i + 4], "E" | "W" | "e" | "w")
    })
}

fn text_position(
    f: &[&str],
    at: usize,
    command: &str,
    received_at: Option<DateTime<Utc>>,
    msg: &mut Message,
) -> Result<(), DecodeError> {
    let off = |i| field_offset(f, i);
    let mut latitude = coordinate(f[at + 1]).ok_or_else(|| DecodeError::invalid(off(at + 1), "latitude", f[at + 1]))?;
    let mut longitude =
        coordinate(f[at + 3]).ok_or_else(|| DecodeError::invalid(off(at + 3), "longitude", f[at + 3]))?;
    if f[at + 2].eq_ignore_ascii_case("S") {
        latitude = -latitude;
    }
    if f[at + 4].eq_ignore_ascii_case("W") {
        longitude = -longitude;
    }
    check_coordinates(off(at + 1), latitude, longitude)?;
    let number = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0);
    let speed_knots =
        number(at + 5).ok_or_else(|| DecodeError::invalid(off(at + 5), "speed", f.get(at + 5).unwrap_or(&"")))?;
    let course = number(at + 6).unwrap_or(0.0);
    // Some firmware puts one more field between course and date.
    let date_at =
        (at + 7..=at + 8).find(|&i| f.get(i).is_some_and(|d| d.len() == 6 && d.bytes().all(|b| b.is_ascii_digit())));
    let time = if command == "VP1" { "000000" } else { f[at - 1] };
    // Without a date (or a time) the fix is as of when it arrived.
    let (fix_time, date_at) = match (date_at, received_at) {
        (Some(date_at), _) if !time.is_empty() => (text_time(f[date_at], time, off(date_at))?, date_at),
        (date_at, Some(now)) if f.get(at + 7).is_some_and(|d| d.is_empty()) || time.is_empty() => {
            (now, date_at.unwrap_or(at + 7))
        }
        _ => return Err(DecodeError::invalid(off(at + 7), "date", f.get(at + 7).unwrap_or(&""))),
    };
    msg.kind = MessageKind::Position;
    msg.position = Some(Position {
        fix_time,
        latitude,
        longitude,
        speed_kmh: speed_knots * KNOT,
        course,
        altitude: None,
        satellites: None,
        // A number there is a coding scheme, sent only with a fix.
        valid: f[at] == "A" || (!f[at].is_empty() && f[at].bytes().all(|b| b.is_ascii_digit())),
        cell: None,
    });
    let status_at = if command == "V19" { f.len() - 1 } else { date_at + 1 };
    if let Some(status) = f.get(status_at).and_then(|s| u32::from_str_radix(s, 16).ok()) {
        apply_status(status, msg);
    }
    let extra = &f[(status_at + 1).min(f.len())..];
    let hex = |i: usize| extra.get(i).and_then(|v| u64::from_str_radix(v, 16).ok());
    let dec = |i: usize| extra.get(i).and_then(|v| v.parse::<u64>().ok());
    if command != "V19"
        && let (Some(mcc), Some(mnc), Some(lac), Some(cell_id)) = (dec(0), dec(1), dec(2), hex(3).or(dec(3)))
        && let Some(p) = msg.position.as_mut()
    {
        p.cell = Some(CellInfo { mcc: mcc as u16, mnc: mnc as u16, lac: lac as u32, cell_id });
    }
    if !extra.is_empty() {
        msg.attributes.set("extra", AttrValue::Text(extra.join(",")));
    }
    Ok(())
}

/// `ddmm.mmmm` (any number of degree digits) as degrees; also the undotted `ddmmmmmm` and the
/// `-dd-mm.mmmm` forms some firmware sends.
fn coordinate(text: &str) -> Option<f64> {
    if let Some((degrees, minutes)) = text.strip_prefix('-').and_then(|t| t.split_once('-')) {
        let (degrees, minutes) = (degrees.parse::<f64>().ok()?, minutes.parse::<f64>().ok()?);
        return (minutes < 60.0 && degrees.is_finite()).then_some(degrees + minutes / 60.0);
    }
    let cleaned: String = text.chars().filter(|c| *c != '-').collect();
    let value: f64 = cleaned.parse().ok()?;
    let value = if cleaned.contains('.') { value } else { value / 10_000.0 };
    let degrees = (value / 100.0).trunc();
    let minutes = value - degrees * 100.0;
    (minutes < 60.0 && value.is_finite()).then_some(degrees + minutes / 60.0)
}

fn text_time(date: &str, time: &str, offset: usize) -> Result<DateTime<Utc>, DecodeError> {
    let two = |s: &str, i: usize| s.get(i..i + 2).and_then(|v| v.parse::<u32>().ok());
    let bad = || DecodeError::invalid(offset, "date/time", format!("{date} {time}"));
    let (d, mo, y) = (two(date, 0).ok_or_else(bad)?, two(date, 2).ok_or_else(bad)?, two(date, 4).ok_or_else(bad)?);
    let (h, mi, s) = (two(time, 0).ok_or_else(bad)?, two(time, 2).ok_or_else(bad)?, two(time, 4).ok_or_else(bad)?);
    utc(offset, 2000 + y as i32, mo, d, h, mi, s)
}

fn apply_status(status: u32, msg: &mut Message) {
    msg.status.ignition = Some(status & (1 << 10) != 0);
    for (bit, alarm) in [(0, Alarm::Vibration), (1, Alarm::Sos), (2, Alarm::Overspeed), (19, Alarm::PowerCut)] {
        if status & (1 << bit) == 0 {
            msg.alarms.insert(alarm);
        }
    }
    msg.attributes.set("status", AttrValue::Text(format!("{status:08X}")));
}

fn binary(frame: &[u8]) -> Result<Message, DecodeError> {
    // The id is 5 BCD bytes, or 8 on devices that send the whole IMEI: pick the layout whose
    // time and date are valid.
    let (id_len, fix_time) = [5_usize, 8]
        .into_iter()
        .find_map(|id_len| binary_time(frame, 1 + id_len).ok().map(|t| (id_len, t)))
        .ok_or_else(|| binary_time(frame, 6).err().unwrap_or_else(|| DecodeError::new(6, ErrorKind::Truncated)))?;
    let at = 1 + id_len + 6;
    let body = frame.get(at..at + 17).ok_or_else(|| DecodeError::new(frame.len(), ErrorKind::Truncated))?;
    let digits = |bytes: &[u8], at: usize| -> Result<u64, DecodeError> {
        bytes.iter().enumerate().try_fold(0_u64, |acc, (i, b)| {
            bcd(*b)
                .map(|v| acc * 100 + u64::from(v))
                .ok_or_else(|| DecodeError::invalid(at + i, "bcd", format!("{b:02X}")))
        })
    };
    let id_digits = &frame[1..1 + id_len];
    let id_text = id_digits.iter().map(|b| format!("{b:02X}")).collect::<String>();
    let id_text = if id_len == 8 { id_text.trim_end_matches('F').trim_end_matches('0').to_owned() } else { id_text };
    let device_id = DeviceId::new(id_text.as_bytes()).ok_or_else(|| DecodeError::invalid(1, "device id", &id_text))?;
    let lat = digits(&body[..4], at)?;
    let battery = body[4];
    let lon_bytes = &body[5..10];
    let flags = lon_bytes[4] & 0x0F;
    let lon = digits(&lon_bytes[..4], at + 5)? * 10 + u64::from(lon_bytes[4] >> 4);
    let speed_course = digits(&body[10..13], at + 10)?;
    let status = u32::from_be_bytes([body[13], body[14], body[15], body[16]]);
    let mut latitude = (lat / 1_000_000) as f64 + (lat % 1_000_000) as f64 / 10_000.0 / 60.0;
    let mut longitude = (lon / 1_000_000) as f64 + (lon % 1_000_000) as f64 / 10_000.0 / 60.0;
    if flags & 0x04 == 0 {
        latitude = -latitude;
    }
    if flags & 0x08 == 0 {
        longitude = -longitude;
    }
    check_coordinates(at, latitude, longitude)?;
    let mut msg = Message::new(ProtocolKind::H02, MessageKind::Position);
    msg.device_id = Some(device_id);
    msg.position = Some(Position {
        fix_time,
        latitude,
        longitude,
        speed_kmh: (speed_course / 1000) as f64 * KNOT,
        course: (speed_course % 1000) as f64,
        altitude: None,
        satellites: None,
        valid: flags & 0x02 != 0,
        cell: None,
    });
    // Battery: 0-6 in steps (6 is full); other values are kept raw.
    if battery <= 6 {
        msg.status.battery_percent = Some([0, 5, 10, 20, 60, 80, 100][usize::from(battery)]);
    }
    msg.attributes.set("battery_level", AttrValue::Int(battery.into()));
    apply_status(status, &mut msg);
    if frame.len() > at + 17 {
        msg.attributes.set("extra", AttrValue::Bytes(frame[at + 17..].to_vec()));
    }
    Ok(msg)
}

fn binary_time(frame: &[u8], at: usize) -> Result<DateTime<Utc>, DecodeError> {
    let b = frame.get(at..at + 6).ok_or_else(|| DecodeError::new(frame.len(), ErrorKind::Truncated))?;
    let mut v = [0_u32; 6];
    for (i, byte) in b.iter().enumerate() {
        v[i] = bcd(*byte).ok_or_else(|| DecodeError::invalid(at + i, "bcd time", format!("{byte:02X}")))?;
    }
    // hh mm ss dd mm yy
    utc(at, 2000 + v[5] as i32, v[4], v[3], v[0], v[1], v[2])
}

/// Device-side encoders, used by the simulators and by round-trip tests.
pub mod device {
    use super::*;
    use chrono::{Datelike, Timelike};

    fn ddmm(value: f64, degree_digits: usize) -> String {
        let value = value.abs();
        let degrees = value.trunc();
        let minutes = (value - degrees) * 60.0;
        format!("{:0width$}{:07.4}", degrees as u32, minutes, width = degree_digits)
    }

    /// A `V1` position frame (speed is sent in knots, coordinates in minutes to 4 decimals).
    pub fn position(id: &DeviceId, p: &Position, status: u32, out: &mut Vec<u8>) {
        let t = p.fix_time;
        let text = format!(
            "*HQ,{id},V1,{:02}{:02}{:02},{},{},{},{},{},{:.2},{:.0},{:02}{:02}{:02},{status:08X}#",
            t.hour(),
            t.minute(),
            t.second(),
            if p.valid { "A" } else { "V" },
            ddmm(p.latitude, 2),
            if p.latitude < 0.0 { "S" } else { "N" },
            ddmm(p.longitude, 3),
            if p.longitude < 0.0 { "W" } else { "E" },
            p.speed_kmh / KNOT,
            p.course,
            t.day(),
            t.month(),
            t.year() % 100,
        );
        out.extend_from_slice(text.as_bytes());
    }

    /// A `LINK` heartbeat.
    pub fn heartbeat(id: &DeviceId, now: DateTime<Utc>, battery: u8, status: u32, out: &mut Vec<u8>) {
        let text =
            format!("*HQ,{id},LINK,{},20,8,{battery},0,0,{},{status:08X}#", now.format("%H%M%S"), now.format("%d%m%y"));
        out.extend_from_slice(text.as_bytes());
    }
}
