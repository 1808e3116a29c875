//! Portal users (U1–U6) and groups (G1), as `UserViewModel` and
//! `GroupViewModel`. A portal user is the core's user: created here it is
//! the same record the other families read and change.
//!
//! Choices where the vendor is silent (see the README): a create names the
//! user by a caller-chosen `id` when given, and the identical request sent
//! again with that `id` answers 200 with it (another request with an `id`
//! already in use is 400 on `Id`); users are created with the `user` role;
//! `PATCH /v1/users/{email}` changes only the fields it sends; the response
//! `role` is `{"name": ...}` with the core's role name; a duplicate email
//! is 400 on `Email`.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    body_uuid, named_reseller, paged, paging, path_uuid, query_uuid, query_value, related,
    reseller_context, scoped, serve_v1,
};
use crate::base::error::{Error, FieldErrors};
use crate::base::model::{Group, OrgKind, Organization, Profile, Role, User};
use crate::be::storage::Env;
use crate::credential::auth::Caller;
use crate::credential::identity::Config;
use crate::edge::web::{self, Request, Response};
use crate::idm::listing::ListQuery;
use crate::idm::provision::{self, NewCustomer, NewUser, OpId};
use crate::idm::users::{self, ProfileChange, UserChange};
use crate::{base::validate, idm::groups as core_groups};

/// The vendor's role names for the core's roles.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Operator => "Csp",
        Role::ResellerAdmin => "ResellerAdmin",
        Role::CustomerAdmin => "CustomerAdmin",
        Role::User => "User",
    }
}

fn user_json(u: &User, groups: &[Group]) -> Value {
    json!({
        "id": u.id,
        "firstName": u.profile.first_name,
        "lastName": u.profile.last_name,
        "email": u.email,
        "role": {"name": role_name(u.role)},
        "groups": u.groups.iter().map(|id| {
            let name = groups.iter().find(|g| g.id == *id).map(|g| g.name.clone());
            json!({"id": id, "name": name})
        }).collect::<Vec<_>>(),
    })
}

/// Users rendered with their groups' names (one read for all groups).
fn users_json(env: &Env, tenant: &str, users: &[User]) -> Result<Vec<Value>, Error> {
    let mut ids: Vec<Uuid> = users.iter().flat_map(|u| u.groups.clone()).collect();
    ids.sort();
    ids.dedup();
    let groups = core_groups::by_ids(env, tenant, &ids)?;
    Ok(users.iter().map(|u| user_json(u, &groups)).collect())
}

/// A `UserViewModel` body, as `parse_user` fills it: seed 001's create,
/// and with every field optional (`partial`) `PATCH /v1/users/{email}`.
/// With the `openapi` feature its schema (the create's) is the document's.
#[derive(Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename_all = "camelCase"))]
pub struct UserBody {
    /// A caller-chosen id: the identical request sent again with it answers
    /// 200 with the user.
    pub id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schemars(required, length(max = 255), regex(pattern = r"\S"), extend("type" = "string")))]
    pub first_name: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(required, length(max = 255), regex(pattern = r"\S"), extend("type" = "string")))]
    pub last_name: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(required, email, length(min = 1, max = 255), extend("type" = "string")))]
    pub email: Option<String>,
    /// Roles are not assigned here: only `{}`.
    pub role: Option<NoRole>,
    /// The groups the user joins (each defined in its organization's chain);
    /// a repeated id is one membership.
    #[cfg_attr(
        feature = "openapi",
        schemars(required, with = "Vec<GroupRef>", length(max = 100))
    )]
    pub groups: Option<Vec<Uuid>>,
    /// Operators: an email change takes effect now instead of pending until
    /// the new address confirms it.
    #[cfg_attr(feature = "openapi", schemars(with = "Option<bool>"))]
    pub skip_reconfirmation: bool,
}

/// The `role` a body may carry: an empty object.
#[derive(Debug)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(deny_unknown_fields))]
pub struct NoRole {}

/// A group as a body names it (only the id is read).
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct GroupRef {
    pub id: Uuid,
    pub name: Option<String>,
}

