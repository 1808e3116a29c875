//! Onboard's provisioning core, shared by every component.
//!
//! Everything here is plain Rust that runs natively in unit tests and benchmarks;
//! only [`spin`] touches the Spin SDK, so a move to another SDK or wasi:http
//! version changes that one module.

pub mod admin;
pub mod aliases;
pub mod api_tokens;
pub mod audit;
pub mod auth;
pub mod error;
pub mod families;
pub mod groups;
pub mod health;
pub mod identity;
pub mod invitations;
pub mod kv;
pub mod listing;
pub mod model;
pub mod organizations;
pub mod password;
pub mod provision;
pub mod reach;
pub mod reference;
pub mod secrets;
pub mod spin;
pub mod storage;
pub mod subscriptions;
pub mod throttle;
pub mod time;
pub mod users;
pub mod validate;
pub mod web;

/// The version every component reports (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
