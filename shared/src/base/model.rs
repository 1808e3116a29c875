//! The provisioning domain, shared by every API family. Families rename and
//! reshape these on the wire; they never keep records of their own.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::base::time::Millis;

/// One white-label platform instance; every other record lives under one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Short, key-safe id (`[a-z0-9-]`, at most 40 characters).
    pub id: String,
    pub name: String,
    /// Host names the tenant is served on (`X-Tenant` values).
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub status: Lifecycle,
    /// The tenant's root organization, where its operators live.
    #[serde(default)]
    pub root_org: Option<Uuid>,
    /// Where the Clone-family application key (`x-api-key`) is indexed
    /// (`kid/keyed hash`), so it can be rotated; never the key itself.
    #[serde(default)]
    pub application_key: Option<String>,
    /// Where the account messages (invitations, confirmations, resets) are
    /// delivered; without one, operators read them from the outbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// How long each kind of account token stays good.
    #[serde(default)]
    pub token_ttl: TokenTtl,
    pub created_at: Millis,
}

/// A tenant's webhook: the URL Onboard POSTs each message to, and the
/// signing secret (Standard Webhooks `whsec_...`), sealed with the token
/// keys because it must be read back to sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    pub sealed_secret: String,
}

/// Lifetimes of account tokens. The defaults are Devise's, whose flows the
/// Clone family's pages name: confirm within 3 days, accept an invitation
/// within 7, reset a password within 6 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "openapi",
    schemars(
        default,
        description = "Minutes, 1 to 525600 (a year); one left out keeps its default"
    )
)]
pub struct TokenTtl {
    #[cfg_attr(feature = "openapi", schemars(with = "TtlMinutes"))]
    pub confirmation_minutes: u32,
    #[cfg_attr(feature = "openapi", schemars(with = "TtlMinutes"))]
    pub invitation_minutes: u32,
    #[cfg_attr(feature = "openapi", schemars(with = "TtlMinutes"))]
    pub reset_minutes: u32,
}

#[cfg(feature = "openapi")]
crate::base::schema::schema_type!(
    /// A token lifetime the admin API reads.
    TtlMinutes,
    serde_json::json!({"type": "integer", "minimum": 1, "maximum": 525600,
        "description": "Written without a fraction (60, not 60.0)"})
);

impl Default for TokenTtl {
    fn default() -> Self {
        Self {
            confirmation_minutes: 3 * 24 * 60,
            invitation_minutes: 7 * 24 * 60,
            reset_minutes: 6 * 60,
        }
    }
}

/// A named set of users inside an organization (CloudCockpit groups, Gcore
/// groups such as `Administrators`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    /// The role membership grants.
    pub role: Role,
    /// The identity provider's id for the group (SCIM `externalId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Zero for groups made before these were kept.
    #[serde(default)]
    pub created_at: Millis,
    #[serde(default)]
    pub updated_at: Millis,
}

/// Whether an organization resells (a partner) or is an end customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// A tenant's root, holding its operators.
    Platform,
    Reseller,
    Customer,
}

/// One account lifecycle, checked on every credential use; each family's
/// statuses map onto it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    #[default]
    Active,
    Disabled,
    Restricted,
    Terminated,
    Deleted,
}

impl Lifecycle {
    /// Whether a credential of an account in this state still works.
    /// Restricted accounts keep using what they have; the rest are shut out.
    pub fn may_authenticate(self) -> bool {
        matches!(self, Lifecycle::Active | Lifecycle::Restricted)
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Lifecycle::Active),
            "disabled" => Some(Lifecycle::Disabled),
            "restricted" => Some(Lifecycle::Restricted),
            "terminated" => Some(Lifecycle::Terminated),
            "deleted" => Some(Lifecycle::Deleted),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Disabled => "disabled",
            Lifecycle::Restricted => "restricted",
            Lifecycle::Terminated => "terminated",
            Lifecycle::Deleted => "deleted",
        }
    }
}

