/* endpoint.c - parse unix:/tcp: socket addresses, open them to listen or connect,
 * print the QEMU -netdev stream arguments that reach them, and tell which
 * local user is at the other end of a TCP connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmnetd/endpoint.h"
#include "vmnetd/error.h"

static bool parse_port(const char *s, uint16_t *port)
{
	guint64 v;

	if (!g_ascii_string_to_unsigned(s, 10, 1, 65535, &v, NULL))
		return false;
	*port = v;
	return true;
}

static bool parse_tcp(const char *rest, const char *what, const char *s, struct endpoint *ep,
		      GError **err)
{
	const char *colon = strrchr(rest, ':');
	const char *port_s = colon ? colon + 1 : rest;
	g_autofree char *host = colon ? g_strndup(rest, colon - rest) : g_strdup("");

	if (!parse_port(port_s, &ep->port)) {
		vmnetd_set_error(err, "%s %s: port must be a number from 1 to 65535", what, s);
		return false;
	}
	/* [::1] is how QEMU users write an IPv6 host. */
	if (host[0] == '[' && g_str_has_suffix(host, "]")) {
		char *inner = g_strndup(host + 1, strlen(host) - 2);

		g_free(host);
		host = inner;
	}
	ep->type = ENDPOINT_TCP;
	ep->host = host[0] ? g_steal_pointer(&host) : g_strdup("127.0.0.1");
	return true;
}

static bool parse_unix(const char *path, const char *what, const char *s,
		       struct endpoint *ep, GError **err)
{
	if (!path[0]) {
		vmnetd_set_error(err, "%s %s: the socket path is empty", what, s);
		return false;
	}
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		vmnetd_set_error(err, "%s %s: the socket path is longer than %zu bytes",
				 what, s, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return false;
	}
	ep->type = ENDPOINT_UNIX;
	ep->path = g_strdup(path);
	return true;
}

bool endpoint_parse(const char *s, const char *what, struct endpoint *ep, GError **err)
{
	*ep = (struct endpoint){ 0 };
	if (g_str_has_prefix(s, "dgram:unix:")) {
		ep->dgram = true;
		return parse_unix(s + 11, what, s, ep, err);
	}
	if (g_str_has_prefix(s, "dgram:udp:")) {
		ep->dgram = true;
		return parse_tcp(s + 10, what, s, ep, err);
	}
	if (g_str_has_prefix(s, "vhost-user:")) {
		ep->vhost = true;
		return parse_unix(s + 11, what, s, ep, err);
	}
	if (g_str_has_prefix(s, "unix:"))
		return parse_unix(s + 5, what, s, ep, err);
	if (g_str_has_prefix(s, "tcp:"))
		return parse_tcp(s + 4, what, s, ep, err);
	vmnetd_set_error(err, "%s %s: expected unix:PATH, tcp:[HOST:]PORT, dgram:unix:PATH, "
			 "dgram:udp:[HOST:]PORT or vhost-user:PATH", what, s);
	return false;
}

void endpoint_clear(struct endpoint *ep)
{
	g_free(ep->path);
	g_free(ep->host);
	*ep = (struct endpoint){ 0 };
}

void endpoint_copy(struct endpoint *dst, const struct endpoint *src)
{
	*dst = (struct endpoint){ src->type, src->dgram, src->vhost, g_strdup(src->path),
				  g_strdup(src->host), src->port };
}

char *endpoint_to_string(const struct endpoint *ep)
{
	const char *d = ep->dgram ? "dgram:" : "";

	if (ep->vhost)
		return g_strdup_printf("vhost-user:%s", ep->path);
	if (ep->type == ENDPOINT_UNIX)
		return g_strdup_printf("%sunix:%s", d, ep->path);
	if (strchr(ep->host, ':'))
		return g_strdup_printf("%s%s:[%s]:%u", d, ep->dgram ? "udp" : "tcp", ep->host,
				       ep->port);
	return g_strdup_printf("%s%s:%s:%u", d, ep->dgram ? "udp" : "tcp", ep->host, ep->port);
}

