//! Repossession companies (收车公司维护): licence, the regions they serve, contacts, their fee
//! schedule — a fixed fee plus a rate of the financed amount, capped — and how they perform: orders
//! given, the share recovered, the days a recovery takes.

use chrono::{DateTime, Utc};
use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::amount::{cents, cents_opt};
use crate::kit::audit::{self, Change};
use crate::kit::list::{self, PageParams, Paged, Table};
use crate::kit::version;

/// A repossession company with its performance.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Company {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Business licence number.
    pub licence: String,
    /// The region that keeps it.
    pub region_id: i64,
    /// The regions it works in (and their subregions).
    pub served_region_ids: Vec<i64>,
    /// Contact person.
    pub contact_name: String,
    /// Contact phone.
    pub contact_phone: String,
    /// Fixed fee per recovery.
    #[serde(serialize_with = "cents")]
    pub fee_fixed: Decimal,
    /// Rate of the contract's financed amount added to the fixed fee (0.02 = 2 %).
    pub fee_rate: Decimal,
    /// The most one recovery costs, if capped.
    #[serde(serialize_with = "cents_opt")]
    pub fee_cap: Option<Decimal>,
    /// Whether it takes new orders.
    pub active: bool,
    /// When added.
    pub created_at: DateTime<Utc>,
    /// Version, for updates.
    pub version: i32,
    /// Orders dispatched to it.
    pub orders: i64,
    /// Of them, vehicles recovered.
    pub recovered: i64,
    /// Average days from dispatch to recovery.
    pub average_days: Option<Decimal>,
}

/// How companies are read, with their performance.
pub const TABLE: Table<Company> = Table::new(
    "repossession company",
    "SELECT k.id, k.name, k.licence, k.region_id, k.served_region_ids, k.contact_name, k.contact_phone, k.fee_fixed,
        k.fee_rate, k.fee_cap, k.active, k.created_at, k.version, COALESCE(p.orders, 0) AS orders,
        COALESCE(p.recovered, 0) AS recovered, p.average_days",
    "FROM repossession_companies k JOIN regions g ON g.id = k.region_id
     LEFT JOIN LATERAL (
        SELECT count(*) AS orders, count(*) FILTER (WHERE o.recovered_at IS NOT NULL) AS recovered,
               round(avg(extract(epoch FROM o.recovered_at - o.dispatched_at) / 86400)::numeric, 1) AS average_days
        FROM repossession_orders o WHERE o.company_id = k.id AND o.dispatched_at IS NOT NULL) p ON true",
    "k.id",
)
.scoped("g.path")
.sorted(&[("name", "k.name"), ("id", "k.id")], "name");

/// What a recovery costs on `financed` by a schedule: fixed + rate × financed, capped, to the fen.
pub fn scheduled_fee(fixed: Decimal, rate: Decimal, cap: Option<Decimal>, financed: Decimal) -> Decimal {
    let fee = (fixed + rate * financed).round_dp(2);
    cap.map_or(fee, |cap| fee.min(cap))
}

/// Filters of the company list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompanyFilter {
    /// Only those taking orders (or not).
    pub active: Option<bool>,
}

/// The companies of the actor's region subtree.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &CompanyFilter,
) -> Result<Paged<Company>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("k.active", filter.active);
        })
        .await
}

/// A new company.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    /// Name.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Business licence number.
    #[schema(min_length = 1, max_length = 64)]
    pub licence: String,
    /// The region that keeps it, within the actor's subtree.
    pub region_id: i64,
    /// The regions it works in (1 to 50).
    pub served_region_ids: Vec<i64>,
    /// Contact person.
    #[schema(min_length = 1, max_length = 100)]
    pub contact_name: String,
    /// Contact phone.
    pub contact_phone: String,
    /// Fixed fee per recovery.
    #[schema(value_type = String)]
    pub fee_fixed: Decimal,
    /// Rate of the financed amount (0 to 0.2).
    #[schema(value_type = String)]
    pub fee_rate: Decimal,
    /// The most one recovery costs.
    #[schema(value_type = Option<String>)]
    pub fee_cap: Option<Decimal>,
}

/// Changes to a company; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyUpdate {
    /// The version that was read.
    pub version: i32,
    /// Contact person.
    pub contact_name: Option<String>,
    /// Contact phone.
    pub contact_phone: Option<String>,
    /// The regions it works in.
    pub served_region_ids: Option<Vec<i64>>,
    /// Fixed fee.
    #[schema(value_type = Option<String>)]
    pub fee_fixed: Option<Decimal>,
    /// Rate of the financed amount.
    #[schema(value_type = Option<String>)]
    pub fee_rate: Option<Decimal>,
    /// Cap.
    #[schema(value_type = Option<String>)]
    pub fee_cap: Option<Decimal>,
    /// Whether it takes new orders.
    pub active: Option<bool>,
}

