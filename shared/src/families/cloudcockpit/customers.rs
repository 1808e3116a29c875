//! Customers (C1–C6): the same organizations the `/v2` family manages.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    body_uuid, paging, path_uuid, query_bool, query_uuid, query_value, related, reseller_context,
    scoped, serve_v1,
};
use crate::base::error::{Error, FieldErrors};
use crate::base::model::{Lifecycle, OrgKind, Organization, Role};
use crate::base::validate;
use crate::be::storage::Env;
use crate::credential::identity::Config;
use crate::edge::web::{self, Request, Response};
use crate::idm::listing::ListQuery;
use crate::idm::organizations::{self, OrgChange};
use crate::idm::provision::NewOrg;

/// A `CustomerViewModel` (with `deleted`): every detail field is null on
/// customers made by the other families.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CustomerView<'a> {
    pub id: Uuid,
    pub company_name: &'a str,
    pub tax_id: Option<&'a str>,
    pub country: Option<&'a str>,
    pub address_line1: Option<&'a str>,
    pub address_line2: Option<&'a str>,
    pub city: Option<&'a str>,
    pub state: Option<&'a str>,
    pub zip: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub middle_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub internal_identifier: Option<&'a str>,
    pub reseller_id: Option<Uuid>,
    /// Always empty: no provider is attached here
    pub provider_customers: Vec<Map<String, Value>>,
    pub customer_associations: Vec<Map<String, Value>>,
    pub deleted: bool,
}

/// The customer view of an organization.
fn customer_view(org: &Organization) -> CustomerView<'_> {
    let d = |k: &str| org.details.get(k).map(String::as_str);
    CustomerView {
        id: org.id,
        company_name: org.company_name.as_deref().unwrap_or(&org.name),
        tax_id: d("taxId"),
        country: d("country"),
        address_line1: d("addressLine1"),
        address_line2: d("addressLine2"),
        city: d("city"),
        state: d("state"),
        zip: d("zip"),
        first_name: d("firstName"),
        middle_name: d("middleName"),
        last_name: d("lastName"),
        email: d("email"),
        phone: d("phone"),
        internal_identifier: d("internalIdentifier"),
        reseller_id: org.parent,
        provider_customers: Vec::new(),
        customer_associations: Vec::new(),
        deleted: org.status == Lifecycle::Deleted,
    }
}

/// The fields of a `CustomerViewModel` and their limits.
pub(crate) const CUSTOMER_FIELDS: [(&str, bool, usize); 14] = [
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

/// A `CustomerViewModel` as [`parse_customer`] reads it: each field within
/// its [`CUSTOMER_FIELDS`] limit, the required ones not blank; an optional
/// one blank or null is absent.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct CustomerBody {
    #[schemars(length(max = 255), regex(pattern = r"\S"))]
    pub company_name: String,
    #[schemars(length(max = 255))]
    pub tax_id: Option<String>,
    /// ISO 3166-1 alpha-2
    #[schemars(regex(pattern = "^[A-Z]{2}$"))]
    pub country: String,
    #[schemars(length(max = 255), regex(pattern = r"\S"))]
    pub address_line1: String,
    #[schemars(length(max = 255))]
    pub address_line2: Option<String>,
    #[schemars(length(max = 255), regex(pattern = r"\S"))]
    pub city: String,
    #[schemars(length(max = 255), regex(pattern = r"\S"))]
    pub state: String,
    #[schemars(length(max = 30), regex(pattern = r"\S"))]
    pub zip: String,
    #[schemars(length(max = 255), regex(pattern = r"\S"))]
    pub first_name: String,
    #[schemars(length(max = 255))]
    pub middle_name: Option<String>,
    #[schemars(length(max = 255), regex(pattern = r"\S"))]
    pub last_name: String,
    #[schemars(email, length(min = 1, max = 255))]
    pub email: String,
    #[schemars(length(max = 30), regex(pattern = r"\S"))]
    pub phone: String,
    #[schemars(length(max = 255))]
    pub internal_identifier: Option<String>,
    /// The reseller the customer is made under (one in reach; default the
    /// caller's context); account-info checks its form but not its value
    pub reseller_id: Option<Uuid>,
}

fn parse_customer(
    body: &Map<String, Value>,
) -> Result<(BTreeMap<String, String>, Option<Uuid>), Error> {
    let mut errors = FieldErrors::default();
    let mut details = BTreeMap::new();
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
    let reseller = body_uuid(body, "resellerId", &mut errors);
    errors.into_result()?;
    Ok((details, reseller))
}

