//! The outbox: every message the account flows send (invitation,
//! confirmation, password reset) waits here, per tenant, until it is
//! delivered to the tenant's webhook or read by an operator.
//!
//! A message never holds its token: it names the account token it is about
//! (`subject`) and the token is rebuilt from the signing keys when the
//! message is read or delivered (`account_tokens::wire_token`), so the store
//! alone gives nothing away.
//!
//! Delivery is a pass (`POST /admin/outbox/deliver`, run by a scheduler):
//! each due message is POSTed to the webhook, signed as Standard Webhooks
//! says (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64
//! HMAC-SHA256(secret, id.timestamp.body)>`). A message is leased by
//! compare-and-swap before it is sent, so two passes racing send it once
//! (at least once if a pass dies mid-send: receivers dedupe on
//! `webhook-id`, which a retry keeps). A failed attempt is retried on the
//! Standard Webhooks schedule; after the last it is `failed`. Every attempt
//! is logged in the message with its status and an error code, never a
//! body, header or token.
//!
//! Keys: `t/{t}/outbox/{n}`, the counter `t/{t}/outbox/n`, and the pass's
//! cursor `t/{t}/outbox/cursor` (every message below it is finished).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::identity::Config;
use crate::model::{Role, Tenant, Webhook};
use crate::storage::{self, Env};
use crate::time::Millis;

/// Delays before each retry (after attempts 1, 2, ...): the Standard
/// Webhooks schedule. A message fails after `RETRY_DELAYS_MS.len() + 1`
/// attempts, about 27 hours after its first.
pub const RETRY_DELAYS_MS: [Millis; 7] = [
    5_000,
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    5 * 3_600_000,
    10 * 3_600_000,
    10 * 3_600_000,
];
/// How long a pass holds a message it is sending (longer than a pass
/// sends, [`PASS_BUDGET_MS`], plus one request's timeouts).
const LEASE_MS: Millis = 60_000;
/// Messages a pass reads at once, and sends at most.
const SCAN: i64 = 100;
const SEND: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Pending,
    Delivered,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        }
    }
}

/// One try at delivering a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: Millis,
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// Why it did not count: a non-2xx status or a transport error code.
    pub error: Option<String>,
}

/// A message waiting to be delivered, with its delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub seq: i64,
    /// `invitation`, `confirmation`, `password_reset`, `sms_otp` or
    /// `email_changed`.
    pub kind: String,
    pub to: String,
    /// The account token it carries; for a notice that carries none
    /// (`email_changed`), an id derived from the change, so its webhook-id
    /// is stable across retries.
    pub subject: Uuid,
    /// `email_changed`: the address the account is moving to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    #[serde(default)]
    pub user: Option<Uuid>,
    pub organization: Uuid,
    pub created_at: Millis,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    #[serde(default)]
    pub next_attempt_at: Millis,
    #[serde(default)]
    pub lease_until: Millis,
    /// The pass holding it (its lease op), while one does.
    #[serde(default)]
    pub lease: Option<String>,
}

fn key(tenant: &str, seq: i64) -> String {
    format!("t/{tenant}/outbox/{seq}")
}

fn counter(tenant: &str) -> String {
    format!("t/{tenant}/outbox/n")
}

fn cursor_key(tenant: &str) -> String {
    format!("t/{tenant}/outbox/cursor")
}

/// Queues a message about account token `subject`.
pub fn queue(
    env: &Env,
    tenant: &str,
    kind: &str,
    to: &str,
    subject: Uuid,
    user: Uuid,
    organization: Uuid,
) -> Result<Message> {
    let message = Message {
        kind: kind.to_string(),
        to: to.to_string(),
        subject,
        ..pending(env, user, organization)
    };
    enqueue(env, tenant, message)
}

/// A message to be sent now, not yet numbered or addressed.
fn pending(env: &Env, user: Uuid, organization: Uuid) -> Message {
    Message {
        seq: 0,
        kind: String::new(),
        to: String::new(),
        subject: Uuid::nil(),
        new_email: None,
        user: Some(user),
        organization,
        created_at: env.now,
        status: Status::Pending,
        attempts: Vec::new(),
        next_attempt_at: env.now,
        lease_until: 0,
        lease: None,
    }
}

