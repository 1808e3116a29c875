//! SCIM Users (RFC 7643 §4.1 and the enterprise extension §4.3): the core's
//! users of the connection's organization, read and changed through the
//! same verbs the four families use.
//!
//! # Attributes
//! `userName` is the user's email (the claim every family signs in with,
//! unique per tenant, case-insensitive); `emails` is that one address.
//! `name.givenName`/`familyName`, `title`, `locale`, `timezone` and
//! `phoneNumbers` (`work`, `mobile`) are the profile every family shows;
//! `externalId`, `displayName`, `name.formatted` and the enterprise
//! extension's `employeeNumber`, `department` and `organization` are kept
//! beside it. `active: false` is the core's disabled; DELETE is its delete.
//! `roles` is the user's role (`user`, or `customer_admin`, the
//! organization's administrator); only a connection made to assign roles
//! changes it, never its own maker's (see [`role_after`]).
//! Any other attribute is refused (400 `invalidValue`, `invalidPath` in a
//! PATCH), so what a provider pushes always reads back as it was pushed.
//!
//! A `userName` change is an email change, and so announced to both
//! addresses and pending until the new one confirms it: until then the
//! user and `userName` keep the old address.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::base::error::Error;
use crate::base::model::{Directory, Group, Lifecycle, Profile, Role, User};
use crate::base::validate;
use crate::be::storage::Env;
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config};
use crate::credential::scim_connections;
use crate::edge::web::{self, Request, Response};
use crate::families::scim::error::{ScimError, ScimType};
use crate::families::scim::filter::{self, AttrPath};
use crate::families::scim::{self as scim, patch, projection};
use crate::idm::users::{self, DirectoryChange, ProfileChange, UserChange};
use crate::idm::{external_ids, groups, provision};

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Users a filter or sort other than `userName eq` / `externalId eq` reads
/// at most; beyond it the request is 400 `tooMany`.
pub const SCAN_CAP: usize = crate::idm::listing::SCAN_CAP;

/// Attributes compared case-sensitively (RFC 7643 `caseExact`).
pub fn case_exact(path: &AttrPath) -> bool {
    matches!(
        (path.name.as_str(), path.sub.as_deref()),
        ("id" | "externalid", None) | ("meta", Some("version")) | ("groups", Some("value"))
    )
}

/// The SCIM representation of a user. `groups` are the user's groups (for
/// their names); `origin` is `scheme://host` for `meta.location`.
pub fn resource(u: &User, groups: &[Group], origin: &str) -> Value {
    let p = &u.profile;
    let d = &u.directory;
    let mut r = Map::new();
    let mut schemas = vec![json!(USER_URN)];
    let put = |map: &mut Map<String, Value>, k: &str, v: &Option<String>| {
        if let Some(v) = v {
            map.insert(k.into(), json!(v));
        }
    };
    r.insert("id".into(), json!(u.id));
    put(&mut r, "externalId", &d.external_id);
    r.insert("userName".into(), json!(u.email));
    let mut name = Map::new();
    put(&mut name, "givenName", &p.first_name);
    put(&mut name, "familyName", &p.last_name);
    put(&mut name, "formatted", &d.formatted_name);
    if !name.is_empty() {
        r.insert("name".into(), Value::Object(name));
    }
    put(&mut r, "displayName", &d.display_name);
    put(&mut r, "title", &p.title);
    put(&mut r, "locale", &p.locale);
    put(&mut r, "timezone", &p.timezone);
    r.insert("active".into(), json!(u.status.may_authenticate()));
    r.insert(
        "roles".into(),
        json!([{"value": u.role.as_str(), "primary": true}]),
    );
    r.insert(
        "emails".into(),
        json!([{"value": u.email, "type": "work", "primary": true}]),
    );
    let phones: Vec<Value> = [("work", &p.phone), ("mobile", &p.mobile_phone)]
        .into_iter()
        .filter_map(|(t, v)| {
            let primary = d.primary_phone.as_deref() == Some(t);
            v.as_ref()
                .map(|v| json!({"value": v, "type": t, "primary": primary}))
        })
        .collect();
    if !phones.is_empty() {
        r.insert("phoneNumbers".into(), Value::Array(phones));
    }
    let member_of: Vec<Value> = u
        .groups
        .iter()
        .filter_map(|id| groups.iter().find(|g| g.id == *id))
        .map(|g| {
            json!({"value": g.id, "display": g.name, "type": "direct",
                   "$ref": format!("{origin}{}/Groups/{}", scim::BASE_PATH, g.id)})
        })
        .collect();
    if !member_of.is_empty() {
        r.insert("groups".into(), Value::Array(member_of));
    }
    let mut enterprise = Map::new();
    put(&mut enterprise, "employeeNumber", &d.employee_number);
    put(&mut enterprise, "department", &d.department);
    put(&mut enterprise, "organization", &d.company);
    if !enterprise.is_empty() {
        schemas.push(json!(ENTERPRISE_URN));
        r.insert(ENTERPRISE_URN.into(), Value::Object(enterprise));
    }
    r.insert("schemas".into(), Value::Array(schemas));
    r.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": crate::base::time::format_millis(u.created_at),
            "lastModified": crate::base::time::format_millis(u.updated_at),
            "location": format!("{origin}{}/Users/{}", scim::BASE_PATH, u.id),
            "version": scim::weak_etag(&users::version(u)),
        }),
    );
    Value::Object(r)
}

