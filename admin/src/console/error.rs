//! Why a page is not shown, and the pages that say so (sign in, 403, 404, an expired form, a
//! refused value, a failure), in both languages since the error may come before the language is
//! known; and where a detour may send the browser back to.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::i18n::Lang;
use crate::error::ApiError;

/// A path of this site to go to after a detour, or the dashboard.
pub fn local_path(next: Option<&str>) -> &str {
    // `//host` and `/\host` would leave the site.
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\")).unwrap_or("/")
}

/// Why a page is not shown.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended): to the sign-in page, then back to `next`.
    SignIn {
        /// The page asked for.
        next: String,
    },
    /// A permission is missing, or the record is outside the user's region.
    Forbidden,
    /// No such page or record.
    NotFound,
    /// A form came without the session's CSRF token.
    Csrf,
    /// The request's values cannot be used; the message says which.
    Invalid(String),
    /// Anything else; logged.
    Failed,
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unauthenticated { .. } => Self::SignIn { next: "/".to_owned() },
            ApiError::Forbidden { .. } => Self::Forbidden,
            // A record outside the reader's region is not found to the API; the console says the
            // same of both, so that neither reveals whether the record exists.
            ApiError::NotFound(_) => Self::Forbidden,
            other => {
                tracing::error!(error = ?other, "console request failed");
                Self::Failed
            }
        }
    }
}

impl From<backoffice::Error> for PageError {
    fn from(e: backoffice::Error) -> Self {
        Self::from(ApiError::from(e))
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        Self::from(ApiError::from(e))
    }
}

/// The error page, in both languages: the error may come before the language is known.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    /// Title and explanation, in Chinese and in English.
    zh: (&'static str, &'static str),
    en: (&'static str, &'static str),
    /// What exactly was wrong, when known.
    message: Option<String>,
}

impl ErrorPage {
    fn new(key: &str) -> Self {
        let (title, detail) = (format!("error.{key}"), format!("error.{key}_detail"));
        let text = |lang: Lang| {
            let find = |k: &str| {
                super::i18n::MESSAGES
                    .iter()
                    .find(|(m, _, _)| *m == k)
                    .map_or("", |(_, zh, en)| if lang == Lang::Zh { zh } else { en })
            };
            (find(&title), find(&detail))
        };
        Self { zh: text(Lang::Zh), en: text(Lang::En), message: None }
    }

    fn invalid(message: String) -> Self {
        Self { message: Some(message), ..Self::new("invalid") }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, key) = match self {
            Self::SignIn { next } => {
                let next = local_path(Some(&next)).to_owned();
                let to = format!("/login?{}", serde_urlencoded::to_string([("next", next)]).unwrap_or_default());
                return (StatusCode::SEE_OTHER, [(header::CACHE_CONTROL, "no-store")], Redirect::to(&to))
                    .into_response();
            }
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            Self::Invalid(message) => {
                let html = ErrorPage::invalid(message).render().unwrap_or_default();
                return (StatusCode::BAD_REQUEST, Html(html)).into_response();
            }
            Self::Failed => (StatusCode::INTERNAL_SERVER_ERROR, "failed"),
        };
        let html = ErrorPage::new(key).render().unwrap_or_else(|_| key.to_owned());
        (status, Html(html)).into_response()
    }
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
