//! GT06 / Concox: binary frames with a length field and a CRC-ITU.
//!
//! ```text
//! 78 78 | len u8  | proto u8 | content ... | serial u16 | crc u16 | 0D 0A     len = proto..crc
//! 79 79 | len u16 | proto u8 | content ... | serial u16 | crc u16 | 0D 0A     (long frames)
//! crc = CRC-ITU over len..serial
//! ```
//! A length byte of 0, which some devices send, falls back to the `0D 0A` terminator.
//!
//! Location content (0x12, 0x22, 0x16, 0x26, 0x27, 0xA0...):
//! ```text
//! YY MM DD hh mm ss (UTC) | gps-info (hi nibble: length, lo nibble: satellites)
//! lat u32 | lon u32 (minutes × 30000) | speed u8 km/h
//! course/status u16: bits 0-9 course, 10 north, 11 west, 12 positioned
//! ```

use chrono::{DateTime, Datelike, Timelike, Utc};
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16, be_u24, be_u32, be_u64};

use crate::checksum::crc_itu;
use crate::error::{DecodeError, ErrorKind};
use crate::message::{Alarm, AttrValue, CellInfo, DeviceId, Message, MessageKind, Position, ProtocolKind, Status};
use crate::parse::{Res, Run, check_coordinates, offset, utc};
use crate::protocol::{Command, CommandError, Outgoing, Protocol, Scan, Session};

/// The GT06 protocol.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gt06;

/// Protocol numbers.
pub mod proto {
    /// Login with the IMEI.
    pub const LOGIN: u8 = 0x01;
    /// GPS + LBS location.
    pub const GPS_LBS: u8 = 0x12;
    /// Status / heartbeat.
    pub const STATUS: u8 = 0x13;
    /// Command reply (text).
    pub const COMMAND_REPLY: u8 = 0x15;
    /// GPS + LBS + status alarm.
    pub const ALARM: u8 = 0x16;
    /// LBS + status alarm (no fix).
    pub const LBS_ALARM: u8 = 0x19;
    /// Command reply, long frame (text with an encoding byte).
    pub const COMMAND_REPLY_LONG: u8 = 0x21;
    /// GPS + LBS location, GT06N and later.
    pub const GPS_LBS_2: u8 = 0x22;
    /// Heartbeat with external voltage.
    pub const HEARTBEAT_VOLTAGE: u8 = 0x23;
    /// Alarm, multi-fence variant.
    pub const ALARM_2: u8 = 0x26;
    /// Address request with a fix (the device wants a street address by SMS).
    pub const ADDRESS_REQUEST: u8 = 0x2A;
    /// Alarm, later variant.
    pub const ALARM_3: u8 = 0x27;
    /// Server command (online command).
    pub const COMMAND: u8 = 0x80;
    /// Time request.
    pub const TIME_REQUEST: u8 = 0x8A;
    /// Information transmission (long frame).
    pub const INFO: u8 = 0x94;
    /// 4G GPS + LBS location with long cell ids.
    pub const GPS_LBS_4G: u8 = 0xA0;
    /// 4G alarm with long cell ids.
    pub const ALARM_4G: u8 = 0xA4;
}

/// What the server owes a GT06 device for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gt06Ack {
    /// Echo the protocol number and serial (login, heartbeat, alarm, location, unknown types).
    Echo {
        /// The protocol number answered.
        proto: u8,
        /// The device's serial number.
        serial: u16,
        /// Whether the frame was a long (`79 79`) one.
        long: bool,
    },
    /// Answer a time request with the server's UTC time.
    Time {
        /// The device's serial number.
        serial: u16,
    },
    /// Nothing to send (the device's reply to our command).
    Nothing,
}

/// Smallest frame: `78 78 05 proto serial crc 0D 0A`.
const MIN_FRAME: usize = 10;

impl Protocol for Gt06 {
    const KIND: ProtocolKind = ProtocolKind::Gt06;
    type Ack = Gt06Ack;

