//! `/api/v1/risk-scores`: each active contract's risk score with the reasons that drove it
//! (payment behaviour and telematics), highest first — the order collectors work in. The service
//! is `backoffice::risk::scores`.

use axum::extract::State;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::risk::scores::{self, RiskScore, ScoreFilter};
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

/// Risk scores of the caller's region subtree, highest first.
#[utoipa::path(get, path = "/risk-scores", tag = "risk", params(PageParams, ScoreFilter),
    responses((status = 200, description = "A page of scores", body = Paged<RiskScore>)), security(("bearer" = ["contracts.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<ScoreFilter>,
) -> Result<Json<Paged<RiskScore>>, ApiError> {
    Ok(Json(scores::list(&state.pool, &caller, &page, &filter).await?))
}

/// One contract's risk score.
#[utoipa::path(get, path = "/risk-scores/{contract_id}", tag = "risk", params(("contract_id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "The score", body = RiskScore)), security(("bearer" = ["contracts.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<RiskScore>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(scores::get(&mut conn, &caller, id).await?))
}
