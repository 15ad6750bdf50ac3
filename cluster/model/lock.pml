/*
 * lock.pml -- the mailbox lock of docs/lock-protocol.md, checked with spin 6.5.
 *
 * NP session processes (2 by default) loop forever: a client logs in (take
 * T1-T3, or observe O1-O2 and steal S1-S5), the session finishes a delete
 * intent left behind and lists the mailbox (T4/S6), heartbeats (H1-H3), runs
 * UPDATE with a delete intent (U1-U4) and releases (R1-R3).  Any process may
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
 *   UNGUARDED_LIST  T4/S6 list the mailbox without checking the window
 *   MUT_*           a protocol step removed (run-model.sh --mutations)
 *   NOHIDDEN        no hidden variables (needed by -DBFS in pan)
 */

#ifndef NP
#define NP 2
#endif

#define L 4               /* lease, in clock ticks */
#define W 2               /* window = L/2 */
#define NM 2              /* messages m0, m1 */
#define ALLM 3

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
#define K (NP+5)
#define NREC (NP*K+1)
#define OWNER(r) (((r)-1)/K)
#define OURS(q,r) ((r) != EMPTY && OWNER(r) == (q) && rcur[r])   /* this session's record, any beat */

byte lockName = LOCK;     /* the one lock name */
byte lockCont = EMPTY;    /* bytes of the lock file's inode, whatever its name */
byte msgs = ALLM;         /* messages present, a bit each */
bool intentPresent;       /* `intent` exists ... */
byte intentSet;           /* ... listing these messages */

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
bool executing[NP];       /* is executing an intent (U2..U4, or T4/S6 finishing one) */
byte execListed[NP];      /* messages a session listed since it started executing that intent */

#ifdef LIVENESS
bool stable;              /* pauses have ended: time advances only while every live process waits */
bool busy[NP];
bool dead[NP];
#define BUSY busy[_pid] = 1
#define IDLE busy[_pid] = 0
#else
#define BUSY skip
#define IDLE skip
#endif

#ifdef NOHIDDEN
#define HIDDEN
#else
#define HIDDEN hidden
#endif
HIDDEN byte gi, gj, gn, gr;          /* scratch, used only inside d_step / atomic sequences */
HIDDEN byte cmap[K], crc[K];

/* --------------------------------------------------------- helper macros */
#define MAYDEL(q) (holds[q] && wage[q] < W)
#if NP == 2
#define OTHERMAY(q) (((q) != 0 && MAYDEL(0)) || ((q) != 1 && MAYDEL(1)))
#define REFR(i) (lockCont == (i) || REFP(0,i) || REFP(1,i))
#define REFN(x) (lockName == (x) || obsV[0] == (x) || obsV[1] == (x) || stV[0] == (x) || stV[1] == (x))
#define ORPHAN_PENDING pend[0] = EMPTY; pend[1] = EMPTY
#define FORSLOTS(M, q) M(q, lockCont); \
        M(q, pend[0]); M(q, hbRec[0]); M(q, takeRec[0]); M(q, obsB[0]); \
        M(q, pend[1]); M(q, hbRec[1]); M(q, takeRec[1]); M(q, obsB[1])
#elif NP == 3
#define OTHERMAY(q) (((q) != 0 && MAYDEL(0)) || ((q) != 1 && MAYDEL(1)) || ((q) != 2 && MAYDEL(2)))
#define REFR(i) (lockCont == (i) || REFP(0,i) || REFP(1,i) || REFP(2,i))
#define REFN(x) (lockName == (x) || obsV[0] == (x) || obsV[1] == (x) || obsV[2] == (x) \
                 || stV[0] == (x) || stV[1] == (x) || stV[2] == (x))
