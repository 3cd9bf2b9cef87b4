//! The contract risk score: payment behaviour (days past due, partial payments, broken promises)
//! and telematics (device-integrity alarms, risk-location visits, breaks in routine, silences)
//! combined into 0–100 with the reasons that drove it. Points are additive and capped per
//! reason, so a collector can see why a contract sits where it does in the queue.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

/// What the score is computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// Days past due.
    pub dpd: i32,
    /// Delinquency bucket.
    pub bucket: i32,
    /// Past-due items paid only in part.
    pub partial_payments: i64,
    /// Promises to pay whose date passed with the contract still overdue.
    pub broken_promises: i64,
    /// Power cut, tamper, jamming, silent wired unit, trackers apart, all trackers silent (90 days).
    pub integrity_alerts: i64,
    /// Risk-location entries and dwells (90 days).
    pub risk_location_alerts: i64,
    /// Away from resident places, out of the province, reappearing far away (90 days).
    pub routine_breaks: i64,
    /// A tracker silent beyond its threshold (90 days).
    pub silences: i64,
}

/// One reason and the points it added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// Stable code.
    pub code: &'static str,
    /// Points added.
    pub points: i32,
    /// For people.
    pub detail: String,
}

/// A score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// 0 (no concern) to 100.
    pub score: i32,
    /// `low` (< 30), `medium` (< 60) or `high`.
    pub band: &'static str,
    /// The reasons, most points first.
    pub reasons: Vec<Reason>,
}

/// Points each reason adds per occurrence (days past due: per 5 days): the settings
/// `risk.points.{reason code}`, changed through the settings store (validated, versioned and
/// audited), these values until someone does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    /// Per 5 days past due (counted up to 90 days).
    pub days_past_due: i32,
    /// In the repossession bucket (M2 and later).
    pub repossession_bucket: i32,
    /// Per installment paid in part (up to 3).
    pub partial_payments: i32,
    /// Per broken promise to pay (up to 2).
    pub broken_promises: i32,
    /// Per tracker integrity alert (up to 2).
    pub device_integrity: i32,
    /// Per risk-location alert (up to 2).
    pub risk_locations: i32,
    /// Per break in routine (up to 2).
    pub routine_breaks: i32,
    /// Per tracker silence (up to 2).
    pub silences: i32,
}

impl Weights {
    /// The weights the score was built with.
    pub const DEFAULT: Weights = Weights {
        days_past_due: 2,
        repossession_bucket: 10,
        partial_payments: 4,
        broken_promises: 8,
        device_integrity: 10,
        risk_locations: 8,
        routine_breaks: 6,
        silences: 3,
    };

    /// The largest weight a setting may give.
    pub const MAX: i32 = 50;

    /// The weight of a reason code, to set.
    fn slot(&mut self, code: &str) -> Option<&mut i32> {
        Some(match code {
            "days_past_due" => &mut self.days_past_due,
            "repossession_bucket" => &mut self.repossession_bucket,
            "partial_payments" => &mut self.partial_payments,
            "broken_promises" => &mut self.broken_promises,
            "device_integrity" => &mut self.device_integrity,
            "risk_locations" => &mut self.risk_locations,
            "routine_breaks" => &mut self.routine_breaks,
            "silences" => &mut self.silences,
            _ => return None,
        })
    }

    /// The weights in force: the defaults with the stored settings over them (a value out of
    /// bounds is ignored, as the settings store would refuse it).
    pub async fn load(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let stored: Vec<(String, serde_json::Value)> =
            sqlx::query_as("SELECT key, value FROM settings WHERE key LIKE 'risk.points.%'").fetch_all(pool).await?;
        let mut weights = Self::DEFAULT;
        for (key, value) in stored {
            let points = value.as_i64().and_then(|v| i32::try_from(v).ok()).filter(|v| (0..=Self::MAX).contains(v));
            if let (Some(slot), Some(points)) = (weights.slot(key.trim_start_matches("risk.points.")), points) {
                *slot = points;
            }
        }
        Ok(weights)
    }
}

/// `each` points per occurrence, counting at most `most` occurrences.
fn capped(count: i64, each: i32, most: i32) -> i32 {
    i32::try_from(count.clamp(0, i64::from(most))).unwrap_or(0).saturating_mul(each)
}

/// Scores `f` with weights `w`.
pub fn score(f: &Features, w: &Weights) -> Score {
    let mut reasons = Vec::new();
    let mut add = |code, points: i32, detail: String| {
        if points > 0 {
            reasons.push(Reason { code, points, detail });
        }
    };
    add("days_past_due", (f.dpd.clamp(0, 90) * w.days_past_due) / 5, format!("{} days past due", f.dpd));
    add(
        "repossession_bucket",
        if f.bucket >= 2 { w.repossession_bucket } else { 0 },
        format!("in bucket M{}", f.bucket),
    );
    add(
        "partial_payments",
        capped(f.partial_payments, w.partial_payments, 3),
        format!("{} installments paid in part", f.partial_payments),
    );
    add(
        "broken_promises",
        capped(f.broken_promises, w.broken_promises, 2),
        format!("{} promises to pay broken", f.broken_promises),
    );
    add(
        "device_integrity",
        capped(f.integrity_alerts, w.device_integrity, 2),
        format!("{} tracker integrity alerts", f.integrity_alerts),
    );
    add(
        "risk_locations",
        capped(f.risk_location_alerts, w.risk_locations, 2),
        format!("{} risk-location alerts", f.risk_location_alerts),
    );
    add(
        "routine_breaks",
        capped(f.routine_breaks, w.routine_breaks, 2),
        format!("{} breaks in routine", f.routine_breaks),
    );
    add("silences", capped(f.silences, w.silences, 2), format!("{} tracker silences", f.silences));
    reasons.sort_by(|a, b| b.points.cmp(&a.points).then(a.code.cmp(b.code)));
    let score = reasons.iter().map(|r| r.points).sum::<i32>().min(100);
    let band = match score {
        ..30 => "low",
        30..60 => "medium",
        _ => "high",
    };
    Score { score, band, reasons }
}

