//! `/api/v1/users`: back-office users, their roles, positions and region; password reset,
//! unlock, session revocation, and the audited reveal of their phone number.

use axum::extract::State;
use axum::http::StatusCode;
use backoffice::kit::audit::{self, Change};
use backoffice::kit::list::{PageParams, Paged, Table};
use backoffice::system::crypto::Sensitive;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Checks};
use crate::extract::{Json, Path, Query};
use crate::guard::Caller;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update))
        .routes(routes!(reset_password))
        .routes(routes!(unlock))
        .routes(routes!(revoke_sessions))
        .routes(routes!(reveal))
}

/// A user as the API shows it; the phone number is masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Name shown to others.
    pub display_name: String,
    /// Masked phone number (`138****5678`); `POST .../actions/reveal` shows it in full.
    pub phone: Option<String>,
    /// Region.
    pub region_id: i64,
    /// Whether they can sign in.
    pub active: bool,
    /// Until when the account is locked after failed logins.
    pub locked_until: Option<DateTime<Utc>>,
    /// Role names.
    pub roles: Vec<String>,
    /// Position codes.
    pub positions: Vec<String>,
    /// For optimistic concurrency: send it back on update.
    pub version: i32,
    /// When created.
    pub created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    phone_sealed: Option<Vec<u8>>,
    region_id: i64,
    active: bool,
    locked_until: Option<DateTime<Utc>>,
    roles: Vec<String>,
    positions: Vec<String>,
    version: i32,
    created_at: DateTime<Utc>,
}

/// How users are read.
const TABLE: Table<UserRow> = Table::new(
    "user",
    "SELECT u.id, u.username, u.display_name, u.phone_sealed, u.region_id, u.active, u.locked_until,
        ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id ORDER BY r.name) AS roles,
        ARRAY(SELECT p.code FROM user_positions up JOIN staff_positions p ON p.id = up.position_id WHERE up.user_id = u.id ORDER BY p.code) AS positions,
        u.version, u.created_at",
    "FROM users u JOIN regions rg ON rg.id = u.region_id",
    "u.id",
)
.scoped("rg.path")
.sorted(&[("username", "u.username"), ("display_name", "u.display_name"), ("created_at", "u.created_at"), ("id", "u.id")], "username");

impl UserRow {
    fn view(self, state: &AppState) -> UserView {
        let phone = self.phone_sealed.map(|sealed| match state.vault.open(&sealed) {
            Ok(phone) => Sensitive::Phone.mask(&phone),
            Err(e) => {
                tracing::warn!(user = self.id, error = %e, "a sealed phone number did not open");
                "(unreadable)".to_owned()
            }
        });
        UserView {
            id: self.id,
            username: self.username,
            display_name: self.display_name,
            phone,
            region_id: self.region_id,
            active: self.active,
            locked_until: self.locked_until,
            roles: self.roles,
            positions: self.positions,
            version: self.version,
            created_at: self.created_at,
        }
    }
}

/// The user `id` as the caller sees them.
pub async fn load_view(state: &AppState, caller: &Caller, id: i64) -> Result<UserView, ApiError> {
    let mut db = state.pool.acquire().await?;
    Ok(TABLE.load(&mut db, caller, id).await?.view(state))
}

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Part of the user name or display name.
    pub q: Option<String>,
    /// Only users in this region's subtree.
    pub region_id: Option<i64>,
    /// Only active (true) or inactive (false) users.
    pub active: Option<bool>,
    /// Only holders of this role.
    pub role: Option<String>,
    /// Only holders of this position.
    pub position: Option<String>,
}

