//! Success response bodies, as the handlers render them (the error bodies
//! are the family schemas in `components`): derived from the type a handler
//! serializes where it serializes one; written out here where it builds a
//! JSON value (a SCIM resource, which `attributes` projects; the answers
//! whose typed rendering measured larger in their component).
//!
//! Conventions: `required` lists what the code always emits; a field built
//! from an `Option` is `["<type>", "null"]`; `format: date-time` only on
//! timestamps the server makes from its own clock. Dates a client gave
//! (subscription start and end, a Gcore token's `exp_date`) are plain
//! strings. Objects stay open, except the literal `{}` bodies.

use serde_json::{Value, json};

use crate::base::schema::response;
use crate::families::apiculus::{self, accounts};
use crate::families::cloudcockpit::{self as cc, customers};

// ---------------------------------------------------------------- helpers

fn str_t() -> Value {
    json!({"type": "string"})
}

fn nstr() -> Value {
    json!({"type": ["string", "null"]})
}

fn int_t() -> Value {
    json!({"type": "integer"})
}

fn bool_t() -> Value {
    json!({"type": "boolean"})
}

fn uuid_t() -> Value {
    json!({"type": "string", "format": "uuid"})
}

/// A server-clock timestamp, `time::format_millis` (`2023-12-15T19:19:18.037Z`).
fn ts() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn enum_t(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn arr(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn obj(required: &[&str], props: Value) -> Value {
    json!({"type": "object", "required": required, "properties": props})
}

/// Any object (the OpenAPI document itself).
fn any_obj() -> Value {
    json!({"type": "object"})
}

/// A body that is always the literal `json!({})`.
fn empty_obj() -> Value {
    json!({"type": "object", "additionalProperties": false})
}

/// A JSON string holding a uuid (CloudCockpit creates answer `json!(id)`).
fn uuid_string_body() -> Value {
    uuid_t()
}

// ---------------------------------------------------------------- service

/// `GET /health` (edge/health.rs).
fn health() -> Value {
    obj(
        &["status", "version", "store"],
        json!({"status": enum_t(&["ok", "degraded"]), "version": str_t(),
            "store": enum_t(&["ok", "unavailable"])}),
    )
}

/// `GET /openapi.json`: this document.
fn openapi_document() -> Value {
    obj(
        &["openapi", "info", "paths", "components"],
        json!({"openapi": str_t(),
            "info": obj(&["title", "version"], json!({"title": str_t(), "version": str_t(),
                "description": str_t()})),
            "paths": any_obj(), "components": any_obj()}),
    )
}

// ---------------------------------------------------------------- admin

/// A tenant (`service::TenantView`): `application_key` on create and after
/// a rotation, `operator` on create, a webhook's `secret` only in the
/// change that generated it.
fn tenant_body(created: bool) -> Value {
    let mut schema = response::<crate::families::service::TenantView>();
    if created {
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            required.extend([json!("application_key"), json!("operator")]);
        }
    } else if let Some(p) = schema["properties"].as_object_mut() {
        p.remove("operator");
    }
    schema
}

fn admin_account_body() -> Value {
    response::<crate::families::service::AccountView>()
}

/// `POST /admin/resellers`: `reseller_json` (number and code are always set
/// by create_reseller; parent_id is null without `parent_id`).
fn reseller_body() -> Value {
    response::<crate::families::service::ResellerView>()
}

/// The answers that carry only a message: the account flows' and
/// sign-out's (built as `Value`s, which measured smaller there than typed).
fn clone_status_message() -> Value {
    obj(
        &["status", "status_text", "message"],
        json!({"status": int_t(), "status_text": str_t(), "message": str_t()}),
    )
}

// ---------------------------------------------------------------- Clone v2

fn clone_role() -> Value {
    enum_t(&["Super Admin", "Admin", "User"])
}

/// The sign-in object; an impersonation's carries its revert token.
fn clone_sign_in(impersonation: bool) -> Value {
    with_or_without(
        response::<crate::families::clone::session::SignedIn>(),
        "impersonator_revert_token",
        impersonation,
    )
}

/// `two_factor_authentication` as `/v2/user/me` and the 2FA actions show it.
fn clone_two_factor_block() -> Value {
    response::<crate::families::clone::current_user::TwoFactorBlock>()
}

/// One user, `clone::user_data` (GET /v2/users/{id}, list rows).
fn clone_user() -> Value {
    response::<crate::families::clone::UserData>()
}
fn clone_data(item: Value) -> Value {
    obj(&["data"], json!({"data": item}))
}

/// `clone::list_body`: `{"data": [...], "meta": {...}}`.
fn clone_list(item: Value) -> Value {
    let mut list = response::<crate::families::clone::ListBody<()>>();
    list["properties"]["data"]["items"] = item;
    list
}

/// `GET`, `PUT /v2/user/me`: `me_resource`.
fn clone_me() -> Value {
    response::<crate::families::clone::Data<crate::families::clone::current_user::MeData>>()
}

/// One organization (`clone::current_user::OrgData`).
fn clone_organization() -> Value {
    response::<crate::families::clone::current_user::OrgData>()
}

/// One subscription (`clone::organizations::SubscriptionData`); a
/// dependent one also names its organization.
fn clone_subscription(dependent: bool) -> Value {
    let mut schema = response::<crate::families::clone::organizations::SubscriptionData>();
    let attributes = &mut schema["properties"]["attributes"];
    if dependent {
        if let Some(Value::Array(required)) = attributes.get_mut("required") {
            required.push(json!("organization"));
        }
    } else if let Some(p) = attributes["properties"].as_object_mut() {
        p.remove("organization");
    }
    schema
}

/// `{"data": [...]}` without `meta` (subscriptions, dependent subscriptions).
fn clone_data_array(item: Value) -> Value {
    obj(&["data"], json!({"data": arr(item)}))
}

/// `GET /v2/user/validate_token`.
fn clone_valid() -> Value {
    obj(&["valid"], json!({"valid": bool_t()}))
}

/// `PUT /v2/user/generate_access_token`.
fn clone_access_token() -> Value {
    obj(
        &["token", "username", "message"],
        json!({"token": str_t(), "username": str_t(), "message": str_t()}),
    )
}

/// `{"message"}`: `PUT /v2/user/revoke_access_token`, an admin password
/// reset, the console's sign-out.
fn message_only() -> Value {
    obj(&["message"], json!({"message": str_t()}))
}

// ---------------------------------------------------------------- CloudCockpit v1

/// `POST /oauth2/token` (built as a `Value`: typed, cc-oauth-token measured
/// 570 bytes larger).
fn cc_oauth_token() -> Value {
    obj(
        &["token_type", "expires_in", "ext_expires_in", "access_token"],
        json!({"token_type": {"const": "Bearer"}, "expires_in": int_t(),
            "ext_expires_in": int_t(), "access_token": str_t()}),
    )
}

/// `PagedResult` (`cloudcockpit::paged`) of `item`: the users' and groups'
/// lists are built as `Value`s, which measured smaller than typed ones.
fn cc_paged(item: Value) -> Value {
    let mut page = response::<cc::Paged<()>>();
    page["properties"]["items"] = arr(item);
    page
}

/// `UserViewModel`, portal_users `user_json` (names are null for users made
/// by other families without them).
fn cc_user_view() -> Value {
    obj(
        &["id", "firstName", "lastName", "email", "role", "groups"],
        json!({"id": uuid_t(), "firstName": nstr(), "lastName": nstr(), "email": str_t(),
            "role": obj(&["name"],
                json!({"name": enum_t(&["Csp", "ResellerAdmin", "CustomerAdmin", "User"])})),
            "groups": arr(obj(&["id", "name"], json!({"id": uuid_t(), "name": nstr()})))}),
    )
}

/// `GroupViewModel`.
fn cc_group_view() -> Value {
    obj(&["id", "name"], json!({"id": uuid_t(), "name": str_t()}))
}

// ---------------------------------------------------------------- Gcore IAM

/// `GET /iam/clients/me`.
fn gcore_account_overview() -> Value {
    response::<crate::families::gcore::Overview>()
}

/// A Gcore user (`gcore::users::UserView`), with its clients and roles or
/// (`GET /iam/users/{userId}`) without them.
fn gcore_user(with_roles: bool) -> Value {
    with_or_without(
        response::<crate::families::gcore::users::UserView>(),
        "client_and_roles",
        with_roles,
    )
}

/// A derived answer whose optional `field` (skipped when `None`) is, in one
/// operation's answer, always there (`with`), and in another's never.
fn with_or_without(mut schema: Value, field: &str, with: bool) -> Value {
    if with {
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            required.push(json!(field));
        }
        // Present, so not the null its `Option` admits.
        if let Some(p) = schema["properties"].get_mut(field)
            && let Ok(mut s) = schemars::Schema::try_from(p.clone())
        {
            crate::base::schema::not_null(&mut s);
            *p = s.to_value();
        }
    } else if let Some(p) = schema["properties"].as_object_mut() {
        p.remove(field);
    }
    schema
}

