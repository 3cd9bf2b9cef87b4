//! Litigation (诉讼管理): the application (诉讼申请) approved through the workflow
//! (`litigation_application`), the registration (诉讼登记: court, case number, claim, lawyer), its
//! stages (filed, hearing, judgment, enforcement) each dated in order, fee applications (诉讼费用申请)
//! charged to the contract once approved, the amounts recovered, and the closing review
//! (诉讼结案审核, workflow `litigation_closing`). Scoped to the caller's region and audited.

use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::books::contract;
use crate::error::{Checks, Error};
use crate::kit::amount::cents;
use crate::kit::approvals;
use crate::kit::audit;
use crate::kit::list::{PageParams, Paged, Table};
use crate::postloan::charges::{self, Charge, Kind};
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// Subject type (and workflow key) of a litigation application; subject id: the case.
pub const APPLICATION: &str = "litigation_application";
/// Subject type (and workflow key) of a case's closing review; subject id: the case.
pub const CLOSING: &str = "litigation_closing";

/// The stages of a registered case, in order.
pub const STAGES: &[&str] = &["filed", "hearing", "judgment", "enforcement"];

/// `hooks` with litigation's approvals declared.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(APPLICATION, application_decided).on(CLOSING, closing_decided)
}

/// A case.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Case {
    /// Id.
    pub id: i64,
    /// The contract sued on.
    pub contract_id: i64,
    /// Its number.
    pub contract_number: String,
    /// Region.
    pub region_id: i64,
    /// `applied`, `approved`, `rejected`, `registered`, `filed`, `hearing`, `judgment`,
    /// `enforcement`, `closing` or `closed`.
    pub status: String,
    /// Why sue.
    pub reason: String,
    /// What is claimed.
    #[serde(serialize_with = "cents")]
    pub claim_amount: Decimal,
    /// The court.
    pub court: Option<String>,
    /// The court's case number.
    pub case_number: Option<String>,
    /// The lawyer.
    pub lawyer: Option<String>,
    /// Filed with the court on.
    pub filed_on: Option<NaiveDate>,
    /// Heard on.
    pub hearing_on: Option<NaiveDate>,
    /// Judged on.
    pub judgment_on: Option<NaiveDate>,
    /// Enforcement from.
    pub enforcement_on: Option<NaiveDate>,
    /// Closed on.
    pub closed_on: Option<NaiveDate>,
    /// What the case recovered so far.
    #[serde(serialize_with = "cents")]
    pub recovered_amount: Decimal,
    /// Why it is closed.
    pub closing_note: Option<String>,
    /// When applied for.
    pub created_at: DateTime<Utc>,
    /// Version, for changes.
    pub version: i32,
}

/// How cases are read.
pub const TABLE: Table<Case> = Table::new(
    "litigation case",
    "SELECT l.id, l.contract_id, c.number AS contract_number, l.region_id, l.status, l.reason, l.claim_amount, l.court,
        l.case_number, l.lawyer, l.filed_on, l.hearing_on, l.judgment_on, l.enforcement_on, l.closed_on,
        l.recovered_amount, l.closing_note, l.created_at, l.version",
    "FROM litigation_cases l JOIN regions g ON g.id = l.region_id JOIN contracts c ON c.id = l.contract_id",
    "l.id",
)
.scoped("g.path")
.sorted(&[("id", "l.id")], "-id");

/// Filters of the case list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseFilter {
    /// One status.
    pub status: Option<String>,
    /// One contract.
    pub contract_id: Option<i64>,
}

/// The cases of the actor's region subtree, newest first.
pub async fn list(pool: &PgPool, actor: &Actor, page: &PageParams, filter: &CaseFilter) -> Result<Paged<Case>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("l.status", filter.status.clone()).eq("l.contract_id", filter.contract_id);
        })
        .await
}

crate::stateful_record!(Case, "litigation_case");

