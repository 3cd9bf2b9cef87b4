//! JT/T 808-2013 and -2019: `7E`-delimited frames with byte escaping and an XOR checksum.
//!
//! ```text
//! 7E | header | body | xor | 7E          inside: 7E -> 7D 02, 7D -> 7D 01
//! header 2013: id u16 | attrs u16 | phone BCD[6]  | serial u16 | [total u16 | index u16]
//! header 2019: id u16 | attrs u16 | version u8 | phone BCD[10] | serial u16 | [total u16 | index u16]
//! attrs: bits 0-9 body length, 10-12 encryption, 13 sub-packaged, 14 version 2019
//! 0x0200 body: alarm u32 | status u32 | lat u32 | lon u32 (1e-6 deg) | altitude u16 m
//!              | speed u16 (0.1 km/h) | course u16 | time BCD[6] (GMT+8) | items (id u8, len u8, value)*
//! ```

use chrono::{DateTime, Utc};
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_i16, be_u8, be_u16, be_u32};

use crate::checksum::xor;
use crate::error::{DecodeError, ErrorKind};
use crate::message::{Alarm, AttrKey, AttrValue, DeviceId, Message, MessageKind, Position, ProtocolKind};
use crate::parse::{Run, bcd_time, check_coordinates, offset};
use crate::protocol::{Command, CommandError, Outgoing, Protocol, Scan, Session};

/// The JT/T 808 protocol.
#[derive(Debug, Clone, Copy, Default)]
pub struct Jt808;

/// Message ids.
pub mod id {
    /// Terminal general response.
    pub const TERMINAL_RESPONSE: u16 = 0x0001;
    /// Heartbeat.
    pub const HEARTBEAT: u16 = 0x0002;
    /// Logout.
    pub const LOGOUT: u16 = 0x0003;
    /// Register.
    pub const REGISTER: u16 = 0x0100;
    /// Authentication.
    pub const AUTH: u16 = 0x0102;
    /// Location report.
    pub const LOCATION: u16 = 0x0200;
    /// Location query response.
    pub const LOCATION_RESPONSE: u16 = 0x0201;
    /// Batch (blind-area) location upload.
    pub const BATCH: u16 = 0x0704;
    /// Platform general response.
    pub const PLATFORM_RESPONSE: u16 = 0x8001;
    /// Register response.
    pub const REGISTER_RESPONSE: u16 = 0x8100;
    /// Set terminal parameters.
    pub const SET_PARAMS: u16 = 0x8103;
    /// Terminal control.
    pub const TERMINAL_CONTROL: u16 = 0x8105;
    /// Location query.
    pub const LOCATE: u16 = 0x8201;
    /// Text message.
    pub const TEXT: u16 = 0x8300;
    /// Vehicle control.
    pub const VEHICLE_CONTROL: u16 = 0x8500;
}

/// The addressing part of a header, echoed in replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal {
    phone: [u8; 10],
    phone_len: u8,
    /// The 2019 protocol version byte, `None` for 2013 frames.
    pub version: Option<u8>,
}

impl Terminal {
    /// The terminal phone number bytes (BCD).
    pub fn phone(&self) -> &[u8] {
        &self.phone[..usize::from(self.phone_len)]
    }

    /// The terminal as addressed by a device id: 12 digits for 2013, 20 for 2019.
    pub fn from_device_id(id: &DeviceId) -> Result<Self, CommandError> {
        let text = id.as_bytes();
        if text.len() > 20 || !text.iter().all(u8::is_ascii_hexdigit) {
            return Err(CommandError::OutOfRange(format!("terminal id {id}")));
        }
        let mut padded = Vec::with_capacity(20);
        crate::parse::push_bcd_digits(&mut padded, text, if text.len() > 12 { 10 } else { 6 });
        // Hex ids (non-BCD terminals) keep their nibbles.
        for (i, pair) in text.rchunks(2).enumerate() {
            let v = pair.iter().fold(0_u8, |acc, d| acc << 4 | (*d as char).to_digit(16).unwrap_or(0) as u8);
            let at = padded.len() - 1 - i;
            padded[at] = v;
        }
        let mut phone = [0; 10];
        phone[..padded.len()].copy_from_slice(&padded);
        Ok(Self { phone, phone_len: padded.len() as u8, version: (padded.len() == 10).then_some(1) })
    }
}

