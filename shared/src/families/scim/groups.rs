//! SCIM Groups (RFC 7643 §4.2): the core's groups of the connection's
//! organization, the ones the CloudCockpit family lists and assigns.
//! `displayName` is unique in the organization (case-insensitive);
//! `members` are the organization's users whose record names the group, so
//! a membership made here is the one every family sees.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::base::error::Error;
use crate::base::model::{Group, User};
use crate::be::storage::{self, Env};
use crate::credential::auth::Caller;
use crate::credential::identity::Config;
use crate::edge::web::{self, Request, Response};
use crate::families::scim::error::{ScimError, ScimType};
use crate::families::scim::filter::{self, AttrPath};
use crate::families::scim::{self as scim, patch, projection};
use crate::idm::groups::{self, GroupChange};

pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Members one PATCH or PUT may name at most.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;

/// Attributes compared case-sensitively.
pub fn case_exact(path: &AttrPath) -> bool {
    matches!(
        (path.name.as_str(), path.sub.as_deref()),
        ("id" | "externalid", None) | ("meta", Some("version")) | ("members", Some("value"))
    )
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidValue, detail)
}

/// A group's version: its record and its members, so a membership changed
/// by any family changes it.
fn version(g: &Group, members: &[User]) -> String {
    let mut ids: Vec<Uuid> = members.iter().map(|u| u.id).collect();
    ids.sort();
    let text = format!(
        "{}|{}",
        serde_json::to_string(g).unwrap_or_default(),
        ids.iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    storage::sha256_hex(text.as_bytes())[..20].to_string()
}

/// The SCIM representation; `members` `None` leaves them (and the version,
/// which depends on them) out.
fn resource(g: &Group, members: Option<&[User]>, origin: &str) -> Value {
    let mut r = Map::new();
    r.insert("schemas".into(), json!([GROUP_URN]));
    r.insert("id".into(), json!(g.id));
    if let Some(e) = &g.external_id {
        r.insert("externalId".into(), json!(e));
    }
    r.insert("displayName".into(), json!(g.name));
    let mut meta = json!({
        "resourceType": "Group",
        "created": crate::base::time::format_millis(g.created_at),
        "lastModified": crate::base::time::format_millis(g.updated_at),
        "location": format!("{origin}{}/Groups/{}", scim::BASE_PATH, g.id),
    });
    if let Some(members) = members {
        let list: Vec<Value> = members
            .iter()
            .map(|u| {
                json!({"value": u.id, "type": "User",
                       "$ref": format!("{origin}{}/Users/{}", scim::BASE_PATH, u.id)})
            })
            .collect();
        if !list.is_empty() {
            r.insert("members".into(), Value::Array(list));
        }
        meta["version"] = json!(scim::weak_etag(&version(g, members)));
    }
    r.insert("meta".into(), meta);
    Value::Object(r)
}

/// What a body asks a group to be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct State {
    name: String,
    external_id: Option<String>,
    members: Vec<Uuid>,
}

/// A Group as `POST` and `PUT` read it ([`read_state`]); names match in any
/// case, as for a User.
#[cfg(feature = "openapi")]
pub mod bodies {
    use schemars::JsonSchema;
    use serde_json::json;

    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields, rename_all = "camelCase")]
    #[schemars(transform = group_ignored)]
    pub struct Group {
        #[schemars(with = "GroupSchemas")]
        pub schemas: Vec<String>,
        /// Unique in the organization (case-insensitive)
        #[schemars(length(max = crate::idm::groups::NAME_MAX), regex(pattern = r"\S"))]
        pub display_name: String,
        #[schemars(length(max = 255))]
        pub external_id: Option<String>,
        #[schemars(length(max = super::MAX_MEMBERS_PER_REQUEST))]
        pub members: Option<Vec<Member>>,
    }

    fn group_ignored(schema: &mut schemars::Schema) {
        crate::families::scim::users::bodies::ignored(schema, &["id", "meta"]);
    }

    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub struct Member {
        /// A User's id
        pub value: uuid::Uuid,
        #[schemars(with = "Option<MemberType>", transform = crate::base::schema::not_null)]
        pub r#type: Option<String>,
        #[schemars(rename = "$ref")]
        pub reference: Option<String>,
        pub display: Option<String>,
    }

    crate::base::schema::schema_type!(
        /// `schemas`: the Group's.
        GroupSchemas,
        json!({"type": "array", "minItems": 1,
            "items": {"type": "string", "enum": [super::GROUP_URN]}})
    );

    crate::base::schema::strings!(MemberType, ["User"]);
}

