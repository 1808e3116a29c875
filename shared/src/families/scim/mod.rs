//! SCIM 2.0 (RFC 7643 / 7644): the dialect identity providers speak to keep
//! a customer's users and groups in sync, over the same core as the four
//! vendor families.
//!
//! # Authentication
//! `Authorization: Bearer <token>` of a SCIM connection
//! (`/admin/scim-connections`), on the tenant's own host. The token acts as
//! its customer organization's administrator and reaches nothing outside it.
//!
//! # Answers
//! `application/scim+json`; errors in the SCIM error schema ([`error`]).

pub mod bulk;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod groups;
pub mod patch;
pub mod projection;
pub mod users;

use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value};

use crate::base::error::Error;
use crate::be::storage::Env;
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config};
use crate::edge::web::{self, Request, Response};
use crate::families::scim::error::{CONTENT_TYPE, ScimError, ScimType, render};
use crate::families::scim::filter::{AttrPath, CaseExact, Filter};

/// Where the protocol's resources live on a tenant's host.
pub const BASE_PATH: &str = "/scim/v2";

/// Resources one list page holds at most (`count` is capped to it).
pub const MAX_RESULTS: usize = 200;
/// Resources a page holds when `count` is absent.
pub const DEFAULT_COUNT: usize = 100;

/// The connection's caller; 401 without a live token for this host.
fn authenticate(req: &Request, env: &Env, config: &Config) -> Result<Caller, ScimError> {
    let token = identity::scheme_token(web::header_str(req, "authorization"), "bearer")
        .ok_or_else(|| {
            Error::Unauthenticated("a SCIM connection's bearer token is required".into())
        })?;
    Ok(crate::credential::scim_connections::caller(
        env,
        config,
        token,
        web::header_str(req, "host"),
    )?)
}

/// One SCIM endpoint: the method check (405 with `Allow`), the connection's
/// caller, then `handler`; every error in the SCIM shape.
pub fn serve(
    req: &Request,
    env: &mut Env,
    config: &Config,
    allowed: &[Method],
    handler: impl FnOnce(&Caller, &mut Env) -> Result<Response, ScimError>,
) -> Response {
    if !allowed.contains(req.method()) {
        return render(&ScimError::from(Error::MethodNotAllowed(allowed.to_vec())));
    }
    authenticate(req, env, config)
        .and_then(|caller| handler(&caller, env))
        .unwrap_or_else(|e| render(&e))
}

/// A resource or list answer, with the resource's `ETag` when it has one.
pub fn respond(status: StatusCode, body: &Value, etag: Option<&str>) -> Response {
    let mut response = web::respond(
        status,
        CONTENT_TYPE,
        serde_json::to_vec(body).unwrap_or_default(),
    );
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(&weak_etag(t)).ok()) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// `W/"<version>"`: a version is a digest of the record's content, so it
/// promises equivalence, not byte-identical answers (RFC 7232 §2.1).
pub fn weak_etag(version: &str) -> String {
    format!("W/\"{version}\"")
}

/// 304 for a `GET` whose `If-None-Match` names the current version.
pub fn not_modified(req: &Request, version: &str) -> Option<Response> {
    let sent = web::header_str(req, "if-none-match")?;
    let hit = entity_tags(sent).iter().any(|t| t == "*" || t == version);
    hit.then(|| {
        let mut r = web::empty(StatusCode::NOT_MODIFIED);
        if let Ok(v) = HeaderValue::from_str(&weak_etag(version)) {
            r.headers_mut().insert(header::ETAG, v);
        }
        r
    })
}

/// The versions an `If-Match` or `If-None-Match` lists (`*` stays `*`);
/// weak and strong forms compare alike.
fn entity_tags(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let t = t.strip_prefix("W/").unwrap_or(t);
            t.trim_matches('"').to_string()
        })
        .collect()
}

/// What `If-Match` requires of a change to a resource now at `current`:
/// `Ok(None)` when it requires nothing (absent, or `*`), `Ok(Some(v))` to
/// check inside the write, 412 when no listed version is the current one.
pub fn if_match(req: &Request, current: &str) -> Result<Option<String>, ScimError> {
    let Some(sent) = web::header_str(req, "if-match") else {
        return Ok(None);
    };
    let tags = entity_tags(sent);
    if tags.iter().any(|t| t == "*") {
        return Ok(None);
    }
    if tags.iter().any(|t| t == current) {
        return Ok(Some(current.to_string()));
    }
    Err(ScimError::stale_version())
}

