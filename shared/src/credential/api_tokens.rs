//! API tokens (Gcore `Authorization: APIKey <id>_<secret>`): numbered per
//! tenant, bound to the user who issued them and to one organization (the
//! Gcore client), with a role no wider than the issuer's and an optional
//! expiry. Only a keyed hash of the token is stored; the token is shown once.

use crate::base::error::{Error, Result};
use crate::base::model::{Organization, Role};
use crate::base::time::Millis;
use crate::be::storage::{self, Env};
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config, Credential, CredentialKind, gkeys};
use crate::credential::secrets;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub name: String,
    pub description: Option<String>,
    pub expires_at: Option<Millis>,
    pub role: Role,
}

fn list(org: &Organization) -> String {
    format!("org/{}/tokens", org.id)
}

fn record_id(n: u64) -> String {
    format!("tok-{n}")
}

/// Issues a token for the signed-in caller in `org`; returns it with the
/// clear token (`<number>_<secret>`).
pub fn create(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    org: &Organization,
    input: &NewApiToken,
) -> Result<(Credential, String)> {
    let user = caller
        .user
        .ok_or_else(|| Error::Forbidden("tokens are issued by users".into()))?;
    if input.role < caller.role {
        return Err(Error::invalid(
            "client_user.role",
            "a token's role cannot be wider than your own",
        ));
    }
    if input.expires_at.is_some_and(|e| e <= env.now) {
        return Err(Error::invalid("exp_date", "must be in the future"));
    }
    let n = storage::bump_count(env, &caller.tenant, "api-token-number", 1)? as u64;
    let token = format!("{n}_{}", secrets::random_secret(env.random));
    let credential = Credential {
        user: Some(user),
        org: Some(org.id),
        role: Some(input.role),
        description: input.description.clone(),
        number: Some(n),
        expires_at: input.expires_at,
        ..Credential::new(record_id(n), CredentialKind::ApiToken, &input.name, env.now)
    };
    let credential = identity::issue_credential(env, config, &caller.tenant, credential, &token)?;
    let pos = storage::index_position(env, &caller.tenant, &list(org))?;
    storage::index_put_str(env, &caller.tenant, &list(org), pos, &credential.id)?;
    caller.audit(
        env,
        &format!("cred/{}", credential.id),
        "api_token.create",
        vec![format!("api_token:{n}")],
        Some(org),
    )?;
    Ok((credential, token))
}

/// Whether the caller sees (and may delete) a token: its own, or as an
/// administrator any token of the organization whose role is no wider than
/// the caller's (the rule for changing users).
fn visible(caller: &Caller, c: &Credential) -> bool {
    let own = c.user.is_some() && c.user == caller.user;
    let narrower = c.role.unwrap_or(Role::User) >= caller.role;
    c.kind == CredentialKind::ApiToken && (own || (caller.role.is_admin() && narrower))
}

/// The organization's live tokens the caller sees, oldest first (up to 1,000).
pub fn list_tokens(env: &Env, caller: &Caller, org: &Organization) -> Result<Vec<Credential>> {
    Ok(
        identity::listed_credentials(env, &caller.tenant, &list(org), 1000)?
            .into_iter()
            .filter(|c| c.live(env.now) && c.org == Some(org.id) && visible(caller, c))
            .collect(),
    )
}

/// Whether `user` holds a live token of `org` (a user with tokens is not
/// removed from its client).
pub fn has_live_tokens(
    env: &Env,
    tenant: &str,
    org: &Organization,
    user: uuid::Uuid,
) -> Result<bool> {
    Ok(identity::listed_credentials(env, tenant, &list(org), 1000)?
        .into_iter()
        .any(|c| c.live(env.now) && c.user == Some(user)))
}

/// Revokes every live token `user` holds in `org` (its user is purged: no
/// credential outlives the record it names).
pub fn revoke_all_of(env: &Env, tenant: &str, org: &Organization, user: uuid::Uuid) -> Result<()> {
    for token in identity::listed_credentials(env, tenant, &list(org), 1000)?
        .into_iter()
        .filter(|c| c.live(env.now) && c.user == Some(user))
    {
        identity::revoke_credential(env, tenant, &token.id)?;
    }
    Ok(())
}

/// One live token of the organization the caller sees, else 404.
pub fn get(env: &Env, caller: &Caller, org: &Organization, n: u64) -> Result<Credential> {
    storage::read::<Credential>(env.kv, &gkeys::stored(&caller.tenant, &record_id(n)))?
        .map(|r| r.data)
        .filter(|c| c.live(env.now) && c.org == Some(org.id) && visible(caller, c))
        .ok_or_else(|| Error::NotFound("API token not found.".into()))
}

/// Revokes a token for good: it fails from the next request on.
pub fn delete(env: &Env, caller: &Caller, org: &Organization, n: u64) -> Result<()> {
    let token = get(env, caller, org, n)?;
    identity::revoke_credential(env, &caller.tenant, &token.id)?;
    caller.audit(
        env,
        &format!("revoke/{}", token.id),
        "api_token.delete",
        vec![format!("api_token:{n}")],
        Some(org),
    )
}
