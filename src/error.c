/* error.c - the vmnetd GError domain. */
#include "vmnetd/error.h"

G_DEFINE_QUARK(vmnetd-error-quark, vmnetd_error)
