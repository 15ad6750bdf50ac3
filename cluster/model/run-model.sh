#!/usr/bin/env bash
# Checks the mailbox lock model (lock.pml, docs/lock-protocol.md) with spin.  See README.md.
#
#   run-model.sh              the checks: safety (two configurations) and liveness.
#                             One PASS/FAIL line each; exits 1 if any fails (an error
#                             found, or the search incomplete: memory, depth).
#   run-model.sh --mutations  the model with one protocol step removed at a time: each
#                             mutation must be caught (spin finds a violation).  Prints
#                             the violated property and the trail; exits 1 if one is not.
#   run-model.sh --findings   replays three problems of the protocol as written in the doc
#                             (see README.md "Findings"); informational, exits 0 if they
#                             still reproduce.
#
# Environment: MODEL_MEMLIM_MB (default 3072) caps each verifier's memory; MODEL_JOBS
# (default 2 on two cores or more) sets how many verifiers run at once.
# Needs spin (6.5) and a C compiler (gcc, or $CC).  Works in a temporary directory.

set -u

here=$(cd "$(dirname "$0")" && pwd)
model=$here/lock.pml
memlim=${MODEL_MEMLIM_MB:-3072}
cc=${CC:-gcc}
mode=${1:-check}

case "$mode" in
  check|--mutations|--findings) ;;
  -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--mutations|--findings]" >&2; exit 2 ;;
esac

for tool in spin "$cc"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: $tool not found" >&2; exit 1; }
done
[ -f "$model" ] || { echo "FAIL: $model not found" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/lockmodel.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/lock.pml" || exit 1     # one snapshot of the model for every run below

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# build DIR "SPIN DEFINES" "CC FLAGS": spin -a and compile pan in DIR.
build() {
  local dir=$1 defs=$2 cflags=$3
  mkdir -p "$dir" && cp "$work/lock.pml" "$dir/lock.pml" || return 1
  (cd "$dir" && spin $defs -a lock.pml >spin.out 2>&1) || { cat "$dir/spin.out"; return 1; }
  (cd "$dir" && $cc -O2 -w -DMEMLIM="$memlim" $cflags -o pan pan.c >cc.out 2>&1) || { cat "$dir/cc.out"; return 1; }
}

# field DIR: parse DIR/pan.out into globals errs, states, incomplete, reason, elapsed.
field() {
  local out=$1/pan.out
  errs=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$out" | tail -1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | tail -1)
  elapsed=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$out" | tail -1)
  incomplete=0; reason=
  if grep -q "Search not completed" "$out"; then incomplete=1; reason="search not completed"; fi
  if grep -q "max search depth too small" "$out"; then incomplete=1; reason="max search depth too small"; fi
  if grep -qiE "out of memory|memory limit|reached -DMEMLIM" "$out"; then incomplete=1; reason="out of memory (MODEL_MEMLIM_MB=$memlim)"; fi
  [ -n "$errs" ] || { errs=; incomplete=1; reason=${reason:-"no verifier result"}; }
  [ -n "$states" ] || states="?"
  [ -n "$elapsed" ] || elapsed="?"
}

# The property a pan error message names.
property() {
  case "$1" in
    *"acceptance cycle"*)            echo "(c) liveness: the stopped holder's mailbox never becomes available" ;;
    *"holds[_pid]&&(wage[_pid]<"*)   echo "(a) two processes may delete at the same time" ;;
    *"!(((((_pid!=0)"*|*"!((((_pid!=0)"*) echo "(a) a delete or intent step issued while another process may delete" ;;
    *"lockName=="*)                  echo "exactly one lock name (a second name would be created)" ;;
    *"listedSince"*)                 echo "(b) a message listed after the intent was written is deleted by that intent" ;;
    *"assertion violated  !(intentPresent)"*) echo "(b) a session lists the mailbox while an intent is unfinished" ;;
    *"intentPresent&&"*)             echo "(b) a message no intent lists is deleted" ;;
    *"(intentSet&msgs)"*)            echo "(b) an intent removed before all its messages are deleted" ;;
    *"assertion violated intentPresent"*) echo "(b) an intent finished (removed) twice" ;;
    *"(holds[(1-"*|*"holds[0]&&(((lockCont"*) echo "a late heartbeat write lands on the record of another session holding the lock" ;;
    *"gr!=0"*|*"REFN"*)              echo "model bound exceeded (record or nonce pool): enlarge K or NN" ;;
    *)                               echo "$1" ;;
  esac
}