/// Numbers `message` and writes it in one write, whole.
fn enqueue(env: &Env, tenant: &str, mut message: Message) -> Result<Message> {
    message.seq = env.kv.increment(&counter(tenant), 1)?;
    storage::write(
        env.kv,
        &key(tenant, message.seq),
        &format!("outbox/{}", message.subject),
        &message,
    )?;
    Ok(message)
}

/// Tells the account's current address that its email is being changed to
/// `new_email` (kind `email_changed`), so an owner whose session was stolen
/// learns of it before the change can take effect. `op` is the change.
pub fn queue_email_changed(
    env: &Env,
    tenant: &str,
    user: &crate::model::User,
    old_email: &str,
    new_email: &str,
    op: &str,
) -> Result<Message> {
    let message = Message {
        kind: EMAIL_CHANGED.to_string(),
        to: old_email.to_string(),
        subject: storage::derived_uuid(op, "email_changed"),
        new_email: Some(new_email.to_string()),
        ..pending(env, user.id, user.organization_id)
    };
    enqueue(env, tenant, message)
}

/// The notice of an email change; it carries no token.
pub const EMAIL_CHANGED: &str = "email_changed";

fn operators_only(caller: &Caller) -> Result<()> {
    caller.require(Role::Operator)?;
    if caller.org.is_some() {
        return Err(Error::Forbidden("operators only".into()));
    }
    Ok(())
}

/// The newest `limit` messages (operators only). While the tenant has no
/// webhook, operators deliver the messages themselves, so each undelivered
/// one comes with what it carries (and the read is audited); with a
/// webhook, no token is ever shown.
pub fn list(
    env: &Env,
    config: &Config,
    caller: &Caller,
    limit: usize,
) -> Result<Vec<(Message, Option<String>)>> {
    operators_only(caller)?;
    let tenant = crate::admin::get_tenant(env, &caller.tenant)?;
    let newest = env.kv.increment(&counter(&caller.tenant), 0)?;
    let keys: Vec<String> = (1.max(newest - limit as i64 + 1)..=newest)
        .rev()
        .map(|seq| key(&caller.tenant, seq))
        .collect();
    let shown: Vec<(Message, Option<String>)> = storage::read_many::<Message>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .map(|m| {
            let token =
                (tenant.webhook.is_none() && m.status == Status::Pending && m.user.is_some())
                    .then(|| carried(config, &caller.tenant, &m))
                    .transpose()?
                    .flatten();
            Ok((m, token))
        })
        .collect::<Result<_>>()?;
    if shown.iter().any(|(_, t)| t.is_some()) {
        caller.audit(
            env,
            &format!("outbox-read/{}/{newest}", env.now),
            "outbox.read",
            vec![format!("outbox:{newest}")],
            None,
        )?;
    }
    Ok(shown)
}

/// An HTTP POST a delivery pass asks the host to make.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the host made of an [`Outgoing`]: the receiver's status, or a
/// transport error code.
pub type Sent = std::result::Result<u16, String>;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    pub attempted: usize,
    pub delivered: usize,
    pub failed: usize,
    /// Messages still waiting (for their next attempt, or another pass).
    pub pending: usize,
}

fn webhook_secret(config: &Config, tenant: &Tenant, hook: &Webhook) -> Result<Vec<u8>> {
    crate::totp::open_secret(
        &config.token_keys,
        &webhook_owner(&tenant.id),
        &hook.sealed_secret,
    )
    .ok_or_else(|| {
        Error::Conflict(
            "the webhook secret was sealed under a token_keys pair no longer configured: set the webhook again".into(),
        )
    })
}

/// What a tenant's webhook secret is sealed for.
pub fn webhook_owner(tenant: &str) -> String {
    format!("webhook/{tenant}")
}

/// The `webhook-signature` value of a payload (Standard Webhooks, v1).
pub fn signature(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!(
        "v1,{}",
        STANDARD.encode(crate::secrets::mac(secret, &signed))
    )
}

/// The Standard Webhooks form of a secret: `whsec_` and its base64.
pub fn secret_text(secret: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(secret))
}

/// The bytes of a `whsec_...` secret; 24 to 64 of them.
pub fn parse_secret(text: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(text.strip_prefix("whsec_")?).ok()?;
    (24..=64).contains(&bytes.len()).then_some(bytes)
}

