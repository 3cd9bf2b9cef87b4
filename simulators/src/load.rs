//! The load generator: N simulated devices over real TCP, a fixed offered rate of positions
//! spread over them, and what came back: acknowledgements, their latency (HDR histogram), and
//! a ledger of every acknowledged position for loss checks. H02 devices get no acknowledgement:
//! they send at the rate, and their ledger holds what was sent.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use leasewatch_protocols::jt808::Terminal;
use leasewatch_protocols::{
    AttrKey, AttrValue, DeviceId, Jt808, Message, MessageKind, Protocol, ProtocolKind, Scan, Status, gt06, h02, jt808,
    teltonika,
};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::fleet::device_id;
use crate::track::Track;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// gt06, jt808, teltonika or h02 (which sends without acknowledgements).
    pub protocol: ProtocolKind,
    /// The daemon's listener.
    pub target: SocketAddr,
    /// Simulated devices, each on its own connection.
    pub devices: usize,
    /// Offered positions per second over all devices.
    pub rate: f64,
    /// How long to send.
    pub duration: Duration,
    /// Where to write `imei,fix_time_unix` for every acknowledged position (every sent one for h02).
    pub ledger: Option<PathBuf>,
    /// Index of the first simulated device (to run several generators side by side).
    pub first_device: usize,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Before every Nth position (0: never), send garbage and a broken frame, as bad links do.
    pub malformed_every: u64,
    /// Positions sent in one write before waiting for their acknowledgements (at least 1).
    pub burst: usize,
    /// A reconnect storm instead of a steady rate: every device connects once within `duration`
    /// (spread evenly), uploads this many buffered positions, `burst` per write, and the run
    /// ends when all are acknowledged.
    pub storm_backlog: Option<usize>,
    /// Acknowledgement latencies are recorded only after this long (the fleet connecting is not
    /// its steady state).
    pub warmup: Duration,
    /// Nor are they for writes sent in this last part of the run: simulators that run side by side
    /// end a little apart, and the devices of the first to end all disconnecting at once are not
    /// the steady state of the others.
    pub cooldown: Duration,
}

/// The one-line JSON summary a run ends with.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The protocol.
    pub protocol: String,
    /// Devices that connected.
    pub connected: u64,
    /// Devices that could not connect or log in.
    pub connect_failures: u64,
    /// Positions sent, resends after a reconnection included.
    pub sent: u64,
    /// Positions sent per second over the run.
    pub sent_per_sec: f64,
    /// Positions acknowledged.
    pub acked: u64,
    /// Acknowledged positions per second over the run.
    pub acked_per_sec: f64,
    /// Connections that failed mid-run.
    pub errors: u64,
    /// Seconds from the start until every device finished: connecting, reconnections after failures and the
    /// last acknowledgement included.
    pub seconds: f64,
    /// Acknowledgement latency percentiles, milliseconds.
    pub ack_latency_ms: Latency,
    /// The seconds of the run (from its start) whose slowest acknowledgement was the slowest, worst
    /// first, up to five: a tail that comes from one stall shows as one or two seconds here.
    pub slowest_seconds: Vec<SlowSecond>,
}

/// One second of the run and its slowest acknowledgement.
#[derive(Debug, Clone, Serialize)]
pub struct SlowSecond {
    /// Seconds from the start of the run.
    pub second: u64,
    /// The slowest acknowledgement of a write sent in that second, milliseconds.
    pub max_ms: f64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

#[derive(Debug, Default)]
struct Counters {
    connected: AtomicU64,
    connect_failures: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    errors: AtomicU64,
    /// Latencies count from here on (after the warm-up)...
    record_from: Option<Instant>,
    /// ...for writes sent before this (the cool-down).
    record_until: Option<Instant>,
    /// When the run started.
    started: Option<Instant>,
    /// The slowest acknowledgement (µs) of each second of the run, counted as latencies are.
    worst_by_second: Mutex<BTreeMap<u64, u64>>,
}

/// Source addresses: one per 1,000 connections (under the daemon's per-address cap, and more than
/// 64k connections fit on loopback).
fn source_address(index: usize) -> SocketAddr {
    let host = 1 + (index / 1_000 % 250) as u8;
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), 0)
}

/// Cities the simulated fleet starts from.
const CITIES: [(f64, f64); 6] = [
    (31.2304, 121.4737),
    (39.9042, 116.4074),
    (23.1291, 113.2644),
    (30.5728, 104.0668),
    (22.5431, 114.0579),
    (34.3416, 108.9398),
];

