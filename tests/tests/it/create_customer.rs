//! `POST /v2/users/create_customer` (seed 000), through the wasm component.

use std::sync::Arc;
use std::time::Duration;

use onboard_shared::base::model::{OrgKind, Organization, SubscriptionStatus, User};
use onboard_shared::be::storage::{self, Record, keys};
use onboard_shared::{base::time, idm::provision};
use onboard_test_host::{FaultAction, FaultRule, Host, Op, Request};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{app_host, concurrently, is_seeded, operator_auth};

const PATH: &str = "/v2/users/create_customer";
pub const ORG: &str = "7c60d51f-b44e-4682-87d6-449835ea4de6";
const PARENT: &str = "5d702bf8-e908-41df-92de-feea0acf2f4e";

/// Seed 000's example body, verbatim.
pub fn seed_body() -> Value {
    json!({
        "customer": {
            "organization_id": "7c60d51f-b44e-4682-87d6-449835ea4de6",
            "organization": {
                "name": "company_name",
                "description": "organization description",
                "company_name": "Company",
                "skip_default_subscription": true,
                "parent_organization": "5d702bf8-e908-41df-92de-feea0acf2f4e"
            },
            "user": {
                "email": "user@clone-systems.com",
                "first_name": "Joe",
                "last_name": "Doe",
                "locale": "en",
                "timezone": "UTC",
                "phone": "2353032211",
                "mobile_phone": "+3053032211",
                "url": "clone-systems.com",
                "title": "Software Engineer",
                "address": "Street 33",
                "city": "Athens",
                "state": "State",
                "country": "Greece",
                "zipcode": "10431",
                "comment": "A comment",
                "confirmed": true,
                "password": "password123",
                "password_confirmation": "password123"
            },
            "plans": [
                {
                    "plan": "vrms_plan",
                    "partner": true,
                    "interval": "none",
                    "start_date": "string",
                    "end_date": "string"
                }
            ]
        }
    })
}

/// The seed body with real dates.
pub fn valid_body() -> Value {
    let mut body = seed_body();
    body["customer"]["plans"][0]["start_date"] = json!("2025-01-01");
    body["customer"]["plans"][0]["end_date"] = json!("2026-01-01T00:00:00Z");
    body
}

/// A new-organization body (no organization_id) for `email`.
pub fn new_org_body(email: &str) -> Value {
    json!({ "customer": {
        "organization": { "name": "Acme", "company_name": "Acme Ltd" },
        "user": { "email": email, "first_name": "A", "password": "password123",
                  "password_confirmation": "password123" }
    }})
}

pub fn post(body: &Value) -> Request {
    Request::post(PATH)
        .header("authorization", operator_auth())
        .json(body)
}

/// Creates the two organizations the seed's ids name, through shared code.
pub fn seed_orgs(host: &Host) {
    host.with_env(|env| {
        let parent = provision::create_organization(
            env,
            "default",
            PARENT.parse().unwrap(),
            "Reseller",
            OrgKind::Reseller,
            None,
        )
        .unwrap();
        provision::create_organization(
            env,
            "default",
            ORG.parse().unwrap(),
            "Existing",
            OrgKind::Customer,
            Some(&parent),
        )
        .unwrap();
    });
}