/// What the server owes a JT/T 808 terminal for one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jt808Ack {
    /// 0x8001 platform general response.
    General {
        /// Who to answer.
        terminal: Terminal,
        /// The terminal's serial being answered.
        serial: u16,
        /// The message id being answered.
        msg_id: u16,
        /// 0 success, 1 failure, 2 bad message, 3 unsupported, 4 alarm confirmed.
        result: u8,
    },
    /// 0x8100 register response carrying the authentication code.
    Register {
        /// Who to answer.
        terminal: Terminal,
        /// The register message's serial.
        serial: u16,
        /// The authentication code the terminal must present in 0x0102 (its own id).
        auth_code: Option<DeviceId>,
    },
    /// Nothing (a terminal's response to our command).
    Nothing,
}

/// Smallest frame: 7E, 12-byte 2013 header, checksum, 7E.
const MIN_FRAME: usize = 15;

impl Protocol for Jt808 {
    const KIND: ProtocolKind = ProtocolKind::Jt808;
    type Ack = Jt808Ack;

    fn scan(buf: &[u8], max_frame_len: usize) -> Scan {
        if buf.first() != Some(&0x7E) {
            let skip = memchr::memchr(0x7E, buf).unwrap_or(buf.len()).max(1);
            return Scan::Skip { skip, error: ErrorKind::Garbage(skip) };
        }
        let window = &buf[..buf.len().min(max_frame_len)];
        match memchr::memchr(0x7E, &window[1..]) {
            // Two delimiters in a row: the first closed an earlier frame.
            Some(0) => Scan::Skip { skip: 1, error: ErrorKind::Garbage(1) },
            Some(end) if end + 2 < MIN_FRAME => Scan::Skip {
                skip: end + 1,
                error: ErrorKind::BadLength { len: end + 2, min: MIN_FRAME, max: max_frame_len },
            },
            Some(end) => Scan::Frame(end + 2),
            None if buf.len() >= max_frame_len => {
                Scan::Skip { skip: window.len(), error: ErrorKind::MissingTerminator }
            }
            None => Scan::Incomplete,
        }
    }

    fn decode(frame: &[u8], session: &mut Session, out: &mut Vec<Message>) -> Result<Jt808Ack, DecodeError> {
        let inner = frame.get(1..frame.len().saturating_sub(1)).unwrap_or_default();
        if memchr::memchr(0x7D, inner).is_none() {
            return decode_unescaped(inner, session, out);
        }
        let mut scratch = std::mem::take(&mut session.scratch);
        let result = unescape(inner, &mut scratch).and_then(|()| decode_unescaped(&scratch, session, out));
        session.scratch = scratch;
        result
    }

    fn write_reply(ack: &Jt808Ack, session: &mut Session, _now: DateTime<Utc>, out: &mut Vec<u8>) {
        match ack {
            Jt808Ack::General { terminal, serial, msg_id, result } => {
                let mut body = [0_u8; 5];
                body[..2].copy_from_slice(&serial.to_be_bytes());
                body[2..4].copy_from_slice(&msg_id.to_be_bytes());
                body[4] = *result;
                write_frame(out, id::PLATFORM_RESPONSE, terminal, session.next_serial(), &body);
            }
            Jt808Ack::Register { terminal, serial, auth_code } => {
                let code = auth_code.as_ref().map(DeviceId::as_bytes).unwrap_or_default();
                let mut body = Vec::with_capacity(3 + code.len());
                body.extend_from_slice(&serial.to_be_bytes());
                body.push(0);
                body.extend_from_slice(code);
                write_frame(out, id::REGISTER_RESPONSE, terminal, session.next_serial(), &body);
            }
            Jt808Ack::Nothing => {}
        }
    }

