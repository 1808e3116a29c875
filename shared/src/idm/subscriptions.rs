//! An organization's subscriptions to plans: one active subscription per
//! product, changed by compare-and-swap on the organization record so two
//! concurrent subscriptions to one product cannot both become active.

use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::model::{Interval, Organization, Role, Subscription, SubscriptionStatus};
use crate::base::time::Millis;
use crate::be::storage::{self, Env, keys};
use crate::credential::auth::Caller;
use crate::idm::organizations;
use crate::idm::provision::{self, PlanRequest};

/// Past (inactive or canceled) subscriptions kept in the organization record;
/// older ones move to the history archive, so the record stays far below the
/// hosted stores' value limits (DynamoDB: 400 KB) whatever its history.
pub const KEPT_PAST: usize = 20;
/// Largest `features` object accepted: serialized bytes and nesting depth.
pub const FEATURES_MAX_BYTES: usize = 4096;
pub const FEATURES_MAX_DEPTH: usize = 5;

/// Only the level above an organization manages its plans: an administrator
/// may not subscribe or reprice its own organization.
fn manages(caller: &Caller, org: Uuid) -> Result<()> {
    caller.require(Role::ResellerAdmin)?;
    if caller.org == Some(org) {
        return Err(Error::Forbidden(
            "an organization's plans are managed by the level above it".into(),
        ));
    }
    Ok(())
}

