/* listener.h - where VMs attach: sockets QEMU connects to, and QEMUs we connect to. */
#ifndef VMNETD_LISTENER_H
#define VMNETD_LISTENER_H

#include "vmnetd/endpoint.h"
#include "vmnetd/port_stream.h"

struct listener;
struct connector;

/* Listens on @ep; every accepted connection becomes a stream port. */
struct listener *listener_new(struct loop *l, struct stream_set *set, const struct endpoint *ep,
			      unsigned socket_mode, GError **err);
/* Stops listening and removes the socket file it created. */
void listener_free(struct listener *li);

/* Connects to a QEMU that runs -netdev stream,server=on; reconnects after
 * the connection ends or fails, once a second. */
struct connector *connector_new(struct loop *l, struct stream_set *set, const struct endpoint *ep);
void connector_free(struct connector *co);

#define CONNECTOR_RETRY_NS (1000 * 1000 * 1000LL)

#endif