    fn scan(buf: &[u8], max_frame_len: usize) -> Scan {
        let long = match buf {
            [0x78, 0x78, ..] => false,
            [0x79, 0x79, ..] => true,
            [0x78 | 0x79] | [] => return Scan::Incomplete,
            _ => return skip_to_start(buf),
        };
        let header = if long { 4 } else { 3 };
        if buf.len() < header {
            return Scan::Incomplete;
        }
        let declared = if long { u16::from_be_bytes([buf[2], buf[3]]) as usize } else { buf[2] as usize };
        if declared == 0 && !long {
            // Some devices leave the length at 0: the frame runs to the first 0D 0A.
            let window = &buf[..buf.len().min(max_frame_len)];
            return match crate::stream::find(&window[header..], b"\r\n") {
                Some(end) if header + end + 2 >= MIN_FRAME => Scan::Frame(header + end + 2),
                Some(_) => Scan::Skip { skip: 1, error: ErrorKind::BadLength { len: 0, min: 5, max: 255 } },
                None if buf.len() >= max_frame_len => Scan::Skip { skip: 1, error: ErrorKind::MissingTerminator },
                None => Scan::Incomplete,
            };
        }
        let total = declared + header + 2;
        if declared < 5 || total > max_frame_len {
            let max = if long { max_frame_len.saturating_sub(header + 2) } else { 255 };
            return Scan::Skip { skip: 1, error: ErrorKind::BadLength { len: declared, min: 5, max } };
        }
        if buf.len() < total {
            return Scan::Incomplete;
        }
        if &buf[total - 2..total] != b"\r\n" {
            return Scan::Skip { skip: 1, error: ErrorKind::MissingTerminator };
        }
        Scan::Frame(total)
    }

    fn decode(frame: &[u8], session: &mut Session, out: &mut Vec<Message>) -> Result<Gt06Ack, DecodeError> {
        let long = frame.first() == Some(&0x79);
        let header = if long { 4 } else { 3 };
        if frame.len() < header + 7 {
            return Err(DecodeError::new(frame.len(), ErrorKind::Truncated));
        }
        let body_end = frame.len() - 4;
        let serial = u16::from_be_bytes([frame[body_end - 2], frame[body_end - 1]]);
        let declared = u16::from_be_bytes([frame[body_end], frame[body_end + 1]]);
        let checksum_ok = session.check(body_end, declared.into(), crc_itu(&frame[2..body_end]).into())?;
        let kind = frame[header];
        let content = &frame[header + 1..body_end - 2];

        // The message is built in place in `out`: no copy of it on the hot path.
        let at = out.len();
        let mut msg = Message::new(ProtocolKind::Gt06, MessageKind::Unknown);
        msg.device_id = session.device_id;
        msg.serial = Some(serial.into());
        msg.checksum_ok = checksum_ok;
        out.push(msg);
        let result = fill(frame, kind, content, serial, long, session, &mut out[at]);
        if result.is_err() {
            out.truncate(at);
        }
        result
    }

    fn write_reply(ack: &Gt06Ack, _session: &mut Session, now: DateTime<Utc>, out: &mut Vec<u8>) {
        match *ack {
            Gt06Ack::Echo { proto, serial, long } => {
                let [s0, s1] = serial.to_be_bytes();
                write_frame(out, long, proto, &[], [s0, s1]);
            }
            Gt06Ack::Time { serial } => {
                write_frame(out, false, proto::TIME_REQUEST, &time_bytes(now), serial.to_be_bytes());
            }
            Gt06Ack::Nothing => {}
        }
    }

    fn encode_command(command: &Command, ctx: Outgoing<'_>, out: &mut Vec<u8>) -> Result<(), CommandError> {
        let text = match command {
            Command::EngineCut => "DYD,000000#".to_owned(),
            Command::EngineRestore => "HFYD,000000#".to_owned(),
            Command::LocateNow => "WHERE#".to_owned(),
            Command::SetInterval { seconds } => {
                if !(5..=18_000).contains(seconds) {
                    return Err(CommandError::OutOfRange(format!("interval {seconds} s (5..=18000)")));
                }
                format!("TIMER,{seconds}#")
            }
            Command::Text(t) => t.clone(),
        };
        // The server flag lets us match the device's 0x15 reply to this command: we use the serial.
        let flag = u32::from(ctx.serial);
        encode_online_command(&text, flag, ctx.serial, out)
    }
}

