//! The batching writer. Connection tasks never touch the database: they hand rows to a bounded
//! channel and wait for the answer. The writer takes a batch's requests `flush_ms` after its first
//! (or once `batch_rows` wait), copies them in binary into place (through staging when some were
//! stored already), writes the devices' latest states ([throttled](crate::latest_state)),
//! commits, and only then tells each sender its rows are durable.
//!
//! When the database fails, batches go to the [spool](crate::spool) and are acknowledged once
//! synced to disk; the spool is replayed when the database is back. Only when the spool cannot take
//! them either are the senders told so: they acknowledge nothing, the devices resend, and the
//! de-duplication on (device, fix time) and (device, time, kind) keeps resends single.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use leasewatch_protocols::Position;
use leasewatch_store::batch::{DeviceKey, EventRow, PositionRow, Rows};
use leasewatch_store::outbox::{self, Encoder};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use crate::config::WriterConfig;
use crate::copy::{CopyBuffer, EMPTY_PAYLOAD_LEN};
use crate::latest_state::{DeviceState, StateThrottle};
use crate::metrics;
use crate::spool::Spool;
use crate::throughput;

/// Why rows could not be made durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The database refused or could not be reached; nothing was committed.
    #[error("database unavailable: {0}")]
    Database(String),
    /// The database refused these rows for what they hold; they are not acknowledged.
    #[error("refused by the database: {0}")]
    Refused(String),
    /// The writer has shut down.
    #[error("the writer has stopped")]
    Stopped,
}

/// One request to the writer.
#[derive(Debug)]
struct Request {
    rows: Rows,
    done: oneshot::Sender<Result<(), WriteError>>,
    sent: Instant,
}

/// The handle connections use to write rows.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
    committed: broadcast::Sender<Arc<Rows>>,
}

impl Writer {
    /// Starts the writer on the database `pool` names; it runs until every handle is dropped, then
    /// flushes and ends. It has a thread and connections of its own, so that thousands of busy
    /// device connections cannot delay a commit (and with it every acknowledgement).
    pub fn start(pool: PgPool, config: WriterConfig) -> (Self, tokio::task::JoinHandle<()>) {
        Self::start_with_outbox(pool, config, None)
    }

    /// [`Writer::start`], and with an `encoder` every batch also leaves its parcels in the outbox,
    /// in the same transaction, for a publisher to hand to the message engine.
    pub fn start_with_outbox(
        pool: PgPool,
        config: WriterConfig,
        encoder: Option<Encoder>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let (committed, _) = broadcast::channel(COMMITTED_CAPACITY);
        let stream = committed.clone();
        let options = (*pool.connect_options()).clone();
        let acquire_timeout = pool.options().get_acquire_timeout();
        let task = tokio::task::spawn_blocking(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => return tracing::error!(error = %e, "cannot start the writer: nothing is acknowledged"),
            };
            runtime.block_on(async move {
                let pool = PgPoolOptions::new()
                    .max_connections(config.concurrent_batches.max(1) as u32)
                    .acquire_timeout(acquire_timeout)
                    .connect_lazy_with(options);
                run(pool.clone(), config, rx, stream, encoder).await;
                pool.close().await;
            });
        });
        (Self { tx, committed }, task)
    }

    /// A writer that answers every request at once and stores nothing: the transport limit's
    /// benchmark (`ingest.writer.discard`).
    pub fn discarding(config: &WriterConfig) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Request>(config.channel_capacity.max(1));
        let (committed, _) = broadcast::channel(COMMITTED_CAPACITY);
        let task = tokio::spawn(async move {
            while let Some(request) = rx.recv().await {
                let _ = request.done.send(Ok(()));
            }
        });
        (Self { tx, committed }, task)
    }

    /// Hands `rows` to the writer and waits until they are committed. A full channel makes this
    /// wait: the caller stops reading from its device, which is the back-pressure.
    pub async fn write(&self, rows: Rows) -> Result<(), WriteError> {
        if rows.is_empty() {
            return Ok(());
        }
        let (done, answer) = oneshot::channel();
        self.tx.send(Request { rows, done, sent: Instant::now() }).await.map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// The stream of rows as they become durable (committed, or synced to the spool), for the
    /// monitor and other in-process consumers. A consumer that falls more than
    /// [`COMMITTED_CAPACITY`] batches behind receives `Lagged` and must reload from the database.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Rows>> {
        self.committed.subscribe()
    }
}

