//! CloudCockpit credentials through the wasm components: OAuth client
//! credentials, `X-Tenant`, and the customer endpoints they authorise.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use onboard_test_host::{Host, Request};
use serde_json::{Value, json};

use crate::support::{DEFAULT_HOST, app_host, operator_auth};

pub async fn api_client(host: &Host, body: Value) -> (String, String) {
    let r = host
        .send(
            Request::post("/admin/api-clients")
                .header("authorization", operator_auth())
                .json(&body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let b = r.json();
    (
        b["client_id"].as_str().unwrap().to_string(),
        b["client_secret"].as_str().unwrap().to_string(),
    )
}

fn token_request(form: &str) -> Request {
    Request::post("/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
}

pub async fn bearer(host: &Host, id: &str, secret: &str) -> String {
    let r = host
        .send(token_request(&format!(
            "grant_type=client_credentials&client_id={id}&client_secret={}&scope=api%3A%2F%2Fx%2F.default",
            secret.replace('-', "%2D")
        )))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    format!("Bearer {}", r.json()["access_token"].as_str().unwrap())
}

pub fn customer_body(company: &str) -> Value {
    json!({"companyName": company, "country": "PT", "addressLine1": "Rua 1", "city": "Lisboa",
           "state": "Lisboa", "zip": "1000-001", "firstName": "Ana", "lastName": "Silva",
           "email": "ana@example.pt", "phone": "+351000000", "role": {}})
}

pub fn create(auth: &str, body: &Value) -> Request {
    Request::post("/v1/Customers")
        .header("authorization", auth)
        .header("x-tenant", DEFAULT_HOST)
        .json(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_give_a_bearer_that_creates_customers() {
    let host = app_host();
    let (id, secret) = api_client(&host, json!({"name": "billing"})).await;
    let r = host
        .send(token_request(&format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}"
        )))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        (body["expires_in"].clone(), body["ext_expires_in"].clone()),
        (json!(3599), json!(3599))
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // Client authentication by HTTP Basic works too.
    let basic = STANDARD.encode(format!("{id}:{secret}"));
    let r = host
        .send(
            token_request("grant_type=client_credentials")
                .header("authorization", format!("Basic {basic}")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let auth = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let r = host
        .send(create(&auth, &customer_body("Contoso")).header("x-correlation-id", "c-1"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let customer = r.json();
    let customer = customer.as_str().expect("a bare JSON string");
    let r = host
        .send(
            Request::get(format!("/v1/Customers/{customer}"))
                .header("authorization", &auth)
                .header("x-tenant", DEFAULT_HOST),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    assert_eq!(
        (got["companyName"].clone(), got["zip"].clone()),
        (json!("Contoso"), json!("1000-001"))
    );
    assert_eq!(got["resellerId"], Value::Null, "a CSP's direct customer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_refusals_follow_rfc_6749() {
    let host = app_host();
    let (id, secret) = api_client(&host, json!({"name": "billing"})).await;
    for (req, status, error) in [
        (token_request(&format!("grant_type=client_credentials&client_id={id}&client_secret=nope")), 401, "invalid_client"),
        (token_request(&format!("grant_type=client_credentials&client_id=not-a-uuid&client_secret={secret}")), 401, "invalid_client"),
        (token_request(&format!("grant_type=password&client_id={id}&client_secret={secret}")), 400, "unsupported_grant_type"),
        (token_request(&format!("client_id={id}&client_secret={secret}")), 400, "invalid_request"),
        (token_request("grant_type=client_credentials"), 400, "invalid_request"),
        (
            Request::post("/oauth2/token").json(&json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret})),
            400,
            "invalid_request",
        ),
    ] {
        let r = host.send(req).await;
        assert_eq!((r.status, r.json()["error"].clone()), (status, json!(error)), "{}", r.text());
        assert!(!r.text().contains(&secret));
    }
    let r = host.send(Request::get("/oauth2/token")).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_tenant_and_bearer_are_checked_in_the_documented_shapes() {
    let host = app_host();
    let (id, secret) = api_client(&host, json!({"name": "billing"})).await;
    let auth = bearer(&host, &id, &secret).await;
    // No X-Tenant: 400 ErrorResponse naming it.
    let r = host
        .send(
            Request::post("/v1/Customers")
                .header("authorization", &auth)
                .header("x-correlation-id", "corr-7")
                .json(&customer_body("A")),
        )
        .await;
    assert_eq!(r.status, 400);
    let body = r.json();
    assert_eq!(
        (body["statusCode"].clone(), body["correlationId"].clone()),
        (json!(400), json!("corr-7"))
    );
    assert_eq!(body["errors"][0]["propertyName"], "X-Tenant");
    // An X-Tenant of no tenant, or another: 403 with no body.
    let r = host
        .send(
            Request::post("/v1/Customers")
                .header("authorization", &auth)
                .header("x-tenant", "portal.unknown.test")
                .json(&customer_body("A")),
        )
        .await;
    assert_eq!((r.status, r.body.len()), (403, 0));
    // No or a bad bearer: 401 with no body; a Clone credential is not one.
    for a in [None, Some("Bearer nope".to_string()), Some(operator_auth())] {
        let mut req = Request::post("/v1/Customers")
            .header("x-tenant", DEFAULT_HOST)
            .json(&customer_body("A"));
        if let Some(a) = a {
            req = req.header("authorization", a);
        }
        let r = host.send(req).await;
        assert_eq!((r.status, r.body.len()), (401, 0));
    }
    // Validation: 400 with every property, PascalCase as the vendor shows.
    let r = host
        .send(create(
            &auth,
            &json!({"companyName": "", "country": "Portugal", "email": "x"}),
        ))
        .await;
    assert_eq!(r.status, 400);
    let names: Vec<String> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["propertyName"].as_str().unwrap().to_string())
        .collect();
    for n in [
        "CompanyName",
        "Country",
        "Email",
        "AddressLine1",
        "Zip",
        "Phone",
    ] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
    // A revoked client's token fails on the next request.
    let r = host
        .send(
            Request::delete(format!("/admin/api-clients/{id}"))
                .header("authorization", operator_auth()),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        host.send(create(&auth, &customer_body("B"))).await.status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reseller_client_acts_only_as_its_reseller() {
    let host = app_host();
    let r = host
        .send(
            Request::post("/admin/resellers")
                .header("authorization", operator_auth())
                .json(&json!({"name": "Reseller One", "code": "R1"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let reseller = r.json()["id"].as_str().unwrap().to_string();
    let (csp_id, csp_secret) = api_client(&host, json!({"name": "csp"})).await;
    let (id, secret) = api_client(&host, json!({"name": "r1", "organization_id": reseller})).await;
    let csp = bearer(&host, &csp_id, &csp_secret).await;
    let mine = bearer(&host, &id, &secret).await;

    let r = host.send(create(&mine, &customer_body("Fabrikam"))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let own = r.json().as_str().unwrap().to_string();
    let get = |auth: &str, customer: &str| {
        Request::get(format!("/v1/Customers/{customer}"))
            .header("authorization", auth)
            .header("x-tenant", DEFAULT_HOST)
    };
    let r = host.send(get(&mine, &own)).await;
    assert_eq!(
        (r.status, r.json()["resellerId"].clone()),
        (200, json!(reseller))
    );
    // Another reseller context: 403; the CSP's direct customer: out of reach.
    let mut other = customer_body("Other");
    other["resellerId"] = json!(uuid::Uuid::new_v4());
    assert_eq!(host.send(create(&mine, &other)).await.status, 403);
    let direct = host
        .send(create(&csp, &customer_body("Direct")))
        .await
        .json();
    let r = host.send(get(&mine, direct.as_str().unwrap())).await;
    assert_eq!(r.status, 404);
    // The CSP sees both, and may ask in the reseller's context.
    assert_eq!(host.send(get(&csp, &own)).await.status, 200);
    let r = host.send(get(&csp, direct.as_str().unwrap())).await;
    assert_eq!(r.status, 200);
    let in_context = Request::get(format!(
        "/v1/Customers/{}?resellerId={reseller}",
        direct.as_str().unwrap()
    ))
    .header("authorization", &csp)
    .header("x-tenant", DEFAULT_HOST);
    assert_eq!(
        host.send(in_context).await.status,
        403,
        "no relationship with that reseller"
    );
}
