//! `GET /scim/v2/ResourceTypes/{id}` → [`onboard_shared::families::scim::discovery::resource_type`].

use onboard_shared::families::scim::{discovery, error};
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, error::render_error, discovery::resource_type).await
}
