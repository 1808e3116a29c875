//! `POST /admin/sweep (operator admin)` → [`onboard_shared::families::admin::sweep`].

use onboard_shared::families::admin;
use onboard_shared::{spin, web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, admin::render_error, admin::sweep).await
}
