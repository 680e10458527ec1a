/* port.c - the port layer: attach, watch, queue, flush, count, hold and close
 * for every kind of port, and the set of ports one network owns. */
#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "vmnetd/port.h"
#include "vmnetd/switch.h"

struct port_set {
	struct loop *loop;
	struct vswitch *sw;
	GPtrArray *ports;	/* open ports, attach order */
	GPtrArray *dirty;	/* ports with frames queued this iteration */
	struct loop_hook *flush_hook;
	unsigned next_id;
	port_describe_fn describe;
	void *describe_opaque;
	size_t queued;		/* bytes its ports queue beyond their own PORT_QUEUE_OWN */
	size_t queued_max;
	port_mirror_fn mirror;	/* a capture: sees every frame in and out */
	void *mirror_opaque;
};

void port_set_mirror(struct port_set *set, port_mirror_fn fn, void *opaque)
{
	set->mirror = fn;
	set->mirror_opaque = opaque;
}

void port_init(struct port *p, const struct port_ops *ops, char *name)
{
	*p = (struct port){ .ops = ops, .name = name, .fd = -1, .fdb_max = PORT_FDB_MAX_DEFAULT,
			    .max_frame = SIZE_MAX, .hold_budget_ns = PORT_HOLD_BURST_NS };
}

void port_fini(struct port *p)
{
	txring_fini(&p->tx);
	g_free(p->name);
	p->name = NULL;
}

static void port_free(void *ptr)
{
	struct port *p = ptr;

	if (p->ops->destroy)
		p->ops->destroy(p);
	port_fini(p);
	g_free(p);
}

/* Readable unless a source that may pause waits on a congested port (then
 * its input waits in the kernel); writable only while a backlog waits. */
static void update_events(struct port *p)
{
	bool paused = p->may_pause && p->blocked_on;

	loop_watch_mod(p->set->loop, &p->watch,
		       (paused ? 0 : EPOLLIN) | (txring_used(&p->tx) ? EPOLLOUT : 0));
}

void port_refresh_events(struct port *p)
{
	if (p->fd >= 0 && !p->closed)
		update_events(p);
}

/* What of a backlog comes from the network's shared pool. */
static size_t pooled(size_t backlog)
{
	return backlog > PORT_QUEUE_OWN ? backlog - PORT_QUEUE_OWN : 0;
}

/* The shared pool's count follows the queue: one place, whatever emptied it. */
static void settle(struct port *p)
{
	size_t now = txring_used(&p->tx);

	p->set->queued -= pooled(p->backlog) - pooled(now);
	p->backlog = now;
}

static void flush(struct port *p)
{
	bool ok;

	if (!txring_used(&p->tx))
		return;
	ok = p->ops->flush(p);
	settle(p);
	if (!ok) {
		port_close(p, g_strerror(errno));
		return;
	}
	if (p->fd >= 0)		/* the flush may have detached it (port_fd_detach) */
		update_events(p);
}

