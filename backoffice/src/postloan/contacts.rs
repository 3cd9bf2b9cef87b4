//! Collection contacts (电话催收登记): each call, message or visit about an overdue contract, with the
//! party reached, the result, the collection state it left and any promise to pay (which holds the
//! contract's bucket until the date, through the books). The contact rules are kept here: no
//! contact outside the allowed hours of the customer's day (in their own time zone, else the
//! company's), and no more than the day's cap with the customer, or with each kind of third party.

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::books::contract::{self, Promise};
use crate::error::{Checks, Error};
use crate::kit::audit::{self, Change};
use crate::kit::day;
use crate::system::settings::{self, get_int};

/// The channels of contact.
pub const CHANNELS: &[&str] = &["phone", "sms", "visit"];
/// Whom a contact reached.
pub const PARTIES: &[&str] = &["customer", "guarantor", "emergency_contact", "third_party"];
/// How a contact went.
pub const RESULTS: &[&str] = &["connected", "no_answer", "switched_off", "wrong_number", "refused", "third_party"];

/// A recorded contact.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Contact {
    /// Id.
    pub id: i64,
    /// The contract.
    pub contract_id: i64,
    /// Who made it; none for a message a job sent.
    pub user_id: Option<i64>,
    /// Their name.
    pub user_name: String,
    /// `phone`, `sms` or `visit`.
    pub channel: String,
    /// `customer`, `guarantor`, `emergency_contact` or `third_party`.
    pub party: String,
    /// `connected`, `no_answer`, `switched_off`, `wrong_number`, `refused` or `third_party`.
    pub result: String,
    /// The collection state it left, by code.
    pub state_code: Option<String>,
    /// What was said.
    pub note: String,
    /// The amount promised.
    #[schema(value_type = Option<String>)]
    pub promise_amount: Option<Decimal>,
    /// The date promised.
    pub promise_date: Option<NaiveDate>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A contact to record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    /// `phone`, `sms` or `visit`.
    pub channel: String,
    /// `customer`, `guarantor`, `emergency_contact` or `third_party`.
    pub party: String,
    /// `connected`, `no_answer`, `switched_off`, `wrong_number`, `refused` or `third_party`.
    pub result: String,
    /// A collection state in use, by code.
    pub state_code: Option<String>,
    /// What was said.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
    /// The amount promised; with `promise_date`.
    #[schema(value_type = Option<String>)]
    pub promise_amount: Option<Decimal>,
    /// The date promised, from today to 90 days ahead; with `promise_amount`.
    pub promise_date: Option<NaiveDate>,
}

/// The contact rules as they stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// First allowed hour of the customer's day.
    pub from_hour: u32,
    /// The hour from which contacts stop.
    pub until_hour: u32,
    /// Contacts a day with one party of a contract.
    pub per_day: i64,
}

impl Rules {
    /// Why a contact at `local_hour`, after `made_today` with the same party, is refused; `None` when allowed.
    pub fn refusal(&self, local_hour: u32, made_today: i64) -> Option<String> {
        if local_hour < self.from_hour || local_hour >= self.until_hour {
            return Some(format!(
                "contacts are allowed from {:02}:00 to {:02}:00 in the customer's time zone",
                self.from_hour, self.until_hour
            ));
        }
        if made_today >= self.per_day {
            return Some(format!("{} contacts with this party today already: the day's cap", made_today));
        }
        None
    }
}

