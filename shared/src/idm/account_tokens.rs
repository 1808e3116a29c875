//! Account tokens: what confirms an email, accepts an invitation or resets
//! a password, and the flows that spend them.
//!
//! A token is `<id>.<mac>`: a random id naming its record and
//! `HMAC(token_keys, "account-token/<tenant>/<id>")`. Nothing of the mac is
//! stored, so the store alone cannot make a token; the outbox rebuilds it
//! to deliver it. A token is checked against every configured key (a
//! rotation leaves outstanding tokens good while the old key is listed), is
//! bound to its tenant, purpose, user and the email it was sent to, and
//! expires after its tenant's [`TokenTtl`](crate::base::model::TokenTtl); a
//! password reset kills every token issued before it. Any failure
//! (unknown, forged, spent, expired, another purpose, the email changed) is
//! one answer: 422 on the token's field, so no answer tells which.
//!
//! A flow commits in one compare-and-swap on the user record, whose guard
//! makes the token good once: an invitation is accepted while the user
//! still names it, an email confirmed while unconfirmed, a password reset
//! while no reset came after the token. The token record is marked spent
//! afterwards (so it no longer shows); a request that dies between the two
//! leaves a token its guard refuses anyway.
//!
//! Keys: `t/{t}/account-token/{id}`; the forgot-password limits
//! `t/{t}/reset-requests/{user}/{window}` and
//! `t/{t}/reset-requests/address/{hash}/{window}`; the waiting requests
//! `t/{t}/reset-requests/queue/{n}`, their counter `.../queue/n` and the
//! resolved prefix `.../queue/cursor`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::model::{Organization, Tenant, TokenTtl, User};
use crate::base::time::Millis;
use crate::be::expiry;
use crate::be::storage::{self, Env, keys};
use crate::credential::identity::Config;
use crate::credential::password::HashParams;
use crate::credential::secrets::keys_missing;
use crate::{base::validate, credential::auth, credential::secrets, idm::outbox, idm::users};

/// Reset messages one user can be sent per window; more requests get the
/// same answer and send nothing.
const RESETS_PER_WINDOW: i64 = 3;
/// Forgot-password requests one client address may make per window (429
/// beyond: it says nothing about any account).
const RESET_REQUESTS_PER_ADDRESS: i64 = 100;
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

    fn invalid(self) -> Error {
        Error::invalid(self.field(), "is invalid or has expired")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountToken {
    pub id: Uuid,
    pub purpose: Purpose,
    pub user: Uuid,
    pub organization: Uuid,
    /// The normalized email it was sent to: it dies if the email changes.
    #[serde(default)]
    pub email: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    #[serde(default)]
    pub used_at: Option<Millis>,
    /// The outbox message that carries it, once queued.
    #[serde(default)]
    pub queued: Option<i64>,
}

impl AccountToken {
    /// Whether it may still be used or delivered: unspent, unexpired.
    pub fn live(&self, now: Millis) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }
}

fn key(tenant: &str, id: Uuid) -> String {
    format!("t/{tenant}/account-token/{id}")
}

fn mac_input(tenant: &str, id: Uuid) -> String {
    format!("account-token/{tenant}/{}", id.simple())
}

/// The token for record `id`, under the current key.
pub fn wire_token(config: &Config, tenant: &str, id: Uuid) -> Result<String> {
    let (kid, _) = config.token_keys.current().ok_or_else(keys_missing)?;
    let mac = secrets::keyed_hash(&config.token_keys, kid, &mac_input(tenant, id))
        .ok_or_else(keys_missing)?;
    Ok(format!("{}.{mac}", id.simple()))
}

/// The record of token `id`, if any.
pub fn read(env: &Env, tenant: &str, id: Uuid) -> Result<Option<AccountToken>> {
    Ok(storage::read::<AccountToken>(env.kv, &key(tenant, id))?.map(|r| r.data))
}

/// Records token `id` for `user` and queues its message, at least once: a
/// retry of the operation that issued it finds the record and queues the
/// message only if no earlier attempt got that far. (Two retries racing
/// may both queue; the copies share their `webhook-id`.)
pub fn issue(
    env: &mut Env,
    tenant: &str,
    ttl: &TokenTtl,
    purpose: Purpose,
    user: &User,
    id: Uuid,
) -> Result<AccountToken> {
    issue_to(env, tenant, ttl, purpose, user, id, &user.email)
}

