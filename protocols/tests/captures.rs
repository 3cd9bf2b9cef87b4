//! Decodes every real device frame under `tests/captures/` and checks the values stated for it.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use chrono::{DateTime, Utc};
use leasewatch_protocols::{AttrKey, AttrValue, Gt06, H02, Jt808, Message, Protocol, ProtocolKind, Session, Teltonika};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s}: {e}"))
}

/// Decodes `bytes` as a stream; the messages and the replies, or the first error.
fn decode<P: Protocol>(bytes: &[u8], session: &mut Session) -> Result<(Vec<Message>, Vec<u8>), String> {
    let decoded = leasewatch_protocols::decode_all::<P>(bytes, session, Utc::now());
    match decoded.errors.first() {
        Some(error) => Err(error.to_string()),
        None => Ok((decoded.messages, decoded.replies)),
    }
}

fn lines(protocol: &str) -> Vec<Value> {
    let path = format!("{}/tests/captures/{protocol}.jsonl", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}: {l}"))).collect()
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

/// Checks the position fields stated in `expected` against `msg`; returns what differs.
fn check_position(expected: &Value, msg: &Message, coordinate_tolerance: f64) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(p) = msg.position else {
        if expected.get("latitude").is_some() {
            problems.push("no position".to_owned());
        }
        return problems;
    };
    if let Some(t) = expected.get("fix_time").and_then(Value::as_str) {
        let t: DateTime<Utc> = t.parse().unwrap_or_else(|e| panic!("fix_time {t}: {e}"));
        if t != p.fix_time {
            problems.push(format!("fix_time {} != {t}", p.fix_time));
        }
    }
    for (key, actual, tolerance) in [
        ("latitude", p.latitude, coordinate_tolerance),
        ("longitude", p.longitude, coordinate_tolerance),
        ("speed_kmh", p.speed_kmh, 0.01),
        ("course", p.course, 0.01),
        ("altitude", p.altitude.unwrap_or(f64::NAN), 0.5),
    ] {
        if let Some(want) = expected.get(key).and_then(Value::as_f64)
            && !close(actual, want, tolerance)
        {
            problems.push(format!("{key} {actual} != {want}"));
        }
    }
    if let Some(want) = expected.get("valid").and_then(Value::as_bool)
        && p.valid != want
    {
        problems.push(format!("valid {} != {want}", p.valid));
    }
    if let Some(want) = expected.get("satellites").and_then(Value::as_u64)
        && p.satellites.map(u64::from) != Some(want)
    {
        problems.push(format!("satellites {:?} != {want}", p.satellites));
    }
    problems
}

fn check_common(line: &Value, msgs: &[Message], reply: &[u8], problems: &mut Vec<String>) {
    let Some(first) = msgs.first() else {
        problems.push("no message".into());
        return;
    };
    if let Some(id) = line.get("device_id").and_then(Value::as_str)
        && first.device_id.map(|d| d.to_string()).as_deref() != Some(id)
    {
        problems.push(format!("device_id {:?} != {id}", first.device_id));
    }
    let ok = line.get("crc_ok").or(line.get("checksum_ok")).and_then(Value::as_bool);
    if let Some(ok) = ok
        && first.checksum_ok != ok
    {
        problems.push(format!("checksum_ok {} != {ok}", first.checksum_ok));
    }
    let _ = reply;
}

