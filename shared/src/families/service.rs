//! This service's own administration API under `/admin/...`: tenants for the
//! platform admin; resellers, accounts and API clients for operators.
//!
//! # Authentication
//! - `Authorization: Bearer <admin_key>`: the platform admin. On tenant-scoped
//!   paths it names the tenant with `X-Tenant` (a tenant id or one of its
//!   domains) and acts as that tenant's operator.
//! - Otherwise a Clone-family credential of an operator or reseller admin
//!   (`Bearer <session token>` from `/auth/sign_in`, or `Basic <access token>`).
//!
//! # Error body (RFC 9457 problem details, `application/problem+json`)
//! `{"type":"about:blank","title":"Unprocessable Entity","status":422,
//!   "detail":"invalid parameters: password","errors":{"password":["is too short (minimum is 8 characters)"]}}`;
//! a value another record holds (`Error::is_taken`) is the same body with 409.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::clone::{self, header_str};
use super::fields::Fields;
use crate::base::error::{Error, FieldErrors};
use crate::base::model::{Lifecycle, Organization, Profile, Role, Tenant, User};
use crate::be::storage::{Actor, Env};
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config};
use crate::edge::web::{self, Request, Response};
use crate::idm::admin::{
    self, DOMAINS_PER_REQUEST, NewAccount, NewReseller, NewTenant, TenantChange,
};

/// Renders any core error as problem details.
/// A value held elsewhere (an id, code, email or domain taken) is 409: the
/// request was well formed and lost to what is stored.
pub fn render_error(error: &Error) -> Response {
    let status = if error.is_taken() {
        StatusCode::CONFLICT
    } else {
        StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST)
    };
    let mut body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": error.message(),
    });
    if let Error::Invalid(fields) = error {
        let mut map = Map::new();
        for e in &fields.0 {
            if let Value::Array(list) = map.entry(e.field.clone()).or_insert_with(|| json!([])) {
                list.push(json!(e.message));
            }
        }
        body["errors"] = Value::Object(map);
    }
    let response = web::respond(
        status,
        "application/problem+json",
        serde_json::to_vec(&body).unwrap_or_default(),
    );
    web::error_headers(response, error, Some("Bearer"))
}

/// A tenant as the admin API shows it; what is shown once (a new
/// application key, a generated webhook secret, the first operator) only in
/// the answer that made it. The handlers render it with serde; with the
/// `openapi` feature its schema is the document's.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TenantView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub domains: &'a [String],
    pub status: Lifecycle,
    pub root_organization_id: Option<Uuid>,
    pub webhook: Option<WebhookView<'a>>,
    pub token_ttl: &'a crate::base::model::TokenTtl,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub created_at: String,
    /// The Clone family's `x-api-key`: on create and after a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub application_key: Option<String>,
    /// The tenant's first operator: on create.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub operator: Option<AccountView<'a>>,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct WebhookView<'a> {
    pub url: &'a str,
    /// Only in the change that generated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub secret: Option<String>,
}

fn tenant_json(t: &Tenant) -> TenantView<'_> {
    TenantView {
        id: &t.id,
        name: &t.name,
        domains: &t.domains,
        status: t.status,
        root_organization_id: t.root_org,
        webhook: t.webhook.as_ref().map(|w| WebhookView {
            url: &w.url,
            secret: None,
        }),
        token_ttl: &t.token_ttl,
        created_at: crate::base::time::format_millis(t.created_at),
        application_key: None,
        operator: None,
    }
}

/// A webhook URL Onboard may POST to: absolute http(s), no credentials in
/// it (they would be logged by proxies; the signature authenticates).
fn webhook_url(raw: &str) -> Option<String> {
    let uri: http::Uri = raw.parse().ok()?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let authority = uri.authority()?;
    (scheme_ok && raw.len() <= 2048 && !authority.as_str().contains('@')).then(|| raw.to_string())
}

/// An account as the admin API shows it.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AccountView<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub role: Role,
    pub status: Lifecycle,
    pub organization_id: Uuid,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
}

fn account_json(u: &User) -> AccountView<'_> {
    AccountView {
        id: u.id,
        email: &u.email,
        role: u.role,
        status: u.status,
        organization_id: u.organization_id,
        first_name: u.profile.first_name.as_deref(),
        last_name: u.profile.last_name.as_deref(),
    }
}

/// A reseller organization as the admin API shows it.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ResellerView<'a> {
    pub id: Uuid,
    /// Its integer id (the Gcore family's `seller`).
    pub number: Option<u64>,
    pub code: Option<&'a str>,
    pub name: &'a str,
    pub parent_id: Option<Uuid>,
}

