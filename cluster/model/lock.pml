/*
 * lock.pml -- the mailbox lock of docs/lock-protocol.md, checked with spin 6.5.
 *
 * NP session processes (2 by default) loop forever: a client logs in (take
 * T1-T3, or observe O1-O2 and steal S1-S5), the session finishes a delete
 * intent left behind and lists the mailbox (T4/S6), heartbeats (H1-H3), runs
 * UPDATE with a delete intent (U1-U4) and releases (R0, or R1-R4).  Any process may
 * crash before any step (it restarts as a fresh process with no memory), any
 * rename may lose its reply, and an environment process advances time and
 * lands in-flight heartbeat writes late.  README.md explains the abstractions;
 * run-model.sh runs the checks.
 *
 * Switches (-D...):
 *   NP=3            three session processes instead of two
 *   LIVENESS        the liveness configuration (ltl property `live`): only
 *                   process 0 crashes, and may stop forever; "stable" may
 *                   become true, after which time advances only while every
 *                   live process waits for its client (pauses have ended)
 *   TORN_H2         H2 opens kcol with O_TRUNC and its bytes land later: a
 *                   reader sees an empty kcol in between (what Volume.swift's
 *                   overwriteExisting does; not the default, see README)
 *   H2_TIMEOUT      a heartbeat write may time out and the session go on
 *                   while the write is still in flight (default: the session
 *                   waits for it, unless it crashes)
 *   NM=1            one message instead of two
 *   UNGUARDED_LIST  T4/S6 list the mailbox without checking the window
 *   CHECK_LATE_WRITE  asserts that a late heartbeat write never lands on the
 *                   record of another session that holds the lock or is about
 *                   to publish it (availability)
 *   R3_IN_PLACE     R3 as the doc first wrote it: empty the record in place
 *   R3_GUARDED      R3's rename of the fresh file only within W of R1's issue,
 *                   as the doc writes it (run-model.sh's default; without it
 *                   R3 is unguarded: README, "Findings", 1)
 *   R3_ALWAYS       no quick release: R1-R4 (R3's fresh file) in every release.
 *                   Default: a session that issued no heartbeat write (H2)
 *                   and is inside its window releases with R0 (R1 guarded,
 *                   then rename(private, lock)), and its record stays in `lock`
 *   QUICK_R2        the quick release as first proposed: R1 (no window), R2,
 *                   rename(private, lock), whenever no heartbeat write was issued
 *   NODE_RULE       the node liveness rule (docs/decisions/0013, issue 20):
 *                   each process is a node whose registry record is its
 *                   heartbeat (NBeat: NH1-NH3, a confirmed write opens the
 *                   node's window W); every guarded step also needs the node's
 *                   window to have stayed open since the session began (a lapse
 *                   is final for the sessions that were open); each node
 *                   watches the others' records; a lock may be taken over when
 *                   the node of its name and the session of its record are
 *                   this process's own leftovers or nodes whose records were
 *                   seen unchanged for L (NODESTALE)
 *   NODE_RECHECK    with NODE_RULE: S3 also re-reads the node records (not needed)
 *   BOTH_RULES      with NODE_RULE: the code's `lease` lock rule beside the node rule: every session also
 *                   heartbeats its own record and is guarded by both windows, and a lock is taken over
 *                   when either rule allows it (nodes of an earlier version judge by the lock rule alone)
 *   MUT_*           a protocol step removed (run-model.sh --mutations)
 *   NOHIDDEN        no hidden variables (needed by -DBFS in pan)
 */

#ifndef NP
#define NP 2
#endif

#define L 4               /* lease, in clock ticks */
#define W 2               /* window = L/2 */
#ifndef NM
#define NM 2              /* messages m0, m1 */
#endif
#define ALLM ((1 << NM) - 1)

/* ------------------------------------------------------------------ names */
/* Exactly one lock name exists at every instant: it is the value of lockName.
 * The only operations that could create a second name (S4's rename of the take
 * file, a write that creates a missing private file) assert that the name they
 * write is the current lock name. */
#define LOCK 0            /* `lock`: free */
#define KCOL 1            /* `kcol`: held, published */
#define NN (2*NP+2)       /* nonces per process; one is reused only when nothing refers to its name */
#define PRIV(q,n) (2 + (q)*NN + (n))    /* `kcol.<node>.<nonce>` of process q */
#define NONE 255

/* ---------------------------------------------------------------- records */
/* The bytes of an owner record are an id.  Records never repeat: a new record
 * gets an id that nothing in the state refers to (no file, no observer table,
 * no in-flight write), so every equality test sees it as never seen before.
 * Ids of process q are q*K+1 .. q*K+K, renumbered canonically after each step
 * (a symmetry reduction: only equality, owner and rcur are ever looked at).
 * EMPTY is the empty file. */
#define EMPTY 0
#define GONE 254          /* bytes that can never be read again (see canon) */
#define K (NP+5)
#define NREC (NP*K+1)
#define OWNER(r) (((r)-1)/K)
#define OURS(q,r) ((r) != EMPTY && OWNER(r) == (q) && rcur[r])   /* this session's record, any beat */

byte lockName = LOCK;     /* the one lock name */
byte lockCont = EMPTY;    /* bytes of the lock file's inode, whatever its name */
byte msgs = ALLM;         /* messages present, a bit each */
bool intentPresent;       /* `intent` exists ... */
byte intentSet;           /* ... listing these messages */
byte listedSince;         /* messages some session listed since the current intent was written */

bool rcur[NREC];          /* the record belongs to its process's current session */

/* per session process */
bool holds[NP];           /* believes it holds the lock: published (T3/S5), not lost, not releasing */
byte wage[NP];            /* now - start of its window, saturating at W (W: the window is over) */
byte pend[NP];            /* its in-flight heartbeat write into the lock inode (a record), EMPTY: none */
byte hbRec[NP];           /* H2..H3: the record this heartbeat writes */
byte hbAge[NP];           /* H2..H3: now - t (H2's issue instant), saturating at W */
byte obsV[NP];            /* observer table: name (NONE: no entry) ... */
byte obsB[NP];            /* ... record bytes ... */
byte obsAge[NP];          /* ... and now - first seen, saturating at L */
byte stV[NP];             /* O1..S5: the lock name V being observed or stolen */
byte takeRec[NP];         /* S1..S4: tmp/take.<nonce> exists with this record */
bool hbIssued[NP];        /* this session issued a heartbeat write (H2): the process's own flag, set at
                           * H2's issue, cleared at a new login or a crash restart (never looks at pend) */
#ifdef NODE_RULE
/* per node (= per process): its registry record, the node's heartbeat */
byte nage[NP];            /* now - issue instant of its last confirmed beat, saturating at W (W: lapsed) */
bool sok[NP];             /* the node's window has been open without a gap since the session began */
bool nobsOn[NP*NP];       /* observer o's sighting of node x's record [o*NP+x]: no write landed since ... */
byte nobsAge[NP*NP];      /* ... seen that long ago, saturating at L */
#endif
#ifdef MUT_DIRECT_RENAME
bool drUnwritten;         /* kcol is the file T1' renamed from `lock`, not yet written by T2' */
#endif

