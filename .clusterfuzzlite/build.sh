#!/bin/bash -eu
# Builds every cargo-fuzz target in fuzz/ for ClusterFuzzLite and copies
# each binary to $OUT with its seed corpus (corpus/fuzz/<target>, else
# corpus/seeds/<target>, as <target>_seed_corpus.zip) and its libFuzzer
# dictionary when the repository has one (<target>.dict).
cd "$SRC/bpfdiff"
cargo fuzz build -O
release=fuzz/target/x86_64-unknown-linux-gnu/release
for target in $(cargo fuzz list); do
    cp "$release/$target" "$OUT/"
    seeds=corpus/fuzz/$target
    [ -d "$seeds" ] || seeds=corpus/seeds/$target
    if [ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ]; then
        (cd "$seeds" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
    fi
    for dict in "fuzz/$target.dict" "fuzz/dicts/$target.dict" "corpus/fuzz/$target.dict"; do
        if [ -f "$dict" ]; then
            cp "$dict" "$OUT/$target.dict"
            break
        fi
    done
done
