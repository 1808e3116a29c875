//! The authenticated caller and what it may reach; [`crate::credential::identity`] makes
//! one from each family's credential.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::model::Role;
use crate::be::storage::Actor;

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: String,
    pub actor: Actor,
    pub role: Role,
    /// The organization the caller acts from; `None` reaches the whole tenant.
    pub org: Option<Uuid>,
    /// The signed-in user, when the caller is one.
    pub user: Option<Uuid>,
    /// The session the token names, if any.
    pub session: Option<String>,
    /// The stored credential used, if any.
    pub credential: Option<String>,
    /// The user acting through this caller, when the session is an
    /// impersonation (the token's `act` claim).
    pub impersonator: Option<Uuid>,
}

impl Caller {
    /// A tenant's operator acting outside any sign-in (platform admin tooling,
    /// native tests and benchmarks).
    pub fn operator_of(tenant: &str, actor: Actor) -> Self {
        Caller {
            tenant: tenant.to_string(),
            actor,
            role: Role::Operator,
            org: None,
            user: None,
            session: None,
            credential: None,
            impersonator: None,
        }
    }

    /// Records one successful change made by this caller in its own tenant,
    /// so every state-changing request's event names who did it.
    pub fn audit(
        &self,
        env: &crate::be::storage::Env,
        op: &str,
        action: &str,
        targets: Vec<String>,
        scope: Option<&crate::base::model::Organization>,
    ) -> Result<()> {
        crate::be::storage::audit_action(env, op, &self.tenant, &self.actor, action, targets, scope)
    }

    /// 403 unless the caller's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<()> {
        if self.role <= role {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "your role does not allow this operation".into(),
            ))
        }
    }
    /// Whether the caller reaches an organization with these ancestors.
    pub fn reaches(&self, org: &crate::base::model::Organization) -> bool {
        self.org.is_none_or(|mine| org.within(mine))
    }
}

/// Equal-length digests compared without early exit, so timing tells nothing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}
