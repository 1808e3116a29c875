//! SCIM Bulk (RFC 7644 §3.7) through the wasm components: many operations
//! in one request, each the single request it stands for, with `bulkId`
//! references resolved whatever their order.

use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};

use crate::scim::{connect, customer};
use crate::support::app_host;

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn bulk(host: &Host, auth: &str, body: Value) -> Response {
    host.send(
        Request::post("/scim/v2/Bulk")
            .header("authorization", auth)
            .header("content-type", "application/scim+json")
            .body(serde_json::to_vec(&body).unwrap()),
    )
    .await
}

fn new_user(bulk_id: &str, email: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id,
           "data": {"schemas": [USER], "userName": email}})
}

/// `(bulkId or method, status)` of each result, in the order they ran.
fn outcomes(r: &Response) -> Vec<(String, String)> {
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["schemas"], json!([BULK_RESPONSE]));
    body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let who = o["bulkId"].as_str().or(o["method"].as_str()).unwrap();
            (who.to_string(), o["status"].as_str().unwrap().to_string())
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn find(host: &Host, auth: &str, email: &str) -> Value {
    host.send(
        Request::get(format!("/scim/v2/Users?filter=userName+eq+%22{email}%22"))
            .header("authorization", auth),
    )
    .await
    .json()["Resources"]
        .get(0)
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_run_after_the_creations_they_name() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let config = host
        .send(Request::get("/scim/v2/ServiceProviderConfig").header("authorization", &auth))
        .await
        .json();
    assert_eq!(
        config["bulk"],
        json!({"supported": true, "maxOperations": 25, "maxPayloadSize": 262144})
    );
    let r = bulk(
        &host,
        &auth,
        json!({"schemas": [BULK], "Operations": [new_user("t", "taken@acme.test")]}),
    )
    .await;
    assert_eq!(outcomes(&r), pairs(&[("t", "201")]));
    // The group comes first and names users created after it; the PATCH
    // names one by its bulkId in its path.
    let r = bulk(
        &host,
        &auth,
        json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "eng",
             "data": {"schemas": [GROUP], "displayName": "Engineering",
                      "members": [{"value": "bulkId:ana"}, {"value": "bulkId:bo"}]}},
            new_user("ana", "ana@acme.test"),
            new_user("bo", "bo@acme.test"),
            {"method": "PATCH", "path": "/Users/bulkId:bo",
             "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]}},
            new_user("dup", "taken@acme.test"),
            {"method": "DELETE", "path": "/Users/00000000-0000-4000-8000-000000000000"},
        ]}),
    )
    .await;
    assert_eq!(
        outcomes(&r),
        pairs(&[
            ("eng", "201"),
            ("ana", "201"),
            ("bo", "201"),
            ("PATCH", "200"),
            ("dup", "409"),
            ("DELETE", "404"),
        ])
    );
    let ops = r.json()["Operations"].as_array().unwrap().clone();
    let ana = find(&host, &auth, "ana@acme.test").await;
    let bo = find(&host, &auth, "bo@acme.test").await;
    assert_eq!(
        ops[1]["location"], ana["meta"]["location"],
        "a creation's location is the resource's"
    );
    // Its version then: joining the group since made a new one.
    assert!(ops[1]["version"].as_str().unwrap().starts_with("W/\""));
    assert_ne!(ops[1]["version"], ana["meta"]["version"]);
    assert_eq!(ops[3]["location"], bo["meta"]["location"]);
    assert_eq!(ops[4]["response"]["scimType"], "uniqueness");
    // A failed POST alone has no location.
    assert!(ops[4].get("location").is_none());
    assert!(
        ops[5]["location"]
            .as_str()
            .unwrap()
            .ends_with("/scim/v2/Users/00000000-0000-4000-8000-000000000000")
    );
    assert_eq!(bo["active"], false);
    let at = ops[0]["location"].as_str().unwrap();
    let group = host
        .send(Request::get(&at[at.find("/scim/v2").unwrap()..]).header("authorization", &auth))
        .await;
    assert_eq!(group.status, 200, "{}", group.text());
    let mut members: Vec<String> = group.json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    members.sort();
    let mut want = vec![
        ana["id"].as_str().unwrap().to_string(),
        bo["id"].as_str().unwrap().to_string(),
    ];
    want.sort();
    assert_eq!(members, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_on_errors_stops_and_unresolvable_names_are_conflicts() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    // A name of a failed creation, and two groups naming each other.
    let r = bulk(
        &host,
        &auth,
        json!({"schemas": [BULK], "Operations": [
            new_user("bad", "not-an-email"),
            {"method": "PATCH", "path": "/Users/bulkId:bad",
             "data": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "x"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "a",
             "data": {"schemas": [GROUP], "displayName": "A", "members": [{"value": "bulkId:b"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b",
             "data": {"schemas": [GROUP], "displayName": "B", "members": [{"value": "bulkId:a"}]}},
            {"method": "DELETE", "path": "/Users/bulkId:nobody"},
        ]}),
    )
    .await;
    assert_eq!(
        outcomes(&r),
        pairs(&[
            ("bad", "400"),
            ("PATCH", "409"),
            ("a", "409"),
            ("b", "409"),
            ("DELETE", "409"),
        ])
    );
    assert_eq!(
        r.json()["Operations"][1]["response"]["scimType"],
        "invalidValue"
    );
    let groups = host
        .send(Request::get("/scim/v2/Groups").header("authorization", &auth))
        .await
        .json();
    assert_eq!(groups["totalResults"], 0);

    // failOnErrors: 1 stops at the first failure; what follows never runs.
    let r = bulk(
        &host,
        &auth,
        json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
            new_user("one", "one@acme.test"),
            new_user("bad", "not-an-email"),
            new_user("two", "two@acme.test"),
        ]}),
    )
    .await;
    assert_eq!(outcomes(&r), pairs(&[("one", "201"), ("bad", "400")]));
    assert_eq!(find(&host, &auth, "two@acme.test").await, Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_or_oversized_request_runs_nothing() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let error = |r: &Response| {
        assert_eq!(
            r.header("content-type"),
            Some("application/scim+json"),
            "{}",
            r.text()
        );
        let b = r.json();
        (b["status"].clone(), b["scimType"].clone())
    };
    let too_many: Vec<Value> = (0..26)
        .map(|i| new_user(&format!("u{i}"), &format!("u{i}@acme.test")))
        .collect();
    let r = bulk(
        &host,
        &auth,
        json!({"schemas": [BULK], "Operations": too_many}),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(error(&r), (json!("413"), Value::Null));
    // One bad operation refuses the whole request, the good ones too.
    let r = bulk(
        &host,
        &auth,
        json!({"schemas": [BULK], "Operations": [
            new_user("u0", "u0@acme.test"),
            {"method": "GET", "path": "/Users"},
        ]}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error(&r), (json!("400"), json!("invalidSyntax")));
    assert_eq!(find(&host, &auth, "u0@acme.test").await, Value::Null);
    let r = host
        .send(Request::get("/scim/v2/Bulk").header("authorization", &auth))
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = bulk(&host, "Bearer scim_nope", json!({"schemas": [BULK]})).await;
    assert_eq!(r.status, 401);
}

/// Spin gives an instance 256 compare-and-swaps: a full request of user
/// creations fits, while one of groups with many members runs what fits
/// and answers the rest 503 without starting them, so sending those again
/// completes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_request_cannot_write_is_not_started_and_can_be_sent_again() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let users: Vec<Value> = (0..30)
        .map(|i| new_user(&format!("u{i}"), &format!("u{i}@acme.test")))
        .collect();
    for chunk in users.chunks(25) {
        let r = bulk(
            &host,
            &auth,
            json!({"schemas": [BULK], "Operations": chunk}),
        )
        .await;
        let all = outcomes(&r);
        assert_eq!(all.len(), chunk.len());
        assert!(all.iter().all(|(_, s)| s == "201"), "{all:?}");
    }
    let mut members = Vec::new();
    for i in 0..30 {
        let u = find(&host, &auth, &format!("u{i}@acme.test")).await;
        members.push(json!({"value": u["id"]}));
    }
    let group = |i: usize| {
        json!({"method": "POST", "path": "/Groups", "bulkId": format!("g{i}"),
               "data": {"schemas": [GROUP], "displayName": format!("G{i}"), "members": members.clone()}})
    };
    let r = bulk(
        &host,
        &auth,
        json!({"schemas": [BULK], "Operations": (0..8).map(group).collect::<Vec<_>>()}),
    )
    .await;
    let first = outcomes(&r);
    assert_eq!(first.len(), 8);
    let ran = first.iter().filter(|(_, s)| s == "201").count();
    let mut pending: Vec<usize> = first
        .iter()
        .filter(|(_, s)| s == "503")
        .map(|(b, _)| b[1..].parse().unwrap())
        .collect();
    assert_eq!(ran + pending.len(), 8, "{first:?}");
    assert!(
        ran >= 1 && !pending.is_empty(),
        "{ran} of 8 groups of 30 members ran"
    );
    eprintln!("bulk: {ran} of 8 groups of 30 members ran in one request");
    let listed = |r: Value| -> Vec<String> {
        let mut names: Vec<String> = r["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["displayName"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    let groups = host
        .send(Request::get("/scim/v2/Groups").header("authorization", &auth))
        .await
        .json();
    assert_eq!(listed(groups).len(), ran, "a 503 started nothing");
    while !pending.is_empty() {
        let r = bulk(
            &host,
            &auth,
            json!({"schemas": [BULK], "Operations": pending.iter().map(|&i| group(i)).collect::<Vec<_>>()}),
        )
        .await;
        let next: Vec<usize> = outcomes(&r)
            .iter()
            .filter(|(_, s)| s == "503")
            .map(|(b, _)| b[1..].parse().unwrap())
            .collect();
        assert!(next.len() < pending.len(), "no progress");
        pending = next;
    }
    let groups = host
        .send(Request::get("/scim/v2/Groups").header("authorization", &auth))
        .await
        .json();
    for g in groups["Resources"].as_array().unwrap() {
        assert_eq!(g["members"].as_array().unwrap().len(), 30, "{g}");
    }
    assert_eq!(
        listed(groups),
        (0..8).map(|i| format!("G{i}")).collect::<Vec<_>>()
    );
}

/// A group change moves at most 247 members in one request (what Spin's
/// compare-and-swap table leaves room for): more is 400, nothing written.
/// Deleting a group of more members takes several DELETEs: each takes out
/// what fits and answers 503 until the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_too_large_for_one_request_is_changed_in_several() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let mut ids = Vec::new();
    for chunk in 0..11 {
        let ops: Vec<Value> = (chunk * 25..chunk * 25 + 25)
            .map(|i| new_user(&format!("u{i}"), &format!("u{i}@acme.test")))
            .collect();
        let r = bulk(&host, &auth, json!({"schemas": [BULK], "Operations": ops})).await;
        assert!(outcomes(&r).iter().all(|(_, s)| s == "201"), "{}", r.text());
        for o in r.json()["Operations"].as_array().unwrap() {
            let at = o["location"].as_str().unwrap();
            ids.push(at.rsplit('/').next().unwrap().to_string());
        }
    }
    assert_eq!(ids.len(), 275);
    let members = |from: usize, to: usize| -> Vec<Value> {
        ids[from..to]
            .iter()
            .map(|id| json!({"value": id}))
            .collect()
    };
    let r = host
        .send(
            Request::post("/scim/v2/Groups")
                .header("authorization", &auth)
                .json(
                    &json!({"schemas": [GROUP], "displayName": "All", "members": members(0, 248)}),
                ),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["scimType"], "invalidValue");
    let groups = host
        .send(Request::get("/scim/v2/Groups").header("authorization", &auth))
        .await
        .json();
    assert_eq!(groups["totalResults"], 0, "nothing written");
    let r = host
        .send(
            Request::post("/scim/v2/Groups")
                .header("authorization", &auth)
                .json(
                    &json!({"schemas": [GROUP], "displayName": "All", "members": members(0, 200)}),
                ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let group = r.json()["id"].as_str().unwrap().to_string();
    let r = host
        .send(
            Request::new(http::Method::PATCH, format!("/scim/v2/Groups/{group}"))
                .header("authorization", &auth)
                .json(&json!({"schemas": [PATCH], "Operations": [
                    {"op": "add", "path": "members", "value": members(200, 275)}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["members"].as_array().unwrap().len(), 275);

    let delete = || {
        Request::new(http::Method::DELETE, format!("/scim/v2/Groups/{group}"))
            .header("authorization", &auth)
    };
    let r = host.send(delete()).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    let r = host.send(delete()).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = host.send(delete()).await;
    assert_eq!(r.status, 404, "{}", r.text());
    for i in [0, 150, 274] {
        let u = find(&host, &auth, &format!("u{i}@acme.test")).await;
        assert!(u.get("groups").is_none(), "{u}");
    }
}
