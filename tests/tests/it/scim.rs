//! SCIM 2.0 (RFC 7643 / 7644) through the wasm components: a connection
//! made under `/admin/scim-connections` provisions one customer
//! organization; its users are the core's users, the ones every family
//! reads and changes.

use onboard_test_host::{Host, Op, Request, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{app_host, concurrently, operator_auth};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A customer organization (seed 000) with its administrator; returns the
/// organization's id.
pub async fn customer(host: &Host, name: &str, email: &str) -> Uuid {
    let r = host
        .send(
            Request::post("/v2/users/create_customer")
                .header("authorization", operator_auth())
                .json(&json!({"customer": {"organization": {"name": name},
                    "user": {"email": email, "first_name": "Admin"}}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let user = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let r = host
        .send(Request::get(format!("/v2/users/{user}")).header("authorization", operator_auth()))
        .await;
    r.json()["data"]["attributes"]["organization"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A connection for `org`; returns its id and `Authorization` value.
pub async fn connect(host: &Host, org: Uuid) -> (String, String) {
    let r = host
        .send(
            Request::post("/admin/scim-connections")
                .header("authorization", operator_auth())
                .json(&json!({"organization_id": org, "name": "Okta"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    assert_eq!(body["base_url"], "/scim/v2");
    (
        body["id"].as_str().unwrap().to_string(),
        format!("Bearer {}", body["token"].as_str().unwrap()),
    )
}

fn scim(method: &str, path: &str, auth: &str) -> Request {
    Request::new(method.parse().unwrap(), path)
        .header("authorization", auth)
        .header("accept", "application/scim+json")
}

fn with_body(req: Request, body: &Value) -> Request {
    req.header("content-type", "application/scim+json")
        .body(serde_json::to_vec(body).unwrap())
}

fn user_body(email: &str) -> Value {
    json!({"schemas": [USER, ENTERPRISE], "userName": email, "externalId": format!("ext-{email}"),
           "name": {"givenName": "Ana", "familyName": "Lima"}, "displayName": "Ana Lima",
           "emails": [{"value": email, "type": "work", "primary": true}],
           "phoneNumbers": [{"value": "+351 900", "type": "mobile", "primary": true}],
           "active": true, ENTERPRISE: {"department": "Ops", "employeeNumber": "42"}})
}

async fn create(host: &Host, auth: &str, email: &str) -> Value {
    let r = host
        .send(with_body(
            scim("POST", "/scim/v2/Users", auth),
            &user_body(email),
        ))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

fn scim_type(r: &Response) -> Value {
    assert_eq!(
        r.header("content-type"),
        Some("application/scim+json"),
        "{}",
        r.text()
    );
    let body = r.json();
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], json!(r.status.to_string()), "{body}");
    body["scimType"].clone()
}

async fn clone_user(host: &Host, id: &str) -> Response {
    host.send(Request::get(format!("/v2/users/{id}")).header("authorization", operator_auth()))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_token_is_shown_once_listed_without_it_and_revocable() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (id, auth) = connect(&host, org).await;
    let r = host
        .send(
            Request::get(format!("/admin/scim-connections?organization_id={org}"))
                .header("authorization", operator_auth()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"][0]["id"], json!(id));
    assert!(
        !r.text().contains("scim_"),
        "no token in a list: {}",
        r.text()
    );
    let r = host
        .send(scim("GET", "/scim/v2/ServiceProviderConfig", &auth))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["patch"]["supported"], true);
    assert_eq!(r.json()["filter"]["maxResults"], 200);

    let r = host
        .send(
            Request::delete(format!("/admin/scim-connections/{id}"))
                .header("authorization", operator_auth()),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = host.send(scim("GET", "/scim/v2/Users", &auth)).await;
    assert_eq!(r.status, 401);
    assert_eq!(scim_type(&r), Value::Null);
    assert!(r.header("www-authenticate").is_some());
    // A connection is for a customer organization the caller reaches.
    let r = host
        .send(
            Request::post("/admin/scim-connections")
                .header("authorization", operator_auth())
                .json(&json!({"organization_id": Uuid::new_v4(), "name": "x"})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_is_created_read_replaced_patched_and_deleted() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let r = host
        .send(with_body(
            scim("POST", "/scim/v2/Users", &auth),
            &user_body("ana@acme.test"),
        ))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(
        r.header("location")
            .unwrap()
            .ends_with(&format!("/scim/v2/Users/{id}"))
    );
    let etag = r.header("etag").unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(created["meta"]["version"], json!(etag));
    assert_eq!(created["userName"], "ana@acme.test");
    assert_eq!(created["name"]["givenName"], "Ana");
    assert_eq!(created[ENTERPRISE]["department"], "Ops");
    assert_eq!(
        created["phoneNumbers"],
        json!([{"value": "+351 900", "type": "mobile", "primary": true}])
    );
    assert_eq!(created["active"], true);

    // The same record through the Clone family.
    let c = clone_user(&host, &id).await;
    assert_eq!(c.status, 200, "{}", c.text());
    let a = &c.json()["data"]["attributes"];
    assert_eq!(
        (a["email"].clone(), a["first_name"].clone()),
        (json!("ana@acme.test"), json!("Ana"))
    );
    assert_eq!(a["organization"]["id"], json!(org));

    let r = host
        .send(scim("GET", &format!("/scim/v2/Users/{id}"), &auth))
        .await;
    assert_eq!((r.status, r.header("etag")), (200, Some(etag.as_str())));
    let r = host
        .send(scim("GET", &format!("/scim/v2/Users/{id}"), &auth).header("if-none-match", &etag))
        .await;
    assert_eq!((r.status, r.body.len()), (304, 0));

    // PUT replaces what it names (a complex attribute whole, null and []
    // clear) and keeps what it leaves out: the record is every family's.
    let mut body = user_body("ana@acme.test");
    body["name"] = json!({"givenName": "Anabela"});
    body["title"] = Value::Null;
    body.as_object_mut().unwrap().remove("phoneNumbers");
    let r = host
        .send(with_body(
            scim("PUT", &format!("/scim/v2/Users/{id}"), &auth),
            &body,
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"], json!({"givenName": "Anabela"}));
    assert_eq!(r.json()["phoneNumbers"][0]["type"], "mobile");
    assert_ne!(r.header("etag"), Some(etag.as_str()));
    body["phoneNumbers"] = json!([]);
    let r = host
        .send(with_body(
            scim("PUT", &format!("/scim/v2/Users/{id}"), &auth),
            &body,
        ))
        .await;
    assert!(r.json().get("phoneNumbers").is_none(), "{}", r.text());
    let etag = r.header("etag").unwrap().to_string();

    // Entra ID: a capitalised op and a string boolean.
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{id}"), &auth),
            &patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["active"], false);
    let c = clone_user(&host, &id).await;
    assert_eq!(c.json()["data"]["attributes"]["status"], "disabled");

    // A stale If-Match is 412 and changes nothing.
    let r = host
        .send(
            with_body(
                scim("PATCH", &format!("/scim/v2/Users/{id}"), &auth),
                &patch(json!([{"op": "replace", "path": "title", "value": "CTO"}])),
            )
            .header("if-match", &etag),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.text());
    scim_type(&r);
    let now = host
        .send(scim("GET", &format!("/scim/v2/Users/{id}"), &auth))
        .await;
    assert!(now.json().get("title").is_none());
    let current = now.header("etag").unwrap().to_string();
    let r = host
        .send(scim("DELETE", &format!("/scim/v2/Users/{id}"), &auth).header("if-match", &etag))
        .await;
    assert_eq!(r.status, 412);
    let r = host
        .send(
            with_body(
                scim("PATCH", &format!("/scim/v2/Users/{id}"), &auth),
                &patch(json!([{"op": "add", "path": "title", "value": "CTO"}])),
            )
            .header("if-match", &current),
        )
        .await;
    assert_eq!((r.status, r.json()["title"].clone()), (200, json!("CTO")));

    let r = host
        .send(scim("DELETE", &format!("/scim/v2/Users/{id}"), &auth))
        .await;
    assert_eq!((r.status, r.body.len()), (204, 0));
    let r = host
        .send(scim("GET", &format!("/scim/v2/Users/{id}"), &auth))
        .await;
    assert_eq!(r.status, 404);
    scim_type(&r);
    assert_eq!(clone_user(&host, &id).await.status, 404);
    // Soft: the email stays claimed.
    let r = host
        .send(with_body(
            scim("POST", "/scim/v2/Users", &auth),
            &user_body("ana@acme.test"),
        ))
        .await;
    assert_eq!((r.status, scim_type(&r)), (409, json!("uniqueness")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookups_providers_send_before_a_create_read_an_index() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    for i in 0..12 {
        create(&host, &auth, &format!("user{i}@acme.test")).await;
    }
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=userName+eq+%22USER7@Acme.test%22",
            &auth,
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["totalResults"], 1);
    assert_eq!(r.json()["Resources"][0]["userName"], "user7@acme.test");
    let by_name = r.kv.total();
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=externalId%20eq%20%22ext-user3@acme.test%22",
            &auth,
        ))
        .await;
    assert_eq!(r.json()["totalResults"], 1, "{}", r.text());
    let by_external = r.kv.total();
    // externalId is case-exact.
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=externalId%20eq%20%22EXT-user3@acme.test%22",
            &auth,
        ))
        .await;
    assert_eq!(r.json()["totalResults"], 0, "{}", r.text());
    for i in 12..40 {
        create(&host, &auth, &format!("user{i}@acme.test")).await;
    }
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=userName+eq+%22user30@acme.test%22",
            &auth,
        ))
        .await;
    assert_eq!(r.json()["totalResults"], 1);
    assert_eq!(
        r.kv.total(),
        by_name,
        "the same calls at 13 and 41 users: {:?}",
        r.kv
    );
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=externalId+eq+%22ext-user30@acme.test%22",
            &auth,
        ))
        .await;
    assert_eq!(r.kv.total(), by_external, "{:?}", r.kv);
    assert!(r.kv.get(Op::GetMany) + r.kv.get(Op::Get) < 12, "{:?}", r.kv);

    // A plain page reads its slots; a general filter scans; both page.
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?startIndex=3&count=5&attributes=userName",
            &auth,
        ))
        .await;
    let page = r.json();
    assert_eq!(page["itemsPerPage"], 5, "{page}");
    assert_eq!(page["startIndex"], 3);
    assert_eq!(
        page["Resources"][0],
        json!({"schemas": [USER, ENTERPRISE], "id": page["Resources"][0]["id"], "userName": "user1@acme.test"})
    );
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=userName%20sw%20%22user1%22%20and%20active%20eq%20true&sortBy=userName&sortOrder=descending&count=3",
            &auth,
        ))
        .await;
    let page = r.json();
    assert_eq!(page["totalResults"], 11, "{page}");
    let names: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["user1@acme.test", "user19@acme.test", "user18@acme.test"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_never_reaches_outside_its_organization() {
    let host = app_host();
    let acme = customer(&host, "Acme", "admin@acme.test").await;
    let other = customer(&host, "Other", "admin@other.test").await;
    let (_, acme_auth) = connect(&host, acme).await;
    let (_, other_auth) = connect(&host, other).await;
    let theirs = create(&host, &other_auth, "bob@other.test").await;
    let id = theirs["id"].as_str().unwrap();
    for (method, body) in [
        ("GET", None),
        ("PUT", Some(user_body("bob@other.test"))),
        (
            "PATCH",
            Some(patch(
                json!([{"op": "replace", "path": "title", "value": "x"}]),
            )),
        ),
        ("DELETE", None),
    ] {
        let mut req = scim(method, &format!("/scim/v2/Users/{id}"), &acme_auth);
        if let Some(b) = body {
            req = with_body(req, &b);
        }
        let r = host.send(req).await;
        assert_eq!(r.status, 404, "{method}: {}", r.text());
    }
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=userName+eq+%22bob@other.test%22",
            &acme_auth,
        ))
        .await;
    assert_eq!(r.json()["totalResults"], 0);
    let r = host.send(scim("GET", "/scim/v2/Users", &acme_auth)).await;
    assert!(!r.text().contains("bob@other.test"), "{}", r.text());
    // The email is the tenant's: another organization's user holds it.
    let r = host
        .send(with_body(
            scim("POST", "/scim/v2/Users", &acme_auth),
            &user_body("bob@other.test"),
        ))
        .await;
    assert_eq!((r.status, scim_type(&r)), (409, json!("uniqueness")));
    // The organization's own administrator is not the connection's to take.
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=userName+eq+%22admin@acme.test%22",
            &acme_auth,
        ))
        .await;
    let admin = r.json()["Resources"][0]["id"].as_str().unwrap().to_string();
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{admin}"), &acme_auth),
            &patch(json!([{"op": "replace", "path": "userName", "value": "taken-over@evil.test"}])),
        ))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // Nor to disable or delete.
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{admin}"), &acme_auth),
            &patch(json!([{"op": "replace", "path": "active", "value": false}])),
        ))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = host
        .send(scim(
            "DELETE",
            &format!("/scim/v2/Users/{admin}"),
            &acme_auth,
        ))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // A user an operator disabled stays disabled whatever the provider says.
    let ana = create(&host, &acme_auth, "ana@acme.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = host
        .send(
            Request::new(http::Method::PATCH, format!("/admin/accounts/{ana}"))
                .header("authorization", operator_auth())
                .json(&json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{ana}"), &acme_auth),
            &patch(json!([{"op": "replace", "path": "active", "value": true}])),
        ))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // A token is good only on its tenant's host.
    crate::support::seed_tenant(&host, "other", &["portal.other.test"], "op@other.test");
    let r = host
        .send(scim("GET", "/scim/v2/Users", &acme_auth).header("host", "portal.other.test"))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_scim_error_and_changes_nothing() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let user = create(&host, &auth, "ana@acme.test").await;
    let id = user["id"].as_str().unwrap();
    let at = format!("/scim/v2/Users/{id}");
    let cases: Vec<(Request, u16, Value)> = vec![
        (
            scim("GET", "/scim/v2/Users?filter=userName%20eq", &auth),
            400,
            json!("invalidFilter"),
        ),
        (
            scim("GET", "/scim/v2/Users?filter=((a%20pr)", &auth),
            400,
            json!("invalidFilter"),
        ),
        (
            scim(
                "GET",
                "/scim/v2/Users?sortBy=emails[type%20eq%20%22work%22]",
                &auth,
            ),
            400,
            json!("invalidPath"),
        ),
        (
            scim("GET", "/scim/v2/Users?count=ten", &auth),
            400,
            json!("invalidValue"),
        ),
        (
            with_body(
                scim("POST", "/scim/v2/Users", &auth),
                &json!({"schemas": [USER], "userName": "x@acme.test", "nickName": "x"}),
            ),
            400,
            json!("invalidValue"),
        ),
        (
            with_body(
                scim("POST", "/scim/v2/Users", &auth),
                &json!({"schemas": ["urn:example:Other"], "userName": "x@acme.test"}),
            ),
            400,
            json!("invalidValue"),
        ),
        (
            with_body(
                scim("POST", "/scim/v2/Users", &auth),
                &json!({"schemas": [USER], "userName": 7}),
            ),
            400,
            json!("invalidValue"),
        ),
        (
            with_body(
                scim("POST", "/scim/v2/Users", &auth),
                &json!({"schemas": [USER]}),
            ),
            400,
            json!("invalidValue"),
        ),
        (
            scim("POST", "/scim/v2/Users", &auth)
                .header("content-type", "application/scim+json")
                .body("{\"schemas\":"),
            400,
            json!("invalidSyntax"),
        ),
        (
            with_body(
                scim("PUT", &at, &auth),
                &json!({"schemas": [USER], "userName": "ana@acme.test", "name": {"givenName": 5}}),
            ),
            400,
            json!("invalidValue"),
        ),
        (
            with_body(
                scim("PUT", &at, &auth),
                &json!({"schemas": [USER], "userName": "ana@acme.test", "password": "Secret-123"}),
            ),
            400,
            json!("mutability"),
        ),
        (
            with_body(
                scim("PATCH", &at, &auth),
                &patch(json!([{"op": "add", "path": "nickName", "value": "x"}])),
            ),
            400,
            json!("invalidPath"),
        ),
        (
            with_body(
                scim("PATCH", &at, &auth),
                &patch(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
            ),
            400,
            json!("invalidPath"),
        ),
        (
            with_body(scim("PATCH", &at, &auth), &patch(json!([{"op": "remove"}]))),
            400,
            json!("noTarget"),
        ),
        (
            with_body(
                scim("PATCH", &at, &auth),
                &patch(json!([{"op": "replace", "path": "id", "value": "x"}])),
            ),
            400,
            json!("mutability"),
        ),
        (
            with_body(scim("PATCH", &at, &auth), &json!({"Operations": []})),
            400,
            json!("invalidSyntax"),
        ),
        (
            with_body(
                scim("PATCH", &at, &auth),
                &patch(json!([{"op": "replace", "path": "userName", "value": "not-an-email"}])),
            ),
            400,
            json!("invalidValue"),
        ),
        (
            scim("POST", "/scim/v2/Users", &auth)
                .header("content-type", "application/scim+json")
                .body(vec![b' '; 300 * 1024]),
            413,
            Value::Null,
        ),
        (
            scim("GET", "/scim/v2/Users/not-a-uuid", &auth),
            404,
            Value::Null,
        ),
        (
            scim("GET", "/scim/v2/Schemas/urn:example:none", &auth),
            404,
            Value::Null,
        ),
    ];
    for (req, status, kind) in cases {
        let what = format!("{} {}", req.method, req.path_and_query);
        let r = host.send(req).await;
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert_eq!(scim_type(&r), kind, "{what}: {}", r.text());
    }
    // A bad `attributes` is refused before anything is written.
    let r = host
        .send(with_body(
            scim("POST", "/scim/v2/Users?attributes=emails[", &auth),
            &user_body("new@acme.test"),
        ))
        .await;
    assert_eq!((r.status, scim_type(&r)), (400, json!("invalidPath")));
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=userName+eq+%22new@acme.test%22",
            &auth,
        ))
        .await;
    assert_eq!(r.json()["totalResults"], 0);
    // A method the path does not answer.
    let r = host.send(scim("DELETE", "/scim/v2/Users", &auth)).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
    // Nothing above changed the user.
    let r = host.send(scim("GET", &at, &auth)).await;
    assert_eq!(r.json(), {
        let mut u = user.clone();
        u["meta"]["location"] = r.json()["meta"]["location"].clone();
        u
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_of_different_attributes_all_persist() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let id = create(&host, &auth, "ana@acme.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fields = [
        "title",
        "displayName",
        "locale",
        "timezone",
        "externalId",
        "name.familyName",
    ];
    let values = [
        "CTO",
        "Ana L.",
        "pt-PT",
        "Europe/Lisbon",
        "okta-1",
        "Lima-Silva",
    ];
    let rs = concurrently(&host, fields.len(), |i| {
        with_body(
            scim("PATCH", &format!("/scim/v2/Users/{id}"), &auth),
            &patch(json!([{"op": "replace", "path": fields[i], "value": values[i]}])),
        )
    })
    .await;
    for r in &rs {
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let u = host
        .send(scim("GET", &format!("/scim/v2/Users/{id}"), &auth))
        .await
        .json();
    assert_eq!(
        [
            &u["title"],
            &u["displayName"],
            &u["locale"],
            &u["timezone"],
            &u["externalId"],
            &u["name"]["familyName"]
        ],
        values.map(|v| json!(v)).each_ref(),
        "{u}"
    );
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=externalId+eq+%22okta-1%22",
            &auth,
        ))
        .await;
    assert_eq!(r.json()["totalResults"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_is_one_audit_event_naming_the_connection() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (connection, auth) = connect(&host, org).await;
    let id = create(&host, &auth, "ana@acme.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{id}"), &auth),
            &patch(json!([{"op": "replace", "value": {"active": false, "title": "CTO"}}])),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A read and a no-op change are not events.
    host.send(scim("GET", &format!("/scim/v2/Users/{id}"), &auth))
        .await;
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{id}"), &auth),
            &patch(json!([{"op": "replace", "path": "title", "value": "CTO"}])),
        ))
        .await;
    assert_eq!(r.status, 200);
    host.send(scim("DELETE", &format!("/scim/v2/Users/{id}"), &auth))
        .await;
    let r = host
        .send(
            Request::get(format!(
                "/v2/audit/events?q[actor]=scim_connection:{connection}&per_page=100"
            ))
            .header("authorization", operator_auth()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let actions: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["attributes"]["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        ["user.delete", "user.update", "user.create"],
        "{}",
        r.text()
    );
}

/// What Okta sends (its SCIM 2.0 integration guide): a lookup by userName,
/// the create, a profile PUT, then deactivation by PATCH `active`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_provisions_updates_and_deactivates() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let r = host
        .send(scim("GET", "/scim/v2/Users?filter=userName%20eq%20%22dade.murphy@acme.test%22&startIndex=1&count=100", &auth))
        .await;
    assert_eq!(
        (
            r.status,
            r.json()["totalResults"].clone(),
            r.json()["Resources"].clone()
        ),
        (200, json!(0), json!([]))
    );
    let body = json!({"schemas": [USER], "userName": "dade.murphy@acme.test",
        "name": {"givenName": "Dade", "familyName": "Murphy"},
        "emails": [{"primary": true, "value": "dade.murphy@acme.test", "type": "work"}],
        "displayName": "Dade Murphy", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [], "password": "1mz050nq-Long-Enough", "active": true});
    let r = host
        .send(with_body(scim("POST", "/scim/v2/Users", &auth), &body))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert!(r.json().get("password").is_none());
    let mut put = r.json();
    put["name"]["familyName"] = json!("Murphy-Burns");
    let r = host
        .send(with_body(
            scim("PUT", &format!("/scim/v2/Users/{id}"), &auth),
            &put,
        ))
        .await;
    assert_eq!(
        (r.status, r.json()["name"]["familyName"].clone()),
        (200, json!("Murphy-Burns")),
        "{}",
        r.text()
    );
    let login = || {
        Request::post("/iam/auth/jwt/login")
            .json(&json!({"username": "dade.murphy@acme.test", "password": "1mz050nq-Long-Enough"}))
    };
    let r = host.send(login()).await;
    assert_eq!(
        r.status,
        200,
        "the password Okta set signs in: {}",
        r.text()
    );
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{id}"), &auth),
            &patch(json!([{"op": "replace", "value": {"active": false}}])),
        ))
        .await;
    assert_eq!((r.status, r.json()["active"].clone()), (200, json!(false)));
    // Disabled in every family: the password no longer signs in.
    let r = host.send(login()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{id}"), &auth),
            &patch(json!([{"op": "replace", "value": {"active": true}}])),
        ))
        .await;
    assert_eq!(r.json()["active"], true);
}

