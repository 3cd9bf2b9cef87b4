//! Partial prepayment (部分提前还款) over the books: the plan for a contract with nothing overdue —
//! what the customer pays now and the schedule that replaces the installments left — shown before
//! anything changes; asked for with a reason and carried out once a second person approves
//! (workflow `partial_prepayment`) and the customer's money is in (their credit): the installments
//! after the date are replaced by the new ones, the prepaid principal, its interest so far and the
//! fee are charged and paid from the credit, and the contract keeps its new terms.

use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use leasewatch_finance::allocation::Item;
use leasewatch_finance::prepayment::{self, Mode, Plan};
use leasewatch_finance::settlement::FeeRule;
use leasewatch_finance::{Row, Terms};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::types::Json as SqlJson;
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};

use super::allocation::{Batch, Source};
use super::receivables::{self, open_items};
use super::{contract, events};
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::amount::cents;
use crate::kit::approvals;
use crate::kit::audit::{self, Change};
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// Subject type (and workflow key) of a partial prepayment; subject id: the request.
pub const PARTIAL_PREPAYMENT: &str = "partial_prepayment";

/// The period of the items a prepayment charges on its day.
const PREPAYMENT_PERIOD: i32 = 10_001;

/// `hooks` with the prepayment's approval declared.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(PARTIAL_PREPAYMENT, decided)
}

/// A prepayment to plan.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrepaymentQuery {
    /// The day (not before the last due date, not more than 90 days ahead).
    pub date: NaiveDate,
    /// Principal to prepay.
    #[param(value_type = String)]
    pub amount: Decimal,
    /// `lower_installment` or `shorten_term`.
    #[param(value_type = String)]
    pub mode: Mode,
}

/// A prepayment to ask for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepaymentRequest {
    /// The day (not before the last due date, not more than 90 days ahead).
    pub date: NaiveDate,
    /// Principal to prepay.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// `lower_installment` or `shorten_term`.
    #[schema(value_type = String)]
    pub mode: Mode,
    /// Why (the customer's request...).
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// A request as kept.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct PrepaymentView {
    /// Id.
    pub id: i64,
    /// The contract.
    pub contract_id: i64,
    /// The day.
    pub date: NaiveDate,
    /// Principal prepaid.
    #[serde(serialize_with = "cents")]
    pub amount: Decimal,
    /// `lower_installment` or `shorten_term`.
    pub mode: String,
    /// The plan shown when asked.
    #[schema(value_type = Object)]
    pub plan: SqlJson<Plan>,
    /// `pending`, `applied` or `rejected`.
    pub status: String,
    /// Why.
    pub reason: String,
    /// When asked.
    pub created_at: DateTime<Utc>,
}

/// The schedule still on the books: each period's due date, principal, interest and fee.
async fn rows(db: &mut PgConnection, contract: i64) -> Result<Vec<Row>, Error> {
    let found: Vec<(i32, NaiveDate, Decimal, Decimal, Decimal)> = sqlx::query_as(
        "SELECT period, min(due_date),
                COALESCE(sum(amount) FILTER (WHERE component = 'principal'), 0),
                COALESCE(sum(amount) FILTER (WHERE component = 'interest'), 0),
                COALESCE(sum(amount) FILTER (WHERE component = 'fee'), 0)
         FROM receivables WHERE contract_id = $1 AND period BETWEEN 1 AND 9999 AND charge IS NULL AND component <> 'penalty'
         GROUP BY period ORDER BY period",
    )
    .bind(contract)
    .fetch_all(db)
    .await?;
    Ok(found
        .into_iter()
        .filter_map(|(period, due_date, principal, interest, fee)| {
            Some(Row {
                period: u32::try_from(period).ok()?,
                due_date,
                payment: principal + interest + fee,
                principal,
                interest,
                fee,
                balance: Decimal::ZERO,
            })
        })
        .collect())
}

