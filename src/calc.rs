//! `leasewatch calc`: the repayment calculator on the command line, the same maths as
//! `POST /api/v1/calculator/quote`. A table for people, or JSON with amounts as decimal strings.

use std::str::FromStr;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use leasewatch_finance::money::CENT;
use leasewatch_finance::{Decimal, Method, Quote, Rounding, Terms, Timing, schedule};

/// The calculator's options.
#[derive(Debug, Args)]
pub struct CalcArgs {
    /// Financed amount.
    #[arg(long)]
    principal: Decimal,
    /// Nominal annual rate: `12%`, or `0.12`.
    #[arg(long, value_parser = parse_rate)]
    annual_rate: Decimal,
    /// Months.
    #[arg(long)]
    term: u32,
    /// How principal and interest are spread.
    #[arg(long, value_enum)]
    method: MethodArg,
    /// Start (disbursement) date, YYYY-MM-DD.
    #[arg(long)]
    start: NaiveDate,
    /// Installments at the end (arrears) or start (advance) of each month.
    #[arg(long, value_enum, default_value = "arrears")]
    payment_timing: TimingArg,
    /// Residual / balloon due at the end.
    #[arg(long, default_value = "0")]
    residual: Decimal,
    /// Deposit paid at the start and returned at the end.
    #[arg(long, default_value = "0")]
    deposit: Decimal,
    /// Fee paid upfront.
    #[arg(long, default_value = "0")]
    fee: Decimal,
    /// Round installments to a multiple of this.
    #[arg(long, default_value = "0.01")]
    installment_multiple: Decimal,
    /// Rounding of amounts.
    #[arg(long, value_enum, default_value = "half-up")]
    rounding: RoundingArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MethodArg {
    EqualInstallment,
    EqualPrincipal,
    Flat,
    InterestFirst,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TimingArg {
    Arrears,
    Advance,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoundingArg {
    HalfUp,
    HalfEven,
}

/// `12%` → 0.12; `0.12` → 0.12.
fn parse_rate(text: &str) -> Result<Decimal, String> {
    let text = text.trim();
    let (number, percent) = match text.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (text, false),
    };
    let value = Decimal::from_str(number).map_err(|e| format!("not a number: {e}"))?;
    let rate = if percent { value / Decimal::ONE_HUNDRED } else { value };
    if !percent && rate > Decimal::ONE {
        return Err(format!("{text} would be over 100 %; write `{text}%` for percent"));
    }
    Ok(rate)
}

/// Prints the schedule.
pub fn run(args: CalcArgs) -> anyhow::Result<()> {
    let terms = Terms {
        principal: args.principal,
        annual_rate: args.annual_rate,
        term: args.term,
        method: match args.method {
            MethodArg::EqualInstallment => Method::EqualInstallment,
            MethodArg::EqualPrincipal => Method::EqualPrincipal,
            MethodArg::Flat => Method::Flat,
            MethodArg::InterestFirst => Method::InterestFirst,
        },
        start: args.start,
        timing: match args.payment_timing {
            TimingArg::Arrears => Timing::Arrears,
            TimingArg::Advance => Timing::Advance,
        },
        residual: args.residual,
        deposit: args.deposit,
        fee: args.fee,
        installment_multiple: if args.installment_multiple.is_zero() { CENT } else { args.installment_multiple },
        rounding: match args.rounding {
            RoundingArg::HalfUp => Rounding::HalfUp,
            RoundingArg::HalfEven => Rounding::HalfEven,
        },
    };
    let quote = match schedule(&terms) {
        Ok(quote) => quote,
        Err(e) => bail!("{e}"),
    };
    if args.json {
        println!("{}", serde_json::to_string(&quote).context("cannot write JSON")?);
    } else {
        print!("{}", table(&quote));
    }
    Ok(())
}

fn table(quote: &Quote) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:<10}  {:>14}  {:>14}  {:>12}  {:>10}  {:>14}",
        "period", "due date", "payment", "principal", "interest", "fee", "balance"
    );
    for r in &quote.rows {
        let _ = writeln!(
            out,
            "{:>6}  {:<10}  {:>14}  {:>14}  {:>12}  {:>10}  {:>14}",
            r.period, r.due_date, r.payment, r.principal, r.interest, r.fee, r.balance
        );
    }
    let t = &quote.totals;
    let _ = writeln!(
        out,
        "{:>6}  {:<10}  {:>14}  {:>14}  {:>12}  {:>10}  deposit {}",
        "total", "", t.payment, t.principal, t.interest, t.fee, t.deposit
    );
    match &quote.irr {
        Some(irr) => {
            let _ = writeln!(out, "IRR: {} % nominal a year, {} % effective", irr.nominal_annual, irr.effective_annual);
        }
        None => {
            let _ = writeln!(out, "IRR: none (the cash flows never change sign)");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_in_percent_or_as_a_fraction() {
        assert_eq!(parse_rate("12%"), Ok(Decimal::new(12, 2)));
        assert_eq!(parse_rate("0.12"), Ok(Decimal::new(12, 2)));
        assert_eq!(parse_rate("4.35 %"), Ok(Decimal::new(435, 4)));
        assert!(parse_rate("12").is_err());
        assert!(parse_rate("abc%").is_err());
    }
}
