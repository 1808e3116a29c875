//! SCIM's error answer (RFC 7644 §3.12): the core's errors, and the few only
//! SCIM has (a bad filter or path, a stale `If-Match`), rendered in one
//! place as `urn:ietf:params:scim:api:messages:2.0:Error` with `status` as a
//! string and a `scimType` where the RFC defines one.

use http::StatusCode;
use serde_json::{Value, json};

use crate::base::error::Error;
use crate::edge::web::{self, Response};

pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const CONTENT_TYPE: &str = "application/scim+json";

/// The `scimType`s of RFC 7644 Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// An error as SCIM answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// The core error it came from, for the headers it implies (`Allow`,
    /// `Retry-After`, `WWW-Authenticate`).
    pub core: Option<Error>,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
            core: None,
        }
    }

    /// 400 with a `scimType`.
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    /// 412: the resource's version is not the `If-Match` the client sent.
    pub fn stale_version() -> Self {
        // RFC 7644 §3.14: a plain 412 (`invalidVers` is the protocol's
        // version, §3.13).
        Self::new(
            412,
            None,
            "the resource changed since the version in If-Match",
        )
    }
}

impl From<Error> for ScimError {
    fn from(e: Error) -> Self {
        let scim_type = match &e {
            Error::Malformed(_) => Some(ScimType::InvalidSyntax),
            Error::Invalid(_) => Some(ScimType::InvalidValue),
            _ => None,
        };
        // SCIM has no 422: a value the core refuses is 400 invalidValue.
        let status = match &e {
            Error::Invalid(_) => 400,
            other => other.status(),
        };
        Self {
            status,
            scim_type,
            detail: e.message(),
            core: Some(e),
        }
    }
}

/// The error's body (also a Bulk operation's `response`).
pub fn body(e: &ScimError) -> Value {
    let mut body = json!({
        "schemas": [ERROR_URN],
        "status": e.status.to_string(),
        "detail": e.detail,
    });
    if let Some(t) = e.scim_type {
        body["scimType"] = json!(t.as_str());
    }
    body
}

/// The error answer.
pub fn render(e: &ScimError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let bytes = serde_json::to_vec(&body(e)).unwrap_or_default();
    let response = web::respond(status, CONTENT_TYPE, bytes);
    match &e.core {
        Some(core) => web::error_headers(response, core, Some("Bearer realm=\"scim\"")),
        None => response,
    }
}

/// The core's error as SCIM answers it (what the component entry point
/// takes for errors met before the family's handler runs).
pub fn render_error(e: &Error) -> Response {
    render(&ScimError::from(e.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::FieldErrors;

    fn body(r: &Response) -> serde_json::Value {
        serde_json::from_slice(r.body()).unwrap()
    }

    #[test]
    fn errors_have_the_scim_shape() {
        let r = render(&ScimError::bad(
            ScimType::InvalidFilter,
            "expected an operator",
        ));
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["content-type"], CONTENT_TYPE);
        assert_eq!(
            body(&r),
            json!({"schemas": [ERROR_URN], "status": "400", "scimType": "invalidFilter",
                   "detail": "expected an operator"})
        );
        let r = render(&ScimError::stale_version());
        assert_eq!(r.status(), 412);
        assert!(body(&r).get("scimType").is_none());
    }

    #[test]
    fn core_errors_keep_their_status_and_headers() {
        let r = render_error(&Error::Unauthenticated("no token".into()));
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
        assert!(body(&r).get("scimType").is_none());
        let r = render_error(&Error::MethodNotAllowed(vec![http::Method::GET]));
        assert_eq!(
            (r.status().as_u16(), &r.headers()["allow"]),
            (405, &"GET".parse::<http::HeaderValue>().unwrap())
        );
        let mut fields = FieldErrors::default();
        fields.add("userName", "is required");
        let r = render_error(&Error::Invalid(fields));
        assert_eq!(
            (r.status().as_u16(), body(&r)["scimType"].clone()),
            (400, json!("invalidValue"))
        );
    }
}