/// [`issue`], sent to `to`: the account's address, or for a pending email
/// change the new one (whose confirmation is the only proof it is owned).
pub fn issue_to(
    env: &mut Env,
    tenant: &str,
    ttl: &TokenTtl,
    purpose: Purpose,
    user: &User,
    id: Uuid,
    to: &str,
) -> Result<AccountToken> {
    let token = AccountToken {
        id,
        purpose,
        user: user.id,
        organization: user.organization_id,
        email: validate::normalize_email(to),
        created_at: env.now,
        expires_at: env.now + purpose.ttl_ms(ttl),
        used_at: None,
        queued: None,
    };
    let k = key(tenant, id);
    if storage::create_new(env, &k, &format!("account-token/{id}"), &token)? {
        expiry::expire_at(env, tenant, token.expires_at, std::slice::from_ref(&k))?;
    }
    let found = read(env, tenant, id)?.ok_or_else(|| {
        Error::Unavailable("an account token vanished as it was written; retry".into())
    })?;
    if found.queued.is_some() || !found.live(env.now) {
        return Ok(found);
    }
    let message = outbox::queue(
        env,
        tenant,
        purpose.as_str(),
        to,
        id,
        user.id,
        user.organization_id,
    )?;
    let op = format!("account-token/{id}/queued/{}", env.new_uuid().simple());
    let (record, _) = storage::update_if::<AccountToken, _>(env, &k, &op, |t| {
        Ok(t.queued.is_none() && {
            t.queued = Some(message.seq);
            true
        })
    })?;
    Ok(record.data)
}

/// What a newly created user is sent: an invitation when it has no
/// password (it sets one by accepting), else a confirmation when its email
/// is unconfirmed. `op` is the creating operation, so a retry issues the
/// same token, and queues it if the first attempt did not.
pub fn welcome(env: &mut Env, tenant_id: &str, user: &User, op: &str) -> Result<()> {
    let purpose = match (&user.invitation, user.confirmed) {
        (Some(_), _) => Purpose::Invitation,
        (None, false) => Purpose::Confirmation,
        (None, true) => return Ok(()),
    };
    let id = user
        .invitation
        .unwrap_or_else(|| storage::derived_uuid(op, "confirmation"));
    let ttl = storage::read::<Tenant>(
        env.kv,
        &crate::credential::identity::gkeys::tenant(tenant_id),
    )?
    .map(|r| r.data.token_ttl)
    .unwrap_or_default();
    issue(env, tenant_id, &ttl, purpose, user, id).map(drop)
}

/// The record, user and organization a presented token stands for, if it
/// is good now.
pub fn check(
    env: &Env,
    config: &Config,
    tenant: &str,
    purpose: Purpose,
    presented: &str,
) -> Result<(AccountToken, User, Organization)> {
    let invalid = || purpose.invalid();
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
    let token = read(env, tenant, id)?
        .filter(|t| t.purpose == purpose && t.live(env.now))
        .ok_or_else(invalid)?;
    let user = storage::read::<User>(env.kv, &keys::user(tenant, token.user))?
        .map(|r| r.data)
        .filter(|u| still_good(&token, u))
        .ok_or_else(invalid)?;
    let org = storage::read::<Organization>(env.kv, &keys::org(tenant, user.organization_id))?
        .map(|r| r.data)
        .filter(|o| o.status.may_authenticate())
        .ok_or_else(invalid)?;
    Ok((token, user, org))
}

/// Whether `user`, as it is now, still takes `token`: the guard of every
/// flow, checked again inside the compare-and-swap that commits it.
fn still_good(token: &AccountToken, u: &User) -> bool {
    // A pending email change is confirmed only by the token sent to its
    // new address, while that address is still the one pending.
    let reconfirms = reconfirms(token, u);
    let purpose_holds = match token.purpose {
        Purpose::Invitation => u.invitation == Some(token.id),
        Purpose::Confirmation => reconfirms || !u.confirmed,
        Purpose::PasswordReset => true,
    };
    let address = if reconfirms {
        u.unconfirmed_email.as_deref().unwrap_or_default()
    } else {
        &u.email
    };
    purpose_holds
        && u.status.may_authenticate()
        && validate::normalize_email(address) == token.email
        && token.created_at >= u.credentials_floor()
}

/// Whether `token` is the confirmation of `u`'s pending email change.
pub fn reconfirms(token: &AccountToken, u: &User) -> bool {
    token.purpose == Purpose::Confirmation
        && u.reconfirmation == Some(token.id)
        && u.unconfirmed_email.is_some()
}

