//! `/api/v1/dealers`: the dealers (经销商) that bring contracts, with their tier (used by rate tables).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, Postgres, QueryBuilder};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{self, Change};
use crate::error::{ApiError, Checks};
use crate::extract::{Json, Query};
use crate::guard::Caller;
use crate::page::{self, PageParams, Paged};
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create))
}

/// A dealer.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Dealer {
    /// Id.
    pub id: i64,
    /// Unique code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Tier (`standard`, `gold`...).
    pub tier: String,
    /// Region.
    pub region_id: i64,
    /// When added.
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT d.id, d.code, d.name, d.tier, d.region_id, d.created_at";
const FROM: &str = "FROM dealers d JOIN regions g ON g.id = d.region_id";

/// List the dealers of the caller's region subtree.
#[utoipa::path(get, path = "/dealers", tag = "dealers", params(PageParams),
    responses((status = 200, description = "A page of dealers", body = Paged<Dealer>)), security(("bearer" = ["dealers.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Dealer>>, ApiError> {
    let window = page.window(&[("code", "d.code"), ("name", "d.name")], "code", "d.id")?;
    let filters = |q: &mut QueryBuilder<'_, Postgres>| {
        q.push(" WHERE starts_with(g.path, ").push_bind(caller.region_path.clone()).push(")");
    };
    let (rows, total) = page::fetch(&state.pool, SELECT, FROM, filters, &window).await?;
    Ok(Json(Paged::new(rows, total, &window)))
}

/// A new dealer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDealer {
    /// Unique code.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,32}$")]
    pub code: String,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Tier.
    #[schema(pattern = r"^[a-z0-9_]{1,32}$")]
    pub tier: Option<String>,
    /// Region, within the caller's subtree.
    pub region_id: i64,
}

/// Add a dealer.
#[utoipa::path(post, path = "/dealers", tag = "dealers", request_body = NewDealer,
    responses((status = 201, description = "Added", body = Dealer)), security(("bearer" = ["dealers.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewDealer>,
) -> Result<(StatusCode, Json<Dealer>), ApiError> {
    let mut checks = Checks::default();
    checks.check(
        (1..=32).contains(&new.code.len())
            && new.code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')),
        "code",
        "must be 1 to 32 letters, digits, - or _",
    );
    checks.text("name", &new.name, 100);
    if let Some(tier) = &new.tier {
        super::positions::check_code(&mut checks, "tier", tier);
    }
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    super::users::check_region(&mut tx, &caller, new.region_id).await?;
    let dealer: Dealer = sqlx::query_as(
        "INSERT INTO dealers (code, name, tier, region_id) VALUES ($1, $2, $3, $4)
         RETURNING id, code, name, tier, region_id, created_at",
    )
    .bind(&new.code)
    .bind(new.name.trim())
    .bind(new.tier.as_deref().unwrap_or("standard"))
    .bind(new.region_id)
    .fetch_one(&mut *tx)
    .await?;
    let entry = Change {
        action: "create",
        entity_type: "dealer",
        entity_id: dealer.id.to_string(),
        region_id: Some(dealer.region_id),
        before: None,
        after: Some(json!(dealer)),
    };
    audit::record(&mut *tx, (&caller).into(), entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(dealer)))
}
