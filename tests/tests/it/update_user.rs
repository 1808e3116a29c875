//! `PUT /v2/users/{id}` (seed 002) and `GET /v2/users/{id}`, through the wasm component.

use std::sync::Arc;

use onboard_test_host::{Host, Request};
use serde_json::{Value, json};

use crate::create_customer::{ORG, new_org_body, post, seed_orgs, user_records, valid_body};
use crate::support::{app_host, concurrently, operator_auth};

/// Seed 002's example body, verbatim.
fn seed_002_body() -> Value {
    json!({
        "user": {
            "email": "user@clone-systems.com",
            "organization_id": "7c60d51f-b44e-4682-87d6-449835ea4de6",
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
            "comment": "A comment"
        }
    })
}

fn auth(req: Request) -> Request {
    req.header("authorization", operator_auth())
}

fn put(location: &str, body: &Value) -> Request {
    auth(Request::put(location)).json(body)
}

async fn create(host: &Host, body: &Value) -> String {
    let r = host.send(post(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.header("location").unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_body_updates_a_user_created_by_seed_000() {
    let host = app_host();
    seed_orgs(&host);
    let location = create(&host, &valid_body()).await;
    // Change some fields first so the seed body visibly restores them.
    let r = host
        .send(put(
            &location,
            &json!({"user": {"first_name": "Jane", "city": "Patras"}}),
        ))
        .await;
    assert_eq!((r.status, r.json()), (200, json!({})));
    let r = host.send(put(&location, &seed_002_body())).await;
    assert_eq!((r.status, r.json()), (200, json!({})), "{}", r.text());

    let r = host.send(auth(Request::get(&location))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let a = &r.json()["data"]["attributes"];
    assert_eq!(r.json()["data"]["type"], "users");
    assert_eq!(a["email"], "user@clone-systems.com");
    assert_eq!(a["first_name"], "Joe");
    assert_eq!(a["city"], "Athens");
    assert_eq!(a["comment"], "A comment");
    assert_eq!(a["organization"]["id"], ORG);
    assert_eq!(a["role"], "User");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_present_fields_change_and_null_clears() {
    let host = app_host();
    let location = create(&host, &new_org_body("p@example.com")).await;
    host.send(put(
        &location,
        &json!({"user": {"title": "CTO", "city": "Oslo"}}),
    ))
    .await;
    let r = host
        .send(put(&location, &json!({"user": {"title": null}})))
        .await;
    assert_eq!(r.status, 200);
    let a = host.send(auth(Request::get(&location))).await.json()["data"]["attributes"].clone();
    assert_eq!(
        (
            a["title"].clone(),
            a["city"].clone(),
            a["first_name"].clone()
        ),
        (Value::Null, json!("Oslo"), json!("A"))
    );
    let r = host.send(put(&location, &json!({}))).await;
    assert_eq!(r.status, 200, "an empty change is a no-op");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_401_404_405_422() {
    let host = app_host();
    let location = create(&host, &new_org_body("e@example.com")).await;
    create(&host, &new_org_body("taken@example.com")).await;
    let r = host.send(Request::put(&location).json(&json!({}))).await;
    assert_eq!(r.status, 401);
    for path in [
        "/v2/users/00000000-0000-4000-8000-000000000000",
        "/v2/users/not-a-uuid",
    ] {
        let r = host.send(put(path, &json!({"user": {"city": "x"}}))).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["status_text"], "Record Not Found");
    }
    let r = host.send(auth(Request::post(&location))).await;
    assert_eq!(
        (r.status, r.header("allow")),
        (405, Some("GET, PUT, DELETE"))
    );
    let cases = [
        (json!({"email": "bad"}), "user.email"),
        (json!({"email": "TAKEN@example.com"}), "user.email"),
        (json!({"email": null}), "user.email"),
        (
            json!({"organization_id": "00000000-0000-4000-8000-000000000000"}),
            "user.organization_id",
        ),
        (json!({"organization_id": "nope"}), "user.organization_id"),
        (json!({"locale": "zz"}), "user.locale"),
        (json!({"timezone": "Nowhere/City"}), "user.timezone"),
        (json!({"comment": "c".repeat(256)}), "user.comment"),
        (json!({"phone": 5}), "user.phone"),
    ];
    for (user, field) in cases {
        let r = host.send(put(&location, &json!({ "user": user }))).await;
        assert_eq!(r.status, 422, "{field}: {}", r.text());
        assert!(
            r.json()["errors"][field].is_array(),
            "{field}: {}",
            r.text()
        );
    }
    let r = host
        .send(
            auth(Request::put(&location))
                .header("content-type", "application/json")
                .body("{"),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_change_moves_the_claim() {
    let host = app_host();
    let location = create(&host, &new_org_body("old@example.com")).await;
    let r = host
        .send(put(
            &location,
            &json!({"user": {"email": "new@example.com", "skip_reconfirmation": true}}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The old address is free again; the new one is taken.
    assert_eq!(
        host.send(post(&new_org_body("old@example.com")))
            .await
            .status,
        201
    );
    assert_eq!(
        host.send(post(&new_org_body("NEW@example.com")))
            .await
            .status,
        422
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_moves_to_one_email_let_exactly_one_win() {
    for round in 0..20 {
        let host = app_host();
        host.kv
            .faults
            .max_delay_micros
            .store(2_000, std::sync::atomic::Ordering::Relaxed);
        let a = create(&host, &new_org_body("a@example.com")).await;
        let b = create(&host, &new_org_body("b@example.com")).await;
        let target = json!({"user": {"email": "same@example.com", "skip_reconfirmation": true}});
        let locations = [a, b];
        let responses = concurrently(&host, 2, |i| put(&locations[i], &target)).await;
        let mut statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        statuses.sort();
        assert_eq!(statuses, [200, 422], "round {round}");
        let holders = user_records(&host)
            .iter()
            .filter(|u| u.email == "same@example.com")
            .count();
        assert_eq!(holders, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_of_different_fields_both_persist() {
    for round in 0..20 {
        let host: Arc<Host> = app_host();
        host.kv
            .faults
            .max_delay_micros
            .store(2_000, std::sync::atomic::Ordering::Relaxed);
        let location = create(&host, &new_org_body("c@example.com")).await;
        let bodies = [
            json!({"user": {"city": "Athens"}}),
            json!({"user": {"title": "CEO"}}),
        ];
        let responses = concurrently(&host, 2, |i| put(&location, &bodies[i])).await;
        assert!(responses.iter().all(|r| r.status == 200), "round {round}");
        let a = host.send(auth(Request::get(&location))).await.json()["data"]["attributes"].clone();
        assert_eq!(
            (a["city"].clone(), a["title"].clone()),
            (json!("Athens"), json!("CEO")),
            "round {round}"
        );
    }
}
