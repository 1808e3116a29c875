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
use serde_json::{Value, json};
use uuid::Uuid;

use crate::base::error::{Error, FieldErrors};
use crate::base::model::{OrgKind, Role};
use crate::be::storage::Env;
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config};
use crate::edge::web::{self, Request, Response, header_str};

pub mod customers;
pub mod portal_users;

pub use customers::{account_info, customer, customers, internal_identifier};
pub use portal_users::{customer_users, groups, reseller_users, user, users};

fn type_name(status: u16) -> &'static str {
    match status {
        400 => "ValidationError",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        _ => "ServiceUnavailable",
    }
}

/// The vendor's `propertyName` for a core field name: `firstName` →
/// `FirstName`, `user.groups[0].id` → `Groups[0].Id` (the core's `user.`
/// prefix dropped), and a clashing caller-chosen id (`user.id`, or the
/// operation key it is used as) → `Id`.
fn property(field: &str) -> String {
    if field == "Idempotency-Key" {
        return "Id".into();
    }
    if field.starts_with("X-") {
        return field.to_string();
    }
    let field = field.strip_prefix("user.").unwrap_or(field);
    field
        .split('.')
        .map(|segment| {
            let mut chars = segment.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Renders an error, echoing the request's correlation id.
pub fn render(error: &Error, correlation: Option<&str>) -> Response {
    let status = match error.status() {
        // The vendor documents validation failures as 400. (It documents a
        // failure on its side as 500; a store that is down or failed
        // mid-way is a retryable 503 here, as in every family.)
        422 => 400,
        s => s,
    };
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let response = if matches!(status, 401 | 403) {
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
    web::error_headers(response, error, Some("Bearer"))
}

/// Renders any core error (no request at hand).
pub fn render_error(error: &Error) -> Response {
    render(error, None)
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
    let to = identity::Destination {
        host: header_str(req, "host"),
        x_tenant: header_str(req, "x-tenant"),
    };
    match identity::client_credentials(env, config, &client_id, &secret, to) {
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

/// Serves one `/v1` request: notes its correlation id (the client's
/// `X-Correlation-Id`, or a fresh uuid) for the audit log and every answer
/// (error bodies' `correlationId` and the `X-Correlation-Id` response
/// header), answers 405 for a method outside `allowed`, authenticates, and
/// runs `f`.
fn serve_v1(
    req: &Request,
    env: &mut Env,
    config: &Config,
    allowed: &[Method],
    f: impl FnOnce(&Caller, &mut Env) -> Result<Response, Error>,
) -> Response {
    let correlation = web::correlation_id(req).unwrap_or_else(|| env.new_uuid().to_string());
    env.correlation = Some(correlation.clone());
    let result = (|| {
        if !allowed.contains(req.method()) {
            return Err(Error::MethodNotAllowed(allowed.to_vec()));
        }
        let caller = authenticate(req, env, config)?;
        f(&caller, env)
    })();
    let mut response = result.unwrap_or_else(|e| render(&e, Some(&correlation)));
    if let Ok(value) = HeaderValue::from_str(&correlation) {
        response.headers_mut().insert("x-correlation-id", value);
    }
    response
}

/// An optional GUID field of a body (`null` or absent: none); a value that
/// is not one is named in `errors`.
fn body_uuid(
    body: &serde_json::Map<String, Value>,
    name: &str,
    errors: &mut FieldErrors,
) -> Option<Uuid> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if Uuid::parse_str(s).is_ok() => Uuid::parse_str(s).ok(),
        Some(_) => {
            errors.add(name, format!("'{name}' is not a valid GUID."));
            None
        }
    }
}

/// A query parameter, decoded.
fn query_value(req: &Request, name: &str) -> Option<String> {
    req.uri()
        .query()
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn query_uuid(req: &Request, name: &str) -> Result<Option<Uuid>, Error> {
    match query_value(req, name) {
        None => Ok(None),
        Some(v) => Uuid::parse_str(&v)
            .map(Some)
            .map_err(|_| Error::invalid(name, format!("'{name}' is not a valid GUID."))),
    }
}

fn query_bool(req: &Request, name: &str, default: bool) -> Result<bool, Error> {
    match query_value(req, name).as_deref() {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(Error::invalid(
            name,
            format!("'{name}' must be true or false."),
        )),
    }
}

/// A uuid path segment, else 404 with `what` ("customer").
fn path_uuid(req: &Request, name: &str, what: &str) -> Result<Uuid, Error> {
    web::path_param(req, name)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| Error::NotFound(format!("The {what} was not found.")))
}

/// Largest and default `pageSize`.
pub const MAX_PAGE_SIZE: usize = 2000;
pub const DEFAULT_PAGE_SIZE: usize = 25;

/// `pageNumber` (from 1, default 1) and `pageSize` (1..=2000, default 25).
fn paging(req: &Request) -> Result<(usize, usize), Error> {
    let mut errors = FieldErrors::default();
    let mut number = |name: &str, default: usize, max: usize| -> usize {
        match query_value(req, name) {
            None => default,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    errors.add(name, format!("'{name}' must be between 1 and {max}."));
                    default
                }
            },
        }
    };
    let page = number("pageNumber", 1, i32::MAX as usize);
    let size = number("pageSize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    errors.into_result()?;
    Ok((page, size))
}

/// What [`paging`] reads; the paged lists flatten it into their queries.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct PagingQuery {
    /// Page number, from 1
    #[schemars(range(min = 1, max = i32::MAX), extend("default" = 1))]
    pub page_number: Option<u32>,
    /// Rows per page
    #[schemars(range(min = 1, max = MAX_PAGE_SIZE), extend("default" = DEFAULT_PAGE_SIZE))]
    pub page_size: Option<u32>,
}

/// `resellerId` on an operation that reaches one customer: in reach (else
/// 403), a GUID (else 400).
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct CustomerResellerQuery {
    /// The customer must be this reseller's direct customer (else 403)
    pub reseller_id: Option<Uuid>,
}

/// `resellerId` on an operation that reaches one user.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct UserResellerQuery {
    /// The user must be in this reseller's subtree (else 403)
    pub reseller_id: Option<Uuid>,
}

/// `ascendingOrder` and `searchValue`, as both lists read them.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct SortSearchQuery {
    /// Sort direction for sortPropertyName (`true`/`false`, any case)
    #[schemars(extend("default" = true))]
    pub ascending_order: Option<bool>,
    /// Text searched for (case-insensitive); blank is ignored
    #[schemars(length(max = 255))]
    pub search_value: Option<String>,
}

