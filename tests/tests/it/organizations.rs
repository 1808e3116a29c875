//! The `/v2` users and organizations API through the wasm components:
//! lists, deletes, organizations, moves, subscriptions and the CSV export.

use std::sync::Arc;

use onboard_shared::base::model::{Profile, Role};
use onboard_shared::be::storage::Actor;
use onboard_shared::credential::auth::Caller;
use onboard_shared::idm::admin::{self, NewAccount, NewReseller};
use onboard_shared::{families, idm::provision};
use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::create_customer::{new_org_body, post};
use crate::support::{app_host, concurrently, config, issue_access_token, operator_auth};

pub fn as_operator(req: Request) -> Request {
    req.header("authorization", operator_auth())
}

/// `PUT /v2/organizations/move` by the operator.
fn move_as_operator(user: &impl std::fmt::Display, org: &impl std::fmt::Display) -> Request {
    as_operator(Request::put(format!(
        "/v2/organizations/move?user_id={user}&organization_id={org}"
    )))
}

pub async fn send(host: &Host, req: Request) -> Response {
    let r = host.send(req).await;
    assert!(r.status < 500, "{} {}", r.status, r.text());
    r
}

/// Creates a customer through seed 000 and returns the user id.
pub async fn customer(host: &Host, email: &str) -> Uuid {
    let r = send(host, post(&new_org_body(email))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn op() -> Caller {
    Caller::operator_of(
        "default",
        Actor {
            kind: "test".into(),
            id: "setup".into(),
        },
    )
}

/// A reseller with an admin whose Basic token is returned.
pub fn reseller_with_admin(host: &Host, code: &str) -> (Uuid, String) {
    let reseller = host.with_env(|env| {
        admin::create_reseller(
            env,
            &op(),
            &NewReseller {
                name: format!("R {code}"),
                code: code.into(),
                parent: None,
            },
        )
        .unwrap()
    });
    let account = host.with_env(|env| {
        admin::create_account(
            env,
            &config(),
            &op(),
            &NewAccount {
                email: format!("admin-{code}@onboard.test").to_lowercase(),
                password: "account-password".into(),
                role: Role::ResellerAdmin,
                organization_id: Some(reseller.id),
                profile: Profile::default(),
            },
        )
        .unwrap()
    });
    let token = format!("oat_{code}");
    issue_access_token(host, "default", account.id, &token);
    (reseller.id, format!("Basic {token}"))
}

/// `data[*].attributes.<key>` of a list response, as text.
fn attrs(r: &Response, key: &str) -> Vec<String> {
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            d["attributes"][key]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn emails(r: &Response) -> Vec<String> {
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["attributes"]["email"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_list_pages_filters_and_sorts() {
    let host = app_host();
    for e in ["b@a.example", "a@b.example", "c@b.example"] {
        customer(&host, e).await;
    }
    let r = send(&host, as_operator(Request::get("/v2/users"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["meta"]["total_count"],
        4,
        "three customers and the operator"
    );
    assert_eq!(emails(&r).len(), 4);
    let r = send(
        &host,
        as_operator(Request::get("/v2/users?per_page=2&page=2")),
    )
    .await;
    assert_eq!(emails(&r), vec!["a@b.example", "c@b.example"]);
    assert_eq!(r.json()["meta"]["total_pages"], 2);
    let r = send(
        &host,
        as_operator(Request::get(
            "/v2/users?q[email]='*@b.example'&sort_by=email:desc",
        )),
    )
    .await;
    assert_eq!(emails(&r), vec!["c@b.example", "a@b.example"]);
    assert_eq!(r.json()["meta"]["total_count"], 2);
    let r = send(
        &host,
        as_operator(Request::get("/v2/users?sort_by=-email&per_page=1")),
    )
    .await;
    assert_eq!(emails(&r), vec!["operator@onboard.test"]);
    for (query, param) in [
        ("q[password_hash]=x", "q[password_hash]"),
        ("sort_by=secret", "sort_by"),
        ("per_page=101", "per_page"),
        ("page=-1", "page"),
        ("relative_date_range=soon", "relative_date_range"),
        ("date_range_start=13/01/2024", "date_range_start"),
    ] {
        let r = send(
            &host,
            as_operator(Request::get(format!("/v2/users?{query}"))),
        )
        .await;
        assert_eq!(r.status, 422, "{query}");
        assert!(
            r.json()["errors"][param].is_array(),
            "{query}: {}",
            r.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_list_date_windows_follow_the_clock() {
    let host = app_host();
    customer(&host, "old@example.com").await;
    host.clock
        .advance(std::time::Duration::from_secs(20 * 86_400));
    customer(&host, "new@example.com").await;
    let r = send(
        &host,
        as_operator(Request::get("/v2/users?relative_date_range=10d")),
    )
    .await;
    assert_eq!(emails(&r), vec!["new@example.com"]);
    let today = onboard_shared::base::time::format_date(onboard_shared::base::time::millis(
        host.clock.now(),
    ));
    let r = send(
        &host,
        as_operator(Request::get(format!(
            "/v2/users?date_range_start={today}&q[email]=*example.com"
        ))),
    )
    .await;
    assert_eq!(emails(&r), vec!["new@example.com"]);
    let r = send(
        &host,
        as_operator(Request::get(format!(
            "/v2/users?date_range_end={today}&q[email]=*example.com"
        ))),
    )
    .await;
    assert_eq!(emails(&r).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_lists_only_its_reach() {
    let host = app_host();
    let (reseller, reseller_auth) = reseller_with_admin(&host, "R1");
    // A customer below the reseller, created by the reseller admin.
    let mut body = new_org_body("below@example.com");
    body["customer"]["organization"]["parent_organization"] = json!(reseller);
    let r = send(
        &host,
        Request::post("/v2/users/create_customer")
            .header("authorization", &reseller_auth)
            .json(&body),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    customer(&host, "direct@example.com").await;
    let r = send(
        &host,
        Request::get("/v2/users").header("authorization", &reseller_auth),
    )
    .await;
    let mut seen = emails(&r);
    seen.sort();
    assert_eq!(seen, vec!["admin-r1@onboard.test", "below@example.com"]);
    assert_eq!(r.json()["meta"]["total_count"], 2);
    let r = send(
        &host,
        Request::get("/v2/organizations").header("authorization", &reseller_auth),
    )
    .await;
    let names = attrs(&r, "name");
    assert_eq!(names.len(), 2, "the reseller and its customer: {names:?}");
    // A plain user may not list users.
    let user = customer(&host, "plain@example.com").await;
    host.with_env(|env| {
        onboard_shared::be::storage::update::<onboard_shared::base::model::User, _>(
            env,
            &onboard_shared::be::storage::keys::user("default", user),
            "demote",
            |u| {
                u.role = Role::User;
                Ok(())
            },
        )
        .unwrap();
    });
    issue_access_token(&host, "default", user, "oat_plain");
    let r = send(
        &host,
        Request::get("/v2/users").header("authorization", "Basic oat_plain"),
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_order_costs_the_same_at_10_and_10000_users() {
    let host = app_host();
    let seed = |n: usize| {
        host.with_env(|env| {
            for _ in 0..n {
                let email = format!("seed-{}@example.com", Uuid::new_v4().simple());
                let body = new_org_body(&email);
                let mut input =
                    families::clone::parse_create_customer(body.as_object().unwrap()).unwrap();
                input.user.password = None;
                let op_id = provision::OpId::fresh(env, email.clone());
                provision::create_customer(env, &op(), &input, &op_id, Default::default(), None)
                    .unwrap();
            }
        })
    };
    let measure = |host: Arc<Host>, page: u32| async move {
        let r = host
            .send(as_operator(Request::get(format!(
                "/v2/users?per_page=10&page={page}"
            ))))
            .await;
        assert_eq!(r.status, 200);
        (
            r.kv.total(),
            r.json()["meta"]["total_count"].as_u64().unwrap(),
        )
    };
    seed(10);
    let (at_10, total_10) = measure(host.clone(), 1).await;
    let started = std::time::Instant::now();
    seed(9_990);
    eprintln!(
        "seeded 9,990 customers natively in {:.1?}",
        started.elapsed()
    );
    let (first, total) = measure(host.clone(), 1).await;
    let (deep, _) = measure(host.clone(), 900).await;
    eprintln!(
        "GET /v2/users?per_page=10: {at_10} key-value calls at {total_10} users; \
         {first} (page 1) and {deep} (page 900) at {total}"
    );
    assert_eq!((total_10, total), (11, 10_001));
    assert_eq!((at_10, at_10), (first, deep));
    let r = send(
        &host,
        as_operator(Request::get("/v2/organizations?per_page=100&page=50")),
    )
    .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 100);
    let plain_calls = r.kv.total();
    // A filter scans, up to its documented cap, and says so.
    let r = send(
        &host,
        as_operator(Request::get("/v2/users?q[email]=seed-*&per_page=5")),
    )
    .await;
    assert_eq!(r.json()["meta"]["truncated"], true);
    eprintln!(
        "GET /v2/organizations page of 100: {plain_calls} calls; filtered users: {} calls",
        r.kv.total()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_is_soft_and_purge_frees_the_email() {
    let host = app_host();
    let id = customer(&host, "gone@example.com").await;
    let path = format!("/v2/users/{id}");
    // The user's own credential stops at once.
    issue_access_token(&host, "default", id, "oat_gone");
    assert_eq!(
        send(
            &host,
            Request::get("/v2/user/me").header("authorization", "Basic oat_gone")
        )
        .await
        .status,
        200
    );
    let r = send(&host, as_operator(Request::delete(&path))).await;
    assert_eq!((r.status, r.json()), (200, json!({})));
    assert_eq!(
        send(
            &host,
            Request::get("/v2/user/me").header("authorization", "Basic oat_gone")
        )
        .await
        .status,
        401
    );
    assert_eq!(
        send(&host, as_operator(Request::get(&path))).await.status,
        404
    );
    assert_eq!(
        send(&host, as_operator(Request::delete(&path)))
            .await
            .status,
        404
    );
    // Soft: the email stays claimed.
    assert_eq!(
        send(&host, post(&new_org_body("gone@example.com")))
            .await
            .status,
        422
    );
    // The operator's purge erases it and frees the email.
    let r = send(
        &host,
        as_operator(Request::delete(format!("{path}?purge=true"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        !host
            .kv
            .dump("default")
            .iter()
            .any(|(k, _)| k == &format!("t/default/user/{id}"))
    );
    assert_eq!(
        send(&host, post(&new_org_body("gone@example.com")))
            .await
            .status,
        201
    );
    let r = send(
        &host,
        as_operator(Request::delete(format!("{path}?purge=maybe"))),
    )
    .await;
    assert_eq!(r.status, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_are_created_read_updated_and_deleted() {
    let host = app_host();
    let r = send(&host, as_operator(Request::post("/v2/organizations")).json(&json!({"organization": {"name": "Globex", "company_name": "Globex Inc", "description": "d"}}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let org = r.json()["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location").unwrap(),
        format!("/v2/organizations/{org}")
    );
    let subs = send(
        &host,
        as_operator(Request::get(format!(
            "/v2/organizations/{org}/subscriptions"
        ))),
    )
    .await;
    let plans = attrs(&subs, "plan");
    assert_eq!(plans, vec!["free"], "the default plan");
    let r = send(
        &host,
        as_operator(Request::post("/v2/organizations"))
            .json(&json!({"organization": {"name": "X", "skip_default_subscription": true}})),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["errors"]["plans"].is_array());
    let r = send(&host, as_operator(Request::post("/v2/organizations")).json(&json!({"organization": {"name": "Y", "skip_default_subscription": true, "plans": [{"plan": "pci_plan", "interval": "monthly", "start_date": "2025-01-31"}]}}))).await;
    assert_eq!(r.status, 201, "{}", r.text());

    let path = format!("/v2/organizations/{org}");
    let r = send(&host, as_operator(Request::get(&path))).await;
    assert_eq!(
        (
            r.json()["data"]["attributes"]["name"].clone(),
            r.json()["data"]["attributes"]["partner"].clone()
        ),
        (json!("Globex"), json!(false))
    );
    let r = send(&host, as_operator(Request::put(&path)).json(&json!({"organization": {"name": "Globex 2", "company_name": "Globex", "city": "Springfield"}}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["data"]["attributes"]["details"]["city"],
        "Springfield"
    );
    let r = send(
        &host,
        as_operator(Request::put(&path)).json(&json!({"organization": {"name": "only name"}})),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["errors"]["organization.company_name"].is_array());
    let r = send(
        &host,
        as_operator(Request::get("/v2/organizations?q[name]=Globex*")),
    )
    .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);

    // Not while it has users.
    let user = customer(&host, "member@example.com").await;
    let r = send(&host, move_as_operator(&user, &org)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["id"], org.as_str());
    let members: Vec<String> = r.json()["data"]["attributes"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(members, vec!["member@example.com"]);
    let r = send(&host, as_operator(Request::delete(&path))).await;
    assert_eq!(r.status, 422, "{}", r.text());
    send(
        &host,
        as_operator(Request::delete(format!("/v2/users/{user}"))),
    )
    .await;
    let r = send(&host, as_operator(Request::delete(&path))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        send(&host, as_operator(Request::get(&path))).await.status,
        404
    );
    assert_eq!(send(&host, Request::get(&path)).await.status, 401);
    let r = send(&host, as_operator(Request::new(http::Method::PATCH, &path))).await;
    assert_eq!(
        (r.status, r.header("allow")),
        (405, Some("GET, PUT, DELETE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_check_both_ends() {
    let host = app_host();
    let (reseller, reseller_auth) = reseller_with_admin(&host, "M1");
    let mut body = new_org_body("mine@example.com");
    body["customer"]["organization"]["parent_organization"] = json!(reseller);
    let r = send(
        &host,
        Request::post("/v2/users/create_customer")
            .header("authorization", &reseller_auth)
            .json(&body),
    )
    .await;
    let mine: Uuid = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let outside = customer(&host, "outside@example.com").await;
    let outside_org = host.with_env(|env| {
        onboard_shared::idm::users::get(env, &op(), outside)
            .unwrap()
            .1
            .id
    });
    let mv = |user: Uuid, org: Uuid| {
        Request::put(format!(
            "/v2/organizations/move?user_id={user}&organization_id={org}"
        ))
        .header("authorization", &reseller_auth)
    };
    assert_eq!(
        send(&host, mv(mine, outside_org)).await.status,
        404,
        "target out of reach"
    );
    assert_eq!(
        send(&host, mv(outside, reseller)).await.status,
        404,
        "user out of reach"
    );
    let r = send(
        &host,
        Request::put("/v2/organizations/move?user_id=nope").header("authorization", &reseller_auth),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.json()["errors"]["user_id"].is_array()
            && r.json()["errors"]["organization_id"].is_array()
    );
    // Moving counts follow: the reseller's subtree loses the user.
    let r = send(&host, move_as_operator(&mine, &outside_org)).await;
    assert_eq!(r.status, 200);
    let r = send(
        &host,
        Request::get("/v2/users").header("authorization", &reseller_auth),
    )
    .await;
    assert_eq!(emails(&r), vec!["admin-m1@onboard.test"]);
    assert_eq!(r.json()["meta"]["total_count"], 1);
}

/// Found by fuzzing under a real Spin: an operator moved its own account
/// into a customer, kept its operator role there, and the customer's
/// deletion then took the tenant's operator with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_moved_by_another_and_only_where_its_role_fits() {
    let host = app_host();
    let (reseller, reseller_auth) = reseller_with_admin(&host, "R7");
    let mine = send(&host, as_operator(Request::get("/v2/user/me"))).await;
    let me = mine.json()["data"]["id"].as_str().unwrap().to_string();
    let root: Uuid = mine.json()["data"]["attributes"]["organization"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let put_org = |auth: &str, user: &str, org: Uuid| {
        Request::put(format!("/v2/users/{user}"))
            .header("authorization", auth)
            .json(&json!({"user": {"organization_id": org}}))
    };
    let r = send(&host, put_org(&operator_auth(), &me, reseller)).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "an account is moved by another administrator"
    );
    let r = send(&host, move_as_operator(&me, &reseller)).await;
    assert_eq!(r.status, 403, "{}", r.text());

    // The reseller's administrator, moved by the operator into a customer,
    // would keep a reseller's reach there: refused, and nothing moved.
    let admin = send(
        &host,
        Request::get("/v2/user/me").header("authorization", &reseller_auth),
    )
    .await;
    let admin = admin.json()["data"]["id"].as_str().unwrap().to_string();
    let user = customer(&host, "fits@example.com").await;
    let customer_org = host.with_env(|env| {
        onboard_shared::idm::users::get(env, &op(), user)
            .unwrap()
            .1
            .id
    });
    let r = send(&host, put_org(&operator_auth(), &admin, customer_org)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(
        r.json()["errors"]["user.organization_id"][0],
        "cannot hold this account's role"
    );
    let r = send(&host, move_as_operator(&admin, &customer_org)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.json()["errors"]["organization_id"].is_array(),
        "{}",
        r.text()
    );
    // Only an operator fits the tenant's root: the same 422 (the caller
    // reads the root, so it is no 404).
    let r = send(&host, put_org(&operator_auth(), &admin, root)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(
        r.json()["errors"]["user.organization_id"][0],
        "cannot hold this account's role"
    );
    let r = send(
        &host,
        as_operator(Request::get(format!("/v2/users/{admin}"))),
    )
    .await;
    assert_eq!(
        r.json()["data"]["attributes"]["organization"]["id"],
        reseller.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_keep_one_active_per_product() {
    let host = app_host();
    let (reseller, reseller_auth) = reseller_with_admin(&host, "S1");
    let r = send(
        &host,
        Request::post("/v2/organizations")
            .header("authorization", &reseller_auth)
            .json(&json!({"organization": {"name": "Child"}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let org = r.json()["data"]["id"].as_str().unwrap().to_string();
    let sub = |body: Value| {
        Request::post(format!("/v2/organizations/{org}/subscribe"))
            .header("authorization", &reseller_auth)
            .json(&body)
    };
    let r = send(&host, sub(json!({"plan": "pci-open", "features": {"number_of_ips": {"limit": 5}}, "interval": "yearly", "start_date": "2025-03-01"}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json()["data"].clone();
    assert_eq!(
        created["attributes"]["end_date"],
        "2026-03-01T00:00:00.000Z"
    );
    assert_eq!(
        created["attributes"]["features"]["number_of_ips"]["limit"],
        5
    );
    assert_eq!(created["attributes"]["product"]["code"], "pci");
    let r = send(&host, sub(json!({"plan": "pci_plan"}))).await;
    assert_eq!(r.status, 422, "one active pci subscription: {}", r.text());
    assert_eq!(
        send(&host, sub(json!({"plan": "vrms_plan", "features": {}})))
            .await
            .status,
        422,
        "features are for open plans"
    );
    assert_eq!(send(&host, sub(json!({"plan": "nope"}))).await.status, 422);

    // Update as documented: 200 {}.
    let sub_id = created["id"].as_str().unwrap();
    let one = format!("/v2/organizations/{org}/subscriptions/{sub_id}");
    let r = send(&host, Request::put(&one).header("authorization", &reseller_auth).json(&json!({"subscription": {"status": "canceled", "price": 14.33, "cancellation_reason": "No reason", "auto_renewal": true}}))).await;
    assert_eq!((r.status, r.json()), (200, json!({})));
    let r = send(
        &host,
        Request::get(&one).header("authorization", &reseller_auth),
    )
    .await;
    assert_eq!(
        (
            r.json()["data"]["attributes"]["status"].clone(),
            r.json()["data"]["attributes"]["price"].clone()
        ),
        (json!("canceled"), json!("14.33"))
    );
    let r = send(
        &host,
        Request::put(&one)
            .header("authorization", &reseller_auth)
            .json(&json!({"subscription": {"status": "paused"}})),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["errors"]["subscription.status"].is_array());
    assert_eq!(
        send(&host, sub(json!({"plan": "pci_plan"}))).await.status,
        201
    );
    let r = send(
        &host,
        Request::get(format!("/v2/organizations/{org}/subscriptions?active=true"))
            .header("authorization", &reseller_auth),
    )
    .await;
    let active = attrs(&r, "plan");
    assert_eq!(active, vec!["free", "pci_plan"]);
    let r = send(
        &host,
        Request::post(format!("/v2/organizations/{org}/unsubscribe"))
            .header("authorization", &reseller_auth)
            .json(&json!({"plan": "pci_plan"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        &host,
        Request::post(format!("/v2/organizations/{org}/unsubscribe"))
            .header("authorization", &reseller_auth)
            .json(&json!({"plan": "pci_plan"})),
    )
    .await;
    assert_eq!(r.status, 404);
    // The reseller sees its child's subscriptions as dependent ones.
    let r = send(
        &host,
        Request::get(format!(
            "/v2/organizations/{reseller}/dependent_subscriptions"
        ))
        .header("authorization", &reseller_auth),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let deps = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(deps.len(), 3);
    assert!(
        deps.iter()
            .all(|d| d["attributes"]["organization"]["id"] == org.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_subscriptions_to_one_product_have_one_winner() {
    for round in 0..20 {
        let host = app_host();
        host.kv
            .faults
            .max_delay_micros
            .store(2_000, std::sync::atomic::Ordering::Relaxed);
        let r = send(
            &host,
            as_operator(Request::post("/v2/organizations"))
                .json(&json!({"organization": {"name": "C"}})),
        )
        .await;
        let org = r.json()["data"]["id"].as_str().unwrap().to_string();
        let plans = ["pci_plan", "pci-open", "pci_plan", "pci-open"];
        let responses = concurrently(&host, 4, |i| {
            as_operator(Request::post(format!("/v2/organizations/{org}/subscribe")))
                .json(&json!({"plan": plans[i]}))
        })
        .await;
        let won = responses.iter().filter(|r| r.status == 201).count();
        assert_eq!(
            won,
            1,
            "round {round}: {:?}",
            responses.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        let r = send(
            &host,
            as_operator(Request::get(format!(
                "/v2/organizations/{org}/subscriptions?active=true"
            ))),
        )
        .await;
        assert_eq!(
            r.json()["data"].as_array().unwrap().len(),
            2,
            "free and one pci"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_export_round_trips_awkward_names() {
    let host = app_host();
    let names = [
        "Acme, Inc.",
        "The \"Best\" Co",
        "Line\nBreak Ltd",
        "Ünïcödé Ωμέγα 株式会社",
        "Plain",
    ];
    for n in names {
        let r = send(&host, as_operator(Request::post("/v2/organizations")).json(&json!({"organization": {"name": n, "company_name": n, "description": format!("{n}\r\nmore")}}))).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    for i in 0..250 {
        send(
            &host,
            as_operator(Request::post("/v2/organizations"))
                .json(&json!({"organization": {"name": format!("Bulk {i}")}})),
        )
        .await;
    }
    let r = send(&host, as_operator(Request::get("/v2/organizations/export"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut reader = csv::ReaderBuilder::new().from_reader(r.body.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        vec![
            "id",
            "name",
            "company_name",
            "description",
            "kind",
            "parent_id",
            "status",
            "created_at",
            "updated_at"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(
        rows.len(),
        names.len() + 250,
        "the five and the bulk, sent in chunks"
    );
    for n in names {
        let row = rows
            .iter()
            .find(|r| &r[1] == n)
            .unwrap_or_else(|| panic!("{n} missing"));
        assert_eq!((&row[2], &row[3]), (n, format!("{n}\r\nmore").as_str()));
    }
    assert_eq!(
        send(&host, Request::get("/v2/organizations/export"))
            .await
            .status,
        401
    );
    let r = send(
        &host,
        as_operator(Request::post("/v2/organizations/export")),
    )
    .await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_admin_is_refused_what_its_role_may_not_do() {
    let host = app_host();
    // The first user of a new organization is its customer admin.
    let admin_id = customer(&host, "ca@example.com").await;
    issue_access_token(&host, "default", admin_id, "oat_ca");
    let ca = "Basic oat_ca";
    let org = host.with_env(|env| {
        onboard_shared::idm::users::get(env, &op(), admin_id)
            .unwrap()
            .1
            .id
    });
    // A colleague in the same organization.
    let colleague = host.with_env(|env| {
        admin::create_account(
            env,
            &config(),
            &op(),
            &NewAccount {
                email: "colleague@example.com".into(),
                password: "account-password".into(),
                role: Role::User,
                organization_id: Some(org),
                profile: Profile::default(),
            },
        )
        .unwrap()
        .id
    });
    let with = |req: Request| req.header("authorization", ca);
    for (req, want) in [
        (
            with(Request::delete(format!("/v2/users/{colleague}?purge=true"))),
            403,
        ),
        (
            with(Request::post("/v2/organizations")).json(&json!({"organization": {"name": "N"}})),
            403,
        ),
        (
            with(Request::post(format!("/v2/organizations/{org}/subscribe")))
                .json(&json!({"plan": "pci_plan"})),
            403,
        ),
        (
            with(Request::delete(format!("/v2/organizations/{org}"))),
            403,
        ),
        (
            with(Request::get(format!(
                "/v2/organizations/{}",
                Uuid::new_v4()
            ))),
            404,
        ),
        (with(Request::get("/v2/users")), 200),
        (
            with(
                Request::put(format!("/v2/organizations/{org}"))
                    .json(&json!({"organization": {"name": "Mine", "company_name": "Mine"}})),
            ),
            200,
        ),
        (with(Request::delete(format!("/v2/users/{colleague}"))), 200),
        (with(Request::delete(format!("/v2/users/{admin_id}"))), 403),
    ] {
        let path = req.path_and_query.clone();
        let r = send(&host, req).await;
        assert_eq!(r.status, want, "{path}: {}", r.text());
    }
}

/// A token names the organization its user was in at sign-in, and the
/// session's read fetches it ahead. After a move the token still acts in the
/// user's organization as its record says now: the stale one read ahead is
/// never used (one more call to the store, on SQLite two in all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_before_a_move_acts_in_the_new_organization() {
    let host = app_host();
    let key = crate::identity::app_key(&host).await;
    let user = customer(&host, "mover@example.com").await;
    let r = send(
        &host,
        as_operator(Request::post("/v2/organizations"))
            .json(&json!({"organization": {"name": "Target", "company_name": "Target Inc"}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let target = r.json()["data"]["id"].as_str().unwrap().to_string();
    let auth = crate::support::sign_in(&host, &key, "mover@example.com", "password123").await;
    let current = |auth: String| {
        let host = host.clone();
        async move {
            send(
                &host,
                Request::get("/v2/user/organization").header("authorization", auth),
            )
            .await
        }
    };
    let before = current(auth.clone()).await;
    assert_eq!(before.status, 200, "{}", before.text());
    assert_ne!(before.json()["data"]["id"], target.as_str());
    let r = send(&host, move_as_operator(&user, &target)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = current(auth).await;
    assert_eq!(after.status, 200, "{}", after.text());
    assert_eq!(after.json()["data"]["id"], target.as_str());
    if std::env::var_os(onboard_test_host::kv::TEST_KV_VAR).is_none() {
        assert_eq!(
            before.kv.total() + 1,
            after.kv.total(),
            "{:?} {:?}",
            before.kv,
            after.kv
        );
    }
}