#define ORPHAN_PENDING pend[0] = EMPTY; pend[1] = EMPTY; pend[2] = EMPTY
#define FORSLOTS(M, q) M(q, lockCont); \
        M(q, pend[0]); M(q, hbRec[0]); M(q, takeRec[0]); M(q, obsB[0]); \
        M(q, pend[1]); M(q, hbRec[1]); M(q, takeRec[1]); M(q, obsB[1]); \
        M(q, pend[2]); M(q, hbRec[2]); M(q, takeRec[2]); M(q, obsB[2])
#else
#error "NP must be 2 or 3"
#endif
#define REFP(q,i) (pend[q] == (i) || hbRec[q] == (i) || takeRec[q] == (i) || obsB[q] == (i))

/* A rename whose reply may be lost: it happened, and the caller sees an error. */
#define LOSE(e) if :: e = 0 :: e = 1 fi

/* CRASH before this step: the process loses its memory and starts again as a
 * fresh process (its files and an in-flight write stay).  Stopping forever
 * needs no transition of its own: it is a pause that never ends, and the
 * exhaustive search contains every run in which a process stops moving. */
#ifdef LIVENESS
#define CRASH if :: _pid == 0 -> RESET; if :: skip :: dead[_pid] = 1; goto halt fi; goto session :: skip fi
#else
#define CRASH if :: RESET; goto session :: skip fi
#endif
#define RESET \
    holds[_pid] = 0; wage[_pid] = W; hbRec[_pid] = EMPTY; hbAge[_pid] = 0; \
    obsV[_pid] = NONE; obsB[_pid] = EMPTY; obsAge[_pid] = 0; stV[_pid] = NONE; \
    takeRec[_pid] = EMPTY; executing[_pid] = 0; execListed[_pid] = 0; \
    n = 0; marks = 0; iset = 0; m = 0; err = 0; \
    d_step { retag(_pid); canon() }; \
    IDLE

/* Guarded step: the window check and the issue are one atomic step (the
 * stated assumption: a guarded step reaches the store within L-W of its check). */
#define GUARD(out) if :: wage[_pid] < W -> skip :: else -> goto out fi
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
#define MAPSLOT(q, s) if :: (s) != EMPTY && OWNER(s) == (q) && cmap[(s) - (q)*K - 1] == 0 -> \
                                gn++; cmap[(s) - (q)*K - 1] = gn :: else fi
#define REMAP(q, s)   if :: (s) != EMPTY && OWNER(s) == (q) -> s = (q)*K + cmap[(s) - (q)*K - 1] :: else fi

/* Renumber the records of process q in order of first appearance (lockCont,
 * then each process's slots); unreferenced ids lose their rcur bit. */
inline canonOne(q) {
  gi = 0; do :: gi == K -> break :: else -> cmap[gi] = 0; crc[gi] = 0; gi++ od;
  gn = 0;
  FORSLOTS(MAPSLOT, q);
  gi = 0;
  do
  :: gi == K -> break
  :: else -> if :: cmap[gi] != 0 -> crc[cmap[gi] - 1] = rcur[(q)*K + 1 + gi] :: else fi; gi++
  od;
  gi = 0; do :: gi == K -> break :: else -> rcur[(q)*K + 1 + gi] = crc[gi]; gi++ od;
  FORSLOTS(REMAP, q)
}

inline canon() {
  gj = 0;
  do
  :: gj == NP -> break
  :: else -> canonOne(gj); gj++
  od;
  gj = 0;
#ifdef NOHIDDEN
  gi = 0; do :: gi == K -> break :: else -> cmap[gi] = 0; crc[gi] = 0; gi++ od;
  gi = 0; gj = 0; gn = 0; gr = 0
#endif
}

