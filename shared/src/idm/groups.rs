//! Groups: named sets of users, defined by an operator (in the tenant's root
//! organization) or a reseller (in its own organization) and assignable to
//! users of that organization's subtree. CloudCockpit's `groups` on a portal
//! user name them by id.
//!
//! Keys: `t/{t}/group/{id}` (the record) and each organization's catalog
//! `t/{t}/group-catalog/{org}`: its groups' names and ids, sorted by name,
//! at most [`PER_ORGANIZATION`]. A list reads the catalogs of one chain of
//! organizations in one call, so it costs the same however many groups the
//! tenant holds, and every group of the chain is on some page.
//!
//! Groups defined before catalogs existed are in the tenant's index list
//! `groups`, which older replicas may still append to during a rolling
//! upgrade. A catalog records how far into that list it has looked
//! (`legacy_seen`) and catches up whenever the list is longer: one counter
//! read per list, and a scan of only what is new.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::base::error::{Error, FieldErrors, Result};
use crate::base::model::{Group, Lifecycle, OrgKind, Organization, Role, User};
use crate::be::storage::{self, Env, keys};
use crate::credential::auth::Caller;
use crate::idm::listing::Page;

pub fn key(tenant: &str, id: Uuid) -> String {
    format!("t/{tenant}/group/{id}")
}

fn catalog_key(tenant: &str, org: Uuid) -> String {
    format!("t/{tenant}/group-catalog/{org}")
}

/// The index list groups went into before catalogs (read, never written).
const LEGACY_LIST: &str = "groups";

/// Longest group name.
pub const NAME_MAX: usize = 255;

/// Groups one organization may define: its catalog is one record, read
/// whole by every list of its subtree, so it stays small (about 150 KB at
/// the longest names).
pub const PER_ORGANIZATION: usize = 500;

/// One group as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: Uuid,
    pub name: String,
}

/// An organization's groups, sorted by name (case-insensitive), then id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub entries: Vec<Entry>,
    /// Positions of the legacy list already merged in.
    #[serde(default)]
    pub legacy_seen: i64,
}

fn order(e: &Entry) -> (String, Uuid) {
    (e.name.to_lowercase(), e.id)
}

impl Catalog {
    fn insert(&mut self, entry: Entry) {
        if self.entries.iter().any(|e| e.id == entry.id) {
            return;
        }
        let key = order(&entry);
        let at = self.entries.partition_point(|e| order(e) < key);
        self.entries.insert(at, entry);
    }

    /// `current` (as stored now) with what `caught` found in the legacy
    /// list merged in.
    fn merged(current: Option<&Catalog>, caught: &Catalog) -> Catalog {
        let mut out = current.cloned().unwrap_or_default();
        if out.legacy_seen < caught.legacy_seen {
            for e in &caught.entries {
                out.insert(e.clone());
            }
            out.legacy_seen = caught.legacy_seen;
        }
        out
    }
}

/// Defines a group in `organization_id` (default: the caller's own
/// organization, or the tenant's root for an operator). Operators and
/// reseller administrators only; the organization must be a reseller (or the
/// root) in reach, with fewer than [`PER_ORGANIZATION`] groups (else 422 on
/// `organizationId`).
pub fn create(
    env: &mut Env,
    caller: &Caller,
    name: &str,
    organization_id: Option<Uuid>,
) -> Result<Group> {
    caller.require(Role::ResellerAdmin)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX {
        return Err(Error::invalid(
            "name",
            format!("must be 1 to {NAME_MAX} characters"),
        ));
    }
    let org_id = match (organization_id, caller.org) {
        (Some(id), _) => id,
        (None, Some(own)) => own,
        (None, None) => root(env, &caller.tenant)?
            .ok_or_else(|| Error::Unavailable("tenant has no root organization".into()))?,
    };
    let org = crate::idm::organizations::get(env, caller, org_id)
        .map_err(|_| Error::invalid("organizationId", "is not an organization in reach"))?;
    if org.kind == OrgKind::Customer {
        return Err(Error::invalid(
            "organizationId",
            "groups are defined by operators and resellers",
        ));
    }
    let group = Group {
        id: env.new_uuid(),
        organization_id: org.id,
        name: name.to_string(),
        role: Role::User,
        external_id: None,
        created_at: env.now,
        updated_at: env.now,
    };
    let op = format!("group/{}", group.id);
    // The record first: a catalog entry always names a record, and a failure
    // before the entry lands leaves only a record no list shows.
    storage::write(env.kv, &key(&caller.tenant, group.id), &op, &group)?;
    let legacy = storage::index_len(env.kv, &caller.tenant, LEGACY_LIST)?;
    let stored = read_catalogs(env, &caller.tenant, &[org.id])?
        .pop()
        .flatten();
    let (caught, _) = caught_up(env, &caller.tenant, org.id, stored, legacy)?;
    let entry = Entry {
        id: group.id,
        name: group.name.clone(),
    };
    add_entry(env, &caller.tenant, org.id, &entry, &caught, false, &op)?;
    caller.audit(
        env,
        &op,
        "group.create",
        vec![format!("group:{}", group.id)],
        Some(&org),
    )?;
    Ok(group)
}

