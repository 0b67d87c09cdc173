#!/usr/bin/env bash
# Runs one cargo-fuzz target for a while, from a fresh checkout.
#
#   scripts/fuzz.sh TARGET SECONDS [-- libFuzzer args]
#
# TARGET is diff, interp_vs_jit, kernel, parsers or verifier_soundness (see docs/fuzzing.md).
# New inputs go to fuzz/corpus/TARGET, crashes to fuzz/artifacts/TARGET,
# the libFuzzer log to fuzz/logs/TARGET.log (all three are not committed);
# corpus/fuzz/TARGET (the committed, minimized corpus) and corpus/seeds/TARGET
# are read, never written. fuzz/dict/TARGET.dict is the dictionary; -max_len
# is 1024 bytes for case targets and 4096 for parsers (later libFuzzer args
# override both). Installs cargo-fuzz and the
# nightly toolchain when they are missing. FUZZ_SANITIZER (default: cargo
# fuzz's, address) picks the sanitizer, e.g. FUZZ_SANITIZER=none.
set -euo pipefail

usage() {
    echo "usage: scripts/fuzz.sh TARGET SECONDS [-- libFuzzer args]" >&2
    echo "targets: diff interp_vs_jit kernel parsers verifier_soundness" >&2
    exit 2
}

[ $# -ge 2 ] || usage
target=$1
seconds=$2
shift 2
if [ $# -gt 0 ]; then
    [ "$1" = "--" ] || usage
    shift
fi
case "$target" in
    diff | interp_vs_jit | kernel | parsers | verifier_soundness) ;;
    *) echo "fuzz.sh: unknown target '$target'" >&2; usage ;;
esac
case "$seconds" in
    '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; usage ;;
esac

cd "$(dirname "$0")/.."
root=$(pwd)
if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: installing the nightly toolchain" >&2
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$target" = diff ]; then
    # rbpf runs in a worker process; a release bpfdiff without sanitizer
    # serves it (the fuzz binary could, but ASan would change its crashes).
    cargo build --release --bin bpfdiff
    export BPFDIFF_WORKER="${BPFDIFF_WORKER:-$root/target/release/bpfdiff}"
    # Cases reach rbpf only if the engine ends them within FUZZ_BUDGET
    # (4,096) insns, which a release rbpf runs in well under a millisecond
    # of CPU: a program still running after 20 ms of CPU time loops for
    # ever there (rbpf's own bugs), and costs 20 ms instead of a wall-clock
    # timeout. The wall-clock timeout stays, long, for a worker that is
    # not scheduled; it no longer needs to be short.
    export BPFDIFF_WORKER_CPU_MS="${BPFDIFF_WORKER_CPU_MS:-20}"
    export BPFDIFF_WORKER_TIMEOUT_MS="${BPFDIFF_WORKER_TIMEOUT_MS:-1000}"
fi
# The fuzz binaries have corpus/known-divergences.json built in (cargo fuzz
# rebuilds them when it changes); BPFDIFF_KNOWN adds an extra rules file.
# Naming the built-in file again would load every rule twice: each known
# difference would then match two rules and be recorded as ambiguous, at a
# cost on every diverging case.

sanitizer=()
if [ -n "${FUZZ_SANITIZER:-}" ]; then
    sanitizer=(--sanitizer "$FUZZ_SANITIZER")
fi

max_len=1024
[ "$target" = parsers ] && max_len=4096

mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target" fuzz/logs
log="fuzz/logs/$target.log"
status=0
cargo +nightly fuzz run "${sanitizer[@]}" "$target" \
    "fuzz/corpus/$target" "corpus/fuzz/$target" "corpus/seeds/$target" -- \
    -dict="fuzz/dict/$target.dict" -max_len="$max_len" \
    -max_total_time="$seconds" -print_final_stats=1 "$@" 2>&1 | tee "$log" || status=$?

# The last status line carries the speed: "#N DONE cov: … exec/s: E …".
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
echo "fuzz.sh: $target, ${seconds} s: ${last:-no status line}" >&2
if [ "$status" -ne 0 ]; then
    echo "fuzz.sh: $target stopped with status $status; see fuzz/artifacts/$target and $log" >&2
fi
exit "$status"
