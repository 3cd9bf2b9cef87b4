//! The contract signed (合同签署): the generated contract is written on its template
//! (`contract_templates.rs`), its schedule attached, set as PDF in the embedded CJK font, kept as an
//! attachment, and sent to the lessee through the e-signature service (`partners/esign.rs`), which
//! answers by signed callback. Sending again after a refusal writes the document afresh.

use chrono::Utc;
use leasewatch_finance::Decimal;
use leasewatch_finance::schedule::{Terms, schedule};
use serde_json::json;
use sqlx::PgConnection;
use sqlx::types::Json as SqlJson;

use super::application::{self, Application, TABLE, Version};
use super::contract_templates;
use super::partners::Partners;
use super::partners::esign::{Envelope, Signer, SigningAnswer};
use super::records;
use super::review::{partner_answered, step};
use crate::actor::Actor;
use crate::error::Error;
use crate::kit::audit::{self, Change};
use crate::kit::pdf::{self, LetterFont};
use crate::kit::placeholders::fill;
use crate::system::attachments;
use crate::system::crypto::Vault;

/// The lease types in words, as a contract names them.
fn lease_type_words(lease_type: &str) -> &'static str {
    match lease_type {
        "direct" => "直租",
        "vendor" => "厂商租赁",
        "operating" => "经营性租赁",
        _ => "售后回租",
    }
}

/// The schedule attached to a contract: one line per period.
pub fn schedule_lines(terms: &Terms) -> Result<Vec<String>, String> {
    let quote = schedule(terms).map_err(|e| e.to_string())?;
    let mut lines = vec![
        "附件：还款计划表（日期自放款日起算，以放款后的计划为准）".to_owned(),
        "期数    应还日期      应还金额      本金      利息      费用".to_owned(),
    ];
    for row in &quote.rows {
        lines.push(format!(
            "{:>3}    {}    {:>10}    {:>10}    {:>8}    {:>6}",
            row.period, row.due_date, row.payment, row.principal, row.interest, row.fee
        ));
    }
    lines.push(format!(
        "合计    {:>10}    本金 {}    利息 {}    费用 {}",
        quote.totals.payment, quote.totals.principal, quote.totals.interest, quote.totals.fee
    ));
    Ok(lines)
}

