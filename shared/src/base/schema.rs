//! JSON Schemas of the rules this layer enforces, for the request types
//! whose schemas are derived (schemars, under the `openapi` feature) from
//! the types their parsers fill: the derives name these with `schema_with`
//! where a rule lives in a constant rather than in a Rust type (the
//! languages and time zones `validate` reads, the date form
//! `time::parse_iso8601` reads, the default password policy).

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

/// The schema of a request body as the document embeds it: inline (no
/// `$defs`), with no `$schema`, no `title` (generators would name a class
/// after the Rust type) and no root description.
pub fn body<T: JsonSchema>() -> Value {
    inline::<T>(SchemaSettings::draft2020_12())
}

/// The schema of a success body a handler renders from `T` with serde: as
/// [`body`], for what serializing `T` writes (a `#[serde(default)]` field is
/// always there).
pub fn response<T: JsonSchema>() -> Value {
    inline::<T>(SchemaSettings::draft2020_12().for_serialize())
}

/// The query parameters an operation reads, from a schema-only `T` beside
/// its parser: one per property, required where `T` requires it, described
/// by the field's doc comment. A query string has no null, so the null an
/// `Option` field adds is dropped.
pub fn query<T: JsonSchema>() -> Vec<Value> {
    let schema = body::<T>();
    let required = |name: &str| {
        schema["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|n| n == name))
    };
    let mut out = Vec::new();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let mut property = schemars::Schema::try_from(property.clone()).unwrap_or_default();
        not_null(&mut property);
        let mut parameter = json!({"name": name, "in": "query", "required": required(name)});
        if let Some(description) = property.remove("description") {
            parameter["description"] = description;
        }
        parameter["schema"] = property.to_value();
        out.push(parameter);
    }
    out
}

/// The fields `names` of the body `T`, which the parser also takes from the
/// query (the body wins): as [`query`], none required there, since the body
/// may hold it; the description says which `T` requires.
pub fn query_instead<T: JsonSchema>(names: &[&str]) -> Vec<Value> {
    let mut out = query::<T>();
    out.retain(|p| names.iter().any(|n| p["name"] == *n));
    for p in &mut out {
        let what = p["description"].as_str().unwrap_or("The field").to_string();
        let needed = if p["required"] == true {
            "required, "
        } else {
            ""
        };
        p["required"] = json!(false);
        p["description"] = json!(format!(
            "{what}: {needed}here or in the body (the body wins)"
        ));
    }
    out
}

fn inline<T: JsonSchema>(settings: SchemaSettings) -> Value {
    let generator = settings
        .with(|s| {
            s.meta_schema = None;
            s.inline_subschemas = true;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(root) = schema.as_object_mut() {
        root.remove("title");
        // The operation's summary says what the body is.
        root.remove("description");
    }
    schema
}

/// `base::time::parse_iso8601`'s form: a date, or a date and time with
/// optional seconds, fraction and zone. No `format`: `date-time` would
/// refuse the plain date, and a format is an annotation a validator may skip
/// (an empty string passed it).
pub fn date_time_value() -> Value {
    json!({"type": "string", "pattern": DATE_TIME, "description":
        "ISO 8601: YYYY-MM-DD, or with [T ]hh:mm[:ss[.fff]] and Z or ±hh[:mm] (none: UTC); the day exists in its month"})
}

const DATE_TIME: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:([0-5][0-9]|60)([.,][0-9]{1,9})?)?([Zz]|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?$";

/// A schema-only type: a field whose rule lives in a constant says
/// `with = "Option<Name>"`, and its schema is `$schema` (a `Value`).
macro_rules! schema_type {
    ($(#[$doc:meta])* $name:ident, $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::Schema::try_from($schema).unwrap_or_default()
            }
        }
    };
}
pub(crate) use schema_type;

schema_type!(
    /// A string as `time::parse_iso8601` reads it ([`date_time_value`]); a
    /// field says `with = "Option<DateTime>"` where its parser reads an instant.
    DateTime, date_time_value());

schema_type!(
    /// An instant as the families show one (`time::format_millis`).
    Instant,
    json!({"type": "string", "format": "date-time"})
);

schema_type!(
    /// `validate::locale`: the Locale component, which the table builds from
    /// `validate::LANGUAGES`.
    Locale, json!({"$ref": "#/components/schemas/Locale"}));

schema_type!(
    /// `validate::timezone`: the Timezone component, built from
    /// `validate::timezones()`.
    Timezone, json!({"$ref": "#/components/schemas/Timezone"}));

/// A schema-only type for a field whose parser accepts one of a constant's
/// strings: `strings!(Lang, LANGS)` makes `Lang`, for `with = "Option<Lang>"`.
macro_rules! strings {
    ($(#[$doc:meta])* $name:ident, $values:expr) => {
        $crate::base::schema::schema_type!(
            $(#[$doc])*
            $name,
            serde_json::json!({"type": "string", "enum": $values})
        );
    };
}
pub(crate) use strings;

schema_type!(
    /// `idm::reference::is_country`: the CountryCode component, which the table
    /// builds from `idm::reference::countries()`.

    CountryCode,
    json!({"$ref": "#/components/schemas/CountryCode"})
);

/// A password under the default policy (`PasswordPolicy::default`); a
/// tenant may set a stricter one.
pub fn password_value() -> Value {
    let policy = crate::base::model::PasswordPolicy::default();
    json!({"type": "string", "minLength": policy.min_len, "maxLength": policy.max_len,
        "description": "The tenant's password policy (by default 8 to 128 characters)"})
}

schema_type!(
    /// [`password_value`].
    Password, password_value());

/// Adds `password_confirmation` to an object with a `password` (Devise's
/// pair, seed 000's user): equal to it, so it needs it.
pub fn password_confirmation(schema: &mut schemars::Schema) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("password_confirmation".into(), json!({"type": ["string", "null"],
            "maxLength": 255, "description": "Equal to password, which must then be given (not null)."}));
    }
    schema.insert(
        "dependentRequired".into(),
        json!({"password_confirmation": ["password"]}),
    );
}

/// A field that may be left out but not sent as `null` (an `Option` whose
/// reader refuses null): drops the null that `Option` adds.
pub fn not_null(schema: &mut schemars::Schema) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if let [one] = types.as_slice() {
            let one = one.clone();
            schema.insert("type".into(), one);
        }
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(branches)) = schema.get_mut("anyOf") {
        branches.retain(|b| b.get("type").and_then(Value::as_str) != Some("null"));
        if branches.len() == 1 {
            let only = branches.pop().unwrap_or_default();
            schema.remove("anyOf");
            if let Value::Object(o) = only {
                for (k, v) in o {
                    schema.insert(k, v);
                }
            }
        }
    }
}