/// Batches the committed stream holds for a slow consumer.
pub const COMMITTED_CAPACITY: usize = 1024;

async fn run(
    pool: PgPool,
    config: WriterConfig,
    mut rx: mpsc::Receiver<Request>,
    committed: broadcast::Sender<Arc<Rows>>,
    encoder: Option<Encoder>,
) {
    let mut spool = match Spool::open(&config.spool_path, config.spool_max_bytes) {
        Ok(spool) => Some(spool),
        Err(e) => {
            tracing::error!(path = %config.spool_path.display(), error = %e, "no spool: batches are acknowledged only once in the database");
            None
        }
    };
    let retry = Duration::from_millis(config.retry_ms.max(10));
    let flush = Duration::from_millis(config.flush_ms);
    let concurrent = config.concurrent_batches.max(1);
    // While the database is known to be down, batches go straight to the spool until this instant.
    // A spool left by an earlier run is replayed first, like any other.
    let mut down_until: Option<Instant> = None;
    // The batch being gathered: its requests, their rows, and when it is due.
    let mut pending: Vec<Request> = Vec::new();
    let mut pending_rows = 0;
    let mut due_at: Option<Instant> = None;
    let mut backlog = false;
    // Device states written at most once per device per window; the rest held until its end.
    let mut throttle = StateThrottle::new(Duration::from_millis(config.state_every_ms), Instant::now());
    // Batches in their transactions; they complete, and are acknowledged, in the order they started.
    let mut in_flight = FuturesOrdered::new();
    let mut free: Vec<Buffers> = Vec::new();
    let mut open = true;
    // Positions acknowledged since the last throughput report, and when that was.
    let node = throughput::node_name();
    let report_every = Duration::from_millis(config.throughput_report_ms.max(100));
    let mut acknowledged: u64 = 0;
    let mut reported = Instant::now();
    loop {
        let now = Instant::now();
        // Once the database may be back, the spool goes first: new batches wait until it is replayed.
        let spooled = spool.as_ref().is_some_and(|s| !s.is_empty());
        let replay_due = spooled && down_until.is_none_or(|until| now >= until);
        if replay_due && in_flight.is_empty() {
            if let Some(spool) = spool.as_mut() {
                down_until = replay(&pool, spool, &config.spool_path).await.err().map(|()| Instant::now() + retry);
            }
            continue;
        }
        let due = !pending.is_empty() && (!open || due_at.is_none_or(|t| now >= t));
        if due && open {
            open = gather(&mut rx, &mut pending, &mut pending_rows, config.batch_rows);
        }
        // Held device states are due at their window's end (at once when closing), with no position.
        let states_due = pending.is_empty() && throttle.due().is_some_and(|t| !open || now >= t);
        if (due || states_due) && !replay_due && in_flight.len() < concurrent {
            let down = down_until.is_some_and(|until| now < until);
            let mut buffers = free.pop().unwrap_or_default();
            buffers.encode(pending.iter().map(|r| &r.rows), encoder.as_ref());
            let latest = std::mem::take(&mut buffers.latest);
            let states = if open { throttle.admit(latest, now) } else { throttle.flush(latest) };
            if down && !due {
                // Not worth a spool entry: the state follows from positions, the next fix corrects it.
                free.push(buffers);
                continue;
            }
            buffers.state.fill(&states);
            // A task of its own, so that its transaction goes on while this loop gathers and encodes.
            let requests = std::mem::take(&mut pending);
            let batch = apply_batch(pool.clone(), buffers, requests, pending_rows, down, encoder.clone());
            in_flight.push_back(tokio::spawn(batch));
            backlog = pending_rows >= config.batch_rows;
            pending_rows = 0;
            due_at = None;
            continue;
        }
        if !open && pending.is_empty() && in_flight.is_empty() && throttle.due().is_none() {
            break;
        }
        tokio::select! {
            Some(joined) = in_flight.next(), if !in_flight.is_empty() => {
                match joined {
                    Ok(done) => acknowledged += complete(done, &mut spool, &mut down_until, retry, &committed, &mut free),
                    // Its senders are gone with it: those connections acknowledge nothing and close.
                    Err(e) => tracing::error!(error = %e, "a batch's task failed"),
                }
                metrics::writer_state(rx.len(), spool.as_ref().map_or(0, Spool::bytes));
            }
            // Only the first request of a batch wakes this loop; the rest wait in the channel until
            // the batch is due and are gathered then. A wake-up per request costs the daemon two
            // thread switches per frame when devices send one frame per write.
            request = rx.recv(), if open && pending.is_empty() => match request {
                Some(request) => {
                    // After a full batch the channel holds a backlog: the next batch is due at once.
                    due_at = Some(if backlog { Instant::now() } else { Instant::now() + flush });
                    pending_rows += request.rows.len();
                    pending.push(request);
                }
                None => open = false,
            },
            () = sleep_until(due_at), if !due => {}
            () = sleep_until(throttle.due()), if !states_due => {}
            () = tokio::time::sleep_until(reported + report_every) => {
                if acknowledged > 0 {
                    let (pool, node, span) = (pool.clone(), node.clone(), reported.elapsed());
                    // Off the loop: a slow or absent database delays no acknowledgement.
                    tokio::spawn(async move {
                        if let Err(e) = throughput::record(&pool, &node, acknowledged, span).await {
                            tracing::debug!(error = %e, "throughput not reported");
                        }
                    });
                }
                acknowledged = 0;
                reported = Instant::now();
            }
            // With batches in the spool, try the database again when the wait is over.
            () = sleep_until(down_until), if spooled && !replay_due => {}
        }
    }
    // Every handle is gone: one last attempt to empty the spool before the process ends.
    if let Some(spool) = spool.as_mut().filter(|s| !s.is_empty()) {
        let _ = replay(&pool, spool, &config.spool_path).await;
    }
}

