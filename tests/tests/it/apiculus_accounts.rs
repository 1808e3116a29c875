//! `POST /api/pass/createNewUser` (seed 003) and its reference data through
//! the wasm components: request in, status and body out.

use onboard_test_host::{Host, Request, Response};
use serde_json::{Value, json};

use crate::support::{OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host, concurrently, operator_auth};

/// Seed 003's sample request body, byte for byte as the vendor prints it
/// (with its typographic quote before `Indiqus`).
const SEED_BODY: &str = r#"{
"fname": "user",
"lname": "sample",
"email": "usersample@gmail.com",
"organization_name": “Indiqus",
"countryCode": "91",
"mobileNumber": "9876543210",
"password": "UserSam@178",
"acsRegion": "noida",
"address": "xyz street",
"city": "Bangalore",
"state": "Karnataka",
"country": "IN",
"zipcode": 607878,
"currency": "INR",
"tax_category": "Taxable",
"tax_type1": "CNPJ",
"taxation_id1": "3453242343234",
"tax_type2": "GSTIN",
"taxation_id2": "1234567890",
"tax_type3": "",
"taxation_id3": "",
"credit_period": 2,
"credit_limit": 1000,
"resellerCode": "CODE"
}"#;

pub fn seed_fixed() -> Value {
    serde_json::from_str(&SEED_BODY.replace('“', "\"")).unwrap()
}

