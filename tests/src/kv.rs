//! The key-value engine behind both `fermyon:spin/key-value` and `wasi:keyvalue`.
//!
//! On SQLite it keeps Spin's layout (`spin_key_value(store, key, value)`) and
//! Spin's exact semantics, including the surprising ones listed in
//! `shared/spin-facts.md`: `increment` stores 8 little-endian bytes, and a
//! compare-and-swap whose `current()` saw no value is an unconditional upsert.
//! On Redis (`ONBOARD_TEST_KV`) it drives the server as Spin's Redis provider
//! does ([`crate::kv_redis`]). Faults a test switches on are applied here, so
//! both guest interfaces and both providers see them alike.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use rusqlite::{Connection, OptionalExtension, params};

use crate::kv_redis::{RedisFailure, RedisStore, Watch};

/// Largest key the hosted Spin stores document; local SQLite accepts more, so the
/// host records larger ones instead of refusing them (`Faults::limit_violations`).
pub const HOSTED_MAX_KEY: usize = 256;
/// Largest value the hosted Spin stores document.
pub const HOSTED_MAX_VALUE: usize = 1024 * 1024;

/// One kind of key-value call, for counters and fault rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Get,
    Set,
    Delete,
    Exists,
    GetKeys,
    Increment,
    CasCurrent,
    Swap,
    GetMany,
    SetMany,
    DeleteMany,
}

impl Op {
    /// Whether the call changes the store (a lost reply only makes sense for these).
    pub fn writes(self) -> bool {
        matches!(
            self,
            Op::Set | Op::Delete | Op::Increment | Op::Swap | Op::SetMany | Op::DeleteMany
        )
    }
}

/// Key-value calls made while serving one request, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvCounts(pub BTreeMap<Op, u64>);

impl KvCounts {
    pub fn get(&self, op: Op) -> u64 {
        self.0.get(&op).copied().unwrap_or(0)
    }
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
    pub(crate) fn add(&mut self, op: Op) {
        *self.0.entry(op).or_default() += 1;
    }
}

/// What an injected fault does to a matching call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// The call fails with `other(..)` and changes nothing.
    Fail,
    /// The write lands, then the guest is told it failed (a reply lost in transit).
    LoseReply,
    /// The guest traps at this call: the instance dies mid-request, as in a crash.
    Crash,
}

/// A fault rule: the calls it matches, how many to let through first, how many to hit.
#[derive(Clone, Debug)]
pub struct FaultRule {
    pub op: Option<Op>,
    pub key_contains: Option<String>,
    pub skip: u32,
    pub times: u32,
    pub action: FaultAction,
}

impl FaultRule {
    pub fn new(action: FaultAction) -> Self {
        Self {
            op: None,
            key_contains: None,
            skip: 0,
            times: 1,
            action,
        }
    }
    pub fn on(mut self, op: Op) -> Self {
        self.op = Some(op);
        self
    }
    pub fn key_contains(mut self, fragment: impl Into<String>) -> Self {
        self.key_contains = Some(fragment.into());
        self
    }
    pub fn skip(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }
    fn matches(&self, op: Op, key: &str) -> bool {
        self.op.is_none_or(|o| o == op)
            && self
                .key_contains
                .as_deref()
                .is_none_or(|fragment| key.contains(fragment))
    }
}

/// Switches a test flips to make the store misbehave the ways real providers do.
#[derive(Default)]
pub struct Faults {
    /// `swap` writes, then reports `cas-failed` (Spin's Redis provider, always).
    pub swap_fails_after_write: AtomicBool,
    /// Sleep a random 0..=N microseconds before every call, so races surface on 2 cores.
    pub max_delay_micros: AtomicU64,
    rules: Mutex<Vec<FaultRule>>,
    pauses: Mutex<Vec<(Op, Option<String>, Duration)>>,
    limit_violations: Mutex<Vec<String>>,
}

impl Faults {
    pub fn add_rule(&self, rule: FaultRule) {
        self.rules.lock().unwrap().push(rule);
    }
    /// A fixed pause before every call of one kind (e.g. before `swap`, so that
    /// concurrent requests all read before any writes).
    pub fn pause_before(&self, op: Op, pause: Duration) {
        self.pauses.lock().unwrap().push((op, None, pause));
    }
    /// A fixed pause before every call of one kind on a key containing
    /// `fragment`: holds one request at a chosen step while others run.
    pub fn pause_before_key(&self, op: Op, fragment: &str, pause: Duration) {
        let fragment = Some(fragment.to_string());
        self.pauses.lock().unwrap().push((op, fragment, pause));
    }
    pub fn clear_rules(&self) {
        self.rules.lock().unwrap().clear();
    }
    /// Keys or values written beyond the hosted providers' documented limits.
    pub fn limit_violations(&self) -> Vec<String> {
        self.limit_violations.lock().unwrap().clone()
    }

