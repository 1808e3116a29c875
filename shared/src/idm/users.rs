//! Reading and changing one user, for every family.

use uuid::Uuid;

use crate::base::error::{Error, Result};
use crate::base::model::{Directory, Lifecycle, Organization, Profile, Role, User};
use crate::be::storage::{self, ClaimOutcome, Env, commit_claim, keys, release_claim};
use crate::credential::auth::Caller;
use crate::credential::identity;
use crate::{base::validate, idm::reach};

/// A partial change: `None` leaves a field alone. For profile fields
/// `Some(None)` clears the field (JSON `null`).
// Clone's seed 002 `user` object is the fields its reader fills (the ones
// not skipped), so the derived schema is that object's; the descriptions
// are the API's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct UserChange {
    #[cfg_attr(feature = "openapi", schemars(email, length(min = 1, max = 255), extend("type" = "string"),
        description = "A new email: pending until the new address confirms it. It cannot be cleared (null is refused)."))]
    pub email: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(extend("type" = "string"),
        description = "Move the user to another organization the caller administers (not null)."))]
    pub organization_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schemars(flatten))]
    pub profile: ProfileChange,
    /// The user's groups, replaced as a whole.
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub groups: Option<Vec<Uuid>>,
    /// How the user may sign in (Gcore `auth_types`), replaced as a whole.
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub auth_types: Option<Vec<String>>,
    /// The signed-in user's own password, which changing its own email needs.
    #[cfg_attr(
        feature = "openapi",
        schemars(description = "Your own password: changing your own email needs it.")
    )]
    pub current_password: Option<String>,
    /// An operator changing another account's email makes it take effect at
    /// once instead of pending until the new address confirms it (Devise's
    /// `skip_reconfirmation!`); anyone else asking is refused.
    #[cfg_attr(
        feature = "openapi",
        schemars(
            with = "Option<bool>",
            description = "Operators changing another account's email: take effect now instead of pending until the new address confirms it."
        )
    )]
    pub skip_reconfirmation: bool,
    /// Identity-provider attributes; `Some(None)` clears one.
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub directory: DirectoryChange,
    /// An identity provider's `active`: `Disabled` disables an active
    /// account, `Active` enables only an account the provider disabled (one
    /// an administrator disabled, restricted or ended stays so). Applied in
    /// the same compare-and-swap as the fields.
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub status: Option<Lifecycle>,
    /// A new role: from an administrator, never wider than the caller's
    /// own, one the organization's users can hold (SCIM `roles`, where the
    /// connection assigns them).
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub role: Option<Role>,
    /// The change applies only to this version of the record ([`version`]):
    /// any other is 412 and nothing changes (`If-Match`).
    #[cfg_attr(feature = "openapi", schemars(skip))]
    pub if_version: Option<String>,
}

/// A partial change of [`Directory`]: `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryChange {
    pub external_id: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub formatted_name: Option<Option<String>>,
    pub employee_number: Option<Option<String>>,
    pub primary_phone: Option<Option<String>>,
    pub department: Option<Option<String>>,
    pub company: Option<Option<String>>,
}

impl DirectoryChange {
    fn apply(&self, d: &mut Directory) {
        set(&mut d.external_id, &self.external_id);
        set(&mut d.display_name, &self.display_name);
        set(&mut d.formatted_name, &self.formatted_name);
        set(&mut d.employee_number, &self.employee_number);
        set(&mut d.primary_phone, &self.primary_phone);
        set(&mut d.department, &self.department);
        set(&mut d.company, &self.company);
    }
}

/// A user's version as clients see it (SCIM `meta.version`, an ETag): a
/// digest of what the families show of it (never its credentials, nor its
/// sign-in counters, which change without a change of the user), so it
/// changes with every change that shows and can be checked inside the
/// compare-and-swap that makes one.
pub fn version(user: &User) -> String {
    let shown = serde_json::json!([
        user.email,
        user.unconfirmed_email,
        user.organization_id,
        user.role,
        user.groups,
        user.profile,
        user.directory,
        user.status,
    ]);
    storage::sha256_hex(shown.to_string().as_bytes())[..20].to_string()
}

/// Who is changing an account's email, which decides what the change needs.
#[derive(Clone, Copy, Debug)]
enum Path<'a> {
    /// The account itself, from this client address (its password checks
    /// count against the sign-in throttle).
    Own { address: &'a str },
    /// An administrator changing an account in its reach.
    Admin,
}

/// How an email change is carried out.
enum EmailChange {
    /// Nothing moves, or only the letters' case (no claim moves).
    None,
    /// An operator's `skip_reconfirmation`: the new address, claimed now.
    Now {
        key: String,
        claim: storage::Claim,
        email: String,
    },
    /// Pending until the token sent to the new address confirms it.
    Pending { email: String, token: Uuid },
}

// A partial change of a [`Profile`]: `None` leaves a field, `Some(None)`
// clears it. Its schema is `Profile`'s, every field nullable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ProfileChange {
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub first_name: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub last_name: Option<Option<String>>,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Locale>")
    )]
    pub locale: Option<Option<String>>,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Timezone>")
    )]
    pub timezone: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub phone: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub mobile_phone: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub url: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub title: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub address: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub city: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub state: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub country: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub zipcode: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub comment: Option<Option<String>>,
}

/// One field of a partial change: `None` leaves it, `Some(v)` sets it.
fn set(field: &mut Option<String>, change: &Option<Option<String>>) {
    if let Some(value) = change {
        *field = value.clone();
    }
}

