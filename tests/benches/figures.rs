//! Onboard's figures: what each request costs through the wasm components
//! (a fresh instance per request, as Spin does) and natively (the same shared
//! handler, the same store), how many key-value calls it makes, how it grows
//! with a tenant's size, throughput, instantiation, sizes. A benchmark, not a
//! test: it prints numbers and the targets beside them; a miss is printed,
//! not failed.
//!
//! `bash tests/bench.sh` (README, Performance) runs it on the shipping build
//! (it sets `ONBOARD_WASM_PROFILE=release`) with a local Redis; `cargo bench`
//! run directly measures the test build (`wasm-test`) unless told.
//! `SPIN_WASMTIME_POOLING=0` measures on-demand instances, as it does in Spin.
//! Environment: `ONBOARD_BENCH_REDIS=redis://127.0.0.1:6391` adds the table
//! on Redis; `ONBOARD_BENCH_SIMD=0` skips the build without `simd128`;
//! `ONBOARD_BENCH_USERS=1000,10000,100000` the growth tiers;
//! `ONBOARD_WASM_PROFILE=wasm-test` measures the test build instead, which
//! `cargo test` has built already (its sizes are not the shipped ones).

use std::sync::Arc;
use std::time::{Duration, Instant};

use onboard_shared::be::storage::Env;
use onboard_shared::credential::identity::Config;
use onboard_shared::families::openapi;
use onboard_shared::families::{apiculus, clone, cloudcockpit, gcore, service};
use onboard_shared::{credential::totp, edge::health, edge::web};
use onboard_test_host::kv::KvEngine;
use onboard_test_host::{App, Host, Request, Response, Variant};
use serde_json::{Value, json};

/// Requests per case and mode (wasm, native): 20, or 2 in the quick mode.
fn n() -> usize {
    if quick() { 2 } else { 20 }
}

