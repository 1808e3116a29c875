//! One module per API family: how it reads requests and renders the core's
//! results and errors. The core never knows which family called it.

pub mod apiculus;
pub mod clone;
pub mod cloudcockpit;
pub(crate) mod fields;
pub mod gcore;
pub mod openapi;
pub mod scim;
pub mod service;
