//! Changes to a customer's particulars (客户信息变更): the address, employer, phone, or one of the people
//! around them (an emergency contact, a contact, a guarantor: by role and name, with relation and
//! phone), asked for with a reason and carried out only when a second person approves (maker-checker,
//! workflow `customer_change`); the customer's history keeps each request with what it replaced.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::customer::{self, masked};
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::approvals;
use crate::kit::audit::{self, Change};
use crate::kit::identity;
use crate::system::crypto::{Sensitive, Vault};
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// Subject type (and workflow key) of a change to a customer's particulars; subject id: the change.
pub const CUSTOMER_CHANGE: &str = "customer_change";

/// `hooks` with the customer changes' approval declared.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(CUSTOMER_CHANGE, change_decided)
}

/// A change as asked for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    /// New address.
    #[schema(max_length = 200)]
    pub address: Option<String>,
    /// New employer.
    #[schema(max_length = 200)]
    pub employer: Option<String>,
    /// New phone.
    pub phone: Option<String>,
    /// A person around the customer to add, or to change by role and name.
    pub contact: Option<ContactChange>,
    /// Why (the customer's call, a returned letter...).
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// A person around the customer, as a change sets them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactChange {
    /// `emergency_contact`, `contact` or `guarantor`.
    pub role: String,
    /// Their name (with the role, who is meant).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// How they are related (配偶, 父亲, 同事...).
    #[schema(max_length = 50)]
    pub relation: Option<String>,
    /// Their phone.
    pub phone: Option<String>,
}

/// A change with what it replaced, phones masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeView {
    /// Id.
    pub id: i64,
    /// The customer.
    pub customer_id: i64,
    /// Who asked.
    pub requested_by: i64,
    /// Why.
    pub reason: String,
    /// `pending`, `applied` or `rejected`.
    pub status: String,
    /// The address asked for.
    pub address: Option<String>,
    /// The employer asked for.
    pub employer: Option<String>,
    /// The phone asked for, masked.
    pub phone: Option<String>,
    /// The address it replaced (once applied).
    pub old_address: Option<String>,
    /// The employer it replaced.
    pub old_employer: Option<String>,
    /// The phone it replaced, masked.
    pub old_phone: Option<String>,
    /// The person around the customer it sets: role.
    pub contact_role: Option<String>,
    /// Their name.
    pub contact_name: Option<String>,
    /// Their relation asked for.
    pub contact_relation: Option<String>,
    /// Their phone asked for, masked.
    pub contact_phone: Option<String>,
    /// Their relation before (once applied; none when they were new).
    pub old_contact_relation: Option<String>,
    /// Their phone before, masked.
    pub old_contact_phone: Option<String>,
    /// When asked.
    pub created_at: DateTime<Utc>,
    /// When approved or rejected.
    pub decided_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct ChangeRow {
    id: i64,
    customer_id: i64,
    requested_by: i64,
    reason: String,
    status: String,
    address: Option<String>,
    employer: Option<String>,
    phone_sealed: Option<Vec<u8>>,
    old_address: Option<String>,
    old_employer: Option<String>,
    old_phone_sealed: Option<Vec<u8>>,
    contact_role: Option<String>,
    contact_name: Option<String>,
    contact_relation: Option<String>,
    contact_phone_sealed: Option<Vec<u8>>,
    old_contact_relation: Option<String>,
    old_contact_phone_sealed: Option<Vec<u8>>,
    created_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
}

impl ChangeRow {
    fn view(self, vault: &Vault) -> ChangeView {
        ChangeView {
            id: self.id,
            customer_id: self.customer_id,
            requested_by: self.requested_by,
            reason: self.reason,
            status: self.status,
            address: self.address,
            employer: self.employer,
            phone: masked(vault, self.phone_sealed, Sensitive::Phone),
            old_address: self.old_address,
            old_employer: self.old_employer,
            old_phone: masked(vault, self.old_phone_sealed, Sensitive::Phone),
            contact_role: self.contact_role,
            contact_name: self.contact_name,
            contact_relation: self.contact_relation,
            contact_phone: masked(vault, self.contact_phone_sealed, Sensitive::Phone),
            old_contact_relation: self.old_contact_relation,
            old_contact_phone: masked(vault, self.old_contact_phone_sealed, Sensitive::Phone),
            created_at: self.created_at,
            decided_at: self.decided_at,
        }
    }
}

const SELECT: &str = "SELECT id, customer_id, requested_by, reason, status, address, employer, phone_sealed,
    old_address, old_employer, old_phone_sealed, contact_role, contact_name, contact_relation, contact_phone_sealed,
    old_contact_relation, old_contact_phone_sealed, created_at, decided_at FROM customer_changes";

