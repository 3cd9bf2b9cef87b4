//! Partial prepayment (部分提前还款): part of the principal paid before it is due, on a day when nothing
//! is overdue. What is left is rescheduled from the last due date on — over the same periods at a
//! lower installment, or at (at most) the same installment over fewer periods. The customer pays
//! the principal prepaid, the interest it ran up since the last due date, and the product's
//! early-repayment fee on it.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::dates::days_between;
use crate::schedule::{Row, Terms, Timing, schedule};
use crate::settlement::FeeRule;

/// What the prepayment buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The same number of periods, a lower installment (减少月供).
    LowerInstallment,
    /// The installment at most what it was, fewer periods (缩短期限).
    ShortenTerm,
}

/// Why a prepayment cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepaymentError {
    /// Nothing falls due after the date.
    #[error("nothing falls due after {0}: there is nothing to prepay")]
    NothingLeft(NaiveDate),
    /// The amount is not less than the principal left (that is an early settlement).
    #[error("{amount} is not less than the {left} of principal left: settle the contract instead")]
    TooMuch {
        /// Asked.
        amount: Decimal,
        /// Left.
        left: Decimal,
    },
    /// Not a positive amount of yuan and fen.
    #[error("the amount must be more than 0, in yuan and fen")]
    Amount,
    /// In-advance schedules are not rescheduled this way.
    #[error("installments due in advance are not rescheduled by a partial prepayment")]
    Advance,
    /// The new terms make no schedule.
    #[error("the new schedule cannot be made: {0}")]
    Terms(String),
}

/// A planned prepayment: what is paid now, and the schedule that replaces the periods left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plan {
    /// The day.
    pub date: NaiveDate,
    /// How it is rescheduled.
    pub mode: Mode,
    /// Principal left before.
    pub principal_before: Decimal,
    /// Principal prepaid.
    pub amount: Decimal,
    /// Interest the prepaid principal ran up since the last due date.
    pub accrued_interest: Decimal,
    /// The early-repayment fee.
    pub fee: Decimal,
    /// What the customer pays now.
    pub total: Decimal,
    /// Principal left after.
    pub principal_after: Decimal,
    /// The installment before (the next one as scheduled).
    pub installment_before: Decimal,
    /// The installment after (the next one as rescheduled).
    pub installment_after: Decimal,
    /// Periods left before.
    pub periods_before: u32,
    /// Periods left after.
    pub periods_after: u32,
    /// The terms the rest is scheduled on (from the last due date).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub terms: Terms,
    /// The new periods, numbered on from the last one before the date.
    pub rows: Vec<Row>,
}

