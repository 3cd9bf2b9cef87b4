//! Property tests: every frame the crate encodes decodes back to the same message, and no byte
//! stream — garbage, truncation, flipped bits — makes a decoder panic or lose the frames after it.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use chrono::{DateTime, Utc};
use leasewatch_protocols::jt808::Terminal;
use leasewatch_protocols::{
    Alarm, AttrKey, AttrValue, CellInfo, Chunk, Command, DeviceId, Frames, Gt06, H02, Jt808, Message, MessageKind,
    Outgoing, Position, Protocol, ProtocolKind, Session, Status, Teltonika, gt06, h02, jt808, teltonika,
};
use proptest::prelude::*;

/// Decodes a whole stream; the messages, and how many frames or byte runs were refused.
fn decode_all<P: Protocol>(bytes: &[u8]) -> (Vec<Message>, usize) {
    let decoded = leasewatch_protocols::decode_all::<P>(bytes, &mut Session::default(), Utc::now());
    (decoded.messages, decoded.errors.len())
}

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// Seconds from 2000-01-01 to 2099-12-31: what two-digit years can carry.
fn seconds() -> impl Strategy<Value = i64> {
    946_684_800_i64..4_102_444_799
}

fn cell() -> impl Strategy<Value = CellInfo> {
    (0_u16..1000, 0_u16..256, 0_u32..65536, 0_u64..(1 << 24)).prop_map(|(mcc, mnc, lac, cell_id)| CellInfo {
        mcc,
        mnc,
        lac,
        cell_id,
    })
}

/// A GT06 fix: coordinates on the protocol's 1/1,800,000-degree grid, whole km/h and degrees.
fn gt06_position() -> impl Strategy<Value = Position> {
    (
        seconds(),
        -162_000_000_i64..=162_000_000,
        -324_000_000_i64..=324_000_000,
        0_u8..=255,
        0_u16..360,
        0_u8..16,
        any::<bool>(),
        cell(),
    )
        .prop_map(|(t, lat, lon, speed, course, sats, valid, cell)| Position {
            fix_time: time(t),
            latitude: lat as f64 / 1_800_000.0,
            longitude: lon as f64 / 1_800_000.0,
            speed_kmh: speed.into(),
            course: course.into(),
            altitude: None,
            satellites: Some(sats),
            valid,
            cell: Some(cell),
        })
}

