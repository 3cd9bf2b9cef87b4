//! Promoting a quarantined device (a device that sent data before anyone registered it): the
//! registration details asked for, what the promotion did, and the [`Promoter`] through which the
//! HTTP side asks the ingest side, which replays the frames through its writer.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Registration details for a promoted device.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Model.
    pub model: Option<String>,
    /// SIM number or ICCID.
    pub sim: Option<String>,
    /// `wired` (default) or `wireless`.
    #[schema(pattern = r"^(wired|wireless)$")]
    pub kind: Option<String>,
}

/// What a promotion did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Promotion {
    /// The registered device.
    pub device_id: i64,
    /// Quarantined frames read.
    pub frames: u64,
    /// Positions written from them.
    pub positions: u64,
    /// Events written from them.
    pub events: u64,
    /// Frames that still did not decode (kept in the quarantine).
    pub undecodable: u64,
}

/// Why a promotion failed.
#[derive(Debug, thiserror::Error)]
pub enum PromoteFailure {
    /// Nothing is quarantined for the device.
    #[error("nothing is quarantined for this device")]
    NotFound,
    /// The data could not be made durable; nothing was removed from the quarantine.
    #[error("{0}")]
    Failed(String),
}

/// Registers a quarantined device and replays its frames; provided by the ingest side of a process.
pub trait Promoter: Send + Sync {
    /// Promotes `imei` with the given registration details.
    fn promote<'a>(
        &'a self,
        imei: &'a str,
        registration: &'a Registration,
    ) -> Pin<Box<dyn Future<Output = Result<Promotion, PromoteFailure>> + Send + 'a>>;
}
