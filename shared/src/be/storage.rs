//! Storage over the host key-value store, which has no transactions.
//!
//! # Key layout
//! Every key but the global indexes lives under its tenant: `t/{tenant}/...`.
//!
//! | key | value |
//! |---|---|
//! | `g/domain/{host}` | [`Claim`] of a host name, labelled with its tenant |
//! | `g/cred/{kid}/{keyed hash}` | [`CredentialRef`](crate::credential::identity::CredentialRef) |
//! | `t/{t}/claim` | [`Claim`] of the tenant id |
//! | `t/{t}/tenant` | [`Tenant`](crate::base::model::Tenant) record |
//! | `t/{t}/cred/{id}` | [`Credential`](crate::credential::identity::Credential) (keyed hashes only) |
//! | `t/{t}/session/{sid}` | [`Session`](crate::credential::identity::Session) |
//! | `t/{t}/throttle/{counter}/{window}` | sign-in attempt counter ([`crate::credential::throttle`]) |
//! | `t/{t}/reseller-code/{sha256(code)}` | [`Claim`] of a reseller code |
//! | `t/{t}/org-number/{n}` | the organization with integer id n |
//! | `t/{t}/settings` | [`Settings`](crate::base::model::Settings) record |
//! | `t/{t}/org/{uuid}` | organization record |
//! | `t/{t}/org/{uuid}/subscription/{sub}` | an archived past subscription |
//! | `t/{t}/user/{uuid}` | user record |
//! | `t/{t}/email/{sha256(lower(email))}` | [`Claim`] on that email |
//! | `t/{t}/email/{h}/g{n}` | claim slot counter of generation n |
//! | `t/{t}/email/{h}/s{n}` | when generation n was first seen unrecorded |
//! | `t/{t}/op/{op}` | [`Operation`] (idempotent creates) |
//! | `t/{t}/ix/{list}/n` | position counter of an index list |
//! | `t/{t}/ix/{list}/{pos}` | the id at that position |
//! | `t/{t}/count/{name}` | a kept count |
//! | `t/{t}/audit/n`, `t/{t}/audit/{seq}` | audit sequence and events |
//!
//! Keys stay under 256 bytes (tenant ids are at most 40 characters, natural keys
//! such as emails are hashed) and values under 1 MB.
//!
//! # Atomicity rules
//! - A new unique thing (an email, an alias) is claimed with
//!   `increment(slot, 1) == 1`, never by CAS-insert: on Spin a swap whose
//!   `current()` saw nothing is an unconditional upsert.
//! - Existing records change by compare-and-swap with bounded, jittered retries.
//!   Each record carries a revision and the ids of the operations that last
//!   wrote it, so a swap reported as failed after it wrote (Spin's Redis
//!   provider) is recognised on re-read instead of applied twice.
//! - A multi-key create writes its records before the index entries and the
//!   claim commit that make it visible, and derives every id from its
//!   operation id, so a retry rewrites the same records.
//! - A claim left pending by a crash is reclaimable after [`CLAIM_WINDOW_MS`],
//!   far longer than any request may run, unless the record it names already
//!   carries the key (the crash came after the record was written).
//!
//! # Claims
//! - Claim state changes (pending, committed, released) are compare-and-swap
//!   on the claim's generation and owner, never blind writes, so a late
//!   writer cannot overwrite a newer generation.
//! - A claim is released only when it is known that no record took it: a
//!   request that fails after its record may have been written re-reads the
//!   record first, and leaves the claim pending when the record carries the
//!   key or cannot be read (the keyed retry resumes it).
//! - A record holds at most one claim of a kind: an email change is applied
//!   only if the record still has the email the change started from, so of
//!   two concurrent changes one wins and the other releases its new claim.
//!   Readers (sign-in) also check that the claim and the record agree.
//!
//! # Counts
//! - Kept counts change only in the request whose compare-and-swap performs
//!   the transition they count ([`update_if`] says which): a repeated or
//!   concurrent delete, or a resumed create, never counts twice.
//! - Checks that must not be wrong because of a lost count (deleting an
//!   organization that still has members) re-read the index slots.
//!
//! # Idempotency
//! - An operation record (`op/{key}`) is written only once the request is
//!   valid and its lookups passed, so a request refused with 4xx leaves
//!   nothing behind. Records expire after [`OPERATION_TTL_MS`]; the key then
//!   starts a new operation.
//! - A completed operation only ever replays its stored answer; a resumed
//!   one never overwrites a record that exists ([`create`]), since that
//!   record may have moved on (changed, terminated, purged).
//! - Attempts of one key run one at a time: the first attempt's record is
//!   written by whoever wins `increment(op/{key}/first) == 1`, and each
//!   attempt takes the record's lease (60 s) by compare-and-swap; another
//!   attempt meanwhile gets 409. So a failing attempt can never undo what a
//!   concurrent one completed.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::time::Millis;
use crate::be::kv::{CasOutcome, Kv};

