//! Repayment schedules (还款计划) for the four methods, paid in arrears or, for a finance lease, in
//! advance, with an optional residual (留购价/尾款), deposit and upfront fee.
//!
//! Rules: interest of a period is the opening balance times the annual rate / 12, rounded to the
//! cent (flat: the original principal's); installments are rounded to the product's multiple; the
//! last period absorbs every rounding so that principal rows sum to the financed amount exactly.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::dates::add_months;
use crate::irr::{self, Flow, Irr};
use crate::money::{CENT, Rounding};

/// How principal and interest are spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// 等额本息: the same installment every period.
    EqualInstallment,
    /// 等额本金: the same principal every period, interest on the falling balance.
    EqualPrincipal,
    /// 平息: interest on the original principal every period, the same installment.
    Flat,
    /// 先息后本: interest only, the principal with the last installment.
    InterestFirst,
}

/// When in each period the installment is due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Timing {
    /// At the end of each period (the first a month after the start).
    #[default]
    Arrears,
    /// At the start of each period (the first on the start date), as finance leases often are.
    Advance,
}

/// What a schedule is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// The financed amount.
    pub principal: Decimal,
    /// The nominal annual rate as a fraction (0.12 for 12 %).
    pub annual_rate: Decimal,
    /// Number of monthly periods.
    pub term: u32,
    /// The method.
    pub method: Method,
    /// The start (disbursement) date.
    pub start: NaiveDate,
    /// Arrears or advance.
    pub timing: Timing,
    /// Residual / balloon paid at the end of the term (0 for none).
    pub residual: Decimal,
    /// Deposit (保证金) paid at the start and returned (or offset) at the last due date.
    pub deposit: Decimal,
    /// Fee paid upfront on the start date.
    pub fee: Decimal,
    /// Installments are rounded to a multiple of this (0.01 for the cent).
    pub installment_multiple: Decimal,
    /// How amounts are rounded.
    pub rounding: Rounding,
}

/// Why terms cannot make a schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermsError {
    /// Principal must be positive.
    #[error("the principal must be more than zero")]
    Principal,
    /// Rate out of range.
    #[error("the annual rate must be between 0 and 100 %")]
    Rate,
    /// Term out of range.
    #[error("the term must be 1 to 600 months")]
    Term,
    /// Residual out of range.
    #[error("the residual must be at least zero and less than the principal")]
    Residual,
    /// A negative deposit, fee or multiple.
    #[error("the deposit, the fee and the installment multiple cannot be negative")]
    Negative,
    /// Advance timing is only for equal installments.
    #[error("payment in advance applies to the equal-installment method")]
    AdvanceMethod,
    /// A residual with interest-first is the principal itself.
    #[error("interest-first repays the whole principal at the end; a residual does not apply")]
    ResidualMethod,
}

/// One period of a schedule. Period 0 is the upfront fee, when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Row {
    /// Period number.
    pub period: u32,
    /// Due date.
    pub due_date: NaiveDate,
    /// The amount due: principal + interest + fee.
    pub payment: Decimal,
    /// Principal repaid.
    pub principal: Decimal,
    /// Interest.
    pub interest: Decimal,
    /// Fees.
    pub fee: Decimal,
    /// Principal outstanding after this payment.
    pub balance: Decimal,
}

/// Sums of a schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Totals {
    /// All payments.
    pub payment: Decimal,
    /// All principal (the financed amount).
    pub principal: Decimal,
    /// All interest.
    pub interest: Decimal,
    /// All fees.
    pub fee: Decimal,
    /// The deposit held.
    pub deposit: Decimal,
}

/// A schedule with its totals and the customer's true cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quote {
    /// Periods in order.
    pub rows: Vec<Row>,
    /// Sums.
    pub totals: Totals,
    /// The IRR of the customer's cash flows (deposit and fees included); absent when none exists.
    pub irr: Option<Irr>,
}

impl Terms {
    fn check(&self) -> Result<(), TermsError> {
        if self.principal <= Decimal::ZERO {
            return Err(TermsError::Principal);
        }
        if self.annual_rate < Decimal::ZERO || self.annual_rate > Decimal::ONE {
            return Err(TermsError::Rate);
        }
        if !(1..=600).contains(&self.term) {
            return Err(TermsError::Term);
        }
        if self.residual < Decimal::ZERO || self.residual >= self.principal {
            return Err(TermsError::Residual);
        }
        if self.deposit < Decimal::ZERO || self.fee < Decimal::ZERO || self.installment_multiple < Decimal::ZERO {
            return Err(TermsError::Negative);
        }
        if self.timing == Timing::Advance && self.method != Method::EqualInstallment {
            return Err(TermsError::AdvanceMethod);
        }
        if self.method == Method::InterestFirst && self.residual > Decimal::ZERO {
            return Err(TermsError::ResidualMethod);
        }
        Ok(())
    }