/// `APIToken` (`gcore::TokenView`); `with_token` keeps the clear `token`
/// (POST only, shown once).
fn gcore_api_token(with_token: bool) -> Value {
    with_or_without(
        response::<crate::families::gcore::TokenView>(),
        "token",
        with_token,
    )
}

// ---------------------------------------------------------------- the table

/// The schema of an operation's JSON success body, by method, OpenAPI path
/// (as written in `OPERATIONS`) and status; `None` for bodiless successes
/// (`EMPTY_SUCCESS`, 202, 204), the CSV export, and anything unknown.
pub fn success_schema(method: &str, path: &str, status: u16) -> Option<Value> {
    // Bodiless successes (EMPTY_SUCCESS, 202, 204) and the CSV export are in
    // none of these.
    service_success(method, path, status)
        .or_else(|| clone_success(method, path, status))
        .or_else(|| cloudcockpit_success(method, path, status))
        .or_else(|| apiculus_success(method, path, status))
        .or_else(|| gcore_success(method, path, status))
        .or_else(|| scim_success(method, path, status))
}

/// A SCIM connection; the answer that made it carries its token.
fn scim_connection_body(with_token: bool) -> Value {
    let schema = response::<crate::families::service::ScimConnectionView>();
    let schema = with_or_without(schema, "token", with_token);
    with_or_without(schema, "base_url", with_token)
}