#ifdef LIVENESS
#define ALIVE(q) && !dead[q]
#else
#define ALIVE(q)
#endif
#ifdef LIVENESS
bool stable;              /* pauses have ended: time advances only while every live process waits */
bool busy[NP];
bool dead[NP];
bool retry[NP];           /* refused or ended: its client tries again after the next tick */
#define BUSY busy[_pid] = 1
#define IDLE busy[_pid] = 0
#define RETRY_LATER retry[_pid] = 1
#define RETRY_NOW (!retry[_pid]) ->
#else
#define BUSY skip
#define IDLE skip
#define RETRY_LATER skip
#define RETRY_NOW
#endif

#ifdef NOHIDDEN
#define HIDDEN
#else
#define HIDDEN hidden
#endif
HIDDEN byte gi, gr;              /* scratch, used only inside d_step / atomic sequences */

/* --------------------------------------------------------- helper macros */
#ifdef NODE_RULE
#ifdef MUT_NODE_UNGUARDED
#define NODEOK(q) true            /* mutation: sessions guarded by their own window only */
#else
#define NODEOK(q) (sok[q])
#endif
#else
#define NODEOK(q) true
#endif
#define MAYDEL(q) (holds[q] && wage[q] < W && NODEOK(q))
#if NP == 2
#define OTHERMAY(q) (((q) != 0 && MAYDEL(0)) || ((q) != 1 && MAYDEL(1)))
#define REFR(i) (lockCont == (i) || REFP(0,i) || REFP(1,i))
#define REFN(x) (lockName == (x) || obsV[0] == (x) || obsV[1] == (x) || stV[0] == (x) || stV[1] == (x))
#define ORPHAN_PENDING pend[0] = EMPTY; pend[1] = EMPTY
#elif NP == 3
#define OTHERMAY(q) (((q) != 0 && MAYDEL(0)) || ((q) != 1 && MAYDEL(1)) || ((q) != 2 && MAYDEL(2)))
#define REFR(i) (lockCont == (i) || REFP(0,i) || REFP(1,i) || REFP(2,i))
#define REFN(x) (lockName == (x) || obsV[0] == (x) || obsV[1] == (x) || obsV[2] == (x) \
                 || stV[0] == (x) || stV[1] == (x) || stV[2] == (x))
#define ORPHAN_PENDING pend[0] = EMPTY; pend[1] = EMPTY; pend[2] = EMPTY
#else
#error "NP must be 2 or 3"
#endif
#define REFP(q,i) (pend[q] == (i) || hbRec[q] == (i) || takeRec[q] == (i) || obsB[q] == (i))

/* O2's reclaim of a dead predecessor's record: only under `kcol` or one of this
 * process's own private names (MUT_RECLAIM_FOREIGN_NAME: under any name). */
#ifndef MUT_RECLAIM_FOREIGN_NAME
#define RECLAIM_NAME (lockName == KCOL || (lockName >= PRIV(_pid, 0) && lockName < PRIV(_pid, NN)))
#else
#define RECLAIM_NAME true
#endif

/* A login waits until its node's window is open (a confirmed beat): from then on,
 * the session is guarded by it, and the first time it runs out ends that for good. */
#ifdef NODE_RULE
#define NODE_WAIT (nage[_pid] < W) ->
#define NODE_START sok[_pid] = 1
#else
#define NODE_WAIT
#define NODE_START skip
#endif

#ifdef NODE_RULE
/* The node rule (O2).  A lock may be taken over when nobody who could still act on it can: the node of its
 * name (a private name's node may be a taker between T1 and T3, a releaser after R1, a stealer between S2 and
 * S5), and the session of the record it holds (a releaser's R1 is not guarded: a lost session may have moved a
 * live holder's kcol to its own private name).  Each is either this process (a name of its own that no session
 * of it holds, a record of an earlier session or incarnation of its own) or a node whose registry record this
 * node's watcher has seen unchanged for a lease.  `kcol` holding no record is never taken over (only a torn write
 * shows it).  MUT_NODE_ANY_NAME: the name's node is not looked at. */
#define PRIVNODE(x) (((x) - 2) / NN)
#define ISPRIV(v) ((v) >= 2 && (v) != NONE)
#define NSTALE(o, x) (nobsOn[(o)*NP + (x)] && nobsAge[(o)*NP + (x)] >= L)
#ifdef MUT_NODE_ANY_NAME
#define NAMEOK(v) true
#else
#define NAMEOK(v) ((v) == KCOL || (ISPRIV(v) && (PRIVNODE(v) == _pid || NSTALE(_pid, PRIVNODE(v)))))
#endif
#define CONTOK(v, c) (((c) == EMPTY && (v) != KCOL) || \
                      ((c) != EMPTY && (c) != GONE && ((OWNER(c) == _pid && !rcur[c]) || (OWNER(c) != _pid && NSTALE(_pid, OWNER(c))))))
#define NODESTALE (NAMEOK(lockName) && CONTOK(lockName, lockCont))
#endif

/* A rename whose reply may be lost: it happened, and the caller sees an error. */
#ifdef NOLOSE
#define LOSE(e) e = 0
#else
#define LOSE(e) if :: e = 0 :: e = 1 fi
#endif

/* CRASH before this step: the process loses its memory and starts again as a
 * fresh process (its files and an in-flight write stay).  The checks that
 * follow a failed rename have no crash point of their own: a crash there is
 * the same as a crash before the step that follows the rename.  Stopping forever
 * needs no transition of its own: it is a pause that never ends, and the
 * exhaustive search contains every run in which a process stops moving. */
#ifdef NOCRASH
#define CAN_CRASH false
#elif defined(LIVENESS)
#define CAN_CRASH (_pid == 0)
#else
#define CAN_CRASH true
#endif
#ifdef LIVENESS
#define CRASHED printf("p%d crashes\n", _pid); RESET; \
                if :: skip :: dead[_pid] = 1; printf("p%d stops for good\n", _pid); goto halt fi; goto session
#else
#define CRASHED printf("p%d crashes (it restarts with no memory)\n", _pid); RESET; goto session
#endif
#define CRASH if :: CAN_CRASH -> CRASHED :: skip fi
#define RESET \
    holds[_pid] = 0; wage[_pid] = W; hbRec[_pid] = EMPTY; hbAge[_pid] = 0; \
    obsV[_pid] = NONE; obsB[_pid] = EMPTY; obsAge[_pid] = 0; stV[_pid] = NONE; \
    takeRec[_pid] = EMPTY; hbIssued[_pid] = 0; NRESET; \
    n = 0; marks = 0; iset = 0; m = 0; err = 0; quick = 0; \
    d_step { retag(_pid); canon() }; \
    IDLE

/* A node's crash: its window, its beat in progress and its sightings are gone. */
#ifdef NODE_RULE
#if NP == 2
#define NOBS_CLEAR nobsOn[_pid*NP] = 0; nobsAge[_pid*NP] = 0; nobsOn[_pid*NP+1] = 0; nobsAge[_pid*NP+1] = 0
#else
#define NOBS_CLEAR nobsOn[_pid*NP] = 0; nobsAge[_pid*NP] = 0; nobsOn[_pid*NP+1] = 0; nobsAge[_pid*NP+1] = 0; \
                   nobsOn[_pid*NP+2] = 0; nobsAge[_pid*NP+2] = 0
