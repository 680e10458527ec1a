/* flowcap.h - how many host sockets the guests may make libslirp open.
 *
 * Every TCP connection, UDP source port and ICMP echo a guest starts costs
 * libslirp a descriptor (a UDP one lives 240 s): 21,000 UDP datagrams from
 * distinct source ports exhausted the daemon's descriptors, and then nobody
 * could attach or connect. flowcap stands in front of libslirp, counts the
 * flows each guest (sending port) has open, and refuses new ones past a cap
 * per guest and per network. Flows end when TCP sends FIN or RST, or when a UDP
 * or ICMP flow has been idle as long as libslirp keeps its socket.
 */
#ifndef VMNETD_FLOWCAP_H
#define VMNETD_FLOWCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libslirp drops an idle UDP socket after 240 s (SO_EXPIRE) and an ICMP
 * one after 10 s (SO_EXPIREFAST); we forget them a little later. */
#define FLOWCAP_UDP_IDLE_NS	(250 * 1000000000LL)
#define FLOWCAP_ICMP_IDLE_NS	(15 * 1000000000LL)
/* A TCP flow whose end we never saw (a guest that crashed) is forgotten
 * after an hour of not being opened again: data segments do not refresh
 * it, to keep the hot path free of lookups. */
#define FLOWCAP_TCP_IDLE_NS	(3600 * 1000000000LL)
/* One guest may hold at most 1/8 of its network's flows: seven more busy
 * VMs before the network is full. */
#define FLOWCAP_GUEST_SHARE	8

struct flowcap;

struct flowcap_stats {
	uint64_t refused;	/* new flows refused */
	unsigned flows;		/* open now */
};

/* At most @max_flows open at once over the network. */
struct flowcap *flowcap_new(unsigned max_flows);
void flowcap_free(struct flowcap *fc);
/* Who sent @frame (its port): asked only when @frame opens a flow. */
typedef const void *(*flowcap_source_fn)(void *opaque, const uint8_t *frame, size_t len);
/* Whether @frame, a guest's frame on its way into libslirp, may go on: true
 * for anything but a new flow past the caps, which count per sender. */
bool flowcap_admit(struct flowcap *fc, const uint8_t *frame, size_t len, int64_t now_ns,
		   flowcap_source_fn source_of, void *opaque);
void flowcap_get_stats(const struct flowcap *fc, struct flowcap_stats *s);
/* The network budget for this process: half its descriptor limit, shared by
 * @networks networks (the rest is for VM sockets, listeners and files). */
unsigned flowcap_budget(unsigned networks);

#endif
