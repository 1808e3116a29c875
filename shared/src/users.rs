//! Reading and changing one user, for every family.

use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::model::{Lifecycle, Organization, Profile, Role, User};
use crate::storage::{self, ClaimOutcome, Env, claim, commit_claim, keys, release_claim};
use crate::validate;

/// A partial change: `None` leaves a field alone. For profile fields
/// `Some(None)` clears the field (JSON `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub email: Option<String>,
    pub organization_id: Option<Uuid>,
    pub profile: ProfileChange,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub locale: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub mobile_phone: Option<Option<String>>,
    pub url: Option<Option<String>>,
    pub title: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub city: Option<Option<String>>,
    pub state: Option<Option<String>>,
    pub country: Option<Option<String>>,
    pub zipcode: Option<Option<String>>,
    pub comment: Option<Option<String>>,
}

impl ProfileChange {
    fn apply(&self, p: &mut Profile) {
        let set = |field: &mut Option<String>, change: &Option<Option<String>>| {
            if let Some(value) = change {
                *field = value.clone();
            }
        };
        set(&mut p.first_name, &self.first_name);
        set(&mut p.last_name, &self.last_name);
        set(&mut p.locale, &self.locale);
        set(&mut p.timezone, &self.timezone);
        set(&mut p.phone, &self.phone);
        set(&mut p.mobile_phone, &self.mobile_phone);
        set(&mut p.url, &self.url);
        set(&mut p.title, &self.title);
        set(&mut p.address, &self.address);
        set(&mut p.city, &self.city);
        set(&mut p.state, &self.state);
        set(&mut p.country, &self.country);
        set(&mut p.zipcode, &self.zipcode);
        set(&mut p.comment, &self.comment);
    }
}

fn org(env: &Env, tenant: &str, id: Uuid) -> Result<Option<Organization>> {
    Ok(storage::read::<Organization>(env.kv, &keys::org(tenant, id))?.map(|r| r.data))
}

/// A user the caller may read: 404 outside the caller's reach (through the
/// user's organization), 403 for a plain user reading someone else in reach.
pub fn get(env: &Env, caller: &Caller, id: Uuid) -> Result<(User, Organization)> {
    let found = reachable(env, caller, id)?;
    if caller.role == Role::User && caller.user != Some(id) {
        return Err(Error::Forbidden("users may only read themselves".into()));
    }
    Ok(found)
}

/// A user in the caller's reach, else 404.
fn reachable(env: &Env, caller: &Caller, id: Uuid) -> Result<(User, Organization)> {
    let not_found = || Error::NotFound(format!("user {id} not found"));
    let user = storage::read::<User>(env.kv, &keys::user(&caller.tenant, id))?
        .map(|r| r.data)
        .filter(|u| u.status != Lifecycle::Deleted)
        .ok_or_else(not_found)?;
    let organization = org(env, &caller.tenant, user.organization_id)?
        .filter(|o| caller.reaches(o))
        .ok_or_else(not_found)?;
    Ok((user, organization))
}

/// Applies a partial change. A new email is claimed before the record changes
/// and the old one released after, so two concurrent moves to one address
/// cannot both win; field changes go through compare-and-swap, so concurrent
/// changes of different fields all persist.
pub fn update(env: &mut Env, caller: &Caller, id: Uuid, change: &UserChange) -> Result<User> {
    let (current, _) = reachable(env, caller, id)?;
    caller.require(Role::CustomerAdmin)?;
    if current.role < caller.role {
        return Err(Error::Forbidden(
            "cannot change an account with a wider role than your own".into(),
        ));
    }
    apply(env, caller, current, change)
}

/// The signed-in user changes their own profile and email (not their
/// organization).
pub fn update_me(env: &mut Env, caller: &Caller, change: &UserChange) -> Result<User> {
    let id = caller
        .user
        .ok_or_else(|| Error::Forbidden("not a signed-in user".into()))?;
    if change.organization_id.is_some() {
        return Err(Error::invalid(
            "user.organization_id",
            "can't be changed here",
        ));
    }
    let (current, _) = reachable(env, caller, id)?;
    apply(env, caller, current, change)
}

