//! Splitting byte streams into frames: a tokio-util [`Decoder`] for sockets and a plain
//! iterator for in-memory captures, both driven by [`Protocol::scan`].

use std::marker::PhantomData;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use tokio_util::codec::Decoder;

use crate::error::{DecodeError, ErrorKind};
use crate::message::Message;
use crate::protocol::{Protocol, Scan, Session};

/// One piece of a byte stream: a whole frame, or bytes that were skipped and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<F> {
    /// A whole frame.
    Frame(F),
    /// Bytes dropped while resynchronising, and why; the error's offset is relative to the stream's start.
    Skipped {
        /// Why the bytes were dropped.
        error: DecodeError,
        /// The bytes dropped.
        bytes: F,
    },
}

/// A tokio-util decoder that yields the frames of protocol `P` from a socket.
///
/// It never buffers more than `max_frame_len` bytes waiting for one frame, and after garbage
/// or a broken frame it resumes at the next frame start instead of closing the stream.
#[derive(Debug)]
pub struct FrameCodec<P> {
    max_frame_len: usize,
    consumed: usize,
    protocol: PhantomData<P>,
}

impl<P: Protocol> FrameCodec<P> {
    /// A codec capping frames at `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        Self { max_frame_len, consumed: 0, protocol: PhantomData }
    }

    /// Bytes taken from the stream so far.
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}

impl<P: Protocol> Decoder for FrameCodec<P> {
    type Item = Chunk<BytesMut>;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        let mut scan = P::scan(src, self.max_frame_len);
        while let Scan::Padding(n) = scan {
            let n = n.clamp(1, src.len());
            let _ = src.split_to(n);
            self.consumed += n;
            scan = P::scan(src, self.max_frame_len);
        }
        if src.is_empty() {
            return Ok(None);
        }
        let offset = self.consumed;
        match scan {
            Scan::Padding(_) => Ok(None),
            Scan::Frame(len) => {
                self.consumed += len;
                Ok(Some(Chunk::Frame(src.split_to(len))))
            }
            Scan::Incomplete => {
                src.reserve(64);
                Ok(None)
            }
            Scan::Skip { skip, error } => {
                let skip = skip.clamp(1, src.len());
                self.consumed += skip;
                Ok(Some(Chunk::Skipped { error: DecodeError::new(offset, error), bytes: src.split_to(skip) }))
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        match self.decode(src)? {
            Some(chunk) => Ok(Some(chunk)),
            None if src.is_empty() => Ok(None),
            None if let Scan::Frame(len) = P::scan_at_end(src, self.max_frame_len) => {
                self.consumed += len;
                Ok(Some(Chunk::Frame(src.split_to(len.clamp(1, src.len())))))
            }
            None => {
                // The stream ended inside what looked like a frame. That start may have been noise
                // hiding real frames behind it: drop one byte and scan on.
                let offset = self.consumed;
                self.consumed += 1;
                Ok(Some(Chunk::Skipped {
                    error: DecodeError::new(offset, ErrorKind::Truncated),
                    bytes: src.split_to(1),
                }))
            }
        }
    }
}

/// Iterates over the frames of protocol `P` in an in-memory byte stream, yielding each frame
/// with its offset in the stream.
#[derive(Debug)]
pub struct Frames<'a, P> {
    buf: &'a [u8],
    pos: usize,
    max_frame_len: usize,
    protocol: PhantomData<P>,
}

impl<'a, P: Protocol> Frames<'a, P> {
    /// Frames of `buf`, capped at `max_frame_len` bytes each.
    pub fn new(buf: &'a [u8], max_frame_len: usize) -> Self {
        Self { buf, pos: 0, max_frame_len, protocol: PhantomData }
    }
}

impl<'a, P: Protocol> Iterator for Frames<'a, P> {
    type Item = (usize, Chunk<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let mut scan = P::scan(rest, self.max_frame_len);
        while let Scan::Padding(n) = scan {
            self.pos += n.clamp(1, rest.len());
            rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
            scan = P::scan(rest, self.max_frame_len);
        }
        let offset = self.pos;
        Some(match scan {
            Scan::Padding(_) => return None,
            Scan::Frame(len) => {
                self.pos += len;
                (offset, Chunk::Frame(&rest[..len]))
            }
            Scan::Incomplete if let Scan::Frame(len) = P::scan_at_end(rest, self.max_frame_len) => {
                let len = len.clamp(1, rest.len());
                self.pos += len;
                (offset, Chunk::Frame(&rest[..len]))
            }
            Scan::Incomplete => {
                // The end of the input inside what looked like a frame: as `decode_eof` does, drop
                // one byte and scan on, so that a false start cannot hide the frames after it.
                self.pos += 1;
                let error = DecodeError::new(offset, ErrorKind::Truncated);
                (offset, Chunk::Skipped { error, bytes: &rest[..1] })
            }
            Scan::Skip { skip, error } => {
                let skip = skip.clamp(1, rest.len());
                self.pos += skip;
                (offset, Chunk::Skipped { error: DecodeError::new(offset, error), bytes: &rest[..skip] })
            }
        })
    }
}

/// Everything one session made of an in-memory stream.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The messages, in order.
    pub messages: Vec<Message>,
    /// The replies the server would send, concatenated.
    pub replies: Vec<u8>,
    /// Frames that could not be decoded and bytes that were skipped; offsets are the stream's.
    pub errors: Vec<DecodeError>,
}

