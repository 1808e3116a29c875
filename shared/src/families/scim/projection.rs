//! What a read returns (RFC 7644 §3.4.2.5 `attributes` and
//! `excludedAttributes`, §3.4.2.3 `sortBy` and `sortOrder`), applied to a
//! resource's full SCIM representation.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::families::scim::filter::{self, AttrPath, CORE_URN as CORE, SyntaxError};

/// Attributes returned whatever the request asks (RFC 7643 §7, `returned:
/// always`).
const ALWAYS: [&str; 2] = ["id", "schemas"];

/// A comma-separated list of attribute paths.
pub fn parse_list(text: &str) -> Result<Vec<AttrPath>, SyntaxError> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let path = filter::parse_path(p)?;
            if path.filter.is_some() {
                return Err(SyntaxError(format!("{p:?} is not an attribute path")));
            }
            Ok(path.attr)
        })
        .collect()
}

/// Whether `key` (a member of the resource: an extension's URN or a name)
/// is what `path` names at this level.
fn names(path: &AttrPath, key: &str) -> bool {
    match &path.urn {
        Some(urn) if key.contains(':') => {
            key.eq_ignore_ascii_case(urn) || whole_extension(path, key)
        }
        Some(urn) => urn.starts_with(CORE) && key.eq_ignore_ascii_case(&path.name),
        None => key.eq_ignore_ascii_case(&path.name),
    }
}

/// Whether `path` is the extension URN `key` itself (it parses as the
/// URN's last segment under the rest).
fn whole_extension(path: &AttrPath, key: &str) -> bool {
    path.sub.is_none()
        && path.urn.as_ref().is_some_and(|urn| {
            key.len() == urn.len() + 1 + path.name.len()
                && key.eq_ignore_ascii_case(&format!("{urn}:{}", path.name))
        })
}

/// The resource cut to `attributes` (when given: those and the ones always
/// returned), or without `excluded`.
pub fn project(resource: &Value, attributes: &[AttrPath], excluded: &[AttrPath]) -> Value {
    let Some(object) = resource.as_object() else {
        return resource.clone();
    };
    if !attributes.is_empty() {
        let mut out = Map::new();
        for (key, value) in object {
            if ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(key)) {
                out.insert(key.clone(), value.clone());
                continue;
            }
            let wanted: Vec<&AttrPath> = attributes.iter().filter(|p| names(p, key)).collect();
            if wanted.is_empty() {
                continue;
            }
            // An extension's URN: keep the members its paths name.
            if key.contains(':') {
                let inner: Vec<AttrPath> = wanted.iter().map(|p| unqualified(p)).collect();
                let whole = wanted.iter().any(|p| whole_extension(p, key));
                out.insert(
                    key.clone(),
                    if whole {
                        value.clone()
                    } else {
                        project_members(value, &inner)
                    },
                );
                continue;
            }
            let one = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
            let paths: Vec<AttrPath> = wanted.into_iter().map(unqualified).collect();
            if let Value::Object(mut cut) = project_members(&one, &paths) {
                out.append(&mut cut);
            }
        }
        return Value::Object(out);
    }
    let mut out = object.clone();
    for path in excluded {
        let core = path.urn.as_ref().is_none_or(|u| u.starts_with(CORE));
        if core && ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(&path.name)) {
            continue;
        }
        let keys: Vec<String> = out.keys().filter(|k| names(path, k)).cloned().collect();
        for key in keys {
            if whole_extension(path, &key) {
                out.remove(&key);
            } else if key.contains(':') {
                if let Some(ext) = out.get_mut(&key) {
                    remove_member(ext, &unqualified(path));
                }
            } else if let Some(value) = out.get_mut(&key) {
                if let Some(sub) = &path.sub {
                    remove_member(value, &plain(sub.clone()));
                } else {
                    out.remove(&key);
                }
            }
        }
    }
    Value::Object(out)
}

/// A URN-qualified path as a path inside its extension object.
fn unqualified(path: &AttrPath) -> AttrPath {
    AttrPath {
        urn: None,
        name: path.name.clone(),
        sub: path.sub.clone(),
    }
}

/// The members of an object (or of each element of an array of objects)
/// that `paths` name: a member whole when a path names it alone, else cut to
/// the sub-attributes the paths name.
fn project_members(value: &Value, paths: &[AttrPath]) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| project_members(i, paths)).collect())
        }
        Value::Object(o) => Value::Object(
            o.iter()
                .filter_map(|(k, v)| {
                    let wanted: Vec<&AttrPath> = paths.iter().filter(|p| names(p, k)).collect();
                    if wanted.is_empty() {
                        return None;
                    }
                    if wanted.iter().any(|p| p.sub.is_none()) {
                        return Some((k.clone(), v.clone()));
                    }
                    let subs: Vec<AttrPath> = wanted
                        .iter()
                        .filter_map(|p| p.sub.clone())
                        .map(plain)
                        .collect();
                    Some((k.clone(), project_members(v, &subs)))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn plain(name: String) -> AttrPath {
    AttrPath {
        urn: None,
        name,
        sub: None,
    }
}

/// Removes the member `path` names (or, with a sub-attribute, that
/// sub-attribute of it) from an object or each element of an array.
fn remove_member(value: &mut Value, path: &AttrPath) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|i| remove_member(i, path)),
        Value::Object(o) => match &path.sub {
            None => o.retain(|k, _| !names(path, k)),
            Some(sub) => o
                .iter_mut()
                .filter(|(k, _)| names(path, k))
                .for_each(|(_, v)| remove_member(v, &plain(sub.clone()))),
        },
        _ => {}
    }
}