fn reseller_json(o: &Organization) -> ResellerView<'_> {
    ResellerView {
        id: o.id,
        number: o.number,
        code: o.code.as_deref(),
        name: &o.name,
        parent_id: o.parent,
    }
}

/// The readers only this API needs, on the shared field reader.
impl Fields<'_> {
    /// `{"url", "secret"?}` to set the webhook, `null` to remove it.
    fn webhook(&mut self, name: &str) -> Option<Option<(String, Option<Vec<u8>>)>> {
        let hook = match self.obj.get(name)? {
            Value::Null => return Some(None),
            Value::Object(o) => o,
            _ => {
                self.errors
                    .add(self.path(name), "must be an object with a url, or null");
                return None;
            }
        };
        let url = match hook.get("url").and_then(Value::as_str).map(webhook_url) {
            Some(Some(url)) => url,
            _ => {
                self.errors.add(
                    format!("{name}.url"),
                    "must be an absolute http or https URL",
                );
                return None;
            }
        };
        let secret = match hook.get("secret") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_str().and_then(crate::idm::outbox::parse_secret) {
                Some(bytes) => Some(bytes),
                None => {
                    self.errors.add(
                        format!("{name}.secret"),
                        "must be whsec_ and the base64 of 24 to 64 bytes",
                    );
                    return None;
                }
            },
        };
        Some(Some((url, secret)))
    }
    /// Token lifetimes in minutes; a field left out takes its default.
    fn token_ttl(&mut self, name: &str) -> Option<crate::base::model::TokenTtl> {
        let o = match self.obj.get(name)? {
            Value::Object(o) => o,
            _ => {
                self.errors.add(self.path(name), "must be an object");
                return None;
            }
        };
        let mut ttl = crate::base::model::TokenTtl::default();
        for (field, slot) in [
            ("confirmation_minutes", &mut ttl.confirmation_minutes),
            ("invitation_minutes", &mut ttl.invitation_minutes),
            ("reset_minutes", &mut ttl.reset_minutes),
        ] {
            match o.get(field) {
                None | Some(Value::Null) => {}
                Some(v) => match v.as_u64().filter(|m| (1..=525_600).contains(m)) {
                    Some(m) => *slot = m as u32,
                    None => self.errors.add(
                        format!("{name}.{field}"),
                        "must be a whole number of minutes from 1 to 525600",
                    ),
                },
            }
        }
        Some(ttl)
    }
    fn domains(&mut self, name: &str) -> Vec<String> {
        let raw = self.strings(name);
        // Each domain is claimed by compare-and-swap, and a request has a
        // few hundred of those in Spin.
        if raw.len() > DOMAINS_PER_REQUEST {
            self.errors.add(
                self.path(name),
                format!("at most {DOMAINS_PER_REQUEST} domains a request"),
            );
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, d) in raw.iter().enumerate() {
            match identity::normalize_host(d) {
                Some(h) if h.contains('.') || h == "localhost" => {
                    if !out.contains(&h) {
                        out.push(h)
                    }
                }
                _ => self
                    .errors
                    .add(format!("{}[{i}]", self.path(name)), "is not a host name"),
            }
        }
        out
    }
}

/// An account's fields; `password` is required unless `invited` (then it
/// must be left out: the user chooses it on accepting).
fn account_input(
    obj: &Map<String, Value>,
    prefix: &str,
    invited: bool,
) -> (NewAccount, FieldErrors) {
    let mut errors = FieldErrors::default();
    let mut b = Fields::under(obj, prefix, &mut errors);
    let email = b.email("email");
    let password = if !invited {
        b.present("password").unwrap_or_default()
    } else {
        if obj.contains_key("password") {
            b.errors.add(
                b.path("password"),
                "must be left out of an invitation: the user chooses it",
            );
        }
        String::new()
    };
    let role = match b.optional("role") {
        None => Role::Operator,
        Some(r) => Role::parse(&r).unwrap_or_else(|| {
            b.errors.add(
                b.path("role"),
                "must be one of operator, reseller_admin, customer_admin, user",
            );
            Role::User
        }),
    };
    let organization_id = b.optional_uuid("organization_id");
    let profile = Profile {
        first_name: b.optional("first_name"),
        last_name: b.optional("last_name"),
        ..Profile::default()
    };
    (
        NewAccount {
            email,
            password,
            role,
            organization_id,
            profile,
        },
        errors,
    )
}

