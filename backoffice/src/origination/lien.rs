//! The lien (抵押登记): the financed vehicle pledged to the company at the vehicle administration,
//! recorded against the contract generated from the application before the money goes out.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::application::{self, Application, TABLE};
use super::records::{self, Lien};
use super::review::step;
use crate::actor::Actor;
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::system::crypto::Vault;

/// A lien to record, at the application's version read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLien {
    /// The registration's number (抵押登记编号).
    #[schema(min_length = 1, max_length = 64)]
    pub registration: String,
    /// The day it was registered.
    pub registered_on: NaiveDate,
    /// The vehicle administration office.
    #[schema(min_length = 1, max_length = 100)]
    pub office: String,
    /// The version read.
    pub version: i32,
}

/// Records (or corrects) the lien on the contract generated from the application `id`, before
/// disbursement. Audited.
pub async fn record(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    new: &NewLien,
    today: NaiveDate,
) -> Result<Application, Error> {
    let row = TABLE.lock_in(db, actor, id, new.version, &["contracted"]).await?;
    let lien = Lien {
        registration: new.registration.trim().to_owned(),
        registered_on: new.registered_on,
        office: new.office.trim().to_owned(),
    };
    let mut checks = Checks::default();
    checks.text("registration", &lien.registration, 64).text("office", &lien.office, 100);
    checks.check(lien.registered_on <= today, "registered_on", "cannot be in the future");
    checks.finish()?;
    let before = records::lien(db, row.contract_id).await?;
    sqlx::query(
        "INSERT INTO contract_liens (contract_id, registration, registered_on, office, recorded_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (contract_id) DO UPDATE SET registration = EXCLUDED.registration,
             registered_on = EXCLUDED.registered_on, office = EXCLUDED.office, recorded_by = EXCLUDED.recorded_by,
             recorded_at = now()",
    )
    .bind(row.contract_id)
    .bind(&lien.registration)
    .bind(lien.registered_on)
    .bind(&lien.office)
    .bind(actor.user_id)
    .execute(&mut *db)
    .await?;
    step(db, id, "lien", Some(actor.user_id), Some(&lien.registration)).await?;
    let entry =
        Change::new("record_lien", "application", id, Some(row.region_id)).before(json!(before)).after(json!(lien));
    audit::record(&mut *db, actor.author(), entry).await?;
    application::get(db, vault, actor, id).await
}
