"""An adapter that lets WebAssembly/wasi-testsuite's own runner drive agentsync.

    python3 test-runner/wasi_test_runner.py \
        -t tests/c/testsuite tests/rust/testsuite tests/assemblyscript/testsuite \
           tests/proposals/wasi-threads \
        -r /path/to/agentsync/crates/agentsync-cli/conformance/wasi_testsuite_adapter.py

The `agentsync` binary is taken from $AGENTSYNC (split as a shell would), else from the
PATH. The runner has had two adapter interfaces; this file serves both:

- a module with get_name(), get_version(), get_wasi_versions() and compute_argv(...), which
  newer runners import;
- a script taking --version, --test-file, --arg, --env and --dir, which older runners run.

agentsync needs no flag for threads: a module that imports wasi.thread-spawn gets it.
`agentsync conformance --suites DIR` runs the same tests without Python (see README).
"""

import os
import shlex
import subprocess
import sys

AGENTSYNC = shlex.split(os.getenv("AGENTSYNC", "agentsync"))


def get_name():
    return "agentsync"


def get_version():
    out = subprocess.run(AGENTSYNC + ["--version"], capture_output=True, text=True, check=True)
    # "agentsync 0.1.0"
    return out.stdout.split()[-1]


def get_wasi_versions():
    return ["wasm32-wasip1"]


def get_wasi_worlds():
    return ["wasi:cli/command"]


def compute_argv(test_path, args, env, dirs, *_rest):
    """The command line that runs one test: `dirs` are (host, guest) pairs or plain paths."""
    argv = AGENTSYNC + ["wasm", "run"]
    for name, value in sorted(dict(env).items()):
        argv += ["--env", f"{name}={value}"]
    for entry in dirs:
        if isinstance(entry, (tuple, list)):
            host, guest = entry
        else:
            host, guest = entry, os.path.basename(str(entry))
        argv += ["--dir", f"{host}::{guest}"]
    # Everything after `--` is the program's, whatever it looks like.
    argv += [str(test_path), "--"] + [str(a) for a in args]
    return argv


def _main(argv):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--version", action="store_true")
    parser.add_argument("--test-file")
    parser.add_argument("--arg", action="append", default=[])
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--dir", action="append", default=[])
    options = parser.parse_args(argv)
    if options.version:
        print(f"{get_name()} {get_version()}")
        return 0
    env = dict(item.split("=", 1) for item in options.env)
    dirs = [(d, os.path.basename(d.rstrip("/"))) for d in options.dir]
    return subprocess.run(compute_argv(options.test_file, options.arg, env, dirs)).returncode


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