/// Takes the requests waiting in the channel into the batch, up to `batch_rows` rows; `false` once
/// every sender is gone.
fn gather(rx: &mut mpsc::Receiver<Request>, pending: &mut Vec<Request>, rows: &mut usize, batch_rows: usize) -> bool {
    while *rows < batch_rows {
        match rx.try_recv() {
            Ok(request) => {
                *rows += request.rows.len();
                pending.push(request);
            }
            Err(mpsc::error::TryRecvError::Empty) => break,
            Err(mpsc::error::TryRecvError::Disconnected) => return false,
        }
    }
    true
}

/// Sleeps until `at`; forever when there is no such instant.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// A batch back from its transaction.
struct Done {
    outcome: Outcome,
    buffers: Buffers,
    requests: Vec<Request>,
    rows: usize,
    started: Instant,
}

/// What the database did with a batch.
enum Outcome {
    /// Committed whole.
    Committed,
    /// Not reached, or failing: nothing committed (the batch goes to the spool).
    Unavailable(String),
    /// Refused for what some rows hold: written request by request; `Some` says why one was refused.
    Split(Vec<Option<String>>),
}

/// Whether the database refused a statement for the data it carried (a data exception or an
/// integrity violation, SQLSTATE classes 22 and 23), which no retry will change.
fn refused_for_content(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22") || c.starts_with("23")))
}

/// Writes one encoded batch in its own transaction (or fails at once when the database is down).
/// A batch refused for its content is written again request by request, so that one bad frame
/// costs only its own acknowledgement.
async fn apply_batch(
    pool: PgPool,
    buffers: Buffers,
    requests: Vec<Request>,
    rows: usize,
    down: bool,
    encoder: Option<Encoder>,
) -> Done {
    let started = Instant::now();
    let outcome = if down {
        Outcome::Unavailable("database down".to_owned())
    } else {
        match apply(&pool, &buffers).await {
            Ok(()) => Outcome::Committed,
            Err(e) if refused_for_content(&e) => {
                tracing::warn!(error = %e, rows, "batch refused for its content: writing it request by request");
                split(&pool, &requests, encoder.as_ref()).await
            }
            Err(e) => Outcome::Unavailable(e.to_string()),
        }
    };
    Done { outcome, buffers, requests, rows, started }
}

