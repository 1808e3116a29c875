//! The OpenAPI 3.1 document of every route and method the app answers,
//! built from one table ([`OPERATIONS`]) so that it cannot drift from the
//! routes: the integration tests check the table against spin.toml and
//! against the methods each component really answers, and that the
//! committed `shared/openapi.json` is what [`document`] builds.
//!
//! The schemas of request bodies, query parameters ([`query`]) and most
//! success bodies ([`success`]) are derived from the Rust types beside the
//! code that reads or renders them; the table adds the seeds' example
//! requests, and writes out only what is not one type (the SCIM PatchOp and
//! Bulk grammars). Each family's error shape is a schema of its own.

use serde_json::{Map, Value, json};

use crate::base::schema::body;
use crate::families::clone::account::bodies as account;
use crate::families::clone::bodies as clone;
use crate::families::clone::session::bodies as session;
use crate::families::clone::two_factor::bodies as two_factor;
use crate::families::cloudcockpit as cc;
use crate::families::gcore;
use crate::families::scim::filter::SCIM_STRING;

mod query;
mod success;

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `Authorization: Bearer <admin_key>` (with `X-Tenant` for tenant-level
    /// calls) or a Clone operator credential.
    Admin,
    /// Clone: `Authorization: Bearer <session>` or `Basic <access token>`.
    Clone,
    /// Clone sign-in: `x-api-key`.
    CloneApp,
    /// CloudCockpit: OAuth2 client credentials bearer and `X-Tenant`.
    CloudCockpit,
    /// Apiculus: `x-access-token`.
    Apiculus,
    /// Gcore: `Authorization: APIKey <token>` or `Bearer <access JWT>`.
    Gcore,
    /// SCIM: `Authorization: Bearer <token>` of a SCIM connection.
    Scim,
    /// The console's session cookie (with `X-CSRF-Token`).
    Console,
}

/// One operation: method, path (OpenAPI form), family tag, summary, auth,
/// the statuses it answers, and its request body schema, if any.
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub statuses: &'static [u16],
    pub body: fn() -> Option<Value>,
}

fn none() -> Option<Value> {
    None
}

fn object(required: &[&str], props: Value) -> Option<Value> {
    Some(json!({"type": "object", "required": required, "properties": props}))
}

/// A body schema with the seed's example request (real values where the
/// vendor prints placeholders).
fn with_example(schema: Option<Value>, example: Value) -> Option<Value> {
    schema.map(|mut s| {
        s["examples"] = json!([example]);
        s
    })
}

fn seed_000() -> Option<Value> {
    with_example(
        seed_000_schema(),
        json!({"customer": {
            "organization_id": "7c60d51f-b44e-4682-87d6-449835ea4de6",
            "organization": {"name": "Organization name", "description": "Organization description",
                "company_name": "Company name", "skip_default_subscription": false,
                "parent_organization": "5d702bf8-e908-41df-92de-feea0acf2f4e"},
            "user": {"email": "user@clone-systems.com", "first_name": "Joe", "last_name": "Doe",
                "locale": "en", "timezone": "UTC", "phone": "2353032211",
                "password": "Password123", "password_confirmation": "Password123"},
            "plans": [{"plan": "pci_plan", "partner": false, "interval": "yearly",
                "start_date": "2025-01-01", "end_date": "2026-01-01T00:00:00Z"}]}}),
    )
}

fn seed_000_schema() -> Option<Value> {
    Some(body::<clone::CreateCustomerBody>())
}

fn seed_001() -> Option<Value> {
    with_example(
        seed_001_schema(),
        json!({"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "firstName": "Ana", "lastName": "Silva",
            "email": "ana.silva@contoso.example", "role": {},
            "groups": [{"id": "6f9619ff-8b86-d011-b42d-00c04fc964ff", "name": "Engineers"}]}),
    )
}

fn seed_001_schema() -> Option<Value> {
    Some(body::<crate::families::cloudcockpit::portal_users::UserBody>())
}

fn seed_002() -> Option<Value> {
    with_example(
        seed_002_schema(),
        json!({"user": {"email": "user@clone-systems.com",
            "organization_id": "7c60d51f-b44e-4682-87d6-449835ea4de6", "first_name": "Joe",
            "last_name": "Doe", "locale": "en", "timezone": "UTC", "phone": "2353032211",
            "mobile_phone": "+3053032211", "url": "clone-systems.com", "title": "Software Engineer",
            "address": "Street 33", "city": "Athens", "state": "State", "country": "Greece",
            "zipcode": "10431", "comment": "A comment"}}),
    )
}

fn seed_002_schema() -> Option<Value> {
    user_change(true)
}

/// `PUT /v2/user/me`: seed 002's fields but the organization, which the
/// signed-in user does not change (422 `user.organization_id`).
fn own_user_change() -> Option<Value> {
    user_change(false)
}

fn user_change(with_organization: bool) -> Option<Value> {
    let mut schema = body::<clone::UserChangeBody>();
    if !with_organization {
        schema["properties"]["user"]["properties"]
            .as_object_mut()
            .map(|p| p.remove("organization_id"));
    }
    Some(schema)
}

fn seed_003() -> Option<Value> {
    with_example(
        seed_003_schema(),
        json!({"fname": "user", "lname": "sample", "email": "usersample@gmail.com",
            "organization_name": "Indiqus", "countryCode": "91", "mobileNumber": "9876543210",
            "password": "UserSam@178", "acsRegion": "noida", "address": "xyz street",
            "city": "Bangalore", "state": "Karnataka", "country": "IN", "zipcode": 607878,
            "currency": "INR", "tax_category": "Taxable", "tax_type1": "CNPJ",
            "taxation_id1": "3453242343234", "tax_type2": "GSTIN", "taxation_id2": "1234567890",
            "tax_type3": "", "taxation_id3": "", "credit_period": 2, "credit_limit": 1000,
            "resellerCode": "CODE"}),
    )
}

fn seed_003_schema() -> Option<Value> {
    Some(body::<crate::families::apiculus::accounts::CreateNewUserBody>())
}

/// A pattern matching exactly the strings of `values`.
fn one_of(values: &[&str]) -> String {
    let escaped: Vec<String> = values
        .iter()
        .map(|v| {
            v.chars()
                .flat_map(|c| {
                    let meta = "\\.+*?()|[]{}^$".contains(c);
                    meta.then_some('\\').into_iter().chain([c])
                })
                .collect()
        })
        .collect();
    format!("^({})$", escaped.join("|"))
}

