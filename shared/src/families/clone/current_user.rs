//! `/v2/user/...`: the signed-in user's own endpoints. Paths the vendor's
//! pages do not show are this service's choice (see the README):
//! `validate_token`, `revoke_access_token`, `change_password`.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Fields, authenticate, json_object, parse_user_change, render_error, role_name};
use crate::base::error::{Error, FieldErrors};
use crate::base::model::{Organization, User};
use crate::be::storage::{self, Env};
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config};
use crate::credential::impersonation::refuse_impersonated;
use crate::edge::web::{self, Request, Response};
use crate::idm::organizations::{self, OrgChange};
use crate::{base::time, idm::users};

/// Permission codes of `GET /v2/user/permissions` and who holds them:
/// administrators hold all; users hold all but `ADMIN_ACCESS` and the
/// `*_CREATE*` codes.
pub const PERMISSIONS: [&str; 11] = [
    "ADMIN_ACCESS",
    "SCANNER_ACCESS",
    "SCANNER_CREATE",
    "SAQ_ACCESS",
    "PORT_LIST_ACCESS",
    "PORT_LIST_CREATE",
    "TARGET_ACCESS_CREDENTIALS",
    "TARGET_CREATE_CREDENTIALS",
    "AI_CHAT_GENERAL_HELP",
    "AI_CHAT_VULNERABILITY_SOLUTION",
    "AI_CHAT_ENABLED",
];

fn holds(user: &User, code: &str) -> bool {
    user.role.is_admin() || !(code == "ADMIN_ACCESS" || code.contains("_CREATE"))
}

/// Organization fields of `PUT /v2/user/organization` kept under `details`.
pub(crate) const ORG_DETAILS: [&str; 12] = [
    "address",
    "city",
    "state",
    "zipcode",
    "country",
    "phone",
    "website",
    "email",
    "contact_name",
    "contact_title",
    "contact_phone",
    "contact_email",
];

/// The current user as `GET /v2/user/me` shows it. The handlers render it
/// with serde; with the `openapi` feature its schema is the document's.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct MeData<'a> {
    pub id: Uuid,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schemars(with = "super::UsersType"))]
    pub kind: &'static str,
    pub attributes: MeAttributes<'a>,
    pub relationships: super::Relationships,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct MeAttributes<'a> {
    pub id: Uuid,
    pub username: &'a str,
    #[cfg_attr(feature = "openapi", schemars(with = "super::RoleName"))]
    pub role: &'static str,
    pub email: &'a str,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub locale: Option<&'a str>,
    pub timezone: Option<&'a str>,
    /// The product of the organization's active subscription.
    pub active_product: Option<&'a str>,
    pub organization: super::OrgRef<'a>,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub updated_at: String,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Instant>")
    )]
    pub last_sign_in_at: Option<String>,
    pub last_sign_in_ip: Option<&'a str>,
    pub sign_in_count: u64,
    pub two_factor_authentication: TwoFactorBlock,
    pub incomplete_details: bool,
}

fn me_resource<'a>(user: &'a User, org: &'a Organization) -> super::Data<MeData<'a>> {
    let p = &user.profile;
    let active_product = org
        .subscriptions
        .iter()
        .find(|s| s.status == crate::base::model::SubscriptionStatus::Active)
        .map(|s| s.product.as_str());
    super::Data {
        data: MeData {
            id: user.id,
            kind: "users",
            attributes: MeAttributes {
                id: user.id,
                username: &user.email,
                role: role_name(user.role),
                email: &user.email,
                first_name: p.first_name.as_deref(),
                last_name: p.last_name.as_deref(),
                locale: p.locale.as_deref(),
                timezone: p.timezone.as_deref(),
                active_product,
                organization: super::OrgRef {
                    id: org.id,
                    name: &org.name,
                },
                created_at: time::format_millis(user.created_at),
                updated_at: time::format_millis(user.updated_at),
                last_sign_in_at: user.last_sign_in_at.map(time::format_millis),
                last_sign_in_ip: user.last_sign_in_ip.as_deref(),
                sign_in_count: user.sign_in_count,
                two_factor_authentication: two_factor_block(user),
                incomplete_details: false,
            },
            relationships: super::Relationships {},
        },
    }
}

