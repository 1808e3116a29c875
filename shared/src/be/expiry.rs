//! Records that only grow otherwise (forgot-password and resend counters,
//! throttle counters, pending two-factor sign-ins, SMS codes, account
//! tokens, outbox messages) name the instant they are dead when they are
//! written; a sweep (`POST /admin/sweep`, run by a scheduler like the
//! outbox's delivery) deletes them once it has passed. The store lists no
//! keys by prefix, so the names go into hourly buckets, each an index list
//! (`t/{t}/ix/expiry/{hour}`), and the sweep walks the buckets whose hour
//! is over, behind a cursor (`t/{t}/expiry/cursor`).
//!
//! A registration is two calls (the bucket's position, the entry); a key
//! registered twice is deleted twice, which is harmless.

use serde::{Deserialize, Serialize};

use crate::base::error::Result;
use crate::base::time::Millis;
use crate::be::storage::{self, Env};

/// One bucket an hour.
const BUCKET_MS: Millis = 3_600_000;
/// How far back a first sweep looks: further than anything lives.
const HORIZON_BUCKETS: i64 = 24 * 40;

fn list(bucket: i64) -> String {
    format!("expiry/{bucket}")
}

fn cursor_key(tenant: &str) -> String {
    format!("t/{tenant}/expiry/cursor")
}

/// Registers `keys` (of `tenant`) to be deleted by the first sweep after
/// `at`.
pub fn expire_at(env: &Env, tenant: &str, at: Millis, keys: &[String]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let bucket = at.div_euclid(BUCKET_MS) + 1;
    let l = list(bucket);
    let pos = storage::index_position(env, tenant, &l)?;
    storage::index_put_str(env, tenant, &l, pos, &keys.join("\n"))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Every bucket up to this one is swept.
    done: i64,
    /// Entries of the next bucket already swept (a sweep stopped inside it).
    #[serde(default)]
    within: i64,
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub deleted: usize,
    pub buckets: usize,
    /// The sweep stopped at its limit; call it again.
    pub more: bool,
}

/// Deletes what has expired in `tenant`, at most about `limit` keys, oldest
/// buckets first. Concurrent sweeps may delete a key twice; the cursor only
/// moves forward.
pub fn sweep(env: &Env, tenant: &str, limit: usize) -> Result<Swept> {
    let now_bucket = env.now.div_euclid(BUCKET_MS);
    let start = Cursor {
        done: now_bucket - HORIZON_BUCKETS,
        within: 0,
    };
    storage::create_new(env, &cursor_key(tenant), "expiry-cursor", &start)?;
    let cursor = storage::read::<Cursor>(env.kv, &cursor_key(tenant))?
        .map(|r| r.data)
        .unwrap_or(start);
    let mut swept = Swept::default();
    let mut at = cursor.clone();
    // Bucket `b` holds what dies before hour `b` begins; it is swept an hour
    // after that, so a replica whose clock runs a little behind never
    // registers into a bucket already swept. The limit counts entries, and
    // the cursor keeps the place inside a bucket, so however large one
    // bucket grows, each sweep gets further.
    'buckets: for bucket in cursor.done + 1..now_bucket {
        let l = list(bucket);
        let len = storage::index_len(env.kv, tenant, &l)?;
        let mut from = if bucket == cursor.done + 1 {
            cursor.within + 1
        } else {
            1
        };
        while from <= len {
            if swept.deleted >= limit {
                swept.more = true;
                break 'buckets;
            }
            let to = len.min(from + 99);
            let entries =
                storage::index_range_str(env.kv, tenant, &l, from, (to - from + 1) as usize)?;
            for (_, names) in &entries {
                for key in names
                    .split('\n')
                    .filter(|k| k.starts_with(&format!("t/{tenant}/")))
                {
                    env.kv.delete(key)?;
                    swept.deleted += 1;
                }
            }
            for pos in from..=to {
                env.kv
                    .delete(&storage::keys::index_entry(tenant, &l, pos))?;
            }
            at = Cursor {
                done: bucket - 1,
                within: to,
            };
            from = to + 1;
        }
        // Reading a counter creates it (as 0): it goes whatever it held.
        env.kv.delete(&storage::keys::index_counter(tenant, &l))?;
        swept.buckets += 1;
        at = Cursor {
            done: bucket,
            within: 0,
        };
    }
    if at != cursor {
        let op = format!("expiry-cursor/{}/{}/{}", at.done, at.within, env.now);
        storage::update_if::<Cursor, _>(env, &cursor_key(tenant), &op, |c| {
            // Only ever forward: a slower sweep cannot move it back.
            if (c.done, c.within) >= (at.done, at.within) {
                return Ok(false);
            }
            *c = at.clone();
            Ok(true)
        })?;
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::be::kv::{Kv as _, MemKv};

    fn env(kv: &MemKv, now: Millis) -> Env<'_> {
        Env {
            kv,
            now,
            random: Box::leak(Box::new(|| [4u8; 16])),
            pause: &|_| {},
            correlation: None,
        }
    }

    #[test]
    fn what_expired_goes_and_the_store_returns_to_its_size() {
        let kv = MemKv::new();
        let now = 1_800_000_000_000;
        let e = env(&kv, now);
        sweep(&e, "t", 100).unwrap();
        let baseline = kv.dump().len();
        for i in 0..30 {
            let k = format!("t/t/thing/{i}");
            kv.set(&k, b"x").unwrap();
            expire_at(&e, "t", now + (i % 3) * BUCKET_MS, &[k]).unwrap();
        }
        // Nothing is due yet.
        assert_eq!(sweep(&e, "t", 100).unwrap().deleted, 0);
        let later = env(&kv, now + 5 * BUCKET_MS);
        let swept = sweep(&later, "t", 1_000).unwrap();
        assert_eq!((swept.deleted, swept.more), (30, false));
        assert_eq!(kv.dump().len(), baseline, "only the cursor is left");
        // A bucket larger than one sweep's limit is swept in steps.
        for i in 0..250 {
            let k = format!("t/t/many/{i}");
            kv.set(&k, b"x").unwrap();
            expire_at(&later, "t", now + 5 * BUCKET_MS, &[k]).unwrap();
        }
        let step = env(&kv, now + 7 * BUCKET_MS);
        let mut total = 0;
        loop {
            let s = sweep(&step, "t", 100).unwrap();
            total += s.deleted;
            if !s.more {
                break;
            }
        }
        assert_eq!(total, 250);
        assert_eq!(kv.dump().len(), baseline);
        // Another tenant's keys are never deleted by this one's sweep.
        kv.set("t/u/x", b"x").unwrap();
        expire_at(&later, "t", now + 8 * BUCKET_MS, &["t/u/x".into()]).unwrap();
        let swept = sweep(&env(&kv, now + 11 * BUCKET_MS), "t", 1_000).unwrap();
        assert_eq!(swept.buckets, 4);
        assert_eq!(swept.deleted, 0);
        assert!(kv.get("t/u/x").unwrap().is_some());
    }
}
