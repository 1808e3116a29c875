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

/// One `allowed_outbound_hosts` entry: `scheme://host[:port]`. The scheme
/// may be `*`; the host `*`, `*.domain`, an exact name or address, or an
/// IPv4 CIDR block; the port `*`, a number or a range `a..b`, and when left
/// out the scheme's default (an unknown scheme needs one). As on Spin, an
/// entry with a path, or one that does not parse, is an error, not a rule
/// that matches nothing.
#[derive(Debug, Clone)]
struct Pattern {
    scheme: String,
    host: String,
    ports: (u16, u16),
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "redis" => Some(6379),
        "mysql" => Some(3306),
        "postgres" => Some(5432),
        _ => None,
    }
}

fn parse(entry: &str) -> Result<Pattern, String> {
    let bad = |why: &str| format!("allowed_outbound_hosts entry {entry:?}: {why}");
    let (scheme, rest) = entry
        .split_once("://")
        .ok_or_else(|| bad("expected scheme://host[:port]"))?;
    if scheme.is_empty() || rest.is_empty() {
        return Err(bad("expected scheme://host[:port]"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    // An IPv6 literal keeps its brackets; the port follows them.
    let (host, port) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((h, after)) => (h, after.strip_prefix(':')),
        None => match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        },
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    if host.contains('/') && cidr(host).is_none() || port.is_some_and(|p| p.contains('/')) {
        return Err(bad("paths are not allowed"));
    }
    let ports = match port {
        Some("*") => (0, u16::MAX),
        Some(p) => match p.split_once("..") {
            Some((a, b)) => (
                a.parse().map_err(|_| bad("bad port range"))?,
                b.parse::<u16>()
                    .map_err(|_| bad("bad port range"))?
                    .saturating_sub(1),
            ),
            None => {
                let n = p.parse().map_err(|_| bad("bad port"))?;
                (n, n)
            }
        },
        None if scheme == "*" => return Err(bad("a port is required with scheme *")),
        None => {
            let n =
                default_port(scheme).ok_or_else(|| bad("a port is required for this scheme"))?;
            (n, n)
        }
    };
    // Host names are compared without regard to case, as DNS does.
    Ok(Pattern {
        scheme: scheme.to_ascii_lowercase(),
        host: host.to_ascii_lowercase(),
        ports,
    })
}

/// An IPv4 CIDR block as (network, mask).
fn cidr(host: &str) -> Option<(u32, u32)> {
    let (ip, bits) = host.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    Some((u32::from(ip) & mask, mask))
}

/// Checks every entry as Spin does when the app loads.
pub fn validate(entries: &[String]) -> Result<(), String> {
    entries.iter().try_for_each(|e| parse(e).map(drop))
}

/// Whether any of `allowed` lets a request to `uri` out (entries that do
/// not parse allow nothing; [`validate`] refuses them up front).
pub fn allows(allowed: &[String], uri: &http::Uri) -> bool {
    let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let host = host.as_str();
    let Some(port) = uri.port_u16().or_else(|| default_port(scheme)) else {
        return false;
    };
    allowed.iter().filter_map(|e| parse(e).ok()).any(|p| {
        let scheme_ok = p.scheme == "*" || p.scheme == scheme;
        let host_ok = p.host == "*"
            || p.host == host
            || p.host
                .strip_prefix("*.")
                .is_some_and(|d| host.ends_with(&format!(".{d}")))
            || cidr(&p.host).is_some_and(|(net, mask)| {
                host.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| u32::from(ip) & mask == net)
            });
        let port_ok = (p.ports.0..=p.ports.1).contains(&port);
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
        assert!(allowed(
            &["http://127.0.0.1:8000..8100"],
            "http://127.0.0.1:8099/"
        ));
        assert!(!allowed(
            &["http://127.0.0.1:8000..8100"],
            "http://127.0.0.1:8100/"
        ));
        assert!(allowed(&["http://10.0.0.0/8:80"], "http://10.1.2.3/"));
        assert!(!allowed(&["http://10.0.0.0/8:80"], "http://11.1.2.3/"));
        assert!(allowed(
            &["https://Hooks.Example.com"],
            "https://hooks.example.com/"
        ));
        assert!(allowed(&["http://[::1]:8080"], "http://[::1]:8080/x"));
        assert!(!allowed(&["http://[::1]:8080"], "http://[::1]:8081/x"));
    }

    #[test]
    fn refuses_entries_spin_refuses() {
        for bad in [
            "",
            "webhooks.example.com",
            "https://a.example.com/path",
            "ftp://a.example.com",
            "*://a.example.com",
            "https://a.example.com:x",
        ] {
            assert!(validate(&[bad.to_string()]).is_err(), "{bad}");
        }
        assert!(validate(&["https://a.example.com".into(), "*://*:*".into()]).is_ok());
    }
}