/// `POST /admin/accounts`: the account with its password, or an invitation
/// (then the user chooses it); an organization for every role but the
/// operator's. The account is what `account_input` fills.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(transform = account_rules)]
pub struct AccountBody {
    #[schemars(flatten)]
    pub account: NewAccount,
    /// Make the account without a password and queue its invitation.
    #[schemars(extend("default" = false))]
    pub invite: Option<bool>,
}

#[cfg(feature = "openapi")]
fn account_rules(schema: &mut schemars::Schema) {
    schema.insert("required".into(), json!(["email", "role"]));
    schema.insert(
        "allOf".into(),
        json!([
        {"oneOf": [{"required": ["password"], "properties": {"invite": {"const": false}}},
            {"required": ["invite"], "properties": {"invite": {"const": true}},
                "not": {"required": ["password"]}}]},
        {"anyOf": [{"properties": {"role": {"const": "operator"}}},
            {"required": ["organization_id"]}]}]),
    );
}

/// Whether the request comes from the console's session cookie.
fn from_console(req: &Request) -> bool {
    crate::credential::console::from_console(header_str(req, "authorization"), &clone::browser(req))
}

/// The tenant's own operators (not a reseller's administrators).
fn tenant_operator(caller: &Caller) -> Result<(), Error> {
    caller.require(Role::Operator)?;
    if caller.org.is_some() {
        return Err(Error::Forbidden("operators only".into()));
    }
    Ok(())
}

/// Forgot-password requests become reset messages when an operator reads
/// or delivers the outbox (see `account_tokens::forgot_password`).
fn resolve_reset_requests(env: &mut Env, caller: &Caller) -> Result<(), Error> {
    tenant_operator(caller)?;
    let tenant = crate::idm::admin::get_tenant(env, &caller.tenant)?;
    crate::idm::account_tokens::resolve_reset_requests(env, &tenant).map(drop)
}

/// The operator-level caller: the platform admin acting in `X-Tenant`, or a
/// Clone-family credential.
fn tenant_caller(req: &Request, env: &Env, config: &Config) -> Result<Caller, Error> {
    let authorization = header_str(req, "authorization");
    if let Some(token) = identity::scheme_token(authorization, "bearer")
        && config.admin_key().is_some_and(|k| {
            crate::credential::auth::constant_time_eq(token.as_bytes(), k.as_bytes())
        })
    {
        let named = header_str(req, "x-tenant")
            .ok_or_else(|| Error::invalid("X-Tenant", "is required with the admin key"))?;
        let tenant = match identity::tenant_for_host(env, named)? {
            Some(t) => t,
            None => named.to_string(),
        };
        if !admin::valid_tenant_id(&tenant) {
            return Err(Error::NotFound(format!("tenant {named} not found")));
        }
        identity::active_tenant(env, &tenant)
            .map_err(|_| Error::NotFound(format!("tenant {named} not found")))?;
        return Ok(Caller::operator_of(
            &tenant,
            Actor {
                kind: "platform_admin".into(),
                id: "platform".into(),
            },
        ));
    }
    let (caller, _, _) = clone::authenticate(req, env, config)?;
    Ok(caller)
}

/// One `/admin` endpoint: the method check (405 with `Allow`), then its
/// own handler. Each endpoint is its own component and names its handler
/// here, so a component links that handler alone, not every `/admin` one.
fn serve(
    req: &Request,
    env: &mut Env,
    config: &Config,
    allowed: &[Method],
    handler: impl FnOnce(&Request, &mut Env, &Config) -> Result<Response, Error>,
) -> Response {
    if !allowed.contains(req.method()) {
        return render_error(&Error::MethodNotAllowed(allowed.to_vec()));
    }
    handler(req, env, config).unwrap_or_else(|e| render_error(&e))
}

/// The `{id}` Spin matched.
fn id_of(req: &Request) -> String {
    web::path_param(req, "id").unwrap_or_default().to_string()
}

/// `POST /admin/tenants`.
pub fn tenants(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve(req, env, config, &[Method::POST], on_tenants)
}

/// `GET`, `PATCH /admin/tenants/{id}`.
pub fn tenant(req: &Request, env: &mut Env, config: &Config) -> Response {
    let id = id_of(req);
    serve(
        req,
        env,
        config,
        &[Method::GET, Method::PATCH],
        |r, e, c| on_tenant(r, e, c, &id),
    )
}

/// `POST /admin/resellers`.
pub fn resellers(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve(req, env, config, &[Method::POST], on_resellers)
}

/// `POST /admin/accounts`.
pub fn accounts(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve(req, env, config, &[Method::POST], on_accounts)
}

