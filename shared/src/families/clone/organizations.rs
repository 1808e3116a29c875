//! `/v2/organizations...`: organizations, their subscriptions, moving users
//! between them and the CSV export. Paths the vendor's pages do not show are
//! this service's choice (see the README).

use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::current_user::{members, organization_data, organization_resource};
use super::{
    Fields, authenticate, json_object, list_body, parse_organization, parse_plan, parse_plans,
    query_value, render_error,
};
use crate::base::error::{Error, FieldError, FieldErrors};
use crate::base::model::{Interval, Lifecycle, Organization, Subscription, SubscriptionStatus};
use crate::be::storage::{self, Env};
use crate::credential::auth::Caller;
use crate::credential::identity::Config;
use crate::edge::web::{self, Request, Response};
use crate::idm::organizations;
use crate::idm::provision::NewOrg;
use crate::idm::provision::PlanRequest;
use crate::idm::subscriptions::{self, SubscriptionChange};
use crate::idm::users::{self, UserChange};
use crate::{base::time, idm::listing};

pub(super) fn allow(req: &Request, methods: &[Method]) -> Result<(), Error> {
    if methods.contains(req.method()) {
        Ok(())
    } else {
        Err(Error::MethodNotAllowed(methods.to_vec()))
    }
}

fn org_id(req: &Request) -> Result<Uuid, Error> {
    let raw = web::path_param(req, "id").unwrap_or_default();
    Uuid::parse_str(raw).map_err(|_| Error::NotFound(format!("organization {raw} not found")))
}

/// The organization's answer, with its first members.
fn resource(
    env: &Env,
    caller: &Caller,
    org: &Organization,
    status: StatusCode,
) -> Result<Response, Error> {
    let members = members(env, &caller.tenant, org)?;
    Ok(web::serialized(
        status,
        &organization_resource(org, &members, caller.role.is_admin()),
    ))
}

