//! The Gcore IAM family (`/iam/...`): credentials, API tokens and the account
//! overview, in the shapes the official SDK sends and parses.
//!
//! # Errors
//! As Gcore's spec: validation is **400** `{"errors": {field: [messages]}}`
//! (dotted paths nest: `{"errors":{"client_user":{"role":[...]}}}`); a body
//! that is not JSON is 400 `{"message": "JSON parse error - ..."}`; every other
//! error is `{"message": ...}` with its status (401, 403, 404, 405, 429 with
//! `Retry-After`, 503). Bad sign-in credentials are, exactly as documented,
//! 400 `{"errors":{"errors":["No active account found with the given credentials."]}}`.
//!
//! # Credentials
//! `Authorization: APIKey <id>_<secret>` (scheme matched case-insensitively;
//! the SDK sends `APIKey`, the docs `apikey`) or `Authorization: Bearer
//! <access JWT>` from `/iam/auth/jwt/login`.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::base::error::{Error, FieldErrors};
use crate::base::model::{Organization, Role, User};
use crate::be::storage::Env;
use crate::credential::api_tokens::{self, NewApiToken};
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config, Credential, CredentialKind, Family, TokenSpec};
use crate::edge::web::{self, Request, Response, header_str};
use crate::{base::time, be::storage, idm::aliases, idm::organizations};

pub mod users;

pub use users::{client_user, invite_user, user, users};

/// Nests `a.b` field paths as Gcore does.
fn nest(map: &mut Map<String, Value>, path: &str, message: &str) {
    match path.split_once('.') {
        Some((head, rest)) => {
            let child = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = child {
                nest(m, rest, message);
            }
        }
        None => {
            if let Value::Array(list) = map.entry(path.to_string()).or_insert_with(|| json!([])) {
                list.push(json!(message));
            }
        }
    }
}

/// Renders any core error in this family's shape.
pub fn render_error(error: &Error) -> Response {
    let (status, body) = match error {
        Error::Invalid(fields) => {
            let mut map = Map::new();
            for e in &fields.0 {
                nest(&mut map, &e.field, &e.message);
            }
            (StatusCode::BAD_REQUEST, json!({ "errors": map }))
        }
        Error::Unauthenticated(_) => (
            StatusCode::UNAUTHORIZED,
            json!({"message": "Authentication credentials were not provided or given token not valid for any token type."}),
        ),
        Error::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            json!({"message": "You do not have permission to perform this action."}),
        ),
        other => (
            StatusCode::from_u16(other.status()).unwrap_or(StatusCode::BAD_REQUEST),
            json!({ "message": other.message() }),
        ),
    };
    web::error_headers(web::json(status, &body), error, Some("APIKey"))
}

/// The caller of a Gcore request, checked against the tenant of the host.
pub fn authenticate(
    req: &Request,
    env: &Env,
    config: &Config,
) -> Result<(Caller, User, Organization), Error> {
    let authorization = header_str(req, "authorization");
    let found = if let Some(token) = identity::scheme_token(authorization, "apikey") {
        identity::stored_caller(env, config, CredentialKind::ApiToken, token)?
    } else if let Some(token) = identity::scheme_token(authorization, "bearer") {
        identity::session_caller(env, config, Family::Gcore, token, header_str(req, "host"))?
    } else {
        return Err(Error::Unauthenticated("missing credential".into()));
    };
    identity::check_destination(env, &found.0.tenant, None, header_str(req, "host"))?;
    Ok(found)
}

/// Whether a Gcore group (`{id?, name?}`) is Administrators (`Some(true)`),
/// one of the other groups, which act as users (`Some(false)`), or none.
pub(crate) fn administrators(group: &Value) -> Option<bool> {
    let id = group.get("id").and_then(Value::as_u64);
    let name = group.get("name").and_then(Value::as_str);
    match (id, name) {
        (Some(1), _) | (None, Some("Administrators")) => Some(true),
        (Some(2 | 5 | 3009 | 3022), _)
        | (
            None,
            Some(
                "Users"
                | "Engineers"
                | "Purge and Prefetch only (API+Web)"
                | "Purge and Prefetch only (API)",
            ),
        ) => Some(false),
        _ => None,
    }
}

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// A group as [`administrators`] reads it: by id or, without one, by name.
    GroupChoice,
    json!({"type": "object", "anyOf": [
        {"required": ["id"], "properties": {"id": {"enum": [1, 2, 5, 3009, 3022]}}},
        {"required": ["name"], "not": {"required": ["id"]}, "properties": {"name": {"enum": [
            "Administrators", "Users", "Engineers", "Purge and Prefetch only (API+Web)",
            "Purge and Prefetch only (API)"]}}}],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}})
);