    fn encode_command(command: &Command, ctx: Outgoing<'_>, out: &mut Vec<u8>) -> Result<(), CommandError> {
        let terminal = Terminal::from_device_id(ctx.device_id.ok_or(CommandError::NoDeviceId)?)?;
        let (msg_id, body): (u16, Vec<u8>) = match command {
            // Command words 0x64 / 0x65 are the common extension for cutting and restoring fuel and power.
            Command::EngineCut => (id::TERMINAL_CONTROL, vec![0x64]),
            Command::EngineRestore => (id::TERMINAL_CONTROL, vec![0x65]),
            Command::LocateNow => (id::LOCATE, Vec::new()),
            Command::SetInterval { seconds } => {
                // Parameter 0x0029: default reporting interval in seconds.
                let mut body = vec![1, 0, 0, 0, 0x29, 4];
                body.extend_from_slice(&seconds.to_be_bytes());
                (id::SET_PARAMS, body)
            }
            Command::Text(text) => {
                if text.len() > 1000 {
                    return Err(CommandError::TooLong(text.len()));
                }
                let mut body = vec![0x08];
                body.extend_from_slice(text.as_bytes());
                (id::TEXT, body)
            }
        };
        write_frame(out, msg_id, &terminal, ctx.serial, &body);
        Ok(())
    }
}

/// Encodes a 0x8500 vehicle-control frame with the given control flag (bit 0: lock doors; many
/// terminals use it to cut fuel and power instead).
pub fn vehicle_control(terminal: &Terminal, serial: u16, flag: u8, out: &mut Vec<u8>) {
    write_frame(out, id::VEHICLE_CONTROL, terminal, serial, &[flag]);
}

fn unescape(inner: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.clear();
    let mut bytes = inner.iter().enumerate();
    while let Some((i, &b)) = bytes.next() {
        if b != 0x7D {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some((_, 0x01)) => out.push(0x7D),
            Some((_, 0x02)) => out.push(0x7E),
            _ => return Err(DecodeError::new(i + 1, ErrorKind::BadEscape)),
        }
    }
    Ok(())
}

/// The parsed header.
struct Header {
    msg_id: u16,
    body_len: usize,
    terminal: Terminal,
    serial: u16,
    encrypted: bool,
    package: Option<(u16, u16)>,
}

/// Reads the header; `force_2019` overrides the version flag.
fn parse_header(data: &[u8], force_2019: Option<bool>) -> Result<(Header, &[u8]), DecodeError> {
    let (rest, (msg_id, attrs)) = (be_u16, be_u16).parse(data).at(data).map_err(|e| e.shifted(1))?;
    let v2019 = force_2019.unwrap_or(attrs & 0x4000 != 0);
    let (rest, version) = if v2019 { be_u8(rest).map(|(r, v)| (r, Some(v))).at(data)? } else { (rest, None) };
    let phone_len = if v2019 { 10 } else { 6 };
    let (rest, (phone_bytes, serial)) = (take(phone_len), be_u16).parse(rest).at(data).map_err(|e| e.shifted(1))?;
    let phone_bytes: &[u8] = phone_bytes;
    let (rest, package) = if attrs & 0x2000 != 0 {
        let (r, (total, index)) = (be_u16, be_u16).parse(rest).at(data).map_err(|e| e.shifted(1))?;
        (r, Some((total, index)))
    } else {
        (rest, None)
    };
    let mut phone = [0; 10];
    phone[..phone_len].copy_from_slice(phone_bytes);
    let header = Header {
        msg_id,
        body_len: usize::from(attrs & 0x03FF),
        terminal: Terminal { phone, phone_len: phone_len as u8, version },
        serial,
        encrypted: attrs & 0x1C00 != 0,
        package,
    };
    Ok((header, rest))
}

