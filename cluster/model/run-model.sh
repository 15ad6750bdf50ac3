#!/usr/bin/env bash
# Checks the mailbox lock model (lock.pml, docs/lock-protocol.md) with spin.  See README.md.
#
#   run-model.sh              the checks: safety (two configurations) and liveness.
#                             One PASS/FAIL line each (states stored, time); exits 1 if any
#                             fails: an error found (its shortest trail is printed), or the
#                             search incomplete (memory, depth).
#   run-model.sh --mutations  the model with one protocol step removed at a time: each
#                             mutation must be caught (spin finds a violation).  Prints
#                             the violated property and the trail; exits 1 if one is not.
#   run-model.sh --findings   replays the problems the model found in the protocol
#                             (README.md, "Findings"); exits 1 if one no longer reproduces.
#   run-model.sh --node       the node rule (docs/decisions/0013): safety and liveness, about
#                             twenty minutes and 10 GB (MODEL_NODE_MEMLIM_MB, default 12288);
#                             its mutations are among --mutations.
#   run-model.sh --both       the node rule beside the lock rule (the code's `lease` lock rule:
#                             sessions heartbeat and are guarded by both windows, either rule
#                             takes a lock over): safety; larger than --node.
#
# Environment:
#   MODEL_DEFINES        spin defines of the checks (default -DR3_GUARDED, the protocol as
#                        docs/lock-protocol.md writes it); when set, also added to every
#                        mutation and finding
#   MODEL_MUTATION_BASE  defines under every mutation (default -DR3_GUARDED: a mutation is
#                        only meaningful against a base that passes; see README.md)
#   MODEL_MEMLIM_MB      memory cap of each verifier (default 3072)
# Needs spin (6.5) and a C compiler (gcc, or $CC).  Works in a temporary directory.

set -u

here=$(cd "$(dirname "$0")" && pwd)
model=$here/lock.pml
memlim=${MODEL_MEMLIM_MB:-3072}
extra=${MODEL_DEFINES--DR3_GUARDED}  # the protocol as docs/lock-protocol.md writes it (R3 guarded)
uextra=${MODEL_DEFINES-}             # only what the user set: the findings model earlier versions of R3
mbase=${MODEL_MUTATION_BASE--DR3_GUARDED}
cc=${CC:-gcc}
mode=${1:-check}

case "$mode" in
  check|--mutations|--findings|--node|--both) ;;
  -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--mutations|--findings|--node|--both]" >&2; exit 2 ;;
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

# field DIR: parse DIR/pan.out into errs, states, elapsed, incomplete, reason.
field() {
  local out=$1/pan.out
  errs=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$out" | tail -1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | tail -1)
  elapsed=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$out" | tail -1)
  incomplete=0; reason=
  if grep -q "Search not completed" "$out"; then incomplete=1; reason="search not completed"; fi
  if grep -q "max search depth too small" "$out"; then incomplete=1; reason="max search depth too small"; fi
  if grep -qiE "out of memory|memory limit|reached -DMEMLIM" "$out"; then incomplete=1; reason="out of memory (MODEL_MEMLIM_MB=$memlim)"; fi
  [ -n "$errs" ] || { incomplete=1; reason=${reason:-"no verifier result"}; }
  [ -n "$states" ] || states="?"
  [ -n "$elapsed" ] || elapsed="?"
}

