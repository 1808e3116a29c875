//! The second factor: a TOTP authenticator (installed, verified, disabled),
//! single-use recovery codes, and the two-step sign-in that asks for them.
//!
//! Every check of a code is throttled like a password (per user and client
//! address), and spends what it used inside one compare-and-swap on the user
//! record: a TOTP step is good once (the record keeps the last step used),
//! a recovery code is removed, so two requests racing with one code cannot
//! both pass. The pending sign-in between the two steps is a random
//! `otp_session_state`, stored only as a keyed hash, bound to its user,
//! short-lived and good for one session.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::model::{Tenant, TwoFactor, User};
use crate::base::time::Millis;
use crate::be::storage::{self, Env, keys};
use crate::credential::auth::Caller;
use crate::credential::identity::{Config, gkeys};
use crate::{credential::secrets, credential::throttle, credential::totp, idm::users};

/// How long the first step's `otp_session_state` waits for the second.
pub const PENDING_TTL_MS: Millis = 5 * 60 * 1000;
/// Wrong codes a pending sign-in takes before it is spent.
pub const PENDING_MAX_FAILURES: i64 = 5;
/// The name authenticator apps show for the account.
const ISSUER: &str = "Onboard";

/// Whether `user` signs in with a second factor.
pub fn required(user: &User) -> bool {
    user.two_factor_required()
}

/// What a client offers as its second factor.
#[derive(Debug, Clone)]
pub enum SecondFactor {
    /// A current code of the authenticator app.
    Otp(String),
    /// One of the user's recovery codes.
    Recovery(String),
}

/// What an installation gives the client: the secret for the app (base32)
/// and the URI a QR code carries.
#[derive(Debug, Clone)]
pub struct Installation {
    pub secret: String,
    pub otpauth_uri: String,
}

use crate::credential::secrets::keys_missing;

fn own_id(caller: &Caller) -> Result<Uuid> {
    caller
        .user
        .ok_or_else(|| Error::Forbidden("not a signed-in user".into()))
}

fn random_bytes<const N: usize>(env: &mut Env) -> [u8; N] {
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(16) {
        let r = (env.random)();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    out
}

/// The caller's own user record.
fn own_user(env: &Env, caller: &Caller) -> Result<User> {
    let id = own_id(caller)?;
    storage::read::<User>(env.kv, &keys::user(&caller.tenant, id))?
        .map(|r| r.data)
        .ok_or_else(|| Error::Unauthenticated("invalid or expired credential".into()))
}

/// Starts an installation: a new secret, not yet in force. It needs the
/// user's password, so a stolen session alone cannot put its own app on the
/// account. A second call before verifying replaces the secret; an enabled
/// factor must be disabled first (409).
pub fn enable(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    password: &str,
    address: &str,
) -> Result<Installation> {
    let id = own_id(caller)?;
    let me = own_user(env, caller)?;
    if required(&me) {
        return Err(Error::Conflict(
            "two-factor authentication is already enabled; disable it first".into(),
        ));
    }
    users::check_own_password(env, &caller.tenant, &me, password, address, "password")?;
    let secret: [u8; 20] = random_bytes(env);
    let nonce: [u8; 24] = random_bytes(env);
    let sealed = totp::seal_secret(&config.token_keys, &id.to_string(), &secret, nonce)
        .ok_or_else(keys_missing)?;
    let user = change_own(env, caller, "user.2fa.install", |u| {
        if required(u) {
            return Err(Error::Conflict(
                "two-factor authentication is already enabled; disable it first".into(),
            ));
        }
        u.two_factor = Some(TwoFactor {
            secret: sealed.clone(),
            enabled: false,
            last_step: 0,
            recovery: Vec::new(),
            sms_phone: u
                .profile
                .mobile_phone
                .clone()
                .or_else(|| u.profile.phone.clone())
                .filter(|p| !p.trim().is_empty()),
        });
        Ok(())
    })?;
    Ok(Installation {
        secret: totp::base32(&secret),
        otpauth_uri: totp::otpauth_uri(ISSUER, &user.email, &secret),
    })
}

/// Changes the caller's own user record by compare-and-swap and audits it
/// as `action`.
fn change_own(
    env: &mut Env,
    caller: &Caller,
    action: &str,
    mut change: impl FnMut(&mut User) -> Result<()>,
) -> Result<User> {
    let id = own_id(caller)?;
    let op = format!("{action}/{}", env.new_uuid().simple());
    let now = env.now;
    let user = storage::update::<User, _>(env, &keys::user(&caller.tenant, id), &op, |u| {
        change(u)?;
        u.updated_at = now;
        Ok(())
    })?
    .data;
    audit_own(env, caller, &op, action)?;
    Ok(user)
}

fn audit_own(env: &Env, caller: &Caller, op: &str, action: &str) -> Result<()> {
    let id = own_id(caller)?;
    caller.audit(env, op, action, vec![format!("user:{id}")], None)
}

/// What a successful check does to the factor besides spending the code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    Keep,
    /// The installation's first code: the factor comes into force.
    Activate,
    /// The factor is removed.
    Remove,
}