#endif
#define NRESET nage[_pid] = W; \
               sok[_pid] = 0; NOBS_CLEAR
#else
#define NRESET skip
#endif

/* The quick release (R0) instead of R1-R4: when this session issued no
 * heartbeat write (its own flag, hbIssued), no write of ours can be in flight
 * into the lock inode (T2's write was answered before T3), so R3's fresh file
 * is not needed, and our record goes into `lock` with the file.  As the doc
 * and the code do it: R1 guarded by the holder's window (inside it nobody can
 * have taken over, so R2 is left out too), then rename(private, lock).  With
 * QUICK_R2: R1 unguarded, R2, then rename(private, lock).  A session that
 * issued a heartbeat write (even one that failed), is lost, or whose window
 * ran out, releases with R1-R4. */
#if defined(R3_ALWAYS) || defined(R3_IN_PLACE)
#define QUICK_OK false                   /* R1-R4 (the fresh file) in every release */
#else
#ifdef MUT_SKIP_R3
#define QUICK_HB true                    /* mutation: quick release even after a heartbeat write */
#else
#define QUICK_HB (!hbIssued[_pid])
#define HB_FLAG                          /* the flag is tracked only where it is used */
#endif
#if defined(QUICK_R2) || defined(MUT_R0_UNGUARDED)
#define QUICK_OK (QUICK_HB)              /* no window (QUICK_R2 checks R2 instead) */
#else
#define QUICK_OK (QUICK_HB && wage[_pid] < W && NODEOK(_pid))   /* R0's R1 is guarded (with NODE_RULE: the node's window) */
#endif
#endif

/* Guarded step: the window check and the issue are one atomic step (the
 * stated assumption: a guarded step reaches the store within L-W of its check). */
#define GUARD(out) if :: wage[_pid] < W && NODEOK(_pid) -> skip :: else -> goto out fi
#ifdef MUT_NO_GUARD
#define DGUARD(out) skip                 /* deletes and the intent ignore the window */
#else
#define DGUARD(out) GUARD(out)
#endif
#ifdef MUT_NO_STEAL_GUARD
#define SGUARD(out) skip                 /* S2, S4, S5 ignore the stealer's window */
#else
#define SGUARD(out) GUARD(out)
#endif

/* (a) at most one process may delete: checked whenever a process starts to
 * be able to (publish, confirmed heartbeat); time only ever takes it away. */
#define CHECK_ME assert(!(MAYDEL(_pid) && OTHERMAY(_pid)))

/* ------------------------------------------------------- record handling */
/* canon(): a canonical form of the state, applied at the end of every step
 * that changes a name or a record (it keeps the state space small; it changes
 * no behaviour):
 *  - an observer entry that can never match again is dropped: it acts exactly
 *    like no entry (O2 replaces it).  Bytes come back only with the inode that
 *    holds them (lockCont) or a write in flight into it; a name only as the
 *    current name, kcol, or a name some stealer may put back (stV).  Between
 *    O1 and S5 the entry is also B, for S3: dropped, it leaves GONE there,
 *    which equals no bytes (S3 fails, as it would with the real B);
 *  - the records of each process are renumbered in order of first appearance
 *    (lockCont, then each process's pend, hbRec, takeRec, obsB); unreferenced
 *    ids lose their rcur bit.  Only equality, owner and rcur are ever looked
 *    at, so this is a symmetry reduction.
 * It is C for speed and code size: replay trails with ./pan -r (run-model.sh
 * does), not spin -t, which does not execute it. */
c_code {
static int cl_matchB(int b)
{       int q;
        if (b == EMPTY || b == now.lockCont) return 1;
        for (q = 0; q < NP; q++) if (b == now.pend[q]) return 1;
        return 0;
}
static int cl_matchV(int v)
{       int q;
        if (v == now.lockName || v == KCOL) return 1;
        for (q = 0; q < NP; q++) if (v == now.stV[q]) return 1;
        return 0;
}
void canon(void)
{       uchar *slot[1 + 4*NP], map[K+1], rc[K+1];
        int q, j, s, n, ns = 0, v, base;

        for (q = 0; q < NP; q++)
        {       if (now.obsV[q] != NONE && !(cl_matchB(now.obsB[q]) && cl_matchV(now.obsV[q])))
                {       now.obsV[q] = NONE; now.obsAge[q] = 0;
                        now.obsB[q] = (now.stV[q] != NONE) ? GONE : EMPTY;
                } else if (now.obsV[q] == NONE && now.stV[q] == NONE)
                {       now.obsB[q] = EMPTY;
        }       }
        slot[ns++] = &now.lockCont;
        for (q = 0; q < NP; q++)
        {       slot[ns++] = &now.pend[q]; slot[ns++] = &now.hbRec[q];
                slot[ns++] = &now.takeRec[q]; slot[ns++] = &now.obsB[q];
        }
        for (q = 0; q < NP; q++)
        {       base = q*K; n = 0;
                memset(map, 0, sizeof map); memset(rc, 0, sizeof rc);
                for (s = 0; s < ns; s++)
                {       v = *slot[s];
                        if (v != EMPTY && v != GONE && (v-1)/K == q && !map[v-base]) map[v-base] = ++n;
                }
                for (j = 1; j <= K; j++) if (map[j]) rc[map[j]] = now.rcur[base + j];
                for (j = 1; j <= K; j++) now.rcur[base + j] = rc[j];
                for (s = 0; s < ns; s++)
                {       v = *slot[s];
                        if (v != EMPTY && v != GONE && (v-1)/K == q) *slot[s] = base + map[v-base];
        }       }
}
}
#define canon() c_code { canon(); }; gr = 0

/* A fresh record of process q, in gr. */
inline newRec(q) {
  gi = (q)*K + 1; gr = EMPTY;
  do
  :: gi > (q)*K + K -> break
  :: else -> if :: gr == EMPTY && !REFR(gi) -> gr = gi :: else fi; gi++
  od;
  assert(gr != EMPTY);     /* the record pool is large enough */
  rcur[gr] = 1;
  gi = 0
}

/* A new session of q: none of its earlier records is "ours" any more. */
inline retag(q) {
  gi = (q)*K + 1;
  do
  :: gi > (q)*K + K -> break
  :: else -> rcur[gi] = 0; gi++
  od;
  gi = 0
}

/* A fresh nonce for a private name of this process (a name nothing refers to). */
inline newNonce(nn) {
  nn = 0;
  do
  :: nn < NN-1 && REFN(PRIV(_pid, nn)) -> nn++
  :: else -> break
  od;
  assert(!REFN(PRIV(_pid, nn)))
}

/* T3 / S5 succeeded (or found, after a lost reply, to have happened). */
#define BECOME_HOLDER \
  holds[_pid] = 1; CHECK_ME; n = 0; \
  obsV[_pid] = NONE; obsB[_pid] = EMPTY; obsAge[_pid] = 0; stV[_pid] = NONE