/// Decodes the content of a frame of protocol number `kind` into `msg`.
fn fill(
    frame: &[u8],
    kind: u8,
    content: &[u8],
    serial: u16,
    long: bool,
    session: &mut Session,
    msg: &mut Message,
) -> Result<Gt06Ack, DecodeError> {
    let echo = Gt06Ack::Echo { proto: kind, serial, long };
    let ack = match kind {
        proto::LOGIN => {
            login(frame, content, session, msg)?;
            echo
        }
        proto::GPS_LBS | proto::GPS_LBS_2 | proto::GPS_LBS_4G | 0x10 | 0x11 | 0x1A | 0x37 => {
            location(frame, content, kind, msg)?;
            echo
        }
        proto::ADDRESS_REQUEST => {
            let (rest, position) = gps(frame, content)?;
            msg.kind = MessageKind::Position;
            msg.position = Some(position);
            keep_rest(msg, rest);
            echo
        }
        proto::ALARM | proto::ALARM_2 | proto::ALARM_3 | proto::ALARM_4G => {
            alarm(frame, content, kind, msg)?;
            echo
        }
        proto::LBS_ALARM => {
            lbs_alarm(frame, content, msg)?;
            echo
        }
        proto::STATUS | proto::HEARTBEAT_VOLTAGE => {
            heartbeat(frame, content, kind, msg)?;
            echo
        }
        proto::TIME_REQUEST => {
            msg.kind = MessageKind::TimeRequest;
            Gt06Ack::Time { serial }
        }
        proto::COMMAND_REPLY | proto::COMMAND_REPLY_LONG => {
            command_reply(frame, content, kind, msg)?;
            Gt06Ack::Nothing
        }
        proto::INFO => {
            info(content, msg);
            echo
        }
        _ => {
            // Unknown types are kept whole and acknowledged, so the device does not resend them forever.
            msg.attributes.set("proto", AttrValue::Int(kind.into()));
            msg.attributes.set("raw", AttrValue::Bytes(content.to_vec()));
            echo
        }
    };
    Ok(ack)
}

/// Skips garbage up to the next `78 78` or `79 79` (keeping a trailing `78`/`79` that may start one).
fn skip_to_start(buf: &[u8]) -> Scan {
    let next = buf
        .windows(2)
        .skip(1)
        .position(|w| w == [0x78, 0x78] || w == [0x79, 0x79])
        .map(|p| p + 1)
        .unwrap_or_else(|| if matches!(buf.last(), Some(0x78 | 0x79)) { buf.len() - 1 } else { buf.len() });
    Scan::Skip { skip: next.max(1), error: ErrorKind::Garbage(next.max(1)) }
}

fn login(frame: &[u8], content: &[u8], session: &mut Session, msg: &mut Message) -> Result<(), DecodeError> {
    let (rest, imei) = take::<_, _, nom::error::Error<&[u8]>>(8_usize)(content).at(frame)?;
    let id = DeviceId::from_bcd(imei)
        .ok_or_else(|| DecodeError::invalid(offset(frame, content), "imei", crate::message::HexDisplay(imei)))?
        .trim_leading_zeros();
    session.device_id = Some(id);
    msg.device_id = Some(id);
    msg.kind = MessageKind::Login;
    if let [t0, t1, rest @ ..] = rest {
        msg.attributes.set("type_id", AttrValue::Int(u16::from_be_bytes([*t0, *t1]).into()));
        if let [z0, z1, ..] = rest {
            // Time zone: high 12 bits are hours × 100, bit 3 set means west.
            let word = u16::from_be_bytes([*z0, *z1]);
            let minutes = i64::from(word >> 4) * 60 / 100;
            let sign = if word & 0x08 != 0 { -1 } else { 1 };
            msg.attributes.set("timezone_minutes", AttrValue::Int(sign * minutes));
        }
    }
    Ok(())
}

