//! spin.toml keeps the conventions `spin build` and the test host rely on.

use onboard_test_host::host::workspace_root;
use onboard_test_host::manifest::Manifest;

#[test]
fn every_component_runs_its_own_crate_and_opens_the_default_store() {
    let (manifest, _) = Manifest::load(&workspace_root().join("spin.toml")).unwrap();
    assert!(!manifest.component.is_empty());
    for (id, c) in &manifest.component {
        let package = c
            .package()
            .unwrap_or_else(|| panic!("{id}: its source names no crate"));
        assert_eq!(&package, id, "component id and crate name differ");
        assert_eq!(
            c.source,
            format!(
                "target/wasm32-wasip2/release/{}.wasm",
                package.replace('-', "_")
            )
        );
        // Every component opens the default store, but the fallback, the
        // document and the console's files, which never touch it.
        let stores: &[String] = if ["not-found", "openapi", "console-assets"].contains(&id.as_str())
        {
            &[]
        } else {
            &["default".to_string()]
        };
        assert_eq!(c.key_value_stores, stores, "{id}");
        // One build for all: only `health` has a command, and it builds
        // every component's crate for wasm32-wasip2, release.
        match (&c.build, id.as_str()) {
            (Some(b), "health") => {
                assert_eq!(b.command, "cargo build --target wasm32-wasip2 --release")
            }
            (None, _) => {}
            (Some(b), _) => panic!("{id}: a build of its own ({})", b.command),
        }
        assert!(
            manifest.trigger.http.iter().any(|t| &t.component == id),
            "{id} has no route"
        );
    }
}