/// What a request wants a user to be: every attribute this dialect keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    user_name: String,
    external_id: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    formatted: Option<String>,
    display_name: Option<String>,
    title: Option<String>,
    locale: Option<String>,
    timezone: Option<String>,
    phone: Option<String>,
    mobile: Option<String>,
    active: bool,
    role: Role,
    employee_number: Option<String>,
    primary_phone: Option<String>,
    department: Option<String>,
    company: Option<String>,
}

/// A User as `POST` and `PUT` read it ([`read_state`]). Attribute names
/// match in any case; the schema names the documented one, and refuses any
/// other attribute, as the reader does.
#[cfg(feature = "openapi")]
pub mod bodies {
    use schemars::JsonSchema;
    use serde_json::json;

    use crate::base::schema::schema_type;

    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields, rename_all = "camelCase")]
    #[schemars(transform = user_ignored)]
    pub struct User {
        #[schemars(with = "UserSchemas")]
        pub schemas: Vec<String>,
        /// The user's email, unique in the tenant (case-insensitive)
        #[schemars(email, length(max = 255))]
        pub user_name: String,
        #[schemars(length(max = 255))]
        pub external_id: Option<String>,
        pub name: Option<Name>,
        #[schemars(length(max = 255))]
        pub display_name: Option<String>,
        #[schemars(length(max = 255))]
        pub title: Option<String>,
        #[schemars(with = "Option<crate::base::schema::Locale>")]
        pub locale: Option<String>,
        #[schemars(with = "Option<crate::base::schema::Timezone>")]
        pub timezone: Option<String>,
        #[schemars(with = "Option<ScimBoolean>")]
        pub active: Option<bool>,
        /// At most one, the userName
        #[schemars(length(max = 1))]
        pub emails: Option<Vec<Email>>,
        pub phone_numbers: Option<Vec<PhoneNumber>>,
        /// Only for a connection that assigns roles: the widest value given
        /// is the user's role
        pub roles: Option<Vec<RoleValue>>,
        /// POST only: the user's first password (else an invitation is sent)
        #[schemars(transform = crate::base::schema::not_null)]
        pub password: Option<String>,
        #[schemars(rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")]
        pub enterprise: Option<Enterprise>,
    }

    fn user_ignored(schema: &mut schemars::Schema) {
        ignored(schema, &["id", "meta", "groups"]);
    }

    /// The read-only attributes a client may echo back: the reader skips them.
    pub fn ignored(schema: &mut schemars::Schema, names: &[&str]) {
        if let Some(props) = schema
            .get_mut("properties")
            .and_then(serde_json::Value::as_object_mut)
        {
            for name in names {
                props.insert(
                    name.to_string(),
                    json!({"readOnly": true, "description": "Ignored"}),
                );
            }
        }
    }

    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Name {
        #[schemars(length(max = 255))]
        pub given_name: Option<String>,
        #[schemars(length(max = 255))]
        pub family_name: Option<String>,
        #[schemars(length(max = 255))]
        pub formatted: Option<String>,
    }

    #[derive(JsonSchema)]
    pub struct Email {
        /// Equal to userName
        #[schemars(email)]
        pub value: String,
        pub r#type: Option<String>,
        #[schemars(with = "Option<ScimBoolean>")]
        pub primary: Option<bool>,
        pub display: Option<String>,
    }

    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub struct PhoneNumber {
        #[schemars(length(max = 255))]
        pub value: Option<String>,
        /// Default work
        #[schemars(with = "Option<PhoneType>")]
        pub r#type: Option<String>,
        #[schemars(with = "Option<ScimBoolean>")]
        pub primary: Option<bool>,
        #[schemars(length(max = 255))]
        pub display: Option<String>,
    }

    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub struct RoleValue {
        #[schemars(with = "Option<RoleName>", transform = crate::base::schema::not_null)]
        pub value: Option<String>,
        #[schemars(with = "Option<ScimBoolean>")]
        pub primary: Option<bool>,
        #[schemars(length(max = 255))]
        pub r#type: Option<String>,
        #[schemars(length(max = 255))]
        pub display: Option<String>,
    }

    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Enterprise {
        #[schemars(length(max = 255))]
        pub employee_number: Option<String>,
        #[schemars(length(max = 255))]
        pub department: Option<String>,
        #[schemars(length(max = 255))]
        pub organization: Option<String>,
    }

    schema_type!(
        /// `schemas`: the User's, and the enterprise extension's if used.
        UserSchemas,
        json!({"type": "array", "minItems": 1,
            "items": {"type": "string", "enum": [super::USER_URN, super::ENTERPRISE_URN]},
            "contains": {"const": super::USER_URN}})
    );

    schema_type!(
        /// A boolean, or the strings Entra ID sends (`boolean`).
        ScimBoolean,
        json!({"anyOf": [{"type": "boolean"},
                {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"}],
            "description": "true, false, or the strings \"True\"/\"False\""})
    );

    crate::base::schema::strings!(PhoneType, ["work", "mobile"]);
    crate::base::schema::strings!(RoleName, ["user", "customer_admin"]);
}

/// Why a body is read, which decides what it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// POST: `password` is accepted (the user's first one).
    Create,
    /// PUT.
    Replace,
    /// A PATCH's result: unknown attributes are the path's fault.
    Patch,
}

