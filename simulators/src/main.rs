//! `leasewatch-sim`: device simulators. `capture` writes the byte stream one device would send,
//! `devices` the CSV that registers a simulated fleet, `load` drives a fixed rate over TCP.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use leasewatch_protocols::{DeviceId, ProtocolKind};
use leasewatch_simulators::capture::location_stream;
use leasewatch_simulators::{fleet, load};

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
    /// Print the CSV that registers the simulated devices (for `leasewatch devices import`).
    Devices {
        /// gt06, jt808, teltonika or h02.
        #[arg(long, short)]
        protocol: ProtocolKind,
        /// How many devices.
        #[arg(long)]
        devices: usize,
    },
    /// Run MQTT-native devices: each publishes a fix every interval on `devices/{imei}/telemetry`
    /// (QoS 1); ends with a JSON summary. Register them with `devices -p mqtt`.
    Mqtt {
        /// The broker, host:port.
        #[arg(long, default_value = "127.0.0.1:1883")]
        broker: String,
        /// Simulated devices, one client each.
        #[arg(long)]
        devices: usize,
        /// Seconds between fixes of a device.
        #[arg(long, default_value_t = 1)]
        interval: u64,
        /// Seconds to run.
        #[arg(long, default_value_t = 60)]
        duration: u64,
    },
    /// Play a scenario as one GT06 device over TCP (for the monitor): power cut, tamper, offline,
    /// leaving the province, dwelling at a point, towing; ends with a JSON summary.
    Scenario {
        /// What happens.
        #[arg(long, value_enum)]
        scenario: leasewatch_simulators::scenario::Scenario,
        /// The daemon's GT06 listener.
        #[arg(long)]
        target: std::net::SocketAddr,
        /// Index of the simulated device (as in `devices`).
        #[arg(long, default_value_t = 0)]
        device: usize,
        /// Reporting intervals to play.
        #[arg(long, default_value_t = 120)]
        ticks: usize,
        /// Seconds between fixes.
        #[arg(long, default_value_t = 10)]
        interval: u64,
        /// Start point, `lat,lon` (Shenzhen by default).
        #[arg(long, default_value = "22.5431,114.0579")]
        start: String,
        /// Target point of leave-province and dwell, `lat,lon` (Changsha by default).
        #[arg(long, default_value = "28.2282,112.9388")]
        to: String,
        /// Seconds of silence in the offline scenario.
        #[arg(long, default_value_t = 3600)]
        silence: i64,
        /// Take real time (intervals and silences) instead of sending as fast as acknowledged.
        #[arg(long)]
        realtime: bool,
    },
    /// Drive a fixed offered rate of positions from many devices over TCP; ends with a JSON summary.
    Load {
        /// gt06, jt808, teltonika or h02 (which sends without waiting: H02 has no acknowledgements).
        #[arg(long, short)]
        protocol: ProtocolKind,
        /// The daemon's listener.
        #[arg(long)]
        target: std::net::SocketAddr,
        /// Simulated devices, one connection each.
        #[arg(long)]
        devices: usize,
        /// Offered positions per second over all devices.
        #[arg(long)]
        rate: f64,
        /// Seconds to run.
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// Write `imei,fix_time_unix` for every acknowledged position here (for h02: every position sent).
        #[arg(long)]
        ledger: Option<PathBuf>,
        /// Index of the first device (to split a fleet over several generators).
        #[arg(long, default_value_t = 0)]
        first_device: usize,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Before every Nth position of a device, send garbage and a broken frame (0: never).
        #[arg(long, default_value_t = 0)]
        malformed_every: u64,
        /// Positions a device sends in one write before it waits for their acknowledgements, as a
        /// tracker uploading its backlog does (1: one at a time).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
        burst: u16,
        /// A reconnect storm: every device connects once within the duration, uploads this many
        /// buffered positions (`--burst` per write) and the run ends when all are acknowledged.
        #[arg(long)]
        storm_backlog: Option<usize>,
        /// Seconds before acknowledgement latencies count (a fleet still connecting is not steady).
        #[arg(long, default_value_t = 0)]
        warmup: u64,
        /// Seconds at the end of the run whose writes' latencies do not count (simulators run side by
        /// side end a little apart; the first one's devices disconnecting is not the others' steady state).
        #[arg(long, default_value_t = 0)]
        cooldown: u64,
    },
}

/// `lat,lon` → numbers.
fn point(text: &str) -> anyhow::Result<(f64, f64)> {
    let (lat, lon) = text.split_once(',').context("a point is `lat,lon`")?;
    Ok((lat.trim().parse().context("latitude")?, lon.trim().parse().context("longitude")?))
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Mqtt { broker, devices, interval, duration } => {
            let (host, port) = broker.rsplit_once(':').context("the broker is host:port")?;
            let port: u16 = port.parse().context("the broker's port")?;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let start = chrono::Utc::now() - chrono::Duration::seconds(duration as i64);
            let summary = runtime.block_on(leasewatch_simulators::mqtt::run(
                host,
                port,
                devices,
                std::time::Duration::from_secs(interval.max(1)),
                std::time::Duration::from_secs(duration),
                start,
            ));
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
        Command::Scenario { scenario, target, device, ticks, interval, start, to, silence, realtime } => {
            let (lat, lon) = point(&start)?;
            let to = point(&to)?;
            let now = chrono::Utc::now() - chrono::Duration::seconds(ticks as i64 * interval as i64 + silence);
            let mut track = leasewatch_simulators::track::Track::new(device as u64 + 1, now, lat, lon, interval as i64);
            let steps = leasewatch_simulators::scenario::plan(scenario, &mut track, ticks, to, silence);
            let imei = fleet::device_id(ProtocolKind::Gt06, device);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let sent = runtime
                .block_on(leasewatch_simulators::scenario::run_gt06(target, &imei, &steps, interval, realtime))
                .context("the scenario could not be played")?;
            println!(
                "{}",
                serde_json::json!({"scenario": format!("{scenario:?}"), "imei": imei.as_str(), "sent": sent})
            );
            Ok(())
        }
        Command::Devices { protocol, devices } => {
            print!("{}", fleet::devices_csv(protocol, devices));
            Ok(())
        }
        Command::Load {
            protocol,
            target,
            devices,
            rate,
            duration,
            ledger,
            first_device,
            quiet,
            malformed_every,
            burst,
            storm_backlog,
            warmup,
            cooldown,
        } => {
            let config = load::LoadConfig {
                protocol,
                target,
                devices,
                rate,
                duration: std::time::Duration::from_secs(duration),
                ledger,
                first_device,
                progress: !quiet,
                malformed_every,
                burst: usize::from(burst),
                storm_backlog,
                warmup: std::time::Duration::from_secs(warmup),
                cooldown: std::time::Duration::from_secs(cooldown),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let summary = runtime.block_on(load::run(config))?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
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
