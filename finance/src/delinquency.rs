//! Delinquency (逾期): days past due from the oldest unpaid item, the bucket (M0, M1 1–30, M2 31–60,
//! M3 61–90, M4+), and the daily penalty (罚息) on the overdue amount.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Rounding;

/// Bucket boundaries: bucket `Mk` holds days past due up to `upper[k-1]`; beyond the last is the
/// final bucket. The default is 30, 60, 90: M1 1–30, M2 31–60, M3 61–90, M4 91+.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buckets {
    /// Upper bounds in days, increasing.
    pub upper: Vec<u32>,
}

impl Default for Buckets {
    fn default() -> Self {
        Self { upper: vec![30, 60, 90] }
    }
}

impl Buckets {
    /// The bucket number for `dpd` days past due: 0 when current.
    pub fn bucket(&self, dpd: u32) -> u32 {
        if dpd == 0 {
            return 0;
        }
        let k = self.upper.iter().take_while(|&&u| dpd > u).count();
        u32::try_from(k).unwrap_or(u32::MAX).saturating_add(1)
    }

    /// The bucket's name: `M0`... and `M4+` for the last, open-ended one.
    pub fn name(&self, bucket: u32) -> String {
        if bucket as usize > self.upper.len() { format!("M{bucket}+") } else { format!("M{bucket}") }
    }
}

/// Days past due on `today`: from the due date of the oldest item still open (`None` when nothing
/// due is open).
pub fn days_past_due(oldest_open_due: Option<NaiveDate>, today: NaiveDate) -> u32 {
    oldest_open_due.map_or(0, |due| u32::try_from((today - due).num_days()).unwrap_or(0))
}

/// What the overdue penalty is charged on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyBase {
    /// Overdue principal and interest (penalty is never charged on penalty).
    #[default]
    PrincipalAndInterest,
    /// Overdue principal only.
    Principal,
}

/// The product's penalty rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PenaltyRule {
    /// Per day, as a fraction of the base (0.0005 for 0.05 % a day).
    pub daily_rate: Decimal,
    /// Days after the due date without penalty; once exceeded, penalty runs from the due date.
    pub grace_days: u32,
    /// The base.
    pub base: PenaltyBase,
    /// Rounding of each day's penalty.
    pub rounding: Rounding,
}

impl Default for PenaltyRule {
    fn default() -> Self {
        Self { daily_rate: Decimal::new(5, 4), grace_days: 3, base: PenaltyBase::default(), rounding: Rounding::HalfUp }
    }
}

impl PenaltyRule {
    /// The penalty for one day on which `overdue_principal` and `overdue_interest` are overdue and
    /// the oldest is `dpd` days past due. Within the grace period it is zero; on the day grace is
    /// exceeded, the grace days are charged too (the penalty runs from the due date).
    pub fn for_day(&self, overdue_principal: Decimal, overdue_interest: Decimal, dpd: u32) -> Decimal {
        if dpd == 0 || dpd <= self.grace_days {
            return Decimal::ZERO;
        }
        let base = match self.base {
            PenaltyBase::PrincipalAndInterest => overdue_principal + overdue_interest,
            PenaltyBase::Principal => overdue_principal,
        };
        let days = if dpd == self.grace_days + 1 { self.grace_days + 1 } else { 1 };
        self.rounding.cents(base.max(Decimal::ZERO) * self.daily_rate * Decimal::from(days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn default_buckets() {
        let b = Buckets::default();
        let got: Vec<_> = [0, 1, 30, 31, 60, 61, 90, 91, 400].iter().map(|&d| b.name(b.bucket(d))).collect();
        assert_eq!(got, ["M0", "M1", "M1", "M2", "M2", "M3", "M3", "M4+", "M4+"]);
    }

    #[test]
    fn days_past_due_count_from_the_oldest_open_due_date() {
        let d = |day| NaiveDate::from_ymd_opt(2024, 3, day).unwrap();
        assert_eq!(days_past_due(Some(d(1)), d(11)), 10);
        assert_eq!(days_past_due(Some(d(11)), d(1)), 0);
        assert_eq!(days_past_due(None, d(1)), 0);
    }

    #[test]
    fn penalty_waits_out_the_grace_then_runs_from_the_due_date() {
        let rule = PenaltyRule::default();
        assert_eq!(rule.for_day(dec!(1000), dec!(100), 3), dec!(0));
        assert_eq!(rule.for_day(dec!(1000), dec!(100), 4), dec!(2.20));
        assert_eq!(rule.for_day(dec!(1000), dec!(100), 5), dec!(0.55));
        let principal_only = PenaltyRule { base: PenaltyBase::Principal, grace_days: 0, ..rule };
        assert_eq!(principal_only.for_day(dec!(1000), dec!(100), 2), dec!(0.50));
    }
}
