//! The operator console (`/console/`): its page and scripts, served from the
//! component that embeds them, and its session (`/console/session`). Its
//! pages call the Clone and service endpoints with the session cookie (see
//! `credential::console`), so every change they make goes through the same
//! core verbs and checks as the APIs'. Errors use the Clone family's body.
//!
//! Every answer carries the same security headers: a policy that runs only
//! the console's own scripts and styles (nothing inline, nothing fetched
//! from elsewhere), no framing, no sniffing, no referrer.

use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::base::error::Error;
use crate::base::model::{Organization, Role, User};
use crate::be::storage::Env;
use crate::credential::console::{self, Browser};
use crate::credential::identity::{self, Config, Family};
use crate::edge::web::{self, Request, Response, client_address, header_str, json_object};
use crate::families::clone;
use crate::idm::two_factor;

/// The console's Content-Security-Policy: its own scripts, styles and
/// images, calls to its own origin, no plugins, forms or framing, and no
/// string ever parsed into markup or script (Trusted Types with no policy).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

/// Adds the console's security headers to an answer.
pub fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Renders an error in the Clone family's body, with the console's headers.
pub fn render_error(error: &Error) -> Response {
    secured(clone::render_error(error))
}

/// One embedded file of the console.
pub struct Asset {
    /// The path under `/console/` (`""` is the page itself).
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// `GET /console/...`: the embedded file the path names; `/console` is sent
/// to `/console/` so relative module paths resolve.
pub fn assets(req: &Request, files: &[Asset]) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return render_error(&Error::MethodNotAllowed(vec![Method::GET, Method::HEAD]));
    }
    let path = req.uri().path();
    if path == "/console" {
        let mut r = web::empty(StatusCode::PERMANENT_REDIRECT);
        r.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/console/"));
        return secured(r);
    }
    let name = path.strip_prefix("/console/").unwrap_or(path);
    let Some(file) = files.iter().find(|f| f.path == name) else {
        return render_error(&Error::NotFound("no such console file".into()));
    };
    let body = if req.method() == Method::HEAD {
        Vec::new()
    } else {
        file.body.to_vec()
    };
    let mut r = web::respond(StatusCode::OK, file.content_type, body);
    // The page is revalidated every time (it names the scripts); the
    // scripts and styles too, so a new release never mixes with an old one.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secured(r)
}

fn browser(req: &Request) -> Browser<'_> {
    clone::browser(req)
}

/// `/console/session`: POST signs in (email and password, then the second
/// factor when the account has one) and sets the session cookie; GET says
/// who is signed in (`{"signed_in": false}` when nobody is) and hands the
/// page its CSRF token; DELETE signs out.
pub fn session(req: &Request, env: &mut Env, config: &Config) -> Response {
    let result = match *req.method() {
        Method::POST => sign_in(req, env, config),
        Method::GET => current(req, env, config),
        Method::DELETE => sign_out(req, env, config),
        _ => Err(Error::MethodNotAllowed(vec![
            Method::GET,
            Method::POST,
            Method::DELETE,
        ])),
    };
    match result {
        Ok(r) => secured(r),
        Err(e) => render_error(&e),
    }
}

/// Only operators and reseller administrators run the console.
fn console_role(user: &User) -> Result<(), Error> {
    match user.role {
        Role::Operator | Role::ResellerAdmin => Ok(()),
        Role::CustomerAdmin | Role::User => Err(Error::Forbidden(
            "the console is for operators and reseller administrators".into(),
        )),
    }
}

fn text_field(fields: &Map<String, Value>, name: &str) -> Result<String, Error> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(Error::invalid(name, "is required"))
        }
        Some(_) => Err(Error::invalid(name, "must be a string")),
    }
}

/// What [`sign_in`] reads: the email and password or, for an account with a
/// second factor, the state the first step answered with a code.
#[cfg(feature = "openapi")]
#[derive(schemars::JsonSchema)]
#[schemars(untagged)]
pub enum SignInBody {
    /// The first step
    #[schemars(extend("not" = {"required": ["otp_session_state"]}))]
    Password {
        #[schemars(length(min = 1))]
        email: String,
        #[schemars(length(min = 1))]
        password: String,
    },
    /// The second step, for an account with a second factor: the state the
    /// first step answered, with an authenticator or recovery code
    SecondFactor {
        /// The state the first step answered (a bogus one is 401)
        otp_session_state: String,
        #[schemars(flatten)]
        code: crate::families::clone::two_factor::bodies::SecondFactor,
    },
}

