/* paths.h - where vmnetd's sockets live by default, for the daemon and for
 * vmnetctl alike (vmnetctl links none of the daemon's code). */
#ifndef VMNETD_PATHS_H
#define VMNETD_PATHS_H

#include <unistd.h>

#include <glib.h>

/* /run/vmnetd as root, $XDG_RUNTIME_DIR/vmnetd otherwise; to free. GLib
 * may create a cache directory to answer for a user without
 * XDG_RUNTIME_DIR: not for code under the daemon's seccomp filter. */
static inline char *vmnetd_socket_dir(void)
{
	if (geteuid() == 0)
		return g_strdup("/run/vmnetd");
	return g_build_filename(g_get_user_runtime_dir(), "vmnetd", NULL);
}

#endif
