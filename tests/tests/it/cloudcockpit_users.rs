//! The CloudCockpit `/v1` portal users (seed 001), groups and customers,
//! through the wasm components: request in, status and body out.

use onboard_shared::be::storage::Actor;
use onboard_shared::credential::auth::Caller;
use onboard_shared::idm::provision::{self, NewCustomer, NewUser, OpId};
use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cloudcockpit_auth::{api_client, bearer, create as create_customer, customer_body};
use crate::support::{DEFAULT_HOST, app_host, operator_auth, seed_tenant};

/// A `/v1` request with the documented headers.
pub(crate) fn v1(method: http::Method, path: &str, auth: &str) -> Request {
    Request::new(method, path)
        .header("authorization", auth)
        .header("x-tenant", DEFAULT_HOST)
}

/// A CSP client's bearer.
pub(crate) async fn csp(host: &Host) -> String {
    let (id, secret) = api_client(host, json!({"name": "csp"})).await;
    bearer(host, &id, &secret).await
}

/// A reseller (via /admin) and its client's bearer.
pub(crate) async fn reseller(host: &Host, code: &str) -> (Uuid, String) {
    let r = host
        .send(
            Request::post("/admin/resellers")
                .header("authorization", operator_auth())
                .json(&json!({"name": format!("Reseller {code}"), "code": code})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id: Uuid = r.json()["id"].as_str().unwrap().parse().unwrap();
    let (cid, secret) = api_client(host, json!({"name": code, "organization_id": id})).await;
    (id, bearer(host, &cid, &secret).await)
}

async fn new_customer(host: &Host, auth: &str, company: &str) -> Uuid {
    let r = host
        .send(create_customer(auth, &customer_body(company)))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json().as_str().unwrap().parse().unwrap()
}

async fn new_group(host: &Host, auth: &str, name: &str) -> Uuid {
    let r = host
        .send(v1(http::Method::POST, "/v1/users/groups", auth).json(&json!({"name": name})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json().as_str().unwrap().parse().unwrap()
}

fn user_body(email: &str, groups: &[Uuid]) -> Value {
    json!({"firstName": "Ana", "lastName": "Silva", "email": email, "role": {},
           "groups": groups.iter().map(|g| json!({"id": g})).collect::<Vec<_>>()})
}

/// `(propertyName, descriptions)` of an ErrorResponse.
fn errors(r: &Response) -> Vec<(String, Vec<String>)> {
    r.json()["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["propertyName"].as_str().unwrap().to_string(),
                        e["description"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|d| d.as_str().unwrap().to_string())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn properties(r: &Response) -> Vec<String> {
    errors(r).into_iter().map(|(p, _)| p).collect()
}

/// Audit events of the tenant with this correlation id, read back through
/// the /v2 family's Audit section.
async fn events_with(host: &Host, correlation: &str) -> Vec<Value> {
    let r = host
        .send(
            Request::get(format!("/v2/audit/events?q[correlation_id]={correlation}"))
                .header("authorization", operator_auth()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_001_example_creates_a_customer_user() {
    let host = app_host();
    let auth = csp(&host).await;
    let customer = new_customer(&host, &auth, "Contoso").await;
    let group = new_group(&host, &auth, "Engineers").await;
    let id = Uuid::new_v4();
    let correlation = Uuid::new_v4().to_string();
    // Seed 001's request, with real values for its placeholders.
    let body = json!({
        "id": id,
        "firstName": "Ana",
        "lastName": "Silva",
        "email": "ana.silva@contoso.example",
        "role": {},
        "groups": [{"id": group, "name": "Engineers"}]
    });
    let post = || {
        v1(
            http::Method::POST,
            &format!("/v1/customer/{customer}/users"),
            &auth,
        )
        .header("x-correlation-id", &correlation)
        .json(&body)
    };
    let r = host.send(post()).await;
    assert_eq!((r.status, r.json()), (201, json!(id)), "{}", r.text());
    assert_eq!(r.header("x-correlation-id"), Some(correlation.as_str()));
    // The identical request again: 200, the same id, nothing new.
    let r = host.send(post()).await;
    assert_eq!((r.status, r.json()), (200, json!(id)));

    let r = host
        .send(v1(
            http::Method::GET,
            &format!("/v1/customer/{customer}/users"),
            &auth,
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!([{"id": id, "firstName": "Ana", "lastName": "Silva",
                "email": "ana.silva@contoso.example", "role": {"name": "User"},
                "groups": [{"id": group, "name": "Engineers"}]}])
    );
    // One record, four dialects: the /v2 family reads the same user...
    let r = host
        .send(Request::get(format!("/v2/users/{id}")).header("authorization", operator_auth()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let a = &r.json()["data"]["attributes"];
    assert_eq!(
        (
            a["email"].clone(),
            a["first_name"].clone(),
            a["organization"]["id"].clone()
        ),
        (
            json!("ana.silva@contoso.example"),
            json!("Ana"),
            json!(customer)
        )
    );
    // ...and a user the /v2 family creates in the customer is listed here.
    let r = host
        .send(
            Request::post("/v2/users/create_customer")
                .header("authorization", operator_auth())
                .json(&json!({"customer": {"organization_id": customer,
                    "user": {"email": "bo@contoso.example", "first_name": "Bo", "last_name": "Berg"}}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = host
        .send(v1(
            http::Method::GET,
            &format!("/v1/customer/{customer}/users"),
            &auth,
        ))
        .await;
    let names: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["firstName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Ana", "Bo"], "sorted by name");
    // The create's audit event carries the correlation id.
    let events = events_with(&host, &correlation).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["attributes"]["action"], "user.create");
    assert_eq!(
        events[0]["attributes"]["targets"][1],
        json!(format!("user:{id}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_error_has_the_error_model() {
    let host = app_host();
    let auth = csp(&host).await;
    let customer = new_customer(&host, &auth, "Errors").await;
    let path = format!("/v1/customer/{customer}/users");
    let post = |body: Value| v1(http::Method::POST, &path, &auth).json(&body);

    // Every failing property, every message for it, and a fresh correlation id.
    let r = host
        .send(post(
            json!({"role": {"name": "x"}, "groups": [{"id": "nope"}]}),
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let b = r.json();
    assert_eq!(b["statusCode"], 400);
    assert_eq!(b["type"], "ValidationError");
    assert!(b["description"].is_string());
    let generated = b["correlationId"].as_str().unwrap().to_string();
    assert!(Uuid::parse_str(&generated).is_ok());
    assert_eq!(r.header("x-correlation-id"), Some(generated.as_str()));
    assert_eq!(
        properties(&r),
        ["FirstName", "LastName", "Email", "Role", "Groups[0].Id"]
    );
    // A given correlation id is echoed in the body and the header.
    let r = host
        .send(post(json!({})).header("x-correlation-id", "7d1c4a3e-0000-4000-8000-000000000001"))
        .await;
    assert_eq!(
        r.json()["correlationId"],
        "7d1c4a3e-0000-4000-8000-000000000001"
    );
    assert_eq!(
        r.header("x-correlation-id"),
        Some("7d1c4a3e-0000-4000-8000-000000000001")
    );
    let long = format!("{}@x", "a".repeat(260));
    let r = host.send(post(user_body(&long, &[]))).await;
    assert_eq!(r.status, 400);
    let email = errors(&r).into_iter().find(|(p, _)| p == "Email").unwrap();
    assert_eq!(email.1.len(), 2, "too long and not an email: {:?}", email.1);
    // An unknown group, an id in use, a taken email.
    let r = host
        .send(post(user_body("g@x.example", &[Uuid::new_v4()])))
        .await;
    assert_eq!(
        (r.status, properties(&r)),
        (400, vec!["Groups[0].Id".to_string()])
    );
    let r = host.send(post(user_body("first@x.example", &[]))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let taken: Uuid = r.json().as_str().unwrap().parse().unwrap();
    let mut clash = user_body("second@x.example", &[]);
    clash["id"] = json!(taken);
    let r = host.send(post(clash)).await;
    assert_eq!((r.status, properties(&r)), (400, vec!["Id".to_string()]));
    let r = host.send(post(user_body("FIRST@x.example", &[]))).await;
    assert_eq!((r.status, properties(&r)), (400, vec!["Email".to_string()]));
    // Malformed JSON and a wrong content type are 400/415 in the same model.
    let r = host
        .send(
            v1(http::Method::POST, &path, &auth)
                .header("content-type", "application/json")
                .body("{"),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["statusCode"].clone()),
        (400, json!(400))
    );
    // Unknown customer: 404 with a body; no credential or another tenant: no body.
    let r = host
        .send(
            v1(
                http::Method::POST,
                &format!("/v1/customer/{}/users", Uuid::new_v4()),
                &auth,
            )
            .json(&user_body("n@x.example", &[])),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["statusCode"].clone()),
        (404, json!(404))
    );
    let r = host
        .send(
            Request::post(&path)
                .header("x-tenant", DEFAULT_HOST)
                .json(&user_body("n@x.example", &[])),
        )
        .await;
    assert_eq!((r.status, r.body.len()), (401, 0));
    seed_tenant(&host, "other", &["other.test"], "op@other.test");
    let r = host
        .send(
            Request::post(&path)
                .header("authorization", &auth)
                .header("x-tenant", "other.test")
                .json(&user_body("n@x.example", &[])),
        )
        .await;
    assert_eq!((r.status, r.body.len()), (403, 0));
    // A resellerId that is not the customer's: 403.
    let (other, _) = reseller(&host, "ELSE").await;
    let r = host
        .send(
            v1(
                http::Method::POST,
                &format!("{path}?resellerId={other}"),
                &auth,
            )
            .json(&user_body("n@x.example", &[])),
        )
        .await;
    assert_eq!((r.status, r.body.len()), (403, 0));
    // Methods the path does not answer.
    let r = host.send(v1(http::Method::PUT, &path, &auth)).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
}

/// Creates `n` users in `customer` natively (through the same shared code).
fn seed_users(host: &Host, customer: Uuid, from: usize, n: usize) {
    let caller = Caller::operator_of(
        "default",
        Actor {
            kind: "test".into(),
            id: "seed".into(),
        },
    );
    host.with_env(|env| {
        for i in from..from + n {
            let input = NewCustomer {
                organization_id: Some(customer),
                organization: None,
                user: NewUser {
                    email: format!("user{i:05}@paging.example"),
                    ..NewUser::default()
                },
                ..NewCustomer::default()
            };
            let op = OpId::fresh(env, format!("seed{i}"));
            provision::create_customer(env, &caller, &input, &op, Default::default(), None)
                .unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_totals_hold_at_0_1_25_26_and_2001_users() {
    let host = app_host();
    let (_, auth) = reseller(&host, "PAGE").await;
    let customer = new_customer(&host, &auth, "Paged").await;
    let page = |query: &str| v1(http::Method::GET, &format!("/v1?{query}"), &auth);
    let mut seeded = 0;
    for (total, pages) in [(0, 0), (1, 1), (25, 1), (26, 2), (2001, 81)] {
        seed_users(&host, customer, seeded, total - seeded);
        seeded = total;
        let r = host.send(page("")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let b = r.json();
        assert_eq!(b["totalCount"], total, "{total}");
        assert_eq!(b["totalPages"], pages, "{total}");
        assert_eq!(b["items"].as_array().unwrap().len(), total.min(25));
        assert_eq!(
            b["paginationParameters"],
            json!({"pageNumber": 1, "pageSize": 25})
        );
        assert_eq!(b["hasPreviousPage"], false);
        assert_eq!(b["hasNextPage"], total > 25);
        assert_eq!(b["continuationToken"], Value::Null);
    }
    let r = host.send(page("pageNumber=2&pageSize=2000")).await;
    let b = r.json();
    assert_eq!(
        (
            b["items"].as_array().unwrap().len(),
            b["totalPages"].clone()
        ),
        (1, json!(2))
    );
    assert_eq!(
        (b["hasPreviousPage"].clone(), b["hasNextPage"].clone()),
        (json!(true), json!(false))
    );
    for bad in ["pageSize=0", "pageSize=2001", "pageNumber=0", "pageSize=x"] {
        let r = host.send(page(bad)).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["statusCode"], 400);
    }
    // Search and sort.
    let r = host.send(page("searchValue=user00007&pageSize=10")).await;
    assert_eq!(r.json()["totalCount"], 1);
    let r = host
        .send(page(
            "sortPropertyName=Email&ascendingOrder=false&pageSize=1",
        ))
        .await;
    assert_eq!(r.json()["items"][0]["email"], "user02000@paging.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_users_are_updated_deleted_and_grouped() {
    let host = app_host();
    let auth = csp(&host).await;
    let customer = new_customer(&host, &auth, "Fabrikam").await;
    let admins = new_group(&host, &auth, "Admins").await;
    let billing = new_group(&host, &auth, "Billing").await;
    let r = host
        .send(
            v1(
                http::Method::POST,
                &format!("/v1/customer/{customer}/users"),
                &auth,
            )
            .json(&user_body("eve@fabrikam.example", &[admins])),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id: Uuid = r.json().as_str().unwrap().parse().unwrap();

    let r = host
        .send(
            v1(http::Method::PATCH, "/v1/users/eve@fabrikam.example", &auth)
                .json(&json!({"firstName": "Evelyn", "groups": [{"id": billing}]})),
        )
        .await;
    assert_eq!((r.status, r.body.len()), (204, 0), "{}", r.text());
    // Seen by the next request of another family.
    let r = host
        .send(Request::get(format!("/v2/users/{id}")).header("authorization", operator_auth()))
        .await;
    assert_eq!(r.json()["data"]["attributes"]["first_name"], "Evelyn");
    let r = host
        .send(v1(
            http::Method::GET,
            &format!("/v1?groups={billing}"),
            &auth,
        ))
        .await;
    let items = r.json()["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(
        items[0]["groups"],
        json!([{"id": billing, "name": "Billing"}])
    );
    assert_eq!(
        host.send(v1(
            http::Method::GET,
            &format!("/v1?groups={admins}"),
            &auth
        ))
        .await
        .json()["totalCount"],
        0
    );

    // Groups: paged, sorted by name.
    let r = host
        .send(v1(http::Method::GET, "/v1/users/groups?pageSize=1", &auth))
        .await;
    assert_eq!(r.status, 200);
    let b = r.json();
    assert_eq!(
        (b["totalCount"].clone(), b["items"][0]["name"].clone()),
        (json!(2), json!("Admins"))
    );

    // Soft delete: gone from lists and lookups, the email stays claimed.
    let r = host
        .send(v1(
            http::Method::DELETE,
            "/v1/users/eve%40fabrikam.example",
            &auth,
        ))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = host
        .send(
            v1(http::Method::PATCH, "/v1/users/eve@fabrikam.example", &auth)
                .json(&json!({"firstName": "X"})),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = host
        .send(v1(
            http::Method::GET,
            &format!("/v1/customer/{customer}/users"),
            &auth,
        ))
        .await;
    assert_eq!(r.json(), json!([]));
    let r = host
        .send(
            v1(
                http::Method::POST,
                &format!("/v1/customer/{customer}/users"),
                &auth,
            )
            .json(&user_body("eve@fabrikam.example", &[])),
        )
        .await;
    assert_eq!((r.status, properties(&r)), (400, vec!["Email".to_string()]));

    // A reseller user, in the reseller's own organization only.
    let (rid, rauth) = reseller(&host, "RU").await;
    let r = host
        .send(
            v1(
                http::Method::POST,
                &format!("/v1/reseller/{rid}/users"),
                &rauth,
            )
            .json(&user_body("rita@reseller.example", &[])),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let (other, _) = reseller(&host, "RX").await;
    let r = host
        .send(
            v1(
                http::Method::POST,
                &format!("/v1/reseller/{other}/users"),
                &rauth,
            )
            .json(&user_body("x@reseller.example", &[])),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_are_listed_changed_and_deleted() {
    let host = app_host();
    let auth = csp(&host).await;
    let (_, rauth) = reseller(&host, "CUST").await;
    let a = new_customer(&host, &rauth, "Alpha").await;
    let b = new_customer(&host, &rauth, "Beta").await;
    let list =
        |auth: &str, query: &str| v1(http::Method::GET, &format!("/v1/Customers?{query}"), auth);
    let r = host
        .send(list(
            &rauth,
            "sortPropertyName=Company.Name&ascendingOrder=false",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let names: Vec<String> = r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["companyName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Beta", "Alpha"]);
    assert_eq!(r.json()["totalCount"], 2);

    let mut info = customer_body("Alpha Two");
    info.as_object_mut().unwrap().remove("role");
    let r = host
        .send(
            v1(
                http::Method::PATCH,
                &format!("/v1/Customers/{a}/account-info"),
                &rauth,
            )
            .json(&json!({"customer": info, "retryFailedProviderCustomersFromCompanyInfo": false})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let r = host
        .send(v1(http::Method::GET, &format!("/v1/Customers/{a}"), &rauth))
        .await;
    assert_eq!(r.json()["companyName"], "Alpha Two");
    // C4 takes no `resellerId` (C3 and C6 do): one in the query is not read.
    let r = host
        .send(
            v1(
                http::Method::PATCH,
                &format!(
                    "/v1/Customers/{a}/account-info?resellerId={}",
                    Uuid::new_v4()
                ),
                &rauth,
            )
            .json(&json!({"customer": info})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let r = host
        .send(
            v1(
                http::Method::PATCH,
                &format!("/v1/Customers/{a}/account-info"),
                &rauth,
            )
            .json(&json!({"customer": {"companyName": ""}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(properties(&r).contains(&"CompanyName".to_string()));

    let r = host
        .send(
            v1(
                http::Method::PATCH,
                &format!("/v1/Customers/{b}/internal-identifier"),
                &rauth,
            )
            .json(&json!({"internalIdentifier": "ERP-42"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = host
        .send(list(
            &rauth,
            "searchField=InternalIdentifier&searchValue=erp-4",
        ))
        .await;
    assert_eq!(r.json()["items"][0]["id"], json!(b));
    let r = host
        .send(list(&rauth, "searchField=Nope&searchValue=x"))
        .await;
    assert_eq!(
        (r.status, properties(&r)),
        (400, vec!["SearchField".to_string()])
    );

    // Only a CSP deletes; deleted customers are listed unless excluded.
    let r = host
        .send(v1(
            http::Method::DELETE,
            &format!("/v1/Customers/{b}"),
            &rauth,
        ))
        .await;
    assert_eq!((r.status, r.body.len()), (403, 0));
    let r = host
        .send(v1(
            http::Method::DELETE,
            &format!("/v1/Customers/{b}"),
            &auth,
        ))
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let r = host.send(list(&rauth, "")).await;
    assert_eq!(r.json()["totalCount"], 2);
    let deleted: Vec<bool> = r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["deleted"].as_bool().unwrap())
        .collect();
    assert_eq!(deleted, [false, true]);
    let r = host.send(list(&rauth, "includeDeleted=false")).await;
    assert_eq!(r.json()["totalCount"], 1);
    assert_eq!(
        host.send(v1(http::Method::GET, &format!("/v1/Customers/{b}"), &auth))
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_rounds_of_two_clients_racing_for_one_id_make_one_user() {
    let host = app_host();
    let first = csp(&host).await;
    let second = csp(&host).await;
    let customer = new_customer(&host, &first, "Race").await;
    for round in 0..10 {
        let id = Uuid::new_v4();
        let responses = crate::support::concurrently(&host, 2, |i| {
            let mut body = user_body(&format!("r{round}-{i}@race.example"), &[]);
            body["id"] = json!(id);
            v1(
                http::Method::POST,
                &format!("/v1/customer/{customer}/users"),
                if i == 0 { &first } else { &second },
            )
            .json(&body)
        })
        .await;
        let mut statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        statuses.sort();
        assert_eq!(statuses, [201, 400], "round {round}");
        let loser = responses.iter().find(|r| r.status == 400).unwrap();
        assert_eq!(properties(loser), ["Id"]);
        let winner = responses.iter().position(|r| r.status == 201).unwrap();
        let stored = host
            .send(Request::get(format!("/v2/users/{id}")).header("authorization", operator_auth()))
            .await;
        assert_eq!(
            stored.json()["data"]["attributes"]["email"],
            json!(format!("r{round}-{winner}@race.example")),
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reseller_reaches_its_sub_resellers_customers() {
    let host = app_host();
    let (parent, auth) = reseller(&host, "TOP").await;
    let r = host
        .send(
            Request::post("/admin/resellers")
                .header("authorization", operator_auth())
                .json(&json!({"name": "Sub", "code": "SUB", "parent_id": parent})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let sub = r.json()["id"].as_str().unwrap().to_string();
    let mut body = customer_body("Below");
    body["resellerId"] = json!(sub);
    let r = host.send(create_customer(&auth, &body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let customer = r.json().as_str().unwrap().to_string();
    for query in ["", &format!("?resellerId={sub}")] {
        let r = host
            .send(v1(
                http::Method::GET,
                &format!("/v1/Customers/{customer}{query}"),
                &auth,
            ))
            .await;
        assert_eq!(r.status, 200, "{query}: {}", r.text());
    }
    let r = host
        .send(v1(
            http::Method::GET,
            &format!("/v1/Customers/{customer}?resellerId={parent}"),
            &auth,
        ))
        .await;
    assert_eq!(r.status, 403, "its parent is the sub-reseller");
    let r = host
        .send(
            v1(
                http::Method::POST,
                &format!("/v1/customer/{customer}/users"),
                &auth,
            )
            .json(&user_body("deep@below.example", &[])),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_reach_the_last_user_after_a_delete() {
    let host = app_host();
    let (_, auth) = reseller(&host, "HOLE").await;
    let customer = new_customer(&host, &auth, "Holes").await;
    seed_users(&host, customer, 0, 26);
    let r = host
        .send(v1(
            http::Method::DELETE,
            "/v1/users/user00000@paging.example",
            &auth,
        ))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let page = |n: usize| v1(http::Method::GET, &format!("/v1?pageNumber={n}"), &auth);
    let b = host.send(page(1)).await.json();
    assert_eq!(
        (
            b["totalCount"].clone(),
            b["totalPages"].clone(),
            b["hasNextPage"].clone()
        ),
        (json!(25), json!(2), json!(true))
    );
    let b = host.send(page(2)).await.json();
    assert_eq!(b["items"][0]["email"], "user00025@paging.example");
    assert_eq!(b["hasNextPage"], false);
    let b = host.send(page(2_000_000_000)).await.json();
    assert_eq!(b["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_is_a_503_and_retrying_is_safe() {
    let host = app_host();
    let auth = csp(&host).await;
    let customer = new_customer(&host, &auth, "Flaky").await;
    host.kv.faults.add_rule(
        onboard_test_host::FaultRule::new(onboard_test_host::FaultAction::Fail)
            .on(onboard_test_host::Op::Increment)
            .key_contains("/ix/"),
    );
    let id = Uuid::new_v4();
    let mut body = user_body("flaky@x.example", &[]);
    body["id"] = json!(id);
    let post = || {
        v1(
            http::Method::POST,
            &format!("/v1/customer/{customer}/users"),
            &auth,
        )
        .header("x-correlation-id", "corr-500")
        .json(&body)
    };
    let r = host.send(post()).await;
    assert_eq!(r.status, 503, "{}", r.text());
    let b = r.json();
    assert_eq!(
        (
            b["statusCode"].clone(),
            b["type"].clone(),
            b["correlationId"].clone(),
            b["errors"].clone()
        ),
        (
            json!(503),
            json!("ServiceUnavailable"),
            json!("corr-500"),
            Value::Null
        )
    );
    assert!(b["description"].is_string());
    // The same request again (same id) completes it, once.
    let r = host.send(post()).await;
    assert_eq!((r.status, r.json()), (201, json!(id)), "{}", r.text());
    let r = host.send(post()).await;
    assert_eq!(r.status, 200);
}

/// What the document says the customer and group bodies may carry, the
/// components accept: every instance of each derived schema (every field;
/// the required ones alone; null wherever allowed), once a named reseller
/// is one the caller reaches (stored state, which no schema states).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_documented_customer_and_group_bodies_allow_the_components_accept() {
    use onboard_shared::base::schema::{body, samples};
    use onboard_shared::families::cloudcockpit::{customers, portal_users};
    let host = app_host();
    let (reseller_id, rauth) = reseller(&host, "DOCS").await;
    let name = |v: &mut Value| {
        if v.get("resellerId").is_some_and(|r| !r.is_null()) {
            v["resellerId"] = json!(reseller_id);
        }
    };
    let named = |mut sample: Value| {
        name(&mut sample);
        if let Some(customer) = sample.get_mut("customer") {
            name(customer);
        }
        sample
    };
    let customer = new_customer(&host, &rauth, "Docs").await;
    for fill in samples::FILLS {
        let sample = named(samples::instance(&body::<customers::CustomerBody>(), fill));
        let r = host.send(create_customer(&rauth, &sample)).await;
        assert_eq!(r.status, 201, "{fill:?} {sample}: {}", r.text());

        for (schema, change, status) in [
            (body::<customers::AccountInfoBody>(), "account-info", 202),
            (
                body::<customers::InternalIdentifierBody>(),
                "internal-identifier",
                204,
            ),
        ] {
            let sample = named(samples::instance(&schema, fill));
            let path = format!("/v1/Customers/{customer}/{change}");
            let r = host
                .send(v1(http::Method::PATCH, &path, &rauth).json(&sample))
                .await;
            assert_eq!(r.status, status, "{fill:?} {sample}: {}", r.text());
        }

        // Groups live in operator and reseller organizations.
        let mut sample = samples::instance(&body::<portal_users::NewGroupBody>(), fill);
        sample["name"] = json!(format!("Group {fill:?}"));
        if sample.get("organizationId").is_some_and(|o| !o.is_null()) {
            sample["organizationId"] = json!(reseller_id);
        }
        let r = host
            .send(v1(http::Method::POST, "/v1/users/groups", &rauth).json(&sample))
            .await;
        assert_eq!(r.status, 201, "{fill:?} {sample}: {}", r.text());
    }
}