/// Schema version written into every record.
pub const SCHEMA_VERSION: u32 = 1;
/// How long a pending claim (or an unrecorded claim slot) holds before another
/// operation may take it over.
pub const CLAIM_WINDOW_MS: Millis = 10 * 60 * 1000;
/// How long an Idempotency-Key is remembered.
pub const OPERATION_TTL_MS: Millis = 24 * 3600 * 1000;
/// Compare-and-swap attempts before an update gives up with 503.
const CAS_ATTEMPTS: u32 = 8;
/// Operation ids remembered per record, to recognise one's own landed write.
const RECENT_OPS: usize = 8;

/// What an operation needs from its surroundings, passed in so the same code
/// runs in a component, in native tests and in benchmarks.
pub struct Env<'a> {
    pub kv: &'a dyn Kv,
    pub now: Millis,
    /// 16 random bytes per call.
    pub random: &'a mut dyn FnMut() -> [u8; 16],
    /// Sleeps between CAS retries (a no-op natively).
    pub pause: &'a dyn Fn(std::time::Duration),
    /// The request's correlation id (CloudCockpit `X-Correlation-Id`, or one
    /// made up for it), written into every audit event the request causes.
    pub correlation: Option<String>,
}

impl Env<'_> {
    pub fn new_uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes((self.random)()).into_uuid()
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A uuid derived from an operation id and a label, so a retried operation
/// creates the same records.
pub fn derived_uuid(op: &str, label: &str) -> Uuid {
    let digest = Sha256::digest(format!("{op}/{label}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

pub mod keys {
    use uuid::Uuid;

    pub fn settings(t: &str) -> String {
        format!("t/{t}/settings")
    }
    pub fn org(t: &str, id: Uuid) -> String {
        format!("t/{t}/org/{id}")
    }
    pub fn user(t: &str, id: Uuid) -> String {
        format!("t/{t}/user/{id}")
    }
    /// The claim on a user id: a caller-chosen id's while its create runs
    /// and for ever after, and every purged user's, so no id is reused.
    pub fn user_id(t: &str, id: Uuid) -> String {
        format!("t/{t}/uid/{id}")
    }
    pub fn email(t: &str, normalized: &str) -> String {
        format!("t/{t}/email/{}", super::sha256_hex(normalized.as_bytes()))
    }
    pub fn claim_slot(claim: &str, generation: u64) -> String {
        format!("{claim}/g{generation}")
    }
    pub fn claim_stall(claim: &str, generation: u64) -> String {
        format!("{claim}/s{generation}")
    }
    pub fn op(t: &str, op: &str) -> String {
        format!("t/{t}/op/{op}")
    }
    pub fn index_counter(t: &str, list: &str) -> String {
        format!("t/{t}/ix/{list}/n")
    }
    pub fn index_entry(t: &str, list: &str, pos: i64) -> String {
        format!("t/{t}/ix/{list}/{pos}")
    }
    pub fn count(t: &str, name: &str) -> String {
        format!("t/{t}/count/{name}")
    }
    pub fn audit_seq(t: &str) -> String {
        format!("t/{t}/audit/n")
    }
    pub fn audit_event(t: &str, seq: i64) -> String {
        format!("t/{t}/audit/{seq}")
    }
}

/// Every stored record: schema version, revision, recent writers, data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record<T> {
    pub v: u32,
    pub rev: u64,
    #[serde(default)]
    pub ops: Vec<String>,
    pub data: T,
}

/// Store keys name tenants and emails' hashes: they go to the component's
/// log, never into an answer.
fn corrupt(key: &str) -> Error {
    eprintln!("unreadable record at {key}");
    Error::Unavailable("a stored record could not be read; retry the request".into())
}

fn contention(key: &str) -> Error {
    eprintln!("too much contention on {key}");
    Error::Unavailable("too many concurrent changes to one record; retry the request".into())
}

/// The data of several records in one `get_many`, in key order; absent or
/// unreadable records are `None`.
pub fn read_many<T: DeserializeOwned>(kv: &dyn Kv, keys: &[String]) -> Result<Vec<Option<T>>> {
    Ok(kv
        .get_many(keys)?
        .into_iter()
        .map(|v| {
            v.and_then(|b| serde_json::from_slice::<Record<T>>(&b).ok())
                .map(|r| r.data)
        })
        .collect())
}

pub fn read<T: DeserializeOwned>(kv: &dyn Kv, key: &str) -> Result<Option<Record<T>>> {
    match kv.get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| corrupt(key)),
    }
}

