//! The workflow inbox (待办): tasks waiting for the user's positions, and one task with its
//! request's history and the form to act on it (approve, reject, return, transfer 转件, note).

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::system::workflow::definition::Action;
use backoffice::system::workflow::engine::{self, InboxFilter, TASKS};
use backoffice::system::workflow::records::ActRequest;

use super::error::PageError;
use super::form::{self, Problems};
use super::format::local_time;
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
        ..ListSpec::default()
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
    /// The subject's own page, when it has one.
    subject_href: Option<String>,
    status: String,
    stage: i32,
    position: String,
    due: String,
    overdue: bool,
    open: bool,
    may_act: bool,
    /// The stage's actions as (value, label), transfer apart.
    actions: Vec<(String, String)>,
    /// Who the task may be handed to, as (user id, name); empty when the stage does not allow it.
    transferees: Vec<(String, String)>,
    history: Vec<Step>,
    note: String,
    to_user: String,
    problems: Problems,
}

/// What the user typed into the decision form.
struct Typed<'a> {
    note: &'a str,
    to_user: &'a str,
}

async fn task_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    typed: Typed<'_>,
    problems: Problems,
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
    let open = task.status == "open";
    let may_act = open && staff.can("workflows.act") && staff.positions.contains(&task.position_code);
    let (mut actions, mut transferees) = (Vec::new(), Vec::new());
    if may_act {
        let choices = engine::choices(&mut db, staff, id).await?;
        for action in choices.actions {
            let value = action.as_str();
            if action == Action::Transfer {
                transferees = choices.transferees.iter().map(|(id, name)| (id.to_string(), name.clone())).collect();
            } else {
                actions.push((value.to_owned(), lang.t(&format!("workflow.action.{value}")).to_owned()));
            }
        }
    }
    let mut shell = Shell::new(staff, "/workflow", "nav.workflow");
    shell.title = format!("{} · {}", lang.t("nav.workflow"), task.title);
    Ok(TaskPage {
        shell,
        task_id: task.id,
        subject: format!("{} {}", task.subject_type, task.subject_id),
        subject_href: subject_page(&task.subject_type, &task.subject_id),
        status: lang.t(&format!("workflow.status.{}", instance.status)).to_owned(),
        stage: task.stage + 1,
        position: task.position_code,
        due: task.due_at.map(|d| local_time(&d, offset)).unwrap_or_else(|| "—".to_owned()),
        overdue: task.overdue,
        open,
        may_act,
        actions,
        transferees,
        title: task.title,
        history,
        note: typed.note.to_owned(),
        to_user: typed.to_user.to_owned(),
        problems,
    })
}

/// The console page of a request's subject, for the kinds that have one.
fn subject_page(subject_type: &str, subject_id: &str) -> Option<String> {
    let path = match subject_type {
        "application" => "/origination/applications",
        "litigation_application" | "litigation_closing" => "/postloan/litigation",
        "home_visit" => "/postloan/visits",
        _ => return None,
    };
    Some(format!("{path}/{subject_id}"))
}

/// `GET /workflow/tasks/{id}`.
pub async fn task(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Result<Response, PageError> {
    staff.require("workflows.read")?;
    let typed = Typed { note: "", to_user: "" };
    Ok(render(&task_page(&state, &staff, id, typed, Problems::default()).await?))
}

/// `POST /workflow/tasks/{id}`: `action` approve, reject, return, transfer (with `to_user_id`) or
/// note, with `note`; then back to the inbox. A refusal is shown beside the form with what was
/// typed kept.
pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "workflows.act")?;
    let action = match fields.one("action") {
        "approve" => Action::Approve,
        "reject" => Action::Reject,
        "return" => Action::Return,
        "transfer" => Action::Transfer,
        "note" => Action::Note,
        other => {
            return Err(PageError::Invalid(format!(
                "action: {other} is not approve, reject, return, transfer or note"
            )));
        }
    };
    let typed = Typed { note: fields.one("note"), to_user: fields.one("to_user_id") };
    let mut problems = Problems::default();
    let to_user_id = if action == Action::Transfer { fields.number("to_user_id", &mut problems) } else { None };
    if action == Action::Transfer && to_user_id.is_none() && problems.is_empty() {
        problems.add("to_user_id", staff.lang.t("workflow.transfer_to_whom"));
    }
    if !problems.is_empty() {
        return Ok(form::refused(&task_page(&state, &staff, id, typed, problems).await?));
    }
    let note = Some(typed.note.trim().to_owned()).filter(|n| !n.is_empty());
    let to_stage = (action == Action::Return).then_some(0);
    let request = ActRequest { note, to_stage, to_user_id };
    let mut tx = state.pool.begin().await?;
    match engine::act(&mut tx, &state.hooks, &staff, id, action, &request).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/workflow").into_response())
        }
        Err(e) => {
            drop(tx);
            let problems = match e {
                backoffice::Error::Forbidden { code: "maker_cannot_approve", .. } => {
                    Problems::general(staff.lang.t("workflow.maker_cannot_approve"))
                }
                other => Problems::of(other)?,
            };
            Ok(form::refused(&task_page(&state, &staff, id, typed, problems).await?))
        }
    }
}