/// Marks a used token spent; its guard already refuses it, so a failure
/// here loses nothing.
fn mark_spent(env: &mut Env, tenant: &str, token: &AccountToken) {
    let now = env.now;
    let op = format!(
        "account-token/{}/spent/{}",
        token.id,
        env.new_uuid().simple()
    );
    let _ = storage::update_if::<AccountToken, _>(env, &key(tenant, token.id), &op, |t| {
        Ok(t.used_at.is_none() && {
            t.used_at = Some(now);
            true
        })
    });
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
    check(env, config, tenant, purpose, presented)
}

/// Confirms the email of the token's user: its address, or the pending
/// change the token was sent for, which then takes effect (the new address
/// is claimed, the old one given back).
pub fn confirm(env: &mut Env, config: &Config, tenant: &str, presented: &str) -> Result<User> {
    let (token, user, org) = check(env, config, tenant, Purpose::Confirmation, presented)?;
    if !reconfirms(&token, &user) {
        return commit(env, tenant, &token, &org, "user.confirm", |u| {
            u.confirmed = true;
        });
    }
    let op = format!(
        "user.email_confirm/{}/{}",
        token.id,
        env.new_uuid().simple()
    );
    let guard = |u: &User| {
        if still_good(&token, u) && reconfirms(&token, u) {
            Ok(())
        } else {
            Err(Purpose::Confirmation.invalid())
        }
    };
    let user =
        users::confirm_email_change(env, tenant, &user, &op, guard).map_err(|e| match e {
            Error::NotFound(_) => Purpose::Confirmation.invalid(),
            other => other,
        })?;
    spent(env, tenant, &token, &org, &op, "user.email_confirm", user)
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
    let (token, _, org) = check(env, config, tenant, Purpose::Invitation, presented)?;
    let hash = users::new_password_hash(env, tenant, password, confirmation, "password", params)?;
    commit(env, tenant, &token, &org, "user.invitation_accept", |u| {
        u.password_hash = Some(hash.clone());
        u.confirmed = true;
        u.invitation = None;
    })
}

/// Resends per user and window, so a resend cannot flood an inbox.
const RESENDS_PER_WINDOW: i64 = 5;

/// Resends what a user is still waiting for, with a fresh token: its
/// invitation (the new token replaces the old one, which dies) or, for an
/// account whose email is unconfirmed, its confirmation. An administrator
/// of a strictly narrower account in reach (403 otherwise, 404 outside the
/// reach); 409 when nothing is pending; 429 past five a user a window.
/// This also recovers a create whose message was never queued.
pub fn resend(env: &mut Env, caller: &auth::Caller, user_id: Uuid) -> Result<Purpose> {
    let (user, org) = narrower_account(env, caller, user_id)?;
    let purpose = match (&user.invitation, user.confirmed) {
        (Some(_), _) => Purpose::Invitation,
        (None, false) => Purpose::Confirmation,
        (None, true) => {
            return Err(Error::Conflict(
                "the account has no pending invitation or confirmation".into(),
            ));
        }
    };
    count_send(env, &caller.tenant, user.id)?;
    let id = env.new_uuid();
    let op = format!("resend/{}", id.simple());
    let user = if purpose == Purpose::Invitation {
        let pending = user.invitation;
        storage::update::<User, _>(env, &keys::user(&caller.tenant, user.id), &op, |u| {
            if u.invitation != pending || pending.is_none() {
                return Err(Error::Conflict(
                    "the invitation changed meanwhile; retry".into(),
                ));
            }
            u.invitation = Some(id);
            Ok(())
        })?
        .data
    } else {
        user
    };
    let ttl = storage::read::<Tenant>(
        env.kv,
        &crate::credential::identity::gkeys::tenant(&caller.tenant),
    )?
    .map(|r| r.data.token_ttl)
    .unwrap_or_default();
    issue(env, &caller.tenant, &ttl, purpose, &user, id)?;
    caller.audit(
        env,
        &op,
        &format!("user.{}_resend", purpose.as_str()),
        vec![format!("user:{}", user.id)],
        Some(&org),
    )?;
    Ok(purpose)
}