fn seed_004() -> Option<Value> {
    with_example(
        seed_004_schema(),
        json!({"email": "jsmith@example.com", "password": "Str0ng-password", "company": "Smith Ltd",
            "user_type": "common", "name": "John Smith", "phone": "+15550100", "seller": 123,
            "services": [{"product_name": "CDN", "available": true}], "lang": "de",
            "custom_id": "crm-123", "country_code": "US", "is_test": true}),
    )
}

fn seed_004_schema() -> Option<Value> {
    Some(body::<crate::families::gcore::users::CreateUserBody>())
}

/// A string `Fields::required` accepts: present, not blank, at most 255.
fn non_blank() -> Value {
    json!({"type": "string", "maxLength": 255, "pattern": "\\S"})
}

fn admin_tenant() -> Option<Value> {
    Some(body::<crate::idm::admin::NewTenant>())
}

fn admin_tenant_change() -> Option<Value> {
    Some(body::<crate::idm::admin::TenantChange>())
}

fn confirmation_token() -> Option<Value> {
    Some(body::<account::Confirmation>())
}

fn invitation_accept() -> Option<Value> {
    Some(body::<account::InvitationAccept>())
}

fn invitation_resend() -> Option<Value> {
    Some(body::<account::InvitationResend>())
}

fn password_reset() -> Option<Value> {
    Some(body::<account::PasswordReset>())
}

fn otp_session_state() -> Option<Value> {
    Some(body::<account::OtpSessionState>())
}

fn forgot_password() -> Option<Value> {
    Some(body::<account::ForgotPassword>())
}

fn admin_reseller() -> Option<Value> {
    Some(body::<crate::idm::admin::NewReseller>())
}

fn admin_account() -> Option<Value> {
    Some(body::<crate::families::service::AccountBody>())
}

fn admin_two_factor_reset() -> Option<Value> {
    Some(body::<crate::families::service::TwoFactorResetBody>())
}

fn console_sign_in() -> Option<Value> {
    Some(body::<crate::families::console::SignInBody>())
}

fn admin_account_status() -> Option<Value> {
    Some(body::<crate::families::service::AccountStatusBody>())
}

fn admin_api_client() -> Option<Value> {
    Some(body::<crate::families::service::NewApiClient>())
}

fn admin_scim_connection() -> Option<Value> {
    Some(body::<
        crate::families::service::scim_connection_bodies::NewScimConnection,
    >())
}

/// A SCIM string attribute: text up to 255 characters, or null to clear it.
fn scim_text() -> Value {
    json!({"type": ["string", "null"], "maxLength": 255})
}

/// A PatchOp's `op` (`scim::patch`: any case).
fn scim_patch_op() -> Value {
    json!({"type": "string",
        "pattern": "^([Aa][Dd][Dd]|[Rr][Ee][Mm][Oo][Vv][Ee]|[Rr][Ee][Pp][Ll][Aa][Cc][Ee])$",
        "description": "add, remove or replace (any case)"})
}

/// A SCIM User as POST and PUT read it (`scim::users::bodies::User`).
fn scim_user() -> Option<Value> {
    with_example(
        Some(body::<crate::families::scim::users::bodies::User>()),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ana@example.com",
               "externalId": "00u1a2b3", "name": {"givenName": "Ana", "familyName": "Lima"},
               "emails": [{"value": "ana@example.com", "type": "work", "primary": true}], "active": true}),
    )
}

/// A SCIM Group as POST and PUT read it (`scim::groups::bodies::Group`).
fn scim_group() -> Option<Value> {
    with_example(
        Some(body::<crate::families::scim::groups::bodies::Group>()),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering",
               "members": []}),
    )
}

/// A SCIM User as PUT reads it: no password (a user changes their own).
fn scim_user_replace() -> Option<Value> {
    scim_user().map(|mut s| {
        if let Some(p) = s["properties"].as_object_mut() {
            p.remove("password");
        }
        s
    })
}

/// A SCIM PatchOp (RFC 7644 §3.5.2) whose operations are `ops` (each
/// an alternative of the operation object).
fn scim_patch(ops: Vec<Value>, example: Value) -> Option<Value> {
    with_example(
        object(
            &["schemas", "Operations"],
            json!({
                "schemas": {"type": "array", "items": {"type": "string",
                    "enum": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]},
                    "minItems": 1, "maxItems": 1},
                "Operations": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {
                    "type": "object", "required": ["op"], "anyOf": ops, "properties": {
                        "op": scim_patch_op(),
                        "path": {"type": "string", "description": "An attribute path, e.g. emails[type eq \"work\"].value"},
                        "value": {}}}},
            }),
        ),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [example]}),
    )
}

/// `remove` at one of `paths` (a pattern).
fn scim_remove(paths: &str) -> Value {
    json!({"required": ["op", "path"], "properties": {
        "op": {"pattern": "^[Rr][Ee][Mm][Oo][Vv][Ee]$"}, "path": {"pattern": paths}}})
}

/// `add` or `replace` of `value` at one of `paths` (a pattern), or, with
/// no path (`paths` empty), of the attributes `value` names.
fn scim_set(paths: &str, value: Value) -> Value {
    let op = json!({"pattern": "^([Aa][Dd][Dd]|[Rr][Ee][Pp][Ll][Aa][Cc][Ee])$"});
    if paths.is_empty() {
        return json!({"required": ["op", "value"], "not": {"required": ["path"]},
            "properties": {"op": op, "value": value}});
    }
    json!({"required": ["op", "path", "value"],
        "properties": {"op": op, "path": {"pattern": paths}, "value": value}})
}

/// A User's PatchOp. The paths listed are those whose values a schema can
/// state; `scim::patch` reads any attribute path of the User (an email must
/// stay the userName, a locale or time zone must be known).
fn scim_user_patch() -> Option<Value> {
    let text_paths = format!(
        "^({})$",
        [
            "externalId",
            "displayName",
            "title",
            r"name\.(givenName|familyName|formatted)",
            r#"phoneNumbers\[type eq "(work|mobile)"\]\.value"#,
            r"urn:ietf:params:scim:schemas:extension:enterprise:2\.0:User:(employeeNumber|department|organization)",
        ]
        .join("|")
    );
    let attributes = json!({"type": "object", "additionalProperties": false, "properties": {
        "active": {"type": "boolean"}, "displayName": scim_text(), "title": scim_text(),
        "externalId": scim_text()}});
    scim_patch(
        vec![
            scim_remove(&text_paths),
            scim_set(&text_paths, scim_text()),
            scim_set("^active$", json!({"type": "boolean"})),
            scim_set("", attributes),
        ],
        json!({"op": "replace", "path": "active", "value": false}),
    )
}

