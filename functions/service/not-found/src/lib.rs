//! `/...` (every path no other route serves) → [`onboard_shared::edge::web::no_such_endpoint`].

use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::serve(req, |_| web::no_such_endpoint()).await
}
