//! `POST /admin/accounts/{id}/password_reset` →
//! [`onboard_shared::families::service::account_password_reset`].

use onboard_shared::families::service;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, service::render_error, service::account_password_reset).await
}
