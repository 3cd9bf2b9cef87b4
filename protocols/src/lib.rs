//! Device protocols for leasewatch: bytes in, typed values out. No runtime, no sockets, no clock.
//!
//! # Layout
//! - [`message`]: the normalized [`Message`] every protocol decodes into (positions, status, alarms, attributes).
//! - [`protocol`]: the [`Protocol`] trait (scan, decode, reply, command), the per-connection [`Session`], [`Command`]s.
//! - [`stream`]: splitting byte streams into frames — a tokio-util decoder and an in-memory iterator.
//! - [`gt06`], [`jt808`], [`teltonika`], [`h02`]: one module per protocol, each with its device-side encoders.
//! - `reassembly.rs`: JT/T 808 sub-packages held until the whole message is in.
//! - [`checksum`]: CRC-ITU, CRC-16/IBM and XOR.
//! - [`error`]: typed errors with byte offsets.
//!
//! Peer bytes never reach a panic: every length is checked before it is used and every field
//! value is range-checked before it becomes a typed value.

pub mod checksum;
pub mod error;
pub mod gt06;
pub mod h02;
pub mod jt808;
pub mod message;
mod parse;
pub mod protocol;
mod reassembly;
pub mod stream;
pub mod teltonika;

pub use error::{DecodeError, ErrorKind};
pub use gt06::Gt06;
pub use h02::H02;
pub use jt808::Jt808;
pub use message::{
    Alarm, AlarmSet, AttrKey, AttrValue, Attributes, CellInfo, DeviceId, Message, MessageKind, Position, ProtocolKind,
    Status,
};
pub use protocol::{Command, CommandError, Outgoing, Protocol, Scan, Session, SessionConfig};
pub use stream::{Chunk, Decoded, FrameCodec, Frames, decode_all};
pub use teltonika::Teltonika;