/// A SCIM resource: `schemas` and `id` always, `meta` on Users.
fn scim_resource(required: &[&str]) -> Value {
    let mut all = vec!["schemas"];
    all.extend_from_slice(required);
    obj(&all, json!({"schemas": arr(str_t()), "id": str_t()}))
}

/// `attributes` may leave out all but `schemas` and `id`.
fn scim_user_resource() -> Value {
    obj(
        &["schemas", "id"],
        json!({
            "schemas": arr(str_t()), "id": uuid_t(), "externalId": str_t(),
            "userName": str_t(), "displayName": str_t(), "title": str_t(),
            "locale": str_t(), "timezone": str_t(), "active": bool_t(),
            "name": obj(&[], json!({"givenName": str_t(), "familyName": str_t(), "formatted": str_t()})),
            "emails": arr(obj(&["value"], json!({"value": str_t(), "type": str_t(), "primary": bool_t()}))),
            "phoneNumbers": arr(obj(&["value", "type"], json!({"value": str_t(), "type": enum_t(&["work", "mobile"])}))),
            "groups": arr(obj(&["value"], json!({"value": uuid_t(), "display": str_t(), "$ref": str_t(), "type": str_t()}))),
            "roles": arr(obj(&["value"], json!({"value": enum_t(&["user", "customer_admin"]), "primary": bool_t()}))),
            "meta": obj(&["resourceType", "created", "lastModified", "location", "version"],
                json!({"resourceType": enum_t(&["User"]), "created": ts(), "lastModified": ts(),
                       "location": str_t(), "version": str_t()})),
        }),
    )
}