/// Writes each request of a refused batch in a transaction of its own.
async fn split(pool: &PgPool, requests: &[Request], encoder: Option<&Encoder>) -> Outcome {
    let mut buffers = Buffers::default();
    let mut refused = Vec::with_capacity(requests.len());
    for request in requests {
        buffers.encode(std::iter::once(&request.rows), encoder);
        buffers.state.fill(&buffers.latest);
        match apply(pool, &buffers).await {
            Ok(()) => refused.push(None),
            Err(e) if refused_for_content(&e) => {
                tracing::warn!(error = %e, "rows refused by the database: not acknowledged");
                refused.push(Some(e.to_string()));
            }
            // Rows committed before this are committed again from the spool: harmless.
            Err(e) => return Outcome::Unavailable(e.to_string()),
        }
    }
    Outcome::Split(refused)
}

/// Acknowledges a batch back from the database: committed, else spooled, else refused; hands the
/// durable rows to the committed stream and keeps its buffers for the next batch. Returns how many
/// positions were acknowledged.
fn complete(
    done: Done,
    spool: &mut Option<Spool>,
    down_until: &mut Option<Instant>,
    retry: Duration,
    committed: &broadcast::Sender<Arc<Rows>>,
    free: &mut Vec<Buffers>,
) -> u64 {
    let Done { outcome, buffers, requests, rows, started } = done;
    let results: Vec<Result<(), WriteError>> = match outcome {
        Outcome::Committed => {
            metrics::batch_written(rows, started.elapsed().as_secs_f64());
            *down_until = None;
            vec![Ok(()); requests.len()]
        }
        Outcome::Split(refused) => {
            *down_until = None;
            refused.into_iter().map(|why| why.map_or(Ok(()), |why| Err(WriteError::Refused(why)))).collect()
        }
        Outcome::Unavailable(why) => {
            let now = Instant::now();
            if down_until.is_none_or(|until| now >= until) {
                tracing::warn!(error = %why, rows, "database unavailable: spooling");
                *down_until = Some(now + retry);
            }
            let result = match spool.as_mut().map(|s| s.append(buffers.parts())) {
                Some(Ok(())) => {
                    metrics::batch_spooled();
                    Ok(())
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, rows, "cannot spool: not acknowledged, devices will resend");
                    Err(WriteError::Database(why))
                }
                None => Err(WriteError::Database(why)),
            };
            vec![result; requests.len()]
        }
    };
    free.push(buffers);
    let mut durable = Rows::default();
    let mut positions = 0;
    for (request, result) in requests.into_iter().zip(results) {
        let ok = result.is_ok();
        metrics::request_answered(request.sent.elapsed().as_secs_f64());
        let _ = request.done.send(result);
        if ok {
            positions += request.rows.positions.len() as u64;
        }
        if ok && committed.receiver_count() > 0 {
            let Rows { positions, events, quarantine: _ } = request.rows;
            durable.positions.extend(positions);
            durable.events.extend(events);
        }
    }
    if !durable.is_empty() {
        let _ = committed.send(Arc::new(durable));
    }
    positions
}

/// Replays the spool into the database in order, then empties it. `Err` when the database is
/// still unavailable (the spool is kept whole: replaying twice is harmless thanks to de-duplication).
/// A batch the database refuses for its content is set aside in `<spool>.refused`, for people to
/// look at, instead of holding back everything after it.
async fn replay(pool: &PgPool, spool: &mut Spool, path: &Path) -> Result<(), ()> {
    let batches = spool.read_all().map_err(|e| tracing::error!(error = %e, "cannot read the spool"))?;
    for batch in &batches {
        match apply_staged(pool, [&batch.positions, &batch.events, &batch.quarantine, &batch.outbox]).await {
            Ok(()) => {}
            Err(e) if refused_for_content(&e) => {
                let aside = path.with_extension("refused");
                tracing::error!(error = %e, file = %aside.display(), "a spooled batch was refused for its content: set aside");
                Spool::open(&aside, u64::MAX)
                    .and_then(|mut s| {
                        s.append([&batch.positions, &batch.events, &batch.quarantine, &batch.outbox])
                            .map_err(|e| std::io::Error::other(e.to_string()))
                    })
                    .map_err(
                        |e| tracing::error!(error = %e, "cannot set the refused batch aside: the spool is kept"),
                    )?;
            }
            Err(e) => {
                tracing::debug!(error = %e, "database still unavailable");
                return Err(());
            }
        }
    }
    spool.clear().map_err(|e| tracing::error!(error = %e, "cannot truncate the spool"))?;
    tracing::info!(batches = batches.len(), "spool replayed into the database");
    Ok(())
}

