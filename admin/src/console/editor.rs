//! The one way to write a record that staff add and change on a form page of its own (roles, users,
//! codes, collection groups, risk places): `GET …/new` shows the empty form, `POST …/new` adds the
//! record and opens its page, `GET …/{id}` shows it, `POST …/{id}` saves it with the version read.
//! A refused form is shown again with what was typed and each message beside its field (`form`).
//! A page says what differs (its form, its service calls) by implementing [`Editor`] on what its
//! form shows; the handlers here do the rest, so every such page checks, saves and refuses alike.

use std::future::Future;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use sqlx::PgConnection;

use super::error::PageError;
use super::form::{self, Done, Fields, Problems};
use super::page::render;
use super::session::Staff;
use crate::state::AppState;

/// What a record's form shows (the record as stored, or what was typed when it was refused), and
/// how the record is shown, added and saved.
pub trait Editor: Sized + Send + Sync + 'static {
    /// The service's input to add one.
    type New: Send + Sync;
    /// The service's input to change one.
    type Update: Send + Sync;
    /// The form's page.
    type Page: Template + Send;
    /// Where the records' pages are (`/system/roles`): `…/new` and `…/{id}`.
    const PATH: &'static str;
    /// The permission to see one.
    const READ: &'static str;
    /// The permission to add and change one.
    const WRITE: &'static str;

    /// What was typed into the form.
    fn typed(fields: &Fields) -> Self;

    /// What a new record's form shows first, as `GET …/new?…` asks (a link may say what kind);
    /// `None`: the page's own blank form.
    fn blank(_query: &Fields) -> Option<Self> {
        None
    }

    /// The form of record `id` (a new one when `None`) showing `typed` when given, with `problems`
    /// beside their fields and `done` said at the top.
    fn page(
        state: &AppState,
        staff: &Staff,
        id: Option<i64>,
        typed: Option<Self>,
        problems: Problems,
        done: &str,
    ) -> impl Future<Output = Result<Self::Page, PageError>> + Send;

    /// The record to add from the form; `None` when `problems` says why not.
    fn to_new(fields: &Fields, shown: &Self, problems: &mut Problems) -> Option<Self::New>;

    /// The change at `version` from the form; `None` when `problems` says why not.
    fn to_update(fields: &Fields, shown: &Self, version: i32, problems: &mut Problems) -> Option<Self::Update>;

    /// Adds the record; its id.
    fn insert(
        db: &mut PgConnection,
        state: &AppState,
        staff: &Staff,
        new: Self::New,
    ) -> impl Future<Output = Result<i64, backoffice::Error>> + Send;

    /// Saves the change of record `id`.
    fn save(
        db: &mut PgConnection,
        state: &AppState,
        staff: &Staff,
        id: i64,
        update: Self::Update,
    ) -> impl Future<Output = Result<(), backoffice::Error>> + Send;
}

/// The routes of `E`'s pages: `…/new` and `…/{id}`, each shown and posted.
pub fn routes<E: Editor>() -> Router<AppState> {
    Router::new()
        .route(&format!("{}/new", E::PATH), get(new::<E>).post(create::<E>))
        .route(&format!("{}/{{id}}", E::PATH), get(page::<E>).post(edit::<E>))
}

/// `GET …/new`: the empty form.
pub async fn new<E: Editor>(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    staff.require(E::WRITE)?;
    let blank = E::blank(&Fields(query));
    Ok(render(&E::page(&state, &staff, None, blank, Problems::default(), "").await?))
}

/// `POST …/new`: adds the record and opens its page.
pub async fn create<E: Editor>(
    State(state): State<AppState>,
    staff: Staff,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, E::WRITE)?;
    let shown = E::typed(&fields);
    let mut problems = Problems::default();
    let refused = match E::to_new(&fields, &shown, &mut problems).filter(|_| problems.is_empty()) {
        Some(new) => {
            let mut tx = state.pool.begin().await?;
            let outcome = E::insert(&mut tx, &state, &staff, new).await;
            match form::finish(tx, outcome, |id| format!("{}/{id}?done=saved", E::PATH)).await? {
                Ok(saved) => return Ok(saved),
                Err(problems) => problems,
            }
        }
        None => problems,
    };
    Ok(form::refused(&E::page(&state, &staff, None, Some(shown), refused, "").await?))
}

/// `GET …/{id}`: the record's form.
pub async fn page<E: Editor>(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    staff.require(E::READ)?;
    let done = done.said(staff.lang);
    Ok(render(&E::page(&state, &staff, Some(id), None, Problems::default(), &done).await?))
}

/// `POST …/{id}`: saves the record with the version read, and shows it again.
pub async fn edit<E: Editor>(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, E::WRITE)?;
    let shown = E::typed(&fields);
    let mut problems = Problems::default();
    let version = fields.number("version", &mut problems).unwrap_or_default();
    let refused = match E::to_update(&fields, &shown, version, &mut problems).filter(|_| problems.is_empty()) {
        Some(update) => {
            let mut tx = state.pool.begin().await?;
            let outcome = E::save(&mut tx, &state, &staff, id, update).await;
            match form::finish(tx, outcome, |_| format!("{}/{id}?done=saved", E::PATH)).await? {
                Ok(saved) => return Ok(saved),
                Err(problems) => problems,
            }
        }
        None => problems,
    };
    Ok(form::refused(&E::page(&state, &staff, Some(id), Some(shown), refused, "").await?))
}