fn decode_unescaped(data: &[u8], session: &mut Session, out: &mut Vec<Message>) -> Result<Jt808Ack, DecodeError> {
    let Some((&declared, data)) = data.split_last() else {
        return Err(DecodeError::new(1, ErrorKind::Truncated));
    };
    let checksum_ok = session.check(data.len() + 1, declared.into(), xor(data).into())?;
    let (header, rest) = match parse_header(data, None) {
        // Some 2013 terminals set the 2019 flag: when the 2019 reading does not fit, read it as 2013.
        Ok((header, rest)) if header.terminal.version.is_some() && rest.len() != header.body_len => {
            parse_header(data, Some(false)).ok().filter(|(h, r)| r.len() == h.body_len).unwrap_or((header, rest))
        }
        other => other?,
    };
    let (msg_id, serial, body_len) = (header.msg_id, header.serial, header.body_len);
    if rest.len() < body_len {
        return Err(DecodeError::new(
            offset(data, rest) + 1,
            ErrorKind::BadLength { len: body_len, min: 0, max: rest.len() },
        ));
    }
    let (body, extra) = rest.split_at(body_len);
    let device_id = DeviceId::from_hex(header.terminal.phone());
    if device_id.is_some() {
        session.device_id = device_id;
    }
    let general = |result| Jt808Ack::General { terminal: header.terminal, serial, msg_id, result };
    let body_at = offset(data, body) + 1;

    if let Some((total, index)) = header.package {
        let whole = session.fragments.add(msg_id, serial, total, index, body, session.config.max_frame_len);
        return match whole {
            Some(body) => {
                let first = out.len();
                let ack = message(&header, &body, body_at, session, out);
                mark(&mut out[first..], checksum_ok, extra);
                ack.map(|_| general(0))
            }
            None => Ok(general(0)),
        };
    }
    let first = out.len();
    let ack = message(&header, body, body_at, session, out)?;
    mark(&mut out[first..], checksum_ok, extra);
    Ok(match ack {
        Reply::General => general(0),
        Reply::Register => Jt808Ack::Register { terminal: header.terminal, serial, auth_code: device_id },
        Reply::Nothing => Jt808Ack::Nothing,
    })
}

fn mark(msgs: &mut [Message], checksum_ok: bool, extra: &[u8]) {
    for msg in msgs {
        msg.checksum_ok = checksum_ok;
        if !extra.is_empty() {
            msg.attributes.set("extra", AttrValue::Bytes(extra.to_vec()));
        }
    }
}

/// Which reply a message needs.
enum Reply {
    General,
    Register,
    Nothing,
}

fn message(
    header: &Header,
    body: &[u8],
    body_at: usize,
    session: &Session,
    out: &mut Vec<Message>,
) -> Result<Reply, DecodeError> {
    let mut msg = Message::new(ProtocolKind::Jt808, MessageKind::Unknown);
    msg.device_id = session.device_id;
    msg.serial = Some(header.serial.into());
    if let Some(v) = header.terminal.version {
        msg.attributes.set("protocol_version", AttrValue::Int(v.into()));
    }
    if header.msg_id == id::BATCH && !header.encrypted {
        return batch(body, body_at, &msg, out);
    }
    // Built in place in `out`: no copy of the message on the hot path.
    let at = out.len();
    out.push(msg);
    let result = fill(header, body, body_at, &mut out[at]);
    if result.is_err() {
        out.truncate(at);
    }
    result
}

