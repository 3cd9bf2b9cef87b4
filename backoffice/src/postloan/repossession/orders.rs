//! Repossession orders (现场收车): opened from the monitor's proposal (its task, with the last
//! trustworthy fix, the likely parking place and the hours the vehicle is there) or by hand (the
//! same evidence read now); dispatched to a company serving the region; the recovery registered
//! (收车登记: when, where, mileage, condition, keys, photos, belongings found) and reviewed by
//! someone else (收车审核), which puts the vehicle into disposal; the company's fee asked for
//! (收车费用申请) priced from its schedule.

use chrono::{DateTime, Duration, Utc};
use leasewatch_finance::Decimal;
use leasewatch_monitor::tasks as monitor_tasks;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use super::companies::{self, scheduled_fee};
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit;
use crate::kit::list::{PageParams, Paged, Table};
use crate::postloan::charges::{self, Charge, Kind};
use crate::postloan::disposal::record as disposal;
use crate::risk::tasks as risk_tasks;
use crate::system::attachments;

/// A repossession order.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Order {
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
    /// Its VIN.
    pub vin: String,
    /// Region.
    pub region_id: i64,
    /// The monitor's proposal it came from.
    pub task_id: Option<i64>,
    /// `open`, `dispatched`, `recovered`, `reviewed` or `cancelled`.
    pub status: String,
    /// The last trustworthy fix (`last_fix`), the likely night parking place and its hours
    /// (`night_place`).
    #[schema(value_type = Object)]
    pub evidence: Value,
    /// Instructions or how it ended.
    pub note: Option<String>,
    /// The company it is dispatched to.
    pub company_id: Option<i64>,
    /// Its name.
    pub company_name: Option<String>,
    /// The company's agent.
    pub agent_name: Option<String>,
    /// The agent's phone.
    pub agent_phone: Option<String>,
    /// When dispatched.
    pub dispatched_at: Option<DateTime<Utc>>,
    /// When the vehicle was recovered.
    pub recovered_at: Option<DateTime<Utc>>,
    /// Where.
    pub recovered_place: Option<String>,
    /// Where, latitude.
    pub recovered_latitude: Option<f64>,
    /// Where, longitude.
    pub recovered_longitude: Option<f64>,
    /// Odometer at recovery.
    pub mileage_km: Option<i32>,
    /// Condition.
    pub condition: Option<String>,
    /// Keys handed over.
    pub keys: Option<i32>,
    /// Personal belongings found in it (to give back).
    pub belongings: Option<String>,
    /// The yard it is kept in.
    pub yard: Option<String>,
    /// The yard's daily fee.
    pub storage_daily_fee: Option<Decimal>,
    /// Photos (SHA-256 of each, `GET /api/v1/attachments/{sha256}`).
    pub photos: Vec<String>,
    /// Who registered the recovery.
    pub registered_by: Option<i64>,
    /// Who reviewed it.
    pub reviewed_by: Option<i64>,
    /// When.
    pub reviewed_at: Option<DateTime<Utc>>,
    /// The review's note.
    pub review_note: Option<String>,
    /// When opened.
    pub created_at: DateTime<Utc>,
    /// Version, for changes.
    pub version: i32,
}

/// How orders are read.
pub const TABLE: Table<Order> = Table::new(
    "repossession order",
    "SELECT o.id, o.contract_id, c.number AS contract_number, o.vehicle_id, v.plate, v.vin, o.region_id, o.task_id,
        o.status, o.evidence, o.note, o.company_id, k.name AS company_name, o.agent_name, o.agent_phone,
        o.dispatched_at, o.recovered_at, o.recovered_place, o.recovered_latitude, o.recovered_longitude, o.mileage_km,
        o.condition, o.keys, o.belongings, o.yard, o.storage_daily_fee,
        ARRAY(SELECT encode(p, 'hex') FROM unnest(o.photos) p) AS photos, o.registered_by, o.reviewed_by,
        o.reviewed_at, o.review_note, o.created_at, o.version",
    "FROM repossession_orders o JOIN regions g ON g.id = o.region_id JOIN contracts c ON c.id = o.contract_id
     JOIN vehicles v ON v.id = o.vehicle_id LEFT JOIN repossession_companies k ON k.id = o.company_id",
    "o.id",
)
.scoped("g.path")
.sorted(&[("id", "o.id"), ("created_at", "o.created_at")], "-id");

