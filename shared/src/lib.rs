//! Onboard's provisioning core, shared by every component.
//!
//! Everything here is plain Rust that runs natively in unit tests and benchmarks;
//! only [`spin`] touches the Spin SDK, so a move to another SDK or wasi:http
//! version changes that one module.

pub mod health;
pub mod web;

pub mod spin;

/// The version every component reports (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
