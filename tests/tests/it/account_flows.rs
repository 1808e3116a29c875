//! Invitation, confirmation and password reset through the wasm components,
//! with every message delivered to a webhook receiver this test runs: signed
//! as Standard Webhooks says, retried after failures on the schedule, sent
//! only where `allowed_outbound_hosts` allows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onboard_shared::idm::outbox;
use onboard_test_host::{App, Host, Request, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::create_customer::{new_org_body, post};
use crate::identity::app_key;
use crate::support::{ADMIN_KEY, APP_VALUES, concurrently, operator_auth, sign_in, with_operator};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivered {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A webhook receiver on a loopback port: it answers 503 to the first
/// `failures` requests, then 204, and keeps every request.
struct Receiver {
    port: u16,
    seen: Arc<Mutex<Vec<Delivered>>>,
}

impl Receiver {
    async fn start(failures: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let left = Arc::new(AtomicUsize::new(failures));
        let (log, left2) = (seen.clone(), left.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (log, left) = (log.clone(), left2.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    log.lock().unwrap().push(request);
                    let fail = left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let status = if fail {
                        "503 Service Unavailable"
                    } else {
                        "204 No Content"
                    };
                    let _ = socket
                        .write_all(
                            format!(
                                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            )
                            .as_bytes(),
                        )
                        .await;
                });
            }
        });
        Receiver { port, seen }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Delivered> {
        self.seen.lock().unwrap().clone()
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Delivered> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers.get("content-length")?.parse().ok()?;
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Delivered {
        headers,
        body: buf[head_end..head_end + length].to_vec(),
    })
}

/// The app with tenant `default` and its operator, its deliveries allowed
/// to `origin`.
fn host_allowing(origin: &str) -> Arc<Host> {
    let mut values = APP_VALUES.to_vec();
    values.push(("webhook_origin", origin));
    with_operator(crate::support::checked(
        Host::new(App::main().expect("app"), &values).expect("app host"),
    ))
}

fn admin_patch(body: Value) -> Request {
    Request::new(http::Method::PATCH, "/admin/tenants/default")
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .json(&body)
}

fn deliver() -> Request {
    Request::post("/admin/outbox/deliver").header("authorization", operator_auth())
}