fn check_schedule(checks: &mut Checks, fixed: Decimal, rate: Decimal, cap: Option<Decimal>) {
    checks.check(fixed >= Decimal::ZERO && fixed.scale() <= 2, "fee_fixed", "must be 0 or more, in yuan and fen");
    checks.check(
        rate >= Decimal::ZERO && rate <= Decimal::new(2, 1),
        "fee_rate",
        "must be between 0 and 0.2 (20 % of the financed amount)",
    );
    checks.check(cap.is_none_or(|c| c > Decimal::ZERO && c.scale() <= 2), "fee_cap", "must be more than 0");
}

async fn regions_in_scope(db: &mut PgConnection, actor: &Actor, regions: &[i64]) -> Result<(), Error> {
    if regions.is_empty() || regions.len() > 50 {
        return Err(Error::invalid("served_region_ids", "name 1 to 50 regions"));
    }
    for region in regions {
        list::region_in_scope(db, actor, *region).await.map_err(|_| {
            Error::invalid("served_region_ids", format!("region {region} does not exist in your region"))
        })?;
    }
    Ok(())
}

/// Adds a company, taking orders.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewCompany) -> Result<Company, Error> {
    let mut checks = Checks::default();
    checks.text("name", &new.name, 100).text("licence", &new.licence, 64).text("contact_name", &new.contact_name, 100);
    checks.phone("contact_phone", &new.contact_phone);
    check_schedule(&mut checks, new.fee_fixed, new.fee_rate, new.fee_cap);
    checks.finish()?;
    list::region_in_scope(db, actor, new.region_id).await?;
    regions_in_scope(db, actor, &new.served_region_ids).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO repossession_companies (name, licence, region_id, served_region_ids, contact_name, contact_phone,
             fee_fixed, fee_rate, fee_cap)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(new.name.trim())
    .bind(new.licence.trim())
    .bind(new.region_id)
    .bind(&new.served_region_ids)
    .bind(new.contact_name.trim())
    .bind(new.contact_phone.trim())
    .bind(new.fee_fixed)
    .bind(new.fee_rate)
    .bind(new.fee_cap)
    .fetch_one(&mut *db)
    .await?;
    let company = TABLE.load(db, actor, id).await?;
    let entry = Change::new("create", "repossession_company", id, Some(company.region_id)).after(json!(company));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(company)
}

/// Updates a company, if the actor read its current version.
pub async fn update(db: &mut PgConnection, actor: &Actor, id: i64, changes: &CompanyUpdate) -> Result<Company, Error> {
    let before = TABLE.lock(db, actor, id).await?;
    version::check(changes.version, before.version)?;
    let fixed = changes.fee_fixed.unwrap_or(before.fee_fixed);
    let rate = changes.fee_rate.unwrap_or(before.fee_rate);
    let cap = changes.fee_cap.or(before.fee_cap);
    let mut checks = Checks::default();
    if let Some(name) = &changes.contact_name {
        checks.text("contact_name", name, 100);
    }
    if let Some(phone) = &changes.contact_phone {
        checks.phone("contact_phone", phone);
    }
    check_schedule(&mut checks, fixed, rate, cap);
    checks.finish()?;
    if let Some(regions) = &changes.served_region_ids {
        regions_in_scope(db, actor, regions).await?;
    }
    sqlx::query(
        "UPDATE repossession_companies SET contact_name = COALESCE($2, contact_name), contact_phone = COALESCE($3, contact_phone),
             served_region_ids = COALESCE($4, served_region_ids), fee_fixed = $5, fee_rate = $6, fee_cap = $7,
             active = COALESCE($8, active), version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(changes.contact_name.as_deref().map(str::trim))
    .bind(changes.contact_phone.as_deref().map(str::trim))
    .bind(&changes.served_region_ids)
    .bind(fixed)
    .bind(rate)
    .bind(cap)
    .bind(changes.active)
    .execute(&mut *db)
    .await?;
    let after = TABLE.load(db, actor, id).await?;
    let entry = Change::new("update", "repossession_company", id, Some(after.region_id))
        .before(json!(before))
        .after(json!(after));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_schedule_prices_a_recovery_from_the_financed_amount_up_to_its_cap() {
        assert_eq!(scheduled_fee(dec!(1500), dec!(0.02), None, dec!(120000)), dec!(3900));
        assert_eq!(scheduled_fee(dec!(1500), dec!(0.02), Some(dec!(3000)), dec!(120000)), dec!(3000));
        assert_eq!(scheduled_fee(dec!(0), dec!(0.0333), None, dec!(100)), dec!(3.33));
    }
}
