//! `POST /auth/sign_in` and `DELETE /auth/sign_out`.

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::{authenticate, client_address, header_str, json_object, render_error, role_name};
use crate::error::{Error, FieldErrors};
use crate::identity::{self, Config, Family};
use crate::storage::Env;
use crate::web::{self, Request, Response};

/// Sign-in fields from the JSON body or, as the vendor's generated curl
/// sends them, from the query string.
fn credentials(req: &Request) -> Result<(String, String), Error> {
    let body = json_object(req)?;
    let query: Map<String, Value> = req
        .uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        })
        .unwrap_or_default();
    let mut errors = FieldErrors::default();
    let mut field = |name: &str| match body.get(name).or_else(|| query.get(name)) {
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
/// username is the email. 200 with the documented sign-in object.
pub fn sign_in(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = (|| {
        if req.method() != Method::POST {
            return Err(Error::MethodNotAllowed(vec![Method::POST]));
        }
        let tenant = identity::application_tenant(env, config, header_str(req, "x-api-key"))?;
        identity::check_destination(env, &tenant.id, None, header_str(req, "host"))?;
        let (username, password) = credentials(req)?;
        let signed = identity::sign_in(
            env,
            &tenant,
            &username,
            &password,
            &client_address(req),
            Family::Clone,
        )?;
        let token = identity::session_token(
            config,
            &signed.caller,
            identity::TokenSpec {
                family: Family::Clone,
                token_type: "access",
                sid: &signed.sid,
                jti: &signed.sid,
                ttl: identity::SESSION_TTL_MS,
            },
            env.now,
            Map::new(),
        )?;
        let user = &signed.user;
        Ok(web::json(
            StatusCode::OK,
            &json!({
                "status": 200,
                "status_text": "OK",
                "username": user.email,
                "token": token,
                "sign_in_count": user.sign_in_count,
                "role": role_name(user.role),
                "timezone": user.profile.timezone.as_deref().unwrap_or("UTC"),
                "verified": user.confirmed,
                "provider": "email",
                "organization": { "uuid": signed.organization.id, "name": signed.organization.name },
            }),
        ))
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
