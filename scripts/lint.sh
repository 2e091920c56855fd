#!/usr/bin/env bash
# make lint: formatting (clang-format --dry-run -Werror), clang-tidy and
# cppcheck over every C file of the project. Exit non-zero on any finding.
set -uo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null; git ls-files --others --exclude-standard '*.c' '*.h' 2>/dev/null)
mapfile -t cfiles < <(printf '%s\n' "${files[@]}" | grep '\.c$' | sort -u)
rc=0
echo "clang-format: ${#files[@]} files"
clang-format --dry-run -Werror "${files[@]}" || rc=1
cflags=(-std=c11 -D_DEFAULT_SOURCE -I. -Ilib -Ihub -Iadapters/common -Itests/unit $(pkg-config --cflags libzmq jansson sqlite3 libsodium libpcre2-8 libcurl libmicrohttpd))
echo "clang-tidy: ${#cfiles[@]} files"
# Left out as noise on this code base: sizeof-expression (flags the
# idiomatic `sizeof *p` for pointer-to-pointer) and not-null-terminated-result
# (flags memcpy into buffers terminated on the next line).
checks='-*,bugprone-*,clang-analyzer-*,cert-err34-c,misc-redundant-expression,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,-bugprone-assignment-in-if-condition,-bugprone-implicit-widening-of-multiplication-result,-bugprone-sizeof-expression,-bugprone-not-null-terminated-result'
# One file per clang-tidy run: clang-tidy 14 reports false "uninitialized
# va_list" findings when several translation units share one run.
out=$(printf '%s\n' "${cfiles[@]}" | xargs -P "$(nproc)" -I{} clang-tidy --quiet --checks="$checks" \
    --warnings-as-errors='*' {} -- "${cflags[@]}" 2>&1) || { echo "$out" | grep -v '^[0-9]* warnings generated' ; rc=1; }
echo "cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
    --inline-suppr --suppress=missingIncludeSystem -I lib -I hub -I adapters/common "${cfiles[@]}" || rc=1
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
