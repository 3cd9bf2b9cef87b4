//! The disposal record (车辆处置) of a recovered vehicle: the yard and its daily fee, what was said
//! with the customer (redeem, settle or sell), the valuation dispatched to an appraiser (车辆评估派单)
//! and reviewed by someone else (车辆评估审核), and redemption when the customer pays the arrears.

use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::amount::{cents, cents_opt};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};
use crate::postloan::charges::{self, Kind};

/// A disposal.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Disposal {
    /// Id.
    pub id: i64,
    /// The contract.
    pub contract_id: i64,
    /// Its number.
    pub contract_number: String,
    /// The vehicle.
    pub vehicle_id: i64,
    /// Its plate.
    pub plate: Option<String>,
    /// Region.
    pub region_id: i64,
    /// The repossession order it came from.
    pub order_id: Option<i64>,
    /// `held`, `redeemed`, `sale_pending`, `sold` or `closed`.
    pub status: String,
    /// The yard.
    pub yard: String,
    /// Its daily fee.
    #[serde(serialize_with = "cents")]
    pub storage_daily_fee: Decimal,
    /// Held since.
    pub stored_from: NaiveDate,
    /// The appraiser it was sent to.
    pub appraiser: Option<String>,
    /// The appraised value.
    #[serde(serialize_with = "cents_opt")]
    pub valuation: Option<Decimal>,
    /// The appraiser's report in short.
    pub valuation_note: Option<String>,
    /// `dispatched`, `submitted`, `approved` or `rejected`.
    pub valuation_status: Option<String>,
    /// Who entered the valuation.
    pub valued_by: Option<i64>,
    /// Who reviewed it.
    pub valuation_reviewed_by: Option<i64>,
    /// `auction` or `dealer_buyback`.
    pub sale_method: Option<String>,
    /// The price.
    #[serde(serialize_with = "cents_opt")]
    pub sale_price: Option<Decimal>,
    /// Who bought it.
    pub buyer: Option<String>,
    /// When.
    pub sold_on: Option<NaiveDate>,
    /// How the proceeds went: storage, costs, fees, arrears, principal, refund (and what was written off).
    #[schema(value_type = Option<Object>)]
    pub proceeds: Option<Value>,
    /// What the proceeds left owing.
    #[serde(serialize_with = "cents_opt")]
    pub shortfall: Option<Decimal>,
    /// `write_off` (through approval) or `pursue`.
    pub shortfall_action: Option<String>,
    /// When it ended.
    pub closed_on: Option<NaiveDate>,
    /// When the vehicle came in.
    pub created_at: DateTime<Utc>,
    /// Version, for changes.
    pub version: i32,
}

/// How disposals are read.
pub const TABLE: Table<Disposal> = Table::new(
    "disposal",
    "SELECT d.id, d.contract_id, c.number AS contract_number, d.vehicle_id, v.plate, d.region_id, d.order_id, d.status,
        d.yard, d.storage_daily_fee, d.stored_from, d.appraiser, d.valuation, d.valuation_note, d.valuation_status,
        d.valued_by, d.valuation_reviewed_by, d.sale_method, d.sale_price, d.buyer, d.sold_on, d.proceeds, d.shortfall,
        d.shortfall_action, d.closed_on, d.created_at, d.version",
    "FROM disposals d JOIN regions g ON g.id = d.region_id JOIN contracts c ON c.id = d.contract_id
     JOIN vehicles v ON v.id = d.vehicle_id",
    "d.id",
)
.scoped("g.path")
.sorted(&[("id", "d.id")], "-id");

/// Filters of the disposal list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisposalFilter {
    /// `held`, `redeemed`, `sale_pending`, `sold` or `closed`.
    pub status: Option<String>,
    /// Of one contract.
    pub contract_id: Option<i64>,
}

/// The disposals of the actor's region subtree, newest first.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &DisposalFilter,
) -> Result<Paged<Disposal>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("d.status", filter.status.clone()).eq("d.contract_id", filter.contract_id);
        })
        .await
}

/// What keeping a vehicle in a yard from `from` to `to` costs: every day begun, at least one.
pub fn storage_owed(from: NaiveDate, to: NaiveDate, daily: Decimal) -> Decimal {
    let days = (to - from).num_days().max(1);
    daily * Decimal::from(days)
}

