//! The Clone family's request bodies, as its readers fill them (the
//! `Fields` reader gathers every field error, which a derived
//! deserializer would not). With the `openapi` feature each derives its
//! schema, and that is the document's: the attributes say what the reader
//! checks, from the same constants.

use uuid::Uuid;

use crate::base::model::Profile;
use crate::idm::provision::{NewCustomer, NewOrg, NewUser, PlanRequest};
use crate::idm::users::{ProfileChange, UserChange};

/// Seed 000: `POST /v2/users/create_customer`.
#[derive(Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CreateCustomerBody {
    pub customer: CustomerBody,
}

/// An existing organization (`organization_id`) or a new one
/// (`organization`); with both, the user joins the existing one and the new
/// one is only checked.
#[derive(Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(extend("anyOf" = [
    {"required": ["organization_id"], "properties": {"organization_id": {"type": "string"}}},
    {"required": ["organization"], "properties": {"organization": {"type": "object"}}}
])))]
pub struct CustomerBody {
    pub organization_id: Option<Uuid>,
    pub organization: Option<NewOrg>,
    pub user: CustomerUserBody,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Vec<PlanRequest>>"))]
    pub plans: Vec<PlanRequest>,
}

/// `POST /v2/organizations`: a new organization, its plans inside it or
/// beside it.
#[derive(Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NewOrganizationBody {
    pub organization: NewOrganizationFields,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Vec<PlanRequest>>"))]
    pub plans: Vec<PlanRequest>,
}

#[derive(Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NewOrganizationFields {
    #[cfg_attr(feature = "openapi", schemars(flatten))]
    pub organization: NewOrg,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<Vec<PlanRequest>>"))]
    pub plans: Vec<PlanRequest>,
}

/// The customer's first user.
#[derive(Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(extend("dependentRequired" = {"password_confirmation": ["password"]})))]
pub struct CustomerUserBody {
    #[cfg_attr(feature = "openapi", schemars(email, length(min = 1, max = 255)))]
    pub email: String,
    #[cfg_attr(feature = "openapi", schemars(flatten))]
    pub profile: Profile,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Password>")
    )]
    pub password: Option<String>,
    /// Equal to password, which must then be given (not null).
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub password_confirmation: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(with = "Option<bool>"))]
    pub confirmed: bool,
}

impl From<CreateCustomerBody> for NewCustomer {
    fn from(body: CreateCustomerBody) -> Self {
        let c = body.customer;
        let u = c.user;
        NewCustomer {
            organization_id: c.organization_id,
            organization: c.organization,
            user: NewUser {
                email: u.email,
                profile: u.profile,
                confirmed: u.confirmed,
                password: u.password,
                ..NewUser::default()
            },
            plans: c.plans,
            ..NewCustomer::default()
        }
    }
}

/// Seed 002: `PUT /v2/users/{id}` (and, without `organization_id`,
/// `PUT /v2/user/me`). Every field is optional; `null` clears a profile
/// field.
#[derive(Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct UserChangeBody {
    pub user: UserChangeFields,
}

/// The fields to change; absent ones are left as they are.
#[derive(Debug, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct UserChangeFields {
    /// A new email: pending until the new address confirms it. It cannot
    /// be cleared (null is refused).
    #[cfg_attr(feature = "openapi", schemars(email, length(min = 1, max = 255), extend("type" = "string")))]
    pub email: Option<String>,
    /// Move the user to another organization the caller administers (not
    /// null).
    #[cfg_attr(feature = "openapi", schemars(extend("type" = "string")))]
    pub organization_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schemars(flatten))]
    pub profile: ProfileChange,
    /// Your own password: changing your own email needs it.
    pub current_password: Option<String>,
    /// Operators changing another account's email: take effect now instead
    /// of pending until the new address confirms it.
    #[cfg_attr(feature = "openapi", schemars(with = "Option<bool>"))]
    pub skip_reconfirmation: bool,
}

impl From<UserChangeBody> for UserChange {
    fn from(body: UserChangeBody) -> Self {
        let u = body.user;
        UserChange {
            email: u.email,
            organization_id: u.organization_id,
            profile: u.profile,
            current_password: u.current_password,
            skip_reconfirmation: u.skip_reconfirmation,
            ..UserChange::default()
        }
    }
}

#[cfg(test)]
#[cfg(feature = "openapi")]
mod tests {
    use super::*;
    use crate::base::schema::samples::accepted;

    #[test]
    fn what_the_schemas_allow_the_parsers_accept() {
        accepted::<CreateCustomerBody>(|b| super::super::parse_create_customer(b).is_ok());
        accepted::<UserChangeBody>(|b| super::super::parse_user_change(b).is_ok());
        accepted::<NewOrganizationBody>(|b| super::super::organizations::parse_new_org(b).is_ok());
    }
}