/* A message unlink issued by this process (T4/S6 or U3). */
#define UNLINK(mm) \
  assert(!OTHERMAY(_pid));                             /* (a) nobody else may delete */ \
  assert(intentPresent && ((intentSet >> (mm)) & 1));  /* (b) only what an intent lists */ \
  assert(((listedSince >> (mm)) & 1) == 0);            /* (b) never what a session listed after the intent */ \
  msgs = msgs & (ALLM - (1 << (mm)))

/* unlink(intent) by this process (U4, or the end of T4/S6). */
#define RMINTENT \
  assert(!OTHERMAY(_pid));                             /* (a) */ \
  assert(intentPresent);                               /* (b) finished once */ \
  assert((intentSet & msgs) == 0);                     /* (b) all it lists is deleted */ \
  intentPresent = 0; intentSet = 0; listedSince = 0

/* ------------------------------------------------------ trail printing */
/* printf is not executed while pan verifies; it annotates replayed trails
 * (spin -t lock.pml), which is what run-model.sh --mutations prints. */
inline sayName(x) {
  if
  :: x == LOCK -> printf("lock")
  :: x == KCOL -> printf("kcol")
  :: x == NONE -> printf("-")
  :: else -> printf("kcol.p%d.n%d", (x - 2) / NN, (x - 2) % NN)
  fi
}
inline sayRec(r) {
  if
  :: r == EMPTY -> printf("empty")
  :: else -> printf("p%d's ", OWNER(r)); if :: rcur[r] -> printf("record") :: else -> printf("old-session record") fi
  fi
}
inline sayLost() { if :: err -> printf(" (reply lost)") :: else fi; printf("\n") }

/* ================================================================ session */
active [NP] proctype Sess()
{
  byte n;        /* nonce of this attempt's private name */
  byte marks;    /* messages the client marked for deletion (chosen at QUIT) */
  byte iset;     /* T4/S6: the intent being finished */
  byte m;
  bool err;
  bool quick;    /* this release is the quick one (R0) */

  atomic { RESET };

session:
  /* A client logs in: a new session (a new session id: no earlier record is ours). */
  atomic { RETRY_NOW NODE_WAIT BUSY; hbIssued[_pid] = 0; NODE_START; d_step { retag(_pid); canon() } };

  /* ------------------------------------------------------------ take */
T1: /* T1: rename(lock, kcol.<node>.<nonce>) */
  atomic {
    CRASH;
    newNonce(n);
#ifdef MUT_DIRECT_RENAME
    /* rename(lock, kcol) straight.  ganesha's same-file shortcut: a racing
     * taker whose stale lookup of `lock` is the file now named kcol (not yet
     * written) is told it succeeded too. */
    if
    :: lockName == LOCK -> lockName = KCOL; drUnwritten = 1; n = 0; printf("p%d T1' rename(lock, kcol)\n", _pid); goto T2
    :: lockName == KCOL && drUnwritten -> n = 0; printf("p%d T1' rename(lock, kcol): same-file success\n", _pid); goto T2
    :: else -> n = 0; goto O1
    fi
#else
    if
    :: lockName == LOCK -> lockName = PRIV(_pid, n); d_step { canon() }; LOSE(err);
       printf("p%d T1 rename(lock, ", _pid); sayName(lockName); printf(")"); sayLost()
    :: else -> err = 1; printf("p%d T1 rename(lock, ...) fails: ", _pid); sayName(lockName); printf(" exists\n")
    fi
#endif
  };
  if
  :: !err -> goto T2
  :: else ->
     atomic {   /* after an error: our private name exists -> we won; otherwise someone has it: observe */
       err = 0;
       if
       :: lockName == PRIV(_pid, n) -> printf("p%d T1 after the error: its private name exists, won\n", _pid); goto T2
       :: else -> n = 0; goto O1
       fi
     }
  fi;

T2: /* T2: t0 = now (the window starts here); our record into the private file, fsync */
  atomic {
    CRASH;
#ifdef NODE_RULE
    if :: !NODEOK(_pid) -> printf("p%d T2 its node's window ran out: gives the lock back\n", _pid); goto T3undo :: else fi;
#endif
    wage[_pid] = 0;
#ifdef MUT_DIRECT_RENAME
    if
    :: lockName == KCOL -> d_step { newRec(_pid); lockCont = gr; drUnwritten = 0; canon() };
       printf("p%d T2' writes its record into kcol: holds, window starts\n", _pid);
       BECOME_HOLDER; goto finish
    :: else -> goto ended
    fi
#endif
    if
    :: lockName == PRIV(_pid, n) -> d_step { newRec(_pid); lockCont = gr; canon() };
       printf("p%d T2 t0=now, writes its record into ", _pid); sayName(lockName); printf("\n")
    :: else ->
#ifdef MUT_T2_CREATE
       /* the write creates the private file when it is missing (O_CREAT) */
       printf("p%d T2 creates its missing private file while ", _pid); sayName(lockName); printf(" exists\n");
       assert(lockName == PRIV(_pid, n))         /* exactly one lock name */
#else
       printf("p%d T2 its private name is gone (taken over): fails\n", _pid);
       goto ended     /* taken over while it was paused: the open fails; nothing to give back */
#endif
    fi
  };

T3: /* T3: rename(private, kcol): published */
  atomic {
    CRASH;
    if
    :: lockName == PRIV(_pid, n) -> lockName = KCOL; d_step { canon() }; LOSE(err);
       printf("p%d T3 rename(private, kcol)", _pid); sayLost();
       if :: !err -> printf("p%d holds the lock, window age %d\n", _pid, wage[_pid]); BECOME_HOLDER; goto finish :: else fi
    :: else -> err = 1; printf("p%d T3 rename(private, kcol) fails: ", _pid); sayName(lockName); printf(" exists\n")
    fi
  };
  atomic {   /* after an error: kcol holds our record -> published */
    err = 0;
    if
    :: lockName == KCOL && OURS(_pid, lockCont) ->
       printf("p%d T3 after the error: kcol holds its record: holds the lock\n", _pid); BECOME_HOLDER; goto finish
    :: else
    fi
  };
  /* otherwise put lock back (record emptied) and fail */
T3undo:
  atomic { CRASH; if :: lockName == PRIV(_pid, n) -> lockCont = EMPTY; d_step { canon() } :: else fi };
  atomic {
    CRASH;
    if :: lockName == PRIV(_pid, n) -> lockName = LOCK; d_step { canon() } :: else fi;
    printf("p%d T3 failed: gives the lock back if it still has it\n", _pid);
    goto ended
  };

  /* ------------------------------------------------- observe and steal */
O1: /* O1: list the mailbox, find the one lock name V ... */
  atomic {
    CRASH;
    if
    :: lockName == LOCK -> goto refused      /* released meanwhile: the client's next try takes it */
    :: else -> stV[_pid] = lockName
    fi
  };
  /* ... and read its bytes B.  O2: the observer table decides. */
  atomic {
    CRASH;
    if
    :: lockName != stV[_pid] -> goto refused   /* it moved between the listing and the read */
    :: else
    fi;
    printf("p%d O1 reads (", _pid); sayName(lockName); printf(", "); sayRec(lockCont); printf("): ");
    if
    /* O2, reclaim: a record of this node's own dead predecessor (the code: same node id, and the process the
     * record names is dead on this machine, ProcessIncarnation.isDeadHere) is stolen at once.  A process here
     * runs one session at a time and restarts after a crash with no memory, so "a record of process _pid that is
     * not its current session's" stands for a holder that can take no step any more (its in-flight write and
     * intent aside, which S4 and S6 handle as for any stale holder).  The model allows this for every earlier
     * session of the process, more than the code does: what is safe here is safe there.  Only under `kcol` or a
     * private name of this node: under another's, a live stealer is between its S2 and S5 with that record. */
    :: lockCont != EMPTY && lockCont != GONE && OWNER(lockCont) == _pid && !rcur[lockCont] && RECLAIM_NAME ->
       obsV[_pid] = stV[_pid]; obsB[_pid] = lockCont; d_step { canon() };   /* B, for S3's re-check */
       printf("O2 its own dead predecessor's record: steal at once\n"); goto S1
#ifdef MUT_RECLAIM_ANY
    /* mutation: any other process's record is taken for a dead predecessor's (a live holder, paused or not) */
    :: lockCont != EMPTY && lockCont != GONE && OWNER(lockCont) != _pid ->
       obsV[_pid] = stV[_pid]; obsB[_pid] = lockCont; d_step { canon() };
       printf("O2 (mutation) another process's record taken for a dead one: steal at once\n"); goto S1
#endif
#ifdef NODE_RULE
    /* O2, the node rule (NODESTALE above). */
    :: NODESTALE ->
       obsV[_pid] = stV[_pid]; obsB[_pid] = lockCont; d_step { canon() };   /* B, for S3 */
       printf("O2 nobody who could act on it lives (node records unchanged for a lease): steal\n"); goto S1
#endif
#if defined(NODE_RULE) && !defined(BOTH_RULES)
    :: else -> printf("O2 its node is alive: [IN-USE]\n"); goto refused   /* no lock rule: nothing else makes it stale */
#elif !defined(MUT_NEVER_STALE)
    :: obsV[_pid] == stV[_pid] && obsB[_pid] == lockCont && obsAge[_pid] >= L ->
       printf("O2 unchanged for a lease: steal\n"); goto S1
    :: obsV[_pid] == stV[_pid] && obsB[_pid] == lockCont && obsAge[_pid] < L ->
       printf("O2 seen %d ticks ago: [IN-USE]\n", obsAge[_pid]); goto refused
#else
    :: obsV[_pid] == stV[_pid] && obsB[_pid] == lockCont -> printf("O2 never stale: [IN-USE]\n"); goto refused
#endif
#if !defined(NODE_RULE) || defined(BOTH_RULES)
    :: else -> obsV[_pid] = stV[_pid]; obsB[_pid] = lockCont; obsAge[_pid] = 0; d_step { canon() };
       printf("O2 new sighting: [IN-USE]\n"); goto refused
#endif
    fi
  };

S1: /* S1: t0 = now (the stealer's window); our record into a fresh tmp/take.<nonce>, fsync */
  atomic { CRASH; wage[_pid] = 0; d_step { newRec(_pid); takeRec[_pid] = gr; canon() };
           printf("p%d S1 t0=now, its record into tmp/take\n", _pid) };

S2: /* S2 (guarded): rename(V, kcol.<node>.<nonce>) */
  atomic {
    CRASH;
    SGUARD(abandon);
    newNonce(n);
    if
    :: lockName == stV[_pid] -> lockName = PRIV(_pid, n); d_step { canon() }; LOSE(err);
       printf("p%d S2 rename(", _pid); sayName(stV[_pid]); printf(", "); sayName(lockName); printf(")"); sayLost()
    :: else -> err = 1; printf("p%d S2 rename fails: V is gone\n", _pid)
    fi
  };
  if
  :: err ->
     atomic {   /* after an error: our name exists -> ours; otherwise someone moved V first: refused */
       err = 0;
       if
       :: lockName == PRIV(_pid, n) -> skip
       :: else -> goto refused
       fi
     }
  :: else
  fi;

#if defined(NODE_RULE) && defined(NODE_RECHECK)
/* NODE_RECHECK: S3 also reads the node records the steal relied on again (still the bytes seen first).  Not part
 * of the rule: without it the safety check passes too (a lapse is final, so a beat confirmed after the sighting
 * revives nothing), README.md, "The node rule". */
#define NRECHECK ((!ISPRIV(stV[_pid]) || PRIVNODE(stV[_pid]) == _pid || nobsOn[_pid*NP + PRIVNODE(stV[_pid])]) && \
                  (obsB[_pid] == EMPTY || obsB[_pid] == GONE || OWNER(obsB[_pid]) == _pid || nobsOn[_pid*NP + OWNER(obsB[_pid])]))
