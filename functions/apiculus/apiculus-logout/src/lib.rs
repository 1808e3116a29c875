//! `POST /auth/logout` → [`onboard_shared::families::apiculus::logout`].

use onboard_shared::families::apiculus;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, apiculus::render_error, apiculus::logout).await
}
