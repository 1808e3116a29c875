//! Reading and changing one organization, for every family.
//!
//! # Deleting is a fence
//! A delete first marks the organization `closing`, then reads its index
//! slots for live members and children, then marks it deleted. Whatever
//! joins it (a create, a move, a child organization) is listed first and
//! re-reads the organization after: if it finds the mark (or the delete
//! done) it undoes itself ([`admits`]). Either the joiner's re-read came
//! before the mark, and so its record was listed before the delete's scan
//! (which sees it and refuses), or after, and it leaves. So no live member
//! appears after the delete's check. A mark older than [`FENCE_MS`] is a
//! delete that died; it fences nothing.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::model::{Closing, Lifecycle, Organization, Role, User};
use crate::be::storage::{self, Env, keys};
use crate::credential::auth::Caller;

/// An organization the caller reaches, else 404.
pub fn get(env: &Env, caller: &Caller, id: Uuid) -> Result<Organization> {
    storage::read::<Organization>(env.kv, &keys::org(&caller.tenant, id))?
        .map(|r| r.data)
        .filter(|o| caller.reaches(o) && o.status != Lifecycle::Deleted)
        .ok_or_else(|| Error::NotFound(format!("organization {id} not found")))
}

// A change of an organization's names and details. `details` entries with
// `None` are removed.
//
// Clone's wire names are these: the derived schema is the `organization`
// object of its full update (the details are the family's own names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct OrgChange {
    #[cfg_attr(feature = "openapi", schemars(required, length(max = 255),
        regex(pattern = r"\S"), extend("type" = "string")))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(required, length(max = 255),
        regex(pattern = r"\S"), extend("type" = "string")))]
    pub company_name: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub description: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub details: BTreeMap<String, Option<String>>,
}

/// Changes an organization in reach; plain users may not (403).
pub fn update(
    env: &mut Env,
    caller: &Caller,
    id: Uuid,
    change: &OrgChange,
) -> Result<Organization> {
    get(env, caller, id)?;
    caller.require(Role::CustomerAdmin)?;
    let op = format!("org-update{}", env.new_uuid().simple());
    let now = env.now;
    let updated =
        storage::update::<Organization, _>(env, &keys::org(&caller.tenant, id), &op, |o| {
            if let Some(n) = &change.name {
                o.name = n.clone();
            }
            if let Some(c) = &change.company_name {
                o.company_name = Some(c.clone());
            }
            if let Some(d) = &change.description {
                o.description = d.clone();
            }
            for (k, v) in &change.details {
                match v {
                    Some(v) => o.details.insert(k.clone(), v.clone()),
                    None => o.details.remove(k),
                };
            }
            o.updated_at = now;
            Ok(())
        })?
        .data;
    caller.audit(
        env,
        &op,
        "organization.update",
        vec![format!("organization:{id}")],
        Some(&updated),
    )?;
    Ok(updated)
}

/// Columns an organization list filters and sorts on.
pub const LIST_COLUMNS: [&str; 8] = [
    "name",
    "company_name",
    "description",
    "kind",
    "parent_id",
    "status",
    "created_at",
    "updated_at",
];

/// The live organizations among `ids` the caller reaches (one `get_many`).
pub fn visible(env: &Env, caller: &Caller, ids: &[Uuid]) -> Result<Vec<Organization>> {
    let keys: Vec<String> = ids
        .iter()
        .map(|id| keys::org(&caller.tenant, *id))
        .collect();
    Ok(storage::read_many::<Organization>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .filter(|o| caller.reaches(o) && o.status != Lifecycle::Deleted)
        .collect())
}

pub fn kind_name(kind: crate::base::model::OrgKind) -> &'static str {
    match kind {
        crate::base::model::OrgKind::Platform => "platform",
        crate::base::model::OrgKind::Reseller => "reseller",
        crate::base::model::OrgKind::Customer => "customer",
    }
}

