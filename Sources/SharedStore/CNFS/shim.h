// libnfs (Debian libnfs-dev 4.0.0): the mount through its synchronous API, then NFSv3 calls through its raw RPC
// API on file handles (Sources/SharedStore/NFSVolume.swift), one context per thread, never on an event loop.
#include <stdint.h>
#include <poll.h>
#include <sys/time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>

// The export's root file handle after nfs_mount. libnfs exports nfs_get_rootfh but declares it only in its
// private header; its result is {int len; char *val;} (4.0's struct nfs_fh, the same layout as nfs_fh3).
struct nfs_fh;
const struct nfs_fh *nfs_get_rootfh(struct nfs_context *nfs);
struct poplar_nfs_fh { int len; char *val; };
static inline struct poplar_nfs_fh poplar_nfs_rootfh(struct nfs_context *nfs) {
    return *(const struct poplar_nfs_fh *)nfs_get_rootfh(nfs);
}
