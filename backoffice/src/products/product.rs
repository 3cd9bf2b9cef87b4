//! Product rules (产品方案): what a product version decides — method and timing, the rate table by
//! term and down-payment ratio, fees, deposit and residual ratios, the penalty rule, the
//! allocation order, the early-settlement fee, rounding and buckets — and the terms of a contract
//! originated under them.

use leasewatch_finance::allocation::Order;
use leasewatch_finance::delinquency::{Buckets, PenaltyRule};
use leasewatch_finance::settlement::FeeRule;
use leasewatch_finance::{Decimal, Method, Rounding, Terms, Timing};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Checks;

/// One line of the rate table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Term in months.
    pub term: u32,
    /// Smallest down-payment ratio this rate applies from (0.2 for 20 %).
    #[schema(value_type = String)]
    pub min_down_payment: Decimal,
    /// Annual rate as a fraction.
    #[schema(value_type = String)]
    pub annual_rate: Decimal,
    /// Only for this vehicle type (`passenger`, `commercial`); any when absent.
    #[serde(default)]
    pub vehicle_type: Option<String>,
    /// Only for dealers of this tier; any when absent.
    #[serde(default)]
    pub dealer_tier: Option<String>,
}

/// A fee of the product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    /// Name (GPS, service, handling, insurance).
    pub name: String,
    /// Amount.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Financed (added to the principal) or paid upfront.
    pub financed: bool,
}

/// What a contract is quoted on.
#[derive(Debug, Clone, Copy)]
pub struct Deal<'a> {
    /// Vehicle price.
    pub price: Decimal,
    /// Down payment.
    pub down_payment: Decimal,
    /// Months.
    pub term: u32,
    /// The vehicle's type.
    pub vehicle_type: &'a str,
    /// The dealer's tier, if a dealer brought it.
    pub dealer_tier: Option<&'a str>,
}

/// Everything a product version decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Method.
    pub method: Method,
    /// Arrears or advance.
    #[serde(default)]
    pub timing: Timing,
    /// Rates by term and down-payment ratio.
    pub rates: Vec<Rate>,
    /// Fees.
    #[serde(default)]
    pub fees: Vec<Fee>,
    /// Deposit as a ratio of the financed amount.
    #[serde(default)]
    #[schema(value_type = String)]
    pub deposit_ratio: Decimal,
    /// Residual as a ratio of the financed amount.
    #[serde(default)]
    #[schema(value_type = String)]
    pub residual_ratio: Decimal,
    /// Penalty rule.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub penalty: PenaltyRule,
    /// Allocation order of receipts.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub allocation: Order,
    /// Early-settlement fee.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settlement_fee: FeeRule,
    /// Rounding.
    #[serde(default)]
    pub rounding: Rounding,
    /// Installment multiple (0.01 for the cent).
    #[serde(default = "cent")]
    #[schema(value_type = String)]
    pub installment_multiple: Decimal,
    /// Delinquency buckets.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub buckets: Buckets,
}

fn cent() -> Decimal {
    Decimal::new(1, 2)
}

impl Rules {
    /// Records what is wrong with the rules.
    pub fn check(&self, checks: &mut Checks) {
        checks.check(!self.rates.is_empty(), "rules.rates", "needs at least one rate");
        for (i, r) in self.rates.iter().enumerate() {
            checks.check((1..=600).contains(&r.term), &format!("rules.rates[{i}].term"), "must be 1 to 600 months");
            checks.check(
                r.annual_rate >= Decimal::ZERO && r.annual_rate <= Decimal::ONE,
                &format!("rules.rates[{i}].annual_rate"),
                "must be a fraction between 0 and 1",
            );
            checks.check(
                r.min_down_payment >= Decimal::ZERO && r.min_down_payment < Decimal::ONE,
                &format!("rules.rates[{i}].min_down_payment"),
                "must be a fraction below 1",
            );
        }
        for (i, f) in self.fees.iter().enumerate() {
            checks.text(&format!("rules.fees[{i}].name"), &f.name, 64);
            checks.check(f.amount >= Decimal::ZERO, &format!("rules.fees[{i}].amount"), "cannot be negative");
        }
        let ratio = |x: Decimal| x >= Decimal::ZERO && x < Decimal::ONE;
        checks.check(ratio(self.deposit_ratio), "rules.deposit_ratio", "must be a fraction below 1");
        checks.check(ratio(self.residual_ratio), "rules.residual_ratio", "must be a fraction below 1");
        checks.check(
            self.penalty.daily_rate >= Decimal::ZERO && self.penalty.daily_rate <= Decimal::new(1, 2),
            "rules.penalty.daily_rate",
            "must be between 0 and 1 % a day",
        );
        checks.check(self.installment_multiple > Decimal::ZERO, "rules.installment_multiple", "must be more than zero");
        checks.check(
            !self.buckets.upper.is_empty() && self.buckets.upper.windows(2).all(|w| w[0] < w[1]),
            "rules.buckets.upper",
            "must be increasing day counts",
        );
        checks.check(
            self.timing == Timing::Arrears || self.method == Method::EqualInstallment,
            "rules.timing",
            "payment in advance applies to equal installments",
        );
    }

