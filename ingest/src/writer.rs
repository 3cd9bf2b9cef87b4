//! The batching writer. Connection tasks never touch the database: they hand rows to a bounded
//! channel and wait for the answer. The writer gathers rows until a batch is full or `flush_ms`
//! has passed, copies them in binary into temporary staging tables, moves them into place with
//! duplicates removed, commits, and only then tells each sender its rows are durable.
//!
//! When the database fails, the senders are told so and acknowledge nothing: the devices resend,
//! and the de-duplication on (device, fix time) and (device, time, kind) keeps resends single.

use std::time::Duration;

use chrono::{DateTime, Utc};
use leasewatch_protocols::{Message, MessageKind};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::config::WriterConfig;
use crate::copy::CopyBuffer;
use crate::devices::DeviceKey;

/// A position row.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionRow {
    /// The registered device.
    pub device: DeviceKey,
    /// When the server received it.
    pub server_time: DateTime<Utc>,
    /// The decoded message (its position is `Some`).
    pub message: Message,
}

/// A device event row (login, logout, alarm without a fix, command reply).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// The registered device.
    pub device: DeviceKey,
    /// The event's time (the device's, else the server's).
    pub time: DateTime<Utc>,
    /// When the server received it.
    pub server_time: DateTime<Utc>,
    /// The decoded message.
    pub message: Message,
}

/// A frame from a device nobody registered, kept whole.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineRow {
    /// The protocol it came in.
    pub protocol: &'static str,
    /// The id it gave, when it gave one.
    pub imei: Option<String>,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// The peer address.
    pub peer: String,
    /// The raw frame.
    pub frame: Vec<u8>,
    /// The decoded messages as JSON.
    pub decoded: String,
}

/// Rows a connection hands to the writer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    /// Positions.
    pub positions: Vec<PositionRow>,
    /// Events.
    pub events: Vec<EventRow>,
    /// Quarantined frames.
    pub quarantine: Vec<QuarantineRow>,
}

impl Rows {
    /// How many rows in all.
    pub fn len(&self) -> usize {
        self.positions.len() + self.events.len() + self.quarantine.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds the rows for `messages` from registered device `device`.
    pub fn add_messages(&mut self, device: DeviceKey, server_time: DateTime<Utc>, messages: &[Message]) {
        for message in messages {
            if message.position.is_some() {
                self.positions.push(PositionRow { device, server_time, message: message.clone() });
                continue;
            }
            let kind_matters = matches!(
                message.kind,
                MessageKind::Login | MessageKind::Logout | MessageKind::Alarm | MessageKind::CommandReply
            );
            if kind_matters || !message.alarms.is_empty() {
                self.events.push(EventRow { device, time: server_time, server_time, message: message.clone() });
            }
        }
    }
}

/// Why rows could not be made durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The database refused or could not be reached; nothing was committed.
    #[error("database unavailable: {0}")]
    Database(String),
    /// The writer has shut down.
    #[error("the writer has stopped")]
    Stopped,
}

/// One request to the writer.
#[derive(Debug)]
struct Request {
    rows: Rows,
    done: oneshot::Sender<Result<(), WriteError>>,
}

/// The handle connections use to write rows.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
}