/// Puts `entry` in `org`'s catalog (with `caught`'s legacy groups merged
/// in), at most [`PER_ORGANIZATION`] of them; `unique` refuses a name the
/// organization already gives another group (case-insensitive, 409). A
/// failure deletes the group's record unless its entry landed anyway: an
/// entry always names a record.
fn add_entry(
    env: &Env,
    tenant: &str,
    org: Uuid,
    entry: &Entry,
    caught: &Catalog,
    unique: bool,
    op: &str,
) -> Result<()> {
    let catalog_at = catalog_key(tenant, org);
    ensure_catalog(env, &catalog_at)?;
    let added = storage::swap_state::<Catalog, _>(env, &catalog_at, op, |current| {
        let mut catalog = Catalog::merged(current, caught);
        if catalog.entries.iter().any(|e| e.id == entry.id) {
            return Ok(None);
        }
        if unique
            && catalog
                .entries
                .iter()
                .any(|e| same_name(&e.name, &entry.name))
        {
            return Err(taken(&entry.name));
        }
        if catalog.entries.len() >= PER_ORGANIZATION {
            return Err(Error::invalid(
                "organizationId",
                format!(
                    "the organization already defines {PER_ORGANIZATION} groups, the most it may"
                ),
            ));
        }
        catalog.insert(entry.clone());
        Ok(Some(catalog))
    });
    if let Err(e) = added {
        if let Ok(Some(c)) = storage::read::<Catalog>(env.kv, &catalog_at)
            && !c.data.entries.iter().any(|e| e.id == entry.id)
        {
            let _ = env.kv.delete(&key(tenant, entry.id));
        }
        return Err(e);
    }
    Ok(())
}

fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn taken(name: &str) -> Error {
    Error::Conflict(format!(
        "a group named {name:?} already exists in this organization"
    ))
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX {
        return Err(Error::invalid(
            "name",
            format!("must be 1 to {NAME_MAX} characters"),
        ));
    }
    Ok(name.to_string())
}

/// The group `id`, when the caller reaches the organization defining it;
/// else 404.
pub fn get(env: &Env, caller: &Caller, id: Uuid) -> Result<Group> {
    let not_found = || Error::NotFound(format!("group {id} not found"));
    let group = storage::read::<Group>(env.kv, &key(&caller.tenant, id))?
        .map(|r| r.data)
        .ok_or_else(not_found)?;
    storage::read::<Organization>(env.kv, &keys::org(&caller.tenant, group.organization_id))?
        .map(|r| r.data)
        .filter(|o| caller.reaches(o) && o.status != Lifecycle::Deleted)
        .ok_or_else(not_found)?;
    Ok(group)
}

/// The groups `org` itself defines, sorted by name: one catalog read and
/// one batch of records (a catalog holds at most [`PER_ORGANIZATION`]).
pub fn defined_in(env: &Env, tenant: &str, org: Uuid) -> Result<Vec<Group>> {
    let Some(catalog) = read_catalogs(env, tenant, &[org])?.pop().flatten() else {
        return Ok(Vec::new());
    };
    let ids: Vec<Uuid> = catalog.entries.iter().map(|e| e.id).collect();
    Ok(by_ids(env, tenant, &ids)?
        .into_iter()
        .filter(|g| g.organization_id == org)
        .collect())
}

