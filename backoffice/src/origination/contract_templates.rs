//! Contract templates (合同模板), versioned per lease type and, when a product needs its own wording,
//! per product code: saving makes the next version, the earlier ones kept for the contracts signed
//! on them. A contract takes the newest version for its product code, else the lease type's own.
//! The body names the contract's figures in braces (see [`PLACEHOLDERS`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::application::LEASE_TYPES;
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::placeholders;

/// The figures a body may name.
pub const PLACEHOLDERS: &[&str] = &[
    "contract_number",
    "lessee_name",
    "id_number",
    "address",
    "dealer",
    "lease_type",
    "vehicle",
    "vin",
    "price",
    "down_payment",
    "principal",
    "term",
    "annual_rate",
    "installment",
    "residual",
    "date",
];

/// A template version.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ContractTemplate {
    /// Id.
    pub id: i64,
    /// `direct`, `sale_leaseback`, `vendor` or `operating`.
    pub lease_type: String,
    /// The product code it is for; none: every product of the lease type.
    pub product_code: Option<String>,
    /// Its version within the lease type and product code.
    pub version: i32,
    /// The contract's title.
    pub title: String,
    /// Its text, one paragraph per line.
    pub body: String,
    /// Who saved it.
    pub created_by: Option<i64>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A template to save as the next version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContractTemplate {
    /// `direct`, `sale_leaseback`, `vendor` or `operating`.
    pub lease_type: String,
    /// A product code, when the wording is that product's own.
    pub product_code: Option<String>,
    /// Title.
    #[schema(min_length = 1, max_length = 100)]
    pub title: String,
    /// Text, with the figures in braces.
    #[schema(min_length = 1, max_length = 20000)]
    pub body: String,
}

const SELECT: &str =
    "SELECT id, lease_type, product_code, version, title, body, created_by, created_at FROM contract_templates";

/// Every version: lease type, product code, newest first.
pub async fn list(db: &mut PgConnection) -> Result<Vec<ContractTemplate>, Error> {
    Ok(sqlx::query_as(&format!("{SELECT} ORDER BY lease_type, product_code NULLS FIRST, version DESC"))
        .fetch_all(db)
        .await?)
}

/// The template a contract of `lease_type` on the product `product_code` is written on.
pub async fn pick(
    db: &mut PgConnection,
    lease_type: &str,
    product_code: Option<&str>,
) -> Result<Option<ContractTemplate>, Error> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE lease_type = $1 AND (product_code IS NULL OR product_code = $2)
         ORDER BY product_code NULLS LAST, version DESC LIMIT 1"
    ))
    .bind(lease_type)
    .bind(product_code)
    .fetch_optional(db)
    .await?)
}

/// Saves `new` as the next version of its lease type and product code. Audited.
pub async fn save(db: &mut PgConnection, actor: &Actor, new: &NewContractTemplate) -> Result<ContractTemplate, Error> {
    let mut checks = Checks::default();
    checks.check(
        LEASE_TYPES.contains(&new.lease_type.as_str()),
        "lease_type",
        format!("must be one of {}", LEASE_TYPES.join(", ")),
    );
    checks.text("title", &new.title, 100).text("body", &new.body, 20_000);
    let code = new.product_code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if let Some(code) = code {
        let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM products WHERE code = $1)")
            .bind(code)
            .fetch_one(&mut *db)
            .await?;
        checks.check(known, "product_code", format!("no product has the code {code}"));
    }
    let unknown = placeholders::unknown(&new.body, PLACEHOLDERS);
    checks.check(
        unknown.is_empty(),
        "body",
        format!(
            "{{{}}} is not a figure a contract has; use {}",
            unknown.join("}, {"),
            PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(" ")
        ),
    );
    checks.finish()?;
    // One writer at a time per lease type: the next version number is taken under the lock.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('contract_templates'), hashtext($1))")
        .bind(&new.lease_type)
        .execute(&mut *db)
        .await?;
    let saved: ContractTemplate = sqlx::query_as(
        "INSERT INTO contract_templates (lease_type, product_code, version, title, body, created_by)
         SELECT $1, $2, COALESCE(max(version), 0) + 1, $3, $4, $5 FROM contract_templates
         WHERE lease_type = $1 AND product_code IS NOT DISTINCT FROM $2
         RETURNING id, lease_type, product_code, version, title, body, created_by, created_at",
    )
    .bind(&new.lease_type)
    .bind(code)
    .bind(new.title.trim())
    .bind(new.body.trim())
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("create", "contract_template", saved.id, None).after(json!(saved));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(saved)
}
