/* api.c - the control socket: clients, line framing, limits, credentials.
 *
 * Each client is read only while it has no reply waiting, so one that never
 * reads holds at most one reply in memory; every client has an idle timer,
 * and requests are answered within the loop iteration that completes them,
 * so the data path never waits on a client.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmnetd/api.h"
#include "vmnetd/error.h"
#include "vmnetd/listener.h"

struct api_client {
	struct api_server *server;
	int fd;
	struct loop_watch watch;
	struct loop_timer *idle;
	struct api_peer peer;
	GByteArray *in;		/* bytes of the request being read */
	GString *out;		/* reply bytes not yet written */
	int passed_fd;		/* a descriptor sent with the request, or -1 */
	bool close_when_sent;	/* end of input, or a fault: close after the reply */
};

struct api_server {
	struct loop *loop;
	struct endpoint ep;		/* type unix, path "" when handed over */
	struct endpoint_file file;
	struct loop_watch watch;
	struct loop_timer *resume;
	int fd;
	uid_t own_uid;
	gid_t group;
	GPtrArray *clients;
	api_request_fn fn;
	void *opaque;
};

static void client_destroy(void *ptr)
{
	struct api_client *c = ptr;

	close(c->fd);
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	g_byte_array_free(c->in, TRUE);
	g_string_free(c->out, TRUE);
	g_free(c);
}

/* Unlinked now; memory and descriptor after the iteration, since an event
 * already fetched for it may still come. */
static void client_drop(struct api_client *c)
{
	struct api_server *s = c->server;

	loop_watch_del(s->loop, &c->watch);
	loop_timer_free(c->idle);
	g_ptr_array_remove_fast(s->clients, c);
	loop_defer_free(s->loop, client_destroy, c);
}

static void touch(struct api_client *c)
{
	loop_timer_arm(c->idle, loop_now(c->server->loop) + API_CLIENT_TIMEOUT_NS);
}

/* Read input only while no reply waits: backpressure on a client that
 * sends requests without reading the answers. */
static void update_watch(struct api_client *c)
{
	loop_watch_mod(c->server->loop, &c->watch, c->out->len ? EPOLLOUT : EPOLLIN);
}

/* The end of the first complete request line, or NULL. */
static uint8_t *has_line(const struct api_client *c)
{
	return c->in->len ? memchr(c->in->data, '\n', c->in->len) : NULL;
}

/* Write what the socket takes; true while the client lives. */
static bool send_pending(struct api_client *c)
{
	while (c->out->len) {
		ssize_t n = send(c->fd, c->out->str, c->out->len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			client_drop(c);
			return false;
		}
		g_string_erase(c->out, 0, n);
		touch(c);
	}
	if (!c->out->len && c->close_when_sent && !has_line(c)) {
		client_drop(c);
		return false;
	}
	update_watch(c);
	return true;
}

/* An error reply line; the API's commands build theirs with json-glib, the
 * framing's few are written here. */
static char *error_line(const char *desc)
{
	g_autofree char *esc = g_strescape(desc, NULL);

	return g_strdup_printf("{\"error\":{\"desc\":\"%s\"}}\n", esc);
}

static void reply_error(struct api_client *c, const char *desc)
{
	g_autofree char *line = error_line(desc);

	g_string_append(c->out, line);
}

static void answer(struct api_client *c, const char *req, size_t len)
{
	struct api_server *s = c->server;
	char *reply;

	/* The request is NUL-terminated for the handler (GByteArray has room). */
	reply = s->fn(s->opaque, req, len, &c->passed_fd, &c->peer);
	g_string_append(c->out, reply);
	g_string_append_c(c->out, '\n');
	g_free(reply);
	if (c->passed_fd >= 0) {	/* came with a request that did not want it */
		close(c->passed_fd);
		c->passed_fd = -1;
	}
}

/* A line over the limit: said, then the connection ends (what follows in
 * it cannot be told from the rest of that line). */
static void too_long(struct api_client *c)
{
	reply_error(c, "request too long (the limit is 65536 bytes a line)");
	c->close_when_sent = true;
	g_byte_array_set_size(c->in, 0);
}

/* Answer the next complete line, if there is one; true if it did. */
static bool answer_line(struct api_client *c)
{
	uint8_t *nl = has_line(c);
	size_t len;

	if (!nl)
		return false;
	len = (size_t)(nl - c->in->data);
	if (len > API_REQUEST_MAX) {	/* its newline came in the same read as its excess */
		too_long(c);
		return true;
	}
	*nl = 0;
	if (len)	/* an empty line asks nothing */
		answer(c, (const char *)c->in->data, len);
	g_byte_array_remove_range(c->in, 0, len + 1);
	return true;
}

/* One descriptor per request is kept (the latest); any other that came
 * along is closed, so none can pile up in the daemon. */
static void keep_passed_fd(struct api_client *c, struct msghdr *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (c->passed_fd >= 0)
				close(c->passed_fd);
			c->passed_fd = fd;
		}
	}
}

