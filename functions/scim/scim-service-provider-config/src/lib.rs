//! `GET /scim/v2/ServiceProviderConfig` → [`onboard_shared::families::scim::discovery::config`].

use onboard_shared::families::scim::{discovery, error};
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, error::render_error, discovery::config).await
}
