//! One device's TCP session. The only code that touches a device's socket.
//!
//! A thin driver around the [`FrameReader`](crate::frames::FrameReader), which decodes without I/O:
//! bytes are read into it, its frames become rows, the rows go to the writer, and the reply that
//! tells the device its message arrived is written only after the writer says they are committed.
//! While the writer is busy this task does not read, so a device cannot outrun the database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use chrono::Utc;
use leasewatch_protocols::{DeviceId, Message, Outgoing, Protocol, Session, SessionConfig};
use leasewatch_store::batch::{DeviceKey, QuarantineRow, Rows};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{IngestConfig, UnknownDevices};
use crate::devices::Registry;
use crate::frames::{FrameReader, Next};
use crate::sessions::{Outbound, Registration, Sessions};
use crate::writer::Writer;

/// What every connection shares.
#[derive(Debug)]
pub struct Shared {
    /// Settings.
    pub config: IngestConfig,
    /// Registered devices.
    pub registry: Registry,
    /// The writer.
    pub writer: Writer,
    /// Open sessions, for commands to devices.
    pub sessions: Sessions,
}

impl Shared {
    /// What connections share under `config`, with the writer started on `pool`; the handle is
    /// the writer's task, which ends once every writer handle is dropped.
    pub fn start(config: IngestConfig, pool: &sqlx::PgPool) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        Self::start_with_outbox(config, pool, None)
    }

    /// [`Shared::start`] with a writer that leaves each batch's parcels in the outbox (see
    /// [`Writer::start_with_outbox`]).
    pub fn start_with_outbox(
        config: IngestConfig,
        pool: &sqlx::PgPool,
        encoder: Option<leasewatch_store::outbox::Encoder>,
    ) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let (writer, task) = if config.writer.discard {
            tracing::warn!("ingest.writer.discard is set: devices are acknowledged and nothing is stored");
            Writer::discarding(&config.writer)
        } else {
            Writer::start_with_outbox(pool.clone(), config.writer.clone(), encoder)
        };
        let shared = Self { config, registry: Registry::new(pool.clone()), writer, sessions: Sessions::default() };
        (Arc::new(shared), task)
    }
}

/// Why a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// The device closed it.
    ByPeer,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// Too many undecodable frames.
    ErrorBudget,
    /// The device is not registered and the policy rejects such devices.
    Unregistered,
    /// The rows could not be made durable; nothing more was acknowledged.
    WriteFailed,
    /// The daemon is shutting down.
    Shutdown,
    /// The socket failed.
    Io(String),
}

/// Buffer capacity of an idle connection; it grows only while a frame is being received.
const READ_BUFFER: usize = 256;

/// The most a connection uploading its backlog reads at once.
const MAX_READ: usize = 8 * 1024;

/// How long a connection with a grown buffer may wait for data before giving the memory back.
const QUIET: Duration = Duration::from_secs(2);

