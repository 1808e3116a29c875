//! Brute-force throttling of sign-ins, counted with the store's atomic
//! increment so concurrent guesses cannot slip past a check.
//!
//! Every attempt is counted before the password is checked, in three
//! counters of the current 15-minute window: the account from this client
//! address, the client address on any account, and the account from
//! anywhere. A success takes the attempt back. Limits per window:
//!
//! | counter | limit | why |
//! |---|---|---|
//! | account + address | 5 | a guesser is stopped after 5 tries |
//! | address | 50 | one address cannot sweep many accounts |
//! | account | 200 | a distributed guess is bounded too |
//!
//! The owner of an account keeps signing in from their own address while a
//! stranger is locked out: locking the account for everyone takes 200 failed
//! attempts within one window, which at 50 per address needs at least four
//! addresses, and it lifts when the window ends. Counters of a past window
//! are deleted when the same counter is next used.

use crate::base::error::{Error, Result};
use crate::base::time::Millis;
use crate::be::storage::{Env, sha256_hex};

pub const WINDOW_MS: Millis = 15 * 60 * 1000;
pub const PER_ACCOUNT_AND_ADDRESS: i64 = 5;
pub const PER_ADDRESS: i64 = 50;
pub const PER_ACCOUNT: i64 = 200;
/// Second-factor codes per user and window from any address, besides the
/// counters above: a six-digit code must not yield to guesses spread over
/// many addresses. 10 a window is under 1,000 a day, about a 0.3% chance a
/// day with three codes valid at once.
pub const SECOND_FACTOR_PER_ACCOUNT: i64 = 10;

fn counters(tenant: &str, account: &str, address: &str) -> [(String, i64); 3] {
    let a = &sha256_hex(account.as_bytes())[..32];
    let ip = &sha256_hex(address.as_bytes())[..32];
    [
        (
            format!("t/{tenant}/throttle/pair/{a}{ip}"),
            PER_ACCOUNT_AND_ADDRESS,
        ),
        (format!("t/{tenant}/throttle/addr/{ip}"), PER_ADDRESS),
        (format!("t/{tenant}/throttle/acct/{a}"), PER_ACCOUNT),
    ]
}

fn window(now: Millis) -> Millis {
    now.div_euclid(WINDOW_MS)
}

/// One sign-in attempt on `account` (a normalized email) from `address`.
/// Refuses with 429 (seconds to the window's end) when any counter is over
/// its limit; otherwise the caller checks the password and calls
/// [`succeeded`] if it matched.
pub fn attempt(env: &Env, tenant: &str, account: &str, address: &str) -> Result<()> {
    let w = window(env.now);
    let mut over = false;
    let mut new = Vec::new();
    for (base, limit) in counters(tenant, account, address) {
        let key = format!("{base}/{w}");
        let n = env.kv.increment(&key, 1)?;
        if n == 1 {
            // First use in this window: the previous window's count is dead,
            // and this one is once the window ends (for the sweep, when
            // the counter is never used again).
            let _ = env.kv.delete(&format!("{base}/{}", w - 1));
            new.push(key);
        }
        over |= n > limit;
    }
    crate::be::expiry::expire_at(env, tenant, (w + 1) * WINDOW_MS, &new)?;
    if over {
        let retry_after = ((w + 1) * WINDOW_MS - env.now + 999) / 1000;
        return Err(Error::RateLimited(retry_after as u64));
    }
    Ok(())
}

fn second_factor_counter(tenant: &str, account: &str, w: Millis) -> String {
    let a = &sha256_hex(account.as_bytes())[..32];
    format!("t/{tenant}/throttle/code/{a}/{w}")
}

/// One second-factor code checked for `account`: [`attempt`]'s counters and
/// [`SECOND_FACTOR_PER_ACCOUNT`].
pub fn second_factor_attempt(env: &Env, tenant: &str, account: &str, address: &str) -> Result<()> {
    attempt(env, tenant, account, address)?;
    let w = window(env.now);
    let n = env
        .kv
        .increment(&second_factor_counter(tenant, account, w), 1)?;
    if n == 1 {
        let _ = env
            .kv
            .delete(&second_factor_counter(tenant, account, w - 1));
        crate::be::expiry::expire_at(
            env,
            tenant,
            (w + 1) * WINDOW_MS,
            &[second_factor_counter(tenant, account, w)],
        )?;
    }
    if n > SECOND_FACTOR_PER_ACCOUNT {
        let retry_after = ((w + 1) * WINDOW_MS - env.now + 999) / 1000;
        return Err(Error::RateLimited(retry_after as u64));
    }
    Ok(())
}

/// Takes back a good second-factor code.
pub fn second_factor_succeeded(
    env: &Env,
    tenant: &str,
    account: &str,
    address: &str,
) -> Result<()> {
    succeeded(env, tenant, account, address)?;
    env.kv
        .increment(&second_factor_counter(tenant, account, window(env.now)), -1)?;
    Ok(())
}

/// Takes back a successful attempt, so a user's own sign-ins never count
/// against them.
pub fn succeeded(env: &Env, tenant: &str, account: &str, address: &str) -> Result<()> {
    let w = window(env.now);
    let [pair, addr, acct] = counters(tenant, account, address);
    env.kv.delete(&format!("{}/{w}", pair.0))?;
    env.kv.increment(&format!("{}/{w}", addr.0), -1)?;
    env.kv.increment(&format!("{}/{w}", acct.0), -1)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::be::kv::MemKv;

    #[test]
    fn a_stranger_is_stopped_and_the_owner_is_not() {
        let kv = MemKv::new();
        let mut rnd = || [0u8; 16];
        let env = Env {
            kv: &kv,
            now: WINDOW_MS * 10 + 1000,
            random: &mut rnd,
            pause: &|_| {},
            correlation: None,
        };
        for _ in 0..PER_ACCOUNT_AND_ADDRESS {
            attempt(&env, "t", "a@x.io", "10.0.0.9").unwrap();
        }
        let Err(Error::RateLimited(secs)) = attempt(&env, "t", "a@x.io", "10.0.0.9") else {
            panic!("sixth try is throttled")
        };
        assert_eq!(secs, (WINDOW_MS - 1000) as u64 / 1000);
        // The owner, elsewhere, is unaffected and their success is taken back.
        attempt(&env, "t", "a@x.io", "10.0.0.1").unwrap();
        succeeded(&env, "t", "a@x.io", "10.0.0.1").unwrap();
        // The next window starts clean.
        let mut rnd = || [0u8; 16];
        let later = Env {
            now: env.now + WINDOW_MS,
            kv: &kv,
            random: &mut rnd,
            pause: &|_| {},
            correlation: None,
        };
        attempt(&later, "t", "a@x.io", "10.0.0.9").unwrap();
    }
}
