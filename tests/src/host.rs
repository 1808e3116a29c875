//! The test host: runs an app's real wasm components, routed by its real spin.toml,
//! with Spin's host interfaces, one fresh instance per request.
//!
//! [`App`] is the compiled app, shared by every test of a process (each component is
//! compiled once, lazily, and cached on disk across runs). [`Host`] is one running
//! copy of it with its own store file, variables, clock and faults, as a test needs.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

#[cfg(feature = "conformance")]
use crate::conformance::Conformance;
use crate::kv::{KvCounts, KvEngine};
use crate::manifest::{Manifest, expand_template};
use crate::router::Router;

/// Where the workspace lives, so the host can build its components.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The cargo profile the host builds components with: `wasm-test` (optimised, no
/// LTO: quick to build, fast enough to hash passwords) unless ONBOARD_WASM_PROFILE says.
pub fn wasm_profile() -> String {
    std::env::var("ONBOARD_WASM_PROFILE").unwrap_or_else(|_| "wasm-test".into())
}

/// The engine as `spin up` configures it: epoch interruption on (every store
/// gets a practically endless deadline) and the pooling instance allocator
/// with Spin's defaults for 1,000 instances, keeping 2 MiB of each linear
/// memory resident between instances. Where the pool cannot reserve its
/// address space, on-demand allocation, as Spin falls back to; Spin's
/// `SPIN_WASMTIME_POOLING=0` asks for on-demand allocation outright.
fn engine() -> &'static (Engine, bool) {
    static ENGINE: OnceLock<(Engine, bool)> = OnceLock::new();
    ENGINE.get_or_init(|| {
        const MIB: usize = 1 << 20;
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let instances = 1_000;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_memories(instances)
            .total_tables(2 * instances)
            .total_stacks(instances)
            .total_core_instances(4 * instances)
            .table_elements(100_000)
            .max_component_instance_size(10 * MIB)
            .max_core_instance_size(10 * MIB)
            .max_core_instances_per_component(200)
            .max_tables_per_component(64)
            .max_memories_per_component(32)
            .max_tables_per_module(2)
            .max_memories_per_module(2)
            .max_memory_size(4 << 30)
            .linear_memory_keep_resident(2 * MIB)
            .table_keep_resident(MIB / 2);
        let mut pooled = config.clone();
        pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if std::env::var("SPIN_WASMTIME_POOLING").as_deref() != Ok("0") {
            match Engine::new(&pooled) {
                Ok(engine) => return (engine, true),
                Err(e) => eprintln!("test host: no pooling allocator ({e:#}); instances on demand"),
            }
        }
        (Engine::new(&config).expect("wasmtime engine"), false)
    })
}

/// Whether instances come from the pooling allocator (else on demand).
pub fn pooling() -> bool {
    engine().1
}

/// A store for one request, with Spin's epoch deadline: "practically forever".
fn new_store(state: State) -> Store<State> {
    let mut store = Store::new(&engine().0, state);
    store.set_epoch_deadline(u64::MAX / 2);
    store
}

