//! `PUT /v2/user/generate_access_token` → [`onboard_shared::families::clone::generate_access_token`].

use onboard_shared::families::clone;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, clone::render_error, clone::generate_access_token).await
}
