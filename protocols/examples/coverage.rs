//! Decodes a file of captured frames and reports how many gave a position, and which did not.
//!
//! `cargo run -p leasewatch-protocols --example coverage -- <gt06|jt808|h02|teltonika> <file.jsonl> [--messages]`
//! One JSON object per line: `data` (hex, or the text itself when `enc` is `buffer`/`text`), and optionally the
//! expected `lat`/`lon`.

use chrono::Utc;
use leasewatch_protocols::{DeviceId, Gt06, H02, Jt808, Protocol, Session, Teltonika, decode_all};
use serde_json::Value;

fn run<P: Protocol>(lines: &[Value], show: bool) {
    let (mut positions, mut wrong, mut failed) = (0, 0, 0);
    for line in lines {
        let data = line["data"].as_str().unwrap_or_default();
        let bytes = match line["enc"].as_str() {
            Some("binary") | None => hex::decode(data).unwrap_or_default(),
            _ => data.as_bytes().to_vec(),
        };
        let mut session = Session::default();
        session.device_id = DeviceId::new(b"123456789012345");
        let decoded = decode_all::<P>(&bytes, &mut session, Utc::now());
        let found = decoded.messages.iter().filter_map(|m| m.position).collect::<Vec<_>>();
        let tag = format!("{}:{}", line["line"], line["kind"].as_str().unwrap_or_default());
        let label = if found.is_empty() { "NOPOS" } else { "POS" };
        if let (Some(lat), Some(lon)) = (line["lat"].as_f64(), line["lon"].as_f64()) {
            let good = found.iter().any(|p| (p.latitude - lat).abs() < 1e-4 && (p.longitude - lon).abs() < 1e-4);
            if !good {
                wrong += 1;
                println!("WRONG {tag} want {lat},{lon} got {:?}", found.first().map(|p| (p.latitude, p.longitude)));
            }
        }
        if found.is_empty() {
            failed += 1;
        } else {
            positions += 1;
        }
        let errors = decoded.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        println!("{label} {tag} n={} {errors} {}", found.len(), &data[..data.len().min(60)]);
        if show {
            println!("{:?}", decoded.messages);
        }
    }
    println!("TOTAL {} with position {positions}, without {failed}, wrong {wrong}", lines.len());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(protocol), Some(path)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: coverage <protocol> <file.jsonl>");
        std::process::exit(2);
    };
    let show = args.get(3).is_some_and(|a| a == "--messages");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    match protocol.as_str() {
        "gt06" => run::<Gt06>(&lines, show),
        "jt808" => run::<Jt808>(&lines, show),
        "h02" => run::<H02>(&lines, show),
        "teltonika" => run::<Teltonika>(&lines, show),
        other => eprintln!("unknown protocol {other}"),
    }
}
