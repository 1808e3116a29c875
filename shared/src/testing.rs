//! A tenant over the in-memory store, so a domain verb is checked without
//! a wasm build: `World::new().tenant()`, then the verbs through `env`.

use std::cell::Cell;

use crate::base::model::{Profile, Role};
use crate::base::time::Millis;
use crate::be::kv::MemKv;
use crate::be::storage::{Actor, Env};
use crate::credential::auth::Caller;
use crate::credential::identity::Config;
use crate::idm::admin::{self, NewAccount, NewTenant, TenantCreated};

pub const TENANT: &str = "t";
pub const OPERATOR: &str = "op@t.test";
pub const PASSWORD: &str = "operator-password-1";

pub fn config() -> Config {
    Config::from_vars(|name| match name {
        "token_keys" => Some("t1:unit-test-token-key-0123456789".into()),
        "password_hash_params" => Some("m=8,t=1,p=1".into()),
        _ => None,
    })
}

/// The store and a source of distinct random bytes.
#[derive(Default)]
pub struct World {
    pub kv: MemKv,
    drawn: Cell<u64>,
}

impl World {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` with an [`Env`] at instant `now`.
    pub fn at<R>(&self, now: Millis, f: impl FnOnce(&mut Env) -> R) -> R {
        let drawn = &self.drawn;
        let mut random = || {
            drawn.set(drawn.get() + 1);
            let mut bytes = [0x5a; 16];
            bytes[..8].copy_from_slice(&drawn.get().to_le_bytes());
            bytes
        };
        let mut env = Env {
            kv: &self.kv,
            now,
            random: &mut random,
            pause: &|_| {},
            correlation: None,
        };
        f(&mut env)
    }

    /// Tenant [`TENANT`] with its operator [`OPERATOR`].
    pub fn tenant(&self) -> TenantCreated {
        self.at(1_000, |env| {
            admin::create_tenant(
                env,
                &config(),
                &NewTenant {
                    id: TENANT.into(),
                    name: "Tenant".into(),
                    domains: vec!["t.test".into()],
                    operator: NewAccount {
                        email: OPERATOR.into(),
                        password: PASSWORD.into(),
                        role: Role::Operator,
                        organization_id: None,
                        profile: Profile::default(),
                    },
                },
            )
            .expect("a tenant")
        })
    }
}

/// The tenant's operator, as a platform tool acts.
pub fn operator() -> Caller {
    Caller::operator_of(
        TENANT,
        Actor {
            kind: "test".into(),
            id: "unit".into(),
        },
    )
}

/// The bytes of a base32 TOTP secret (RFC 4648, no padding).
pub fn base32_decode(text: &str) -> Vec<u8> {
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => continue,
        };
        value = (value << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}
