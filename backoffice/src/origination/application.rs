//! The application (申请填报): an individual or a company applying to lease a vehicle through a
//! dealer, with co-applicants, guarantors and emergency contacts, income, the vehicle, the product
//! version and quote asked for, the lease type and the documents. It is saved as a draft while it is
//! typed (only the shape of each value checked); `submit.rs` checks it whole. Numbers are sealed at
//! rest and masked in views, as a customer's are.

use chrono::{DateTime, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use super::external_checks::{self, ExternalCheck};
use super::records::{self, GuaranteePolicy, Lien, Signature};
use crate::actor::Actor;
use crate::customers::customer::masked;
use crate::dealers::dealer;
use crate::error::{Checks, Error};
use crate::kit::identity;
use crate::kit::list::{PageParams, Paged, Table};
use crate::system::attachments;
use crate::system::crypto::{Sensitive, Vault};

/// The states in which the filer may change an application: a draft, or one sent back for more
/// documents (补件).
pub const EDITABLE: &[&str] = &["draft", "returned"];
/// The lease types (直租, 回租, 厂商租赁, 经营性租赁).
pub const LEASE_TYPES: &[&str] = &["direct", "sale_leaseback", "vendor", "operating"];
/// Who may stand beside the applicant.
pub const PARTY_ROLES: &[&str] = &["co_applicant", "guarantor", "emergency_contact"];
/// The kinds of document filed.
pub const DOCUMENT_KINDS: &[&str] = &[
    "id_card",
    "licence",
    "bank_statement",
    "vehicle_photo",
    "credit_authorization",
    "other",
    "registration_certificate",
    "invoice",
    "vehicle_insurance",
];
/// The documents due after disbursement (贷后审核): the vehicle's registration certificate with the
/// lien on it, the purchase invoice, the vehicle's own insurance.
pub const AFTER_DISBURSEMENT_KINDS: &[&str] = &["registration_certificate", "invoice", "vehicle_insurance"];

/// The version an action was read at.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApplicationVersion)]
pub struct Version {
    /// The version read.
    pub version: i32,
}

/// An application as shown: numbers masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CreditApplication)]
pub struct Application {
    /// Id.
    pub id: i64,
    /// Its number (`SQ` and eight digits).
    pub number: String,
    /// `draft`, `submitted` (in review), `returned` (for more documents), `approved`, `rejected`,
    /// `withdrawn`, `contracted`, `disbursement_pending`, `disbursed`, `documents_complete` or
    /// `archived`.
    pub status: String,
    /// The region whose staff see it.
    pub region_id: i64,
    /// The dealer that brought it.
    pub dealer_id: Option<i64>,
    /// That dealer's name.
    pub dealer_name: Option<String>,
    /// `direct`, `sale_leaseback`, `vendor` or `operating`.
    pub lease_type: String,
    /// `individual` or `company`.
    pub applicant_kind: String,
    /// The applicant's name.
    pub applicant_name: String,
    /// Masked national ID or credit code.
    pub id_number: Option<String>,
    /// Masked mobile.
    pub phone: Option<String>,
    /// Masked bank card the installments are debited from.
    pub bank_card: Option<String>,
    /// Address.
    pub address: String,
    /// Employer.
    pub employer: String,
    /// Monthly income.
    #[schema(value_type = Option<String>)]
    pub monthly_income: Option<Decimal>,
    /// `new` or `used`.
    pub vehicle_condition: String,
    /// Brand.
    pub vehicle_brand: String,
    /// Model.
    pub vehicle_model: String,
    /// VIN.
    pub vin: Option<String>,
    /// `passenger` or `commercial`.
    pub vehicle_type: String,
    /// The product version quoted.
    pub product_id: Option<i64>,
    /// Vehicle price.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// Down payment.
    #[schema(value_type = Option<String>)]
    pub down_payment: Option<Decimal>,
    /// Months.
    pub term: Option<i32>,
    /// What the quote came to on submit: principal, rate, installment, product code and version.
    #[schema(value_type = Option<Object>)]
    pub quote: Option<Value>,
    /// The duplicate and fraud checks' findings on submit.
    #[schema(value_type = Object)]
    pub findings: Value,
    /// The review workflow's instance, once submitted.
    pub review_instance_id: Option<i64>,
    /// Why it was rejected (a reason code).
    pub reject_reason: Option<String>,
    /// The champion scorecard's score on submit.
    pub score: Option<i32>,
    /// Its decision: `approve`, `refer` or `decline`.
    pub score_decision: Option<String>,
    /// The contract generated from it, once approved.
    pub contract_id: Option<i64>,
    /// The day the money went out.
    pub disbursed_on: Option<NaiveDate>,
    /// The day the documents after disbursement are due by (贷后审核).
    pub documents_due: Option<NaiveDate>,
    /// The people beside the applicant.
    pub parties: Vec<PartyView>,
    /// The documents filed.
    pub documents: Vec<Document>,
    /// The credit bureau's and the identity check's answers on submit.
    pub external_checks: Vec<ExternalCheck>,
    /// The guarantee insurance, once asked for.
    pub guarantee: Option<GuaranteePolicy>,
    /// The contract's signing, once sent.
    pub signature: Option<Signature>,
    /// The lien on the vehicle, once recorded.
    pub lien: Option<Lien>,
    /// Who filed it.
    pub created_by: Option<i64>,
    /// When submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// For optimistic concurrency.
    pub version: i32,
    /// When started.
    pub created_at: DateTime<Utc>,
}

/// A person beside the applicant, numbers masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ApplicationPartyView)]
pub struct PartyView {
    /// `co_applicant`, `guarantor` or `emergency_contact`.
    pub role: String,
    /// Name.
    pub name: String,
    /// Relation to the applicant.
    pub relation: String,
    /// Masked national ID.
    pub id_number: Option<String>,
    /// Masked mobile.
    pub phone: Option<String>,
    /// Monthly income.
    #[schema(value_type = Option<String>)]
    pub monthly_income: Option<Decimal>,
}

/// A document filed.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
#[schema(as = ApplicationDocument)]
pub struct Document {
    /// `id_card`, `licence`, `bank_statement`, `vehicle_photo`, `credit_authorization`, `other`;
    /// after disbursement `registration_certificate`, `invoice` or `vehicle_insurance`.
    pub kind: String,
    /// The attachment (SHA-256, hex).
    pub sha256: String,
    /// What it is: a photo, or `application/pdf`.
    pub content_type: String,
    /// When filed.
    pub added_at: DateTime<Utc>,
}

/// An application as stored: numbers sealed.
#[derive(FromRow)]
pub struct Row {
    pub(crate) id: i64,
    pub(crate) number: String,
    pub(crate) status: String,
    pub(crate) region_id: i64,
    pub(crate) dealer_id: Option<i64>,
    dealer_name: Option<String>,
    pub(crate) lease_type: String,
    pub(crate) applicant_kind: String,
    pub(crate) applicant_name: String,
    pub(crate) id_number_sealed: Option<Vec<u8>>,
    pub(crate) phone_sealed: Option<Vec<u8>>,
    pub(crate) bank_card_sealed: Option<Vec<u8>>,
    pub(crate) address: String,
    pub(crate) employer: String,
    pub(crate) monthly_income: Option<Decimal>,
    pub(crate) vehicle_condition: String,
    pub(crate) vehicle_brand: String,
    pub(crate) vehicle_model: String,
    pub(crate) vin: Option<String>,
    pub(crate) vehicle_type: String,
    pub(crate) product_id: Option<i64>,
    pub(crate) price: Option<Decimal>,
    pub(crate) down_payment: Option<Decimal>,
    pub(crate) term: Option<i32>,
    pub(crate) quote: Option<Value>,
    findings: Value,
    pub(crate) review_instance_id: Option<i64>,
    reject_reason: Option<String>,
    score: Option<i32>,
    score_decision: Option<String>,
    pub(crate) contract_id: Option<i64>,
    disbursed_on: Option<NaiveDate>,
    documents_due: Option<NaiveDate>,
    created_by: Option<i64>,
    submitted_at: Option<DateTime<Utc>>,
    pub(crate) version: i32,
    created_at: DateTime<Utc>,
}

crate::stateful_record!(Row, "application");

impl Serialize for Row {
    /// What the audit log keeps of a row: its plain fields, never its sealed numbers.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({
            "id": self.id, "number": self.number, "status": self.status, "region_id": self.region_id,
            "dealer_id": self.dealer_id, "lease_type": self.lease_type, "applicant_kind": self.applicant_kind,
            "applicant_name": self.applicant_name, "address": self.address, "employer": self.employer,
            "monthly_income": self.monthly_income, "vehicle_condition": self.vehicle_condition,
            "vehicle_brand": self.vehicle_brand, "vehicle_model": self.vehicle_model, "vin": self.vin,
            "product_id": self.product_id, "price": self.price, "down_payment": self.down_payment,
            "term": self.term, "quote": self.quote, "findings": self.findings, "reject_reason": self.reject_reason,
            "version": self.version,
        })
        .serialize(serializer)
    }
}

