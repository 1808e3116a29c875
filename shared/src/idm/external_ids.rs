//! An identity provider's `externalId` to the users carrying it in one
//! organization: what `filter=externalId eq "..."` (sent before every
//! create) reads, one key whatever the organization's size.
//!
//! An entry is written before the record that carries the id, so a request
//! that dies between the two leaves an entry naming a user without it,
//! which readers skip; never a user that the index misses.

use uuid::Uuid;

use crate::base::error::Result;
use crate::base::model::{Lifecycle, User};
use crate::be::storage::{self, Env, keys};

/// Users one entry remembers; past it, the oldest that does not hold the id
/// goes.
const KEPT: usize = 16;

fn key(tenant: &str, org: Uuid, external_id: &str) -> String {
    format!(
        "t/{tenant}/external-id/{org}/{}",
        storage::sha256_hex(external_id.as_bytes())
    )
}

/// Notes that `user` carries (or is about to carry) `external_id` in `org`.
/// Entries whose user no longer carries it (a create that failed, an id
/// handed on) go first, so a live holder is never pushed out by them.
pub fn note(env: &Env, tenant: &str, org: Uuid, external_id: &str, user: Uuid) -> Result<()> {
    let at = key(tenant, org, external_id);
    let listed = storage::read::<Vec<Uuid>>(env.kv, &at)?
        .map(|r| r.data)
        .unwrap_or_default();
    if listed.contains(&user) {
        return Ok(());
    }
    let keys: Vec<String> = listed.iter().map(|id| keys::user(tenant, *id)).collect();
    let found = storage::read_many::<User>(env.kv, &keys)?;
    // Holders carry the id; a user not written yet may be a create on its
    // way; the rest were handed the id and gave it up.
    let holders: Vec<Uuid> = found
        .iter()
        .flatten()
        .filter(|u| u.directory.external_id.as_deref() == Some(external_id))
        .map(|u| u.id)
        .collect();
    let stale: Vec<Uuid> = found
        .iter()
        .flatten()
        .map(|u| u.id)
        .filter(|id| !holders.contains(id))
        .collect();
    let op = format!("ext/{user}");
    storage::swap_state::<Vec<Uuid>, _>(env, &at, &op, |current| {
        let mut ids = current.cloned().unwrap_or_default();
        if ids.contains(&user) {
            return Ok(None);
        }
        ids.retain(|id| !stale.contains(id));
        ids.push(user);
        if ids.len() > KEPT
            && let Some(at) = ids.iter().position(|id| !holders.contains(id))
        {
            ids.remove(at);
        }
        Ok(Some(ids))
    })?;
    Ok(())
}

/// The live users of `org` whose `externalId` is exactly `external_id`.
pub fn lookup(env: &Env, tenant: &str, org: Uuid, external_id: &str) -> Result<Vec<User>> {
    let Some(ids) = storage::read::<Vec<Uuid>>(env.kv, &key(tenant, org, external_id))? else {
        return Ok(Vec::new());
    };
    let keys: Vec<String> = ids.data.iter().map(|id| keys::user(tenant, *id)).collect();
    Ok(storage::read_many::<User>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .filter(|u| {
            u.organization_id == org
                && u.status != Lifecycle::Deleted
                && u.directory.external_id.as_deref() == Some(external_id)
        })
        .collect())
}
