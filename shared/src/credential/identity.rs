//! Who is calling: tenants and their domains, stored credentials, sessions and
//! sign-in. Every family authenticates through here and only renames things.
//!
//! # Keys outside a tenant
//! Exactly two kinds, both indexes naming a tenant:
//! - `g/domain/{host}`: a [`Claim`] on a host name, committed with the
//!   tenant id as its label.
//! - `g/cred/{kid}/{keyed hash}`: a [`CredentialRef`] for a presented API key,
//!   access token, application key or OAuth client id. The hash is keyed
//!   ([`secrets::keyed_hash`]), so the store never holds a usable credential.
//!
//! # Every credential use checks
//! The token or stored credential, then (in one `get_many`) the tenant, the
//! user and the session, then the user's organization: a revoked session or
//! credential, or a disabled user, organization or tenant, fails on the very
//! next request. Expired records count as absent and are deleted on access.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::model::{Organization, Role, Tenant, User};
use crate::base::time::Millis;
use crate::be::storage::{self, Actor, Claim, ClaimState, Env, keys};
use crate::credential::auth::Caller;
use crate::credential::password::{self, HashParams};
use crate::credential::secrets::{self, Keys};
use crate::{base::validate, credential::throttle};

/// What components read from Spin variables. `token_keys` is read up front
/// (every credential check needs it); the others when first asked for:
/// under Spin each variable is a host call (measured with wrk: reading five
/// cost a floor component 14% of its requests per second), and most
/// requests need none of them.
#[derive(Debug, Clone)]
pub struct Config {
    /// JWT signing and credential hashing keys (`token_keys`).
    pub token_keys: Keys,
    /// Where the fields below come from when first read.
    source: fn(&str) -> Option<String>,
    /// The platform admin's bootstrap key (`admin_key`).
    admin_key: OnceLock<Option<String>>,
    hash_params: OnceLock<HashParams>,
    /// Tenant for requests whose host no tenant claims (`default_tenant`).
    default_tenant: OnceLock<Option<String>>,
    /// Forwarding proxies whose `X-Forwarded-For` names the client
    /// (`trusted_proxies`; none by default).
    trusted_proxies: OnceLock<crate::credential::proxy::TrustedProxies>,
}

impl Config {
    /// Reads `token_keys` now and every other variable from `get` when first
    /// needed (a component's Spin variables).
    pub fn from_spin(get: fn(&str) -> Option<String>) -> Self {
        Self {
            token_keys: Keys::parse(&get("token_keys").unwrap_or_default()),
            source: get,
            admin_key: OnceLock::new(),
            hash_params: OnceLock::new(),
            default_tenant: OnceLock::new(),
            trusted_proxies: OnceLock::new(),
        }
    }

    /// Reads every variable from `get` now (tests, native hosts).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            token_keys: Keys::parse(&get("token_keys").unwrap_or_default()),
            source: |_| None,
            admin_key: OnceLock::from(non_empty(get("admin_key"))),
            hash_params: OnceLock::from(HashParams::parse(
                &get("password_hash_params").unwrap_or_default(),
            )),
            default_tenant: OnceLock::from(non_empty(get("default_tenant"))),
            trusted_proxies: OnceLock::from(crate::credential::proxy::TrustedProxies::parse(
                &get("trusted_proxies").unwrap_or_default(),
            )),
        }
    }

    pub fn admin_key(&self) -> Option<&str> {
        self.admin_key
            .get_or_init(|| non_empty((self.source)("admin_key")))
            .as_deref()
    }

    /// The argon2id cost (`password_hash_params`).
    pub fn hash_params(&self) -> HashParams {
        *self.hash_params.get_or_init(|| {
            HashParams::parse(&(self.source)("password_hash_params").unwrap_or_default())
        })
    }

    pub fn default_tenant(&self) -> Option<&str> {
        self.default_tenant
            .get_or_init(|| non_empty((self.source)("default_tenant")))
            .as_deref()
    }

    pub fn trusted_proxies(&self) -> &crate::credential::proxy::TrustedProxies {
        self.trusted_proxies.get_or_init(|| {
            crate::credential::proxy::TrustedProxies::parse(
                &(self.source)("trusted_proxies").unwrap_or_default(),
            )
        })
    }
}

/// A variable's value, unless it is unset or blank.
fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// What a request is remembered by for its Idempotency-Key: a hash keyed
/// with `token_keys`, so a stored fingerprint of a body that carries a
/// password cannot be guessed offline (a plain digest could).
pub fn fingerprint(config: &Config, body: &str) -> String {
    config
        .token_keys
        .current()
        .and_then(|(kid, _)| {
            secrets::keyed_hash(&config.token_keys, kid, &format!("fingerprint/{body}"))
        })
        .unwrap_or_else(|| storage::sha256_hex(format!("fingerprint/{body}").as_bytes()))
}

/// The four API families and the console; a token is only ever accepted by
/// the family that issued it (its `aud`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Clone,
    CloudCockpit,
    Apiculus,
    Gcore,
    /// The operator console's cookie session (`credential::console`).
    Console,
}

impl Family {
    pub fn audience(self) -> &'static str {
        match self {
            Family::Clone => "clone",
            Family::CloudCockpit => "cloudcockpit",
            Family::Apiculus => "apiculus",
            Family::Gcore => "gcore",
            Family::Console => "console",
        }
    }
}