/// Gcore's group for a role: Administrators (1) or Users (2).
pub fn group(role: Role) -> users::GroupRef {
    if role.is_admin() {
        users::GroupRef {
            id: 1,
            name: "Administrators",
        }
    } else {
        users::GroupRef {
            id: 2,
            name: "Users",
        }
    }
}

/// Gcore's `user_type` for a role.
pub fn user_type(role: Role) -> &'static str {
    match role {
        Role::Operator => "seller",
        Role::ResellerAdmin => "reseller",
        _ => "common",
    }
}

fn text_field(body: &Map<String, Value>, name: &str, errors: &mut FieldErrors) -> String {
    match body.get(name) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.add(name, "This field is required.");
            String::new()
        }
        Some(_) => {
            errors.add(name, "Not a valid string.");
            String::new()
        }
    }
}

/// A session's JWT pair (login and refresh): access 1 h, refresh 24 h.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct JwtPair {
    /// `POST /iam/auth/jwt/refresh` takes it, once
    pub refresh: String,
    /// `Authorization: Bearer <access>`
    pub access: String,
}

/// The pair for a session, paired by `rjti`.
fn pair(
    env: &Env,
    config: &Config,
    caller: &Caller,
    user: &User,
    org: &Organization,
    sid: &str,
    refresh_jti: &str,
) -> Result<JwtPair, Error> {
    let user_id = aliases::user_number(env, &caller.tenant, user)?;
    let client_id = aliases::org_number(env, &caller.tenant, org)?;
    let mut claims = Map::new();
    for (k, v) in [
        ("user_id", json!(user_id)),
        ("user_type", json!(user_type(user.role))),
        ("user_groups", json!([group(user.role).name])),
        ("client_id", json!(client_id)),
        ("email", json!(user.email)),
        ("username", json!(user.email)),
        ("sso_entity", Value::Null),
        ("is_admin", json!(user.role.is_admin())),
        ("client_name", json!(org.name)),
        ("exchangeable", json!(true)),
    ] {
        claims.insert(k.into(), v);
    }
    let refresh = identity::session_token(
        config,
        caller,
        TokenSpec {
            family: Family::Gcore,
            token_type: "refresh",
            sid,
            jti: refresh_jti,
            ttl: identity::GCORE_REFRESH_TTL_MS,
            org: Some(user.organization_id),
        },
        env.now,
        claims.clone(),
    )?;
    claims.insert("rjti".into(), json!(refresh_jti));
    let access_jti = format!("{refresh_jti}a");
    let access = identity::session_token(
        config,
        caller,
        TokenSpec {
            family: Family::Gcore,
            token_type: "access",
            sid,
            jti: &access_jti,
            ttl: identity::GCORE_ACCESS_TTL_MS,
            org: Some(user.organization_id),
        },
        env.now,
        claims,
    )?;
    Ok(JwtPair { refresh, access })
}

fn only(req: &Request, method: Method) -> Result<(), Error> {
    if *req.method() == method {
        Ok(())
    } else {
        Err(Error::MethodNotAllowed(vec![method]))
    }
}

/// What [`login`] reads: both present and not blank.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct LoginBody {
    /// The account's email
    #[schemars(length(min = 1), regex(pattern = r"\S"))]
    pub username: String,
    #[schemars(length(min = 1), regex(pattern = r"\S"))]
    pub password: String,
}

/// What [`refresh`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct RefreshBody {
    /// The refresh token of the pair; it works once
    #[schemars(length(min = 1))]
    pub refresh: String,
}