impl ProfileChange {
    fn apply(&self, p: &mut Profile) {
        set(&mut p.first_name, &self.first_name);
        set(&mut p.last_name, &self.last_name);
        set(&mut p.locale, &self.locale);
        set(&mut p.timezone, &self.timezone);
        set(&mut p.phone, &self.phone);
        set(&mut p.mobile_phone, &self.mobile_phone);
        set(&mut p.url, &self.url);
        set(&mut p.title, &self.title);
        set(&mut p.address, &self.address);
        set(&mut p.city, &self.city);
        set(&mut p.state, &self.state);
        set(&mut p.country, &self.country);
        set(&mut p.zipcode, &self.zipcode);
        set(&mut p.comment, &self.comment);
    }
}

/// Claims `email` in `tenant` for operation `op`, on behalf of the user
/// `target` that will hold it (see [`storage::claim_for`]).
pub fn claim_email(
    env: &Env,
    tenant: &str,
    email: &str,
    op: &str,
    resuming: bool,
    target: Uuid,
) -> Result<(String, ClaimOutcome)> {
    let normalized = validate::normalize_email(email);
    let key = keys::email(tenant, &normalized);
    let holds = |c: &storage::Claim| -> Result<bool> {
        Ok(match c.target {
            Some(id) => carries_email(env, tenant, id, &normalized)?,
            None => false,
        })
    };
    let outcome = storage::claim_for(env, &key, op, resuming, Some(target), Some(&holds))?;
    Ok((key, outcome))
}

/// Whether user `id` exists and carries `normalized` as its email.
fn carries_email(env: &Env, tenant: &str, id: Uuid, normalized: &str) -> Result<bool> {
    Ok(storage::read::<User>(env.kv, &keys::user(tenant, id))?
        .is_some_and(|r| validate::normalize_email(&r.data.email) == normalized))
}

/// Undoes a create that failed while holding the (pending) claim `held`:
/// deletes the records it wrote (`records`: keys whose record only operation
/// `run` has written), then gives the claim back. A claim that was committed
/// (the create became visible) is left as it is, and so is everything when
/// the store cannot say: then the claim stays pending, a keyed retry resumes
/// it, and a new claimant after the window finds the record and stays out.
/// So a claim is released only when no record holds the key.
pub fn abandon_create(env: &Env, key: &str, held: &storage::Claim, run: &str, records: &[String]) {
    let Ok(Some(now)) = storage::read::<storage::Claim>(env.kv, key) else {
        return;
    };
    if now.data.state != storage::ClaimState::Pending || now.data.generation != held.generation {
        return;
    }
    for record in records {
        match storage::read::<serde_json::Value>(env.kv, record) {
            Ok(None) => {}
            // Written by this run alone (its own later steps included).
            Ok(Some(r))
                if r.ops
                    .iter()
                    .all(|o| o == run || o.starts_with(&format!("{run}/"))) =>
            {
                if env.kv.delete(record).is_err() {
                    return;
                }
            }
            // Moved on since this run wrote it, or unreadable: keep it, and so the claim.
            _ => return,
        }
    }
    let _ = release_claim(env, key, held);
}

fn org(env: &Env, tenant: &str, id: Uuid) -> Result<Option<Organization>> {
    Ok(storage::read::<Organization>(env.kv, &keys::org(tenant, id))?.map(|r| r.data))
}

/// A user the caller may read: 404 outside the caller's reach (through the
/// user's organization), 403 for a plain user reading someone else in reach.
pub fn get(env: &Env, caller: &Caller, id: Uuid) -> Result<(User, Organization)> {
    let found = reachable(env, caller, id)?;
    if caller.role == Role::User && caller.user != Some(id) {
        return Err(Error::Forbidden("users may only read themselves".into()));
    }
    Ok(found)
}

/// Checks a signed-in user's own password before a sensitive change (422
/// naming `field` when wrong). A stolen session must not become a password
/// oracle: each check counts like a sign-in attempt on the account.
pub fn check_own_password(
    env: &Env,
    tenant: &str,
    user: &User,
    password: &str,
    address: &str,
    field: &str,
) -> Result<()> {
    let account = validate::normalize_email(&user.email);
    crate::credential::throttle::attempt(env, tenant, &account, address)?;
    let matches = user
        .password_hash
        .as_deref()
        .is_some_and(|h| crate::credential::password::verify(password, h));
    if !matches {
        return Err(Error::invalid(field, "is invalid"));
    }
    crate::credential::throttle::succeeded(env, tenant, &account, address)
}

/// A user in the caller's reach, else 404.
fn reachable(env: &Env, caller: &Caller, id: Uuid) -> Result<(User, Organization)> {
    let not_found = || Error::NotFound(format!("user {id} not found"));
    let user = storage::read::<User>(env.kv, &keys::user(&caller.tenant, id))?
        .map(|r| r.data)
        .filter(|u| u.status != Lifecycle::Deleted)
        .ok_or_else(not_found)?;
    if user.moved_from.is_none() {
        let organization = org(env, &caller.tenant, user.organization_id)?
            .filter(|o| caller.reaches(o))
            .ok_or_else(not_found)?;
        return Ok((user, organization));
    }
    // A move to settle, by a caller that reaches one of its ends only.
    let ends = [Some(user.organization_id), user.moved_from];
    let reached = ends.into_iter().flatten().any(|o| {
        org(env, &caller.tenant, o)
            .ok()
            .flatten()
            .is_some_and(|o| caller.reaches(&o))
    });
    if !reached {
        return Err(not_found());
    }
    let user = crate::idm::organizations::settle_move(env, &caller.tenant, user)?;
    let organization = org(env, &caller.tenant, user.organization_id)?
        .filter(|o| caller.reaches(o))
        .ok_or_else(not_found)?;
    Ok((user, organization))
}

