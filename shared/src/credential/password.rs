//! Passwords: one policy module (each family's rules are a profile of
//! [`PasswordPolicy`]) and argon2id hashing to PHC strings.
//!
//! Production parameters are argon2's defaults: m = 19 MiB, t = 2, p = 1
//! (OWASP's recommendation; ~40–75 ms per hash in a Spin component). The Spin
//! variable `password_hash_params` (`m=<KiB>,t=<iterations>,p=<lanes>`) may
//! lower them, for tests only.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::base::model::PasswordPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            lanes: Params::DEFAULT_P_COST,
        }
    }
}

impl HashParams {
    /// Parses `m=19456,t=2,p=1`; anything unreadable keeps the production defaults.
    pub fn parse(spec: &str) -> Self {
        let mut params = Self::default();
        for part in spec.split(',') {
            let Some((k, v)) = part.trim().split_once('=') else {
                continue;
            };
            let Ok(v) = v.trim().parse::<u32>() else {
                continue;
            };
            match k.trim() {
                "m" => params.memory_kib = v,
                "t" => params.iterations = v,
                "p" => params.lanes = v,
                _ => {}
            }
        }
        params
    }

    fn argon2(&self) -> Argon2<'static> {
        let params =
            Params::new(self.memory_kib, self.iterations, self.lanes, None).unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

/// The argon2id PHC string of `password` with a 16-byte random salt.
#[allow(
    clippy::expect_used,
    reason = "a 16-byte salt always encodes, and `HashParams` only holds parameters argon2 accepted when they were parsed"
)]
pub fn hash(password: &str, params: HashParams, salt: [u8; 16]) -> String {
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    params
        .argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .expect("argon2 with valid params does not fail")
}

/// Whether `password` matches a stored PHC string (constant-time inside argon2).
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Every rule of `policy` that `password` breaks, as messages.
pub fn check(password: &str, policy: &PasswordPolicy) -> Vec<String> {
    let mut problems = Vec::new();
    let len = password.chars().count();
    if len < policy.min_len {
        problems.push(format!(
            "is too short (minimum is {} characters)",
            policy.min_len
        ));
    }
    if len > policy.max_len {
        problems.push(format!(
            "is too long (maximum is {} characters)",
            policy.max_len
        ));
    }
    let has = |f: fn(char) -> bool| password.chars().any(f);
    if policy.upper && !has(|c| c.is_uppercase()) {
        problems.push("must contain an upper-case letter".into());
    }
    if policy.lower && !has(|c| c.is_lowercase()) {
        problems.push("must contain a lower-case letter".into());
    }
    if policy.digit && !has(|c| c.is_ascii_digit()) {
        problems.push("must contain a digit".into());
    }
    if policy.symbol && !has(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
        problems.push("must contain a symbol".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_never_contain_the_password() {
        let params = HashParams::parse("m=64,t=1,p=1");
        let phc = hash("password123", params, [3; 16]);
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(!phc.contains("password123"));
        assert!(verify("password123", &phc));
        assert!(!verify("password124", &phc));
        assert!(!verify("password123", "not a hash"));
    }

    #[test]
    fn default_params_are_production() {
        assert_eq!(
            HashParams::parse(""),
            HashParams {
                memory_kib: 19456,
                iterations: 2,
                lanes: 1
            }
        );
    }

    #[test]
    fn policy_profiles() {
        let clone = PasswordPolicy::default();
        assert!(check("password123", &clone).is_empty());
        assert_eq!(check("short", &clone).len(), 1);
        let settings = crate::base::model::Settings::default();
        assert_eq!(settings.password_policy("clone"), &clone);
        let strict = settings.password_policy("apiculus");
        assert!(
            check("UserSam@178", strict).is_empty(),
            "Apiculus's sample password"
        );
        assert_eq!(check("password", strict).len(), 3);
        assert_eq!(check("password123", strict).len(), 2);
        assert_eq!(check("Aa1!", &PasswordPolicy::apiculus(10)).len(), 1);
    }
}
