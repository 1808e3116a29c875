//! The vendor's User Confirmation, User Invitation and Password Reset pages
//! (titles only): `/auth/confirmation`, `/auth/invitation` and
//! `/auth/password`, in the form of its sign-in page (`x-api-key` names the
//! tenant; fields in the JSON body or the query) and with Devise's field
//! names, which its sign-in fields (`otp_attempt`) already follow.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::organizations::allow;
use super::session::{open_and_answer, sign_in_fields};
use super::{client_address, header_str, json_object, render_error, role_name};
use crate::base::error::{Error, FieldErrors};
use crate::base::model::Tenant;
use crate::base::time::format_millis;
use crate::be::storage::Env;
use crate::credential::identity::{self, Config};
use crate::edge::web::{self, Request, Response};
use crate::idm::account_tokens::{self, Purpose};

/// The tenant the application key names, served on this host.
fn tenant(req: &Request, env: &Env, config: &Config) -> Result<Tenant, Error> {
    let tenant = identity::application_tenant(env, config, header_str(req, "x-api-key"))?;
    identity::check_destination(env, &tenant.id, None, header_str(req, "host"))?;
    Ok(tenant)
}

/// The string fields `names` (required ones listed in `required`).
fn strings<const N: usize>(
    fields: &Map<String, Value>,
    names: [&str; N],
    required: &[&str],
) -> Result<[Option<String>; N], Error> {
    let mut errors = FieldErrors::default();
    let values = names.map(|name| match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::String(_)) | Some(Value::Null) | None => {
            if required.contains(&name) {
                errors.add(name, "is required");
            }
            None
        }
        Some(_) => {
            errors.add(name, "must be a string");
            None
        }
    });
    errors.into_result()?;
    Ok(values)
}

/// A new password and its confirmation, from the body only: a query string
/// ends up in access logs.
fn passwords(req: &Request) -> Result<[Option<String>; 2], Error> {
    strings(
        &json_object(req)?,
        ["password", "password_confirmation"],
        &["password"],
    )
}

/// The bodies [`confirmation`], [`invitation`], [`password`] and
/// [`sms_otp`] read with [`strings`]: present, non-empty strings. A token or
/// state may come in the query instead ([`sign_in_fields`]); a password never.
#[cfg(feature = "openapi")]
pub mod bodies {
    use schemars::JsonSchema;

    /// An account token is `<32 hex>.<64 hex>`; anything else up to this
    /// length is looked up and refused (422) like a spent one.
    const TOKEN: u32 = 256;
    /// Longer than any policy allows: the policy's refusal is a 422 too.
    const PASSWORD: u32 = 1024;

    #[derive(JsonSchema)]
    pub struct Confirmation {
        /// The confirmation token
        #[schemars(length(min = 1, max = TOKEN))]
        pub confirmation_token: String,
    }

    #[derive(JsonSchema)]
    pub struct InvitationAccept {
        /// The invitation token
        #[schemars(length(min = 1, max = TOKEN))]
        pub invitation_token: String,
        #[schemars(length(min = 1, max = PASSWORD))]
        pub password: String,
        /// Equal to password when given
        #[schemars(length(max = PASSWORD), transform = crate::base::schema::not_null)]
        pub password_confirmation: Option<String>,
    }

    #[derive(JsonSchema)]
    pub struct InvitationResend {
        pub user_id: uuid::Uuid,
    }

    #[derive(JsonSchema)]
    pub struct ForgotPassword {
        /// The email
        #[schemars(length(min = 1, max = 255))]
        pub email: String,
    }

    #[derive(JsonSchema)]
    pub struct PasswordReset {
        /// The reset token
        #[schemars(length(min = 1, max = TOKEN))]
        pub reset_password_token: String,
        #[schemars(length(min = 1, max = PASSWORD))]
        pub password: String,
        /// Equal to password when given
        #[schemars(length(max = PASSWORD), transform = crate::base::schema::not_null)]
        pub password_confirmation: Option<String>,
    }

    #[derive(JsonSchema)]
    pub struct OtpSessionState {
        /// The pending sign-in's state
        #[schemars(length(min = 1, max = 128))]
        pub otp_session_state: String,
    }
}

fn ok(body: Value) -> Result<Response, Error> {
    Ok(web::json(StatusCode::OK, &body))
}

