//! Embeds the committed `shared/openapi.json` without its indentation: the
//! file is pretty for review, and the whitespace was 63% of its bytes (and
//! of the component). JSON has whitespace only between tokens or inside
//! strings, so dropping every space, tab and newline outside a string
//! changes nothing a parser reads; the integration test
//! `the_document_is_served` checks the served document equals the table's.

use std::path::Path;

fn main() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/openapi.json");
    println!("cargo::rerun-if-changed={}", source.display());
    let pretty = std::fs::read(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let mut out = Vec::with_capacity(pretty.len() / 2);
    let (mut in_string, mut escaped) = (false, false);
    for byte in pretty {
        if in_string {
            out.push(byte);
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = byte == b'"';
            out.push(byte);
        }
    }
    let target = Path::new(&std::env::var_os("OUT_DIR").unwrap_or_default()).join("openapi.json");
    std::fs::write(&target, out).unwrap_or_else(|e| panic!("{}: {e}", target.display()));
}