/// Writes the contract of the contracted application `id` on its template, keeps its PDF and
/// sends it for signature. Audited.
pub async fn send(
    db: &mut PgConnection,
    vault: &Vault,
    partners: &Partners,
    font: &LetterFont,
    actor: &Actor,
    id: i64,
    body: &Version,
) -> Result<Application, Error> {
    let row = TABLE.lock_in(db, actor, id, body.version, &["contracted"]).await?;
    if let Some(sent) = records::signature(db, id).await?.filter(|s| s.status != "declined") {
        return Err(Error::invalid_state(format!("the contract is already {} for signature", sent.status)));
    }
    let esign = partners.esign.as_deref().ok_or(Error::Conflict {
        code: "no_esign",
        detail: "no e-signature service is configured (admin.esign)".into(),
    })?;
    let callback = partners.callback_url("esign").ok_or(Error::Conflict {
        code: "no_public_url",
        detail: "the e-signature service cannot answer: this server's public URL is not configured (admin.public_url)"
            .into(),
    })?;
    let (number, terms, product_code, dealer): (String, SqlJson<Terms>, String, Option<String>) = sqlx::query_as(
        "SELECT c.number, c.terms, p.code, d.name FROM contracts c JOIN products p ON p.id = c.product_id
         LEFT JOIN dealers d ON d.id = c.dealer_id WHERE c.id = $1",
    )
    .bind(row.contract_id)
    .fetch_one(&mut *db)
    .await?;
    let terms = terms.0;
    let template = contract_templates::pick(db, &row.lease_type, Some(&product_code)).await?.ok_or_else(|| {
        Error::invalid_state(format!(
            "no contract template for {} ({}) leases: add one under contract templates",
            lease_type_words(&row.lease_type),
            row.lease_type
        ))
    })?;
    let open = |sealed: &Option<Vec<u8>>| sealed.as_ref().and_then(|s| vault.open(s).ok()).unwrap_or_default();
    let quote = schedule(&terms).map_err(|e| Error::Internal(format!("stored terms: {e}")))?;
    let installment = quote.rows.iter().find(|r| r.period == 1).map_or(Decimal::ZERO, |r| r.payment);
    let figures = [
        ("contract_number", number.clone()),
        ("lessee_name", row.applicant_name.clone()),
        ("id_number", open(&row.id_number_sealed)),
        ("address", row.address.clone()),
        ("dealer", dealer.unwrap_or_default()),
        ("lease_type", lease_type_words(&row.lease_type).to_owned()),
        ("vehicle", format!("{} {}", row.vehicle_brand, row.vehicle_model)),
        ("vin", row.vin.clone().unwrap_or_default()),
        ("price", row.price.unwrap_or_default().to_string()),
        ("down_payment", row.down_payment.unwrap_or_default().to_string()),
        ("principal", terms.principal.to_string()),
        ("term", terms.term.to_string()),
        ("annual_rate", format!("{}%", (terms.annual_rate * Decimal::from(100)).normalize())),
        ("installment", installment.to_string()),
        ("residual", terms.residual.to_string()),
        ("date", Utc::now().date_naive().to_string()),
    ];
    let mut text = fill(&template.body, &figures);
    text.push_str("\n\n");
    text.push_str(&schedule_lines(&terms).map_err(Error::Internal)?.join("\n"));
    let font = font.font().map_err(Error::Unavailable)?;
    let bytes = pdf::render(&font, &template.title, &text).map_err(Error::Internal)?;
    let stored = attachments::store(&mut *db, actor, &bytes, Some("application/pdf")).await?;
    let envelope = Envelope {
        reference: format!("{number}-{}", Utc::now().timestamp_millis()),
        title: format!("{} {number}", template.title),
        pdf: bytes,
        signers: vec![Signer { name: row.applicant_name.clone(), phone: open(&row.phone_sealed) }],
    };
    let digest = hex::decode(&stored.sha256).map_err(|e| Error::Internal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO contract_signatures (application_id, template_id, document, envelope, status)
         VALUES ($1, $2, $3, $4, 'sent')
         ON CONFLICT (application_id) DO UPDATE SET template_id = EXCLUDED.template_id, document = EXCLUDED.document,
             envelope = EXCLUDED.envelope, status = 'sent', sent_at = now(), signed_at = NULL",
    )
    .bind(id)
    .bind(template.id)
    .bind(&digest)
    .bind(&envelope.reference)
    .execute(&mut *db)
    .await?;
    esign.send(&envelope, &callback).await.map_err(Error::Unavailable)?;
    step(db, id, "contract_sent", Some(actor.user_id), Some(&envelope.reference)).await?;
    let entry = Change::new("send_for_signature", "application", id, Some(row.region_id)).after(json!({
        "envelope": envelope.reference, "template_id": template.id, "document": stored.sha256,
    }));
    audit::record(&mut *db, actor.author(), entry).await?;
    application::get(db, vault, actor, id).await
}

/// Takes the e-signature service's `answer` to the envelope in flight; one heard before changes
/// nothing. Audited as the service's.
pub async fn answered(db: &mut PgConnection, answer: &SigningAnswer) -> Result<(), Error> {
    let found: Option<(i64, String, i64)> = sqlx::query_as(
        "SELECT s.application_id, s.status, a.region_id FROM contract_signatures s
         JOIN applications a ON a.id = s.application_id WHERE s.envelope = $1 FOR UPDATE OF s",
    )
    .bind(&answer.reference)
    .fetch_optional(&mut *db)
    .await?;
    let Some((id, status, region)) = found else { return Err(Error::NotFound("signature envelope")) };
    if status != "sent" {
        return Ok(());
    }
    let next = if answer.signed { "signed" } else { "declined" };
    sqlx::query("UPDATE contract_signatures SET status = $2, signed_at = $3 WHERE application_id = $1")
        .bind(id)
        .bind(next)
        .bind(answer.signed.then(|| answer.signed_at.unwrap_or_else(Utc::now)))
        .execute(&mut *db)
        .await?;
    let entry = Change::new("signature_answer", "application", id, Some(region))
        .before(json!({"status": status}))
        .after(json!({"status": next, "answer": answer}));
    partner_answered(db, id, "esign", &format!("contract_{next}"), answer.reason.as_deref(), entry).await
}
