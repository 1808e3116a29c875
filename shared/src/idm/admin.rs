//! Administration that no vendor documents: tenants (platform admin),
//! resellers, admin accounts, API clients and account lifecycle (operators).
//! Served under `/admin/...` in this service's own shape.

use uuid::Uuid;

use crate::base::error::{Error, FieldErrors, Result};
use crate::base::model::{Lifecycle, OrgKind, Organization, Profile, Role, Tenant, User};
use crate::be::storage::{
    self, Actor, Claim, ClaimOutcome, Env, claim, commit_claim, commit_claim_label, derived_uuid,
    keys, release_claim,
};
use crate::credential::auth::Caller;
use crate::credential::identity::{self, Config, Credential, CredentialKind, gkeys};
use crate::{credential::password, credential::secrets, idm::provision};

// The admin API's wire names are these: the derived schemas are the
// objects its readers fill.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NewAccount {
    #[cfg_attr(feature = "openapi", schemars(email, length(min = 1, max = 255)))]
    pub email: String,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Password>", regex(pattern = r"\S"),
            transform = crate::base::schema::not_null)
    )]
    pub password: String,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<Role>", transform = crate::base::schema::not_null,
            description = "The account's role")
    )]
    pub role: Role,
    /// Required except for operators (who live in the tenant's root).
    #[cfg_attr(
        feature = "openapi",
        schemars(description = "Required but for an operator (who lives in the tenant's root)")
    )]
    pub organization_id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schemars(flatten, with = "crate::base::schema::Names")
    )]
    pub profile: Profile,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NewTenant {
    #[cfg_attr(feature = "openapi", schemars(regex(pattern = "^[a-z0-9-]{1,40}$")))]
    pub id: String,
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 255), regex(pattern = r"\S"))
    )]
    pub name: String,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Domains>"))]
    pub domains: Vec<String>,
    /// The tenant's first operator: its role is operator whatever `role`
    /// says, and `organization_id` is not used (both are still checked).
    #[cfg_attr(feature = "openapi", schemars(transform = operator_fields))]
    pub operator: NewAccount,
}

/// Host names one tenant create or update may name: each is claimed by
/// compare-and-swap, and a request has a few hundred of those in Spin.
pub const DOMAINS_PER_REQUEST: usize = 20;

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// Host names a tenant is served on (`identity::normalize_host`, with a dot
    /// or `localhost`).
    Domains,
    serde_json::json!({"type": "array", "maxItems": DOMAINS_PER_REQUEST,
        "items": {"type": "string", "maxLength": 200,
            "pattern": "^(localhost|[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+)$"}})
);

/// A tenant's operator: a password required.
#[cfg(feature = "openapi")]
fn operator_fields(schema: &mut schemars::Schema) {
    schema.insert("required".into(), serde_json::json!(["email", "password"]));
}

#[derive(Debug, Clone)]
pub struct TenantCreated {
    pub tenant: Tenant,
    /// Shown once: the Clone family's `x-api-key` for sign-in.
    pub application_key: String,
    pub operator: User,
}

/// Whether a tenant id is key-safe: `[a-z0-9-]`, 1 to 40 characters.
pub fn valid_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn platform() -> Actor {
    Actor {
        kind: "platform_admin".into(),
        id: "platform".into(),
    }
}

