/* endpoint.c - parse unix:/tcp: socket addresses, open them to listen or connect,
 * and print the QEMU -netdev stream arguments that reach them. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

bool endpoint_parse(const char *s, const char *what, struct endpoint *ep, GError **err)
{
	*ep = (struct endpoint){ 0 };
	if (g_str_has_prefix(s, "unix:")) {
		const char *path = s + 5;

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
	if (g_str_has_prefix(s, "tcp:"))
		return parse_tcp(s + 4, what, s, ep, err);
	vmnetd_set_error(err, "%s %s: expected unix:PATH or tcp:[HOST:]PORT", what, s);
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
	*dst = (struct endpoint){ src->type, g_strdup(src->path), g_strdup(src->host), src->port };
}

char *endpoint_to_string(const struct endpoint *ep)
{
	if (ep->type == ENDPOINT_UNIX)
		return g_strdup_printf("unix:%s", ep->path);
	if (strchr(ep->host, ':'))
		return g_strdup_printf("tcp:[%s]:%u", ep->host, ep->port);
	return g_strdup_printf("tcp:%s:%u", ep->host, ep->port);
}

static socklen_t unix_addr(const struct endpoint *ep, struct sockaddr_un *sun)
{
	*sun = (struct sockaddr_un){ .sun_family = AF_UNIX };
	g_strlcpy(sun->sun_path, ep->path, sizeof(sun->sun_path));
	return sizeof(*sun);
}

static struct addrinfo *tcp_addrs(const struct endpoint *ep, bool passive, GError **err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
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
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (struct sockaddr *)&sun, len) == 0 || errno == EAGAIN;
	close(fd);
	return alive;
}

static int listen_unix(const struct endpoint *ep, unsigned mode, GError **err)
{
	struct sockaddr_un sun;
	socklen_t len = unix_addr(ep, &sun);
	struct stat st;
	int fd;

	if (lstat(ep->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			vmnetd_set_error(err, "%s exists and is not a socket", ep->path);
			return -1;
		}
		if (unix_socket_alive(ep)) {
			vmnetd_set_error(err, "%s is in use by a running program", ep->path);
			return -1;
		}
		g_message("replacing stale socket %s", ep->path);
		unlink(ep->path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	/* Bind with a closed umask so the socket never exists wider than @mode. */
	mode_t old = umask(0777);
	int rc = bind(fd, (struct sockaddr *)&sun, len);

	umask(old);
	if (rc < 0 || chmod(ep->path, mode) < 0 || listen(fd, 64) < 0)
		goto fail;
	return fd;
fail:
	vmnetd_set_error(err, "unix:%s: %s", ep->path, g_strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
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
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
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

int endpoint_listen(const struct endpoint *ep, unsigned mode, GError **err)
{
	return ep->type == ENDPOINT_UNIX ? listen_unix(ep, mode, err) : listen_tcp(ep, err);
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

char *endpoint_qemu_args(const struct endpoint *ep, const char *id)
{
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
	struct endpoint_addr a = { 0 };
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