/* A fresh record of process q, in gr. */
inline newRec(q) {
  gi = (q)*K + 1; gr = EMPTY;
  do
  :: gi > (q)*K + K -> break
  :: else -> if :: gr == EMPTY && !REFR(gi) -> gr = gi :: else fi; gi++
  od;
  assert(gr != EMPTY);     /* the record pool is large enough */
  rcur[gr] = 1
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
  holds[_pid] = 1; CHECK_ME; \
  obsV[_pid] = NONE; obsB[_pid] = EMPTY; obsAge[_pid] = 0; stV[_pid] = NONE

/* A message unlink issued by this process (T4/S6 or U3). */
#define UNLINK(mm) \
  assert(!OTHERMAY(_pid));                             /* (a) nobody else may delete */ \
  assert(intentPresent && ((intentSet >> (mm)) & 1));  /* (b) only what an intent lists */ \
  assert(((execListed[_pid] >> (mm)) & 1) == 0);       /* (b) never what a newer session listed */ \
  msgs = msgs & (ALLM - (1 << (mm)))

/* unlink(intent) by this process (U4, or the end of T4/S6). */
#define RMINTENT \
  assert(!OTHERMAY(_pid));                             /* (a) */ \
  assert(intentPresent);                               /* (b) finished once */ \
  assert((intentSet & msgs) == 0);                     /* (b) all it lists is deleted */ \
  intentPresent = 0; intentSet = 0; executing[_pid] = 0; execListed[_pid] = 0

/* ================================================================ session */
active [NP] proctype Sess()
{
  byte n;        /* nonce of this attempt's private name */
  byte marks;    /* messages the client marked for deletion (chosen when it lists) */
  byte iset;     /* T4/S6: the intent being finished */
  byte m;
  bool err;

  atomic { RESET };

session:
  /* A client logs in: a new session (a new session id: no earlier record is ours). */
  atomic { BUSY; d_step { retag(_pid); canon() } };

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
    :: lockName == LOCK -> lockName = KCOL; n = 0; goto T2
    :: lockName == KCOL && lockCont == EMPTY -> n = 0; goto T2
    :: else -> n = 0; goto O1
    fi
#else
    if
    :: lockName == LOCK -> lockName = PRIV(_pid, n); LOSE(err)
    :: else -> err = 1
    fi
#endif
  };
  if
  :: !err -> goto T2
  :: else ->
     atomic {   /* after an error: our private name exists -> we won; otherwise someone has it: observe */
       CRASH;
       err = 0;
       if
       :: lockName == PRIV(_pid, n) -> goto T2
       :: else -> n = 0; goto O1
       fi
     }
  fi;

T2: /* T2: t0 = now (the window starts here); our record into the private file, fsync */
  atomic {
    CRASH;
    wage[_pid] = 0;
#ifdef MUT_DIRECT_RENAME
    if
    :: lockName == KCOL -> d_step { newRec(_pid); lockCont = gr; canon() }; BECOME_HOLDER; goto finish
    :: else -> goto ended
    fi
#endif
    if
    :: lockName == PRIV(_pid, n) -> d_step { newRec(_pid); lockCont = gr; canon() }
    :: else ->
#ifdef MUT_T2_CREATE
       /* the write creates the private file when it is missing (O_CREAT) */
       assert(lockName == PRIV(_pid, n))         /* exactly one lock name */
#else
       goto ended     /* taken over while we were paused: the open fails; nothing to give back */
#endif
    fi
  };

T3: /* T3: rename(private, kcol): published */
  atomic {
    CRASH;
    if
    :: lockName == PRIV(_pid, n) -> lockName = KCOL; LOSE(err); if :: !err -> BECOME_HOLDER; goto finish :: else fi
    :: else -> err = 1
    fi
  };
  atomic {   /* after an error: kcol holds our record -> published */
    CRASH;
    err = 0;
    if
    :: lockName == KCOL && OURS(_pid, lockCont) -> BECOME_HOLDER; goto finish
    :: else
    fi
  };
  /* otherwise put lock back (record emptied) and fail */
  atomic { CRASH; if :: lockName == PRIV(_pid, n) -> lockCont = EMPTY; d_step { canon() } :: else fi };
  atomic { CRASH; if :: lockName == PRIV(_pid, n) -> lockName = LOCK :: else fi; goto ended };

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
    if
#ifndef MUT_NEVER_STALE
    :: obsV[_pid] == stV[_pid] && obsB[_pid] == lockCont && obsAge[_pid] >= L -> goto S1   /* stale: steal */
    :: obsV[_pid] == stV[_pid] && obsB[_pid] == lockCont && obsAge[_pid] < L -> goto refused
#else
    :: obsV[_pid] == stV[_pid] && obsB[_pid] == lockCont -> goto refused
#endif
    :: else -> obsV[_pid] = stV[_pid]; obsB[_pid] = lockCont; obsAge[_pid] = 0; d_step { canon() }; goto refused
    fi
  };

