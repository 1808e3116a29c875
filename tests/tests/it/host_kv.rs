//! Key-value semantics as Spin's providers have them: SQLite (`spin up`'s
//! default) and Redis (`ONBOARD_TEST_KV`), each as measured or read in Spin's
//! source (`shared/spin-facts.md`). Where the two differ, each test says what
//! each provider does.

use std::time::Duration;

use onboard_test_host::{Op, Provider, Request};

use crate::support::{concurrently, probe_host};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_interfaces_share_one_table() {
    let host = probe_host();
    let r = host
        .send(Request::get("/probe?op=set&key=k1&value=v1"))
        .await;
    assert_eq!(r.json()["ok"], true);
    let r = host.send(Request::get("/probe?op=wasi-get&key=k1")).await;
    assert_eq!(r.json()["value"], serde_json::json!(b"v1".to_vec()));
    assert_eq!(
        host.kv.dump("default"),
        vec![("k1".to_string(), b"v1".to_vec())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeclared_store_is_access_denied() {
    let host = probe_host();
    let r = host.send(Request::get("/bare?op=open")).await;
    assert_eq!(r.json()["spin"], "Error::AccessDenied");
    assert_eq!(r.json()["wasi"], "Error::AccessDenied");
    let r = host.send(Request::get("/probe?op=open&store=other")).await;
    assert_eq!(r.json()["spin"], "Error::AccessDenied");
    let r = host.send(Request::get("/probe?op=open")).await;
    assert_eq!(r.json()["spin"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_increments_return_exactly_1_to_20() {
    let host = probe_host();
    host.kv
        .faults
        .max_delay_micros
        .store(5_000, std::sync::atomic::Ordering::Relaxed);
    let responses = concurrently(&host, 20, |_| Request::get("/probe?op=incr&key=counter")).await;
    let mut values: Vec<i64> = responses
        .iter()
        .map(|r| r.json()["value"].as_i64().expect("a number"))
        .collect();
    values.sort();
    assert_eq!(values, (1..=20).collect::<Vec<_>>());
    // SQLite stores 8 little-endian bytes of an i64; Redis (`INCRBY`) decimal text.
    let stored = match host.kv.provider() {
        Provider::Sqlite => 20i64.to_le_bytes().to_vec(),
        Provider::Redis => b"20".to_vec(),
    };
    assert_eq!(
        host.kv.dump("default"),
        vec![("counter".to_string(), stored)]
    );
    assert!(
        host.max_concurrent_requests() > 1,
        "requests never overlapped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cas_insert_if_absent_all_report_the_same_as_on_spin() {
    let host = probe_host();
    // Every request reads (sees nothing) before any swaps, as when 8 land at once.
    host.kv
        .faults
        .pause_before(Op::Swap, Duration::from_millis(400));
    let responses = concurrently(&host, 8, |i| {
        Request::get(format!("/probe?op=cas-insert&key=claim&value=v{i}"))
    })
    .await;
    // SQLite: an insert whose current() saw nothing is an upsert, so all
    // eight "win". Redis: every swap reports failure, so all eight "lose".
    // Either way the answer says nothing about who holds the key.
    let expected = match host.kv.provider() {
        Provider::Sqlite => "swapped",
        Provider::Redis => "cas-failed",
    };
    for r in &responses {
        assert_eq!(r.json()["result"], expected, "{}", r.text());
    }
    assert!(host.max_concurrent_requests() >= 8);
    let stored = host.kv.dump("default");
    assert_eq!(stored.len(), 1);
    assert!(stored[0].1.starts_with(b"v"), "one of the eight values");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_on_a_seen_value_is_a_real_compare_and_swap() {
    let host = probe_host();
    host.send(Request::get("/probe?op=set&key=k&value=a")).await;
    let r = host
        .send(Request::get("/probe?op=cas-update&key=k&value=b"))
        .await;
    // Uncontended, SQLite swaps; Redis writes, then reports failure anyway.
    let uncontended = match host.kv.provider() {
        Provider::Sqlite => "swapped",
        Provider::Redis => "cas-failed",
    };
    assert_eq!(r.json()["result"], uncontended);
    assert_eq!(host.kv.get("default", "k").unwrap(), Some(b"b".to_vec()));
    // Another writer changes the value between current() and swap(): the swap loses.
    host.kv
        .faults
        .pause_before(Op::Swap, Duration::from_millis(300));
    let racing = {
        let host = host.clone();
        tokio::spawn(async move {
            host.send(Request::get("/probe?op=cas-update&key=k&value=c"))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    host.kv.set("default", "k", b"z").unwrap();
    let r = racing.await.unwrap();
    // Both lose here for real: SQLite's UPDATE matches no row, Redis's EXEC
    // is aborted by the WATCH.
    assert_eq!(r.json()["result"], "cas-failed");
    assert_eq!(
        host.kv.dump("default"),
        vec![("k".to_string(), b"z".to_vec())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_calls_and_counters() {
    let host = probe_host();
    let r = host.send(Request::get("/probe?op=batch&key=a,b")).await;
    match host.kv.provider() {
        Provider::Sqlite => {
            assert_eq!(r.json(), serde_json::json!({ "got": 2, "after": 1 }))
        }
        // Spin's Redis provider sends `KEYS a b`, which Redis refuses.
        Provider::Redis => {
            let refused = r.json()["got"].as_str().unwrap_or_default().to_string();
            assert!(
                refused.contains("wrong number of arguments"),
                "{}",
                r.text()
            );
            assert_eq!(r.json()["after"], r.json()["got"]);
        }
    }
    assert_eq!(r.kv.get(Op::SetMany), 1);
    assert_eq!(r.kv.get(Op::GetMany), 2);
    assert_eq!(r.kv.get(Op::DeleteMany), 1);
    assert_eq!(r.kv.total(), 4);
    // Either way the batch writes landed: `a` deleted, `b` kept.
    assert_eq!(
        host.kv.dump("default"),
        vec![("b".to_string(), b"b".to_vec())]
    );
    let r = host.send(Request::get("/probe?op=keys")).await;
    assert_eq!(r.json()["keys"], serde_json::json!(["b"]));
    assert_eq!(r.kv.get(Op::GetKeys), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_keys_are_recorded_not_refused() {
    let host = probe_host();
    let long = "k".repeat(300);
    let r = host
        .send(Request::get(format!("/probe?op=set&key={long}&value=v")))
        .await;
    assert_eq!(r.json()["ok"], true);
    assert_eq!(host.kv.faults.limit_violations().len(), 1);
}
