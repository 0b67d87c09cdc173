#!/usr/bin/env bash
# The nightly regression run, in a fixed time budget (docs/nightly.md):
#
#   scripts/nightly.sh [--budget 30m] [--out DIR] [--seed N]
#
#   1. replay every report and regression on every backend (bpfdiff replay);
#   2. run each cargo-fuzz target on its persisted corpus for a slice of
#      the budget (scripts/fuzz.sh);
#   3. run a campaign over all tiers (--tier mix) with a date-derived seed
#      for most of what is left;
#   4. triage the campaign's saved cases and new fuzz crashes into report
#      folders (bpfdiff triage; DIR/reports starts as a copy of reports/);
#   5. write DIR/summary.md, summary.json, junit.xml (merged) and
#      campaign.html (bpfdiff html).
#
# DIR defaults to nightly/ and is emptied first. The budget (s, m or h;
# plain numbers are seconds) covers steps 1-5, not the release build before
# them. Exit codes: 0 clean; 1 a new finding (new report, fuzz crash) or a
# changed regression; 2 a harness error (a step that failed to run); 3 the
# run tested nothing somewhere (a backend could not run, zero programs or
# fuzz executions). Every step's status and log are in the summary.
set -uo pipefail

usage() {
    echo "usage: scripts/nightly.sh [--budget DURATION] [--out DIR] [--seed N]" >&2
    echo "  DURATION: N, Ns, Nm or Nh (default 30m)" >&2
    exit 2
}

budget_text=30m
out=nightly
seed=""
while [ $# -gt 0 ]; do
    case "$1" in
        --budget) [ $# -ge 2 ] || usage; budget_text=$2; shift 2 ;;
        --budget=*) budget_text=${1#--budget=}; shift ;;
        --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
        --seed) [ $# -ge 2 ] || usage; seed=$2; shift 2 ;;
        -h | --help) usage ;;
        *) echo "nightly.sh: unknown argument '$1'" >&2; usage ;;
    esac
done

seconds_of() {
    case "$1" in
        *[!0-9smh]* | '' | [smh]*) return 1 ;;
        *h) n=${1%h}; m=3600 ;;
        *m) n=${1%m}; m=60 ;;
        *s) n=${1%s}; m=1 ;;
        *) n=$1; m=1 ;;
    esac
    case "$n" in '' | *[!0-9]*) return 1 ;; esac
    echo $((10#$n * m))
}
budget=$(seconds_of "$budget_text") || {
    echo "nightly.sh: --budget '$budget_text' is not a duration (N, Ns, Nm, Nh)" >&2
    usage
}
if [ "$budget" -lt 60 ]; then
    echo "nightly.sh: --budget $budget_text is too short; at least 60 s" >&2
    exit 2
fi
seed=${seed:-$(date -u +%Y%m%d)}
case "$seed" in '' | *[!0-9]*) echo "nightly.sh: --seed must be a decimal number" >&2; exit 2 ;; esac