impl Writer {
    /// Starts the writer task on `pool`; it runs until every handle is dropped, then flushes and ends.
    pub fn start(pool: PgPool, config: WriterConfig) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let task = tokio::spawn(run(pool, config, rx));
        (Self { tx }, task)
    }

    /// Hands `rows` to the writer and waits until they are committed. A full channel makes this
    /// wait: the caller stops reading from its device, which is the back-pressure.
    pub async fn write(&self, rows: Rows) -> Result<(), WriteError> {
        if rows.is_empty() {
            return Ok(());
        }
        let (done, answer) = oneshot::channel();
        self.tx.send(Request { rows, done }).await.map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// Requests waiting in the channel.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

async fn run(pool: PgPool, config: WriterConfig, mut rx: mpsc::Receiver<Request>) {
    let mut pending: Vec<Request> = Vec::new();
    let mut buffers = Buffers::default();
    while let Some(first) = rx.recv().await {
        let mut rows = first.rows.len();
        pending.push(first);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(config.flush_ms);
        while rows < config.batch_rows {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(request)) => {
                    rows += request.rows.len();
                    pending.push(request);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let result = flush(&pool, &pending, &mut buffers).await.map_err(|e| {
            tracing::warn!(error = %e, rows, "batch not written; devices will resend");
            WriteError::Database(e.to_string())
        });
        for request in pending.drain(..) {
            let _ = request.done.send(result.clone());
        }
    }
}

/// COPY buffers reused from batch to batch.
#[derive(Debug, Default)]
struct Buffers {
    positions: CopyBuffer,
    events: CopyBuffer,
    quarantine: CopyBuffer,
    json: Vec<u8>,
}

fn attributes_json(message: &Message, out: &mut Vec<u8>) -> String {
    out.clear();
    if serde_json::to_writer(&mut *out, &message.attributes).is_err() {
        return "{}".to_owned();
    }
    String::from_utf8_lossy(out).into_owned()
}

/// Writes one batch in one transaction.
async fn flush(pool: &PgPool, requests: &[Request], b: &mut Buffers) -> Result<(), sqlx::Error> {
    b.positions.start();
    b.events.start();
    b.quarantine.start();
    for rows in requests.iter().map(|r| &r.rows) {
        for row in &rows.positions {
            let Some(p) = row.message.position else { continue };
            let s = &row.message.status;
            let json = attributes_json(&row.message, &mut b.json);
            b.positions
                .row(16)
                .int8(row.device)
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
                .jsonb(&json);
        }
        for row in &rows.events {
            let json = attributes_json(&row.message, &mut b.json);
            let kind = serde_json::to_value(row.message.kind).ok();
            let kind = kind.as_ref().and_then(|k| k.as_str()).unwrap_or("unknown");
            let kind = if row.message.kind == MessageKind::Heartbeat { "alarm" } else { kind };
            b.events
                .row(6)
                .int8(row.device)
                .timestamptz(row.time)
                .text(kind)
                .timestamptz(row.server_time)
                .int4(row.message.alarms.bits() as i32)
                .jsonb(&json);
        }
        for row in &rows.quarantine {
            b.quarantine.row(6).text(row.protocol);
            match &row.imei {
                Some(imei) => b.quarantine.text(imei),
                None => b.quarantine.null(),
            };
            b.quarantine.timestamptz(row.received_at).text(&row.peer).bytea(&row.frame).jsonb(&row.decoded);
        }
    }
    let mut tx = pool.begin().await?;
    if b.positions.rows() > 0 {
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS positions_staging (LIKE positions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *tx)
        .await?;
        let mut copy = tx.copy_in_raw("COPY positions_staging FROM STDIN (FORMAT binary)").await?;
        copy.send(b.positions.finish()).await?;
        copy.finish().await?;
        sqlx::query(
            "INSERT INTO positions SELECT DISTINCT ON (device_id, fix_time) * FROM positions_staging
             ON CONFLICT DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO device_state AS s (device_id, fix_time, server_time, latitude, longitude, speed_kmh, course,
                 valid, ignition, power_voltage, battery, alarms)
             SELECT DISTINCT ON (device_id) device_id, fix_time, server_time, latitude, longitude, speed_kmh, course,
                 valid, ignition, power_voltage, battery, alarms
             FROM positions_staging ORDER BY device_id, fix_time DESC
             ON CONFLICT (device_id) DO UPDATE SET fix_time = EXCLUDED.fix_time, server_time = EXCLUDED.server_time,
                 latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, speed_kmh = EXCLUDED.speed_kmh,
                 course = EXCLUDED.course, valid = EXCLUDED.valid, ignition = EXCLUDED.ignition,
                 power_voltage = EXCLUDED.power_voltage, battery = EXCLUDED.battery, alarms = EXCLUDED.alarms
             WHERE s.fix_time < EXCLUDED.fix_time",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE devices d SET last_seen = m.seen
             FROM (SELECT device_id, max(server_time) AS seen FROM positions_staging GROUP BY device_id) m
             WHERE d.id = m.device_id AND (d.last_seen IS NULL OR d.last_seen < m.seen)",
        )
        .execute(&mut *tx)
        .await?;
    }
    if b.events.rows() > 0 {
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS events_staging (LIKE device_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *tx)
        .await?;
        let mut copy = tx.copy_in_raw("COPY events_staging FROM STDIN (FORMAT binary)").await?;
        copy.send(b.events.finish()).await?;
        copy.finish().await?;
        sqlx::query(
            "INSERT INTO device_events SELECT DISTINCT ON (device_id, time, kind) * FROM events_staging
             ON CONFLICT DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
    }
    if b.quarantine.rows() > 0 {
        let mut copy = tx
            .copy_in_raw(
                "COPY quarantine (protocol, imei, received_at, peer, frame, decoded) FROM STDIN (FORMAT binary)",
            )
            .await?;
        copy.send(b.quarantine.finish()).await?;
        copy.finish().await?;
    }
    tx.commit().await
}
