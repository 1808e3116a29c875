//! Routing precedence and the spin-* headers, as a real Spin gives them.

use onboard_test_host::Request;

use crate::support::probe_host;

async fn echo(path: &str) -> (Option<String>, serde_json::Value) {
    let host = probe_host();
    let r = host.send(Request::get(path)).await;
    assert_eq!(r.status, 200, "{path}: {}", r.stderr);
    let headers = r.json()["headers"].clone();
    (r.component, headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_route_beats_wildcard() {
    let (component, headers) = echo("/probe/exact").await;
    assert_eq!(component.as_deref(), Some("exact"));
    assert_eq!(headers["spin-matched-route"], "/probe/exact");
    assert_eq!(headers["spin-component-route"], "/probe/exact");
    assert_eq!(headers["spin-path-info"], "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn param_route_captures_one_segment() {
    let (component, headers) = echo("/items/abc-123?x=1").await;
    assert_eq!(component.as_deref(), Some("param"));
    assert_eq!(headers["spin-path-match-id"], "abc-123");
    assert_eq!(headers["spin-matched-route"], "/items/:id");
    assert_eq!(headers["spin-raw-component-route"], "/items/:id");
    assert_eq!(headers["spin-component-route"], "/items/:id");
    assert_eq!(
        headers["spin-full-url"],
        "http://127.0.0.1:3000/items/abc-123?x=1"
    );
    assert_eq!(headers["spin-base-path"], "/");
    assert_eq!(headers["spin-client-addr"], "127.0.0.1:40000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn param_never_matches_two_segments() {
    let (component, headers) = echo("/items/abc/trap").await;
    assert_eq!(component.as_deref(), Some("items-wildcard"));
    assert_eq!(headers["spin-component-route"], "/items");
    assert_eq!(headers["spin-raw-component-route"], "/items/...");
    assert_eq!(headers["spin-path-info"], "/abc/trap");
    assert!(headers.get("spin-path-match-id").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn param_beats_wildcard_and_longest_prefix_wins() {
    let (component, _) = echo("/items/special").await;
    assert_eq!(component.as_deref(), Some("param"));
    let (component, headers) = echo("/items/special/x/y").await;
    assert_eq!(component.as_deref(), Some("items-special"));
    assert_eq!(headers["spin-path-info"], "/x/y");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_path_is_404_and_method_never_routes() {
    let host = probe_host();
    assert_eq!(host.send(Request::get("/elsewhere")).await.status, 404);
    let r = host
        .send(Request::new(http::Method::PATCH, "/items/a").body("x"))
        .await;
    assert_eq!(r.component.as_deref(), Some("param"));
    assert_eq!(r.json()["method"], "PATCH");
    assert_eq!(r.json()["body"], "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cannot_forge_spin_headers() {
    let host = probe_host();
    let r = host
        .send(Request::get("/items/real").header("spin-path-match-id", "forged"))
        .await;
    assert_eq!(r.json()["headers"]["spin-path-match-id"], "real");
}
