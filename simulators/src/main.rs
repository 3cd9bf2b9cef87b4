//! `leasewatch-sim`: device simulators. `capture` writes the byte stream one device would send.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use leasewatch_protocols::{DeviceId, ProtocolKind};
use leasewatch_simulators::capture::location_stream;

/// Device simulators speaking the real wire protocols.
#[derive(Debug, Parser)]
#[command(name = "leasewatch-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a raw capture: a login (where the protocol has one) and location frames from one vehicle.
    Capture {
        /// gt06, jt808, teltonika or h02.
        #[arg(long, short)]
        protocol: ProtocolKind,
        /// How many location frames.
        #[arg(long, default_value_t = 1_000_000)]
        frames: usize,
        /// The device id (IMEI; a 12-digit terminal phone number for jt808).
        #[arg(long)]
        id: Option<String>,
        /// Seed of the simulated track.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the capture.
        #[arg(long, short)]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Capture { protocol, frames, id, seed, out } => {
            let default = if protocol == ProtocolKind::Jt808 { "013800138000" } else { "864717003283581" };
            let id = id.as_deref().unwrap_or(default);
            let Some(id) = DeviceId::new(id.as_bytes()) else { bail!("--id {id:?} is not a device id") };
            let mut bytes = Vec::with_capacity(frames * 48);
            location_stream(protocol, &id, frames, seed, &mut bytes);
            let mut file = std::fs::File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            file.write_all(&bytes)?;
            eprintln!("wrote {frames} {protocol} location frames ({} bytes) to {}", bytes.len(), out.display());
            Ok(())
        }
    }
}
