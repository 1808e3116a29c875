//! `GET /health`: the service's own liveness probe. It reports the version and
//! whether the key-value store answers, so an operator (and the test host's own
//! tests) can tell a broken store from a broken component.

use http::{Method, StatusCode};
use serde_json::json;

use crate::edge::web::{self, Request, Response};

/// Handles `/health`; `probe_store` tries one read against the store.
pub fn handle(req: &Request, probe_store: impl FnOnce() -> Result<(), String>) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return web::method_not_allowed(&[Method::GET, Method::HEAD]);
    }
    let (status, store) = match probe_store() {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ok" } else { "degraded" },
        "version": crate::VERSION,
        "store": store,
    });
    let mut response = web::json(status, &body);
    if req.method() == Method::HEAD {
        // RFC 9110 9.3.2: the headers GET would send, and no content.
        response.body_mut().clear();
    }
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get() -> Request {
        http::Request::builder()
            .method(Method::GET)
            .uri("/health")
            .body(Vec::new())
            .unwrap()
    }

    #[test]
    fn healthy_store_is_200() {
        let r = handle(&get(), || Ok(()));
        assert_eq!(r.status(), StatusCode::OK);
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body["store"], "ok");
        assert_eq!(body["version"], crate::VERSION);
    }

    #[test]
    fn head_has_the_headers_and_no_content() {
        let mut req = get();
        *req.method_mut() = Method::HEAD;
        let r = handle(&req, || Ok(()));
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert!(r.body().is_empty());
    }

    #[test]
    fn failing_store_is_503() {
        let r = handle(&get(), || Err("down".into()));
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