/// The 18-byte GPS block shared by every location and alarm frame.
fn gps<'a>(frame: &[u8], input: &'a [u8]) -> Result<(&'a [u8], Position), DecodeError> {
    let start = offset(frame, input);
    let (rest, (date, info, lat, lon, speed, flags)) =
        (take(6_usize), be_u8, be_u32, be_u32, be_u8, be_u16).parse(input).at(frame)?;
    let date: &[u8] = date;
    let fix_time = utc(
        start,
        2000 + i32::from(date[0]),
        date[1].into(),
        date[2].into(),
        date[3].into(),
        date[4].into(),
        date[5].into(),
    )?;
    let mut latitude = f64::from(lat) / 1_800_000.0;
    let mut longitude = f64::from(lon) / 1_800_000.0;
    if flags & 0x0400 == 0 {
        latitude = -latitude;
    }
    if flags & 0x0800 != 0 {
        longitude = -longitude;
    }
    check_coordinates(start + 7, latitude, longitude)?;
    let position = Position {
        fix_time,
        latitude,
        longitude,
        speed_kmh: speed.into(),
        course: f64::from(flags & 0x03FF),
        altitude: None,
        satellites: Some(info & 0x0F),
        valid: flags & 0x1000 != 0,
        cell: None,
    };
    Ok((rest, position))
}

/// MCC, MNC, LAC and cell id; 4G frames carry a 4-byte LAC and an 8-byte cell id, and a set
/// top bit of the MCC means a 2-byte MNC.
fn cell(input: &[u8], wide: bool) -> Res<'_, CellInfo> {
    let (input, mcc) = be_u16(input)?;
    let (input, mnc) = if mcc & 0x8000 != 0 { be_u16(input)? } else { be_u8(input).map(|(i, v)| (i, v.into()))? };
    let (input, lac, cell_id) = if wide {
        let (input, (lac, cell)) = (be_u32, be_u64).parse(input)?;
        (input, lac, cell)
    } else {
        let (input, (lac, cell)) = (be_u16, be_u24).parse(input)?;
        (input, lac.into(), cell.into())
    };
    Ok((input, CellInfo { mcc: mcc & 0x7FFF, mnc, lac, cell_id }))
}

