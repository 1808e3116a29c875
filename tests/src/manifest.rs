//! The parts of a Spin manifest (v2) the test host acts on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    pub trigger: Triggers,
    #[serde(default)]
    pub component: BTreeMap<String, Component>,
}

#[derive(Debug, Deserialize)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct VariableDecl {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
}

#[derive(Debug, Deserialize)]
pub struct HttpTrigger {
    pub route: String,
    pub component: String,
}

#[derive(Debug, Deserialize)]
pub struct Component {
    pub source: String,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub build: Option<Build>,
}

#[derive(Debug, Deserialize)]
pub struct Build {
    pub command: String,
}

impl Manifest {
    pub fn load(path: &Path) -> anyhow::Result<(Self, PathBuf)> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path:?}"))?;
        let manifest: Manifest =
            toml::from_str(&text).with_context(|| format!("parsing {path:?}"))?;
        if manifest.spin_manifest_version != 2 {
            bail!("{path:?}: only spin_manifest_version = 2 is supported");
        }
        manifest
            .check_ids()
            .with_context(|| format!("parsing {path:?} (Spin refuses the whole manifest)"))?;
        for trigger in &manifest.trigger.http {
            if !manifest.component.contains_key(&trigger.component) {
                bail!(
                    "route {} names unknown component {}",
                    trigger.route,
                    trigger.component
                );
            }
        }
        for (id, component) in &manifest.component {
            for template in component.variables.values() {
                for name in template_names(template)? {
                    if !manifest.variables.contains_key(&name) {
                        bail!("component {id} maps undeclared variable {name}");
                    }
                }
            }
        }
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok((manifest, dir))
    }
}

impl Manifest {
    /// Spin deserialises every name in the manifest into an id type and refuses the
    /// whole file on the first bad one, before building or serving anything; the
    /// host refuses what `spin up` refuses, so a name Spin rejects fails every test.
    fn check_ids(&self) -> anyhow::Result<()> {
        for name in self.variables.keys() {
            check_id(name, IdKind::LowerSnake).with_context(|| format!("variable {name:?}"))?;
        }
        for trigger in &self.trigger.http {
            check_id(&trigger.component, IdKind::Kebab).with_context(|| {
                format!("route {}: component {:?}", trigger.route, trigger.component)
            })?;
        }
        for (id, component) in &self.component {
            check_id(id, IdKind::Kebab).with_context(|| format!("component {id:?}"))?;
            for name in component.variables.keys() {
                check_id(name, IdKind::LowerSnake)
                    .with_context(|| format!("component {id:?}: variable {name:?}"))?;
            }
            for store in &component.key_value_stores {
                check_id(store, IdKind::KebabOrSnake)
                    .with_context(|| format!("component {id:?}: key-value store {store:?}"))?;
            }
        }
        Ok(())
    }
}

/// The id types of Spin's manifest (`spin-serde`'s `KebabId`, `LowerSnakeId`, and
/// store labels, which take either separator).
#[derive(Clone, Copy, Debug)]
pub enum IdKind {
    Kebab,
    LowerSnake,
    KebabOrSnake,
}

/// Spin 4.1's id rule: words joined by one separator, each word non-empty, starting
/// with an ASCII letter, then ASCII letters and digits, all lowercase or all
/// UPPERCASE (lowercase only for snake ids of variables).
pub fn check_id(id: &str, kind: IdKind) -> anyhow::Result<()> {
    let (delim, lower) = match kind {
        IdKind::Kebab => ('-', false),
        IdKind::LowerSnake => ('_', true),
        IdKind::KebabOrSnake if id.contains('_') => ('_', false),
        IdKind::KebabOrSnake => ('-', false),
    };
    if id.is_empty() {
        bail!("empty");
    }
    let wrong = if delim == '-' { '_' } else { '-' };
    if id.contains(wrong) {
        bail!("words must be separated with {delim:?}, not {wrong:?}");
    }
    for word in id.split(delim) {
        let mut chars = word.chars();
        let Some(first) = chars.next() else {
            bail!("{delim:?}-separated words must not be empty");
        };
        if !first.is_ascii_alphabetic() {
            bail!("{delim:?}-separated words must start with an ASCII letter; got {first:?}");
        }
        let upper = first.is_ascii_uppercase();
        for ch in chars {
            if ch.is_ascii_digit() {
                continue;
            }
            if !ch.is_ascii_alphanumeric() {
                bail!("{delim:?}-separated words may only contain alphanumeric ASCII; got {ch:?}");
            }
            if ch.is_ascii_uppercase() != upper {
                bail!(
                    "{delim:?}-separated words must be all lowercase or all UPPERCASE; got {word:?}"
                );
            }
        }
        if lower && upper {
            bail!("lower-case identifiers must be all lowercase; got {id:?}");
        }
    }
    Ok(())
}