/// Creates a tenant with its domains, root organization, first operator and
/// application key. The id and every domain are claimed first, so two
/// concurrent creates of one id or domain cannot both win.
pub fn create_tenant(env: &mut Env, config: &Config, input: &NewTenant) -> Result<TenantCreated> {
    if config.token_keys.is_empty() {
        return Err(crate::credential::secrets::keys_missing());
    }
    let op = format!("tenant/{}/{}", input.id, env.new_uuid().simple());
    let id_key = gkeys::tenant_claim(&input.id);
    let held_id = match claim(env, &id_key, &op, false)? {
        ClaimOutcome::Held(c) => c,
        _ => return Err(Error::taken("id")),
    };
    let mut held: Vec<(String, Claim)> = Vec::new();
    let release_all = |env: &Env, held: &[(String, Claim)]| {
        for (k, c) in held {
            let _ = release_claim(env, k, c);
        }
        let _ = release_claim(env, &id_key, &held_id);
    };
    for (i, domain) in input.domains.iter().enumerate() {
        let key = gkeys::domain(domain);
        match claim(env, &key, &op, false) {
            Ok(ClaimOutcome::Held(c)) => held.push((key, c)),
            Ok(_) => {
                release_all(env, &held);
                return Err(Error::domain_taken(format!("domains[{i}]")));
            }
            Err(e) => {
                release_all(env, &held);
                return Err(e);
            }
        }
    }
    let result = (|| {
        let root = Organization {
            id: derived_uuid(&op, "root"),
            kind: OrgKind::Platform,
            name: input.name.clone(),
            description: None,
            company_name: Some(input.name.clone()),
            parent: None,
            ancestors: Vec::new(),
            status: Lifecycle::Active,
            subscriptions: Vec::new(),
            code: None,
            number: None,
            details: Default::default(),
            closing: None,
            created_at: env.now,
            updated_at: env.now,
        };
        storage::write(env.kv, &keys::org(&input.id, root.id), &op, &root)?;
        let mut tenant = Tenant {
            id: input.id.clone(),
            name: input.name.clone(),
            domains: input.domains.clone(),
            status: Lifecycle::Active,
            root_org: Some(root.id),
            application_key: None,
            webhook: None,
            token_ttl: Default::default(),
            created_at: env.now,
        };
        // The tenant record exists before its operator is made, so the account
        // code can look up the root; it is unreachable until the claims commit.
        storage::write(env.kv, &gkeys::tenant(&input.id), &op, &tenant)?;
        let boot = Caller::operator_of(&input.id, platform());
        let (operator, _) = create_account_in(env, config, &boot, &tenant, &input.operator)?;
        let (application_key, credential) = new_application_key(env, config, &tenant.id)?;
        tenant.application_key = Some(credential.index.clone());
        storage::write(
            env.kv,
            &gkeys::tenant(&input.id),
            &format!("{op}/key"),
            &tenant,
        )?;
        Ok((tenant, application_key, operator))
    })();
    let (tenant, application_key, operator) = match result {
        Ok(done) => done,
        Err(e) => {
            release_all(env, &held);
            return Err(e);
        }
    };
    for (key, c) in &held {
        commit_claim_label(env, key, c, &tenant.id)?;
    }
    commit_claim_label(env, &id_key, &held_id, &tenant.id)?;
    storage::audit_action(
        env,
        &op,
        &tenant.id,
        &platform(),
        "tenant.create",
        vec![format!("tenant:{}", tenant.id)],
        None,
    )?;
    Ok(TenantCreated {
        tenant,
        application_key,
        operator,
    })
}

fn new_application_key(
    env: &mut Env,
    config: &Config,
    tenant: &str,
) -> Result<(String, Credential)> {
    let secret = format!("oak_{}", secrets::random_secret(env.random));
    let credential = Credential::new(
        format!("app-{}", env.new_uuid().simple()),
        CredentialKind::ApplicationKey,
        "application key",
        env.now,
    );
    let credential = identity::issue_credential(env, config, tenant, credential, &secret)?;
    Ok((secret, credential))
}

/// A tenant as the platform admin sees it.
pub fn get_tenant(env: &Env, id: &str) -> Result<Tenant> {
    storage::read::<Tenant>(env.kv, &gkeys::tenant(id))?
        .map(|r| r.data)
        .filter(|_| valid_tenant_id(id))
        .ok_or_else(|| Error::NotFound(format!("tenant {id} not found")))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TenantChange {
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<TenantStatus>"))]
    pub status: Option<Lifecycle>,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Domains>"))]
    pub add_domains: Vec<String>,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Domains>"))]
    pub remove_domains: Vec<String>,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<bool>"))]
    pub rotate_application_key: bool,
    /// `Some(None)` removes the webhook; `Some(Some((url, secret)))` sets it,
    /// with a new random secret when none is given.
    #[cfg_attr(
        feature = "openapi",
        schemars(
            with = "Option<Option<Webhook>>",
            description = "Where the outbox delivers; null removes it"
        )
    )]
    pub webhook: Option<Option<(String, Option<Vec<u8>>)>>,
    #[cfg_attr(feature = "openapi", schemars(transform = crate::base::schema::not_null))]
    pub token_ttl: Option<crate::base::model::TokenTtl>,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(
    /// The statuses a tenant is set to.
    TenantStatus, ["active", "disabled"]);