/// Checks `factor` against the user's second factor and spends it, in one
/// compare-and-swap on the user record; throttled per user and address.
fn spend(
    env: &mut Env,
    config: &Config,
    tenant: &str,
    id: Uuid,
    factor: &SecondFactor,
    address: &str,
    then: Then,
) -> Result<User> {
    let account = format!("2fa:{id}");
    throttle::second_factor_attempt(env, tenant, &account, address)?;
    let op = format!("2fa/{}", env.new_uuid().simple());
    let now = env.now;
    let owner = id.to_string();
    let keys = &config.token_keys;
    let refused = || Error::Unauthenticated("invalid two-factor code".into());
    let user = storage::update::<User, _>(env, &keys::user(tenant, id), &op, |u| {
        let active = required(u);
        let Some(tf) = u.two_factor.as_mut() else {
            return Err(Error::Conflict(
                "two-factor authentication is not installed".into(),
            ));
        };
        match (then, active) {
            (Then::Activate, true) => {
                return Err(Error::Conflict(
                    "two-factor authentication is already enabled".into(),
                ));
            }
            (Then::Keep | Then::Remove, false) => {
                return Err(Error::Conflict(
                    "two-factor authentication is not enabled".into(),
                ));
            }
            _ => {}
        }
        match factor {
            SecondFactor::Otp(code) => {
                let secret =
                    totp::open_secret(keys, &owner, &tf.secret).ok_or_else(keys_missing)?;
                tf.last_step =
                    totp::accepted_step(&secret, code, now, tf.last_step).ok_or_else(refused)?;
            }
            SecondFactor::Recovery(code) => {
                // Installation proves the app works: only a code from it.
                if then == Then::Activate {
                    return Err(refused());
                }
                let typed = totp::normalize_recovery_code(code);
                let used = tf
                    .recovery
                    .iter()
                    .position(|sealed| secrets::unseal_matches(keys, sealed, &typed))
                    .ok_or_else(refused)?;
                tf.recovery.remove(used);
            }
        }
        match then {
            Then::Keep => {}
            Then::Activate => tf.enabled = true,
            Then::Remove => u.two_factor = None,
        }
        u.updated_at = now;
        Ok(())
    })?
    .data;
    throttle::second_factor_succeeded(env, tenant, &account, address)?;
    Ok(user)
}

/// The installation's first code: the factor is in force from now on.
pub fn verify_installation(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    code: &str,
    address: &str,
) -> Result<User> {
    let id = own_id(caller)?;
    let factor = SecondFactor::Otp(code.to_string());
    let user = spend(
        env,
        config,
        &caller.tenant,
        id,
        &factor,
        address,
        Then::Activate,
    )?;
    let op = format!("2fa-verify/{}", env.new_uuid().simple());
    audit_own(env, caller, &op, "user.2fa.enable")?;
    Ok(user)
}

