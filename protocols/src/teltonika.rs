//! Teltonika over TCP: the IMEI handshake, then AVL packets (Codec 8, 8 Extended, 16) and
//! Codec 12/13 text commands.
//!
//! ```text
//! handshake: len u16 | IMEI ASCII                       server answers 01 (accept)
//! packet:    00000000 | len u32 | codec u8 | n u8 | records ... | n u8 | crc u32
//!            crc = CRC-16/IBM over codec..second n      server answers n as u32
//! record:    time u64 ms UTC | priority u8 | lon i32 | lat i32 (1e-7 deg) | alt i16 | angle u16
//!            | satellites u8 | speed u16 km/h | I/O elements
//! I/O (8):   event u8 | total u8 | then for sizes 1, 2, 4, 8: count u8, (id u8, value)*
//! I/O (8E):  ids and counts are u16, plus a last group of (id u16, len u16, bytes)
//! I/O (16):  event u16 | generation u8 | total u8 | count u8, (id u16, value)* per size
//! codec 12:  n u8 (1) | type u8 (05 command, 06 response) | size u32 | text | n u8
//! codec 7:   (GH series) time u32 s since 2007-01-01 (top 2 bits: priority) | global mask u8
//!            | [location mask u8 | lat f32 | lon f32 | alt u16 | angle u8 (×360/256) | speed u8
//!            | satellites u8 | LAC u16, cell u16 | signal u8 | operator u32, each per mask bit]
//!            | I/O groups of 1, 2, 4 bytes per global mask bits 1-3: count u8, (id u8, value)*
//! ```
//! Some codec 8 firmware adds a group of 16-byte values after the 8-byte one; a packet that does
//! not read without it is read again with it. A packet cut short at the end of a stream gives the
//! records it holds.

use chrono::{DateTime, Utc};
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_i16, be_i32, be_u8, be_u16, be_u32, be_u64};

use crate::checksum::crc16_ibm;
use crate::error::{DecodeError, ErrorKind};
use crate::message::{Alarm, AttrKey, AttrValue, DeviceId, Message, MessageKind, Position, ProtocolKind};
use crate::parse::{Res, Run, check_coordinates, offset};
use crate::protocol::{Command, CommandError, Outgoing, Protocol, Scan, Session};

/// The Teltonika TCP protocol.
#[derive(Debug, Clone, Copy, Default)]
pub struct Teltonika;

/// Codec ids.
pub mod codec {
    /// Codec 8.
    pub const C8: u8 = 0x08;
    /// Codec 8 Extended.
    pub const C8E: u8 = 0x8E;
    /// Codec 16.
    pub const C16: u8 = 0x10;
    /// Codec 12 (text commands and responses).
    pub const C12: u8 = 0x0C;
    /// Codec 13 (responses with a timestamp).
    pub const C13: u8 = 0x0D;
    /// Codec 7 (GH series personal trackers).
    pub const C7: u8 = 0x07;
}

/// What the server owes a Teltonika device for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeltonikaAck {
    /// Accept the IMEI handshake (`01`).
    Accept,
    /// Acknowledge this many records.
    Records(u32),
    /// Nothing (a command response).
    Nothing,
}

/// Smallest AVL packet: preamble, length, codec, two counts, CRC.
const MIN_PACKET: usize = 8 + 3 + 4;

impl Protocol for Teltonika {
    const KIND: ProtocolKind = ProtocolKind::Teltonika;
    type Ack = TeltonikaAck;

