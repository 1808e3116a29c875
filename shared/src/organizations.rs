//! Reading and changing one organization, for every family.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::model::{Lifecycle, Organization, Role};
use crate::storage::{self, Env, keys};

/// An organization the caller reaches, else 404.
pub fn get(env: &Env, caller: &Caller, id: Uuid) -> Result<Organization> {
    storage::read::<Organization>(env.kv, &keys::org(&caller.tenant, id))?
        .map(|r| r.data)
        .filter(|o| caller.reaches(o) && o.status != Lifecycle::Deleted)
        .ok_or_else(|| Error::NotFound(format!("organization {id} not found")))
}

/// A change of an organization's names and details. `details` entries with
/// `None` are removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgChange {
    pub name: Option<String>,
    pub company_name: Option<String>,
    pub description: Option<Option<String>>,
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
    storage::audit_action(
        env,
        &op,
        &caller.tenant,
        &caller.actor,
        "organization.update",
        vec![format!("organization:{id}")],
    )?;
    Ok(updated)
}

/// A new organization below `parent` (or at the top of the tenant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewOrganization {
    pub name: String,
    pub company_name: Option<String>,
    pub parent: Option<Uuid>,
    pub details: BTreeMap<String, String>,
}

/// Creates a customer organization: resellers below themselves, operators
/// anywhere; the parent must be a reseller in reach.
pub fn create_customer_org(
    env: &mut Env,
    caller: &Caller,
    input: &NewOrganization,
) -> Result<Organization> {
    caller.require(Role::ResellerAdmin)?;
    let parent = match input.parent {
        Some(id) => {
            let p = get(env, caller, id)?;
            if p.kind != crate::model::OrgKind::Reseller {
                return Err(Error::invalid("resellerId", "is not a reseller"));
            }
            Some(p)
        }
        None if caller.org.is_some() => {
            return Err(Error::invalid("resellerId", "is required"));
        }
        None => None,
    };
    let id = env.new_uuid();
    let op = format!("org-details/{id}");
    crate::provision::create_organization(
        env,
        &caller.tenant,
        id,
        &input.name,
        crate::model::OrgKind::Customer,
        parent.as_ref(),
    )?;
    let now = env.now;
    let org = storage::update::<Organization, _>(env, &keys::org(&caller.tenant, id), &op, |o| {
        o.company_name = input.company_name.clone();
        o.details = input.details.clone();
        o.updated_at = now;
        Ok(())
    })?
    .data;
    storage::audit_action(
        env,
        &op,
        &caller.tenant,
        &caller.actor,
        "organization.create",
        vec![format!("organization:{id}")],
    )?;
    Ok(org)
}
