//! Host side of `fermyon:spin/key-value`, `fermyon:spin/variables` and
//! `wasi:keyvalue` (store, atomics, batch), over the one [`KvEngine`].

use wasmtime::component::{HasSelf, Linker, Resource};

use crate::host::State;
use crate::kv::{CasWatch, KvError, KvResult, Op};

mod generated {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "onboard:test-host/host",
        imports: { default: async | trappable },
        with: {
            "fermyon:spin/key-value.store": crate::bindings::SpinStore,
            "wasi:keyvalue/store.bucket": crate::bindings::Bucket,
            "wasi:keyvalue/atomics.cas": crate::bindings::Cas,
        },
    });
}

use generated::fermyon::spin::{key_value as spin_kv, variables};
use generated::wasi::keyvalue::{atomics, batch, store as wasi_kv};

/// An open `fermyon:spin/key-value` store: just its label.
pub struct SpinStore {
    label: String,
}

/// An open `wasi:keyvalue` bucket: just its label.
pub struct Bucket {
    label: String,
}

/// A compare-and-swap in progress: what `current()` saw (outer `None` = not
/// called), and on Redis the connection holding its `WATCH`.
pub struct Cas {
    label: String,
    key: String,
    seen: Option<Option<Vec<u8>>>,
    watch: Option<CasWatch>,
}

/// Spin keeps an instance's open compare-and-swaps in a table of this many
/// slots. Its `swap` never frees the slot of the CAS it consumed, and a
/// failed swap takes one more for the CAS it hands back, so a request can
/// make about this many swaps before `Cas::new` fails.
const CAS_TABLE: usize = 256;

pub fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    spin_kv::add_to_linker::<_, HasSelf<State>>(linker, |s| s)?;
    variables::add_to_linker::<_, HasSelf<State>>(linker, |s| s)?;
    wasi_kv::add_to_linker::<_, HasSelf<State>>(linker, |s| s)?;
    atomics::add_to_linker::<_, HasSelf<State>>(linker, |s| s)?;
    batch::add_to_linker::<_, HasSelf<State>>(linker, |s| s)?;
    Ok(())
}

/// Why opening a store label fails, shared by both interfaces.
enum OpenError {
    AccessDenied,
    NoSuchStore,
}

impl State {
    /// Spin checks the component's `key_value_stores` first (AccessDenied), then
    /// whether the runtime defines the store (NoSuchStore).
    fn check_open(&self, label: &str) -> Result<(), OpenError> {
        if !self.allowed_stores.iter().any(|s| s == label) {
            return Err(OpenError::AccessDenied);
        }
        if label != "default" {
            return Err(OpenError::NoSuchStore);
        }
        Ok(())
    }

    /// Counts the call and takes the test's pauses before it runs (`key` is
    /// empty for calls on several keys or on a swap's earlier read).
    async fn before(&mut self, op: Op, key: &str) {
        self.counts.add(op);
        self.kv.pause(op, key).await;
    }
}

/// Turns an engine error into the guest's error, or a trap for an injected crash.
fn guest<T, E>(r: KvResult<T>, other: impl FnOnce(String) -> E) -> wasmtime::Result<Result<T, E>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(KvError::Other(msg)) => Ok(Err(other(msg))),
        Err(KvError::CasFailed) => Ok(Err(other("compare-and-swap failed".into()))),
        Err(KvError::Crash) => Err(wasmtime::format_err!("injected crash in a key-value call")),
    }
}

impl spin_kv::Host for State {}

impl spin_kv::HostStore for State {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<SpinStore>, spin_kv::Error>> {
        Ok(match self.check_open(&label) {
            Err(OpenError::AccessDenied) => Err(spin_kv::Error::AccessDenied),
            Err(OpenError::NoSuchStore) => Err(spin_kv::Error::NoSuchStore),
            Ok(()) => Ok(self.table.push(SpinStore { label })?),
        })
    }

