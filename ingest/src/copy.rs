//! PostgreSQL's binary COPY format, written by hand into a buffer that is reused batch after batch.
//!
//! ```text
//! header: "PGCOPY\n\xff\r\n\0" | flags i32 = 0 | extension length i32 = 0
//! tuple:  field count i16 | per field: length i32 (-1 = NULL) | value bytes
//! trailer: -1 as i16
//! ```
//! Values are big-endian; timestamptz is microseconds since 2000-01-01 UTC; jsonb is a version
//! byte (1) followed by the JSON text.

use chrono::{DateTime, Utc};

/// Length of a payload with no tuple: header and trailer.
pub const EMPTY_PAYLOAD_LEN: usize = 21;

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A binary COPY payload under construction.
#[derive(Debug, Default)]
pub struct CopyBuffer {
    buf: Vec<u8>,
    rows: usize,
}

impl CopyBuffer {
    /// Clears the buffer (keeping its memory) and writes the header.
    pub fn start(&mut self) {
        self.buf.clear();
        self.rows = 0;
        self.buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        self.buf.extend_from_slice(&0_i32.to_be_bytes());
        self.buf.extend_from_slice(&0_i32.to_be_bytes());
    }

    /// Begins a tuple of `fields` values.
    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.rows += 1;
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    /// `v` written by `write`, or NULL.
    fn or_null<T>(&mut self, v: Option<T>, write: impl FnOnce(&mut Self, T) -> &mut Self) -> &mut Self {
        match v {
            Some(v) => write(self, v),
            None => self.null(),
        }
    }

    /// A NULL.
    pub fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1_i32).to_be_bytes());
        self
    }

    /// A bigint.
    pub fn int8(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    /// An integer.
    pub fn int4(&mut self, v: i32) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    /// A smallint, or NULL.
    pub fn int2(&mut self, v: Option<i16>) -> &mut Self {
        self.or_null(v, |c, v| c.field(&v.to_be_bytes()))
    }

    /// A bigint, or NULL.
    pub fn opt_int8(&mut self, v: Option<i64>) -> &mut Self {
        self.or_null(v, Self::int8)
    }

    /// A double precision.
    pub fn float8(&mut self, v: f64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    /// A real, or NULL.
    pub fn float4(&mut self, v: Option<f32>) -> &mut Self {
        self.or_null(v, |c, v| c.field(&v.to_be_bytes()))
    }

    /// A boolean, or NULL.
    pub fn bool(&mut self, v: Option<bool>) -> &mut Self {
        self.or_null(v, |c, v| c.field(&[u8::from(v)]))
    }

    /// A timestamptz.
    pub fn timestamptz(&mut self, t: DateTime<Utc>) -> &mut Self {
        self.field(&(t.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes())
    }

    /// A text value.
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.field(v.as_bytes())
    }

    /// A bytea value.
    pub fn bytea(&mut self, v: &[u8]) -> &mut Self {
        self.field(v)
    }

    /// A jsonb value from JSON text.
    pub fn jsonb(&mut self, json: &str) -> &mut Self {
        self.buf.extend_from_slice(&(json.len() as i32 + 1).to_be_bytes());
        self.buf.push(1);
        let at = self.buf.len();
        self.buf.extend_from_slice(json.as_bytes());
        replace_nul_escapes(&mut self.buf[at..]);
        self
    }

    /// A jsonb value serialized from `value` straight into the payload (`{}` when it cannot be).
    pub fn jsonb_of<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> &mut Self {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0, 0, 0, 1]);
        if serde_json::to_writer(&mut self.buf, value).is_err() {
            self.buf.truncate(at + 5);
            self.buf.extend_from_slice(b"{}");
        }
        replace_nul_escapes(&mut self.buf[at + 5..]);
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        self
    }

    /// Writes the trailer; the payload is ready to send.
    pub fn finish(&mut self) -> &[u8] {
        self.buf.extend_from_slice(&(-1_i16).to_be_bytes());
        &self.buf
    }

    /// The payload as written so far (after `finish`, the whole of it).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Tuples written since `start`.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// PostgreSQL's jsonb refuses the escape `\u0000`, which a device's text can carry: it becomes
/// U+FFFD, in place (both escapes are six bytes). In JSON text every backslash starts an escape.
fn replace_nul_escapes(json: &mut [u8]) {
    let mut i = 0;
    while i + 1 < json.len() {
        if json[i] != b'\\' {
            i += 1;
        } else if json[i + 1..].starts_with(b"u0000") {
            json[i + 2..i + 6].copy_from_slice(b"fffd");
            i += 6;
        } else {
            i += 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_payload_is_header_and_trailer() {
        let mut c = CopyBuffer::default();
        c.start();
        assert_eq!(c.finish(), b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0\xff\xff");
    }

    #[test]
    fn timestamps_count_from_the_year_2000() {
        let mut c = CopyBuffer::default();
        c.start();
        let t = DateTime::from_timestamp(946_684_801, 0).unwrap_or_default();
        c.row(1).timestamptz(t);
        assert_eq!(&c.finish()[21..33], &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0F, 0x42, 0x40]);
    }

    #[test]
    fn a_nul_in_json_text_becomes_the_replacement_character() {
        let mut c = CopyBuffer::default();
        c.start();
        c.row(2).jsonb_of("a\0b\\u0000").jsonb(r#""\u0000""#);
        let bytes = c.finish();
        let text = String::from_utf8_lossy(bytes);
        assert!(text.contains(r#""a\ufffdb\\u0000""#), "{text}");
        assert!(text.contains(r#""\ufffd""#), "{text}");
    }

    #[test]
    fn jsonb_is_written_in_place_with_its_length() {
        let mut c = CopyBuffer::default();
        c.start();
        c.row(1).jsonb_of(&[1, 2]);
        assert_eq!(&c.finish()[21..], b"\0\0\0\x06\x01[1,2]\xff\xff");
    }
}
