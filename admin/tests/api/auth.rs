//! Sign-in: lockout after repeated failures, revoked and rotated tokens refused, and nothing
//! secret in the logs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{App, PASSWORD, org};

#[sqlx::test(migrations = "../migrations")]
async fn repeated_failures_lock_the_account_until_an_administrator_unlocks_it(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    for attempt in 1..=4 {
        let reply = app.login_reply("first", "Wrong-Passw0rd").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert_eq!(reply.code(), "invalid_credentials");
    }
    let fifth = app.login_reply("first", "Wrong-Passw0rd").await;
    assert_eq!((fifth.status, fifth.code()), (StatusCode::UNAUTHORIZED, "account_locked"));
    // Now even the right password is refused.
    let right = app.login_reply("first", PASSWORD).await;
    assert_eq!(right.code(), "account_locked", "{}", right.body);
    // An unknown name gets the same answer as a wrong password.
    assert_eq!(app.login_reply("ghost", PASSWORD).await.code(), "invalid_credentials");

    let unlock = app.post(&format!("/api/v1/users/{}/actions/unlock", org.user("first")), &org.admin, json!({})).await;
    assert_eq!(unlock.status, StatusCode::OK, "{}", unlock.body);
    assert_eq!(app.login_reply("first", PASSWORD).await.status, StatusCode::OK);

    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE entity_type = 'user' AND entity_id = $1 ORDER BY id")
            .bind(org.user("first").to_string())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let tail: Vec<&str> = actions.iter().rev().take(8).rev().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "login_failed",
            "login_failed",
            "login_failed",
            "login_failed",
            "account_locked",
            "login_refused",
            "unlock",
            "login"
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_lockout_threshold_is_a_setting(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let set = app
        .call(
            Method::PUT,
            "/api/v1/settings/auth.max_failed_logins",
            Some(&org.admin),
            Some(json!({"value": 3, "version": 0})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    for _ in 0..2 {
        assert_eq!(app.login_reply("second", "nope").await.code(), "invalid_credentials");
    }
    assert_eq!(app.login_reply("second", "nope").await.code(), "account_locked");
}

#[sqlx::test(migrations = "../migrations")]
async fn logged_out_revoked_and_replaced_tokens_are_refused(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    // Logout.
    let token = app.login("first").await;
    assert_eq!(app.get("/api/v1/auth/me", &token).await.status, StatusCode::OK);
    assert_eq!(app.post("/api/v1/auth/logout", &token, json!({})).await.status, StatusCode::NO_CONTENT);
    let after = app.get("/api/v1/auth/me", &token).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "invalid_token"));

    // Revocation by an administrator ends every session of the user.
    let a = app.login("second").await;
    let b = app.login("second").await;
    let revoke =
        app.post(&format!("/api/v1/users/{}/actions/revoke-sessions", org.user("second")), &org.admin, json!({})).await;
    assert_eq!(revoke.body["revoked"], 2);
    for token in [&a, &b] {
        assert_eq!(app.get("/api/v1/auth/me", token).await.status, StatusCode::UNAUTHORIZED);
    }

    // A refresh replaces both tokens; the old ones stop working.
    let pair = app.login_reply("final", PASSWORD).await.body;
    let refreshed = app
        .call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": pair["refresh_token"]})))
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(
        app.get("/api/v1/auth/me", pair["access_token"].as_str().unwrap()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/auth/me", refreshed.body["access_token"].as_str().unwrap()).await.status,
        StatusCode::OK
    );
    let reused = app
        .call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": pair["refresh_token"]})))
        .await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);

    // Deactivating a user signs them out.
    let token = app.login("final").await;
    let user = app.get(&format!("/api/v1/users/{}", org.user("final")), &org.admin).await.body;
    let off = app
        .patch(
            &format!("/api/v1/users/{}", org.user("final")),
            &org.admin,
            json!({"version": user["version"], "active": false}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(app.get("/api/v1/auth/me", &token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.login_reply("final", PASSWORD).await.code(), "invalid_credentials");

    // An expired access token is refused with its own code.
    let token = app.login("first").await;
    sqlx::query("UPDATE auth_sessions SET access_expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.get("/api/v1/auth/me", &token).await.code(), "token_expired");
}

#[sqlx::test(migrations = "../migrations")]
async fn passwords_must_meet_the_policy(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let body = json!({"username": "weak", "display_name": "w", "password": "short", "region_id": org.region("HQ")});
    let reply = app.post("/api/v1/users", &org.admin, body).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    assert!(reply.body["errors"].as_array().unwrap().iter().all(|e| e["field"] == "password"));
    let token = app.login("first").await;
    let change = json!({"current_password": PASSWORD, "new_password": "first-First-1"});
    assert_eq!(app.post("/api/v1/auth/password", &token, change).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let change = json!({"current_password": PASSWORD, "new_password": "Another-Passw0rd"});
    assert_eq!(app.post("/api/v1/auth/password", &token, change).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.login_reply("first", "Another-Passw0rd").await.status, StatusCode::OK);
}

/// Collects everything logged.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn no_password_token_or_secret_reaches_the_logs(pool: PgPool) {
    // Global, so that every thread's logs are caught (those of the other tests too: none may hold a secret).
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    let capture = CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        capture
    });
    let app = App::new(pool).await;
    let org = org(&app).await;
    let pair = app.login_reply("first", PASSWORD).await.body;
    let (access, refresh) = (pair["access_token"].as_str().unwrap(), pair["refresh_token"].as_str().unwrap());
    app.get("/api/v1/auth/me", access).await;
    app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": refresh}))).await;
    app.login_reply("first", "Wrong-Passw0rd").await;
    app.get("/api/v1/users", "lwa_forged_token_value").await;
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request_id="), "requests are logged with their id: {}", &logs[..logs.len().min(3000)]);
    for secret in
        [PASSWORD, "Wrong-Passw0rd", access, refresh, "lwa_forged_token_value", org.admin.as_str(), "13812345678"]
    {
        assert!(!logs.contains(secret), "the logs contain a secret");
    }
}
