//! `POST /iam/clients/invite_user` → [`onboard_shared::families::gcore::invite_user`].

use onboard_shared::families::gcore;
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::handle(req, gcore::render_error, gcore::invite_user).await
}
