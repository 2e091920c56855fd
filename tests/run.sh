#!/usr/bin/env bash
# Runs the unit test runners (build/unit/test_*) and the integration tests
# (tests/integration/NN_*.py, each against the real daemon), then prints one
# closing line "total: N passed, N failed". Exit 0 only when nothing failed.
#   tests/run.sh [unit|integration] [name-filter]
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
BIN=${BIN:-bin}
SHARED=${SHARED:-../shared}
export KETENHUB_BIN=$PWD/$BIN SHARED KETENHUB_ROOT=$PWD
what=${1:-all}
filter=${2:-}
passed=0
failed=0
failed_names=()

tally() { # name logfile rc
    local line p f
    line=$(grep -E '(^|: )[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(sed -E 's/.*(^|: )([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
        f=$(sed -E 's/.*(^|: )([0-9]+) passed, ([0-9]+) failed.*/\3/' <<<"$line")
    else
        p=0 f=1
    fi
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
        failed_names+=("$1")
        echo "---- $1 (exit $3) ----"
        tail -n 60 "$2"
    else
        echo "ok   $1: $p passed"
    fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ "$what" = all ] || [ "$what" = unit ]; then
    for t in "$O"/unit/test_*; do
        [ -x "$t" ] || continue
        [[ -z "$filter" || "$t" == *"$filter"* ]] || continue
        "$t" >"$log" 2>&1
        rc=$?
        tally "$(basename "$t")" "$log" $rc
    done
fi
if [ "$what" = all ] || [ "$what" = integration ]; then
    for t in tests/integration/[0-9][0-9]_*.py; do
        [ -f "$t" ] || continue
        [[ -z "$filter" || "$t" == *"$filter"* ]] || continue
        timeout 300 /usr/bin/python3 "$t" >"$log" 2>&1
        rc=$?
        tally "$(basename "$t")" "$log" $rc
    done
fi
[ ${#failed_names[@]} -eq 0 ] || echo "failed: ${failed_names[*]}"
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
