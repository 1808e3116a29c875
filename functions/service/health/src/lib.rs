//! `GET /health` → [`onboard_shared::edge::health::handle`].

use onboard_shared::{edge::health, edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::serve(req, |request| health::handle(&request, spin::probe_store)).await
}
