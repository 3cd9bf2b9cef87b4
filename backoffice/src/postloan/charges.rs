//! Post-loan charges (收车 / 诉讼 / 存储 / 评估费用申请): what collecting, suing, repossessing, storing
//! or valuing a contract's vehicle cost, charged to the contract once a second person approves it
//! (maker-checker, workflow `postloan_charge`). A charge becomes a fee item the customer owes
//! (tagged with its kind) and a cost the company owes its payee: `recovery_costs` against
//! `vendor_payable`. Asking for more than the payee's schedule needs the reason the approver will
//! read.

use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use serde::Serialize;
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::books::ledger::{self, Account, Entry, Posting};
use crate::error::{Checks, Error};
use crate::kit::amount::{cents, cents_opt};
use crate::kit::approvals;
use crate::kit::audit::{self, Change};
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// Subject type (and workflow key) of a charge; subject id: the charge.
pub const POSTLOAN_CHARGE: &str = "postloan_charge";

/// Periods of post-loan fee items start here, numbered per contract (apart from the schedule's).
const CHARGE_PERIODS: i32 = 20_000;

/// `hooks` with the charges' approval declared.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(POSTLOAN_CHARGE, charge_decided)
}

/// What a charge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Collection (催收费).
    Collection,
    /// Litigation (诉讼费).
    Litigation,
    /// Repossession (收车费).
    Repossession,
    /// Storage in a yard (停车费).
    Storage,
    /// Valuation (评估费).
    Valuation,
}

impl Kind {
    /// Its name in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Collection => "collection",
            Self::Litigation => "litigation",
            Self::Repossession => "repossession",
            Self::Storage => "storage",
            Self::Valuation => "valuation",
        }
    }

    /// The kind a database name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Collection, Self::Litigation, Self::Repossession, Self::Storage, Self::Valuation]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// A charge as asked for, with its decision.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Charge {
    /// Id.
    pub id: i64,
    /// The contract charged.
    pub contract_id: i64,
    /// `collection`, `litigation`, `repossession`, `storage` or `valuation`.
    pub kind: String,
    /// What it is for (`repossession_order`, `disposal`, `litigation_case`).
    pub source_type: String,
    /// Its id.
    pub source_id: i64,
    /// The amount.
    #[serde(serialize_with = "cents")]
    pub amount: Decimal,
    /// What the payee's schedule prices it at, when it has one.
    #[serde(serialize_with = "cents_opt")]
    pub scheduled: Option<Decimal>,
    /// Who is paid.
    pub payee: String,
    /// Why.
    pub reason: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// The fee item charged, once approved.
    pub receivable_id: Option<i64>,
    /// When asked.
    pub created_at: DateTime<Utc>,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
}

const SELECT: &str = "SELECT id, contract_id, kind, source_type, source_id, amount, scheduled, payee, reason, status,
    receivable_id, created_at, decided_at FROM postloan_charges";

/// A charge to ask for.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The contract.
    pub contract_id: i64,
    /// Its region.
    pub region_id: i64,
    /// What for.
    pub kind: Kind,
    /// The record it comes from.
    pub source: (&'static str, i64),
    /// The amount asked for.
    pub amount: Decimal,
    /// The payee's schedule price, if any.
    pub scheduled: Option<Decimal>,
    /// Who is paid.
    pub payee: &'a str,
    /// Why.
    pub reason: &'a str,
    /// Why more than the schedule is asked for.
    pub above_schedule_reason: Option<&'a str>,
}

/// Asks for a charge and submits it for approval; nothing is charged before. An amount above the
/// schedule without a reason is refused beside `amount`. Audited.
pub async fn request(db: &mut PgConnection, actor: &Actor, request: &Request<'_>) -> Result<Charge, Error> {
    let above = request.scheduled.filter(|s| request.amount > *s);
    let mut checks = Checks::default();
    checks.check(
        request.amount > Decimal::ZERO && request.amount.scale() <= 2,
        "amount",
        "must be more than 0, in yuan and fen",
    );
    checks.text("reason", request.reason, 500);
    if let Some(scheduled) = above {
        checks.check(
            request.above_schedule_reason.is_some_and(|r| !r.trim().is_empty()),
            "amount",
            format!(
                "{} is above the schedule's {scheduled}: say why in above_schedule_reason for the approver",
                request.amount
            ),
        );
    }
    checks.finish()?;
    let reason = match (above, request.above_schedule_reason) {
        (Some(scheduled), Some(why)) => format!("{} [超出标准 {scheduled}: {}]", request.reason.trim(), why.trim()),
        _ => request.reason.trim().to_owned(),
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO postloan_charges (contract_id, region_id, kind, source_type, source_id, amount, scheduled, payee, reason, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(request.contract_id)
    .bind(request.region_id)
    .bind(request.kind.as_str())
    .bind(request.source.0)
    .bind(request.source.1)
    .bind(request.amount)
    .bind(request.scheduled)
    .bind(request.payee)
    .bind(&reason)
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let marker = if above.is_some() { " 超出标准" } else { "" };
    let title = format!("{}费用 {} → {}{marker}: {}", request.kind.as_str(), request.amount, request.payee, reason);
    approvals::submit(db, actor, POSTLOAN_CHARGE, id, request.region_id, &title).await?;
    let charge = one(db, id).await?;
    let entry =
        Change::new("request_charge", "contract", request.contract_id, Some(request.region_id)).after(json!(charge));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(charge)
}

async fn one(db: &mut PgConnection, id: i64) -> Result<Charge, Error> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_one(db).await?)
}

