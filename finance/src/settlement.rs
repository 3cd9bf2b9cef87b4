//! Early settlement (提前结清): what closes a contract on a given date — the principal not yet due,
//! interest accrued in the current period pro rata by actual days, what is overdue, the penalty,
//! the product's early-termination fee, less the deposit held.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::dates::days_between;
use crate::money::Rounding;
use crate::schedule::Row;

/// The product's early-termination fee: a rate on the principal settled early, with a minimum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeRule {
    /// Fraction of the remaining principal (0.02 for 2 %).
    pub rate: Decimal,
    /// Smallest fee.
    pub minimum: Decimal,
}

/// What the quote is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position<'a> {
    /// The contract's schedule.
    pub rows: &'a [Row],
    /// Its start date.
    pub start: NaiveDate,
    /// Due amounts still open (principal, interest and fees of past due dates).
    pub overdue: Decimal,
    /// Penalty accrued and still open.
    pub penalty: Decimal,
    /// Deposit held.
    pub deposit: Decimal,
}

/// An early settlement quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SettlementQuote))]
pub struct Quote {
    /// The settlement date.
    pub date: NaiveDate,
    /// Principal of every installment not yet due (residual included).
    pub remaining_principal: Decimal,
    /// Interest of the current period accrued to the date.
    pub accrued_interest: Decimal,
    /// Due amounts still open.
    pub overdue: Decimal,
    /// Penalty still open.
    pub penalty: Decimal,
    /// Early-termination fee.
    pub fee: Decimal,
    /// Deposit offset against the total.
    pub deposit_offset: Decimal,
    /// What the customer pays to close the contract.
    pub total: Decimal,
    /// Deposit returned when it exceeds what is owed.
    pub refund: Decimal,
}

/// The quote for settling on `date`.
pub fn quote(position: &Position<'_>, date: NaiveDate, fee_rule: &FeeRule, rounding: Rounding) -> Quote {
    let future: Vec<&Row> = position.rows.iter().filter(|r| r.due_date > date && r.period > 0).collect();
    let remaining_principal: Decimal = future.iter().map(|r| r.principal).sum();
    let accrued_interest = match future.first() {
        Some(next) => {
            let previous = position.rows.iter().filter(|r| r.due_date <= date).map(|r| r.due_date).max();
            let from = previous.unwrap_or(position.start);
            let length = days_between(from, next.due_date);
            let elapsed = days_between(from, date).clamp(0, length);
            if length > 0 {
                rounding.cents(next.interest * Decimal::from(elapsed) / Decimal::from(length))
            } else {
                Decimal::ZERO
            }
        }
        None => Decimal::ZERO,
    };
    let fee = if remaining_principal > Decimal::ZERO {
        rounding.cents(remaining_principal * fee_rule.rate).max(fee_rule.minimum)
    } else {
        Decimal::ZERO
    };
    let owed = remaining_principal + accrued_interest + position.overdue + position.penalty + fee;
    let deposit_offset = position.deposit.min(owed);
    Quote {
        date,
        remaining_principal,
        accrued_interest,
        overdue: position.overdue,
        penalty: position.penalty,
        fee,
        deposit_offset,
        total: owed - deposit_offset,
        refund: position.deposit - deposit_offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::CENT;
    use crate::schedule::{Method, Terms, Timing, schedule};
    use rust_decimal_macros::dec;

    fn rows() -> (Vec<Row>, NaiveDate) {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let terms = Terms {
            principal: dec!(12000),
            annual_rate: dec!(0.12),
            term: 12,
            method: Method::EqualPrincipal,
            start,
            timing: Timing::Arrears,
            residual: dec!(0),
            deposit: dec!(0),
            fee: dec!(0),
            installment_multiple: CENT,
            rounding: Rounding::HalfUp,
        };
        (schedule(&terms).unwrap().rows, start)
    }

    #[test]
    fn mid_period_settlement_charges_interest_by_actual_days() {
        let (rows, start) = rows();
        let position = Position { rows: &rows, start, overdue: dec!(0), penalty: dec!(0), deposit: dec!(500) };
        // After the March payment, 10 of April's 30 days have passed: 1/3 of April's interest (90.00).
        let q = quote(
            &position,
            NaiveDate::from_ymd_opt(2024, 4, 11).unwrap(),
            &FeeRule { rate: dec!(0.02), minimum: dec!(100) },
            Rounding::HalfUp,
        );
        assert_eq!(q.remaining_principal, dec!(9000));
        assert_eq!(q.accrued_interest, dec!(30.00));
        assert_eq!(q.fee, dec!(180.00));
        assert_eq!(q.deposit_offset, dec!(500));
        assert_eq!(q.total, dec!(9000) + dec!(30) + dec!(180) - dec!(500));
    }

    #[test]
    fn overdue_and_penalty_are_added_and_a_large_deposit_is_refunded() {
        let (rows, start) = rows();
        let position = Position { rows: &rows, start, overdue: dec!(1100), penalty: dec!(12.5), deposit: dec!(20000) };
        let q = quote(&position, NaiveDate::from_ymd_opt(2024, 12, 1).unwrap(), &FeeRule::default(), Rounding::HalfUp);
        assert_eq!(q.remaining_principal, dec!(1000));
        assert_eq!(q.total, dec!(0));
        assert_eq!(q.refund, dec!(20000) - (dec!(1000) + q.accrued_interest + dec!(1100) + dec!(12.5)));
    }
}