/// `GET`, `PATCH /admin/accounts/{id}`.
pub fn account(req: &Request, env: &mut Env, config: &Config) -> Response {
    let id = id_of(req);
    serve(
        req,
        env,
        config,
        &[Method::GET, Method::PATCH],
        |r, e, c| on_account(r, e, c, &id),
    )
}

/// `POST /admin/accounts/{id}/password_reset`.
pub fn account_password_reset(req: &Request, env: &mut Env, config: &Config) -> Response {
    let id = id_of(req);
    serve(req, env, config, &[Method::POST], |r, e, c| {
        let caller = tenant_caller(r, e, c)?;
        let id = account_id(&id)?;
        crate::idm::account_tokens::send_password_reset(e, &caller, id)?;
        ok(json!({"message": "A password reset is in the outbox for the account's address."}))
    })
}

/// `DELETE /admin/accounts/{id}/two_factor`.
pub fn account_two_factor(req: &Request, env: &mut Env, config: &Config) -> Response {
    let id = id_of(req);
    serve(req, env, config, &[Method::DELETE], |r, e, c| {
        on_account_two_factor(r, e, c, &id)
    })
}

/// `GET`, `POST /admin/api-clients`.
pub fn api_clients(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve(
        req,
        env,
        config,
        &[Method::GET, Method::POST],
        on_api_clients,
    )
}

/// `DELETE /admin/api-clients/{id}`.
pub fn api_client(req: &Request, env: &mut Env, config: &Config) -> Response {
    let id = id_of(req);
    serve(req, env, config, &[Method::DELETE], |r, e, c| {
        on_api_client(r, e, c, &id)
    })
}

/// `POST`, `GET /admin/scim-connections`.
pub fn scim_connections(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve(
        req,
        env,
        config,
        &[Method::GET, Method::POST],
        on_scim_connections,
    )
}

/// `GET`, `DELETE /admin/scim-connections/{id}`.
pub fn scim_connection(req: &Request, env: &mut Env, config: &Config) -> Response {
    let id = id_of(req);
    serve(
        req,
        env,
        config,
        &[Method::GET, Method::DELETE],
        |r, e, c| on_scim_connection(r, e, c, &id),
    )
}

/// `GET`, `PUT /admin/reference-data`.
pub fn reference_data(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve(
        req,
        env,
        config,
        &[Method::GET, Method::PUT],
        on_reference_data,
    )
}

/// `GET /admin/outbox`.
pub fn outbox(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve(req, env, config, &[Method::GET], on_outbox)
}

/// `POST /admin/outbox/deliver`: one delivery pass, for a scheduler.
pub fn outbox_deliver(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve(req, env, config, &[Method::POST], on_outbox_deliver)
}

/// Keys one sweep deletes at most; the answer's `more` says to call again.
const SWEEP_LIMIT: usize = 5_000;

/// `POST /admin/sweep` (operators): deletes what has expired.
pub fn sweep(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve(req, env, config, &[Method::POST], on_sweep)
}

fn created<T: serde::Serialize>(v: T) -> Result<Response, Error> {
    Ok(web::serialized(StatusCode::CREATED, &v))
}

fn ok<T: serde::Serialize>(v: T) -> Result<Response, Error> {
    Ok(web::serialized(StatusCode::OK, &v))
}

/// `POST /admin/tenants` (platform admin key): a tenant and its first operator.
fn on_tenants(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    identity::platform_admin(config, header_str(req, "authorization"))?;
    let obj = web::json_object(req)?;
    let mut errors = FieldErrors::default();
    let mut b = Fields::new(&obj, &mut errors);
    let id = b.present("id").unwrap_or_default();
    if !id.is_empty() && !admin::valid_tenant_id(&id) {
        b.errors
            .add("id", "must be 1 to 40 characters of a-z, 0-9 and -");
    }
    let name = b.present("name").unwrap_or_default();
    let domains = b.domains("domains");
    let empty = Map::new();
    let operator = match obj.get("operator") {
        Some(Value::Object(o)) => o,
        _ => {
            errors.add("operator", "is required");
            &empty
        }
    };
    let (mut account, account_errors) = account_input(operator, "operator", false);
    account.role = Role::Operator;
    errors.0.extend(account_errors.0);
    errors.into_result()?;
    let done = admin::create_tenant(
        env,
        config,
        &NewTenant {
            id,
            name,
            domains,
            operator: account,
        },
    )?;
    created(TenantView {
        application_key: Some(done.application_key),
        operator: Some(account_json(&done.operator)),
        ..tenant_json(&done.tenant)
    })
}

