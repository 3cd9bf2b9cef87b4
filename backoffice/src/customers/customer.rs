//! Customers (客户): lessees — individuals (national ID) and companies (unified social credit
//! code), with the people around them (emergency contacts, guarantors, legal representative).
//! Numbers are check-digit validated, sealed at rest, found by a blind index, masked in views
//! and revealed (audited) only on purpose.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::list::{self, PageParams, Paged, Table};
use crate::kit::{day, identity};
use crate::system::crypto::{Sensitive, Vault};

/// A customer as shown: numbers masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customer {
    /// Id.
    pub id: i64,
    /// `individual` or `company`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Masked national ID or credit code.
    pub id_number: Option<String>,
    /// Masked phone.
    pub phone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Employer.
    pub employer: Option<String>,
    /// Region.
    pub region_id: i64,
    /// Where the application says the customer lives (WGS-84), compared by the monitor with where
    /// the vehicle spends its nights.
    pub home_location: Option<Location>,
    /// Emergency contacts, guarantors, a company's legal representative and contacts.
    pub parties: Vec<PartyView>,
    /// The customer's time zone (IANA name), in which contacts keep to the allowed hours; none:
    /// the company's.
    pub time_zone: Option<String>,
    /// Whether the customer asked for no more reminders (退订).
    pub sms_opt_out: bool,
    /// For optimistic concurrency.
    pub version: i32,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// A point, WGS-84.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Latitude.
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    /// Longitude.
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
}

/// A person around the customer, numbers masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartyView {
    /// `emergency_contact`, `guarantor`, `legal_representative` or `contact`.
    pub role: String,
    /// Name.
    pub name: String,
    /// Relation to the customer.
    pub relation: Option<String>,
    /// Masked phone.
    pub phone: Option<String>,
    /// Masked national ID.
    pub id_number: Option<String>,
}

/// A person around a new customer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParty {
    /// `emergency_contact`, `guarantor`, `legal_representative` or `contact`.
    #[schema(pattern = r"^(emergency_contact|guarantor|legal_representative|contact)$")]
    pub role: String,
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Relation to the customer (配偶, 父母, 同事...).
    pub relation: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// National ID (guarantors, legal representatives).
    pub id_number: Option<String>,
}

#[derive(FromRow)]
struct PartyRow {
    role: String,
    name: String,
    relation: Option<String>,
    phone_sealed: Option<Vec<u8>>,
    id_number_sealed: Option<Vec<u8>>,
}

/// A customer as stored: numbers sealed.
#[derive(FromRow)]
pub struct Row {
    id: i64,
    kind: String,
    name: String,
    id_number_sealed: Option<Vec<u8>>,
    phone_sealed: Option<Vec<u8>>,
    address: Option<String>,
    employer: Option<String>,
    region_id: i64,
    home_latitude: Option<f64>,
    home_longitude: Option<f64>,
    time_zone: Option<String>,
    sms_opt_out: bool,
    version: i32,
    created_at: DateTime<Utc>,
}

pub(crate) fn masked(vault: &Vault, sealed: Option<Vec<u8>>, kind: Sensitive) -> Option<String> {
    sealed.map(|s| vault.open(&s).map_or_else(|_| "(unreadable)".to_owned(), |v| kind.mask(&v)))
}

async fn parties(db: &mut PgConnection, vault: &Vault, customer: i64) -> Result<Vec<PartyView>, Error> {
    let rows: Vec<PartyRow> = sqlx::query_as(
        "SELECT role, name, relation, phone_sealed, id_number_sealed FROM customer_parties WHERE customer_id = $1 ORDER BY id",
    )
    .bind(customer)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|p| PartyView {
            role: p.role,
            name: p.name,
            relation: p.relation,
            phone: masked(vault, p.phone_sealed, Sensitive::Phone),
            id_number: masked(vault, p.id_number_sealed, Sensitive::NationalId),
        })
        .collect())
}

impl Row {
    fn view(self, vault: &Vault) -> Customer {
        let open = |sealed: Option<Vec<u8>>, kind: Sensitive| masked(vault, sealed, kind);
        Customer {
            id: self.id,
            kind: self.kind,
            name: self.name,
            id_number: open(self.id_number_sealed, Sensitive::NationalId),
            phone: open(self.phone_sealed, Sensitive::Phone),
            address: self.address,
            employer: self.employer,
            region_id: self.region_id,
            home_location: self
                .home_latitude
                .zip(self.home_longitude)
                .map(|(latitude, longitude)| Location { latitude, longitude }),
            parties: Vec::new(),
            time_zone: self.time_zone,
            sms_opt_out: self.sms_opt_out,
            version: self.version,
            created_at: self.created_at,
        }
    }
}

/// How customers are read.
pub const TABLE: Table<Row> = Table::new(
    "customer",
    "SELECT c.id, c.kind, c.name, c.id_number_sealed, c.phone_sealed, c.address, c.employer, c.region_id,
        c.home_latitude, c.home_longitude, c.time_zone, c.sms_opt_out, c.version, c.created_at",
    "FROM customers c JOIN regions g ON g.id = c.region_id",
    "c.id",
)
.scoped("g.path")
.sorted(&[("name", "c.name"), ("created_at", "c.created_at")], "name");