/// An account an administrator sends messages for: strictly narrower than
/// the caller's own, in reach (404 otherwise), able to sign in (409).
fn narrower_account(
    env: &Env,
    caller: &auth::Caller,
    user_id: Uuid,
) -> Result<(User, crate::base::model::Organization)> {
    let (user, org) = users::get(env, caller, user_id)?;
    caller.require(crate::base::model::Role::CustomerAdmin)?;
    // The platform admin key is above every account of the tenant, its
    // operators included (as for a second-factor reset): it is how a
    // tenant whose operators are locked out gets back in.
    let platform_admin = caller.user.is_none() && caller.actor.kind == "platform_admin";
    if caller.user == Some(user.id) || (user.role <= caller.role && !platform_admin) {
        return Err(Error::Forbidden(
            "only an account narrower than your own".into(),
        ));
    }
    if !user.status.may_authenticate() {
        return Err(Error::Conflict("the account cannot sign in".into()));
    }
    Ok((user, org))
}

/// Counts a message an administrator sends a user: 429 past
/// [`RESENDS_PER_WINDOW`] a user a window, whatever their kind.
fn count_send(env: &Env, tenant: &str, user: Uuid) -> Result<()> {
    let window = env.now / RESET_WINDOW_MS;
    let counter = format!("t/{tenant}/resends/{user}/{window}");
    let sent = env.kv.increment(&counter, 1)?;
    if sent == 1 {
        expiry::expire_at(env, tenant, (window + 1) * RESET_WINDOW_MS, &[counter])?;
    }
    if sent > RESENDS_PER_WINDOW {
        let left = (RESET_WINDOW_MS - env.now % RESET_WINDOW_MS) / 1000 + 1;
        return Err(Error::RateLimited(left as u64));
    }
    Ok(())
}

/// An administrator sends a narrower account a password reset (the
/// console's "send a password reset"): the same message a forgot-password
/// request makes, at once. An account still invited gets its invitation
/// resent instead ([`resend`]): 409 here.
pub fn send_password_reset(env: &mut Env, caller: &auth::Caller, user_id: Uuid) -> Result<()> {
    if caller.impersonator.is_some() {
        return Err(Error::Forbidden(
            "an impersonated session cannot send a password reset".into(),
        ));
    }
    let (user, org) = narrower_account(env, caller, user_id)?;
    if user.invitation.is_some() {
        return Err(Error::Conflict(
            "the account has not accepted its invitation yet: resend the invitation".into(),
        ));
    }
    count_send(env, &caller.tenant, user.id)?;
    let tenant = crate::credential::identity::active_tenant(env, &caller.tenant)?;
    let id = env.new_uuid();
    issue(
        env,
        &tenant.id,
        &tenant.token_ttl,
        Purpose::PasswordReset,
        &user,
        id,
    )?;
    caller.audit(
        env,
        &format!("reset-sent/{}", id.simple()),
        "user.password_reset_sent",
        vec![format!("user:{}", user.id)],
        Some(&org),
    )
}

/// Forgot password: records the request for the next operator pass
/// ([`resolve_reset_requests`]) and answers. The request does the same
/// key-value calls whether or not the email names an account (one counter,
/// one record, its expiry), so its answer time tells nothing; the lookup
/// happens later, out of the requester's sight. Only an address asking too
/// often is told (429), which says nothing about any account.
pub fn forgot_password(env: &mut Env, tenant: &Tenant, email: &str, address: &str) -> Result<()> {
    let window = env.now / RESET_WINDOW_MS;
    let from = storage::sha256_hex(address.as_bytes());
    let counter = format!(
        "t/{}/reset-requests/address/{}/{window}",
        tenant.id,
        &from[..32]
    );
    let asked = env.kv.increment(&counter, 1)?;
    let window_end = (window + 1) * RESET_WINDOW_MS;
    if asked == 1 {
        expiry::expire_at(env, &tenant.id, window_end, &[counter])?;
    }
    if asked > RESET_REQUESTS_PER_ADDRESS {
        let left = (RESET_WINDOW_MS - env.now % RESET_WINDOW_MS) / 1000 + 1;
        return Err(Error::RateLimited(left as u64));
    }
    let normalized = validate::normalize_email(email);
    if normalized.is_empty() || normalized.len() > 255 {
        return Ok(());
    }
    let n = env.kv.increment(&request_counter(&tenant.id), 1)?;
    let k = request_key(&tenant.id, n);
    let request = ResetRequest {
        email: normalized,
        at: env.now,
    };
    storage::write(env.kv, &k, &format!("reset-request/{n}"), &request)?;
    let (claim, lease) = (claim_key(&k), lease_key(&k));
    expiry::expire_at(
        env,
        &tenant.id,
        env.now + RESET_REQUEST_TTL_MS,
        &[k, claim, lease],
    )
}