/// `POST /iam/auth/jwt/login`: `{username (email), password}` →
/// `{refresh, access}`. The tenant is the host's (or `default_tenant`).
pub fn login(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        only(req, Method::POST)?;
        let body = web::json_object(req)?;
        let mut errors = FieldErrors::default();
        let username = text_field(&body, "username", &mut errors);
        let password = text_field(&body, "password", &mut errors);
        errors.into_result()?;
        let tenant_id = identity::sign_in_tenant(env, config, header_str(req, "host"))?;
        let tenant = identity::active_tenant(env, &tenant_id)?;
        let signed = identity::sign_in(
            env,
            &tenant,
            &username,
            &password,
            &web::client_address(req),
            Family::Gcore,
        )?;
        let refresh_jti = signed.session.refresh.clone().unwrap_or_default();
        let tokens = pair(
            env,
            config,
            &signed.caller,
            &signed.user,
            &signed.organization,
            &signed.sid,
            &refresh_jti,
        )?;
        Ok(web::serialized(StatusCode::OK, &tokens))
    })();
    result.unwrap_or_else(|e| match e {
        Error::Unauthenticated(m) if m == identity::PASSWORD_SIGN_IN_OFF => web::json(
            StatusCode::BAD_REQUEST,
            &json!({"errors": {"errors": [
                "This account signs in without a password: its auth_types do not include password."
            ]}}),
        ),
        Error::Unauthenticated(_) => web::json(
            StatusCode::BAD_REQUEST,
            &json!({"errors": {"errors": ["No active account found with the given credentials."]}}),
        ),
        other => render_error(&other),
    })
}

/// `POST /iam/auth/jwt/refresh`: `{refresh}` → a new pair. A refresh token
/// works once; presenting a used one ends its session.
pub fn refresh(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        only(req, Method::POST)?;
        let body = web::json_object(req)?;
        let mut errors = FieldErrors::default();
        let token = text_field(&body, "refresh", &mut errors);
        errors.into_result()?;
        let claims = crate::credential::secrets::verify_jwt(
            &config.token_keys,
            &token,
            Family::Gcore.audience(),
            "refresh",
            env.now,
        )
        .map_err(|_| Error::Unauthenticated("invalid refresh token".into()))?;
        let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default();
        let (tenant, sid, jti) = (text("ten"), text("sid"), text("jti"));
        let user = text("sub")
            .parse()
            .map_err(|_| Error::Unauthenticated("invalid refresh token".into()))?;
        if tenant.is_empty() || tenant.len() > 40 || sid.is_empty() || sid.len() > 64 {
            return Err(Error::Unauthenticated("invalid refresh token".into()));
        }
        let to = identity::Destination {
            host: header_str(req, "host"),
            x_tenant: None,
        };
        identity::check_issue_destination(env, config, tenant, to)
            .map_err(|_| Error::Unauthenticated("invalid refresh token".into()))?;
        let next = env.new_uuid().simple().to_string();
        let session = identity::rotate_refresh(env, tenant, sid, jti, &next)?;
        let (caller, user, org) =
            identity::session_user(env, tenant, user, sid, session.created_at)?;
        crate::be::storage::audit_action(
            env,
            &format!("refresh/{next}"),
            tenant,
            &caller.actor,
            "session.refresh",
            vec![format!("session:{sid}")],
            Some(&org),
        )?;
        let tokens = pair(env, config, &caller, &user, &org, sid, &next)?;
        Ok(web::serialized(StatusCode::OK, &tokens))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `GET /iam/clients/me`: the account overview (`ClientAccount`). The
/// billing fields Onboard does not keep are constants: no paid or free
/// features, no entry domain or signup process, an empty `bill_type`.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Overview<'a> {
    pub id: u64,
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub status: &'static str,
    #[serde(rename = "companyName")]
    pub company_name: &'a str,
    pub website: &'a str,
    #[serde(rename = "currentUser")]
    pub current_user: u64,
    #[cfg_attr(feature = "openapi", schemars(with = "Vec<users::ProductName>"))]
    pub capabilities: Vec<&'static str>,
    #[serde(rename = "serviceStatuses")]
    #[cfg_attr(feature = "openapi", schemars(transform = service_names))]
    pub service_statuses: std::collections::BTreeMap<&'static str, users::ServiceStatus>,
    #[serde(rename = "paidFeatures")]
    pub paid_features: Map<String, Value>,
    #[serde(rename = "freeFeatures")]
    pub free_features: Map<String, Value>,
    #[serde(rename = "entryBaseDomain")]
    pub entry_base_domain: (),
    pub signup_process: (),
    pub deleted: bool,
    pub bill_type: &'static str,
    pub custom_id: Option<&'a str>,
    pub country_code: Option<&'a str>,
    pub is_test: bool,
    pub has_active_admin: bool,
}

