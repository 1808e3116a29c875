//! `GET /openapi.json` → [`onboard_shared::families::openapi::serve`].

use onboard_shared::families::openapi;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::serve(req, |request| openapi::serve(&request)).await
}