/// A forgot-password request waiting for its lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ResetRequest {
    email: String,
    at: Millis,
}

/// How long a request waits for a pass before it is dropped (and swept).
const RESET_REQUEST_TTL_MS: Millis = 3_600_000;
/// Requests one pass resolves at most.
const RESOLVE_MAX: i64 = 1_000;
/// Swaps one request's resolution may make (the token and its queued mark,
/// each with room for retries).
const RESOLVE_SWAPS: usize = 8;
/// How long a numbered request may take to be written.
const MISSING_GRACE_MS: Millis = 60_000;

fn request_counter(tenant: &str) -> String {
    format!("t/{tenant}/reset-requests/queue/n")
}

fn request_key(tenant: &str, n: i64) -> String {
    format!("t/{tenant}/reset-requests/queue/{n}")
}

/// Counted by each pass that takes request `key`: the first resolves it.
fn claim_key(key: &str) -> String {
    format!("{key}/taken")
}

/// When the pass resolving request `key` took it.
fn lease_key(key: &str) -> String {
    format!("{key}/lease")
}

/// How long a pass holds a request it took before another may take over.
const REQUEST_LEASE_MS: Millis = 60_000;

/// Takes request `key` for this pass: `Some(true)` for the first pass to
/// count its claim, `Some(false)` for one taking over from a pass whose
/// lease lapsed (it died, or failed), `None` while another holds it (or
/// has yet to say since when). The resolution itself is idempotent (its
/// token id derives from the request), so a takeover only ever finishes
/// what the first began.
fn take(env: &Env, key: &str) -> Result<Option<bool>> {
    let first = env.kv.increment(&claim_key(key), 1)? == 1;
    if !first {
        let held_since = env
            .kv
            .get(&lease_key(key))?
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse::<Millis>().ok());
        match held_since {
            // The first pass is between its count and its stamp (or died
            // there): stamp for it, so the lease runs from now.
            None => {
                env.kv
                    .set(&lease_key(key), env.now.to_string().as_bytes())?;
                return Ok(None);
            }
            Some(at) if env.now - at < REQUEST_LEASE_MS => return Ok(None),
            Some(_) => {}
        }
    }
    env.kv
        .set(&lease_key(key), env.now.to_string().as_bytes())?;
    Ok(Some(first))
}

fn request_cursor(tenant: &str) -> String {
    format!("t/{tenant}/reset-requests/queue/cursor")
}

/// Turns waiting forgot-password requests into reset messages: each
/// request's email is looked up and, when it names an account that may sign
/// in and has had fewer than [`RESETS_PER_WINDOW`] resets this window, a
/// reset token is issued and its message queued. Runs at the start of every
/// outbox read and delivery pass, oldest first, at most [`RESOLVE_MAX`] a
/// call and only while the request keeps half of its swaps for the pass.
/// Each request is taken by the first pass to count its claim, so racing
/// passes resolve it once; a request that fails is logged and dropped, never
/// allowed to stop the passes behind it. Returns how many were resolved.
pub fn resolve_reset_requests(env: &mut Env, tenant: &Tenant) -> Result<usize> {
    let t = tenant.id.as_str();
    let newest = storage::read_counter(env.kv, &request_counter(t))?;
    let done = storage::read::<i64>(env.kv, &request_cursor(t))?
        .map(|r| r.data)
        .unwrap_or(0);
    if newest <= done {
        return Ok(0);
    }
    let last = newest.min(done + RESOLVE_MAX);
    let seqs: Vec<i64> = (done + 1..=last).collect();
    let keys: Vec<String> = seqs.iter().map(|n| request_key(t, *n)).collect();
    let requests = storage::read_many::<ResetRequest>(env.kv, &keys)?;
    let mut resolved = 0;
    let mut reached = done;
    for (i, ((n, k), request)) in seqs.iter().zip(&keys).zip(&requests).enumerate() {
        if env.kv.swaps_left() < crate::be::kv::SWAP_TABLE / 2 + RESOLVE_SWAPS {
            break;
        }
        match request {
            // Numbered but not written: a request between its two calls, or
            // one that died there. Passed once a later one is old enough
            // that this one cannot still be on its way.
            None => {
                let dead = requests[i + 1..]
                    .iter()
                    .flatten()
                    .any(|r| env.now - r.at >= MISSING_GRACE_MS);
                if !dead {
                    break;
                }
            }
            Some(request) => {
                if env.now - request.at < RESET_REQUEST_TTL_MS {
                    let Some(first) = take(env, k)? else {
                        // Another pass is on it now: not past it.
                        break;
                    };
                    if let Err(e) = reset_for(env, tenant, request, *n, first) {
                        // Left for a later pass, once this one's lease lapses.
                        eprintln!("forgot-password request {n} not resolved yet: {e:?}");
                        break;
                    }
                    resolved += 1;
                }
                let _ = env.kv.delete(k);
            }
        }
        reached = *n;
    }
    if reached > done {
        storage::swap_state::<i64, _>(
            env,
            &request_cursor(t),
            &format!("reset-requests/cursor/{reached}"),
            |current| Ok((current.copied().unwrap_or(0) < reached).then_some(reached)),
        )?;
    }
    Ok(resolved)
}

