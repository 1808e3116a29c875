//! The key-value operations the core needs, over Spin's store in a component
//! (`edge::spin::SpinKv`, feature `spin`) or an in-memory map in native tests and benchmarks
//! ([`MemKv`]). Both keep Spin's semantics, including the awkward ones (see
//! `shared/spin-facts.md`): a compare-and-swap on an absent key is an upsert,
//! and a reported CAS failure may still have written.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// A store call that failed; the write may or may not have happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvError(pub String);

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key-value store: {}", self.0)
    }
}

impl std::error::Error for KvError {}

pub type KvResult<T> = Result<T, KvError>;

/// How a compare-and-swap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    Swapped,
    /// Reported as failed: someone else wrote first, or (on Redis) it wrote anyway.
    Failed,
    /// The update function chose not to write.
    Skipped,
}

/// Computes a record's next value from its current one (`None`: write nothing).
pub type CasUpdate<'a> = dyn FnMut(Option<&[u8]>) -> Option<Vec<u8>> + 'a;

/// The store's own words never reach the client (they name hosts, ports
/// and commands): the edge logs them as it meets them (`edge::spin`).
impl From<KvError> for crate::base::error::Error {
    fn from(_: KvError) -> Self {
        crate::base::error::Error::Unavailable("the store is unavailable; retry the request".into())
    }
}

pub trait Kv {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>>;
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>>;
    fn set(&self, key: &str, value: &[u8]) -> KvResult<()>;
    fn delete(&self, key: &str) -> KvResult<()>;
    /// Atomic add; a missing key counts as 0.
    fn increment(&self, key: &str, delta: i64) -> KvResult<i64>;
    /// Reads `key`, lets `update` compute the new value, and swaps it in only
    /// if nothing changed meanwhile. Only safe on a key known to exist: on an
    /// absent key Spin's swap is an unconditional upsert.
    fn compare_and_swap(&self, key: &str, update: &mut CasUpdate) -> KvResult<CasOutcome>;
    /// Swaps this request may still make. Spin keeps an instance's
    /// compare-and-swaps in a table of [`SWAP_TABLE`] slots and never frees
    /// the slot of one it swapped, so past that every swap fails: a request
    /// that loops over records (a delivery pass) stops while it has some
    /// left. Unbounded off Spin.
    fn swaps_left(&self) -> usize {
        usize::MAX
    }
    /// Reads `now` and, in the same batch, `later`: keys the request will
    /// read next (its organization, the tenant serving its host), kept and
    /// handed to the next `get` of each, once. A write to a kept key drops
    /// it. Each call to the host costs a request its throughput, so reads
    /// known up front travel together. Without a cache (off Spin) it reads
    /// `now` alone.
    fn get_many_ahead(&self, now: &[String], later: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        let _ = later;
        self.get_many(now)
    }
    /// Drops whatever was read ahead and not yet used: past the point it
    /// was read for (authentication), every read goes to the store.
    fn end_read_ahead(&self) {}
}

/// Slots in Spin's per-instance compare-and-swap table.
pub const SWAP_TABLE: usize = 256;

/// Reads `keys` through `batch` (the host's `get_many`), or with one `get`
/// per key where the host cannot batch. Spin's Redis provider sends
/// `get_many` as `KEYS k1 k2 ..`: Redis refuses it for two keys or more, and
/// for one key it answers the names matching that key as a glob pattern. So a
/// single key is always read with `get`, and a batch that fails is read key
/// by key; `broken` remembers the failure for the rest of the request, so
/// only the first batch of a request on Redis costs a wasted call.
pub fn get_many_or_each(
    keys: &[String],
    broken: &Cell<bool>,
    batch: impl FnOnce(&[String]) -> KvResult<Vec<(String, Option<Vec<u8>>)>>,
    get: impl Fn(&str) -> KvResult<Option<Vec<u8>>>,
) -> KvResult<Vec<Option<Vec<u8>>>> {
    let each = || keys.iter().map(|k| get(k)).collect();
    if keys.len() < 2 || broken.get() {
        return each();
    }
    match batch(keys) {
        // The host answers (key, value) pairs in any order.
        Ok(found) => {
            let by_key: std::collections::HashMap<String, Option<Vec<u8>>> =
                found.into_iter().collect();
            Ok(keys
                .iter()
                .map(|k| by_key.get(k).cloned().flatten())
                .collect())
        }
        Err(_) => {
            broken.set(true);
            each()
        }
    }
}

