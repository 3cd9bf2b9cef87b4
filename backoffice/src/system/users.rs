//! Back-office users (用户): their roles, positions and region; lockouts, session revocation and the
//! audited reveal of their phone number. The phone number is sealed at rest and masked when shown.
//! A user may grant only roles whose every permission they hold themselves.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table, region_in_scope};
use crate::system::crypto::{Sensitive, Vault};
use crate::system::password::{self, HashCost, Policy};
use crate::system::{sessions, settings, sign_in};

/// A user as staff see them; the phone number is masked.
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
    /// The region's name.
    pub region_name: String,
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
    region_name: String,
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
    "SELECT u.id, u.username, u.display_name, u.phone_sealed, u.region_id, rg.name AS region_name, u.active, u.locked_until,
        ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id ORDER BY r.name) AS roles,
        ARRAY(SELECT p.code FROM user_positions up JOIN staff_positions p ON p.id = up.position_id WHERE up.user_id = u.id ORDER BY p.code) AS positions,
        u.version, u.created_at",
    "FROM users u JOIN regions rg ON rg.id = u.region_id",
    "u.id",
)
.scoped("rg.path")
.sorted(&[("username", "u.username"), ("display_name", "u.display_name"), ("created_at", "u.created_at"), ("id", "u.id")], "username");

impl UserRow {
    fn view(self, vault: &Vault) -> UserView {
        let phone = self.phone_sealed.map(|sealed| match vault.open(&sealed) {
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
            region_name: self.region_name,
            active: self.active,
            locked_until: self.locked_until,
            roles: self.roles,
            positions: self.positions,
            version: self.version,
            created_at: self.created_at,
        }
    }
}

/// The user `id`, if in the actor's region subtree.
pub async fn get(db: &mut PgConnection, vault: &Vault, actor: &Actor, id: i64) -> Result<UserView, Error> {
    Ok(TABLE.load(db, actor, id).await?.view(vault))
}

/// Filters of the user list.
#[derive(Debug, Default, Deserialize, IntoParams)]
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

/// The users of the actor's region subtree.
pub async fn list(
    pool: &PgPool,
    vault: &Vault,
    actor: &Actor,
    page: &PageParams,
    filter: &UserFilter,
) -> Result<Paged<UserView>, Error> {
    let rows = TABLE
        .list(pool, actor, page, |f| {
            if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
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
            if let Some(role) = filter.role.as_deref().filter(|r| !r.is_empty()) {
                f.and()
                    .push("EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = ")
                    .push_bind(role.to_owned())
                    .push(")");
            }
            if let Some(position) = filter.position.as_deref().filter(|p| !p.is_empty()) {
                f.and()
                    .push("EXISTS (SELECT 1 FROM user_positions up JOIN staff_positions p ON p.id = up.position_id WHERE up.user_id = u.id AND p.code = ")
                    .push_bind(position.to_owned())
                    .push(")");
            }
        })
        .await?;
    Ok(rows.map(|r| r.view(vault)))
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
    /// Region, within the actor's subtree.
    pub region_id: i64,
    /// Role names (the actor must hold every permission they grant).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Position codes.
    #[serde(default)]
    pub positions: Vec<String>,
    /// The dealer they work for, when they are a dealer's staff (a dealer of the actor's region).
    pub dealer_id: Option<i64>,
}

/// Adds a user in the actor's region subtree.
pub async fn create(
    db: &mut PgConnection,
    vault: &Vault,
    cost: HashCost,
    actor: &Actor,
    new: NewUser,
) -> Result<UserView, Error> {
    let mut checks = Checks::default();
    checks.username(&new.username).text("display_name", &new.display_name, 100);
    if let Some(phone) = new.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        checks.phone("phone", phone);
    }
    checks.finish()?;
    let min_length = settings::get_int(&mut *db, settings::PASSWORD_MIN_LENGTH).await?;
    Policy { min_length: usize::try_from(min_length).unwrap_or(10) }.check(&new.username, &new.password)?;
    region_in_scope(db, actor, new.region_id).await?;
    if let Some(dealer) = new.dealer_id {
        crate::dealers::dealer::region_in_scope(db, actor, dealer).await?;
    }
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)")
        .bind(new.username.trim())
        .fetch_one(&mut *db)
        .await?;
    if taken {
        return Err(Error::Conflict {
            code: "duplicate",
            detail: format!("the user name `{}` is taken", new.username.trim()),
        });
    }
    let sealed = new
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| vault.seal(p))
        .transpose()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let hash = password::hash(new.password, cost).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, password_hash, phone_sealed, region_id, dealer_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(new.username.trim())
    .bind(new.display_name.trim())
    .bind(hash)
    .bind(sealed)
    .bind(new.region_id)
    .bind(new.dealer_id)
    .fetch_one(&mut *db)
    .await?;
    set_roles(db, actor, id, &new.roles).await?;
    set_positions(db, id, &new.positions).await?;
    let view = get(db, vault, actor, id).await?;
    audit::record(&mut *db, actor.author(), change("create", &view, None, Some(&view))).await?;
    Ok(view)
}

fn change<'a>(action: &'a str, user: &UserView, before: Option<&UserView>, after: Option<&UserView>) -> Change<'a> {
    Change::new(action, "user", user.id, Some(user.region_id))
        .before(before.map(|v| json!(v)))
        .after(after.map(|v| json!(v)))
}

