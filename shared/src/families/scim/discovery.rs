//! Discovery (RFC 7644 §4): `ServiceProviderConfig`, `ResourceTypes` and
//! `Schemas`, saying exactly what this service supports: the attributes it
//! keeps (and no other), PATCH, filters with their maximum, ETags and sort;
//! Bulk within its limits; no password change. The schemas include the three this service
//! describes itself with (RFC 7643 §5 to §7).

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::base::error::Error;
use crate::be::storage::Env;
use crate::credential::identity::Config;
use crate::credential::scim_connections;
use crate::edge::web::{Request, Response};
use crate::families::scim::bulk;
use crate::families::scim::error::ScimError;
use crate::families::scim::groups::GROUP_URN;
use crate::families::scim::users::{ENTERPRISE_URN, LIST_URN, USER_URN};
use crate::families::scim::{self as scim};

const CONFIG_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// One attribute's definition (RFC 7643 §7).
fn attr(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "description": description,
        "required": false, "caseExact": false, "mutability": "readWrite",
        "returned": "default", "uniqueness": "none",
    })
}

fn with(mut a: Value, changes: Value) -> Value {
    if let (Some(a), Some(c)) = (a.as_object_mut(), changes.as_object()) {
        for (k, v) in c {
            a.insert(k.clone(), v.clone());
        }
    }
    a
}

fn string(name: &str, description: &str) -> Value {
    attr(name, "string", description)
}