/// Writes a record outright (a new record whose id nobody else can hold).
pub fn write<T: Serialize>(kv: &dyn Kv, key: &str, op: &str, data: &T) -> Result<()> {
    let record = Record {
        v: SCHEMA_VERSION,
        rev: 1,
        ops: vec![op.to_string()],
        data,
    };
    kv.set(key, &serde_json::to_vec(&record).map_err(|_| corrupt(key))?)?;
    Ok(())
}

/// Applies `change` to an existing record by compare-and-swap, retrying on
/// conflict. `change` may refuse with an error (nothing is written). Returns
/// the record as written (or as found, when `op` had already written it).
pub fn update<T, F>(env: &Env, key: &str, op: &str, mut change: F) -> Result<Record<T>>
where
    T: Serialize + DeserializeOwned,
    F: FnMut(&mut T) -> Result<()>,
{
    update_if(env, key, op, |data| change(data).map(|()| true)).map(|(record, _)| record)
}

/// Like [`update`], for a transition that may already have happened: `change`
/// returns false to leave the record as it is. The flag says whether THIS
/// call made the change, so exactly one of many concurrent callers (each with
/// its own `op`) sees true and may adjust what depends on it (counts).
pub fn update_if<T, F>(env: &Env, key: &str, op: &str, mut change: F) -> Result<(Record<T>, bool)>
where
    T: Serialize + DeserializeOwned,
    F: FnMut(&mut T) -> Result<bool>,
{
    for attempt in 0..CAS_ATTEMPTS {
        let mut outcome: Result<Option<(Record<T>, bool)>> = Ok(None);
        let cas = env.kv.compare_and_swap(key, &mut |current| {
            let Some(bytes) = current else {
                outcome = Err(Error::NotFound(format!("no record at {key}")));
                return None;
            };
            let mut record: Record<T> = match serde_json::from_slice(bytes) {
                Ok(r) => r,
                Err(_) => {
                    outcome = Err(corrupt(key));
                    return None;
                }
            };
            if record.ops.iter().any(|o| o == op) {
                outcome = Ok(Some((record, true)));
                return None;
            }
            match change(&mut record.data) {
                Err(e) => {
                    outcome = Err(e);
                    return None;
                }
                Ok(false) => {
                    outcome = Ok(Some((record, false)));
                    return None;
                }
                Ok(true) => {}
            }
            record.rev += 1;
            record.v = SCHEMA_VERSION;
            record.ops.push(op.to_string());
            if record.ops.len() > RECENT_OPS {
                record.ops.remove(0);
            }
            let bytes = serde_json::to_vec(&record).ok();
            outcome = Ok(Some((record, true)));
            bytes
        })?;
        match cas {
            CasOutcome::Swapped | CasOutcome::Skipped => {
                return outcome?.ok_or_else(|| corrupt(key));
            }
            CasOutcome::Failed => {
                // The swap may have landed anyway (Redis): look for our op id.
                if let Some(found) = read::<T>(env.kv, key)?
                    && found.ops.iter().any(|o| o == op)
                {
                    return Ok((found, true));
                }
                backoff(env, op, attempt);
            }
        }
    }
    Err(contention(key))
}

/// Jitter from the op id, so racing operations spread out.
fn backoff(env: &Env, op: &str, attempt: u32) {
    let seed = Sha256::digest(format!("{op}/{attempt}").as_bytes())[0] as u64;
    let jitter = seed % (5 << attempt.min(4));
    (env.pause)(std::time::Duration::from_millis(1 + jitter));
}

/// Writes a record only if none is there (a create whose id is derived from
/// its operation, resumed by a retry). Returns the record that is there
/// afterwards: ours, or the one found, which a retry must never overwrite
/// (it may have moved on since the first attempt wrote it).
pub fn create<T>(env: &Env, key: &str, op: &str, data: &T) -> Result<Record<T>>
where
    T: Serialize + DeserializeOwned + Clone,
{
    if let Some(found) = read::<T>(env.kv, key)? {
        return Ok(found);
    }
    // Only retries of this very operation write this key, and they write the
    // same record, so a plain set after the check cannot clobber anyone else.
    write(env.kv, key, op, data)?;
    Ok(Record {
        v: SCHEMA_VERSION,
        rev: 1,
        ops: vec![op.to_string()],
        data: data.clone(),
    })
}

