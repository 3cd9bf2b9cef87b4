//! Amounts and their rounding: every amount is a `Decimal` rounded to the cent by a stated rule.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// How amounts are rounded to the cent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Rounding {
    /// 0.005 → 0.01 (四舍五入), the usual rule in China.
    #[default]
    HalfUp,
    /// 0.005 → 0.00, 0.015 → 0.02 (banker's rounding).
    HalfEven,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Self::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Self::HalfEven => RoundingStrategy::MidpointNearestEven,
        }
    }

    /// `amount` to the cent.
    pub fn cents(self, amount: Decimal) -> Decimal {
        amount.round_dp_with_strategy(2, self.strategy())
    }

    /// `amount` to a multiple of `step` (0.01, 1, 10...); a step of zero or less means the cent.
    pub fn to_multiple(self, amount: Decimal, step: Decimal) -> Decimal {
        if step <= Decimal::ZERO {
            return self.cents(amount);
        }
        self.cents((amount / step).round_dp_with_strategy(0, self.strategy()) * step)
    }
}

/// One cent.
pub const CENT: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn half_up_and_half_even_differ_only_on_exact_halves() {
        assert_eq!(Rounding::HalfUp.cents(dec!(0.125)), dec!(0.13));
        assert_eq!(Rounding::HalfEven.cents(dec!(0.125)), dec!(0.12));
        assert_eq!(Rounding::HalfEven.cents(dec!(0.135)), dec!(0.14));
        assert_eq!(Rounding::HalfUp.cents(dec!(0.1249)), dec!(0.12));
    }

    #[test]
    fn multiples() {
        assert_eq!(Rounding::HalfUp.to_multiple(dec!(5307.27), dec!(1)), dec!(5307));
        assert_eq!(Rounding::HalfUp.to_multiple(dec!(5307.5), dec!(10)), dec!(5310));
        assert_eq!(Rounding::HalfUp.to_multiple(dec!(5307.275), dec!(0)), dec!(5307.28));
        assert_eq!(CENT, dec!(0.01));
    }
}
