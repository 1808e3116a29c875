//! The bottom layer: value types every other layer may use (instants,
//! records, validation rules, the one error type). Nothing here touches the
//! store or knows a caller.

pub mod error;
pub mod model;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod time;
pub mod validate;
