/* port.h - the one port layer every attachment and uplink shares.
 *
 * A port is what the switch sees: it hands a frame to port_deliver(), and a
 * port hands the frames it receives to port_input(). For a port backed by a
 * descriptor (a QEMU stream peer, a TAP, later a datagram peer) this layer
 * owns the watch, the bounded output queue, the end-of-iteration flush, the
 * counters, backpressure and close; the kind supplies only its framing
 * (how to read frames off the descriptor, how to write the queue to it).
 * A port without a descriptor (libslirp) takes each frame in its deliver op.
 */
#ifndef VMNETD_PORT_H
#define VMNETD_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmnetd/loop.h"
#include "vmnetd/txring.h"

struct port;
struct port_set;
struct vswitch;

/* What happened to a frame handed to a port. */
enum port_verdict {
	PORT_QUEUED,	/* accepted */
	PORT_DROPPED,	/* refused: queue full or frame unfit for this port */
};

struct port_ops {
	const char *kind;
	/* Take one frame now, never keeping the pointer. NULL: queue it for
	 * the descriptor (port_queue()). It runs inside the switch's delivery
	 * loop: it must close no port, its own included (defer it). */
	enum port_verdict (*deliver)(struct port *p, const uint8_t *frame, size_t len);
	/* The descriptor is readable: read and port_input() each frame. */
	void (*read)(struct port *p);
	/* Write what the queue holds; false on a fatal error (errno says which). */
	bool (*flush)(struct port *p);
	/* Optional: at the end of an iteration in which the port was marked
	 * (port_mark_dirty(), port_queue()), after flush: make what the
	 * deliver op wrote visible in one go (a vhost ring's used index and
	 * one interrupt per batch). It may close the port. */
	void (*publish)(struct port *p);
	/* The port is closing: stop producing frames and let go of what
	 * outlives it (libslirp's sockets, a device); runs at once, from
	 * port_close(). */
	void (*close)(struct port *p);
	/* Free the kind's own memory; runs after the loop iteration in which
	 * the port closed, when nothing can still be using it. */
	void (*destroy)(struct port *p);
};

struct port_stats {
	uint64_t rx_frames, rx_bytes;	/* from this port into the switch */
	uint64_t tx_frames, tx_bytes;	/* from the switch out of this port */
	uint64_t tx_drops;		/* refused at this port's queue bound */
	uint64_t rx_drops;		/* refused on the way in (filters, runts) */
};

typedef void (*port_closed_fn)(void *opaque, struct port *p);

struct port {
	const struct port_ops *ops;
	struct port_set *set;
	struct vswitch *sw;		/* set by switch_add_port() */
	char *name;			/* identity for logs, owned */
	unsigned id;			/* unique within its set */
	int64_t since;			/* wall-clock seconds when it attached */
	struct port_stats stats;
	unsigned fdb_entries;		/* MACs learned on this port */
	uint64_t mac_conflicts;		/* frames sent with a MAC another VM port uses */
	unsigned fdb_max;		/* MACs it may own (learned), PORT_FDB_MAX_DEFAULT unless set */
	bool uplink;			/* an uplink or service: its frames are not filtered */
	uint8_t mac[6];			/* the first MAC learned on it: a VM's own */
	bool has_mac;

	/* Descriptor-backed ports only. */
	int fd;				/* -1: none */
	struct loop_watch watch;
	struct txring tx;		/* bounded output queue of frames */
	size_t min_frame;		/* pad shorter frames to this (QEMU peers: 60) */
	size_t max_frame;		/* refuse longer ones */
	bool closed;
	bool dirty;			/* on the set's flush list */
	port_closed_fn closed_fn;
	void *closed_opaque;

	/* Backpressure. A source that may pause (only libslirp: its host
	 * sockets then wait in the kernel) waits while its destination's
	 * backlog is above backlog_high; VM sockets are never paused, since a
	 * QEMU peer must always be able to write. A destination may hold its
	 * senders only within a budget (PORT_HOLD_*), so a VM that reads slowly
	 * slows itself, not the others: past the budget, frames for it queue to
	 * its bound and are dropped there, counted. */
	size_t backlog;
	size_t backlog_high;
	bool may_pause;
	struct port *blocked_on;	/* the destination this source waits for */
	bool holding;			/* some source waits on this port */
	int64_t hold_budget_ns;
	int64_t hold_stamp_ns;
};

/* A VM needs one MAC; a nested bridge or containers a few dozen. */
#define PORT_FDB_MAX_DEFAULT	256