fn location(frame: &[u8], content: &[u8], kind: u8, msg: &mut Message) -> Result<(), DecodeError> {
    let (rest, mut position) = gps(frame, content)?;
    msg.kind = MessageKind::Position;
    let mut rest = rest;
    if rest.len() >= 8 {
        let (r, cell) = cell(rest, kind == proto::GPS_LBS_4G).at(frame)?;
        position.cell = Some(cell);
        rest = r;
    }
    if matches!(kind, proto::GPS_LBS_2 | proto::GPS_LBS_4G) {
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
    keep_rest(msg, rest);
    msg.position = Some(position);
    Ok(())
}

fn alarm(frame: &[u8], content: &[u8], kind: u8, msg: &mut Message) -> Result<(), DecodeError> {
    let (rest, mut position) = gps(frame, content)?;
    msg.kind = MessageKind::Position;
    let wide = kind == proto::ALARM_4G;
    // The LBS block is preceded by its own length (counting that byte).
    let (rest, lbs_len) = be_u8(rest).at(frame)?;
    let lbs_len = usize::from(lbs_len.saturating_sub(1));
    let (rest, lbs) = take::<_, _, nom::error::Error<&[u8]>>(lbs_len)(rest).at(frame)?;
    if lbs_len >= 8 {
        position.cell = cell(lbs, wide).ok().map(|(_, c)| c);
    }
    let rest = status_block(frame, rest, msg)?;
    keep_rest(msg, rest);
    msg.position = Some(position);
    Ok(())
}

fn lbs_alarm(frame: &[u8], content: &[u8], msg: &mut Message) -> Result<(), DecodeError> {
    let (rest, cell) = cell(content, false).at(frame)?;
    msg.kind = MessageKind::Alarm;
    msg.attributes.set("mcc", AttrValue::Int(cell.mcc.into()));
    msg.attributes.set("mnc", AttrValue::Int(cell.mnc.into()));
    msg.attributes.set("lac", AttrValue::Int(cell.lac.into()));
    msg.attributes.set("cell_id", AttrValue::Int(cell.cell_id as i64));
    let rest = status_block(frame, rest, msg)?;
    keep_rest(msg, rest);
    Ok(())
}

fn heartbeat(frame: &[u8], content: &[u8], kind: u8, msg: &mut Message) -> Result<(), DecodeError> {
    msg.kind = MessageKind::Heartbeat;
    if kind == proto::HEARTBEAT_VOLTAGE {
        let (rest, (info, volts, gsm)) = (be_u8, be_u16, be_u8).parse(content).at(frame)?;
        terminal_info(info, msg);
        msg.status.power_voltage = Some(f64::from(volts) / 100.0);
        msg.status.gsm_signal = Some(gsm);
        keep_rest(msg, rest.get(2..).unwrap_or_default());
        return Ok(());
    }
    let rest = status_block(frame, content, msg)?;
    keep_rest(msg, rest);
    Ok(())
}

/// Terminal info, voltage level, GSM signal and the optional alarm/language pair.
fn status_block<'a>(frame: &[u8], input: &'a [u8], msg: &mut Message) -> Result<&'a [u8], DecodeError> {
    let (rest, (info, level, gsm)) = (be_u8, be_u8, be_u8).parse(input).at(frame)?;
    terminal_info(info, msg);
    // Voltage level 0 (no power) to 6 (very high).
    msg.status.battery_percent = Some((u16::from(level.min(6)) * 100 / 6) as u8);
    msg.status.gsm_signal = Some(gsm);
    match rest {
        [alarm, _language, r @ ..] => {
            if let Some(a) = alarm_code(*alarm) {
                msg.alarms.insert(a);
            }
            if *alarm != 0 {
                msg.attributes.set("alarm_code", AttrValue::Int((*alarm).into()));
            }
            Ok(r)
        }
        [alarm] => {
            if let Some(a) = alarm_code(*alarm) {
                msg.alarms.insert(a);
            }
            Ok(&[])
        }
        [] => Ok(rest),
    }
}

/// The terminal-information byte: defence, ACC, charging, an alarm in bits 3-5, GPS tracking,
/// and the relay (oil/electricity cut).
fn terminal_info(info: u8, msg: &mut Message) {
    msg.status.ignition = Some(info & 0x02 != 0);
    msg.attributes.set("armed", AttrValue::Bool(info & 0x01 != 0));
    msg.attributes.set("charging", AttrValue::Bool(info & 0x04 != 0));
    msg.attributes.set("relay_cut", AttrValue::Bool(info & 0x80 != 0));
    match (info >> 3) & 0x07 {
        0b100 => msg.alarms.insert(Alarm::Sos),
        0b011 => msg.alarms.insert(Alarm::LowBattery),
        0b010 => msg.alarms.insert(Alarm::PowerCut),
        0b001 => msg.alarms.insert(Alarm::Vibration),
        _ => {}
    }
}

/// The alarm byte of alarm frames.
fn alarm_code(code: u8) -> Option<Alarm> {
    Some(match code {
        0x01 => Alarm::Sos,
        0x02 => Alarm::PowerCut,
        0x03 => Alarm::Vibration,
        0x04 => Alarm::GeofenceEnter,
        0x05 => Alarm::GeofenceExit,
        0x06 => Alarm::Overspeed,
        0x09 => Alarm::Tow,
        0x0A | 0x0B => Alarm::GnssFault,
        0x0E => Alarm::LowPower,
        0x0F | 0x19 => Alarm::LowBattery,
        0x10 => Alarm::SimChange,
        0x11 | 0x15 => Alarm::PowerOff,
        0x13 | 0x18 => Alarm::Tamper,
        0x14 => Alarm::Door,
        0x17 => Alarm::Jamming,
        0x29 => Alarm::HarshAcceleration,
        0x2A | 0x2B => Alarm::HarshCornering,
        0x2C => Alarm::Collision,
        0x30 => Alarm::HarshBraking,
        _ => return None,
    })
}