impl State {
    fn of(u: &User) -> Self {
        let (p, d) = (&u.profile, &u.directory);
        State {
            user_name: u.email.clone(),
            external_id: d.external_id.clone(),
            given_name: p.first_name.clone(),
            family_name: p.last_name.clone(),
            formatted: d.formatted_name.clone(),
            display_name: d.display_name.clone(),
            title: p.title.clone(),
            locale: p.locale.clone(),
            timezone: p.timezone.clone(),
            phone: p.phone.clone(),
            mobile: p.mobile_phone.clone(),
            active: u.status.may_authenticate(),
            role: u.role,
            employee_number: d.employee_number.clone(),
            primary_phone: d.primary_phone.clone(),
            department: d.department.clone(),
            company: d.company.clone(),
        }
    }
}

impl Default for State {
    /// A plain, active user with no attribute set.
    fn default() -> Self {
        State {
            user_name: String::new(),
            external_id: None,
            given_name: None,
            family_name: None,
            formatted: None,
            display_name: None,
            title: None,
            locale: None,
            timezone: None,
            phone: None,
            mobile: None,
            active: true,
            role: Role::User,
            employee_number: None,
            primary_phone: None,
            department: None,
            company: None,
        }
    }
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidValue, detail)
}

/// A string attribute (`null` clears it), at most 255 characters.
fn text(v: &Value, name: &str) -> Result<Option<String>, ScimError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => validate::max_len(s)
            .map(|()| Some(s.clone()))
            .map_err(|m| invalid(format!("{name} {m}"))),
        _ => Err(invalid(format!("{name} is a string"))),
    }
}

/// A boolean, also as the strings Entra ID sends (`"False"`).
fn boolean(v: &Value, name: &str) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(invalid(format!("{name} is a boolean"))),
    }
}

fn object<'a>(v: &'a Value, name: &str) -> Result<Option<&'a Map<String, Value>>, ScimError> {
    match v {
        Value::Null => Ok(None),
        Value::Object(o) => Ok(Some(o)),
        _ => Err(invalid(format!("{name} is an object"))),
    }
}

fn array<'a>(v: &'a Value, name: &str) -> Result<&'a [Value], ScimError> {
    match v {
        Value::Null => Ok(&[]),
        Value::Array(a) => Ok(a),
        _ => Err(invalid(format!("{name} is an array"))),
    }
}

