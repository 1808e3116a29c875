//! Test-only component: each `?op=` pokes one host
//! interface (no `op` echoes the request) and reports what came back, so the test host's tests can compare
//! the host with what a real Spin does. Never part of the app's spin.toml.

use http::StatusCode;
use onboard_shared::edge::web;
use serde_json::{Value, json};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;
use spin_sdk::key_value::Store;
use spin_sdk::wit::wasi::keyvalue::{atomics, batch, store};

fn query(req: &web::Request, name: &str) -> String {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

fn ok(body: Value) -> web::Response {
    web::json(StatusCode::OK, &body)
}

fn handle_probe(req: web::Request) -> web::Response {
    let key = query(&req, "key");
    let label = query(&req, "store");
    let label = if label.is_empty() {
        "default".to_string()
    } else {
        label
    };
    match query(&req, "op").as_str() {
        "" => {
            let headers: serde_json::Map<String, Value> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                .collect();
            ok(
                json!({ "method": req.method().as_str(), "uri": req.uri().to_string(),
                       "headers": headers, "body": String::from_utf8_lossy(req.body()) }),
            )
        }
        "var" => match spin_sdk::variables::get(&query(&req, "name")) {
            Ok(v) => ok(json!({ "value": v })),
            Err(e) => ok(json!({ "error": format!("{e:?}") })),
        },
        "open" => match Store::open(&label) {
            Ok(_) => ok(json!({ "spin": "ok", "wasi": wasi_open(&label) })),
            Err(e) => ok(json!({ "spin": format!("{e:?}"), "wasi": wasi_open(&label) })),
        },
        "set" => {
            let store = Store::open(&label).expect("open");
            match store.set(&key, query(&req, "value").as_bytes()) {
                Ok(()) => ok(json!({ "ok": true })),
                Err(e) => ok(json!({ "error": format!("{e:?}") })),
            }
        }
        "get" => {
            let store = Store::open(&label).expect("open");
            match store.get(&key) {
                Ok(v) => {
                    ok(json!({ "value": v.map(|b| String::from_utf8_lossy(&b).into_owned()) }))
                }
                Err(e) => ok(json!({ "error": format!("{e:?}") })),
            }
        }
        "wasi-get" => {
            let bucket = store::open(&label).expect("open");
            match bucket.get(&key) {
                Ok(v) => ok(json!({ "value": v })),
                Err(e) => ok(json!({ "error": format!("{e:?}") })),
            }
        }
        "incr" => {
            let bucket = store::open(&label).expect("open");
            match atomics::increment(&bucket, &key, 1) {
                Ok(n) => ok(json!({ "value": n })),
                Err(e) => ok(json!({ "error": format!("{e:?}") })),
            }
        }
        // Insert-if-absent by CAS: current() must see nothing, then swap.
        "cas-insert" => {
            let bucket = store::open(&label).expect("open");
            let cas = atomics::Cas::new(&bucket, &key).expect("cas");
            let seen = cas.current().expect("current");
            if seen.is_some() {
                return ok(json!({ "result": "present" }));
            }
            let value = query(&req, "value").into_bytes();
            match atomics::swap(cas, &value) {
                Ok(()) => ok(json!({ "result": "swapped" })),
                Err(atomics::CasError::CasFailed(_)) => ok(json!({ "result": "cas-failed" })),
                Err(atomics::CasError::StoreError(e)) => ok(json!({ "error": format!("{e:?}") })),
            }
        }
        // Replace the current value by CAS (a real compare-and-swap on SQLite).
        "cas-update" => {
            let bucket = store::open(&label).expect("open");
            let cas = atomics::Cas::new(&bucket, &key).expect("cas");
            let _ = cas.current().expect("current");
            let value = query(&req, "value").into_bytes();
            match atomics::swap(cas, &value) {
                Ok(()) => ok(json!({ "result": "swapped" })),
                Err(atomics::CasError::CasFailed(_)) => ok(json!({ "result": "cas-failed" })),
                Err(atomics::CasError::StoreError(e)) => ok(json!({ "error": format!("{e:?}") })),
            }
        }
        "batch" => {
            let bucket = store::open(&label).expect("open");
            let keys: Vec<String> = key.split(',').map(str::to_string).collect();
            let pairs: Vec<(String, Vec<u8>)> = keys
                .iter()
                .map(|k| (k.clone(), k.as_bytes().to_vec()))
                .collect();
            batch::set_many(&bucket, &pairs).expect("set_many");
            // A provider may refuse a batch read (Redis does): report it.
            let present = |keys: &[String]| match batch::get_many(&bucket, keys) {
                Ok(v) => json!(v.iter().filter(|(_, v)| v.is_some()).count()),
                Err(e) => json!(format!("{e:?}")),
            };
            let got = present(&keys);
            batch::delete_many(&bucket, &keys[..1]).expect("delete_many");
            let after = present(&keys);
            ok(json!({ "got": got, "after": after }))
        }
        "keys" => {
            let store = Store::open(&label).expect("open");
            ok(json!({ "keys": store.get_keys().expect("keys") }))
        }
        "time" => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            ok(json!({ "unix": now.as_secs() }))
        }
        "log" => {
            println!("probe says hello on stdout");
            eprintln!("probe says hello on stderr");
            ok(json!({}))
        }
        "trap" => panic!("probe was asked to trap"),
        _ => web::empty(StatusCode::NOT_FOUND),
    }
}

fn wasi_open(label: &str) -> String {
    match store::open(label) {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    onboard_shared::edge::spin::serve(req, handle_probe).await
}
