//! The Wasm demos of the tour and the ping-pong workloads of the bench (moved here from
//! agentsync-wasm, whose public API is for embedders): W12 through the host's async task, the
//! guide's lock in Wasm with exact totals, and the bench's round trips.

use agentsync::WaitResult;
use agentsync_cli::bench::wasm_pingpong::{pingpong, PingPong};
use agentsync_cli::wasm_demo;

#[test]
fn w12_host_async_task_awaits_a_guest_notify_without_helper_thread() {
    let demo = wasm_demo::async_notify_demo().unwrap();
    assert!(demo.was_async, "the wait was queued on the guest word");
    assert_eq!(demo.host_result, WaitResult::Ok);
    assert_eq!(demo.guest_notify_returned, 1);
    assert_eq!(demo.host_notify_returned, 1);
    assert_eq!(demo.guest_wait_code, 0);
    assert_eq!(demo.waiters_left, 0);
}

#[test]
fn lock_wat_four_guest_threads_and_one_host_thread_count_exactly() {
    let demo = wasm_demo::lock_demo(4, 1, 2_000).unwrap();
    assert_eq!(demo.spin_total, demo.expected, "{demo:?}");
    assert_eq!(demo.parking_total, demo.expected, "{demo:?}");
    assert_eq!(
        demo.guest_ok_waits + demo.host_ok_waits,
        demo.guest_woken + demo.host_woken,
        "every ok wait was paid for by exactly one notify: {demo:?}"
    );
    assert_eq!(demo.waiters_left, 0);
    assert!(demo.holds());
}

#[test]
fn pingpong_workloads_complete_their_round_trips() {
    for kind in [
        PingPong::GuestGuestAgentsync,
        PingPong::GuestGuestWasmtime,
        PingPong::HostGuest,
    ] {
        // Completing at all proves every wake-up arrived; the loops re-check the word.
        pingpong(kind, 200).unwrap();
    }
}

#[test]
fn tour_lines_report_exact_totals() {
    let lines = wasm_demo::tour_lines().unwrap();
    assert_eq!(lines.len(), 4);
    assert!(
        lines[0].contains("counter = 50000 (expected 50000)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("counter = 50000 (expected 50000)"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("result = ok"), "{}", lines[2]);
    assert!(lines[3].ends_with("wait returned 0"), "{}", lines[3]);
    for l in &lines {
        println!("{l}");
    }
}
