//! The workflow engine over the database: starting an instance on a business object, claiming
//! and acting on tasks, and the hook through which a business module learns the outcome. Every
//! function runs inside the actor's transaction and writes the history and the audit log.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::types::Json as SqlJson;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::IntoParams;

use super::definition::{self, Action, Stage, Step};
use super::hooks::Hooks;
pub use super::records::{ActRequest, DefinitionRow, HistoryEntry, Instance, NewInstance, Task};
use crate::actor::Actor;
use crate::error::Error;
use crate::kit::audit::{self, Change};
use crate::kit::list::{self, Filter, PageParams, Paged, Table};

/// How instances are read: those of the actor's region subtree.
pub const INSTANCES: Table<Instance> = Table::new(
    "workflow instance",
    "SELECT i.id, d.key AS definition_key, d.version AS definition_version, i.subject_type,
        i.subject_id, i.title, i.region_id, i.maker_id, i.status, i.stage, i.version, i.created_at, i.finished_at",
    "FROM workflow_instances i JOIN workflow_definitions d ON d.id = i.definition_id
    JOIN regions r ON r.id = i.region_id",
    "i.id",
)
.scoped("r.path")
.sorted(&[("created_at", "i.created_at"), ("id", "i.id")], "-created_at");

/// How tasks are read, with their instance's title and subject.
pub const TASKS: Table<Task> = Table::new(
    "task",
    "SELECT t.id, t.instance_id, i.title, i.subject_type, i.subject_id, t.stage,
        t.position_code, t.assignee_id, t.status, t.due_at,
        (t.status = 'open' AND t.due_at IS NOT NULL AND t.due_at < now()) AS overdue,
        t.created_at, t.completed_at, t.completed_by, t.outcome",
    "FROM workflow_tasks t JOIN workflow_instances i ON i.id = t.instance_id JOIN regions r ON r.id = i.region_id",
    "t.id",
)
.scoped("r.path")
.sorted(&[("due_at", "t.due_at"), ("created_at", "t.created_at")], "created_at");

/// Filters of the instance list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstanceFilter {
    /// `active`, `approved`, `rejected` or `cancelled`.
    pub status: Option<String>,
    /// The kind of business object.
    pub subject_type: Option<String>,
    /// The business object.
    pub subject_id: Option<String>,
    /// Submitted by this user.
    pub maker_id: Option<i64>,
}

/// The instances of the actor's region subtree.
pub async fn instances(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &InstanceFilter,
) -> Result<Paged<Instance>, Error> {
    INSTANCES
        .list(pool, actor, page, |f| {
            f.eq("i.status", filter.status.clone())
                .eq("i.subject_type", filter.subject_type.clone())
                .eq("i.subject_id", filter.subject_id.clone())
                .eq("i.maker_id", filter.maker_id);
        })
        .await
}

/// Filters of the inbox.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxFilter {
    /// Only tasks claimed by or transferred to the caller.
    pub mine: Option<bool>,
    /// Only overdue tasks.
    pub overdue: Option<bool>,
}

/// The actor's inbox: open tasks of their positions in their region subtree, unclaimed or theirs,
/// except on requests they made.
pub async fn inbox(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &InboxFilter,
) -> Result<Paged<Task>, Error> {
    TASKS
        .list(pool, actor, page, |f| {
            waiting_for(f, actor);
            f.eq("t.assignee_id", (filter.mine == Some(true)).then_some(actor.user_id));
            if filter.overdue == Some(true) {
                f.and().push("t.due_at < now()");
            }
        })
        .await
}

/// What the actor's inbox holds: open tasks of their positions, unclaimed or theirs, except on
/// requests they made.
fn waiting_for(f: &mut Filter<'_, '_>, actor: &Actor) {
    f.eq("t.status", Some("open"));
    f.and().push("t.position_code = ANY(").push_bind(actor.positions.clone()).push(")");
    f.and().push("i.maker_id <> ").push_bind(actor.user_id);
    f.and().push("(t.assignee_id IS NULL OR t.assignee_id = ").push_bind(actor.user_id).push(")");
}

