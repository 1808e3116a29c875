//! spin.toml keeps the conventions `spin build` and the test host rely on.

use onboard_test_host::host::workspace_root;
use onboard_test_host::manifest::Manifest;

#[test]
fn every_component_builds_its_own_crate_and_opens_the_default_store() {
    let (manifest, _) = Manifest::load(&workspace_root().join("spin.toml")).unwrap();
    assert!(!manifest.component.is_empty());
    for (id, c) in &manifest.component {
        let package = c
            .package()
            .unwrap_or_else(|| panic!("{id}: build names no -p"));
        assert_eq!(&package, id, "component id and crate name differ");
        assert_eq!(
            c.source,
            format!(
                "target/wasm32-wasip2/release/{}.wasm",
                package.replace('-', "_")
            )
        );
        // Every component opens the default store, but the fallback,
        // which answers 404 without touching it.
        let stores: &[String] = if id == "not-found" || id == "openapi" {
            &[]
        } else {
            &["default".to_string()]
        };
        assert_eq!(c.key_value_stores, stores, "{id}");
        let command = &c.build.as_ref().unwrap().command;
        assert!(
            command.contains("--target wasm32-wasip2") && command.contains("--release"),
            "{id}"
        );
        assert!(
            manifest.trigger.http.iter().any(|t| &t.component == id),
            "{id} has no route"
        );
    }
}
