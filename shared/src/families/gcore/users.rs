//! Gcore IAM users (seed 004 and the SDK's `iam.users`): a user and its
//! client (account) are the core's user and customer organization, with
//! Gcore's integer ids (per-tenant counters, given out on first sight).
//!
//! Choices where Gcore is silent (see the README): a taken email is 400
//! `{"errors":{"email":["user with this email already exists."]}}`;
//! passwords follow the tenant's password policy; `name` is the user's
//! first name field (the other families' first and last names are shown
//! joined); a user is in exactly one client, so `DELETE
//! .../client-users/{userId}` deletes it (soft: its email stays claimed)
//! and inviting a user of another client is 400.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::{authenticate, render_error, user_type};
use crate::base::error::{Error, FieldErrors, TAKEN};
use crate::base::model::{Lifecycle, OrgKind, Organization, Profile, Role, User};
use crate::be::storage::{self, Env};
use crate::credential::auth::Caller;
use crate::credential::identity::Config;
use crate::edge::web::{self, Request, Response};
use crate::idm::listing::ListQuery;
use crate::idm::provision::{self, NewCustomer, NewOrg, NewUser, OpId};
use crate::idm::users::{self, ProfileChange, UserChange};
use crate::{
    base::validate, credential::api_tokens, idm::aliases, idm::invitations, idm::organizations,
    idm::reference,
};

/// Gcore's `lang` values.
pub(crate) const LANGS: [&str; 5] = ["de", "en", "ru", "zh", "az"];
/// Gcore's service names (`services[].product_name`).
pub(crate) const SERVICES: [&str; 6] = ["CDN", "STORAGE", "STREAMING", "DNS", "DDOS", "CLOUD"];
/// The services a client was made with `available: true` (stored as
/// `service.<NAME>` = `"true"`), in Gcore's order: what it may activate.
pub fn available_services(org: &Organization) -> Vec<&'static str> {
    SERVICES
        .into_iter()
        .filter(|s| org.details.get(&format!("service.{s}")).map(String::as_str) == Some("true"))
        .collect()
}

/// `serviceStatuses` of the account overview: a service available to the
/// client and never activated is Gcore's `new`, not enabled; services marked
/// unavailable or left to the default (no default exists here) are absent.
pub fn service_statuses(org: &Organization) -> BTreeMap<&'static str, ServiceStatus> {
    available_services(org)
        .into_iter()
        .map(|s| {
            let status = ServiceStatus {
                status: "new",
                enabled: false,
            };
            (s, status)
        })
        .collect()
}

/// A service's state in the account overview.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ServiceStatus {
    #[cfg_attr(feature = "openapi", schemars(with = "ServiceState"))]
    pub status: &'static str,
    pub enabled: bool,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(
    ServiceState,
    [
        "new",
        "trial",
        "trialend",
        "active",
        "paused",
        "activating",
        "deleted"
    ]
);

/// Gcore's `auth_types` values.
const AUTH_TYPES: [&str; 4] = ["password", "sso", "github", "google-oauth2"];

/// The user's name as Gcore shows it: the first and last names joined.
fn full_name(p: &Profile) -> Option<String> {
    let joined = [p.first_name.as_deref(), p.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// A user as Gcore shows one (every user answer, and each list item). The
/// handlers render it with serde; with the `openapi` feature its schema is
/// the document's.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct UserView<'a> {
    pub id: u64,
    pub email: &'a str,
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(with = "Lang"))]
    pub lang: &'a str,
    pub phone: Option<&'a str>,
    pub company: &'a str,
    /// The client's reseller id, 0 for none.
    pub reseller: u64,
    /// The user's client id.
    pub client: u64,
    pub deleted: bool,
    pub groups: [GroupRef; 1],
    pub activated: bool,
    pub sso_auth: bool,
    pub two_fa: bool,
    pub auth_types: Vec<&'a str>,
    #[cfg_attr(feature = "openapi", schemars(with = "ShownUserType"))]
    pub user_type: &'static str,
    pub is_active: bool,
    /// In the answers that list the user's clients and roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub client_and_roles: Option<[ClientRoles<'a>; 1]>,
}

/// One of a user's groups.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct GroupRef {
    pub id: u32,
    pub name: &'static str,
}