/// Resolves one request; `count` when this pass is the first to take it
/// (only the first counts it against the user's resets this window).
fn reset_for(
    env: &mut Env,
    tenant: &Tenant,
    request: &ResetRequest,
    n: i64,
    count: bool,
) -> Result<()> {
    let Some(user) =
        crate::credential::identity::account_by_email(env, &tenant.id, &request.email)?
    else {
        return Ok(());
    };
    if !user.status.may_authenticate() {
        return Ok(());
    }
    let window = request.at / RESET_WINDOW_MS;
    let id = storage::derived_uuid(&format!("reset-request/{}/{n}", tenant.id), "token");
    if count && read(env, &tenant.id, id)?.is_none() {
        let counter = format!("t/{}/reset-requests/{}/{window}", tenant.id, user.id);
        let sent = env.kv.increment(&counter, 1)?;
        if sent == 1 {
            expiry::expire_at(env, &tenant.id, (window + 1) * RESET_WINDOW_MS, &[counter])?;
        }
        if sent > RESETS_PER_WINDOW {
            return Ok(());
        }
    }
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
/// confirmed and a pending invitation is settled; every session, token and
/// account token issued before this commits ends.
pub fn reset_password(
    env: &mut Env,
    config: &Config,
    tenant: &str,
    presented: &str,
    password: &str,
    confirmation: Option<&str>,
    params: HashParams,
) -> Result<User> {
    let (token, _, org) = check(env, config, tenant, Purpose::PasswordReset, presented)?;
    let hash = users::new_password_hash(env, tenant, password, confirmation, "password", params)?;
    let started = env.now;
    commit(env, tenant, &token, &org, "user.password_reset", |u| {
        u.password_hash = Some(hash.clone());
        u.confirmed = true;
        u.invitation = None;
        // Proof of the current address outranks a change nobody confirmed.
        u.unconfirmed_email = None;
        u.reconfirmation = None;
        // The clock at this very attempt to commit, not the request's
        // start: a sign-in or token mint that began before the commit (and
        // so checked the old state) is stamped earlier and dies with the rest.
        let now = crate::base::time::millis(std::time::SystemTime::now()).max(started);
        u.credentials_valid_from = u.credentials_valid_from.max(now + 1);
    })
}

/// Commits a flow: changes the token's user by compare-and-swap while the
/// token's guard still holds (else 422), marks the token spent and audits
/// the change as the user.
fn commit(
    env: &mut Env,
    tenant: &str,
    token: &AccountToken,
    org: &Organization,
    action: &str,
    mut change: impl FnMut(&mut User),
) -> Result<User> {
    let now = env.now;
    let op = format!("{action}/{}/{}", token.id, env.new_uuid().simple());
    let user = storage::update::<User, _>(env, &keys::user(tenant, token.user), &op, |u| {
        if !still_good(token, u) {
            return Err(token.purpose.invalid());
        }
        change(u);
        u.updated_at = now;
        Ok(())
    })
    .map_err(|e| match e {
        Error::NotFound(_) => token.purpose.invalid(),
        other => other,
    })?
    .data;
    spent(env, tenant, token, org, &op, action, user)
}

/// After a flow committed: marks the token spent and audits the change as
/// the user it changed.
fn spent(
    env: &mut Env,
    tenant: &str,
    token: &AccountToken,
    org: &Organization,
    op: &str,
    action: &str,
    user: User,
) -> Result<User> {
    mark_spent(env, tenant, token);
    storage::audit_action(
        env,
        op,
        tenant,
        &storage::Actor {
            kind: "user".into(),
            id: user.id.to_string(),
        },
        action,
        vec![format!("user:{}", user.id)],
        Some(org),
    )?;
    Ok(user)
}