fn read_state(obj: &Map<String, Value>, patched: bool) -> Result<State, ScimError> {
    let unknown = |name: &str| {
        let t = if patched {
            ScimType::InvalidPath
        } else {
            ScimType::InvalidValue
        };
        ScimError::bad(t, format!("{name} is not an attribute of Group"))
    };
    let mut s = State::default();
    let mut name = None;
    let mut schemas_named = false;
    for (key, value) in obj {
        match key.to_ascii_lowercase().as_str() {
            "schemas" => {
                let Value::Array(list) = value else {
                    return Err(invalid("schemas is an array"));
                };
                for urn in list {
                    match urn.as_str() {
                        Some(u) if u.eq_ignore_ascii_case(GROUP_URN) => schemas_named = true,
                        _ => return Err(invalid(format!("{urn} is not a schema of Group"))),
                    }
                }
            }
            "id" | "meta" => {}
            "displayname" => match value {
                Value::String(n) if !n.trim().is_empty() => name = Some(n.trim().to_string()),
                _ => return Err(invalid("displayName is a non-empty string")),
            },
            "externalid" => {
                s.external_id = match value {
                    Value::Null => None,
                    Value::String(e) if e.is_empty() => None,
                    Value::String(e) if e.chars().count() <= 255 => Some(e.clone()),
                    _ => return Err(invalid("externalId is a string of at most 255 characters")),
                }
            }
            "members" => {
                let list = match value {
                    Value::Null => &Vec::new(),
                    Value::Array(l) => l,
                    _ => return Err(invalid("members is an array")),
                };
                for m in list {
                    let Some(o) = m.as_object() else {
                        return Err(invalid("a member is an object"));
                    };
                    let mut id = None;
                    for (k, v) in o {
                        match k.to_ascii_lowercase().as_str() {
                            "value" => {
                                id = Some(
                                    v.as_str()
                                        .and_then(|v| Uuid::parse_str(v).ok())
                                        .ok_or_else(|| {
                                            invalid("a member's value is a User's id")
                                        })?,
                                )
                            }
                            "type" => {
                                if !v.as_str().is_some_and(|t| t.eq_ignore_ascii_case("User")) {
                                    return Err(invalid("members are Users"));
                                }
                            }
                            "$ref" | "display" => {}
                            _ => return Err(unknown(&format!("members.{k}"))),
                        }
                    }
                    let id = id.ok_or_else(|| invalid("a member has a value"))?;
                    if !s.members.contains(&id) {
                        s.members.push(id);
                    }
                }
            }
            _ => return Err(unknown(key)),
        }
    }
    if !patched && !schemas_named {
        return Err(invalid(format!("schemas must name {GROUP_URN}")));
    }
    if s.members.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(ScimError::new(
            413,
            Some(ScimType::TooMany),
            format!("a request names at most {MAX_MEMBERS_PER_REQUEST} members"),
        ));
    }
    s.name = name.ok_or_else(|| invalid("displayName is required"))?;
    if s.name.chars().count() > groups::NAME_MAX {
        return Err(invalid(format!(
            "displayName is at most {} characters",
            groups::NAME_MAX
        )));
    }
    Ok(s)
}

fn home(caller: &Caller) -> Result<Uuid, ScimError> {
    caller
        .org
        .ok_or_else(|| Error::Forbidden("not a SCIM connection".into()).into())
}