/// The documented paged collection: `totalCount` rows, over `span` slots
/// (see [`crate::idm::listing::Page::span`]).
fn paged(items: Vec<Value>, page: usize, size: usize, total: usize, span: usize) -> Value {
    let pages = page_count(size, total, span);
    json!({
        "items": items,
        "paginationParameters": {"pageNumber": page, "pageSize": size},
        "totalPages": pages,
        "totalCount": total,
        "hasPreviousPage": page > 1,
        "hasNextPage": page < pages,
        "continuationToken": null,
    })
}

/// Pages of `size` over the matches counted, or over the rows a capped
/// scan spanned if more.
fn page_count(size: usize, total: usize, span: usize) -> usize {
    span.max(total).div_ceil(size)
}

impl<T> Paged<T> {
    /// [`paged`]'s page, rendered from a type: the customers list's, where
    /// that is smaller than building the `Value` (the users' and groups'
    /// lists measured larger typed: cc-users by 507 bytes).
    fn new(items: Vec<T>, page: usize, size: usize, total: usize, span: usize) -> Self {
        let pages = page_count(size, total, span);
        Paged {
            items,
            pagination_parameters: PaginationParameters {
                page_number: page,
                page_size: size,
            },
            total_pages: pages,
            total_count: total,
            has_previous_page: page > 1,
            has_next_page: page < pages,
            continuation_token: None,
        }
    }
}

/// A page of a list (`PagedResult`).
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub pagination_parameters: PaginationParameters,
    pub total_pages: usize,
    pub total_count: usize,
    pub has_previous_page: bool,
    pub has_next_page: bool,
    /// Always null: pages are numbered
    #[cfg_attr(feature = "openapi", schemars(with = "()"))]
    pub continuation_token: Option<()>,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PaginationParameters {
    pub page_number: usize,
    pub page_size: usize,
}

/// The reseller a request names with `resellerId`: one the caller reaches
/// (itself or a reseller below it; else 403, as a missing relationship is).
/// CSP and reseller callers only.
fn named_reseller(env: &Env, caller: &Caller, named: Option<Uuid>) -> Result<Option<Uuid>, Error> {
    if !matches!(caller.role, Role::Operator | Role::ResellerAdmin) {
        return Err(Error::Forbidden("csp or reseller only".into()));
    }
    let Some(n) = named else {
        return Ok(None);
    };
    if caller.org == Some(n) {
        return Ok(Some(n));
    }
    crate::idm::organizations::get(env, caller, n)
        .ok()
        .filter(|o| o.kind == OrgKind::Reseller)
        .map(|o| Some(o.id))
        .ok_or_else(|| Error::Forbidden("no such reseller in reach".into()))
}

/// The reseller context of a request: the named reseller, or for a
/// reseller caller itself (a CSP without one acts directly).
fn reseller_context(
    env: &Env,
    caller: &Caller,
    named: Option<Uuid>,
) -> Result<Option<Uuid>, Error> {
    Ok(named_reseller(env, caller, named)?.or(match caller.role {
        Role::ResellerAdmin => caller.org,
        _ => None,
    }))
}

/// With `resellerId`, the organization must be that reseller's direct
/// customer (403 otherwise); without it, reach (already checked) is enough.
fn related(
    env: &Env,
    caller: &Caller,
    named: Option<Uuid>,
    org: &crate::base::model::Organization,
) -> Result<(), Error> {
    match named_reseller(env, caller, named)? {
        Some(r) if org.parent != Some(r) => Err(Error::Forbidden(
            "no relationship with that reseller".into(),
        )),
        _ => Ok(()),
    }
}

/// The caller narrowed to the reseller `resellerId` names (its subtree), or
/// as it is. The reseller must be one in reach (else 403, as a missing
/// relationship is).
fn scoped(env: &Env, caller: &Caller, named: Option<Uuid>) -> Result<Caller, Error> {
    match named_reseller(env, caller, named)? {
        Some(r) if caller.org != Some(r) => {
            let org = crate::idm::organizations::get(env, caller, r)
                .ok()
                .filter(|o| o.kind == OrgKind::Reseller)
                .ok_or_else(|| Error::Forbidden("no such reseller in reach".into()))?;
            Ok(Caller {
                org: Some(org.id),
                role: Role::ResellerAdmin,
                ..caller.clone()
            })
        }
        _ => Ok(caller.clone()),
    }
}