    fn monthly_rate(&self) -> Decimal {
        self.annual_rate / Decimal::from(12)
    }

    fn round_installment(&self, amount: Decimal) -> Decimal {
        let step = if self.installment_multiple.is_zero() { CENT } else { self.installment_multiple };
        self.rounding.to_multiple(amount, step)
    }

    /// The level installment of the equal-installment method, rounded.
    pub fn level_installment(&self) -> Decimal {
        self.round_installment(level_payment(
            self.principal,
            self.residual,
            self.monthly_rate(),
            self.term,
            self.timing,
        ))
    }
}

/// The level payment (unrounded) that repays `principal` over `n` periods at `rate` a period,
/// leaving `residual` due at the end: the annuity of Excel's PMT(rate, n, −principal, residual, type).
pub fn level_payment(principal: Decimal, residual: Decimal, rate: Decimal, n: u32, timing: Timing) -> Decimal {
    if rate.is_zero() {
        return (principal - residual) / Decimal::from(n.max(1));
    }
    let v = discount(rate, n);
    let annuity = (Decimal::ONE - v) / rate;
    let annuity = if timing == Timing::Advance { annuity * (Decimal::ONE + rate) } else { annuity };
    (principal - residual * v) / annuity
}

/// `(1 + r)^-n`.
pub(crate) fn discount(r: Decimal, n: u32) -> Decimal {
    let d = Decimal::ONE / (Decimal::ONE + r);
    (0..n).fold(Decimal::ONE, |acc, _| acc * d)
}

/// The schedule of `terms`.
pub fn schedule(terms: &Terms) -> Result<Quote, TermsError> {
    terms.check()?;
    let cents = |x: Decimal| terms.rounding.cents(x);
    let r = terms.monthly_rate();
    let n = terms.term;
    let mut rows = Vec::with_capacity(n as usize + 2);
    if terms.fee > Decimal::ZERO {
        rows.push(Row {
            period: 0,
            due_date: terms.start,
            payment: cents(terms.fee),
            principal: Decimal::ZERO,
            interest: Decimal::ZERO,
            fee: cents(terms.fee),
            balance: terms.principal,
        });
    }
    let level = match terms.method {
        Method::EqualInstallment => terms.level_installment(),
        Method::Flat => {
            terms.round_installment((terms.principal - terms.residual) / Decimal::from(n) + terms.principal * r)
        }
        Method::EqualPrincipal => terms.round_installment((terms.principal - terms.residual) / Decimal::from(n)),
        Method::InterestFirst => Decimal::ZERO,
    };
    let offset = if terms.timing == Timing::Advance { 0 } else { 1 };
    // What, owed after the last installment paid in advance, grows into the residual a period later.
    let residual_base = cents(terms.residual / (Decimal::ONE + r));
    let mut balance = terms.principal;
    for k in 1..=n {
        // In advance, the first installment is paid on the start date, before any interest accrues.
        let interest = match terms.method {
            _ if terms.timing == Timing::Advance && k == 1 => Decimal::ZERO,
            Method::Flat => cents(terms.principal * r),
            _ => cents(balance * r),
        };
        let last = k == n;
        let residual_after = terms.timing == Timing::Advance && terms.residual > Decimal::ZERO;
        let principal = match terms.method {
            // In advance, the residual is due a period after the last installment: the last
            // installment leaves exactly what grows into the residual by then.
            _ if last && residual_after => (balance - residual_base).max(Decimal::ZERO),
            // Otherwise the last period repays what is left.
            _ if last => balance,
            Method::EqualInstallment | Method::Flat => (level - interest).clamp(Decimal::ZERO, balance),
            Method::EqualPrincipal => level.min(balance),
            Method::InterestFirst => Decimal::ZERO,
        };
        balance -= principal;
        rows.push(Row {
            period: k,
            due_date: add_months(terms.start, k - 1 + offset),
            payment: principal + interest,
            principal,
            interest,
            fee: Decimal::ZERO,
            balance,
        });
    }
    if balance > Decimal::ZERO {
        // The residual exactly, unless rounded-up installments already repaid part of it.
        let interest = if balance == residual_base { terms.residual - balance } else { cents(balance * r) };
        rows.push(Row {
            period: n + 1,
            due_date: add_months(terms.start, n),
            payment: balance + interest,
            principal: balance,
            interest,
            fee: Decimal::ZERO,
            balance: Decimal::ZERO,
        });
    }
    let mut totals = rows.iter().fold(Totals::default(), |mut t, row| {
        t.payment += row.payment;
        t.principal += row.principal;
        t.interest += row.interest;
        t.fee += row.fee;
        t
    });
    totals.deposit = cents(terms.deposit);
    let irr = irr::annual(&customer_flows(terms, &rows));
    // Every amount shows its cents, `0.00` included.
    for row in &mut rows {
        for amount in [&mut row.payment, &mut row.principal, &mut row.interest, &mut row.fee, &mut row.balance] {
            amount.rescale(2);
        }
    }
    for amount in
        [&mut totals.payment, &mut totals.principal, &mut totals.interest, &mut totals.fee, &mut totals.deposit]
    {
        amount.rescale(2);
    }
    Ok(Quote { rows, totals, irr })
}

