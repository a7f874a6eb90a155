//! `agentsync tour`: the guide and the waitAsync proposal, live, one numbered step per idea.
//!
//! Each [`Step`] says what it shows, runs it, and checks its own result through [`Checks`]. The
//! tour exits non-zero if any check fails. Steps for later layers (the atomic toolbox, the
//! spinlock, the parking lock, each primitive, Wasm threads) are added by appending to
//! [`steps`]: write a `fn(&mut Checks) -> Result<(), String>` and list it in a new module's
//! `STEPS` slice.

mod futex_steps;
mod js_steps;
mod memory_steps;
mod sync_steps;
mod wasm_steps;

use std::fmt::{self, Debug};

use crate::{output, CliError};

/// One idea of the tour.
#[derive(Clone, Copy)]
pub struct Step {
    /// A short title: "the one-shot handoff".
    pub title: &'static str,
    /// One or two sentences: what the step shows and why it matters.
    pub what: &'static str,
    /// Runs the step, printing what happens and checking it. `Err` is a failure to even run
    /// (a thread could not start); it counts as a failed check.
    pub run: fn(&mut Checks) -> Result<(), String>,
}

/// Every step, in order. Later layers append their slices here.
pub fn steps() -> Vec<Step> {
    let mut all = Vec::new();
    all.extend_from_slice(memory_steps::STEPS);
    all.extend_from_slice(futex_steps::STEPS);
    all.extend_from_slice(sync_steps::STEPS);
    all.extend_from_slice(wasm_steps::STEPS);
    all.extend_from_slice(js_steps::STEPS);
    all
}

/// The checks of a tour: each prints a ✓ or ✗ line, failures are remembered.
#[derive(Debug, Default)]
pub struct Checks {
    passed: usize,
    failed: Vec<String>,
    step: String,
    /// The first line that could not be written; the tour stops after the step.
    unwritten: Option<CliError>,
}

impl Checks {
    /// Records and prints one check; returns `ok` so callers can stop early.
    pub fn check(&mut self, what: &str, ok: bool) -> bool {
        if ok {
            self.passed += 1;
            self.say(format_args!("  ✓ {what}"));
        } else {
            self.failed.push(format!("{}: {what}", self.step));
            self.say(format_args!("  ✗ {what}  <-- FAILED"));
        }
        ok
    }

    /// Prints one line of a step. The first write error is kept (later lines are dropped) and
    /// ends the tour once the step returns, so steps need not stop mid-way to handle it.
    pub fn say(&mut self, args: fmt::Arguments<'_>) {
        if self.unwritten.is_none() {
            self.unwritten = output::line(args).err();
        }
    }

    /// The write error [`say`](Self::say) kept, if any.
    fn unwritten(&mut self) -> Result<(), CliError> {
        self.unwritten.take().map_or(Ok(()), Err)
    }

    /// Checks `got == want`, printing both when they differ.
    pub fn equal<T: PartialEq + Debug>(&mut self, what: &str, got: T, want: T) -> bool {
        if got == want {
            self.check(&format!("{what}: {got:?}"), true)
        } else {
            self.check(&format!("{what}: got {got:?}, want {want:?}"), false)
        }
    }

    /// Checks that passed so far.
    pub fn passed(&self) -> usize {
        self.passed
    }

    /// Checks that failed so far, each prefixed with its step.
    pub fn failed(&self) -> &[String] {
        &self.failed
    }
}

/// `agentsync tour`.
pub fn run() -> Result<(), CliError> {
    let steps = steps();
    let mut checks = Checks::default();
    say!(
        "agentsync tour: {} steps, each run live and checked\n",
        steps.len()
    )?;
    for (index, step) in steps.iter().enumerate() {
        checks.step = format!("step {} ({})", index + 1, step.title);
        say!("[{}/{}] {}", index + 1, steps.len(), step.title)?;
        say!("  shows: {}", step.what)?;
        if let Err(error) = (step.run)(&mut checks) {
            checks.check(&format!("the step could not run: {error}"), false);
        }
        checks.unwritten()?;
        output::take_kept()?;
        say!()?;
    }
    if checks.failed.is_empty() {
        say!("tour: all {} checks passed", checks.passed)?;
        say!("next: `agentsync bench --quick` measures these against their peers; `agentsync stress --seconds 10` hammers them")?;
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "tour: {} of {} checks failed:\n  {}",
            checks.failed.len(),
            checks.failed.len() + checks.passed,
            checks.failed.join("\n  ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_is_remembered_with_its_step() {
        let mut checks = Checks {
            step: "step 9 (example)".into(),
            ..Checks::default()
        };
        assert!(checks.equal("two plus two", 2 + 2, 4));
        assert!(!checks.equal("wrong on purpose", 1, 2));
        assert_eq!(checks.passed(), 1);
        assert_eq!(checks.failed().len(), 1);
        assert!(checks.failed()[0].starts_with("step 9 (example): wrong on purpose"));
    }

    #[test]
    fn every_step_passes_its_own_checks() {
        for step in steps() {
            let mut checks = Checks::default();
            assert_eq!((step.run)(&mut checks), Ok(()), "{}", step.title);
            assert!(
                checks.failed().is_empty(),
                "{}: {:?}",
                step.title,
                checks.failed()
            );
            assert!(checks.passed() > 0, "{} checks nothing", step.title);
        }
    }
}
