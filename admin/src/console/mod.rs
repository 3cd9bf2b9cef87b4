//! The staff console (管理控制台): server-rendered pages over the back-office services, in the
//! same process and with the same users, permissions and region scope as the API. Pages are
//! askama templates (`admin/templates/`, HTML-escaped by default) with htmx for partial updates;
//! every script and style comes from `/assets/`, embedded in the binary.
//!
//! - `session.rs`: the session cookie, the signed-in [`session::Staff`], the CSRF token.
//! - `page.rs`: the shell every page shares (navigation by permission) and rendering.
//! - `error.rs`: why a page is not shown, and the pages that say so.
//! - `cookies.rs`: reading a request's cookies.
//! - `i18n.rs`: Simplified Chinese by default, English on request.
//! - `sign_in.rs`: signing in and out.
//! - `format.rs`: money, dates and times as staff read them.
//! - `language.rs`: the language switch.
//! - `list.rs`: the one way to write a list page (filters, sort, keyset paging, CSV export).
//! - `form.rs`: the one way to write a form (refusals beside their fields); `editor.rs`: a record
//!   added and changed on a form page of its own; `record_page.rs`: a record's facts and the forms
//!   that act on it.
//! - one module per area's pages: `dashboard.rs`, `alerts.rs` (the live board), `contracts.rs`,
//!   `dealers.rs`, `map.rs`, `products/`, `vehicles.rs`, `workflow.rs` (the approval inbox;
//!   `templates/workflow_history.html` is how a request's steps are shown anywhere), `search.rs` (the
//!   header's search box), `system/`, `origination/`, `postloan/`, `monitor/`...

pub mod alerts;
pub mod contracts;
pub mod cookies;
pub mod customers;
pub mod dashboard;
pub mod dealers;
pub mod editor;
pub mod error;
pub mod form;
pub mod format;
pub mod i18n;
pub mod language;
pub mod list;
pub mod map;
pub mod monitor;
pub mod origination;
pub mod page;
pub mod policy;
pub mod postloan;
pub mod prepayment;
pub mod products;
pub mod record_page;
pub mod search;
pub mod session;
pub mod sign_in;
pub mod system;
pub mod tasks;
pub mod vehicles;
pub mod workflow;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;
use monitor::risk_locations::PlaceForm;
use postloan::codes::CodeForm;
use postloan::groups::GroupForm;
use system::roles::RoleForm;
use system::users::UserForm;

/// The console's pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/alerts", get(alerts::board))
        .route("/alerts/stream", get(alerts::stream))
        .route("/alerts/{id}", get(alerts::page).post(alerts::act))
        .route("/contracts", get(contracts::list))
        .route("/contracts/{id}", get(contracts::page).post(contracts::record_contact))
        .route("/contracts/{id}/prepayment", get(prepayment::show).post(prepayment::act))
        .route("/contracts/{id}/postloan", get(postloan::actions::show).post(postloan::actions::act))
        .route("/customers/{id}/changes", get(customers::page).post(customers::ask))
        .route("/customers/{id}/preferences", get(customers::page).post(customers::set_preferences))
        .route("/search", get(search::page))
        .route("/map", get(map::page))
        .route("/map/places.json", get(map::places))
        .route("/map/track.json", get(map::track))
        .route("/map/vehicles.json", get(map::vehicles))
        .route("/dealers", get(dealers::list))
        .route("/products", get(products::list))
        .route("/products/{id}", get(products::page).post(products::next_version))
        .route("/vehicles", get(vehicles::list))
        .route("/vehicles/{id}", get(vehicles::page))
        .route("/vehicles/{id}/devices/{device}/commands", post(vehicles::command))
        .route("/monitor/risk-locations", get(monitor::risk_locations::list))
        .merge(editor::routes::<PlaceForm>())
        .route("/monitor/rules", get(monitor::rules::list))
        .route("/monitor/rules/{rule}", get(monitor::rules::page).post(monitor::rules::set))
        .route("/system/users", get(system::users::list))
        .route("/system/users/new", get(editor::new::<UserForm>).post(editor::create::<UserForm>))
        .route("/system/users/{id}", get(editor::page::<UserForm>).post(system::users::edit))
        .route("/system/roles", get(system::roles::list))
        .merge(editor::routes::<RoleForm>())
        .route("/system/positions", get(system::positions::list))
        .route("/system/positions/new", get(system::positions::new).post(system::positions::create))
        .route("/system/settings", get(system::settings::page).post(system::settings::set))
        .route("/system/regions", get(system::regions::list))
        .route("/system/regions/new", get(system::regions::new).post(system::regions::create))
        .route("/postloan/overdue", get(postloan::overdue::list))
        .route("/postloan/states", get(postloan::codes::states))
        .route("/postloan/categories", get(postloan::codes::categories))
        .merge(editor::routes::<CodeForm>())
        .route("/postloan/groups", get(postloan::groups::list))
        .merge(editor::routes::<GroupForm>())
        .route("/origination/applications", get(origination::applications::list))
        .route("/origination/scorecards", get(origination::scorecards::page).post(origination::scorecards::create))
        .route("/origination/blacklist", get(origination::blacklist::page).post(origination::blacklist::act))
        .route(
            "/origination/contract-templates",
            get(origination::contract_templates::page).post(origination::contract_templates::create),
        )
        .route(
            "/origination/applications/new",
            get(origination::applications::new).post(origination::applications::create),
        )
        .route(
            "/origination/applications/{id}",
            get(origination::applications::page).post(origination::applications::act),
        )
        .route("/postloan/repossessions", get(postloan::repossession::list))
        .route("/postloan/repossessions/{id}", get(postloan::repossession::page).post(postloan::repossession::act))
        .route("/postloan/companies", get(postloan::companies::list))
        .route("/postloan/companies/new", get(postloan::companies::new).post(postloan::companies::create))
        .route("/postloan/companies/{id}", get(postloan::companies::page).post(postloan::companies::edit))
        .route("/postloan/disposals", get(postloan::disposals::list))
        .route("/postloan/disposals/{id}", get(postloan::disposals::page).post(postloan::disposals::act))
        .route("/postloan/litigation", get(postloan::litigation::cases))
        .route("/postloan/litigation/{id}", get(postloan::litigation::case).post(postloan::litigation::case_act))
        .route("/postloan/visits", get(postloan::litigation::visits_list))
        .route("/postloan/visits/{id}", get(postloan::litigation::visit).post(postloan::litigation::visit_act))
        .route("/postloan/notices", get(postloan::notices::show).post(postloan::notices::save))
        .route("/attachments/{sha256}", get(record_page::attachment))
        .route("/track/{token}", get(postloan::repossession::track))
        .route("/tasks", get(tasks::list))
        .route("/tasks/{id}", get(tasks::page).post(tasks::act))
        .route("/workflow", get(workflow::inbox))
        .route("/workflow/tasks/{id}", get(workflow::task).post(workflow::act))
        .route("/lang/{code}", get(language::switch))
        .route("/login", get(sign_in::form).post(sign_in::submit))
        .route("/logout", post(sign_in::sign_out))
}

/// Adds the console's security headers; pages (not assets) are never cached.
pub async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let origin = state.tile_url.as_deref().and_then(policy::tile_origin);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&policy::policy(origin.as_deref())) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
