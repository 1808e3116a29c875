//! Integer ids for families that number things (Gcore users, clients and
//! API tokens; CloudCockpit and Apiculus reseller ids), given out lazily
//! from per-tenant counters the first time a record is seen through such a
//! family, so every record keeps one number forever.
//!
//! The number is taken with an atomic increment, its reverse index
//! `t/{t}/{kind}-number/{n}` is written, and only then is the number written
//! into the record by compare-and-swap, if it still has none: so a crash at
//! any point leaves every number a record carries resolvable. A racing
//! assignment keeps the first number written; the other's index entry is
//! taken back (a crash in between leaves it naming the same record).

use uuid::Uuid;

use crate::base::error::Result;
use crate::base::model::{Organization, User};
use crate::be::storage::{self, Env, keys};

fn index_key(tenant: &str, kind: &str, n: u64) -> String {
    format!("t/{tenant}/{kind}-number/{n}")
}

fn assign<T, G, S>(
    env: &Env,
    tenant: &str,
    kind: &str,
    key: &str,
    id: Uuid,
    get: G,
    set: S,
) -> Result<u64>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    G: Fn(&T) -> Option<u64>,
    S: Fn(&mut T, u64),
{
    let fresh = storage::bump_count(env, tenant, &format!("{kind}-number"), 1)? as u64;
    let index = index_key(tenant, kind, fresh);
    env.kv.set(&index, id.to_string().as_bytes())?;
    let op = format!("{kind}-number/{fresh}");
    let record = storage::update::<T, _>(env, key, &op, |r| {
        if get(r).is_none() {
            set(r, fresh);
        }
        Ok(())
    })?;
    let n = get(&record.data).unwrap_or(fresh);
    if n != fresh {
        // Another request numbered the record first: this number is a hole.
        let _ = env.kv.delete(&index);
    }
    Ok(n)
}

/// The user's number, assigning one if it has none.
pub fn user_number(env: &Env, tenant: &str, user: &User) -> Result<u64> {
    if let Some(n) = user.number {
        return Ok(n);
    }
    assign::<User, _, _>(
        env,
        tenant,
        "user",
        &keys::user(tenant, user.id),
        user.id,
        |u| u.number,
        |u, n| u.number = Some(n),
    )
}

/// The organization's number, assigning one if it has none.
pub fn org_number(env: &Env, tenant: &str, org: &Organization) -> Result<u64> {
    if let Some(n) = org.number {
        return Ok(n);
    }
    assign::<Organization, _, _>(
        env,
        tenant,
        "org",
        &keys::org(tenant, org.id),
        org.id,
        |o| o.number,
        |o, n| o.number = Some(n),
    )
}

fn by_number(env: &Env, tenant: &str, kind: &str, n: u64) -> Result<Option<Uuid>> {
    Ok(env
        .kv
        .get(&index_key(tenant, kind, n))?
        .and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok()))
}

pub fn user_by_number(env: &Env, tenant: &str, n: u64) -> Result<Option<Uuid>> {
    by_number(env, tenant, "user", n)
}

pub fn org_by_number(env: &Env, tenant: &str, n: u64) -> Result<Option<Uuid>> {
    by_number(env, tenant, "org", n)
}

/// The user holding an account code (Apiculus `API-E001`), if any. Codes
/// are written to `t/{t}/account-code/{code}` when assigned.
pub fn user_by_code(env: &Env, tenant: &str, code: &str) -> Result<Option<Uuid>> {
    let valid = !code.is_empty()
        && code.len() <= 40
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Ok(None);
    }
    Ok(env
        .kv
        .get(&format!("t/{tenant}/account-code/{code}"))?
        .and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok()))
}
