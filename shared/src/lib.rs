//! Onboard's provisioning core, shared by every component.
//!
//! The folders are the layers, from the store up:
//! - [`be`]: the key-value store and the storage rules (claims, counts,
//!   idempotent operations) that keep records consistent without transactions;
//! - [`idm`]: the provisioning domain, one file per concept (customers,
//!   users, organizations, subscriptions, groups, audit...);
//! - [`credential`]: tenants, credentials, sessions and who a caller is;
//! - [`edge`]: HTTP plumbing and the one module that touches the Spin SDK;
//! - [`families`]: each API family's dialect (parse its requests, render
//!   its answers and errors), one module per family.
//!
//! Everything but `edge::spin` (feature `spin`) is plain Rust that runs natively in unit
//! tests and benchmarks. The modules are also re-exported at the root
//! (`crate::storage`, `crate::users`...), so a path names the concept, not
//! the folder.

pub mod be;
pub mod credential;
pub mod edge;
pub mod error;
pub mod families;
pub mod idm;
#[cfg(test)]
mod props;

pub use be::{kv, storage};
pub use credential::{
    account_tokens, api_tokens, auth, identity, impersonation, password, secrets, throttle, totp,
    two_factor,
};
#[cfg(feature = "spin")]
pub use edge::spin;
pub use edge::{health, web};
pub use idm::{
    admin, aliases, audit, groups, invitations, listing, model, organizations, outbox, provision,
    reach, reference, subscriptions, time, users, validate,
};

/// The version every component reports (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
