//! Invitations and the outbox of messages to send.
//!
//! An invitation makes its user at once (no password, so it cannot sign in
//! until it accepts) and queues a message in the tenant's outbox. Its token
//! is never stored: it is derived from the tenant-independent signing keys
//! and the invitation id (`HMAC(token_keys, "invitation/<id>")`), so the
//! outbox keeps only the id and the token is rebuilt when an operator reads
//! the outbox to deliver it; the invitation is single use (`accepted`) and
//! expires after [`INVITATION_TTL_MS`].
//!
//! Keys: `t/{t}/invitation/{id}`; `t/{t}/outbox/{n}` with the counter
//! `t/{t}/outbox/n`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::identity::Config;
use crate::model::{Organization, Profile, Role, User};
use crate::provision::{self, NewCustomer, NewUser, OpId};
use crate::storage::{self, Env};
use crate::time::Millis;

/// How long an invitation can be accepted.
pub const INVITATION_TTL_MS: Millis = 7 * 24 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: Uuid,
    pub user: Uuid,
    pub organization: Uuid,
    pub email: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub accepted: bool,
}

/// A message waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub seq: i64,
    /// `invitation`.
    pub kind: String,
    pub to: String,
    /// The invitation (or other record) it is about.
    pub subject: Uuid,
    pub organization: Uuid,
    pub created_at: Millis,
}

fn invitation_key(tenant: &str, id: Uuid) -> String {
    format!("t/{tenant}/invitation/{id}")
}

fn outbox_key(tenant: &str, seq: i64) -> String {
    format!("t/{tenant}/outbox/{seq}")
}

fn outbox_counter(tenant: &str) -> String {
    format!("t/{tenant}/outbox/n")
}

/// The invitation's token, derived (never stored).
pub fn token(config: &Config, id: Uuid) -> Result<String> {
    let (kid, _) = config
        .token_keys
        .current()
        .ok_or_else(|| Error::Unavailable("token_keys is not configured".into()))?;
    crate::secrets::keyed_hash(&config.token_keys, kid, &format!("invitation/{id}"))
        .ok_or_else(|| Error::Unavailable("token_keys is not configured".into()))
}

/// Invites `email` into `org` with `role` (an administrator of it, or a
/// user): the user is created without a password, the invitation recorded
/// and its message queued. 422 when the email is taken.
pub fn invite(
    env: &mut Env,
    caller: &Caller,
    org: &Organization,
    email: &str,
    role: Role,
    profile: Profile,
) -> Result<(User, Invitation)> {
    caller.require(Role::CustomerAdmin)?;
    if role < caller.role {
        return Err(Error::Forbidden(
            "cannot invite a wider role than your own".into(),
        ));
    }
    let input = NewCustomer {
        organization_id: Some(org.id),
        user: NewUser {
            email: email.to_string(),
            profile,
            role: Some(role),
            ..NewUser::default()
        },
        ..NewCustomer::default()
    };
    let op = OpId::fresh(env, format!("invite/{email}"));
    let created = provision::create_customer(env, caller, &input, &op, Default::default(), None)?;
    let id = env.new_uuid();
    let invitation = Invitation {
        id,
        user: created.user.id,
        organization: org.id,
        email: created.user.email.clone(),
        created_at: env.now,
        expires_at: env.now + INVITATION_TTL_MS,
        accepted: false,
    };
    let op = format!("invitation/{id}");
    storage::write(
        env.kv,
        &invitation_key(&caller.tenant, id),
        &op,
        &invitation,
    )?;
    let seq = env.kv.increment(&outbox_counter(&caller.tenant), 1)?;
    let message = Message {
        seq,
        kind: "invitation".into(),
        to: invitation.email.clone(),
        subject: id,
        organization: org.id,
        created_at: env.now,
    };
    storage::write(env.kv, &outbox_key(&caller.tenant, seq), &op, &message)?;
    Ok((created.user, invitation))
}

/// The newest `limit` messages of the outbox (operators only), each with
/// the token it carries for delivery.
pub fn outbox(
    env: &Env,
    config: &Config,
    caller: &Caller,
    limit: usize,
) -> Result<Vec<(Message, Option<String>)>> {
    caller.require(Role::Operator)?;
    if caller.org.is_some() {
        return Err(Error::Forbidden("operators only".into()));
    }
    let newest = env.kv.increment(&outbox_counter(&caller.tenant), 0)?;
    let keys: Vec<String> = (1.max(newest - limit as i64 + 1)..=newest)
        .rev()
        .map(|seq| outbox_key(&caller.tenant, seq))
        .collect();
    storage::read_many::<Message>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .map(|m| {
            let token = (m.kind == "invitation")
                .then(|| token(config, m.subject))
                .transpose()?;
            Ok((m, token))
        })
        .collect()
}
