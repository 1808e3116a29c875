//! Gcore credentials through the wasm components: JWT login and single-use
//! refresh, API tokens (`APIKey <id>_<secret>`) and the account overview.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use onboard_test_host::{Host, Request};
use serde_json::{Value, json};

use crate::support::{OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host, operator_auth};

pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub async fn login(host: &Host, username: &str, password: &str) -> Value {
    let r = host
        .send(
            Request::post("/iam/auth/jwt/login")
                .json(&json!({"username": username, "password": password})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

pub fn overview(auth: &str) -> Request {
    Request::get("/iam/clients/me").header("authorization", auth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_login_gives_an_hour_access_and_a_day_refresh() {
    let host = app_host();
    let pair = login(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let access = pair["access"].as_str().unwrap();
    let refresh = pair["refresh"].as_str().unwrap();
    let a = claims(access);
    let r = claims(refresh);
    assert_eq!(
        (a["token_type"].as_str(), r["token_type"].as_str()),
        (Some("access"), Some("refresh"))
    );
    assert_eq!(
        a["exp"].as_i64().unwrap() - a["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(
        r["exp"].as_i64().unwrap() - r["iat"].as_i64().unwrap(),
        86400
    );
    assert_eq!(a["rjti"], r["jti"]);
    assert_eq!(a["user_groups"], json!(["Administrators"]));
    assert_eq!(a["email"], OPERATOR_EMAIL);
    let resp = host.send(overview(&format!("Bearer {access}"))).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["id"], a["client_id"]);
    assert_eq!(body["currentUser"], a["user_id"]);
    assert!(body["id"].is_u64() && body["companyName"].is_string());

    // The access token dies after its hour.
    host.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        host.send(overview(&format!("Bearer {access}")))
            .await
            .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refusals_have_the_documented_bodies() {
    let host = app_host();
    let r = host
        .send(
            Request::post("/iam/auth/jwt/login")
                .json(&json!({"username": OPERATOR_EMAIL, "password": "wrong-password"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": {"errors": ["No active account found with the given credentials."]}})
    );
    let r = host
        .send(Request::post("/iam/auth/jwt/login").json(&json!({"username": OPERATOR_EMAIL})))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": {"password": ["This field is required."]}})
    );
    let r = host
        .send(
            Request::post("/iam/auth/jwt/login")
                .header("content-type", "application/json")
                .body("{\"username\":"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );
    // A host no tenant serves (and no default tenant): no account there.
    let r = host
        .send(
            Request::post("/iam/auth/jwt/login")
                .header("host", "nobody.example")
                .json(&json!({"username": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_works_once_and_its_reuse_ends_the_session() {
    let host = app_host();
    let first = login(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let refresh =
        |token: &Value| Request::post("/iam/auth/jwt/refresh").json(&json!({"refresh": token}));
    let r = host.send(refresh(&first["refresh"])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let second = r.json();
    assert_ne!(second["refresh"], first["refresh"]);
    let new_access = format!("Bearer {}", second["access"].as_str().unwrap());
    assert_eq!(host.send(overview(&new_access)).await.status, 200);

    // Tokens are never interchangeable.
    let as_access = format!("Bearer {}", second["refresh"].as_str().unwrap());
    assert_eq!(host.send(overview(&as_access)).await.status, 401);
    assert_eq!(host.send(refresh(&second["access"])).await.status, 401);
    let r = host
        .send(Request::post("/iam/auth/jwt/refresh").json(&json!({})))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!({"errors": {"refresh": ["This field is required."]}})
        )
    );

    // The first refresh token again: refused, and the whole session ends.
    assert_eq!(host.send(refresh(&first["refresh"])).await.status, 401);
    assert_eq!(host.send(overview(&new_access)).await.status, 401);
    assert_eq!(host.send(refresh(&second["refresh"])).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_have_one_winner() {
    let host = app_host();
    let pair = login(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let responses = crate::support::concurrently(&host, 6, |_| {
        Request::post("/iam/auth/jwt/refresh").json(&json!({"refresh": pair["refresh"]}))
    })
    .await;
    let won = responses.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        won,
        1,
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(responses.iter().all(|r| r.status == 200 || r.status == 401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_are_issued_used_listed_expired_and_deleted() {
    let host = app_host();
    let pair = login(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let bearer = format!("Bearer {}", pair["access"].as_str().unwrap());
    let client = claims(pair["access"].as_str().unwrap())["client_id"]
        .as_u64()
        .unwrap();
    let path = format!("/iam/v2/clients/{client}/tokens");
    let create = |body: Value| {
        Request::post(&path)
            .header("authorization", &bearer)
            .json(&body)
    };

    let r = host
        .send(create(
            json!({"name": "ci", "exp_date": null, "description": "deploys",
                            "client_user": {"role": {"id": 1, "name": "Administrators"}}}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let created = r.json();
    let token = created["token"].as_str().unwrap().to_string();
    let id = created["id"].as_u64().unwrap();
    assert!(token.starts_with(&format!("{id}_")));
    assert_eq!(
        created["client_user"]["role"],
        json!({"id": 1, "name": "Administrators"})
    );
    assert_eq!(created["client_user"]["user_email"], OPERATOR_EMAIL);
    assert_eq!(created["exp_date"], Value::Null);

    // Used with the SDK's `APIKey` scheme or the docs' `apikey`.
    for scheme in ["APIKey", "apikey", "ApiKey"] {
        let r = host.send(overview(&format!("{scheme} {token}"))).await;
        assert_eq!(r.status, 200, "{scheme}");
        assert_eq!(r.json()["id"], client);
    }
    // A token expiring in an hour works until then.
    let soon = onboard_shared::base::time::format_millis(
        onboard_shared::base::time::millis(host.clock.now()) + 3_600_000,
    );
    let r = host
        .send(create(json!({"name": "short", "exp_date": soon,
                            "client_user": {"role": {"name": "Users"}}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let short = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        host.send(overview(&format!("APIKey {short}"))).await.status,
        200
    );

    let list = host
        .send(Request::get(&path).header("authorization", &bearer))
        .await;
    assert_eq!(list.status, 200);
    let items = list.json();
    assert_eq!(items.as_array().unwrap().len(), 2);
    assert!(
        !list.text().contains(&token),
        "a listed token never shows its secret"
    );

    host.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        host.send(overview(&format!("APIKey {short}"))).await.status,
        401
    );
    let items = host
        .send(Request::get(&path).header("authorization", format!("APIKey {token}")))
        .await
        .json();
    assert_eq!(
        items.as_array().unwrap().len(),
        1,
        "expired tokens are gone"
    );

    let one = format!("{path}/{id}");
    let r = host
        .send(Request::get(&one).header("authorization", format!("APIKey {token}")))
        .await;
    assert_eq!((r.status, r.json()["name"].clone()), (200, json!("ci")));
    let r = host
        .send(Request::delete(&one).header("authorization", operator_auth_for_gcore(&host).await))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        host.send(overview(&format!("APIKey {token}"))).await.status,
        401
    );
    let r = host
        .send(Request::get(&one).header("authorization", format!("APIKey {short}")))
        .await;
    assert_eq!(r.status, 401);
}

/// A fresh Gcore bearer of the seeded operator.
async fn operator_auth_for_gcore(host: &Host) -> String {
    let pair = login(host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    format!("Bearer {}", pair["access"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_are_checked() {
    let host = app_host();
    let bearer = operator_auth_for_gcore(&host).await;
    let client = {
        let r = host.send(overview(&bearer)).await;
        r.json()["id"].as_u64().unwrap()
    };
    let path = format!("/iam/v2/clients/{client}/tokens");
    let r = host
        .send(
            Request::post(&path)
                .header("authorization", &bearer)
                .json(&json!({"name": "x"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["errors"]["exp_date"].is_array()
            && r.json()["errors"]["client_user"]["role"].is_array()
    );
    let r = host
        .send(Request::post(&path).header("authorization", &bearer).json(
            &json!({"name": "x", "exp_date": null, "client_user": {"role": {"name": "RoleName"}}}),
        ))
        .await;
    assert_eq!(
        r.json(),
        json!({"errors": {"client_user": {"role": ["Invalid role: RoleName"]}}})
    );
    let r = host
        .send(Request::get("/iam/v2/clients/999999/tokens").header("authorization", &bearer))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "Account not found."}))
    );
    // A Clone credential is not a Gcore credential.
    let r = host.send(overview(&operator_auth())).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("APIKey"));
    let r = host
        .send(Request::put(&path).header("authorization", &bearer))
        .await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
}
