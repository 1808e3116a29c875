//! The Clone family's request envelopes, whose schemas are the document's.
//! What is inside each is the core type the reader fills (`NewCustomer`,
//! `UserChange`, `NewOrg`, `PlanRequest`), whose schema is derived with
//! the attributes that say what the reader checks; the envelopes add only
//! the wrapping objects, so the shipped readers are unchanged.

use serde_json::{Value, json};

use crate::base::schema::{schema_type, strings};
use crate::idm::organizations::OrgChange;
use crate::idm::provision::{NewCustomer, NewOrg, PlanRequest};
use crate::idm::subscriptions::SubscriptionChange;
use crate::idm::users::UserChange;

/// Seed 000: `POST /v2/users/create_customer`.
#[derive(schemars::JsonSchema)]
pub struct CreateCustomerBody {
    pub customer: NewCustomer,
}

/// `POST /v2/organizations`: a new organization, its plans inside it or
/// beside it.
#[derive(schemars::JsonSchema)]
pub struct NewOrganizationBody {
    pub organization: NewOrganizationFields,
    pub plans: Option<Vec<PlanRequest>>,
}

#[derive(schemars::JsonSchema)]
pub struct NewOrganizationFields {
    #[schemars(flatten)]
    pub organization: NewOrg,
    pub plans: Option<Vec<PlanRequest>>,
}

/// Seed 002: `PUT /v2/users/{id}` (and, without `organization_id`,
/// `PUT /v2/user/me`). Every field is optional; `null` clears a profile
/// field.
#[derive(schemars::JsonSchema)]
pub struct UserChangeBody {
    /// The fields to change; absent ones are left as they are.
    pub user: UserChange,
}

/// `POST /v2/organizations/{id}/subscribe`: a plan as seed 000 names one,
/// and an open plan's features.
#[derive(schemars::JsonSchema)]
pub struct SubscribeBody {
    #[schemars(flatten)]
    pub plan: PlanRequest,
    /// Only for an open plan: a JSON object of at most 4,096 bytes, nesting
    /// at most 5 levels
    pub features: Option<serde_json::Map<String, Value>>,
}

/// `PUT /v2/organizations/{id}/subscriptions/{sub_id}`.
#[derive(schemars::JsonSchema)]
pub struct SubscriptionChangeBody {
    /// The fields to change; absent ones are left as they are.
    pub subscription: SubscriptionChange,
}

/// `PUT /v2/user/organization`: the full update.
#[derive(schemars::JsonSchema)]
pub struct OrganizationChangeBody {
    /// The organization's names and details; a detail left out is kept,
    /// null clears it.
    pub organization: OrganizationChangeFields,
}

#[derive(schemars::JsonSchema)]
pub struct OrganizationChangeFields {
    #[schemars(flatten)]
    pub change: OrgChange,
    #[schemars(flatten)]
    pub details: OrgDetails,
}

schema_type!(
    /// The address, contact, billing and tax fields a full update reads
    /// (`current_user::ORG_DETAILS`), each text or null to clear it.
    OrgDetails,
    {
        let text = json!({"type": ["string", "null"], "maxLength": 255});
        let props: serde_json::Map<String, Value> = super::current_user::ORG_DETAILS
            .iter()
            .map(|k| (k.to_string(), text.clone()))
            .collect();
        json!({"type": "object", "properties": props})
    }
);

/// `PUT /v2/organizations/{id}`: the full update, or `status` alone (this
/// service's addition: disables or enables the organization).
#[derive(schemars::JsonSchema)]
pub struct OrganizationUpdateBody {
    /// The organization's names and details (a detail left out is kept,
    /// null clears it), or its status alone.
    pub organization: OrganizationUpdateFields,
}

#[derive(schemars::JsonSchema)]
#[schemars(transform = full_or_status)]
pub struct OrganizationUpdateFields {
    #[schemars(flatten)]
    pub fields: OrganizationChangeFields,
    #[schemars(transform = crate::base::schema::not_null)]
    pub status: Option<OrgStatus>,
}

strings!(OrgStatus, ["active", "disabled"]);

fn full_or_status(schema: &mut schemars::Schema) {
    schema.remove("required");
    schema.insert(
        "anyOf".into(),
        json!([{"required": ["name", "company_name"]},
            {"required": ["status"], "maxProperties": 1}]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::schema::samples::accepted;

    #[test]
    fn what_the_schemas_allow_the_parsers_accept() {
        accepted::<CreateCustomerBody>(|b| super::super::parse_create_customer(b).is_ok());
        accepted::<UserChangeBody>(|b| super::super::parse_user_change(b).is_ok());
        accepted::<NewOrganizationBody>(|b| super::super::organizations::parse_new_org(b).is_ok());
        accepted::<SubscribeBody>(|b| {
            let mut errors = crate::base::error::FieldErrors::default();
            let mut f = super::super::Fields::new(b, &mut errors);
            super::super::parse_plan(&mut f);
            errors.0.is_empty()
        });
        accepted::<SubscriptionChangeBody>(|b| {
            super::super::organizations::parse_subscription_change(b).is_ok()
        });
        accepted::<OrganizationChangeBody>(|b| {
            super::super::current_user::parse_org_change(b).is_ok()
        });
        // The full update (the first alternative, which the samples take).
        accepted::<OrganizationUpdateBody>(|b| {
            super::super::organizations::org_status(b).is_ok()
                && super::super::current_user::parse_org_change(b).is_ok()
        });
    }
}