static socklen_t unix_addr(const struct endpoint *ep, struct sockaddr_un *sun)
{
	*sun = (struct sockaddr_un){ .sun_family = AF_UNIX };
	g_strlcpy(sun->sun_path, ep->path, sizeof(sun->sun_path));
	return sizeof(*sun);
}

static int socktype(const struct endpoint *ep)
{
	return ep->dgram ? SOCK_DGRAM : SOCK_STREAM;
}

/* A stream socket listens; a datagram socket is ready once bound. */
static int listen_if_stream(const struct endpoint *ep, int fd)
{
	return ep->dgram ? 0 : listen(fd, 64);
}

static struct addrinfo *tcp_addrs(const struct endpoint *ep, bool passive, GError **err)
{
	struct addrinfo hints = { .ai_socktype = socktype(ep),
				  .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) };
	struct addrinfo *res = NULL;
	char port[8];
	int rc;

	g_snprintf(port, sizeof(port), "%u", ep->port);
	rc = getaddrinfo(ep->host, port, &hints, &res);
	if (rc) {
		vmnetd_set_error(err, "%s: %s", ep->host, gai_strerror(rc));
		return NULL;
	}
	return res;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Is somebody listening on this unix socket path? */
static bool unix_socket_alive(const struct endpoint *ep)
{
	struct sockaddr_un sun;
	socklen_t len = unix_addr(ep, &sun);
	int fd = socket(AF_UNIX, socktype(ep) | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (struct sockaddr *)&sun, len) == 0 || errno == EAGAIN;
	close(fd);
	return alive;
}

/* Anyone who may write the directory can swap the socket file for a link
 * between our checks and our use of the path; the sticky bit keeps others'
 * hands off files that are not theirs, as in /tmp. */
static bool check_socket_dir(const char *path, GError **err)
{
	g_autofree char *dir = g_path_get_dirname(path);
	struct stat st;

	if (stat(dir, &st) < 0) {
		vmnetd_set_error(err, "unix:%s: directory %s: %s", path, dir, g_strerror(errno));
		return false;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		vmnetd_set_error(err, "unix:%s: directory %s is writable by group or others and "
				 "not sticky: another user could replace the socket; use a "
				 "directory only you can write", path, dir);
		return false;
	}
	return true;
}

/* A socket file left by a daemon that died is ours to replace; anything
 * else at the path is an error. */
static bool remove_stale(const struct endpoint *ep, GError **err)
{
	struct stat st;

	if (lstat(ep->path, &st) < 0)
		return true;
	if (!S_ISSOCK(st.st_mode)) {
		vmnetd_set_error(err, "%s exists and is not a socket", ep->path);
		return false;
	}
	if (unix_socket_alive(ep)) {
		vmnetd_set_error(err, "%s is in use by a running program", ep->path);
		return false;
	}
	g_message("replacing stale socket %s", ep->path);
	unlink(ep->path);
	return true;
}

/* The file is born with exactly @mode: never chmod() a path, which someone
 * may have turned into a link to another file by then. The umask is
 * process-wide, so this holds only because the daemon is single-threaded
 * while it binds; it is restored at once. */
static int bind_with_mode(int fd, const struct endpoint *ep, unsigned mode)
{
	struct sockaddr_un sun;
	socklen_t len = unix_addr(ep, &sun);
	mode_t old = umask(~mode & 0777);
	int rc = bind(fd, (struct sockaddr *)&sun, len);
	int saved = errno;

	umask(old);
	errno = saved;
	return rc;
}

/* Remember which file we made; a default ACL on the directory overrides the
 * umask, and then the mode is not ours to choose. */