/// Filters of the order list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// `open`, `dispatched`, `recovered`, `reviewed` or `cancelled`.
    pub status: Option<String>,
    /// Of one company.
    pub company_id: Option<i64>,
    /// Of one contract.
    pub contract_id: Option<i64>,
}

/// The orders of the actor's region subtree, newest first.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &OrderFilter,
) -> Result<Paged<Order>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("o.status", filter.status.clone())
                .eq("o.company_id", filter.company_id)
                .eq("o.contract_id", filter.contract_id);
        })
        .await
}

/// A new order: from the monitor's proposal (`task_id`) or by hand (`contract_id`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// The repossession task the monitor proposed.
    pub task_id: Option<i64>,
    /// Or the contract, by hand.
    pub contract_id: Option<i64>,
    /// Instructions.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// A fix: time, latitude, longitude, speed, ignition.
type Fix = (DateTime<Utc>, f64, f64, f32, Option<bool>);

/// The evidence read now for `vehicle`: its devices' latest valid fix and their usual night place.
async fn evidence_now(db: &mut PgConnection, vehicle: i64, utc_offset_hours: i32) -> Result<Value, Error> {
    let devices: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM devices WHERE vehicle_id = $1").bind(vehicle).fetch_all(&mut *db).await?;
    let last: Option<Fix> = sqlx::query_as(
        "SELECT fix_time, latitude, longitude, speed_kmh, ignition FROM device_state
         WHERE device_id = ANY($1) AND valid ORDER BY fix_time DESC LIMIT 1",
    )
    .bind(&devices)
    .fetch_optional(&mut *db)
    .await?;
    let night = monitor_tasks::night_place(db, &devices, Utc::now(), utc_offset_hours).await?;
    Ok(json!({
        "last_fix": last.map(|(time, latitude, longitude, speed, ignition)| json!({"time": time, "latitude": latitude,
            "longitude": longitude, "speed_kmh": speed, "ignition": ignition})),
        "night_place": night,
    }))
}

/// Opens an order for an active contract of the actor's region with a vehicle; one live order per
/// contract. From a proposal, the task is done and its evidence carried over.
pub async fn create(
    db: &mut PgConnection,
    actor: &Actor,
    new: &NewOrder,
    utc_offset_hours: i32,
) -> Result<Order, Error> {
    let mut checks = Checks::default();
    checks.check(
        new.task_id.is_some() != new.contract_id.is_some(),
        "task_id",
        "name the monitor's proposal (task_id) or, by hand, the contract (contract_id)",
    );
    checks.check(
        new.note.as_ref().is_none_or(|n| n.chars().count() <= 1000),
        "note",
        "must be at most 1000 characters",
    );
    checks.finish()?;
    let (contract_id, task, evidence) = match (new.task_id, new.contract_id) {
        (Some(task_id), _) => {
            let task = risk_tasks::get(db, actor, task_id).await?;
            if task.kind != "repossession" || !matches!(task.status.as_str(), "open" | "assigned") {
                return Err(Error::invalid(
                    "task_id",
                    format!("is a {} {} task, not an open repossession", task.status, task.kind),
                ));
            }
            let Some(contract) = task.contract_id else {
                return Err(Error::invalid("task_id", "names a task without a contract"));
            };
            (contract, Some(task_id), task.evidence)
        }
        (None, Some(contract)) => (contract, None, Value::Null),
        (None, None) => return Err(Error::invalid("task_id", "name a task or a contract")),
    };
    let contract = crate::books::contract::TABLE.load(db, actor, contract_id).await?;
    let Some(vehicle) = contract.vehicle_id.filter(|_| contract.status == "active") else {
        return Err(Error::invalid_state(format!(
            "the contract is {} and must be active with a vehicle",
            contract.status
        )));
    };
    let evidence = if evidence.is_null() { evidence_now(db, vehicle, utc_offset_hours).await? } else { evidence };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO repossession_orders (contract_id, vehicle_id, region_id, task_id, evidence, note, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(contract_id)
    .bind(vehicle)
    .bind(contract.region_id)
    .bind(task)
    .bind(&evidence)
    .bind(new.note.as_deref().map(str::trim))
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await
    .map_err(|e| match Error::from(e) {
        Error::Conflict { code: "duplicate", .. } => Error::Conflict {
            code: "duplicate",
            detail: "the contract already has a repossession order under way".into(),
        },
        other => other,
    })?;
    if let Some(task) = task {
        monitor_tasks::set_status(db, task, "done", Some(actor.user_id), Some(&format!("收车单 #{id}"))).await?;
    }
    let order = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "create", None, &order).await?;
    Ok(order)
}

