//! The protocol side of a device connection, without I/O: bytes in, one decoded frame at a time
//! out, replies written on request. It counts frames, messages, garbage and checksum failures,
//! and ends the session once the error budget is spent. The connection task (`connection.rs`)
//! drives it: it reads, asks for frames, looks devices up, hands rows to the writer, and writes
//! the replies once they are durable.

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use leasewatch_protocols::{Chunk, FrameCodec, Message, Protocol, Session, SessionConfig};
use tokio_util::codec::Decoder;

use crate::metrics::ConnectionMetrics;

/// What the buffered bytes hold next.
#[derive(Debug)]
pub enum Next<A> {
    /// No whole frame is buffered: read more.
    NeedBytes,
    /// A frame decoded into [`FrameReader::messages`], from [`FrameReader::session`]'s device
    /// when it is known; `ack` is what its reply acknowledges.
    Frame {
        /// The raw frame (kept whole in the quarantine for an unknown device).
        frame: BytesMut,
        /// What the reply acknowledges.
        ack: A,
    },
    /// Too many undecodable frames: the session ends.
    OverBudget,
    /// The stream cannot be read any more.
    Broken(String),
}

/// Frames in, decoded messages and replies out, for one connection of protocol `P`.
pub struct FrameReader<P> {
    /// Who the device is (from its login, handshake or frame header) and what is half-received.
    pub session: Session,
    codec: FrameCodec<P>,
    messages: Vec<Message>,
    errors: u32,
    error_budget: u32,
    metrics: ConnectionMetrics,
}

impl<P: Protocol> FrameReader<P> {
    /// A reader for a new connection: frames capped at `config.max_frame_len`, and more than
    /// `error_budget` undecodable frames end it.
    pub fn new(config: SessionConfig, error_budget: u32) -> Self {
        Self {
            codec: FrameCodec::new(config.max_frame_len),
            session: Session::new(config),
            // Most frames make one message; room for more is made when one needs it.
            messages: Vec::with_capacity(1),
            errors: 0,
            error_budget,
            metrics: ConnectionMetrics::open(P::KIND),
        }
    }

    /// The messages of the last frame returned.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The next decoded frame in `buf`, skipping garbage and undecodable frames within the budget.
    pub fn next(&mut self, buf: &mut BytesMut) -> Next<P::Ack> {
        loop {
            let frame = match self.codec.decode(buf) {
                Ok(Some(Chunk::Frame(frame))) => {
                    self.metrics.frames.increment(1);
                    frame
                }
                Ok(Some(Chunk::Skipped { error, .. })) => {
                    tracing::debug!(protocol = %P::KIND, %error, "skipped bytes");
                    if self.failed() {
                        return Next::OverBudget;
                    }
                    continue;
                }
                Ok(None) => return Next::NeedBytes,
                Err(e) => return Next::Broken(e.to_string()),
            };
            self.messages.clear();
            let checksum_failures = self.session.checksum_failures;
            let decoded = P::decode(&frame, &mut self.session, &mut self.messages);
            if self.session.checksum_failures != checksum_failures {
                self.metrics.checksum_failures.increment(1);
            }
            match decoded {
                Ok(ack) => {
                    self.metrics.messages.increment(self.messages.len() as u64);
                    return Next::Frame { frame, ack };
                }
                Err(error) => {
                    tracing::debug!(protocol = %P::KIND, %error, frame = %hex(&frame), "undecodable frame");
                    if self.failed() {
                        return Next::OverBudget;
                    }
                }
            }
        }
    }

    /// Gives back the room a burst of multi-message frames took, for a connection gone quiet.
    pub fn release(&mut self) {
        if self.messages.capacity() > 1 {
            self.messages = Vec::with_capacity(1);
        }
    }

    /// Appends the reply that acknowledges `ack` to `out`.
    pub fn reply(&mut self, ack: &P::Ack, now: DateTime<Utc>, out: &mut Vec<u8>) {
        P::write_reply(ack, &mut self.session, now, out);
    }

    /// Counts an undecodable frame or garbage; whether the budget is now spent.
    fn failed(&mut self) -> bool {
        self.errors += 1;
        self.metrics.errors.increment(1);
        self.errors > self.error_budget
    }
}

fn hex(bytes: &[u8]) -> String {
    leasewatch_protocols::message::HexDisplay(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use leasewatch_protocols::{DeviceId, Gt06, Position, gt06};

    use super::*;

    fn reader(budget: u32) -> FrameReader<Gt06> {
        FrameReader::new(SessionConfig { reject_bad_checksum: true, max_frame_len: 1024 }, budget)
    }

    fn fix() -> Position {
        Position {
            fix_time: DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            latitude: 31.2304,
            longitude: 121.4737,
            speed_kmh: 42.0,
            course: 90.0,
            altitude: None,
            satellites: Some(9),
            valid: true,
            cell: None,
        }
    }

    fn login_then_position() -> Vec<u8> {
        let mut bytes = Vec::new();
        let imei = DeviceId::new(b"864717003283999").unwrap();
        gt06::device::login(&imei, 1, &mut bytes);
        gt06::device::position(&fix(), 2, &mut bytes);
        bytes
    }

    #[test]
    fn a_login_then_a_location_come_out_one_frame_at_a_time_with_their_replies() {
        let mut r = reader(3);
        let mut buf = BytesMut::from(&login_then_position()[..]);
        let mut replies = Vec::new();
        for _ in 0..2 {
            let Next::Frame { ack, .. } = r.next(&mut buf) else { panic!("a frame is buffered") };
            r.reply(&ack, Utc::now(), &mut replies);
        }
        assert!(matches!(r.next(&mut buf), Next::NeedBytes));
        assert!(r.session.device_id.is_some(), "the login named the device");
        let position = r.messages()[0].position.unwrap();
        assert_eq!((position.latitude, position.longitude), (31.2304, 121.4737), "the last frame was the location");
        assert!(!replies.is_empty());
    }

    #[test]
    fn a_frame_split_across_reads_waits_for_its_rest() {
        let mut r = reader(3);
        let bytes = login_then_position();
        let mut buf = BytesMut::from(&bytes[..bytes.len() - 3]);
        assert!(matches!(r.next(&mut buf), Next::Frame { .. }), "the login is whole");
        assert!(matches!(r.next(&mut buf), Next::NeedBytes), "the location is not");
        buf.extend_from_slice(&bytes[bytes.len() - 3..]);
        assert!(matches!(r.next(&mut buf), Next::Frame { .. }));
    }

    #[test]
    fn undecodable_frames_are_skipped_until_the_budget_is_spent() {
        let mut r = reader(1);
        let mut corrupt = login_then_position();
        let at = corrupt.len() - 5;
        corrupt[at] ^= 0xFF; // the location's checksum no longer matches
        let mut buf = BytesMut::from(&corrupt[..]);
        assert!(matches!(r.next(&mut buf), Next::Frame { .. }), "the login is sound");
        buf.extend_from_slice(&corrupt[corrupt.len() / 2..]);
        let mut seen_over = false;
        for _ in 0..4 {
            match r.next(&mut buf) {
                Next::OverBudget => {
                    seen_over = true;
                    break;
                }
                Next::NeedBytes => break,
                _ => {}
            }
        }
        assert!(seen_over, "two bad frames against a budget of one end the session");
    }
}
