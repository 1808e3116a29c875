//! SCIM connections: the bearer token an identity provider (Okta, Entra ID)
//! provisions one customer organization with. Made by an administrator who
//! reaches the organization, shown once, stored as a keyed hash, listed
//! without its secret, revocable. The token acts as that organization's
//! administrator and nothing wider: it can never reach outside it. One made
//! by a user lives only while that user is still an administrator over the
//! organization: a demoted or removed admin's connections stop with it.

use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::model::{OrgKind, Organization, Role, Tenant, User};
use crate::be::storage::{self, Actor, Env, keys};
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config, Credential, CredentialKind, gkeys};
use crate::credential::secrets;

/// What a token starts with, so a leaked one is recognisable (secret
/// scanners) and never mistaken for another family's credential.
pub const TOKEN_PREFIX: &str = "scim_";

/// Connections one organization holds at most (live or revoked).
pub const MAX_PER_ORGANIZATION: i64 = 100;

fn list(org: Uuid) -> String {
    format!("org/{org}/scim-connections")
}

fn decode<T: serde::de::DeserializeOwned>(bytes: Option<Vec<u8>>) -> Option<T> {
    serde_json::from_slice::<storage::Record<T>>(&bytes?)
        .ok()
        .map(|r| r.data)
}

fn unauthenticated() -> Error {
    Error::Unauthenticated("invalid or revoked SCIM token".into())
}

/// Who may manage an organization's connections: its administrators and
/// those above it (an operator, the reseller that owns it).
fn may_manage(caller: &Caller, org: &Organization) -> Result<()> {
    caller.require(Role::CustomerAdmin)?;
    crate::credential::impersonation::refuse_impersonated(caller, "manage SCIM connections")?;
    if !caller.reaches(org) || org.kind != OrgKind::Customer {
        return Err(Error::NotFound(format!("customer {} not found", org.id)));
    }
    Ok(())
}

/// Makes a connection for `org` (a customer organization in the caller's
/// reach); returns it with the clear token, which is never shown again.
/// `assigns_roles` lets it make users the organization's administrators.
pub fn create(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    org: &Organization,
    name: &str,
    assigns_roles: bool,
) -> Result<(Credential, String)> {
    may_manage(caller, org)?;
    let slot = storage::index_position(env, &caller.tenant, &list(org.id))?;
    if slot > MAX_PER_ORGANIZATION {
        return Err(Error::invalid(
            "organization_id",
            format!("holds {MAX_PER_ORGANIZATION} SCIM connections already"),
        ));
    }
    let id = format!("scim-{}", env.new_uuid().simple());
    let token = format!("{TOKEN_PREFIX}{}", secrets::random_secret(env.random));
    let credential = Credential {
        user: caller.user,
        org: Some(org.id),
        role: Some(Role::CustomerAdmin),
        assigns_roles,
        ..Credential::new(id, CredentialKind::ScimConnection, name, env.now)
    };
    let credential = identity::issue_credential(env, config, &caller.tenant, credential, &token)?;
    storage::index_put_str(env, &caller.tenant, &list(org.id), slot, &credential.id)?;
    caller.audit(
        env,
        &format!("cred/{}", credential.id),
        "scim_connection.create",
        vec![format!("scim_connection:{}", credential.id)],
        Some(org),
    )?;
    Ok((credential, token))
}

/// The organization's live connections, oldest first.
pub fn list_live(env: &Env, caller: &Caller, org: &Organization) -> Result<Vec<Credential>> {
    may_manage(caller, org)?;
    let limit = MAX_PER_ORGANIZATION as usize + 1;
    Ok(
        identity::listed_credentials(env, &caller.tenant, &list(org.id), limit)?
            .into_iter()
            .filter(|c| {
                c.kind == CredentialKind::ScimConnection && c.live(env.now) && c.org == Some(org.id)
            })
            .collect(),
    )
}

