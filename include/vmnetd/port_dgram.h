/* port_dgram.h - QEMU -netdev dgram peers: one datagram socket, one frame
 * per datagram, and each sending address a port of its own. */
#ifndef VMNETD_PORT_DGRAM_H
#define VMNETD_PORT_DGRAM_H

#include <sys/socket.h>

#include "vmnetd/endpoint.h"
#include "vmnetd/port.h"

/* Datagrams one wakeup reads at most: bounded, as a TAP's, so one busy
 * socket cannot keep the loop from the rest. */
#define DGRAM_READ_BATCH	64
/* A UDP peer silent this long is forgotten (its port closes): UDP tells us
 * nothing when a QEMU goes, and any address can be claimed. A unix peer
 * goes when sending to it fails. */
#define DGRAM_UDP_IDLE_NS	(600 * 1000 * 1000 * 1000LL)

struct dgram_server;

/* Makes a port of a new peer at @addr (@len bytes) named @name (taken), or
 * NULL to ignore it (the network is full). @peer_fd, when not -1, is a
 * socket connected to the peer (taken on success): sends go there. */
typedef struct port *(*dgram_attach_fn)(void *opaque, struct dgram_server *srv,
					const struct sockaddr *addr, socklen_t len, int peer_fd,
					char *name);

/* Binds @ep (a dgram endpoint) with @perms; each new sender goes to @attach. */
struct dgram_server *dgram_server_new(struct loop *l, const struct endpoint *ep,
				      const struct socket_perms *perms, dgram_attach_fn attach,
				      void *opaque, GError **err);
/* Closes its peers' ports and the socket, removing its file; safe from any callback. */
void dgram_server_free(struct dgram_server *srv);
const char *dgram_server_name(const struct dgram_server *srv);

/* The port of peer @addr on @srv, in @set; @name and @peer_fd (-1: send
 * to @addr through the server's socket) are taken. */
struct port *port_dgram_new(struct port_set *set, struct dgram_server *srv,
			    const struct sockaddr *addr, socklen_t len, int peer_fd, char *name);

#endif
