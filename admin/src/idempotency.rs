//! `Idempotency-Key` on POSTs that create money movements or tasks: the first response is stored
//! and a retry with the same key gets it again instead of creating a second record. A retry while
//! the first is still running gets 409; the same key on a different request gets 422; a first
//! request that failed with a 5xx is forgotten so that a retry can succeed.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use backoffice::system::crypto::digest;
use sqlx::PgPool;

use crate::error::ApiError;

/// Bodies larger than this are not accepted by the API anyway.
const MAX_BODY: usize = 2 * 1024 * 1024;

#[derive(sqlx::FromRow)]
struct Stored {
    request_hash: Vec<u8>,
    status: Option<i16>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

/// Runs `request` once per (`user_id`, `key`), replaying the stored response afterwards.
pub async fn run(pool: &PgPool, user_id: i64, key: &str, request: Request, next: Next) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let body =
        to_bytes(body, MAX_BODY).await.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
    let hash = digest(&[parts.method.as_str().as_bytes(), parts.uri.path().as_bytes(), &body]);
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(key)
    .bind(&hash)
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        let stored: Stored = sqlx::query_as(
            "SELECT request_hash, status, content_type, body FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user_id)
        .bind(key)
        .fetch_one(pool)
        .await?;
        if stored.request_hash != hash {
            return Err(ApiError::invalid("Idempotency-Key", "was already used for a different request"));
        }
        let Some(status) = stored.status else {
            return Err(ApiError::Conflict {
                code: "idempotency_in_progress",
                detail: "the first request with this Idempotency-Key is still running".into(),
            });
        };
        return Ok(replay(status, stored.content_type, stored.body.unwrap_or_default()));
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (head, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.map_err(|e| ApiError::Internal(format!("response body: {e}")))?;
    if head.status.is_server_error() {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
            .bind(user_id)
            .bind(key)
            .execute(pool)
            .await?;
    } else {
        let content_type = head.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        sqlx::query(
            "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 WHERE user_id = $1 AND key = $2",
        )
        .bind(user_id)
        .bind(key)
        .bind(i16::try_from(head.status.as_u16()).unwrap_or(500))
        .bind(content_type)
        .bind(body.as_ref())
        .execute(pool)
        .await?;
    }
    Ok(Response::from_parts(head, Body::from(body)))
}

fn replay(status: i16, content_type: Option<String>, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
    if let Some(value) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response.headers_mut().insert("idempotency-replayed", HeaderValue::from_static("true"));
    response
}

/// Forgets keys older than a day.
pub async fn expire(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM idempotency_keys WHERE created_at < now() - interval '1 day'")
        .execute(pool)
        .await?
        .rows_affected())
}
