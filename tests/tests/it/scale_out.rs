//! Many replicas over one store (`spin up` behind a load balancer, or
//! SpinKube pods): two test-host servers on two loopback ports share the
//! store the suite runs on (Redis in CI's Redis phase), and a Redis that goes
//! away and comes back loses nothing acknowledged.

use std::net::SocketAddr;
use std::sync::Arc;

use onboard_test_host::kv::KvEngine;
use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::create_customer::{new_org_body, post};
use crate::gcore_auth::login;
use crate::identity::app_key;
use crate::support::{
    ADMIN_KEY, DEFAULT_HOST, OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host, app_host_on,
    operator_auth,
};

/// Sends `req` over HTTP/1.1 to a server on `addr`, as a load balancer would.
async fn over_http(addr: SocketAddr, req: Request) -> Response {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {DEFAULT_HOST}\r\nconnection: close\r\ncontent-length: {}\r\n",
        req.method,
        req.path_and_query,
        req.body.len()
    )
    .into_bytes();
    for (name, value) in &req.headers {
        head.extend_from_slice(format!("{name}: ").as_bytes());
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&req.body);
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&head).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let mut headers = http::HeaderMap::new();
    for line in head.lines().skip(1) {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.trim().as_bytes()),
                http::HeaderValue::from_str(value.trim()),
            )
        {
            headers.append(n, v);
        }
    }
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
        component: None,
        kv: Default::default(),
        variables_read: Vec::new(),
        stdout: String::new(),
        stderr: String::new(),
    }
}

/// Two replicas of the app over one store, each served on its own port.
async fn two_replicas(host: &Arc<Host>) -> [SocketAddr; 2] {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let a = onboard_test_host::serve::serve(host.clone(), loopback)
        .await
        .expect("serve replica a");
    let b = onboard_test_host::serve::serve(host.replica().expect("replica"), loopback)
        .await
        .expect("serve replica b");
    [a, b]
}

/// Sends `n` requests at once, alternating between the replicas.
async fn split_across(
    replicas: [SocketAddr; 2],
    n: usize,
    make: impl Fn(usize) -> Request,
) -> Vec<Response> {
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(over_http(replicas[i % 2], make(i))))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

