//! Bulk (RFC 7644 §3.7): many Users and Groups operations in one request,
//! for providers that batch their pushes.
//!
//! Each operation is the single request it stands for, served by the same
//! handler with the same connection (so authenticated, checked and audited
//! alone): a failed one changes nothing of its own and the others still run,
//! until `failOnErrors` errors stop the rest. Results come in the
//! request's order. `bulkId:<id>` in a path or in a
//! data value names the resource another operation of the request creates;
//! an operation waits for the one it names, whatever their order, and one
//! that names a failed, unknown or circular creation is 409 `invalidValue`.
//!
//! The request is read whole first: a malformed one (no operations, more
//! than [`MAX_OPERATIONS`], an operation without a method, path or data its
//! method needs, a repeated `bulkId`) is refused before anything runs.
//! Spin gives an instance [`crate::be::kv::SWAP_TABLE`] compare-and-swaps;
//! an operation that could not finish within what is left is answered 503
//! so the provider sends it again: not started where its writes are known
//! from its data, and where they are not (deleting a group of many
//! members) taken as far as it fits, the rest done by the one sent again.

use std::collections::HashMap;

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::be::storage::Env;
use crate::credential::auth::Caller;
use crate::credential::identity::Config;
use crate::edge::web::{self, Request, Response};
use crate::families::scim::error::{self, ScimError, ScimType};
use crate::families::scim::{self as scim, groups, users};

pub const REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Operations one request carries at most (`maxOperations`): as many
/// user creations as fit in Spin's compare-and-swap table with room to
/// spare (measured: 29 fit), so a full request of them always completes.
pub const MAX_OPERATIONS: usize = 25;
/// The largest request body (`maxPayloadSize`): every endpoint's limit.
pub const MAX_PAYLOAD_BYTES: usize = web::MAX_BODY_BYTES;
/// Compare-and-swaps an operation is started with at least, besides one
/// per value it carries (a group's members each take one).
const SWAPS_PER_OPERATION: usize = 24;

const BULK_ID_PREFIX: &str = "bulkId:";

/// One operation as the request gives it.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    bulk_id: Option<String>,
    path: String,
    version: Option<String>,
    data: Option<Value>,
}

/// Where an operation goes: a collection or one resource in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Users,
    Groups,
}

impl Target {
    fn collection(self) -> &'static str {
        match self {
            Target::Users => "Users",
            Target::Groups => "Groups",
        }
    }
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidSyntax, detail)
}

/// The target and the id (if any) of a path such as `/Users/{id}`.
fn route(path: &str) -> Option<(Target, Option<&str>)> {
    let rest = path.strip_prefix('/')?;
    let (collection, id) = match rest.split_once('/') {
        Some((c, id)) => (c, Some(id)),
        None => (rest, None),
    };
    let target = [Target::Users, Target::Groups]
        .into_iter()
        .find(|t| t.collection() == collection)?;
    match id {
        Some(id) if id.is_empty() || id.contains(['/', '?', '#']) => None,
        _ => Some((target, id)),
    }
}

