#!/usr/bin/env bash
# run.sh [SECONDS] [TARGET...] - build the libFuzzer targets and run each
# one for SECONDS (default 30) on a corpus seeded from the test data.
#
# The fuzz tree is BUILD_DIR (default: build-fuzz at the top of the source
# tree), configured with clang and -DRELAY_FUZZ=ON. The corpus grows in
# BUILD_DIR/fuzz-corpus/<target>/ from one run to the next; an input that
# crashes, leaks, hangs or fails a check is saved as
# BUILD_DIR/fuzz-artifacts/<target>-crash-<sha1> (replay it with
# "BUILD_DIR/tests/fuzz/<target> FILE"). Exit status 1 when any target
# failed. See tests/fuzz/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
seconds=${1:-30}
shift || true
build=${BUILD_DIR:-$top/build-fuzz}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

case $seconds in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 64 ;;
esac

CC=clang CXX=clang++ cmake -S "$top" -B "$build" -DRELAY_FUZZ=ON -DRELAY_WITH_SERVER=ON -DRELAY_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz relay -j"$jobs" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    # Written by tests/fuzz/CMakeLists.txt: one target per line.
    mapfile -t targets <"$build/fuzz_targets.txt"
fi

corpus=$build/fuzz-corpus
artifacts=$build/fuzz-artifacts
logs=$build/fuzz-logs
mkdir -p "$corpus" "$artifacts" "$logs"
/usr/bin/python3 "$here/make_corpus.py" "$corpus" "$build/relay" >/dev/null

# The targets run in an empty directory: nothing they open can be a file
# of the tree by accident.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/$t
    [ -x "$bin" ] || { echo "$t: not built" >&2; failed+=("$t"); continue; }
    mkdir -p "$corpus/$t"
    log=$logs/$t.log
    start=$(date +%s)
    if (cd "$work" && "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$corpus/$t" >"$log" 2>&1); then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        printf '%-24s ok     %4ss  %10s runs  %s  corpus %s\n' "$t" "$(( $(date +%s) - start ))" \
            "${runs:-?}" "${cov:-cov: ?}" "$(ls "$corpus/$t" | wc -l)"
    else
        printf '%-24s FAILED (log: %s)\n' "$t" "$log"
        grep -E 'ERROR|fuzz check failed|SUMMARY|Test unit written|runtime error' "$log" | head -8 | sed 's/^/    /'
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each: no failure"
