//! Spin's HTTP routing: by path only, exact beats `:name`, which beats a trailing
//! `/...` wildcard; among wildcards the longest prefix wins. `:name` matches one
//! whole segment, never more.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Exact(String),
    Param(String),
}

#[derive(Clone, Debug)]
struct Route {
    raw: String,
    segments: Vec<Segment>,
    wildcard: bool,
    component: String,
}

/// What a request matched, and the values Spin passes on in `spin-*` headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch {
    pub component: String,
    /// The route as written in spin.toml (`spin-matched-route`).
    pub raw_route: String,
    /// The route, or a wildcard's prefix (`spin-component-route`).
    pub component_route: String,
    /// What follows a wildcard's prefix (`spin-path-info`), else empty.
    pub path_info: String,
    /// `:name` captures, in route order (`spin-path-match-<name>`).
    pub params: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct Router {
    routes: Vec<Route>,
}

fn split(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

impl Router {
    pub fn new<'a>(routes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let routes = routes
            .into_iter()
            .map(|(raw, component)| {
                let (body, wildcard) = match raw.strip_suffix("/...") {
                    Some(prefix) => (prefix, true),
                    None => (raw, false),
                };
                let segments = split(body)
                    .into_iter()
                    .map(|s| match s.strip_prefix(':') {
                        Some(name) => Segment::Param(name.to_string()),
                        None => Segment::Exact(s.to_string()),
                    })
                    .collect();
                Route {
                    raw: raw.to_string(),
                    segments,
                    wildcard,
                    component: component.to_string(),
                }
            })
            .collect();
        Self { routes }
    }

    /// The route serving `path` (no query string), or `None` for a 404.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let parts = split(path);
        let mut best: Option<((u8, usize, usize), RouteMatch)> = None;
        for route in &self.routes {
            let n = route.segments.len();
            if parts.len() < n || (!route.wildcard && parts.len() != n) {
                continue;
            }
            let mut params = Vec::new();
            let mut ok = true;
            for (segment, part) in route.segments.iter().zip(&parts) {
                match segment {
                    Segment::Exact(s) if s == part => {}
                    Segment::Exact(_) => {
                        ok = false;
                        break;
                    }
                    Segment::Param(name) => params.push((name.clone(), part.to_string())),
                }
            }
            if !ok {
                continue;
            }
            // Lower ranks win: exact, then `:name` (fewer captures first), then the
            // wildcard with the longest prefix.
            let rank = match (route.wildcard, params.len()) {
                (false, 0) => (0, 0, 0),
                (false, p) => (1, p, 0),
                (true, p) => (2, usize::MAX - n, p),
            };
            if best.as_ref().is_some_and(|(r, _)| *r <= rank) {
                continue;
            }
            let prefix: String = route.raw.strip_suffix("/...").unwrap_or("").to_string();
            let matched = RouteMatch {
                component: route.component.clone(),
                raw_route: route.raw.clone(),
                component_route: if route.wildcard {
                    prefix
                } else {
                    route.raw.clone()
                },
                path_info: if route.wildcard {
                    parts[n..].iter().map(|p| format!("/{p}")).collect()
                } else {
                    String::new()
                },
                params,
            };
            best = Some((rank, matched));
        }
        best.map(|(_, m)| m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::new([
            ("/health", "health"),
            ("/v2/users/create_customer", "create"),
            ("/v2/users/:id", "user"),
            ("/v2/...", "v2"),
            ("/v2/organizations/...", "orgs"),
        ])
    }

    #[test]
    fn exact_beats_param_beats_wildcard() {
        let r = router();
        assert_eq!(
            r.route("/v2/users/create_customer").unwrap().component,
            "create"
        );
        let user = r.route("/v2/users/abc").unwrap();
        assert_eq!(user.component, "user");
        assert_eq!(user.params, vec![("id".to_string(), "abc".to_string())]);
        assert_eq!(r.route("/v2/users/x/trap").unwrap().component, "v2");
        assert_eq!(r.route("/v2/users").unwrap().component, "v2");
    }

    #[test]
    fn longest_wildcard_prefix_wins_and_reports_path_info() {
        let m = router().route("/v2/organizations/x/y").unwrap();
        assert_eq!(m.component, "orgs");
        assert_eq!(m.component_route, "/v2/organizations");
        assert_eq!(m.path_info, "/x/y");
        assert_eq!(m.raw_route, "/v2/organizations/...");
    }

    #[test]
    fn unmatched_is_none() {
        let r = Router::new([("/v2/users/:id", "user")]);
        assert!(r.route("/v2/users/x/trap").is_none());
        assert!(r.route("/other").is_none());
    }
}
