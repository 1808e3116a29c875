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

use crate::base::error::{Error, Result};
use crate::base::model::{Role, Tenant, Webhook};
use crate::base::time::Millis;
use crate::be::storage::{self, Env};
use crate::credential::auth::Caller;
use crate::credential::identity::Config;

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
/// Messages a pass reads at once.
const SCAN: i64 = 100;
/// Messages a pass sends at most (its time budget usually ends it first).
pub const SEND: usize = 1_000;
/// Messages waiting for a retry, at most; past it the oldest retry fails
/// (`parked queue full`) rather than the record outgrowing the store's
/// value limit (a concurrent pass may overshoot it briefly).
const PARKED_MAX: usize = 10_000;

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

/// How long a message is kept (its delivery log with it): a week past the
/// end of its retries.
pub const RETENTION_MS: Millis = 8 * 24 * 3_600_000;

/// Numbers `message` and writes it in one write, whole; the sweep deletes
/// it after [`RETENTION_MS`].
fn enqueue(env: &Env, tenant: &str, mut message: Message) -> Result<Message> {
    message.seq = env.kv.increment(&counter(tenant), 1)?;
    let k = key(tenant, message.seq);
    storage::write(env.kv, &k, &format!("outbox/{}", message.subject), &message)?;
    crate::be::expiry::expire_at(env, tenant, message.created_at + RETENTION_MS, &[k])?;
    Ok(message)
}

/// Tells the account's current address that its email is being changed to
/// `new_email` (kind `email_changed`), so an owner whose session was stolen
/// learns of it before the change can take effect. `op` is the change.
pub fn queue_email_changed(
    env: &Env,
    tenant: &str,
    user: &crate::base::model::User,
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

/// The notice that an administrator took the account's second factor
/// away; it carries no token.
pub const TWO_FACTOR_RESET: &str = "two_factor_reset";

/// Tells `user`'s address that its second factor was reset (`op` is the
/// reset), so an owner who did not ask learns of it.
pub fn queue_two_factor_reset(
    env: &Env,
    tenant: &str,
    user: &crate::base::model::User,
    op: &str,
) -> Result<Message> {
    let message = Message {
        kind: TWO_FACTOR_RESET.to_string(),
        to: user.email.clone(),
        subject: storage::derived_uuid(op, TWO_FACTOR_RESET),
        ..pending(env, user.id, user.organization_id)
    };
    enqueue(env, tenant, message)
}

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
    let tenant = crate::idm::admin::get_tenant(env, &caller.tenant)?;
    let newest = storage::read_counter(env.kv, &counter(&caller.tenant))?;
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

/// What one pass did (`POST /admin/outbox/deliver` shows it as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Pass {
    pub attempted: usize,
    pub delivered: usize,
    pub failed: usize,
    /// Messages still waiting (for their next attempt, or another pass).
    pub pending: usize,
}

fn webhook_secret(config: &Config, tenant: &Tenant, hook: &Webhook) -> Result<Vec<u8>> {
    crate::credential::totp::open_secret(
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
        STANDARD.encode(crate::credential::secrets::mac(secret, &signed))
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
        EMAIL_CHANGED | TWO_FACTOR_RESET => Ok(None),
        "sms_otp" => crate::idm::two_factor::sms_code(config, tenant, m.subject).map(Some),
        _ => crate::idm::account_tokens::wire_token(config, tenant, m.subject).map(Some),
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
        EMAIL_CHANGED | TWO_FACTOR_RESET => true,
        "sms_otp" => m.created_at + crate::idm::two_factor::SMS_TTL_MS > env.now,
        _ => crate::idm::account_tokens::read(env, tenant, m.subject)?
            .is_some_and(|t| t.live(env.now)),
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
        "timestamp": crate::base::time::format_millis(now),
        "data": {
            "tenant": tenant.id,
            "seq": m.seq,
            "kind": m.kind,
            "to": m.to,
            "token": token,
            "new_email": m.new_email,
            "user_id": m.user,
            "organization_id": m.organization,
            "created_at": crate::base::time::format_millis(m.created_at),
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

/// The cursor: every message at or below `done` is finished or parked.
/// `hole` is the first empty slot seen past it and when: a counter bumped
/// by a request whose message is still being written looks the same as one
/// whose request died, so a hole is passed over only once it has stayed
/// empty for [`HOLE_GRACE_MS`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    done: i64,
    #[serde(default)]
    hole: Option<(i64, Millis)>,
}

/// Messages the cursor has passed that wait for a retry: `(seq, due,
/// urgent)`. A message being retried never holds the cursor back, so one
/// receiver refusing one message delays nothing else.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Parked {
    waiting: Vec<(i64, Millis, bool)>,
}

fn parked_key(tenant: &str) -> String {
    format!("t/{tenant}/outbox/parked")
}

const HOLE_GRACE_MS: Millis = 5 * 60 * 1000;
/// How long a pass keeps sending; past it, the rest waits for the next
/// pass (a lease outlives it, so no other pass sends what this one holds).
const PASS_BUDGET_MS: Millis = 20_000;
/// Swaps one message's attempt makes (its lease and its result), with room
/// for a retry of each: a pass sends while the request has that many left
/// ([`crate::be::kv::Kv::swaps_left`]), past what it keeps for its own records.
const ATTEMPT_SWAPS: usize = 4;
/// Swaps a pass keeps for its parked set and its cursor.
const FINISH_SWAPS: usize = 24;
/// Messages a pass reads past its cursor at most.
const SCAN_MAX: i64 = 5_000;

fn clock_now(env: &Env) -> Millis {
    crate::base::time::millis(std::time::SystemTime::now()).max(env.now)
}

/// What became of one message in a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Delivered or failed: nothing more to do.
    Finished,
    /// Waits for a retry (attempted now and refused for the moment, or not
    /// yet due): parked, so the cursor passes it.
    Waiting(Millis),
    /// Not reached: the pass ran out of time or sends, or another pass holds it.
    Untouched,
}

