//! The index lists and kept counts that give every caller a list of what it
//! reaches at O(page size) cost: the tenant's lists for operators, and for an
//! organization the lists of everything in its subtree.
//!
//! A user appears in `users`, its organization's `members`, and the
//! `subtree-users` list of its organization and of each ancestor; an
//! organization in `orgs`, its parent's `children`, and the `subtree-orgs`
//! list of itself and each ancestor. Counts follow the same chain, so a
//! reseller's total is one read. Entries are never removed: a deleted or
//! moved-away record is skipped when read.

use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::model::{OrgKind, Organization, Role};
use crate::be::storage::{self, Env};
use crate::credential::auth::Caller;

/// The organization's chain: its ancestors (root first), then itself.
pub fn chain(org: &Organization) -> Vec<Uuid> {
    org.chain()
}

/// The lists a user of `org` appears in.
pub fn user_lists(org: &Organization) -> Vec<String> {
    let mut lists = vec!["users".to_string(), format!("org/{}/members", org.id)];
    lists.extend(chain(org).iter().map(|o| format!("org/{o}/subtree-users")));
    lists
}

/// The counts a user of `org` is counted in.
pub fn user_counts(org: &Organization) -> Vec<String> {
    let mut counts = vec!["users".to_string()];
    counts.extend(chain(org).iter().map(|o| format!("org/{o}/users")));
    counts
}

/// The lists an organization appears in; a customer also in the customer
/// lists (CloudCockpit's customer list reads them).
pub fn org_lists(org: &Organization) -> Vec<String> {
    let mut lists = vec!["orgs".to_string()];
    if let Some(p) = org.parent {
        lists.push(format!("org/{p}/children"));
    }
    lists.extend(chain(org).iter().map(|o| format!("org/{o}/subtree-orgs")));
    if org.kind == OrgKind::Customer {
        lists.push("customers".to_string());
        lists.extend(
            chain(org)
                .iter()
                .map(|o| format!("org/{o}/subtree-customers")),
        );
    }
    lists
}

/// The counts of live organizations an organization is counted in.
pub fn org_counts(org: &Organization) -> Vec<String> {
    let mut counts = vec!["orgs".to_string()];
    counts.extend(chain(org).iter().map(|o| format!("org/{o}/orgs")));
    counts
}

/// What a new organization adds to: the live counts, and for a customer the
/// customer counts, which count deleted customers too (CloudCockpit lists
/// deleted customers unless asked not to) and so never go down.
pub fn created_org_counts(org: &Organization) -> Vec<String> {
    let mut counts = org_counts(org);
    if org.kind == OrgKind::Customer {
        counts.push("customers".to_string());
        counts.extend(chain(org).iter().map(|o| format!("org/{o}/customers")));
    }
    counts
}

/// The customer list and count a caller reads (its subtree's, or the
/// tenant's for an operator).
pub fn customers_of(caller: &Caller) -> (String, String) {
    match caller.org {
        None => ("customers".into(), "customers".into()),
        Some(o) => (
            format!("org/{o}/subtree-customers"),
            format!("org/{o}/customers"),
        ),
    }
}

pub fn bump(env: &Env, tenant: &str, counts: &[String], delta: i64) -> Result<()> {
    for c in counts {
        storage::bump_count(env, tenant, c, delta)?;
    }
    Ok(())
}

pub fn append(env: &Env, tenant: &str, lists: &[String], id: Uuid) -> Result<()> {
    for list in lists {
        let pos = storage::index_position(env, tenant, list)?;
        storage::index_put(env, tenant, list, pos, id)?;
    }
    Ok(())
}

/// The user list and count a caller's `GET users` reads. Plain users list
/// no one (403).
pub fn users_of(caller: &Caller) -> Result<(String, String)> {
    match (caller.role, caller.org) {
        (Role::User, _) => Err(Error::Forbidden("users may not list users".into())),
        (_, None) => Ok(("users".into(), "users".into())),
        (_, Some(o)) => Ok((format!("org/{o}/subtree-users"), format!("org/{o}/users"))),
    }
}

/// The organization list and count a caller's `GET organizations` reads.
pub fn orgs_of(caller: &Caller) -> (String, String) {
    match caller.org {
        None => ("orgs".into(), "orgs".into()),
        Some(o) => (format!("org/{o}/subtree-orgs"), format!("org/{o}/orgs")),
    }
}
