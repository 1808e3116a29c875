//! SCIM filters and attribute paths (RFC 7644 §3.4.2.2 and §3.5.2): the
//! whole grammar (`eq ne co sw ew pr gt ge lt le`, `and or not`,
//! parentheses, value paths like `emails[type eq "work"].value`), parsed
//! into a tree and evaluated against a resource's SCIM representation.
//!
//! Attribute names compare case-insensitively (RFC 7643 §2.1); string values
//! too, except for the attributes the schema calls `caseExact` (`id`,
//! `externalId`, `meta.version`), which `case_exact` names.

use serde_json::Value;

use crate::base::time::parse_iso8601;

/// One attribute path as [`parse_path`] reads it: `[URN ":"] name ["." sub]`.
#[cfg(feature = "openapi")]
pub(crate) const SCIM_ATTR_PATH: &str =
    r"(urn:[A-Za-z0-9.:_-]+:)?[A-Za-z$][A-Za-z0-9_-]*(\.[A-Za-z$][A-Za-z0-9_-]*)?";

/// A quoted string as a SCIM filter reads it: JSON's, so neither a raw
/// control character nor a backslash the pattern cannot pair with an escape.
#[cfg(feature = "openapi")]
pub(crate) const SCIM_STRING: &str = r#""[^"\\\x00-\x1f]*""#;