#else
#define NRECHECK true
#endif
#ifndef MUT_NO_RECHECK
S3: /* S3: read the private name: still B?  If not, a live lock: put it back */
  atomic {
    CRASH;
    if
    :: lockName == PRIV(_pid, n) && lockCont == obsB[_pid] && NRECHECK -> printf("p%d S3 re-check: still B\n", _pid)
    :: else -> printf("p%d S3 re-check: changed, puts it back\n", _pid); goto S3back
    fi
  };
#endif

S4: /* S4 (guarded): rename(tmp/take.<nonce>, private): a fresh file replaces the stolen one */
  atomic {
    CRASH;
    SGUARD(abandon);
    /* a rename onto a missing private name would create it: a second lock name */
    printf("p%d S4 rename(tmp/take, private) while ", _pid); sayName(lockName); printf(" is the lock name\n");
    assert(lockName == PRIV(_pid, n));            /* exactly one lock name */
    lockCont = takeRec[_pid];
    takeRec[_pid] = EMPTY;
#ifdef MUT_DIRECT_RENAME
    drUnwritten = 0;
#endif
#ifndef MUT_NO_FRESH_INODE
    ORPHAN_PENDING;      /* writes in flight into the stolen inode now land where nobody reads */
#endif
    d_step { canon() };
    LOSE(err)
  };
  if
  :: err ->
     atomic {   /* after an error: the take file gone and the private name holding our record -> done */
       err = 0;
       if
       :: lockName == PRIV(_pid, n) && OURS(_pid, lockCont) -> skip
       :: else -> goto abandon
       fi
     }
  :: else
  fi;

S5: /* S5 (guarded): rename(private, kcol): published */
  atomic {
    CRASH;
    SGUARD(abandon);
    if
    :: lockName == PRIV(_pid, n) -> lockName = KCOL; d_step { canon() }; LOSE(err);
       printf("p%d S5 rename(private, kcol)", _pid); sayLost();
       if :: !err -> printf("p%d holds the lock, window age %d\n", _pid, wage[_pid]); BECOME_HOLDER; goto finish :: else fi
    :: else -> err = 1
    fi
  };
  atomic {   /* after an error: kcol holds our record -> done */
    err = 0;
    if
    :: lockName == KCOL && OURS(_pid, lockCont) ->
       printf("p%d S5 after the error: kcol holds its record: holds the lock\n", _pid); BECOME_HOLDER; goto finish
    :: else -> goto abandon
    fi
  };