/// What message `m` carries: its account token, or for `sms_otp` the code.
fn carried(config: &Config, tenant: &str, m: &Message) -> Result<Option<String>> {
    match m.kind.as_str() {
        EMAIL_CHANGED => Ok(None),
        "sms_otp" => crate::two_factor::sms_code(config, tenant, m.subject).map(Some),
        _ => crate::account_tokens::wire_token(config, tenant, m.subject).map(Some),
    }
}

/// Whether what `m` carries can still be used: a message whose token was
/// spent or expired, or whose SMS code lapsed, is not worth sending.
fn worth_sending(env: &Env, tenant: &str, m: &Message) -> Result<bool> {
    if m.user.is_none() {
        // Written before messages named their user (and their token had
        // another form): nothing in it can be used.
        return Ok(false);
    }
    Ok(match m.kind.as_str() {
        EMAIL_CHANGED => true,
        "sms_otp" => m.created_at + crate::two_factor::SMS_TTL_MS > env.now,
        _ => crate::account_tokens::read(env, tenant, m.subject)?.is_some_and(|t| t.live(env.now)),
    })
}

fn outgoing(
    config: &Config,
    tenant: &Tenant,
    hook: &Webhook,
    secret: &[u8],
    m: &Message,
    now: Millis,
) -> Result<Outgoing> {
    let token = carried(config, &tenant.id, m)?;
    // One id per token (not per message): a message queued twice for one
    // token is one message to a receiver that dedupes.
    let id = format!("msg_{}", m.subject.simple());
    let body = json!({
        "type": format!("account.{}", m.kind),
        "timestamp": crate::time::format_millis(now),
        "data": {
            "tenant": tenant.id,
            "seq": m.seq,
            "kind": m.kind,
            "to": m.to,
            "token": token,
            "new_email": m.new_email,
            "user_id": m.user,
            "organization_id": m.organization,
            "created_at": crate::time::format_millis(m.created_at),
        }
    });
    let body = serde_json::to_vec(&body).map_err(|e| Error::Unavailable(e.to_string()))?;
    let timestamp = now / 1000;
    Ok(Outgoing {
        url: hook.url.clone(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("webhook-id".into(), id.clone()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            (
                "webhook-signature".into(),
                signature(secret, &id, timestamp, &body),
            ),
        ],
        body,
    })
}

/// The cursor: every message at or below `done` is finished. `hole` is the
/// first empty slot seen past it and when: a counter bumped by a request
/// whose message is still being written looks the same as one whose request
/// died, so a hole is passed over only once it has stayed empty for
/// [`HOLE_GRACE_MS`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    done: i64,
    #[serde(default)]
    hole: Option<(i64, Millis)>,
}

const HOLE_GRACE_MS: Millis = 5 * 60 * 1000;
/// How long a pass keeps sending; past it, the rest waits for the next
/// pass (a lease outlives it, so no other pass sends what this one holds).
const PASS_BUDGET_MS: Millis = 20_000;
/// Messages a pass reads past its cursor at most.
const SCAN_MAX: i64 = 1_000;

fn clock_now(env: &Env) -> Millis {
    crate::time::millis(std::time::SystemTime::now()).max(env.now)
}