/// The organizations the caller reaches, as `query` asks.
pub fn list(
    env: &Env,
    caller: &Caller,
    query: &crate::idm::listing::ListQuery,
) -> Result<crate::idm::listing::Page<Organization>> {
    let (list, count) = crate::idm::reach::orgs_of(caller);
    crate::idm::listing::run(
        env.kv,
        &caller.tenant,
        &list,
        &count,
        query,
        |ids| visible(env, caller, ids),
        |o| crate::idm::listing::Row {
            columns: vec![
                ("name", o.name.clone()),
                ("company_name", o.company_name.clone().unwrap_or_default()),
                ("description", o.description.clone().unwrap_or_default()),
                ("kind", kind_name(o.kind).to_string()),
                (
                    "parent_id",
                    o.parent.map(|p| p.to_string()).unwrap_or_default(),
                ),
                ("status", o.status.as_str().to_string()),
                ("created_at", crate::base::time::format_millis(o.created_at)),
                ("updated_at", crate::base::time::format_millis(o.updated_at)),
            ],
            date: o.created_at,
            item: o,
        },
    )
}

/// The customers the caller reaches, deleted ones too unless
/// `include_deleted` is false, as `query` asks. Rows: `company_name`,
/// `internal_identifier`, `live`; the plain total is the customer count,
/// which counts deleted customers (see [`crate::idm::reach::created_org_counts`]).
pub fn customers(
    env: &Env,
    caller: &Caller,
    query: &crate::idm::listing::ListQuery,
    include_deleted: bool,
) -> Result<crate::idm::listing::Page<Organization>> {
    let (list, count) = crate::idm::reach::customers_of(caller);
    let mut query = query.clone();
    if !include_deleted {
        query.filters.push(("live".into(), "yes".into()));
    }
    crate::idm::listing::run(
        env.kv,
        &caller.tenant,
        &list,
        &count,
        &query,
        |ids| {
            let keys: Vec<String> = ids
                .iter()
                .map(|id| keys::org(&caller.tenant, *id))
                .collect();
            Ok(storage::read_many::<Organization>(env.kv, &keys)?
                .into_iter()
                .flatten()
                .filter(|o| caller.reaches(o) && o.kind == crate::base::model::OrgKind::Customer)
                .collect())
        },
        |o| crate::idm::listing::Row {
            columns: vec![
                (
                    "company_name",
                    o.company_name.clone().unwrap_or_else(|| o.name.clone()),
                ),
                (
                    "internal_identifier",
                    o.details
                        .get("internalIdentifier")
                        .cloned()
                        .unwrap_or_default(),
                ),
                (
                    "live",
                    if o.status == Lifecycle::Deleted {
                        "no"
                    } else {
                        "yes"
                    }
                    .into(),
                ),
            ],
            date: o.created_at,
            item: o,
        },
    )
}

/// Every organization the caller reaches, chunk by chunk in list order, for
/// exports that must not hold them all at once. `each` gets one chunk.
pub fn each_chunk(
    env: &Env,
    caller: &Caller,
    mut each: impl FnMut(Vec<Organization>) -> Result<()>,
) -> Result<()> {
    let (list, _) = crate::idm::reach::orgs_of(caller);
    let len = storage::index_len(env.kv, &caller.tenant, &list)?;
    let mut seen = std::collections::HashSet::new();
    let mut from = 1;
    while from <= len {
        let ids: Vec<Uuid> = storage::index_range(env.kv, &caller.tenant, &list, from, 100)?
            .into_iter()
            .map(|(_, id)| id)
            .filter(|id| seen.insert(*id))
            .collect();
        each(visible(env, caller, &ids)?)?;
        from += 100;
    }
    Ok(())
}