/// The JSON object a request carries (`application/scim+json` or
/// `application/json`), in SCIM's error shape.
pub fn body(req: &Request) -> Result<Map<String, Value>, ScimError> {
    web::json_object(req).map_err(|e| match e {
        Error::Invalid(_) => ScimError::bad(ScimType::InvalidSyntax, "the body is a JSON object"),
        other => ScimError::from(other),
    })
}

/// `scheme://host` the client addressed, for `meta.location`: the scheme
/// Spin saw and the `Host` the client sent (the tenant's domain).
pub fn origin(req: &Request) -> String {
    let scheme = web::spin_header(req, "spin-full-url")
        .and_then(|u| u.split_once("://"))
        .map(|(s, _)| s)
        .filter(|s| *s == "http" || *s == "https")
        .unwrap_or("https");
    match web::header_str(req, "host").and_then(identity::normalize_host) {
        Some(host) => {
            let port = web::header_str(req, "host")
                .and_then(|h| h.rsplit_once(':'))
                .map(|(_, p)| p)
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            match port {
                Some(p) => format!("{scheme}://{host}:{p}"),
                None => format!("{scheme}://{host}"),
            }
        }
        None => String::new(),
    }
}

/// A query string's parameters, decoded (`+` is a space).
pub fn query_params(req: &Request) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// What [`projection_params`] reads, on every read and write.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct ProjectionQuery {
    /// Comma-separated attribute paths to return (and id, schemas)
    #[schemars(with = "Option<AttributeList>")]
    pub attributes: Option<String>,
    /// Comma-separated attribute paths to leave out
    #[schemars(with = "Option<AttributeList>")]
    pub excluded_attributes: Option<String>,
}

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// Attribute paths as [`projection::parse_list`] reads them.
    AttributeList,
    {
        let path = filter::SCIM_ATTR_PATH;
        serde_json::json!({"type": "string", "maxLength": 255,
            "pattern": format!("^({path}(,{path})*)?$")})
    }
);

/// What [`list_params`] reads, with the projection.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct ListQuery {
    /// A filter (RFC 7644 3.4.2.2), e.g. userName eq "ana@example.com". The
    /// pattern gives the flat form; grouping, not and value paths are
    /// accepted too
    #[schemars(with = "Option<FlatFilter>")]
    pub filter: Option<String>,
    /// 1-based index of the first result (below 1 reads as 1)
    pub start_index: Option<i64>,
    /// Results per page, at most 200 (default 100; negative reads as 0)
    pub count: Option<i64>,
    /// An attribute path to sort by
    #[schemars(length(max = 255))]
    pub sort_by: Option<String>,
    /// Sort order
    #[schemars(extend("enum" = ["ascending", "descending"]))]
    pub sort_order: Option<String>,
    #[schemars(flatten)]
    pub projection: ProjectionQuery,
}

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// Comparisons joined by `and` / `or` ([`filter::parse`] reads the whole
    /// RFC grammar; this is the form a schema can state).
    FlatFilter,
    {
        let path = filter::SCIM_ATTR_PATH;
        let value = format!("({}|true|false|null|-?[0-9]+)", filter::SCIM_STRING);
        let test = format!("{path} (pr|(eq|ne|co|sw|ew|gt|ge|lt|le) {value})");
        serde_json::json!({"type": "string", "maxLength": 1024,
            "pattern": format!("^{test}( (and|or) {test})*$")})
    }
);

/// `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5), read before
/// anything is written so a bad one changes nothing.
pub fn projection_params(req: &Request) -> Result<(Vec<AttrPath>, Vec<AttrPath>), ScimError> {
    let mut attributes = Vec::new();
    let mut excluded = Vec::new();
    for (k, v) in query_params(req) {
        let list =
            || projection::parse_list(&v).map_err(|e| ScimError::bad(ScimType::InvalidPath, e.0));
        if k.eq_ignore_ascii_case("attributes") {
            attributes.extend(list()?);
        } else if k.eq_ignore_ascii_case("excludedAttributes") {
            excluded.extend(list()?);
        }
    }
    Ok((attributes, excluded))
}