/// Roles, from widest to narrowest reach; families map their names onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    ResellerAdmin,
    CustomerAdmin,
    User,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "operator" => Some(Role::Operator),
            "reseller_admin" => Some(Role::ResellerAdmin),
            "customer_admin" => Some(Role::CustomerAdmin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::ResellerAdmin => "reseller_admin",
            Role::CustomerAdmin => "customer_admin",
            Role::User => "user",
        }
    }
    /// Whether this role administers (Clone `Admin`/`Super Admin`).
    pub fn is_admin(self) -> bool {
        self != Role::User
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: Uuid,
    pub kind: OrgKind,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    pub parent: Option<Uuid>,
    /// Root first, parent last; a caller in org X reaches Y when X is Y or one
    /// of Y's ancestors.
    #[serde(default)]
    pub ancestors: Vec<Uuid>,
    #[serde(default)]
    pub status: Lifecycle,
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    /// Reseller code (Apiculus `resellerCode`), unique in the tenant.
    #[serde(default)]
    pub code: Option<String>,
    /// Integer alias (Gcore client and reseller ids), unique in the tenant.
    #[serde(default)]
    pub number: Option<u64>,
    /// Address and contact fields (`address`, `phone`, `contact_email`...).
    #[serde(default)]
    pub details: std::collections::BTreeMap<String, String>,
    /// Set while a delete checks the organization is empty: a create or a
    /// move that lands in it meanwhile undoes itself (see
    /// `organizations::delete`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing: Option<Closing>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A delete's fence on its organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closing {
    pub op: String,
    pub at: Millis,
}

impl Organization {
    /// Its ancestors (root first), then itself: the organizations whose
    /// administrators reach it.
    pub fn chain(&self) -> Vec<Uuid> {
        self.ancestors.iter().copied().chain([self.id]).collect()
    }

    /// Whether a caller whose organization is `org` reaches this one.
    pub fn within(&self, org: Uuid) -> bool {
        self.id == org || self.ancestors.contains(&org)
    }
    /// The one active subscription of a product, if any.
    pub fn active_for(&self, product: &str) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .find(|s| s.status == SubscriptionStatus::Active && s.product == product)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    Inactive,
    Canceled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    None,
    Monthly,
    Yearly,
}

impl Interval {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Interval::None),
            "monthly" => Some(Interval::Monthly),
            "yearly" => Some(Interval::Yearly),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: Uuid,
    pub plan: String,
    pub product: String,
    pub status: SubscriptionStatus,
    pub interval: Interval,
    pub partner: bool,
    pub start_date: Millis,
    pub end_date: Option<Millis>,
    pub created_at: Millis,
    #[serde(default)]
    pub updated_at: Option<Millis>,
    /// Decimal price as text (`"9.99"`), as the vendor's history shows it.
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub trial_enabled: bool,
    #[serde(default)]
    pub trial_duration_days: Option<u32>,
    #[serde(default)]
    pub auto_renewal: bool,
    #[serde(default)]
    pub cancellation_reason: Option<String>,
    /// Per-subscription features (open plans).
    #[serde(default)]
    pub features: Option<serde_json::Value>,
}

/// Contact and preference fields every family's user carries (all optional).
/// Clone's wire names are these: its request types flatten this one, and its
/// schema says what every family's reader checks (at most 255 characters, a
/// known language and time zone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Profile {
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub first_name: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub last_name: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Locale>")
    )]
    pub locale: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schemars(with = "Option<crate::base::schema::Timezone>")
    )]
    pub timezone: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub phone: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub mobile_phone: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub url: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub title: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub address: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub city: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub state: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub country: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub zipcode: Option<String>,
    #[cfg_attr(feature = "openapi", schemars(length(max = 255)))]
    pub comment: Option<String>,
}

/// What an organization's identity provider says of a user beyond the
/// profile every family shares (SCIM's `externalId`, `displayName`,
/// `name.formatted` and enterprise extension): kept on the core's user so
/// that a user pushed by an identity provider reads back as it was pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// The provider's own id for the user (RFC 7643 `externalId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    /// Which of the profile's numbers the provider marks primary (`work`,
    /// `mobile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The enterprise extension's `organization` (a company name, not the
    /// core's organization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// The provider disabled the account (`active: false`), so the provider
    /// may enable it again; one an administrator disabled it may not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provider_disabled: bool,
}

