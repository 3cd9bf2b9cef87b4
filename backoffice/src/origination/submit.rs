//! Submitting an application: every field checked whole — the applicant's number by its check
//! character (18-digit resident ID or unified social credit code), their age today and at the end
//! of the term, the mobile, the bank card (Luhn), the VIN's check digit, the people beside them —
//! then the quote against the product's current version, and the duplicate and fraud checks: the
//! same ID with another open application, a VIN already financed or applied for, a blacklisted or
//! suspended dealer, a blacklisted applicant, co-applicant or guarantor are refused; a phone shared
//! by many applicants and a returning customer are findings kept for the review and the scorecard. The external checks (`external_checks.rs`) run
//! last and add their answers to the scorecard's variables.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate, Utc};
use leasewatch_finance::{Decimal, schedule};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use sqlx::types::Json as SqlJson;
use utoipa::ToSchema;

use super::application::{self, Application, TABLE};
use super::external_checks;
use super::partners::Partners;
use super::partners::bureau::Person;
use super::review;
use super::scorecards;
use crate::actor::Actor;
use crate::customers::blacklist;
use crate::dealers::dealer;
use crate::error::{Checks, Error};
use crate::kit::audit;
use crate::kit::identity;
use crate::products::product;
use crate::system::crypto::Vault;
use crate::system::settings::{self, get_int};

/// An application opened for the checks: its sealed numbers in the clear.
#[derive(Debug, Clone, Default)]
pub struct Whole {
    /// `individual` or `company`.
    pub applicant_kind: String,
    /// Name.
    pub applicant_name: String,
    /// National ID or credit code.
    pub id_number: Option<String>,
    /// Mobile.
    pub phone: Option<String>,
    /// Bank card.
    pub bank_card: Option<String>,
    /// Monthly income.
    pub monthly_income: Option<Decimal>,
    /// Address.
    pub address: String,
    /// VIN.
    pub vin: Option<String>,
    /// Brand and model.
    pub vehicle: (String, String),
    /// `new` or `used`.
    pub vehicle_condition: String,
    /// The product version quoted.
    pub product_id: Option<i64>,
    /// Price, down payment, months.
    pub quote: (Option<Decimal>, Option<Decimal>, Option<i32>),
    /// The people beside the applicant: role, name, national ID, phone.
    pub parties: Vec<(String, String, Option<String>, Option<String>)>,
}

/// The ages an individual applicant must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ages {
    /// The youngest on the day of applying.
    pub min: u32,
    /// The oldest on the last day of the term.
    pub max_at_end: u32,
}

/// Whole years from `born` to `on`.
fn age(born: NaiveDate, on: NaiveDate) -> u32 {
    let years = on.year() - born.year() - i32::from((on.month(), on.day()) < (born.month(), born.day()));
    u32::try_from(years).unwrap_or(0)
}

