//! The Clone Systems v2 family (`/v2/...`, `/auth/...`): request parsing and the
//! one place its errors are rendered.
//!
//! # Error body
//! The vendor's "Common Error Responses" page was never captured, so Onboard
//! uses one shape for every error of this family, built on the `status` /
//! `status_text` pair its sign-in response carries:
//!
//! ```json
//! {"status": 422, "status_text": "Parameter Error",
//!  "message": "invalid parameters: user.email",
//!  "errors": {"user.email": ["is not a valid email address"]}}
//! ```
//!
//! `errors` (field path → messages) is present on 422 only. Status texts are the
//! vendor's labels: 401 `Unauthorized`, 403 `Forbidden`, 404 `Record Not Found`,
//! 422 `Parameter Error`.

use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::base::error::{Error, FieldErrors};
use crate::base::model::{Interval, Organization, Profile, Role, User};
use crate::base::validate;
use crate::be::storage::Env;
use crate::credential::auth::Caller;
use crate::credential::console;
use crate::credential::identity::{self, CredentialKind, Family};
use crate::edge::web::{self, Request, Response};
use crate::idm::provision::{NewCustomer, NewOrg, NewUser, OpId, PlanRequest};
use crate::idm::users::{ProfileChange, UserChange};
use crate::{base::time, idm::provision, idm::users};

pub use crate::credential::identity::Config;

pub mod account;
pub mod audit;
#[cfg(feature = "openapi")]
pub mod bodies;
pub mod current_user;
pub mod organizations;
pub mod session;
pub mod two_factor;

pub use account::{confirmation, invitation, password, sms_otp};
pub use audit::{audit_event, audit_events};
pub use current_user::{
    PERMISSIONS, change_password, generate_access_token, me, organization as current_organization,
    permissions, revoke_access_token, validate_token,
};
pub use organizations::{
    Export, csv_field, dependent_subscriptions, export_organizations, move_user, organization,
    organizations, start_export, subscribe, subscription, subscriptions, unsubscribe,
};
pub use session::{impersonate, sign_in, sign_out};
pub(crate) use two_factor::second_factor;
pub use two_factor::{disable_2fa, enable_2fa, generate_recovery_codes, verify_2fa_installation};

/// The caller of a request: `Authorization: Bearer <session token>` from
/// sign-in, `Authorization: Basic <access token>` from
/// `generate_access_token`, or (with no `Authorization`) the operator
/// console's session cookie under its CSRF rules. The credential's tenant
/// must be the one the host serves (403 otherwise).
pub fn authenticate(
    req: &Request,
    env: &Env,
    config: &Config,
) -> Result<(Caller, User, Organization), Error> {
    let authorization = header_str(req, "authorization");
    let found = if let Some(token) = identity::scheme_token(authorization, "bearer") {
        identity::session_caller(env, config, Family::Clone, token, header_str(req, "host"))?
    } else if let Some(token) = identity::scheme_token(authorization, "basic") {
        identity::stored_caller(env, config, CredentialKind::AccessToken, token)?
    } else if let Some(found) = console::caller(env, config, &browser(req)) {
        found?
    } else {
        return Err(Error::Unauthenticated(
            "missing or malformed credential: use Bearer <token> or Basic <access token>".into(),
        ));
    };
    identity::check_destination(env, &found.0.tenant, None, header_str(req, "host"))?;
    crate::credential::impersonation::audit_request(
        env,
        &found.0,
        req.method().as_str(),
        req.uri().path(),
    )?;
    Ok(found)
}

pub use crate::edge::web::client_address;

/// What the console's credential check reads of a request. Of several
/// `Cookie` headers (HTTP/2 may split them), the one with the console's.
pub fn browser(req: &Request) -> console::Browser<'_> {
    let cookies = req.headers().get_all("cookie").iter();
    let cookie = cookies
        .filter_map(|v| v.to_str().ok())
        .find(|v| console::cookie_value(v, console::COOKIE).is_some());
    console::Browser {
        cookie,
        csrf: header_str(req, console::CSRF_HEADER),
        origin: header_str(req, "origin"),
        fetch_site: header_str(req, "sec-fetch-site"),
        host: header_str(req, "host"),
        method: req.method().as_str(),
        path: req.uri().path(),
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Record Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Parameter Error",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Renders any core error in this family's shape.
pub fn render_error(error: &Error) -> Response {
    let status = error.status();
    let mut body = json!({
        "status": status,
        "status_text": status_text(status),
        "message": error.message(),
    });
    if let Error::Invalid(fields) = error {
        let mut map = Map::new();
        for e in &fields.0 {
            let entry = map.entry(e.field.clone()).or_insert_with(|| json!([]));
            if let Value::Array(list) = entry {
                list.push(json!(e.message));
            }
        }
        body["errors"] = Value::Object(map);
    }
    let response = web::json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        &body,
    );
    web::error_headers(response, error, Some("Bearer"))
}