    fn scan(buf: &[u8], max_frame_len: usize) -> Scan {
        match buf {
            [0, 0, 0, 0, a, b, c, d, ..] => {
                let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
                let total = len.saturating_add(12);
                if total < MIN_PACKET || total > max_frame_len {
                    return Scan::Skip {
                        skip: 4,
                        error: ErrorKind::BadLength { len, min: 3, max: max_frame_len.saturating_sub(12) },
                    };
                }
                if buf.len() < total { Scan::Incomplete } else { Scan::Frame(total) }
            }
            [0, 0, 0, 0] | [0, 0, 0, 0, ..] | [0, 0, 0] | [0, 0] | [0] | [] => Scan::Incomplete,
            [0, n @ 1..=32, rest @ ..] => {
                let n = usize::from(*n);
                let digits = &rest[..rest.len().min(n)];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return skip_to_start(buf);
                }
                if digits.len() < n { Scan::Incomplete } else { Scan::Frame(n + 2) }
            }
            _ => skip_to_start(buf),
        }
    }

    fn scan_at_end(buf: &[u8], max_frame_len: usize) -> Scan {
        match Self::scan(buf, max_frame_len) {
            // A packet cut short: what is there is read for the records it holds.
            Scan::Incomplete if buf.len() >= MIN_PACKET && buf[..4] == [0, 0, 0, 0] && first_record_reads(buf) => {
                Scan::Frame(buf.len())
            }
            other => other,
        }
    }

    fn decode(frame: &[u8], session: &mut Session, out: &mut Vec<Message>) -> Result<TeltonikaAck, DecodeError> {
        if frame.len() >= 2 && frame[0] == 0 && frame[1] != 0 {
            return handshake(frame, session, out);
        }
        if frame.len() < MIN_PACKET {
            return Err(DecodeError::new(frame.len(), ErrorKind::Truncated));
        }
        let declared_len = u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]) as usize;
        if declared_len.saturating_add(12) > frame.len() {
            return partial(frame, session, out);
        }
        let data = &frame[8..frame.len() - 4];
        let tail = &frame[frame.len() - 4..];
        let declared = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let checksum_ok = session.check(frame.len() - 4, declared, crc16_ibm(data).into())?;
        let (codec_id, count) = (data[0], data[1]);
        let last = data[data.len() - 1];
        if last != count {
            return Err(DecodeError::invalid(frame.len() - 5, "record count", format!("{last} (first said {count})")));
        }
        let first = out.len();
        let ack = match codec_id {
            codec::C8 | codec::C8E | codec::C16 | codec::C7 => {
                let records = &data[2..data.len() - 1];
                let read = records_into(frame, records, codec_id, count, false, session.device_id, out);
                if read.is_err() && codec_id == codec::C8 {
                    out.truncate(first);
                    records_into(frame, records, codec_id, count, true, session.device_id, out)
                        .or(read)
                        .inspect_err(|_| out.truncate(first))?;
                } else {
                    read.inspect_err(|_| out.truncate(first))?;
                }
                TeltonikaAck::Records(count.into())
            }
            codec::C12 | codec::C13 => {
                let msg = text_message(frame, &data[2..data.len() - 1], codec_id, session.device_id)?;
                out.push(msg);
                TeltonikaAck::Nothing
            }
            other => return Err(DecodeError::new(8, ErrorKind::UnsupportedCodec(other))),
        };
        for msg in &mut out[first..] {
            msg.checksum_ok = checksum_ok;
        }
        Ok(ack)
    }

    fn write_reply(ack: &TeltonikaAck, _session: &mut Session, _now: DateTime<Utc>, out: &mut Vec<u8>) {
        match ack {
            TeltonikaAck::Accept => out.push(0x01),
            TeltonikaAck::Records(n) => out.extend_from_slice(&n.to_be_bytes()),
            TeltonikaAck::Nothing => {}
        }
    }

    fn encode_command(command: &Command, _ctx: Outgoing<'_>, out: &mut Vec<u8>) -> Result<(), CommandError> {
        let text = match command {
            Command::EngineCut => "setdigout 1".to_owned(),
            Command::EngineRestore => "setdigout 0".to_owned(),
            Command::LocateNow => "getgps".to_owned(),
            // Parameter 10050 is the minimum period while moving on FMB devices.
            Command::SetInterval { seconds } => format!("setparam 10050:{seconds}"),
            Command::Text(t) => t.clone(),
        };
        write_codec12(0x05, text.as_bytes(), out)
    }
}

/// Reads `count` records of `records` into `out`, all of them or an error.
fn records_into(
    frame: &[u8],
    records: &[u8],
    codec_id: u8,
    count: u8,
    sixteen: bool,
    device: Option<DeviceId>,
    out: &mut Vec<Message>,
) -> Result<(), DecodeError> {
    let mut rest = records;
    for _ in 0..count {
        // Built in place in `out`: no copy of the message on the hot path.
        let mut msg = Message::new(ProtocolKind::Teltonika, MessageKind::Position);
        msg.device_id = device;
        out.push(msg);
        let at = out.len() - 1;
        rest = record(frame, rest, codec_id, sixteen, &mut out[at])?;
    }
    if !rest.is_empty() {
        return Err(DecodeError::invalid(offset(frame, rest), "record data", "bytes after the last record"));
    }
    Ok(())
}

