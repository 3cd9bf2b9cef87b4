//! The workflow engine (流程管理): versioned definitions of ordered stages, instances attached to
//! any business object, tasks in the inboxes of the stage's position, and the history.
//!
//! - `definition.rs`: stages, actions and what an action does (pure).
//! - `engine.rs`: starting, claiming, acting and cancelling over the database.
//! - `definitions.rs`: definitions as staff read and write them, versioned.
//! - `records.rs`: definitions as stored, instances, tasks, history.
//! - `hooks.rs`: the hooks through which business areas learn an outcome.

pub mod definition;
pub mod definitions;
pub mod engine;
pub mod hooks;
pub mod records;