fn statuses(responses: &[Response]) -> Vec<u16> {
    responses.iter().map(|r| r.status).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_creates_of_one_email_across_two_replicas_give_one_201() {
    let host = app_host();
    let replicas = two_replicas(&host).await;
    let responses = split_across(replicas, 50, |_| post(&new_org_body("twice@example.com"))).await;
    let all = statuses(&responses);
    assert_eq!(all.iter().filter(|s| **s == 201).count(), 1, "{all:?}");
    assert!(all.iter().all(|s| [201, 409, 422].contains(s)), "{all:?}");
    // Both replicas see the one user.
    for addr in replicas {
        let r = over_http(addr, post(&new_org_body("twice@example.com"))).await;
        assert!([409, 422].contains(&r.status), "{}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_across_replicas_have_one_winner() {
    let host = app_host();
    let replicas = two_replicas(&host).await;
    let pair = login(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let responses = split_across(replicas, 8, |_| {
        Request::post("/iam/auth/jwt/refresh").json(&json!({"refresh": pair["refresh"]}))
    })
    .await;
    let all = statuses(&responses);
    assert_eq!(all.iter().filter(|s| **s == 200).count(), 1, "{all:?}");
    assert!(all.iter().all(|s| [200, 401].contains(s)), "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_ended_on_one_replica_fails_on_the_other() {
    let host = app_host();
    let [a, b] = two_replicas(&host).await;
    let key = app_key(&host).await;
    let r = over_http(
        a,
        Request::post("/auth/sign_in")
            .header("x-api-key", &key)
            .json(&json!({"username": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let auth = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    let me = || Request::get("/v2/user/me").header("authorization", &auth);
    let before = over_http(b, me()).await;
    assert_eq!(before.status, 200, "{}", before.text());
    let out = over_http(
        a,
        Request::delete("/auth/sign_out").header("authorization", &auth),
    )
    .await;
    assert_eq!(out.status, 200, "{}", out.text());
    let after = over_http(b, me()).await;
    assert_eq!(after.status, 401, "{}", after.text());
}

/// A redis-server of the test's own (append-only, fsync on every write), so
/// the test can kill it and start it again over the same files.
struct OwnRedis {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    /// `None` only when no `redis-server` is installed and neither CI nor
    /// the Redis phase asked for this test; any other failure to start is a
    /// test failure.
    fn start() -> Option<Self> {
        let installed = std::process::Command::new("redis-server")
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok();
        if !installed {
            let required = std::env::var_os("CI").is_some()
                || std::env::var_os(onboard_test_host::kv::TEST_KV_VAR).is_some();
            assert!(!required, "redis-server is not installed (CI installs it)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Self {
            dir: tempfile::tempdir().expect("a directory for the append-only file"),
            port,
            child: None,
        };
        redis.spawn();
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts redis-server over this directory and waits until this very
    /// process answers `PING`.
    fn spawn(&mut self) {
        let mut child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        for _ in 0..250 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "redis-server exited at start ({status}): port {} taken?",
                    self.port
                );
            }
            let answered = redis::Client::open(self.url())
                .and_then(|c| c.get_connection_with_timeout(std::time::Duration::from_millis(200)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if answered.is_ok() {
                self.child = Some(child);
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        panic!("redis-server did not answer PING on port {}", self.port);
    }

    /// SIGKILL: no clean shutdown, so only what was fsynced survives.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One request of each family that reads the store, and its status once
/// the store answers.
fn one_per_family(gcore_bearer: &str) -> Vec<(Request, u16)> {
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret=s",
        uuid::Uuid::new_v4()
    );
    vec![
        (
            Request::get("/v2/user/me").header("authorization", operator_auth()),
            200,
        ),
        (
            Request::post("/oauth2/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form),
            401,
        ),
        (
            Request::post("/auth/login")
                .json(&json!({"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
            200,
        ),
        (
            Request::get("/iam/clients/me").header("authorization", gcore_bearer),
            200,
        ),
        (
            Request::get("/admin/tenants/default")
                .header("authorization", format!("Bearer {ADMIN_KEY}")),
            200,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_loses_nothing_acknowledged_and_an_outage_is_a_503() {
    let Some(mut redis) = OwnRedis::start() else {
        // Written reason: this test runs its own redis-server; CI installs one
        // (.ci/run, and then this test is required), a developer machine may
        // not have it.
        eprintln!("skipped: no redis-server on PATH");
        return;
    };
    let host = app_host_on(KvEngine::redis(&redis.url()).expect("own redis"));
    let created = host.send(post(&new_org_body("durable@example.com"))).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let gcore = login(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let gcore = format!("Bearer {}", gcore["access"].as_str().unwrap());

    redis.kill();
    // Down: every family answers 503 in its own error shape.
    for (req, _) in one_per_family(&gcore) {
        let path = req.path_and_query.clone();
        let r = host.send(req).await;
        assert_eq!(r.status, 503, "{path}: {}", r.text());
        let body: Value = r.json();
        // Each family's own error fields (the conformance check also
        // matches the body against the family's schema).
        let shape = match path.as_str() {
            "/v2/user/me" => body["status"] == 503 && body["status_text"] == "Service Unavailable",
            "/oauth2/token" => body["statusCode"] == 503 && body["type"] == "ServiceUnavailable",
            "/auth/login" => body["httpStatus"] == 503 && body["success"] == false,
            "/iam/clients/me" => body.is_object() && !body.as_object().unwrap().is_empty(),
            _ => body["status"] == 503 && body["title"].is_string(),
        };
        assert!(shape, "{path}: the family's 503 shape: {}", r.text());
        assert!(
            !r.text().contains("redis") && !r.text().contains("127.0.0.1"),
            "{path}: no store internals leak: {}",
            r.text()
        );
    }
    let lost = host.send(post(&new_org_body("lost@example.com"))).await;
    assert_eq!(lost.status, 503, "{}", lost.text());

    redis.spawn();
    // Back: the next request of each family succeeds, and what was
    // acknowledged before the crash is all there.
    for (req, status) in one_per_family(&gcore) {
        let path = req.path_and_query.clone();
        let r = host.send(req).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
    }
    let again = host.send(post(&new_org_body("durable@example.com"))).await;
    assert!(
        [409, 422].contains(&again.status),
        "the user made before the restart still holds its email: {}",
        again.text()
    );
    let fresh = host.send(post(&new_org_body("after@example.com"))).await;
    assert_eq!(fresh.status, 201, "{}", fresh.text());
}
