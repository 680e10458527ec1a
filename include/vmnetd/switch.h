/* switch.h - the Ethernet learning switch between VM ports and uplinks. */
#ifndef VMNETD_SWITCH_H
#define VMNETD_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmnetd/port.h"

#define SWITCH_FDB_MAX		4096	/* MACs one switch learns at most */
#define SWITCH_AGEING_NS	(300 * 1000000000LL)	/* as the Linux bridge */
/* A MAC seen on one VM port this recently and now on another is in use by
 * both (two VMs started with one mac=), not a VM that moved: ARP and
 * DHCP renewals make a live VM speak well within it. */
#define SWITCH_CONFLICT_NS	(10 * 1000000000LL)

struct vswitch;

struct switch_stats {
	uint64_t flooded;	/* frames sent to every other port */
	uint64_t hairpin_drops;	/* destination sits behind the ingress port */
	uint64_t learn_refused;	/* table or per-port limit reached */
	uint64_t runts;		/* shorter than an Ethernet header */
	uint64_t filtered;	/* refused by the filter (port security) */
	uint64_t mac_conflicts;	/* frames from a MAC another live VM port uses */
};

struct vswitch *switch_new(int64_t ageing_ns);
void switch_free(struct vswitch *sw);

/* Decides whether a VM port may send a frame, before anything is learned
 * from it; uplinks' frames are not asked about. */
typedef bool (*switch_filter_fn)(void *opaque, struct vswitch *sw, struct port *in,
				 const uint8_t *frame, size_t len, int64_t now_ns);
/* Told when a port leaves, so the filter forgets what it held. */
typedef void (*switch_port_gone_fn)(void *opaque, const struct port *p);
/* Install (or, with NULL, remove) the filter. */
void switch_set_filter(struct vswitch *sw, switch_filter_fn fn, switch_port_gone_fn gone,
		       void *opaque);

void switch_add_port(struct vswitch *sw, struct port *p);
/* Forgets the port's MACs and clears blocked_on of every source waiting on it. */
void switch_del_port(struct vswitch *sw, struct port *p);

/* Forward one frame that arrived on @in. If @in may pause and the known
 * destination is congested, @in->blocked_on is set: @in should not read
 * more until the switch clears it again. */
void switch_input(struct vswitch *sw, struct port *in, const uint8_t *frame, size_t len,
		  int64_t now_ns);

/* Resume sources whose destination drained or stalled. Returns true while
 * some source still waits, so the loop wakes again to re-check. */
bool switch_resume_waiting(struct vswitch *sw, int64_t now_ns);

/* Drop entries older than the ageing time; returns when the next one
 * expires (INT64_MAX when the table is empty). */
int64_t switch_age(struct vswitch *sw, int64_t now_ns);

/* The port behind @mac, unless its entry has aged out. */
struct port *switch_lookup(struct vswitch *sw, const uint8_t mac[6], int64_t now_ns);
/* @mac belongs to @p for good: never ages, never moves, not learned over;
 * goes when @p is removed. */
void switch_add_static(struct vswitch *sw, struct port *p, const uint8_t mac[6]);

/* One MAC table entry: its port, whether static, and seconds since last
 * seen (-1 for static). */
typedef void (*switch_fdb_fn)(const uint8_t mac[6], struct port *p, bool is_static,
			      int64_t age_s, void *opaque);
/* Calls @fn for every live entry, in no particular order. */
void switch_foreach_fdb(struct vswitch *sw, int64_t now_ns, switch_fdb_fn fn, void *opaque);
unsigned switch_fdb_size(const struct vswitch *sw);
const struct switch_stats *switch_get_stats(const struct vswitch *sw);
/* @in sent with @mac, which VM port @owner uses: counted, and logged for
 * the first such frame of @in and every 1,000th after. */
void switch_mac_conflict(struct vswitch *sw, const uint8_t mac[6], const struct port *owner,
			 struct port *in);

#endif
