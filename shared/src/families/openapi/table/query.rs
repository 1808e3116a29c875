//! Query parameters of every operation that reads the query string. Each
//! comes from a schema-only type beside the parser that reads it
//! ([`crate::base::schema::query`]), but for the Clone list query, whose
//! parameter names are each list's columns. Each schema admits only values
//! the handler accepts, or that it rejects with a status the operation
//! documents (so a generated value never draws an undocumented answer).

use serde_json::{Value, json};

use crate::base::schema::{query, query_instead};
use crate::families::clone::account::bodies as account;
use crate::families::clone::session::bodies as session;
use crate::families::{apiculus, clone, cloudcockpit, gcore, scim, service};

/// One optional query parameter.
fn param(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema,
           "description": description})
}

// ---------------------------------------------------------------- Clone ---

/// The Clone list query (`crate::idm::listing::parse`) over `columns`:
/// [`crate::idm::listing::ListParams`], with `sort_by` and the `q[<col>]`
/// filters over the list's own columns. Unknown parameters are ignored.
fn clone_list(columns: &[&str]) -> Vec<Value> {
    let mut sorts: Vec<String> = Vec::new();
    for c in columns {
        sorts.extend([
            c.to_string(),
            format!("-{c}"),
            format!("{c}:asc"),
            format!("{c}:desc"),
        ]);
    }
    let mut out = query::<crate::idm::listing::ListParams>();
    out.push(param(
        "sort_by",
        json!({"type": "string", "enum": sorts}),
        "Sort column; `-col` or `col:desc` for descending",
    ));
    for c in columns {
        out.push(param(
            &format!("q[{c}]"),
            json!({"type": "string"}),
            &format!("Filter on {c}: case-insensitive, `*` matches any run"),
        ));
    }
    out
}

// ----------------------------------------------------------- the table ---

/// The query parameters of `method` (any case) `path` (the OpenAPI path of
/// [`OPERATIONS`]); empty for an operation that ignores its query string.
pub fn query_parameters(method: &str, path: &str) -> Vec<Value> {
    let method = method.to_ascii_lowercase();
    match (method.as_str(), path) {
        // Clone v2.
        // Every query pair fills a field the JSON body lacks, as the
        // vendor's generated curl sends them.
        ("post", "/auth/sign_in") => query_instead::<session::SignIn>(&[
            "username",
            "password",
            "otp_session_state",
            "otp_attempt",
            "recovery_code",
        ]),
        // Each account-flow field may come in the query instead of the body,
        // as sign-in's do; the GETs read them only there.
        ("get" | "post", "/auth/confirmation") => {
            query_instead::<account::Confirmation>(&["confirmation_token"])
        }
        ("get" | "put", "/auth/invitation") => {
            query_instead::<account::InvitationAccept>(&["invitation_token"])
        }
        ("post", "/auth/sms_otp") => {
            query_instead::<account::OtpSessionState>(&["otp_session_state"])
        }
        ("post", "/auth/password") => query_instead::<account::ForgotPassword>(&["email"]),
        ("put", "/auth/password") => {
            query_instead::<account::PasswordReset>(&["reset_password_token"])
        }
        ("get", "/v2/users") => clone_list(&crate::idm::users::LIST_COLUMNS),
        // SCIM.
        ("get", "/scim/v2/Users" | "/scim/v2/Groups") => query::<scim::ListQuery>(),
        (
            "get" | "put" | "patch" | "post",
            "/scim/v2/Users/{id}" | "/scim/v2/Users" | "/scim/v2/Groups/{id}" | "/scim/v2/Groups",
        ) => query::<scim::ProjectionQuery>(),
        ("delete", "/v2/users/{id}") => query::<clone::DeleteUserQuery>(),
        ("get", "/v2/user/permissions") => query::<clone::current_user::PermissionsQuery>(),
        ("post", "/auth/impersonate") => query::<session::ImpersonateQuery>(),
        ("delete", "/auth/impersonate") => {
            query_instead::<session::Revert>(&["impersonator_revert_token"])
        }
        ("get", "/v2/organizations") => clone_list(&crate::idm::organizations::LIST_COLUMNS),
        ("put", "/v2/organizations/move") => query::<clone::organizations::MoveQuery>(),
        ("get", "/v2/organizations/{id}/subscriptions") => {
            query::<clone::organizations::SubscriptionsQuery>()
        }
        ("get", "/v2/audit/events") => clone_list(&crate::idm::audit::COLUMNS),

        // CloudCockpit v1.
        ("get", "/v1/Customers") => query::<cloudcockpit::customers::CustomersQuery>(),
        ("get" | "delete", "/v1/Customers/{customerId}")
        | ("get" | "post", "/v1/customer/{customerId}/users") => {
            query::<cloudcockpit::CustomerResellerQuery>()
        }
        ("patch" | "delete", "/v1/users/{email}") => query::<cloudcockpit::UserResellerQuery>(),
        ("get", "/v1") => query::<cloudcockpit::portal_users::UsersQuery>(),
        ("get", "/v1/users/groups") => query::<cloudcockpit::portal_users::GroupsQuery>(),

        // Apiculus.
        ("get", "/api/v1/stateList") => query::<apiculus::accounts::StateListQuery>(),
        (
            "put",
            "/api/v1/serv_disableUserAccount/{id}"
            | "/api/v1/serv_enableUserAccount/{id}"
            | "/api/v1/serv_restrictUserAccount/{id}"
            | "/api/v1/serv_terminateUserAccount/{id}",
        ) => query::<apiculus::LifecycleQuery>(),

        // Gcore IAM.
        ("get", "/iam/users") => query::<gcore::users::UsersQuery>(),
        ("get", "/iam/v2/clients/{clientId}/tokens") => query::<gcore::TokensQuery>(),
        ("get", "/admin/scim-connections") => {
            query::<service::scim_connection_bodies::ScimConnectionsQuery>()
        }

        _ => Vec::new(),
    }
}

#[cfg(test)]
mod query_parameter_tests {
    use super::*;

    #[test]
    fn lists_document_paging_and_filters() {
        let names: Vec<String> = query_parameters("GET", "/v2/users")
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        for n in [
            "page",
            "per_page",
            "sort_by",
            "relative_date_range",
            "q[email]",
        ] {
            assert!(names.iter().any(|x| x == n), "{n}");
        }
        assert!(query_parameters("get", "/health").is_empty());
        let uuid = &query_parameters("post", "/auth/impersonate")[0];
        assert_eq!(
            (uuid["name"].as_str(), uuid["required"].as_bool()),
            (Some("uuid"), Some(true))
        );
    }

    #[test]
    fn the_relative_range_pattern_matches_what_the_code_takes() {
        // Every value the pattern admits parses (listing::relative_range).
        let now = crate::base::time::parse_iso8601("2024-05-10T12:00:00Z").unwrap();
        for ok in ["1s", "10d", "99999y", "3M", "1q1970", "4q9999", "12M2024"] {
            assert!(
                crate::idm::listing::relative_range(ok, now).is_some(),
                "{ok}"
            );
        }
    }
}
