//! `GET /scim/v2/Schemas` → [`onboard_shared::families::scim::discovery::schema_list`].

use onboard_shared::families::scim::{discovery, error};
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, error::render_error, discovery::schema_list).await
}
