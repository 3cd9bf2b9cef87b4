//! What the monitor sees: one committed position or device event, in the monitor's own terms so
//! that it does not depend on how ingest stores rows (in one process it comes from the writer's
//! stream; with the roles apart, from the message engine's shards).

use chrono::{DateTime, Utc};
use leasewatch_protocols::{AlarmSet, Position, Status};

/// One committed row about a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The registered device.
    pub device_id: i64,
    /// When the server received it.
    pub server_time: DateTime<Utc>,
    /// What it was.
    pub seen: Seen,
}

/// The kinds of observation the rules use.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// A position, with the device's status and any alarms it raised.
    Fix {
        /// The fix.
        position: Position,
        /// Ignition, power.
        status: Status,
        /// Alarms.
        alarms: AlarmSet,
    },
    /// An alarm, or a status report, without a usable fix.
    Status {
        /// Ignition, power.
        status: Status,
        /// Alarms.
        alarms: AlarmSet,
    },
    /// The device's session started.
    Online,
    /// The device's session ended.
    Offline,
    /// The device answered a command: the serial (or flag) it echoes, and its text or result code.
    CommandReply {
        /// The server serial or flag echoed, when the protocol echoes one.
        serial: Option<i64>,
        /// What the device said.
        text: String,
    },
}
