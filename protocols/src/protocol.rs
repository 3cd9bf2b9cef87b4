//! The contract every protocol module fulfils, and the per-connection session it works in.

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::error::{DecodeError, ErrorKind};
use crate::message::{DeviceId, Message, ProtocolKind};
use crate::reassembly::Reassembly;

/// The result of looking for a frame at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// A whole frame of this many bytes starts at byte 0.
    Frame(usize),
    /// The first bytes are padding the protocol allows between frames (line endings after an H02
    /// `#`): drop them without reporting an error.
    Padding(usize),
    /// The buffer holds the beginning of a frame: read more bytes.
    Incomplete,
    /// The first `skip` bytes are not a valid frame: drop them and scan again.
    Skip {
        /// How many bytes to drop (always at least 1).
        skip: usize,
        /// Why they are dropped.
        error: ErrorKind,
    },
}

/// Settings of one device session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Refuse frames whose checksum does not match, instead of flagging them (`checksum_ok: false`).
    pub reject_bad_checksum: bool,
    /// The longest frame accepted; bytes beyond it are never buffered.
    pub max_frame_len: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self { reject_bad_checksum: false, max_frame_len: default_max_frame_len() }
    }
}

/// The default cap on one frame: larger than any real frame of these protocols (a JT/T 808
/// sub-package or a full Teltonika packet fits in a few kilobytes), small enough that a
/// hostile length field cannot make a connection hold much memory.
pub const fn default_max_frame_len() -> usize {
    16 * 1024
}

/// A device connection's protocol state: who the device is, and what is half-received.
#[derive(Debug, Default)]
pub struct Session {
    /// Settings.
    pub config: SessionConfig,
    /// The device id learned from a login, handshake or frame header.
    pub device_id: Option<DeviceId>,
    /// Frames whose checksum did not match.
    pub checksum_failures: u64,
    /// Reusable buffer (JT/T 808 unescaping), so that decoding does not allocate per frame.
    pub(crate) scratch: Vec<u8>,
    /// JT/T 808 sub-packages waiting for their siblings.
    pub(crate) fragments: Reassembly,
    /// The server's own serial number for the frames it sends.
    server_serial: u16,
    /// When the bytes being decoded arrived: the time of a fix whose frame carries no date.
    pub received_at: Option<DateTime<Utc>>,
}

impl Session {
    /// A session with the given settings.
    pub fn new(config: SessionConfig) -> Self {
        Self { config, ..Self::default() }
    }

    /// The next serial number for a server-to-device frame.
    pub fn next_serial(&mut self) -> u16 {
        let serial = self.server_serial;
        self.server_serial = self.server_serial.wrapping_add(1);
        serial
    }

    /// Records a checksum comparison; `Err` when it failed and the session rejects such frames.
    pub(crate) fn check(&mut self, offset: usize, declared: u32, computed: u32) -> Result<bool, DecodeError> {
        if declared == computed {
            return Ok(true);
        }
        self.checksum_failures += 1;
        if self.config.reject_bad_checksum {
            return Err(DecodeError::new(offset, ErrorKind::BadChecksum { declared, computed }));
        }
        Ok(false)
    }
}

/// A command the monitor sends to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Cut the fuel pump or starter relay (immobilize).
    EngineCut,
    /// Restore the relay.
    EngineRestore,
    /// Report a position now.
    LocateNow,
    /// Report every `seconds` seconds while moving.
    SetInterval {
        /// The reporting period.
        seconds: u32,
    },
    /// A device-specific text command, sent as is.
    Text(String),
}

/// Why a command could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The protocol addresses commands by device id and the session has none.
    #[error("the device has not identified itself")]
    NoDeviceId,
    /// The command does not fit the protocol's frame.
    #[error("command too long: {0} bytes")]
    TooLong(usize),
    /// The value is outside what the protocol can carry.
    #[error("value out of range: {0}")]
    OutOfRange(String),
}

/// Context for encoding server-to-device frames.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The device addressed (required by JT/T 808 and H02).
    pub device_id: Option<&'a DeviceId>,
    /// The server's serial number for this frame.
    pub serial: u16,
    /// The server's clock, for protocols that carry a time.
    pub now: DateTime<Utc>,
}

/// One device protocol: framing, decoding, replies and commands. Implemented by zero-sized
/// types ([`crate::Gt06`], [`crate::Jt808`], [`crate::Teltonika`], [`crate::H02`]).
pub trait Protocol: Send + Sync {
    /// Which protocol this is.
    const KIND: ProtocolKind;

    /// What the server owes the device for one frame.
    type Ack: std::fmt::Debug + Clone + PartialEq + Send;

    /// Looks for a frame at the start of `buf`. Never asks for more than `max_frame_len` bytes.
    fn scan(buf: &[u8], max_frame_len: usize) -> Scan;

    /// [`Protocol::scan`] when no more bytes will come (the stream ended): a protocol whose devices
    /// drop the end of a frame may take what is there instead of waiting.
    fn scan_at_end(buf: &[u8], max_frame_len: usize) -> Scan {
        Self::scan(buf, max_frame_len)
    }

    /// Decodes one whole frame (as returned by [`Protocol::scan`]) into messages appended to `out`,
    /// and says what to acknowledge. Errors carry offsets relative to the frame.
    fn decode(frame: &[u8], session: &mut Session, out: &mut Vec<Message>) -> Result<Self::Ack, DecodeError>;

    /// Writes the reply for `ack` into `out` (nothing when the protocol needs none).
    fn write_reply(ack: &Self::Ack, session: &mut Session, now: DateTime<Utc>, out: &mut Vec<u8>);

    /// Writes `command` as a server-to-device frame into `out`.
    fn encode_command(command: &Command, ctx: Outgoing<'_>, out: &mut Vec<u8>) -> Result<(), CommandError>;
}
