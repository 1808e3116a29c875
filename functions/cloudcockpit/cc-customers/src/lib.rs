//! `POST /v1/Customers` → [`onboard_shared::families::cloudcockpit::customers`].

use onboard_shared::families::cloudcockpit;
use onboard_shared::{identity, spin, web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    let config = identity::Config::from_vars(spin::variable);
    spin::serve(req, |request| {
        spin::with_env(cloudcockpit::render_error, |env| {
            cloudcockpit::customers(&request, env, &config)
        })
    })
    .await
}
