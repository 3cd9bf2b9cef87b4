//! `/api/v1/products`: product versions (产品方案) — method and timing, the rate table by term and
//! down-payment ratio, fees, deposit and residual ratios, the penalty rule, the allocation order,
//! the early-settlement fee, rounding and buckets; the service is `backoffice::products::catalog`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::products::catalog::{self, NewProduct, Product, ProductFilter};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get))
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
    Ok(Json(catalog::list(&state.pool, &caller, &page, &filter).await?))
}

/// One product version.
#[utoipa::path(get, path = "/products/{id}", tag = "products", params(("id" = i64, Path, description = "Product version id")),
    responses((status = 200, description = "The product", body = Product)), security(("bearer" = ["products.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Product>, ApiError> {
    Ok(Json(catalog::get(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// Create a product, or the next version of one.
#[utoipa::path(post, path = "/products", tag = "products", request_body = NewProduct,
    responses((status = 201, description = "Created", body = Product)), security(("bearer" = ["products.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewProduct>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let product = catalog::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(product)))
}