crate::stateful_record!(Order, "repossession_order");

/// Dispatch to a company (派单).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dispatch {
    /// The version that was read.
    pub version: i32,
    /// An active company serving the order's region.
    pub company_id: i64,
    /// The company's agent who goes.
    #[schema(min_length = 1, max_length = 100)]
    pub agent_name: String,
    /// The agent's phone.
    pub agent_phone: String,
}

/// Gives an open order (or a dispatched one, again) to a company serving its region.
pub async fn dispatch(db: &mut PgConnection, actor: &Actor, id: i64, body: &Dispatch) -> Result<Order, Error> {
    let mut checks = Checks::default();
    checks.text("agent_name", &body.agent_name, 100).phone("agent_phone", &body.agent_phone);
    checks.finish()?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["open", "dispatched"]).await?;
    let company = companies::TABLE
        .load(db, actor, body.company_id)
        .await
        .map_err(|_| Error::invalid("company_id", "is not a repossession company of your region"))?;
    let serves: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM regions s, regions o WHERE s.id = ANY($1) AND o.id = $2 AND starts_with(o.path, s.path))",
    )
    .bind(&company.served_region_ids)
    .bind(before.region_id)
    .fetch_one(&mut *db)
    .await?;
    if !company.active || !serves {
        return Err(Error::invalid("company_id", format!("{} does not take orders in this region", company.name)));
    }
    sqlx::query(
        "UPDATE repossession_orders SET status = 'dispatched', company_id = $2, agent_name = $3, agent_phone = $4,
             dispatched_at = now(), updated_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(company.id)
    .bind(body.agent_name.trim())
    .bind(body.agent_phone.trim())
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "dispatch", Some(&before), &after).await?;
    Ok(after)
}

/// A recovery as registered (收车登记).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recovery {
    /// The version that was read.
    pub version: i32,
    /// When the vehicle was taken (not in the future).
    pub recovered_at: DateTime<Utc>,
    /// Where.
    #[schema(min_length = 1, max_length = 200)]
    pub place: String,
    /// Where, latitude.
    pub latitude: Option<f64>,
    /// Where, longitude.
    pub longitude: Option<f64>,
    /// Odometer.
    #[schema(minimum = 0)]
    pub mileage_km: i32,
    /// Condition (damage, missing parts).
    #[schema(min_length = 1, max_length = 1000)]
    pub condition: String,
    /// Keys handed over.
    #[schema(minimum = 0, maximum = 10)]
    pub keys: i32,
    /// Personal belongings found (an inventory, to give back); empty when none.
    #[schema(max_length = 2000)]
    pub belongings: String,
    /// The yard it was taken to.
    #[schema(min_length = 1, max_length = 200)]
    pub yard: String,
    /// The yard's daily fee.
    #[schema(value_type = String)]
    pub storage_daily_fee: Decimal,
    /// Photos uploaded first (`POST /api/v1/attachments`), by SHA-256; at least one.
    pub photos: Vec<String>,
}