fn command_reply(frame: &[u8], content: &[u8], kind: u8, msg: &mut Message) -> Result<(), DecodeError> {
    msg.kind = MessageKind::CommandReply;
    let text = if kind == proto::COMMAND_REPLY {
        let (rest, (len, flag)) = (be_u8, be_u32).parse(content).at(frame)?;
        msg.attributes.set("server_flag", AttrValue::Int(flag.into()));
        let text_len = usize::from(len).saturating_sub(4).min(rest.len());
        &rest[..text_len]
    } else {
        let (rest, (flag, encoding)) = (be_u32, be_u8).parse(content).at(frame)?;
        msg.attributes.set("server_flag", AttrValue::Int(flag.into()));
        msg.attributes.set("encoding", AttrValue::Int(encoding.into()));
        rest
    };
    msg.attributes.set("text", AttrValue::Text(String::from_utf8_lossy(text).into_owned()));
    Ok(())
}

fn info(content: &[u8], msg: &mut Message) {
    msg.kind = MessageKind::Heartbeat;
    match content {
        [0x00, hi, lo, ..] => msg.status.power_voltage = Some(f64::from(u16::from_be_bytes([*hi, *lo])) / 100.0),
        [sub, data @ ..] => {
            msg.attributes.set("info_type", AttrValue::Int((*sub).into()));
            let value = if data.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
                AttrValue::Text(String::from_utf8_lossy(data).into_owned())
            } else {
                AttrValue::Bytes(data.to_vec())
            };
            msg.attributes.set("info", value);
        }
        [] => {}
    }
}

fn keep_rest(msg: &mut Message, rest: &[u8]) {
    if !rest.is_empty() {
        msg.attributes.set("extra", AttrValue::Bytes(rest.to_vec()));
    }
}

/// `YY MM DD hh mm ss` as GT06 sends times (binary, UTC).
fn time_bytes(t: DateTime<Utc>) -> [u8; 6] {
    [(t.year() % 100) as u8, t.month() as u8, t.day() as u8, t.hour() as u8, t.minute() as u8, t.second() as u8]
}