/// The organization object of a create: `{"organization": {...}}` with
/// seed 000's fields, `plans` inside it or beside it.
pub(super) fn parse_new_org(
    body: &Map<String, Value>,
) -> Result<(NewOrg, Vec<PlanRequest>), Error> {
    let mut errors = FieldErrors::default();
    let empty = Map::new();
    let org = match body.get("organization") {
        Some(Value::Object(o)) => o,
        None | Some(Value::Null) => {
            errors.add("organization", "is required");
            &empty
        }
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
    let spec = parse_organization(&mut f);
    let mut plans = parse_plans(&mut f, "plans");
    let mut top = Fields {
        obj: body,
        prefix: String::new(),
        errors: &mut errors,
    };
    plans.extend(parse_plans(&mut top, "plans"));
    errors.into_result()?;
    Ok((spec, plans))
}

/// `organization.status` of a PUT, this service's addition: `active` or
/// `disabled` (every user of a disabled organization is refused on its
/// next request); absent leaves it.
pub(super) fn org_status(body: &Map<String, Value>) -> Result<Option<Lifecycle>, Error> {
    let bad = || Error::invalid("organization.status", "must be active or disabled");
    match body.get("organization").and_then(|o| o.get("status")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match Lifecycle::parse(s) {
            Some(l @ (Lifecycle::Active | Lifecycle::Disabled)) => Ok(Some(l)),
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

/// `GET /v2/organizations` (list) and `POST /v2/organizations` (create).
pub fn organizations(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::GET, Method::POST])?;
        let (caller, _, _) = authenticate(req, env, config)?;
        if req.method() == Method::GET {
            let query = listing::parse(req.uri().query(), &organizations::LIST_COLUMNS, env.now)?;
            let page = organizations::list(env, &caller, &query)?;
            let data = page
                .items
                .iter()
                .map(|o| organization_data(o, &[], caller.role.is_admin()))
                .collect();
            return Ok(web::serialized(
                StatusCode::OK,
                &list_body(&page, &query, data),
            ));
        }
        let (spec, plans) = parse_new_org(&json_object(req)?)?;
        let org = organizations::create(env, &caller, &spec, &plans)?;
        let mut response = resource(env, &caller, &org, StatusCode::CREATED)?;
        if let Ok(v) = HeaderValue::from_str(&format!("/v2/organizations/{}", org.id)) {
            response.headers_mut().insert(header::LOCATION, v);
        }
        Ok(response)
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `GET`, `PUT`, `DELETE /v2/organizations/{id}`.
pub fn organization(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::GET, Method::PUT, Method::DELETE])?;
        let (caller, _, _) = authenticate(req, env, config)?;
        let id = org_id(req)?;
        match *req.method() {
            Method::GET => {
                let org = organizations::get(env, &caller, id)?;
                resource(env, &caller, &org, StatusCode::OK)
            }
            Method::PUT => {
                let body = json_object(req)?;
                let status = org_status(&body)?;
                // `{"organization": {"status": ...}}` alone changes the
                // status only; anything more is the vendor's full update.
                let only_status = status.is_some()
                    && body
                        .get("organization")
                        .and_then(Value::as_object)
                        .is_some_and(|o| o.len() == 1);
                let change = if only_status {
                    None
                } else {
                    Some(super::current_user::parse_org_change(&body)?)
                };
                // The status first: its stricter checks refuse before any
                // other field is written.
                let mut org = organizations::get(env, &caller, id)?;
                if let Some(status) = status
                    && status != org.status
                {
                    org = organizations::set_status(env, &caller, id, status)?;
                }
                if let Some(change) = change {
                    org = organizations::update(env, &caller, id, &change)?;
                }
                resource(env, &caller, &org, StatusCode::OK)
            }
            _ => {
                organizations::delete(env, &caller, id)?;
                Ok(web::json(StatusCode::OK, &json!({})))
            }
        }
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// What [`move_user`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct MoveQuery {
    /// The user to move
    pub user_id: Uuid,
    /// The organization to move to
    pub organization_id: Uuid,
}

/// `PUT /v2/organizations/move?user_id=&organization_id=`: 200 with the
/// organization the user now belongs to.
pub fn move_user(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::PUT])?;
        let (caller, _, _) = authenticate(req, env, config)?;
        let mut errors = FieldErrors::default();
        let mut param = |name: &str| match query_value(req, name).map(|v| Uuid::parse_str(&v)) {
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => {
                errors.add(name, "is not a valid UUID");
                None
            }
            None => {
                errors.add(name, "is required");
                None
            }
        };
        let (user, target) = (param("user_id"), param("organization_id"));
        errors.into_result()?;
        let (user, target) = (user.unwrap_or_default(), target.unwrap_or_default());
        users::get(env, &caller, user)?;
        organizations::get(env, &caller, target)?;
        users::update(
            env,
            &caller,
            user,
            &UserChange {
                organization_id: Some(target),
                ..Default::default()
            },
        )
        .map_err(|e| match e {
            Error::Invalid(f)
                if f.0.iter().any(|e| {
                    e.field == "user.organization_id" && e.message == users::TARGET_DOES_NOT_EXIST
                }) =>
            {
                Error::NotFound(format!("organization {target} not found"))
            }
            // The query parameter, not the body field the core names.
            Error::Invalid(f) => Error::Invalid(FieldErrors(
                f.0.into_iter()
                    .map(|e| FieldError {
                        field: "organization_id".into(),
                        ..e
                    })
                    .collect(),
            )),
            other => other,
        })?;
        let org = organizations::get(env, &caller, target)?;
        resource(env, &caller, &org, StatusCode::OK)
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// A subscription as a `/v2` resource's `data`. The handlers render it with
/// serde; with the `openapi` feature its schema is the document's.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SubscriptionData<'a> {
    pub id: Uuid,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schemars(with = "SubscriptionsType"))]
    pub kind: &'static str,
    pub attributes: SubscriptionAttributes<'a>,
    pub relationships: super::Relationships,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SubscriptionAttributes<'a> {
    pub id: Uuid,
    pub plan: &'a str,
    pub price: Option<&'a str>,
    pub status: SubscriptionStatus,
    pub interval: Interval,
    /// The client's dates (or the start and the interval) may lie past
    /// what RFC 3339 writes, so no date-time format.
    pub start_date: String,
    pub end_date: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub updated_at: String,
    pub trial_enabled: bool,
    pub trial_duration_days: Option<u32>,
    pub auto_renewal: bool,
    pub cancellation_reason: Option<&'a str>,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<serde_json::Map<String, Value>>")
    )]
    pub features: Option<&'a Value>,
    pub product: Product<'a>,
    /// The child organization, in dependent subscriptions.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub organization: Option<super::OrgRef<'a>>,
}

