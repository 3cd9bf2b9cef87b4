//! `/api/v1/roles` and `/api/v1/permissions`: roles (角色) are named sets of permissions; the
//! service is `backoffice::system::roles`.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::list::{PageParams, Paged};
use backoffice::system::roles::{self, NewRole, Role, RoleUpdate};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update)).routes(routes!(permissions))
}

/// List roles.
#[utoipa::path(get, path = "/roles", tag = "roles", params(PageParams),
    responses((status = 200, description = "A page of roles", body = Paged<Role>)), security(("bearer" = ["roles.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
) -> Result<Json<Paged<Role>>, ApiError> {
    Ok(Json(roles::list(&state.pool, &caller, &page).await?))
}

/// View one role.
#[utoipa::path(get, path = "/roles/{id}", tag = "roles", params(("id" = i64, Path, description = "Role id")),
    responses((status = 200, description = "The role", body = Role)), security(("bearer" = ["roles.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<Role>, ApiError> {
    Ok(Json(roles::get(&mut *state.pool.acquire().await?, &caller, id).await?))
}

/// Create a role.
#[utoipa::path(post, path = "/roles", tag = "roles", request_body = NewRole,
    responses((status = 201, description = "Created", body = Role)), security(("bearer" = ["roles.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewRole>,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    let mut tx = state.pool.begin().await?;
    let role = roles::create(&mut tx, &caller, &new).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// Update a role.
#[utoipa::path(patch, path = "/roles/{id}", tag = "roles", params(("id" = i64, Path, description = "Role id")),
    request_body = RoleUpdate,
    responses((status = 200, description = "Updated", body = Role)), security(("bearer" = ["roles.write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(update): Json<RoleUpdate>,
) -> Result<Json<Role>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let role = roles::update(&mut tx, &caller, id, &update).await?;
    tx.commit().await?;
    Ok(Json(role))
}

/// A permission of the catalogue.
#[derive(Serialize, ToSchema)]
pub struct Permission {
    /// Its name (`users.read`).
    pub name: String,
    /// What it allows.
    pub description: String,
}

/// The permission catalogue.
#[utoipa::path(get, path = "/permissions", tag = "roles",
    responses((status = 200, description = "Every permission", body = Vec<Permission>)), security(("bearer" = ["roles.read"])))]
async fn permissions() -> Json<Vec<Permission>> {
    Json(
        backoffice::system::permissions::CATALOGUE
            .iter()
            .map(|(name, description)| Permission { name: (*name).to_owned(), description: (*description).to_owned() })
            .collect(),
    )
}
