//! `/api/v1/auth`: login (with lockout after repeated failures), token refresh, logout, the
//! caller's own profile and password change. Tokens are random, returned once, and stored only
//! as SHA-256; neither they nor passwords are ever logged.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::extract::State;
use backoffice::actor::Author;
use backoffice::kit::audit::{self, Change};
use backoffice::system::crypto::{new_token, token_hash};
use backoffice::system::password;
use backoffice::system::settings;

use super::users::{UserView, load_view};
use crate::error::ApiError;
use crate::extract::Json;
use crate::guard::{Caller, Meta, RequestMeta};
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

/// A login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The user name (case-insensitive).
    pub username: String,
    /// The password.
    pub password: String,
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

/// A token pair. Send the access token as `Authorization: Bearer ...`; trade the refresh token
/// for a new pair before the access token expires.
#[derive(Serialize, ToSchema)]
pub struct Tokens {
    /// Short-lived access token.
    pub access_token: String,
    /// Longer-lived refresh token, single use.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    /// Seconds the refresh token is valid.
    pub refresh_expires_in: i64,
}

/// The caller with what they may do.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// The user.
    pub user: UserView,
    /// Their permissions, sorted.
    pub permissions: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: i64,
    username: String,
    password_hash: String,
    active: bool,
    locked_until: Option<DateTime<Utc>>,
    region_id: i64,
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthenticated { code: "invalid_credentials", detail: "wrong user name or password".into() }
}

fn locked(until: DateTime<Utc>) -> ApiError {
    ApiError::Unauthenticated {
        code: "account_locked",
        detail: format!("too many failed logins: the account is locked until {}", until.format("%Y-%m-%dT%H:%M:%SZ")),
    }
}

/// Sign in with a user name and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Signed in", body = Tokens)), security(()))]
async fn login(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Json(request): Json<LoginRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let candidate: Option<Candidate> = sqlx::query_as(
        "SELECT id, username, password_hash, active, locked_until, region_id FROM users WHERE lower(username) = lower($1)",
    )
    .bind(&request.username)
    .fetch_optional(&state.pool)
    .await?;
    let Some(user) = candidate.filter(|u| u.active) else {
        // Take as long as a real check, so that timing does not tell which names exist.
        password::verify(request.password, password::DECOY_HASH.to_owned()).await;
        let actor = Author { user_id: None, username: Some(&request.username), meta: &meta };
        audit::record(
            &state.pool,
            actor,
            login_change("login_failed", "unknown", None, json!({"reason": "unknown user"})),
        )
        .await?;
        return Err(invalid_credentials());
    };
    let actor = Author { user_id: Some(user.id), username: Some(&user.username), meta: &meta };
    if let Some(until) = user.locked_until.filter(|t| *t > Utc::now()) {
        audit::record(
            &state.pool,
            actor,
            login_change("login_refused", &user.id.to_string(), Some(user.region_id), json!({"reason": "locked"})),
        )
        .await?;
        return Err(locked(until));
    }
    if !password::verify(request.password, user.password_hash.clone()).await {
        let max = settings::get_int(&state.pool, settings::MAX_FAILED_LOGINS).await?;
        let minutes = settings::get_int(&state.pool, settings::LOCKOUT_MINUTES).await?;
        let locked_until: Option<DateTime<Utc>> = sqlx::query_scalar(
            "UPDATE users SET
                 locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(mins => $3::int) ELSE locked_until END,
                 failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END
             WHERE id = $1 RETURNING locked_until",
        )
        .bind(user.id)
        .bind(max)
        .bind(minutes)
        .fetch_one(&state.pool)
        .await?;
        let now_locked = locked_until.filter(|t| *t > Utc::now());
        let action = if now_locked.is_some() { "account_locked" } else { "login_failed" };
        audit::record(
            &state.pool,
            actor,
            login_change(action, &user.id.to_string(), Some(user.region_id), json!({"reason": "wrong password"})),
        )
        .await?;
        return Err(now_locked.map_or_else(invalid_credentials, locked));
    }
    let mut tx = state.pool.begin().await?;
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    let tokens = issue(&mut tx, user.id, None, &meta).await?;
    audit::record(&mut *tx, actor, login_change("login", &user.id.to_string(), Some(user.region_id), json!({})))
        .await?;
    tx.commit().await?;
    Ok(Json(tokens))
}