/// Decodes the body of a single-message frame into `msg`.
fn fill(header: &Header, body: &[u8], body_at: usize, msg: &mut Message) -> Result<Reply, DecodeError> {
    let shift = |e: DecodeError| e.shifted(body_at);
    if header.encrypted {
        msg.attributes.set("msg_id", AttrValue::Int(header.msg_id.into()));
        msg.attributes.set("encrypted_body", AttrValue::Bytes(body.to_vec()));
        return Ok(Reply::General);
    }
    Ok(match header.msg_id {
        id::HEARTBEAT => {
            msg.kind = MessageKind::Heartbeat;
            Reply::General
        }
        id::LOGOUT => {
            msg.kind = MessageKind::Logout;
            Reply::General
        }
        id::REGISTER => {
            register(body, header.terminal.version.is_some(), msg).map_err(shift)?;
            Reply::Register
        }
        id::AUTH => {
            auth(body, header.terminal.version.is_some(), msg);
            Reply::General
        }
        id::LOCATION => {
            location(body, msg).map_err(shift)?;
            Reply::General
        }
        id::LOCATION_RESPONSE => {
            let (rest, reply_serial) = be_u16(body).at(body).map_err(shift)?;
            msg.attributes.set("reply_serial", AttrValue::Int(reply_serial.into()));
            location(rest, msg).map_err(|e| e.shifted(body_at + 2))?;
            Reply::General
        }
        id::TERMINAL_RESPONSE => {
            let (_, (reply_serial, reply_id, result)) = (be_u16, be_u16, be_u8).parse(body).at(body).map_err(shift)?;
            msg.kind = MessageKind::CommandReply;
            msg.attributes.set("reply_serial", AttrValue::Int(reply_serial.into()));
            msg.attributes.set("reply_msg_id", AttrValue::Int(reply_id.into()));
            msg.attributes.set("result", AttrValue::Int(result.into()));
            Reply::Nothing
        }
        other => {
            msg.attributes.set("msg_id", AttrValue::Int(other.into()));
            msg.attributes.set("raw", AttrValue::Bytes(body.to_vec()));
            Reply::General
        }
    })
}

fn text(bytes: &[u8]) -> AttrValue {
    let trimmed: &[u8] = {
        let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
        &bytes[..end]
    };
    match std::str::from_utf8(trimmed) {
        Ok(t) => AttrValue::Text(t.to_owned()),
        Err(_) => AttrValue::Bytes(trimmed.to_vec()),
    }
}

fn register(body: &[u8], v2019: bool, msg: &mut Message) -> Result<(), DecodeError> {
    // 2019: 11/30/30 bytes; 2013: 5/20/7; the 2011 edition had an 8-byte model.
    let (maker, model, terminal): (usize, usize, usize) = match (v2019, body.len()) {
        (true, _) => (11, 30, 30),
        (false, n) if n < 2 + 2 + 5 + 20 + 7 + 1 => (5, 8, 7),
        _ => (5, 20, 7),
    };
    let (rest, (province, city, maker, model, terminal, color)) =
        (be_u16, be_u16, take(maker), take(model), take(terminal), be_u8).parse(body).at(body)?;
    msg.kind = MessageKind::Login;
    msg.attributes.set("province", AttrValue::Int(province.into()));
    msg.attributes.set("city", AttrValue::Int(city.into()));
    msg.attributes.set("manufacturer", text(maker));
    msg.attributes.set("model", text(model));
    msg.attributes.set("terminal_id", text(terminal));
    msg.attributes.set("plate_color", AttrValue::Int(color.into()));
    // Plates are GBK (粤B12345): kept as text when they are ASCII, else as bytes.
    msg.attributes.set("plate", text(rest));
    Ok(())
}

fn auth(body: &[u8], v2019: bool, msg: &mut Message) {
    msg.kind = MessageKind::Login;
    match body {
        [len, rest @ ..] if v2019 && usize::from(*len) <= rest.len() => {
            let (code, rest) = rest.split_at(usize::from(*len));
            msg.attributes.set("auth_code", text(code));
            if rest.len() >= 15 {
                msg.attributes.set("imei", text(&rest[..15]));
                msg.attributes.set("software_version", text(&rest[15..]));
            }
        }
        _ => msg.attributes.set("auth_code", text(body)),
    }
}

/// Alarm-word bits and what they mean.
const ALARM_BITS: [(u32, Alarm); 16] = [
    (0, Alarm::Sos),
    (1, Alarm::Overspeed),
    (2, Alarm::Fatigue),
    (4, Alarm::GnssFault),
    (5, Alarm::GnssAntennaCut),
    (6, Alarm::GnssAntennaCut),
    (7, Alarm::LowPower),
    (8, Alarm::PowerCut),
    (13, Alarm::Overspeed),
    (14, Alarm::Fatigue),
    (19, Alarm::ParkingOvertime),
    (25, Alarm::FuelTheft),
    (26, Alarm::Tamper),
    (27, Alarm::IllegalIgnition),
    (28, Alarm::Tow),
    (29, Alarm::Collision),
];