/// Whether a packet's first record reads, with a time after 2000: what tells a packet cut short
/// from noise that happens to start with zeros.
fn first_record_reads(buf: &[u8]) -> bool {
    let (codec_id, count) = (buf[8], buf[9]);
    let mut msg = Message::new(ProtocolKind::Teltonika, MessageKind::Position);
    matches!(codec_id, codec::C8 | codec::C8E | codec::C16 | codec::C7)
        && count > 0
        && record(buf, &buf[10..], codec_id, false, &mut msg).is_ok()
        && msg.position.is_some_and(|p| p.fix_time.timestamp() > 946_684_800)
}

/// A packet cut short at the end of a stream: the whole records it holds, nothing acknowledged.
fn partial(frame: &[u8], session: &mut Session, out: &mut Vec<Message>) -> Result<TeltonikaAck, DecodeError> {
    let (codec_id, count) = (frame[8], frame[9]);
    if !matches!(codec_id, codec::C8 | codec::C8E | codec::C16 | codec::C7) {
        return Err(DecodeError::new(frame.len(), ErrorKind::Truncated));
    }
    let mut rest = &frame[10..];
    for _ in 0..count {
        let mut msg = Message::new(ProtocolKind::Teltonika, MessageKind::Position);
        msg.device_id = session.device_id;
        match record(frame, rest, codec_id, false, &mut msg) {
            Ok(next) => {
                out.push(msg);
                rest = next;
            }
            Err(_) => break,
        }
    }
    Ok(TeltonikaAck::Nothing)
}

/// Skips to the next `00 00 00 00` preamble or `00 0F` handshake.
fn skip_to_start(buf: &[u8]) -> Scan {
    let next = (1..buf.len())
        .find(|&i| {
            let w = &buf[i..];
            w.iter().take(4).all(|b| *b == 0) || (w.len() >= 3 && w[0] == 0 && w[1] == 15 && w[2].is_ascii_digit())
        })
        .unwrap_or(buf.len());
    Scan::Skip { skip: next, error: ErrorKind::Garbage(next) }
}

fn handshake(frame: &[u8], session: &mut Session, out: &mut Vec<Message>) -> Result<TeltonikaAck, DecodeError> {
    let id = DeviceId::new(&frame[2..])
        .filter(|_| frame[2..].iter().all(u8::is_ascii_digit))
        .ok_or_else(|| DecodeError::invalid(2, "imei", String::from_utf8_lossy(&frame[2..])))?;
    session.device_id = Some(id);
    let mut msg = Message::new(ProtocolKind::Teltonika, MessageKind::Login);
    msg.device_id = Some(id);
    out.push(msg);
    Ok(TeltonikaAck::Accept)
}

/// One AVL record into `msg`; returns the input after it.
fn record<'a>(
    frame: &[u8],
    input: &'a [u8],
    codec_id: u8,
    sixteen: bool,
    msg: &mut Message,
) -> Result<&'a [u8], DecodeError> {
    if codec_id == codec::C7 {
        return gh_record(frame, input, msg);
    }
    let start = offset(frame, input);
    let (rest, (millis, priority, lon, lat, altitude, angle, satellites, speed)) =
        (be_u64, be_u8, be_i32, be_i32, be_i16, be_u16, be_u8, be_u16).parse(input).at(frame)?;
    let fix_time = i64::try_from(millis)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| DecodeError::invalid(start, "timestamp", millis))?;
    let (latitude, longitude) = (f64::from(lat) / 1e7, f64::from(lon) / 1e7);
    check_coordinates(start + 9, latitude, longitude)?;
    msg.position = Some(Position {
        fix_time,
        latitude,
        longitude,
        speed_kmh: speed.into(),
        course: angle.into(),
        altitude: Some(altitude.into()),
        satellites: Some(satellites),
        valid: satellites != 0,
        cell: None,
    });
    if priority == 2 {
        msg.alarms.insert(Alarm::Sos);
    }
    let width = match codec_id {
        codec::C8 => Width::Narrow,
        codec::C8E => Width::Extended,
        _ => Width::Codec16,
    };
    let rest = io_elements(rest, width, sixteen, priority, msg);
    rest.map(|(r, ())| r).map_err(|e| crate::parse::nom_error(frame, e))
}

