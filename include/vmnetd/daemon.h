/* daemon.h - the running daemon: the networks its configuration declares,
 * with their sockets, the control socket over them, and reloads that
 * change only what changed. */
#ifndef VMNETD_DAEMON_H
#define VMNETD_DAEMON_H

#include <stdbool.h>

#include <glib.h>

#include "vmnetd/endpoint.h"
#include "vmnetd/loop.h"
#include "vmnetd/netconf.h"

struct daemon_settings {
	struct socket_perms perms;	/* the data sockets' */
	const char *relay_exe;		/* run for guestfwd connections to TCP targets */
	bool from_nat;			/* the default network came from --nat: messages say so */
	const char *api_path;		/* --api-socket; NULL: beside the first network's socket */
	const char *socket_dir;		/* where default sockets go */
};

struct daemon;

/* A daemon with no networks yet; @passed (struct passed_socket, from
 * supervise.h; may be NULL) are systemd's sockets: "api" is the control
 * socket, any other name the network of that name ("unknown": default). */
struct daemon *daemon_new(struct loop *l, const struct daemon_settings *set, GArray *passed);
/* Builds every network of @cfg (its settings taken, @cfg left empty) and
 * the control socket; false with @err at the first failure. */
bool daemon_start(struct daemon *d, struct vmnetd_config *cfg, GError **err);
/* Makes the daemon's networks those of @cfg (taken as above): a network
 * whose settings are unchanged keeps its VMs and only its forwards follow
 * the new hostfwd= values; a changed one is built anew; others come and go.
 * False with @err naming what failed; the rest is applied. */
bool daemon_reload(struct daemon *d, struct vmnetd_config *cfg, GError **err);
/* Closes everything, removing the socket files. */
void daemon_free(struct daemon *d);

/* The control socket's path when none is given: the first network's first
 * unix socket with ".api" for ".sock", else SOCKET_DIR/NAME.api. */
char *daemon_default_api_path(const struct vmnetd_config *cfg, const char *socket_dir);

#endif
