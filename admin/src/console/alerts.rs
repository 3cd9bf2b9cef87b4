//! The alert board (告警): unresolved alerts of the user's region, most severe first, with new
//! ones arriving live (Server-Sent Events, no reload); one alert with its history and the forms to
//! acknowledge it or resolve it with a reason.

use std::convert::Infallible;

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::kit::list::PageParams;
use backoffice::risk::alerts::{self, Acknowledge, AlertFilter, Resolve};
use serde::Deserialize;

use super::error::PageError;
use super::form::{self, Problems};
use super::format::local_time;
use super::list::{self, Cell, Column, ListQuery, ListSpec};
use super::page::{Shell, render};
use super::session::Staff;
use crate::alert_feed;
use crate::state::AppState;

const STATUSES: &[&str] = &["unresolved", "open", "acknowledged", "resolved"];
const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "info"];

/// An alert as a line of another page (a vehicle's, a contract's).
pub struct AlertLine {
    /// Its id.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// Its severity's code (for the colour).
    pub severity_code: String,
    /// Its severity in words.
    pub severity: String,
    /// Its status in words.
    pub status: String,
    /// When it was last seen, local time.
    pub last_at: String,
}

/// The 20 most severe and recent alerts of a vehicle or a contract; none without `alerts.read`.
pub async fn lines(
    state: &AppState,
    staff: &Staff,
    vehicle_id: Option<i64>,
    contract_id: Option<i64>,
) -> Result<Vec<AlertLine>, PageError> {
    if !staff.can("alerts.read") {
        return Ok(Vec::new());
    }
    let filter =
        AlertFilter { status: None, rule: None, min_severity: None, vehicle_id, contract_id, collection: None };
    let page = PageParams { limit: Some(20), ..PageParams::default() };
    let found = alerts::list(&state.pool, staff, &page, &filter).await?;
    let lang = staff.lang;
    Ok(found
        .items
        .into_iter()
        .map(|a| AlertLine {
            id: a.id,
            title: a.title,
            severity: lang.word("severity", &a.severity),
            severity_code: a.severity,
            status: lang.word("alert.status", &a.status),
            last_at: local_time(&a.last_at, state.utc_offset_hours),
        })
        .collect())
}

/// `GET /alerts`.
pub async fn board(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("alerts.read")?;
    let query: ListQuery<AlertFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let options =
        |group: &str, values: &[&str]| values.iter().map(|v| ((*v).to_owned(), lang.word(group, v))).collect();
    let spec = ListSpec {
        path: "/alerts",
        title: "nav.alerts",
        filters: vec![
            query.choice("status", lang.t("alert.status"), options("alert.status", STATUSES)),
            query.choice("min_severity", lang.t("alert.min_severity"), options("severity", SEVERITIES)),
        ],
        columns: vec![
            Column::plain(lang.t("alert.last_at")).sorted("last_at"),
            Column::plain(lang.t("field.severity")).sorted("severity"),
            Column::plain(lang.t("alert.title")),
            Column::plain(lang.t("alert.status")),
            Column::plain(lang.t("alert.occurrences")).numeric(),
        ],
        script: Some("alerts.js"),
        ..ListSpec::default()
    };
    let offset = state.utc_offset_hours;
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { alerts::list(pool, actor, &page, filter).await }),
        |a| {
            let cells = vec![
                Cell::text(local_time(&a.last_at, offset)),
                Cell::text(lang.word("severity", &a.severity)),
                Cell::link(a.title.clone(), format!("/alerts/{}", a.id)),
                Cell::text(lang.word("alert.status", &a.status)),
                Cell::number(a.occurrences),
            ];
            (a.id, cells)
        },
    )
    .await
}

/// `GET /alerts/stream`: the board's live feed, for the user's region.
pub async fn stream(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, PageError> {
    staff.require("alerts.read")?;
    let events =
        alert_feed::events(&state.alert_feed, &state.pool, state.shutdown.clone(), &staff.region_path, 1).await?;
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// One change of the alert as shown.
struct Change {
    at: String,
    action: String,
    note: String,
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    shell: Shell,
    id: i64,
    severity: String,
    severity_code: String,
    status: String,
    first_at: String,
    last_at: String,
    occurrences: i32,
    vehicle_id: i64,
    contract_id: Option<i64>,
    resolution: String,
    open: bool,
    resolvable: bool,
    may_act: bool,
    history: Vec<Change>,
    note: String,
    resolution_typed: String,
    problems: Problems,
}

async fn alert_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    typed: (&str, &str),
    problems: Problems,
) -> Result<AlertPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let detail = alerts::get(&mut db, staff, id).await?;
    let (lang, offset) = (staff.lang, state.utc_offset_hours);
    let a = detail.alert;
    let mut shell = Shell::new(staff, "/alerts", "nav.alerts");
    shell.title = a.title.clone();
    Ok(AlertPage {
        shell,
        id: a.id,
        severity: lang.word("severity", &a.severity),
        severity_code: a.severity,
        status: lang.word("alert.status", &a.status),
        first_at: local_time(&a.first_at, offset),
        last_at: local_time(&a.last_at, offset),
        occurrences: a.occurrences,
        vehicle_id: a.vehicle_id,
        contract_id: a.contract_id,
        resolution: a.resolution.unwrap_or_default(),
        open: a.status == "open",
        resolvable: a.status != "resolved",
        may_act: staff.can("alerts.act"),
        history: detail
            .history
            .into_iter()
            .map(|h| Change {
                at: local_time(&h.at, offset),
                action: lang.word("alert.action", &h.action),
                note: h.note.unwrap_or_default(),
            })
            .collect(),
        note: typed.0.to_owned(),
        resolution_typed: typed.1.to_owned(),
        problems,
    })
}

/// `GET /alerts/{id}`.
pub async fn page(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Result<Response, PageError> {
    staff.require("alerts.read")?;
    Ok(render(&alert_page(&state, &staff, id, ("", ""), Problems::default()).await?))
}

/// The acknowledge and resolve forms' fields.
#[derive(Debug, Deserialize)]
pub struct AlertForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// `acknowledge` or `resolve`.
    pub action: String,
    /// The acknowledgement's note.
    #[serde(default)]
    pub note: String,
    /// Why it is resolved.
    #[serde(default)]
    pub resolution: String,
}

/// `POST /alerts/{id}`: acknowledges or resolves, then back to the board; a refusal is said
/// beside the form with what was typed kept.
pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<AlertForm>,
) -> Result<Response, PageError> {
    staff.check_csrf(&form.csrf)?;
    staff.require("alerts.act")?;
    let mut tx = state.pool.begin().await?;
    let done = match form.action.as_str() {
        "acknowledge" => {
            let note = Some(form.note.clone()).filter(|n| !n.trim().is_empty());
            alerts::acknowledge(&mut tx, &staff, id, &Acknowledge { note }).await
        }
        "resolve" => alerts::resolve(&mut tx, &staff, id, &Resolve { resolution: form.resolution.clone() }).await,
        other => return Err(PageError::Invalid(format!("action: {other} is not acknowledge or resolve"))),
    };
    match done {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/alerts?status=unresolved").into_response())
        }
        Err(e) => {
            drop(tx);
            let problems = Problems::of(e)?;
            Ok(form::refused(&alert_page(&state, &staff, id, (&form.note, &form.resolution), problems).await?))
        }
    }
}
