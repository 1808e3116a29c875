//! `GET and PUT /v2/user/organization` → [`onboard_shared::families::clone::current_organization`].

use onboard_shared::families::clone;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, clone::render_error, clone::current_organization).await
}
