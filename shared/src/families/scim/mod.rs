//! SCIM 2.0 (RFC 7643 / 7644): the dialect identity providers speak to keep
//! a customer's users and groups in sync, over the same core as the four
//! vendor families.

pub mod error;
pub mod filter;
pub mod projection;
