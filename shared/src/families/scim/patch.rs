//! PATCH (RFC 7644 §3.5.2) applied to a resource's SCIM representation:
//! `add`, `remove` and `replace`, with and without `path`, value filters in
//! paths, and what real providers send besides the RFC's examples: Entra
//! ID's capitalised ops (`"Replace"`), and patches without a path whose
//! value holds several attributes, some of them dotted (`name.givenName`).
//!
//! The patched representation is then read like a PUT body, so PATCH and
//! PUT share one validation and one diff onto the core's record.

use serde_json::{Map, Value};

use crate::families::scim::error::{ScimError, ScimType};
use crate::families::scim::filter::{self, AttrPath, CORE_URN, CaseExact, Filter, PatchPath};

pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Operations one PATCH carries at most.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub kind: Kind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

fn bad(t: ScimType, detail: impl Into<String>) -> ScimError {
    ScimError::bad(t, detail)
}

/// A PatchOp body's operations, each checked for what it must carry.
pub fn parse(body: &Map<String, Value>) -> Result<Vec<Operation>, ScimError> {
    let schemas = member(body, "schemas").and_then(Value::as_array);
    let names_patch = schemas.is_some_and(|s| {
        s.iter().any(|u| {
            u.as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_URN))
        })
    });
    if !names_patch {
        return Err(bad(
            ScimType::InvalidSyntax,
            format!("a PATCH body's schemas must be [\"{PATCH_URN}\"]"),
        ));
    }
    let Some(Value::Array(list)) = member(body, "Operations") else {
        return Err(bad(
            ScimType::InvalidSyntax,
            "a PATCH body carries an Operations array",
        ));
    };
    if list.is_empty() || list.len() > MAX_OPERATIONS {
        return Err(bad(
            ScimType::InvalidValue,
            format!("a PATCH carries 1 to {MAX_OPERATIONS} operations"),
        ));
    }
    list.iter().map(operation).collect()
}

fn operation(raw: &Value) -> Result<Operation, ScimError> {
    let Some(obj) = raw.as_object() else {
        return Err(bad(ScimType::InvalidSyntax, "an operation is an object"));
    };
    let kind = match member(obj, "op").and_then(Value::as_str) {
        Some(op) if op.eq_ignore_ascii_case("add") => Kind::Add,
        Some(op) if op.eq_ignore_ascii_case("remove") => Kind::Remove,
        Some(op) if op.eq_ignore_ascii_case("replace") => Kind::Replace,
        _ => {
            return Err(bad(
                ScimType::InvalidSyntax,
                "an operation's op is add, remove or replace",
            ));
        }
    };
    let path = match member(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => {
            Some(filter::parse_path(p).map_err(|e| bad(ScimType::InvalidPath, e.0))?)
        }
        Some(_) => return Err(bad(ScimType::InvalidPath, "a path is a string")),
    };
    let value = member(obj, "value").cloned();
    match (kind, &path, &value) {
        (Kind::Remove, None, _) => Err(bad(ScimType::NoTarget, "remove needs a path")),
        (Kind::Add | Kind::Replace, _, None) => {
            Err(bad(ScimType::InvalidValue, "add and replace carry a value"))
        }
        (Kind::Add | Kind::Replace, None, Some(v)) if !v.is_object() => Err(bad(
            ScimType::InvalidValue,
            "without a path, the value is an object of attributes",
        )),
        _ => Ok(Operation { kind, path, value }),
    }
}

fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The key in `obj` naming `name` case-insensitively, if any.
fn key_of(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The object an attribute lives in: the resource itself, or the extension
/// object its URN names (made when `create`). `extensions` are the URNs the
/// resource type knows, in their canonical case.
fn scope<'a>(
    resource: &'a mut Map<String, Value>,
    attr: &AttrPath,
    extensions: &[&str],
    create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, ScimError> {
    let urn = match &attr.urn {
        None => return Ok(Some(resource)),
        Some(u) if u.starts_with(CORE_URN) => return Ok(Some(resource)),
        Some(u) => u,
    };
    let Some(canonical) = extensions.iter().find(|e| e.eq_ignore_ascii_case(urn)) else {
        return Err(bad(
            ScimType::InvalidPath,
            format!("{urn} is not a schema of this resource"),
        ));
    };
    let key = key_of(resource, canonical).unwrap_or_else(|| canonical.to_string());
    if !resource.contains_key(&key) {
        if !create {
            return Ok(None);
        }
        resource.insert(key.clone(), Value::Object(Map::new()));
    }
    match resource.get_mut(&key) {
        Some(Value::Object(o)) => Ok(Some(o)),
        _ => Err(bad(
            ScimType::InvalidValue,
            format!("{canonical} is an object"),
        )),
    }
}

/// The extension URN a path names whole (`urn:...:enterprise:2.0:User`
/// parses as the name `user` under `urn:...:enterprise:2.0`), if it does.
fn whole_extension<'e>(attr: &AttrPath, extensions: &[&'e str]) -> Option<&'e str> {
    let urn = attr.urn.as_ref()?;
    if attr.sub.is_some() {
        return None;
    }
    let full = format!("{urn}:{}", attr.name);
    extensions
        .iter()
        .find(|e| e.eq_ignore_ascii_case(&full))
        .copied()
}