S1: /* S1: t0 = now (the stealer's window); our record into a fresh tmp/take.<nonce>, fsync */
  atomic { CRASH; wage[_pid] = 0; d_step { newRec(_pid); takeRec[_pid] = gr; canon() } };

S2: /* S2 (guarded): rename(V, kcol.<node>.<nonce>) */
  atomic {
    CRASH;
    SGUARD(abandon);
    newNonce(n);
    if
    :: lockName == stV[_pid] -> lockName = PRIV(_pid, n); LOSE(err)
    :: else -> err = 1
    fi
  };
  if
  :: err ->
     atomic {   /* after an error: our name exists -> ours; otherwise someone moved V first: refused */
       CRASH;
       err = 0;
       if
       :: lockName == PRIV(_pid, n) -> skip
       :: else -> goto refused
       fi
     }
  :: else
  fi;

#ifndef MUT_NO_RECHECK
S3: /* S3: read the private name: still B?  If not, a live lock: put it back */
  atomic {
    CRASH;
    if
    :: lockName == PRIV(_pid, n) && lockCont == obsB[_pid] -> skip
    :: else -> goto S3back
    fi
  };
#endif

S4: /* S4 (guarded): rename(tmp/take.<nonce>, private): a fresh file replaces the stolen one */
  atomic {
    CRASH;
    SGUARD(abandon);
    /* a rename onto a missing private name would create it: a second lock name */
    assert(lockName == PRIV(_pid, n));            /* exactly one lock name */
    lockCont = takeRec[_pid];
    takeRec[_pid] = EMPTY;
#ifndef MUT_NO_FRESH_INODE
    ORPHAN_PENDING;      /* writes in flight into the stolen inode now land where nobody reads */
#endif
    d_step { canon() };
    LOSE(err)
  };
  if
  :: err ->
     atomic {   /* after an error: the take file gone and the private name holding our record -> done */
       CRASH;
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
    :: lockName == PRIV(_pid, n) -> lockName = KCOL; LOSE(err); if :: !err -> BECOME_HOLDER; goto finish :: else fi
    :: else -> err = 1
    fi
  };
  atomic {   /* after an error: kcol holds our record -> done */
    CRASH;
    err = 0;
    if
    :: lockName == KCOL && OURS(_pid, lockCont) -> BECOME_HOLDER; goto finish
    :: else -> goto abandon
    fi
  };

#ifndef MUT_NO_RECHECK
S3back: /* S3 found other bytes: rename it back to V, remove the take file, refused */
  atomic {
    CRASH;
    if :: lockName == PRIV(_pid, n) -> lockName = stV[_pid] :: else fi;
    takeRec[_pid] = EMPTY; d_step { canon() };
    goto refused
  };
#endif

abandon: /* the stealer's window ran out: it issues nothing more (its take file stays, unread) */
  atomic { takeRec[_pid] = EMPTY; d_step { canon() }; goto refused };

  /* -------------------------- T4 / S6: finish an intent left behind, list */
finish:
#ifdef MUT_LIST_BEFORE_FINISH
  goto list;
