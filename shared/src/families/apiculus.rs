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

use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{Error, FieldErrors};
use crate::identity::{self, Config, Family, TokenSpec};
use crate::model::{Lifecycle, Organization, Role, User};
use crate::storage::Env;
use crate::web::{self, Request, Response, header_str};
use crate::{admin, aliases, provision, time};

fn envelope(env: &mut Env, status: StatusCode, error: Value, result: Value) -> Value {
    let ok = status.is_success();
    json!({
        "httpStatus": status.as_u16(),
        "success": ok,
        "error": error,
        "sync": true,
        "jobId": env.new_uuid(),
        "jobStatusCode": if ok { 1 } else { 0 },
        "cached": false,
        "replayed": false,
        "result": result,
    })
}

fn code(status: u16) -> &'static str {
    match status {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
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
    let mut response = web::json(status, &body);
    let headers = response.headers_mut();
    match error {
        Error::MethodNotAllowed(allowed) => {
            headers.insert(header::ALLOW, web::allow(allowed));
        }
        Error::RateLimited(s) => {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        _ => {}
    }
    response
}

/// Renders any core error in this family's envelope.
pub fn render_error(error: &Error) -> Response {
    error_response(error, Uuid::new_v4())
}

fn ok(env: &mut Env, result: Value) -> Response {
    let body = envelope(env, StatusCode::OK, json!({}), result);
    web::json(StatusCode::OK, &body)
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
    let found = identity::session_caller(env, config, Family::Apiculus, token)?;
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
        let token = identity::session_token(
            config,
            &signed.caller,
            TokenSpec {
                family: Family::Apiculus,
                token_type: "access",
                sid: &signed.sid,
                jti: &signed.sid,
                ttl: identity::SESSION_TTL_MS,
            },
            env.now,
            Map::new(),
        )?;
        let currency = currency(env, &tenant.id, &signed.organization)?;
        let last = signed.user.last_sign_in_at.unwrap_or(env.now);
        Ok(web::json(
            StatusCode::OK,
            &json!({
                "httpStatus": 200,
                "success": true,
                "result": {
                    "token": token,
                    "onboarded": true,
                    "account_type": account_type(signed.user.role),
                    "currency": currency,
                    "last_logged_in": time::format_millis(last),
                    "paymentCurrency": currency,
                }
            }),
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
        Ok(ok(env, json!({})))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// The user a lifecycle path names: its number (`123`), its id, or its
/// account code (`API-E001`).
fn target(env: &Env, caller: &Caller, raw: &str) -> Result<Uuid, Error> {
    let not_found = || Error::NotFound(format!("account {raw} not found"));
    if let Ok(id) = Uuid::parse_str(raw) {
        return Ok(id);
    }
    if let Ok(n) = raw.parse::<u64>() {
        return aliases::user_by_number(env, &caller.tenant, n)?.ok_or_else(not_found);
    }
    aliases::user_by_code(env, &caller.tenant, raw)?.ok_or_else(not_found)
}

/// `PUT /api/v1/serv_{disable,enable,restrict,terminate}UserAccount/<user_id>?manual=true`:
/// moves the account through the one lifecycle. Admin tokens only
/// (`account_type` 11 or 12); `terminate` is final; `enable` returns a
/// disabled or restricted account to active.
pub fn api_v1(req: &Request, env: &mut Env, config: &Config) -> Response {
    let path = web::path_info(req);
    let Some((action, raw_id)) = path
        .strip_prefix("/serv_")
        .and_then(|rest| rest.split_once("UserAccount/"))
        .filter(|(_, id)| !id.is_empty() && !id.contains('/'))
    else {
        return render_error(&Error::NotFound(format!("no endpoint /api/v1{path}")));
    };
    let status = match action {
        "disable" => Lifecycle::Disabled,
        "enable" => Lifecycle::Active,
        "restrict" => Lifecycle::Restricted,
        "terminate" => Lifecycle::Terminated,
        _ => return render_error(&Error::NotFound(format!("no endpoint /api/v1{path}"))),
    };
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
        let id = target(env, &caller, raw_id)?;
        if status == Lifecycle::Active {
            let (user, _) = crate::users::get(env, &caller, id)?;
            if !matches!(
                user.status,
                Lifecycle::Disabled | Lifecycle::Restricted | Lifecycle::Active
            ) {
                return Err(Error::invalid(
                    "status",
                    "only a disabled or restricted account can be enabled",
                ));
            }
        }
        let user = admin::set_account_status(env, &caller, id, status)?;
        Ok(ok(
            env,
            json!({"id": raw_id, "email": user.email, "status": user.status.as_str()}),
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}