fn scim_group_resource() -> Value {
    obj(
        &["schemas", "id"],
        json!({
            "schemas": arr(str_t()), "id": uuid_t(), "externalId": str_t(), "displayName": str_t(),
            "members": arr(obj(&["value"], json!({"value": uuid_t(), "display": str_t(),
                "$ref": str_t(), "type": enum_t(&["User"])}))),
            "meta": obj(&["resourceType", "created", "lastModified", "location"],
                json!({"resourceType": enum_t(&["Group"]), "created": ts(), "lastModified": ts(),
                       "location": str_t(), "version": str_t()})),
        }),
    )
}

fn scim_list(item: Value) -> Value {
    obj(
        &[
            "schemas",
            "totalResults",
            "startIndex",
            "itemsPerPage",
            "Resources",
        ],
        json!({"schemas": arr(str_t()), "totalResults": int_t(), "startIndex": int_t(),
               "itemsPerPage": int_t(), "Resources": arr(item)}),
    )
}

/// SCIM 2.0 (RFC 7643 / 7644). `attributes` and `excludedAttributes` may
/// leave out any attribute but `schemas` and `id`, so a User in a list is
/// only held to those.
fn scim_success(method: &str, path: &str, status: u16) -> Option<Value> {
    Some(match (method, path, status) {
        ("get", "/scim/v2/Users", 200) => scim_list(scim_resource(&["id"])),
        ("post", "/scim/v2/Users", 201) | ("get" | "put" | "patch", "/scim/v2/Users/{id}", 200) => {
            scim_user_resource()
        }
        ("get", "/scim/v2/Groups", 200) => scim_list(scim_resource(&["id"])),
        ("post", "/scim/v2/Groups", 201)
        | ("get" | "put" | "patch", "/scim/v2/Groups/{id}", 200) => scim_group_resource(),
        ("get", "/scim/v2/ServiceProviderConfig", 200) => obj(
            &[
                "schemas",
                "patch",
                "bulk",
                "filter",
                "changePassword",
                "sort",
                "etag",
                "authenticationSchemes",
            ],
            json!({"schemas": arr(str_t())}),
        ),
        ("get", "/scim/v2/ResourceTypes" | "/scim/v2/Schemas", 200) => {
            scim_list(scim_resource(&["id"]))
        }
        ("get", "/scim/v2/ResourceTypes/{id}" | "/scim/v2/Schemas/{id}", 200) => {
            scim_resource(&["id"])
        }
        ("post", "/scim/v2/Bulk", 200) => obj(
            &["schemas", "Operations"],
            json!({"schemas": arr(str_t()), "Operations": arr(obj(&["method", "status"], json!({
                "method": enum_t(&["POST", "PUT", "PATCH", "DELETE"]), "bulkId": str_t(),
                "location": str_t(), "version": str_t(), "status": str_t(),
                "response": obj(&[], json!({}))})))}),
        ),
        _ => return None,
    })
}