/// Defines a group in a customer's own organization for its users (what a
/// customer's identity provider pushes over SCIM): administrators of the
/// organization and above; the name unique in the organization
/// (case-insensitive, 409). `members` (users of the organization, checked
/// by the caller) join it in the same request.
pub fn define(
    env: &mut Env,
    caller: &Caller,
    org: Uuid,
    name: &str,
    external_id: Option<String>,
    members: &[Uuid],
) -> Result<Group> {
    caller.require(Role::CustomerAdmin)?;
    let org = crate::idm::organizations::get(env, caller, org)?;
    room_for(env, members.len())?;
    let group = Group {
        id: env.new_uuid(),
        organization_id: org.id,
        name: check_name(name)?,
        role: Role::User,
        external_id,
        created_at: env.now,
        updated_at: env.now,
    };
    let op = format!("group/{}", group.id);
    storage::write(env.kv, &key(&caller.tenant, group.id), &op, &group)?;
    let entry = Entry {
        id: group.id,
        name: group.name.clone(),
    };
    add_entry(
        env,
        &caller.tenant,
        org.id,
        &entry,
        &Catalog::default(),
        true,
        &op,
    )?;
    for user in members {
        set_member(env, &caller.tenant, group.id, *user, true, &op)?;
    }
    caller.audit(
        env,
        &op,
        "group.create",
        vec![format!("group:{}", group.id)],
        Some(&org),
    )?;
    Ok(group)
}

/// Compare-and-swaps a group change takes besides one per member it moves
/// (the catalog, the record, retries).
const CHANGE_SWAPS: usize = 8;

/// Refuses, before anything is written, a change moving `moves` members
/// that would not fit in what Spin lets one request swap
/// ([`crate::be::kv::SWAP_TABLE`]): one that never could is 400 (split
/// it); one that could in a fresh request (a Bulk request's later
/// operation) is 503, to send again.
fn room_for(env: &Env, moves: usize) -> Result<()> {
    let most = crate::be::kv::SWAP_TABLE - 1 - CHANGE_SWAPS;
    if moves > most {
        return Err(Error::invalid(
            "members",
            format!("one request adds or removes at most {most} members; split the change"),
        ));
    }
    if env.kv.swaps_left() < moves + CHANGE_SWAPS {
        return Err(Error::Unavailable(
            "this request has made all the writes it may; send the change again".into(),
        ));
    }
    Ok(())
}

/// A change to a group: `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChange {
    pub name: Option<String>,
    pub external_id: Option<Option<String>>,
    /// Users (of the group's organization, checked by the caller) to add.
    pub join: Vec<Uuid>,
    pub leave: Vec<Uuid>,
}

/// Renames a group (its catalog entry first: the name stays unique), sets
/// its external id, and moves members in and out; one audit event.
pub fn change(
    env: &mut Env,
    caller: &Caller,
    group: &Group,
    change: &GroupChange,
) -> Result<Group> {
    caller.require(Role::CustomerAdmin)?;
    let org = crate::idm::organizations::get(env, caller, group.organization_id)?;
    room_for(env, change.join.len() + change.leave.len())?;
    let op = format!("group-change{}", env.new_uuid().simple());
    if let Some(name) = &change.name {
        let name = check_name(name)?;
        let catalog_at = catalog_key(&caller.tenant, org.id);
        ensure_catalog(env, &catalog_at)?;
        storage::swap_state::<Catalog, _>(env, &catalog_at, &op, |current| {
            let mut catalog = current.cloned().unwrap_or_default();
            if catalog
                .entries
                .iter()
                .any(|e| e.id != group.id && same_name(&e.name, &name))
            {
                return Err(taken(&name));
            }
            catalog.entries.retain(|e| e.id != group.id);
            catalog.insert(Entry {
                id: group.id,
                name: name.clone(),
            });
            Ok((Some(&catalog) != current).then_some(catalog))
        })?;
    }
    let now = env.now;
    let updated = storage::update::<Group, _>(env, &key(&caller.tenant, group.id), &op, |g| {
        if let Some(name) = &change.name {
            g.name = name.trim().to_string();
        }
        if let Some(external) = &change.external_id {
            g.external_id = external.clone();
        }
        g.updated_at = now;
        Ok(())
    })?
    .data;
    for user in &change.join {
        set_member(env, &caller.tenant, group.id, *user, true, &op)?;
    }
    for user in &change.leave {
        set_member(env, &caller.tenant, group.id, *user, false, &op)?;
    }
    caller.audit(
        env,
        &op,
        "group.update",
        vec![format!("group:{}", group.id)],
        Some(&org),
    )?;
    Ok(updated)
}

