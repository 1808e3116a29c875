//! Who is calling: tenants and their domains, stored credentials and
//! sessions ([`identity`]), the caller and its reach ([`auth`]), API tokens,
//! password hashing, keyed hashes and tokens ([`secrets`]), and sign-in
//! throttling.

pub mod api_tokens;
pub mod auth;
pub mod identity;
pub mod password;
pub mod secrets;
pub mod throttle;
