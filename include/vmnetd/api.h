/* api.h - the control socket: a unix socket where local clients send one
 * JSON request per line and read one reply per line (doc/api.md). This
 * part owns the sockets, framing, limits and credentials; what a request
 * means is api_commands.h's. */
#ifndef VMNETD_API_H
#define VMNETD_API_H

#include <stdbool.h>
#include <sys/types.h>

#include <glib.h>

#include "vmnetd/endpoint.h"
#include "vmnetd/loop.h"

/* A request line is at most this long: the largest real one (a forward)
 * is ~200 bytes; 64 KiB leaves room for any future command. */
#define API_REQUEST_MAX		(64u << 10)
/* A client that sends or reads nothing this long is closed, so idle
 * connections cannot pile up. */
#define API_CLIENT_TIMEOUT_NS	(30 * 1000 * 1000 * 1000LL)
/* Clients at once; managers use one or two, scripts one each briefly. */
#define API_MAX_CLIENTS		32

/* Who sent a request. */
struct api_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool same_uid;		/* the daemon's own uid (or root): may name files for it to open */
};

/* Answers one request (@len bytes, not NUL-terminated inside, but followed
 * by a NUL). *@fd is a descriptor that came with it, or -1; the handler
 * takes it by setting *@fd to -1, else it is closed. Returns the reply
 * line (without its newline), allocated. */
typedef char *(*api_request_fn)(void *opaque, const char *req, size_t len, int *fd,
				const struct api_peer *peer);

struct api_server;

/* Listens on unix socket @ep (created with @perms) or, with @ep NULL, on
 * the listening socket @fd handed over (systemd). Connections from uids
 * other than ours and root are refused unless in @perms->group. */
struct api_server *api_server_new(struct loop *l, const struct endpoint *ep, int fd,
				  const struct socket_perms *perms, api_request_fn fn,
				  void *opaque, GError **err);
/* Closes every client and the socket, removing its file; safe from inside
 * any callback (a request may ask for it). */
void api_server_free(struct api_server *s);

#endif
