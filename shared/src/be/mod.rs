//! The backend: the host's key-value store ([`kv`]) and the rules every
//! record is kept by on a store without transactions ([`storage`]).

pub mod kv;
pub mod storage;