/// Builds the given packages for wasm32-wasip2 in the host's own target dir, once
/// per process and package set (cargo makes repeat builds no-ops).
/// `ONBOARD_WASM_TARGET_DIR=target` with `ONBOARD_WASM_PROFILE=release` builds
/// exactly what `spin build` builds, so CI compiles the components once for
/// both (its own target dir by default, so a local `spin build` and a test run
/// never wait on each other's lock).
fn build_packages(packages: &[String], variant: &Variant) -> anyhow::Result<PathBuf> {
    static BUILT: Mutex<Vec<(Vec<String>, String)>> = Mutex::new(Vec::new());
    let root = workspace_root();
    let target_dir = match variant.rustflags {
        None => std::env::var_os("ONBOARD_WASM_TARGET_DIR")
            .map(|d| root.join(d))
            .unwrap_or_else(|| root.join("target").join("wasm")),
        Some(_) => root.join("target").join(format!("wasm-{}", variant.name)),
    };
    let out = target_dir.join("wasm32-wasip2").join(wasm_profile());
    if std::env::var_os("ONBOARD_SKIP_WASM_BUILD").is_some() {
        return Ok(out);
    }
    let mut built = BUILT.lock().unwrap();
    let done = (packages.to_vec(), variant.name.to_string());
    if built.contains(&done) {
        return Ok(out);
    }
    let started = Instant::now();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--target", "wasm32-wasip2", "--profile"])
        .arg(wasm_profile())
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if let Some(flags) = variant.rustflags {
        cmd.env("RUSTFLAGS", flags);
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd
        .status()
        .context("running cargo build for the wasm components")?;
    if !status.success() {
        bail!("building the wasm components failed ({status})");
    }
    eprintln!(
        "test host: built {} wasm component(s) in {:.1?}",
        packages.len(),
        started.elapsed()
    );
    built.push(done);
    Ok(out)
}

/// A build of the components other than the default one (benchmarks
/// compare, say, the wasm with and without `+simd128`): its own target
/// directory and `RUSTFLAGS`, and only the components it names.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    pub name: &'static str,
    pub rustflags: Option<&'static str>,
    /// Components to build (every one when `None`); the others cannot serve.
    pub only: Option<&'static [&'static str]>,
}

impl Variant {
    pub const DEFAULT: Variant = Variant {
        name: "default",
        rustflags: None,
        only: None,
    };
}

/// One component: where its wasm is, what it may touch, and its compiled form.
struct ComponentSlot {
    wasm: PathBuf,
    stores: Vec<String>,
    variables: BTreeMap<String, String>,
    /// `allowed_outbound_hosts`, templates unexpanded.
    outbound: Vec<String>,
    pre: OnceLock<Result<ProxyPre<State>, String>>,
}

/// A compiled app: manifest, routes and components, shared across tests.
pub struct App {
    pub manifest: Manifest,
    router: Router,
    linker: Linker<State>,
    components: BTreeMap<String, ComponentSlot>,
}

impl App {
    /// The app of the workspace's `spin.toml`.
    pub fn main() -> anyhow::Result<Arc<App>> {
        Self::load(&workspace_root().join("spin.toml"))
    }

    /// Loads (once per process) the app a manifest describes, building its wasm.
    pub fn load(manifest_path: &Path) -> anyhow::Result<Arc<App>> {
        Self::load_variant(manifest_path, Variant::DEFAULT)
    }

    /// The workspace's app built as `variant` says.
    pub fn main_variant(variant: Variant) -> anyhow::Result<Arc<App>> {
        Self::load_variant(&workspace_root().join("spin.toml"), variant)
    }

