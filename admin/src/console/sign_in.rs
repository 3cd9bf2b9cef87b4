//! Signing in and out of the console. The form posts to the same sign-in service as the API
//! (throttled, audited); success keeps the session's access token in an `HttpOnly`,
//! `SameSite=Strict` cookie. The form carries a token of its own, kept in a short cookie, so that
//! another site cannot sign a browser in under someone else's account.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::kit::audit::{self, Change};
use backoffice::system::crypto::new_token;
use backoffice::system::sessions;
use backoffice::system::sign_in::{self, LoginRequest};
use serde::Deserialize;
use serde_json::json;

use super::cookies::cookie;
use super::error::PageError;
use super::error::local_path;
use super::i18n::Lang;
use super::language::Next;
use super::page::render;
use super::session::{Staff, clear_cookie, over_tls, set_cookie};
use crate::guard::Meta;
use crate::state::AppState;

/// The cookie holding the sign-in form's token.
const FORM_COOKIE: &str = "lw_signin";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    lang: Lang,
    next: String,
    username: String,
    problem: Option<String>,
    form_token: String,
}

fn page(lang: Lang, next: &str, username: &str, problem: Option<String>, status: StatusCode, tls: bool) -> Response {
    let Ok(form_token) = new_token("lwf_") else { return PageError::Failed.into_response() };
    let secure = if tls { "; Secure" } else { "" };
    let cookie = format!("{FORM_COOKIE}={form_token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{secure}");
    let page =
        LoginPage { lang, next: local_path(Some(next)).to_owned(), username: username.to_owned(), problem, form_token };
    (status, [(header::SET_COOKIE, cookie)], render(&page)).into_response()
}

/// `GET /login`.
pub async fn form(headers: HeaderMap, Query(next): Query<Next>) -> Response {
    let lang = Lang::from_headers(&headers);
    page(lang, next.next.as_deref().unwrap_or("/"), "", None, StatusCode::OK, over_tls(&headers))
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Where to go afterwards.
    #[serde(default)]
    pub next: String,
    /// The form's token.
    #[serde(default)]
    pub form_token: String,
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let tls = over_tls(&headers);
    let again = |problem: String, status| page(lang, &form.next, &form.username, Some(problem), status, tls);
    if form.form_token.is_empty() || cookie(&headers, FORM_COOKIE) != Some(form.form_token.as_str()) {
        return again(lang.t("login.expired").to_owned(), StatusCode::FORBIDDEN);
    }
    let request = LoginRequest { username: form.username.clone(), password: form.password.clone() };
    match sign_in::sign_in(&state.pool, &request, &meta).await {
        Ok(tokens) => {
            let to = local_path(Some(&form.next)).to_owned();
            (StatusCode::SEE_OTHER, [(header::SET_COOKIE, set_cookie(&tokens.access_token, tls))], Redirect::to(&to))
                .into_response()
        }
        Err(backoffice::Error::Throttled { retry_after }) => again(
            lang.t("login.throttled").replace("{seconds}", &retry_after.to_string()),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(backoffice::Error::Unauthenticated { .. }) => {
            again(lang.t("login.failed").to_owned(), StatusCode::UNAUTHORIZED)
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The sign-out form's field.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// `POST /logout`: ends the session and forgets the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<SignOutForm>,
) -> Result<Response, PageError> {
    staff.check_csrf(&form.csrf)?;
    let mut tx = state.pool.begin().await?;
    sessions::revoke(&mut tx, staff.session_id).await?;
    let change = Change::new("logout", "user", staff.user_id, Some(staff.region_id)).after(json!({}));
    audit::record(&mut *tx, staff.author(), change).await?;
    tx.commit().await?;
    let cookie = clear_cookie(staff.tls);
    Ok((StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}