/// The charges asked for on `contract` (already checked to be in the caller's scope), newest first.
pub async fn of_contract(db: &mut PgConnection, contract: i64) -> Result<Vec<Charge>, Error> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE contract_id = $1 ORDER BY id DESC"))
        .bind(contract)
        .fetch_all(db)
        .await?)
}

/// The charges asked for from one record (an order, a disposal), newest first.
pub async fn of_source(db: &mut PgConnection, source_type: &str, source_id: i64) -> Result<Vec<Charge>, Error> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE source_type = $1 AND source_id = $2 ORDER BY id DESC"))
        .bind(source_type)
        .bind(source_id)
        .fetch_all(db)
        .await?)
}

/// Charges `amount` for `kind` to `contract` on `on`: a fee item the customer owes, and the cost
/// owed to the payee. Returns the item.
pub(crate) async fn charge(
    db: &mut PgConnection,
    contract: i64,
    kind: Kind,
    amount: Decimal,
    on: NaiveDate,
) -> Result<i64, Error> {
    let item: i64 = sqlx::query_scalar(
        "INSERT INTO receivables (contract_id, period, due_date, component, amount, charge)
         SELECT $1, COALESCE(max(period) + 1, $2), $3, 'fee', $4, $5 FROM receivables WHERE contract_id = $1 AND period >= $2
         RETURNING id",
    )
    .bind(contract)
    .bind(CHARGE_PERIODS)
    .bind(on)
    .bind(amount)
    .bind(kind.as_str())
    .fetch_one(&mut *db)
    .await?;
    let posting = Posting::contract(
        "recovery_cost",
        contract,
        on,
        vec![Entry::debit(Account::RecoveryCosts, amount), Entry::credit(Account::VendorPayable, amount)],
    );
    ledger::post(db, &[posting]).await?;
    Ok(item)
}

/// Charges at once what a schedule the company set prices (a yard's days at its daily fee), kept as
/// an approved charge of `source`: the approval of what it is part of (a sale) covers it.
pub(crate) async fn charge_scheduled(db: &mut PgConnection, request: &Request<'_>, on: NaiveDate) -> Result<(), Error> {
    if request.amount <= Decimal::ZERO {
        return Ok(());
    }
    let item = charge(db, request.contract_id, request.kind, request.amount, on).await?;
    sqlx::query(
        "INSERT INTO postloan_charges (contract_id, region_id, kind, source_type, source_id, amount, scheduled, payee, reason,
             status, receivable_id, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, 'approved', $9, now())",
    )
    .bind(request.contract_id)
    .bind(request.region_id)
    .bind(request.kind.as_str())
    .bind(request.source.0)
    .bind(request.source.1)
    .bind(request.amount)
    .bind(request.payee)
    .bind(request.reason)
    .bind(item)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Charges an approved request to its contract; a rejected one is only marked.
fn charge_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        let pending: Option<(i64, String, Decimal)> = sqlx::query_as(
            "SELECT contract_id, kind, amount FROM postloan_charges WHERE id = $1 AND status = 'pending' FOR UPDATE",
        )
        .bind(decision.subject)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((contract, kind, amount)) = pending else { return Ok(()) };
        if !decision.approved() {
            sqlx::query("UPDATE postloan_charges SET status = 'rejected', decided_at = now() WHERE id = $1")
                .bind(decision.subject)
                .execute(&mut *tx)
                .await?;
            return Ok(());
        }
        let kind = Kind::parse(&kind).ok_or_else(|| Error::Internal(format!("stored charge kind `{kind}`")))?;
        let item = charge(tx, contract, kind, amount, decision.today).await?;
        sqlx::query(
            "UPDATE postloan_charges SET status = 'approved', decided_at = now(), receivable_id = $2 WHERE id = $1",
        )
        .bind(decision.subject)
        .bind(item)
        .execute(&mut *tx)
        .await?;
        Ok(())
    })
}
