//! Scorecards (打分卡): a base score plus, for each variable, the points of the bin its value falls
//! in (or of its missing value); hard rules that decline whatever the score (age, debt ratio,
//! blacklist...); cut-offs that turn the score into approve, refer or decline. Pure: evaluated over
//! a map of variable values, with the reasons that drove the decision.

use std::collections::BTreeMap;

use leasewatch_finance::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Checks;

/// The variables an application offers a scorecard.
pub const VARIABLES: &[&str] = &[
    "age",                     // years, today
    "age_at_end",              // years, at the end of the term
    "monthly_income",          // yuan
    "debt_ratio",              // installment / monthly income
    "down_payment_ratio",      // down payment / price
    "term",                    // months
    "principal",               // yuan financed
    "vehicle_used",            // 1 used, 0 new
    "guarantors",              // how many
    "phone_shared_with",       // other applicants on the same phone
    "returning_customer",      // 1 when a customer already
    "previous_max_dpd",        // the worst days past due on the customer's earlier contracts
    "previous_alerts",         // risk alerts raised on the customer's earlier vehicles
    "bureau_score",            // the credit bureau's score (asked with the applicant's authorization)
    "bureau_overdue_accounts", // accounts overdue now, by the bureau
    "bureau_worst_dpd",        // the worst days past due in 24 months, by the bureau
    "identity_verified",       // 1 when name, ID and mobile belong together
];

/// A range of a variable and its points: `from` inclusive, `to` exclusive, either open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bin {
    /// From (inclusive); none: from the lowest.
    #[schema(value_type = Option<String>)]
    pub from: Option<Decimal>,
    /// To (exclusive); none: to the highest.
    #[schema(value_type = Option<String>)]
    pub to: Option<Decimal>,
    /// Its points.
    pub points: i32,
}

/// A variable of a scorecard with its bins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// One of the variables an application offers.
    pub name: String,
    /// Its bins, not overlapping.
    pub bins: Vec<Bin>,
    /// The points when the value is missing or in no bin.
    #[serde(default)]
    pub missing_points: i32,
}

/// A hard rule: declines when the variable is above (`max`) or below (`min`) a limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HardRule {
    /// The variable.
    pub variable: String,
    /// Declined below this.
    #[schema(value_type = Option<String>)]
    pub min: Option<Decimal>,
    /// Declined above this.
    #[schema(value_type = Option<String>)]
    pub max: Option<Decimal>,
    /// The reason code it declines with (`age`, `debt_ratio`, `blacklist`...).
    pub reason: String,
}

/// What a scorecard version holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Card {
    /// The score before any variable.
    pub base: i32,
    /// The variables and their bins.
    pub variables: Vec<Variable>,
    /// Hard declines.
    #[serde(default)]
    pub rules: Vec<HardRule>,
    /// From this score up: approve.
    pub approve_from: i32,
    /// Below this score: decline; between the two: refer to a person.
    pub decline_below: i32,
}

/// What a scorecard made of an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Evaluation {
    /// The score.
    pub score: i32,
    /// `approve`, `refer` or `decline`.
    pub decision: String,
    /// What drove it: the hard rules broken, then each variable's points, lowest first.
    pub reasons: Vec<Reason>,
}

/// One reason of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    /// The variable (or the hard rule's reason code).
    pub code: String,
    /// Its value, if it had one.
    #[schema(value_type = Option<String>)]
    pub value: Option<Decimal>,
    /// The points it gave (0 for a hard rule).
    pub points: i32,
    /// Whether it declined the application whatever the score.
    pub hard: bool,
}

impl Bin {
    fn holds(&self, value: Decimal) -> bool {
        self.from.is_none_or(|f| value >= f) && self.to.is_none_or(|t| value < t)
    }
}

impl Card {
    /// What is wrong with the card: unknown variables, overlapping bins, cut-offs the wrong way.
    pub fn check(&self, checks: &mut Checks) {
        checks.check(!self.variables.is_empty() && self.variables.len() <= 50, "card.variables", "1 to 50 variables");
        for (i, v) in self.variables.iter().enumerate() {
            let field = format!("card.variables[{i}]");
            checks.check(
                VARIABLES.contains(&v.name.as_str()),
                &field,
                format!("`{}` is not a variable: {}", v.name, VARIABLES.join(", ")),
            );
            checks.check(!v.bins.is_empty() && v.bins.len() <= 20, &field, "1 to 20 bins");
            let mut sorted: Vec<&Bin> = v.bins.iter().collect();
            sorted.sort_by_key(|b| b.from);
            let apart = sorted.windows(2).all(|w| match (w[0].to, w[1].from) {
                (Some(to), Some(from)) => to <= from,
                _ => false,
            });
            let ordered = v.bins.iter().all(|b| match (b.from, b.to) {
                (Some(f), Some(t)) => f < t,
                _ => true,
            });
            checks.check(apart && ordered, &field, "bins must not overlap, each from below its to");
        }
        for (i, r) in self.rules.iter().enumerate() {
            let field = format!("card.rules[{i}]");
            checks.check(
                VARIABLES.contains(&r.variable.as_str()),
                &field,
                format!("`{}` is not a variable", r.variable),
            );
            checks.check(r.min.is_some() || r.max.is_some(), &field, "a rule needs a min or a max");
            checks.check(!r.reason.trim().is_empty() && r.reason.len() <= 64, &field, "a rule needs a reason code");
        }
        checks.check(self.decline_below <= self.approve_from, "card.decline_below", "must not be above approve_from");
    }

