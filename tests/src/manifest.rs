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

impl Component {
    /// The cargo package `spin build` compiles for this component (`-p <name>` in its
    /// build command), so the host can build the same crates under its own profile.
    pub fn package(&self) -> Option<String> {
        let command = &self.build.as_ref()?.command;
        let mut words = command.split_whitespace();
        while let Some(word) = words.next() {
            if word == "-p" || word == "--package" {
                return words.next().map(str::to_string);
            }
            if let Some(name) = word.strip_prefix("--package=") {
                return Some(name.to_string());
            }
        }
        None
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
