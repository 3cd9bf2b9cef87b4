//! The dealer record and its service: add, get, list with filters, update (versioned), and status
//! changes with a reason. Lifting a blacklist is a maker-checker request (workflow
//! `dealer_reinstatement`): the dealer stays blacklisted until a second person approves.
//! Every change is audited; every read is scoped to the actor's region subtree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use super::status::Change as StatusChange;
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::approvals;
use crate::kit::audit::{self, Change};
use crate::kit::identity;
use crate::kit::list::{self, PageParams, Paged, Table};
use crate::kit::version;
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// Subject type (and workflow key) of a request to lift a dealer's blacklisting; subject id: the dealer.
pub const REINSTATEMENT: &str = "dealer_reinstatement";

/// `hooks` with the dealers' approvals declared.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(REINSTATEMENT, reinstatement_decided)
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
    /// Tier (`standard`, `gold`...), used by rate tables.
    pub tier: String,
    /// Region.
    pub region_id: i64,
    /// Unified social credit code (统一社会信用代码).
    pub credit_code: Option<String>,
    /// Contact person.
    pub contact_name: Option<String>,
    /// Contact phone.
    pub contact_phone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// `active`, `suspended` or `blacklisted`.
    pub status: String,
    /// Why the status last changed.
    pub status_reason: Option<String>,
    /// When the status last changed.
    pub status_changed_at: Option<DateTime<Utc>>,
    /// Version, for updates.
    pub version: i32,
    /// When added.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// How dealers are read.
pub const TABLE: Table<Dealer> = Table::new(
    "dealer",
    "SELECT d.id, d.code, d.name, d.tier, d.region_id, d.credit_code, d.contact_name, d.contact_phone,
                    d.address, d.status, d.status_reason, d.status_changed_at, d.version, d.created_at, d.updated_at",
    "FROM dealers d JOIN regions g ON g.id = d.region_id",
    "d.id",
)
.scoped("g.path")
.sorted(&[("code", "d.code"), ("name", "d.name"), ("created_at", "d.created_at")], "code");

/// Filters of the dealer list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DealerFilter {
    /// Status.
    pub status: Option<String>,
    /// Tier.
    pub tier: Option<String>,
    /// Only this region's subtree.
    pub region_id: Option<i64>,
    /// Code or name containing this text.
    pub q: Option<String>,
}

/// The dealers of the actor's region subtree.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    page: &PageParams,
    filter: &DealerFilter,
) -> Result<Paged<Dealer>, Error> {
    TABLE
        .list(pool, actor, page, |f| {
            f.eq("d.status", filter.status.clone()).eq("d.tier", filter.tier.clone());
            if let Some(region) = filter.region_id {
                f.and().push("starts_with(g.path, (SELECT path FROM regions WHERE id = ").push_bind(region).push("))");
            }
            if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                let pattern = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                f.and()
                    .push("(d.code ILIKE ")
                    .push_bind(pattern.clone())
                    .push(" OR d.name ILIKE ")
                    .push_bind(pattern)
                    .push(")");
            }
        })
        .await
}

/// The dealer `id`, if in the actor's region subtree.
pub async fn get(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Dealer, Error> {
    TABLE.load(db, actor, id).await
}

/// A new dealer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDealer {
    /// Unique code.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,32}$")]
    pub code: String,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Tier.
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub tier: Option<String>,
    /// Region, within the actor's subtree.
    pub region_id: i64,
    /// Unified social credit code, 18 characters with its check character.
    pub credit_code: Option<String>,
    /// Contact person.
    #[schema(max_length = 100)]
    pub contact_name: Option<String>,
    /// Contact phone.
    #[schema(max_length = 20)]
    pub contact_phone: Option<String>,
    /// Address.
    #[schema(max_length = 200)]
    pub address: Option<String>,
}

