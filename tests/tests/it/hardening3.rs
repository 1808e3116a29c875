//! Regressions of the third hardening review: credentials accepted only on
//! their own tenant's hosts, ids never reused, refusals that reserve
//! nothing, replays that answer what was stored. Request in, status and body
//! out, through the wasm components.

use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cloudcockpit_auth::{api_client, bearer, create as create_customer, customer_body};
use crate::cloudcockpit_users::{properties, v1};
use crate::gcore_auth::{login, overview};
use crate::organizations::{as_operator, customer, send};
use crate::support::{DEFAULT_HOST, app_host, concurrently, seed_tenant};

fn token_request(host_header: &str, id: &str, secret: &str) -> Request {
    Request::post("/oauth2/token")
        .header("host", host_header)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={id}&client_secret={}",
            secret.replace('-', "%2D")
        ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gets_a_token_only_on_its_own_tenants_host() {
    let host = app_host();
    seed_tenant(&host, "other", &["other.test"], "op@other.test");
    let (id, secret) = api_client(&host, json!({"name": "billing"})).await;
    let r = host.send(token_request("other.test", &id, &secret)).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_client");
    // X-Tenant naming the other tenant is refused the same way.
    let r = host
        .send(token_request(DEFAULT_HOST, &id, &secret).header("x-tenant", "other.test"))
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    // On a host no tenant claims (and no default tenant): no token either.
    let r = host.send(token_request("nobody.test", &id, &secret)).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = host.send(token_request(DEFAULT_HOST, &id, &secret)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gcore_refresh_token_works_only_on_its_own_tenants_host() {
    let host = app_host();
    seed_tenant(&host, "other", &["other.test"], "op@other.test");
    let pair = login(
        &host,
        crate::support::OPERATOR_EMAIL,
        crate::support::OPERATOR_PASSWORD,
    )
    .await;
    let refresh = |h: &str| {
        Request::post("/iam/auth/jwt/refresh")
            .header("host", h)
            .json(&json!({"refresh": pair["refresh"]}))
    };
    let r = host.send(refresh("other.test")).await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = host.send(refresh(DEFAULT_HOST)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A CSP client's bearer and a customer of it.
async fn csp_and_customer(host: &Host) -> (String, Uuid) {
    let (id, secret) = api_client(host, json!({"name": "csp"})).await;
    let auth = bearer(host, &id, &secret).await;
    let r = host
        .send(create_customer(&auth, &customer_body("Contoso")))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    (auth, r.json().as_str().unwrap().parse().unwrap())
}

fn portal_user(auth: &str, customer: Uuid, id: Uuid, email: &str) -> Request {
    Request::post(format!("/v1/customer/{customer}/users"))
        .header("authorization", auth)
        .header("x-tenant", DEFAULT_HOST)
        .json(
            &json!({"id": id, "firstName": "Ana", "lastName": "Silva", "email": email,
                      "role": {}, "groups": []}),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_concurrent_creates_with_a_chosen_id_are_never_refused_on_it() {
    let host = app_host();
    let (auth, customer) = csp_and_customer(&host).await;
    for round in 0..3 {
        let id = Uuid::new_v4();
        let email = format!("same{round}@example.com");
        let answers = concurrently(&host, 10, |_| portal_user(&auth, customer, id, &email)).await;
        let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        statuses.sort();
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| [200, 201, 409].contains(s)),
            "round {round}: {statuses:?}"
        );
        for r in answers.iter().filter(|r| r.status == 200) {
            assert_eq!(r.json(), json!(id));
        }
        // A retry once it is done gets the stored answer.
        let r = host.send(portal_user(&auth, customer, id, &email)).await;
        assert_eq!((r.status, r.json()), (200, json!(id)), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_create_reserves_no_id() {
    let host = app_host();
    let (auth, customer) = csp_and_customer(&host).await;
    let first = Uuid::new_v4();
    let r = host
        .send(portal_user(&auth, customer, first, "taken@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // The email is taken: refused, and the id it named stays free.
    let id = Uuid::new_v4();
    let r = host
        .send(portal_user(&auth, customer, id, "taken@example.com"))
        .await;
    assert_eq!(
        (r.status, properties(&r)),
        (400, vec!["Email".to_string()]),
        "{}",
        r.text()
    );
    let r = host
        .send(portal_user(&auth, customer, id, "fixed@example.com"))
        .await;
    assert_eq!((r.status, r.json()), (201, json!(id)), "{}", r.text());
    // Another request naming a live user's id is refused on the id.
    let r = host
        .send(portal_user(&auth, customer, id, "third@example.com"))
        .await;
    assert_eq!(
        (r.status, properties(&r)),
        (400, vec!["Id".to_string()]),
        "{}",
        r.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_ends_every_credential_and_the_id_is_never_reused() {
    let host = app_host();
    let (auth, customer_org) = csp_and_customer(&host).await;
    let email = "purged@example.com";
    let user = customer(&host, email).await;
    // The user's Gcore session and API token.
    let pair = login(&host, email, "password123").await;
    let session = format!("Bearer {}", pair["access"].as_str().unwrap());
    let client = crate::gcore_auth::claims(pair["access"].as_str().unwrap())["client_id"]
        .as_u64()
        .unwrap();
    let r = host
        .send(
            Request::post(format!("/iam/v2/clients/{client}/tokens"))
                .header("authorization", &session)
                .json(&json!({"name": "ci", "exp_date": null,
                              "client_user": {"role": {"id": 1, "name": "Administrators"}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let api_key = format!("APIKey {}", r.json()["token"].as_str().unwrap());
    assert_eq!(host.send(overview(&api_key)).await.status, 200);
    assert_eq!(host.send(overview(&session)).await.status, 200);

    let r = send(
        &host,
        as_operator(Request::delete(format!("/v2/users/{user}?purge=true"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(host.send(overview(&api_key)).await.status, 401);
    assert_eq!(host.send(overview(&session)).await.status, 401);
    // The token is revoked, not merely orphaned: its record says so.
    let revoked = host
        .kv
        .dump("default")
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice::<Value>(&v).ok())
        .filter(|v| v["data"]["kind"] == "api_token" && v["data"]["user"] == json!(user))
        .all(|v| v["data"]["revoked"] == true);
    assert!(revoked);

    // No create brings the id back, whatever email it names.
    let r = host
        .send(portal_user(&auth, customer_org, user, email))
        .await;
    assert_eq!(
        (r.status, properties(&r)),
        (400, vec!["Id".to_string()]),
        "{}",
        r.text()
    );
    let r = host
        .send(portal_user(&auth, customer_org, user, "new@example.com"))
        .await;
    assert_eq!(
        (r.status, properties(&r)),
        (400, vec!["Id".to_string()]),
        "{}",
        r.text()
    );
    assert_eq!(host.send(overview(&api_key)).await.status, 401);
}

// ---------------------------------------------------------------- email changes

fn as_operator_put(path: &str, user: Value) -> Request {
    as_operator(Request::put(path)).json(&json!({ "user": user }))
}

/// The confirmation token the outbox holds for `to` (no webhook: operators see it).
async fn confirmation_for(host: &Host, to: &str) -> Option<String> {
    let r = send(host, as_operator(Request::get("/admin/outbox"))).await;
    r.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["kind"] == "confirmation" && m["to"] == to)
        .and_then(|m| m["token"].as_str().map(str::to_string))
}

async fn email_changed_notices(host: &Host) -> Vec<Value> {
    let r = send(host, as_operator(Request::get("/admin/outbox"))).await;
    r.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "email_changed")
        .cloned()
        .collect()
}

/// The account's email in force, read back through the Clone family.
async fn email_of(host: &Host, user: Uuid) -> String {
    let r = send(host, as_operator(Request::get(format!("/v2/users/{user}")))).await;
    r.json()["data"]["attributes"]["email"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn confirm(host: &Host, key: &str, token: &str) -> Response {
    host.send(
        Request::post("/auth/confirmation")
            .header("x-api-key", key)
            .json(&json!({"confirmation_token": token})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_ones_own_email_needs_the_password_and_the_new_address() {
    use crate::support::{OPERATOR_EMAIL, OPERATOR_PASSWORD, operator_auth};
    let host = app_host();
    let key = crate::identity::app_key(&host).await;
    let me = |user: Value| {
        Request::put("/v2/user/me")
            .header("authorization", operator_auth())
            .json(&json!({ "user": user }))
    };
    let r = host.send(me(json!({"email": "ops.new@example.com"}))).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.json()["errors"]["user.current_password"].is_array(),
        "{}",
        r.text()
    );
    let r = host
        .send(me(
            json!({"email": "ops.new@example.com", "current_password": "wrong-one"}),
        ))
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.json()["errors"]["user.current_password"].is_array(),
        "{}",
        r.text()
    );
    assert!(
        email_changed_notices(&host).await.is_empty(),
        "nothing happened"
    );

    let r = host
        .send(me(
            json!({"email": "ops.new@example.com", "current_password": OPERATOR_PASSWORD}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["attributes"]["email"], OPERATOR_EMAIL);
    let notices = email_changed_notices(&host).await;
    assert_eq!(notices.len(), 1);
    assert_eq!(
        (notices[0]["to"].clone(), notices[0]["new_email"].clone()),
        (json!(OPERATOR_EMAIL), json!("ops.new@example.com"))
    );
    // Until confirmed, sign-in and resets stay on the confirmed address.
    crate::support::sign_in(&host, &key, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("x-api-key", &key)
                .json(&json!({"username": "ops.new@example.com", "password": OPERATOR_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 401);
    let token = confirmation_for(&host, "ops.new@example.com")
        .await
        .expect("a confirmation");
    let r = confirm(&host, &key, &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], "ops.new@example.com");
    crate::support::sign_in(&host, &key, "ops.new@example.com", OPERATOR_PASSWORD).await;
    // Good once.
    assert_eq!(confirm(&host, &key, &token).await.status, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_changes_only_a_narrower_accounts_email() {
    use onboard_shared::base::model::{Profile, Role};
    use onboard_shared::idm::admin::{self, NewAccount};
    let host = app_host();
    let me = host.with_env(|env| {
        onboard_shared::credential::identity::account_by_email(
            env,
            "default",
            crate::support::OPERATOR_EMAIL,
        )
        .unwrap()
        .unwrap()
        .id
    });
    let peer = host.with_env(|env| {
        admin::create_account(
            env,
            &crate::support::config(),
            &crate::organizations::op(),
            &NewAccount {
                email: "peer@onboard.test".into(),
                password: "account-password".into(),
                role: Role::Operator,
                organization_id: None,
                profile: Profile::default(),
            },
        )
        .unwrap()
        .id
    });
    for (id, why) in [(peer, "a peer"), (me, "itself by the admin path")] {
        let r = host
            .send(as_operator_put(
                &format!("/v2/users/{id}"),
                json!({"email": "x@example.com"}),
            ))
            .await;
        assert_eq!(r.status, 403, "{why}: {}", r.text());
    }
    // A narrower account: pending until confirmed, unless an operator says so.
    let user = customer(&host, "narrow@example.com").await;
    let r = host
        .send(as_operator_put(
            &format!("/v2/users/{user}"),
            json!({"email": "n2@example.com"}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(email_of(&host, user).await, "narrow@example.com");
    assert!(confirmation_for(&host, "n2@example.com").await.is_some());
    let r = host
        .send(as_operator_put(
            &format!("/v2/users/{user}"),
            json!({"email": "n3@example.com", "skip_reconfirmation": true}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(email_of(&host, user).await, "n3@example.com");
    // The earlier pending change died with it.
    let stale = confirmation_for(&host, "n2@example.com").await.unwrap();
    let key = crate::identity::app_key(&host).await;
    assert_eq!(confirm(&host, &key, &stale).await.status, 422);
    assert_eq!(email_changed_notices(&host).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_operator_skips_the_confirmation_and_no_impersonation_changes_an_email() {
    let host = app_host();
    let (_, admin_auth) = crate::organizations::reseller_with_admin(&host, "RS1");
    let user = customer(&host, "skip@example.com").await;
    // A user in the reseller admin's reach: one it creates.
    let r = host
        .send(
            Request::post("/v2/users/create_customer")
                .header("authorization", &admin_auth)
                .json(&crate::create_customer::new_org_body("below@example.com")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let below = r.header("location").unwrap().to_string();
    let r = host
        .send(
            Request::put(&below)
                .header("authorization", &admin_auth)
                .json(&json!({"user": {"email": "b2@example.com", "skip_reconfirmation": true}})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());

    // An operator impersonating the customer admin changes no email.
    let key = crate::identity::app_key(&host).await;
    let session = crate::support::sign_in(
        &host,
        &key,
        crate::support::OPERATOR_EMAIL,
        crate::support::OPERATOR_PASSWORD,
    )
    .await;
    let r = host
        .send(
            Request::post(format!("/auth/impersonate?uuid={user}"))
                .header("authorization", &session),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let acting = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    for path in [format!("/v2/users/{user}"), "/v2/user/me".to_string()] {
        let r = host
            .send(
                Request::put(&path)
                    .header("authorization", &acting)
                    .json(&json!({"user": {"email": "stolen@example.com",
                                           "current_password": "password123"}})),
            )
            .await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
    }
    assert!(email_changed_notices(&host).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_changes_an_email_through_the_same_verb() {
    let host = app_host();
    // Gcore: the user's own PATCH needs its password and stays pending.
    let email = "gc@example.com";
    let user = customer(&host, email).await;
    let pair = login(&host, email, "password123").await;
    let session = format!("Bearer {}", pair["access"].as_str().unwrap());
    let number = crate::gcore_auth::claims(pair["access"].as_str().unwrap())["user_id"]
        .as_u64()
        .unwrap();
    let patch = |body: Value| {
        Request::new(http::Method::PATCH, format!("/iam/users/{number}"))
            .header("authorization", &session)
            .json(&body)
    };
    let r = host.send(patch(json!({"email": "gc2@example.com"}))).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.json()["errors"]["current_password"].is_array(),
        "{}",
        r.text()
    );
    let r = host
        .send(patch(
            json!({"email": "gc2@example.com", "current_password": "password123"}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["email"], email);
    assert!(confirmation_for(&host, "gc2@example.com").await.is_some());

    // CloudCockpit: the client's PATCH stays pending too.
    let (auth, _) = csp_and_customer(&host).await;
    let r = host
        .send(
            Request::new(http::Method::PATCH, "/v1/users/gc@example.com")
                .header("authorization", &auth)
                .header("x-tenant", DEFAULT_HOST)
                .json(&json!({"email": "gc3@example.com"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(email_of(&host, user).await, email);
    assert!(confirmation_for(&host, "gc3@example.com").await.is_some());
    // The newer request replaced the older: only its token confirms.
    let key = crate::identity::app_key(&host).await;
    let older = confirmation_for(&host, "gc2@example.com").await.unwrap();
    assert_eq!(confirm(&host, &key, &older).await.status, 422);
    let newer = confirmation_for(&host, "gc3@example.com").await.unwrap();
    assert_eq!(confirm(&host, &key, &newer).await.status, 200);
    assert_eq!(email_of(&host, user).await, "gc3@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_finds_its_address_taken_meanwhile() {
    let host = app_host();
    let user = customer(&host, "first@example.com").await;
    let r = host
        .send(as_operator_put(
            &format!("/v2/users/{user}"),
            json!({"email": "wanted@example.com"}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = confirmation_for(&host, "wanted@example.com").await.unwrap();
    // Someone else takes the address before the confirmation.
    customer(&host, "wanted@example.com").await;
    let key = crate::identity::app_key(&host).await;
    let r = confirm(&host, &key, &token).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(email_of(&host, user).await, "first@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sso_only_account_signs_in_with_a_password_in_no_family() {
    let host = app_host();
    let email = "sso@example.com";
    customer(&host, email).await;
    let pair = login(&host, email, "password123").await;
    let number = crate::gcore_auth::claims(pair["access"].as_str().unwrap())["user_id"]
        .as_u64()
        .unwrap();
    let r = host
        .send(
            Request::new(http::Method::PATCH, format!("/iam/users/{number}"))
                .header(
                    "authorization",
                    format!("Bearer {}", pair["access"].as_str().unwrap()),
                )
                .json(&json!({"auth_types": ["sso"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let key = crate::identity::app_key(&host).await;
    let by_username = json!({"username": email, "password": "password123"});
    let by_email = json!({"email": email, "password": "password123"});
    // Each family's refusal of a sign-in (Gcore's login refuses with 400).
    let cases = [
        (
            "clone",
            401,
            Request::post("/auth/sign_in")
                .header("x-api-key", &key)
                .json(&by_username),
        ),
        (
            "gcore",
            400,
            Request::post("/iam/auth/jwt/login").json(&by_username),
        ),
        (
            "apiculus",
            401,
            Request::post("/auth/login").json(&by_email),
        ),
    ];
    for (family, status, req) in cases {
        let r = host.send(req).await;
        assert_eq!(r.status, status, "{family}: {}", r.text());
        assert!(r.text().contains("auth_types"), "{family}: {}", r.text());
    }
    // The same answer whatever the password: no oracle for guessing it.
    let wrong = json!({"username": email, "password": "not-the-password"});
    let r = host
        .send(Request::post("/iam/auth/jwt/login").json(&wrong))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("auth_types"), "{}", r.text());
}

// ---------------------------------------------------------------- proxies

/// The app behind a load balancer at 127.0.0.1 (the test host's peer).
fn host_behind_proxy(trusted: &str) -> std::sync::Arc<Host> {
    let mut values = crate::support::APP_VALUES.to_vec();
    values.push(("trusted_proxies", trusted));
    crate::support::with_operator(crate::support::checked(
        Host::new(onboard_test_host::App::main().expect("app"), &values).expect("app host"),
    ))
}

/// Five wrong passwords for one account from `client`, then the sixth.
async fn sixth_guess(host: &Host, key: &str, client: &str) -> u16 {
    let guess = || {
        Request::post("/auth/sign_in")
            .header("x-api-key", key)
            .header("x-forwarded-for", client)
            .json(&json!({"username": crate::support::OPERATOR_EMAIL, "password": "wrong-guess"}))
    };
    for _ in 0..5 {
        assert_eq!(host.send(guess()).await.status, 401);
    }
    host.send(guess()).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxys_forwarded_client_is_the_one_throttled() {
    // Trusted: each forwarded client is counted alone.
    let host = host_behind_proxy("127.0.0.1, 10.0.0.0/8");
    let key = crate::identity::app_key(&host).await;
    assert_eq!(sixth_guess(&host, &key, "198.51.100.1").await, 429);
    let other = Request::post("/auth/sign_in")
        .header("x-api-key", &key)
        .header("x-forwarded-for", "198.51.100.2, 10.1.1.1")
        .json(&json!({"username": crate::support::OPERATOR_EMAIL,
                      "password": crate::support::OPERATOR_PASSWORD}));
    assert_eq!(
        host.send(other).await.status,
        200,
        "another client is not locked out"
    );

    // Not trusted (the default): the header is the client's own word and
    // changes nothing, so rotating it escapes nothing.
    let host = app_host();
    let key = crate::identity::app_key(&host).await;
    assert_eq!(sixth_guess(&host, &key, "198.51.100.1").await, 429);
    let rotated = Request::post("/auth/sign_in")
        .header("x-api-key", &key)
        .header("x-forwarded-for", "198.51.100.9")
        .json(&json!({"username": crate::support::OPERATOR_EMAIL,
                      "password": crate::support::OPERATOR_PASSWORD}));
    assert_eq!(host.send(rotated).await.status, 429);
}

// ---------------------------------------------------------------- numbers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_numbering_a_user_leaves_every_number_resolvable() {
    use onboard_test_host::{FaultAction, FaultRule, Op};
    let host = app_host();
    let pair = login(
        &host,
        crate::support::OPERATOR_EMAIL,
        crate::support::OPERATOR_PASSWORD,
    )
    .await;
    let auth = format!("Bearer {}", pair["access"].as_str().unwrap());
    let steps = [
        ("the counter", Op::Increment, "/count/user-number"),
        ("the index", Op::Set, "/user-number/"),
        ("the record", Op::Swap, "/user/"),
    ];
    for (round, (step, op, key)) in steps.into_iter().enumerate() {
        for action in [FaultAction::Crash, FaultAction::LoseReply] {
            let email = format!("n{round}-{action:?}@example.com").to_lowercase();
            let user = customer(&host, &email).await;
            host.kv
                .faults
                .add_rule(
                    FaultRule::new(action)
                        .on(op)
                        .key_contains(if key == "/user/" {
                            format!("/user/{user}")
                        } else {
                            key.into()
                        }),
                );
            // The first Gcore read numbers the user; it dies at `step`.
            host.send(Request::get("/iam/users?limit=1000").header("authorization", &auth))
                .await;
            host.kv.faults.clear_rules();
            let r = send(
                &host,
                Request::get("/iam/users?limit=1000").header("authorization", &auth),
            )
            .await;
            assert_eq!(r.status, 200, "{step} {action:?}: {}", r.text());
            for u in r.json()["results"].as_array().unwrap() {
                let n = u["id"].as_u64().unwrap();
                let one = host
                    .send(Request::get(format!("/iam/users/{n}")).header("authorization", &auth))
                    .await;
                assert_eq!(
                    (one.status, one.json()["email"].clone()),
                    (200, u["email"].clone()),
                    "{step} {action:?}: user {n}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- resend

/// The invitation tokens the outbox holds for `to`, oldest first.
async fn invitations_for(host: &Host, to: &str) -> Vec<String> {
    let r = send(host, as_operator(Request::get("/admin/outbox"))).await;
    let mut found: Vec<(i64, String)> = r.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "invitation" && m["to"] == to)
        .filter_map(|m| Some((m["seq"].as_i64()?, m["token"].as_str()?.to_string())))
        .collect();
    found.sort();
    found.into_iter().map(|(_, t)| t).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_resends_a_lost_invitation_with_a_fresh_token() {
    let host = app_host();
    let body = json!({"customer": {"organization": {"name": "Invited"},
                                   "user": {"email": "invited@example.com"}}});
    let r = send(&host, crate::create_customer::post(&body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let user = crate::hardening::location_id(&r);
    let first = invitations_for(&host, "invited@example.com").await;
    assert_eq!(first.len(), 1);
    let resend = || as_operator(Request::post("/auth/invitation")).json(&json!({"user_id": user}));
    let r = send(&host, resend()).await;
    assert_eq!(
        (r.status, r.json()["kind"].clone()),
        (200, json!("invitation")),
        "{}",
        r.text()
    );
    let both = invitations_for(&host, "invited@example.com").await;
    assert_eq!(both.len(), 2);
    let key = crate::identity::app_key(&host).await;
    let check = |token: &str| {
        Request::get(format!("/auth/invitation?invitation_token={token}")).header("x-api-key", &key)
    };
    assert_eq!(
        host.send(check(&both[0])).await.status,
        422,
        "the old token died"
    );
    assert_eq!(host.send(check(&both[1])).await.status, 200);
    // At most five a window.
    for _ in 0..4 {
        assert_eq!(send(&host, resend()).await.status, 200);
    }
    assert_eq!(send(&host, resend()).await.status, 429);
    // Unconfirmed: its confirmation. Confirmed: nothing pending, 409.
    // Unknown: 404.
    let resend_to =
        |id: Uuid| as_operator(Request::post("/auth/invitation")).json(&json!({"user_id": id}));
    let unconfirmed = customer(&host, "unconfirmed@example.com").await;
    let r = send(&host, resend_to(unconfirmed)).await;
    assert_eq!(
        (r.status, r.json()["kind"].clone()),
        (200, json!("confirmation"))
    );
    let body = json!({"customer": {"organization": {"name": "Done"},
        "user": {"email": "done@example.com", "password": "password123", "confirmed": true}}});
    let r = send(&host, crate::create_customer::post(&body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let done = crate::hardening::location_id(&r);
    assert_eq!(send(&host, resend_to(done)).await.status, 409);
    assert_eq!(send(&host, resend_to(Uuid::new_v4())).await.status, 404);
}

// ---------------------------------------------------------------- sweep

/// A forgot-password request and a failed sign-in from client address `i`.
async fn forgotten_and_failed(host: &Host, key: &str, i: u8) {
    let from: std::net::SocketAddr = format!("198.51.100.{i}:4000").parse().unwrap();
    let r = host
        .send(
            Request::post("/auth/password")
                .header("x-api-key", key)
                .json(&json!({"email": format!("nobody{i}@example.com")}))
                .from_addr(from),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("x-api-key", key)
                .json(&json!({"username": format!("nobody{i}@example.com"), "password": "x"}))
                .from_addr(from),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_returns_the_store_to_its_size() {
    let host = app_host();
    let key = crate::identity::app_key(&host).await;
    let sweep = || {
        Request::post("/admin/sweep")
            .header(
                "authorization",
                format!("Bearer {}", crate::support::ADMIN_KEY),
            )
            .header("x-tenant", DEFAULT_HOST)
    };
    // Keys a tenant makes once (the forgot-password queue's counter) are
    // made before the baseline: a first request, past its expiry, swept.
    forgotten_and_failed(&host, &key, 250).await;
    host.clock.advance(std::time::Duration::from_secs(3 * 3600));
    assert_eq!(send(&host, sweep()).await.status, 200);
    let baseline = host.kv.dump("default").len();
    // What only grew before: the forgot-password and failed sign-in
    // counters of twenty client addresses.
    for i in 0..20u8 {
        forgotten_and_failed(&host, &key, i).await;
    }
    let grown = host.kv.dump("default").len();
    assert!(grown > baseline + 40, "{baseline} -> {grown}");
    // Nothing has expired yet: the sweep keeps everything.
    let r = send(&host, sweep()).await;
    assert_eq!(r.json()["deleted"], 0, "{}", r.text());
    assert_eq!(host.kv.dump("default").len(), grown);
    // Three hours on, every counter's window is over and its hourly bucket
    // swept: back to the baseline.
    host.clock.advance(std::time::Duration::from_secs(3 * 3600));
    let r = send(&host, sweep()).await;
    assert_eq!(r.json()["more"], false, "{}", r.text());
    assert_eq!(host.kv.dump("default").len(), baseline, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_changes_are_counted_so_no_inbox_is_flooded() {
    let host = app_host();
    let user = customer(&host, "flood@example.com").await;
    for i in 0..5 {
        let r = host
            .send(as_operator_put(
                &format!("/v2/users/{user}"),
                json!({"email": format!("f{i}@example.com")}),
            ))
            .await;
        assert_eq!(r.status, 200, "{i}: {}", r.text());
    }
    let r = host
        .send(as_operator_put(
            &format!("/v2/users/{user}"),
            json!({"email": "f5@example.com"}),
        ))
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    assert_eq!(email_changed_notices(&host).await.len(), 5);
}

// ---------------------------------------------------------------- groups

/// Defines a group `name` as `auth` (in `org`, or the caller's own).
fn new_group(auth: &str, name: &str, org: Option<Uuid>) -> Request {
    v1(http::Method::POST, "/v1/users/groups", auth)
        .json(&json!({"name": name, "organizationId": org}))
}

/// Every group name a paged walk of G1 gives, and the cost of its first page.
async fn group_names(host: &Host, auth: &str, query: &str) -> (Vec<String>, u64) {
    let mut names = Vec::new();
    let mut first_cost = 0;
    for page in 1.. {
        let r = send(
            host,
            v1(
                http::Method::GET,
                &format!("/v1/users/groups?pageSize=100&pageNumber={page}{query}"),
                auth,
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        if page == 1 {
            first_cost = r.kv.total();
        }
        let items = r.json()["items"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        names.extend(
            items
                .iter()
                .map(|g| g["name"].as_str().unwrap().to_string()),
        );
    }
    (names, first_cost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_group_is_listed_at_the_same_cost_and_an_organization_holds_a_bounded_number() {
    let host = app_host();
    let csp = crate::cloudcockpit_users::csp(&host).await;
    let (north, north_auth) = crate::cloudcockpit_users::reseller(&host, "NORTH").await;
    let (_, south_auth) = crate::cloudcockpit_users::reseller(&host, "SOUTH").await;
    assert_eq!(
        send(&host, new_group(&csp, "Everyone", None)).await.status,
        201
    );
    assert_eq!(
        send(&host, new_group(&north_auth, "North 000", None))
            .await
            .status,
        201
    );
    let (names, cost_small) = group_names(&host, &north_auth, "").await;
    assert_eq!(names, ["Everyone", "North 000"]);

    // The south fills its organization to the bound; the last ones race.
    let max = onboard_shared::idm::groups::PER_ORGANIZATION;
    for i in 0..max - 2 {
        let r = send(
            &host,
            new_group(&south_auth, &format!("South {i:03}"), None),
        )
        .await;
        assert_eq!(r.status, 201, "{i}: {}", r.text());
    }
    let racing = concurrently(&host, 4, |i| {
        new_group(&south_auth, &format!("Late {i}"), None)
    })
    .await;
    let mut statuses: Vec<u16> = racing.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 201, 400, 400], "exactly the bound is kept");
    let refused = racing.iter().find(|r| r.status == 400).unwrap();
    assert_eq!(
        properties(refused),
        ["OrganizationId"],
        "{}",
        refused.text()
    );

    // The south sees its own and the root's, every one on some page, in
    // name order (Everyone, Late x2, South 000...).
    let (names, _) = group_names(&host, &south_auth, "").await;
    assert_eq!(names.len(), max + 1);
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
    assert_eq!(names[0], "Everyone");
    // The north's list costs what it did, whatever the south defined.
    let (names, cost_big) = group_names(&host, &north_auth, "").await;
    assert_eq!(names, ["Everyone", "North 000"]);
    assert_eq!(cost_big, cost_small, "a list reads one chain's catalogs");
    // A fresh organization's first groups, all at once: none is lost (an
    // absent catalog is made once, never raced by two first writes).
    let (_, east_auth) = crate::cloudcockpit_users::reseller(&host, "EAST").await;
    let first = concurrently(&host, 4, |i| {
        new_group(&east_auth, &format!("East {i}"), None)
    })
    .await;
    assert!(
        first.iter().all(|r| r.status == 201),
        "{:?}",
        first.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let (names, _) = group_names(&host, &east_auth, "").await;
    assert_eq!(names, ["East 0", "East 1", "East 2", "East 3", "Everyone"]);
    // An operator lists an organization's assignable groups by naming it.
    let (names, _) = group_names(&host, &csp, &format!("&organizationId={north}")).await;
    assert_eq!(names, ["Everyone", "North 000"]);
    let (names, _) = group_names(&host, &csp, "").await;
    assert_eq!(names, ["Everyone"]);
    let r = send(
        &host,
        v1(
            http::Method::GET,
            "/v1/users/groups?organizationId=nope",
            &csp,
        ),
    )
    .await;
    assert_eq!(
        (r.status, properties(&r)),
        (400, vec!["OrganizationId".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_defined_before_catalogs_are_still_listed() {
    use onboard_shared::base::model::{Group, Role};
    use onboard_shared::be::storage;
    let host = app_host();
    let (north, north_auth) = crate::cloudcockpit_users::reseller(&host, "OLD").await;
    // As the previous release stores a group (an older replica may, during
    // a rolling upgrade): its record and the tenant's index list, no catalog.
    let legacy = |name: &str| {
        let group = Group {
            id: Uuid::new_v4(),
            organization_id: north,
            name: name.into(),
            role: Role::User,
            external_id: None,
            created_at: 0,
            updated_at: 0,
        };
        host.with_env(|env| {
            storage::write(
                env.kv,
                &onboard_shared::idm::groups::key("default", group.id),
                "legacy",
                &group,
            )
            .unwrap();
            let pos = storage::index_position(env, "default", "groups").unwrap();
            storage::index_put(env, "default", "groups", pos, group.id).unwrap();
        });
    };
    legacy("Legacy");
    assert_eq!(
        send(&host, new_group(&north_auth, "Newer", None))
            .await
            .status,
        201
    );
    let (names, _) = group_names(&host, &north_auth, "").await;
    assert_eq!(names, ["Legacy", "Newer"]);
    // One more from an old replica, after the catalog exists.
    legacy("Also legacy");
    let (names, _) = group_names(&host, &north_auth, "").await;
    assert_eq!(names, ["Also legacy", "Legacy", "Newer"]);
}

// ---------------------------------------------------------------- forgot password

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_does_the_same_work_for_known_and_unknown_emails() {
    let host = app_host();
    let key = crate::identity::app_key(&host).await;
    customer(&host, "known@example.com").await;
    let forgot = |email: &str, from: &str| {
        Request::post("/auth/password")
            .header("x-api-key", &key)
            .json(&json!({"email": email}))
            .from_addr(from.parse().unwrap())
    };
    let known = host
        .send(forgot("known@example.com", "198.51.100.1:4000"))
        .await;
    let unknown = host
        .send(forgot("nobody@example.com", "198.51.100.2:4000"))
        .await;
    assert_eq!((known.status, unknown.status), (200, 200));
    assert_eq!(known.body, unknown.body);
    assert_eq!(
        known.kv, unknown.kv,
        "the same key-value calls, kind by kind"
    );
    // The lookup happens when an operator reads the outbox: one reset, for
    // the known address only.
    let r = send(&host, as_operator(Request::get("/admin/outbox"))).await;
    let resets: Vec<Value> = r.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "password_reset")
        .cloned()
        .collect();
    assert_eq!(resets.len(), 1, "{resets:?}");
    assert_eq!(resets[0]["to"], "known@example.com");
    // Read again: resolved once, not again.
    let r = send(&host, as_operator(Request::get("/admin/outbox"))).await;
    let again = r.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "password_reset")
        .count();
    assert_eq!(again, 1);
}

// ---------------------------------------------------------------- moves and deletes

fn move_to(user: Uuid, org: &str) -> Request {
    as_operator(Request::put(format!(
        "/v2/organizations/move?user_id={user}&organization_id={org}"
    )))
}

async fn new_organization(host: &Host, name: &str) -> String {
    let r = send(
        host,
        as_operator(Request::post("/v2/organizations"))
            .json(&json!({"organization": {"name": name}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["data"]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_that_dies_half_way_is_finished_by_its_retry() {
    use onboard_test_host::{FaultAction, FaultRule, Op};
    let host = app_host();
    // Where it dies: listing the user in the destination, settling the
    // move, moving the destination's count.
    let steps = [
        ("the list", "/members/n", true),
        ("the settling", "/settle-seq", true),
        // Past the record's settling a crash leaves the count one short
        // (as a create's does); lists and deletes never read counts.
        ("the count", "/users", false),
    ];
    for (round, (step, key, counted)) in steps.into_iter().enumerate() {
        let user = customer(&host, &format!("mover{round}@example.com")).await;
        let from = crate::hardening::stored_user(&host, user)
            .unwrap()
            .organization_id;
        let to = new_organization(&host, &format!("Destination {round}")).await;
        let key = if key == "/members/n" {
            format!("org/{to}/members/n")
        } else if key == "/users" {
            format!("count/org/{to}/users")
        } else {
            key.to_string()
        };
        host.kv.faults.add_rule(
            FaultRule::new(FaultAction::Crash)
                .on(Op::Increment)
                .key_contains(key),
        );
        let r = host.send(move_to(user, &to)).await;
        assert_eq!(r.status, 500, "{step}: {}", r.text());
        host.kv.faults.clear_rules();
        // The retry finishes it.
        let r = send(&host, move_to(user, &to)).await;
        assert_eq!(r.status, 200, "{step}: {}", r.text());
        let members = send(
            &host,
            as_operator(Request::get(format!("/v2/organizations/{to}"))),
        )
        .await;
        assert_eq!(
            members.json()["data"]["attributes"]["members"][0]["username"],
            format!("mover{round}@example.com"),
            "{step}"
        );
        if counted {
            let count = |org: &str| crate::hardening::count(&host, &format!("org/{org}/users"));
            assert_eq!((count(&from.to_string()), count(&to)), (0, 1), "{step}");
        }
        let r = send(
            &host,
            as_operator(Request::delete(format!("/v2/organizations/{to}"))),
        )
        .await;
        assert_eq!(r.status, 422, "{step}: a live member: {}", r.text());
        let r = send(
            &host,
            as_operator(Request::delete(format!("/v2/organizations/{from}"))),
        )
        .await;
        assert_eq!(r.status, 200, "{step}: the old one is empty: {}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_joins_an_organization_while_its_delete_checks_it() {
    use onboard_shared::base::model::{Closing, Organization};
    use onboard_shared::be::storage::{self, keys};
    let host = app_host();
    let to = new_organization(&host, "Closing").await;
    let org: Uuid = to.parse().unwrap();
    let user = customer(&host, "outside@example.com").await;
    let home = crate::hardening::stored_user(&host, user)
        .unwrap()
        .organization_id;
    // A delete has put up its fence and is reading the members.
    host.with_env(|env| {
        let now = env.now;
        storage::update::<Organization, _>(env, &keys::org("default", org), "fence", |o| {
            o.closing = Some(Closing {
                op: "org-delete-test".into(),
                at: now,
            });
            Ok(())
        })
        .unwrap();
    });
    let join = || {
        crate::create_customer::post(&json!({"customer": {"organization_id": org,
            "user": {"email": "joiner@example.com", "password": "password123",
                     "password_confirmation": "password123"}}}))
    };
    let r = send(&host, join()).await;
    assert_eq!(r.status, 409, "{}", r.text());
    let r = send(&host, move_to(user, &to)).await;
    assert_eq!(r.status, 409, "{}", r.text());
    let stored = crate::hardening::stored_user(&host, user).unwrap();
    assert_eq!(
        (stored.organization_id, stored.moved_from),
        (home, None),
        "undone"
    );
    // One delete at a time: another waits for the first to settle (or, as
    // this one never will, for its fence to lapse).
    let delete = || as_operator(Request::delete(format!("/v2/organizations/{to}")));
    let r = send(&host, delete()).await;
    assert_eq!(r.status, 409, "{}", r.text());
    host.clock.advance(std::time::Duration::from_millis(
        onboard_shared::idm::organizations::FENCE_MS as u64,
    ));
    // The delete finds it empty and completes.
    let r = send(&host, delete()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(&host, join()).await;
    assert_eq!(r.status, 404, "{}", r.text());
    // The refused join left nothing: its email is free.
    customer(&host, "joiner@example.com").await;

    // A delete that died leaves a fence that lapses; one that finds a member
    // takes its fence down at once.
    let other = new_organization(&host, "Busy").await;
    let other_id: Uuid = other.parse().unwrap();
    host.with_env(|env| {
        let now = env.now;
        storage::update::<Organization, _>(env, &keys::org("default", other_id), "fence", |o| {
            o.closing = Some(Closing {
                op: "died".into(),
                at: now,
            });
            Ok(())
        })
        .unwrap();
    });
    assert_eq!(send(&host, move_to(user, &other)).await.status, 409);
    host.clock.advance(std::time::Duration::from_millis(
        onboard_shared::idm::organizations::FENCE_MS as u64,
    ));
    assert_eq!(send(&host, move_to(user, &other)).await.status, 200);
    let r = send(
        &host,
        as_operator(Request::delete(format!("/v2/organizations/{other}"))),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = send(
        &host,
        crate::create_customer::post(&json!({"customer": {"organization_id": other_id,
            "user": {"email": "second@example.com"}}})),
    )
    .await;
    assert_eq!(r.status, 201, "the fence is down again: {}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_racing_creates_never_leaves_a_live_member() {
    let host = app_host();
    for round in 0..6 {
        let to = new_organization(&host, &format!("Race {round}")).await;
        let org: Uuid = to.parse().unwrap();
        let answers = concurrently(&host, 4, |i| {
            if i == 0 {
                as_operator(Request::delete(format!("/v2/organizations/{to}")))
            } else {
                crate::create_customer::post(&json!({"customer": {"organization_id": org,
                    "user": {"email": format!("r{round}-{i}@example.com")}}}))
            }
        })
        .await;
        let deleted = answers[0].status == 200;
        let joined = answers[1..].iter().filter(|r| r.status == 201).count();
        assert!(
            !(deleted && joined > 0),
            "round {round}: deleted with {joined} members joining: {:?}",
            answers.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        for r in &answers {
            assert!(r.status < 500, "{} {}", r.status, r.text());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_names_a_bounded_number_of_domains_a_request() {
    let host = app_host();
    let domains: Vec<String> = (0..21).map(|i| format!("d{i}.example.com")).collect();
    let r = host
        .send(
            Request::post("/admin/tenants")
                .header("authorization", format!("Bearer {}", crate::support::ADMIN_KEY))
                .json(&json!({"id": "many", "name": "Many", "domains": domains,
                    "operator": {"email": "op@many.example.com", "password": "operator-password-1"}})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.json()["errors"]["domains"].is_array(), "{}", r.text());
    let r = host
        .send(
            Request::post("/admin/tenants")
                .header("authorization", format!("Bearer {}", crate::support::ADMIN_KEY))
                .json(&json!({"id": "many", "name": "Many", "domains": &domains[..20],
                    "operator": {"email": "op@many.example.com", "password": "operator-password-1"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
}