fn sign_in(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    console::check_same_origin(&browser(req))?;
    // A cross-site form cannot send this type without a preflight, so a
    // page elsewhere cannot sign a browser in to an account of its choosing.
    let json_type = header_str(req, "content-type")
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(Error::UnsupportedMediaType(
            "sign in with a JSON body (Content-Type: application/json)".into(),
        ));
    }
    let tenant_id = identity::sign_in_tenant(env, config, header_str(req, "host"))?;
    let tenant = identity::active_tenant(env, &tenant_id)?;
    let fields = json_object(req)?;
    let address = client_address(req);
    let user = match fields.get("otp_session_state") {
        Some(Value::String(state)) => {
            let factor = clone::second_factor(&fields)?;
            two_factor::complete_sign_in(env, config, &tenant, state, &factor, &address)?
        }
        Some(Value::Null) | None => {
            let email = text_field(&fields, "email")?;
            let password = text_field(&fields, "password")?;
            let user = identity::check_password(env, &tenant, &email, &password, &address)?;
            console_role(&user)?;
            if two_factor::required(&user) {
                let state = two_factor::start_sign_in(env, config, &tenant, &user)?;
                return Ok(web::json(
                    StatusCode::OK,
                    &json!({"otp_required": true, "otp_session_state": state}),
                ));
            }
            user
        }
        Some(_) => return Err(Error::invalid("otp_session_state", "must be a string")),
    };
    console_role(&user)?;
    let signed = identity::open_session(env, &tenant, user, &address, Family::Console)?;
    let token = identity::session_access_token(config, &signed, Family::Console, env.now)?;
    let body = whoami(
        &signed.user,
        &signed.organization,
        &console::csrf_token(&token),
        signed.session.expires_at,
    );
    let mut r = web::serialized(StatusCode::OK, &body);
    let cookie = console::set_cookie(&token, identity::SESSION_TTL_MS / 1000);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// Nobody signed in is an answer, not an error: the page asks this first,
/// and a 401 would be an error in every visitor's browser console.
fn current(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let browser = browser(req);
    console::check_same_origin(&browser)?;
    let nobody = || web::json(StatusCode::OK, &json!({"signed_in": false}));
    let Some(token) = console::presented(&browser) else {
        return Ok(nobody());
    };
    let (caller, user, org) =
        match identity::session_caller(env, config, Family::Console, token, browser.host) {
            Ok(found) => found,
            Err(Error::Unauthenticated(_)) => return Ok(nobody()),
            Err(e) => return Err(e),
        };
    identity::check_destination(env, &caller.tenant, None, browser.host)?;
    let expires_at = caller
        .session
        .as_deref()
        .and_then(|sid| {
            identity::read_session(env, &caller.tenant, sid)
                .ok()
                .flatten()
        })
        .map_or(0, |s| s.expires_at);
    Ok(web::serialized(
        StatusCode::OK,
        &whoami(&user, &org, &console::csrf_token(token), expires_at),
    ))
}

fn sign_out(req: &Request, env: &mut Env, config: &Config) -> Result<Response, Error> {
    let browser = browser(req);
    match console::caller(env, config, &browser) {
        Some(Ok((caller, _, _))) => {
            if let Some(sid) = &caller.session {
                identity::end_session(env, &caller, sid)?;
            }
        }
        // A session already dead is signed out: the cookie goes all the same.
        Some(Err(Error::Unauthenticated(_))) | None => {}
        Some(Err(e)) => return Err(e),
    }
    let mut r = web::json(StatusCode::OK, &json!({"message": "Signed out"}));
    if let Ok(v) = HeaderValue::from_str(&console::set_cookie("", 0)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// Who the console is signed in as, and the token its calls must carry.
fn whoami<'a>(
    user: &'a User,
    org: &'a Organization,
    csrf: &str,
    expires_at: crate::base::time::Millis,
) -> Whoami<'a> {
    Whoami {
        signed_in: true,
        user: ConsoleUser {
            id: user.id,
            email: &user.email,
            first_name: user.profile.first_name.as_deref(),
            last_name: user.profile.last_name.as_deref(),
            role: user.role,
            two_factor: two_factor::required(user),
        },
        organization: ConsoleOrganization {
            id: org.id,
            name: &org.name,
            kind: org.kind,
        },
        csrf_token: csrf.to_string(),
        expires_at: crate::base::time::format_millis(expires_at),
    }
}

/// The console's session: who is signed in, and the token its calls carry.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Whoami<'a> {
    #[cfg_attr(feature = "openapi", schemars(extend("const" = true)))]
    pub signed_in: bool,
    pub user: ConsoleUser<'a>,
    pub organization: ConsoleOrganization<'a>,
    /// Send it as `X-CSRF-Token` with every change
    pub csrf_token: String,
    #[cfg_attr(feature = "openapi", schemars(with = "crate::base::schema::Instant"))]
    pub expires_at: String,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ConsoleUser<'a> {
    pub id: uuid::Uuid,
    pub email: &'a str,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    /// Only operators and reseller admins sign in here
    #[cfg_attr(feature = "openapi", schemars(with = "ConsoleRole"))]
    pub role: crate::base::model::Role,
    pub two_factor: bool,
}

#[derive(serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ConsoleOrganization<'a> {
    pub id: uuid::Uuid,
    pub name: &'a str,
    #[cfg_attr(feature = "openapi", schemars(with = "ConsoleOrgKind"))]
    pub kind: crate::base::model::OrgKind,
}

#[cfg(feature = "openapi")]
crate::base::schema::strings!(ConsoleRole, ["operator", "reseller_admin"]);
#[cfg(feature = "openapi")]
crate::base::schema::strings!(ConsoleOrgKind, ["platform", "reseller"]);