/// List the users in the caller's region subtree.
#[utoipa::path(get, path = "/users", tag = "users", params(PageParams, UserFilter),
    responses((status = 200, description = "A page of users", body = Paged<UserView>)),
    security(("bearer" = ["users.read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<UserFilter>,
) -> Result<Json<Paged<UserView>>, ApiError> {
    let rows = TABLE
        .list(&state.pool, &caller, &page, |f| {
            if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
                f.and()
                    .push("(strpos(lower(u.username), lower(")
                    .push_bind(q.to_owned())
                    .push(")) > 0 OR strpos(lower(u.display_name), lower(")
                    .push_bind(q.to_owned())
                    .push(")) > 0)");
            }
            if let Some(region) = filter.region_id {
                f.and().push("starts_with(rg.path, (SELECT path FROM regions WHERE id = ").push_bind(region).push("))");
            }
            f.eq("u.active", filter.active);
            if let Some(role) = &filter.role {
                f.and()
                    .push("EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = ")
                    .push_bind(role.clone())
                    .push(")");
            }
            if let Some(position) = &filter.position {
                f.and()
                    .push("EXISTS (SELECT 1 FROM user_positions up JOIN staff_positions p ON p.id = up.position_id WHERE up.user_id = u.id AND p.code = ")
                    .push_bind(position.clone())
                    .push(")");
            }
        })
        .await?;
    Ok(Json(rows.map(|r| r.view(&state))))
}

/// A new user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name: 3 to 64 letters, digits, `.`, `_` or `-`.
    #[schema(pattern = r"^[A-Za-z0-9._-]{3,64}$")]
    pub username: String,
    /// Name shown to others.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub display_name: String,
    /// Initial password; it must meet the password policy.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    /// Mobile phone number (stored encrypted).
    #[schema(pattern = r"^[0-9+ -]{5,24}$")]
    pub phone: Option<String>,
    /// Region, within the caller's subtree.
    pub region_id: i64,
    /// Role names (the caller must hold every permission they grant).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Position codes.
    #[serde(default)]
    pub positions: Vec<String>,
}

/// Create a user.
#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUser,
    responses((status = 201, description = "Created", body = UserView)),
    security(("bearer" = ["users.write"])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let mut checks = Checks::default();
    checks.username(&new.username);
    checks.text("display_name", &new.display_name, 100);
    if let Some(phone) = &new.phone {
        checks.phone("phone", phone);
    }
    checks.finish()?;
    let min_length =
        backoffice::system::settings::get_int(&state.pool, backoffice::system::settings::PASSWORD_MIN_LENGTH).await?;
    backoffice::system::password::Policy { min_length: usize::try_from(min_length).unwrap_or(10) }
        .check(&new.username, &new.password)?;
    let hash = backoffice::system::password::hash(new.password, state.hash_cost).await?;
    let sealed = new
        .phone
        .as_deref()
        .map(|p| state.vault.seal(p.trim()))
        .transpose()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut tx = state.pool.begin().await?;
    backoffice::kit::list::region_in_scope(&mut tx, &caller, new.region_id).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, password_hash, phone_sealed, region_id) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(new.username.trim())
    .bind(new.display_name.trim())
    .bind(hash)
    .bind(sealed)
    .bind(new.region_id)
    .fetch_one(&mut *tx)
    .await?;
    set_roles(&mut tx, &caller, id, &new.roles).await?;
    set_positions(&mut tx, id, &new.positions).await?;
    let view = TABLE.load(&mut tx, &caller, id).await?.view(&state);
    audit::record(&mut *tx, caller.author(), change("create", &view, None, Some(&view))).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view)))
}

fn change<'a>(action: &'a str, user: &UserView, before: Option<&UserView>, after: Option<&UserView>) -> Change<'a> {
    Change::new(action, "user", user.id, Some(user.region_id))
        .before(before.map(|v| json!(v)))
        .after(after.map(|v| json!(v)))
}