/// A list request's parameters (RFC 7644 §3.4.2).
pub struct ListParams {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start: usize,
    pub count: usize,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
}

pub fn list_params(req: &Request) -> Result<ListParams, ScimError> {
    let mut p = ListParams {
        filter: None,
        start: 1,
        count: DEFAULT_COUNT,
        sort_by: None,
        descending: false,
    };
    let invalid = |m: &str| ScimError::bad(ScimType::InvalidValue, m);
    // Out-of-range numbers are read as the RFC says (§3.4.2.4): below 1 is
    // 1, a negative count is 0, above the maximum is the maximum.
    let number = |v: &str, name: &str| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| invalid(&format!("{name} is an integer")))
    };
    for (k, v) in query_params(req) {
        match k.to_ascii_lowercase().as_str() {
            "filter" => {
                p.filter = Some(
                    filter::parse(&v).map_err(|e| ScimError::bad(ScimType::InvalidFilter, e.0))?,
                )
            }
            "startindex" => {
                p.start = number(&v, "startIndex")?.clamp(1, i64::from(u32::MAX)) as usize
            }
            "count" => p.count = number(&v, "count")?.clamp(0, MAX_RESULTS as i64) as usize,
            "sortby" => {
                let path = filter::parse_path(&v)
                    .map_err(|e| ScimError::bad(ScimType::InvalidPath, e.0))?;
                if path.filter.is_some() {
                    return Err(ScimError::bad(
                        ScimType::InvalidPath,
                        "sortBy is an attribute path",
                    ));
                }
                p.sort_by = Some(path.attr);
            }
            "sortorder" => {
                p.descending = match v.to_ascii_lowercase().as_str() {
                    "ascending" => false,
                    "descending" => true,
                    _ => return Err(invalid("sortOrder is ascending or descending")),
                }
            }
            _ => {}
        }
    }
    Ok(p)
}

/// Filters, sorts and pages representations; returns the page and the
/// number that matched.
pub fn select(mut all: Vec<Value>, p: &ListParams, case_exact: CaseExact) -> (Vec<Value>, usize) {
    if let Some(f) = &p.filter {
        all.retain(|r| filter::matches(f, r, case_exact));
    }
    if let Some(by) = &p.sort_by {
        projection::sort(&mut all, by, p.descending, case_exact);
    }
    let total = all.len();
    let page = all
        .into_iter()
        .skip(p.start.saturating_sub(1))
        .take(p.count)
        .collect();
    (page, total)
}

/// The value a filter requires of the core attribute `name` (lower case)
/// by one `eq` at its top, alone or in an `and`: what an index answers.
pub fn required_eq<'f>(f: &'f Filter, name: &str) -> Option<&'f str> {
    match f {
        Filter::Compare(path, filter::Op::Eq, Value::String(v))
            if path.name == name
                && path.sub.is_none()
                && path
                    .urn
                    .as_deref()
                    .is_none_or(|u| u.starts_with(filter::CORE_URN)) =>
        {
            Some(v)
        }
        Filter::And(a, b) => required_eq(a, name).or_else(|| required_eq(b, name)),
        _ => None,
    }
}

/// A `ListResponse` (RFC 7644 §3.4.2) of one page.
pub fn list_response(page: Vec<Value>, total: usize, start: usize) -> Response {
    let body = serde_json::json!({
        "schemas": [users::LIST_URN],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": page.len(),
        "Resources": page,
    });
    respond(StatusCode::OK, &body, None)
}

/// One resource's answer: `representation` cut to what `attributes` and
/// `excludedAttributes` ask, its `ETag`, and for a create its `Location`
/// (`meta.location`).
pub fn resource_answer(
    req: &Request,
    status: StatusCode,
    representation: &Value,
    version: &str,
) -> Result<Response, ScimError> {
    let (attributes, excluded) = projection_params(req)?;
    let body = projection::project(representation, &attributes, &excluded);
    let mut r = respond(status, &body, Some(version));
    if status == StatusCode::CREATED
        && let Some(location) = representation["meta"]["location"].as_str()
        && let Ok(v) = HeaderValue::from_str(location)
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}
