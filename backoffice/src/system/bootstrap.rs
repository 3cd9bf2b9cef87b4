//! Start-up and upkeep: the permission catalogue written to the database, the first administrator
//! (`leasewatch admin create-user`), and hourly housekeeping of expired sessions and idempotency keys.

use serde_json::json;
use sqlx::PgPool;

use crate::actor::{Author, RequestMeta};
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::system::password::{self, HashCost, Policy};
use crate::system::settings;

/// Writes the permission catalogue; run at every start.
pub async fn prepare(pool: &PgPool) -> Result<(), sqlx::Error> {
    crate::system::permissions::sync(pool).await
}

/// An administrator to create from the command line.
pub struct NewAdmin {
    /// Login name.
    pub username: String,
    /// Name shown to others.
    pub display_name: String,
    /// Password (checked against the policy).
    pub password: String,
}

/// Creates a user at the company region holding the built-in administrator role (which is created
/// with every permission when missing). Returns the user's id.
pub async fn create_admin(pool: &PgPool, cost: HashCost, new: NewAdmin) -> Result<i64, Error> {
    prepare(pool).await?;
    let mut checks = Checks::default();
    checks.username(&new.username);
    checks.text("display_name", &new.display_name, 100).finish()?;
    let min_length = settings::get_int(pool, settings::PASSWORD_MIN_LENGTH).await?;
    Policy { min_length: usize::try_from(min_length).unwrap_or(10) }.check(&new.username, &new.password)?;
    let hash = password::hash(new.password, cost).await?;
    let mut tx = pool.begin().await?;
    let role: i64 = sqlx::query_scalar(
        "INSERT INTO roles (name, description, builtin) VALUES ('administrator', 'Every permission', true)
         ON CONFLICT (name) DO UPDATE SET builtin = true RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO role_permissions (role_id, permission) SELECT $1, name FROM permissions ON CONFLICT DO NOTHING",
    )
    .bind(role)
    .execute(&mut *tx)
    .await?;
    let (id, region): (i64, i64) = sqlx::query_as(
        "INSERT INTO users (username, display_name, password_hash, region_id)
         SELECT $1, $2, $3, id FROM regions WHERE parent_id IS NULL ORDER BY id LIMIT 1 RETURNING id, region_id",
    )
    .bind(new.username.trim())
    .bind(new.display_name.trim())
    .bind(hash)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)")
        .bind(id)
        .bind(role)
        .execute(&mut *tx)
        .await?;
    let meta = RequestMeta { request_id: None, client_addr: Some("command line".to_owned()) };
    let author = Author { user_id: None, username: Some("leasewatch admin create-user"), meta: &meta };
    let change = Change::new("create", "user", id, Some(region))
        .after(json!({"username": new.username, "roles": ["administrator"]}));
    audit::record(&mut *tx, author, change).await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes sessions a day past their refresh expiry, and sign-in failures too old to count.
pub async fn housekeeping(pool: &PgPool) -> Result<(), sqlx::Error> {
    crate::system::sessions::purge_expired(pool).await?;
    crate::system::sign_in::purge(pool).await
}