/// Applies `ops` in order; any failure leaves the caller's copy to be
/// dropped (nothing is stored until the whole patch has applied). An
/// attribute the patch adds is named in lower case (names match
/// case-insensitively, RFC 7643 §2.1): the result is read by name, never
/// shown as it is.
pub fn apply(
    resource: &mut Value,
    ops: &[Operation],
    extensions: &[&str],
    case_exact: CaseExact,
) -> Result<(), ScimError> {
    let Some(obj) = resource.as_object_mut() else {
        return Err(bad(ScimType::InvalidValue, "the resource is not an object"));
    };
    for op in ops {
        match (&op.path, &op.value) {
            (None, Some(Value::Object(values))) => {
                for (name, value) in values {
                    if let Some(urn) = extensions.iter().find(|e| e.eq_ignore_ascii_case(name)) {
                        let Value::Object(inner) = value else {
                            return Err(bad(ScimType::InvalidValue, format!("{urn} is an object")));
                        };
                        for (sub, v) in inner.iter().filter(|(k, _)| !is_schemas(k)) {
                            let path = extension_path(urn, sub)?;
                            set(obj, &path, v, op.kind, extensions, case_exact)?;
                        }
                        continue;
                    }
                    let path =
                        filter::parse_path(name).map_err(|e| bad(ScimType::InvalidPath, e.0))?;
                    set(obj, &path, value, op.kind, extensions, case_exact)?;
                }
            }
            (Some(path), Some(value)) => set(obj, path, value, op.kind, extensions, case_exact)?,
            (Some(path), None) => remove(obj, path, extensions, case_exact)?,
            (None, _) => return Err(bad(ScimType::NoTarget, "an operation without a target")),
        }
    }
    Ok(())
}

/// The `schemas` member some clients put in an extension's object: it
/// names the extension again, no attribute.
fn is_schemas(key: &str) -> bool {
    key.eq_ignore_ascii_case("schemas")
}

fn extension_path(urn: &str, sub: &str) -> Result<PatchPath, ScimError> {
    filter::parse_path(&format!("{urn}:{sub}")).map_err(|e| bad(ScimType::InvalidPath, e.0))
}

/// `add` or `replace` of `value` at `path`.
fn set(
    resource: &mut Map<String, Value>,
    path: &PatchPath,
    value: &Value,
    kind: Kind,
    extensions: &[&str],
    case_exact: CaseExact,
) -> Result<(), ScimError> {
    if let Some(urn) = whole_extension(&path.attr, extensions) {
        let Value::Object(inner) = value else {
            return Err(bad(ScimType::InvalidValue, format!("{urn} is an object")));
        };
        for (sub, v) in inner.iter().filter(|(k, _)| !is_schemas(k)) {
            set(
                resource,
                &extension_path(urn, sub)?,
                v,
                kind,
                extensions,
                case_exact,
            )?;
        }
        return Ok(());
    }
    let attr = &path.attr;
    let Some(scope) = scope(resource, attr, extensions, true)? else {
        return Ok(());
    };
    let key = key_of(scope, &attr.name).unwrap_or_else(|| attr.name.clone());
    if let Some(filter) = &path.filter {
        return set_filtered(
            scope,
            &key,
            attr,
            filter,
            path.sub.as_deref(),
            value,
            kind,
            case_exact,
        );
    }
    match &attr.sub {
        Some(sub) => {
            let parent = scope
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(parent) = parent else {
                return Err(bad(
                    ScimType::InvalidPath,
                    format!("{} has no sub-attributes", attr.name),
                ));
            };
            let sub_key = key_of(parent, sub).unwrap_or_else(|| sub.clone());
            merge_into(parent, sub_key, value, kind);
        }
        None => merge_into(scope, key, value, kind),
    }
    Ok(())
}

