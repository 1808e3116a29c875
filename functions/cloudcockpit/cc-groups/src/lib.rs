//! `GET and POST /v1/users/groups` → [`onboard_shared::families::cloudcockpit::groups`].

use onboard_shared::families::cloudcockpit;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, cloudcockpit::render_error, cloudcockpit::groups).await
}
