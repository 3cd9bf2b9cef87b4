//! `/api/v1/products`: product versions (产品方案) — method and timing, the rate table by term and
//! down-payment ratio, fees, deposit and residual ratios, the penalty rule, the allocation order,
//! the early-settlement fee, rounding and buckets. Posting an existing code adds a version; a
//! contract keeps the version it was signed on.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use leasewatch_finance::allocation::Order;
use leasewatch_finance::delinquency::{Buckets, PenaltyRule};
use leasewatch_finance::settlement::FeeRule;
use leasewatch_finance::{Decimal, Method, Rounding, Timing};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::types::Json as SqlJson;
use sqlx::{FromRow, Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Change};
use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::page::{self, PageParams, Paged};
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get))
}

/// One line of the rate table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Term in months.
    pub term: u32,
    /// Smallest down-payment ratio this rate applies from (0.2 for 20 %).
    #[schema(value_type = String)]
    pub min_down_payment: Decimal,
    /// Annual rate as a fraction.
    #[schema(value_type = String)]
    pub annual_rate: Decimal,
}

/// A fee of the product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    /// Name (GPS, service, handling, insurance).
    pub name: String,
    /// Amount.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Financed (added to the principal) or paid upfront.
    pub financed: bool,
}

/// Everything a product version decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Method.
    pub method: Method,
    /// Arrears or advance.
    #[serde(default)]
    pub timing: Timing,
    /// Rates by term and down-payment ratio.
    pub rates: Vec<Rate>,
    /// Fees.
    #[serde(default)]
    pub fees: Vec<Fee>,
    /// Deposit as a ratio of the financed amount.
    #[serde(default)]
    #[schema(value_type = String)]
    pub deposit_ratio: Decimal,
    /// Residual as a ratio of the financed amount.
    #[serde(default)]
    #[schema(value_type = String)]
    pub residual_ratio: Decimal,
    /// Penalty rule.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub penalty: PenaltyRule,
    /// Allocation order of receipts.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub allocation: Order,
    /// Early-settlement fee.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settlement_fee: FeeRule,
    /// Rounding.
    #[serde(default)]
    pub rounding: Rounding,
    /// Installment multiple (0.01 for the cent).
    #[serde(default = "cent")]
    #[schema(value_type = String)]
    pub installment_multiple: Decimal,
    /// Delinquency buckets.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub buckets: Buckets,
}

fn cent() -> Decimal {
    Decimal::new(1, 2)
}

impl Rules {
    fn check(&self, checks: &mut Checks) {
        checks.check(!self.rates.is_empty(), "rules.rates", "needs at least one rate");
        for (i, r) in self.rates.iter().enumerate() {
            checks.check((1..=600).contains(&r.term), &format!("rules.rates[{i}].term"), "must be 1 to 600 months");
            checks.check(
                r.annual_rate >= Decimal::ZERO && r.annual_rate <= Decimal::ONE,
                &format!("rules.rates[{i}].annual_rate"),
                "must be a fraction between 0 and 1",
            );
            checks.check(
                r.min_down_payment >= Decimal::ZERO && r.min_down_payment < Decimal::ONE,
                &format!("rules.rates[{i}].min_down_payment"),
                "must be a fraction below 1",
            );
        }
        for (i, f) in self.fees.iter().enumerate() {
            checks.text(&format!("rules.fees[{i}].name"), &f.name, 64);
            checks.check(f.amount >= Decimal::ZERO, &format!("rules.fees[{i}].amount"), "cannot be negative");
        }
        let ratio = |x: Decimal| x >= Decimal::ZERO && x < Decimal::ONE;
        checks.check(ratio(self.deposit_ratio), "rules.deposit_ratio", "must be a fraction below 1");
        checks.check(ratio(self.residual_ratio), "rules.residual_ratio", "must be a fraction below 1");
        checks.check(
            self.penalty.daily_rate >= Decimal::ZERO && self.penalty.daily_rate <= Decimal::new(1, 2),
            "rules.penalty.daily_rate",
            "must be between 0 and 1 % a day",
        );
        checks.check(self.installment_multiple > Decimal::ZERO, "rules.installment_multiple", "must be more than zero");
        checks.check(
            !self.buckets.upper.is_empty() && self.buckets.upper.windows(2).all(|w| w[0] < w[1]),
            "rules.buckets.upper",
            "must be increasing day counts",
        );
        checks.check(
            self.timing == Timing::Arrears || self.method == Method::EqualInstallment,
            "rules.timing",
            "payment in advance applies to equal installments",
        );
    }

