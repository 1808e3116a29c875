//! Property tests of the parsers every request goes through and of the
//! store's record codec: what is written reads back the same, and any input
//! at all gives a value or a clear error, never a panic (a panic in a
//! component is a trap, which Spin answers 500).

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::base::model::{Lifecycle, Profile, Role, User};
use crate::base::{time, validate};
use crate::be::kv::MemKv;
use crate::be::storage;
use crate::credential::secrets::{self, Keys};
use crate::idm::listing;

/// The field names of seeds 000 and 002 (and a stranger).
const CLONE_KEYS: &[&str] = &[
    "customer",
    "organization",
    "user",
    "email",
    "password",
    "password_confirmation",
    "plans",
    "plan",
    "start_date",
    "end_date",
    "interval",
    "organization_id",
    "first_name",
    "locale",
    "timezone",
    "confirmed",
    "groups",
    "id",
    "name",
    "current_password",
    "skip_reconfirmation",
    "x",
];

/// Any JSON value, a few levels deep, with the odd strings clients send.
fn any_json() -> impl Strategy<Value = Value> {
    json_with_keys(CLONE_KEYS)
}

/// An object whose members are named from `keys` (a family's field names),
/// with any JSON as their values, so a parser meets its own fields with
/// every type and value.
pub(crate) fn object_with_keys(
    keys: &'static [&'static str],
) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(
        prop::sample::select(keys).prop_map(String::from),
        json_with_keys(keys),
        0..12,
    )
    .prop_map(|m| m.into_iter().collect())
}

