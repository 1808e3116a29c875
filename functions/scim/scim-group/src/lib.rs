//! `GET, PUT, PATCH, DELETE /scim/v2/Groups/{id}` → [`onboard_shared::families::scim::groups::group_endpoint`].

use onboard_shared::families::scim::{error, groups};
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, error::render_error, groups::group_endpoint).await
}