/// Lifetimes of issued tokens.
pub const SESSION_TTL_MS: Millis = 12 * 3600 * 1000;
pub const GCORE_ACCESS_TTL_MS: Millis = 3600 * 1000;
pub const GCORE_REFRESH_TTL_MS: Millis = 24 * 3600 * 1000;
pub const CLIENT_TOKEN_TTL_MS: Millis = 3599 * 1000;

pub mod gkeys {
    pub fn domain(host: &str) -> String {
        format!("g/domain/{host}")
    }
    pub fn credential(kid: &str, hash: &str) -> String {
        format!("g/cred/{kid}/{hash}")
    }
    pub fn tenant(t: &str) -> String {
        format!("t/{t}/tenant")
    }
    pub fn tenant_claim(t: &str) -> String {
        format!("t/{t}/claim")
    }
    pub fn stored(t: &str, id: &str) -> String {
        format!("t/{t}/cred/{id}")
    }
    pub fn session(t: &str, sid: &str) -> String {
        format!("t/{t}/session/{sid}")
    }
    /// A sign-in waiting for its second factor, by the keyed hash of its state.
    pub fn otp_state(t: &str, kid: &str, hash: &str) -> String {
        format!("t/{t}/otp/{kid}/{hash}")
    }
}

/// A host as the domain index keys it: lower case, no port, no trailing dot.
pub fn normalize_host(raw: &str) -> Option<String> {
    let host = raw.trim().to_ascii_lowercase();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => {
            h.to_string()
        }
        _ => host,
    };
    let host = host.trim_end_matches('.').to_string();
    let ok = !host.is_empty()
        && host.len() <= 200
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then_some(host)
}

/// The tenant a host name is served for, if any claims it.
pub fn tenant_for_host(env: &Env, host: &str) -> Result<Option<String>> {
    let Some(host) = normalize_host(host) else {
        return Ok(None);
    };
    Ok(storage::read::<Claim>(env.kv, &gkeys::domain(&host))?
        .map(|r| r.data)
        .filter(|c| c.state == ClaimState::Committed)
        .and_then(|c| c.label))
}

/// A credential of `tenant` may be used only where the request is going:
/// the tenant `X-Tenant` names (a domain; where the family sends it, and an
/// unknown one matches no tenant) AND the tenant serving the Host, when a
/// tenant claims it. Anything else is 403, whichever of the two disagrees.
pub fn check_destination(
    env: &Env,
    tenant: &str,
    x_tenant: Option<&str>,
    host: Option<&str>,
) -> Result<()> {
    let elsewhere = || Error::Forbidden("the credential belongs to another tenant".into());
    if let Some(x) = x_tenant
        && tenant_for_host(env, x)?.as_deref() != Some(tenant)
    {
        return Err(elsewhere());
    }
    if let Some(h) = host
        && let Some(served) = tenant_for_host(env, h)?
        && served != tenant
    {
        return Err(elsewhere());
    }
    // The end of authentication: nothing read ahead for it outlives it.
    env.kv.end_read_ahead();
    Ok(())
}

/// The tenant a pre-authentication request (sign-in) acts in: the host's,
/// else the configured default.
pub fn sign_in_tenant(env: &Env, config: &Config, host: Option<&str>) -> Result<String> {
    if let Some(h) = host
        && let Some(t) = tenant_for_host(env, h)?
    {
        return Ok(t);
    }
    config
        .default_tenant()
        .map(str::to_string)
        .ok_or_else(|| Error::Unauthenticated("no tenant is served at this host".into()))
}

/// The platform admin: `Authorization: Bearer <admin_key>`.
pub fn platform_admin(config: &Config, authorization: Option<&str>) -> Result<()> {
    let presented = scheme_token(authorization, "bearer")
        .ok_or_else(|| Error::Unauthenticated("missing bearer credential".into()))?;
    match config.admin_key() {
        Some(k)
            if crate::credential::auth::constant_time_eq(presented.as_bytes(), k.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(Error::Unauthenticated("invalid credential".into())),
    }
}

/// The token of an `Authorization` header in `scheme` (case-insensitive),
/// or `None` for another scheme, an empty token or an oversized header.
pub fn scheme_token<'a>(authorization: Option<&'a str>, scheme: &str) -> Option<&'a str> {
    let h = authorization?.trim();
    if h.len() > 4096 {
        return None;
    }
    let (s, rest) = h.split_once(' ')?;
    let token = rest.trim();
    (s.eq_ignore_ascii_case(scheme) && !token.is_empty() && !token.contains(' ')).then_some(token)
}

/// What kind of thing a stored credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// Clone `x-api-key`: lets a tenant's users sign in.
    ApplicationKey,
    /// Clone long-lived token (`Authorization: Basic <token>`).
    AccessToken,
    /// Gcore API token (`Authorization: APIKey <id>_<secret>`).
    ApiToken,
    /// CloudCockpit OAuth client (indexed by client id; secret sealed).
    OauthClient,
    /// SCIM connection (`Authorization: Bearer <token>` on `/scim/v2`): an
    /// identity provider provisioning one customer organization.
    ScimConnection,
}

