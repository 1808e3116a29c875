//! One reader for the fields of a JSON body, shared by the families whose
//! errors name fields the same way (Clone's and the service's `/admin`):
//! every problem is gathered under its path (`user.email`, `domains[1]`),
//! so a client hears all of them at once.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::base::error::FieldErrors;
use crate::base::{time, validate};

/// Reads typed fields of one JSON object, gathering every problem under its path.
pub(crate) struct Fields<'a> {
    pub(crate) obj: &'a Map<String, Value>,
    pub(crate) prefix: String,
    pub(crate) errors: &'a mut FieldErrors,
}

impl<'a> Fields<'a> {
    pub(crate) fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// A string of at most 255 characters; null or absent is `None`.
    pub(crate) fn string(&mut self, name: &str) -> Option<String> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                if let Err(m) = validate::max_len(s) {
                    self.errors.add(self.path(name), m);
                }
                Some(s.clone())
            }
            Some(_) => {
                self.errors.add(self.path(name), "must be a string");
                None
            }
        }
    }

    /// A string that must be present and non-blank.
    pub(crate) fn required(&mut self, name: &str) -> Option<String> {
        let value = self.string(name);
        if value.as_deref().is_none_or(|s| s.trim().is_empty()) && !self.has_error(name) {
            self.errors.add(self.path(name), "is required");
        }
        value
    }

    pub(crate) fn has_error(&self, name: &str) -> bool {
        let path = self.path(name);
        self.errors.0.iter().any(|e| e.field == path)
    }

    /// `true`/`false`; also the strings "true"/"false" form clients send.
    pub(crate) fn bool(&mut self, name: &str) -> Option<bool> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s == "true" || s == "false" => Some(s == "true"),
            Some(_) => {
                self.errors.add(self.path(name), "must be true or false");
                None
            }
        }
    }

    pub(crate) fn uuid(&mut self, name: &str) -> Option<Uuid> {
        let raw = self.string(name)?;
        match Uuid::parse_str(&raw) {
            Ok(id) => Some(id),
            Err(_) => {
                self.errors.add(self.path(name), "is not a valid UUID");
                None
            }
        }
    }

    pub(crate) fn date(&mut self, name: &str) -> Option<time::Millis> {
        let raw = self.string(name)?;
        let parsed = time::parse_iso8601(&raw);
        if parsed.is_none() {
            self.errors.add(self.path(name), "is not an ISO-8601 date");
        }
        parsed
    }

    pub(crate) fn object(&mut self, name: &str) -> Option<&'a Map<String, Value>> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => Some(o),
            Some(_) => {
                self.errors.add(self.path(name), "must be an object");
                None
            }
        }
    }

    pub(crate) fn nested<'b>(&'b mut self, obj: &'a Map<String, Value>, name: &str) -> Fields<'b>
    where
        'a: 'b,
    {
        let prefix = self.path(name);
        Fields {
            obj,
            prefix,
            errors: self.errors,
        }
    }

    /// Reads `obj`, naming fields as they are (no prefix).
    pub(crate) fn new(obj: &'a Map<String, Value>, errors: &'a mut FieldErrors) -> Self {
        Fields {
            obj,
            prefix: String::new(),
            errors,
        }
    }

    /// Reads `obj`, naming fields `<prefix>.<name>`.
    pub(crate) fn under(
        obj: &'a Map<String, Value>,
        prefix: &str,
        errors: &'a mut FieldErrors,
    ) -> Self {
        Fields {
            obj,
            prefix: prefix.to_string(),
            errors,
        }
    }

    /// A required string, `None` when blank (after "is required").
    pub(crate) fn present(&mut self, name: &str) -> Option<String> {
        self.required(name).filter(|s| !s.trim().is_empty())
    }

    /// A string that is present and not blank; blank counts as absent.
    pub(crate) fn optional(&mut self, name: &str) -> Option<String> {
        self.string(name).filter(|s| !s.trim().is_empty())
    }

    /// A uuid; blank or absent is `None`.
    pub(crate) fn optional_uuid(&mut self, name: &str) -> Option<Uuid> {
        let raw = self.optional(name)?;
        Uuid::parse_str(&raw)
            .map_err(|_| self.errors.add(self.path(name), "is not a valid UUID"))
            .ok()
    }

    /// A JSON boolean, false when absent (strings are refused).
    pub(crate) fn flag(&mut self, name: &str) -> bool {
        match self.obj.get(name) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.errors.add(self.path(name), "must be true or false");
                false
            }
        }
    }

    /// An array of strings, each failing item named `<name>[i]`.
    pub(crate) fn strings(&mut self, name: &str) -> Vec<String> {
        match self.obj.get(name) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v.as_str() {
                    Some(s) => Some(s.to_string()),
                    None => {
                        self.errors
                            .add(format!("{}[{i}]", self.path(name)), "must be a string");
                        None
                    }
                })
                .collect(),
            Some(_) => {
                self.errors.add(self.path(name), "must be an array");
                Vec::new()
            }
        }
    }

    /// A required email address, checked.
    pub(crate) fn email(&mut self, name: &str) -> String {
        let email = self.present(name).unwrap_or_default();
        if !email.is_empty()
            && let Err(m) = validate::email(&email)
        {
            self.errors.add(self.path(name), m);
        }
        email
    }
}
