//! `leasewatch decode`: decodes a capture as a device would send it and prints one JSON object
//! per message (one per position for batches), with the reply the server would send.

use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Args;
use leasewatch_protocols::message::HexDisplay;
use leasewatch_protocols::{
    Chunk, Frames, Gt06, H02, Jt808, Message, Protocol, ProtocolKind, Session, SessionConfig, Teltonika,
};
use serde::Serialize;

/// Arguments of `leasewatch decode`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["hex", "file", "hex_file", "stdin"])))]
pub struct DecodeArgs {
    /// The protocol of the capture: gt06, jt808, teltonika or h02.
    #[arg(long, short)]
    protocol: ProtocolKind,
    /// Frames as hex (spaces allowed), decoded in order in one session.
    #[arg(long, num_args = 1..)]
    hex: Vec<String>,
    /// A raw byte stream, as the device sent it over TCP.
    #[arg(long)]
    file: Option<PathBuf>,
    /// A text file of hex frames, one per line (blank lines and lines starting with # are skipped).
    #[arg(long)]
    hex_file: Option<PathBuf>,
    /// Read the raw byte stream from standard input.
    #[arg(id = "stdin", value_name = "-", value_parser = clap::builder::PossibleValuesParser::new(["-"]))]
    stdin: Option<String>,
    /// The device id of the session, for captures whose frames do not carry one.
    #[arg(long)]
    imei: Option<String>,
    /// Refuse frames with a wrong checksum instead of flagging them.
    #[arg(long)]
    strict_checksum: bool,
    /// Print a JSON summary to standard error at the end.
    #[arg(long)]
    stats: bool,
    /// Do not print the per-message lines.
    #[arg(long)]
    quiet: bool,
}

/// Runs the command.
pub fn run(args: DecodeArgs) -> anyhow::Result<()> {
    match args.protocol {
        ProtocolKind::Gt06 => decode::<Gt06>(&args),
        ProtocolKind::Jt808 => decode::<Jt808>(&args),
        ProtocolKind::Teltonika => decode::<Teltonika>(&args),
        ProtocolKind::H02 => decode::<H02>(&args),
        ProtocolKind::Mqtt => anyhow::bail!("mqtt telemetry is JSON, not a byte stream to decode"),
    }
}

/// One piece of input: a byte stream, or a hex line that could not be read (reported, then skipped).
type Input = Result<Vec<u8>, String>;

/// The input as byte streams: one for a raw capture, one per frame for hex input.
fn inputs(args: &DecodeArgs) -> anyhow::Result<Vec<Input>> {
    let from_hex = |text: &str| -> Input {
        let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        hex::decode(&clean).map_err(|e| format!("not hex ({e})"))
    };
    if !args.hex.is_empty() {
        return Ok(args.hex.iter().map(|h| from_hex(h)).collect());
    }
    if let Some(path) = &args.hex_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(from_hex)
            .collect());
    }
    if let Some(path) = &args.file {
        return Ok(vec![Ok(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)]);
    }
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf).context("cannot read standard input")?;
    Ok(vec![Ok(buf)])
}

/// One printed line for a message.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    message: &'a Message,
    reply: Option<String>,
}

/// One printed line for a frame that could not be decoded.
#[derive(Serialize)]
struct ErrorLine {
    error: String,
    offset: usize,
    frame: String,
}

/// The `--stats` summary.
#[derive(Serialize)]
struct Stats {
    frames: u64,
    messages: u64,
    errors: u64,
    seconds: f64,
    frames_per_sec: f64,
}

fn decode<P: Protocol>(args: &DecodeArgs) -> anyhow::Result<()> {
    let streams = inputs(args)?;
    let mut session =
        Session::new(SessionConfig { reject_bad_checksum: args.strict_checksum, ..SessionConfig::default() });
    if let Some(imei) = &args.imei {
        let Some(id) = leasewatch_protocols::DeviceId::new(imei.as_bytes()) else {
            bail!("--imei {imei:?} is not a device id (letters and digits, at most 24)");
        };
        session.device_id = Some(id);
    }
    let max = session.config.max_frame_len;
    let stdout = std::io::stdout();
    let mut w = BufWriter::with_capacity(1 << 16, stdout.lock());
    let (mut frames, mut messages, mut errors) = (0_u64, 0_u64, 0_u64);
    let mut out: Vec<Message> = Vec::with_capacity(16);
    let mut reply = Vec::with_capacity(64);
    let started = Instant::now();
    // Offsets count from the start of all the input, as if the hex lines were one stream.
    let mut base = 0;
    for input in &streams {
        let stream = match input {
            Ok(stream) => stream,
            Err(why) => {
                errors += 1;
                if !args.quiet {
                    print_error(&mut w, why.clone(), base, &[])?;
                }
                continue;
            }
        };
        for (offset, chunk) in Frames::<P>::new(stream, max) {
            match chunk {
                Chunk::Frame(frame) => {
                    frames += 1;
                    match P::decode(frame, &mut session, &mut out) {
                        Ok(ack) => {
                            messages += out.len() as u64;
                            if !args.quiet {
                                reply.clear();
                                P::write_reply(&ack, &mut session, Utc::now(), &mut reply);
                                let reply = (!reply.is_empty()).then(|| HexDisplay(&reply).to_string());
                                for message in &out {
                                    serde_json::to_writer(&mut w, &Line { message, reply: reply.clone() })?;
                                    w.write_all(b"\n")?;
                                }
                            }
                        }
                        Err(err) => {
                            errors += 1;
                            if !args.quiet {
                                // Parse errors are relative to the frame.
                                print_error(&mut w, err.kind.to_string(), base + offset + err.offset, frame)?;
                            }
                        }
                    }
                    out.clear();
                }
                Chunk::Skipped { error, bytes } => {
                    errors += 1;
                    if !args.quiet {
                        print_error(&mut w, error.kind.to_string(), base + error.offset, bytes)?;
                    }
                }
            }
        }
        base += stream.len();
    }
    w.flush()?;
    if args.stats {
        let seconds = started.elapsed().as_secs_f64();
        let stats = Stats { frames, messages, errors, seconds, frames_per_sec: frames as f64 / seconds.max(1e-9) };
        eprintln!("{}", serde_json::to_string(&stats)?);
    }
    Ok(())
}

fn print_error(w: &mut impl Write, error: String, offset: usize, frame: &[u8]) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *w, &ErrorLine { error, offset, frame: HexDisplay(frame).to_string() })?;
    w.write_all(b"\n")?;
    Ok(())
}
