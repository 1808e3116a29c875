//! The Apiculus family (`/auth/login`, `/auth/logout`, `/api/...`): sessions
//! in `x-access-token` and the account lifecycle endpoints.
//!
//! # Envelope
//! Success is the documented envelope (`httpStatus`, `success`, `error`,
//! `sync`, `jobId` (a fresh uuid per request), `jobStatusCode`, `cached`,
//! `replayed`, `result`). The vendor documents no failure, so errors use the
//! same envelope with `success: false`, `jobStatusCode: 0`, `result: {}` and
//! `error: {"code": <status name>, "message": ..., "fields": {field: [messages]}}`
//! (`fields` on 422 only), with the HTTP status in `httpStatus`.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::base::error::{Error, FieldErrors};
use crate::base::model::{Lifecycle, Organization, Role, User};
use crate::be::storage::Env;
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config, Family};
use crate::edge::web::{self, Request, Response, header_str};
use crate::{base::time, idm::admin, idm::aliases, idm::provision};

pub mod accounts;

pub use accounts::{country_list, create_new_user, sign_up_helper, state_list};

/// Apiculus's job envelope around a success's `result` (a failure's is
/// [`error_response`]'s). `job_id` is a fresh uuid per request, except where
/// the request is an operation a replay must answer byte for byte
/// (`replayed` aside), which derives it from the operation.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Envelope<R> {
    pub http_status: u16,
    pub success: bool,
    /// Empty on success
    pub error: web::Empty,
    pub sync: bool,
    pub job_id: Uuid,
    pub job_status_code: u8,
    pub cached: bool,
    /// A repeat of a completed `Idempotency-Key` request
    pub replayed: bool,
    pub result: R,
}

impl<R> Envelope<R> {
    fn ok(job: Uuid, result: R) -> Self {
        Envelope {
            http_status: 200,
            success: true,
            error: web::Empty {},
            sync: true,
            job_id: job,
            job_status_code: 1,
            cached: false,
            replayed: false,
            result,
        }
    }
}

fn code(status: u16) -> &'static str {
    match status {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        409 => "CONFLICT",
        500 => "INTERNAL_SERVER_ERROR",
        413 => "PAYLOAD_TOO_LARGE",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        422 => "VALIDATION_FAILED",
        429 => "TOO_MANY_REQUESTS",
        _ => "SERVICE_UNAVAILABLE",
    }
}

fn error_response(error: &Error, job: Uuid) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut detail = json!({"code": code(status.as_u16()), "message": error.message()});
    if let Error::Invalid(fields) = error {
        let mut map = Map::new();
        for e in &fields.0 {
            if let Value::Array(list) = map.entry(e.field.clone()).or_insert_with(|| json!([])) {
                list.push(json!(e.message));
            }
        }
        detail["fields"] = Value::Object(map);
    }
    let body = json!({
        "httpStatus": status.as_u16(), "success": false, "error": detail, "sync": true,
        "jobId": job, "jobStatusCode": 0, "cached": false, "replayed": false, "result": {},
    });
    web::error_headers(web::json(status, &body), error, None)
}

/// Renders any core error in this family's envelope.
pub fn render_error(error: &Error) -> Response {
    error_response(error, Uuid::new_v4())
}

fn ok<R: serde::Serialize>(env: &mut Env, result: R) -> Response {
    web::serialized(StatusCode::OK, &Envelope::ok(env.new_uuid(), result))
}

/// Apiculus `account_type` of a role: 12 superadmin (operator), 11 admin
/// (reseller admin), 1 enterprise subscriber (customer admin and users).
pub fn account_type(role: Role) -> u8 {
    match role {
        Role::Operator => 12,
        Role::ResellerAdmin => 11,
        Role::CustomerAdmin | Role::User => 1,
    }
}

/// The caller behind `x-access-token`, checked against the host's tenant.
pub fn authenticate(
    req: &Request,
    env: &Env,
    config: &Config,
) -> Result<(Caller, User, Organization), Error> {
    let token = header_str(req, "x-access-token")
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 4096)
        .ok_or_else(|| Error::Unauthenticated("missing x-access-token".into()))?;
    let found = identity::session_caller(
        env,
        config,
        Family::Apiculus,
        token,
        header_str(req, "host"),
    )?;
    identity::check_destination(env, &found.0.tenant, None, header_str(req, "host"))?;
    Ok(found)
}

