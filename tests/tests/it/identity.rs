//! Identity and access through the wasm components: the admin bootstrap,
//! Clone sign-in, sessions, access tokens, throttling, lifecycle and the
//! token checks every family relies on.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use onboard_shared::credential::secrets::{self, Keys};
use onboard_test_host::{Host, Op, Request, Response};
use serde_json::{Value, json};

use crate::support::{
    ADMIN_KEY, OPERATOR_EMAIL, OPERATOR_PASSWORD, OPERATOR_TOKEN, TOKEN_KEYS, app_host,
    bare_app_host, concurrently, operator_auth, sign_in,
};

fn admin(path: &str, body: &Value) -> Request {
    Request::post(path)
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .json(body)
}

fn tenant_body(id: &str, domain: &str, email: &str) -> Value {
    json!({"id": id, "name": format!("Tenant {id}"), "domains": [domain],
           "operator": {"email": email, "password": OPERATOR_PASSWORD, "first_name": "Op"}})
}

fn me(auth: &str) -> Request {
    Request::get("/v2/user/me").header("authorization", auth)
}

/// The application key of tenant `default` (rotated, so the test knows it).
pub async fn app_key(host: &Host) -> String {
    let r = host
        .send(
            Request::new(http::Method::PATCH, "/admin/tenants/default")
                .header("authorization", format!("Bearer {ADMIN_KEY}"))
                .json(&json!({"rotate_application_key": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["application_key"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admin_creates_a_tenant_whose_operator_signs_in() {
    let host = bare_app_host();
    let r = host
        .send(admin(
            "/admin/tenants",
            &tenant_body("acme", "portal.acme.test", "op@acme.test"),
        ))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    assert_eq!(body["id"], "acme");
    assert_eq!(body["domains"], json!(["portal.acme.test"]));
    assert_eq!(body["operator"]["role"], "operator");
    let key = body["application_key"].as_str().unwrap().to_string();

    // The operator signs in on the tenant's host with its application key.
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("host", "portal.acme.test")
                .header("x-api-key", &key)
                .json(&json!({"username": "op@acme.test", "password": OPERATOR_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let signed = r.json();
    assert_eq!(signed["status"], 200);
    assert_eq!(signed["status_text"], "OK");
    assert_eq!(signed["username"], "op@acme.test");
    assert_eq!(signed["role"], "Super Admin");
    assert_eq!(signed["sign_in_count"], 1);
    assert_eq!(signed["provider"], "email");
    assert_eq!(signed["organization"]["name"], "Tenant acme");
    let auth = format!("Bearer {}", signed["token"].as_str().unwrap());
    let r = host
        .send(me(&auth).header("host", "portal.acme.test"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let attrs = &r.json()["data"]["attributes"];
    assert_eq!(attrs["email"], "op@acme.test");
    assert_eq!(attrs["sign_in_count"], 1);
    assert_eq!(attrs["last_sign_in_ip"], "127.0.0.1");
    // The session token creates customers in its tenant.
    let r = host
        .send(
            Request::post("/v2/users/create_customer")
                .header("host", "portal.acme.test")
                .header("authorization", &auth)
                .json(&crate::create_customer::new_org_body("first@acme.test")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = host
        .send(
            Request::get(r.header("location").unwrap())
                .header("host", "portal.acme.test")
                .header("authorization", &auth),
        )
        .await;
    assert_eq!(r.json()["data"]["attributes"]["email"], "first@acme.test");

    // The same id or domain again: 409 naming the field; a wrong key: 401.
    let r = host
        .send(admin(
            "/admin/tenants",
            &tenant_body("acme", "other.acme.test", "x@acme.test"),
        ))
        .await;
    assert_eq!(
        (r.status, r.json()["errors"]["id"][0].clone()),
        (409, json!("has already been taken"))
    );
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let r = host
        .send(admin(
            "/admin/tenants",
            &tenant_body("acme2", "portal.acme.test", "x@acme.test"),
        ))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["errors"]["domains[0]"][0],
        "is already served by another tenant",
        "{}",
        r.text()
    );
    let r = host
        .send(
            Request::post("/admin/tenants")
                .header("authorization", "Bearer not-the-admin-key")
                .json(&tenant_body("b", "b.test", "b@b.test")),
        )
        .await;
    assert_eq!((r.status, r.json()["status"].clone()), (401, json!(401)));
    let r = host
        .send(Request::get("/admin/tenants").header("authorization", format!("Bearer {ADMIN_KEY}")))
        .await;
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
}

/// A session's read of what it needs is one call to the store: the
/// tenant, the user and the session, and, read ahead in the same batch, the
/// tenant serving the host and the organization the token names (the
/// user's at sign-in). Where the provider cannot batch (Redis), each is one
/// `get`, and none is read twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_read_is_one_batch_of_what_it_needs() {
    let host = bare_app_host();
    let r = host
        .send(admin(
            "/admin/tenants",
            &tenant_body("batch", "portal.batch.test", "op@batch.test"),
        ))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let key = r.json()["application_key"].as_str().unwrap().to_string();
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("host", "portal.batch.test")
                .header("x-api-key", &key)
                .json(&json!({"username": "op@batch.test", "password": OPERATOR_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let auth = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    let r = host
        .send(me(&auth).header("host", "portal.batch.test"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["attributes"]["email"], "op@batch.test");
    if std::env::var_os(onboard_test_host::kv::TEST_KV_VAR).is_some() {
        // One refused batch, then one get a key.
        assert_eq!(r.kv.get(Op::GetMany), 1, "{:?}", r.kv);
        assert_eq!(r.kv.get(Op::Get), 5, "{:?}", r.kv);
        assert_eq!(r.kv.total(), 6, "{:?}", r.kv);
    } else {
        assert_eq!(r.kv.total(), 1, "{:?}", r.kv);
        assert_eq!(r.kv.get(Op::GetMany), 1, "{:?}", r.kv);
    }
    // The host's tenant, read ahead, still refuses another tenant's host.
    crate::support::seed_tenant(&host, "other", &["portal.other.test"], "op@other.test");
    let r = host
        .send(me(&auth).header("host", "portal.other.test"))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tenant_creates_of_one_id_have_one_winner() {
    let host = bare_app_host();
    let responses = concurrently(&host, 8, |i| {
        admin(
            "/admin/tenants",
            &tenant_body(
                "race",
                &format!("d{i}.race.test"),
                &format!("op{i}@race.test"),
            ),
        )
    })
    .await;
    let won = responses.iter().filter(|r| r.status == 201).count();
    let refused = responses.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        (won, refused),
        (1, 7),
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
}

/// The admin API answers a value another record holds with 409 (the field
/// still named), and a pass its tenant's state refuses with 409: neither
/// request was malformed, so neither is a 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_refusals_by_what_is_stored_are_409() {
    let host = app_host();
    let operator = |method: http::Method, path: &str| {
        Request::new(method, path).header("authorization", operator_auth())
    };
    let reseller = || {
        operator(http::Method::POST, "/admin/resellers")
            .json(&json!({"name": "R", "code": "TAKEN1"}))
    };
    assert_eq!(host.send(reseller()).await.status, 201);
    let r = host.send(reseller()).await;
    assert_eq!(
        (r.status, r.json()["errors"]["code"][0].clone()),
        (409, json!("has already been taken")),
        "{}",
        r.text()
    );
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let account = |password: &str| {
        operator(http::Method::POST, "/admin/accounts")
            .json(&json!({"email": OPERATOR_EMAIL, "password": password, "role": "operator"}))
    };
    let r = host.send(account("another-password-1")).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.json()["errors"]["email"].is_array() || r.json()["errors"]["user.email"].is_array());
    // A password the policy refuses is a 422 before the email is looked at.
    let r = host.send(account("short")).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = host
        .send(operator(http::Method::POST, "/admin/outbox/deliver"))
        .await;
    assert_eq!(r.status, 409, "no webhook is configured: {}", r.text());
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("GET /admin/outbox")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refusals_are_401_in_the_clone_shape() {
    let host = app_host();
    let key = app_key(&host).await;
    let attempt = |api_key: Option<&str>, body: Value| {
        let mut req = Request::post("/auth/sign_in").json(&body);
        if let Some(k) = api_key {
            req = req.header("x-api-key", k);
        }
        req
    };
    let good = json!({"username": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD});
    for (req, status) in [
        (attempt(None, good.clone()), 401),
        (attempt(Some("oak_wrong"), good.clone()), 401),
        (attempt(Some(OPERATOR_TOKEN), good.clone()), 401),
        (
            attempt(
                Some(&key),
                json!({"username": OPERATOR_EMAIL, "password": "wrong-password"}),
            ),
            401,
        ),
        (
            attempt(
                Some(&key),
                json!({"username": "nobody@onboard.test", "password": OPERATOR_PASSWORD}),
            ),
            401,
        ),
        (
            attempt(Some(&key), json!({"username": OPERATOR_EMAIL})),
            422,
        ),
        (
            attempt(Some(&key), json!({"username": 5, "password": []})),
            422,
        ),
    ] {
        let r = host.send(req).await;
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(r.json()["status"], status);
        assert!(!r.text().contains(OPERATOR_PASSWORD));
    }
    // The vendor's generated curl sends the fields as query parameters.
    let r = host
        .send(
            Request::post(format!(
                "/auth/sign_in?username={}&password={}",
                OPERATOR_EMAIL.replace('@', "%40"),
                OPERATOR_PASSWORD
            ))
            .header("x-api-key", &key),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host.send(Request::get("/auth/sign_in")).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    // The application key of one tenant, on the host of another: 403.
    crate::support::seed_tenant(&host, "other", &["portal.other.test"], "op@other.test");
    let r = host
        .send(attempt(Some(&key), good.clone()).header("host", "portal.other.test"))
        .await;
    assert_eq!(
        (r.status, r.json()["status_text"].clone()),
        (403, json!("Forbidden"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_is_throttled_per_account_and_address_but_the_owner_gets_in() {
    let host = app_host();
    let key = app_key(&host).await;
    let stranger: std::net::SocketAddr = "203.0.113.9:5000".parse().unwrap();
    let owner: std::net::SocketAddr = "198.51.100.7:5000".parse().unwrap();
    let try_from = |addr, password: &str| {
        Request::post("/auth/sign_in")
            .header("x-api-key", &key)
            .json(&json!({"username": OPERATOR_EMAIL, "password": password}))
            .from_addr(addr)
    };
    // Concurrent guesses are counted atomically: exactly 5 get to check a password.
    let responses = concurrently(&host, 12, |_| try_from(stranger, "guess-password")).await;
    let checked = responses.iter().filter(|r| r.status == 401).count();
    let throttled: Vec<&Response> = responses.iter().filter(|r| r.status == 429).collect();
    assert_eq!((checked, throttled.len()), (5, 7));
    let retry: u64 = throttled[0].header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(throttled[0].json()["status_text"], "Too Many Requests");
    // Even the right password is refused from the guessing address...
    let r = host.send(try_from(stranger, OPERATOR_PASSWORD)).await;
    assert_eq!(r.status, 429);
    // ...while the owner, elsewhere, signs in.
    let r = host.send(try_from(owner, OPERATOR_PASSWORD)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The window passes and the stranger may try again.
    host.clock.advance(Duration::from_secs(retry + 1));
    let r = host.send(try_from(stranger, OPERATOR_PASSWORD)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_the_session_on_the_next_request() {
    let host = app_host();
    let key = app_key(&host).await;
    let auth = sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let other = sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    assert_eq!(host.send(me(&auth)).await.status, 200);
    let r = host
        .send(Request::delete("/auth/sign_out").header("authorization", &auth))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host.send(me(&auth)).await;
    assert_eq!(
        (r.status, r.json()["status_text"].clone()),
        (401, json!("Unauthorized"))
    );
    assert_eq!(
        host.send(me(&other)).await.status,
        200,
        "other sessions stay"
    );
    let r = host
        .send(Request::delete("/auth/sign_out").header("authorization", &auth))
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_are_basic_long_lived_and_revocable() {
    let host = app_host();
    let key = app_key(&host).await;
    let session = sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let generate =
        || Request::put("/v2/user/generate_access_token").header("authorization", &session);
    let r = host.send(generate()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], OPERATOR_EMAIL);
    let first = format!("Basic {}", r.json()["token"].as_str().unwrap());
    assert_eq!(host.send(me(&first)).await.status, 200);
    // Not an expiring token: a year later it still works.
    host.clock.advance(Duration::from_secs(365 * 24 * 3600));
    assert_eq!(host.send(me(&first)).await.status, 200);
    assert_eq!(
        host.send(me(&session)).await.status,
        401,
        "the session expired"
    );
    // A new one replaces it at once.
    let r = host
        .send(Request::put("/v2/user/generate_access_token").header("authorization", &first))
        .await;
    let second = format!("Basic {}", r.json()["token"].as_str().unwrap());
    assert_eq!(host.send(me(&first)).await.status, 401);
    assert_eq!(host.send(me(&second)).await.status, 200);
    let r = host
        .send(Request::get("/v2/user/validate_token").header("authorization", &second))
        .await;
    assert_eq!((r.status, r.json()), (200, json!({"valid": true})));
    // Revoked: fails on the very next request.
    let r = host
        .send(Request::put("/v2/user/revoke_access_token").header("authorization", &second))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(host.send(me(&second)).await.status, 401);
    // A token is only ever a Basic token: as a bearer it is nothing.
    let raw = second.trim_start_matches("Basic ");
    assert_eq!(host.send(me(&format!("Bearer {raw}"))).await.status, 401);
}

/// A token with the right key but a claim changed, re-signed.
fn forged(claims: Value) -> String {
    let Value::Object(map) = claims else {
        unreachable!()
    };
    secrets::sign_jwt(&Keys::parse(TOKEN_KEYS), &map).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_is_a_401_never_a_5xx() {
    let host = app_host();
    let key = app_key(&host).await;
    let auth = sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let token = auth.trim_start_matches("Bearer ").to_string();
    let parts: Vec<&str> = token.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let with = |k: &str, v: Value| {
        let mut c = claims.clone();
        c[k] = v;
        c
    };
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"t1"}"#);
    let hs512_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT","kid":"t1"}"#);
    let tampered_payload =
        URL_SAFE_NO_PAD.encode(with("sub", json!(uuid::Uuid::new_v4())).to_string());
    let bearer = |t: &str| format!("Bearer {t}");
    let cases: Vec<(&str, String)> = vec![
        ("no header", String::new()),
        ("empty bearer", "Bearer ".into()),
        ("scheme only", "Bearer".into()),
        ("wrong scheme", format!("Token {token}")),
        ("apikey scheme", format!("APIKey {token}")),
        ("oversized", format!("Bearer {}", "a".repeat(8000))),
        ("garbage", bearer("not.a.jwt")),
        (
            "tampered payload",
            bearer(&format!("{}.{}.{}", parts[0], tampered_payload, parts[2])),
        ),
        (
            "tampered signature",
            bearer(&format!("{}.{}.{}A", parts[0], parts[1], parts[2])),
        ),
        ("alg none", bearer(&format!("{none_header}.{}.", parts[1]))),
        (
            "alg HS512",
            bearer(&format!("{hs512_header}.{}.{}", parts[1], parts[2])),
        ),
        ("other family", bearer(&forged(with("aud", json!("gcore"))))),
        (
            "refresh type",
            bearer(&forged(with("token_type", json!("refresh")))),
        ),
        (
            "other issuer",
            bearer(&forged(with("iss", json!("someone-else")))),
        ),
        ("other session", bearer(&forged(with("sid", json!("0000"))))),
        (
            "other tenant",
            bearer(&forged(with("ten", json!("elsewhere")))),
        ),
        ("expired", bearer(&forged(with("exp", json!(1))))),
    ];
    for (name, header) in cases {
        let mut req = Request::get("/v2/user/me");
        if !header.is_empty() {
            req = req.header("authorization", &header);
        }
        let r = host.send(req).await;
        assert_eq!(r.status, 401, "{name}: {}", r.text());
        assert_eq!(r.json()["status_text"], "Unauthorized", "{name}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{name}");
    }
    // The real token still works, until the clock passes its expiry.
    assert_eq!(host.send(me(&auth)).await.status, 200);
    host.clock.advance(Duration::from_secs(12 * 3600 + 1));
    assert_eq!(host.send(me(&auth)).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_an_account_or_tenant_stops_its_credentials_at_once() {
    let host = app_host();
    let key = app_key(&host).await;
    let r = host
        .send(
            Request::post("/admin/accounts")
                .header("authorization", operator_auth())
                .json(
                    &json!({"email": "second@onboard.test", "password": "second-password",
                              "role": "operator"}),
                ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let auth = sign_in(&host, &key, "second@onboard.test", "second-password").await;
    assert_eq!(host.send(me(&auth)).await.status, 200);
    let set = |status: &str| {
        Request::new(http::Method::PATCH, format!("/admin/accounts/{id}"))
            .header("authorization", operator_auth())
            .json(&json!({"status": status}))
    };
    assert_eq!(host.send(set("disabled")).await.status, 200);
    assert_eq!(host.send(me(&auth)).await.status, 401);
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("x-api-key", &key)
                .json(&json!({"username": "second@onboard.test", "password": "second-password"})),
        )
        .await;
    assert_eq!(r.status, 401, "a disabled account cannot sign in");
    assert_eq!(host.send(set("restricted")).await.status, 200);
    assert_eq!(
        host.send(me(&auth)).await.status,
        200,
        "restricted still authenticates"
    );

    let r = host
        .send(
            Request::new(http::Method::PATCH, "/admin/tenants/default")
                .header("authorization", format!("Bearer {ADMIN_KEY}"))
                .json(&json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(host.send(me(&auth)).await.status, 401);
    assert_eq!(host.send(me(&operator_auth())).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_needs_the_current_one() {
    let host = app_host();
    let key = app_key(&host).await;
    let change = |current: &str, new: &str| {
        Request::put("/v2/user/change_password")
            .header("authorization", operator_auth())
            .json(
                &json!({"user": {"current_password": current, "password": new,
                                   "password_confirmation": new}}),
            )
    };
    let r = host.send(change("not-it", "brand-new-password")).await;
    assert_eq!(r.status, 422);
    assert!(r.json()["errors"]["user.current_password"].is_array());
    let r = host.send(change(OPERATOR_PASSWORD, "short")).await;
    assert_eq!(r.status, 422);
    assert!(r.json()["errors"]["user.password"].is_array());
    let r = host
        .send(change(OPERATOR_PASSWORD, "brand-new-password"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    sign_in(&host, &key, OPERATOR_EMAIL, "brand-new-password").await;
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("x-api-key", &key)
                .json(&json!({"username": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_kept_or_echoed_in_clear() {
    let host = app_host();
    let key = app_key(&host).await;
    let session = sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let r = host
        .send(Request::put("/v2/user/generate_access_token").header("authorization", &session))
        .await;
    let access = r.json()["token"].as_str().unwrap().to_string();
    let r = host
        .send(
            Request::post("/admin/api-clients")
                .header("authorization", &session)
                .json(&json!({"name": "billing"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let client_secret = r.json()["client_secret"].as_str().unwrap().to_string();
    let mut responses = Vec::new();
    for req in [
        me(&session),
        me(&format!("Basic {access}")),
        Request::get("/v2/user/organization").header("authorization", &session),
    ] {
        responses.push(host.send(req).await);
    }
    let secrets = [
        OPERATOR_PASSWORD,
        session.trim_start_matches("Bearer "),
        access.as_str(),
        key.as_str(),
        client_secret.as_str(),
        TOKEN_KEYS.split(':').nth(1).unwrap(),
        ADMIN_KEY,
    ];
    let store: Vec<(String, Vec<u8>)> = host.kv.dump("default");
    for secret in secrets {
        for (k, v) in &store {
            assert!(!k.contains(secret), "{k} holds a secret");
            assert!(
                !String::from_utf8_lossy(v).contains(secret),
                "{k} holds a secret in clear"
            );
        }
        for r in &responses {
            assert!(!r.text().contains(secret), "a response echoes a secret");
            assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
        }
    }
}