    /// The terms of `deal` starting on `start`: the rate from the table, financed fees added to
    /// the principal, upfront fees as the fee paid at the start, deposit and residual by ratio.
    pub fn terms(&self, deal: &Deal<'_>, start: chrono::NaiveDate) -> Result<Terms, String> {
        let Deal { price, down_payment, term, .. } = *deal;
        if price <= Decimal::ZERO || down_payment < Decimal::ZERO || down_payment >= price {
            return Err("the down payment must be at least zero and less than the price".into());
        }
        let ratio = down_payment / price;
        let rate = self
            .rate(term, ratio, deal.vehicle_type, deal.dealer_tier)
            .ok_or_else(|| format!("the product has no rate for {term} months at this down payment"))?;
        let financed_fees: Decimal = self.fees.iter().filter(|f| f.financed).map(|f| f.amount).sum();
        let upfront_fees: Decimal = self.fees.iter().filter(|f| !f.financed).map(|f| f.amount).sum();
        let principal = price - down_payment + financed_fees;
        Ok(Terms {
            principal,
            annual_rate: rate,
            term,
            method: self.method,
            start,
            timing: self.timing,
            residual: self.rounding.cents(principal * self.residual_ratio),
            deposit: self.rounding.cents(principal * self.deposit_ratio),
            fee: upfront_fees,
            installment_multiple: self.installment_multiple,
            rounding: self.rounding,
        })
    }

    /// The rate for `term` months with `down_payment` as a ratio of the price, for a vehicle type
    /// and dealer tier, if the table has one: the line with the highest down payment reached,
    /// a line naming the type or tier before one for any.
    pub fn rate(
        &self,
        term: u32,
        down_payment: Decimal,
        vehicle_type: &str,
        dealer_tier: Option<&str>,
    ) -> Option<Decimal> {
        let fits = |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == have);
        self.rates
            .iter()
            .filter(|r| r.term == term && r.min_down_payment <= down_payment)
            .filter(|r| fits(&r.vehicle_type, Some(vehicle_type)) && fits(&r.dealer_tier, dealer_tier))
            .max_by_key(|r| (r.vehicle_type.is_some(), r.dealer_tier.is_some(), r.min_down_payment))
            .map(|r| r.annual_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    #[test]
    fn the_rate_is_the_best_line_the_down_payment_reaches() {
        let rules: Rules = serde_json::from_value(json!({
            "method": "equal-installment",
            "rates": [
                {"term": 36, "min_down_payment": "0", "annual_rate": "0.1299"},
                {"term": 36, "min_down_payment": "0.3", "annual_rate": "0.0999"},
                {"term": 24, "min_down_payment": "0", "annual_rate": "0.1199"}
            ]
        }))
        .unwrap();
        assert_eq!(rules.rate(36, dec!(0.2), "passenger", None), Some(dec!(0.1299)));
        assert_eq!(rules.rate(36, dec!(0.35), "passenger", None), Some(dec!(0.0999)));
        assert_eq!(rules.rate(12, dec!(0.5), "passenger", None), None);
        let mut checks = Checks::default();
        rules.check(&mut checks);
        assert!(checks.finish().is_ok());
    }

    #[test]
    fn terms_follow_the_product() {
        let rules: Rules = serde_json::from_value(json!({
            "method": "equal-installment",
            "rates": [{"term": 36, "min_down_payment": "0.2", "annual_rate": "0.0999"}],
            "fees": [{"name": "GPS", "amount": "1500", "financed": true}, {"name": "手续费", "amount": "800", "financed": false}],
            "deposit_ratio": "0.05", "residual_ratio": "0.1"
        }))
        .unwrap();
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let deal = |down, term| Deal {
            price: dec!(150000),
            down_payment: down,
            term,
            vehicle_type: "passenger",
            dealer_tier: None,
        };
        let t = rules.terms(&deal(dec!(30000), 36), start).unwrap();
        assert_eq!((t.principal, t.annual_rate, t.fee), (dec!(121500), dec!(0.0999), dec!(800)));
        assert_eq!((t.deposit, t.residual), (dec!(6075.00), dec!(12150.00)));
        assert!(rules.terms(&deal(dec!(10000), 36), start).is_err(), "below the table's lowest down payment");
        assert!(rules.terms(&deal(dec!(30000), 24), start).is_err());
    }

    #[test]
    fn lines_for_a_vehicle_type_or_dealer_tier_come_before_general_ones() {
        let rules: Rules = serde_json::from_value(json!({
            "method": "equal-installment",
            "rates": [
                {"term": 36, "min_down_payment": "0.2", "annual_rate": "0.0999"},
                {"term": 36, "min_down_payment": "0.2", "annual_rate": "0.1199", "vehicle_type": "commercial"},
                {"term": 36, "min_down_payment": "0.2", "annual_rate": "0.0899", "dealer_tier": "gold"}
            ]
        }))
        .unwrap();
        assert_eq!(rules.rate(36, dec!(0.3), "passenger", None), Some(dec!(0.0999)));
        assert_eq!(rules.rate(36, dec!(0.3), "commercial", None), Some(dec!(0.1199)));
        assert_eq!(rules.rate(36, dec!(0.3), "passenger", Some("gold")), Some(dec!(0.0899)));
    }
}
