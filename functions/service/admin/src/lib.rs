//! `/admin/...` → [`onboard_shared::families::admin::serve`].

use onboard_shared::families::admin;
use onboard_shared::{identity, spin, web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    let config = identity::Config::from_vars(spin::variable);
    spin::serve(req, |request| {
        spin::with_env(admin::render_error, |env| {
            admin::serve(&request, env, &config)
        })
    })
    .await
}
