//! Promoting a quarantined device: it is registered, every frame it sent while unknown is decoded
//! again and written through the writer (the same de-duplication and durability as live
//! traffic, with the time the frame arrived), and its quarantine rows are removed once durable.
//! Running it twice changes nothing.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use leasewatch_protocols::{Gt06, H02, Jt808, Message, Protocol, Session, Teltonika, decode_all};
use leasewatch_store::batch::Rows;
use leasewatch_store::devices;
use leasewatch_store::quarantine::{PromoteFailure, Promoter, Promotion, Registration};
use sqlx::PgPool;

use crate::writer::{WriteError, Writer};

/// Why a promotion failed.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    /// Nothing is quarantined for this device.
    #[error("nothing is quarantined for this device")]
    NotFound,
    /// A database error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The writer could not make the rows durable; nothing was removed from the quarantine.
    #[error("{0}")]
    Write(#[from] WriteError),
}

fn decode(protocol: &str, frame: &[u8], now: DateTime<Utc>) -> Option<Vec<Message>> {
    fn all<P: Protocol>(frame: &[u8], now: DateTime<Utc>) -> Vec<Message> {
        decode_all::<P>(frame, &mut Session::default(), now).messages
    }
    let messages = match protocol {
        "gt06" => all::<Gt06>(frame, now),
        "jt808" => all::<Jt808>(frame, now),
        "teltonika" => all::<Teltonika>(frame, now),
        "h02" => all::<H02>(frame, now),
        "mqtt" => vec![crate::mqtt::parse_telemetry(frame).ok()?],
        _ => return None,
    };
    // A frame the decoder still reads only as an unknown type stays in the quarantine.
    (!messages.is_empty() && messages.iter().any(|m| m.unknown_type().is_none())).then_some(messages)
}

/// Registers `imei` (with the protocol its frames came in) and replays its quarantined frames.
pub async fn promote(
    pool: &PgPool,
    writer: &Writer,
    imei: &str,
    registration: &Registration,
) -> Result<Promotion, PromoteError> {
    let frames: Vec<(i64, String, DateTime<Utc>, Vec<u8>)> =
        sqlx::query_as("SELECT id, protocol, received_at, frame FROM quarantine WHERE imei = $1 ORDER BY id")
            .bind(imei)
            .fetch_all(pool)
            .await?;
    let Some((_, protocol, _, _)) = frames.first() else { return Err(PromoteError::NotFound) };
    let device_id = devices::register_quarantined(&mut *pool.acquire().await?, imei, protocol, registration).await?;
    let mut rows = Rows::default();
    let mut replayed = Vec::new();
    let mut promotion = Promotion { device_id, frames: frames.len() as u64, ..Promotion::default() };
    for (id, protocol, received_at, frame) in &frames {
        match decode(protocol, frame, *received_at) {
            Some(messages) => {
                rows.add_messages(device_id, *received_at, &messages);
                replayed.push(*id);
            }
            None => promotion.undecodable += 1,
        }
    }
    promotion.positions = rows.positions.len() as u64;
    promotion.events = rows.events.len() as u64;
    if !rows.is_empty() {
        writer.write(rows).await?;
    }
    sqlx::query("DELETE FROM quarantine WHERE id = ANY($1)").bind(&replayed).execute(pool).await?;
    tracing::info!(
        imei,
        device_id,
        frames = promotion.frames,
        positions = promotion.positions,
        "quarantined device promoted"
    );
    Ok(promotion)
}

/// Promotes quarantined devices through this process's writer, for the admin API.
pub struct WriterPromoter {
    /// The database.
    pub pool: PgPool,
    /// The writer that makes replayed rows durable.
    pub writer: Writer,
}

impl Promoter for WriterPromoter {
    fn promote<'a>(
        &'a self,
        imei: &'a str,
        registration: &'a Registration,
    ) -> Pin<Box<dyn Future<Output = Result<Promotion, PromoteFailure>> + Send + 'a>> {
        Box::pin(async move {
            promote(&self.pool, &self.writer, imei, registration).await.map_err(|e| match e {
                PromoteError::NotFound => PromoteFailure::NotFound,
                other => PromoteFailure::Failed(other.to_string()),
            })
        })
    }
}