static void note_socket_file(const struct endpoint *ep, unsigned mode, struct endpoint_file *f)
{
	struct stat st;

	if (lstat(ep->path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	*f = (struct endpoint_file){ .dev = st.st_dev, .ino = st.st_ino, .made = true };
	if ((st.st_mode & 07777) != mode)
		g_warning("unix:%s: created with mode %04o, not %04o (a default ACL on its "
			  "directory?)", ep->path, st.st_mode & 07777, mode);
}

static int listen_unix(const struct endpoint *ep, const struct socket_perms *perms,
		       struct endpoint_file *f, GError **err)
{
	int fd;

	if (!check_socket_dir(ep->path, err) || !remove_stale(ep, err))
		return -1;
	fd = socket(AF_UNIX, socktype(ep) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind_with_mode(fd, ep, perms->mode) < 0)
		goto fail;
	note_socket_file(ep, perms->mode, f);
	/* Nobody else can connect yet: the mode lets only us in until now. */
	if (perms->group != (gid_t)-1 && lchown(ep->path, (uid_t)-1, perms->group) < 0)
		goto fail;
	if (listen_if_stream(ep, fd) < 0)
		goto fail;
	return fd;
fail:
	vmnetd_set_error(err, "unix:%s: %s", ep->path, g_strerror(errno));
	if (fd >= 0)
		close(fd);
	endpoint_unlink_own(ep, f);
	return -1;
}

void endpoint_unlink_own(const struct endpoint *ep, struct endpoint_file *f)
{
	struct stat st;

	if (!f->made)
		return;
	f->made = false;
	/* Only the owner of the file or of the directory (checked at bind) can
	 * swap it between this lstat() and the unlink(). */
	if (lstat(ep->path, &st) < 0)
		return;
	if (st.st_dev != f->dev || st.st_ino != f->ino) {
		g_message("unix:%s is no longer the socket vmnetd made: left in place", ep->path);
		return;
	}
	unlink(ep->path);
}

static int listen_tcp(const struct endpoint *ep, GError **err)
{
	struct addrinfo *res = tcp_addrs(ep, true, err);
	int fd = -1, one = 1, saved = 0;

	if (!res)
		return -1;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen_if_stream(ep, fd) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		g_autofree char *s = endpoint_to_string(ep);

		vmnetd_set_error(err, "%s: %s", s, g_strerror(saved ? saved : errno));
	}
	return fd;
}

int endpoint_listen(const struct endpoint *ep, const struct socket_perms *perms,
		    struct endpoint_file *f, GError **err)
{
	*f = (struct endpoint_file){ 0 };
	return ep->type == ENDPOINT_UNIX ? listen_unix(ep, perms, f, err) : listen_tcp(ep, err);
}

int endpoint_connect(const struct endpoint *ep, GError **err)
{
	g_autofree char *name = endpoint_to_string(ep);
	int fd = -1, saved = 0;

	if (ep->type == ENDPOINT_UNIX) {
		struct sockaddr_un sun;
		socklen_t len = unix_addr(ep, &sun);

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, len) < 0) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	} else {
		struct addrinfo *res = tcp_addrs(ep, false, err);

		if (!res)
			return -1;
		for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
				saved = errno;
				close(fd);
				fd = -1;
			}
		}
		freeaddrinfo(res);
	}
	if (fd < 0) {
		vmnetd_set_error(err, "%s: %s", name, g_strerror(saved ? saved : errno));
		return -1;
	}
	set_nonblock(fd);
	endpoint_tune_socket(fd);
	return fd;
}