/* Share of time a congested port may hold its senders, as 1/N, and the
 * most it may save up: one VM can cost the others at most ~5% of the
 * NAT's time, and a burst of 50 ms covers a fast reader's ~2 ms drains. */
#define PORT_HOLD_SHARE		20
#define PORT_HOLD_BURST_NS	(50 * 1000 * 1000LL)

/* All the ports of one network: one loop, one switch, and one flush at the
 * end of each loop iteration for every port with queued frames. */
struct port_set *port_set_new(struct loop *l, struct vswitch *sw);
/* Closes every port still open, then frees the set once the iteration is over. */
void port_set_free(struct port_set *set);
struct loop *port_set_loop(const struct port_set *set);
/* Says who is behind a port, for the log ("52:54:00:00:00:11 10.0.2.15 (web)");
 * returns a string to free, or NULL. */
typedef char *(*port_describe_fn)(void *opaque, const struct port *p);
void port_set_describe(struct port_set *set, port_describe_fn fn, void *opaque);
/* Each port queues this much of its own, whatever the others do: a VM at
 * full speed seldom has more in flight (libslirp's 64 KiB windows), so VMs
 * that stop reading cannot starve it. */
#define PORT_QUEUE_OWN		(256u << 10)
/* Beyond their own, a network's ports share this pool: a few stalled VMs'
 * full 2 MiB queues, so that many of them cannot add up to gigabytes. */
#define PORT_SET_QUEUED_MAX	(32u << 20)
/* Change that bound (tests). */
void port_set_limit_queued(struct port_set *set, size_t max);
/* Bytes the set's ports hold now from the shared pool. */
size_t port_set_queued(const struct port_set *set);
/* Calls @fn for every open port in attach order. */
void port_set_foreach(struct port_set *set, void (*fn)(struct port *p, void *opaque), void *opaque);
/* The open port numbered @id, or NULL. */
struct port *port_set_find(struct port_set *set, unsigned id);

/* Sees each frame a port receives (@out false) and each it accepts for
 * output (@out true); for captures, so off the fast path when unset. */
typedef void (*port_mirror_fn)(void *opaque, const struct port *p, bool out,
			       const uint8_t *frame, size_t len);
/* Install (or with NULL remove) the set's one mirror. */
void port_set_mirror(struct port_set *set, port_mirror_fn fn, void *opaque);

/* Set up the common part of a port; @name is taken. */
void port_init(struct port *p, const struct port_ops *ops, char *name);
/* Adds @p to the set and the switch, gives it a queue of @queue_size
 * bytes (a power of two; 0: none) and, with @fd >= 0, watches @fd. False,
 * with the port closed, if the descriptor cannot be watched. */
bool port_attach(struct port_set *set, struct port *p, int fd, size_t queue_size,
		 GError **err);
/* A descriptor-backed port whose device went away keeps its place in the
 * switch without one: the watch goes, the descriptor closes, what was
 * queued is dropped. Its deliver op must refuse frames meanwhile. */
void port_fd_detach(struct port *p);
/* Drops everything the port's queue holds, counted as drops (its device
 * cannot take it any more). */
void port_drop_queue(struct port *p);
/* Gives a detached port (one attached with a queue) descriptor @fd again
 * (taken, even on failure). */
bool port_fd_attach(struct port *p, int fd, GError **err);
/* A port that may pause reads nothing while it waits (blocked_on); call
 * when that changes, so its watch follows. */
void port_refresh_events(struct port *p);

/* Call @fn (once) when the port goes, for whatever reason. */
void port_on_close(struct port *p, port_closed_fn fn, void *opaque);
/* Detach from switch and set, close the descriptor, free the port after the
 * current loop iteration; safe from inside any callback, and twice. */
void port_close(struct port *p, const char *why);
/* Release the common part of a port never attached (unit tests). */
void port_fini(struct port *p);

/* A frame the port received: counted and handed to the switch. */
void port_input(struct port *p, const uint8_t *frame, size_t len);
/* Hand a frame to the port: its deliver op or its queue; counts the result. */
enum port_verdict port_deliver(struct port *p, const uint8_t *frame, size_t len);
/* Have the port's flush and publish ops run at the end of this iteration. */
void port_mark_dirty(struct port *p);
/* Queue a frame for the descriptor (padded to min_frame). */
enum port_verdict port_queue(struct port *p, const uint8_t *frame, size_t len);

/* Would a source that sends to @p now have to wait? Also accounts the
 * hold budget, so it is called with the loop's current time. */
bool port_is_congested(struct port *p, int64_t now_ns);

#endif
