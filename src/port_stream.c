/* port_stream.c - switch port for a QEMU -netdev stream peer (unix or TCP socket).
 *
 * Input: one read() per wakeup into the parser's buffer, then every whole
 * frame in it goes to the switch without a copy. Output: frames are copied
 * once, into the port's ring, in wire format; at the end of each loop
 * iteration every port with a backlog writes it with one sendmsg.
 * A bad length ends this one connection; nothing else is affected.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmnetd/port_stream.h"
#include "vmnetd/stream_parser.h"
#include "vmnetd/txring.h"

struct port_stream {
	struct port port;		/* first: the switch sees only this */
	struct stream_set *set;
	struct loop_watch watch;
	int fd;
	bool closed;
	bool dirty;			/* on set->dirty, to be flushed */
	struct stream_parser rx;
	struct txring tx;
	stream_closed_fn closed_fn;
	void *closed_opaque;
};

struct stream_set {
	struct loop *loop;
	struct vswitch *sw;
	GPtrArray *ports;
	GPtrArray *dirty;
};

static void port_free(void *ptr)
{
	struct port_stream *ps = ptr;

	stream_parser_fini(&ps->rx);
	txring_fini(&ps->tx);
	port_fini(&ps->port);
	g_free(ps);
}

/* Always readable (see may_pause in port.h); writable only while a backlog waits. */
static void update_events(struct port_stream *ps)
{
	loop_watch_mod(ps->set->loop, &ps->watch,
		       EPOLLIN | (txring_used(&ps->tx) ? EPOLLOUT : 0));
}

/* One sendmsg of the whole backlog (two pieces at most). */
static void flush(struct port_stream *ps)
{
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov };
	ssize_t n;

	msg.msg_iovlen = txring_peek(&ps->tx, iov);
	if (!msg.msg_iovlen)
		return;
	n = sendmsg(ps->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		port_stream_close(ps, g_strerror(errno));
		return;
	}
	txring_consume(&ps->tx, n);
	ps->port.backlog = txring_used(&ps->tx);
	ps->port.last_progress_ns = loop_now(ps->set->loop);
}

static void mark_dirty(struct port_stream *ps)
{
	if (!ps->dirty) {
		ps->dirty = true;
		g_ptr_array_add(ps->set->dirty, ps);
	}
}

static enum port_verdict deliver(struct port *p, const uint8_t *frame, size_t len)
{
	struct port_stream *ps = (struct port_stream *)p;

	if (ps->closed || len > STREAM_FRAME_MAX)
		return PORT_DROPPED;
	if (!txring_used(&ps->tx))
		/* The stall clock starts when a backlog starts. */
		p->last_progress_ns = loop_now(ps->set->loop);
	if (!txring_push_frame(&ps->tx, frame, len, ETH_MIN_FRAME))
		return PORT_DROPPED;
	p->backlog = txring_used(&ps->tx);
	mark_dirty(ps);
	return PORT_QUEUED;
}

static const struct port_ops stream_ops = {
	.kind = "stream",
	.deliver = deliver,
};

/* Hand every whole frame in the buffer to the switch. */
static void parse_frames(struct port_stream *ps)
{
	const uint8_t *frame;
	size_t len;
	enum stream_result r;

	while ((r = stream_parser_next(&ps->rx, &frame, &len)) == STREAM_FRAME)
		switch_input(ps->set->sw, &ps->port, frame, len, loop_now(ps->set->loop));
	if (r == STREAM_BAD_LENGTH) {
		char *why = g_strdup_printf("frame length %u outside %d..%d",
					    ps->rx.bad_length, STREAM_FRAME_MIN,
					    STREAM_FRAME_MAX);
		port_stream_close(ps, why);
		g_free(why);
	}
}

static void on_readable(struct port_stream *ps)
{
	size_t room;
	uint8_t *space = stream_parser_space(&ps->rx, &room);
	ssize_t n = read(ps->fd, space, room);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			port_stream_close(ps, g_strerror(errno));
		return;
	}
	if (n == 0) {
		port_stream_close(ps, "peer closed the connection");
		return;
	}
	stream_parser_commit(&ps->rx, n);
	parse_frames(ps);
}

static void on_events(void *opaque, uint32_t events)
{
	struct port_stream *ps = opaque;

	if (events & EPOLLOUT) {
		flush(ps);
		if (!ps->closed)
			update_events(ps);
	}
	if (!ps->closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		on_readable(ps);
}

static int flush_dirty(void *opaque, struct loop *l)
{
	struct stream_set *set = opaque;

	(void)l;
	for (guint i = 0; i < set->dirty->len; i++) {
		struct port_stream *ps = g_ptr_array_index(set->dirty, i);

		ps->dirty = false;
		if (ps->closed)
			continue;
		flush(ps);
		if (!ps->closed)
			update_events(ps);
	}
	g_ptr_array_set_size(set->dirty, 0);
	return -1;
}

struct stream_set *stream_set_new(struct loop *l, struct vswitch *sw)
{
	struct stream_set *set = g_new0(struct stream_set, 1);

	set->loop = l;
	set->sw = sw;
	set->ports = g_ptr_array_new();
	set->dirty = g_ptr_array_new();
	loop_add_hook(l, flush_dirty, set);
	return set;
}

void stream_set_free(struct stream_set *set)
{
	if (!set)
		return;
	while (set->ports->len)
		port_stream_close(g_ptr_array_index(set->ports, 0), "shutting down");
	g_ptr_array_free(set->ports, TRUE);
	g_ptr_array_free(set->dirty, TRUE);
	g_free(set);
}

struct port_stream *port_stream_new(struct stream_set *set, int fd, char *name,
				    stream_closed_fn closed, void *opaque)
{
	struct port_stream *ps = g_new0(struct port_stream, 1);
	GError *err = NULL;

	port_init(&ps->port, &stream_ops, name);
	ps->port.backlog_high = STREAM_BACKLOG_HIGH;
	ps->set = set;
	ps->fd = fd;
	ps->closed_fn = closed;
	ps->closed_opaque = opaque;
	stream_parser_init(&ps->rx);
	txring_init(&ps->tx, STREAM_TXRING_SIZE);
	switch_add_port(set->sw, &ps->port);
	g_ptr_array_add(set->ports, ps);
	if (!loop_watch_add(set->loop, &ps->watch, fd, EPOLLIN, on_events, ps, &err)) {
		port_stream_close(ps, err->message);
		g_error_free(err);
		return NULL;
	}
	g_message("%s: connected", name);
	return ps;
}

void port_stream_close(struct port_stream *ps, const char *why)
{
	const struct port_stats *st = &ps->port.stats;

	if (ps->closed)
		return;
	ps->closed = true;
	g_message("%s: closed (%s); rx %" G_GUINT64_FORMAT " frames, tx %" G_GUINT64_FORMAT
		  " frames, %" G_GUINT64_FORMAT " dropped",
		  ps->port.name, why, st->rx_frames, st->tx_frames, st->tx_drops);
	loop_watch_del(ps->set->loop, &ps->watch);
	close(ps->fd);
	ps->fd = -1;
	switch_del_port(ps->set->sw, &ps->port);
	g_ptr_array_remove(ps->set->ports, ps);
	if (ps->closed_fn)
		ps->closed_fn(ps->closed_opaque, ps);
	loop_defer_free(ps->set->loop, port_free, ps);
}