/// The value a resource sorts by: the attribute's, or a multi-valued one's
/// primary (else first) element's `value` (RFC 7644 §3.4.2.3).
fn sort_key<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let scope = match &path.urn {
        Some(urn) if urn.starts_with(CORE) => resource,
        Some(urn) => filter::member(resource, urn)?,
        None => resource,
    };
    let v = filter::member(scope, &path.name)?;
    let v = match v {
        Value::Array(items) => items
            .iter()
            .find(|i| filter::member(i, "primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?,
        other => other,
    };
    let key = match &path.sub {
        Some(sub) => filter::member(v, sub),
        None if v.is_object() => filter::member(v, "value"),
        None => Some(v),
    };
    key.filter(|k| !k.is_null())
}

/// Values of different types order by type, so the order is total.
fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

fn order(a: Option<&Value>, b: Option<&Value>, case_exact: bool) -> Ordering {
    match (a, b) {
        // Resources without the attribute sort last, in either order.
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::String(x)), Some(Value::String(y))) if !case_exact => {
            x.to_lowercase().cmp(&y.to_lowercase())
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => rank(x).cmp(&rank(y)),
    }
}

/// Sorts resources by `path` (stable, so equal keys keep the store's order).
pub fn sort(
    resources: &mut [Value],
    path: &AttrPath,
    descending: bool,
    case_exact: filter::CaseExact,
) {
    let exact = case_exact(path);
    resources.sort_by(|a, b| {
        let (ka, kb) = (sort_key(a, path), sort_key(b, path));
        let o = order(ka, kb, exact);
        // Absent keys stay last when descending too.
        if descending && ka.is_some() && kb.is_some() {
            o.reverse()
        } else {
            o
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "1", "userName": "a@example.com",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "a@example.com", "type": "work", "primary": true}],
            "meta": {"resourceType": "User"},
            ENTERPRISE: {"department": "Ops", "employeeNumber": "7",
                         "manager": {"value": "9", "displayName": "Bo"}}
        })
    }

    #[test]
    fn attributes_keep_what_they_name_and_what_is_always_returned() {
        let only = parse_list("userName, name.givenName,EMAILS.value").unwrap();
        assert_eq!(
            project(&user(), &only, &[]),
            json!({"schemas": user()["schemas"], "id": "1", "userName": "a@example.com",
                   "name": {"givenName": "Ann"}, "emails": [{"value": "a@example.com"}]})
        );
        let ext = parse_list(&format!("{ENTERPRISE}:department")).unwrap();
        assert_eq!(
            project(&user(), &ext, &[])[ENTERPRISE],
            json!({"department": "Ops"})
        );
        let whole = parse_list(ENTERPRISE).unwrap();
        assert_eq!(
            project(&user(), &whole, &[])[ENTERPRISE],
            user()[ENTERPRISE]
        );
        let core = parse_list("urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap();
        assert_eq!(project(&user(), &core, &[])["userName"], "a@example.com");
    }

    #[test]
    fn excluded_attributes_drop_what_they_name_but_never_the_id() {
        let out = project(
            &user(),
            &[],
            &parse_list("name,emails.type,id,meta").unwrap(),
        );
        assert!(out.get("name").is_none() && out.get("meta").is_none());
        assert_eq!(out["id"], "1");
        assert_eq!(
            out["emails"],
            json!([{"value": "a@example.com", "primary": true}])
        );
        let out = project(
            &user(),
            &[],
            &parse_list(&format!("{ENTERPRISE}:employeeNumber")).unwrap(),
        );
        assert_eq!(out[ENTERPRISE].get("employeeNumber"), None);
        assert_eq!(out[ENTERPRISE]["department"], "Ops");
        let out = project(&user(), &[], &parse_list(ENTERPRISE).unwrap());
        assert!(out.get(ENTERPRISE).is_none());
        let id = parse_list("urn:ietf:params:scim:schemas:core:2.0:User:id").unwrap();
        assert_eq!(project(&user(), &[], &id)["id"], "1");
        let manager = format!("{ENTERPRISE}:manager.displayName");
        let out = project(&user(), &[], &parse_list(&manager).unwrap());
        assert_eq!(out[ENTERPRISE]["manager"], json!({"value": "9"}));
        let out = project(&user(), &parse_list(&manager).unwrap(), &[]);
        assert_eq!(out[ENTERPRISE], json!({"manager": {"displayName": "Bo"}}));
    }

    #[test]
    fn sorting_is_case_insensitive_and_puts_absent_values_last() {
        let mut all = vec![
            json!({"id": "1", "userName": "b"}),
            json!({"id": "2"}),
            json!({"id": "3", "userName": "A"}),
            json!({"id": "4", "userName": "c"}),
            json!({"id": "5", "userName": null}),
            json!({"id": "6", "userName": 7}),
            json!({"id": "7", "userName": true}),
        ];
        let by = parse_list("userName").unwrap().remove(0);
        sort(&mut all, &by, false, |_| false);
        let ids: Vec<&str> = all.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["7", "6", "3", "1", "4", "2", "5"]);
        sort(&mut all, &by, true, |_| false);
        let ids: Vec<&str> = all.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["4", "1", "3", "6", "7", "2", "5"]);
    }

    #[test]
    fn a_list_of_filters_is_refused() {
        assert!(parse_list(r#"emails[type eq "work"]"#).is_err());
        assert!(parse_list("a b").is_err());
    }
}