/// `GET` and `PATCH /admin/tenants/{id}` (platform admin key).
fn on_tenant(req: &Request, env: &mut Env, config: &Config, id: &str) -> Result<Response, Error> {
    identity::platform_admin(config, header_str(req, "authorization"))?;
    if req.method() == Method::GET {
        return ok(tenant_json(&admin::get_tenant(env, id)?));
    }
    let obj = web::json_object(req)?;
    let mut errors = FieldErrors::default();
    let mut b = Fields::new(&obj, &mut errors);
    let status = b.optional("status").and_then(|s| {
        let parsed =
            Lifecycle::parse(&s).filter(|l| matches!(l, Lifecycle::Active | Lifecycle::Disabled));
        if parsed.is_none() {
            b.errors.add("status", "must be active or disabled");
        }
        parsed
    });
    let change = TenantChange {
        name: b.optional("name"),
        status,
        add_domains: b.domains("add_domains"),
        remove_domains: b.domains("remove_domains"),
        rotate_application_key: b.flag("rotate_application_key"),
        webhook: b.webhook("webhook"),
        token_ttl: b.token_ttl("token_ttl"),
    };
    errors.into_result()?;
    let done = admin::update_tenant(env, config, id, &change)?;
    let mut v = tenant_json(&done.tenant);
    v.application_key = done.application_key;
    if let Some(hook) = v.webhook.as_mut() {
        hook.secret = done.webhook_secret;
    }
    ok(v)
}

/// `POST /admin/resellers`: a reseller organization with its code.
fn on_resellers(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    let obj = web::json_object(req)?;
    let mut errors = FieldErrors::default();
    let mut b = Fields::new(&obj, &mut errors);
    let name = b.present("name").unwrap_or_default();
    let code = b.present("code").unwrap_or_default();
    if code.len() > 64 {
        b.errors
            .add("code", "is too long (maximum is 64 characters)");
    }
    let parent = b.optional_uuid("parent_id");
    errors.into_result()?;
    let org = admin::create_reseller(env, &caller, &NewReseller { name, code, parent })?;
    created(reseller_json(&org))
}

/// `POST /admin/accounts`: an operator or administrator account.
fn on_accounts(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    let obj = web::json_object(req)?;
    let invited = match obj.get("invite") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err(Error::invalid("invite", "must be true or false")),
    };
    if !invited && from_console(req) {
        return Err(Error::Forbidden(
            "the console invites accounts (\"invite\": true): their passwords are their own".into(),
        ));
    }
    let (account, mut errors) = account_input(&obj, "", invited);
    if !obj.contains_key("role") {
        errors.add("role", "is required");
    }
    errors.into_result()?;
    if invited {
        return created(account_json(&admin::invite_account(
            env, &caller, &account,
        )?));
    }
    created(account_json(&admin::create_account(
        env, config, &caller, &account,
    )?))
}

/// `GET /admin/outbox`: the newest messages, once waiting forgot-password requests are resolved.
fn on_outbox(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    // The console shows the messages, never the tokens they carry: a
    // script in a browser page is no place for a password reset link.
    let console = from_console(req);
    resolve_reset_requests(env, &caller)?;
    let found = crate::idm::outbox::list(env, config, &caller, 100)?;
    let messages = found
        .iter()
        .map(|(m, token)| MessageView {
            seq: m.seq,
            kind: &m.kind,
            to: &m.to,
            new_email: m.new_email.as_deref(),
            subject: m.subject,
            user_id: m.user,
            organization_id: m.organization,
            created_at: crate::base::time::format_millis(m.created_at),
            status: m.status,
            attempts: m
                .attempts
                .iter()
                .map(|a| AttemptView {
                    at: crate::base::time::format_millis(a.at),
                    status: a.status,
                    error: a.error.as_deref(),
                })
                .collect(),
            next_attempt_at: (m.status == crate::idm::outbox::Status::Pending)
                .then(|| crate::base::time::format_millis(m.next_attempt_at)),
            token: token.as_deref().filter(|_| !console),
        })
        .collect();
    ok(Outbox { messages })
}

/// `GET /admin/outbox`.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Outbox<'a> {
    pub messages: Vec<MessageView<'a>>,
}

/// A message and its delivery log; `token` only while it is undelivered,
/// and never to the console.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct MessageView<'a> {
    pub seq: i64,
    #[cfg_attr(feature = "openapi", schemars(with = "MessageKind"))]
    pub kind: &'a str,
    pub to: &'a str,
    /// `email_changed`: the address the account is moving to
    pub new_email: Option<&'a str>,
    pub subject: Uuid,
    pub user_id: Option<Uuid>,
    pub organization_id: Uuid,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schemars(with = "DeliveryStatus"))]
    pub status: crate::idm::outbox::Status,
    pub attempts: Vec<AttemptView<'a>>,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Instant>")
    )]
    pub next_attempt_at: Option<String>,
    pub token: Option<&'a str>,
}