/// The plan's product, named as the tenant's catalog names it.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Product<'a> {
    pub code: &'a str,
    pub name: Option<&'a str>,
    pub description: Option<String>,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(SubscriptionsType, ["subscriptions"]);

fn subscription_data<'a>(
    s: &'a Subscription,
    settings: &'a crate::base::model::Settings,
) -> SubscriptionData<'a> {
    let plan = settings.plan(&s.plan);
    SubscriptionData {
        id: s.id,
        kind: "subscriptions",
        attributes: SubscriptionAttributes {
            id: s.id,
            plan: &s.plan,
            price: s.price.as_deref(),
            status: s.status,
            interval: s.interval,
            start_date: time::format_millis(s.start_date),
            end_date: s.end_date.map(time::format_millis),
            created_at: time::format_millis(s.created_at),
            updated_at: time::format_millis(s.updated_at.unwrap_or(s.created_at)),
            trial_enabled: s.trial_enabled,
            trial_duration_days: s.trial_duration_days,
            auto_renewal: s.auto_renewal,
            cancellation_reason: s.cancellation_reason.as_deref(),
            features: s.features.as_ref(),
            product: Product {
                code: &s.product,
                name: plan.map(|p| p.name.as_str()),
                description: plan.map(|p| format!("{} product", p.name)),
            },
            organization: None,
        },
        relationships: super::Relationships {},
    }
}

/// `POST /v2/organizations/{id}/subscribe` `{"plan", "features"?, "interval"?,
/// "start_date"?, "end_date"?}`: 201 with the subscription; 422 when the
/// product already has an active one.
pub fn subscribe(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::POST])?;
        let (caller, _, _) = authenticate(req, env, config)?;
        let id = org_id(req)?;
        let body = json_object(req)?;
        let mut errors = FieldErrors::default();
        let mut f = Fields {
            obj: &body,
            prefix: String::new(),
            errors: &mut errors,
        };
        let request = parse_plan(&mut f);
        let features = match body.get("features") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(_) => {
                errors.add("features", "must be an object");
                None
            }
        };
        errors.into_result()?;
        let created = subscriptions::subscribe(env, &caller, id, &request, features)?;
        let settings = crate::idm::provision::load_settings(env.kv, &caller.tenant)?;
        Ok(web::serialized(
            StatusCode::CREATED,
            &super::Data {
                data: subscription_data(&created, &settings),
            },
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// What [`unsubscribe`] reads.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct UnsubscribeBody {
    /// The plan's code
    #[schemars(length(max = 255), regex(pattern = r"\S"))]
    pub plan: String,
}

/// `POST /v2/organizations/{id}/unsubscribe` `{"plan"}`: cancels the active
/// subscription to that plan; 200 with it, 404 when there is none.
pub fn unsubscribe(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::POST])?;
        let (caller, _, _) = authenticate(req, env, config)?;
        let id = org_id(req)?;
        let body = json_object(req)?;
        let plan = body
            .get("plan")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Error::invalid("plan", "is required"))?;
        let canceled = subscriptions::unsubscribe(env, &caller, id, plan)?;
        let settings = crate::idm::provision::load_settings(env.kv, &caller.tenant)?;
        Ok(web::serialized(
            StatusCode::OK,
            &super::Data {
                data: subscription_data(&canceled, &settings),
            },
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// What [`subscriptions`] reads ([`super::query_flag`]: exactly true or
/// false; anything else is 422).
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct SubscriptionsQuery {
    /// Only active subscriptions
    #[schemars(extend("default" = false))]
    pub active: Option<bool>,
}

/// `GET /v2/organizations/{id}/subscriptions[?active=true]`.
pub fn subscriptions(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::GET])?;
        let (caller, _, _) = authenticate(req, env, config)?;
        let org = organizations::get(env, &caller, org_id(req)?)?;
        let active = super::query_flag(req, "active")?;
        let settings = crate::idm::provision::load_settings(env.kv, &caller.tenant)?;
        let data: Vec<_> = org
            .subscriptions
            .iter()
            .filter(|s| !active || s.status == SubscriptionStatus::Active)
            .map(|s| subscription_data(s, &settings))
            .collect();
        Ok(web::serialized(StatusCode::OK, &super::Data { data }))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `GET /v2/organizations/{id}/dependent_subscriptions`: the subscriptions
/// of its child organizations, each naming its organization.
pub fn dependent_subscriptions(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::GET])?;
        let (caller, _, _) = authenticate(req, env, config)?;
        let found = subscriptions::dependent(env, &caller, org_id(req)?)?;
        let settings = crate::idm::provision::load_settings(env.kv, &caller.tenant)?;
        let data: Vec<_> = found
            .iter()
            .map(|(org, s)| {
                let mut d = subscription_data(s, &settings);
                d.attributes.organization = Some(super::OrgRef {
                    id: org.id,
                    name: &org.name,
                });
                d
            })
            .collect();
        Ok(web::serialized(StatusCode::OK, &super::Data { data }))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

