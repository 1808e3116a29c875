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

/// The workspace's Cargo.toml, parsed.
fn workspace_cargo_toml() -> toml::Table {
    std::fs::read_to_string(workspace_root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap()
}

/// Cargo does not carry the release profile's `strip = true` into a
/// per-package override: a component listed there without it was linked with
/// `--strip-debug` only and shipped its function names (the core module's
/// `name` section, about 16% of the component).
#[test]
fn overridden_components_are_stripped_too() {
    let cargo = workspace_cargo_toml();
    let release = &cargo["profile"]["release"];
    assert_eq!(release["strip"].as_bool(), Some(true));
    let (manifest, _) = Manifest::load(&workspace_root().join("spin.toml")).unwrap();
    let mut overridden = 0;
    for (name, settings) in release["package"].as_table().expect("overrides") {
        if manifest.component.contains_key(name) {
            overridden += 1;
            assert_eq!(
                settings.get("strip").and_then(|s| s.as_bool()),
                Some(true),
                "{name} overrides the release profile without strip = true"
            );
        }
    }
    assert!(overridden > 0, "no component overrides the release profile");
}

/// The release profile is opt-level "z" for size, but argon2 is markedly
/// slower optimised for size, and with fat LTO the component crate's
/// opt-level is the link's: so every component that links argon2 is listed
/// in the workspace's Cargo.toml at opt-level 3. Read from the wasm this run
/// built. Without LTO, the list is exactly those components (each one
/// listed for nothing costs size); a fat-LTO link proves argon2 unreachable
/// in four of them and drops it, so there only the first rule is checked.
#[test]
fn hashing_components_are_built_for_speed() {
    let cargo = workspace_cargo_toml();
    let release = &cargo["profile"]["release"];
    assert_eq!(release["opt-level"].as_str(), Some("z"));
    let at_three: std::collections::BTreeSet<String> = release["package"]
        .as_table()
        .expect("per-package overrides of the release profile")
        .iter()
        .filter(|(_, v)| v.get("opt-level").and_then(|l| l.as_integer()) == Some(3))
        .map(|(name, _)| name.clone())
        .collect();
    for dependency in ["argon2", "blake2"] {
        assert!(
            at_three.contains(dependency),
            "{dependency} is not at opt-level 3"
        );
    }
    let app = onboard_test_host::App::main().expect("app");
    let (manifest, _) = Manifest::load(&workspace_root().join("spin.toml")).unwrap();
    let mut hashing = std::collections::BTreeSet::new();
    for id in manifest.component.keys() {
        let wasm = std::fs::read(app.wasm_file(id).unwrap()).unwrap();
        // argon2's symbols, or the source paths of its panic locations
        // (`argon2-<version>/src/...`; those survive `strip`).
        let links = wasm
            .windows(8)
            .any(|w| &w[..7] == b"argon2-" && w[7].is_ascii_digit())
            || wasm.windows(10).any(|w| w == b"_ZN6argon2");
        if links {
            hashing.insert(id.clone());
        }
    }
    assert!(
        hashing.contains("v2-sign-in"),
        "argon2 not found where it must be"
    );
    let listed: std::collections::BTreeSet<String> = at_three
        .into_iter()
        .filter(|name| manifest.component.contains_key(name))
        .collect();
    let unlisted: Vec<_> = hashing.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "link argon2 but are not at opt-level 3: {unlisted:?}"
    );
    let fat_lto = onboard_test_host::host::wasm_profile() == "release"
        && std::env::var("CARGO_PROFILE_RELEASE_LTO").as_deref() != Ok("false");
    if !fat_lto {
        let idle: Vec<_> = listed.difference(&hashing).collect();
        assert!(
            idle.is_empty(),
            "at opt-level 3 but link no argon2: {idle:?}"
        );
    }
}