/// Reads a body (or a patched representation) over `base` into the state
/// it asks for, with the password a create may carry. An attribute the body
/// leaves out keeps `base`'s value; a complex one it names (`name`,
/// `phoneNumbers`, the enterprise extension) is replaced whole. Attribute
/// names match case-insensitively; read-only ones (`id`, `meta`, `groups`)
/// are ignored.
fn read_state(
    obj: &Map<String, Value>,
    mode: Mode,
    base: State,
) -> Result<(State, Option<String>), ScimError> {
    let unknown = |name: &str| {
        let t = if mode == Mode::Patch {
            ScimType::InvalidPath
        } else {
            ScimType::InvalidValue
        };
        ScimError::bad(
            t,
            format!("{name} is not an attribute of this service's User"),
        )
    };
    let mut s = base;
    let mut password = None;
    let mut user_name = None;
    let mut emails: &[Value] = &[];
    let mut schemas_named = false;
    for (key, value) in obj {
        match key.to_ascii_lowercase().as_str() {
            "schemas" => {
                for urn in array(value, "schemas")? {
                    let urn = urn.as_str().unwrap_or_default();
                    if urn.eq_ignore_ascii_case(USER_URN) {
                        schemas_named = true;
                    } else if !urn.eq_ignore_ascii_case(ENTERPRISE_URN) {
                        return Err(invalid(format!("{urn:?} is not a schema of User")));
                    }
                }
            }
            "id" | "meta" | "groups" => {}
            "username" => user_name = text(value, "userName")?,
            "externalid" => s.external_id = text(value, "externalId")?,
            "displayname" => s.display_name = text(value, "displayName")?,
            "title" => s.title = text(value, "title")?,
            "locale" => {
                s.locale = text(value, "locale")?;
                if let Some(l) = &s.locale {
                    validate::locale(l).map_err(|m| invalid(format!("locale {m}")))?;
                }
            }
            "timezone" => {
                s.timezone = text(value, "timezone")?;
                if let Some(z) = &s.timezone {
                    validate::timezone(z).map_err(|m| invalid(format!("timezone {m}")))?;
                }
            }
            "active" if value.is_null() => {}
            "active" => s.active = boolean(value, "active")?,
            "password" if mode == Mode::Create => match value {
                Value::String(p) => password = Some(p.clone()),
                _ => return Err(invalid("password is a string")),
            },
            "password" => {
                return Err(ScimError::bad(
                    ScimType::Mutability,
                    "a password is changed by its user (changePassword is not supported)",
                ));
            }
            "name" => {
                (s.given_name, s.family_name, s.formatted) = (None, None, None);
                for (k, v) in object(value, "name")?.into_iter().flatten() {
                    match k.to_ascii_lowercase().as_str() {
                        "givenname" => s.given_name = text(v, "name.givenName")?,
                        "familyname" => s.family_name = text(v, "name.familyName")?,
                        "formatted" => s.formatted = text(v, "name.formatted")?,
                        _ => return Err(unknown(&format!("name.{k}"))),
                    }
                }
            }
            "emails" => emails = array(value, "emails")?,
            "roles" => s.role = roles(value)?,
            "phonenumbers" => {
                (s.phone, s.mobile, s.primary_phone) = (None, None, None);
                for phone in array(value, "phoneNumbers")? {
                    let Some(p) = phone.as_object() else {
                        return Err(invalid("a phone number is an object"));
                    };
                    let mut kind = "work".to_string();
                    let mut number = None;
                    let mut primary = false;
                    for (k, v) in p {
                        match k.to_ascii_lowercase().as_str() {
                            "value" => number = text(v, "phoneNumbers.value")?,
                            "type" => {
                                kind = text(v, "phoneNumbers.type")?
                                    .unwrap_or_else(|| "work".into())
                                    .to_ascii_lowercase()
                            }
                            "primary" => primary = boolean(v, "phoneNumbers.primary")?,
                            "display" => {}
                            _ => return Err(unknown(&format!("phoneNumbers.{k}"))),
                        }
                    }
                    if primary && matches!(kind.as_str(), "work" | "mobile") {
                        s.primary_phone = Some(kind.clone());
                    }
                    match kind.as_str() {
                        "work" => s.phone = number,
                        "mobile" => s.mobile = number,
                        other => {
                            return Err(invalid(format!(
                                "phoneNumbers of type {other:?} are not kept (work, mobile)"
                            )));
                        }
                    }
                }
            }
            k if k.eq_ignore_ascii_case(ENTERPRISE_URN) => {
                (s.employee_number, s.department, s.company) = (None, None, None);
                for (k, v) in object(value, ENTERPRISE_URN)?.into_iter().flatten() {
                    match k.to_ascii_lowercase().as_str() {
                        // What some clients put in an extension's object.
                        "schemas" => {}
                        "employeenumber" => s.employee_number = text(v, "employeeNumber")?,
                        "department" => s.department = text(v, "department")?,
                        "organization" => s.company = text(v, "organization")?,
                        _ => return Err(unknown(&format!("{ENTERPRISE_URN}:{k}"))),
                    }
                }
            }
            _ => return Err(unknown(key)),
        }
    }
    if mode != Mode::Patch && !schemas_named {
        return Err(invalid(format!("schemas must name {USER_URN}")));
    }
    s.user_name = user_name.ok_or_else(|| invalid("userName is required"))?;
    validate::email(&s.user_name)
        .map_err(|m| invalid(format!("userName {m} (it is the user's email)")))?;
    for email in emails {
        let value = match email {
            Value::Object(o) => o
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                .map(|(_, v)| v),
            _ => return Err(invalid("an email is an object")),
        };
        let same = value.and_then(Value::as_str).is_some_and(|v| {
            validate::normalize_email(v) == validate::normalize_email(&s.user_name)
        });
        if !same {
            return Err(invalid(
                "emails holds one address, the userName (a user has one email)",
            ));
        }
    }
    Ok((s, password))
}

/// `roles`: the widest of the values given (`user`, `customer_admin`);
/// none is `user`. Entra ID's `type` and `primary` are accepted, not kept.
fn roles(v: &Value) -> Result<Role, ScimError> {
    let mut role = Role::User;
    for item in array(v, "roles")? {
        let Some(o) = item.as_object() else {
            return Err(invalid("a role is an object"));
        };
        for (k, v) in o {
            match k.to_ascii_lowercase().as_str() {
                "value" => {
                    let given = text(v, "roles.value")?.unwrap_or_default();
                    let r = Role::parse(&given.to_ascii_lowercase())
                        .filter(|r| matches!(r, Role::User | Role::CustomerAdmin))
                        .ok_or_else(|| {
                            invalid(format!(
                                "roles value {given:?} is not user or customer_admin"
                            ))
                        })?;
                    role = role.min(r);
                }
                "primary" => {
                    boolean(v, "roles.primary")?;
                }
                "display" | "type" => {
                    text(v, &format!("roles.{k}"))?;
                }
                _ => {
                    return Err(ScimError::bad(
                        ScimType::InvalidPath,
                        format!("roles.{k} is not an attribute of this service's User"),
                    ));
                }
            }
        }
    }
    Ok(role)
}