/// Frames and decodes a whole in-memory stream in `session`, writing the replies with the clock
/// at `now`: what captures, fuzzing and tests need.
pub fn decode_all<P: Protocol>(bytes: &[u8], session: &mut Session, now: DateTime<Utc>) -> Decoded {
    let mut decoded = Decoded::default();
    session.received_at = Some(now);
    for (offset, chunk) in Frames::<P>::new(bytes, session.config.max_frame_len) {
        match chunk {
            Chunk::Frame(frame) => match P::decode(frame, session, &mut decoded.messages) {
                Ok(ack) => P::write_reply(&ack, session, now, &mut decoded.replies),
                Err(error) => decoded.errors.push(error.shifted(offset)),
            },
            Chunk::Skipped { error, .. } => decoded.errors.push(error),
        }
    }
    decoded
}

/// Finds the first occurrence of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Gt06, H02, Jt808};

    const LOGIN: &[u8] =
        &[0x78, 0x78, 0x0D, 0x01, 0x08, 0x64, 0x71, 0x70, 0x03, 0x28, 0x35, 0x81, 0x00, 0x09, 0x3F, 0x04, 0x0D, 0x0A];

    /// Feeds `bytes` to the codec `step` bytes at a time, as reads from a socket arrive.
    fn feed<P: Protocol>(bytes: &[u8], step: usize, max: usize) -> Vec<Chunk<BytesMut>> {
        let mut codec = FrameCodec::<P>::new(max);
        let mut buf = BytesMut::new();
        let mut chunks = Vec::new();
        for piece in bytes.chunks(step) {
            buf.extend_from_slice(piece);
            while let Ok(Some(chunk)) = codec.decode(&mut buf) {
                chunks.push(chunk);
            }
        }
        while let Ok(Some(chunk)) = codec.decode_eof(&mut buf) {
            chunks.push(chunk);
        }
        chunks
    }

    #[test]
    fn frames_split_across_reads_come_out_whole() {
        let stream: Vec<u8> = [LOGIN, LOGIN, LOGIN].concat();
        for step in [1, 2, 5, 17, 18, 100] {
            let chunks = feed::<Gt06>(&stream, step, 1024);
            assert_eq!(chunks.len(), 3, "step {step}");
            assert!(chunks.iter().all(|c| matches!(c, Chunk::Frame(f) if &f[..] == LOGIN)), "step {step}");
        }
    }

    #[test]
    fn garbage_between_frames_is_reported_once_with_its_offset() {
        let stream: Vec<u8> = [LOGIN, b"noise!", LOGIN].concat();
        let chunks = feed::<Gt06>(&stream, 100, 1024);
        assert_eq!(chunks.len(), 3);
        assert!(matches!(&chunks[1], Chunk::Skipped { error, bytes } if error.offset == 18 && &bytes[..] == b"noise!"));
        // Garbage split across reads is reported piece by piece, every byte of it once.
        let chunks = feed::<Gt06>(&stream, 7, 1024);
        let skipped: usize =
            chunks.iter().map(|c| if let Chunk::Skipped { bytes, .. } = c { bytes.len() } else { 0 }).sum();
        assert_eq!(skipped, 6);
        assert_eq!(chunks.iter().filter(|c| matches!(c, Chunk::Frame(_))).count(), 2);
    }

    #[test]
    fn a_frame_that_never_ends_is_dropped_at_the_cap_not_buffered_forever() {
        let mut stream = b"*HQ,1234567890,V1,".to_vec();
        stream.extend(std::iter::repeat_n(b'9', 5000));
        stream.extend_from_slice(b"*HQ,1,XT#");
        let chunks = feed::<H02>(&stream, 64, 256);
        assert!(matches!(&chunks[0], Chunk::Skipped { error, .. } if error.kind == ErrorKind::MissingTerminator));
        assert!(matches!(chunks.last(), Some(Chunk::Frame(f)) if &f[..] == b"*HQ,1,XT#"));
    }

    #[test]
    fn an_impossible_length_is_refused_before_its_bytes_arrive() {
        let mut codec = FrameCodec::<Gt06>::new(1024);
        let mut buf = BytesMut::from(&[0x79, 0x79, 0xFF, 0xFF][..]);
        let chunk = codec.decode(&mut buf).ok().flatten();
        assert!(
            matches!(chunk, Some(Chunk::Skipped { error, .. }) if matches!(error.kind, ErrorKind::BadLength { .. }))
        );
    }

    #[test]
    fn line_breaks_after_h02_frames_are_padding_not_errors() {
        let stream = b"*HQ,1,XT#\r\n*HQ,2,XT# \r\n";
        let chunks: Vec<_> = Frames::<H02>::new(stream, 1024).collect();
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        assert!(chunks.iter().all(|(_, c)| matches!(c, Chunk::Frame(_))));
        let fed = feed::<H02>(stream, 3, 1024);
        assert_eq!(fed.len(), 2, "{fed:?}");
    }

    #[test]
    fn jt808_delimiters_without_a_frame_between_are_resynchronised() {
        let frame = [0x7E, 0x00, 0x02, 0x00, 0x00, 0x01, 0x38, 0x00, 0x13, 0x80, 0x00, 0x00, 0x01, 0x2A, 0x7E];
        let stream: Vec<u8> = [&[0x7E][..], &frame[..]].concat();
        let frames: Vec<_> =
            Frames::<Jt808>::new(&stream, 1024).filter(|(_, c)| matches!(c, Chunk::Frame(_))).collect();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, 1);
    }
}
