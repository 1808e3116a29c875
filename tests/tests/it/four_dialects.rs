//! One record, five dialects: a user created through each family's create
//! endpoint (seeds 000, 001, 003, 004) or pushed over SCIM is read and
//! changed through every other family and SCIM, and the fields they share
//! agree everywhere.

use onboard_test_host::{Host, Request};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cloudcockpit_auth::{api_client, bearer, create as cc_create, customer_body};
use crate::gcore_auth::login;
use crate::support::{DEFAULT_HOST, OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host, operator_auth};

struct Families {
    cc: String,
    gcore: String,
    apiculus: String,
    /// A SCIM connection's `Authorization` per organization, made on first use.
    scim: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl Families {
    async fn new(host: &Host) -> Self {
        let (id, secret) = api_client(host, json!({"name": "csp"})).await;
        let cc = bearer(host, &id, &secret).await;
        let pair = login(host, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
        let gcore = format!("Bearer {}", pair["access"].as_str().unwrap());
        let r = host
            .send(
                Request::post("/auth/login")
                    .json(&json!({"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
            )
            .await;
        let apiculus = r.json()["result"]["token"].as_str().unwrap().to_string();
        Families {
            cc,
            gcore,
            apiculus,
            scim: Default::default(),
        }
    }

    async fn scim(&self, host: &Host, org: &str) -> String {
        if let Some(auth) = self.scim.lock().unwrap().get(org) {
            return auth.clone();
        }
        let (_, auth) = crate::scim::connect(host, org.parse().unwrap()).await;
        self.scim
            .lock()
            .unwrap()
            .insert(org.to_string(), auth.clone());
        auth
    }
}

/// What each family says of the user (email, first/last or full name,
/// phone, language, organization, status), as one comparable value.
async fn views(host: &Host, f: &Families, id: Uuid) -> Vec<(&'static str, Value)> {
    let clone = host
        .send(Request::get(format!("/v2/users/{id}")).header("authorization", operator_auth()))
        .await;
    assert_eq!(clone.status, 200, "{}", clone.text());
    let a = clone.json()["data"]["attributes"].clone();
    let org = a["organization"]["id"].as_str().unwrap().to_string();
    let cc = host
        .send(
            Request::get(format!("/v1/customer/{org}/users"))
                .header("authorization", &f.cc)
                .header("x-tenant", DEFAULT_HOST),
        )
        .await;
    assert_eq!(cc.status, 200, "{}", cc.text());
    let c = cc
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == json!(id))
        .cloned()
        .unwrap();
    let list = host
        .send(Request::get("/iam/users?limit=1000").header("authorization", &f.gcore))
        .await;
    let g = list.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == a["email"])
        .cloned()
        .unwrap();
    let one = host
        .send(Request::get(format!("/iam/users/{}", g["id"])).header("authorization", &f.gcore))
        .await
        .json();
    // Apiculus has no read: its lifecycle call for the state the user is
    // already in answers the account without changing it.
    let action = match a["status"].as_str() {
        Some("restricted") => "restrict",
        Some("disabled") => "disable",
        _ => "enable",
    };
    let api = host
        .send(
            Request::put(format!("/api/v1/serv_{action}UserAccount/{id}?manual=true"))
                .header("x-access-token", &f.apiculus),
        )
        .await
        .json();
    let scim = host
        .send(
            Request::get(format!("/scim/v2/Users/{id}"))
                .header("authorization", f.scim(host, &org).await),
        )
        .await;
    assert_eq!(scim.status, 200, "{}", scim.text());
    let u = scim.json();
    let work_phone = u["phoneNumbers"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["type"] == "work"))
        .map(|p| p["value"].clone())
        .unwrap_or(Value::Null);
    let full = |first: &Value, last: &Value| {
        [first.as_str(), last.as_str()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    };
    vec![
        (
            "clone",
            json!({"email": a["email"], "name": full(&a["first_name"], &a["last_name"]),
                   "phone": a["phone"], "lang": a["locale"], "status": a["status"]}),
        ),
        (
            "cloudcockpit",
            json!({"email": c["email"], "name": full(&c["firstName"], &c["lastName"]),
                   "phone": a["phone"], "lang": a["locale"], "status": a["status"]}),
        ),
        (
            "gcore",
            json!({"email": one["email"], "name": one["name"], "phone": one["phone"],
                   "lang": a["locale"].as_str().map(|_| one["lang"].clone()).unwrap_or(Value::Null),
                   "status": if one["is_active"] == true { a["status"].clone() } else { json!("inactive") }}),
        ),
        (
            "apiculus",
            json!({"email": api["result"]["email"], "name": full(&a["first_name"], &a["last_name"]),
                   "phone": a["phone"], "lang": a["locale"], "status": api["result"]["status"]}),
        ),
        (
            "scim",
            json!({"email": u["userName"], "name": full(&u["name"]["givenName"], &u["name"]["familyName"]),
                   "phone": work_phone, "lang": u["locale"],
                   "status": if u["active"] == true { a["status"].clone() } else { json!("inactive") }}),
        ),
    ]
}

fn agree(views: &[(&'static str, Value)], what: &str) {
    for (family, v) in views {
        assert_eq!(v, &views[0].1, "{what}: {family} disagrees");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_made_by_any_family_is_the_same_record_in_every_other() {
    let host = app_host();
    let f = Families::new(&host).await;
    let r = host
        .send(
            Request::post("/admin/resellers")
                .header("authorization", operator_auth())
                .json(&json!({"name": "Reseller", "code": "CODE"})),
        )
        .await;
    assert_eq!(r.status, 201);

    // Seed 000 (Clone).
    let r = host
        .send(
            Request::post("/v2/users/create_customer")
                .header("authorization", operator_auth())
                .json(&json!({"customer": {"organization": {"name": "Zero Co"},
                    "user": {"email": "zero@dialects.example", "first_name": "Zoe", "last_name": "Zero",
                             "phone": "+300", "locale": "en"}}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let zero: Uuid = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Seed 001 (CloudCockpit).
    let customer = host
        .send(cc_create(&f.cc, &customer_body("One Co")))
        .await
        .json();
    let r = host
        .send(
            Request::post(format!("/v1/customer/{}/users", customer.as_str().unwrap()))
                .header("authorization", &f.cc)
                .header("x-tenant", DEFAULT_HOST)
                .json(&json!({"firstName": "Oscar", "lastName": "One", "email": "one@dialects.example", "role": {}, "groups": []})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let one: Uuid = r.json().as_str().unwrap().parse().unwrap();
    // Seed 003 (Apiculus).
    let mut account = crate::apiculus_accounts::seed_fixed();
    account["email"] = json!("three@dialects.example");
    let r = host
        .send(
            Request::post("/api/pass/createNewUser")
                .header("x-access-token", &f.apiculus)
                .json(&account),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let three = host
        .send(
            Request::get("/v2/users?q[email]=three@dialects.example")
                .header("authorization", operator_auth()),
        )
        .await
        .json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .parse::<Uuid>()
        .unwrap();
    // Seed 004 (Gcore).
    let r = host
        .send(
            Request::post("/iam/users")
                .header("authorization", &f.gcore)
                .json(&json!({
            "email": "four@dialects.example", "password": "Four-password-4", "company": "Four Co",
            "name": "Fay", "phone": "+400", "lang": "de"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let four = host
        .send(
            Request::get("/v2/users?q[email]=four@dialects.example")
                .header("authorization", operator_auth()),
        )
        .await
        .json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .parse::<Uuid>()
        .unwrap();

    // SCIM, in Zero Co.
    let zero_org = scim_org(&host, zero).await;
    let r = host
        .send(
            Request::post("/scim/v2/Users")
                .header("authorization", f.scim(&host, &zero_org).await)
                .json(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "five@dialects.example", "name": {"givenName": "Fio", "familyName": "Five"},
                    "phoneNumbers": [{"value": "+500", "type": "work"}], "locale": "en"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let five: Uuid = r.json()["id"].as_str().unwrap().parse().unwrap();

    for (n, id) in [zero, one, three, four, five].into_iter().enumerate() {
        agree(&views(&host, &f, id).await, &format!("user {n} as created"));
        // A change through each family is seen by the next request of every other.
        let v = views(&host, &f, id).await;
        let email = v[0].1["email"].as_str().unwrap().to_string();
        let r = host
            .send(
                Request::put(format!("/v2/users/{id}"))
                    .header("authorization", operator_auth())
                    .json(&json!({"user": {"phone": format!("+1{n}"), "locale": "en"}})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let after = views(&host, &f, id).await;
        agree(&after, &format!("user {n} after a Clone change"));
        assert_eq!(after[2].1["phone"], json!(format!("+1{n}")));

        let r = host
            .send(
                Request::new(http::Method::PATCH, format!("/v1/users/{email}"))
                    .header("authorization", &f.cc)
                    .header("x-tenant", DEFAULT_HOST)
                    .json(&json!({"firstName": format!("First{n}"), "lastName": "Changed"})),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
        let after = views(&host, &f, id).await;
        agree(&after, &format!("user {n} after a CloudCockpit change"));
        assert_eq!(after[2].1["name"], json!(format!("First{n} Changed")));

        let gid = host
            .send(Request::get("/iam/users?limit=1000").header("authorization", &f.gcore))
            .await
            .json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == json!(email))
            .unwrap()["id"]
            .clone();
        let r = host
            .send(
                Request::new(http::Method::PATCH, format!("/iam/users/{gid}"))
                    .header("authorization", &f.gcore)
                    .json(&json!({"lang": "de", "phone": format!("+9{n}")})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let after = views(&host, &f, id).await;
        agree(&after, &format!("user {n} after a Gcore change"));
        assert_eq!(
            (after[0].1["lang"].clone(), after[0].1["phone"].clone()),
            (json!("de"), json!(format!("+9{n}")))
        );

        let r = host
            .send(
                Request::new(http::Method::PATCH, format!("/scim/v2/Users/{id}"))
                    .header("authorization", f.scim(&host, &scim_org(&host, id).await).await)
                    .json(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "name.givenName", "value": format!("Scim{n}")},
                                       {"op": "replace", "path": "locale", "value": "en"}]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let after = views(&host, &f, id).await;
        agree(&after, &format!("user {n} after a SCIM change"));
        assert_eq!(
            (after[2].1["name"].clone(), after[0].1["lang"].clone()),
            (json!(format!("Scim{n} Changed")), json!("en"))
        );

        let r = host
            .send(
                Request::put(format!("/api/v1/serv_restrictUserAccount/{id}?manual=true"))
                    .header("x-access-token", &f.apiculus),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let clone = host
            .send(Request::get(format!("/v2/users/{id}")).header("authorization", operator_auth()))
            .await
            .json();
        assert_eq!(
            clone["data"]["attributes"]["status"], "restricted",
            "user {n}"
        );
        agree(
            &views(&host, &f, id).await,
            &format!("user {n} after an Apiculus change"),
        );
    }
}

/// The user's organization, for its SCIM connection.
async fn scim_org(host: &Host, id: Uuid) -> String {
    host.send(Request::get(format!("/v2/users/{id}")).header("authorization", operator_auth()))
        .await
        .json()["data"]["attributes"]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}