/// The latest state of each device in a batch, column by column (bound as arrays).
#[derive(Debug, Default)]
struct StateColumns {
    device: Vec<i64>,
    fix_time: Vec<DateTime<Utc>>,
    server_time: Vec<DateTime<Utc>>,
    latitude: Vec<f64>,
    longitude: Vec<f64>,
    speed: Vec<f32>,
    course: Vec<f32>,
    valid: Vec<bool>,
    ignition: Vec<Option<bool>>,
    power_voltage: Vec<Option<f32>>,
    battery: Vec<Option<i16>>,
    alarms: Vec<i32>,
}

impl StateColumns {
    /// Sets the columns to `states`, keeping their memory.
    fn fill(&mut self, states: &[DeviceState]) {
        self.device.clear();
        self.fix_time.clear();
        self.server_time.clear();
        self.latitude.clear();
        self.longitude.clear();
        self.speed.clear();
        self.course.clear();
        self.valid.clear();
        self.ignition.clear();
        self.power_voltage.clear();
        self.battery.clear();
        self.alarms.clear();
        for s in states {
            self.device.push(s.device);
            self.fix_time.push(s.fix_time);
            self.server_time.push(s.server_time);
            self.latitude.push(s.latitude);
            self.longitude.push(s.longitude);
            self.speed.push(s.speed);
            self.course.push(s.course);
            self.valid.push(s.valid);
            self.ignition.push(s.ignition);
            self.power_voltage.push(s.power_voltage);
            self.battery.push(s.battery);
            self.alarms.push(s.alarms);
        }
    }
}

/// COPY buffers reused from batch to batch.
#[derive(Debug, Default)]
struct Buffers {
    positions: CopyBuffer,
    /// The latest state of each device in the batch, before the throttle decides what is written.
    latest: Vec<DeviceState>,
    state: StateColumns,
    events: CopyBuffer,
    quarantine: CopyBuffer,
    /// The batch's outbox parcels, as stored (empty without an encoder).
    outbox: Vec<u8>,
}