/// Sets one attribute: `add` appends to a multi-valued one (skipping values
/// it already holds); `add` and `replace` of a complex one set the
/// sub-attributes given and leave the others (RFC 7644 §3.5.2.1, §3.5.2.3);
/// anything else overwrites.
fn merge_into(obj: &mut Map<String, Value>, key: String, value: &Value, kind: Kind) {
    match (kind, obj.get_mut(&key), value) {
        (Kind::Add, Some(Value::Array(have)), Value::Array(more)) => {
            for v in more {
                if !have.contains(v) {
                    have.push(v.clone());
                }
            }
        }
        (Kind::Add, Some(Value::Array(have)), single) if single.is_object() => {
            if !have.contains(single) {
                have.push(single.clone());
            }
        }
        (_, Some(Value::Object(have)), Value::Object(more)) => {
            for (k, v) in more {
                let k = key_of(have, k).unwrap_or_else(|| k.clone());
                have.insert(k, v.clone());
            }
        }
        _ => {
            obj.insert(key, value.clone());
        }
    }
}

/// `add`/`replace` at `attr[filter]` or `attr[filter].sub`: each matching
/// element changes. With no match, a filter that is one `eq` (what
/// providers send to set `emails[type eq "work"].value`) makes the element;
/// any other is `noTarget`.
#[allow(clippy::too_many_arguments)]
fn set_filtered(
    scope: &mut Map<String, Value>,
    key: &str,
    attr: &AttrPath,
    filter: &Filter,
    sub: Option<&str>,
    value: &Value,
    kind: Kind,
    case_exact: CaseExact,
) -> Result<(), ScimError> {
    let list = scope
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(items) = list else {
        return Err(bad(
            ScimType::InvalidPath,
            format!("{} is not multi-valued", attr.name),
        ));
    };
    let mut hit = false;
    for item in items.iter_mut() {
        if !element_matches(filter, item, attr, case_exact) {
            continue;
        }
        hit = true;
        match (sub, item) {
            (Some(sub), Value::Object(o)) => {
                let k = key_of(o, sub).unwrap_or_else(|| sub.to_string());
                o.insert(k, value.clone());
            }
            (None, Value::Object(o)) if kind == Kind::Add => {
                if let Value::Object(more) = value {
                    for (k, v) in more {
                        let k = key_of(o, k).unwrap_or_else(|| k.clone());
                        o.insert(k, v.clone());
                    }
                }
            }
            (None, item) => *item = value.clone(),
            (Some(_), _) => {
                return Err(bad(
                    ScimType::InvalidPath,
                    format!("{}'s values have no sub-attributes", attr.name),
                ));
            }
        }
    }
    if hit {
        return Ok(());
    }
    let Filter::Compare(on, filter::Op::Eq, want) = filter else {
        return Err(bad(
            ScimType::NoTarget,
            format!("no value of {} matches the path's filter", attr.name),
        ));
    };
    let mut element = Map::new();
    element.insert(on.name.clone(), want.clone());
    match (sub, value) {
        (Some(sub), v) => {
            element.insert(sub.to_string(), v.clone());
        }
        (None, Value::Object(more)) => {
            for (k, v) in more {
                element.insert(k.clone(), v.clone());
            }
        }
        (None, _) => {
            return Err(bad(
                ScimType::InvalidValue,
                format!("a value of {} is an object", attr.name),
            ));
        }
    }
    items.push(Value::Object(element));
    Ok(())
}

fn element_matches(filter: &Filter, item: &Value, attr: &AttrPath, case_exact: CaseExact) -> bool {
    // Evaluated as `attr[filter]` against a resource holding just this
    // element, so the filter's paths are asked about in their parent.
    let mut holder = Map::new();
    holder.insert(attr.name.clone(), Value::Array(vec![item.clone()]));
    let whole = Filter::Values(
        AttrPath {
            urn: None,
            name: attr.name.clone(),
            sub: None,
        },
        Box::new(filter.clone()),
        None,
    );
    filter::matches(&whole, &Value::Object(holder), case_exact)
}