/// What `service::webhook_url` accepts, narrowed to what a pattern can
/// say surely: http or https, a host name, a port, a path.
#[cfg(feature = "openapi")]
const WEBHOOK_URL: &str = "^https?://[A-Za-z0-9.-]+(:[1-5]?[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$";

/// A tenant's webhook as the admin API reads it.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
pub struct Webhook {
    /// An absolute http or https URL.
    #[schemars(url, length(max = 2048), regex(pattern = WEBHOOK_URL))]
    pub url: String,
    /// Omitted: one is generated and shown once.
    #[schemars(regex(pattern = "^whsec_([A-Za-z0-9+/]{4}){8,21}$"))]
    pub secret: Option<String>,
}

/// What an update shows once: a rotated application key, a generated
/// webhook secret.
#[derive(Debug, Clone)]
pub struct TenantUpdated {
    pub tenant: Tenant,
    pub application_key: Option<String>,
    pub webhook_secret: Option<String>,
}

/// Changes a tenant. Disabling it fails every credential of it on the next
/// request; a rotated application key replaces the old one at once.
pub fn update_tenant(
    env: &mut Env,
    config: &Config,
    id: &str,
    change: &TenantChange,
) -> Result<TenantUpdated> {
    let current = get_tenant(env, id)?;
    let mut webhook_secret = None;
    let webhook = match &change.webhook {
        None => None,
        Some(None) => Some(None),
        Some(Some((url, secret))) => {
            let secret = match secret {
                Some(s) => s.clone(),
                None => {
                    let mut bytes = (env.random)().to_vec();
                    bytes.extend((env.random)());
                    webhook_secret = Some(crate::idm::outbox::secret_text(&bytes));
                    bytes
                }
            };
            let mut nonce = [0u8; 24];
            nonce[..16].copy_from_slice(&(env.random)());
            nonce[16..].copy_from_slice(&(env.random)()[..8]);
            let sealed = crate::credential::totp::seal_secret(
                &config.token_keys,
                &crate::idm::outbox::webhook_owner(id),
                &secret,
                nonce,
            )
            .ok_or_else(crate::credential::secrets::keys_missing)?;
            Some(Some(crate::base::model::Webhook {
                url: url.clone(),
                sealed_secret: sealed,
            }))
        }
    };
    let op = format!("tenant-update/{id}/{}", env.new_uuid().simple());
    let mut added = Vec::new();
    for (i, domain) in change.add_domains.iter().enumerate() {
        if current.domains.contains(domain) {
            continue;
        }
        let key = gkeys::domain(domain);
        match claim(env, &key, &op, false)? {
            ClaimOutcome::Held(c) => added.push((key, c, domain.clone())),
            _ => {
                for (k, c, _) in &added {
                    let _ = release_claim(env, k, c);
                }
                return Err(Error::domain_taken(format!("add_domains[{i}]")));
            }
        }
    }
    let new_key = if change.rotate_application_key {
        Some(new_application_key(env, config, id)?)
    } else {
        None
    };
    let updated = storage::update::<Tenant, _>(env, &gkeys::tenant(id), &op, |t| {
        if let Some(name) = &change.name {
            t.name = name.clone();
        }
        if let Some(status) = change.status {
            t.status = status;
        }
        for (_, _, d) in &added {
            if !t.domains.contains(d) {
                t.domains.push(d.clone());
            }
        }
        t.domains.retain(|d| !change.remove_domains.contains(d));
        if let Some((_, c)) = &new_key {
            t.application_key = Some(c.index.clone());
        }
        if let Some(hook) = &webhook {
            t.webhook = hook.clone();
        }
        if let Some(ttl) = change.token_ttl {
            t.token_ttl = ttl;
        }
        Ok(())
    })?
    .data;
    for (key, c, _) in &added {
        commit_claim_label(env, key, c, id)?;
    }
    for domain in &change.remove_domains {
        let key = gkeys::domain(domain);
        if let Some(r) = storage::read::<Claim>(env.kv, &key)?
            && r.data.label.as_deref() == Some(id)
        {
            release_claim(env, &key, &r.data)?;
        }
    }
    if let (Some(old), Some(_)) = (&current.application_key, &new_key)
        && let Some((kid, hash)) = old.split_once('/')
        && let Some(r) =
            storage::read::<identity::CredentialRef>(env.kv, &gkeys::credential(kid, hash))?
    {
        identity::revoke_credential(env, id, &r.data.id)?;
    }
    storage::audit_action(
        env,
        &op,
        id,
        &platform(),
        "tenant.update",
        vec![format!("tenant:{id}")],
        None,
    )?;
    Ok(TenantUpdated {
        tenant: updated,
        application_key: new_key.map(|(k, _)| k),
        webhook_secret,
    })
}