/// A credential kept in its tenant, found through its [`CredentialRef`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub id: String,
    pub kind: CredentialKind,
    pub user: Option<Uuid>,
    pub org: Option<Uuid>,
    pub role: Option<Role>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub number: Option<u64>,
    pub revoked: bool,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    #[serde(default)]
    pub last_used: Option<Millis>,
    /// `kid/hash` of its global index entry.
    pub index: String,
    /// A second secret, sealed (an OAuth client's secret).
    #[serde(default)]
    pub sealed_secret: Option<String>,
    /// A SCIM connection that may set its users' `roles` (make them the
    /// organization's administrators): off unless its maker turned it on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assigns_roles: bool,
}

impl Credential {
    /// A live credential with no owner, role, expiry or second secret yet.
    pub fn new(id: String, kind: CredentialKind, name: &str, now: Millis) -> Self {
        Credential {
            id,
            kind,
            user: None,
            org: None,
            role: None,
            name: name.to_string(),
            description: None,
            number: None,
            revoked: false,
            created_at: now,
            expires_at: None,
            last_used: None,
            index: String::new(),
            sealed_secret: None,
            assigns_roles: false,
        }
    }
    pub fn live(&self, now: Millis) -> bool {
        !self.revoked && self.expires_at.is_none_or(|e| e > now)
    }
}

/// The global index entry of a credential: which tenant, which record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRef {
    pub tenant: String,
    pub id: String,
}

use crate::credential::secrets::keys_missing;

/// Stores a credential: its record in the tenant first, then the global entry
/// that makes it usable. `lookup` is what a client will present.
pub fn issue_credential(
    env: &Env,
    config: &Config,
    tenant: &str,
    mut credential: Credential,
    lookup: &str,
) -> Result<Credential> {
    let (kid, hash) = secrets::keyed_hashes(&config.token_keys, lookup)
        .into_iter()
        .next()
        .ok_or_else(keys_missing)?;
    credential.index = format!("{kid}/{hash}");
    let op = format!("cred/{}", credential.id);
    storage::write(
        env.kv,
        &gkeys::stored(tenant, &credential.id),
        &op,
        &credential,
    )?;
    storage::write(
        env.kv,
        &gkeys::credential(&kid, &hash),
        &op,
        &CredentialRef {
            tenant: tenant.to_string(),
            id: credential.id.clone(),
        },
    )?;
    Ok(credential)
}