/// Applies a partial change. A new email is claimed before the record changes
/// and the old one released after, so two concurrent moves to one address
/// cannot both win; field changes go through compare-and-swap, so concurrent
/// changes of different fields all persist.
pub fn update(env: &mut Env, caller: &Caller, id: Uuid, change: &UserChange) -> Result<User> {
    let (current, org) = reachable(env, caller, id)?;
    caller.require(Role::CustomerAdmin)?;
    if current.role < caller.role {
        return Err(Error::Forbidden(
            "cannot change an account with a wider role than your own".into(),
        ));
    }
    apply(env, caller, current, &org, change, Path::Admin)
}

/// The signed-in user changes their own profile and email (not their
/// organization); `address` is the client's, for the password throttle.
pub fn update_me(
    env: &mut Env,
    caller: &Caller,
    change: &UserChange,
    address: &str,
) -> Result<User> {
    let id = caller
        .user
        .ok_or_else(|| Error::Forbidden("not a signed-in user".into()))?;
    if change.organization_id.is_some() {
        return Err(Error::invalid(
            "user.organization_id",
            "can't be changed here",
        ));
    }
    let (current, org) = reachable(env, caller, id)?;
    apply(env, caller, current, &org, change, Path::Own { address })
}

/// What an email change needs before anything is written, the same for every
/// family: never from an impersonated session; an administrator changes only
/// accounts strictly narrower than itself (never a peer, never itself by the
/// admin path); the account itself proves its password. Only an operator
/// may make the change take effect without the new address confirming it.
fn email_change_allowed(
    env: &Env,
    caller: &Caller,
    current: &User,
    change: &UserChange,
    path: Path<'_>,
) -> Result<()> {
    crate::credential::impersonation::refuse_impersonated(caller, "change an email")?;
    match path {
        Path::Admin => {
            if caller.user == Some(current.id) || current.role <= caller.role {
                return Err(Error::Forbidden(
                    "only an account narrower than your own can have its email changed here; \
                     change your own with your password"
                        .into(),
                ));
            }
            if change.skip_reconfirmation && caller.role != Role::Operator {
                return Err(Error::Forbidden(
                    "only an operator may skip the new address's confirmation".into(),
                ));
            }
            Ok(())
        }
        Path::Own { address } => {
            if change.skip_reconfirmation {
                return Err(Error::Forbidden(
                    "your own email change is confirmed from the new address".into(),
                ));
            }
            let password = change
                .current_password
                .as_deref()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| Error::invalid("user.current_password", "is required"))?;
            check_own_password(
                env,
                &caller.tenant,
                current,
                password,
                address,
                "user.current_password",
            )
        }
    }
}

/// Email changes per account and 15 minutes: each one sends two messages
/// (the notice and the confirmation), so none floods an inbox.
const EMAIL_CHANGES_PER_WINDOW: i64 = 5;
const EMAIL_CHANGE_WINDOW_MS: crate::base::time::Millis = 15 * 60 * 1000;

fn email_change_budget(env: &Env, tenant: &str, id: Uuid) -> Result<()> {
    let window = env.now / EMAIL_CHANGE_WINDOW_MS;
    let counter = format!("t/{tenant}/email-changes/{id}/{window}");
    let n = env.kv.increment(&counter, 1)?;
    let end = (window + 1) * EMAIL_CHANGE_WINDOW_MS;
    if n == 1 {
        crate::be::expiry::expire_at(env, tenant, end, &[counter])?;
    }
    if n > EMAIL_CHANGES_PER_WINDOW {
        return Err(Error::RateLimited(((end - env.now) / 1000 + 1) as u64));
    }
    Ok(())
}

fn apply(
    env: &mut Env,
    caller: &Caller,
    current: User,
    home: &Organization,
    change: &UserChange,
    path: Path<'_>,
) -> Result<User> {
    let tenant = caller.tenant.clone();
    let id = current.id;
    let target_org = target_of(env, caller, &current, change)?;
    if let Some(groups) = &change.groups {
        let org = target_org.as_ref().unwrap_or(home);
        crate::idm::groups::assignable(env, &tenant, org, groups, "user.groups")?;
        let joining: Vec<Uuid> = groups
            .iter()
            .filter(|g| !current.groups.contains(g))
            .copied()
            .collect();
        crate::idm::groups::note_members(env, &tenant, id, &joining)?;
    }
    let role_change = change.role.filter(|r| *r != current.role);
    if let Some(role) = role_change {
        role_change_allowed(
            caller,
            &current,
            role,
            target_org.as_ref().unwrap_or(home),
            path,
        )?;
    }
    let op = format!("u{}", env.new_uuid().simple());

    let email_change = plan_email_change(env, caller, &current, change, path, &op)?;
    let new_claim = match &email_change {
        EmailChange::Now { key, claim, email } => Some((key.clone(), claim.clone(), email.clone())),
        _ => None,
    };

    let now = env.now;
    // The move goes first, on its own: undone by a delete's fence, it
    // leaves the other fields as they were.
    let moved = match target_org
        .as_ref()
        .filter(|t| t.id != current.organization_id)
    {
        Some(to) => move_user(
            env,
            &tenant,
            &current,
            home,
            to,
            change.groups.as_ref(),
            &op,
        ),
        None => Ok(()),
    };
    let updated = moved.and_then(|()| {
        storage::update::<User, _>(env, &keys::user(&tenant, id), &op, |u| {
            apply_fields(u, &current, change, &email_change, now)
        })
    });
    let updated = match updated {
        Ok(record) => record.data,
        Err(e) => {
            settle_failed_claim(env, &tenant, &current, new_claim.as_ref());
            return Err(e);
        }
    };

    if let Some((key, c, _)) = &new_claim {
        move_email_claims(env, &tenant, id, key, c, &current.email)?;
    }
    announce_email_change(env, &tenant, &updated, &current.email, &email_change, &op)?;

    storage::audit_action(
        env,
        &op,
        &tenant,
        &caller.actor,
        if role_change.is_some() {
            "user.role"
        } else {
            "user.update"
        },
        match role_change {
            Some(role) => vec![format!("user:{id}"), format!("role:{}", role.as_str())],
            None => vec![format!("user:{id}")],
        },
        Some(target_org.as_ref().unwrap_or(home)),
    )?;
    Ok(updated)
}