fn reachable_org(env: &Env, caller: &Caller, id: Uuid, field: &str) -> Result<Organization> {
    storage::read::<Organization>(env.kv, &keys::org(&caller.tenant, id))?
        .map(|r| r.data)
        .filter(|o| caller.reaches(o) && o.status != Lifecycle::Deleted)
        .ok_or_else(|| Error::NotFound(format!("{field} {id} not found")))
}

/// Whether a user of an organization of this kind can hold the role: each
/// administrator role belongs to its own kind of organization.
pub fn role_fits(role: Role, kind: OrgKind) -> bool {
    match role {
        Role::Operator => kind == OrgKind::Platform,
        Role::ResellerAdmin => kind == OrgKind::Reseller,
        Role::CustomerAdmin => kind == OrgKind::Customer,
        Role::User => kind != OrgKind::Platform,
    }
}

/// Creates an account (a user with a role and a password) in the caller's
/// tenant. The caller may only create roles no wider than its own, in
/// organizations it reaches.
pub fn create_account(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    input: &NewAccount,
) -> Result<User> {
    caller.require(Role::ResellerAdmin)?;
    if input.role < caller.role {
        return Err(Error::Forbidden(
            "cannot create an account with a wider role than your own".into(),
        ));
    }
    let tenant = identity::active_tenant(env, &caller.tenant)?;
    let (user, org) = create_account_in(env, config, caller, &tenant, input)?;
    storage::audit_action(
        env,
        &format!("account/{}", user.id),
        &tenant.id,
        &caller.actor,
        "account.create",
        vec![format!("user:{}", user.id)],
        Some(&org),
    )?;
    Ok(user)
}

/// Invites an account (`POST /admin/accounts` with `invite`): the user is
/// made without a password in the organization its role belongs to, and
/// the invitation queued in the outbox (`invitations::invite`, audited as
/// every creation of a user).
pub fn invite_account(env: &mut Env, caller: &Caller, input: &NewAccount) -> Result<User> {
    caller.require(Role::ResellerAdmin)?;
    let tenant = identity::active_tenant(env, &caller.tenant)?;
    let org_id = account_org(&tenant, input)?;
    let org = reachable_org(env, caller, org_id, "organization_id")?;
    if !role_fits(input.role, org.kind) {
        return Err(Error::invalid(
            "organization_id",
            "is not an organization this role can belong to",
        ));
    }
    crate::idm::invitations::invite(
        env,
        caller,
        &org,
        &input.email,
        input.role,
        input.profile.clone(),
    )
}

