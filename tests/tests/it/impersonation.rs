//! Impersonation through the wasm components: an administrator's session
//! acts as a narrower user, every request of it is audited with both
//! identities, it cannot escalate, and the revert token ends it.

use onboard_shared::be::storage::{AuditEvent, Record};
use onboard_test_host::{Host, Request, Response};
use serde_json::json;
use uuid::Uuid;

use crate::create_customer::{new_org_body, post};
use crate::gcore_auth::claims;
use crate::identity::app_key;
use crate::support::{OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host, operator_auth, sign_in};

async fn customer(host: &Host, email: &str) -> Uuid {
    let r = host.send(post(&new_org_body(email))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.header("location")
        .and_then(|l| l.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .expect("a Location naming the user")
}

fn impersonate(auth: &str, target: &str) -> Request {
    Request::post(format!("/auth/impersonate?uuid={target}")).header("authorization", auth)
}

fn revert(auth: &str, token: &str) -> Request {
    Request::delete("/auth/impersonate")
        .header("authorization", auth)
        .json(&json!({"impersonator_revert_token": token}))
}

fn me(auth: &str) -> Request {
    Request::get("/v2/user/me").header("authorization", auth)
}

fn bearer(r: &Response) -> String {
    format!("Bearer {}", r.json()["token"].as_str().expect("a token"))
}

/// A signed-in session of the seeded operator, and the operator's id.
async fn operator_session(host: &Host) -> (String, String) {
    let key = app_key(host).await;
    let bearer = sign_in(host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let id = claims(bearer.trim_start_matches("Bearer "))["sub"]
        .as_str()
        .unwrap()
        .to_string();
    (bearer, id)
}

/// The audit events of tenant `default` with `action`.
fn events(host: &Host, action: &str) -> Vec<AuditEvent> {
    host.kv
        .dump("default")
        .into_iter()
        .filter(|(k, _)| k.starts_with("t/default/audit/"))
        .filter_map(|(_, v)| serde_json::from_slice::<Record<AuditEvent>>(&v).ok())
        .map(|r| r.data)
        .filter(|e| e.action == action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_impersonates_a_narrower_user_and_reverts() {
    let host = app_host();
    let (operator, operator_id) = operator_session(&host).await;
    let target = customer(&host, "helped@example.com").await;

    let r = host.send(impersonate(&operator, &target.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], "helped@example.com");
    let revert_token = r.json()["impersonator_revert_token"]
        .as_str()
        .unwrap()
        .to_string();
    let acting = bearer(&r);
    let jwt = claims(acting.trim_start_matches("Bearer "));
    assert_eq!(jwt["sub"], target.to_string());
    assert_eq!(
        jwt["act"]["sub"], operator_id,
        "RFC 8693 act claim names the impersonator"
    );

    // The impersonated session works as the user, and each request is
    // audited with both identities.
    let r = host.send(me(&acting)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["data"]["attributes"]["email"],
        "helped@example.com"
    );
    let seen = events(&host, "impersonation.request");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].actor.id, target.to_string());
    assert!(
        seen[0]
            .targets
            .contains(&format!("impersonator:user:{operator_id}"))
    );
    assert!(
        seen[0]
            .targets
            .contains(&"request:GET /v2/user/me".to_string())
    );
    assert_eq!(events(&host, "session.impersonate").len(), 1);

    // It cannot escalate: impersonate again, change the password or the
    // second factor, or mint a long-lived token.
    let other = customer(&host, "other@example.com").await;
    for (what, req) in [
        ("impersonate", impersonate(&acting, &other.to_string())),
        (
            "change_password",
            Request::put("/v2/user/change_password")
                .header("authorization", &acting)
                .json(
                    &json!({"user": {"current_password": "x", "password": "password123",
                    "password_confirmation": "password123"}}),
                ),
        ),
        (
            "enable_2fa",
            Request::put("/v2/user/enable_2fa").header("authorization", &acting),
        ),
        (
            "generate_access_token",
            Request::put("/v2/user/generate_access_token").header("authorization", &acting),
        ),
    ] {
        let r = host.send(req).await;
        assert_eq!(r.status, 403, "{what}: {}", r.text());
    }

    // Nor change the email, the user's sign-in name.
    let r = host
        .send(
            Request::put("/v2/user/me")
                .header("authorization", &acting)
                .json(&json!({"user": {"email": "mine-now@example.com"}})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());

    // A wrong revert token is 401; the right one ends the impersonation and
    // answers the operator's own identity again.
    let r = host.send(revert(&acting, "not-the-token")).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = host.send(revert(&acting, &revert_token)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], OPERATOR_EMAIL);
    let back = bearer(&r);
    assert_eq!(host.send(me(&back)).await.status, 200);
    assert_eq!(
        host.send(me(&acting)).await.status,
        401,
        "the impersonation is over"
    );
    assert_eq!(events(&host, "session.impersonate.end").len(), 1);

    // An impersonation ends with its impersonator's own session.
    let r = host.send(impersonate(&back, &target.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let acting = bearer(&r);
    assert_eq!(host.send(me(&acting)).await.status, 200);
    let r = host
        .send(Request::delete("/auth/sign_out").header("authorization", &back))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        host.send(me(&acting)).await.status,
        401,
        "its impersonator signed out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation_is_refused_outside_its_rules() {
    let host = app_host();
    let (operator, operator_id) = operator_session(&host).await;
    let target = customer(&host, "someone@example.com").await.to_string();
    let cases = [
        // From an access token, not a signed-in session.
        ("access token", impersonate(&operator_auth(), &target), 403),
        // Oneself, or no narrower role.
        ("oneself", impersonate(&operator, &operator_id), 403),
        (
            "unknown user",
            impersonate(&operator, &Uuid::new_v4().to_string()),
            404,
        ),
        (
            "no uuid",
            Request::post("/auth/impersonate").header("authorization", &operator),
            422,
        ),
        (
            "no credential",
            Request::post(format!("/auth/impersonate?uuid={target}")),
            401,
        ),
        // Reverting a session that is not an impersonation.
        ("not impersonating", revert(&operator, "whatever"), 403),
    ];
    for (what, req, status) in cases {
        let r = host.send(req).await;
        assert_eq!(r.status, status, "{what}: {}", r.text());
    }
    assert!(events(&host, "session.impersonate").is_empty());
}
