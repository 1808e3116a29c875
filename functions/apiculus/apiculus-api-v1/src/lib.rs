//! `PUT /api/v1/serv_{action}UserAccount/{id}` → [`onboard_shared::families::apiculus::api_v1`].

use onboard_shared::families::apiculus;
use onboard_shared::{identity, spin, web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    let config = identity::Config::from_vars(spin::variable);
    spin::serve(req, |request| {
        spin::with_env(apiculus::render_error, |env| {
            apiculus::api_v1(&request, env, &config)
        })
    })
    .await
}