/// Deletes a group: out of its organization's catalog first (no list shows
/// it and no user can be given it), then out of every member's record, then
/// the record. A retry after a failure finishes what is left; so does one
/// after a 503 for a group of more members than one request may write
/// (Spin's compare-and-swap table), which takes them out as far as it can.
pub fn delete(env: &mut Env, caller: &Caller, group: &Group) -> Result<()> {
    caller.require(Role::CustomerAdmin)?;
    let org = crate::idm::organizations::get(env, caller, group.organization_id)?;
    let op = format!("group-delete/{}", group.id);
    let catalog_at = catalog_key(&caller.tenant, org.id);
    ensure_catalog(env, &catalog_at)?;
    storage::swap_state::<Catalog, _>(env, &catalog_at, &op, |current| {
        let mut catalog = current.cloned().unwrap_or_default();
        catalog.entries.retain(|e| e.id != group.id);
        Ok((Some(&catalog) != current).then_some(catalog))
    })?;
    for user in members(env, &caller.tenant, group)? {
        if env.kv.swaps_left() < CHANGE_SWAPS {
            return Err(Error::Unavailable(
                "the group has more members than one request may take out; send the DELETE again to go on"
                    .into(),
            ));
        }
        set_member(env, &caller.tenant, group.id, user.id, false, &op)?;
    }
    env.kv.delete(&key(&caller.tenant, group.id))?;
    caller.audit(
        env,
        &op,
        "group.delete",
        vec![format!("group:{}", group.id)],
        Some(&org),
    )
}

fn members_list(group: Uuid) -> String {
    format!("group/{group}/members")
}

/// Members a group lists at most.
pub const MAX_MEMBERS: usize = 10_000;

/// Notes `user` in the member index of each of `groups` it is joining
/// (before the record names them: the index never misses a member).
pub fn note_members(env: &Env, tenant: &str, user: Uuid, groups: &[Uuid]) -> Result<()> {
    for group in groups {
        let pos = storage::index_position(env, tenant, &members_list(*group))?;
        storage::index_put(env, tenant, &members_list(*group), pos, user)?;
    }
    Ok(())
}

/// Puts `user` in or out of `group` on the user's record, by
/// compare-and-swap (so concurrent changes of one user's groups all
/// persist). A joining user is noted in the group's member index first, so
/// the index never misses a member; readers check each record. True when
/// this call changed the record.
pub fn set_member(
    env: &Env,
    tenant: &str,
    group: Uuid,
    user: Uuid,
    member: bool,
    op: &str,
) -> Result<bool> {
    let key_of_user = keys::user(tenant, user);
    let Some(current) = storage::read::<User>(env.kv, &key_of_user)?.map(|r| r.data) else {
        return Ok(false);
    };
    if current.groups.contains(&group) == member {
        return Ok(false);
    }
    if member {
        note_members(env, tenant, user, &[group])?;
    }
    let now = env.now;
    let (_, changed) =
        storage::update_if::<User, _>(env, &key_of_user, &format!("{op}/{user}"), |u| {
            if u.groups.contains(&group) == member {
                return Ok(false);
            }
            if member {
                u.groups.push(group);
            } else {
                u.groups.retain(|g| *g != group);
            }
            u.updated_at = now;
            Ok(true)
        })?;
    Ok(changed)
}