impl Buffers {
    /// Encodes the rows of `batches` as binary COPY payloads. Positions are sorted by device and fix
    /// time with duplicates dropped, and the last of each device becomes its latest state (in
    /// `latest`: the state columns are set apart, with what the throttle lets through). With an
    /// `encoder`, the rows' outbox parcels too.
    fn encode<'a>(&mut self, batches: impl Iterator<Item = &'a Rows> + Clone, encoder: Option<&Encoder>) {
        self.outbox.clear();
        if let Some(encoder) = encoder {
            let rows: Vec<&Rows> = batches.clone().collect();
            self.outbox = encoder(&rows).to_bytes();
        }
        self.positions.start();
        self.latest.clear();
        self.events.start();
        self.quarantine.start();
        let mut fixes: Vec<(DeviceKey, &Position, &PositionRow)> = batches
            .clone()
            .flat_map(|rows| &rows.positions)
            .filter_map(|row| row.message.position.as_ref().map(|p| (row.device, p, row)))
            .collect();
        fixes.sort_by_key(|&(device, p, _)| (device, p.fix_time));
        fixes.dedup_by_key(|&mut (device, p, _)| (device, p.fix_time));
        for (i, &(device, p, row)) in fixes.iter().enumerate() {
            let s = &row.message.status;
            self.positions
                .row(16)
                .int8(device)
                .timestamptz(p.fix_time)
                .timestamptz(row.server_time)
                .float8(p.latitude)
                .float8(p.longitude)
                .float4(Some(p.speed_kmh as f32))
                .float4(Some(p.course as f32))
                .float4(p.altitude.map(|a| a as f32))
                .int2(p.satellites.map(i16::from))
                .bool(Some(p.valid))
                .bool(s.ignition)
                .float4(s.power_voltage.map(|v| v as f32))
                .int2(s.battery_percent.map(i16::from))
                .opt_int8(s.odometer_m.and_then(|m| i64::try_from(m).ok()))
                .int4(row.message.alarms.bits() as i32)
                .jsonb_of(&row.message.attributes);
            if fixes.get(i + 1).is_none_or(|&(next, _, _)| next != device) {
                self.latest.push(DeviceState {
                    device,
                    fix_time: p.fix_time,
                    server_time: row.server_time,
                    latitude: p.latitude,
                    longitude: p.longitude,
                    speed: p.speed_kmh as f32,
                    course: p.course as f32,
                    valid: p.valid,
                    ignition: s.ignition,
                    power_voltage: s.power_voltage.map(|v| v as f32),
                    battery: s.battery_percent.map(i16::from),
                    alarms: row.message.alarms.bits() as i32,
                });
            }
        }
        let mut events: Vec<&EventRow> = batches.clone().flat_map(|rows| &rows.events).collect();
        events.sort_by_key(|e| (e.device, e.time, e.kind));
        events.dedup_by_key(|e| (e.device, e.time, e.kind));
        for row in events {
            self.events
                .row(6)
                .int8(row.device)
                .timestamptz(row.time)
                .text(row.kind.as_str())
                .timestamptz(row.server_time)
                .int4(row.message.alarms.bits() as i32)
                .jsonb_of(&row.message.attributes);
        }
        for rows in batches {
            for row in &rows.quarantine {
                self.quarantine.row(6).text(row.protocol);
                match &row.imei {
                    Some(imei) => self.quarantine.text(imei),
                    None => self.quarantine.null(),
                };
                self.quarantine.timestamptz(row.received_at).text(&row.peer).bytea(&row.frame).jsonb(&row.decoded);
            }
        }
        self.positions.finish();
        self.events.finish();
        self.quarantine.finish();
    }

    /// The payloads the spool keeps: positions, events, quarantine, outbox parcels (the state
    /// follows from positions).
    fn parts(&self) -> [&[u8]; 4] {
        [self.positions.bytes(), self.events.bytes(), self.quarantine.bytes(), &self.outbox]
    }
}

/// Writes a batch in one transaction: positions and events (each unique within the batch) by
/// direct COPY, the latest state per device, quarantined frames. No temporary table is touched
/// unless some rows were stored already (a device resending what was not acknowledged): then the
/// transaction is undone and the batch goes again through staging, which drops those rows.
async fn apply(pool: &PgPool, buffers: &Buffers) -> Result<(), sqlx::Error> {
    match apply_direct(pool, buffers).await {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            metrics::batch_deduplicated();
            apply_staged(pool, buffers.parts()).await
        }
        other => other,
    }
}

/// The common case, in as few round trips as the protocol allows: no savepoint, no staging.
async fn apply_direct(pool: &PgPool, buffers: &Buffers) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    copy_in(&mut tx, "COPY positions FROM STDIN (FORMAT binary)", buffers.positions.bytes()).await?;
    copy_in(&mut tx, "COPY device_events FROM STDIN (FORMAT binary)", buffers.events.bytes()).await?;
    let state = &buffers.state;
    if !state.device.is_empty() {
        sqlx::query(UPSERT_STATE)
            .bind(&state.device)
            .bind(&state.fix_time)
            .bind(&state.server_time)
            .bind(&state.latitude)
            .bind(&state.longitude)
            .bind(&state.speed)
            .bind(&state.course)
            .bind(&state.valid)
            .bind(&state.ignition)
            .bind(&state.power_voltage)
            .bind(&state.battery)
            .bind(&state.alarms)
            .execute(&mut *tx)
            .await?;
    }
    copy_quarantine(&mut tx, buffers.quarantine.bytes()).await?;
    outbox::insert(&mut tx, &buffers.outbox).await?;
    tx.commit().await
}