fn json_with_keys(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        prop::sample::select(vec![
            "",
            "2025-02-30",
            "9999-12-31T23:59:59Z",
            "0000-01-01",
            "a@b.c",
            "1e999",
            "\u{0}",
            "ＡＢＣ",
            "e\u{301}",
            "-1",
            "true",
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(keys).prop_map(String::from),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn user(email: String, first: Option<String>) -> User {
    User {
        id: uuid::Uuid::from_u128(7),
        number: Some(3),
        account_code: None,
        email,
        unconfirmed_email: None,
        reconfirmation: None,
        organization_id: uuid::Uuid::from_u128(8),
        role: Role::User,
        groups: Vec::new(),
        profile: Profile {
            first_name: first,
            ..Profile::default()
        },
        directory: Default::default(),
        confirmed: false,
        status: Lifecycle::Active,
        password_hash: None,
        auth_types: Vec::new(),
        access_token: None,
        sign_in_count: 0,
        last_sign_in_at: None,
        last_sign_in_ip: None,
        two_factor: None,
        invitation: None,
        credentials_valid_from: 0,
        moved_from: None,
        created_at: 1,
        updated_at: 2,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every instant of a four-digit year formats and parses back exactly.
    #[test]
    fn instants_round_trip(ms in time::MIN_MILLIS..=time::MAX_MILLIS) {
        prop_assert_eq!(time::parse_iso8601(&time::format_millis(ms)), Some(ms));
    }

    /// Offsets move the instant by exactly their amount.
    #[test]
    fn offsets_shift_the_instant(
        day in 0i64..100_000,
        h in 0i64..24, m in 0i64..60,
        sign in prop::bool::ANY, oh in 0i64..24, om in 0i64..60,
    ) {
        let base = day * 86_400_000 + (h * 60 + m) * 60_000;
        let date = time::format_date(base);
        let text = format!("{date}T{h:02}:{m:02}:00{}{oh:02}:{om:02}", if sign { '+' } else { '-' });
        let offset = (oh * 60 + om) * 60_000 * if sign { 1 } else { -1 };
        prop_assert_eq!(time::parse_iso8601(&text), Some(base - offset), "{}", text);
    }

    #[test]
    fn any_text_is_a_date_or_none(s in ".{0,64}") {
        let _ = time::parse_iso8601(&s);
        let _ = listing::relative_range(&s, 1_800_000_000_000);
    }

    /// An address that validates stays valid once normalized, and
    /// normalizing twice changes nothing.
    #[test]
    fn emails_normalize_stably(local in "[a-zA-Z0-9._%+-]{1,20}", domain in "[a-zA-Z0-9-]{1,20}\\.[a-z]{2,6}") {
        let email = format!("{local}@{domain}");
        let normalized = validate::normalize_email(&email);
        prop_assert_eq!(validate::normalize_email(&normalized), normalized.clone());
        if validate::email(&email).is_ok() {
            prop_assert!(validate::email(&normalized).is_ok());
        }
    }

    #[test]
    fn any_text_is_an_email_or_an_error(s in "\\PC{0,300}") {
        let _ = validate::email(&s);
        let _ = validate::locale(&s);
        let _ = validate::timezone(&s);
    }

    /// List parameters (filters, sorting, paging, windows): a query or a
    /// clear error, never a panic.
    #[test]
    fn any_list_query_parses_or_is_refused(
        parts in prop::collection::vec(
            (prop::sample::select(vec![
                "page", "per_page", "sort_by", "q[email]", "q[email_cont]", "q[created_at_gteq]",
                "q[created_at]", "q[", "filter", "search", "x",
            ]), "\\PC{0,20}"),
            0..6,
        )
    ) {
        let query: String = parts
            .iter()
            .map(|(k, v)| format!("{k}={}", form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
            .collect::<Vec<_>>()
            .join("&");
        if let Ok(q) = listing::parse(Some(&query), &["email", "first_name", "created_at"], 1_800_000_000_000) {
            prop_assert!(q.page >= 1);
        }
    }

    /// Seed 000's and seed 002's parsers: any JSON gives an input or field errors.
    #[test]
    fn clone_bodies_parse_or_name_their_fields(v in any_json()) {
        if let Value::Object(m) = &v {
            let _ = crate::families::clone::parse_create_customer(m);
            let _ = crate::families::clone::parse_user_change(m);
            let wrapped: Map<String, Value> = [("customer".to_string(), v.clone())].into_iter().collect();
            let _ = crate::families::clone::parse_create_customer(&wrapped);
            let user: Map<String, Value> = [("user".to_string(), v.clone())].into_iter().collect();
            let _ = crate::families::clone::parse_user_change(&user);
        }
    }

    /// Tokens: what is signed verifies; any other text is refused, never a panic.
    #[test]
    fn jwts_verify_only_as_signed(sub in "[a-z0-9-]{1,36}", garbage in "\\PC{0,200}", exp in 1i64..4_000_000_000) {
        let keys = Keys::parse("k1:property-test-key-0123456789");
        let claims: Map<String, Value> = [
            ("sub".to_string(), json!(sub)),
            ("aud".to_string(), json!("clone")),
            ("typ".to_string(), json!("session")),
            ("exp".to_string(), json!(exp)),
        ]
        .into_iter()
        .collect();
        let token = secrets::sign_jwt(&keys, &claims).expect("signed");
        let _ = secrets::verify_jwt(&keys, &token, "clone", "session", 0);
        prop_assert!(secrets::verify_jwt(&keys, &garbage, "clone", "session", 0).is_err());
        let mut tampered = token.clone();
        tampered.push('x');
        prop_assert!(secrets::verify_jwt(&keys, &tampered, "clone", "session", 0).is_err());
        let _ = Keys::parse(&garbage);
        let _ = crate::credential::password::HashParams::parse(&garbage);
        let _ = crate::credential::proxy::TrustedProxies::parse(&garbage);
    }

    /// The store's record codec: decode(encode(x)) == x.
    #[test]
    fn records_read_back_as_written(email in "\\PC{1,60}", first in prop::option::of("\\PC{0,60}")) {
        let kv = MemKv::new();
        let written = user(email, first);
        storage::write(&kv, "t/p/user/x", "op", &written).expect("written");
        let read = storage::read::<User>(&kv, "t/p/user/x").expect("read").expect("present");
        prop_assert_eq!(read.data, written);
    }

    /// Any bytes under a key decode to a record or a clear error.
    #[test]
    fn any_bytes_decode_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        use crate::be::kv::Kv as _;
        let kv = MemKv::new();
        kv.set("t/p/user/x", &bytes).expect("set");
        let _ = storage::read::<User>(&kv, "t/p/user/x");
        let _ = storage::read::<storage::Claim>(&kv, "t/p/user/x");
        let _ = storage::read::<storage::Operation>(&kv, "t/p/user/x");
    }
}