/// Changes to a dealer; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealerUpdate {
    /// The version that was read.
    pub version: i32,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// Tier.
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub tier: Option<String>,
    /// Region, within the actor's subtree.
    pub region_id: Option<i64>,
    /// Unified social credit code.
    pub credit_code: Option<String>,
    /// Contact person.
    #[schema(max_length = 100)]
    pub contact_name: Option<String>,
    /// Contact phone.
    #[schema(max_length = 20)]
    pub contact_phone: Option<String>,
    /// Address.
    #[schema(max_length = 200)]
    pub address: Option<String>,
}

/// The particulars every add and update checks.
struct Particulars<'a> {
    name: Option<&'a str>,
    tier: Option<&'a str>,
    credit_code: Option<&'a str>,
    contact_name: Option<&'a str>,
    contact_phone: Option<&'a str>,
    address: Option<&'a str>,
}

fn check(checks: &mut Checks, p: &Particulars<'_>) {
    if let Some(name) = p.name {
        checks.text("name", name, 100);
    }
    if let Some(tier) = p.tier {
        checks.code("tier", tier);
    }
    if let Some(code) = p.credit_code {
        checks.check(
            identity::credit_code_ok(code),
            "credit_code",
            "is not a unified social credit code (check character)",
        );
    }
    if let Some(name) = p.contact_name {
        checks.text("contact_name", name, 100);
    }
    if let Some(phone) = p.contact_phone {
        checks.phone("contact_phone", phone);
    }
    if let Some(address) = p.address {
        checks.text("address", address, 200);
    }
}

fn trimmed(value: &Option<String>) -> Option<String> {
    value.as_deref().map(|v| v.trim().to_owned())
}

/// Adds a dealer, active.
pub async fn create(db: &mut PgConnection, actor: &Actor, new: &NewDealer) -> Result<Dealer, Error> {
    let mut checks = Checks::default();
    checks.check(
        (1..=32).contains(&new.code.len())
            && new.code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')),
        "code",
        "must be 1 to 32 letters, digits, - or _",
    );
    let particulars = Particulars {
        name: Some(&new.name),
        tier: new.tier.as_deref(),
        credit_code: new.credit_code.as_deref(),
        contact_name: new.contact_name.as_deref(),
        contact_phone: new.contact_phone.as_deref(),
        address: new.address.as_deref(),
    };
    check(&mut checks, &particulars);
    checks.finish()?;
    list::region_in_scope(db, actor, new.region_id).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO dealers (code, name, tier, region_id, credit_code, contact_name, contact_phone, address)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&new.code)
    .bind(new.name.trim())
    .bind(new.tier.as_deref().unwrap_or("standard"))
    .bind(new.region_id)
    .bind(new.credit_code.as_deref().map(str::to_ascii_uppercase))
    .bind(trimmed(&new.contact_name))
    .bind(trimmed(&new.contact_phone))
    .bind(trimmed(&new.address))
    .fetch_one(&mut *db)
    .await?;
    let dealer = get(db, actor, id).await?;
    record(db, actor, "create", None, &dealer).await?;
    Ok(dealer)
}

