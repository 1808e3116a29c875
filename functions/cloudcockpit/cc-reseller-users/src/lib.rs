//! `POST /v1/reseller/{resellerId}/users` → [`onboard_shared::families::cloudcockpit::reseller_users`].

use onboard_shared::families::cloudcockpit;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(
        req,
        cloudcockpit::render_error,
        cloudcockpit::reseller_users,
    )
    .await
}
