//! SCIM Groups through the wasm components: the connection's organization's
//! groups, the ones the CloudCockpit family lists and assigns, with members
//! kept on the users' records.

use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};

use crate::scim::{connect, customer};
use crate::support::{DEFAULT_HOST, app_host, concurrently};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn scim(method: &str, path: &str, auth: &str) -> Request {
    Request::new(method.parse().unwrap(), path).header("authorization", auth)
}

fn with_body(req: Request, body: &Value) -> Request {
    req.header("content-type", "application/scim+json")
        .body(serde_json::to_vec(body).unwrap())
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

async fn user(host: &Host, auth: &str, email: &str) -> String {
    let r = host
        .send(with_body(
            scim("POST", "/scim/v2/Users", auth),
            &json!({"schemas": [USER], "userName": email}),
        ))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

async fn group(host: &Host, auth: &str, name: &str, members: &[&str]) -> Response {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    host.send(with_body(
        scim("POST", "/scim/v2/Groups", auth),
        &json!({"schemas": [GROUP], "displayName": name, "members": members}),
    ))
    .await
}

fn member_ids(g: &Value) -> Vec<String> {
    let mut ids: Vec<String> = g["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_created_renamed_patched_and_deleted() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let ana = user(&host, &auth, "ana@acme.test").await;
    let bob = user(&host, &auth, "bob@acme.test").await;
    let cid = user(&host, &auth, "cid@acme.test").await;

    let r = group(&host, &auth, "Engineering", &[&ana]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let g = r.json();
    let id = g["id"].as_str().unwrap().to_string();
    assert!(
        r.header("location")
            .unwrap()
            .ends_with(&format!("/scim/v2/Groups/{id}"))
    );
    assert_eq!(g["displayName"], "Engineering");
    assert_eq!(member_ids(&g), vec![ana.clone()]);
    assert_eq!(g["members"][0]["type"], "User");
    let etag = r.header("etag").unwrap().to_string();

    // The user shows its group.
    let u = host
        .send(scim("GET", &format!("/scim/v2/Users/{ana}"), &auth))
        .await
        .json();
    assert_eq!(u["groups"][0]["value"], json!(id));
    assert_eq!(u["groups"][0]["display"], "Engineering");

    // Names are unique in the organization, case-insensitively.
    let r = group(&host, &auth, "engineering", &[]).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["scimType"], "uniqueness");

    // Entra ID: add members, remove one by a value filter, rename.
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Groups/{id}"), &auth),
            &patch(json!([
                {"op": "Add", "path": "members", "value": [{"value": bob}, {"value": cid}]},
                {"op": "Remove", "path": format!("members[value eq \"{ana}\"]")},
                {"op": "Replace", "path": "displayName", "value": "Platform"}
            ])),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["displayName"], "Platform");
    assert_eq!(member_ids(&r.json()), sorted(&[&bob, &cid]));
    assert_ne!(r.header("etag"), Some(etag.as_str()));

    // A stale If-Match changes nothing.
    let r = host
        .send(
            with_body(
                scim("PATCH", &format!("/scim/v2/Groups/{id}"), &auth),
                &patch(json!([{"op": "remove", "path": "members"}])),
            )
            .header("if-match", &etag),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.text());

    // Okta: replace the members whole (PUT), then list without members.
    let r = host
        .send(with_body(
            scim("PUT", &format!("/scim/v2/Groups/{id}"), &auth),
            &json!({"schemas": [GROUP], "displayName": "Platform", "members": [{"value": ana}]}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(member_ids(&r.json()), vec![ana.clone()]);
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Groups?filter=displayName%20eq%20%22PLATFORM%22&excludedAttributes=members",
            &auth,
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["totalResults"], 1);
    assert!(r.json()["Resources"][0].get("members").is_none());

    // The CloudCockpit family lists the same group for the organization.
    let (client, secret) =
        crate::cloudcockpit_auth::api_client(&host, json!({"name": "csp"})).await;
    let cc = crate::cloudcockpit_auth::bearer(&host, &client, &secret).await;
    let r = host
        .send(
            Request::get(format!("/v1/users/groups?organizationId={org}"))
                .header("authorization", &cc)
                .header("x-tenant", DEFAULT_HOST),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Platform"), "{}", r.text());

    let r = host
        .send(scim("DELETE", &format!("/scim/v2/Groups/{id}"), &auth))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = host
        .send(scim("GET", &format!("/scim/v2/Groups/{id}"), &auth))
        .await;
    assert_eq!(r.status, 404);
    let u = host
        .send(scim("GET", &format!("/scim/v2/Users/{ana}"), &auth))
        .await
        .json();
    assert!(u.get("groups").is_none(), "{u}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_users_of_the_organization_and_concurrent_adds_all_land() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let other = customer(&host, "Other", "admin@other.test").await;
    let (_, auth) = connect(&host, org).await;
    let (_, other_auth) = connect(&host, other).await;
    let outsider = user(&host, &other_auth, "out@other.test").await;
    let r = group(&host, &auth, "Team", &[&outsider]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["scimType"], "invalidValue");
    let id = group(&host, &auth, "Team", &[]).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Another organization's connection does not see it.
    let r = host
        .send(scim("GET", &format!("/scim/v2/Groups/{id}"), &other_auth))
        .await;
    assert_eq!(r.status, 404);

    let mut users = Vec::new();
    for i in 0..6 {
        users.push(user(&host, &auth, &format!("u{i}@acme.test")).await);
    }
    let rs = concurrently(&host, users.len(), |i| {
        with_body(
            scim("PATCH", &format!("/scim/v2/Groups/{id}"), &auth),
            &patch(json!([{"op": "add", "path": "members", "value": [{"value": users[i]}]}])),
        )
    })
    .await;
    for r in &rs {
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let g = host
        .send(scim("GET", &format!("/scim/v2/Groups/{id}"), &auth))
        .await
        .json();
    let mut want = users.clone();
    want.sort();
    assert_eq!(member_ids(&g), want);
}