/// Replaces the roles of `user`: every role must exist, and the actor must hold all it grants.
async fn set_roles(db: &mut PgConnection, actor: &Actor, user: i64, names: &[String]) -> Result<(), Error> {
    let found: Vec<(i64, String, Vec<String>)> = sqlx::query_as(
        "SELECT r.id, r.name, ARRAY(SELECT permission FROM role_permissions WHERE role_id = r.id) FROM roles r WHERE r.name = ANY($1)",
    )
    .bind(names)
    .fetch_all(&mut *db)
    .await?;
    if let Some(missing) = names.iter().find(|n| !found.iter().any(|(_, name, _)| name == *n)) {
        return Err(Error::invalid("roles", format!("no role is named `{missing}`")));
    }
    if let Some(p) = found.iter().flat_map(|(_, _, ps)| ps).find(|p| !actor.can(p)) {
        return Err(Error::Forbidden {
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

async fn set_positions(db: &mut PgConnection, user: i64, codes: &[String]) -> Result<(), Error> {
    let found: Vec<(i64, String)> = sqlx::query_as("SELECT id, code FROM staff_positions WHERE code = ANY($1)")
        .bind(codes)
        .fetch_all(&mut *db)
        .await?;
    if let Some(missing) = codes.iter().find(|c| !found.iter().any(|(_, code)| code == *c)) {
        return Err(Error::invalid("positions", format!("no position has the code `{missing}`")));
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
    /// Region, within the actor's subtree.
    pub region_id: Option<i64>,
    /// Whether they can sign in; deactivating signs them out.
    pub active: Option<bool>,
    /// Role names, replacing the current ones.
    pub roles: Option<Vec<String>>,
    /// Position codes, replacing the current ones.
    pub positions: Option<Vec<String>>,
}

/// Changes a user of the actor's region subtree (with the version that was read).
pub async fn update(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    update: &UserUpdate,
) -> Result<UserView, Error> {
    let mut checks = Checks::default();
    if let Some(name) = &update.display_name {
        checks.text("display_name", name, 100);
    }
    if let Some(phone) = update.phone.as_deref().filter(|p| !p.is_empty()) {
        checks.phone("phone", phone);
    }
    checks.check(!(id == actor.user_id && update.active == Some(false)), "active", "you cannot deactivate yourself");
    checks.finish()?;
    let before = TABLE.lock(db, actor, id).await?.view(vault);
    if before.version != update.version {
        return Err(Error::stale(before.version));
    }
    if let Some(region) = update.region_id {
        region_in_scope(db, actor, region).await?;
    }
    let phone = match update.phone.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(p) => Some(Some(vault.seal(p).map_err(|e| Error::Internal(e.to_string()))?)),
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
    .execute(&mut *db)
    .await?;
    if let Some(roles) = &update.roles {
        set_roles(db, actor, id, roles).await?;
    }
    if let Some(positions) = &update.positions {
        set_positions(db, id, positions).await?;
    }
    if update.active == Some(false) {
        sessions::revoke_all(db, id, None).await?;
    }
    let after = get(db, vault, actor, id).await?;
    audit::record(&mut *db, actor.author(), change("update", &after, Some(&before), Some(&after))).await?;
    Ok(after)
}

/// Sets the password of a user of the actor's region subtree; their sessions end.
pub async fn reset_password(
    pool: &PgPool,
    vault: &Vault,
    cost: HashCost,
    actor: &Actor,
    id: i64,
    new_password: String,
) -> Result<(), Error> {
    let user = get(&mut *pool.acquire().await?, vault, actor, id).await?;
    password::set(pool, cost, actor, id, &user.username, new_password, None).await
}

/// Lifts a lockout and forgets the failed sign-ins.
pub async fn unlock(db: &mut PgConnection, vault: &Vault, actor: &Actor, id: i64) -> Result<UserView, Error> {
    let before = TABLE.lock(db, actor, id).await?.view(vault);
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL, version = version + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *db)
        .await?;
    sign_in::forget_failures(db, &before.username).await?;
    let after = get(db, vault, actor, id).await?;
    audit::record(&mut *db, actor.author(), change("unlock", &after, Some(&before), Some(&after))).await?;
    Ok(after)
}

/// Ends every session of a user: their tokens stop working at once. Returns how many ended.
pub async fn revoke_sessions(db: &mut PgConnection, vault: &Vault, actor: &Actor, id: i64) -> Result<u64, Error> {
    let user = TABLE.lock(db, actor, id).await?.view(vault);
    let revoked = sessions::revoke_all(db, id, None).await?;
    let mut entry = change("revoke_sessions", &user, None, None);
    entry.after = Some(json!({"revoked": revoked}));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(revoked)
}

/// A user's phone number in full; the reveal is audited.
pub async fn reveal_phone(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
) -> Result<Option<String>, Error> {
    actor.require("sensitive.reveal")?;
    let row = TABLE.load(db, actor, id).await?;
    let phone = row.phone_sealed.map(|s| vault.open(&s)).transpose().map_err(|e| Error::Internal(e.to_string()))?;
    audit::record(
        &mut *db,
        actor.author(),
        Change::new("reveal", "user", id, Some(row.region_id)).after(json!({"fields": ["phone"]})),
    )
    .await?;
    Ok(phone)
}