/// One delivery pass over the caller's tenant (operators only): sends each
/// due message past the cursor to the webhook and records the outcome.
pub fn deliver(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    send: &mut dyn FnMut(&Outgoing) -> Sent,
) -> Result<Pass> {
    operators_only(caller)?;
    let tenant = crate::admin::get_tenant(env, &caller.tenant)?;
    let hook = tenant.webhook.clone().ok_or_else(|| {
        Error::invalid(
            "webhook",
            "is not configured for this tenant; read the messages with GET /admin/outbox",
        )
    })?;
    let secret = webhook_secret(config, &tenant, &hook)?;
    let t = tenant.id.as_str();
    storage::create_new(env, &cursor_key(t), "outbox-cursor", &Cursor::default())?;
    let cursor = storage::read::<Cursor>(env.kv, &cursor_key(t))?
        .map(|r| r.data)
        .unwrap_or_default();
    let newest = env.kv.increment(&counter(t), 0)?;
    let started = clock_now(env);
    let mut pass = Pass::default();
    let mut finished_below = cursor.done;
    let mut first_hole = None;
    let mut contiguous = true;
    let mut from = cursor.done + 1;
    while from <= newest.min(cursor.done + SCAN_MAX) {
        let to = newest.min(from + SCAN - 1);
        let seqs: Vec<i64> = (from..=to).collect();
        let keys: Vec<String> = seqs.iter().map(|s| key(t, *s)).collect();
        let found = storage::read_many::<Message>(env.kv, &keys)?;
        for (seq, message) in seqs.iter().zip(found) {
            let busy = pass.attempted >= SEND || clock_now(env) - started > PASS_BUDGET_MS;
            let finished = match message {
                None => {
                    let since = match cursor.hole {
                        Some((s, at)) if s == *seq => at,
                        _ => env.now,
                    };
                    if contiguous && first_hole.is_none() {
                        first_hole = Some((*seq, since));
                    }
                    env.now - since >= HOLE_GRACE_MS
                }
                Some(m) if m.status != Status::Pending => true,
                Some(m) if busy || m.next_attempt_at > env.now => {
                    pass.pending += 1;
                    false
                }
                Some(m) => {
                    let status = attempt(env, config, &tenant, &hook, &secret, m, send)?;
                    match status {
                        Some(Status::Delivered) => pass.delivered += 1,
                        Some(Status::Failed) => pass.failed += 1,
                        _ => pass.pending += 1,
                    }
                    pass.attempted += usize::from(status.is_some());
                    status.is_some_and(|s| s != Status::Pending)
                }
            };
            contiguous &= finished;
            if contiguous {
                finished_below = *seq;
            }
        }
        if pass.attempted >= SEND {
            break;
        }
        from = to + 1;
    }
    let next = Cursor {
        done: finished_below,
        hole: first_hole.filter(|(s, _)| *s > finished_below),
    };
    if next != cursor {
        let op = format!("outbox-cursor/{}", env.new_uuid().simple());
        storage::update_if::<Cursor, _>(env, &cursor_key(t), &op, |c| {
            // Only ever forward: a slower pass cannot move it back.
            if c.done > next.done {
                return Ok(false);
            }
            *c = next.clone();
            Ok(true)
        })?;
    }
    Ok(pass)
}

/// Whether a receiver's answer ends a message for good: a 2xx delivers it,
/// a 410 says the endpoint is gone. Anything else is retried: a 401 or 404
/// is as likely a receiver mid-deploy or a secret being rotated as a final
/// refusal.
fn final_status(code: u16) -> Option<Status> {
    match code {
        200..=299 => Some(Status::Delivered),
        410 => Some(Status::Failed),
        _ => None,
    }
}