/// `[urn:...:]name[.sub]`, names lower-cased (they match case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, lower-cased, if the path named one.
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare(AttrPath, Op, Value),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`, and `attr[filter].sub op value` (the sub-attribute's
    /// comparison applies to the elements the inner filter chose).
    Values(AttrPath, Box<Filter>, Option<Box<Filter>>),
}

/// A PATCH `path`: an attribute, or a multi-valued one's elements chosen by
/// a filter, optionally narrowed to a sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`emails[type eq "work"].value`).
    pub sub: Option<String>,
}

/// Why a filter or path did not parse, in words for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub String);

/// The core schemas' URN prefix: a path it qualifies names the resource's
/// own attribute (an extension's URN names the extension's object).
pub const CORE_URN: &str = "urn:ietf:params:scim:schemas:core:";

/// Longest filter read: a filter is a query parameter, and nesting is
/// recursion.
pub const MAX_FILTER_BYTES: usize = 4096;
const MAX_DEPTH: usize = 32;

pub fn parse(text: &str) -> Result<Filter, SyntaxError> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(SyntaxError(format!(
            "a filter is at most {MAX_FILTER_BYTES} bytes"
        )));
    }
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    let f = p.or()?;
    p.space();
    if p.at != p.s.len() {
        return Err(p.error("unexpected text"));
    }
    Ok(f)
}

pub fn parse_path(text: &str) -> Result<PatchPath, SyntaxError> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(SyntaxError(format!(
            "a path is at most {MAX_FILTER_BYTES} bytes"
        )));
    }
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    p.space();
    let attr = p.attr_path()?;
    let mut filter = None;
    let mut sub = None;
    if p.peek() == Some(b'[') {
        if attr.sub.is_some() {
            return Err(p.error("a value filter follows an attribute, not a sub-attribute"));
        }
        p.at += 1;
        filter = Some(p.or()?);
        p.space();
        p.expect(b']')?;
        if p.peek() == Some(b'.') {
            p.at += 1;
            sub = Some(p.name()?.to_ascii_lowercase());
        }
    }
    p.space();
    if p.at != p.s.len() {
        return Err(p.error("unexpected text"));
    }
    Ok(PatchPath { attr, filter, sub })
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> SyntaxError {
        SyntaxError(format!("{what} at offset {}", self.at))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn space(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), SyntaxError> {
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", b as char)))
        }
    }

    /// A word (keyword or operator) at the cursor, case-insensitively,
    /// followed by a space, a bracket or the end.
    fn keyword(&mut self, word: &str) -> bool {
        let end = self.at + word.len();
        let matches = self
            .s
            .get(self.at..end)
            .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
            && !self
                .s
                .get(end)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
        if matches {
            self.at = end;
        }
        matches
    }

    fn nest(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("the filter nests too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, SyntaxError> {
        self.nest()?;
        let f = self.chain("or", Self::and, Filter::Or)?;
        self.depth -= 1;
        Ok(f)
    }

    fn and(&mut self) -> Result<Filter, SyntaxError> {
        self.chain("and", Self::unary, Filter::And)
    }

    /// `operand (SP word SP operand)*`, joined to the left.
    fn chain(
        &mut self,
        word: &str,
        operand: fn(&mut Self) -> Result<Filter, SyntaxError>,
        join: fn(Box<Filter>, Box<Filter>) -> Filter,
    ) -> Result<Filter, SyntaxError> {
        let mut left = operand(self)?;
        loop {
            let save = self.at;
            self.space();
            if self.at > save && self.keyword(word) {
                self.require_space()?;
                let right = operand(self)?;
                left = join(Box::new(left), Box::new(right));
            } else {
                self.at = save;
                return Ok(left);
            }
        }
    }

    fn require_space(&mut self) -> Result<(), SyntaxError> {
        if self.peek() != Some(b' ') {
            return Err(self.error("expected a space"));
        }
        self.space();
        Ok(())
    }

    fn unary(&mut self) -> Result<Filter, SyntaxError> {
        self.space();
        if self.keyword("not") {
            self.space();
            if self.peek() != Some(b'(') {
                return Err(self.error("'not' takes a parenthesised filter"));
            }
            return Ok(Filter::Not(Box::new(self.group()?)));
        }
        if self.peek() == Some(b'(') {
            return self.group();
        }
        self.attr_exp()
    }

    fn group(&mut self) -> Result<Filter, SyntaxError> {
        self.expect(b'(')?;
        let f = self.or()?;
        self.space();
        self.expect(b')')?;
        Ok(f)
    }

    fn attr_exp(&mut self) -> Result<Filter, SyntaxError> {
        let attr = self.attr_path()?;
        if self.peek() == Some(b'[') {
            if attr.sub.is_some() {
                return Err(self.error("a value filter follows an attribute, not a sub-attribute"));
            }
            self.at += 1;
            self.nest()?;
            let inner = self.or()?;
            self.depth -= 1;
            self.space();
            self.expect(b']')?;
            if self.peek() == Some(b'.') {
                self.at += 1;
                let sub = self.name()?.to_ascii_lowercase();
                let path = AttrPath {
                    urn: None,
                    name: sub,
                    sub: None,
                };
                let tail = self.comparison(path)?;
                return Ok(Filter::Values(attr, Box::new(inner), Some(Box::new(tail))));
            }
            return Ok(Filter::Values(attr, Box::new(inner), None));
        }
        self.comparison(attr)
    }

    fn comparison(&mut self, attr: AttrPath) -> Result<Filter, SyntaxError> {
        self.require_space()?;
        if self.keyword("pr") {
            return Ok(Filter::Present(attr));
        }
        let ops = [
            ("eq", Op::Eq),
            ("ne", Op::Ne),
            ("co", Op::Co),
            ("sw", Op::Sw),
            ("ew", Op::Ew),
            ("gt", Op::Gt),
            ("ge", Op::Ge),
            ("lt", Op::Lt),
            ("le", Op::Le),
        ];
        let Some(op) = ops.iter().find(|(w, _)| self.keyword(w)).map(|(_, op)| *op) else {
            return Err(self.error("expected an operator (eq ne co sw ew gt ge lt le pr)"));
        };
        self.require_space()?;
        let value = self.value()?;
        Ok(Filter::Compare(attr, op, value))
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        if self.keyword("true") {
            return Ok(Value::Bool(true));
        }
        if self.keyword("false") {
            return Ok(Value::Bool(false));
        }
        if self.keyword("null") {
            return Ok(Value::Null);
        }
        match self.peek() {
            Some(b'"') => self.string(),
            Some(b) if b == b'-' || b.is_ascii_digit() => {
                let start = self.at;
                while self
                    .peek()
                    .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.at]).unwrap_or("");
                serde_json::from_str::<serde_json::Number>(text)
                    .map(Value::Number)
                    .map_err(|_| self.error("not a number"))
            }
            _ => Err(self.error("expected a value (a string, number, true, false or null)")),
        }
    }

    /// A JSON string, escapes and all.
    fn string(&mut self) -> Result<Value, SyntaxError> {
        let start = self.at;
        self.at += 1;
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'\\') => self.at += 2,
                Some(b'"') => {
                    self.at += 1;
                    break;
                }
                Some(_) => self.at += 1,
            }
        }
        let text = self.s.get(start..self.at).unwrap_or_default();
        serde_json::from_slice::<String>(text)
            .map(Value::String)
            .map_err(|_| self.error("not a valid string"))
    }

    fn name(&mut self) -> Result<String, SyntaxError> {
        let start = self.at;
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'$' => self.at += 1,
            _ => return Err(self.error("expected an attribute name")),
        }
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            self.at += 1;
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.at]).into_owned())
    }

    /// `[URN ":"] name ["." sub]`. A URN is everything up to its last `:`
    /// (URNs hold dots, as in `...:2.0:User`).
    fn attr_path(&mut self) -> Result<AttrPath, SyntaxError> {
        let rest = &self.s[self.at..];
        let mut urn = None;
        if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"urn:") {
            let end = rest
                .iter()
                .position(|b| matches!(b, b' ' | b'[' | b'(' | b')' | b']'))
                .unwrap_or(rest.len());
            let Some(colon) = rest[..end].iter().rposition(|b| *b == b':') else {
                return Err(self.error("a schema URN ends with ':' and an attribute"));
            };
            urn = Some(String::from_utf8_lossy(&rest[..colon]).to_ascii_lowercase());
            self.at += colon + 1;
        }
        let name = self.name()?.to_ascii_lowercase();
        let mut sub = None;
        if self.peek() == Some(b'.') {
            self.at += 1;
            sub = Some(self.name()?.to_ascii_lowercase());
        }
        Ok(AttrPath { urn, name, sub })
    }
}

/// Whether the attribute named compares case-sensitively.
pub type CaseExact = fn(&AttrPath) -> bool;

/// Whether `resource` (its SCIM representation) matches `filter`. A
/// comparison the attribute's type does not support (`gt` on a boolean)
/// matches nothing.
pub fn matches(filter: &Filter, resource: &Value, case_exact: CaseExact) -> bool {
    eval(filter, resource, case_exact, None)
}

/// `parent` is the multi-valued attribute a value filter's paths are
/// inside, so `members[value eq "..."]` asks `case_exact` about
/// `members.value`, not `value`.
fn eval(
    filter: &Filter,
    resource: &Value,
    case_exact: CaseExact,
    parent: Option<&AttrPath>,
) -> bool {
    let full = |path: &AttrPath| match parent {
        Some(p) => AttrPath {
            urn: p.urn.clone(),
            name: p.name.clone(),
            sub: Some(path.name.clone()),
        },
        None => path.clone(),
    };
    match filter {
        Filter::And(a, b) => {
            eval(a, resource, case_exact, parent) && eval(b, resource, case_exact, parent)
        }
        Filter::Or(a, b) => {
            eval(a, resource, case_exact, parent) || eval(b, resource, case_exact, parent)
        }
        Filter::Not(f) => !eval(f, resource, case_exact, parent),
        Filter::Present(path) => has_value(resource, path),
        // `eq null` is "has no value", as `pr` would say.
        Filter::Compare(path, op, Value::Null) => match op {
            Op::Eq => !has_value(resource, path),
            Op::Ne => has_value(resource, path),
            _ => false,
        },
        Filter::Compare(path, op, want) => {
            let exact = case_exact(&full(path));
            values(resource, path)
                .iter()
                .any(|v| compare(v, *op, want, exact))
        }
        Filter::Values(path, inner, tail) => elements(resource, path).iter().any(|element| {
            eval(inner, element, case_exact, Some(path))
                && tail
                    .as_ref()
                    .is_none_or(|t| eval(t, element, case_exact, Some(path)))
        }),
    }
}

/// Whether the attribute holds anything: a complex one whatever its
/// `value`, a sub-attribute or simple one a non-empty value.
fn has_value(resource: &Value, path: &AttrPath) -> bool {
    if path.sub.is_none() {
        elements(resource, path).iter().any(|v| present(v))
    } else {
        values(resource, path).iter().any(|v| present(v))
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// The member of an object named `name`, case-insensitively.
pub fn member<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The object an attribute path starts from: the resource, or the
/// extension object its URN names.
fn scope<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    match &path.urn {
        None => Some(resource),
        Some(urn) if urn.starts_with(CORE_URN) => Some(resource),
        Some(urn) => member(resource, urn),
    }
}

/// The elements of the attribute (one for a single value, each for a
/// multi-valued one).
fn elements<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    match scope(resource, path).and_then(|s| member(s, &path.name)) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

/// The values a path reaches: `emails.value` is every email's value; a
/// multi-valued attribute without a sub-attribute compares its elements'
/// `value`s (RFC 7644 §3.4.2.2).
fn values<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for element in elements(resource, path) {
        let reached = match &path.sub {
            Some(sub) => member(element, sub),
            None if element.is_object() => member(element, "value"),
            None => Some(element),
        };
        out.extend(reached);
    }
    out
}

fn compare(have: &Value, op: Op, want: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let fold = |s: &str| {
        if exact {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let order = match (have, want) {
        (Value::String(h), Value::String(w))
            if !matches!(op, Op::Co | Op::Sw | Op::Ew)
                && let (Some(h), Some(w)) = (parse_iso8601(h), parse_iso8601(w)) =>
        {
            // Two instants (`meta.lastModified gt "..."`): compared as times,
            // whatever their precision or offset.
            h.cmp(&w)
        }
        (Value::String(h), Value::String(w)) => {
            let (h, w) = (fold(h), fold(w));
            match op {
                Op::Co => return h.contains(&w),
                Op::Sw => return h.starts_with(&w),
                Op::Ew => return h.ends_with(&w),
                _ => h.cmp(&w),
            }
        }
        (Value::Number(h), Value::Number(w)) => match (h.as_f64(), w.as_f64()) {
            (Some(h), Some(w)) => match h.partial_cmp(&w) {
                Some(o) => o,
                None => return false,
            },
            _ => return false,
        },
        (Value::Bool(h), Value::Bool(w)) => match op {
            Op::Eq => return h == w,
            Op::Ne => return h != w,
            _ => return false,
        },
        _ => return op == Op::Ne,
    };
    match op {
        Op::Eq => order == Ordering::Equal,
        Op::Ne => order != Ordering::Equal,
        Op::Gt => order == Ordering::Greater,
        Op::Ge => order != Ordering::Less,
        Op::Lt => order == Ordering::Less,
        Op::Le => order != Ordering::Greater,
        Op::Co | Op::Sw | Op::Ew => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exact(path: &AttrPath) -> bool {
        match path.sub.as_deref() {
            None => matches!(path.name.as_str(), "id" | "externalid"),
            Some(sub) => path.name == "members" && sub == "value",
        }
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": "2819c223", "externalId": "Bjensen", "userName": "BJensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "active": true,
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                       {"value": "babs@jensen.org", "type": "home"}],
            "meta": {"lastModified": "2011-05-13T04:42:34Z", "created": "2011-05-13T04:42:34.500Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
        })
    }

    fn hit(filter: &str) -> bool {
        matches(&parse(filter).unwrap(), &user(), exact)
    }

    #[test]
    fn the_rfc_examples_parse_and_match() {
        assert!(hit(r#"userName eq "bjensen@example.com""#));
        assert!(hit(r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#));
        assert!(
            !hit(r#"externalId eq "bjensen""#),
            "externalId is caseExact"
        );
        assert!(hit(r#"externalId eq "Bjensen""#));
        assert!(hit(r#"name.familyName co "ens""#));
        assert!(hit(r#"userName sw "bj""#) && hit(r#"userName ew ".COM""#));
        assert!(!hit("title pr") && hit("name pr") && hit("emails pr") && hit("name.givenName pr"));
        assert!(!hit(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
        assert!(hit(r#"meta.lastModified ge "2011-05-13T04:42:34Z""#));
        assert!(hit(r#"meta.lastModified lt "2011-05-14""#));
        assert!(hit(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!hit(
            r#"emails[type eq "home" and value co "@example.com"]"#
        ));
        assert!(hit(
            r#"emails[type eq "work"].value eq "bjensen@example.com""#
        ));
        assert!(hit(r#"emails eq "babs@jensen.org""#));
        assert!(hit(
            r#"userName eq "x" or (active eq true and not (name.givenName eq "Bob"))"#
        ));
        assert!(!hit(r#"active eq false"#) && hit("active ne false"));
        assert!(hit(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(hit(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#
        ));
        assert!(hit(r#"title eq null"#) && !hit(r#"userName eq null"#));
        assert!(!hit("name eq null") && hit("name ne null"));
        // Times compare as instants: 04:42:34.5 is after 04:42:34.
        assert!(hit(r#"meta.created gt "2011-05-13T04:42:34Z""#));
        assert!(hit(r#"meta.created lt "2011-05-13T06:42:35+02:00""#));
        assert!(!hit(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#
        ));
    }

    #[test]
    fn value_filters_ask_about_the_sub_attribute_in_its_parent() {
        let group = json!({"members": [{"value": "abc", "display": "Ann"}]});
        let hit = |f: &str| matches(&parse(f).unwrap(), &group, exact);
        assert!(hit(r#"members[value eq "abc"]"#) && !hit(r#"members[value eq "ABC"]"#));
        assert!(hit(r#"members[display eq "ANN"]"#));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // false and false or true = (false and false) or true
        assert!(hit(
            r#"userName eq "x" and userName eq "y" or active eq true"#
        ));
        // true or false and false = true or (false and false)
        assert!(hit(
            r#"active eq true or userName eq "x" and userName eq "y""#
        ));
    }

    #[test]
    fn malformed_filters_are_refused_with_a_reason() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName eq "unterminated"#,
            r#"userName equals "x""#,
            r#"userName eq "x" and"#,
            r#"(userName eq "x""#,
            r#"emails[type eq "work""#,
            r#"userName eq x"#,
            r#"not userName eq "x""#,
            r#"userName eq "x" junk"#,
            "urn:nothing",
            "1abc eq 1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        let deep = format!("{}active eq true{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
        assert!(parse(&"a".repeat(MAX_FILTER_BYTES + 1)).is_err());
    }

    #[test]
    fn patch_paths() {
        let p = parse_path(r#"members[value eq "2819c223"]"#).unwrap();
        assert_eq!(p.attr.name, "members");
        assert!(p.filter.is_some() && p.sub.is_none());
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.sub.as_deref(), Some("value"));
        let p = parse_path("name.givenName").unwrap();
        assert_eq!(
            (p.attr.name.as_str(), p.attr.sub.as_deref()),
            ("name", Some("givenname"))
        );
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
            .unwrap();
        assert_eq!(
            p.attr.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user")
        );
        for bad in [
            "",
            "members[",
            "members[value eq 1",
            "name.",
            "a b",
            "members]",
        ] {
            assert!(parse_path(bad).is_err(), "{bad:?} parsed");
        }
    }
}