/// Removes the factor; needs a current code or a recovery code.
pub fn disable(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    factor: &SecondFactor,
    address: &str,
) -> Result<User> {
    let id = own_id(caller)?;
    let user = spend(
        env,
        config,
        &caller.tenant,
        id,
        factor,
        address,
        Then::Remove,
    )?;
    let op = format!("2fa-disable/{}", env.new_uuid().simple());
    audit_own(env, caller, &op, "user.2fa.disable")?;
    Ok(user)
}

/// An administrator takes away the second factor of a user who lost it (a
/// lost phone): a change of a credential, so the administrator signs it
/// with its own password (throttled like a sign-in; the platform admin's
/// key is credential enough), and the user is told at its address. Only
/// for a user of narrower role in reach, never one's own (that is
/// `disable`, with a code), never from an impersonated session. 409 when
/// the user has no second factor.
///
/// Told first, then done: the notice is queued before the factor goes,
/// under an operation named after the enrolment, so a retry after any
/// failure tells again under the same message subject (one webhook-id: a
/// receiver sends it once) and a reset is never silent. The audit event
/// follows the change.
pub fn reset_by_admin(
    env: &mut Env,
    caller: &Caller,
    id: Uuid,
    password: &str,
    address: &str,
) -> Result<User> {
    if caller.impersonator.is_some() {
        return Err(Error::Forbidden(
            "an impersonated session cannot reset a second factor".into(),
        ));
    }
    caller.require(crate::base::model::Role::CustomerAdmin)?;
    if caller.user == Some(id) {
        return Err(Error::Forbidden(
            "your own second factor is turned off with a code (PUT /v2/user/disable_2fa)".into(),
        ));
    }
    let (target, org) = users::get(env, caller, id)?;
    let platform_admin = caller.user.is_none();
    let narrower = |u: &User| platform_admin || u.role > caller.role;
    if !narrower(&target) {
        return Err(Error::Forbidden(
            "only a narrower role's second factor can be reset".into(),
        ));
    }
    if !platform_admin {
        let me = own_user(env, caller)?;
        users::check_own_password(env, &caller.tenant, &me, password, address, "password")?;
    }
    let enrolment = match &target.two_factor {
        Some(f) => storage::sha256_hex(f.secret.as_bytes())[..16].to_string(),
        None => {
            return Err(Error::Conflict(
                "the user has no second factor to reset".into(),
            ));
        }
    };
    let op = format!("2fa-reset/{id}/{enrolment}");
    crate::idm::outbox::queue_two_factor_reset(env, &caller.tenant, &target, &op)?;
    let now = env.now;
    let (record, changed) =
        storage::update_if::<User, _>(env, &keys::user(&caller.tenant, id), &op, |u| {
            let same = u
                .two_factor
                .as_ref()
                .is_some_and(|f| storage::sha256_hex(f.secret.as_bytes())[..16] == enrolment);
            if !same {
                return Ok(false);
            }
            if !narrower(u) {
                return Err(Error::Forbidden(
                    "only a narrower role's second factor can be reset".into(),
                ));
            }
            u.two_factor = None;
            u.updated_at = now;
            Ok(true)
        })?;
    if !changed {
        return Err(Error::Conflict(
            "the second factor changed meanwhile; reload and retry".into(),
        ));
    }
    caller.audit(
        env,
        &op,
        "user.2fa.reset",
        vec![format!("user:{id}")],
        Some(&org),
    )?;
    Ok(record.data)
}

