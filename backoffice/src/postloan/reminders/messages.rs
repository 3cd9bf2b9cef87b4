//! What was sent: a contract's messages with their delivery. (A customer's choice to receive no
//! more is kept on the customer: `customers::customer::set_sms_opt_out`.)

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::books::contract;
use crate::error::Error;

/// A message.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Message {
    /// Id.
    pub id: i64,
    /// The installment.
    pub period: i32,
    /// The stage (days from the due date).
    pub offset_days: i32,
    /// The text.
    pub text: String,
    /// `queued`, `sent`, `delivered` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// When handed to the provider.
    pub sent_at: Option<DateTime<Utc>>,
    /// When delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The messages of the contract `id` of the actor's region, newest first.
pub async fn of_contract(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Vec<Message>, Error> {
    contract::TABLE.load(db, actor, id).await?;
    Ok(sqlx::query_as(
        "SELECT id, period, offset_days, text, status, error, sent_at, delivered_at FROM sms_messages
         WHERE contract_id = $1 ORDER BY id DESC LIMIT 500",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}
