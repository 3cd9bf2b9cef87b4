//! Who acts: the signed-in user a service works for, with what they may do and where they see.
//! The HTTP surface builds an [`Actor`] from a session; the CLI and jobs act as the system, which
//! writes no actor-scoped records.

use std::collections::HashSet;

use crate::error::Error;

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The request id the server gave the request.
    pub request_id: Option<String>,
    /// The peer's address.
    pub client_addr: Option<String>,
}

/// Who made a change: a signed-in actor, or someone signing in.
#[derive(Debug, Clone, Copy)]
pub struct Author<'a> {
    /// The user, when known.
    pub user_id: Option<i64>,
    /// The name they gave or hold.
    pub username: Option<&'a str>,
    /// Where the request came from.
    pub meta: &'a RequestMeta,
}

/// A signed-in user acting through a service.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Their id.
    pub user_id: i64,
    /// Their login name.
    pub username: String,
    /// Their region.
    pub region_id: i64,
    /// Their region's path: they see records whose region path starts with it.
    pub region_path: String,
    /// What their roles allow.
    pub permissions: HashSet<String>,
    /// Their positions' codes.
    pub positions: Vec<String>,
    /// The dealer they work for, if they are a dealer's staff: they see only its records where
    /// records belong to dealers.
    pub dealer_id: Option<i64>,
    /// Where the request came from.
    pub meta: RequestMeta,
}

impl Actor {
    /// Whether they hold `permission`.
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// `Ok` when they hold `permission`, else `Forbidden`.
    pub fn require(&self, permission: &str) -> Result<(), Error> {
        if self.can(permission) { Ok(()) } else { Err(Error::missing_permission(permission)) }
    }

    /// Whether their region is a root of the region tree (they see records without a region).
    pub fn at_root(&self) -> bool {
        self.region_path.matches('/').count() == 2
    }

    /// Them, as the author of an audited change.
    pub fn author(&self) -> Author<'_> {
        Author { user_id: Some(self.user_id), username: Some(&self.username), meta: &self.meta }
    }
}
