//! The spool: where batches go when the database cannot take them, so that devices can still be
//! acknowledged. An append-only file of checksummed records, each holding a batch exactly as the
//! writer would COPY it; synced to disk before the batch is acknowledged; replayed in order when
//! the database is back (and at start-up), then truncated.
//!
//! ```text
//! record: magic "LWSP" | payload length u32 | CRC-32C of payload u32 | payload
//! payload: 3 or 4 × (length u32 | bytes)      positions, events, quarantine (COPY), outbox parcels
//! ```
//! A record cut short by a crash or a full disk mid-append was never acknowledged. It is cut off:
//! when the spool is opened, and when an append fails, so that later records are never written
//! after it (where a replay, which stops at the first bad record, could not reach them).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crc::{CRC_32_ISCSI, Crc};

const MAGIC: &[u8; 4] = b"LWSP";
static CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// Why a batch could not be spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool reached its size limit: nothing more is acknowledged until the database is back.
    #[error("spool full ({bytes} of {max} bytes)")]
    Full {
        /// Bytes in the spool.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// The disk failed.
    #[error("spool I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// One spooled batch: the COPY payloads of positions, events and quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpooledBatch {
    /// Positions, binary COPY.
    pub positions: Vec<u8>,
    /// Events, binary COPY.
    pub events: Vec<u8>,
    /// Quarantine, binary COPY.
    pub quarantine: Vec<u8>,
    /// The outbox's parcels (empty without a message engine, and in records of earlier versions).
    pub outbox: Vec<u8>,
}

/// The spool file.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    file: File,
    bytes: u64,
    max_bytes: u64,
}

impl Spool {
    /// Opens (or creates) the spool at `path`, holding at most `max_bytes`.
    pub fn open(path: &Path, max_bytes: u64) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let whole = whole_len(&data);
        if whole < data.len() {
            tracing::warn!(path = %path.display(), bytes = data.len() - whole, "spool: cutting off a torn last record");
            file.set_len(whole as u64)?;
            file.sync_all()?;
        }
        Ok(Self { path: path.to_owned(), file, bytes: whole as u64, max_bytes })
    }

    /// Bytes in the spool.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether nothing waits in the spool.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Appends one batch and syncs it to disk; only then may it be acknowledged.
    pub fn append(&mut self, parts: [&[u8]; 4]) -> Result<(), SpoolError> {
        let payload_len: usize = parts.iter().map(|p| 4 + p.len()).sum();
        let total = 12 + payload_len as u64;
        if self.bytes + total > self.max_bytes {
            return Err(SpoolError::Full { bytes: self.bytes, max: self.max_bytes });
        }
        let mut record = Vec::with_capacity(total as usize);
        record.extend_from_slice(MAGIC);
        record.extend_from_slice(&(payload_len as u32).to_be_bytes());
        record.extend_from_slice(&[0; 4]);
        for part in parts {
            record.extend_from_slice(&(part.len() as u32).to_be_bytes());
            record.extend_from_slice(part);
        }
        let crc = CRC32C.checksum(&record[12..]);
        record[8..12].copy_from_slice(&crc.to_be_bytes());
        if let Err(e) = self.file.write_all(&record).and_then(|()| self.file.sync_data()) {
            // Whatever part of the record reached the file goes: the next append starts clean.
            let _ = self.file.set_len(self.bytes);
            return Err(e.into());
        }
        self.bytes += total;
        Ok(())
    }

    /// Every whole record, oldest first. Reading stops at the first torn or corrupt record.
    pub fn read_all(&mut self) -> std::io::Result<Vec<SpooledBatch>> {
        let mut data = Vec::with_capacity(self.bytes as usize);
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(0))?;
        file.read_to_end(&mut data)?;
        Ok(parse(&data))
    }

    /// Empties the spool after a successful replay.
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()?;
        self.bytes = 0;
        Ok(())
    }
}

/// The first record of `data` when it checks out: its payload and its whole length.
fn record(data: &[u8]) -> Option<(&[u8], usize)> {
    if data.len() < 12 || &data[..4] != MAGIC {
        return None;
    }
    let len = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
    let crc = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
    let payload = data.get(12..12 + len)?;
    (CRC32C.checksum(payload) == crc).then_some((payload, 12 + len))
}