/// Charges the contract for the days the vehicle spent in the yard up to `to`, at the yard's
/// daily fee; returns the amount.
pub(crate) async fn charge_storage(
    db: &mut PgConnection,
    disposal: &Disposal,
    to: NaiveDate,
) -> Result<Decimal, Error> {
    let amount = storage_owed(disposal.stored_from, to, disposal.storage_daily_fee);
    let reason = format!("{} {} → {to}, {}/日", disposal.yard, disposal.stored_from, disposal.storage_daily_fee);
    let request = charges::Request {
        contract_id: disposal.contract_id,
        region_id: disposal.region_id,
        kind: Kind::Storage,
        source: ("disposal", disposal.id),
        amount,
        scheduled: Some(amount),
        payee: &disposal.yard,
        reason: &reason,
        above_schedule_reason: None,
    };
    charges::charge_scheduled(db, &request, to).await?;
    Ok(amount)
}

/// A recovered vehicle coming into a yard: what its disposal starts from.
pub(crate) struct Intake<'a> {
    /// The contract.
    pub(crate) contract_id: i64,
    /// The vehicle.
    pub(crate) vehicle_id: i64,
    /// The region.
    pub(crate) region_id: i64,
    /// The repossession order it came from.
    pub(crate) order_id: i64,
    /// The yard.
    pub(crate) yard: &'a str,
    /// Its daily fee.
    pub(crate) storage_daily_fee: Decimal,
    /// When the vehicle was taken.
    pub(crate) taken: DateTime<Utc>,
    /// The company's zone, hours east of UTC: storage is charged by its days.
    pub(crate) utc_offset_hours: i32,
}

/// Opens the disposal of a reviewed recovery: held in its yard from the day it was taken.
pub(crate) async fn open(db: &mut PgConnection, intake: &Intake<'_>) -> Result<i64, Error> {
    Ok(sqlx::query_scalar(
        "INSERT INTO disposals (contract_id, vehicle_id, region_id, order_id, yard, storage_daily_fee, stored_from)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(intake.contract_id)
    .bind(intake.vehicle_id)
    .bind(intake.region_id)
    .bind(intake.order_id)
    .bind(intake.yard)
    .bind(intake.storage_daily_fee)
    .bind((intake.taken + chrono::Duration::hours(intake.utc_offset_hours.into())).date_naive())
    .fetch_one(db)
    .await?)
}

crate::stateful_record!(Disposal, "disposal");

/// One line of the communication log with the customer.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Note {
    /// Id.
    pub id: i64,
    /// Who.
    pub user_id: i64,
    /// `redeem`, `settle`, `sell` or `other`: what the customer wants.
    pub intent: String,
    /// What was said.
    pub note: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A line to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// `redeem`, `settle`, `sell` or `other`.
    #[schema(pattern = "^(redeem|settle|sell|other)$")]
    pub intent: String,
    /// What was said.
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
}

/// Adds a line to the communication log of a disposal of the actor's region. Audited.
pub async fn add_note(db: &mut PgConnection, actor: &Actor, id: i64, new: &NewNote) -> Result<Note, Error> {
    let mut checks = Checks::default();
    checks.check(
        matches!(new.intent.as_str(), "redeem" | "settle" | "sell" | "other"),
        "intent",
        "must be redeem, settle, sell or other",
    );
    checks.text("note", &new.note, 2000);
    checks.finish()?;
    let disposal = TABLE.load(db, actor, id).await?;
    let note: Note = sqlx::query_as(
        "INSERT INTO disposal_notes (disposal_id, user_id, intent, note) VALUES ($1, $2, $3, $4)
         RETURNING id, user_id, intent, note, created_at",
    )
    .bind(id)
    .bind(actor.user_id)
    .bind(&new.intent)
    .bind(new.note.trim())
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("note", "disposal", id, Some(disposal.region_id)).after(json!(note));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(note)
}

