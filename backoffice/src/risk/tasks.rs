//! Collection (催收) and repossession (收车) tasks. Collection tasks are made from alerts, with their
//! evidence; the monitor proposes repossession tasks when a located vehicle's contract reaches the
//! repossession bucket. A task goes to a user holding its position (`collection` or `repossession`)
//! in the task's region, and ends done or cancelled. `risk_tasks` is written only through
//! `leasewatch_monitor::tasks`; this service checks, reads and audits.

use chrono::{DateTime, Utc};
use leasewatch_monitor::tasks;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};

/// A task.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct RiskTask {
    /// Id.
    pub id: i64,
    /// `collection` or `repossession`.
    pub kind: String,
    /// `open`, `assigned`, `done` or `cancelled`.
    pub status: String,
    /// The vehicle.
    pub vehicle_id: i64,
    /// The contract.
    pub contract_id: Option<i64>,
    /// Region.
    pub region_id: i64,
    /// The alerts it was made from.
    pub alert_ids: Vec<i64>,
    /// Alerts' evidence, or for repossession the last trustworthy fix, the night parking place
    /// and the hours the vehicle is usually there.
    #[schema(value_type = Object)]
    pub evidence: Value,
    /// The position whose users may take it.
    pub position_code: Option<String>,
    /// Who has it.
    pub assignee_id: Option<i64>,
    /// Notes.
    pub note: Option<String>,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// For optimistic concurrency.
    pub version: i32,
    /// The contract's risk score (0–100), when computed.
    pub risk_score: Option<i32>,
    /// The vehicle's plate.
    pub plate: Option<String>,
    /// The contract's number.
    pub contract_number: Option<String>,
    /// Who has it, by name.
    pub assignee_name: Option<String>,
}

/// How tasks are read, with their contract's risk score.
const TABLE: Table<RiskTask> = Table::new(
    "task",
    "SELECT t.id, t.kind, t.status, t.vehicle_id, t.contract_id, t.region_id, t.alert_ids, t.evidence,
        t.position_code, t.assignee_id, t.note, t.created_at, t.updated_at, t.version, cr.score AS risk_score,
        v.plate, c.number AS contract_number, u.display_name AS assignee_name",
    "FROM risk_tasks t JOIN regions g ON g.id = t.region_id LEFT JOIN contract_risk cr ON cr.contract_id = t.contract_id
     JOIN vehicles v ON v.id = t.vehicle_id LEFT JOIN contracts c ON c.id = t.contract_id
     LEFT JOIN users u ON u.id = t.assignee_id",
    "t.id",
)
.scoped("g.path")
.sorted(&[("created_at", "t.created_at"), ("id", "t.id"), ("risk", "COALESCE(cr.score, 0)")], "-created_at");

/// Filters of the task list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskFilter {
    /// `collection` or `repossession`.
    #[param(pattern = "^(collection|repossession)$")]
    pub kind: Option<String>,
    /// `open`, `assigned`, `done` or `cancelled`.
    #[param(pattern = "^(open|assigned|done|cancelled)$")]
    pub status: Option<String>,
    /// Only the actor's own.
    pub mine: Option<bool>,
    /// Only tasks for a position the actor holds: their group's queue.
    pub group: Option<bool>,
    /// Only tasks of this contract.
    pub contract_id: Option<i64>,
    /// Only tasks of this vehicle.
    pub vehicle_id: Option<i64>,
}

/// Tasks of the actor's region subtree, newest first (`sort=-risk`: riskiest contracts first).
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &TaskFilter,
) -> Result<Paged<RiskTask>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("t.kind", filter.kind.clone())
                .eq("t.status", filter.status.clone())
                .eq("t.assignee_id", (filter.mine == Some(true)).then_some(actor.user_id))
                .eq("t.contract_id", filter.contract_id)
                .eq("t.vehicle_id", filter.vehicle_id);
            if filter.group == Some(true) {
                f.and().push("t.position_code = ANY(").push_bind(actor.positions.clone()).push(")");
            }
        })
        .await
}