/// Registers the recovery of a dispatched order: the vehicle is repossessed, the agent's live
/// link dies.
pub async fn register_recovery(db: &mut PgConnection, actor: &Actor, id: i64, body: &Recovery) -> Result<Order, Error> {
    let mut checks = Checks::default();
    checks.check(body.recovered_at <= Utc::now() + Duration::minutes(5), "recovered_at", "must not be in the future");
    checks.text("place", &body.place, 200).text("condition", &body.condition, 1000).text("yard", &body.yard, 200);
    checks.check(body.belongings.chars().count() <= 2000, "belongings", "must be at most 2000 characters");
    checks.check((0..=2_000_000).contains(&body.mileage_km), "mileage_km", "must be 0 to 2,000,000 km");
    checks.check((0..=10).contains(&body.keys), "keys", "must be 0 to 10");
    checks.check(
        body.latitude.is_none_or(|v| (-90.0..=90.0).contains(&v))
            && body.longitude.is_none_or(|v| (-180.0..=180.0).contains(&v)),
        "latitude",
        "must be a position on earth",
    );
    checks.check(
        body.storage_daily_fee >= Decimal::ZERO && body.storage_daily_fee.scale() <= 2,
        "storage_daily_fee",
        "must be 0 or more, in yuan and fen",
    );
    checks.check(!body.photos.is_empty(), "photos", "at least one photo of the vehicle");
    checks.finish()?;
    let photos = attachments::existing(db, "photos", &body.photos).await?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["dispatched"]).await?;
    sqlx::query(
        "UPDATE repossession_orders SET status = 'recovered', recovered_at = $2, recovered_place = $3,
             recovered_latitude = $4, recovered_longitude = $5, mileage_km = $6, condition = $7, keys = $8,
             belongings = $9, yard = $10, storage_daily_fee = $11, photos = $12, registered_by = $13,
             updated_at = now(), version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(body.recovered_at)
    .bind(body.place.trim())
    .bind(body.latitude)
    .bind(body.longitude)
    .bind(body.mileage_km)
    .bind(body.condition.trim())
    .bind(body.keys)
    .bind(body.belongings.trim())
    .bind(body.yard.trim())
    .bind(body.storage_daily_fee)
    .bind(&photos)
    .bind(actor.user_id)
    .execute(&mut *db)
    .await?;
    sqlx::query("UPDATE vehicles SET status = 'repossessed', version = version + 1 WHERE id = $1")
        .bind(before.vehicle_id)
        .execute(&mut *db)
        .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "register_recovery", Some(&before), &after).await?;
    Ok(after)
}

/// A review of a registered recovery (收车审核).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The version that was read.
    pub version: i32,
    /// Accepted (the vehicle goes into disposal) or sent back to be registered again.
    pub approve: bool,
    /// What the reviewer found.
    #[schema(min_length = 1, max_length = 1000)]
    pub note: String,
}

