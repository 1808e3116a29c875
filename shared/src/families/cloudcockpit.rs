//! The CloudCockpit v1 family (`/oauth2/token`, `/v1/...`): OAuth client
//! credentials for API clients, `X-Tenant`, and customers.
//!
//! # Errors
//! As documented: 401 and 403 have no body; every other error is an
//! `ErrorResponse` `{"statusCode", "type", "description", "correlationId",
//! "errors": [{"propertyName", "description": [...]}]}` echoing
//! `X-Correlation-Id`. `/oauth2/token` answers in RFC 6749's own shape
//! (`{"error": "invalid_client", "error_description": ...}`).
//!
//! # Tokens
//! CloudCockpit itself sends clients to Entra ID; Onboard is its own
//! authorization server: `POST /oauth2/token` with `grant_type=client_credentials`
//! and the client's id and secret (form fields or HTTP Basic) returns the same
//! `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token"}`.
//! A client made for the operator acts as `csp`; one made for a reseller
//! organization acts as that `reseller`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{Error, FieldErrors};
use crate::identity::{self, Config};
use crate::model::{OrgKind, Organization, Role};
use crate::organizations::{self, NewOrganization};
use crate::storage::Env;
use crate::validate;
use crate::web::{self, Request, Response, header_str};

fn type_name(status: u16) -> &'static str {
    match status {
        400 => "ValidationError",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        429 => "TooManyRequests",
        _ => "ServiceUnavailable",
    }
}

/// `firstName` → `FirstName`, as the vendor's `propertyName` shows.
fn property(field: &str) -> String {
    let mut chars = field.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Renders an error, echoing the request's correlation id.
pub fn render(error: &Error, correlation: Option<&str>) -> Response {
    let mut status = error.status();
    if status == 422 {
        // The vendor documents validation failures as 400.
        status = 400;
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = if matches!(status, 401 | 403) {
        web::empty(code)
    } else {
        let errors = match error {
            Error::Invalid(fields) => {
                let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
                for e in &fields.0 {
                    let name = property(&e.field);
                    match grouped.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, list)) => list.push(e.message.clone()),
                        None => grouped.push((name, vec![e.message.clone()])),
                    }
                }
                Value::Array(
                    grouped
                        .into_iter()
                        .map(|(n, d)| json!({"propertyName": n, "description": d}))
                        .collect(),
                )
            }
            _ => Value::Null,
        };
        web::json(
            code,
            &json!({
                "statusCode": status,
                "type": type_name(status),
                "description": error.message(),
                "correlationId": correlation,
                "errors": errors,
            }),
        )
    };
    let headers = response.headers_mut();
    match error {
        Error::MethodNotAllowed(allowed) => {
            headers.insert(header::ALLOW, web::allow(allowed));
        }
        Error::Unauthenticated(_) => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        _ => {}
    }
    response
}

/// Renders any core error (no request at hand).
pub fn render_error(error: &Error) -> Response {
    render(error, None)
}

/// The request's `X-Correlation-Id`, if it is a sensible one.
fn correlation(req: &Request) -> Option<String> {
    header_str(req, "x-correlation-id")
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.len() <= 128)
        .map(str::to_string)
}

/// The API client behind `Authorization: Bearer <token>`; `X-Tenant` is
/// required (400) and must be the client's tenant (403).
pub fn authenticate(req: &Request, env: &Env, config: &Config) -> Result<Caller, Error> {
    let token = identity::scheme_token(header_str(req, "authorization"), "bearer")
        .ok_or_else(|| Error::Unauthenticated("missing bearer token".into()))?;
    let caller = identity::client_caller(env, config, token)?;
    let x_tenant = header_str(req, "x-tenant")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::invalid("X-Tenant", "The X-Tenant header is required."))?;
    identity::check_destination(env, &caller.tenant, Some(x_tenant), header_str(req, "host"))?;
    Ok(caller)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = web::json(
        status,
        &json!({"error": error, "error_description": description}),
    );
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"onboard\""),
        );
    }
    response
}

/// `POST /oauth2/token` (RFC 6749 4.4, form body).
pub fn token(req: &Request, env: &mut Env, config: &Config) -> Response {
    if req.method() != Method::POST {
        return render_error(&Error::MethodNotAllowed(vec![Method::POST]));
    }
    let form_type = header_str(req, "content-type")
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(req.body())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match field("grant_type").as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
    }
    // Client authentication: HTTP Basic (RFC 6749 2.3.1) or the form fields.
    let basic = identity::scheme_token(header_str(req, "authorization"), "basic")
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let Some((client_id, secret)) =
        basic.or_else(|| Some((field("client_id")?, field("client_secret")?)))
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        );
    };
    match identity::client_credentials(env, config, &client_id, &secret) {
        Ok((_, token)) => {
            let mut response = web::json(
                StatusCode::OK,
                &json!({
                    "token_type": "Bearer",
                    "expires_in": identity::CLIENT_TOKEN_TTL_MS / 1000,
                    "ext_expires_in": identity::CLIENT_TOKEN_TTL_MS / 1000,
                    "access_token": token,
                }),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(Error::Unauthenticated(_)) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        ),
        Err(other) => render_error(&other),
    }
}

/// The customer view of an organization.
fn customer_json(org: &Organization) -> Value {
    let d = |k: &str| org.details.get(k).cloned();
    json!({
        "id": org.id,
        "companyName": org.company_name.clone().unwrap_or_else(|| org.name.clone()),
        "taxId": d("taxId"),
        "country": d("country"),
        "addressLine1": d("addressLine1"),
        "addressLine2": d("addressLine2"),
        "city": d("city"),
        "state": d("state"),
        "zip": d("zip"),
        "firstName": d("firstName"),
        "middleName": d("middleName"),
        "lastName": d("lastName"),
        "email": d("email"),
        "phone": d("phone"),
        "internalIdentifier": d("internalIdentifier"),
        "resellerId": org.parent,
        "providerCustomers": [],
        "customerAssociations": [],
    })
}