/// One delivery attempt.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AttemptView<'a> {
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub at: String,
    /// The receiver's status, when it answered
    pub status: Option<u16>,
    /// Why it did not count: a non-2xx status or a transport error code
    pub error: Option<&'a str>,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(
    MessageKind,
    [
        "invitation",
        "confirmation",
        "password_reset",
        "sms_otp",
        "email_changed",
        "two_factor_reset"
    ]
);
#[cfg(feature = "openapi")]
crate::base::schema::strings!(DeliveryStatus, ["pending", "delivered", "failed"]);

/// `POST /admin/outbox/deliver`: one delivery pass, after resolving waiting forgot-password requests.
fn on_outbox_deliver(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    resolve_reset_requests(env, &caller)?;
    ok(crate::idm::outbox::deliver(
        env,
        config,
        &caller,
        &mut crate::edge::post,
    )?)
}

/// `POST /admin/sweep`: deletes what has expired.
fn on_sweep(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    tenant_operator(&caller)?;
    let swept = crate::be::expiry::sweep(env, &caller.tenant, SWEEP_LIMIT)?;
    ok(json!({"deleted": swept.deleted, "buckets": swept.buckets, "more": swept.more}))
}

/// `GET` and `PUT /admin/reference-data`: the tenant's countries, states and plans.
fn on_reference_data(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    caller.require(Role::Operator)?;
    if req.method() == Method::GET {
        let settings = crate::idm::provision::load_settings(env.kv, &caller.tenant)?;
        return ok(json!(settings.reference));
    }
    let obj = web::json_object(req)?;
    let data: crate::base::model::ReferenceData = serde_json::from_value(Value::Object(obj))
        .map_err(|e| Error::invalid("body", format!("is not reference data: {e}")))?;
    ok(json!(crate::idm::provision::set_reference_data(
        env, &caller, &data
    )?))
}

/// `PATCH /admin/accounts/{id}`: moves an account through its lifecycle.
fn account_id(id: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::NotFound(format!("account {id} not found")))
}

/// What [`on_account`] reads on `PATCH`.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct AccountStatusBody {
    /// The state to move the account to
    pub status: Lifecycle,
}

fn on_account(req: &Request, env: &mut Env, config: &Config, id: &str) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    let id = account_id(id)?;
    if req.method() == Method::GET {
        return account_details(env, &caller, id);
    }
    let obj = web::json_object(req)?;
    let mut errors = FieldErrors::default();
    let mut b = Fields::new(&obj, &mut errors);
    let status = b.present("status").and_then(|s| {
        let parsed = Lifecycle::parse(&s);
        if parsed.is_none() {
            b.errors.add(
                "status",
                "must be one of active, disabled, restricted, terminated, deleted",
            );
        }
        parsed
    });
    errors.into_result()?;
    let status = status.ok_or_else(|| Error::invalid("status", "is required"))?;
    ok(account_json(&admin::set_account_status(
        env, &caller, id, status,
    )?))
}

/// An account with what an administrator looks at before acting on it.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AccountDetails<'a> {
    #[serde(flatten)]
    pub account: AccountView<'a>,
    pub two_factor: bool,
    pub groups: Vec<GroupView>,
    pub invited: bool,
    pub sign_in_count: u64,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Instant>")
    )]
    pub last_sign_in_at: Option<String>,
    pub last_sign_in_ip: Option<&'a str>,
    pub access_token: bool,
    pub api_tokens: Vec<TokenView>,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct GroupView {
    pub id: Uuid,
    pub name: String,
}

/// One of the account's API tokens (never its secret).
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TokenView {
    pub name: String,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub created_at: String,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Instant>")
    )]
    pub expires_at: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Instant>")
    )]
    pub last_used: Option<String>,
}

