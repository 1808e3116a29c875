//! Onboard's provisioning core, shared by every component.
//!
//! The folders are the layers, each importing only from those below it
//! (`layers_point_down` in this crate's tests holds the rule):
//! - [`base`]: value types every layer uses: instants, the records,
//!   validation rules, the one error type;
//! - [`be`]: the key-value store and the storage rules (claims, counts,
//!   idempotent operations, expiry) that keep records consistent without
//!   transactions;
//! - [`credential`]: tenants, credentials, sessions and who a caller is:
//!   passwords, secrets, TOTP, throttles, API tokens, trusted proxies;
//! - [`idm`]: the provisioning domain, one file per concept (customers,
//!   users, organizations, subscriptions, groups, audit, the outbox) and the
//!   account flows over them (account tokens, two-factor);
//! - [`edge`]: HTTP plumbing and the one module that touches the Spin SDK;
//! - [`families`]: each API family's dialect (parse its requests, render
//!   its answers and errors), one module per family, the service's own
//!   `/admin` API and the OpenAPI document of them all.
//!
//! Paths name the layer (`crate::be::storage`, `crate::idm::users`), so a
//! file's imports show which layers it stands on. Everything but
//! `edge::spin` (feature `spin`) is plain Rust that runs natively in unit
//! tests and benchmarks.

pub mod base;
pub mod be;
pub mod credential;
pub mod edge;
pub mod families;
pub mod idm;
#[cfg(test)]
mod layers;
#[cfg(test)]
mod props;
#[cfg(test)]
mod testing;

/// The version every component reports (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