fn imei() -> impl Strategy<Value = DeviceId> {
    "[1-9][0-9]{14}".prop_map(|s| DeviceId::new(s.as_bytes()).unwrap_or_else(|| panic!("id {s}")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn gt06_positions_round_trip(p in gt06_position(), serial in any::<u16>()) {
        let mut bytes = Vec::new();
        gt06::device::position(&p, serial, &mut bytes);
        let (msgs, refused) = decode_all::<Gt06>(&bytes);
        prop_assert_eq!(refused, 0);
        prop_assert_eq!(msgs.len(), 1);
        prop_assert_eq!(msgs[0].position, Some(p));
        prop_assert_eq!(msgs[0].serial, Some(u32::from(serial)));
    }

    #[test]
    fn gt06_login_heartbeat_and_alarm_round_trip(
        id in imei(), p in gt06_position(), ignition in any::<bool>(), level in 0_u8..=6, gsm in 0_u8..5,
        alarm in prop::sample::select(vec![Alarm::Sos, Alarm::PowerCut, Alarm::Vibration, Alarm::Tow, Alarm::Tamper, Alarm::Overspeed]),
    ) {
        let status = Status { ignition: Some(ignition), battery_percent: Some((u16::from(level) * 100 / 6) as u8), gsm_signal: Some(gsm), ..Status::default() };
        let mut bytes = Vec::new();
        gt06::device::login(&id, 1, &mut bytes);
        gt06::device::heartbeat(&status, 2, &mut bytes);
        gt06::device::alarm(&p, &status, alarm, 3, &mut bytes);
        let (msgs, refused) = decode_all::<Gt06>(&bytes);
        prop_assert_eq!(refused, 0);
        prop_assert_eq!(msgs.len(), 3);
        prop_assert_eq!(msgs[0].device_id, Some(id));
        prop_assert_eq!(msgs[1].kind, MessageKind::Heartbeat);
        prop_assert_eq!(msgs[1].status, status);
        prop_assert_eq!(msgs[1].device_id, Some(id));
        prop_assert_eq!(msgs[2].position, Some(p));
        prop_assert!(msgs[2].alarms.contains(alarm));
        prop_assert_eq!(msgs[2].status, status);
    }

    #[test]
    fn jt808_locations_and_batches_round_trip(
        phone in "[0-9]{12}", v2019 in any::<bool>(), fixes in prop::collection::vec(
            (seconds(), -90_000_000_i64..=90_000_000, -180_000_000_i64..=180_000_000, 0_u16..3000, 0_u16..360,
             -500_i16..9000, any::<bool>(), any::<bool>(), 0_u8..40, 0_u32..100_000_000),
            1..5),
    ) {
        let phone = if v2019 { format!("00000000{phone}") } else { phone };
        let terminal = Terminal::from_device_id(&DeviceId::new(phone.as_bytes()).unwrap_or_else(|| panic!("id")))
            .unwrap_or_else(|e| panic!("{e}"));
        let msgs: Vec<Message> = fixes.iter().map(|&(t, lat, lon, speed, course, alt, valid, acc, sats, odo)| {
            let mut m = Message::new(ProtocolKind::Jt808, MessageKind::Position);
            m.position = Some(Position {
                fix_time: time(t), latitude: lat as f64 / 1e6, longitude: lon as f64 / 1e6,
                speed_kmh: f64::from(speed) / 10.0, course: course.into(), altitude: Some(alt.into()),
                satellites: Some(sats), valid, cell: None,
            });
            m.status = Status { ignition: Some(acc), odometer_m: Some(u64::from(odo) * 100), gsm_signal: Some(20), ..Status::default() };
            m.device_id = DeviceId::new(phone.as_bytes());
            m
        }).collect();
        let mut bytes = Vec::new();
        jt808::device::location(&terminal, 7, &msgs[0], &mut bytes);
        jt808::device::batch(&terminal, 8, &msgs, false, &mut bytes);
        let (decoded, refused) = decode_all::<Jt808>(&bytes);
        prop_assert_eq!(refused, 0);
        prop_assert_eq!(decoded.len(), 1 + msgs.len());
        for (got, want) in decoded.iter().zip(std::iter::once(&msgs[0]).chain(&msgs)) {
            prop_assert_eq!(got.position, want.position);
            prop_assert_eq!(got.status, want.status);
            prop_assert_eq!(got.device_id, want.device_id);
        }
    }

    #[test]
    fn jt808_sub_packages_reassemble_in_any_order(body in prop::collection::vec(any::<u8>(), 1..3000), chunk in 1_usize..600, seed in any::<u64>()) {
        let terminal = Terminal::from_device_id(&DeviceId::new(b"013800138000").unwrap_or_else(|| panic!("id")))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut bytes = Vec::new();
        jt808::device::subpackaged(&terminal, 100, 0x0900, &body, chunk, &mut bytes);
        // Shuffle the frames: networks reorder nothing on one TCP stream, but devices resend.
        let mut frames: Vec<&[u8]> = Frames::<Jt808>::new(&bytes, 1 << 16)
            .filter_map(|(_, c)| match c { Chunk::Frame(f) => Some(f), Chunk::Skipped { .. } => None })
            .collect();
        let n = frames.len();
        for i in 0..n {
            frames.swap(i, (seed.wrapping_mul(i as u64 + 1) % n as u64) as usize);
        }
        let shuffled: Vec<u8> = frames.concat();
        let (msgs, refused) = decode_all::<Jt808>(&shuffled);
        prop_assert_eq!(refused, 0);
        prop_assert_eq!(msgs.len(), 1);
        prop_assert_eq!(msgs[0].attributes.named("raw"), Some(&AttrValue::Bytes(body)));
    }

    #[test]
    fn teltonika_records_round_trip(
        id in imei(),
        records in prop::collection::vec(
            (946_684_800_000_i64..4_102_444_799_000, -900_000_000_i32..=900_000_000, -1_800_000_000_i32..=1_800_000_000,
             any::<i16>(), 0_u16..360, 0_u8..30, 0_u16..300, 0_u8..3,
             prop::collection::vec((0_u8..=255, any::<u32>()), 0..6)),
            1..8),
    ) {
        let msgs: Vec<Message> = records.iter().map(|(ms, lat, lon, alt, course, sats, speed, priority, ios)| {
            let mut m = Message::new(ProtocolKind::Teltonika, MessageKind::Position);
            m.device_id = Some(id);
            m.position = Some(Position {
                fix_time: DateTime::from_timestamp_millis(*ms).unwrap_or_default(),
                latitude: f64::from(*lat) / 1e7, longitude: f64::from(*lon) / 1e7,
                speed_kmh: f64::from(*speed), course: f64::from(*course), altitude: Some(f64::from(*alt)),
                satellites: Some(*sats), valid: *sats != 0, cell: None,
            });
            m.attributes.set("priority", AttrValue::Int(i64::from(*priority)));
            if *priority == 2 { m.alarms.insert(Alarm::Sos); }
            m.attributes.set("event_io", AttrValue::Int(0));
            // The decoder lists I/O elements by size group: build them in that order.
            let mut ios: Vec<(u8, u64)> = ios.iter().map(|(i, v)| (*i, u64::from(*v))).collect();
            ios.sort_by_key(|(_, v)| match v { 0..=0xFF => 0, 0x100..=0xFFFF => 1, _ => 2 });
            for (io, v) in ios { teltonika::apply_io(&mut m, u16::from(io), v); }
            m
        }).collect();
        let mut bytes = Vec::new();
        teltonika::device::handshake(&id, &mut bytes);
        teltonika::device::codec8(&msgs, &mut bytes);
        let (decoded, refused) = decode_all::<Teltonika>(&bytes);
        prop_assert_eq!(refused, 0);
        prop_assert_eq!(decoded.len(), 1 + msgs.len());
        prop_assert_eq!(decoded[0].device_id, Some(id));
        for (got, want) in decoded[1..].iter().zip(&msgs) {
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn h02_positions_round_trip(
        id in "[0-9]{10}", t in seconds(), lat in -89_999_999_i64..=89_999_999, lon in -179_999_999_i64..=179_999_999,
        knots in 0_u32..20000, course in 0_u16..360, valid in any::<bool>(),
    ) {
        let id = DeviceId::new(id.as_bytes()).unwrap_or_else(|| panic!("id"));
        let p = Position {
            fix_time: time(t), latitude: lat as f64 / 1e6, longitude: lon as f64 / 1e6,
            speed_kmh: f64::from(knots) / 100.0 * 1.852, course: course.into(), altitude: None,
            satellites: None, valid, cell: None,
        };
        let mut bytes = Vec::new();
        h02::device::position(&id, &p, 0xFFFF_FBFF, &mut bytes);
        let (msgs, refused) = decode_all::<H02>(&bytes);
        prop_assert_eq!(refused, 0);
        let got = msgs[0].position.unwrap_or_else(|| panic!("no position"));
        // The text format carries minutes to 4 decimals (about 0.2 m) and knots to 2 decimals.
        prop_assert!((got.latitude - p.latitude).abs() < 1e-6);
        prop_assert!((got.longitude - p.longitude).abs() < 1e-6);
        prop_assert!((got.speed_kmh - p.speed_kmh).abs() < 1e-6);
        prop_assert_eq!((got.fix_time, got.course, got.valid), (p.fix_time, p.course, p.valid));
        prop_assert_eq!(msgs[0].device_id, Some(id));
        prop_assert_eq!(msgs[0].status.ignition, Some(false));
    }

    #[test]
    fn garbage_never_panics_and_the_next_frame_still_decodes(noise in prop::collection::vec(any::<u8>(), 0..400), p in gt06_position()) {
        for protocol in ProtocolKind::ALL {
            let mut frame = Vec::new();
            let id = DeviceId::new(b"013800138000").unwrap_or_else(|| panic!("id"));
            let mut msg = Message::new(protocol, MessageKind::Position);
            msg.position = Some(Position { cell: None, ..p });
            match protocol {
                ProtocolKind::Gt06 => gt06::device::position(&p, 1, &mut frame),
                ProtocolKind::Jt808 => jt808::device::location(&Terminal::from_device_id(&id).unwrap_or_else(|e| panic!("{e}")), 1, &msg, &mut frame),
                ProtocolKind::Teltonika => teltonika::device::codec8(std::slice::from_ref(&msg), &mut frame),
                ProtocolKind::H02 | ProtocolKind::Mqtt => h02::device::position(&id, &p, 0xFFFF_FFFF, &mut frame),
            }
            // Noise, then a frame: the frame must come through whatever the noise was, unless the
            // noise happens to end in a half-frame that swallows it (then the one after must).
            let mut bytes = noise.clone();
            bytes.extend_from_slice(&frame);
            bytes.extend_from_slice(&frame);
            bytes.extend_from_slice(&frame);
            let decoded = match protocol {
                ProtocolKind::Gt06 => decode_all::<Gt06>(&bytes).0,
                ProtocolKind::Jt808 => decode_all::<Jt808>(&bytes).0,
                ProtocolKind::Teltonika => decode_all::<Teltonika>(&bytes).0,
                ProtocolKind::H02 | ProtocolKind::Mqtt => decode_all::<H02>(&bytes).0,
            };
            let good = decoded.iter().filter(|m| m.position.is_some_and(|q| q.fix_time == p.fix_time)).count();
            prop_assert!(good >= 1, "{protocol}: no frame survived {} bytes of noise", noise.len());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        decode_all::<Gt06>(&bytes);
        decode_all::<Jt808>(&bytes);
        decode_all::<Teltonika>(&bytes);
        decode_all::<H02>(&bytes);
    }

    #[test]
    fn flipped_bits_in_real_frames_never_panic(flips in prop::collection::vec((0_usize..200, 0_u8..8), 1..4)) {
        let frames = [
            "78780D01086471700328358100093F040D0A",
            "78781F120B081D112E10CC027AC7EB0C46584900148F01CC00287D001FB8000380810D0A",
            "7E0200001C013511221122000700000000000C000301578CC006CA3A5C004700000000000014072317201501040000000030011631010BD07E",
            "000000000000003608010000016B40D8EA30010000000000000000000000000000000105021503010101425E0F01F10000601A014E0000000000000000010000C7CF",
        ];
        for hex in frames {
            let mut bytes = hex::decode(hex).unwrap_or_default();
            for (at, bit) in &flips {
                let n = bytes.len();
                bytes[at % n] ^= 1 << bit;
            }
            decode_all::<Gt06>(&bytes);
            decode_all::<Jt808>(&bytes);
            decode_all::<Teltonika>(&bytes);
            decode_all::<H02>(&bytes);
        }
    }
}

#[test]
fn commands_encode_to_frames_the_protocol_itself_can_read() {
    let id = DeviceId::new(b"013800138000").unwrap_or_else(|| panic!("id"));
    let ctx = Outgoing { device_id: Some(&id), serial: 5, now: time(1_767_225_600) };
    for command in
        [Command::EngineCut, Command::EngineRestore, Command::LocateNow, Command::SetInterval { seconds: 30 }]
    {
        let mut out = Vec::new();
        Gt06::encode_command(&command, ctx, &mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Gt06::scan(&out, 1024), leasewatch_protocols::Scan::Frame(out.len()));
        out.clear();
        Jt808::encode_command(&command, ctx, &mut out).unwrap_or_else(|e| panic!("{e}"));
        let (msgs, refused) = decode_all::<Jt808>(&out);
        assert_eq!((msgs.len(), refused), (1, 0), "{command:?}");
        out.clear();
        Teltonika::encode_command(&command, ctx, &mut out).unwrap_or_else(|e| panic!("{e}"));
        let (msgs, _) = decode_all::<Teltonika>(&out);
        assert!(matches!(msgs[0].attributes.named("command"), Some(AttrValue::Text(_))), "{command:?}");
        out.clear();
        H02::encode_command(&command, ctx, &mut out).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.starts_with(b"*HQ,013800138000,") && out.ends_with(b"#"));
    }
}

#[test]
fn teltonika_text_commands_are_the_codec12_packets_the_wiki_shows() {
    let mut out = Vec::new();
    let ctx = Outgoing { device_id: None, serial: 0, now: time(0) };
    Teltonika::encode_command(&Command::Text("getinfo".into()), ctx, &mut out).unwrap_or_else(|e| panic!("{e}"));
    // "Codec 12 > GPRS commands examples", getinfo, from the Teltonika wiki.
    assert_eq!(hex::encode_upper(&out), "000000000000000F0C010500000007676574696E666F0100004312");
}

#[test]
fn gt06_command_reply_is_matched_to_its_command_by_server_flag() {
    let mut out = Vec::new();
    gt06::device::command_reply("DYD=Success!", 77, 9, &mut out);
    let (msgs, refused) = decode_all::<Gt06>(&out);
    assert_eq!(refused, 0);
    assert_eq!(msgs[0].kind, MessageKind::CommandReply);
    assert_eq!(msgs[0].attributes.named("server_flag"), Some(&AttrValue::Int(77)));
    assert_eq!(msgs[0].attributes.named("text"), Some(&AttrValue::Text("DYD=Success!".into())));
    assert_eq!(msgs[0].attributes.get(AttrKey::Name("server_flag")), Some(&AttrValue::Int(77)));
}

#[test]
fn a_bad_checksum_is_flagged_by_default_and_refused_when_strict() {
    let mut frame = hex::decode("78780D01086471700328358100093F040D0A").unwrap_or_default();
    frame[14] ^= 0xFF;
    let mut out = Vec::new();
    let mut lenient = Session::default();
    Gt06::decode(&frame, &mut lenient, &mut out).unwrap_or_else(|e| panic!("{e}"));
    assert!(!out[0].checksum_ok);
    assert_eq!(lenient.checksum_failures, 1);
    let mut strict =
        Session::new(leasewatch_protocols::SessionConfig { reject_bad_checksum: true, ..Default::default() });
    let err = Gt06::decode(&frame, &mut strict, &mut out).err();
    assert!(matches!(err.map(|e| e.kind), Some(leasewatch_protocols::ErrorKind::BadChecksum { .. })));
}

#[test]
fn a_truncated_frame_at_the_end_of_a_stream_is_reported_not_dropped_silently() {
    let frame = hex::decode("78780D01086471700328358100093F040D0A").unwrap_or_default();
    let stream: Vec<u8> = [&frame[..], &frame[..10]].concat();
    let chunks: Vec<_> = Frames::<Gt06>::new(&stream, 1024).collect();
    assert!(matches!(&chunks[0], (0, Chunk::Frame(f)) if f.len() == 18));
    assert!(
        matches!(&chunks[1], (18, Chunk::Skipped { error: e, .. }) if e.kind == leasewatch_protocols::ErrorKind::Truncated)
    );
    assert!(chunks[2..].iter().all(|(_, c)| matches!(c, Chunk::Skipped { .. })), "the tail yields no frame");
}

#[test]
fn latitude_beyond_ninety_degrees_is_an_invalid_field() {
    let mut m = Message::new(ProtocolKind::Jt808, MessageKind::Position);
    m.position = Some(Position {
        fix_time: time(1_767_225_600),
        latitude: 95.0,
        longitude: 10.0,
        speed_kmh: 0.0,
        course: 0.0,
        altitude: None,
        satellites: None,
        valid: true,
        cell: None,
    });
    let terminal = Terminal::from_device_id(&DeviceId::new(b"013800138000").unwrap_or_else(|| panic!("id")))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut bytes = Vec::new();
    jt808::device::location(&terminal, 1, &m, &mut bytes);
    let err = Jt808::decode(&bytes, &mut Session::default(), &mut Vec::new()).err();
    assert!(
        matches!(&err, Some(e) if matches!(&e.kind, leasewatch_protocols::ErrorKind::InvalidField { field: "latitude", .. })),
        "{err:?}"
    );
}