impl Directory {
    pub fn is_empty(&self) -> bool {
        *self == Directory::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    /// Integer alias for families with numeric ids (Gcore), once assigned.
    #[serde(default)]
    pub number: Option<u64>,
    /// Account-code alias for families with coded ids (Apiculus), once assigned.
    #[serde(default)]
    pub account_code: Option<String>,
    /// As the client wrote it; uniqueness is on its lower-cased form.
    pub email: String,
    /// An email change waiting to be confirmed from the new address (Devise's
    /// reconfirmable `unconfirmed_email`): sign-in, resets and messages keep
    /// using `email` until then, and nothing claims this address yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed_email: Option<String>,
    /// The confirmation token sent to `unconfirmed_email`: only it confirms
    /// the change, and a newer change request replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconfirmation: Option<Uuid>,
    pub organization_id: Uuid,
    pub role: Role,
    #[serde(default)]
    pub groups: Vec<Uuid>,
    pub profile: Profile,
    /// Identity-provider attributes (SCIM), empty for most users.
    #[serde(default, skip_serializing_if = "Directory::is_empty")]
    pub directory: Directory,
    pub confirmed: bool,
    #[serde(default)]
    pub status: Lifecycle,
    /// argon2id PHC string; never the password.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// How the user may sign in (Gcore `auth_types`); empty means `password`.
    #[serde(default)]
    pub auth_types: Vec<String>,
    /// The id of the user's one long-lived access token (Clone `Basic`).
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub sign_in_count: u64,
    #[serde(default)]
    pub last_sign_in_at: Option<Millis>,
    #[serde(default)]
    pub last_sign_in_ip: Option<String>,
    /// The second factor, once installed (`idm::two_factor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<TwoFactor>,
    /// The invitation the user has yet to accept; until then it cannot sign
    /// in, whatever credential it may have been given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<Uuid>,
    /// Sessions and tokens issued before this instant are dead (a password
    /// reset sets it): one write ends them all, however many there are.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub credentials_valid_from: Millis,
    /// The organization a move left, until the move is settled (the target
    /// still admits members, counts moved) or undone: whoever reads the
    /// user next finishes it (`users::settle_move`), so a move that died
    /// half-way is repaired by its retry, and a delete of either
    /// organization waits for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<Uuid>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

fn is_zero(n: &Millis) -> bool {
    *n == 0
}

/// How far replicas' clocks may disagree for [`User::credentials_floor`].
pub const CLOCK_SLACK_MS: Millis = 60_000;

impl User {
    /// Whether the user signs in with a second factor (installed and
    /// verified).
    pub fn two_factor_required(&self) -> bool {
        self.two_factor.as_ref().is_some_and(|t| t.enabled)
    }

    /// The earliest issue time a credential of this user may carry: nothing
    /// issued before its last reset, nor before the account existed (so a
    /// session or token of an earlier record under the same id, from before
    /// ids were reserved for ever, never authenticates as this one).
    pub fn credentials_floor(&self) -> Millis {
        // A minute of slack for replicas whose clocks disagree a little: a
        // session opened right after the account was made elsewhere lives.
        self.credentials_valid_from
            .max(self.created_at.saturating_sub(CLOCK_SLACK_MS))
    }
}

/// A user's second factor; nothing in it is usable if the store leaks
/// without `token_keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactor {
    /// The TOTP secret, sealed (`totp::seal_secret`) for this user.
    pub secret: String,
    /// Installed and verified with a code; until then sign-in ignores it.
    pub enabled: bool,
    /// The last TOTP step a code was accepted at (a code is good once).
    #[serde(default)]
    pub last_step: u64,
    /// Keyed hashes (`secrets::seal`) of the unused recovery codes.
    #[serde(default)]
    pub recovery: Vec<String>,
    /// Where SMS codes may go: the phone on the account when the factor was
    /// installed (with the password), not whatever the profile says later,
    /// so a stolen session cannot point the codes at its own phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_phone: Option<String>,
}

/// A plan a tenant sells; plans are configured by the operator, not by API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub code: String,
    pub product: String,
    pub name: String,
    /// Open plans take their features per subscription.
    #[serde(default)]
    pub open: bool,
}

/// Password rules; each family's documented rules are a profile of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub min_len: usize,
    pub max_len: usize,
    pub upper: bool,
    pub lower: bool,
    pub digit: bool,
    pub symbol: bool,
}

impl Default for PasswordPolicy {
    /// The Clone family's default: 8 to 128 characters, no class rules (it
    /// accepts seed 000's `password123`).
    fn default() -> Self {
        Self {
            min_len: 8,
            max_len: 128,
            upper: false,
            lower: false,
            digit: false,
            symbol: false,
        }
    }
}

impl PasswordPolicy {
    /// Apiculus's documented rule: upper- and lower-case letters, digits and
    /// symbols, at the service provider's configured length.
    pub fn apiculus(min_len: usize) -> Self {
        Self {
            min_len,
            max_len: 128,
            upper: true,
            lower: true,
            digit: true,
            symbol: true,
        }
    }
}

