//! The reminders job: for each active stage, the installments it is due for (D-3 before the due
//! date, D+1 after it while unpaid...), one message per installment and stage, however often the job
//! runs; not to customers who opted out, and only within the contact rules (a message the rules
//! hold back goes at the next run inside the stage's three-day window). Then the delivery receipts.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use leasewatch_finance::Decimal;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::channel::{MessageChannel, Receipt};
use super::stages;
use crate::error::Error;
use crate::kit::placeholders::fill;
use crate::postloan::contacts;
use crate::system::crypto::Vault;

/// Days after a stage's day its message may still go, when the rules held it back.
const WINDOW_DAYS: i64 = 2;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Ran {
    /// Messages handed to the channel.
    pub sent: usize,
    /// Messages the channel refused.
    pub failed: usize,
    /// Customers who opted out, not written to.
    pub opted_out: usize,
    /// Held back by the contact rules (hours, the day's cap), with the last reason.
    pub held: usize,
    /// Why the last one was held.
    pub held_because: Option<String>,
    /// Delivery receipts recorded.
    pub receipts: usize,
}

/// An installment a stage is due for: contract, period, due date, amount open, customer's name,
/// sealed phone, opted out, contract number.
type Due = (i64, i32, NaiveDate, Decimal, Option<String>, Option<Vec<u8>>, Option<bool>, String);

/// Runs every active stage for the company's day of `now`, then collects the delivery receipts.
pub async fn run(
    pool: &PgPool,
    vault: &Vault,
    channel: &dyn MessageChannel,
    now: DateTime<Utc>,
    utc_offset_hours: i32,
) -> Result<Ran, Error> {
    let today = (now + Duration::hours(i64::from(utc_offset_hours))).date_naive();
    let mut ran = Ran::default();
    let stages = stages::list(&mut *pool.acquire().await?).await?;
    for stage in stages.iter().filter(|s| s.active) {
        let day = today - Duration::days(i64::from(stage.offset_days));
        let due: Vec<Due> = sqlx::query_as(
            "SELECT c.id, r.period, min(r.due_date), sum(r.amount - r.paid), cu.name, cu.phone_sealed, cu.sms_opt_out, c.number
             FROM receivables r JOIN contracts c ON c.id = r.contract_id LEFT JOIN customers cu ON cu.id = c.customer_id
             WHERE c.status = 'active' AND r.component <> 'penalty' AND r.charge IS NULL AND r.period < 10000
               AND r.due_date BETWEEN $1 AND $2
               AND NOT EXISTS (SELECT 1 FROM sms_messages m WHERE m.contract_id = c.id AND m.period = r.period AND m.offset_days = $3)
             GROUP BY c.id, r.period, cu.name, cu.phone_sealed, cu.sms_opt_out, c.number
             HAVING sum(r.amount - r.paid) > 0
             ORDER BY c.id, r.period",
        )
        .bind(day - Duration::days(WINDOW_DAYS))
        .bind(day)
        .bind(stage.offset_days)
        .fetch_all(pool)
        .await?;
        for (contract, period, due_date, amount, name, phone, opted_out, number) in due {
            if opted_out.unwrap_or(false) {
                ran.opted_out += 1;
                continue;
            }
            let Some(phone) = phone.and_then(|sealed| vault.open(&sealed).ok()) else { continue };
            let mut tx = pool.begin().await?;
            if let Some(why) = contacts::refusal(&mut tx, contract, "customer", now, utc_offset_hours).await? {
                ran.held += 1;
                ran.held_because = Some(why);
                continue;
            }
            let text = fill(
                &stage.template,
                &[
                    ("customer_name", name.unwrap_or_default()),
                    ("contract_number", number),
                    ("amount", amount.round_dp(2).to_string()),
                    ("due_date", due_date.format("%Y-%m-%d").to_string()),
                ],
            );
            // The row is the once-only guard: a second run (or process) finds it and sends nothing.
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO sms_messages (contract_id, period, offset_days, text) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (contract_id, period, offset_days) DO NOTHING RETURNING id",
            )
            .bind(contract)
            .bind(period)
            .bind(stage.offset_days)
            .bind(&text)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else { continue };
            contacts::record_sent(&mut tx, contract, &text, now).await?;
            tx.commit().await?;
            match channel.send(&phone, &text).await {
                Ok(provider_id) => {
                    sqlx::query(
                        "UPDATE sms_messages SET status = 'sent', provider_id = $2, sent_at = now() WHERE id = $1",
                    )
                    .bind(id)
                    .bind(provider_id)
                    .execute(pool)
                    .await?;
                    ran.sent += 1;
                }
                Err(error) => {
                    sqlx::query("UPDATE sms_messages SET status = 'failed', error = $2 WHERE id = $1")
                        .bind(id)
                        .bind(error)
                        .execute(pool)
                        .await?;
                    ran.failed += 1;
                }
            }
        }
    }
    for (provider_id, receipt) in channel.receipts().await.map_err(Error::Unavailable)? {
        let (status, error) = match receipt {
            Receipt::Delivered => ("delivered", None),
            Receipt::Failed(why) => ("failed", Some(why)),
        };
        sqlx::query(
            "UPDATE sms_messages SET status = $2, error = $3, delivered_at = CASE WHEN $2 = 'delivered' THEN now() END
             WHERE provider_id = $1",
        )
        .bind(provider_id)
        .bind(status)
        .bind(error)
        .execute(pool)
        .await?;
        ran.receipts += 1;
    }
    Ok(ran)
}