pub use crate::edge::web::json_object;

pub(crate) use super::fields::Fields;

/// The profile fields shared by create_customer's and update's `user` object.
pub(crate) fn profile(f: &mut Fields) -> Profile {
    let locale = f.string("locale");
    if let Some(l) = &locale
        && let Err(m) = validate::locale(l)
    {
        f.errors.add(f.path("locale"), m);
    }
    let timezone = f.string("timezone");
    if let Some(tz) = &timezone
        && let Err(m) = validate::timezone(tz)
    {
        f.errors.add(f.path("timezone"), m);
    }
    Profile {
        first_name: f.string("first_name"),
        last_name: f.string("last_name"),
        locale,
        timezone,
        phone: f.string("phone"),
        mobile_phone: f.string("mobile_phone"),
        url: f.string("url"),
        title: f.string("title"),
        address: f.string("address"),
        city: f.string("city"),
        state: f.string("state"),
        country: f.string("country"),
        zipcode: f.string("zipcode"),
        comment: f.string("comment"),
    }
}

/// Parses and validates seed 000's body. Field paths are relative to `customer`.
pub fn parse_create_customer(body: &Map<String, Value>) -> Result<NewCustomer, Error> {
    let (input, errors) = parse_create_customer_fields(body);
    errors.into_result()?;
    Ok(input)
}

/// Seed 000's body with every field error found, so the caller can add the
/// checks that need the tenant (the password policy) before answering.
fn parse_create_customer_fields(body: &Map<String, Value>) -> (NewCustomer, FieldErrors) {
    let mut errors = FieldErrors::default();
    let empty = Map::new();
    let customer = match body.get("customer") {
        Some(Value::Object(c)) => c,
        None | Some(Value::Null) => {
            errors.add("customer", "is required");
            &empty
        }
        Some(_) => {
            errors.add("customer", "must be an object");
            &empty
        }
    };
    let mut f = Fields {
        obj: customer,
        prefix: String::new(),
        errors: &mut errors,
    };

    let organization_id = f.uuid("organization_id");
    let organization = f.object("organization").map(|o| {
        let mut of = f.nested(o, "organization");
        parse_organization(&mut of)
    });
    if organization_id.is_none()
        && organization.is_none()
        && !f.has_error("organization_id")
        && !f.has_error("organization")
        && !f.has_error("customer")
    {
        f.errors.add(
            "organization",
            "is required when organization_id is not given",
        );
    }

    let user = match f.object("user") {
        Some(u) => {
            let mut uf = f.nested(u, "user");
            let email = uf.required("email");
            if let Some(e) = &email
                && !e.trim().is_empty()
                && !uf.has_error("email")
                && let Err(m) = validate::email(e)
            {
                uf.errors.add("user.email", m);
            }
            let profile = profile(&mut uf);
            let confirmed = uf.bool("confirmed").unwrap_or(false);
            let password = uf.string("password");
            let confirmation = uf.string("password_confirmation");
            if let (Some(p), Some(c)) = (&password, &confirmation)
                && p != c
            {
                uf.errors
                    .add("user.password_confirmation", "doesn't match password");
            }
            if password.is_none() && confirmation.is_some() {
                uf.errors
                    .add("user.password", "is required with password_confirmation");
            }
            NewUser {
                email: email.unwrap_or_default(),
                profile,
                confirmed,
                password,
                ..NewUser::default()
            }
        }
        None => {
            if !f.has_error("user") {
                f.errors.add("user", "is required");
            }
            NewUser::default()
        }
    };

    let plans = parse_plans(&mut f, "plans");

    let input = NewCustomer {
        organization_id,
        organization,
        user,
        plans,
        ..NewCustomer::default()
    };
    (input, errors)
}

