//! `/...` (every path no other route serves) → [`onboard_shared::families::not_found`].

use onboard_shared::{edge::spin, edge::web, families};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::serve(req, |r| families::not_found(&r)).await
}
