/* listener.c - accept QEMU stream clients, or connect out to QEMU stream servers. */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmnetd/error.h"
#include "vmnetd/listener.h"

struct listener {
	struct loop *loop;
	struct endpoint ep;
	struct endpoint_file file;	/* the unix socket file we made */
	char *name;
	struct loop_watch watch;
	int fd;
	unsigned next_client;
	uid_t uid;			/* who made it: the one user, with root, a
					 * loopback TCP client may run as */
	bool uid_unknown_said;		/* the kernel cannot tell: said once */
	attach_fn attach;
	void *opaque;
	struct loop_timer *resume;	/* accepting again after running short */
};

struct connector {
	struct loop *loop;
	struct endpoint ep;
	char *name;
	GArray *addrs;		/* struct endpoint_addr, resolved once */
	struct loop_watch watch;	/* the connect in progress */
	int fd;
	struct port *port;
	struct loop_timer *retry;
	bool failing;		/* say so once, not every second */
	unsigned turn;		/* which address the next attempt uses */
	attach_fn attach;
	void *opaque;
};

/* "tcp:127.0.0.1:5555 client 3 (127.0.0.1:40102)": which socket, which client. */
static char *client_name(struct listener *li, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned id = ++li->next_client;
	g_autofree char *peer = NULL;

	if (li->ep.type == ENDPOINT_UNIX ||
	    getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return g_strdup_printf("%s client %u", li->name, id);
	peer = endpoint_addr_to_string(&ss);
	return g_strdup_printf("%s client %u (%s)", li->name, id, peer);
}

/* The kernel cannot tell the uid of a TCP peer through the socket (as it
 * can for unix sockets), but it can find the peer's own socket when that is
 * on this host: only the listener's uid and root may attach that way, as
 * they alone could reach a unix socket of mode 0600. A remote peer was warned about at
 * start. */
static bool peer_allowed(struct listener *li, int fd, const char *name)
{
	g_autoptr(GError) err = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uid_t uid;
	int rc;

	if (li->ep.type != ENDPOINT_TCP)
		return true;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	if (!endpoint_addr_is_loopback(&ss))
		return true;
	rc = endpoint_tcp_peer_uid(fd, &uid, &err);
	if (rc < 0) {
		if (!li->uid_unknown_said)
			g_warning("%s: cannot tell which user a local client runs as (%s): any "
				  "local user can attach", li->name, err->message);
		li->uid_unknown_said = true;
		return true;
	}
	if (rc == 0) {
		g_message("%s: refused: its socket is gone or held by no process", name);
		return false;
	}
	if (uid != li->uid && uid != 0) {
		g_message("%s: refused: uid %u, only uid %u (and root) may attach here", name,
			  (unsigned)uid, (unsigned)li->uid);
		return false;
	}
	return true;
}

/* Out of descriptors (or memory): the pending connection stays in the
 * backlog and keeps the socket readable, so polling on would spin the loop.
 * Stop listening for a while and say so once per pause. */
static void pause_accepting(struct listener *li, int err)
{
	g_message("%s: accept: %s; not accepting for %d ms", li->name, g_strerror(err),
		  (int)(LISTENER_PAUSE_NS / 1000000));
	loop_watch_mod(li->loop, &li->watch, 0);
	loop_timer_arm(li->resume, loop_now(li->loop) + LISTENER_PAUSE_NS);
}

static void resume_accepting(void *opaque)
{
	struct listener *li = opaque;

	if (li->fd >= 0)
		loop_watch_mod(li->loop, &li->watch, EPOLLIN);
}

static void on_accept(void *opaque, uint32_t events)
{
	struct listener *li = opaque;

	(void)events;
	while (li->fd >= 0) {
		int fd = accept4(li->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				pause_accepting(li, errno);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				g_warning("%s: accept: %s", li->name, g_strerror(errno));
			return;
		}
		char *name = client_name(li, fd);

		if (!peer_allowed(li, fd, name)) {
			close(fd);
			g_free(name);
			continue;
		}
		endpoint_tune_socket(fd);
		li->attach(li->opaque, fd, name);
	}
}

/* A TCP listener off loopback lets every host that can route to it plug a
 * VM into the network: nothing asks who they are. */
static void warn_if_exposed(struct listener *li)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	bool v4;

	if (li->ep.type != ENDPOINT_TCP || getsockname(li->fd, (struct sockaddr *)&ss, &len) < 0 ||
	    endpoint_addr_is_loopback(&ss))
		return;
	v4 = ss.ss_family == AF_INET;
	inet_ntop(ss.ss_family, v4 ? (void *)&sin->sin_addr : (void *)&sin6->sin6_addr, host,
		  sizeof(host));
	g_warning("%s: not on loopback: any host that reaches %s%s%s:%u can attach a VM",
		  li->name, v4 ? "" : "[", host, v4 ? "" : "]",
		  ntohs(v4 ? sin->sin_port : sin6->sin6_port));
}

static struct listener *listener_alloc(struct loop *l, attach_fn attach, void *opaque)
{
	struct listener *li = g_new0(struct listener, 1);

	li->loop = l;
	/* As a unix socket file keeps the uid that made it, even if the daemon
	 * later runs as another user. */
	li->uid = geteuid();
	li->attach = attach;
	li->opaque = opaque;
	li->resume = loop_timer_new(l, resume_accepting, li);
	li->fd = -1;
	return li;
}

static struct listener *listener_start(struct listener *li, GError **err)
{
	if (li->fd < 0 ||
	    !loop_watch_add(li->loop, &li->watch, li->fd, EPOLLIN, on_accept, li, err)) {
		listener_free(li);
		return NULL;
	}
	g_message("listening on %s", li->name);
	warn_if_exposed(li);
	return li;
}

