//! The operator console through its wasm components: the page and its
//! headers, the cookie session and its CSRF rules, who may sign in, and the
//! administrator actions its pages added (invitations, API client lists,
//! password resets, second factor resets, organization status).

use std::time::Duration;

use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};

use crate::support::{
    ADMIN_KEY, DEFAULT_HOST, OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host, operator_auth,
};
use crate::two_factor::{base32_decode, code_now};

/// A signed-in console: the cookie a browser would send, and the CSRF token
/// its page holds.
struct Console {
    cookie: String,
    csrf: String,
}

impl Console {
    fn call(&self, req: Request) -> Request {
        req.header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
    }
}

async fn sign_in_answer(host: &Host, body: Value) -> Response {
    host.send(Request::post("/console/session").json(&body))
        .await
}

fn console_of(r: &Response) -> Console {
    assert_eq!(r.status, 200, "{}", r.text());
    let set = r.header("set-cookie").expect("a session cookie");
    let pair = set.split(';').next().unwrap().trim().to_string();
    assert!(pair.starts_with("__Host-onboard-console="), "{set}");
    Console {
        cookie: pair,
        csrf: r.json()["csrf_token"].as_str().unwrap().to_string(),
    }
}

async fn console(host: &Host, email: &str, password: &str) -> Console {
    console_of(&sign_in_answer(host, json!({"email": email, "password": password})).await)
}

