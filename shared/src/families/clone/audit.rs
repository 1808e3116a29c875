//! The Audit section: `GET /v2/audit/events` and `GET /v2/audit/events/{id}`
//! (the vendor lists "Get all events" and "Get event by id" without paths or
//! shapes; these follow the family's other lists).

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{authenticate, list_body, render_error};
use crate::base::error::Error;
use crate::be::storage::{AuditEvent, Env};
use crate::credential::identity::Config;
use crate::edge::web::{self, Request, Response};
use crate::{base::time, idm::audit};

fn event_data(e: &AuditEvent) -> Value {
    json!({
        "id": e.seq.to_string(),
        "type": "audit_events",
        "attributes": {
            "id": e.seq,
            "occurred_at": time::format_millis(e.at),
            "actor": {"type": e.actor.kind, "id": e.actor.id},
            "action": e.action,
            "targets": e.targets,
            "outcome": e.outcome,
            "correlation_id": e.correlation_id,
        },
        "relationships": {}
    })
}

/// `GET /v2/audit/events`: newest first; `q[correlation_id]`, `q[actor]`
/// (`user:<id>`, `api_client:<id>`), `q[target]` (`user:<id>`,
/// `organization:<id>`), `q[action]`, the date window parameters and paging
/// as the other lists.
pub fn audit_events(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::GET {
            return Err(Error::MethodNotAllowed(vec![Method::GET]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let query = crate::idm::listing::parse(req.uri().query(), &audit::COLUMNS, env.now)?;
        let page = audit::list(env, &caller, &query)?;
        let data = page.items.iter().map(event_data).collect();
        Ok(web::serialized(
            StatusCode::OK,
            &list_body(&page, &query, data),
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `GET /v2/audit/events/{id}`: one event (404 outside the caller's reach).
pub fn audit_event(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::GET {
            return Err(Error::MethodNotAllowed(vec![Method::GET]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let raw = web::path_param(req, "id").unwrap_or_default();
        let seq: i64 = raw
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::NotFound(format!("audit event {raw} not found")))?;
        let event = audit::get(env, &caller, seq)?;
        Ok(web::json(
            StatusCode::OK,
            &json!({"data": event_data(&event)}),
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}