/// The live users whose record names `group` and who belong to its
/// organization, in the order they joined (at most [`MAX_MEMBERS`]).
pub fn members(env: &Env, tenant: &str, group: &Group) -> Result<Vec<User>> {
    let list = members_list(group.id);
    let slots = storage::index_len(env.kv, tenant, &list)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut from = 1;
    while from <= slots && out.len() < MAX_MEMBERS {
        let ids: Vec<Uuid> = storage::index_range(env.kv, tenant, &list, from, 100)?
            .into_iter()
            .map(|(_, id)| id)
            .filter(|id| seen.insert(*id))
            .collect();
        from += 100;
        let keys: Vec<String> = ids.iter().map(|id| keys::user(tenant, *id)).collect();
        out.extend(
            storage::read_many::<User>(env.kv, &keys)?
                .into_iter()
                .flatten()
                .filter(|u| {
                    u.groups.contains(&group.id)
                        && u.organization_id == group.organization_id
                        && u.status != Lifecycle::Deleted
                }),
        );
    }
    Ok(out)
}

/// Makes sure the catalog at `key` exists before any compare-and-swap on it:
/// on an absent key Spin's swap is an unconditional upsert, so two first
/// writes would both land. The first writer is the one whose increment
/// counts 1; the others wait for its record (or, if it died, write the
/// empty catalog themselves).
fn ensure_catalog(env: &Env, key: &str) -> Result<()> {
    if storage::read::<Catalog>(env.kv, key)?.is_some() {
        return Ok(());
    }
    if env.kv.increment(&format!("{key}/made"), 1)? == 1 {
        return storage::write(env.kv, key, "group-catalog/made", &Catalog::default());
    }
    for attempt in 0..6u32 {
        (env.pause)(std::time::Duration::from_millis(2 << attempt));
        if storage::read::<Catalog>(env.kv, key)?.is_some() {
            return Ok(());
        }
    }
    storage::create_new(env, key, "group-catalog/made", &Catalog::default()).map(drop)
}

fn root(env: &Env, tenant: &str) -> Result<Option<Uuid>> {
    Ok(crate::credential::identity::active_tenant(env, tenant)?.root_org)
}

/// The catalogs of `orgs`, in order; `None` where none was ever written.
fn read_catalogs(env: &Env, tenant: &str, orgs: &[Uuid]) -> Result<Vec<Option<Catalog>>> {
    let keys: Vec<String> = orgs.iter().map(|o| catalog_key(tenant, *o)).collect();
    storage::read_many::<Catalog>(env.kv, &keys)
}

/// `stored` (`None`: never written) with the legacy list's groups of
/// `org` from where it last looked up to `legacy` merged in; true when that
/// moved it (so it is worth writing back). Scans only the new positions.
fn caught_up(
    env: &Env,
    tenant: &str,
    org: Uuid,
    stored: Option<Catalog>,
    legacy: i64,
) -> Result<(Catalog, bool)> {
    const CHUNK: usize = 100;
    let mut catalog = stored.unwrap_or_default();
    if catalog.legacy_seen >= legacy {
        return Ok((catalog, false));
    }
    let mut from = catalog.legacy_seen + 1;
    // Seen up to the first slot not written yet: an older replica numbers a
    // slot, then writes it, so a later look finds what is still on its way.
    let mut seen = legacy;
    while from <= legacy && seen == legacy {
        let take = CHUNK.min((legacy - from + 1) as usize);
        let slots = storage::index_range(env.kv, tenant, LEGACY_LIST, from, take)?;
        if let Some(hole) = (from..from + take as i64).find(|p| !slots.iter().any(|(q, _)| q == p))
        {
            seen = hole - 1;
        }
        let keys: Vec<String> = slots
            .into_iter()
            .filter(|(p, _)| *p <= seen)
            .map(|(_, id)| key(tenant, id))
            .collect();
        for g in storage::read_many::<Group>(env.kv, &keys)?
            .into_iter()
            .flatten()
            .filter(|g| g.organization_id == org)
        {
            catalog.insert(Entry {
                id: g.id,
                name: g.name,
            });
        }
        from += take as i64;
    }
    let moved = seen > catalog.legacy_seen;
    catalog.legacy_seen = seen;
    Ok((catalog, moved))
}

