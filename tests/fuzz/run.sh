#!/usr/bin/env bash
# make fuzz: builds each tests/fuzz/fuzz_*.c with libFuzzer against the
# sanitizer-built libraries in build/fuzz/ and runs it for FUZZ_SECONDS,
# starting from the seed corpus in tests/data/fuzz/<name>/ (if any); new
# corpus entries go to tests/fuzz/corpus-<name>/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-30}
cflags=(-std=c11 -D_DEFAULT_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=all -I. -Ilib -Ihub)
libs=(build/fuzz/libhub.a build/fuzz/libketen.a
      $(pkg-config --libs libzmq jansson sqlite3 libsodium libpcre2-8 libcurl) -lm)
export KETENHUB_SCHEMAS=$PWD/schemas
rc=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    clang "${cflags[@]}" $(pkg-config --cflags jansson libzmq) "$src" "${libs[@]}" -o "build/fuzz/$name"
    corpus=tests/fuzz/corpus-$name
    mkdir -p "$corpus"
    seeds=()
    [ -d "tests/data/fuzz/$name" ] && seeds=("tests/data/fuzz/$name")
    echo "== $name for ${secs}s"
    if ! "build/fuzz/$name" -max_total_time="$secs" -max_len=65536 -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 "$corpus" "${seeds[@]}" 2>"build/fuzz/$name.log"; then
        tail -n 40 "build/fuzz/$name.log"
        rc=1
    else
        grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "build/fuzz/$name.log" || true
    fi
done
exit $rc
