//! Hosts the tests share: the test-only probe app and the real app, with the
//! tenant `default` and its first operator set up through shared code.

use std::sync::Arc;

use onboard_shared::base::model::{Profile, Role, User};
use onboard_shared::be::storage::{self, keys};
use onboard_shared::credential::identity::{self, Config, Credential, CredentialKind};
use onboard_shared::idm::admin::{self, NewAccount, NewTenant};
use onboard_test_host::conformance::Conformance;
use onboard_test_host::host::workspace_root;
use onboard_test_host::{App, Host, Request, Response};
use uuid::Uuid;

/// A path inside the workspace.
pub fn workspace_file(relative: &str) -> std::path::PathBuf {
    workspace_root().join(relative)
}

/// A fresh host (own store file, clock, faults) for the probe app in tests/spin.toml.
pub fn probe_host() -> Arc<Host> {
    let app = App::load(&workspace_root().join("tests").join("spin.toml")).expect("probe app");
    Host::new(app, &[("secret_key", "s3cret")]).expect("probe host")
}

/// The platform admin key the app hosts are started with.
pub const ADMIN_KEY: &str = "test-platform-admin-key";
/// Their token keys (`kid:secret`).
pub const TOKEN_KEYS: &str = "t1:test-token-signing-key-0123456789";
/// Cheap argon2 for tests (production cost is measured by the figures bench).
pub const HASH_PARAMS: &str = "m=64,t=1,p=1";
/// The seeded operator of tenant `default`.
pub const OPERATOR_EMAIL: &str = "operator@onboard.test";
pub const OPERATOR_PASSWORD: &str = "operator-password-1";
/// A long-lived Clone access token of that operator, issued natively.
pub const OPERATOR_TOKEN: &str = "oat_test-operator-access-token";
/// `Authorization` for the seeded operator.
pub fn operator_auth() -> String {
    format!("Basic {OPERATOR_TOKEN}")
}
/// The host name the test host puts in `Host` (tenant `default` serves it).
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// What the components read, as the tests configure them.
pub fn config() -> Config {
    Config::from_vars(|name| match name {
        "admin_key" => Some(ADMIN_KEY.into()),
        "token_keys" => Some(TOKEN_KEYS.into()),
        "password_hash_params" => Some(HASH_PARAMS.into()),
        _ => None,
    })
}

/// The variables the app hosts are started with.
pub const APP_VALUES: &[(&str, &str)] = &[
    ("admin_key", ADMIN_KEY),
    ("token_keys", TOKEN_KEYS),
    ("password_hash_params", HASH_PARAMS),
];

/// The committed OpenAPI document, compiled once: every app host checks
/// each answer a test receives against it.
fn conformance() -> Arc<Conformance> {
    static DOCUMENT: std::sync::OnceLock<Arc<Conformance>> = std::sync::OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let text = std::fs::read_to_string(workspace_file("shared/openapi.json"))
                .expect("shared/openapi.json");
            let document = serde_json::from_str(&text).expect("the document is JSON");
            Arc::new(Conformance::new(&document).expect("the document's schemas compile"))
        })
        .clone()
}

pub fn checked(host: Arc<Host>) -> Arc<Host> {
    host.check_answers_against(conformance());
    host
}

/// A fresh host for the real app in spin.toml with no tenant at all.
pub fn bare_app_host() -> Arc<Host> {
    checked(Host::new(App::main().expect("app"), APP_VALUES).expect("app host"))
}

/// [`app_host`] over a given store (a test's own Redis).
pub fn app_host_on(kv: onboard_test_host::kv::KvEngine) -> Arc<Host> {
    with_operator(checked(
        Host::on_store(App::main().expect("app"), APP_VALUES, kv).expect("app host"),
    ))
}

/// A fresh host for the real app, with tenant `default` (serving the test
/// host's own host name) and its operator, whose access token is
/// [`OPERATOR_TOKEN`].
pub fn app_host() -> Arc<Host> {
    with_operator(bare_app_host())
}

/// `host` with tenant `default` and its operator.
pub fn with_operator(host: Arc<Host>) -> Arc<Host> {
    let created = seed_tenant(&host, "default", &[DEFAULT_HOST], OPERATOR_EMAIL);
    issue_access_token(&host, "default", created.operator.id, OPERATOR_TOKEN);
    host
}

/// A tenant with an operator (password [`OPERATOR_PASSWORD`]), created through
/// shared code.
pub fn seed_tenant(
    host: &Host,
    id: &str,
    domains: &[&str],
    operator: &str,
) -> admin::TenantCreated {
    host.with_env(|env| {
        admin::create_tenant(
            env,
            &config(),
            &NewTenant {
                id: id.into(),
                name: format!("Tenant {id}"),
                domains: domains.iter().map(|d| d.to_string()).collect(),
                operator: NewAccount {
                    email: operator.into(),
                    password: OPERATOR_PASSWORD.into(),
                    role: Role::Operator,
                    organization_id: None,
                    profile: Profile::default(),
                },
            },
        )
        .expect("seed tenant")
    })
}

/// Gives `user` a Clone access token with a known secret.
pub fn issue_access_token(host: &Host, tenant: &str, user: Uuid, secret: &str) {
    host.with_env(|env| {
        let credential = Credential {
            user: Some(user),
            ..Credential::new(
                format!("at-{}", Uuid::new_v4().simple()),
                CredentialKind::AccessToken,
                "test access token",
                env.now,
            )
        };
        let issued = identity::issue_credential(env, &config(), tenant, credential, secret)
            .expect("issue token");
        storage::update::<User, _>(env, &keys::user(tenant, user), "test-token", |u| {
            u.access_token = Some(issued.id.clone());
            Ok(())
        })
        .expect("point at token");
    });
}

/// Whether a user record is one the harness seeded (an operator).
pub fn is_seeded(user: &User) -> bool {
    user.role == Role::Operator
}

/// Signs in through `POST /auth/sign_in` and returns `Bearer <token>`.
pub async fn sign_in(host: &Host, app_key: &str, email: &str, password: &str) -> String {
    let r = host
        .send(
            Request::post("/auth/sign_in")
                .header("x-api-key", app_key)
                .json(&serde_json::json!({"username": email, "password": password})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    format!("Bearer {}", r.json()["token"].as_str().unwrap())
}

/// Sends the same request `n` times at once and returns every response.
pub async fn concurrently(
    host: &Arc<Host>,
    n: usize,
    make: impl Fn(usize) -> Request,
) -> Vec<Response> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let host = host.clone();
            let req = make(i);
            tokio::spawn(async move { host.send(req).await })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}
