//! Vendor client libraries against Onboard, over real HTTP: the test host
//! serves the app on a loopback port and the client runs as a subprocess.
//! CI installs the clients (`.ci/run`); locally: `pip install gcore==0.59.0`.

use std::net::SocketAddr;
use std::process::Command;

use onboard_test_host::serve::serve;

use crate::support::{OPERATOR_EMAIL, OPERATOR_PASSWORD, app_host, workspace_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcore_python_sdk_issues_uses_lists_and_deletes_api_tokens() {
    let host = app_host();
    let addr = serve(host, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("serve");
    let script = workspace_file("tests/clients/gcore_sdk.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(format!("http://{addr}"))
            .arg(OPERATOR_EMAIL)
            .arg(OPERATOR_PASSWORD)
            .output()
    })
    .await
    .unwrap()
    .expect("python3 must be installed (see .ci/run)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Gcore SDK script failed (is `gcore==0.59.0` installed?)\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("gcore sdk: ok"), "{stdout}");
}