void endpoint_tune_socket(int fd)
{
	int one = 1;

	/* Frames are whole messages: never wait to coalesce them. Fails
	 * harmlessly on unix sockets. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* -netdev dgram: QEMU binds a local address of its own and sends to ours. */
static char *qemu_dgram_args(const struct endpoint *ep, const char *id)
{
	if (ep->type == ENDPOINT_UNIX)
		return g_strdup_printf("-netdev dgram,id=%s,local.type=unix,local.path=%s.%s,"
				       "remote.type=unix,remote.path=%s "
				       "-device virtio-net-pci,netdev=%s", id, ep->path, id,
				       ep->path, id);
	return g_strdup_printf("-netdev dgram,id=%s,local.type=inet,local.host=%s,local.port=0,"
			       "remote.type=inet,remote.host=%s,remote.port=%u "
			       "-device virtio-net-pci,netdev=%s", id,
			       strchr(ep->host, ':') ? "::1" : "127.0.0.1", ep->host, ep->port, id);
}

/* Guest RAM QEMU shares with us (vhost-user maps it): memfd, sealed by
 * QEMU's default so it cannot shrink under us; its size must be -m's. */
#define QEMU_VHOST_RAM "1G"

/* -netdev vhost-user: vmnetd reads the guest's rings in its shared RAM;
 * host_mtu= gives the guest the network's MTU through virtio's config,
 * reconnect=1 brings the VM back when vmnetd restarts. Under TCG (QEMU's
 * default accelerator), QEMU 7.2 dereferences a NULL irqfd table when
 * vhost-user starts on an MSI-X device (virtio_pci_one_vector_unmask);
 * vectors=0 (INTx) avoids it, and also works under KVM. */
static char *qemu_vhost_args(const struct endpoint *ep, const char *id, unsigned mtu)
{
	return g_strdup_printf("-m " QEMU_VHOST_RAM " -object memory-backend-memfd,id=%s-mem,"
			       "size=" QEMU_VHOST_RAM ",share=on -machine memory-backend=%s-mem "
			       "-chardev socket,id=%s-chr,path=%s,reconnect=1 "
			       "-netdev vhost-user,id=%s,chardev=%s-chr "
			       "-device virtio-net-pci,netdev=%s,host_mtu=%u,vectors=0", id, id, id,
			       ep->path, id, id, id, mtu);
}

char *endpoint_qemu_args(const struct endpoint *ep, const char *id, unsigned mtu)
{
	if (ep->vhost)
		return qemu_vhost_args(ep, id, mtu);
	if (ep->dgram)
		return qemu_dgram_args(ep, id);
	if (ep->type == ENDPOINT_UNIX)
		return g_strdup_printf("-netdev stream,id=%s,server=off,addr.type=unix,"
				       "addr.path=%s -device virtio-net-pci,netdev=%s",
				       id, ep->path, id);
	return g_strdup_printf("-netdev stream,id=%s,server=off,addr.type=inet,"
			       "addr.host=%s,addr.port=%u -device virtio-net-pci,netdev=%s",
			       id, ep->host, ep->port, id);
}

GArray *endpoint_resolve(const struct endpoint *ep, GError **err)
{
	GArray *addrs = g_array_new(FALSE, TRUE, sizeof(struct endpoint_addr));
	struct endpoint_addr a = { .dgram = ep->dgram };
	struct addrinfo *res;

	if (ep->type == ENDPOINT_UNIX) {
		a.len = unix_addr(ep, (struct sockaddr_un *)&a.ss);
		g_array_append_val(addrs, a);
		return addrs;
	}
	res = tcp_addrs(ep, false, err);
	if (!res) {
		g_array_free(addrs, TRUE);
		return NULL;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(a.ss))
			continue;
		memcpy(&a.ss, ai->ai_addr, ai->ai_addrlen);
		a.len = ai->ai_addrlen;
		g_array_append_val(addrs, a);
	}
	freeaddrinfo(res);
	return addrs;
}

int endpoint_connect_async(const struct endpoint_addr *a, bool *pending, GError **err)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	*pending = false;
	if (fd < 0) {
		vmnetd_set_error(err, "socket: %s", g_strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		if (errno != EINPROGRESS) {
			vmnetd_set_error(err, "%s", g_strerror(errno));
			close(fd);
			return -1;
		}
		*pending = true;
	}
	endpoint_tune_socket(fd);
	return fd;
}

int endpoint_connect_error(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return errno;
	return e;
}

bool endpoint_addr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family != AF_INET6)
		return false;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* The address and port of @ss into a sock_diag socket id half. */