/// Runs the load and returns its summary.
pub async fn run(config: LoadConfig) -> anyhow::Result<Summary> {
    if config.protocol == ProtocolKind::Mqtt {
        anyhow::bail!("load speaks TCP: gt06, jt808, teltonika or h02 (MQTT devices: the `mqtt` command)");
    }
    let now = Instant::now();
    let counters = Arc::new(Counters {
        record_from: Some(now + config.warmup),
        record_until: Some(now + config.duration.saturating_sub(config.cooldown)),
        started: Some(now),
        ..Counters::default()
    });
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?));
    let (ledger_tx, ledger_task) = match &config.ledger {
        Some(path) => {
            let (tx, rx) = mpsc::channel::<Vec<(DeviceId, i64)>>(10_000);
            (Some(tx), Some(tokio::spawn(write_ledger(path.clone(), rx))))
        }
        None => (None, None),
    };
    let start_fix = DateTime::<Utc>::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
    // A device sends `burst` positions every `interval`.
    let burst = config.burst.max(1);
    let interval = Duration::from_secs_f64(config.devices as f64 * burst as f64 / config.rate.max(0.001));
    let started = Instant::now();
    let deadline = started + config.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..config.devices {
        let index = config.first_device + i;
        let id = device_id(config.protocol, index);
        let counters = counters.clone();
        let histogram = histogram.clone();
        let ledger = ledger_tx.clone();
        let config = config.clone();
        // Spread the first sends over one interval so the devices do not all speak at once.
        let offset = interval.mul_f64(i as f64 / config.devices as f64);
        tasks.spawn(async move {
            let device = Device { id, index, protocol: config.protocol, start_fix };
            let mut state = DriveState::new(&device);
            if let Some(backlog) = config.storm_backlog {
                let arrival = config.duration.mul_f64(i as f64 / config.devices as f64);
                let done =
                    device.storm(&config, arrival, backlog, &mut state, &counters, &histogram, ledger.as_ref()).await;
                if done.is_err() {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            let mut first = true;
            // Like a real tracker: reconnect after a failure and resend what was not acknowledged.
            while Instant::now() < deadline {
                match device.connect(config.target).await {
                    Ok(conn) => {
                        if first {
                            counters.connected.fetch_add(1, Ordering::Relaxed);
                            first = false;
                        }
                        let offset = if state.serial == 1 { offset } else { Duration::ZERO };
                        let result = device
                            .drive(
                                conn,
                                &mut state,
                                offset,
                                interval,
                                deadline,
                                &counters,
                                &histogram,
                                ledger.as_ref(),
                                config.malformed_every,
                                burst,
                            )
                            .await;
                        if result.is_ok() {
                            break;
                        }
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) if first => {
                        counters.connect_failures.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
    drop(ledger_tx);
    let progress = config.progress.then(|| progress_bar(config.duration));
    let ticker = progress.clone().map(|bar| {
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let acked = counters.acked.load(Ordering::Relaxed);
                bar.set_position(started.elapsed().as_secs());
                bar.set_message(format!(
                    "{} connected, {acked} acked, {}/s",
                    counters.connected.load(Ordering::Relaxed),
                    acked - last
                ));
                last = acked;
            }
        })
    });
    while tasks.join_next().await.is_some() {}
    // Until every device finished (its last acknowledgement back, or its last reconnection given up).
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Some(task) = ledger_task {
        task.await??;
    }
    let h = histogram.lock().map_err(|_| anyhow::anyhow!("histogram poisoned"))?;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let acked = counters.acked.load(Ordering::Relaxed);
    let sent = counters.sent.load(Ordering::Relaxed);
    Ok(Summary {
        protocol: config.protocol.to_string(),
        connected: counters.connected.load(Ordering::Relaxed),
        connect_failures: counters.connect_failures.load(Ordering::Relaxed),
        sent,
        sent_per_sec: sent as f64 / seconds,
        acked,
        acked_per_sec: acked as f64 / seconds,
        errors: counters.errors.load(Ordering::Relaxed),
        seconds,
        ack_latency_ms: Latency {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1000.0,
        },
        slowest_seconds: slowest_seconds(&counters),
    })
}

/// The five seconds with the slowest acknowledgements, worst first.
fn slowest_seconds(counters: &Counters) -> Vec<SlowSecond> {
    let Ok(by_second) = counters.worst_by_second.lock() else { return Vec::new() };
    let mut seconds: Vec<SlowSecond> =
        by_second.iter().map(|(&second, &micros)| SlowSecond { second, max_ms: micros as f64 / 1000.0 }).collect();
    seconds.sort_by(|a, b| b.max_ms.total_cmp(&a.max_ms));
    seconds.truncate(5);
    seconds
}

fn progress_bar(duration: Duration) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(duration.as_secs());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len}s {msg}") {
        bar.set_style(style);
    }
    bar
}

async fn write_ledger(path: PathBuf, mut rx: mpsc::Receiver<Vec<(DeviceId, i64)>>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    while let Some(acked) = rx.recv().await {
        for (id, fix) in acked {
            writeln!(out, "{id},{fix}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// One simulated device.
struct Device {
    id: DeviceId,
    index: usize,
    protocol: ProtocolKind,
    start_fix: DateTime<Utc>,
}

/// A connected device's two halves and its unread bytes.
struct Connection {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    buf: BytesMut,
}

impl Device {
    async fn connect(&self, target: SocketAddr) -> anyhow::Result<Connection> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(source_address(self.index))?;
        let stream = tokio::time::timeout(Duration::from_secs(30), socket.connect(target)).await??;
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        let mut conn = Connection { rd, wr, buf: BytesMut::with_capacity(64) };
        let mut frame = Vec::new();
        match self.protocol {
            ProtocolKind::Gt06 => gt06::device::login(&self.id, 0, &mut frame),
            ProtocolKind::Teltonika => teltonika::device::handshake(&self.id, &mut frame),
            _ => return Ok(conn),
        }
        conn.wr.write_all(&frame).await?;
        self.read_ack(&mut conn, true).await?;
        Ok(conn)
    }

    /// Reads one acknowledgement (the handshake's, when `login`).
    async fn read_ack(&self, conn: &mut Connection, login: bool) -> anyhow::Result<()> {
        let need = match (self.protocol, login) {
            (ProtocolKind::Teltonika, true) => 1,
            (ProtocolKind::Teltonika, false) => 4,
            _ => 10,
        };
        loop {
            if self.protocol == ProtocolKind::Jt808 {
                if let Scan::Frame(len) = Jt808::scan(&conn.buf, 1024) {
                    let _ = conn.buf.split_to(len);
                    return Ok(());
                }
            } else if conn.buf.len() >= need {
                let _ = conn.buf.split_to(need);
                return Ok(());
            }
            // Room for a whole burst's acknowledgements in one read.
            conn.buf.reserve(1024);
            let n = tokio::time::timeout(Duration::from_secs(60), conn.rd.read_buf(&mut conn.buf)).await??;
            if n == 0 {
                anyhow::bail!("closed by the server");
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn drive(
        &self,
        mut conn: Connection,
        state: &mut DriveState,
        offset: Duration,
        interval: Duration,
        deadline: Instant,
        counters: &Counters,
        histogram: &Mutex<Histogram<u64>>,
        ledger: Option<&mpsc::Sender<Vec<(DeviceId, i64)>>>,
        malformed_every: u64,
        burst: usize,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::from_std(deadline);
        // Slow devices (a low rate over many devices) may not be due before the run ends.
        if tokio::time::timeout_at(deadline, tokio::time::sleep(offset)).await.is_err() {
            return Ok(());
        }
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // A device behind its schedule finds its tick ready at once: the deadline is checked apart.
            if tokio::time::timeout_at(deadline, tick.tick()).await.is_err() || Instant::now() >= deadline.into_std() {
                return Ok(());
            }
            // What a previous connection left unacknowledged goes again first.
            while state.unacked.len() < burst {
                state.next_frame(self);
            }
            self.exchange(&mut conn, state, counters, histogram, ledger, malformed_every).await?;
        }
    }

    /// Sends what is unacknowledged in one write and waits for its acknowledgements (none for
    /// H02); counts them, records their latency and writes them to the ledger.
    async fn exchange(
        &self,
        conn: &mut Connection,
        state: &mut DriveState,
        counters: &Counters,
        histogram: &Mutex<Histogram<u64>>,
        ledger: Option<&mpsc::Sender<Vec<(DeviceId, i64)>>>,
        malformed_every: u64,
    ) -> anyhow::Result<()> {
        let sent_at = Instant::now();
        let mut out = Vec::with_capacity(state.unacked.iter().map(|(f, _, _)| f.len() + 32).sum());
        for (frame, _, serial) in &state.unacked {
            if malformed_every > 0 && u64::from(*serial) % malformed_every == 0 {
                // Noise, a frame start with an impossible length, and a truncated frame.
                out.extend_from_slice(b"\x00\xffnoise\x78\x78\x01\x12\x79\x79\xff\xff\x78\x78\x1f\x12\x0b");
            }
            out.extend_from_slice(frame);
        }
        conn.wr.write_all(&out).await?;
        counters.sent.fetch_add(state.unacked.len() as u64, Ordering::Relaxed);
        if self.protocol == ProtocolKind::H02 {
            // Nothing comes back: what was written is all the device will ever know.
            let sent = state.unacked.drain(..).map(|(_, fix, _)| (self.id, fix)).collect();
            if let Some(ledger) = ledger {
                let _ = ledger.send(sent).await;
            }
            return Ok(());
        }
        // The burst's acknowledgements are counted together (one lock, one ledger message), also
        // those that came before a failure.
        let mut latencies = Vec::with_capacity(state.unacked.len());
        let mut read = Ok(());
        while latencies.len() < state.unacked.len() {
            read = self.read_ack(conn, false).await;
            if read.is_err() {
                break;
            }
            latencies.push(sent_at.elapsed().as_micros() as u64);
        }
        counters.acked.fetch_add(latencies.len() as u64, Ordering::Relaxed);
        let steady = counters.record_from.is_none_or(|from| sent_at >= from)
            && counters.record_until.is_none_or(|until| sent_at < until);
        if steady && let Ok(mut h) = histogram.lock() {
            for micros in &latencies {
                let _ = h.record((*micros).max(1));
            }
        }
        if steady
            && let (Some(started), Some(worst)) = (counters.started, latencies.iter().max())
            && let Ok(mut by_second) = counters.worst_by_second.lock()
        {
            let slot = by_second.entry(sent_at.duration_since(started).as_secs()).or_default();
            *slot = (*slot).max(*worst);
        }
        let acked = state.unacked.drain(..latencies.len()).map(|(_, fix, _)| (self.id, fix)).collect();
        if let Some(ledger) = ledger {
            let _ = ledger.send(acked).await;
        }
        read
    }

    /// One device of a reconnect storm: it comes back at `arrival`, logs in, uploads `backlog`
    /// buffered positions `burst` per write, and leaves once all are acknowledged; a refused or
    /// broken connection is retried a second later, resending what was not acknowledged.
    #[allow(clippy::too_many_arguments)]
    async fn storm(
        &self,
        config: &LoadConfig,
        arrival: Duration,
        backlog: usize,
        state: &mut DriveState,
        counters: &Counters,
        histogram: &Mutex<Histogram<u64>>,
        ledger: Option<&mpsc::Sender<Vec<(DeviceId, i64)>>>,
    ) -> anyhow::Result<()> {
        tokio::time::sleep(arrival).await;
        let give_up = Instant::now() + Duration::from_secs(600);
        let mut remaining = backlog;
        let mut first = true;
        loop {
            match self.connect(config.target).await {
                Ok(mut conn) => {
                    if first {
                        counters.connected.fetch_add(1, Ordering::Relaxed);
                        first = false;
                    }
                    let uploaded: anyhow::Result<()> = async {
                        loop {
                            while state.unacked.len() < config.burst.max(1) && remaining > 0 {
                                state.next_frame(self);
                                remaining -= 1;
                            }
                            if state.unacked.is_empty() {
                                return Ok(());
                            }
                            self.exchange(&mut conn, state, counters, histogram, ledger, 0).await?;
                        }
                    }
                    .await;
                    if uploaded.is_ok() {
                        return Ok(());
                    }
                }
                Err(_) if first => {
                    counters.connect_failures.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {}
            }
            if Instant::now() >= give_up {
                anyhow::bail!("gave up after ten minutes");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// A device's progress, kept across reconnections.
struct DriveState {
    track: Track,
    terminal: Option<Terminal>,
    serial: u16,
    /// The frames sent and not acknowledged yet, with their fix times and serials, oldest first.
    unacked: Vec<(Vec<u8>, i64, u16)>,
}

impl DriveState {
    fn new(device: &Device) -> Self {
        let (lat, lon) = CITIES[device.index % CITIES.len()];
        Self {
            track: Track::new(device.index as u64 + 1, device.start_fix, lat, lon, 1),
            terminal: Terminal::from_device_id(&device.id).ok(),
            serial: 1,
            unacked: Vec::new(),
        }
    }

    /// Encodes the next position (its fix one second after the previous one).
    fn next_frame(&mut self, device: &Device) {
        let fix = self.track.next_fix();
        let mut frame = Vec::with_capacity(64);
        let mut msg = Message::new(device.protocol, MessageKind::Position);
        msg.position = Some(fix);
        msg.status = Status { ignition: Some(fix.speed_kmh > 0.0), ..Status::default() };
        match device.protocol {
            ProtocolKind::Gt06 => gt06::device::position(&fix, self.serial, &mut frame),
            ProtocolKind::Jt808 => {
                if let Some(t) = &self.terminal {
                    jt808::device::location(t, self.serial, &msg, &mut frame);
                }
            }
            ProtocolKind::H02 => {
                // Status bits are active-low alarms; bit 10 set is ignition on.
                let status = if fix.speed_kmh > 0.0 { 0xFFFF_FFFF } else { 0xFFFF_FBFF };
                h02::device::position(&device.id, &fix, status, &mut frame);
            }
            _ => {
                msg.attributes.set("priority", AttrValue::Int(0));
                msg.attributes.set("event_io", AttrValue::Int(0));
                msg.attributes.push(AttrKey::Io(239), AttrValue::Int(1));
                teltonika::device::codec8(std::slice::from_ref(&msg), &mut frame);
            }
        }
        self.unacked.push((frame, fix.fix_time.timestamp(), self.serial));
        self.serial = self.serial.wrapping_add(1);
    }
}
