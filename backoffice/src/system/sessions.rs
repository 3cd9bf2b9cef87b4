//! Sign-in sessions (`auth_sessions`), written here and nowhere else: opened on sign-in, renewed
//! with the refresh token, kept alive while the console is used, revoked one by one or all of a
//! user's at once, purged after they expire. Tokens are random, returned once and stored only as
//! SHA-256; the API sends the access token as a bearer token, the console keeps it in a cookie.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use crate::actor::{Actor, RequestMeta};
use crate::error::Error;
use crate::system::crypto::{new_token, token_hash};
use crate::system::settings;

/// A token pair. Send the access token as `Authorization: Bearer ...`; trade the refresh token
/// for a new pair before the access token expires.
#[derive(Debug, Serialize, ToSchema)]
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

/// Opens a session for `user_id` and returns its tokens.
pub async fn open(db: &mut PgConnection, user_id: i64, meta: &RequestMeta) -> Result<Tokens, Error> {
    let (tokens, access_until, refresh_until) = new_tokens(db).await?;
    sqlx::query(
        "INSERT INTO auth_sessions (user_id, access_hash, refresh_hash, access_expires_at, refresh_expires_at, client_addr)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id)
    .bind(token_hash(&tokens.access_token))
    .bind(token_hash(&tokens.refresh_token))
    .bind(access_until)
    .bind(refresh_until)
    .bind(meta.client_addr.as_deref())
    .execute(db)
    .await?;
    Ok(tokens)
}

/// Trades a refresh token for a new pair; the old pair stops working.
pub async fn renew(db: &mut PgConnection, refresh_token: &str) -> Result<Tokens, Error> {
    let session: Option<i64> = sqlx::query_scalar(
        "SELECT s.id FROM auth_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.refresh_hash = $1 AND s.revoked_at IS NULL AND s.refresh_expires_at > now() AND u.active
           AND (u.locked_until IS NULL OR u.locked_until <= now())
         FOR UPDATE OF s",
    )
    .bind(token_hash(refresh_token))
    .fetch_optional(&mut *db)
    .await?;
    let Some(session) = session else {
        return Err(Error::Unauthenticated {
            code: "invalid_token",
            detail: "the refresh token is unknown, used, expired or revoked; sign in again".into(),
        });
    };
    let (tokens, access_until, refresh_until) = new_tokens(db).await?;
    sqlx::query(
        "UPDATE auth_sessions SET access_hash = $2, refresh_hash = $3, access_expires_at = $4, refresh_expires_at = $5
         WHERE id = $1",
    )
    .bind(session)
    .bind(token_hash(&tokens.access_token))
    .bind(token_hash(&tokens.refresh_token))
    .bind(access_until)
    .bind(refresh_until)
    .execute(db)
    .await?;
    Ok(tokens)
}

async fn new_tokens(db: &mut PgConnection) -> Result<(Tokens, DateTime<Utc>, DateTime<Utc>), Error> {
    let access_minutes = settings::get_int(&mut *db, settings::ACCESS_TOKEN_MINUTES).await?;
    let refresh_hours = settings::get_int(&mut *db, settings::REFRESH_TOKEN_HOURS).await?;
    let token = |prefix| new_token(prefix).map_err(|e| Error::Internal(e.to_string()));
    let now = Utc::now();
    let tokens = Tokens {
        access_token: token("lwa_")?,
        refresh_token: token("lwr_")?,
        token_type: "Bearer".to_owned(),
        expires_in: access_minutes * 60,
        refresh_expires_in: refresh_hours * 3600,
    };
    Ok((tokens, now + Duration::minutes(access_minutes), now + Duration::hours(refresh_hours)))
}

/// The signed-in user of `access_token`, acting with `meta`, and their session id.
pub async fn actor(pool: &PgPool, access_token: &str, meta: RequestMeta) -> Result<(Actor, i64), Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        session_id: i64,
        user_id: i64,
        username: String,
        region_id: i64,
        region_path: String,
        access_expires_at: DateTime<Utc>,
        permissions: Vec<String>,
        positions: Vec<String>,
        dealer_id: Option<i64>,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT s.id AS session_id, u.id AS user_id, u.username, u.region_id, r.path AS region_path,
                s.access_expires_at, u.dealer_id,
                ARRAY(SELECT DISTINCT rp.permission FROM user_roles ur
                      JOIN role_permissions rp ON rp.role_id = ur.role_id WHERE ur.user_id = u.id) AS permissions,
                ARRAY(SELECT p.code FROM user_positions up
                      JOIN staff_positions p ON p.id = up.position_id WHERE up.user_id = u.id ORDER BY p.code) AS positions
         FROM auth_sessions s JOIN users u ON u.id = s.user_id JOIN regions r ON r.id = u.region_id
         WHERE s.access_hash = $1 AND s.revoked_at IS NULL AND u.active",
    )
    .bind(token_hash(access_token))
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Err(Error::Unauthenticated {
            code: "invalid_token",
            detail: "the access token is unknown or was revoked; sign in again".into(),
        });
    };
    if row.access_expires_at <= Utc::now() {
        return Err(Error::Unauthenticated {
            code: "token_expired",
            detail: "the access token has expired; refresh it or sign in again".into(),
        });
    }
    let actor = Actor {
        user_id: row.user_id,
        username: row.username,
        region_id: row.region_id,
        region_path: row.region_path,
        permissions: row.permissions.into_iter().collect(),
        positions: row.positions,
        dealer_id: row.dealer_id,
        meta,
    };
    Ok((actor, row.session_id))
}

/// Keeps a console session alive while it is used: the access token's expiry moves to a full
/// lifetime from now once half of it has passed, never beyond the refresh expiry. A session left
/// alone for the access lifetime ends.
pub async fn keep_alive(pool: &PgPool, session_id: i64) -> Result<(), Error> {
    let minutes = settings::get_int(pool, settings::ACCESS_TOKEN_MINUTES).await?;
    sqlx::query(
        "UPDATE auth_sessions SET access_expires_at = LEAST(now() + make_interval(mins => $2::int), refresh_expires_at)
         WHERE id = $1 AND revoked_at IS NULL AND access_expires_at < now() + make_interval(mins => $2::int) / 2",
    )
    .bind(session_id)
    .bind(minutes)
    .execute(pool)
    .await?;
    Ok(())
}

/// Ends the session `session_id` at once.
pub async fn revoke(db: &mut PgConnection, session_id: i64) -> Result<(), Error> {
    sqlx::query("UPDATE auth_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(session_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends every session of `user_id` but `keep`; returns how many ended.
pub async fn revoke_all(db: &mut PgConnection, user_id: i64, keep: Option<i64>) -> Result<u64, Error> {
    let done = sqlx::query(
        "UPDATE auth_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2",
    )
    .bind(user_id)
    .bind(keep)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Removes sessions a day past their refresh expiry.
pub async fn purge_expired(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM auth_sessions WHERE refresh_expires_at < now() - interval '1 day'").execute(pool).await?;
    Ok(())
}