    /// The fault, if any, that this call triggers; consumes one hit of its rule.
    fn take(&self, op: Op, key: &str) -> Option<FaultAction> {
        let mut rules = self.rules.lock().unwrap();
        let index = rules.iter().position(|r| r.matches(op, key))?;
        let rule = &mut rules[index];
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        let action = rule.action;
        rule.times -= 1;
        if rule.times == 0 {
            rules.remove(index);
        }
        Some(action)
    }

    fn check_limits(&self, key: &str, value: Option<&[u8]>) {
        let mut problems = Vec::new();
        if key.len() > HOSTED_MAX_KEY {
            problems.push(format!("key of {} bytes: {key:.80}", key.len()));
        }
        if let Some(v) = value.filter(|v| v.len() > HOSTED_MAX_VALUE) {
            problems.push(format!("value of {} bytes at {key:.80}", v.len()));
        }
        if !problems.is_empty() {
            self.limit_violations.lock().unwrap().extend(problems);
        }
    }
}

/// Why a call failed, in terms both guest interfaces can express.
#[derive(Debug)]
pub enum KvError {
    /// `other(..)` to the guest.
    Other(String),
    /// A compare-and-swap lost (or was told it lost).
    CasFailed,
    /// Trap the guest.
    Crash,
}

pub type KvResult<T> = Result<T, KvError>;

/// Where the engine keeps its data: Spin's local SQLite table, or a Redis
/// server driven as Spin's Redis provider drives it.
enum Backend {
    Sqlite(Mutex<Connection>),
    Redis(RedisStore),
}

/// The key-value provider a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Sqlite,
    Redis,
}

/// A compare-and-swap's handle from `current()` to `swap`: on Redis, the
/// connection holding the `WATCH`.
pub struct CasWatch(Option<Watch>);

impl CasWatch {
    /// No `WATCH` held (`current()` was never called).
    pub fn none() -> Self {
        CasWatch(None)
    }
}

/// The environment variable that puts the test host on Redis
/// (`redis://127.0.0.1:6379/0`); unset, it uses SQLite as `spin up` does.
pub const TEST_KV_VAR: &str = "ONBOARD_TEST_KV";

/// One store shared by every component instance of a test, as on `spin up`:
/// a SQLite file, or one Redis server under a key prefix of the test's own.
#[derive(Clone)]
pub struct KvEngine {
    backend: Arc<Backend>,
    pub faults: Arc<Faults>,
}