/// Replaces the roles of `user`: every role must exist, and the caller must hold all it grants.
async fn set_roles(db: &mut PgConnection, caller: &Caller, user: i64, names: &[String]) -> Result<(), ApiError> {
    let found: Vec<(i64, String, Vec<String>)> = sqlx::query_as(
        "SELECT r.id, r.name, ARRAY(SELECT permission FROM role_permissions WHERE role_id = r.id) FROM roles r WHERE r.name = ANY($1)",
    )
    .bind(names)
    .fetch_all(&mut *db)
    .await?;
    if let Some(missing) = names.iter().find(|n| !found.iter().any(|(_, name, _)| name == *n)) {
        return Err(ApiError::invalid("roles", format!("no role is named `{missing}`")));
    }
    if let Some(p) = found.iter().flat_map(|(_, _, ps)| ps).find(|p| !caller.can(p)) {
        return Err(ApiError::Forbidden {
            code: "cannot_grant",
            detail: format!("you cannot grant a role with the permission `{p}`, which you do not hold"),
        });
    }
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(user).execute(&mut *db).await?;
    let ids: Vec<i64> = found.iter().map(|(id, _, _)| *id).collect();
    sqlx::query("INSERT INTO user_roles (user_id, role_id) SELECT $1, unnest($2::bigint[])")
        .bind(user)
        .bind(ids)
        .execute(db)
        .await?;
    Ok(())
}

async fn set_positions(db: &mut PgConnection, user: i64, codes: &[String]) -> Result<(), ApiError> {
    let found: Vec<(i64, String)> = sqlx::query_as("SELECT id, code FROM staff_positions WHERE code = ANY($1)")
        .bind(codes)
        .fetch_all(&mut *db)
        .await?;
    if let Some(missing) = codes.iter().find(|c| !found.iter().any(|(_, code)| code == *c)) {
        return Err(ApiError::invalid("positions", format!("no position has the code `{missing}`")));
    }
    sqlx::query("DELETE FROM user_positions WHERE user_id = $1").bind(user).execute(&mut *db).await?;
    let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
    sqlx::query("INSERT INTO user_positions (user_id, position_id) SELECT $1, unnest($2::bigint[])")
        .bind(user)
        .bind(ids)
        .execute(db)
        .await?;
    Ok(())
}

/// View one user.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView)),
    security(("bearer" = ["users.read"])))]
async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Json<UserView>, ApiError> {
    Ok(Json(load_view(&state, &caller, id).await?))
}

/// Changes to a user; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// The version read; a stale one gets 409.
    pub version: i32,
    /// Name shown to others.
    pub display_name: Option<String>,
    /// Mobile phone number; an empty string removes it.
    #[schema(pattern = r"^([0-9+ -]{5,24})?$")]
    pub phone: Option<String>,
    /// Region, within the caller's subtree.
    pub region_id: Option<i64>,
    /// Whether they can sign in; deactivating signs them out.
    pub active: Option<bool>,
    /// Role names, replacing the current ones.
    pub roles: Option<Vec<String>>,
    /// Position codes, replacing the current ones.
    pub positions: Option<Vec<String>>,
}

/// Update a user.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = i64, Path, description = "User id")),
    request_body = UserUpdate,
    responses((status = 200, description = "Updated", body = UserView)),
    security(("bearer" = ["users.write"])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(update): Json<UserUpdate>,
) -> Result<Json<UserView>, ApiError> {
    let mut checks = Checks::default();
    if let Some(name) = &update.display_name {
        checks.text("display_name", name, 100);
    }
    if let Some(phone) = update.phone.as_deref().filter(|p| !p.is_empty()) {
        checks.phone("phone", phone);
    }
    checks.check(!(id == caller.user_id && update.active == Some(false)), "active", "you cannot deactivate yourself");
    checks.finish()?;
    let mut tx = state.pool.begin().await?;
    let before = TABLE.lock(&mut tx, &caller, id).await?.view(&state);
    if before.version != update.version {
        return Err(ApiError::stale(before.version));
    }
    if let Some(region) = update.region_id {
        backoffice::kit::list::region_in_scope(&mut tx, &caller, region).await?;
    }
    let phone = match update.phone.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(p) => Some(Some(state.vault.seal(p.trim()).map_err(|e| ApiError::Internal(e.to_string()))?)),
    };
    sqlx::query(
        "UPDATE users SET display_name = COALESCE($2, display_name),
             phone_sealed = CASE WHEN $3 THEN $4 ELSE phone_sealed END,
             region_id = COALESCE($5, region_id), active = COALESCE($6, active),
             version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(update.display_name.as_deref().map(str::trim))
    .bind(phone.is_some())
    .bind(phone.flatten())
    .bind(update.region_id)
    .bind(update.active)
    .execute(&mut *tx)
    .await?;
    if let Some(roles) = &update.roles {
        set_roles(&mut tx, &caller, id, roles).await?;
    }
    if let Some(positions) = &update.positions {
        set_positions(&mut tx, id, positions).await?;
    }
    if update.active == Some(false) {
        revoke(&mut tx, id).await?;
    }
    let after = TABLE.load(&mut tx, &caller, id).await?.view(&state);
    audit::record(&mut *tx, caller.author(), change("update", &after, Some(&before), Some(&after))).await?;
    tx.commit().await?;
    Ok(Json(after))
}