fn currency(env: &Env, tenant: &str, org: &Organization) -> Result<String, Error> {
    if let Some(c) = org.details.get("currency") {
        return Ok(c.clone());
    }
    let settings = provision::load_settings(env.kv, tenant)?;
    Ok(settings
        .reference
        .currencies
        .first()
        .cloned()
        .unwrap_or_else(|| "USD".into()))
}

/// What [`login`] reads: both present and not blank.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct LoginBody {
    #[schemars(length(min = 1), regex(pattern = r"\S"))]
    pub email: String,
    #[schemars(length(min = 1), regex(pattern = r"\S"))]
    pub password: String,
}

/// `POST /auth/login`'s answer: not the envelope, only three of its keys.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoginAnswer {
    pub http_status: u16,
    pub success: bool,
    pub result: Session,
}

/// A session as login shows it.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Session {
    /// The `x-access-token`
    pub token: String,
    pub onboarded: bool,
    /// 12 superadmin (operator), 11 admin (reseller), 1 enterprise subscriber
    #[cfg_attr(feature = "openapi", schemars(extend("enum" = [1, 11, 12])))]
    pub account_type: u8,
    pub currency: String,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub last_logged_in: String,
    #[serde(rename = "paymentCurrency")]
    pub payment_currency: String,
}

