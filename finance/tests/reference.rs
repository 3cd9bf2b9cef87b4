//! The calculator against published figures: bank calculators' 等额本息 / 等额本金 tables,
//! Microsoft's PMT and RATE examples, textbook leases with a residual paid in arrears and in advance.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use chrono::NaiveDate;
use leasewatch_finance::money::CENT;
use leasewatch_finance::{Decimal, Method, Rounding, Terms, Timing, level_payment, schedule};
use rust_decimal_macros::dec;

fn terms(principal: Decimal, rate: Decimal, term: u32, method: Method) -> Terms {
    Terms {
        principal,
        annual_rate: rate,
        term,
        method,
        start: NaiveDate::from_ymd_opt(2024, 1, 15).unwrap(),
        timing: Timing::Arrears,
        residual: Decimal::ZERO,
        deposit: Decimal::ZERO,
        fee: Decimal::ZERO,
        installment_multiple: CENT,
        rounding: Rounding::HalfUp,
    }
}

#[test]
fn equal_installment_mortgage_of_one_million_at_4_9_percent_over_30_years() {
    // 商业贷款 100 万, 年利率 4.9 %, 360 期: 月供 5307.27; 首月利息 4083.33、本金 1223.94;
    // 次月利息 4078.34、本金 1228.93.
    let q = schedule(&terms(dec!(1000000), dec!(0.049), 360, Method::EqualInstallment)).unwrap();
    let r = &q.rows;
    assert_eq!((r[0].payment, r[0].interest, r[0].principal), (dec!(5307.27), dec!(4083.33), dec!(1223.94)));
    assert_eq!((r[1].interest, r[1].principal), (dec!(4078.34), dec!(1228.93)));
    assert!(r[..359].iter().all(|row| row.payment == dec!(5307.27)));
    assert_eq!(q.totals.principal, dec!(1000000));
    // The IRR of a plain loan is its contract rate.
    assert_eq!(q.irr.unwrap().nominal_annual.round_dp(2), dec!(4.90));
    assert_eq!(q.irr.unwrap().effective_annual.round_dp(2), dec!(5.01));
}

#[test]
fn equal_principal_mortgage_of_one_million_at_4_9_percent_over_30_years() {
    // 等额本金: 每月本金 2777.78; 首月 6861.11 (利息 4083.33), 每月递减约 11.34.
    let q = schedule(&terms(dec!(1000000), dec!(0.049), 360, Method::EqualPrincipal)).unwrap();
    let r = &q.rows;
    assert_eq!((r[0].payment, r[0].principal, r[0].interest), (dec!(6861.11), dec!(2777.78), dec!(4083.33)));
    assert_eq!(r[1].payment, dec!(6849.77));
    assert_eq!(r[0].payment - r[1].payment, dec!(11.34));
    assert_eq!(q.totals.principal, dec!(1000000));
    assert_eq!(q.irr.unwrap().nominal_annual.round_dp(2), dec!(4.90));
}

#[test]
fn flat_rate_loan_of_100000_at_half_a_percent_a_month_over_36_months() {
    // 平息 月息 0.5 %: 每月本金 2777.78 + 利息 500 = 3277.78.
    let q = schedule(&terms(dec!(100000), dec!(0.06), 36, Method::Flat)).unwrap();
    assert!(q.rows[..35].iter().all(|r| r.payment == dec!(3277.78) && r.interest == dec!(500)));
    assert_eq!(q.totals.interest, dec!(18000));
    // A flat 6 % over three years costs 11.08 % a year in truth (实际年化 11.08 %).
    assert_eq!(q.irr.unwrap().nominal_annual.round_dp(2), dec!(11.08));
}

#[test]
fn interest_first_pays_interest_monthly_and_the_principal_at_the_end() {
    let q = schedule(&terms(dec!(100000), dec!(0.12), 12, Method::InterestFirst)).unwrap();
    assert!(q.rows[..11].iter().all(|r| r.payment == dec!(1000) && r.principal.is_zero()));
    assert_eq!(q.rows[11].payment, dec!(101000));
    assert_eq!(q.irr.unwrap().nominal_annual.round_dp(2), dec!(12.00));
}