/// Filters of the customer list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerFilter {
    /// Part of the name.
    pub q: Option<String>,
    /// The full national ID or credit code (found through the blind index).
    pub id_number: Option<String>,
}

/// The customers of the actor's region subtree, numbers masked.
pub async fn list(
    pool: &PgPool,
    vault: &Vault,
    actor: &Actor,
    page: &PageParams,
    filter: &CustomerFilter,
) -> Result<Paged<Customer>, Error> {
    let index = filter.id_number.as_deref().map(|n| vault.index(n));
    let rows = TABLE
        .list(pool, actor, page, |f| {
            if let Some(name) = filter.q.as_deref().filter(|n| !n.is_empty()) {
                f.and().push("strpos(c.name, ").push_bind(name.to_owned()).push(") > 0");
            }
            f.eq("c.id_number_index", index.clone());
        })
        .await?;
    Ok(rows.map(|r| r.view(vault)))
}

/// A new customer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// Name.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// National ID (individual) or unified social credit code (company); the kind follows it.
    pub id_number: String,
    /// Mobile phone.
    pub phone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Employer.
    pub employer: Option<String>,
    /// Region, within the caller's subtree.
    pub region_id: i64,
    /// The application address, geocoded (WGS-84).
    pub home_location: Option<Location>,
    /// Emergency contacts, guarantors, legal representative, contacts.
    #[serde(default)]
    pub parties: Vec<NewParty>,
    /// The customer's time zone (IANA name, e.g. `Asia/Urumqi`); none: the company's.
    pub time_zone: Option<String>,
}

/// Registers a customer with the people around them; a number already registered is a conflict.
pub async fn create(db: &mut PgConnection, vault: &Vault, actor: &Actor, new: &NewCustomer) -> Result<Customer, Error> {
    let number = new.id_number.trim().to_ascii_uppercase();
    let kind = if identity::national_id_ok(&number) {
        "individual"
    } else if identity::credit_code_ok(&number) {
        "company"
    } else {
        ""
    };
    let mut checks = Checks::default();
    checks.text("name", &new.name, 100);
    if let Some(home) = new.home_location {
        checks.check(
            (-90.0..=90.0).contains(&home.latitude) && (-180.0..=180.0).contains(&home.longitude),
            "home_location",
            "latitude must be -90 to 90 and longitude -180 to 180",
        );
    }
    checks.check(
        !kind.is_empty(),
        "id_number",
        "is neither a national ID nor a credit code (check the last character)",
    );
    if let Some(phone) = &new.phone {
        checks.check(
            phone.chars().filter(char::is_ascii_digit).count() >= 5 && phone.len() <= 24,
            "phone",
            "is not a phone number",
        );
    }
    checks.check(
        new.address.as_ref().is_none_or(|a| a.chars().count() <= 200),
        "address",
        "must be at most 200 characters",
    );
    checks.check(
        new.employer.as_ref().is_none_or(|a| a.chars().count() <= 200),
        "employer",
        "must be at most 200 characters",
    );
    checks.check(new.parties.len() <= 20, "parties", "at most 20");
    for (i, p) in new.parties.iter().enumerate() {
        checks.check(
            matches!(p.role.as_str(), "emergency_contact" | "guarantor" | "legal_representative" | "contact"),
            &format!("parties[{i}].role"),
            "must be emergency_contact, guarantor, legal_representative or contact",
        );
        checks.text(&format!("parties[{i}].name"), &p.name, 100);
        checks.check(
            p.relation.as_ref().is_none_or(|r| r.chars().count() <= 32),
            &format!("parties[{i}].relation"),
            "at most 32 characters",
        );
        checks.check(
            p.id_number.as_deref().is_none_or(|n| identity::national_id_ok(&n.trim().to_ascii_uppercase())),
            &format!("parties[{i}].id_number"),
            "is not a national ID (check the last character)",
        );
        checks.check(
            p.role != "guarantor" || p.id_number.is_some(),
            &format!("parties[{i}].id_number"),
            "a guarantor needs a national ID",
        );
    }
    if let Some(zone) = &new.time_zone {
        checks.check(day::zone_known(db, zone).await?, "time_zone", ZONE_UNKNOWN);
    }
    checks.finish()?;
    let seal = |v: &str| vault.seal(v).map_err(|e| Error::Internal(e.to_string()));
    list::region_in_scope(db, actor, new.region_id).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO customers (kind, name, id_number_sealed, id_number_index, phone_sealed, address, employer, region_id,
                                home_latitude, home_longitude, phone_index, time_zone)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(kind)
    .bind(new.name.trim())
    .bind(seal(&number)?)
    .bind(vault.index(&number))
    .bind(new.phone.as_deref().map(seal).transpose()?)
    .bind(&new.address)
    .bind(&new.employer)
    .bind(new.region_id)
    .bind(new.home_location.map(|h| h.latitude))
    .bind(new.home_location.map(|h| h.longitude))
    .bind(new.phone.as_deref().map(|p| vault.index(&identity::phone_key(p))))
    .bind(&new.time_zone)
    .fetch_one(&mut *db)
    .await?;
    for p in &new.parties {
        sqlx::query(
            "INSERT INTO customer_parties (customer_id, role, name, relation, phone_sealed, id_number_sealed)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&p.role)
        .bind(p.name.trim())
        .bind(&p.relation)
        .bind(p.phone.as_deref().map(seal).transpose()?)
        .bind(p.id_number.as_deref().map(|n| seal(&n.trim().to_ascii_uppercase())).transpose()?)
        .execute(&mut *db)
        .await?;
    }
    let mut view = TABLE.load(db, actor, id).await?.view(vault);
    view.parties = parties(db, vault, id).await?;
    let entry = Change::new("create", "customer", id, Some(view.region_id)).after(json!(view));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(view)
}

/// Indexes the phones of customers sealed before phones had a blind index, in batches; returns
/// how many were indexed. Cheap when there are none: run at start.
pub async fn index_phones(pool: &PgPool, vault: &Vault) -> Result<u64, Error> {
    let mut done = 0;
    loop {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT id, phone_sealed FROM customers WHERE phone_sealed IS NOT NULL AND phone_index IS NULL
             ORDER BY id LIMIT 1000",
        )
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(done);
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut keys = Vec::with_capacity(rows.len());
        for (id, sealed) in rows {
            let phone = vault.open(&sealed).map_err(|e| Error::Internal(format!("customer {id}: {e}")))?;
            ids.push(id);
            keys.push(vault.index(&identity::phone_key(&phone)));
        }
        sqlx::query("UPDATE customers c SET phone_index = t.key FROM unnest($1::bigint[], $2::bytea[]) AS t(id, key) WHERE c.id = t.id")
            .bind(&ids)
            .bind(&keys)
            .execute(pool)
            .await?;
        done += ids.len() as u64;
    }
}