/// An application to sue (诉讼申请).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// The contract.
    pub contract_id: i64,
    /// What to claim.
    #[schema(value_type = String)]
    pub claim_amount: Decimal,
    /// Why.
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// Applies to sue on a contract of the actor's region; approved through the workflow. Audited.
pub async fn apply(db: &mut PgConnection, actor: &Actor, new: &Application) -> Result<Case, Error> {
    let mut checks = Checks::default();
    checks.check(
        new.claim_amount > Decimal::ZERO && new.claim_amount.scale() <= 2,
        "claim_amount",
        "must be more than 0, in yuan and fen",
    );
    checks.text("reason", &new.reason, 1000);
    checks.finish()?;
    let c = contract::TABLE.load(db, actor, new.contract_id).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO litigation_cases (contract_id, region_id, reason, claim_amount, requested_by) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(c.id)
    .bind(c.region_id)
    .bind(new.reason.trim())
    .bind(new.claim_amount)
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await
    .map_err(|e| match Error::from(e) {
        Error::Conflict { code: "duplicate", .. } => Error::Conflict { code: "duplicate", detail: "the contract already has a case under way".into() },
        other => other,
    })?;
    approvals::submit(
        db,
        actor,
        APPLICATION,
        id,
        c.region_id,
        &format!("诉讼申请 {} 标的 {} — {}", c.number, new.claim_amount, new.reason.trim()),
    )
    .await?;
    let case = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "apply", None, &case).await?;
    Ok(case)
}

fn application_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        sqlx::query(
            "UPDATE litigation_cases SET status = $2, version = version + 1 WHERE id = $1 AND status = 'applied'",
        )
        .bind(decision.subject)
        .bind(if decision.approved() { "approved" } else { "rejected" })
        .execute(&mut *tx)
        .await?;
        Ok(())
    })
}

/// The court's case, registered once the application is approved (诉讼登记).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The version that was read.
    pub version: i32,
    /// The court.
    #[schema(min_length = 1, max_length = 200)]
    pub court: String,
    /// The court's case number.
    #[schema(min_length = 1, max_length = 100)]
    pub case_number: String,
    /// The lawyer.
    #[schema(min_length = 1, max_length = 100)]
    pub lawyer: String,
    /// The claim, as filed.
    #[schema(value_type = String)]
    pub claim_amount: Decimal,
}

/// Registers an approved case. Audited.
pub async fn register(db: &mut PgConnection, actor: &Actor, id: i64, body: &Registration) -> Result<Case, Error> {
    let mut checks = Checks::default();
    checks.text("court", &body.court, 200).text("case_number", &body.case_number, 100).text(
        "lawyer",
        &body.lawyer,
        100,
    );
    checks.check(
        body.claim_amount > Decimal::ZERO && body.claim_amount.scale() <= 2,
        "claim_amount",
        "must be more than 0, in yuan and fen",
    );
    checks.finish()?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["approved"]).await?;
    sqlx::query(
        "UPDATE litigation_cases SET status = 'registered', court = $2, case_number = $3, lawyer = $4, claim_amount = $5,
             version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(body.court.trim())
    .bind(body.case_number.trim())
    .bind(body.lawyer.trim())
    .bind(body.claim_amount)
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "register", Some(&before), &after).await?;
    Ok(after)
}

/// A stage reached.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageReached {
    /// The version that was read.
    pub version: i32,
    /// `filed`, `hearing`, `judgment` or `enforcement`: the next one, or a later one.
    pub stage: String,
    /// When.
    pub on: NaiveDate,
}

/// Moves a case on to a later stage, dated (not before the stage it leaves). Audited.
pub async fn reach(db: &mut PgConnection, actor: &Actor, id: i64, body: &StageReached) -> Result<Case, Error> {
    let Some(to) = STAGES.iter().position(|s| *s == body.stage) else {
        return Err(Error::invalid("stage", "must be filed, hearing, judgment or enforcement"));
    };
    let before = TABLE.lock_in(db, actor, id, body.version, &["registered", "filed", "hearing", "judgment"]).await?;
    let from = STAGES.iter().position(|s| *s == before.status);
    if from.is_some_and(|f| f >= to) {
        return Err(Error::invalid("stage", format!("the case is already at {}", before.status)));
    }
    let last = [before.filed_on, before.hearing_on, before.judgment_on].into_iter().flatten().max();
    if last.is_some_and(|d| body.on < d) {
        return Err(Error::invalid("on", "must not be before the stage the case is at"));
    }
    let column = match body.stage.as_str() {
        "filed" => "filed_on",
        "hearing" => "hearing_on",
        "judgment" => "judgment_on",
        _ => "enforcement_on",
    };
    sqlx::query(&format!(
        "UPDATE litigation_cases SET status = $2, {column} = $3, version = version + 1 WHERE id = $1"
    ))
    .bind(id)
    .bind(&body.stage)
    .bind(body.on)
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "stage", Some(&before), &after).await?;
    Ok(after)
}