/// Serves one device connection until it closes, fails, idles out, or shutdown is signalled.
pub async fn serve<P: Protocol, S: AsyncRead + AsyncWrite + Unpin>(
    mut socket: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> Closed {
    let limits = &shared.config.limits;
    let config = SessionConfig {
        reject_bad_checksum: shared.config.listeners.get(P::KIND).is_some_and(|l| l.reject_bad_checksum),
        max_frame_len: limits.max_frame_len,
    };
    let mut frames = FrameReader::<P>::new(config, limits.error_budget);
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    // How much the next read asks for: it doubles while reads fill it (a backlog upload, whose
    // burst then arrives in one read and is acknowledged in one write), falls back when the device
    // sends little again, and starts over when it has been quiet, so idle connections stay small.
    let mut read_size = READ_BUFFER;
    let mut reply = Vec::with_capacity(64);
    let peer_text = peer.to_string();
    let idle = Duration::from_secs(limits.idle_timeout_secs.max(1));
    let mut idle_at = Instant::now() + idle;
    // The registered device this session speaks for, once its first rows are durable.
    let mut online: Option<DeviceKey> = None;
    // Commands for the device, once it is known.
    let mut commands: Option<Registration> = None;
    let closed = 'session: loop {
        // Every whole frame in the buffer (a device uploading its backlog sends many at once): their
        // rows go to the writer as one request and their replies out in one write.
        let mut rows = Rows::default();
        reply.clear();
        let mut came_online = None;
        let ended = loop {
            let (frame, ack) = match frames.next(&mut buf) {
                Next::Frame { frame, ack } => (frame, ack),
                Next::NeedBytes => break None,
                Next::OverBudget => break Some(Closed::ErrorBudget),
                Next::Broken(e) => break Some(Closed::Io(e)),
            };
            let device = frames.session.device_id;
            // Rare or large steps are boxed: the task's own state, which every idle connection
            // holds, stays small.
            let added =
                Box::pin(add_rows(&shared, &mut rows, P::KIND.name(), device, frames.messages(), &frame, &peer_text));
            match added.await {
                Ok(()) => {}
                Err(Refused::Unregistered) => break Some(Closed::Unregistered),
                Err(Refused::Lookup) => break Some(Closed::WriteFailed),
            }
            if let (None, None, Some(id)) = (online, came_online, device)
                && let Ok(Some(key)) = Box::pin(shared.registry.lookup(&id)).await
            {
                rows.add_presence(key, Utc::now(), P::KIND, true, "connected");
                came_online = Some(key);
            }
            frames.reply(&ack, Utc::now(), &mut reply);
        };
        // What was accepted before a refusal is still made durable and acknowledged.
        if let Err(error) = Box::pin(shared.writer.write(rows)).await {
            tracing::warn!(%peer, %error, "rows not durable: closing without acknowledging");
            break 'session Closed::WriteFailed;
        }
        if let Some(key) = came_online {
            commands = Some(shared.sessions.register(key));
        }
        online = online.or(came_online);
        if !reply.is_empty()
            && let Err(e) = socket.write_all(&reply).await
        {
            break 'session Closed::Io(e.to_string());
        }
        if let Some(closed) = ended {
            break 'session closed;
        }
        if buf.is_empty() && buf.capacity() > 2 * read_size {
            buf = BytesMut::with_capacity(read_size);
        }
        if buf.capacity() - buf.len() < read_size / 2 {
            // `read_size` in all, the unfinished frame included, so that the consumed front of the
            // buffer is reused instead of the buffer doubling.
            buf.reserve(read_size.saturating_sub(buf.len()).max(64));
        }
        let room = buf.capacity() - buf.len();
        let shrink_at = (buf.is_empty() && buf.capacity() > 2 * READ_BUFFER).then(|| Instant::now() + QUIET);
        let wake = shrink_at.map_or(idle_at, |at| at.min(idle_at));
        let read = tokio::select! {
            read = tokio::time::timeout_at(wake, socket.read_buf(&mut buf)) => read,
            Some(outbound) = next_command(&mut commands) => {
                if let Err(e) = Box::pin(send_command::<P, S>(&mut socket, &mut frames.session, outbound)).await {
                    break 'session Closed::Io(e);
                }
                continue;
            }
            _ = shutdown.changed() => break 'session Closed::Shutdown,
        };
        match read {
            Err(_) if Instant::now() < idle_at => {
                read_size = READ_BUFFER;
                buf = BytesMut::with_capacity(READ_BUFFER);
                frames.release();
            }
            Err(_) => break 'session Closed::Idle,
            Ok(Err(e)) => break 'session Closed::Io(e.to_string()),
            Ok(Ok(0)) => break 'session Closed::ByPeer,
            Ok(Ok(n)) => {
                idle_at = Instant::now() + idle;
                // The time these bytes arrived: once per read, not per frame.
                frames.session.received_at = Some(Utc::now());
                read_size = next_read_size(read_size, n, room);
            }
        }
    };
    if let (Some(key), Some(registration)) = (online, &commands) {
        shared.sessions.leave(key, registration.number);
    }
    if let Some(key) = online {
        let reason = match &closed {
            Closed::ByPeer => "closed",
            Closed::Idle => "idle",
            Closed::Shutdown => "shutdown",
            _ => "error",
        };
        let mut rows = Rows::default();
        rows.add_presence(key, Utc::now(), P::KIND, false, reason);
        if let Err(error) = Box::pin(shared.writer.write(rows)).await {
            tracing::warn!(%peer, %error, "offline event not written");
        }
    }
    closed
}

