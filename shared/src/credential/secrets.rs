//! Keys from secret Spin variables, keyed hashes of stored credentials, and the
//! HS256 JWTs every family's tokens are.
//!
//! `token_keys` holds `kid:secret` pairs separated by commas. The first pair
//! signs and hashes; every pair verifies, so a key rotates by putting the new
//! pair first and dropping the old one once its tokens have expired and its
//! stored credentials were reissued.
//!
//! A JWT is only accepted when its header says exactly `HS256` with a known
//! `kid`, its signature matches, and its `iss`, `aud` (the family) and
//! `token_type` are the ones the endpoint expects: a refresh token, another
//! family's token or an `alg: none` token is never an access token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::base::time::Millis;
use crate::credential::auth::constant_time_eq;

type HmacSha256 = Hmac<Sha256>;

/// Every token's `iss`.
pub const ISSUER: &str = "onboard";

/// The signing and hashing keys, current first.
#[derive(Clone, Default)]
pub struct Keys(Vec<(String, Vec<u8>)>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        write!(f, "Keys({kids:?})")
    }
}

impl Keys {
    /// Parses `kid:secret[,kid:secret...]`. Pairs without a kid or with a
    /// secret under 16 bytes are ignored: no key at all refuses every token.
    pub fn parse(spec: &str) -> Self {
        Keys(
            spec.split(',')
                .filter_map(|pair| {
                    let (kid, secret) = pair.trim().split_once(':')?;
                    let kid = kid.trim();
                    let ok = !kid.is_empty()
                        && kid.len() <= 32
                        && kid
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                        && secret.len() >= 16;
                    ok.then(|| (kid.to_string(), secret.as_bytes().to_vec()))
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn current(&self) -> Option<&(String, Vec<u8>)> {
        self.0.first()
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, s)| s.as_slice())
    }

    /// The key ids, current first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

/// What every credential operation answers without a usable `token_keys`.
pub fn keys_missing() -> crate::base::error::Error {
    crate::base::error::Error::Unavailable("token_keys is not configured".into())
}

/// HMAC-SHA256 of `data` under `secret`.
pub fn mac(secret: &[u8], data: &[u8]) -> Vec<u8> {
    #[allow(clippy::expect_used, reason = "HMAC takes a key of any length")]
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The keyed hash of a credential under key `kid`, as hex. Stored credentials
/// are found by this value, never kept in clear.
pub fn keyed_hash(keys: &Keys, kid: &str, credential: &str) -> Option<String> {
    keys.get(kid).map(|k| hex(&mac(k, credential.as_bytes())))
}

/// `(kid, keyed hash)` under every key, current first: where a credential may
/// be stored.
pub fn keyed_hashes(keys: &Keys, credential: &str) -> Vec<(String, String)> {
    keys.kids()
        .filter_map(|kid| Some((kid.to_string(), keyed_hash(keys, kid, credential)?)))
        .collect()
}

/// `kid$hash` under the current key, for storing a secret to check later.
pub fn seal(keys: &Keys, secret: &str) -> Option<String> {
    let (kid, _) = keys.current()?;
    Some(format!("{kid}${}", keyed_hash(keys, kid, secret)?))
}

/// Whether `secret` matches a value from [`seal`] (constant time).
pub fn unseal_matches(keys: &Keys, sealed: &str, secret: &str) -> bool {
    let Some((kid, stored)) = sealed.split_once('$') else {
        return false;
    };
    keyed_hash(keys, kid, secret).is_some_and(|h| constant_time_eq(h.as_bytes(), stored.as_bytes()))
}

/// A random credential: 32 bytes (two host randoms) in base64url.
pub fn random_secret(random: &mut dyn FnMut() -> [u8; 16]) -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&random());
    bytes[16..].copy_from_slice(&random());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs `claims` (which must carry `iss`, `aud`, `token_type`, `exp`) with
/// the current key.
pub fn sign_jwt(keys: &Keys, claims: &Map<String, Value>) -> Option<String> {
    let (kid, secret) = keys.current()?;
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
    );
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, signing_input.as_bytes()));
    Some(format!("{signing_input}.{signature}"))
}

/// Why a token was refused (for logs and tests; the client hears only 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Malformed,
    Algorithm,
    UnknownKey,
    Signature,
    Issuer,
    Audience,
    TokenType,
    Expired,
}