/// A client of the user's and the user's roles in it (group ids as
/// strings).
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ClientRoles<'a> {
    pub client_id: u64,
    pub client_company_name: &'a str,
    pub user_roles: [String; 1],
    pub user_id: u64,
}

/// `GET /iam/users`: a page of users, with the links to the pages beside it.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct UsersPage<'a> {
    pub count: usize,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<UserView<'a>>,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(ShownUserType, ["seller", "reseller", "common"]);

/// The Gcore `User` of a core user in client `org` (assigning integer ids
/// on first sight).
fn user_json<'a>(
    env: &Env,
    tenant: &str,
    user: &'a User,
    org: &'a Organization,
    with_roles: bool,
) -> Result<UserView<'a>, Error> {
    let id = aliases::user_number(env, tenant, user)?;
    let client = aliases::org_number(env, tenant, org)?;
    let reseller = match org.parent {
        Some(p) => match storage::read::<Organization>(env.kv, &storage::keys::org(tenant, p))? {
            Some(r) if r.data.kind == OrgKind::Reseller => {
                aliases::org_number(env, tenant, &r.data)?
            }
            _ => 0,
        },
        None => 0,
    };
    let group = super::group(user.role);
    let group_id = group.id;
    let company = org.company_name.as_deref().unwrap_or(&org.name);
    Ok(UserView {
        id,
        email: &user.email,
        name: full_name(&user.profile),
        lang: user
            .profile
            .locale
            .as_deref()
            .filter(|l| LANGS.contains(l))
            .unwrap_or("en"),
        phone: user.profile.phone.as_deref(),
        company,
        reseller,
        client,
        deleted: user.status == Lifecycle::Deleted,
        groups: [group],
        activated: user.password_hash.is_some(),
        sso_auth: false,
        two_fa: false,
        auth_types: if user.auth_types.is_empty() {
            vec!["password"]
        } else {
            user.auth_types.iter().map(String::as_str).collect()
        },
        user_type: user_type(user.role),
        is_active: user.status.may_authenticate() && org.status.may_authenticate(),
        client_and_roles: with_roles.then(|| {
            [ClientRoles {
                client_id: client,
                client_company_name: company,
                user_roles: [group_id.to_string()],
                user_id: id,
            }]
        }),
    })
}

fn opt_string(body: &Map<String, Value>, name: &str, errors: &mut FieldErrors) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 255 => Some(s.clone()),
        Some(Value::String(_)) => {
            errors.add(name, "Ensure this field has no more than 255 characters.");
            None
        }
        Some(_) => {
            errors.add(name, "Not a valid string.");
            None
        }
    }
}

fn lang(body: &Map<String, Value>, errors: &mut FieldErrors) -> Option<String> {
    let value = opt_string(body, "lang", errors)?;
    if LANGS.contains(&value.as_str()) {
        Some(value)
    } else {
        errors.add("lang", format!("\"{value}\" is not a valid choice."));
        None
    }
}

/// Gcore's field names for the core's (`user.email` → `email`), and its
/// answer to a taken email.
fn vendor_fields(error: Error) -> Error {
    match error {
        Error::Invalid(mut fields) => {
            for e in &mut fields.0 {
                if let Some(rest) = e.field.strip_prefix("user.") {
                    e.field = rest.to_string();
                }
                if e.field == "email" && e.message == TAKEN {
                    e.message = "user with this email already exists.".into();
                }
            }
            Error::Invalid(fields)
        }
        other => other,
    }
}