/// Reads the request whole; any fault refuses it before anything runs.
fn parse(body: &Map<String, Value>) -> Result<(Vec<Operation>, Option<usize>), ScimError> {
    let field = |name: &str| {
        body.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let named = field("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(REQUEST_URN)));
    if !named {
        return Err(syntax(format!("schemas must name {REQUEST_URN}")));
    }
    let fail_on_errors = match field("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(ScimError::bad(
                    ScimType::InvalidValue,
                    "failOnErrors is an integer of at least 1",
                ));
            }
        },
    };
    let ops = field("Operations")
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| syntax("Operations is a non-empty array"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::new(
            413,
            None,
            format!("a bulk request carries at most {MAX_OPERATIONS} operations (maxOperations)"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let o = op
            .as_object()
            .ok_or_else(|| syntax(format!("Operations[{i}] is an object")))?;
        let get = |name: &str| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
                .filter(|v| !v.is_null())
        };
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None => Ok(None),
                Some(Value::String(s)) if s.len() <= 1024 => Ok(Some(s.clone())),
                Some(_) => Err(syntax(format!(
                    "Operations[{i}].{name} is a string of at most 1024 bytes"
                ))),
            }
        };
        let method = match text("method")?.map(|m| m.to_ascii_uppercase()).as_deref() {
            Some("POST") => Method::POST,
            Some("PUT") => Method::PUT,
            Some("PATCH") => Method::PATCH,
            Some("DELETE") => Method::DELETE,
            _ => {
                return Err(syntax(format!(
                    "Operations[{i}].method is POST, PUT, PATCH or DELETE"
                )));
            }
        };
        let path =
            text("path")?.ok_or_else(|| syntax(format!("Operations[{i}].path is required")))?;
        let Some((_, id)) = route(&path) else {
            return Err(syntax(format!(
                "Operations[{i}].path is /Users, /Groups, /Users/{{id}} or /Groups/{{id}}"
            )));
        };
        if (method == Method::POST) != id.is_none() {
            return Err(syntax(format!(
                "Operations[{i}]: POST goes to /Users or /Groups, the others to one resource"
            )));
        }
        let bulk_id = text("bulkId")?;
        if method == Method::POST && bulk_id.is_none() {
            return Err(syntax(format!(
                "Operations[{i}].bulkId is required with POST"
            )));
        }
        if let Some(b) = &bulk_id
            && (b.is_empty() || !seen.insert(b.clone()))
        {
            return Err(ScimError::bad(
                ScimType::Uniqueness,
                format!("Operations[{i}].bulkId {b:?} is empty or used twice"),
            ));
        }
        let data = get("data").cloned();
        match (&data, method == Method::DELETE) {
            (Some(Value::Object(_)), false) | (None, true) => {}
            _ => {
                return Err(syntax(format!(
                    "Operations[{i}].data is an object with POST, PUT and PATCH, and absent with DELETE"
                )));
            }
        }
        let version = text("version")?;
        if version
            .as_deref()
            .is_some_and(|v| !v.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            return Err(syntax(format!(
                "Operations[{i}].version is an ETag (visible ASCII)"
            )));
        }
        out.push(Operation {
            method,
            bulk_id,
            path,
            version,
            data,
        });
    }
    Ok((out, fail_on_errors))
}

/// The `bulkId`s a path or data names.
fn references(op: &Operation) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                    out.push(id.to_string());
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => o.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some((_, Some(id))) = route(&op.path) {
        walk(&Value::String(id.to_string()), &mut out);
    }
    if let Some(d) = &op.data {
        walk(d, &mut out);
    }
    out
}

/// Values an operation carries: its data's leaves, a bound on the records
/// it may write (a group's members each take a compare-and-swap).
fn weight(v: &Option<Value>) -> usize {
    fn count(v: &Value) -> usize {
        match v {
            Value::Array(a) => a.iter().map(count).sum::<usize>() + 1,
            Value::Object(o) => o.values().map(count).sum::<usize>().max(1),
            _ => 1,
        }
    }
    v.as_ref().map_or(0, count)
}

/// `bulkId:<id>` strings replaced by the ids created for them.
fn resolve(v: &mut Value, created: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX).and_then(|b| created.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| resolve(v, created)),
        Value::Object(o) => o.values_mut().for_each(|v| resolve(v, created)),
        _ => {}
    }
}

/// The single request an operation stands for: the bulk request's own
/// headers (the connection's token, the host) but for those that belong to
/// one resource, which the operation sets itself.
fn sub_request(
    req: &Request,
    method: Method,
    path: &str,
    id: Option<&str>,
    version: Option<&str>,
    data: Option<&Value>,
) -> Option<Request> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", scim::BASE_PATH));
    for (name, value) in req.headers() {
        let n = name.as_str();
        let own = n.starts_with("spin-path-")
            || n == "spin-matched-route"
            || matches!(
                n,
                "if-match" | "if-none-match" | "content-length" | "content-type"
            );
        if !own {
            b = b.header(name, value);
        }
    }
    if let Some(id) = id {
        b = b.header("spin-path-match-id", id);
    }
    if let Some(v) = version {
        b = b.header("if-match", v);
    }
    let body = data
        .map(|d| serde_json::to_vec(d).unwrap_or_default())
        .unwrap_or_default();
    b.header("content-type", error::CONTENT_TYPE)
        .body(body)
        .ok()
}

