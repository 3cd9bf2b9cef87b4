//! Sign-in throttling: growing delays instead of a lock. Failed sign-ins are counted three ways
//! over a window: for the account from this address, from this address for any account, and for
//! the account from anywhere. Each count has its own free attempts and its own ceiling; the
//! longest wait wins. A stranger guessing from one address is slowed to one try in 15 minutes,
//! while what they can do to the account's owner, who signs in from elsewhere, is capped at a
//! short wait: knowing a collector's user name no longer locks the collector out.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The window failures are counted over.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

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

/// The account from this address: the guesser's own attempts.
pub const PAIR: Curve = Curve { free: 3, ceiling: WINDOW };
/// This address, any account: one source trying many accounts.
pub const SOURCE: Curve = Curve { free: 10, ceiling: WINDOW };
/// The account from anywhere: many sources, one account. Short, so that the owner is never shut out.
pub const ACCOUNT: Curve = Curve { free: 5, ceiling: Duration::from_secs(30) };

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

/// How long the attempt at `now` must still wait; `None` when it may go ahead.
pub fn wait(failures: &Failures, now: DateTime<Utc>) -> Option<Duration> {
    [(PAIR, failures.pair), (SOURCE, failures.source), (ACCOUNT, failures.account)]
        .into_iter()
        .filter_map(|(curve, (count, last))| {
            let last = last?;
            let until = last + chrono::Duration::from_std(curve.wait(count)).ok()?;
            (until - now).to_std().ok().filter(|d| !d.is_zero())
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn delays_grow_and_stop_at_the_ceiling() {
        let waits: Vec<u64> = (0..8).map(|n| PAIR.wait(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 16]);
        assert_eq!(PAIR.wait(40), WINDOW);
        assert_eq!(ACCOUNT.wait(40), Duration::from_secs(30));
    }

    #[test]
    fn a_guesser_waits_long_while_the_owner_waits_little() {
        // Twelve wrong passwords from one address a second apart.
        let guesser = Failures { pair: (12, Some(at(12))), source: (12, Some(at(12))), account: (12, Some(at(12))) };
        assert_eq!(wait(&guesser, at(13)), Some(Duration::from_secs(511)));
        // The owner, from their own address, meets only the account's short wait.
        let owner = Failures { pair: (0, None), source: (0, None), account: (12, Some(at(12))) };
        assert_eq!(wait(&owner, at(13)), Some(Duration::from_secs(29)));
        assert_eq!(wait(&owner, at(42)), None);
    }

    #[test]
    fn a_few_typos_cost_nothing() {
        let typos = Failures { pair: (2, Some(at(0))), source: (2, Some(at(0))), account: (2, Some(at(0))) };
        assert_eq!(wait(&typos, at(1)), None);
    }
}
