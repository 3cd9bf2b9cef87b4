//! `/api/v1/users`: back-office users, their roles, positions and region; password reset,
//! unlock, session revocation, and the audited reveal of their phone number; the service is
//! `backoffice::system::users`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::system::users::{self, NewUser, UserFilter, UserUpdate, UserView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update))
        .routes(routes!(reset_password))
        .routes(routes!(unlock))
        .routes(routes!(revoke_sessions))
        .routes(routes!(reveal))
}

/// List the users in the caller's region subtree.
#[utoipa::path(get, path = "/users", tag = "users", params(PageParams, UserFilter),
    responses((status = 200, description = "A page of users", body = Paged<UserView>)),
    security(("bearer" = ["users.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<UserFilter>,
) -> Result<Json<Paged<UserView>>, ApiError> {
    Ok(Json(users::list(&state.pool, &state.vault, &caller, &page, &filter).await?))
}

/// Create a user.
#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUser,
    responses((status = 201, description = "Created", body = UserView)),
    security(("bearer" = ["users.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let user = users::create(&mut tx, &state.vault, state.hash_cost, &caller, new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// View one user.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView)),
    security(("bearer" = ["users.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<UserView>, ApiError> {
    Ok(Json(users::get(&mut *state.pool.acquire().await?, &state.vault, &caller, id).await?))
}

/// Update a user.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = i64, Path, description = "User id")),
    request_body = UserUpdate,
    responses((status = 200, description = "Updated", body = UserView)),
    security(("bearer" = ["users.write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(update): Json<UserUpdate>,
) -> Result<Json<UserView>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let user = users::update(&mut tx, &state.vault, &caller, id, &update).await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// A new password set by an administrator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The new password; it must meet the password policy.
    #[schema(min_length = 10, max_length = 128)]
    pub new_password: String,
}

/// Set a user's password; their sessions end.
#[utoipa::path(post, path = "/users/{id}/actions/reset-password", tag = "users",
    params(("id" = i64, Path, description = "User id")), request_body = PasswordReset,
    responses((status = 204, description = "Password set")), security(("bearer" = ["users.write"])))]
async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(reset): Json<PasswordReset>,
) -> Result<StatusCode, ApiError> {
    users::reset_password(&state.pool, &state.vault, state.hash_cost, &caller, id, reset.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a lockout.
#[utoipa::path(post, path = "/users/{id}/actions/unlock", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "Unlocked", body = UserView)), security(("bearer" = ["users.write"])))]
async fn unlock(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<UserView>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let user = users::unlock(&mut tx, &state.vault, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// How many sessions were ended.
#[derive(Serialize, ToSchema)]
pub struct Revoked {
    /// Sessions ended.
    pub revoked: u64,
}

/// End every session of a user: their tokens stop working at once.
#[utoipa::path(post, path = "/users/{id}/actions/revoke-sessions", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "Sessions ended", body = Revoked)), security(("bearer" = ["users.write"])))]
async fn revoke_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Revoked>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let revoked = users::revoke_sessions(&mut tx, &state.vault, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(Revoked { revoked }))
}

/// A sensitive value in full.
#[derive(Serialize, ToSchema)]
pub struct Revealed {
    /// The phone number in full.
    pub phone: Option<String>,
}

/// Show a user's phone number in full; the reveal is audited.
#[utoipa::path(post, path = "/users/{id}/actions/reveal", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "The values in full", body = Revealed)),
    security(("bearer" = ["sensitive.reveal"])))]
async fn reveal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Revealed>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let phone = users::reveal_phone(&mut tx, &state.vault, &caller, id).await?;
    tx.commit().await?;
    Ok(Json(Revealed { phone }))
}