/// The vendor's `two_factor_authentication` block: TOTP is the one method.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TwoFactorBlock {
    pub enabled: bool,
    pub otp_sms_enabled: bool,
    pub otp_totp_enabled: bool,
    /// Always null: no SMS second factor.
    #[cfg_attr(feature = "openapi", schemars(with = "()"))]
    pub otp_phone: Option<()>,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Totp>"))]
    pub otp_default_method: Option<&'static str>,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(Totp, ["totp"]);

pub(super) fn two_factor_block(user: &User) -> TwoFactorBlock {
    let on = crate::idm::two_factor::required(user);
    TwoFactorBlock {
        enabled: on,
        otp_sms_enabled: false,
        otp_totp_enabled: on,
        otp_phone: None,
        otp_default_method: on.then_some("totp"),
    }
}

/// An organization as a `/v2` resource (the shape of the vendor's move-user
/// response).
pub(super) fn organization_resource<'a>(
    org: &'a Organization,
    members: &'a [User],
    can_edit: bool,
) -> super::Data<OrgData<'a>> {
    super::Data {
        data: organization_data(org, members, can_edit),
    }
}

/// An organization's `data` object (one element of a list, with no
/// members). The handlers render it with serde; with the `openapi` feature
/// its schema is the document's.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct OrgData<'a> {
    pub id: Uuid,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schemars(with = "OrganizationsType"))]
    pub kind: &'static str,
    pub attributes: OrgAttributes<'a>,
    pub relationships: super::Relationships,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct OrgAttributes<'a> {
    pub uuid: Uuid,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub company_name: Option<&'a str>,
    /// A reseller's organization.
    pub partner: bool,
    #[cfg_attr(feature = "openapi", schemars(with = "OrgKindName"))]
    pub kind: &'static str,
    pub parent_id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schemars(description = "The organization's status")
    )]
    pub status: crate::base::model::Lifecycle,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub creation_time: String,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub modification_time: String,
    /// The first 100 members (none in lists).
    pub members: Vec<Member<'a>>,
    pub settings: OrgSettings,
    /// Address, contact, billing and tax fields.
    pub details: &'a std::collections::BTreeMap<String, String>,
    pub incomplete_details: bool,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Member<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub partner: bool,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct OrgSettings {
    pub can_edit_organization: bool,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(OrganizationsType, ["organizations"]);
#[cfg(feature = "openapi")]
crate::base::schema::strings!(OrgKindName, ["platform", "reseller", "customer"]);

pub(super) fn organization_data<'a>(
    org: &'a Organization,
    members: &'a [User],
    can_edit: bool,
) -> OrgData<'a> {
    OrgData {
        id: org.id,
        kind: "organizations",
        attributes: OrgAttributes {
            uuid: org.id,
            name: &org.name,
            description: org.description.as_deref(),
            company_name: org.company_name.as_deref(),
            partner: org.kind == crate::base::model::OrgKind::Reseller,
            kind: crate::idm::organizations::kind_name(org.kind),
            parent_id: org.parent,
            status: org.status,
            creation_time: time::format_millis(org.created_at),
            modification_time: time::format_millis(org.updated_at),
            members: members
                .iter()
                .map(|m| Member {
                    id: m.id,
                    username: &m.email,
                    partner: false,
                })
                .collect(),
            settings: OrgSettings {
                can_edit_organization: can_edit,
            },
            details: &org.details,
            incomplete_details: false,
        },
        relationships: super::Relationships {},
    }
}

/// The first members of an organization (one page of its member index).
pub(super) fn members(env: &Env, tenant: &str, org: &Organization) -> Result<Vec<User>, Error> {
    let list = format!("org/{}/members", org.id);
    let ids = storage::index_range(env.kv, tenant, &list, 1, 100)?;
    let keys: Vec<String> = ids
        .iter()
        .map(|(_, id)| storage::keys::user(tenant, *id))
        .collect();
    let mut seen = std::collections::HashSet::new();
    Ok(storage::read_many::<User>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .filter(|u| {
            u.organization_id == org.id && u.status != crate::base::model::Lifecycle::Deleted
        })
        .filter(|u| seen.insert(u.id))
        .collect())
}

