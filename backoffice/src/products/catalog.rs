//! The product catalogue (产品方案) as staff see it: product versions listed, read and added.
//! Posting an existing code adds a version; a contract keeps the version it was signed on.
//! Products are company-wide: every reader sees them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::types::Json as SqlJson;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use super::product::Rules;
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{PageParams, Paged, Table};

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

/// How products are read.
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

/// The latest version of each product, or every version.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &ProductFilter,
) -> Result<Paged<Product>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            if filter.all_versions != Some(true) {
                f.and().push("p.version = (SELECT max(version) FROM products x WHERE x.code = p.code)");
            }
        })
        .await
}

/// One product version.
pub async fn get(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Product, Error> {
    TABLE.load(db, actor, id).await
}

/// A product, or a new version of one.
#[derive(Debug, Deserialize, ToSchema)]
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

/// Creates a product, or the next version of one, audited.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewProduct) -> Result<Product, Error> {
    let mut checks = Checks::default();
    checks.code("code", &new.code);
    checks.text("name", &new.name, 100);
    new.rules.check(&mut checks);
    checks.finish()?;
    // Two versions of one code made at once would both read the same max(version).
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('products:' || $1))").bind(&new.code).execute(&mut *db).await?;
    let product: Product = sqlx::query_as(
        "INSERT INTO products (code, version, name, rules)
         SELECT $1, COALESCE(max(version), 0) + 1, $2, $3 FROM products WHERE code = $1
         RETURNING id, code, version, name, rules, created_at",
    )
    .bind(&new.code)
    .bind(new.name.trim())
    .bind(SqlJson(&new.rules))
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("create", "product", product.id, None).after(json!(product));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(product)
}
