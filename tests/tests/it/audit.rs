//! The audit log: every state-changing request of every family writes
//! exactly one event, and the /v2 family's Audit section reads them back.

use onboard_test_host::{Host, Request, Response};
use serde_json::json;

use crate::cloudcockpit_auth::{api_client, bearer, customer_body};
use crate::gcore_auth::claims;
use crate::identity::app_key;
use crate::organizations::reseller_with_admin;
use crate::support::{
    ADMIN_KEY, DEFAULT_HOST, OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host, operator_auth,
};

/// Audit events stored, in every tenant.
fn events(host: &Host) -> usize {
    host.kv
        .dump("default")
        .iter()
        .filter(|(k, _)| {
            let mut parts = k.split('/');
            parts.next() == Some("t")
                && parts.next().is_some()
                && parts.next() == Some("audit")
                && parts.next().is_some_and(|n| n.parse::<i64>().is_ok())
                && parts.next().is_none()
        })
        .count()
}

/// Sends a state-changing request: it must succeed and add exactly one event.
async fn changes(host: &Host, what: &str, req: Request) -> Response {
    let before = events(host);
    let r = host.send(req).await;
    assert!(r.status < 300, "{what}: {} {}", r.status, r.text());
    assert_eq!(events(host) - before, 1, "{what} writes one audit event");
    r
}

fn op(req: Request) -> Request {
    req.header("authorization", operator_auth())
}

fn patch(path: &str) -> Request {
    Request::new(http::Method::PATCH, path)
}