/// A new set of recovery codes, shown this once; the old set stops working.
/// It needs a current code from the app (spent like any other), so a stolen
/// session cannot mint codes that would disable the factor.
pub fn generate_recovery_codes(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    code: &str,
    address: &str,
) -> Result<Vec<String>> {
    let id = own_id(caller)?;
    let factor = SecondFactor::Otp(code.to_string());
    spend(
        env,
        config,
        &caller.tenant,
        id,
        &factor,
        address,
        Then::Keep,
    )?;
    let codes: Vec<String> = (0..totp::RECOVERY_CODES)
        .map(|_| totp::recovery_code((env.random)()))
        .collect();
    let sealed = codes
        .iter()
        .map(|c| secrets::seal(&config.token_keys, &totp::normalize_recovery_code(c)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(keys_missing)?;
    change_own(env, caller, "user.2fa.recovery_codes", |u| {
        match u.two_factor.as_mut() {
            Some(tf) if tf.enabled => tf.recovery = sealed.clone(),
            _ => {
                return Err(Error::Conflict(
                    "two-factor authentication is not enabled".into(),
                ));
            }
        }
        Ok(())
    })?;
    Ok(codes)
}

/// A sign-in waiting for its second step.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    user: Uuid,
    expires_at: Millis,
    /// When the password was checked: a reset after it ends the sign-in.
    #[serde(default)]
    created_at: Millis,
}

/// How long a code sent by SMS is good, and how many one pending sign-in
/// may have sent.
pub const SMS_TTL_MS: Millis = 5 * 60 * 1000;
pub const SMS_MAX_SENDS: i64 = 3;

/// A code sent by SMS for one pending sign-in. The code itself is never
/// stored: it is six digits of `HMAC(token_keys, "sms-otp/<tenant>/<id>")`,
/// rebuilt when the outbox delivers the message.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SmsCode {
    id: Uuid,
    user: Uuid,
    expires_at: Millis,
}

fn sms_key(tenant: &str, id: Uuid) -> String {
    format!("t/{tenant}/sms-otp/{id}")
}

fn sms_digits(mac_hex: &str) -> String {
    let n = u32::from_str_radix(&mac_hex[..8], 16).unwrap_or(0);
    format!("{:06}", n % 1_000_000)
}

/// The code SMS message `id` carries, under the current key.
pub fn sms_code(config: &Config, tenant: &str, id: Uuid) -> Result<String> {
    let (kid, _) = config.token_keys.current().ok_or_else(keys_missing)?;
    let mac = secrets::keyed_hash(&config.token_keys, kid, &format!("sms-otp/{tenant}/{id}"))
        .ok_or_else(keys_missing)?;
    Ok(sms_digits(&mac))
}

/// The pending sign-in an `otp_session_state` names: its key and record,
/// if it is live and unspent.
fn live_pending(
    env: &Env,
    config: &Config,
    tenant: &Tenant,
    state: &str,
) -> Result<Option<(String, Pending)>> {
    if state.is_empty() || state.len() > 128 {
        return Ok(None);
    }
    for (kid, hash) in secrets::keyed_hashes(&config.token_keys, state) {
        let key = gkeys::otp_state(&tenant.id, &kid, &hash);
        if let Some(record) = storage::read::<Pending>(env.kv, &key)? {
            let live = record.data.expires_at > env.now
                && storage::read_counter(env.kv, &format!("{key}/used"))? == 0;
            return Ok(live.then_some((key, record.data)));
        }
    }
    Ok(None)
}

