// libnfs (Debian libnfs-dev 4.0.0): the synchronous API, used one context per thread, never on an event loop.
#include <stdint.h>
#include <sys/time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <nfsc/libnfs.h>