/// A litigation fee to charge (诉讼费用申请): court fees, the lawyer's fee, preservation...
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeApplication {
    /// The amount.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Who is paid (the court, the law firm).
    #[schema(min_length = 1, max_length = 200)]
    pub payee: String,
    /// What for.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Asks for a fee of a registered case; charged to the contract once approved.
pub async fn apply_fee(db: &mut PgConnection, actor: &Actor, id: i64, body: &FeeApplication) -> Result<Charge, Error> {
    let case = TABLE.load(db, actor, id).await?;
    if matches!(case.status.as_str(), "applied" | "approved" | "rejected" | "closed") {
        return Err(Error::invalid_state(format!(
            "the case is {}: fees are asked for on a registered case",
            case.status
        )));
    }
    Checks::default().text("payee", &body.payee, 200).finish()?;
    let request = charges::Request {
        contract_id: case.contract_id,
        region_id: case.region_id,
        kind: Kind::Litigation,
        source: ("litigation_case", id),
        amount: body.amount,
        scheduled: None,
        payee: &body.payee,
        reason: &body.reason,
        above_schedule_reason: None,
    };
    charges::request(db, actor, &request).await
}

/// An amount the case recovered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recovered {
    /// The version that was read.
    pub version: i32,
    /// The amount (the money itself is registered as a receipt of the contract).
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// Adds what the case recovered. Audited.
pub async fn add_recovered(db: &mut PgConnection, actor: &Actor, id: i64, body: &Recovered) -> Result<Case, Error> {
    Checks::default()
        .check(
            body.amount > Decimal::ZERO && body.amount.scale() <= 2,
            "amount",
            "must be more than 0, in yuan and fen",
        )
        .finish()?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["judgment", "enforcement", "closing"]).await?;
    sqlx::query(
        "UPDATE litigation_cases SET recovered_amount = recovered_amount + $2, version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(body.amount)
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "recovered", Some(&before), &after).await?;
    Ok(after)
}

/// Why a case is to close.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Closing {
    /// The version that was read.
    pub version: i32,
    /// Paid in full, settled, nothing to enforce...
    #[schema(min_length = 1, max_length = 1000)]
    pub note: String,
}

/// Asks to close a registered case (诉讼结案审核); it closes when the review approves.
pub async fn request_closing(db: &mut PgConnection, actor: &Actor, id: i64, body: &Closing) -> Result<Case, Error> {
    Checks::default().text("note", &body.note, 1000).finish()?;
    let before = TABLE
        .lock_in(db, actor, id, body.version, &["registered", "filed", "hearing", "judgment", "enforcement"])
        .await?;
    sqlx::query(
        "UPDATE litigation_cases SET status = 'closing', closing_note = $2, version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(body.note.trim())
    .execute(&mut *db)
    .await?;
    let title = format!(
        "诉讼结案 {} {} 已回收 {} — {}",
        before.contract_number,
        before.case_number.as_deref().unwrap_or(""),
        before.recovered_amount,
        body.note.trim()
    );
    approvals::submit(db, actor, CLOSING, id, before.region_id, &title).await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "request_closing", Some(&before), &after).await?;
    Ok(after)
}

/// Closes the case once the review approves; a rejected closing puts it back at its last stage.
fn closing_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        // Approved: closed on the company's day. Rejected: back to the last stage it reached.
        let status = "CASE WHEN $2 THEN 'closed' WHEN enforcement_on IS NOT NULL THEN 'enforcement'
                           WHEN judgment_on IS NOT NULL THEN 'judgment' WHEN hearing_on IS NOT NULL THEN 'hearing'
                           WHEN filed_on IS NOT NULL THEN 'filed' ELSE 'registered' END";
        sqlx::query(&format!(
            "UPDATE litigation_cases SET status = {status}, closed_on = CASE WHEN $2 THEN $3 ELSE closed_on END,
                 version = version + 1
             WHERE id = $1 AND status = 'closing'"
        ))
        .bind(decision.subject)
        .bind(decision.approved())
        .bind(decision.today)
        .execute(&mut *tx)
        .await?;
        Ok(())
    })
}