/// A new organization's fields (seed 000's `organization`, and
/// `POST /v2/organizations`'), read by `f`.
pub(crate) fn parse_organization(f: &mut Fields) -> NewOrg {
    NewOrg {
        name: f.required("name").unwrap_or_default(),
        description: f.string("description"),
        company_name: f.string("company_name"),
        skip_default_subscription: f.bool("skip_default_subscription").unwrap_or(false),
        parent: f.uuid("parent_organization"),
        details: Default::default(),
    }
}

/// One plan request (`plan`, `partner`, `interval`, `start_date`,
/// `end_date`) of an object read by `f`.
fn parse_plan(f: &mut Fields) -> PlanRequest {
    let plan = f.required("plan").unwrap_or_default();
    let partner = f.bool("partner").unwrap_or(false);
    let interval = match f.string("interval") {
        None => Interval::None,
        Some(s) => Interval::parse(&s).unwrap_or_else(|| {
            f.errors
                .add(f.path("interval"), "must be one of none, monthly, yearly");
            Interval::None
        }),
    };
    let start = f.date("start_date");
    let end = f.date("end_date");
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        f.errors
            .add(f.path("end_date"), "must not be before start_date");
    }
    PlanRequest {
        plan,
        partner,
        interval,
        start,
        end,
    }
}

/// The array of plan requests at `name`, if present.
fn parse_plans(f: &mut Fields, name: &str) -> Vec<PlanRequest> {
    let mut plans = Vec::new();
    match f.obj.get(name) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let label = format!("{name}[{i}]");
                let Value::Object(p) = item else {
                    f.errors.add(f.path(&label), "must be an object");
                    continue;
                };
                let mut pf = f.nested(p, &label);
                plans.push(parse_plan(&mut pf));
            }
        }
        Some(_) => f.errors.add(f.path(name), "must be an array"),
    }
    plans
}

/// A request's `Idempotency-Key`, if sensible (1..=255 visible ASCII characters).
fn idempotency_key(req: &Request) -> Result<Option<String>, Error> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("").trim();
    if key.is_empty() || key.len() > 255 {
        return Err(Error::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible characters",
        ));
    }
    Ok(Some(key.to_string()))
}

pub(crate) use crate::edge::web::header_str;

/// `POST /v2/users/create_customer` (seed 000): 201, no body, `Location` naming
/// the user.
pub fn create_customer(req: &Request, env: &mut Env, config: &Config) -> Response {
    if req.method() != Method::POST {
        return render_error(&Error::MethodNotAllowed(vec![Method::POST]));
    }
    match create_customer_inner(req, env, config) {
        Ok(response) => response,
        Err(e) => render_error(&e),
    }
}