/// The live credential `presented` stands for, with its tenant.
pub fn lookup_credential(
    env: &Env,
    config: &Config,
    presented: &str,
) -> Result<Option<(String, Credential)>> {
    if presented.is_empty() || presented.len() > 512 {
        return Ok(None);
    }
    let candidates = secrets::keyed_hashes(&config.token_keys, presented);
    let keys: Vec<String> = candidates
        .iter()
        .map(|(kid, hash)| gkeys::credential(kid, hash))
        .collect();
    let found = env.kv.get_many(&keys)?;
    let Some((key, bytes)) = keys
        .iter()
        .zip(found)
        .find_map(|(k, v)| v.map(|v| (k.clone(), v)))
    else {
        return Ok(None);
    };
    let Ok(reference) = serde_json::from_slice::<storage::Record<CredentialRef>>(&bytes) else {
        return Ok(None);
    };
    let reference = reference.data;
    let record =
        storage::read::<Credential>(env.kv, &gkeys::stored(&reference.tenant, &reference.id))?;
    match record {
        Some(r) if r.data.live(env.now) => Ok(Some((reference.tenant, r.data))),
        Some(r) if !r.data.revoked => {
            // Expired: treat as absent and clean up the index entry.
            let _ = env.kv.delete(&key);
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// The credentials index list `list` of `tenant` names, in its first
/// `limit` slots (absent records skipped): what a list of API tokens or
/// SCIM connections reads.
pub fn listed_credentials(
    env: &Env,
    tenant: &str,
    list: &str,
    limit: usize,
) -> Result<Vec<Credential>> {
    let ids = storage::index_range_str(env.kv, tenant, list, 1, limit)?;
    let keys: Vec<String> = ids
        .iter()
        .map(|(_, id)| gkeys::stored(tenant, id))
        .collect();
    Ok(storage::read_many::<Credential>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .collect())
}

/// Revokes a stored credential: the record says so at once (checked on every
/// use) and the global entry goes.
pub fn revoke_credential(env: &Env, tenant: &str, id: &str) -> Result<()> {
    let op = format!("revoke/{id}/{}", env.now);
    let record = storage::update::<Credential, _>(env, &gkeys::stored(tenant, id), &op, |c| {
        c.revoked = true;
        Ok(())
    })?;
    if let Some((kid, hash)) = record.data.index.split_once('/') {
        env.kv.delete(&gkeys::credential(kid, hash))?;
    }
    Ok(())
}

/// A signed-in session; tokens name it (`sid`), so signing out or disabling
/// ends every token of it at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user: Uuid,
    pub family: Family,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub revoked: bool,
    /// The one refresh token (`jti`) that may still be used (Gcore).
    #[serde(default)]
    pub refresh: Option<String>,
    /// Set when this session is an impersonation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonation: Option<crate::credential::impersonation::Impersonation>,
}

fn unauthenticated() -> Error {
    Error::Unauthenticated("invalid or expired credential".into())
}

/// The caller a user's credential makes, after the lifecycle checks of the
/// tenant, the user and the user's organization. `issued_at` is when the
/// credential was made: one made before the user's last password reset is
/// dead.
pub(crate) fn caller_for(
    env: &Env,
    tenant: &Tenant,
    user: User,
    issued_at: Millis,
    session: Option<String>,
    credential: Option<String>,
) -> Result<(Caller, User, Organization)> {
    if !tenant.status.may_authenticate()
        || !user.status.may_authenticate()
        || issued_at < user.credentials_floor()
    {
        return Err(unauthenticated());
    }
    let org = storage::read::<Organization>(env.kv, &keys::org(&tenant.id, user.organization_id))?
        .map(|r| r.data)
        .filter(|o| o.status.may_authenticate())
        .ok_or_else(unauthenticated)?;
    let caller = Caller {
        tenant: tenant.id.clone(),
        actor: Actor {
            kind: "user".into(),
            id: user.id.to_string(),
        },
        role: user.role,
        org: (user.role != Role::Operator).then_some(user.organization_id),
        user: Some(user.id),
        session,
        credential,
        impersonator: None,
    };
    Ok((caller, user, org))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: Option<Vec<u8>>) -> Option<T> {
    serde_json::from_slice::<storage::Record<T>>(&bytes?)
        .ok()
        .map(|r| r.data)
}

/// The caller behind a session token (`token_type` = `access`) of `family`,
/// sent to `host`. The tenant serving the host and the organization the
/// token names (`org`, the user's when it signed in) are read in the same
/// batch as the session, for the destination check and [`caller_for`] to
/// find: one call to the store instead of three.
pub fn session_caller(
    env: &Env,
    config: &Config,
    family: Family,
    token: &str,
    host: Option<&str>,
) -> Result<(Caller, User, Organization)> {
    let claims = secrets::verify_jwt(
        &config.token_keys,
        token,
        family.audience(),
        "access",
        env.now,
    )
    .map_err(|_| unauthenticated())?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default();
    let (tenant_id, sid) = (text("ten"), text("sid"));
    let user_id: Uuid = text("sub").parse().map_err(|_| unauthenticated())?;
    if tenant_id.is_empty() || sid.is_empty() || tenant_id.len() > 40 || sid.len() > 64 {
        return Err(unauthenticated());
    }
    let mut later = Vec::new();
    if let Some(host) = host.and_then(normalize_host) {
        later.push(gkeys::domain(&host));
    }
    if let Ok(org) = text("org").parse::<Uuid>() {
        later.push(keys::org(tenant_id, org));
    }
    let mut found = env
        .kv
        .get_many_ahead(
            &[
                gkeys::tenant(tenant_id),
                keys::user(tenant_id, user_id),
                gkeys::session(tenant_id, sid),
            ],
            &later,
        )?
        .into_iter();
    let tenant: Tenant = decode(found.next().flatten()).ok_or_else(unauthenticated)?;
    let user: User = decode(found.next().flatten()).ok_or_else(unauthenticated)?;
    let session: Session = decode(found.next().flatten()).ok_or_else(unauthenticated)?;
    if session.revoked || session.user != user_id || session.family != family {
        return Err(unauthenticated());
    }
    if session.expires_at <= env.now {
        let _ = env.kv.delete(&gkeys::session(tenant_id, sid));
        return Err(unauthenticated());
    }
    let (mut caller, user, org) = caller_for(
        env,
        &tenant,
        user,
        session.created_at,
        Some(sid.to_string()),
        None,
    )?;
    if let Some(imp) = &session.impersonation {
        crate::credential::impersonation::check_impersonator(env, &tenant, imp, &user)?;
        caller.impersonator = Some(imp.user);
    }
    Ok((caller, user, org))
}

/// The caller behind a stored user credential of `kind`.
pub fn stored_caller(
    env: &Env,
    config: &Config,
    kind: CredentialKind,
    presented: &str,
) -> Result<(Caller, User, Organization)> {
    let (tenant_id, credential) = lookup_credential(env, config, presented)?
        .filter(|(_, c)| c.kind == kind)
        .ok_or_else(unauthenticated)?;
    let user_id = credential.user.ok_or_else(unauthenticated)?;
    let mut found = env
        .kv
        .get_many(&[gkeys::tenant(&tenant_id), keys::user(&tenant_id, user_id)])?
        .into_iter();
    let tenant: Tenant = decode(found.next().flatten()).ok_or_else(unauthenticated)?;
    let user: User = decode(found.next().flatten()).ok_or_else(unauthenticated)?;
    // A user has one live access token: the one its record points at. So a
    // token whose revocation failed half-way is refused all the same.
    if kind == CredentialKind::AccessToken && user.access_token.as_deref() != Some(&credential.id) {
        return Err(unauthenticated());
    }
    let (mut caller, user, org) = caller_for(
        env,
        &tenant,
        user,
        credential.created_at,
        None,
        Some(credential.id.clone()),
    )?;
    // A credential issued with a narrower role than its user's acts with it.
    if let Some(role) = credential.role
        && role > caller.role
    {
        caller.role = role;
        caller.org.get_or_insert(user.organization_id);
    }
    // A credential bound to an organization (a Gcore API token's client)
    // acts only there, and only while its user still reaches it.
    if let Some(bound) = credential.org
        && caller.org != Some(bound)
    {
        let within = storage::read::<Organization>(env.kv, &keys::org(&tenant_id, bound))?
            .map(|r| r.data)
            .filter(|o| caller.reaches(o) && o.status.may_authenticate())
            .ok_or_else(unauthenticated)?;
        // Within a client, an administrator's token acts as that client's
        // administrator at the widest.
        let widest = match within.kind {
            crate::base::model::OrgKind::Platform => Role::Operator,
            crate::base::model::OrgKind::Reseller => Role::ResellerAdmin,
            crate::base::model::OrgKind::Customer => Role::CustomerAdmin,
        };
        caller.role = caller.role.max(widest);
        // The tenant's root client stands for the whole tenant.
        caller.org = (within.kind != crate::base::model::OrgKind::Platform
            || caller.role != Role::Operator)
            .then_some(within.id);
        return Ok((caller, user, within));
    }
    Ok((caller, user, org))
}

/// The tenant an application key (Clone `x-api-key`) belongs to.
pub fn application_tenant(env: &Env, config: &Config, presented: Option<&str>) -> Result<Tenant> {
    let presented = presented
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::Unauthenticated("missing x-api-key".into()))?;
    let (tenant_id, _) = lookup_credential(env, config, presented)?
        .filter(|(_, c)| c.kind == CredentialKind::ApplicationKey)
        .ok_or_else(|| Error::Unauthenticated("invalid x-api-key".into()))?;
    storage::read::<Tenant>(env.kv, &gkeys::tenant(&tenant_id))?
        .map(|r| r.data)
        .filter(|t| t.status.may_authenticate())
        .ok_or_else(|| Error::Unauthenticated("invalid x-api-key".into()))
}

/// An active tenant by id.
pub fn active_tenant(env: &Env, tenant: &str) -> Result<Tenant> {
    storage::read::<Tenant>(env.kv, &gkeys::tenant(tenant))?
        .map(|r| r.data)
        .filter(|t| t.status.may_authenticate())
        .ok_or_else(|| Error::Unauthenticated("no such tenant".into()))
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub caller: Caller,
    pub user: User,
    pub organization: Organization,
    pub sid: String,
    pub session: Session,
}

/// A real argon2id hash (production cost) of a password nobody sends,
/// checked when the account does not exist so that a miss costs what a
/// wrong password costs and timing does not tell which emails exist.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$b25ib2FyZGRlY295c2FsdA$8nphGoBkaxSp7EZfjzgkf6pS9t4mOABecdr/PwDEzdQ";

/// Checks an email and password in `tenant`, throttled per account and
/// client address, and opens a session for `family`. A user with a second
/// factor signs in only where a family asks for it (Clone's two-step
/// `POST /auth/sign_in`); elsewhere such a user uses an API token.
pub fn sign_in(
    env: &mut Env,
    tenant: &Tenant,
    email: &str,
    password: &str,
    address: &str,
    family: Family,
) -> Result<SignedIn> {
    let user = check_password(env, tenant, email, password, address)?;
    if user.two_factor_required() {
        return Err(Error::Unauthenticated(
            "this account signs in with a second factor: use POST /auth/sign_in, or an API token"
                .into(),
        ));
    }
    open_session(env, tenant, user, address, family)
}

/// The user an email and password name in `tenant`, throttled per account
/// and client address: the first step of every sign-in.
pub fn check_password(
    env: &mut Env,
    tenant: &Tenant,
    email: &str,
    password: &str,
    address: &str,
) -> Result<User> {
    let bad = || Error::Unauthenticated("invalid email or password".into());
    let normalized = validate::normalize_email(email);
    if normalized.is_empty() || normalized.len() > 255 || password.len() > 1024 {
        return Err(bad());
    }
    throttle::attempt(env, &tenant.id, &normalized, address)?;
    let user = account_by_email(env, &tenant.id, &normalized)?;
    let matches = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
        Some(hash) => password::verify(password, hash),
        None => {
            let _ = password::verify(password, DECOY_HASH);
            false
        }
    };
    // An invited user signs in only once it has accepted (and so chosen
    // its password), whatever password it may have been given meanwhile.
    // Gcore's `auth_types`: an account limited to single sign-on (or social
    // logins) never signs in with a password, in any family. Said whatever
    // the password was (after the same hashing work), so the answer is no
    // oracle for guessing it.
    if user
        .as_ref()
        .is_some_and(|u| !u.auth_types.is_empty() && !u.auth_types.iter().any(|t| t == "password"))
    {
        return Err(Error::Unauthenticated(PASSWORD_SIGN_IN_OFF.into()));
    }
    let Some(user) = user.filter(|u| matches && u.invitation.is_none()) else {
        return Err(bad());
    };
    throttle::succeeded(env, &tenant.id, &normalized, address)?;
    Ok(user)
}