#ifndef MUT_NO_RECHECK
S3back: /* S3 found other bytes: rename it back to V, remove the take file, refused */
  atomic {
    CRASH;
    if :: lockName == PRIV(_pid, n) -> lockName = stV[_pid] :: else fi;
    takeRec[_pid] = EMPTY; stV[_pid] = NONE; d_step { canon() };
    goto refused
  };
#endif

abandon: /* the stealer's window ran out: it issues nothing more (its take file stays, unread) */
  atomic { takeRec[_pid] = EMPTY; d_step { canon() }; printf("p%d abandons the steal\n", _pid); goto refused };

  /* -------------------------- T4 / S6: finish an intent left behind, list */
finish:
#ifdef MUT_LIST_BEFORE_FINISH
  goto list;
finish2:
#endif
  atomic {   /* read `intent` */
    CRASH;
    if
    :: intentPresent -> iset = intentSet; m = 0; printf("p%d T4 finds an intent (%d): finishes it\n", _pid, iset)
    :: else -> goto finished
    fi
  };
  do   /* each message it lists that is still there: unlink (guarded) */
  :: atomic {
       CRASH;
       if
       :: m == NM -> break
       :: ((iset >> m) & 1) && ((msgs >> m) & 1) -> DGUARD(lost);
          printf("p%d T4 unlink(m%d), window age %d\n", _pid, m, wage[_pid]); UNLINK(m); m++
       :: else -> m++
       fi
     }
  od;
  atomic { CRASH; DGUARD(lost); printf("p%d T4 unlink(intent)\n", _pid); RMINTENT; iset = 0; m = 0 };
finished:
#ifdef MUT_LIST_BEFORE_FINISH
  goto held;
list:
#endif
  atomic {   /* list the mailbox once: the session's snapshot */
    CRASH;
#ifndef UNGUARDED_LIST
    GUARD(lost);          /* a session past its window is lost and issues nothing more */
#endif
    printf("p%d lists the mailbox: messages %d, window age %d\n", _pid, msgs, wage[_pid]);
#ifndef MUT_LIST_BEFORE_FINISH
    assert(!intentPresent);       /* (b) an intent is finished before anyone lists */
#endif
    if :: intentPresent -> listedSince = listedSince | msgs :: else fi;
#ifdef MUT_LIST_BEFORE_FINISH
    goto finish2
#else
    IDLE
#endif
  };

  /* ------------------------------------------------------------ holding */
held:
  if
#if !defined(NODE_RULE) || defined(BOTH_RULES)
  :: goto H1              /* with NODE_RULE a held lock has no heartbeat of its own: the node's record is it
                           * (BOTH_RULES: it has, as under the code's `lease` lock rule) */
#endif
  :: msgs != 0 -> goto U1
  :: goto release       /* QUIT without deletions, disconnect, autologout */
  fi;

H1: /* H1 (guarded): past the window -> lost.  H2: t = now; rewrite kcol in place (open existing only) */
  atomic {
    CRASH;
    BUSY;
    GUARD(lost);
    if
    :: pend[_pid] == EMPTY && lockName == KCOL ->
       hbAge[_pid] = 0;
#ifdef HB_FLAG
       hbIssued[_pid] = 1;               /* this session issued a heartbeat write */
#endif
       d_step {
         newRec(_pid); hbRec[_pid] = gr; pend[_pid] = gr;
#ifdef TORN_H2
         lockCont = EMPTY;     /* O_TRUNC at open: the file is empty until the bytes land */
#endif
         canon()
       };
       printf("p%d H1 window age %d; H2 t=now, opens kcol, writes the next beat (in flight)\n", _pid, wage[_pid])
    :: else -> printf("p%d H1/H2 kcol absent or a write still in flight: no write\n", _pid)
    fi
  };
  /* The write is in flight: the environment lands it at any later moment, or
   * never (the call fails; or S4 orphaned its inode).  The caller waits for
   * the call (paused for as long as time advances meanwhile); if it crashes
   * meanwhile, the write may land after successor sessions began.  With
   * H2_TIMEOUT the call may also return an error while the write is still in
   * flight, and the session goes on (H3, UPDATE, release) regardless. */
H3: /* H3: read kcol back */
  if
  :: atomic { CAN_CRASH -> CRASHED }     /* crashes while it waits */
  :: atomic {
#ifdef H2_TIMEOUT
    true ->                              /* (a plain guard: an `if` here would make its `else` see the crash option) */
#else
    pend[_pid] == EMPTY ->               /* the call has returned */
#endif
    if
#ifdef MUT_NO_READBACK
    :: hbRec[_pid] != EMPTY ->          /* confirmed without reading back */
#else
    :: hbRec[_pid] != EMPTY && lockName == KCOL && lockCont == hbRec[_pid] ->   /* our new beat: confirmed */
#endif
#ifdef MUT_WINDOW_FROM_CONFIRM
       wage[_pid] = 0;                   /* the window runs from the read-back, not from H2 */
#else
       wage[_pid] = hbAge[_pid];         /* the window now runs from t */
#endif
       printf("p%d H3 confirmed: window age %d\n", _pid, wage[_pid]);
       CHECK_ME
    :: lockName == KCOL && lockCont != EMPTY && !OURS(_pid, lockCont) ->
       printf("p%d H3 reads another holder's record: lost\n", _pid);
       hbRec[_pid] = EMPTY; hbAge[_pid] = 0; d_step { canon() }; goto lost
    :: else -> printf("p%d H3 reads ", _pid); sayName(lockName); printf(" = "); sayRec(lockCont); printf(": not confirmed\n")
    fi;
    hbRec[_pid] = EMPTY; hbAge[_pid] = 0; d_step { canon() };
    IDLE
  }
  fi;
  goto held;

U1: /* QUIT: the client has marked some of its snapshot (msgs: only this session
     * deletes while it may delete, and (a) checks that).
     * U1 (guarded fencing): kcol holds this session's record, or nothing is deleted */
  atomic {
    CRASH;
    BUSY;
    if
    :: (msgs & 1) -> marks = 1
    :: (msgs & 2) -> marks = 2
    :: NM == 2 && msgs == 3 -> marks = 3
    fi;
    DGUARD(lost);
    if
    :: lockName == KCOL && OURS(_pid, lockCont) -> printf("p%d U1 kcol holds its record (marks %d)\n", _pid, marks)
    :: else -> printf("p%d U1 fencing fails: nothing deleted\n", _pid); goto release
    fi
  };
U2: /* U2 (guarded): the intent (marked names) written and renamed to `intent` */
  atomic {
    CRASH;
    DGUARD(lost);
    printf("p%d U2 writes intent (%d), window age %d\n", _pid, marks, wage[_pid]);
    assert(!OTHERMAY(_pid));         /* (a) */
    assert(!intentPresent);          /* (b) never overwrites an unfinished intent */
    intentPresent = 1; intentSet = marks; listedSince = 0; m = 0;
    LOSE(err)
  };
  if
  :: err -> atomic { err = 0; if :: intentPresent -> skip :: else -> goto release fi }
  :: else
  fi;