/// How much of the actor's inbox is waiting, is due before `day_ends`, and is overdue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InboxCounts {
    /// Every task waiting.
    pub waiting: i64,
    /// Not yet overdue, due before the end of the day.
    pub due_today: i64,
    /// Past due.
    pub overdue: i64,
}

/// Counts the actor's inbox (up to 10,000 of each).
pub async fn inbox_counts(pool: &PgPool, actor: &Actor, day_ends: DateTime<Utc>) -> Result<InboxCounts, Error> {
    let cap = list::COUNT_UP_TO;
    let waiting = TASKS.count_up_to(pool, actor, cap, |f| waiting_for(f, actor)).await?;
    let due_today = TASKS
        .count_up_to(pool, actor, cap, |f| {
            waiting_for(f, actor);
            f.and().push("t.due_at >= now() AND t.due_at < ").push_bind(day_ends);
        })
        .await?;
    let overdue = TASKS
        .count_up_to(pool, actor, cap, |f| {
            waiting_for(f, actor);
            f.and().push("t.due_at < now()");
        })
        .await?;
    Ok(InboxCounts { waiting, due_today, overdue })
}

/// The latest version of the definition `key`.
pub async fn latest_definition(db: &mut PgConnection, key: &str) -> Result<Option<DefinitionRow>, Error> {
    Ok(sqlx::query_as(
        "SELECT id, key, version, name, stages FROM workflow_definitions WHERE key = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(key)
    .fetch_optional(db)
    .await?)
}

/// The instance `id`, if it is in the actor's region subtree.
pub async fn instance(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Instance, Error> {
    INSTANCES.load(db, actor, id).await
}

/// The history of instance `id`, oldest first.
pub async fn history(db: &mut PgConnection, id: i64) -> Result<Vec<HistoryEntry>, Error> {
    Ok(sqlx::query_as(
        "SELECT h.id, h.stage, h.action, h.actor_id, u.username AS actor, h.note, h.to_stage, h.to_user_id, h.at
         FROM workflow_history h JOIN users u ON u.id = h.actor_id WHERE h.instance_id = $1 ORDER BY h.id",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

/// The tasks of instance `id`, oldest first.
pub async fn tasks(db: &mut PgConnection, id: i64) -> Result<Vec<Task>, Error> {
    Ok(sqlx::query_as(&format!("{} {} WHERE t.instance_id = $1 ORDER BY t.id", TASKS.select, TASKS.from))
        .bind(id)
        .fetch_all(db)
        .await?)
}

/// Submits `new` by `actor`: the instance waits at the first stage.
pub async fn start(db: &mut PgConnection, actor: &Actor, new: &NewInstance) -> Result<Instance, Error> {
    let mut checks = crate::error::Checks::default();
    checks
        .text("subject_type", &new.subject_type, 64)
        .text("subject_id", &new.subject_id, 64)
        .text("title", &new.title, 200)
        .text("definition_key", &new.definition_key, 64)
        .finish()?;
    let definition = latest_definition(db, &new.definition_key)
        .await?
        .ok_or_else(|| Error::invalid("definition_key", "no workflow definition has this key"))?;
    let region_id = new.region_id.unwrap_or(actor.region_id);
    let in_scope: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM regions WHERE id = $1 AND starts_with(path, $2))")
            .bind(region_id)
            .bind(&actor.region_path)
            .fetch_one(&mut *db)
            .await?;
    if !in_scope {
        return Err(Error::invalid("region_id", "is not a region you work in"));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO workflow_instances (definition_id, subject_type, subject_id, title, region_id, maker_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(definition.id)
    .bind(new.subject_type.trim())
    .bind(new.subject_id.trim())
    .bind(new.title.trim())
    .bind(region_id)
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let first = definition.stages.0.first().ok_or_else(|| Error::Internal("a definition without stages".into()))?;
    open_task(db, id, 0, first, None).await?;
    log(db, Entry::new(id, None, 0, "submit", actor.user_id)).await?;
    let instance = instance(db, actor, id).await?;
    audit::record(
        &mut *db,
        actor.author(),
        Change::new("submit", "workflow_instance", id, Some(region_id)).after(json!(instance)),
    )
    .await?;
    Ok(instance)
}

/// Takes the open task `task_id` for `actor`.
pub async fn claim(db: &mut PgConnection, actor: &Actor, task_id: i64) -> Result<Task, Error> {
    let task = lock_task(db, actor, task_id).await?;
    match task.assignee_id {
        Some(user) if user == actor.user_id => {}
        Some(_) => return Err(Error::invalid_state("the task is claimed by another user")),
        None => {
            sqlx::query("UPDATE workflow_tasks SET assignee_id = $2 WHERE id = $1")
                .bind(task_id)
                .bind(actor.user_id)
                .execute(&mut *db)
                .await?;
            log(db, Entry::new(task.instance_id, Some(task_id), task.stage, "claim", actor.user_id)).await?;
        }
    }
    sqlx::query_as(&format!("{} {} WHERE t.id = $1", TASKS.select, TASKS.from))
        .bind(task_id)
        .fetch_one(db)
        .await
        .map_err(Into::into)
}

/// What `lock_task` reads.
#[derive(FromRow)]
struct LockedTask {
    instance_id: i64,
    stage: i32,
    assignee_id: Option<i64>,
    status: String,
    maker_id: i64,
    region_id: i64,
    region_path: String,
    subject_type: String,
    stages: SqlJson<Vec<Stage>>,
}

/// The open task `task_id`, locked with its instance, if `actor` holds its position in its region.
async fn lock_task(db: &mut PgConnection, actor: &Actor, task_id: i64) -> Result<LockedTask, Error> {
    let task: LockedTask = sqlx::query_as(
        "SELECT t.instance_id, t.stage, t.assignee_id, t.status, i.maker_id, i.region_id, r.path AS region_path,
                i.subject_type, d.stages
         FROM workflow_tasks t JOIN workflow_instances i ON i.id = t.instance_id
         JOIN workflow_definitions d ON d.id = i.definition_id JOIN regions r ON r.id = i.region_id
         WHERE t.id = $1 AND starts_with(r.path, $2) AND t.position_code = ANY($3)
         FOR UPDATE OF t, i",
    )
    .bind(task_id)
    .bind(&actor.region_path)
    .bind(&actor.positions)
    .fetch_optional(&mut *db)
    .await?
    .ok_or(Error::NotFound("task"))?;
    if task.status != "open" {
        return Err(Error::invalid_state(format!("the task is {}", task.status)));
    }
    Ok(task)
}

/// What the holder of an open task may do with it: the stage's actions and who it may be
/// transferred to (id, display name).
pub struct Choices {
    /// The actions the stage allows.
    pub actions: Vec<Action>,
    /// The users the task may be handed to (转件).
    pub transferees: Vec<(i64, String)>,
}

/// The choices `actor` has on the open task `task_id`.
pub async fn choices(db: &mut PgConnection, actor: &Actor, task_id: i64) -> Result<Choices, Error> {
    let task = lock_task(db, actor, task_id).await?;
    let stage = usize::try_from(task.stage).ok().and_then(|s| task.stages.0.get(s)).cloned();
    let Some(stage) = stage else { return Err(Error::Internal("the task's stage is not in its definition".into())) };
    let mut transferees = transferees(db, &task, &stage.position).await?;
    transferees.retain(|(id, _)| *id != actor.user_id);
    Ok(Choices { actions: stage.actions, transferees })
}

/// Active users other than the maker, holding `position`, whose region covers the task's request.
async fn transferees(db: &mut PgConnection, task: &LockedTask, position: &str) -> Result<Vec<(i64, String)>, Error> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.display_name FROM users u JOIN regions r ON r.id = u.region_id
            JOIN user_positions up ON up.user_id = u.id JOIN staff_positions p ON p.id = up.position_id
            WHERE u.active AND p.code = $1 AND starts_with($2, r.path) AND u.id <> $3 ORDER BY u.display_name, u.id",
    )
    .bind(position)
    .bind(&task.region_path)
    .bind(task.maker_id)
    .fetch_all(&mut *db)
    .await?)
}

/// Applies `action` by `actor` to the open task `task_id`; returns the instance after it.
pub async fn act(
    db: &mut PgConnection,
    hooks: &Hooks,
    actor: &Actor,
    task_id: i64,
    action: Action,
    request: &ActRequest,
) -> Result<Instance, Error> {
    let task = lock_task(db, actor, task_id).await?;
    if task.assignee_id.is_some_and(|a| a != actor.user_id) {
        return Err(Error::invalid_state("the task is assigned to another user"));
    }
    if action == Action::Approve && task.maker_id == actor.user_id {
        return Err(Error::Forbidden {
            code: "maker_cannot_approve",
            detail: "the maker of a request cannot approve it".into(),
        });
    }
    let note = request.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if matches!(action, Action::Reject | Action::Return | Action::Note) && note.is_none() {
        return Err(Error::invalid("note", format!("`{}` needs a note saying why", action.as_str())));
    }
    if note.is_some_and(|n| n.chars().count() > 2000) {
        return Err(Error::invalid("note", "must be at most 2000 characters"));
    }
    let current = usize::try_from(task.stage).map_err(|_| Error::Internal("negative stage".into()))?;
    let to_stage = request.to_stage.and_then(|s| usize::try_from(s).ok());
    let step = definition::step(&task.stages.0, current, action, to_stage).map_err(|e| match e {
        definition::StepError::BadReturn { .. } => Error::invalid("to_stage", e.to_string()),
        other => Error::invalid_state(other.to_string()),
    })?;
    let before = instance(db, actor, task.instance_id).await?;
    let mut to_user = None;
    match step {
        Step::Noted => {}
        Step::Reassign => {
            let target = request.to_user_id.ok_or_else(|| Error::invalid("to_user_id", "`transfer` needs a user"))?;
            let position = &task.stages.0[current].position;
            if !transferees(db, &task, position).await?.iter().any(|(id, _)| *id == target) {
                return Err(Error::invalid(
                    "to_user_id",
                    format!(
                        "must be an active user other than the maker, holding `{position}`, whose region covers the request"
                    ),
                ));
            }
            sqlx::query("UPDATE workflow_tasks SET assignee_id = $2 WHERE id = $1")
                .bind(task_id)
                .bind(target)
                .execute(&mut *db)
                .await?;
            to_user = Some(target);
        }
        Step::Advance(next) | Step::Back(next) => {
            close_task(db, task_id, actor.user_id, action).await?;
            let assignee = match step {
                // A returned request goes back to whoever approved that stage before.
                Step::Back(_) => {
                    sqlx::query_scalar(
                        "SELECT h.actor_id FROM workflow_history h JOIN users u ON u.id = h.actor_id
                     WHERE h.instance_id = $1 AND h.stage = $2 AND h.action = 'approve' AND u.active
                     ORDER BY h.id DESC LIMIT 1",
                    )
                    .bind(task.instance_id)
                    .bind(i32::try_from(next).unwrap_or(0))
                    .fetch_optional(&mut *db)
                    .await?
                }
                _ => None,
            };
            open_task(db, task.instance_id, next, &task.stages.0[next], assignee).await?;
            sqlx::query("UPDATE workflow_instances SET stage = $2, version = version + 1 WHERE id = $1")
                .bind(task.instance_id)
                .bind(i32::try_from(next).unwrap_or(0))
                .execute(&mut *db)
                .await?;
        }
        Step::Finish(outcome) => {
            close_task(db, task_id, actor.user_id, action).await?;
            sqlx::query(
                "UPDATE workflow_instances SET status = $2, finished_at = now(), version = version + 1 WHERE id = $1",
            )
            .bind(task.instance_id)
            .bind(outcome.as_str())
            .execute(&mut *db)
            .await?;
        }
    }
    let to_stage = match step {
        Step::Back(to) => i32::try_from(to).ok(),
        _ => None,
    };
    let entry = Entry {
        note,
        to_stage,
        to_user,
        ..Entry::new(task.instance_id, Some(task_id), task.stage, action.as_str(), actor.user_id)
    };
    log(db, entry).await?;
    let after = instance(db, actor, task.instance_id).await?;
    if let Step::Finish(outcome) = step
        && let Some(hook) = hooks.get(&task.subject_type)
    {
        hook.finished(db, &after, outcome, hooks.today()).await?;
    }
    audit::record(
        &mut *db,
        actor.author(),
        Change::new(action.as_str(), "workflow_instance", after.id, Some(task.region_id))
            .before(json!({"status": before.status, "stage": before.stage}))
            .after(json!({"status": after.status, "stage": after.stage, "task": task_id, "note": note,
                               "to_user_id": to_user})),
    )
    .await?;
    Ok(after)
}

/// Withdraws an active instance; only its maker may.
pub async fn cancel(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Instance, Error> {
    let before = instance(db, actor, id).await?;
    if before.maker_id != actor.user_id {
        return Err(Error::Forbidden { code: "not_the_maker", detail: "only the maker can withdraw a request".into() });
    }
    if before.status != "active" {
        return Err(Error::invalid_state(format!("the request is already {}", before.status)));
    }
    sqlx::query("UPDATE workflow_tasks SET status = 'cancelled', completed_at = now() WHERE instance_id = $1 AND status = 'open'")
        .bind(id)
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "UPDATE workflow_instances SET status = 'cancelled', finished_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *db)
    .await?;
    log(db, Entry::new(id, None, before.stage, "cancel", actor.user_id)).await?;
    let after = instance(db, actor, id).await?;
    audit::record(
        &mut *db,
        actor.author(),
        Change::new("cancel", "workflow_instance", id, Some(after.region_id))
            .before(json!({"status": before.status}))
            .after(json!({"status": after.status})),
    )
    .await?;
    Ok(after)
}

async fn open_task(
    db: &mut PgConnection,
    instance_id: i64,
    index: usize,
    stage: &Stage,
    assignee: Option<i64>,
) -> Result<(), Error> {
    let due = stage.sla_hours.map(|h| Utc::now() + Duration::hours(h.into()));
    sqlx::query(
        "INSERT INTO workflow_tasks (instance_id, stage, position_code, assignee_id, due_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(instance_id)
    .bind(i32::try_from(index).unwrap_or(0))
    .bind(&stage.position)
    .bind(assignee)
    .bind(due)
    .execute(db)
    .await?;
    Ok(())
}

async fn close_task(db: &mut PgConnection, task_id: i64, user: i64, action: Action) -> Result<(), Error> {
    sqlx::query(
        "UPDATE workflow_tasks SET status = 'done', completed_at = now(), completed_by = $2, outcome = $3 WHERE id = $1",
    )
    .bind(task_id)
    .bind(user)
    .bind(action.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// One history row to write.
struct Entry<'a> {
    instance_id: i64,
    task_id: Option<i64>,
    stage: i32,
    action: &'a str,
    actor: i64,
    note: Option<&'a str>,
    to_stage: Option<i32>,
    to_user: Option<i64>,
}

impl<'a> Entry<'a> {
    fn new(instance_id: i64, task_id: Option<i64>, stage: i32, action: &'a str, actor: i64) -> Self {
        Self { instance_id, task_id, stage, action, actor, note: None, to_stage: None, to_user: None }
    }
}

async fn log(db: &mut PgConnection, e: Entry<'_>) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO workflow_history (instance_id, task_id, stage, action, actor_id, note, to_stage, to_user_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.instance_id)
    .bind(e.task_id)
    .bind(e.stage)
    .bind(e.action)
    .bind(e.actor)
    .bind(e.note)
    .bind(e.to_stage)
    .bind(e.to_user)
    .execute(db)
    .await?;
    Ok(())
}