/// `POST /v1/Customers` (C1): creates a customer below the reseller context,
/// 201 with the new id as a JSON string. `GET /v1/Customers` (C2): the
/// customers in reach, paged; `searchValue` (at most 255) in `searchField`
/// (`Company.Name` by default, or `InternalIdentifier`; `Domain` and
/// `ProviderCustomerId` match nothing here, as no provider is attached),
/// `sortPropertyName=Company.Name` with `ascendingOrder` (default true),
/// `resellerId`, and `includeDeleted` (default true, as documented).
pub fn customers(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve_v1(
        req,
        env,
        config,
        &[Method::GET, Method::POST],
        |caller, env| {
            if req.method() == Method::GET {
                return list(req, env, caller);
            }
            let body = web::json_object(req)?;
            let (details, named) = parse_customer(&body)?;
            let parent = reseller_context(env, caller, named)?;
            let company = details.get("companyName").cloned().unwrap_or_default();
            let org = organizations::create(
                env,
                caller,
                &NewOrg {
                    name: company.clone(),
                    company_name: Some(company),
                    parent,
                    details,
                    ..NewOrg::default()
                },
                &[],
            )
            .map_err(|e| match e {
                Error::NotFound(_) => Error::invalid("resellerId", "The reseller was not found."),
                other => other,
            })?;
            Ok(web::json(StatusCode::CREATED, &json!(org.id)))
        },
    )
}

/// What [`list`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct CustomersQuery {
    #[schemars(flatten)]
    pub paging: super::PagingQuery,
    /// Only that reseller's customers (one in reach, else 403)
    pub reseller_id: Option<Uuid>,
    /// Include deleted customers
    #[schemars(extend("default" = true))]
    pub include_deleted: Option<bool>,
    #[schemars(flatten)]
    pub sort_search: super::SortSearchQuery,
    /// Field searchValue looks in (needs searchValue); Domain and
    /// ProviderCustomerId match nothing here
    #[schemars(extend("default" = "Company.Name", "enum" = ["Company.Name", "InternalIdentifier", "Domain", "ProviderCustomerId"]))]
    pub search_field: Option<String>,
    /// Sort by company name
    #[schemars(extend("enum" = ["Company.Name"]))]
    pub sort_property_name: Option<String>,
}

fn list(
    req: &Request,
    env: &mut Env,
    caller: &crate::credential::auth::Caller,
) -> Result<Response, Error> {
    let (page, size) = paging(req)?;
    let caller = scoped(env, caller, query_uuid(req, "resellerId")?)?;
    let include_deleted = query_bool(req, "includeDeleted", true)?;
    let ascending = query_bool(req, "ascendingOrder", true)?;
    let mut query = ListQuery::page(page, size);
    let value = query_value(req, "searchValue").filter(|v| !v.trim().is_empty());
    let field = query_value(req, "searchField");
    let mut errors = FieldErrors::default();
    if let Some(v) = &value
        && v.chars().count() > 255
    {
        errors.add(
            "searchValue",
            "'searchValue' must be 255 characters or fewer.",
        );
    }
    let column = match field.as_deref() {
        None | Some("Company.Name") => "company_name",
        Some("InternalIdentifier") => "internal_identifier",
        Some("Domain") => "domain",
        Some("ProviderCustomerId") => "provider_customer_id",
        Some(_) => {
            errors.add(
                "searchField",
                "'searchField' must be Company.Name, Domain, InternalIdentifier or ProviderCustomerId.",
            );
            "company_name"
        }
    };
    if field.is_some() && value.is_none() {
        errors.add(
            "searchValue",
            "'searchValue' is required with 'searchField'.",
        );
    }
    match query_value(req, "sortPropertyName").as_deref() {
        None => {}
        Some("Company.Name") => query.sort = Some(("company_name".into(), !ascending)),
        Some(_) => errors.add(
            "sortPropertyName",
            "'sortPropertyName' must be Company.Name.",
        ),
    }
    errors.into_result()?;
    if let Some(v) = value {
        let pattern = format!("*{}*", v.to_lowercase().replace('*', ""));
        query.filters.push((column.into(), pattern));
    }
    let found = organizations::customers(env, &caller, &query, include_deleted)?;
    let items = found.items.iter().map(customer_view).collect();
    Ok(web::serialized(
        StatusCode::OK,
        &super::Paged::new(items, page, size, found.total, found.span),
    ))
}

/// A customer the caller reaches (deleted ones only where `deleted` allows),
/// with `resellerId` naming its reseller (else 403).
/// `named` is the `resellerId` the operation takes, if it takes one: C3 and
/// C6 in the query; C4 none; C5 in its body, checked after the body is read.
fn reachable_customer(
    req: &Request,
    env: &Env,
    caller: &crate::credential::auth::Caller,
    named: Option<Uuid>,
) -> Result<Organization, Error> {
    let id = path_uuid(req, "customerId", "customer")?;
    let not_found = || Error::NotFound("The customer was not found.".into());
    let org = organizations::get(env, caller, id).map_err(|_| not_found())?;
    if org.kind != OrgKind::Customer {
        return Err(not_found());
    }
    related(env, caller, named, &org)?;
    Ok(org)
}