/// A location body (0x0200, and each item of 0x0704) into `msg`.
fn location(body: &[u8], msg: &mut Message) -> Result<(), DecodeError> {
    let (rest, (alarm, status, lat, lon, altitude, speed, course, time)) =
        (be_u32, be_u32, be_u32, be_u32, be_i16, be_u16, be_u16, take(6_usize)).parse(body).at(body)?;
    let time: &[u8] = time;
    let time: [u8; 6] = [time[0], time[1], time[2], time[3], time[4], time[5]];
    let fix_time = bcd_time(22, &time, 8)?;
    let mut latitude = f64::from(lat) / 1e6;
    let mut longitude = f64::from(lon) / 1e6;
    if status & 0x04 != 0 {
        latitude = -latitude;
    }
    if status & 0x08 != 0 {
        longitude = -longitude;
    }
    check_coordinates(8, latitude, longitude)?;
    msg.kind = MessageKind::Position;
    msg.status.ignition = Some(status & 0x01 != 0);
    if alarm != 0 {
        for (bit, a) in ALARM_BITS {
            if alarm & (1 << bit) != 0 {
                msg.alarms.insert(a);
            }
        }
    }
    // The words are kept when they say more than the typed fields (ignition, fix, hemispheres).
    if alarm != 0 {
        msg.attributes.set("alarm_word", AttrValue::Int(alarm.into()));
    }
    if status & !0x0F != 0 {
        msg.attributes.set("status_word", AttrValue::Int(status.into()));
    }
    if status & 0x0400 != 0 {
        msg.attributes.set("fuel_cut", AttrValue::Bool(true));
    }
    let mut position = Position {
        fix_time,
        latitude: if latitude == 0.0 { 0.0 } else { latitude },
        longitude: if longitude == 0.0 { 0.0 } else { longitude },
        speed_kmh: f64::from(speed) / 10.0,
        course: course.into(),
        altitude: Some(altitude.into()),
        satellites: None,
        valid: status & 0x02 != 0,
        cell: None,
    };
    items(rest, msg, &mut position);
    msg.position = Some(position);
    Ok(())
}

/// Additional information items. A malformed tail is kept as bytes, not allowed to cost the fix.
fn items(mut rest: &[u8], msg: &mut Message, position: &mut Position) {
    while let [item, len, tail @ ..] = rest {
        let len = usize::from(*len);
        if tail.len() < len {
            break;
        }
        let (value, next) = tail.split_at(len);
        rest = next;
        let int = value.iter().fold(0_u64, |acc, b| acc << 8 | u64::from(*b));
        match (*item, len) {
            (0x01, 4) => msg.status.odometer_m = Some(int * 100),
            (0x30, 1) => msg.status.gsm_signal = Some(value[0]),
            (0x31, 1) => position.satellites = Some(value[0]),
            (0x02, 2) => msg.attributes.set("fuel_l", AttrValue::Float(int as f64 / 10.0)),
            (0x03, 2) => msg.attributes.set("tacho_speed_kmh", AttrValue::Float(int as f64 / 10.0)),
            (0x25, 4) => msg.attributes.set("vehicle_signal", AttrValue::Int(int as i64)),
            (0x2A, 2) => msg.attributes.set("io_status", AttrValue::Int(int as i64)),
            (0x2B, 4) => msg.attributes.set("analog", AttrValue::Int(int as i64)),
            (0x12, 6) => {
                msg.alarms.insert(if value[5] == 0 { Alarm::GeofenceEnter } else { Alarm::GeofenceExit });
                msg.attributes.push(AttrKey::Item(*item), AttrValue::Bytes(value.to_vec()));
            }
            _ => msg.attributes.push(AttrKey::Item(*item), AttrValue::Bytes(value.to_vec())),
        }
    }
    if !rest.is_empty() {
        msg.attributes.set("extra_items", AttrValue::Bytes(rest.to_vec()));
    }
}