/// Appends a whole frame: start, length, protocol number, content, serial, CRC, terminator.
fn write_frame(out: &mut Vec<u8>, long: bool, kind: u8, content: &[u8], serial: [u8; 2]) {
    let start = out.len();
    let len = 1 + content.len() + 2 + 2;
    if long {
        out.extend_from_slice(&[0x79, 0x79]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[0x78, 0x78, len as u8]);
    }
    out.push(kind);
    out.extend_from_slice(content);
    out.extend_from_slice(&serial);
    let crc = crc_itu(&out[start + 2..]);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Encodes a 0x80 online command carrying `text`, tagged with `flag`.
pub fn encode_online_command(text: &str, flag: u32, serial: u16, out: &mut Vec<u8>) -> Result<(), CommandError> {
    if text.len() > 240 {
        return Err(CommandError::TooLong(text.len()));
    }
    let mut content = Vec::with_capacity(5 + text.len());
    content.push((4 + text.len()) as u8);
    content.extend_from_slice(&flag.to_be_bytes());
    content.extend_from_slice(text.as_bytes());
    write_frame(out, false, proto::COMMAND, &content, serial.to_be_bytes());
    Ok(())
}

/// Device-side encoders, used by the simulators and by round-trip tests.
pub mod device {
    use super::*;

    /// A login frame for `imei` (up to 16 digits).
    pub fn login(imei: &DeviceId, serial: u16, out: &mut Vec<u8>) {
        let mut content = Vec::with_capacity(8);
        crate::parse::push_bcd_digits(&mut content, imei.as_bytes(), 8);
        write_frame(out, false, proto::LOGIN, &content, serial.to_be_bytes());
    }

    fn gps_block(p: &Position, content: &mut Vec<u8>) {
        content.extend_from_slice(&time_bytes(p.fix_time));
        content.push(0xC0 | p.satellites.unwrap_or(0).min(15));
        content.extend_from_slice(&((p.latitude.abs() * 1_800_000.0).round() as u32).to_be_bytes());
        content.extend_from_slice(&((p.longitude.abs() * 1_800_000.0).round() as u32).to_be_bytes());
        content.push(p.speed_kmh.round().clamp(0.0, 255.0) as u8);
        let mut flags = (p.course.round() as u16) % 360;
        if p.latitude >= 0.0 {
            flags |= 0x0400;
        }
        if p.longitude < 0.0 {
            flags |= 0x0800;
        }
        if p.valid {
            flags |= 0x1000;
        }
        content.extend_from_slice(&flags.to_be_bytes());
    }

    fn cell_block(c: &CellInfo, content: &mut Vec<u8>) {
        content.extend_from_slice(&c.mcc.to_be_bytes());
        content.push(c.mnc as u8);
        content.extend_from_slice(&(c.lac as u16).to_be_bytes());
        content.extend_from_slice(&(c.cell_id as u32).to_be_bytes()[1..]);
    }

    /// A 0x12 GPS + LBS location frame.
    pub fn position(p: &Position, serial: u16, out: &mut Vec<u8>) {
        let mut content = Vec::with_capacity(26);
        gps_block(p, &mut content);
        cell_block(&p.cell.unwrap_or(CellInfo { mcc: 460, mnc: 0, lac: 0, cell_id: 0 }), &mut content);
        write_frame(out, false, proto::GPS_LBS, &content, serial.to_be_bytes());
    }

    /// A 0x22 location frame with ignition and odometer.
    pub fn position_22(p: &Position, status: &Status, serial: u16, out: &mut Vec<u8>) {
        let mut content = Vec::with_capacity(33);
        gps_block(p, &mut content);
        cell_block(&p.cell.unwrap_or(CellInfo { mcc: 460, mnc: 0, lac: 0, cell_id: 0 }), &mut content);
        content.extend_from_slice(&[u8::from(status.ignition.unwrap_or(false)), 0, 0]);
        content.extend_from_slice(&(status.odometer_m.unwrap_or(0) as u32).to_be_bytes());
        write_frame(out, false, proto::GPS_LBS_2, &content, serial.to_be_bytes());
    }

    fn status_bytes(status: &Status, alarm_bits: u8) -> [u8; 3] {
        let info = u8::from(status.ignition.unwrap_or(false)) << 1 | alarm_bits << 3;
        let level = (u16::from(status.battery_percent.unwrap_or(100).min(100)) * 6).div_ceil(100) as u8;
        [info, level, status.gsm_signal.unwrap_or(4)]
    }

    /// A 0x13 status / heartbeat frame.
    pub fn heartbeat(status: &Status, serial: u16, out: &mut Vec<u8>) {
        let [info, level, gsm] = status_bytes(status, 0);
        write_frame(out, false, proto::STATUS, &[info, level, gsm, 0, 0x02], serial.to_be_bytes());
    }

    /// A 0x16 alarm frame with a fix.
    pub fn alarm(p: &Position, status: &Status, alarm: Alarm, serial: u16, out: &mut Vec<u8>) {
        let code = match alarm {
            Alarm::Sos => 0x01,
            Alarm::PowerCut => 0x02,
            Alarm::Vibration => 0x03,
            Alarm::GeofenceEnter => 0x04,
            Alarm::GeofenceExit => 0x05,
            Alarm::Overspeed => 0x06,
            Alarm::Tow => 0x09,
            Alarm::LowPower => 0x0E,
            Alarm::LowBattery => 0x19,
            Alarm::Tamper => 0x13,
            Alarm::Door => 0x14,
            Alarm::Jamming => 0x17,
            Alarm::Collision => 0x2C,
            _ => 0x00,
        };
        let mut content = Vec::with_capacity(32);
        gps_block(p, &mut content);
        content.push(9);
        cell_block(&p.cell.unwrap_or(CellInfo { mcc: 460, mnc: 0, lac: 0, cell_id: 0 }), &mut content);
        content.extend_from_slice(&status_bytes(status, 0));
        content.extend_from_slice(&[code, 0x02]);
        write_frame(out, false, proto::ALARM, &content, serial.to_be_bytes());
    }

    /// A 0x15 reply to the command tagged `flag`.
    pub fn command_reply(text: &str, flag: u32, serial: u16, out: &mut Vec<u8>) {
        let mut content = Vec::with_capacity(7 + text.len());
        content.push((4 + text.len()).min(255) as u8);
        content.extend_from_slice(&flag.to_be_bytes());
        content.extend_from_slice(text.as_bytes());
        content.extend_from_slice(&[0x00, 0x02]);
        write_frame(out, false, proto::COMMAND_REPLY, &content, serial.to_be_bytes());
    }

    /// A 0x8A time request.
    pub fn time_request(serial: u16, out: &mut Vec<u8>) {
        write_frame(out, false, proto::TIME_REQUEST, &[], serial.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_hex(hex: &str) -> (Result<Gt06Ack, DecodeError>, Vec<Message>, Session) {
        let bytes = hex_bytes(hex);
        let mut session = Session::default();
        let mut out = Vec::new();
        (Gt06::decode(&bytes, &mut session, &mut out), out, session)
    }

    fn hex_bytes(hex: &str) -> Vec<u8> {
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)).collect()
    }

    #[test]
    fn login_frame_names_the_device_and_is_answered_with_its_serial() {
        let (ack, msgs, mut session) = decode_hex("78780D01086471700328358100093F040D0A");
        assert_eq!(msgs[0].device_id.map(|d| d.to_string()).as_deref(), Some("864717003283581"));
        assert_eq!(session.device_id, msgs[0].device_id);
        let mut reply = Vec::new();
        Gt06::write_reply(&ack.unwrap_or(Gt06Ack::Nothing), &mut session, Utc::now(), &mut reply);
        assert_eq!(reply, hex_bytes("78780501000955940D0A"));
    }

    #[test]
    fn length_zero_frame_falls_back_to_the_terminator() {
        let mut frame = hex_bytes("78780D01086471700328358100093F040D0A");
        frame[2] = 0;
        let scan = Gt06::scan(&frame, 1024);
        assert_eq!(scan, Scan::Frame(frame.len()));
    }

    #[test]
    fn impossible_length_is_skipped_without_waiting_for_bytes() {
        let scan = Gt06::scan(&hex_bytes("79790FFF01"), 1024);
        assert!(matches!(scan, Scan::Skip { skip: 1, error: ErrorKind::BadLength { len: 4095, .. } }));
    }

    #[test]
    fn garbage_before_a_frame_is_skipped_up_to_the_start_marker() {
        let scan = Gt06::scan(&hex_bytes("0102037878"), 1024);
        assert_eq!(scan, Scan::Skip { skip: 3, error: ErrorKind::Garbage(3) });
    }

    #[test]
    fn month_thirteen_is_an_invalid_field_at_the_date() {
        let mut out = Vec::new();
        let p = Position {
            fix_time: Utc::now(),
            latitude: 1.0,
            longitude: 1.0,
            speed_kmh: 0.0,
            course: 0.0,
            altitude: None,
            satellites: Some(5),
            valid: true,
            cell: None,
        };
        device::position(&p, 1, &mut out);
        out[5] = 13;
        let crc = crc_itu(&out[2..out.len() - 4]);
        let n = out.len();
        out[n - 4..n - 2].copy_from_slice(&crc.to_be_bytes());
        let err = Gt06::decode(&out, &mut Session::default(), &mut Vec::new());
        assert!(
            matches!(err, Err(DecodeError { offset: 4, kind: ErrorKind::InvalidField { field: "date", .. } })),
            "{err:?}"
        );
    }
}
