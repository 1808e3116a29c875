//! The permission matrix of the README, walked through the wasm components:
//! each role × each endpoint × a target in its own organization (or reach)
//! and one outside it, plus another tenant's credential.

use onboard_shared::base::model::{OrgKind, Organization, Profile, Role};
use onboard_shared::be::storage::Actor;
use onboard_shared::credential::auth::Caller;
use onboard_shared::idm::admin::{self, NewAccount, NewReseller};
use onboard_shared::idm::provision;
use onboard_test_host::{Host, Request};
use serde_json::json;
use uuid::Uuid;

use crate::support::{OPERATOR_TOKEN, app_host, config, issue_access_token, seed_tenant};

struct World {
    r1: Organization,
    r2: Organization,
    c1: Organization,
    /// Users by name: (id, Authorization).
    users: Vec<(&'static str, Uuid, String)>,
}

impl World {
    fn user(&self, name: &str) -> (Uuid, String) {
        let (_, id, auth) = self.users.iter().find(|(n, _, _)| *n == name).unwrap();
        (*id, auth.clone())
    }
}

/// Operator → resellers R1, R2 → customers C1 (under R1), C2 (under R2);
/// a reseller admin of R1, a customer admin and two users of C1, a user of C2.
fn world(host: &Host) -> World {
    let op = Caller::operator_of(
        "default",
        Actor {
            kind: "test".into(),
            id: "setup".into(),
        },
    );
    let (r1, r2, c1, c2) = host.with_env(|env| {
        let reseller = |env: &mut _, code: &str| {
            admin::create_reseller(
                env,
                &op,
                &NewReseller {
                    name: format!("Reseller {code}"),
                    code: code.into(),
                    parent: None,
                },
            )
            .unwrap()
        };
        let r1 = reseller(env, "R1");
        let r2 = reseller(env, "R2");
        let c1 = provision::create_organization(
            env,
            "default",
            Uuid::new_v4(),
            "C1",
            OrgKind::Customer,
            Some(&r1),
        )
        .unwrap();
        let c2 = provision::create_organization(
            env,
            "default",
            Uuid::new_v4(),
            "C2",
            OrgKind::Customer,
            Some(&r2),
        )
        .unwrap();
        (r1, r2, c1, c2)
    });
    let mut users = vec![(
        "operator",
        uuid_of_operator(host),
        format!("Basic {OPERATOR_TOKEN}"),
    )];
    for (name, role, org) in [
        ("reseller_admin", Role::ResellerAdmin, r1.id),
        ("customer_admin", Role::CustomerAdmin, c1.id),
        ("user", Role::User, c1.id),
        ("colleague", Role::User, c1.id),
        ("outsider", Role::User, c2.id),
    ] {
        let user = host.with_env(|env| {
            admin::create_account(
                env,
                &config(),
                &op,
                &NewAccount {
                    email: format!("{name}@onboard.test"),
                    password: "account-password".into(),
                    role,
                    organization_id: Some(org),
                    profile: Profile::default(),
                },
            )
            .unwrap()
        });
        let token = format!("oat_{name}-token");
        issue_access_token(host, "default", user.id, &token);
        users.push((name, user.id, format!("Basic {token}")));
    }
    World { r1, r2, c1, users }
}

fn uuid_of_operator(host: &Host) -> Uuid {
    host.with_env(|env| {
        onboard_shared::credential::identity::account_by_email(
            env,
            "default",
            "operator@onboard.test",
        )
        .unwrap()
        .unwrap()
        .id
    })
}

const ROLES: [&str; 4] = ["operator", "reseller_admin", "customer_admin", "user"];

async fn status(host: &Host, req: Request) -> u16 {
    let r = host.send(req).await;
    assert!(r.status < 500, "{}", r.text());
    r.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_the_written_answer_on_every_endpoint() {
    let host = app_host();
    let w = world(&host);
    let (colleague, _) = w.user("colleague");
    let (outsider, _) = w.user("outsider");
    let mut n = 0;
    // (endpoint, in reach, out of reach) per role, in ROLES order, as the
    // README's permission matrix writes them.
    type Expect = [(u16, u16); 4];
    let rows: Vec<(&str, Expect)> = vec![
        (
            "GET /v2/users/{id}",
            [(200, 200), (200, 404), (200, 404), (403, 404)],
        ),
        (
            "PUT /v2/users/{id}",
            [(200, 200), (200, 404), (200, 404), (403, 404)],
        ),
        (
            "POST /v2/users/create_customer",
            [(201, 201), (201, 404), (403, 403), (403, 403)],
        ),
        (
            "POST /admin/accounts",
            [(201, 201), (201, 404), (403, 403), (403, 403)],
        ),
        (
            "GET /v2/user/me",
            [(200, 200), (200, 200), (200, 200), (200, 200)],
        ),
        (
            "PUT /v2/user/organization",
            [(200, 200), (200, 200), (200, 200), (403, 403)],
        ),
        (
            "GET /v2/user/permissions?permissions=ADMIN_ACCESS",
            [(200, 200), (200, 200), (200, 200), (403, 403)],
        ),
    ];
    for (endpoint, expected) in rows {
        for (role, (inside, outside)) in ROLES.iter().zip(expected) {
            let (_, auth) = w.user(role);
            for (target, want) in [("in reach", inside), ("out of reach", outside)] {
                n += 1;
                let user_target = if target == "in reach" {
                    colleague
                } else {
                    outsider
                };
                let reseller = if target == "in reach" {
                    w.r1.id
                } else {
                    w.r2.id
                };
                let org = if target == "in reach" {
                    w.c1.id
                } else {
                    w.r2.id
                };
                let req = match endpoint {
                    "GET /v2/users/{id}" => Request::get(format!("/v2/users/{user_target}")),
                    "PUT /v2/users/{id}" => Request::put(format!("/v2/users/{user_target}"))
                        .json(&json!({"user": {"title": format!("t{n}")}})),
                    "POST /v2/users/create_customer" => Request::post("/v2/users/create_customer")
                        .json(&json!({"customer": {
                            "organization": {"name": format!("N{n}"), "parent_organization": reseller},
                            "user": {"email": format!("new{n}@onboard.test")}}})),
                    "POST /admin/accounts" => Request::post("/admin/accounts").json(&json!({
                        "email": format!("acct{n}@onboard.test"), "password": "account-password",
                        "role": "user", "organization_id": org})),
                    "PUT /v2/user/organization" => Request::put("/v2/user/organization")
                        .json(&json!({"organization": {"name": format!("O{n}"), "company_name": "Co"}})),
                    other => {
                        let (method, path) = other.split_once(' ').unwrap();
                        Request::new(method.parse().unwrap(), path)
                    }
                };
                let got = status(&host, req.header("authorization", &auth)).await;
                assert_eq!(got, want, "{role} {endpoint} {target}");
            }
        }
    }
}

/// Each role's credential of the Apiculus and Gcore families, from their
/// sign-in endpoints.
async fn family_tokens(host: &Host, email: &str, password: &str) -> (String, String) {
    let r = host
        .send(Request::post("/auth/login").json(&json!({"email": email, "password": password})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let apiculus = r.json()["result"]["token"].as_str().unwrap().to_string();
    let r = host
        .send(
            Request::post("/iam/auth/jwt/login")
                .json(&json!({"username": email, "password": password})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let gcore = format!("Bearer {}", r.json()["access"].as_str().unwrap());
    (apiculus, gcore)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_families_endpoints_follow_the_same_matrix() {
    let host = app_host();
    let w = world(&host);
    let (colleague, _) = w.user("colleague");
    let (outsider, _) = w.user("outsider");
    let c2 = outsider_org(&host, outsider);
    let number = |org| {
        host.with_env(|env| {
            let o = onboard_shared::idm::organizations::get(env, &op_caller(), org).unwrap();
            onboard_shared::idm::aliases::org_number(env, "default", &o).unwrap()
        })
    };
    let (c1_number, c2_number) = (number(w.c1.id), number(c2));
    type Expect = [(u16, u16); 4];
    let rows: Vec<(&str, Expect)> = vec![
        (
            "PUT /api/v1/serv_restrictUserAccount",
            [(200, 200), (200, 404), (403, 403), (403, 403)],
        ),
        (
            "GET /iam/v2/clients/{clientId}/tokens",
            [(200, 200), (200, 404), (200, 404), (200, 404)],
        ),
        (
            "GET /iam/clients/me",
            [(200, 200), (200, 200), (200, 200), (200, 200)],
        ),
    ];
    for (i, role) in ROLES.iter().enumerate() {
        let password = if *role == "operator" {
            crate::support::OPERATOR_PASSWORD
        } else {
            "account-password"
        };
        let email = format!("{role}@onboard.test");
        let (apiculus, gcore) = family_tokens(&host, &email, password).await;
        for (endpoint, expected) in &rows {
            let (inside, outside) = expected[i];
            for (inside_reach, want) in [(true, inside), (false, outside)] {
                let req = match *endpoint {
                    "PUT /api/v1/serv_restrictUserAccount" => {
                        let target = if inside_reach { colleague } else { outsider };
                        Request::put(format!(
                            "/api/v1/serv_restrictUserAccount/{target}?manual=true"
                        ))
                        .header("x-access-token", &apiculus)
                    }
                    "GET /iam/v2/clients/{clientId}/tokens" => {
                        let client = if inside_reach { c1_number } else { c2_number };
                        Request::get(format!("/iam/v2/clients/{client}/tokens"))
                            .header("authorization", &gcore)
                    }
                    _ => Request::get("/iam/clients/me").header("authorization", &gcore),
                };
                let got = status(&host, req).await;
                assert_eq!(got, want, "{role} {endpoint} in reach: {inside_reach}");
            }
        }
    }
}

fn op_caller() -> Caller {
    Caller::operator_of(
        "default",
        Actor {
            kind: "test".into(),
            id: "setup".into(),
        },
    )
}

fn outsider_org(host: &Host, outsider: Uuid) -> Uuid {
    host.with_env(|env| {
        onboard_shared::idm::users::get(env, &op_caller(), outsider)
            .unwrap()
            .0
            .organization_id
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cross_tenant_read_or_write_succeeds() {
    let host = app_host();
    let w = world(&host);
    let other = seed_tenant(&host, "other", &["portal.other.test"], "op@other.test");
    issue_access_token(&host, "other", other.operator.id, "oat_other-operator");
    let theirs = "Basic oat_other-operator";
    let (victim, _) = w.user("user");
    // On the default tenant's host, another tenant's credential is refused.
    for req in [
        Request::get(format!("/v2/users/{victim}")),
        Request::get("/v2/user/me"),
        Request::put(format!("/v2/users/{victim}")).json(&json!({"user": {"title": "x"}})),
    ] {
        let r = host.send(req.header("authorization", theirs)).await;
        assert_eq!(r.status, 403, "{}", r.text());
    }
    // On its own host it simply does not find the default tenant's records.
    for req in [
        Request::get(format!("/v2/users/{victim}")),
        Request::put(format!("/v2/users/{victim}")).json(&json!({"user": {"title": "x"}})),
        Request::post("/v2/users/create_customer").json(&json!({"customer": {
            "organization_id": w.c1.id, "user": {"email": "sneak@onboard.test"}}})),
    ] {
        let r = host
            .send(
                req.header("authorization", theirs)
                    .header("host", "portal.other.test"),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.text());
    }
    // And the default tenant's own credential is refused on the other's host.
    let (_, mine) = w.user("operator");
    let r = host
        .send(
            Request::get("/v2/user/me")
                .header("authorization", &mine)
                .header("host", "portal.other.test"),
        )
        .await;
    assert_eq!(r.status, 403);
    // The platform admin must name the tenant it acts in.
    let r = host
        .send(
            Request::post("/admin/resellers")
                .header(
                    "authorization",
                    format!("Bearer {}", crate::support::ADMIN_KEY),
                )
                .header("x-tenant", "portal.other.test")
                .json(&json!({"name": "Other R", "code": "R1"})),
        )
        .await;
    assert_eq!(r.status, 201, "codes are per tenant: {}", r.text());
    assert_eq!(r.json()["number"], 1);
}