struct listener *listener_new(struct loop *l, const struct endpoint *ep,
			      const struct socket_perms *perms,
			      attach_fn attach, void *opaque, GError **err)
{
	struct listener *li = listener_alloc(l, attach, opaque);

	endpoint_copy(&li->ep, ep);
	li->name = endpoint_to_string(ep);
	li->fd = endpoint_listen(ep, perms, &li->file, err);
	return listener_start(li, err);
}

struct listener *listener_new_fd(struct loop *l, int fd, attach_fn attach, void *opaque,
				 GError **err)
{
	struct listener *li = listener_alloc(l, attach, opaque);

	if (!endpoint_from_socket(fd, &li->ep, err)) {
		close(fd);
		listener_free(li);
		return NULL;
	}
	li->name = endpoint_to_string(&li->ep);
	li->fd = fd;	/* its file, if any, is systemd's: li->file.made stays false */
	return listener_start(li, err);
}

const char *listener_name(const struct listener *li)
{
	return li->name;
}

static void listener_destroy(void *ptr)
{
	struct listener *li = ptr;

	endpoint_clear(&li->ep);
	g_free(li->name);
	g_free(li);
}

void listener_free(struct listener *li)
{
	if (!li)
		return;
	if (li->fd >= 0) {
		loop_watch_del(li->loop, &li->watch);
		close(li->fd);
		li->fd = -1;
	}
	loop_timer_free(li->resume);
	/* Not by path alone: the file there may no longer be the one we made. */
	if (li->ep.type == ENDPOINT_UNIX)
		endpoint_unlink_own(&li->ep, &li->file);
	/* An event for it may already be fetched in this iteration. */
	loop_defer_free(li->loop, listener_destroy, li);
}

static void connector_closed(void *opaque, struct port *p)
{
	struct connector *co = opaque;

	(void)p;
	co->port = NULL;
	loop_timer_arm(co->retry, loop_now(co->loop) + CONNECTOR_RETRY_NS);
}

static void connect_failed(struct connector *co, const char *why)
{
	if (!co->failing)
		g_message("%s: %s; retrying every second", co->name, why);
	co->failing = true;
	loop_timer_arm(co->retry, loop_now(co->loop) + CONNECTOR_RETRY_NS);
}

static void connected(struct connector *co, int fd)
{
	co->failing = false;
	co->port = co->attach(co->opaque, fd, g_strdup(co->name));
	if (co->port)
		port_on_close(co->port, connector_closed, co);
	else
		loop_timer_arm(co->retry, loop_now(co->loop) + CONNECTOR_RETRY_NS);
}

static void stop_pending(struct connector *co)
{
	if (co->fd < 0)
		return;
	loop_watch_del(co->loop, &co->watch);
	close(co->fd);
	co->fd = -1;
}

static void on_connect_done(void *opaque, uint32_t events)
{
	struct connector *co = opaque;
	int fd = co->fd, e = endpoint_connect_error(fd);

	(void)events;
	loop_watch_del(co->loop, &co->watch);
	co->fd = -1;
	loop_timer_disarm(co->retry);
	if (e) {
		close(fd);
		connect_failed(co, g_strerror(e));
		return;
	}
	connected(co, fd);
}

static void connector_try(void *opaque)
{
	struct connector *co = opaque;
	g_autoptr(GError) err = NULL;
	const struct endpoint_addr *a;
	bool pending;
	int fd;

	if (co->fd >= 0) {		/* the last attempt timed out */
		stop_pending(co);
		connect_failed(co, "connection timed out");
		return;
	}
	/* Several addresses (IPv6 and IPv4): take turns, one per attempt. */
	a = &g_array_index(co->addrs, struct endpoint_addr, co->turn++ % co->addrs->len);
	fd = endpoint_connect_async(a, &pending, &err);

	if (fd < 0) {
		connect_failed(co, err->message);
		return;
	}
	if (!pending) {
		connected(co, fd);
		return;
	}
	co->fd = fd;
	if (!loop_watch_add(co->loop, &co->watch, fd, EPOLLOUT, on_connect_done, co, &err)) {
		close(fd);
		co->fd = -1;
		connect_failed(co, err->message);
		return;
	}
	loop_timer_arm(co->retry, loop_now(co->loop) + CONNECTOR_TIMEOUT_NS);
}

struct connector *connector_new(struct loop *l, const struct endpoint *ep, attach_fn attach,
				void *opaque, GError **err)
{
	struct connector *co = g_new0(struct connector, 1);

	co->loop = l;
	co->fd = -1;
	co->attach = attach;
	co->opaque = opaque;
	endpoint_copy(&co->ep, ep);
	co->name = endpoint_to_string(ep);
	co->addrs = endpoint_resolve(ep, err);
	co->retry = loop_timer_new(l, connector_try, co);
	if (!co->addrs || !co->addrs->len) {
		if (co->addrs)
			vmnetd_set_error(err, "%s: no address", co->name);
		connector_free(co);
		return NULL;
	}
	connector_try(co);
	return co;
}

static void connector_destroy(void *ptr)
{
	struct connector *co = ptr;

	if (co->addrs)
		g_array_free(co->addrs, TRUE);
	endpoint_clear(&co->ep);
	g_free(co->name);
	g_free(co);
}

void connector_free(struct connector *co)
{
	if (!co)
		return;
	stop_pending(co);
	if (co->port) {
		/* Closing must not schedule a retry on a freed connector. */
		struct port *p = co->port;

		co->port = NULL;
		port_on_close(p, NULL, NULL);
		port_close(p, "shutting down");
	}
	loop_timer_free(co->retry);
	loop_defer_free(co->loop, connector_destroy, co);
}