/// Creates a customer organization with the create rules of seed 000's
/// `organization` (default plan unless skipped; then `plans` is required;
/// one active subscription per product). A reseller admin's organizations
/// go below its own unless it names a reseller below it.
pub fn create(
    env: &mut Env,
    caller: &Caller,
    spec: &crate::idm::provision::NewOrg,
    plans: &[crate::idm::provision::PlanRequest],
) -> Result<Organization> {
    caller.require(Role::ResellerAdmin)?;
    let settings = crate::idm::provision::load_settings(env.kv, &caller.tenant)?;
    let mut errors = crate::base::error::FieldErrors::default();
    if spec.skip_default_subscription && plans.is_empty() {
        errors.add(
            "plans",
            "is required when skip_default_subscription is true",
        );
    }
    for (i, p) in plans.iter().enumerate() {
        if settings.plan(&p.plan).is_none() {
            errors.add(format!("plans[{i}].plan"), "is not a known plan");
        }
    }
    errors.into_result()?;
    let parent = match spec.parent.or(caller.org) {
        Some(id) => {
            let p = get(env, caller, id)
                .map_err(|_| Error::NotFound(format!("parent_organization {id} not found")))?;
            if p.kind != crate::base::model::OrgKind::Reseller {
                return Err(Error::invalid(
                    "organization.parent_organization",
                    "is not a reseller organization",
                ));
            }
            Some(p)
        }
        None => None,
    };
    let id = env.new_uuid();
    crate::idm::provision::create_organization(
        env,
        &caller.tenant,
        id,
        &spec.name,
        crate::base::model::OrgKind::Customer,
        parent.as_ref(),
    )?;
    let mut requested = Vec::new();
    if !spec.skip_default_subscription
        && let Some(default) = &settings.default_plan
    {
        requested.push(crate::idm::provision::PlanRequest {
            plan: default.clone(),
            partner: false,
            interval: crate::base::model::Interval::None,
            start: None,
            end: None,
        });
    }
    requested.extend(plans.iter().cloned());
    let op = format!("org-details/{id}");
    let now = env.now;
    let org = storage::update::<Organization, _>(env, &keys::org(&caller.tenant, id), &op, |o| {
        o.description = spec.description.clone();
        o.company_name = spec.company_name.clone();
        o.details = spec.details.clone();
        crate::idm::provision::subscribe(o, &requested, &settings, &op, now);
        Ok(())
    })?
    .data;
    caller.audit(
        env,
        &op,
        "organization.create",
        vec![format!("organization:{id}")],
        Some(&org),
    )?;
    Ok(org)
}

/// Moves an organization (an Apiculus enterprise account) through the
/// lifecycle: every credential use checks the user's organization, so
/// disabling or terminating it stops all of its users on their next
/// request. Terminated is final; administrators above it only.
pub fn set_status(
    env: &mut Env,
    caller: &Caller,
    id: Uuid,
    status: Lifecycle,
) -> Result<Organization> {
    let org = get(env, caller, id)?;
    caller.require(Role::ResellerAdmin)?;
    if caller.org == Some(id) || org.kind == crate::base::model::OrgKind::Platform {
        return Err(Error::Forbidden(
            "an account is managed by the level above it".into(),
        ));
    }
    let op = format!("org-status{}", env.new_uuid().simple());
    let now = env.now;
    let (record, _) =
        storage::update_if::<Organization, _>(env, &keys::org(&caller.tenant, id), &op, |o| {
            if o.status == status {
                return Ok(false);
            }
            if matches!(o.status, Lifecycle::Terminated | Lifecycle::Deleted) {
                return Err(Error::invalid(
                    "status",
                    "a terminated account cannot change",
                ));
            }
            o.status = status;
            o.updated_at = now;
            Ok(true)
        })?;
    caller.audit(
        env,
        &op,
        &format!("organization.{}", status.as_str()),
        vec![format!("organization:{id}")],
        Some(&record.data),
    )?;
    Ok(record.data)
}

/// Index slots read per call when checking an organization is empty.
const SLOT_PAGE: usize = 100;