    /// The rate for `term` months with `down_payment` as a ratio of the price, if the table has one.
    pub fn rate(&self, term: u32, down_payment: Decimal) -> Option<Decimal> {
        self.rates
            .iter()
            .filter(|r| r.term == term && r.min_down_payment <= down_payment)
            .max_by_key(|r| r.min_down_payment)
            .map(|r| r.annual_rate)
    }
}

/// A product version.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Product {
    /// Id of this version.
    pub id: i64,
    /// Code shared by versions.
    pub code: String,
    /// Version, from 1.
    pub version: i32,
    /// Name.
    pub name: String,
    /// Its rules.
    #[schema(value_type = Rules)]
    pub rules: SqlJson<Rules>,
    /// When this version was made.
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT p.id, p.code, p.version, p.name, p.rules, p.created_at";
const FROM: &str = "FROM products p";

/// Which versions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductFilter {
    /// Every version instead of the latest of each code.
    pub all_versions: Option<bool>,
}

/// List products (the latest version of each, or all versions).
#[utoipa::path(get, path = "/products", tag = "products", params(PageParams, ProductFilter),
    responses((status = 200, description = "A page of products", body = Paged<Product>)), security(("bearer" = ["products.read"])))]
async fn list(
    State(state): State<AppState>,
    Query(page): Query<PageParams>,
    Query(filter): Query<ProductFilter>,
) -> Result<Json<Paged<Product>>, ApiError> {
    let window = page.window(&[("code", "p.code"), ("created_at", "p.created_at")], "code", "p.id")?;
    let filters = |q: &mut QueryBuilder<'_, Postgres>| {
        if filter.all_versions != Some(true) {
            q.push(" WHERE p.version = (SELECT max(version) FROM products x WHERE x.code = p.code)");
        }
    };
    let (rows, total) = page::fetch(&state.pool, SELECT, FROM, filters, &window).await?;
    Ok(Json(Paged::new(rows, total, &window)))
}

/// One product version.
#[utoipa::path(get, path = "/products/{id}", tag = "products", params(("id" = i64, Path, description = "Product version id")),
    responses((status = 200, description = "The product", body = Product)), security(("bearer" = ["products.read"])))]
async fn get(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Json<Product>, ApiError> {
    sqlx::query_as(&format!("{SELECT} {FROM} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(&state.pool)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("product"))
}

/// A product, or a new version of one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    /// Code: lower-case letters, digits and `_`; an existing code gets a new version.
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub code: String,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Its rules.
    pub rules: Rules,
}

/// Create a product, or the next version of one.
#[utoipa::path(post, path = "/products", tag = "products", request_body = NewProduct,
    responses((status = 201, description = "Created", body = Product)), security(("bearer" = ["products.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewProduct>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let mut checks = Checks::default();
    super::positions::check_code(&mut checks, "code", &new.code);
    checks.text("name", &new.name, 100);
    new.rules.check(&mut checks);
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('products:' || $1))").bind(&new.code).execute(&mut *tx).await?;
    let product: Product = sqlx::query_as(
        "INSERT INTO products (code, version, name, rules)
         SELECT $1, COALESCE(max(version), 0) + 1, $2, $3 FROM products WHERE code = $1
         RETURNING id, code, version, name, rules, created_at",
    )
    .bind(&new.code)
    .bind(new.name.trim())
    .bind(SqlJson(&new.rules))
    .fetch_one(&mut *tx)
    .await?;
    let entry = Change {
        action: "create",
        entity_type: "product",
        entity_id: product.id.to_string(),
        region_id: None,
        before: None,
        after: Some(json!(product)),
    };
    audit::record(&mut *tx, (&caller).into(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(product)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_rate_is_the_best_line_the_down_payment_reaches() {
        let rules: Rules = serde_json::from_value(json!({
            "method": "equal-installment",
            "rates": [
                {"term": 36, "min_down_payment": "0", "annual_rate": "0.1299"},
                {"term": 36, "min_down_payment": "0.3", "annual_rate": "0.0999"},
                {"term": 24, "min_down_payment": "0", "annual_rate": "0.1199"}
            ]
        }))
        .unwrap();
        assert_eq!(rules.rate(36, dec!(0.2)), Some(dec!(0.1299)));
        assert_eq!(rules.rate(36, dec!(0.35)), Some(dec!(0.0999)));
        assert_eq!(rules.rate(12, dec!(0.5)), None);
        let mut checks = Checks::default();
        rules.check(&mut checks);
        assert!(checks.finish().is_ok());
    }
}