/// `GET /auth/confirmation?confirmation_token=`: what the token confirms
/// (the vendor's "Show confirmation form"). `POST /auth/confirmation`
/// `{confirmation_token}`: confirms it ("Confirm a User"). A bad, spent or
/// expired token is 422 on `confirmation_token`.
pub fn confirmation(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::GET, Method::POST])?;
        let tenant = tenant(req, env, config)?;
        let [token] = strings(
            &sign_in_fields(req)?,
            ["confirmation_token"],
            &["confirmation_token"],
        )?;
        let token = token.unwrap_or_default();
        if req.method() == Method::GET {
            let (t, user, _) =
                account_tokens::show(env, config, &tenant.id, Purpose::Confirmation, &token)?;
            // A pending email change's token confirms the address it was sent to.
            let (username, verified) = match &user.unconfirmed_email {
                Some(pending) if account_tokens::reconfirms(&t, &user) => (pending, false),
                _ => (&user.email, user.confirmed),
            };
            return ok(json!({
                "status": 200, "status_text": "OK",
                "username": username, "verified": verified,
                "expires_at": format_millis(t.expires_at),
            }));
        }
        let user = account_tokens::confirm(env, config, &tenant.id, &token)?;
        ok(json!({
            "status": 200, "status_text": "OK",
            "message": "Your email address has been successfully confirmed.",
            "username": user.email, "verified": user.confirmed,
        }))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `GET /auth/invitation?invitation_token=`: the pre-accept check (who is
/// invited where, until when). `PUT /auth/invitation` `{invitation_token,
/// password, password_confirmation?}`: accepts it, which sets the password
/// under the tenant's policy and signs the user in (the sign-in object).
///
/// `POST /auth/invitation` `{user_id}` (an administrator's session or access
/// token, as Devise's invitable `POST` re-sends): a fresh invitation, or for
/// an unconfirmed account a fresh confirmation, queued for a narrower
/// account in reach whose first message was lost.
pub fn invitation(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::GET, Method::POST, Method::PUT])?;
        if req.method() == Method::POST {
            let (caller, _, _) = super::authenticate(req, env, config)?;
            let body = json_object(req)?;
            let user_id = match body.get("user_id") {
                Some(Value::String(s)) => uuid::Uuid::try_parse(s).ok(),
                _ => None,
            }
            .ok_or_else(|| Error::invalid("user_id", "must be a user's uuid"))?;
            let purpose = account_tokens::resend(env, &caller, user_id)?;
            return ok(json!({
                "status": 200, "status_text": "OK",
                "message": format!("A new {} message is queued.", purpose.as_str()),
                "kind": purpose.as_str(),
            }));
        }
        let tenant = tenant(req, env, config)?;
        let fields = sign_in_fields(req)?;
        if req.method() == Method::GET {
            let [token] = strings(&fields, ["invitation_token"], &["invitation_token"])?;
            let (t, user, org) = account_tokens::show(
                env,
                config,
                &tenant.id,
                Purpose::Invitation,
                &token.unwrap_or_default(),
            )?;
            return ok(json!({
                "status": 200, "status_text": "OK",
                "username": user.email, "role": role_name(user.role),
                "organization": {"uuid": org.id, "name": org.name},
                "expires_at": format_millis(t.expires_at),
            }));
        }
        let [token] = strings(&fields, ["invitation_token"], &["invitation_token"])?;
        let [password, confirmation] = passwords(req)?;
        let user = account_tokens::accept_invitation(
            env,
            config,
            &tenant.id,
            &token.unwrap_or_default(),
            &password.unwrap_or_default(),
            confirmation.as_deref(),
            config.hash_params(),
        )?;
        let body = open_and_answer(env, config, &tenant, user, &client_address(req))?;
        Ok(web::serialized(StatusCode::OK, &body))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `POST /auth/password` `{email}`: forgot password. The answer is the same
/// whether or not the email has an account; if it has, a reset message is
/// queued. `PUT /auth/password` `{reset_password_token, password,
/// password_confirmation?}`: sets the password and ends every session and
/// token the user held.
pub fn password(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::POST, Method::PUT])?;
        let tenant = tenant(req, env, config)?;
        let fields = sign_in_fields(req)?;
        if req.method() == Method::POST {
            let [email] = strings(&fields, ["email"], &["email"])?;
            account_tokens::forgot_password(
                env,
                &tenant,
                &email.unwrap_or_default(),
                &client_address(req),
            )?;
            return ok(json!({
                "status": 200, "status_text": "OK",
                "message": "If your email address exists in our database, you will receive a password recovery link at your email address in a few minutes.",
            }));
        }
        let [token] = strings(&fields, ["reset_password_token"], &["reset_password_token"])?;
        let [password, confirmation] = passwords(req)?;
        account_tokens::reset_password(
            env,
            config,
            &tenant.id,
            &token.unwrap_or_default(),
            &password.unwrap_or_default(),
            confirmation.as_deref(),
            config.hash_params(),
        )?;
        ok(json!({
            "status": 200, "status_text": "OK",
            "message": "Your password has been changed successfully. Sign in with the new password.",
        }))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `POST /auth/sms_otp` `{otp_session_state}`: the vendor's "Send SMS OTP".
/// For a sign-in waiting for its second factor, a code goes to the user's
/// phone through the outbox; it is then sent as `otp_attempt` like the
/// app's. 200 `{message, phone}` (masked); 401 unknown or spent state; 422
/// no phone on the account; 429 after three sends for one sign-in.
pub fn sms_otp(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        allow(req, &[Method::POST])?;
        let tenant = tenant(req, env, config)?;
        let [state] = strings(
            &sign_in_fields(req)?,
            ["otp_session_state"],
            &["otp_session_state"],
        )?;
        let phone =
            crate::idm::two_factor::send_sms(env, config, &tenant, &state.unwrap_or_default())?;
        ok(json!({
            "status": 200, "status_text": "OK",
            "message": "A code was sent by SMS; send it as otp_attempt.",
            "phone": phone,
        }))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}
