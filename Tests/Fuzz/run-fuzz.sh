#!/usr/bin/env bash
# Fuzzes Poplar's parsers with libFuzzer (docs/fuzzing.md).
#
#   Tests/Fuzz/run-fuzz.sh [EXECUTIONS] [TARGET...]
#
# Builds PoplarFuzz once (release, -sanitize=fuzzer,address, -DFUZZING) into .build-fuzz/, then runs each target
# (default: all) for EXECUTIONS inputs (default 100000) on a working corpus .build-fuzz/corpus/<target>/ that starts
# as a copy of Tests/Fuzz/Corpus/<target>/ and keeps what libFuzzer adds across runs. Prints one line per target:
# executions, seconds, cov and ft (libFuzzer's coverage counters), corpus size, crashes. Crash inputs are written to
# .build-fuzz/crashes/<target>/; copy one into Tests/Fuzz/Crashes/<target>/ once its bug is fixed. Exits 1 on a crash.
#
# Environment: POPLAR_FUZZ_SECONDS caps each target's time (-max_total_time); POPLAR_FUZZ_CONFIG=debug builds
# without optimisation; POPLAR_FUZZ_JOBS build jobs (default 1); POPLAR_FUZZ_FRESH=1 starts from the seeds only.
set -uo pipefail
cd "$(dirname "$0")/../.."

runs="${1:-100000}"
[ $# -gt 0 ] && shift
all=(pop3 sasl smtp proxy netstring lineframer store config)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
config="${POPLAR_FUZZ_CONFIG:-release}"

max_len() {
  case "$1" in
    smtp) echo 65536 ;;       # DATA up to 64 KiB
    sasl|pop3) echo 12288 ;;  # SASL responses up to 4096 octets, a few lines
    store) echo 16384 ;;      # owner records are bounded at 4 KiB, node records are not
    netstring) echo 16384 ;;
    proxy) echo 2048 ;;       # v1 is 107 bytes, v2 address blocks up to 1024
    *) echo 8192 ;;
  esac
}

mkdir -p .build-fuzz
echo "== build PoplarFuzz ($config, -sanitize=fuzzer,address, -DFUZZING)" >&2
if ! nice -n 10 swift build -c "$config" -j "${POPLAR_FUZZ_JOBS:-1}" --product PoplarFuzz --build-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING >.build-fuzz/build.log 2>&1; then
  tail -30 .build-fuzz/build.log >&2
  echo "build failed (log: .build-fuzz/build.log)" >&2
  exit 2
fi

bin=".build-fuzz/$config/PoplarFuzz"

status=0
printf '%-11s %12s %8s %7s %7s %7s %8s\n' target executions seconds cov ft corpus crashes
for t in "${targets[@]}"; do
  seeds="Tests/Fuzz/Corpus/$t"
  [ -d "$seeds" ] || { echo "no such target: $t (targets: ${all[*]})" >&2; status=2; continue; }
  corpus=".build-fuzz/corpus/$t"
  crashes=".build-fuzz/crashes/$t"
  [ "${POPLAR_FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
  mkdir -p "$corpus" "$crashes"
  cp -n "$seeds"/* "$corpus"/ 2>/dev/null
  [ -d "Tests/Fuzz/Crashes/$t" ] && cp -n "Tests/Fuzz/Crashes/$t"/* "$corpus"/ 2>/dev/null
  log=".build-fuzz/$t.log"
  before=$(ls "$crashes" | wc -l)
  extra=()
  [ -n "${POPLAR_FUZZ_SECONDS:-}" ] && extra+=("-max_total_time=$POPLAR_FUZZ_SECONDS")
  start=$(date +%s.%N)
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 POPLAR_FUZZ_TARGET="$t" \
    nice -n 10 "$bin" -runs="$runs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "${extra[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | awk '{print $2}')
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | awk '{print $2}')
  after=$(ls "$crashes" | wc -l)
  found=$((after - before))
  [ $rc -ne 0 ] && [ $found -eq 0 ] && found=1
  printf '%-11s %12s %8.0f %7s %7s %7s %8s\n' "$t" "${execs:-?}" "$(echo "$end - $start" | bc)" "${cov:-?}" "${ft:-?}" \
    "$(ls "$corpus" | wc -l)" "$found"
  printf '%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$t" "${execs:-?}" "$(echo "$end - $start" | bc)" "${cov:-?}" \
    "${ft:-?}" "$found" "run-fuzz.sh $runs $t" >>.build-fuzz/results.tsv
  if [ $found -ne 0 ]; then
    status=1
    echo "   crash in $t: $(ls -t "$crashes" | head -1) (log: $log)" >&2
    grep -E 'Fatal error|ERROR: AddressSanitizer|deadly signal|SUMMARY' "$log" | head -3 >&2
  fi
done
exit $status
