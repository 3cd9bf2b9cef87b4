//! Each active contract's risk score with the reasons that drove it (payment behaviour and
//! telematics), highest first — the order collectors work in. The monitor computes them; this
//! service reads them within the actor's region subtree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::Error;
use crate::kit::list::{PageParams, Paged, Table};

/// A contract's risk score.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct RiskScore {
    /// The contract.
    pub contract_id: i64,
    /// Its number.
    pub number: String,
    /// The vehicle.
    pub vehicle_id: Option<i64>,
    /// Region.
    pub region_id: i64,
    /// 0 (no concern) to 100.
    pub score: i32,
    /// `low`, `medium` or `high`.
    pub band: String,
    /// What drove it: `code`, `points`, `detail`, most points first.
    #[schema(value_type = Vec<Object>)]
    pub reasons: Value,
    /// When computed.
    pub computed_at: DateTime<Utc>,
}

/// How risk scores are read, with their contract.
const TABLE: Table<RiskScore> = Table::new(
    "risk score",
    "SELECT r.contract_id, c.number, c.vehicle_id, c.region_id, r.score, r.band, r.reasons, r.computed_at",
    "FROM contract_risk r JOIN contracts c ON c.id = r.contract_id JOIN regions g ON g.id = c.region_id",
    "r.contract_id",
)
.scoped("g.path")
.sorted(&[("score", "r.score"), ("computed_at", "r.computed_at")], "-score");

/// Filters of the score list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScoreFilter {
    /// `low`, `medium` or `high`.
    #[param(pattern = "^(low|medium|high)$")]
    pub band: Option<String>,
    /// This score or more.
    #[param(minimum = 0, maximum = 100)]
    pub min_score: Option<i32>,
}

/// Risk scores of the actor's region subtree, highest first.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &ScoreFilter,
) -> Result<Paged<RiskScore>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("r.band", filter.band.clone()).at_least("r.score", filter.min_score);
        })
        .await
}

/// The risk score of contract `contract_id`, if in the actor's region subtree.
pub async fn get(db: &mut PgConnection, actor: &Actor, contract_id: i64) -> Result<RiskScore, Error> {
    TABLE.load(db, actor, contract_id).await
}