/// Writes `data` at `key` only if nothing is there, atomically (unlike
/// [`create`], for keys that concurrent requests may race to write). True
/// when this call wrote it.
pub fn create_new<T>(env: &Env, key: &str, op: &str, data: &T) -> Result<bool>
where
    T: Serialize + DeserializeOwned + PartialEq + Clone,
{
    let wrote = swap_state(env, key, op, |current: Option<&T>| {
        Ok(current.is_none().then(|| data.clone()))
    })?;
    Ok(wrote.is_some())
}

/// Compare-and-swap on a small state record that may be absent (a claim):
/// `next` maps the current state to the one to write, or `None` to leave
/// it. Every state written is distinct, so a swap reported failed after it
/// landed (Redis) is recognised by re-reading exactly what was written.
/// Returns the state written, or `None` when `next` left it.
pub fn swap_state<T, F>(env: &Env, key: &str, op: &str, mut next: F) -> Result<Option<T>>
where
    T: Serialize + DeserializeOwned + PartialEq + Clone,
    F: FnMut(Option<&T>) -> Result<Option<T>>,
{
    for attempt in 0..CAS_ATTEMPTS {
        let mut outcome: Result<Option<T>> = Ok(None);
        let cas = env.kv.compare_and_swap(key, &mut |current| {
            let current: Option<Record<T>> = match current.map(serde_json::from_slice) {
                None => None,
                Some(Ok(r)) => Some(r),
                Some(Err(_)) => {
                    outcome = Err(corrupt(key));
                    return None;
                }
            };
            match next(current.as_ref().map(|r| &r.data)) {
                Err(e) => {
                    outcome = Err(e);
                    None
                }
                Ok(None) => {
                    outcome = Ok(None);
                    None
                }
                Ok(Some(data)) => {
                    let record = Record {
                        v: SCHEMA_VERSION,
                        rev: current.as_ref().map_or(1, |r| r.rev + 1),
                        ops: vec![op.to_string()],
                        data: data.clone(),
                    };
                    outcome = Ok(Some(data));
                    serde_json::to_vec(&record).ok()
                }
            }
        })?;
        match cas {
            CasOutcome::Swapped | CasOutcome::Skipped => return outcome,
            CasOutcome::Failed => {
                let wrote = outcome?;
                if let (Some(found), Some(wrote)) = (read::<T>(env.kv, key)?, wrote)
                    && found.data == wrote
                {
                    return Ok(Some(wrote));
                }
                backoff(env, op, attempt);
            }
        }
    }
    Err(contention(key))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    Pending,
    Committed,
    /// Given back before any record took it.
    Released,
    /// Given back after it was committed (the record changed its key, or
    /// was purged): its operation completed, so a retry of it replays.
    Vacated,
}

/// Who holds a unique natural key (an email), and for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub generation: u64,
    pub owner: String,
    pub state: ClaimState,
    pub at: Millis,
    pub target: Option<Uuid>,
    /// A target that is not a uuid (the tenant id a domain is claimed for).
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This operation holds the claim now (new, or resumed from its own pending claim).
    Held(Claim),
    /// This operation completed earlier and committed the claim (which may
    /// have been vacated since).
    Committed(Claim),
    /// Someone else holds it (committed, or pending within the window).
    Taken,
    /// A slot was won but never recorded, less than the window ago; it may be
    /// this very operation's earlier, interrupted attempt. Retry later.
    Unsettled,
}

fn read_claim(kv: &dyn Kv, key: &str) -> Result<Option<Claim>> {
    Ok(read::<Claim>(kv, key)?.map(|r| r.data))
}

/// Whether a claim's target record carries the claimed key.
pub type Holds<'a> = dyn Fn(&Claim) -> Result<bool> + 'a;

/// Claims `key` for operation `op`, with no target known yet. See
/// [`claim_for`].
pub fn claim(env: &Env, key: &str, op: &str, resuming: bool) -> Result<ClaimOutcome> {
    claim_for(env, key, op, resuming, None, None)
}