/// The role a request ends with. A connection made to assign roles sets
/// what it asks, but for its own maker's (403: that would end it). For any
/// other `roles` is read-only: a POST or PUT naming it is taken without it
/// (RFC 7644 §3.3, §3.5.1), a PATCH changing it is 400 `mutability`.
fn role_after(
    env: &Env,
    caller: &Caller,
    user: Option<&User>,
    asked: Role,
    patch: bool,
) -> Result<Role, ScimError> {
    let from = user.map_or(Role::User, |u| u.role);
    if asked == from {
        return Ok(from);
    }
    match scim_connections::assigns_roles(env, caller)? {
        Some(maker) if maker.is_some() && maker == user.map(|u| u.id) => {
            Err(Error::Forbidden("the connection's maker keeps its role".into()).into())
        }
        Some(_) => Ok(asked),
        None if patch => Err(ScimError::bad(
            ScimType::Mutability,
            "this connection does not assign roles (roles is read-only for it)",
        )),
        None => Ok(from),
    }
}

/// The change that takes `current` to `want`, field by field: only what
/// differs is written, so concurrent changes of different attributes all
/// persist.
fn change(user: &User, current: &State, want: &State) -> UserChange {
    let diff = |a: &Option<String>, b: &Option<String>| (a != b).then(|| b.clone());
    let pending = user.unconfirmed_email.as_deref().is_some_and(|p| {
        validate::normalize_email(p) == validate::normalize_email(&want.user_name)
    });
    UserChange {
        email: (current.user_name != want.user_name && !pending).then(|| want.user_name.clone()),
        profile: ProfileChange {
            first_name: diff(&current.given_name, &want.given_name),
            last_name: diff(&current.family_name, &want.family_name),
            title: diff(&current.title, &want.title),
            locale: diff(&current.locale, &want.locale),
            timezone: diff(&current.timezone, &want.timezone),
            phone: diff(&current.phone, &want.phone),
            mobile_phone: diff(&current.mobile, &want.mobile),
            ..ProfileChange::default()
        },
        directory: DirectoryChange {
            external_id: diff(&current.external_id, &want.external_id),
            display_name: diff(&current.display_name, &want.display_name),
            formatted_name: diff(&current.formatted, &want.formatted),
            employee_number: diff(&current.employee_number, &want.employee_number),
            primary_phone: diff(&current.primary_phone, &want.primary_phone),
            department: diff(&current.department, &want.department),
            company: diff(&current.company, &want.company),
        },
        status: (current.active != want.active).then_some(if want.active {
            Lifecycle::Active
        } else {
            Lifecycle::Disabled
        }),
        role: (current.role != want.role).then_some(want.role),
        ..UserChange::default()
    }
}

/// The connection's organization (a SCIM caller always has one).
fn home(caller: &Caller) -> Result<Uuid, ScimError> {
    caller
        .org
        .ok_or_else(|| Error::Forbidden("not a SCIM connection".into()).into())
}

/// The users' representations, their groups read in one batch.
fn resources(
    env: &Env,
    caller: &Caller,
    list: &[User],
    origin: &str,
) -> Result<Vec<Value>, ScimError> {
    let mut ids: Vec<Uuid> = list.iter().flat_map(|u| u.groups.iter().copied()).collect();
    ids.sort();
    ids.dedup();
    let found = if ids.is_empty() {
        Vec::new()
    } else {
        groups::by_ids(env, &caller.tenant, &ids)?
    };
    Ok(list.iter().map(|u| resource(u, &found, origin)).collect())
}

fn one(env: &Env, caller: &Caller, user: &User, origin: &str) -> Result<Value, ScimError> {
    Ok(resources(env, caller, std::slice::from_ref(user), origin)?
        .pop()
        .unwrap_or(Value::Null))
}