/// What is wrong with `whole` as an application to submit on `today`, every field at once.
pub fn check_whole(whole: &Whole, today: NaiveDate, ages: Ages) -> Checks {
    let mut checks = Checks::default();
    checks.text("applicant_name", &whole.applicant_name, 100);
    let company = whole.applicant_kind == "company";
    match whole.id_number.as_deref() {
        None => {
            checks.check(false, "id_number", "is required");
        }
        Some(number) if company => {
            checks.check(
                identity::credit_code_ok(number),
                "id_number",
                "is not a unified social credit code (check the last character)",
            );
        }
        Some(number) => match identity::birth_date(number) {
            None => {
                checks.check(false, "id_number", "is not an 18-digit resident ID (check the last character)");
            }
            Some(born) => {
                checks.check(
                    age(born, today) >= ages.min,
                    "id_number",
                    format!("the applicant must be at least {} years old", ages.min),
                );
                let months = whole.quote.2.and_then(|t| u32::try_from(t).ok()).unwrap_or(0);
                let end = today.checked_add_months(Months::new(months)).unwrap_or(today);
                checks.check(
                    age(born, end) <= ages.max_at_end,
                    "term",
                    format!("the applicant would be over {} at the end of the term", ages.max_at_end),
                );
            }
        },
    }
    checks.check(
        whole.phone.as_deref().is_some_and(identity::mobile_ok),
        "phone",
        "must be a mobile number (11 digits from 13)",
    );
    checks.check(
        whole.bank_card.as_deref().is_some_and(identity::bank_card_ok),
        "bank_card",
        "must be a bank card number (12 to 19 digits; check the last one)",
    );
    if !company {
        checks.check(whole.monthly_income.is_some_and(|i| i > Decimal::ZERO), "monthly_income", "is required");
    }
    checks.check(!whole.address.trim().is_empty(), "address", "is required");
    checks.check(
        whole.vin.as_deref().is_some_and(identity::vin_ok),
        "vin",
        "must be a 17-character VIN whose 9th character is its check digit",
    );
    checks.check(!whole.vehicle.0.trim().is_empty(), "vehicle_brand", "is required");
    checks.check(!whole.vehicle.1.trim().is_empty(), "vehicle_model", "is required");
    checks.check(whole.product_id.is_some(), "product_id", "is required");
    let (price, down, term) = whole.quote;
    checks.check(price.is_some_and(|p| p > Decimal::ZERO), "price", "is required");
    checks.check(down.is_some(), "down_payment", "is required");
    checks.check(term.is_some(), "term", "is required");
    for (i, (role, _, number, phone)) in whole.parties.iter().enumerate() {
        let needs_id = role != "emergency_contact";
        checks.check(
            number.as_deref().map_or(!needs_id, identity::national_id_ok),
            &format!("parties[{i}].id_number"),
            if needs_id { "a co-applicant or guarantor needs a valid resident ID" } else { "is not a resident ID" },
        );
        checks.check(
            phone.as_deref().is_some_and(identity::mobile_ok),
            &format!("parties[{i}].phone"),
            "must be a mobile number",
        );
    }
    checks
}

/// The version the submit was read at.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submit {
    /// The version read.
    pub version: i32,
}