/// The service's own routes: health, the document, `/admin` and the account flows.
fn service_success(method: &str, path: &str, status: u16) -> Option<Value> {
    Some(match (method, path, status) {
        // Service.
        ("get", "/health", 200) => health(),
        ("get", "/openapi.json", 200) => openapi_document(),
        // Administration.
        ("post", "/admin/tenants", 201) => tenant_body(true),
        ("get" | "patch", "/admin/tenants/{id}", 200) => tenant_body(false),
        ("post", "/admin/resellers", 201) => reseller_body(),
        ("post", "/admin/accounts", 201) => admin_account_body(),
        ("patch", "/admin/accounts/{id}", 200) => admin_account_body(),
        ("delete", "/admin/accounts/{id}/two_factor", 200) => admin_account_body(),
        ("get", "/admin/accounts/{id}", 200) => {
            response::<crate::families::service::AccountDetails>()
        }
        ("post", "/admin/accounts/{id}/password_reset", 200) => message_only(),
        ("post", "/admin/api-clients", 201) => {
            response::<crate::families::service::NewApiClientView>()
        }
        ("get", "/admin/api-clients", 200) => response::<crate::families::service::ApiClients>(),
        ("get", "/console/session", 200) => json!({"oneOf": [
            response::<crate::families::console::Whoami>(),
            obj(&["signed_in"], json!({"signed_in": {"const": false}})),
        ]}),
        ("post", "/console/session", 200) => json!({"oneOf": [
            response::<crate::families::console::Whoami>(),
            obj(&["otp_required", "otp_session_state"],
                json!({"otp_required": {"const": true}, "otp_session_state": str_t()})),
        ]}),
        ("delete", "/console/session", 200) => message_only(),
        ("post", "/admin/scim-connections", 201) => scim_connection_body(true),
        ("get", "/admin/scim-connections", 200) => {
            let mut list = response::<crate::families::service::ScimConnections>();
            list["properties"]["data"]["items"] = scim_connection_body(false);
            list
        }
        ("get", "/admin/scim-connections/{id}", 200) => scim_connection_body(false),
        ("get" | "put", "/admin/reference-data", 200) => {
            crate::base::schema::response::<crate::base::model::ReferenceData>()
        }
        ("get", "/admin/outbox", 200) => response::<crate::families::service::Outbox>(),
        ("post", "/admin/outbox/deliver", 200) => response::<crate::idm::outbox::Pass>(),
        // A `Value`: typed, admin-sweep measured 137 bytes larger.
        ("post", "/admin/sweep", 200) => obj(
            &["deleted", "buckets", "more"],
            json!({"deleted": int_t(), "buckets": int_t(), "more": bool_t()}),
        ),
        ("get", "/auth/confirmation", 200) => obj(
            &[
                "status",
                "status_text",
                "username",
                "verified",
                "expires_at",
            ],
            json!({"status": int_t(), "status_text": str_t(), "username": str_t(),
                "verified": bool_t(), "expires_at": ts()}),
        ),
        ("post", "/auth/confirmation", 200) => obj(
            &["status", "status_text", "message", "username", "verified"],
            json!({"status": int_t(), "status_text": str_t(), "message": str_t(),
                "username": str_t(), "verified": bool_t()}),
        ),
        ("get", "/auth/invitation", 200) => obj(
            &[
                "status",
                "status_text",
                "username",
                "role",
                "organization",
                "expires_at",
            ],
            json!({"status": int_t(), "status_text": str_t(), "username": str_t(),
                "role": clone_role(), "expires_at": ts(),
                "organization": obj(&["uuid", "name"], json!({"uuid": uuid_t(), "name": str_t()}))}),
        ),
        ("put", "/auth/invitation", 200) => clone_sign_in(false),
        ("post", "/auth/invitation", 200) => obj(
            &["status", "status_text", "message", "kind"],
            json!({"status": int_t(), "status_text": str_t(), "message": str_t(),
                "kind": enum_t(&["invitation", "confirmation"])}),
        ),
        ("post", "/auth/sms_otp", 200) => obj(
            &["status", "status_text", "message", "phone"],
            json!({"status": int_t(), "status_text": str_t(), "message": str_t(), "phone": str_t()}),
        ),
        ("post" | "put", "/auth/password", 200) => clone_status_message(),
        _ => return None,
    })
}

