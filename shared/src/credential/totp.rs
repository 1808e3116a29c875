//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP, HMAC-SHA1,
//! 30-second steps, 6 digits: what every authenticator app speaks), the
//! `otpauth://` URI that installs a secret, recovery codes, and the sealing
//! that keeps a TOTP secret unreadable in the store.
//!
//! A TOTP secret must be read back to check a code, so unlike passwords and
//! tokens it cannot be stored as a hash: it is encrypted (XChaCha20-Poly1305)
//! under a key derived from the current `token_keys` pair, bound to its user.
//! Recovery codes are single use and only ever checked, so they are stored
//! as keyed hashes ([`crate::credential::secrets::seal`]).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

use crate::base::time::Millis;
use crate::credential::secrets::Keys;

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps either side of now that still count (clock skew).
const SKEW: u64 = 1;
/// Recovery codes per set.
pub const RECOVERY_CODES: usize = 10;

/// RFC 4226 HOTP of `counter` with `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    #[allow(clippy::expect_used, reason = "HMAC takes a key of any length")]
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The step a moment falls in.
pub fn step(now: Millis) -> u64 {
    (now.max(0) as u64 / 1000) / STEP_SECONDS
}

/// The code for a step, zero-padded.
pub fn code(secret: &[u8], step: u64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step, DIGITS),
        width = DIGITS as usize
    )
}

/// The step `attempt` is the code of, within one step either side of now and
/// strictly after `last_used` (a code is good once), if any.
pub fn accepted_step(secret: &[u8], attempt: &str, now: Millis, last_used: u64) -> Option<u64> {
    let attempt = attempt.trim();
    if attempt.len() != DIGITS as usize || !attempt.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step(now);
    (now.saturating_sub(SKEW)..=now + SKEW)
        .filter(|s| *s > last_used)
        .find(|s| {
            crate::credential::auth::constant_time_eq(
                code(secret, *s).as_bytes(),
                attempt.as_bytes(),
            )
        })
}

/// RFC 4648 base32 without padding: how authenticator apps take a secret.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The `otpauth://totp/...` URI an authenticator app scans.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

fn seal_key(secret: &[u8]) -> chacha20poly1305::Key {
    #[allow(clippy::expect_used, reason = "HMAC takes a key of any length")]
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"onboard/totp-secret");
    mac.finalize().into_bytes()
}

/// `kid$nonce$ciphertext` (base64url): `secret` encrypted under the current
/// key, bound to `owner` (a sealed secret copied to another user opens to
/// nothing). `nonce` must be random (24 bytes).
pub fn seal_secret(keys: &Keys, owner: &str, secret: &[u8], nonce: [u8; 24]) -> Option<String> {
    let (kid, key) = keys.current()?;
    let cipher = XChaCha20Poly1305::new(&seal_key(key));
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: owner.as_bytes(),
            },
        )
        .ok()?;
    Some(format!(
        "{kid}${}${}",
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(sealed)
    ))
}

/// The secret [`seal_secret`] sealed for `owner`, if a configured key opens it.
pub fn open_secret(keys: &Keys, owner: &str, sealed: &str) -> Option<Vec<u8>> {
    let mut parts = sealed.split('$');
    let (kid, nonce, body) = (parts.next()?, parts.next()?, parts.next()?);
    let key = keys.get(kid)?;
    let nonce = URL_SAFE_NO_PAD.decode(nonce).ok()?;
    if nonce.len() != 24 {
        return None;
    }
    let body = URL_SAFE_NO_PAD.decode(body).ok()?;
    XChaCha20Poly1305::new(&seal_key(key))
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &body,
                aad: owner.as_bytes(),
            },
        )
        .ok()
}

/// A recovery code from 10 random bytes (80 bits): `xxxx-xxxx-xxxx-xxxx` in
/// lower-case base32, easy to read out and type.
pub fn recovery_code(random: [u8; 16]) -> String {
    let raw = base32(&random[..10]).to_ascii_lowercase();
    raw.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("-")
}

/// A recovery code as typed: case, spaces and dashes do not matter.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (seconds, expected) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(secret, seconds / 30, 8), expected, "T = {seconds}");
        }
    }

    #[test]
    fn a_code_counts_once_and_one_step_either_side() {
        let secret = b"12345678901234567890";
        let now: Millis = 1_111_111_111_000;
        let s = step(now);
        assert_eq!(accepted_step(secret, &code(secret, s), now, 0), Some(s));
        assert_eq!(
            accepted_step(secret, &code(secret, s - 1), now, 0),
            Some(s - 1)
        );
        assert_eq!(
            accepted_step(secret, &code(secret, s + 1), now, 0),
            Some(s + 1)
        );
        assert_eq!(accepted_step(secret, &code(secret, s + 2), now, 0), None);
        assert_eq!(
            accepted_step(secret, &code(secret, s), now, s),
            None,
            "replay"
        );
        assert_eq!(accepted_step(secret, "12345", now, 0), None);
        assert_eq!(accepted_step(secret, "12345a", now, 0), None);
    }

    #[test]
    fn base32_and_uri() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        let uri = otpauth_uri("Onboard", "a b@x.io", b"12345678901234567890");
        assert!(uri.starts_with("otpauth://totp/Onboard:a+b%40x.io?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Onboard"));
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_owner_under_a_known_key() {
        let keys = Keys::parse("k2:second-secret-0123456789,k1:first-secret-0123456789");
        let sealed = seal_secret(&keys, "user-a", b"totp secret bytes!!!", [7; 24]).unwrap();
        assert!(!sealed.contains("totp"));
        assert_eq!(
            open_secret(&keys, "user-a", &sealed).as_deref(),
            Some(&b"totp secret bytes!!!"[..])
        );
        assert_eq!(open_secret(&keys, "user-b", &sealed), None);
        assert_eq!(
            open_secret(
                &Keys::parse("k2:another-secret-0123456789"),
                "user-a",
                &sealed
            ),
            None
        );
    }

    #[test]
    fn recovery_codes_read_and_type_easily() {
        let code = recovery_code([1; 16]);
        assert_eq!(code.len(), 19);
        assert_eq!(
            normalize_recovery_code(&code.to_uppercase()),
            code.replace('-', "")
        );
    }
}