/// An in-memory store with Spin's semantics, for native tests and benchmarks.
/// Counts calls so tests can check what an operation costs.
#[derive(Default)]
pub struct MemKv {
    map: RefCell<BTreeMap<String, Vec<u8>>>,
    calls: RefCell<u64>,
}

impl MemKv {
    pub fn new() -> Self {
        Self::default()
    }
    /// Key-value calls made so far.
    pub fn calls(&self) -> u64 {
        *self.calls.borrow()
    }
    /// Every (key, value), for tests that inspect what was written.
    pub fn dump(&self) -> Vec<(String, Vec<u8>)> {
        self.map
            .borrow()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    fn count(&self) {
        *self.calls.borrow_mut() += 1;
    }
}

impl Kv for MemKv {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.count();
        Ok(self.map.borrow().get(key).cloned())
    }
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        self.count();
        let map = self.map.borrow();
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }
    fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        self.count();
        self.map
            .borrow_mut()
            .insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) -> KvResult<()> {
        self.count();
        self.map.borrow_mut().remove(key);
        Ok(())
    }
    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        self.count();
        let mut map = self.map.borrow_mut();
        let current = match map.get(key) {
            None => 0,
            Some(v) => i64::from_le_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| KvError("not a counter".into()))?,
            ),
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| KvError("counter overflow".into()))?;
        map.insert(key.to_string(), next.to_le_bytes().to_vec());
        Ok(next)
    }
    fn compare_and_swap(&self, key: &str, update: &mut CasUpdate) -> KvResult<CasOutcome> {
        self.count();
        let current = self.map.borrow().get(key).cloned();
        let Some(next) = update(current.as_deref()) else {
            return Ok(CasOutcome::Skipped);
        };
        self.count();
        self.map.borrow_mut().insert(key.to_string(), next);
        Ok(CasOutcome::Swapped)
    }
}

/// A store whose [`Kv::get_many_ahead`] keeps the values read ahead, each
/// for the next `get` of its key (what a component's store is wrapped in).
/// A kept value is one read as part of an earlier batch: handed out once, so
/// a read after it goes to the store, and dropped by any write to its key.
pub struct ReadAhead<'a, K: ?Sized> {
    inner: &'a K,
    kept: RefCell<std::collections::HashMap<String, Option<Vec<u8>>>>,
}

impl<'a, K: Kv + ?Sized> ReadAhead<'a, K> {
    pub fn new(inner: &'a K) -> Self {
        Self {
            inner,
            kept: RefCell::default(),
        }
    }

    fn drop_kept(&self, key: &str) {
        self.kept.borrow_mut().remove(key);
    }
}

