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
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
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
/// How long a pass holds a message it is sending.
const LEASE_MS: Millis = 30_000;
/// Messages a pass looks at past its cursor, and sends at most.
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
    /// `invitation`, `confirmation`, `password_reset` or `sms_otp`.
    pub kind: String,
    pub to: String,
    /// The account token it carries.
    pub subject: Uuid,
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
    let seq = env.kv.increment(&counter(tenant), 1)?;
    let message = Message {
        seq,
        kind: kind.to_string(),
        to: to.to_string(),
        subject,
        user: Some(user),
        organization,
        created_at: env.now,
        status: Status::Pending,
        attempts: Vec::new(),
        next_attempt_at: env.now,
        lease_until: 0,
    };
    storage::write(
        env.kv,
        &key(tenant, seq),
        &format!("outbox/{subject}"),
        &message,
    )?;
    Ok(message)
}

fn operators_only(caller: &Caller) -> Result<()> {
    caller.require(Role::Operator)?;
    if caller.org.is_some() {
        return Err(Error::Forbidden("operators only".into()));
    }
    Ok(())
}

/// The newest `limit` messages (operators only), each with the token it
/// carries while it is still undelivered.
pub fn list(
    env: &Env,
    config: &Config,
    caller: &Caller,
    limit: usize,
) -> Result<Vec<(Message, Option<String>)>> {
    operators_only(caller)?;
    let newest = env.kv.increment(&counter(&caller.tenant), 0)?;
    let keys: Vec<String> = (1.max(newest - limit as i64 + 1)..=newest)
        .rev()
        .map(|seq| key(&caller.tenant, seq))
        .collect();
    storage::read_many::<Message>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .map(|m| {
            let token = (m.status == Status::Pending)
                .then(|| carried(config, &caller.tenant, &m))
                .transpose()?;
            Ok((m, token))
        })
        .collect()
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
        Error::Unavailable("the webhook secret cannot be opened with the current token_keys".into())
    })
}

/// What a tenant's webhook secret is sealed for.
pub fn webhook_owner(tenant: &str) -> String {
    format!("webhook/{tenant}")
}

/// The `webhook-signature` value of a payload (Standard Webhooks, v1).
pub fn signature(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
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
fn carried(config: &Config, tenant: &str, m: &Message) -> Result<String> {
    match m.kind.as_str() {
        "sms_otp" => crate::two_factor::sms_code(config, tenant, m.subject),
        _ => crate::account_tokens::wire_token(config, tenant, m.subject),
    }
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
    let id = format!(
        "msg_{}",
        storage::derived_uuid(&format!("outbox/{}", tenant.id), &m.seq.to_string()).simple()
    );
    let body = json!({
        "type": format!("account.{}", m.kind),
        "timestamp": crate::time::format_millis(now),
        "data": {
            "tenant": tenant.id,
            "seq": m.seq,
            "kind": m.kind,
            "to": m.to,
            "token": token,
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

/// The cursor: every message at or below it is finished.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Cursor {
    done: i64,
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
    let done = storage::read::<Cursor>(env.kv, &cursor_key(t))?
        .map(|r| r.data.done)
        .unwrap_or(0);
    let newest = env.kv.increment(&counter(t), 0)?;
    let seqs: Vec<i64> = (done + 1..=newest.min(done + SCAN)).collect();
    let keys: Vec<String> = seqs.iter().map(|s| key(t, *s)).collect();
    let found = storage::read_many::<Message>(env.kv, &keys)?;
    let mut pass = Pass::default();
    let mut finished_below = done;
    let mut contiguous = true;
    for (seq, message) in seqs.iter().zip(found) {
        // A counter bumped by a request that died before writing its
        // message leaves a hole nothing will fill.
        let finished = match message {
            None => true,
            Some(m) if m.status != Status::Pending => true,
            Some(m) if pass.attempted >= SEND || m.next_attempt_at > env.now => {
                pass.pending += 1;
                false
            }
            Some(m) => {
                let status = attempt(env, config, &tenant, &hook, &secret, m, send)?;
                pass.attempted += 1;
                match status {
                    Some(Status::Delivered) => pass.delivered += 1,
                    Some(Status::Failed) => pass.failed += 1,
                    _ => pass.pending += 1,
                }
                status.is_some_and(|s| s != Status::Pending)
            }
        };
        contiguous &= finished;
        if contiguous {
            finished_below = *seq;
        }
    }
    if finished_below > done {
        // Created once at zero, then only ever moved up by compare-and-swap,
        // so a slower pass cannot move it back.
        storage::create(env, &cursor_key(t), "outbox-cursor", &Cursor::default())?;
        let op = format!("outbox-cursor/{}", env.new_uuid().simple());
        storage::update_if::<Cursor, _>(env, &cursor_key(t), &op, |c| {
            let moved = finished_below > c.done;
            c.done = c.done.max(finished_below);
            Ok(moved)
        })?;
    }
    Ok(pass)
}

/// Leases, sends and records one message; `None` when another pass holds
/// it or finished it meanwhile.
fn attempt(
    env: &mut Env,
    config: &Config,
    tenant: &Tenant,
    hook: &Webhook,
    secret: &[u8],
    message: Message,
    send: &mut dyn FnMut(&Outgoing) -> Sent,
) -> Result<Option<Status>> {
    let now = env.now;
    let k = key(&tenant.id, message.seq);
    let lease = format!("outbox-lease/{}", env.new_uuid().simple());
    let (_, leased) = storage::update_if::<Message, _>(env, &k, &lease, |m| {
        if m.status != Status::Pending || m.lease_until > now || m.next_attempt_at > now {
            return Ok(false);
        }
        m.lease_until = now + LEASE_MS;
        Ok(true)
    })?;
    if !leased {
        return Ok(None);
    }
    let request = outgoing(config, tenant, hook, secret, &message, now)?;
    let (status, error) = match send(&request) {
        Ok(code) if (200..300).contains(&code) => (Some(code), None),
        Ok(code) => (Some(code), Some(format!("status {code}"))),
        Err(e) => (None, Some(e.chars().take(80).collect())),
    };
    let op = format!("outbox-attempt/{}", env.new_uuid().simple());
    let record = storage::update::<Message, _>(env, &k, &op, |m| {
        m.attempts.push(Attempt {
            at: now,
            status,
            error: error.clone(),
        });
        m.lease_until = 0;
        if error.is_none() {
            m.status = Status::Delivered;
        } else if let Some(delay) = RETRY_DELAYS_MS.get(m.attempts.len() - 1) {
            m.next_attempt_at = now + delay;
        } else {
            m.status = Status::Failed;
        }
        Ok(())
    })?;
    Ok(Some(record.data.status))
}

#[cfg(test)]
mod tests {
    use super::*;

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
