//! `GET /openapi.json` → [`onboard_shared::families::openapi::serve`], with
//! the committed document as `build.rs` compacts it.

use onboard_shared::families::openapi;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

const DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::serve(req, |request| openapi::serve(&request, DOCUMENT)).await
}