/// Leases, sends and records one message; `None` when another pass holds
/// it or finished it meanwhile. A message not worth sending any more is
/// failed without a request.
fn attempt(
    env: &mut Env,
    config: &Config,
    tenant: &Tenant,
    hook: &Webhook,
    secret: &[u8],
    message: Message,
    send: &mut dyn FnMut(&Outgoing) -> Sent,
) -> Result<Option<Status>> {
    let now = clock_now(env);
    let k = key(&tenant.id, message.seq);
    let lease = format!("outbox-lease/{}", env.new_uuid().simple());
    let (_, leased) = storage::update_if::<Message, _>(env, &k, &lease, |m| {
        if m.status != Status::Pending || m.lease_until > now || m.next_attempt_at > now {
            return Ok(false);
        }
        m.lease_until = now + LEASE_MS;
        m.lease = Some(lease.clone());
        Ok(true)
    })?;
    if !leased {
        return Ok(None);
    }
    // A message whose token cannot be read now is left to a later pass
    // (its lease lapses), not allowed to stop this one.
    let Ok(worth) = worth_sending(env, &tenant.id, &message) else {
        return Ok(None);
    };
    let (status, error, verdict) = if worth {
        let request = outgoing(config, tenant, hook, secret, &message, now)?;
        match send(&request) {
            Ok(code) => (
                Some(code),
                (!(200..300).contains(&code)).then(|| format!("status {code}")),
                final_status(code),
            ),
            Err(e) => (None, Some(e.chars().take(80).collect()), None),
        }
    } else {
        (
            None,
            Some("expired: its token was used or has expired".to_string()),
            Some(Status::Failed),
        )
    };
    let op = format!("outbox-attempt/{}", env.new_uuid().simple());
    let at = clock_now(env);
    let (record, _) = storage::update_if::<Message, _>(env, &k, &op, |m| {
        // Only the holder of the lease records, and only once.
        if m.lease.as_deref() != Some(lease.as_str()) || m.status != Status::Pending {
            return Ok(false);
        }
        m.attempts.push(Attempt {
            at,
            status,
            error: error.clone(),
        });
        m.lease_until = 0;
        m.lease = None;
        match (verdict, RETRY_DELAYS_MS.get(m.attempts.len() - 1)) {
            (Some(v), _) => m.status = v,
            (None, Some(delay)) => m.next_attempt_at = at + delay,
            (None, None) => m.status = Status::Failed,
        }
        Ok(true)
    })?;
    Ok(Some(record.data.status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account_tokens::{AccountToken, Purpose};
    use crate::kv::{Kv as _, MemKv};
    use crate::storage::Actor;

    const NOW: Millis = 1_800_000_000_000;

    fn config() -> Config {
        Config::from_vars(|name| {
            (name == "token_keys").then(|| "k1:outbox-test-key-0123456789".into())
        })
    }

    /// Tenant `t` with a webhook, and `n` messages each carrying a live
    /// token; `holes` are counter values left without a message.
    fn setup(kv: &MemKv, n: i64, holes: &[i64]) -> Vec<Uuid> {
        let mut random = || [7u8; 16];
        let env = Env {
            kv,
            now: NOW,
            random: &mut random,
            pause: &|_| {},
            correlation: None,
        };
        let sealed = crate::totp::seal_secret(
            &config().token_keys,
            &webhook_owner("t"),
            &[1u8; 32],
            [2u8; 24],
        )
        .unwrap();
        let tenant = Tenant {
            id: "t".into(),
            name: "T".into(),
            domains: vec![],
            status: Default::default(),
            root_org: None,
            application_key: None,
            webhook: Some(Webhook {
                url: "https://hooks.test/x".into(),
                sealed_secret: sealed,
            }),
            token_ttl: Default::default(),
            created_at: NOW,
        };
        storage::write(kv, &crate::identity::gkeys::tenant("t"), "setup", &tenant).unwrap();
        let mut subjects = Vec::new();
        let mut seq = 0;
        while (subjects.len() as i64) < n {
            seq += 1;
            if holes.contains(&seq) {
                kv.increment(&counter("t"), 1).unwrap();
                continue;
            }
            let id = Uuid::from_u128(seq as u128);
            let token = AccountToken {
                id,
                purpose: Purpose::Invitation,
                user: Uuid::from_u128(99),
                organization: Uuid::from_u128(98),
                email: "a@b.test".into(),
                created_at: NOW,
                expires_at: NOW + 60_000,
                used_at: None,
                queued: None,
            };
            storage::write(kv, &format!("t/t/account-token/{id}"), "setup", &token).unwrap();
            queue(
                &env,
                "t",
                "invitation",
                "a@b.test",
                id,
                token.user,
                token.organization,
            )
            .unwrap();
            subjects.push(id);
        }
        subjects
    }

    fn pass_at(kv: &MemKv, now: Millis, answers: &mut Vec<Sent>, sent: &mut Vec<String>) -> Pass {
        // Fresh randomness per pass (op ids must differ between passes).
        let mut random = {
            let mut n = 0u64;
            move || {
                n += 1;
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&now.to_le_bytes());
                bytes[8..].copy_from_slice(&n.to_le_bytes());
                bytes
            }
        };
        let mut env = Env {
            kv,
            now,
            random: &mut random,
            pause: &|_| {},
            correlation: None,
        };
        let caller = Caller::operator_of(
            "t",
            Actor {
                kind: "test".into(),
                id: "t".into(),
            },
        );
        let mut send = |o: &Outgoing| {
            sent.push(
                o.headers
                    .iter()
                    .find(|(k, _)| k == "webhook-id")
                    .unwrap()
                    .1
                    .clone(),
            );
            answers.remove(0)
        };
        deliver(&mut env, &config(), &caller, &mut send).unwrap()
    }

    fn message(kv: &MemKv, seq: i64) -> Message {
        storage::read::<Message>(kv, &key("t", seq))
            .unwrap()
            .unwrap()
            .data
    }

    #[test]
    fn a_hole_is_waited_for_then_passed_over() {
        let kv = MemKv::new();
        setup(&kv, 2, &[2]);
        let (mut answers, mut sent) = (vec![Ok(204), Ok(204)], Vec::new());
        let p = pass_at(&kv, NOW, &mut answers, &mut sent);
        assert_eq!((p.attempted, p.delivered), (2, 2));
        let cursor = storage::read::<Cursor>(&kv, &cursor_key("t"))
            .unwrap()
            .unwrap()
            .data;
        assert_eq!(
            (cursor.done, cursor.hole),
            (1, Some((2, NOW))),
            "stops at the hole"
        );
        // The slow writer lands its message: the next pass sends it.
        let mut random = || [9u8; 16];
        let env = Env {
            kv: &kv,
            now: NOW,
            random: &mut random,
            pause: &|_| {},
            correlation: None,
        };
        let id = Uuid::from_u128(2);
        let token = AccountToken {
            id,
            purpose: Purpose::Invitation,
            user: Uuid::from_u128(99),
            organization: Uuid::from_u128(98),
            email: "a@b.test".into(),
            created_at: NOW,
            expires_at: NOW + 60_000,
            used_at: None,
            queued: None,
        };
        storage::write(&kv, &format!("t/t/account-token/{id}"), "late", &token).unwrap();
        storage::write(
            &kv,
            &key("t", 2),
            "late",
            &Message {
                seq: 2,
                subject: id,
                status: Status::Pending,
                attempts: Vec::new(),
                ..message(&kv, 1)
            },
        )
        .unwrap();
        drop(env);
        let (mut answers, mut sent) = (vec![Ok(204)], Vec::new());
        let p = pass_at(&kv, NOW + 1_000, &mut answers, &mut sent);
        assert_eq!(p.delivered, 1);
        let cursor = storage::read::<Cursor>(&kv, &cursor_key("t"))
            .unwrap()
            .unwrap()
            .data;
        assert_eq!((cursor.done, cursor.hole), (3, None));
        // A hole nobody fills is passed over after the grace period.
        kv.increment(&counter("t"), 1).unwrap();
        let p = pass_at(&kv, NOW + 2_000, &mut vec![], &mut vec![]);
        assert_eq!(p.attempted, 0);
        pass_at(&kv, NOW + 2_000 + HOLE_GRACE_MS, &mut vec![], &mut vec![]);
        let cursor = storage::read::<Cursor>(&kv, &cursor_key("t"))
            .unwrap()
            .unwrap()
            .data;
        assert_eq!(cursor.done, 4);
    }

    #[test]
    fn a_refusal_is_final_a_failure_retried_and_a_dead_token_never_sent() {
        let kv = MemKv::new();
        let subjects = setup(&kv, 3, &[]);
        storage::update::<AccountToken, _>(
            &Env {
                kv: &kv,
                now: NOW,
                random: &mut || [3u8; 16],
                pause: &|_| {},
                correlation: None,
            },
            &format!("t/t/account-token/{}", subjects[2]),
            "spent",
            |t| {
                t.used_at = Some(NOW);
                Ok(())
            },
        )
        .unwrap();
        let (mut answers, mut sent) = (vec![Ok(410), Err("ConnectionRefused".into())], Vec::new());
        let p = pass_at(&kv, NOW, &mut answers, &mut sent);
        assert_eq!(
            (p.attempted, p.delivered, p.failed, p.pending),
            (3, 0, 2, 1)
        );
        assert_eq!(sent.len(), 2, "the spent token's message is not sent");
        assert_eq!(sent[0], format!("msg_{}", subjects[0].simple()));
        assert_eq!(message(&kv, 1).status, Status::Failed, "410 is final");
        let second = message(&kv, 2);
        assert_eq!(
            (second.status, second.next_attempt_at),
            (Status::Pending, NOW + 5_000)
        );
        assert_eq!(
            second.attempts[0].error.as_deref(),
            Some("ConnectionRefused")
        );
        assert_eq!(message(&kv, 3).status, Status::Failed);
        // Retried when due, and only then.
        assert_eq!(
            pass_at(&kv, NOW + 4_999, &mut vec![], &mut vec![]).attempted,
            0
        );
        let p = pass_at(&kv, NOW + 5_000, &mut vec![Ok(200)], &mut vec![]);
        assert_eq!(p.delivered, 1);
        assert_eq!(message(&kv, 2).attempts.len(), 2);
    }

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signs_as_standard_webhooks_does() {
        let secret = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(parse_secret("whsec_c2hvcnQ=").is_none());
    }
}