/// `GET /v1/Customers/{customerId}` (C3): the customer, if in reach; with
/// `resellerId`, 403 unless that reseller is its parent. `DELETE` (C6, CSP
/// only): the `/v2` family's soft delete, 202; refused (400) while the
/// customer still has users.
pub fn customer(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve_v1(
        req,
        env,
        config,
        &[Method::GET, Method::DELETE],
        |caller, env| {
            let org = reachable_customer(req, env, caller, query_uuid(req, "resellerId")?)?;
            if req.method() == Method::GET {
                return Ok(web::serialized(StatusCode::OK, &customer_view(&org)));
            }
            if caller.role != Role::Operator {
                return Err(Error::Forbidden("only a CSP deletes customers".into()));
            }
            organizations::delete(env, caller, org.id)?;
            Ok(web::empty(StatusCode::ACCEPTED))
        },
    )
}

/// What [`account_info`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct AccountInfoBody {
    /// The company and contact fields, validated as on create (`resellerId`
    /// is ignored)
    pub customer: CustomerBody,
    pub retry_failed_provider_customers_from_company_info: Option<bool>,
}

/// `PATCH /v1/Customers/{customerId}/account-info` (C4): `{customer:
/// CustomerViewModel without id, retryFailedProviderCustomersFromCompanyInfo}`
/// replaces the company and contact fields (validated as on create); 202.
pub fn account_info(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve_v1(req, env, config, &[Method::PATCH], |caller, env| {
        let org = reachable_customer(req, env, caller, None)?;
        let body = web::json_object(req)?;
        let mut errors = FieldErrors::default();
        let empty = Map::new();
        let customer = match body.get("customer") {
            Some(Value::Object(c)) => c,
            _ => {
                errors.add("customer", "'customer' must be an object.");
                &empty
            }
        };
        if !matches!(
            body.get("retryFailedProviderCustomersFromCompanyInfo"),
            None | Some(Value::Null) | Some(Value::Bool(_))
        ) {
            errors.add(
                "retryFailedProviderCustomersFromCompanyInfo",
                "must be true or false.",
            );
        }
        errors.into_result()?;
        let (details, _) = parse_customer(customer)?;
        let company = details.get("companyName").cloned().unwrap_or_default();
        let mut change = OrgChange {
            name: Some(company.clone()),
            company_name: Some(company),
            ..OrgChange::default()
        };
        for (name, _, _) in CUSTOMER_FIELDS {
            if name != "internalIdentifier" {
                change
                    .details
                    .insert(name.to_string(), details.get(name).cloned());
            }
        }
        organizations::update(env, caller, org.id, &change)?;
        Ok(web::empty(StatusCode::ACCEPTED))
    })
}

/// What [`internal_identifier`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct InternalIdentifierBody {
    /// Null or blank clears it
    #[schemars(length(max = 255))]
    pub internal_identifier: Option<String>,
    /// The reseller whose relationship it is (one in reach)
    pub reseller_id: Option<Uuid>,
}

/// `PATCH /v1/Customers/{customerId}/internal-identifier` (C5):
/// `{internalIdentifier, resellerId}` sets (or with null clears) the
/// identifier of the customer's relationship; 204.
pub fn internal_identifier(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve_v1(req, env, config, &[Method::PATCH], |caller, env| {
        let org = reachable_customer(req, env, caller, None)?;
        let body = web::json_object(req)?;
        let mut errors = FieldErrors::default();
        let value = match body.get("internalIdentifier") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= 255 => {
                (!s.trim().is_empty()).then(|| s.clone())
            }
            Some(Value::String(_)) => {
                errors.add(
                    "internalIdentifier",
                    "The length of 'internalIdentifier' must be 255 characters or fewer.",
                );
                None
            }
            Some(_) => {
                errors.add(
                    "internalIdentifier",
                    "'internalIdentifier' must be a string.",
                );
                None
            }
        };
        let named = body_uuid(&body, "resellerId", &mut errors);
        errors.into_result()?;
        related(env, caller, named, &org)?;
        let mut change = OrgChange::default();
        change.details.insert("internalIdentifier".into(), value);
        organizations::update(env, caller, org.id, &change)?;
        Ok(web::empty(StatusCode::NO_CONTENT))
    })
}

#[cfg(test)]
#[cfg(feature = "openapi")]
mod tests {
    use serde_json::json;

    use crate::base::schema::{body, samples::accepted};

    #[test]
    fn what_the_schema_allows_the_parser_accepts() {
        accepted::<super::CustomerBody>(|b| super::parse_customer(b).is_ok());
    }

    /// The type and the table the parser reads say the same limits.
    #[test]
    fn the_schema_states_the_parsers_limits() {
        let schema = body::<super::CustomerBody>();
        let required = schema["required"].as_array().cloned().unwrap_or_default();
        for (name, needed, max) in super::CUSTOMER_FIELDS {
            let field = &schema["properties"][name];
            if name == "country" {
                assert_eq!(field["pattern"], "^[A-Z]{2}$");
            } else {
                assert_eq!(field["maxLength"], max, "{name}");
            }
            assert_eq!(required.contains(&json!(name)), needed, "{name}");
        }
    }
}