/// Submits the draft `id` (or resubmits one sent back for documents): checked whole, quoted on the
/// product's current version, checked for duplicates and fraud; on success `submitted` with its
/// quote and findings, and in review (`review.rs`). Audited; refused, nothing changes.
pub async fn submit(
    db: &mut PgConnection,
    vault: &Vault,
    partners: &Partners,
    actor: &Actor,
    id: i64,
    body: &Submit,
    today: NaiveDate,
) -> Result<Application, Error> {
    let before = TABLE.lock_in(db, actor, id, body.version, application::EDITABLE).await?;
    let open = |sealed: &Option<Vec<u8>>| sealed.as_ref().and_then(|s| vault.open(s).ok());
    let parties = application::parties(db, id).await?;
    let whole = Whole {
        applicant_kind: before.applicant_kind.clone(),
        applicant_name: before.applicant_name.clone(),
        id_number: open(&before.id_number_sealed),
        phone: open(&before.phone_sealed),
        bank_card: open(&before.bank_card_sealed),
        monthly_income: before.monthly_income,
        address: before.address.clone(),
        vin: before.vin.clone(),
        vehicle: (before.vehicle_brand.clone(), before.vehicle_model.clone()),
        vehicle_condition: before.vehicle_condition.clone(),
        product_id: before.product_id,
        quote: (before.price, before.down_payment, before.term),
        parties: parties
            .into_iter()
            .map(|p| (p.role, p.name, open(&p.id_number_sealed), open(&p.phone_sealed)))
            .collect(),
    };
    let setting = |key| settings::find(key).ok_or_else(|| Error::Internal(format!("setting {key} missing")));
    let ages = Ages {
        min: u32::try_from(get_int(&mut *db, setting("origination.min_age")?).await?).unwrap_or(18),
        max_at_end: u32::try_from(get_int(&mut *db, setting("origination.max_age_at_end")?).await?).unwrap_or(65),
    };
    let mut checks = check_whole(&whole, today, ages);
    checks.finish()?;
    let quote = quote(db, &before, today).await?;
    let findings = findings(db, vault, &before, &whole).await?;
    sqlx::query(
        "UPDATE applications SET status = 'submitted', submitted_at = now(), quote = $2, findings = $3,
             version = version + 1, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(&quote)
    .bind(&findings)
    .execute(&mut *db)
    .await?;
    let principal = quote["principal"].as_str().and_then(|p| p.parse().ok()).unwrap_or_default();
    let mut values = variables(db, &whole, &quote, &findings, today).await?;
    let person = Person {
        name: whole.applicant_name.clone(),
        id_number: whole.id_number.clone().unwrap_or_default(),
        phone: whole.phone.clone().unwrap_or_default(),
    };
    values.extend(external_checks::run(db, partners, id, &person).await?);
    let scored = scorecards::evaluate(db, id, &values).await?;
    sqlx::query("UPDATE applications SET score = $2, score_decision = $3 WHERE id = $1")
        .bind(id)
        .bind(scored.as_ref().map(|e| e.score))
        .bind(scored.as_ref().map(|e| e.decision.clone()))
        .execute(&mut *db)
        .await?;
    review::start(db, actor, &before, principal, scored.as_ref().map(|e| e.decision.as_str())).await?;
    let after = TABLE.load(db, actor, id).await?;
    audit::changed(&mut *db, actor, "submit", Some(&before), &after).await?;
    application::get(db, vault, actor, id).await
}

/// The quote on the product's current version: refused when the version quoted is not the latest
/// of its code, when the dealer brings no new business, or when the product has no rate for it.
async fn quote(db: &mut PgConnection, a: &application::Row, today: NaiveDate) -> Result<Value, Error> {
    let product_id = a.product_id.ok_or_else(|| Error::invalid("product_id", "is required"))?;
    let found: Option<(String, i32, SqlJson<product::Rules>, i32)> = sqlx::query_as(
        "SELECT p.code, p.version, p.rules, (SELECT max(version) FROM products x WHERE x.code = p.code)
         FROM products p WHERE p.id = $1",
    )
    .bind(product_id)
    .fetch_optional(&mut *db)
    .await?;
    let Some((code, version, rules, latest)) = found else {
        return Err(Error::invalid("product_id", "no such product version"));
    };
    if version != latest {
        return Err(Error::invalid(
            "product_id",
            format!("{code} v{version} has been replaced by v{latest}: quote again on the current version"),
        ));
    }
    let tier = match a.dealer_id {
        Some(dealer) => Some(dealer::tier_for_new_business(db, dealer).await?),
        None => None,
    };
    let deal = product::Deal {
        price: a.price.unwrap_or_default(),
        down_payment: a.down_payment.unwrap_or_default(),
        term: u32::try_from(a.term.unwrap_or(0)).unwrap_or(0),
        vehicle_type: &a.vehicle_type,
        dealer_tier: tier.as_deref(),
    };
    let terms = rules.0.terms(&deal, today).map_err(|m| Error::invalid("down_payment", m))?;
    let plan = schedule(&terms).map_err(|e| Error::invalid("term", e.to_string()))?;
    let installment = plan.rows.iter().find(|r| r.period == 1).map(|r| r.payment);
    Ok(json!({
        "product_code": code, "product_version": version, "principal": terms.principal,
        "annual_rate": terms.annual_rate, "term": terms.term, "residual": terms.residual, "deposit": terms.deposit,
        "fee": terms.fee, "installment": installment, "total_payment": plan.totals.payment,
    }))
}

/// The duplicate and fraud checks: refused for the same ID with another open application, a VIN
/// financed or applied for elsewhere; the rest are findings returned to keep.
async fn findings(db: &mut PgConnection, vault: &Vault, a: &application::Row, whole: &Whole) -> Result<Value, Error> {
    let mut checks = Checks::default();
    let number = whole.id_number.as_deref().map(|n| vault.index(n));
    let open_application: Option<String> = sqlx::query_scalar(
        "SELECT number FROM applications WHERE id_number_index = $1 AND id <> $2 AND status = 'submitted' LIMIT 1",
    )
    .bind(&number)
    .bind(a.id)
    .fetch_optional(&mut *db)
    .await?;
    if let Some(other) = open_application {
        checks.check(false, "id_number", format!("has another open application ({other})"));
    }
    let vin = whole.vin.clone().unwrap_or_default();
    let financed: Option<String> = sqlx::query_scalar(
        "SELECT COALESCE(c.number, v.status) FROM vehicles v
         LEFT JOIN contracts c ON c.vehicle_id = v.id AND c.status IN ('pending', 'active')
         WHERE v.vin = $1 AND (v.status = 'financed' OR c.id IS NOT NULL) LIMIT 1",
    )
    .bind(&vin)
    .fetch_optional(&mut *db)
    .await?;
    if let Some(contract) = financed {
        checks.check(false, "vin", format!("is already financed ({contract})"));
    }
    let applied: Option<String> = sqlx::query_scalar(
        "SELECT number FROM applications WHERE vin = $1 AND id <> $2 AND status = 'submitted' LIMIT 1",
    )
    .bind(&vin)
    .bind(a.id)
    .fetch_optional(&mut *db)
    .await?;
    if let Some(other) = applied {
        checks.check(false, "vin", format!("is on another open application ({other})"));
    }
    // The blacklist: the applicant and those who answer for the lease with them.
    let phone_index = |p: &Option<String>| p.as_deref().map(|p| vault.index(&identity::phone_key(p)));
    let mut people = vec![(String::new(), number.clone(), phone_index(&whole.phone))];
    for (i, (role, _, id, phone)) in whole.parties.iter().enumerate() {
        if role != "emergency_contact" {
            people.push((format!("parties[{i}]."), id.as_deref().map(|n| vault.index(n)), phone_index(phone)));
        }
    }
    for (prefix, id, phone) in people {
        if blacklist::listed(db, id.as_deref(), phone.as_deref()).await? {
            let field = if id.is_some() { "id_number" } else { "phone" };
            checks.check(false, &format!("{prefix}{field}"), "is on the company's blacklist (黑名单)");
        }
    }
    checks.finish()?;
    let phone = whole.phone.as_deref().map(|p| vault.index(&identity::phone_key(p)));
    let sharing: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT id_number_index) FROM (
             SELECT id_number_index FROM applications
             WHERE phone_index = $1 AND id <> $3 AND status <> 'withdrawn' AND id_number_index IS DISTINCT FROM $2
             UNION ALL
             SELECT id_number_index FROM customers WHERE phone_index = $1 AND id_number_index IS DISTINCT FROM $2) o",
    )
    .bind(&phone)
    .bind(&number)
    .bind(a.id)
    .fetch_one(&mut *db)
    .await?;
    let limit =
        get_int(&mut *db, settings::find("origination.shared_phone_limit").ok_or(Error::NotFound("setting"))?).await?;
    let returning: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id_number_index = $1")
        .bind(&number)
        .fetch_optional(&mut *db)
        .await?;
    Ok(json!({
        "phone_shared_with": sharing,
        "phone_shared_flag": sharing >= limit,
        "returning_customer_id": returning,
        "checked_at": Utc::now(),
    }))
}