impl Row {
    fn view(self, vault: &Vault) -> Application {
        Application {
            id: self.id,
            number: self.number,
            status: self.status,
            region_id: self.region_id,
            dealer_id: self.dealer_id,
            dealer_name: self.dealer_name,
            lease_type: self.lease_type,
            applicant_kind: self.applicant_kind,
            applicant_name: self.applicant_name,
            id_number: masked(vault, self.id_number_sealed, Sensitive::NationalId),
            phone: masked(vault, self.phone_sealed, Sensitive::Phone),
            bank_card: masked(vault, self.bank_card_sealed, Sensitive::BankCard),
            address: self.address,
            employer: self.employer,
            monthly_income: self.monthly_income,
            vehicle_condition: self.vehicle_condition,
            vehicle_brand: self.vehicle_brand,
            vehicle_model: self.vehicle_model,
            vin: self.vin,
            vehicle_type: self.vehicle_type,
            product_id: self.product_id,
            price: self.price,
            down_payment: self.down_payment,
            term: self.term,
            quote: self.quote,
            findings: self.findings,
            review_instance_id: self.review_instance_id,
            reject_reason: self.reject_reason,
            score: self.score,
            score_decision: self.score_decision,
            contract_id: self.contract_id,
            disbursed_on: self.disbursed_on,
            documents_due: self.documents_due,
            parties: Vec::new(),
            documents: Vec::new(),
            external_checks: Vec::new(),
            guarantee: None,
            signature: None,
            lien: None,
            created_by: self.created_by,
            submitted_at: self.submitted_at,
            version: self.version,
            created_at: self.created_at,
        }
    }
}

