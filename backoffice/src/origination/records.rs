//! What an application carries beyond its own row, read back for its view and its checks: the
//! guarantee policy (`guarantee.rs` writes it), the contract's signing (`signing.rs`) and the lien
//! (`lien.rs`).

use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::error::Error;

/// The guarantee policy of an application.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct GuaranteePolicy {
    /// `pre_approval_pending`, `pre_approved`, `declined`, `policy_pending`, `issued` or `archived`.
    pub status: String,
    /// The reference of the request last sent.
    pub reference: String,
    /// The premium.
    #[schema(value_type = Option<String>)]
    pub premium: Option<Decimal>,
    /// The policy's number.
    pub policy_number: Option<String>,
    /// The cover's first day.
    pub period_start: Option<NaiveDate>,
    /// The cover's last day.
    pub period_end: Option<NaiveDate>,
    /// Why the insurer declined.
    pub decline_reason: Option<String>,
    /// When the last request went.
    pub requested_at: DateTime<Utc>,
    /// When the insurer last answered.
    pub answered_at: Option<DateTime<Utc>>,
}

/// The policy of the application `id`, if one was asked for.
pub async fn guarantee(db: &mut PgConnection, id: i64) -> Result<Option<GuaranteePolicy>, Error> {
    Ok(sqlx::query_as(
        "SELECT status, reference, premium, policy_number, period_start, period_end, decline_reason, requested_at,
                answered_at
         FROM guarantee_policies WHERE application_id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// How the contract's signing stands.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Signature {
    /// `sent`, `signed` or `declined`.
    pub status: String,
    /// The template version the contract was written on.
    pub template_id: i64,
    /// The contract's PDF, an attachment (SHA-256 in hex).
    pub document: String,
    /// The envelope's reference at the e-signature service.
    pub envelope: String,
    /// When sent.
    pub sent_at: DateTime<Utc>,
    /// When signed.
    pub signed_at: Option<DateTime<Utc>>,
}

/// The signing of the application `id`'s contract, once sent.
pub async fn signature(db: &mut PgConnection, id: i64) -> Result<Option<Signature>, Error> {
    Ok(sqlx::query_as(
        "SELECT status, template_id, encode(document, 'hex') AS document, envelope, sent_at, signed_at
         FROM contract_signatures WHERE application_id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// A lien registered.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Lien {
    /// The registration's number (抵押登记编号).
    pub registration: String,
    /// The day it was registered.
    pub registered_on: NaiveDate,
    /// The vehicle administration office.
    pub office: String,
}

/// The lien on `contract`, if recorded.
pub async fn lien(db: &mut PgConnection, contract: Option<i64>) -> Result<Option<Lien>, Error> {
    Ok(sqlx::query_as("SELECT registration, registered_on, office FROM contract_liens WHERE contract_id = $1")
        .bind(contract)
        .fetch_optional(db)
        .await?)
}