/// The size of the next read after one that got `n` bytes into `room`: double when it filled
/// the room, half when it got under a quarter of it, within [`READ_BUFFER`, `MAX_READ`].
fn next_read_size(size: usize, n: usize, room: usize) -> usize {
    if n >= room {
        (size * 2).min(MAX_READ)
    } else if n < size / 4 {
        (size / 2).max(READ_BUFFER)
    } else {
        size
    }
}

/// The next command for the device; never ready before the device is known.
async fn next_command(commands: &mut Option<Registration>) -> Option<Outbound> {
    match commands {
        Some(registration) => registration.inbox.recv().await,
        None => std::future::pending().await,
    }
}

/// Encodes `outbound`'s command in the device's protocol and writes it; tells the sender the
/// serial it carried. Only a socket failure ends the session.
async fn send_command<P: Protocol, S: AsyncWrite + Unpin>(
    socket: &mut S,
    session: &mut Session,
    outbound: Outbound,
) -> Result<(), String> {
    let serial = session.next_serial();
    let ctx = Outgoing { device_id: session.device_id.as_ref(), serial, now: Utc::now() };
    let mut frame = Vec::with_capacity(64);
    if let Err(e) = P::encode_command(&outbound.command, ctx, &mut frame) {
        let _ = outbound.sent.send(Err(e.to_string()));
        return Ok(());
    }
    match socket.write_all(&frame).await {
        Ok(()) => {
            let _ = outbound.sent.send(Ok(serial));
            Ok(())
        }
        Err(e) => {
            let _ = outbound.sent.send(Err(e.to_string()));
            Err(e.to_string())
        }
    }
}

/// Why a frame's rows could not be built.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The device is not registered and the policy rejects such devices.
    Unregistered,
    /// The registry could not be read.
    Lookup,
}

/// Adds the rows for one decoded frame to `rows`, following the identity rules: a registered
/// device's messages go to positions and events; anything else goes to quarantine, or is refused.
pub async fn add_rows(
    shared: &Shared,
    rows: &mut Rows,
    protocol: &'static str,
    device_id: Option<DeviceId>,
    messages: &[Message],
    frame: &[u8],
    peer: &str,
) -> Result<(), Refused> {
    let now = Utc::now();
    let key = match &device_id {
        Some(id) => shared.registry.lookup(id).await.map_err(|e| {
            tracing::warn!(%peer, error = %e, "device lookup failed");
            Refused::Lookup
        })?,
        None => None,
    };
    // The frame whole, with what it decoded to, for the quarantine.
    let kept = || QuarantineRow {
        protocol,
        imei: device_id.map(|d| d.to_string()),
        received_at: now,
        peer: peer.to_owned(),
        frame: frame.to_vec(),
        decoded: serde_json::to_string(messages).unwrap_or_else(|_| "[]".to_owned()),
    };
    match key {
        Some(key) => {
            rows.add_messages(key, now, messages);
            // Types the decoder does not read are acknowledged and kept whole, to be read again
            // once it does (the promotion path replays them).
            let unknown: Vec<String> = messages.iter().filter_map(Message::unknown_type).collect();
            if !unknown.is_empty() {
                for kind in unknown {
                    crate::metrics::unknown_frame(protocol, kind);
                }
                rows.quarantine.push(kept());
            }
        }
        None if shared.config.unknown_devices == UnknownDevices::Reject && device_id.is_some() => {
            tracing::info!(%peer, device = ?device_id, "unregistered device rejected");
            return Err(Refused::Unregistered);
        }
        None => rows.quarantine.push(kept()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_grow_while_a_backlog_fills_them_and_shrink_back_when_the_device_goes_quiet() {
        let mut size = READ_BUFFER;
        for _ in 0..10 {
            size = next_read_size(size, size, size);
        }
        assert_eq!(size, MAX_READ);
        // A read that got part of its room keeps the size: the burst fitted.
        assert_eq!(next_read_size(size, size / 2, size), size);
        for _ in 0..10 {
            size = next_read_size(size, 20, size);
        }
        assert_eq!(size, READ_BUFFER);
    }
}
