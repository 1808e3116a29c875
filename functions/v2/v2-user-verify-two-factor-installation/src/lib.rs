//! `PUT /v2/user/verify_2fa_installation` → [`onboard_shared::families::clone::verify_2fa_installation`].

use onboard_shared::families::clone;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, clone::render_error, clone::verify_2fa_installation).await
}