# The property a pan error message names.
property() {
  case "$1" in
    *"acceptance cycle"*)            echo "(c) liveness: the stopped holder's mailbox never becomes available" ;;
    *"holds[_pid]&&(wage[_pid]<"*|*"holds[q]&&(wage[q]<"*) echo "(a) two processes may delete at the same time" ;;
    *"!(((((_pid!=0)"*|*"!((((_pid!=0)"*) echo "(a) a delete or intent step issued while another process may delete" ;;
    *"lockName=="*)                  echo "exactly one lock name (a second name would be created)" ;;
    *"listedSince"*)                 echo "(b) a message listed after the intent was written is deleted by that intent" ;;
    *"assertion violated  !(intentPresent)"*) echo "(b) a session lists the mailbox while an intent is unfinished" ;;
    *"intentPresent&&"*)             echo "(b) a message no intent lists is deleted" ;;
    *"(intentSet&msgs)"*)            echo "(b) an intent removed before all its messages are deleted" ;;
    *"assertion violated intentPresent"*) echo "(b) an intent finished (removed) twice" ;;
    *"(holds[(1-"*|*"holds[0]&&(((lockCont"*) echo "a late heartbeat write lands on the record of another session that holds or publishes the lock" ;;
    *"gr!=0"*|*"REFN"*)              echo "model bound exceeded (record or nonce pool): enlarge K or NN" ;;
    *)                               echo "$1" ;;
  esac
}

# trail DIR: the annotated trail of DIR/lock.pml.trail, replayed by the verifier that
# found it (the model's canon() is C, which spin -t would not run), ticks folded, at
# most its last 60 lines.
trail() {
  (cd "$1" && ./pan -r -n 2>/dev/null) \
    | grep -E '^(p[0-9]|env:)|START OF CYCLE' \
    | awk 'function flush() { if (n > 1) out[k++] = sprintf("      %s  (x%d)", prev, n); else if (n == 1) out[k++] = "      " prev }
           { if ($0 == prev && $0 ~ /^env: tick/) { n++; next } flush(); prev = $0; n = 1 }
           END { flush(); from = k > 60 ? k - 60 : 0
                 if (from > 0) printf "      ... (%d earlier lines)\n", from
                 for (i = from; i < k; i++) print out[i] }'
}

