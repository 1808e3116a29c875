//! `GET, PUT /auth/invitation (Clone Systems v2)` → [`onboard_shared::families::clone::invitation`].

use onboard_shared::families::clone;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, clone::render_error, clone::invitation).await
}