fn login_change<'a>(action: &'a str, id: &str, region_id: Option<i64>, after: serde_json::Value) -> Change<'a> {
    Change { action, entity_type: "user", entity_id: id.to_owned(), region_id, before: None, after: Some(after) }
}

/// Creates a session (or renews `session`) and returns its new tokens.
async fn issue(
    db: &mut sqlx::PgConnection,
    user_id: i64,
    session: Option<i64>,
    meta: &RequestMeta,
) -> Result<Tokens, ApiError> {
    let access_minutes = settings::get_int(&mut *db, settings::ACCESS_TOKEN_MINUTES).await?;
    let refresh_hours = settings::get_int(&mut *db, settings::REFRESH_TOKEN_HOURS).await?;
    let access = new_token("lwa_").map_err(|e| ApiError::Internal(e.to_string()))?;
    let refresh = new_token("lwr_").map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = Utc::now();
    let (access_until, refresh_until) = (now + Duration::minutes(access_minutes), now + Duration::hours(refresh_hours));
    match session {
        None => {
            sqlx::query(
                "INSERT INTO auth_sessions (user_id, access_hash, refresh_hash, access_expires_at, refresh_expires_at, client_addr)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(user_id)
            .bind(token_hash(&access))
            .bind(token_hash(&refresh))
            .bind(access_until)
            .bind(refresh_until)
            .bind(meta.client_addr.as_deref())
            .execute(db)
            .await?;
        }
        Some(id) => {
            sqlx::query(
                "UPDATE auth_sessions SET access_hash = $2, refresh_hash = $3, access_expires_at = $4, refresh_expires_at = $5
                 WHERE id = $1",
            )
            .bind(id)
            .bind(token_hash(&access))
            .bind(token_hash(&refresh))
            .bind(access_until)
            .bind(refresh_until)
            .execute(db)
            .await?;
        }
    }
    Ok(Tokens {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer".to_owned(),
        expires_in: access_minutes * 60,
        refresh_expires_in: refresh_hours * 3600,
    })
}

/// Trade a refresh token for a new token pair (the old pair stops working).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "New tokens", body = Tokens)), security(()))]
async fn refresh(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Json(request): Json<RefreshRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let session: Option<(i64, i64)> = sqlx::query_as(
        "SELECT s.id, s.user_id FROM auth_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.refresh_hash = $1 AND s.revoked_at IS NULL AND s.refresh_expires_at > now() AND u.active
           AND (u.locked_until IS NULL OR u.locked_until <= now())
         FOR UPDATE OF s",
    )
    .bind(token_hash(&request.refresh_token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((session, user)) = session else {
        return Err(ApiError::Unauthenticated {
            code: "invalid_token",
            detail: "the refresh token is unknown, used, expired or revoked; sign in again".into(),
        });
    };
    let tokens = issue(&mut tx, user, Some(session), &meta).await?;
    tx.commit().await?;
    Ok(Json(tokens))
}

/// Sign out: the session's tokens stop working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out")), security(("bearer" = [])))]
async fn logout(State(state): State<AppState>, caller: Caller) -> Result<axum::http::StatusCode, ApiError> {
    let mut tx = state.pool.begin().await?;
    sqlx::query("UPDATE auth_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(caller.session_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        caller.author(),
        login_change("logout", &caller.user_id.to_string(), Some(caller.region_id), json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The signed-in user and their permissions.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, description = "The caller", body = Me)), security(("bearer" = [])))]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let user = load_view(&state, &caller, caller.user_id).await?;
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
    let current: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(caller.user_id)
        .fetch_one(&state.pool)
        .await?;
    if !password::verify(request.current_password, current).await {
        return Err(ApiError::invalid("current_password", "is not the current password"));
    }
    password::set(
        &state.pool,
        state.hash_cost,
        &caller,
        caller.user_id,
        &caller.username,
        request.new_password,
        Some(caller.session_id),
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