/// `serviceStatuses` is keyed by the services' names.
#[cfg(feature = "openapi")]
fn service_names(schema: &mut schemars::Schema) {
    schema.insert("propertyNames".into(), json!({"enum": users::SERVICES}));
}

/// `GET /iam/clients/me`: the caller's account (organization) overview.
pub fn account_overview(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        only(req, Method::GET)?;
        let (caller, user, org) = authenticate(req, env, config)?;
        let client_id = aliases::org_number(env, &caller.tenant, &org)?;
        let user_id = aliases::user_number(env, &caller.tenant, &user)?;
        let detail = |name: &str| org.details.get(name).map(String::as_str);
        Ok(web::serialized(
            StatusCode::OK,
            &Overview {
                id: client_id,
                email: detail("email").unwrap_or(&user.email),
                name: user.profile.first_name.as_deref(),
                phone: detail("phone"),
                status: "active",
                company_name: org.company_name.as_deref().unwrap_or(&org.name),
                website: detail("website").unwrap_or_default(),
                current_user: user_id,
                capabilities: users::available_services(&org),
                service_statuses: users::service_statuses(&org),
                paid_features: Map::new(),
                free_features: Map::new(),
                entry_base_domain: (),
                signup_process: (),
                deleted: false,
                bill_type: "",
                custom_id: detail("custom_id"),
                country_code: detail("country_code"),
                is_test: detail("is_test") == Some("true"),
                has_active_admin: true,
            },
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// The client (organization) a `{clientId}` path names, within the caller's
/// reach, else 404 "Account not found.".
fn client(req: &Request, env: &Env, caller: &Caller) -> Result<Organization, Error> {
    let not_found = || Error::NotFound("Account not found.".into());
    let n: u64 = web::path_param(req, "clientId")
        .and_then(|s| s.parse().ok())
        .ok_or_else(not_found)?;
    let id = aliases::org_by_number(env, &caller.tenant, n)?.ok_or_else(not_found)?;
    organizations::get(env, caller, id).map_err(|_| not_found())
}

/// The role a token asks for (`client_user.role`, a Gcore group by id or
/// name): Administrators act with the issuer's role, other groups as users.
fn token_role(body: &Map<String, Value>, caller: &Caller, errors: &mut FieldErrors) -> Role {
    let role = body
        .get("client_user")
        .and_then(|c| c.get("role"))
        .filter(|r| r.is_object());
    let Some(role) = role else {
        errors.add("client_user.role", "This field is required.");
        return Role::User;
    };
    let id = role.get("id").and_then(Value::as_u64);
    let name = role.get("name").and_then(Value::as_str);
    match administrators(role) {
        Some(true) => {
            if caller.role.is_admin() {
                caller.role
            } else {
                errors.add(
                    "client_user.role",
                    "Can't create token with role Administrators",
                );
                Role::User
            }
        }
        Some(false) => Role::User,
        None => {
            let shown = name
                .map(str::to_string)
                .or(id.map(|i| i.to_string()))
                .unwrap_or_default();
            errors.add("client_user.role", format!("Invalid role: {shown}"));
            Role::User
        }
    }
}

/// An API token as Gcore shows one (`APIToken`): every token answer, and
/// each list item. `token`, the secret, is only in the answer that made it.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TokenView<'a> {
    /// Always set for an API token (`api_tokens::create` numbers it).
    #[cfg_attr(feature = "openapi", schemars(with = "u64"))]
    pub id: Option<u64>,
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// When it stops working, as the client gave it (a plain string, as
    /// every client-given date); null: never.
    pub exp_date: Option<String>,
    pub expired: bool,
    pub deleted: bool,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub created: String,
    /// Its last use, or its creation if never used.
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub last_usage: String,
    pub client_user: ClientUser<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub token: Option<String>,
}

/// The client and user a token belongs to.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ClientUser<'a> {
    pub client_id: u64,
    pub deleted: bool,
    pub role: users::GroupRef,
    pub user_email: Option<&'a str>,
    pub user_id: Option<u64>,
    pub user_name: Option<&'a str>,
}

fn token_view<'a>(
    t: &'a Credential,
    owner: Option<&'a User>,
    client_id: u64,
    now: time::Millis,
) -> TokenView<'a> {
    TokenView {
        id: t.number,
        name: &t.name,
        description: t.description.as_deref(),
        exp_date: t.expires_at.map(time::format_millis),
        expired: t.expires_at.is_some_and(|e| e <= now),
        deleted: t.revoked,
        created: time::format_millis(t.created_at),
        last_usage: time::format_millis(t.last_used.unwrap_or(t.created_at)),
        client_user: ClientUser {
            client_id,
            deleted: false,
            role: group(t.role.unwrap_or(Role::User)),
            user_email: owner.map(|u| u.email.as_str()),
            user_id: owner.and_then(|u| u.number),
            user_name: owner.and_then(|u| u.profile.first_name.as_deref()),
        },
        token: None,
    }
}