/// What Microsoft Entra ID sends (its SCIM provisioning guide): a lookup by
/// userName, the create, then PATCHes with capitalised ops, several
/// attributes at once and value-filtered paths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_id_provisions_and_patches() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=userName+eq+%22Test_User_dfeef4c5%40acme.test%22",
            &auth,
        ))
        .await;
    assert_eq!(r.json()["totalResults"], 0);
    let body = json!({"schemas": [USER, ENTERPRISE], "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_dfeef4c5@acme.test", "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_dfeef4c5@acme.test"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "displayName": "Test User", "title": "Engineer",
        ENTERPRISE: {"department": "R&D", "employeeNumber": "1001"}});
    let r = host
        .send(with_body(scim("POST", "/scim/v2/Users", &auth), &body))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{id}"), &auth),
            &patch(json!([
                {"op": "Replace", "path": "displayName", "value": "Test User 2"},
                {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0100"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
                {"op": "Replace", "path": "name.givenName", "value": "Given2"},
                {"op": "Remove", "path": "title"}
            ])),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let u = r.json();
    assert_eq!(u["displayName"], "Test User 2");
    assert_eq!(
        u["phoneNumbers"],
        json!([{"value": "+1 555 0100", "type": "work", "primary": false}])
    );
    assert_eq!(u[ENTERPRISE]["department"], "Sales");
    assert_eq!(u["name"]["givenName"], "Given2");
    assert!(u.get("title").is_none());
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{id}"), &auth),
            &patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        ))
        .await;
    assert_eq!(r.json()["active"], false);
    // The profile every family shows changed too.
    let c = clone_user(&host, &id).await.json();
    assert_eq!(c["data"]["attributes"]["first_name"], "Given2");
    assert_eq!(c["data"]["attributes"]["phone"], "+1 555 0100");
}

