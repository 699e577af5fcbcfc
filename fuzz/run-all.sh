#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30), after replaying the
# committed regression inputs, and exits non-zero if any target crashed,
# failed an assertion, hung or could not be built.
#
#   fuzz/run-all.sh 30          # what .ci/run does
#   fuzz/run-all.sh 600         # ten minutes each, one after the other
#
# Installs what it needs when missing: a nightly toolchain (minimal profile)
# and cargo-fuzz. Crashes land in fuzz/artifacts/<target>/; the corpus grows
# in fuzz/corpus/<target>/ (only the seed-* files there are committed).
set -uo pipefail
cd "$(dirname "$0")"
# cargo fuzz builds in fuzz/target; a target dir from the caller would mix
# instrumented and plain builds.
unset CARGO_TARGET_DIR

SECONDS_EACH="${1:-30}"
case "$SECONDS_EACH" in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS]  (a whole number of seconds per target)" >&2
    exit 2
    ;;
esac

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "==> installing a nightly toolchain (cargo fuzz needs it)"
    rustup toolchain install nightly --profile minimal || exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
fi

echo "==> building every target"
cargo +nightly fuzz build || exit 1

mapfile -t targets < <(cargo +nightly fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
    echo "no fuzz targets found" >&2
    exit 1
fi

passed=0
failed=0
failures=()

# Committed inputs that once broke something: each must pass now.
for t in "${targets[@]}"; do
    dir="regressions/$t"
    [ -d "$dir" ] || continue
    mapfile -t files < <(find "$dir" -type f ! -name '*.md' | sort)
    [ "${#files[@]}" -gt 0 ] || continue
    echo "==> $t: replaying ${#files[@]} regression input(s)"
    if cargo +nightly fuzz run "$t" "${files[@]}" >"/tmp/fuzz-regress-$t.log" 2>&1; then
        grep -E '^note: ' "/tmp/fuzz-regress-$t.log" || true
    else
        tail -n 40 "/tmp/fuzz-regress-$t.log"
        echo "FAILED: $t regression inputs (log /tmp/fuzz-regress-$t.log)"
        failed=$((failed + 1))
        failures+=("$t (regressions)")
    fi
done

for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "==> $t: fuzzing for ${SECONDS_EACH}s"
    log="/tmp/fuzz-$t.log"
    # -timeout: an input that runs 10 s is a hang, reported as a failure.
    cargo +nightly fuzz run "$t" -- \
        -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 >"$log" 2>&1
    status=$?
    # The last status line (cov/ft/corp/exec/s) and the final stats.
    grep -E '^#[0-9]+' "$log" | tail -n 1
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log"
    grep -E '^note: ' "$log" | sort -u
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$t")
        grep -E -B2 -A12 'panicked at|ERROR: libFuzzer|Test unit written' "$log" | head -n 60
        echo "FAILED: $t (exit $status; full log $log; inputs in fuzz/artifacts/$t/)"
    fi
done

if [ "${#failures[@]}" -gt 0 ]; then
    echo "==> failures: ${failures[*]}"
fi
echo "fuzz: $passed passed, $failed failed"
[ "${#failures[@]}" -eq 0 ]
