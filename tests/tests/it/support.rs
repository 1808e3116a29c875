//! Hosts the tests share: the test-only probe app and the real app.

use std::sync::Arc;

use onboard_test_host::host::workspace_root;
use onboard_test_host::{App, Host, Request, Response};

/// A fresh host (own store file, clock, faults) for the probe app in tests/spin.toml.
pub fn probe_host() -> Arc<Host> {
    let app = App::load(&workspace_root().join("tests").join("spin.toml")).expect("probe app");
    Host::new(app, &[("secret_key", "s3cret")]).expect("probe host")
}

/// The operator key the test hosts are started with.
pub const OPERATOR_KEY: &str = "test-operator-key";

/// A fresh host for the real app in spin.toml (cheap password hashing).
pub fn app_host() -> Arc<Host> {
    Host::new(
        App::main().expect("app"),
        &[
            ("operator_key", OPERATOR_KEY),
            ("password_hash_params", "m=64,t=1,p=1"),
        ],
    )
    .expect("app host")
}

/// Sends the same request `n` times at once and returns every response.
pub async fn concurrently(
    host: &Arc<Host>,
    n: usize,
    make: impl Fn(usize) -> Request,
) -> Vec<Response> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let host = host.clone();
            let req = make(i);
            tokio::spawn(async move { host.send(req).await })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}