fn create_customer_inner(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let (caller, _, _) = authenticate(req, env, config)?;
    let body = json_object(req)?;
    let (input, mut errors) = parse_create_customer_fields(&body);
    if let Some(password) = &input.user.password {
        provision::password_errors(
            env.kv,
            &caller.tenant,
            None,
            password,
            "user.password",
            &mut errors,
        )?;
    }
    errors.into_result()?;
    let fingerprint =
        crate::credential::identity::fingerprint(config, &Value::Object(body).to_string());
    let op = match idempotency_key(req)? {
        Some(key) => OpId::keyed(&caller, &key, fingerprint),
        None => OpId::fresh(env, fingerprint),
    };
    let correlation = header_str(req, "x-correlation-id").map(str::to_string);
    let created =
        provision::create_customer(env, &caller, &input, &op, config.hash_params(), correlation)?;
    let mut response = web::empty(StatusCode::CREATED);
    if let Ok(location) = HeaderValue::from_str(&format!("/v2/users/{}", created.user.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if created.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// A profile field of a partial update: absent leaves it, `null` clears it.
fn change_field(f: &mut Fields, name: &str) -> Option<Option<String>> {
    match f.obj.get(name) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(_) => {
            let value = f.string(name);
            if let Some(v) = &value {
                let check = match name {
                    "locale" => validate::locale(v),
                    "timezone" => validate::timezone(v),
                    _ => Ok(()),
                };
                if let Err(m) = check {
                    f.errors.add(f.path(name), m);
                }
            }
            value.map(Some)
        }
    }
}

/// Parses seed 002's body, `{"user": {...}}`, every field optional. `null` clears
/// a profile field; `email` and `organization_id` cannot be cleared.
pub fn parse_user_change(body: &Map<String, Value>) -> Result<UserChange, Error> {
    let mut errors = FieldErrors::default();
    let empty = Map::new();
    let user = match body.get("user") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(u)) => u,
        Some(_) => {
            errors.add("user", "must be an object");
            &empty
        }
    };
    let mut f = Fields {
        obj: user,
        prefix: "user".into(),
        errors: &mut errors,
    };
    for name in ["email", "organization_id"] {
        if matches!(user.get(name), Some(Value::Null)) {
            f.errors.add(f.path(name), "can't be blank");
        }
    }
    let email = f.string("email");
    if let Some(e) = &email
        && !f.has_error("email")
        && let Err(m) = validate::email(e)
    {
        f.errors.add("user.email", m);
    }
    let organization_id = f.uuid("organization_id");
    let profile = ProfileChange {
        first_name: change_field(&mut f, "first_name"),
        last_name: change_field(&mut f, "last_name"),
        locale: change_field(&mut f, "locale"),
        timezone: change_field(&mut f, "timezone"),
        phone: change_field(&mut f, "phone"),
        mobile_phone: change_field(&mut f, "mobile_phone"),
        url: change_field(&mut f, "url"),
        title: change_field(&mut f, "title"),
        address: change_field(&mut f, "address"),
        city: change_field(&mut f, "city"),
        state: change_field(&mut f, "state"),
        country: change_field(&mut f, "country"),
        zipcode: change_field(&mut f, "zipcode"),
        comment: change_field(&mut f, "comment"),
    };
    // Kept as sent (a password is never trimmed).
    let current_password = match user.get("current_password") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => {
            f.errors.add("user.current_password", "must be a string");
            None
        }
    };
    let skip_reconfirmation = f.bool("skip_reconfirmation").unwrap_or(false);
    errors.into_result()?;
    Ok(UserChange {
        email,
        organization_id,
        profile,
        current_password,
        skip_reconfirmation,
        ..UserChange::default()
    })
}

/// The family's role names.
pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Operator => "Super Admin",
        Role::ResellerAdmin | Role::CustomerAdmin => "Admin",
        Role::User => "User",
    }
}

/// A user as a `/v2` resource.
pub fn user_resource<'a>(user: &'a User, org: &'a Organization) -> Data<UserData<'a>> {
    Data {
        data: user_data(user, org),
    }
}

/// A `/v2` answer of one resource.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Data<T> {
    pub data: T,
}

/// A user's `data` object (one element of a list). The handlers render it
/// with serde; with the `openapi` feature its schema is the document's.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct UserData<'a> {
    pub id: Uuid,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schemars(with = "UsersType"))]
    pub kind: &'static str,
    pub attributes: UserAttributes<'a>,
    pub relationships: Relationships,
}

/// A resource's relationships: none are shown.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Relationships {}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct UserAttributes<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub email: &'a str,
    #[cfg_attr(feature = "openapi", schemars(with = "RoleName"))]
    pub role: &'static str,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub locale: Option<&'a str>,
    pub timezone: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub mobile_phone: Option<&'a str>,
    pub url: Option<&'a str>,
    pub title: Option<&'a str>,
    pub address: Option<&'a str>,
    pub city: Option<&'a str>,
    pub state: Option<&'a str>,
    pub country: Option<&'a str>,
    pub zipcode: Option<&'a str>,
    pub comment: Option<&'a str>,
    pub confirmed: bool,
    #[cfg_attr(feature = "openapi", schemars(description = "The account's status"))]
    pub status: crate::base::model::Lifecycle,
    pub organization: OrgRef<'a>,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub updated_at: String,
}

/// The organization a resource belongs to.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct OrgRef<'a> {
    pub id: Uuid,
    pub name: &'a str,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(UsersType, ["users"]);
#[cfg(feature = "openapi")]
crate::base::schema::strings!(RoleName, ["Super Admin", "Admin", "User"]);