pub(crate) fn parse_user(body: &Map<String, Value>, partial: bool) -> Result<UserBody, Error> {
    let mut errors = FieldErrors::default();
    let mut text = |name: &str| -> Option<String> {
        match body.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                if s.chars().count() > 255 {
                    errors.add(
                        name,
                        format!("The length of '{name}' must be 255 characters or fewer."),
                    );
                }
                Some(s.trim().to_string())
            }
            None if partial => None,
            None | Some(Value::Null) | Some(Value::String(_)) => {
                errors.add(name, format!("'{name}' must not be empty."));
                None
            }
            Some(_) => {
                errors.add(name, format!("'{name}' must be a string."));
                None
            }
        }
    };
    let first_name = text("firstName");
    let last_name = text("lastName");
    let email = text("email");
    if let Some(e) = &email
        && validate::email(e).is_err()
    {
        errors.add("email", "'email' is not a valid email address.");
    }
    let id = body_uuid(body, "id", &mut errors);
    let role = match body.get("role") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) if r.is_empty() => Some(NoRole {}),
        Some(Value::Object(r)) => {
            for key in r.keys() {
                errors.add(
                    "role",
                    format!("Property '{key}' is not allowed in 'role'."),
                );
            }
            None
        }
        Some(_) => {
            errors.add("role", "'role' must be an object.");
            None
        }
    };
    let groups = match body.get("groups") {
        None if partial => None,
        None | Some(Value::Null) => {
            errors.add("groups", "'groups' must not be empty.");
            None
        }
        Some(Value::Array(items)) => {
            let mut ids = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let id = item
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok());
                match id {
                    Some(id) => ids.push(id),
                    None => errors.add(format!("groups[{i}].id"), "'id' is not a valid GUID."),
                }
                if !matches!(
                    item.get("name"),
                    None | Some(Value::Null) | Some(Value::String(_))
                ) {
                    errors.add(format!("groups[{i}].name"), "'name' must be a string.");
                }
            }
            if items.len() > 100 {
                errors.add("groups", "At most 100 groups.");
            }
            // Repeats name one membership (the first keeps its place).
            let mut seen = std::collections::HashSet::new();
            ids.retain(|id| seen.insert(*id));
            Some(ids)
        }
        Some(_) => {
            errors.add("groups", "'groups' must be an array.");
            None
        }
    };
    let skip_reconfirmation = match body.get("skipReconfirmation") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.add(
                "skipReconfirmation",
                "'skipReconfirmation' must be a boolean.",
            );
            false
        }
    };
    errors.into_result()?;
    Ok(UserBody {
        id,
        first_name,
        last_name,
        email,
        role,
        groups,
        skip_reconfirmation,
    })
}

/// Creates a portal user in `org` (U4, U6): 201 with its id as a JSON
/// string, or 200 when the identical request with the same `id` already
/// created it.
fn create_in(
    req: &Request,
    env: &mut Env,
    caller: &Caller,
    org: &Organization,
    config: &Config,
) -> Result<Response, Error> {
    let body = web::json_object(req)?;
    let parsed = parse_user(&body, false)?;
    let input = NewCustomer {
        organization_id: Some(org.id),
        organization: None,
        user: NewUser {
            id: parsed.id,
            email: parsed.email.unwrap_or_default(),
            profile: Profile {
                first_name: parsed.first_name,
                last_name: parsed.last_name,
                ..Profile::default()
            },
            groups: parsed.groups.unwrap_or_default(),
            ..NewUser::default()
        },
        ..NewCustomer::default()
    };
    let fingerprint = crate::credential::identity::fingerprint(
        config,
        &format!("{}/{}", org.id, Value::Object(body.clone())),
    );
    let op = match parsed.id {
        Some(id) => OpId::keyed(caller, &format!("portal-user/{id}"), fingerprint),
        None => OpId::fresh(env, fingerprint),
    };
    let correlation = env.correlation.clone();
    let created =
        provision::create_customer(env, caller, &input, &op, config.hash_params(), correlation)?;
    let status = if created.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(web::json(status, &json!(created.user.id)))
}

/// `POST /v1/customer/{customerId}/users` (seed 001) and `GET` (U5, every
/// live user of the customer, sorted by name, not paged).
pub fn customer_users(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve_v1(
        req,
        env,
        config,
        &[Method::GET, Method::POST],
        |caller, env| {
            let id = path_uuid(req, "customerId", "customer")?;
            let named = query_uuid(req, "resellerId")?;
            let not_found = || Error::NotFound("The customer was not found.".into());
            let org = crate::idm::organizations::get(env, caller, id).map_err(|_| not_found())?;
            if org.kind != OrgKind::Customer {
                return Err(not_found());
            }
            related(env, caller, named, &org)?;
            if req.method() == Method::POST {
                return create_in(req, env, caller, &org, config);
            }
            let query = ListQuery {
                sort: Some(("name".into(), false)),
                ..ListQuery::page(1, crate::idm::listing::SCAN_CAP)
            };
            let found = users::members(env, caller, org.id, &query)?;
            let list: Vec<User> = found.items.into_iter().map(|(u, _)| u).collect();
            let items = users_json(env, &caller.tenant, &list)?;
            Ok(web::json(StatusCode::OK, &Value::Array(items)))
        },
    )
}