/// Verifies a token for `audience` and `token_type` at `now` and returns its
/// claims.
pub fn verify_jwt(
    keys: &Keys,
    token: &str,
    audience: &str,
    token_type: &str,
    now: Millis,
) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed)
    };
    let header: Map<String, Value> =
        serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(JwtError::Algorithm);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(JwtError::UnknownKey)?;
    let secret = keys.get(kid).ok_or(JwtError::UnknownKey)?;
    let expected = mac(secret, format!("{h}.{p}").as_bytes());
    if !constant_time_eq(&expected, &decode(s)?) {
        return Err(JwtError::Signature);
    }
    let claims: Map<String, Value> =
        serde_json::from_slice(&decode(p)?).map_err(|_| JwtError::Malformed)?;
    if claims.get("iss").and_then(Value::as_str) != Some(ISSUER) {
        return Err(JwtError::Issuer);
    }
    if claims.get("aud").and_then(Value::as_str) != Some(audience) {
        return Err(JwtError::Audience);
    }
    if claims.get("token_type").and_then(Value::as_str) != Some(token_type) {
        return Err(JwtError::TokenType);
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(JwtError::Malformed)?;
    if exp.saturating_mul(1000) <= now {
        return Err(JwtError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::parse("k2:second-secret-0123456789,k1:first-secret-0123456789")
    }

    fn claims(aud: &str, typ: &str, exp: i64) -> Map<String, Value> {
        let Value::Object(m) =
            json!({"iss": ISSUER, "aud": aud, "token_type": typ, "exp": exp, "sub": "u"})
        else {
            unreachable!()
        };
        m
    }

    #[test]
    fn parse_skips_short_and_nameless_keys() {
        let k =
            Keys::parse(" a:0123456789abcdef , b:short, :0123456789abcdef, c d:0123456789abcdef");
        assert_eq!(k.kids().collect::<Vec<_>>(), vec!["a"]);
        assert!(Keys::parse("").is_empty());
        assert!(!format!("{k:?}").contains("0123"), "Debug shows no secret");
    }

    #[test]
    fn jwt_round_trip_and_every_refusal() {
        let k = keys();
        let t = sign_jwt(&k, &claims("clone", "session", 100)).unwrap();
        assert_eq!(
            verify_jwt(&k, &t, "clone", "session", 99_000).unwrap()["sub"],
            "u"
        );
        assert_eq!(
            verify_jwt(&k, &t, "clone", "session", 100_000),
            Err(JwtError::Expired)
        );
        assert_eq!(
            verify_jwt(&k, &t, "gcore", "session", 0),
            Err(JwtError::Audience)
        );
        assert_eq!(
            verify_jwt(&k, &t, "clone", "refresh", 0),
            Err(JwtError::TokenType)
        );
        // Rotated away: the old kid no longer verifies.
        assert_eq!(
            verify_jwt(
                &Keys::parse("k1:first-secret-0123456789"),
                &t,
                "clone",
                "session",
                0
            ),
            Err(JwtError::UnknownKey)
        );
        // An older key still listed still verifies.
        let old = sign_jwt(
            &Keys::parse("k1:first-secret-0123456789"),
            &claims("clone", "session", 100),
        )
        .unwrap();
        assert!(verify_jwt(&k, &old, "clone", "session", 0).is_ok());

        let parts: Vec<&str> = t.split('.').collect();
        let tampered_payload =
            URL_SAFE_NO_PAD.encode(Value::Object(claims("clone", "session", 999_999)).to_string());
        let tampered = format!("{}.{}.{}", parts[0], tampered_payload, parts[2]);
        assert_eq!(
            verify_jwt(&k, &tampered, "clone", "session", 0),
            Err(JwtError::Signature)
        );
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k2"}"#);
        assert_eq!(
            verify_jwt(&k, &format!("{none}.{}.", parts[1]), "clone", "session", 0),
            Err(JwtError::Algorithm)
        );
        let hs512 = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","kid":"k2"}"#);
        assert_eq!(
            verify_jwt(
                &k,
                &format!("{hs512}.{}.{}", parts[1], parts[2]),
                "clone",
                "session",
                0
            ),
            Err(JwtError::Algorithm)
        );
        for junk in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.??.**",
            &format!("{}.{}", parts[0], parts[1]),
        ] {
            assert!(
                verify_jwt(&k, junk, "clone", "session", 0).is_err(),
                "{junk}"
            );
        }
        assert!(verify_jwt(&Keys::default(), &t, "clone", "session", 0).is_err());
    }

    #[test]
    fn sealed_secrets_match_only_themselves() {
        let k = keys();
        let sealed = seal(&k, "s3cret").unwrap();
        assert!(sealed.starts_with("k2$") && !sealed.contains("s3cret"));
        assert!(unseal_matches(&k, &sealed, "s3cret"));
        assert!(!unseal_matches(&k, &sealed, "s3cret!"));
        assert!(!unseal_matches(&k, "nokid", "s3cret"));
        assert_eq!(keyed_hashes(&k, "x").len(), 2);
        let mut n = 0u8;
        let mut random = || {
            n += 1;
            [n; 16]
        };
        let a = random_secret(&mut random);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_secret(&mut random));
    }
}