/// The vendor's "Send SMS OTP": for a pending two-factor sign-in, queues a
/// code in the outbox to the phone enrolled with the second factor (the
/// account's mobile phone, else its phone, when the factor was installed);
/// at most [`SMS_MAX_SENDS`] a sign-in, the newest code the only good one.
/// The code is then sent as `otp_attempt`. Returns the phone, masked.
pub fn send_sms(env: &mut Env, config: &Config, tenant: &Tenant, state: &str) -> Result<String> {
    let (key, pending) = live_pending(env, config, tenant, state)?
        .ok_or_else(|| Error::Unauthenticated("unknown or expired otp_session_state".into()))?;
    // The same checks the second step makes: a sign-in a reset ended, or an
    // account disabled or without its factor since, gets nothing sent.
    let user = storage::read::<User>(env.kv, &keys::user(&tenant.id, pending.user))?
        .map(|r| r.data)
        .filter(|u| {
            required(u)
                && u.status.may_authenticate()
                && pending.created_at >= u.credentials_floor()
        })
        .ok_or_else(|| Error::Unauthenticated("unknown or expired otp_session_state".into()))?;
    let phone = user
        .two_factor
        .as_ref()
        .and_then(|tf| tf.sms_phone.clone())
        .ok_or_else(|| {
            Error::invalid(
                "otp_session_state",
                "no phone was enrolled with the second factor to send a code to",
            )
        })?;
    if env.kv.increment(&format!("{key}/sms-sent"), 1)? > SMS_MAX_SENDS {
        let wait = (pending.expires_at - env.now).max(1000) / 1000;
        return Err(Error::RateLimited(wait as u64));
    }
    let id = env.new_uuid();
    let code = SmsCode {
        id,
        user: user.id,
        expires_at: env.now + SMS_TTL_MS,
    };
    let op = format!("sms-otp/{id}");
    storage::write(env.kv, &sms_key(&tenant.id, id), &op, &code)?;
    crate::be::expiry::expire_at(env, &tenant.id, code.expires_at, &[sms_key(&tenant.id, id)])?;
    storage::write(env.kv, &format!("{key}/sms"), &op, &id)?;
    crate::idm::outbox::queue(
        env,
        &tenant.id,
        "sms_otp",
        &phone,
        id,
        user.id,
        user.organization_id,
    )?;
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(2)..].iter().collect();
    Ok(format!("***{tail}"))
}

/// The user, when `factor` is the newest SMS code of pending sign-in `key`.
fn sms_match(
    env: &Env,
    config: &Config,
    tenant: &Tenant,
    key: &str,
    pending: &Pending,
    factor: &SecondFactor,
) -> Result<Option<User>> {
    let SecondFactor::Otp(attempt) = factor else {
        return Ok(None);
    };
    let Some(id) = storage::read::<Uuid>(env.kv, &format!("{key}/sms"))?.map(|r| r.data) else {
        return Ok(None);
    };
    let live = storage::read::<SmsCode>(env.kv, &sms_key(&tenant.id, id))?
        .map(|r| r.data)
        .filter(|c| c.user == pending.user && c.expires_at > env.now);
    if live.is_none() {
        return Ok(None);
    }
    let matches = secrets::keyed_hashes(&config.token_keys, &format!("sms-otp/{}/{id}", tenant.id))
        .iter()
        .any(|(_, mac)| {
            crate::credential::auth::constant_time_eq(
                sms_digits(mac).as_bytes(),
                attempt.trim().as_bytes(),
            )
        });
    if !matches {
        return Ok(None);
    }
    Ok(
        storage::read::<User>(env.kv, &keys::user(&tenant.id, pending.user))?
            .map(|r| r.data)
            .filter(|u| u.status.may_authenticate()),
    )
}

/// The first step of a two-factor sign-in (the password was right): the
/// `otp_session_state` the second step must bring back.
pub fn start_sign_in(
    env: &mut Env,
    config: &Config,
    tenant: &Tenant,
    user: &User,
) -> Result<String> {
    let state = secrets::random_secret(env.random);
    let (kid, _) = config.token_keys.current().ok_or_else(keys_missing)?;
    let hash = secrets::keyed_hash(&config.token_keys, kid, &state).ok_or_else(keys_missing)?;
    let pending = Pending {
        user: user.id,
        expires_at: env.now + PENDING_TTL_MS,
        created_at: env.now,
    };
    let key = gkeys::otp_state(&tenant.id, kid, &hash);
    storage::write(env.kv, &key, &format!("otp-state/{hash}"), &pending)?;
    let related = ["", "/used", "/sms", "/sms-sent"].map(|suffix| format!("{key}{suffix}"));
    crate::be::expiry::expire_at(env, &tenant.id, pending.expires_at, &related)?;
    Ok(state)
}