# trail DIR: the annotated trail of DIR/lock.pml.trail (replayed by the verifier that
# found it: the model's canon() is C, which spin -t would not run), ticks folded.
trail() {
  (cd "$1" && ./pan -r -n 2>/dev/null) \
    | grep -E '^(p[0-9]|env:)' \
    | awk 'function flush() { if (n > 1) printf "      %s  (x%d)\n", prev, n; else if (n == 1) printf "      %s\n", prev }
           { if ($0 == prev && $0 ~ /^env: tick/) { n++; next } flush(); prev = $0; n = 1 }
           END { flush() }'
}

status=0

# ----------------------------------------------------------------- checks
# Each: name | spin defines | compile flags | pan flags
checks=(
  "safety (2 messages, heartbeat caller waits)||-DSAFETY|-m5000000 -w25"
  "safety (1 message, heartbeat write may time out)|-DH2_TIMEOUT -DNM=1|-DSAFETY|-m5000000 -w25"
  "liveness (process 0 stops, process 1 gets the lock)|-DLIVENESS -DNM=1||-a -f -m5000000 -w25"
)

# run_check DIR DEFS CFLAGS PFLAGS: build and verify; the wall time goes to DIR/wall.
run_check() {
  local dir=$1 defs=$2 cflags=$3 pflags=$4 t0 t1
  build "$dir" "$defs" "$cflags" >"$dir.build" 2>&1 || { echo failed >"$dir.nobuild"; return; }
  t0=$(now)
  (cd "$dir" && ./pan $pflags >pan.out 2>&1)
  t1=$(now)
  secs "$t0" "$t1" >"$dir/wall"
}

if [ "$mode" = check ]; then
  # Two verifiers at a time where there are two cores (MODEL_JOBS overrides).
  jobs=${MODEL_JOBS:-$( [ "$(nproc 2>/dev/null || echo 1)" -ge 2 ] && echo 2 || echo 1 )}
  echo "spin model: $model"
  echo "  (L=4, W=2 ticks; 2 session processes; crash before any step, lost rename replies, late heartbeat writes; $jobs at a time)"
  t_all=$(now)
  i=0; running=0
  for c in "${checks[@]}"; do
    IFS='|' read -r name defs cflags pflags <<<"$c"
    i=$((i + 1))
    run_check "$work/check$i" "$defs" "$cflags" "$pflags" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n 2>/dev/null || wait; running=$((running - 1)); fi
  done
  wait
  i=0
  for c in "${checks[@]}"; do
    IFS='|' read -r name defs cflags pflags <<<"$c"
    i=$((i + 1))
    if [ -f "$work/check$i.nobuild" ]; then
      echo "FAIL  $name: could not build the verifier"; sed 's/^/      /' "$work/check$i.build"; status=1; continue
    fi
    field "$work/check$i"
    wall=$(cat "$work/check$i/wall" 2>/dev/null || echo "?")
    if [ "$incomplete" = 1 ] && [ "${errs:-0}" = 0 ]; then
      echo "FAIL  $name: $reason ($states states stored, ${wall}s)"; status=1
    elif [ "${errs:-1}" != 0 ]; then
      msg=$(grep -m1 '^pan:1:' "$work/check$i/pan.out")
      echo "FAIL  $name: $(property "$msg") ($states states stored, ${wall}s)"
      echo "      $msg"
      trail "$work/check$i"
      status=1
    else
      echo "PASS  $name: $states states stored, ${wall}s (pan: ${elapsed}s)"
    fi
  done
  echo "total ${s_all:-$(secs "$t_all" "$(now)")}s"
  [ $status = 0 ] && echo "model: all checks PASS" || echo "model: FAIL"
  exit $status
fi