static void on_events(void *opaque, uint32_t events)
{
	struct port *p = opaque;

	if (events & EPOLLOUT)
		flush(p);
	if (!p->closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		p->ops->read(p);
}

static int flush_dirty(void *opaque, struct loop *l)
{
	struct port_set *set = opaque;

	(void)l;
	/* A flush or publish may close a port, which never adds to this list. */
	for (guint i = 0; i < set->dirty->len; i++) {
		struct port *p = g_ptr_array_index(set->dirty, i);

		p->dirty = false;
		if (!p->closed)
			flush(p);
		if (!p->closed && p->ops->publish)
			p->ops->publish(p);
	}
	g_ptr_array_set_size(set->dirty, 0);
	return -1;
}

struct port_set *port_set_new(struct loop *l, struct vswitch *sw)
{
	struct port_set *set = g_new0(struct port_set, 1);

	set->loop = l;
	set->sw = sw;
	set->ports = g_ptr_array_new();
	set->dirty = g_ptr_array_new();
	set->queued_max = PORT_SET_QUEUED_MAX;
	set->flush_hook = loop_add_hook(l, flush_dirty, set);
	return set;
}

static void port_set_destroy(void *ptr)
{
	struct port_set *set = ptr;

	g_ptr_array_free(set->ports, TRUE);
	g_ptr_array_free(set->dirty, TRUE);
	g_free(set);
}

void port_set_free(struct port_set *set)
{
	if (!set)
		return;
	while (set->ports->len)
		port_close(g_ptr_array_index(set->ports, set->ports->len - 1), "shutting down");
	loop_del_hook(set->loop, set->flush_hook);
	/* Ports freed in this iteration may still look at their set. */
	loop_defer_free(set->loop, port_set_destroy, set);
}

void port_set_limit_queued(struct port_set *set, size_t max)
{
	set->queued_max = max;
}

size_t port_set_queued(const struct port_set *set)
{
	return set->queued;
}

void port_set_describe(struct port_set *set, port_describe_fn fn, void *opaque)
{
	set->describe = fn;
	set->describe_opaque = opaque;
}

struct loop *port_set_loop(const struct port_set *set)
{
	return set->loop;
}

void port_set_foreach(struct port_set *set, void (*fn)(struct port *p, void *opaque), void *opaque)
{
	for (guint i = 0; i < set->ports->len; i++)
		fn(g_ptr_array_index(set->ports, i), opaque);
}

struct port *port_set_find(struct port_set *set, unsigned id)
{
	for (guint i = 0; i < set->ports->len; i++) {
		struct port *p = g_ptr_array_index(set->ports, i);

		if (p->id == id)
			return p;
	}
	return NULL;
}

bool port_attach(struct port_set *set, struct port *p, int fd, size_t queue_size, GError **err)
{
	GError *local = NULL;

	p->set = set;
	p->id = ++set->next_id;
	p->since = time(NULL);
	p->hold_stamp_ns = loop_now(set->loop);
	g_ptr_array_add(set->ports, p);
	switch_add_port(set->sw, p);
	if (queue_size)
		txring_init(&p->tx, queue_size);
	if (fd < 0)
		return true;
	p->fd = fd;
	if (!loop_watch_add(set->loop, &p->watch, fd, EPOLLIN, on_events, p, &local)) {
		port_close(p, local->message);
		g_propagate_error(err, local);
		return false;
	}
	return true;
}

void port_drop_queue(struct port *p)
{
	struct iovec iov[2];

	while (txring_peek_frame(&p->tx, iov) > 0) {
		txring_pop_frame(&p->tx);
		p->stats.tx_drops++;
	}
	settle(p);
}

void port_fd_detach(struct port *p)
{
	if (p->fd < 0)
		return;
	loop_watch_del(p->set->loop, &p->watch);
	close(p->fd);
	p->fd = -1;
	/* What waited for the device is lost with it. */
	port_drop_queue(p);
}

bool port_fd_attach(struct port *p, int fd, GError **err)
{
	p->fd = fd;
	if (loop_watch_add(p->set->loop, &p->watch, fd, EPOLLIN, on_events, p, err)) {
		port_refresh_events(p);
		return true;
	}
	close(fd);
	p->fd = -1;
	return false;
}

void port_on_close(struct port *p, port_closed_fn fn, void *opaque)
{
	p->closed_fn = fn;
	p->closed_opaque = opaque;
}

void port_close(struct port *p, const char *why)
{
	const struct port_stats *st = &p->stats;
	port_closed_fn fn = p->closed_fn;
	g_autofree char *who = NULL;

	if (p->closed)
		return;
	p->closed = true;
	p->closed_fn = NULL;
	who = p->set->describe ? p->set->describe(p->set->describe_opaque, p) : NULL;
	g_autofree char *refused = st->rx_drops ?
		g_strdup_printf(", %" G_GUINT64_FORMAT " refused (port security)", st->rx_drops) :
		NULL;

	g_message("%s: closed (%s); rx %" G_GUINT64_FORMAT " frames, tx %" G_GUINT64_FORMAT
		  " frames, %" G_GUINT64_FORMAT " dropped%s%s%s",
		  p->name, why, st->rx_frames, st->tx_frames, st->tx_drops, refused ? refused : "",
		  who ? "; was " : "", who ? who : "");
	if (p->ops->close)
		p->ops->close(p);
	p->set->queued -= pooled(txring_used(&p->tx));
	if (p->fd >= 0) {
		loop_watch_del(p->set->loop, &p->watch);
		close(p->fd);
		p->fd = -1;
	}
	switch_del_port(p->sw, p);
	g_ptr_array_remove(p->set->ports, p);
	if (fn)
		fn(p->closed_opaque, p);
	loop_defer_free(p->set->loop, port_free, p);
}

void port_input(struct port *p, const uint8_t *frame, size_t len)
{
	if (p->closed)
		return;
	if (G_UNLIKELY(p->set->mirror))
		p->set->mirror(p->set->mirror_opaque, p, false, frame, len);
	switch_input(p->sw, p, frame, len, loop_now(p->set->loop));
}

void port_mark_dirty(struct port *p)
{
	if (!p->dirty && !p->closed) {
		p->dirty = true;
		g_ptr_array_add(p->set->dirty, p);
	}
}

enum port_verdict port_queue(struct port *p, const uint8_t *frame, size_t len)
{
	size_t before = txring_used(&p->tx);
	size_t more = pooled(before + TXRING_REC_HDR + MAX(len, p->min_frame)) - pooled(before);

	if (p->closed || len > p->max_frame || p->set->queued + more > p->set->queued_max ||
	    !txring_push_frame(&p->tx, frame, len, p->min_frame))
		return PORT_DROPPED;
	p->backlog = txring_used(&p->tx);
	p->set->queued += more;	/* = pooled(new backlog) - pooled(old): settle()'s terms */
	port_mark_dirty(p);
	return PORT_QUEUED;
}

enum port_verdict port_deliver(struct port *p, const uint8_t *frame, size_t len)
{
	enum port_verdict v = p->ops->deliver ? p->ops->deliver(p, frame, len)
					      : port_queue(p, frame, len);

	if (v == PORT_QUEUED) {
		p->stats.tx_frames++;
		p->stats.tx_bytes += len;
		/* Unit tests hand frames to bare ports, outside any set. */
		if (G_UNLIKELY(p->set && p->set->mirror))
			p->set->mirror(p->set->mirror_opaque, p, true, frame, len);
	} else if (p->stats.tx_drops++ % 1000 == 0) {
		g_debug("%s: output queue full, %" G_GUINT64_FORMAT " frames dropped so far",
			p->name, p->stats.tx_drops);
	}
	return v;
}

/* Refill the budget for the time gone by; spend it while someone waits. */
static void account_hold(struct port *p, int64_t now_ns)
{
	int64_t dt = now_ns - p->hold_stamp_ns;

	if (dt <= 0)
		return;
	p->hold_stamp_ns = now_ns;
	if (p->holding)
		p->hold_budget_ns -= dt;
	p->hold_budget_ns = MIN(PORT_HOLD_BURST_NS, p->hold_budget_ns + dt / PORT_HOLD_SHARE);
}

bool port_is_congested(struct port *p, int64_t now_ns)
{
	account_hold(p, now_ns);
	return p->backlog > p->backlog_high && p->hold_budget_ns > 0;
}
