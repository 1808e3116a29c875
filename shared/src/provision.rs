//! Creating a customer (organization, first user, plans) in one idempotent
//! operation, for every family. Field names in errors are the Clone family's
//! (`user.email`, `plans[0].start_date`); other families rename as they need.
//!
//! Order of work, so that no reader sees half a customer and a retry resumes:
//! settings and business rules → idempotency record → organization lookups
//! (404) → email claim (422 if taken) → password hash → organization and user
//! records (ids derived from the operation id) → index positions recorded in the
//! operation → index entries → claim commit → counts → audit → operation done.

use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{Error, FieldErrors, Result};
use crate::model::{
    Interval, Lifecycle, OrgKind, Organization, Profile, Role, Settings, Subscription,
    SubscriptionStatus, User,
};
use crate::password::{self, HashParams};
use crate::storage::{
    self, AuditEvent, ClaimOutcome, Env, Operation, claim, commit_claim, derived_uuid, keys,
    release_claim,
};
use crate::time::{Millis, add_months};
use crate::{reach, validate};

/// The operation-record slot of a create's audit sequence number.
const AUDIT: &str = "audit";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrg {
    pub name: String,
    pub description: Option<String>,
    pub company_name: Option<String>,
    pub skip_default_subscription: bool,
    pub parent: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub profile: Profile,
    pub confirmed: bool,
    pub password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    pub plan: String,
    pub partner: bool,
    pub interval: Interval,
    pub start: Option<Millis>,
    pub end: Option<Millis>,
}

/// A validated create request. When both an existing organization and a new
/// one are given, the existing one wins: the user joins it and the new
/// organization is validated (and its parent looked up) but not created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    pub organization_id: Option<Uuid>,
    pub organization: Option<NewOrg>,
    pub user: NewUser,
    pub plans: Vec<PlanRequest>,
}

/// Identifies one create across retries.
#[derive(Debug, Clone)]
pub struct OpId {
    pub id: String,
    /// Hash of the request; a reused Idempotency-Key with another request is refused.
    pub fingerprint: String,
}