async fn revoke(db: &mut PgConnection, user: i64) -> Result<u64, ApiError> {
    Ok(backoffice::system::sessions::revoke_all(db, user, None).await?)
}

/// A new password set by an administrator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The new password; it must meet the password policy.
    #[schema(min_length = 10, max_length = 128)]
    pub new_password: String,
}

/// Set a user's password; their sessions end.
#[utoipa::path(post, path = "/users/{id}/actions/reset-password", tag = "users",
    params(("id" = i64, Path, description = "User id")), request_body = PasswordReset,
    responses((status = 204, description = "Password set")), security(("bearer" = ["users.write"])))]
async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(reset): Json<PasswordReset>,
) -> Result<StatusCode, ApiError> {
    let user = load_view(&state, &caller, id).await?;
    backoffice::system::password::set(
        &state.pool,
        state.hash_cost,
        &caller,
        id,
        &user.username,
        reset.new_password,
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a lockout.
#[utoipa::path(post, path = "/users/{id}/actions/unlock", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "Unlocked", body = UserView)), security(("bearer" = ["users.write"])))]
async fn unlock(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<UserView>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let before = TABLE.lock(&mut tx, &caller, id).await?.view(&state);
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL, version = version + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    backoffice::system::sign_in::forget_failures(&mut tx, &before.username).await?;
    let after = TABLE.load(&mut tx, &caller, id).await?.view(&state);
    audit::record(&mut *tx, caller.author(), change("unlock", &after, Some(&before), Some(&after))).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// How many sessions were ended.
#[derive(Serialize, ToSchema)]
pub struct Revoked {
    /// Sessions ended.
    pub revoked: u64,
}

/// End every session of a user: their tokens stop working at once.
#[utoipa::path(post, path = "/users/{id}/actions/revoke-sessions", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "Sessions ended", body = Revoked)), security(("bearer" = ["users.write"])))]
async fn revoke_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Revoked>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let user = TABLE.lock(&mut tx, &caller, id).await?.view(&state);
    let revoked = revoke(&mut tx, id).await?;
    let mut entry = change("revoke_sessions", &user, None, None);
    entry.after = Some(json!({"revoked": revoked}));
    audit::record(&mut *tx, caller.author(), entry).await?;
    tx.commit().await?;
    Ok(Json(Revoked { revoked }))
}

/// A sensitive value in full.
#[derive(Serialize, ToSchema)]
pub struct Revealed {
    /// The phone number in full.
    pub phone: Option<String>,
}

/// Show a user's phone number in full; the reveal is audited.
#[utoipa::path(post, path = "/users/{id}/actions/reveal", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "The values in full", body = Revealed)),
    security(("bearer" = ["sensitive.reveal"])))]
async fn reveal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Revealed>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let row = TABLE.load(&mut tx, &caller, id).await?;
    let region_id = row.region_id;
    let phone =
        row.phone_sealed.map(|s| state.vault.open(&s)).transpose().map_err(|e| ApiError::Internal(e.to_string()))?;
    audit::record(
        &mut *tx,
        caller.author(),
        Change::new("reveal", "user", id, Some(region_id)).after(json!({"fields": ["phone"]})),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(Revealed { phone }))
}