/// `POST /auth/login` `{email, password}` → the session token and the
/// account's type. The tenant is the host's (or `default_tenant`).
pub fn login(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::POST {
            return Err(Error::MethodNotAllowed(vec![Method::POST]));
        }
        let body = web::json_object(req)?;
        let mut errors = FieldErrors::default();
        let mut field = |name: &str| match body.get(name) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                errors.add(name, "is required");
                String::new()
            }
        };
        let (email, password) = (field("email"), field("password"));
        errors.into_result()?;
        let tenant_id = identity::sign_in_tenant(env, config, header_str(req, "host"))?;
        let tenant = identity::active_tenant(env, &tenant_id)?;
        let signed = identity::sign_in(
            env,
            &tenant,
            &email,
            &password,
            &web::client_address(req),
            Family::Apiculus,
        )?;
        let token = identity::session_access_token(config, &signed, Family::Apiculus, env.now)?;
        let currency = currency(env, &tenant.id, &signed.organization)?;
        let last = signed.user.last_sign_in_at.unwrap_or(env.now);
        Ok(web::serialized(
            StatusCode::OK,
            &LoginAnswer {
                http_status: 200,
                success: true,
                result: Session {
                    token,
                    onboarded: true,
                    account_type: account_type(signed.user.role),
                    payment_currency: currency.clone(),
                    currency,
                    last_logged_in: time::format_millis(last),
                },
            },
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `POST /auth/logout`: ends the session of the `x-access-token`.
pub fn logout(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::POST {
            return Err(Error::MethodNotAllowed(vec![Method::POST]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let sid = caller
            .session
            .clone()
            .ok_or_else(|| Error::Unauthenticated("not a session token".into()))?;
        identity::end_session(env, &caller, &sid)?;
        Ok(ok(env, web::Empty {}))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// What a lifecycle path names: an enterprise account by its id
/// (`API-E001`: the account's organization, so all its users follow), or a
/// single user by its number (`123`) or uuid.
enum Target {
    Account { org: Uuid, email: String },
    User(Uuid),
}

fn target(env: &Env, caller: &Caller, raw: &str) -> Result<Target, Error> {
    let not_found = || Error::NotFound(format!("account {raw} not found"));
    if let Ok(id) = Uuid::parse_str(raw) {
        return Ok(Target::User(id));
    }
    if let Ok(n) = raw.parse::<u64>() {
        return aliases::user_by_number(env, &caller.tenant, n)?
            .map(Target::User)
            .ok_or_else(not_found);
    }
    // An account id names the account's organization (whatever became of
    // its primary user, whose email the answer shows when it is there).
    let org = provision::account_organization(env, &caller.tenant, raw)?.ok_or_else(not_found)?;
    let email = match aliases::user_by_code(env, &caller.tenant, raw)? {
        Some(id) => crate::be::storage::read::<User>(
            env.kv,
            &crate::be::storage::keys::user(&caller.tenant, id),
        )?
        .map(|r| r.data.email)
        .unwrap_or_default(),
        None => String::new(),
    };
    Ok(Target::Account { org, email })
}

/// What [`lifecycle`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct LifecycleQuery {
    /// Must be true (exactly the text `true`; absent or any other: 422)
    #[schemars(extend("enum" = [true]))]
    pub manual: bool,
}

/// A lifecycle action's `result`.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AccountStatus {
    /// The path's id, as sent
    pub id: String,
    /// "" for an account whose primary user is gone
    pub email: String,
    /// The account's state now
    pub status: Lifecycle,
}

/// `PUT /api/v1/serv_<action>UserAccount/<user_id>?manual=true`: moves the
/// account through the one lifecycle. Admin tokens only (`account_type` 11
/// or 12); `terminate` is final; `enable` returns a disabled or restricted
/// account to active.
fn lifecycle(req: &Request, env: &mut Env, config: &Config, status: Lifecycle) -> Response {
    let result = (|| {
        if req.method() != Method::PUT {
            return Err(Error::MethodNotAllowed(vec![Method::PUT]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        if account_type(caller.role) < 11 {
            return Err(Error::Forbidden("an admin token is required".into()));
        }
        let manual = req
            .uri()
            .query()
            .into_iter()
            .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
            .any(|(k, v)| k == "manual" && v == "true");
        if !manual {
            return Err(Error::invalid("manual", "must be true"));
        }
        let raw_id = web::path_param(req, "id").unwrap_or_default().to_string();
        let enable_from = |current: Lifecycle| {
            if status == Lifecycle::Active
                && !matches!(
                    current,
                    Lifecycle::Disabled | Lifecycle::Restricted | Lifecycle::Active
                )
            {
                return Err(Error::invalid(
                    "status",
                    "only a disabled or restricted account can be enabled",
                ));
            }
            Ok(())
        };
        match target(env, &caller, &raw_id)? {
            Target::Account { org, email } => {
                let current = crate::idm::organizations::get(env, &caller, org)?;
                enable_from(current.status)?;
                let updated = crate::idm::organizations::set_status(env, &caller, org, status)?;
                Ok(ok(
                    env,
                    AccountStatus {
                        id: raw_id,
                        email,
                        status: updated.status,
                    },
                ))
            }
            Target::User(id) => {
                let (user, _) = crate::idm::users::get(env, &caller, id)?;
                enable_from(user.status)?;
                let user = admin::set_account_status(env, &caller, id, status)?;
                Ok(ok(
                    env,
                    AccountStatus {
                        id: raw_id,
                        email: user.email,
                        status: user.status,
                    },
                ))
            }
        }
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `PUT /api/v1/serv_disableUserAccount/<user_id>?manual=true`.
pub fn disable_account(req: &Request, env: &mut Env, config: &Config) -> Response {
    lifecycle(req, env, config, Lifecycle::Disabled)
}

/// `PUT /api/v1/serv_enableUserAccount/<user_id>?manual=true`.
pub fn enable_account(req: &Request, env: &mut Env, config: &Config) -> Response {
    lifecycle(req, env, config, Lifecycle::Active)
}

/// `PUT /api/v1/serv_restrictUserAccount/<user_id>?manual=true`.
pub fn restrict_account(req: &Request, env: &mut Env, config: &Config) -> Response {
    lifecycle(req, env, config, Lifecycle::Restricted)
}

/// `PUT /api/v1/serv_terminateUserAccount/<user_id>?manual=true`.
pub fn terminate_account(req: &Request, env: &mut Env, config: &Config) -> Response {
    lifecycle(req, env, config, Lifecycle::Terminated)
}