    async fn get(
        &mut self,
        store: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, spin_kv::Error>> {
        let label = self.table.get(&store)?.label.clone();
        self.before(Op::Get, &key).await;
        guest(self.kv.get(&label, &key), spin_kv::Error::Other)
    }

    async fn set(
        &mut self,
        store: Resource<SpinStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let label = self.table.get(&store)?.label.clone();
        self.before(Op::Set, &key).await;
        guest(self.kv.set(&label, &key, &value), spin_kv::Error::Other)
    }

    async fn delete(
        &mut self,
        store: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let label = self.table.get(&store)?.label.clone();
        self.before(Op::Delete, &key).await;
        guest(self.kv.delete(&label, &key), spin_kv::Error::Other)
    }

    async fn exists(
        &mut self,
        store: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, spin_kv::Error>> {
        let label = self.table.get(&store)?.label.clone();
        self.before(Op::Exists, &key).await;
        guest(self.kv.exists(&label, &key), spin_kv::Error::Other)
    }

    async fn get_keys(
        &mut self,
        store: Resource<SpinStore>,
    ) -> wasmtime::Result<Result<Vec<String>, spin_kv::Error>> {
        let label = self.table.get(&store)?.label.clone();
        self.before(Op::GetKeys, "").await;
        guest(self.kv.get_keys(&label), spin_kv::Error::Other)
    }

    async fn drop(&mut self, store: Resource<SpinStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl variables::Host for State {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        self.variables_read.push(name.clone());
        Ok(self.variable(&name).map_err(|e| match e {
            crate::host::VariableError::InvalidName(m) => variables::Error::InvalidName(m),
            crate::host::VariableError::Undefined(m) => variables::Error::Undefined(m),
        }))
    }
}

impl wasi_kv::Host for State {
    async fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<Bucket>, wasi_kv::Error>> {
        Ok(match self.check_open(&identifier) {
            Err(OpenError::AccessDenied) => Err(wasi_kv::Error::AccessDenied),
            Err(OpenError::NoSuchStore) => Err(wasi_kv::Error::NoSuchStore),
            Ok(()) => Ok(self.table.push(Bucket { label: identifier })?),
        })
    }
}

impl wasi_kv::HostBucket for State {
    async fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_kv::Error>> {
        let label = self.table.get(&bucket)?.label.clone();
        self.before(Op::Get, &key).await;
        guest(self.kv.get(&label, &key), wasi_kv::Error::Other)
    }

    async fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.table.get(&bucket)?.label.clone();
        self.before(Op::Set, &key).await;
        guest(self.kv.set(&label, &key, &value), wasi_kv::Error::Other)
    }

    async fn delete(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.table.get(&bucket)?.label.clone();
        self.before(Op::Delete, &key).await;
        guest(self.kv.delete(&label, &key), wasi_kv::Error::Other)
    }

    async fn exists(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, wasi_kv::Error>> {
        let label = self.table.get(&bucket)?.label.clone();
        self.before(Op::Exists, &key).await;
        guest(self.kv.exists(&label, &key), wasi_kv::Error::Other)
    }

    /// Spin returns every key at once and no cursor.
    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        _cursor: Option<String>,
    ) -> wasmtime::Result<Result<wasi_kv::KeyResponse, wasi_kv::Error>> {
        let label = self.table.get(&bucket)?.label.clone();
        self.before(Op::GetKeys, "").await;
        guest(
            self.kv
                .get_keys(&label)
                .map(|keys| wasi_kv::KeyResponse { keys, cursor: None }),
            wasi_kv::Error::Other,
        )
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for State {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, wasi_kv::Error>> {
        let label = self.table.get(&bucket)?.label.clone();
        self.before(Op::Increment, &key).await;
        guest(
            self.kv.increment(&label, &key, delta),
            wasi_kv::Error::Other,
        )
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let mut state = self.table.delete(cas)?;
        self.before(Op::Swap, "").await;
        let seen = state.seen.take().flatten();
        let watch = state.watch.take().unwrap_or(CasWatch::none());
        match self
            .kv
            .swap(&state.label, &state.key, seen.as_deref(), watch, &value)
        {
            Ok(()) => Ok(Ok(())),
            // Spin hands back a new CAS on the same key, its `current()`
            // already read (and on Redis, the key watched again).
            Err(KvError::CasFailed) if self.cas_slots >= CAS_TABLE => {
                Ok(Err(atomics::CasError::StoreError(wasi_kv::Error::Other(
                    "too many compare_and_swaps opened".into(),
                ))))
            }
            Err(KvError::CasFailed) => match self.kv.cas_reread(&state.label, &state.key) {
                Ok((seen, watch)) => {
                    self.cas_slots += 1;
                    state.seen = Some(seen);
                    state.watch = Some(watch);
                    let again = self.table.push(state)?;
                    Ok(Err(atomics::CasError::CasFailed(again)))
                }
                Err(e) => Ok(Err(atomics::CasError::StoreError(wasi_kv::Error::Other(
                    format!("{e:?}"),
                )))),
            },
            Err(KvError::Other(msg)) => Ok(Err(atomics::CasError::StoreError(
                wasi_kv::Error::Other(msg),
            ))),
            Err(KvError::Crash) => Err(wasmtime::format_err!("injected crash in a key-value call")),
        }
    }
}

impl atomics::HostCas for State {
    async fn new(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<Cas>, wasi_kv::Error>> {
        let label = self.table.get(&bucket)?.label.clone();
        if self.cas_slots >= CAS_TABLE {
            return Ok(Err(wasi_kv::Error::Other(
                "too many compare_and_swaps opened".into(),
            )));
        }
        self.cas_slots += 1;
        Ok(Ok(self.table.push(Cas {
            label,
            key,
            seen: None,
            watch: None,
        })?))
    }

    async fn current(
        &mut self,
        cas: Resource<Cas>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_kv::Error>> {
        let (label, key) = {
            let c = self.table.get(&cas)?;
            (c.label.clone(), c.key.clone())
        };
        self.before(Op::CasCurrent, &key).await;
        let result = guest(self.kv.cas_current(&label, &key), wasi_kv::Error::Other)?;
        Ok(match result {
            Ok((seen, watch)) => {
                let c = self.table.get_mut(&cas)?;
                c.seen = Some(seen.clone());
                if let Some(old) = c.watch.replace(watch) {
                    self.kv.cas_dropped(old);
                }
                Ok(seen)
            }
            Err(e) => Err(e),
        })
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.cas_slots = self.cas_slots.saturating_sub(1);
        let mut cas = self.table.delete(cas)?;
        if let Some(watch) = cas.watch.take() {
            self.kv.cas_dropped(watch);
        }
        Ok(())
    }
}

impl batch::Host for State {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, wasi_kv::Error>> {
        let label = self.table.get(&bucket)?.label.clone();
        self.before(Op::GetMany, "").await;
        // Spin answers an empty batch itself, without asking the provider.
        if keys.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        guest(self.kv.get_many(&label, &keys), wasi_kv::Error::Other)
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.table.get(&bucket)?.label.clone();
        self.before(Op::SetMany, "").await;
        if key_values.is_empty() {
            return Ok(Ok(()));
        }
        guest(self.kv.set_many(&label, &key_values), wasi_kv::Error::Other)
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), wasi_kv::Error>> {
        let label = self.table.get(&bucket)?.label.clone();
        self.before(Op::DeleteMany, "").await;
        if keys.is_empty() {
            return Ok(Ok(()));
        }
        guest(self.kv.delete_many(&label, &keys), wasi_kv::Error::Other)
    }
}
