//! The Redis side of [`crate::kv::KvEngine`]: Spin's Redis key-value provider
//! (`crates/key-value-redis/src/store.rs`) reproduced command by command,
//! including the parts that break naive guests (see `shared/spin-facts.md`):
//!
//! - values are written as-is under the key; `increment` is `INCRBY`, so a
//!   counter is decimal text, not SQLite's 8 little-endian bytes;
//! - a compare-and-swap is `WATCH` + `GET`, then `MULTI`/`SET`/`EXEC`, then
//!   `UNWATCH <key>`, which Redis refuses, so every swap reports `CasFailed`
//!   whether or not it wrote;
//! - `get_many` sends `KEYS k1 k2 ..`, which Redis refuses for more than one
//!   key; for one key it answers the names matching it, read as pairs.
//!
//! Each engine writes under its own key prefix, so parallel tests share one
//! server without seeing each other; the prefix is invisible to the guest.

use std::sync::Mutex;
use std::time::Duration;

use redis::{Connection, RedisError, Value};

/// How long a connect, read or write may take before the call fails (a
/// Redis that is down must fail fast, as Spin's connection manager does).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// One Redis server seen through one key prefix, with a pool of connections.
pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    pool: Mutex<Vec<Connection>>,
    /// Whether dropping this store deletes its keys (the owner does; a
    /// replica sharing the prefix does not).
    owner: bool,
}

/// A compare-and-swap's own connection, holding the `WATCH` that `current()` set.
pub struct Watch {
    conn: Option<Connection>,
}

/// Why a Redis call failed, in the words Spin's provider passes to the guest.
pub enum RedisFailure {
    Other(String),
    CasFailed,
    /// Spin's host panics (the instance dies).
    Panic,
}

type Outcome<T> = Result<T, RedisFailure>;

