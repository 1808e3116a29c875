//! The provisioning domain, one file per concept: the records ([`model`]),
//! the verbs on them (customers, users, organizations, subscriptions,
//! groups, invitations, administration), and what they are listed, counted,
//! audited and validated by.

pub mod account_tokens;
pub mod admin;
pub mod aliases;
pub mod audit;
pub mod external_ids;
pub mod groups;
pub mod invitations;
pub mod listing;
pub mod organizations;
pub mod outbox;
pub mod provision;
pub mod reach;
pub mod reference;
pub mod subscriptions;
pub mod two_factor;
pub mod users;
