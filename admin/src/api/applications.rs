//! `/api/v1/applications` (申请填报, 信审审核): applications filed by a dealer's staff — drafts saved as
//! they are typed, documents filed, the submit that checks everything whole and starts the review;
//! the reviewer's 补件 and rejection with a reason (approving, transferring and returning to an
//! earlier stage are the workflow inbox's); the progress timeline. The services are
//! `backoffice::origination::{application, submit, review}`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::day::company_today;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::origination::application::{self, Application, ApplicationFilter, Draft, NewDocument};
use backoffice::origination::review::{self, ReviewNote, Step};
use backoffice::origination::scorecards::{self, Kept, NewScorecard, Scorecard};
use backoffice::origination::submit::{self, Submit};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update))
        .routes(routes!(add_document))
        .routes(routes!(submit_application))
        .routes(routes!(ask_documents))
        .routes(routes!(reject))
        .routes(routes!(timeline))
        .routes(routes!(evaluations))
        .routes(routes!(list_scorecards, create_scorecard))
}

/// The applications of the caller's region subtree, newest first.
#[utoipa::path(get, path = "/applications", tag = "applications", params(PageParams, ApplicationFilter),
    responses((status = 200, description = "A page of applications", body = Paged<Application>)),
    security(("bearer" = ["applications.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<ApplicationFilter>,
) -> Result<Json<Paged<Application>>, ApiError> {
    Ok(Json(application::list(&state.pool, &state.vault, &caller, &page, &filter).await?))
}

/// Start an application: saved as a draft with what is given so far.
#[utoipa::path(post, path = "/applications", tag = "applications", request_body = Draft,
    responses((status = 201, description = "Saved as a draft", body = Application)),
    security(("bearer" = ["applications.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(draft): Json<Draft>,
) -> Result<(StatusCode, Json<Application>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let made = application::create(&mut tx, &state.vault, &caller, &draft).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// One application, with its people, documents, quote and findings.
#[utoipa::path(get, path = "/applications/{id}", tag = "applications",
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "The application", body = Application)),
    security(("bearer" = ["applications.read"])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(application::get(&mut *state.pool.acquire().await?, &state.vault, &caller, id).await?))
}

/// A draft's changes, at the version read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftChange {
    /// The version read.
    pub version: i32,
    /// What was typed; fields left out stay.
    pub draft: Draft,
}

/// Save a draft with what was typed.
#[utoipa::path(put, path = "/applications/{id}", tag = "applications", request_body = DraftChange,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Saved", body = Application)),
    security(("bearer" = ["applications.write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(change): Json<DraftChange>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let saved = application::update(&mut tx, &state.vault, &caller, id, change.version, &change.draft).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// File a stored attachment (`POST /api/v1/attachments`) with a draft as a document of its kind.
#[utoipa::path(post, path = "/applications/{id}/documents", tag = "applications", request_body = NewDocument,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Filed", body = Application)),
    security(("bearer" = ["applications.write"])))]
async fn add_document(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(document): Json<NewDocument>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let filed = application::add_document(&mut tx, &state.vault, &caller, id, &document).await?;
    tx.commit().await?;
    Ok(Json(filed))
}

/// Submit a draft: every field checked whole (check digits, ages, the quote on the product's current
/// version), then the duplicate and fraud checks; refused, each problem named beside its field.
#[utoipa::path(post, path = "/applications/{id}/actions/submit", tag = "applications", request_body = Submit,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Submitted", body = Application)),
    security(("bearer" = ["applications.write"])))]
async fn submit_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<Submit>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let today = company_today(state.utc_offset_hours);
    let submitted = submit::submit(&mut tx, &state.vault, &state.partners, &caller, id, &body, today).await?;
    tx.commit().await?;
    Ok(Json(submitted))
}

/// Send the application back to its filer for more documents (补件), by the reviewer holding its
/// review task; the filer adds them and submits again into the same stage.
#[utoipa::path(post, path = "/applications/{id}/actions/ask-documents", tag = "applications", request_body = ReviewNote,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Sent back", body = Application)),
    security(("bearer" = ["workflows.act"])))]
async fn ask_documents(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<ReviewNote>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let returned = review::ask_documents(&mut tx, &state.vault, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(returned))
}

/// Reject the application with a reason code, by the reviewer holding its review task.
#[utoipa::path(post, path = "/applications/{id}/actions/reject", tag = "applications", request_body = ReviewNote,
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Rejected", body = Application)),
    security(("bearer" = ["workflows.act"])))]
async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<ReviewNote>,
) -> Result<Json<Application>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let rejected = review::reject(&mut tx, &state.hooks, &state.vault, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(Json(rejected))
}

/// The application's progress (审批进度查询): every step, the filer's and the reviewers', with who,
/// when and how long it waited.
#[utoipa::path(get, path = "/applications/{id}/timeline", tag = "applications",
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Its steps, oldest first", body = Vec<Step>)),
    security(("bearer" = ["applications.read"])))]
async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Step>>, ApiError> {
    Ok(Json(review::timeline(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// The scorecard evaluations of an application (风控模型评分), newest first: the champion's and the
/// challenger's, each with its inputs.
#[utoipa::path(get, path = "/applications/{id}/evaluations", tag = "applications",
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, description = "Its evaluations", body = Vec<Kept>)),
    security(("bearer" = ["applications.read"])))]
async fn evaluations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Kept>>, ApiError> {
    let mut db = state.pool.acquire().await?;
    application::get(&mut db, &state.vault, &caller, id).await?;
    Ok(Json(scorecards::of_application(&mut db, id).await?))
}

/// Every scorecard version (打分卡管理), champion and challenger first.
#[utoipa::path(get, path = "/scorecards", tag = "applications",
    responses((status = 200, description = "The scorecards", body = Vec<Scorecard>)),
    security(("bearer" = ["scorecards.read"])))]
async fn list_scorecards(State(state): State<AppState>, _caller: Caller) -> Result<Json<Vec<Scorecard>>, ApiError> {
    Ok(Json(scorecards::list(&state.pool).await?))
}

/// Add a scorecard version; as champion or challenger it takes that role over.
#[utoipa::path(post, path = "/scorecards", tag = "applications", request_body = NewScorecard,
    responses((status = 201, description = "Added", body = Scorecard)),
    security(("bearer" = ["scorecards.write"])))]
async fn create_scorecard(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewScorecard>,
) -> Result<(StatusCode, Json<Scorecard>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let made = scorecards::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(made)))
}