    fn load_variant(manifest_path: &Path, variant: Variant) -> anyhow::Result<Arc<App>> {
        static APPS: Mutex<BTreeMap<(PathBuf, &'static str), Arc<App>>> =
            Mutex::new(BTreeMap::new());
        let mut apps = APPS.lock().unwrap();
        let cache_key = (manifest_path.to_path_buf(), variant.name);
        if let Some(app) = apps.get(&cache_key) {
            return Ok(app.clone());
        }
        let (manifest, _dir) = Manifest::load(manifest_path)?;
        let mut packages = Vec::new();
        for (id, c) in &manifest.component {
            let package = c.package().with_context(|| {
                format!("component {id}: neither its build command nor its source names a package")
            })?;
            packages.push(package);
        }
        let mut unique = packages.clone();
        unique.sort();
        unique.dedup();
        if let Some(only) = variant.only {
            unique.retain(|p| only.contains(&p.as_str()));
        }
        let out = build_packages(&unique, &variant)?;
        let components = manifest
            .component
            .iter()
            .zip(&packages)
            .map(|((id, c), package)| {
                let slot = ComponentSlot {
                    wasm: out.join(format!("{}.wasm", package.replace('-', "_"))),
                    stores: c.key_value_stores.clone(),
                    variables: c.variables.clone(),
                    outbound: c.allowed_outbound_hosts.clone(),
                    pre: OnceLock::new(),
                };
                (id.clone(), slot)
            })
            .collect();
        let mut linker = Linker::new(&engine().0);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        crate::bindings::add_to_linker(&mut linker)?;
        let router = Router::new(
            manifest
                .trigger
                .http
                .iter()
                .map(|t| (t.route.as_str(), t.component.as_str())),
        );
        let app = Arc::new(App {
            manifest,
            router,
            linker,
            components,
        });
        apps.insert(cache_key, app.clone());
        Ok(app)
    }

    /// The wasm file a component runs, as this run built it.
    pub fn wasm_file(&self, component: &str) -> Option<&Path> {
        self.components.get(component).map(|c| c.wasm.as_path())
    }

    /// Size in bytes of each component's wasm file, for size figures.
    pub fn wasm_sizes(&self) -> BTreeMap<String, u64> {
        self.components
            .iter()
            .map(|(id, c)| {
                let size = std::fs::metadata(&c.wasm).map(|m| m.len()).unwrap_or(0);
                (id.clone(), size)
            })
            .collect()
    }

    /// Compiles every component now (a server does this before it listens).
    pub fn precompile_all(&self) -> anyhow::Result<()> {
        for id in self.components.keys() {
            self.pre(id)?;
        }
        Ok(())
    }

    fn pre(&self, id: &str) -> anyhow::Result<ProxyPre<State>> {
        let slot = self.components.get(id).context("unknown component")?;
        let pre = slot.pre.get_or_init(|| {
            compile(&self.linker, &slot.wasm).map_err(|e| format!("component {id}: {e:#}"))
        });
        pre.clone().map_err(anyhow::Error::msg)
    }
}

/// Compiles a component, through an on-disk cache keyed by the wasm's contents and
/// the engine's settings, so repeat test runs skip cranelift.
fn compile(linker: &Linker<State>, wasm: &Path) -> anyhow::Result<ProxyPre<State>> {
    use std::hash::{Hash, Hasher};
    let bytes = std::fs::read(wasm).with_context(|| format!("reading {wasm:?}"))?;
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    engine().0.precompile_compatibility_hash().hash(&mut hasher);
    let cache_dir = workspace_root().join("target").join("wasm").join("cwasm");
    let cached = cache_dir.join(format!("{:016x}.cwasm", hasher.finish()));
    // SAFETY: the file was written by `Component::serialize` of this same engine
    // configuration (its hash is part of the name) and nothing else writes there.
    let component = match unsafe { Component::deserialize_file(&engine().0, &cached) } {
        Ok(c) => c,
        Err(_) => {
            let c = Component::new(&engine().0, &bytes)?;
            std::fs::create_dir_all(&cache_dir)?;
            let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, c.serialize()?)?;
            std::fs::rename(&tmp, &cached)?;
            c
        }
    };
    // Every import must be provided: an unknown one fails here, loudly, rather
    // than trapping later (wasmtime's trap stubs also hung instantiation).
    Ok(ProxyPre::new(linker.instantiate_pre(&component)?)?)
}

/// A clock a test can move: wall and monotonic time run at real speed plus an offset.
#[derive(Clone, Default)]
pub struct Clock {
    offset_nanos: Arc<AtomicI64>,
}

impl Clock {
    pub fn advance(&self, by: Duration) {
        self.offset_nanos
            .fetch_add(by.as_nanos() as i64, Ordering::SeqCst);
    }
    fn offset(&self) -> i64 {
        self.offset_nanos.load(Ordering::SeqCst)
    }
    /// What the components read as the current time.
    pub fn now(&self) -> SystemTime {
        let offset = self.offset();
        let real = SystemTime::now();
        if offset >= 0 {
            real + Duration::from_nanos(offset as u64)
        } else {
            real - Duration::from_nanos(offset.unsigned_abs())
        }
    }
}