/// A role change is a privilege change: by an administrator of the account
/// (never the account itself, never from an impersonated session), to no
/// wider a role than the caller's own, and one `org`'s users can hold.
fn role_change_allowed(
    caller: &Caller,
    current: &User,
    role: Role,
    org: &Organization,
    path: Path<'_>,
) -> Result<()> {
    crate::credential::impersonation::refuse_impersonated(caller, "change a role")?;
    if matches!(path, Path::Own { .. }) || caller.user == Some(current.id) {
        return Err(Error::Forbidden(
            "a role is changed by another administrator".into(),
        ));
    }
    if role < caller.role {
        return Err(Error::Forbidden(
            "cannot grant a wider role than your own".into(),
        ));
    }
    // A customer's administrator administers its own organization, not
    // those placed under it.
    if caller.role == Role::CustomerAdmin && caller.org != Some(current.organization_id) {
        return Err(Error::Forbidden(
            "roles are changed by the user's own organization's administrators".into(),
        ));
    }
    if !crate::idm::admin::role_fits(role, org.kind) {
        return Err(Error::invalid(
            "role",
            "is not a role this organization's users can hold",
        ));
    }
    Ok(())
}

/// The organization a change moves the user to: in the caller's reach and
/// not deleted.
///
/// An account is moved by another administrator, never by itself (as its
/// role is changed): a self-move would be the one way to lock oneself out of
/// one's own organization. And the account's role, new or kept, must be one
/// the target's users can hold: an operator moved into a customer would
/// otherwise keep an operator's reach from inside it (and only an operator
/// fits the tenant's root).
fn target_of(
    env: &Env,
    caller: &Caller,
    current: &User,
    change: &UserChange,
) -> Result<Option<Organization>> {
    let tenant = caller.tenant.as_str();
    let Some(target) = change.organization_id else {
        return Ok(None);
    };
    let found =
        org(env, tenant, target)?.filter(|o| caller.reaches(o) && o.status != Lifecycle::Deleted);
    let Some(to) = found else {
        return Err(Error::invalid(
            "user.organization_id",
            TARGET_DOES_NOT_EXIST,
        ));
    };
    if to.id != current.organization_id {
        if caller.user == Some(current.id) {
            return Err(Error::Forbidden(
                "an account is moved by another administrator".into(),
            ));
        }
        let role = change.role.unwrap_or(current.role);
        if !crate::idm::admin::role_fits(role, to.kind) {
            return Err(Error::invalid(
                "user.organization_id",
                "cannot hold this account's role",
            ));
        }
    }
    Ok(Some(to))
}

/// What a move to an organization that is absent or out of reach says.
pub const TARGET_DOES_NOT_EXIST: &str = "does not exist";

/// How a change's new email is carried out, every check of it first (the
/// caller may; the budget; the address is free): claimed now for an
/// operator's `skip_reconfirmation`, else pending until confirmed.
fn plan_email_change(
    env: &Env,
    caller: &Caller,
    current: &User,
    change: &UserChange,
    path: Path<'_>,
    op: &str,
) -> Result<EmailChange> {
    let tenant = caller.tenant.as_str();
    let id = current.id;
    let new_email = change
        .email
        .as_ref()
        .filter(|e| validate::normalize_email(e) != validate::normalize_email(&current.email));
    Ok(match new_email {
        None => EmailChange::None,
        Some(email) => {
            email_change_allowed(env, caller, current, change, path)?;
            // Pending changes are counted (each mails two addresses); an
            // operator's immediate change is not.
            if !change.skip_reconfirmation {
                email_change_budget(env, tenant, id)?;
            }
            let taken = || Error::taken("user.email");
            if change.skip_reconfirmation {
                match claim_email(env, tenant, email, op, false, id)? {
                    (key, ClaimOutcome::Held(claim)) => EmailChange::Now {
                        key,
                        claim,
                        email: email.clone(),
                    },
                    _ => return Err(taken()),
                }
            } else {
                // Nothing is claimed until the new address confirms; an
                // address another account holds is refused now all the same.
                if identity::holder(env, tenant, &validate::normalize_email(email))?.is_some() {
                    return Err(taken());
                }
                EmailChange::Pending {
                    email: email.clone(),
                    token: storage::derived_uuid(op, "reconfirmation"),
                }
            }
        }
    })
}