U3: /* U3 (guarded): unlink each marked message (an already missing one is fine) */
  do
  :: atomic {
       CRASH;
       if
       :: m == NM -> break
       :: (marks >> m) & 1 -> DGUARD(lost);
          printf("p%d U3 unlink(m%d), window age %d\n", _pid, m, wage[_pid]); UNLINK(m); m++
       :: else -> m++
       fi
     }
  od;
U4: /* U4 (guarded): unlink(intent), then release */
  atomic { CRASH; DGUARD(lost); printf("p%d U4 unlink(intent)\n", _pid); RMINTENT; marks = 0; m = 0; goto release };

lost: /* the session is lost: no more guarded steps; the connection closes, which releases */
  atomic { holds[_pid] = 0; wage[_pid] = W;   /* lost: its window is over (and no quick release) */
           printf("p%d session lost\n", _pid); goto release };

  /* ------------------------------------------------------------ release */
release: /* R1: rename(kcol, kcol.<node>.<nonce>) (no window needed); or R0's R1, guarded */
  atomic {
    CRASH;
    BUSY;
    holds[_pid] = 0; marks = 0; iset = 0; m = 0;
    if
    :: QUICK_OK -> quick = 1; wage[_pid] = W;
#ifdef MUT_SKIP_R3
       printf("p%d R0 quick release (the mutation: even after a heartbeat write)\n", _pid)
#else
       printf("p%d R0 quick release (no heartbeat write issued)\n", _pid)
#endif
    :: else -> quick = 0;
#if defined(R3_GUARDED) && !defined(R3_IN_PLACE)
       wage[_pid] = 0    /* R1's issue starts a release window for R3 */
#else
       wage[_pid] = W
#endif
    fi;
    newNonce(n);
    if
    :: lockName == KCOL -> lockName = PRIV(_pid, n); d_step { canon() }; LOSE(err);
       printf("p%d R1 rename(kcol, ", _pid); sayName(lockName); printf(")"); sayLost()
    :: else -> err = 1
    fi
  };
  if
  :: err ->
     atomic {   /* after an error: our name exists -> ours; kcol gone -> nothing to release */
       err = 0;
       if
       :: lockName == PRIV(_pid, n) -> skip
       :: else -> printf("p%d R1 nothing to release\n", _pid); goto ended
       fi
     }
  :: else
  fi;
#ifndef QUICK_R2
  if :: quick -> goto R4 :: else fi;    /* R0: straight on to rename(private, lock) */
#endif
R2: /* R2: read the record: not ours (someone took over) -> rename it back to kcol and stop */
  atomic {
    CRASH;
    if
    :: lockName == PRIV(_pid, n) && OURS(_pid, lockCont) -> printf("p%d R2 reads its own record\n", _pid);
#ifdef QUICK_R2
       if :: quick -> goto R4 :: else fi   /* quick: no R3 */
#else
       skip
#endif
    :: lockName == PRIV(_pid, n) && !OURS(_pid, lockCont) -> goto R2back
    :: else -> goto ended            /* the read fails: taken over meanwhile */
    fi
  };
#ifdef R3_IN_PLACE
R3: /* R3 (the doc's first version): empty the record in place, rename(private, lock) */
  atomic { CRASH; if :: lockName == PRIV(_pid, n) -> lockCont = EMPTY; d_step { canon() } :: else -> goto ended fi };
#else
R3: /* R3: rename a fresh empty file (tmp/free.<nonce>) over the private name ... */
  atomic {
    CRASH;
#ifdef R3_GUARDED
    GUARD(ended);        /* only within W of R1's issue (else leave the name to go stale) */
#endif
    printf("p%d R3 rename(tmp/free, private) while ", _pid); sayName(lockName); printf(" is the lock name\n");
    /* a rename onto a missing private name would create it: a second lock name */
    assert(lockName == PRIV(_pid, n));            /* exactly one lock name */
    lockCont = EMPTY;
    ORPHAN_PENDING;      /* writes in flight into the old inode now land where nobody reads */
    d_step { canon() }
  };
#endif
R4: /* R4 (the doc's last part of R3; R0's second rename): rename(private, lock)
     * (checked: lock exists and the private name not -> done; never retried) */
  atomic {
    CRASH;
    if :: lockName == PRIV(_pid, n) -> lockName = LOCK; d_step { canon() } :: else fi;
    printf("p%d R4 rename(private, lock): released, lock holds ", _pid); sayRec(lockCont); printf("\n");
    goto ended
  };
R2back:
  atomic {
    CRASH;
    if :: lockName == PRIV(_pid, n) -> lockName = KCOL; d_step { canon() } :: else fi;
    printf("p%d R2 not its record: renamed back to kcol\n", _pid);
    goto ended
  };

refused: /* [IN-USE] (or the session is over): the client may try again */
ended:
  atomic {
    holds[_pid] = 0; wage[_pid] = W; stV[_pid] = NONE; takeRec[_pid] = EMPTY; hbIssued[_pid] = 0;
    marks = 0; iset = 0; m = 0; err = 0; n = 0; quick = 0;
    d_step { canon() };
    IDLE; RETRY_LATER;
    goto session
  };
halt:
  skip
}

#ifdef NODE_RULE
/* a write into node q's record lands: every sighting of q's record is void */
#if NP == 2
#define NOBS_VOID(q) nobsOn[q] = 0; nobsAge[q] = 0; nobsOn[NP+(q)] = 0; nobsAge[NP+(q)] = 0
#define NOBS_ANY(q) (nobsOn[q] || nobsOn[NP+(q)])
#define NOBS_MISSING(o) (((o) != 0 && !nobsOn[(o)*NP]) || ((o) != 1 && !nobsOn[(o)*NP+1]))
#else
#define NOBS_MISSING(o) (((o) != 0 && !nobsOn[(o)*NP]) || ((o) != 1 && !nobsOn[(o)*NP+1]) || ((o) != 2 && !nobsOn[(o)*NP+2]))
#define NOBS_ANY(q) (nobsOn[q] || nobsOn[NP+(q)] || nobsOn[2*NP+(q)])
#define NOBS_VOID(q) nobsOn[q] = 0; nobsAge[q] = 0; nobsOn[NP+(q)] = 0; nobsAge[NP+(q)] = 0; \
                     nobsOn[2*NP+(q)] = 0; nobsAge[2*NP+(q)] = 0
#endif
#endif

#ifdef NODE_RULE
/* ============================================================ node beat */
/* The node's registry record is its heartbeat (docs/decisions/0013).  A thread
 * of the node, independent of its sessions: it may stall (an NFS call that hangs)
 * while they go on, and a crash of the node (Sess's RESET) resets its state.
 * One beat is one step here: t = now; rewrite the record with fresh bytes (a
 * beat counter and a random field); read it back: the bytes of this beat ->
 * confirmed, and the node's window runs from t.  A write that fails confirms
 * nothing.  Why one step is enough: the window runs from the write's issue,
 * and a write that lands later than its issue only voids sightings later (what
 * a stealer waits for), so a beat spread over time allows no steal that this
 * one does not; a late write of a crashed incarnation only voids sightings
 * (availability).  A window that ran out is not reopened for the sessions that
 * were open (sok stays clear); new logins may begin again.
 * At each beat the same thread reads the other nodes' records (a sighting: the
 * bytes and when they were first seen; any write that lands since makes it
 * void), as the code's registry beat does. */