/// The organization a new account goes to: the tenant's root for an
/// operator, else the one named.
fn account_org(tenant: &Tenant, input: &NewAccount) -> Result<Uuid> {
    match (input.role, input.organization_id) {
        (Role::Operator, _) => tenant
            .root_org
            .ok_or_else(|| Error::Unavailable("tenant has no root organization".into())),
        (_, Some(id)) => Ok(id),
        (_, None) => Err(Error::invalid("organization_id", "is required")),
    }
}

fn create_account_in(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    tenant: &Tenant,
    input: &NewAccount,
) -> Result<(User, Organization)> {
    let t = tenant.id.as_str();
    let org = reachable_org(env, caller, account_org(tenant, input)?, "organization_id")?;
    if !role_fits(input.role, org.kind) {
        return Err(Error::invalid(
            "organization_id",
            "is not an organization this role can belong to",
        ));
    }
    let settings = provision::load_settings(env.kv, t)?;
    let mut errors = FieldErrors::default();
    for problem in password::check(&input.password, &settings.password) {
        errors.add("password", problem);
    }
    errors.into_result()?;
    let op = format!("acct{}", env.new_uuid().simple());
    let user_id = derived_uuid(&op, "user");
    let (email_key, held) =
        match crate::idm::users::claim_email(env, t, &input.email, &op, false, user_id)? {
            (key, ClaimOutcome::Held(c)) => (key, c),
            _ => return Err(Error::taken("email")),
        };
    let result = (|| {
        let user = User {
            id: user_id,
            number: None,
            account_code: None,
            email: input.email.clone(),
            organization_id: org.id,
            role: input.role,
            groups: Vec::new(),
            profile: input.profile.clone(),
            directory: Default::default(),
            confirmed: true,
            status: Lifecycle::Active,
            password_hash: Some(password::hash(
                &input.password,
                config.hash_params(),
                (env.random)(),
            )),
            access_token: None,
            auth_types: Vec::new(),
            sign_in_count: 0,
            last_sign_in_at: None,
            last_sign_in_ip: None,
            two_factor: None,
            unconfirmed_email: None,
            reconfirmation: None,
            invitation: None,
            credentials_valid_from: 0,
            moved_from: None,
            created_at: env.now,
            updated_at: env.now,
        };
        storage::write(env.kv, &keys::user(t, user.id), &op, &user)?;
        crate::idm::reach::append(env, t, &crate::idm::reach::user_lists(&org), user.id)?;
        crate::idm::organizations::admits(env, t, org.id)?;
        commit_claim(env, &email_key, &held, user.id)?;
        crate::idm::reach::bump(env, t, &crate::idm::reach::user_counts(&org), 1)?;
        Ok(user)
    })();
    match result {
        Ok(user) => Ok((user, org)),
        Err(e) => {
            crate::idm::users::abandon_create(
                env,
                &email_key,
                &held,
                &op,
                &[keys::user(t, user_id)],
            );
            Err(e)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NewReseller {
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 255), regex(pattern = r"\S"))
    )]
    pub name: String,
    /// Unique in the tenant (the reader counts its 64 in bytes, so the
    /// schema keeps to printable ASCII).
    #[cfg_attr(
        feature = "openapi",
        schemars(length(max = 64), regex(pattern = "^[ -~]*[!-~][ -~]*$"))
    )]
    pub code: String,
    /// The reseller above this one, if any.
    #[cfg_attr(feature = "openapi", schemars(rename = "parent_id"))]
    pub parent: Option<Uuid>,
}