/// Claims `key` for operation `op` on behalf of `target` (the record that
/// will hold it). `resuming` says the operation ran before (its record
/// existed): only then can an unrecorded slot be its own, so only then is the
/// answer `Unsettled` rather than `Taken`.
///
/// `holds` says whether a claim's target record carries the key. With it, a
/// pending claim left longer than [`CLAIM_WINDOW_MS`] is taken over only if
/// its target does not carry the key (its operation died before writing
/// the record), and a committed claim whose target no longer carries the
/// key (a crash between a record's change and its claims' update) is taken
/// over too. Without it, stale pending claims are taken over and committed
/// ones never.
pub fn claim_for(
    env: &Env,
    key: &str,
    op: &str,
    resuming: bool,
    target: Option<Uuid>,
    holds: Option<&Holds>,
) -> Result<ClaimOutcome> {
    let held_by_target = |c: &Claim| -> Result<Option<bool>> { holds.map(|h| h(c)).transpose() };
    let mut current = read_claim(env.kv, key)?;
    for _ in 0..4 {
        if let Some(c) = &current {
            let fresh = env.now - c.at < CLAIM_WINDOW_MS;
            match c.state {
                ClaimState::Committed | ClaimState::Vacated if c.owner == op => {
                    return Ok(ClaimOutcome::Committed(c.clone()));
                }
                ClaimState::Pending if c.owner == op => return Ok(ClaimOutcome::Held(c.clone())),
                ClaimState::Committed if held_by_target(c)? != Some(false) => {
                    return Ok(ClaimOutcome::Taken);
                }
                ClaimState::Pending if fresh => return Ok(ClaimOutcome::Taken),
                ClaimState::Pending if held_by_target(c)? == Some(true) => {
                    return Ok(ClaimOutcome::Taken);
                }
                _ => {}
            }
        }
        let mut generation = current.as_ref().map_or(0, |c| c.generation) + 1;
        // Skip generations whose winner never recorded the claim for a whole window.
        loop {
            if env.kv.increment(&keys::claim_slot(key, generation), 1)? == 1 {
                let mine = Claim {
                    generation,
                    owner: op.to_string(),
                    state: ClaimState::Pending,
                    at: env.now,
                    target,
                    label: None,
                };
                // Never write over a newer generation than the slot we won.
                let written = swap_state::<Claim, _>(env, key, op, |now| {
                    Ok(now
                        .is_none_or(|c| c.generation < generation)
                        .then(|| mine.clone()))
                })?;
                if written.is_some() {
                    return Ok(ClaimOutcome::Held(mine));
                }
                current = read_claim(env.kv, key)?;
                break;
            }
            let again = read_claim(env.kv, key)?;
            if again.as_ref().is_some_and(|c| c.generation >= generation) {
                current = again;
                break;
            }
            let stall = keys::claim_stall(key, generation);
            let seen = match env.kv.get(&stall)? {
                Some(b) => serde_json::from_slice::<Millis>(&b).unwrap_or(env.now),
                None => {
                    env.kv.set(&stall, env.now.to_string().as_bytes())?;
                    env.now
                }
            };
            if env.now - seen < CLAIM_WINDOW_MS {
                return Ok(if resuming {
                    ClaimOutcome::Unsettled
                } else {
                    ClaimOutcome::Taken
                });
            }
            generation += 1;
        }
    }
    Ok(ClaimOutcome::Taken)
}

/// Moves the claim `held` (this generation, this owner) to `next`, by
/// compare-and-swap: a claim that has moved on (taken over, released,
/// committed elsewhere) is never overwritten. Returns whether it is in
/// state `next` now.
fn settle_claim(env: &Env, key: &str, held: &Claim, next: Claim) -> Result<bool> {
    let written = swap_state::<Claim, _>(env, key, &held.owner, |now| {
        Ok(match now {
            Some(c) if *c == next => None,
            // Exactly the claim this request holds: another attempt of the
            // same operation (same owner) may have moved it on meanwhile.
            Some(c) if c == held => Some(next.clone()),
            _ => None,
        })
    })?;
    Ok(written.is_some() || read_claim(env.kv, key)?.as_ref() == Some(&next))
}

/// Marks a held claim committed to `target`, making it visible as taken for
/// good. 503 if the claim was lost meanwhile (nothing is committed then).
pub fn commit_claim(env: &Env, key: &str, claim: &Claim, target: Uuid) -> Result<()> {
    let done = Claim {
        state: ClaimState::Committed,
        target: Some(target),
        ..claim.clone()
    };
    if settle_claim(env, key, claim, done)? {
        Ok(())
    } else {
        Err(Error::Unavailable(format!("the claim on {key} was lost")))
    }
}

/// Marks a held claim committed to a non-uuid target (a tenant id).
pub fn commit_claim_label(env: &Env, key: &str, claim: &Claim, label: &str) -> Result<()> {
    let done = Claim {
        state: ClaimState::Committed,
        label: Some(label.to_string()),
        ..claim.clone()
    };
    if settle_claim(env, key, claim, done)? {
        Ok(())
    } else {
        Err(Error::Unavailable(format!("the claim on {key} was lost")))
    }
}