pub(super) fn parse_subscription_change(
    body: &Map<String, Value>,
) -> Result<SubscriptionChange, Error> {
    let mut errors = FieldErrors::default();
    let empty = Map::new();
    let s = match body.get("subscription") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(o)) => o,
        Some(_) => {
            errors.add("subscription", "must be an object");
            &empty
        }
    };
    let mut change = SubscriptionChange::default();
    let path = |n: &str| format!("subscription.{n}");
    for (key, value) in s {
        match (key.as_str(), value) {
            ("status", Value::String(v)) => match v.as_str() {
                "active" => change.status = Some(SubscriptionStatus::Active),
                "inactive" => change.status = Some(SubscriptionStatus::Inactive),
                "canceled" => change.status = Some(SubscriptionStatus::Canceled),
                _ => errors.add(path(key), "must be one of active, inactive, canceled"),
            },
            ("end_date", Value::Null) => change.end_date = Some(None),
            ("end_date", Value::String(v)) => match time::parse_iso8601(v) {
                Some(t) => change.end_date = Some(Some(t)),
                None => errors.add(path(key), "is not an ISO-8601 date"),
            },
            ("price", Value::Number(n)) if n.as_f64().is_some_and(|p| p >= 0.0) => {
                change.price = Some(n.to_string())
            }
            ("price", Value::String(v)) if v.parse::<f64>().is_ok_and(|p| p >= 0.0) => {
                change.price = Some(v.clone())
            }
            ("trial_enabled", Value::Bool(b)) => change.trial_enabled = Some(*b),
            ("auto_renewal", Value::Bool(b)) => change.auto_renewal = Some(*b),
            ("trial_duration_days", Value::Number(n)) if n.as_u64().is_some_and(|d| d <= 3650) => {
                change.trial_duration_days = n.as_u64().map(|d| d as u32)
            }
            ("cancellation_reason", Value::Null) => change.cancellation_reason = Some(None),
            ("cancellation_reason", Value::String(v)) if v.chars().count() <= 255 => {
                change.cancellation_reason = Some(Some(v.clone()))
            }
            ("billing_interval", Value::String(v)) => match Interval::parse(v) {
                Some(i) => change.billing_interval = Some(i),
                None => errors.add(path(key), "must be one of none, monthly, yearly"),
            },
            ("features", Value::Object(_)) => change.features = Some(value.clone()),
            (
                "status"
                | "end_date"
                | "price"
                | "trial_enabled"
                | "auto_renewal"
                | "trial_duration_days"
                | "cancellation_reason"
                | "billing_interval"
                | "features",
                _,
            ) => errors.add(path(key), "has the wrong type or is out of range"),
            _ => {}
        }
    }
    errors.into_result()?;
    Ok(change)
}