impl KvEngine {
    /// The provider `ONBOARD_TEST_KV` names; SQLite in `dir` when it is unset.
    pub fn from_env(dir: &Path) -> anyhow::Result<Self> {
        match std::env::var(TEST_KV_VAR) {
            Ok(url) if !url.is_empty() => Self::redis(&url),
            _ => Self::open(&dir.join("sqlite_key_value.db")),
        }
    }

    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open(path).with_context(|| format!("opening {path:?}"))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = OFF;
             CREATE TABLE IF NOT EXISTS spin_key_value (
                 store TEXT NOT NULL,
                 key   TEXT NOT NULL,
                 value BLOB NOT NULL,
                 PRIMARY KEY (store, key)
             );",
        )?;
        Ok(Self::with(Backend::Sqlite(Mutex::new(conn))))
    }

    /// A Redis-backed engine under a fresh key prefix; its keys are deleted
    /// when the last handle on it goes.
    pub fn redis(url: &str) -> anyhow::Result<Self> {
        let prefix = format!("onboard-test:{}:", uuid::Uuid::new_v4().simple());
        let store = RedisStore::connect(url, prefix, true)
            .with_context(|| format!("connecting to Redis at {url} ({TEST_KV_VAR})"))?;
        Ok(Self::with(Backend::Redis(store)))
    }

    fn with(backend: Backend) -> Self {
        Self {
            backend: Arc::new(backend),
            faults: Arc::new(Faults::default()),
        }
    }

    pub fn provider(&self) -> Provider {
        match &*self.backend {
            Backend::Sqlite(_) => Provider::Sqlite,
            Backend::Redis(_) => Provider::Redis,
        }
    }

    /// The same store seen from another replica: on Redis, connections of its
    /// own over the same server and keys; on SQLite (one machine, one file),
    /// the same engine. Faults stay per replica.
    pub fn replica(&self) -> Self {
        let backend = match &*self.backend {
            Backend::Redis(store) => Arc::new(Backend::Redis(store.replica())),
            Backend::Sqlite(_) => self.backend.clone(),
        };
        Self {
            backend,
            faults: Arc::new(Faults::default()),
        }
    }

    /// The random pause a test asked for, taken before the call touches the store.
    pub async fn pause(&self, op: Op, key: &str) {
        let fixed = self
            .faults
            .pauses
            .lock()
            .unwrap()
            .iter()
            .find(|(o, fragment, _)| {
                *o == op && fragment.as_deref().is_none_or(|f| key.contains(f))
            })
            .map(|(_, _, d)| *d);
        if let Some(pause) = fixed {
            tokio::time::sleep(pause).await;
        }
        let max = self.faults.max_delay_micros.load(Ordering::Relaxed);
        if max > 0 {
            let micros = rand::random_range(0..=max);
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
    }

    /// Runs one call on whichever backend, with the fault rules applied around it.
    fn call<T>(
        &self,
        op: Op,
        key: &str,
        sqlite: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
        redis: impl FnOnce(&RedisStore) -> Result<T, RedisFailure>,
    ) -> KvResult<T> {
        let fault = self.faults.take(op, key);
        match fault {
            Some(FaultAction::Fail) => return Err(KvError::Other("injected failure".into())),
            Some(FaultAction::Crash) => return Err(KvError::Crash),
            _ => {}
        }
        let result = match &*self.backend {
            Backend::Sqlite(conn) => {
                let mut conn = conn.lock().unwrap();
                sqlite(&mut conn).map_err(|e| KvError::Other(e.to_string()))
            }
            Backend::Redis(store) => redis(store).map_err(|e| match e {
                RedisFailure::Other(msg) => KvError::Other(msg),
                RedisFailure::CasFailed => KvError::CasFailed,
                RedisFailure::Panic => KvError::Crash,
            }),
        };
        match fault {
            Some(FaultAction::LoseReply) => Err(KvError::Other("injected lost reply".into())),
            _ => result,
        }
    }

    pub fn get(&self, store: &str, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.call(Op::Get, key, |c| read(c, store, key), |r| r.get(key))
    }

    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> KvResult<()> {
        self.faults.check_limits(key, Some(value));
        self.call(
            Op::Set,
            key,
            |c| upsert(c, store, key, value),
            |r| r.set(key, value),
        )
    }

    pub fn delete(&self, store: &str, key: &str) -> KvResult<()> {
        self.call(
            Op::Delete,
            key,
            |c| {
                c.execute(
                    "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    params![store, key],
                )
                .map(drop)
            },
            |r| r.delete(key),
        )
    }

    pub fn exists(&self, store: &str, key: &str) -> KvResult<bool> {
        self.call(
            Op::Exists,
            key,
            |c| Ok(read(c, store, key)?.is_some()),
            |r| r.exists(key),
        )
    }

    pub fn get_keys(&self, store: &str) -> KvResult<Vec<String>> {
        self.call(
            Op::GetKeys,
            "",
            |c| {
                let mut stmt = c.prepare("SELECT key FROM spin_key_value WHERE store = ?1")?;
                let keys = stmt.query_map(params![store], |row| row.get(0))?;
                keys.collect()
            },
            RedisStore::keys,
        )
    }

    /// Atomic add. SQLite: one transaction, the value held as 8 little-endian
    /// bytes of an i64, a missing key counting as 0. Redis: `INCRBY`.
    pub fn increment(&self, store: &str, key: &str, delta: i64) -> KvResult<i64> {
        self.faults.check_limits(key, None);
        let outcome = self.call(
            Op::Increment,
            key,
            |c| {
                let tx = c.transaction()?;
                let current = match read(&tx, store, key)? {
                    None => Some(0),
                    Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
                        .ok()
                        .map(i64::from_le_bytes),
                };
                let Some(current) = current else {
                    return Ok(Err("value is not an 8-byte counter".to_string()));
                };
                let Some(next) = current.checked_add(delta) else {
                    return Ok(Err("counter overflow".to_string()));
                };
                upsert(&tx, store, key, &next.to_le_bytes())?;
                tx.commit()?;
                Ok(Ok(next))
            },
            |r| r.increment(key, delta).map(Ok),
        )?;
        outcome.map_err(KvError::Other)
    }

    /// What `cas.current()` reads; the swap later compares against it. On
    /// Redis it also `WATCH`es the key on a connection of the CAS's own.
    pub fn cas_current(&self, store: &str, key: &str) -> KvResult<(Option<Vec<u8>>, CasWatch)> {
        self.call(
            Op::CasCurrent,
            key,
            |c| Ok((read(c, store, key)?, CasWatch(None))),
            |r| r.watch(key).map(|(seen, w)| (seen, CasWatch(Some(w)))),
        )
    }

    /// Spin's swap. SQLite: a real compare-and-swap when `current()` saw a
    /// value, an unconditional upsert when it saw none (or was never called).
    /// Redis: `MULTI`/`SET`/`EXEC` under the `WATCH`, always reported failed.
    pub fn swap(
        &self,
        store: &str,
        key: &str,
        seen: Option<&[u8]>,
        watch: CasWatch,
        value: &[u8],
    ) -> KvResult<()> {
        self.faults.check_limits(key, Some(value));
        let swapped = self.call(
            Op::Swap,
            key,
            |c| match seen {
                Some(old) => c
                    .execute(
                        "UPDATE spin_key_value SET value = ?4
                         WHERE store = ?1 AND key = ?2 AND value = ?3",
                        params![store, key, old, value],
                    )
                    .map(|rows| rows == 1),
                None => upsert(c, store, key, value).map(|()| true),
            },
            |r| r.swap(key, watch.0, value).map(|()| true),
        )?;
        if !swapped || self.faults.swap_fails_after_write.load(Ordering::Relaxed) {
            return Err(KvError::CasFailed);
        }
        Ok(())
    }

    /// The read Spin's host makes itself after a failed swap (a new CAS and
    /// its `current()`, handed back to the guest): not a guest call, so no
    /// fault rule applies to it.
    pub fn cas_reread(&self, store: &str, key: &str) -> KvResult<(Option<Vec<u8>>, CasWatch)> {
        match &*self.backend {
            Backend::Sqlite(conn) => read(&conn.lock().unwrap(), store, key)
                .map(|seen| (seen, CasWatch(None)))
                .map_err(|e| KvError::Other(e.to_string())),
            Backend::Redis(r) => r
                .watch(key)
                .map(|(seen, w)| (seen, CasWatch(Some(w))))
                .map_err(|_| KvError::Other("reading the key again failed".into())),
        }
    }

    /// A compare-and-swap dropped without a swap: its `WATCH` is cleared.
    pub fn cas_dropped(&self, watch: CasWatch) {
        if let (Backend::Redis(store), Some(w)) = (&*self.backend, watch.0) {
            store.release(w);
        }
    }

    pub fn get_many(
        &self,
        store: &str,
        keys: &[String],
    ) -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
        let first = keys.first().map(String::as_str).unwrap_or("");
        self.call(
            Op::GetMany,
            first,
            |c| {
                keys.iter()
                    .map(|k| Ok((k.clone(), read(c, store, k)?)))
                    .collect()
            },
            |r| r.get_many(keys),
        )
    }

    pub fn set_many(&self, store: &str, pairs: &[(String, Vec<u8>)]) -> KvResult<()> {
        for (k, v) in pairs {
            self.faults.check_limits(k, Some(v));
        }
        let first = pairs.first().map(|(k, _)| k.as_str()).unwrap_or("");
        self.call(
            Op::SetMany,
            first,
            |c| {
                let tx = c.transaction()?;
                for (k, v) in pairs {
                    upsert(&tx, store, k, v)?;
                }
                tx.commit()
            },
            |r| r.set_many(pairs),
        )
    }

    pub fn delete_many(&self, store: &str, keys: &[String]) -> KvResult<()> {
        let first = keys.first().map(String::as_str).unwrap_or("");
        self.call(
            Op::DeleteMany,
            first,
            |c| {
                let tx = c.transaction()?;
                for k in keys {
                    tx.execute(
                        "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                        params![store, k],
                    )?;
                }
                tx.commit()
            },
            |r| r.delete_many(keys),
        )
    }

    /// Every (key, value) of a store, for tests that inspect what was written.
    pub fn dump(&self, store: &str) -> Vec<(String, Vec<u8>)> {
        let conn = match &*self.backend {
            Backend::Sqlite(conn) => conn.lock().unwrap(),
            Backend::Redis(redis) => return redis.dump(),
        };
        let mut stmt = conn
            .prepare("SELECT key, value FROM spin_key_value WHERE store = ?1 ORDER BY key")
            .expect("prepare dump");
        stmt.query_map(params![store], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("query dump")
            .collect::<rusqlite::Result<_>>()
            .expect("read dump")
    }
}

fn read(c: &Connection, store: &str, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    c.query_row(
        "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
        params![store, key],
        |row| row.get(0),
    )
    .optional()
}

fn upsert(c: &Connection, store: &str, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
        params![store, key, value],
    )
    .map(drop)
}
