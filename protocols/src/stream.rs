//! Splitting byte streams into frames: a tokio-util [`Decoder`] for sockets and a plain
//! iterator for in-memory captures, both driven by [`Protocol::scan`].

use std::marker::PhantomData;

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

use crate::error::{DecodeError, ErrorKind};
use crate::protocol::{Protocol, Scan};

/// One piece of a byte stream: a whole frame, or bytes that were skipped and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<F> {
    /// A whole frame.
    Frame(F),
    /// Bytes dropped while resynchronising; the offset is relative to the stream's start.
    Skipped(DecodeError),
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
        if src.is_empty() {
            return Ok(None);
        }
        let offset = self.consumed;
        match P::scan(src, self.max_frame_len) {
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
                src.advance(skip);
                self.consumed += skip;
                Ok(Some(Chunk::Skipped(DecodeError::new(offset, error))))
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        match self.decode(src)? {
            Some(chunk) => Ok(Some(chunk)),
            None if src.is_empty() => Ok(None),
            None => {
                // The stream ended inside what looked like a frame. That start may have been noise
                // hiding real frames behind it: drop one byte and scan on.
                let offset = self.consumed;
                self.consumed += 1;
                src.advance(1);
                Ok(Some(Chunk::Skipped(DecodeError::new(offset, ErrorKind::Truncated))))
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
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let offset = self.pos;
        Some(match P::scan(rest, self.max_frame_len) {
            Scan::Frame(len) => {
                self.pos += len;
                (offset, Chunk::Frame(&rest[..len]))
            }
            Scan::Incomplete => {
                // The end of the input inside what looked like a frame: as `decode_eof` does, drop
                // one byte and scan on, so that a false start cannot hide the frames after it.
                self.pos += 1;
                (offset, Chunk::Skipped(DecodeError::new(offset, ErrorKind::Truncated)))
            }
            Scan::Skip { skip, error } => {
                self.pos += skip.clamp(1, rest.len());
                (offset, Chunk::Skipped(DecodeError::new(offset, error)))
            }
        })
    }
}

/// Finds the first occurrence of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}
