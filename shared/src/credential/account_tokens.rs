//! Account tokens: what confirms an email, accepts an invitation or resets
//! a password, and the flows that spend them.
//!
//! A token is `<id>.<mac>`: a random id naming its record and
//! `HMAC(token_keys, "account-token/<tenant>/<id>")`. Nothing of the mac is
//! stored, so the store alone cannot make a token; the outbox rebuilds it
//! to deliver it. A token is checked against every configured key (a
//! rotation leaves outstanding tokens good while the old key is listed), is
//! bound to its tenant, purpose and user, expires after its tenant's
//! [`TokenTtl`](crate::model::TokenTtl), and is spent by compare-and-swap on
//! its record, so two requests racing with one token cannot both pass. Any
//! failure (unknown, forged, spent, expired, another purpose) is one answer:
//! 422 on the token's field, so no answer tells which.
//!
//! Keys: `t/{t}/account-token/{id}`; the forgot-password limit
//! `t/{t}/reset-requests/{user}/{window}`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::identity::Config;
use crate::model::{Organization, Tenant, TokenTtl, User};
use crate::password::HashParams;
use crate::storage::{self, Env, keys};
use crate::time::Millis;
use crate::{auth, outbox, secrets, users, validate};

/// Reset messages one user can be sent per window; more requests get the
/// same answer and send nothing.
const RESETS_PER_WINDOW: i64 = 3;
const RESET_WINDOW_MS: Millis = 15 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Confirmation,
    Invitation,
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirmation => "confirmation",
            Purpose::Invitation => "invitation",
            Purpose::PasswordReset => "password_reset",
        }
    }

    /// The request field that carries it (Devise's names).
    pub fn field(self) -> &'static str {
        match self {
            Purpose::Confirmation => "confirmation_token",
            Purpose::Invitation => "invitation_token",
            Purpose::PasswordReset => "reset_password_token",
        }
    }

    fn ttl_ms(self, ttl: &TokenTtl) -> Millis {
        let minutes = match self {
            Purpose::Confirmation => ttl.confirmation_minutes,
            Purpose::Invitation => ttl.invitation_minutes,
            Purpose::PasswordReset => ttl.reset_minutes,
        };
        Millis::from(minutes) * 60_000
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountToken {
    pub id: Uuid,
    pub purpose: Purpose,
    pub user: Uuid,
    pub organization: Uuid,
    pub created_at: Millis,
    pub expires_at: Millis,
    #[serde(default)]
    pub used_at: Option<Millis>,
}

fn key(tenant: &str, id: Uuid) -> String {
    format!("t/{tenant}/account-token/{id}")
}

fn mac_input(tenant: &str, id: Uuid) -> String {
    format!("account-token/{tenant}/{}", id.simple())
}

fn keys_missing() -> Error {
    Error::Unavailable("token_keys is not configured".into())
}

/// The token for record `id`, under the current key.
pub fn wire_token(config: &Config, tenant: &str, id: Uuid) -> Result<String> {
    let (kid, _) = config.token_keys.current().ok_or_else(keys_missing)?;
    let mac = secrets::keyed_hash(&config.token_keys, kid, &mac_input(tenant, id))
        .ok_or_else(keys_missing)?;
    Ok(format!("{}.{mac}", id.simple()))
}

/// Records token `id` for `user` and queues its message. A retry of the
/// operation that issued it finds the record and queues nothing again.
pub fn issue(
    env: &Env,
    tenant: &str,
    ttl: &TokenTtl,
    purpose: Purpose,
    user: &User,
    id: Uuid,
) -> Result<AccountToken> {
    let token = AccountToken {
        id,
        purpose,
        user: user.id,
        organization: user.organization_id,
        created_at: env.now,
        expires_at: env.now + purpose.ttl_ms(ttl),
        used_at: None,
    };
    let k = key(tenant, id);
    if let Some(found) = storage::read::<AccountToken>(env.kv, &k)? {
        return Ok(found.data);
    }
    storage::write(env.kv, &k, &format!("account-token/{id}"), &token)?;
    outbox::queue(
        env,
        tenant,
        purpose.as_str(),
        &user.email,
        id,
        user.id,
        user.organization_id,
    )?;
    Ok(token)
}

/// What a newly created user is sent: an invitation when it has no
/// password (it sets one by accepting), else a confirmation when its email
/// is unconfirmed. `op` is the creating operation, so a retry issues the
/// same token, once.
pub fn welcome(env: &Env, tenant_id: &str, user: &User, op: &str) -> Result<()> {
    let purpose = match (&user.invitation, user.confirmed) {
        (Some(_), _) => Purpose::Invitation,
        (None, false) => Purpose::Confirmation,
        (None, true) => return Ok(()),
    };
    let id = user
        .invitation
        .unwrap_or_else(|| storage::derived_uuid(op, "confirmation"));
    let ttl = storage::read::<Tenant>(env.kv, &crate::identity::gkeys::tenant(tenant_id))?
        .map(|r| r.data.token_ttl)
        .unwrap_or_default();
    issue(env, tenant_id, &ttl, purpose, user, id).map(drop)
}

/// The record and user a presented token stands for, if it is good now.
pub fn check(
    env: &Env,
    config: &Config,
    tenant: &str,
    purpose: Purpose,
    presented: &str,
) -> Result<(AccountToken, User)> {
    let invalid = || Error::invalid(purpose.field(), "is invalid or has expired");
    let (id, mac) = presented.trim().split_once('.').ok_or_else(invalid)?;
    if id.len() != 32 || mac.len() != 64 {
        return Err(invalid());
    }
    let id = Uuid::try_parse(id).map_err(|_| invalid())?;
    let genuine = secrets::keyed_hashes(&config.token_keys, &mac_input(tenant, id))
        .iter()
        .any(|(_, h)| auth::constant_time_eq(h.as_bytes(), mac.as_bytes()));
    if !genuine {
        return Err(invalid());
    }
    let token = storage::read::<AccountToken>(env.kv, &key(tenant, id))?
        .map(|r| r.data)
        .filter(|t| t.purpose == purpose && t.used_at.is_none() && t.expires_at > env.now)
        .ok_or_else(invalid)?;
    let user = storage::read::<User>(env.kv, &keys::user(tenant, token.user))?
        .map(|r| r.data)
        .filter(|u| u.status.may_authenticate())
        .filter(|u| purpose != Purpose::Invitation || u.invitation == Some(token.id))
        .ok_or_else(invalid)?;
    Ok((token, user))
}

/// Spends a checked token; only one of many racing requests gets through.
fn spend(env: &mut Env, tenant: &str, token: &AccountToken) -> Result<()> {
    let now = env.now;
    // An op id of this request alone: a shared one would read as this
    // request's own earlier write and let a second spender through.
    let op = format!(
        "account-token/{}/spent/{}",
        token.id,
        env.new_uuid().simple()
    );
    let (_, spent) =
        storage::update_if::<AccountToken, _>(env, &key(tenant, token.id), &op, |t| {
            if t.used_at.is_some() {
                return Ok(false);
            }
            t.used_at = Some(now);
            Ok(true)
        })?;
    if spent {
        Ok(())
    } else {
        Err(Error::invalid(
            token.purpose.field(),
            "is invalid or has expired",
        ))
    }
}

/// What a token is for, without spending it (the confirmation form, the
/// invitation's pre-accept check).
pub fn show(
    env: &Env,
    config: &Config,
    tenant: &str,
    purpose: Purpose,
    presented: &str,
) -> Result<(AccountToken, User, Organization)> {
    let (token, user) = check(env, config, tenant, purpose, presented)?;
    let org = storage::read::<Organization>(env.kv, &keys::org(tenant, user.organization_id))?
        .map(|r| r.data)
        .ok_or_else(|| Error::invalid(purpose.field(), "is invalid or has expired"))?;
    Ok((token, user, org))
}

/// Confirms the email of the token's user.
pub fn confirm(env: &mut Env, config: &Config, tenant: &str, presented: &str) -> Result<User> {
    let (token, _) = check(env, config, tenant, Purpose::Confirmation, presented)?;
    spend(env, tenant, &token)?;
    change_user(env, tenant, &token, "user.confirm", |u| {
        u.confirmed = true;
    })
}

/// Accepts an invitation: sets the password (the tenant's policy), confirms
/// the email and lets the user sign in.
pub fn accept_invitation(
    env: &mut Env,
    config: &Config,
    tenant: &str,
    presented: &str,
    password: &str,
    confirmation: Option<&str>,
    params: HashParams,
) -> Result<User> {
    let (token, _) = check(env, config, tenant, Purpose::Invitation, presented)?;
    let hash = users::new_password_hash(env, tenant, password, confirmation, "password", params)?;
    spend(env, tenant, &token)?;
    change_user(env, tenant, &token, "user.invitation_accept", |u| {
        u.password_hash = Some(hash.clone());
        u.confirmed = true;
        u.invitation = None;
    })
}

/// Forgot password: queues a reset message when `email` names an account
/// that may sign in, at most [`RESETS_PER_WINDOW`] a window. The caller
/// answers the same whatever happened here.
pub fn forgot_password(env: &mut Env, tenant: &Tenant, email: &str) -> Result<()> {
    let normalized = validate::normalize_email(email);
    if normalized.is_empty() || normalized.len() > 255 {
        return Ok(());
    }
    let Some(user) = crate::identity::account_by_email(env, &tenant.id, &normalized)? else {
        return Ok(());
    };
    if !user.status.may_authenticate() {
        return Ok(());
    }
    let window = env.now / RESET_WINDOW_MS;
    let sent = env.kv.increment(
        &format!("t/{}/reset-requests/{}/{window}", tenant.id, user.id),
        1,
    )?;
    if sent > RESETS_PER_WINDOW {
        return Ok(());
    }
    let id = env.new_uuid();
    issue(
        env,
        &tenant.id,
        &tenant.token_ttl,
        Purpose::PasswordReset,
        &user,
        id,
    )
    .map(drop)
}

/// Resets the password with a reset token. The email is proven, so it is
/// confirmed and a pending invitation is settled; every session and token
/// the user held before ends.
pub fn reset_password(
    env: &mut Env,
    config: &Config,
    tenant: &str,
    presented: &str,
    password: &str,
    confirmation: Option<&str>,
    params: HashParams,
) -> Result<User> {
    let (token, _) = check(env, config, tenant, Purpose::PasswordReset, presented)?;
    let hash = users::new_password_hash(env, tenant, password, confirmation, "password", params)?;
    spend(env, tenant, &token)?;
    let ended_from = env.now + 1;
    change_user(env, tenant, &token, "user.password_reset", |u| {
        u.password_hash = Some(hash.clone());
        u.confirmed = true;
        u.invitation = None;
        u.credentials_valid_from = u.credentials_valid_from.max(ended_from);
    })
}

/// Changes the token's user by compare-and-swap and audits it as the user.
fn change_user(
    env: &mut Env,
    tenant: &str,
    token: &AccountToken,
    action: &str,
    mut change: impl FnMut(&mut User),
) -> Result<User> {
    let now = env.now;
    let op = format!("{action}/{}", token.id);
    let user = storage::update::<User, _>(env, &keys::user(tenant, token.user), &op, |u| {
        change(u);
        u.updated_at = now;
        Ok(())
    })?
    .data;
    let org = storage::read::<Organization>(env.kv, &keys::org(tenant, user.organization_id))?
        .map(|r| r.data);
    storage::audit_action(
        env,
        &op,
        tenant,
        &storage::Actor {
            kind: "user".into(),
            id: user.id.to_string(),
        },
        action,
        vec![format!("user:{}", user.id)],
        org.as_ref(),
    )?;
    Ok(user)
}