/// `POST /v1/reseller/{resellerId}/users` (U4): a user of the reseller's own
/// organization; a reseller only in its own.
pub fn reseller_users(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve_v1(req, env, config, &[Method::POST], |caller, env| {
        let id = path_uuid(req, "resellerId", "reseller")?;
        reseller_context(env, caller, Some(id))?;
        let not_found = || Error::NotFound("The reseller was not found.".into());
        let org = crate::idm::organizations::get(env, caller, id).map_err(|_| not_found())?;
        if org.kind != OrgKind::Reseller {
            return Err(not_found());
        }
        create_in(req, env, caller, &org, config)
    })
}

/// What [`users`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct UsersQuery {
    #[schemars(flatten)]
    pub paging: super::PagingQuery,
    /// Only users in that reseller's subtree (one in reach, else 403)
    pub reseller_id: Option<Uuid>,
    #[schemars(flatten)]
    pub sort_search: super::SortSearchQuery,
    /// Sort column
    #[schemars(extend("enum" = ["Name", "Email"]))]
    pub sort_property_name: Option<String>,
    /// Comma-separated group ids: users in any of them
    #[schemars(regex(pattern = GROUP_IDS))]
    pub groups: Option<String>,
}

#[cfg(feature = "openapi")]
const GROUP_IDS: &str = concat!(
    "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
    "(,[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})*$"
);

/// `GET /v1` (U1): every user in reach, paged; `searchValue` (in the name or
/// email), `sortPropertyName` (`Name` or `Email`) with `ascendingOrder`
/// (default true), `groups` (comma-separated group ids: users in any of
/// them) and `resellerId` (that reseller's subtree).
pub fn users(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve_v1(req, env, config, &[Method::GET], |caller, env| {
        let (page, size) = paging(req)?;
        let caller = scoped(env, caller, query_uuid(req, "resellerId")?)?;
        let ascending = super::query_bool(req, "ascendingOrder", true)?;
        let mut query = ListQuery::page(page, size);
        let mut errors = FieldErrors::default();
        if let Some(v) = query_value(req, "searchValue").filter(|v| !v.trim().is_empty()) {
            if v.chars().count() > 255 {
                errors.add(
                    "searchValue",
                    "'searchValue' must be 255 characters or fewer.",
                );
            }
            let pattern = format!("*{}*", v.trim().to_lowercase().replace('*', ""));
            query.filters.push(("search".into(), pattern));
        }
        match query_value(req, "sortPropertyName").as_deref() {
            None => {}
            Some("Name") => query.sort = Some(("name".into(), !ascending)),
            Some("Email") => query.sort = Some(("email".into(), !ascending)),
            Some(_) => errors.add(
                "sortPropertyName",
                "'sortPropertyName' must be Name or Email.",
            ),
        }
        if let Some(list) = query_value(req, "groups").filter(|v| !v.trim().is_empty()) {
            let mut ids = Vec::new();
            for part in list.split(',') {
                match Uuid::parse_str(part.trim()) {
                    Ok(id) => ids.push(id.to_string()),
                    Err(_) => {
                        errors.add("groups", "'groups' must be group ids separated by commas.")
                    }
                }
            }
            query.tokens.push(("groups".into(), ids));
        }
        errors.into_result()?;
        let found = users::list(env, &caller, &query)?;
        let list: Vec<User> = found.items.into_iter().map(|(u, _)| u).collect();
        let items = users_json(env, &caller.tenant, &list)?;
        Ok(web::json(
            StatusCode::OK,
            &paged(items, page, size, found.total, found.span),
        ))
    })
}

