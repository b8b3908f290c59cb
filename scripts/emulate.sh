#!/usr/bin/env bash
# Runs a command against the emulated CUDA device (emu/: nvcc's PTX interpreted on the CPU,
# behind a libcuda.so that the unchanged host code loads), with the sanitizers on.
#
#   scripts/emulate.sh [--seed N] [--sms N] [--no-sanitize] [--] COMMAND [ARGS...]
#   scripts/emulate.sh target/release/mfcuda check
#   scripts/emulate.sh cargo test --release --test gpu
#
# --seed N       schedule-fuzz seed (default: $MFCUDA_EMU_SEED, else 0 = the plain order)
# --sms N        streaming multiprocessors the device reports (default: $MFCUDA_EMU_SMS, else 4)
# --no-sanitize  memcheck's bounds only; no initcheck, racecheck or barrier checks
#
# It builds the emulator (cargo build --release -p mfcuda-emu, in $CARGO_TARGET_DIR if set),
# copies it to <target>/emu/lib/libcuda.so (and libcuda.so.1), and runs COMMAND from the
# repository root with that folder first on LD_LIBRARY_PATH. COMMAND's exit code is passed through.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2; }

seed=${MFCUDA_EMU_SEED:-0}
sms=${MFCUDA_EMU_SMS:-4}
sanitize=${MFCUDA_EMU_SANITIZE:-1}
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) [ $# -ge 2 ] || usage; seed=$2; shift 2 ;;
        --seed=*) seed=${1#--seed=}; shift ;;
        --sms) [ $# -ge 2 ] || usage; sms=$2; shift 2 ;;
        --sms=*) sms=${1#--sms=}; shift ;;
        --no-sanitize) sanitize=0; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) echo "emulate.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || usage
for v in "$seed" "$sms"; do
    case "$v" in ''|*[!0-9]*) echo "emulate.sh: --seed and --sms take whole numbers, not '$v'" >&2; exit 2 ;; esac
done

target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
cargo build --quiet --release -p mfcuda-emu
lib="$target/emu/lib"
mkdir -p "$lib"
# Copy, then rename: a process still running the previous copy keeps its (unlinked) file.
cp "$target/release/libmfcuda_emu.so" "$lib/.libcuda.so.tmp"
mv -f "$lib/.libcuda.so.tmp" "$lib/libcuda.so"
ln -sf libcuda.so "$lib/libcuda.so.1"

if [ "$sanitize" = 0 ]; then checks="sanitizers off (bounds only)"; else checks="sanitizers on"; fi
echo "emulate.sh: emulated CUDA device: seed $seed, $sms SMs, $checks; running: $*" >&2
# MFCUDA_EMULATED tells the GPU tests that a GPU must open: on the emulator a refused
# module load is a failure, never a skip.
export MFCUDA_EMU_SEED=$seed MFCUDA_EMU_SMS=$sms MFCUDA_EMU_SANITIZE=$sanitize MFCUDA_EMULATED=1
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$@"