/// Seconds from the Unix epoch to 2007-01-01, codec 7's epoch.
const GH_EPOCH: i64 = 1_167_609_600;

/// One codec 7 record into `msg`.
fn gh_record<'a>(frame: &[u8], input: &'a [u8], msg: &mut Message) -> Result<&'a [u8], DecodeError> {
    let start = offset(frame, input);
    let (mut rest, (stamp, global)) = (be_u32, be_u8).parse(input).at(frame)?;
    let fix_time = DateTime::from_timestamp(GH_EPOCH + i64::from(stamp & 0x3FFF_FFFF), 0)
        .ok_or_else(|| DecodeError::invalid(start, "timestamp", stamp))?;
    msg.attributes.set("priority", AttrValue::Int((stamp >> 30).into()));
    if global & 0x01 != 0 {
        let (r, mask) = be_u8(rest).at(frame)?;
        rest = r;
        let mut position = Position {
            fix_time,
            latitude: 0.0,
            longitude: 0.0,
            speed_kmh: 0.0,
            course: 0.0,
            altitude: None,
            satellites: None,
            valid: false,
            cell: None,
        };
        if mask & 0x01 != 0 {
            let (r, (lat, lon)) = (be_u32, be_u32).parse(rest).at(frame)?;
            rest = r;
            let (latitude, longitude) = (f64::from(f32::from_bits(lat)), f64::from(f32::from_bits(lon)));
            if !latitude.is_finite() || !longitude.is_finite() {
                return Err(DecodeError::invalid(start + 6, "coordinates", format!("{latitude},{longitude}")));
            }
            check_coordinates(start + 6, latitude, longitude)?;
            (position.latitude, position.longitude, position.valid) = (latitude, longitude, true);
        }
        let mut field = |bit: u8, len: usize| -> Result<u64, DecodeError> {
            if mask & bit == 0 {
                return Ok(0);
            }
            let (r, bytes) = take::<_, _, nom::error::Error<&[u8]>>(len)(rest).at(frame)?;
            rest = r;
            Ok(bytes.iter().fold(0_u64, |acc, b| acc << 8 | u64::from(*b)))
        };
        let altitude = field(0x02, 2)?;
        if mask & 0x02 != 0 {
            position.altitude = Some(altitude as f64);
        }
        position.course = field(0x04, 1)? as f64 * 360.0 / 256.0;
        position.speed_kmh = field(0x08, 1)? as f64;
        let satellites = field(0x10, 1)?;
        if mask & 0x10 != 0 {
            position.satellites = u8::try_from(satellites).ok();
        }
        let lac_cell = field(0x20, 4)?;
        let signal = field(0x40, 1)?;
        let operator = field(0x80, 4)?;
        if mask & 0x40 != 0 {
            msg.status.gsm_signal = u8::try_from(signal).ok();
        }
        if mask & 0x20 != 0 {
            msg.attributes.set("lac", AttrValue::Int((lac_cell >> 16) as i64));
            msg.attributes.set("cell_id", AttrValue::Int((lac_cell & 0xFFFF) as i64));
        }
        if mask & 0x80 != 0 {
            msg.attributes.set("operator", AttrValue::Int(operator as i64));
        }
        if mask & 0x01 != 0 {
            msg.position = Some(position);
        }
    }
    if msg.position.is_none() {
        msg.kind = MessageKind::Heartbeat;
    }
    for (bit, size) in [(0x02_u8, 1_usize), (0x04, 2), (0x08, 4)] {
        if global & bit == 0 {
            continue;
        }
        let (r, n) = be_u8(rest).at(frame)?;
        rest = r;
        for _ in 0..n {
            let (r, (id, value)) = (be_u8, take(size)).parse(rest).at(frame)?;
            let value: &[u8] = value;
            rest = r;
            apply_io(msg, id.into(), value.iter().fold(0_u64, |acc, b| acc << 8 | u64::from(*b)));
        }
    }
    Ok(rest)
}

/// How ids and counts are sized in a codec's I/O block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    /// Codec 8: u8 ids and counts.
    Narrow,
    /// Codec 8 Extended: u16 ids and counts, plus variable-length values.
    Extended,
    /// Codec 16: u16 event id and ids, u8 counts, a generation-type byte.
    Codec16,
}