/// `GET`, `PUT /v2/organizations/{id}/subscriptions/{sub_id}`: one
/// subscription; PUT answers 200 `{}` as documented.
pub fn subscription(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::GET, Method::PUT])?;
        let (caller, _, _) = authenticate(req, env, config)?;
        let org = org_id(req)?;
        let raw = web::path_param(req, "sub_id").unwrap_or_default();
        let sub = Uuid::parse_str(raw)
            .map_err(|_| Error::NotFound(format!("subscription {raw} not found")))?;
        if req.method() == Method::GET {
            let found = subscriptions::get(env, &caller, org, sub)?;
            let settings = crate::idm::provision::load_settings(env.kv, &caller.tenant)?;
            return Ok(web::serialized(
                StatusCode::OK,
                &super::Data {
                    data: subscription_data(&found, &settings),
                },
            ));
        }
        let change = parse_subscription_change(&json_object(req)?)?;
        subscriptions::update(env, &caller, org, sub, &change)?;
        Ok(web::json(StatusCode::OK, &json!({})))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// Where a CSV export stands between chunks.
pub struct Export {
    caller: Caller,
    next: i64,
    len: i64,
    header_sent: bool,
    seen: std::collections::HashSet<Uuid>,
}

/// Columns of the organizations export, in order.
const CSV_COLUMNS: [&str; 9] = [
    "id",
    "name",
    "company_name",
    "description",
    "kind",
    "parent_id",
    "status",
    "created_at",
    "updated_at",
];

/// One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF,
/// with quotes doubled.
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

fn csv_row(o: &Organization) -> String {
    let kind = match o.kind {
        crate::base::model::OrgKind::Platform => "platform",
        crate::base::model::OrgKind::Reseller => "reseller",
        crate::base::model::OrgKind::Customer => "customer",
    };
    let fields = [
        o.id.to_string(),
        o.name.clone(),
        o.company_name.clone().unwrap_or_default(),
        o.description.clone().unwrap_or_default(),
        kind.to_string(),
        o.parent.map(|p| p.to_string()).unwrap_or_default(),
        o.status.as_str().to_string(),
        time::format_millis(o.created_at),
        time::format_millis(o.updated_at),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// `GET /v2/organizations/export`: checks the caller and sets up the export;
/// the rows follow chunk by chunk from [`export_organizations`].
pub fn start_export(
    req: &Request,
    env: &mut Env,
    config: &Config,
) -> Result<Export, Box<Response>> {
    let start = (|| {
        allow(req, &[Method::GET])?;
        let (caller, _, _) = authenticate(req, env, config)?;
        let (list, _) = crate::idm::reach::orgs_of(&caller);
        let len = storage::index_len(env.kv, &caller.tenant, &list)?;
        Ok(Export {
            caller,
            next: 1,
            len,
            header_sent: false,
            seen: Default::default(),
        })
    })();
    start.map_err(|e| Box::new(render_error(&e)))
}

/// The next chunk of the CSV (the header, then up to 100 organizations),
/// or `None` at the end. Only one chunk is held at a time.
pub fn export_organizations(export: &mut Export, env: &mut Env) -> Option<Vec<u8>> {
    if !export.header_sent {
        export.header_sent = true;
        return Some(format!("{}\r\n", CSV_COLUMNS.join(",")).into_bytes());
    }
    while export.next <= export.len {
        let (list, _) = crate::idm::reach::orgs_of(&export.caller);
        let ids: Vec<Uuid> =
            storage::index_range(env.kv, &export.caller.tenant, &list, export.next, 100)
                .ok()?
                .into_iter()
                .map(|(_, id)| id)
                .filter(|id| export.seen.insert(*id))
                .collect();
        export.next += 100;
        let orgs = organizations::visible(env, &export.caller, &ids).ok()?;
        if !orgs.is_empty() {
            return Some(orgs.iter().map(csv_row).collect::<String>().into_bytes());
        }
    }
    None
}