/// Why a matching password is refused: the account's `auth_types` leave
/// password sign-in out (a family whose refusal has a fixed text says this
/// instead).
pub const PASSWORD_SIGN_IN_OFF: &str = "this account does not sign in with a password (auth_types)";

/// Opens a session for `family` of a user whose credentials were checked.
pub fn open_session(
    env: &mut Env,
    tenant: &Tenant,
    user: User,
    address: &str,
    family: Family,
) -> Result<SignedIn> {
    let sid = env.new_uuid().simple().to_string();
    let session = Session {
        user: user.id,
        family,
        created_at: env.now,
        expires_at: env.now
            + if family == Family::Gcore {
                GCORE_REFRESH_TTL_MS
            } else {
                SESSION_TTL_MS
            },
        revoked: false,
        // Families with refresh tokens (Gcore) get the first one's id now.
        refresh: (family == Family::Gcore).then(|| env.new_uuid().simple().to_string()),
        impersonation: None,
    };
    let (caller, _, organization) = caller_for(
        env,
        tenant,
        user,
        session.created_at,
        Some(sid.clone()),
        None,
    )?;
    storage::write(
        env.kv,
        &gkeys::session(&tenant.id, &sid),
        &format!("session/{sid}"),
        &session,
    )?;
    let now = env.now;
    let ip = address.to_string();
    let user = storage::update::<User, _>(
        env,
        &keys::user(&tenant.id, caller.user.unwrap_or_default()),
        &format!("sign-in/{sid}"),
        |u| {
            u.sign_in_count += 1;
            u.last_sign_in_at = Some(now);
            u.last_sign_in_ip = Some(ip.clone());
            Ok(())
        },
    )?
    .data;
    storage::audit_action(
        env,
        &format!("sign-in/{sid}"),
        &tenant.id,
        &caller.actor,
        "session.create",
        vec![format!("user:{}", user.id), format!("session:{sid}")],
        Some(&organization),
    )?;
    Ok(SignedIn {
        caller,
        user,
        organization,
        sid,
        session,
    })
}

