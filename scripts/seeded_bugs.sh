#!/usr/bin/env bash
# Measures finding power the way the held-out check does: for each seeded
# bug (scripts/seeded_bugs/*.patch, one small patch against the engine), in a
# temporary git worktree of HEAD under /tmp, apply the patch, build
# bpfdiff in release mode, and run `bpfdiff campaign` (default tier mix,
# default backends, 2 jobs) with growing --programs until it reports a new
# divergence or a run takes longer than the budget. The tree you run it from
# is never changed; the worktree is removed at the end (also on failure).
#
#   scripts/seeded_bugs.sh [--budget SECONDS] [--jobs J] [PATCH...]
#
# Prints one Markdown table row per bug: found or not, the smallest
# --programs that found it, that run's wall time (an upper bound on the time
# of the first finding) and the first new divergence's signature.
# Exit 0 when every bug was found within the budget, 1 otherwise, 2 on a
# harness error (a patch that does not apply, a build that fails).
set -euo pipefail

budget=60
jobs=2
patches=()
while (($#)); do
    case "$1" in
        --budget) budget="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) patches+=("$1"); shift ;;
    esac
done
repo=$(git rev-parse --show-toplevel)
if ((${#patches[@]} == 0)); then
    patches=("$repo"/scripts/seeded_bugs/*.patch)
fi

work=$(mktemp -d /tmp/bpfdiff-seeded.XXXXXX)
tree="$work/tree"
# One target directory for every bug: only the engine and what depends on
# it are rebuilt per patch. Start it from this checkout's release build.
target="${SEEDED_TARGET:-/tmp/bpfdiff-seeded-target}"
cleanup() {
    git -C "$repo" worktree remove --force "$tree" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
git -C "$repo" worktree add --quiet --detach "$tree" HEAD
if [[ ! -d "$target/release" && -d "$repo/target/release" ]]; then
    mkdir -p "$target"
    cp -r "$repo/target/release" "$target/release"
fi

found_all=0
echo "| bug | found | programs | seconds | first new divergence |"
echo "|---|---|---|---|---|"
for patch in "${patches[@]}"; do
    name=$(basename "$patch" .patch)
    git -C "$tree" checkout --quiet -- .
    if ! git -C "$tree" apply "$patch"; then
        echo "seeded_bugs: $patch does not apply to HEAD" >&2
        exit 2
    fi
    if ! (cd "$tree" && CARGO_TARGET_DIR="$target" cargo build --quiet --release --bin bpfdiff) >"$work/build.log" 2>&1; then
        cat "$work/build.log" >&2
        echo "seeded_bugs: $name does not build" >&2
        exit 2
    fi
    result="| $name | no | - | - | - |"
    n=500
    last=0
    while :; do
        start=$(date +%s.%N)
        set +e
        "$target/release/bpfdiff" campaign --programs "$n" --jobs "$jobs" \
            --no-kernel-reasons >"$work/out.txt" 2>/dev/null
        code=$?
        set -e
        secs=$(echo "$(date +%s.%N) - $start" | bc)
        if ((code == 1)); then
            sig=$(grep -A1 '^new divergences' "$work/out.txt" | tail -1 | sed 's/^ *//; s/|/\\|/g' | cut -c1-90)
            result="| $name | yes | $n | $(printf '%.1f' "$secs") | $sig |"
            break
        elif ((code != 0)); then
            echo "seeded_bugs: $name: campaign exited $code" >&2
            cat "$work/out.txt" >&2
            exit 2
        fi
        ((last)) && break
        # Four times as many next time, but no more than fit the budget
        # at this run's rate; that run is the last.
        fit=$(echo "$n * $budget / $secs" | bc)
        n=$((n * 4))
        if ((n >= fit)); then
            n=$fit
            last=1
        fi
    done
    echo "$result"
    [[ "$result" == *"| no |"* ]] && found_all=1
done
git -C "$tree" checkout --quiet -- .
exit "$found_all"
