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
use nom::number::complete::{be_i16, be_i32, be_u8, be_u16, be_u32};

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
    /// Vehicle control reply: the command's serial, then the location after it.
    pub const VEHICLE_CONTROL_RESPONSE: u16 = 0x0500;
    /// Batch of location reports, each with a one-byte length (no count).
    pub const BATCH_2: u16 = 0x0210;
    /// Transparent pass-through: a vendor's own data, which may carry a fix.
    pub const TRANSPARENT: u16 = 0x0900;
    /// Location in the compact BCD layout, with a one-byte serial.
    pub const LOCATION_2: u16 = 0x5501;
    /// The same, stored while out of coverage and sent later.
    pub const LOCATION_BLIND: u16 = 0x5502;
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
        scan_frame(buf, max_frame_len, false)
    }

    fn scan_at_end(buf: &[u8], max_frame_len: usize) -> Scan {
        scan_frame(buf, max_frame_len, true)
    }

    fn decode(frame: &[u8], session: &mut Session, out: &mut Vec<Message>) -> Result<Jt808Ack, DecodeError> {
        let inner = frame.get(1..frame.len().saturating_sub(1)).unwrap_or_default();
        // Escape-free frames, and frames of terminals that do not escape (their declared length
        // fits the bytes as sent, not as unescaped), are read as they are.
        if memchr::memchr(0x7D, inner).is_none()
            || (declared_len(frame) == Some(frame.len())
                && unescaped_len(frame) != frame.len()
                && !checksum_holds(frame))
        {
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

/// Finds the frame at the start of `buf`; `at_end` when no more bytes will come.
fn scan_frame(buf: &[u8], max_frame_len: usize, at_end: bool) -> Scan {
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
        Some(end) => match declared_len(buf) {
            // The common case: as long as declared, nothing escaped.
            Some(need) if need == end + 2 && memchr::memchr(0x7D, &buf[1..end + 1]).is_none() => Scan::Frame(need),
            // Some terminals leave a 7E in the body unescaped: when the frame is shorter than its
            // header says and its checksum fails, it runs to the 7E where its declared length ends.
            Some(need)
                if unescaped_len(&buf[..end + 2]) < need
                    && !checksum_holds(&buf[..end + 2])
                    && !frame_follows(&window[end + 1..]) =>
            {
                // Escapes counted as the search goes: one pass over the bytes, whatever the input.
                let mut escapes = end + 2 - unescaped_len(&buf[..end + 2]);
                let mut counted = end + 2;
                let mut longer = None;
                for at in memchr::memchr_iter(0x7E, &window[end + 2..]) {
                    let len = end + 2 + at + 1;
                    escapes += memchr::memchr_iter(0x7D, &buf[counted..len]).count();
                    counted = len;
                    if len - escapes >= need {
                        longer = Some((len, len - escapes));
                        break;
                    }
                }
                match longer {
                    // Noise must not swallow the frames after it: the longer frame's checksum holds,
                    // or no whole frame starts at any 7E inside it.
                    Some((len, unescaped))
                        if unescaped == need
                            && (checksum_holds(&buf[..len])
                                || !memchr::memchr_iter(0x7E, &buf[end + 2..len - 1])
                                    .any(|at| frame_follows(&buf[end + 2 + at..len]))) =>
                    {
                        Scan::Frame(len)
                    }
                    None if !at_end && buf.len() < max_frame_len && unescaped_len(buf) < need => Scan::Incomplete,
                    _ => Scan::Frame(end + 2),
                }
            }
            _ => Scan::Frame(end + 2),
        },
        None if buf.len() >= max_frame_len => Scan::Skip { skip: window.len(), error: ErrorKind::MissingTerminator },
        None => Scan::Incomplete,
    }
}

/// Whether `buf` (starting at a 7E) starts a whole frame whose checksum holds: then the 7E before
/// it closed a broken frame, not one with a 7E left in its body.
fn frame_follows(buf: &[u8]) -> bool {
    memchr::memchr(0x7E, &buf[1..]).is_some_and(|end| end + 2 >= MIN_FRAME && checksum_holds(&buf[..end + 2]))
}

/// Whether the XOR of a whole frame's content (escapes undone) matches its checksum byte.
fn checksum_holds(frame: &[u8]) -> bool {
    let mut raw = Vec::with_capacity(frame.len());
    let inner = frame.get(1..frame.len().saturating_sub(1)).unwrap_or_default();
    if unescape(inner, &mut raw).is_err() {
        return false;
    }
    raw.split_last().is_some_and(|(declared, data)| xor(data) == *declared)
}

/// The frame length, delimiters included and escapes undone, that a frame's header declares;
/// `None` when the header is not all there or is escaped itself.
fn declared_len(buf: &[u8]) -> Option<usize> {
    let header = buf.get(1..5)?;
    if header.contains(&0x7D) {
        return None;
    }
    let attrs = u16::from_be_bytes([header[2], header[3]]);
    let msg_id = u16::from_be_bytes([header[0], header[1]]);
    let serial = if matches!(msg_id, id::LOCATION_2 | id::LOCATION_BLIND) { 1 } else { 2 };
    let phone = if attrs & 0x4000 != 0 { 11 } else { 6 };
    let package = if attrs & 0x2000 != 0 { 4 } else { 0 };
    Some(1 + 4 + phone + serial + package + usize::from(attrs & 0x03FF) + 1 + 1)
}

/// The length of `raw` once its escapes are undone.
fn unescaped_len(raw: &[u8]) -> usize {
    raw.len() - memchr::memchr_iter(0x7D, raw).count()
}

/// Undoes the escapes. A 7D followed by anything but 01 or 02 is kept as it is: some terminals
/// do not escape at all.
fn unescape(inner: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.clear();
    let mut bytes = inner.iter().peekable();
    while let Some(&b) = bytes.next() {
        if b != 0x7D {
            out.push(b);
            continue;
        }
        match bytes.peek() {
            Some(0x01) => {
                out.push(0x7D);
                bytes.next();
            }
            Some(0x02) => {
                out.push(0x7E);
                bytes.next();
            }
            _ => out.push(0x7D),
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
    let (rest, phone_bytes) = take(phone_len).parse(rest).at(data).map_err(|e| e.shifted(1))?;
    let phone_bytes: &[u8] = phone_bytes;
    // The compact location reports number themselves with one byte.
    let (rest, serial) = if matches!(msg_id, id::LOCATION_2 | id::LOCATION_BLIND) {
        be_u8(rest).map(|(r, v)| (r, u16::from(v))).at(data).map_err(|e| e.shifted(1))?
    } else {
        be_u16(rest).at(data).map_err(|e| e.shifted(1))?
    };
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
        // The compact location reports use those bits for other purposes.
        encrypted: attrs & 0x1C00 != 0 && !matches!(msg_id, id::LOCATION_2 | id::LOCATION_BLIND),
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
    let (msg_id, serial) = (header.msg_id, header.serial);
    // A body shorter than declared is read as far as it goes: the fields a location needs come first.
    let (body, extra) = rest.split_at(header.body_len.min(rest.len()));
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
    if matches!(header.msg_id, id::BATCH | id::BATCH_2) && !header.encrypted && body.len() > 7 {
        return batch(header.msg_id, body, body_at, &msg, out);
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
        id::LOCATION_RESPONSE | id::VEHICLE_CONTROL_RESPONSE => {
            let (rest, reply_serial) = be_u16(body).at(body).map_err(shift)?;
            msg.attributes.set("reply_serial", AttrValue::Int(reply_serial.into()));
            location(rest, msg).map_err(|e| e.shifted(body_at + 2))?;
            if header.msg_id == id::VEHICLE_CONTROL_RESPONSE {
                // The answer to a 0x8500 command, carrying where the vehicle was when it obeyed.
                msg.kind = MessageKind::CommandReply;
            }
            Reply::General
        }
        id::LOCATION_2 | id::LOCATION_BLIND => {
            compact_location(body, header.msg_id == id::LOCATION_2, msg).map_err(shift)?;
            Reply::General
        }
        id::TRANSPARENT => {
            transparent(body, msg);
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

/// 0x0704 (count, kind, then items with a two-byte length) and 0x0210 (items with a one-byte length).
fn batch(
    msg_id: u16,
    body: &[u8],
    body_at: usize,
    template: &Message,
    out: &mut Vec<Message>,
) -> Result<Reply, DecodeError> {
    let (mut rest, count, kind) = if msg_id == id::BATCH {
        let (rest, (count, kind)) = (be_u16, be_u8).parse(body).at(body).map_err(|e| e.shifted(body_at))?;
        (rest, usize::from(count), kind)
    } else {
        (body, usize::MAX, 0)
    };
    let first = out.len();
    let mut taken = 0;
    while taken < count && !rest.is_empty() {
        let at = offset(body, rest);
        let len = if msg_id == id::BATCH {
            be_u16(rest).at(body)?
        } else {
            be_u8(rest).map(|(r, v)| (r, v.into())).at(body)?
        };
        let parsed = take::<_, _, nom::error::Error<&[u8]>>(len.1)(len.0).at(body);
        let (next, item) = parsed.map_err(|e| {
            out.truncate(first);
            e.shifted(body_at)
        })?;
        let mut msg = template.clone();
        if kind == 1 {
            msg.attributes.set("blind_area", AttrValue::Bool(true));
        }
        let prefix = if msg_id == id::BATCH { 2 } else { 1 };
        location(item, &mut msg).map_err(|e| {
            out.truncate(first);
            e.shifted(body_at + at + prefix)
        })?;
        out.push(msg);
        rest = next;
        taken += 1;
    }
    Ok(Reply::General)
}

/// 0x5501/0x5502: `DD MM YY hh mm ss` (BCD, UTC) | lat BCD `DDMMmmmm` | lon BCD `DDDMMmmmm` + flags
/// nibble (bit 0 fix, 1 north, 2 east) | speed BCD knots | course / 2 | signal | satellites
/// | odometer u32 km | battery | cell id u32 | LAC u16 | ...
fn compact_location(body: &[u8], live: bool, msg: &mut Message) -> Result<(), DecodeError> {
    let (rest, (date, lat, lon, speed, course)) =
        (take(6_usize), take(4_usize), take(5_usize), be_u8, be_u8).parse(body).at(body)?;
    let (date, lat, lon): (&[u8], &[u8], &[u8]) = (date, lat, lon);
    let digits = |bytes: &[u8], at: usize| -> Result<u64, DecodeError> {
        bytes.iter().enumerate().try_fold(0_u64, |acc, (i, b)| {
            crate::parse::bcd(*b)
                .map(|v| acc * 100 + u64::from(v))
                .ok_or_else(|| DecodeError::invalid(at + i, "bcd", format!("{b:02X}")))
        })
    };
    let d = |i: usize| u32::try_from(digits(&date[i..=i], i).unwrap_or(99)).unwrap_or(99);
    let fix_time = crate::parse::utc(0, 2000 + d(2) as i32, d(1), d(0), d(3), d(4), d(5))?;
    let lat = digits(lat, 6)?;
    let lon = digits(&lon[..4], 10)? * 10 + u64::from(lon[4] >> 4);
    let flags = lon_flags(body);
    let degrees = |v: u64| (v / 1_000_000) as f64 + (v % 1_000_000) as f64 / 10_000.0 / 60.0;
    let latitude = if flags & 0x02 != 0 { degrees(lat) } else { -degrees(lat) };
    let longitude = if flags & 0x04 != 0 { degrees(lon) } else { -degrees(lon) };
    check_coordinates(6, latitude, longitude)?;
    let speed_knots = digits(&[speed], 15)? as f64;
    msg.kind = MessageKind::Position;
    let mut position = Position {
        fix_time,
        latitude,
        longitude,
        speed_kmh: speed_knots * 1.852,
        course: f64::from(course) * 2.0,
        altitude: None,
        satellites: None,
        valid: live && flags & 0x01 != 0,
        cell: None,
    };
    if let [signal, satellites, o0, o1, o2, o3, ..] = rest {
        msg.status.gsm_signal = Some(*signal);
        position.satellites = Some(*satellites);
        msg.status.odometer_m = Some(u64::from(u32::from_be_bytes([*o0, *o1, *o2, *o3])) * 1000);
    }
    if !live {
        msg.attributes.set("blind_area", AttrValue::Bool(true));
    }
    msg.position = Some(position);
    Ok(())
}

/// The flags nibble that shares the last longitude byte of a compact location.
fn lon_flags(body: &[u8]) -> u8 {
    body.get(14).map_or(0, |b| b & 0x0F)
}

/// 0x0900: the pass-through type byte, then the vendor's data. Types that carry a fix: 0xF0
/// (time, then a data stream, DTCs or events, then status and coordinates), 0xFF (time,
/// coordinates, altitude, speed, course) and 0x53/0x54 (status, coordinates, altitude, speed,
/// course, time). Anything else is kept raw.
fn transparent(body: &[u8], msg: &mut Message) {
    let Some((&kind, data)) = body.split_first() else {
        msg.attributes.set("raw", AttrValue::Bytes(Vec::new()));
        return;
    };
    msg.attributes.set("transparent_type", AttrValue::Int(kind.into()));
    // Vendors' data that does not read as a fix is kept raw, never refused.
    let position = pass_through_fix(kind, data).ok().flatten();
    match position {
        Some((fix_time, latitude, longitude, altitude, speed, course, valid)) => {
            msg.kind = MessageKind::Position;
            msg.position = Some(Position {
                fix_time,
                latitude,
                longitude,
                speed_kmh: f64::from(speed) / 10.0,
                course: course.into(),
                altitude: altitude.map(f64::from),
                satellites: None,
                valid,
                cell: None,
            });
        }
        None => msg.attributes.set("raw", AttrValue::Bytes(body.to_vec())),
    }
}

/// The fix in a pass-through block of type `kind`, if it carries one.
fn pass_through_fix(kind: u8, data: &[u8]) -> Result<Option<PassThroughFix>, DecodeError> {
    Ok(match kind {
        0xF0 => vendor_stream(data)?,
        0xFF => {
            let (_, (time, lat, lon, altitude, speed, course)) =
                (take(6_usize), be_i32, be_i32, be_i16, be_u16, be_u16).parse(data).at(data)?;
            let fix_time = bcd_time(1, &six(time), 8)?;
            let (latitude, longitude) = (f64::from(lat) / 1e6, f64::from(lon) / 1e6);
            check_coordinates(7, latitude, longitude)?;
            Some((fix_time, latitude, longitude, Some(altitude), speed, course, true))
        }
        0x53 | 0x54 => {
            let (_, (status, lat, lon, altitude, speed, course, time)) =
                (be_u32, be_u32, be_u32, be_i16, be_u16, be_u16, take(6_usize)).parse(data).at(data)?;
            let fix_time = bcd_time(19, &six(time), 8)?;
            let (latitude, longitude) = signed_coordinates(status, lat, lon);
            check_coordinates(5, latitude, longitude)?;
            Some((fix_time, latitude, longitude, Some(altitude), speed, course, status & 0x02 != 0))
        }
        _ => None,
    })
}

/// A fix read from a pass-through block: time, coordinates, altitude, speed (0.1 km/h), course, validity.
type PassThroughFix = (DateTime<Utc>, f64, f64, Option<i16>, u16, u16, bool);

/// 0x0900 type 0xF0: time (BCD), archive flag, vehicle type, subtype and its records, then the
/// status word and the coordinates.
fn vendor_stream(data: &[u8]) -> Result<Option<PassThroughFix>, DecodeError> {
    let (rest, (time, _archive, _vehicle, subtype)) = (take(6_usize), be_u8, be_u8, be_u8).parse(data).at(data)?;
    let fix_time = bcd_time(0, &six(time), 8)?;
    let after = match subtype {
        0x01 => rest.split_first().and_then(|(n, r)| records(r, (*n).into(), 2)),
        0x03 => rest.split_first().and_then(|(n, r)| records(r, (*n).into(), 1)),
        0x02 => {
            let (mut r, systems) = be_u16(rest).at(data)?;
            for _ in 0..systems {
                let (next, (_, codes)) = (be_u32, be_u16).parse(r).at(data)?;
                r = next;
                for _ in 0..codes {
                    let (next, (_, _, len)) = (be_u32, be_u32, be_u16).parse(r).at(data)?;
                    r = next.get(usize::from(len)..).unwrap_or_default();
                }
            }
            Some(r)
        }
        _ => None,
    };
    let Some(after) = after else { return Ok(None) };
    let (_, (status, lat, lon)) = (be_u32, be_u32, be_u32).parse(after).at(data)?;
    let (latitude, longitude) = signed_coordinates(status, lat, lon);
    check_coordinates(0, latitude, longitude)?;
    Ok(Some((fix_time, latitude, longitude, None, 0, 0, status & 0x02 != 0)))
}

/// Skips `count` records of an id of `id_len` bytes, a length byte and that many bytes.
fn records(mut rest: &[u8], count: usize, id_len: usize) -> Option<&[u8]> {
    for _ in 0..count {
        let len = usize::from(*rest.get(id_len)?);
        rest = rest.get(id_len + 1 + len..)?;
    }
    Some(rest)
}

/// Coordinates in 1e-6 degrees, signed by the status word's south (bit 2) and west (bit 3) bits.
fn signed_coordinates(status: u32, lat: u32, lon: u32) -> (f64, f64) {
    let latitude = f64::from(lat) / 1e6;
    let longitude = f64::from(lon) / 1e6;
    (if status & 0x04 != 0 { -latitude } else { latitude }, if status & 0x08 != 0 { -longitude } else { longitude })
}

/// Six bytes as an array (the caller took exactly six).
fn six(bytes: &[u8]) -> [u8; 6] {
    let mut out = [0; 6];
    out.copy_from_slice(&bytes[..6]);
    out
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