/// The user holding an email in a tenant, if any: the claim's target when
/// its record still carries the email.
pub fn account_by_email(env: &Env, tenant: &str, normalized: &str) -> Result<Option<User>> {
    holder(env, tenant, normalized)
}

/// What a session token says beyond its caller.
#[derive(Debug, Clone, Copy)]
pub struct TokenSpec<'a> {
    pub family: Family,
    /// `access` or `refresh`.
    pub token_type: &'a str,
    pub sid: &'a str,
    pub jti: &'a str,
    pub ttl: Millis,
    /// The user's organization, read ahead with the session (`org`).
    pub org: Option<Uuid>,
}

/// Signs a session token for `caller`, with family-specific `extra` claims.
pub fn session_token(
    config: &Config,
    caller: &Caller,
    spec: TokenSpec,
    now: Millis,
    extra: Map<String, Value>,
) -> Result<String> {
    let mut claims = extra;
    if let Some(org) = spec.org {
        claims.insert("org".into(), json!(org));
    }
    for (k, v) in [
        ("iss", json!(secrets::ISSUER)),
        ("aud", json!(spec.family.audience())),
        ("token_type", json!(spec.token_type)),
        ("sub", json!(caller.actor.id)),
        ("ten", json!(caller.tenant)),
        ("sid", json!(spec.sid)),
        ("jti", json!(spec.jti)),
        ("iat", json!(now / 1000)),
        ("exp", json!((now + spec.ttl) / 1000)),
    ] {
        claims.insert(k.into(), v);
    }
    secrets::sign_jwt(&config.token_keys, &claims).ok_or_else(keys_missing)
}

/// The access token of a session just opened for `family`, for the
/// session's whole life (families whose tokens live as long as their
/// sessions, with no extra claims).
pub fn session_access_token(
    config: &Config,
    signed: &SignedIn,
    family: Family,
    now: Millis,
) -> Result<String> {
    session_token(
        config,
        &signed.caller,
        TokenSpec {
            family,
            token_type: "access",
            sid: &signed.sid,
            jti: &signed.sid,
            ttl: SESSION_TTL_MS,
            org: Some(signed.user.organization_id),
        },
        now,
        Map::new(),
    )
}

/// Ends the caller's session: every token naming it fails from the next
/// request on.
pub fn end_session(env: &Env, caller: &Caller, sid: &str) -> Result<()> {
    let op = format!("sign-out/{sid}");
    storage::update::<Session, _>(env, &gkeys::session(&caller.tenant, sid), &op, |s| {
        s.revoked = true;
        Ok(())
    })?;
    caller.audit(
        env,
        &op,
        "session.end",
        vec![format!("session:{sid}")],
        None,
    )
}

/// A session by id (expired or not).
pub fn read_session(env: &Env, tenant: &str, sid: &str) -> Result<Option<Session>> {
    Ok(storage::read::<Session>(env.kv, &gkeys::session(tenant, sid))?.map(|r| r.data))
}

