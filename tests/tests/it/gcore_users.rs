//! Gcore IAM users (seed 004) through the wasm components, and one user
//! record read and changed through all four API families.

use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};

use crate::gcore_auth::login;
use crate::support::{OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host, operator_auth};

async fn operator_bearer(host: &Host) -> String {
    let pair = login(host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    format!("Bearer {}", pair["access"].as_str().unwrap())
}

/// A reseller made through `/admin`, with its integer id.
async fn reseller(host: &Host, code: &str) -> (String, u64) {
    let r = host
        .send(
            Request::post("/admin/resellers")
                .header("authorization", operator_auth())
                .json(&json!({"name": format!("Reseller {code}"), "code": code})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    (
        r.json()["id"].as_str().unwrap().to_string(),
        r.json()["number"].as_u64().unwrap(),
    )
}

/// Seed 004's body with real values for its placeholders.
fn seed_body(seller: u64) -> Value {
    json!({
        "email": "jsmith@example.com",
        "password": "Str0ng-password",
        "company": "Smith Ltd",
        "user_type": "common",
        "name": "John Smith",
        "phone": "+15550100",
        "seller": seller,
        "services": [{"product_name": "CDN", "available": true}],
        "lang": "de",
        "custom_id": "crm-123",
        "country_code": "US",
        "is_test": true
    })
}

fn create(auth: &str, body: &Value) -> Request {
    Request::post("/iam/users")
        .header("authorization", auth)
        .json(body)
}

fn errors(r: &Response) -> Value {
    r.json()["errors"].clone()
}

/// What the document says seed 004 may carry, the component accepts: every
/// instance of the body's derived schema (every field; the required ones
/// alone; null wherever allowed) is a 201, once its email is free and its
/// seller is a reseller the credential reaches (stored state, which no
/// schema states).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_documented_body_allows_the_component_accepts() {
    use onboard_shared::base::schema::{body, samples};
    use onboard_shared::families::gcore::users::CreateUserBody;
    let host = app_host();
    let (_, seller) = reseller(&host, "G9").await;
    let auth = operator_bearer(&host).await;
    let schema = body::<CreateUserBody>();
    for (i, fill) in samples::FILLS.into_iter().enumerate() {
        let mut sample = samples::instance(&schema, fill);
        sample["email"] = json!(format!("sample{i}@example.com"));
        if sample.get("seller").is_some_and(|s| !s.is_null()) {
            sample["seller"] = json!(seller);
        }
        let r = host.send(create(&auth, &sample)).await;
        assert_eq!(r.status, 201, "{fill:?} {sample}: {}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_004_creates_an_active_user_and_client() {
    let host = app_host();
    let (_, seller) = reseller(&host, "G1").await;
    let auth = operator_bearer(&host).await;
    let r = host.send(create(&auth, &seed_body(seller))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let u = r.json();
    let (id, client) = (u["id"].as_u64().unwrap(), u["client"].as_u64().unwrap());
    assert_eq!(
        u,
        json!({
            "id": id, "email": "jsmith@example.com", "name": "John Smith", "lang": "de",
            "phone": "+15550100", "company": "Smith Ltd", "reseller": seller, "client": client,
            "deleted": false, "groups": [{"id": 1, "name": "Administrators"}], "activated": true,
            "sso_auth": false, "two_fa": false, "auth_types": ["password"], "user_type": "common",
            "is_active": true,
            "client_and_roles": [{"client_id": client, "client_company_name": "Smith Ltd",
                                  "user_roles": ["1"], "user_id": id}]
        })
    );
    // Every request field is kept: the account overview of the new user shows
    // the client's, and the user signs in with its password.
    let pair = login(&host, "jsmith@example.com", "Str0ng-password").await;
    let mine = format!("Bearer {}", pair["access"].as_str().unwrap());
    let r = host
        .send(Request::get("/iam/clients/me").header("authorization", &mine))
        .await;
    let o = r.json();
    assert_eq!(
        (
            o["id"].clone(),
            o["companyName"].clone(),
            o["custom_id"].clone(),
            o["country_code"].clone(),
            o["is_test"].clone(),
            o["currentUser"].clone()
        ),
        (
            json!(client),
            json!("Smith Ltd"),
            json!("crm-123"),
            json!("US"),
            json!(true),
            json!(id)
        )
    );
    // `services: [{CDN, available: true}]`: CDN may be activated, nothing is yet.
    assert_eq!(
        o["serviceStatuses"],
        json!({"CDN": {"status": "new", "enabled": false}})
    );
    assert_eq!(o["capabilities"], json!(["CDN"]));
    let stored = host
        .kv
        .dump("default")
        .into_iter()
        .filter(|(k, _)| k.starts_with("t/default/org/"))
        .filter_map(|(_, v)| {
            serde_json::from_slice::<
                onboard_shared::be::storage::Record<onboard_shared::base::model::Organization>,
            >(&v)
            .ok()
        })
        .find(|r| r.data.number == Some(client))
        .unwrap()
        .data;
    assert_eq!(
        stored.details.get("service.CDN").map(String::as_str),
        Some("true")
    );
    // GET drops client_and_roles, as Gcore's UserGetResponse does.
    let r = host
        .send(Request::get(format!("/iam/users/{id}")).header("authorization", &auth))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json().get("client_and_roles").is_none());
    assert_eq!(r.json()["email"], "jsmith@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_errors_are_gcore_shaped_and_never_5xx() {
    let host = app_host();
    let (_, seller) = reseller(&host, "G2").await;
    let auth = operator_bearer(&host).await;
    let r = host.send(create(&auth, &json!({}))).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        errors(&r),
        json!({"email": ["This field is required."], "password": ["This field is required."],
               "company": ["This field is required."]})
    );
    let mut bad = seed_body(seller);
    bad["lang"] = json!("fr");
    bad["user_type"] = json!("reseller");
    bad["services"] = json!([{"product_name": "MAIL", "available": true}]);
    bad["country_code"] = json!("ZZ");
    bad["email"] = json!("nope");
    bad["password"] = json!("short");
    let r = host.send(create(&auth, &bad)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let e = errors(&r);
    // Every failing field at once, the tenant's password policy included.
    for field in [
        "lang",
        "user_type",
        "services",
        "country_code",
        "email",
        "password",
    ] {
        assert!(e.get(field).is_some(), "{field}: {e}");
    }
    let mut unknown = seed_body(seller);
    unknown["seller"] = json!(999_999);
    let r = host.send(create(&auth, &unknown)).await;
    assert_eq!(
        (r.status, errors(&r)),
        (400, json!({"seller": ["Seller not found."]}))
    );
    let mut weak = seed_body(seller);
    weak["password"] = json!("short");
    let r = host.send(create(&auth, &weak)).await;
    assert!(errors(&r)["password"].is_array(), "{}", r.text());
    assert_eq!(
        host.send(create(&auth, &seed_body(seller))).await.status,
        201
    );
    let r = host.send(create(&auth, &seed_body(seller))).await;
    assert_eq!(
        (r.status, errors(&r)),
        (
            400,
            json!({"email": ["user with this email already exists."]})
        )
    );
    let r = host
        .send(
            Request::post("/iam/users")
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body("{"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );
    assert_eq!(
        host.send(Request::post("/iam/users").json(&seed_body(seller)))
            .await
            .status,
        401
    );
    // A customer's administrator may not create clients.
    let pair = login(&host, "jsmith@example.com", "Str0ng-password").await;
    let customer = format!("Bearer {}", pair["access"].as_str().unwrap());
    let mut other = seed_body(seller);
    other["email"] = json!("x@example.com");
    assert_eq!(host.send(create(&customer, &other)).await.status, 403);
    let r = host
        .send(Request::put("/iam/users").header("authorization", &auth))
        .await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_listed_changed_invited_and_removed() {
    let host = app_host();
    let (_, seller) = reseller(&host, "G3").await;
    let auth = operator_bearer(&host).await;
    let r = host.send(create(&auth, &seed_body(seller))).await;
    let (id, client) = (
        r.json()["id"].as_u64().unwrap(),
        r.json()["client"].as_u64().unwrap(),
    );
    let r = host
        .send(Request::get("/iam/users?limit=1&offset=0").header("authorization", &auth))
        .await;
    let page = r.json();
    assert_eq!(page["count"], 2, "the operator and the new user");
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(page["next"], "/iam/users?limit=1&offset=1");
    let r = host
        .send(Request::get("/iam/users?limit=1&offset=1").header("authorization", &auth))
        .await;
    assert_eq!(r.json()["results"][0]["id"], id);
    assert_eq!(r.json()["next"], Value::Null);

    let patch = |body: Value| {
        Request::new(http::Method::PATCH, format!("/iam/users/{id}"))
            .header("authorization", &auth)
            .json(&body)
    };
    let r = host
        .send(patch(json!({"name": "J. Smith", "lang": "en", "phone": null, "auth_types": ["password", "sso"]})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let u = r.json();
    assert_eq!(
        (
            u["name"].clone(),
            u["lang"].clone(),
            u["phone"].clone(),
            u["auth_types"].clone()
        ),
        (
            json!("J. Smith"),
            json!("en"),
            Value::Null,
            json!(["password", "sso"])
        )
    );
    assert_eq!(host.send(patch(json!({"lang": "xx"}))).await.status, 400);
    assert_eq!(host.send(patch(json!({"email": "bad"}))).await.status, 400);
    let r = host
        .send(Request::get("/iam/users/987654").header("authorization", &auth))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "User not found"}))
    );

    // Invite into the client: a user who cannot sign in yet, and a message
    // in the outbox carrying its token.
    let invite = |email: &str| {
        Request::post("/iam/clients/invite_user")
            .header("authorization", &auth)
            .json(&json!({"client_id": client, "email": email, "user_role": {"id": 2, "name": "Users"}, "name": "Ivy"}))
    };
    let r = host.send(invite("ivy@example.com")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "sent");
    let invited = r.json()["user_id"].as_u64().unwrap();
    let r = host.send(invite("ivy@example.com")).await;
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!([format!(
                "User {invited} has already been invited to client {client}"
            )])
        )
    );
    let r = host
        .send(Request::get("/admin/outbox").header("authorization", operator_auth()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let message = r.json()["messages"][0].clone();
    assert_eq!(
        (message["kind"].clone(), message["to"].clone()),
        (json!("invitation"), json!("ivy@example.com"))
    );
    let token = message["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32);
    assert!(
        !host
            .kv
            .dump("default")
            .iter()
            .any(|(_, v)| v.windows(token.len()).any(|w| w == token.as_bytes())),
        "the invitation token is never stored"
    );
    let r = host
        .send(
            Request::post("/iam/auth/jwt/login")
                .json(&json!({"username": "ivy@example.com", "password": "anything-at-all"})),
        )
        .await;
    assert_eq!(r.status, 400, "an invited user cannot sign in yet");

    // Removing a user from its client: refused while it holds a token.
    let remove = |user: u64| {
        Request::delete(format!("/iam/clients/{client}/client-users/{user}"))
            .header("authorization", &auth)
            .header("accept", "*/*")
    };
    let pair = login(&host, "jsmith@example.com", "Str0ng-password").await;
    let r = host
        .send(
            Request::post(format!("/iam/v2/clients/{client}/tokens"))
                .header("authorization", format!("Bearer {}", pair["access"].as_str().unwrap()))
                .json(&json!({"name": "t", "exp_date": null, "client_user": {"role": {"id": 2, "name": "Users"}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host.send(remove(id)).await;
    assert_eq!(
        (r.status, r.json()),
        (
            403,
            json!({"message": "You can't remove the user as they have active tokens"})
        )
    );
    let r = host.send(remove(invited)).await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(
        host.send(Request::get(format!("/iam/users/{invited}")).header("authorization", &auth))
            .await
            .status,
        404
    );
    assert_eq!(host.send(remove(invited)).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_admin_invites_pages_skip_no_one_and_narrow_tokens_change_nothing() {
    let host = app_host();
    let (_, seller) = reseller(&host, "G4").await;
    let auth = operator_bearer(&host).await;
    let r = host.send(create(&auth, &seed_body(seller))).await;
    let (id, client) = (
        r.json()["id"].as_u64().unwrap(),
        r.json()["client"].as_u64().unwrap(),
    );
    let pair = login(&host, "jsmith@example.com", "Str0ng-password").await;
    let admin = format!("Bearer {}", pair["access"].as_str().unwrap());
    // The client's own administrator invites into it.
    let mut invited = Vec::new();
    for n in 0..4 {
        let r = host
            .send(
                Request::post("/iam/clients/invite_user")
                    .header("authorization", &admin)
                    .json(
                        &json!({"client_id": client, "email": format!("team{n}@example.com"),
                                  "user_role": {"id": 2, "name": "Users"}}),
                    ),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        invited.push(r.json()["user_id"].as_u64().unwrap());
    }
    // Remove two, then page one by one as the SDK does: nobody is skipped
    // or repeated, and count is what the pages hold.
    for user in &invited[..2] {
        let r = host
            .send(
                Request::delete(format!("/iam/clients/{client}/client-users/{user}"))
                    .header("authorization", &admin),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = host
            .send(
                Request::get(format!("/iam/users?limit=1&offset={offset}"))
                    .header("authorization", &admin),
            )
            .await
            .json();
        let results = page["results"].as_array().unwrap().clone();
        if results.is_empty() {
            break;
        }
        offset += results.len();
        seen.extend(results.iter().map(|u| u["id"].as_u64().unwrap()));
        assert_eq!(page["count"], 3, "the admin and two team members");
        if offset >= 3 {
            break;
        }
    }
    seen.sort();
    let mut expected = vec![id, invited[2], invited[3]];
    expected.sort();
    assert_eq!(seen, expected);
    // A Users-role token of the admin does not change the admin.
    let r = host
        .send(
            Request::post(format!("/iam/v2/clients/{client}/tokens"))
                .header("authorization", &admin)
                .json(&json!({"name": "narrow", "exp_date": null, "client_user": {"role": {"id": 2, "name": "Users"}}})),
        )
        .await;
    let narrow = format!("APIKey {}", r.json()["token"].as_str().unwrap());
    let r = host
        .send(
            Request::new(http::Method::PATCH, format!("/iam/users/{id}"))
                .header("authorization", &narrow)
                .json(&json!({"email": "taken-over@example.com"})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
}

/// What the document says the invitation, API-token and user-change bodies
/// may carry, the components accept: every instance of each derived schema,
/// once the fields that name stored state hold live values (a free email,
/// the client's id) and the expiry is in the future, which no schema states.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_documented_invite_token_and_change_bodies_allow_the_components_accept() {
    use onboard_shared::base::schema::{body, samples};
    use onboard_shared::families::gcore::{self, users};
    let host = app_host();
    let (_, seller) = reseller(&host, "G10").await;
    let auth = operator_bearer(&host).await;
    let r = host.send(create(&auth, &seed_body(seller))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let (id, client) = (
        r.json()["id"].as_u64().unwrap(),
        r.json()["client"].as_u64().unwrap(),
    );
    let pair = login(&host, "jsmith@example.com", "Str0ng-password").await;
    let own = format!("Bearer {}", pair["access"].as_str().unwrap());
    for (i, fill) in samples::FILLS.into_iter().enumerate() {
        let mut sample = samples::instance(&body::<users::InviteBody>(), fill);
        sample["client_id"] = json!(client);
        sample["email"] = json!(format!("invited{i}@example.com"));
        let r = host
            .send(
                Request::post("/iam/clients/invite_user")
                    .header("authorization", &own)
                    .json(&sample),
            )
            .await;
        assert_eq!(r.status, 200, "{fill:?} {sample}: {}", r.text());

        let mut sample = samples::instance(&body::<gcore::NewTokenBody>(), fill);
        if !sample["exp_date"].is_null() {
            sample["exp_date"] = json!("2099-01-01T00:00:00Z");
        }
        let r = host
            .send(
                Request::post(format!("/iam/v2/clients/{client}/tokens"))
                    .header("authorization", &own)
                    .json(&sample),
            )
            .await;
        assert_eq!(r.status, 200, "{fill:?} {sample}: {}", r.text());
    }
    // Last: an email change may end the user's sessions.
    for (i, fill) in samples::FILLS.into_iter().enumerate() {
        let mut sample = samples::instance(&body::<users::UserChangeBody>(), fill);
        if sample.get("email").is_some_and(|e| !e.is_null()) {
            sample["email"] = json!(format!("changed{i}@example.com"));
        }
        let r = host
            .send(
                Request::new(http::Method::PATCH, format!("/iam/users/{id}"))
                    .header("authorization", &auth)
                    .json(&sample),
            )
            .await;
        assert_eq!(r.status, 200, "{fill:?} {sample}: {}", r.text());
    }
}