/// The groups assignable to users of `organization_id` (an organization in
/// the caller's reach; default the caller's own, or the tenant's root for an
/// operator): those its chain defines, the tenant's root included, sorted
/// by name, one page of `per_page`. A handful of key-value calls, whatever
/// the page or the tenant's size.
pub fn list(
    env: &Env,
    caller: &Caller,
    organization_id: Option<Uuid>,
    page: usize,
    per_page: usize,
) -> Result<Page<Entry>> {
    let home = match (organization_id, caller.org) {
        (Some(id), _) => Some(
            crate::idm::organizations::get(env, caller, id)
                .map_err(|_| Error::invalid("organizationId", "is not an organization in reach"))?,
        ),
        (None, Some(own)) => {
            storage::read::<Organization>(env.kv, &keys::org(&caller.tenant, own))?.map(|r| r.data)
        }
        (None, None) => None,
    };
    let mut orgs = home
        .as_ref()
        .map(crate::idm::reach::chain)
        .unwrap_or_default();
    if let Some(root) = root(env, &caller.tenant)?
        && !orgs.contains(&root)
    {
        orgs.insert(0, root);
    }
    let legacy = storage::index_len(env.kv, &caller.tenant, LEGACY_LIST)?;
    let mut entries = Vec::new();
    for (org, stored) in orgs.iter().zip(read_catalogs(env, &caller.tenant, &orgs)?) {
        let (catalog, moved) = caught_up(env, &caller.tenant, *org, stored, legacy)?;
        if moved {
            // Written back (even empty), so the scan is not paid again.
            ensure_catalog(env, &catalog_key(&caller.tenant, *org))?;
            storage::swap_state::<Catalog, _>(
                env,
                &catalog_key(&caller.tenant, *org),
                &format!("group-catalog/{org}/legacy/{legacy}"),
                |current| {
                    let merged = Catalog::merged(current, &catalog);
                    Ok((Some(&merged) != current).then_some(merged))
                },
            )?;
        }
        entries.extend(catalog.entries);
    }
    entries.sort_by_key(order);
    let total = entries.len();
    let items = entries
        .into_iter()
        .skip(page.saturating_sub(1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    Ok(Page {
        items,
        total,
        span: total,
        truncated: false,
    })
}

/// The groups `ids` for a user of `org`: each must exist and be defined in
/// `org`'s chain (its own organization or above, the tenant's root
/// included). Every failing one is named (`<field>[i].id`).
pub fn assignable(
    env: &Env,
    tenant: &str,
    org: &Organization,
    ids: &[Uuid],
    field: &str,
) -> Result<Vec<Group>> {
    let keys: Vec<String> = ids.iter().map(|id| key(tenant, *id)).collect();
    let found = storage::read_many::<Group>(env.kv, &keys)?;
    // The tenant's root sits above every organization, also those made
    // directly by an operator (which have no ancestors).
    let mut chain = crate::idm::reach::chain(org);
    if let Some(root) = crate::credential::identity::active_tenant(env, tenant)?.root_org {
        chain.push(root);
    }
    let mut errors = FieldErrors::default();
    let mut groups = Vec::new();
    for (i, g) in found.into_iter().enumerate() {
        match g.filter(|g| chain.contains(&g.organization_id)) {
            Some(g) => groups.push(g),
            None => errors.add(format!("{field}[{i}].id"), "The group was not found."),
        }
    }
    errors.into_result()?;
    if org.status == Lifecycle::Deleted {
        return Err(Error::NotFound("organization not found".into()));
    }
    Ok(groups)
}

/// Groups by id, in order (absent ones skipped), for rendering users.
pub fn by_ids(env: &Env, tenant: &str, ids: &[Uuid]) -> Result<Vec<Group>> {
    let keys: Vec<String> = ids.iter().map(|id| key(tenant, *id)).collect();
    Ok(storage::read_many::<Group>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .collect())
}
