//! The current user's second factor, `PUT /v2/user/...`: the vendor's
//! "User 2FA" pages name Enable 2FA, Verify 2FA installation and Generate
//! recovery codes without paths; these paths follow its `/v2/user/*`
//! actions (`generate_access_token`), and `disable_2fa` completes the set.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::current_user::two_factor_block;
use super::{authenticate, json_object, render_error};
use crate::base::error::{Error, FieldErrors};
use crate::be::storage::Env;
use crate::credential::identity::Config;
use crate::edge::web::{self, Request, Response, client_address};
use crate::idm::two_factor::{self, SecondFactor};

/// Runs `f` for a `PUT` by a signed-in user's own session (not an access
/// token, not an impersonation).
fn own_put(
    req: &Request,
    env: &mut Env,
    config: &Config,
    f: impl FnOnce(&crate::credential::auth::Caller, &mut Env) -> Result<Value, Error>,
) -> Response {
    let result = (|| {
        if req.method() != Method::PUT {
            return Err(Error::MethodNotAllowed(vec![Method::PUT]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        crate::credential::impersonation::refuse_impersonated(&caller, "change the second factor")?;
        if caller.session.is_none() {
            return Err(Error::Forbidden(
                "the second factor is managed from a signed-in session (Bearer), not an access token"
                    .into(),
            ));
        }
        f(&caller, env)
    })();
    match result {
        Ok(body) => web::json(StatusCode::OK, &body),
        Err(e) => render_error(&e),
    }
}

/// The bodies the second-factor actions read.
#[cfg(feature = "openapi")]
pub mod bodies {
    use schemars::JsonSchema;

    /// `enable_2fa`: the caller's current password.
    #[derive(JsonSchema)]
    pub struct Password {
        /// Your current password: at most 1,024 bytes of UTF-8, which any
        /// 256 characters are
        #[schemars(length(min = 1, max = 256))]
        pub password: String,
    }

    /// `verify_2fa_installation`, `generate_recovery_codes`: a current code
    /// of the authenticator app.
    #[derive(JsonSchema)]
    #[schemars(extend("not" = {"required": ["recovery_code"]}))]
    pub struct OtpAttempt {
        #[schemars(regex(pattern = "^[0-9]{6}$"))]
        pub otp_attempt: String,
    }

    /// [`super::second_factor`]: an authenticator code or a recovery code,
    /// not both (the console's second sign-in step too).
    #[derive(JsonSchema)]
    #[schemars(transform = one_code, transform = crate::base::schema::not_null_fields)]
    pub struct SecondFactor {
        /// An authenticator code
        #[schemars(length(min = 1, max = 64), regex(pattern = "^[ -~]*[!-~][ -~]*$"))]
        pub otp_attempt: Option<String>,
        /// A recovery code, instead of otp_attempt
        #[schemars(length(min = 1, max = 64), regex(pattern = "^[ -~]*[!-~][ -~]*$"))]
        pub recovery_code: Option<String>,
    }

    fn one_code(schema: &mut schemars::Schema) {
        schema.insert(
            "oneOf".into(),
            serde_json::json!([{"required": ["otp_attempt"]}, {"required": ["recovery_code"]}]),
        );
    }
}

/// The second factor a body offers: `otp_attempt` or `recovery_code`.
pub(crate) fn second_factor(body: &serde_json::Map<String, Value>) -> Result<SecondFactor, Error> {
    let text = |name: &str| match body.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 64 => Ok(Some(s.clone())),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(Error::invalid(
            name,
            "must be a non-empty string of at most 64 characters",
        )),
    };
    match (text("otp_attempt")?, text("recovery_code")?) {
        (Some(code), None) => Ok(SecondFactor::Otp(code)),
        (None, Some(code)) => Ok(SecondFactor::Recovery(code)),
        (Some(_), Some(_)) => Err(Error::invalid(
            "recovery_code",
            "send otp_attempt or recovery_code, not both",
        )),
        (None, None) => {
            let mut errors = FieldErrors::default();
            errors.add("otp_attempt", "is required (or recovery_code)");
            Err(errors.into())
        }
    }
}

/// `PUT /v2/user/enable_2fa` `{"password"}`: a new TOTP secret for the
/// authenticator app, not in force until `verify_2fa_installation`.
pub fn enable_2fa(req: &Request, env: &mut Env, config: &Config) -> Response {
    own_put(req, env, config, |caller, env| {
        let password = match json_object(req)?.get("password") {
            Some(Value::String(p)) if !p.is_empty() && p.len() <= 1024 => p.clone(),
            _ => {
                return Err(Error::invalid(
                    "password",
                    "is required: your current password",
                ));
            }
        };
        let install = two_factor::enable(env, config, caller, &password, &client_address(req))?;
        Ok(json!({
            "secret": install.secret,
            "otpauth_uri": install.otpauth_uri,
            "message": "Scan the URI into an authenticator app, then send one of its codes to PUT /v2/user/verify_2fa_installation."
        }))
    })
}

/// `PUT /v2/user/verify_2fa_installation` `{"otp_attempt"}`: the app's
/// first code puts the second factor in force.
pub fn verify_2fa_installation(req: &Request, env: &mut Env, config: &Config) -> Response {
    own_put(req, env, config, |caller, env| {
        let body = json_object(req)?;
        let SecondFactor::Otp(code) = second_factor(&body)? else {
            return Err(Error::invalid(
                "otp_attempt",
                "is required: a code from the authenticator app",
            ));
        };
        let user =
            two_factor::verify_installation(env, config, caller, &code, &client_address(req))?;
        Ok(json!({"two_factor_authentication": two_factor_block(&user)}))
    })
}

/// `PUT /v2/user/generate_recovery_codes` `{"otp_attempt"}`: ten
/// single-use codes, shown once; the previous set stops working.
pub fn generate_recovery_codes(req: &Request, env: &mut Env, config: &Config) -> Response {
    own_put(req, env, config, |caller, env| {
        let SecondFactor::Otp(code) = second_factor(&json_object(req)?)? else {
            return Err(Error::invalid(
                "otp_attempt",
                "is required: a code from the authenticator app",
            ));
        };
        let address = client_address(req);
        let codes = two_factor::generate_recovery_codes(env, config, caller, &code, &address)?;
        Ok(json!({"recovery_codes": codes}))
    })
}

/// `PUT /v2/user/disable_2fa` `{"otp_attempt"}` or `{"recovery_code"}`.
pub fn disable_2fa(req: &Request, env: &mut Env, config: &Config) -> Response {
    own_put(req, env, config, |caller, env| {
        let factor = second_factor(&json_object(req)?)?;
        let user = two_factor::disable(env, config, caller, &factor, &client_address(req))?;
        Ok(json!({"two_factor_authentication": two_factor_block(&user)}))
    })
}