/// The fields of a `CustomerViewModel` and their limits.
const CUSTOMER_FIELDS: [(&str, bool, usize); 14] = [
    ("companyName", true, 255),
    ("taxId", false, 255),
    ("country", true, 2),
    ("addressLine1", true, 255),
    ("addressLine2", false, 255),
    ("city", true, 255),
    ("state", true, 255),
    ("zip", true, 30),
    ("firstName", true, 255),
    ("middleName", false, 255),
    ("lastName", true, 255),
    ("email", true, 255),
    ("phone", true, 30),
    ("internalIdentifier", false, 255),
];

fn parse_customer(
    body: &Map<String, Value>,
) -> Result<(std::collections::BTreeMap<String, String>, Option<Uuid>), Error> {
    let mut errors = FieldErrors::default();
    let mut details = std::collections::BTreeMap::new();
    for (name, required, max) in CUSTOMER_FIELDS {
        match body.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                if s.chars().count() > max {
                    errors.add(
                        name,
                        format!("The length of '{name}' must be {max} characters or fewer."),
                    );
                }
                details.insert(name.to_string(), s.clone());
            }
            None | Some(Value::Null) | Some(Value::String(_)) => {
                if required {
                    errors.add(name, format!("'{name}' must not be empty."));
                }
            }
            Some(_) => errors.add(name, format!("'{name}' must be a string.")),
        }
    }
    if let Some(c) = details.get("country")
        && !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        errors.add("country", "'country' must be an ISO 3166-1 alpha-2 code.");
    }
    if let Some(e) = details.get("email")
        && validate::email(e).is_err()
    {
        errors.add("email", "'email' is not a valid email address.");
    }
    let reseller = match body.get("resellerId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match Uuid::parse_str(s) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("resellerId", "'resellerId' is not a valid GUID.");
                None
            }
        },
        Some(_) => {
            errors.add("resellerId", "'resellerId' is not a valid GUID.");
            None
        }
    };
    errors.into_result()?;
    Ok((details, reseller))
}

/// The reseller context of a request: a reseller caller is always itself
/// (naming another is 403); a CSP may name any reseller.
fn reseller_context(caller: &Caller, named: Option<Uuid>) -> Result<Option<Uuid>, Error> {
    match (caller.role, caller.org, named) {
        (Role::ResellerAdmin, Some(own), Some(n)) if n != own => Err(Error::Forbidden(
            "a reseller acts only in its own context".into(),
        )),
        (Role::ResellerAdmin, Some(own), _) => Ok(Some(own)),
        (Role::Operator, _, named) => Ok(named),
        _ => Err(Error::Forbidden("csp or reseller only".into())),
    }
}

fn query_uuid(req: &Request, name: &str) -> Result<Option<Uuid>, Error> {
    let raw = req
        .uri()
        .query()
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    match raw {
        None => Ok(None),
        Some(v) => Uuid::parse_str(&v)
            .map(Some)
            .map_err(|_| Error::invalid(name, format!("'{name}' is not a valid GUID."))),
    }
}

/// `POST /v1/Customers`: creates a customer (below the reseller context);
/// 201 with the new id as a JSON string.
pub fn customers(req: &Request, env: &mut Env, config: &Config) -> Response {
    let correlation = correlation(req);
    let result = (|| {
        if req.method() != Method::POST {
            return Err(Error::MethodNotAllowed(vec![Method::POST]));
        }
        let caller = authenticate(req, env, config)?;
        let body = web::json_object(req)?;
        let (details, named) = parse_customer(&body)?;
        let parent = reseller_context(&caller, named)?;
        let company = details.get("companyName").cloned().unwrap_or_default();
        let org = organizations::create_customer_org(
            env,
            &caller,
            &NewOrganization {
                name: company.clone(),
                company_name: Some(company),
                parent,
                details,
            },
        )
        .map_err(|e| match e {
            Error::NotFound(_) => Error::invalid("resellerId", "The reseller was not found."),
            other => other,
        })?;
        Ok(web::json(StatusCode::CREATED, &json!(org.id)))
    })();
    result.unwrap_or_else(|e| render(&e, correlation.as_deref()))
}

/// `GET /v1/Customers/{customerId}`: the customer, if in reach; with
/// `resellerId`, 403 unless that reseller is its parent.
pub fn customer(req: &Request, env: &mut Env, config: &Config) -> Response {
    let correlation = correlation(req);
    let result = (|| {
        if req.method() != Method::GET {
            return Err(Error::MethodNotAllowed(vec![Method::GET]));
        }
        let caller = authenticate(req, env, config)?;
        let not_found = || Error::NotFound("The customer was not found.".into());
        let id = web::path_param(req, "customerId")
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(not_found)?;
        let named = query_uuid(req, "resellerId")?;
        let org = organizations::get(env, &caller, id).map_err(|_| not_found())?;
        if org.kind != OrgKind::Customer {
            return Err(not_found());
        }
        if let Some(r) = reseller_context(&caller, named)?
            && org.parent != Some(r)
        {
            return Err(Error::Forbidden(
                "no relationship with that reseller".into(),
            ));
        }
        Ok(web::json(StatusCode::OK, &customer_json(&org)))
    })();
    result.unwrap_or_else(|e| render(&e, correlation.as_deref()))
}