fn batch(body: &[u8], body_at: usize, template: &Message, out: &mut Vec<Message>) -> Result<Reply, DecodeError> {
    let (mut rest, (count, kind)) = (be_u16, be_u8).parse(body).at(body).map_err(|e| e.shifted(body_at))?;
    let first = out.len();
    for _ in 0..count {
        let at = offset(body, rest);
        let parsed = be_u16(rest).at(body).and_then(|(r, len)| take::<_, _, nom::error::Error<&[u8]>>(len)(r).at(body));
        let (next, item) = parsed.map_err(|e| {
            out.truncate(first);
            e.shifted(body_at)
        })?;
        let mut msg = template.clone();
        if kind == 1 {
            msg.attributes.set("blind_area", AttrValue::Bool(true));
        }
        location(item, &mut msg).map_err(|e| {
            out.truncate(first);
            e.shifted(body_at + at + 2)
        })?;
        out.push(msg);
        rest = next;
    }
    Ok(Reply::General)
}

/// Appends an escaped frame: header for `terminal`, `body`, checksum, delimiters.
fn write_frame(out: &mut Vec<u8>, msg_id: u16, terminal: &Terminal, serial: u16, body: &[u8]) {
    write_package(out, msg_id, terminal, serial, None, body);
}

/// Appends an escaped frame, with `(total, index)` when it is one package of a sub-packaged message.
fn write_package(
    out: &mut Vec<u8>,
    msg_id: u16,
    terminal: &Terminal,
    serial: u16,
    package: Option<(u16, u16)>,
    body: &[u8],
) {
    let mut raw = Vec::with_capacity(24 + body.len());
    let mut attrs = body.len() as u16 & 0x03FF;
    if terminal.version.is_some() {
        attrs |= 0x4000;
    }
    if package.is_some() {
        attrs |= 0x2000;
    }
    raw.extend_from_slice(&msg_id.to_be_bytes());
    raw.extend_from_slice(&attrs.to_be_bytes());
    if let Some(v) = terminal.version {
        raw.push(v);
    }
    raw.extend_from_slice(terminal.phone());
    raw.extend_from_slice(&serial.to_be_bytes());
    if let Some((total, index)) = package {
        raw.extend_from_slice(&total.to_be_bytes());
        raw.extend_from_slice(&index.to_be_bytes());
    }
    raw.extend_from_slice(body);
    raw.push(xor(&raw));
    escape_into(&raw, out);
}

fn escape_into(raw: &[u8], out: &mut Vec<u8>) {
    out.push(0x7E);
    for &b in raw {
        match b {
            0x7E => out.extend_from_slice(&[0x7D, 0x02]),
            0x7D => out.extend_from_slice(&[0x7D, 0x01]),
            _ => out.push(b),
        }
    }
    out.push(0x7E);
}

/// Device-side encoders, used by the simulators and by round-trip tests.
pub mod device {
    use super::*;
    use crate::parse::to_bcd;
    use chrono::{Datelike, Timelike};

    /// The location body of `msg` (0x0200 layout, without items other than mileage and satellites).
    pub fn location_body(msg: &Message, body: &mut Vec<u8>) {
        let Some(p) = msg.position else { return };
        let int = |name| match msg.attributes.named(name) {
            Some(AttrValue::Int(v)) => *v as u32,
            _ => 0,
        };
        let mut status = int("status_word") & !0x0F;
        status |= u32::from(msg.status.ignition == Some(true)) | u32::from(p.valid) << 1;
        if p.latitude < 0.0 {
            status |= 0x04;
        }
        if p.longitude < 0.0 {
            status |= 0x08;
        }
        body.extend_from_slice(&int("alarm_word").to_be_bytes());
        body.extend_from_slice(&status.to_be_bytes());
        body.extend_from_slice(&((p.latitude.abs() * 1e6).round() as u32).to_be_bytes());
        body.extend_from_slice(&((p.longitude.abs() * 1e6).round() as u32).to_be_bytes());
        body.extend_from_slice(&(p.altitude.unwrap_or(0.0).round() as i16).to_be_bytes());
        body.extend_from_slice(&((p.speed_kmh * 10.0).round() as u16).to_be_bytes());
        body.extend_from_slice(&(p.course.round() as u16).to_be_bytes());
        let t = p.fix_time + chrono::Duration::hours(8);
        body.extend_from_slice(&[
            to_bcd((t.year() % 100) as u32),
            to_bcd(t.month()),
            to_bcd(t.day()),
            to_bcd(t.hour()),
            to_bcd(t.minute()),
            to_bcd(t.second()),
        ]);
        if let Some(m) = msg.status.odometer_m {
            body.extend_from_slice(&[0x01, 4]);
            body.extend_from_slice(&((m / 100) as u32).to_be_bytes());
        }
        if let Some(s) = msg.status.gsm_signal {
            body.extend_from_slice(&[0x30, 1, s]);
        }
        if let Some(s) = p.satellites {
            body.extend_from_slice(&[0x31, 1, s]);
        }
    }