/// Clone Systems v2.
fn clone_success(method: &str, path: &str, status: u16) -> Option<Value> {
    Some(match (method, path, status) {
        // Clone Systems v2.
        ("post", "/auth/sign_in", 200) => json!({"oneOf": [clone_sign_in(false),
            response::<crate::families::clone::session::SecondStepNeeded>()]}),
        ("post", "/auth/impersonate", 200) => clone_sign_in(true),
        ("delete", "/auth/impersonate", 200) => clone_sign_in(false),
        ("put", "/v2/user/enable_2fa", 200) => obj(
            &["secret", "otpauth_uri", "message"],
            json!({"secret": {"type": "string", "pattern": "^[A-Z2-7]+$"},
                "otpauth_uri": {"type": "string", "pattern": "^otpauth://totp/"},
                "message": str_t()}),
        ),
        ("put", "/v2/user/verify_2fa_installation" | "/v2/user/disable_2fa", 200) => obj(
            &["two_factor_authentication"],
            json!({"two_factor_authentication": clone_two_factor_block()}),
        ),
        ("put", "/v2/user/generate_recovery_codes", 200) => obj(
            &["recovery_codes"],
            json!({"recovery_codes": {"type": "array", "minItems": 10, "maxItems": 10,
                "items": {"type": "string", "pattern": "^[a-z2-7]{4}(-[a-z2-7]{4}){3}$"}}}),
        ),
        ("delete", "/auth/sign_out", 200) => clone_status_message(),
        ("get", "/v2/users", 200) => clone_list(clone_user()),
        ("get", "/v2/users/{id}", 200) => clone_data(clone_user()),
        ("put" | "delete", "/v2/users/{id}", 200) => empty_obj(),
        ("get" | "put", "/v2/user/me", 200) => clone_me(),
        ("get" | "put", "/v2/user/organization", 200) => clone_data(clone_organization()),
        ("get", "/v2/user/validate_token", 200) => clone_valid(),
        ("put", "/v2/user/generate_access_token", 200) => clone_access_token(),
        ("put", "/v2/user/revoke_access_token", 200) => message_only(),
        ("put", "/v2/user/change_password", 200) => empty_obj(),
        ("get", "/v2/organizations", 200) => clone_list(clone_organization()),
        ("post", "/v2/organizations", 201) => clone_data(clone_organization()),
        ("get" | "put", "/v2/organizations/{id}", 200) => clone_data(clone_organization()),
        ("delete", "/v2/organizations/{id}", 200) => empty_obj(),
        ("put", "/v2/organizations/move", 200) => clone_data(clone_organization()),
        ("post", "/v2/organizations/{id}/subscribe", 201) => clone_data(clone_subscription(false)),
        ("post", "/v2/organizations/{id}/unsubscribe", 200) => {
            clone_data(clone_subscription(false))
        }
        ("get", "/v2/organizations/{id}/subscriptions", 200) => {
            clone_data_array(clone_subscription(false))
        }
        ("get", "/v2/organizations/{id}/subscriptions/{sub_id}", 200) => {
            clone_data(clone_subscription(false))
        }
        ("put", "/v2/organizations/{id}/subscriptions/{sub_id}", 200) => empty_obj(),
        ("get", "/v2/organizations/{id}/dependent_subscriptions", 200) => {
            clone_data_array(clone_subscription(true))
        }
        ("get", "/v2/audit/events", 200) => {
            clone_list(response::<crate::families::clone::audit::EventData>())
        }
        ("get", "/v2/audit/events/{id}", 200) => {
            clone_data(response::<crate::families::clone::audit::EventData>())
        }
        _ => return None,
    })
}

