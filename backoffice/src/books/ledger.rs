//! The double-entry ledger: every money movement is a transaction whose debits equal its credits
//! (checked here, and again by the database at commit).
//!
//! Accounts: `bank` (cash), `loans_receivable` (principal owed), `unapplied_receipts` (received,
//! not yet written off), `customer_credit` and `deposit_liability` (held for the customer),
//! `interest_income`, `fee_income`, `penalty_income`; after the loan goes bad, `recovery_costs`
//! (what collection, repossession, storage and litigation cost), `vendor_payable` (owed to those
//! who did the work) and `loan_losses` (principal written off).

use chrono::NaiveDate;
use leasewatch_finance::Decimal;
use leasewatch_finance::allocation::Component;
use sqlx::PgConnection;

use crate::error::Error;

/// A ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// Cash at the bank.
    Bank,
    /// Principal owed by customers.
    LoansReceivable,
    /// Received and not yet written off.
    UnappliedReceipts,
    /// Overpayments held for the customer.
    CustomerCredit,
    /// Deposits held.
    DepositLiability,
    /// Interest earned.
    InterestIncome,
    /// Fees earned.
    FeeIncome,
    /// Penalty earned.
    PenaltyIncome,
    /// Costs of collecting, repossessing, storing and suing.
    RecoveryCosts,
    /// Owed to repossession companies, yards, appraisers, courts and lawyers.
    VendorPayable,
    /// Principal written off as lost.
    LoanLosses,
}

impl Account {
    /// Its name in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bank => "bank",
            Self::LoansReceivable => "loans_receivable",
            Self::UnappliedReceipts => "unapplied_receipts",
            Self::CustomerCredit => "customer_credit",
            Self::DepositLiability => "deposit_liability",
            Self::InterestIncome => "interest_income",
            Self::FeeIncome => "fee_income",
            Self::PenaltyIncome => "penalty_income",
            Self::RecoveryCosts => "recovery_costs",
            Self::VendorPayable => "vendor_payable",
            Self::LoanLosses => "loan_losses",
        }
    }

    /// The account a payment of `component` is credited to.
    pub fn for_component(component: Component) -> Self {
        match component {
            Component::Principal => Self::LoansReceivable,
            Component::Interest => Self::InterestIncome,
            Component::Fee => Self::FeeIncome,
            Component::Penalty => Self::PenaltyIncome,
        }
    }
}

/// One line of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The account.
    pub account: Account,
    /// Debit amount (0 for a credit line).
    pub debit: Decimal,
    /// Credit amount (0 for a debit line).
    pub credit: Decimal,
}

impl Entry {
    /// A debit.
    pub fn debit(account: Account, amount: Decimal) -> Self {
        Self { account, debit: amount, credit: Decimal::ZERO }
    }

    /// A credit.
    pub fn credit(account: Account, amount: Decimal) -> Self {
        Self { account, debit: Decimal::ZERO, credit: amount }
    }
}

/// A transaction to post.
#[derive(Debug, Clone)]
pub struct Posting {
    /// What happened (`disbursement`, `receipt`, `write_off`, `credit_applied`...).
    pub kind: &'static str,
    /// The contract, if any.
    pub contract_id: Option<i64>,
    /// The receipt, if any.
    pub receipt_id: Option<i64>,
    /// The business date.
    pub booked_on: NaiveDate,
    /// Its lines; zero lines are dropped.
    pub entries: Vec<Entry>,
}

impl Posting {
    /// A transaction of `contract` (no receipt) booked on `booked_on`.
    pub fn contract(kind: &'static str, contract: i64, booked_on: NaiveDate, entries: Vec<Entry>) -> Self {
        Self { kind, contract_id: Some(contract), receipt_id: None, booked_on, entries }
    }

    /// The money a contract starts with on `on`: the `principal` paid out and the `deposit` taken.
    pub fn disbursement(contract: i64, on: NaiveDate, principal: Decimal, deposit: Decimal) -> [Self; 2] {
        [
            Self::contract(
                "disbursement",
                contract,
                on,
                vec![Entry::debit(Account::LoansReceivable, principal), Entry::credit(Account::Bank, principal)],
            ),
            Self::contract(
                "deposit_received",
                contract,
                on,
                vec![Entry::debit(Account::Bank, deposit), Entry::credit(Account::DepositLiability, deposit)],
            ),
        ]
    }
}

/// Whether `entries` balance.
pub fn balanced(entries: &[Entry]) -> bool {
    entries.iter().map(|e| e.debit).sum::<Decimal>() == entries.iter().map(|e| e.credit).sum::<Decimal>()
}

/// Posts `postings` in two statements whatever their number.
pub async fn post(db: &mut PgConnection, postings: &[Posting]) -> Result<(), Error> {
    if let Some(p) = postings.iter().find(|p| !balanced(&p.entries)) {
        return Err(Error::Internal(format!("unbalanced {} posting for contract {:?}", p.kind, p.contract_id)));
    }
    let postings: Vec<&Posting> =
        postings.iter().filter(|p| p.entries.iter().any(|e| !e.debit.is_zero() || !e.credit.is_zero())).collect();
    if postings.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = postings.iter().map(|p| p.kind).collect();
    let contracts: Vec<Option<i64>> = postings.iter().map(|p| p.contract_id).collect();
    let receipts: Vec<Option<i64>> = postings.iter().map(|p| p.receipt_id).collect();
    let dates: Vec<NaiveDate> = postings.iter().map(|p| p.booked_on).collect();
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO ledger_transactions (kind, contract_id, receipt_id, booked_on)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::date[]) RETURNING id",
    )
    .bind(&kinds)
    .bind(&contracts)
    .bind(&receipts)
    .bind(&dates)
    .fetch_all(&mut *db)
    .await?;
    let (mut txn, mut account, mut debit, mut credit) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (id, posting) in ids.iter().zip(&postings) {
        for e in posting.entries.iter().filter(|e| !e.debit.is_zero() || !e.credit.is_zero()) {
            txn.push(*id);
            account.push(e.account.as_str());
            debit.push(e.debit);
            credit.push(e.credit);
        }
    }
    sqlx::query(
        "INSERT INTO ledger_entries (transaction_id, account, debit, credit)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::numeric[])",
    )
    .bind(&txn)
    .bind(&account)
    .bind(&debit)
    .bind(&credit)
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn balance_is_debits_equal_credits() {
        let ok = [Entry::debit(Account::Bank, dec!(10)), Entry::credit(Account::UnappliedReceipts, dec!(10))];
        assert!(balanced(&ok));
        assert!(!balanced(&ok[..1]));
    }
}
