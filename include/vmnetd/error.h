/* error.h - vmnetd's GError domain: one message that names the option and the fault. */
#ifndef VMNETD_ERROR_H
#define VMNETD_ERROR_H

#include <glib.h>

#define VMNETD_ERROR (vmnetd_error_quark())
GQuark vmnetd_error_quark(void);

#define vmnetd_set_error(err, ...) g_set_error((err), VMNETD_ERROR, 0, __VA_ARGS__)

#endif