/// Gives back the claim `claim` names (its generation and owner), pending or
/// committed. Call it only when it is known that no record holds the key;
/// a claim that has moved on since is left alone.
pub fn release_claim(env: &Env, key: &str, claim: &Claim) -> Result<()> {
    let released = Claim {
        state: if claim.state == ClaimState::Committed {
            ClaimState::Vacated
        } else {
            ClaimState::Released
        },
        ..claim.clone()
    };
    settle_claim(env, key, claim, released).map(drop)
}

/// Where an idempotent operation stands; a retry with the same id resumes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Hash of the request, so reusing a key for another request is refused.
    pub fingerprint: String,
    pub started: Millis,
    pub done: bool,
    /// Index positions already taken, so a retry does not append twice.
    #[serde(default)]
    pub positions: Vec<(String, i64)>,
    /// The id every record of this run derives from; `None` for the key's
    /// own id. A key reused after its record expired starts a new run.
    #[serde(default)]
    pub run: Option<String>,
    /// Whether the counts of this create were taken (exactly once).
    #[serde(default)]
    pub counted: bool,
    /// What the operation answers, stored before it becomes visible, so a
    /// replay returns it whatever happened to the records since.
    #[serde(default)]
    pub answer: Option<serde_json::Value>,
    /// The attempt running it, and until when (see `provision::begin`).
    #[serde(default)]
    pub lease: Option<(String, Millis)>,
}

impl Operation {
    pub fn expired(&self, now: Millis) -> bool {
        now - self.started >= OPERATION_TTL_MS
    }
}

/// An index list: ids in insertion order, one key per position, so reading a
/// page is one `get_many`.
pub fn index_position(env: &Env, tenant: &str, list: &str) -> Result<i64> {
    Ok(env.kv.increment(&keys::index_counter(tenant, list), 1)?)
}

pub fn index_put(env: &Env, tenant: &str, list: &str, pos: i64, id: Uuid) -> Result<()> {
    index_put_str(env, tenant, list, pos, &id.to_string())
}

/// Like [`index_put`], for lists of ids that are not uuids (API token ids).
pub fn index_put_str(env: &Env, tenant: &str, list: &str, pos: i64, id: &str) -> Result<()> {
    env.kv
        .set(&keys::index_entry(tenant, list, pos), id.as_bytes())?;
    Ok(())
}

/// How many positions a list has handed out.
pub fn index_len(kv: &dyn Kv, tenant: &str, list: &str) -> Result<i64> {
    read_counter(kv, &keys::index_counter(tenant, list))
}

/// A counter's current value, read with a plain `get`: `increment(key, 0)`
/// reads it too, but on Spin's SQLite store that is a write transaction
/// (BEGIN, SELECT, upsert, COMMIT under the store's one connection), so a
/// list page paid two commits and held every other request back meanwhile.
pub fn read_counter(kv: &dyn Kv, key: &str) -> Result<i64> {
    decode_counter(key, kv.get(key)?.as_deref())
}

/// What `increment` left at `key`, as `get` returns it: Spin's SQLite store
/// keeps 8 little-endian bytes, its Redis store (INCRBY) decimal text. A
/// decimal counter of 8 digits is 8 bytes too, so digits are tried first:
/// an 8-byte little-endian counter reads as digits only from 0x30 << 56 up.
/// Absent is 0, as `increment` counts it.
pub fn decode_counter(key: &str, raw: Option<&[u8]>) -> Result<i64> {
    let Some(raw) = raw else { return Ok(0) };
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(raw)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| corrupt(key));
    }
    <[u8; 8]>::try_from(raw)
        .map(i64::from_le_bytes)
        .map_err(|_| corrupt(key))
}

/// Index positions and the ids they hold.
pub type Slots = Vec<(i64, Uuid)>;

/// [`index_range`] and, in the same batch, the values of the counters
/// `counters` (a list page's total and its index's length): one read.
pub fn index_range_counted(
    kv: &dyn Kv,
    tenant: &str,
    list: &str,
    from: i64,
    limit: usize,
    counters: &[String],
) -> Result<(Slots, Vec<i64>)> {
    let positions: Vec<i64> = (from..from + limit as i64).collect();
    let mut keys: Vec<String> = positions
        .iter()
        .map(|p| keys::index_entry(tenant, list, *p))
        .collect();
    keys.extend(counters.iter().cloned());
    let mut values = kv.get_many(&keys)?;
    let counted = values
        .split_off(positions.len())
        .iter()
        .zip(counters)
        .map(|(v, key)| decode_counter(key, v.as_deref()))
        .collect::<Result<Vec<i64>>>()?;
    let ids = values
        .into_iter()
        .zip(positions)
        .filter_map(|(v, p)| Some((p, String::from_utf8(v?).ok()?.parse().ok()?)))
        .collect();
    Ok((ids, counted))
}