type Row = (i64, i32, i32, i64, i64, i64, i64, i64, i64);

/// Scores the active contracts that have no score yet (imported or activated since the day's
/// rescoring), so that every active contract stands in the queues ordered by score; returns how many.
pub async fn score_unscored(pool: &PgPool, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    let unscored: Vec<i64> = sqlx::query_scalar(
        "SELECT c.id FROM contracts c
         WHERE c.status = 'active' AND NOT EXISTS (SELECT 1 FROM contract_risk r WHERE r.contract_id = c.id)",
    )
    .fetch_all(pool)
    .await?;
    if unscored.is_empty() {
        return Ok(0);
    }
    recompute(pool, Some(&unscored), now).await
}

/// Recomputes the scores of `contracts` (every active contract when `None`); returns how many.
pub async fn recompute(pool: &PgPool, contracts: Option<&[i64]>, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.id, c.dpd, c.bucket,
                (SELECT count(*) FROM receivables r WHERE r.contract_id = c.id AND r.paid > 0 AND r.paid < r.amount
                   AND r.due_date <= COALESCE(c.as_of, CURRENT_DATE)),
                CASE WHEN c.dpd > 0 THEN (SELECT count(*) FROM contract_events e WHERE e.contract_id = c.id
                   AND e.kind = 'promise_to_pay' AND (e.detail->>'until')::date < COALESCE(c.as_of, CURRENT_DATE)) ELSE 0 END,
                count(*) FILTER (WHERE a.rule IN ('power_cut', 'tamper', 'jamming', 'wired_silent', 'devices_apart', 'all_devices_offline')),
                count(*) FILTER (WHERE a.rule IN ('risk_location_entry', 'risk_location_dwell')),
                count(*) FILTER (WHERE a.rule IN ('resident_away', 'left_province', 'jump')),
                count(*) FILTER (WHERE a.rule = 'offline')
         FROM contracts c
         LEFT JOIN alerts a ON a.vehicle_id = c.vehicle_id AND a.first_at > $2 - interval '90 days'
         WHERE c.status = 'active' AND ($1::bigint[] IS NULL OR c.id = ANY($1))
         GROUP BY c.id",
    )
    .bind(contracts)
    .bind(now)
    .fetch_all(pool)
    .await?;
    let weights = Weights::load(pool).await?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut scores = Vec::with_capacity(rows.len());
    let mut bands = Vec::with_capacity(rows.len());
    let mut reasons = Vec::with_capacity(rows.len());
    for (id, dpd, bucket, partial, broken, integrity, risk, routine, silences) in rows {
        let f = Features {
            dpd,
            bucket,
            partial_payments: partial,
            broken_promises: broken,
            integrity_alerts: integrity,
            risk_location_alerts: risk,
            routine_breaks: routine,
            silences,
        };
        let s = score(&f, &weights);
        ids.push(id);
        scores.push(s.score);
        bands.push(s.band);
        reasons.push(serde_json::to_value(&s.reasons).unwrap_or_default());
    }
    sqlx::query(
        "INSERT INTO contract_risk (contract_id, score, band, reasons, computed_at)
         SELECT *, $5 FROM unnest($1::bigint[], $2::int[], $3::text[], $4::jsonb[])
         ON CONFLICT (contract_id) DO UPDATE SET score = EXCLUDED.score, band = EXCLUDED.band,
             reasons = EXCLUDED.reasons, computed_at = EXCLUDED.computed_at",
    )
    .bind(&ids)
    .bind(&scores)
    .bind(&bands)
    .bind(&reasons)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_current_quiet_contract_scores_nothing() {
        let s = score(&Features::default(), &Weights::DEFAULT);
        assert_eq!((s.score, s.band), (0, "low"));
        assert!(s.reasons.is_empty());
    }

    #[test]
    fn reasons_add_up_capped_and_sorted_by_weight() {
        let f = Features {
            dpd: 75,
            bucket: 3,
            partial_payments: 1,
            broken_promises: 5,
            integrity_alerts: 1,
            risk_location_alerts: 0,
            routine_breaks: 0,
            silences: 0,
        };
        let s = score(&f, &Weights::DEFAULT);
        let codes: Vec<(&str, i32)> = s.reasons.iter().map(|r| (r.code, r.points)).collect();
        assert_eq!(
            codes,
            [
                ("days_past_due", 30),
                ("broken_promises", 16),
                ("device_integrity", 10),
                ("repossession_bucket", 10),
                ("partial_payments", 4)
            ]
        );
        assert_eq!((s.score, s.band), (70, "high"));
    }

    #[test]
    fn the_score_never_exceeds_a_hundred() {
        let f = Features {
            dpd: 400,
            bucket: 6,
            partial_payments: 50,
            broken_promises: 50,
            integrity_alerts: 50,
            risk_location_alerts: 50,
            routine_breaks: 50,
            silences: 50,
        };
        assert_eq!(score(&f, &Weights::DEFAULT).score, 100);
    }

    #[test]
    fn the_weights_in_force_make_the_score() {
        let f = Features { dpd: 30, partial_payments: 5, silences: 1, ..Features::default() };
        let w = Weights { days_past_due: 5, partial_payments: 1, silences: 0, ..Weights::DEFAULT };
        let codes: Vec<(&str, i32)> = score(&f, &w).reasons.iter().map(|r| (r.code, r.points)).collect();
        assert_eq!(codes, [("days_past_due", 30), ("partial_payments", 3)]);
    }
}
