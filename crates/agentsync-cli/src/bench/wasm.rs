//! `wasm_pingpong` and `host_guest_pingpong`: wake-ups through the Wasm layer.
//!
//! Two Wasm threads bounce a word with `memory.atomic.wait32` / `notify`: rewritten onto
//! agentsync's futex (ours) beside wasmtime's own native wait/notify (the peer). And a host
//! thread and a guest thread doing the same across the boundary, beside two host threads on
//! agentsync alone (what crossing into Wasm costs).

use super::wasm_pingpong::{pingpong, PingPong};

use super::{ns_per, Config, Impl, Outcome, Sample, Scenario, AGENTSYNC};

fn round_trips(config: &Config) -> u32 {
    config.pick(20_000, 2_000)
}

fn measure(kind: PingPong, config: &Config) -> Result<Outcome, String> {
    let trips = round_trips(config);
    let elapsed = pingpong(kind, trips).map_err(|e| format!("{}: {e}", kind.label()))?;
    Ok(Outcome::Measured(Sample::new(ns_per(
        elapsed,
        trips as usize,
    ))))
}

/// The Wasm scenarios.
pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "wasm_pingpong",
        unit: "ns/round-trip",
        what: |_| {
            "two Wasm threads ping-pong through memory.atomic.wait32/notify: rewritten onto agentsync vs wasmtime's native".into()
        },
        impls: &[
            Impl {
                name: AGENTSYNC,
                run: |config| measure(PingPong::GuestGuestAgentsync, config),
            },
            Impl {
                name: "wasmtime",
                run: |config| measure(PingPong::GuestGuestWasmtime, config),
            },
        ],
    },
    Scenario {
        name: "host_guest_pingpong",
        unit: "ns/round-trip",
        what: |_| {
            "a host thread and a Wasm thread ping-pong on one guest word (agentsync only: no other runtime lets them share a queue)".into()
        },
        impls: &[Impl {
            name: AGENTSYNC,
            run: |config| measure(PingPong::HostGuest, config),
        }],
    },
];
