//! The least a component of this app can do: open the default store, read
//! one key and answer JSON, with spin-sdk and the release profile the app
//! uses. `tests/wrk.sh` serves it beside the app and prints each read's
//! requests per second as a share of this one's. Never part of the app.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;

#[http_component]
fn handle(_req: Request) -> anyhow::Result<impl IntoResponse> {
    let store = Store::open_default()?;
    let found = store.get("floor")?.is_some();
    let body = serde_json::json!({ "found": found }).to_string();
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body)
        .build())
}