#[test]
fn microsoft_pmt_examples_in_arrears_and_in_advance() {
    // PMT(8%/12, 10, 10000) = -1,037.03; with payments at the start of each period (type 1): -1,030.16.
    let rate = dec!(0.08) / dec!(12);
    assert_eq!(level_payment(dec!(10000), dec!(0), rate, 10, Timing::Arrears).round_dp(2), dec!(1037.03));
    assert_eq!(level_payment(dec!(10000), dec!(0), rate, 10, Timing::Advance).round_dp(2), dec!(1030.16));
    let mut t = terms(dec!(10000), dec!(0.08), 10, Method::EqualInstallment);
    t.timing = Timing::Advance;
    let q = schedule(&t).unwrap();
    assert_eq!(q.rows[0].due_date, t.start);
    assert_eq!((q.rows[0].payment, q.rows[0].interest), (dec!(1030.16), dec!(0)));
    assert_eq!(q.totals.principal, dec!(10000));
    assert_eq!(q.irr.unwrap().nominal_annual.round_dp(2), dec!(8.00));
}

#[test]
fn leases_with_a_residual_value() {
    // A $3,500 lease over 24 months at 9 % with a $1,000 residual: $121.71 a month in arrears.
    assert_eq!(level_payment(dec!(3500), dec!(1000), dec!(0.0075), 24, Timing::Arrears).round_dp(2), dec!(121.71));
    // A truck costing $60,000 leased for two years at 15 % a year, worth $17,000 at the end,
    // payments at the start of each year: $25,217 a year.
    assert_eq!(level_payment(dec!(60000), dec!(17000), dec!(0.15), 2, Timing::Advance).round_dp(0), dec!(25217));

    // The same $3,500 lease as a schedule: in arrears the residual comes with the last installment...
    let mut t = terms(dec!(3500), dec!(0.09), 24, Method::EqualInstallment);
    t.residual = dec!(1000);
    let q = schedule(&t).unwrap();
    assert_eq!(q.rows.len(), 24);
    assert!(q.rows[..23].iter().all(|r| r.payment == dec!(121.71)));
    assert!((q.rows[23].payment - dec!(1121.71)).abs() <= dec!(0.05), "{}", q.rows[23].payment);
    assert_eq!(q.irr.unwrap().nominal_annual.round_dp(2), dec!(9.00));
    // ...in advance it is due a period after the last installment.
    t.timing = Timing::Advance;
    let q = schedule(&t).unwrap();
    assert_eq!(q.rows.len(), 25);
    // PMT(0.75 %, 24, −3500, 1000, 1) = 121.7115 / 1.0075 = 120.81.
    assert_eq!(q.rows[0].payment, dec!(120.81));
    assert_eq!(q.rows[24].due_date, NaiveDate::from_ymd_opt(2026, 1, 15).unwrap());
    assert_eq!(q.rows[24].payment, dec!(1000));
    assert_eq!(q.rows[24].interest, dec!(1000) - q.rows[23].balance);
    assert_eq!(q.totals.principal, dec!(3500));
    assert_eq!(q.irr.unwrap().nominal_annual.round_dp(2), dec!(9.00));
}

#[test]
fn deposit_and_fee_raise_the_true_cost() {
    let plain = schedule(&terms(dec!(100000), dec!(0.10), 36, Method::EqualInstallment)).unwrap();
    let mut t = terms(dec!(100000), dec!(0.10), 36, Method::EqualInstallment);
    t.fee = dec!(2000);
    t.deposit = dec!(10000);
    let q = schedule(&t).unwrap();
    assert_eq!(q.rows[0].period, 0);
    assert_eq!((q.rows[0].payment, q.rows[0].fee), (dec!(2000), dec!(2000)));
    assert_eq!(q.totals.deposit, dec!(10000));
    let (before, after) = (plain.irr.unwrap().nominal_annual, q.irr.unwrap().nominal_annual);
    assert_eq!(before.round_dp(2), dec!(10.00));
    assert!(after > before + dec!(1), "{before} → {after}");
}
