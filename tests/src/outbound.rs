//! Outbound HTTP as Spin does it: a request goes out only when the
//! component's `allowed_outbound_hosts` (its templates expanded with the
//! app's variables) allows its scheme, host and port; anything else fails
//! with `HttpRequestDenied` before a connection is tried. Allowed requests
//! are sent for real, over plain HTTP/1.1 (the test host has no TLS; the
//! receivers tests run are loopback `http://`), with the request options'
//! connect and first-byte timeouts.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// One `allowed_outbound_hosts` entry: `scheme://host[:port]`, where each
/// part may be `*`, a host may be `*.domain`, and a missing port is the
/// scheme's default.
#[derive(Debug, Clone)]
struct Pattern {
    scheme: String,
    host: String,
    port: Option<String>,
}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" => Some("80"),
        "https" => Some("443"),
        _ => None,
    }
}

fn parse(entry: &str) -> Option<Pattern> {
    let (scheme, rest) = entry.trim().split_once("://")?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.to_string())),
        None => (rest, None),
    };
    if host.is_empty() {
        return None;
    }
    let port = port.or_else(|| default_port(scheme).map(str::to_string));
    Some(Pattern {
        scheme: scheme.to_ascii_lowercase(),
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// Whether any of `allowed` lets a request to `uri` out.
pub fn allows(allowed: &[String], uri: &http::Uri) -> bool {
    let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let port = uri
        .port_u16()
        .map(|p| p.to_string())
        .or_else(|| default_port(scheme).map(str::to_string));
    allowed.iter().filter_map(|e| parse(e)).any(|p| {
        let scheme_ok = p.scheme == "*" || p.scheme == scheme;
        let host_ok = p.host == "*"
            || p.host == host
            || p.host
                .strip_prefix("*.")
                .is_some_and(|d| host.ends_with(&format!(".{d}")));
        let port_ok = p.port.as_deref() == Some("*") || p.port == port;
        scheme_ok && host_ok && port_ok
    })
}

type Sent = Result<
    (
        http::Response<WasiBody>,
        Box<dyn std::future::Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

/// Sends `request` if `allowed` lets it out.
pub async fn send(
    allowed: Vec<String>,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Sent {
    if !allows(&allowed, request.uri()) {
        return Err(Error::HttpRequestDenied);
    }
    if request.uri().scheme_str() != Some("http") {
        return Err(Error::InternalError(Some(
            "the test host sends plain http only".into(),
        )));
    }
    let connect = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(Duration::from_secs(600));
    let first_byte = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(Duration::from_secs(600));
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let authority = parts
        .uri
        .authority()
        .ok_or(Error::HttpRequestUriInvalid)?
        .clone();
    let address = format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(80)
    );
    let stream = tokio::time::timeout(connect, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(|_| Error::ConnectionRefused)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|_| Error::HttpProtocolError)?;
    tokio::spawn(connection);
    let mut out = http::Request::builder()
        .method(parts.method)
        .uri(parts.uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", authority.as_str());
    for (name, value) in &parts.headers {
        if name != http::header::HOST {
            out = out.header(name, value);
        }
    }
    let out = out
        .body(Full::new(body))
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    let response = tokio::time::timeout(first_byte, sender.send_request(out))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(|_| Error::HttpProtocolError)?;
    let (parts, body) = response.into_parts();
    let body: Bytes = body
        .collect()
        .await
        .map_err(|_| Error::HttpProtocolError)?
        .to_bytes();
    let body = Full::new(body)
        .map_err(|never| match never {})
        .boxed_unsync();
    Ok((
        http::Response::from_parts(parts, body),
        Box::new(async { Ok(()) }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn matches_as_spin_documents() {
        let allowed = |entries: &[&str], u: &str| {
            allows(
                &entries.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                &uri(u),
            )
        };
        assert!(allowed(
            &["http://127.0.0.1:8080"],
            "http://127.0.0.1:8080/hook"
        ));
        assert!(!allowed(
            &["http://127.0.0.1:8080"],
            "http://127.0.0.1:8081/hook"
        ));
        assert!(!allowed(
            &["https://127.0.0.1:8080"],
            "http://127.0.0.1:8080/"
        ));
        assert!(allowed(
            &["https://hooks.example.com"],
            "https://hooks.example.com/x"
        ));
        assert!(!allowed(
            &["https://hooks.example.com"],
            "https://hooks.example.com:8443/x"
        ));
        assert!(allowed(
            &["https://*.example.com"],
            "https://a.example.com/"
        ));
        assert!(!allowed(
            &["https://*.example.com"],
            "https://example.com.evil/"
        ));
        assert!(allowed(&["*://*:*"], "http://anything:1/"));
        assert!(!allowed(
            &["https://webhooks.invalid"],
            "http://127.0.0.1:9/"
        ));
        assert!(!allowed(&[], "http://127.0.0.1:9/"));
    }
}