impl<K: Kv + ?Sized> Kv for ReadAhead<'_, K> {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        if let Some(value) = self.kept.borrow_mut().remove(key) {
            return Ok(value);
        }
        self.inner.get(key)
    }
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        keys.iter().for_each(|k| self.drop_kept(k));
        self.inner.get_many(keys)
    }
    fn get_many_ahead(&self, now: &[String], later: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        let all: Vec<String> = now.iter().chain(later).cloned().collect();
        let mut values = self.get_many(&all)?;
        let kept = values.split_off(now.len().min(values.len()));
        self.kept
            .borrow_mut()
            .extend(later.iter().cloned().zip(kept));
        Ok(values)
    }
    fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        self.drop_kept(key);
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> KvResult<()> {
        self.drop_kept(key);
        self.inner.delete(key)
    }
    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        self.drop_kept(key);
        self.inner.increment(key, delta)
    }
    fn compare_and_swap(&self, key: &str, update: &mut CasUpdate) -> KvResult<CasOutcome> {
        self.drop_kept(key);
        self.inner.compare_and_swap(key, update)
    }
    fn swaps_left(&self) -> usize {
        self.inner.swaps_left()
    }
    fn end_read_ahead(&self) {
        self.kept.borrow_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_batch_is_read_key_by_key_and_not_tried_again() {
        let kv = MemKv::new();
        kv.set("a", b"1").unwrap();
        kv.set("b", b"2").unwrap();
        let keys = |names: &[&str]| names.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        let broken = Cell::new(false);
        let batches = Cell::new(0);
        let refuse = |_: &[String]| {
            batches.set(batches.get() + 1);
            Err(KvError(
                "ERR wrong number of arguments for 'keys' command".into(),
            ))
        };
        let read = |names: &[&str]| {
            get_many_or_each(&keys(names), &broken, refuse, |k| kv.get(k)).unwrap()
        };
        assert_eq!(
            read(&["a", "b", "c"]),
            vec![Some(b"1".to_vec()), Some(b"2".to_vec()), None]
        );
        assert_eq!(
            read(&["b", "a"]),
            vec![Some(b"2".to_vec()), Some(b"1".to_vec())]
        );
        assert_eq!(batches.get(), 1, "the second batch went straight to gets");
        let single = Cell::new(false);
        let never = |_: &[String]| -> KvResult<Vec<(String, Option<Vec<u8>>)>> {
            panic!("batched one key")
        };
        assert_eq!(
            get_many_or_each(&keys(&["a*"]), &single, never, |k| kv.get(k)).unwrap(),
            vec![None],
            "one key is a plain get, never a pattern"
        );
    }

    #[test]
    fn increment_counts_from_zero_as_eight_le_bytes() {
        let kv = MemKv::new();
        assert_eq!(kv.increment("c", 1).unwrap(), 1);
        assert_eq!(kv.increment("c", 5).unwrap(), 6);
        assert_eq!(kv.get("c").unwrap(), Some(6i64.to_le_bytes().to_vec()));
        kv.set("s", b"text").unwrap();
        assert!(kv.increment("s", 1).is_err());
    }

    #[test]
    fn values_read_ahead_serve_one_get_and_die_on_a_write() {
        let mem = MemKv::default();
        let kv = ReadAhead::new(&mem);
        for k in ["a", "b", "c"] {
            kv.set(k, k.as_bytes()).unwrap();
        }
        let keys = |ks: &[&str]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        let now = kv
            .get_many_ahead(&keys(&["a"]), &keys(&["b", "c", "gone"]))
            .unwrap();
        assert_eq!(now, vec![Some(b"a".to_vec())]);
        let calls = mem.calls();
        // Kept: served without a call, once.
        assert_eq!(kv.get("b").unwrap(), Some(b"b".to_vec()));
        assert_eq!(kv.get("gone").unwrap(), None);
        assert_eq!(mem.calls(), calls);
        mem.set("b", b"b2").unwrap();
        assert_eq!(
            kv.get("b").unwrap(),
            Some(b"b2".to_vec()),
            "a second read goes to the store"
        );
        // A write drops what was kept.
        kv.set("c", b"c2").unwrap();
        assert_eq!(kv.get("c").unwrap(), Some(b"c2".to_vec()));
        let _ = kv.get_many_ahead(&keys(&["a"]), &keys(&["c"])).unwrap();
        kv.delete("c").unwrap();
        assert_eq!(kv.get("c").unwrap(), None);
        // Past authentication nothing read ahead is served.
        let _ = kv
            .get_many_ahead(&keys(&["a"]), &keys(&["a", "b"]))
            .unwrap();
        kv.end_read_ahead();
        mem.set("b", b"b3").unwrap();
        assert_eq!(kv.get("b").unwrap(), Some(b"b3".to_vec()));
    }
}