# shortest NAME DIR "DEFS": after DIR's verifier found a safety error, look for a shortest
# trail breadth-first (it needs no hidden variables); sets tdir, depth, prop, steps.
shortest() {
  local bdir=$work/$1.bfs
  tdir=$2
  depth=$(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' "$2/pan.out" | head -1)
  prop=$(property "$(grep -m1 '^pan:1:' "$2/pan.out")")
  if build "$bdir" "$3 -DNOHIDDEN" "-DSAFETY -DBFS" >/dev/null 2>&1; then
    (cd "$bdir" && ./pan -w25 >pan.out 2>&1)
    if grep -q '^pan:1:' "$bdir/pan.out" && [ -f "$bdir/lock.pml.trail" ]; then
      tdir=$bdir
      depth=$(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' "$bdir/pan.out" | head -1)
      prop=$(property "$(grep -m1 '^pan:1:' "$bdir/pan.out")")
    fi
  fi
  steps=$( (cd "$tdir" && ./pan -r -n 2>/dev/null) | grep -cE '^(p[0-9]|env:)')
}

status=0

# The node rule's state space is larger (about 170 million states): states stored compressed
# (COLLAPSE) under a cap of its own, and a deeper search stack.
nodemem=${MODEL_NODE_MEMLIM_MB:-12288}
nodecc="-DSAFETY -DCOLLAPSE -DMEMLIM=$nodemem"
nodelivecc="-DCOLLAPSE -DMEMLIM=$nodemem"
nodepan="-m20000000 -w27"

# ----------------------------------------------------------------- checks
# Each: name | spin defines | compile flags | pan flags
checks=(
  "safety (2 messages, heartbeat caller waits)|$extra|-DSAFETY|-m5000000 -w25"
  "safety (1 message, heartbeat write may time out; late writes land where nobody reads)|-DH2_TIMEOUT -DNM=1 -DCHECK_LATE_WRITE $extra|-DSAFETY|-m5000000 -w25"
  "liveness (process 0 stops, process 1 gets the lock)|-DLIVENESS -DNM=1 $extra||-a -f -m5000000 -w25"
)
# --node: the node rule (docs/decisions/0013, issue 20), checked before the code has it
if [ "$mode" = --node ]; then
  checks=(
    "safety of the node rule (a node's registry record is every session's heartbeat)|-DNODE_RULE $extra|$nodecc|$nodepan"
    "liveness of the node rule (process 0 stops, process 1 gets the lock)|-DNODE_RULE -DLIVENESS -DNM=1 $extra|$nodelivecc|-a -f $nodepan"
  )
fi

if [ "$mode" = --both ]; then
  checks=(
    "safety of both rules side by side (sessions heartbeat and are guarded by both windows; either rule steals)|-DNODE_RULE -DBOTH_RULES $extra|$nodecc|$nodepan"
  )
fi

if [ "$mode" = check ] || [ "$mode" = --node ] || [ "$mode" = --both ]; then
  echo "spin model: $model${extra:+ with $extra}"
  echo "  (L=4, W=2 ticks; 2 session processes; crash before any step, lost rename replies, late heartbeat writes)"
  t_all=$(now)
  # The verifiers are built one after the other in the background (on the other
  # core, while the previous one runs); they run one at a time (each is memory-bound).
  (
    i=0
    for c in "${checks[@]}"; do
      IFS='|' read -r name defs cflags pflags <<<"$c"
      i=$((i + 1))
      build "$work/check$i" "$defs" "$cflags" >"$work/check$i.build" 2>&1 || : >"$work/check$i.nobuild"
      : >"$work/check$i.built"
    done
  ) &
  i=0
  for c in "${checks[@]}"; do
    IFS='|' read -r name defs cflags pflags <<<"$c"
    i=$((i + 1))
    while [ ! -f "$work/check$i.built" ]; do sleep 0.2; done
    if [ -f "$work/check$i.nobuild" ]; then
      echo "FAIL  $name: could not build the verifier"; sed 's/^/      /' "$work/check$i.build"; status=1; continue
    fi
    t0=$(now)
    (cd "$work/check$i" && ./pan $pflags >pan.out 2>&1)
    wall=$(secs "$t0" "$(now)")
    field "$work/check$i"
    if [ "$incomplete" = 1 ] && [ "${errs:-0}" = 0 ]; then
      echo "FAIL  $name: $reason ($states states stored, ${wall}s)"; status=1
    elif [ "${errs:-1}" != 0 ]; then
      status=1
      echo "FAIL  $name: $(property "$(grep -m1 '^pan:1:' "$work/check$i/pan.out")") (${wall}s)"
      if [ "$cflags" = -DSAFETY ]; then
        shortest "check$i" "$work/check$i" "$defs"
      else
        tdir=$work/check$i; steps=$( (cd "$tdir" && ./pan -r -n 2>/dev/null) | grep -cE '^(p[0-9]|env:)')
        depth=$(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' "$tdir/pan.out" | head -1)
      fi
      echo "      trail of $steps steps ($depth transitions):"
      trail "$tdir"
    else
      echo "PASS  $name: $states states stored, ${wall}s (pan: ${elapsed}s)"
    fi
  done
  wait
  echo "total $(secs "$t_all" "$(now)")s"
  [ $status = 0 ] && echo "model: all checks PASS" || echo "model: FAIL"
  exit $status
fi

# -------------------------------------------------- mutations and findings
# Mutations: define | configuration | what is removed (each on top of $mbase)
# (configuration "late": the second safety check's, where a heartbeat write may time out
# and land late, with CHECK_LATE_WRITE)
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
  "MUT_SKIP_R3|late|the quick release R0 (no R3) also after a heartbeat write"
  "MUT_R0_UNGUARDED|safety|the quick release R0 (no R2) also after the window ran out"
  "MUT_NEVER_STALE|liveness|observers never judge a lock stale"
  "MUT_RECLAIM_ANY|safety|O2's reclaim without the dead-predecessor test: any other holder's record is stolen at once"
  "MUT_RECLAIM_FOREIGN_NAME|safety|O2's reclaim also under another node's private name (a live stealer's, mid-steal)"
  "MUT_NODE_UNGUARDED|node|the node rule, with sessions not guarded by the node's window"
  "MUT_LAPSE_REVIVES|node|the node rule, with a confirmed node beat reviving the sessions of a lapsed window"
  "MUT_NODE_NO_READBACK|node|the node rule, with a node beat confirmed without reading the record back"
  "MUT_NODE_ANY_NAME|node|the node rule judging a lock by its record's node under any name (a stealer's private name too)"
)
# Findings: name | spin defines | configuration | what is modelled
findings=(
  "R3_UNGUARDED|-DR3_ALWAYS -DCHECK_LATE_WRITE|safety|the doc's second R3: rename(tmp/free, private) in every release, with no window"
  "TORN_H2|$mbase -DTORN_H2|safety|the doc's first H2: truncate, then write (a reader can see an empty kcol)"
  "UNGUARDED_LIST|$mbase -DUNGUARDED_LIST|safety|the doc's first T4: the listing does not check the window"
  "LATE_WRITE|-DR3_IN_PLACE -DCHECK_LATE_WRITE -DH2_TIMEOUT -DNM=1|safety|the doc's first R3 (record emptied in place), a heartbeat write that timed out"
)

# hunt NAME "DEFS" CONFIG: run one variant; sets found, prop, steps, depth, tdir, wall.
hunt() {
  local name=$1 defs=$2 config=$3 dir=$work/$1 pflags cflags
  found=0; prop=; steps=0; depth=; tdir=
  if [ "$config" = liveness ]; then
    defs="-DLIVENESS -DNM=1 $defs"; cflags=; pflags="-a -f -m5000000 -w25"
  elif [ "$config" = node ]; then
    defs="-DNODE_RULE $defs"; cflags="$nodecc"; pflags="$nodepan"
  elif [ "$config" = late ]; then
    defs="-DH2_TIMEOUT -DNM=1 -DCHECK_LATE_WRITE $defs"; cflags="-DSAFETY"; pflags="-m5000000 -w25"
  else
    cflags="-DSAFETY"; pflags="-m5000000 -w25"
  fi
  if ! build "$dir" "$defs" "$cflags" >"$dir.build" 2>&1; then prop="could not build: $(head -3 "$dir.build")"; return; fi
  t0=$(now); (cd "$dir" && ./pan $pflags >pan.out 2>&1); wall=$(secs "$t0" "$(now)")
  field "$dir"
  if [ "${errs:-0}" = 0 ]; then
    [ "$incomplete" = 1 ] && prop="no violation, but $reason" || prop="no violation in $states states"
    return
  fi
  found=1
  if [ "$config" != liveness ] && [ "$config" != node ]; then
    shortest "$name" "$dir" "$defs"
  else
    tdir=$dir
    prop=$(property "$(grep -m1 '^pan:1:' "$dir/pan.out")")
    depth=$(sed -n 's/.*(at depth \([0-9]*\)).*/\1/p' "$dir/pan.out" | head -1)
    steps=$( (cd "$tdir" && ./pan -r -n 2>/dev/null) | grep -cE '^(p[0-9]|env:)')
  fi
}

if [ "$mode" = --mutations ]; then
  echo "mutations of $model (base: ${mbase:-no defines}${uextra:+ $uextra}): each must be caught"
  for m in "${mutations[@]}"; do
    IFS='|' read -r def config what <<<"$m"
    hunt "$def" "$mbase -D$def $uextra" "$config"
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
  echo "findings: problems the model found in the protocol (README.md, \"Findings\")"
  for f in "${findings[@]}"; do
    IFS='|' read -r name defs config what <<<"$f"
    hunt "$name" "$defs $uextra" "$config"
    if [ "$found" = 1 ]; then
      echo "reproduced  $name ($what): $prop; trail of $steps steps ($depth transitions)"
      trail "$tdir"
    else
      echo "gone        $name ($what): $prop"
      status=1
    fi
  done
  exit $status
fi