pub(super) fn parse_org_change(body: &Map<String, Value>) -> Result<OrgChange, Error> {
    let mut errors = FieldErrors::default();
    let empty = Map::new();
    let org = match body.get("organization") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(o)) => o,
        Some(_) => {
            errors.add("organization", "must be an object");
            &empty
        }
    };
    let mut f = Fields {
        obj: org,
        prefix: "organization".into(),
        errors: &mut errors,
    };
    let name = f.required("name");
    let company_name = f.required("company_name");
    let description = f
        .obj
        .contains_key("description")
        .then(|| f.string("description"));
    let mut details = std::collections::BTreeMap::new();
    for key in ORG_DETAILS {
        if f.obj.contains_key(key) {
            details.insert(key.to_string(), f.string(key));
        }
    }
    errors.into_result()?;
    Ok(OrgChange {
        name,
        company_name,
        description,
        details,
    })
}

/// What a `/v2/user/...` handler is given: the request's signed-in
/// caller, its user and organization.
type Handler =
    fn(&Request, &mut Env, &Config, Caller, User, Organization) -> Result<Response, Error>;

/// `GET`, `PUT /v2/user/me`.
pub fn me(req: &Request, env: &mut Env, config: &Config) -> Response {
    current_user(req, env, config, &[Method::GET, Method::PUT], on_me)
}

/// `GET`, `PUT /v2/user/organization`.
pub fn organization(req: &Request, env: &mut Env, config: &Config) -> Response {
    current_user(
        req,
        env,
        config,
        &[Method::GET, Method::PUT],
        on_organization,
    )
}

/// `GET /v2/user/permissions`.
pub fn permissions(req: &Request, env: &mut Env, config: &Config) -> Response {
    current_user(req, env, config, &[Method::GET], on_permissions)
}

/// `GET /v2/user/validate_token`.
pub fn validate_token(req: &Request, env: &mut Env, config: &Config) -> Response {
    current_user(req, env, config, &[Method::GET], |_, _, _, _, _, _| {
        ok(json!({"valid": true}))
    })
}

/// `PUT /v2/user/generate_access_token`.
pub fn generate_access_token(req: &Request, env: &mut Env, config: &Config) -> Response {
    current_user(req, env, config, &[Method::PUT], on_generate_access_token)
}

/// `PUT /v2/user/revoke_access_token`.
pub fn revoke_access_token(req: &Request, env: &mut Env, config: &Config) -> Response {
    current_user(req, env, config, &[Method::PUT], on_revoke_access_token)
}

/// `PUT /v2/user/change_password`.
pub fn change_password(req: &Request, env: &mut Env, config: &Config) -> Response {
    current_user(req, env, config, &[Method::PUT], on_change_password)
}

/// One `/v2/user/...` endpoint (each its own component): the method check,
/// the signed-in caller, then its own handler, so a component links that
/// handler alone.
fn current_user(
    req: &Request,
    env: &mut Env,
    config: &Config,
    allowed: &[Method],
    handler: Handler,
) -> Response {
    if !allowed.contains(req.method()) {
        return render_error(&Error::MethodNotAllowed(allowed.to_vec()));
    }
    let result = authenticate(req, env, config)
        .and_then(|(caller, user, org)| handler(req, env, config, caller, user, org));
    result.unwrap_or_else(|e| render_error(&e))
}

/// A `Value` answer through the one non-generic `web::json`: answering the
/// small bodies through [`typed`] instead linked a second serializer of
/// `Value` into each component (+82 bytes in `v2-user-validate-token`).
fn ok(body: Value) -> Result<Response, Error> {
    Ok(web::json(StatusCode::OK, &body))
}

fn typed<T: serde::Serialize>(body: T) -> Result<Response, Error> {
    Ok(web::serialized(StatusCode::OK, &body))
}

fn on_me(
    req: &Request,
    env: &mut Env,
    _: &Config,
    caller: Caller,
    user: User,
    org: Organization,
) -> Result<Response, Error> {
    if req.method() == Method::GET {
        return typed(me_resource(&user, &org));
    }
    let change = parse_user_change(&json_object(req)?)?;
    let updated = users::update_me(env, &caller, &change, &web::client_address(req))?;
    typed(me_resource(&updated, &org))
}

