//! `POST /auth/sign_in` and `DELETE /auth/sign_out`.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::two_factor::second_factor;
use super::{authenticate, client_address, header_str, json_object, render_error, role_name};
use crate::base::error::{Error, FieldErrors};
use crate::be::storage::Env;
use crate::credential::identity::{self, Config, Family};
use crate::edge::web::{self, Request, Response};
use crate::idm::two_factor;

/// Sign-in fields from the JSON body or, as the vendor's generated curl
/// sends them, from the query string.
pub(super) fn sign_in_fields(req: &Request) -> Result<Map<String, Value>, Error> {
    let mut fields = json_object(req)?;
    if let Some(q) = req.uri().query() {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            fields
                .entry(k.into_owned())
                .or_insert(Value::String(v.into_owned()));
        }
    }
    Ok(fields)
}

/// The fields [`sign_in`] and [`impersonate`] read, from the JSON body or
/// the query ([`sign_in_fields`]).
#[cfg(feature = "openapi")]
pub mod bodies {
    use schemars::JsonSchema;

    /// Step 1 (username, password) or, for a user with a second factor,
    /// step 2 (`otp_session_state` with `otp_attempt` or `recovery_code`).
    #[derive(JsonSchema)]
    #[schemars(transform = steps, transform = crate::base::schema::not_null_fields)]
    pub struct SignIn {
        /// The email
        #[schemars(length(min = 1))]
        pub username: Option<String>,
        /// The password
        #[schemars(length(min = 1))]
        pub password: Option<String>,
        /// Second step: the state the first step answered (any state makes
        /// this the second step; a bogus one is 401)
        #[schemars(length(min = 1, max = 128))]
        pub otp_session_state: Option<String>,
        /// Second step: an authenticator code
        #[schemars(length(min = 1, max = 64), regex(pattern = r"\S"))]
        pub otp_attempt: Option<String>,
        /// Second step: a recovery code (instead of otp_attempt)
        #[schemars(length(min = 1, max = 64), regex(pattern = r"\S"))]
        pub recovery_code: Option<String>,
    }

    fn steps(schema: &mut schemars::Schema) {
        schema.insert(
            "anyOf".into(),
            serde_json::json!([{"required": ["username", "password"]},
                {"required": ["otp_session_state", "otp_attempt"]},
                {"required": ["otp_session_state", "recovery_code"]}]),
        );
    }

    /// `DELETE /auth/impersonate`: the revert token, in the body or the
    /// query (the body wins), so neither requires it; without either the
    /// answer is 422.
    #[derive(JsonSchema)]
    #[schemars(transform = crate::base::schema::not_null_fields)]
    pub struct Revert {
        /// The revert token the impersonation answered
        #[schemars(length(min = 1, max = 128))]
        pub impersonator_revert_token: Option<String>,
    }

    /// `POST /auth/impersonate`'s query.
    #[derive(JsonSchema)]
    pub struct ImpersonateQuery {
        /// The user to impersonate (narrower role, in reach)
        pub uuid: uuid::Uuid,
    }
}

fn credentials(fields: &Map<String, Value>) -> Result<(String, String), Error> {
    let mut errors = FieldErrors::default();
    let mut field = |name: &str| match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.add(name, "is required");
            String::new()
        }
        Some(_) => {
            errors.add(name, "must be a string");
            String::new()
        }
    };
    let (username, password) = (field("username"), field("password"));
    errors.into_result()?;
    Ok((username, password))
}

