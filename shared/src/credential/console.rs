//! The operator console's credential: a session of its own family
//! ([`Family::Console`]) carried in a cookie scripts cannot read, so a page
//! that runs a hostile script still never holds a token it could send
//! elsewhere. The cookie alone never authenticates a request: every call
//! must also carry the session's CSRF token in `X-CSRF-Token` (a header a
//! cross-site page cannot set without a CORS preflight Onboard never
//! grants), must not say it comes from another site (`Sec-Fetch-Site`,
//! `Origin`), and must go to one of the paths the console calls.

use crate::base::error::{Error, Result};
use crate::base::model::{Organization, User};
use crate::be::storage::{Env, sha256_hex};
use crate::credential::auth::{Caller, constant_time_eq};
use crate::credential::identity::{self, Config, Family};

/// `__Host-`: the browser keeps it only when set `Secure`, for `Path=/`,
/// without `Domain`, so no sibling host can plant or shadow it.
pub const COOKIE: &str = "__Host-onboard-console";

/// The request header carrying [`csrf_token`].
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What a browser's request says about where it comes from and what it holds.
#[derive(Debug, Default, Clone, Copy)]
pub struct Browser<'a> {
    pub cookie: Option<&'a str>,
    pub csrf: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub fetch_site: Option<&'a str>,
    pub host: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
}

/// The CSRF token of a console session token: a digest of the token, so it
/// needs no storage, dies with the session and tells nothing of the token.
pub fn csrf_token(session_token: &str) -> String {
    sha256_hex(format!("console-csrf/{session_token}").as_bytes())[..32].to_string()
}

/// The value of cookie `name` in a `Cookie` header (the first, as browsers
/// send the most specific first).
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

/// The `Set-Cookie` value carrying a console session token for `max_age_s`
/// seconds (0 deletes it).
pub fn set_cookie(token: &str, max_age_s: i64) -> String {
    format!("{COOKIE}={token}; Path=/; Max-Age={max_age_s}; Secure; HttpOnly; SameSite=Strict")
}

/// Refuses a request another site made: `Sec-Fetch-Site` other than
/// `same-origin` (or `none`, the user typing the address), or an `Origin`
/// whose host is not the one the request went to.
pub fn check_same_origin(browser: &Browser) -> Result<()> {
    let cross = || Error::Forbidden("a cross-site request to the console is refused".into());
    if let Some(site) = browser.fetch_site
        && !matches!(site.trim(), "same-origin" | "none")
    {
        return Err(cross());
    }
    if let Some(origin) = browser.origin {
        // Origin is `scheme://host[:port]`; the port counts, so compare the
        // whole authority with the Host the request went to.
        let authority = origin.trim().split_once("://").map(|(_, a)| a);
        let same = authority
            .zip(browser.host)
            .is_some_and(|(a, h)| !a.is_empty() && a.eq_ignore_ascii_case(h.trim()));
        if !same {
            return Err(cross());
        }
    }
    Ok(())
}

/// What a console session may call: exactly the routes the console's pages
/// use (`{}` is one path segment), and nothing that mints a Clone token,
/// impersonates or changes the caller's own credentials. Handlers narrow
/// further what a console caller gets (`from_console`).
const ROUTES: [(&str, &str); 28] = [
    ("GET", "/v2/users"),
    ("GET", "/v2/users/{}"),
    ("PUT", "/v2/users/{}"),
    ("DELETE", "/v2/users/{}"),
    ("GET", "/v2/organizations"),
    ("POST", "/v2/organizations"),
    ("GET", "/v2/organizations/{}"),
    ("PUT", "/v2/organizations/{}"),
    ("DELETE", "/v2/organizations/{}"),
    ("GET", "/v2/organizations/{}/subscriptions"),
    ("POST", "/v2/organizations/{}/subscribe"),
    ("POST", "/v2/organizations/{}/unsubscribe"),
    ("GET", "/v2/audit/events"),
    ("GET", "/v2/audit/events/{}"),
    ("POST", "/auth/invitation"),
    ("POST", "/admin/resellers"),
    ("POST", "/admin/accounts"),
    ("GET", "/admin/accounts/{}"),
    ("PATCH", "/admin/accounts/{}"),
    ("DELETE", "/admin/accounts/{}/two_factor"),
    ("POST", "/admin/accounts/{}/password_reset"),
    ("GET", "/admin/api-clients"),
    ("POST", "/admin/api-clients"),
    ("DELETE", "/admin/api-clients/{}"),
    ("GET", "/admin/outbox"),
    ("POST", "/admin/outbox/deliver"),
    ("GET", "/console/session"),
    ("DELETE", "/console/session"),
];

