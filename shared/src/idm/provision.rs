//! Creating a customer (organization, first user, plans) in one idempotent
//! operation, for every family. Field names in errors are the Clone family's
//! (`user.email`, `plans[0].start_date`); other families rename as they need.
//!
//! Order of work, so that no reader sees half a customer and a retry resumes:
//! settings and business rules → idempotency record → organization lookups
//! (404) → email claim (`Error::taken`) → password hash → organization and user
//! records (ids derived from the operation id) → index positions recorded in the
//! operation → index entries → claim commit → counts → audit → operation done.

use uuid::Uuid;

use crate::base::error::{Error, FieldErrors, Result};
use crate::base::model::{
    Closing, Interval, Lifecycle, OrgKind, Organization, Profile, Role, Settings, Subscription,
    SubscriptionStatus, User,
};
use crate::base::time::{Millis, add_months};
use crate::be::kv::CasOutcome;
use crate::be::storage::{
    self, AuditEvent, ClaimOutcome, Env, Operation, commit_claim, derived_uuid, keys,
};
use crate::credential::auth::Caller;
use crate::credential::password::{self, HashParams};
use crate::idm::reach;

/// The operation-record slot of a create's audit sequence number.
const AUDIT: &str = "audit";
/// The operation-record slot of an enterprise account's sequence number.
const ACCOUNT: &str = "account";
/// The operation-record mark of a caller-chosen user id reserved by the
/// counter that id claims replaced (read only, for runs that took one).
const USER_ID: &str = "user-id";

/// The enterprise account id of sequence number `n` (`API-E001`, growing
/// past 999 as `API-E1000`).
pub fn account_code(prefix: &str, n: i64) -> String {
    format!("{prefix}-E{n:03}")
}

fn account_key(tenant: &str, code: &str) -> String {
    format!("t/{tenant}/account-code/{code}")
}

fn account_org_key(tenant: &str, code: &str) -> String {
    format!("t/{tenant}/account-org/{code}")
}

/// The organization of an enterprise account id (`API-E001`), if any.
pub fn account_organization(env: &Env, tenant: &str, code: &str) -> Result<Option<Uuid>> {
    let valid = !code.is_empty()
        && code.len() <= 40
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Ok(None);
    }
    Ok(env
        .kv
        .get(&account_org_key(tenant, code))?
        .and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok()))
}

/// A new organization.
// Clone's wire names are these (but `parent`): its request types embed
// this one, and the derived schema is theirs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NewOrg {
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 255), regex(pattern = r"\S"))
    )]
    pub name: String,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub company_name: Option<String>,
    /// true needs at least one plan.
    #[cfg_attr(feature = "openapi", schemars(with = "Option<bool>"))]
    pub skip_default_subscription: bool,
    #[cfg_attr(feature = "openapi", schemars(rename = "parent_organization"))]
    pub parent: Option<Uuid>,
    /// Address, contact, billing and tax fields (family-specific names).
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub details: std::collections::BTreeMap<String, String>,
}

// Clone's wire names are these: seed 000's `user` is the fields its reader
// fills (the ones not skipped), so the derived schema is that object's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NewUser {
    /// A caller-chosen id (CloudCockpit `id`); else derived from the operation.
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schemars(email, length(min = 1, max = 255)))]
    pub email: String,
    #[cfg_attr(feature = "openapi", schemars(flatten))]
    pub profile: Profile,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<bool>"))]
    pub confirmed: bool,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Password>")
    )]
    pub password: Option<String>,
    /// Groups the user joins; each must be defined in its organization's chain.
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub groups: Vec<Uuid>,
    /// The role of a user joining an existing organization: `CustomerAdmin`
    /// in a customer organization, else a plain user (the default).
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub role: Option<Role>,
    /// Identity-provider attributes (SCIM).
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub directory: crate::base::model::Directory,
    /// Created disabled (an identity provider's `active: false`).
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub disabled: bool,
}

/// One plan to subscribe to.
// Clone's wire names are these (but the dates'): its request types embed
// this one, and the derived schema is theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PlanRequest {
    /// A plan of the tenant's catalog.
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 255), regex(pattern = r"\S"))
    )]
    pub plan: String,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<bool>"))]
    pub partner: bool,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Interval>"))]
    pub interval: Interval,
    #[cfg_attr(
        feature = "openapi",
        schemars(rename = "start_date", with = "Option<crate::base::schema::DateTime>")
    )]
    pub start: Option<Millis>,
    /// ISO 8601, as start_date; not before start_date.
    #[cfg_attr(
        feature = "openapi",
        schemars(rename = "end_date", with = "Option<crate::base::schema::DateTime>")
    )]
    pub end: Option<Millis>,
}

/// A validated create request. When both an existing organization and a new
/// one are given, the existing one wins: the user joins it and the new
/// organization is validated (and its parent looked up) but not created.
// Seed 000's `customer` is the fields its reader fills (the ones not
// skipped), so the derived schema is that object's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(
    description = "An existing organization (organization_id) or a new one (organization); with both, the user joins the existing one and the new one is only checked.",
    extend("anyOf" = [
        {"required": ["organization_id"], "properties": {"organization_id": {"type": "string"}}},
        {"required": ["organization"], "properties": {"organization": {"type": "object"}}}
    ])))]
