//! Reading the audit log. Events are written by the operations themselves
//! (see [`storage::audit_action`]), one per state-changing request, at the
//! tenant's audit sequence numbers; here they are listed newest first and read
//! one by one.
//!
//! Who reads what: operators every event of their tenant; reseller
//! administrators the events that concern organizations in their subtree
//! (an event's `orgs` chain names theirs). Everyone else 403.
//!
//! Cost: an operator's unfiltered page is one `get_many` of its sequence
//! numbers; a filtered list, or a reseller's, scans back from the newest
//! event, at most [`listing::SCAN_CAP`] events (`truncated` says when more
//! were left unread).

use crate::base::error::{Error, Result};
use crate::base::model::Role;
use crate::be::storage::{self, AuditEvent, Env, keys};
use crate::credential::auth::Caller;
use crate::idm::listing::{self, ListQuery, Page, Row};

/// Columns the audit list filters on (`q[<column>]=`, `*` wildcards).
pub const COLUMNS: [&str; 4] = ["correlation_id", "actor", "target", "action"];

/// Events read per `get_many` when scanning.
const CHUNK: i64 = 100;

fn may_read(caller: &Caller) -> Result<()> {
    caller.require(Role::ResellerAdmin)
}

fn visible(caller: &Caller, event: &AuditEvent) -> bool {
    match caller.org {
        None => caller.role == Role::Operator,
        Some(org) => event.orgs.contains(&org),
    }
}

fn read_range(env: &Env, tenant: &str, high: i64, low: i64) -> Result<Vec<AuditEvent>> {
    if high < low {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = (low..=high)
        .rev()
        .map(|seq| keys::audit_event(tenant, seq))
        .collect();
    Ok(storage::read_many::<AuditEvent>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .collect())
}

fn row(event: AuditEvent) -> Row<AuditEvent> {
    Row {
        columns: vec![
            (
                "correlation_id",
                event.correlation_id.clone().unwrap_or_default(),
            ),
            ("actor", format!("{}:{}", event.actor.kind, event.actor.id)),
            ("target", event.targets.join(" ")),
            ("action", event.action.clone()),
        ],
        date: event.at,
        item: event,
    }
}

/// The events the caller may read, newest first, as `query` asks. A
/// `target` filter matches any of an event's targets (`user:<id>`).
pub fn list(env: &Env, caller: &Caller, query: &ListQuery) -> Result<Page<AuditEvent>> {
    may_read(caller)?;
    let tenant = caller.tenant.as_str();
    let newest = storage::read_counter(env.kv, &keys::audit_seq(tenant))?;
    if query.is_plain() && caller.org.is_none() {
        let skipped = (query.page as i64 - 1).saturating_mul(query.per_page as i64);
        let high = newest.saturating_sub(skipped);
        let low = (high - query.per_page as i64 + 1).max(1);
        let total = newest.max(0) as usize;
        return Ok(Page {
            items: read_range(env, tenant, high, low)?,
            total,
            span: total,
            truncated: false,
        });
    }
    let oldest = (newest - listing::SCAN_CAP as i64 + 1).max(1);
    let mut rows = Vec::new();
    let mut high = newest;
    while high >= oldest {
        let low = (high - CHUNK + 1).max(oldest);
        rows.extend(
            read_range(env, tenant, high, low)?
                .into_iter()
                .filter(|e| visible(caller, e))
                .map(row),
        );
        high = low - 1;
    }
    // Targets are several per event: match the pattern against each.
    let target = query
        .filters
        .iter()
        .find(|(c, _)| c == "target")
        .map(|(_, p)| p.clone());
    let rest = ListQuery {
        filters: query
            .filters
            .iter()
            .filter(|(c, _)| c != "target")
            .cloned()
            .collect(),
        ..query.clone()
    };
    if let Some(pattern) = target {
        rows.retain(|r| {
            r.item
                .targets
                .iter()
                .any(|t| listing::wildcard(&pattern, &t.to_lowercase()))
        });
    }
    let (items, total) = listing::select(rows, &rest);
    Ok(Page {
        items,
        total,
        span: total,
        truncated: oldest > 1,
    })
}

/// One event by its sequence number, if the caller may read it (else 404).
pub fn get(env: &Env, caller: &Caller, seq: i64) -> Result<AuditEvent> {
    may_read(caller)?;
    storage::read::<AuditEvent>(env.kv, &keys::audit_event(&caller.tenant, seq))?
        .map(|r| r.data)
        .filter(|e| visible(caller, e))
        .ok_or_else(|| Error::NotFound(format!("audit event {seq} not found")))
}
