//! Groups: named sets of users, defined by an operator (in the tenant's root
//! organization) or a reseller (in its own organization) and assignable to
//! users of that organization's subtree. CloudCockpit's `groups` on a portal
//! user name them by id.
//!
//! Keys: `t/{t}/group/{id}` (the record) and the index list `groups` with its
//! kept count. Groups are few per tenant, so a list is one scan of the index
//! (at most [`listing::SCAN_CAP`] groups), sorted by name.

use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{Error, FieldErrors, Result};
use crate::listing::{self, ListQuery, Page, Row};
use crate::model::{Group, Lifecycle, OrgKind, Organization, Role};
use crate::storage::{self, Env, keys};

pub fn key(tenant: &str, id: Uuid) -> String {
    format!("t/{tenant}/group/{id}")
}

const LIST: &str = "groups";

/// Longest group name.
pub const NAME_MAX: usize = 255;

/// Defines a group in `organization_id` (default: the caller's own
/// organization, or the tenant's root for an operator). Operators and
/// reseller administrators only; the organization must be a reseller (or the
/// root) in reach.
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
        (None, None) => crate::identity::active_tenant(env, &caller.tenant)?
            .root_org
            .ok_or_else(|| Error::Unavailable("tenant has no root organization".into()))?,
    };
    let org = crate::organizations::get(env, caller, org_id)
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
    };
    let op = format!("group/{}", group.id);
    storage::write(env.kv, &key(&caller.tenant, group.id), &op, &group)?;
    crate::reach::append(env, &caller.tenant, &[LIST.to_string()], group.id)?;
    storage::bump_count(env, &caller.tenant, LIST, 1)?;
    caller.audit(
        env,
        &op,
        "group.create",
        vec![format!("group:{}", group.id)],
        Some(&org),
    )?;
    Ok(group)
}

/// The groups the caller sees (defined in its subtree, or above it and so
/// assignable to its users), sorted by name, one page of `per_page`.
pub fn list(env: &Env, caller: &Caller, page: usize, per_page: usize) -> Result<Page<Group>> {
    let query = ListQuery {
        sort: Some(("name".into(), false)),
        ..ListQuery::page(page, per_page)
    };
    let mut chain: Vec<Uuid> = Vec::new();
    if let Some(own) = caller.org
        && let Some(o) = storage::read::<Organization>(env.kv, &keys::org(&caller.tenant, own))?
    {
        chain = crate::reach::chain(&o.data);
        if let Some(root) = crate::identity::active_tenant(env, &caller.tenant)?.root_org {
            chain.push(root);
        }
    }
    listing::run(
        env.kv,
        &caller.tenant,
        LIST,
        LIST,
        &query,
        |ids| {
            let keys: Vec<String> = ids.iter().map(|id| key(&caller.tenant, *id)).collect();
            let groups: Vec<Group> = storage::read_many::<Group>(env.kv, &keys)?
                .into_iter()
                .flatten()
                .collect();
            if caller.org.is_none() {
                return Ok(groups);
            }
            // Above the caller (its chain), or defined within its reach: one
            // read of the defining organizations.
            let mut orgs: Vec<Uuid> = groups
                .iter()
                .map(|g| g.organization_id)
                .filter(|o| !chain.contains(o))
                .collect();
            orgs.sort();
            orgs.dedup();
            let keys: Vec<String> = orgs.iter().map(|o| keys::org(&caller.tenant, *o)).collect();
            let within: Vec<Uuid> = storage::read_many::<Organization>(env.kv, &keys)?
                .into_iter()
                .flatten()
                .filter(|o| caller.reaches(o))
                .map(|o| o.id)
                .collect();
            let out: Vec<Group> = groups
                .into_iter()
                .filter(|g| {
                    chain.contains(&g.organization_id) || within.contains(&g.organization_id)
                })
                .collect();
            Ok(out)
        },
        |g| Row {
            columns: vec![("name", g.name.to_lowercase())],
            date: 0,
            item: g,
        },
    )
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
    let mut chain = crate::reach::chain(org);
    if let Some(root) = crate::identity::active_tenant(env, tenant)?.root_org {
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