fn owners(env: &Env, tenant: &str, tokens: &[Credential]) -> Result<Vec<User>, Error> {
    let keys: Vec<String> = tokens
        .iter()
        .filter_map(|t| t.user)
        .map(|u| storage::keys::user(tenant, u))
        .collect();
    Ok(storage::read_many::<User>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .collect())
}

/// What [`TokenFilter::parse`] reads; a bad value is 400.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct TokensQuery {
    /// Token role: 1/Administrators, or any other role id or name for
    /// non-administrator tokens
    #[schemars(extend("enum" = ["1", "Administrators", "2", "5", "3009", "3022", "Users", "Engineers"]))]
    pub role: Option<String>,
    /// Only tokens of this user id
    #[schemars(range(max = JSON_SAFE))]
    pub issued_by: Option<u64>,
    /// Only tokens not of this user id
    #[schemars(range(max = JSON_SAFE))]
    pub not_issued_by: Option<u64>,
    /// Accepted and ignored: deleted tokens are never listed
    pub deleted: Option<bool>,
}

/// User ids are u64 in the code; bounded to JSON-safe integers in the document.
#[cfg(feature = "openapi")]
const JSON_SAFE: u64 = 9_007_199_254_740_991;

/// The list filters of `GET .../tokens`: `role` (a group id or name),
/// `issued_by` and `not_issued_by` (user ids). `deleted` is accepted and has
/// no effect: deleted tokens are never listed.
struct TokenFilter {
    admin_role: Option<bool>,
    issued_by: Option<u64>,
    not_issued_by: Option<u64>,
}

impl TokenFilter {
    fn parse(req: &Request) -> Result<Self, Error> {
        let mut f = TokenFilter {
            admin_role: None,
            issued_by: None,
            not_issued_by: None,
        };
        let pairs = req
            .uri()
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for (k, v) in pairs {
            let number = || {
                v.parse::<u64>()
                    .map_err(|_| Error::invalid(k.clone(), "A valid integer is required."))
            };
            match k.as_str() {
                "role" => {
                    f.admin_role = Some(match v.as_str() {
                        "1" | "Administrators" => true,
                        "2" | "5" | "3009" | "3022" | "Users" | "Engineers" => false,
                        _ => return Err(Error::invalid("role", format!("Invalid role: {v}"))),
                    })
                }
                "issued_by" => f.issued_by = Some(number()?),
                "not_issued_by" => f.not_issued_by = Some(number()?),
                _ => {}
            }
        }
        Ok(f)
    }

