//! Prints Onboard's figures: component sizes and per-request cost of
//! create_customer with production password hashing. A benchmark, not a test:
//! it asserts nothing and prints numbers.
//!
//! `cargo bench -p onboard-test-host --bench figures`
//! (`ONBOARD_WASM_PROFILE=release` measures the shipping build.)

use std::time::Instant;

use onboard_test_host::{App, Host, Request};
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let app = App::main().expect("app");
    println!("profile: {}", onboard_test_host::host::wasm_profile());
    println!(
        "key-value provider: {}",
        std::env::var(onboard_test_host::kv::TEST_KV_VAR)
            .map(|url| format!("redis ({url})"))
            .unwrap_or_else(|_| "sqlite".into())
    );
    for (component, bytes) in app.wasm_sizes() {
        println!("size {component}: {} KiB", bytes / 1024);
    }
    let started = Instant::now();
    app.precompile_all().expect("compile");
    println!("compile all components: {:.1?}", started.elapsed());

    let host = Host::new(
        app,
        &[
            ("admin_key", "bench-admin-key"),
            ("token_keys", "b1:bench-token-key-0123456789"),
        ],
    )
    .expect("host");
    let r = host
        .send(
            Request::post("/admin/tenants")
                .header("authorization", "Bearer bench-admin-key")
                .json(
                    &json!({"id": "bench", "name": "Bench", "domains": ["127.0.0.1"],
                    "operator": {"email": "op@bench.test", "password": "bench-password-1"}}),
                ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let app_key = r.json()["application_key"].as_str().unwrap().to_string();
    let mut sign_ins = Vec::new();
    let mut token = String::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = host
            .send(
                Request::post("/auth/sign_in")
                    .header("x-api-key", &app_key)
                    .json(&json!({"username": "op@bench.test", "password": "bench-password-1"})),
            )
            .await;
        sign_ins.push(t.elapsed());
        assert_eq!(r.status, 200, "{}", r.text());
        token = r.json()["token"].as_str().unwrap().to_string();
    }
    sign_ins.sort();
    println!(
        "POST /auth/sign_in (argon2id verify): p50 {:.1?}",
        sign_ins[sign_ins.len() / 2]
    );
    let auth = format!("Bearer {token}");
    let t = Instant::now();
    let mut me_calls = 0;
    for _ in 0..100 {
        let r = host
            .send(Request::get("/v2/user/me").header("authorization", &auth))
            .await;
        assert_eq!(r.status, 200);
        me_calls = r.kv.total();
    }
    println!(
        "GET /v2/user/me (bearer session): {:.2?} per request, {me_calls} key-value calls",
        t.elapsed() / 100
    );
    let mut samples = Vec::new();
    let mut calls = 0;
    let mut location = String::new();
    for i in 0..60 {
        let body = json!({ "customer": {
            "organization": { "name": "Acme" },
            "user": { "email": format!("bench{i}@example.com"), "password": "password123",
                      "password_confirmation": "password123" } } });
        let req = Request::post("/v2/users/create_customer")
            .header("authorization", &auth)
            .json(&body);
        let t = Instant::now();
        let r = host.send(req).await;
        samples.push(t.elapsed());
        assert_eq!(r.status, 201, "{}", r.text());
        calls = r.kv.total();
        location = r.header("location").unwrap_or_default().to_string();
    }
    samples.sort();
    println!(
        "create_customer (argon2id m=19456,t=2,p=1): p50 {:.1?}, p95 {:.1?}, {calls} key-value calls",
        samples[samples.len() / 2],
        samples[samples.len() * 95 / 100]
    );
    for (name, path) in [
        ("GET /v2/users/{id}", location.as_str()),
        ("GET /v2/users?per_page=50", "/v2/users?per_page=50"),
    ] {
        let mut samples = Vec::new();
        let mut calls = 0;
        for _ in 0..50 {
            let t = Instant::now();
            let r = host
                .send(Request::get(path).header("authorization", &auth))
                .await;
            samples.push(t.elapsed());
            assert_eq!(r.status, 200, "{}", r.text());
            calls = r.kv.total();
        }
        samples.sort();
        println!(
            "{name}: p50 {:.2?}, {calls} key-value calls",
            samples[samples.len() / 2]
        );
    }
    let t = Instant::now();
    for _ in 0..200 {
        host.send(Request::get("/health")).await;
    }
    println!("GET /health: {:.2?} per request", t.elapsed() / 200);
}
