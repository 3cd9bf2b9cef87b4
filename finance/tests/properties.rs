//! Money invariants over random terms and receipts: schedules repay exactly the financed amount
//! and never go negative; allocation never exceeds what is due and loses nothing.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use chrono::NaiveDate;
use leasewatch_finance::allocation::{Component, Item, Order, Priority, allocate};
use leasewatch_finance::{Decimal, Method, Rounding, Terms, Timing, schedule};
use proptest::prelude::*;

fn cents(max: i64) -> impl Strategy<Value = Decimal> {
    (1..max).prop_map(|c| Decimal::new(c, 2))
}

fn terms() -> impl Strategy<Value = Terms> {
    (
        cents(100_000_000),
        0u32..=3600,
        1u32..=120,
        prop_oneof![
            Just(Method::EqualInstallment),
            Just(Method::EqualPrincipal),
            Just(Method::Flat),
            Just(Method::InterestFirst)
        ],
        any::<bool>(),
        0u32..=50,
        prop_oneof![Just(Decimal::new(1, 2)), Just(Decimal::ONE), Just(Decimal::TEN)],
        any::<bool>(),
        (1u32..=28, 1u32..=12),
    )
        .prop_map(|(principal, bp, term, method, advance, residual_pct, multiple, even, (day, month))| {
            let advance = advance && method == Method::EqualInstallment;
            let residual = if method == Method::InterestFirst {
                Decimal::ZERO
            } else {
                (principal * Decimal::from(residual_pct) / Decimal::ONE_HUNDRED).round_dp(2)
            };
            Terms {
                principal,
                annual_rate: Decimal::new(i64::from(bp), 4),
                term,
                method,
                start: NaiveDate::from_ymd_opt(2024, month, day).unwrap(),
                timing: if advance { Timing::Advance } else { Timing::Arrears },
                residual,
                deposit: Decimal::ZERO,
                fee: Decimal::ZERO,
                installment_multiple: multiple,
                rounding: if even { Rounding::HalfEven } else { Rounding::HalfUp },
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn principal_rows_sum_to_the_financed_amount_and_nothing_goes_negative(t in terms()) {
        let q = schedule(&t).unwrap();
        let principal: Decimal = q.rows.iter().map(|r| r.principal).sum();
        prop_assert_eq!(principal, t.principal);
        prop_assert_eq!(q.totals.principal, t.principal);
        prop_assert_eq!(q.rows.last().unwrap().balance, Decimal::ZERO);
        let mut previous = None;
        for row in &q.rows {
            prop_assert!(row.balance >= Decimal::ZERO, "negative balance {:?}", row);
            prop_assert!(row.principal >= Decimal::ZERO && row.interest >= Decimal::ZERO, "{:?}", row);
            prop_assert_eq!(row.payment, row.principal + row.interest + row.fee);
            prop_assert_eq!(row.payment.scale() <= 2, true);
            if let Some(p) = previous { prop_assert!(row.due_date >= p); }
            previous = Some(row.due_date);
        }
    }

    #[test]
    fn an_allocation_never_exceeds_what_is_due_and_loses_nothing(
        amount in cents(10_000_000),
        opens in proptest::collection::vec((0i64..500_000, 0usize..4, 1u32..=12), 0..40),
        component_first in any::<bool>(),
    ) {
        let components = [Component::Penalty, Component::Fee, Component::Interest, Component::Principal];
        let items: Vec<Item> = opens.iter().enumerate().map(|(i, (open, c, month))| Item {
            id: i as i64,
            period: *month,
            due_date: NaiveDate::from_ymd_opt(2024, *month, 1).unwrap(),
            component: components[*c],
            open: Decimal::new(*open, 2),
        }).collect();
        let order = Order { priority: if component_first { Priority::ComponentFirst } else { Priority::PeriodFirst }, ..Order::default() };
        let out = allocate(amount, &items, &order);
        let allocated: Decimal = out.allocations.iter().map(|a| a.amount).sum();
        prop_assert_eq!(allocated + out.credit, amount, "receipts = allocated + credit");
        for a in &out.allocations {
            let item = &items[a.item as usize];
            prop_assert!(a.amount > Decimal::ZERO && a.amount <= item.open);
        }
        let due: Decimal = items.iter().map(|i| i.open).sum();
        if amount <= due { prop_assert_eq!(out.credit, Decimal::ZERO); } else { prop_assert_eq!(allocated, due); }
    }
}