/// A Group's `displayName` as `scim::groups` reads it: not blank.
fn scim_group_name() -> Value {
    non_blank()
}

/// A Group's PatchOp: its name, external id and members.
fn scim_group_patch() -> Option<Value> {
    let member = json!({"type": "object", "required": ["value"], "properties": {
        "value": {"type": "string", "format": "uuid", "description": "A User's id"}}});
    let attributes = json!({"type": "object", "additionalProperties": false, "properties": {
        "displayName": scim_group_name(),
        "externalId": scim_text()}});
    scim_patch(
        vec![
            scim_remove(&format!(
                "^(externalId|members|members\\[value eq {SCIM_STRING}\\])$"
            )),
            scim_set("^displayName$", scim_group_name()),
            scim_set("^externalId$", scim_text()),
            scim_set(
                "^members$",
                json!({"type": "array", "maxItems": 1000, "items": member}),
            ),
            scim_set("", attributes),
        ],
        json!({"op": "replace", "path": "displayName", "value": "Engineering"}),
    )
}

/// A SCIM BulkRequest (RFC 7644 §3.7), within maxOperations.
fn scim_bulk() -> Option<Value> {
    let one = "^/(Users|Groups)/[^/?#]+$";
    with_example(
        object(
            &["schemas", "Operations"],
            json!({
                "schemas": {"type": "array", "items": {"type": "string",
                    "enum": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]}, "minItems": 1},
                "failOnErrors": {"type": "integer", "minimum": 1,
                    "description": "Stop after this many failed operations"},
                "Operations": {"type": "array", "minItems": 1, "maxItems": 25, "items": {
                    "type": "object", "required": ["method", "path"], "anyOf": [
                        {"required": ["bulkId", "data"], "properties": {"method": {"const": "POST"},
                            "path": {"pattern": "^/(Users|Groups)$"}}},
                        {"required": ["data"], "properties": {"method": {"enum": ["PUT", "PATCH"]},
                            "path": {"pattern": one}}},
                        {"not": {"required": ["data"]}, "properties": {"method": {"const": "DELETE"},
                            "path": {"pattern": one}}}],
                    "properties": {
                        "method": {"type": "string", "enum": ["POST", "PUT", "PATCH", "DELETE"]},
                        "bulkId": {"type": "string", "minLength": 1, "description": "Required with POST; bulkId:<it> elsewhere names what it created"},
                        "path": {"type": "string", "pattern": "^/(Users|Groups)(/[^/?#]+)?$",
                            "description": "/Users or /Groups (POST), /Users/{id} or /Groups/{id}"},
                        "version": {"type": "string", "pattern": "^[!-~]+$",
                            "description": "The resource's ETag (If-Match)"},
                        "data": {"type": "object", "description": "The operation's body (absent with DELETE)"}}}},
            }),
        ),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": 1,
               "Operations": [
                   {"method": "POST", "path": "/Users", "bulkId": "ana",
                    "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ana@example.com"}},
                   {"method": "POST", "path": "/Groups", "bulkId": "eng",
                    "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering",
                             "members": [{"value": "bulkId:ana"}]}}]}),
    )
}

fn reference_data() -> Option<Value> {
    Some(body::<crate::base::model::ReferenceData>())
}

fn username_password() -> Option<Value> {
    Some(body::<session::SignIn>())
}

fn second_factor() -> Option<Value> {
    Some(body::<two_factor::SecondFactor>())
}

fn password_only() -> Option<Value> {
    Some(body::<two_factor::Password>())
}

fn revert_token() -> Option<Value> {
    Some(body::<session::Revert>())
}

fn otp_attempt() -> Option<Value> {
    Some(body::<two_factor::OtpAttempt>())
}

fn email_password() -> Option<Value> {
    Some(body::<crate::families::apiculus::LoginBody>())
}

fn username_only() -> Option<Value> {
    Some(body::<gcore::LoginBody>())
}

fn gcore_refresh() -> Option<Value> {
    Some(body::<gcore::RefreshBody>())
}

/// `POST /v2/organizations` (`families::clone::organizations::parse_new_org`):
/// plans inside the organization or beside it.
fn new_organization() -> Option<Value> {
    Some(body::<clone::NewOrganizationBody>())
}

/// `PUT /v2/user/organization`: the full update.
fn organization_change() -> Option<Value> {
    Some(body::<clone::OrganizationChangeBody>())
}

/// `PUT /v2/organizations/{id}`: the full update, or `status` alone.
fn organization_update() -> Option<Value> {
    Some(body::<clone::OrganizationUpdateBody>())
}

fn subscribe() -> Option<Value> {
    Some(body::<clone::SubscribeBody>())
}

fn unsubscribe() -> Option<Value> {
    Some(body::<crate::families::clone::organizations::UnsubscribeBody>())
}

fn subscription_change() -> Option<Value> {
    Some(body::<clone::SubscriptionChangeBody>())
}

fn change_password() -> Option<Value> {
    Some(body::<
        crate::families::clone::current_user::ChangePasswordBody,
    >())
}

fn cc_customer() -> Option<Value> {
    Some(body::<cc::customers::CustomerBody>())
}

fn cc_account_info() -> Option<Value> {
    Some(body::<cc::customers::AccountInfoBody>())
}

fn cc_internal_identifier() -> Option<Value> {
    Some(body::<cc::customers::InternalIdentifierBody>())
}

/// `PATCH /v1/users/{email}`: seed 001's fields, each optional.
fn cc_user_change() -> Option<Value> {
    seed_001_schema().map(|mut schema| {
        schema["required"] = json!([]);
        schema
    })
}

fn cc_group() -> Option<Value> {
    Some(body::<cc::portal_users::NewGroupBody>())
}

fn gcore_user_change() -> Option<Value> {
    Some(body::<gcore::users::UserChangeBody>())
}

fn gcore_invite() -> Option<Value> {
    Some(body::<gcore::users::InviteBody>())
}

fn gcore_token() -> Option<Value> {
    Some(body::<gcore::NewTokenBody>())
}