/// `POST /auth/sign_in`: `x-api-key` names the tenant's application; the
/// username is the email. 200 with the documented sign-in object. For a user
/// with a second factor, the first step (username, password) answers an
/// `otp_session_state` and no token; the second step sends it back with
/// `otp_attempt` (or `recovery_code`) and gets the token.
pub fn sign_in(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::POST {
            return Err(Error::MethodNotAllowed(vec![Method::POST]));
        }
        let tenant = identity::application_tenant(env, config, header_str(req, "x-api-key"))?;
        identity::check_destination(env, &tenant.id, None, header_str(req, "host"))?;
        let fields = sign_in_fields(req)?;
        let address = client_address(req);
        let user = match fields.get("otp_session_state") {
            Some(Value::String(state)) => {
                let factor = second_factor(&fields)?;
                two_factor::complete_sign_in(env, config, &tenant, state, &factor, &address)?
            }
            Some(Value::Null) | None => {
                let (username, password) = credentials(&fields)?;
                let user = identity::check_password(env, &tenant, &username, &password, &address)?;
                if two_factor::required(&user) {
                    let state = two_factor::start_sign_in(env, config, &tenant, &user)?;
                    return Ok(web::serialized(
                        StatusCode::OK,
                        &SecondStepNeeded {
                            status: 200,
                            status_text: "OK",
                            username: &user.email,
                            otp_required: true,
                            otp_session_state: state,
                        },
                    ));
                }
                user
            }
            Some(_) => return Err(Error::invalid("otp_session_state", "must be a string")),
        };
        let body = open_and_answer(env, config, &tenant, user, &address)?;
        Ok(web::serialized(StatusCode::OK, &body))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// `DELETE /auth/sign_out`: ends the session the bearer token names; every
/// token of it fails from the next request on.
pub fn sign_out(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::DELETE {
            return Err(Error::MethodNotAllowed(vec![Method::DELETE]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let sid = caller.session.clone().ok_or_else(|| {
            Error::invalid(
                "Authorization",
                "sign_out ends a session; revoke an access token with PUT /v2/user/revoke_access_token",
            )
        })?;
        identity::end_session(env, &caller, &sid)?;
        Ok(web::json(
            StatusCode::OK,
            &json!({"status": 200, "status_text": "OK", "message": "Signed out"}),
        ))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}

/// The first step's answer for a user with a second factor: no token yet.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SecondStepNeeded<'a> {
    pub status: u16,
    pub status_text: &'static str,
    pub username: &'a str,
    #[cfg_attr(feature = "openapi", schemars(extend("const" = true)))]
    pub otp_required: bool,
    /// Send it back with `otp_attempt` or `recovery_code`
    pub otp_session_state: String,
}

/// The documented sign-in object: every answer that opens a session (or
/// returns to one, ending an impersonation).
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SignedIn {
    pub status: u16,
    pub status_text: &'static str,
    pub username: String,
    /// `Authorization: Bearer <token>`
    pub token: String,
    pub sign_in_count: u64,
    #[cfg_attr(feature = "openapi", schemars(with = "super::RoleName"))]
    pub role: &'static str,
    pub timezone: String,
    pub verified: bool,
    #[cfg_attr(feature = "openapi", schemars(extend("const" = "email")))]
    pub provider: &'static str,
    pub organization: OrganizationRef,
    /// An impersonation's: `DELETE /auth/impersonate` with it ends it
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonator_revert_token: Option<String>,
}

/// The organization a sign-in acts in.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct OrganizationRef {
    pub uuid: uuid::Uuid,
    pub name: String,
}

/// The sign-in answer for a session: the documented object, its token.
/// Opens a Clone session for a user whose credentials were checked and
/// answers the sign-in object.
pub(super) fn open_and_answer(
    env: &mut Env,
    config: &Config,
    tenant: &crate::base::model::Tenant,
    user: crate::base::model::User,
    address: &str,
) -> Result<SignedIn, Error> {
    let signed = identity::open_session(env, tenant, user, address, Family::Clone)?;
    session_answer(
        config,
        env,
        (&signed.caller, &signed.user, &signed.organization),
        &signed.sid,
        identity::SESSION_TTL_MS,
        Map::new(),
    )
}

fn session_answer(
    config: &Config,
    env: &Env,
    (caller, user, organization): (
        &crate::credential::auth::Caller,
        &crate::base::model::User,
        &crate::base::model::Organization,
    ),
    sid: &str,
    ttl: crate::base::time::Millis,
    extra: Map<String, Value>,
) -> Result<SignedIn, Error> {
    let token = identity::session_token(
        config,
        caller,
        identity::TokenSpec {
            family: Family::Clone,
            token_type: "access",
            sid,
            jti: sid,
            ttl,
            org: Some(user.organization_id),
        },
        env.now,
        extra,
    )?;
    Ok(SignedIn {
        status: 200,
        status_text: "OK",
        username: user.email.clone(),
        token,
        sign_in_count: user.sign_in_count,
        role: role_name(user.role),
        timezone: user
            .profile
            .timezone
            .as_deref()
            .unwrap_or("UTC")
            .to_string(),
        verified: user.confirmed,
        provider: "email",
        organization: OrganizationRef {
            uuid: organization.id,
            name: organization.name.clone(),
        },
        impersonator_revert_token: None,
    })
}

/// `POST /auth/impersonate?uuid=<user>`: an administrator's session acts as
/// a user of narrower role in its reach; the answer is the user's sign-in
/// object with an `impersonator_revert_token`. `DELETE /auth/impersonate`
/// with that token (body or query), sent with the impersonated token, ends
/// it and answers the impersonator's own sign-in object again.
pub fn impersonate(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        let method = req.method().clone();
        if method != Method::POST && method != Method::DELETE {
            return Err(Error::MethodNotAllowed(vec![Method::POST, Method::DELETE]));
        }
        let (caller, _, _) = authenticate(req, env, config)?;
        let query: Map<String, Value> = req
            .uri()
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect()
            })
            .unwrap_or_default();
        if method == Method::POST {
            let target = query
                .get("uuid")
                .and_then(Value::as_str)
                .and_then(|u| uuid::Uuid::parse_str(u).ok())
                .ok_or_else(|| {
                    Error::invalid("uuid", "is required: the id of the user to impersonate")
                })?;
            let started = crate::credential::impersonation::start(
                env,
                config,
                &caller,
                target,
                |env, caller, id| crate::idm::users::get(env, caller, id).map(|(user, _)| user),
            )?;
            let mut act = Map::new();
            act.insert("act".into(), json!({"sub": caller.actor.id}));
            let body = session_answer(
                config,
                env,
                (&started.caller, &started.user, &started.organization),
                &started.sid,
                crate::credential::impersonation::TTL_MS,
                act,
            )?;
            let body = SignedIn {
                impersonator_revert_token: Some(started.revert_token),
                ..body
            };
            return Ok(web::serialized(StatusCode::OK, &body));
        }
        let mut fields = if req.body().is_empty() {
            Map::new()
        } else {
            json_object(req)?
        };
        for (k, v) in query {
            fields.entry(k).or_insert(v);
        }
        let revert = match fields.get("impersonator_revert_token") {
            Some(Value::String(t)) if !t.is_empty() => t.clone(),
            _ => return Err(Error::invalid("impersonator_revert_token", "is required")),
        };
        let (original, user, organization, sid) =
            crate::credential::impersonation::stop(env, config, &caller, &revert)?;
        let body = session_answer(
            config,
            env,
            (&original, &user, &organization),
            &sid,
            identity::SESSION_TTL_MS,
            Map::new(),
        )?;
        Ok(web::serialized(StatusCode::OK, &body))
    })();
    result.unwrap_or_else(|e| render_error(&e))
}
