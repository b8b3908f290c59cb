#!/usr/bin/env bash
# Writes the output of a fixed list of mfcuda commands (CPU only) into a folder, with wall times,
# throughputs and memory figures masked, so that two builds can be compared with `diff -r`:
#
#   scripts/transcripts.sh target/release/mfcuda /tmp/before     # at the old commit
#   scripts/transcripts.sh target/release/mfcuda /tmp/after      # at the new one
#   diff -r /tmp/before /tmp/after
#
# A refactor must leave every file the same, except where the output improved on purpose.
set -u
bin=$(realpath "$1")
out=$2
rm -rf "$out"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$(dirname "$0")/.."

# Timings, rates and memory vary from run to run; everything else must not.
mask() {
    sed -E \
        -e 's/[0-9]+(\.[0-9]+)? ?(s|ms|µs|MB\/s|GB\/s|MB|MiB|it\/s)\b/<N> \2/g' \
        -e 's/[0-9]+(\.[0-9]+)?(k|M|G)?$/<N>/' \
        -e 's/"(seconds|train_seconds|load_seconds|[a-z_]*_ms|[a-z_]*per_s|[a-z_]*_mb|peak[a-z_]*)":[-0-9.e]+/"\1":<N>/g'
}
# name, command...: stdout and stderr (masked) and the exit code.
t() {
    local name=$1
    shift
    "$@" > "$tmp/o" 2> "$tmp/e"
    local rc=$?
    { mask < "$tmp/o"; echo "--- stderr"; mask < "$tmp/e"; echo "--- exit $rc"; } > "$out/$name.txt"
}
# The same, for commands whose table columns are all timings: only the first columns are kept.
tcols() {
    local name=$1
    shift
    "$@" > "$tmp/o" 2> "$tmp/e"
    local rc=$?
    { cut -c1-60 "$tmp/o" | mask; echo "--- stderr"; cut -c1-60 "$tmp/e" | mask; echo "--- exit $rc"; } > "$out/$name.txt"
}

t help "$bin" --help
for c in train split stats check bench summary predict plot recommend similar biases synth recipes; do
    t "help-$c" "$bin" "$c" --help
done
t recipes "$bin" recipes
for r in learner dot dotbias net sparse sparse-bf16; do
    t "train-$r" "$bin" train --recipe "$r" --device cpu --json
done
t train-dot-quiet "$bin" train --recipe dot --device cpu --epochs 1 --quiet
t train-overrides "$bin" train --recipe dotbias --device cpu --epochs 1 --lr 0.05 --factors 20 --batch-size 128
t train-diverge "$bin" train --recipe dot --device cpu --epochs 1 --lr 1000
t train-bad-recipe "$bin" train --recipe nope
t train-cuda "$bin" train --recipe dot --device cuda --epochs 1
t train-sparse-det "$bin" train --recipe sparse --device cuda --deterministic
t train-sparse-det-auto "$bin" train --recipe sparse --device auto --deterministic --epochs 1
t train-auto "$bin" train --recipe dot --epochs 1 --quiet
t train-missing-data "$bin" train --data /nonexistent.csv
for r in dotbias learner net sparse; do
    t "trace-$r" "$bin" train --recipe "$r" --trace --device cpu
done
t trace-auto "$bin" train --recipe dot --trace
t trace-cuda "$bin" train --recipe dot --trace --device cuda
t split-head bash -c "'$bin' split | head -n 5"
t split-count bash -c "'$bin' split --val-pct 0.1 --seed 7 | wc -l"
t stats "$bin" stats --top 5
t check-cpu "$bin" check --device cpu
t check "$bin" check
t check-cuda "$bin" check --device cuda
tcols bench-cpu "$bin" bench --device cpu --quick
t bench-cuda "$bin" bench --device cuda --quick
tcols bench-scale-cpu "$bin" bench --scale --device cpu --quick --epochs 1
t bench-scale-cuda "$bin" bench --scale --device cuda --quick --epochs 1
t synth "$bin" synth --users 10 --items 20 --ratings 50 --rank 3 --seed 5
t synth-file "$bin" synth --users 10 --items 20 --ratings 50 --out "$tmp/s.csv"
t synth-train "$bin" train --data "$tmp/s.csv" --recipe dotbias --device cpu --epochs 1
for r in dotbias net; do
    "$bin" train --recipe "$r" --device cpu --epochs 1 --quiet --save "$tmp/$r.safetensors" > /dev/null 2>&1
    t "summary-$r" "$bin" summary --model "$tmp/$r.safetensors"
    t "predict-$r" bash -c "'$bin' predict --model '$tmp/$r.safetensors' | head -n 5"
    t "recommend-$r" "$bin" recommend --model "$tmp/$r.safetensors" --user 1 -n 5
    t "similar-$r" "$bin" similar --model "$tmp/$r.safetensors" --movie 1 -n 5
    t "biases-$r" "$bin" biases --model "$tmp/$r.safetensors" -n 5
done
t plot "$bin" plot --model "$tmp/dotbias.safetensors" --out "$tmp/plots"
sed -i "s#$tmp#<TMP>#g" "$out"/*.txt
echo "transcripts: $(ls "$out" | wc -l) files in $out"
