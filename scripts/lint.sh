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
cflags=(-std=c11 -D_DEFAULT_SOURCE -I. -Ilib -Ihub -Itests/unit $(pkg-config --cflags libzmq jansson sqlite3 libsodium libpcre2-8 libcurl))
echo "clang-tidy: ${#cfiles[@]} files"
checks='-*,bugprone-*,clang-analyzer-*,cert-err34-c,misc-redundant-expression,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,-bugprone-assignment-in-if-condition,-bugprone-implicit-widening-of-multiplication-result'
out=$(clang-tidy --quiet --checks="$checks" --warnings-as-errors='*' "${cfiles[@]}" -- "${cflags[@]}" 2>&1) || { echo "$out" | grep -v '^[0-9]* warnings generated' ; rc=1; }
echo "cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
    --inline-suppr --suppress=missingIncludeSystem -I lib -I hub "${cfiles[@]}" || rc=1
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
