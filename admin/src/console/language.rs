//! The language switch: `GET /lang/{zh|en}?next=/page` keeps the choice in a cookie and goes back.

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::{PageError, local_path};
use super::i18n::{COOKIE, Lang};

/// Where to go back to.
#[derive(Debug, Deserialize)]
pub struct Next {
    /// A path of this site.
    pub next: Option<String>,
}

/// `GET /lang/{code}`.
pub async fn switch(Path(code): Path<String>, Query(next): Query<Next>) -> Result<Response, PageError> {
    let lang = Lang::from_code(&code).ok_or_else(|| PageError::Invalid(format!("language: {code} is not zh or en")))?;
    let cookie =
        format!("{COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000", if lang == Lang::En { "en" } else { "zh" });
    let to = local_path(next.next.as_deref()).to_owned();
    Ok((StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response())
}
