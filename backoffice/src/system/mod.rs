//! System (系统管理): the permission catalogue, tunable settings, sealed fields and passwords,
//! the workflow engine, and start-up and upkeep.
//!
//! - `permissions.rs`: every permission a route can require.
//! - `attachments.rs`: photos and scans kept by their content's hash, type-checked by their bytes.
//! - `settings.rs`: tunable parameters with bounds and defaults.
//! - `crypto.rs`: sealed sensitive fields and their masks, tokens.
//! - `password.rs`: the password policy and argon2id hashing.
//! - `users.rs`: back-office users, their roles, positions and region.
//! - `roles.rs`: roles, named sets of permissions.
//! - `regions.rs`: the region tree that scopes every record.
//! - `positions.rs`: staff positions (岗位) that workflow stages and risk tasks go to.
//! - `workflow/`: the workflow engine (流程管理) and its maker-checker hooks.
//! - `config.rs`: the `[admin]` settings: the data key that opens sealed fields, the hash cost.
//! - `sessions.rs`: sign-in sessions and their tokens (the one writer of `auth_sessions`).
//! - `sign_in.rs`: signing in with a password, for the API and the console.
//! - `throttle.rs`: growing sign-in delays by account and source address, instead of a lock.
//! - `bootstrap.rs`: the permission catalogue at start, the first administrator, housekeeping.

pub mod attachments;
pub mod bootstrap;
pub mod config;
pub mod crypto;
pub mod password;
pub mod permissions;
pub mod positions;
pub mod regions;
pub mod roles;
pub mod sessions;
pub mod settings;
pub mod sign_in;
pub mod throttle;
pub mod users;
pub mod workflow;
