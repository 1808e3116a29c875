//! The backend: the host's key-value store ([`kv`]), the rules every
//! record is kept by on a store without transactions ([`storage`]), and the
//! expiry of records that would otherwise only grow ([`expiry`]).

pub mod expiry;
pub mod kv;
pub mod storage;