macro_rules! op {
    ($m:literal, $p:literal, $t:literal, $s:literal, $a:ident, [$($st:literal),*]) => {
        op!($m, $p, $t, $s, $a, [$($st),*], none)
    };
    ($m:literal, $p:literal, $t:literal, $s:literal, $a:ident, [$($st:literal),*], $b:expr) => {
        Operation { method: $m, path: $p, tag: $t, summary: $s, auth: Auth::$a, statuses: &[$($st),*], body: $b }
    };
}

/// Every operation the app answers: method, path, tag, summary, auth,
/// statuses and request body, one row each.
#[rustfmt::skip]
pub const OPERATIONS: &[Operation] = &[
    op!("get", "/health", "service", "Health of the service and its store", None, [200, 503]),
    op!("head", "/health", "service", "Health of the service and its store, headers only", None, [200, 503]),
    op!("get", "/openapi.json", "service", "This document", None, [200]),
    // Administration.
    op!("post", "/admin/tenants", "admin", "Create a tenant", Admin, [201, 400, 401, 409, 415, 422], admin_tenant),
    op!("get", "/admin/tenants/{id}", "admin", "Get a tenant", Admin, [200, 401, 404]),
    op!("patch", "/admin/tenants/{id}", "admin", "Change a tenant", Admin, [200, 400, 401, 404, 409, 422], admin_tenant_change),
    op!("post", "/admin/resellers", "admin", "Create a reseller", Admin, [201, 400, 401, 403, 404, 409, 422], admin_reseller),
    op!("post", "/admin/accounts", "admin", "Create an account", Admin, [201, 400, 401, 403, 404, 409, 422], admin_account),
    op!("patch", "/admin/accounts/{id}", "admin", "Move an account through its lifecycle", Admin, [200, 400, 401, 403, 404, 422], admin_account_status),
    op!("get", "/admin/accounts/{id}", "admin", "An account with its groups, second factor, sign-ins and API tokens", Admin, [200, 401, 403, 404]),
    op!("delete", "/admin/accounts/{id}/two_factor", "admin", "Reset an account's second factor (a lost phone)", Admin, [200, 400, 401, 403, 404, 409, 415, 422, 429], admin_two_factor_reset),
    op!("post", "/admin/accounts/{id}/password_reset", "admin", "Send an account a password reset", Admin, [200, 401, 403, 404, 409, 429]),
    op!("get", "/admin/api-clients", "admin", "List the OAuth API clients", Admin, [200, 401, 403]),
    op!("post", "/admin/api-clients", "admin", "Create an OAuth API client", Admin, [201, 400, 401, 403, 404, 422], admin_api_client),
    op!("delete", "/admin/api-clients/{id}", "admin", "Revoke an API client", Admin, [204, 401, 403, 404]),
    op!("post", "/admin/scim-connections", "admin", "Create a SCIM connection for a customer organization (its token is shown once)", Admin, [201, 400, 401, 403, 404, 422], admin_scim_connection),
    op!("get", "/admin/scim-connections", "admin", "A customer organization's live SCIM connections (organization_id), without their tokens", Admin, [200, 401, 403, 404, 422]),
    op!("get", "/admin/scim-connections/{id}", "admin", "One SCIM connection, without its token", Admin, [200, 401, 403, 404]),
    op!("delete", "/admin/scim-connections/{id}", "admin", "Revoke a SCIM connection", Admin, [204, 401, 403, 404]),
    op!("get", "/admin/reference-data", "admin", "The tenant's reference data", Admin, [200, 401, 403]),
    op!("put", "/admin/reference-data", "admin", "Replace the tenant's reference data", Admin, [200, 400, 401, 403, 422], reference_data),
    op!("get", "/admin/outbox", "admin", "The outbox: messages, their delivery log, and the tokens of undelivered ones", Admin, [200, 401, 403]),
    op!("post", "/admin/outbox/deliver", "admin", "One delivery pass: POST each due message to the tenant's webhook, signed (Standard Webhooks)", Admin, [200, 401, 403, 409]),
    // Clone Systems v2.
    op!("post", "/auth/sign_in", "clone", "Sign in", CloneApp, [200, 401, 403, 415, 422, 429], username_password),
    op!("get", "/auth/confirmation", "clone", "Show what a confirmation token confirms (query: confirmation_token)", CloneApp, [200, 401, 403, 422]),
    op!("post", "/auth/confirmation", "clone", "Confirm a user's email with its confirmation token", CloneApp, [200, 400, 401, 403, 415, 422], confirmation_token),
    op!("get", "/auth/invitation", "clone", "Pre-accept check of an invitation (query: invitation_token)", CloneApp, [200, 401, 403, 422]),
    op!("put", "/auth/invitation", "clone", "Accept an invitation: set the password and sign in", CloneApp, [200, 400, 401, 403, 415, 422], invitation_accept),
    op!("post", "/auth/invitation", "clone", "Resend a narrower account's pending invitation (or confirmation) with a fresh token", Clone, [200, 400, 401, 403, 404, 409, 415, 422, 429], invitation_resend),
    op!("post", "/auth/password", "clone", "Forgot password: the same answer whether or not the email has an account", CloneApp, [200, 400, 401, 403, 415, 422, 429], forgot_password),
    op!("put", "/auth/password", "clone", "Reset the password with a reset token; ends every session and token of the user", CloneApp, [200, 400, 401, 403, 415, 422], password_reset),
    op!("post", "/admin/sweep", "admin", "Delete what has expired (counters, pending sign-ins, tokens, old messages)", Admin, [200]),
    op!("post", "/auth/sms_otp", "clone", "Send SMS OTP: a code for a pending two-factor sign-in, to the user's phone", CloneApp, [200, 400, 401, 403, 415, 422, 429], otp_session_state),
    op!("delete", "/auth/sign_out", "clone", "Sign out", Clone, [200, 401, 422]),
    op!("post", "/v2/users/create_customer", "clone", "Create a customer (seed 000)", Clone, [201, 400, 401, 403, 404, 409, 413, 415, 422, 503], seed_000),
    op!("get", "/v2/users", "clone", "List users", Clone, [200, 401, 403, 422]),
    op!("get", "/v2/users/{id}", "clone", "Get a user", Clone, [200, 401, 403, 404]),
    op!("put", "/v2/users/{id}", "clone", "Update a user (seed 002)", Clone, [200, 400, 401, 403, 404, 409, 415, 422, 429], seed_002),
    op!("delete", "/v2/users/{id}", "clone", "Delete a user", Clone, [200, 401, 403, 404, 422]),
    op!("get", "/v2/user/me", "clone", "The signed-in user", Clone, [200, 401]),
    op!("put", "/v2/user/me", "clone", "Update the signed-in user", Clone, [200, 400, 401, 409, 422, 429], own_user_change),
    op!("get", "/v2/user/organization", "clone", "The signed-in user's organization", Clone, [200, 401]),
    op!("put", "/v2/user/organization", "clone", "Update the signed-in user's organization", Clone, [200, 400, 401, 403, 422], organization_change),
    op!("get", "/v2/user/permissions", "clone", "Check permissions", Clone, [200, 401, 403, 422]),
    op!("get", "/v2/user/validate_token", "clone", "Validate the credential", Clone, [200, 401]),
    op!("put", "/v2/user/generate_access_token", "clone", "Issue a long-lived access token", Clone, [200, 401]),
    op!("put", "/v2/user/revoke_access_token", "clone", "Revoke the access token", Clone, [200, 401, 404]),
    op!("put", "/v2/user/change_password", "clone", "Change the password", Clone, [200, 400, 401, 422, 429], change_password),
    op!("post", "/auth/impersonate", "clone", "Impersonate a user of narrower role in your reach (query: uuid)", Clone, [200, 401, 403, 404, 422]),
    op!("delete", "/auth/impersonate", "clone", "End an impersonation with its impersonator_revert_token", Clone, [200, 400, 401, 403, 415, 422], revert_token),
    op!("put", "/v2/user/enable_2fa", "clone", "Install a TOTP second factor (in force once verified); needs the password", Clone, [200, 401, 403, 409, 422, 429], password_only),
    op!("put", "/v2/user/verify_2fa_installation", "clone", "Verify the TOTP installation with a code: the second factor is in force", Clone, [200, 400, 401, 403, 409, 422, 429], otp_attempt),
    op!("put", "/v2/user/generate_recovery_codes", "clone", "Ten single-use recovery codes (the previous set stops working); needs a current code", Clone, [200, 401, 403, 409, 422, 429], otp_attempt),
    op!("put", "/v2/user/disable_2fa", "clone", "Remove the second factor (needs a code or a recovery code)", Clone, [200, 400, 401, 403, 409, 422, 429], second_factor),
    op!("get", "/v2/organizations", "clone", "List organizations", Clone, [200, 401, 422]),
    op!("post", "/v2/organizations", "clone", "Create an organization", Clone, [201, 400, 401, 403, 404, 409, 422], new_organization),
    op!("get", "/v2/organizations/{id}", "clone", "Get an organization", Clone, [200, 401, 404]),
    op!("put", "/v2/organizations/{id}", "clone", "Update an organization", Clone, [200, 400, 401, 403, 404, 422], organization_update),
    op!("delete", "/v2/organizations/{id}", "clone", "Delete an organization", Clone, [200, 401, 403, 404, 409, 422]),
    op!("put", "/v2/organizations/move", "clone", "Move a user to an organization", Clone, [200, 401, 403, 404, 409, 422, 503]),
    op!("get", "/v2/organizations/export", "clone", "Export organizations as CSV", Clone, [200, 401]),
    op!("post", "/v2/organizations/{id}/subscribe", "clone", "Subscribe to a plan", Clone, [201, 400, 401, 403, 404, 422], subscribe),
    op!("post", "/v2/organizations/{id}/unsubscribe", "clone", "Cancel a plan", Clone, [200, 400, 401, 403, 404, 422], unsubscribe),
    op!("get", "/v2/organizations/{id}/subscriptions", "clone", "List subscriptions", Clone, [200, 401, 404, 422]),
    op!("get", "/v2/organizations/{id}/subscriptions/{sub_id}", "clone", "Get a subscription", Clone, [200, 401, 404]),
    op!("put", "/v2/organizations/{id}/subscriptions/{sub_id}", "clone", "Change a subscription", Clone, [200, 400, 401, 403, 404, 422], subscription_change),
    op!("get", "/v2/organizations/{id}/dependent_subscriptions", "clone", "Subscriptions of child organizations", Clone, [200, 401, 404]),
    op!("get", "/v2/audit/events", "clone", "List audit events", Clone, [200, 401, 403, 422]),
    op!("get", "/v2/audit/events/{id}", "clone", "Get an audit event", Clone, [200, 401, 403, 404]),
    // CloudCockpit v1.
    op!("post", "/oauth2/token", "cloudcockpit", "OAuth2 client credentials token", None, [200, 400, 401]),
    op!("get", "/v1/Customers", "cloudcockpit", "List customers", CloudCockpit, [200, 400, 401, 403]),
    op!("post", "/v1/Customers", "cloudcockpit", "Create a customer", CloudCockpit, [201, 400, 401, 403, 409], cc_customer),
    op!("get", "/v1/Customers/{customerId}", "cloudcockpit", "Get a customer", CloudCockpit, [200, 400, 401, 403, 404]),
    op!("delete", "/v1/Customers/{customerId}", "cloudcockpit", "Delete a customer", CloudCockpit, [202, 400, 401, 403, 404, 409]),
    op!("patch", "/v1/Customers/{customerId}/account-info", "cloudcockpit", "Update account info", CloudCockpit, [202, 400, 401, 403, 404], cc_account_info),
    op!("patch", "/v1/Customers/{customerId}/internal-identifier", "cloudcockpit", "Set the internal identifier", CloudCockpit, [204, 400, 401, 403, 404], cc_internal_identifier),
    op!("post", "/v1/customer/{customerId}/users", "cloudcockpit", "Create a customer user (seed 001)", CloudCockpit, [200, 201, 400, 401, 403, 404, 409], seed_001),
    op!("get", "/v1/customer/{customerId}/users", "cloudcockpit", "List a customer's users", CloudCockpit, [200, 400, 401, 403, 404]),
    op!("post", "/v1/reseller/{resellerId}/users", "cloudcockpit", "Create a reseller user", CloudCockpit, [200, 201, 400, 401, 403, 404, 409], seed_001),
    op!("get", "/v1", "cloudcockpit", "List all users", CloudCockpit, [200, 400, 401, 403]),
    op!("patch", "/v1/users/{email}", "cloudcockpit", "Update a user", CloudCockpit, [204, 400, 401, 403, 404, 409, 429], cc_user_change),
    op!("delete", "/v1/users/{email}", "cloudcockpit", "Delete a user", CloudCockpit, [204, 400, 401, 403, 404]),
    op!("get", "/v1/users/groups", "cloudcockpit", "List groups", CloudCockpit, [200, 400, 401, 403]),
    op!("post", "/v1/users/groups", "cloudcockpit", "Create a group", CloudCockpit, [201, 400, 401, 403], cc_group),
    // Apiculus.
    op!("post", "/auth/login", "apiculus", "Log in", None, [200, 401, 422, 429], email_password),
    op!("post", "/auth/logout", "apiculus", "Log out", Apiculus, [200, 401]),
    op!("post", "/api/pass/createNewUser", "apiculus", "Create a subscriber account (seed 003)", Apiculus, [200, 400, 401, 403, 409, 422], seed_003),
    op!("get", "/api/pass/signUpHelper", "apiculus", "Reference data for account creation", Apiculus, [200, 401, 403]),
    op!("get", "/api/v1/countryList", "apiculus", "Countries", None, [200]),
    op!("get", "/api/v1/stateList", "apiculus", "A country's states", None, [200, 404, 422]),
    op!("put", "/api/v1/serv_disableUserAccount/{id}", "apiculus", "Disable an account", Apiculus, [200, 401, 403, 404, 422]),
    op!("put", "/api/v1/serv_enableUserAccount/{id}", "apiculus", "Enable an account", Apiculus, [200, 401, 403, 404, 422]),
    op!("put", "/api/v1/serv_restrictUserAccount/{id}", "apiculus", "Restrict an account", Apiculus, [200, 401, 403, 404, 422]),
    op!("put", "/api/v1/serv_terminateUserAccount/{id}", "apiculus", "Terminate an account", Apiculus, [200, 401, 403, 404, 422]),
    // Gcore IAM.
    op!("post", "/iam/auth/jwt/login", "gcore", "JWT login", None, [200, 400, 429], username_only),
    op!("post", "/iam/auth/jwt/refresh", "gcore", "Refresh a JWT pair", None, [200, 400, 401], gcore_refresh),
    op!("get", "/iam/clients/me", "gcore", "Account overview", Gcore, [200, 401]),
    op!("get", "/iam/users", "gcore", "List users", Gcore, [200, 400, 401, 403]),
    op!("post", "/iam/users", "gcore", "Create a user and client (seed 004)", Gcore, [201, 400, 401, 403, 409], seed_004),
    op!("get", "/iam/users/{userId}", "gcore", "Get a user", Gcore, [200, 401, 403, 404]),
    op!("patch", "/iam/users/{userId}", "gcore", "Update a user", Gcore, [200, 400, 401, 403, 404, 409, 429], gcore_user_change),
    op!("delete", "/iam/clients/{clientId}/client-users/{userId}", "gcore", "Remove a user from a client", Gcore, [200, 401, 403, 404]),
    op!("post", "/iam/clients/invite_user", "gcore", "Invite a user", Gcore, [200, 400, 401, 403, 404, 409], gcore_invite),
    op!("get", "/iam/v2/clients/{clientId}/tokens", "gcore", "List API tokens", Gcore, [200, 400, 401, 403, 404]),
    op!("post", "/iam/v2/clients/{clientId}/tokens", "gcore", "Create an API token", Gcore, [200, 400, 401, 403, 404], gcore_token),
    op!("get", "/iam/v2/clients/{clientId}/tokens/{tokenId}", "gcore", "Get an API token", Gcore, [200, 401, 403, 404]),
    op!("delete", "/iam/v2/clients/{clientId}/tokens/{tokenId}", "gcore", "Delete an API token", Gcore, [204, 401, 403, 404]),
    op!("get", "/scim/v2/Users", "scim", "List and filter the organization's users (filter, startIndex, count, sortBy, attributes)", Scim, [200, 400]),
    op!("post", "/scim/v2/Users", "scim", "Create a user in the connection's organization", Scim, [201, 400, 409], scim_user),
    op!("get", "/scim/v2/Users/{id}", "scim", "One user (If-None-Match: 304)", Scim, [200, 304, 400, 404]),
    op!("put", "/scim/v2/Users/{id}", "scim", "Replace a user's attributes (If-Match: 412 when stale)", Scim, [200, 400, 404, 409, 412, 429], scim_user_replace),
    op!("patch", "/scim/v2/Users/{id}", "scim", "Patch a user (RFC 7644 3.5.2; If-Match: 412 when stale)", Scim, [200, 400, 404, 409, 412, 429], scim_user_patch),
    op!("delete", "/scim/v2/Users/{id}", "scim", "Delete a user (the core's soft delete; If-Match: 412 when stale)", Scim, [204, 404, 412]),
    op!("get", "/scim/v2/Groups", "scim", "List and filter the organization's groups (filter, startIndex, count, sortBy, attributes)", Scim, [200, 400]),
    op!("post", "/scim/v2/Groups", "scim", "Create a group in the connection's organization, with its members", Scim, [201, 400, 409], scim_group),
    op!("get", "/scim/v2/Groups/{id}", "scim", "One group and its members (If-None-Match: 304)", Scim, [200, 304, 400, 404]),
    op!("put", "/scim/v2/Groups/{id}", "scim", "Replace a group's name and members (If-Match: 412 when stale)", Scim, [200, 400, 404, 409, 412], scim_group),
    op!("patch", "/scim/v2/Groups/{id}", "scim", "Patch a group: members add, remove, replace (If-Match: 412 when stale)", Scim, [200, 400, 404, 409, 412], scim_group_patch),
    op!("delete", "/scim/v2/Groups/{id}", "scim", "Delete a group (its members leave it)", Scim, [204, 404, 412]),
    op!("get", "/scim/v2/ServiceProviderConfig", "scim", "What this SCIM service supports", Scim, [200]),
    op!("get", "/scim/v2/ResourceTypes", "scim", "The resource types", Scim, [200]),
    op!("get", "/scim/v2/ResourceTypes/{id}", "scim", "One resource type", Scim, [200, 404]),
    op!("get", "/scim/v2/Schemas", "scim", "The schemas, with exactly the attributes kept", Scim, [200]),
    op!("get", "/scim/v2/Schemas/{id}", "scim", "One schema, by URN", Scim, [200, 404]),
    op!("post", "/scim/v2/Bulk", "scim", "Run Users and Groups operations in one request (bulkId references, failOnErrors); each answers its own status", Scim, [200, 400], scim_bulk),
    op!("get", "/console/session", "console", "Who is signed in to the console, and the CSRF token its calls carry", Console, [200, 403]),
    op!("post", "/console/session", "console", "Sign in to the console (sets the session cookie)", None, [200, 400, 401, 403, 413, 415, 422, 429], console_sign_in),
    op!("delete", "/console/session", "console", "Sign out of the console (clears the cookie)", Console, [200, 403]),
];

