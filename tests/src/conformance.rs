//! Checks every answer a test receives against the OpenAPI document: the body
//! of each documented status must match the schema the document gives it.
//! With it on, the whole suite (every family, every fault it injects) is a
//! response-conformance test, not only the schemathesis phase.

use std::collections::HashMap;

use jsonschema::Validator;
use serde_json::Value;

/// The compiled body schemas of one document, by operation and status.
pub struct Conformance {
    /// (method, path template segments) in document order.
    operations: Vec<(String, Vec<String>)>,
    /// (operation index, status) → the body's validator.
    bodies: HashMap<(usize, u16), Validator>,
}

impl Conformance {
    pub fn new(document: &Value) -> anyhow::Result<Self> {
        let components = &document["components"]["schemas"];
        let mut operations = Vec::new();
        let mut bodies = HashMap::new();
        let paths = document["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in &paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                let Some(responses) = op["responses"].as_object() else {
                    continue;
                };
                let index = operations.len();
                operations.push((
                    method.clone(),
                    path.split('/').map(str::to_string).collect(),
                ));
                for (status, response) in responses {
                    let Ok(status) = status.parse::<u16>() else {
                        continue;
                    };
                    let Some(content) = response["content"].as_object() else {
                        continue;
                    };
                    let Some(schema) = content.values().find_map(|c| c.get("schema")) else {
                        continue;
                    };
                    // Only JSON bodies (the CSV export is a plain string).
                    if !content.keys().any(|media| media.contains("json")) {
                        continue;
                    }
                    let schema = inline(schema, components);
                    let validator = jsonschema::options()
                        .should_validate_formats(true)
                        .build(&schema)
                        .map_err(|e| anyhow::anyhow!("{method} {path} {status}: {e}"))?;
                    bodies.insert((index, status), validator);
                }
            }
        }
        Ok(Self { operations, bodies })
    }

    /// The operation a request reached: exact segments beat `{name}` ones.
    fn operation(&self, method: &str, path: &str) -> Option<usize> {
        let segments: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .enumerate()
            .filter(|(_, (m, template))| {
                m.eq_ignore_ascii_case(method)
                    && template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
            })
            .max_by_key(|(_, (_, template))| {
                template.iter().filter(|t| !t.starts_with('{')).count()
            })
            .map(|(i, _)| i)
    }

    /// Why an answer does not match the document, if it does not. Statuses
    /// the document does not name for the operation (a test's injected
    /// crash, say) and bodies it gives no schema are not judged here.
    pub fn violation(&self, method: &str, path: &str, status: u16, body: &[u8]) -> Option<String> {
        let index = self.operation(method, path)?;
        let validator = self.bodies.get(&(index, status))?;
        let instance: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return Some(format!("{method} {path} {status}: body is not JSON ({e})")),
        };
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .take(5)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        (!errors.is_empty()).then(|| {
            format!(
                "{method} {path} {status} does not match the document: {}\nbody: {}",
                errors.join("; "),
                String::from_utf8_lossy(body)
            )
        })
    }
}

/// `schema` with every `#/components/schemas/<name>` reference replaced by
/// the component (the document's components refer to no others).
fn inline(schema: &Value, components: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                return inline(&components[name], components);
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), inline(v, components)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inline(v, components)).collect()),
        other => other.clone(),
    }
}
