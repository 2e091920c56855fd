#!/usr/bin/env bash
# make bench: runs the benchmark programs with their defaults and prints, first,
# what machine and when, since every figure depends on both.
#   BIN=bin tests/bench/run.sh [extra bench_intake options, e.g. --seconds 10]
#   REFERRALS_OPTS="--seconds 10 --open 30000" passes options to bench_referrals.
#   ESCALATE_OPTS="--open 20000 --crisis 200 --seconds 10" passes options to
#   bench_escalate.
#   REPORT_OPTS="--signals 100000 --referrals 300000" passes options to
#   bench_report.
# All four benches run even if an earlier one reports a problem; the exit
# status is non-zero if any did.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
echo "== ketenhub benchmarks =="
echo "date:    $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "machine: $(nproc) CPUs online, ${cpu:-unknown CPU}, $(uname -sr)"
echo "disk:    $(df -hT /tmp | awk 'NR == 2 {print $1 " (" $2 ", " $3 ", " $6 " used)"}') for /tmp (the default; --dir moves the database)"
echo "command: $BIN/bench_intake $*"
echo
rc=0
"$BIN/bench_intake" "$@" || rc=$?
read -r -a referrals_opts <<< "${REFERRALS_OPTS:-}"
echo
echo "command: $BIN/bench_referrals ${REFERRALS_OPTS:-}"
echo
"$BIN/bench_referrals" ${referrals_opts[@]+"${referrals_opts[@]}"} || rc=$?
read -r -a escalate_opts <<< "${ESCALATE_OPTS:-}"
echo
echo "command: $BIN/bench_escalate ${ESCALATE_OPTS:-}"
echo
"$BIN/bench_escalate" ${escalate_opts[@]+"${escalate_opts[@]}"} || rc=$?
read -r -a report_opts <<< "${REPORT_OPTS:-}"
echo
echo "command: $BIN/bench_report ${REPORT_OPTS:-}"
echo
"$BIN/bench_report" ${report_opts[@]+"${report_opts[@]}"} || rc=$?
exit "$rc"
