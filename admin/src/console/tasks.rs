//! The task inboxes (催收/收车任务): collection and repossession tasks of mine or of my group (the
//! positions I hold), riskiest first; a task's page with its evidence, where a collector claims it
//! (taking it over from an absent colleague too) and records how it ended.

use askama::Template;
use axum::Form;
use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use backoffice::risk::tasks::{self, Close, Ending, TaskFilter};
use serde_json::Value;

use super::error::PageError;
use super::form::{self, Problems};
use super::format::local_time;
use super::list::{self, Cell, Column, ListQuery, ListSpec};
use super::page::{Shell, render};
use super::session::Staff;
use crate::state::AppState;

const KINDS: &[&str] = &["collection", "repossession"];
const STATUSES: &[&str] = &["open", "assigned", "done", "cancelled"];

/// `GET /tasks`.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, PageError> {
    staff.require("tasks.read")?;
    let query: ListQuery<TaskFilter> = ListQuery::from_uri(&uri)?;
    let lang = staff.lang;
    let options =
        |group: &str, values: &[&str]| values.iter().map(|v| ((*v).to_owned(), lang.word(group, v))).collect();
    let yes = || vec![("true".to_owned(), lang.t("task.yes").to_owned())];
    let spec = ListSpec {
        path: "/tasks",
        title: "nav.tasks",
        filters: vec![
            query.choice("mine", lang.t("task.mine"), yes()),
            query.choice("group", lang.t("task.group"), yes()),
            query.choice("kind", lang.t("task.kind"), options("task.kind", KINDS)),
            query.choice("status", lang.t("task.status"), options("task.status", STATUSES)),
        ],
        columns: vec![
            Column::plain(lang.t("task.created_at")).sorted("created_at"),
            Column::plain(lang.t("task.kind")),
            Column::plain(lang.t("vehicle.plate")),
            Column::plain(lang.t("contract.number")),
            Column::plain(lang.t("contract.risk_score")).sorted("risk").numeric(),
            Column::plain(lang.t("task.status")),
            Column::plain(lang.t("task.assignee")),
        ],
        ..ListSpec::default()
    };
    let offset = state.utc_offset_hours;
    let (pool, actor, filter) = (&state.pool, &staff.caller.actor, &query.filter);
    list::respond(
        &staff,
        spec,
        &query,
        |page| Box::pin(async move { tasks::list(pool, actor, &page, filter).await }),
        |t| {
            let cells = vec![
                Cell::link(local_time(&t.created_at, offset), format!("/tasks/{}", t.id)),
                Cell::text(lang.word("task.kind", &t.kind)),
                Cell::link(t.plate.clone().unwrap_or_else(|| "—".to_owned()), format!("/vehicles/{}", t.vehicle_id)),
                match (&t.contract_number, t.contract_id) {
                    (Some(number), Some(id)) => Cell::link(number.clone(), format!("/contracts/{id}")),
                    _ => Cell::text("—"),
                },
                t.risk_score.map_or_else(|| Cell::text("—"), Cell::number),
                Cell::text(lang.word("task.status", &t.status)),
                Cell::text(t.assignee_name.clone().unwrap_or_default()),
            ];
            (t.id, cells)
        },
    )
    .await
}

/// One alert a task was made from.
struct SourceAlert {
    id: i64,
    title: String,
    severity: String,
}

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage {
    shell: Shell,
    id: i64,
    kind: String,
    status: String,
    vehicle: (i64, String),
    contract: Option<(i64, String)>,
    risk_score: String,
    position: String,
    assignee: String,
    created_at: String,
    updated_at: String,
    note: String,
    facts: Vec<(String, String)>,
    alerts: Vec<SourceAlert>,
    may_claim: bool,
    may_close: bool,
    outcome: String,
    typed_note: String,
    problems: Problems,
}

/// The evidence as lines of `path: value`, whatever its shape.
fn flatten(prefix: &str, value: &Value, into: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, into);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, into);
            }
        }
        Value::Null => {}
        Value::String(s) => into.push((prefix.to_owned(), s.clone())),
        other => into.push((prefix.to_owned(), other.to_string())),
    }
}