impl OpId {
    /// From a client's Idempotency-Key, scoped to tenant and actor.
    pub fn keyed(caller: &Caller, key: &str, fingerprint: String) -> Self {
        let scoped = format!("{}/{}/{}", caller.tenant, caller.actor.id, key);
        Self {
            id: format!("k{}", &storage::sha256_hex(scoped.as_bytes())[..32]),
            fingerprint,
        }
    }
    /// A one-off operation (no Idempotency-Key).
    pub fn fresh(env: &mut Env, fingerprint: String) -> Self {
        Self {
            id: format!("r{}", env.new_uuid().simple()),
            fingerprint,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub user: User,
    pub organization: Organization,
    /// True when an earlier attempt with the same key had already completed.
    pub replayed: bool,
}

pub fn load_settings(kv: &dyn crate::kv::Kv, tenant: &str) -> Result<Settings> {
    Ok(storage::read::<Settings>(kv, &keys::settings(tenant))?
        .map(|r| r.data)
        .unwrap_or_default())
}

/// Business rules that need the tenant's settings but no other lookup.
fn check_rules(input: &NewCustomer, settings: &Settings) -> Result<()> {
    let mut errors = FieldErrors::default();
    let skip = input
        .organization
        .as_ref()
        .is_some_and(|o| o.skip_default_subscription);
    if skip && input.organization_id.is_none() && input.plans.is_empty() {
        errors.add(
            "plans",
            "is required when skip_default_subscription is true",
        );
    }
    for (i, p) in input.plans.iter().enumerate() {
        if settings.plan(&p.plan).is_none() {
            errors.add(format!("plans[{i}].plan"), "is not a known plan");
        }
    }
    if let Some(pw) = &input.user.password {
        for problem in password::check(pw, &settings.password) {
            errors.add("user.password", problem);
        }
    }
    errors.into_result()
}

/// Subscriptions for `plans`, skipping products that already have an active
/// subscription (one per product; the first listed wins).
pub(crate) fn subscribe(
    org: &mut Organization,
    plans: &[PlanRequest],
    settings: &Settings,
    op: &str,
    now: Millis,
) {
    for (i, request) in plans.iter().enumerate() {
        let Some(plan) = settings.plan(&request.plan) else {
            continue;
        };
        if org.active_for(&plan.product).is_some() {
            continue;
        }
        let start = request.start.unwrap_or(now);
        let end = request.end.or(match request.interval {
            Interval::Monthly => Some(add_months(start, 1)),
            Interval::Yearly => Some(add_months(start, 12)),
            Interval::None => None,
        });
        org.subscriptions.push(Subscription {
            id: derived_uuid(op, &format!("subscription/{i}")),
            plan: plan.code.clone(),
            product: plan.product.clone(),
            status: SubscriptionStatus::Active,
            interval: request.interval,
            partner: request.partner,
            start_date: start,
            end_date: end,
            created_at: now,
            updated_at: None,
            price: None,
            trial_enabled: false,
            trial_duration_days: None,
            auto_renewal: false,
            cancellation_reason: None,
            features: None,
        });
    }
}

/// Reads an organization the caller reaches, or 404 naming `field`.
fn reachable_org(env: &Env, caller: &Caller, id: Uuid, field: &str) -> Result<Organization> {
    storage::read::<Organization>(env.kv, &keys::org(&caller.tenant, id))?
        .map(|r| r.data)
        .filter(|o| caller.reaches(o) && o.status != Lifecycle::Deleted)
        .ok_or_else(|| Error::NotFound(format!("{field} {id} not found")))
}

/// Starts (or resumes) the operation record, saying whether it existed. Its
/// start time is every record's timestamp, so a retry writes the same bytes.
fn begin(env: &Env, tenant: &str, op: &OpId) -> Result<(Operation, bool)> {
    let key = keys::op(tenant, &op.id);
    if let Some(existing) = storage::read::<Operation>(env.kv, &key)? {
        if existing.data.fingerprint != op.fingerprint {
            return Err(Error::invalid(
                "Idempotency-Key",
                "was already used for a different request",
            ));
        }
        return Ok((existing.data, true));
    }
    let started = Operation {
        fingerprint: op.fingerprint.clone(),
        started: env.now,
        done: false,
        positions: Vec::new(),
    };
    storage::write(env.kv, &key, &op.id, &started)?;
    Ok((started, false))
}

/// Creates the customer. See the module notes for the order of work.
pub fn create_customer(
    env: &mut Env,
    caller: &Caller,
    input: &NewCustomer,
    op: &OpId,
    hash_params: HashParams,
    correlation_id: Option<String>,
) -> Result<Created> {
    if caller.role > Role::ResellerAdmin {
        return Err(Error::Forbidden(
            "creating customers needs a reseller or operator".into(),
        ));
    }
    let tenant = caller.tenant.as_str();
    let settings = load_settings(env.kv, tenant)?;
    check_rules(input, &settings)?;
    let (operation, resuming) = begin(env, tenant, op)?;

    let existing = match input.organization_id {
        Some(id) => Some(reachable_org(env, caller, id, "organization_id")?),
        None => None,
    };
    let parent = match input.organization.as_ref().and_then(|o| o.parent) {
        Some(id) => Some(reachable_org(env, caller, id, "parent_organization")?),
        None => None,
    };

    let email_key = keys::email(tenant, &validate::normalize_email(&input.user.email));
    let held = match claim(env, &email_key, &op.id, resuming)? {
        ClaimOutcome::Taken => return Err(Error::invalid("user.email", "has already been taken")),
        ClaimOutcome::Unsettled => {
            return Err(Error::Unavailable(
                "this email is being claimed by an unfinished request; retry later".into(),
            ));
        }
        ClaimOutcome::Committed(c) => {
            let created = replay(env, tenant, c.target)?;
            if !operation.done {
                // The earlier attempt committed but stopped before its audit.
                finish(env, caller, op, &created)?;
            }
            return Ok(created);
        }
        ClaimOutcome::Held(c) => c,
    };

    let result = write_customer(
        env,
        caller,
        input,
        op,
        &operation,
        &settings,
        existing,
        parent,
        hash_params,
        correlation_id,
    )
    .and_then(|created| {
        commit_claim(env, &email_key, &held, created.user.id)?;
        finish(env, caller, op, &created)?;
        Ok(created)
    });
    if result.is_err() {
        // Best effort: if the store is failing this may fail too, and the
        // claim then frees itself after the window (or the keyed retry resumes).
        let _ = release_claim(env, &email_key, &held);
    }
    result
}

fn replay(env: &Env, tenant: &str, user: Option<Uuid>) -> Result<Created> {
    let user = user.ok_or_else(|| Error::Unavailable("claim without target".into()))?;
    let user = storage::read::<User>(env.kv, &keys::user(tenant, user))?
        .ok_or_else(|| Error::Unavailable("claimed user is missing".into()))?
        .data;
    let organization =
        storage::read::<Organization>(env.kv, &keys::org(tenant, user.organization_id))?
            .ok_or_else(|| Error::Unavailable("user's organization is missing".into()))?
            .data;
    Ok(Created {
        user,
        organization,
        replayed: true,
    })
}

#[allow(clippy::too_many_arguments)]
fn write_customer(
    env: &mut Env,
    caller: &Caller,
    input: &NewCustomer,
    op: &OpId,
    operation: &Operation,
    settings: &Settings,
    existing: Option<Organization>,
    parent: Option<Organization>,
    hash_params: HashParams,
    correlation_id: Option<String>,
) -> Result<Created> {
    let tenant = caller.tenant.as_str();
    let now = operation.started;
    let password_hash = input
        .user
        .password
        .as_deref()
        .map(|pw| password::hash(pw, hash_params, (env.random)()));

    let (organization, new_org) = match existing {
        Some(org) => {
            let org = if input.plans.is_empty() {
                org
            } else {
                storage::update::<Organization, _>(env, &keys::org(tenant, org.id), &op.id, |o| {
                    subscribe(o, &input.plans, settings, &op.id, now);
                    o.updated_at = now;
                    Ok(())
                })?
                .data
            };
            (org, false)
        }
        None => {
            let spec = input
                .organization
                .as_ref()
                .ok_or_else(|| Error::invalid("organization", "is required"))?;
            let mut org = Organization {
                id: derived_uuid(&op.id, "organization"),
                kind: OrgKind::Customer,
                name: spec.name.clone(),
                description: spec.description.clone(),
                company_name: spec.company_name.clone(),
                parent: parent.as_ref().map(|p| p.id),
                ancestors: parent
                    .as_ref()
                    .map(|p| p.ancestors.iter().copied().chain([p.id]).collect())
                    .unwrap_or_default(),
                status: Lifecycle::Active,
                subscriptions: Vec::new(),
                code: None,
                number: None,
                details: Default::default(),
                created_at: now,
                updated_at: now,
            };
            let mut plans = Vec::new();
            if !spec.skip_default_subscription
                && let Some(default) = &settings.default_plan
            {
                plans.push(PlanRequest {
                    plan: default.clone(),
                    partner: false,
                    interval: Interval::None,
                    start: None,
                    end: None,
                });
            }
            plans.extend(input.plans.iter().cloned());
            subscribe(&mut org, &plans, settings, &op.id, now);
            storage::write(env.kv, &keys::org(tenant, org.id), &op.id, &org)?;
            (org, true)
        }
    };

    let user = User {
        id: derived_uuid(&op.id, "user"),
        number: None,
        account_code: None,
        email: input.user.email.clone(),
        organization_id: organization.id,
        role: if new_org {
            Role::CustomerAdmin
        } else {
            Role::User
        },
        groups: Vec::new(),
        profile: input.user.profile.clone(),
        confirmed: input.user.confirmed,
        status: Lifecycle::Active,
        password_hash,
        access_token: None,
        sign_in_count: 0,
        last_sign_in_at: None,
        last_sign_in_ip: None,
        created_at: now,
        updated_at: now,
    };
    storage::write(env.kv, &keys::user(tenant, user.id), &op.id, &user)?;

    // Index lists this create appears in; positions are kept in the operation
    // record so a retry reuses them instead of appending twice.
    let mut lists: Vec<(String, Uuid)> = reach::user_lists(&organization)
        .into_iter()
        .map(|l| (l, user.id))
        .collect();
    if new_org {
        lists.extend(
            reach::org_lists(&organization)
                .into_iter()
                .map(|l| (l, organization.id)),
        );
    }
    let mut positions = operation.positions.clone();
    let mut allocated = false;
    for (list, _) in &lists {
        if !positions.iter().any(|(l, _)| l == list) {
            positions.push((list.clone(), storage::index_position(env, tenant, list)?));
            allocated = true;
        }
    }
    if !positions.iter().any(|(l, _)| l == AUDIT) {
        positions.push((AUDIT.to_string(), storage::audit_position(env, tenant)?));
        allocated = true;
    }
    if allocated {
        let record = Operation {
            positions: positions.clone(),
            ..operation.clone()
        };
        storage::write(env.kv, &keys::op(tenant, &op.id), &op.id, &record)?;
    }
    let position = |name: &str| {
        positions
            .iter()
            .find(|(l, _)| l == name)
            .map(|(_, p)| *p)
            .unwrap_or_default()
    };
    // The audit event goes first: once the index entries and the claim commit
    // land the customer is visible, and a visible customer always has its event.
    storage::write_audit(
        env,
        &op.id,
        &AuditEvent {
            seq: position(AUDIT),
            at: now,
            tenant: tenant.to_string(),
            actor: caller.actor.clone(),
            action: "customer.create".into(),
            targets: vec![
                format!("organization:{}", organization.id),
                format!("user:{}", user.id),
            ],
            outcome: "success".into(),
            correlation_id: correlation_id.clone(),
        },
    )?;
    for (list, id) in &lists {
        storage::index_put(env, tenant, list, position(list), *id)?;
    }
    Ok(Created {
        user,
        organization,
        replayed: false,
    })
}

/// Counts, and the operation marked done.
fn finish(env: &Env, caller: &Caller, op: &OpId, created: &Created) -> Result<()> {
    let tenant = caller.tenant.as_str();
    // The create made the organization exactly when the user is its first admin.
    let new_org = created.user.role == Role::CustomerAdmin;
    reach::bump(env, tenant, &reach::user_counts(&created.organization), 1)?;
    if new_org {
        reach::bump(env, tenant, &reach::org_counts(&created.organization), 1)?;
    }
    let key = keys::op(tenant, &op.id);
    storage::update::<Operation, _>(env, &key, &format!("{}/done", op.id), |o| {
        o.done = true;
        Ok(())
    })?;
    Ok(())
}

/// Creates an organization directly (operator tooling and tests), outside any
/// family's create call.
pub fn create_organization(
    env: &mut Env,
    tenant: &str,
    id: Uuid,
    name: &str,
    kind: OrgKind,
    parent: Option<&Organization>,
) -> Result<Organization> {
    let org = Organization {
        id,
        kind,
        name: name.to_string(),
        description: None,
        company_name: None,
        parent: parent.map(|p| p.id),
        ancestors: parent
            .map(|p| p.ancestors.iter().copied().chain([p.id]).collect())
            .unwrap_or_default(),
        status: Lifecycle::Active,
        subscriptions: Vec::new(),
        code: None,
        number: None,
        details: Default::default(),
        created_at: env.now,
        updated_at: env.now,
    };
    let op = format!("org-create/{id}");
    storage::write(env.kv, &keys::org(tenant, id), &op, &org)?;
    reach::append(env, tenant, &reach::org_lists(&org), id)?;
    reach::bump(env, tenant, &reach::org_counts(&org), 1)?;
    Ok(org)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemKv;

    fn input(email: &str) -> NewCustomer {
        NewCustomer {
            organization_id: None,
            organization: Some(NewOrg {
                name: "Acme".into(),
                description: None,
                company_name: None,
                skip_default_subscription: false,
                parent: None,
            }),
            user: NewUser {
                email: email.into(),
                profile: Profile::default(),
                confirmed: false,
                password: None,
            },
            plans: Vec::new(),
        }
    }

    #[test]
    fn keyed_create_replays_and_refuses_another_body() {
        let kv = MemKv::new();
        let mut random = {
            let mut n = 0u8;
            move || {
                n = n.wrapping_add(1);
                [n; 16]
            }
        };
        let mut env = Env {
            kv: &kv,
            now: 1_000,
            random: &mut random,
            pause: &|_| {},
        };
        let caller = Caller::operator_of(
            "default",
            storage::Actor {
                kind: "test".into(),
                id: "t".into(),
            },
        );
        let op = OpId::keyed(&caller, "key", "fp".into());
        let params = HashParams::default();
        let first =
            create_customer(&mut env, &caller, &input("a@x.io"), &op, params, None).unwrap();
        let again =
            create_customer(&mut env, &caller, &input("a@x.io"), &op, params, None).unwrap();
        assert!(!first.replayed && again.replayed);
        assert_eq!(first.user.id, again.user.id);
        let other = OpId::keyed(&caller, "key", "another".into());
        let err = create_customer(&mut env, &caller, &input("b@x.io"), &other, params, None);
        assert!(matches!(err, Err(Error::Invalid(e)) if e.fields() == ["Idempotency-Key"]));
        let fresh = OpId::fresh(&mut env, "x".into());
        let taken = create_customer(&mut env, &caller, &input("A@X.IO"), &fresh, params, None);
        assert!(matches!(taken, Err(Error::Invalid(e)) if e.fields() == ["user.email"]));
        assert_eq!(storage::read_count(&kv, "default", "users").unwrap(), 1);
    }
}