/// The User schema as the calling connection sees it: `roles` is
/// read-write only for a connection that assigns roles.
fn user_schema(assigns_roles: bool) -> Value {
    let roles_mutability = if assigns_roles {
        "readWrite"
    } else {
        "readOnly"
    };
    json!({
        "schemas": [SCHEMA_URN],
        "id": USER_URN, "name": "User", "description": "A user of the connection's organization",
        "attributes": [
            with(string("userName", "The user's email: unique in the tenant, case-insensitive; a change is confirmed from the new address"),
                 json!({"required": true, "uniqueness": "server"})),
            with(string("externalId", "The identity provider's id for the user"), json!({"caseExact": true})),
            with(attr("name", "complex", "The user's name"), json!({"subAttributes": [
                string("givenName", "Given name"), string("familyName", "Family name"),
                string("formatted", "The full name as displayed")]})),
            string("displayName", "The name displayed"),
            string("title", "Job title"),
            with(string("locale", "An ISO 639-1 language, optionally with an ISO 3166 region (any, not only these)"),
                 json!({"canonicalValues": ["en-US", "en-GB", "fr-FR", "de-DE", "pt-PT", "es-ES"]})),
            with(string("timezone", "An IANA time zone (any, not only these)"),
                 json!({"canonicalValues": ["UTC", "Europe/Lisbon", "Europe/Paris", "America/New_York", "Asia/Tokyo"]})),
            attr("active", "boolean", "false: disabled (cannot sign in), not deleted"),
            with(attr("emails", "complex", "The user's one email, equal to userName"), json!({
                "multiValued": true, "subAttributes": [
                    string("value", "The address"),
                    with(string("type", "work"), json!({"canonicalValues": ["work"]})),
                    attr("primary", "boolean", "Always true")]})),
            with(attr("phoneNumbers", "complex", "A work and a mobile number"), json!({
                "multiValued": true, "subAttributes": [
                    string("value", "The number"),
                    with(string("type", "work or mobile"), json!({"canonicalValues": ["work", "mobile"]})),
                    attr("primary", "boolean", "Accepted, not kept")]})),
            with(attr("roles", "complex", "The user's role in the organization: user, or customer_admin (its administrator); the widest one given is kept"), json!({
                "multiValued": true, "mutability": roles_mutability, "subAttributes": [
                    with(string("value", "user or customer_admin"), json!({"mutability": roles_mutability, "canonicalValues": ["user", "customer_admin"]})),
                    with(string("display", "The role's name"), json!({"mutability": roles_mutability})),
                    with(string("type", "Accepted, not kept"), json!({"mutability": roles_mutability})),
                    with(attr("primary", "boolean", "Accepted, not kept"), json!({"mutability": roles_mutability}))]})),
            with(attr("groups", "complex", "The groups the user belongs to"), json!({
                "multiValued": true, "mutability": "readOnly", "subAttributes": [
                    with(string("value", "The group's id"), json!({"mutability": "readOnly", "caseExact": true})),
                    with(attr("$ref", "reference", "The group's URI"), json!({"mutability": "readOnly", "referenceTypes": ["Group"]})),
                    with(string("display", "The group's name"), json!({"mutability": "readOnly"})),
                    with(string("type", "direct"), json!({"mutability": "readOnly"}))]})),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{}/Schemas/{USER_URN}", scim::BASE_PATH)},
    })
}

fn enterprise_schema() -> Value {
    json!({
        "schemas": [SCHEMA_URN],
        "id": ENTERPRISE_URN, "name": "EnterpriseUser", "description": "Enterprise user",
        "attributes": [
            string("employeeNumber", "Employee number"),
            string("department", "Department"),
            string("organization", "The company's name (not the customer organization)"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{}/Schemas/{ENTERPRISE_URN}", scim::BASE_PATH)},
    })
}

fn group_schema() -> Value {
    json!({
        "schemas": [SCHEMA_URN],
        "id": GROUP_URN, "name": "Group", "description": "A group of the connection's organization",
        "attributes": [
            with(string("displayName", "Unique in the organization, case-insensitive"),
                 json!({"required": true, "uniqueness": "server"})),
            with(string("externalId", "The identity provider's id for the group"), json!({"caseExact": true})),
            with(attr("members", "complex", "Users of the organization"), json!({
                "multiValued": true, "subAttributes": [
                    with(string("value", "The user's id"), json!({"mutability": "immutable", "caseExact": true})),
                    with(attr("$ref", "reference", "The user's URI"), json!({"mutability": "immutable", "referenceTypes": ["User"]})),
                    with(string("type", "User"), json!({"mutability": "immutable", "canonicalValues": ["User"]}))]})),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{}/Schemas/{GROUP_URN}", scim::BASE_PATH)},
    })
}

/// A schema this service describes itself with (RFC 7643 §5 to §7), named
/// with its main attributes, read-only.
fn meta_schema(id: &str, name: &str, attributes: &[(&str, &str)]) -> Value {
    let attributes: Vec<Value> = attributes
        .iter()
        .map(|(n, kind)| with(attr(n, kind, n), json!({"mutability": "readOnly"})))
        .collect();
    json!({
        "schemas": [SCHEMA_URN], "id": id, "name": name, "description": name,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{}/Schemas/{id}", scim::BASE_PATH)},
    })
}

fn schemas(assigns_roles: bool) -> Vec<Value> {
    vec![
        user_schema(assigns_roles),
        enterprise_schema(),
        group_schema(),
        meta_schema(
            CONFIG_URN,
            "ServiceProviderConfig",
            &[
                ("documentationUri", "reference"),
                ("patch", "complex"),
                ("bulk", "complex"),
                ("filter", "complex"),
                ("changePassword", "complex"),
                ("sort", "complex"),
                ("etag", "complex"),
                ("authenticationSchemes", "complex"),
            ],
        ),
        meta_schema(
            RESOURCE_TYPE_URN,
            "ResourceType",
            &[
                ("id", "string"),
                ("name", "string"),
                ("description", "string"),
                ("endpoint", "reference"),
                ("schema", "reference"),
                ("schemaExtensions", "complex"),
            ],
        ),
        meta_schema(
            SCHEMA_URN,
            "Schema",
            &[
                ("id", "string"),
                ("name", "string"),
                ("description", "string"),
                ("attributes", "complex"),
            ],
        ),
    ]
}

fn resource_types() -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": "User", "name": "User", "endpoint": "/Users",
            "description": "Users of the connection's customer organization",
            "schema": USER_URN,
            "schemaExtensions": [{"schema": ENTERPRISE_URN, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{}/ResourceTypes/User", scim::BASE_PATH)},
        }),
        json!({
            "schemas": [RESOURCE_TYPE_URN],
            "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "Groups of the connection's customer organization",
            "schema": GROUP_URN,
            "meta": {"resourceType": "ResourceType", "location": format!("{}/ResourceTypes/Group", scim::BASE_PATH)},
        }),
    ]
}

fn service_provider_config() -> Value {
    json!({
        "schemas": [CONFIG_URN],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": bulk::MAX_OPERATIONS, "maxPayloadSize": bulk::MAX_PAYLOAD_BYTES},
        "filter": {"supported": true, "maxResults": scim::MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "SCIM connection token",
            "description": "Authorization: Bearer <token> of a connection made under /admin/scim-connections",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig",
                 "location": format!("{}/ServiceProviderConfig", scim::BASE_PATH)},
    })
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_URN],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

fn one_of(req: &Request, all: Vec<Value>) -> Result<Response, ScimError> {
    let id = crate::edge::web::path_param(req, "id").unwrap_or_default();
    all.into_iter()
        .find(|r| r["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .map(|r| scim::respond(StatusCode::OK, &r, None))
        .ok_or_else(|| Error::NotFound(format!("{id} not found")).into())
}

/// `GET /scim/v2/ServiceProviderConfig`.
pub fn config(req: &Request, env: &mut Env, config: &Config) -> Response {
    scim::serve(req, env, config, &[Method::GET], |_, _| {
        Ok(scim::respond(
            StatusCode::OK,
            &service_provider_config(),
            None,
        ))
    })
}

/// `GET /scim/v2/ResourceTypes`.
pub fn resource_type_list(req: &Request, env: &mut Env, config: &Config) -> Response {
    scim::serve(req, env, config, &[Method::GET], |_, _| {
        Ok(scim::respond(StatusCode::OK, &list(resource_types()), None))
    })
}

/// `GET /scim/v2/ResourceTypes/{id}`.
pub fn resource_type(req: &Request, env: &mut Env, config: &Config) -> Response {
    scim::serve(req, env, config, &[Method::GET], |_, _| {
        one_of(req, resource_types())
    })
}

/// `GET /scim/v2/Schemas`.
pub fn schema_list(req: &Request, env: &mut Env, config: &Config) -> Response {
    scim::serve(req, env, config, &[Method::GET], |caller, env| {
        let all = schemas(scim_connections::assigns_roles(env, caller)?.is_some());
        Ok(scim::respond(StatusCode::OK, &list(all), None))
    })
}

/// `GET /scim/v2/Schemas/{id}`.
pub fn schema(req: &Request, env: &mut Env, config: &Config) -> Response {
    scim::serve(req, env, config, &[Method::GET], |caller, env| {
        one_of(
            req,
            schemas(scim_connections::assigns_roles(env, caller)?.is_some()),
        )
    })
}
