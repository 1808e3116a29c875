//! `POST /auth/logout` → [`onboard_shared::families::apiculus::logout`].

use onboard_shared::families::apiculus;
use onboard_shared::{identity, spin, web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    let config = identity::Config::from_vars(spin::variable);
    spin::serve(req, |request| {
        spin::with_env(apiculus::render_error, |env| {
            apiculus::logout(&request, env, &config)
        })
    })
    .await
}
