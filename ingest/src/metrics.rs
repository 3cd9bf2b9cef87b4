//! Ingest metrics, each defined once here with its name, labels and meaning.
//!
//! | metric | kind | labels | meaning |
//! |---|---|---|---|
//! | `leasewatch_frames_total` | counter | protocol | frames received whole |
//! | `leasewatch_messages_total` | counter | protocol | messages decoded |
//! | `leasewatch_decode_errors_total` | counter | protocol | undecodable frames and garbage runs |
//! | `leasewatch_checksum_failures_total` | counter | protocol | frames whose checksum did not match |
//! | `leasewatch_unknown_frames_total` | counter | protocol, type | frames of a type the decoder does not read, kept raw in the quarantine |
//! | `leasewatch_connections` | gauge | protocol | open device connections |
//! | `leasewatch_connections_refused_total` | counter | reason | connections refused by a limit |
//! | `leasewatch_batch_rows` | histogram | | rows per writer batch |
//! | `leasewatch_write_seconds` | histogram | | time to commit a batch |
//! | `leasewatch_durable_seconds` | histogram | | from a connection handing rows to the writer (a wait on the full queue included) to its answer, whatever it is: what devices wait for |
//! | `leasewatch_writer_queue` | gauge | | requests waiting for the writer |
//! | `leasewatch_spool_bytes` | gauge | | bytes in the spool |
//! | `leasewatch_spooled_batches_total` | counter | | batches written to the spool |
//! | `leasewatch_deduplicated_batches_total` | counter | | batches that held resent positions (de-duplicated through staging) |

use leasewatch_protocols::ProtocolKind;
use metrics::{Counter, Gauge, counter, gauge, histogram};

/// One connection's counters, resolved once so that the per-frame cost is an atomic add.
#[derive(Debug, Clone)]
pub struct ConnectionMetrics {
    /// Frames received.
    pub frames: Counter,
    /// Messages decoded.
    pub messages: Counter,
    /// Undecodable frames and garbage.
    pub errors: Counter,
    /// Checksum mismatches.
    pub checksum_failures: Counter,
    open: Gauge,
}

impl ConnectionMetrics {
    /// Counters for a new connection of `protocol` (counted open until dropped).
    pub fn open(protocol: ProtocolKind) -> Self {
        let p = protocol.name();
        let open = gauge!("leasewatch_connections", "protocol" => p);
        open.increment(1.0);
        Self {
            frames: counter!("leasewatch_frames_total", "protocol" => p),
            messages: counter!("leasewatch_messages_total", "protocol" => p),
            errors: counter!("leasewatch_decode_errors_total", "protocol" => p),
            checksum_failures: counter!("leasewatch_checksum_failures_total", "protocol" => p),
            open,
        }
    }
}

impl Drop for ConnectionMetrics {
    fn drop(&mut self) {
        self.open.decrement(1.0);
    }
}

/// A registered device sent a frame of a type the decoder does not read (kept in the quarantine).
pub fn unknown_frame(protocol: &'static str, kind: String) {
    counter!("leasewatch_unknown_frames_total", "protocol" => protocol, "type" => kind).increment(1);
}

/// A connection was refused by a limit (`total` or `per_ip`).
pub fn connection_refused(reason: &'static str) {
    counter!("leasewatch_connections_refused_total", "reason" => reason).increment(1);
}

/// A batch of `rows` was committed in `seconds`.
pub fn batch_written(rows: usize, seconds: f64) {
    histogram!("leasewatch_batch_rows").record(rows as f64);
    histogram!("leasewatch_write_seconds").record(seconds);
}

/// The writer answered a request `seconds` after it arrived.
pub fn request_answered(seconds: f64) {
    histogram!("leasewatch_durable_seconds").record(seconds);
}

/// A batch held positions stored already (resends) and took the de-duplicating path.
pub fn batch_deduplicated() {
    counter!("leasewatch_deduplicated_batches_total").increment(1);
}

/// A batch went to the spool.
pub fn batch_spooled() {
    counter!("leasewatch_spooled_batches_total").increment(1);
}

/// The writer's queue depth and the spool's size.
pub fn writer_state(queue: usize, spool_bytes: u64) {
    gauge!("leasewatch_writer_queue").set(queue as f64);
    gauge!("leasewatch_spool_bytes").set(spool_bytes as f64);
}
