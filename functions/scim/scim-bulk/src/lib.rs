//! `POST /scim/v2/Bulk` → [`onboard_shared::families::scim::bulk::bulk`].

use onboard_shared::families::scim::{bulk, error};
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, error::render_error, bulk::bulk).await
}