/// One delivery pass over the caller's tenant (operators only). It sends,
/// short-lived kinds first then oldest first, the parked messages now due
/// and the new ones past the cursor, until [`SEND`] messages or
/// [`PASS_BUDGET_MS`]; a message refused for the moment is parked with its
/// retry time and the cursor moves past it.
pub fn deliver(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    send: &mut dyn FnMut(&Outgoing) -> Sent,
) -> Result<Pass> {
    operators_only(caller)?;
    let tenant = crate::idm::admin::get_tenant(env, &caller.tenant)?;
    // The request is well formed; the tenant's state refuses it.
    let hook = tenant.webhook.clone().ok_or_else(|| {
        Error::Conflict(
            "no webhook is configured for this tenant; read the messages with GET /admin/outbox"
                .into(),
        )
    })?;
    let secret = webhook_secret(config, &tenant, &hook)?;
    let t = tenant.id.as_str();
    storage::create_new(env, &cursor_key(t), "outbox-cursor", &Cursor::default())?;
    let cursor = storage::read::<Cursor>(env.kv, &cursor_key(t))?
        .map(|r| r.data)
        .unwrap_or_default();
    let parked = storage::read::<Parked>(env.kv, &parked_key(t))?
        .map(|r| r.data)
        .unwrap_or_default();
    let newest = storage::read_counter(env.kv, &counter(t))?;

    let (due, window, messages) = read_window(env, t, &cursor, &parked, newest)?;

    let (mut pass, outcomes) = send_due(env, config, &tenant, &hook, &secret, &messages, send)?;

    let (done, first_hole, newly_parked) = advance(&cursor, &window, &messages, &outcomes, env.now);
    // Still waiting: what was read and is not finished, and the parked
    // messages not due yet (not read).
    pass.pending = messages
        .iter()
        .filter(|(seq, m)| {
            m.as_ref().is_some_and(|m| m.status == Status::Pending)
                && outcomes.get(seq) != Some(&Outcome::Finished)
        })
        .count()
        + parked
            .waiting
            .iter()
            .filter(|(_, at, _)| *at > env.now)
            .count();

    // Parked first, then the cursor: a message the cursor passes is always
    // findable (a crash in between leaves it in both, which is harmless).
    record_parked(env, t, &parked, &due, &messages, &outcomes, &newly_parked)?;
    let next = Cursor {
        done,
        hole: first_hole.filter(|(s, _)| *s > done),
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

type Read = std::collections::BTreeMap<i64, Option<Message>>;
type Outcomes = std::collections::BTreeMap<i64, Outcome>;

/// What a pass looks at: the parked messages now due, the window past the
/// cursor, and every one of them read.
fn read_window(
    env: &Env,
    t: &str,
    cursor: &Cursor,
    parked: &Parked,
    newest: i64,
) -> Result<(Vec<i64>, Vec<i64>, Read)> {
    // What is there: the due parked messages and the window past the cursor.
    let due: Vec<i64> = parked
        .waiting
        .iter()
        .filter(|(_, at, _)| *at <= env.now)
        .map(|(seq, _, _)| *seq)
        .collect();
    let window: Vec<i64> = (cursor.done + 1..=newest.min(cursor.done + SCAN_MAX)).collect();
    let mut messages: Read = Default::default();
    for chunk in due
        .chunks(SCAN as usize)
        .chain(window.chunks(SCAN as usize))
    {
        let keys: Vec<String> = chunk.iter().map(|s| key(t, *s)).collect();
        for (seq, m) in chunk
            .iter()
            .zip(storage::read_many::<Message>(env.kv, &keys)?)
        {
            messages.insert(*seq, m);
        }
    }
    Ok((due, window, messages))
}

/// Sends what is due, short-lived kinds first, then oldest first, while the
/// pass has sends, time and compare-and-swap slots left.
fn send_due(
    env: &mut Env,
    config: &Config,
    tenant: &Tenant,
    hook: &Webhook,
    secret: &[u8],
    messages: &Read,
    send: &mut dyn FnMut(&Outgoing) -> Sent,
) -> Result<(Pass, Outcomes)> {
    let mut order: Vec<(bool, i64)> = messages
        .iter()
        .filter_map(|(seq, m)| m.as_ref().map(|m| (m, *seq)))
        .filter(|(m, _)| m.status == Status::Pending && m.next_attempt_at <= env.now)
        .map(|(m, seq)| (!urgent(&m.kind), seq))
        .collect();
    order.sort();
    let started = clock_now(env);
    let mut pass = Pass::default();
    let mut outcomes: Outcomes = Default::default();
    for (_, seq) in order {
        if pass.attempted >= SEND
            || clock_now(env) - started > PASS_BUDGET_MS
            || env.kv.swaps_left() < ATTEMPT_SWAPS + FINISH_SWAPS
        {
            break;
        }
        let Some(Some(m)) = messages.get(&seq).cloned() else {
            continue;
        };
        let outcome = match attempt(env, config, tenant, hook, secret, m, send)? {
            Some(done) => {
                pass.attempted += 1;
                match done.status {
                    Status::Delivered => pass.delivered += 1,
                    Status::Failed => pass.failed += 1,
                    Status::Pending => {}
                }
                match done.status {
                    Status::Pending => Outcome::Waiting(done.next_attempt_at),
                    _ => Outcome::Finished,
                }
            }
            None => Outcome::Untouched,
        };
        outcomes.insert(seq, outcome);
    }
    Ok((pass, outcomes))
}

/// Where the cursor can go: past what is finished or waits for a retry
/// (parked), stopping at the first message not reached and at a hole still
/// within its grace. Returns the new end, the first hole and what to park.
#[allow(clippy::type_complexity)]
fn advance(
    cursor: &Cursor,
    window: &[i64],
    messages: &Read,
    outcomes: &Outcomes,
    now: Millis,
) -> (i64, Option<(i64, Millis)>, Vec<(i64, Millis, bool)>) {
    let mut done = cursor.done;
    let mut first_hole = None;
    let mut newly_parked: Vec<(i64, Millis, bool)> = Vec::new();
    for seq in window {
        let passed = match messages.get(seq).cloned().flatten() {
            None => {
                let since = match cursor.hole {
                    Some((s, at)) if s == *seq => at,
                    _ => now,
                };
                first_hole.get_or_insert((*seq, since));
                now - since >= HOLE_GRACE_MS
            }
            Some(m) if m.status != Status::Pending => true,
            Some(m) => match outcomes.get(seq).copied() {
                Some(Outcome::Finished) => true,
                Some(Outcome::Waiting(at)) => {
                    newly_parked.push((*seq, at, urgent(&m.kind)));
                    true
                }
                // Not due yet (attempted by an earlier pass that died
                // before parking it): park it as it is.
                None if m.next_attempt_at > now => {
                    newly_parked.push((*seq, m.next_attempt_at, urgent(&m.kind)));
                    true
                }
                _ => false,
            },
        };
        if !passed {
            break;
        }
        done = *seq;
    }
    (done, first_hole, newly_parked)
}

/// The parked set after a pass: what it finished leaves, what waits gets
/// its retry time, what it parked joins; past [`PARKED_MAX`] the oldest
/// fail, each marked failed before it leaves, so none is pending unlisted.
fn record_parked(
    env: &mut Env,
    t: &str,
    parked: &Parked,
    due: &[i64],
    messages: &Read,
    outcomes: &Outcomes,
    newly_parked: &[(i64, Millis, bool)],
) -> Result<()> {
    let mut settled: Vec<(i64, Option<Millis>)> = outcomes
        .iter()
        .filter(|(seq, _)| due.contains(seq))
        .filter_map(|(seq, o)| match o {
            Outcome::Finished => Some((*seq, None)),
            Outcome::Waiting(at) => Some((*seq, Some(*at))),
            Outcome::Untouched => None,
        })
        .collect();
    // A parked message another pass finished (or the sweep removed) leaves.
    for seq in due {
        let live = matches!(messages.get(seq), Some(Some(m)) if m.status == Status::Pending);
        if !live && !settled.iter().any(|(s, _)| s == seq) {
            settled.push((*seq, None));
        }
    }
    // Past the cap the oldest waiting messages fail, each marked failed
    // before it leaves the set, so none is ever left pending and unlisted.
    let staying = parked.waiting.len() + newly_parked.len()
        - settled.iter().filter(|(_, next)| next.is_none()).count();
    if staying > PARKED_MAX {
        let oldest: Vec<i64> = parked
            .waiting
            .iter()
            .map(|(seq, _, _)| *seq)
            .filter(|seq| !settled.iter().any(|(s, _)| s == seq))
            .take(staying - PARKED_MAX)
            .collect();
        for seq in oldest {
            if env.kv.swaps_left() < FINISH_SWAPS {
                break;
            }
            give_up(env, t, seq, "parked queue full")?;
            settled.push((seq, None));
        }
    }
    if !settled.is_empty() || !newly_parked.is_empty() {
        storage::create_new(env, &parked_key(t), "outbox-parked", &Parked::default())?;
        let op = format!("outbox-parked/{}", env.new_uuid().simple());
        storage::update::<Parked, _>(env, &parked_key(t), &op, |p| {
            for (seq, next) in &settled {
                match next {
                    None => p.waiting.retain(|(s, _, _)| s != seq),
                    Some(at) => {
                        for entry in p.waiting.iter_mut().filter(|(s, _, _)| s == seq) {
                            entry.1 = *at;
                        }
                    }
                }
            }
            for entry in newly_parked {
                if !p.waiting.iter().any(|(s, _, _)| *s == entry.0) {
                    p.waiting.push(*entry);
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Whether a receiver's answer ends a message for good: a 2xx delivers it;
/// a refusal that retrying cannot change (400, 401, 403, 404, 410, 422)
/// fails it at once, its status logged. Anything else (408, 429, 5xx, no
/// answer) is retried.
fn final_status(code: u16) -> Option<Status> {
    match code {
        200..=299 => Some(Status::Delivered),
        400 | 401 | 403 | 404 | 410 | 422 => Some(Status::Failed),
        _ => None,
    }
}

/// Kinds whose content lapses within minutes (an SMS code lives 5): a pass
/// sends them before anything else it has.
fn urgent(kind: &str) -> bool {
    kind == "sms_otp"
}

/// Fails a waiting message for good, logging why.
fn give_up(env: &Env, tenant: &str, seq: i64, why: &str) -> Result<()> {
    let op = format!("outbox-give-up/{seq}/{}", env.now);
    let at = env.now;
    storage::update_if::<Message, _>(env, &key(tenant, seq), &op, |m| {
        if m.status != Status::Pending {
            return Ok(false);
        }
        m.status = Status::Failed;
        m.attempts.push(Attempt {
            at,
            status: None,
            error: Some(why.to_string()),
        });
        Ok(true)
    })
    .map(drop)
}

/// Leases, sends and records one message, and returns it as recorded;
/// `None` when another pass holds it or finished it meanwhile. A message not
/// worth sending any more is failed without a request.
fn attempt(
    env: &mut Env,
    config: &Config,
    tenant: &Tenant,
    hook: &Webhook,
    secret: &[u8],
    message: Message,
    send: &mut dyn FnMut(&Outgoing) -> Sent,
) -> Result<Option<Message>> {
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
    Ok(Some(record.data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::be::kv::{Kv as _, MemKv};
    use crate::be::storage::Actor;
    use crate::idm::account_tokens::{AccountToken, Purpose};

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
        let sealed = crate::credential::totp::seal_secret(
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
        storage::write(
            kv,
            &crate::credential::identity::gkeys::tenant("t"),
            "setup",
            &tenant,
        )
        .unwrap();
        let mut subjects = Vec::new();
        let mut seq = 0;
        while (subjects.len() as i64) < n {
            seq += 1;
            if holes.contains(&seq) {
                kv.increment(&counter("t"), 1).unwrap();
                continue;
            }
            let id = Uuid::from_u128(seq as u128);
            invite(&env, id);
            subjects.push(id);
        }
        subjects
    }

    /// A live invitation token `id` of tenant `t` and its message.
    fn invite(env: &Env, id: Uuid) -> Message {
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
        storage::write(env.kv, &format!("t/t/account-token/{id}"), "setup", &token).unwrap();
        queue(
            env,
            "t",
            "invitation",
            "a@b.test",
            id,
            token.user,
            token.organization,
        )
        .unwrap()
    }

    fn pass_at(kv: &MemKv, now: Millis, answers: &mut Vec<Sent>, sent: &mut Vec<String>) -> Pass {
        let (pass, order) = pass_with(kv, now, |_| answers.remove(0));
        sent.extend(order);
        pass
    }

    /// A pass at `now` whose receiver answers each webhook-id with `respond`;
    /// the pass and the webhook-ids in the order sent.
    fn pass_with(
        kv: &MemKv,
        now: Millis,
        mut respond: impl FnMut(&str) -> Sent,
    ) -> (Pass, Vec<String>) {
        // Fresh randomness per pass (op ids must differ between passes).
        let mut random = {
            let mut n = 0u64;
            move || {
                n += 1;
                let mut bytes = [1u8; 16];
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
        let mut order = Vec::new();
        let mut send = |o: &Outgoing| {
            let id = o
                .headers
                .iter()
                .find(|(k, _)| k == "webhook-id")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let answer = respond(&id);
            order.push(id);
            answer
        };
        let pass = deliver(&mut env, &config(), &caller, &mut send).unwrap();
        (pass, order)
    }

    fn parked(kv: &MemKv) -> Vec<i64> {
        storage::read::<Parked>(kv, &parked_key("t"))
            .unwrap()
            .map(|r| r.data.waiting.iter().map(|(s, _, _)| *s).collect())
            .unwrap_or_default()
    }

    #[test]
    fn one_refused_message_delays_no_other() {
        let kv = MemKv::new();
        let subjects = setup(&kv, 1_500, &[]);
        let stuck = format!("msg_{}", subjects[0].simple());
        let answer = |code: u16| {
            let stuck = stuck.clone();
            move |id: &str| Ok(if id == stuck { code } else { 204 })
        };
        // A pass sends at most SEND; the stuck first message is parked and
        // the cursor moves past it.
        let (p, _) = pass_with(&kv, NOW, answer(503));
        assert_eq!((p.attempted, p.delivered), (SEND, SEND - 1));
        assert_eq!(p.pending, 1 + 1_500 - SEND);
        assert_eq!(parked(&kv), vec![1]);
        // The next pass sends the rest, while the stuck one waits its turn.
        let (p, _) = pass_with(&kv, NOW + 1_000, answer(503));
        assert_eq!(
            (p.attempted, p.delivered, p.pending),
            (1_500 - SEND, 1_500 - SEND, 1)
        );
        // New messages behind it go at once too.
        let more = setup_more(&kv, 3);
        let (p, sent) = pass_with(&kv, NOW + 2_000, answer(503));
        assert_eq!((p.delivered, sent.len()), (3, 3));
        assert!(!sent.contains(&stuck));
        assert_eq!(more.len(), 3);
        // When due it is retried; a refusal retrying cannot change (404)
        // fails it at once, its status logged, and it leaves the parked set.
        let (p, sent) = pass_with(&kv, NOW + 5_000, answer(404));
        assert_eq!((p.failed, sent), (1, vec![stuck.clone()]));
        let first = message(&kv, 1);
        assert_eq!(first.status, Status::Failed);
        assert_eq!(first.attempts.last().unwrap().status, Some(404));
        assert!(parked(&kv).is_empty());
        assert_eq!(pass_with(&kv, NOW + 6_000, answer(204)).0.attempted, 0);
    }

    #[test]
    fn short_lived_codes_go_first() {
        let kv = MemKv::new();
        setup(&kv, 5, &[]);
        let mut random = || [5u8; 16];
        let env = Env {
            kv: &kv,
            now: NOW,
            random: &mut random,
            pause: &|_| {},
            correlation: None,
        };
        let sms = queue(
            &env,
            "t",
            "sms_otp",
            "+15550100",
            Uuid::from_u128(777),
            Uuid::from_u128(99),
            Uuid::from_u128(98),
        )
        .unwrap();
        let (p, sent) = pass_with(&kv, NOW, |_| Ok(204));
        assert_eq!(p.delivered, 6);
        assert_eq!(sent[0], format!("msg_{}", sms.subject.simple()));
    }

    /// `n` more invitations after those `setup` wrote.
    fn setup_more(kv: &MemKv, n: usize) -> Vec<i64> {
        let mut random = || [6u8; 16];
        let env = Env {
            kv,
            now: NOW,
            random: &mut random,
            pause: &|_| {},
            correlation: None,
        };
        (0..n)
            .map(|i| invite(&env, Uuid::from_u128(50_000 + i as u128)).seq)
            .collect()
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