/// `POST /iam/users` (seed 004, reseller API): creates a user and its client,
/// both active at once; 201 with the user (`client_and_roles` included).
/// `GET /iam/users`: the users in reach, `limit` (default 50) and `offset`
/// → `{count, next, previous, results}`.
pub fn users(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        let allowed = [Method::GET, Method::POST];
        if !allowed.contains(req.method()) {
            return Err(Error::MethodNotAllowed(allowed.to_vec()));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        if req.method() == Method::GET {
            return list(req, env, &caller);
        }
        create(req, env, config, &caller)
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

fn create(
    req: &Request,
    env: &mut Env,
    config: &Config,
    caller: &Caller,
) -> Result<Response, Error> {
    if caller.role > Role::ResellerAdmin {
        return Err(Error::Forbidden("a reseller credential is required".into()));
    }
    let body = web::json_object(req)?;
    let mut errors = FieldErrors::default();
    let email = super::text_field(&body, "email", &mut errors);
    if !email.is_empty() && validate::email(&email).is_err() {
        errors.add("email", "Enter a valid email address.");
    }
    let password = super::text_field(&body, "password", &mut errors);
    let company = super::text_field(&body, "company", &mut errors);
    if company.chars().count() > 255 {
        errors.add(
            "company",
            "Ensure this field has no more than 255 characters.",
        );
    }
    if let Some(t) = opt_string(&body, "user_type", &mut errors)
        && t != "common"
    {
        errors.add("user_type", format!("\"{t}\" is not a valid choice."));
    }
    let name = opt_string(&body, "name", &mut errors);
    let phone = opt_string(&body, "phone", &mut errors);
    let lang = lang(&body, &mut errors);
    let custom_id = opt_string(&body, "custom_id", &mut errors);
    let country = opt_string(&body, "country_code", &mut errors);
    if let Some(c) = &country
        && !reference::is_country(c)
    {
        errors.add("country_code", "Enter an ISO 3166-1 alpha-2 country code.");
    }
    let is_test = match body.get("is_test") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.add("is_test", "Must be a valid boolean.");
            false
        }
    };
    let services = services_field(&body, &mut errors);
    let seller = seller_field(&body, &mut errors);
    provision::password_errors(
        env.kv,
        &caller.tenant,
        None,
        &password,
        "password",
        &mut errors,
    )?;
    errors.into_result()?;
    let parent = seller_org(env, caller, seller)?;
    let mut details = services;
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            details.insert(k.to_string(), v);
        }
    };
    put("email", Some(email.clone()));
    put("phone", phone.clone());
    put("custom_id", custom_id);
    put("country_code", country);
    put("is_test", Some(is_test.to_string()));
    let input = NewCustomer {
        organization: Some(NewOrg {
            name: company.clone(),
            company_name: Some(company),
            parent,
            details,
            ..NewOrg::default()
        }),
        user: NewUser {
            email,
            profile: Profile {
                first_name: name,
                phone,
                locale: lang,
                ..Profile::default()
            },
            confirmed: true,
            password: Some(password),
            ..NewUser::default()
        },
        ..NewCustomer::default()
    };
    let fingerprint =
        crate::credential::identity::fingerprint(config, &Value::Object(body).to_string());
    let op = OpId::fresh(env, fingerprint);
    let created = provision::create_customer(env, caller, &input, &op, config.hash_params(), None)
        .map_err(vendor_fields)?;
    let body = user_json(
        env,
        &caller.tenant,
        &created.user,
        &created.organization,
        true,
    )?;
    Ok(web::serialized(StatusCode::CREATED, &body))
}

/// Seed 004's body as `create` reads it, into locals (so that the shipped
/// reader's code is what it was before this type). The derived schema is
/// the document's; a test through the component sends its instances.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct CreateUserBody {
    #[schemars(email, length(min = 1, max = 255))]
    pub email: String,
    pub password: crate::base::schema::Password,
    /// The new client's company name.
    #[schemars(length(min = 1, max = 255))]
    pub company: String,
    pub user_type: Option<UserType>,
    #[schemars(length(max = 255))]
    pub name: Option<String>,
    #[schemars(length(max = 255))]
    pub phone: Option<String>,
    pub lang: Option<Lang>,
    /// Your own id for the client (a CRM's, say).
    #[schemars(length(max = 255))]
    pub custom_id: Option<String>,
    pub country_code: Option<crate::base::schema::CountryCode>,
    pub is_test: Option<bool>,
    /// The products the client may use; `available` absent or null
    /// inherits the reseller's.
    pub services: Option<Vec<Service>>,
    /// A reseller (seller) id the credential reaches: a whole number
    /// written without a fraction (`123`, not `123.0`).
    #[schemars(range(min = 0))]
    pub seller: Option<i64>,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(UserType, ["common"]);
#[cfg(feature = "openapi")]
crate::base::schema::strings!(Lang, LANGS);
#[cfg(feature = "openapi")]
crate::base::schema::strings!(ProductName, SERVICES);