/// How applications are read: those of the actor's region subtree.
pub const TABLE: Table<Row> = Table::new(
    "application",
    "SELECT a.id, a.number, a.status, a.region_id, a.dealer_id, d.name AS dealer_name, a.lease_type, a.applicant_kind,
        a.applicant_name, a.id_number_sealed, a.phone_sealed, a.bank_card_sealed, a.address, a.employer,
        a.monthly_income, a.vehicle_condition, a.vehicle_brand, a.vehicle_model, a.vin, a.vehicle_type, a.product_id,
        a.price, a.down_payment, a.term, a.quote, a.findings, a.review_instance_id, a.reject_reason, a.score,
        a.score_decision, a.contract_id, a.disbursed_on, a.documents_due, a.created_by, a.submitted_at, a.version,
        a.created_at",
    "FROM applications a JOIN regions g ON g.id = a.region_id LEFT JOIN dealers d ON d.id = a.dealer_id",
    "a.id",
)
.scoped("g.path")
.dealer_scoped("a.dealer_id")
.sorted(&[("created_at", "a.created_at"), ("number", "a.number")], "created_at");

/// Filters of the application list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplicationFilter {
    /// One status (see the application's).
    pub status: Option<String>,
    /// One dealer's.
    pub dealer_id: Option<i64>,
    /// Those whose documents after disbursement were due before this day (with `status=disbursed`:
    /// the late ones).
    pub documents_due_before: Option<NaiveDate>,
}