fn report(protocol: &str, failures: Vec<String>, checked: usize, positions: usize) {
    assert!(failures.is_empty(), "{protocol}: {} of {checked} frames wrong:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 20, "{protocol}: only {checked} frames");
    assert!(positions >= 15, "{protocol}: only {positions} position frames");
}

fn malformed<P: Protocol>(line: &Value, failures: &mut Vec<String>) -> bool {
    if line.get("malformed").is_none() {
        return false;
    }
    let bytes = hex(line["hex"].as_str().unwrap_or_default());
    if decode::<P>(&bytes, &mut Session::default()).is_ok() {
        failures.push(format!("{}: known-broken frame was accepted", line["hex"]));
    }
    true
}

#[test]
fn gt06_real_frames_decode_to_their_stated_values() {
    let (mut failures, mut checked, mut positions) = (Vec::new(), 0, 0);
    for line in lines("gt06") {
        if malformed::<Gt06>(&line, &mut failures) {
            continue;
        }
        checked += 1;
        let bytes = hex(line["hex"].as_str().unwrap_or_default());
        let mut session = Session::default();
        let mut problems = Vec::new();
        match decode::<Gt06>(&bytes, &mut session) {
            Err(e) => problems.push(e),
            Ok((msgs, reply)) => {
                check_common(&line, &msgs, &reply, &mut problems);
                if let Some(msg) = msgs.first() {
                    problems.extend(check_position(&line, msg, 2e-6));
                    if msg.position.is_some() {
                        positions += 1;
                    }
                    if let Some(want) = line.get("expected_reply").and_then(Value::as_str) {
                        let mut want = hex(want);
                        if want.get(3) == Some(&0x8A) && want.len() == reply.len() {
                            // A time reply carries the server's clock: compare all but the time and CRC.
                            let n = want.len();
                            want[4..10].copy_from_slice(&reply[4..10]);
                            want[n - 4..n - 2].copy_from_slice(&reply[n - 4..n - 2]);
                        }
                        if reply != want {
                            problems.push(format!(
                                "reply {} != {}",
                                hex::encode_upper(&reply),
                                hex::encode_upper(&want)
                            ));
                        }
                    }
                    let alarm = line.get("alarm").and_then(Value::as_str);
                    let expected_alarm = match alarm {
                        Some("sos") => Some("sos"),
                        Some("tamper") => Some("tamper"),
                        Some("power_off") => Some("power_off"),
                        Some("overspeed") => Some("overspeed"),
                        Some("vibration") => Some("vibration"),
                        Some("low_battery") => Some("low_battery"),
                        _ => None,
                    };
                    if let Some(want) = expected_alarm
                        && !msg.alarms.iter().any(|a| a.name() == want)
                    {
                        problems.push(format!("alarms {:?} lack {want}", msg.alarms));
                    }
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", line["hex"], problems.join("; ")));
        }
    }
    report("gt06", failures, checked, positions);
}

#[test]
fn jt808_real_frames_decode_to_their_stated_values() {
    let (mut failures, mut checked, mut positions) = (Vec::new(), 0, 0);
    let all = lines("jt808");
    for line in &all {
        if malformed::<Jt808>(line, &mut failures) {
            continue;
        }
        let bytes = hex(line["hex"].as_str().unwrap_or_default());
        let mut session = Session::default();
        let mut problems = Vec::new();
        // Sub-packages are checked together below.
        if bytes.len() > 5 && bytes[3] & 0x20 != 0 {
            continue;
        }
        checked += 1;
        match decode::<Jt808>(&bytes, &mut session) {
            Err(e) => problems.push(e),
            Ok((msgs, reply)) => {
                check_common(line, &msgs, &reply, &mut problems);
                if let Some(msg) = msgs.first() {
                    if msg.position.is_some() {
                        positions += 1;
                    }
                    if let Some(n) = line.get("positions").and_then(Value::as_u64) {
                        if msgs.len() as u64 != n {
                            problems.push(format!("{} positions != {n}", msgs.len()));
                        }
                        problems.extend(check_position(&line["first"], msg, 2e-6));
                        if let Some(last) = msgs.last() {
                            problems.extend(check_position(&line["last"], last, 2e-6));
                        }
                    } else {
                        problems.extend(check_position(line, msg, 2e-6));
                    }
                    if let Some(acc) = line.get("acc").and_then(Value::as_bool)
                        && msg.status.ignition != Some(acc)
                    {
                        problems.push(format!("ignition {:?} != {acc}", msg.status.ignition));
                    }
                    if let Some(serial) = line.get("serial").and_then(Value::as_u64)
                        && msg.serial != Some(serial as u32)
                    {
                        problems.push(format!("serial {:?} != {serial}", msg.serial));
                    }
                    if let Some(bits) = line.get("alarm_bits").and_then(Value::as_str) {
                        let want = i64::from_str_radix(bits.trim_start_matches("0x"), 16).unwrap_or(-1);
                        let got = msg.attributes.named("alarm_word").unwrap_or(&AttrValue::Int(0));
                        if got != &AttrValue::Int(want) {
                            problems.push(format!("alarm word {:?} != {bits}", msg.attributes.named("alarm_word")));
                        }
                    }
                }
                if let Some(want) = line.get("expected_reply").and_then(Value::as_str) {
                    // Servers number their own frames differently: compare all but that serial and the checksum.
                    let (ours, theirs) = (hex::encode_upper(&reply), want.to_uppercase());
                    let mask = |s: &str| {
                        let v2019 = s.len() > 10 && u8::from_str_radix(&s[6..8], 16).unwrap_or(0) & 0x40 != 0;
                        let serial_at = if v2019 { 2 + 8 + 2 + 20 } else { 2 + 8 + 12 };
                        let mut m = s.to_owned();
                        if m.len() > serial_at + 4 + 4 {
                            m.replace_range(serial_at..serial_at + 4, "XXXX");
                            let n = m.len();
                            m.replace_range(n - 4..n - 2, "XX");
                        }
                        // A register reply's authentication code is the server's choice: keep up to the result.
                        if s.get(2..6) == Some("8100") {
                            m.truncate(serial_at + 4 + 6);
                        }
                        m
                    };
                    if mask(&ours) != mask(&theirs) {
                        problems.push(format!("reply {ours} != {theirs}"));
                    }
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", line["hex"], problems.join("; ")));
        }
    }
    report("jt808", failures, checked, positions);
}

#[test]
fn jt808_sub_packages_are_reassembled_into_one_message() {
    let parts: Vec<Vec<u8>> = lines("jt808")
        .iter()
        .filter(|l| l["msg_id"] == "0x1205")
        .map(|l| hex(l["hex"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(parts.len(), 2);
    let mut session = Session::default();
    let (first, reply) = decode::<Jt808>(&parts[0], &mut session).unwrap_or_default();
    assert!(first.is_empty(), "a lone sub-package yields nothing yet");
    assert!(!reply.is_empty(), "each sub-package is acknowledged");
    let (whole, _) = decode::<Jt808>(&parts[1], &mut session).unwrap_or_default();
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].attributes.named("msg_id"), Some(&AttrValue::Int(0x1205)));
    match whole[0].attributes.named("raw") {
        Some(AttrValue::Bytes(body)) => assert_eq!(body.len(), 0x3A2 + 0x38),
        other => panic!("raw body missing: {other:?}"),
    }
}

#[test]
fn teltonika_real_frames_decode_to_their_stated_values() {
    let (mut failures, mut checked, mut positions) = (Vec::new(), 0, 0);
    for line in lines("teltonika") {
        if malformed::<Teltonika>(&line, &mut failures) {
            continue;
        }
        checked += 1;
        let bytes = hex(line["hex"].as_str().unwrap_or_default());
        let mut session = Session::default();
        let mut problems = Vec::new();
        match decode::<Teltonika>(&bytes, &mut session) {
            Err(e) => problems.push(e),
            Ok((msgs, reply)) => {
                check_common(&line, &msgs, &reply, &mut problems);
                if let Some(n) = line.get("records").and_then(Value::as_u64) {
                    positions += 1;
                    if msgs.len() as u64 != n {
                        problems.push(format!("{} records != {n}", msgs.len()));
                    }
                    for (key, msg) in [("first", msgs.first()), ("last", msgs.last())] {
                        let (Some(want), Some(msg)) = (line.get(key), msg) else {
                            continue;
                        };
                        problems.extend(check_position(want, msg, 2e-7));
                        for (id, value) in want.get("io").and_then(Value::as_object).into_iter().flatten() {
                            let id: u16 = id.parse().unwrap_or(0);
                            let got = msg.attributes.get(AttrKey::Io(id));
                            let matches = match (got, value) {
                                (Some(AttrValue::Int(g)), v) => v.as_i64() == Some(*g) || v.as_u64() == Some(*g as u64),
                                (Some(AttrValue::Text(g)), v) => {
                                    v.as_u64().map(|v| v.to_string()).as_deref() == Some(g)
                                }
                                _ => false,
                            };
                            if !matches {
                                problems.push(format!("{key} io{id} {got:?} != {value}"));
                            }
                        }
                    }
                }
                if let Some(want) = line.get("expected_reply").and_then(Value::as_str)
                    && reply != hex(want)
                {
                    problems.push(format!("reply {} != {want}", hex::encode_upper(&reply)));
                }
                if let Some(text) = line.get("text").and_then(Value::as_str) {
                    let got = msgs.first().and_then(|m| m.attributes.named("text").or(m.attributes.named("command")));
                    if got != Some(&AttrValue::Text(text.to_owned())) {
                        problems.push(format!("text {got:?} != {text:?}"));
                    }
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", line["hex"], problems.join("; ")));
        }
    }
    report("teltonika", failures, checked, positions);
}

#[test]
fn h02_real_frames_decode_to_their_stated_values() {
    let (mut failures, mut checked, mut positions) = (Vec::new(), 0, 0);
    for line in lines("h02") {
        if malformed::<H02>(&line, &mut failures) {
            continue;
        }
        checked += 1;
        let bytes = hex(line["hex"].as_str().unwrap_or_default());
        let mut session = Session::default();
        let mut problems = Vec::new();
        match decode::<H02>(&bytes, &mut session) {
            Err(e) => problems.push(e),
            Ok((msgs, reply)) => {
                // A line may hold earlier frames of the same session before the one it describes.
                let skip = line.get("messages_before").and_then(Value::as_u64).unwrap_or(0) as usize;
                check_common(&line, &msgs[skip.min(msgs.len())..], &reply, &mut problems);
                if let Some(msg) = msgs.get(skip) {
                    if msg.position.is_some() {
                        positions += 1;
                    }
                    problems.extend(check_position(&line, msg, 2e-6));
                    if let Some(status) = line.get("status").and_then(Value::as_str) {
                        let got = msg.attributes.named("status");
                        if got != Some(&AttrValue::Text(status.to_uppercase())) {
                            problems.push(format!("status {got:?} != {status}"));
                        }
                    }
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", line["hex"], problems.join("; ")));
        }
    }
    report("h02", failures, checked, positions);
}

#[test]
fn every_protocol_names_itself() {
    assert_eq!(Gt06::KIND, ProtocolKind::Gt06);
    assert_eq!(H02::KIND.to_string(), "h02");
}