fn v1(method: http::Method, path: &str, auth: &str) -> Request {
    Request::new(method, path)
        .header("authorization", auth)
        .header("x-tenant", DEFAULT_HOST)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_changing_endpoint_writes_exactly_one_event() {
    let host = app_host();
    let h = &host;
    let admin = |req: Request| req.header("authorization", format!("Bearer {ADMIN_KEY}"));

    // Administration.
    changes(
        h,
        "POST /admin/tenants",
        admin(Request::post("/admin/tenants")).json(&json!({
        "id": "audited", "name": "Audited", "domains": ["audited.test"],
        "operator": {"email": "op@audited.test", "password": OPERATOR_PASSWORD}})),
    )
    .await;
    changes(
        h,
        "PATCH /admin/tenants/{id}",
        admin(patch("/admin/tenants/audited")).json(&json!({"name": "Renamed"})),
    )
    .await;
    let key = app_key(h).await;
    let r = changes(
        h,
        "POST /admin/resellers",
        op(Request::post("/admin/resellers")).json(&json!({"name": "R", "code": "AUD"})),
    )
    .await;
    let reseller = r.json()["id"].as_str().unwrap().to_string();
    let r = changes(
        h,
        "POST /admin/accounts",
        op(Request::post("/admin/accounts")).json(&json!({
        "email": "second@onboard.test", "password": "second-password", "role": "operator"})),
    )
    .await;
    let account = r.json()["id"].as_str().unwrap().to_string();
    changes(
        h,
        "PATCH /admin/accounts/{id}",
        op(patch(&format!("/admin/accounts/{account}"))).json(&json!({"status": "disabled"})),
    )
    .await;
    let r = changes(
        h,
        "POST /admin/api-clients",
        op(Request::post("/admin/api-clients")).json(&json!({"name": "gone"})),
    )
    .await;
    let doomed = r.json()["client_id"].as_str().unwrap().to_string();
    changes(
        h,
        "DELETE /admin/api-clients/{id}",
        op(Request::delete(format!("/admin/api-clients/{doomed}"))),
    )
    .await;

    // (A CloudCockpit client for later, while the operator's token is good.)
    let (id, secret) = api_client(h, json!({"name": "csp"})).await;

    // Clone.
    let r = changes(
        h,
        "POST /auth/sign_in",
        Request::post("/auth/sign_in")
            .header("x-api-key", &key)
            .json(&json!({"username": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
    )
    .await;
    let session = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    let s = |req: Request| req.header("authorization", &session);
    let r = changes(
        h,
        "PUT /v2/user/generate_access_token",
        s(Request::put("/v2/user/generate_access_token")),
    )
    .await;
    let basic = format!("Basic {}", r.json()["token"].as_str().unwrap());
    changes(
        h,
        "PUT /v2/user/revoke_access_token",
        Request::put("/v2/user/revoke_access_token").header("authorization", &basic),
    )
    .await;
    changes(
        h,
        "PUT /v2/user/me",
        s(Request::put("/v2/user/me")).json(&json!({"user": {"first_name": "Op"}})),
    )
    .await;
    changes(
        h,
        "PUT /v2/user/organization",
        s(Request::put("/v2/user/organization"))
            .json(&json!({"organization": {"name": "Root", "company_name": "Root Co"}})),
    )
    .await;
    changes(h, "PUT /v2/user/change_password", s(Request::put("/v2/user/change_password")).json(&json!({"user": {
        "current_password": OPERATOR_PASSWORD, "password": "another-password", "password_confirmation": "another-password"}}))).await;
    let r = changes(
        h,
        "PUT /v2/user/enable_2fa",
        s(Request::put("/v2/user/enable_2fa")).json(&json!({"password": "another-password"})),
    )
    .await;
    let totp = crate::two_factor::base32_decode(r.json()["secret"].as_str().unwrap());
    let code = crate::two_factor::code_now(h, &totp);
    changes(
        h,
        "PUT /v2/user/verify_2fa_installation",
        s(Request::put("/v2/user/verify_2fa_installation")).json(&json!({"otp_attempt": code})),
    )
    .await;
    h.clock.advance(std::time::Duration::from_secs(30));
    let code = crate::two_factor::code_now(h, &totp);
    let r = changes(
        h,
        "PUT /v2/user/generate_recovery_codes",
        s(Request::put("/v2/user/generate_recovery_codes")).json(&json!({"otp_attempt": code})),
    )
    .await;
    let recovery = r.json()["recovery_codes"][0].as_str().unwrap().to_string();
    changes(
        h,
        "PUT /v2/user/disable_2fa",
        s(Request::put("/v2/user/disable_2fa")).json(&json!({"recovery_code": recovery})),
    )
    .await;
    let r = changes(
        h,
        "POST /v2/users/create_customer",
        s(Request::post("/v2/users/create_customer")).json(&json!({"customer": {
        "organization": {"name": "Audit Co"}, "user": {"email": "cust@audit.example"}}})),
    )
    .await;
    let user = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    changes(
        h,
        "PUT /v2/users/{id}",
        s(Request::put(format!("/v2/users/{user}"))).json(&json!({"user": {"title": "T"}})),
    )
    .await;
    let r = changes(
        h,
        "POST /v2/organizations",
        s(Request::post("/v2/organizations")).json(&json!({"organization": {"name": "G"}})),
    )
    .await;
    let org = r.json()["data"]["id"].as_str().unwrap().to_string();
    changes(
        h,
        "PUT /v2/organizations/{id}",
        s(Request::put(format!("/v2/organizations/{org}")))
            .json(&json!({"organization": {"name": "G2", "company_name": "G2 Co"}})),
    )
    .await;
    changes(
        h,
        "PUT /v2/organizations/move",
        s(Request::put(format!(
            "/v2/organizations/move?user_id={user}&organization_id={org}"
        ))),
    )
    .await;
    let r = changes(
        h,
        "POST /v2/organizations/{id}/subscribe",
        s(Request::post(format!("/v2/organizations/{org}/subscribe")))
            .json(&json!({"plan": "pci_plan"})),
    )
    .await;
    let sub = r.json()["data"]["id"].as_str().unwrap().to_string();
    changes(
        h,
        "PUT /v2/organizations/{id}/subscriptions/{sub}",
        s(Request::put(format!(
            "/v2/organizations/{org}/subscriptions/{sub}"
        )))
        .json(&json!({"subscription": {"price": "1"}})),
    )
    .await;
    changes(
        h,
        "POST /v2/organizations/{id}/unsubscribe",
        s(Request::post(format!(
            "/v2/organizations/{org}/unsubscribe"
        )))
        .json(&json!({"plan": "pci_plan"})),
    )
    .await;
    changes(
        h,
        "DELETE /v2/users/{id}",
        s(Request::delete(format!("/v2/users/{user}"))),
    )
    .await;
    changes(
        h,
        "DELETE /v2/organizations/{id}",
        s(Request::delete(format!("/v2/organizations/{org}"))),
    )
    .await;
    changes(
        h,
        "DELETE /auth/sign_out",
        s(Request::delete("/auth/sign_out")),
    )
    .await;

    // CloudCockpit: a token is no state change; everything else is one event.
    let before = events(h);
    let csp = bearer(h, &id, &secret).await;
    assert_eq!(
        events(h),
        before,
        "issuing a bearer token changes nothing stored"
    );
    let r = changes(
        h,
        "POST /v1/Customers",
        v1(http::Method::POST, "/v1/Customers", &csp).json(&customer_body("Audit Ltd")),
    )
    .await;
    let customer = r.json().as_str().unwrap().to_string();
    let mut info = customer_body("Audit Two");
    info.as_object_mut().unwrap().remove("role");
    changes(
        h,
        "PATCH /v1/Customers/{id}/account-info",
        v1(
            http::Method::PATCH,
            &format!("/v1/Customers/{customer}/account-info"),
            &csp,
        )
        .json(&json!({"customer": info})),
    )
    .await;
    changes(
        h,
        "PATCH /v1/Customers/{id}/internal-identifier",
        v1(
            http::Method::PATCH,
            &format!("/v1/Customers/{customer}/internal-identifier"),
            &csp,
        )
        .json(&json!({"internalIdentifier": "X-1"})),
    )
    .await;
    changes(
        h,
        "POST /v1/users/groups",
        v1(http::Method::POST, "/v1/users/groups", &csp).json(&json!({"name": "Ops"})),
    )
    .await;
    let portal = json!({"firstName": "P", "lastName": "U", "email": "portal@audit.example", "role": {}, "groups": []});
    changes(
        h,
        "POST /v1/customer/{id}/users",
        v1(
            http::Method::POST,
            &format!("/v1/customer/{customer}/users"),
            &csp,
        )
        .json(&portal),
    )
    .await;
    let mut in_reseller = portal.clone();
    in_reseller["email"] = json!("rp@audit.example");
    changes(
        h,
        "POST /v1/reseller/{id}/users",
        v1(
            http::Method::POST,
            &format!("/v1/reseller/{reseller}/users"),
            &csp,
        )
        .json(&in_reseller),
    )
    .await;
    changes(
        h,
        "PATCH /v1/users/{email}",
        v1(http::Method::PATCH, "/v1/users/portal@audit.example", &csp)
            .json(&json!({"lastName": "V"})),
    )
    .await;
    changes(
        h,
        "DELETE /v1/users/{email}",
        v1(http::Method::DELETE, "/v1/users/portal@audit.example", &csp),
    )
    .await;
    changes(
        h,
        "DELETE /v1/Customers/{id}",
        v1(
            http::Method::DELETE,
            &format!("/v1/Customers/{customer}"),
            &csp,
        ),
    )
    .await;

    // Apiculus.
    let r = changes(
        h,
        "POST /auth/login",
        Request::post("/auth/login")
            .json(&json!({"email": OPERATOR_EMAIL, "password": "another-password"})),
    )
    .await;
    let token = r.json()["result"]["token"].as_str().unwrap().to_string();
    changes(
        h,
        "PUT /api/v1/serv_restrictUserAccount/{id}",
        Request::put(format!(
            "/api/v1/serv_restrictUserAccount/{account}?manual=true"
        ))
        .header("x-access-token", &token),
    )
    .await;
    changes(
        h,
        "POST /auth/logout",
        Request::post("/auth/logout").header("x-access-token", &token),
    )
    .await;

    // Gcore.
    let r = changes(
        h,
        "POST /iam/auth/jwt/login",
        Request::post("/iam/auth/jwt/login")
            .json(&json!({"username": OPERATOR_EMAIL, "password": "another-password"})),
    )
    .await;
    let pair = r.json();
    let r = changes(
        h,
        "POST /iam/auth/jwt/refresh",
        Request::post("/iam/auth/jwt/refresh").json(&json!({"refresh": pair["refresh"]})),
    )
    .await;
    let access = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    let client = claims(r.json()["access"].as_str().unwrap())["client_id"]
        .as_u64()
        .unwrap();
    let r = changes(h, "POST /iam/v2/clients/{id}/tokens", Request::post(format!("/iam/v2/clients/{client}/tokens")).header("authorization", &access)
        .json(&json!({"name": "t", "exp_date": null, "client_user": {"role": {"id": 1, "name": "Administrators"}}}))).await;
    let token_id = r.json()["id"].as_u64().unwrap();
    changes(
        h,
        "DELETE /iam/v2/clients/{id}/tokens/{token}",
        Request::delete(format!("/iam/v2/clients/{client}/tokens/{token_id}"))
            .header("authorization", &access),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_listed_filtered_and_read_by_reach() {
    let host = app_host();
    let correlation = "corr-0001";
    let r = host
        .send(
            op(Request::post("/v2/users/create_customer"))
                .header("x-correlation-id", correlation)
                .json(&json!({"customer": {"organization": {"name": "Seen"}, "user": {"email": "seen@audit.example"}}})),
        )
        .await;
    assert_eq!(r.status, 201);
    let user = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let list = |query: &str| op(Request::get(format!("/v2/audit/events?{query}")));
    let r = host.send(list("")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let all = r.json();
    assert!(all["meta"]["total_count"].as_u64().unwrap() >= 1);
    let newest = &all["data"][0]["attributes"];
    assert_eq!(newest["action"], "customer.create");
    assert_eq!(newest["correlation_id"], correlation);
    assert_eq!(newest["outcome"], "success");
    let r = host.send(list(&format!("q[target]=user:{user}"))).await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    let r = host.send(list("q[correlation_id]=nothing-like-it")).await;
    assert_eq!(r.json()["data"], json!([]));
    let id = all["data"][0]["id"].as_str().unwrap().to_string();
    let r = host
        .send(op(Request::get(format!("/v2/audit/events/{id}"))))
        .await;
    assert_eq!((r.status, r.json()["data"]["id"].clone()), (200, json!(id)));
    for bad in ["0", "x", "999999"] {
        assert_eq!(
            host.send(op(Request::get(format!("/v2/audit/events/{bad}"))))
                .await
                .status,
            404
        );
    }
    assert!(r.json()["data"]["attributes"]["occurred_at"].is_string());
    assert_eq!(
        host.send(Request::get("/v2/audit/events")).await.status,
        401
    );

    // A reseller administrator reads the events of its own subtree only.
    let (reseller, auth) = reseller_with_admin(&host, "AUDR");
    let r = host
        .send(
            Request::post("/v2/users/create_customer")
                .header("authorization", &auth)
                .json(&json!({"customer": {"organization": {"name": "Mine", "parent_organization": reseller},
                    "user": {"email": "mine@audit.example"}}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = host
        .send(Request::get("/v2/audit/events").header("authorization", &auth))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Its reseller's creation, its admin's account and its customer: all
    // about its own subtree, and nothing else.
    let seen: Vec<(String, String)> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["attributes"]["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let actions: Vec<&str> = seen.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["customer.create", "account.create", "reseller.create"],
        "{seen:?}"
    );
    assert!(seen.iter().all(|(e, _)| *e != id));
    let r = host
        .send(Request::get(format!("/v2/audit/events/{id}")).header("authorization", &auth))
        .await;
    assert_eq!(r.status, 404, "the operator's customer is out of its reach");
}
