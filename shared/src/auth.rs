//! Who is calling. For now one credential: the operator key from the secret
//! Spin variable `operator_key`, sent as `Authorization: Bearer <key>`, acting in
//! the default tenant. The identity issue replaces this with real accounts.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::Role;
use crate::storage::Actor;

/// The tenant every request acts in until tenants are resolved per request.
pub const DEFAULT_TENANT: &str = "default";

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: String,
    pub actor: Actor,
    pub role: Role,
    /// The organization the caller acts from; `None` reaches the whole tenant.
    pub org: Option<Uuid>,
}

impl Caller {
    /// Whether the caller reaches an organization with these ancestors.
    pub fn reaches(&self, org: &crate::model::Organization) -> bool {
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

/// Checks `Authorization: Bearer <operator key>`. An unset or empty key
/// refuses everyone rather than letting anyone in.
pub fn operator(authorization: Option<&str>, configured: Option<&str>) -> Result<Caller> {
    let presented = authorization
        .and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Unauthenticated("missing or malformed bearer credential".into()))?;
    match configured.filter(|k| !k.is_empty()) {
        Some(key) if constant_time_eq(presented.as_bytes(), key.as_bytes()) => Ok(Caller {
            tenant: DEFAULT_TENANT.into(),
            actor: Actor {
                kind: "operator".into(),
                id: "operator".into(),
            },
            role: Role::Operator,
            org: None,
        }),
        _ => Err(Error::Unauthenticated("invalid credential".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_key() {
        assert!(operator(Some("Bearer k1"), Some("k1")).is_ok());
        assert!(operator(Some("bearer  k1 "), Some("k1")).is_ok());
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer k2"),
            Some("Basic k1"),
            Some("k1"),
        ] {
            assert!(
                matches!(operator(bad, Some("k1")), Err(Error::Unauthenticated(_))),
                "{bad:?}"
            );
        }
        assert!(operator(Some("Bearer "), Some("")).is_err());
        assert!(operator(Some("Bearer x"), None).is_err());
    }
}
