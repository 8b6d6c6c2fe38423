// Debian's libmodsecurity-dev (3.0.9): the C API only. Compiled as C these headers declare
// ModSecurity, RulesSet and Transaction as opaque structs (OpaquePointer in Swift) and the
// msc_* functions: msc_init / msc_set_log_cb, msc_create_rules_set / msc_rules_add(_file) /
// msc_rules_cleanup, and the per-request msc_new_transaction_with_id … msc_transaction_cleanup.
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <modsecurity/intervention.h>
