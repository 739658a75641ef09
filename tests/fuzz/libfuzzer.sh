#!/usr/bin/env bash
# Runs the gate's libFuzzer targets for a bounded time: builds
# tests/fuzz/fuzz_pgparse.c and fuzz_gate.c with clang and
# -fsanitize=fuzzer,address,undefined in a build directory of their own
# (the core and plugins with coverage, fuzzer-no-link), then runs each for
# DC_FUZZ_SECONDS (default 60) starting from its seed corpus. New inputs
# go to a scratch corpus in the build directory, never into the source
# tree. A crash, leak, sanitizer report or oracle failure fails the run and
# leaves the input under BUILD_DIR/artifacts/.
#
#   tests/fuzz/libfuzzer.sh [BUILD_DIR]      (default: ./build-libfuzzer)
#
# Exit 77 when clang is missing (the ctest registration checks first).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${1:-$ROOT/build-libfuzzer}
SECONDS_EACH=${DC_FUZZ_SECONDS:-60}
TARGETS=(pgparse gate)
CLANG=${DC_FUZZ_CC:-$(command -v clang || true)}

if [[ -z "$CLANG" ]]; then
    echo "libfuzzer: clang not found (scripts/setup installs it); skipping"
    exit 77
fi
if ! [[ "$SECONDS_EACH" =~ ^[1-9][0-9]*$ ]]; then
    echo "libfuzzer: DC_FUZZ_SECONDS must be a whole number of seconds, got '$SECONDS_EACH'" >&2
    exit 2
fi

echo "libfuzzer: building in $OUT with $CLANG"
cmake -S "$ROOT" -B "$OUT" -DCMAKE_C_COMPILER="$CLANG" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDC_FUZZ=ON -DDC_ASAN=ON -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >"$OUT.configure.log" 2>&1 ||
    { cat "$OUT.configure.log" >&2; exit 1; }
build=()
for t in "${TARGETS[@]}"; do build+=(--target "fuzz_$t"); done
cmake --build "$OUT" -j "${JOBS:-2}" "${build[@]}" --target connector-sqlite

mkdir -p "$OUT/artifacts"
export DC_SOURCE_DIR=$ROOT DC_BINARY_DIR=$OUT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${TARGETS[@]}"; do
    bin=$(find "$OUT" -type f -name "fuzz_$t" -perm -u+x | head -n 1)
    [[ -n "$bin" ]] || { echo "libfuzzer: fuzz_$t was not built" >&2; exit 1; }
    seeds=$ROOT/tests/fuzz/corpus/$t
    work=$OUT/corpus-$t
    mkdir -p "$work"
    echo "libfuzzer: fuzz_$t for ${SECONDS_EACH}s (seeds: $seeds)"
    if "$bin" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$OUT/artifacts/$t-" "$work" "$seeds" >"$OUT/fuzz_$t.log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$OUT/fuzz_$t.log" |
            sed "s/^/libfuzzer: fuzz_$t /" || true
    else
        status=1
        echo "libfuzzer: fuzz_$t FAILED; the input is under $OUT/artifacts/:" >&2
        grep -E 'ERROR|SUMMARY|fuzz_(pgparse|gate):|Test unit written' "$OUT/fuzz_$t.log" | head -20 >&2 || true
        tail -n 30 "$OUT/fuzz_$t.log" >&2
    fi
done
exit $status