async fn task_page(
    state: &AppState,
    staff: &Staff,
    id: i64,
    typed: (&str, &str),
    problems: Problems,
) -> Result<TaskPage, PageError> {
    let mut db = state.pool.acquire().await?;
    let t = tasks::get(&mut db, staff, id).await?;
    let (lang, offset) = (staff.lang, state.utc_offset_hours);
    let mut shell = Shell::new(staff, "/tasks", "nav.tasks");
    shell.title = format!("{} #{}", lang.word("task.kind", &t.kind), t.id);
    let alerts = t.evidence.get("alerts").and_then(Value::as_array).cloned().unwrap_or_default();
    let evidence = match t.evidence {
        Value::Object(mut map) => {
            map.remove("alerts");
            Value::Object(map)
        }
        other => other,
    };
    let mut facts = Vec::new();
    flatten("", &evidence, &mut facts);
    let open = matches!(t.status.as_str(), "open" | "assigned");
    let holds_position = t.position_code.as_ref().is_none_or(|p| staff.caller.actor.positions.contains(p));
    Ok(TaskPage {
        shell,
        id: t.id,
        kind: lang.word("task.kind", &t.kind),
        status: lang.word("task.status", &t.status),
        vehicle: (t.vehicle_id, t.plate.unwrap_or_else(|| format!("#{}", t.vehicle_id))),
        contract: t.contract_id.map(|c| (c, t.contract_number.unwrap_or_else(|| format!("#{c}")))),
        risk_score: t.risk_score.map_or_else(|| "—".to_owned(), |s| s.to_string()),
        position: t.position_code.unwrap_or_default(),
        assignee: t.assignee_name.unwrap_or_default(),
        created_at: local_time(&t.created_at, offset),
        updated_at: local_time(&t.updated_at, offset),
        note: t.note.unwrap_or_default(),
        facts,
        alerts: alerts
            .iter()
            .map(|a| SourceAlert {
                id: a.get("id").and_then(Value::as_i64).unwrap_or_default(),
                title: a.get("title").and_then(Value::as_str).unwrap_or_default().to_owned(),
                severity: lang.word("severity", a.get("severity").and_then(Value::as_str).unwrap_or_default()),
            })
            .collect(),
        may_claim: open && staff.can("tasks.write") && holds_position && t.assignee_id != Some(staff.user_id),
        may_close: open && staff.can("tasks.write"),
        outcome: typed.0.to_owned(),
        typed_note: typed.1.to_owned(),
        problems,
    })
}

/// `GET /tasks/{id}`.
pub async fn page(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Result<Response, PageError> {
    staff.require("tasks.read")?;
    Ok(render(&task_page(&state, &staff, id, ("done", ""), Problems::default()).await?))
}

/// `POST /tasks/{id}`: `action=claim` takes the task; `action=close` records how it ended
/// (`outcome` done or cancelled, with a note). Back to the task; a refusal is said beside the form.
pub async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let fields = form::accept(&staff, fields, "tasks.write")?;
    let (outcome, note) = (fields.one("outcome"), fields.one("note"));
    let mut tx = state.pool.begin().await?;
    let done = match fields.one("action") {
        "claim" => tasks::claim(&mut tx, &staff, id).await,
        "close" => {
            let ending = match outcome {
                "done" => Ending::Done,
                "cancelled" => Ending::Cancelled,
                _ => return Err(PageError::Invalid("outcome: must be done or cancelled".to_owned())),
            };
            tasks::close(&mut tx, &staff, id, ending, &Close { note: note.to_owned() }).await
        }
        other => return Err(PageError::Invalid(format!("action: {other} is not claim or close"))),
    };
    match done {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/tasks/{id}")).into_response())
        }
        Err(e) => {
            drop(tx);
            let problems = match e {
                // Claiming a task of a position one does not hold is said at the top.
                backoffice::Error::Validation(errors) if fields.one("action") == "claim" => {
                    Problems::general(errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; "))
                }
                other => Problems::of(other)?,
            };
            Ok(form::refused(&task_page(&state, &staff, id, (outcome, note), problems).await?))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn evidence_of_any_shape_reads_as_lines() {
        let mut lines = Vec::new();
        let evidence = json!({"last_fix": {"latitude": 22.5, "time": "2026-12-01T02:00:00Z"}, "night_place": null,
                              "hours": [21, 22]});
        flatten("", &evidence, &mut lines);
        assert!(lines.contains(&("last_fix.latitude".to_owned(), "22.5".to_owned())));
        assert!(lines.contains(&("last_fix.time".to_owned(), "2026-12-01T02:00:00Z".to_owned())));
        assert!(lines.contains(&("hours[1]".to_owned(), "22".to_owned())));
        assert!(!lines.iter().any(|(k, _)| k == "night_place"));
    }
}