/// The applications of the actor's region subtree.
pub async fn list(
    pool: &PgPool,
    vault: &Vault,
    actor: &Actor,
    page: &PageParams,
    filter: &ApplicationFilter,
) -> Result<Paged<Application>, Error> {
    let rows = TABLE
        .list(pool, actor, page, |f| {
            f.eq("a.status", filter.status.clone())
                .eq("a.dealer_id", filter.dealer_id)
                .before("a.documents_due", filter.documents_due_before);
        })
        .await?;
    Ok(rows.map(|r| r.view(vault)))
}

/// One application of the actor's region subtree, with its people and documents.
pub async fn get(db: &mut PgConnection, vault: &Vault, actor: &Actor, id: i64) -> Result<Application, Error> {
    let mut view = TABLE.load(db, actor, id).await?.view(vault);
    view.parties = parties(db, id)
        .await?
        .into_iter()
        .map(|p| PartyView {
            role: p.role,
            name: p.name,
            relation: p.relation,
            id_number: masked(vault, p.id_number_sealed, Sensitive::NationalId),
            phone: masked(vault, p.phone_sealed, Sensitive::Phone),
            monthly_income: p.monthly_income,
        })
        .collect();
    view.documents = sqlx::query_as(
        "SELECT d.kind, encode(d.sha256, 'hex') AS sha256, t.content_type, d.added_at
         FROM application_documents d JOIN attachments t ON t.sha256 = d.sha256
         WHERE d.application_id = $1 ORDER BY d.added_at, d.kind",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await?;
    view.external_checks = external_checks::list(db, id).await?;
    view.guarantee = records::guarantee(db, id).await?;
    view.signature = records::signature(db, id).await?;
    view.lien = records::lien(db, view.contract_id).await?;
    Ok(view)
}

/// A person beside the applicant as stored: numbers sealed.
#[derive(FromRow)]
pub(crate) struct PartyRow {
    pub(crate) role: String,
    pub(crate) name: String,
    pub(crate) relation: String,
    pub(crate) id_number_sealed: Option<Vec<u8>>,
    pub(crate) phone_sealed: Option<Vec<u8>>,
    pub(crate) monthly_income: Option<Decimal>,
}

/// The people beside the applicant of `application`, in the order given.
pub(crate) async fn parties(db: &mut PgConnection, application: i64) -> Result<Vec<PartyRow>, Error> {
    Ok(sqlx::query_as(
        "SELECT role, name, relation, id_number_sealed, phone_sealed, monthly_income
         FROM application_parties WHERE application_id = $1 ORDER BY id",
    )
    .bind(application)
    .fetch_all(db)
    .await?)
}

/// A person beside the applicant, as typed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApplicationParty)]
pub struct NewParty {
    /// `co_applicant`, `guarantor` or `emergency_contact`.
    pub role: String,
    /// Name.
    pub name: String,
    /// Relation to the applicant (配偶, 父母...).
    #[serde(default)]
    pub relation: String,
    /// National ID (a co-applicant's or guarantor's is required on submit).
    pub id_number: Option<String>,
    /// Mobile.
    pub phone: Option<String>,
    /// Monthly income.
    #[schema(value_type = Option<String>)]
    pub monthly_income: Option<Decimal>,
}

/// An application as typed: every field may still be missing in a draft.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApplicationDraft)]
pub struct Draft {
    /// The dealer that brings it (its region becomes the application's).
    pub dealer_id: Option<i64>,
    /// `direct`, `sale_leaseback` (the default), `vendor` or `operating`.
    pub lease_type: Option<String>,
    /// `individual` (the default) or `company`.
    pub applicant_kind: Option<String>,
    /// The applicant's name.
    pub applicant_name: Option<String>,
    /// National ID (individual) or unified social credit code (company); left out, the one on file stays.
    pub id_number: Option<String>,
    /// Mobile; left out, the one on file stays.
    pub phone: Option<String>,
    /// Bank card the installments are debited from; left out, the one on file stays.
    pub bank_card: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Employer.
    pub employer: Option<String>,
    /// Monthly income.
    #[schema(value_type = Option<String>)]
    pub monthly_income: Option<Decimal>,
    /// `new` (the default) or `used`.
    pub vehicle_condition: Option<String>,
    /// Brand.
    pub vehicle_brand: Option<String>,
    /// Model.
    pub vehicle_model: Option<String>,
    /// VIN.
    pub vin: Option<String>,
    /// `passenger` (the default) or `commercial`.
    pub vehicle_type: Option<String>,
    /// The product version quoted.
    pub product_id: Option<i64>,
    /// Vehicle price.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// Down payment.
    #[schema(value_type = Option<String>)]
    pub down_payment: Option<Decimal>,
    /// Months.
    pub term: Option<i32>,
    /// The people beside the applicant; left out, those on file stay; given, they replace them.
    pub parties: Option<Vec<NewParty>>,
}

/// What is wrong with the shape of a draft's values (not whether it is complete).
pub(crate) fn check_shape(draft: &Draft) -> Checks {
    let mut checks = Checks::default();
    let one_of = |value: &Option<String>, allowed: &[&str]| value.as_deref().is_none_or(|v| allowed.contains(&v));
    checks.check(
        one_of(&draft.lease_type, LEASE_TYPES),
        "lease_type",
        format!("must be one of {}", LEASE_TYPES.join(", ")),
    );
    checks.check(
        one_of(&draft.applicant_kind, &["individual", "company"]),
        "applicant_kind",
        "must be individual or company",
    );
    checks.check(one_of(&draft.vehicle_condition, &["new", "used"]), "vehicle_condition", "must be new or used");
    checks.check(
        one_of(&draft.vehicle_type, &["passenger", "commercial"]),
        "vehicle_type",
        "must be passenger or commercial",
    );
    let short = |value: &Option<String>, max: usize| value.as_deref().is_none_or(|v| v.chars().count() <= max);
    for (field, value, max) in [
        ("applicant_name", &draft.applicant_name, 100),
        ("address", &draft.address, 200),
        ("employer", &draft.employer, 200),
        ("vehicle_brand", &draft.vehicle_brand, 64),
        ("vehicle_model", &draft.vehicle_model, 64),
        ("id_number", &draft.id_number, 18),
        ("phone", &draft.phone, 24),
        ("bank_card", &draft.bank_card, 23),
        ("vin", &draft.vin, 17),
    ] {
        checks.check(short(value, max), field, format!("must be at most {max} characters"));
    }
    for (field, amount) in
        [("monthly_income", draft.monthly_income), ("price", draft.price), ("down_payment", draft.down_payment)]
    {
        checks.check(
            amount.is_none_or(|a| a >= Decimal::ZERO && a.scale() <= 2 && a < Decimal::from(1_000_000_000)),
            field,
            "must be an amount of 0 or more, in yuan and fen",
        );
    }
    checks.check(draft.term.is_none_or(|t| (1..=120).contains(&t)), "term", "must be 1 to 120 months");
    let parties = draft.parties.as_deref().unwrap_or_default();
    checks.check(parties.len() <= 10, "parties", "at most 10");
    for (i, p) in parties.iter().enumerate() {
        checks.check(
            PARTY_ROLES.contains(&p.role.as_str()),
            &format!("parties[{i}].role"),
            "must be co_applicant, guarantor or emergency_contact",
        );
        checks.text(&format!("parties[{i}].name"), &p.name, 100);
        checks.check(p.relation.chars().count() <= 32, &format!("parties[{i}].relation"), "at most 32 characters");
    }
    checks
}

/// Refuses a dealer's staff filing for another dealer than theirs.
fn own_dealer(actor: &Actor, dealer: Option<i64>) -> Result<(), Error> {
    if actor.dealer_id.is_some() && dealer != actor.dealer_id {
        return Err(Error::invalid("dealer_id", "a dealer's staff file applications for their own dealer"));
    }
    Ok(())
}

/// Starts an application as a draft, in the dealer's region (the actor's without a dealer); a
/// dealer's staff file for their own dealer. Audited.
pub async fn create(db: &mut PgConnection, vault: &Vault, actor: &Actor, draft: &Draft) -> Result<Application, Error> {
    check_shape(draft).finish()?;
    let own = Draft { dealer_id: draft.dealer_id.or(actor.dealer_id), ..draft.clone() };
    let draft = &own;
    own_dealer(actor, draft.dealer_id)?;
    let region = match draft.dealer_id {
        Some(dealer) => dealer::region_in_scope(db, actor, dealer).await?,
        None => actor.region_id,
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO applications (number, region_id, created_by)
         VALUES ('SQ' || lpad(nextval('application_numbers')::text, 8, '0'), $1, $2)
         RETURNING id",
    )
    .bind(region)
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    write(db, vault, id, draft).await?;
    let row = TABLE.load(db, actor, id).await?;
    crate::kit::audit::changed(&mut *db, actor, "create", None, &row).await?;
    get(db, vault, actor, id).await
}

/// Saves the draft `id` (read at `version`) with what was typed. Audited.
pub async fn update(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    version: i32,
    draft: &Draft,
) -> Result<Application, Error> {
    check_shape(draft).finish()?;
    if draft.dealer_id.is_some() {
        own_dealer(actor, draft.dealer_id)?;
    }
    let before = TABLE.lock_in(db, actor, id, version, EDITABLE).await?;
    if let Some(dealer) = draft.dealer_id.filter(|d| Some(*d) != before.dealer_id) {
        let region = dealer::region_in_scope(db, actor, dealer).await?;
        sqlx::query("UPDATE applications SET region_id = $2 WHERE id = $1")
            .bind(id)
            .bind(region)
            .execute(&mut *db)
            .await?;
    }
    write(db, vault, id, draft).await?;
    sqlx::query("UPDATE applications SET version = version + 1, updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *db)
        .await?;
    let after = TABLE.load(db, actor, id).await?;
    crate::kit::audit::changed(&mut *db, actor, "update", Some(&before), &after).await?;
    get(db, vault, actor, id).await
}

/// Writes what a draft gives onto the application `id`: fields left out stay.
async fn write(db: &mut PgConnection, vault: &Vault, id: i64, d: &Draft) -> Result<(), Error> {
    let seal = |v: &str| vault.seal(v).map_err(|e| Error::Internal(e.to_string()));
    let number = d.id_number.as_deref().map(|n| n.trim().to_ascii_uppercase());
    let phone = d.phone.as_deref().map(str::trim);
    let card: Option<String> = d.bank_card.as_deref().map(|c| c.chars().filter(|c| !c.is_whitespace()).collect());
    let trimmed = |v: &Option<String>| v.as_deref().map(str::trim).map(str::to_owned);
    sqlx::query(
        "UPDATE applications SET
            dealer_id = COALESCE($2, dealer_id), lease_type = COALESCE($3, lease_type),
            applicant_kind = COALESCE($4, applicant_kind), applicant_name = COALESCE($5, applicant_name),
            id_number_sealed = CASE WHEN $6 THEN $7 ELSE id_number_sealed END,
            id_number_index = CASE WHEN $6 THEN $8 ELSE id_number_index END,
            phone_sealed = CASE WHEN $9 THEN $10 ELSE phone_sealed END,
            phone_index = CASE WHEN $9 THEN $11 ELSE phone_index END,
            bank_card_sealed = CASE WHEN $12 THEN $13 ELSE bank_card_sealed END,
            address = COALESCE($14, address), employer = COALESCE($15, employer),
            monthly_income = COALESCE($16, monthly_income), vehicle_condition = COALESCE($17, vehicle_condition),
            vehicle_brand = COALESCE($18, vehicle_brand), vehicle_model = COALESCE($19, vehicle_model),
            vin = CASE WHEN $20::text IS NULL THEN vin ELSE NULLIF($20, '') END,
            vehicle_type = COALESCE($21, vehicle_type), product_id = COALESCE($22, product_id),
            price = COALESCE($23, price), down_payment = COALESCE($24, down_payment), term = COALESCE($25, term)
         WHERE id = $1",
    )
    .bind(id)
    .bind(d.dealer_id)
    .bind(&d.lease_type)
    .bind(&d.applicant_kind)
    .bind(trimmed(&d.applicant_name))
    .bind(number.is_some())
    .bind(number.as_deref().filter(|n| !n.is_empty()).map(seal).transpose()?)
    .bind(number.as_deref().filter(|n| !n.is_empty()).map(|n| vault.index(n)))
    .bind(phone.is_some())
    .bind(phone.filter(|p| !p.is_empty()).map(seal).transpose()?)
    .bind(phone.filter(|p| !p.is_empty()).map(|p| vault.index(&identity::phone_key(p))))
    .bind(card.is_some())
    .bind(card.as_deref().filter(|c| !c.is_empty()).map(seal).transpose()?)
    .bind(trimmed(&d.address))
    .bind(trimmed(&d.employer))
    .bind(d.monthly_income)
    .bind(&d.vehicle_condition)
    .bind(trimmed(&d.vehicle_brand))
    .bind(trimmed(&d.vehicle_model))
    .bind(d.vin.as_deref().map(|v| v.trim().to_ascii_uppercase()))
    .bind(&d.vehicle_type)
    .bind(d.product_id)
    .bind(d.price)
    .bind(d.down_payment)
    .bind(d.term)
    .execute(&mut *db)
    .await?;
    if let Some(parties) = &d.parties {
        sqlx::query("DELETE FROM application_parties WHERE application_id = $1").bind(id).execute(&mut *db).await?;
        for p in parties {
            let number = p.id_number.as_deref().map(|n| n.trim().to_ascii_uppercase()).filter(|n| !n.is_empty());
            let phone = p.phone.as_deref().map(str::trim).filter(|n| !n.is_empty());
            sqlx::query(
                "INSERT INTO application_parties (application_id, role, name, relation, id_number_sealed, phone_sealed,
                                                  phone_index, monthly_income)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id)
            .bind(&p.role)
            .bind(p.name.trim())
            .bind(p.relation.trim())
            .bind(number.as_deref().map(seal).transpose()?)
            .bind(phone.map(seal).transpose()?)
            .bind(phone.map(|p| vault.index(&identity::phone_key(p))))
            .bind(p.monthly_income)
            .execute(&mut *db)
            .await?;
        }
    }
    Ok(())
}

/// A document to file with an application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// `id_card`, `licence`, `bank_statement`, `vehicle_photo`, `credit_authorization`, `other`;
    /// after disbursement `registration_certificate`, `invoice` or `vehicle_insurance`.
    pub kind: String,
    /// A stored attachment (`POST /api/v1/attachments`), SHA-256 in hex.
    pub sha256: String,
}

