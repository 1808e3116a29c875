//! Faults a test switches on, traps, the test clock and captured output.

use std::sync::atomic::Ordering;
use std::time::Duration;

use onboard_test_host::{FaultAction, FaultRule, Op, Request};

use crate::support::probe_host;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_can_report_failure_after_writing_like_redis() {
    let host = probe_host();
    host.kv
        .faults
        .swap_fails_after_write
        .store(true, Ordering::Relaxed);
    host.send(Request::get("/probe?op=set&key=k&value=a")).await;
    let r = host
        .send(Request::get("/probe?op=cas-update&key=k&value=b"))
        .await;
    assert_eq!(r.json()["result"], "cas-failed");
    assert_eq!(
        host.kv.dump("default"),
        vec![("k".to_string(), b"b".to_vec())]
    );
    let r = host
        .send(Request::get("/probe?op=cas-insert&key=new&value=n"))
        .await;
    assert_eq!(r.json()["result"], "cas-failed");
    assert_eq!(host.kv.get("default", "new").unwrap(), Some(b"n".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_call_changes_nothing() {
    let host = probe_host();
    host.kv.faults.add_rule(
        FaultRule::new(FaultAction::Fail)
            .on(Op::Set)
            .key_contains("k"),
    );
    let r = host.send(Request::get("/probe?op=set&key=k&value=a")).await;
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("injected failure"),
        "{}",
        r.text()
    );
    assert!(host.kv.dump("default").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_reply_writes_but_reports_failure() {
    let host = probe_host();
    host.kv
        .faults
        .add_rule(FaultRule::new(FaultAction::LoseReply).on(Op::Increment));
    let r = host.send(Request::get("/probe?op=incr&key=c")).await;
    assert!(r.json()["error"].as_str().unwrap().contains("lost reply"));
    let r = host.send(Request::get("/probe?op=incr&key=c")).await;
    assert_eq!(r.json()["value"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_lets_the_first_calls_through() {
    let host = probe_host();
    host.kv.faults.add_rule(
        FaultRule::new(FaultAction::Fail)
            .on(Op::Increment)
            .skip(2)
            .times(1),
    );
    let values: Vec<_> = [0, 1, 2, 3]
        .iter()
        .map(|_| Request::get("/probe?op=incr&key=c"))
        .collect();
    let mut out = Vec::new();
    for req in values {
        out.push(host.send(req).await.json());
    }
    assert_eq!(out[0]["value"], 1);
    assert_eq!(out[1]["value"], 2);
    assert!(out[2]["error"].is_string());
    assert_eq!(out[3]["value"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_in_a_call_and_a_panic_are_500_with_empty_body() {
    let host = probe_host();
    let r = host.send(Request::get("/probe?op=trap")).await;
    assert_eq!((r.status, r.body.len()), (500, 0));
    assert!(r.stderr.contains("probe was asked to trap"), "{}", r.stderr);

    host.kv
        .faults
        .add_rule(FaultRule::new(FaultAction::Crash).on(Op::Set));
    let r = host.send(Request::get("/probe?op=set&key=k&value=v")).await;
    assert_eq!((r.status, r.body.len()), (500, 0));
    assert!(host.kv.dump("default").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_moves_when_the_test_says() {
    let host = probe_host();
    let before = host.send(Request::get("/probe?op=time")).await.json()["unix"]
        .as_u64()
        .unwrap();
    host.clock.advance(Duration::from_secs(86_400));
    let after = host.send(Request::get("/probe?op=time")).await.json()["unix"]
        .as_u64()
        .unwrap();
    assert!(
        (86_400..86_400 + 5).contains(&(after - before)),
        "{before} -> {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_and_stderr_are_captured_per_request() {
    let host = probe_host();
    let r = host.send(Request::get("/probe?op=log")).await;
    assert_eq!(r.stdout, "probe says hello on stdout\n");
    assert!(r.stderr.starts_with("probe says hello on stderr\n"));
    let r = host.send(Request::get("/probe")).await;
    assert_eq!(r.stdout, "");
}