/// Reviews a recovery registered by someone else: accepted, the vehicle goes into disposal, held in
/// the registered yard from the day it was taken (the company's day, `utc_offset_hours` east of
/// UTC); sent back, the order is dispatched again.
pub async fn review(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    body: &Review,
    utc_offset_hours: i32,
) -> Result<Order, Error> {
    Checks::default().text("note", &body.note, 1000).finish()?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["recovered"]).await?;
    if before.registered_by == Some(actor.user_id) {
        return Err(Error::Forbidden {
            code: "same_person",
            detail: "a recovery is reviewed by someone other than who registered it".into(),
        });
    }
    let status = if body.approve { "reviewed" } else { "dispatched" };
    sqlx::query(
        "UPDATE repossession_orders SET status = $2, reviewed_by = $3, reviewed_at = now(), review_note = $4,
             updated_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(actor.user_id)
    .bind(body.note.trim())
    .execute(&mut *db)
    .await?;
    if body.approve {
        let (Some(yard), Some(fee), Some(taken)) = (&before.yard, before.storage_daily_fee, before.recovered_at) else {
            return Err(Error::invalid_state("the recovery has no yard, daily fee or time"));
        };
        let intake = disposal::Intake {
            contract_id: before.contract_id,
            vehicle_id: before.vehicle_id,
            region_id: before.region_id,
            order_id: before.id,
            yard,
            storage_daily_fee: fee,
            taken,
            utc_offset_hours,
        };
        disposal::open(db, &intake).await?;
    } else {
        sqlx::query(
            "UPDATE vehicles SET status = 'financed', version = version + 1 WHERE id = $1 AND status = 'repossessed'",
        )
        .bind(before.vehicle_id)
        .execute(&mut *db)
        .await?;
    }
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(
        &mut *db,
        actor,
        if body.approve { "approve_recovery" } else { "return_recovery" },
        Some(&before),
        &after,
    )
    .await?;
    Ok(after)
}

/// Why an order is cancelled.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// The version that was read.
    pub version: i32,
    /// Why (the customer paid, the vehicle is abroad...).
    #[schema(min_length = 1, max_length = 1000)]
    pub note: String,
}

/// Cancels an order not yet recovered; its links die with it.
pub async fn cancel(db: &mut PgConnection, actor: &Actor, id: i64, body: &Cancel) -> Result<Order, Error> {
    Checks::default().text("note", &body.note, 1000).finish()?;
    let before = TABLE.lock_in(db, actor, id, body.version, &["open", "dispatched"]).await?;
    sqlx::query(
        "UPDATE repossession_orders SET status = 'cancelled', note = $2, updated_at = now(), version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(body.note.trim())
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "cancel", Some(&before), &after).await?;
    Ok(after)
}

/// The company's fee for a recovery (收车费用申请).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeRequest {
    /// The amount the company invoiced.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// What for.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    /// Why more than the company's schedule, when it is.
    #[schema(max_length = 500)]
    pub above_schedule_reason: Option<String>,
}

/// Asks for the company's fee for a recovered order, priced from its schedule on the contract's
/// financed amount; charged to the contract once approved.
pub async fn request_fee(db: &mut PgConnection, actor: &Actor, id: i64, body: &FeeRequest) -> Result<Charge, Error> {
    let order = TABLE.lock(db, actor, id).await?;
    if !matches!(order.status.as_str(), "recovered" | "reviewed") {
        return Err(Error::invalid_state(format!(
            "the order is {}: a fee is asked for once the vehicle is recovered",
            order.status
        )));
    }
    let Some(company_id) = order.company_id else { return Err(Error::invalid_state("the order has no company")) };
    let asked = charges::of_source(db, "repossession_order", id).await?;
    if let Some(earlier) = asked.iter().find(|c| c.status != "rejected") {
        return Err(Error::invalid_state(format!(
            "the fee was already asked for (#{}, {})",
            earlier.id, earlier.status
        )));
    }
    let company = companies::TABLE.load(db, actor, company_id).await?;
    let financed: Decimal = sqlx::query_scalar("SELECT principal FROM contracts WHERE id = $1")
        .bind(order.contract_id)
        .fetch_one(&mut *db)
        .await?;
    let scheduled = scheduled_fee(company.fee_fixed, company.fee_rate, company.fee_cap, financed);
    let request = charges::Request {
        contract_id: order.contract_id,
        region_id: order.region_id,
        kind: Kind::Repossession,
        source: ("repossession_order", id),
        amount: body.amount,
        scheduled: Some(scheduled),
        payee: &company.name,
        reason: &body.reason,
        above_schedule_reason: body.above_schedule_reason.as_deref(),
    };
    charges::request(db, actor, &request).await
}
