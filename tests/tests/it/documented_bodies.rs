//! What the document says a request body may carry, the component accepts:
//! every instance of a derived body schema (every field; the required ones
//! alone; null wherever allowed) is a success through the wasm component,
//! once the fields that name stored state (a free id or email, a reseller
//! that exists) hold live values, which no schema states.

use onboard_shared::base::schema::{body, samples};
use onboard_test_host::Request;
use serde_json::{Value, json};

use crate::support::{ADMIN_KEY, app_host, operator_auth};

fn admin(req: Request) -> Request {
    req.header("authorization", format!("Bearer {ADMIN_KEY}"))
}

/// The instances of a body schema.
fn instances(schema: Value) -> Vec<(samples::Fill, Value)> {
    samples::FILLS
        .into_iter()
        .map(|fill| (fill, samples::instance(&schema, fill)))
        .collect()
}

fn is_set(v: &Value, name: &str) -> bool {
    v.get(name).is_some_and(|x| !x.is_null())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_is_made_from_every_documented_body() {
    let host = app_host();
    for (i, (fill, mut sample)) in instances(body::<onboard_shared::idm::admin::NewTenant>())
        .into_iter()
        .enumerate()
    {
        sample["id"] = json!(format!("sample-{i}"));
        sample["operator"]["email"] = json!(format!("operator{i}@example.com"));
        if is_set(&sample, "domains") {
            sample["domains"] = json!([format!("t{i}.example.com")]);
        }
        let r = host
            .send(admin(Request::post("/admin/tenants")).json(&sample))
            .await;
        assert_eq!(r.status, 201, "{fill:?} {sample}: {}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_takes_every_documented_change() {
    let host = app_host();
    for (fill, sample) in instances(body::<onboard_shared::idm::admin::TenantChange>()) {
        let r = host
            .send(admin(Request::new(http::Method::PATCH, "/admin/tenants/default")).json(&sample))
            .await;
        assert_eq!(r.status, 200, "{fill:?} {sample}: {}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reseller_is_made_from_every_documented_body() {
    let host = app_host();
    let parent = host
        .send(
            Request::post("/admin/resellers")
                .header("authorization", operator_auth())
                .json(&json!({"name": "Parent", "code": "PARENT"})),
        )
        .await;
    assert_eq!(parent.status, 201, "{}", parent.text());
    let parent = parent.json()["id"].clone();
    for (i, (fill, mut sample)) in instances(body::<onboard_shared::idm::admin::NewReseller>())
        .into_iter()
        .enumerate()
    {
        sample["code"] = json!(format!("CODE-{i}"));
        if is_set(&sample, "parent_id") {
            sample["parent_id"] = parent.clone();
        }
        let r = host
            .send(
                Request::post("/admin/resellers")
                    .header("authorization", operator_auth())
                    .json(&sample),
            )
            .await;
        assert_eq!(r.status, 201, "{fill:?} {sample}: {}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_data_is_set_from_every_documented_body_and_shown_as_documented() {
    let host = app_host();
    for (fill, sample) in instances(body::<onboard_shared::base::model::ReferenceData>()) {
        let r = host
            .send(
                Request::new(http::Method::PUT, "/admin/reference-data")
                    .header("authorization", operator_auth())
                    .json(&sample),
            )
            .await;
        assert_eq!(r.status, 200, "{fill:?} {sample}: {}", r.text());
    }
}