/// The ids at positions `from..from+limit` (1-based), skipping holes.
pub fn index_range(
    kv: &dyn Kv,
    tenant: &str,
    list: &str,
    from: i64,
    limit: usize,
) -> Result<Slots> {
    Ok(index_range_counted(kv, tenant, list, from, limit, &[])?.0)
}

/// Like [`index_range`], for lists of ids that are not uuids.
pub fn index_range_str(
    kv: &dyn Kv,
    tenant: &str,
    list: &str,
    from: i64,
    limit: usize,
) -> Result<Vec<(i64, String)>> {
    let positions: Vec<i64> = (from..from + limit as i64).collect();
    let keys: Vec<String> = positions
        .iter()
        .map(|p| keys::index_entry(tenant, list, *p))
        .collect();
    Ok(kv
        .get_many(&keys)?
        .into_iter()
        .zip(positions)
        .filter_map(|(v, p)| Some((p, String::from_utf8(v?).ok()?)))
        .collect())
}

pub fn bump_count(env: &Env, tenant: &str, name: &str, delta: i64) -> Result<i64> {
    Ok(env.kv.increment(&keys::count(tenant, name), delta)?)
}

pub fn read_count(kv: &dyn Kv, tenant: &str, name: &str) -> Result<i64> {
    read_counter(kv, &keys::count(tenant, name))
}

/// Who did something: for audit events and permission checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: String,
    pub id: String,
}

/// One state change, as the audit log keeps it. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: Millis,
    pub tenant: String,
    pub actor: Actor,
    pub action: String,
    pub targets: Vec<String>,
    pub outcome: String,
    pub correlation_id: Option<String>,
    /// The chain (root first) of the organization the change concerns, so
    /// an administrator above it may read the event; empty for tenant-wide
    /// changes (operators only).
    #[serde(default)]
    pub orgs: Vec<Uuid>,
}

/// Takes the next number of the tenant's audit sequence. Operations keep it in
/// their record, so a retry rewrites the same event instead of adding one; a
/// number whose operation was abandoned stays a hole in the sequence.
pub fn audit_position(env: &Env, tenant: &str) -> Result<i64> {
    Ok(env.kv.increment(&keys::audit_seq(tenant), 1)?)
}

/// Takes the next audit number and writes one successful action's event:
/// what single-record changes (no operation record) audit. `scope` is the
/// organization the change concerns (see [`AuditEvent::orgs`]).
pub fn audit_action(
    env: &Env,
    op: &str,
    tenant: &str,
    actor: &Actor,
    action: &str,
    targets: Vec<String>,
    scope: Option<&crate::base::model::Organization>,
) -> Result<()> {
    let seq = audit_position(env, tenant)?;
    write_audit(
        env,
        op,
        &AuditEvent {
            seq,
            at: env.now,
            tenant: tenant.to_string(),
            actor: actor.clone(),
            action: action.to_string(),
            targets,
            outcome: "success".into(),
            correlation_id: env.correlation.clone(),
            orgs: scope.map(|o| o.chain()).unwrap_or_default(),
        },
    )
}