/// A user pushed over SCIM is the record the families read and change,
/// and a user a family made in the organization is one SCIM lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_and_the_families_share_one_record() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, auth) = connect(&host, org).await;
    let id = create(&host, &auth, "ana@acme.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = host
        .send(
            Request::put(format!("/v2/users/{id}"))
                .header("authorization", operator_auth())
                .json(&json!({"user": {"first_name": "Changed", "phone": "+1 222"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let u = host
        .send(scim("GET", &format!("/scim/v2/Users/{id}"), &auth))
        .await
        .json();
    assert_eq!(u["name"]["givenName"], "Changed");
    assert_eq!(
        u["phoneNumbers"],
        json!([{"value": "+1 222", "type": "work", "primary": false}, {"value": "+351 900", "type": "mobile", "primary": true}])
    );
    // The directory attributes survive a family's update.
    assert_eq!(u["externalId"], "ext-ana@acme.test");

    // The reverse: a user the CloudCockpit family adds (seed 001).
    let (client, secret) =
        crate::cloudcockpit_auth::api_client(&host, json!({"name": "csp"})).await;
    let cc = crate::cloudcockpit_auth::bearer(&host, &client, &secret).await;
    let r = host
        .send(
            Request::post(format!("/v1/customer/{org}/users"))
                .header("authorization", &cc)
                .header("x-tenant", crate::support::DEFAULT_HOST)
                .json(&json!({"firstName": "Oscar", "lastName": "One", "email": "oscar@acme.test", "role": {}, "groups": []})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = host
        .send(scim(
            "GET",
            "/scim/v2/Users?filter=userName+eq+%22oscar@acme.test%22",
            &auth,
        ))
        .await;
    let oscar = &r.json()["Resources"][0];
    assert_eq!(
        oscar["name"],
        json!({"givenName": "Oscar", "familyName": "One"})
    );
    let oscar_id = oscar["id"].as_str().unwrap().to_string();
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{oscar_id}"), &auth),
            &patch(json!([{"op": "replace", "path": "name.familyName", "value": "Two"}])),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let c = clone_user(&host, &oscar_id).await.json();
    assert_eq!(c["data"]["attributes"]["last_name"], "Two");
}

/// Another administrator of `org`, signed in: its id and session.
async fn signed_in_admin(host: &Host, org: Uuid, email: &str) -> (String, String) {
    let password = "Admin-password-123";
    let r = host
        .send(
            Request::post("/admin/accounts")
                .header("authorization", operator_auth())
                .json(&json!({"email": email, "password": password,
                              "role": "customer_admin", "organization_id": org})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let key = crate::identity::app_key(host).await;
    (
        id,
        crate::support::sign_in(host, &key, email, password).await,
    )
}

/// A connection a customer's admin made lives only while that admin is
/// still one: disabling the admin ends the connection's token too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_ends_with_its_makers_reach() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (boss, session) = signed_in_admin(&host, org, "boss@acme.test").await;
    let r = host
        .send(
            Request::post("/admin/scim-connections")
                .header("authorization", &session)
                .json(&json!({"organization_id": org, "name": "Entra"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let auth = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    assert_eq!(
        host.send(scim("GET", "/scim/v2/Users", &auth)).await.status,
        200
    );
    let r = host
        .send(
            Request::new(http::Method::PATCH, format!("/admin/accounts/{boss}"))
                .header("authorization", operator_auth())
                .json(&json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        host.send(scim("GET", "/scim/v2/Users", &auth)).await.status,
        401
    );
}

/// `roles`: every user shows its role; only a connection made to assign
/// roles changes it (for any other it is read-only: ignored in a POST or
/// PUT, 400 in a PATCH), never its maker's, and an administrator it makes
/// is a peer like any other (not disabled until demoted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_change_only_through_a_connection_that_assigns_them() {
    let host = app_host();
    let org = customer(&host, "Acme", "admin@acme.test").await;
    let (_, plain) = connect(&host, org).await;
    let admin_body = |email: &str| {
        let mut b = user_body(email);
        b["roles"] = json!([{"value": "customer_admin", "primary": true}]);
        b
    };
    let role_mutability = |schema: &Value| {
        schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "roles")
            .unwrap()["mutability"]
            .clone()
    };
    let schema = host
        .send(scim("GET", &format!("/scim/v2/Schemas/{USER}"), &plain))
        .await
        .json();
    assert_eq!(role_mutability(&schema), "readOnly");

    // Without the permission: a read-only attribute, taken without it.
    let r = host
        .send(with_body(
            scim("POST", "/scim/v2/Users", &plain),
            &admin_body("ana@acme.test"),
        ))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let ana = r.json();
    assert_eq!(ana["roles"], json!([{"value": "user", "primary": true}]));
    let ana_id = ana["id"].as_str().unwrap().to_string();
    assert_eq!(
        clone_user(&host, &ana_id).await.json()["data"]["attributes"]["role"],
        "User"
    );
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{ana_id}"), &plain),
            &patch(
                json!([{"op": "replace", "path": "roles", "value": [{"value": "customer_admin"}]}]),
            ),
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(scim_type(&r), "mutability");
    let r = host
        .send(with_body(
            scim("PUT", &format!("/scim/v2/Users/{ana_id}"), &plain),
            &admin_body("ana@acme.test"),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["roles"],
        json!([{"value": "user", "primary": true}])
    );

    // A connection made to assign roles.
    let r = host
        .send(
            Request::post("/admin/scim-connections")
                .header("authorization", operator_auth())
                .json(&json!({"organization_id": org, "name": "Entra", "assigns_roles": true})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["assigns_roles"], true);
    let (roles_id, roles) = (
        r.json()["id"].as_str().unwrap().to_string(),
        format!("Bearer {}", r.json()["token"].as_str().unwrap()),
    );
    let schema = host
        .send(scim("GET", &format!("/scim/v2/Schemas/{USER}"), &roles))
        .await
        .json();
    assert_eq!(role_mutability(&schema), "readWrite");
    let r = host
        .send(with_body(
            scim("POST", "/scim/v2/Users", &roles),
            &admin_body("boss@acme.test"),
        ))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let boss = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        clone_user(&host, &boss).await.json()["data"]["attributes"]["role"],
        "Admin"
    );
    // Promote Ana; the families see her as an administrator.
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{ana_id}"), &roles),
            &patch(json!([{"op": "add", "path": "roles", "value": [{"value": "customer_admin"}]}])),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["roles"],
        json!([{"value": "customer_admin", "primary": true}])
    );
    assert_eq!(
        clone_user(&host, &ana_id).await.json()["data"]["attributes"]["role"],
        "Admin"
    );
    // A peer now: not disabled until demoted.
    let off = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{ana_id}"), &roles),
            &off,
        ))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{ana_id}"), &roles),
            &patch(json!([{"op": "remove", "path": "roles"}])),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["roles"],
        json!([{"value": "user", "primary": true}])
    );
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{ana_id}"), &roles),
            &off,
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Never its maker's role: that would end the connection.
    let (maker, session) = signed_in_admin(&host, org, "maker@acme.test").await;
    let r = host
        .send(
            Request::post("/admin/scim-connections")
                .header("authorization", &session)
                .json(&json!({"organization_id": org, "name": "Own", "assigns_roles": true})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let own = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    let demote = patch(json!([{"op": "replace", "path": "roles", "value": [{"value": "user"}]}]));
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{maker}"), &own),
            &demote,
        ))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = host
        .send(with_body(
            scim("PATCH", &format!("/scim/v2/Users/{boss}"), &own),
            &demote,
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Only the two roles of a customer organization.
    let mut wider = user_body("op@acme.test");
    wider["roles"] = json!([{"value": "operator"}]);
    let r = host
        .send(with_body(scim("POST", "/scim/v2/Users", &roles), &wider))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(scim_type(&r), "invalidValue");
    // Role changes are their own audit events.
    let r = host
        .send(
            Request::get(format!(
                "/v2/audit/events?q[actor]=scim_connection:{roles_id}&per_page=100"
            ))
            .header("authorization", operator_auth()),
        )
        .await;
    let actions: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["attributes"]["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        ["user.update", "user.role", "user.role", "user.create"],
        "{}",
        r.text()
    );
    assert_eq!(
        r.json()["data"][1]["attributes"]["targets"],
        json!([format!("user:{ana_id}"), "role:user"]),
        "{}",
        r.text()
    );
}
