//! The one place that touches the Spin SDK: turning Spin's incoming request into
//! a [`web::Request`], the host's key-value store, variables and clock.

use futures::StreamExt as _;
use http::StatusCode;
use spin_sdk::http::IncomingRequest;
use spin_sdk::wit::wasi::keyvalue::{atomics, batch, store};

use crate::base::error::Error;
use crate::be::kv::{CasOutcome, CasUpdate, Kv, KvError, KvResult, ReadAhead};
use crate::be::storage::Env;

use crate::edge::web::{self, MAX_BODY_BYTES};

/// Reads Spin's request, refusing bodies over [`MAX_BODY_BYTES`] with 413 as soon
/// as the limit is passed (the rest is never buffered). The refusal is a core
/// error, so each family renders it in its own shape.
pub async fn read_request(req: IncomingRequest) -> Result<web::Request, Error> {
    let unreadable = || Error::Malformed("the request could not be read".into());
    let method: http::Method = req.method().into();
    let uri = req.path_with_query().unwrap_or_else(|| "/".into());
    let mut builder = http::Request::builder().method(method).uri(uri.as_str());
    let mut has_host = false;
    for (name, value) in req.headers().entries() {
        has_host |= name.eq_ignore_ascii_case("host");
        builder = builder.header(name, value);
    }
    // wasi:http carries the host as the request's authority, not as a header;
    // tenants are resolved by host, so put it back where handlers look.
    if !has_host && let Some(authority) = req.authority() {
        builder = builder.header("host", authority);
    }
    let mut body = Vec::new();
    let mut stream = req.into_body_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Error::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    builder.body(body).map_err(|_| unreadable())
}

/// Reads the request and hands it to `handler`; what the components outside
/// the families (health, the document, the fallback) do. A request that
/// cannot be read gets its status and no body.
pub async fn serve(
    req: IncomingRequest,
    handler: impl FnOnce(web::Request) -> web::Response,
) -> web::Response {
    match read_request(req).await {
        Ok(request) => handler(request),
        Err(e) => web::empty(StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)),
    }
}

/// One read against the default store: does it answer?
pub fn probe_store() -> Result<(), String> {
    let store = spin_sdk::key_value::Store::open_default().map_err(|e| e.to_string())?;
    store.exists("health").map(drop).map_err(|e| e.to_string())
}

/// [`Kv`] over Spin's `default` store, through `wasi:keyvalue` (store, atomics,
/// batch), which Spin serves from the same table as `spin_sdk::key_value`.
pub struct SpinKv {
    bucket: store::Bucket,
    /// The host refused a batch read in this request (Redis does, always).
    batch_broken: std::cell::Cell<bool>,
    /// Swaps made: each holds its table slot for the rest of the request.
    swaps: std::cell::Cell<usize>,
}

impl SpinKv {
    pub fn open_default() -> KvResult<Self> {
        store::open("default")
            .map(|bucket| Self {
                bucket,
                batch_broken: std::cell::Cell::new(false),
                swaps: std::cell::Cell::new(0),
            })
            .map_err(kv_err)
    }
}

/// Every store error is logged here, where it is met (Spin keeps the
/// component's stderr); the client hears only that the store is unavailable.
fn kv_err(e: store::Error) -> KvError {
    let e = KvError(format!("{e:?}"));
    eprintln!("{e}");
    e
}