pub fn fields(r: &onboard_test_host::Response) -> Vec<String> {
    let mut f: Vec<String> = r.json()["errors"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    f.sort();
    f
}

pub fn user_records(host: &Host) -> Vec<User> {
    host.kv
        .dump("default")
        .into_iter()
        .filter(|(k, _)| k.starts_with("t/default/user/"))
        .map(|(_, v)| serde_json::from_slice::<Record<User>>(&v).unwrap().data)
        .filter(|u| !is_seeded(u))
        .collect()
}

pub fn org_records(host: &Host) -> Vec<Organization> {
    host.kv
        .dump("default")
        .into_iter()
        .filter(|(k, _)| k.starts_with("t/default/org/"))
        .map(|(_, v)| {
            serde_json::from_slice::<Record<Organization>>(&v)
                .unwrap()
                .data
        })
        .filter(|o| o.kind != OrgKind::Platform)
        .collect()
}

/// The users the tenant's list shows, up to `limit`, but the seeded operator.
pub fn listed_users(host: &Host, limit: usize) -> Vec<(i64, Uuid)> {
    let seeded: Vec<Uuid> = host
        .kv
        .dump("default")
        .into_iter()
        .filter(|(k, _)| k.starts_with("t/default/user/"))
        .filter_map(|(_, v)| serde_json::from_slice::<Record<User>>(&v).ok())
        .filter(|r| is_seeded(&r.data))
        .map(|r| r.data.id)
        .collect();
    host.with_env(|env| storage::index_range(env.kv, "default", "users", 1, limit + 1).unwrap())
        .into_iter()
        .filter(|(_, id)| !seeded.contains(id))
        .take(limit)
        .collect()
}

/// Audit events of customer and user changes written (not sequence numbers
/// handed out, nor the seeded tenant's own events).
fn audit_count(host: &Host) -> usize {
    let seq = keys::audit_seq("default");
    host.kv
        .dump("default")
        .iter()
        .filter(|(k, _)| k.starts_with("t/default/audit/") && *k != seq)
        .filter_map(|(_, v)| serde_json::from_slice::<Record<storage::AuditEvent>>(v).ok())
        .filter(|r| r.data.action.starts_with("customer.") || r.data.action.starts_with("user."))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_body_verbatim_names_exactly_its_placeholder_dates() {
    let host = app_host();
    let r = host.send(post(&seed_body())).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(fields(&r), ["plans[0].end_date", "plans[0].start_date"]);
    assert_eq!(r.json()["status_text"], "Parameter Error");
    assert_eq!(
        r.json()["errors"]["plans[0].start_date"],
        json!(["is not an ISO-8601 date"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_body_with_dates_creates_the_user_in_the_existing_organization() {
    let host = app_host();
    seed_orgs(&host);
    let r = host.send(post(&valid_body())).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.body.is_empty());
    let location = r.header("location").unwrap().to_string();
    let id: Uuid = location
        .strip_prefix("/v2/users/")
        .unwrap()
        .parse()
        .unwrap();

    let users = user_records(&host);
    assert_eq!(users.len(), 1);
    let user = &users[0];
    assert_eq!(user.id, id);
    assert_eq!(user.email, "user@clone-systems.com");
    assert_eq!(user.organization_id.to_string(), ORG);
    assert!(user.confirmed);
    let p = &user.profile;
    let got = [
        &p.first_name,
        &p.last_name,
        &p.locale,
        &p.timezone,
        &p.phone,
        &p.mobile_phone,
        &p.url,
        &p.title,
        &p.address,
        &p.city,
        &p.state,
        &p.country,
        &p.zipcode,
        &p.comment,
    ];
    let want = [
        "Joe",
        "Doe",
        "en",
        "UTC",
        "2353032211",
        "+3053032211",
        "clone-systems.com",
        "Software Engineer",
        "Street 33",
        "Athens",
        "State",
        "Greece",
        "10431",
        "A comment",
    ];
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.as_deref(), Some(w));
    }
    assert!(
        user.password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$")
    );

    // organization_id wins: no new organization; the plan lands on the existing one.
    let orgs = org_records(&host);
    assert_eq!(orgs.len(), 2);
    let org = orgs.iter().find(|o| o.id.to_string() == ORG).unwrap();
    assert_eq!(org.subscriptions.len(), 1);
    let sub = &org.subscriptions[0];
    assert_eq!(
        (sub.plan.as_str(), sub.product.as_str(), sub.partner),
        ("vrms_plan", "vrms", true)
    );
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(time::format_date(sub.start_date), "2025-01-01");
    assert_eq!(
        sub.end_date.map(time::format_date).as_deref(),
        Some("2026-01-01")
    );

    // No clear-text password anywhere in the store.
    for (key, value) in host.kv.dump("default") {
        assert!(
            !String::from_utf8_lossy(&value).contains("password123"),
            "{key}"
        );
    }
    assert_eq!(audit_count(&host), 1);
    assert!(host.kv.faults.limit_violations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_organization_gets_default_plan_unless_skipped() {
    let host = app_host();
    let r = host.send(post(&new_org_body("a@example.com"))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let orgs = org_records(&host);
    assert_eq!(orgs.len(), 1);
    assert_eq!(
        orgs[0]
            .subscriptions
            .iter()
            .map(|s| s.plan.as_str())
            .collect::<Vec<_>>(),
        ["free"]
    );

    let mut body = new_org_body("b@example.com");
    body["customer"]["organization"]["skip_default_subscription"] = json!(true);
    body["customer"]["plans"] = json!([
        { "plan": "pci_plan", "interval": "monthly", "start_date": "2025-01-31" },
        { "plan": "pci-open", "interval": "yearly" },
        { "plan": "vrms_plan" }
    ]);
    let r = host.send(post(&body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let org = org_records(&host)
        .into_iter()
        .find(|o| o.subscriptions.len() > 1)
        .unwrap();
    // One active subscription per product: the second PCI plan is ignored.
    let plans: Vec<&str> = org.subscriptions.iter().map(|s| s.plan.as_str()).collect();
    assert_eq!(plans, ["pci_plan", "vrms_plan"]);
    assert_eq!(
        org.subscriptions[0]
            .end_date
            .map(time::format_date)
            .as_deref(),
        Some("2025-02-28")
    );

    let mut body = new_org_body("c@example.com");
    body["customer"]["organization"]["skip_default_subscription"] = json!(true);
    let r = host.send(post(&body)).await;
    assert_eq!((r.status, fields(&r)), (422, vec!["plans".to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked_first() {
    let host = app_host();
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic wrong"),
        Some("Bearer "),
        Some("oat_test-operator-access-token"),
        Some("Bearer oat_test-operator-access-token"),
        Some("APIKey oat_test-operator-access-token"),
    ] {
        let mut req = Request::post(PATH).json(&valid_body());
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = host.send(req).await;
        assert_eq!(r.status, 401, "{auth:?}");
        assert_eq!(r.json()["status_text"], "Unauthorized");
    }
    assert!(user_records(&host).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_password_is_named_beside_the_other_bad_fields() {
    let host = app_host();
    let mut body = valid_body();
    body["customer"]["user"]["password"] = json!("short");
    body["customer"]["user"]["password_confirmation"] = json!("short");
    body["customer"]["user"]["locale"] = json!("xx-YYY");
    let r = host.send(post(&body)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(
        fields(&r),
        vec!["user.locale", "user.password"],
        "{}",
        r.text()
    );
    assert!(user_records(&host).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invalid_field_is_named() {
    let host = app_host();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"email": null}), "user.email"),
        (json!({"email": "not-an-email"}), "user.email"),
        (json!({"email": 42}), "user.email"),
        (
            json!({"password_confirmation": "different1"}),
            "user.password_confirmation",
        ),
        (
            json!({"password": "short", "password_confirmation": "short"}),
            "user.password",
        ),
        (json!({"first_name": "x".repeat(256)}), "user.first_name"),
        (json!({"locale": "xx-YYY"}), "user.locale"),
        (json!({"timezone": "Mars/Base"}), "user.timezone"),
        (json!({"confirmed": "yes"}), "user.confirmed"),
    ];
    for (patch, field) in cases {
        let mut body = valid_body();
        for (k, v) in patch.as_object().unwrap() {
            body["customer"]["user"][k] = v.clone();
        }
        let r = host.send(post(&body)).await;
        assert_eq!(r.status, 422, "{field}: {}", r.text());
        assert_eq!(fields(&r), vec![field.to_string()], "{}", r.text());
    }
    let plan_cases: Vec<(Value, &str)> = vec![
        (
            json!({"interval": "weekly", "start_date": "2025-01-01", "end_date": "2025-02-01"}),
            "plans[0].interval",
        ),
        (
            json!({"plan": "nope", "start_date": "2025-01-01", "end_date": "2025-02-01"}),
            "plans[0].plan",
        ),
        (
            json!({"start_date": "2025-02-01", "end_date": "2025-01-01"}),
            "plans[0].end_date",
        ),
        (
            json!({"start_date": "2025-02-30", "end_date": "2025-03-01"}),
            "plans[0].start_date",
        ),
    ];
    for (patch, field) in plan_cases {
        let mut body = valid_body();
        for (k, v) in patch.as_object().unwrap() {
            body["customer"]["plans"][0][k] = v.clone();
        }
        let r = host.send(post(&body)).await;
        assert_eq!(
            (r.status, fields(&r)),
            (422, vec![field.to_string()]),
            "{}",
            r.text()
        );
    }
    let mut body = valid_body();
    body["customer"]["organization_id"] = json!("not-a-uuid");
    body["customer"]["organization"]["name"] = json!("");
    body["customer"]["plans"] = json!("x");
    let r = host.send(post(&body)).await;
    assert_eq!(
        fields(&r),
        ["organization.name", "organization_id", "plans"]
    );
    for body in [
        json!({}),
        json!({"customer": 5}),
        json!({"customer": {"user": []}}),
    ] {
        let r = host.send(post(&body)).await;
        assert_eq!(r.status, 422, "{body}");
    }
    assert!(user_records(&host).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_4xx_never_5xx() {
    let host = app_host();
    let auth = operator_auth();
    let cases: Vec<(Request, u16)> = vec![
        (
            Request::post(PATH)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body("{\"customer\":"),
            400,
        ),
        (
            Request::post(PATH)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(vec![0xff, 0xfe, b'{']),
            400,
        ),
        (
            Request::post(PATH)
                .header("authorization", &auth)
                .header("content-type", "text/plain")
                .body("{}"),
            415,
        ),
        (
            Request::post(PATH)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body("[1,2]"),
            422,
        ),
        (
            Request::post(PATH)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(vec![b' '; 300 * 1024]),
            413,
        ),
        (
            Request::post(PATH)
                .header("authorization", &auth)
                .json(&valid_body())
                .header("idempotency-key", ""),
            422,
        ),
    ];
    for (req, status) in cases {
        let r = host.send(req).await;
        assert_eq!(r.status, status, "{}", r.text());
    }
    for method in [http::Method::GET, http::Method::PUT, http::Method::DELETE] {
        let r = host.send(Request::new(method, PATH)).await;
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("POST"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_organizations_are_404_but_bad_bodies_are_422_first() {
    let host = app_host();
    let r = host.send(post(&valid_body())).await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["status_text"], "Record Not Found");
    host.with_env(|env| {
        provision::create_organization(
            env,
            "default",
            ORG.parse().unwrap(),
            "Existing",
            OrgKind::Customer,
            None,
        )
        .unwrap();
    });
    let r = host.send(post(&valid_body())).await;
    assert_eq!(
        r.status,
        404,
        "parent_organization is still unknown: {}",
        r.text()
    );
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("parent_organization")
    );
    // Malformed and naming unknown organizations: the 422 wins.
    let r = host.send(post(&seed_body())).await;
    assert_eq!(r.status, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_is_unique_per_tenant_ignoring_case() {
    let host = app_host();
    assert_eq!(
        host.send(post(&new_org_body("Dup@Example.com")))
            .await
            .status,
        201
    );
    let r = host.send(post(&new_org_body("dup@example.COM"))).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["errors"]["user.email"],
        json!(["has already been taken"])
    );
    assert_eq!(org_records(&host).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_creates_of_one_email_make_one_customer() {
    let host = app_host();
    host.kv
        .faults
        .max_delay_micros
        .store(3_000, std::sync::atomic::Ordering::Relaxed);
    let responses = concurrently(&host, 50, |_| post(&new_org_body("race@example.com"))).await;
    let created = responses.iter().filter(|r| r.status == 201).count();
    let taken = responses.iter().filter(|r| r.status == 422).count();
    assert_eq!(
        (created, taken),
        (1, 49),
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(user_records(&host).len(), 1);
    assert_eq!(org_records(&host).len(), 1, "no orphaned organization");
    assert_eq!(audit_count(&host), 1);
    assert!(host.max_concurrent_requests() > 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_creates_of_distinct_emails_all_succeed() {
    let host = app_host();
    host.kv
        .faults
        .max_delay_micros
        .store(3_000, std::sync::atomic::Ordering::Relaxed);
    let responses = concurrently(&host, 50, |i| {
        post(&new_org_body(&format!("u{i}@example.com")))
    })
    .await;
    assert!(responses.iter().all(|r| r.status == 201));
    assert_eq!(user_records(&host).len(), 50);
    assert_eq!(audit_count(&host), 50);
    let listed = listed_users(&host, 100);
    assert_eq!(listed.len(), 50);
    assert_eq!(
        host.with_env(|env| storage::read_count(env.kv, "default", "users").unwrap()),
        51,
        "the 50 and the seeded operator"
    );
}

async fn retried_with_key(host: &Arc<Host>, rule: FaultRule) {
    host.kv.faults.add_rule(rule);
    let req = || post(&new_org_body("retry@example.com")).header("idempotency-key", "abc-1");
    let first = host.send(req()).await;
    assert_eq!(first.status, 503, "{}", first.text());
    assert_eq!(first.json()["status_text"], "Service Unavailable");
    // Nothing visible: not listed, not counted.
    let listed = listed_users(host, 10);
    assert!(listed.is_empty());
    let second = host.send(req()).await;
    assert_eq!(second.status, 201, "{}", second.text());
    let third = host.send(req()).await;
    assert_eq!(third.status, 201, "a completed key replays");
    assert_eq!(third.header("location"), second.header("location"));
    assert_eq!(third.header("idempotent-replayed"), Some("true"));
    assert_eq!(user_records(host).len(), 1);
    assert_eq!(org_records(host).len(), 1);
    assert_eq!(audit_count(host), 1);
    let listed = listed_users(host, 10);
    assert_eq!(listed.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reply_on_the_user_write_then_retry() {
    retried_with_key(
        &app_host(),
        FaultRule::new(FaultAction::LoseReply)
            .on(Op::Set)
            .key_contains("/user/"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_index_call_then_retry() {
    retried_with_key(
        &app_host(),
        FaultRule::new(FaultAction::Fail)
            .on(Op::Increment)
            .key_contains("/ix/"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_audit_then_retry() {
    retried_with_key(
        &app_host(),
        FaultRule::new(FaultAction::Fail)
            .on(Op::Increment)
            .key_contains("/audit/"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_swaps_are_recognised() {
    let host = app_host();
    host.kv
        .faults
        .swap_fails_after_write
        .store(true, std::sync::atomic::Ordering::Relaxed);
    seed_orgs(&host);
    let r = host
        .send(post(&valid_body()).header("idempotency-key", "k"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let org = org_records(&host)
        .into_iter()
        .find(|o| o.id.to_string() == ORG)
        .unwrap();
    assert_eq!(org.subscriptions.len(), 1, "plan applied exactly once");
    assert_eq!(audit_count(&host), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_reused_for_another_request_is_refused() {
    let host = app_host();
    let r = host
        .send(post(&new_org_body("one@example.com")).header("idempotency-key", "same"))
        .await;
    assert_eq!(r.status, 201);
    let r = host
        .send(post(&new_org_body("two@example.com")).header("idempotency-key", "same"))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(fields(&r), ["Idempotency-Key"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_abandoned_by_a_crash_is_reclaimed_after_the_window() {
    let host = app_host();
    host.kv.faults.add_rule(
        FaultRule::new(FaultAction::Crash)
            .on(Op::Set)
            .key_contains("/user/"),
    );
    let r = host.send(post(&new_org_body("crash@example.com"))).await;
    assert_eq!((r.status, r.body.len()), (500, 0));
    let r = host.send(post(&new_org_body("crash@example.com"))).await;
    assert_eq!(r.status, 422, "still held within the window");
    host.clock.advance(Duration::from_millis(
        storage::CLAIM_WINDOW_MS as u64 + 1000,
    ));
    let r = host.send(post(&new_org_body("crash@example.com"))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let listed = listed_users(&host, 10);
    assert_eq!(listed.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_value_calls_per_create_do_not_grow_with_the_tenant() {
    let host = app_host();
    let measure = |host: Arc<Host>, email: String| async move {
        let r = host.send(post(&new_org_body(&email))).await;
        assert_eq!(r.status, 201);
        r.kv.total()
    };
    seed_users(&host, 10);
    let at_10 = measure(host.clone(), "m1@example.com".into()).await;
    seed_users(&host, 990);
    let at_1000 = measure(host.clone(), "m2@example.com".into()).await;
    eprintln!("key-value calls per create: {at_10} at 10 users, {at_1000} at 1000 users");
    assert_eq!(at_10, at_1000);
}

/// Creates `n` customers natively through the same shared code the component runs.
fn seed_users(host: &Host, n: usize) {
    use onboard_shared::credential::auth::Caller;
    use onboard_shared::families::clone::parse_create_customer;
    let caller = Caller::operator_of(
        "default",
        storage::Actor {
            kind: "test".into(),
            id: "seed".into(),
        },
    );
    host.with_env(|env| {
        for _ in 0..n {
            let email = format!("seed-{}@example.com", Uuid::new_v4().simple());
            let body = new_org_body(&email);
            let mut input = parse_create_customer(body.as_object().unwrap()).unwrap();
            input.user.password = None;
            let op = provision::OpId::fresh(env, email.clone());
            provision::create_customer(env, &caller, &input, &op, Default::default(), None)
                .unwrap();
        }
    });
}