/// Writes the audit event numbered `seq`.
pub fn write_audit(env: &Env, op: &str, event: &AuditEvent) -> Result<()> {
    write(
        env.kv,
        &keys::audit_event(&event.tenant, event.seq),
        op,
        event,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::be::kv::MemKv;

    fn env<'a>(kv: &'a MemKv, now: Millis, random: &'a mut dyn FnMut() -> [u8; 16]) -> Env<'a> {
        Env {
            kv,
            now,
            random,
            pause: &|_| {},
            correlation: None,
        }
    }

    #[test]
    fn first_claim_wins_and_others_see_it_taken() {
        let kv = MemKv::new();
        let mut rnd = || [7u8; 16];
        let e = env(&kv, 1000, &mut rnd);
        let ClaimOutcome::Held(c) = claim(&e, "t/x/email/h", "op1", false).unwrap() else {
            panic!()
        };
        assert_eq!(
            claim(&e, "t/x/email/h", "op2", false).unwrap(),
            ClaimOutcome::Taken
        );
        assert_eq!(
            claim(&e, "t/x/email/h", "op1", false).unwrap(),
            ClaimOutcome::Held(c.clone())
        );
        commit_claim(&e, "t/x/email/h", &c, Uuid::nil()).unwrap();
        assert!(matches!(
            claim(&e, "t/x/email/h", "op1", false).unwrap(),
            ClaimOutcome::Committed(_)
        ));
        assert_eq!(
            claim(&e, "t/x/email/h", "op2", false).unwrap(),
            ClaimOutcome::Taken
        );
    }

    #[test]
    fn released_and_expired_claims_are_taken_over() {
        let kv = MemKv::new();
        let mut rnd = || [7u8; 16];
        let e = env(&kv, 1000, &mut rnd);
        let ClaimOutcome::Held(c) = claim(&e, "k", "op1", false).unwrap() else {
            panic!()
        };
        release_claim(&e, "k", &c).unwrap();
        let ClaimOutcome::Held(c2) = claim(&e, "k", "op2", false).unwrap() else {
            panic!()
        };
        assert_eq!(c2.generation, 2);
        // op2 crashes while pending; after the window op3 takes over.
        let mut rnd = || [7u8; 16];
        let later = env(&kv, 1000 + CLAIM_WINDOW_MS, &mut rnd);
        assert!(
            matches!(claim(&later, "k", "op3", false).unwrap(), ClaimOutcome::Held(c) if c.generation == 3)
        );
    }

    #[test]
    fn slot_won_but_never_recorded_is_unsettled_then_skipped() {
        let kv = MemKv::new();
        kv.increment(&keys::claim_slot("k", 1), 1).unwrap();
        let mut rnd = || [7u8; 16];
        let e = env(&kv, 1000, &mut rnd);
        assert_eq!(claim(&e, "k", "op", true).unwrap(), ClaimOutcome::Unsettled);
        assert_eq!(claim(&e, "k", "other", false).unwrap(), ClaimOutcome::Taken);
        let mut rnd = || [7u8; 16];
        let later = env(&kv, 1000 + CLAIM_WINDOW_MS, &mut rnd);
        assert!(
            matches!(claim(&later, "k", "op", true).unwrap(), ClaimOutcome::Held(c) if c.generation == 2)
        );
    }

    #[test]
    fn update_applies_once_per_op() {
        let kv = MemKv::new();
        let mut rnd = || [1u8; 16];
        let e = env(&kv, 0, &mut rnd);
        write(&kv, "r", "create", &5u32).unwrap();
        let r = update::<u32, _>(&e, "r", "add", |n| {
            *n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((r.data, r.rev), (6, 2));
        let r = update::<u32, _>(&e, "r", "add", |n| {
            *n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(r.data, 6, "the same op is not applied twice");
        assert!(matches!(
            update::<u32, _>(&e, "missing", "x", |_| Ok(())),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn counters_read_as_either_store_writes_them() {
        let read = |raw: &[u8]| decode_counter("k", Some(raw));
        // Spin's SQLite store: 8 little-endian bytes.
        assert_eq!(read(&7i64.to_le_bytes()).unwrap(), 7);
        assert_eq!(read(&(-2i64).to_le_bytes()).unwrap(), -2);
        // Its Redis store (INCRBY): decimal text, 8 digits included.
        assert_eq!(read(b"42").unwrap(), 42);
        assert_eq!(read(b"12345678").unwrap(), 12_345_678);
        assert_eq!(read(b"-3").unwrap(), -3);
        assert_eq!(decode_counter("k", None).unwrap(), 0);
        for bad in [&b""[..], b"-", b"1.5", b"abc", b"123456789012345678901234"] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn index_pages_cost_one_call() {
        let kv = MemKv::new();
        let mut rnd = || [1u8; 16];
        let e = env(&kv, 0, &mut rnd);
        for i in 0..30u128 {
            let pos = index_position(&e, "x", "users").unwrap();
            index_put(&e, "x", "users", pos, Uuid::from_u128(i)).unwrap();
        }
        let before = kv.calls();
        let page = index_range(&kv, "x", "users", 11, 10).unwrap();
        assert_eq!(kv.calls() - before, 1);
        assert_eq!(page.first().unwrap().1, Uuid::from_u128(10));
        assert_eq!(index_len(&kv, "x", "users").unwrap(), 30);
        // A page with its counters is one call too, and writes nothing.
        let counters = [keys::index_counter("x", "users"), keys::count("x", "none")];
        let before = kv.calls();
        let keys_before = kv.dump();
        let (page, counted) = index_range_counted(&kv, "x", "users", 21, 10, &counters).unwrap();
        assert_eq!(kv.calls() - before, 1);
        assert_eq!((page.len(), counted), (10, vec![30, 0]));
        assert_eq!(kv.dump(), keys_before, "reading an absent counter made it");
    }
}