/// A user's `data` object (one element of a list).
pub fn user_data<'a>(user: &'a User, org: &'a Organization) -> UserData<'a> {
    let p = &user.profile;
    UserData {
        id: user.id,
        kind: "users",
        attributes: UserAttributes {
            id: user.id,
            username: &user.email,
            email: &user.email,
            role: role_name(user.role),
            first_name: p.first_name.as_deref(),
            last_name: p.last_name.as_deref(),
            locale: p.locale.as_deref(),
            timezone: p.timezone.as_deref(),
            phone: p.phone.as_deref(),
            mobile_phone: p.mobile_phone.as_deref(),
            url: p.url.as_deref(),
            title: p.title.as_deref(),
            address: p.address.as_deref(),
            city: p.city.as_deref(),
            state: p.state.as_deref(),
            country: p.country.as_deref(),
            zipcode: p.zipcode.as_deref(),
            comment: p.comment.as_deref(),
            confirmed: user.confirmed,
            status: user.status,
            organization: OrgRef {
                id: org.id,
                name: &org.name,
            },
            created_at: time::format_millis(user.created_at),
            updated_at: time::format_millis(user.updated_at),
        },
        relationships: Relationships {},
    }
}

/// What [`user`] reads on `DELETE` ([`query_flag`]: exactly true or false,
/// else 422).
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct DeleteUserQuery {
    /// Operators: erase the record and free the email (else a soft delete;
    /// another role asking to purge is 403)
    #[schemars(extend("default" = false))]
    pub purge: Option<bool>,
}

/// `GET`, `PUT` (seed 002) and `DELETE /v2/users/{id}`: 200 with the user,
/// or 200 `{}`. `DELETE ...?purge=true` (operators) erases the record and
/// frees the email; a plain delete is soft.
pub fn user(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        let allowed = [Method::GET, Method::PUT, Method::DELETE];
        if !allowed.contains(req.method()) {
            return Err(Error::MethodNotAllowed(allowed.to_vec()));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let raw = web::path_param(req, "id").unwrap_or_default();
        let id =
            Uuid::parse_str(raw).map_err(|_| Error::NotFound(format!("user {raw} not found")))?;
        if req.method() == Method::GET {
            let (user, org) = users::get(env, &caller, id)?;
            return Ok(web::serialized(StatusCode::OK, &user_resource(&user, &org)));
        }
        if req.method() == Method::DELETE {
            let purge = query_flag(req, "purge")?;
            users::delete(env, &caller, id, purge)?;
            return Ok(web::json(StatusCode::OK, &json!({})));
        }
        let body = json_object(req)?;
        let change = parse_user_change(&body)?;
        users::update(env, &caller, id, &change)?;
        Ok(web::json(StatusCode::OK, &json!({})))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// A boolean query flag (`true`/`false`, absent = false); 422 otherwise.
pub(crate) fn query_flag(req: &Request, name: &str) -> Result<bool, Error> {
    match query_value(req, name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(Error::invalid(name, "must be true or false")),
    }
}

/// The first value of a query parameter.
pub(crate) fn query_value(req: &Request, name: &str) -> Option<String> {
    req.uri()
        .query()
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A list in the family's envelope: `data`, plus `meta` with the paging.
pub(crate) fn list_body<T, D>(
    page: &crate::idm::listing::Page<T>,
    query: &crate::idm::listing::ListQuery,
    data: Vec<D>,
) -> ListBody<D> {
    ListBody {
        data,
        meta: ListMeta {
            page: query.page,
            per_page: query.per_page,
            total_count: page.total,
            total_pages: page.span.div_ceil(query.per_page),
            truncated: page.truncated,
        },
    }
}

/// A `/v2` list answer: the page's resources and where the page is.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ListBody<D> {
    pub data: Vec<D>,
    pub meta: ListMeta,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ListMeta {
    pub page: usize,
    pub per_page: usize,
    pub total_count: usize,
    pub total_pages: usize,
    /// The page stopped short of every match (a filter's read limit), so
    /// total_count may be low.
    pub truncated: bool,
}

/// `GET /v2/users`: the users the caller reaches (administrators only).
pub fn users(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::GET {
            return Err(Error::MethodNotAllowed(vec![Method::GET]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let query = crate::idm::listing::parse(req.uri().query(), &users::LIST_COLUMNS, env.now)?;
        let page = users::list(env, &caller, &query)?;
        let data = page.items.iter().map(|(u, o)| user_data(u, o)).collect();
        Ok(web::serialized(
            StatusCode::OK,
            &list_body(&page, &query, data),
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}