/// `GET /admin/accounts/{id}`: the account as `PATCH` answers it, with
/// what an administrator looks at besides (administrators only): groups,
/// the second factor, a pending invitation, sign-ins, live API tokens.
fn account_details(env: &Env, caller: &Caller, id: Uuid) -> Result<Response, Error> {
    if !caller.role.is_admin() {
        return Err(Error::Forbidden("administrators only".into()));
    }
    let (user, org) = crate::idm::users::get(env, caller, id)?;
    let groups = crate::idm::groups::by_ids(env, &caller.tenant, &user.groups)?
        .into_iter()
        .map(|g| GroupView {
            id: g.id,
            name: g.name,
        })
        .collect();
    let time = |t: Option<crate::base::time::Millis>| t.map(crate::base::time::format_millis);
    let api_tokens = crate::credential::api_tokens::list_tokens(env, caller, &org)?
        .into_iter()
        .filter(|c| c.user == Some(id))
        .map(|c| TokenView {
            created_at: crate::base::time::format_millis(c.created_at),
            expires_at: time(c.expires_at),
            last_used: time(c.last_used),
            name: c.name,
        })
        .collect();
    ok(AccountDetails {
        account: account_json(&user),
        two_factor: crate::idm::two_factor::required(&user),
        groups,
        invited: user.invitation.is_some(),
        sign_in_count: user.sign_in_count,
        last_sign_in_at: time(user.last_sign_in_at),
        last_sign_in_ip: user.last_sign_in_ip.as_deref(),
        access_token: user.access_token.is_some(),
        api_tokens,
    })
}

/// What [`on_account_two_factor`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct TwoFactorResetBody {
    /// The caller's own password (required but for the platform admin): at
    /// most 1,024 bytes of UTF-8, which any 256 characters are
    #[schemars(length(min = 1, max = 256))]
    pub password: Option<String>,
}

/// `DELETE /admin/accounts/{id}/two_factor` `{"password"}`: an
/// administrator resets a user's second factor (see
/// `two_factor::reset_by_admin`); the platform admin sends no password.
fn on_account_two_factor(
    req: &Request,
    env: &mut Env,
    config: &Config,
    id: &str,
) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    let id = account_id(id)?;
    let obj = web::json_object(req)?;
    let password = match obj.get("password") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 1024 => s.clone(),
        None | Some(Value::Null) if caller.user.is_none() => String::new(),
        None | Some(Value::Null) => {
            return Err(Error::invalid(
                "password",
                "is required: your own password confirms the reset",
            ));
        }
        Some(_) => return Err(Error::invalid("password", "must be a string")),
    };
    let address = web::client_address(req);
    let user = crate::idm::two_factor::reset_by_admin(env, &caller, id, &password, &address)?;
    ok(account_json(&user))
}

/// What [`on_api_clients`] reads on `POST`.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct NewApiClient {
    #[schemars(length(max = 255), regex(pattern = r"\S"))]
    pub name: String,
    /// A reseller: the client acts as that reseller (else as the CSP, over
    /// the whole tenant)
    pub organization_id: Option<Uuid>,
}

/// `GET /admin/api-clients`: the clients made since they were listed (no
/// secrets); `POST`: a client id and secret for CloudCockpit and Gcore.
fn on_api_clients(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    if req.method() == Method::GET {
        let found = admin::list_api_clients(env, &caller)?;
        let data = found
            .iter()
            .map(|c| ApiClientView {
                client_id: &c.id,
                name: &c.name,
                role: client_role(c.role == Some(Role::Operator)),
                organization_id: c.org,
                created_at: crate::base::time::format_millis(c.created_at),
            })
            .collect();
        return ok(ApiClients { data });
    }
    let obj = web::json_object(req)?;
    let mut errors = FieldErrors::default();
    let mut b = Fields::new(&obj, &mut errors);
    let name = b.present("name").unwrap_or_default();
    let org = b.optional_uuid("organization_id");
    errors.into_result()?;
    let client = admin::create_api_client(env, config, &caller, &name, org)?;
    created(NewApiClientView {
        client_id: client.client_id,
        client_secret: &client.client_secret,
        name: &client.name,
        role: client_role(client.role == Role::Operator),
        organization_id: client.organization_id,
    })
}

/// What a client acts as: the CSP (the operator's) or its reseller.
fn client_role(operator: bool) -> &'static str {
    if operator { "csp" } else { "reseller" }
}

/// `GET /admin/api-clients`.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ApiClients<'a> {
    pub data: Vec<ApiClientView<'a>>,
}

/// An API client as listed (no secret).
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ApiClientView<'a> {
    #[cfg_attr(feature = "openapi", schemars(with = "Uuid"))]
    pub client_id: &'a str,
    pub name: &'a str,
    #[cfg_attr(feature = "openapi", schemars(with = "ClientRole"))]
    pub role: &'static str,
    pub organization_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub created_at: String,
}

/// A new API client, with its secret: shown this once.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NewApiClientView<'a> {
    pub client_id: Uuid,
    pub client_secret: &'a str,
    pub name: &'a str,
    #[cfg_attr(feature = "openapi", schemars(with = "ClientRole"))]
    pub role: &'static str,
    /// The reseller it acts as; null: the CSP
    pub organization_id: Option<Uuid>,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(ClientRole, ["csp", "reseller"]);