/// Issues the user's long-lived access token (Clone `Basic`), replacing and
/// revoking the previous one: a token that never expires should have exactly
/// one live copy. The swap of the user's pointer is a compare-and-swap, so
/// two concurrent generations leave one live token, not two.
pub fn generate_access_token(env: &mut Env, config: &Config, caller: &Caller) -> Result<String> {
    let user = caller
        .user
        .ok_or_else(|| Error::Forbidden("only a user holds an access token".into()))?;
    let secret = format!("oat_{}", secrets::random_secret(env.random));
    let credential = Credential {
        user: Some(user),
        ..Credential::new(
            format!("at-{}", env.new_uuid().simple()),
            CredentialKind::AccessToken,
            "access token",
            env.now,
        )
    };
    let credential = issue_credential(env, config, &caller.tenant, credential, &secret)?;
    let previous = swap_access_token(env, &caller.tenant, user, Some(credential.id.clone()))?;
    if let Some(old) = previous {
        revoke_credential(env, &caller.tenant, &old)?;
    }
    caller.audit(
        env,
        &format!("cred/{}", credential.id),
        "access_token.create",
        vec![format!("user:{user}")],
        None,
    )?;
    Ok(secret)
}

/// Revokes the user's access token; false when there was none.
pub fn revoke_access_token(env: &mut Env, caller: &Caller) -> Result<bool> {
    let Some(user) = caller.user else {
        return Ok(false);
    };
    match swap_access_token(env, &caller.tenant, user, None)? {
        Some(old) => {
            revoke_credential(env, &caller.tenant, &old)?;
            caller.audit(
                env,
                &format!("revoke/{old}"),
                "access_token.revoke",
                vec![format!("user:{user}")],
                None,
            )?;
            Ok(true)
        }
        None => Ok(false),
    }
}

fn swap_access_token(
    env: &mut Env,
    tenant: &str,
    user: Uuid,
    next: Option<String>,
) -> Result<Option<String>> {
    let op = format!("access-token/{}", env.new_uuid().simple());
    let mut previous = None;
    storage::update::<User, _>(env, &keys::user(tenant, user), &op, |u| {
        previous = u.access_token.take();
        u.access_token = next.clone();
        Ok(())
    })?;
    Ok(previous)
}

/// Trades a refresh token (`jti` of session `sid`) for a new pair: the
/// session's one usable refresh id moves to `next` by compare-and-swap, so a
/// refresh token works once. Presenting a used one ends the whole session
/// (it was copied).
pub fn rotate_refresh(
    env: &Env,
    tenant: &str,
    sid: &str,
    jti: &str,
    next: &str,
) -> Result<Session> {
    let now = env.now;
    let mut reused = false;
    let op = format!("refresh/{next}");
    let record = storage::update::<Session, _>(env, &gkeys::session(tenant, sid), &op, |s| {
        if s.revoked || s.expires_at <= now {
            return Err(unauthenticated());
        }
        if s.refresh.as_deref() != Some(jti) {
            reused = true;
            s.revoked = true;
            return Ok(());
        }
        s.refresh = Some(next.to_string());
        Ok(())
    })
    .map_err(|e| match e {
        Error::NotFound(_) => unauthenticated(),
        other => other,
    })?;
    if reused {
        return Err(unauthenticated());
    }
    Ok(record.data)
}

/// The caller of a session, re-checked (tenant, user, lifecycle, the
/// session's start), for minting new tokens of it.
pub fn session_user(
    env: &Env,
    tenant: &str,
    user: Uuid,
    sid: &str,
    started: Millis,
) -> Result<(Caller, User, Organization)> {
    let mut found = env
        .kv
        .get_many(&[gkeys::tenant(tenant), keys::user(tenant, user)])?
        .into_iter();
    let tenant: Tenant = decode(found.next().flatten()).ok_or_else(unauthenticated)?;
    let user: User = decode(found.next().flatten()).ok_or_else(unauthenticated)?;
    caller_for(env, &tenant, user, started, Some(sid.to_string()), None)
}

/// What an OAuth client's id is indexed as.
pub fn client_lookup(client_id: Uuid) -> String {
    format!("oauth-client:{client_id}")
}

fn client_of(env: &Env, tenant: &Tenant, credential: &Credential) -> Result<Caller> {
    if !tenant.status.may_authenticate() || !credential.live(env.now) {
        return Err(unauthenticated());
    }
    if let Some(org) = credential.org {
        storage::read::<Organization>(env.kv, &keys::org(&tenant.id, org))?
            .filter(|o| o.data.status.may_authenticate())
            .ok_or_else(unauthenticated)?;
    }
    Ok(Caller {
        tenant: tenant.id.clone(),
        actor: Actor {
            kind: "api_client".into(),
            id: credential.id.clone(),
        },
        role: credential.role.unwrap_or(Role::User),
        org: credential.org,
        user: None,
        session: None,
        credential: Some(credential.id.clone()),
        impersonator: None,
    })
}

/// Where a pre-authentication request (a token issue) is going: the Host the
/// tenant is served at, and the `X-Tenant` the family may send.
#[derive(Clone, Copy, Debug, Default)]
pub struct Destination<'a> {
    pub host: Option<&'a str>,
    pub x_tenant: Option<&'a str>,
}

/// A credential is accepted only where its own tenant is served, at issue time
/// as at use time: the tenant of the Host (or the configured default on a host
/// no tenant claims), and the tenant `X-Tenant` names when it is sent. Any
/// other destination is the same 401 as a wrong secret, so a token endpoint
/// never tells that a client exists in another tenant.
pub fn check_issue_destination(
    env: &Env,
    config: &Config,
    tenant: &str,
    to: Destination<'_>,
) -> Result<()> {
    let served = sign_in_tenant(env, config, to.host).map_err(|_| unauthenticated())?;
    if served != tenant {
        return Err(unauthenticated());
    }
    check_destination(env, tenant, to.x_tenant, to.host).map_err(|_| unauthenticated())
}

