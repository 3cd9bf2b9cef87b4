//! The rate table and fees as staff type them (or paste them from a spreadsheet): one line each,
//! values separated by commas (or tabs, as a spreadsheet copies them), ratios as percentages (`8.5%`) or fractions (`0.085`).
//!
//! - rate: `term, minimum down payment, annual rate[, vehicle type[, dealer tier]]`
//! - fee: `name, amount, financed | upfront`

use backoffice::products::product::{Fee, Rate};
use leasewatch_finance::Decimal;

/// What is wrong with one line, numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A ratio as a percentage, exactly: `0.08995` → `8.995%`.
pub fn percent(ratio: &Decimal) -> String {
    format!("{}%", (ratio * Decimal::from(100)).normalize())
}

/// `8.5%` or `0.085` as the fraction 0.085.
pub fn ratio(text: &str) -> Result<Decimal, String> {
    let text = text.trim();
    let (number, scale) = match text.strip_suffix('%') {
        Some(number) => (number.trim(), Decimal::from(100)),
        None => (text, Decimal::ONE),
    };
    number.parse::<Decimal>().map(|n| n / scale).map_err(|_| format!("`{text}` is not a percentage or a fraction"))
}

/// The values of each non-blank line, numbered from 1. A line pasted from a spreadsheet is split at
/// its tabs alone, so that `1,200` stays one amount.
fn lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| {
        let values = if l.contains('\t') { l.split('\t').collect::<Vec<_>>() } else { l.split([',', '，']).collect() };
        (i + 1, values.into_iter().map(str::trim).collect())
    })
}

/// The rate table typed in `text`.
pub fn rates(text: &str) -> Result<Vec<Rate>, Vec<LineError>> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (line, values) in lines(text) {
        let error = |message: String| LineError { line, message };
        if !(3..=5).contains(&values.len()) {
            errors.push(error("needs term, minimum down payment, annual rate[, vehicle type[, dealer tier]]".into()));
            continue;
        }
        let term =
            values[0].parse::<u32>().map_err(|_| format!("term `{}` is not a whole number of months", values[0]));
        let optional = |i: usize| values.get(i).filter(|v| !v.is_empty()).map(|v| (*v).to_owned());
        match (term, ratio(values[1]), ratio(values[2])) {
            (Ok(term), Ok(min_down_payment), Ok(annual_rate)) => found.push(Rate {
                term,
                min_down_payment,
                annual_rate,
                vehicle_type: optional(3),
                dealer_tier: optional(4),
            }),
            (term, down, rate) => {
                errors.extend([term.err(), down.err(), rate.err()].into_iter().flatten().map(error));
            }
        }
    }
    if errors.is_empty() { Ok(found) } else { Err(errors) }
}

/// The fees typed in `text`.
pub fn fees(text: &str) -> Result<Vec<Fee>, Vec<LineError>> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (line, values) in lines(text) {
        let error = |message: String| LineError { line, message };
        let [name, amount, how] = values[..] else {
            errors.push(error("needs name, amount, financed or upfront".into()));
            continue;
        };
        let financed = match how {
            "financed" | "融资" => Ok(true),
            "upfront" | "首付" => Ok(false),
            other => Err(format!("`{other}` is not financed (融资) or upfront (首付)")),
        };
        let amount =
            amount.replace(['¥', ','], "").parse::<Decimal>().map_err(|_| format!("amount `{amount}` is not a number"));
        match (amount, financed) {
            (Ok(amount), Ok(financed)) => found.push(Fee { name: name.to_owned(), amount, financed }),
            (amount, financed) => errors.extend([amount.err(), financed.err()].into_iter().flatten().map(error)),
        }
    }
    if errors.is_empty() { Ok(found) } else { Err(errors) }
}

/// `rates` as lines that [`rates`] reads back.
pub fn rates_text(rates: &[Rate]) -> String {
    rates
        .iter()
        .map(|r| {
            let mut values = vec![r.term.to_string(), percent(&r.min_down_payment), percent(&r.annual_rate)];
            match (&r.vehicle_type, &r.dealer_tier) {
                (None, None) => {}
                (vehicle, tier) => {
                    values.push(vehicle.clone().unwrap_or_default());
                    values.extend(tier.clone());
                }
            }
            values.join(", ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `fees` as lines that [`fees`] reads back.
pub fn fees_text(fees: &[Fee]) -> String {
    let how = |financed| if financed { "financed" } else { "upfront" };
    fees.iter()
        .map(|f| format!("{}, {}, {}", f.name, f.amount.normalize(), how(f.financed)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_read_as_staff_type_them() {
        let read = rates("12, 20%, 8.5%\n\n36\t30%\t0.0799\tcommercial\tA\n24，20%，9%，，B").unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(
            (read[0].term, read[0].min_down_payment, read[0].annual_rate),
            (12, Decimal::new(2, 1), Decimal::new(85, 3))
        );
        assert_eq!((read[1].vehicle_type.as_deref(), read[1].dealer_tier.as_deref()), (Some("commercial"), Some("A")));
        assert_eq!((read[2].vehicle_type.as_deref(), read[2].dealer_tier.as_deref()), (None, Some("B")));
        let fees = fees("GPS\t¥1,200\tfinanced\n手续费, 500, 首付").unwrap();
        assert_eq!((fees[0].amount, fees[0].financed, fees[1].financed), (Decimal::from(1200), true, false));
    }

    #[test]
    fn each_wrong_line_is_named() {
        let errors = rates("12, 20%, 8.5%\ntwelve, 20%, x\n12, 20%").unwrap_err();
        let said: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(said[0].starts_with("line 2: term `twelve`") && said[1].starts_with("line 2: `x`"), "{said:?}");
        assert!(said[2].starts_with("line 3: needs term"), "{said:?}");
        assert_eq!(fees("GPS, 100, maybe").unwrap_err()[0].line, 1);
    }

    proptest! {
        #[test]
        fn a_table_shown_reads_back_the_same(
            rows in proptest::collection::vec((1u32..600, 0i64..10_000, 0i64..100_000, proptest::option::of("[a-z]{1,8}"), proptest::option::of("[A-Z]{1,2}")), 1..8),
            fee_rows in proptest::collection::vec(("[a-zA-Z]{1,10}", 0i64..10_000_000, any::<bool>()), 0..4),
        ) {
            let table: Vec<Rate> = rows.into_iter().map(|(term, down, rate, vehicle_type, dealer_tier)| Rate {
                term, min_down_payment: Decimal::new(down, 4), annual_rate: Decimal::new(rate, 5), vehicle_type, dealer_tier,
            }).collect();
            let read = rates(&rates_text(&table)).unwrap();
            prop_assert_eq!(read.len(), table.len());
            for (a, b) in read.iter().zip(&table) {
                prop_assert_eq!((a.term, a.min_down_payment, a.annual_rate), (b.term, b.min_down_payment, b.annual_rate));
                prop_assert_eq!((&a.vehicle_type, &a.dealer_tier), (&b.vehicle_type, &b.dealer_tier));
            }
            let listed: Vec<Fee> = fee_rows.into_iter().map(|(name, cents, financed)| Fee { name, amount: Decimal::new(cents, 2), financed }).collect();
            prop_assert_eq!(fees(&fees_text(&listed)).unwrap(), listed);
        }
    }
}
