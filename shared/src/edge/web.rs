//! HTTP plumbing every family shares: the request a handler sees, the response it
//! returns, and method dispatch (Spin routes by path only, so each component
//! answers the methods its path defines and 405 with `Allow` for the rest).

use http::{HeaderValue, Method, StatusCode, header};

use crate::base::error::Error;

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

/// A JSON response rendered from a serde type (its schema derived for the
/// document). Kept apart from [`json`] so that the components that answer
/// `Value`s link the one non-generic function they did before.
pub fn serialized<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    respond(
        status,
        "application/json",
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

// `{}`: an answer, or a field of one, with nothing in it (a comment, not a
// doc comment: that would be the document's description of every use).
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Empty {}

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

/// A header Spin sets (`spin-*`), as Spin set it. Spin keeps a client's own
/// headers and appends its values after them under the same name, so only
/// the LAST value is Spin's: the first may be forged by the client.
pub fn spin_header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(name)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
}

/// The headers an error calls for, the same in every family: `Allow` on
/// 405, the family's `WWW-Authenticate` challenge on 401, and `Retry-After`
/// on 429 (the throttle's wait) and 503 (a second: retrying is safe).
pub fn error_headers(
    mut response: Response,
    error: &Error,
    challenge: Option<&'static str>,
) -> Response {
    let headers = response.headers_mut();
    match error {
        Error::MethodNotAllowed(allowed) => {
            headers.insert(header::ALLOW, allow(allowed));
        }
        Error::Unauthenticated(_) => {
            if let Some(c) = challenge {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
            }
        }
        Error::RateLimited(_) | Error::Unavailable(_) => {
            let secs = match error {
                Error::RateLimited(s) => *s,
                _ => 1,
            };
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        _ => {}
    }
    response
}

/// A path parameter Spin captured for a `:name` route segment.
pub fn path_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    spin_header(req, &format!("spin-path-match-{name}").to_ascii_lowercase())
}

/// What follows a wildcard route's prefix (`spin-path-info`), e.g. `/me`.
pub fn path_info(req: &Request) -> String {
    spin_header(req, "spin-path-info")
        .unwrap_or_default()
        .to_string()
}

/// The answer for a path no endpoint serves (the fallback route's).
pub fn no_such_endpoint() -> Response {
    json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"status": 404, "message": "no such endpoint"}),
    )
}

/// A header as text, if present and visible ASCII.
pub fn header_str<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Puts the client a trusted forwarding proxy names in the request as its
/// address (appended as the last `spin-client-addr`, the value
/// [`client_address`] reads, so every throttle keys on the real client). A
/// peer that is no trusted proxy stays the client, whatever it sends.
/// `trusted` is asked for only when the request carries `X-Forwarded-For`:
/// without one the peer is the client whoever forwarded it.
pub fn resolve_client<'a>(
    req: &mut Request,
    trusted: impl FnOnce() -> &'a crate::credential::proxy::TrustedProxies,
) {
    if !req.headers().contains_key("x-forwarded-for") {
        return;
    }
    let trusted = trusted();
    if trusted.is_empty() {
        return;
    }
    let Some(peer) = spin_header(req, "spin-client-addr").and_then(parse_peer) else {
        return;
    };
    let values = |name: &str| -> Vec<&str> {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    let client = trusted.client(peer, &values("x-forwarded-for"));
    if client != peer
        && let Ok(value) = http::HeaderValue::from_str(&client.to_string())
    {
        req.headers_mut().append("spin-client-addr", value);
    }
}

fn parse_peer(raw: &str) -> Option<std::net::IpAddr> {
    raw.parse::<std::net::SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| raw.parse())
        .ok()
}

/// The client's address as Spin reports it (`spin-client-addr`), without port.
pub fn client_address(req: &Request) -> String {
    let raw = spin_header(req, "spin-client-addr").unwrap_or("unknown");
    match raw.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr.ip().to_string(),
        Err(_) => raw.to_string(),
    }
}

/// The client's `X-Correlation-Id`, when it is a sensible one (1 to 128
/// visible ASCII characters); the audit log records it.
pub fn correlation_id(req: &Request) -> Option<String> {
    header_str(req, "x-correlation-id")
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.len() <= 128 && c.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
}

/// The JSON object a request carries: 415 for a non-JSON content type, 400 for
/// bytes that are not UTF-8 JSON, 422 for JSON that is not an object. An empty
/// body reads as `{}`.
pub fn json_object(req: &Request) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let mime = ct.split(';').next().unwrap_or("").trim();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(Error::UnsupportedMediaType(format!(
                "expected application/json, got {mime}"
            )));
        }
    }
    let body = req.body();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::Malformed("request body is not UTF-8".into()))?;
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::invalid("body", "must be a JSON object")),
        Err(e) => Err(Error::Malformed(format!("JSON parse error - {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_headers_are_read_from_their_last_value() {
        let req = http::Request::builder()
            .header("spin-client-addr", "10.9.9.9:1")
            .header("spin-path-match-id", "forged")
            .header("spin-path-info", "/forged")
            .header("spin-client-addr", "127.0.0.1:5555")
            .header("spin-path-match-id", "real")
            .header("spin-path-info", "/real")
            .body(Vec::new())
            .unwrap();
        assert_eq!(client_address(&req), "127.0.0.1");
        assert_eq!(path_param(&req, "id"), Some("real"));
        assert_eq!(path_info(&req), "/real");
    }

    #[test]
    fn method_not_allowed_lists_allow() {
        let r = method_not_allowed(&[Method::GET, Method::PUT]);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "GET, PUT");
    }
}
