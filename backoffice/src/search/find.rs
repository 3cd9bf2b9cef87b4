//! One box for everything: a contract number, a plate, a VIN (or its last six or more characters),
//! a tracker's IMEI, a customer's name, ID number or phone. Numbers that are sealed are matched
//! through their blind index, never decrypted. Each kind of record is searched only when the
//! actor may read it, and only in the actor's region subtree.

use serde::Serialize;
use sqlx::{FromRow, PgPool};

use crate::actor::Actor;
use crate::error::Error;
use crate::kit::identity;
use crate::system::crypto::Vault;

/// Hits of one kind at most.
pub const LIMIT: i64 = 20;

/// A contract found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct ContractHit {
    /// Id.
    pub id: i64,
    /// Number.
    pub number: String,
    /// Status.
    pub status: String,
    /// Days past due.
    pub dpd: i32,
}

/// A vehicle found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct VehicleHit {
    /// Id.
    pub id: i64,
    /// Plate.
    pub plate: Option<String>,
    /// VIN.
    pub vin: String,
    /// The tracker that matched, when found by IMEI.
    pub imei: Option<String>,
}

/// A customer found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct CustomerHit {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Their contracts' numbers.
    pub contracts: Vec<String>,
}

/// What a search found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Found {
    /// Contracts.
    pub contracts: Vec<ContractHit>,
    /// Vehicles.
    pub vehicles: Vec<VehicleHit>,
    /// Customers.
    pub customers: Vec<CustomerHit>,
}

impl Found {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.contracts.is_empty() && self.vehicles.is_empty() && self.customers.is_empty()
    }
}

/// Searches for `text` (at least two characters) what `actor` may read.
pub async fn find(pool: &PgPool, vault: &Vault, actor: &Actor, text: &str) -> Result<Found, Error> {
    let text = text.trim();
    if text.chars().count() < 2 {
        return Err(Error::invalid("q", "type at least two characters"));
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_uppercase).collect();
    let mut found = Found::default();
    if actor.can("contracts.read") {
        found.contracts = sqlx::query_as(
            "SELECT c.id, c.number, c.status, c.dpd FROM contracts c JOIN regions g ON g.id = c.region_id
             WHERE starts_with(g.path, $1) AND upper(c.number) LIKE $2 || '%'
             ORDER BY c.number LIMIT $3",
        )
        .bind(&actor.region_path)
        .bind(like_prefix(&compact))
        .bind(LIMIT)
        .fetch_all(pool)
        .await?;
    }
    if actor.can("vehicles.read") {
        // A VIN's last six or more characters are what is read off a windscreen or a document.
        let vin_tail = (compact.len() >= 6).then(|| like_prefix(&compact));
        found.vehicles = sqlx::query_as(
            "SELECT v.id, v.plate, v.vin, d.imei FROM vehicles v JOIN regions g ON g.id = v.region_id
             LEFT JOIN devices d ON d.vehicle_id = v.id AND d.imei = $2
             WHERE starts_with(g.path, $1)
               AND (upper(replace(v.plate, ' ', '')) = $2 OR v.vin = $2 OR ($3::text IS NOT NULL AND v.vin LIKE '%' || $3)
                    OR d.imei IS NOT NULL)
             ORDER BY v.vin LIMIT $4",
        )
        .bind(&actor.region_path)
        .bind(&compact)
        .bind(vin_tail)
        .bind(LIMIT)
        .fetch_all(pool)
        .await?;
    }
    if actor.can("customers.read") {
        let phone = identity::phone_key(text);
        let phone_index = (phone.len() >= 7).then(|| vault.index(&phone));
        found.customers = sqlx::query_as(
            "SELECT c.id, c.name,
                    ARRAY(SELECT k.number FROM contracts k WHERE k.customer_id = c.id ORDER BY k.number) AS contracts
             FROM customers c JOIN regions g ON g.id = c.region_id
             WHERE starts_with(g.path, $1)
               AND (c.id_number_index = $2 OR c.phone_index = $3 OR strpos(c.name, $4) > 0)
             ORDER BY c.name LIMIT $5",
        )
        .bind(&actor.region_path)
        .bind(vault.index(text))
        .bind(phone_index)
        .bind(text)
        .bind(LIMIT)
        .fetch_all(pool)
        .await?;
    }
    Ok(found)
}

/// `text` with the `LIKE` wildcards it holds taken literally.
fn like_prefix(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_in_what_is_typed_are_literal() {
        assert_eq!(like_prefix("HT_1%"), "HT\\_1\\%");
    }
}
