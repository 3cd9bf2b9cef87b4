//! The blacklist (黑名单): people the company will not lease to — by national ID, by mobile, or
//! both. Risk staff add an entry with its reason and lift it with another; each is audited. Submit
//! (`origination/submit.rs`) refuses an application whose applicant, co-applicant or guarantor is on
//! it, beside the number that matched, without saying why (the reason is for risk staff).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::customer::masked;
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::identity;
use crate::kit::version;
use crate::system::crypto::{Sensitive, Vault};

/// An entry as shown: numbers masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlacklistEntry {
    /// Id.
    pub id: i64,
    /// The person's name.
    pub name: String,
    /// Masked national ID.
    pub id_number: Option<String>,
    /// Masked mobile.
    pub phone: Option<String>,
    /// Why they are on it.
    pub reason: String,
    /// `active` or `lifted`.
    pub status: String,
    /// Who added them.
    pub added_by: Option<i64>,
    /// When.
    pub added_at: DateTime<Utc>,
    /// When lifted.
    pub lifted_at: Option<DateTime<Utc>>,
    /// Why lifted.
    pub lift_reason: Option<String>,
    /// For optimistic concurrency.
    pub version: i32,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    name: String,
    id_number_sealed: Option<Vec<u8>>,
    phone_sealed: Option<Vec<u8>>,
    reason: String,
    status: String,
    added_by: Option<i64>,
    added_at: DateTime<Utc>,
    lifted_at: Option<DateTime<Utc>>,
    lift_reason: Option<String>,
    version: i32,
}

impl Row {
    fn view(self, vault: &Vault) -> BlacklistEntry {
        BlacklistEntry {
            id: self.id,
            name: self.name,
            id_number: masked(vault, self.id_number_sealed, Sensitive::NationalId),
            phone: masked(vault, self.phone_sealed, Sensitive::Phone),
            reason: self.reason,
            status: self.status,
            added_by: self.added_by,
            added_at: self.added_at,
            lifted_at: self.lifted_at,
            lift_reason: self.lift_reason,
            version: self.version,
        }
    }
}

const SELECT: &str = "SELECT id, name, id_number_sealed, phone_sealed, reason, status, added_by, added_at, lifted_at,
    lift_reason, version FROM blacklist";

/// A person to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// Their name.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Their 18-digit national ID (or a company's credit code).
    pub id_number: Option<String>,
    /// Their mobile.
    pub phone: Option<String>,
    /// Why (fraud, a car made to disappear...).
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Why an entry is lifted, at the version read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lift {
    /// Why.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    /// The version read.
    pub version: i32,
}

/// Every entry, active first, newest first.
pub async fn list(db: &mut PgConnection, vault: &Vault) -> Result<Vec<BlacklistEntry>, Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY status, added_at DESC")).fetch_all(db).await?;
    Ok(rows.into_iter().map(|r| r.view(vault)).collect())
}

/// Adds `new`: its numbers checked and sealed. Audited.
pub async fn add(db: &mut PgConnection, vault: &Vault, actor: &Actor, new: &NewEntry) -> Result<BlacklistEntry, Error> {
    let number = new.id_number.as_deref().map(|n| n.trim().to_ascii_uppercase()).filter(|n| !n.is_empty());
    let phone = new.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let mut checks = Checks::default();
    checks.text("name", &new.name, 100).text("reason", &new.reason, 500);
    checks.check(number.is_some() || phone.is_some(), "id_number", "give the national ID, the mobile, or both");
    if let Some(n) = &number {
        checks.check(
            identity::national_id_ok(n) || identity::credit_code_ok(n),
            "id_number",
            "is neither an 18-digit national ID nor a credit code with the right check character",
        );
    }
    if let Some(p) = phone {
        checks.check(identity::mobile_ok(p), "phone", "is not a mainland mobile number");
    }
    checks.finish()?;
    let seal = |v: &str| vault.seal(v).map_err(|e| Error::Internal(e.to_string()));
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO blacklist (name, id_number_sealed, id_number_index, phone_sealed, phone_index, reason, added_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(new.name.trim())
    .bind(number.as_deref().map(seal).transpose()?)
    .bind(number.as_deref().map(|n| vault.index(n)))
    .bind(phone.map(seal).transpose()?)
    .bind(phone.map(|p| vault.index(&identity::phone_key(p))))
    .bind(new.reason.trim())
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let added = one(db, vault, id).await?;
    let entry = Change::new("create", "blacklist", id, None).after(json!(added));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(added)
}

/// Lifts the active entry `id` with a reason. Audited.
pub async fn lift(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    lift: &Lift,
) -> Result<BlacklistEntry, Error> {
    let mut checks = Checks::default();
    checks.text("reason", &lift.reason, 500);
    checks.finish()?;
    let before = one(db, vault, id).await?;
    version::check(lift.version, before.version)?;
    if before.status != "active" {
        return Err(Error::invalid_state("the entry is already lifted"));
    }
    sqlx::query(
        "UPDATE blacklist SET status = 'lifted', lifted_by = $2, lifted_at = now(), lift_reason = $3,
             version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(actor.user_id)
    .bind(lift.reason.trim())
    .execute(&mut *db)
    .await?;
    let after = one(db, vault, id).await?;
    let entry = Change::new("lift", "blacklist", id, None).before(json!(before)).after(json!(after));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(after)
}

async fn one(db: &mut PgConnection, vault: &Vault, id: i64) -> Result<BlacklistEntry, Error> {
    let row: Option<Row> =
        sqlx::query_as(&format!("{SELECT} WHERE id = $1 FOR UPDATE")).bind(id).fetch_optional(db).await?;
    Ok(row.ok_or(Error::NotFound("blacklist entry"))?.view(vault))
}

/// Whether the person with the national ID blind-indexed `id_number` or the mobile `phone` is on
/// the blacklist now.
pub async fn listed(db: &mut PgConnection, id_number: Option<&[u8]>, phone: Option<&[u8]>) -> Result<bool, Error> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM blacklist WHERE status = 'active' AND (id_number_index = $1 OR phone_index = $2))",
    )
    .bind(id_number)
    .bind(phone)
    .fetch_one(db)
    .await?)
}