/// The task `id` with its evidence, if in the actor's region subtree.
pub async fn get(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<RiskTask, Error> {
    TABLE.load(db, actor, id).await
}

/// An alert a task is made from: id, vehicle, contract, region, rule, severity, title, evidence.
type SourceAlert = (i64, i64, Option<i64>, i64, String, String, String, Value);

/// A task made from alerts of one vehicle.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// `collection` or `repossession`.
    #[schema(pattern = "^(collection|repossession)$")]
    pub kind: String,
    /// The alerts (1 to 50, all of one vehicle).
    #[schema(min_items = 1, max_items = 50)]
    pub alert_ids: Vec<i64>,
    /// Instructions.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Makes a task from alerts of the actor's region subtree, carrying their evidence; one open task
/// of a kind per vehicle.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewTask) -> Result<RiskTask, Error> {
    let mut checks = Checks::default();
    checks.check(
        matches!(new.kind.as_str(), "collection" | "repossession"),
        "kind",
        "must be collection or repossession",
    );
    checks.check((1..=50).contains(&new.alert_ids.len()), "alert_ids", "must name 1 to 50 alerts");
    checks.check(
        new.note.as_ref().is_none_or(|n| n.chars().count() <= 1000),
        "note",
        "must be at most 1000 characters",
    );
    checks.finish()?;
    let alerts: Vec<SourceAlert> = sqlx::query_as(
        "SELECT a.id, a.vehicle_id, a.contract_id, a.region_id, a.rule, a.severity, a.title, a.evidence
         FROM alerts a JOIN regions g ON g.id = a.region_id WHERE a.id = ANY($1) AND starts_with(g.path, $2) ORDER BY a.id",
    )
    .bind(&new.alert_ids)
    .bind(&actor.region_path)
    .fetch_all(&mut *db)
    .await?;
    let mut ids = new.alert_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    let first = alerts.first().filter(|_| alerts.len() == ids.len());
    let Some(&(_, vehicle_id, contract_id, region_id, ..)) = first else {
        return Err(Error::invalid("alert_ids", "names an alert that does not exist in your region"));
    };
    if alerts.iter().any(|a| a.1 != vehicle_id) {
        return Err(Error::invalid("alert_ids", "must all be alerts of one vehicle"));
    }
    let evidence = json!({"alerts": alerts.iter().map(|a| json!({"id": a.0, "rule": a.4, "severity": a.5, "title": a.6, "evidence": a.7})).collect::<Vec<_>>()});
    let new_task = tasks::NewTask {
        kind: &new.kind,
        vehicle_id,
        contract_id,
        region_id,
        alert_ids: &ids,
        evidence: &evidence,
        note: new.note.as_deref().map(str::trim),
    };
    let Some(id) = tasks::open(db, &new_task).await? else {
        return Err(Error::Conflict {
            code: "duplicate",
            detail: format!("the vehicle already has an open {} task", new.kind),
        });
    };
    let task = TABLE.load(db, actor, id).await?;
    let entry = Change::new("create", "risk_task", id, Some(region_id))
        .after(json!({"kind": task.kind, "alert_ids": task.alert_ids}));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(task)
}

/// Who takes a task.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    /// A user holding the task's position, in the task's region subtree.
    pub user_id: i64,
}

/// How a task ended.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Close {
    /// What happened.
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub note: String,
}

/// Gives an open or assigned task to an active user of its region holding its position.
pub async fn assign(db: &mut PgConnection, actor: &Actor, id: i64, body: &Assign) -> Result<RiskTask, Error> {
    transition(db, actor, id, "assigned", Some(body.user_id), None).await
}

/// The actor takes an open task of a position they hold, or one assigned to someone else
/// (reassignment when a collector is absent).
pub async fn claim(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<RiskTask, Error> {
    transition(db, actor, id, "assigned", Some(actor.user_id), None).await
}

/// How a task ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The work was done.
    Done,
    /// The task is no longer needed.
    Cancelled,
}

impl Ending {
    /// The task's status after it (`done` or `cancelled`), also the audited action.
    pub fn status(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Ends an open or assigned task, with the note saying how.
pub async fn close(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    ending: Ending,
    body: &Close,
) -> Result<RiskTask, Error> {
    Checks::default().text("note", &body.note, 1000).finish()?;
    transition(db, actor, id, ending.status(), None, Some(body.note.trim())).await
}

async fn transition(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    to: &str,
    assignee: Option<i64>,
    note: Option<&str>,
) -> Result<RiskTask, Error> {
    let before = TABLE.lock(db, actor, id).await?;
    if !matches!(before.status.as_str(), "open" | "assigned") {
        return Err(Error::invalid_state(format!("the task is {}", before.status)));
    }
    if let Some(user) = assignee {
        let eligible: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users u JOIN regions g ON g.id = u.region_id
                            WHERE u.id = $1 AND u.active AND starts_with((SELECT path FROM regions WHERE id = $2), g.path)
                              AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM user_positions up JOIN staff_positions p ON p.id = up.position_id
                                                               WHERE up.user_id = u.id AND p.code = $3)))",
        )
        .bind(user)
        .bind(before.region_id)
        .bind(&before.position_code)
        .fetch_one(&mut *db)
        .await?;
        if !eligible {
            return Err(Error::invalid(
                "user_id",
                format!(
                    "must be an active user of the task's region holding the position `{}`",
                    before.position_code.as_deref().unwrap_or("-")
                ),
            ));
        }
    }
    tasks::set_status(db, id, to, assignee, note).await?;
    let after = TABLE.load(db, actor, id).await?;
    let entry = Change::new(to, "risk_task", id, Some(after.region_id))
        .before(json!({"status": before.status, "assignee_id": before.assignee_id}))
        .after(json!({"status": after.status, "assignee_id": after.assignee_id, "note": note}));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(after)
}
