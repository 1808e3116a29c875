//! The HTTP edge: the request and response every family handles ([`web`]),
//! the one module that touches the Spin SDK ([`spin`]), and `/health`.

pub mod health;
#[cfg(feature = "spin")]
pub mod spin;
pub mod web;

/// Sends one webhook request and gives its status: only a component reaches
/// the network, through Spin's outbound HTTP.
#[cfg(feature = "spin")]
pub use spin::post;

/// A native build of the core has no outbound HTTP, and says so.
#[cfg(not(feature = "spin"))]
pub fn post(_out: &crate::idm::outbox::Outgoing) -> Result<u16, String> {
    Err("no outbound HTTP outside Spin".to_string())
}