/// Updates a dealer's particulars, if the actor read its current version.
pub async fn update(db: &mut PgConnection, actor: &Actor, id: i64, changes: &DealerUpdate) -> Result<Dealer, Error> {
    let mut checks = Checks::default();
    let particulars = Particulars {
        name: changes.name.as_deref(),
        tier: changes.tier.as_deref(),
        credit_code: changes.credit_code.as_deref(),
        contact_name: changes.contact_name.as_deref(),
        contact_phone: changes.contact_phone.as_deref(),
        address: changes.address.as_deref(),
    };
    check(&mut checks, &particulars);
    checks.finish()?;
    let before = TABLE.lock(db, actor, id).await?;
    version::check(changes.version, before.version)?;
    if let Some(region) = changes.region_id {
        list::region_in_scope(db, actor, region).await?;
    }
    sqlx::query(
        "UPDATE dealers SET name = coalesce($2, name), tier = coalesce($3, tier), region_id = coalesce($4, region_id),
                credit_code = coalesce($5, credit_code), contact_name = coalesce($6, contact_name),
                contact_phone = coalesce($7, contact_phone), address = coalesce($8, address),
                version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(trimmed(&changes.name))
    .bind(&changes.tier)
    .bind(changes.region_id)
    .bind(changes.credit_code.as_deref().map(str::to_ascii_uppercase))
    .bind(trimmed(&changes.contact_name))
    .bind(trimmed(&changes.contact_phone))
    .bind(trimmed(&changes.address))
    .execute(&mut *db)
    .await?;
    let after = get(db, actor, id).await?;
    record(db, actor, "update", Some(&before), &after).await?;
    Ok(after)
}

/// A status change with its reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// The version that was read.
    pub version: i32,
    /// Why (kept on the dealer and in the audit log).
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// Suspends, reinstates or blacklists a dealer. Reinstating a blacklisted dealer starts the
/// `dealer_reinstatement` approval instead; the dealer is reinstated when it is approved.
pub async fn change_status(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    change: StatusChange,
    request: &StatusRequest,
) -> Result<Dealer, Error> {
    Checks::default().text("reason", &request.reason, 500).finish()?;
    let before = TABLE.lock(db, actor, id).await?;
    version::check(request.version, before.version)?;
    let to = change.apply(&before.status).map_err(Error::invalid_state)?;
    let reason = request.reason.trim();
    if change == StatusChange::Reinstate && before.status == "blacklisted" {
        let title = format!("Lift the blacklisting of dealer {} {}: {reason}", before.code, before.name);
        approvals::submit(db, actor, REINSTATEMENT, id, before.region_id, &title).await?;
        record(db, actor, "request_reinstatement", Some(&before), &before).await?;
        return Ok(before);
    }
    set_status(db, id, to, reason).await?;
    let after = get(db, actor, id).await?;
    record(db, actor, change.as_str(), Some(&before), &after).await?;
    Ok(after)
}

async fn set_status(db: &mut PgConnection, id: i64, status: &str, reason: &str) -> Result<(), Error> {
    sqlx::query(
        "UPDATE dealers SET status = $2, status_reason = $3, status_changed_at = now(), version = version + 1,
                updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

async fn record(
    db: &mut PgConnection,
    actor: &Actor,
    action: &str,
    before: Option<&Dealer>,
    after: &Dealer,
) -> Result<(), Error> {
    let change = Change::new(action, "dealer", after.id, Some(after.region_id))
        .before(before.map(|b| json!(b)))
        .after(json!(after));
    Ok(audit::record(db, actor.author(), change).await?)
}

/// The region of the dealer `id`, if it is a dealer of the actor's region subtree; refused beside
/// `dealer_id` otherwise.
pub async fn region_in_scope(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<i64, Error> {
    match TABLE.load(db, actor, id).await {
        Ok(dealer) => Ok(dealer.region_id),
        Err(Error::NotFound(_)) => Err(Error::invalid("dealer_id", "is not a dealer of your region")),
        Err(other) => Err(other),
    }
}

/// The tier of a dealer that may bring new business; refused when it is suspended or blacklisted.
pub async fn tier_for_new_business(db: &mut PgConnection, id: i64) -> Result<String, Error> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT tier, status FROM dealers WHERE id = $1").bind(id).fetch_optional(db).await?;
    match row {
        None => Err(Error::invalid("dealer_id", "no such dealer")),
        Some((tier, status)) if status == "active" => Ok(tier),
        Some((_, status)) => {
            Err(Error::invalid("dealer_id", format!("the dealer is {status}: it brings no new business")))
        }
    }
}

/// Reinstates a dealer whose reinstatement was approved.
fn reinstatement_decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        if !decision.approved() {
            return Ok(());
        }
        let reason = format!("reinstatement approved: {}", decision.title);
        set_status(tx, decision.subject, "active", &reason).await
    })
}
