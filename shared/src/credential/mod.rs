//! Who is calling: tenants and their domains, stored credentials and
//! sessions ([`identity`]), the caller and its reach ([`auth`]), API tokens,
//! password hashing, keyed hashes and tokens ([`secrets`]), sign-in
//! throttling, and the second factor ([`two_factor`] over [`totp`]).

pub mod api_tokens;
pub mod auth;
pub mod console;
pub mod identity;
pub mod impersonation;
pub mod password;
pub mod proxy;
pub mod scim_connections;
pub mod secrets;
pub mod throttle;
pub mod totp;
