//! `GET /console/...` → [`onboard_shared::families::console::assets`]: the
//! console's files, embedded at build time (nothing is fetched at run time).

use onboard_shared::families::console::{self, Asset};
use onboard_shared::{edge::spin, edge::web};
use spin_sdk::http::IncomingRequest;
use spin_sdk::http_component;

macro_rules! asset {
    ($path:literal, $file:literal, $type:literal) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../assets/", $file)),
        }
    };
}

const FILES: [Asset; 6] = [
    asset!("", "index.html", "text/html; charset=utf-8"),
    asset!("app.js", "app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "dom.js", "text/javascript; charset=utf-8"),
    asset!("style.css", "style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "favicon.svg", "image/svg+xml"),
];

#[http_component]
async fn handle(req: IncomingRequest) -> web::Response {
    spin::serve(req, |request| console::assets(&request, &FILES)).await
}