/// A user of the connection's organization, else 404.
fn find(env: &Env, caller: &Caller, raw: &str) -> Result<User, ScimError> {
    let not_found = || ScimError::from(Error::NotFound(format!("User {raw} not found")));
    let id = Uuid::parse_str(raw).map_err(|_| not_found())?;
    // Pinned to the connection's organization itself: `reaches` would also
    // let it into organizations placed under it.
    match users::get(env, caller, id) {
        Ok((u, _)) if Some(u.organization_id) == caller.org => Ok(u),
        Ok(_) | Err(Error::NotFound(_)) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

/// The answer with one user: its representation as `attributes` and
/// `excludedAttributes` ask, and its `ETag`.
fn answer(
    req: &Request,
    env: &Env,
    caller: &Caller,
    user: &User,
    status: StatusCode,
) -> Result<Response, ScimError> {
    let representation = one(env, caller, user, &scim::origin(req))?;
    scim::resource_answer(req, status, &representation, &users::version(user))
}

/// A taken `userName` is SCIM's 409 `uniqueness`; other refusals keep
/// their own status.
fn taken_is_uniqueness(e: Error) -> ScimError {
    if e.is_taken() {
        ScimError::new(
            409,
            Some(ScimType::Uniqueness),
            "userName is already taken in this tenant",
        )
    } else {
        e.into()
    }
}

/// `GET /scim/v2/Users` (list and filter) and `POST` (create).
pub fn users(req: &Request, env: &mut Env, config: &Config) -> Response {
    scim::serve(
        req,
        env,
        config,
        &[Method::GET, Method::POST],
        |caller, env| {
            scim::projection_params(req)?;
            if req.method() == Method::POST {
                create(req, env, config, caller)
            } else {
                list(req, env, caller)
            }
        },
    )
}

/// `GET`, `PUT`, `PATCH`, `DELETE /scim/v2/Users/{id}`.
pub fn user(req: &Request, env: &mut Env, config: &Config) -> Response {
    let id = web::path_param(req, "id").unwrap_or_default().to_string();
    scim::serve(
        req,
        env,
        config,
        &[Method::GET, Method::PUT, Method::PATCH, Method::DELETE],
        |caller, env| {
            scim::projection_params(req)?;
            let current = find(env, caller, &id)?;
            let version = users::version(&current);
            // The organization's administrators are the connection's peers:
            // it may read them and keep their profile, never disable or
            // delete them.
            let peer = current.role != Role::User;
            let refuse_peer = || {
                ScimError::from(Error::Forbidden(
                    "an administrator of the organization is not the connection's to disable or delete"
                        .into(),
                ))
            };
            match *req.method() {
                Method::GET => match scim::not_modified(req, &version) {
                    Some(r) => Ok(r),
                    None => answer(req, env, caller, &current, StatusCode::OK),
                },
                Method::DELETE => {
                    let at = scim::if_match(req, &version)?;
                    if peer {
                        return Err(refuse_peer());
                    }
                    users::delete_at(env, caller, current.id, false, at.as_deref())?;
                    Ok(web::empty(StatusCode::NO_CONTENT))
                }
                _ => {
                    let put = req.method() == Method::PUT;
                    let mut want = if put {
                        read_state(&scim::body(req)?, Mode::Replace, State::of(&current))?.0
                    } else {
                        patched(req, env, caller, &current)?
                    };
                    want.role = role_after(env, caller, Some(&current), want.role, !put)?;
                    let mut change = change(&current, &State::of(&current), &want);
                    change.if_version = scim::if_match(req, &version)?;
                    if peer && change.status.is_some() {
                        return Err(refuse_peer());
                    }
                    replace(req, env, caller, current, change)
                }
            }
        },
    )
}

/// What a PATCH makes of the user: its operations applied to the current
/// representation, read back like a PUT body. Read-only attributes refuse.
fn patched(req: &Request, env: &Env, caller: &Caller, current: &User) -> Result<State, ScimError> {
    let ops = patch::parse(&scim::body(req)?)?;
    for op in &ops {
        let names_read_only = op.path.as_ref().is_some_and(|p| {
            p.attr
                .urn
                .as_deref()
                .is_none_or(|u| u.starts_with(filter::CORE_URN))
                && matches!(p.attr.name.as_str(), "id" | "meta" | "groups" | "schemas")
        });
        if names_read_only {
            return Err(ScimError::bad(
                ScimType::Mutability,
                "id, meta, groups and schemas are read-only",
            ));
        }
    }
    let mut representation = one(env, caller, current, "")?;
    if let Some(o) = representation.as_object_mut() {
        o.remove("meta");
        o.remove("groups");
        // emails follow userName: a patch of either is judged by it.
        o.remove("emails");
    }
    patch::apply(&mut representation, &ops, &[ENTERPRISE_URN], case_exact)?;
    let Value::Object(patched) = representation else {
        return Err(invalid("the patched user is not an object"));
    };
    // What the representation no longer holds is cleared, but for
    // `active`: a boolean without a value keeps the one it has.
    let base = State {
        active: current.status.may_authenticate(),
        ..State::default()
    };
    Ok(read_state(&patched, Mode::Patch, base)?.0)
}

/// Writes `change` (nothing when it is empty) and answers the user as
/// stored.
fn replace(
    req: &Request,
    env: &mut Env,
    caller: &Caller,
    current: User,
    change: UserChange,
) -> Result<Response, ScimError> {
    let nothing = UserChange {
        if_version: change.if_version.clone(),
        ..UserChange::default()
    };
    if change == nothing {
        return answer(req, env, caller, &current, StatusCode::OK);
    }
    if let Some(Some(ext)) = &change.directory.external_id {
        external_ids::note(
            env,
            &caller.tenant,
            current.organization_id,
            ext,
            current.id,
        )?;
    }
    let updated = users::update(env, caller, current.id, &change).map_err(taken_is_uniqueness)?;
    answer(req, env, caller, &updated, StatusCode::OK)
}

/// `POST /scim/v2/Users`: 201 with the user, `Location` and `ETag`; 409
/// `uniqueness` when the userName is taken.
fn create(
    req: &Request,
    env: &mut Env,
    config: &Config,
    caller: &Caller,
) -> Result<Response, ScimError> {
    let body = scim::body(req)?;
    let (mut want, password) = read_state(&body, Mode::Create, State::default())?;
    want.role = role_after(env, caller, None, want.role, false)?;
    let org = home(caller)?;
    if identity::holder(
        env,
        &caller.tenant,
        &validate::normalize_email(&want.user_name),
    )?
    .is_some()
    {
        return Err(taken_is_uniqueness(Error::taken("userName")));
    }
    let id = env.new_uuid();
    if let Some(ext) = &want.external_id {
        external_ids::note(env, &caller.tenant, org, ext, id)?;
    }
    let input = provision::NewCustomer {
        organization_id: Some(org),
        user: provision::NewUser {
            id: Some(id),
            email: want.user_name.clone(),
            profile: Profile {
                first_name: want.given_name.clone(),
                last_name: want.family_name.clone(),
                title: want.title.clone(),
                locale: want.locale.clone(),
                timezone: want.timezone.clone(),
                phone: want.phone.clone(),
                mobile_phone: want.mobile.clone(),
                ..Profile::default()
            },
            directory: Directory {
                external_id: want.external_id.clone(),
                display_name: want.display_name.clone(),
                formatted_name: want.formatted.clone(),
                employee_number: want.employee_number.clone(),
                primary_phone: want.primary_phone.clone(),
                department: want.department.clone(),
                company: want.company.clone(),
                provider_disabled: !want.active,
            },
            password,
            disabled: !want.active,
            role: Some(want.role),
            ..provision::NewUser::default()
        },
        ..provision::NewCustomer::default()
    };
    let fingerprint = identity::fingerprint(config, &Value::Object(body).to_string());
    let op = provision::OpId::fresh(env, fingerprint);
    let correlation = env.correlation.clone();
    let created =
        provision::create_customer(env, caller, &input, &op, config.hash_params(), correlation)
            .map_err(taken_is_uniqueness)?;
    answer(req, env, caller, &created.user, StatusCode::CREATED)
}

/// `GET /scim/v2/Users`. `userName eq` and `externalId eq` read an index
/// (O(1) key-value calls); no filter and no sort reads one page of the
/// organization's member slots (O(count)); any other filter or sort scans
/// the organization, up to [`SCAN_CAP`] users.
fn list(req: &Request, env: &Env, caller: &Caller) -> Result<Response, ScimError> {
    let p = scim::list_params(req)?;
    let (attributes, excluded) = scim::projection_params(req)?;
    let org = home(caller)?;
    let origin = scim::origin(req);
    let indexed = p.filter.as_ref().and_then(|f| {
        scim::required_eq(f, "username")
            .map(|v| (true, v))
            .or_else(|| scim::required_eq(f, "externalid").map(|v| (false, v)))
    });
    let (mut page, total) = match (&p.filter, indexed, &p.sort_by) {
        (_, Some((by_name, value)), _) => {
            let found: Vec<User> = if by_name {
                // A value that is no email names no user (and no store key).
                if validate::email(value.trim()).is_err() {
                    Vec::new()
                } else {
                    identity::holder(env, &caller.tenant, &validate::normalize_email(value))?
                        .into_iter()
                        .filter(|u| u.organization_id == org && u.status != Lifecycle::Deleted)
                        .collect()
                }
            } else {
                external_ids::lookup(env, &caller.tenant, org, value)?
            };
            scim::select(resources(env, caller, &found, &origin)?, &p, case_exact)
        }
        (None, None, None) => {
            let (found, slots) = users::member_slots(env, caller, org, p.start as i64, p.count)?;
            (
                resources(env, caller, &found, &origin)?,
                slots.max(0) as usize,
            )
        }
        _ => {
            let mut found: Vec<User> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut from = 1i64;
            loop {
                let (chunk, slots) = users::member_slots(env, caller, org, from, 100)?;
                // A user who moved away and back is in two slots.
                found.extend(chunk.into_iter().filter(|u| seen.insert(u.id)));
                from += 100;
                if from > slots {
                    break;
                }
                if from as usize > SCAN_CAP {
                    return Err(ScimError::bad(
                        ScimType::TooMany,
                        format!(
                            "this filter or sort reads more than {SCAN_CAP} users; filter by userName or externalId"
                        ),
                    ));
                }
            }
            scim::select(resources(env, caller, &found, &origin)?, &p, case_exact)
        }
    };
    for r in &mut page {
        *r = projection::project(r, &attributes, &excluded);
    }
    Ok(scim::list_response(page, total, p.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// Every instance the derived schema allows, the reader accepts: as a
    /// POST, and without the password (which the PUT schema leaves out) as
    /// a PUT.
    #[cfg(feature = "openapi")]
    #[test]
    fn what_the_schema_allows_the_reader_accepts() {
        use crate::base::schema::samples::accepted;
        accepted::<bodies::User>(|b| read_state(b, Mode::Create, State::default()).is_ok());
        accepted::<bodies::User>(|b| {
            b.remove("password");
            read_state(b, Mode::Replace, State::default()).is_ok()
        });
    }

    #[test]
    fn a_body_reads_into_the_attributes_kept() {
        let (s, password) = read_state(
            &body(
                json!({"schemas": [USER_URN, ENTERPRISE_URN], "userName": "ana@x.test",
                "NAME": {"givenName": "Ana", "familyName": "Lima"}, "active": "False",
                "emails": [{"value": "Ana@X.test", "type": "work", "primary": true}],
                "phoneNumbers": [{"value": "+1 555", "type": "mobile"}],
                "id": "ignored", "meta": {"x": 1},
                ENTERPRISE_URN: {"department": "Ops"}, "password": "pw"}),
            ),
            Mode::Create,
            State::default(),
        )
        .unwrap();
        assert_eq!(
            (
                s.user_name.as_str(),
                s.given_name.as_deref(),
                s.active,
                s.mobile.as_deref()
            ),
            ("ana@x.test", Some("Ana"), false, Some("+1 555"))
        );
        assert_eq!(
            (s.department.as_deref(), password.as_deref()),
            (Some("Ops"), Some("pw"))
        );
    }

    #[test]
    fn roles_keep_the_widest_of_user_and_customer_admin() {
        let role = |v: Value| roles(&v).map_err(|e| e.scim_type);
        assert_eq!(role(json!(null)), Ok(Role::User));
        assert_eq!(role(json!([])), Ok(Role::User));
        assert_eq!(
            role(
                json!([{"value": "user"}, {"value": "Customer_Admin", "primary": "True",
                         "type": "WindowsAzureActiveDirectoryRole"}])
            ),
            Ok(Role::CustomerAdmin)
        );
        assert_eq!(
            role(json!([{"value": "operator"}])),
            Err(Some(ScimType::InvalidValue))
        );
        assert_eq!(
            role(json!(["customer_admin"])),
            Err(Some(ScimType::InvalidValue))
        );
        assert_eq!(
            role(json!([{"value": "user", "scope": "x"}])),
            Err(Some(ScimType::InvalidPath))
        );
    }

    #[test]
    fn what_is_not_kept_is_refused_with_its_scim_type() {
        let kind = |v: Value, mode| {
            read_state(&body(v), mode, State::default())
                .unwrap_err()
                .scim_type
        };
        let base = |extra: Value| {
            let mut b = json!({"schemas": [USER_URN], "userName": "a@x.test"});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        assert_eq!(
            kind(base(json!({"nickName": "x"})), Mode::Create),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            kind(base(json!({"nickName": "x"})), Mode::Patch),
            Some(ScimType::InvalidPath)
        );
        assert_eq!(
            kind(base(json!({"password": "x"})), Mode::Replace),
            Some(ScimType::Mutability)
        );
        assert_eq!(
            kind(base(json!({"active": 3})), Mode::Create),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            kind(base(json!({"userName": "not-an-email"})), Mode::Create),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            kind(
                base(json!({"emails": [{"value": "b@x.test"}]})),
                Mode::Create
            ),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            kind(
                json!({"schemas": ["urn:x"], "userName": "a@x.test"}),
                Mode::Create
            ),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            kind(json!({"userName": "a@x.test"}), Mode::Create),
            Some(ScimType::InvalidValue)
        );
    }

    #[test]
    fn a_put_keeps_what_it_leaves_out_and_replaces_what_it_names() {
        let mut base = State {
            user_name: "a@x.test".into(),
            given_name: Some("A".into()),
            family_name: Some("B".into()),
            phone: Some("+1".into()),
            timezone: Some("UTC".into()),
            active: false,
            ..State::default()
        };
        let (s, _) = read_state(
            &body(json!({"schemas": [USER_URN], "userName": "a@x.test",
                         "name": {"givenName": "C"}, "active": null})),
            Mode::Replace,
            base.clone(),
        )
        .unwrap();
        base.given_name = Some("C".into());
        base.family_name = None;
        assert_eq!(s, base);
    }

    #[test]
    fn an_indexed_equality_is_found_under_an_and() {
        let f = filter::parse(r#"active eq true and userName eq "A@x.test""#).unwrap();
        assert_eq!(scim::required_eq(&f, "username"), Some("A@x.test"));
        let f = filter::parse(r#"userName eq "a" or active eq true"#).unwrap();
        assert_eq!(scim::required_eq(&f, "username"), None);
    }
}
