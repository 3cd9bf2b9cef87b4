//! Sign-in throttling: growing delays instead of a lock. Failed sign-ins are counted three ways
//! over a day: for the account from this address, from this address for any account, and for
//! the account from anywhere. Each count has its own free attempts and its own ceiling; the
//! longest wait wins. A stranger guessing from one address is slowed to one try in 15 minutes,
//! while what they can do to the account's owner, who signs in from elsewhere, is capped at a
//! short wait: knowing a collector's user name no longer locks the collector out.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The window failures are counted over: a day, longer than any wait, so that waiting out the
/// longest delay does not buy a guesser fresh free tries.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The account's own short ceiling: many sources guessing one account slow it only this much, so
/// that its owner is never shut out for long.
pub const ACCOUNT_CEILING: Duration = Duration::from_secs(30);

/// How one count slows sign-ins: so many free failures, then 1 s, 2 s, 4 s... up to the ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Curve {
    /// Failures allowed without delay.
    pub free: u32,
    /// The longest wait.
    pub ceiling: Duration,
}

impl Curve {
    /// The wait after `failures` failures.
    pub fn wait(self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free).min(20);
        Duration::from_secs(1u64 << doublings).min(self.ceiling)
    }
}

/// The three curves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The account from this address: the guesser's own tries.
    pub pair: Curve,
    /// This address, any account: one source trying many accounts.
    pub source: Curve,
    /// The account from anywhere: many sources, one account.
    pub account: Curve,
}

impl Policy {
    /// The policy of the settings `auth.max_failed_logins` (free failures for an account from an
    /// address) and `auth.lockout_minutes` (the longest wait).
    pub fn new(free: u32, longest: Duration) -> Self {
        Self {
            pair: Curve { free, ceiling: longest },
            source: Curve { free: free.saturating_mul(4), ceiling: longest },
            account: Curve { free, ceiling: longest.min(ACCOUNT_CEILING) },
        }
    }

    /// How long the attempt at `now` must still wait; `None` when it may go ahead.
    pub fn wait(&self, failures: &Failures, now: DateTime<Utc>) -> Option<Duration> {
        [(self.pair, failures.pair), (self.source, failures.source), (self.account, failures.account)]
            .into_iter()
            .filter_map(|(curve, (count, last))| {
                let last = last?;
                let until = last + chrono::Duration::from_std(curve.wait(count)).ok()?;
                (until - now).to_std().ok().filter(|d| !d.is_zero())
            })
            .max()
    }
}

/// Failures counted in the window, and when the last of each count happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    /// For the account from this address.
    pub pair: (u32, Option<DateTime<Utc>>),
    /// From this address, any account.
    pub source: (u32, Option<DateTime<Utc>>),
    /// For the account, from anywhere.
    pub account: (u32, Option<DateTime<Utc>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    const FIFTEEN_MINUTES: Duration = Duration::from_secs(900);

    fn policy() -> Policy {
        Policy::new(3, FIFTEEN_MINUTES)
    }

    #[test]
    fn delays_grow_and_stop_at_the_ceiling() {
        let waits: Vec<u64> = (0..8).map(|n| policy().pair.wait(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 16]);
        assert_eq!(policy().pair.wait(40), FIFTEEN_MINUTES);
        assert_eq!(policy().account.wait(40), ACCOUNT_CEILING);
        assert_eq!(policy().source.wait(11), Duration::ZERO);
    }

    #[test]
    fn a_guesser_waits_long_while_the_owner_waits_little() {
        // Twelve wrong passwords from one address a second apart.
        let guesser = Failures { pair: (12, Some(at(12))), source: (12, Some(at(12))), account: (12, Some(at(12))) };
        assert_eq!(policy().wait(&guesser, at(13)), Some(Duration::from_secs(511)));
        // The owner, from their own address, meets only the account's short wait.
        let owner = Failures { pair: (0, None), source: (0, None), account: (12, Some(at(12))) };
        assert_eq!(policy().wait(&owner, at(13)), Some(Duration::from_secs(29)));
        assert_eq!(policy().wait(&owner, at(42)), None);
    }

    #[test]
    fn a_few_typos_cost_nothing() {
        let typos = Failures { pair: (2, Some(at(0))), source: (2, Some(at(0))), account: (2, Some(at(0))) };
        assert_eq!(policy().wait(&typos, at(1)), None);
    }
}
