/* port.h - the one interface every switch port implements (VM frontends and uplinks).
 *
 * The switch only ever sees a struct port: it hands a frame to deliver(), and
 * marks a source that may pause with the destination it should wait for
 * (blocked_on), clearing it once that destination has drained. Each kind of
 * port embeds struct port first and fills the ops.
 */
#ifndef VMNETD_PORT_H
#define VMNETD_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct port;
struct vswitch;

/* What happened to a frame handed to a port. */
enum port_verdict {
	PORT_QUEUED,	/* accepted */
	PORT_DROPPED,	/* refused: queue full or frame unfit for this port */
};

struct port_ops {
	const char *kind;
	/* Take a copy of one Ethernet frame; never keeps the pointer. */
	enum port_verdict (*deliver)(struct port *p, const uint8_t *frame, size_t len);
};

struct port_stats {
	uint64_t rx_frames, rx_bytes;	/* from this port into the switch */
	uint64_t tx_frames, tx_bytes;	/* from the switch out of this port */
	uint64_t tx_drops;		/* refused at this port's queue bound */
};

struct port {
	const struct port_ops *ops;
	struct vswitch *sw;		/* set by switch_add_port() */
	char *name;			/* identity for logs, owned */
	struct port_stats stats;
	unsigned fdb_entries;		/* MACs learned on this port */

	/* Backpressure: bytes waiting in the output queue, and when the queue
	 * last moved. A port above its high mark that keeps moving makes
	 * senders wait; one that stopped moving is stalled and gets drops. */
	size_t backlog;
	size_t backlog_high;
	int64_t last_progress_ns;

	/* Whether this port, as a source, may be paused while its destination
	 * is congested. Only the NAT uplink sets it: libslirp's host sockets
	 * then simply wait in the kernel. VM sockets are never paused: a QEMU
	 * peer must always be able to write (QEMU 7.2 joined through a hub
	 * corrupts its stream after a partial write), so frames between VMs
	 * queue up to the destination's bound and are dropped, counted, past it. */
	bool may_pause;
	/* MACs learned here never move to another port: an uplink's own
	 * addresses (the NAT gateway's) cannot be taken over by a VM that
	 * sends with them as its source. */
	bool fixed_macs;
	struct port *blocked_on;	/* the destination this source waits for */
};

void port_init(struct port *p, const struct port_ops *ops, char *name);
void port_fini(struct port *p);
bool port_is_congested(const struct port *p, int64_t now_ns);

/* A queue that has not moved for this long no longer holds its senders back. */
#define PORT_STALL_NS (500 * 1000 * 1000LL)

#endif