/* Read what is there; 0 at end of input, -1 when nothing more now. */
static ssize_t read_some(struct api_client *c)
{
	uint8_t buf[4096];
	union { struct cmsghdr align; char b[CMSG_SPACE(sizeof(int))]; } ctl;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -1 : 0;
	keep_passed_fd(c, &msg);
	g_byte_array_append(c->in, buf, (guint)n);
	return n;
}

/* Answer the complete lines one at a time, each reply sent before the
 * next request is read; stops while a reply waits for the socket. */
static void serve(struct api_client *c)
{
	while (!c->out->len && answer_line(c))
		if (!send_pending(c))
			return;
	if (!c->out->len && c->in->len > API_REQUEST_MAX)
		too_long(c);
	send_pending(c);
}

static void on_input(struct api_client *c)
{
	ssize_t n = read_some(c);

	if (n < 0)
		return;
	touch(c);
	/* slirp4netns's clients send one request, then shutdown(SHUT_WR). */
	if (n == 0) {
		c->close_when_sent = true;
		if (c->in->len && !has_line(c))
			g_byte_array_append(c->in, (const uint8_t *)"\n", 1);
	}
	serve(c);
}

static void on_client(void *opaque, uint32_t events)
{
	struct api_client *c = opaque;

	if (!(events & EPOLLOUT)) {
		on_input(c);
		return;
	}
	if (send_pending(c) && !c->out->len)
		serve(c);
}

static void on_idle(void *opaque)
{
	client_drop(opaque);
}

static bool in_group(int fd, gid_t group)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == group)
			return true;
	return false;
}

/* The socket file's mode keeps others out; this holds when it is handed
 * over by systemd, or in a directory others may enter. */
static bool peer_allowed(struct api_server *s, int fd, struct api_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	*peer = (struct api_peer){ .uid = cred.uid, .gid = cred.gid, .pid = cred.pid };
	peer->same_uid = cred.uid == s->own_uid || cred.uid == geteuid() || cred.uid == 0;
	if (peer->same_uid)
		return true;
	return s->group != (gid_t)-1 && (cred.gid == s->group || in_group(fd, s->group));
}

/* Best effort, on a socket we are about to close. */
static void refuse(int fd, const char *desc)
{
	g_autofree char *line = error_line(desc);

	if (send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		g_debug("control socket: %s", g_strerror(errno));
	close(fd);
}

static void add_client(struct api_server *s, int fd)
{
	struct api_client *c;
	struct api_peer peer;

	if (!peer_allowed(s, fd, &peer)) {
		g_message("control socket: uid %u refused (not the daemon's user or group)",
			  (unsigned)peer.uid);
		refuse(fd, "permission denied");
		return;
	}
	if (s->clients->len >= API_MAX_CLIENTS) {
		refuse(fd, "too many clients");
		return;
	}
	c = g_new0(struct api_client, 1);
	*c = (struct api_client){ .server = s, .fd = fd, .peer = peer, .passed_fd = -1,
				  .in = g_byte_array_new(), .out = g_string_new(NULL) };
	c->idle = loop_timer_new(s->loop, on_idle, c);
	if (!loop_watch_add(s->loop, &c->watch, fd, EPOLLIN, on_client, c, NULL)) {
		loop_timer_free(c->idle);
		g_byte_array_free(c->in, TRUE);
		g_string_free(c->out, TRUE);
		g_free(c);
		close(fd);
		return;
	}
	g_ptr_array_add(s->clients, c);
	touch(c);
}

static void on_resume(void *opaque)
{
	struct api_server *s = opaque;

	loop_watch_mod(s->loop, &s->watch, EPOLLIN);
}

static void on_accept(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;

	(void)events;
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			add_client(s, fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			loop_watch_mod(s->loop, &s->watch, 0);
			loop_timer_arm(s->resume, loop_now(s->loop) + LISTENER_PAUSE_NS);
		}
		return;
	}
}

struct api_server *api_server_new(struct loop *l, const struct endpoint *ep, int fd,
				  const struct socket_perms *perms, api_request_fn fn,
				  void *opaque, GError **err)
{
	struct api_server *s = g_new0(struct api_server, 1);

	*s = (struct api_server){ .loop = l, .fd = fd, .own_uid = getuid(),
				  .group = perms->group, .fn = fn, .opaque = opaque };
	if (ep) {
		endpoint_copy(&s->ep, ep);
		s->fd = endpoint_listen(ep, perms, &s->file, err);
	}
	s->clients = g_ptr_array_new();
	s->resume = loop_timer_new(l, on_resume, s);
	if (s->fd < 0 || !loop_watch_add(l, &s->watch, s->fd, EPOLLIN, on_accept, s, err)) {
		if (s->fd >= 0)
			g_prefix_error(err, "control socket: ");
		api_server_free(s);
		return NULL;
	}
	return s;
}

void api_server_free(struct api_server *s)
{
	if (!s)
		return;
	while (s->clients->len)
		client_drop(g_ptr_array_index(s->clients, 0));
	g_ptr_array_free(s->clients, TRUE);
	if (s->fd >= 0) {
		loop_watch_del(s->loop, &s->watch);
		close(s->fd);
	}
	loop_timer_free(s->resume);
	if (s->ep.path)
		endpoint_unlink_own(&s->ep, &s->file);
	endpoint_clear(&s->ep);
	g_free(s);
}