async fn pass(host: &Host) -> Value {
    let r = host.send(deliver()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    LOGS.lock()
        .unwrap()
        .push(format!("{}{}", r.stdout, r.stderr));
    r.json()
}

/// Everything the delivering component wrote to its log, to check that no
/// token or secret is in it.
static LOGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn logged(secret: &str) -> bool {
    LOGS.lock().unwrap().iter().any(|l| l.contains(secret))
}

/// Sets the tenant's webhook to the receiver and returns its secret.
async fn webhook(host: &Host, receiver: &Receiver) -> Vec<u8> {
    let url = format!("{}/hooks/onboard", receiver.origin());
    let r = host
        .send(admin_patch(json!({"webhook": {"url": url}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["webhook"]["url"], url);
    let secret = r.json()["webhook"]["secret"].as_str().unwrap().to_string();
    let r = host
        .send(
            Request::get("/admin/tenants/default")
                .header("authorization", format!("Bearer {ADMIN_KEY}")),
        )
        .await;
    assert_eq!(
        r.json()["webhook"],
        json!({"url": url}),
        "the secret is shown once"
    );
    assert!(
        !host
            .kv
            .dump("default")
            .iter()
            .any(|(_, v)| v.windows(secret.len()).any(|w| w == secret.as_bytes())),
        "the webhook secret is stored sealed"
    );
    outbox::parse_secret(&secret).expect("a whsec_ secret")
}

/// Checks a delivery's Standard Webhooks signature and returns its data.
fn verified(d: &Delivered, secret: &[u8]) -> Value {
    let id = &d.headers["webhook-id"];
    let timestamp: i64 = d.headers["webhook-timestamp"].parse().unwrap();
    assert_eq!(
        d.headers["webhook-signature"],
        outbox::signature(secret, id, timestamp, &d.body)
    );
    assert_eq!(d.headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&d.body).unwrap();
    body["data"].clone()
}

fn with_key(req: Request, key: &str) -> Request {
    req.header("x-api-key", key)
}

async fn send_with_key(host: &Host, key: &str, req: Request) -> Response {
    host.send(with_key(req, key)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_is_delivered_signed_after_retries_and_accepted_once() {
    let receiver = Receiver::start(2).await;
    let host = host_allowing(&receiver.origin());
    let key = app_key(&host).await;
    let secret = webhook(&host, &receiver).await;

    // A user created without a password is invited.
    let mut body = new_org_body("invited@example.com");
    body["customer"]["user"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with("password"));
    let r = host.send(post(&body)).await;
    assert_eq!(r.status, 201, "{}", r.text());

    // The receiver fails twice: the message waits 5 s, then 5 min.
    assert_eq!(
        pass(&host).await,
        json!({"attempted": 1, "delivered": 0, "failed": 0, "pending": 1})
    );
    assert_eq!(pass(&host).await["attempted"], 0, "not due yet");
    host.clock.advance(Duration::from_secs(5));
    assert_eq!(pass(&host).await["attempted"], 1);
    host.clock.advance(Duration::from_secs(299));
    assert_eq!(pass(&host).await["attempted"], 0);
    host.clock.advance(Duration::from_secs(1));
    assert_eq!(
        pass(&host).await,
        json!({"attempted": 1, "delivered": 1, "failed": 0, "pending": 0})
    );
    assert_eq!(pass(&host).await["attempted"], 0, "delivered once");

    let seen = receiver.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter()
            .all(|d| d.headers["webhook-id"] == seen[0].headers["webhook-id"]),
        "a retry keeps its webhook-id"
    );
    let data = verified(&seen[2], &secret);
    assert_eq!(
        (data["kind"].clone(), data["to"].clone()),
        (json!("invitation"), json!("invited@example.com"))
    );
    let token = data["token"].as_str().unwrap().to_string();

    // The delivery log, with no token once delivered.
    let r = host
        .send(Request::get("/admin/outbox").header("authorization", operator_auth()))
        .await;
    let message = r.json()["messages"][0].clone();
    assert_eq!(message["status"], "delivered");
    assert_eq!(message["token"], Value::Null);
    let statuses: Vec<Value> = message["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(503), json!(503), json!(204)]);
    for (_, v) in host.kv.dump("default") {
        assert!(
            !v.windows(token.len()).any(|w| w == token.as_bytes()),
            "no token in the store"
        );
    }
    assert!(!logged(&token), "no token in the log");

    // Not signed in until accepted.
    let r = send_with_key(
        &host,
        &key,
        Request::post("/auth/sign_in")
            .json(&json!({"username": "invited@example.com", "password": "whatever-1"})),
    )
    .await;
    assert_eq!(r.status, 401);

    // The pre-accept check, then the acceptance.
    let r = send_with_key(
        &host,
        &key,
        Request::get(format!("/auth/invitation?invitation_token={token}")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], "invited@example.com");
    assert_eq!(r.json()["organization"]["name"], "Acme");
    let accept = |password: &str, confirmation: &str| {
        with_key(Request::put("/auth/invitation"), &key).json(&json!({
            "invitation_token": token, "password": password,
            "password_confirmation": confirmation,
        }))
    };
    let r = host.send(accept("short", "short")).await;
    assert_eq!(r.status, 422, "the tenant's password policy: {}", r.text());
    let r = host.send(accept("long-enough-1", "another-one-1")).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let answers = concurrently(&host, 2, |_| accept("long-enough-1", "long-enough-1")).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 422], "an invitation is accepted once");
    let accepted = answers.iter().find(|r| r.status == 200).unwrap();
    assert_eq!(accepted.json()["username"], "invited@example.com");
    assert_eq!(accepted.json()["verified"], true);
    let me = host
        .send(Request::get("/v2/user/me").header(
            "authorization",
            format!("Bearer {}", accepted.json()["token"].as_str().unwrap()),
        ))
        .await;
    assert_eq!(me.status, 200, "the acceptance signs the user in");
    sign_in(&host, &key, "invited@example.com", "long-enough-1").await;
    let r = send_with_key(
        &host,
        &key,
        Request::get(format!("/auth/invitation?invitation_token={token}")),
    )
    .await;
    assert_eq!(r.status, 422, "a spent invitation shows nothing");

    // An invitation expires (7 days by default).
    let mut body = new_org_body("late@example.com");
    body["customer"]["user"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with("password"));
    assert_eq!(host.send(post(&body)).await.status, 201);
    assert_eq!(pass(&host).await["delivered"], 1);
    let late = verified(receiver.seen().last().unwrap(), &secret)["token"]
        .as_str()
        .unwrap()
        .to_string();
    host.clock.advance(Duration::from_secs(7 * 24 * 3600));
    let r = host.send(accept_with(&key, &late, "long-enough-2")).await;
    assert_eq!(
        (r.status, r.json()["errors"]["invitation_token"].clone()),
        (422, json!(["is invalid or has expired"]))
    );
}

fn accept_with(key: &str, token: &str, password: &str) -> Request {
    with_key(Request::put("/auth/invitation"), key).json(&json!({
        "invitation_token": token, "password": password,
        "password_confirmation": password,
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_and_reset_tokens_work_once_and_expire() {
    let receiver = Receiver::start(0).await;
    let host = host_allowing(&receiver.origin());
    let key = app_key(&host).await;
    let secret = webhook(&host, &receiver).await;
    let next_token = |kind: &'static str| {
        let (host, receiver, secret) = (host.clone(), &receiver, secret.clone());
        async move {
            let r = pass(&host).await;
            assert_eq!(r["delivered"], 1, "{r}");
            let data = verified(receiver.seen().last().unwrap(), &secret);
            assert_eq!(data["kind"], kind);
            data["token"].as_str().unwrap().to_string()
        }
    };

    // Confirmation: a user with a password and `confirmed` unset.
    let r = host.send(post(&new_org_body("pat@example.com"))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let token = next_token("confirmation").await;
    let show = Request::get(format!("/auth/confirmation?confirmation_token={token}"));
    let r = send_with_key(&host, &key, show.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (r.json()["username"].clone(), r.json()["verified"].clone()),
        (json!("pat@example.com"), json!(false))
    );
    let confirm = Request::post("/auth/confirmation").json(&json!({"confirmation_token": token}));
    let r = send_with_key(&host, &key, confirm.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["verified"], true);
    let r = send_with_key(&host, &key, confirm.clone()).await;
    assert_eq!(
        (r.status, r.json()["errors"]["confirmation_token"].clone()),
        (422, json!(["is invalid or has expired"]))
    );
    let forged = format!("{}0", &token[..token.len() - 1]);
    let r = send_with_key(
        &host,
        &key,
        Request::post("/auth/confirmation").json(&json!({"confirmation_token": forged})),
    )
    .await;
    assert_eq!(r.status, 422);
    let r = host.send(confirm).await;
    assert_eq!(r.status, 401, "the application key names the tenant");
    // A confirmation expires (3 days by default).
    let r = host.send(post(&new_org_body("slow@example.com"))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let slow = next_token("confirmation").await;
    host.clock.advance(Duration::from_secs(3 * 24 * 3600));
    let r = send_with_key(
        &host,
        &key,
        Request::post("/auth/confirmation").json(&json!({"confirmation_token": slow})),
    )
    .await;
    assert_eq!(r.status, 422, "an expired confirmation: {}", r.text());

    // Forgot password: one answer, whether or not the email exists.
    let forgot = |email: &str| {
        with_key(Request::post("/auth/password"), &key).json(&json!({"email": email}))
    };
    let known = host.send(forgot("PAT@example.com")).await;
    let unknown = host.send(forgot("nobody@example.com")).await;
    assert_eq!((known.status, unknown.status), (200, 200));
    assert_eq!(known.json(), unknown.json());
    let token = next_token("password_reset").await;
    assert_eq!(
        pass(&host).await["attempted"],
        0,
        "nothing for an unknown email"
    );

    // A reset ends every session and access token the user held.
    let session = sign_in(&host, &key, "pat@example.com", "password123").await;
    let r = host
        .send(Request::put("/v2/user/generate_access_token").header("authorization", &session))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let access = format!("Basic {}", r.json()["token"].as_str().unwrap());
    let me = |auth: &str| Request::get("/v2/user/me").header("authorization", auth);
    assert_eq!(host.send(me(&access)).await.status, 200);
    let reset = |token: &str, password: &str| {
        with_key(Request::put("/auth/password"), &key).json(&json!({
            "reset_password_token": token, "password": password,
            "password_confirmation": password,
        }))
    };
    let answers = concurrently(&host, 2, |_| reset(&token, "brand-new-pass-1")).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 422], "a reset token works once");
    assert_eq!(
        host.send(me(&session)).await.status,
        401,
        "the session ended"
    );
    assert_eq!(
        host.send(me(&access)).await.status,
        401,
        "the access token ended"
    );
    let r = send_with_key(
        &host,
        &key,
        Request::post("/auth/sign_in")
            .json(&json!({"username": "pat@example.com", "password": "password123"})),
    )
    .await;
    assert_eq!(r.status, 401, "the old password is gone");
    let fresh = sign_in(&host, &key, "pat@example.com", "brand-new-pass-1").await;
    assert_eq!(host.send(me(&fresh)).await.status, 200);

    // A reset ends the reset tokens issued before it, and an email change
    // ends the tokens sent to the old address.
    assert_eq!(host.send(forgot("pat@example.com")).await.status, 200);
    let older = next_token("password_reset").await;
    assert_eq!(host.send(forgot("pat@example.com")).await.status, 200);
    let newer = next_token("password_reset").await;
    let r = host.send(reset(&newer, "brand-new-pass-2")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host.send(reset(&older, "brand-new-pass-3")).await;
    assert_eq!(r.status, 422, "an older reset token died with the reset");
    // (Three reset messages a user per 15 minutes: this is the fourth.)
    assert_eq!(host.send(forgot("pat@example.com")).await.status, 200);
    assert_eq!(
        pass(&host).await["attempted"],
        0,
        "over the limit, nothing is sent"
    );
    host.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(host.send(forgot("pat@example.com")).await.status, 200);
    let sent_to_old = next_token("password_reset").await;
    let user_id = verified(receiver.seen().last().unwrap(), &secret)["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = host
        .send(
            Request::put(format!("/v2/users/{user_id}"))
                .header("authorization", operator_auth())
                .json(&json!({"user": {"email": "pat.new@example.com"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host
        .send(Request::get(format!("/v2/users/{user_id}")).header("authorization", operator_auth()))
        .await;
    assert_eq!(
        r.json()["data"]["attributes"]["email"],
        "pat@example.com",
        "the change waits for the new address"
    );
    // The old address is told; the new one gets the confirmation.
    let r = pass(&host).await;
    assert_eq!(r["delivered"], 2, "{r}");
    let seen = receiver.seen();
    let sent: Vec<Value> = seen[seen.len() - 2..]
        .iter()
        .map(|d| verified(d, &secret))
        .collect();
    let notice = sent.iter().find(|d| d["kind"] == "email_changed").unwrap();
    assert_eq!(
        (
            notice["to"].clone(),
            notice["new_email"].clone(),
            notice["token"].clone()
        ),
        (
            json!("pat@example.com"),
            json!("pat.new@example.com"),
            Value::Null
        )
    );
    let confirmation = sent.iter().find(|d| d["kind"] == "confirmation").unwrap();
    assert_eq!(confirmation["to"], "pat.new@example.com");
    let reconfirm = confirmation["token"].as_str().unwrap().to_string();
    // Until it is confirmed: the old address signs in, the new one gets no reset.
    sign_in(&host, &key, "pat@example.com", "brand-new-pass-2").await;
    assert_eq!(host.send(forgot("pat.new@example.com")).await.status, 200);
    assert_eq!(
        pass(&host).await["attempted"],
        0,
        "no reset for an unproven address"
    );
    let show = Request::get(format!("/auth/confirmation?confirmation_token={reconfirm}"));
    let r = send_with_key(&host, &key, show).await;
    assert_eq!(
        (r.json()["username"].clone(), r.json()["verified"].clone()),
        (json!("pat.new@example.com"), json!(false))
    );
    let r = send_with_key(
        &host,
        &key,
        Request::post("/auth/confirmation").json(&json!({"confirmation_token": reconfirm})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], "pat.new@example.com");
    let r = host.send(reset(&sent_to_old, "brand-new-pass-4")).await;
    assert_eq!(r.status, 422, "a token sent to the old address died");
    sign_in(&host, &key, "pat.new@example.com", "brand-new-pass-2").await;

    // A reset token expires (6 hours by default; the tenant may change it).
    let r = host
        .send(admin_patch(json!({"token_ttl": {"reset_minutes": 30}})))
        .await;
    assert_eq!(r.json()["token_ttl"]["reset_minutes"], 30);
    host.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(host.send(forgot("pat.new@example.com")).await.status, 200);
    let token = next_token("password_reset").await;
    host.clock.advance(Duration::from_secs(30 * 60));
    let r = host.send(reset(&token, "another-pass-12")).await;
    assert_eq!(
        (r.status, r.json()["errors"]["reset_password_token"].clone()),
        (422, json!(["is invalid or has expired"]))
    );
    sign_in(&host, &key, "pat.new@example.com", "brand-new-pass-2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_go_only_where_allowed_outbound_hosts_allows() {
    let receiver = Receiver::start(0).await;
    // The app's default webhook_origin allows no real host.
    let host = host_allowing("https://webhooks.invalid");
    webhook(&host, &receiver).await;
    let r = host.send(post(&new_org_body("denied@example.com"))).await;
    assert_eq!(r.status, 201);
    assert_eq!(pass(&host).await["pending"], 1);
    assert!(receiver.seen().is_empty(), "no request left the component");
    let r = host
        .send(Request::get("/admin/outbox").header("authorization", operator_auth()))
        .await;
    let attempt = r.json()["messages"][0]["attempts"][0].clone();
    assert_eq!(
        (attempt["status"].clone(), attempt["error"].clone()),
        (Value::Null, json!("HttpRequestDenied"))
    );

    // Without a webhook, operators read the messages (with their tokens).
    let r = host.send(admin_patch(json!({"webhook": null}))).await;
    assert_eq!(r.json()["webhook"], Value::Null);
    let r = host.send(deliver()).await;
    assert_eq!(r.status, 409, "{}", r.text());
    let r = host
        .send(Request::get("/admin/outbox").header("authorization", operator_auth()))
        .await;
    assert!(r.json()["messages"][0]["token"].is_string());

    let bad = [
        json!({"webhook": {"url": "ftp://example.com/x"}}),
        json!({"webhook": {"url": "http://user:pw@example.com/x"}}),
        json!({"webhook": {"url": "https://example.com/x", "secret": "not-a-secret"}}),
        json!({"token_ttl": {"reset_minutes": 0}}),
    ];
    for body in bad {
        let r = host.send(admin_patch(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
    }
}