/// What is wrong with `new` itself, `today` being the company's date.
fn check(new: &NewContact, today: NaiveDate) -> Result<(), Error> {
    let mut checks = Checks::default();
    checks.check(CHANNELS.contains(&new.channel.as_str()), "channel", "must be phone, sms or visit");
    checks.check(
        PARTIES.contains(&new.party.as_str()),
        "party",
        "must be customer, guarantor, emergency_contact or third_party",
    );
    checks.check(RESULTS.contains(&new.result.as_str()), "result", format!("must be one of {}", RESULTS.join(", ")));
    checks.check(new.note.chars().count() <= 1000, "note", "must be at most 1000 characters");
    match (new.promise_amount, new.promise_date) {
        (None, None) => {}
        (Some(amount), Some(date)) => {
            checks.check(amount > Decimal::ZERO, "promise_amount", "must be more than zero");
            checks.check(date >= today, "promise_date", "cannot be in the past");
            checks.check(date <= today + Duration::days(90), "promise_date", "must be within the next 90 days");
            checks.check(new.result == "connected", "result", "a promise is made on a call that connected");
        }
        (None, Some(_)) => {
            checks.check(false, "promise_amount", "a promise has an amount");
        }
        (Some(_), None) => {
            checks.check(false, "promise_date", "a promise has a date");
        }
    }
    checks.finish()
}

/// Records a contact on the contract `id` made `now` by the actor, under the contact rules of the
/// customer's day (the company's being `utc_offset_hours` east of UTC); a promise, dated in the
/// company's calendar, holds the contract's bucket until its date. Audited.
pub async fn record(
    db: &mut PgConnection,
    actor: &Actor,
    id: i64,
    new: &NewContact,
    now: DateTime<Utc>,
    utc_offset_hours: i32,
) -> Result<Contact, Error> {
    let local = now + Duration::hours(i64::from(utc_offset_hours));
    let today = local.date_naive();
    check(new, today)?;
    // Locked: two collectors on one contract count their contacts one after the other.
    let before = contract::TABLE.lock(db, actor, id).await?;
    if let Some(state) = &new.state_code {
        let known: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM collection_codes WHERE kind = 'state' AND code = $1 AND active)",
        )
        .bind(state)
        .fetch_one(&mut *db)
        .await?;
        if !known {
            return Err(Error::invalid("state_code", "is not a collection state in use"));
        }
    }
    if let Some(why) = refusal(db, id, &new.party, now, utc_offset_hours).await? {
        return Err(Error::Conflict { code: "contact_rules", detail: why });
    }
    let contact_id: i64 = sqlx::query_scalar(
        "INSERT INTO collection_contacts (contract_id, user_id, channel, party, result, state_code, note,
                                          promise_amount, promise_date, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(id)
    .bind(actor.user_id)
    .bind(&new.channel)
    .bind(&new.party)
    .bind(&new.result)
    .bind(&new.state_code)
    .bind(new.note.trim())
    .bind(new.promise_amount)
    .bind(new.promise_date)
    .bind(now)
    .fetch_one(&mut *db)
    .await?;
    if let (Some(amount), Some(until)) = (new.promise_amount, new.promise_date) {
        let note = format!("{} {amount}: {}", new.party, new.note.trim());
        contract::promise(db, actor, id, &Promise { until, note, version: before.version }, today).await?;
    }
    let contact = one(db, contact_id).await?;
    let entry = Change::new("create", "collection_contact", contact_id, Some(before.region_id)).after(json!(contact));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(contact)
}

/// The contact rules in force.
pub async fn rules(db: &mut PgConnection) -> Result<Rules, Error> {
    let setting = |key| settings::find(key).ok_or_else(|| Error::Internal(format!("setting {key} missing")));
    Ok(Rules {
        from_hour: u32::try_from(get_int(&mut *db, setting("postloan.contact_from_hour")?).await?).unwrap_or(8),
        until_hour: u32::try_from(get_int(&mut *db, setting("postloan.contact_until_hour")?).await?).unwrap_or(21),
        per_day: get_int(&mut *db, setting("postloan.contacts_per_day")?).await?,
    })
}