/// Creates a reseller organization with a unique code and an integer id.
pub fn create_reseller(
    env: &mut Env,
    caller: &Caller,
    input: &NewReseller,
) -> Result<Organization> {
    caller.require(Role::Operator)?;
    let t = caller.tenant.clone();
    let parent = match input.parent {
        Some(id) => {
            let p = reachable_org(env, caller, id, "parent_id")?;
            if p.kind != OrgKind::Reseller {
                return Err(Error::invalid("parent_id", "is not a reseller"));
            }
            Some(p)
        }
        None => None,
    };
    let op = format!("reseller{}", env.new_uuid().simple());
    let code_key = format!(
        "t/{t}/reseller-code/{}",
        storage::sha256_hex(input.code.as_bytes())
    );
    let held = match claim(env, &code_key, &op, false)? {
        ClaimOutcome::Held(c) => c,
        _ => return Err(Error::taken("code")),
    };
    let result = (|| {
        let number = storage::bump_count(env, &t, "org-number", 1)? as u64;
        let id = derived_uuid(&op, "org");
        provision::create_organization(
            env,
            &t,
            id,
            &input.name,
            OrgKind::Reseller,
            parent.as_ref(),
        )?;
        let org = storage::update::<Organization, _>(env, &keys::org(&t, id), &op, |o| {
            o.code = Some(input.code.clone());
            o.number = Some(number);
            Ok(())
        })?
        .data;
        env.kv.set(
            &format!("t/{t}/org-number/{number}"),
            id.to_string().as_bytes(),
        )?;
        commit_claim(env, &code_key, &held, id)?;
        Ok(org)
    })();
    match result {
        Ok(org) => {
            storage::audit_action(
                env,
                &op,
                &t,
                &caller.actor,
                "reseller.create",
                vec![format!("organization:{}", org.id)],
                Some(&org),
            )?;
            Ok(org)
        }
        Err(e) => {
            // Give the code back only when it is known that no reseller
            // record carries it (the failure may have come after it landed).
            let org =
                storage::read::<Organization>(env.kv, &keys::org(&t, derived_uuid(&op, "org")));
            if let Ok(None) = org {
                let _ = release_claim(env, &code_key, &held);
            }
            Err(e)
        }
    }
}

/// The organization holding a reseller code, if any.
pub fn reseller_by_code(env: &Env, tenant: &str, code: &str) -> Result<Option<Organization>> {
    let key = format!(
        "t/{tenant}/reseller-code/{}",
        storage::sha256_hex(code.as_bytes())
    );
    let Some(id) = storage::read::<Claim>(env.kv, &key)?
        .map(|r| r.data)
        .filter(|c| c.state == storage::ClaimState::Committed)
        .and_then(|c| c.target)
    else {
        return Ok(None);
    };
    Ok(storage::read::<Organization>(env.kv, &keys::org(tenant, id))?.map(|r| r.data))
}

#[derive(Debug, Clone)]
pub struct ApiClient {
    pub client_id: Uuid,
    /// Shown once.
    pub client_secret: String,
    pub role: Role,
    pub organization_id: Option<Uuid>,
    pub name: String,
}

/// Creates an OAuth client (CloudCockpit "Api Access"): an operator's client
/// acts as the CSP; one for a reseller organization acts as that reseller.
pub fn create_api_client(
    env: &mut Env,
    config: &Config,
    caller: &Caller,
    name: &str,
    organization_id: Option<Uuid>,
) -> Result<ApiClient> {
    caller.require(Role::Operator)?;
    let (role, org) = match organization_id {
        None => (Role::Operator, None),
        Some(id) => {
            let org = reachable_org(env, caller, id, "organization_id")?;
            if org.kind != OrgKind::Reseller {
                return Err(Error::invalid("organization_id", "is not a reseller"));
            }
            (Role::ResellerAdmin, Some(org.id))
        }
    };
    let client_id = env.new_uuid();
    let secret = secrets::random_secret(env.random);
    let sealed = secrets::seal(&config.token_keys, &secret)
        .ok_or_else(crate::credential::secrets::keys_missing)?;
    let credential = Credential {
        org,
        role: Some(role),
        sealed_secret: Some(sealed),
        ..Credential::new(
            client_id.to_string(),
            CredentialKind::OauthClient,
            name,
            env.now,
        )
    };
    identity::issue_credential(
        env,
        config,
        &caller.tenant,
        credential,
        &identity::client_lookup(client_id),
    )?;
    let pos = storage::index_position(env, &caller.tenant, API_CLIENTS)?;
    storage::index_put_str(
        env,
        &caller.tenant,
        API_CLIENTS,
        pos,
        &client_id.to_string(),
    )?;
    caller.audit(
        env,
        &format!("client/{client_id}"),
        "api_client.create",
        vec![format!("api_client:{client_id}")],
        None,
    )?;
    Ok(ApiClient {
        client_id,
        client_secret: secret,
        role,
        organization_id: org,
        name: name.to_string(),
    })
}

