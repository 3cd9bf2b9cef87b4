//! From approval to money out: the contract generated from an approved application (its customer
//! and vehicle found or registered, the pending contract originated on the quoted product
//! version), the pre-disbursement checks (贷前审核), and the disbursement request (放款) that finance
//! approves (workflow `disbursement`), on which the contract becomes active with its schedule.
//!
//! `checks` is the one place a check before the money goes out is added (a dealer's credit limit
//! and GPS stock will join the contract, signature, guarantee policy, lien and tracker checks).

use chrono::Utc;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::application::{self, Application, TABLE, Version};
use super::review::{event, step};
use super::{after_disbursement, records};
use crate::actor::Actor;
use crate::assets::vehicle::{self, NewVehicle};
use crate::books::contract::{self, Origination};
use crate::customers::customer::{self, NewCustomer, NewParty};
use crate::error::Error;
use crate::kit::{approvals, audit};
use crate::system::crypto::Vault;
use crate::system::settings;
use crate::system::workflow::hooks::{Decision, HookFuture, Hooks};

/// The workflow (and subject type) of a disbursement request; the subject is the application.
pub const DISBURSEMENT: &str = "disbursement";

/// The disbursement's hook: registered with the others.
pub fn hooks(hooks: Hooks) -> Hooks {
    hooks.on(DISBURSEMENT, decided)
}

/// Generates the contract of the approved application `id`: the applicant becomes a customer (or
/// is found as one by their number), the vehicle is found by its VIN or registered, and a pending
/// contract is originated on the product version quoted. Audited.
pub async fn make_contract(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    body: &Version,
) -> Result<Application, Error> {
    let row = TABLE.lock_in(db, actor, id, body.version, &["approved"]).await?;
    let open = |sealed: &Option<Vec<u8>>| sealed.as_ref().and_then(|s| vault.open(s).ok());
    let number =
        open(&row.id_number_sealed).ok_or_else(|| Error::Internal("the applicant's number cannot be opened".into()))?;
    let known: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id_number_index = $1")
        .bind(vault.index(&number))
        .fetch_optional(&mut *db)
        .await?;
    let customer_id = match known {
        Some(customer) => customer,
        None => {
            let parties = application::parties(db, id)
                .await?
                .into_iter()
                .map(|p| NewParty {
                    // A co-applicant is kept among the customer's contacts.
                    role: if p.role == "co_applicant" { "contact".to_owned() } else { p.role },
                    name: p.name,
                    relation: Some(p.relation).filter(|r| !r.is_empty()),
                    phone: open(&p.phone_sealed),
                    id_number: open(&p.id_number_sealed),
                })
                .collect();
            let new = NewCustomer {
                name: row.applicant_name.clone(),
                id_number: number,
                phone: open(&row.phone_sealed),
                address: Some(row.address.clone()),
                employer: Some(row.employer.clone()).filter(|e| !e.is_empty()),
                region_id: row.region_id,
                home_location: None,
                parties,
                time_zone: None,
            };
            customer::create(db, vault, actor, &new).await?.id
        }
    };
    let vin = row.vin.clone().unwrap_or_default();
    let in_stock: Option<i64> = sqlx::query_scalar("SELECT id FROM vehicles WHERE vin = $1 AND status = 'in_stock'")
        .bind(&vin)
        .fetch_optional(&mut *db)
        .await?;
    let vehicle_id = match in_stock {
        Some(vehicle) => vehicle,
        None => {
            let new = NewVehicle {
                vin,
                plate: None,
                brand: Some(row.vehicle_brand.clone()),
                series: None,
                model: Some(row.vehicle_model.clone()),
                colour: None,
                engine_number: None,
                vehicle_type: Some(row.vehicle_type.clone()),
                region_id: row.region_id,
            };
            vehicle::create(db, actor, &new).await?.id
        }
    };
    let origination = Origination {
        number: format!("HT{}", row.number.trim_start_matches("SQ")),
        customer_id,
        vehicle_id,
        dealer_id: row.dealer_id,
        product_id: row.product_id.ok_or_else(|| Error::invalid("product_id", "is required"))?,
        price: row.price.unwrap_or_default(),
        down_payment: row.down_payment.unwrap_or_default(),
        term: u32::try_from(row.term.unwrap_or(0)).unwrap_or(0),
    };
    let made = contract::originate(db, actor, &origination, contract::Origin::Application).await?;
    sqlx::query(
        "UPDATE applications SET status = 'contracted', contract_id = $2, version = version + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(made.id)
    .execute(&mut *db)
    .await?;
    event(db, id, "contract", actor, Some(&made.number)).await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "make_contract", Some(&row), &after).await?;
    application::get(db, vault, actor, id).await
}

/// One pre-disbursement check and how it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Check {
    /// `contract`, `signature`, `guarantee`, `lien` or `gps`.
    pub name: String,
    /// Whether it holds.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

impl Check {
    fn new(name: &str, ok: bool, detail: impl Into<String>) -> Self {
        Self { name: name.to_owned(), ok, detail: detail.into() }
    }
}

