//! Checks every answer a test receives against the OpenAPI document: the body
//! of each documented status must match the schema the document gives it.
//! With it on, the whole suite (every family, every fault it injects) is a
//! response-conformance test, not only the schemathesis phase.

use std::collections::HashMap;

use jsonschema::Validator;
use serde_json::Value;

/// What the document says an answer with a given status carries.
enum Expect {
    /// No body.
    Empty,
    /// A body of this media type matching this schema.
    Json { media: String, schema: Validator },
    /// A body of this media type the document gives no JSON schema (CSV).
    Other { media: String },
}

/// The compiled answers of one document, by operation and status.
pub struct Conformance {
    /// (method, path template segments) in document order.
    operations: Vec<(String, Vec<String>)>,
    /// (operation index, status) → what that answer carries.
    answers: HashMap<(usize, u16), Expect>,
}

impl Conformance {
    pub fn new(document: &Value) -> anyhow::Result<Self> {
        let components = &document["components"]["schemas"];
        let mut operations = Vec::new();
        let mut answers = HashMap::new();
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
                    let expect = match response["content"].as_object() {
                        None => Expect::Empty,
                        Some(content) => {
                            let (media, body) = content.iter().next().expect("a media type");
                            if media.contains("json") {
                                let schema = inline(&body["schema"], components);
                                let schema = jsonschema::options()
                                    .should_validate_formats(true)
                                    .build(&schema)
                                    .map_err(|e| {
                                        anyhow::anyhow!("{method} {path} {status}: {e}")
                                    })?;
                                Expect::Json {
                                    media: media.clone(),
                                    schema,
                                }
                            } else {
                                Expect::Other {
                                    media: media.clone(),
                                }
                            }
                        }
                    };
                    answers.insert((index, status), expect);
                }
            }
        }
        Ok(Self {
            operations,
            answers,
        })
    }

    /// The operation a request reached: the path is chosen first, as Spin
    /// routes (exact segments beat `{name}` ones), then the method on it.
    fn operation(&self, method: &str, path: &str) -> Option<usize> {
        let segments: Vec<&str> = path.split('/').collect();
        let matches = |template: &[String]| {
            template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        };
        let exact = |template: &[String]| template.iter().filter(|t| !t.starts_with('{')).count();
        let best = self
            .operations
            .iter()
            .filter(|(_, t)| matches(t))
            .max_by_key(|(_, t)| exact(t))?
            .1
            .clone();
        self.operations
            .iter()
            .position(|(m, t)| *t == best && m.eq_ignore_ascii_case(method))
    }

    /// Why an answer does not match the document, if it does not: a status
    /// the document does not name for the operation, another content type,
    /// a body where none is documented (or none where one is), or a body
    /// that fails its schema. Requests to no documented operation (the
    /// fallback, another method) are not judged here, nor is an empty 500:
    /// a trap, which only a test's injected crash causes.
    pub fn violation(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Option<String> {
        let index = self.operation(method, path)?;
        let at = format!("{method} {path} {status}");
        let Some(expect) = self.answers.get(&(index, status)) else {
            if status == 500 && body.is_empty() {
                return None;
            }
            return Some(format!(
                "{at}: the document names no such status for this operation"
            ));
        };
        let media_of = |ct: &str| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        };
        let (media, schema) = match expect {
            Expect::Empty if body.is_empty() => return None,
            Expect::Empty => {
                return Some(format!(
                    "{at}: documented without a body, got {}",
                    String::from_utf8_lossy(body)
                ));
            }
            Expect::Other { media } => (media, None),
            Expect::Json { media, schema } => (media, Some(schema)),
        };
        let got = content_type.map(media_of).unwrap_or_default();
        if got != media_of(media) {
            return Some(format!("{at}: content type {got:?}, documented {media:?}"));
        }
        let schema = schema?;
        let instance: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return Some(format!("{at}: body is not JSON ({e})")),
        };
        let errors: Vec<String> = schema
            .iter_errors(&instance)
            .take(5)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        (!errors.is_empty()).then(|| {
            format!(
                "{at} does not match the document: {}\nbody: {}",
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `examples` entry of a request body's schema, with the schema
    /// it sits in: (where, example, schema).
    fn examples(schema: &Value, at: &str, out: &mut Vec<(String, Value, Value)>) {
        match schema {
            Value::Object(map) => {
                if let Some(Value::Array(list)) = map.get("examples") {
                    for example in list {
                        out.push((at.to_string(), example.clone(), schema.clone()));
                    }
                }
                for (key, value) in map {
                    examples(value, &format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    examples(item, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    /// The document's request examples are what integrators copy first:
    /// each must be one its own schema accepts.
    #[test]
    fn every_request_example_matches_its_schema() {
        let document: Value =
            serde_json::from_str(onboard_shared::families::openapi::COMMITTED).unwrap();
        let components = &document["components"]["schemas"];
        let mut found = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(content) = op["requestBody"]["content"].as_object() else {
                    continue;
                };
                for (media, body) in content {
                    let schema = inline(&body["schema"], components);
                    examples(&schema, &format!("{method} {path} {media}"), &mut found);
                }
            }
        }
        assert!(found.len() >= 10, "only {} examples found", found.len());
        let refused: Vec<String> = found
            .iter()
            .filter_map(|(at, example, schema)| {
                let validator = jsonschema::options()
                    .should_validate_formats(true)
                    .build(schema)
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                let errors: Vec<String> = validator
                    .iter_errors(example)
                    .map(|e| e.to_string())
                    .collect();
                (!errors.is_empty()).then(|| format!("{at}: {errors:?}"))
            })
            .collect();
        assert!(refused.is_empty(), "{refused:#?}");
    }
}
