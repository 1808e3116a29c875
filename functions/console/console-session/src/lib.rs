//! `/console/session` → [`onboard_shared::families::console::session`].

use onboard_shared::families::console;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, console::render_error, console::session).await
}