/// `DELETE /admin/api-clients/{id}`: revokes a client.
fn on_api_client(
    req: &Request,
    env: &mut Env,
    config: &Config,
    id: &str,
) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    let id =
        Uuid::parse_str(id).map_err(|_| Error::NotFound(format!("API client {id} not found")))?;
    admin::revoke_api_client(env, &caller, id)?;
    Ok(web::empty(StatusCode::NO_CONTENT))
}

fn scim_connection_view(c: &identity::Credential) -> ScimConnectionView<'_> {
    ScimConnectionView {
        id: &c.id,
        name: &c.name,
        organization_id: c.org,
        assigns_roles: c.assigns_roles,
        created_at: crate::base::time::format_millis(c.created_at),
        token: None,
        base_url: None,
    }
}

/// A SCIM connection; the answer that made it also carries its token and
/// the base URL to give the identity provider.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ScimConnectionView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// The customer organization it provisions
    #[cfg_attr(feature = "openapi", schemars(with = "Uuid"))]
    pub organization_id: Option<Uuid>,
    pub assigns_roles: bool,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub created_at: String,
    /// The bearer token, shown this once
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schemars(regex(pattern = "^scim_")))]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<&'static str>,
}

/// `GET /admin/scim-connections`.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ScimConnections<'a> {
    pub data: Vec<ScimConnectionView<'a>>,
}

/// What [`on_scim_connections`] reads: the body on `POST`, the query on `GET`.
#[cfg(feature = "openapi")]
pub mod scim_connection_bodies {
    use schemars::JsonSchema;
    use uuid::Uuid;

    #[derive(JsonSchema)]
    pub struct NewScimConnection {
        #[schemars(length(max = 255), regex(pattern = r"\S"))]
        pub name: String,
        pub organization_id: Uuid,
        /// Whether the connection may set its users' roles (make them customer_admin)
        #[schemars(extend("default" = false))]
        pub assigns_roles: Option<bool>,
    }

    #[derive(JsonSchema)]
    pub struct ScimConnectionsQuery {
        /// The customer organization whose live connections are listed
        pub organization_id: Uuid,
    }
}

/// `POST /admin/scim-connections` `{organization_id, name, assigns_roles?}`:
/// a connection for a customer organization, with its token (shown once); `GET
/// ?organization_id=`: the organization's live connections, without.
fn on_scim_connections(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    if req.method() == Method::GET {
        let named = clone::query_value(req, "organization_id")
            .ok_or_else(|| Error::invalid("organization_id", "is required"))?;
        let id = Uuid::parse_str(&named)
            .map_err(|_| Error::invalid("organization_id", "is not a valid id"))?;
        let org = crate::idm::organizations::get(env, &caller, id)?;
        let list = crate::credential::scim_connections::list_live(env, &caller, &org)?;
        return ok(ScimConnections {
            data: list.iter().map(scim_connection_view).collect(),
        });
    }
    let obj = web::json_object(req)?;
    let mut errors = FieldErrors::default();
    let mut b = Fields::new(&obj, &mut errors);
    let name = b.present("name").unwrap_or_default();
    let org = b
        .required("organization_id")
        .and_then(|_| b.uuid("organization_id"));
    let assigns_roles = b.flag("assigns_roles");
    if let Err(m) = crate::base::validate::max_len(&name) {
        errors.add("name", m);
    }
    errors.into_result()?;
    let org = org.ok_or_else(|| Error::invalid("organization_id", "is required"))?;
    let org = crate::idm::organizations::get(env, &caller, org)?;
    let (connection, token) = crate::credential::scim_connections::create(
        env,
        config,
        &caller,
        &org,
        &name,
        assigns_roles,
    )?;
    created(ScimConnectionView {
        token: Some(token),
        base_url: Some(crate::families::scim::BASE_PATH),
        ..scim_connection_view(&connection)
    })
}

/// `GET`, `DELETE /admin/scim-connections/{id}`.
fn on_scim_connection(
    req: &Request,
    env: &mut Env,
    config: &Config,
    id: &str,
) -> Result<Response, Error> {
    let caller = tenant_caller(req, env, config)?;
    if req.method() == Method::GET {
        let (connection, _) = crate::credential::scim_connections::get(env, &caller, id)?;
        return ok(scim_connection_view(&connection));
    }
    crate::credential::scim_connections::revoke(env, &caller, id)?;
    Ok(web::empty(StatusCode::NO_CONTENT))
}