/// The error schema of a family, by tag.
fn error_schema(tag: &str) -> &'static str {
    match tag {
        "admin" => "ProblemDetails",
        "cloudcockpit" => "CloudCockpitError",
        "apiculus" => "ApiculusEnvelope",
        "gcore" => "GcoreError",
        "scim" => "ScimError",
        _ => "CloneError",
    }
}

fn security(auth: Auth) -> Value {
    match auth {
        Auth::None => json!([]),
        Auth::Admin => json!([{"adminKey": []}, {"cloneBearer": []}, {"cloneBasic": []}]),
        Auth::Clone => json!([{"cloneBearer": []}, {"cloneBasic": []}]),
        Auth::CloneApp => json!([{"cloneAppKey": []}]),
        Auth::CloudCockpit => json!([{"cloudCockpitOAuth": [], "xTenant": []}]),
        Auth::Apiculus => json!([{"apiculusToken": []}]),
        Auth::Gcore => json!([{"gcoreApiKey": []}, {"gcoreBearer": []}]),
        Auth::Scim => json!([{"scimBearer": []}]),
        Auth::Console => json!([{"consoleCookie": [], "consoleCsrf": []}]),
    }
}

fn parameters(path: &str) -> Value {
    Value::Array(
        path.split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                "schema": path_schema(path, name)})
            })
            .collect(),
    )
}