/// Writes a batch's payloads (positions, events, quarantine, outbox parcels) in one transaction,
/// all through staging (spooled batches, resends).
async fn apply_staged(pool: &PgPool, [positions, events, quarantine, parcels]: [&[u8]; 4]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    create_staging(&mut tx).await?;
    copy_in(&mut tx, "COPY positions_staging FROM STDIN (FORMAT binary)", positions).await?;
    copy_in(&mut tx, "COPY events_staging FROM STDIN (FORMAT binary)", events).await?;
    copy_quarantine(&mut tx, quarantine).await?;
    merge_staging(&mut tx).await?;
    outbox::insert(&mut tx, parcels).await?;
    tx.commit().await
}

async fn copy_quarantine(conn: &mut PgConnection, payload: &[u8]) -> Result<(), sqlx::Error> {
    let statement = "COPY quarantine (protocol, imei, received_at, peer, frame, decoded) FROM STDIN (FORMAT binary)";
    copy_in(conn, statement, payload).await
}

/// Sends one binary COPY payload (nothing when it holds no tuple).
async fn copy_in(conn: &mut PgConnection, statement: &str, payload: &[u8]) -> Result<(), sqlx::Error> {
    if payload.len() > EMPTY_PAYLOAD_LEN {
        let mut copy = conn.copy_in_raw(statement).await?;
        copy.send(payload).await?;
        copy.finish().await?;
    }
    Ok(())
}

/// Creates this connection's staging tables (temporary, emptied at every commit).
async fn create_staging(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    for statement in [
        "CREATE TEMP TABLE IF NOT EXISTS positions_staging (LIKE positions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
        "CREATE TEMP TABLE IF NOT EXISTS events_staging (LIKE device_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    ] {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Moves staged rows into place: positions and events without duplicates (sorted, which also keeps
/// index inserts local), and the latest state of each device.
async fn merge_staging(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    for statement in [INSERT_STAGED_POSITIONS, UPSERT_STAGED_STATE, INSERT_STAGED_EVENTS] {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    Ok(())
}

const INSERT_STAGED_POSITIONS: &str = "INSERT INTO positions SELECT DISTINCT ON (device_id, fix_time) *
    FROM positions_staging ORDER BY device_id, fix_time ON CONFLICT DO NOTHING";

/// An upsert of `device_state` from `$source` (its columns in the table's order): a newer fix
/// replaces an older one.
macro_rules! upsert_state {
    ($source:literal) => {
        concat!(
            "INSERT INTO device_state AS s (device_id, fix_time, server_time, latitude, longitude, speed_kmh,
                course, valid, ignition, power_voltage, battery, alarms) ",
            $source,
            " ON CONFLICT (device_id) DO UPDATE SET fix_time = EXCLUDED.fix_time, server_time = EXCLUDED.server_time,
                latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, speed_kmh = EXCLUDED.speed_kmh,
                course = EXCLUDED.course, valid = EXCLUDED.valid, ignition = EXCLUDED.ignition,
                power_voltage = EXCLUDED.power_voltage, battery = EXCLUDED.battery, alarms = EXCLUDED.alarms
            WHERE s.fix_time < EXCLUDED.fix_time"
        )
    };
}

/// The latest state of each device in the batch, bound column by column.
const UPSERT_STATE: &str = upsert_state!(
    "SELECT * FROM unnest($1::int8[], $2::timestamptz[], $3::timestamptz[], $4::float8[], $5::float8[],
        $6::float4[], $7::float4[], $8::bool[], $9::bool[], $10::float4[], $11::int2[], $12::int4[])"
);

/// The latest state of each device among the staged positions.
const UPSERT_STAGED_STATE: &str = upsert_state!(
    "SELECT DISTINCT ON (device_id) device_id, fix_time, server_time, latitude, longitude, speed_kmh, course,
        valid, ignition, power_voltage, battery, alarms
    FROM positions_staging ORDER BY device_id, fix_time DESC"
);

const INSERT_STAGED_EVENTS: &str = "INSERT INTO device_events SELECT DISTINCT ON (device_id, time, kind) *
    FROM events_staging ORDER BY device_id, time, kind ON CONFLICT DO NOTHING";