/// Runs one operation (its references resolved) and says what came of it,
/// with the id it created.
fn run(
    req: &Request,
    env: &mut Env,
    config: &Config,
    op: &Operation,
    created: &HashMap<String, String>,
) -> (Value, Option<String>) {
    let path = match route(&op.path) {
        Some((target, Some(id))) => {
            match id.strip_prefix(BULK_ID_PREFIX).and_then(|b| created.get(b)) {
                Some(real) => format!("/{}/{real}", target.collection()),
                None => op.path.clone(),
            }
        }
        _ => op.path.clone(),
    };
    let mut data = op.data.clone();
    if let Some(d) = &mut data {
        resolve(d, created);
    }
    let Some((target, id)) = route(&path) else {
        return (failed(req, op, &syntax("the path is not a resource")), None);
    };
    let Some(sub) = sub_request(
        req,
        op.method.clone(),
        &path,
        id,
        op.version.as_deref(),
        data.as_ref(),
    ) else {
        return (
            failed(req, op, &syntax("the operation is not a request")),
            None,
        );
    };
    let response: Response = match (target, id.is_some()) {
        (Target::Users, false) => users::users(&sub, env, config),
        (Target::Users, true) => users::user(&sub, env, config),
        (Target::Groups, false) => groups::groups_endpoint(&sub, env, config),
        (Target::Groups, true) => groups::group_endpoint(&sub, env, config),
    };
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    let mut result = Map::new();
    result.insert("method".into(), json!(op.method.as_str()));
    if let Some(b) = &op.bulk_id {
        result.insert("bulkId".into(), json!(b));
    }
    let new_id = (op.method == Method::POST && status == StatusCode::CREATED)
        .then(|| body["id"].as_str().map(str::to_string))
        .flatten();
    let at = header("location").or_else(|| id.map(|_| location(req, &path)));
    if let Some(l) = at {
        result.insert("location".into(), json!(l));
    }
    if status.is_success() {
        if let Some(v) = header("etag") {
            result.insert("version".into(), json!(v));
        }
    } else {
        result.insert("response".into(), body);
    }
    result.insert("status".into(), json!(status.as_u16().to_string()));
    (Value::Object(result), new_id)
}

/// Where an operation on one resource went (RFC 7644 §3.7.3: every
/// result but a POST's failure has a `location`).
fn location(req: &Request, path: &str) -> String {
    format!("{}{}{path}", scim::origin(req), scim::BASE_PATH)
}

/// An operation's result when it fails without running.
fn failed(req: &Request, op: &Operation, e: &ScimError) -> Value {
    let mut result = Map::new();
    result.insert("method".into(), json!(op.method.as_str()));
    if let Some(b) = &op.bulk_id {
        result.insert("bulkId".into(), json!(b));
    }
    if op.method != Method::POST {
        result.insert("location".into(), json!(location(req, &op.path)));
    }
    result.insert("status".into(), json!(e.status.to_string()));
    result.insert("response".into(), error::body(e));
    Value::Object(result)
}

fn is_error(result: &Value) -> bool {
    result["status"]
        .as_str()
        .and_then(|s| s.parse::<u16>().ok())
        .is_none_or(|s| s >= 400)
}

