//! What a read costs the host besides its answer. Under Spin each variable
//! is a host call (reading five cost a floor component 14% of its requests
//! per second under wrk), and a counter read through `increment(key, 0)` is
//! a write transaction on Spin's SQLite store: a read asks for the one
//! variable every credential check needs and writes nothing.

use onboard_test_host::Request;
use serde_json::json;

use crate::support::{
    ADMIN_KEY, DEFAULT_HOST, OPERATOR_EMAIL, OPERATOR_PASSWORD, bare_app_host, seed_tenant, sign_in,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_ask_for_token_keys_alone_and_write_nothing() {
    let host = bare_app_host();
    let created = seed_tenant(&host, "default", &[DEFAULT_HOST], OPERATOR_EMAIL);
    let session = sign_in(
        &host,
        &created.application_key,
        OPERATOR_EMAIL,
        OPERATOR_PASSWORD,
    )
    .await;
    let r = host
        .send(
            Request::post("/v2/users/create_customer")
                .header("authorization", &session)
                .json(&json!({"customer": {"organization": {"name": "Acme"},
                                           "user": {"email": "pat@acme.example"}}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let user = r.header("location").unwrap().rsplit('/').next().unwrap();
    for path in [
        "/v2/user/me".to_string(),
        format!("/v2/users/{user}"),
        "/v2/users?per_page=10".to_string(),
        "/v2/organizations?per_page=10".to_string(),
        "/v2/audit/events".to_string(),
    ] {
        let r = host
            .send(Request::get(path.as_str()).header("authorization", &session))
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.variables_read, ["token_keys"], "{path}");
        let writes: Vec<_> = r.kv.0.iter().filter(|(op, _)| op.writes()).collect();
        assert!(writes.is_empty(), "{path} wrote: {writes:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variable_is_read_when_a_request_needs_it() {
    let host = bare_app_host();
    seed_tenant(&host, "default", &[DEFAULT_HOST], OPERATOR_EMAIL);
    let r = host
        .send(
            Request::get("/admin/tenants/default")
                .header("authorization", format!("Bearer {ADMIN_KEY}")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.variables_read.iter().any(|v| v == "admin_key"),
        "{:?}",
        r.variables_read
    );
    // A forwarded request: whether its peer is a trusted proxy decides
    // who the client is, so the proxies are read.
    let r = host
        .send(Request::get("/v2/user/me").header("x-forwarded-for", "198.51.100.7"))
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.variables_read, ["token_keys", "trusted_proxies"]);
}
