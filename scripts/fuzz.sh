#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, preset `fuzz`: clang, ASan + UBSan)
# and runs each for a bounded time:
#   scripts/fuzz.sh [seconds] [harness...]
# seconds: per harness (default 60); harnesses: names such as fuzz_rfbfilter
# (default: every fuzz/fuzz_*.cpp). Each run starts from the committed seeds
# (fuzz/corpus/<harness>, only read) plus what earlier runs found
# (build/fuzz/corpus/<harness>, kept between runs); a crash, leak, timeout or
# out-of-memory is saved to build/fuzz/artifacts/<harness>/ and fails the script.
# FUZZ_FLAGS adds libFuzzer flags (e.g. FUZZ_FLAGS=-max_len=65536).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
if [ $# -gt 0 ]; then
    harnesses=("$@")
else
    harnesses=()
    for f in fuzz/fuzz_*.cpp; do harnesses+=("$(basename "$f" .cpp)"); done
fi

echo "== building the fuzz harnesses (preset fuzz)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)"

# Sanitizer reports are fatal; LeakSanitizer runs at every input's end.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export QT_QPA_PLATFORM=offscreen

failed=()
for h in "${harnesses[@]}"; do
    bin=build/fuzz/fuzz/$h
    work=build/fuzz/corpus/$h
    artifacts=build/fuzz/artifacts/$h
    mkdir -p "$work" "$artifacts"
    echo "== $h: ${seconds}s"
    if ! "$bin" "$work" "fuzz/corpus/$h" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_FLAGS:-} \
        >"build/fuzz/$h.log" 2>&1; then
        tail -n 60 "build/fuzz/$h.log"
        failed+=("$h")
    else
        grep -a -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "build/fuzz/$h.log" | tr '\n' ' '
        echo
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "== fuzzing found problems in: ${failed[*]} (inputs in build/fuzz/artifacts/)" >&2
    exit 1
fi
echo "== fuzzing: no crash, leak or timeout in ${harnesses[*]}"
