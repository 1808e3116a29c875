//! One module per API family: how it reads requests and renders the core's
//! results and errors. The core never knows which family called it.

pub mod apiculus;
pub mod clone;
pub mod cloudcockpit;
pub mod console;
pub(crate) mod fields;
pub mod gcore;
pub mod openapi;
pub mod scim;
pub mod service;

/// The answer for a path no route serves: in SCIM's error shape under
/// `/scim/` (its clients read nothing else), else the service's own.
pub fn not_found(req: &crate::edge::web::Request) -> crate::edge::web::Response {
    if req.uri().path() == "/scim/v2/.search" {
        // RFC 7644 §3.4.3: searching every resource type at once; §3.12
        // names 501 for what a service provider does not do.
        return scim::error::render(&scim::error::ScimError::new(
            501,
            None,
            "searching several resource types at once is not supported; search /Users or /Groups",
        ));
    }
    if req.uri().path().starts_with(scim::BASE_PATH) {
        return scim::error::render_error(&crate::base::error::Error::NotFound(
            "no such SCIM endpoint".into(),
        ));
    }
    crate::edge::web::no_such_endpoint()
}
