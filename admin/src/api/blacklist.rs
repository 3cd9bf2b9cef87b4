//! `/api/v1/blacklist` (黑名单): the people the company will not lease to, added and lifted with a
//! reason by risk staff; submit refuses an application naming one of them. The service is
//! `backoffice::customers::blacklist`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::customers::blacklist::{self, BlacklistEntry, Lift, NewEntry};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_blacklist, add_to_blacklist)).routes(routes!(lift_from_blacklist))
}

/// Every entry, active first, numbers masked.
#[utoipa::path(get, path = "/blacklist", tag = "customers",
    responses((status = 200, description = "The blacklist", body = Vec<BlacklistEntry>)),
    security(("bearer" = ["blacklist.read"])))]
async fn list_blacklist(State(state): State<AppState>, _caller: Caller) -> Result<Json<Vec<BlacklistEntry>>, ApiError> {
    Ok(Json(blacklist::list(&mut *state.pool.acquire().await?, &state.vault).await?))
}

/// Add a person by national ID, mobile or both, with the reason.
#[utoipa::path(post, path = "/blacklist", tag = "customers", request_body = NewEntry,
    responses((status = 201, description = "Added", body = BlacklistEntry)),
    security(("bearer" = ["blacklist.write"])))]
async fn add_to_blacklist(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewEntry>,
) -> Result<(StatusCode, Json<BlacklistEntry>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let added = blacklist::add(&mut tx, &state.vault, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// Lift an entry, with the reason.
#[utoipa::path(post, path = "/blacklist/{id}/actions/lift", tag = "customers", request_body = Lift,
    params(("id" = i64, Path, description = "Entry id")),
    responses((status = 200, description = "Lifted", body = BlacklistEntry)),
    security(("bearer" = ["blacklist.write"])))]
async fn lift_from_blacklist(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(lift): Json<Lift>,
) -> Result<Json<BlacklistEntry>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let lifted = blacklist::lift(&mut tx, &state.vault, &caller, id, &lift).await?;
    tx.commit().await?;
    Ok(Json(lifted))
}