/// The second step: the state from the first and a second factor of the
/// same user. Returns the user to open a session for; the state is spent.
pub fn complete_sign_in(
    env: &mut Env,
    config: &Config,
    tenant: &Tenant,
    state: &str,
    factor: &SecondFactor,
    address: &str,
) -> Result<User> {
    let unknown = || Error::Unauthenticated("unknown or expired otp_session_state".into());
    // A spent state is refused before its code is looked at, so a code sent
    // with it is not spent for nothing.
    let (key, pending) = live_pending(env, config, tenant, state)?.ok_or_else(unknown)?;
    let used = format!("{key}/used");
    let tried = spend(
        env,
        config,
        &tenant.id,
        pending.user,
        factor,
        address,
        Then::Keep,
    );
    let user = match tried {
        Ok(user) => user,
        // Not the app's code: perhaps the one sent by SMS for this sign-in
        // (already counted by the throttle above).
        Err(Error::Unauthenticated(_))
            if let Some(user) = sms_match(env, config, tenant, &key, &pending, factor)? =>
        {
            let account = format!("2fa:{}", user.id);
            throttle::second_factor_succeeded(env, &tenant.id, &account, address)?;
            user
        }
        Err(Error::Unauthenticated(m)) => {
            // A state takes a few wrong codes, then it is spent: guessing
            // needs the password again every few tries.
            if env.kv.increment(&format!("{key}/failures"), 1)? >= PENDING_MAX_FAILURES {
                env.kv.increment(&used, 1)?;
            }
            return Err(Error::Unauthenticated(m));
        }
        Err(e) => return Err(e),
    };
    // Good for one session, even when two requests race with two codes,
    // and not past a password reset since the first step.
    if env.kv.increment(&used, 1)? != 1 || pending.created_at < user.credentials_floor() {
        return Err(unknown());
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::identity::{self, Family};
    use crate::credential::totp;
    use crate::testing::{OPERATOR, PASSWORD, World, base32_decode, config};

    #[test]
    fn a_second_factor_is_in_force_once_verified_and_gone_once_disabled() {
        let world = World::new();
        let created = world.tenant();
        let now = 1_800_000_000_000;
        let signed = world.at(now, |env| {
            identity::sign_in(
                env,
                &created.tenant,
                OPERATOR,
                PASSWORD,
                "192.0.2.1",
                Family::Clone,
            )
            .expect("a sign-in")
        });
        let installed = world.at(now, |env| {
            let wrong = enable(env, &config(), &signed.caller, "nope", "192.0.2.1");
            assert!(matches!(wrong, Err(Error::Invalid(_))), "{wrong:?}");
            enable(env, &config(), &signed.caller, PASSWORD, "192.0.2.1").expect("installed")
        });
        let secret = base32_decode(&installed.secret);
        let code_at = |t: i64| totp::code(&secret, (t / 1000 / 30) as u64);
        world.at(now, |env| {
            let user =
                verify_installation(env, &config(), &signed.caller, &code_at(now), "192.0.2.1")
                    .expect("verified");
            assert!(user.two_factor_required());
            let password_only = identity::sign_in(
                env,
                &created.tenant,
                OPERATOR,
                PASSWORD,
                "192.0.2.1",
                Family::Clone,
            );
            assert!(
                matches!(password_only, Err(Error::Unauthenticated(_))),
                "{password_only:?}"
            );
        });
        let later = now + 60_000;
        world.at(later, |env| {
            let user = disable(
                env,
                &config(),
                &signed.caller,
                &SecondFactor::Otp(code_at(later)),
                "192.0.2.1",
            )
            .expect("disabled");
            assert!(!user.two_factor_required());
        });
    }
}
