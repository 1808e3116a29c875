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

/// Users one entry remembers (an id handed from user to user); the oldest
/// go first.
const KEPT: usize = 16;

fn key(tenant: &str, org: Uuid, external_id: &str) -> String {
    format!(
        "t/{tenant}/external-id/{org}/{}",
        storage::sha256_hex(external_id.as_bytes())
    )
}

/// Notes that `user` carries (or is about to carry) `external_id` in `org`.
pub fn note(env: &Env, tenant: &str, org: Uuid, external_id: &str, user: Uuid) -> Result<()> {
    let op = format!("ext/{user}");
    storage::swap_state::<Vec<Uuid>, _>(env, &key(tenant, org, external_id), &op, |current| {
        let mut ids = current.cloned().unwrap_or_default();
        if ids.contains(&user) {
            return Ok(None);
        }
        ids.push(user);
        if ids.len() > KEPT {
            ids.remove(0);
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
