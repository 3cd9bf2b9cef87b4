//! `leasewatch decode` as an operator uses it: hex frames, raw captures on stdin, statistics.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn leasewatch(args: &[&str], stdin: &[u8]) -> (Vec<Value>, String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leasewatch"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start leasewatch: {e}"));
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin).unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("leasewatch: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    (lines, String::from_utf8_lossy(&output.stderr).into_owned(), output.status.success())
}

#[test]
fn the_gt06_login_example_names_its_device_and_gives_the_reply() {
    let (lines, _, ok) =
        leasewatch(&["decode", "--protocol", "gt06", "--hex", "78780D01086471700328358100093F040D0A"], b"");
    assert!(ok);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "login");
    assert_eq!(lines[0]["device_id"], "864717003283581");
    assert_eq!(lines[0]["reply"], "78780501000955940D0A");
    assert_eq!(lines[0]["checksum_ok"], true);
}

#[test]
fn a_raw_stream_with_garbage_reports_the_garbage_and_decodes_the_rest_with_stats() {
    let login = hex::decode("78780D01086471700328358100093F040D0A").unwrap_or_default();
    let gps =
        hex::decode("78781F120B081D112E10CC027AC7EB0C46584900148F01CC00287D001FB8000380810D0A").unwrap_or_default();
    let stream = [&login[..], b"\x00\x01garbage", &gps[..]].concat();
    let (lines, stderr, ok) = leasewatch(&["decode", "-p", "gt06", "--stats", "-"], &stream);
    assert!(ok, "{stderr}");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[1]["offset"], 18);
    assert!(lines[1]["error"].as_str().unwrap_or_default().contains("garbage"));
    let fix = &lines[2]["position"];
    assert_eq!(lines[2]["device_id"], "864717003283581", "the login names the session");
    assert_eq!(fix["fix_time"], "2011-08-29T17:46:16Z");
    assert!((fix["latitude"].as_f64().unwrap_or_default() - 23.111_668).abs() < 1e-5);
    assert_eq!(lines[2]["reply"], "787805120003903F0D0A");
    let stats: Value = serde_json::from_str(stderr.trim()).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(
        (stats["frames"].as_u64(), stats["messages"].as_u64(), stats["errors"].as_u64()),
        (Some(2), Some(2), Some(1))
    );
}

#[test]
fn a_batch_prints_one_line_per_position_and_quiet_prints_none() {
    // A 0x0704 upload of eight positions logged from a device in a public issue tracker.
    let frame = "7E0704014301356777777707F5000801002600000000000000030159741206CBFD5001720000000116052709062401040000001D03020000002600000000000000030159746606CBFD50016B0000000116052709065301040000001D0302000000260000000000000003015975E406CBFE58013F0000000116052709072701040000001D0302000000260000000000000003015976DE06CBFF10012E0000000116052709075601040000001D0302000000260000000000000003015976BC06CBFED0012D0000000116052709083001040000001D0302000000260000000000000003015976FE06CBFEC001080000000116052709090001040000001D0302000000260000000000000003015976FE06CBFE7800FC0000000116052709093301040000001D0302000000260000000000000003015977A606CBFF3001080000000116052709100201040000001D030200001F7E";
    let (lines, _, ok) = leasewatch(&["decode", "-p", "jt808", "--hex", frame], b"");
    assert!(ok);
    assert_eq!(lines.len(), 8, "{lines:?}");
    assert_eq!(lines[0]["position"]["fix_time"], "2016-05-27T01:06:24Z");
    assert!(lines.iter().all(|l| l["reply"] == lines[0]["reply"] && l["reply"].is_string()), "one reply for the frame");
    let (quiet, stderr, ok) = leasewatch(&["decode", "-p", "jt808", "--quiet", "--stats", "--hex", frame], b"");
    assert!(ok && quiet.is_empty());
    assert!(stderr.contains("\"messages\":8"), "{stderr}");
}

#[test]
fn teltonika_records_take_the_device_id_from_imei_option() {
    let avl = "000000000000003608010000016B40D8EA30010000000000000000000000000000000105021503010101425E0F01F10000601A014E0000000000000000010000C7CF";
    let (lines, _, ok) = leasewatch(&["decode", "-p", "teltonika", "--imei", "356307042441013", "--hex", avl], b"");
    assert!(ok);
    assert_eq!(lines[0]["device_id"], "356307042441013");
    assert_eq!(lines[0]["reply"], "00000001");
    assert_eq!(lines[0]["position"]["fix_time"], "2019-06-10T10:04:46Z");
}

#[test]
fn a_line_that_is_not_hex_is_reported_and_the_next_is_decoded() {
    let dir = std::env::temp_dir().join(format!("leasewatch-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("frames.txt");
    let text_hex = hex::encode(b"*HQ,4210051415,V1,164549,A,0956.3869,N,08406.7068,W,000.00,000,221215,FFFFFBFF#");
    std::fs::write(&path, format!("# a capture\nnot hex at all\n{text_hex}\n")).unwrap_or_else(|e| panic!("{e}"));
    let (lines, _, ok) = leasewatch(&["decode", "-p", "h02", "--hex-file", path.to_str().unwrap_or_default()], b"");
    assert!(ok);
    assert_eq!(lines.len(), 2);
    assert!(lines[0]["error"].as_str().unwrap_or_default().starts_with("not hex"));
    assert_eq!(lines[1]["device_id"], "4210051415");
    assert_eq!(lines[1]["position"]["longitude"].as_f64().map(|l| (l * 1e4).round()), Some(-841118.0));
    assert_eq!(lines[1]["reply"], Value::Null);
}

#[test]
fn an_unknown_protocol_is_refused_with_the_list_of_known_ones() {
    let (_, stderr, ok) = leasewatch(&["decode", "-p", "tk103", "--hex", "00"], b"");
    assert!(!ok);
    assert!(stderr.contains("gt06, jt808, teltonika, h02 or mqtt"), "{stderr}");
}