    fn keeps(&self, t: &Credential, owner_number: Option<u64>) -> bool {
        let admin = t.role.is_some_and(|r| r.is_admin());
        self.admin_role.is_none_or(|want| want == admin)
            && self.issued_by.is_none_or(|n| owner_number == Some(n))
            && self.not_issued_by.is_none_or(|n| owner_number != Some(n))
    }
}

/// What [`tokens`] reads on `POST`.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct NewTokenBody {
    #[schemars(length(min = 1))]
    pub name: String,
    pub description: Option<String>,
    /// In the future; null: never expires
    #[schemars(with = "Expiry")]
    pub exp_date: Option<String>,
    pub client_user: TokenClientUser,
}

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// Required, but null: an [`crate::base::schema::DateTime`] or null.
    Expiry,
    json!({"anyOf": [crate::base::schema::date_time_value(), {"type": "null"}]})
);

/// The token's group: Administrators act with the issuer's role (an
/// administrator's only), the other groups as users.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct TokenClientUser {
    pub role: GroupChoice,
}

/// `GET`, `POST /iam/v2/clients/{clientId}/tokens`.
pub fn tokens(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        let allowed = [Method::GET, Method::POST];
        if !allowed.contains(req.method()) {
            return Err(Error::MethodNotAllowed(allowed.to_vec()));
        }
        let (caller, user, _) = authenticate(req, env, config)?;
        let org = client(req, env, &caller)?;
        let client_id = aliases::org_number(env, &caller.tenant, &org)?;
        if req.method() == Method::GET {
            let filter = TokenFilter::parse(req)?;
            let list = api_tokens::list_tokens(env, &caller, &org)?;
            let owners = owners(env, &caller.tenant, &list)?;
            let body: Vec<TokenView> = list
                .iter()
                .filter_map(|t| {
                    let owner = owners.iter().find(|u| Some(u.id) == t.user);
                    filter
                        .keeps(t, owner.and_then(|u| u.number))
                        .then(|| token_view(t, owner, client_id, env.now))
                })
                .collect();
            return Ok(web::serialized(StatusCode::OK, &body));
        }
        let body = web::json_object(req)?;
        let mut errors = FieldErrors::default();
        let name = text_field(&body, "name", &mut errors);
        let description = body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string);
        let expires_at = match body.get("exp_date") {
            None => {
                errors.add("exp_date", "This field is required.");
                None
            }
            Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let parsed = time::parse_iso8601(s);
                if parsed.is_none() {
                    errors.add("exp_date", "Datetime has wrong format.");
                }
                parsed
            }
            Some(_) => {
                errors.add("exp_date", "Datetime has wrong format.");
                None
            }
        };
        let role = token_role(&body, &caller, &mut errors);
        errors.into_result()?;
        aliases::user_number(env, &caller.tenant, &user)?;
        let (credential, token) = api_tokens::create(
            env,
            config,
            &caller,
            &org,
            &NewApiToken {
                name,
                description,
                expires_at,
                role,
            },
        )?;
        let owner = owners(env, &caller.tenant, std::slice::from_ref(&credential))?;
        let out = TokenView {
            token: Some(token),
            ..token_view(&credential, owner.first(), client_id, env.now)
        };
        Ok(web::serialized(StatusCode::OK, &out))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `GET`, `DELETE /iam/v2/clients/{clientId}/tokens/{tokenId}`.
pub fn token(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        let allowed = [Method::GET, Method::DELETE];
        if !allowed.contains(req.method()) {
            return Err(Error::MethodNotAllowed(allowed.to_vec()));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let org = client(req, env, &caller)?;
        let n: u64 = web::path_param(req, "tokenId")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::NotFound("API token not found.".into()))?;
        if req.method() == Method::DELETE {
            api_tokens::delete(env, &caller, &org, n)?;
            return Ok(web::empty(StatusCode::NO_CONTENT));
        }
        let t = api_tokens::get(env, &caller, &org, n)?;
        let owner = owners(env, &caller.tenant, std::slice::from_ref(&t))?;
        let client_id = aliases::org_number(env, &caller.tenant, &org)?;
        Ok(web::serialized(
            StatusCode::OK,
            &token_view(&t, owner.first(), client_id, env.now),
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}