/// A change's fields onto the record, in the compare-and-swap: an email
/// change applies only to the email it started from (of two concurrent
/// changes one wins, and the user never holds two claims).
fn apply_fields(
    u: &mut User,
    current: &User,
    change: &UserChange,
    email_change: &EmailChange,
    now: crate::base::time::Millis,
) -> Result<()> {
    if change.if_version.as_ref().is_some_and(|v| *v != version(u)) {
        return Err(Error::PreconditionFailed(
            "the user changed since the version in If-Match".into(),
        ));
    }
    if !matches!(email_change, EmailChange::None)
        && validate::normalize_email(&u.email) != validate::normalize_email(&current.email)
    {
        // An email change applies only to the email it started from: of
        // two concurrent changes one wins, and the user never ends up
        // holding two claims.
        return Err(Error::Conflict(
            "the user's email changed meanwhile; read it again and retry".into(),
        ));
    }
    if let EmailChange::Now { email, .. } = email_change {
        u.email = email.clone();
        u.unconfirmed_email = None;
        u.reconfirmation = None;
    } else if let EmailChange::Pending { email, token } = email_change {
        u.unconfirmed_email = Some(email.clone());
        u.reconfirmation = Some(*token);
    } else if let Some(email) = &change.email
        && validate::normalize_email(email) == validate::normalize_email(&u.email)
    {
        // The same address in another case: no claim moves.
        u.email = email.clone();
    }

    change.profile.apply(&mut u.profile);
    change.directory.apply(&mut u.directory);
    if let Some(status) = change.status
        && status != u.status
    {
        match (u.status, status) {
            (Lifecycle::Active, Lifecycle::Disabled) => {
                u.status = Lifecycle::Disabled;
                u.directory.provider_disabled = true;
            }
            (Lifecycle::Disabled, Lifecycle::Active) if u.directory.provider_disabled => {
                u.status = Lifecycle::Active;
                u.directory.provider_disabled = false;
            }
            (from, _) => {
                return Err(Error::Forbidden(format!(
                    "a {} account is its administrators' to change",
                    from.as_str()
                )));
            }
        }
    }
    if let Some(groups) = &change.groups {
        u.groups = groups.clone();
    }
    if let Some(role) = change.role.filter(|r| *r != current.role) {
        // Judged against the record as read: a role granted for one
        // organization never lands on a user who moved meanwhile.
        if u.role != current.role
            || u.organization_id != current.organization_id
            || u.moved_from.is_some()
        {
            return Err(Error::Conflict(
                "the user's role or organization changed meanwhile; read it again and retry".into(),
            ));
        }
        u.role = role;
    }
    if let Some(types) = &change.auth_types {
        u.auth_types = types.clone();
    }
    u.updated_at = now;
    Ok(())
}

/// After a failed change, a new address claimed for it follows the record:
/// an ambiguous failure may have landed the change, and the record then
/// holds the new email; else the claim goes back.
fn settle_failed_claim(
    env: &Env,
    tenant: &str,
    current: &User,
    new_claim: Option<&(String, storage::Claim, String)>,
) {
    let id = current.id;
    if let Some((key, c, email)) = new_claim {
        // An ambiguous failure may have landed the change: the
        // record then holds the new email, so the claims follow it.
        let normalized = validate::normalize_email(email);
        match carries_email(env, tenant, id, &normalized) {
            Ok(true) => {
                let _ = move_email_claims(env, tenant, id, key, c, &current.email);
            }
            Ok(false) => {
                let _ = release_claim(env, key, c);
            }
            Err(_) => {}
        }
    }
}

/// The messages an email change sends: the notice to the current address,
/// and for a pending change the confirmation to the new one.
fn announce_email_change(
    env: &mut Env,
    tenant: &str,
    updated: &User,
    from: &str,
    email_change: &EmailChange,
    op: &str,
) -> Result<()> {
    match email_change {
        EmailChange::None => {}
        EmailChange::Now { email, .. } => {
            crate::idm::outbox::queue_email_changed(env, tenant, updated, from, email, op)?;
        }
        EmailChange::Pending { email, token } => {
            crate::idm::outbox::queue_email_changed(env, tenant, updated, from, email, op)?;
            let ttl = storage::read::<crate::base::model::Tenant>(
                env.kv,
                &crate::credential::identity::gkeys::tenant(tenant),
            )?
            .map(|r| r.data.token_ttl)
            .unwrap_or_default();
            crate::idm::account_tokens::issue_to(
                env,
                tenant,
                &ttl,
                crate::idm::account_tokens::Purpose::Confirmation,
                updated,
                *token,
                email,
            )?;
        }
    }
    Ok(())
}

/// Moves `user` from `home` to `to`: listed in the new organization first
/// (so a delete of it that checks after the move sees the user), then the
/// record swapped with a `moved_from` mark, then settled (see
/// `organizations::settle_move`): kept, or undone with 409 when a delete of
/// `to` began meanwhile.
fn move_user(
    env: &Env,
    tenant: &str,
    user: &User,
    home: &Organization,
    to: &Organization,
    groups: Option<&Vec<Uuid>>,
    op: &str,
) -> Result<()> {
    let old_lists = reach::user_lists(home);
    let new_lists: Vec<String> = reach::user_lists(to)
        .into_iter()
        .filter(|l| !old_lists.contains(l))
        .collect();
    reach::append(env, tenant, &new_lists, user.id)?;
    let swapped = storage::update::<User, _>(
        env,
        &keys::user(tenant, user.id),
        &format!("{op}/move"),
        |u| {
            if u.organization_id != user.organization_id || u.moved_from.is_some() {
                return Err(Error::Conflict(
                    "the user moved meanwhile; read it again and retry".into(),
                ));
            }
            u.moved_from = Some(u.organization_id);
            u.organization_id = to.id;
            // Checked against `to`'s chain: they travel with the user.
            if let Some(groups) = groups {
                u.groups = groups.clone();
            }
            Ok(())
        },
    )?;
    let settled = crate::idm::organizations::settle_move(env, tenant, swapped.data)?;
    if settled.organization_id != to.id {
        return Err(crate::idm::organizations::admits(env, tenant, to.id)
            .err()
            .unwrap_or_else(|| Error::Conflict("the user moved meanwhile".into())));
    }
    Ok(())
}