impl RedisStore {
    /// Connects to `url` (checked with a `PING`) and writes under `prefix`.
    pub fn connect(url: &str, prefix: String, owner: bool) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let store = Self {
            client,
            prefix,
            pool: Mutex::new(Vec::new()),
            owner,
        };
        let mut conn = store.open().map_err(anyhow::Error::msg)?;
        redis::cmd("PING").query::<String>(&mut conn)?;
        store.put_back(conn);
        Ok(store)
    }

    /// The same server and prefix over connections of its own (another replica).
    pub fn replica(&self) -> Self {
        Self {
            client: self.client.clone(),
            prefix: self.prefix.clone(),
            pool: Mutex::new(Vec::new()),
            owner: false,
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn open(&self) -> Result<Connection, String> {
        let conn = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| e.to_string())?;
        conn.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| conn.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| e.to_string())?;
        Ok(conn)
    }

    fn take(&self) -> Result<Connection, String> {
        match self.pool.lock().unwrap().pop() {
            Some(conn) => Ok(conn),
            None => self.open(),
        }
    }

    fn put_back(&self, conn: Connection) {
        self.pool.lock().unwrap().push(conn);
    }

    /// Notes a failed command: a broken connection means the server went away,
    /// so every pooled connection is stale and the next call reconnects, as
    /// Spin's connection manager does after a failure.
    fn failed(&self, conn: Connection, e: &RedisError) -> String {
        if is_connection_error(e) {
            self.pool.lock().unwrap().clear();
            drop(conn);
        } else {
            self.put_back(conn);
        }
        e.to_string()
    }

    /// Runs one command on a pooled connection.
    fn run<T>(&self, f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>) -> Outcome<T> {
        let mut conn = self.take().map_err(RedisFailure::Other)?;
        match f(&mut conn) {
            Ok(v) => {
                self.put_back(conn);
                Ok(v)
            }
            Err(e) => Err(RedisFailure::Other(self.failed(conn, &e))),
        }
    }

    pub fn get(&self, key: &str) -> Outcome<Option<Vec<u8>>> {
        let key = self.key(key);
        self.run(|c| redis::cmd("GET").arg(&key).query(c))
    }

    pub fn set(&self, key: &str, value: &[u8]) -> Outcome<()> {
        let key = self.key(key);
        self.run(|c| redis::cmd("SET").arg(&key).arg(value).query(c))
    }

    pub fn delete(&self, key: &str) -> Outcome<()> {
        let key = self.key(key);
        self.run(|c| redis::cmd("DEL").arg(&key).query(c))
    }

    pub fn exists(&self, key: &str) -> Outcome<bool> {
        let key = self.key(key);
        self.run(|c| redis::cmd("EXISTS").arg(&key).query(c))
    }

    /// `KEYS *`, seen through this store's prefix.
    pub fn keys(&self) -> Outcome<Vec<String>> {
        let pattern = format!("{}*", self.prefix);
        let keys: Vec<String> = self.run(|c| redis::cmd("KEYS").arg(&pattern).query(c))?;
        Ok(keys.into_iter().map(|k| self.strip(k)).collect())
    }

    fn strip(&self, key: String) -> String {
        key.strip_prefix(&self.prefix)
            .map(str::to_string)
            .unwrap_or(key)
    }

    /// `INCRBY`: the counter is stored as decimal text.
    pub fn increment(&self, key: &str, delta: i64) -> Outcome<i64> {
        let key = self.key(key);
        self.run(|c| redis::cmd("INCRBY").arg(&key).arg(delta).query(c))
    }

    /// `KEYS k1 k2 ..`, read as (key, value) pairs, exactly as the provider
    /// does: more than one key is a wrong-arity error; one key answers the
    /// names matching it as a glob. The redis crate Spin uses panics
    /// (`unreachable!`) reading a one-name reply as pairs: the instance dies,
    /// which is the "guest panic" seen on a real Spin.
    pub fn get_many(&self, keys: &[String]) -> Outcome<Vec<(String, Option<Vec<u8>>)>> {
        let mut cmd = redis::cmd("KEYS");
        for k in keys {
            cmd.arg(self.key(k));
        }
        let names: Value = self.run(|c| cmd.query(c))?;
        let Value::Array(items) = names else {
            return Err(RedisFailure::Other("unexpected KEYS reply".into()));
        };
        if items.len() == 1 {
            return Err(RedisFailure::Panic);
        }
        if items.len() % 2 != 0 {
            return Err(RedisFailure::Other(
                "Response was of incompatible type: \"Response type not vector compatible.\""
                    .into(),
            ));
        }
        let mut pairs = Vec::new();
        for pair in items.chunks(2) {
            let (Value::BulkString(k), Value::BulkString(v)) = (&pair[0], &pair[1]) else {
                return Err(RedisFailure::Other("unexpected KEYS reply".into()));
            };
            pairs.push((
                self.strip(String::from_utf8_lossy(k).into_owned()),
                Some(v.clone()),
            ));
        }
        Ok(pairs)
    }

    pub fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Outcome<()> {
        let mut cmd = redis::cmd("MSET");
        for (k, v) in pairs {
            cmd.arg(self.key(k)).arg(v.as_slice());
        }
        self.run(|c| cmd.query(c))
    }

    pub fn delete_many(&self, keys: &[String]) -> Outcome<()> {
        let mut cmd = redis::cmd("DEL");
        for k in keys {
            cmd.arg(self.key(k));
        }
        self.run(|c| cmd.query(c))
    }

    /// `cas.current()`: `WATCH` then `GET` on a connection of the CAS's own.
    pub fn watch(&self, key: &str) -> Outcome<(Option<Vec<u8>>, Watch)> {
        let key = self.key(key);
        let mut conn = self.take().map_err(RedisFailure::Other)?;
        let seen = redis::cmd("WATCH")
            .arg(&key)
            .query::<()>(&mut conn)
            .and_then(|()| redis::cmd("GET").arg(&key).query(&mut conn));
        match seen {
            Ok(seen) => Ok((seen, Watch { conn: Some(conn) })),
            // The connection may hold the WATCH: never back to the pool.
            Err(e) => {
                if is_connection_error(&e) {
                    self.pool.lock().unwrap().clear();
                }
                Err(RedisFailure::Other(e.to_string()))
            }
        }
    }

    /// `swap`: `MULTI`/`SET`/`EXEC` on the CAS's connection (without a prior
    /// `WATCH` when `current()` was never called: an unconditional write),
    /// then `UNWATCH <key>`. Redis refuses that `UNWATCH` (it takes no
    /// argument), and the provider reports the refusal as `CasFailed`; so a
    /// swap always fails, after writing or not.
    pub fn swap(&self, key: &str, watch: Option<Watch>, value: &[u8]) -> Outcome<()> {
        let key = self.key(key);
        let mut conn = match watch.and_then(|mut w| w.conn.take()) {
            Some(conn) => conn,
            None => self.take().map_err(RedisFailure::Other)?,
        };
        let exec = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(value)
            .query::<()>(&mut conn);
        let unwatch = redis::cmd("UNWATCH").arg(&key).query::<()>(&mut conn);
        match (exec, unwatch) {
            (Err(e), _) | (_, Err(e)) if is_connection_error(&e) => {
                self.failed(conn, &e);
            }
            _ => self.put_back(conn),
        }
        Err(RedisFailure::CasFailed)
    }

    /// Gives a dropped CAS's connection back, its `WATCH` cleared.
    pub fn release(&self, mut watch: Watch) {
        if let Some(mut conn) = watch.conn.take()
            && redis::cmd("UNWATCH").query::<()>(&mut conn).is_ok()
        {
            self.put_back(conn);
        }
    }

    /// Every (key, value) under this store's prefix, sorted by key.
    pub fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let keys = self.scan();
        let mut pairs: Vec<(String, Vec<u8>)> = keys
            .into_iter()
            .filter_map(|k| {
                let value: Option<Vec<u8>> =
                    self.run(|c| redis::cmd("GET").arg(&k).query(c)).ok()?;
                Some((self.strip(k), value?))
            })
            .collect();
        pairs.sort();
        pairs
    }

    /// The full key names under this store's prefix (`SCAN`, not `KEYS`).
    fn scan(&self) -> Vec<String> {
        let Ok(mut conn) = self.take() else {
            return Vec::new();
        };
        let pattern = format!("{}*", self.prefix);
        let mut cursor = 0u64;
        let mut keys = Vec::new();
        loop {
            let Ok((next, batch)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn)
            else {
                // A connection that failed mid-scan is not pooled again.
                return keys;
            };
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        self.put_back(conn);
        keys
    }
}

impl Drop for RedisStore {
    /// A test's keys go with it, so a developer's Redis does not fill up.
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        let keys = self.scan();
        if let Ok(mut conn) = self.take() {
            for chunk in keys.chunks(500) {
                let _ = redis::cmd("DEL").arg(chunk).query::<()>(&mut conn);
            }
        }
    }
}

fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}