/// The length of the whole records at the start of `data`.
fn whole_len(data: &[u8]) -> usize {
    let mut at = 0;
    while let Some((_, len)) = record(&data[at..]) {
        at += len;
    }
    at
}

/// Splits spool bytes into batches, stopping at the first record that does not check out.
pub fn parse(mut data: &[u8]) -> Vec<SpooledBatch> {
    let mut batches = Vec::new();
    while let Some((payload, len)) = record(data) {
        let mut parts = Vec::with_capacity(4);
        let mut rest = payload;
        while rest.len() >= 4 {
            let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let Some(part) = rest.get(4..4 + n) else { break };
            parts.push(part.to_vec());
            rest = &rest[4 + n..];
        }
        if parts.len() == 3 {
            parts.push(Vec::new());
        }
        let [positions, events, quarantine, outbox]: [Vec<u8>; 4] = match parts.try_into() {
            Ok(p) => p,
            Err(_) => break,
        };
        batches.push(SpooledBatch { positions, events, quarantine, outbox });
        data = &data[len..];
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new, empty spool of `max_bytes` named for the test `name`, and its path.
    fn fresh(name: &str, max_bytes: u64) -> (PathBuf, Spool) {
        let path = std::env::temp_dir().join(format!("leasewatch-spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let spool = Spool::open(&path, max_bytes).unwrap_or_else(|e| panic!("{e}"));
        (path, spool)
    }

    #[test]
    fn batches_come_back_in_order_and_clearing_empties_the_file() {
        let (path, mut spool) = fresh("order", 1 << 20);
        spool.append([b"p1", b"", b"q1", b""]).unwrap_or_else(|e| panic!("{e}"));
        spool.append([b"p2", b"e2", b"", b""]).unwrap_or_else(|e| panic!("{e}"));
        let batches = spool.read_all().unwrap_or_default();
        assert_eq!(batches.len(), 2);
        assert_eq!((batches[0].positions.as_slice(), batches[1].events.as_slice()), (&b"p1"[..], &b"e2"[..]));
        spool.clear().unwrap_or_else(|e| panic!("{e}"));
        assert!(spool.is_empty() && spool.read_all().unwrap_or_default().is_empty());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_torn_last_record_is_ignored_and_earlier_ones_survive() {
        let (path, mut spool) = fresh("torn", 1 << 20);
        spool.append([b"first", b"", b"", b""]).unwrap_or_else(|e| panic!("{e}"));
        spool.append([b"second", b"", b"", b""]).unwrap_or_else(|e| panic!("{e}"));
        let mut data = std::fs::read(&path).unwrap_or_default();
        data.truncate(data.len() - 3);
        assert_eq!(parse(&data).len(), 1);
        let last = data.len() - 1;
        data[last] ^= 0xFF;
        assert_eq!(parse(&data).len(), 1);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_torn_record_left_by_a_crash_is_cut_off_so_later_batches_replay() {
        let (path, mut spool) = fresh("reopen", 1 << 20);
        spool.append([b"first", b"", b"", b""]).unwrap_or_else(|e| panic!("{e}"));
        drop(spool);
        // A crash mid-append: half a record at the end of the file.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap_or_else(|e| panic!("{e}"));
        file.write_all(b"LWSP\0\0\0\x40half").unwrap_or_else(|e| panic!("{e}"));
        drop(file);
        let mut spool = Spool::open(&path, 1 << 20).unwrap_or_else(|e| panic!("{e}"));
        spool.append([b"after", b"", b"", b""]).unwrap_or_else(|e| panic!("{e}"));
        let batches = spool.read_all().unwrap_or_default();
        let positions: Vec<&[u8]> = batches.iter().map(|b| b.positions.as_slice()).collect();
        assert_eq!(positions, [&b"first"[..], &b"after"[..]]);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_full_spool_refuses_instead_of_growing() {
        let (path, mut spool) = fresh("full", 40);
        assert!(spool.append([b"0123456789", b"", b"", b""]).is_ok());
        assert!(matches!(spool.append([b"0123456789", b"", b"", b""]), Err(SpoolError::Full { .. })));
        let _ = std::fs::remove_file(&path);
    }
}
