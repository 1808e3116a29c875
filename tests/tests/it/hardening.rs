//! Regression tests for the hardening review (issue 9), one section per
//! numbered finding, each through the wasm components: forged Spin headers,
//! idempotent replays, claims, counts, token scope and the smaller ones.

use std::sync::Arc;
use std::time::Duration;

use onboard_shared::base::model::{Lifecycle, Organization, SubscriptionStatus, User};
use onboard_shared::be::storage::{self, Claim, ClaimState, Record, keys};
use onboard_shared::credential::identity;
use onboard_test_host::{FaultAction, FaultRule, Host, Op, Request, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cloudcockpit_auth::{api_client, bearer, create as cc_create, customer_body};
use crate::create_customer::{fields, new_org_body, post, user_records};
use crate::gcore_auth::{claims, login, overview};
use crate::identity::app_key;
use crate::organizations::{as_operator, customer, reseller_with_admin, send};
use crate::support::{
    DEFAULT_HOST, OPERATOR_EMAIL, OPERATOR_PASSWORD, OPERATOR_TOKEN, app_host, concurrently,
    operator_auth, seed_tenant,
};

fn user_path(id: Uuid) -> String {
    format!("/v2/users/{id}")
}

/// An operator's email change that takes effect at once (the races below
/// are about the claims, not the confirmation).
fn change_email(id: Uuid, email: &str) -> Request {
    as_operator(Request::put(user_path(id)))
        .json(&json!({"user": {"email": email, "skip_reconfirmation": true}}))
}

pub(crate) fn location_id(r: &Response) -> Uuid {
    r.header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub(crate) fn stored_user(host: &Host, id: Uuid) -> Option<User> {
    host.kv
        .get("default", &keys::user("default", id))
        .unwrap()
        .map(|v| serde_json::from_slice::<Record<User>>(&v).unwrap().data)
}

pub(crate) fn count(host: &Host, name: &str) -> i64 {
    host.with_env(|env| storage::read_count(env.kv, "default", name).unwrap())
}

/// Past subscriptions an organization record keeps (the rest are archived).
const KEPT_PAST: usize = 20;
/// The largest `features` object accepted, in bytes of JSON.
const FEATURES_MAX_BYTES: usize = 4096;
/// How long an Idempotency-Key is remembered.
const OPERATION_TTL: Duration = Duration::from_secs(24 * 3600);

/// The user the store says holds `email`: its claim is committed to a user
/// whose record carries that email. Read from the store as it is.
fn holder(host: &Host, email: &str) -> Option<Uuid> {
    let claim = claim_of(host, email).filter(|c| c.state == ClaimState::Committed)?;
    let user = stored_user(host, claim.target?)?;
    user.email.eq_ignore_ascii_case(email).then_some(user.id)
}

fn users_with_email(host: &Host, email: &str) -> usize {
    user_records(host)
        .iter()
        .filter(|u| u.email.eq_ignore_ascii_case(email))
        .count()
}

fn claim_of(host: &Host, email: &str) -> Option<Claim> {
    host.kv
        .get("default", &keys::email("default", email))
        .unwrap()
        .map(|v| serde_json::from_slice::<Record<Claim>>(&v).unwrap().data)
}

/// A new customer organization with its admin (returned) and a second user.
async fn org_with_two_users(host: &Host, tag: &str) -> (Uuid, Uuid, Uuid) {
    let admin = customer(host, &format!("admin-{tag}@example.com")).await;
    let org = stored_user(host, admin).unwrap().organization_id;
    let r = send(
        host,
        post(&json!({"customer": {"organization_id": org,
            "user": {"email": format!("member-{tag}@example.com")}}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    (org, admin, location_id(&r))
}

// 1. Client-sent `spin-*` headers change nothing.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_path_match_header_does_not_redirect_an_update() {
    let host = app_host();
    let a = customer(&host, "a@example.com").await;
    let b = customer(&host, "b@example.com").await;
    let r = send(
        &host,
        as_operator(Request::put(user_path(a)))
            .header("spin-path-match-id", b.to_string())
            .json(&json!({"user": {"first_name": "Changed"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        stored_user(&host, a).unwrap().profile.first_name.as_deref(),
        Some("Changed")
    );
    assert_eq!(
        stored_user(&host, b).unwrap().profile.first_name.as_deref(),
        Some("A"),
        "the user the forged header named is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_client_address_does_not_escape_the_sign_in_throttle() {
    let host = app_host();
    let key = app_key(&host).await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let r = host
            .send(
                Request::post("/auth/sign_in")
                    .header("x-api-key", &key)
                    .header("spin-client-addr", format!("10.9.{i}.1:1"))
                    .json(&json!({"username": OPERATOR_EMAIL, "password": "wrong-guess"})),
            )
            .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    // And the recorded address is the real one, not a forged one.
    host.clock.advance(Duration::from_secs(901));
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("x-api-key", &key)
                .header("spin-client-addr", "10.66.66.66:1")
                .json(&json!({"username": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let operator = user_records_all(&host)
        .into_iter()
        .find(|u| u.email == OPERATOR_EMAIL)
        .unwrap();
    assert_eq!(operator.last_sign_in_ip.as_deref(), Some("127.0.0.1"));
}

fn user_records_all(host: &Host) -> Vec<User> {
    host.kv
        .dump("default")
        .into_iter()
        .filter(|(k, _)| k.starts_with("t/default/user/"))
        .map(|(_, v)| serde_json::from_slice::<Record<User>>(&v).unwrap().data)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_path_info_does_not_pick_another_endpoint() {
    let host = app_host();
    let me = || Request::get("/v2/user/me").header("authorization", operator_auth());
    let plain = send(&host, me()).await;
    assert_eq!(plain.status, 200);
    let forged = send(&host, me().header("spin-path-info", "/organization")).await;
    assert_eq!((forged.status, forged.json()), (200, plain.json()));
    let r = send(
        &host,
        Request::get("/admin/tenants/default")
            .header(
                "authorization",
                format!("Bearer {}", crate::support::ADMIN_KEY),
            )
            .header("spin-path-info", "/tenants/other"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "default");
}

// 2. A reused Idempotency-Key only replays.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_key_never_undoes_later_changes_or_a_purge() {
    let host = app_host();
    let create = || post(&new_org_body("orig@example.com")).header("idempotency-key", "k-1");
    let first = send(&host, create()).await;
    assert_eq!(first.status, 201);
    let id = location_id(&first);
    let r = send(&host, change_email(id, "moved@example.com")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let again = send(&host, create()).await;
    assert_eq!(
        (again.status, again.header("location")),
        (201, first.header("location"))
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(stored_user(&host, id).unwrap().email, "moved@example.com");
    assert_eq!(holder(&host, "orig@example.com"), None);

    let r = send(
        &host,
        as_operator(Request::delete(format!("{}?purge=true", user_path(id)))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let again = send(&host, create()).await;
    assert_eq!(
        (again.status, again.header("location")),
        (201, first.header("location"))
    );
    assert!(
        stored_user(&host, id).is_none(),
        "a purged user stays purged"
    );
    assert_eq!(count(&host, "users"), 1, "only the seeded operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_died_after_committing_is_replayed_not_rewritten() {
    let host = app_host();
    // The instance dies marking the operation done (the second swap of its
    // record), after the customer became visible.
    host.kv.faults.add_rule(
        FaultRule::new(FaultAction::Crash)
            .on(Op::Swap)
            .key_contains("/op/")
            .skip(1),
    );
    let create = || post(&new_org_body("died@example.com")).header("idempotency-key", "k-2");
    let r = host.send(create()).await;
    assert_eq!(r.status, 500);
    let id = user_records(&host)[0].id;
    let r = send(&host, change_email(id, "renamed@example.com")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The dead attempt holds the key for a while: a retry meanwhile is 409.
    let r = send(&host, create()).await;
    assert_eq!(r.status, 409, "{}", r.text());
    host.clock.advance(Duration::from_millis(
        onboard_shared::idm::provision::LEASE_MS as u64 + 1000,
    ));
    let r = send(&host, create()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(location_id(&r), id);
    assert_eq!(stored_user(&host, id).unwrap().email, "renamed@example.com");
    assert_eq!(user_records(&host).len(), 1);
    assert_eq!(
        count(&host, "users"),
        2,
        "counted once: the operator and it"
    );
    let r = send(&host, create()).await;
    assert_eq!(r.status, 201);
    assert_eq!(count(&host, "users"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_winner_not_yet_stamped_keeps_its_slot() {
    let host = app_host();
    // The first attempt has won the key's slot but not yet stamped its
    // time: the attempts arriving meanwhile must wait (409), not judge the
    // slot abandoned and start a second run of the same key.
    host.kv
        .faults
        .pause_before_key(Op::Set, "/first-at", Duration::from_secs(3));
    let create = || post(&new_org_body("unstamped@example.com")).header("idempotency-key", "k-u");
    let spawn = || {
        let host = host.clone();
        let req = create();
        tokio::spawn(async move { host.send(req).await })
    };
    let first = spawn();
    // The others start once the first holds the slot (its next call is the
    // paused stamp), well inside the pause.
    let holds = || {
        host.kv
            .dump("default")
            .iter()
            .any(|(k, _)| k.ends_with("/first"))
    };
    for _ in 0..200 {
        if holds() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(holds(), "the first attempt never took the slot");
    let mut others = Vec::new();
    for _ in 0..2 {
        others.push(spawn());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut later = Vec::new();
    for other in others {
        later.push(other.await.unwrap().status);
    }
    let first = first.await.unwrap();
    assert_eq!(
        (first.status, later),
        (201, vec![409, 409]),
        "{}",
        first.text()
    );
    assert_eq!(user_records(&host).len(), 1);
    let r = send(&host, create()).await;
    assert_eq!((r.status, location_id(&r)), (201, location_id(&first)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_rounds_of_concurrent_attempts_of_one_key_create_once() {
    let host = app_host();
    host.kv
        .faults
        .max_delay_micros
        .store(200, std::sync::atomic::Ordering::Relaxed);
    for round in 0..20 {
        let email = format!("same-key{round}@example.com");
        let key = format!("key-{round}");
        let responses = concurrently(&host, 4, |_| {
            post(&new_org_body(&email)).header("idempotency-key", &key)
        })
        .await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        assert!(
            statuses.iter().all(|s| [201, 409].contains(s)) && statuses.contains(&201),
            "round {round}: {statuses:?}"
        );
        let ids: Vec<Uuid> = responses
            .iter()
            .filter(|r| r.status == 201)
            .map(location_id)
            .collect();
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "round {round}");
        assert_eq!(users_with_email(&host, &email), 1, "round {round}");
        // A retry after the race replays.
        let r = send(
            &host,
            post(&new_org_body(&email)).header("idempotency-key", &key),
        )
        .await;
        assert_eq!((r.status, location_id(&r)), (201, ids[0]), "round {round}");
    }
    assert_eq!(
        count(&host, "users"),
        21,
        "counted once each, and the operator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_first_attempt_died_before_its_record_frees_itself() {
    let host = app_host();
    host.kv.faults.add_rule(
        FaultRule::new(FaultAction::Crash)
            .on(Op::Set)
            .key_contains("/first-at"),
    );
    let create = || post(&new_org_body("orphan@example.com")).header("idempotency-key", "k-orphan");
    assert_eq!(host.send(create()).await.status, 500);
    // The slot's winner never said when it started, which looks the same as
    // a winner about to: the next attempt stamps the time for it and waits
    // (409), as does every attempt while a lease would last.
    assert_eq!(send(&host, create()).await.status, 409);
    let lease = onboard_shared::idm::provision::LEASE_MS as u64;
    host.clock.advance(Duration::from_millis(lease / 2));
    assert_eq!(send(&host, create()).await.status, 409);
    // Then one attempt frees the slot (and answers 409), the next starts afresh.
    host.clock.advance(Duration::from_millis(lease / 2 + 1000));
    assert_eq!(send(&host, create()).await.status, 409);
    let r = send(&host, create()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(user_records(&host).len(), 1);
}

// 3. A claim is released only when no record holds it.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_the_commit_keeps_the_email_taken() {
    let host = app_host();
    host.kv.faults.add_rule(
        FaultRule::new(FaultAction::LoseReply)
            .on(Op::Increment)
            .key_contains("/count/"),
    );
    let r = host.send(post(&new_org_body("kept@example.com"))).await;
    assert_eq!(r.status, 503, "{}", r.text());
    let r = send(&host, post(&new_org_body("kept@example.com"))).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(fields(&r), ["user.email"]);
    assert_eq!(users_with_email(&host, "kept@example.com"), 1);

    // The same for operator accounts.
    host.kv.faults.add_rule(
        FaultRule::new(FaultAction::Fail)
            .on(Op::Increment)
            .key_contains("/count/"),
    );
    let account = || {
        Request::post("/admin/accounts")
            .header("authorization", operator_auth())
            .json(
                &json!({"email": "acct@onboard.test", "password": "account-password",
                          "role": "operator"}),
            )
    };
    assert_eq!(host.send(account()).await.status, 503);
    // The admin API answers a taken email with 409 (nothing malformed).
    let r = send(&host, account()).await;
    assert_eq!(r.status, 409, "{}", r.text());

    // And for an email change whose audit failed after the change landed.
    let id = customer(&host, "before@example.com").await;
    host.kv.faults.add_rule(
        FaultRule::new(FaultAction::Fail)
            .on(Op::Increment)
            .key_contains("/audit/"),
    );
    assert_eq!(
        host.send(change_email(id, "after@example.com"))
            .await
            .status,
        503
    );
    let r = send(&host, post(&new_org_body("after@example.com"))).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(holder(&host, "after@example.com"), Some(id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_before_any_record_frees_the_email() {
    let host = app_host();
    host.kv.faults.add_rule(
        FaultRule::new(FaultAction::LoseReply)
            .on(Op::Set)
            .key_contains("/user/"),
    );
    let r = host.send(post(&new_org_body("undone@example.com"))).await;
    assert_eq!(r.status, 503);
    assert!(
        user_records(&host).is_empty(),
        "the half-made user is undone"
    );
    let r = send(&host, post(&new_org_body("undone@example.com"))).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

/// Three requests racing for `email`: a create, an email change of
/// `existing`, and an operator account.
async fn three_claims(host: &Arc<Host>, existing: Uuid, email: &str) -> Vec<u16> {
    concurrently(host, 3, |i| match i {
        0 => post(&new_org_body(email)),
        1 => change_email(existing, email),
        _ => Request::post("/admin/accounts")
            .header("authorization", operator_auth())
            .json(&json!({"email": email, "password": "account-password", "role": "operator"})),
    })
    .await
    .iter()
    .map(|r| r.status)
    .collect()
}

fn one_holder(host: &Host, email: &str, round: usize) {
    let holders: Vec<User> = user_records_all(host)
        .into_iter()
        .filter(|u| u.email == email)
        .collect();
    assert_eq!(holders.len(), 1, "round {round}: {email}");
    assert_eq!(holder(host, email), Some(holders[0].id), "round {round}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_rounds_of_three_racing_claims_leave_one_holder() {
    let host = app_host();
    host.kv
        .faults
        .max_delay_micros
        .store(300, std::sync::atomic::Ordering::Relaxed);
    for round in 0..20 {
        let existing = customer(&host, &format!("round{round}@example.com")).await;
        // A plain race: exactly one of the three wins.
        let email = format!("race{round}@example.com");
        let statuses = three_claims(&host, existing, &email).await;
        assert!(
            statuses.iter().all(|s| *s < 500),
            "round {round}: {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s < 300).count(),
            1,
            "round {round}"
        );
        one_holder(&host, &email, round);
        // A create whose reply was lost after it committed, then the race:
        // the email is taken, so all three lose.
        let email = format!("lost{round}@example.com");
        host.kv.faults.add_rule(
            FaultRule::new(FaultAction::LoseReply)
                .on(Op::Increment)
                .key_contains("/count/"),
        );
        assert_eq!(host.send(post(&new_org_body(&email))).await.status, 503);
        let statuses = three_claims(&host, existing, &email).await;
        assert!(
            statuses.iter().all(|s| [409, 422].contains(s)),
            "round {round}: {statuses:?}"
        );
        one_holder(&host, &email, round);
    }
}

// 4. One email per user, whatever races.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_rounds_of_two_racing_email_changes_strand_no_claim() {
    let host = app_host();
    host.kv
        .faults
        .max_delay_micros
        .store(300, std::sync::atomic::Ordering::Relaxed);
    let id = customer(&host, "start@example.com").await;
    let mut current = "start@example.com".to_string();
    let mut losers = Vec::new();
    for round in 0..20 {
        let (a, b) = (
            format!("a{round}@example.com"),
            format!("b{round}@example.com"),
        );
        let responses =
            concurrently(&host, 2, |i| change_email(id, if i == 0 { &a } else { &b })).await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        let winners = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(winners, 1, "round {round}: {statuses:?}");
        assert!(
            statuses.iter().all(|s| [200, 409].contains(s)),
            "round {round}: {statuses:?}"
        );
        let now = stored_user(&host, id).unwrap().email;
        let loser = if now == a { &b } else { &a };
        assert!(now == a || now == b);
        assert_eq!(holder(&host, &now), Some(id), "round {round}");
        assert_eq!(holder(&host, loser), None, "round {round}");
        assert_eq!(
            holder(&host, &current),
            None,
            "round {round}: old email freed"
        );
        assert!(
            claim_of(&host, loser).is_none_or(|c| c.state != ClaimState::Committed),
            "round {round}: the loser's claim is not left committed"
        );
        losers.push(loser.clone());
        current = now;
    }
    // The losers' emails are free for anyone.
    for loser in losers.iter().take(3) {
        let r = send(&host, post(&new_org_body(loser))).await;
        assert_eq!(r.status, 201, "{loser}: {}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_needs_the_claim_and_the_record_to_agree() {
    let host = app_host();
    let key = app_key(&host).await;
    let id = customer(&host, "agree@example.com").await;
    // A stale claim committed to the user under another email (as a race
    // on an older version could leave) does not sign anyone in.
    host.with_env(|env| {
        let stale = Claim {
            generation: 1,
            owner: "stale".into(),
            state: ClaimState::Committed,
            at: env.now,
            target: Some(id),
            label: None,
        };
        storage::write(
            env.kv,
            &keys::email("default", "stale@example.com"),
            "stale",
            &stale,
        )
        .unwrap();
    });
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("x-api-key", &key)
                .json(&json!({"username": "stale@example.com", "password": "password123"})),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("x-api-key", &key)
                .json(&json!({"username": "agree@example.com", "password": "password123"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

// 5. Counts change once per transition; deletes re-check the slots.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_rounds_of_double_deletes_never_empty_an_organization_early() {
    let host = app_host();
    host.kv
        .faults
        .max_delay_micros
        .store(200, std::sync::atomic::Ordering::Relaxed);
    for round in 0..20 {
        let (org, admin, member) = org_with_two_users(&host, &round.to_string()).await;
        let responses = concurrently(&host, 3, |_| {
            as_operator(Request::delete(user_path(member)))
        })
        .await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        assert!(
            statuses.contains(&200) && statuses.iter().all(|s| [200, 404].contains(s)),
            "round {round}: {statuses:?}"
        );
        assert_eq!(
            count(&host, &format!("org/{org}/users")),
            1,
            "round {round}"
        );
        let r = send(
            &host,
            as_operator(Request::delete(format!("/v2/organizations/{org}"))),
        )
        .await;
        assert_eq!(r.status, 422, "round {round}: the admin still lives");
        let _ = admin;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifted_count_cannot_delete_a_live_organization() {
    let host = app_host();
    let (org, admin, member) = org_with_two_users(&host, "drift").await;
    host.with_env(|env| {
        storage::bump_count(env, "default", &format!("org/{org}/users"), -2).unwrap();
    });
    let delete_org = || as_operator(Request::delete(format!("/v2/organizations/{org}")));
    assert_eq!(send(&host, delete_org()).await.status, 422);
    // Lifecycle changes to deleted count too, once.
    let set = |id: Uuid| {
        Request::new(http::Method::PATCH, format!("/admin/accounts/{id}"))
            .header("authorization", operator_auth())
            .json(&json!({"status": "deleted"}))
    };
    host.with_env(|env| {
        storage::bump_count(env, "default", &format!("org/{org}/users"), 2).unwrap();
    });
    assert_eq!(send(&host, set(member)).await.status, 200);
    assert_eq!(send(&host, set(member)).await.status, 200);
    assert_eq!(count(&host, &format!("org/{org}/users")), 1);
    assert_eq!(send(&host, delete_org()).await.status, 422);
    assert_eq!(send(&host, set(admin)).await.status, 200);
    assert_eq!(count(&host, &format!("org/{org}/users")), 0);
    let r = send(&host, delete_org()).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

// 6. An API token acts only in its client, with its role.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_acts_only_within_its_client() {
    let host = app_host();
    customer(&host, "cadmin@example.com").await;
    let customer_pair = login(&host, "cadmin@example.com", "password123").await;
    let customer_bearer = format!("Bearer {}", customer_pair["access"].as_str().unwrap());
    let client = claims(customer_pair["access"].as_str().unwrap())["client_id"]
        .as_u64()
        .unwrap();
    let operator_pair = login(&host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let operator_bearer = format!("Bearer {}", operator_pair["access"].as_str().unwrap());
    let root = claims(operator_pair["access"].as_str().unwrap())["client_id"]
        .as_u64()
        .unwrap();
    let tokens = format!("/iam/v2/clients/{client}/tokens");
    let r = send(
        &host,
        Request::post(&tokens)
            .header("authorization", &operator_bearer)
            .json(&json!({"name": "ops", "exp_date": null,
                          "client_user": {"role": {"id": 1, "name": "Administrators"}}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = format!("APIKey {}", r.json()["token"].as_str().unwrap());
    let token_id = r.json()["id"].as_u64().unwrap();

    let r = send(&host, overview(&token)).await;
    assert_eq!((r.status, r.json()["id"].as_u64()), (200, Some(client)));
    let r = send(
        &host,
        Request::get(format!("/iam/v2/clients/{root}/tokens")).header("authorization", &token),
    )
    .await;
    assert_eq!(
        r.status, 404,
        "the operator's own client is out of the token's reach"
    );

    // The customer's admin neither sees nor deletes the operator's token.
    let r = send(
        &host,
        Request::get(&tokens).header("authorization", &customer_bearer),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["id"].as_u64() != Some(token_id))
    );
    let r = send(
        &host,
        Request::delete(format!("{tokens}/{token_id}")).header("authorization", &customer_bearer),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(send(&host, overview(&token)).await.status, 200);
}

// 7. An access token whose revocation failed half-way is dead anyway.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_access_token_dies_even_when_its_revocation_fails() {
    let host = app_host();
    let old = format!("Basic {OPERATOR_TOKEN}");
    host.kv.faults.add_rule(
        FaultRule::new(FaultAction::Fail)
            .on(Op::Swap)
            .key_contains("/cred/at-"),
    );
    let r = host
        .send(Request::put("/v2/user/generate_access_token").header("authorization", &old))
        .await;
    assert_eq!(r.status, 503, "{}", r.text());
    let r = host
        .send(Request::get("/v2/user/me").header("authorization", &old))
        .await;
    assert_eq!(r.status, 401, "the replaced token no longer works");
}

// 8. The smaller ones.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_level_above_manages_an_organizations_plans() {
    let host = app_host();
    let (reseller, reseller_auth) = reseller_with_admin(&host, "OWN");
    let r = send(
        &host,
        Request::post(format!("/v2/organizations/{reseller}/subscribe"))
            .header("authorization", &reseller_auth)
            .json(&json!({"plan": "pci_plan"})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // The operator may; then the reseller may not reprice it.
    let r = send(
        &host,
        as_operator(Request::post(format!(
            "/v2/organizations/{reseller}/subscribe"
        )))
        .json(&json!({"plan": "pci_plan"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let sub = r.json()["data"]["id"].as_str().unwrap().to_string();
    let r = send(
        &host,
        Request::put(format!("/v2/organizations/{reseller}/subscriptions/{sub}"))
            .header("authorization", &reseller_auth)
            .json(&json!({"subscription": {"price": "0.01"}})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_records_stay_bounded() {
    let host = app_host();
    let (_, reseller_auth) = reseller_with_admin(&host, "BIG");
    let r = send(
        &host,
        Request::post("/v2/organizations")
            .header("authorization", &reseller_auth)
            .json(&json!({"organization": {"name": "Child"}})),
    )
    .await;
    let org = r.json()["data"]["id"].as_str().unwrap().to_string();
    let sub = |body: Value| {
        Request::post(format!("/v2/organizations/{org}/subscribe"))
            .header("authorization", &reseller_auth)
            .json(&body)
    };
    let big = "x".repeat(FEATURES_MAX_BYTES);
    let r = send(
        &host,
        sub(json!({"plan": "pci-open", "features": {"k": big}})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let deep = json!({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}});
    let r = send(&host, sub(json!({"plan": "pci-open", "features": deep}))).await;
    assert_eq!(r.status, 422, "{}", r.text());

    let mut first = None;
    for _ in 0..(KEPT_PAST + 10) {
        let r = send(&host, sub(json!({"plan": "pci_plan"}))).await;
        assert_eq!(r.status, 201, "{}", r.text());
        first.get_or_insert_with(|| r.json()["data"]["id"].as_str().unwrap().to_string());
        let r = send(
            &host,
            Request::post(format!("/v2/organizations/{org}/unsubscribe"))
                .header("authorization", &reseller_auth)
                .json(&json!({"plan": "pci_plan"})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let record: Organization = serde_json::from_slice::<Record<Organization>>(
        &host
            .kv
            .get("default", &keys::org("default", org.parse().unwrap()))
            .unwrap()
            .unwrap(),
    )
    .unwrap()
    .data;
    let past = record
        .subscriptions
        .iter()
        .filter(|s| s.status != SubscriptionStatus::Active)
        .count();
    assert_eq!(past, KEPT_PAST);
    // The oldest is archived, still readable by id.
    let r = send(
        &host,
        Request::get(format!(
            "/v2/organizations/{org}/subscriptions/{}",
            first.unwrap()
        ))
        .header("authorization", &reseller_auth),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["attributes"]["status"], "canceled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_in_every_date_is_a_4xx() {
    let host = app_host();
    let id = customer(&host, "dates@example.com").await;
    let org = stored_user(&host, id).unwrap().organization_id;
    let bad = [
        "2024-01-01T10:00+a€",
        "2024-01-01T10:00:00.€",
        "2€24-01-01",
        "€",
    ];
    for value in bad {
        let body = json!({"customer": {"organization_id": org,
            "user": {"email": "d2@example.com"},
            "plans": [{"plan": "pci_plan", "start_date": value, "end_date": value}]}});
        let r = send(&host, post(&body)).await;
        assert_eq!(r.status, 422, "{value}: {}", r.text());
        let r = send(
            &host,
            as_operator(Request::post(format!("/v2/organizations/{org}/subscribe")))
                .json(&json!({"plan": "pci_plan", "start_date": value, "end_date": value})),
        )
        .await;
        assert_eq!(r.status, 422, "{value}: {}", r.text());
        for param in ["date_range_start", "date_range_end", "relative_date_range"] {
            let encoded: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
            for path in ["/v2/users", "/v2/organizations"] {
                let r = send(
                    &host,
                    as_operator(Request::get(format!("{path}?{param}={encoded}"))),
                )
                .await;
                assert_eq!(r.status, 422, "{path}?{param}={value}: {}", r.text());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_stay_within_four_digit_years() {
    let host = app_host();
    let id = customer(&host, "years@example.com").await;
    let org = stored_user(&host, id).unwrap().organization_id;
    let subscribe = |body: Value| {
        as_operator(Request::post(format!("/v2/organizations/{org}/subscribe"))).json(&body)
    };
    // An offset that carries the instant into year 10000 (or before year 0).
    for value in ["9999-12-31T23:00-05:00", "0000-01-01T00:00+01:00"] {
        let r = send(
            &host,
            subscribe(json!({"plan": "pci_plan", "start_date": value})),
        )
        .await;
        assert_eq!(r.status, 422, "{value}: {}", r.text());
    }
    // A yearly plan starting in 9999 ends at the last writable instant.
    let r = send(
        &host,
        subscribe(json!({"plan": "pci_plan", "interval": "yearly", "start_date": "9999-06-01"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json()["data"]["attributes"]["end_date"],
        "9999-12-31T23:59:59.999Z"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudcockpit_client_is_refused_on_another_tenants_host() {
    let host = app_host();
    seed_tenant(&host, "other", &["other.test"], "op@other.test");
    let (id, secret) = api_client(&host, json!({"name": "billing"})).await;
    let auth = bearer(&host, &id, &secret).await;
    let r = host
        .send(cc_create(&auth, &customer_body("Elsewhere")).header("host", "other.test"))
        .await;
    assert_eq!((r.status, r.body.len()), (403, 0));
    let r = host
        .send(cc_create(&auth, &customer_body("Home")).header("host", DEFAULT_HOST))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_password_check_is_throttled() {
    let host = app_host();
    let change = |current: &str| {
        Request::put("/v2/user/change_password")
            .header("authorization", operator_auth())
            .json(&json!({"user": {"current_password": current,
                "password": "brand-new-password", "password_confirmation": "brand-new-password"}}))
    };
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(host.send(change("a-wrong-guess")).await.status);
    }
    assert_eq!(statuses, [422, 422, 422, 422, 422, 429, 429]);
    assert_eq!(host.send(change(OPERATOR_PASSWORD)).await.status, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_keyed_request_leaves_no_operation_and_keys_expire() {
    let host = app_host();
    let missing = Uuid::new_v4();
    let body = json!({"customer": {"organization_id": missing,
        "user": {"email": "late@example.com"}}});
    let r = send(&host, post(&body).header("idempotency-key", "k-404")).await;
    assert_eq!(r.status, 404);
    let r = send(
        &host,
        post(&new_org_body("late@example.com")).header("idempotency-key", "k-404"),
    )
    .await;
    assert_eq!(
        r.status,
        201,
        "a key whose first use was refused is still free: {}",
        r.text()
    );
    // A day later the key is forgotten and starts a new operation.
    host.clock.advance(OPERATION_TTL + Duration::from_secs(1));
    let r = send(
        &host,
        post(&new_org_body("later@example.com")).header("idempotency-key", "k-404"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(user_records(&host).len(), 2);
    assert!(
        host.with_env(|env| identity::account_by_email(env, "default", "later@example.com"))
            .unwrap()
            .is_some_and(|u| u.status == Lifecycle::Active)
    );
}
