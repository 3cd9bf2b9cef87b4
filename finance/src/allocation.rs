//! Write-off (核销): a received amount allocated over a contract's open receivable items in the
//! product's order — by default penalty → fees → interest → principal, oldest period first. Partial
//! amounts stay open; what is left over is customer credit.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What a receivable item is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Default penalty (罚息).
    Penalty,
    /// Fees.
    Fee,
    /// Interest.
    Interest,
    /// Principal.
    Principal,
}

/// Which comes first: the oldest period, or the first component.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Settle the oldest period whole (in component order) before the next.
    #[default]
    PeriodFirst,
    /// Settle a component over all periods (oldest first) before the next component.
    ComponentFirst,
}

/// The product's allocation order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Components in the order they are paid.
    pub components: Vec<Component>,
    /// Period first or component first.
    pub priority: Priority,
}

impl Default for Order {
    fn default() -> Self {
        Self {
            components: vec![Component::Penalty, Component::Fee, Component::Interest, Component::Principal],
            priority: Priority::PeriodFirst,
        }
    }
}

/// An open receivable item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Its id.
    pub id: i64,
    /// Its period.
    pub period: u32,
    /// When it fell or falls due.
    pub due_date: NaiveDate,
    /// What it is for.
    pub component: Component,
    /// What is still owed on it.
    pub open: Decimal,
}

/// An amount applied to an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// The item.
    pub item: i64,
    /// The amount applied.
    pub amount: Decimal,
}

/// The result of a write-off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// What went where, in order.
    pub allocations: Vec<Allocation>,
    /// What was left: held as customer credit for the next due date.
    pub credit: Decimal,
}

/// Allocates `amount` over `items` in `order`. Items with nothing open are skipped; an item never
/// receives more than is open on it.
pub fn allocate(amount: Decimal, items: &[Item], order: &Order) -> Outcome {
    let rank = |c: Component| order.components.iter().position(|x| *x == c).unwrap_or(usize::MAX);
    let mut sorted: Vec<&Item> = items.iter().filter(|i| i.open > Decimal::ZERO).collect();
    match order.priority {
        Priority::PeriodFirst => sorted.sort_by_key(|i| (i.due_date, i.period, rank(i.component), i.id)),
        Priority::ComponentFirst => sorted.sort_by_key(|i| (rank(i.component), i.due_date, i.period, i.id)),
    }
    let mut left = amount.max(Decimal::ZERO);
    let mut allocations = Vec::new();
    for item in sorted {
        if left.is_zero() {
            break;
        }
        let applied = left.min(item.open);
        allocations.push(Allocation { item: item.id, amount: applied });
        left -= applied;
    }
    Outcome { allocations, credit: left }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn item(id: i64, period: u32, component: Component, open: Decimal) -> Item {
        Item { id, period, due_date: NaiveDate::from_ymd_opt(2024, period, 1).unwrap(), component, open }
    }

    fn items() -> Vec<Item> {
        vec![
            item(1, 1, Component::Principal, dec!(800)),
            item(2, 1, Component::Interest, dec!(200)),
            item(3, 1, Component::Penalty, dec!(15)),
            item(4, 2, Component::Principal, dec!(810)),
            item(5, 2, Component::Interest, dec!(190)),
        ]
    }

    #[test]
    fn the_oldest_period_is_settled_first_penalty_then_interest_then_principal() {
        let out = allocate(dec!(1100), &items(), &Order::default());
        let got: Vec<_> = out.allocations.iter().map(|a| (a.item, a.amount)).collect();
        assert_eq!(got, [(3, dec!(15)), (2, dec!(200)), (1, dec!(800)), (5, dec!(85))]);
        assert_eq!(out.credit, dec!(0));
    }

    #[test]
    fn component_first_pays_all_interest_before_any_principal() {
        let order = Order { priority: Priority::ComponentFirst, ..Order::default() };
        let out = allocate(dec!(500), &items(), &order);
        let got: Vec<_> = out.allocations.iter().map(|a| (a.item, a.amount)).collect();
        assert_eq!(got, [(3, dec!(15)), (2, dec!(200)), (5, dec!(190)), (1, dec!(95))]);
    }

    #[test]
    fn an_overpayment_becomes_credit() {
        let out = allocate(dec!(3000), &items(), &Order::default());
        assert_eq!(out.credit, dec!(985));
        assert_eq!(out.allocations.len(), 5);
    }
}
