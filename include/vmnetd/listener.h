/* listener.h - where VMs attach: sockets QEMU connects to, and QEMUs we connect to.
 * Each accepted or established connection is handed to an attach function
 * (the network's), which makes it a port. */
#ifndef VMNETD_LISTENER_H
#define VMNETD_LISTENER_H

#include "vmnetd/endpoint.h"
#include "vmnetd/loop.h"
#include "vmnetd/port.h"

struct listener;
struct connector;

/* Makes a port of a connected socket @fd named @name (both taken); NULL if
 * it could not (the socket is closed then). */
typedef struct port *(*attach_fn)(void *opaque, int fd, char *name);

/* Listens on @ep; every accepted connection goes to @attach. */
struct listener *listener_new(struct loop *l, const struct endpoint *ep,
			      const struct socket_perms *perms,
			      attach_fn attach, void *opaque, GError **err);
/* Accepts on @fd, a listening socket handed over (taken, even on failure);
 * its socket file, if any, is left to whoever made it. */
struct listener *listener_new_fd(struct loop *l, int fd, attach_fn attach, void *opaque,
				 GError **err);
/* Stops listening and removes the socket file it created; safe from inside
 * any callback. */
void listener_free(struct listener *li);
/* "unix:/run/vmnetd/default.sock" */
const char *listener_name(const struct listener *li);

/* Connects to a QEMU that runs -netdev stream,server=on, without blocking
 * the loop; reconnects once a second after the connection ends or fails.
 * A host name is resolved here, once. */
struct connector *connector_new(struct loop *l, const struct endpoint *ep, attach_fn attach,
				void *opaque, GError **err);
/* Closes its port, if any; safe from inside any callback. */
void connector_free(struct connector *co);

#define CONNECTOR_RETRY_NS (1000 * 1000 * 1000LL)
/* A listener out of descriptors rests this long before it accepts again:
 * long enough not to spin, short enough that a freed descriptor serves soon. */
#define LISTENER_PAUSE_NS (200 * 1000 * 1000LL)
/* A connect unanswered this long is given up and the next address tried:
 * a QEMU on this host or LAN answers in milliseconds, and the kernel's own
 * give-up (~2 min of SYN retries) would hold a working address back. */
#define CONNECTOR_TIMEOUT_NS (3 * 1000 * 1000 * 1000LL)

#endif
