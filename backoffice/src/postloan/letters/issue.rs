//! Generating default-notice letters: for an overdue contract of the actor's region, the template of
//! its stage filled with the customer's name, the contract, the arrears and the deadline, rendered to
//! PDF; each letter kept (template version, figures, hash) and audited. Many at once come as a zip.

use std::io::Write;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::template;
use crate::actor::Actor;
use crate::books::contract;
use crate::error::Error;
use crate::kit::amount::cents;
use crate::kit::audit::{self, Change};
use crate::kit::pdf::{self, LetterFont};
use crate::kit::placeholders::fill;

/// The most letters one batch makes.
pub const BATCH_LIMIT: usize = 500;

/// A letter generated.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Letter {
    /// Id.
    pub id: i64,
    /// The contract.
    pub contract_id: i64,
    /// The template version used.
    pub template_id: i64,
    /// The arrears it states.
    #[serde(serialize_with = "cents")]
    pub arrears: Decimal,
    /// The deadline it gives.
    pub deadline: NaiveDate,
    /// Who generated it.
    pub generated_by: Option<i64>,
    /// When.
    pub generated_at: DateTime<Utc>,
}

/// A generated letter with its file.
pub struct Issued {
    /// The record.
    pub letter: Letter,
    /// Its file name.
    pub file_name: String,
    /// The PDF.
    pub pdf: Vec<u8>,
}

/// A date as a Chinese letter writes it.
fn chinese_date(day: NaiveDate) -> String {
    day.format("%Y年%m月%d日").to_string()
}

/// An amount with thousands separators and fen.
fn yuan(amount: Decimal) -> String {
    let mut amount = amount.round_dp(2);
    amount.rescale(2);
    let text = amount.abs().to_string();
    let (whole, fen) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{fen}", if amount.is_sign_negative() { "-" } else { "" })
}

/// Generates the letter of the overdue contract `id` on `today`. Audited.
pub async fn generate(
    db: &mut PgConnection,
    actor: &Actor,
    font: &LetterFont,
    id: i64,
    today: NaiveDate,
) -> Result<Issued, Error> {
    let c = contract::TABLE.load(db, actor, id).await?;
    if c.status != "active" || c.dpd <= 0 {
        return Err(Error::invalid_state(format!(
            "{} is not overdue: a default notice is for an overdue contract",
            c.number
        )));
    }
    let Some(template) = template::for_bucket(db, c.bucket).await? else {
        return Err(Error::invalid_state(format!("no letter template for M{} or below: add one first", c.bucket)));
    };
    let (name, plate): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT cu.name, v.plate FROM contracts c LEFT JOIN customers cu ON cu.id = c.customer_id
         LEFT JOIN vehicles v ON v.id = c.vehicle_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *db)
    .await?;
    let arrears = c.overdue_amount + c.penalty_open;
    let deadline = today + Duration::days(i64::from(template.deadline_days));
    let figures = [
        ("customer_name", name.unwrap_or_default()),
        ("contract_number", c.number.clone()),
        ("plate", plate.unwrap_or_default()),
        ("arrears", yuan(arrears)),
        ("dpd", c.dpd.to_string()),
        ("deadline", chinese_date(deadline)),
        ("date", chinese_date(today)),
    ];
    let font = font.font().map_err(Error::Unavailable)?;
    let pdf = pdf::render(&font, &template.title, &fill(&template.body, &figures)).map_err(Error::Internal)?;
    let letter: Letter = sqlx::query_as(
        "INSERT INTO letters (contract_id, template_id, arrears, deadline, sha256, generated_by) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, contract_id, template_id, arrears, deadline, generated_by, generated_at",
    )
    .bind(id)
    .bind(template.id)
    .bind(arrears)
    .bind(deadline)
    .bind(Sha256::digest(&pdf).to_vec())
    .bind(actor.user_id)
    .fetch_one(&mut *db)
    .await?;
    let entry = Change::new("letter", "contract", id, Some(c.region_id))
        .after(json!({"letter": letter, "stage": template.stage, "version": template.version}));
    audit::record(&mut *db, actor.author(), entry).await?;
    Ok(Issued { letter, file_name: format!("{}-违约通知函-{}.pdf", c.number, today.format("%Y%m%d")), pdf })
}

/// The letters of `ids` as one zip; every contract must be one the actor may write to.
pub async fn batch(
    db: &mut PgConnection,
    actor: &Actor,
    font: &LetterFont,
    ids: &[i64],
    today: NaiveDate,
) -> Result<Vec<u8>, Error> {
    if ids.is_empty() || ids.len() > BATCH_LIMIT {
        return Err(Error::invalid("contract_ids", format!("name 1 to {BATCH_LIMIT} contracts")));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for id in ids {
        let issued = generate(db, actor, font, *id, today).await?;
        zip.start_file(issued.file_name, options).map_err(|e| Error::Internal(e.to_string()))?;
        zip.write_all(&issued.pdf).map_err(|e| Error::Internal(e.to_string()))?;
    }
    Ok(zip.finish().map_err(|e| Error::Internal(e.to_string()))?.into_inner())
}

/// The letters generated for the contract `id`, newest first.
pub async fn of_contract(db: &mut PgConnection, actor: &Actor, id: i64) -> Result<Vec<Letter>, Error> {
    contract::TABLE.load(db, actor, id).await?;
    Ok(sqlx::query_as(
        "SELECT id, contract_id, template_id, arrears, deadline, generated_by, generated_at FROM letters
         WHERE contract_id = $1 ORDER BY id DESC",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn amounts_and_dates_read_as_a_letter_writes_them() {
        assert_eq!(yuan(dec!(1234567.8)), "1,234,567.80");
        assert_eq!(yuan(dec!(12)), "12.00");
        assert_eq!(yuan(dec!(999.999)), "1,000.00");
        assert_eq!(chinese_date(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default()), "2026年12月04日");
    }
}
