//! `/api/v1/products`: product versions (产品方案) — method and timing, the rate table by term and
//! down-payment ratio, fees, deposit and residual ratios, the penalty rule, the allocation order,
//! the early-settlement fee, rounding and buckets. Posting an existing code adds a version; a
//! contract keeps the version it was signed on.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::FromRow;
use sqlx::types::Json as SqlJson;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;
pub use backoffice::products::product::Rules;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get))
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

/// How products are read: company-wide, every reader sees them.
const TABLE: Table<Product> =
    Table::new("product", "SELECT p.id, p.code, p.version, p.name, p.rules, p.created_at", "FROM products p", "p.id")
        .sorted(&[("code", "p.code"), ("created_at", "p.created_at")], "code");

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
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<ProductFilter>,
) -> Result<Json<Paged<Product>>, ApiError> {
    let items = TABLE
        .list(&state.pool, &caller, &page, |f| {
            if filter.all_versions != Some(true) {
                f.and().push("p.version = (SELECT max(version) FROM products x WHERE x.code = p.code)");
            }
        })
        .await?;
    Ok(Json(items))
}

/// One product version.
#[utoipa::path(get, path = "/products/{id}", tag = "products", params(("id" = i64, Path, description = "Product version id")),
    responses((status = 200, description = "The product", body = Product)), security(("bearer" = ["products.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Product>, ApiError> {
    Ok(Json(TABLE.load(&mut *state.pool.acquire().await?, &caller, id).await?))
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
    checks.code("code", &new.code);
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
    let entry = Change::new("create", "product", product.id, None).after(json!(product));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(product)))
}