/// Whether any record listed in index `list` is `live`, read from the index
/// slots rather than a kept count, so a count that drifted cannot let a
/// non-empty organization be deleted. O(entries ever added), paid on delete.
fn any_listed<T: serde::de::DeserializeOwned>(
    env: &Env,
    tenant: &str,
    list: &str,
    key: impl Fn(Uuid) -> String,
    live: impl Fn(&T) -> bool,
) -> Result<bool> {
    let total = storage::index_len(env.kv, tenant, list)?;
    let mut from = 1;
    while from <= total {
        let keys: Vec<String> = storage::index_range(env.kv, tenant, list, from, SLOT_PAGE)?
            .into_iter()
            .map(|(_, id)| key(id))
            .collect();
        if storage::read_many::<T>(env.kv, &keys)?
            .iter()
            .flatten()
            .any(&live)
        {
            return Ok(true);
        }
        from += SLOT_PAGE as i64;
    }
    Ok(false)
}

/// How long a delete's `closing` mark fences its organization.
pub const FENCE_MS: crate::base::time::Millis = storage::CLAIM_WINDOW_MS;

/// Whether `org` is deleted or being deleted, re-read now.
fn closed(env: &Env, tenant: &str, org: Uuid) -> Result<bool> {
    Ok(
        match storage::read::<Organization>(env.kv, &keys::org(tenant, org))? {
            None => true,
            Some(r) => {
                r.data.status == Lifecycle::Deleted
                    || r.data
                        .closing
                        .as_ref()
                        .is_some_and(|c| env.now - c.at < FENCE_MS)
            }
        },
    )
}

/// What a create or move calls once its record is listed in `org`: an
/// error (409, retry later) when a delete of `org` has begun, so the joiner
/// undoes itself. See the module's fence.
pub fn admits(env: &Env, tenant: &str, org: Uuid) -> Result<()> {
    if closed(env, tenant, org)? {
        return Err(Error::Conflict(
            "the organization is being deleted; retry once it is settled".into(),
        ));
    }
    Ok(())
}

/// Takes down the fence `op` put up (a delete's after finding members, a
/// new organization's once its parent admits it); another's stays.
pub fn lift_fence(env: &Env, tenant: &str, org: Uuid, op: &str) -> Result<()> {
    storage::update_if::<Organization, _>(
        env,
        &keys::org(tenant, org),
        &format!("{op}/lift"),
        |o| {
            Ok(o.closing.as_ref().is_some_and(|c| c.op == op) && {
                o.closing = None;
                true
            })
        },
    )
    .map(drop)
}

/// Settles a user's half-done move (see [`User::moved_from`]): kept when
/// its organization still admits members (the counts follow it), else
/// undone. Returns the user as it is now.
pub fn settle_move(env: &Env, tenant: &str, user: User) -> Result<User> {
    let Some(from) = user.moved_from else {
        return Ok(user);
    };
    let to = user.organization_id;
    let keep = !closed(env, tenant, to)?;
    // Its own op id (a number no other call gets), so of racing settlers
    // only the one whose swap lands moves the counts.
    let n = env.kv.increment(&format!("t/{tenant}/settle-seq"), 1)?;
    let op = format!("settle-move/{}/{n}", user.id);
    let (record, here) =
        storage::update_if::<User, _>(env, &keys::user(tenant, user.id), &op, |u| {
            if u.moved_from != Some(from) || u.organization_id != to {
                return Ok(false);
            }
            u.moved_from = None;
            if !keep {
                u.organization_id = from;
            }
            Ok(true)
        })?;
    if here && keep {
        let read = |id| -> Result<Option<Organization>> {
            Ok(storage::read::<Organization>(env.kv, &keys::org(tenant, id))?.map(|r| r.data))
        };
        let old = read(from)?
            .map(|o| crate::idm::reach::user_counts(&o))
            .unwrap_or_default();
        let new = read(to)?
            .map(|o| crate::idm::reach::user_counts(&o))
            .unwrap_or_default();
        let gone: Vec<String> = old.iter().filter(|c| !new.contains(c)).cloned().collect();
        let came: Vec<String> = new.iter().filter(|c| !old.contains(c)).cloned().collect();
        crate::idm::reach::bump(env, tenant, &gone, -1)?;
        crate::idm::reach::bump(env, tenant, &came, 1)?;
    }
    Ok(record.data)
}