/// The index list of a tenant's OAuth clients, in creation order.
const API_CLIENTS: &str = "api-clients";

/// The tenant's live OAuth clients (operators only; the first 1,000).
pub fn list_api_clients(env: &Env, caller: &Caller) -> Result<Vec<Credential>> {
    caller.require(Role::Operator)?;
    Ok(
        identity::listed_credentials(env, &caller.tenant, API_CLIENTS, 1000)?
            .into_iter()
            .filter(|c| c.kind == CredentialKind::OauthClient && !c.revoked)
            .collect(),
    )
}

/// Revokes an OAuth client: its tokens fail from the next request on.
pub fn revoke_api_client(env: &mut Env, caller: &Caller, id: Uuid) -> Result<()> {
    caller.require(Role::Operator)?;
    let found =
        storage::read::<Credential>(env.kv, &gkeys::stored(&caller.tenant, &id.to_string()))?
            .map(|r| r.data)
            .filter(|c| c.kind == CredentialKind::OauthClient && !c.revoked)
            .ok_or_else(|| Error::NotFound(format!("API client {id} not found")))?;
    identity::revoke_credential(env, &caller.tenant, &found.id)?;
    caller.audit(
        env,
        &format!("client-revoke/{id}"),
        "api_client.revoke",
        vec![format!("api_client:{id}")],
        None,
    )?;
    Ok(())
}

/// Moves an account through its lifecycle. Disabling takes effect on the
/// account's very next request; `terminated` and `deleted` are final.
pub fn set_account_status(
    env: &mut Env,
    caller: &Caller,
    id: Uuid,
    status: Lifecycle,
) -> Result<User> {
    caller.require(Role::ResellerAdmin)?;
    let t = caller.tenant.clone();
    let not_found = || Error::NotFound(format!("account {id} not found"));
    let user = storage::read::<User>(env.kv, &keys::user(&t, id))?
        .map(|r| r.data)
        .ok_or_else(not_found)?;
    let org = storage::read::<Organization>(env.kv, &keys::org(&t, user.organization_id))?
        .map(|r| r.data)
        .filter(|o| caller.reaches(o))
        .ok_or_else(not_found)?;
    if user.role < caller.role || Some(user.id) == caller.user {
        return Err(Error::Forbidden("cannot change this account".into()));
    }
    let op = format!("status{}", env.new_uuid().simple());
    let updated = crate::idm::users::set_status(env, &t, id, &op, status)?;
    storage::audit_action(
        env,
        &op,
        &t,
        &caller.actor,
        &format!("account.{}", status.as_str()),
        vec![format!("user:{id}")],
        Some(&org),
    )?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TENANT, World, config};

    #[test]
    fn a_tenant_id_is_taken_once_and_a_rotated_key_replaces_the_old() {
        let world = World::new();
        let created = world.tenant();
        world.at(2_000, |env| {
            let again = create_tenant(
                env,
                &config(),
                &NewTenant {
                    id: TENANT.into(),
                    name: "Again".into(),
                    domains: vec!["other.test".into()],
                    operator: NewAccount {
                        email: "op@other.test".into(),
                        password: "operator-password-2".into(),
                        role: Role::Operator,
                        organization_id: None,
                        profile: Default::default(),
                    },
                },
            );
            assert!(
                matches!(again, Err(Error::Invalid(ref e)) if e.fields() == ["id"]),
                "{again:?}"
            );
            let change = TenantChange {
                name: None,
                status: None,
                add_domains: Vec::new(),
                remove_domains: Vec::new(),
                rotate_application_key: true,
                webhook: None,
                token_ttl: None,
            };
            let rotated = update_tenant(env, &config(), TENANT, &change).expect("an update");
            let key = rotated.application_key.expect("a new key, shown once");
            assert_ne!(key, created.application_key);
        });
    }
}
