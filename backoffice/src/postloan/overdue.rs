//! Overdue customers (逾期客户查询): the active contracts past due in the actor's regions, with who
//! owes, where, on which product and through which dealer, how far behind, the promise to pay and
//! the risk score; most risky first, filtered by what collections work by. A contract is listed once
//! scored: the monitor scores every active contract daily, and new ones within the hour.

use chrono::NaiveDate;
use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool};
use utoipa::{IntoParams, ToSchema};

use super::groups::WORKS_CONTRACT;
use crate::actor::Actor;
use crate::error::Error;
use crate::kit::list::{PageParams, Paged, Table};

/// An overdue contract as collections see it.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct OverdueContract {
    /// The contract.
    pub id: i64,
    /// Its number.
    pub number: String,
    /// The lessee's name.
    pub customer_name: Option<String>,
    /// The region.
    pub region_id: i64,
    /// Its name.
    pub region_name: String,
    /// The product's name.
    pub product_name: Option<String>,
    /// The dealer's name.
    pub dealer_name: Option<String>,
    /// Delinquency bucket (1 = M1).
    pub bucket: i32,
    /// Days past due.
    pub dpd: i32,
    /// Amount past due.
    #[schema(value_type = String)]
    pub overdue_amount: Decimal,
    /// Penalty accrued and unpaid.
    #[schema(value_type = String)]
    pub penalty_open: Decimal,
    /// When the lessee last paid.
    pub last_payment_on: Option<NaiveDate>,
    /// The date promised, if any.
    pub promise_until: Option<NaiveDate>,
    /// `none`, `pending` (the date is still to come) or `broken` (passed, still overdue).
    pub promise: String,
    /// Risk score, 0–100.
    pub risk_score: i32,
    /// The collector working it, if any.
    pub collector_id: Option<i64>,
    /// Their name.
    pub collector_name: Option<String>,
}

/// How overdue contracts are read.
const TABLE: Table<OverdueContract> = Table::new(
    "contract",
    "SELECT c.id, c.number, cu.name AS customer_name, c.region_id, g.name AS region_name, p.name AS product_name,
        d.name AS dealer_name, c.bucket, c.dpd, c.overdue_amount, c.penalty_open, c.last_payment_on,
        c.hold_until AS promise_until,
        CASE WHEN c.hold_until IS NULL THEN 'none' WHEN c.hold_until >= CURRENT_DATE THEN 'pending' ELSE 'broken' END
            AS promise,
        r.score AS risk_score, ca.collector_id, col.display_name AS collector_name",
    "FROM contracts c JOIN regions g ON g.id = c.region_id
     JOIN contract_risk r ON r.contract_id = c.id
     LEFT JOIN customers cu ON cu.id = c.customer_id
     LEFT JOIN products p ON p.id = c.product_id
     LEFT JOIN dealers d ON d.id = c.dealer_id
     LEFT JOIN collection_assignments ca ON ca.contract_id = c.id
     LEFT JOIN users col ON col.id = ca.collector_id",
    "c.id",
)
.scoped("g.path")
.sorted(
    &[("risk", "r.score"), ("dpd", "c.dpd"), ("overdue_amount", "c.overdue_amount"), ("number", "c.number")],
    "-risk",
);

/// Filters of the overdue query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverdueFilter {
    /// Bucket (1 = M1).
    pub bucket: Option<i32>,
    /// At least this many days past due.
    pub min_dpd: Option<i32>,
    /// At most this many days past due.
    pub max_dpd: Option<i32>,
    /// At least this much past due.
    #[param(value_type = Option<String>)]
    pub min_amount: Option<Decimal>,
    /// At most this much past due.
    #[param(value_type = Option<String>)]
    pub max_amount: Option<Decimal>,
    /// Only this region's subtree.
    pub region_id: Option<i64>,
    /// Only this product version.
    pub product_id: Option<i64>,
    /// Only this dealer's contracts.
    pub dealer_id: Option<i64>,
    /// Only what this collection group works (its buckets in its regions).
    pub group_id: Option<i64>,
    /// `none`, `pending` or `broken`.
    pub promise: Option<String>,
    /// A risk score of at least this.
    pub min_score: Option<i32>,
    /// Worked by this collector.
    pub collector_id: Option<i64>,
    /// Only those without a collector (true) or only those with one (false).
    pub unassigned: Option<bool>,
}

/// The overdue active contracts of the actor's region subtree, most risky first by default.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &OverdueFilter,
) -> Result<Paged<OverdueContract>, Error> {
    let promise = match filter.promise.as_deref() {
        None => None,
        Some("none") => Some("c.hold_until IS NULL"),
        Some("pending") => Some("c.hold_until >= CURRENT_DATE"),
        Some("broken") => Some("c.hold_until < CURRENT_DATE"),
        Some(_) => return Err(Error::invalid("promise", "must be none, pending or broken")),
    };
    TABLE
        .list(pool, actor, page, |f| {
            f.and().push("c.status = 'active' AND c.dpd > 0");
            f.eq("c.bucket", filter.bucket)
                .at_least("c.dpd", filter.min_dpd)
                .at_most("c.dpd", filter.max_dpd)
                .at_least("c.overdue_amount", filter.min_amount)
                .at_most("c.overdue_amount", filter.max_amount)
                .eq("c.product_id", filter.product_id)
                .eq("c.dealer_id", filter.dealer_id)
                .at_least("r.score", filter.min_score)
                .eq("ca.collector_id", filter.collector_id);
            match filter.unassigned {
                Some(true) => {
                    f.and().push("ca.collector_id IS NULL");
                }
                Some(false) => {
                    f.and().push("ca.collector_id IS NOT NULL");
                }
                None => {}
            }
            if let Some(region) = filter.region_id {
                f.and().push("starts_with(g.path, (SELECT path FROM regions WHERE id = ").push_bind(region).push("))");
            }
            if let Some(group) = filter.group_id {
                f.and()
                    .push(format!(
                        "EXISTS (SELECT 1 FROM collection_groups cg JOIN regions kg ON kg.id = cg.region_id
                         WHERE {WORKS_CONTRACT} AND cg.id = "
                    ))
                    .push_bind(group)
                    .push(")");
            }
            if let Some(clause) = promise {
                f.and().push(clause);
            }
        })
        .await
}