impl Kv for SpinKv {
    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        self.bucket.get(key).map_err(kv_err)
    }
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        let batch = |keys: &[String]| batch::get_many(&self.bucket, keys).map_err(kv_err);
        crate::be::kv::get_many_or_each(keys, &self.batch_broken, batch, |k| self.get(k))
    }
    fn set(&self, key: &str, value: &[u8]) -> KvResult<()> {
        self.bucket.set(key, value).map_err(kv_err)
    }
    fn delete(&self, key: &str) -> KvResult<()> {
        self.bucket.delete(key).map_err(kv_err)
    }
    fn increment(&self, key: &str, delta: i64) -> KvResult<i64> {
        atomics::increment(&self.bucket, key, delta).map_err(kv_err)
    }
    fn compare_and_swap(&self, key: &str, update: &mut CasUpdate) -> KvResult<CasOutcome> {
        let cas = atomics::Cas::new(&self.bucket, key).map_err(kv_err)?;
        let current = cas.current().map_err(kv_err)?;
        let Some(next) = update(current.as_deref()) else {
            return Ok(CasOutcome::Skipped);
        };
        self.swaps.set(self.swaps.get() + 1);
        match atomics::swap(cas, &next) {
            Ok(()) => Ok(CasOutcome::Swapped),
            Err(atomics::CasError::CasFailed(_)) => Ok(CasOutcome::Failed),
            Err(atomics::CasError::StoreError(e)) => Err(kv_err(e)),
        }
    }
    fn swaps_left(&self) -> usize {
        // The CAS a swap opens next takes a slot too, freed when dropped.
        crate::be::kv::SWAP_TABLE.saturating_sub(self.swaps.get() + 1)
    }
}

/// A Spin variable mapped into this component, if it has a value.
pub fn variable(name: &str) -> Option<String> {
    spin_sdk::variables::get(name).ok()
}

/// Runs `f` with the component's [`Env`]: Spin's store, the host clock, host
/// randomness. If the store cannot be opened the family renders a 503.
pub fn with_env(
    render_error: fn(&Error) -> web::Response,
    f: impl FnOnce(&mut Env) -> web::Response,
) -> web::Response {
    let store = match SpinKv::open_default() {
        Ok(kv) => kv,
        Err(e) => return render_error(&Error::from(e)),
    };
    let kv = ReadAhead::new(&store);
    let mut random = || *uuid::Uuid::new_v4().as_bytes();
    let pause = |d: std::time::Duration| std::thread::sleep(d);
    let mut env = Env {
        kv: &kv,
        now: crate::base::time::millis(std::time::SystemTime::now()),
        random: &mut random,
        pause: &pause,
        correlation: None,
    };
    f(&mut env)
}

/// What every component's entry point does: reads its variables and the
/// request, opens the store, notes the request's correlation id for the audit
/// log, and runs the family's `handler`.
pub async fn handle(
    req: IncomingRequest,
    render_error: fn(&Error) -> web::Response,
    handler: fn(&web::Request, &mut Env, &crate::credential::identity::Config) -> web::Response,
) -> web::Response {
    let config = crate::credential::identity::Config::from_spin(variable);
    match read_request(req).await {
        Ok(mut request) => with_env(render_error, |env| {
            web::resolve_client(&mut request, || config.trusted_proxies());
            env.correlation = web::correlation_id(&request);
            handler(&request, env, &config)
        }),
        Err(e) => render_error(&e),
    }
}

/// Sends a whole [`web::Response`] through a response outparam.
async fn send_whole(out: spin_sdk::http::ResponseOutparam, response: web::Response) {
    use futures::SinkExt as _;
    let (head, body) = response.into_parts();
    let headers: Vec<(String, Vec<u8>)> = head
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    let Ok(fields) = spin_sdk::http::Fields::from_list(&headers) else {
        return;
    };
    let outgoing = spin_sdk::http::OutgoingResponse::new(fields);
    let _ = outgoing.set_status_code(head.status.as_u16());
    let mut sink = outgoing.take_body();
    out.set(outgoing);
    if !body.is_empty() {
        let _ = sink.send(body).await;
    }
}