active [NP] proctype NBeat()
{
  byte q = _pid - NP;
  byte x;
end_nb:
  do
  :: atomic { (nage[q] != 0 || NOBS_ANY(q) || NOBS_MISSING(q)) ALIVE(q) ->   /* a beat (left out where it would
                                                                               change nothing) */
       NOBS_VOID(q);                                 /* written: every sighting of our record is void */
       nage[q] = 0;                                  /* read back, confirmed */
       x = 0;                                        /* and the other nodes' records read: new sightings */
       do
       :: x == NP -> break
       :: x < NP && x != q && !nobsOn[q*NP + x] -> nobsOn[q*NP + x] = 1; nobsAge[q*NP + x] = 0; x++
       :: x < NP && (x == q || nobsOn[q*NP + x]) -> x++
       od;
       x = 0;
#ifdef MUT_LAPSE_REVIVES
       sok[q] = 1;                                   /* mutation: a confirmed beat revives the open sessions */
#endif
       printf("p%d beats: node window opens\n", q);
       assert(!(MAYDEL(q) && OTHERMAY(q))) }
  /* A beat whose write fails confirms nothing: the same as no beat (a stall), so it needs no step of its own. */
#ifdef MUT_NODE_NO_READBACK
  :: atomic { nage[q] != 0 ALIVE(q) ->              /* mutation: a failed write confirmed without reading back */
       nage[q] = 0;
       printf("p%d beats: the write fails, confirmed all the same\n", q);
       assert(!(MAYDEL(q) && OTHERMAY(q))) }
#endif
  od
}
#endif

/* ============================================================ environment */
#ifdef LIVENESS
#if NP == 2 && defined(NODE_RULE)
/* once stable, a live node's beats keep up: time advances only right after each live node confirmed one */
#define TICKOK (!stable || ((dead[0] || (!busy[0] && nage[0] == 0)) && (dead[1] || (!busy[1] && nage[1] == 0))))
#elif NP == 2
#define TICKOK (!stable || ((dead[0] || !busy[0]) && (dead[1] || !busy[1])))
#else
#define TICKOK (!stable || ((dead[0] || !busy[0]) && (dead[1] || !busy[1]) && (dead[2] || !busy[2])))
#endif
#else
#define TICKOK true
#endif

#ifdef NODE_RULE
#if NP == 2
#define NOBSAGING(q) ((nobsOn[(q)*NP] && nobsAge[(q)*NP] < L) || (nobsOn[(q)*NP+1] && nobsAge[(q)*NP+1] < L))
#else
#define NOBSAGING(q) ((nobsOn[(q)*NP] && nobsAge[(q)*NP] < L) || (nobsOn[(q)*NP+1] && nobsAge[(q)*NP+1] < L) \
                      || (nobsOn[(q)*NP+2] && nobsAge[(q)*NP+2] < L))
#endif
#ifdef BOTH_RULES
#define SAGES(q) (nage[q] < W || NOBSAGING(q) || wage[q] < W || (hbRec[q] != EMPTY && hbAge[q] < W) || (obsV[q] != NONE && obsAge[q] < L))
#else
#define SAGES(q) (nage[q] < W || NOBSAGING(q))
#endif
#else
#define SAGES(q) (wage[q] < W || (hbRec[q] != EMPTY && hbAge[q] < W) || (obsV[q] != NONE && obsAge[q] < L))
#endif
#ifdef LIVENESS
#define AGES(q) (SAGES(q) || retry[q])
#else
#define AGES(q) SAGES(q)
#endif
#if NP == 2
#define AGING (AGES(0) || AGES(1))
#else
#define AGING (AGES(0) || AGES(1) || AGES(2))
#endif

/* CHECK_LATE_WRITE: the doc's claim that a late heartbeat write "changes
 * nothing anyone reads": it never lands on the record of another session that
 * holds the lock, or that is in a lock name (kcol, or a private name: a taker
 * between T2 and T3 would publish the late write instead of its record).  Only
 * a free `lock`'s stale record is not asserted on: the next T2 rewrites it.
 * An availability property, not part of the safety checks. */
#ifdef CHECK_LATE_WRITE
#define LATE_HIT(o) ((holds[o] || lockName != LOCK) && OURS(o, lockCont))
#if NP == 2
#define CHECK_LATE(q) assert(!LATE_HIT(1-(q)))
#else
#define CHECK_LATE(q) assert(!(((q) != 0 && LATE_HIT(0)) || ((q) != 1 && LATE_HIT(1)) || ((q) != 2 && LATE_HIT(2))))
#endif
#else
#define CHECK_LATE(q) skip
#endif

/* an in-flight heartbeat write lands, late, in the inode it opened */
#define LAND(q) atomic { pend[q] != EMPTY -> printf("env: p%d's heartbeat write lands in ", q); sayName(lockName); \
                         printf("\n"); CHECK_LATE(q); lockCont = pend[q]; pend[q] = EMPTY; d_step { canon() } }
/* an in-flight heartbeat write never reaches the store (the call fails) */
#define DROP(q) atomic { pend[q] != EMPTY -> pend[q] = EMPTY; d_step { canon() }; \
                         printf("env: p%d's heartbeat write is lost\n", q) }

active proctype Env()
{
end_env:
  do
  :: atomic {   /* time advances one tick on every clock (ages saturate; a tick that changes nothing is left out) */
       TICKOK && AGING ->
       d_step {
         gi = 0;
         do
         :: gi == NP -> break
         :: else ->
#if !defined(NODE_RULE) || defined(BOTH_RULES)
            if :: wage[gi] < W -> wage[gi]++ :: else fi;
            if :: hbRec[gi] != EMPTY && hbAge[gi] < W -> hbAge[gi]++ :: else fi;
            if :: obsV[gi] != NONE && obsAge[gi] < L -> obsAge[gi]++ :: else fi;
#endif
#ifdef NODE_RULE
            if :: nage[gi] < W -> nage[gi]++ :: else fi;
            if :: nage[gi] >= W -> sok[gi] = 0 :: else fi;      /* the node's window ran out: a lapse, final */
            gr = 0;
            do
            :: gr == NP -> break
            :: else -> if :: nobsOn[gi*NP + gr] && nobsAge[gi*NP + gr] < L -> nobsAge[gi*NP + gr]++ :: else fi; gr++
            od;
            gr = 0;
#endif
#ifdef LIVENESS
            retry[gi] = 0;
#endif
            gi++
         od;
         gi = 0
       };
       printf("env: tick\n")
     }
  :: LAND(0)
  :: LAND(1)
#if NP == 3
  :: LAND(2)
#endif
  :: DROP(0)
  :: DROP(1)
#if NP == 3
  :: DROP(2)
#endif
#ifdef LIVENESS
  :: atomic { !stable -> stable = 1; printf("env: pauses end\n") }
#endif
  od
}

#ifdef LIVENESS
/* (c) once process 0 has stopped for good (and pauses have ended), process 1 eventually holds the lock */
ltl live { [] ((dead[0] && stable) -> <> holds[1]) }
#endif
