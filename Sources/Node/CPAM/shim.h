// Linux-PAM (Debian libpam0g-dev): the application side only (pam_start, pam_authenticate, pam_acct_mgmt, pam_end).
// The conversation function is Swift (Sources/Node/Auth/PAMConversation.swift); the account and group lookups are
// glibc's (Sources/Node/Auth/UnixAccounts.swift).
#include <string.h>
#include <security/pam_appl.h>

// Wipes a secret in a way the compiler may not drop as a dead store (glibc's explicit_bzero).
static inline void poplar_pam_wipe(void *p, size_t n) {
    if (p != NULL && n > 0) explicit_bzero(p, n);
}

