//! The workflow inbox (待办): tasks waiting for the user's positions, and one task with its
//! request's history and the form to act on it (approve, reject, return, transfer 转件, note).

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::system::workflow::definition::Action;
use backoffice::system::workflow::engine::{self, InboxFilter, TASKS};
use backoffice::system::workflow::records::ActRequest;
use serde::Deserialize;

use super::error::PageError;
use super::format::local_time;
use super::i18n::Lang;
use super::list::{self, Cell, Column, ListQuery, ListSpec};
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;

/// `GET /workflow`.
pub async fn inbox(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("workflows.read")?;
    let query: ListQuery<InboxFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let yes_no = vec![("true".to_owned(), lang.t("workflow.yes").to_owned())];
    let spec = ListSpec {
        path: "/workflow",
        title: "nav.workflow",
        filters: vec![
            query.choice("mine", lang.t("workflow.mine"), yes_no.clone()),
            query.choice("overdue", lang.t("workflow.overdue"), yes_no),
        ],
        columns: vec![
            Column::plain(lang.t("workflow.title")),
            Column::plain(lang.t("workflow.stage")).numeric(),
            Column::plain(lang.t("workflow.position")),
            Column::plain(lang.t("workflow.due_at")).sorted("due_at"),
            Column::plain(lang.t("workflow.created_at")).sorted("created_at"),
        ],
        script: None,
    };
    let offset = state.utc_offset_hours;
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { engine::inbox(pool, actor, &page, filter).await }),
        |t| {
            let due = t.due_at.map(|d| local_time(&d, offset)).unwrap_or_default();
            let due = if t.overdue { format!("{due} ⚠ {}", lang.t("workflow.overdue")) } else { due };
            let cells = vec![
                Cell::link(t.title.clone(), format!("/workflow/tasks/{}", t.id)),
                Cell::number(t.stage + 1),
                Cell::text(t.position_code.clone()),
                Cell::text(due),
                Cell::text(local_time(&t.created_at, offset)),
            ];
            (t.id, cells)
        },
    )
    .await
}

/// One line of the request's history as shown.
struct Step {
    at: String,
    stage: i32,
    action: String,
    actor: String,
    note: String,
}

#[derive(Template)]
#[template(path = "workflow_task.html")]
struct TaskPage {
    shell: Shell,
    task_id: i64,
    title: String,
    subject: String,
    status: String,
    stage: i32,
    position: String,
    due: String,
    overdue: bool,
    open: bool,
    may_act: bool,
    history: Vec<Step>,
    note: String,
    problem: Option<(String, String)>,
}

async fn task_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    note: &str,
    problem: Option<(String, String)>,
) -> Result<TaskPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let task = TASKS.load(&mut db, staff, id).await?;
    let instance = engine::instance(&mut db, staff, task.instance_id).await?;
    let lang = staff.lang;
    let offset = state.utc_offset_hours;
    let history = engine::history(&mut db, task.instance_id)
        .await?
        .into_iter()
        .map(|h| Step {
            at: local_time(&h.at, offset),
            stage: h.stage + 1,
            action: lang.t(&format!("workflow.action.{}", h.action)).to_owned(),
            actor: h.actor,
            note: h.note.unwrap_or_default(),
        })
        .collect();
    let may_act = staff.can("workflows.act") && staff.positions.contains(&task.position_code);
    let mut shell = Shell::new(staff, "/workflow", "nav.workflow");
    shell.title = format!("{} · {}", lang.t("nav.workflow"), task.title);
    Ok(TaskPage {
        shell,
        task_id: task.id,
        subject: format!("{} {}", task.subject_type, task.subject_id),
        status: lang.t(&format!("workflow.status.{}", instance.status)).to_owned(),
        stage: task.stage + 1,
        position: task.position_code,
        due: task.due_at.map(|d| local_time(&d, offset)).unwrap_or_else(|| "—".to_owned()),
        overdue: task.overdue,
        open: task.status == "open",
        may_act,
        title: task.title,
        history,
        note: note.to_owned(),
        problem,
    })
}

/// `GET /workflow/tasks/{id}`.
pub async fn task(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Result<Response, PageError> {
    staff.require("workflows.read")?;
    Ok(render(&task_page(&state, &staff, id, "", None).await?))
}

/// The action form's fields.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// `approve`, `reject`, `return` or `note`.
    pub action: String,
    /// Why.
    #[serde(default)]
    pub note: String,
}

/// `POST /workflow/tasks/{id}`: acts on the task, then back to the inbox; a refusal is shown
/// beside the form with what was typed kept.
pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<ActForm>,
) -> Result<Response, PageError> {
    staff.check_csrf(&form.csrf)?;
    staff.require("workflows.act")?;
    let action = match form.action.as_str() {
        "approve" => Action::Approve,
        "reject" => Action::Reject,
        "return" => Action::Return,
        "note" => Action::Note,
        other => return Err(PageError::Invalid(format!("action: {other} is not approve, reject, return or note"))),
    };
    let note = Some(form.note.trim().to_owned()).filter(|n| !n.is_empty());
    let to_stage = (action == Action::Return).then_some(0);
    let request = ActRequest { note, to_stage, to_user_id: None };
    let mut tx = state.pool.begin().await?;
    match engine::act(&mut tx, &state.hooks, &staff, id, action, &request).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/workflow").into_response())
        }
        Err(e) => {
            drop(tx);
            let problem = refusal(staff.lang, e)?;
            let page = task_page(&state, &staff, id, &form.note, Some(problem)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

/// A refusal the user can act on, as (field, message); anything else is an error page.
fn refusal(lang: Lang, e: backoffice::Error) -> Result<(String, String), PageError> {
    match e {
        backoffice::Error::Validation(errors) => {
            let first = errors.into_iter().next().map(|f| (f.field, f.message)).unwrap_or_default();
            Ok(first)
        }
        backoffice::Error::Conflict { detail, .. } => Ok(("action".to_owned(), detail)),
        backoffice::Error::Forbidden { code: "maker_cannot_approve", .. } => {
            Ok(("action".to_owned(), lang.t("workflow.maker_cannot_approve").to_owned()))
        }
        other => Err(PageError::from(other)),
    }
}
