//! Who is using the console: the session cookie, the staff member it belongs to, and the CSRF
//! token every state-changing form carries.
//!
//! The cookie holds a session token of the same sessions the API uses (`auth_sessions`), so
//! permissions, region scope, expiry and revocation are one thing for both. It is `HttpOnly`
//! (scripts cannot read it), `SameSite=Strict` (other sites cannot send it) and `Secure` when the
//! console is reached over TLS. The CSRF token is derived from the session token, so it needs no
//! storage and dies with the session.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use backoffice::system::crypto::token_hash;

use super::cookies::cookie;
use super::error::PageError;
use super::i18n::Lang;
use crate::guard::{self, Caller};
use crate::state::AppState;

/// The session cookie.
pub const COOKIE: &str = "lw_session";

/// The `Set-Cookie` value that keeps `token` for the browser session.
pub fn set_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that forgets the session.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// Whether the browser reached the console over TLS (directly or through a proxy that says so).
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The CSRF token of the session whose token is `session_token`.
pub fn csrf_token(session_token: &str) -> String {
    token_hash(&format!("csrf:{session_token}")).iter().map(|b| format!("{b:02x}")).collect()
}

/// A signed-in member of staff, as a page handler receives them.
#[derive(Debug, Clone)]
pub struct Staff {
    /// Who they are, what they may do, where they see.
    pub caller: Caller,
    /// The token their forms must send back.
    pub csrf: String,
    /// Their language.
    pub lang: Lang,
    /// Whether the console is reached over TLS.
    pub tls: bool,
}

impl std::ops::Deref for Staff {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl Staff {
    /// `Ok` when they hold `permission`; else the 403 page.
    pub fn require(&self, permission: &str) -> Result<(), PageError> {
        if self.can(permission) { Ok(()) } else { Err(PageError::Forbidden) }
    }

    /// `Ok` when `sent` is their CSRF token; else the expired-page answer.
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        let same =
            sent.len() == self.csrf.len() && sent.bytes().zip(self.csrf.bytes()).fold(0, |d, (a, b)| d | (a ^ b)) == 0;
        if same { Ok(()) } else { Err(PageError::Csrf) }
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let lang = Lang::from_headers(&parts.headers);
        let next = parts.uri.path_and_query().map_or("/", |pq| pq.as_str()).to_owned();
        let Some(token) = cookie(&parts.headers, COOKIE).filter(|t| !t.is_empty()).map(str::to_owned) else {
            return Err(PageError::SignIn { next });
        };
        let meta = guard::meta(&parts.headers, &parts.extensions);
        let caller = match guard::authenticate(state, Some(token.clone()), meta).await {
            Ok(caller) => caller,
            Err(crate::error::ApiError::Unauthenticated { .. }) => return Err(PageError::SignIn { next }),
            Err(e) => return Err(PageError::from(e)),
        };
        backoffice::system::sessions::keep_alive(&state.pool, caller.session_id).await?;
        Ok(Self { caller, csrf: csrf_token(&token), lang, tls: over_tls(&parts.headers) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_out_of_scripts_and_other_sites_reach() {
        let cookie = set_cookie("tok", true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert!(!set_cookie("tok", false).contains("Secure"));
        assert_ne!(csrf_token("a"), csrf_token("b"));
    }
}