fn on_organization(
    req: &Request,
    env: &mut Env,
    _: &Config,
    caller: Caller,
    user: User,
    org: Organization,
) -> Result<Response, Error> {
    if req.method() == Method::GET {
        let members = members(env, &caller.tenant, &org)?;
        return typed(organization_resource(&org, &members, user.role.is_admin()));
    }
    let change = parse_org_change(&json_object(req)?)?;
    let updated = organizations::update(env, &caller, org.id, &change)?;
    let members = members(env, &caller.tenant, &updated)?;
    typed(organization_resource(&updated, &members, true))
}

/// What [`on_permissions`] reads: an unknown code is 422, a code the caller
/// lacks 403 (both documented).
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct PermissionsQuery {
    #[schemars(with = "Option<PermissionCodes>")]
    pub permissions: Option<String>,
}

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// [`PERMISSIONS`], comma-separated.
    PermissionCodes,
    {
        let code = format!("({})", PERMISSIONS.join("|"));
        serde_json::json!({"type": "string", "pattern": format!("^{code}(,{code})*$"),
            "description": format!(
                "Comma-separated permission codes to check ({}); 403 when one is not held",
                PERMISSIONS.join(", ")
            )})
    }
);

fn on_permissions(
    req: &Request,
    _: &mut Env,
    _: &Config,
    _: Caller,
    user: User,
    _: Organization,
) -> Result<Response, Error> {
    let asked = req
        .uri()
        .query()
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .filter(|(k, _)| k == "permissions")
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>();
    if let Some(unknown) = asked.iter().find(|c| !PERMISSIONS.contains(&c.as_str())) {
        return Err(Error::invalid(
            "permissions",
            format!("{unknown} is not a permission code"),
        ));
    }
    if let Some(missing) = asked.iter().find(|c| !holds(&user, c)) {
        return Err(Error::Forbidden(format!("you do not hold {missing}")));
    }
    Ok(web::empty(StatusCode::OK))
}

fn on_generate_access_token(
    _: &Request,
    env: &mut Env,
    config: &Config,
    caller: Caller,
    user: User,
    _: Organization,
) -> Result<Response, Error> {
    refuse_impersonated(&caller, "issue or revoke access tokens")?;
    let token = identity::generate_access_token(env, config, &caller)?;
    ok(json!({
        "token": token,
        "username": user.email,
        "message": "Access token generated; it does not expire. Send it as Authorization: Basic <token>."
    }))
}

fn on_revoke_access_token(
    _: &Request,
    env: &mut Env,
    _: &Config,
    caller: Caller,
    _: User,
    _: Organization,
) -> Result<Response, Error> {
    refuse_impersonated(&caller, "issue or revoke access tokens")?;
    if identity::revoke_access_token(env, &caller)? {
        ok(json!({"message": "Access token revoked"}))
    } else {
        Err(Error::NotFound("no access token to revoke".into()))
    }
}

/// What [`on_change_password`] reads: Devise's `user` wrapper.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct ChangePasswordBody {
    pub user: PasswordChange,
}

/// The three fields of a password change, none empty.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct PasswordChange {
    #[schemars(length(min = 1))]
    pub current_password: String,
    /// The new password, under the tenant's password policy
    #[schemars(length(min = 1))]
    pub password: String,
    /// Equal to password
    #[schemars(length(min = 1))]
    pub password_confirmation: String,
}

fn on_change_password(
    req: &Request,
    env: &mut Env,
    config: &Config,
    caller: Caller,
    _: User,
    _: Organization,
) -> Result<Response, Error> {
    refuse_impersonated(&caller, "change the password")?;
    let body = json_object(req)?;
    let empty = Map::new();
    let fields = match body.get("user") {
        Some(Value::Object(u)) => u,
        _ => &empty,
    };
    let mut errors = FieldErrors::default();
    let mut text = |name: &str| match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            errors.add(format!("user.{name}"), "is required");
            String::new()
        }
    };
    let (current, new, confirmation) = (
        text("current_password"),
        text("password"),
        text("password_confirmation"),
    );
    if !new.is_empty() && !confirmation.is_empty() && new != confirmation {
        errors.add("user.password_confirmation", "doesn't match password");
    }
    errors.into_result()?;
    let address = crate::edge::web::client_address(req);
    users::change_password(env, &caller, &current, &new, &address, config.hash_params())?;
    ok(json!({}))
}
