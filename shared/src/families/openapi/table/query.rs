//! Query parameters of every operation that reads the query string, as the
//! handlers parse them (for `shared/src/edge/openapi.rs`). Each schema admits
//! only values the handler accepts, or that it rejects with a status the
//! operation documents (so a generated value never draws an undocumented
//! answer).
//!
//! Sources: `crate::idm::listing::parse` (Clone lists), `families::clone::{
//! query_flag, query_value}`, `families::clone::session`, `families::clone::
//! current_user` (permissions), `families::cloudcockpit::{paging, query_uuid,
//! query_bool}` and its customers / portal_users handlers,
//! `families::apiculus::{lifecycle, state_list}`, `families::gcore::{
//! users::query_number, TokenFilter}`.

use serde_json::{Value, json};

/// One query parameter object.
fn param(name: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": schema,
           "description": description})
}

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

/// A `YYYY-MM-DD` date or an ISO-8601 date-time (`crate::base::time::parse_iso8601`).
fn date_or_date_time() -> Value {
    json!({"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]})
}

// ---------------------------------------------------------------- Clone ---

/// The Clone list query (`crate::idm::listing::parse`) over `columns`: `q[<col>]`
/// filters, `sort_by`, the date window and page / per_page. Every malformed
/// value is 422 naming the parameter; unknown parameters are ignored.
fn clone_list(columns: &[&str]) -> Vec<Value> {
    let mut sorts: Vec<String> = Vec::new();
    for c in columns {
        sorts.extend([
            c.to_string(),
            format!("-{c}"),
            format!("{c}:asc"),
            format!("{c}:desc"),
        ]);
    }
    let mut out = vec![
        param(
            "page",
            false,
            // listing::parse: 1..=1_000_000, else 422.
            json!({"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}),
            "Page number, from 1",
        ),
        param(
            "per_page",
            false,
            json!({"type": "integer", "minimum": 1, "maximum": crate::idm::listing::MAX_PER_PAGE,
                   "default": crate::idm::listing::DEFAULT_PER_PAGE}),
            "Rows per page",
        ),
        param(
            "sort_by",
            false,
            json!({"type": "string", "enum": sorts}),
            "Sort column; `-col` or `col:desc` for descending",
        ),
        param(
            "date_range_start",
            false,
            date_or_date_time(),
            "Window start on the list's date column (inclusive)",
        ),
        param(
            "date_range_end",
            false,
            date_or_date_time(),
            "Window end (inclusive; a bare date ends at the end of that day); not before date_range_start",
        ),
        param(
            "relative_date_range",
            false,
            // listing::relative_range: <n><unit> with n 1..=100000, or
            // <1-4>q<year> / <1-12>M<year> with year 1970..=9999.
            json!({"type": "string",
                   "pattern": "^([1-9][0-9]{0,4}[smhdMqy]|[1-4]q(19[7-9][0-9]|[2-9][0-9]{3})|([1-9]|1[0-2])M(19[7-9][0-9]|[2-9][0-9]{3}))$"}),
            "`10d` (last ten days; units s m h d M q y), or `1q2020`, `2M2024`; replaces the date window",
        ),
    ];
    for c in columns {
        out.push(param(
            &format!("q[{c}]"),
            false,
            json!({"type": "string"}),
            &format!("Filter on {c}: case-insensitive, `*` matches any run"),
        ));
    }
    out
}

/// `GET /v2/user/permissions?permissions=A,B`: the codes the Clone family knows.
fn permissions() -> Vec<Value> {
    use crate::families::clone::PERMISSIONS;
    let code = format!("({})", PERMISSIONS.join("|"));
    vec![param(
        "permissions",
        false,
        // Unknown code: 422; a code the caller lacks: 403 (both documented).
        json!({"type": "string", "pattern": format!("^{code}(,{code})*$")}),
        &format!(
            "Comma-separated permission codes to check ({}); 403 when one is not held",
            PERMISSIONS.join(", ")
        ),
    )]
}

/// `POST /auth/sign_in`: every query pair fills a field the JSON body lacks
/// (the body wins), as the vendor's generated curl sends them.
fn sign_in() -> Vec<Value> {
    let code = json!({"type": "string", "minLength": 1, "maxLength": 64, "pattern": "\\S"});
    vec![
        param(
            "username",
            false,
            json!({"type": "string", "minLength": 1}),
            "The email, when the body has none",
        ),
        param(
            "password",
            false,
            json!({"type": "string", "minLength": 1}),
            "The password, when the body has none",
        ),
        // uncertain: any otp_session_state (body or query) switches sign-in to
        // the second step; a bogus one is 401, a missing code 422.
        param(
            "otp_session_state",
            false,
            json!({"type": "string", "minLength": 1, "maxLength": 128}),
            "Second step: the state the first step answered",
        ),
        param(
            "otp_attempt",
            false,
            code.clone(),
            "Second step: an authenticator code",
        ),
        param(
            "recovery_code",
            false,
            code,
            "Second step: a recovery code (instead of otp_attempt)",
        ),
    ]
}

// --------------------------------------------------------- CloudCockpit ---

/// `pageNumber` (1..=i32::MAX) and `pageSize` (1..=2000); else 400.
fn cc_paging() -> Vec<Value> {
    vec![
        param(
            "pageNumber",
            false,
            json!({"type": "integer", "minimum": 1, "maximum": i32::MAX, "default": 1}),
            "Page number, from 1",
        ),
        param(
            "pageSize",
            false,
            json!({"type": "integer", "minimum": 1,
                   "maximum": crate::families::cloudcockpit::MAX_PAGE_SIZE, "default": 25}),
            "Rows per page",
        ),
    ]
}

/// `resellerId`: a reseller in reach (else 403); not a GUID: 400.
fn cc_reseller(description: &str) -> Value {
    param("resellerId", false, uuid(), description)
}

/// `ascendingOrder` (`true`/`false`, any case; else 400). Without
/// `sortPropertyName` it changes nothing.
fn cc_ascending() -> Value {
    param(
        "ascendingOrder",
        false,
        json!({"type": "boolean", "default": true}),
        "Sort direction for sortPropertyName",
    )
}

/// `searchValue`: at most 255 characters (else 400); blank is ignored.
fn cc_search(description: &str) -> Value {
    param(
        "searchValue",
        false,
        json!({"type": "string", "maxLength": 255}),
        description,
    )
}

fn cc_customers() -> Vec<Value> {
    let mut out = cc_paging();
    out.extend([
        cc_reseller("Only that reseller's customers"),
        param(
            "includeDeleted",
            false,
            json!({"type": "boolean", "default": true}),
            "Include deleted customers",
        ),
        cc_ascending(),
        cc_search("Substring searched in searchField (case-insensitive)"),
        param(
            "searchField",
            false,
            json!({"type": "string", "default": "Company.Name",
                   "enum": ["Company.Name", "InternalIdentifier", "Domain", "ProviderCustomerId"]}),
            "Field searchValue looks in (needs searchValue); Domain and ProviderCustomerId match nothing here",
        ),
        param(
            "sortPropertyName",
            false,
            json!({"type": "string", "enum": ["Company.Name"]}),
            "Sort by company name",
        ),
    ]);
    out
}

fn cc_users() -> Vec<Value> {
    let guid = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}";
    let mut out = cc_paging();
    out.extend([
        cc_reseller("Only users in that reseller's subtree"),
        cc_ascending(),
        cc_search("Substring of the name or email (case-insensitive)"),
        param(
            "sortPropertyName",
            false,
            json!({"type": "string", "enum": ["Name", "Email"]}),
            "Sort column",
        ),
        param(
            "groups",
            false,
            // Each comma-separated part must parse as a GUID (else 400).
            json!({"type": "string", "pattern": format!("^{guid}(,{guid})*$")}),
            "Comma-separated group ids: users in any of them",
        ),
    ]);
    out
}

// --------------------------------------------------------------- Gcore ---

/// `limit` (0..=1000, default 50; 0 reads as 1) and `offset` (default 0, at
/// most usize::MAX / 2, which is i32::MAX on wasm32); else 400.
fn gcore_limit_offset() -> Vec<Value> {
    vec![
        param(
            "limit",
            false,
            json!({"type": "integer", "minimum": 0, "maximum": 1000, "default": 50}),
            "Rows to return (0 is read as 1)",
        ),
        param(
            "offset",
            false,
            json!({"type": "integer", "minimum": 0, "maximum": i32::MAX, "default": 0}),
            "Rows to skip",
        ),
    ]
}

/// `GET /iam/v2/clients/{clientId}/tokens` filters (`gcore::TokenFilter`).
/// A bad value is 400, which this operation does not list: the schemas are
/// exact.
fn gcore_token_filters() -> Vec<Value> {
    // u64 in the code; bounded to JSON-safe integers here.
    let user_number =
        json!({"type": "integer", "minimum": 0, "maximum": 9_007_199_254_740_991_u64});
    vec![
        param(
            "role",
            false,
            json!({"type": "string",
                   "enum": ["1", "Administrators", "2", "5", "3009", "3022", "Users", "Engineers"]}),
            "Token role: 1/Administrators, or any other role id or name for non-administrator tokens",
        ),
        param(
            "issued_by",
            false,
            user_number.clone(),
            "Only tokens of this user id",
        ),
        param(
            "not_issued_by",
            false,
            user_number,
            "Only tokens not of this user id",
        ),
        // uncertain: read by nobody; any value is accepted and ignored.
        param(
            "deleted",
            false,
            json!({"type": "boolean"}),
            "Accepted and ignored: deleted tokens are never listed",
        ),
    ]
}

// ----------------------------------------------------------- the table ---

/// `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5), on every read.
fn scim_projection() -> Vec<Value> {
    let path = super::SCIM_ATTR_PATH;
    let list = json!({"type": "string", "maxLength": 255,
        "pattern": format!("^({path}(,{path})*)?$")});
    vec![
        param(
            "attributes",
            false,
            list.clone(),
            "Comma-separated attribute paths to return (and id, schemas)",
        ),
        param(
            "excludedAttributes",
            false,
            list,
            "Comma-separated attribute paths to leave out",
        ),
    ]
}

/// Comparisons joined by `and` / `or` (`scim::filter` reads the whole RFC
/// grammar; this is the form a schema can state).
fn scim_filter() -> Value {
    let path = super::SCIM_ATTR_PATH;
    let value = format!("({}|true|false|null|-?[0-9]+)", super::SCIM_STRING);
    let test = format!("{path} (pr|(eq|ne|co|sw|ew|gt|ge|lt|le) {value})");
    json!({"type": "string", "maxLength": 1024,
        "pattern": format!("^{test}( (and|or) {test})*$")})
}

/// A SCIM list's parameters (RFC 7644 §3.4.2).
fn scim_list() -> Vec<Value> {
    let mut out = vec![
        param(
            "filter",
            false,
            scim_filter(),
            "A filter (RFC 7644 3.4.2.2), e.g. userName eq \"ana@example.com\". The pattern \
             gives the flat form; grouping, not and value paths are accepted too",
        ),
        param(
            "startIndex",
            false,
            json!({"type": "integer"}),
            "1-based index of the first result (below 1 reads as 1)",
        ),
        param(
            "count",
            false,
            json!({"type": "integer"}),
            "Results per page, at most 200 (default 100; negative reads as 0)",
        ),
        param(
            "sortBy",
            false,
            json!({"type": "string", "maxLength": 255}),
            "An attribute path to sort by",
        ),
        param(
            "sortOrder",
            false,
            json!({"type": "string", "enum": ["ascending", "descending"]}),
            "Sort order",
        ),
    ];
    out.extend(scim_projection());
    out
}

/// The query parameters of `method` (any case) `path` (the OpenAPI path of
/// [`OPERATIONS`]); empty for an operation that ignores its query string.
pub fn query_parameters(method: &str, path: &str) -> Vec<Value> {
    let method = method.to_ascii_lowercase();
    match (method.as_str(), path) {
        // Clone v2.
        ("post", "/auth/sign_in") => sign_in(),
        // Each account-flow field may come in the query instead of the body,
        // as sign-in's do; the GETs read them only there.
        ("get" | "post", "/auth/confirmation") => vec![param(
            "confirmation_token",
            false,
            json!({"type": "string", "minLength": 1}),
            "The confirmation token (required, here or in the body)",
        )],
        ("get" | "put", "/auth/invitation") => vec![param(
            "invitation_token",
            false,
            json!({"type": "string", "minLength": 1}),
            "The invitation token (required, here or in the body)",
        )],
        ("post", "/auth/sms_otp") => vec![param(
            "otp_session_state",
            false,
            json!({"type": "string", "minLength": 1}),
            "The pending sign-in's state (required, here or in the body)",
        )],
        ("post", "/auth/password") => vec![param(
            "email",
            false,
            json!({"type": "string", "minLength": 1}),
            "The email (required, here or in the body)",
        )],
        ("put", "/auth/password") => vec![param(
            "reset_password_token",
            false,
            json!({"type": "string", "minLength": 1}),
            "The reset token (required, here or in the body)",
        )],
        ("get", "/v2/users") => clone_list(&crate::idm::users::LIST_COLUMNS),
        // SCIM.
        ("get", "/scim/v2/Users" | "/scim/v2/Groups") => scim_list(),
        (
            "get" | "put" | "patch" | "post",
            "/scim/v2/Users/{id}" | "/scim/v2/Users" | "/scim/v2/Groups/{id}" | "/scim/v2/Groups",
        ) => scim_projection(),
        ("delete", "/v2/users/{id}") => vec![param(
            "purge",
            false,
            // query_flag: exactly true/false, else 422; purge needs an operator (403).
            json!({"type": "boolean", "default": false}),
            "Operators: erase the record and free the email (else a soft delete)",
        )],
        ("get", "/v2/user/permissions") => permissions(),
        ("post", "/auth/impersonate") => vec![param(
            "uuid",
            true,
            uuid(),
            "The user to impersonate (narrower role, in reach)",
        )],
        ("delete", "/auth/impersonate") => vec![param(
            "impersonator_revert_token",
            false,
            json!({"type": "string", "minLength": 1, "maxLength": 128}),
            "The revert token, when the body has none (the body wins)",
        )],
        ("get", "/v2/organizations") => clone_list(&crate::idm::organizations::LIST_COLUMNS),
        ("put", "/v2/organizations/move") => vec![
            param("user_id", true, uuid(), "The user to move"),
            param(
                "organization_id",
                true,
                uuid(),
                "The organization to move to",
            ),
        ],
        ("get", "/v2/organizations/{id}/subscriptions") => vec![param(
            "active",
            false,
            // query_flag: exactly true/false; anything else is 422, which this
            // operation does not list.
            json!({"type": "boolean", "default": false}),
            "Only active subscriptions",
        )],
        ("get", "/v2/audit/events") => clone_list(&crate::idm::audit::COLUMNS),

        // CloudCockpit v1.
        ("get", "/v1/Customers") => cc_customers(),
        ("get" | "delete", "/v1/Customers/{customerId}") => vec![cc_reseller(
            "The customer must be this reseller's direct customer (else 403)",
        )],
        ("get" | "post", "/v1/customer/{customerId}/users") => vec![cc_reseller(
            "The customer must be this reseller's direct customer (else 403)",
        )],
        ("get", "/v1") => cc_users(),
        ("patch" | "delete", "/v1/users/{email}") => vec![cc_reseller(
            "The user must be in this reseller's subtree (else 403)",
        )],
        ("get", "/v1/users/groups") => {
            let mut params = cc_paging();
            params.push(param(
                "organizationId",
                false,
                uuid(),
                "List the groups assignable in this organization (one in reach; \
                 default the caller's own) rather than the caller's",
            ));
            params
        }

        // Apiculus.
        ("get", "/api/v1/stateList") => vec![param(
            "code",
            true,
            // reference::country: two upper-case letters; unknown: 404.
            json!({"type": "string", "pattern": "^[A-Z]{2}$"}),
            "The country's objectId (ISO 3166-1 alpha-2, upper case)",
        )],
        (
            "put",
            "/api/v1/serv_disableUserAccount/{id}"
            | "/api/v1/serv_enableUserAccount/{id}"
            | "/api/v1/serv_restrictUserAccount/{id}"
            | "/api/v1/serv_terminateUserAccount/{id}",
        ) => vec![param(
            "manual",
            true,
            // Exactly the text `true` (case-sensitive); absent or any other: 422.
            json!({"type": "boolean", "enum": [true]}),
            "Must be true",
        )],

        // Gcore IAM.
        ("get", "/iam/users") => gcore_limit_offset(),
        ("get", "/iam/v2/clients/{clientId}/tokens") => gcore_token_filters(),
        ("get", "/admin/scim-connections") => vec![param(
            "organization_id",
            true,
            uuid(),
            "The customer organization whose live connections are listed",
        )],

        _ => Vec::new(),
    }
}

#[cfg(test)]
mod query_parameter_tests {
    use super::*;

    #[test]
    fn lists_document_paging_and_filters() {
        let names: Vec<String> = query_parameters("GET", "/v2/users")
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        for n in [
            "page",
            "per_page",
            "sort_by",
            "relative_date_range",
            "q[email]",
        ] {
            assert!(names.iter().any(|x| x == n), "{n}");
        }
        assert!(query_parameters("get", "/health").is_empty());
        let uuid = &query_parameters("post", "/auth/impersonate")[0];
        assert_eq!(
            (uuid["name"].as_str(), uuid["required"].as_bool()),
            (Some("uuid"), Some(true))
        );
    }

    #[test]
    fn the_relative_range_pattern_matches_what_the_code_takes() {
        // Every value the pattern admits parses (listing::relative_range).
        let now = crate::base::time::parse_iso8601("2024-05-10T12:00:00Z").unwrap();
        for ok in ["1s", "10d", "99999y", "3M", "1q1970", "4q9999", "12M2024"] {
            assert!(
                crate::idm::listing::relative_range(ok, now).is_some(),
                "{ok}"
            );
        }
    }
}