/// OAuth 2.0 client credentials (RFC 6749 4.4): the client's caller and a
/// CloudCockpit access token (JWT, `CLIENT_TOKEN_TTL_MS`). Any mismatch is
/// the same 401, so nothing tells which part was wrong.
pub fn client_credentials(
    env: &mut Env,
    config: &Config,
    client_id: &str,
    secret: &str,
    to: Destination<'_>,
) -> Result<(Caller, String)> {
    let id = Uuid::parse_str(client_id).map_err(|_| unauthenticated())?;
    let (tenant_id, credential) = lookup_credential(env, config, &client_lookup(id))?
        .filter(|(_, c)| c.kind == CredentialKind::OauthClient)
        .ok_or_else(unauthenticated)?;
    let matches = credential
        .sealed_secret
        .as_deref()
        .is_some_and(|sealed| secrets::unseal_matches(&config.token_keys, sealed, secret));
    if !matches {
        return Err(unauthenticated());
    }
    check_issue_destination(env, config, &tenant_id, to)?;
    let tenant = storage::read::<Tenant>(env.kv, &gkeys::tenant(&tenant_id))?
        .map(|r| r.data)
        .ok_or_else(unauthenticated)?;
    let caller = client_of(env, &tenant, &credential)?;
    let jti = env.new_uuid().simple().to_string();
    let token = session_token(
        config,
        &caller,
        TokenSpec {
            family: Family::CloudCockpit,
            token_type: "access",
            sid: &credential.id,
            jti: &jti,
            ttl: CLIENT_TOKEN_TTL_MS,
            org: None,
        },
        env.now,
        Map::new(),
    )?;
    Ok((caller, token))
}

/// The caller behind a CloudCockpit bearer token: the OAuth client it was
/// issued to, re-checked (revoked client, disabled tenant or organization).
pub fn client_caller(env: &Env, config: &Config, token: &str) -> Result<Caller> {
    let claims = secrets::verify_jwt(
        &config.token_keys,
        token,
        Family::CloudCockpit.audience(),
        "access",
        env.now,
    )
    .map_err(|_| unauthenticated())?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default();
    let (tenant_id, client) = (text("ten"), text("sub"));
    if tenant_id.is_empty() || tenant_id.len() > 40 || Uuid::parse_str(client).is_err() {
        return Err(unauthenticated());
    }
    let mut found = env
        .kv
        .get_many(&[gkeys::tenant(tenant_id), gkeys::stored(tenant_id, client)])?
        .into_iter();
    let tenant: Tenant = decode(found.next().flatten()).ok_or_else(unauthenticated)?;
    let credential: Credential = decode(found.next().flatten()).ok_or_else(unauthenticated)?;
    if credential.kind != CredentialKind::OauthClient {
        return Err(unauthenticated());
    }
    client_of(env, &tenant, &credential)
}

/// The user holding `normalized` in `tenant`: the committed claim's target,
/// when that record still carries the email (a stale claim holds nothing).
pub fn holder(env: &Env, tenant: &str, normalized: &str) -> Result<Option<User>> {
    let claim =
        storage::read::<storage::Claim>(env.kv, &keys::email(tenant, normalized))?.map(|r| r.data);
    // A committed claim, or one left pending by a request that died after
    // changing the record (past the window, the record decides).
    let stale = |c: &storage::Claim| env.now - c.at >= storage::CLAIM_WINDOW_MS;
    let Some(id) = claim
        .filter(|c| {
            c.state == storage::ClaimState::Committed
                || (c.state == storage::ClaimState::Pending && stale(c))
        })
        .and_then(|c| c.target)
    else {
        return Ok(None);
    };
    Ok(storage::read::<User>(env.kv, &keys::user(tenant, id))?
        .map(|r| r.data)
        .filter(|u| validate::normalize_email(&u.email) == normalized))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{OPERATOR, PASSWORD, TENANT, World};

    #[test]
    fn a_sign_in_needs_the_password_and_the_email_names_its_holder() {
        let world = World::new();
        let created = world.tenant();
        world.at(2_000, |env| {
            let wrong = sign_in(
                env,
                &created.tenant,
                OPERATOR,
                "nope",
                "192.0.2.1",
                Family::Clone,
            );
            assert!(matches!(wrong, Err(Error::Unauthenticated(_))), "{wrong:?}");
            let unknown = sign_in(
                env,
                &created.tenant,
                "who@t.test",
                PASSWORD,
                "192.0.2.1",
                Family::Clone,
            );
            assert!(
                matches!(unknown, Err(Error::Unauthenticated(_))),
                "{unknown:?}"
            );
            let signed = sign_in(
                env,
                &created.tenant,
                "OP@T.TEST",
                PASSWORD,
                "192.0.2.1",
                Family::Clone,
            )
            .expect("the operator signs in, whatever the email's case");
            assert_eq!(signed.caller.user, Some(created.operator.id));
            let found = holder(env, TENANT, OPERATOR).expect("a read");
            assert_eq!(found.map(|u| u.id), Some(created.operator.id));
            assert!(holder(env, TENANT, "who@t.test").expect("a read").is_none());
        });
    }
}