fn io_elements<'a>(input: &'a [u8], width: Width, sixteen: bool, priority: u8, msg: &mut Message) -> Res<'a, ()> {
    let wide_id = |i| {
        if width == Width::Narrow { be_u8(i).map(|(i, v)| (i, u16::from(v))) } else { be_u16(i) }
    };
    let count = |i| {
        if width == Width::Extended { be_u16(i) } else { be_u8(i).map(|(i, v)| (i, u16::from(v))) }
    };
    let (mut input, event) = wide_id(input)?;
    let mut generation = None;
    if width == Width::Codec16 {
        let (i, g) = be_u8(input)?;
        generation = Some(g);
        input = i;
    }
    let (mut input, total) = count(input)?;
    // One allocation for the record's attributes: priority, event, generation and the elements.
    msg.attributes.reserve(usize::from(total) + 3);
    msg.attributes.set("priority", AttrValue::Int(priority.into()));
    if let Some(g) = generation {
        msg.attributes.set("generation", AttrValue::Int(g.into()));
    }
    msg.attributes.set("event_io", AttrValue::Int(event.into()));
    for size in [1_usize, 2, 4, 8] {
        let (i, n) = count(input)?;
        input = i;
        for _ in 0..n {
            let (i, (id, value)) = (wide_id, take(size)).parse(input)?;
            let value: &[u8] = value;
            input = i;
            apply_io(msg, id, value.iter().fold(0_u64, |acc, b| acc << 8 | u64::from(*b)));
        }
    }
    if sixteen {
        let (i, n) = count(input)?;
        input = i;
        for _ in 0..n {
            let (i, (id, value)) = (wide_id, take(16_usize)).parse(input)?;
            input = i;
            msg.attributes.push(AttrKey::Io(id), AttrValue::Bytes(value.to_vec()));
        }
    }
    if width == Width::Extended {
        let (i, n) = be_u16(input)?;
        input = i;
        for _ in 0..n {
            let (i, (id, len)) = (be_u16, be_u16).parse(input)?;
            let (i, value) = take(len)(i)?;
            input = i;
            msg.attributes.push(AttrKey::Io(id), AttrValue::Bytes(value.to_vec()));
        }
    }
    Ok((input, ()))
}

/// Keeps an I/O element and maps the ones with a meaning shared across devices to typed fields.
pub fn apply_io(msg: &mut Message, id: u16, value: u64) {
    let s = &mut msg.status;
    match id {
        239 => s.ignition = Some(value != 0),
        66 => s.power_voltage = Some(value as f64 / 1000.0),
        113 => s.battery_percent = u8::try_from(value).ok().filter(|v| *v <= 100),
        16 => s.odometer_m = Some(value),
        21 => s.gsm_signal = u8::try_from(value).ok(),
        252 if value == 1 => msg.alarms.insert(Alarm::PowerCut),
        246 if value == 1 => msg.alarms.insert(Alarm::Tow),
        247 if value != 0 => msg.alarms.insert(Alarm::Collision),
        249 | 318 if value == 1 => msg.alarms.insert(Alarm::Jamming),
        255 => msg.alarms.insert(Alarm::Overspeed),
        236 if value == 1 => msg.alarms.insert(Alarm::General),
        155..=159 | 61..=65 | 175 => {
            msg.alarms.insert(if value == 0 { Alarm::GeofenceExit } else { Alarm::GeofenceEnter })
        }
        253 => match value {
            1 => msg.alarms.insert(Alarm::HarshAcceleration),
            2 => msg.alarms.insert(Alarm::HarshBraking),
            3 => msg.alarms.insert(Alarm::HarshCornering),
            _ => {}
        },
        _ => {}
    }
    let value = i64::try_from(value).map_or_else(|_| AttrValue::Text(value.to_string()), AttrValue::Int);
    msg.attributes.push(AttrKey::Io(id), value);
}

