//! `GET /openapi.json` → [`onboard_shared::edge::openapi::serve`].

use onboard_shared::edge::openapi;
use onboard_shared::{spin, web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::serve(req, |request| openapi::serve(&request)).await
}
