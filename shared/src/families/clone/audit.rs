//! The Audit section: `GET /v2/audit/events` and `GET /v2/audit/events/{id}`
//! (the vendor lists "Get all events" and "Get event by id" without paths or
//! shapes; these follow the family's other lists).

use http::{Method, StatusCode};

use super::{authenticate, list_body, render_error};
use crate::base::error::Error;
use crate::be::storage::{AuditEvent, Env};
use crate::credential::identity::Config;
use crate::edge::web::{self, Request, Response};
use crate::{base::time, idm::audit};

fn event_data(e: &AuditEvent) -> EventData<'_> {
    EventData {
        id: e.seq.to_string(),
        kind: "audit_events",
        attributes: EventAttributes {
            id: e.seq,
            occurred_at: time::format_millis(e.at),
            actor: ActorRef {
                kind: &e.actor.kind,
                id: &e.actor.id,
            },
            action: &e.action,
            targets: &e.targets,
            outcome: &e.outcome,
            correlation_id: e.correlation_id.as_deref(),
        },
        relationships: web::Empty {},
    }
}

/// One audit event as a `/v2` resource.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct EventData<'a> {
    /// The event's number, as a string
    #[cfg_attr(feature = "openapi", schemars(regex(pattern = "^[0-9]+$")))]
    pub id: String,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schemars(with = "AuditEventsType"))]
    pub kind: &'static str,
    pub attributes: EventAttributes<'a>,
    pub relationships: web::Empty,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct EventAttributes<'a> {
    /// The event's number in the tenant's sequence
    #[cfg_attr(feature = "openapi", schemars(range(min = 1)))]
    pub id: i64,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub occurred_at: String,
    pub actor: ActorRef<'a>,
    pub action: &'a str,
    /// `user:<id>`, `organization:<id>`...
    pub targets: &'a [String],
    pub outcome: &'a str,
    pub correlation_id: Option<&'a str>,
}

/// Who acted: `user`, `api_client`...
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ActorRef<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub id: &'a str,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(AuditEventsType, ["audit_events"]);

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
        Ok(web::serialized(
            StatusCode::OK,
            &super::Data {
                data: event_data(&event),
            },
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}