finish2:
#endif
  atomic {   /* read `intent` */
    CRASH;
    if
    :: intentPresent -> iset = intentSet; executing[_pid] = 1; execListed[_pid] = 0; m = 0
    :: else -> goto finished
    fi
  };
  do   /* each message it lists that is still there: unlink (guarded) */
  :: atomic {
       CRASH;
       if
       :: m == NM -> break
       :: ((iset >> m) & 1) && ((msgs >> m) & 1) -> DGUARD(lost); UNLINK(m); m++
       :: else -> m++
       fi
     }
  od;
  atomic { CRASH; DGUARD(lost); RMINTENT; iset = 0; m = 0 };    /* then unlink(intent) (guarded) */
finished:
#ifdef MUT_LIST_BEFORE_FINISH
  goto held;
list:
#endif
  atomic {   /* list the mailbox once: the session's snapshot; the client marks some of it */
    CRASH;
#ifndef UNGUARDED_LIST
    GUARD(lost);          /* a session past its window is lost and issues nothing more */
#endif
#ifndef MUT_LIST_BEFORE_FINISH
    assert(!intentPresent);       /* (b) an intent is finished before anyone lists */
#endif
    gi = 0;
    do
    :: gi == NP -> break
    :: else -> if :: executing[gi] -> execListed[gi] = execListed[gi] | msgs :: else fi; gi++
    od;
    if
    :: marks = 0
    :: (msgs & 1) -> marks = 1
    :: (msgs & 2) -> marks = 2
    :: msgs == 3 -> marks = 3
    fi;
#ifdef MUT_LIST_BEFORE_FINISH
    goto finish2
#else
    IDLE
#endif
  };

  /* ------------------------------------------------------------ holding */
held:
  if
  :: goto H1
  :: marks != 0 -> goto U1
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
       d_step {
         newRec(_pid); hbRec[_pid] = gr; pend[_pid] = gr;
#ifdef TORN_H2
         lockCont = EMPTY;     /* O_TRUNC at open: the file is empty until the bytes land */
#endif
         canon()
       }
    :: else -> skip   /* kcol absent (the open fails), or our previous write is still in flight */
    fi
  };
  /* The write lands now, later (the environment lands it: a paused or timed-out
   * caller), or never (its inode was orphaned by S4); the caller goes on to H3
   * when the call returns or times out. */
H3: /* H3: read kcol back */
  atomic {
    CRASH;
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
       CHECK_ME
    :: lockName == KCOL && lockCont != EMPTY && !OURS(_pid, lockCont) ->
       hbRec[_pid] = EMPTY; hbAge[_pid] = 0; d_step { canon() }; goto lost    /* another holder's record */
    :: else -> skip        /* absent, empty, or an older beat of ours: not confirmed */
    fi;
    hbRec[_pid] = EMPTY; hbAge[_pid] = 0; d_step { canon() };
    IDLE
  };
  goto held;

U1: /* U1 (guarded fencing): kcol holds this session's record, or nothing is deleted */
  atomic {
    CRASH;
    BUSY;
    DGUARD(lost);
    if
    :: lockName == KCOL && OURS(_pid, lockCont) -> skip
    :: else -> goto release          /* -ERR [SYS/TEMP]; the connection closes */
    fi
  };
U2: /* U2 (guarded): the intent (marked names) written and renamed to `intent` */
  atomic {
    CRASH;
    DGUARD(lost);
    assert(!OTHERMAY(_pid));         /* (a) */
    assert(!intentPresent);          /* (b) never overwrites an unfinished intent */
    intentPresent = 1; intentSet = marks; executing[_pid] = 1; execListed[_pid] = 0; m = 0;
    LOSE(err)
  };
  if
  :: err -> atomic { CRASH; err = 0; if :: intentPresent -> skip :: else -> goto release fi }
  :: else
  fi;
U3: /* U3 (guarded): unlink each marked message (an already missing one is fine) */
  do
  :: atomic {
       CRASH;
       if
       :: m == NM -> break
       :: (marks >> m) & 1 -> DGUARD(lost); UNLINK(m); m++
       :: else -> m++
       fi
     }
  od;
U4: /* U4 (guarded): unlink(intent), then release */
  atomic { CRASH; DGUARD(lost); RMINTENT; marks = 0; m = 0; goto release };