/// One item of `services`.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct Service {
    pub product_name: ProductName,
    pub available: Option<bool>,
}

/// `services`: `{product_name, available?}` items, each a product Gcore
/// lists, kept as `service.<product>` details (`true`, `false`, `inherit`).
fn services_field(body: &Map<String, Value>, errors: &mut FieldErrors) -> BTreeMap<String, String> {
    let mut services = BTreeMap::new();
    match body.get("services") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let product = item.get("product_name").and_then(Value::as_str);
                match product.filter(|p| SERVICES.contains(p)) {
                    Some(p) => {
                        let available = match item.get("available") {
                            None | Some(Value::Null) => "inherit",
                            Some(Value::Bool(true)) => "true",
                            Some(Value::Bool(false)) => "false",
                            Some(_) => {
                                errors.add(
                                    format!("services.{i}.available"),
                                    "Must be a valid boolean.",
                                );
                                "inherit"
                            }
                        };
                        services.insert(format!("service.{p}"), available.to_string());
                    }
                    None => errors.add(format!("services.{i}.product_name"), "Not a valid choice."),
                }
            }
        }
        Some(_) => errors.add("services", "Expected a list of items."),
    }
    services
}

/// `seller`: a reseller's integer id, if given.
fn seller_field(body: &Map<String, Value>, errors: &mut FieldErrors) -> Option<u64> {
    match body.get("seller") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) => Some(n),
            None => {
                errors.add("seller", "A valid integer is required.");
                None
            }
        },
        Some(_) => {
            errors.add("seller", "A valid integer is required.");
            None
        }
    }
}

/// The client's seller: a reseller the caller reaches (by its integer id),
/// or for a reseller's own credential, itself.
fn seller_org(
    env: &Env,
    caller: &Caller,
    seller: Option<u64>,
) -> Result<Option<uuid::Uuid>, Error> {
    Ok(match seller {
        Some(n) => {
            let bad = || Error::invalid("seller", "Seller not found.");
            let id = aliases::org_by_number(env, &caller.tenant, n)?.ok_or_else(bad)?;
            let org = organizations::get(env, caller, id).map_err(|_| bad())?;
            if org.kind != OrgKind::Reseller {
                return Err(bad());
            }
            Some(org.id)
        }
        None if caller.role == Role::ResellerAdmin => caller.org,
        None => None,
    })
}

/// What [`list`] reads (through [`query_number`]).
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct UsersQuery {
    /// Rows to return (0 is read as 1)
    #[schemars(range(max = 1000), extend("default" = 50))]
    pub limit: Option<u32>,
    /// Rows to skip (at most `usize::MAX / 2`, which is i32::MAX on wasm32)
    #[schemars(range(max = i32::MAX), extend("default" = 0))]
    pub offset: Option<u32>,
}

fn query_number(req: &Request, name: &str, default: usize, max: usize) -> Result<usize, Error> {
    let raw = req
        .uri()
        .query()
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    match raw {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| Error::invalid(name, "A valid integer is required.")),
    }
}

fn list(req: &Request, env: &mut Env, caller: &Caller) -> Result<Response, Error> {
    let limit = query_number(req, "limit", 50, 1000)?.max(1);
    let offset = query_number(req, "offset", 0, usize::MAX / 2)?;
    let query = ListQuery {
        offset: Some(offset),
        ..ListQuery::page(1, limit)
    };
    let page = users::list(env, caller, &query)?;
    let mut results = Vec::new();
    for (u, o) in &page.items {
        results.push(user_json(env, &caller.tenant, u, o, true)?);
    }
    let count = page.total;
    let link = |at: usize| format!("/iam/users?limit={limit}&offset={at}");
    let next = (offset + limit < page.span.max(count)).then(|| link(offset + limit));
    let previous = (offset > 0).then(|| link(offset.saturating_sub(limit)));
    Ok(web::serialized(
        StatusCode::OK,
        &UsersPage {
            count,
            next,
            previous,
            results,
        },
    ))
}

