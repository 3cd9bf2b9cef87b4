//! Byte streams a single device would send over TCP: a login or handshake where the protocol has
//! one, then one location frame per fix.

use chrono::{DateTime, Utc};
use leasewatch_protocols::jt808::Terminal;
use leasewatch_protocols::{
    AttrKey, AttrValue, DeviceId, Message, MessageKind, ProtocolKind, Status, gt06, h02, jt808, teltonika,
};

use crate::track::Track;

/// Writes `frames` location frames of `protocol` from one device into `out`.
pub fn location_stream(protocol: ProtocolKind, id: &DeviceId, frames: usize, seed: u64, out: &mut Vec<u8>) {
    let start = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    let mut track = Track::new(seed, start, 31.2304, 121.4737, 10);
    let terminal = Terminal::from_device_id(id).ok();
    match protocol {
        ProtocolKind::Gt06 => gt06::device::login(id, 1, out),
        ProtocolKind::Teltonika => teltonika::device::handshake(id, out),
        ProtocolKind::Jt808 | ProtocolKind::H02 | ProtocolKind::Mqtt => {}
    }
    for i in 0..frames {
        let p = track.next_fix();
        let serial = (i % 65_536) as u16;
        let mut msg = Message::new(protocol, MessageKind::Position);
        msg.position = Some(p);
        msg.status =
            Status { ignition: Some(p.speed_kmh > 0.0), odometer_m: Some(i as u64 * 100), ..Status::default() };
        match protocol {
            ProtocolKind::Gt06 => gt06::device::position(&p, serial, out),
            ProtocolKind::Jt808 => {
                if let Some(t) = &terminal {
                    jt808::device::location(t, serial, &msg, out);
                }
            }
            ProtocolKind::Teltonika => {
                msg.attributes.set("priority", AttrValue::Int(0));
                msg.attributes.set("event_io", AttrValue::Int(0));
                for (io, v) in [(239, i64::from(p.speed_kmh > 0.0)), (240, 1), (66, 12_800), (16, i as i64 * 100)] {
                    msg.attributes.push(AttrKey::Io(io), AttrValue::Int(v));
                }
                teltonika::device::codec8(std::slice::from_ref(&msg), out);
            }
            ProtocolKind::H02 => h02::device::position(id, &p, 0xFFFF_FBFF, out),
            ProtocolKind::Mqtt => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leasewatch_protocols::{Gt06, H02, Jt808, Protocol, Session, Teltonika};

    fn decoded<P: Protocol>(bytes: &[u8]) -> usize {
        let decoded = leasewatch_protocols::decode_all::<P>(bytes, &mut Session::default(), chrono::Utc::now());
        assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        decoded.messages.iter().filter(|m| m.position.is_some()).count()
    }

    #[test]
    fn generated_streams_decode_to_one_position_per_frame() {
        let imei = DeviceId::new(b"864717003283581").unwrap_or_else(|| panic!("id"));
        let jt = DeviceId::new(b"013800138000").unwrap_or_else(|| panic!("id"));
        for (protocol, id) in [
            (ProtocolKind::Gt06, imei),
            (ProtocolKind::Jt808, jt),
            (ProtocolKind::Teltonika, imei),
            (ProtocolKind::H02, imei),
        ] {
            let mut bytes = Vec::new();
            location_stream(protocol, &id, 500, 3, &mut bytes);
            let n = match protocol {
                ProtocolKind::Gt06 => decoded::<Gt06>(&bytes),
                ProtocolKind::Jt808 => decoded::<Jt808>(&bytes),
                ProtocolKind::Teltonika => decoded::<Teltonika>(&bytes),
                ProtocolKind::H02 | ProtocolKind::Mqtt => decoded::<H02>(&bytes),
            };
            assert_eq!(n, 500, "{protocol}");
        }
    }
}
