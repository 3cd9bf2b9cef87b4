//! Sign-in: failures slow the guesser without locking the owner out, revoked and rotated tokens
//! refused, and nothing secret in the logs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::support::{App, PASSWORD, org};

/// Records `n` failed sign-ins at `name` from `source`, `seconds_ago`.
async fn failed_before(app: &App, name: &str, source: &str, n: i32, seconds_ago: i32) {
    sqlx::query(
        "INSERT INTO sign_in_failures (username, source, at)
         SELECT $1, $2, now() - make_interval(secs => $4) FROM generate_series(1, $3)",
    )
    .bind(name)
    .bind(source)
    .bind(n)
    .bind(f64::from(seconds_ago))
    .execute(&app.pool)
    .await
    .unwrap();
}

fn retry_after(reply: &crate::support::Reply) -> u64 {
    reply.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn wrong_passwords_slow_the_guesser_and_never_lock_the_owner_out(pool: PgPool) {
    let app = App::new(pool).await;
    let org = org(&app).await;
    let (guesser, owner) = ("203.0.113.9", "198.51.100.7");
    // Five tries are free; the sixth must wait.
    for attempt in 1..=5 {
        let reply = app.login_from("first", "Wrong-Passw0rd", guesser).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"), "try {attempt}");
    }
    let sixth = app.login_from("first", PASSWORD, guesser).await;
    assert_eq!((sixth.status, sixth.code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"), "{}", sixth.body);
    assert_eq!(retry_after(&sixth), 1);
    // An unknown name gets the same answer as a wrong password.
    assert_eq!(app.login_from("ghost", PASSWORD, owner).await.code(), "invalid_credentials");

    // A guesser who kept going waits minutes; the owner, from elsewhere, half a minute at most.
    failed_before(&app, "first", guesser, 7, 1).await;
    let guessing = app.login_from("first", PASSWORD, guesser).await;
    assert_eq!(guessing.code(), "too_many_attempts");
    assert!((120..=128).contains(&retry_after(&guessing)), "{}", retry_after(&guessing));
    let waiting = app.login_from("first", PASSWORD, owner).await;
    assert_eq!(waiting.code(), "too_many_attempts");
    assert!(retry_after(&waiting) <= 30);
    sqlx::query("UPDATE sign_in_failures SET at = at - interval '31 seconds'").execute(&app.pool).await.unwrap();
    assert_eq!(app.login_from("first", PASSWORD, owner).await.status, StatusCode::OK);
    // Signing in forgot the account's failures; the guesser's address still counts its own.
    failed_before(&app, "second", guesser, 25, 1).await;
    assert_eq!(app.login_from("third", "x", guesser).await.code(), "too_many_attempts");

    // An administrator can let a user in at once.
    failed_before(&app, "first", guesser, 12, 1).await;
    let unlock = app.post(&format!("/api/v1/users/{}/actions/unlock", org.user("first")), &org.admin, json!({})).await;
    assert_eq!(unlock.status, StatusCode::OK, "{}", unlock.body);
    assert_eq!(app.login_from("first", PASSWORD, owner).await.status, StatusCode::OK);

    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE username = 'first' ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let actions: Vec<&str> = actions.iter().map(String::as_str).filter(|a| a.starts_with("login")).collect();
    assert_eq!(
        actions,
        [
            "login_failed",
            "login_failed",
            "login_failed",
            "login_failed",
            "login_failed",
            "login_refused",
            "login_refused",
            "login_refused",
            "login",
            "login"
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_free_failures_are_a_setting(pool: PgPool) {
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
    for _ in 0..3 {
        assert_eq!(app.login_reply("second", "nope").await.code(), "invalid_credentials");
    }
    assert_eq!(app.login_reply("second", "nope").await.code(), "too_many_attempts");
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