/// A pending email change takes effect, confirmed from the new address:
/// the address is claimed (422 if another account took it meanwhile), the
/// record moves to it by compare-and-swap while `guard` still holds (the
/// token is still the pending change's, the email still the one it left),
/// and the claims follow the record.
pub fn confirm_email_change(
    env: &mut Env,
    tenant: &str,
    user: &User,
    op: &str,
    guard: impl Fn(&User) -> Result<()>,
) -> Result<User> {
    let id = user.id;
    let email = user
        .unconfirmed_email
        .clone()
        .ok_or_else(|| Error::invalid("confirmation_token", "is invalid or has expired"))?;
    let (key, held) = match claim_email(env, tenant, &email, op, false, id)? {
        (key, ClaimOutcome::Held(c)) => (key, c),
        _ => return Err(Error::taken("user.email")),
    };
    let now = env.now;
    let written = storage::update::<User, _>(env, &keys::user(tenant, id), op, |u| {
        guard(u)?;
        if validate::normalize_email(&u.email) != validate::normalize_email(&user.email) {
            return Err(Error::Conflict("the user's email changed meanwhile".into()));
        }
        u.email = email.clone();
        u.unconfirmed_email = None;
        u.reconfirmation = None;
        u.confirmed = true;
        u.updated_at = now;
        Ok(())
    });
    match written {
        Ok(record) => {
            move_email_claims(env, tenant, id, &key, &held, &user.email)?;
            Ok(record.data)
        }
        Err(e) => {
            // As in `apply`: an ambiguous failure may have landed the change.
            match carries_email(env, tenant, id, &validate::normalize_email(&email)) {
                Ok(true) => {
                    let _ = move_email_claims(env, tenant, id, &key, &held, &user.email);
                }
                Ok(false) => {
                    let _ = release_claim(env, &key, &held);
                }
                Err(_) => {}
            }
            Err(e)
        }
    }
}

/// Commits the new email's claim to user `id` and gives back its old email's.
fn move_email_claims(
    env: &Env,
    tenant: &str,
    id: Uuid,
    key: &str,
    held: &storage::Claim,
    old_email: &str,
) -> Result<()> {
    commit_claim(env, key, held, id)?;
    let old_key = keys::email(tenant, &validate::normalize_email(old_email));
    if let Some(found) = storage::read::<storage::Claim>(env.kv, &old_key)?
        && found.data.target == Some(id)
        && found.data.state == storage::ClaimState::Committed
    {
        release_claim(env, &old_key, &found.data)?;
    }
    Ok(())
}

/// The signed-in user changes their password: the current one is required,
/// the new one must meet the tenant's policy. Other sessions stay open.
pub fn change_password(
    env: &mut Env,
    caller: &Caller,
    current_password: &str,
    new_password: &str,
    address: &str,
    params: crate::credential::password::HashParams,
) -> Result<()> {
    let id = caller
        .user
        .ok_or_else(|| Error::Forbidden("not a signed-in user".into()))?;
    let (user, org) = reachable(env, caller, id)?;
    check_own_password(
        env,
        &caller.tenant,
        &user,
        current_password,
        address,
        "user.current_password",
    )?;
    let hash = new_password_hash(
        env,
        &caller.tenant,
        new_password,
        None,
        "user.password",
        params,
    )?;
    let op = format!("pw{}", env.new_uuid().simple());
    let now = env.now;
    storage::update::<User, _>(env, &keys::user(&caller.tenant, id), &op, |u| {
        u.password_hash = Some(hash.clone());
        u.updated_at = now;
        Ok(())
    })?;
    caller.audit(
        env,
        &op,
        "user.password_change",
        vec![format!("user:{id}")],
        Some(&org),
    )?;
    Ok(())
}

/// The hash of a new password that meets the tenant's policy (and equals
/// its `confirmation`, when one is sent); 422 on `field` otherwise.
pub fn new_password_hash(
    env: &mut Env,
    tenant: &str,
    password: &str,
    confirmation: Option<&str>,
    field: &str,
    params: crate::credential::password::HashParams,
) -> Result<String> {
    let settings = crate::idm::provision::load_settings(env.kv, tenant)?;
    let mut errors = crate::base::error::FieldErrors::default();
    for problem in crate::credential::password::check(password, &settings.password) {
        errors.add(field, problem);
    }
    if confirmation.is_some_and(|c| c != password) {
        errors.add(format!("{field}_confirmation"), "doesn't match password");
    }
    errors.into_result()?;
    Ok(crate::credential::password::hash(
        password,
        params,
        (env.random)(),
    ))
}

/// Moves user `id` to `status` by compare-and-swap; terminated and deleted
/// are final (422). The counts follow only when THIS request's swap moved the
/// user in or out of the live states, so concurrent deletes count once.
pub fn set_status(env: &Env, tenant: &str, id: Uuid, op: &str, status: Lifecycle) -> Result<User> {
    set_status_at(env, tenant, id, op, status, None)
}

/// [`set_status`] of the record only at `if_version` ([`version`]), when
/// given: any other is 412 and nothing changes.
fn set_status_at(
    env: &Env,
    tenant: &str,
    id: Uuid,
    op: &str,
    status: Lifecycle,
    if_version: Option<&str>,
) -> Result<User> {
    let now = env.now;
    let mut was = None;
    let (record, changed) = storage::update_if::<User, _>(env, &keys::user(tenant, id), op, |u| {
        if if_version.is_some_and(|v| v != version(u)) {
            return Err(Error::PreconditionFailed(
                "the user changed since the version in If-Match".into(),
            ));
        }
        if u.status == status {
            return Ok(false);
        }
        // Terminated is final but for deleting; deleted is final.
        let terminated_to_deleted =
            u.status == Lifecycle::Terminated && status == Lifecycle::Deleted;
        if matches!(u.status, Lifecycle::Terminated | Lifecycle::Deleted) && !terminated_to_deleted
        {
            return Err(Error::invalid(
                "status",
                "a terminated account cannot change",
            ));
        }
        was = Some(u.status);
        u.status = status;
        u.updated_at = now;
        Ok(true)
    })?;
    let user = record.data;
    let counted = |s: Lifecycle| s != Lifecycle::Deleted;
    if changed
        && let Some(before) = was
        && counted(before) != counted(status)
        && let Some(o) = org(env, tenant, user.organization_id)?
    {
        let delta = if counted(status) { 1 } else { -1 };
        reach::bump(env, tenant, &reach::user_counts(&o), delta)?;
    }
    Ok(user)
}

