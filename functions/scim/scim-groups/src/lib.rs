//! `GET, POST /scim/v2/Groups` → [`onboard_shared::families::scim::groups::groups_endpoint`].

use onboard_shared::families::scim::{error, groups};
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, error::render_error, groups::groups_endpoint).await
}
