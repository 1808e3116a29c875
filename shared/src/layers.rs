//! The layer rule, checked: a file under `shared/src/<layer>/` names, through
//! `crate::`, only its own layer and those below it, and always by layer
//! path (`crate::be::storage`, never a root re-export). Comments and doc
//! links are not imports; unit tests (`#[cfg(test)]` onwards) may set up
//! from any layer.

use std::path::Path;

/// Bottom first.
const LAYERS: [&str; 6] = ["base", "be", "credential", "idm", "edge", "families"];

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

/// `(file, what it names)` for every `crate::` path in `dir` that breaks
/// the rule.
fn violations(src: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read shared/src") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let Some(me) = rel
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .and_then(rank)
            else {
                continue;
            };
            let text = std::fs::read_to_string(&path).expect("read a source file");
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .lines()
                .map(|l| l.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            for name in named(&code) {
                let bad = match rank(&name) {
                    Some(r) => r > me,
                    None => name != "VERSION",
                };
                if bad {
                    out.push((rel.display().to_string(), format!("crate::{name}")));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The first segment of every `crate::` path in `code`, the items of
/// `crate::{a, b::c}` groups included.
fn named(code: &str) -> Vec<String> {
    let word = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + 7..];
        let Some(group) = rest.strip_prefix('{') else {
            out.push(word(rest));
            continue;
        };
        // Top-level items of the group, up to its closing brace.
        let (mut depth, mut item) = (0, String::new());
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(word(&item));
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        if !item.trim().is_empty() {
            out.push(word(&item));
        }
    }
    out
}

#[test]
fn layers_point_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports of a higher layer, or through the crate root ({} of them):\n{}",
        found.len(),
        found
            .iter()
            .map(|(f, what)| format!("  {f}: {what}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
