//! The host's store seen through the core's own [`Kv`] trait, so tests can set
//! up state (organizations, thousands of users) natively through shared code,
//! in the very table the components read.

use onboard_shared::be::kv::{CasOutcome, CasUpdate, Kv, KvError, KvResult, get_many_or_each};
use onboard_shared::be::storage::Env;

use crate::host::Host;
use crate::kv::{KvEngine, KvError as EngineError};

const STORE: &str = "default";

fn err(e: EngineError) -> KvError {
    KvError(format!("{e:?}"))
}

impl Kv for KvEngine {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        KvEngine::get(self, STORE, key).map_err(err)
    }
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        let batch = |keys: &[String]| KvEngine::get_many(self, STORE, keys).map_err(err);
        let broken = std::cell::Cell::new(false);
        get_many_or_each(keys, &broken, batch, |k| Kv::get(self, k))
    }
    fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        KvEngine::set(self, STORE, key, value).map_err(err)
    }
    fn delete(&self, key: &str) -> KvResult<()> {
        KvEngine::delete(self, STORE, key).map_err(err)
    }
    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        KvEngine::increment(self, STORE, key, delta).map_err(err)
    }
    fn compare_and_swap(&self, key: &str, update: &mut CasUpdate) -> KvResult<CasOutcome> {
        let (current, watch) = self.cas_current(STORE, key).map_err(err)?;
        let Some(next) = update(current.as_deref()) else {
            self.cas_dropped(watch);
            return Ok(CasOutcome::Skipped);
        };
        match self.swap(STORE, key, current.as_deref(), watch, &next) {
            Ok(()) => Ok(CasOutcome::Swapped),
            Err(EngineError::CasFailed) => Ok(CasOutcome::Failed),
            Err(e) => Err(err(e)),
        }
    }
}

impl Host {
    /// Runs `f` natively against this host's store, at the host clock's time.
    pub fn with_env<R>(&self, f: impl FnOnce(&mut Env) -> R) -> R {
        let mut counter = 0u128;
        let mut random = move || {
            counter += 1;
            let mut bytes = rand::random::<[u8; 16]>();
            bytes[..8].copy_from_slice(&(counter as u64).to_le_bytes());
            bytes
        };
        let pause = |_: std::time::Duration| {};
        // As a component's store is (`edge::spin`), so native and wasm
        // requests make the same calls.
        let kv = onboard_shared::be::kv::ReadAhead::new(&self.kv);
        let mut env = Env {
            kv: &kv,
            now: onboard_shared::base::time::millis(self.clock.now()),
            random: &mut random,
            pause: &pause,
            correlation: None,
        };
        f(&mut env)
    }
}
