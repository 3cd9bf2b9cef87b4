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
    /// GPS only.
    pub const GPS: u8 = 0x10;
    /// GPS + LBS with a two-byte MNC and a four-byte cell id.
    pub const GPS_LBS_6: u8 = 0x11;
    /// GPS + LBS location.
    pub const GPS_LBS: u8 = 0x12;
    /// Status / heartbeat.
    pub const STATUS: u8 = 0x13;
    /// Command reply (text).
    pub const COMMAND_REPLY: u8 = 0x15;
    /// GPS + LBS + status alarm.
    pub const ALARM: u8 = 0x16;
    /// Wi-Fi report, or (RFID models) GPS + LBS + card.
    pub const WIFI_OR_RFID: u8 = 0x17;
    /// LBS + status alarm (no fix).
    pub const LBS_ALARM: u8 = 0x19;
    /// GPS + phone number.
    pub const GPS_PHONE: u8 = 0x1A;
    /// GPS + LBS, extended (JI09).
    pub const GPS_LBS_EXTEND: u8 = 0x1E;
    /// Command reply, long frame (text with an encoding byte).
    pub const COMMAND_REPLY_LONG: u8 = 0x21;
    /// GPS + LBS location, GT06N and later.
    pub const GPS_LBS_2: u8 = 0x22;
    /// Heartbeat with external voltage.
    pub const HEARTBEAT_VOLTAGE: u8 = 0x23;
    /// Multiple cells, or (SR411 mini) GPS + LBS + power.
    pub const LBS_MULTIPLE_OR_GPS: u8 = 0x24;
    /// GPS + LBS + driver (XT40 and NT models).
    pub const GPS_LBS_DRIVER: u8 = 0x25;
    /// Alarm, multi-fence variant.
    pub const ALARM_2: u8 = 0x26;
    /// Alarm, later variant.
    pub const ALARM_3: u8 = 0x27;
    /// Address request with a fix (the device wants a street address by SMS).
    pub const ADDRESS_REQUEST: u8 = 0x2A;
    /// GPS + LBS, fourth variant.
    pub const GPS_LBS_4: u8 = 0x2D;
    /// GPS + LBS (AZ735, SL4X).
    pub const GPS_LBS_5: u8 = 0x31;
    /// GPS + LBS + status (SL4X); in the long form (AZ735) the fix has a length byte.
    pub const GPS_LBS_STATUS_4: u8 = 0x32;
    /// Alarm in the long form (AZ735), fix with a length byte; Wi-Fi in the short form.
    pub const AZ735_ALARM: u8 = 0x33;
    /// X1: flags, fix, odometer, cell, driver (SL4X uses it for cells only).
    pub const X1_GPS: u8 = 0x34;
    /// Location + RFID (TRX16i), or status (4G models).
    pub const LOCATION_RFID: u8 = 0x36;
    /// GPS + LBS, third variant.
    pub const GPS_LBS_3: u8 = 0x37;
    /// GPS + LBS with a cell type (4G cells).
    pub const GPS_LBS_8: u8 = 0x38;
    /// Alarm with a module list (Jimi 4G).
    pub const ALARM_MODULE: u8 = 0x39;
    /// iButton: IMEI, fix, cell, driver id.
    pub const IBUTTON: u8 = 0x61;
    /// Modular location: a list of typed modules, one of them the fix.
    pub const GPS_MODULAR: u8 = 0x70;
    /// Server command (online command).
    pub const COMMAND: u8 = 0x80;
    /// Time request.
    pub const TIME_REQUEST: u8 = 0x8A;
    /// Information transmission (long frame).
    pub const INFO: u8 = 0x94;
    /// Event with a fix and file names (JC100/JC400 cameras).
    pub const EVENT: u8 = 0x95;
    /// 4G GPS + LBS location with long cell ids.
    pub const GPS_LBS_4G: u8 = 0xA0;
    /// 4G GPS + LBS + status (LW 4G), or Wi-Fi with a time stamp (GK310).
    pub const GPS_LBS_STATUS_4G: u8 = 0xA2;
    /// Single-fence alarm with a fix (GK310), or status (SeeWorld).
    pub const FENCE_SINGLE: u8 = 0xA3;
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
        scan_frame(buf, max_frame_len, false)
    }

    fn scan_at_end(buf: &[u8], max_frame_len: usize) -> Scan {
        scan_frame(buf, max_frame_len, true)
    }

    fn decode(frame: &[u8], session: &mut Session, out: &mut Vec<Message>) -> Result<Gt06Ack, DecodeError> {
        let long = frame.first() == Some(&0x79);
        let header = if long { 4 } else { 3 };
        if frame.len() < header + 5 {
            return Err(DecodeError::new(frame.len(), ErrorKind::Truncated));
        }
        let crc_end = crc_end(frame, header);
        if crc_end < header + 5 {
            return Err(DecodeError::new(frame.len(), ErrorKind::Truncated));
        }
        let body_end = crc_end - 2;
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
        let mut result = fill(frame, kind, content, serial, long, session, &mut out[at]);
        // A frame whose length and checksum are both off may lack its serial and checksum
        // altogether (some devices send the content alone): read it again as all content.
        if result.is_err() && !checksum_ok && !consistent(frame, header) {
            let retry = &mut out[at];
            (retry.kind, retry.position, retry.status, retry.alarms) =
                (MessageKind::Unknown, None, Status::default(), crate::message::AlarmSet::EMPTY);
            retry.attributes = crate::message::Attributes::default();
            result = fill(frame, kind, &frame[header + 1..crc_end], serial, long, session, &mut out[at]);
        }
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
        proto::GPS
        | proto::GPS_LBS_6
        | proto::GPS_LBS
        | proto::GPS_PHONE
        | proto::GPS_LBS_EXTEND
        | proto::GPS_LBS_2
        | proto::GPS_LBS_DRIVER
        | proto::GPS_LBS_4
        | proto::GPS_LBS_5
        | proto::GPS_LBS_3
        | proto::GPS_LBS_8
        | proto::IBUTTON
        | proto::GPS_LBS_4G => {
            location::location(frame, content, kind, msg)?;
            echo
        }
        proto::GPS_LBS_STATUS_4 | proto::AZ735_ALARM if long => {
            location::with_gps_length(frame, content, msg)?;
            echo
        }
        proto::GPS_LBS_STATUS_4 => {
            location::location(frame, content, kind, msg)?;
            echo
        }
        // Types devices use both for a fix and for cells or Wi-Fi: a fix only when it reads as one.
        proto::WIFI_OR_RFID | proto::LBS_MULTIPLE_OR_GPS | proto::LOCATION_RFID | proto::GPS_LBS_STATUS_4G
            if location::starts_with_fix(frame, content) =>
        {
            location::location(frame, content, kind, msg)?;
            echo
        }
        proto::FENCE_SINGLE if location::starts_with_fix(frame, content) => {
            location::alarm(frame, content, msg)?;
            echo
        }
        // SL4X sends cells only under 0x34, in frames of this length.
        proto::X1_GPS if frame.len() != 0x37 + 5 || long => {
            location::x1(frame, content, msg)?;
            echo
        }
        proto::GPS_MODULAR => {
            location::modular(frame, content, msg)?;
            // Modular frames are answered in the short form.
            Gt06Ack::Echo { proto: kind, serial, long: false }
        }
        proto::EVENT => {
            location::event(frame, content, msg)?;
            echo
        }
        proto::ADDRESS_REQUEST => {
            let (rest, position) = location::gps(frame, content)?;
            msg.kind = MessageKind::Position;
            msg.position = Some(position);
            keep_rest(msg, rest);
            echo
        }
        proto::ALARM | proto::ALARM_2 | proto::ALARM_3 | proto::ALARM_4G | proto::ALARM_MODULE => {
            location::alarm(frame, content, msg)?;
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

/// How many bytes may separate a broken frame's terminator from where its length says it is.
const LENGTH_SLACK: usize = 4;

/// Finds the frame at the start of `buf`; `at_end` when no more bytes will come.
fn scan_frame(buf: &[u8], max_frame_len: usize, at_end: bool) -> Scan {
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
    let declared = declared(buf, header);
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
        // A length that claims more than the device sent: the frame is whole when it ends in a
        // terminator after a matching checksum, or (at the end of the stream) in the checksum.
        let ends = match buf {
            [.., b'\r', b'\n'] => Some(buf.len() - 2),
            [.., b'\r'] if at_end => Some(buf.len() - 1),
            _ => at_end.then_some(buf.len()),
        };
        return match ends {
            Some(end) if end >= MIN_FRAME - 2 && crc_matches(buf, end) => Scan::Frame(buf.len()),
            _ if at_end => Scan::Skip { skip: 1, error: ErrorKind::Truncated },
            _ => Scan::Incomplete,
        };
    }
    if &buf[total - 2..total] == b"\r\n" {
        return Scan::Frame(total);
    }
    // The terminator is damaged or missing (a TCP segment ended there), or the length is off by
    // a few bytes. A checksum that matches where the length says wins.
    if crc_matches(buf, total - 2) {
        return Scan::Frame(total - 2 + usize::from(buf[total - 2] == b'\r'));
    }
    let from = (total - 2).saturating_sub(LENGTH_SLACK).max(MIN_FRAME - 2);
    let to = buf.len().min(total + LENGTH_SLACK);
    match crate::stream::find(&buf[from..to], b"\r\n") {
        Some(at) => Scan::Frame(from + at + 2),
        None if buf.len() < total + LENGTH_SLACK && !at_end => Scan::Incomplete,
        None => Scan::Skip { skip: 1, error: ErrorKind::MissingTerminator },
    }
}

/// Whether the two bytes before `end` are the CRC-ITU of `buf[2..end - 2]`.
fn crc_matches(buf: &[u8], end: usize) -> bool {
    end >= 6 && buf.len() >= end && u16::from_be_bytes([buf[end - 2], buf[end - 1]]) == crc_itu(&buf[2..end - 2])
}

/// Whether the frame is as long as its length byte says, with its terminator.
fn consistent(frame: &[u8], header: usize) -> bool {
    header + declared(frame, header) + 2 == frame.len() && frame.ends_with(b"\r\n")
}

/// The frame's length field (protocol number to CRC): one byte, or two in the long form.
fn declared(frame: &[u8], header: usize) -> usize {
    if header == 4 { u16::from_be_bytes([frame[2], frame[3]]).into() } else { frame[2].into() }
}

/// Where a frame's checksum ends: where its length says, or else where the frame ends, before
/// whatever is left of its terminator.
fn crc_end(frame: &[u8], header: usize) -> usize {
    let by_length = header + declared(frame, header);
    if consistent(frame, header) {
        return by_length;
    }
    let by_end = frame.len()
        - match frame {
            [.., b'\r', b'\n'] => 2,
            [.., b'\r'] => 1,
            _ => 0,
        };
    // A length of 0 (some devices) says nothing: the frame ends where its terminator is.
    if by_length != by_end && by_length != header && crc_matches(frame, by_length) { by_length } else { by_end }
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

fn lbs_alarm(frame: &[u8], content: &[u8], msg: &mut Message) -> Result<(), DecodeError> {
    let (rest, cell) = location::cell(content, location::CellWidth::Narrow, false).at(frame)?;
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
        String::from_utf8_lossy(&rest[..text_len]).into_owned()
    } else {
        let (rest, (flag, encoding)) = (be_u32, be_u8).parse(content).at(frame)?;
        msg.attributes.set("server_flag", AttrValue::Int(flag.into()));
        msg.attributes.set("encoding", AttrValue::Int(encoding.into()));
        if encoding == 1 {
            String::from_utf8_lossy(rest).into_owned()
        } else {
            // Anything but ASCII is UTF-16, big-endian.
            let units: Vec<u16> = rest.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16_lossy(&units)
        }
    };
    // A reply to a position query carries the fix as text.
    msg.position = location::text_position(&text);
    msg.attributes.set("text", AttrValue::Text(text));
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
pub mod device;
mod location;

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