/// The user an integer `{userId}` names, in reach, else 404 "User not found".
fn target(req: &Request, env: &Env, caller: &Caller) -> Result<(User, Organization), Error> {
    let not_found = || Error::NotFound("User not found".into());
    let n: u64 = web::path_param(req, "userId")
        .and_then(|s| s.parse().ok())
        .ok_or_else(not_found)?;
    let id = aliases::user_by_number(env, &caller.tenant, n)?.ok_or_else(not_found)?;
    users::get(env, caller, id).map_err(|e| match e {
        Error::Forbidden(m) => Error::Forbidden(m),
        _ => not_found(),
    })
}

/// What [`user`] reads on `PATCH`, every field optional.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct UserChangeBody {
    pub auth_types: Option<Vec<AuthType>>,
    #[schemars(email, length(min = 1, max = 255))]
    pub email: Option<String>,
    pub lang: Option<Lang>,
    #[schemars(length(max = 255))]
    pub name: Option<String>,
    #[schemars(length(max = 255))]
    pub phone: Option<String>,
    /// Your own password: changing your own email needs it.
    pub current_password: Option<String>,
    /// Operators changing another account's email: take effect now.
    pub skip_reconfirmation: Option<bool>,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(AuthType, AUTH_TYPES);

/// `GET /iam/users/{userId}`: the user (without `client_and_roles`).
/// `PATCH`: `auth_types`, `email`, `lang`, `name`, `phone`; 200 with the
/// full user.
pub fn user(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        let allowed = [Method::GET, Method::PATCH];
        if !allowed.contains(req.method()) {
            return Err(Error::MethodNotAllowed(allowed.to_vec()));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let (found, org) = target(req, env, &caller)?;
        if req.method() == Method::GET {
            let body = user_json(env, &caller.tenant, &found, &org, false)?;
            return Ok(web::serialized(StatusCode::OK, &body));
        }
        let body = web::json_object(req)?;
        let mut errors = FieldErrors::default();
        let email = opt_string(&body, "email", &mut errors);
        if let Some(e) = &email
            && validate::email(e).is_err()
        {
            errors.add("email", "Enter a valid email address.");
        }
        let lang = lang(&body, &mut errors);
        let absent_or = |name: &str, errors: &mut FieldErrors| -> Option<Option<String>> {
            match body.get(name) {
                None => None,
                Some(Value::Null) => Some(None),
                Some(_) => Some(opt_string(&body, name, errors)),
            }
        };
        let name = absent_or("name", &mut errors);
        let phone = absent_or("phone", &mut errors);
        let auth_types = match body.get("auth_types") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut list = Vec::new();
                for item in items {
                    match item.as_str().filter(|t| AUTH_TYPES.contains(t)) {
                        Some(t) => list.push(t.to_string()),
                        None => errors.add("auth_types", format!("{item} is not a valid choice.")),
                    }
                }
                Some(list)
            }
            Some(_) => {
                errors.add("auth_types", "Expected a list of items.");
                None
            }
        };
        // Kept as sent (a password is never trimmed).
        let current_password = match body.get("current_password") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(p.clone()),
            Some(_) => {
                errors.add("current_password", "Not a valid string.");
                None
            }
        };
        let skip_reconfirmation = match body.get("skip_reconfirmation") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                errors.add("skip_reconfirmation", "Must be a valid boolean.");
                false
            }
        };
        errors.into_result()?;
        let change = UserChange {
            email,
            organization_id: None,
            profile: ProfileChange {
                // Gcore's one name field is the first name; the last goes.
                first_name: name.clone(),
                last_name: name.as_ref().map(|_| None),
                phone,
                locale: lang.map(Some),
                ..ProfileChange::default()
            },
            groups: None,
            auth_types,
            current_password,
            skip_reconfirmation,
            ..UserChange::default()
        };
        let updated = if caller.user == Some(found.id) {
            if caller.role > found.role {
                // A token narrower than its user does not change the user.
                return Err(Error::Forbidden(
                    "The specified user has issued a token with a higher role. Try using another role."
                        .into(),
                ));
            }
            users::update_me(env, &caller, &change, &web::client_address(req))
        } else {
            users::update(env, &caller, found.id, &change)
        }
        .map_err(vendor_fields)?;
        let body = user_json(env, &caller.tenant, &updated, &org, true)?;
        Ok(web::serialized(StatusCode::OK, &body))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `DELETE /iam/clients/{clientId}/client-users/{userId}`: removes the user
