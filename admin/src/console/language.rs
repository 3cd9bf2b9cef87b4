//! The language switch: `GET /lang/{zh|en}?next=/page` keeps the choice in a cookie and goes back.

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::i18n::{COOKIE, Lang};
use super::page::PageError;

/// Where to go back to.
#[derive(Debug, Deserialize)]
pub struct Next {
    /// A path of this site.
    pub next: Option<String>,
}

/// A path of this site to go to after a detour, or the dashboard.
pub fn local_path(next: Option<&str>) -> &str {
    // `//host` and `/\host` would leave the site.
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\")).unwrap_or("/")
}

/// `GET /lang/{code}`.
pub async fn switch(Path(code): Path<String>, Query(next): Query<Next>) -> Result<Response, PageError> {
    let lang = Lang::from_code(&code).ok_or_else(|| PageError::Invalid(format!("language: {code} is not zh or en")))?;
    let cookie =
        format!("{COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000", if lang == Lang::En { "en" } else { "zh" });
    let to = local_path(next.next.as_deref()).to_owned();
    Ok((StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed() {
        assert_eq!(local_path(Some("/contracts?bucket=1")), "/contracts?bucket=1");
        for elsewhere in ["//evil.example", "https://evil.example", "/\\evil.example", "contracts"] {
            assert_eq!(local_path(Some(elsewhere)), "/", "{elsewhere}");
        }
        assert_eq!(local_path(None), "/");
    }
}