/// The operations in an order that runs each after the creations it
/// names; their results in the order the request gives them (those
/// `failOnErrors` stopped before running are left out).
fn run_all(
    req: &Request,
    env: &mut Env,
    config: &Config,
    ops: &[Operation],
    fail_on_errors: Option<usize>,
) -> Vec<Value> {
    let defined: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.bulk_id.as_deref().map(|b| (b, i)))
        .collect();
    let mut created: HashMap<String, String> = HashMap::new();
    // Creations answered 503: what names them is 503 too, to send again.
    let mut postponed: Vec<String> = Vec::new();
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut errors = 0usize;
    let mut out_of_swaps = false;
    let stopped = |errors: usize| fail_on_errors.is_some_and(|n| errors >= n);
    loop {
        let mut progressed = false;
        for (i, op) in ops.iter().enumerate() {
            if results[i].is_some() || stopped(errors) {
                continue;
            }
            let refs = references(op);
            // A creation that has not run yet (and may still succeed).
            let waiting = refs.iter().any(|r| {
                !created.contains_key(r)
                    && defined
                        .get(r.as_str())
                        .is_some_and(|&j| results[j].is_none())
            });
            if waiting {
                continue;
            }
            progressed = true;
            let missing = refs.iter().find(|r| !created.contains_key(*r));
            let waits_on_postponed = missing.is_some_and(|r| postponed.contains(r));
            let no_room = missing.is_none()
                && (out_of_swaps || env.kv.swaps_left() < SWAPS_PER_OPERATION + weight(&op.data));
            let result = if waits_on_postponed || no_room {
                out_of_swaps |= no_room;
                failed(
                    req,
                    op,
                    &ScimError::new(
                        503,
                        None,
                        "not run: this request made all the writes it may; send the operation again",
                    ),
                )
            } else if let Some(r) = missing {
                failed(
                    req,
                    op,
                    &ScimError::new(
                        409,
                        Some(ScimType::InvalidValue),
                        format!("bulkId {r:?} names no resource this request created"),
                    ),
                )
            } else {
                let (result, new_id) = run(req, env, config, op, &created);
                if let (Some(b), Some(id)) = (&op.bulk_id, new_id) {
                    created.insert(b.clone(), id);
                }
                result
            };
            if result["status"] == "503"
                && let Some(b) = &op.bulk_id
            {
                postponed.push(b.clone());
            }
            if is_error(&result) {
                errors += 1;
            }
            results[i] = Some(result);
        }
        if !progressed {
            break;
        }
    }
    // What is left waits on itself (a cycle of creations).
    if !stopped(errors) {
        for (i, op) in ops.iter().enumerate() {
            if results[i].is_none() {
                results[i] = Some(failed(
                    req,
                    op,
                    &ScimError::new(
                        409,
                        Some(ScimType::InvalidValue),
                        "the bulkIds of this operation and another name each other",
                    ),
                ));
            }
        }
    }
    results.into_iter().flatten().collect()
}

/// `POST /scim/v2/Bulk`.
pub fn bulk(req: &Request, env: &mut Env, config: &Config) -> Response {
    scim::serve(req, env, config, &[Method::POST], |_: &Caller, env| {
        let (ops, fail_on_errors) = parse(&scim::body(req)?)?;
        let results = run_all(req, env, config, &ops, fail_on_errors);
        Ok(scim::respond(
            StatusCode::OK,
            &json!({"schemas": [RESPONSE_URN], "Operations": results}),
            None,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_malformed_request_is_refused_whole() {
        let refused = |ops: Value| {
            let e = parse(&body(json!({"schemas": [REQUEST_URN], "Operations": ops}))).unwrap_err();
            (e.status, e.scim_type)
        };
        let syntax = (400, Some(ScimType::InvalidSyntax));
        assert_eq!(refused(json!([])), syntax);
        assert_eq!(
            refused(json!([{"method": "GET", "path": "/Users/1"}])),
            syntax
        );
        assert_eq!(
            refused(json!([{"method": "POST", "path": "/Users", "data": {}}])),
            syntax
        );
        assert_eq!(
            refused(json!([{"method": "POST", "path": "/Users/1", "bulkId": "a", "data": {}}])),
            syntax
        );
        assert_eq!(
            refused(json!([{"method": "PATCH", "path": "/Schemas/1", "data": {}}])),
            syntax
        );
        assert_eq!(
            refused(json!([{"method": "DELETE", "path": "/Users/1", "data": {}}])),
            syntax
        );
        assert_eq!(
            refused(
                json!([{"method": "POST", "path": "/Users", "bulkId": "a", "data": {}},
                           {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {}}])
            ),
            (400, Some(ScimType::Uniqueness))
        );
        let many: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|_| json!({"method": "DELETE", "path": "/Users/1"}))
            .collect();
        assert_eq!(refused(Value::Array(many)), (413, None));
        let e = parse(&body(
            json!({"Operations": [{"method": "DELETE", "path": "/Users/1"}]}),
        ))
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    }

    #[test]
    fn references_are_found_in_the_path_and_the_data() {
        let (ops, fail) = parse(&body(json!({"schemas": [REQUEST_URN], "failOnErrors": 2,
            "Operations": [{"method": "patch", "path": "/Groups/bulkId:g",
                "data": {"Operations": [{"op": "add", "path": "members",
                    "value": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}]}}]})))
        .unwrap();
        assert_eq!(fail, Some(2));
        assert_eq!(references(&ops[0]), ["g", "u1", "u2"]);
        let mut data = ops[0].data.clone().unwrap();
        resolve(
            &mut data,
            &HashMap::from([("u1".to_string(), "id-1".to_string())]),
        );
        assert_eq!(
            data["Operations"][0]["value"],
            json!([{"value": "id-1"}, {"value": "bulkId:u2"}])
        );
    }
}
