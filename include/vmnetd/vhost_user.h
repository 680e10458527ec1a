/* vhost_user.h - the back-end side of one vhost-user connection for a net
 * device (QEMU's -netdev vhost-user): messages, feature negotiation, the
 * guest's memory table and each virtqueue's settings, as QEMU's
 * docs/interop/vhost-user.rst specifies. Moving frames through the rings is
 * the port's job (port_vhost.c); this file only says when a queue may be
 * used and when the guest kicked it.
 */
#ifndef VMNETD_VHOST_USER_H
#define VMNETD_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "vmnetd/loop.h"
#include "vmnetd/vring.h"

/* One queue pair (no MQ): the guest receives on 0 and transmits on 1. */
#define VHOST_USER_RXQ		0
#define VHOST_USER_TXQ		1
#define VHOST_USER_QUEUES	2

/* A message's payload: SET_MEM_TABLE's 8 regions take 264 bytes, GET_CONFIG
 * at most 12 + 256; anything longer is no message we take. */
#define VHOST_USER_PAYLOAD_MAX	512
/* The virtio-net header the guest puts before each frame: 12 bytes with
 * VERSION_1 or MRG_RXBUF (it carries num_buffers), 10 with neither. */
#define VIRTIO_NET_HDR_LEN	12
#define VIRTIO_NET_HDR_LEN_LEGACY 10

/* virtio_net_hdr: flags (byte 0) and gso_type (byte 1). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM	1
#define VIRTIO_NET_HDR_F_DATA_VALID	2
#define VIRTIO_NET_HDR_GSO_NONE		0

/* Feature bits (virtio 1.2 5.1.3, 6; vhost-user.rst). */
#define VIRTIO_NET_F_CSUM		0
#define VIRTIO_NET_F_GUEST_CSUM		1
#define VIRTIO_NET_F_MTU		3
#define VIRTIO_NET_F_MRG_RXBUF		15
#define VIRTIO_NET_F_STATUS		16
#define VIRTIO_RING_F_INDIRECT_DESC	28
#define VIRTIO_RING_F_EVENT_IDX		29
#define VHOST_USER_F_PROTOCOL_FEATURES	30
#define VIRTIO_F_VERSION_1		32

struct vhost_user_dev;

struct vhost_user_queue {
	struct vhost_user_dev *dev;
	unsigned index;
	struct vring vr;
	unsigned num;			/* SET_VRING_NUM */
	uint64_t desc, avail, used;	/* SET_VRING_ADDR: QEMU's addresses */
	uint16_t base;			/* SET_VRING_BASE: the next avail entry */
	bool have_addr;
	bool mapped;			/* vr points into the current memory table */
	bool started;			/* kicked fd given; until GET_VRING_BASE */
	bool enabled;			/* SET_VRING_ENABLE */
	int kick_fd, call_fd, err_fd;	/* -1: none */
	struct loop_watch kick_watch;
};

/* What the port behind a connection hears of it. */
struct vhost_user_ops {
	/* The guest kicked queue @q (it is live). */
	void (*kick)(void *opaque, unsigned q);
	/* Queue @q is about to stop or move (GET_VRING_BASE, a new memory
	 * table, a reset): give back and publish what was taken from it. */
	void (*sync)(void *opaque, unsigned q);
	/* A queue started or stopped (vhost_user_live() changed, maybe). */
	void (*changed)(void *opaque);
	/* The front-end went away or broke the protocol: close the port. The
	 * device may be finished (vhost_user_fini()) from here. */
	void (*broken)(void *opaque, const char *why);
};

struct vhost_user_dev {
	struct loop *loop;
	int fd;
	struct loop_watch watch;
	const struct vhost_user_ops *ops;
	void *opaque;
	const char *name;		/* for log lines: the port's */
	unsigned mtu;			/* the network's: offered in the config */
	unsigned guest_mtu;		/* NET_SET_MTU, 0 until then */
	uint64_t features;		/* acked by the front-end */
	uint64_t protocol_features;
	struct vhost_mem mem;
	void *map_base[VHOST_MEM_MAX_REGIONS];
	size_t map_len[VHOST_MEM_MAX_REGIONS];
	struct vhost_user_queue q[VHOST_USER_QUEUES];
	/* The message being read, and the descriptors that came with it. */
	uint8_t msg[12 + VHOST_USER_PAYLOAD_MAX];
	size_t msg_have;
	int fds[VHOST_MEM_MAX_REGIONS];
	unsigned nfds;
	bool fds_overflow;
};

/* Serve front-end connection @fd (taken) on @l; @mtu is the network's. */
bool vhost_user_init(struct vhost_user_dev *d, struct loop *l, int fd, unsigned mtu,
		     const char *name, const struct vhost_user_ops *ops, void *opaque,
		     GError **err);
/* Closes the connection, its eventfds and unmaps guest memory; twice is harmless. */
void vhost_user_fini(struct vhost_user_dev *d);
/* The virtio-net header on each buffer, as the acked features make it. */
static inline size_t vhost_user_hdr_len(const struct vhost_user_dev *d)
{
	return d->features & ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MRG_RXBUF)) ?
		       VIRTIO_NET_HDR_LEN : VIRTIO_NET_HDR_LEN_LEGACY;
}
/* May queue @q be used now: memory mapped, started, enabled? */
bool vhost_user_live(const struct vhost_user_dev *d, unsigned q);
/* Interrupt the guest for queue @q (its call eventfd, if it gave one). */
void vhost_user_notify(struct vhost_user_dev *d, unsigned q);
/* The features offered to the front-end (GET_FEATURES). */
uint64_t vhost_user_offered_features(void);

#endif
