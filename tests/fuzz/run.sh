#!/usr/bin/env bash
# make fuzz: builds each tests/fuzz/fuzz_*.c with libFuzzer against the
# sanitizer-built libraries in build/fuzz/ and runs it for FUZZ_SECONDS,
# one target at a time. Seeds: tests/data/fuzz/<name>/ (committed, a few
# small files). The corpus a run grows goes to tests/fuzz/corpus-<name>/
# (git-ignored; kept between runs so fuzzing resumes where it stopped).
# Dictionary: tests/fuzz/json.dict + tests/fuzz/ketenhub.dict. Crash, leak
# and timeout inputs: build/fuzz/artifacts/<name>/. Regression inputs
# (tests/data/fuzz/regress-<name>/, committed) are replayed first.
#
#   FUZZ_SECONDS=30        seconds per target
#   FUZZ_TARGETS="a b"     only these targets (default: every fuzz_*.c)
#
# Prints one summary line per target and exits 1 if any target crashed
# (its log's tail is printed) or did not build.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-30}
cflags=(-std=c11 -D_DEFAULT_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=all -I. -Ilib -Ihub -Iadapters/common)
libs=(build/fuzz/libhub.a build/fuzz/libketen.a
      $(pkg-config --libs libzmq jansson sqlite3 libsodium libpcre2-8 libcurl) -lm -pthread)
export KETENHUB_SCHEMAS=$PWD/schemas KETENHUB_EXAMPLE=$PWD/config/ketenhub.example.json
mkdir -p build/fuzz
cat tests/fuzz/json.dict tests/fuzz/ketenhub.dict >build/fuzz/fuzz.dict

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
    for t in $FUZZ_TARGETS; do targets+=("tests/fuzz/$t.c"); done
else
    targets=(tests/fuzz/fuzz_*.c)
fi

rc=0
summary=()
for src in "${targets[@]}"; do
    name=$(basename "$src" .c)
    # A target may need a library beyond the hub's (an adapter's mapping):
    # a line "// fuzz-libs: build/fuzz/libadapter.a" in its source says so.
    extra=$(sed -n 's|^// fuzz-libs: ||p' "$src")
    # shellcheck disable=SC2086
    if ! clang "${cflags[@]}" $(pkg-config --cflags jansson libzmq) "$src" $extra "${libs[@]}" \
            -o "build/fuzz/$name" 2>"build/fuzz/$name.build.log"; then
        cat "build/fuzz/$name.build.log"
        summary+=("$(printf '%-26s %12s %9s %12s %8s %s' "$name" "-" "-" "-" "-" "BUILD FAILED")")
        rc=1
        continue
    fi
    corpus=tests/fuzz/corpus-$name
    artifacts=build/fuzz/artifacts/$name
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    [ -d "tests/data/fuzz/$name" ] && seeds=("tests/data/fuzz/$name")
    status=ok
    # Inputs that once crashed this target (tests/data/fuzz/regress-<name>/):
    # each is run once; any that crashes again fails the target.
    if [ -d "tests/data/fuzz/regress-$name" ]; then
        echo "== $name: replaying tests/data/fuzz/regress-$name"
        if ! "build/fuzz/$name" -runs=0 "tests/data/fuzz/regress-$name" \
                >"build/fuzz/$name.regress.log" 2>&1; then
            tail -n 40 "build/fuzz/$name.regress.log"
            summary+=("$(printf '%-26s %12s %9s %12s %8s %s' "$name" "-" "-" "-" "-" \
                "REGRESSION")")
            rc=1
            continue
        fi
    fi
    echo "== $name for ${secs}s"
    before=$(find "$artifacts" -type f | wc -l)
    if ! "build/fuzz/$name" -max_total_time="$secs" -max_len=65536 -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 -dict=build/fuzz/fuzz.dict \
            -artifact_prefix="$artifacts/" "$corpus" "${seeds[@]}" 2>"build/fuzz/$name.log"; then
        tail -n 40 "build/fuzz/$name.log"
        status=CRASHED
        rc=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build/fuzz/$name.log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "build/fuzz/$name.log" | tail -n1)
    # libFuzzer's corpus at the end (inputs/bytes), as its last status line
    # says; the folder may hold more files (earlier runs, inputs since made
    # redundant).
    size=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "build/fuzz/$name.log" | tail -n1 | cut -c7-)
    crashes=$(( $(find "$artifacts" -type f | wc -l) - before ))
    summary+=("$(printf '%-26s %12s %9s %12s %8s %s' "$name" "${execs:--}" "${rate:--}" \
        "${size:--}" "$crashes" "$status")")
done
echo
echo "fuzz summary: ${secs}s per target (clang libFuzzer, ASan + UBSan)"
printf '%-26s %12s %9s %12s %8s %s\n' target executions exec/s corpus crashes status
printf '%s\n' "${summary[@]}"
exit $rc