/// The customer's cash flows by month: the principal received and the deposit paid at the start,
/// every payment, and the deposit back at the last due date.
fn customer_flows(terms: &Terms, rows: &[Row]) -> Vec<Flow> {
    let mut flows = vec![Flow { month: 0, amount: terms.principal - terms.deposit }];
    for row in rows {
        let month = months_from(terms.start, row.due_date);
        flows.push(Flow { month, amount: -row.payment });
    }
    if let Some(last) = rows.last() {
        flows.push(Flow { month: months_from(terms.start, last.due_date), amount: terms.deposit });
    }
    flows
}

fn months_from(start: NaiveDate, date: NaiveDate) -> u32 {
    use chrono::Datelike;
    let months = (date.year() - start.year()) * 12 + date.month() as i32 - start.month() as i32;
    u32::try_from(months).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    pub(crate) fn terms(principal: Decimal, rate: Decimal, term: u32, method: Method) -> Terms {
        Terms {
            principal,
            annual_rate: rate,
            term,
            method,
            start: NaiveDate::from_ymd_opt(2022, 11, 1).unwrap(),
            timing: Timing::Arrears,
            residual: Decimal::ZERO,
            deposit: Decimal::ZERO,
            fee: Decimal::ZERO,
            installment_multiple: CENT,
            rounding: Rounding::HalfUp,
        }
    }

    #[test]
    fn the_issue_example_is_eighteen_equal_installments_from_december() {
        let q = schedule(&terms(dec!(5000), dec!(0.12), 18, Method::EqualInstallment)).unwrap();
        assert_eq!(q.rows.len(), 18);
        assert_eq!(q.rows[0].due_date, NaiveDate::from_ymd_opt(2022, 12, 1).unwrap());
        assert_eq!(q.rows[0].payment, dec!(304.91));
        assert_eq!(q.rows[0].interest, dec!(50.00));
        assert_eq!(q.rows[17].balance, Decimal::ZERO);
        assert_eq!(q.totals.principal, dec!(5000));
    }

    #[test]
    fn bad_terms_are_refused_with_a_reason() {
        let mut t = terms(dec!(5000), dec!(0.12), 18, Method::Flat);
        t.timing = Timing::Advance;
        assert_eq!(schedule(&t), Err(TermsError::AdvanceMethod));
        assert_eq!(schedule(&terms(dec!(0), dec!(0.12), 18, Method::Flat)), Err(TermsError::Principal));
        assert_eq!(schedule(&terms(dec!(1), dec!(0.12), 0, Method::Flat)), Err(TermsError::Term));
        assert_eq!(schedule(&terms(dec!(1), dec!(1.5), 1, Method::Flat)), Err(TermsError::Rate));
    }

    #[test]
    fn a_zero_rate_splits_the_principal_evenly() {
        let q = schedule(&terms(dec!(100), dec!(0), 3, Method::EqualInstallment)).unwrap();
        let payments: Vec<_> = q.rows.iter().map(|r| r.payment).collect();
        assert_eq!(payments, [dec!(33.33), dec!(33.33), dec!(33.34)]);
    }
}
