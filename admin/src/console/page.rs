//! What every page shares: the shell (language, navigation the user may open, the CSRF token)
//! and rendering.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use super::error::PageError;
use super::i18n::Lang;
use super::session::Staff;

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
    ("/origination/applications", "nav.origination", "applications.read"),
    ("/tasks?group=true", "nav.tasks", "tasks.read"),
    ("/workflow", "nav.workflow", "workflows.read"),
    ("/postloan/overdue", "nav.postloan", "postloan.read"),
    ("/monitor/risk-locations", "nav.monitor", "monitor.read"),
    ("/system/users", "nav.system", "users.read"),
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
