//! The HTTP edge: the request and response every family handles ([`web`]),
//! the one module that touches the Spin SDK ([`spin`]), and `/health`.

pub mod health;
pub mod openapi;
pub mod spin;
pub mod web;