/// `ONBOARD_BENCH_QUICK=1` (`tests/bench.sh --quick`, what CI runs): the
/// sizes, compile time and the per-route table on SQLite with 2 requests a
/// row, to show the command works; its timings are not figures.
fn quick() -> bool {
    std::env::var("ONBOARD_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}
const ADMIN_KEY: &str = "bench-admin-key";
const TOKEN_KEYS: &str = "b1:bench-token-key-0123456789";
const PASSWORD: &str = "bench-password-1";
const HOST: &str = "127.0.0.1";

type Handler = fn(&web::Request, &mut Env, &Config) -> web::Response;
type Before = Box<dyn Fn(&Host) + Send + Sync>;

/// The shared handler each component's entry point calls (its `lib.rs`).
fn handler(component: &str) -> Option<Handler> {
    Some(match component {
        "v2-sign-in" => clone::sign_in,
        "v2-sign-out" => clone::sign_out,
        "v2-create-customer" => clone::create_customer,
        "v2-user" => clone::user,
        "v2-users" => clone::users,
        "v2-organizations" => clone::organizations,
        "v2-organization" => clone::organization,
        "v2-organizations-move" => clone::move_user,
        "v2-organization-subscribe" => clone::subscribe,
        "v2-organization-unsubscribe" => clone::unsubscribe,
        "v2-organization-subscriptions" => clone::subscriptions,
        "v2-organization-subscription" => clone::subscription,
        "v2-organization-dependent-subscriptions" => clone::dependent_subscriptions,
        "v2-audit-events" => clone::audit_events,
        "v2-audit-event" => clone::audit_event,
        "v2-user-me" => clone::me,
        "v2-user-organization" => clone::current_organization,
        "v2-user-permissions" => clone::permissions,
        "v2-user-validate-token" => clone::validate_token,
        "v2-user-generate-access-token" => clone::generate_access_token,
        "v2-user-revoke-access-token" => clone::revoke_access_token,
        "v2-user-change-password" => clone::change_password,
        "v2-user-enable-two-factor" => clone::enable_2fa,
        "v2-user-verify-two-factor-installation" => clone::verify_2fa_installation,
        "v2-user-generate-recovery-codes" => clone::generate_recovery_codes,
        "v2-user-disable-two-factor" => clone::disable_2fa,
        "v2-impersonate" => clone::impersonate,
        "v2-confirmation" => clone::confirmation,
        "v2-invitation" => clone::invitation,
        "v2-password" => clone::password,
        "v2-sms-otp" => clone::sms_otp,
        "gcore-jwt-login" => gcore::login,
        "gcore-jwt-refresh" => gcore::refresh,
        "gcore-clients-me" => gcore::account_overview,
        "gcore-api-tokens" => gcore::tokens,
        "gcore-api-token" => gcore::token,
        "gcore-users" => gcore::users,
        "gcore-user" => gcore::user,
        "gcore-client-user" => gcore::client_user,
        "gcore-invite-user" => gcore::invite_user,
        "cc-oauth-token" => cloudcockpit::token,
        "cc-customers" => cloudcockpit::customers,
        "cc-customer" => cloudcockpit::customer,
        "cc-customer-users" => cloudcockpit::customer_users,
        "cc-reseller-users" => cloudcockpit::reseller_users,
        "cc-users" => cloudcockpit::users,
        "cc-user" => cloudcockpit::user,
        "cc-groups" => cloudcockpit::groups,
        "cc-customer-account-info" => cloudcockpit::account_info,
        "cc-customer-internal-identifier" => cloudcockpit::internal_identifier,
        "apiculus-login" => apiculus::login,
        "apiculus-logout" => apiculus::logout,
        "apiculus-create-new-user" => apiculus::create_new_user,
        "apiculus-sign-up-helper" => apiculus::sign_up_helper,
        "apiculus-country-list" => apiculus::country_list,
        "apiculus-state-list" => apiculus::state_list,
        "apiculus-disable-account" => apiculus::disable_account,
        "apiculus-enable-account" => apiculus::enable_account,
        "apiculus-restrict-account" => apiculus::restrict_account,
        "apiculus-terminate-account" => apiculus::terminate_account,
        "admin-tenants" => service::tenants,
        "admin-tenant" => service::tenant,
        "admin-resellers" => service::resellers,
        "admin-accounts" => service::accounts,
        "admin-account" => service::account,
        "admin-api-clients" => service::api_clients,
        "admin-api-client" => service::api_client,
        "admin-reference-data" => service::reference_data,
        "admin-outbox" => service::outbox,
        "admin-outbox-deliver" => service::outbox_deliver,
        // Natively the probe reads the same store (Spin's does one `exists`).
        "health" => {
            |req, env, _| health::handle(req, || env.kv.get("health").map(drop).map_err(|e| e.0))
        }
        "openapi" => |req, _, _| openapi::serve(req, openapi::COMMITTED),
        "not-found" => |_, _, _| web::no_such_endpoint(),
        "v2-organizations-export" => |req, env, config| match clone::start_export(req, env, config)
        {
            Ok(mut state) => {
                let mut body = Vec::new();
                while let Some(chunk) = clone::export_organizations(&mut state, env) {
                    body.extend(chunk);
                }
                web::respond(http::StatusCode::OK, "text/csv; charset=utf-8", body)
            }
            Err(response) => *response,
        },
        _ => return None,
    })
}

/// One row of the table: a route and how to make its `i`-th request
/// (requests `0..n()` go through wasm, `n()..2 * n()` natively; one-shot requests
/// get a target each).
struct Case {
    component: String,
    label: String,
    hashes: bool,
    make: Box<dyn Fn(usize) -> Request + Send + Sync>,
    /// The answer a valid request gets (2xx unless said).
    expect: Option<u16>,
    /// Run once before the case (moving the clock, say).
    before: Option<Before>,
}

fn case(
    component: &str,
    label: &str,
    hashes: bool,
    make: impl Fn(usize) -> Request + Send + Sync + 'static,
) -> Case {
    Case {
        component: component.into(),
        label: label.into(),
        hashes,
        make: Box::new(make),
        expect: None,
        before: None,
    }
}

async fn ok(host: &Host, req: Request) -> Response {
    let label = format!("{} {}", req.method, req.path_and_query);
    let r = host.send(req).await;
    assert!(
        (200..300).contains(&r.status),
        "setup {label}: {} {}\n{}",
        r.status,
        r.text(),
        r.stderr
    );
    r
}

/// A host of the app with the bench's variables, on `kv` or a SQLite file.
fn bench_host(
    app: Arc<App>,
    kv: Option<KvEngine>,
    hash_params: &str,
    webhook_origin: &str,
) -> Arc<Host> {
    let vals = [
        ("admin_key", ADMIN_KEY),
        ("token_keys", TOKEN_KEYS),
        ("password_hash_params", hash_params),
        ("webhook_origin", webhook_origin),
    ];
    match kv {
        Some(kv) => Host::on_store(app, &vals, kv).expect("host"),
        None => Host::new(app, &vals).expect("host"),
    }
}

/// Creates tenant `id` (its operator `op@<id>.test`) and signs the
/// operator in: the tenant's application key and the session header.
async fn operator_tenant(host: &Host, id: &str) -> (String, String) {
    let email = format!("op@{id}.test");
    let r = ok(
        host,
        Request::post("/admin/tenants")
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .json(&json!({"id": id, "name": id, "domains": [HOST],
                "operator": {"email": email, "password": PASSWORD}})),
    )
    .await;
    let key = s(&r.json()["application_key"]);
    let session = clone_session(host, &key, &email, PASSWORD).await;
    (key, session)
}

fn config(hash_params: &str) -> Config {
    Config::from_vars(|name| match name {
        "admin_key" => Some(ADMIN_KEY.into()),
        "token_keys" => Some(TOKEN_KEYS.into()),
        "password_hash_params" => Some(hash_params.into()),
        _ => None,
    })
}

fn id_of_location(r: &Response) -> String {
    r.header("location")
        .and_then(|l| l.rsplit('/').next())
        .unwrap_or_default()
        .to_string()
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A receiver the outbox delivers to: answers 204 to anything.
async fn webhook_receiver() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    port
}

/// Signs in through the Clone family and returns `Bearer <token>`.
async fn clone_session(host: &Host, key: &str, email: &str, password: &str) -> String {
    let r = ok(
        host,
        Request::post("/auth/sign_in")
            .header("x-api-key", key)
            .json(&json!({"username": email, "password": password})),
    )
    .await;
    format!("Bearer {}", s(&r.json()["token"]))
}

/// The tenant, its credentials and records, and one case per route.
async fn cases(host: &Host, port: u16) -> Vec<Case> {
    // The credentials live as long as the bench (closures copy them).
    let (key, session) = operator_tenant(host, "bench").await;
    let (key, session): (&'static str, &'static str) = (leak(key), leak(session));
    let r = ok(
        host,
        Request::put("/v2/user/generate_access_token").header("authorization", session),
    )
    .await;
    let basic: &'static str = leak(format!("Basic {}", s(&r.json()["token"])));
    let op = |req: Request| req.header("authorization", basic);

    // The Clone records.
    let r = ok(
        host,
        op(Request::post("/admin/resellers")).json(&json!({"name": "Reseller", "code": "CODE"})),
    )
    .await;
    let (reseller, reseller_number) =
        (s(&r.json()["id"]), r.json()["number"].as_u64().unwrap_or(0));
    let r = ok(
        host,
        op(Request::post("/v2/organizations"))
            .json(&json!({"organization": {"name": "Acme", "company_name": "Acme Ltd"}})),
    )
    .await;
    let org_a = s(&r.json()["data"]["id"]);
    let r = ok(
        host,
        op(Request::post("/v2/organizations"))
            .json(&json!({"organization": {"name": "Beta", "company_name": "Beta Ltd"}})),
    )
    .await;
    let org_b = s(&r.json()["data"]["id"]);
    let r = ok(
        host,
        op(Request::post("/v2/users/create_customer")).json(&json!({"customer": {
            "organization_id": org_a,
            "user": {"email": "member@bench.test", "first_name": "M", "password": PASSWORD,
                     "password_confirmation": PASSWORD, "confirmed": true}}})),
    )
    .await;
    let member = id_of_location(&r);
    let r = ok(
        host,
        op(Request::post(format!(
            "/v2/organizations/{org_a}/subscribe"
        )))
        .json(&json!({"plan": "vrms_plan"})),
    )
    .await;
    let sub = s(&r.json()["data"]["id"]);
    let r = ok(host, op(Request::get("/v2/audit/events"))).await;
    let event = s(&r.json()["data"][0]["id"]);
    // Organizations to subscribe and unsubscribe once each.
    let mut fresh_orgs = Vec::new();
    for i in 0..2 * n() {
        let r = ok(
            host,
            op(Request::post("/v2/organizations")).json(
                &json!({"organization": {"name": format!("Sub {i}"), "company_name": "Sub"}}),
            ),
        )
        .await;
        fresh_orgs.push(s(&r.json()["data"]["id"]));
    }
    // Sessions to end, accounts with access tokens to revoke, users for the
    // second factor.
    let mut sessions = Vec::new();
    for _ in 0..2 * n() {
        sessions.push(clone_session(host, key, "op@bench.test", PASSWORD).await);
    }
    let mut revocable = Vec::new();
    let mut two_factor = Vec::new();
    // 2 * n() users for the one-shot second-factor rows, and three more for the
    // repeatable ones (their own access token, password, installation).
    for i in 0..2 * n() + 3 {
        let email = format!("holder{i}@bench.test");
        ok(
            host,
            op(Request::post("/v2/users/create_customer")).json(&json!({"customer": {
                "organization_id": org_b,
                "user": {"email": email, "first_name": "H", "password": PASSWORD,
                         "password_confirmation": PASSWORD, "confirmed": true}}})),
        )
        .await;
        let own = clone_session(host, key, &email, PASSWORD).await;
        let r = ok(
            host,
            Request::put("/v2/user/generate_access_token").header("authorization", &own),
        )
        .await;
        revocable.push(format!("Basic {}", s(&r.json()["token"])));
        let r = ok(
            host,
            Request::put("/v2/user/enable_2fa")
                .header("authorization", &own)
                .json(&json!({"password": PASSWORD})),
        )
        .await;
        let secret = base32_decode(&s(&r.json()["secret"]));
        two_factor.push((own, secret));
    }
    let code_now = |host: &Host, secret: &[u8]| {
        totp::code(
            secret,
            totp::step(onboard_shared::base::time::millis(host.clock.now())),
        )
    };
    // Pending two-factor sign-ins (for SMS codes): one user with a phone.
    let phone_user = "phone@bench.test";
    ok(
        host,
        op(Request::post("/v2/users/create_customer")).json(&json!({"customer": {
            "organization_id": org_b,
            "user": {"email": phone_user, "first_name": "P", "mobile_phone": "+15550100",
                     "password": PASSWORD, "password_confirmation": PASSWORD, "confirmed": true}}})),
    )
    .await;
    let own = clone_session(host, key, phone_user, PASSWORD).await;
    let r = ok(
        host,
        Request::put("/v2/user/enable_2fa")
            .header("authorization", &own)
            .json(&json!({"password": PASSWORD})),
    )
    .await;
    let phone_secret = base32_decode(&s(&r.json()["secret"]));
    ok(
        host,
        Request::put("/v2/user/verify_2fa_installation")
            .header("authorization", &own)
            .json(&json!({"otp_attempt": code_now(host, &phone_secret)})),
    )
    .await;
    let mut states = Vec::new();
    for _ in 0..2 * n() {
        let r = ok(
            host,
            Request::post("/auth/sign_in")
                .header("x-api-key", key)
                .json(&json!({"username": phone_user, "password": PASSWORD})),
        )
        .await;
        states.push(s(&r.json()["otp_session_state"]));
    }
    // Account tokens, read from the outbox (no webhook yet).
    ok(
        host,
        op(Request::post("/v2/users/create_customer")).json(&json!({"customer": {
            "organization_id": org_b,
            "user": {"email": "unconfirmed@bench.test", "first_name": "U", "password": PASSWORD,
                     "password_confirmation": PASSWORD}}})),
    )
    .await;
    ok(
        host,
        op(Request::post("/v2/users/create_customer")).json(&json!({"customer": {
            "organization_id": org_b, "user": {"email": "invited@bench.test", "first_name": "I"}}})),
    )
    .await;
    let r = ok(host, op(Request::get("/admin/outbox"))).await;
    let token_of = |kind: &str| {
        r.json()["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == kind)
            .map(|m| s(&m["token"]))
            .unwrap_or_default()
    };
    let (confirmation, invitation) = (token_of("confirmation"), token_of("invitation"));
    ok(
        host,
        Request::new(http::Method::PATCH, "/admin/tenants/bench")
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .json(&json!({"webhook": {"url": format!("http://127.0.0.1:{port}/hook")}})),
    )
    .await;

    // CloudCockpit.
    let r = ok(
        host,
        op(Request::post("/admin/api-clients")).json(&json!({"name": "csp"})),
    )
    .await;
    let (client_id, client_secret) = (s(&r.json()["client_id"]), s(&r.json()["client_secret"]));
    let token_form = format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}"
    );
    let r = ok(
        host,
        Request::post("/oauth2/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(token_form.clone()),
    )
    .await;
    let cc = format!("Bearer {}", s(&r.json()["access_token"]));
    let v1 = {
        let cc = cc.clone();
        move |req: Request| req.header("authorization", &cc).header("x-tenant", HOST)
    };
    let customer_body = json!({"companyName": "Contoso", "country": "PT", "addressLine1": "Rua 1",
        "city": "Lisboa", "state": "Lisboa", "zip": "1000-001", "firstName": "Ana",
        "lastName": "Silva", "email": "ana@example.pt", "phone": "+351000000", "role": {}});
    let r = ok(
        host,
        v1(Request::post("/v1/Customers")).json(&customer_body),
    )
    .await;
    let customer = s(&r.json());
    let r = ok(
        host,
        v1(Request::post("/v1/users/groups")).json(&json!({"name": "Engineers"})),
    )
    .await;
    let group: &'static str = leak(s(&r.json()));
    ok(
        host,
        v1(Request::post(format!("/v1/customer/{customer}/users"))).json(&json!({
            "firstName": "Ana", "lastName": "Silva", "email": "portal@bench.test", "role": {},
            "groups": [{"id": group, "name": "Engineers"}]})),
    )
    .await;
    let mut api_clients = Vec::new();
    for i in 0..2 * n() {
        let r = ok(
            host,
            op(Request::post("/admin/api-clients")).json(&json!({"name": format!("c{i}")})),
        )
        .await;
        api_clients.push(s(&r.json()["client_id"]));
    }

    // Apiculus.
    let r = ok(
        host,
        Request::post("/auth/login").json(&json!({"email": "op@bench.test", "password": PASSWORD})),
    )
    .await;
    let ap: &'static str = leak(s(&r.json()["result"]["token"]));
    let ap_body = |i: usize| {
        json!({"fname": "user", "lname": "sample", "email": format!("ap{i}@bench.test"),
            "organization_name": "Indiqus", "countryCode": "91",
            "mobileNumber": format!("98765{:05}", i), "password": "UserSam@178",
            "acsRegion": "noida", "address": "xyz street", "city": "Bangalore",
            "state": "Karnataka", "country": "IN", "zipcode": 607878, "currency": "INR",
            "tax_category": "Taxable", "tax_type1": "CNPJ", "taxation_id1": "3453242343234",
            "tax_type2": "GSTIN", "taxation_id2": "1234567890", "tax_type3": "",
            "taxation_id3": "", "credit_period": 2, "credit_limit": 1000, "resellerCode": "CODE"})
    };
    let mut ap_accounts = Vec::new();
    for i in 0..2 * n() + 1 {
        let r = ok(
            host,
            Request::post("/api/pass/createNewUser")
                .header("x-access-token", ap)
                .json(&ap_body(10_000 + i)),
        )
        .await;
        ap_accounts.push(s(&r.json()["result"]["id"]));
    }
    let mut ap_sessions = Vec::new();
    for _ in 0..2 * n() {
        let r = ok(
            host,
            Request::post("/auth/login")
                .json(&json!({"email": "op@bench.test", "password": PASSWORD})),
        )
        .await;
        ap_sessions.push(s(&r.json()["result"]["token"]));
    }

    // Gcore.
    let pair = gcore_login(host).await;
    let gc: &'static str = leak(format!("Bearer {}", s(&pair["access"])));
    let mut refreshes = Vec::new();
    for _ in 0..2 * n() {
        refreshes.push(s(&gcore_login(host).await["refresh"]));
    }
    let seed_004 = move |i: usize| {
        json!({"email": format!("g{i}@bench.test"), "password": "Str0ng-password",
            "company": "Smith Ltd", "user_type": "common", "name": "John Smith",
            "phone": "+15550100", "seller": reseller_number,
            "services": [{"product_name": "CDN", "available": true}], "lang": "de",
            "custom_id": "crm-123", "country_code": "US", "is_test": true})
    };
    let r = ok(
        host,
        Request::post("/iam/users")
            .header("authorization", gc)
            .json(&seed_004(100_000)),
    )
    .await;
    let g_user = s(&r.json()["id"]);
    let g_client = s(&r.json()["client_and_roles"][0]["client_id"]);
    let r = ok(
        host,
        Request::get("/iam/clients/me").header("authorization", gc),
    )
    .await;
    let root_client = s(&r.json()["id"]);
    let r = ok(
        host,
        Request::post(format!("/iam/v2/clients/{root_client}/tokens"))
            .header("authorization", gc)
            .json(&json!({"name": "t", "exp_date": null,
                          "client_user": {"role": {"id": 2, "name": "Users"}}})),
    )
    .await;
    let g_token = s(&r.json()["id"]);
    let mut invited = Vec::new();
    for i in 0..2 * n() {
        let r = ok(
            host,
            Request::post("/iam/clients/invite_user")
                .header("authorization", gc)
                .json(&json!({"client_id": g_client.parse::<u64>().unwrap_or(0),
                    "email": format!("inv{i}@bench.test"),
                    "user_role": {"id": 2, "name": "Users"}, "name": "Ivy"})),
        )
        .await;
        invited.push(s(&r.json()["user_id"]));
    }

    let mut out = Vec::new();
    let get = |c: &str, label: &str, path: String, auth: &str| {
        let auth = auth.to_string();
        case(c, label, false, move |_| {
            Request::get(path.clone()).header("authorization", &auth)
        })
    };
    out.push(case("health", "GET /health", false, |_| {
        Request::get("/health")
    }));
    {
        out.push(case("v2-sign-in", "POST /auth/sign_in", true, move |_| {
            Request::post("/auth/sign_in")
                .header("x-api-key", key)
                .json(&json!({"username": "op@bench.test", "password": PASSWORD}))
        }));
    }
    out.push(case(
        "v2-sign-out",
        "DELETE /auth/sign_out",
        false,
        move |i| Request::delete("/auth/sign_out").header("authorization", &sessions[i]),
    ));
    {
        out.push(case(
            "v2-create-customer",
            "POST /v2/users/create_customer",
            true,
            move |i| {
                Request::post("/v2/users/create_customer")
                    .header("authorization", basic)
                    .json(
                        &json!({"customer": {"organization": {"name": format!("C{i}")},
                        "user": {"email": format!("c{i}@bench.test"), "password": PASSWORD,
                                 "password_confirmation": PASSWORD, "confirmed": true}}}),
                    )
            },
        ));
        out.push(case(
            "v2-create-customer",
            "POST /v2/users/create_customer (no password: invited)",
            false,
            {
                move |i| {
                    Request::post("/v2/users/create_customer")
                        .header("authorization", basic)
                        .json(
                            &json!({"customer": {"organization": {"name": format!("D{i}")},
                            "user": {"email": format!("d{i}@bench.test")}}}),
                        )
                }
            },
        ));
    }
    out.push(get(
        "v2-user",
        "GET /v2/users/{id}",
        format!("/v2/users/{member}"),
        basic,
    ));
    {
        let path = format!("/v2/users/{member}");
        out.push(case("v2-user", "PUT /v2/users/{id}", false, move |i| {
            Request::put(path.clone())
                .header("authorization", basic)
                .json(&json!({"user": {"first_name": format!("M{i}")}}))
        }));
    }
    out.push(get(
        "v2-users",
        "GET /v2/users?per_page=50",
        "/v2/users?per_page=50".into(),
        basic,
    ));
    out.push(get(
        "v2-organizations",
        "GET /v2/organizations",
        "/v2/organizations".into(),
        basic,
    ));
    {
        out.push(case(
            "v2-organizations",
            "POST /v2/organizations",
            false,
            move |i| {
                Request::post("/v2/organizations")
                    .header("authorization", basic)
                    .json(&json!({"organization": {"name": format!("O{i}"), "company_name": "O"}}))
            },
        ));
    }
    out.push(get(
        "v2-organization",
        "GET /v2/organizations/{id}",
        format!("/v2/organizations/{org_a}"),
        basic,
    ));
    {
        let (basic, member, a, b) = (basic, member.clone(), org_a.clone(), org_b.clone());
        out.push(case(
            "v2-organizations-move",
            "PUT /v2/organizations/move",
            false,
            move |i| {
                let to = if i % 2 == 0 { &b } else { &a };
                Request::put(format!(
                    "/v2/organizations/move?user_id={member}&organization_id={to}"
                ))
                .header("authorization", basic)
            },
        ));
    }
    {
        let (basic, orgs) = (basic, fresh_orgs.clone());
        out.push(case(
            "v2-organization-subscribe",
            "POST /v2/organizations/{id}/subscribe",
            false,
            move |i| {
                Request::post(format!("/v2/organizations/{}/subscribe", orgs[i]))
                    .header("authorization", basic)
                    .json(&json!({"plan": "vrms_plan"}))
            },
        ));
        let (basic, orgs) = (basic, fresh_orgs.clone());
        out.push(case(
            "v2-organization-unsubscribe",
            "POST /v2/organizations/{id}/unsubscribe",
            false,
            move |i| {
                Request::post(format!("/v2/organizations/{}/unsubscribe", orgs[i]))
                    .header("authorization", basic)
                    .json(&json!({"plan": "vrms_plan"}))
            },
        ));
    }
    out.push(get(
        "v2-organization-subscriptions",
        "GET /v2/organizations/{id}/subscriptions",
        format!("/v2/organizations/{org_a}/subscriptions"),
        basic,
    ));
    out.push(get(
        "v2-organization-subscription",
        "GET /v2/organizations/{id}/subscriptions/{sub_id}",
        format!("/v2/organizations/{org_a}/subscriptions/{sub}"),
        basic,
    ));
    out.push(get(
        "v2-organization-dependent-subscriptions",
        "GET /v2/organizations/{id}/dependent_subscriptions",
        format!("/v2/organizations/{reseller}/dependent_subscriptions"),
        basic,
    ));
    out.push(get(
        "v2-organizations-export",
        "GET /v2/organizations/export",
        "/v2/organizations/export".into(),
        basic,
    ));
    out.push(get(
        "v2-audit-events",
        "GET /v2/audit/events",
        "/v2/audit/events".into(),
        basic,
    ));
    out.push(get(
        "v2-audit-event",
        "GET /v2/audit/events/{id}",
        format!("/v2/audit/events/{event}"),
        basic,
    ));
    out.push(get(
        "v2-user-me",
        "GET /v2/user/me",
        "/v2/user/me".into(),
        basic,
    ));
    out.push(get(
        "v2-user-me",
        "GET /v2/user/me (session)",
        "/v2/user/me".into(),
        session,
    ));
    out.push(get(
        "v2-user-organization",
        "GET /v2/user/organization",
        "/v2/user/organization".into(),
        basic,
    ));
    out.push(get(
        "v2-user-permissions",
        "GET /v2/user/permissions",
        "/v2/user/permissions?permissions=ADMIN_ACCESS".into(),
        basic,
    ));
    out.push(get(
        "v2-user-validate-token",
        "GET /v2/user/validate_token",
        "/v2/user/validate_token".into(),
        basic,
    ));
    {
        let own = two_factor[2 * n()].0.clone();
        out.push(case(
            "v2-user-generate-access-token",
            "PUT /v2/user/generate_access_token",
            false,
            move |_| Request::put("/v2/user/generate_access_token").header("authorization", &own),
        ));
    }
    {
        let revocable = revocable.clone();
        out.push(case(
            "v2-user-revoke-access-token",
            "PUT /v2/user/revoke_access_token",
            false,
            move |i| {
                Request::put("/v2/user/revoke_access_token").header("authorization", &revocable[i])
            },
        ));
    }
    {
        let own = two_factor[2 * n() + 1].0.clone();
        out.push(case("v2-user-change-password", "PUT /v2/user/change_password", true, move |i| {
            let (from, to) = if i % 2 == 0 { (PASSWORD, "bench-password-2") } else { ("bench-password-2", PASSWORD) };
            Request::put("/v2/user/change_password")
                .header("authorization", &own)
                .json(&json!({"user": {"current_password": from, "password": to, "password_confirmation": to}}))
        }));
    }
    {
        let own = two_factor[2 * n() + 2].0.clone();
        out.push(case(
            "v2-user-enable-two-factor",
            "PUT /v2/user/enable_2fa",
            true,
            move |_| {
                Request::put("/v2/user/enable_2fa")
                    .header("authorization", &own)
                    .json(&json!({"password": PASSWORD}))
            },
        ));
    }
    // The second factor, one user per request; the clock moves a step
    // between cases so each code is fresh.
    let tf = Arc::new(two_factor);
    for action in [
        "verify_2fa_installation",
        "generate_recovery_codes",
        "disable_2fa",
    ] {
        let tf = tf.clone();
        let path = format!("/v2/user/{action}");
        let mut c = case(
            &format!("v2-user-{}", action.replace('_', "-")),
            &format!("PUT {path}"),
            false,
            move |i| {
                let (own, secret) = &tf[i];
                Request::put(path.clone())
                    .header("authorization", own)
                    .header("x-bench-secret", totp::base32(secret))
            },
        );
        c.before = Some(Box::new(|host: &Host| {
            host.clock.advance(Duration::from_secs(30))
        }));
        out.push(c);
    }
    {
        let (session, member) = (session, member.clone());
        out.push(case(
            "v2-impersonate",
            "POST /auth/impersonate?uuid=",
            false,
            move |_| {
                Request::post(format!("/auth/impersonate?uuid={member}"))
                    .header("authorization", session)
            },
        ));
    }
    {
        out.push(case(
            "v2-confirmation",
            "GET /auth/confirmation?confirmation_token=",
            false,
            move |_| {
                Request::get(format!(
                    "/auth/confirmation?confirmation_token={confirmation}"
                ))
                .header("x-api-key", key)
            },
        ));
        out.push(case(
            "v2-invitation",
            "GET /auth/invitation?invitation_token=",
            false,
            move |_| {
                Request::get(format!("/auth/invitation?invitation_token={invitation}"))
                    .header("x-api-key", key)
            },
        ));
        out.push(case(
            "v2-password",
            "POST /auth/password",
            false,
            move |i| {
                let from: std::net::SocketAddr = format!("10.9.{}.{}:5000", i / 250, i % 250 + 1)
                    .parse()
                    .unwrap();
                Request::post("/auth/password")
                    .header("x-api-key", key)
                    .json(&json!({"email": "member@bench.test"}))
                    .from_addr(from)
            },
        ));
        out.push(case("v2-sms-otp", "POST /auth/sms_otp", false, move |i| {
            Request::post("/auth/sms_otp")
                .header("x-api-key", key)
                .json(&json!({"otp_session_state": states[i]}))
        }));
    }
    out.push(case(
        "admin-outbox-deliver",
        "POST /admin/outbox/deliver",
        false,
        move |_| Request::post("/admin/outbox/deliver").header("authorization", basic),
    ));
    out.push(get(
        "admin-outbox",
        "GET /admin/outbox",
        "/admin/outbox".into(),
        basic,
    ));
    out.push(case("admin-tenants", "POST /admin/tenants", true, |i| {
        Request::post("/admin/tenants")
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .json(
                &json!({"id": format!("t{i}"), "name": "T", "domains": [format!("t{i}.bench.test")],
                "operator": {"email": format!("op{i}@bench.test"), "password": PASSWORD}}),
            )
    }));
    out.push(get(
        "admin-tenant",
        "GET /admin/tenants/{id}",
        "/admin/tenants/bench".into(),
        &format!("Bearer {ADMIN_KEY}"),
    ));
    {
        out.push(case(
            "admin-resellers",
            "POST /admin/resellers",
            false,
            move |i| {
                Request::post("/admin/resellers")
                    .header("authorization", basic)
                    .json(&json!({"name": format!("R{i}"), "code": format!("R{i}")}))
            },
        ));
        let (basic, org) = (basic, org_a.clone());
        out.push(case(
            "admin-accounts",
            "POST /admin/accounts",
            true,
            move |i| {
                Request::post("/admin/accounts")
                    .header("authorization", basic)
                    .json(
                        &json!({"email": format!("acct{i}@bench.test"), "password": PASSWORD,
                              "role": "user", "organization_id": org}),
                    )
            },
        ));
        let (basic, id) = (basic, member.clone());
        out.push(case(
            "admin-account",
            "PATCH /admin/accounts/{id}",
            false,
            move |_| {
                Request::new(http::Method::PATCH, format!("/admin/accounts/{id}"))
                    .header("authorization", basic)
                    .json(&json!({"status": "active"}))
            },
        ));
        let basic2 = basic;
        out.push(case(
            "admin-api-clients",
            "POST /admin/api-clients",
            false,
            move |i| {
                Request::post("/admin/api-clients")
                    .header("authorization", basic2)
                    .json(&json!({"name": format!("k{i}")}))
            },
        ));
        let basic2 = basic;
        out.push(case(
            "admin-api-client",
            "DELETE /admin/api-clients/{id}",
            false,
            move |i| {
                Request::delete(format!("/admin/api-clients/{}", api_clients[i]))
                    .header("authorization", basic2)
            },
        ));
    }
    out.push(get(
        "admin-reference-data",
        "GET /admin/reference-data",
        "/admin/reference-data".into(),
        basic,
    ));
    out.push(case("openapi", "GET /openapi.json", false, |_| {
        Request::get("/openapi.json")
    }));
    let mut fallback = case("not-found", "GET /nothing-here (404)", false, |_| {
        Request::get("/nothing-here")
    });
    fallback.expect = Some(404);
    out.push(fallback);

    // CloudCockpit rows.
    out.push(case(
        "cc-oauth-token",
        "POST /oauth2/token",
        false,
        move |_| {
            Request::post("/oauth2/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(token_form.clone())
        },
    ));
    {
        let v = v1.clone();
        out.push(case(
            "cc-customers",
            "GET /v1/Customers",
            false,
            move |_| v(Request::get("/v1/Customers")),
        ));
        let v = v1.clone();
        let body = customer_body.clone();
        out.push(case(
            "cc-customers",
            "POST /v1/Customers",
            false,
            move |i| {
                let mut b = body.clone();
                b["companyName"] = json!(format!("Contoso {i}"));
                v(Request::post("/v1/Customers")).json(&b)
            },
        ));
        let (v, c) = (v1.clone(), customer.clone());
        out.push(case(
            "cc-customer",
            "GET /v1/Customers/{customerId}",
            false,
            move |_| v(Request::get(format!("/v1/Customers/{c}"))),
        ));
        let (v, c) = (v1.clone(), customer.clone());
        out.push(case(
            "cc-customer-users",
            "GET /v1/customer/{customerId}/users",
            false,
            move |_| v(Request::get(format!("/v1/customer/{c}/users"))),
        ));
        let (v, c) = (v1.clone(), customer.clone());
        out.push(case("cc-customer-users", "POST /v1/customer/{customerId}/users (seed 001)", false, move |i| {
            v(Request::post(format!("/v1/customer/{c}/users")))
                .json(&json!({"firstName": "Ana", "lastName": "Silva", "email": format!("p{i}@bench.test"), "role": {}, "groups": [{"id": group, "name": "Engineers"}]}))
        }));
        let (v, r) = (v1.clone(), reseller.clone());
        out.push(case("cc-reseller-users", "POST /v1/reseller/{resellerId}/users", false, move |i| {
            v(Request::post(format!("/v1/reseller/{r}/users")))
                .json(&json!({"firstName": "Rui", "lastName": "Silva", "email": format!("rp{i}@bench.test"), "role": {}, "groups": [{"id": group, "name": "Engineers"}]}))
        }));
        let v = v1.clone();
        out.push(case("cc-users", "GET /v1", false, move |_| {
            v(Request::get("/v1"))
        }));
        let v = v1.clone();
        out.push(case(
            "cc-user",
            "PATCH /v1/users/{email}",
            false,
            move |i| {
                v(Request::new(
                    http::Method::PATCH,
                    "/v1/users/portal@bench.test",
                ))
                .json(&json!({"firstName": format!("Ana{i}")}))
            },
        ));
        let v = v1.clone();
        out.push(case(
            "cc-groups",
            "GET /v1/users/groups",
            false,
            move |_| v(Request::get("/v1/users/groups")),
        ));
        let (v, c, body) = (v1.clone(), customer.clone(), customer_body.clone());
        out.push(case("cc-customer-account-info", "PATCH /v1/Customers/{customerId}/account-info", false, move |_| {
            v(Request::new(http::Method::PATCH, format!("/v1/Customers/{c}/account-info")))
                .json(&json!({"customer": body, "retryFailedProviderCustomersFromCompanyInfo": false}))
        }));
        let (v, c) = (v1.clone(), customer.clone());
        out.push(case(
            "cc-customer-internal-identifier",
            "PATCH /v1/Customers/{customerId}/internal-identifier",
            false,
            move |i| {
                v(Request::new(
                    http::Method::PATCH,
                    format!("/v1/Customers/{c}/internal-identifier"),
                ))
                .json(&json!({"internalIdentifier": format!("crm-{i}")}))
            },
        ));
    }

    // Apiculus rows.
    out.push(case("apiculus-login", "POST /auth/login", true, |_| {
        Request::post("/auth/login").json(&json!({"email": "op@bench.test", "password": PASSWORD}))
    }));
    out.push(case(
        "apiculus-logout",
        "POST /auth/logout",
        false,
        move |i| Request::post("/auth/logout").header("x-access-token", &ap_sessions[i]),
    ));
    {
        let ap2 = ap;
        out.push(case(
            "apiculus-create-new-user",
            "POST /api/pass/createNewUser (seed 003)",
            true,
            move |i| {
                Request::post("/api/pass/createNewUser")
                    .header("x-access-token", ap2)
                    .json(&ap_body(i))
            },
        ));
        let ap2 = ap;
        out.push(case(
            "apiculus-sign-up-helper",
            "GET /api/pass/signUpHelper",
            false,
            move |_| Request::get("/api/pass/signUpHelper").header("x-access-token", ap2),
        ));
        out.push(case(
            "apiculus-country-list",
            "GET /api/v1/countryList",
            false,
            |_| Request::get("/api/v1/countryList"),
        ));
        out.push(case(
            "apiculus-state-list",
            "GET /api/v1/stateList?code=IN",
            false,
            |_| Request::get("/api/v1/stateList?code=IN"),
        ));
        let accounts = Arc::new(ap_accounts);
        for (component, verb) in [
            ("apiculus-restrict-account", "restrict"),
            ("apiculus-disable-account", "disable"),
            ("apiculus-enable-account", "enable"),
        ] {
            let (ap2, target) = (ap, accounts[2 * n()].clone());
            out.push(case(
                component,
                &format!("PUT /api/v1/serv_{verb}UserAccount/{{id}}?manual=true"),
                false,
                move |_| {
                    Request::put(format!(
                        "/api/v1/serv_{verb}UserAccount/{target}?manual=true"
                    ))
                    .header("x-access-token", ap2)
                },
            ));
        }
        let (ap2, accounts) = (ap, accounts.clone());
        out.push(case(
            "apiculus-terminate-account",
            "PUT /api/v1/serv_terminateUserAccount/{id}?manual=true",
            false,
            move |i| {
                Request::put(format!(
                    "/api/v1/serv_terminateUserAccount/{}?manual=true",
                    accounts[i]
                ))
                .header("x-access-token", ap2)
            },
        ));
    }

    // Gcore rows.
    out.push(case(
        "gcore-jwt-login",
        "POST /iam/auth/jwt/login",
        true,
        |_| {
            Request::post("/iam/auth/jwt/login")
                .json(&json!({"username": "op@bench.test", "password": PASSWORD}))
        },
    ));
    out.push(case(
        "gcore-jwt-refresh",
        "POST /iam/auth/jwt/refresh",
        false,
        move |i| Request::post("/iam/auth/jwt/refresh").json(&json!({"refresh": refreshes[i]})),
    ));
    out.push(get(
        "gcore-clients-me",
        "GET /iam/clients/me",
        "/iam/clients/me".into(),
        gc,
    ));
    out.push(get(
        "gcore-api-tokens",
        "GET /iam/v2/clients/{clientId}/tokens",
        format!("/iam/v2/clients/{root_client}/tokens"),
        gc,
    ));
    out.push(get(
        "gcore-api-token",
        "GET /iam/v2/clients/{clientId}/tokens/{tokenId}",
        format!("/iam/v2/clients/{root_client}/tokens/{g_token}"),
        gc,
    ));
    {
        let gc2 = gc;
        out.push(case(
            "gcore-users",
            "POST /iam/users (seed 004)",
            true,
            move |i| {
                Request::post("/iam/users")
                    .header("authorization", gc2)
                    .json(&seed_004(i))
            },
        ));
    }
    out.push(get(
        "gcore-users",
        "GET /iam/users",
        "/iam/users".into(),
        gc,
    ));
    out.push(get(
        "gcore-user",
        "GET /iam/users/{userId}",
        format!("/iam/users/{g_user}"),
        gc,
    ));
    {
        let (gc2, client) = (gc, g_client.clone());
        out.push(case("gcore-invite-user", "POST /iam/clients/invite_user", false, move |i| {
            Request::post("/iam/clients/invite_user")
                .header("authorization", gc2)
                .json(&json!({"client_id": client.parse::<u64>().unwrap_or(0),
                    "email": format!("iv{i}@bench.test"), "user_role": {"id": 2, "name": "Users"}, "name": "Ivy"}))
        }));
        let (gc2, client) = (gc, g_client.clone());
        out.push(case(
            "gcore-client-user",
            "DELETE /iam/clients/{clientId}/client-users/{userId}",
            false,
            move |i| {
                Request::delete(format!("/iam/clients/{client}/client-users/{}", invited[i]))
                    .header("authorization", gc2)
                    .header("accept", "*/*")
            },
        ));
    }
    out
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

async fn gcore_login(host: &Host) -> Value {
    ok(
        host,
        Request::post("/iam/auth/jwt/login")
            .json(&json!({"username": "op@bench.test", "password": PASSWORD})),
    )
    .await
    .json()
}

/// RFC 4648 base32, as an authenticator app reads the secret.
fn base32_decode(text: &str) -> Vec<u8> {
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => continue,
        } as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// A request whose second factor is computed now: the bench marks such
/// requests with the secret, and the code goes in at send time.
fn with_code(host: &Host, mut req: Request) -> Request {
    let Some(pos) = req.headers.iter().position(|(n, _)| n == "x-bench-secret") else {
        return req;
    };
    let (_, secret) = req.headers.remove(pos);
    let secret = base32_decode(std::str::from_utf8(&secret).unwrap_or_default());
    let code = totp::code(
        &secret,
        totp::step(onboard_shared::base::time::millis(host.clock.now())),
    );
    req.json(&json!({"otp_attempt": code}))
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i.min(samples.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// What a row measured.
struct Row {
    component: String,
    label: String,
    hashes: bool,
    wasm_p50: Duration,
    wasm_p99: Duration,
    native_p50: Option<Duration>,
    kv: u64,
    failures: Vec<String>,
}

fn expected(case: &Case, status: u16) -> bool {
    match case.expect {
        Some(e) => status == e,
        None => (200..300).contains(&status),
    }
}

async fn run_case(host: &Host, config: &Config, case: &Case) -> Row {
    if let Some(before) = &case.before {
        before(host);
    }
    let mut wasm = Vec::new();
    let mut failures = Vec::new();
    let mut kv = 0;
    for i in 0..n() {
        let req = with_code(host, (case.make)(i));
        let t = Instant::now();
        let r = host.send(req).await;
        wasm.push(t.elapsed());
        kv = r.kv.total();
        if !expected(case, r.status) && failures.is_empty() {
            failures.push(format!(
                "wasm {}: {}",
                r.status,
                r.text().chars().take(160).collect::<String>()
            ));
        }
    }
    if let Some(before) = &case.before {
        before(host);
    }
    let native = match handler(&case.component) {
        Some(h) => {
            let mut times = Vec::new();
            for i in n()..2 * n() {
                let req = with_code(host, (case.make)(i));
                let Some((_, mut request)) = host.native_request(&req) else {
                    break;
                };
                *request.uri_mut() = req.path_and_query.parse().unwrap();
                let t = Instant::now();
                let status = host.with_env(|env| {
                    env.correlation = web::correlation_id(&request);
                    h(&request, env, config).status().as_u16()
                });
                times.push(t.elapsed());
                if !expected(case, status) && failures.len() < 2 {
                    failures.push(format!("native {status}"));
                }
            }
            (!times.is_empty()).then(|| percentile(&mut times, 0.5))
        }
        None => None,
    };
    Row {
        component: case.component.clone(),
        label: case.label.clone(),
        hashes: case.hashes,
        wasm_p50: percentile(&mut wasm, 0.5),
        wasm_p99: percentile(&mut wasm, 0.99),
        native_p50: native,
        kv,
        failures,
    }
}

fn print_table(provider: &str, rows: &[Row]) {
    println!(
        "\n## Per route ({provider}; {} requests each through wasm and natively)\n",
        n()
    );
    println!(
        "| component | request | wasm p50 ms | wasm p99 ms | native p50 ms | wasm/native | kv calls | targets |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut misses = 0;
    for r in rows {
        let ratio = r
            .native_p50
            .map(|n| r.wasm_p50.as_secs_f64() / n.as_secs_f64().max(1e-9));
        let mut verdict = Vec::new();
        if !r.hashes {
            if let Some(x) = ratio {
                verdict.push(if x <= 3.0 {
                    "ratio ok".to_string()
                } else {
                    format!("ratio MISS ({x:.1} > 3)")
                });
            }
            let read = r.label.starts_with("GET");
            let create = r.label.starts_with("POST");
            let p50 = r.wasm_p50.as_secs_f64() * 1000.0;
            if read {
                verdict.push(if p50 < 1.0 {
                    "read < 1 ms ok".into()
                } else {
                    "read < 1 ms MISS".into()
                });
            } else if create {
                verdict.push(if p50 < 2.0 {
                    "create < 2 ms ok".into()
                } else {
                    "create < 2 ms MISS".into()
                });
            }
        } else {
            verdict.push("hashes a password".into());
        }
        if !r.failures.is_empty() {
            verdict.push(format!("NOT 2xx: {}", r.failures.join("; ")));
        }
        misses += verdict.iter().filter(|v| v.contains("MISS")).count();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.component,
            r.label,
            ms(r.wasm_p50),
            ms(r.wasm_p99),
            r.native_p50.map(ms).unwrap_or_else(|| "-".into()),
            ratio
                .map(|x| format!("{x:.1}"))
                .unwrap_or_else(|| "-".into()),
            r.kv,
            verdict.join(", ")
        );
    }
    println!("\n{misses} target misses in {} rows", rows.len());
}

async fn table(app: Arc<App>, kv: Option<KvEngine>, provider: &str) -> (Arc<Host>, Vec<Row>) {
    let port = webhook_receiver().await;
    let host = bench_host(app, kv, "", &format!("http://127.0.0.1:{port}"));
    let started = Instant::now();
    let cases = cases(&host, port).await;
    eprintln!("bench: {provider}: setup {:.1?}", started.elapsed());
    let config = config("");
    let mut rows = Vec::new();
    for c in &cases {
        rows.push(run_case(&host, &config, c).await);
    }
    // Every route has a row.
    let covered: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.component.as_str()).collect();
    let missing: Vec<&String> = host
        .app
        .manifest
        .component
        .keys()
        .filter(|c| !covered.contains(c.as_str()))
        .collect();
    print_table(provider, &rows);
    if !missing.is_empty() {
        println!("routes without a row: {missing:?}");
    }
    (host, rows)
}

/// The hashing endpoints with argon2id at a token cost: what is left of
/// their time is everything but the hash.
async fn hash_share(app: Arc<App>, prod: &[Row]) {
    let port = webhook_receiver().await;
    let host = bench_host(
        app,
        None,
        "m=8,t=1,p=1",
        &format!("http://127.0.0.1:{port}"),
    );
    let cases = cases(&host, port).await;
    let config = config("m=8,t=1,p=1");
    println!("\n## Password hashing (argon2id m=19456,t=2,p=1 in production)\n");
    println!("| request | wasm p50 ms (production) | wasm p50 ms (m=8,t=1) | share of the hash |");
    println!("|---|---|---|---|");
    for c in cases.iter().filter(|c| c.hashes) {
        let cheap = run_case(&host, &config, c).await;
        if let Some(p) = prod.iter().find(|r| r.label == c.label) {
            let share = 1.0 - cheap.wasm_p50.as_secs_f64() / p.wasm_p50.as_secs_f64();
            println!(
                "| {} | {} | {} | {:.0}% |",
                c.label,
                ms(p.wasm_p50),
                ms(cheap.wasm_p50),
                share * 100.0
            );
        }
    }
}

/// Sign-in and create_customer with the wasm built without `+simd128`: the
/// shipped build has it (`.cargo/config.toml`), this variant turns it off.
async fn simd(prod: &[Row]) {
    const ONLY: &[&str] = &["v2-sign-in", "v2-create-customer", "admin-tenants"];
    let app = match App::main_variant(Variant {
        name: "no-simd128",
        rustflags: Some("-C target-feature=-simd128"),
        only: Some(ONLY),
    }) {
        Ok(app) => app,
        Err(e) => {
            println!("\n(the build without simd128 failed: {e:#})");
            return;
        }
    };
    let host = bench_host(app, None, "", "https://webhooks.invalid");
    let (key, token) = operator_tenant(&host, "bench").await;
    let mut sign_in = Vec::new();
    let mut create = Vec::new();
    for i in 0..n() {
        let t = Instant::now();
        clone_session(&host, &key, "op@bench.test", PASSWORD).await;
        sign_in.push(t.elapsed());
        let t = Instant::now();
        ok(
            &host,
            Request::post("/v2/users/create_customer")
                .header("authorization", &token)
                .json(
                    &json!({"customer": {"organization": {"name": format!("C{i}")},
                    "user": {"email": format!("c{i}@bench.test"), "password": PASSWORD,
                             "password_confirmation": PASSWORD, "confirmed": true}}}),
                ),
        )
        .await;
        create.push(t.elapsed());
    }
    println!("\n## argon2id in wasm with and without +simd128 (production parameters)\n");
    println!("| request | +simd128 (shipped) p50 ms | without simd128 p50 ms |");
    println!("|---|---|---|");
    for (label, samples) in [
        ("POST /auth/sign_in", &mut sign_in),
        ("POST /v2/users/create_customer", &mut create),
    ] {
        let shipped = prod
            .iter()
            .find(|r| r.label == label)
            .map(|r| ms(r.wasm_p50))
            .unwrap_or_default();
        println!("| {label} | {shipped} | {} |", ms(percentile(samples, 0.5)));
    }
}

/// Requests a second with `inflight` requests at once, for about a second.
async fn throughput(host: &Arc<Host>, auth: &str) {
    println!(
        "\n## Throughput on this machine ({} cores): GET /v2/user/me\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("| in flight | requests/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    for inflight in [1usize, 8, 64] {
        let deadline = Instant::now() + Duration::from_secs(2);
        let tasks: Vec<_> = (0..inflight)
            .map(|_| {
                let host = host.clone();
                let auth = auth.to_string();
                tokio::spawn(async move {
                    let mut times = Vec::new();
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let r = host
                            .send(Request::get("/v2/user/me").header("authorization", &auth))
                            .await;
                        assert_eq!(r.status, 200);
                        times.push(t.elapsed());
                    }
                    times
                })
            })
            .collect();
        let started = Instant::now();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let rate = all.len() as f64 / started.elapsed().as_secs_f64();
        println!(
            "| {inflight} | {rate:.0} | {} | {} |",
            ms(percentile(&mut all, 0.5)),
            ms(percentile(&mut all, 0.99))
        );
    }
}

/// Create, read and list in tenants of growing size; the users are made
/// natively through the same shared code the components run.
/// Outbox delivery with 10,000 messages queued: delivery passes through the
/// wasm component, each POSTing every message it sends to a loopback
/// receiver, back to back until nothing is left.
async fn outbox_throughput(app: Arc<App>) {
    const QUEUED: usize = 10_000;
    let port = webhook_receiver().await;
    let host = bench_host(
        app,
        None,
        "m=8,t=1,p=1",
        &format!("http://127.0.0.1:{port}"),
    );
    operator_tenant(&host, "ob").await;
    let admin = |req: Request| {
        req.header("authorization", format!("Bearer {ADMIN_KEY}"))
            .header("x-tenant", HOST)
    };
    ok(
        &host,
        admin(Request::new(http::Method::PATCH, "/admin/tenants/ob"))
            .json(&json!({"webhook": {"url": format!("http://127.0.0.1:{port}/hook")}})),
    )
    .await;
    let queued = Instant::now();
    host.with_env(|env| {
        use onboard_shared::idm::account_tokens::{AccountToken, Purpose};
        for i in 0..QUEUED {
            let id = uuid::Uuid::from_u128(0xb0b0_0000 + i as u128);
            let token = AccountToken {
                id,
                purpose: Purpose::Invitation,
                user: uuid::Uuid::from_u128(1),
                organization: uuid::Uuid::from_u128(2),
                email: format!("u{i}@ob.test"),
                created_at: env.now,
                expires_at: env.now + 86_400_000,
                used_at: None,
                queued: None,
            };
            onboard_shared::be::storage::write(
                env.kv,
                &format!("t/ob/account-token/{id}"),
                "bench",
                &token,
            )
            .unwrap();
            onboard_shared::idm::outbox::queue(
                env,
                "ob",
                "invitation",
                &token.email,
                id,
                token.user,
                token.organization,
            )
            .unwrap();
        }
    });
    let queue_time = queued.elapsed();
    println!("\n## Outbox delivery ({QUEUED} messages queued, loopback receiver)\n");
    println!("| pass | sent | delivered | pending after | ms |");
    println!("|---|---|---|---|---|");
    let started = Instant::now();
    let mut delivered = 0;
    let mut passes = 0;
    for pass in 1..=400 {
        passes = pass;
        let t = Instant::now();
        let r = ok(&host, admin(Request::post("/admin/outbox/deliver"))).await;
        let body = r.json();
        delivered += body["delivered"].as_u64().unwrap_or(0);
        println!(
            "| {pass} | {} | {} | {} | {} |",
            body["attempted"],
            body["delivered"],
            body["pending"],
            t.elapsed().as_millis()
        );
        if body["pending"] == 0 {
            break;
        }
    }
    let took = started.elapsed();
    println!(
        "\n{delivered} delivered in {passes} passes, {took:.1?} ({:.0} a pass; {:.0} messages a minute back to back; \
         a pass sends at most {}, stops at 20 s, and keeps within Spin's 256 compare-and-swap slots); \
         queueing them took {queue_time:.1?}",
        delivered as f64 / passes.max(1) as f64,
        delivered as f64 / took.as_secs_f64() * 60.0,
        onboard_shared::idm::outbox::SEND
    );
}

/// Records that only grew before expiries (forgot-password requests and
/// counters, sign-in throttles, reset tokens and their messages) return the
/// store to its size once past their expiry and swept.
async fn sweep_baseline(app: Arc<App>) {
    const CLIENTS: usize = 1_000;
    let host = bench_host(app, None, "m=8,t=1,p=1", "https://webhooks.invalid");
    let (key, _) = operator_tenant(&host, "sw").await;
    let admin = |req: Request| {
        req.header("authorization", format!("Bearer {ADMIN_KEY}"))
            .header("x-tenant", HOST)
    };
    let traffic = |i: usize, email: String| {
        let host = host.clone();
        let key = key.clone();
        async move {
            let from: std::net::SocketAddr =
                format!("10.{}.{}.{}:4000", i / 65_536 % 256, i / 256 % 256, i % 256)
                    .parse()
                    .unwrap();
            let forgot = Request::post("/auth/password")
                .header("x-api-key", &key)
                .json(&json!({"email": email}))
                .from_addr(from);
            assert_eq!(host.send(forgot).await.status, 200);
            let sign_in = Request::post("/auth/sign_in")
                .header("x-api-key", &key)
                .json(&json!({"username": format!("nobody{i}@sw.test"), "password": "x"}))
                .from_addr(from);
            assert_eq!(host.send(sign_in).await.status, 401);
        }
    };
    let sweep_all = || {
        let host = host.clone();
        async move {
            let (mut passes, mut deleted) = (0, 0);
            loop {
                let r = ok(&host, admin(Request::post("/admin/sweep"))).await;
                passes += 1;
                deleted += r.json()["deleted"].as_u64().unwrap_or(0);
                if r.json()["more"] == false {
                    return (passes, deleted);
                }
            }
        }
    };
    // What a tenant makes once (counters) exists before the baseline.
    traffic(CLIENTS, "op@sw.test".into()).await;
    ok(&host, admin(Request::get("/admin/outbox"))).await;
    host.clock.advance(Duration::from_secs(9 * 24 * 3600));
    sweep_all().await;
    let before: std::collections::BTreeSet<String> = host
        .kv
        .dump("default")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let baseline = before.len();
    let started = Instant::now();
    for i in 0..CLIENTS {
        // Every tenth asks for a real account: a reset token and its message.
        let email = if i % 10 == 0 {
            "op@sw.test".to_string()
        } else {
            format!("nobody{i}@sw.test")
        };
        traffic(i, email).await;
        if i % 100 == 99 {
            // The scheduler's pass resolves the waiting requests.
            ok(&host, admin(Request::get("/admin/outbox"))).await;
        }
    }
    let made = started.elapsed();
    let grown = host.kv.dump("default").len();
    host.clock.advance(Duration::from_secs(9 * 24 * 3600));
    let started = Instant::now();
    let (passes, deleted) = sweep_all().await;
    let swept = started.elapsed();
    let now: Vec<String> = host
        .kv
        .dump("default")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let after = now.len();
    // The audit log is kept by design (the operator's outbox reads are
    // audited): counted apart.
    let (audit, left): (Vec<String>, Vec<String>) = now
        .into_iter()
        .filter(|k| !before.contains(k))
        .partition(|k| k.contains("/audit/"));
    println!(
        "\n## Sweep: {CLIENTS} client addresses' forgot-password and failed sign-in traffic\n"
    );
    println!(
        "| keys at baseline | after the traffic | after the sweep | sweep requests | deleted | sweep took |"
    );
    println!("|---|---|---|---|---|---|");
    println!("| {baseline} | {grown} | {after} | {passes} | {deleted} | {swept:.1?} |");
    println!(
        "\nback to the baseline but for {} audit events: {} (the traffic took {made:.1?})",
        audit.len(),
        if left.is_empty() {
            "yes"
        } else {
            "NO (missed)"
        }
    );
    for k in left.iter().take(20) {
        println!("- left: {k}");
    }
}

async fn growth(app: Arc<App>) {
    let tiers: Vec<usize> = std::env::var("ONBOARD_BENCH_USERS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    println!("\n## Growth: one tenant holding n users (argon2id m=8,t=1)\n");
    println!(
        "| users | create p50 ms | create kv | read by id p50 ms | read kv | list page of 50 p50 ms | list kv | SCIM userName eq p50 ms | kv | SCIM create p50 ms | kv | seeded in |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let host = bench_host(app, None, "m=8,t=1,p=1", "https://webhooks.invalid");
    let (_, auth) = operator_tenant(&host, "grow").await;
    let r = ok(
        &host,
        Request::post("/v2/organizations")
            .header("authorization", &auth)
            .json(&json!({"organization": {"name": "Big", "company_name": "Big"}})),
    )
    .await;
    let org: uuid::Uuid = s(&r.json()["data"]["id"]).parse().unwrap();
    // A SCIM connection for that organization: what an identity provider
    // sends before each create (`userName eq`), and the create.
    let r = ok(
        &host,
        Request::post("/admin/scim-connections")
            .header("authorization", &auth)
            .json(&json!({"organization_id": org, "name": "bench"})),
    )
    .await;
    let scim = format!("Bearer {}", s(&r.json()["token"]));
    let config = config("m=8,t=1,p=1");
    let operator = onboard_shared::credential::auth::Caller::operator_of(
        "grow",
        onboard_shared::be::storage::Actor {
            kind: "bench".into(),
            id: "seed".into(),
        },
    );
    let mut seeded = 0usize;
    let mut last_user = String::new();
    for tier in tiers {
        let started = Instant::now();
        host.with_env(|env| {
            while seeded < tier {
                let input = onboard_shared::idm::provision::NewCustomer {
                    organization_id: Some(org),
                    user: onboard_shared::idm::provision::NewUser {
                        email: format!("u{seeded}@grow.test"),
                        confirmed: true,
                        password: Some(PASSWORD.into()),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                let op = onboard_shared::idm::provision::OpId::fresh(env, format!("seed/{seeded}"));
                let created = onboard_shared::idm::provision::create_customer(
                    env,
                    &operator,
                    &input,
                    &op,
                    config.hash_params(),
                    None,
                )
                .expect("seed a user");
                last_user = created.user.id.to_string();
                seeded += 1;
            }
        });
        let seed_time = started.elapsed();
        let mut create = Vec::new();
        let mut create_kv = 0;
        for i in 0..n() {
            let t = Instant::now();
            let r = ok(
                &host,
                Request::post("/v2/users/create_customer")
                    .header("authorization", &auth)
                    .json(&json!({"customer": {"organization_id": org,
                        "user": {"email": format!("new{tier}-{i}@grow.test"), "password": PASSWORD,
                                 "password_confirmation": PASSWORD, "confirmed": true}}})),
            )
            .await;
            create.push(t.elapsed());
            create_kv = r.kv.total();
        }
        let timed = |path: String, auth: String| {
            let host = host.clone();
            async move {
                let mut times = Vec::new();
                let mut kv = 0;
                for _ in 0..n() {
                    let t = Instant::now();
                    let r = ok(
                        &host,
                        Request::get(path.clone()).header("authorization", &auth),
                    )
                    .await;
                    times.push(t.elapsed());
                    kv = r.kv.total();
                }
                (percentile(&mut times, 0.5), kv)
            }
        };
        let (read, read_kv) = timed(format!("/v2/users/{last_user}"), auth.clone()).await;
        let (list, list_kv) = timed("/v2/users?per_page=50".into(), auth.clone()).await;
        let (by_name, by_name_kv) = timed(
            format!(
                "/scim/v2/Users?filter=userName%20eq%20%22u{}%40grow.test%22",
                tier / 2
            ),
            scim.clone(),
        )
        .await;
        let mut scim_create = Vec::new();
        let mut scim_create_kv = 0;
        for i in 0..n() {
            let t = Instant::now();
            let r = ok(
                &host,
                Request::post("/scim/v2/Users")
                    .header("authorization", &scim)
                    .json(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("scim{tier}-{i}@grow.test"), "externalId": format!("e{tier}-{i}")})),
            )
            .await;
            scim_create.push(t.elapsed());
            scim_create_kv = r.kv.total();
        }
        println!(
            "| {tier} | {} | {create_kv} | {} | {read_kv} | {} | {list_kv} | {} | {by_name_kv} | {} | {scim_create_kv} | {:.1?} |",
            ms(percentile(&mut create, 0.5)),
            ms(read),
            ms(list),
            ms(by_name),
            ms(percentile(&mut scim_create, 0.5)),
            seed_time
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench_started = Instant::now();
    let app = App::main().expect("app");
    println!(
        "# Onboard figures ({})",
        onboard_shared::base::time::format_millis(onboard_shared::base::time::millis(
            std::time::SystemTime::now()
        ))
    );
    println!(
        "\nwasm profile: {}; instances: {}",
        onboard_test_host::host::wasm_profile(),
        if onboard_test_host::host::pooling() {
            "pooling allocator"
        } else {
            "on demand"
        }
    );

    println!(
        "\n## Component sizes (profile {})\n",
        onboard_test_host::host::wasm_profile()
    );
    let sizes = app.wasm_sizes();
    let total: u64 = sizes.values().sum();
    let over: Vec<String> = sizes
        .iter()
        .filter(|(_, b)| **b > 300 * 1000)
        .map(|(c, b)| format!("{c} {} KB", b / 1000))
        .collect();
    let (smallest, largest) = (
        sizes.iter().min_by_key(|(_, b)| **b).unwrap(),
        sizes.iter().max_by_key(|(_, b)| **b).unwrap(),
    );
    let mean = total / sizes.len() as u64;
    let verdict = |met: bool| if met { "met" } else { "missed" };
    println!(
        "{} components, smallest {} ({} KB); {} over 300 KB\n\
         - total {} KB (target <= 24,000 KB: {})\n\
         - mean {} KB (target <= 300 KB: {})\n\
         - largest {} ({} KB; target <= 600 KB: {})\n",
        sizes.len(),
        smallest.0,
        smallest.1 / 1000,
        over.len(),
        total / 1000,
        verdict(total <= 24_000_000),
        mean / 1000,
        verdict(mean <= 300_000),
        largest.0,
        largest.1 / 1000,
        verdict(*largest.1 <= 600_000),
    );
    for (c, b) in &sizes {
        println!(
            "- {c}: {} KB{}",
            b / 1000,
            if *b > 300 * 1000 {
                " (over 300 KB)"
            } else {
                ""
            }
        );
    }

    let progress = |what: &str| eprintln!("bench: {what} at {:.0?}", bench_started.elapsed());
    progress("components built");
    let started = Instant::now();
    app.precompile_all().expect("compile");
    progress("components compiled");
    println!(
        "\ncompile every component (cranelift, or the on-disk cache): {:.1?}",
        started.elapsed()
    );

    // `ONBOARD_BENCH_ONLY=outbox,sweep` prints only those sections (besides
    // the sizes): table, throughput, hash, simd, growth, outbox, sweep, redis.
    let only = if quick() {
        Some("table".to_string())
    } else {
        std::env::var("ONBOARD_BENCH_ONLY").ok()
    };
    let want = |section: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|s| s.trim() == section))
    };
    let mut rows = Vec::new();
    if want("table") || want("throughput") || want("hash") || want("simd") {
        let (host, table_rows) = table(app.clone(), None, "SQLite").await;
        rows = table_rows;
        progress("SQLite table");

        println!(
            "\n## Instantiation alone (compiled component, new instance), p50 of {}\n",
            n()
        );
        println!("| component | instantiate ms |");
        println!("|---|---|");
        for component in host.app.manifest.component.keys() {
            let mut times = Vec::new();
            for _ in 0..n() {
                times.push(host.instantiate(component).await.expect("instantiate"));
            }
            println!("| {component} | {} |", ms(percentile(&mut times, 0.5)));
        }

        if want("throughput") {
            let key = {
                let r = ok(
                    &host,
                    Request::new(http::Method::PATCH, "/admin/tenants/bench")
                        .header("authorization", format!("Bearer {ADMIN_KEY}"))
                        .json(&json!({"rotate_application_key": true})),
                )
                .await;
                s(&r.json()["application_key"])
            };
            let auth = clone_session(&host, &key, "op@bench.test", PASSWORD).await;
            throughput(&host, &auth).await;
            progress("instantiation and throughput");
        }
    }
    if want("hash") {
        hash_share(app.clone(), &rows).await;
        progress("hash share");
    }
    if want("simd") && std::env::var("ONBOARD_BENCH_SIMD").as_deref() != Ok("0") {
        simd(&rows).await;
        progress("without simd128");
    }
    if want("growth") {
        growth(app.clone()).await;
        progress("growth");
    }
    if want("outbox") {
        outbox_throughput(app.clone()).await;
        progress("outbox");
    }
    if want("sweep") {
        sweep_baseline(app.clone()).await;
        progress("sweep");
    }

    if want("redis")
        && let Ok(url) = std::env::var("ONBOARD_BENCH_REDIS")
    {
        match KvEngine::redis(&url) {
            Ok(kv) => {
                table(app.clone(), Some(kv), &format!("Redis {url}")).await;
            }
            Err(e) => println!("\n(Redis at {url} unavailable: {e:#})"),
        }
    }
    println!("\nbench took {:.1?}", bench_started.elapsed());
}
