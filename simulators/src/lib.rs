//! Device simulators: realistic tracks encoded with the real wire protocols.
//!
//! # Layout
//! - [`track`]: a vehicle's movement — driving with turns and stops, as plain values.
//! - [`capture`]: byte streams one device would send over TCP, for the decoder and its benchmarks.

pub mod capture;
pub mod track;