/// The plan of prepaying on the contract `id` of the actor's region, as of `today`.
pub async fn preview(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    query: &PrepaymentQuery,
    today: NaiveDate,
) -> Result<Plan, Error> {
    let c = contract::TABLE.load(db, actor, id).await?;
    if c.status != "active" {
        return Err(Error::invalid_state(format!("the contract is {}", c.status)));
    }
    if c.dpd > 0 {
        return Err(Error::invalid_state(format!(
            "{} days past due: the arrears are paid before any prepayment",
            c.dpd
        )));
    }
    let (terms, fee_rule): (SqlJson<Terms>, Option<SqlJson<FeeRule>>) = sqlx::query_as(
        "SELECT c.terms, p.rules -> 'settlement_fee' FROM contracts c LEFT JOIN products p ON p.id = c.product_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *db)
    .await?;
    let rows = rows(db, id).await?;
    let last_due = rows.iter().map(|r| r.due_date).filter(|d| *d <= today).max();
    let mut checks = Checks::default();
    checks.check(
        query.date <= today + chrono::Duration::days(90) && last_due.is_none_or(|d| query.date >= d),
        "date",
        format!(
            "must be from the last due date{} to 90 days ahead",
            last_due.map(|d| format!(" ({d})")).unwrap_or_default()
        ),
    );
    checks.finish()?;
    prepayment::plan(&terms.0, &rows, query.date, query.amount, query.mode, &fee_rule.map(|f| f.0).unwrap_or_default())
        .map_err(|e| Error::invalid("amount", e.to_string()))
}

/// Asks for the prepayment with its plan and submits it for approval; nothing changes before. Audited.
pub async fn request(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    request: &PrepaymentRequest,
    today: NaiveDate,
) -> Result<PrepaymentView, Error> {
    Checks::default().text("reason", &request.reason, 500).finish()?;
    let query = PrepaymentQuery { date: request.date, amount: request.amount, mode: request.mode };
    let plan = preview(db, actor, id, &query, today).await?;
    let c = contract::TABLE.load(db, actor, id).await?;
    let mode = match plan.mode {
        Mode::LowerInstallment => "lower_installment",
        Mode::ShortenTerm => "shorten_term",
    };
    let view: PrepaymentView = sqlx::query_as(
        "INSERT INTO prepayment_requests (contract_id, date, amount, mode, plan, reason, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, contract_id, date, amount, mode, plan, status, reason, created_at",
    )
    .bind(id)
    .bind(plan.date)
    .bind(plan.amount)
    .bind(mode)
    .bind(SqlJson(&plan))
    .bind(request.reason.trim())
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let title = format!("部分提前还款 {} {} 应付 {} — {}", c.number, plan.amount, plan.total, request.reason.trim());
    approvals::submit(db, actor, PARTIAL_PREPAYMENT, view.id, c.region_id, &title).await?;
    let entry = Change::new("request_prepayment", "contract", id, Some(c.region_id)).after(json!(view));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(view)
}

/// The prepayments asked for on the contract `id` of the actor's region, newest first.
pub async fn of_contract(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Vec<PrepaymentView>, Error> {
    contract::TABLE.load(db, actor, id).await?;
    Ok(sqlx::query_as(
        "SELECT id, contract_id, date, amount, mode, plan, status, reason, created_at FROM prepayment_requests
         WHERE contract_id = $1 ORDER BY id DESC",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

fn decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        if decision.approved() {
            apply(tx, decision.subject).await
        } else {
            sqlx::query("UPDATE prepayment_requests SET status = 'rejected', decided_at = now() WHERE id = $1 AND status = 'pending'")
                .bind(decision.subject)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
    })
}

/// Carries out an approved request, as planned when asked.
async fn apply(db: &mut PgConnection, request: i64) -> Result<(), Error> {
    let (contract, plan, status): (i64, SqlJson<Plan>, String) =
        sqlx::query_as("SELECT contract_id, plan, status FROM prepayment_requests WHERE id = $1 FOR UPDATE")
            .bind(request)
            .fetch_one(&mut *db)
            .await?;
    if status != "pending" {
        return Ok(());
    }
    let plan = plan.0;
    let (credit, dpd, state): (Decimal, i32, String) =
        sqlx::query_as("SELECT credit, dpd, status FROM contracts WHERE id = $1 FOR UPDATE")
            .bind(contract)
            .fetch_one(&mut *db)
            .await?;
    if state != "active" || dpd > 0 {
        return Err(Error::invalid_state(
            "the contract is no longer current: the prepayment cannot be made as planned",
        ));
    }
    if credit < plan.total {
        return Err(Error::invalid_state(format!(
            "the customer has {credit} in credit and the prepayment needs {}: register their payment first",
            plan.total
        )));
    }
    let touched: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM receivables WHERE contract_id = $1 AND due_date > $2 AND period BETWEEN 1 AND 9999
                        AND charge IS NULL AND component <> 'penalty' AND paid > 0)",
    )
    .bind(contract)
    .bind(plan.date)
    .fetch_one(&mut *db)
    .await?;
    if touched {
        return Err(Error::invalid_state(
            "installments after the date are already partly paid: the plan no longer fits",
        ));
    }
    sqlx::query(
        "DELETE FROM receivables WHERE contract_id = $1 AND due_date > $2 AND period BETWEEN 1 AND 9999
           AND charge IS NULL AND component <> 'penalty'",
    )
    .bind(contract)
    .bind(plan.date)
    .execute(&mut *db)
    .await?;
    let mut columns = receivables::ReceivableColumns::default();
    columns.push_schedule(contract, &plan.rows, 0, false);
    columns.insert(db).await?;
    let today_items: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO receivables (contract_id, period, due_date, component, amount)
         SELECT $1, $2, $3, component, amount FROM (VALUES ('principal', $4::numeric), ('interest', $5::numeric), ('fee', $6::numeric))
             AS t(component, amount)
         WHERE amount > 0 RETURNING id",
    )
    .bind(contract)
    .bind(PREPAYMENT_PERIOD)
    .bind(plan.date)
    .bind(plan.amount)
    .bind(plan.accrued_interest)
    .bind(plan.fee)
    .fetch_all(&mut *db)
    .await?;
    let open = open_items(db, &[contract], plan.date).await?.remove(&contract).unwrap_or_default();
    let mut items: Vec<Item> = open.into_iter().filter(|i| today_items.contains(&i.id)).collect();
    let mut batch = Batch::for_contracts(db, &[contract]).await?;
    batch.allocate(contract, &mut items, plan.total, Source::Credit, plan.date);
    batch.write(db).await?;
    sqlx::query("UPDATE contracts SET terms = $2, version = version + 1 WHERE id = $1")
        .bind(contract)
        .bind(SqlJson(&plan.terms))
        .execute(&mut *db)
        .await?;
    sqlx::query("UPDATE prepayment_requests SET status = 'applied', decided_at = now() WHERE id = $1")
        .bind(request)
        .execute(&mut *db)
        .await?;
    let detail = json!({"request": request, "amount": plan.amount, "accrued_interest": plan.accrued_interest, "fee": plan.fee,
                        "installment_after": plan.installment_after, "periods_after": plan.periods_after});
    events::record(db, contract, Some(plan.date), "partial_prepayment", detail).await
}