/// A live connection by id, with the organization it provisions, when the
/// caller may manage it; else 404.
pub fn get(env: &Env, caller: &Caller, id: &str) -> Result<(Credential, Organization)> {
    let not_found = || Error::NotFound(format!("SCIM connection {id} not found"));
    if !id.starts_with("scim-") || id.len() > 64 {
        return Err(not_found());
    }
    let credential = storage::read::<Credential>(env.kv, &gkeys::stored(&caller.tenant, id))?
        .map(|r| r.data)
        .filter(|c| c.kind == CredentialKind::ScimConnection && c.live(env.now))
        .ok_or_else(not_found)?;
    let org_id = credential.org.ok_or_else(not_found)?;
    let org = storage::read::<Organization>(env.kv, &keys::org(&caller.tenant, org_id))?
        .map(|r| r.data)
        .ok_or_else(not_found)?;
    may_manage(caller, &org).map_err(|_| not_found())?;
    Ok((credential, org))
}

/// Revokes a connection: its token fails from the next request on.
pub fn revoke(env: &Env, caller: &Caller, id: &str) -> Result<()> {
    let (credential, org) = get(env, caller, id)?;
    identity::revoke_credential(env, &caller.tenant, &credential.id)?;
    caller.audit(
        env,
        &format!("revoke/{}", credential.id),
        "scim_connection.revoke",
        vec![format!("scim_connection:{}", credential.id)],
        Some(&org),
    )
}

/// Who may have their role set by the calling connection: `None` when it
/// does not assign roles, else `Some(maker)`, the user who made it (whose
/// own role it never changes: that would end the connection). Read only
/// when a request would change a role, or tells what `roles` accepts.
pub fn assigns_roles(env: &Env, caller: &Caller) -> Result<Option<Option<Uuid>>> {
    let Some(id) = caller.credential.as_deref() else {
        return Ok(None);
    };
    Ok(
        storage::read::<Credential>(env.kv, &gkeys::stored(&caller.tenant, id))?
            .map(|r| r.data)
            .filter(|c| c.kind == CredentialKind::ScimConnection && c.assigns_roles)
            .map(|c| c.user),
    )
}

/// The caller a SCIM token makes, sent to `host`: the connection's
/// organization's administrator, while the tenant and the organization may
/// authenticate and the request goes to the tenant's own host.
pub fn caller(env: &Env, config: &Config, token: &str, host: Option<&str>) -> Result<Caller> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Err(unauthenticated());
    }
    let (tenant_id, credential) = identity::lookup_credential(env, config, token)?
        .filter(|(_, c)| c.kind == CredentialKind::ScimConnection)
        .ok_or_else(unauthenticated)?;
    let org_id = credential.org.ok_or_else(unauthenticated)?;
    let mut wanted = vec![gkeys::tenant(&tenant_id), keys::org(&tenant_id, org_id)];
    if let Some(creator) = credential.user {
        wanted.push(keys::user(&tenant_id, creator));
    }
    let mut found = env.kv.get_many(&wanted)?.into_iter();
    let tenant = decode::<Tenant>(found.next().flatten())
        .filter(|t| t.status.may_authenticate())
        .ok_or_else(unauthenticated)?;
    let org = decode::<Organization>(found.next().flatten())
        .filter(|o| o.status.may_authenticate())
        .ok_or_else(unauthenticated)?;
    if credential.user.is_some() {
        let still_over = decode::<User>(found.next().flatten()).is_some_and(|u| {
            u.status.may_authenticate()
                && u.role <= Role::CustomerAdmin
                && (u.role == Role::Operator || org.within(u.organization_id))
        });
        if !still_over {
            return Err(unauthenticated());
        }
    }
    identity::check_destination(env, &tenant.id, None, host)?;
    Ok(Caller {
        tenant: tenant.id,
        actor: Actor {
            kind: "scim_connection".into(),
            id: credential.id.clone(),
        },
        role: Role::CustomerAdmin,
        org: Some(org_id),
        user: None,
        session: None,
        credential: Some(credential.id),
        impersonator: None,
    })
}
