/* port_stream.c - the framing of a QEMU -netdev stream peer: a 4-byte
 * big-endian length, then the Ethernet frame.
 *
 * Input: one read() per wakeup into the parser's buffer, then every whole
 * frame in it goes to the switch without a copy. Output: the port's queue
 * already holds frames in this framing (txring.h), so the whole backlog
 * leaves with one sendmsg. A bad length ends this one connection.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmnetd/port_stream.h"
#include "vmnetd/stream_parser.h"

struct port_stream {
	struct port port;		/* first: the port layer sees only this */
	struct stream_parser rx;
};

/* One sendmsg of the whole backlog (two pieces at most). */
static bool stream_flush(struct port *p)
{
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov };
	ssize_t n;

	msg.msg_iovlen = txring_peek(&p->tx, iov);
	n = sendmsg(p->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	txring_consume(&p->tx, n);
	return true;
}

/* Hand every whole frame in the buffer to the switch. */
static void parse_frames(struct port_stream *ps)
{
	const uint8_t *frame;
	size_t len;
	enum stream_result r;

	while ((r = stream_parser_next(&ps->rx, &frame, &len)) == STREAM_FRAME && !ps->port.closed)
		port_input(&ps->port, frame, len);
	if (r == STREAM_BAD_LENGTH) {
		g_autofree char *why = g_strdup_printf("frame length %u outside %d..%d",
						       ps->rx.bad_length, STREAM_FRAME_MIN,
						       STREAM_FRAME_MAX);
		port_close(&ps->port, why);
	}
}

static void stream_read(struct port *p)
{
	struct port_stream *ps = (struct port_stream *)p;
	size_t room;
	uint8_t *space = stream_parser_space(&ps->rx, &room);
	ssize_t n = read(p->fd, space, room);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			port_close(p, g_strerror(errno));
		return;
	}
	if (n == 0) {
		port_close(p, "peer closed the connection");
		return;
	}
	stream_parser_commit(&ps->rx, n);
	parse_frames(ps);
}

static void stream_destroy(struct port *p)
{
	stream_parser_fini(&((struct port_stream *)p)->rx);
}

static const struct port_ops stream_ops = {
	.kind = "stream",
	.read = stream_read,
	.flush = stream_flush,
	.destroy = stream_destroy,
};

struct port *port_stream_new(struct port_set *set, int fd, char *name)
{
	struct port_stream *ps = g_new0(struct port_stream, 1);
	g_autoptr(GError) err = NULL;

	port_init(&ps->port, &stream_ops, name);
	ps->port.backlog_high = STREAM_BACKLOG_HIGH;
	ps->port.min_frame = ETH_MIN_FRAME;
	ps->port.max_frame = STREAM_FRAME_MAX;
	stream_parser_init(&ps->rx);
	if (!port_attach(set, &ps->port, fd, STREAM_TXRING_SIZE, &err))
		return NULL;
	g_message("%s: connected", name);
	return &ps->port;
}