/// An account made by the operator with a password; its id.
async fn account(host: &Host, email: &str, role: &str, org: Option<&str>) -> String {
    let mut body = json!({"email": email, "password": "Account-password-1", "role": role});
    if let Some(org) = org {
        body["organization_id"] = json!(org);
    }
    let r = host
        .send(
            Request::post("/admin/accounts")
                .header("authorization", operator_auth())
                .json(&body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

async fn reseller(host: &Host, name: &str) -> String {
    let r = host
        .send(
            Request::post("/admin/resellers")
                .header("authorization", operator_auth())
                .json(&json!({"name": name, "code": name.to_uppercase()})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

async fn outbox(host: &Host) -> Vec<Value> {
    let r = host
        .send(Request::get("/admin/outbox").header("authorization", operator_auth()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["messages"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_files_carry_a_strict_policy() {
    let host = app_host();
    let r = host.send(Request::get("/console/")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    // No inline script or handler the policy would have to allow.
    let page = r.text();
    for tag in page.split("<script").skip(1) {
        assert!(tag.split('>').next().unwrap().contains("src="), "{page}");
    }
    assert!(!page.contains(" onclick=") && !page.contains(" onload="));
    for (path, kind) in [
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/api.js", "text/javascript; charset=utf-8"),
        ("/console/dom.js", "text/javascript; charset=utf-8"),
        ("/console/style.css", "text/css; charset=utf-8"),
    ] {
        let r = host.send(Request::get(path)).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(kind), "{path}");
        assert!(r.header("content-security-policy").is_some(), "{path}");
    }
    // No script builds markup from text.
    for path in ["/console/app.js", "/console/api.js", "/console/dom.js"] {
        let script = host.send(Request::get(path)).await.text();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ] {
            assert!(!script.contains(sink), "{path} uses {sink}");
        }
    }
    let r = host.send(Request::get("/console")).await;
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("/console/"));
    let r = host.send(Request::get("/console/nothing.js")).await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.header("content-security-policy").is_some());
    let r = host.send(Request::post("/console/")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_is_a_cookie_scripts_never_see_and_every_call_needs_its_csrf_token() {
    let host = app_host();
    let r = sign_in_answer(
        &host,
        json!({"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}),
    )
    .await;
    let set = r.header("set-cookie").unwrap().to_string();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(r.header("content-security-policy").is_some());
    let c = console_of(&r);
    let token = c.cookie.split_once('=').unwrap().1.to_string();
    assert!(!r.text().contains(&token), "the body never holds the token");
    assert_eq!(r.json()["user"]["role"], "operator");
    assert_eq!(r.json()["organization"]["kind"], "platform");

    // The page's calls: cookie and CSRF token.
    let r = host.send(c.call(Request::get("/v2/users"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host.send(c.call(Request::get("/console/session"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["csrf_token"], c.csrf.as_str());

    // Without the token, with another, or from another site: 403.
    let bare = || Request::get("/v2/users").header("cookie", &c.cookie);
    let r = host.send(bare()).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = host
        .send(bare().header("x-csrf-token", "0123456789abcdef0123456789abcdef"))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = host
        .send(
            c.call(Request::get("/v2/users"))
                .header("sec-fetch-site", "cross-site"),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = host
        .send(
            c.call(Request::get("/v2/users"))
                .header("origin", "http://evil.example"),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = host
        .send(
            c.call(Request::post("/v2/organizations"))
                .header("origin", "http://127.0.0.1:3000")
                .header("sec-fetch-site", "same-origin")
                .json(&json!({"organization": {"name": "Same origin"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = host
        .send(
            Request::post("/console/session")
                .header("origin", "http://evil.example")
                .json(&json!({"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 403, "a cross-site sign-in: {}", r.text());
    let r = host
        .send(
            Request::post("/console/session")
                .header("content-type", "text/plain")
                .body(format!(
                    r#"{{"email":"{OPERATOR_EMAIL}","password":"{OPERATOR_PASSWORD}"}}"#
                )),
        )
        .await;
    assert_eq!(r.status, 415, "a form-like sign-in: {}", r.text());

    // The cookie reaches only what the console calls; it is no bearer
    // token, and a Clone token is no console cookie.
    for (method, path) in [
        (http::Method::POST, "/auth/impersonate?uuid=x"),
        (http::Method::PUT, "/v2/user/generate_access_token"),
    ] {
        let r = host.send(c.call(Request::new(method, path))).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
    }
    let r = host
        .send(Request::get("/v2/users").header("authorization", format!("Bearer {token}")))
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    let key = crate::identity::app_key(&host).await;
    let bearer = crate::support::sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let clone_token = bearer.strip_prefix("Bearer ").unwrap();
    let forged = Console {
        cookie: format!("__Host-onboard-console={clone_token}"),
        csrf: onboard_shared::credential::console::csrf_token(clone_token),
    };
    let r = host.send(forged.call(Request::get("/v2/users"))).await;
    assert_eq!(r.status, 401, "{}", r.text());

    // Another tenant's host refuses the cookie, whatever the request says.
    crate::support::seed_tenant(&host, "other", &["other.test"], "ops@other.test");
    let r = host
        .send(
            c.call(Request::get("/v2/users"))
                .header("host", "other.test"),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = host
        .send(
            c.call(Request::get("/console/session"))
                .header("host", "other.test"),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());

    // Signing out ends the session and clears the cookie.
    let r = host.send(c.call(Request::delete("/console/session"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let r = host.send(c.call(Request::get("/v2/users"))).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = host.send(c.call(Request::get("/console/session"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"signed_in": false}));
    let r = host.send(Request::get("/console/session")).await;
    assert_eq!(r.json(), json!({"signed_in": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_and_reseller_admins_sign_in_and_see_their_reach() {
    let host = app_host();
    let north = reseller(&host, "North").await;
    let south = reseller(&host, "South").await;
    account(&host, "north@console.test", "reseller_admin", Some(&north)).await;
    let customer = crate::scim::customer(&host, "Acme", "boss@acme.test").await;
    account(
        &host,
        "admin@acme.test",
        "customer_admin",
        Some(&customer.to_string()),
    )
    .await;
    account(&host, "user@acme.test", "user", Some(&customer.to_string())).await;
    for email in ["admin@acme.test", "user@acme.test"] {
        let r = sign_in_answer(
            &host,
            json!({"email": email, "password": "Account-password-1"}),
        )
        .await;
        assert_eq!(r.status, 403, "{email}: {}", r.text());
        assert!(r.header("set-cookie").is_none());
    }
    let r = sign_in_answer(
        &host,
        json!({"email": OPERATOR_EMAIL, "password": "wrong-password"}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = sign_in_answer(&host, json!({"email": OPERATOR_EMAIL})).await;
    assert_eq!(r.status, 422, "{}", r.text());

    // The reseller admin sees its own subtree only.
    let c = console(&host, "north@console.test", "Account-password-1").await;
    let r = host
        .send(c.call(Request::post("/v2/organizations").json(
            &json!({"organization": {"name": "Northern customer", "company_name": "N Ltd"}}),
        )))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["attributes"]["parent_id"], north.as_str());
    assert_eq!(r.json()["data"]["attributes"]["kind"], "customer");
    let r = host
        .send(c.call(Request::get("/v2/organizations?per_page=100")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let names: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["attributes"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["North", "Northern customer"]);
    let r = host
        .send(c.call(Request::get(format!("/v2/organizations/{south}"))))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    // The tree's children: `q[parent_id]`.
    let r = host
        .send(c.call(Request::get(format!(
            "/v2/organizations?q[parent_id]={north}"
        ))))
        .await;
    assert_eq!(r.json()["meta"]["total_count"], 1, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_factor_sign_in_and_its_reset_by_an_administrator() {
    let host = app_host();
    let north = reseller(&host, "North").await;
    let id = account(&host, "north@console.test", "reseller_admin", Some(&north)).await;
    // The reseller admin installs an authenticator through the Clone API.
    let key = crate::identity::app_key(&host).await;
    let session =
        crate::support::sign_in(&host, &key, "north@console.test", "Account-password-1").await;
    let r = host
        .send(
            Request::put("/v2/user/enable_2fa")
                .header("authorization", &session)
                .json(&json!({"password": "Account-password-1"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let secret = base32_decode(r.json()["secret"].as_str().unwrap());
    let r = host
        .send(
            Request::put("/v2/user/verify_2fa_installation")
                .header("authorization", &session)
                .json(&json!({"otp_attempt": code_now(&host, &secret)})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Console sign-in in two steps.
    host.clock.advance(Duration::from_secs(30));
    let r = sign_in_answer(
        &host,
        json!({"email": "north@console.test", "password": "Account-password-1"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["otp_required"], true);
    assert!(r.header("set-cookie").is_none());
    let state = r.json()["otp_session_state"].as_str().unwrap().to_string();
    let r = sign_in_answer(
        &host,
        json!({"otp_session_state": state, "otp_attempt": "not-a-code"}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = sign_in_answer(
        &host,
        json!({"otp_session_state": state, "otp_attempt": code_now(&host, &secret)}),
    )
    .await;
    let reseller_console = console_of(&r);
    assert_eq!(r.json()["user"]["two_factor"], true);

    // The phone is lost: the operator resets the factor, signing the reset
    // with its own password.
    let op = console(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let reset = |body: Value| {
        op.call(Request::delete(format!("/admin/accounts/{id}/two_factor")))
            .json(&body)
    };
    let r = host.send(reset(json!({}))).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = host.send(reset(json!({"password": "not-mine"}))).await;
    assert_eq!(r.status, 422, "{}", r.text());
    // Nobody resets a wider role's factor (out of a reseller's reach: 404),
    // nor its own this way (403).
    let operator_id = host
        .send(op.call(Request::get("/console/session")))
        .await
        .json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = host
        .send(
            reseller_console
                .call(Request::delete(format!(
                    "/admin/accounts/{operator_id}/two_factor"
                )))
                .json(&json!({"password": "Account-password-1"})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = host
        .send(
            reseller_console
                .call(Request::delete(format!("/admin/accounts/{id}/two_factor")))
                .json(&json!({"password": "Account-password-1"})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = host
        .send(op.call(Request::get(format!("/admin/accounts/{id}"))))
        .await;
    assert_eq!(r.json()["two_factor"], true, "{}", r.text());
    let r = host
        .send(reset(json!({"password": OPERATOR_PASSWORD})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host
        .send(reset(json!({"password": OPERATOR_PASSWORD})))
        .await;
    assert_eq!(r.status, 409, "nothing left to reset: {}", r.text());
    let r = host
        .send(op.call(Request::get(format!("/admin/accounts/{id}"))))
        .await;
    assert_eq!(r.json()["two_factor"], false, "{}", r.text());
    // Announced to the user, and audited.
    let notices: Vec<Value> = outbox(&host)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "two_factor_reset")
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["to"], "north@console.test");
    let r = host
        .send(op.call(Request::get(format!(
            "/v2/audit/events?q[action]=user.2fa.reset&q[target]=user:{id}"
        ))))
        .await;
    assert_eq!(r.json()["meta"]["total_count"], 1, "{}", r.text());
    // The password alone signs in again.
    let r = sign_in_answer(
        &host,
        json!({"email": "north@console.test", "password": "Account-password-1"}),
    )
    .await;
    console_of(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_actions_invite_list_clients_reset_passwords_and_disable_organizations() {
    let host = app_host();
    let c = console(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let customer = crate::scim::customer(&host, "Acme", "boss@acme.test").await;

    // A user created with an invitation has no password until it accepts.
    let r = host
        .send(c.call(Request::post("/admin/accounts").json(&json!({
            "email": "invited@acme.test", "first_name": "In", "last_name": "Vited",
            "role": "user", "organization_id": customer, "invite": true}))))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let invited = r.json()["id"].as_str().unwrap().to_string();
    let r = host
        .send(c.call(Request::post("/admin/accounts").json(&json!({
            "email": "both@acme.test", "password": "Account-password-1",
            "role": "user", "organization_id": customer, "invite": true}))))
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let messages = outbox(&host).await;
    assert!(
        messages.iter().any(|m| m["kind"] == "invitation"
            && m["to"] == "invited@acme.test"
            && m["token"].is_string()),
        "{messages:?}"
    );
    // The console lists the messages, never the tokens they carry, and
    // makes no account with a password of its choosing.
    let r = host.send(c.call(Request::get("/admin/outbox"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json()["messages"].as_array().unwrap().clone();
    assert!(!listed.is_empty() && listed.iter().all(|m| m["token"].is_null()));
    let r = host
        .send(c.call(Request::post("/admin/accounts").json(&json!({
            "email": "chosen@acme.test", "password": "Account-password-1",
            "role": "user", "organization_id": customer}))))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = host
        .send(c.call(Request::get(format!("/admin/accounts/{invited}"))))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["invited"], true);
    assert_eq!(r.json()["two_factor"], false);
    // A reset is for an account that accepted; this one gets its invitation.
    let r = host
        .send(c.call(Request::post(format!(
            "/admin/accounts/{invited}/password_reset"
        ))))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    let active = account(
        &host,
        "active@acme.test",
        "user",
        Some(&customer.to_string()),
    )
    .await;
    let r = host
        .send(c.call(Request::post(format!(
            "/admin/accounts/{active}/password_reset"
        ))))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let messages = outbox(&host).await;
    assert!(
        messages
            .iter()
            .any(|m| m["kind"] == "password_reset" && m["to"] == "active@acme.test"),
        "{messages:?}"
    );
    let r = host
        .send(c.call(Request::get(format!("/admin/accounts/{active}"))))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["invited"], false);
    // A peer operator is beyond an operator's reach; the platform admin key
    // reaches it (how a tenant whose operators are locked out gets back in).
    let peer = account(&host, "peer@acme.test", "operator", None).await;
    let reset = || Request::post(format!("/admin/accounts/{peer}/password_reset"));
    let r = host.send(c.call(reset())).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let by_key = reset()
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .header("x-tenant", DEFAULT_HOST);
    let r = host.send(by_key).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // API clients are listed without their secrets, until revoked.
    let r = host
        .send(c.call(Request::post("/admin/api-clients").json(&json!({"name": "Billing"}))))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let client = r.json()["client_id"].as_str().unwrap().to_string();
    let secret = r.json()["client_secret"].as_str().unwrap().to_string();
    let r = host.send(c.call(Request::get("/admin/api-clients"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"][0]["client_id"], client.as_str());
    assert_eq!(r.json()["data"][0]["name"], "Billing");
    assert!(!r.text().contains(&secret));
    let r = host
        .send(c.call(Request::delete(format!("/admin/api-clients/{client}"))))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = host.send(c.call(Request::get("/admin/api-clients"))).await;
    assert_eq!(r.json()["data"], json!([]));

    // Disabling an organization stops its users; enabling lets them back.
    let path = format!("/v2/organizations/{customer}");
    let status = |s: &str| {
        c.call(Request::put(path.clone()))
            .json(&json!({"organization": {"status": s}}))
    };
    let r = host.send(status("terminated")).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = host.send(status("disabled")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["attributes"]["status"], "disabled");
    let r = host
        .send(c.call(Request::get("/v2/organizations?q[status]=disabled")))
        .await;
    assert_eq!(r.json()["meta"]["total_count"], 1, "{}", r.text());
    let key = crate::identity::app_key(&host).await;
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("x-api-key", &key)
                .json(&json!({"username": "active@acme.test", "password": "Account-password-1"})),
        )
        .await;
    assert_eq!(
        r.status,
        401,
        "a disabled organization's user: {}",
        r.text()
    );
    let r = host.send(status("active")).await;
    assert_eq!(r.json()["data"]["attributes"]["status"], "active");
    assert_eq!(
        r.json()["data"]["attributes"]["name"],
        "Acme",
        "the name stays"
    );
    // A full update may carry the status too.
    let r = host
        .send(c.call(Request::put(path.clone())).json(
            &json!({"organization": {"name": "Acme Two", "company_name": "Acme", "status": "active"}}),
        ))
        .await;
    assert_eq!(
        r.json()["data"]["attributes"]["name"],
        "Acme Two",
        "{}",
        r.text()
    );
    crate::support::sign_in(&host, &key, "active@acme.test", "Account-password-1").await;
}
