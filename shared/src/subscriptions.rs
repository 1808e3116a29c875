//! An organization's subscriptions to plans: one active subscription per
//! product, changed by compare-and-swap on the organization record so two
//! concurrent subscriptions to one product cannot both become active.

use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::model::{Interval, Organization, Role, Subscription, SubscriptionStatus};
use crate::organizations;
use crate::provision::{self, PlanRequest};
use crate::storage::{self, Env, keys};
use crate::time::Millis;

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
    caller.require(Role::ResellerAdmin)?;
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
    storage::audit_action(
        env,
        &op,
        &caller.tenant,
        &caller.actor,
        "subscription.create",
        vec![
            format!("organization:{org}"),
            format!("subscription:{}", created.id),
        ],
    )?;
    Ok(created)
}

/// A change of one subscription (`None` leaves a field).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscriptionChange {
    pub status: Option<SubscriptionStatus>,
    pub end_date: Option<Option<Millis>>,
    pub price: Option<String>,
    pub trial_enabled: Option<bool>,
    pub trial_duration_days: Option<u32>,
    pub auto_renewal: Option<bool>,
    pub cancellation_reason: Option<Option<String>>,
    pub billing_interval: Option<Interval>,
    pub features: Option<serde_json::Value>,
}

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
    caller.require(Role::ResellerAdmin)?;
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
    storage::audit_action(
        env,
        &op,
        &caller.tenant,
        &caller.actor,
        "subscription.update",
        vec![format!("organization:{org}"), format!("subscription:{id}")],
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
