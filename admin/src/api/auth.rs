//! `/api/v1/auth`: login (failures slow further tries with growing delays), token refresh,
//! logout, the caller's own profile and password change; the services are
//! `backoffice::system::{sign_in, sessions, password}`. Neither tokens nor passwords are logged.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::extract::State;
use backoffice::kit::audit::{self, Change};
use backoffice::system::sessions;
pub use backoffice::system::sessions::Tokens;
pub use backoffice::system::sign_in::LoginRequest;
use backoffice::system::users::{self, UserView};
use backoffice::system::{password, sign_in};

use crate::error::ApiError;
use crate::extract::Json;
use crate::guard::{Caller, Meta};
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
}

/// A refresh.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the login or the last refresh; it is replaced.
    pub refresh_token: String,
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new one; it must meet the password policy.
    pub new_password: String,
}

/// The caller with what they may do.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// The user.
    pub user: UserView,
    /// Their permissions, sorted.
    pub permissions: Vec<String>,
}

/// Sign in with a user name and password. Failed tries from one address, or on one account, make
/// the next wait (429 with `Retry-After`) a little longer each time.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Signed in", body = Tokens)), security(()))]
async fn login(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Json(request): Json<LoginRequest>,
) -> Result<Json<Tokens>, ApiError> {
    Ok(Json(sign_in::sign_in(&state.pool, &request, &meta).await?))
}

/// Trade a refresh token for a new token pair (the old pair stops working).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "New tokens", body = Tokens)), security(()))]
async fn refresh(State(state): State<AppState>, Json(request): Json<RefreshRequest>) -> Result<Json<Tokens>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let tokens = sessions::renew(&mut tx, &request.refresh_token).await?;
    tx.commit().await?;
    Ok(Json(tokens))
}

/// Sign out: the session's tokens stop working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out")), security(("bearer" = [])))]
async fn logout(State(state): State<AppState>, caller: Caller) -> Result<axum::http::StatusCode, ApiError> {
    let mut tx = state.pool.begin().await?;
    sessions::revoke(&mut tx, caller.session_id).await?;
    let change = Change::new("logout", "user", caller.user_id, Some(caller.region_id)).after(json!({}));
    audit::record(&mut *tx, caller.author(), change).await?;
    tx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The signed-in user and their permissions.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, description = "The caller", body = Me)), security(("bearer" = [])))]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let user = users::get(&mut *state.pool.acquire().await?, &state.vault, &caller, caller.user_id).await?;
    let mut permissions: Vec<String> = caller.permissions.iter().cloned().collect();
    permissions.sort_unstable();
    Ok(Json(Me { user, permissions }))
}

/// Change one's own password; every other session of the user is signed out.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204, description = "Changed")), security(("bearer" = [])))]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<PasswordChange>,
) -> Result<axum::http::StatusCode, ApiError> {
    let (current, new) = (request.current_password, request.new_password);
    password::change_own(&state.pool, state.hash_cost, &caller, caller.session_id, current, new).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