struct WallClock(Clock);
impl HostWallClock for WallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        self.0.now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}

struct MonotonicClock(Clock, Instant);
impl HostMonotonicClock for MonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        (self.1.elapsed().as_nanos() as i64 + self.0.offset()).max(0) as u64
    }
}

fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

pub enum VariableError {
    InvalidName(String),
    Undefined(String),
}

/// What one component instance sees while it serves one request.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Outgoing,
    pub(crate) table: ResourceTable,
    component: String,
    pub(crate) allowed_stores: Vec<String>,
    mapped: BTreeMap<String, String>,
    values: Arc<HashMap<String, String>>,
    defaults: Arc<HashMap<String, Option<String>>>,
    pub(crate) kv: KvEngine,
    pub(crate) counts: KvCounts,
    /// The Spin variables the guest asked for, in order.
    pub(crate) variables_read: Vec<String>,
    /// Compare-and-swap slots in use in Spin's per-instance table (see
    /// `bindings::CAS_TABLE`).
    pub(crate) cas_slots: usize,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// A component's outgoing requests, allowed by its `allowed_outbound_hosts`
/// (expanded) as Spin allows them (`crate::outbound`).
struct Outgoing(Vec<String>);

impl wasmtime_wasi_http::WasiHttpHooks for Outgoing {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn std::future::Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<
                            dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                                + Send,
                        >,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(crate::outbound::send(self.0.clone(), request, options))
    }
}

impl State {
    /// Spin's variable lookup: the name must be valid, mapped into this component,
    /// and its template must resolve from provider values or app defaults.
    pub(crate) fn variable(&self, name: &str) -> Result<String, VariableError> {
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(VariableError::InvalidName(format!(
                "invalid variable name {name:?}: use lowercase letters, digits and '_'"
            )));
        }
        let Some(template) = self.mapped.get(name) else {
            return Err(VariableError::Undefined(format!(
                "no variable for {:?}.{:?}",
                self.component, name
            )));
        };
        expand_template(template, |var| {
            self.values
                .get(var)
                .cloned()
                .or_else(|| self.defaults.get(var).cloned().flatten())
        })
        .map_err(VariableError::Undefined)
    }
}

/// A request as a test writes it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: http::Method,
    pub path_and_query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub client_addr: SocketAddr,
}

impl Request {
    pub fn new(method: http::Method, path_and_query: impl Into<String>) -> Self {
        Self {
            method,
            path_and_query: path_and_query.into(),
            headers: Vec::new(),
            body: Vec::new(),
            client_addr: "127.0.0.1:40000".parse().unwrap(),
        }
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(http::Method::GET, path)
    }
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(http::Method::POST, path)
    }
    pub fn put(path: impl Into<String>) -> Self {
        Self::new(http::Method::PUT, path)
    }
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(http::Method::DELETE, path)
    }
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_string(), value.as_ref().to_vec()));
        self
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    /// A JSON body with its content type.
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(value).unwrap())
    }
    pub fn from_addr(mut self, addr: SocketAddr) -> Self {
        self.client_addr = addr;
        self
    }
}

/// What came back, plus what the host saw while serving it.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    /// The component that served it (none for a 404 from the router).
    pub component: Option<String>,
    pub kv: KvCounts,
    /// The Spin variables the component read, in order (each is a host call).
    pub variables_read: Vec<String>,
    pub stdout: String,
    pub stderr: String,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The body as JSON; `Value::Null` when it is empty or not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One running copy of an app, as a test (or `onboard-test-host serve`) uses it.