/// The values an application offers a scorecard (see `scorecard::VARIABLES`); a returning
/// customer's earlier contracts and vehicles add their worst delinquency and their alerts.
async fn variables(
    db: &mut PgConnection,
    whole: &Whole,
    quote: &Value,
    findings: &Value,
    today: NaiveDate,
) -> Result<BTreeMap<&'static str, Decimal>, Error> {
    let mut values = BTreeMap::new();
    let decimal = |v: &Value| v.as_str().and_then(|s| s.parse::<Decimal>().ok());
    let (price, down, term) = whole.quote;
    if let Some(born) =
        whole.id_number.as_deref().and_then(identity::birth_date).filter(|_| whole.applicant_kind != "company")
    {
        values.insert("age", Decimal::from(age(born, today)));
        let months = u32::try_from(term.unwrap_or(0)).unwrap_or(0);
        values.insert(
            "age_at_end",
            Decimal::from(age(born, today.checked_add_months(Months::new(months)).unwrap_or(today))),
        );
    }
    if let Some(income) = whole.monthly_income.filter(|i| *i > Decimal::ZERO) {
        values.insert("monthly_income", income);
        if let Some(installment) = decimal(&quote["installment"]) {
            values.insert("debt_ratio", (installment / income).round_dp(4));
        }
    }
    if let (Some(price), Some(down)) = (price.filter(|p| *p > Decimal::ZERO), down) {
        values.insert("down_payment_ratio", (down / price).round_dp(4));
    }
    if let Some(term) = term {
        values.insert("term", Decimal::from(term));
    }
    if let Some(principal) = decimal(&quote["principal"]) {
        values.insert("principal", principal);
    }
    values.insert("vehicle_used", Decimal::from(u8::from(whole.vehicle_condition == "used")));
    values.insert("guarantors", Decimal::from(whole.parties.iter().filter(|p| p.0 == "guarantor").count()));
    values.insert("phone_shared_with", Decimal::from(findings["phone_shared_with"].as_i64().unwrap_or(0)));
    let returning = findings["returning_customer_id"].as_i64();
    values.insert("returning_customer", Decimal::from(u8::from(returning.is_some())));
    if let Some(customer) = returning {
        let (dpd, alerts): (i32, i64) = sqlx::query_as(
            "SELECT COALESCE(max(c.dpd), 0), (SELECT count(*) FROM alerts a JOIN contracts k ON k.vehicle_id = a.vehicle_id
                                              WHERE k.customer_id = $1)
             FROM contracts c WHERE c.customer_id = $1",
        )
        .bind(customer)
        .fetch_one(&mut *db)
        .await?;
        values.insert("previous_max_dpd", Decimal::from(dpd));
        values.insert("previous_alerts", Decimal::from(alerts));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole() -> Whole {
        Whole {
            applicant_kind: "individual".into(),
            applicant_name: "王芳".into(),
            id_number: Some("11010519491231002X".into()),
            phone: Some("13800000011".into()),
            bank_card: Some("4111111111111111".into()),
            monthly_income: Some(Decimal::from(12_000)),
            address: "深圳市福田区".into(),
            vin: Some("1M8GDM9AXKP042788".into()),
            vehicle: ("比亚迪".into(), "秦".into()),
            vehicle_condition: "new".into(),
            product_id: Some(1),
            quote: (Some(Decimal::from(150_000)), Some(Decimal::from(30_000)), Some(36)),
            parties: vec![(
                "guarantor".into(),
                "王强".into(),
                Some("440524188001010014".into()),
                Some("13900000001".into()),
            )],
        }
    }

    fn fields(mut checks: Checks) -> Vec<String> {
        match checks.finish() {
            Ok(()) => Vec::new(),
            Err(Error::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("{other:?}"),
        }
    }

    const AGES: Ages = Ages { min: 18, max_at_end: 80 };

    #[test]
    fn a_complete_application_passes_and_each_bad_number_is_named() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert!(fields(check_whole(&whole(), today, AGES)).is_empty());
        let bad = Whole {
            id_number: Some("110105194912310021".into()),
            phone: Some("12800000011".into()),
            bank_card: Some("4111111111111112".into()),
            vin: Some("1M8GDM9A1KP042788".into()),
            ..whole()
        };
        assert_eq!(fields(check_whole(&bad, today, AGES)), ["id_number", "phone", "bank_card", "vin"]);
        let guarantor =
            Whole { parties: vec![("guarantor".into(), "王强".into(), None, Some("13900000001".into()))], ..whole() };
        assert_eq!(fields(check_whole(&guarantor, today, AGES)), ["parties[0].id_number"]);
        let company =
            Whole { applicant_kind: "company".into(), id_number: Some("91350100M000100Y43".into()), ..whole() };
        assert!(fields(check_whole(&company, today, AGES)).is_empty(), "a company by its credit code");
    }

    #[test]
    fn the_applicant_is_of_age_today_and_not_too_old_at_the_end_of_the_term() {
        // Born 1949-12-31: 76 today; 79 at the end of 36 months, 81 at the end of 60.
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert!(fields(check_whole(&whole(), today, AGES)).is_empty());
        let longer = Whole { quote: (Some(Decimal::from(150_000)), Some(Decimal::ZERO), Some(60)), ..whole() };
        assert_eq!(fields(check_whole(&longer, today, AGES)), ["term"]);
        assert_eq!(fields(check_whole(&whole(), today, Ages { min: 80, max_at_end: 90 })), ["id_number"]);
        assert_eq!(age(NaiveDate::from_ymd_opt(2008, 12, 5).unwrap(), today), 17, "a day before the birthday");
    }
}
