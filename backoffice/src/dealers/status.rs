//! A dealer's status and the changes between them. An active dealer brings new business; a
//! suspended one (paperwork lapsed, under investigation) brings none until reinstated; a
//! blacklisted one (fraud, collusion) brings none, and lifting that is a decision of its own.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A status change a user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Stop new business for now.
    Suspend,
    /// Back to active, from suspended or blacklisted.
    Reinstate,
    /// Stop new business for good; applications naming the dealer are refused.
    Blacklist,
}

impl Change {
    /// The action's name in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::Reinstate => "reinstate",
            Self::Blacklist => "blacklist",
        }
    }

    /// The status a dealer in `from` ends in, or why the change does not apply.
    pub fn apply(self, from: &str) -> Result<&'static str, String> {
        match (self, from) {
            (Self::Suspend, "active") => Ok("suspended"),
            (Self::Reinstate, "suspended" | "blacklisted") => Ok("active"),
            (Self::Blacklist, "active" | "suspended") => Ok("blacklisted"),
            (_, from) => Err(format!("a dealer that is {from} cannot be {}", self.done())),
        }
    }

    fn done(self) -> &'static str {
        match self {
            Self::Suspend => "suspended",
            Self::Reinstate => "reinstated",
            Self::Blacklist => "blacklisted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_active_dealer_can_be_suspended_or_blacklisted_but_not_reinstated() {
        assert_eq!(Change::Suspend.apply("active"), Ok("suspended"));
        assert_eq!(Change::Blacklist.apply("active"), Ok("blacklisted"));
        assert!(Change::Reinstate.apply("active").is_err());
    }

    #[test]
    fn suspended_and_blacklisted_dealers_come_back_only_by_reinstatement() {
        assert_eq!(Change::Reinstate.apply("suspended"), Ok("active"));
        assert_eq!(Change::Reinstate.apply("blacklisted"), Ok("active"));
        assert_eq!(Change::Blacklist.apply("suspended"), Ok("blacklisted"));
        assert!(Change::Suspend.apply("blacklisted").is_err());
        assert!(Change::Blacklist.apply("blacklisted").unwrap_err().contains("blacklisted"));
    }
}