/// Columns a user list filters and sorts on.
pub const LIST_COLUMNS: [&str; 8] = [
    "email",
    "first_name",
    "last_name",
    "role",
    "status",
    "organization_id",
    "created_at",
    "updated_at",
];

/// The live users among `ids` that the caller reaches, with their
/// organizations (two `get_many` calls).
fn visible(env: &Env, caller: &Caller, ids: &[Uuid]) -> Result<Vec<(User, Organization)>> {
    let keys: Vec<String> = ids
        .iter()
        .map(|id| keys::user(&caller.tenant, *id))
        .collect();
    let users: Vec<User> = storage::read_many::<User>(env.kv, &keys)?
        .into_iter()
        .flatten()
        .filter(|u| u.status != Lifecycle::Deleted)
        .collect();
    let mut org_ids: Vec<Uuid> = users.iter().map(|u| u.organization_id).collect();
    org_ids.sort();
    org_ids.dedup();
    let org_keys: Vec<String> = org_ids
        .iter()
        .map(|o| keys::org(&caller.tenant, *o))
        .collect();
    let orgs: Vec<Organization> = storage::read_many::<Organization>(env.kv, &org_keys)?
        .into_iter()
        .flatten()
        .filter(|o| caller.reaches(o))
        .collect();
    Ok(users
        .into_iter()
        .filter_map(|u| {
            let o = orgs.iter().find(|o| o.id == u.organization_id)?.clone();
            Some((u, o))
        })
        .collect())
}

/// The users the caller reaches, as `query` asks (see [`crate::idm::listing`]).
pub fn list(
    env: &Env,
    caller: &Caller,
    query: &crate::idm::listing::ListQuery,
) -> Result<crate::idm::listing::Page<(User, Organization)>> {
    let (list, count) = reach::users_of(caller)?;
    list_from(env, caller, &list, &count, query, None)
}

/// The live users that belong to organization `org` itself (its members
/// index), as `query` asks; administrators of it or above only.
pub fn members(
    env: &Env,
    caller: &Caller,
    org: Uuid,
    query: &crate::idm::listing::ListQuery,
) -> Result<crate::idm::listing::Page<(User, Organization)>> {
    reach::users_of(caller)?;
    let list = format!("org/{org}/members");
    list_from(env, caller, &list, &list, query, Some(org))
}

/// The live users among the slots `from..from + count` (1-based) of
/// organization `org`'s members index, and how many slots the index has:
/// O(count) key-value calls whatever the organization's size. A slot whose
/// user was deleted or moved away is empty, so a page may hold fewer.
pub fn member_slots(
    env: &Env,
    caller: &Caller,
    org: Uuid,
    from: i64,
    count: usize,
) -> Result<(Vec<User>, i64)> {
    reach::users_of(caller)?;
    let list = format!("org/{org}/members");
    let slots = storage::index_len(env.kv, &caller.tenant, &list)?;
    if count == 0 || from > slots {
        return Ok((Vec::new(), slots));
    }
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<Uuid> = storage::index_range(env.kv, &caller.tenant, &list, from, count)?
        .into_iter()
        .map(|(_, id)| id)
        .filter(|id| seen.insert(*id))
        .collect();
    let users = visible(env, caller, &ids)?
        .into_iter()
        .map(|(u, _)| u)
        .filter(|u| u.organization_id == org)
        .collect();
    Ok((users, slots))
}