/// Whether a console session may send `method` to `path` (see [`ROUTES`]).
pub fn reaches(method: &str, path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    ROUTES.iter().any(|(m, route)| {
        let pattern: Vec<&str> = route.split('/').collect();
        *m == method
            && pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| if *p == "{}" { !s.is_empty() } else { p == s })
    })
}

/// Whether a request authenticates with the console's cookie (no
/// `Authorization`, the cookie present): what handlers check to narrow
/// what the console gets.
pub fn from_console(authorization: Option<&str>, browser: &Browser) -> bool {
    authorization.is_none() && presented(browser).is_some()
}

/// The console session's token in the request's cookie, if any.
pub fn presented<'a>(browser: &Browser<'a>) -> Option<&'a str> {
    browser
        .cookie
        .and_then(|c| cookie_value(c, COOKIE))
        .filter(|t| !t.is_empty())
}

/// The caller behind the console cookie, when the request carries one:
/// `None` without the cookie; 403 when the request is cross-site, lacks the
/// CSRF token or goes where the console never calls; 401 for a dead session.
pub fn caller(
    env: &Env,
    config: &Config,
    browser: &Browser,
) -> Option<Result<(Caller, User, Organization)>> {
    let token = presented(browser)?;
    Some((|| {
        check_same_origin(browser)?;
        if !reaches(browser.method, browser.path) {
            return Err(Error::Forbidden(
                "the console's session does not call this endpoint".into(),
            ));
        }
        let expected = csrf_token(token);
        let sent = browser.csrf.unwrap_or_default().trim();
        if !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
            return Err(Error::Forbidden(
                "missing or wrong X-CSRF-Token for the console session".into(),
            ));
        }
        identity::session_caller(env, config, Family::Console, token, browser.host)
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn browser<'a>(origin: Option<&'a str>, site: Option<&'a str>) -> Browser<'a> {
        Browser {
            origin,
            fetch_site: site,
            host: Some("acme.localhost:3000"),
            method: "GET",
            path: "/v2/users",
            ..Browser::default()
        }
    }

    #[test]
    fn same_origin_requests_pass_and_cross_site_ones_do_not() {
        assert!(check_same_origin(&browser(None, None)).is_ok());
        assert!(check_same_origin(&browser(Some("http://acme.localhost:3000"), None)).is_ok());
        assert!(check_same_origin(&browser(None, Some("same-origin"))).is_ok());
        for (origin, site) in [
            (Some("http://evil.example"), None),
            (Some("http://acme.localhost:3001"), None),
            (Some("null"), None),
            (None, Some("cross-site")),
            (None, Some("same-site")),
        ] {
            assert!(
                check_same_origin(&browser(origin, site)).is_err(),
                "{origin:?} {site:?}"
            );
        }
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "a=1; __Host-onboard-console-x=2; __Host-onboard-console=tok; b=3";
        assert_eq!(cookie_value(header, COOKIE), Some("tok"));
        assert_eq!(cookie_value("x=1", COOKIE), None);
    }

    #[test]
    fn only_the_console_s_routes_take_the_cookie() {
        assert!(reaches("GET", "/v2/users/1"));
        assert!(reaches("POST", "/admin/accounts"));
        assert!(reaches("POST", "/auth/invitation"));
        assert!(reaches("DELETE", "/admin/accounts/7/two_factor"));
        for (method, path) in [
            ("POST", "/auth/impersonate"),
            ("PUT", "/v2/user/generate_access_token"),
            ("GET", "/v2/user/me"),
            ("GET", "/iam/users"),
            ("POST", "/v2/users/create_customer"),
            ("POST", "/admin/scim-connections"),
            ("PATCH", "/admin/tenants/acme"),
            ("PUT", "/auth/invitation"),
            ("GET", "/v2/users_other"),
            ("GET", "/v2/users/1/x"),
            ("GET", "/v2/users/"),
            ("POST", "/v2/users/1"),
        ] {
            assert!(!reaches(method, path), "{method} {path}");
        }
    }

    #[test]
    fn the_csrf_token_depends_on_the_session_token() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a").len(), 32);
    }
}