impl Component {
    /// The cargo package whose wasm this component runs: the `-p <name>` of
    /// its own build command when it has one, else the package its `source`
    /// file is named after (`target/.../v2_user.wasm` is package `v2-user`,
    /// as cargo names a package's artifact), which is how one build command
    /// for every component leaves them.
    pub fn package(&self) -> Option<String> {
        if let Some(command) = self.build.as_ref().map(|b| &b.command) {
            let mut words = command.split_whitespace();
            while let Some(word) = words.next() {
                if word == "-p" || word == "--package" {
                    return words.next().map(str::to_string);
                }
                if let Some(name) = word.strip_prefix("--package=") {
                    return Some(name.to_string());
                }
            }
        }
        let file = self.source.rsplit('/').next()?;
        let stem = file.strip_suffix(".wasm")?;
        (!stem.is_empty()).then(|| stem.replace('_', "-"))
    }
}

/// The variable names a `{{ name }}` template refers to.
pub fn template_names(template: &str) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("unclosed '{{{{' in {template:?}");
        };
        names.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// Expands a `{{ name }}` template with `lookup`, which answers for each name.
pub fn expand_template(
    template: &str,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("unclosed template")?;
        let name = after[..end].trim();
        out.push_str(&lookup(name).ok_or_else(|| format!("no value for variable {name:?}"))?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{IdKind, check_id};

    #[test]
    fn component_ids_follow_spins_kebab_rule() {
        for good in [
            "health",
            "v2-user",
            "v2-user-enable-two-factor",
            "CC-USERS",
            "a1-b2",
        ] {
            assert!(check_id(good, IdKind::Kebab).is_ok(), "{good}");
        }
        for (bad, why) in [
            (
                "v2-user-enable-2fa",
                "must start with an ASCII letter; got '2'",
            ),
            ("2fa", "must start with an ASCII letter"),
            ("enable_2fa", "separated with '-', not '_'"),
            ("Foo", "all lowercase or all UPPERCASE"),
            ("a--b", "must not be empty"),
            ("-a", "must not be empty"),
            ("a.b", "alphanumeric"),
            ("", "empty"),
        ] {
            let err = check_id(bad, IdKind::Kebab).expect_err(bad).to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn variable_names_are_lower_snake_ids() {
        assert!(check_id("token_keys", IdKind::LowerSnake).is_ok());
        assert!(check_id("TOKEN_KEYS", IdKind::LowerSnake).is_err());
        assert!(check_id("token-keys", IdKind::LowerSnake).is_err());
        assert!(check_id("default", IdKind::KebabOrSnake).is_ok());
        assert!(check_id("my-store", IdKind::KebabOrSnake).is_ok());
        assert!(check_id("my_store", IdKind::KebabOrSnake).is_ok());
    }

    #[test]
    fn the_projects_manifest_passes_spins_rules() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spin.toml");
        super::Manifest::load(&path).expect("spin.toml as Spin parses it");
    }

    /// `spin build` runs one command, `cargo build` of the workspace's
    /// default members (every crate under functions/): each component's
    /// `source` must be what that writes, a package under functions/.
    #[test]
    fn the_one_build_command_writes_every_components_source() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let (manifest, _) = super::Manifest::load(&root.join("spin.toml")).unwrap();
        let builds: Vec<_> = manifest
            .component
            .values()
            .filter_map(|c| c.build.as_ref())
            .collect();
        assert_eq!(builds.len(), 1, "one build command for every component");
        assert_eq!(
            builds[0].command,
            "cargo build --target wasm32-wasip2 --release"
        );
        let packages: Vec<String> = std::fs::read_dir(root.join("functions"))
            .unwrap()
            .flat_map(|family| std::fs::read_dir(family.unwrap().path()).unwrap())
            .map(|crate_dir| {
                crate_dir
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        for (id, c) in &manifest.component {
            assert!(
                c.source.starts_with("target/wasm32-wasip2/release/"),
                "{id}: {}",
                c.source
            );
            let package = c.package().unwrap();
            assert!(
                packages.contains(&package),
                "{id}: no functions/*/{package}"
            );
        }
    }
}