/// The pre-disbursement checks (贷前审核) of the application `id`: the contract generated and
/// pending, signed by the lessee; the guarantee policy issued; the lien registered; a tracker
/// installed on the vehicle and reporting within the last day.
pub async fn checks(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Vec<Check>, Error> {
    let row = TABLE.load(db, actor, id).await?;
    let contract: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT status, vehicle_id FROM contracts WHERE id = $1")
            .bind(row.contract_id)
            .fetch_optional(&mut *db)
            .await?;
    let mut found = vec![Check::new(
        "contract",
        contract.as_ref().is_some_and(|(status, _)| status == "pending"),
        contract.as_ref().map_or("no contract generated yet".into(), |(status, _)| format!("the contract is {status}")),
    )];
    let signature = records::signature(db, id).await?;
    found.push(match signature {
        Some(s) if s.status == "signed" => Check::new("signature", true, "signed by the lessee"),
        Some(s) => Check::new("signature", false, format!("the contract is {} for signature", s.status)),
        None => Check::new("signature", false, "the contract has not been sent for signature"),
    });
    found.push(match records::guarantee(db, id).await? {
        Some(p) if p.status == "issued" => {
            Check::new("guarantee", true, format!("policy {} issued", p.policy_number.unwrap_or_default()))
        }
        Some(p) => Check::new("guarantee", false, format!("the guarantee is {}", p.status)),
        None => Check::new("guarantee", false, "the guarantee insurance has not been asked for"),
    });
    found.push(match records::lien(db, row.contract_id).await? {
        Some(l) => {
            Check::new("lien", true, format!("registered {} at {} on {}", l.registration, l.office, l.registered_on))
        }
        None => Check::new("lien", false, "no lien on the vehicle is recorded"),
    });
    let vehicle = contract.and_then(|(_, vehicle)| vehicle);
    let reporting: Option<(String, chrono::DateTime<Utc>)> = sqlx::query_as(
        "SELECT d.imei, s.server_time FROM devices d JOIN device_state s ON s.device_id = d.id
         WHERE d.vehicle_id = $1 ORDER BY s.server_time DESC LIMIT 1",
    )
    .bind(vehicle)
    .fetch_optional(&mut *db)
    .await?;
    let fresh = reporting.as_ref().is_some_and(|(_, at)| Utc::now() - *at < chrono::Duration::hours(24));
    found.push(Check::new(
        "gps",
        fresh,
        match reporting {
            None => "no tracker installed on the vehicle has reported".into(),
            Some((imei, at)) if !fresh => format!("tracker {imei} last reported at {at}, more than a day ago"),
            Some((imei, _)) => format!("tracker {imei} is reporting"),
        },
    ));
    Ok(found)
}

/// Asks for the disbursement of the contracted application `id` once every check holds; finance
/// approves it in the workflow `disbursement`. Audited.
pub async fn request(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    body: &Version,
) -> Result<Application, Error> {
    let row = TABLE.lock_in(db, actor, id, body.version, &["contracted"]).await?;
    let failing: Vec<String> = checks(db, actor, id)
        .await?
        .into_iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    if !failing.is_empty() {
        return Err(Error::Conflict { code: "checks_failed", detail: failing.join("; ") });
    }
    let title = format!("放款 {} {}", row.number, row.applicant_name);
    approvals::submit(db, actor, DISBURSEMENT, id, row.region_id, &title).await?;
    sqlx::query("UPDATE applications SET status = 'disbursement_pending', version = version + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *db)
        .await?;
    event(db, id, "request_disbursement", actor, None).await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "request_disbursement", Some(&row), &after).await?;
    application::get(db, vault, actor, id).await
}

/// Approved, the money went out today (the company's day): the contract starts with its schedule and the application
/// is disbursed; rejected, the application waits contracted again.
fn decided<'a>(tx: &'a mut PgConnection, decision: Decision<'a>) -> HookFuture<'a> {
    Box::pin(async move {
        if !decision.approved() {
            sqlx::query("UPDATE applications SET status = 'contracted', version = version + 1 WHERE id = $1")
                .bind(decision.subject)
                .execute(&mut *tx)
                .await?;
            return Ok(());
        }
        let contract: Option<i64> = sqlx::query_scalar("SELECT contract_id FROM applications WHERE id = $1")
            .bind(decision.subject)
            .fetch_one(&mut *tx)
            .await?;
        let contract = contract.ok_or_else(|| Error::Internal("a disbursement without a contract".into()))?;
        let today = decision.today;
        contract::start(tx, contract, today).await?;
        let setting = settings::find("origination.documents_due_days")
            .ok_or_else(|| Error::Internal("setting origination.documents_due_days missing".into()))?;
        let days = settings::get_int(&mut *tx, setting).await?;
        sqlx::query(
            "UPDATE applications SET status = 'disbursed', disbursed_on = $2, documents_due = $3,
                 version = version + 1 WHERE id = $1",
        )
        .bind(decision.subject)
        .bind(today)
        .bind(after_disbursement::due(today, days))
        .execute(&mut *tx)
        .await?;
        step(tx, decision.subject, "disbursed", None, None).await?;
        Ok(())
    })
}
