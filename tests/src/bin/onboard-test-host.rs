//! `onboard-test-host serve [--port N] [--manifest spin.toml] [--var name=value]...`
//!
//! Runs the app's components on a loopback port for clients written against the
//! vendor documents. Test tooling: users run Onboard with `spin up`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use onboard_test_host::{App, Host, host::workspace_root, serve::serve};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut port = 3000u16;
    let mut manifest = workspace_root().join("spin.toml");
    let mut vars: Vec<(String, String)> = Vec::new();
    match args.next().as_deref() {
        Some("serve") => {}
        _ => bail!(
            "usage: onboard-test-host serve [--port N] [--manifest FILE] [--var name=value]..."
        ),
    }
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().context("--port N")?.parse()?,
            "--manifest" => manifest = PathBuf::from(args.next().context("--manifest FILE")?),
            "--var" => {
                let kv = args.next().context("--var name=value")?;
                let (k, v) = kv.split_once('=').context("--var name=value")?;
                vars.push((k.to_string(), v.to_string()));
            }
            other => bail!("unknown argument {other}"),
        }
    }
    // SPIN_VARIABLE_<NAME> works here as it does for `spin up`.
    for (k, v) in std::env::vars() {
        if let Some(name) = k.strip_prefix("SPIN_VARIABLE_") {
            vars.push((name.to_ascii_lowercase(), v));
        }
    }
    let app = App::load(&manifest)?;
    app.precompile_all()?;
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let host = Host::new(app, &pairs)?;
    let addr = serve(host, SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!("Serving http://{addr}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