/// A group of the connection's organization, else 404.
fn find(env: &Env, caller: &Caller, raw: &str) -> Result<Group, ScimError> {
    let not_found = || ScimError::from(Error::NotFound(format!("Group {raw} not found")));
    let id = Uuid::parse_str(raw).map_err(|_| not_found())?;
    match groups::get(env, caller, id) {
        Ok(g) if Some(g.organization_id) == caller.org => Ok(g),
        Ok(_) | Err(Error::NotFound(_)) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

/// Whether an answer shaped by these parameters shows `members` (reading
/// them costs one call per hundred members).
fn shows_members(attributes: &[AttrPath], excluded: &[AttrPath]) -> bool {
    let names = |p: &AttrPath| p.name == "members";
    if excluded.iter().any(|p| names(p) && p.sub.is_none()) {
        return false;
    }
    attributes.is_empty() || attributes.iter().any(names)
}

fn answer(
    req: &Request,
    env: &Env,
    caller: &Caller,
    g: &Group,
    status: StatusCode,
    members: Option<Vec<User>>,
) -> Result<Response, ScimError> {
    // Read again after a change; a read passes what it already has.
    let members = match members {
        Some(m) => m,
        None => groups::members(env, &caller.tenant, g)?,
    };
    let representation = resource(g, Some(&members), &scim::origin(req));
    scim::resource_answer(req, status, &representation, &version(g, &members))
}

/// A taken `displayName` is 409 `uniqueness`.
fn conflict_is_uniqueness(e: Error) -> ScimError {
    match e {
        Error::Conflict(m) => ScimError::new(409, Some(ScimType::Uniqueness), m),
        other => other.into(),
    }
}

/// The users `ids` names, each a user of the connection's organization
/// (else 400 `invalidValue` naming it).
fn member_users(env: &Env, caller: &Caller, ids: &[Uuid]) -> Result<(), ScimError> {
    for id in ids {
        match crate::idm::users::get(env, caller, *id) {
            Ok(_) => {}
            Err(Error::NotFound(_)) => {
                return Err(invalid(format!(
                    "member {id} is not a User of this organization"
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `GET /scim/v2/Groups` (list and filter) and `POST` (create).
pub fn groups_endpoint(req: &Request, env: &mut Env, config: &Config) -> Response {
    scim::serve(
        req,
        env,
        config,
        &[Method::GET, Method::POST],
        |caller, env| {
            if req.method() == Method::POST {
                create(req, env, caller)
            } else {
                list(req, env, caller)
            }
        },
    )
}

fn create(req: &Request, env: &mut Env, caller: &Caller) -> Result<Response, ScimError> {
    let want = read_state(&scim::body(req)?, false)?;
    let org = home(caller)?;
    member_users(env, caller, &want.members)?;
    let group = groups::define(
        env,
        caller,
        org,
        &want.name,
        want.external_id.clone(),
        &want.members,
    )
    .map_err(conflict_is_uniqueness)?;
    answer(req, env, caller, &group, StatusCode::CREATED, None)
}

/// `GET`, `PUT`, `PATCH`, `DELETE /scim/v2/Groups/{id}`.
pub fn group_endpoint(req: &Request, env: &mut Env, config: &Config) -> Response {
    let id = web::path_param(req, "id").unwrap_or_default().to_string();
    scim::serve(
        req,
        env,
        config,
        &[Method::GET, Method::PUT, Method::PATCH, Method::DELETE],
        |caller, env| {
            let current = find(env, caller, &id)?;
            let members = groups::members(env, &caller.tenant, &current)?;
            let version = version(&current, &members);
            match *req.method() {
                Method::GET => match scim::not_modified(req, &version) {
                    Some(r) => Ok(r),
                    None => answer(req, env, caller, &current, StatusCode::OK, Some(members)),
                },
                Method::DELETE => {
                    scim::if_match(req, &version)?;
                    groups::delete(env, caller, &current)?;
                    Ok(web::empty(StatusCode::NO_CONTENT))
                }
                _ => {
                    scim::if_match(req, &version)?;
                    let have = State {
                        name: current.name.clone(),
                        external_id: current.external_id.clone(),
                        members: members.iter().map(|u| u.id).collect(),
                    };
                    let want = if req.method() == Method::PUT {
                        read_state(&scim::body(req)?, false)?
                    } else {
                        patched(req, &current, &members)?
                    };
                    let join: Vec<Uuid> = want
                        .members
                        .iter()
                        .filter(|m| !have.members.contains(m))
                        .copied()
                        .collect();
                    let leave: Vec<Uuid> = have
                        .members
                        .iter()
                        .filter(|m| !want.members.contains(m))
                        .copied()
                        .collect();
                    member_users(env, caller, &join)?;
                    let change = GroupChange {
                        name: (want.name != have.name).then(|| want.name.clone()),
                        external_id: (want.external_id != have.external_id)
                            .then(|| want.external_id.clone()),
                        join,
                        leave,
                    };
                    let updated = if change == GroupChange::default() {
                        current
                    } else {
                        groups::change(env, caller, &current, &change)
                            .map_err(conflict_is_uniqueness)?
                    };
                    answer(req, env, caller, &updated, StatusCode::OK, None)
                }
            }
        },
    )
}

/// A PATCH applied to the group's representation, read back like a PUT
/// body (member removal by `members[value eq "..."]` included).
fn patched(req: &Request, current: &Group, members: &[User]) -> Result<State, ScimError> {
    let ops = patch::parse(&scim::body(req)?)?;
    for op in &ops {
        let read_only = op.path.as_ref().is_some_and(|p| {
            p.attr
                .urn
                .as_deref()
                .is_none_or(|u| u.starts_with(filter::CORE_URN))
                && matches!(p.attr.name.as_str(), "id" | "meta" | "schemas")
        });
        if read_only {
            return Err(ScimError::bad(
                ScimType::Mutability,
                "id, meta and schemas are read-only",
            ));
        }
    }
    let mut representation = resource(current, Some(members), "");
    if let Some(o) = representation.as_object_mut() {
        o.remove("meta");
    }
    patch::apply(&mut representation, &ops, &[], case_exact)?;
    let Value::Object(patched) = representation else {
        return Err(invalid("the patched group is not an object"));
    };
    read_state(&patched, true)
}

/// `GET /scim/v2/Groups`: the organization's groups (at most
/// [`groups::PER_ORGANIZATION`], so one catalog read), filtered, sorted and
/// paged; members are read only for the groups of the page, and only when
/// the answer shows them.
fn list(req: &Request, env: &Env, caller: &Caller) -> Result<Response, ScimError> {
    let params = scim::list_params(req)?;
    let (attributes, excluded) = scim::projection_params(req)?;
    let org = home(caller)?;
    let origin = scim::origin(req);
    let mut all = groups::defined_in(env, &caller.tenant, org)?;
    if let Some(name) = params
        .filter
        .as_ref()
        .and_then(|f| scim::required_eq(f, "displayname"))
    {
        all.retain(|g| g.name.eq_ignore_ascii_case(name));
    }
    let with_members = shows_members(&attributes, &excluded)
        || params.filter.is_some()
        || params.sort_by.is_some();
    let mut resources = Vec::new();
    for g in &all {
        let members = if with_members {
            Some(groups::members(env, &caller.tenant, g)?)
        } else {
            None
        };
        resources.push(resource(g, members.as_deref(), &origin));
    }
    let (mut page, total) = scim::select(resources, &params, case_exact);
    for r in &mut page {
        *r = projection::project(r, &attributes, &excluded);
    }
    Ok(scim::list_response(page, total, params.start))
}

#[cfg(test)]
#[cfg(feature = "openapi")]
mod tests {
    /// Every instance the derived schema allows, the reader accepts.
    #[test]
    fn what_the_schema_allows_the_reader_accepts() {
        crate::base::schema::samples::accepted::<super::bodies::Group>(|b| {
            super::read_state(b, false).is_ok()
        });
    }
}
