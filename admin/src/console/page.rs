//! What every page shares: the shell (language, navigation the user may open, the CSRF token),
//! and the error pages (sign in, 403, 404, expired form, failure).

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::i18n::Lang;
use super::session::Staff;
use crate::error::ApiError;

/// One entry of the navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Where it leads.
    pub href: &'static str,
    /// Its label, in the user's language.
    pub label: &'static str,
    /// Whether it is the page shown.
    pub current: bool,
}

/// The navigation: link, label key, the permission that opens it.
const NAV: &[(&str, &str, &str)] = &[
    ("/", "nav.dashboard", ""),
    ("/alerts?status=unresolved", "nav.alerts", "alerts.read"),
    ("/contracts", "nav.contracts", "contracts.read"),
    ("/map", "nav.map", "vehicles.read"),
    ("/vehicles", "nav.vehicles", "vehicles.read"),
    ("/dealers", "nav.dealers", "dealers.read"),
    ("/products", "nav.products", "products.read"),
    ("/workflow", "nav.workflow", "workflows.read"),
    ("/docs", "nav.docs", ""),
];

/// The frame around a page's content.
#[derive(Debug, Clone)]
pub struct Shell {
    /// The language.
    pub lang: Lang,
    /// The page's title.
    pub title: String,
    /// What the user may open.
    pub nav: Vec<NavItem>,
    /// Who is signed in.
    pub username: String,
    /// The token forms send back.
    pub csrf: String,
    /// The page's own path, to come back to after switching language.
    pub here: String,
}

impl Shell {
    /// The shell of the page at `href` titled by `title_key`, for `staff`.
    pub fn new(staff: &Staff, href: &str, title_key: &str) -> Self {
        let lang = staff.lang;
        let nav = NAV
            .iter()
            .filter(|(_, _, permission)| permission.is_empty() || staff.can(permission))
            .map(|(link, key, _)| NavItem {
                href: link,
                label: lang.t(key),
                current: link.split('?').next() == Some(href),
            })
            .collect();
        Self {
            lang,
            title: lang.t(title_key).to_owned(),
            nav,
            username: staff.username.clone(),
            csrf: staff.csrf.clone(),
            here: serde_urlencoded::to_string([("next", href)]).unwrap_or_default(),
        }
    }

    /// The text of `key` in the page's language.
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        self.lang.t(key)
    }
}

/// Renders `page` as a response.
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            PageError::Failed.into_response()
        }
    }
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
                let next = super::language::local_path(Some(&next)).to_owned();
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