/// What each handler parses a path parameter as (anything else is its 404):
/// Gcore's numbers and the audit sequence are integers from 1; the Clone,
/// CloudCockpit and account ids are UUIDs; tenants, SCIM connections, SCIM
/// resources, Apiculus accounts (a UUID, a number or an account id) and
/// CloudCockpit's `{email}` are strings.
fn path_schema(path: &str, name: &str) -> Value {
    let number = json!({"type": "integer", "minimum": 1});
    let uuid = json!({"type": "string", "format": "uuid"});
    match name {
        "clientId" | "userId" | "tokenId" => number,
        "sub_id" | "customerId" | "resellerId" => uuid,
        "id" if path.starts_with("/v2/audit/") => number,
        "id" if [
            "/v2/users/",
            "/v2/organizations/",
            "/admin/accounts/",
            "/admin/api-clients/",
        ]
        .iter()
        .any(|p| path.starts_with(p)) =>
        {
            uuid
        }
        _ => json!({"type": "string"}),
    }
}

/// Successes that carry no body (documented so).
const EMPTY_SUCCESS: [(&str, &str); 3] = [
    ("get", "/v2/user/permissions"),
    ("post", "/v2/users/create_customer"),
    ("delete", "/iam/clients/{clientId}/client-users/{userId}"),
];

