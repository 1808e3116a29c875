//! Apiculus sessions and account lifecycle through the wasm components.

use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};

use crate::create_customer::{new_org_body, post};
use crate::support::{OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host};

async fn login(host: &Host, email: &str, password: &str) -> Response {
    host.send(Request::post("/auth/login").json(&json!({"email": email, "password": password})))
        .await
}

async fn token(host: &Host, email: &str, password: &str) -> String {
    let r = login(host, email, password).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["result"]["token"].as_str().unwrap().to_string()
}

fn lifecycle(action: &str, id: &str, token: &str) -> Request {
    Request::put(format!("/api/v1/serv_{action}UserAccount/{id}?manual=true"))
        .header("x-access-token", token)
}

fn logout(token: &str) -> Request {
    Request::post("/auth/logout").header("x-access-token", token)
}

fn is_envelope(v: &Value, status: u16, success: bool) -> bool {
    v["httpStatus"] == status
        && v["success"] == success
        && v["sync"] == true
        && v["jobId"]
            .as_str()
            .is_some_and(|j| uuid::Uuid::parse_str(j).is_ok())
        && v["cached"] == false
        && v["replayed"] == false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_gives_the_documented_result_and_logout_ends_it() {
    let host = app_host();
    let r = login(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(
        (body["httpStatus"].clone(), body["success"].clone()),
        (json!(200), json!(true))
    );
    let result = &body["result"];
    assert_eq!(result["account_type"], 12);
    assert_eq!(result["onboarded"], true);
    assert!(result["currency"].is_string() && result["paymentCurrency"].is_string());
    assert!(result["last_logged_in"].as_str().unwrap().ends_with('Z'));
    let t = result["token"].as_str().unwrap().to_string();

    let r = host.send(logout(&t)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(is_envelope(&r.json(), 200, true), "{}", r.text());
    let r = host.send(logout(&t)).await;
    assert_eq!(r.status, 401);
    assert!(is_envelope(&r.json(), 401, false), "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "UNAUTHORIZED");

    let r = login(&host, OPERATOR_EMAIL, "wrong-password").await;
    assert!(r.status == 401 && is_envelope(&r.json(), 401, false));
    let r = host
        .send(Request::post("/auth/login").json(&json!({"email": OPERATOR_EMAIL})))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"]["fields"]["password"].is_array());
    // Another family's token is not an Apiculus token.
    let r = host.send(logout(crate::support::OPERATOR_TOKEN)).await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_endpoints_move_the_account_and_its_credentials_follow() {
    let host = app_host();
    let created = host
        .send(post(&new_org_body("subscriber@example.com")))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let admin = token(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let sub = token(&host, "subscriber@example.com", "password123").await;
    let works = |t: String| {
        let host = host.clone();
        async move {
            host.send(
                Request::put("/api/v1/serv_enableUserAccount/x?manual=true")
                    .header("x-access-token", t),
            )
            .await
            .status
                != 401
        }
    };
    assert!(works(sub.clone()).await);

    let step = |action: &'static str| {
        let host = host.clone();
        let (id, admin) = (id.clone(), admin.clone());
        async move { host.send(lifecycle(action, &id, &admin)).await }
    };
    let r = step("disable").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(is_envelope(&r.json(), 200, true));
    assert_eq!(r.json()["result"]["status"], "disabled");
    assert!(
        !works(sub.clone()).await,
        "disabled: the very next request fails"
    );
    assert_eq!(
        login(&host, "subscriber@example.com", "password123")
            .await
            .status,
        401
    );

    assert_eq!(step("enable").await.status, 200);
    assert!(works(sub.clone()).await, "enabled again");
    assert_eq!(
        step("restrict").await.json()["result"]["status"],
        "restricted"
    );
    assert!(
        works(sub.clone()).await,
        "restricted accounts keep their sessions"
    );
    assert_eq!(step("terminate").await.status, 200);
    assert!(!works(sub.clone()).await);
    let r = step("enable").await;
    assert_eq!(r.status, 422, "terminated is final: {}", r.text());

    // A subscriber's token is not an admin token; the rest is checked too.
    let other = host.send(post(&new_org_body("other@example.com"))).await;
    let other_id = other
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let plain = token(&host, "other@example.com", "password123").await;
    assert_eq!(
        host.send(lifecycle("disable", &other_id, &plain))
            .await
            .status,
        403
    );
    let r = host
        .send(
            Request::put(format!("/api/v1/serv_disableUserAccount/{other_id}"))
                .header("x-access-token", &admin),
        )
        .await;
    assert_eq!(r.status, 422, "manual=true is required");
    assert_eq!(
        host.send(lifecycle("disable", "999999", &admin))
            .await
            .status,
        404
    );
    assert_eq!(
        host.send(lifecycle("explode", &other_id, &admin))
            .await
            .status,
        404
    );
    let r = host
        .send(
            Request::get(format!(
                "/api/v1/serv_disableUserAccount/{other_id}?manual=true"
            ))
            .header("x-access-token", &admin),
        )
        .await;
    assert_eq!((r.status, r.header("allow")), (405, Some("PUT")));
}
