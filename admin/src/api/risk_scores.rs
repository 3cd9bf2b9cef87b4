//! `/api/v1/risk-scores`: each active contract's risk score with the reasons that drove it
//! (payment behaviour and telematics), highest first — the order collectors work in.

use axum::extract::State;
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::FromRow;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(get))
}

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

/// Risk scores of the caller's region subtree, highest first.
#[utoipa::path(get, path = "/risk-scores", tag = "risk", params(PageParams, ScoreFilter),
    responses((status = 200, description = "A page of scores", body = Paged<RiskScore>)), security(("bearer" = ["contracts.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<ScoreFilter>,
) -> Result<Json<Paged<RiskScore>>, ApiError> {
    let items = TABLE
        .list(&state.pool, &caller, &page, |f| {
            f.eq("r.band", filter.band.clone()).at_least("r.score", filter.min_score);
        })
        .await?;
    Ok(Json(items))
}

/// One contract's risk score.
#[utoipa::path(get, path = "/risk-scores/{contract_id}", tag = "risk", params(("contract_id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "The score", body = RiskScore)), security(("bearer" = ["contracts.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<RiskScore>, ApiError> {
    let row = TABLE.load(&mut *state.pool.acquire().await?, &caller, id).await?;
    Ok(Json(row))
}