/// CloudCockpit v1.
fn cloudcockpit_success(method: &str, path: &str, status: u16) -> Option<Value> {
    Some(match (method, path, status) {
        // CloudCockpit v1.
        ("post", "/oauth2/token", 200) => cc_oauth_token(),
        ("get", "/v1/Customers", 200) => response::<cc::Paged<customers::CustomerView>>(),
        ("post", "/v1/Customers", 201) => uuid_string_body(),
        ("get", "/v1/Customers/{customerId}", 200) => response::<customers::CustomerView>(),
        // 201 created, 200 the identical request replayed: the id either way.
        ("post", "/v1/customer/{customerId}/users", 200 | 201) => uuid_string_body(),
        ("post", "/v1/reseller/{resellerId}/users", 200 | 201) => uuid_string_body(),
        ("get", "/v1/customer/{customerId}/users", 200) => arr(cc_user_view()),
        ("get", "/v1", 200) => cc_paged(cc_user_view()),
        ("get", "/v1/users/groups", 200) => cc_paged(cc_group_view()),
        ("post", "/v1/users/groups", 201) => uuid_string_body(),
        _ => return None,
    })
}

/// Apiculus.
fn apiculus_success(method: &str, path: &str, status: u16) -> Option<Value> {
    Some(match (method, path, status) {
        // Apiculus.
        ("post", "/auth/login", 200) => response::<apiculus::LoginAnswer>(),
        ("post", "/auth/logout", 200) => response::<apiculus::Envelope<crate::edge::web::Empty>>(),
        ("post", "/api/pass/createNewUser", 200) => {
            response::<apiculus::Envelope<accounts::Created>>()
        }
        ("get", "/api/pass/signUpHelper", 200) => {
            response::<apiculus::Envelope<accounts::SignUpHelper>>()
        }
        ("get", "/api/v1/countryList", 200) => response::<accounts::Listed<accounts::Countries>>(),
        ("get", "/api/v1/stateList", 200) => response::<accounts::Listed<accounts::States>>(),
        (
            "put",
            "/api/v1/serv_disableUserAccount/{id}"
            | "/api/v1/serv_enableUserAccount/{id}"
            | "/api/v1/serv_restrictUserAccount/{id}"
            | "/api/v1/serv_terminateUserAccount/{id}",
            200,
        ) => response::<apiculus::Envelope<apiculus::AccountStatus>>(),
        _ => return None,
    })
}

/// Gcore IAM.
fn gcore_success(method: &str, path: &str, status: u16) -> Option<Value> {
    Some(match (method, path, status) {
        // Gcore IAM.
        ("post", "/iam/auth/jwt/login" | "/iam/auth/jwt/refresh", 200) => {
            response::<crate::families::gcore::JwtPair>()
        }
        ("get", "/iam/clients/me", 200) => gcore_account_overview(),
        ("get", "/iam/users", 200) => {
            let mut page = response::<crate::families::gcore::users::UsersPage>();
            page["properties"]["results"]["items"] = gcore_user(true);
            page
        }
        ("post", "/iam/users", 201) => gcore_user(true),
        ("get", "/iam/users/{userId}", 200) => gcore_user(false),
        ("patch", "/iam/users/{userId}", 200) => gcore_user(true),
        ("post", "/iam/clients/invite_user", 200) => {
            response::<crate::families::gcore::users::Invited>()
        }
        ("get", "/iam/v2/clients/{clientId}/tokens", 200) => arr(gcore_api_token(false)),
        ("post", "/iam/v2/clients/{clientId}/tokens", 200) => gcore_api_token(true),
        ("get", "/iam/v2/clients/{clientId}/tokens/{tokenId}", 200) => gcore_api_token(false),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_success_of_the_table_with_a_json_body_has_a_schema() {
        for op in super::super::OPERATIONS {
            for &s in op.statuses.iter().filter(|s| matches!(**s, 200 | 201)) {
                let bodiless = super::super::EMPTY_SUCCESS.contains(&(op.method, op.path))
                    || op.path == "/v2/organizations/export"
                    || op.method == "head";
                assert_eq!(
                    success_schema(op.method, op.path, s).is_some(),
                    !bodiless,
                    "{} {} {s}",
                    op.method,
                    op.path
                );
            }
        }
    }
}
