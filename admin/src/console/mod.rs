//! The staff console (管理控制台): server-rendered pages over the back-office services, in the
//! same process and with the same users, permissions and region scope as the API. Pages are
//! askama templates (`admin/templates/`, HTML-escaped by default) with htmx for partial updates;
//! every script and style comes from `/assets/`, embedded in the binary.
//!
//! - `session.rs`: the session cookie, the signed-in [`session::Staff`], the CSRF token.
//! - `page.rs`: the shell every page shares (navigation by permission) and the error pages.
//! - `i18n.rs`: Simplified Chinese by default, English on request.
//! - `format.rs`: money, dates and times as staff read them.
//! - `list.rs`: the one way to write a list page (filters, sort, keyset paging, CSV export).
//! - one module per area's pages: `dashboard.rs`, `contracts.rs`...

pub mod contracts;
pub mod dashboard;
pub mod format;
pub mod i18n;
pub mod list;
pub mod page;
pub mod session;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

/// The console's pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/contracts", get(contracts::list))
        .route("/contracts/{id}", get(contracts::page))
}