/// The path's `{email}`, percent-decoded.
fn path_email(req: &Request) -> Result<String, Error> {
    let raw = web::path_param(req, "email").unwrap_or_default();
    let decoded: String =
        form_urlencoded::parse(format!("e={}", raw.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
    if decoded.is_empty() || decoded.len() > 255 {
        return Err(Error::NotFound("The user was not found.".into()));
    }
    Ok(decoded)
}

/// `PATCH /v1/users/{email}` (U2): changes the fields sent (names, email,
/// groups); 204. `DELETE` (U3): the soft delete every family shares (the
/// user can no longer sign in; its email stays claimed until an operator
/// purges it); 204. With `resellerId`, the user must be in that reseller's
/// subtree (403 otherwise).
pub fn user(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve_v1(
        req,
        env,
        config,
        &[Method::PATCH, Method::DELETE],
        |caller, env| {
            let email = path_email(req)?;
            let named = query_uuid(req, "resellerId")?;
            let (found, org) = users::by_email(env, caller, &email)?;
            if let Some(r) = named_reseller(env, caller, named)?
                && !org.within(r)
            {
                return Err(Error::Forbidden("the user is not that reseller's".into()));
            }
            if req.method() == Method::DELETE {
                users::delete(env, caller, found.id, false)?;
                return Ok(web::empty(StatusCode::NO_CONTENT));
            }
            let body = web::json_object(req)?;
            let parsed = parse_user(&body, true)?;
            if parsed.id.is_some_and(|id| id != found.id) {
                return Err(Error::invalid("id", "'id' does not match the user."));
            }
            let change = UserChange {
                email: parsed.email,
                organization_id: None,
                profile: ProfileChange {
                    first_name: parsed.first_name.map(Some),
                    last_name: parsed.last_name.map(Some),
                    ..ProfileChange::default()
                },
                groups: parsed.groups,
                auth_types: None,
                current_password: None,
                skip_reconfirmation: parsed.skip_reconfirmation,
                ..UserChange::default()
            };
            users::update(env, caller, found.id, &change)?;
            Ok(web::empty(StatusCode::NO_CONTENT))
        },
    )
}

/// What [`groups`] reads on `GET`.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct GroupsQuery {
    #[schemars(flatten)]
    pub paging: super::PagingQuery,
    /// List the groups assignable in this organization (one in reach;
    /// default the caller's own) rather than the caller's
    pub organization_id: Option<Uuid>,
}

/// What [`groups`] reads on `POST`.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "camelCase")]
pub struct NewGroupBody {
    #[schemars(length(max = crate::idm::groups::NAME_MAX), regex(pattern = r"\S"))]
    pub name: String,
    /// The organization the group is defined in (one in reach; default the
    /// caller's own)
    pub organization_id: Option<Uuid>,
}

/// `GET /v1/users/groups` (G1): the groups assignable in the caller's
/// organization (or in `organizationId`, one in its reach), sorted by name,
/// paged. `POST` (this service's addition, as groups must exist before users
/// name them): `{name, organizationId?}` defines a group in the caller's
/// organization (or the one named, in reach); 201 with its id as a JSON
/// string.
pub fn groups(req: &Request, env: &mut Env, config: &Config) -> Response {
    serve_v1(
        req,
        env,
        config,
        &[Method::GET, Method::POST],
        |caller, env| {
            if req.method() == Method::POST {
                let body = web::json_object(req)?;
                let name = match body.get("name") {
                    Some(Value::String(s)) => s.clone(),
                    _ => return Err(Error::invalid("name", "'name' must not be empty.")),
                };
                let org = match body.get("organizationId") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(Uuid::parse_str(s).map_err(|_| {
                        Error::invalid("organizationId", "'organizationId' is not a valid GUID.")
                    })?),
                    Some(_) => {
                        return Err(Error::invalid(
                            "organizationId",
                            "'organizationId' is not a valid GUID.",
                        ));
                    }
                };
                let group = core_groups::create(env, caller, &name, org)?;
                return Ok(web::json(StatusCode::CREATED, &json!(group.id)));
            }
            let (page, size) = paging(req)?;
            let org = match query_value(req, "organizationId") {
                None => None,
                Some(v) => Some(Uuid::parse_str(v.trim()).map_err(|_| {
                    Error::invalid("organizationId", "'organizationId' is not a valid GUID.")
                })?),
            };
            let found = core_groups::list(env, caller, org, page, size)?;
            let items = found
                .items
                .iter()
                .map(|g| json!({"id": g.id, "name": g.name}))
                .collect();
            Ok(web::json(
                StatusCode::OK,
                &paged(items, page, size, found.total, found.span),
            ))
        },
    )
}

#[cfg(test)]
#[cfg(feature = "openapi")]
mod tests {
    use crate::base::schema::samples::accepted;

    /// Every instance the derived schema allows, the parser accepts: as a
    /// create, and (every field optional) as a PATCH.
    #[test]
    fn what_the_schema_allows_the_parser_accepts() {
        accepted::<super::UserBody>(|b| {
            super::parse_user(b, false).is_ok() && super::parse_user(b, true).is_ok()
        });
    }
}