static void diag_side(const struct sockaddr_storage *ss, __be16 *port, __be32 addr[4])
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		*port = sin->sin_port;
		addr[0] = sin->sin_addr.s_addr;
		return;
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	*port = sin6->sin6_port;
	memcpy(addr, &sin6->sin6_addr, 16);
}

/* Ask the kernel for the one socket whose local end is @peer and remote end
 * @local: the client's own socket. */
static int diag_lookup(const struct sockaddr_storage *peer, const struct sockaddr_storage *local,
		       struct inet_diag_msg *out)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST },
		.r = { .sdiag_family = peer->ss_family, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = ~0u,
		       .id.idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } },
	};
	union {
		struct nlmsghdr nlh;
		char buf[1024];
	} rep;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	ssize_t n;

	if (fd < 0)
		return -errno;
	diag_side(peer, &req.r.id.idiag_sport, req.r.id.idiag_src);
	diag_side(local, &req.r.id.idiag_dport, req.r.id.idiag_dst);
	n = send(fd, &req, sizeof(req), 0) < 0 ? -1 : recv(fd, &rep, sizeof(rep), 0);
	int saved = errno;

	close(fd);
	if (n < 0)
		return -saved;
	if (n < (ssize_t)sizeof(rep.nlh) || !NLMSG_OK(&rep.nlh, (size_t)n))
		return -EPROTO;
	if (rep.nlh.nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(&rep.nlh);

		return e->error < 0 ? e->error : -EPROTO;
	}
	if (rep.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    rep.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*out)))
		return -EPROTO;
	memcpy(out, NLMSG_DATA(&rep.nlh), sizeof(*out));
	return 0;
}

int endpoint_tcp_peer_uid(int fd, uid_t *uid, GError **err)
{
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof(peer), llen = sizeof(local);
	struct inet_diag_msg m = { 0 };
	int rc;

	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
		return 0;		/* already gone */
	rc = diag_lookup(&peer, &local, &m);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		vmnetd_set_error(err, "sock_diag: %s", g_strerror(-rc));
		return -1;
	}
	/* A socket in TIME_WAIT, or one no process holds any more, is reported
	 * with uid 0: it tells nothing about who connected. A listener can
	 * answer the lookup once the client is gone: nobody to trust either. */
	if (m.idiag_inode == 0 || m.idiag_state == TCP_LISTEN || m.idiag_state == TCP_TIME_WAIT)
		return 0;
	*uid = m.idiag_uid;
	return 1;
}

static bool stream_listener(int fd)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return false;
	len = sizeof(listening);
	return type == SOCK_STREAM &&
	       getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
}

bool endpoint_from_socket(int fd, struct endpoint *ep, GError **err)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	memset(ep, 0, sizeof(*ep));
	if (!stream_listener(fd) || getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		vmnetd_set_error(err, "descriptor %d is not a listening stream socket", fd);
		return false;
	}
	if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

		ep->type = ENDPOINT_UNIX;
		ep->path = g_strndup(sun->sun_path, len - offsetof(struct sockaddr_un, sun_path));
		return true;
	}
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
		ep->type = ENDPOINT_TCP;
		ep->host = g_strdup(endpoint_host_string(&ss, host));
		ep->port = endpoint_port(&ss);
		return true;
	}
	vmnetd_set_error(err, "descriptor %d: not a unix or TCP socket", fd);
	return false;
}

const char *endpoint_host_string(const struct sockaddr_storage *ss, char buf[INET6_ADDRSTRLEN])
{
	const void *a = ss->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	return inet_ntop(ss->ss_family, a, buf, INET6_ADDRSTRLEN);
}

uint16_t endpoint_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

char *endpoint_addr_to_string(const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_UNIX)
		return g_strdup(((const struct sockaddr_un *)ss)->sun_path);
	return g_strdup_printf(ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			       endpoint_host_string(ss, host), endpoint_port(ss));
}
