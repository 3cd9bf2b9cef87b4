//! Decoding throughput per protocol, in frames per second, on streams of location frames as one
//! device sends them. GT06 and Teltonika are measured side by side with the `gt06` and
//! `nom-teltonika` crates on the same bytes.
//!
//! Run: `cargo bench -p leasewatch-protocols --bench decode` (or `scripts/bench-decode.sh`).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leasewatch_protocols::jt808::Terminal;
use leasewatch_protocols::{
    AttrKey, AttrValue, CellInfo, Chunk, DeviceId, Frames, Gt06, H02, Jt808, Message, MessageKind, Position, Protocol,
    ProtocolKind, Session, Status, Teltonika, gt06, h02, jt808, teltonika,
};

/// Frames per measured iteration.
const FRAMES: usize = 100_000;

/// The i-th fix of a vehicle driving north-east from Shanghai.
fn fix(i: usize) -> Position {
    let start = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    Position {
        fix_time: start + chrono::Duration::seconds(10 * i as i64),
        latitude: 31.2304 + (i % 5000) as f64 * 1e-4,
        longitude: 121.4737 + (i % 7000) as f64 * 1e-4,
        speed_kmh: (i % 90) as f64,
        course: (i % 360) as f64,
        altitude: Some(12.0),
        satellites: Some(9),
        valid: true,
        cell: Some(CellInfo { mcc: 460, mnc: 0, lac: 0x2866, cell_id: 0x0E_EE0C }),
    }
}

fn message(protocol: ProtocolKind, i: usize) -> Message {
    let mut m = Message::new(protocol, MessageKind::Position);
    m.position = Some(fix(i));
    m.status = Status { ignition: Some(true), odometer_m: Some(i as u64 * 100), ..Status::default() };
    m
}

fn stream(protocol: ProtocolKind) -> Vec<u8> {
    let imei = DeviceId::new(b"356307042441013").unwrap_or_else(|| unreachable!());
    let phone = DeviceId::new(b"013800138000").unwrap_or_else(|| unreachable!());
    let terminal = Terminal::from_device_id(&phone).unwrap_or_else(|_| unreachable!());
    let mut out = Vec::with_capacity(FRAMES * 64);
    for i in 0..FRAMES {
        let serial = i as u16;
        match protocol {
            ProtocolKind::Gt06 => gt06::device::position(&fix(i), serial, &mut out),
            ProtocolKind::Jt808 => jt808::device::location(&terminal, serial, &message(protocol, i), &mut out),
            ProtocolKind::Teltonika => {
                // One record per frame, with the I/O elements an FMB device sends on every record.
                let mut m = message(protocol, i);
                m.attributes.set("priority", AttrValue::Int(0));
                m.attributes.set("event_io", AttrValue::Int(0));
                for (io, v) in [(239, 1), (240, 1), (21, 4), (66, 12_800), (16, i as i64 * 100)] {
                    m.attributes.push(AttrKey::Io(io), AttrValue::Int(v));
                }
                teltonika::device::codec8(std::slice::from_ref(&m), &mut out);
            }
            ProtocolKind::H02 | ProtocolKind::Mqtt => h02::device::position(&imei, &fix(i), 0xFFFF_FBFF, &mut out),
        }
    }
    out
}

/// Frames and decodes the whole stream as `leasewatch decode` does; returns the message count.
fn leasewatch<P: Protocol>(bytes: &[u8]) -> usize {
    let mut session = Session::default();
    let mut out = Vec::with_capacity(8);
    let mut messages = 0;
    for (_, chunk) in Frames::<P>::new(bytes, session.config.max_frame_len) {
        if let Chunk::Frame(frame) = chunk {
            if P::decode(frame, &mut session, &mut out).is_ok() {
                messages += out.len();
            }
            out.clear();
        }
    }
    messages
}

fn bench(c: &mut Criterion) {
    let gt06_stream = stream(ProtocolKind::Gt06);
    let mut group = c.benchmark_group("gt06_0x12");
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("leasewatch", |b| b.iter(|| assert_eq!(leasewatch::<Gt06>(black_box(&gt06_stream)), FRAMES)));
    group.bench_function("gt06_crate", |b| {
        b.iter(|| {
            let decoded = ::gt06::Decoder::new().push(black_box(&gt06_stream));
            assert_eq!(decoded.iter().filter(|r| r.is_ok()).count(), FRAMES);
        })
    });
    group.finish();

    let teltonika_stream = stream(ProtocolKind::Teltonika);
    let mut group = c.benchmark_group("teltonika_codec8");
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("leasewatch", |b| {
        b.iter(|| assert_eq!(leasewatch::<Teltonika>(black_box(&teltonika_stream)), FRAMES))
    });
    group.bench_function("nom_teltonika", |b| {
        b.iter(|| {
            let mut input = black_box(&teltonika_stream[..]);
            let mut frames = 0;
            while !input.is_empty() {
                match nom_teltonika::decoder::take_frame(&mut input) {
                    // Owned values, as leasewatch produces.
                    Ok(frame) => {
                        black_box(frame.evaluate());
                        frames += 1;
                    }
                    Err(_) => break,
                }
            }
            assert_eq!(frames, FRAMES);
        })
    });
    group.finish();

    for (name, protocol) in [("jt808_0x0200", ProtocolKind::Jt808), ("h02_v1", ProtocolKind::H02)] {
        let bytes = stream(protocol);
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(FRAMES as u64));
        group.bench_function("leasewatch", |b| {
            b.iter(|| {
                let n = match protocol {
                    ProtocolKind::Jt808 => leasewatch::<Jt808>(black_box(&bytes)),
                    _ => leasewatch::<H02>(black_box(&bytes)),
                };
                assert_eq!(n, FRAMES);
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
