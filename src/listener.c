/* listener.c - accept QEMU stream clients, or connect out to QEMU stream servers. */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmnetd/listener.h"

struct listener {
	struct loop *loop;
	struct stream_set *set;
	struct endpoint ep;
	char *name;
	struct loop_watch watch;
	int fd;
	unsigned next_client;
};

struct connector {
	struct loop *loop;
	struct stream_set *set;
	struct endpoint ep;
	char *name;
	struct port_stream *port;
	struct loop_timer *retry;
	bool failing;		/* say so once, not every second */
};

/* "tcp:127.0.0.1:5555 client 3 (127.0.0.1:40102)": which socket, which client. */
static char *client_name(struct listener *li, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "";
	unsigned id = ++li->next_client;

	if (li->ep.type == ENDPOINT_UNIX ||
	    getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return g_strdup_printf("%s client %u", li->name, id);
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		return g_strdup_printf("%s client %u (%s:%u)", li->name, id, host,
				       ntohs(sin->sin_port));
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
	return g_strdup_printf("%s client %u ([%s]:%u)", li->name, id, host,
			       ntohs(sin6->sin6_port));
}

static void on_accept(void *opaque, uint32_t events)
{
	struct listener *li = opaque;

	(void)events;
	for (;;) {
		int fd = accept4(li->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				g_warning("%s: accept: %s", li->name, g_strerror(errno));
			return;
		}
		endpoint_tune_socket(fd);
		port_stream_new(li->set, fd, client_name(li, fd), NULL, NULL);
	}
}

struct listener *listener_new(struct loop *l, struct stream_set *set, const struct endpoint *ep,
			      unsigned socket_mode, GError **err)
{
	struct listener *li = g_new0(struct listener, 1);

	li->loop = l;
	li->set = set;
	endpoint_copy(&li->ep, ep);
	li->name = endpoint_to_string(ep);
	li->fd = endpoint_listen(ep, socket_mode, err);
	if (li->fd < 0 || !loop_watch_add(l, &li->watch, li->fd, EPOLLIN, on_accept, li, err)) {
		listener_free(li);
		return NULL;
	}
	g_message("listening on %s", li->name);
	return li;
}

void listener_free(struct listener *li)
{
	if (!li)
		return;
	if (li->fd >= 0) {
		loop_watch_del(li->loop, &li->watch);
		close(li->fd);
		if (li->ep.type == ENDPOINT_UNIX)
			unlink(li->ep.path);
	}
	endpoint_clear(&li->ep);
	g_free(li->name);
	g_free(li);
}

static void connector_closed(void *opaque, struct port_stream *ps)
{
	struct connector *co = opaque;

	(void)ps;
	co->port = NULL;
	loop_timer_arm(co->retry, loop_now(co->loop) + CONNECTOR_RETRY_NS);
}

static void connector_try(void *opaque)
{
	struct connector *co = opaque;
	GError *err = NULL;
	int fd = endpoint_connect(&co->ep, &err);

	if (fd < 0) {
		if (!co->failing)
			g_message("%s: %s; retrying every second", co->name, err->message);
		co->failing = true;
		g_error_free(err);
		loop_timer_arm(co->retry, loop_now(co->loop) + CONNECTOR_RETRY_NS);
		return;
	}
	co->failing = false;
	co->port = port_stream_new(co->set, fd, g_strdup(co->name), connector_closed, co);
}

struct connector *connector_new(struct loop *l, struct stream_set *set, const struct endpoint *ep)
{
	struct connector *co = g_new0(struct connector, 1);

	co->loop = l;
	co->set = set;
	endpoint_copy(&co->ep, ep);
	co->name = endpoint_to_string(ep);
	co->retry = loop_timer_new(l, connector_try, co);
	connector_try(co);
	return co;
}

void connector_free(struct connector *co)
{
	if (!co)
		return;
	if (co->port) {
		/* Closing must not schedule a retry on a freed connector. */
		struct port_stream *ps = co->port;

		co->port = NULL;
		port_stream_close(ps, "shutting down");
	}
	loop_timer_free(co->retry);
	endpoint_clear(&co->ep);
	g_free(co->name);
	g_free(co);
}