pub struct NewCustomer {
    pub organization_id: Option<Uuid>,
    pub organization: Option<NewOrg>,
    #[cfg_attr(feature = "openapi", schemars(description = "The customer's first user.",
        transform = crate::base::schema::password_confirmation))]
    pub user: NewUser,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Vec<PlanRequest>>"))]
    pub plans: Vec<PlanRequest>,
    /// Give the account an enterprise id (`<prefix>-E<seq>`, Apiculus).
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub enterprise: bool,
    /// The family whose password profile applies (default: the tenant's).
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub password_family: Option<String>,
}

/// Identifies one create across retries.
#[derive(Debug, Clone)]
pub struct OpId {
    pub id: String,
    /// Hash of the request; a reused Idempotency-Key with another request is refused.
    pub fingerprint: String,
    /// Whether a client key names it (a retry may come); else its record
    /// goes once the operation is done.
    pub keyed: bool,
}

impl OpId {
    /// From a client's Idempotency-Key, scoped to tenant and actor.
    pub fn keyed(caller: &Caller, key: &str, fingerprint: String) -> Self {
        let scoped = format!("{}/{}/{}", caller.tenant, caller.actor.id, key);
        Self {
            id: format!("k{}", &storage::sha256_hex(scoped.as_bytes())[..32]),
            fingerprint,
            keyed: true,
        }
    }
    /// A one-off operation (no Idempotency-Key).
    pub fn fresh(env: &mut Env, fingerprint: String) -> Self {
        Self {
            id: format!("r{}", env.new_uuid().simple()),
            fingerprint,
            keyed: false,
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

pub fn load_settings(kv: &dyn crate::be::kv::Kv, tenant: &str) -> Result<Settings> {
    Ok(storage::read::<Settings>(kv, &keys::settings(tenant))?
        .map(|r| r.data)
        .unwrap_or_default())
}

/// Replaces the tenant's reference data (operators only); the rest of its
/// settings stay. 422 for lists a family could not validate against.
pub fn set_reference_data(
    env: &mut Env,
    caller: &Caller,
    data: &crate::base::model::ReferenceData,
) -> Result<crate::base::model::ReferenceData> {
    caller.require(Role::Operator)?;
    if caller.org.is_some() {
        return Err(Error::Forbidden(
            "only the tenant's operators configure it".into(),
        ));
    }
    let mut errors = FieldErrors::default();
    let code = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase());
    if data.currencies.is_empty() || !data.currencies.iter().all(|c| code(c)) {
        errors.add(
            "currencies",
            "must be ISO 4217 codes (three capital letters)",
        );
    }
    if data.tax_categories.is_empty()
        || data
            .tax_categories
            .iter()
            .any(|c| c.value.trim().is_empty())
    {
        errors.add(
            "tax_categories",
            "must name at least one category, each with a value",
        );
    }
    for (i, t) in data.tax_types.iter().enumerate() {
        if t.name.trim().is_empty() || t.validation.min > t.validation.max || t.validation.max > 255
        {
            errors.add(
                format!("tax_types[{i}]"),
                "needs a name and 0 <= min <= max <= 255",
            );
        }
    }
    if !(4..=15).contains(&data.mobile_digits) {
        errors.add("mobile_digits", "must be 4 to 15");
    }
    errors.into_result()?;
    let key = keys::settings(&caller.tenant);
    let op = format!("settings/{}", env.new_uuid().simple());
    if storage::read::<Settings>(env.kv, &key)?.is_none() {
        storage::create(env, &key, &format!("{op}/defaults"), &Settings::default())?;
    }
    let record = storage::update::<Settings, _>(env, &key, &op, |s| {
        s.reference = data.clone();
        Ok(())
    })?;
    caller.audit(
        env,
        &op,
        "settings.reference_data",
        vec![format!("tenant:{}", caller.tenant)],
        None,
    )?;
    Ok(record.data.reference)
}

/// The tenant's password policy applied to a create's password while the
/// family is still collecting field errors, so one answer names every failing
/// field (the policy needs the tenant's settings, which a parser has not read).
/// An empty password is left to the family's own "required".
pub fn password_errors(
    kv: &dyn crate::be::kv::Kv,
    tenant: &str,
    family: Option<&str>,
    password: &str,
    field: &str,
    errors: &mut FieldErrors,
) -> Result<()> {
    if password.is_empty() {
        return Ok(());
    }
    let settings = load_settings(kv, tenant)?;
    let policy = family.map_or(&settings.password, |f| settings.password_policy(f));
    for problem in password::check(password, policy) {
        errors.add(field, problem);
    }
    Ok(())
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
        let policy = match &input.password_family {
            Some(family) => settings.password_policy(family),
            None => &settings.password,
        };
        for problem in password::check(pw, policy) {
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
        let id = derived_uuid(op, &format!("subscription/{i}"));
        // Already applied by an earlier attempt of this operation.
        if org.active_for(&plan.product).is_some() || org.subscriptions.iter().any(|s| s.id == id) {
            continue;
        }
        let start = request.start.unwrap_or(now);
        let end = request.end.or(match request.interval {
            Interval::Monthly => Some(add_months(start, 1)),
            Interval::Yearly => Some(add_months(start, 12)),
            Interval::None => None,
        });
        org.subscriptions.push(Subscription {
            id,
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

/// The operation record of a keyed create, unless it has expired (then the
/// key starts a new run).
fn prior(env: &Env, tenant: &str, op: &OpId) -> Result<Option<Operation>> {
    Ok(
        storage::read::<Operation>(env.kv, &keys::op(tenant, &op.id))?
            .map(|r| r.data)
            .filter(|o| !o.expired(env.now)),
    )
}

/// How long one attempt of an operation holds it; another attempt of the
/// same key meanwhile gets 409. Far longer than a request runs.
pub const LEASE_MS: Millis = 60_000;

/// Starts the operation record, or resumes it, taking its lease for
/// `attempt`: attempts of one key run one at a time (409 otherwise), so a
/// failing attempt can never undo what a concurrent one completed. Its start
/// time is every record's timestamp, so a retry writes the same bytes.
/// Called only once the request is valid and its lookups passed.
fn begin(env: &Env, tenant: &str, op: &OpId, attempt: &str) -> Result<Operation> {
    let key = keys::op(tenant, &op.id);
    let fresh = |run: Option<String>| Operation {
        fingerprint: op.fingerprint.clone(),
        started: env.now,
        done: false,
        positions: Vec::new(),
        run,
        counted: false,
        answer: None,
        lease: Some((attempt.to_string(), env.now + LEASE_MS)),
    };
    let busy = || Error::Conflict("this request is already being processed; retry shortly".into());
    let existing = storage::read::<Operation>(env.kv, &key)?;
    if existing.is_none() {
        // The first attempt of a key writes its record; the slot decides
        // which when several start at once (a swap on an absent key is an
        // upsert, so it cannot).
        if op.keyed && env.kv.increment(&format!("{key}/first"), 1)? != 1 {
            free_abandoned_slot(env, &key, attempt)?;
            return Err(busy());
        }
        if op.keyed {
            env.kv
                .set(&format!("{key}/first-at"), &slot_stamp(env, attempt))?;
        }
        let started = fresh(None);
        storage::write(env.kv, &key, attempt, &started)?;
        return Ok(started);
    }
    let (record, mine) = storage::update_if::<Operation, _>(env, &key, attempt, |o| {
        if o.expired(env.now) {
            // A key reused after expiry derives its records from a new run id.
            *o = fresh(Some(format!("{}-{}", op.id, env.now)));
            return Ok(true);
        }
        if o.fingerprint != op.fingerprint {
            return Err(Error::invalid(
                "Idempotency-Key",
                "was already used for a different request",
            ));
        }
        match &o.lease {
            Some((holder, until)) if holder != attempt && *until > env.now => Err(busy()),
            _ => {
                o.lease = Some((attempt.to_string(), env.now + LEASE_MS));
                Ok(true)
            }
        }
    })?;
    if !mine {
        return Err(busy());
    }
    Ok(record.data)
}

/// Called by an attempt that lost a keyed operation's first-attempt slot.
/// If the winner never wrote the record (it died in between), the slot is
/// freed once its lease would have lapsed, so the key is not locked for
/// ever; the loser still answers 409 and the next attempt starts afresh.
/// The winner stamps the slot's time just after winning: a loser that finds
/// no stamp yet (the winner is between the two steps, or died there) stamps
/// it itself rather than judge the slot abandoned, and of the losers that
/// judge one stamp stale only the one whose swap puts its own stamp there
/// frees the slot. A stamp names its attempt: on Redis a swap that landed
/// reports failure, and the stamp read back tells. Not yet closed: a stamp
/// left from an earlier round (a freer's, or a loser's written while
/// `forget` ran) can, once stale, be swapped by a loser of a new round
/// within its winner's first store call; tying stamps to the slot's round
/// closes it.
fn free_abandoned_slot(env: &Env, key: &str, attempt: &str) -> Result<()> {
    let at_key = format!("{key}/first-at");
    let mine = slot_stamp(env, attempt);
    let Some(stamp) = env.kv.get(&at_key)? else {
        env.kv.set(&at_key, &mine)?;
        return Ok(());
    };
    let since = std::str::from_utf8(&stamp)
        .ok()
        .and_then(|s| s.split(' ').next()?.parse::<Millis>().ok())
        .unwrap_or(Millis::MIN);
    if env.now.saturating_sub(since) < LEASE_MS
        || storage::read::<Operation>(env.kv, key)?.is_some()
    {
        return Ok(());
    }
    let swapped = env.kv.compare_and_swap(&at_key, &mut |current| {
        (current == Some(stamp.as_slice())).then(|| mine.clone())
    })?;
    let won = match swapped {
        CasOutcome::Swapped => true,
        CasOutcome::Skipped => false,
        CasOutcome::Failed => env.kv.get(&at_key)?.as_deref() == Some(mine.as_slice()),
    };
    if won {
        env.kv.delete(&format!("{key}/first"))?;
    }
    Ok(())
}

/// A first-attempt slot's stamp: when, and which attempt wrote it.
fn slot_stamp(env: &Env, attempt: &str) -> Vec<u8> {
    format!("{} {attempt}", env.now).into_bytes()
}

/// Claims a caller-chosen user id for the run: pending while the create
/// runs, committed with its email, given back when the create is refused or
/// fails, so a refused request reserves nothing. A retry of the same run
/// finds its own claim (`Ok(None)` once committed). Another run's claim, a
/// purged user's, a live record under the id (derived ids are not claimed
/// until their user is purged) or a reservation of the counter this claim
/// replaced make the id taken (422 `user.id`; CloudCockpit's 400 on `Id`).
fn claim_user_id(
    env: &Env,
    tenant: &str,
    run: &str,
    operation: &Operation,
    resuming: bool,
    id: Uuid,
) -> Result<Option<(String, storage::Claim)>> {
    let taken = || Error::invalid("user.id", "is already taken");
    let key = keys::user_id(tenant, id);
    let held = match storage::claim_for(env, &key, run, resuming, Some(id), None)? {
        ClaimOutcome::Held(c) => c,
        ClaimOutcome::Committed(_) => return Ok(None),
        ClaimOutcome::Taken => return Err(taken()),
        ClaimOutcome::Unsettled => {
            return Err(Error::Unavailable(
                "this id is being claimed by an unfinished request; retry later".into(),
            ));
        }
    };
    // The counter that reserved ids before claims did: present means taken
    // (only ever incremented from 0; read with `get`, which, unlike
    // `increment(0)`, does not create the key for every id asked about).
    let reserved_before = !operation.positions.iter().any(|(l, _)| l == USER_ID)
        && env.kv.get(&format!("t/{tenant}/user-id/{id}"))?.is_some();
    let someone_elses = storage::read::<User>(env.kv, &keys::user(tenant, id))?
        .is_some_and(|r| !r.ops.iter().any(|o| o.starts_with(run)));
    if reserved_before || someone_elses {
        storage::release_claim(env, &key, &held)?;
        return Err(taken());
    }
    Ok(Some((key, held)))
}

/// Reserves a purged user's id for ever (a committed claim no create can
/// take), before its record goes. A caller-chosen id is reserved already; a
/// claim still pending is a create racing for the id: 503, retry.
pub(crate) fn reserve_purged_id(env: &Env, tenant: &str, id: Uuid, op: &str) -> Result<()> {
    let key = keys::user_id(tenant, id);
    match storage::claim_for(env, &key, op, false, Some(id), None)? {
        ClaimOutcome::Held(c) => commit_claim(env, &key, &c, id),
        ClaimOutcome::Committed(_) => Ok(()),
        ClaimOutcome::Taken | ClaimOutcome::Unsettled => {
            let settled = storage::read::<storage::Claim>(env.kv, &key)?
                .is_some_and(|r| r.data.state == storage::ClaimState::Committed);
            if settled {
                Ok(())
            } else {
                Err(Error::Unavailable(
                    "a create is claiming this id; retry shortly".into(),
                ))
            }
        }
    }
}

/// Gives the operation's lease back (best effort: it lapses anyway).
fn end_attempt(env: &Env, tenant: &str, op: &OpId, attempt: &str) {
    let _ = storage::update_if::<Operation, _>(
        env,
        &keys::op(tenant, &op.id),
        &format!("{attempt}/end"),
        |o| {
            let held = o.lease.as_ref().is_some_and(|(a, _)| a == attempt);
            if held {
                o.lease = None;
            }
            Ok(held)
        },
    );
}

/// Forgets an operation that wrote nothing (its email was taken): the key
/// may be used again at once. The first-attempt slot goes last: while it is
/// held no attempt can win it, so nothing this deletes can be a newer run's
/// (an attempt that read "no record" before this one wrote it would
/// otherwise win the freed slot and lose its record and stamp to this).
/// A crash in between leaves a held slot without a record, freed once a
/// lease has lapsed.
fn forget(env: &Env, tenant: &str, op: &OpId) {
    let key = keys::op(tenant, &op.id);
    if env.kv.delete(&key).is_ok() && env.kv.delete(&format!("{key}/first-at")).is_ok() {
        let _ = env.kv.delete(&format!("{key}/first"));
    }
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
    // A customer's administrator may add users to organizations in its
    // reach (its own); making organizations needs a reseller or operator.
    let joins = input.organization_id.is_some();
    if caller.role > Role::ResellerAdmin && !(joins && caller.role == Role::CustomerAdmin) {
        return Err(Error::Forbidden(
            "creating customers needs a reseller or operator".into(),
        ));
    }
    let tenant = caller.tenant.as_str();
    let prior = prior(env, tenant, op)?;
    if let Some(p) = &prior {
        if p.fingerprint != op.fingerprint {
            return Err(Error::invalid(
                "Idempotency-Key",
                "was already used for a different request",
            ));
        }
        if p.done {
            let created = stored_answer(env, tenant, op, p)?;
            let run = p.run.clone().unwrap_or_else(|| op.id.clone());
            crate::idm::account_tokens::welcome(env, tenant, &created.user, &run)?;
            return Ok(created);
        }
    }
    let settings = load_settings(env.kv, tenant)?;
    check_rules(input, &settings)?;

    let (existing, parent) = placement(env, caller, input)?;
    // Only after the lease: an identical request racing this one gets 409
    // from `begin` (or the stored answer), never a clash with itself.
    let attempt = format!("{}/attempt/{}", op.id, env.new_uuid().simple());
    let operation = begin(env, tenant, op, &attempt)?;
    let resuming = prior.is_some();
    let run = operation.run.clone().unwrap_or_else(|| op.id.clone());
    // A refused request leaves nothing: its id claim goes back, and an
    // operation that wrote nothing is forgotten so the key is free again.
    let refuse = |id_claim: &Option<(String, storage::Claim)>, e: Error| {
        if let Some((key, claim)) = id_claim {
            let _ = storage::release_claim(env, key, claim);
        }
        if operation.positions.is_empty() {
            forget(env, tenant, op);
        } else {
            end_attempt(env, tenant, op, &attempt);
        }
        Err(e)
    };
    let id_claim = match input.user.id {
        Some(id) => match claim_user_id(env, tenant, &run, &operation, resuming, id) {
            Ok(c) => c,
            // Maybe this very operation's interrupted attempt: keep the key.
            Err(e @ Error::Unavailable(_)) => {
                end_attempt(env, tenant, op, &attempt);
                return Err(e);
            }
            Err(e) => return refuse(&None, e),
        },
        None => None,
    };
    let user_id = input.user.id.unwrap_or_else(|| derived_uuid(&run, "user"));
    let claimed =
        crate::idm::users::claim_email(env, tenant, &input.user.email, &run, resuming, user_id);
    let (email_key, outcome) = match claimed {
        Ok(c) => c,
        Err(e) => return refuse(&id_claim, e),
    };
    let held = match outcome {
        ClaimOutcome::Taken => {
            return refuse(&id_claim, Error::taken("user.email"));
        }
        ClaimOutcome::Unsettled => {
            if let Some((key, claim)) = &id_claim {
                let _ = storage::release_claim(env, key, claim);
            }
            end_attempt(env, tenant, op, &attempt);
            return Err(Error::Unavailable(
                "this email is being claimed by an unfinished request; retry later".into(),
            ));
        }
        ClaimOutcome::Committed(_) => {
            // The earlier attempt committed (the record may have moved on or
            // been purged since): answer what it stored, never write again.
            let operation = storage::read::<Operation>(env.kv, &keys::op(tenant, &op.id))?
                .map(|r| r.data)
                .unwrap_or(operation);
            let created = stored_answer(env, tenant, op, &operation)?;
            finish(env, caller, op, &created, input.organization_id.is_none())?;
            crate::idm::account_tokens::welcome(env, tenant, &created.user, &run)?;
            return Ok(created);
        }
        ClaimOutcome::Held(c) => c,
    };

    let result = write_customer(
        env,
        &Run {
            caller,
            input,
            op,
            run: &run,
            operation: &operation,
            settings: &settings,
            hash_params,
            correlation_id,
        },
        existing,
        parent,
    )
    .and_then(|created| {
        commit_created(
            env, caller, input, op, &run, created, &id_claim, &email_key, &held,
        )
    });
    if result.is_err() {
        undo_create(
            env, tenant, input, &run, op, user_id, &id_claim, &email_key, &held,
        );
        end_attempt(env, tenant, op, &attempt);
    }
    // The user is committed: if its message cannot be queued the answer is
    // a 503, and the retry (same key) replays the create and queues it.
    if let Ok(created) = &result {
        crate::idm::account_tokens::welcome(env, tenant, &created.user, &run)?;
    }
    result
}

/// Where the new user goes: the organization it joins (in reach, live), or
/// the new organization's parent (a reseller's own unless it names another
/// in its reach); the groups it names must be assignable there.
fn placement(
    env: &Env,
    caller: &Caller,
    input: &NewCustomer,
) -> Result<(Option<Organization>, Option<Organization>)> {
    let tenant = caller.tenant.as_str();
    let existing = match input.organization_id {
        Some(id) => Some(reachable_org(env, caller, id, "organization_id")?),
        None => None,
    };
    // A reseller's new customer sits under the reseller unless it names
    // another organization in its reach: never outside the caller's reach.
    let named_parent = input.organization.as_ref().and_then(|o| o.parent);
    let default_parent = (caller.role == Role::ResellerAdmin && input.organization_id.is_none())
        .then_some(caller.org)
        .flatten();
    let parent = match named_parent.or(default_parent) {
        Some(id) => Some(reachable_org(env, caller, id, "parent_organization")?),
        None => None,
    };
    if !input.user.groups.is_empty() {
        // A new organization has no groups yet: its user may join its parent's.
        let home = existing
            .as_ref()
            .or(parent.as_ref())
            .ok_or_else(|| Error::invalid("user.groups[0].id", "The group was not found."))?;
        crate::idm::groups::assignable(env, tenant, home, &input.user.groups, "user.groups")?;
    }
    Ok((existing, parent))
}

/// A written create becomes final: the organization joined (or the new
/// one's parent) still admits members, the new organization's own fence
/// comes down, the claims commit and the operation is counted.
#[allow(clippy::too_many_arguments)]
fn commit_created(
    env: &mut Env,
    caller: &Caller,
    input: &NewCustomer,
    op: &OpId,
    run: &str,
    created: Created,
    id_claim: &Option<(String, storage::Claim)>,
    email_key: &str,
    held: &storage::Claim,
) -> Result<Created> {
    let tenant = caller.tenant.as_str();
    // Listed now: a delete of the organization joined (or of the new
    // one's parent) that began meanwhile makes the create undo itself.
    let home = match input.organization_id {
        Some(id) => Some(id),
        None => created.organization.parent,
    };
    if let Some(home) = home {
        crate::idm::organizations::admits(env, tenant, home)?;
    }
    // A resumed create whose user record changed meanwhile (its email
    // edited before the claim was committed) must not commit the claim
    // to a record that no longer carries the email.
    if crate::base::validate::normalize_email(&created.user.email)
        != crate::base::validate::normalize_email(&input.user.email)
    {
        return Err(Error::Conflict(
            "the user this request created has changed meanwhile".into(),
        ));
    }
    if let Some((key, claim)) = id_claim {
        commit_claim(env, key, claim, created.user.id)?;
    }
    commit_claim(env, email_key, held, created.user.id)?;
    // Last: until the claims commit, the create may still be undone.
    if input.organization_id.is_none() && created.organization.parent.is_some() {
        crate::idm::organizations::lift_fence(
            env,
            tenant,
            created.organization.id,
            &format!("{run}/organization"),
        )?;
    }
    finish(env, caller, op, &created, input.organization_id.is_none())?;
    Ok(created)
}

/// Undoes a create that failed after it wrote: its records, its audit
/// event and its email claim go, and its id claim once no record holds the
/// id (a record that stayed keeps it, and a retry resumes).
#[allow(clippy::too_many_arguments)]
fn undo_create(
    env: &Env,
    tenant: &str,
    input: &NewCustomer,
    run: &str,
    op: &OpId,
    user_id: Uuid,
    id_claim: &Option<(String, storage::Claim)>,
    email_key: &str,
    held: &storage::Claim,
) {
    let mut written = vec![keys::user(tenant, user_id)];
    if input.organization_id.is_none() {
        written.push(keys::org(tenant, derived_uuid(run, "organization")));
    }
    // Its audit event too: no event may tell of a create that did not happen.
    if let Ok(Some(o)) = storage::read::<Operation>(env.kv, &keys::op(tenant, &op.id))
        && let Some((_, seq)) = o.data.positions.iter().find(|(l, _)| l == AUDIT)
    {
        written.push(keys::audit_event(tenant, *seq));
    }
    crate::idm::users::abandon_create(env, email_key, held, run, &written);
    // The id claim goes back once no record holds the id (the create
    // was undone); a record that stayed keeps it, and a retry resumes.
    if let Some((key, claim)) = id_claim
        && let Ok(None) = storage::read::<User>(env.kv, &keys::user(tenant, user_id))
        && let Ok(Some(now)) = storage::read::<storage::Claim>(env.kv, key)
        && now.data.owner == claim.owner
        && now.data.generation == claim.generation
    {
        let _ = storage::release_claim(env, key, &now.data);
    }
}

/// The answer an operation stored before it became visible. Records written
/// before answers were stored replay the records as they are now.
fn stored_answer(env: &Env, tenant: &str, op: &OpId, operation: &Operation) -> Result<Created> {
    let (user, organization): (User, Organization) = match operation.answer.clone() {
        Some(answer) => serde_json::from_value(answer)
            .map_err(|_| Error::Unavailable("unreadable stored answer".into()))?,
        None => {
            let run = operation.run.as_deref().unwrap_or(&op.id);
            let gone = || Error::NotFound("the record this key created is gone".into());
            let user =
                storage::read::<User>(env.kv, &keys::user(tenant, derived_uuid(run, "user")))?
                    .ok_or_else(gone)?
                    .data;
            let org =
                storage::read::<Organization>(env.kv, &keys::org(tenant, user.organization_id))?
                    .ok_or_else(gone)?
                    .data;
            (user, org)
        }
    };
    Ok(Created {
        user,
        organization,
        replayed: true,
    })
}

/// One run of a create: its request, its operation and what it writes with.
struct Run<'a> {
    caller: &'a Caller,
    input: &'a NewCustomer,
    op: &'a OpId,
    run: &'a str,
    operation: &'a Operation,
    settings: &'a Settings,
    hash_params: HashParams,
    correlation_id: Option<String>,
}

/// Writes a create's records, each step resumable by a retry of the same
/// operation: the account number, the organization (or the subscriptions
/// of the one joined), the user, the index positions and stored answer,
/// then the audit event and the index entries that make it visible.
fn write_customer(
    env: &mut Env,
    w: &Run,
    existing: Option<Organization>,
    parent: Option<Organization>,
) -> Result<Created> {
    let account = enterprise_account(env, w)?;
    let (organization, new_org) = write_organization(env, w, existing, parent, account.as_deref())?;
    let user = write_user(env, w, &organization, new_org, account)?;
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
    let positions = reserve_positions(env, w, &user, &organization, &lists)?;
    publish(env, w, &user, &organization, new_org, &lists, &positions)?;
    Ok(Created {
        user,
        organization,
        replayed: false,
    })
}

/// An enterprise account's code: its number is taken once per operation and
/// kept in its record, so a retry names the account the same.
fn enterprise_account(env: &Env, w: &Run) -> Result<Option<String>> {
    let (input, operation, settings, op, run) = (w.input, w.operation, w.settings, w.op, w.run);
    let tenant = w.caller.tenant.as_str();
    Ok(if input.enterprise {
        let n = match operation.positions.iter().find(|(l, _)| l == ACCOUNT) {
            Some((_, n)) => *n,
            None => {
                let fresh = storage::bump_count(env, tenant, "account-seq", 1)?;
                let record = storage::update::<Operation, _>(
                    env,
                    &keys::op(tenant, &op.id),
                    &format!("{run}/account"),
                    |o| {
                        if !o.positions.iter().any(|(l, _)| l == ACCOUNT) {
                            o.positions.push((ACCOUNT.to_string(), fresh));
                        }
                        Ok(())
                    },
                )?;
                record
                    .data
                    .positions
                    .iter()
                    .find(|(l, _)| l == ACCOUNT)
                    .map_or(fresh, |(_, n)| *n)
            }
        };
        Some(account_code(&settings.account_code_prefix, n))
    } else {
        None
    })
}

/// The new organization (its default and requested plans subscribed), or
/// the one joined with the requested plans added. True when new.
fn write_organization(
    env: &Env,
    w: &Run,
    existing: Option<Organization>,
    parent: Option<Organization>,
    account: Option<&str>,
) -> Result<(Organization, bool)> {
    let (input, settings, run) = (w.input, w.settings, w.run);
    let tenant = w.caller.tenant.as_str();
    let now = w.operation.started;
    Ok(match existing {
        Some(org) => {
            let org = if input.plans.is_empty() {
                org
            } else {
                storage::update::<Organization, _>(env, &keys::org(tenant, org.id), run, |o| {
                    subscribe(o, &input.plans, settings, run, now);
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
                id: derived_uuid(run, "organization"),
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
                details: spec.details.clone(),
                // See `create_organization`: lifted once the parent admits it.
                // Stamped now (not at the operation's start), so a late
                // retry's fence still holds.
                closing: parent.as_ref().map(|_| Closing {
                    op: format!("{run}/organization"),
                    at: env.now,
                }),
                created_at: now,
                updated_at: now,
            };
            if let Some(code) = account {
                org.details.insert("account_id".into(), code.to_string());
            }
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
            subscribe(&mut org, &plans, settings, run, now);
            let org = storage::create(env, &keys::org(tenant, org.id), run, &org)?.data;
            (org, true)
        }
    })
}

/// The user record, never overwriting one this operation did not write (a
/// caller-chosen id already taken).
fn write_user(
    env: &mut Env,
    w: &Run,
    organization: &Organization,
    new_org: bool,
    account: Option<String>,
) -> Result<User> {
    let (input, run) = (w.input, w.run);
    let tenant = w.caller.tenant.as_str();
    let now = w.operation.started;
    let password_hash = input
        .user
        .password
        .as_deref()
        .map(|pw| password::hash(pw, w.hash_params, (env.random)()));

    let user = User {
        id: input.user.id.unwrap_or_else(|| derived_uuid(run, "user")),
        number: None,
        account_code: account,
        email: input.user.email.clone(),
        organization_id: organization.id,
        role: match (new_org, input.user.role) {
            (true, _) => Role::CustomerAdmin,
            (false, Some(Role::CustomerAdmin)) if organization.kind == OrgKind::Customer => {
                Role::CustomerAdmin
            }
            _ => Role::User,
        },
        groups: input.user.groups.clone(),
        profile: input.user.profile.clone(),
        directory: input.user.directory.clone(),
        confirmed: input.user.confirmed,
        status: if input.user.disabled {
            Lifecycle::Disabled
        } else {
            Lifecycle::Active
        },
        password_hash,
        access_token: None,
        auth_types: Vec::new(),
        sign_in_count: 0,
        last_sign_in_at: None,
        last_sign_in_ip: None,
        two_factor: None,
        // Without a password the user signs in only after accepting this.
        unconfirmed_email: None,
        reconfirmation: None,
        invitation: input
            .user
            .password
            .is_none()
            .then(|| derived_uuid(run, "invitation")),
        credentials_valid_from: 0,
        moved_from: None,
        created_at: now,
        updated_at: now,
    };
    crate::idm::groups::note_members(env, tenant, user.id, &user.groups)?;
    let record = storage::create(env, &keys::user(tenant, user.id), run, &user)?;
    if record.ops.first().map(String::as_str) != Some(run) {
        // A record this operation did not write holds the (caller-chosen) id.
        return Err(Error::invalid("user.id", "is already taken"));
    }
    Ok(record.data)
}

/// Index positions for `lists` and the audit event, and the answer a replay
/// gives, kept in the operation record by compare-and-swap (so a concurrent
/// retry's progress is never undone). Returns every position the operation
/// holds.
fn reserve_positions(
    env: &Env,
    w: &Run,
    user: &User,
    organization: &Organization,
    lists: &[(String, Uuid)],
) -> Result<Vec<(String, i64)>> {
    let (operation, op, run) = (w.operation, w.op, w.run);
    let tenant = w.caller.tenant.as_str();
    let mut wanted: Vec<String> = lists.iter().map(|(l, _)| l.clone()).collect();
    wanted.push(AUDIT.to_string());
    let mut positions = operation.positions.clone();
    let mut allocated = false;
    for list in &wanted {
        if !positions.iter().any(|(l, _)| l == list) {
            let pos = if list == AUDIT {
                storage::audit_position(env, tenant)?
            } else {
                storage::index_position(env, tenant, list)?
            };
            positions.push((list.clone(), pos));
            allocated = true;
        }
    }
    let mut answer_user = user.clone();
    answer_user.password_hash = None;
    answer_user.access_token = None;
    let answer = serde_json::to_value((&answer_user, &organization))
        .map_err(|_| Error::Unavailable("unserializable answer".into()))?;
    if allocated || operation.answer.is_none() {
        let record = storage::update::<Operation, _>(
            env,
            &keys::op(tenant, &op.id),
            &format!("{run}/positions"),
            |o| {
                for (list, pos) in &positions {
                    if !o.positions.iter().any(|(l, _)| l == list) {
                        o.positions.push((list.clone(), *pos));
                    }
                }
                o.answer.get_or_insert_with(|| answer.clone());
                Ok(())
            },
        )?;
        positions = record.data.positions;
    }
    Ok(positions)
}

/// The audit event, then the index entries and account-code keys that make
/// the customer visible: a visible customer always has its event.
fn publish(
    env: &Env,
    w: &Run,
    user: &User,
    organization: &Organization,
    new_org: bool,
    lists: &[(String, Uuid)],
    positions: &[(String, i64)],
) -> Result<()> {
    let (caller, run) = (w.caller, w.run);
    let tenant = caller.tenant.as_str();
    let now = w.operation.started;
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
        run,
        &AuditEvent {
            seq: position(AUDIT),
            at: now,
            tenant: tenant.to_string(),
            actor: caller.actor.clone(),
            action: if new_org {
                "customer.create"
            } else {
                "user.create"
            }
            .into(),
            targets: vec![
                format!("organization:{}", organization.id),
                format!("user:{}", user.id),
            ],
            outcome: "success".into(),
            correlation_id: w.correlation_id.clone().or_else(|| env.correlation.clone()),
            orgs: reach::chain(organization),
        },
    )?;
    for (list, id) in lists {
        storage::index_put(env, tenant, list, position(list), *id)?;
    }
    if let Some(code) = &user.account_code {
        env.kv
            .set(&account_key(tenant, code), user.id.to_string().as_bytes())?;
        env.kv.set(
            &account_org_key(tenant, code),
            organization.id.to_string().as_bytes(),
        )?;
    }
    Ok(())
}

/// The operation marked done and counted, then the counts: only the request
/// whose compare-and-swap marks it counts, so a resumed or concurrent retry
/// never counts twice. A crash between the two leaves the counts one short,
/// which no check relies on (deletes re-read the index slots).
fn finish(
    env: &mut Env,
    caller: &Caller,
    op: &OpId,
    created: &Created,
    new_org: bool,
) -> Result<()> {
    let tenant = caller.tenant.as_str();
    let key = keys::op(tenant, &op.id);
    let mark = format!("{}/done/{}", op.id, env.new_uuid().simple());
    let (_, counted_here) = storage::update_if::<Operation, _>(env, &key, &mark, |o| {
        let first = !o.counted;
        o.counted = true;
        o.done = true;
        o.lease = None;
        Ok(first)
    })?;
    if counted_here {
        reach::bump(env, tenant, &reach::user_counts(&created.organization), 1)?;
        if new_org {
            reach::bump(
                env,
                tenant,
                &reach::created_org_counts(&created.organization),
                1,
            )?;
        }
    }
    if !op.keyed {
        // Nobody can retry it: its record has done its job.
        let _ = env.kv.delete(&key);
    }
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
        // Fenced until its parent is known to admit it: nothing joins an
        // organization that may yet be undone.
        closing: parent.map(|_| Closing {
            op: format!("org-create/{id}"),
            at: env.now,
        }),
        created_at: env.now,
        updated_at: env.now,
    };
    let op = format!("org-create/{id}");
    storage::write(env.kv, &keys::org(tenant, id), &op, &org)?;
    reach::append(env, tenant, &reach::org_lists(&org), id)?;
    if let Some(p) = parent {
        if let Err(e) = crate::idm::organizations::admits(env, tenant, p.id) {
            // Listed in a parent being deleted: gone again, before any count.
            let _ = env.kv.delete(&keys::org(tenant, id));
            return Err(e);
        }
        crate::idm::organizations::lift_fence(env, tenant, id, &op)?;
    }
    reach::bump(env, tenant, &reach::created_org_counts(&org), 1)?;
    Ok(Organization {
        closing: None,
        ..org
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::be::kv::MemKv;

    fn input(email: &str) -> NewCustomer {
        NewCustomer {
            organization_id: None,
            organization: Some(NewOrg {
                name: "Acme".into(),
                description: None,
                company_name: None,
                skip_default_subscription: false,
                parent: None,
                details: Default::default(),
            }),
            user: NewUser {
                email: email.into(),
                ..NewUser::default()
            },
            ..NewCustomer::default()
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
            correlation: None,
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
