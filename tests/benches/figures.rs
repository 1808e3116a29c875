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
    for (component, bytes) in app.wasm_sizes() {
        println!("size {component}: {} KiB", bytes / 1024);
    }
    let started = Instant::now();
    app.precompile_all().expect("compile");
    println!("compile all components: {:.1?}", started.elapsed());

    let host = Host::new(app, &[("operator_key", "k")]).expect("host");
    let mut samples = Vec::new();
    let mut calls = 0;
    for i in 0..40 {
        let body = json!({ "customer": {
            "organization": { "name": "Acme" },
            "user": { "email": format!("bench{i}@example.com"), "password": "password123",
                      "password_confirmation": "password123" } } });
        let req = Request::post("/v2/users/create_customer")
            .header("authorization", "Bearer k")
            .json(&body);
        let t = Instant::now();
        let r = host.send(req).await;
        samples.push(t.elapsed());
        assert_eq!(r.status, 201, "{}", r.text());
        calls = r.kv.total();
    }
    samples.sort();
    println!(
        "create_customer (argon2id m=19456,t=2,p=1): p50 {:.1?}, p95 {:.1?}, {calls} key-value calls",
        samples[samples.len() / 2],
        samples[samples.len() * 95 / 100]
    );
    let t = Instant::now();
    for _ in 0..200 {
        host.send(Request::get("/health")).await;
    }
    println!("GET /health: {:.2?} per request", t.elapsed() / 200);
}