lost: /* the session is lost: no more guarded steps; the connection closes, which releases */
  atomic { holds[_pid] = 0; goto release };

  /* ------------------------------------------------------------ release */
release: /* R1: rename(kcol, kcol.<node>.<nonce>) (no window needed) */
  atomic {
    CRASH;
    BUSY;
    holds[_pid] = 0; executing[_pid] = 0; execListed[_pid] = 0; marks = 0; iset = 0; m = 0;
    newNonce(n);
    if
    :: lockName == KCOL -> lockName = PRIV(_pid, n); LOSE(err)
    :: else -> err = 1
    fi
  };
  if
  :: err ->
     atomic {   /* after an error: our name exists -> ours; kcol gone -> nothing to release */
       CRASH;
       err = 0;
       if
       :: lockName == PRIV(_pid, n) -> skip
       :: else -> goto ended
       fi
     }
  :: else
  fi;
R2: /* R2: read the record: not ours (someone took over) -> rename it back to kcol and stop */
  atomic {
    CRASH;
    if
    :: lockName == PRIV(_pid, n) && OURS(_pid, lockCont) -> skip
    :: lockName == PRIV(_pid, n) && !OURS(_pid, lockCont) -> goto R2back
    :: else -> goto ended            /* the read fails: taken over meanwhile */
    fi
  };
R3: /* R3: empty the record, rename(private, lock) */
  atomic { CRASH; if :: lockName == PRIV(_pid, n) -> lockCont = EMPTY; d_step { canon() } :: else -> goto ended fi };
  atomic { CRASH; if :: lockName == PRIV(_pid, n) -> lockName = LOCK :: else fi; goto ended };
R2back:
  atomic { CRASH; if :: lockName == PRIV(_pid, n) -> lockName = KCOL :: else fi; goto ended };

refused: /* [IN-USE] (or the session is over): the client may try again */
ended:
  atomic {
    holds[_pid] = 0; wage[_pid] = W; stV[_pid] = NONE; takeRec[_pid] = EMPTY;
    executing[_pid] = 0; execListed[_pid] = 0; marks = 0; iset = 0; m = 0; err = 0; n = 0;
    d_step { canon() };
    IDLE;
    goto session
  };
halt:
  skip
}

/* ============================================================ environment */
#ifdef LIVENESS
#if NP == 2
#define TICKOK (!stable || ((dead[0] || !busy[0]) && (dead[1] || !busy[1])))
#else
#define TICKOK (!stable || ((dead[0] || !busy[0]) && (dead[1] || !busy[1]) && (dead[2] || !busy[2])))
#endif
#else
#define TICKOK true
#endif

/* an in-flight heartbeat write lands, late, in the inode it opened */
#define LAND(q) atomic { pend[q] != EMPTY -> lockCont = pend[q]; pend[q] = EMPTY; d_step { canon() } }

active proctype Env()
{
end_env:
  do
  :: atomic {   /* time advances one tick on every clock (ages saturate) */
       TICKOK ->
       d_step {
         gi = 0;
         do
         :: gi == NP -> break
         :: else ->
            if :: wage[gi] < W -> wage[gi]++ :: else fi;
            if :: hbRec[gi] != EMPTY && hbAge[gi] < W -> hbAge[gi]++ :: else fi;
            if :: obsV[gi] != NONE && obsAge[gi] < L -> obsAge[gi]++ :: else fi;
            gi++
         od;
         gi = 0
       }
     }
  :: LAND(0)
  :: LAND(1)
#if NP == 3
  :: LAND(2)
#endif
#ifdef LIVENESS
  :: atomic { !stable -> stable = 1 }
#endif
  od
}

#ifdef LIVENESS
/* (c) once process 0 has stopped for good (and pauses have ended), process 1 eventually holds the lock */
ltl live { [] ((dead[0] && stable) -> <> holds[1]) }
#endif