/// A user list from index `list` (kept count `count`); `only` keeps the
/// users whose organization is that one. Rows have the columns of
/// [`LIST_COLUMNS`] plus `name` (first and last), `search` (name and email)
/// and `groups` (the group ids, space-separated).
fn list_from(
    env: &Env,
    caller: &Caller,
    list: &str,
    count: &str,
    query: &crate::idm::listing::ListQuery,
    only: Option<Uuid>,
) -> Result<crate::idm::listing::Page<(User, Organization)>> {
    crate::idm::listing::run(
        env.kv,
        &caller.tenant,
        list,
        count,
        query,
        |ids| {
            let mut found = visible(env, caller, ids)?;
            if let Some(org) = only {
                found.retain(|(u, _)| u.organization_id == org);
            }
            Ok(found)
        },
        |(u, o)| {
            let p = &u.profile;
            let first = p.first_name.clone().unwrap_or_default();
            let last = p.last_name.clone().unwrap_or_default();
            let name = format!("{first} {last}").trim().to_lowercase();
            crate::idm::listing::Row {
                columns: vec![
                    ("email", u.email.clone()),
                    ("first_name", first.clone()),
                    ("last_name", last.clone()),
                    ("role", u.role.as_str().to_string()),
                    ("status", u.status.as_str().to_string()),
                    ("organization_id", u.organization_id.to_string()),
                    ("created_at", crate::base::time::format_millis(u.created_at)),
                    ("updated_at", crate::base::time::format_millis(u.updated_at)),
                    ("search", format!("{name} {}", u.email.to_lowercase())),
                    ("name", name),
                    (
                        "groups",
                        u.groups
                            .iter()
                            .map(Uuid::to_string)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                ],
                date: u.created_at,
                item: (u, o),
            }
        },
    )
}

/// The live user holding `email` in the caller's reach, else 404 (as
/// CloudCockpit addresses users).
pub fn by_email(env: &Env, caller: &Caller, email: &str) -> Result<(User, Organization)> {
    let not_found = || Error::NotFound("The user was not found.".into());
    let user = identity::holder(env, &caller.tenant, &validate::normalize_email(email))?
        .ok_or_else(not_found)?;
    reachable(env, caller, user.id).map_err(|_| not_found())
}

/// Deletes a user, as every family's delete does: a soft delete (`purge`
/// false) marks the account deleted, so every credential fails at once and
/// the email stays claimed; an operator's purge erases the record and
/// releases the email. Administrators only (403), never themselves or a
/// wider role; out of reach is 404.
pub fn delete(env: &mut Env, caller: &Caller, id: Uuid, purge: bool) -> Result<()> {
    delete_at(env, caller, id, purge, None)
}

/// [`delete`] of the user only at `if_version` ([`version`]), checked in
/// the compare-and-swap that marks it deleted: any other is 412 and
/// nothing changes.
pub fn delete_at(
    env: &mut Env,
    caller: &Caller,
    id: Uuid,
    purge: bool,
    if_version: Option<&str>,
) -> Result<()> {
    let tenant = caller.tenant.clone();
    let (user, org) = match reachable(env, caller, id) {
        Ok(found) => found,
        // An operator may purge what an earlier soft delete left.
        Err(Error::NotFound(_)) if purge && caller.role == Role::Operator => {
            let user = storage::read::<User>(env.kv, &keys::user(&tenant, id))?
                .map(|r| r.data)
                .ok_or_else(|| Error::NotFound(format!("user {id} not found")))?;
            let org = org(env, &tenant, user.organization_id)?
                .ok_or_else(|| Error::NotFound(format!("user {id} not found")))?;
            (user, org)
        }
        Err(e) => return Err(e),
    };
    caller.require(Role::CustomerAdmin)?;
    if purge {
        caller.require(Role::Operator)?;
    }
    if user.role < caller.role || caller.user == Some(id) {
        return Err(Error::Forbidden("cannot delete this account".into()));
    }
    let op = format!("del{}", env.new_uuid().simple());
    set_status_at(env, &tenant, id, &op, Lifecycle::Deleted, if_version)?;
    if purge {
        // The id is reserved for ever and every credential naming the user
        // ends first (sessions die with the record); the email is given
        // back last, just before the record goes, so a failure on the way
        // never leaves a record holding an email another account may claim.
        crate::idm::provision::reserve_purged_id(env, &tenant, id, &op)?;
        if let Some(token) = &user.access_token {
            match crate::credential::identity::revoke_credential(env, &tenant, token) {
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        crate::credential::api_tokens::revoke_all_of(env, &tenant, &org, id)?;
        let claim_key = keys::email(&tenant, &validate::normalize_email(&user.email));
        if let Some(c) = storage::read::<storage::Claim>(env.kv, &claim_key)?
            && c.data.target == Some(id)
        {
            release_claim(env, &claim_key, &c.data)?;
        }
        env.kv.delete(&keys::user(&tenant, id))?;
    }
    storage::audit_action(
        env,
        &op,
        &tenant,
        &caller.actor,
        if purge { "user.purge" } else { "user.delete" },
        vec![format!("user:{id}")],
        Some(&org),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::model::{Closing, OrgKind};
    use crate::be::storage::read_count;
    use crate::idm::provision::{self, NewCustomer, NewOrg, NewUser, OpId};
    use crate::testing::{TENANT, World, operator};

    /// A customer (its own new organization) with user `email`.
    fn customer(env: &mut Env, email: &str) -> User {
        let input = NewCustomer {
            organization: Some(NewOrg {
                name: "Acme".into(),
                ..NewOrg::default()
            }),
            user: NewUser {
                email: email.into(),
                confirmed: true,
                ..NewUser::default()
            },
            ..NewCustomer::default()
        };
        let op = OpId::fresh(env, email.into());
        provision::create_customer(env, &operator(), &input, &op, Default::default(), None)
            .expect("a customer")
            .user
    }

    #[test]
    fn an_administrators_email_change_waits_for_the_new_address() {
        let world = World::new();
        world.tenant();
        world.at(2_000, |env| {
            let user = customer(env, "ana@example.com");
            let change = UserChange {
                email: Some("ana.new@example.com".into()),
                ..UserChange::default()
            };
            let changed = update(env, &operator(), user.id, &change).expect("an update");
            assert_eq!(
                changed.email, "ana@example.com",
                "sign-in keeps the old one"
            );
            assert_eq!(
                changed.unconfirmed_email.as_deref(),
                Some("ana.new@example.com")
            );
            assert!(changed.reconfirmation.is_some());
            // The old address still names the account; the new one nothing yet.
            assert!(
                identity::holder(env, TENANT, "ana.new@example.com")
                    .unwrap()
                    .is_none()
            );
        });
    }

    #[test]
    fn a_move_carries_the_counts_and_a_closing_organization_refuses_it() {
        let world = World::new();
        world.tenant();
        world.at(2_000, |env| {
            let user = customer(env, "mover@example.com");
            let from = user.organization_id;
            let to = provision::create_organization(
                env,
                TENANT,
                Uuid::from_u128(7),
                "Destination",
                OrgKind::Customer,
                None,
            )
            .unwrap();
            let move_to = |org: Uuid| UserChange {
                organization_id: Some(org),
                ..UserChange::default()
            };
            let moved = update(env, &operator(), user.id, &move_to(to.id)).expect("a move");
            assert_eq!((moved.organization_id, moved.moved_from), (to.id, None));
            let count = |env: &Env, org: Uuid| {
                read_count(env.kv, TENANT, &format!("org/{org}/users")).unwrap()
            };
            assert_eq!((count(env, from), count(env, to.id)), (0, 1));
            // A delete of `from` has begun: moving back undoes itself.
            let now = env.now;
            storage::update::<Organization, _>(env, &keys::org(TENANT, from), "fence", |o| {
                o.closing = Some(Closing {
                    op: "delete".into(),
                    at: now,
                });
                Ok(())
            })
            .unwrap();
            let refused = update(env, &operator(), user.id, &move_to(from));
            assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
            let stored = storage::read::<User>(env.kv, &keys::user(TENANT, user.id))
                .unwrap()
                .unwrap()
                .data;
            assert_eq!((stored.organization_id, stored.moved_from), (to.id, None));
            assert_eq!((count(env, from), count(env, to.id)), (0, 1));
        });
    }
}