/// Per-tenant configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub plans: Vec<Plan>,
    /// Subscribed on creation unless `skip_default_subscription`.
    pub default_plan: Option<String>,
    pub password: PasswordPolicy,
    /// Profiles of the policy for families that document stricter rules,
    /// by family (`apiculus`); a family without one uses `password`.
    #[serde(default = "default_family_passwords")]
    pub family_passwords: std::collections::BTreeMap<String, PasswordPolicy>,
    /// Prefix of coded account ids (Apiculus `API-E001`).
    #[serde(default = "default_account_prefix")]
    pub account_code_prefix: String,
    /// Reference data the families validate against.
    #[serde(default)]
    pub reference: ReferenceData,
}

fn default_family_passwords() -> std::collections::BTreeMap<String, PasswordPolicy> {
    [("apiculus".to_string(), PasswordPolicy::apiculus(8))].into()
}

fn default_account_prefix() -> String {
    "API".into()
}

/// Lists a tenant's operator configures; families validate choices against
/// them (Apiculus `signUpHelper`). The defaults are the vendor's sample
/// configuration, under which its sample account is valid.
// The admin API reads and shows this type as it is (serde), so its derived
// schema is the document's; `set_reference_data`'s checks are the
// attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(default)]
pub struct ReferenceData {
    /// ISO 4217 codes accounts may be created with.
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1), inner(regex(pattern = "^[A-Z]{3}$")))
    )]
    pub currencies: Vec<String>,
    #[cfg_attr(feature = "openapi", schemars(length(min = 1)))]
    pub tax_categories: Vec<TaxCategory>,
    /// CloudStack regions (`acsRegion`).
    pub regions: Vec<String>,
    pub tax_types: Vec<TaxType>,
    /// Digits a mobile number has.
    #[cfg_attr(feature = "openapi", schemars(range(min = 4, max = 15)))]
    pub mobile_digits: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TaxCategory {
    #[cfg_attr(feature = "openapi", schemars(regex(pattern = r"\S")))]
    pub value: String,
    pub display_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TaxType {
    #[cfg_attr(feature = "openapi", schemars(regex(pattern = r"\S")))]
    pub name: String,
    pub validation: TaxValidation,
}

/// Rules for the taxation id of a tax type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "openapi",
    schemars(description = "Rules for the taxation id of a tax type: min not above max")
)]
pub struct TaxValidation {
    pub alpha_num: bool,
    pub required: bool,
    #[cfg_attr(feature = "openapi", schemars(range(max = 255)))]
    pub min: usize,
    #[cfg_attr(feature = "openapi", schemars(range(max = 255)))]
    pub max: usize,
}

impl Default for ReferenceData {
    fn default() -> Self {
        let category = |value: &str, text: &str| TaxCategory {
            value: value.into(),
            display_text: text.into(),
        };
        let tax = |name: &str, required: bool, min: usize, max: usize| TaxType {
            name: name.into(),
            validation: TaxValidation {
                alpha_num: true,
                required,
                min,
                max,
            },
        };
        Self {
            currencies: vec!["INR".into(), "RWF".into(), "OMR".into()],
            tax_categories: vec![
                category("Taxable", "Indian Organisation or Individual (Non-SEZ)"),
                category(
                    "SEZ",
                    "Indian Organisation or Individual (Located in a SEZ)",
                ),
                category(
                    "EMBASSY",
                    "Non-Indian Organisation or Individual (Located Outside India)",
                ),
            ],
            regions: vec!["noida".into()],
            tax_types: vec![tax("CNPJ", true, 11, 15), tax("GSTIN", false, 10, 10)],
            mobile_digits: 10,
        }
    }
}

impl Default for Settings {
    /// A new tenant's catalog until its operator configures one.
    fn default() -> Self {
        let plan = |code: &str, product: &str, name: &str, open: bool| Plan {
            code: code.into(),
            product: product.into(),
            name: name.into(),
            open,
        };
        Self {
            plans: vec![
                plan("vrms_plan", "vrms", "VRMS", false),
                plan("pci_plan", "pci", "PCI", false),
                plan("pci-open", "pci", "PCI (open)", true),
                plan("free", "free", "Free", false),
            ],
            default_plan: Some("free".into()),
            password: PasswordPolicy::default(),
            family_passwords: default_family_passwords(),
            account_code_prefix: default_account_prefix(),
            reference: ReferenceData::default(),
        }
    }
}

impl Settings {
    /// The password policy a family's endpoints enforce in this tenant.
    pub fn password_policy(&self, family: &str) -> &PasswordPolicy {
        self.family_passwords.get(family).unwrap_or(&self.password)
    }
    pub fn plan(&self, code: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.code == code)
    }
}
