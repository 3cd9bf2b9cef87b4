//! Typed decoding errors. Every error names the byte offset where the problem was found.

use thiserror::Error;

/// What went wrong while framing or parsing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ErrorKind {
    /// The frame ended before a field it declares.
    #[error("frame truncated: needed more bytes")]
    Truncated,
    /// A declared length is impossible or above the configured cap.
    #[error("impossible length {len} (allowed {min}..={max})")]
    BadLength {
        /// The declared length.
        len: usize,
        /// The smallest length allowed.
        min: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// A frame did not end with its terminator or delimiter.
    #[error("missing frame terminator")]
    MissingTerminator,
    /// Bytes that are not the start of any frame were skipped.
    #[error("{0} bytes of garbage skipped")]
    Garbage(usize),
    /// The checksum did not match and the session rejects such frames.
    #[error("checksum mismatch: frame says {declared:#06x}, computed {computed:#06x}")]
    BadChecksum {
        /// The checksum carried by the frame.
        declared: u32,
        /// The checksum computed over the frame.
        computed: u32,
    },
    /// A field holds a value outside its range (month 13, latitude 95°, a BCD nibble above 9).
    #[error("invalid {field}: {value}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// The offending value, as text.
        value: String,
    },
    /// A JT/T 808 escape byte followed by something other than 01 or 02.
    #[error("invalid escape sequence")]
    BadEscape,
    /// A Teltonika codec this decoder does not know.
    #[error("unsupported codec {0:#04x}")]
    UnsupportedCodec(u8),
    /// A frame that needs the device's identity arrived before it was known.
    #[error("device not identified yet")]
    NotIdentified,
}

/// A decoding error at a byte offset (relative to the frame, or to the stream for framing errors).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} at byte {offset}")]
pub struct DecodeError {
    /// Where the problem was found.
    pub offset: usize,
    /// What the problem is.
    pub kind: ErrorKind,
}

impl DecodeError {
    /// An error of `kind` at `offset`.
    pub fn new(offset: usize, kind: ErrorKind) -> Self {
        Self { offset, kind }
    }

    /// A field out of range at `offset`.
    pub fn invalid(offset: usize, field: &'static str, value: impl ToString) -> Self {
        Self::new(offset, ErrorKind::InvalidField { field, value: value.to_string() })
    }

    /// The same error moved by `base` bytes (a frame-relative offset made stream-relative).
    pub fn shifted(mut self, base: usize) -> Self {
        self.offset += base;
        self
    }
}