    /// A 0x0200 location report.
    pub fn location(terminal: &Terminal, serial: u16, msg: &Message, out: &mut Vec<u8>) {
        let mut body = Vec::with_capacity(40);
        location_body(msg, &mut body);
        write_frame(out, id::LOCATION, terminal, serial, &body);
    }

    /// A 0x0704 batch upload of `msgs`.
    pub fn batch(terminal: &Terminal, serial: u16, msgs: &[Message], blind_area: bool, out: &mut Vec<u8>) {
        let mut body = Vec::with_capacity(3 + 45 * msgs.len());
        body.extend_from_slice(&(msgs.len() as u16).to_be_bytes());
        body.push(u8::from(blind_area));
        for msg in msgs {
            let mut item = Vec::with_capacity(45);
            location_body(msg, &mut item);
            body.extend_from_slice(&(item.len() as u16).to_be_bytes());
            body.extend_from_slice(&item);
        }
        write_frame(out, id::BATCH, terminal, serial, &body);
    }

    /// A 0x0002 heartbeat.
    pub fn heartbeat(terminal: &Terminal, serial: u16, out: &mut Vec<u8>) {
        write_frame(out, id::HEARTBEAT, terminal, serial, &[]);
    }

    /// A 0x0102 authentication with `code` (2013 layout).
    pub fn auth(terminal: &Terminal, serial: u16, code: &str, out: &mut Vec<u8>) {
        write_frame(out, id::AUTH, terminal, serial, code.as_bytes());
    }

    /// A 0x0100 registration (2013 layout).
    pub fn register(terminal: &Terminal, serial: u16, model: &str, plate: &str, out: &mut Vec<u8>) {
        let mut body = vec![0, 44, 1, 0x2C];
        body.extend_from_slice(b"LWSIM");
        let mut field = |text: &str, len: usize| {
            let mut bytes = text.as_bytes().to_vec();
            bytes.resize(len, 0);
            body.extend_from_slice(&bytes);
        };
        field(model, 20);
        field("0000001", 7);
        body.push(1);
        body.extend_from_slice(plate.as_bytes());
        write_frame(out, id::REGISTER, terminal, serial, &body);
    }

    /// A 0x0001 terminal general response to the platform's `reply_serial` / `reply_id`.
    pub fn response(terminal: &Terminal, serial: u16, reply_serial: u16, reply_id: u16, result: u8, out: &mut Vec<u8>) {
        let mut body = Vec::with_capacity(5);
        body.extend_from_slice(&reply_serial.to_be_bytes());
        body.extend_from_slice(&reply_id.to_be_bytes());
        body.push(result);
        write_frame(out, id::TERMINAL_RESPONSE, terminal, serial, &body);
    }

    /// Splits `body` of message `msg_id` into sub-packaged frames of at most `chunk` body bytes.
    pub fn subpackaged(
        terminal: &Terminal,
        first_serial: u16,
        msg_id: u16,
        body: &[u8],
        chunk: usize,
        out: &mut Vec<u8>,
    ) {
        let parts: Vec<&[u8]> = body.chunks(chunk.clamp(1, 1023)).collect();
        let total = parts.len() as u16;
        for (i, part) in parts.iter().enumerate() {
            let serial = first_serial.wrapping_add(i as u16);
            write_package(out, msg_id, terminal, serial, Some((total, i as u16 + 1)), part);
        }
    }
}
