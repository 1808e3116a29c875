//! The one place that touches the Spin SDK: turning Spin's incoming request into
//! a [`web::Request`], and opening the host's key-value store.

use futures::StreamExt as _;
use http::StatusCode;
use spin_sdk::http::IncomingRequest;

use crate::web::{self, MAX_BODY_BYTES};

/// Reads Spin's request, refusing bodies over [`MAX_BODY_BYTES`] with 413 as soon
/// as the limit is passed (the rest is never buffered).
pub async fn read_request(req: IncomingRequest) -> Result<web::Request, web::Response> {
    let method: http::Method = req.method().into();
    let uri = req.path_with_query().unwrap_or_else(|| "/".into());
    let mut builder = http::Request::builder().method(method).uri(uri.as_str());
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    let mut stream = req.into_body_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| web::empty(StatusCode::BAD_REQUEST))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(web::empty(StatusCode::PAYLOAD_TOO_LARGE));
        }
        body.extend_from_slice(&chunk);
    }
    builder
        .body(body)
        .map_err(|_| web::empty(StatusCode::BAD_REQUEST))
}

/// Reads the request and hands it to `handler`; what every component's entry
/// point does.
pub async fn serve(
    req: IncomingRequest,
    handler: impl FnOnce(web::Request) -> web::Response,
) -> web::Response {
    match read_request(req).await {
        Ok(request) => handler(request),
        Err(response) => response,
    }
}

/// One read against the default store: does it answer?
pub fn probe_store() -> Result<(), String> {
    let store = spin_sdk::key_value::Store::open_default().map_err(|e| e.to_string())?;
    store.exists("health").map(drop).map_err(|e| e.to_string())
}