/// Whether a live user belongs to `org`: one that is in it, or one whose
/// move out of it is unsettled (settled here first, as it may come back).
fn has_live_member(env: &Env, tenant: &str, org: Uuid) -> Result<bool> {
    let list = format!("org/{org}/members");
    let total = storage::index_len(env.kv, tenant, &list)?;
    let mut from = 1;
    while from <= total {
        let keys: Vec<String> = storage::index_range(env.kv, tenant, &list, from, SLOT_PAGE)?
            .into_iter()
            .map(|(_, id)| keys::user(tenant, id))
            .collect();
        for user in storage::read_many::<User>(env.kv, &keys)?
            .into_iter()
            .flatten()
        {
            let user = if user.moved_from == Some(org) {
                settle_move(env, tenant, user)?
            } else {
                user
            };
            if user.organization_id == org && user.status != Lifecycle::Deleted {
                return Ok(true);
            }
        }
        from += SLOT_PAGE as i64;
    }
    Ok(false)
}

fn has_live_child(env: &Env, tenant: &str, org: Uuid) -> Result<bool> {
    any_listed(
        env,
        tenant,
        &format!("org/{org}/children"),
        |id| keys::org(tenant, id),
        |o: &Organization| o.parent == Some(org) && o.status != Lifecycle::Deleted,
    )
}

/// Deletes (soft) an organization in reach. Refused with 422 while it has
/// users or child organizations; never the caller's own organization.
pub fn delete(env: &mut Env, caller: &Caller, id: Uuid) -> Result<()> {
    let org = get(env, caller, id)?;
    caller.require(Role::ResellerAdmin)?;
    if caller.org == Some(id) || org.kind == crate::base::model::OrgKind::Platform {
        return Err(Error::Forbidden(
            "cannot delete your own organization".into(),
        ));
    }
    let op = format!("org-delete{}", env.new_uuid().simple());
    let now = env.now;
    let key = keys::org(&caller.tenant, id);
    // The fence goes up before the check (see the module's doc).
    // One delete at a time: two could otherwise take each other's fence
    // down (one lifts it finding a member the other no longer sees).
    storage::update::<Organization, _>(env, &key, &format!("{op}/fence"), |o| {
        if o.closing.as_ref().is_some_and(|c| now - c.at < FENCE_MS) {
            return Err(Error::Conflict(
                "another delete of this organization is running; retry later".into(),
            ));
        }
        o.closing = Some(Closing {
            op: op.clone(),
            at: now,
        });
        Ok(())
    })?;
    let mut errors = crate::base::error::FieldErrors::default();
    let checked = (|| {
        if has_live_member(env, &caller.tenant, id)? {
            errors.add("organization", "still has users");
        }
        if has_live_child(env, &caller.tenant, id)? {
            errors.add("organization", "still has child organizations");
        }
        Ok::<_, Error>(())
    })();
    if checked.is_err() || !errors.is_empty() {
        let _ = lift_fence(env, &caller.tenant, id, &op);
        checked?;
        errors.into_result()?;
    }
    let (_, deleted_here) = storage::update_if::<Organization, _>(env, &key, &op, |o| {
        if o.status == Lifecycle::Deleted {
            return Ok(false);
        }
        // Only under this delete's own fence, up since before its check.
        if o.closing.as_ref().is_none_or(|c| c.op != op) {
            return Err(Error::Conflict(
                "the organization changed while it was checked; retry".into(),
            ));
        }
        o.closing = None;
        o.status = Lifecycle::Deleted;
        o.updated_at = now;
        Ok(true)
    })?;
    if deleted_here {
        crate::idm::reach::bump(
            env,
            &caller.tenant,
            &crate::idm::reach::org_counts(&org),
            -1,
        )?;
    }
    caller.audit(
        env,
        &op,
        "organization.delete",
        vec![format!("organization:{id}")],
        Some(&org),
    )
}
