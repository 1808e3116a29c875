//! Variables: declared by the app, mapped per component, else Undefined.

use onboard_test_host::host::workspace_root;
use onboard_test_host::{App, Host, Request};

use crate::support::probe_host;

async fn var(path: &str) -> serde_json::Value {
    probe_host().send(Request::get(path)).await.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapped_variable_expands_its_template() {
    assert_eq!(
        var("/probe?op=var&name=greeting").await["value"],
        "hello, world"
    );
    assert_eq!(
        var("/probe?op=var&name=secret_key").await["value"],
        "s3cret"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmapped_variable_is_undefined_even_though_the_app_defines_it() {
    let body = var("/bare/x?op=var&name=greeting").await;
    assert_eq!(
        body["error"],
        r#"Error::Undefined("no variable for \"bare\".\"greeting\"")"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_name_is_refused() {
    let body = var("/probe?op=var&name=Greeting").await;
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("Error::InvalidName("),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_value_overrides_default() {
    let app = App::load(&workspace_root().join("tests").join("spin.toml")).unwrap();
    let host = Host::new(app, &[("secret_key", "k"), ("greeting", "hi")]).unwrap();
    let r = host.send(Request::get("/probe?op=var&name=greeting")).await;
    assert_eq!(r.json()["value"], "hi, world");
}

#[test]
fn required_variable_without_value_refuses_to_start() {
    let app = App::load(&workspace_root().join("tests").join("spin.toml")).unwrap();
    let err = Host::new(app, &[]).err().expect("must refuse");
    assert!(err.to_string().contains("secret_key"), "{err}");
}