/// The communication log of a disposal of the actor's region, newest first.
pub async fn notes(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Vec<Note>, Error> {
    TABLE.load(db, actor, id).await?;
    Ok(sqlx::query_as(
        "SELECT id, user_id, intent, note, created_at FROM disposal_notes WHERE disposal_id = $1 ORDER BY id DESC",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

/// A valuation step: dispatch to an appraiser, the appraiser's figure, or its review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Valuation {
    /// The version that was read.
    pub version: i32,
    /// Dispatch: the appraiser.
    #[schema(max_length = 100)]
    pub appraiser: Option<String>,
    /// Submit: the appraised value.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// Review: approved (`true`) or rejected.
    pub approve: Option<bool>,
    /// The report in short, or the review's note.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Sends a held vehicle to an appraiser (车辆评估派单); again after a rejected valuation.
pub async fn dispatch_valuation(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    body: &Valuation,
) -> Result<Disposal, Error> {
    let appraiser = body.appraiser.as_deref().unwrap_or_default();
    Checks::default().text("appraiser", appraiser, 100).finish()?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["held"]).await?;
    if before.valuation_status.as_deref() == Some("approved") {
        return Err(Error::invalid_state("the valuation is already approved"));
    }
    sqlx::query(
        "UPDATE disposals SET appraiser = $2, valuation_status = 'dispatched', valuation = NULL, valuation_note = NULL,
             valued_by = NULL, valuation_reviewed_by = NULL, updated_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(appraiser.trim())
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "dispatch_valuation", Some(&before), &after).await?;
    Ok(after)
}

/// Enters the appraiser's value.
pub async fn submit_valuation(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    body: &Valuation,
) -> Result<Disposal, Error> {
    let mut checks = Checks::default();
    checks.check(
        body.amount.is_some_and(|a| a > Decimal::ZERO && a.scale() <= 2),
        "amount",
        "the appraised value must be more than 0, in yuan and fen",
    );
    checks.check(
        body.note.as_ref().is_none_or(|n| n.chars().count() <= 1000),
        "note",
        "must be at most 1000 characters",
    );
    checks.finish()?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["held"]).await?;
    if before.valuation_status.as_deref() != Some("dispatched") {
        return Err(Error::invalid_state("send the vehicle to an appraiser first"));
    }
    sqlx::query(
        "UPDATE disposals SET valuation = $2, valuation_note = $3, valuation_status = 'submitted', valued_by = $4,
             updated_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(body.amount)
    .bind(body.note.as_deref().map(str::trim))
    .bind(actor.user_id)
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "submit_valuation", Some(&before), &after).await?;
    Ok(after)
}

/// Reviews a valuation entered by someone else (车辆评估审核): approved, it is the floor of the sale;
/// rejected, the vehicle goes to an appraiser again.
pub async fn review_valuation(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    body: &Valuation,
) -> Result<Disposal, Error> {
    let Some(approve) = body.approve else {
        return Err(Error::invalid("approve", "say whether the valuation is approved"));
    };
    let before = TABLE.lock_in(db, actor, id, body.version, &["held"]).await?;
    if before.valuation_status.as_deref() != Some("submitted") {
        return Err(Error::invalid_state("no valuation is waiting for review"));
    }
    if before.valued_by == Some(actor.user_id) {
        return Err(Error::Forbidden {
            code: "same_person",
            detail: "a valuation is reviewed by someone other than who entered it".into(),
        });
    }
    sqlx::query(
        "UPDATE disposals SET valuation_status = $2, valuation_reviewed_by = $3,
             valuation_note = COALESCE(valuation_note || ' / ' || $4, $4, valuation_note), updated_at = now(), version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(if approve { "approved" } else { "rejected" })
    .bind(actor.user_id)
    .bind(body.note.as_deref().map(str::trim).filter(|n| !n.is_empty()))
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(
        &mut *db,
        actor,
        if approve { "approve_valuation" } else { "reject_valuation" },
        Some(&before),
        &after,
    )
    .await?;
    Ok(after)
}

/// Gives a held vehicle back to a customer who brought the contract current (赎车); its storage
/// is charged like any cost of the recovery.
pub async fn redeem(db: &mut PgConnection, actor: &Actor, id: i64, read: i32) -> Result<Disposal, Error> {
    let before = TABLE.lock_in(db, actor, id, read, &["held"]).await?;
    let dpd: i32 = sqlx::query_scalar("SELECT dpd FROM contracts WHERE id = $1")
        .bind(before.contract_id)
        .fetch_one(&mut *db)
        .await?;
    if dpd > 0 {
        return Err(Error::invalid_state(format!(
            "the contract is still {dpd} days past due: the arrears are paid before the vehicle is given back"
        )));
    }
    let today: NaiveDate = sqlx::query_scalar("SELECT current_date").fetch_one(&mut *db).await?;
    charge_storage(db, &before, today).await?;
    sqlx::query("UPDATE disposals SET status = 'redeemed', closed_on = current_date, updated_at = now(), version = version + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *db)
        .await?;
    sqlx::query("UPDATE vehicles SET status = 'financed', version = version + 1 WHERE id = $1")
        .bind(before.vehicle_id)
        .execute(&mut *db)
        .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "redeem", Some(&before), &after).await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn storage_counts_every_day_begun_and_at_least_one() {
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        assert_eq!(storage_owed(day("2026-11-01"), day("2026-11-21"), dec!(50)), dec!(1000));
        assert_eq!(storage_owed(day("2026-11-01"), day("2026-11-01"), dec!(50)), dec!(50));
    }
}
