//! Global search (全局搜索): the box in every page's header, and the page of what it found.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::search::find::{self, Found};
use serde::Deserialize;

use super::error::PageError;
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;

/// What was typed.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// Anything: a contract number, plate, VIN, IMEI, name, ID or phone number.
    #[serde(default)]
    pub q: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    shell: Shell,
    q: String,
    found: Found,
    problem: Option<String>,
}

/// `GET /search?q=`: one hit goes straight to its page; several are listed.
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let shell = Shell::new(&staff, "/search", "search.title");
    let (found, problem) = match find::find(&state.pool, &state.vault, &staff, &query.q).await {
        Ok(found) => (found, None),
        Err(backoffice::Error::Validation(errors)) => (Found::default(), errors.into_iter().next().map(|e| e.message)),
        Err(e) => return Err(PageError::from(e)),
    };
    let only = match (found.contracts.as_slice(), found.vehicles.as_slice(), found.customers.as_slice()) {
        ([c], [], []) => Some(format!("/contracts/{}", c.id)),
        ([], [v], []) => Some(format!("/vehicles/{}", v.id)),
        _ => None,
    };
    if let Some(to) = only {
        return Ok(Redirect::to(&to).into_response());
    }
    Ok(render(&SearchPage { shell, q: query.q, found, problem }))
}
