//! `GET /v2/organizations/export` → [`onboard_shared::families::clone::start_export`],
//! streamed chunk by chunk from [`onboard_shared::families::clone::export_organizations`].

use onboard_shared::families::clone;
use onboard_shared::{credential::identity, edge::spin};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let config = identity::Config::from_spin(spin::variable);
    spin::serve_stream(
        req,
        out,
        "text/csv; charset=utf-8",
        clone::render_error,
        |request, env| clone::start_export(request, env, &config),
        clone::export_organizations,
    )
    .await
}
