//! The HTTP edge: the request and response every family handles ([`web`]),
//! the one module that touches the Spin SDK ([`spin`]), and `/health`.

pub mod health;
pub mod openapi;
#[cfg(feature = "spin")]
pub mod spin;
pub mod web;

/// Sends one webhook request and gives its status. Only a component can reach
/// the network (through Spin's outbound HTTP, as `allowed_outbound_hosts`
/// permits); a native build of the core has no outbound HTTP and says so.
pub fn post(out: &crate::outbox::Outgoing) -> Result<u16, String> {
    #[cfg(feature = "spin")]
    return spin::post(out);
    #[cfg(not(feature = "spin"))]
    {
        let _ = out;
        Err("no outbound HTTP outside Spin".to_string())
    }
}
