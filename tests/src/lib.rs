//! Onboard's test host: the app's real wasm components, routed by the real
//! spin.toml, with the host interfaces and key-value semantics Spin gives them
//! (see `shared/spin-facts.md` beside the repository). Test tooling only: users
//! run Onboard with Spin.

mod bindings;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod host;
pub mod kv;
mod kv_redis;
pub mod manifest;
pub mod native;
pub mod outbound;
pub mod router;
pub mod serve;

pub use host::{App, Clock, Host, Request, Response, Variant};
pub use kv::{FaultAction, FaultRule, KvCounts, Op, Provider};