/// from the client; a user is in one client only, so it is deleted (soft).
/// 403 while it has live API tokens; 200 with no body.
pub fn client_user(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::DELETE {
            return Err(Error::MethodNotAllowed(vec![Method::DELETE]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let client = super::client(req, env, &caller)?;
        let (found, org) = target(req, env, &caller)?;
        if org.id != client.id {
            return Err(Error::NotFound("User not found".into()));
        }
        if api_tokens::has_live_tokens(env, &caller.tenant, &client, found.id)? {
            return Err(Error::Forbidden(
                "You can't remove the user as they have active tokens".into(),
            ));
        }
        users::delete(env, &caller, found.id, false)?;
        Ok(web::empty(StatusCode::OK))
    })();
    result.unwrap_or_else(|e| match &e {
        Error::Forbidden(m) if m.contains("active tokens") => {
            web::json(StatusCode::FORBIDDEN, &json!({"message": m}))
        }
        _ => render_error(&e),
    })
}

/// What [`invite_user`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct InviteBody {
    /// The client's integer id
    pub client_id: u64,
    #[schemars(email, length(min = 1, max = 255))]
    pub email: String,
    /// Administrators (1) invite an administrator of the client; the other
    /// groups a user
    pub user_role: super::GroupChoice,
    pub lang: Option<Lang>,
    #[schemars(length(max = 255))]
    pub name: Option<String>,
}

/// An invitation's answer.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Invited {
    #[cfg_attr(feature = "openapi", schemars(extend("const" = "sent")))]
    pub status: &'static str,
    /// The new user's integer id
    pub user_id: u64,
}

/// `POST /iam/clients/invite_user` `{client_id, email, user_role{id, name},
/// lang?, name?}`: makes the user (no password until it accepts) and queues
/// the invitation in the tenant's outbox (`GET /admin/outbox`); 200
/// `{"status": "sent", "user_id"}`. Group 1 (Administrators) invites an
/// administrator of the client; the other groups a user.
pub fn invite_user(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::POST {
            return Err(Error::MethodNotAllowed(vec![Method::POST]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let body = web::json_object(req)?;
        let mut errors = FieldErrors::default();
        let client_id = match body.get("client_id").and_then(Value::as_u64) {
            Some(n) => n,
            None => {
                errors.add("client_id", "A valid integer is required.");
                0
            }
        };
        let email = super::text_field(&body, "email", &mut errors);
        if !email.is_empty() && validate::email(&email).is_err() {
            errors.add("email", "Enter a valid email address.");
        }
        let role = match body.get("user_role") {
            Some(group @ Value::Object(_)) => match super::administrators(group) {
                Some(true) => Role::CustomerAdmin,
                Some(false) => Role::User,
                None => {
                    errors.add("user_role", "Invalid role.");
                    Role::User
                }
            },
            _ => {
                errors.add("user_role", "This field is required.");
                Role::User
            }
        };
        let lang = lang(&body, &mut errors);
        let name = opt_string(&body, "name", &mut errors);
        errors.into_result()?;
        let not_found = || Error::NotFound("Account not found.".into());
        let org_id =
            aliases::org_by_number(env, &caller.tenant, client_id)?.ok_or_else(not_found)?;
        let org = organizations::get(env, &caller, org_id).map_err(|_| not_found())?;
        // Someone already holding the email: this client's or another's.
        let normalized = validate::normalize_email(&email);
        if let Some(existing) =
            crate::credential::identity::holder(env, &caller.tenant, &normalized)?
        {
            let message = if existing.organization_id == org.id {
                let n = aliases::user_number(env, &caller.tenant, &existing)?;
                format!("User {n} has already been invited to client {client_id}")
            } else {
                "This user cannot be added to this client.".into()
            };
            return Ok(web::json(StatusCode::BAD_REQUEST, &json!([message])));
        }
        let profile = Profile {
            first_name: name,
            locale: lang,
            ..Profile::default()
        };
        let user = invitations::invite(env, &caller, &org, &email, role, profile)
            .map_err(vendor_fields)?;
        let n = aliases::user_number(env, &caller.tenant, &user)?;
        Ok(web::serialized(
            StatusCode::OK,
            &Invited {
                status: "sent",
                user_id: n,
            },
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}