fn apply(env: &mut Env, caller: &Caller, current: User, change: &UserChange) -> Result<User> {
    let tenant = caller.tenant.clone();
    let id = current.id;
    if let Some(target) = change.organization_id {
        let reachable = org(env, &tenant, target)?
            .is_some_and(|o| caller.reaches(&o) && o.status != Lifecycle::Deleted);
        if !reachable {
            return Err(Error::invalid("user.organization_id", "does not exist"));
        }
    }
    let op = format!("u{}", env.new_uuid().simple());

    let new_email = change
        .email
        .as_ref()
        .filter(|e| validate::normalize_email(e) != validate::normalize_email(&current.email));
    let new_claim = match new_email {
        None => None,
        Some(email) => {
            let key = keys::email(&tenant, &validate::normalize_email(email));
            match claim(env, &key, &op, false)? {
                ClaimOutcome::Held(c) => Some((key, c)),
                _ => return Err(Error::invalid("user.email", "has already been taken")),
            }
        }
    };

    let now = env.now;
    let updated = storage::update::<User, _>(env, &keys::user(&tenant, id), &op, |u| {
        if let Some(email) = &change.email {
            u.email = email.clone();
        }
        if let Some(org) = change.organization_id {
            u.organization_id = org;
        }
        change.profile.apply(&mut u.profile);
        u.updated_at = now;
        Ok(())
    });
    let updated = match updated {
        Ok(record) => record.data,
        Err(e) => {
            if let Some((key, c)) = &new_claim {
                let _ = release_claim(env, key, c);
            }
            return Err(e);
        }
    };

    if let Some((key, c)) = &new_claim {
        commit_claim(env, key, c, id)?;
        let old_key = keys::email(&tenant, &validate::normalize_email(&current.email));
        if let Some(old) = storage::read::<storage::Claim>(env.kv, &old_key)?
            && old.data.target == Some(id)
        {
            release_claim(env, &old_key, &old.data)?;
        }
    }
    if let Some(target) = change
        .organization_id
        .filter(|t| *t != current.organization_id)
    {
        let list = format!("org/{target}/members");
        let pos = storage::index_position(env, &tenant, &list)?;
        storage::index_put(env, &tenant, &list, pos, id)?;
    }
    storage::audit_action(
        env,
        &op,
        &tenant,
        &caller.actor,
        "user.update",
        vec![format!("user:{id}")],
    )?;
    Ok(updated)
}

/// The signed-in user changes their password: the current one is required,
/// the new one must meet the tenant's policy. Other sessions stay open.
pub fn change_password(
    env: &mut Env,
    caller: &Caller,
    current_password: &str,
    new_password: &str,
    params: crate::password::HashParams,
) -> Result<()> {
    let id = caller
        .user
        .ok_or_else(|| Error::Forbidden("not a signed-in user".into()))?;
    let (user, _) = reachable(env, caller, id)?;
    let matches = user
        .password_hash
        .as_deref()
        .is_some_and(|h| crate::password::verify(current_password, h));
    if !matches {
        return Err(Error::invalid("user.current_password", "is invalid"));
    }
    let settings = crate::provision::load_settings(env.kv, &caller.tenant)?;
    let mut errors = crate::error::FieldErrors::default();
    for problem in crate::password::check(new_password, &settings.password) {
        errors.add("user.password", problem);
    }
    errors.into_result()?;
    let hash = crate::password::hash(new_password, params, (env.random)());
    let op = format!("pw{}", env.new_uuid().simple());
    let now = env.now;
    storage::update::<User, _>(env, &keys::user(&caller.tenant, id), &op, |u| {
        u.password_hash = Some(hash.clone());
        u.updated_at = now;
        Ok(())
    })?;
    storage::audit_action(
        env,
        &op,
        &caller.tenant,
        &caller.actor,
        "user.password_change",
        vec![format!("user:{id}")],
    )?;
    Ok(())
}
