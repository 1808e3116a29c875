use onboard_test_host::{FaultAction, FaultRule, Op, Request};
use serde_json::json;

use crate::support::app_host;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_health_reports_version_and_store() {
    let host = app_host();
    let r = host.send(Request::get("/health")).await;
    assert_eq!(r.status, 200, "{}", r.stderr);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION"), "store": "ok" })
    );
    assert_eq!(r.kv.get(Op::Exists), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_get_405_with_allow() {
    let host = app_host();
    for req in [
        Request::post("/health"),
        Request::delete("/health"),
        Request::put("/health"),
    ] {
        let r = host.send(req).await;
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_store_is_503() {
    let host = app_host();
    host.kv
        .faults
        .add_rule(FaultRule::new(FaultAction::Fail).on(Op::Exists));
    let r = host.send(Request::get("/health")).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["store"], "unavailable");
    // The fault was used up: the next probe is healthy again.
    assert_eq!(host.send(Request::get("/health")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_get_the_fallbacks_neutral_404() {
    let host = app_host();
    for path in [
        "/nope",
        "/v2/users/x/y",
        "/admin",
        "/iam/users/1/extra",
        "/",
    ] {
        let r = host.send(Request::post(path)).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(
            r.json(),
            serde_json::json!({"status": 404, "message": "no such endpoint"})
        );
        assert_eq!(r.component.as_deref(), Some("not-found"), "{path}");
    }
}
