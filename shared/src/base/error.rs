//! The one error type of the core. Each API family renders it in its own
//! documented shape, in one place per family (`families/<family>.rs`).

/// One failing input field: its path as the family names it (`plans[0].start_date`)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every failing field of a request, gathered so the caller hears all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(())` when nothing failed, else the gathered 422.
    pub fn into_result(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self))
        }
    }
    /// The field names, in order, for tests and logs.
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.field.as_str()).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// 400: the body is not the JSON (or form) it must be.
    Malformed(String),
    /// 401: no credential, or one that is wrong, expired or revoked.
    Unauthenticated(String),
    /// 403: a valid credential that may not do this.
    Forbidden(String),
    /// 404: absent, or outside the caller's reach (never said which).
    NotFound(String),
    /// 405, with the methods the path does answer.
    MethodNotAllowed(Vec<http::Method>),
    /// 409: the record changed under a request that depended on it.
    Conflict(String),
    /// 412: the record is no longer the version the client named
    /// (`If-Match`); nothing was changed.
    PreconditionFailed(String),
    /// 413: body over the limit.
    TooLarge,
    /// 415: not a content type the endpoint reads.
    UnsupportedMediaType(String),
    /// 422: fields that fail validation.
    Invalid(FieldErrors),
    /// 429, with seconds to wait.
    RateLimited(u64),
    /// 503: the store failed mid-operation; retrying (with the same
    /// Idempotency-Key) is safe.
    Unavailable(String),
}

impl Error {
    pub fn status(&self) -> u16 {
        match self {
            Error::Malformed(_) => 400,
            Error::Unauthenticated(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed(_) => 405,
            Error::Conflict(_) => 409,
            Error::PreconditionFailed(_) => 412,
            Error::TooLarge => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::Invalid(_) => 422,
            Error::RateLimited(_) => 429,
            Error::Unavailable(_) => 503,
        }
    }

    /// One-line description, never containing a secret.
    pub fn message(&self) -> String {
        match self {
            Error::Malformed(m)
            | Error::Unauthenticated(m)
            | Error::Forbidden(m)
            | Error::NotFound(m)
            | Error::Conflict(m)
            | Error::PreconditionFailed(m)
            | Error::UnsupportedMediaType(m)
            | Error::Unavailable(m) => m.clone(),
            Error::MethodNotAllowed(_) => "method not allowed".into(),
            Error::TooLarge => "request body too large".into(),
            Error::Invalid(errors) => format!("invalid parameters: {}", errors.fields().join(", ")),
            Error::RateLimited(secs) => format!("too many attempts; retry in {secs}s"),
        }
    }

    /// A single-field 422.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        Error::Invalid(errors)
    }

    /// A unique value (an email, a tenant id, a reseller code) another
    /// record holds: a 422 for the families whose vendors answer it as a
    /// field error, which the families with a conflict status of their own
    /// (SCIM's `uniqueness`, the admin API's 409) tell apart by
    /// [`Error::is_taken`].
    pub fn taken(field: impl Into<String>) -> Self {
        Error::invalid(field, TAKEN)
    }

    /// A domain another tenant serves (as [`Error::taken`]).
    pub fn domain_taken(field: impl Into<String>) -> Self {
        Error::invalid(field, DOMAIN_TAKEN)
    }

    /// Whether every field of the refusal is a value held elsewhere
    /// ([`TAKEN`] or [`DOMAIN_TAKEN`]): nothing in the request was
    /// malformed, it lost to the store's current state.
    pub fn is_taken(&self) -> bool {
        matches!(self, Error::Invalid(f) if !f.0.is_empty()
            && f.0.iter().all(|e| e.message == TAKEN || e.message == DOMAIN_TAKEN))
    }
}

/// The message of a unique value (an email, a tenant id, a reseller code)
/// another record holds.
pub const TAKEN: &str = "has already been taken";
/// The message of a domain another tenant serves.
pub const DOMAIN_TAKEN: &str = "is already served by another tenant";

/// `<status> <message>`: what logs and `?` in tests print.
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status(), self.message())
    }
}

impl std::error::Error for Error {}

impl From<FieldErrors> for Error {
    fn from(e: FieldErrors) -> Self {
        Error::Invalid(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_taken_only_when_every_field_is_held_elsewhere() {
        assert!(Error::taken("email").is_taken());
        assert!(Error::domain_taken("domains[0]").is_taken());
        let mut both = FieldErrors::default();
        both.add("email", TAKEN);
        both.add("domains[1]", DOMAIN_TAKEN);
        assert!(Error::Invalid(both).is_taken());
        // A taken email beside a malformed field: the request must change.
        let mut mixed = FieldErrors::default();
        mixed.add("email", TAKEN);
        mixed.add("password", "is too short (minimum is 8 characters)");
        assert!(!Error::Invalid(mixed).is_taken());
        assert!(!Error::Invalid(FieldErrors::default()).is_taken());
        assert!(!Error::invalid("email", "is invalid").is_taken());
        assert!(!Error::Conflict(TAKEN.into()).is_taken());
    }
}