/// Plans prepaying `amount` on `date` of a contract on `terms` whose schedule is `rows`.
pub fn plan(
    terms: &Terms,
    rows: &[Row],
    date: NaiveDate,
    amount: Decimal,
    mode: Mode,
    fee_rule: &FeeRule,
) -> Result<Plan, PrepaymentError> {
    if terms.timing == Timing::Advance {
        return Err(PrepaymentError::Advance);
    }
    if amount <= Decimal::ZERO || amount.scale() > 2 {
        return Err(PrepaymentError::Amount);
    }
    let future: Vec<&Row> = rows.iter().filter(|r| r.period > 0 && r.due_date > date).collect();
    let Some(next) = future.first() else { return Err(PrepaymentError::NothingLeft(date)) };
    let left: Decimal = future.iter().map(|r| r.principal).sum();
    if amount >= left {
        return Err(PrepaymentError::TooMuch { amount, left });
    }
    let before = rows.iter().filter(|r| r.period > 0 && r.due_date <= date).max_by_key(|r| r.period);
    let (anchor, last_period) = before.map_or((terms.start, 0), |r| (r.due_date, r.period));
    let length = days_between(anchor, next.due_date);
    let elapsed = days_between(anchor, date).clamp(0, length);
    let accrued_interest = if length > 0 && !left.is_zero() {
        terms.rounding.cents(next.interest * amount / left * Decimal::from(elapsed) / Decimal::from(length))
    } else {
        Decimal::ZERO
    };
    let fee = terms.rounding.cents(amount * fee_rule.rate).max(fee_rule.minimum);
    let remaining = left - amount;
    let installment_before = next.principal + next.interest;
    let periods_before = u32::try_from(future.len()).unwrap_or(u32::MAX);
    let on = |term: u32| Terms { principal: remaining, term, start: anchor, fee: Decimal::ZERO, ..terms.clone() };
    let rescheduled = |term: u32| schedule(&on(term)).map_err(|e| PrepaymentError::Terms(e.to_string()));
    let periods_after = match mode {
        Mode::LowerInstallment => periods_before,
        Mode::ShortenTerm => {
            let mut fits = periods_before;
            for term in 1..=periods_before {
                let first = rescheduled(term)?.rows.into_iter().find(|r| r.period > 0);
                if first.is_some_and(|r| r.principal + r.interest <= installment_before) {
                    fits = term;
                    break;
                }
            }
            fits
        }
    };
    let mut new_rows: Vec<Row> = rescheduled(periods_after)?.rows.into_iter().filter(|r| r.period > 0).collect();
    for row in &mut new_rows {
        row.period += last_period;
    }
    let installment_after = new_rows.first().map_or(Decimal::ZERO, |r| r.principal + r.interest);
    Ok(Plan {
        date,
        mode,
        principal_before: left,
        amount,
        accrued_interest,
        fee,
        total: amount + accrued_interest + fee,
        principal_after: remaining,
        installment_before,
        installment_after,
        periods_before,
        periods_after,
        terms: on(periods_after),
        rows: new_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{CENT, Rounding};
    use crate::schedule::Method;
    use rust_decimal_macros::dec;

    fn terms() -> Terms {
        Terms {
            principal: dec!(12000),
            annual_rate: dec!(0.12),
            term: 12,
            method: Method::EqualInstallment,
            start: NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
            timing: Timing::Arrears,
            residual: dec!(0),
            deposit: dec!(0),
            fee: dec!(0),
            installment_multiple: CENT,
            rounding: Rounding::HalfUp,
        }
    }

    /// Worked by hand: 12,000 at 1 % a month over 12 months pays 1,066.19 a month (PMT). After six
    /// installments (each month's interest rounded to the fen) the balance is 6,179.02; 3,000 of it
    /// prepaid on the sixth due date leaves 3,179.02, which over the 6 periods left is
    /// PMT(1 %, 6, 3,179.02) = 548.53 a month; keeping (at most) 1,066.19 a month, 3 periods would
    /// take PMT(1 %, 3, 3,179.02) = 1,080.94, too much, so 4 periods at 814.72.
    #[test]
    fn a_prepayment_on_a_due_date_lowers_the_installment_or_shortens_the_term_as_worked_by_hand() {
        let t = terms();
        let rows = schedule(&t).unwrap().rows;
        assert_eq!(rows[1].payment, dec!(1066.19));
        let date = rows.iter().find(|r| r.period == 6).unwrap().due_date;
        let none = FeeRule::default();
        let lower = plan(&t, &rows, date, dec!(3000), Mode::LowerInstallment, &none).unwrap();
        assert_eq!((lower.principal_before, lower.principal_after), (dec!(6179.02), dec!(3179.02)));
        assert_eq!((lower.accrued_interest, lower.total), (dec!(0), dec!(3000)));
        assert_eq!((lower.periods_after, lower.installment_after), (6, dec!(548.53)));
        assert_eq!(lower.rows.iter().map(|r| r.period).collect::<Vec<_>>(), [7, 8, 9, 10, 11, 12]);
        assert_eq!(lower.rows.iter().map(|r| r.principal).sum::<Decimal>(), dec!(3179.02));
        assert_eq!(lower.rows[0].due_date, rows.iter().find(|r| r.period == 7).unwrap().due_date, "the due dates stay");
        assert_eq!(lower.rows[0].interest, dec!(31.79), "1 % of 3,179.02");
        let shorter = plan(&t, &rows, date, dec!(3000), Mode::ShortenTerm, &none).unwrap();
        assert_eq!((shorter.periods_after, shorter.installment_after), (4, dec!(814.72)));
        assert_eq!(shorter.rows.last().unwrap().balance, dec!(0));
    }

    #[test]
    fn between_due_dates_the_prepaid_principal_pays_its_interest_so_far_and_the_fee() {
        let t = terms();
        let rows = schedule(&t).unwrap().rows;
        let sixth = rows.iter().find(|r| r.period == 6).unwrap().due_date;
        let seventh = rows.iter().find(|r| r.period == 7).unwrap();
        let date = sixth + chrono::Duration::days(15);
        let fee = FeeRule { rate: dec!(0.02), minimum: dec!(100) };
        let p = plan(&t, &rows, date, dec!(3000), Mode::LowerInstallment, &fee).unwrap();
        let length = Decimal::from(days_between(sixth, seventh.due_date));
        let by_hand = (seventh.interest * dec!(3000) / dec!(6179.02) * dec!(15) / length).round_dp(2);
        assert_eq!(p.accrued_interest, by_hand);
        assert_eq!(p.fee, dec!(100), "2 % of 3,000 is below the minimum");
        assert_eq!(p.total, dec!(3100) + by_hand);
        assert!(matches!(
            plan(&t, &rows, date, dec!(6179.02), Mode::ShortenTerm, &fee),
            Err(PrepaymentError::TooMuch { .. })
        ));
        assert!(matches!(plan(&t, &rows, date, dec!(-1), Mode::ShortenTerm, &fee), Err(PrepaymentError::Amount)));
    }
}
