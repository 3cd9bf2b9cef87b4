//! SMS reminders and overdue notices (还款提醒 / 逾期通知): `/api/v1/reminder-stages`, the stages and
//! their texts; `/api/v1/reminders/actions/run`, the job now (the daemon runs it hourly);
//! `/api/v1/contracts/{id}/messages`, what a contract's customer was sent and whether it arrived;
//! `/api/v1/customers/{id}/actions/sms-opt-out`, a customer's choice. The services are
//! `backoffice::postloan::reminders`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::customers::customer::{self, SmsOptOut};
use backoffice::postloan::reminders::job::{self, Ran};
use backoffice::postloan::reminders::messages::{self, Message};
use backoffice::postloan::reminders::stages::{self, ReminderStage, SetReminderStage};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stages, set_stage))
        .routes(routes!(run))
        .routes(routes!(contract_messages))
        .routes(routes!(opt_out))
}

/// The reminder stages, earliest first.
#[utoipa::path(get, path = "/reminder-stages", tag = "reminders",
    responses((status = 200, description = "The stages", body = Vec<ReminderStage>)), security(("bearer" = ["postloan.read"])))]
async fn list_stages(State(state): State<AppState>, _caller: Caller) -> Result<Json<Vec<ReminderStage>>, ApiError> {
    Ok(Json(stages::list(&mut *state.pool.acquire().await?).await?))
}

/// Add a stage (days from the due date, with its text), or change the one at those days.
#[utoipa::path(put, path = "/reminder-stages", tag = "reminders", request_body = SetReminderStage,
    responses((status = 200, description = "Set", body = ReminderStage)), security(("bearer" = ["postloan.configure"])))]
async fn set_stage(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<SetReminderStage>,
) -> Result<Json<ReminderStage>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let stage = stages::set(&mut tx, &caller, &body).await?;
    tx.commit().await?;
    Ok(Json(stage))
}

/// Run the reminders now: each installment a stage is due for gets its one message, within the
/// contact rules; then the delivery receipts.
#[utoipa::path(post, path = "/reminders/actions/run", tag = "reminders",
    responses((status = 200, description = "What the run did", body = Ran),
        (status = 409, description = "No SMS gateway is configured")), security(("bearer" = ["postloan.configure"])))]
async fn run(State(state): State<AppState>, _caller: Caller) -> Result<Json<Ran>, ApiError> {
    let channel = state.message_channel.as_deref().ok_or_else(|| backoffice::Error::Conflict {
        code: "no_sms_gateway",
        detail: "no SMS gateway is configured (admin.sms_gateway): reminders are off".into(),
    })?;
    let now = chrono::Utc::now();
    Ok(Json(job::run(&state.pool, &state.vault, channel, now, state.utc_offset_hours).await?))
}

/// The messages sent about a contract, newest first, with their delivery.
#[utoipa::path(get, path = "/contracts/{id}/messages", tag = "reminders", params(("id" = i64, Path, description = "Contract id")),
    responses((status = 200, description = "Its messages", body = Vec<Message>)), security(("bearer" = ["postloan.read"])))]
async fn contract_messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Message>>, ApiError> {
    Ok(Json(messages::of_contract(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// Record a customer's choice to receive no more reminders (退订), or to receive them again.
#[utoipa::path(post, path = "/customers/{id}/actions/sms-opt-out", tag = "reminders", request_body = SmsOptOut,
    params(("id" = i64, Path, description = "Customer id")),
    responses((status = 204, description = "Recorded")), security(("bearer" = ["customers.write"])))]
async fn opt_out(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<SmsOptOut>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.pool.begin().await?;
    customer::set_sms_opt_out(&mut tx, &caller, id, &body).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
