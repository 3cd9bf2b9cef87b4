//! Signing in with a user name and password, for the API and the console alike. Wrong passwords
//! slow further tries with growing delays (`throttle.rs`) rather than locking the account; every
//! try is audited; a name that does not exist takes as long to refuse as one that does. This
//! module is the one writer of `sign_in_failures`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use crate::actor::{Author, RequestMeta};
use crate::error::Error;
use crate::kit::audit::{self, Change};
use crate::system::sessions::{self, Tokens};
use crate::system::throttle::{Failures, Policy};
use crate::system::{password, settings};

/// A sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The user name (case-insensitive).
    pub username: String,
    /// The password.
    pub password: String,
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

fn invalid_credentials() -> Error {
    Error::Unauthenticated { code: "invalid_credentials", detail: "wrong user name or password".into() }
}

fn login_change<'a>(action: &'a str, id: &str, region_id: Option<i64>, after: serde_json::Value) -> Change<'a> {
    Change { action, entity_type: "user", entity_id: id.to_owned(), region_id, before: None, after: Some(after) }
}

/// Checks the password of `request.username` and opens a session; refused with `Throttled` while
/// earlier failures from this address or on this account still make it wait.
pub async fn sign_in(pool: &PgPool, request: &LoginRequest, meta: &RequestMeta) -> Result<Tokens, Error> {
    let name = request.username.trim().to_lowercase();
    let source = meta.client_addr.clone().unwrap_or_default();
    let free = settings::get_int(pool, settings::MAX_FAILED_LOGINS).await?;
    let longest = settings::get_int(pool, settings::LOCKOUT_MINUTES).await?;
    let policy = Policy::new(
        u32::try_from(free).unwrap_or(5),
        Duration::from_secs(u64::try_from(longest).unwrap_or(15).saturating_mul(60)),
    );
    let failures = failures(pool, &name, &source).await?;
    if let Some(wait) = policy.wait(&failures, Utc::now()) {
        // Rounded up: a client that waits as told is let in.
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let author = Author { user_id: None, username: Some(&request.username), meta };
        let change = login_change(
            "login_refused",
            &name,
            None,
            json!({"reason": "too many failures", "retry_after": retry_after}),
        );
        audit::record(pool, author, change).await?;
        return Err(Error::Throttled { retry_after });
    }
    let candidate: Option<Candidate> = sqlx::query_as(
        "SELECT id, username, password_hash, active, locked_until, region_id FROM users WHERE lower(username) = $1",
    )
    .bind(&name)
    .fetch_optional(pool)
    .await?;
    let Some(user) = candidate.filter(|u| u.active) else {
        // Take as long as a real check, so that timing does not tell which names exist.
        password::verify(request.password.clone(), password::DECOY_HASH.to_owned()).await;
        fail(pool, &name, &source).await?;
        let author = Author { user_id: None, username: Some(&request.username), meta };
        audit::record(pool, author, login_change("login_failed", "unknown", None, json!({"reason": "unknown user"})))
            .await?;
        return Err(invalid_credentials());
    };
    let author = Author { user_id: Some(user.id), username: Some(&user.username), meta };
    let id = user.id.to_string();
    if user.locked_until.is_some_and(|t| t > Utc::now()) {
        audit::record(
            pool,
            author,
            login_change("login_refused", &id, Some(user.region_id), json!({"reason": "locked"})),
        )
        .await?;
        return Err(Error::Unauthenticated { code: "account_locked", detail: "the account is locked".into() });
    }
    if !password::verify(request.password.clone(), user.password_hash.clone()).await {
        fail(pool, &name, &source).await?;
        let change = login_change("login_failed", &id, Some(user.region_id), json!({"reason": "wrong password"}));
        audit::record(pool, author, change).await?;
        return Err(invalid_credentials());
    }
    let mut tx = pool.begin().await?;
    forget_failures(&mut tx, &name).await?;
    let tokens = sessions::open(&mut tx, user.id, meta).await?;
    audit::record(&mut *tx, author, login_change("login", &id, Some(user.region_id), json!({}))).await?;
    tx.commit().await?;
    Ok(tokens)
}

/// The failures of the last day that concern a try at `name` from `source`.
async fn failures(pool: &PgPool, name: &str, source: &str) -> Result<Failures, Error> {
    type Count = (i64, Option<DateTime<Utc>>);
    let (pair, source_count, account): (Count, Count, Count) = sqlx::query_as::<_, (i64, Option<DateTime<Utc>>, i64, Option<DateTime<Utc>>, i64, Option<DateTime<Utc>>)>(
        "SELECT count(*) FILTER (WHERE username = $1 AND source = $2), max(at) FILTER (WHERE username = $1 AND source = $2),
                count(*) FILTER (WHERE source = $2), max(at) FILTER (WHERE source = $2),
                count(*) FILTER (WHERE username = $1), max(at) FILTER (WHERE username = $1)
         FROM sign_in_failures WHERE (username = $1 OR source = $2) AND at > now() - interval '1 day'",
    )
    .bind(name)
    .bind(source)
    .fetch_one(pool)
    .await
    .map(|(a, b, c, d, e, f)| ((a, b), (c, d), (e, f)))?;
    let count = |(n, last): Count| (u32::try_from(n).unwrap_or(u32::MAX), last);
    Ok(Failures { pair: count(pair), source: count(source_count), account: count(account) })
}

async fn fail(pool: &PgPool, name: &str, source: &str) -> Result<(), Error> {
    sqlx::query("INSERT INTO sign_in_failures (username, source) VALUES ($1, $2)")
        .bind(name)
        .bind(source)
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets the failed sign-ins of `username` (after a good one, or when an administrator lets the
/// user in at once).
pub async fn forget_failures(db: &mut PgConnection, username: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM sign_in_failures WHERE username = $1").bind(username.to_lowercase()).execute(db).await?;
    Ok(())
}

/// Removes failures older than the day they count for.
pub async fn purge(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_failures WHERE at < now() - interval '1 day'").execute(pool).await?;
    Ok(())
}