/// An operator's Apiculus `x-access-token`.
pub(crate) async fn admin_token(host: &Host) -> String {
    let r = host
        .send(
            Request::post("/auth/login")
                .json(&json!({"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["result"]["token"].as_str().unwrap().to_string()
}

/// The reseller the seed's `resellerCode` names.
async fn reseller_code(host: &Host, code: &str) {
    let r = host
        .send(
            Request::post("/admin/resellers")
                .header("authorization", operator_auth())
                .json(&json!({"name": format!("Reseller {code}"), "code": code})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

fn create(token: &str, body: &Value) -> Request {
    Request::post("/api/pass/createNewUser")
        .header("x-access-token", token)
        .json(body)
}

/// The fields an error envelope names.
fn fields(r: &Response) -> Vec<String> {
    let mut f: Vec<String> = r.json()["error"]["fields"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    f.sort();
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_003_verbatim_is_400_and_fixed_creates_api_e001() {
    let host = app_host();
    reseller_code(&host, "CODE").await;
    let token = admin_token(&host).await;
    let r = host
        .send(
            Request::post("/api/pass/createNewUser")
                .header("x-access-token", &token)
                .header("content-type", "application/json")
                .body(SEED_BODY),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let b = r.json();
    assert_eq!(
        (b["httpStatus"].clone(), b["success"].clone()),
        (json!(400), json!(false))
    );
    assert!(
        b["error"]["message"].as_str().unwrap().contains("JSON"),
        "{b}"
    );

    let r = host.send(create(&token, &seed_fixed())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    for (k, v) in [
        ("httpStatus", json!(200)),
        ("success", json!(true)),
        ("error", json!({})),
        ("sync", json!(true)),
        ("jobStatusCode", json!(1)),
        ("cached", json!(false)),
        ("replayed", json!(false)),
        (
            "result",
            json!({"id": "API-E001", "email": "usersample@gmail.com"}),
        ),
    ] {
        assert_eq!(b[k], v, "{k}");
    }
    assert!(b["jobId"].is_string());
    // The primary user signs in with the seed's password, as an enterprise
    // subscriber (account_type 1), in its account's currency.
    let r = host
        .send(
            Request::post("/auth/login")
                .json(&json!({"email": "usersample@gmail.com", "password": "UserSam@178"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"]["account_type"], 1);
    assert_eq!(r.json()["result"]["currency"], "INR");
    // The next account continues the sequence; a taken email is named.
    let mut next = seed_fixed();
    next["email"] = json!("second@example.com");
    let r = host.send(create(&token, &next)).await;
    assert_eq!(r.json()["result"]["id"], "API-E002", "{}", r.text());
    let r = host.send(create(&token, &seed_fixed())).await;
    assert_eq!((r.status, fields(&r)), (422, vec!["email".to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_names_its_field() {
    let host = app_host();
    reseller_code(&host, "CODE").await;
    let token = admin_token(&host).await;
    let with = |changes: Value| {
        let mut body = seed_fixed();
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({"fname": "user1"}), "fname"),
        (json!({"fname": ""}), "fname"),
        (json!({"lname": "sam ple"}), "lname"),
        (json!({"lname": "x".repeat(256)}), "lname"),
        (
            json!({"organization_name": "Indi-qus"}),
            "organization_name",
        ),
        (json!({"email": "not-an-email"}), "email"),
        (
            json!({"email": format!("{}@x.io", "a".repeat(250))}),
            "email",
        ),
        (json!({"countryCode": "99999"}), "countryCode"),
        (json!({"countryCode": "999"}), "countryCode"),
        (json!({"mobileNumber": "98765"}), "mobileNumber"),
        (json!({"mobileNumber": "98765x3210"}), "mobileNumber"),
        (json!({"password": "usersam@178"}), "password"),
        (json!({"password": "UserSam178"}), "password"),
        (json!({"password": "Us@1"}), "password"),
        (json!({"acsRegion": "Noida"}), "acsRegion"),
        (json!({"address": ""}), "address"),
        (json!({"city": "c".repeat(256)}), "city"),
        (json!({"state": "karnataka"}), "state"),
        (json!({"state": "XX"}), "state"),
        (json!({"country": "in"}), "country"),
        (json!({"zipcode": "60-78"}), "zipcode"),
        (json!({"currency": "inr"}), "currency"),
        (json!({"currency": "USD"}), "currency"),
        (json!({"tax_category": "taxable"}), "tax_category"),
        (json!({"tax_type1": "VAT"}), "tax_type1"),
        (json!({"taxation_id1": ""}), "taxation_id1"),
        (json!({"taxation_id1": "123-456-7890"}), "taxation_id1"),
        (json!({"taxation_id1": "123"}), "taxation_id1"),
        (json!({"taxation_id2": "12345678901"}), "taxation_id2"),
        (json!({"taxation_id3": "123"}), "taxation_id3"),
        (json!({"credit_period": 0}), "credit_period"),
        (json!({"credit_period": 31}), "credit_period"),
        (json!({"credit_period": 2.5}), "credit_period"),
        (json!({"credit_limit": -1}), "credit_limit"),
        (json!({"credit_limit": "lots"}), "credit_limit"),
        (json!({"resellerCode": "NOPE"}), "resellerCode"),
        (json!({"resellerCode": null}), "resellerCode"),
    ];
    for (change, field) in cases {
        let r = host.send(create(&token, &with(change.clone()))).await;
        assert_eq!(r.status, 422, "{change}: {}", r.text());
        assert_eq!(fields(&r), vec![field.to_string()], "{change}");
        assert_eq!(r.json()["success"], false);
    }
    // Several at once are all named; optional fields may be left out.
    let r = host
        .send(create(
            &token,
            &with(json!({"fname": "1", "city": "", "currency": "X"})),
        ))
        .await;
    assert_eq!(fields(&r), ["city", "currency", "fname"]);
    let mut minimal = seed_fixed();
    for optional in [
        "acsRegion",
        "zipcode",
        "tax_type1",
        "taxation_id1",
        "tax_type2",
        "taxation_id2",
        "tax_type3",
        "taxation_id3",
    ] {
        minimal.as_object_mut().unwrap().remove(optional);
    }
    minimal["state"] = json!("KA");
    minimal["zipcode"] = json!("560001");
    let r = host.send(create(&token, &minimal)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admin_tokens_create_accounts() {
    let host = app_host();
    reseller_code(&host, "CODE").await;
    let r = host
        .send(Request::post("/api/pass/createNewUser").json(&seed_fixed()))
        .await;
    assert_eq!((r.status, r.json()["success"].clone()), (401, json!(false)));
    let r = host.send(create("not-a-token", &seed_fixed())).await;
    assert_eq!(r.status, 401);
    // An enterprise subscriber's own token is not an admin token.
    let token = admin_token(&host).await;
    assert_eq!(host.send(create(&token, &seed_fixed())).await.status, 200);
    let r = host
        .send(
            Request::post("/auth/login")
                .json(&json!({"email": "usersample@gmail.com", "password": "UserSam@178"})),
        )
        .await;
    let subscriber = r.json()["result"]["token"].as_str().unwrap().to_string();
    let mut other = seed_fixed();
    other["email"] = json!("other@example.com");
    assert_eq!(host.send(create(&subscriber, &other)).await.status, 403);
    let r = host
        .send(Request::get("/api/pass/createNewUser").header("x-access-token", &token))
        .await;
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_creates_get_a_hundred_ids() {
    let host = app_host();
    reseller_code(&host, "CODE").await;
    let token = admin_token(&host).await;
    let responses = concurrently(&host, 100, |i| {
        let mut body = seed_fixed();
        body["email"] = json!(format!("user{i}@example.com"));
        create(&token, &body)
    })
    .await;
    let mut ids: Vec<String> = responses
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()["result"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100);
    assert!(ids.contains(&"API-E100".to_string()) && ids.contains(&"API-E001".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_replays_mismatches_and_ids_past_999() {
    let host = app_host();
    reseller_code(&host, "CODE").await;
    let token = admin_token(&host).await;
    let keyed = |body: &Value, key: &str| create(&token, body).header("idempotency-key", key);
    let first = host.send(keyed(&seed_fixed(), "acct-1")).await;
    assert_eq!(
        (first.status, first.json()["replayed"].clone()),
        (200, json!(false))
    );
    let r = host.send(keyed(&seed_fixed(), "acct-1")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["replayed"], true);
    // The stored answer byte for byte, `replayed` aside (the same jobId too).
    assert_eq!(
        r.text().replace("\"replayed\":true", "\"replayed\":false"),
        first.text()
    );
    assert_eq!(
        r.json()["result"],
        json!({"id": "API-E001", "email": "usersample@gmail.com"})
    );
    let mut other = seed_fixed();
    other["email"] = json!("else@example.com");
    let r = host.send(keyed(&other, "acct-1")).await;
    assert_eq!(
        (r.status, fields(&r)),
        (422, vec!["Idempotency-Key".to_string()])
    );
    // The sequence grows past 999 without losing its zero padding below.
    host.with_env(|env| {
        onboard_shared::be::storage::bump_count(env, "default", "account-seq", 998).unwrap();
    });
    let r = host.send(create(&token, &other)).await;
    assert_eq!(r.json()["result"]["id"], "API-E1000", "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_or_terminating_the_account_stops_its_users() {
    let host = app_host();
    reseller_code(&host, "CODE").await;
    let token = admin_token(&host).await;
    assert_eq!(host.send(create(&token, &seed_fixed())).await.status, 200);
    let user_login = || {
        Request::post("/auth/login")
            .json(&json!({"email": "usersample@gmail.com", "password": "UserSam@178"}))
    };
    let r = host.send(user_login()).await;
    let user_token = r.json()["result"]["token"].as_str().unwrap().to_string();
    let act = |action: &str| {
        Request::put(format!(
            "/api/v1/serv_{action}UserAccount/API-E001?manual=true"
        ))
        .header("x-access-token", &token)
    };
    let helper = || Request::post("/auth/logout").header("x-access-token", &user_token);
    let r = host.send(act("disable")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["result"],
        json!({"id": "API-E001", "email": "usersample@gmail.com", "status": "disabled"})
    );
    assert_eq!(host.send(user_login()).await.status, 401, "no sign-in");
    assert_eq!(
        host.send(helper()).await.status,
        401,
        "its token stops at once"
    );
    assert_eq!(host.send(act("enable")).await.status, 200);
    assert_eq!(host.send(user_login()).await.status, 200);
    assert_eq!(host.send(act("terminate")).await.status, 200);
    assert_eq!(host.send(user_login()).await.status, 401);
    let r = host.send(act("enable")).await;
    assert_eq!(r.status, 422, "terminated is final: {}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_data_lists_and_configures() {
    let host = app_host();
    let token = admin_token(&host).await;
    let r = host
        .send(Request::get("/api/pass/signUpHelper").header("x-access-token", &token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let result = r.json()["result"].clone();
    assert_eq!(result["currency"], json!(["INR", "RWF", "OMR"]));
    assert_eq!(result["acsRegion"], json!(["noida"]));
    assert_eq!(
        result["tax_category"][0],
        json!({"displayText": "Indian Organisation or Individual (Non-SEZ)", "value": "Taxable"})
    );
    assert_eq!(
        result["tax_types"][0],
        json!({"name": "CNPJ", "validation": {"alpha_num": true, "required": true, "min": 11, "max": 15}})
    );
    assert_eq!(
        host.send(Request::get("/api/pass/signUpHelper"))
            .await
            .status,
        401
    );

    let r = host.send(Request::get("/api/v1/countryList")).await;
    assert_eq!(r.status, 200);
    let countries = r.json()["result"]["countries"].as_array().unwrap().clone();
    let india = countries.iter().find(|c| c["code"] == "IN").unwrap();
    assert_eq!(
        (india["phone"].clone(), india["currency"].clone()),
        (json!("91"), json!("INR"))
    );
    let r = host
        .send(Request::get(format!(
            "/api/v1/stateList?code={}",
            india["objectId"].as_str().unwrap()
        )))
        .await;
    let states = r.json()["result"]["state"].as_array().unwrap().clone();
    assert!(states.iter().any(|s| s["Subdivision_Code"] == "KA"
        && s["Subdivision_Name"] == "Karnataka"
        && s["Country_Code"] == "IN"));
    assert_eq!(
        host.send(Request::get("/api/v1/stateList?code=XX"))
            .await
            .status,
        404
    );
    assert_eq!(
        host.send(Request::get("/api/v1/stateList")).await.status,
        422
    );

    // The operator configures them; createNewUser follows at once.
    let mut custom = json!({
        "currencies": ["USD"], "regions": ["lisbon"], "mobile_digits": 9,
        "tax_categories": [{"value": "Exempt", "display_text": "Exempt"}],
        "tax_types": [{"name": "NIF", "validation": {"alpha_num": true, "required": true, "min": 9, "max": 9}}]});
    let put = |body: &Value| {
        Request::put("/admin/reference-data")
            .header("authorization", operator_auth())
            .json(body)
    };
    let r = host.send(put(&custom)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host
        .send(Request::get("/api/pass/signUpHelper").header("x-access-token", &token))
        .await;
    assert_eq!(r.json()["result"]["currency"], json!(["USD"]));
    custom["currencies"] = json!(["usd"]);
    assert_eq!(host.send(put(&custom)).await.status, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_repeats_of_one_key_create_one_account() {
    let host = app_host();
    reseller_code(&host, "CODE").await;
    let token = admin_token(&host).await;
    let responses = concurrently(&host, 6, |_| {
        create(&token, &seed_fixed()).header("idempotency-key", "same-account")
    })
    .await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| [200, 409].contains(s)),
        "{statuses:?}"
    );
    for r in responses.iter().filter(|r| r.status == 409) {
        assert_eq!(r.json()["error"]["code"], "CONFLICT", "{}", r.text());
    }
    let ids: Vec<Value> = responses
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.json()["result"]["id"].clone())
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|i| *i == json!("API-E001")),
        "{ids:?}"
    );
    let r = host
        .send(create(&token, &seed_fixed()).header("idempotency-key", "same-account"))
        .await;
    assert_eq!((r.status, r.json()["replayed"].clone()), (200, json!(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_named_by_its_id_even_after_its_user_is_gone() {
    let host = app_host();
    reseller_code(&host, "CODE").await;
    let token = admin_token(&host).await;
    assert_eq!(host.send(create(&token, &seed_fixed())).await.status, 200);
    let user = host
        .send(
            Request::get("/v2/users?q[email]=usersample@gmail.com")
                .header("authorization", operator_auth()),
        )
        .await
        .json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = host
        .send(Request::delete(format!("/v2/users/{user}")).header("authorization", operator_auth()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = host
        .send(
            Request::put("/api/v1/serv_disableUserAccount/API-E001?manual=true")
                .header("x-access-token", &token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"]["status"], "disabled");
}
