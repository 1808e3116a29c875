//! `GET, PUT, PATCH, DELETE /scim/v2/Users/{id}` → [`onboard_shared::families::scim::users::user`].

use onboard_shared::families::scim::{error, users};
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, error::render_error, users::user).await
}
