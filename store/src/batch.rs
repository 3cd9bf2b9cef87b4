//! The rows of a batch: what a connection hands to the writer, what the writer commits, and what
//! the monitor reads once they are durable. Positions, device events of a typed kind, and frames
//! from devices nobody registered.

use chrono::{DateTime, Utc};
use leasewatch_protocols::{AttrKey, AttrValue, Message, MessageKind, ProtocolKind};

/// A registered device's id (`devices.id`).
pub type DeviceKey = i64;

/// What a device event row records: the `kind` column of `device_events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// The device logged in.
    Login,
    /// The device logged out.
    Logout,
    /// An alarm, or a status report with alarms, without a fix.
    Alarm,
    /// The device answered a command.
    CommandReply,
    /// The device's session started.
    Online,
    /// The device's session ended.
    Offline,
}

impl EventKind {
    /// The event kind of a message without a fix: one that carries alarms is an alarm.
    pub fn of(kind: MessageKind) -> Self {
        match kind {
            MessageKind::Login => Self::Login,
            MessageKind::Logout => Self::Logout,
            MessageKind::CommandReply => Self::CommandReply,
            _ => Self::Alarm,
        }
    }

    /// Its name in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Logout => "logout",
            Self::Alarm => "alarm",
            Self::CommandReply => "command_reply",
            Self::Online => "online",
            Self::Offline => "offline",
        }
    }
}

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

/// A device event row (login, logout, alarm without a fix, command reply, online, offline).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// The registered device.
    pub device: DeviceKey,
    /// What happened.
    pub kind: EventKind,
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
                // A reply to a position query carries a fix: it is the command's answer as well.
                if message.kind != MessageKind::CommandReply {
                    continue;
                }
            }
            let kind_matters = matches!(
                message.kind,
                MessageKind::Login | MessageKind::Logout | MessageKind::Alarm | MessageKind::CommandReply
            );
            if kind_matters || !message.alarms.is_empty() {
                let kind = EventKind::of(message.kind);
                self.events.push(EventRow { device, kind, time: server_time, server_time, message: message.clone() });
            }
        }
    }
}

impl Rows {
    /// Adds a presence event: the device's session started (`online`) or ended (`offline`, with
    /// why: `closed`, `idle`, `error`, `shutdown`).
    pub fn add_presence(
        &mut self,
        device: DeviceKey,
        time: DateTime<Utc>,
        protocol: ProtocolKind,
        online: bool,
        reason: &'static str,
    ) {
        let mut message = Message::new(protocol, MessageKind::Heartbeat);
        message.attributes.push(AttrKey::Name("reason"), AttrValue::Text(reason.to_owned()));
        let kind = if online { EventKind::Online } else { EventKind::Offline };
        self.events.push(EventRow { device, kind, time, server_time: time, message });
    }
}
