//! HTTP plumbing every family shares: the request a handler sees, the response it
//! returns, and method dispatch (Spin routes by path only, so each component
//! answers the methods its path defines and 405 with `Allow` for the rest).

use http::{HeaderValue, Method, StatusCode, header};

/// Largest request body any endpoint reads; larger bodies get 413 before parsing.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub type Request = http::Request<Vec<u8>>;
pub type Response = http::Response<Vec<u8>>;

/// A response with a body and content type.
pub fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response.
pub fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    respond(
        status,
        "application/json",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

/// A response with no body.
pub fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Vec::new());
    *response.status_mut() = status;
    response
}

/// The `Allow` header value naming `allowed`.
pub fn allow(allowed: &[Method]) -> HeaderValue {
    let list = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::from_str(&list).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// 405 listing the methods the path does answer.
pub fn method_not_allowed(allowed: &[Method]) -> Response {
    let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
    response.headers_mut().insert(header::ALLOW, allow(allowed));
    response
}

/// A path parameter Spin captured for a `:name` route segment.
pub fn path_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get(format!("spin-path-match-{name}"))
        .and_then(|v| v.to_str().ok())
}

/// What follows a wildcard route's prefix (`spin-path-info`), e.g. `/me`.
pub fn path_info(req: &Request) -> String {
    req.headers()
        .get("spin-path-info")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_not_allowed_lists_allow() {
        let r = method_not_allowed(&[Method::GET, Method::PUT]);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "GET, PUT");
    }
}
