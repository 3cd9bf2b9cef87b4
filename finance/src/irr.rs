//! The internal rate of return of monthly cash flows: the rate at which their present value is
//! zero, found by bisection in exact decimals, reported as a nominal and an effective annual rate.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An amount at a month from the start (positive: the customer receives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Months from the start.
    pub month: u32,
    /// The amount.
    pub amount: Decimal,
}

/// Annual rates in percent, to four decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Irr {
    /// Monthly IRR × 12 (the APR).
    pub nominal_annual: Decimal,
    /// (1 + monthly IRR)^12 − 1.
    pub effective_annual: Decimal,
}

/// Present value of `flows` at the monthly rate `r`.
fn npv(flows: &[Flow], r: Decimal) -> Option<Decimal> {
    let d = Decimal::ONE.checked_div(Decimal::ONE + r)?;
    let last = flows.iter().map(|f| f.month).max().unwrap_or(0);
    let mut factors = Vec::with_capacity(last as usize + 1);
    let mut f = Decimal::ONE;
    for _ in 0..=last {
        factors.push(f);
        f = f.checked_mul(d)?;
    }
    flows
        .iter()
        .try_fold(Decimal::ZERO, |sum, flow| sum.checked_add(flow.amount.checked_mul(factors[flow.month as usize])?))
}

/// The monthly IRR of `flows`, if one exists in (−5 %, +100 %) a month.
pub fn monthly(flows: &[Flow]) -> Option<Decimal> {
    // −5 % to +100 % a month: any real lease lies within, and the powers stay in range.
    let (mut lo, mut hi) = (Decimal::new(-5, 2), Decimal::ONE);
    let (f_lo, f_hi) = (npv(flows, lo)?, npv(flows, hi)?);
    if f_lo.is_zero() {
        return Some(lo);
    }
    if f_lo.is_sign_positive() == f_hi.is_sign_positive() {
        return None;
    }
    let tolerance = Decimal::new(1, 14);
    while hi - lo > tolerance {
        let mid = (lo + hi) / Decimal::TWO;
        let f_mid = npv(flows, mid)?;
        if f_mid.is_zero() {
            return Some(mid);
        }
        if f_mid.is_sign_positive() == f_lo.is_sign_positive() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some((lo + hi) / Decimal::TWO)
}

/// The annual rates of `flows`' IRR.
pub fn annual(flows: &[Flow]) -> Option<Irr> {
    let r = monthly(flows)?;
    let effective = (0..12).try_fold(Decimal::ONE, |acc, _| acc.checked_mul(Decimal::ONE + r))? - Decimal::ONE;
    let percent = |x: Decimal| (x * Decimal::ONE_HUNDRED).round_dp(4);
    Some(Irr { nominal_annual: percent(r * Decimal::from(12)), effective_annual: percent(effective) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn rate_of_a_200_a_month_loan_of_8000_over_4_years() {
        // Microsoft's RATE documentation: RATE(48, -200, 8000) = 0.77 % a month, 9.24 % a year.
        let mut flows = vec![Flow { month: 0, amount: dec!(8000) }];
        flows.extend((1..=48).map(|m| Flow { month: m, amount: dec!(-200) }));
        let irr = annual(&flows).unwrap();
        assert_eq!(irr.nominal_annual.round_dp(2), dec!(9.24));
        assert_eq!((monthly(&flows).unwrap() * dec!(100)).round_dp(2), dec!(0.77));
    }

    #[test]
    fn flows_of_one_sign_have_no_irr() {
        assert_eq!(annual(&[Flow { month: 0, amount: dec!(1) }, Flow { month: 1, amount: dec!(1) }]), None);
    }
}
