//! Invitations: a user made at once without a password, who signs in only
//! after accepting the invitation its message carries
//! (`account_tokens::accept_invitation`). Creating the user issues the
//! invitation (`account_tokens::welcome`), whichever family asked.

use crate::base::error::{Error, Result};
use crate::base::model::{Organization, Profile, Role, User};
use crate::be::storage::Env;
use crate::credential::auth::Caller;
use crate::idm::provision::{self, NewCustomer, NewUser, OpId};

/// Invites `email` into `org` with `role` (an administrator of it, or a
/// user): the user is created without a password and its invitation queued
/// in the tenant's outbox. A taken email is `Error::taken`.
pub fn invite(
    env: &mut Env,
    caller: &Caller,
    org: &Organization,
    email: &str,
    role: Role,
    profile: Profile,
) -> Result<User> {
    caller.require(Role::CustomerAdmin)?;
    if role < caller.role {
        return Err(Error::Forbidden(
            "cannot invite a wider role than your own".into(),
        ));
    }
    let input = NewCustomer {
        organization_id: Some(org.id),
        user: NewUser {
            email: email.to_string(),
            profile,
            role: Some(role),
            ..NewUser::default()
        },
        ..NewCustomer::default()
    };
    let op = OpId::fresh(env, format!("invite/{email}"));
    let created = provision::create_customer(env, caller, &input, &op, Default::default(), None)?;
    Ok(created.user)
}
