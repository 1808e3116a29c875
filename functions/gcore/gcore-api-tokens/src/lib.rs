//! `GET`, `POST /iam/v2/clients/{clientId}/tokens` → [`onboard_shared::families::gcore::tokens`].

use onboard_shared::families::gcore;
use onboard_shared::{identity, spin, web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    let config = identity::Config::from_vars(spin::variable);
    spin::serve(req, |request| {
        spin::with_env(gcore::render_error, |env| {
            gcore::tokens(&request, env, &config)
        })
    })
    .await
}
