//! `PUT /v2/organizations/move` → [`onboard_shared::families::clone::move_user`].

use onboard_shared::families::clone;
use onboard_shared::{identity, spin, web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    let config = identity::Config::from_vars(spin::variable);
    spin::serve(req, |request| {
        spin::with_env(clone::render_error, |env| {
            clone::move_user(&request, env, &config)
        })
    })
    .await
}