/// Why a contact with `party` about `contract` may not be made `now`, if it may not: outside the
/// allowed hours of the customer's day, or over that day's cap (every channel counts, the jobs'
/// messages too). The customer's time zone rules; without one, the company's.
pub async fn refusal(
    db: &mut PgConnection,
    contract: i64,
    party: &str,
    now: DateTime<Utc>,
    utc_offset_hours: i32,
) -> Result<Option<String>, Error> {
    // The customer's offset from UTC at `now`, as PostgreSQL's zone rules say.
    let offset: i64 = sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM ($2 AT TIME ZONE cu.time_zone) - ($2 AT TIME ZONE 'UTC'))::bigint, $3)
         FROM contracts c LEFT JOIN customers cu ON cu.id = c.customer_id WHERE c.id = $1",
    )
    .bind(contract)
    .bind(now)
    .bind(i64::from(utc_offset_hours) * 3600)
    .fetch_one(&mut *db)
    .await?;
    let local = now + Duration::seconds(offset);
    let rules = rules(db).await?;
    let made_today: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM collection_contacts WHERE contract_id = $1 AND party = $2 AND at >= $3",
    )
    .bind(contract)
    .bind(party)
    .bind(day::local_day_starts(local.date_naive(), offset))
    .fetch_one(&mut *db)
    .await?;
    Ok(rules.refusal(local.hour(), made_today))
}

/// Records a message a job sent the customer about `contract` (no user made it): kept in the
/// history, counted against the day's cap.
pub(crate) async fn record_sent(
    db: &mut PgConnection,
    contract: i64,
    note: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO collection_contacts (contract_id, channel, party, result, note, at) VALUES ($1, 'sms', 'customer', 'sent', $2, $3)",
    )
    .bind(contract)
    .bind(note)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

const SELECT: &str = "SELECT k.id, k.contract_id, k.user_id, COALESCE(u.display_name, '系统') AS user_name, k.channel,
        k.party, k.result, k.state_code, k.note, k.promise_amount, k.promise_date, k.at
    FROM collection_contacts k LEFT JOIN users u ON u.id = k.user_id";

async fn one(db: &mut PgConnection, id: i64) -> Result<Contact, Error> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE k.id = $1")).bind(id).fetch_one(db).await?)
}

/// The contacts on the contract `id` (in the actor's region subtree), newest first.
pub async fn of_contract(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Vec<Contact>, Error> {
    contract::TABLE.load(db, actor, id).await?;
    Ok(sqlx::query_as(&format!("{SELECT} WHERE k.contract_id = $1 ORDER BY k.at DESC, k.id DESC LIMIT 500"))
        .bind(id)
        .fetch_all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact() -> NewContact {
        NewContact {
            channel: "phone".into(),
            party: "customer".into(),
            result: "connected".into(),
            state_code: None,
            note: String::new(),
            promise_amount: None,
            promise_date: None,
        }
    }

    #[test]
    fn contacts_keep_to_the_hours_and_the_daily_cap() {
        let rules = Rules { from_hour: 8, until_hour: 21, per_day: 3 };
        assert_eq!(rules.refusal(8, 0), None);
        assert_eq!(rules.refusal(20, 2), None);
        assert!(rules.refusal(7, 0).unwrap().contains("08:00 to 21:00 in the customer's time zone"));
        assert!(rules.refusal(21, 0).is_some(), "21:00 is already too late");
        assert!(rules.refusal(12, 3).unwrap().contains("cap"));
    }

    #[test]
    fn a_promise_has_an_amount_and_a_date_to_come_on_a_connected_call() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert!(check(&contact(), today).is_ok());
        let promise = |amount: i64, days: i64, result: &str| NewContact {
            promise_amount: Some(Decimal::from(amount)),
            promise_date: Some(today + Duration::days(days)),
            result: result.into(),
            ..contact()
        };
        assert!(check(&promise(3000, 7, "connected"), today).is_ok());
        assert!(check(&promise(3000, 0, "connected"), today).is_ok(), "today still counts");
        let fields = |new: &NewContact| match check(new, today) {
            Err(Error::Validation(errors)) => errors.into_iter().map(|e| e.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(fields(&promise(3000, -1, "connected")), ["promise_date"]);
        assert_eq!(fields(&promise(0, 91, "no_answer")), ["promise_amount", "promise_date", "result"]);
        assert_eq!(fields(&NewContact { promise_date: Some(today), ..contact() }), ["promise_amount"]);
        assert_eq!(fields(&NewContact { channel: "fax".into(), ..contact() }), ["channel"]);
    }
}