pub struct Host {
    pub app: Arc<App>,
    pub kv: KvEngine,
    pub clock: Clock,
    values: Arc<HashMap<String, String>>,
    defaults: Arc<HashMap<String, Option<String>>>,
    inflight: AtomicUsize,
    max_inflight: AtomicUsize,
    /// When set, every answer is checked against the OpenAPI document.
    #[cfg(feature = "conformance")]
    conformance: OnceLock<Arc<Conformance>>,
    _dir: tempfile::TempDir,
}

impl Host {
    /// A host for `app` with provider values for its variables (as
    /// `SPIN_VARIABLE_<NAME>` would give); fails, as `spin up` does, when a
    /// required variable has no value.
    pub fn new(app: Arc<App>, values: &[(&str, &str)]) -> anyhow::Result<Arc<Host>> {
        let dir = tempfile::tempdir()?;
        let kv = KvEngine::from_env(dir.path())?;
        Self::on(app, values, kv, dir)
    }

    /// A host over a given store (a test's own Redis, say).
    pub fn on_store(
        app: Arc<App>,
        values: &[(&str, &str)],
        kv: KvEngine,
    ) -> anyhow::Result<Arc<Host>> {
        Self::on(app, values, kv, tempfile::tempdir()?)
    }

    fn on(
        app: Arc<App>,
        values: &[(&str, &str)],
        kv: KvEngine,
        dir: tempfile::TempDir,
    ) -> anyhow::Result<Arc<Host>> {
        let values: HashMap<String, String> = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (name, decl) in &app.manifest.variables {
            if decl.required && !values.contains_key(name) {
                bail!("required variable {name:?} has no value");
            }
        }
        let defaults: HashMap<String, Option<String>> = app
            .manifest
            .variables
            .iter()
            .map(|(k, d)| (k.clone(), d.default.clone()))
            .collect();
        // As `spin up` does: every allowed_outbound_hosts entry must expand
        // and parse, or the app does not start.
        for (id, slot) in &app.components {
            let expanded = slot
                .outbound
                .iter()
                .map(|t| {
                    expand_template(t, |var| {
                        values
                            .get(var)
                            .cloned()
                            .or_else(|| defaults.get(var).cloned().flatten())
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("component {id}: {e}"))?;
            crate::outbound::validate(&expanded)
                .map_err(|e| anyhow::anyhow!("component {id}: {e}"))?;
        }
        Ok(Arc::new(Host {
            app,
            kv,
            clock: Clock::default(),
            values: Arc::new(values),
            defaults: Arc::new(defaults),
            inflight: AtomicUsize::new(0),
            max_inflight: AtomicUsize::new(0),
            #[cfg(feature = "conformance")]
            conformance: OnceLock::new(),
            _dir: dir,
        }))
    }

    /// Another replica of this app over the same store, as a second `spin up`
    /// (or SpinKube pod) would be: its own component instances and, on Redis,
    /// its own connections; the same variables and clock.
    pub fn replica(&self) -> anyhow::Result<Arc<Host>> {
        Ok(Arc::new(Host {
            app: self.app.clone(),
            kv: self.kv.replica(),
            clock: self.clock.clone(),
            values: self.values.clone(),
            defaults: self.defaults.clone(),
            inflight: AtomicUsize::new(0),
            max_inflight: AtomicUsize::new(0),
            #[cfg(feature = "conformance")]
            conformance: self.conformance.clone(),
            _dir: tempfile::tempdir()?,
        }))
    }

    /// From now on every answer whose status the document names for its
    /// operation must match the document's schema, or the request panics
    /// (failing the test that sent it).
    #[cfg(feature = "conformance")]
    pub fn check_answers_against(&self, conformance: Arc<Conformance>) {
        let _ = self.conformance.set(conformance);
    }

    /// The most requests that were ever being served at the same moment.
    pub fn max_concurrent_requests(&self) -> usize {
        self.max_inflight.load(Ordering::SeqCst)
    }

    /// Serves one request the way `spin up` would.
    pub async fn send(&self, req: Request) -> Response {
        let now = self.inflight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_inflight.fetch_max(now, Ordering::SeqCst);
        #[cfg(feature = "conformance")]
        let checked = self.conformance.get().map(|c| {
            let path = req.path_and_query.split('?').next().unwrap_or_default();
            (c.clone(), req.method.to_string(), path.to_string())
        });
        let response = self.dispatch(req).await;
        self.inflight.fetch_sub(1, Ordering::SeqCst);
        #[cfg(feature = "conformance")]
        if let Some((conformance, method, path)) = checked
            && let Some(problem) = conformance.violation(
                &method,
                &path,
                response.status,
                response.header("content-type"),
                &response.body,
            )
        {
            panic!("{problem}");
        }
        response
    }

    /// The request a component sees for `req`, as Spin builds it: the
    /// client's headers, its Host as the authority, and Spin's `spin-*`
    /// headers (the route's parameters among them).
    fn spin_request(
        &self,
        req: &Request,
        matched: &crate::router::RouteMatch,
    ) -> Result<http::Request<Vec<u8>>, http::Error> {
        // Like Spin, the request's authority is the Host the client sent.
        let authority = req
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .filter(|h| h.parse::<http::uri::Authority>().is_ok())
            .unwrap_or("127.0.0.1:3000")
            .to_string();
        let mut builder = http::Request::builder()
            .method(req.method.clone())
            .uri(format!("http://{authority}{}", req.path_and_query));
        let mut has_host = false;
        // Like Spin, a client's own headers are kept, `spin-*` ones included,
        // and Spin's values are appended after them under the same names.
        for (name, value) in &req.headers {
            has_host |= name.eq_ignore_ascii_case("host");
            builder = builder.header(name.as_str(), value.as_slice());
        }
        if !has_host {
            builder = builder.header("host", authority.as_str());
        }
        let full_url = format!("http://{authority}{}", req.path_and_query);
        let mut spin_headers = vec![
            ("spin-full-url", full_url),
            ("spin-path-info", matched.path_info.clone()),
            ("spin-matched-route", matched.raw_route.clone()),
            ("spin-raw-component-route", matched.raw_route.clone()),
            ("spin-component-route", matched.component_route.clone()),
            ("spin-base-path", "/".to_string()),
            ("spin-client-addr", req.client_addr.to_string()),
        ];
        let param_headers: Vec<(String, String)> = matched
            .params
            .iter()
            .map(|(k, v)| (format!("spin-path-match-{k}"), v.clone()))
            .collect();
        for (k, v) in spin_headers.drain(..) {
            builder = builder.header(k, v);
        }
        for (k, v) in param_headers {
            builder = builder.header(k, v);
        }
        builder.body(req.body.clone())
    }

    /// What one instance serving `component` sees: its WASI context (with
    /// captured stdout and stderr), outbound rules, variables and store.
    fn instance_state(&self, component: &str) -> (State, MemoryOutputPipe, MemoryOutputPipe) {
        let stdout = MemoryOutputPipe::new(1 << 20);
        let stderr = MemoryOutputPipe::new(1 << 20);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(WallClock(self.clock.clone()))
            .monotonic_clock(MonotonicClock(self.clock.clone(), process_start()))
            .build();
        let state = State {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: Outgoing(
                self.app.components[component]
                    .outbound
                    .iter()
                    .filter_map(|t| {
                        expand_template(t, |var| {
                            self.values
                                .get(var)
                                .cloned()
                                .or_else(|| self.defaults.get(var).cloned().flatten())
                        })
                        .ok()
                    })
                    .collect(),
            ),
            table: ResourceTable::new(),
            component: component.to_string(),
            allowed_stores: self.app.components[component].stores.clone(),
            mapped: self.app.components[component].variables.clone(),
            values: self.values.clone(),
            defaults: self.defaults.clone(),
            kv: self.kv.clone(),
            counts: KvCounts::default(),
            variables_read: Vec::new(),
            cas_slots: 0,
        };
        (state, stdout, stderr)
    }

    /// The request `req` as the component its path routes to would see it
    /// (for running the same handler natively), with that component's name.
    pub fn native_request(&self, req: &Request) -> Option<(String, http::Request<Vec<u8>>)> {
        let path = req.path_and_query.split('?').next().unwrap_or_default();
        let matched = self.app.router.route(path)?;
        let request = self.spin_request(req, &matched).ok()?;
        Some((matched.component, request))
    }

    /// Makes one new instance of `component` (compiled already) and drops
    /// it: what every request pays before the guest runs.
    pub async fn instantiate(&self, component: &str) -> anyhow::Result<Duration> {
        let pre = self.app.pre(component)?;
        let started = Instant::now();
        let (state, _, _) = self.instance_state(component);
        let mut store = new_store(state);
        let _proxy = pre.instantiate_async(&mut store).await?;
        Ok(started.elapsed())
    }

    async fn dispatch(&self, req: Request) -> Response {
        let path = req
            .path_and_query
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        let empty = |status: u16, component: Option<String>| Response {
            status,
            headers: http::HeaderMap::new(),
            body: Vec::new(),
            component,
            kv: KvCounts::default(),
            variables_read: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
        };
        let Some(matched) = self.app.router.route(&path) else {
            return empty(404, None);
        };
        let pre = match self.app.pre(&matched.component) {
            Ok(pre) => pre,
            Err(e) => {
                eprintln!("test host: {e:#}");
                return empty(500, Some(matched.component));
            }
        };

        let Ok(request) = self.spin_request(&req, &matched) else {
            return empty(400, None);
        };
        let request = request.map(|body| Full::new(Bytes::from(body)));

        let (state, stdout, stderr) = self.instance_state(&matched.component);
        let mut store = new_store(state);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let setup = (|| -> anyhow::Result<_> {
            let incoming = store
                .data_mut()
                .http()
                .new_incoming_request(Scheme::Http, request)?;
            let out = store.data_mut().http().new_response_outparam(sender)?;
            Ok((incoming, out))
        })();
        let Ok((incoming, out)) = setup else {
            return empty(500, Some(matched.component));
        };

        let task = tokio::spawn(async move {
            let result = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, incoming, out)
                    .await
            }
            .await;
            // Dropping the store drops the response outparam, so a guest that
            // trapped before answering releases the receiver below.
            let counts = std::mem::take(&mut store.data_mut().counts);
            let variables = std::mem::take(&mut store.data_mut().variables_read);
            drop(store);
            (result, (counts, variables))
        });

        let reply = receiver.await;
        let (status, headers, body) = match reply {
            Ok(Ok(resp)) => {
                let (parts, body) = resp.into_parts();
                match body.collect().await {
                    Ok(collected) => (
                        parts.status.as_u16(),
                        parts.headers,
                        collected.to_bytes().to_vec(),
                    ),
                    Err(_) => (500, http::HeaderMap::new(), Vec::new()),
                }
            }
            _ => (500, http::HeaderMap::new(), Vec::new()),
        };
        let mut trap = String::new();
        let (status, headers, body, (counts, variables_read)) = match task.await {
            Ok((Ok(()), seen)) => (status, headers, body, seen),
            // A trap: Spin answers 500 with an empty body.
            Ok((Err(e), seen)) => {
                trap = format!("\ntest host: trap: {e:#}\n");
                (500, http::HeaderMap::new(), Vec::new(), seen)
            }
            Err(e) => {
                trap = format!("\ntest host: task failed: {e}\n");
                (500, http::HeaderMap::new(), Vec::new(), Default::default())
            }
        };
        Response {
            status,
            headers,
            body,
            component: Some(matched.component),
            kv: counts,
            variables_read,
            stdout: String::from_utf8_lossy(&stdout.contents()).into_owned(),
            stderr: format!("{}{trap}", String::from_utf8_lossy(&stderr.contents())),
        }
    }
}