/// [`not_null`] on every property of an object: its fields may be left out
/// but none sent as `null`.
pub fn not_null_fields(schema: &mut schemars::Schema) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for property in props.values_mut() {
            if let Ok(mut p) = schemars::Schema::try_from(property.clone()) {
                not_null(&mut p);
                *property = p.to_value();
            }
        }
    }
}

schema_type!(
    /// The names an account is made with (`first_name`, `last_name`): the
    /// only profile fields the admin API reads.
    Names,
    json!({"type": "object", "properties": {
        "first_name": {"type": ["string", "null"], "maxLength": 255},
        "last_name": {"type": ["string", "null"], "maxLength": 255}}})
);

/// Instances of a derived schema, for tests that feed them to the parser
/// the schema was derived for (unit tests here, or the component itself in
/// the integration tests): what the document says a client may send, the
/// parser must accept.
#[allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test support (the integration tests reach it through the feature): a schema it cannot sample fails the test"
)]
pub mod samples {
    use serde_json::{Map, Value, json};

    /// Which optional parts an instance fills.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Fill {
        /// Every property, with a value.
        Full,
        /// Only what is required.
        Least,
        /// Every property, null wherever the schema allows it.
        Nulls,
    }

    pub const FILLS: [Fill; 3] = [Fill::Full, Fill::Least, Fill::Nulls];

    /// Asserts `parse` accepts every instance of `T`'s derived schema
    /// ([`FILLS`]); it may first set the fields the schema leaves to
    /// stored data.
    pub fn accepted<T: schemars::JsonSchema>(parse: impl Fn(&mut Map<String, Value>) -> bool) {
        let schema = super::body::<T>();
        for fill in FILLS {
            let mut sample = instance(&schema, fill);
            let object = sample.as_object_mut().expect("an object");
            assert!(
                parse(object),
                "{fill:?} refused: {}",
                Value::Object(object.clone())
            );
        }
    }

    /// An instance of `schema`; panics on a keyword it cannot satisfy, so
    /// that a new rule gets a sample here rather than going untested.
    pub fn instance(schema: &Value, fill: Fill) -> Value {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return match r {
                "#/components/schemas/Locale" => json!("pt-BR"),
                "#/components/schemas/Timezone" => json!("Europe/Athens"),
                "#/components/schemas/CountryCode" => json!("GR"),
                other => panic!("no sample for {other}"),
            };
        }
        if let Some(branches) = schema.get("anyOf").and_then(Value::as_array)
            && schema.get("properties").is_none()
        {
            let null = branches.iter().any(|b| b["type"] == "null");
            if fill == Fill::Nulls && null {
                return Value::Null;
            }
            let first = branches.iter().find(|b| b["type"] != "null");
            return instance(first.expect("a non-null branch"), fill);
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if fill == Fill::Nulls && types.contains(&"null") {
            return Value::Null;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return values
                .iter()
                .find(|v| !v.is_null())
                .cloned()
                .expect("a value");
        }
        match types.iter().find(|t| **t != "null").copied() {
            Some("object") => object(schema, fill),
            Some("array") => {
                let min = schema["minItems"].as_u64().unwrap_or(0);
                let count = if fill == Fill::Least { min } else { min.max(1) };
                let item = instance(&schema["items"], fill);
                Value::Array((0..count).map(|_| item.clone()).collect())
            }
            Some("string") => string(schema),
            Some("boolean") => json!(true),
            Some("integer") | Some("number") => json!(schema["minimum"].as_i64().unwrap_or(1)),
            other => panic!("no sample for type {other:?} in {schema}"),
        }
    }

    fn object(schema: &Value, fill: Fill) -> Value {
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        // One branch of an anyOf of required sets (an existing organization
        // or a new one).
        let branch: Vec<&str> = schema["anyOf"][0]["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        required.extend(&branch);
        let mut out = Map::new();
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            if fill == Fill::Least && !required.contains(&name.as_str()) {
                continue;
            }
            // What the server sets; a client leaves it out.
            if property["readOnly"] == true {
                continue;
            }
            // The branch's properties are not null (it requires a value).
            let fill = match fill {
                Fill::Nulls if branch.contains(&name.as_str()) => Fill::Full,
                other => other,
            };
            out.insert(name.clone(), instance(property, fill));
        }
        Value::Object(out)
    }

    fn string(schema: &Value) -> Value {
        let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
        let text = match (schema["format"].as_str(), schema["pattern"].as_str()) {
            (Some("email"), _) => "someone@example.com".to_string(),
            (Some("uuid"), _) => "3fa85f64-5717-4562-b3fc-2c963f66afa6".to_string(),
            (Some("uri"), _) => "https://hooks.example.com/onboard".to_string(),
            (_, Some(super::DATE_TIME)) => "2025-01-01T10:00:00Z".to_string(),
            // One text for every plain string: a confirmation equals its password.
            (_, Some("\\S")) | (_, Some("^[ -~]*[!-~][ -~]*$")) | (None, None) => {
                "Sample-1234".to_string()
            }
            (_, Some("^[A-Za-z]+$")) => "Sample".to_string(),
            (_, Some("^[A-Za-z0-9]+( [A-Za-z0-9]+)*$")) => "Sample Org 1".to_string(),
            (_, Some("^[A-Z]{3}$")) => "EUR".to_string(),
            (_, Some("^[A-Z]{2}$")) => "GR".to_string(),
            (_, Some("^[0-9]{10}$")) => "9876543210".to_string(),
            (_, Some("^[0-9]{1,12}$")) => "10431".to_string(),
            (_, Some(p)) if p.starts_with("^\\+?(") => "+30".to_string(),
            (_, Some("^[a-z0-9-]{1,40}$")) => "sample-tenant".to_string(),
            (_, Some(p)) if p.starts_with("^(localhost|") => "sample.example.com".to_string(),
            (_, Some(p)) if p.starts_with("^whsec_") => {
                "whsec_MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1u".to_string()
            }
            (f, p) => panic!("no sample for format {f:?}, pattern {p:?}"),
        };
        json!(format!(
            "{text}{}",
            "x".repeat(min.saturating_sub(text.len()))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query has no null and no body: an `Option` field is an optional
    /// parameter of its inner type, any other a required one, each
    /// described by its doc comment; `query_instead` requires none.
    #[derive(JsonSchema)]
    #[allow(dead_code, reason = "schema only")]
    struct Sample {
        /// Which one
        #[schemars(length(min = 1, max = 8))]
        name: String,
        /// How many
        #[schemars(range(max = 5), extend("default" = 2))]
        count: Option<u8>,
    }

    #[test]
    fn query_parameters_come_from_the_fields() {
        assert_eq!(
            query::<Sample>(),
            vec![
                json!({"name": "count", "in": "query", "required": false,
                    "schema": {"type": "integer", "format": "uint8", "minimum": 0,
                        "maximum": 5, "default": 2},
                    "description": "How many"}),
                json!({"name": "name", "in": "query", "required": true,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 8},
                    "description": "Which one"}),
            ]
        );
        let instead = query_instead::<Sample>(&["name"]);
        assert_eq!(instead.len(), 1);
        assert_eq!(instead[0]["required"], false);
        assert_eq!(
            instead[0]["description"],
            "Which one: required, here or in the body (the body wins)"
        );
    }
}