# -------------------------------------------------- mutations and findings
# Each: define | configuration | what is removed
mutations=(
  "MUT_NO_RECHECK|safety|S3's re-check of the stolen record removed"
  "MUT_NO_READBACK|safety|H3 confirms a heartbeat without reading kcol back"
  "MUT_NO_GUARD|safety|deletes and the intent ignore the window"
  "MUT_NO_FRESH_INODE|safety|S4 writes into the stolen file instead of replacing it"
  "MUT_WINDOW_FROM_CONFIRM|safety|the window runs from H3's read-back instead of H2's issue"
  "MUT_NO_STEAL_GUARD|safety|S2, S4, S5 ignore the stealer's window"
  "MUT_T2_CREATE|safety|T2's write creates the private file when it is missing"
  "MUT_LIST_BEFORE_FINISH|safety|T4 lists the mailbox before finishing the intent"
  "MUT_DIRECT_RENAME|safety|T1 renames lock to kcol directly (ganesha's same-file success)"
  "MUT_NEVER_STALE|liveness|observers never judge a lock stale"
)
findings=(
  "TORN_H2|safety|H2 as the doc writes it: truncate, then write (a reader can see an empty kcol)"
  "UNGUARDED_LIST|safety|T4/S6 list without checking the window (as openSession does)"
  "CHECK_LATE_WRITE H2_TIMEOUT NM=1|safety|a heartbeat write that timed out lands after its session released"
)

# hunt NAME DEFINE CONFIG: run one variant; sets found, prop, steps, depth, tdir, tdefs.
hunt() {
  local name=${1%% *} config=$3 dir defs pflags cflags bdir d
  dir=$work/$name
  found=0; prop=; steps=0; depth=; tdir=; tdefs=
  defs=; for d in $2; do defs="$defs -D$d"; done
  if [ "$config" = liveness ]; then
    defs="-DLIVENESS -DNM=1$defs"; cflags=; pflags="-a -f -m5000000 -w25"
  else
    cflags="-DSAFETY"; pflags="-m5000000 -w25"
  fi
  if ! build "$dir" "$defs" "$cflags"; then prop="could not build"; return; fi
  t0=$(now); (cd "$dir" && ./pan $pflags >pan.out 2>&1); t1=$(now)
  field "$dir"; wall=$(secs "$t0" "$t1")
  if [ "${errs:-0}" = 0 ]; then
    [ "$incomplete" = 1 ] && prop="no violation, but $reason" || prop="no violation in $states states"
    return
  fi
  found=1
  prop=$(property "$(grep -m1 '^pan:1:' "$dir/pan.out")")
  depth=$(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' "$dir/pan.out" | head -1)
  tdir=$dir; tdefs=$defs
  # a shortest trail: breadth-first (safety only; it needs no hidden variables)
  if [ "$config" = safety ]; then
    bdir=$work/$name.bfs
    if build "$bdir" "$defs -DNOHIDDEN" "-DSAFETY -DBFS"; then
      (cd "$bdir" && ./pan -w25 >pan.out 2>&1)
      if grep -q '^pan:1:' "$bdir/pan.out" && [ -f "$bdir/lock.pml.trail" ]; then
        tdir=$bdir; tdefs="$defs -DNOHIDDEN"
        depth=$(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' "$bdir/pan.out" | head -1)
        prop=$(property "$(grep -m1 '^pan:1:' "$bdir/pan.out")")
      fi
    fi
  fi
  steps=$( (cd "$tdir" && ./pan -r -n 2>/dev/null) | grep -cE '^(p[0-9]|env:)')
}

if [ "$mode" = --mutations ]; then
  echo "mutations of $model: each must be caught"
  for m in "${mutations[@]}"; do
    IFS='|' read -r def config what <<<"$m"
    hunt "$def" "$def" "$config"
    if [ "$found" = 1 ]; then
      echo "caught      $def ($what): $prop; trail of $steps steps ($depth transitions) (${wall}s)"
      trail "$tdir"
    else
      echo "NOT CAUGHT  $def ($what): $prop (${wall}s)"
      status=1
    fi
  done
  [ $status = 0 ] && echo "mutations: all caught" || echo "mutations: FAIL (a mutation was not caught)"
  exit $status
fi

if [ "$mode" = --findings ]; then
  echo "findings: problems of the protocol as the doc writes it (see README.md)"
  for m in "${findings[@]}"; do
    IFS='|' read -r def config what <<<"$m"
    hunt "$def" "$def" "$config"
    if [ "$found" = 1 ]; then
      echo "reproduced  $def ($what): $prop; trail of $steps steps ($depth transitions)"
      trail "$tdir"
    else
      echo "gone        $def ($what): $prop"
      status=1
    fi
  done
  exit $status
fi
