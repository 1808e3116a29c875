//! Impersonation (Clone `POST` / `DELETE /auth/impersonate`): an operator or
//! administrator acts as a user of narrower role within its reach, for
//! support. The impersonated session is a Clone session of the user whose
//! token carries an RFC 8693 `act` claim naming the impersonator, and whose
//! record keeps who it is and the keyed hash of the revert token that ends
//! it. Such a caller cannot impersonate again, change the password or the
//! second factor, or mint long-lived access tokens, and every request it
//! makes is audited with both identities.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::model::{Organization, Tenant, User};
use crate::base::time::Millis;
use crate::be::storage::{self, Env, keys};
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config, Family, Session, gkeys};
use crate::credential::secrets;

/// How long an impersonated session lives (shorter than a sign-in).
pub const TTL_MS: Millis = 60 * 60 * 1000;

/// Who impersonates, kept in the impersonated session's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impersonation {
    /// The impersonator.
    pub user: Uuid,
    /// The impersonator's own session, which the revert returns to.
    pub sid: String,
    /// Keyed hash ([`secrets::seal`]) of the revert token.
    pub revert: String,
}

/// A started impersonation: the impersonated caller and session, and the
/// revert token (shown once).
pub struct Started {
    pub caller: Caller,
    pub user: User,
    pub organization: Organization,
    pub sid: String,
    pub revert_token: String,
}

/// 403 for what an impersonated caller may not do.
pub fn refuse_impersonated(caller: &Caller, what: &str) -> Result<()> {
    match caller.impersonator {
        Some(_) => Err(Error::Forbidden(format!(
            "an impersonated session cannot {what}"
        ))),
        None => Ok(()),
    }
}

use crate::credential::secrets::keys_missing;

/// Starts impersonating `target` as `caller`: an administrator's own
/// signed-in session (not an access token, not an impersonation), a target
/// in its reach with a narrower role. `find` reads the target as the caller
/// may (the domain's read, which this layer sits below).
pub fn start(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    target: Uuid,
    find: impl FnOnce(&Env, &Caller, Uuid) -> Result<User>,
) -> Result<Started> {
    refuse_impersonated(caller, "impersonate")?;
    let (Some(me), Some(own_sid)) = (caller.user, caller.session.clone()) else {
        return Err(Error::Forbidden(
            "impersonate from a signed-in session (Bearer token)".into(),
        ));
    };
    if !caller.role.is_admin() {
        return Err(Error::Forbidden("only administrators impersonate".into()));
    }
    let user = find(env, caller, target)?;
    if user.id == me || user.role <= caller.role {
        return Err(Error::Forbidden(
            "only a user with a narrower role than yours can be impersonated".into(),
        ));
    }
    let tenant = identity::active_tenant(env, &caller.tenant)?;
    let revert_token = secrets::random_secret(env.random);
    let revert = secrets::seal(&config.token_keys, &revert_token).ok_or_else(keys_missing)?;
    let sid = env.new_uuid().simple().to_string();
    let session = Session {
        user: user.id,
        family: Family::Clone,
        created_at: env.now,
        expires_at: env.now + TTL_MS,
        revoked: false,
        refresh: None,
        impersonation: Some(Impersonation {
            user: me,
            sid: own_sid,
            revert,
        }),
    };
    let (mut impersonated, user, organization) =
        identity::caller_for(env, &tenant, user, env.now, Some(sid.clone()), None)?;
    impersonated.impersonator = Some(me);
    let op = format!("impersonate/{sid}");
    storage::write(env.kv, &gkeys::session(&tenant.id, &sid), &op, &session)?;
    caller.audit(
        env,
        &op,
        "session.impersonate",
        vec![format!("user:{}", user.id), format!("session:{sid}")],
        Some(&organization),
    )?;
    Ok(Started {
        caller: impersonated,
        user,
        organization,
        sid,
        revert_token,
    })
}

/// Ends the impersonation `caller` is, with its revert token, and gives back
/// the impersonator's own session (which must still be live).
pub fn stop(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    revert_token: &str,
) -> Result<(Caller, User, Organization, String)> {
    let not_impersonating = || Error::Forbidden("this session is not an impersonation".into());
    let sid = caller.session.clone().ok_or_else(not_impersonating)?;
    caller.impersonator.ok_or_else(not_impersonating)?;
    let key = gkeys::session(&caller.tenant, &sid);
    let session = storage::read::<Session>(env.kv, &key)?
        .map(|r| r.data)
        .ok_or_else(not_impersonating)?;
    let imp = session.impersonation.ok_or_else(not_impersonating)?;
    if revert_token.len() > 128
        || !secrets::unseal_matches(&config.token_keys, &imp.revert, revert_token)
    {
        return Err(Error::Unauthenticated(
            "invalid impersonator_revert_token".into(),
        ));
    }
    let op = format!("impersonate-end/{sid}");
    storage::update::<Session, _>(env, &key, &op, |s| {
        s.revoked = true;
        Ok(())
    })?;
    let ended = || Error::Unauthenticated("your own session has ended: sign in again".into());
    let tenant = identity::active_tenant(env, &caller.tenant)?;
    let user = impersonator(env, &tenant, &imp)?.ok_or_else(ended)?;
    let (original, user, organization) =
        identity::caller_for(env, &tenant, user, env.now, Some(imp.sid.clone()), None)?;
    original.audit(
        env,
        &op,
        "session.impersonate.end",
        vec![format!("user:{}", session.user), format!("session:{sid}")],
        None,
    )?;
    Ok((original, user, organization, imp.sid))
}

/// An impersonation lives only while its impersonator could start it: the
/// impersonator's own session still live, the impersonator still allowed
/// to sign in and still of a wider role than `user`.
pub fn check_impersonator(
    env: &Env,
    tenant: &Tenant,
    imp: &Impersonation,
    user: &User,
) -> Result<()> {
    let still_allowed = impersonator(env, tenant, imp)?
        .is_some_and(|u| u.status.may_authenticate() && u.role < user.role);
    if still_allowed {
        Ok(())
    } else {
        Err(Error::Unauthenticated(
            "the impersonating session has ended".into(),
        ))
    }
}

/// The impersonator's user record, if its own session is still live.
fn impersonator(env: &Env, tenant: &Tenant, imp: &Impersonation) -> Result<Option<User>> {
    let Some(session) = storage::read::<Session>(env.kv, &gkeys::session(&tenant.id, &imp.sid))?
        .map(|r| r.data)
        .filter(|s| !s.revoked && s.expires_at > env.now && s.user == imp.user)
    else {
        return Ok(None);
    };
    // A reset of the impersonator's password ended its session too.
    Ok(
        storage::read::<User>(env.kv, &keys::user(&tenant.id, imp.user))?
            .map(|r| r.data)
            .filter(|u| session.created_at >= u.credentials_floor()),
    )
}

/// Records one request made by an impersonated caller, with both identities.
pub fn audit_request(env: &Env, caller: &Caller, method: &str, path: &str) -> Result<()> {
    let Some(impersonator) = caller.impersonator else {
        return Ok(());
    };
    let sid = caller.session.as_deref().unwrap_or_default();
    let mut path: String = path.chars().take(200).collect();
    path.retain(|c| !c.is_control());
    caller.audit(
        env,
        &format!("impersonated/{sid}/{}", env.now),
        "impersonation.request",
        vec![
            format!("impersonator:user:{impersonator}"),
            format!("request:{method} {path}"),
        ],
        None,
    )
}
