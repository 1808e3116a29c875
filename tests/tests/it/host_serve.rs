//! The host serves real HTTP on loopback, for real clients.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::probe_host;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_http_on_a_loopback_port() {
    let host = probe_host();
    let addr = onboard_test_host::serve::serve(host, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /items/42 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let body = raw.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["method"], "POST");
    assert_eq!(json["body"], "hi");
    assert_eq!(json["headers"]["spin-path-match-id"], "42");
}