    /// The score, decision and reasons for `values` (variables without a value are missing).
    pub fn evaluate(&self, values: &BTreeMap<&str, Decimal>) -> Evaluation {
        let mut reasons: Vec<Reason> = self
            .rules
            .iter()
            .filter_map(|r| {
                let value = *values.get(r.variable.as_str())?;
                let broken = r.min.is_some_and(|m| value < m) || r.max.is_some_and(|m| value > m);
                broken.then(|| Reason { code: r.reason.clone(), value: Some(value), points: 0, hard: true })
            })
            .collect();
        let declined = !reasons.is_empty();
        let mut score = self.base;
        let mut parts: Vec<Reason> = self
            .variables
            .iter()
            .map(|v| {
                let value = values.get(v.name.as_str()).copied();
                let points =
                    value.and_then(|x| v.bins.iter().find(|b| b.holds(x))).map_or(v.missing_points, |b| b.points);
                score += points;
                Reason { code: v.name.clone(), value, points, hard: false }
            })
            .collect();
        parts.sort_by_key(|r| r.points);
        reasons.extend(parts);
        let decision = if declined || score < self.decline_below {
            "decline"
        } else if score >= self.approve_from {
            "approve"
        } else {
            "refer"
        };
        Evaluation { score, decision: decision.to_owned(), reasons }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn bin(from: Option<Decimal>, to: Option<Decimal>, points: i32) -> Bin {
        Bin { from, to, points }
    }

    /// A small card: age, debt ratio and down payment, a hard rule on the debt ratio.
    pub(crate) fn card() -> Card {
        Card {
            base: 500,
            variables: vec![
                Variable {
                    name: "age".into(),
                    bins: vec![
                        bin(None, Some(dec!(25)), -20),
                        bin(Some(dec!(25)), Some(dec!(45)), 30),
                        bin(Some(dec!(45)), None, 10),
                    ],
                    missing_points: -50,
                },
                Variable {
                    name: "debt_ratio".into(),
                    bins: vec![bin(None, Some(dec!(0.3)), 40), bin(Some(dec!(0.3)), Some(dec!(0.5)), 0)],
                    missing_points: -30,
                },
                Variable {
                    name: "down_payment_ratio".into(),
                    bins: vec![bin(None, Some(dec!(0.3)), 0), bin(Some(dec!(0.3)), None, 25)],
                    missing_points: 0,
                },
            ],
            rules: vec![HardRule {
                variable: "debt_ratio".into(),
                min: None,
                max: Some(dec!(0.6)),
                reason: "debt_ratio".into(),
            }],
            approve_from: 560,
            decline_below: 500,
        }
    }

    #[test]
    fn points_equal_a_hand_computation() {
        let card = card();
        let values = BTreeMap::from([("age", dec!(36)), ("debt_ratio", dec!(0.22)), ("down_payment_ratio", dec!(0.2))]);
        // 500 + 30 (age 25–45) + 40 (debt < 0.3) + 0 (down payment < 30 %) = 570: approve.
        let e = card.evaluate(&values);
        assert_eq!((e.score, e.decision.as_str()), (570, "approve"));
        assert_eq!(e.reasons[0].code, "down_payment_ratio", "the weakest part first");
        // 500 − 20 (age 24) + 0 (debt 0.45) + 25 (down 40 %) = 505: refer.
        let values = BTreeMap::from([("age", dec!(24)), ("debt_ratio", dec!(0.45)), ("down_payment_ratio", dec!(0.4))]);
        assert_eq!(card.evaluate(&values).decision, "refer");
        // Missing age and debt: 500 − 50 − 30 + 0 = 420: decline.
        let e = card.evaluate(&BTreeMap::from([("down_payment_ratio", dec!(0.1))]));
        assert_eq!((e.score, e.decision.as_str()), (420, "decline"));
    }

    #[test]
    fn a_hard_rule_declines_whatever_the_score() {
        let values = BTreeMap::from([("age", dec!(36)), ("debt_ratio", dec!(0.7)), ("down_payment_ratio", dec!(0.5))]);
        let e = card().evaluate(&values);
        assert_eq!(e.decision, "decline");
        assert!(e.reasons[0].hard && e.reasons[0].code == "debt_ratio", "{e:?}");
    }

    #[test]
    fn overlapping_bins_and_unknown_variables_are_refused() {
        let mut bad = card();
        bad.variables[0].bins.push(bin(Some(dec!(40)), Some(dec!(50)), 5));
        bad.variables[1].name = "shoe_size".into();
        let mut checks = Checks::default();
        bad.check(&mut checks);
        let Err(crate::error::Error::Validation(errors)) = checks.finish() else { panic!("accepted") };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["card.variables[0]", "card.variables[1]"]);
        let mut checks = Checks::default();
        card().check(&mut checks);
        assert!(checks.finish().is_ok());
    }

    proptest::proptest! {
        #[test]
        fn the_score_is_the_base_plus_the_points_it_lists(age in 0i64..100, debt in 0i64..100, down in 0i64..100) {
            let values = BTreeMap::from([
                ("age", Decimal::from(age)),
                ("debt_ratio", Decimal::new(debt, 2)),
                ("down_payment_ratio", Decimal::new(down, 2)),
            ]);
            let card = card();
            let e = card.evaluate(&values);
            let listed: i32 = e.reasons.iter().map(|r| r.points).sum();
            proptest::prop_assert_eq!(e.score, card.base + listed);
            proptest::prop_assert_eq!(e.reasons.iter().filter(|r| !r.hard).count(), card.variables.len());
        }
    }
}
