//! Two-factor sign-in through the wasm components: install a TOTP
//! authenticator, verify it, sign in in two steps, recovery codes, disable.
//! Codes are computed here from the secret the enable answer gives.

use std::time::Duration;

use onboard_shared::credential::totp;
use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};

use crate::identity::app_key;
use crate::support::{OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host};

/// RFC 4648 base32 (no padding), as an authenticator app reads the secret.
pub fn base32_decode(text: &str) -> Vec<u8> {
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {text}"),
        } as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// The app's code now, by the host's clock.
pub fn code_now(host: &Host, secret: &[u8]) -> String {
    let now = onboard_shared::base::time::millis(host.clock.now());
    totp::code(secret, totp::step(now))
}

fn put(path: &str, auth: &str) -> Request {
    Request::put(path).header("authorization", auth)
}

async fn step_one(host: &Host, key: &str) -> Response {
    host.send(
        Request::post("/auth/sign_in")
            .header("x-api-key", key)
            .json(&json!({"username": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
    )
    .await
}

async fn step_two(host: &Host, key: &str, state: &str, factor: (&str, &str)) -> Response {
    host.send(
        Request::post("/auth/sign_in")
            .header("x-api-key", key)
            .json(&json!({"otp_session_state": state, factor.0: factor.1})),
    )
    .await
}

fn state_of(r: &Response) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["token"].is_null(),
        "step 1 gives no token: {}",
        r.text()
    );
    assert_eq!(r.json()["otp_required"], true);
    r.json()["otp_session_state"].as_str().unwrap().to_string()
}

fn two_factor_of(r: &Response) -> Value {
    r.json()["two_factor_authentication"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_sign_in_with_otp_and_recovery_code_then_disable() {
    let host = app_host();
    let key = app_key(&host).await;
    let session = crate::support::sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;

    // Enable needs the password, and a signed-in session (not an access token).
    let enable = |auth: &str, password: &str| {
        put("/v2/user/enable_2fa", auth).json(&json!({"password": password}))
    };
    let r = host.send(enable(&session, "wrong-password")).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = host
        .send(enable(&crate::support::operator_auth(), OPERATOR_PASSWORD))
        .await;
    assert_eq!(r.status, 403, "an access token: {}", r.text());
    // Enable: a secret and its URI, not in force yet.
    let r = host.send(enable(&session, OPERATOR_PASSWORD)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let secret_text = r.json()["secret"].as_str().unwrap().to_string();
    let secret = base32_decode(&secret_text);
    let uri = r.json()["otpauth_uri"].as_str().unwrap().to_string();
    assert!(
        uri.starts_with("otpauth://totp/Onboard:") && uri.contains(&secret_text),
        "{uri}"
    );
    let me = host
        .send(Request::get("/v2/user/me").header("authorization", &session))
        .await;
    assert_eq!(
        me.json()["data"]["attributes"]["two_factor_authentication"]["enabled"],
        false
    );
    let r = step_one(&host, &key).await;
    assert!(
        r.json()["token"].is_string(),
        "not in force before verifying"
    );

    // Verify: a wrong code is 401, the app's code puts it in force, once.
    let r = host
        .send(
            put("/v2/user/verify_2fa_installation", &session)
                .json(&json!({"otp_attempt": "000000"})),
        )
        .await;
    let wrong_is_rare = code_now(&host, &secret) != "000000";
    if wrong_is_rare {
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let first = code_now(&host, &secret);
    let r = host
        .send(
            put("/v2/user/verify_2fa_installation", &session).json(&json!({"otp_attempt": first})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(two_factor_of(&r)["enabled"], true);
    assert_eq!(two_factor_of(&r)["otp_totp_enabled"], true);
    let r = host
        .send(
            put("/v2/user/verify_2fa_installation", &session).json(&json!({"otp_attempt": first})),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());

    // Two-step sign-in. The code verify used is spent: replay is 401.
    let state = state_of(&step_one(&host, &key).await);
    let r = step_two(&host, &key, &state, ("otp_attempt", &first)).await;
    assert_eq!(r.status, 401, "replayed code: {}", r.text());
    host.clock.advance(Duration::from_secs(30));
    let next = code_now(&host, &secret);
    let r = step_two(&host, &key, &state, ("otp_attempt", &next)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    let me = host
        .send(Request::get("/v2/user/me").header("authorization", &token))
        .await;
    assert_eq!(me.status, 200);
    // The state is spent, even with the next step's code.
    host.clock.advance(Duration::from_secs(30));
    let r = step_two(
        &host,
        &key,
        &state,
        ("otp_attempt", &code_now(&host, &secret)),
    )
    .await;
    assert_eq!(r.status, 401, "a used state: {}", r.text());
    // A code that is not this user's (another secret) is 401.
    let state = state_of(&step_one(&host, &key).await);
    let stranger = code_now(&host, b"another user's secret!");
    if stranger != code_now(&host, &secret) {
        let r = step_two(&host, &key, &state, ("otp_attempt", &stranger)).await;
        assert_eq!(r.status, 401, "{}", r.text());
    }
    // One step of clock skew either side is accepted (a step not used yet).
    host.clock.advance(Duration::from_secs(90));
    let now = onboard_shared::base::time::millis(host.clock.now());
    let behind = totp::code(&secret, totp::step(now) - 1);
    let r = step_two(&host, &key, &state, ("otp_attempt", &behind)).await;
    assert_eq!(r.status, 200, "a code one step behind: {}", r.text());
    // An expired state is 401.
    let state = state_of(&step_one(&host, &key).await);
    host.clock.advance(Duration::from_secs(6 * 60));
    let r = step_two(
        &host,
        &key,
        &state,
        ("otp_attempt", &code_now(&host, &secret)),
    )
    .await;
    assert_eq!(r.status, 401, "an expired state: {}", r.text());

    // The other families' password logins refuse a two-factor user: Gcore
    // as it refuses any sign-in (its documented 400), Apiculus with 401.
    let r = host
        .send(
            Request::post("/iam/auth/jwt/login")
                .json(&json!({"username": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = host
        .send(
            Request::post("/auth/login")
                .json(&json!({"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text());

    // Recovery codes need a current code: ten, each good once; a new set
    // voids the old one.
    let generate = |code: &str| {
        put("/v2/user/generate_recovery_codes", &session).json(&json!({"otp_attempt": code}))
    };
    host.clock.advance(Duration::from_secs(30));
    // One code, sent twice: the host's clock runs with the wall clock, so
    // a code read again could be the next step's.
    let code = code_now(&host, &secret);
    let r = host.send(generate(&code)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let old: Vec<String> = serde_json::from_value(r.json()["recovery_codes"].clone()).unwrap();
    let r = host.send(generate(&code)).await;
    assert_eq!(r.status, 401, "the same code again: {}", r.text());
    host.clock.advance(Duration::from_secs(30));
    let r = host.send(generate(&code_now(&host, &secret))).await;
    let codes: Vec<String> = serde_json::from_value(r.json()["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    let state = state_of(&step_one(&host, &key).await);
    let r = step_two(&host, &key, &state, ("recovery_code", &old[0])).await;
    assert_eq!(r.status, 401, "a voided code: {}", r.text());
    let r = step_two(
        &host,
        &key,
        &state,
        ("recovery_code", &codes[0].to_uppercase()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let state = state_of(&step_one(&host, &key).await);
    let r = step_two(&host, &key, &state, ("recovery_code", &codes[0])).await;
    assert_eq!(r.status, 401, "a used recovery code: {}", r.text());

    // Nothing secret is in the store in clear.
    let dump = host.kv.dump("default");
    for (k, v) in &dump {
        let text = format!("{k} {}", String::from_utf8_lossy(v));
        assert!(!text.contains(&secret_text), "the TOTP secret at {k}");
        assert!(!text.contains(&state), "an otp_session_state at {k}");
        for c in codes.iter().chain(&old) {
            assert!(
                !text.contains(c.as_str()) && !text.contains(&c.replace('-', "")),
                "a recovery code at {k}"
            );
        }
    }

    // Disable with a recovery code: sign-in is one step again.
    let r = host
        .send(put("/v2/user/disable_2fa", &session).json(&json!({"recovery_code": codes[1]})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(two_factor_of(&r)["enabled"], false);
    let r = step_one(&host, &key).await;
    assert!(r.json()["token"].is_string(), "{}", r.text());
    let r = host
        .send(put("/v2/user/disable_2fa", &session).json(&json!({"otp_attempt": "123456"})))
        .await;
    assert_eq!(r.status, 409, "nothing to disable: {}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_attempts_are_throttled_and_bodies_checked() {
    let host = app_host();
    let key = app_key(&host).await;
    let session = crate::support::sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let r = host
        .send(put("/v2/user/enable_2fa", &session).json(&json!({"password": OPERATOR_PASSWORD})))
        .await;
    let secret = base32_decode(r.json()["secret"].as_str().unwrap());
    let verify = |body: Value| put("/v2/user/verify_2fa_installation", &session).json(&body);
    for body in [
        json!({}),
        json!({"otp_attempt": 123456}),
        json!({"recovery_code": "abcd"}),
    ] {
        let r = host.send(verify(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
    }
    let good = code_now(&host, &secret);
    let wrong = if good == "111111" { "222222" } else { "111111" };
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            host.send(verify(json!({"otp_attempt": wrong})))
                .await
                .status,
        );
    }
    assert!(
        statuses.contains(&429),
        "wrong codes are throttled: {statuses:?}"
    );
    let r = host.send(verify(json!({"otp_attempt": good}))).await;
    assert_eq!(
        r.status,
        429,
        "even the right code waits out the throttle: {}",
        r.text()
    );
    // Spreading guesses over addresses does not help: ten a window per user.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let from: std::net::SocketAddr = format!("10.0.0.{i}:4000").parse().unwrap();
        let r = host
            .send(verify(json!({"otp_attempt": wrong})).from_addr(from))
            .await;
        statuses.push(r.status);
    }
    assert!(
        statuses.iter().filter(|s| **s == 429).count() >= 2,
        "a per-user cap from any address: {statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_sign_in_is_spent_after_five_wrong_codes() {
    let host = app_host();
    let key = app_key(&host).await;
    let session = crate::support::sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let r = host
        .send(put("/v2/user/enable_2fa", &session).json(&json!({"password": OPERATOR_PASSWORD})))
        .await;
    let secret = base32_decode(r.json()["secret"].as_str().unwrap());
    let code = code_now(&host, &secret);
    let r = host
        .send(put("/v2/user/verify_2fa_installation", &session).json(&json!({"otp_attempt": code})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    host.clock.advance(Duration::from_secs(30));
    let state = state_of(&step_one(&host, &key).await);
    let good = code_now(&host, &secret);
    let wrong = if good == "111111" { "222222" } else { "111111" };
    for _ in 0..5 {
        let r = step_two(&host, &key, &state, ("otp_attempt", wrong)).await;
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let r = step_two(&host, &key, &state, ("otp_attempt", &good)).await;
    assert_eq!(r.status, 401, "the state is spent: {}", r.text());
    // A new state (the password again) takes the good code (from another
    // address: this one used up its five tries).
    let state = state_of(&step_one(&host, &key).await);
    let from: std::net::SocketAddr = "10.0.0.9:4000".parse().unwrap();
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("x-api-key", &key)
                .json(&json!({"otp_session_state": state, "otp_attempt": good}))
                .from_addr(from),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// The newest outbox message, read by the operator (no webhook configured).
async fn newest_message(host: &Host) -> Value {
    let r = host
        .send(
            Request::get("/admin/outbox").header("authorization", crate::support::operator_auth()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["messages"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_sent_by_sms_signs_in_once() {
    let host = app_host();
    let key = app_key(&host).await;
    let session = crate::support::sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let r = host
        .send(put("/v2/user/enable_2fa", &session).json(&json!({"password": OPERATOR_PASSWORD})))
        .await;
    let secret = base32_decode(r.json()["secret"].as_str().unwrap());
    let code = code_now(&host, &secret);
    let r = host
        .send(put("/v2/user/verify_2fa_installation", &session).json(&json!({"otp_attempt": code})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sms = |state: &str| {
        Request::post("/auth/sms_otp")
            .header("x-api-key", &key)
            .json(&json!({"otp_session_state": state}))
    };

    // No phone on the account: nothing to send to.
    let state = state_of(&step_one(&host, &key).await);
    let r = host.send(sms(&state)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = host
        .send(
            Request::put("/v2/user/me")
                .header("authorization", &session)
                .json(&json!({"user": {"mobile_phone": "+1 555 010 4467"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A phone put on the profile later is not where codes go: a stolen
    // session could point them at its own. It is enrolled by installing the
    // factor again (with the password and a code from the app).
    let r = host.send(sms(&state)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    host.clock.advance(Duration::from_secs(30));
    let r = host
        .send(
            put("/v2/user/disable_2fa", &session)
                .json(&json!({"otp_attempt": code_now(&host, &secret)})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host
        .send(put("/v2/user/enable_2fa", &session).json(&json!({"password": OPERATOR_PASSWORD})))
        .await;
    let secret = base32_decode(r.json()["secret"].as_str().unwrap());
    let r = host
        .send(
            put("/v2/user/verify_2fa_installation", &session)
                .json(&json!({"otp_attempt": code_now(&host, &secret)})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let state = state_of(&step_one(&host, &key).await);

    let r = host.send(sms(&state)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["phone"], "***67");
    let message = newest_message(&host).await;
    assert_eq!(
        (message["kind"].clone(), message["to"].clone()),
        (json!("sms_otp"), json!("+1 555 010 4467"))
    );
    let sent = message["token"].as_str().unwrap().to_string();
    assert!(
        sent.len() == 6 && sent.bytes().all(|b| b.is_ascii_digit()),
        "{sent}"
    );
    for (_, v) in host.kv.dump("default") {
        assert!(
            !String::from_utf8_lossy(&v).contains(&format!("\"{sent}\"")),
            "the code is not stored"
        );
    }
    let r = step_two(&host, &key, &state, ("otp_attempt", &sent)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["token"].is_string());
    let r = step_two(&host, &key, &state, ("otp_attempt", &sent)).await;
    assert_eq!(r.status, 401, "the sign-in is spent");
    let r = host.send(sms(&state)).await;
    assert_eq!(r.status, 401, "no code for a spent sign-in");

    // Three sends a sign-in; only the newest code is good; the code of
    // another sign-in is not.
    let state = state_of(&step_one(&host, &key).await);
    let mut codes = Vec::new();
    for _ in 0..3 {
        assert_eq!(host.send(sms(&state)).await.status, 200);
        codes.push(
            newest_message(&host).await["token"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let r = host.send(sms(&state)).await;
    assert_eq!(r.status, 429, "{}", r.text());
    let app_code = code_now(&host, &secret);
    for stale in [&sent, &codes[0]] {
        if stale != &codes[2] && stale != &app_code {
            let r = step_two(&host, &key, &state, ("otp_attempt", stale)).await;
            assert_eq!(r.status, 401, "{}", r.text());
        }
    }
    let r = step_two(&host, &key, &state, ("otp_attempt", &codes[2])).await;
    assert_eq!(r.status, 200, "{}", r.text());
}