/// Serves a streamed `200` answer: `start` checks the request (or returns
/// the error response to send instead); then each chunk `next` yields is
/// sent as soon as it is made, so the whole body is never held at once. A
/// failure after the head is sent can only cut the body short.
pub async fn serve_stream<S>(
    req: IncomingRequest,
    out: spin_sdk::http::ResponseOutparam,
    content_type: &str,
    render_error: fn(&Error) -> web::Response,
    start: impl FnOnce(&web::Request, &mut Env) -> Result<S, Box<web::Response>>,
    mut next: impl FnMut(&mut S, &mut Env) -> Option<Vec<u8>>,
) {
    use futures::SinkExt as _;
    let request = match read_request(req).await {
        Ok(r) => r,
        Err(e) => return send_whole(out, render_error(&e)).await,
    };
    let store = match SpinKv::open_default() {
        Ok(kv) => kv,
        Err(e) => return send_whole(out, render_error(&Error::from(e))).await,
    };
    let kv = ReadAhead::new(&store);
    let mut random = || *uuid::Uuid::new_v4().as_bytes();
    let pause = |d: std::time::Duration| std::thread::sleep(d);
    let mut env = Env {
        kv: &kv,
        now: crate::base::time::millis(std::time::SystemTime::now()),
        random: &mut random,
        pause: &pause,
        correlation: web::correlation_id(&request),
    };
    let mut state = match start(&request, &mut env) {
        Ok(s) => s,
        Err(response) => return send_whole(out, *response).await,
    };
    let headers = [("content-type".to_string(), content_type.as_bytes().to_vec())];
    let Ok(fields) = spin_sdk::http::Fields::from_list(&headers) else {
        return;
    };
    let outgoing = spin_sdk::http::OutgoingResponse::new(fields);
    let _ = outgoing.set_status_code(200);
    let mut sink = outgoing.take_body();
    out.set(outgoing);
    while let Some(chunk) = next(&mut state, &mut env) {
        if sink.send(chunk).await.is_err() {
            break;
        }
    }
}

/// POSTs `out` through Spin's outbound HTTP (the component's
/// `allowed_outbound_hosts` decides where it may go) and waits, at most
/// 5 s to connect and 10 s for the answer, for its status. Errors are
/// wasi-http error codes, never the URL or body.
pub fn post(out: &crate::idm::outbox::Outgoing) -> Result<u16, String> {
    use spin_sdk::wit::wasi::http0_2_0::{outgoing_handler, types};
    let uri: http::Uri = out
        .url
        .parse()
        .map_err(|_| "HttpRequestUriInvalid".to_string())?;
    let scheme = match uri.scheme_str() {
        Some("https") => types::Scheme::Https,
        Some("http") => types::Scheme::Http,
        _ => return Err("HttpRequestUriInvalid".into()),
    };
    let denied = |what: &str| format!("{what} refused");
    let mut fields: Vec<(String, Vec<u8>)> = out
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    fields.push((
        "content-length".into(),
        out.body.len().to_string().into_bytes(),
    ));
    let headers = types::Fields::from_list(&fields).map_err(|_| denied("headers"))?;
    let request = types::OutgoingRequest::new(headers);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map(|a| a.as_str());
    request
        .set_method(&types::Method::Post)
        .and_then(|()| request.set_scheme(Some(&scheme)))
        .and_then(|()| request.set_authority(authority))
        .and_then(|()| request.set_path_with_query(Some(path)))
        .map_err(|()| "HttpRequestUriInvalid".to_string())?;
    let body = request.body().map_err(|()| denied("body"))?;
    let options = types::RequestOptions::new();
    let second = 1_000_000_000u64;
    let _ = options.set_connect_timeout(Some(5 * second));
    let _ = options.set_first_byte_timeout(Some(10 * second));
    let _ = options.set_between_bytes_timeout(Some(10 * second));
    let pending = outgoing_handler::handle(request, Some(options)).map_err(|e| error_code(&e))?;
    {
        let stream = body.write().map_err(|()| denied("body stream"))?;
        for chunk in out.body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|_| "HttpProtocolError".to_string())?;
        }
    }
    types::OutgoingBody::finish(body, None).map_err(|e| error_code(&e))?;
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response.status()),
        Some(Ok(Err(code))) => Err(error_code(&code)),
        _ => Err("InternalError".into()),
    }
}

/// A wasi-http error code's name (`HttpRequestDenied`), without its payload.
fn error_code(code: &spin_sdk::wit::wasi::http0_2_0::types::ErrorCode) -> String {
    let text = format!("{code:?}");
    let name = text.trim_start_matches("ErrorCode::");
    name.split(['(', ' ', '{'])
        .next()
        .unwrap_or(name)
        .to_string()
}