/// The customer `id` with the people around them, numbers masked.
pub async fn get(db: &mut PgConnection, vault: &Vault, actor: &Actor, id: i64) -> Result<Customer, Error> {
    let mut view = TABLE.load(db, actor, id).await?.view(vault);
    view.parties = parties(db, vault, id).await?;
    Ok(view)
}

/// A customer's numbers in full.
#[derive(Serialize, ToSchema)]
pub struct CustomerNumbers {
    /// National ID or credit code.
    pub id_number: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// A customer's numbers in full; the reveal is audited.
pub async fn reveal(db: &mut PgConnection, vault: &Vault, actor: &Actor, id: i64) -> Result<CustomerNumbers, Error> {
    let row = TABLE.load(db, actor, id).await?;
    let open = |s: Option<Vec<u8>>| s.map(|s| vault.open(&s)).transpose().map_err(|e| Error::Internal(e.to_string()));
    let numbers = CustomerNumbers { id_number: open(row.id_number_sealed)?, phone: open(row.phone_sealed)? };
    let entry =
        Change::new("reveal", "customer", id, Some(row.region_id)).after(json!({"fields": ["id_number", "phone"]}));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(numbers)
}

/// A customer's choice about reminders.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsOptOut {
    /// True: no more reminders (退订); false: reminders again.
    pub opt_out: bool,
}

/// Records the reminders choice of the customer `id` of the actor's region. Audited.
pub async fn set_sms_opt_out(db: &mut PgConnection, actor: &Actor, id: i64, choice: &SmsOptOut) -> Result<(), Error> {
    let region = TABLE.lock(db, actor, id).await?.region_id;
    sqlx::query("UPDATE customers SET sms_opt_out = $2, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(choice.opt_out)
        .execute(&mut *db)
        .await?;
    let entry = Change::new("sms_opt_out", "customer", id, Some(region)).after(json!({"opt_out": choice.opt_out}));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(())
}

/// What a time zone that PostgreSQL does not know is told.
const ZONE_UNKNOWN: &str = "is not a time zone name (such as Asia/Shanghai or Asia/Urumqi)";

/// A customer's time zone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerTimeZone {
    /// An IANA name such as `Asia/Urumqi`; none: the company's.
    pub time_zone: Option<String>,
}

/// Sets the time zone of the customer `id` of the actor's region, in which the contact rules count
/// the hours and the day. Audited with the zone it replaced.
pub async fn set_time_zone(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    choice: &CustomerTimeZone,
) -> Result<(), Error> {
    let zone = choice.time_zone.as_deref().map(str::trim).filter(|z| !z.is_empty());
    if let Some(zone) = zone
        && !day::zone_known(db, zone).await?
    {
        return Err(Error::invalid("time_zone", ZONE_UNKNOWN));
    }
    let before = TABLE.lock(db, actor, id).await?;
    sqlx::query("UPDATE customers SET time_zone = $2, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(zone)
        .execute(&mut *db)
        .await?;
    let entry = Change::new("time_zone", "customer", id, Some(before.region_id))
        .before(json!({"time_zone": before.time_zone}))
        .after(json!({"time_zone": zone}));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(())
}