/// 422 unless `features` is a small, shallow JSON object.
pub fn check_features(features: &serde_json::Value) -> Result<()> {
    fn depth(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    if !features.is_object() {
        return Err(Error::invalid("features", "must be an object"));
    }
    if features.to_string().len() > FEATURES_MAX_BYTES {
        return Err(Error::invalid(
            "features",
            format!("must be at most {FEATURES_MAX_BYTES} bytes of JSON"),
        ));
    }
    if depth(features) > FEATURES_MAX_DEPTH {
        return Err(Error::invalid(
            "features",
            format!("must nest at most {FEATURES_MAX_DEPTH} levels deep"),
        ));
    }
    Ok(())
}

fn archive_key(tenant: &str, org: Uuid, id: Uuid) -> String {
    format!("t/{tenant}/org/{org}/subscription/{id}")
}

/// Moves the oldest past subscriptions beyond [`KEPT_PAST`] out of the
/// record into the archive (`org/{id}/subscription/{sub}`): the copies are
/// written first, then removed from the record by compare-and-swap only if
/// unchanged, so nothing is lost if either step fails.
pub fn archive_history(env: &Env, tenant: &str, org: &Organization) -> Result<()> {
    let past: Vec<&Subscription> = org
        .subscriptions
        .iter()
        .filter(|s| s.status != SubscriptionStatus::Active)
        .collect();
    if past.len() <= KEPT_PAST {
        return Ok(());
    }
    let moving: Vec<Subscription> = past[..past.len() - KEPT_PAST]
        .iter()
        .map(|s| (*s).clone())
        .collect();
    let op = format!("archive/{}", moving[0].id);
    for sub in &moving {
        storage::write(env.kv, &archive_key(tenant, org.id, sub.id), &op, sub)?;
    }
    storage::update::<Organization, _>(env, &keys::org(tenant, org.id), &op, |o| {
        o.subscriptions.retain(|s| !moving.contains(s));
        Ok(())
    })?;
    Ok(())
}

/// One subscription of an organization the caller reaches: in the record, or
/// in its history archive.
pub fn get(env: &Env, caller: &Caller, org: Uuid, id: Uuid) -> Result<Subscription> {
    let current = organizations::get(env, caller, org)?;
    if let Some(found) = current.subscriptions.into_iter().find(|s| s.id == id) {
        return Ok(found);
    }
    storage::read::<Subscription>(env.kv, &archive_key(&caller.tenant, org, id))?
        .map(|r| r.data)
        .ok_or_else(|| Error::NotFound(format!("subscription {id} not found")))
}

/// Subscribes an organization in reach to a plan (administrators of a
/// reseller or the operator). 422 when the product already has an active
/// subscription. Open plans take `features`.
pub fn subscribe(
    env: &mut Env,
    caller: &Caller,
    org: Uuid,
    request: &PlanRequest,
    features: Option<serde_json::Value>,
) -> Result<Subscription> {
    organizations::get(env, caller, org)?;
    manages(caller, org)?;
    if let Some(f) = &features {
        check_features(f)?;
    }
    let settings = provision::load_settings(env.kv, &caller.tenant)?;
    let plan = settings
        .plan(&request.plan)
        .ok_or_else(|| Error::invalid("plan", "is not a known plan"))?
        .clone();
    if features.is_some() && !plan.open {
        return Err(Error::invalid("features", "only open plans take features"));
    }
    let op = format!("sub{}", env.new_uuid().simple());
    let now = env.now;
    let record =
        storage::update::<Organization, _>(env, &keys::org(&caller.tenant, org), &op, |o| {
            if o.active_for(&plan.product).is_some() {
                return Err(Error::invalid(
                    "plan",
                    format!(
                        "the organization already has an active {} subscription",
                        plan.product
                    ),
                ));
            }
            provision::subscribe(o, std::slice::from_ref(request), &settings, &op, now);
            if let Some(s) = o.subscriptions.last_mut() {
                s.features = features.clone();
            }
            o.updated_at = now;
            Ok(())
        })?;
    let created = record
        .data
        .subscriptions
        .iter()
        .rev()
        .find(|s| s.product == plan.product && s.status == SubscriptionStatus::Active)
        .cloned()
        .ok_or_else(|| Error::Unavailable("subscription not recorded".into()))?;
    archive_history(env, &caller.tenant, &record.data)?;
    caller.audit(
        env,
        &op,
        "subscription.create",
        vec![
            format!("organization:{org}"),
            format!("subscription:{}", created.id),
        ],
        Some(&record.data),
    )?;
    Ok(created)
}

/// A change of one subscription (`None` leaves a field).
// Clone's wire names are these: the derived schema is the `subscription`
// object its reader fills (only `end_date` and `cancellation_reason` may be
// null, to clear them).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SubscriptionChange {
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub status: Option<SubscriptionStatus>,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<Option<crate::base::schema::DateTime>>")
    )]
    pub end_date: Option<Option<Millis>>,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Price>", transform = crate::base::schema::not_null))]
    pub price: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub trial_enabled: Option<bool>,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<i64>", range(min = 0, max = 3650),
        transform = crate::base::schema::not_null))]
    pub trial_duration_days: Option<u32>,
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub auto_renewal: Option<bool>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub cancellation_reason: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub billing_interval: Option<Interval>,
    /// An open plan's features: a JSON object of at most 4,096 bytes,
    /// nesting at most 5 levels
    #[cfg_attr(feature = "openapi", schemars(with = "Option<serde_json::Map<String, serde_json::Value>>",
        transform = crate::base::schema::not_null))]
    pub features: Option<serde_json::Value>,
}

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// A price: a number, or a string of one, not below 0.
    Price,
    serde_json::json!({"anyOf": [{"type": "number", "minimum": 0},
        {"type": "string", "pattern": "^\\+?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"}],
        "description": "Not below 0"})
);

