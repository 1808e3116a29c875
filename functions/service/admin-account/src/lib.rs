//! `GET`, `PATCH /admin/accounts/{id}` → [`onboard_shared::families::service::account`].

use onboard_shared::families::service;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, service::render_error, service::account).await
}