/// Asks for a change to the customer `id` (in the actor's region subtree) and submits it for
/// approval; nothing changes on the customer until it is approved. Audited.
pub async fn request(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    request: &ChangeRequest,
) -> Result<ChangeView, Error> {
    let trimmed = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let (address, employer, phone) = (trimmed(&request.address), trimmed(&request.employer), trimmed(&request.phone));
    let mut checks = Checks::default();
    checks.check(
        address.is_some() || employer.is_some() || phone.is_some() || request.contact.is_some(),
        "address",
        "ask for a new address, employer, phone or contact",
    );
    if let Some(contact) = &request.contact {
        checks.check(
            matches!(contact.role.as_str(), "emergency_contact" | "contact" | "guarantor"),
            "contact.role",
            "must be emergency_contact, contact or guarantor",
        );
        checks.text("contact.name", &contact.name, 100);
        checks.check(
            contact.relation.as_ref().is_none_or(|r| r.chars().count() <= 50),
            "contact.relation",
            "must be at most 50 characters",
        );
        if let Some(phone) = contact.phone.as_deref().filter(|p| !p.trim().is_empty()) {
            checks.phone("contact.phone", phone);
        }
    }
    checks.check(
        address.as_ref().is_none_or(|a| a.chars().count() <= 200),
        "address",
        "must be at most 200 characters",
    );
    checks.check(
        employer.as_ref().is_none_or(|e| e.chars().count() <= 200),
        "employer",
        "must be at most 200 characters",
    );
    if let Some(phone) = &phone {
        checks.phone("phone", phone);
    }
    checks.text("reason", &request.reason, 500);
    checks.finish()?;
    // Locked: one change at a time is asked for a customer.
    customer::TABLE.lock(db, actor, id).await?;
    let region = customer::get(db, vault, actor, id).await?.region_id;
    let seal = |v: &str| vault.seal(v).map_err(|e| Error::Internal(e.to_string()));
    let phone_sealed = phone.as_deref().map(seal).transpose()?;
    let phone_index = phone.as_deref().map(|p| vault.index(&identity::phone_key(p)));
    let contact = request.contact.as_ref();
    let contact_phone =
        contact.and_then(|c| c.phone.as_deref()).map(str::trim).filter(|p| !p.is_empty()).map(seal).transpose()?;
    let change_id: i64 = sqlx::query_scalar(
        "INSERT INTO customer_changes (customer_id, requested_by, reason, address, employer, phone_sealed, phone_index,
                                       contact_role, contact_name, contact_relation, contact_phone_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(id)
    .bind(actor.user_id)
    .bind(request.reason.trim())
    .bind(&address)
    .bind(&employer)
    .bind(&phone_sealed)
    .bind(&phone_index)
    .bind(contact.map(|c| c.role.as_str()))
    .bind(contact.map(|c| c.name.trim()))
    .bind(contact.and_then(|c| c.relation.as_deref()).map(str::trim))
    .bind(&contact_phone)
    .fetch_one(&mut *db)
    .await?;
    let title = format!("客户信息变更 #{id}: {}", request.reason.trim());
    approvals::submit(db, actor, CUSTOMER_CHANGE, change_id, region, &title).await?;
    let view = one(db, vault, change_id).await?;
    let entry = Change::new("request_change", "customer", id, Some(region)).after(json!(view));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(view)
}

async fn one(db: &mut PgConnection, vault: &Vault, id: i64) -> Result<ChangeView, Error> {
    let row: ChangeRow = sqlx::query_as(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_one(db).await?;
    Ok(row.view(vault))
}

/// The changes asked for the customer `id` (in the actor's region subtree), newest first.
pub async fn history(db: &mut PgConnection, vault: &Vault, actor: &Actor, id: i64) -> Result<Vec<ChangeView>, Error> {
    customer::TABLE.load(db, actor, id).await?;
    let rows: Vec<ChangeRow> = sqlx::query_as(&format!("{SELECT} WHERE customer_id = $1 ORDER BY id DESC LIMIT 200"))
        .bind(id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.view(vault)).collect())
}

/// Carries out an approved change: keeps what it replaces on the change, then writes the customer;
/// a rejected one is only marked.
fn change_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        if !decision.approved() {
            sqlx::query("UPDATE customer_changes SET status = 'rejected', decided_at = now() WHERE id = $1")
                .bind(decision.subject)
                .execute(&mut *tx)
                .await?;
            return Ok(());
        }
        sqlx::query(
            "UPDATE customer_changes k SET status = 'applied', decided_at = now(),
                    old_address = c.address, old_employer = c.employer, old_phone_sealed = c.phone_sealed
             FROM customers c WHERE k.id = $1 AND c.id = k.customer_id",
        )
        .bind(decision.subject)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE customers c SET address = COALESCE(k.address, c.address), employer = COALESCE(k.employer, c.employer),
                    phone_sealed = COALESCE(k.phone_sealed, c.phone_sealed), phone_index = COALESCE(k.phone_index, c.phone_index),
                    version = c.version + 1
             FROM customer_changes k WHERE k.id = $1 AND c.id = k.customer_id",
        )
        .bind(decision.subject)
        .execute(&mut *tx)
        .await?;
        // The person around the customer: what their entry held is kept, then it is set (or added).
        sqlx::query(
            "UPDATE customer_changes k SET old_contact_relation = p.relation, old_contact_phone_sealed = p.phone_sealed
             FROM customer_parties p
             WHERE k.id = $1 AND p.customer_id = k.customer_id AND p.role = k.contact_role AND p.name = k.contact_name",
        )
        .bind(decision.subject)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "WITH k AS (SELECT * FROM customer_changes WHERE id = $1 AND contact_role IS NOT NULL),
                  updated AS (
                      UPDATE customer_parties p SET relation = COALESCE(k.contact_relation, p.relation),
                             phone_sealed = COALESCE(k.contact_phone_sealed, p.phone_sealed)
                      FROM k WHERE p.customer_id = k.customer_id AND p.role = k.contact_role AND p.name = k.contact_name
                      RETURNING p.id)
             INSERT INTO customer_parties (customer_id, role, name, relation, phone_sealed)
             SELECT customer_id, contact_role, contact_name, contact_relation, contact_phone_sealed FROM k
             WHERE NOT EXISTS (SELECT 1 FROM updated)",
        )
        .bind(decision.subject)
        .execute(&mut *tx)
        .await?;
        Ok(())
    })
}
