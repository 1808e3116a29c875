//! Every integration test, in one binary so each wasm component is built and
//! compiled once per run. Tests read like the seed documents: request in,
//! status and body out.

mod account_flows;
mod apiculus_accounts;
mod apiculus_auth;
mod audit;
mod clients;
mod cloudcockpit_auth;
mod cloudcockpit_users;
mod console;
mod create_customer;
mod documented_bodies;
mod four_dialects;
mod gcore_auth;
mod gcore_users;
mod hardening;
mod hardening3;
mod health;
mod host_faults;
mod host_kv;
mod host_routing;
mod host_serve;
mod host_variables;
mod identity;
mod impersonation;
mod manifest;
mod mutator;
mod openapi;
mod organizations;
mod permissions;
mod request_cost;
mod scale_out;
mod scim;
mod scim_bulk;
mod scim_groups;
mod support;
mod two_factor;
mod update_user;