/// Files a stored attachment with the application `id` (a draft, or sent back for documents) as a
/// document of its kind. Audited.
pub async fn add_document(
    db: &mut PgConnection,
    vault: &Vault,
    actor: &Actor,
    id: i64,
    document: &NewDocument,
) -> Result<Application, Error> {
    if !DOCUMENT_KINDS.contains(&document.kind.as_str()) {
        return Err(Error::invalid("kind", format!("must be one of {}", DOCUMENT_KINDS.join(", "))));
    }
    let row = TABLE.lock(db, actor, id).await?;
    let after_disbursement = row.status == "disbursed" && AFTER_DISBURSEMENT_KINDS.contains(&document.kind.as_str());
    if !EDITABLE.contains(&row.status.as_str()) && !after_disbursement {
        return Err(Error::invalid_state(format!(
            "the application is {}; documents are filed with a draft or one sent back for them, and after \
             disbursement those due then ({})",
            row.status,
            AFTER_DISBURSEMENT_KINDS.join(", ")
        )));
    }
    let digests = attachments::existing(db, "sha256", std::slice::from_ref(&document.sha256)).await?;
    sqlx::query(
        "INSERT INTO application_documents (application_id, kind, sha256, added_by) SELECT $1, $2, unnest($3::bytea[]), $4
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(&document.kind)
    .bind(&digests)
    .bind(actor.user_id)
    .execute(&mut *db)
    .await?;
    let entry = crate::kit::audit::Change::new("add_document", "application", id, Some(row.region_id))
        .after(serde_json::json!({"kind": document.kind, "sha256": document.sha256}));
    crate::kit::audit::record(&mut *db, actor.author(), entry).await?;
    get(db, vault, actor, id).await
}