/// `remove` at `path`: the attribute, a sub-attribute, the elements a
/// filter picks, or those elements' sub-attribute. Removing what is not
/// there changes nothing.
fn remove(
    resource: &mut Map<String, Value>,
    path: &PatchPath,
    extensions: &[&str],
    case_exact: CaseExact,
) -> Result<(), ScimError> {
    if let Some(urn) = whole_extension(&path.attr, extensions) {
        if let Some(k) = key_of(resource, urn) {
            resource.remove(&k);
        }
        return Ok(());
    }
    let attr = &path.attr;
    let Some(scope) = scope(resource, attr, extensions, false)? else {
        return Ok(());
    };
    let Some(key) = key_of(scope, &attr.name) else {
        return Ok(());
    };
    match (&path.filter, &attr.sub) {
        (None, None) => {
            scope.remove(&key);
        }
        (None, Some(sub)) => {
            if let Some(Value::Object(parent)) = scope.get_mut(&key)
                && let Some(k) = key_of(parent, sub)
            {
                parent.remove(&k);
            }
        }
        (Some(filter), _) => {
            let Some(Value::Array(items)) = scope.get_mut(&key) else {
                return Ok(());
            };
            match &path.sub {
                None => items.retain(|item| !element_matches(filter, item, attr, case_exact)),
                Some(sub) => {
                    for item in items.iter_mut() {
                        if element_matches(filter, item, attr, case_exact)
                            && let Value::Object(o) = item
                            && let Some(k) = key_of(o, sub)
                        {
                            o.remove(&k);
                        }
                    }
                }
            }
            if items.is_empty() {
                scope.remove(&key);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn exact(_: &AttrPath) -> bool {
        false
    }

    fn patched(resource: Value, body: Value) -> Result<Value, ScimError> {
        let ops = parse(body.as_object().unwrap())?;
        let mut r = resource;
        apply(&mut r, &ops, &[ENTERPRISE], exact)?;
        Ok(r)
    }

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_URN], "Operations": ops})
    }

    #[test]
    fn entra_sends_capitalised_ops_and_pathless_objects() {
        let user = json!({"userName": "a@x.test", "active": true, "name": {"givenName": "A"}});
        let r = patched(
            user,
            body(json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "value": {"name.familyName": "B", "displayName": "A B",
                    ENTERPRISE: {"department": "Ops"}}}
            ])),
        )
        .unwrap();
        assert_eq!(
            r,
            json!({"userName": "a@x.test", "active": "False",
                   "name": {"givenName": "A", "familyname": "B"}, "displayname": "A B",
                   ENTERPRISE: {"department": "Ops"}})
        );
    }

    #[test]
    fn value_filters_pick_make_and_remove_elements() {
        let user = json!({"emails": [{"type": "work", "value": "a@x.test"}],
                          "name": {"givenName": "A", "familyName": "B"},
                          "members": [{"value": "1"}, {"value": "2"}]});
        let r = patched(
            user,
            body(json!([
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x.test"},
                {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1"},
                {"op": "remove", "path": "members[value eq \"1\"]"},
                {"op": "add", "path": "members", "value": [{"value": "2"}, {"value": "3"}]},
                {"op": "replace", "path": "name", "value": {"familyName": "C"}},
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
            ])),
        )
        .unwrap();
        assert_eq!(
            r,
            json!({"emails": [{"type": "work", "value": "b@x.test"}],
                   "name": {"givenName": "A", "familyName": "C"},
                   "members": [{"value": "2"}, {"value": "3"}],
                   "phonenumbers": [{"type": "mobile", "value": "+1"}]})
        );
    }

    #[test]
    fn malformed_patches_name_their_scim_type() {
        let kind = |b: Value| patched(json!({}), b).unwrap_err().scim_type;
        assert_eq!(
            kind(json!({"Operations": []})),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            kind(body(json!([{"op": "remove"}]))),
            Some(ScimType::NoTarget)
        );
        assert_eq!(
            kind(body(json!([{"op": "move", "path": "x"}]))),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            kind(body(
                json!([{"op": "add", "path": "emails[type eq", "value": 1}])
            )),
            Some(ScimType::InvalidPath)
        );
        assert_eq!(
            kind(body(
                json!([{"op": "replace", "path": "emails[type pr].value", "value": "x"}])
            )),
            Some(ScimType::NoTarget)
        );
        assert_eq!(
            kind(body(
                json!([{"op": "add", "path": "urn:example:other:thing", "value": "x"}])
            )),
            Some(ScimType::InvalidPath)
        );
    }
}