/// The media type of an operation's JSON bodies.
fn json_media(op: &Operation) -> &'static str {
    if op.tag == "scim" {
        "application/scim+json"
    } else {
        "application/json"
    }
}

fn response(op: &Operation, status: u16) -> Value {
    let error = error_schema(op.tag);
    let json_media = json_media(op);
    let empty = EMPTY_SUCCESS.contains(&(op.method, op.path));
    match status {
        // RFC 9110 9.3.2: a HEAD answer carries no content.
        _ if op.method == "head" => json!({"description": "Headers only, no body"}),
        200 if op.path == "/v2/organizations/export" => json!({"description": "CSV (RFC 4180)",
            "content": {"text/csv; charset=utf-8": {"schema": {"type": "string"}}}}),
        200 | 201 if empty => json!({"description": "Success, no body"}),
        200 | 201 => {
            let schema = success::success_schema(op.method, op.path, status).unwrap_or(json!({}));
            json!({"description": "Success", "content": {json_media: {"schema": schema}}})
        }
        // The health answer says what is down.
        503 if op.path == "/health" => json!({"description": "Store unavailable",
            "content": {"application/json": {"schema": success::success_schema("get", "/health", 200)}}}),
        // RFC 6749 5.2: the token endpoint's refusals have the OAuth shape.
        400 | 401 if op.path == "/oauth2/token" => json!({"description": "OAuth error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}}}),
        202 | 204 => json!({"description": "Accepted, no body"}),
        304 => {
            json!({"description": "Not modified (If-None-Match names the current version), no body"})
        }
        401 | 403 if op.tag == "cloudcockpit" => json!({"description": "No body, as documented"}),
        _ => {
            let media = if op.tag == "admin" {
                "application/problem+json"
            } else {
                json_media
            };
            json!({"description": "Error", "content": {media: {
                "schema": {"$ref": format!("#/components/schemas/{error}")}}}})
        }
    }
}

/// The statuses an operation answers: its own; for every operation that
/// reads a body, a malformed one (400), an oversized one (413) and another
/// content type (415); for every operation but the document itself, a
/// store that is down (503: each component opens the store first); and for
/// every authenticated one, 401 and 403.
pub fn statuses(op: &Operation) -> Vec<u16> {
    let mut statuses: Vec<u16> = op.statuses.to_vec();
    let mut add = |extra: &[u16]| {
        for s in extra {
            if !statuses.contains(s) {
                statuses.push(*s);
            }
        }
    };
    if (op.body)().is_some() || op.path == "/oauth2/token" {
        add(&[400, 413, 415]);
    }
    if op.path != "/openapi.json" {
        add(&[503]);
    }
    // Every credential is checked against its tenant and the request's host
    // (and CloudCockpit's X-Tenant): a missing or bad one is 401, one of
    // another tenant 403.
    if op.auth != Auth::None && op.auth != Auth::CloneApp {
        add(&[401, 403]);
    }
    statuses.sort();
    statuses
}

/// The media type of an operation's answer with `status`, or `None` for no body.
pub fn media_type(op: &Operation, status: u16) -> Option<String> {
    response(op, status)["content"]
        .as_object()
        .and_then(|c| c.keys().next().cloned())
}

/// The whole document.
pub fn document() -> Value {
    let languages = crate::base::validate::LANGUAGES.join("|");
    let timezones: Vec<&str> = crate::base::validate::timezones().collect();
    let mut paths = Map::new();
    for op in OPERATIONS {
        let statuses = statuses(op);
        let mut operation = json!({
            "tags": [op.tag],
            "summary": op.summary,
            "operationId": format!("{}{}", op.method, op.path.replace(['/', '{', '}', '-', '.'], "_")),
            "security": security(op.auth),
            "parameters": parameters(op.path)
                .as_array()
                .into_iter()
                .flatten()
                .cloned()
                .chain(query::query_parameters(op.method, op.path))
                .collect::<Vec<_>>(),
            "responses": Value::Object(statuses.iter()
                .map(|s| (s.to_string(), response(op, *s)))
                .collect()),
        });
        if let Some(schema) = (op.body)() {
            // A DELETE whose body requires nothing may leave the body out.
            let required = op.method != "delete"
                || schema["required"].as_array().is_some_and(|r| !r.is_empty());
            operation["requestBody"] =
                json!({"required": required, "content": {json_media(op): {"schema": schema}}});
        }
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Onboard",
            "version": crate::VERSION,
            "description": "Multi-tenant customer and user provisioning: one core, four API families (Clone Systems v2, CloudCockpit v1, Apiculus, Gcore IAM), SCIM 2.0 for identity providers, and this service's administration API."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminKey": {"type": "http", "scheme": "bearer", "description": "The platform admin key (with X-Tenant for a tenant's calls)"},
                "cloneBearer": {"type": "http", "scheme": "bearer", "description": "A Clone session token from /auth/sign_in"},
                "cloneBasic": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Basic <access token> from /v2/user/generate_access_token"},
                "cloneAppKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "cloudCockpitOAuth": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/oauth2/token", "scopes": {}}}},
                "xTenant": {"type": "apiKey", "in": "header", "name": "X-Tenant"},
                "apiculusToken": {"type": "apiKey", "in": "header", "name": "x-access-token"},
                "gcoreApiKey": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "APIKey <id>_<secret>"},
                "gcoreBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "scimBearer": {"type": "http", "scheme": "bearer", "description": "A SCIM connection's token (scim_...), from POST /admin/scim-connections"},
                "consoleCookie": {"type": "apiKey", "in": "cookie", "name": "__Host-onboard-console", "description": "The console's HttpOnly session cookie, set by POST /console/session"},
                "consoleCsrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token", "description": "The csrf_token of the console's session"}
            },
            "schemas": {
                "Locale": {"type": "string", "pattern": format!("^({languages})([-_][A-Za-z]{{2}})?$"),
                    "description": "An ISO 639-1 language, optionally with an ISO 3166 region (en, pt-BR, pt_BR)"},
                // Patterns rather than enums: generators name each enum
                // value, and GMT+0 / GMT-0 / GMT0 would clash.
                "Timezone": {"type": "string", "pattern": one_of(&timezones),
                    "description": "An IANA time zone name (Europe/Athens, UTC)"},
                "CountryCode": {"type": "string", "enum": crate::idm::reference::countries()
                    .into_iter().map(|c| c.code.to_string()).collect::<Vec<_>>(),
                    "description": "An ISO 3166-1 alpha-2 country code (upper case)"},
                "CloneError": {"type": "object", "required": ["status", "status_text", "message"], "properties": {
                    "status": {"type": "integer"}, "status_text": {"type": "string"},
                    "message": {"type": "string"}, "errors": {"type": "object"}}},
                "ProblemDetails": {"type": "object", "required": ["type", "title", "status"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"}, "errors": {"type": "object"}}},
                "CloudCockpitError": {"type": "object", "required": ["statusCode"], "properties": {
                    "statusCode": {"type": "integer"}, "type": {"type": ["string", "null"]},
                    "description": {"type": ["string", "null"]}, "correlationId": {"type": ["string", "null"]},
                    "errors": {"type": ["array", "null"], "items": {"type": "object", "properties": {
                        "propertyName": {"type": ["string", "null"]},
                        "description": {"type": ["array", "null"], "items": {"type": "string"}}}}}}},
                "ApiculusEnvelope": {"type": "object", "required": ["httpStatus", "success"], "properties": {
                    "httpStatus": {"type": "integer"}, "success": {"type": "boolean"}, "error": {"type": "object"},
                    "sync": {"type": "boolean"}, "jobId": {"type": "string"}, "jobStatusCode": {"type": "integer"},
                    "cached": {"type": "boolean"}, "replayed": {"type": "boolean"}, "result": {"type": "object"}}},
                // DRF's shapes: `{"message"}`, `{"errors": {field: [..]}}`, or
                // a bare list of messages (a refused token exchange).
                "GcoreError": {"anyOf": [{"$ref": "#/components/schemas/GcoreErrorObject"},
                    {"type": "array", "items": {"type": "string"}}]},
                "GcoreErrorObject": {"type": "object", "properties": {
                    "message": {"type": "string"},
                    "errors": {"type": "object", "additionalProperties": true}}},
                "ScimError": {"type": "object", "required": ["schemas", "status"], "properties": {
                    "schemas": {"type": "array", "items": {"type": "string",
                        "enum": ["urn:ietf:params:scim:api:messages:2.0:Error"]}},
                    "status": {"type": "string", "pattern": "^[1-5][0-9][0-9]$"},
                    "scimType": {"type": "string", "enum": ["invalidFilter", "tooMany", "uniqueness",
                        "mutability", "invalidSyntax", "invalidPath", "noTarget", "invalidValue",
                        "invalidVers", "sensitive"]},
                    "detail": {"type": "string"}}},
                "OAuthError": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string", "enum": ["invalid_request", "invalid_client",
                        "unsupported_grant_type"]},
                    "error_description": {"type": "string"}}}
            }
        }
    })
}

/// The document as served: pretty JSON with a trailing newline, exactly as
/// committed in `shared/openapi.json`.
pub fn text() -> String {
    let mut out = serde_json::to_string_pretty(&document()).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    /// What the component serves is what the route table builds; the
    /// integration tests check the same through the wasm, this without a build.
    #[test]
    fn the_committed_document_is_current() {
        if std::env::var("ONBOARD_UPDATE_OPENAPI").as_deref() == Ok("1") {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
            std::fs::write(path, super::text()).expect("write shared/openapi.json");
            return;
        }
        assert!(
            super::super::COMMITTED == super::text(),
            "shared/openapi.json is stale: run `ONBOARD_UPDATE_OPENAPI=1 cargo test -p onboard-shared --features openapi openapi`"
        );
    }
}
