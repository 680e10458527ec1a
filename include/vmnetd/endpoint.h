/* endpoint.h - socket addresses as users write them: unix:PATH, tcp:HOST:PORT. */
#ifndef VMNETD_ENDPOINT_H
#define VMNETD_ENDPOINT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <glib.h>

enum endpoint_type { ENDPOINT_UNIX, ENDPOINT_TCP };

struct endpoint {
	enum endpoint_type type;
	bool dgram;		/* dgram:unix:PATH, dgram:udp:HOST:PORT (-netdev dgram) */
	bool vhost;		/* vhost-user:PATH (-netdev vhost-user) */
	char *path;		/* unix */
	char *host;		/* tcp; 127.0.0.1 when not given */
	uint16_t port;		/* tcp */
};

/* unix:PATH, tcp:[HOST:]PORT, dgram:unix:PATH, dgram:udp:[HOST:]PORT or
 * vhost-user:PATH;
 * @what names the option in error messages ("--listen"). */
bool endpoint_parse(const char *s, const char *what, struct endpoint *ep, GError **err);
void endpoint_clear(struct endpoint *ep);
void endpoint_copy(struct endpoint *dst, const struct endpoint *src);
char *endpoint_to_string(const struct endpoint *ep);

/* Who may use the unix sockets we create. */
struct socket_perms {
	unsigned mode;		/* 0600 unless --socket-mode / --socket-group */
	gid_t group;		/* (gid_t)-1: the daemon's own */
};

/* The socket file a unix listener made, so that shutdown removes that file
 * and never one somebody put at its path since. */
struct endpoint_file {
	dev_t dev;
	ino_t ino;
	bool made;
};

/* A listening, non-blocking socket; a unix socket file is created with
 * @perms and noted in *@f. A unix socket file left behind by a dead daemon is
 * replaced; one that still answers is an error, and so is a directory that
 * group or others may write unless it is sticky. */
int endpoint_listen(const struct endpoint *ep, const struct socket_perms *perms,
		    struct endpoint_file *f, GError **err);
/* The address listening socket @fd is bound to, as an endpoint (a socket
 * handed over by systemd); false with @err for other kinds of socket. */
bool endpoint_from_socket(int fd, struct endpoint *ep, GError **err);
/* Removes the socket file *@f if @ep's path still names that file; once. */
void endpoint_unlink_own(const struct endpoint *ep, struct endpoint_file *f);
/* The address of an IPv4 or IPv6 @ss as text ("10.0.2.15", "::1"), in @buf. */
const char *endpoint_host_string(const struct sockaddr_storage *ss, char buf[INET6_ADDRSTRLEN]);
/* The port of an IPv4 or IPv6 @ss, host order. */
uint16_t endpoint_port(const struct sockaddr_storage *ss);
/* A peer's address as the log names it: "127.0.0.1:40102", "[::1]:40102",
 * or a unix socket's path; to free. */
char *endpoint_addr_to_string(const struct sockaddr_storage *ss);
/* Is @ss an address of this host's loopback (127/8, ::1, ::ffff:127/8)? */
bool endpoint_addr_is_loopback(const struct sockaddr_storage *ss);
/* The uid of the process-held socket at the other end of connected TCP
 * socket @fd, when that end is on this host: 1 and *@uid; 0 when there is no
 * such socket (gone, or not local); -1 with @err when the kernel cannot say
 * (no sock_diag). */
int endpoint_tcp_peer_uid(int fd, uid_t *uid, GError **err);
/* A connected, non-blocking socket (blocks while connecting: for helpers,
 * never the loop). */
int endpoint_connect(const struct endpoint *ep, GError **err);

/* One address to connect to. */
struct endpoint_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool dgram;		/* UDP, not TCP */
};
/* The addresses @ep names (struct endpoint_addr), resolved now: a host name
 * lookup may block, so this belongs to set-up, not to the loop. */
GArray *endpoint_resolve(const struct endpoint *ep, GError **err);
/* A non-blocking socket connecting to @a: connected at once, or *pending
 * until it turns writable (then endpoint_connect_error()). -1 on failure. */
int endpoint_connect_async(const struct endpoint_addr *a, bool *pending, GError **err);
/* The outcome of a connect that was pending: 0 or an errno value. */
int endpoint_connect_error(int fd);
/* Tune a connected socket for frame traffic (TCP_NODELAY, buffer sizes). */
void endpoint_tune_socket(int fd);

/* The QEMU arguments that attach a VM to this endpoint, on a network of
 * MTU @mtu; they end with -device, so a caller may append ",mac=...". */
char *endpoint_qemu_args(const struct endpoint *ep, const char *id, unsigned mtu);

#endif
