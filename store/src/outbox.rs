//! The outbox: committed batches waiting to be published to the message engine. Ingest writes a
//! batch's parcels in the transaction that stores its rows, so nothing is published that is not
//! stored; a publisher takes them oldest first, publishes, and deletes them, so nothing stored
//! stays unpublished after a crash (any ingest node publishes what a dead one left).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::batch::Rows;

/// A batch's parcels: one payload per shard its rows touch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parcels(Vec<(u16, Vec<u8>)>);

/// Turns a batch's rows into parcels (what the monitor reads, by shard); set by the deployment.
pub type Encoder = Arc<dyn Fn(&[&Rows]) -> Parcels + Send + Sync>;

impl Parcels {
    /// Adds a shard's payload.
    pub fn push(&mut self, shard: u16, payload: Vec<u8>) {
        self.0.push((shard, payload));
    }

    /// The parcels, by shard.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &[u8])> {
        self.0.iter().map(|(shard, payload)| (*shard, payload.as_slice()))
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As stored: per parcel its shard (u16), its length (u32) and its bytes, big-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.iter().map(|(_, p)| 6 + p.len()).sum());
        for (shard, payload) in &self.0 {
            out.extend_from_slice(&shard.to_be_bytes());
            out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            out.extend_from_slice(payload);
        }
        out
    }

    /// Reads stored parcels; `None` when the bytes are cut short.
    pub fn from_bytes(mut data: &[u8]) -> Option<Self> {
        let mut parcels = Vec::new();
        while !data.is_empty() {
            let shard = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            let len = u32::from_be_bytes(data.get(2..6)?.try_into().ok()?) as usize;
            parcels.push((shard, data.get(6..6 + len)?.to_vec()));
            data = &data[6 + len..];
        }
        Some(Self(parcels))
    }
}

/// Writes a batch's stored parcels in the caller's transaction (nothing when there are none).
pub async fn insert(conn: &mut PgConnection, parcels: &[u8]) -> Result<(), sqlx::Error> {
    if !parcels.is_empty() {
        sqlx::query("INSERT INTO outbox (parcels) VALUES ($1)").bind(parcels).execute(conn).await?;
    }
    Ok(())
}

/// A batch waiting in the outbox.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Waiting {
    /// Its id.
    pub id: i64,
    /// When it was committed.
    pub created_at: DateTime<Utc>,
    /// Its parcels, as stored.
    pub parcels: Vec<u8>,
}

impl Waiting {
    /// The id of its parcel for `shard` in the engine: the same however often it is published,
    /// and distinct from another database's batch of the same id.
    pub fn message_id(&self, shard: u16) -> String {
        format!("{}-{}-{shard}", self.id, self.created_at.timestamp_micros())
    }
}

/// Up to `limit` waiting batches, oldest first, locked for the caller's transaction: publishers on
/// other nodes skip them and take the next ones.
pub async fn take(tx: &mut Transaction<'_, Postgres>, limit: i64) -> Result<Vec<Waiting>, sqlx::Error> {
    sqlx::query_as("SELECT id, created_at, parcels FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED")
        .bind(limit)
        .fetch_all(&mut **tx)
        .await
}

/// Deletes published batches.
pub async fn delete(tx: &mut Transaction<'_, Postgres>, ids: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM outbox WHERE id = ANY($1)").bind(ids).execute(&mut **tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parcels_read_back_as_written_and_cut_bytes_are_refused() {
        let mut parcels = Parcels::default();
        parcels.push(3, b"abc".to_vec());
        parcels.push(65_535, Vec::new());
        let bytes = parcels.to_bytes();
        assert_eq!(Parcels::from_bytes(&bytes), Some(parcels));
        assert_eq!(Parcels::from_bytes(&bytes[..bytes.len() - 1]), None);
        assert_eq!(Parcels::from_bytes(&[]), Some(Parcels::default()));
    }
}
