//! The OpenAPI document cannot drift from the app: every route of spin.toml
//! and every method its component answers is documented, nothing else is,
//! and the committed `shared/openapi.json` is what the table builds.

use std::collections::{BTreeMap, BTreeSet};

use onboard_shared::families::openapi::table;
use onboard_test_host::Request;
use onboard_test_host::host::workspace_root;
use onboard_test_host::manifest::Manifest;

use crate::support::app_host;

const METHODS: [&str; 6] = ["get", "head", "post", "put", "patch", "delete"];

/// Documented methods by path (OpenAPI `{name}` form).
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for op in table::OPERATIONS {
        out.entry(op.path.to_string())
            .or_default()
            .insert(op.method.to_string());
    }
    out
}

/// The routes of spin.toml but the fallback and the console's files (a
/// page, not an API), in OpenAPI form.
fn routes() -> Vec<String> {
    let (manifest, _) = Manifest::load(&workspace_root().join("spin.toml")).unwrap();
    manifest
        .trigger
        .http
        .iter()
        .map(|t| t.route.clone())
        .filter(|r| r != "/..." && r != "/console/...")
        .map(|r| {
            r.split('/')
                .map(|s| match s.strip_prefix(':') {
                    Some(name) => format!("{{{name}}}"),
                    None => s.to_string(),
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

#[test]
fn the_committed_document_is_what_the_table_builds() {
    let path = workspace_root().join("shared").join("openapi.json");
    let built = table::text();
    if std::env::var_os("ONBOARD_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &built).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == built,
        "shared/openapi.json is stale: run `ONBOARD_UPDATE_OPENAPI=1 cargo test -p onboard-shared --features openapi openapi`"
    );
    let doc: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn every_route_is_documented_and_every_documented_path_is_a_route() {
    let routes: BTreeSet<String> = routes().into_iter().collect();
    let documented: BTreeSet<String> = documented().keys().cloned().collect();
    let missing: Vec<_> = routes.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "documented paths no route serves: {extra:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_a_component_answers_is_documented_and_no_other() {
    let host = app_host();
    let documented = documented();
    for path in routes() {
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let mut answered = BTreeSet::new();
        for method in METHODS {
            let r = host
                .send(Request::new(
                    method.to_uppercase().parse().unwrap(),
                    &concrete,
                ))
                .await;
            assert!(
                r.status < 500,
                "{method} {concrete}: {} {}",
                r.status,
                r.text()
            );
            if r.status != 405 {
                answered.insert(method.to_string());
            }
        }
        assert_eq!(
            Some(&answered),
            documented.get(&path),
            "{path}: the methods answered and the methods documented differ"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served() {
    let host = app_host();
    let r = host.send(Request::get("/openapi.json")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    // Compact: the component drops the committed file's indentation.
    assert!(!r.text().contains('\n'));
    let served: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(served, table::document());
    assert_eq!(host.send(Request::post("/openapi.json")).await.status, 405);
}

/// What schemathesis found first, kept as a regression: every operation,
/// sent without a credential and with an empty JSON object, answers a
/// documented status with the documented content type (or no body where
/// none is documented).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bare_request_gets_a_documented_status_and_content_type() {
    let host = app_host();
    for op in table::OPERATIONS {
        let path: String = op
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let mut req = Request::new(op.method.to_uppercase().parse().unwrap(), &path);
        if !["get", "head", "delete"].contains(&op.method) {
            req = req.json(&serde_json::json!({}));
        }
        let r = host.send(req).await;
        let what = format!("{} {path}: {} {}", op.method, r.status, r.text());
        assert!(
            table::statuses(op).contains(&r.status),
            "undocumented status: {what}"
        );
        match table::media_type(op, r.status) {
            Some(media) => assert_eq!(r.header("content-type"), Some(media.as_str()), "{what}"),
            None => assert!(r.body.is_empty(), "undocumented body: {what}"),
        }
    }
}

#[test]
fn the_answer_check_refuses_bodies_the_document_does_not_describe() {
    let conformance = onboard_test_host::conformance::Conformance::new(&table::document()).unwrap();
    let user = "/v2/users/7c60d51f-b44e-4682-87d6-449835ea4de6";
    // A user without its attributes, a Clone error without its status,
    // a non-JSON body: each is named.
    for (path, status, body) in [
        (
            user,
            200,
            r#"{"data": {"id": "7c60d51f-b44e-4682-87d6-449835ea4de6"}}"#,
        ),
        (user, 404, r#"{"message": "no such user"}"#),
        ("/iam/users", 200, "not json"),
        ("/health", 503, r#"{"status": 503}"#),
    ] {
        assert!(
            conformance
                .violation(
                    "GET",
                    path,
                    status,
                    Some("application/json"),
                    body.as_bytes()
                )
                .is_some(),
            "{path} {status} {body}"
        );
    }
    // The right shapes pass, and a status the document does not name
    // (a test's injected crash) is not judged.
    let not_found = br#"{"status": 404, "status_text": "Not Found", "message": "no such user"}"#;
    assert_eq!(
        conformance.violation("GET", user, 404, Some("application/json"), not_found),
        None
    );
    // Another content type, a status the operation never answers, a body
    // where the document says none: each is named.
    assert!(
        conformance
            .violation("GET", user, 404, Some("text/plain"), not_found)
            .is_some()
    );
    assert!(
        conformance
            .violation("GET", user, 418, Some("application/json"), not_found)
            .is_some()
    );
    assert!(
        conformance
            .violation("DELETE", "/iam/clients/1/client-users/2", 204, None, b"{}")
            .is_some()
    );
    // An empty 500 is a trap (a test's injected crash): not judged.
    assert_eq!(conformance.violation("GET", user, 500, None, b""), None);
}
