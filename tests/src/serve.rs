//! Serves a [`Host`] over HTTP/1.1 on a loopback port, so real clients (curl,
//! Python SDKs, load generators) can talk to the components.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::host::{Host, Request};

/// Largest request body the server reads; Spin itself sets none, so this only
/// keeps a runaway client from exhausting the test machine.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Binds `addr` (port 0 picks one) and serves until the runtime stops.
pub async fn serve(host: Arc<Host>, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, client)) = listener.accept().await else {
                continue;
            };
            let host = host.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let host = host.clone();
                    async move { handle(&host, req, client).await }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(local)
}

async fn handle(
    host: &Host,
    req: hyper::Request<hyper::body::Incoming>,
    client: SocketAddr,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let body = match limited.collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => {
            let mut resp = hyper::Response::new(Full::new(Bytes::from_static(b"body too large")));
            *resp.status_mut() = hyper::StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(resp);
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut request = Request::new(parts.method, path).from_addr(client);
    for (name, value) in &parts.headers {
        request = request.header(name.as_str(), value.as_bytes());
    }
    let response = host.send(request.body(body)).await;
    let mut out = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() = hyper::StatusCode::from_u16(response.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    *out.headers_mut() = response.headers;
    Ok(out)
}
