//! `GET /openapi.json`: the OpenAPI 3.1 document, served as committed.
//!
//! The document is built natively, by [`table`] under the `openapi` feature,
//! which no component enables: its schemas are derived (schemars, with
//! `base::schema`) from the types the parsers fill and the handlers render, and
//! neither the derives nor the builder are linked into a component. A test keeps the committed
//! `shared/openapi.json` equal to what the table builds.

#[cfg(feature = "openapi")]
pub mod table;

/// The committed document, pretty. The component embeds it without the
/// indentation (its `build.rs`) rather than building it per request
/// (building it took 12 ms in wasm).
/// Only the tests read it: a component that named it would be rebuilt on
/// every change of the document.
#[cfg(feature = "openapi")]
pub const COMMITTED: &str = include_str!("../../openapi.json");

/// `GET /openapi.json`: `document`, the component's copy of the committed
/// one (no store, no credential).
pub fn serve(
    req: &crate::edge::web::Request,
    document: &'static str,
) -> crate::edge::web::Response {
    if req.method() != http::Method::GET {
        return crate::edge::web::method_not_allowed(&[http::Method::GET]);
    }
    crate::edge::web::respond(
        http::StatusCode::OK,
        "application/json",
        document.as_bytes().to_vec(),
    )
}