cd "$(dirname "$0")/.."
root=$(pwd)
if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
case "$out" in /*) ;; *) out="$root/$out" ;; esac
rm -rf "$out"
mkdir -p "$out/logs"
steps="$out/steps.tsv"
: >"$steps"
log() { printf 'nightly: %s\n' "$*" >&2; }

# record NAME STATUS EXIT SECONDS DETAIL: one line per step for the summary.
# STATUS: ok, finding, error, nothing-tested or skipped.
record() {
    local detail
    detail=$(printf '%s' "$5" | tr '\t\n' '  ')
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$detail" >>"$steps"
    log "$1: $2 (exit $3, $4 s) $detail"
}

finish() {
    local code=0
    if ! python3 "$root/scripts/nightly_summary.py" "$out" --seed "$seed" \
        --budget "$budget" >"$out/logs/summary.log" 2>&1; then
        log "writing the summary failed:"
        cat "$out/logs/summary.log" >&2
        exit 2
    fi
    cat "$out/summary.md"
    code=$(cat "$out/exit_code")
    log "exit $code (summary: $out/summary.md)"
    exit "$code"
}

# --- build (outside the budget) -------------------------------------------
log "building (release)"
if ! cargo build --release --bins >"$out/logs/build.log" 2>&1; then
    record build error 2 0 "cargo build --release --bins failed; see logs/build.log"
    finish
fi
# NIGHTLY_BPFDIFF replaces the binary (for testing this script).
bpfdiff="${NIGHTLY_BPFDIFF:-$root/target/release/bpfdiff}"
export BPFDIFF_WORKER="${BPFDIFF_WORKER:-$bpfdiff}"
# The fuzz targets too, as scripts/fuzz.sh will run them, so that their
# slices of the budget go to fuzzing, not to compiling.
fuzz_ready=no
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    fuzz_why="cargo +nightly fuzz is not installed: run scripts/setup.sh"
elif ! cargo +nightly fuzz build ${FUZZ_SANITIZER:+--sanitizer "$FUZZ_SANITIZER"} \
    >"$out/logs/build-fuzz.log" 2>&1; then
    fuzz_why="cargo fuzz build failed; see logs/build-fuzz.log"
else
    fuzz_ready=yes
fi

start=$(date +%s)
deadline=$((start + budget))
now() { date +%s; }
left() { echo $((deadline - $(now))); }
log "budget ${budget} s, seed $seed, output $out"

# --- 1. replay --------------------------------------------------------------
t0=$(now)
"$bpfdiff" replay --json --junit "$out/replay-junit.xml" >"$out/replay.json" 2>"$out/logs/replay.log"
rc=$?
dt=$(($(now) - t0))
case $rc in
    0) record replay ok $rc $dt "every case ran as recorded" ;;
    1) record replay finding $rc $dt "a case changed, or a case recorded as fixed diverges again" ;;
    4) record replay finding $rc $dt "a recorded divergence no longer happens: update its record" ;;
    3) record replay nothing-tested $rc $dt "no case could run" ;;
    *) record replay error $rc $dt "bpfdiff replay failed; see logs/replay.log" ;;
esac

# --- 2. fuzz targets --------------------------------------------------------
targets=(diff interp_vs_jit kernel parsers)
fuzz_total=$((budget * 30 / 100))
slice=$((fuzz_total / ${#targets[@]}))
[ "$slice" -ge 5 ] || slice=5
mkdir -p "$out/fuzz-artifacts"
if [ "$fuzz_ready" != yes ]; then
    record fuzz error 2 0 "$fuzz_why"
else
    for t in "${targets[@]}"; do
        t0=$(now)
        art="fuzz/artifacts/$t"
        mkdir -p "$art"
        ls -1 "$art" | sort >"$out/logs/fuzz-$t.before"
        # fuzz.sh reads the committed corpus (corpus/fuzz/$t) and writes new
        # inputs to fuzz/corpus/$t only. Passing a corpus folder after `--`
        # would put it before fuzz.sh's own, and libFuzzer writes new inputs
        # to the first folder it is given.
        # libFuzzer reads its whole corpus before -max_total_time counts, and
        # one slow input can hold it up: stop it (SIGINT, so that it prints
        # its final stats) when it runs 30 s past its slice.
        timeout --signal=INT --kill-after=10 $((slice + 30)) \
            env FUZZ_SANITIZER="${FUZZ_SANITIZER:-}" scripts/fuzz.sh "$t" "$slice" \
            >"$out/logs/fuzz-$t.out" 2>&1
        rc=$?
        dt=$(($(now) - t0))
        cp "fuzz/logs/$t.log" "$out/logs/fuzz-$t.log" 2>/dev/null || true
        # slow-unit-* files are libFuzzer's note of its slowest input, not a
        # finding; crash-, leak-, oom- and timeout- files are.
        new=$(ls -1 "$art" | grep -v '^slow-unit-' | sort | comm -13 "$out/logs/fuzz-$t.before" -)
        if [ -n "$new" ]; then
            mkdir -p "$out/fuzz-artifacts/$t"
            while IFS= read -r f; do cp "$art/$f" "$out/fuzz-artifacts/$t/"; done <<<"$new"
            record "fuzz $t" finding $rc $dt "$(wc -l <<<"$new") new crash file(s) in fuzz-artifacts/$t"
        elif [ $rc -ne 0 ]; then
            record "fuzz $t" error $rc $dt "scripts/fuzz.sh failed without a crash file; see logs/fuzz-$t.out"
        elif ! grep -qE '^#[0-9]+' "$out/logs/fuzz-$t.log" 2>/dev/null; then
            record "fuzz $t" nothing-tested $rc $dt "libFuzzer printed no status line: no input ran"
        else
            record "fuzz $t" ok $rc $dt "$(grep -E '^#[0-9]+' "$out/logs/fuzz-$t.log" | tail -n 1)"
        fi
    done
    # The committed corpora are read only: fuzzing that wrote into them
    # would leave unminimized inputs for the next commit.
    if git rev-parse --git-dir >/dev/null 2>&1; then
        touched=$(git status --porcelain -- corpus/fuzz corpus/seeds | wc -l)
        if [ "$touched" -ne 0 ]; then
            record "fuzz corpus" error 0 0 "fuzzing changed $touched file(s) under corpus/fuzz or corpus/seeds (git status)"
        fi
    fi
fi

# --- 3. campaign ------------------------------------------------------------
reserve=$((budget / 10))
[ "$reserve" -ge 20 ] || reserve=20
duration=$(($(left) - reserve))
t0=$(now)
if [ "$duration" -lt 5 ]; then
    record campaign error 0 0 "no budget left for the campaign (${duration} s after the reserve)"
else
    # NIGHTLY_CAMPAIGN_ARGS adds flags (e.g. --backends, --jobs).
    # shellcheck disable=SC2086
    "$bpfdiff" campaign --tier mix --seed "$seed" --duration "${duration}s" \
        --save "$out/campaign-cases" --json "$out/campaign.json" \
        --junit "$out/campaign-junit.xml" ${NIGHTLY_CAMPAIGN_ARGS:-} \
        >"$out/logs/campaign.out" 2>"$out/logs/campaign.log"
    rc=$?
    dt=$(($(now) - t0))
    case $rc in
        0) record campaign ok $rc $dt "no new divergence" ;;
        1) record campaign ok $rc $dt "new divergences; triage decides which are new findings" ;;
        3) record campaign nothing-tested $rc $dt "a backend ran none of the programs, or nothing was compared; see logs/campaign.log" ;;
        *)
            why=$(grep -m 1 -i 'error' "$out/logs/campaign.log" || tail -n 1 "$out/logs/campaign.log")
            record campaign error $rc $dt "bpfdiff campaign failed: $why"
            ;;
    esac
    campaign_rc=$rc
fi

# --- 4. triage --------------------------------------------------------------
inputs=()
for d in "$out/campaign-cases" "$out/fuzz-artifacts"; do
    # Case files only: the campaign's save folder also holds its checkpoint.
    if [ -d "$d" ] && [ -n "$(find "$d" -type f ! -name campaign.checkpoint -print -quit)" ]; then
        inputs+=("$d")
    fi
done
t0=$(now)
if [ ${#inputs[@]} -eq 0 ]; then
    if [ "${campaign_rc:-0}" = 1 ]; then
        record triage error 0 0 "the campaign found new divergences but saved no case"
    else
        record triage ok 0 0 "nothing to triage"
    fi
else
    cp -r reports "$out/reports"
    grace=$(($(left) + 60))
    [ "$grace" -ge 60 ] || grace=60
    timeout "$grace" "$bpfdiff" triage "${inputs[@]}" --reports "$out/reports" --json \
        >"$out/triage.json" 2>"$out/logs/triage.log"
    rc=$?
    dt=$(($(now) - t0))
    if [ $rc -ne 0 ]; then
        why="exit $rc"
        [ $rc -eq 124 ] && why="out of time"
        record triage error $rc $dt "bpfdiff triage failed ($why); see logs/triage.log"
    else
        n=$(grep -c '"status": "new-report-written"' "$out/triage.json" || true)
        if [ "$n" -gt 0 ]; then
            record triage finding $rc $dt "$n new report(s) under reports/"
        else
            record triage ok $rc $dt "no new signature"
        fi
    fi
fi

# --- 5. page ----------------------------------------------------------------
if [ -f "$out/campaign.json" ]; then
    t0=$(now)
    "$bpfdiff" html "$out/campaign.json" -o "$out/campaign.html" 2>"$out/logs/html.log"
    rc=$?
    dt=$(($(now) - t0))
    if [ $rc -eq 0 ]; then
        record page ok 0 $dt "campaign.html"
    else
        record page error $rc $dt "bpfdiff html failed: $(tail -n 1 "$out/logs/html.log")"
    fi
else
    record page skipped 0 0 "no campaign summary to draw"
fi

finish