fn text_message(frame: &[u8], input: &[u8], codec_id: u8, device: Option<DeviceId>) -> Result<Message, DecodeError> {
    let (rest, (kind, size)) = (be_u8, be_u32).parse(input).at(frame)?;
    let mut text = rest
        .get(..size as usize)
        .ok_or_else(|| DecodeError::invalid(offset(frame, input) + 1, "command size", size))?;
    let mut msg = Message::new(ProtocolKind::Teltonika, MessageKind::CommandReply);
    msg.device_id = device;
    if codec_id == codec::C13 && text.len() >= 4 {
        let ts = u32::from_be_bytes([text[0], text[1], text[2], text[3]]);
        msg.attributes.set("timestamp", AttrValue::Int(ts.into()));
        text = &text[4..];
    }
    if kind == 0x05 {
        msg.kind = MessageKind::Unknown;
    }
    let value = match std::str::from_utf8(text) {
        Ok(t) => AttrValue::Text(t.to_owned()),
        Err(_) => AttrValue::Bytes(text.to_vec()),
    };
    msg.attributes.set(if kind == 0x05 { "command" } else { "text" }, value);
    Ok(msg)
}

/// Writes a Codec 12 packet of `kind` (0x05 command, 0x06 response) carrying `text`.
fn write_codec12(kind: u8, text: &[u8], out: &mut Vec<u8>) -> Result<(), CommandError> {
    if text.len() > 1024 {
        return Err(CommandError::TooLong(text.len()));
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&((text.len() + 8) as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(&[codec::C12, 1, kind]);
    out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    out.extend_from_slice(text);
    out.push(1);
    let crc = u32::from(crc16_ibm(&out[start..]));
    out.extend_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Device-side encoders, used by the simulators and by round-trip tests.
pub mod device {
    use super::*;

    /// The IMEI handshake.
    pub fn handshake(imei: &DeviceId, out: &mut Vec<u8>) {
        out.extend_from_slice(&(imei.as_bytes().len() as u16).to_be_bytes());
        out.extend_from_slice(imei.as_bytes());
    }

    /// A Codec 8 packet of records. Each message gives its position, its `priority` and
    /// `event_io` attributes, and its I/O elements from the `io<id>` attributes (integers).
    pub fn codec8(records: &[Message], out: &mut Vec<u8>) {
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        let start = out.len();
        out.extend_from_slice(&[codec::C8, records.len() as u8]);
        for msg in records {
            let Some(p) = msg.position else { continue };
            let int = |name| match msg.attributes.named(name) {
                Some(AttrValue::Int(v)) => *v,
                _ => 0,
            };
            out.extend_from_slice(&(p.fix_time.timestamp_millis() as u64).to_be_bytes());
            out.push(int("priority") as u8);
            out.extend_from_slice(&((p.longitude * 1e7).round() as i32).to_be_bytes());
            out.extend_from_slice(&((p.latitude * 1e7).round() as i32).to_be_bytes());
            out.extend_from_slice(&(p.altitude.unwrap_or(0.0).round() as i16).to_be_bytes());
            out.extend_from_slice(&(p.course.round() as u16).to_be_bytes());
            out.push(p.satellites.unwrap_or(0));
            out.extend_from_slice(&(p.speed_kmh.round() as u16).to_be_bytes());
            let ios: Vec<(u8, u64)> = msg
                .attributes
                .iter()
                .filter_map(|(k, v)| match (k, v) {
                    (AttrKey::Io(id), AttrValue::Int(v)) => Some((u8::try_from(*id).ok()?, *v as u64)),
                    _ => None,
                })
                .collect();
            out.push(int("event_io") as u8);
            out.push(ios.len() as u8);
            for size in [1_usize, 2, 4, 8] {
                let fits = |v: u64| {
                    if size == 8 {
                        v > u32::MAX.into()
                    } else {
                        v < 1 << (8 * size) && (size == 1 || v >= 1 << (4 * size))
                    }
                };
                let group: Vec<_> = ios.iter().filter(|(_, v)| fits(*v)).collect();
                out.push(group.len() as u8);
                for (id, v) in group {
                    out.push(*id);
                    out.extend_from_slice(&v.to_be_bytes()[8 - size..]);
                }
            }
        }
        out.push(records.len() as u8);
        let len = (out.len() - start) as u32;
        out[start - 4..start].copy_from_slice(&len.to_be_bytes());
        let crc = u32::from(crc16_ibm(&out[start..]));
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// A Codec 12 response carrying `text`.
    pub fn command_response(text: &str, out: &mut Vec<u8>) -> Result<(), CommandError> {
        write_codec12(0x06, text.as_bytes(), out)
    }
}
