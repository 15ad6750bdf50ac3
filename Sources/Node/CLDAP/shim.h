// OpenLDAP's libldap (Debian libldap-dev 2.5): the non-deprecated synchronous API (ldap_initialize,
// ldap_sasl_bind_s, ldap_search_ext_s, ldap_start_tls_s), one handle per connection, used by one thread at a time
// (Sources/Node/Auth/LDAPConnection.swift), always on the thread pool, never on an event loop.
#include <sys/time.h>
#include <lber.h>
#include <ldap.h>

// ldap_set_option takes a pointer to the value (or LDAP_OPT_ON/OFF, macros Swift cannot import): these wrappers
// take the value itself.
static inline int poplar_ldap_set_int(LDAP *ld, int option, int value) {
    return ldap_set_option(ld, option, &value);
}
static inline int poplar_ldap_set_bool(LDAP *ld, int option, int on) {
    return ldap_set_option(ld, option, on ? LDAP_OPT_ON : LDAP_OPT_OFF);
}
static inline int poplar_ldap_set_string(LDAP *ld, int option, const char *value) {
    return ldap_set_option(ld, option, value);
}
static inline int poplar_ldap_set_timeout(LDAP *ld, int option, long seconds, long microseconds) {
    struct timeval tv = { seconds, microseconds };
    return ldap_set_option(ld, option, &tv);
}
// The server's or the TLS library's last message on this handle (a copy to free with ldap_memfree), or NULL.
static inline char *poplar_ldap_diagnostic(LDAP *ld) {
    char *message = NULL;
    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &message);
    return message;
}
