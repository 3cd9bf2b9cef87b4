//! GT06 frames as a device writes them: for the simulators and the round-trip tests.

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