/// Changes a subscription of an organization in reach; activating one
/// while its product has another active subscription is 422.
pub fn update(
    env: &mut Env,
    caller: &Caller,
    org: Uuid,
    id: Uuid,
    change: &SubscriptionChange,
) -> Result<Subscription> {
    let current = organizations::get(env, caller, org)?;
    manages(caller, org)?;
    if let Some(f) = &change.features {
        check_features(f)?;
    }
    if !current.subscriptions.iter().any(|s| s.id == id) {
        return Err(Error::NotFound(format!("subscription {id} not found")));
    }
    let op = format!("sub-update{}", env.new_uuid().simple());
    let now = env.now;
    let record =
        storage::update::<Organization, _>(env, &keys::org(&caller.tenant, org), &op, |o| {
            let product = o
                .subscriptions
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.product.clone())
                .ok_or_else(|| Error::NotFound(format!("subscription {id} not found")))?;
            if change.status == Some(SubscriptionStatus::Active)
                && o.active_for(&product).is_some_and(|a| a.id != id)
            {
                return Err(Error::invalid(
                    "subscription.status",
                    format!("the organization already has an active {product} subscription"),
                ));
            }
            let Some(s) = o.subscriptions.iter_mut().find(|s| s.id == id) else {
                return Err(Error::NotFound(format!("subscription {id} not found")));
            };
            if let Some(v) = change.status {
                s.status = v;
            }
            if let Some(v) = change.end_date {
                s.end_date = v;
            }
            if let Some(v) = &change.price {
                s.price = Some(v.clone());
            }
            if let Some(v) = change.trial_enabled {
                s.trial_enabled = v;
            }
            if let Some(v) = change.trial_duration_days {
                s.trial_duration_days = Some(v);
            }
            if let Some(v) = change.auto_renewal {
                s.auto_renewal = v;
            }
            if let Some(v) = &change.cancellation_reason {
                s.cancellation_reason = v.clone();
            }
            if let Some(v) = change.billing_interval {
                s.interval = v;
            }
            if let Some(v) = &change.features {
                s.features = Some(v.clone());
            }
            s.updated_at = Some(now);
            o.updated_at = now;
            Ok(())
        })?;
    archive_history(env, &caller.tenant, &record.data)?;
    caller.audit(
        env,
        &op,
        "subscription.update",
        vec![format!("organization:{org}"), format!("subscription:{id}")],
        Some(&record.data),
    )?;
    record
        .data
        .subscriptions
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| Error::NotFound(format!("subscription {id} not found")))
}

/// Cancels the organization's active subscription to `plan`; 404 if none.
pub fn unsubscribe(env: &mut Env, caller: &Caller, org: Uuid, plan: &str) -> Result<Subscription> {
    let current = organizations::get(env, caller, org)?;
    let active = current
        .subscriptions
        .iter()
        .find(|s| s.plan == plan && s.status == SubscriptionStatus::Active)
        .ok_or_else(|| Error::NotFound(format!("no active subscription to {plan}")))?;
    update(
        env,
        caller,
        org,
        active.id,
        &SubscriptionChange {
            status: Some(SubscriptionStatus::Canceled),
            ..Default::default()
        },
    )
}

/// The subscriptions of the organization's child organizations, with the
/// child each belongs to (one page of the children index: 100 children).
pub fn dependent(
    env: &Env,
    caller: &Caller,
    org: Uuid,
) -> Result<Vec<(Organization, Subscription)>> {
    organizations::get(env, caller, org)?;
    let children = storage::index_range(
        env.kv,
        &caller.tenant,
        &format!("org/{org}/children"),
        1,
        100,
    )?;
    let ids: Vec<Uuid> = children.into_iter().map(|(_, id)| id).collect();
    Ok(organizations::visible(env, caller, &ids)?
        .into_iter()
        .filter(|c| c.parent == Some(org))
        .flat_map(|c| {
            c.subscriptions
                .clone()
                .into_iter()
                .map(move |s| (c.clone(), s))
        })
        .collect())
}

#[cfg(test)]
#[cfg(feature = "openapi")]
mod tests {
    /// The limits `check_features` applies, which JSON Schema cannot state,
    /// are the ones the documents' descriptions give.
    #[test]
    fn the_features_description_gives_the_checked_limits() {
        use crate::base::schema::body;
        let said = format!(
            "at most {},{:03} bytes, nesting at most {} levels",
            super::FEATURES_MAX_BYTES / 1000,
            super::FEATURES_MAX_BYTES % 1000,
            super::FEATURES_MAX_DEPTH
        );
        for schema in [
            body::<super::SubscriptionChange>(),
            body::<crate::families::clone::bodies::SubscribeBody>(),
        ] {
            let text = schema["properties"]["features"]["description"]
                .as_str()
                .unwrap_or_default()
                .replace('\n', " ");
            assert!(text.contains(&said), "{text}");
        }
    }
}
